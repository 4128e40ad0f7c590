/* shard.c - one analysis shard: the hosts whose address hashes to it, their profiles, the run
 * counters and the open 5-minute, hourly and daily statistics.
 *
 * Unique sources are exact at every granularity without sketches in the packet path: a
 * profile remembers the 5-minute interval of its last packet (stamp) and which per-dimension
 * counts it is already in for the current 5 minutes, hour and day (seen masks); a (host,
 * port) pair remembers its last interval too. A source is counted in a window's `sources`
 * the first time it shows up there. Packets older than the open 5-minute window (merged
 * inputs slightly out of order) are counted in the open window. */
#include "analyze/shard.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>

#define NS_PER_5M 300000000000ull
#define FLUSH_BATCH (1u << 20) /* profiles per write: sorted together, they go in faster */

int ds_shard_init(struct ds_shard *s, int id, const struct ds_shard_config *cfg,
                  struct ds_collect *collect, struct ds_err *err)
{
    memset(s, 0, sizeof *s);
    s->id = id;
    s->cfg = cfg;
    s->collect = collect;
    int rc = -ENOMEM;
    s->sum = calloc(1, sizeof *s->sum);
    if (!s->sum || ds_hosttab_init(&s->hosts) < 0)
        goto out;
    if (cfg && cfg->geo) {
        if ((rc = ds_geo_cache_init(&s->geo, cfg->geo, 0, err)) < 0)
            goto out;
        s->have_geo = true;
    }
    if (cfg && cfg->alerts) {
        if ((rc = ds_matcher_init(&s->matcher, cfg->registry, cfg->alerts,
                                  cfg->alert_update_ns ? cfg->alert_update_ns : 10000000000ull)) <
            0)
            goto out;
        s->alerting = true;
    }
    if (collect) {
        for (int g = 0; g < DS_GRAN_COUNT; g++)
            if ((rc = ds_window_init(&s->w[g], (enum ds_gran)g)) < 0)
                goto out;
        if ((rc = ds_daysk_init(&s->dsk)) < 0)
            goto out;
    }
    return 0;
out:
    ds_shard_free(s);
    if (rc == -ENOMEM)
        ds_err_set(err, rc, "out of memory starting analysis shard %d", id);
    return rc;
}

void ds_shard_free(struct ds_shard *s)
{
    ds_hosttab_free(&s->hosts);
    free(s->sum);
    s->sum = NULL;
    if (s->have_geo)
        ds_geo_cache_free(&s->geo);
    for (int g = 0; g < DS_GRAN_COUNT; g++)
        if (s->w[g].port)
            ds_window_free(&s->w[g]);
    if (s->dsk.tab)
        ds_daysk_free(&s->dsk);
    free(s->flush);
    s->flush = NULL;
    free(s->dayx);
    s->dayx = NULL;
    if (s->alerting)
        ds_matcher_free(&s->matcher);
    s->alerting = false;
}

/* ------------------------------------------------------------------ profile segments ----- */

_Static_assert(sizeof((struct ds_shard *)0)->dosbuf / sizeof(struct ds_dos_rec) >= DS_SHARD_BATCH &&
                   sizeof((struct ds_shard *)0)->campbuf / sizeof(struct ds_campaign_rec) >=
                       DS_SHARD_BATCH,
               "a batch's records fit the buffers");

static void fail(struct ds_shard *s, int rc)
{
    if (!s->failed)
        s->failed = rc;
}

/* Hands the waiting profiles to the collector and starts their next segments. */
static void flush_out(struct ds_shard *s)
{
    if (!s->n_flush)
        return;
    if (s->collect && !s->failed) {
        int rc = ds_collect_hosts(s->collect, s->flush, s->n_flush);
        if (rc < 0)
            fail(s, rc);
    }
    for (size_t i = 0; i < s->n_flush; i++)
        ds_host_reset_segment((struct ds_host *)s->flush[i]);
    s->segments += s->n_flush;
    s->n_flush = 0;
}

static struct ds_host_top *dayx_slot(struct ds_host_top *t, size_t mask, const struct ds_addr *a)
{
    size_t i = ds_hash_addr16(a->b) & mask;
    while (t[i].packets && !ds_addr_eq(&t[i].addr, a))
        i = (i + 1) & mask;
    return &t[i];
}

