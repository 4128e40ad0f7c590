/* engine.c - the packet path: source -> decode -> darknet filter -> classify -> shards.
 *
 * Threads: with one worker everything runs on the calling thread. With N workers the calling
 * thread reads, decodes and classifies (the stateless steps that need the frame bytes), and
 * hands fixed-size records to N shard threads through single-producer single-consumer rings,
 * choosing the shard by the source address hash, so a source's packets stay in order on one
 * shard and shards share no mutable state. */
#include "analyze/engine.h"

#include <inttypes.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "analyze/shard.h"
#include "store/archive.h"
#include "classify/classify.h"
#include "core/log.h"
#include "decode/decode.h"

#define BATCH DS_SHARD_BATCH /* frames read, decoded and counted together */
#define RING_BATCH 32        /* records written to a ring before they are published */
#define RING_SIZE 8192       /* records per ring; power of two */
#define STATS_POLL 4096

struct ring_item {
    struct ds_pkt p;
    uint64_t h;
};

/* SPSC ring: the reader owns head and `stage`, the worker owns tail. */
struct ring {
    _Alignas(64) atomic_size_t head;
    _Alignas(64) atomic_size_t tail;
    _Alignas(64) atomic_int done;
    _Atomic uint64_t idle_ns; /* the reader saw no frame for a while: the time then */
    size_t local_head;        /* reader-private: written but not yet published */
    struct ring_item *items;
};

struct worker {
    pthread_t thread;
    struct ring ring;
    struct ds_shard shard;
    int started;
};

static const struct ds_shard_config default_config = {
    .hscan_dsts = 25,
    .vscan_ports = 15,
};

static void backoff(unsigned *spins)
{
    if (++*spins < 64) {
        __builtin_ia32_pause();
    } else {
        sched_yield();
    }
}

static uint64_t realtime_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_setname_np(pthread_self(), "ds-shard");
    struct ring *r = &w->ring;
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    unsigned spins = 0;
    uint64_t idle_seen = 0;
    for (;;) {
        size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (head == tail) {
            if (atomic_load_explicit(&r->done, memory_order_acquire) &&
                atomic_load_explicit(&r->head, memory_order_acquire) == tail)
                break;
            uint64_t idle = atomic_load_explicit(&r->idle_ns, memory_order_acquire);
            if (idle != idle_seen) { /* quiet input: let time-based work happen */
                idle_seen = idle;
                ds_shard_idle(&w->shard, idle);
            }
            backoff(&spins);
            continue;
        }
        spins = 0;
        /* windows of up to one shard batch: prefetch their index slots, then ingest */
        while (tail != head) {
            size_t n = head - tail;
            if (n > DS_SHARD_BATCH)
                n = DS_SHARD_BATCH;
            struct ds_pkt pk[DS_SHARD_BATCH];
            uint64_t hs[DS_SHARD_BATCH];
            for (size_t i = 0; i < n; i++) {
                const struct ring_item *it = &r->items[(tail + i) & (RING_SIZE - 1)];
                pk[i] = it->p;
                hs[i] = it->h;
                ds_hosttab_prefetch(&w->shard.hosts, &pk[i].src, hs[i]);
            }
            /* the slots are copied out: hand them back before counting */
            tail += n;
            atomic_store_explicit(&r->tail, tail, memory_order_release);
            ds_shard_ingest_batch(&w->shard, pk, hs, (int)n);
        }
    }
    ds_shard_finish(&w->shard);
    return NULL;
}

static void ring_publish(struct ring *r)
{
    atomic_store_explicit(&r->head, r->local_head, memory_order_release);
}

/* Returns a slot to fill (waits while the ring is full). */
static struct ring_item *ring_slot(struct ring *r)
{
    unsigned spins = 0;
    while (r->local_head - atomic_load_explicit(&r->tail, memory_order_acquire) >= RING_SIZE) {
        ring_publish(r);
        backoff(&spins);
    }
    return &r->items[r->local_head & (RING_SIZE - 1)];
}

