/* collect.c - gathers the shards' closed intervals, merges them and hands complete ones to the
 * sink in time order. */
#include "analyze/collect.h"

#include <stdlib.h>
#include <string.h>

int ds_collect_init(struct ds_collect *c, int nshards, const struct ds_sink *sink)
{
    memset(c, 0, sizeof *c);
    c->nshards = nshards;
    c->sink = sink;
    c->mark = calloc((size_t)nshards, sizeof *c->mark);
    c->day_mark = calloc((size_t)nshards, sizeof *c->day_mark);
    if (!c->mark || !c->day_mark) {
        free(c->mark);
        free(c->day_mark);
        return -ENOMEM;
    }
    pthread_mutex_init(&c->mu, NULL);
    return 0;
}

void ds_collect_free(struct ds_collect *c)
{
    for (int g = 0; g < DS_GRAN_COUNT; g++)
        for (int i = 0; i < DS_COLLECT_MAX_PENDING; i++)
            if (c->pend[g][i].w) {
                ds_window_free(c->pend[g][i].w);
                free(c->pend[g][i].w);
            }
    for (int i = 0; i < DS_COLLECT_MAX_PENDING; i++)
        if (c->dpend[i].tab)
            ds_daysk_free(&c->dpend[i]);
    free(c->mark);
    free(c->day_mark);
    if (c->have_dos)
        ds_dos_free(&c->dos);
    if (c->have_camp)
        ds_campaigns_free(&c->camp);
    if (c->have_ob)
        ds_outbreaks_free(&c->ob);
    free(c->dos_now);
    pthread_mutex_destroy(&c->mu);
}

/* The tracker's emitter: the collector's lock is held (ds_collect_dos, ds_collect_mark). */
static int emit_attack(void *ctx, const struct ds_dos_attack *a, struct ds_err *err)
{
    struct ds_collect *c = ctx;
    return c->sink->dos(c->sink->ctx, a, err);
}

static int emit_campaign(void *ctx, const struct ds_campaign *k, struct ds_err *err)
{
    struct ds_collect *c = ctx;
    return c->sink->campaign(c->sink->ctx, k, err);
}

static int emit_outbreak(void *ctx, const struct ds_outbreak *o, struct ds_err *err)
{
    struct ds_collect *c = ctx;
    return c->sink->outbreak(c->sink->ctx, o, err);
}

int ds_collect_enable_incidents(struct ds_collect *c, const struct ds_dos_config *dos,
                                const struct ds_campaign_config *camp,
                                const struct ds_outbreak_config *ob)
{
    if (!c->sink || (!c->sink->dos && !c->sink->campaign && !c->sink->outbreak))
        return -EINVAL;
    if (c->sink->outbreak) {
        if (ds_outbreaks_init(&c->ob, ob, emit_outbreak, c) < 0)
            return -ENOMEM;
        c->have_ob = true;
    }
    if (!(c->dos_now = calloc((size_t)c->nshards, sizeof *c->dos_now)))
        return -ENOMEM;
    if (c->sink->dos) {
        if (ds_dos_init(&c->dos, dos, emit_attack, c) < 0)
            return -ENOMEM; /* ds_collect_free releases the rest */
        c->have_dos = true;
    }
    if (c->sink->campaign) {
        if (ds_campaigns_init(&c->camp, camp, emit_campaign, c) < 0)
            return -ENOMEM;
        c->have_camp = true;
    }
    return 0;
}

static int fail(struct ds_collect *c, int rc)
{
    if (!c->failed)
        c->failed = rc;
    return rc;
}

/* The outbreak detector's state to the sink (when it keeps it and has seen intervals). */
static int save_outbreaks(struct ds_collect *c)
{
    if (!c->have_ob || !c->sink->outbreak_state || !c->ob.intervals)
        return 0;
    uint8_t *blob;
    size_t len;
    int rc = ds_outbreaks_save(&c->ob, &blob, &len, &c->err);
    if (rc == 0)
        rc = c->sink->outbreak_state(c->sink->ctx, blob, len, c->ob.last_idx, &c->err);
    free(blob);
    return rc;
}

/* A complete (merged) interval to the sink; 5-minute ones also to outbreak detection, whose
 * state is saved every 12 intervals (an hour of packet time). */