/* Remembers packets of a segment that ends before its day does. */
static void dayx_add(struct ds_shard *s, const struct ds_addr *a, uint64_t packets)
{
    if ((s->dayx_count + 1) * 4 > (s->dayx_mask + 1) * 3 || !s->dayx) {
        size_t cap = s->dayx ? (s->dayx_mask + 1) * 2 : 256;
        struct ds_host_top *n = calloc(cap, sizeof *n);
        if (!n)
            return; /* the top list may then miss part of a host's day */
        for (size_t i = 0; s->dayx && i <= s->dayx_mask; i++)
            if (s->dayx[i].packets)
                *dayx_slot(n, cap - 1, &s->dayx[i].addr) = s->dayx[i];
        free(s->dayx);
        s->dayx = n;
        s->dayx_mask = cap - 1;
    }
    struct ds_host_top *e = dayx_slot(s->dayx, s->dayx_mask, a);
    if (!e->packets) {
        e->addr = *a;
        s->dayx_count++;
    }
    e->packets += packets;
}

/* Ends the host's current segment (it goes to the store with the next flush_out). `early`:
 * before its day ends (saturation, eviction), so the day's top list must remember it. */
static void segment_end(struct ds_shard *s, struct ds_host *h, bool early)
{
    if (!h->packets)
        return;
    if (early && s->collect && h->stamp != DS_HOST_NEVER && s->open &&
        h->stamp / 288 == s->w[DS_GRAN_1D].idx)
        dayx_add(s, &h->addr, h->packets);
    /* the current 5 minutes count for the scan type too */
    if (h->win_dsts >= s->cfg->hscan_dsts)
        h->flags |= DS_HF_HSCAN;
    if (h->win_ports >= s->cfg->vscan_ports)
        h->flags |= DS_HF_VSCAN;
    if (!s->collect) {
        ds_host_reset_segment(h);
        return;
    }
    if (s->n_flush == s->cap_flush) {
        size_t ncap = s->cap_flush ? s->cap_flush * 2 : FLUSH_BATCH;
        const struct ds_host **n = realloc(s->flush, ncap * sizeof *n);
        if (!n) {
            flush_out(s); /* no room to queue: write what waits, then this one alone */
            s->flush[s->n_flush++] = h;
            flush_out(s);
            return;
        }
        s->flush = n;
        s->cap_flush = ncap;
    }
    s->flush[s->n_flush++] = h;
    if (s->n_flush >= FLUSH_BATCH)
        flush_out(s);
}

struct sweep {
    struct ds_shard *s;
    uint32_t cutoff; /* evict hosts whose stamp is below */
    uint32_t day;    /* the current day, to tell evictions that lose exactness */
    struct ds_host **victims;
    size_t n, cap;
};

static void end_all(void *ctx, struct ds_host *h)
{
    segment_end(ctx, h, false);
}

struct topc {
    struct ds_host_top *v;
    size_t n, cap;
};

static void top_collect(void *ctx, struct ds_host *h)
{
    struct topc *t = ctx;
    if (!h->packets || t->n == t->cap)
        return;
    t->v[t->n].addr = h->addr;
    t->v[t->n++].packets = h->packets;
}

static int cmp_top_addr(const void *a, const void *b)
{
    return memcmp(&((const struct ds_host_top *)a)->addr, &((const struct ds_host_top *)b)->addr,
                  sizeof(struct ds_addr));
}

static int cmp_top_packets(const void *a, const void *b)
{
    const struct ds_host_top *x = a, *y = b;
    if (x->packets != y->packets)
        return x->packets > y->packets ? -1 : 1;
    return cmp_top_addr(a, b);
}

/* Hands the day's busiest hosts (current segments plus what ended early) to the collector,
 * before the day's segments end. */
static void day_top(struct ds_shard *s, uint32_t day)
{
    struct topc t = {.cap = ds_hosttab_count(&s->hosts) + s->dayx_count};
    t.v = malloc((t.cap ? t.cap : 1) * sizeof *t.v);
    if (!t.v) {
        fail(s, -ENOMEM);
        return;
    }
    ds_hosttab_foreach(&s->hosts, top_collect, &t);
    for (size_t i = 0; s->dayx && i <= s->dayx_mask && t.n < t.cap; i++)
        if (s->dayx[i].packets)
            t.v[t.n++] = s->dayx[i];
    /* one row per host: sum what the two sources hold for the same address */
    qsort(t.v, t.n, sizeof *t.v, cmp_top_addr);
    size_t m = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (m && ds_addr_eq(&t.v[m - 1].addr, &t.v[i].addr))
            t.v[m - 1].packets += t.v[i].packets;
        else
            t.v[m++] = t.v[i];
    }
    qsort(t.v, m, sizeof *t.v, cmp_top_packets);
    size_t k = m < DS_HOST_TOP_PER_DAY ? m : DS_HOST_TOP_PER_DAY;
    if (k && !s->failed) {
        int rc = ds_collect_top(s->collect, day, t.v, k);
        if (rc < 0)
            fail(s, rc);
    }
    free(t.v);
    if (s->dayx)
        memset(s->dayx, 0, (s->dayx_mask + 1) * sizeof *s->dayx);
    s->dayx_count = 0;
}

