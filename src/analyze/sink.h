/* sink.h - where closed statistics and flushed host profiles go (the store implements it). */
#ifndef DS_SINK_H
#define DS_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/daysketch.h"
#include "analyze/host.h"
#include "analyze/window.h"
#include "core/err.h"
#include "incident/campaign.h"
#include "incident/dos.h"
#include "incident/outbreak.h"

/* A day's packet count of one host. */
struct ds_host_top {
    struct ds_addr addr;
    uint64_t packets;
};

#define DS_HOST_TOP_PER_DAY 1000 /* busiest hosts kept per day (and shard) */

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
    /* the busiest hosts of a day (of one shard; the shards' lists together hold the day's
     * top hosts), for rankings over long periods */
    int (*top)(void *ctx, uint32_t day, const struct ds_host_top *t, size_t n, struct ds_err *err);
    /* a DoS attack inferred from backscatter (its vector has ended), or NULL: no inference */
    int (*dos)(void *ctx, const struct ds_dos_attack *a, struct ds_err *err);
    /* a reflector-hunting campaign that has ended, or NULL: no campaign tracking */
    int (*campaign)(void *ctx, const struct ds_campaign *c, struct ds_err *err);
    /* an outbreak candidate (a change point of a 5-minute series), or NULL: no detection */
    int (*outbreak)(void *ctx, const struct ds_outbreak *o, struct ds_err *err);
    /* the outbreak detector's learned state (ds_outbreaks_save) after interval last_idx: every
     * hour of packet time and when the input ends; NULL: not kept */
    int (*outbreak_state)(void *ctx, const void *blob, size_t len, uint32_t last_idx,
                          struct ds_err *err);
    /* every 5-minute interval before `upto` is complete in the sink: a commit point */
    int (*checkpoint)(void *ctx, uint32_t upto, struct ds_err *err);
};

#endif
