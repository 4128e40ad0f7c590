/* outbreak.h - outbreak detection (incident candidates): change points in the 5-minute series
 * of unique sources per TCP/UDP destination port, per fingerprint and per class. */
#ifndef DS_OUTBREAK_H
#define DS_OUTBREAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/window.h"
#include "core/err.h"

/*
 * Each series is the number of distinct non-research sources per closed 5-minute interval
 * (for the backscatter class: non-research packets, and min_sources x 10 of them).
 * Its level is followed on a log scale, y = ln(1 + sources), by an exponentially weighted mean
 * and variance (weight `lambda` per interval; values of an alarm are clipped at mean + 3 sd
 * before they update it, so an outbreak does not teach the baseline at once). An interval is
 * a candidate when, after `warmup` intervals of history,
 *     z = (y - mean) / sqrt(var + floor^2) >= z_min,
 *     sources >= min_sources, and sources >= min_ratio x (e^mean - 1),
 * and the series is not already in an alarm; the alarm ends after `calm` intervals with
 * z < 2. docs/incidents.md explains the choice (against SDAR/ChangeFinder).
 */
struct ds_outbreak_config {
    double lambda;        /* 0.02: about 50 intervals (4 hours) of memory */
    double z_min;         /* 6 */
    double floor;         /* 0.3: the smallest standard deviation on the log scale */
    uint32_t min_sources; /* 10 */
    double min_ratio;     /* 3 */
    uint32_t warmup;      /* 12 intervals (1 hour) */
    uint32_t calm;        /* 12 intervals */
};

void ds_outbreak_defaults(struct ds_outbreak_config *cfg);

enum ds_outbreak_dim { DS_OB_TCP = 0, DS_OB_UDP, DS_OB_FP, DS_OB_CLASS };

/* One candidate. */
struct ds_outbreak {
    enum ds_outbreak_dim dim;
    uint32_t key;     /* port, enum ds_fp_id or enum ds_class_id */
    char name[32];    /* "37215/tcp", "mirai", "backscatter" */
    uint32_t idx;     /* the 5-minute interval (start = idx * 300 s) */
    uint64_t sources; /* non-research sources in it (backscatter: packets) */
    uint64_t packets; /* non-research packets in it */
    double baseline;  /* the value expected (e^mean - 1) */
    double score;     /* z */
};

typedef int (*ds_outbreak_emit_fn)(void *ctx, const struct ds_outbreak *o, struct ds_err *err);

struct ds_ob_state; /* outbreak.c */

/* Not thread-safe: one owner (the collector, under its lock). Memory: about 1.6 MB (every
 * port of both protocols has its state). */
struct ds_outbreaks {
    struct ds_outbreak_config cfg;
    ds_outbreak_emit_fn emit;
    void *ctx;
    struct ds_ob_state *st; /* [2 * 65536 + DS_FP_COUNT + DS_CLASS_COUNT] */
    uint32_t intervals;     /* seen so far */
    uint32_t last_idx;
    uint64_t candidates;
    int failed;
    bool restored; /* the state came from ds_outbreaks_restore; the first interval decides */
};

int ds_outbreaks_init(struct ds_outbreaks *o, const struct ds_outbreak_config *cfg,
                      ds_outbreak_emit_fn emit, void *ctx);
void ds_outbreaks_free(struct ds_outbreaks *o);
/* One closed, merged 5-minute window (in time order; an older one is ignored). */
int ds_outbreaks_interval(struct ds_outbreaks *o, const struct ds_window *w, struct ds_err *err);

const char *ds_outbreak_dim_name(enum ds_outbreak_dim d);

/*
 * The detector's learned state, so that a restarted daemon goes on where it stopped instead
 * of warming up again: ds_outbreaks_save writes it (header, then every series that has
 * learned something: index, mean, variance, alarm state; about 14 bytes each) into *blob
 * (malloc'd, the caller frees). ds_outbreaks_restore loads one into a fresh detector made with
 * the same lambda. It is used only if the first interval that follows is the saved one (a
 * restart within it: its second part is one more step) or comes after it, no more than
 * DS_OB_RESTORE_GAP intervals later; otherwise (an older capture, a re-read of the same one,
 * a long pause) the detector starts from nothing, as without it.
 * -EINVAL for a blob of another version or lambda, or damaged.
 */
#define DS_OB_STATE_VERSION 1
#define DS_OB_RESTORE_GAP 288 /* one day of 5-minute intervals */
int ds_outbreaks_save(const struct ds_outbreaks *o, uint8_t **blob, size_t *len,
                      struct ds_err *err);
int ds_outbreaks_restore(struct ds_outbreaks *o, const uint8_t *blob, size_t len,
                         struct ds_err *err);

#endif