static void pick_idle(void *ctx, struct ds_host *h)
{
    struct sweep *w = ctx;
    if (h->stamp != DS_HOST_NEVER && h->stamp >= w->cutoff)
        return;
    if (w->n == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 4096;
        struct ds_host **n = realloc(w->victims, ncap * sizeof *n);
        if (!n)
            return; /* evict fewer this time */
        w->victims = n;
        w->cap = ncap;
    }
    w->victims[w->n++] = h;
}

/* Evicts hosts idle for idle_intervals, and more (oldest first) while the table holds more
 * than max_hosts. Each goes to the store first. */
static void evict(struct ds_shard *s, uint32_t now)
{
    const struct ds_shard_config *c = s->cfg;
    size_t count = ds_hosttab_count(&s->hosts);
    bool over = c->max_hosts && count > c->max_hosts;
    if (!c->idle_intervals && !over)
        return;
    struct sweep w = {.s = s, .day = now / 288};
    w.cutoff = c->idle_intervals && now > c->idle_intervals ? now - c->idle_intervals : 0;
    if (over) {
        /* raise the cutoff until enough hosts fall below it (a histogram of stamps) */
        enum { BUCKETS = 64 };
        size_t hist[BUCKETS] = {0};
        uint32_t span = 288; /* look back one day in 5-minute buckets of 4.5 intervals */
        uint32_t base = now > span ? now - span : 0;
        for (uint32_t id = 1; id < s->hosts.next_id; id++) {
            const struct ds_host *h = ds_hosttab_entry(&s->hosts, id);
            if (h->flags & DS_HF_FREE)
                continue;
            uint32_t st = h->stamp == DS_HOST_NEVER ? 0 : h->stamp;
            size_t b = st <= base ? 0 : (size_t)((uint64_t)(st - base) * (BUCKETS - 1) / span);
            hist[b < BUCKETS ? b : BUCKETS - 1]++;
        }
        size_t need = count - c->max_hosts + c->max_hosts / 8, got = 0;
        uint32_t cut = base;
        for (size_t b = 0; b < BUCKETS && got < need; b++) {
            got += hist[b];
            cut = base + (uint32_t)((uint64_t)(b + 1) * span / (BUCKETS - 1));
        }
        if (cut > w.cutoff)
            w.cutoff = cut;
    }
    if (!w.cutoff)
        return;
    ds_hosttab_foreach(&s->hosts, pick_idle, &w);
    for (size_t i = 0; i < w.n; i++)
        segment_end(s, w.victims[i], true);
    flush_out(s); /* the profiles are written before their slots are reused */
    for (size_t i = 0; i < w.n; i++) {
        struct ds_host *h = w.victims[i];
        if (h->stamp != DS_HOST_NEVER && h->stamp / 288 == w.day)
            s->evicted_active++;
        if (ds_hosttab_remove(&s->hosts, h) == 0)
            s->evicted++;
    }
    free(w.victims);
}

/* ------------------------------------------------------------------ windows -------------- */

static void emit_window(struct ds_shard *s, struct ds_window *w)
{
    if (ds_window_empty(w) || s->failed)
        return;
    w->monitored = s->cfg->monitored;
    int rc = ds_collect_window(s->collect, s->id, w);
    if (rc < 0)
        fail(s, rc);
}

/* Moves the windows on to 5-minute interval `now` (> the open one), closing what ended. */
static void advance(struct ds_shard *s, uint32_t now)
{
    struct ds_window *w5 = &s->w[DS_GRAN_5M], *wh = &s->w[DS_GRAN_1H], *wd = &s->w[DS_GRAN_1D];
    if (!s->open) {
        ds_window_reset(w5, now);
        ds_window_reset(wh, now / 12);
        ds_window_reset(wd, now / 288);
        ds_daysk_reset(&s->dsk, now / 288);
        s->open = true;
        return;
    }
    uint32_t old = w5->idx;
    emit_window(s, w5);
    if (ds_window_add(wh, w5, true) < 0 || ds_window_add(wd, w5, true) < 0)
        fail(s, -ENOMEM);
    ds_window_reset(w5, now);
    if (now / 12 != old / 12) {
        emit_window(s, wh);
        ds_window_reset(wh, now / 12);
        evict(s, now);
    }
    if (now / 288 != old / 288) {
        emit_window(s, wd);
        if (!s->failed && s->dsk.count) {
            int rc = ds_collect_daysk(s->collect, s->id, &s->dsk);
            if (rc < 0)
                fail(s, rc);
        }
        /* profiles are stored per day: every host with packets ends its segment */
        day_top(s, old / 288);
        ds_hosttab_foreach(&s->hosts, end_all, s);
        flush_out(s);
        ds_window_reset(wd, now / 288);
        ds_daysk_reset(&s->dsk, now / 288);
    }
    if (!s->failed) {
        int rc = ds_collect_mark(s->collect, s->id, now, now / 12, now / 288);
        if (rc < 0)
            fail(s, rc);
    }
}