/* Decodes, filters and classifies one frame. Returns 1 when p is a darknet packet to ingest,
 * 0 when it was counted as skipped in *rs. */
static int prepare(const struct ds_frame *f, const struct ds_darknet *dn, struct ds_summary *rs,
                   struct ds_pkt *p)
{
    rs->packets++;
    enum ds_decode_rc rc = ds_decode(f->linktype, f->data, f->caplen, f->wirelen, f->ts_ns, p);
    switch (rc) {
    case DS_DECODE_OK:
        break;
    case DS_DECODE_TRUNCATED:
        rs->skipped[DS_SKIP_TRUNCATED]++;
        return 0;
    case DS_DECODE_MALFORMED:
        rs->skipped[DS_SKIP_MALFORMED]++;
        return 0;
    case DS_DECODE_NON_IP:
        rs->skipped[DS_SKIP_NON_IP]++;
        return 0;
    case DS_DECODE_UNSUPPORTED_LINK:
        if (ds_summary_count_link(rs, f->linktype)) {
            const char *name = pcap_datalink_val_to_name((int)f->linktype);
            ds_warn("decode",
                    "link type %u (%s) is not supported: its frames are counted as "
                    "unsupported_link and skipped",
                    f->linktype, name ? name : "unknown");
        }
        return 0;
    }
    if (!ds_darknet_contains(dn, &p->dst)) {
        rs->skipped[DS_SKIP_NOT_DARKNET]++;
        return 0;
    }
    ds_classify(p);
    return 1;
}

static void log_shard(const struct ds_shard *sh, int i)
{
    ds_debug("engine",
             "shard %d: %zu hosts (%zu IPv6), %zu port pairs, %zu MiB, %" PRIu64
             " evicted (%" PRIu64 " seen that day), %" PRIu64 " profile segments",
             i, ds_hosttab_count(&sh->hosts), sh->hosts.v6_count, sh->hosts.pairs_count,
             ds_hosttab_bytes(&sh->hosts) >> 20, sh->evicted, sh->evicted_active, sh->segments);
}

/* Adds a finished shard's counts into the run's. */
static void shard_done(const struct ds_shard *sh, int i, struct ds_summary *out,
                       struct ds_engine_result *res)
{
    log_shard(sh, i);
    ds_summary_merge(out, sh->sum);
    res->oom_drops += sh->oom_drops;
    res->hosts += ds_hosttab_count(&sh->hosts);
    res->evicted += sh->evicted;
    res->evicted_active += sh->evicted_active;
    res->segments += sh->segments;
    res->table_bytes += ds_hosttab_bytes(&sh->hosts);
}

/* The sink's first error, as the run's error. */
static int sink_failed(struct ds_collect *c, struct ds_err *err)
{
    if (!c || !ds_collect_failed(c))
        return 0;
    return ds_err_set(err, ds_collect_failed(c), "%s", c->err.msg);
}

static void poll_stats(const struct ds_engine_opts *o, struct ds_source *src)
{
    if (o->stats_request && *o->stats_request) {
        *o->stats_request = 0;
        if (o->on_stats)
            o->on_stats(o->ctx, src);
    }
}

/* Calls poll_stats when the frame count crossed a multiple of STATS_POLL. */
static void poll_every(const struct ds_engine_opts *o, struct ds_source *src, uint64_t before,
                       uint64_t after)
{
    if (before / STATS_POLL != after / STATS_POLL)
        poll_stats(o, src);
}

/* Writes a batch of frames to the raw archive; failures are logged (the archive drops frames
 * until its next period and counts them). */
static void archive_batch(const struct ds_engine_opts *o, const struct ds_frame *fv, int n,
                          struct ds_engine_result *res)
{
    if (!o->archive)
        return;
    for (int i = 0; i < n; i++) {
        struct ds_err e = {0};
        if (ds_archive_write(o->archive, &fv[i], &e) < 0) {
            res->archive_errors++;
            ds_warn("archive", "%s", e.msg);
        }
    }
}

