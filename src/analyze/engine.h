/* engine.h - the packet path: source -> decode -> darknet filter -> classify -> shards. */
#ifndef DS_ENGINE_H
#define DS_ENGINE_H

#include <signal.h>
#include <stddef.h>

#include "analyze/summary.h"
#include "capture/capture.h"
#include "core/darknet.h"
#include "core/err.h"

struct ds_engine_opts {
    const struct ds_darknet *darknet; /* read-only, shared */
    int workers;          /* 1: everything on the calling thread; N>1: reader + N shards */
    uint64_t max_packets; /* stop after this many frames (0: no limit) */
    /* Optional: polled every few thousand frames; when *stats_request is set, the engine clears
     * it and calls on_stats (from the reading thread). Used for SIGUSR1. */
    volatile sig_atomic_t *stats_request;
    void (*on_stats)(void *ctx, struct ds_source *src);
    void *ctx;
};

struct ds_engine_result {
    uint64_t oom_drops; /* packets not fully recorded for lack of memory (should be 0) */
};

/*
 * Reads src to its end (or until ds_source_break / max_packets) and adds every count into
 * *out (which the caller allocates zeroed). Returns 0, or a negative code with err set when
 * reading failed (counts up to that point are still in *out).
 */
int ds_engine_run(const struct ds_engine_opts *o, struct ds_source *src, struct ds_summary *out,
                  struct ds_engine_result *res, struct ds_err *err);

#endif