int ds_shard_finish(struct ds_shard *s)
{
    if (s->alerting)
        ds_matcher_flush(&s->matcher);
    if (s->collect && s->open) {
        struct ds_window *w5 = &s->w[DS_GRAN_5M];
        emit_window(s, w5);
        if (ds_window_add(&s->w[DS_GRAN_1H], w5, true) < 0 ||
            ds_window_add(&s->w[DS_GRAN_1D], w5, true) < 0)
            fail(s, -ENOMEM);
        emit_window(s, &s->w[DS_GRAN_1H]);
        emit_window(s, &s->w[DS_GRAN_1D]);
        if (!s->failed && s->dsk.count) {
            int rc = ds_collect_daysk(s->collect, s->id, &s->dsk);
            if (rc < 0)
                fail(s, rc);
        }
    }
    if (s->collect && s->open)
        day_top(s, s->w[DS_GRAN_1D].idx);
    ds_hosttab_foreach(&s->hosts, end_all, s);
    flush_out(s);
    if (s->collect && !s->failed) {
        int rc = ds_collect_mark(s->collect, s->id, UINT32_MAX, UINT32_MAX, UINT32_MAX);
        if (rc < 0)
            fail(s, rc);
    }
    s->open = false;
    return s->failed;
}

/* ------------------------------------------------------------------ one packet ----------- */

static unsigned proto_index(const struct ds_pkt *p)
{
    switch (p->proto) {
    case 6:
        return DS_PROTO_TCP;
    case 17:
        return DS_PROTO_UDP;
    case 1:
        return DS_PROTO_ICMP;
    case 58:
        return DS_PROTO_ICMP6;
    default:
        return DS_PROTO_OTHER;
    }
}

static void add_traffic(struct ds_srow *r, bool research, uint32_t bytes)
{
    r->packets++;
    r->bytes += bytes;
    if (research) {
        r->r_packets++;
        r->r_bytes += bytes;
    }
}

static void add_source(struct ds_srow *r, bool research)
{
    r->sources++;
    r->r_sources += research;
}

/* The rows of one packet's fixed dimensions in window w (country and ASN by the host). */
static void add_host_source(struct ds_window *w, const struct ds_host *h, bool research)
{
    add_source(&w->total, research);
    add_source(&w->country[h->country], research);
    struct ds_srow *a = ds_window_asn(w, h->asn);
    if (a)
        add_source(a, research);
}

static void daysk(struct ds_shard *s, enum ds_dim dim, uint32_t key, bool research, uint64_t hh)
{
    if (ds_daysk_add(&s->dsk, dim, key, research, hh) < 0)
        s->oom_drops++;
}

/* Source counts for the dimension bits newly set in a host's seen mask. */
static void bits_sources(struct ds_window *w, uint32_t fresh, bool research)
{
    for (; fresh; fresh &= fresh - 1) {
        unsigned b = (unsigned)__builtin_ctz(fresh);
        if (b < DS_SEEN_FP0)
            add_source(&w->cls[b], research);
        else if (b < DS_SEEN_PROTO0)
            add_source(&w->fp[b - DS_SEEN_FP0], research);
        else if (b < DS_SEEN_PORT0)
            add_source(&w->proto[b - DS_SEEN_PROTO0], research);
    }
}

static uint16_t layout_hash(const struct ds_pkt *p)
{
    if (!p->tcp_nopts)
        return 0;
    uint32_t x = 2166136261u;
    unsigned n = p->tcp_nopts < DS_TCP_OPT_LAYOUT_MAX ? p->tcp_nopts : DS_TCP_OPT_LAYOUT_MAX;
    for (unsigned i = 0; i < n; i++)
        x = (x ^ p->tcp_layout[i]) * 16777619u;
    x ^= p->tcp_nopts;
    uint16_t v = (uint16_t)(x ^ (x >> 16));
    return v ? v : 1;
}

static void host_created(struct ds_shard *s, struct ds_host *h)
{
    if (s->have_geo) {
        struct ds_geo_info gi;
        ds_geo_lookup(&s->geo, &h->addr, &gi);
        h->country = ds_country_index(gi.country);
        h->asn = gi.asn;
    }
    uint32_t label;
    if (s->cfg && s->cfg->scanners && ds_scanners_lookup(s->cfg->scanners, &h->addr, &label))
        h->flags |= DS_HF_RESEARCH;
}