static int to_sink(struct ds_collect *c, const struct ds_window *w)
{
    int rc = 0;
    if (c->sink && c->sink->window && (rc = c->sink->window(c->sink->ctx, w, &c->err)) < 0)
        return rc;
    if (c->have_ob && w->gran == DS_GRAN_5M) {
        uint32_t before = c->ob.intervals;
        if ((rc = ds_outbreaks_interval(&c->ob, w, &c->err)) == 0 && c->ob.intervals != before &&
            c->ob.intervals % 12 == 0)
            rc = save_outbreaks(c);
    }
    return rc;
}

int ds_collect_restore_outbreaks(struct ds_collect *c, const void *blob, size_t len,
                                 struct ds_err *err)
{
    if (!c->have_ob)
        return 0;
    return ds_outbreaks_restore(&c->ob, blob, len, err);
}

int ds_collect_window(struct ds_collect *c, int shard, const struct ds_window *w)
{
    (void)shard;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (c->failed) {
        rc = c->failed;
        goto out;
    }
    if (c->nshards == 1) {
        if ((rc = to_sink(c, w)) < 0)
            fail(c, rc);
        goto out;
    }
    struct ds_collect_pending *free_slot = NULL, *p = NULL;
    for (int i = 0; i < DS_COLLECT_MAX_PENDING; i++) {
        struct ds_collect_pending *q = &c->pend[w->gran][i];
        if (q->used && q->w->idx == w->idx) {
            p = q;
            break;
        }
        if (!q->used && !free_slot)
            free_slot = q;
    }
    if (!p) {
        if (!free_slot) {
            rc = fail(c, ds_err_set(&c->err, -ENOMEM,
                                    "more than %d %s intervals wait for a slow shard",
                                    DS_COLLECT_MAX_PENDING, ds_gran_names[w->gran]));
            goto out;
        }
        p = free_slot;
        if (!p->w) {
            p->w = malloc(sizeof *p->w);
            if (!p->w || (rc = ds_window_init(p->w, w->gran)) < 0) {
                free(p->w);
                p->w = NULL;
                rc = fail(c, ds_err_set(&c->err, -ENOMEM, "out of memory merging intervals"));
                goto out;
            }
        }
        ds_window_reset(p->w, w->idx);
        p->used = true;
    }
    if ((rc = ds_window_add(p->w, w, false)) < 0)
        fail(c, ds_err_set(&c->err, rc, "out of memory merging intervals"));
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int ds_collect_daysk(struct ds_collect *c, int shard, const struct ds_daysk *d)
{
    (void)shard;
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (c->failed) {
        rc = c->failed;
        goto out;
    }
    if (c->nshards == 1) {
        if (c->sink && c->sink->daysk && (rc = c->sink->daysk(c->sink->ctx, d, &c->err)) < 0)
            fail(c, rc);
        goto out;
    }
    int slot = -1;
    for (int i = 0; i < DS_COLLECT_MAX_PENDING; i++) {
        if (c->dpend_used[i] && c->dpend[i].day == d->day) {
            slot = i;
            break;
        }
        if (!c->dpend_used[i] && slot < 0)
            slot = i;
    }
    if (slot < 0) {
        rc = fail(c, ds_err_set(&c->err, -ENOMEM, "too many days wait for a slow shard"));
        goto out;
    }
    if (!c->dpend_used[slot]) {
        if (!c->dpend[slot].tab && (rc = ds_daysk_init(&c->dpend[slot])) < 0) {
            fail(c, ds_err_set(&c->err, rc, "out of memory merging day sketches"));
            goto out;
        }
        ds_daysk_reset(&c->dpend[slot], d->day);
        c->dpend_used[slot] = true;
    }
    if ((rc = ds_daysk_merge(&c->dpend[slot], d)) < 0)
        fail(c, ds_err_set(&c->err, rc, "out of memory merging day sketches"));
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int ds_collect_hosts(struct ds_collect *c, const struct ds_host *const *h, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (c->failed)
        rc = c->failed;
    else if (c->sink && c->sink->hosts && (rc = c->sink->hosts(c->sink->ctx, h, n, &c->err)) < 0)
        fail(c, rc);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int ds_collect_top(struct ds_collect *c, uint32_t day, const struct ds_host_top *t, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (c->failed)
        rc = c->failed;
    else if (c->sink && c->sink->top && (rc = c->sink->top(c->sink->ctx, day, t, n, &c->err)) < 0)
        fail(c, rc);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Hands every pending interval of gran before `upto` to the sink, oldest first. */
static int flush_windows(struct ds_collect *c, int g, uint32_t upto)
{
    for (;;) {
        struct ds_collect_pending *best = NULL;
        for (int i = 0; i < DS_COLLECT_MAX_PENDING; i++) {
            struct ds_collect_pending *q = &c->pend[g][i];
            if (q->used && q->w->idx < upto && (!best || q->w->idx < best->w->idx))
                best = q;
        }
        if (!best)
            return 0;
        best->used = false;
        int rc = to_sink(c, best->w);
        if (rc < 0)
            return fail(c, rc);
    }
}

static int flush_days(struct ds_collect *c, uint32_t upto)
{
    for (;;) {
        int best = -1;
        for (int i = 0; i < DS_COLLECT_MAX_PENDING; i++)
            if (c->dpend_used[i] && c->dpend[i].day < upto &&
                (best < 0 || c->dpend[i].day < c->dpend[best].day))
                best = i;
        if (best < 0)
            return 0;
        c->dpend_used[best] = false;
        int rc;
        if (c->sink && c->sink->daysk &&
            (rc = c->sink->daysk(c->sink->ctx, &c->dpend[best], &c->err)) < 0)
            return fail(c, rc);
    }
}

int ds_collect_incidents(struct ds_collect *c, int shard, const struct ds_dos_rec *r, size_t n,
                         const struct ds_campaign_rec *cr, size_t m, uint64_t now_ns)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (c->failed || !ds_collect_has_incidents(c) || c->dos_done) {
        rc = c->failed;
        goto out;
    }
    if (now_ns > c->dos_now[shard])
        c->dos_now[shard] = now_ns;
    if (n && c->have_dos && (rc = ds_dos_add(&c->dos, r, n, &c->err)) < 0)
        goto bad;
    if (m && c->have_camp && (rc = ds_campaigns_add(&c->camp, cr, m, &c->err)) < 0)
        goto bad;
    uint64_t low = UINT64_MAX;
    for (int s = 0; s < c->nshards; s++)
        if (c->dos_now[s] < low)
            low = c->dos_now[s];
    if (c->have_dos && (rc = ds_dos_advance(&c->dos, low, &c->err)) < 0)
        goto bad;
    if (c->have_camp && (rc = ds_campaigns_advance(&c->camp, low, &c->err)) < 0)
        goto bad;
    goto out;
bad:
    fail(c, rc);
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int ds_collect_mark(struct ds_collect *c, int shard, uint32_t idx5, uint32_t idx1h, uint32_t idx1d)
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (c->failed) {
        rc = c->failed;
        goto out;
    }
    c->mark[shard][DS_GRAN_5M] = idx5;
    c->mark[shard][DS_GRAN_1H] = idx1h;
    c->mark[shard][DS_GRAN_1D] = idx1d;
    c->day_mark[shard] = idx1d;
    uint32_t low[DS_GRAN_COUNT];
    for (int g = 0; g < DS_GRAN_COUNT; g++) {
        low[g] = UINT32_MAX;
        for (int s = 0; s < c->nshards; s++)
            if (c->mark[s][g] < low[g])
                low[g] = c->mark[s][g];
    }
    if (c->nshards > 1) {
        for (int g = 0; g < DS_GRAN_COUNT && rc == 0; g++)
            rc = flush_windows(c, g, low[g]);
        if (rc == 0)
            rc = flush_days(c, low[DS_GRAN_1D]);
        if (rc < 0)
            goto out;
    }
    /* every shard has finished: the open attack vectors end (before the last checkpoint) */
    if (low[DS_GRAN_5M] == UINT32_MAX && ds_collect_has_incidents(c) && !c->dos_done) {
        c->dos_done = true;
        if ((c->have_dos && (rc = ds_dos_finish(&c->dos, &c->err)) < 0) ||
            (c->have_camp && (rc = ds_campaigns_finish(&c->camp, &c->err)) < 0)) {
            fail(c, rc);
            goto out;
        }
    }
    /* every shard has finished: the detector's state as the input left it */
    if (low[DS_GRAN_5M] == UINT32_MAX && !c->ob_saved) {
        c->ob_saved = true;
        if ((rc = save_outbreaks(c)) < 0) {
            fail(c, rc);
            goto out;
        }
    }
    if (low[DS_GRAN_5M] > c->ckpt) {
        c->ckpt = low[DS_GRAN_5M];
        if (c->sink && c->sink->checkpoint &&
            (rc = c->sink->checkpoint(c->sink->ctx, c->ckpt, &c->err)) < 0)
            fail(c, rc);
    }
out:
    pthread_mutex_unlock(&c->mu);
    return rc;
}
