/* sink.h - where closed statistics and flushed host profiles go (the store implements it). */
#ifndef DS_SINK_H
#define DS_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/daysketch.h"
#include "analyze/host.h"
#include "analyze/window.h"
#include "core/err.h"

/*
 * Called by the collector with its lock held, so from one thread at a time (possibly a
 * different shard thread each call). Every call returns 0 or a negative code with err set;
 * a failure stops the analysis (what was written before stays written).
 */
struct ds_sink {
    void *ctx;
    /* a closed interval, merged over all shards */
    int (*window)(void *ctx, const struct ds_window *w, struct ds_err *err);
    /* a closed day's sketches, merged over all shards */
    int (*daysk)(void *ctx, const struct ds_daysk *d, struct ds_err *err);
    /* flushed profile segments of one shard (each with packets > 0) */
    int (*hosts)(void *ctx, const struct ds_host *const *h, size_t n, struct ds_err *err);
    /* every 5-minute interval before `upto` is complete in the sink: a commit point */
    int (*checkpoint)(void *ctx, uint32_t upto, struct ds_err *err);
};

#endif