/* Would counting this packet saturate one of the segment's counters? */
static bool would_saturate(const struct ds_host *h, const struct ds_pkt *p)
{
    if (h->packets == UINT32_MAX || h->bytes > UINT32_MAX - p->wirelen)
        return true;
    for (uint32_t c = p->classes & ((1u << DS_HOST_CLASSES) - 1); c; c &= c - 1)
        if (h->cls[__builtin_ctz(c)] == UINT16_MAX)
            return true;
    for (uint32_t f = p->fps; f; f &= f - 1)
        if (h->fps[__builtin_ctz(f)] == UINT16_MAX)
            return true;
    return false; /* a stateful fingerprint may still add one: checked after, see below */
}

/* Everything one packet adds, once its host entry is known (NULL: no memory for it; the
 * packet is counted, its host, ports and statistics are not). */
static void count(struct ds_shard *s, struct ds_pkt *p, struct ds_host *host, bool created,
                  uint64_t pkey, uint64_t hh)
{
    struct ds_summary *sum = s->sum;
    sum->darknet_packets++;
    sum->darknet_bytes += p->wirelen;
    if (!sum->first_ts_ns || p->ts_ns < sum->first_ts_ns)
        sum->first_ts_ns = p->ts_ns;
    if (p->ts_ns > sum->last_ts_ns)
        sum->last_ts_ns = p->ts_ns;
    if (p->ipver == 6)
        sum->ipv6_packets++;
    for (uint32_t c = p->classes; c; c &= c - 1)
        sum->classes[__builtin_ctz(c)]++;
    /* stateless bits (set by classify) count one each; stateful ones count themselves */
    for (uint32_t f = p->fps; f; f &= f - 1)
        sum->fps[__builtin_ctz(f)]++;
    if (!host) {
        s->oom_drops++;
        return;
    }
    if (created) {
        sum->sources++;
        host_created(s, host);
    }
    /* a stateful match may count an earlier packet of the host as well (see fingerprint.h):
     * the run counters count both, the profile and the statistics this packet's bit */
    if (p->classes & DS_CLASS_BIT(DS_CLASS_TCP_SYN))
        p->fps |= ds_fp_match_syn_state(p, &host->fp, sum->fps);

    /* the 5-minute interval this packet counts in */
    uint32_t now = (uint32_t)(p->ts_ns / NS_PER_5M);
    if (s->collect) {
        if (!s->open || now > s->w[DS_GRAN_5M].idx)
            advance(s, now);
        else if (now < s->w[DS_GRAN_5M].idx)
            now = s->w[DS_GRAN_5M].idx;
    } else if (host->stamp != DS_HOST_NEVER && now < host->stamp) {
        now = host->stamp;
    }

    if (would_saturate(host, p)) {
        segment_end(s, host, true);
        flush_out(s); /* at once: the counters must restart before this packet */
    }
    bool research = host->flags & DS_HF_RESEARCH;
    if (ds_collect_has_incidents(s->collect)) {
        if (p->classes & DS_CLASS_BIT(DS_CLASS_BACKSCATTER))
            ds_dos_rec_from(&s->dosbuf[s->n_dos++], p);
        if (p->classes & DS_CLASS_BIT(DS_CLASS_AMP_PROBE))
            ds_campaign_rec_from(&s->campbuf[s->n_camp++], p, research);
    }

    /* new to this 5 minutes / hour / day? */
    bool n5 = false, nh = false, nd = false;
    if (host->stamp != now) {
        n5 = true;
        nh = host->stamp == DS_HOST_NEVER || host->stamp / 12 != now / 12;
        nd = host->stamp == DS_HOST_NEVER || host->stamp / 288 != now / 288;
        if (host->stamp != DS_HOST_NEVER) {
            if (host->win_dsts >= s->cfg->hscan_dsts)
                host->flags |= DS_HF_HSCAN;
            if (host->win_ports >= s->cfg->vscan_ports)
                host->flags |= DS_HF_VSCAN;
        }
        host->win_dsts = host->win_ports = 0;
        host->seen_i = 0;
        if (nh)
            host->seen_h = 0;
        if (nd)
            host->seen_d = 0;
        host->stamp = now;
    }

    /* the profile */
    unsigned pi = proto_index(p);
    if (!host->packets)
        host->first_ns = p->ts_ns;
    host->last_ns = p->ts_ns > host->last_ns ? p->ts_ns : host->last_ns;
    host->packets++;
    host->bytes += p->wirelen;
    host->protos |= (uint8_t)(1u << pi);
    for (uint32_t c = p->classes & ((1u << DS_HOST_CLASSES) - 1); c; c &= c - 1)
        host->cls[__builtin_ctz(c)]++;
    for (uint32_t f = p->fps; f; f &= f - 1) {
        unsigned b = (unsigned)__builtin_ctz(f);
        if (host->fps[b] < UINT16_MAX)
            host->fps[b]++;
    }
    if (created || !host->ttl0) {
        host->ttl0 = p->ttl;
    } else if (p->ttl != host->ttl0 && host->ttl_changes < UINT8_MAX) {
        host->ttl_changes++;
    }
    if (p->classes & DS_CLASS_BIT(DS_CLASS_TCP_SYN)) {
        if (!(host->flags & DS_HF_SYN_SEEN)) {
            host->flags |= DS_HF_SYN_SEEN;
            host->win0 = p->win;
            host->layout = layout_hash(p);
        } else if (p->win != host->win0 && host->win_changes < UINT8_MAX) {
            host->win_changes++;
        }
    }
    if (pi == DS_PROTO_UDP && !host->pclass && p->payload_class)
        host->pclass = p->payload_class;
    uint32_t dst32 = p->ipver == 4 ? ds_addr_v4(&p->dst) : (uint32_t)ds_hash_addr16(p->dst.b);
    if (ds_host_add_dst(host, dst32) && host->win_dsts < UINT8_MAX)
        host->win_dsts++;

    /* ports: run counters, profile, and whether the (host, port) is new to each window */
    bool pn5 = false, pnh = false, pnd = false;
    bool has_port = (p->flags & DS_PKT_L4) && (pi == DS_PROTO_TCP || pi == DS_PROTO_UDP);
    uint32_t port_bits = 0;
    if (has_port) {
        int udp = pi == DS_PROTO_UDP;
        struct ds_port_count *pc = &sum->ports[udp][p->dport];
        pc->packets++;
        struct ds_port_hit hit;
        if (ds_hosttab_port(&s->hosts, host, pkey, ds_port_key(udp, p->dport), now, &hit) < 0) {
            s->oom_drops++;
            has_port = false;
        } else {
            if (hit.fresh) {
                pc->sources++;
                if (host->nports < UINT16_MAX)
                    host->nports++;
            }
            if (hit.slot >= 0) {
                port_bits = 1u << (DS_SEEN_PORT0 + hit.slot);
            } else {
                uint32_t pv = hit.prev;
                pn5 = pv == DS_HOST_NEVER || pv != now;
                pnh = pv == DS_HOST_NEVER || pv / 12 != now / 12;
                pnd = pv == DS_HOST_NEVER || pv / 288 != now / 288;
            }
        }
    }

    /* statistics */
    uint32_t bits = (p->classes & 0xffu) | (p->fps & 0x1fu) << DS_SEEN_FP0 |
                    1u << (DS_SEEN_PROTO0 + pi) | port_bits;
    uint32_t f5 = bits & ~host->seen_i, fh = bits & ~host->seen_h, fd = bits & ~host->seen_d;
    host->seen_i |= bits;
    host->seen_h |= bits;
    host->seen_d |= bits;
    if (port_bits) {
        pn5 = f5 & port_bits;
        pnh = fh & port_bits;
        pnd = fd & port_bits;
    }
    if (has_port && pn5 && host->win_ports < UINT8_MAX)
        host->win_ports++;
    /* a scan is one the moment it crosses the threshold (alerts report it at once) */
    if (host->win_dsts >= s->cfg->hscan_dsts)
        host->flags |= DS_HF_HSCAN;
    if (host->win_ports >= s->cfg->vscan_ports)
        host->flags |= DS_HF_VSCAN;
    if (s->alerting) { /* the matcher's memo of the source, kept in its profile */
        enum ds_match_memo memo = host->flags & DS_HF_NO_ORG  ? DS_MEMO_FREE
                                  : host->flags & DS_HF_KEYED ? DS_MEMO_KEYED
                                                              : DS_MEMO_NONE;
        enum ds_match_memo got = ds_matcher_packet(&s->matcher, p, host, memo);
        if (got != memo)
            host->flags = (uint16_t)((host->flags & ~(DS_HF_NO_ORG | DS_HF_KEYED)) |
                                     (got == DS_MEMO_FREE    ? DS_HF_NO_ORG
                                      : got == DS_MEMO_KEYED ? DS_HF_KEYED
                                                             : 0));
    }
    if (!s->collect)
        return;

    struct ds_window *w5 = &s->w[DS_GRAN_5M], *wh = &s->w[DS_GRAN_1H], *wd = &s->w[DS_GRAN_1D];
    uint32_t b = p->wirelen;
    add_traffic(&w5->total, research, b);
    add_traffic(&w5->proto[pi], research, b);
    add_traffic(&w5->country[host->country], research, b);
    struct ds_srow *asn = ds_window_asn(w5, host->asn);
    if (asn)
        add_traffic(asn, research, b);
    else
        s->oom_drops++;
    for (uint32_t c = p->classes & 0xffu; c; c &= c - 1)
        add_traffic(&w5->cls[__builtin_ctz(c)], research, b);
    for (uint32_t f = p->fps & 0x1fu; f; f &= f - 1)
        add_traffic(&w5->fp[__builtin_ctz(f)], research, b);
    bool icmp = (p->flags & DS_PKT_L4) && (pi == DS_PROTO_ICMP || pi == DS_PROTO_ICMP6);
    if (icmp)
        add_traffic(&w5->icmp[pi == DS_PROTO_ICMP6][p->icmp_type], research, b);

    if (n5)
        add_host_source(w5, host, research);
    if (nh)
        add_host_source(wh, host, research);
    if (nd) {
        add_host_source(wd, host, research);
        daysk(s, DS_DIM_TOTAL, 0, research, hh);
        daysk(s, DS_DIM_COUNTRY, host->country, research, hh);
        daysk(s, DS_DIM_ASN, host->asn, research, hh);
    }
    bits_sources(w5, f5, research);
    bits_sources(wh, fh, research);
    bits_sources(wd, fd, research);
    for (uint32_t x = fd & (((1u << DS_PROTO_COUNT) - 1) << DS_SEEN_PROTO0); x; x &= x - 1)
        daysk(s, DS_DIM_PROTO, (uint32_t)__builtin_ctz(x) - DS_SEEN_PROTO0, research, hh);

    if (has_port) {
        int udp = pi == DS_PROTO_UDP;
        struct ds_prow *r = ds_window_port(w5, udp, p->dport);
        if (!r) {
            s->oom_drops++;
            return;
        }
        r->packets++;
        r->r_packets += research;
        struct ds_prow *rows[3] = {pn5 ? r : NULL, pnh ? ds_window_port(wh, udp, p->dport) : NULL,
                                   pnd ? ds_window_port(wd, udp, p->dport) : NULL};
        for (int g = 0; g < 3; g++)
            if (rows[g]) {
                rows[g]->sources++;
                rows[g]->r_sources += research;
            }
        if (pnd)
            daysk(s, udp ? DS_DIM_UDP : DS_DIM_TCP, p->dport, research, hh);
    } else if (icmp) {
        /* ICMP types: a pseudo-port in the pair set tells when the host is new to a type */
        uint32_t prev;
        int v6 = pi == DS_PROTO_ICMP6;
        if (ds_hosttab_pair(&s->hosts, pkey, ds_icmp_key(v6, p->icmp_type), now, &prev) < 0) {
            s->oom_drops++;
            return;
        }
        struct ds_srow *row[3] = {&w5->icmp[v6][p->icmp_type], &wh->icmp[v6][p->icmp_type],
                                  &wd->icmp[v6][p->icmp_type]};
        bool nw[3] = {prev == DS_HOST_NEVER || prev != now,
                      prev == DS_HOST_NEVER || prev / 12 != now / 12,
                      prev == DS_HOST_NEVER || prev / 288 != now / 288};
        for (int g = 0; g < 3; g++)
            if (nw[g])
                add_source(row[g], research);
    }
}

