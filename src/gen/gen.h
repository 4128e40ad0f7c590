/* gen.h - `darkscope gen`: synthetic darknet traffic whose ground truth is known exactly. */
#ifndef DS_GEN_H
#define DS_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "gen/craft.h"
#include "gen/pcapw.h"
#include "gen/truth.h"

#define DS_GEN_MAX_POPS 24

/* Named sets of defaults (darknet, duration, population sizes). */
enum ds_gen_profile {
    DS_GEN_PROFILE_DEMO = 0,
    DS_GEN_PROFILE_BENCH,
    DS_GEN_PROFILE_TINY,
    DS_GEN_PROFILE_COUNT
};
extern const char *const ds_gen_profile_names[DS_GEN_PROFILE_COUNT + 1]; /* NULL-terminated */

/* Everything one run needs. Fill with ds_gen_opts_profile(), then override. */
struct ds_gen_opts {
    enum ds_gen_profile profile;
    uint64_t seed;
    uint64_t start_ns; /* capture start, ns since the epoch */
    uint64_t duration_ns;
    char darknet[1024];          /* comma-separated prefixes, v4 and/or v6 */
    long count[DS_GEN_MAX_POPS]; /* actors per population (registry order) */
    bool oddities;               /* the deliberate odd packets (fragments, ARP, truncated, ...) */
    enum ds_pcapw_format format;
    bool nanosec;
    enum ds_craft_link link;
    uint32_t snaplen;
    int zstd_level;
    bool zstd;              /* compress the capture */
    const char *out_path;   /* capture file, "-" for stdout */
    const char *truth_path; /* NULL: no truth file */
    enum ds_truth_hosts hosts;
    unsigned top;    /* ports in the truth (the analyzer's --top) */
    bool self_check; /* decode + classify every frame and compare with the truth */
};

/* Defaults of a profile. */
void ds_gen_opts_profile(struct ds_gen_opts *o, enum ds_gen_profile p);

/* Expected darknet packets for the current options (the sum over populations of the mean
 * packets per actor times the actor count); used to scale populations to a packet target. */
int ds_gen_expected_packets(const struct ds_gen_opts *o, double *out, struct ds_err *err);

struct ds_gen_stats {
    uint64_t packets, darknet_packets, sources, bytes, actors;
    uint64_t self_check_mismatches;
};

/*
 * Generates the capture and the truth. Single-threaded, deterministic: the same options give
 * byte-identical files. Returns 0, or a negative code with err set (bad darknet, I/O error,
 * a self-check mismatch, or an internal ground-truth violation, which is a bug).
 */
int ds_gen_run(const struct ds_gen_opts *o, struct ds_gen_stats *st, struct ds_err *err);

#endif