/* How many frames the next batch may hold under max_packets (0: the limit is reached). */
static int batch_room(const struct ds_engine_opts *o, uint64_t frames)
{
    if (!o->max_packets)
        return BATCH;
    uint64_t left = o->max_packets > frames ? o->max_packets - frames : 0;
    return left < BATCH ? (int)left : BATCH;
}

/*
 * One thread does everything, a batch at a time: decode and classify the batch (prefetching
 * each source's index slot), then count it, so the host-table misses of a batch overlap.
 */
static int run_inline(const struct ds_engine_opts *o, struct ds_source *src, struct ds_summary *out,
                      struct ds_engine_result *res, struct ds_collect *col, struct ds_err *err)
{
    struct ds_shard *sh = malloc(sizeof *sh); /* large: its windows hold ~100 KiB of rows */
    struct ds_frame fv[BATCH];
    struct ds_pkt batch[BATCH];
    uint64_t hashes[BATCH];
    if (!sh)
        return ds_err_set(err, -ENOMEM, "out of memory");
    int rc = ds_shard_init(sh, 0, o->shard ? o->shard : &default_config, col, err);
    if (rc < 0) {
        free(sh);
        return rc;
    }
    uint64_t frames = 0;
    int room;
    while ((room = batch_room(o, frames)) > 0 && !sh->failed) {
        int n = ds_source_next_batch(src, fv, room, err);
        if (n == DS_SOURCE_IDLE) {
            ds_shard_idle(sh, realtime_ns());
            if (o->on_batch)
                o->on_batch(o->ctx, 0, 0);
            continue;
        }
        if (n <= 0) {
            rc = n;
            break;
        }
        archive_batch(o, fv, n, res);
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (prepare(&fv[i], o->darknet, out, &batch[k])) {
                if (o->tap)
                    ds_tap_offer(o->tap, &batch[k]);
                hashes[k] = ds_hosttab_hash(&batch[k].src);
                ds_hosttab_prefetch(&sh->hosts, &batch[k].src, hashes[k]);
                k++;
            }
        }
        ds_shard_ingest_batch(sh, batch, hashes, k);
        if (o->on_batch)
            o->on_batch(o->ctx, fv[n - 1].ts_ns, n);
        poll_every(o, src, frames, frames + (uint64_t)n);
        frames += (uint64_t)n;
    }
    ds_shard_finish(sh);
    shard_done(sh, 0, out, res);
    ds_shard_free(sh);
    free(sh);
    if (rc >= 0)
        rc = sink_failed(col, err);
    return rc < 0 ? rc : 0;
}

static int run_sharded(const struct ds_engine_opts *o, struct ds_source *src,
                       struct ds_summary *out, struct ds_engine_result *res, struct ds_collect *col,
                       struct ds_err *err)
{
    int nw = o->workers;
    int rc = 0;
    struct worker *w = calloc((size_t)nw, sizeof *w);
    if (!w)
        return ds_err_set(err, -ENOMEM, "out of memory starting %d workers", nw);
    for (int i = 0; i < nw; i++) {
        w[i].ring.items = malloc(RING_SIZE * sizeof(struct ring_item));
        if (!w[i].ring.items) {
            rc = ds_err_set(err, -ENOMEM, "out of memory starting worker %d", i);
            goto out;
        }
        if ((rc = ds_shard_init(&w[i].shard, i, o->shard ? o->shard : &default_config, col, err)) <
            0)
            goto out;
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
            rc = ds_err_set(err, -EAGAIN, "cannot start worker thread %d", i);
            goto out;
        }
        w[i].started = 1;
    }
    struct ds_frame fv[BATCH];
    uint64_t frames = 0;
    int room;
    while ((room = batch_room(o, frames)) > 0 && !(col && ds_collect_failed(col))) {
        int n = ds_source_next_batch(src, fv, room, err);
        if (n == DS_SOURCE_IDLE) {
            uint64_t now = realtime_ns();
            for (int i = 0; i < nw; i++)
                atomic_store_explicit(&w[i].ring.idle_ns, now, memory_order_release);
            if (o->on_batch)
                o->on_batch(o->ctx, 0, 0);
            continue;
        }
        if (n <= 0) {
            rc = n;
            break;
        }
        archive_batch(o, fv, n, res);
        for (int i = 0; i < n; i++) {
            struct ds_pkt p;
            if (!prepare(&fv[i], o->darknet, out, &p))
                continue;
            if (o->tap)
                ds_tap_offer(o->tap, &p);
            uint64_t h = ds_hosttab_hash(&p.src);
            struct ring *r = &w[(h >> 32) % (uint64_t)nw].ring;
            struct ring_item *it = ring_slot(r);
            it->p = p;
            it->p.payload = NULL; /* the frame buffer is not the worker's to read */
            it->h = h;
            r->local_head++;
            if ((r->local_head & (RING_BATCH - 1)) == 0)
                ring_publish(r);
        }
        if (n < BATCH) /* a short batch (live, paced, streams): nothing may wait for more */
            for (int i = 0; i < nw; i++)
                ring_publish(&w[i].ring);
        if (o->on_batch)
            o->on_batch(o->ctx, fv[n - 1].ts_ns, n);
        poll_every(o, src, frames, frames + (uint64_t)n);
        frames += (uint64_t)n;
    }