/* Adds what changed since the last publication to the shared counters. */
static void publish(struct ds_shard *s)
{
    struct ds_path_metrics *m = s->cfg->metrics;
    const struct ds_summary *sum = s->sum;
#define PUB(field, value, last)                                                                    \
    do {                                                                                           \
        uint64_t v_ = (value);                                                                     \
        if (v_ != (last)) {                                                                        \
            atomic_fetch_add_explicit(&m->field, v_ - (last), memory_order_relaxed);               \
            (last) = v_;                                                                           \
        }                                                                                          \
    } while (0)
    PUB(darknet, sum->darknet_packets, s->pub_darknet);
    PUB(bytes, sum->darknet_bytes, s->pub_bytes);
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        PUB(classes[i], sum->classes[i], s->pub_classes[i]);
    for (int i = 0; i < DS_FP_COUNT; i++)
        PUB(fps[i], sum->fps[i], s->pub_fps[i]);
    PUB(alert_packets, s->alerting ? s->matcher.matched : 0, s->pub_matched);
#undef PUB
    uint64_t h = ds_hosttab_count(&s->hosts);
    if (h != s->pub_hosts) { /* a gauge: may go down (eviction) */
        atomic_fetch_add_explicit(&m->hosts, h - s->pub_hosts, memory_order_relaxed);
        s->pub_hosts = h;
    }
}

