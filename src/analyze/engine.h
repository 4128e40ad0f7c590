/* engine.h - the packet path: source -> decode -> darknet filter -> classify -> shards. */
#ifndef DS_ENGINE_H
#define DS_ENGINE_H

#include <signal.h>
#include <stddef.h>

#include "analyze/shard.h"
#include "analyze/sink.h"
#include "analyze/summary.h"
#include "analyze/tap.h"
#include "capture/capture.h"
#include "core/darknet.h"
#include "core/err.h"

struct ds_engine_opts {
    const struct ds_darknet *darknet; /* read-only, shared */
    int workers;          /* 1: everything on the calling thread; N>1: reader + N shards */
    uint64_t max_packets; /* stop after this many frames (0: no limit) */
    /* per-host settings and enrichment (read-only, shared); NULL: defaults, no enrichment */
    const struct ds_shard_config *shard;
    /* where interval statistics and host profiles go; NULL: only the run counters */
    const struct ds_sink *sink;
    /* DoS inference thresholds when the sink takes attacks (NULL: the defaults); the
     * monitored count and the geo databases come from `shard` */
    const struct ds_dos_config *dos;
    const struct ds_campaign_config *campaign; /* likewise, reflector-hunting campaigns */
    const struct ds_outbreak_config *outbreak; /* likewise, outbreak detection */
    /* the detector's saved state to go on from (ds_store_outbreak_state), or NULL */
    const void *outbreak_state;
    size_t outbreak_state_len;
    /* every frame read is also written here (the raw archive), or NULL; reading thread only */
    struct ds_archive *archive;
    /* darknet packets are offered to the live stream here, or NULL; reading thread only */
    struct ds_tap *tap;
    /* Optional: polled every few thousand frames; when *stats_request is set, the engine clears
     * it and calls on_stats (from the reading thread). Used for SIGUSR1. */
    volatile sig_atomic_t *stats_request;
    void (*on_stats)(void *ctx, struct ds_source *src);
    void *ctx;
    /* Optional: after every batch, from the reading thread, with the batch's last packet time
     * (the daemon ticks the alert engine and checks for reloads here). */
    void (*on_batch)(void *ctx, uint64_t ts_ns, int frames);
};

struct ds_engine_result {
    uint64_t oom_drops;      /* packets not fully recorded for lack of memory (should be 0) */
    uint64_t hosts;          /* profiles held at the end, all shards */
    uint64_t evicted;        /* profiles evicted (idle or over max_hosts) */
    uint64_t evicted_active; /* of them, seen the same day (its unique counts may repeat them) */
    uint64_t segments;       /* profile segments handed to the sink */
    uint64_t table_bytes;    /* host tables, all shards */
    uint64_t archive_errors; /* failures the archive reported (each logged) */
};

/*
 * Reads src to its end (or until ds_source_break / max_packets) and adds every count into
 * *out (which the caller allocates zeroed); with a sink, closed intervals and profiles go
 * there as they complete, and everything at the end. Returns 0, or a negative code with err
 * set when reading or the sink failed (counts up to that point are still in *out).
 */
int ds_engine_run(const struct ds_engine_opts *o, struct ds_source *src, struct ds_summary *out,
                  struct ds_engine_result *res, struct ds_err *err);

#endif