out:
    for (int i = 0; i < nw; i++) {
        if (!w[i].started)
            continue;
        ring_publish(&w[i].ring);
        atomic_store_explicit(&w[i].ring.done, 1, memory_order_release);
        pthread_join(w[i].thread, NULL);
    }
    for (int i = 0; i < nw; i++) {
        if (w[i].shard.sum)
            shard_done(&w[i].shard, i, out, res);
        ds_shard_free(&w[i].shard);
        free(w[i].ring.items);
    }
    free(w);
    if (rc >= 0)
        rc = sink_failed(col, err);
    return rc < 0 ? rc : 0;
}

int ds_engine_run(const struct ds_engine_opts *o, struct ds_source *src, struct ds_summary *out,
                  struct ds_engine_result *res, struct ds_err *err)
{
    memset(res, 0, sizeof *res);
    int nw = o->workers <= 1 ? 1 : o->workers;
    struct ds_collect *cp = NULL;
    if (o->sink) {
        cp = malloc(sizeof *cp);
        if (!cp || ds_collect_init(cp, nw, o->sink) < 0) {
            free(cp);
            return ds_err_set(err, -ENOMEM, "out of memory");
        }
        if (o->sink->dos || o->sink->campaign || o->sink->outbreak) {
            struct ds_dos_config dc;
            struct ds_campaign_config kc = {0};
            if (o->dos)
                dc = *o->dos;
            else
                ds_dos_defaults(&dc);
            if (o->campaign)
                kc = *o->campaign;
            if (o->shard) {
                dc.monitored_v4 = kc.monitored_v4 = o->shard->monitored;
                dc.geo = o->shard->geo;
            }
            if (ds_collect_enable_incidents(cp, &dc, &kc, o->outbreak) < 0) {
                ds_collect_free(cp);
                free(cp);
                return ds_err_set(err, -ENOMEM, "out of memory");
            }
            struct ds_err re = {0};
            if (o->outbreak_state &&
                ds_collect_restore_outbreaks(cp, o->outbreak_state, o->outbreak_state_len, &re) <
                    0) /* not fatal: the detector learns again, as it would without */
                ds_warn("outbreaks", "%s; the detector starts afresh", re.msg);
            else if (o->outbreak_state)
                ds_info("outbreaks",
                        "loaded the detector's saved state (to interval %u): used if the input"
                        " follows on within a day",
                        cp->ob.last_idx);
        }
    }
    int rc =
        nw == 1 ? run_inline(o, src, out, res, cp, err) : run_sharded(o, src, out, res, cp, err);
    if (cp) {
        ds_collect_free(cp);
        free(cp);
    }
    return rc;
}