/* Hands the batch's backscatter and amplification probes to the collector, and at least
 * every 10 s of packet time the time reached (quiet attacks and campaigns end by it). */
static void dos_report(struct ds_shard *s, uint64_t now_ns)
{
    if (!ds_collect_has_incidents(s->collect) || s->failed ||
        (!s->n_dos && !s->n_camp && now_ns < s->dos_tick_ns))
        return;
    int rc =
        ds_collect_incidents(s->collect, s->id, s->dosbuf, s->n_dos, s->campbuf, s->n_camp, now_ns);
    s->n_dos = s->n_camp = 0;
    s->dos_tick_ns = now_ns + 10000000000ull;
    if (rc < 0)
        fail(s, rc);
}

/* Host groups: every 30 s of packet time, this shard's hosts active in the current or the
 * previous 5 minutes (the busiest 5000) go to the shared groups. */
#define GROUP_EVERY_NS (30ull * 1000000000ull)
#define GROUP_HOSTS 5000

struct group_walk {
    struct ds_group_list l;
    uint32_t since; /* 5-minute index */
    int rc;
};

static void group_one(void *ctx, struct ds_host *h)
{
    struct group_walk *w = ctx;
    if (w->rc == 0 && h->stamp != DS_HOST_NEVER && h->stamp >= w->since && h->packets)
        w->rc = ds_group_list_add(&w->l, h, GROUP_HOSTS);
}

