/* collect.h - gathers the shards' closed intervals, merges them and hands complete ones to the
 * sink in time order. */
#ifndef DS_COLLECT_H
#define DS_COLLECT_H

#include <pthread.h>
#include <stdbool.h>

#include "analyze/sink.h"
#include "incident/campaign.h"
#include "incident/dos.h"
#include "incident/outbreak.h"

#define DS_COLLECT_MAX_PENDING 32 /* intervals per granularity waiting for slower shards */

struct ds_collect_pending {
    bool used;
    struct ds_window *w; /* allocated on first use, then reused */
};

/*
 * Shared by the shard threads; every call takes the lock. A shard delivers each interval it
 * closes, then raises its watermark ("I have closed everything before idx"); an interval goes
 * to the sink once every shard's watermark is past it. With one shard, intervals go straight
 * through.
 */
struct ds_collect {
    pthread_mutex_t mu;
    int nshards;
    const struct ds_sink *sink;
    uint32_t (*mark)[DS_GRAN_COUNT]; /* [shard][gran] */
    uint32_t *day_mark;              /* [shard]: day sketches */
    struct ds_collect_pending pend[DS_GRAN_COUNT][DS_COLLECT_MAX_PENDING];
    struct ds_daysk dpend[DS_COLLECT_MAX_PENDING]; /* tables allocated on first use */
    bool dpend_used[DS_COLLECT_MAX_PENDING];
    uint32_t ckpt; /* checkpoint passed to the sink so far */
    /* incident detection over every shard's records (when the sink takes them): DoS
     * attacks from backscatter, reflector-hunting campaigns from amplification probes */
    struct ds_dos dos;
    struct ds_campaigns camp;
    struct ds_outbreaks ob; /* fed every merged 5-minute window */
    bool have_dos, have_camp, have_ob, dos_done;
    bool ob_saved;     /* the detector's state went to the sink at the end of input */
    uint64_t *dos_now; /* [shard]: packet time each shard has reached */
    int failed;        /* the first sink error (sticky) */
    struct ds_err err;
};

int ds_collect_init(struct ds_collect *c, int nshards, const struct ds_sink *sink);
/* Turns incident detection on for what the sink takes (attacks, campaigns); a NULL config:
 * the defaults. */
int ds_collect_enable_incidents(struct ds_collect *c, const struct ds_dos_config *dos,
                                const struct ds_campaign_config *camp,
                                const struct ds_outbreak_config *ob);
/* Loads the outbreak detector's saved state (ds_store_outbreak_state) after
 * ds_collect_enable_incidents: the detector goes on from it if the input follows on
 * (outbreak.h). Nothing when detection is off. */
int ds_collect_restore_outbreaks(struct ds_collect *c, const void *blob, size_t len,
                                 struct ds_err *err);
static inline bool ds_collect_has_incidents(const struct ds_collect *c)
{
    return c && (c->have_dos || c->have_camp);
}
/* One shard's backscatter and amplification-probe records (counts may be 0) and the packet
 * time it has reached. Attack vectors and campaigns end when every shard is past their
 * expiry; the rest end when all shards finish. */
int ds_collect_incidents(struct ds_collect *c, int shard, const struct ds_dos_rec *r, size_t n,
                         const struct ds_campaign_rec *cr, size_t m, uint64_t now_ns);
void ds_collect_free(struct ds_collect *c);

int ds_collect_window(struct ds_collect *c, int shard, const struct ds_window *w);
int ds_collect_daysk(struct ds_collect *c, int shard, const struct ds_daysk *d);
int ds_collect_hosts(struct ds_collect *c, const struct ds_host *const *h, size_t n);
/* One shard's top hosts of a day (straight to the sink: shards' lists are disjoint). */
int ds_collect_top(struct ds_collect *c, uint32_t day, const struct ds_host_top *t, size_t n);
/* The shard has closed every interval of gran before idx (and every day before day). */
int ds_collect_mark(struct ds_collect *c, int shard, uint32_t idx5, uint32_t idx1h, uint32_t idx1d);

/* The first error, if any (message in c->err). */
static inline int ds_collect_failed(const struct ds_collect *c)
{
    return c->failed;
}

#endif