static void groups_report(struct ds_shard *s, uint64_t now_ns)
{
    if (!s->cfg->groups || now_ns < s->group_tick_ns)
        return;
    s->group_tick_ns = now_ns + GROUP_EVERY_NS;
    uint32_t now5 = (uint32_t)(now_ns / NS_PER_5M);
    struct group_walk w = {.since = now5 ? now5 - 1 : 0};
    ds_hosttab_foreach(&s->hosts, group_one, &w);
    if (w.rc == 0)
        w.rc = ds_groups_publish(s->cfg->groups, s->id, w.l.v, w.l.n, now_ns);
    free(w.l.v);
    if (w.rc < 0)
        ds_warn("groups", "shard %d: out of memory listing its active hosts", s->id);
}

static void forget_no_org(void *ctx, struct ds_host *h)
{
    (void)ctx;
    h->flags &= (uint16_t) ~(DS_HF_NO_ORG | DS_HF_KEYED);
}

/* A new registry snapshot: the hosts' "in no livenet" memos were answers of the old one. */
static void matcher_begin(struct ds_shard *s)
{
    if (ds_matcher_begin(&s->matcher))
        ds_hosttab_foreach(&s->hosts, forget_no_org, NULL);
}

void ds_shard_idle(struct ds_shard *s, uint64_t now_ns)
{
    dos_report(s, now_ns);
    groups_report(s, now_ns);
    if (s->alerting) {
        matcher_begin(s);
        ds_matcher_end(&s->matcher, now_ns);
    }
    if (s->cfg->metrics)
        publish(s);
}

void ds_shard_ingest_batch(struct ds_shard *s, struct ds_pkt *p, const uint64_t *h, int n)
{
    if (s->alerting)
        matcher_begin(s);
    struct ds_host *host[DS_SHARD_BATCH];
    bool created[DS_SHARD_BATCH];
    uint64_t pkey[DS_SHARD_BATCH];
    for (int i = 0; i < n; i++) {
        host[i] = ds_hosttab_get(&s->hosts, &p[i].src, h[i], &created[i], &pkey[i]);
        if (host[i]) {
            __builtin_prefetch(host[i], 1, 3);
            __builtin_prefetch((const char *)host[i] + 64, 1, 3);
            if (created[i] && s->alerting) /* a new source: its registry lookup comes */
                ds_matcher_prefetch(&s->matcher, &p[i].src);
        }
    }
    for (int i = 0; i < n; i++) {
        /* the pair-set slot of a packet a few ahead (its profile is in the cache by now) */
        int j = i + 4;
        if (j < n && host[j] && (p[j].flags & DS_PKT_L4) && (p[j].proto == 6 || p[j].proto == 17))
            ds_hosttab_prefetch_port(&s->hosts, host[j], pkey[j],
                                     ds_port_key(p[j].proto == 17, p[j].dport));
        if (s->alerting) { /* the matcher's key of a keyed source: slot 8 ahead, state 4 */
            int k = i + 8;
            if (k < n && host[k] && (host[k]->flags & DS_HF_KEYED))
                ds_matcher_prefetch_slot(&s->matcher, &p[k].src);
            if (j < n && host[j] && (host[j]->flags & DS_HF_KEYED))
                ds_matcher_prefetch_key(&s->matcher, &p[j].src);
        }
        count(s, &p[i], host[i], created[i], pkey[i], h[i]);
    }
    if (s->alerting && n)
        ds_matcher_end(&s->matcher, p[n - 1].ts_ns);
    if (n) {
        dos_report(s, s->sum->last_ts_ns);
        groups_report(s, s->sum->last_ts_ns);
    }
    if (s->cfg->metrics)
        publish(s);
}
