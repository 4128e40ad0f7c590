/* match.c - the packet path's side of alerting: per-shard accumulators per (organisation,
 * address, case), reported to the alert engine when new (at the end of the batch, so a new
 * alert waits for no timer) and then at most every update_ns of packet time. */
#include "alert/match.h"

#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "core/hash.h"

/* One key's state. Written by every packet of the key: the event's first two cache lines and
 * the four fields before it. */
struct ds_match_acc {
    uint64_t minute, minute_packets; /* backscatter rate */
    const char *scan;                /* the source's scan type (a static string) */
    const struct ds_org *org;        /* of the current snapshot (the key's organisation) */
    bool org_darknet;                /* org has darknet ranges (internal is possible) */
    bool reported;                   /* the first report went out */
    bool listed;                     /* in the fresh list (not reported yet) or the wait list */
    struct ds_alert_event ev;        /* what the next report says (changes since the last one) */
};

/* The index: 8 bytes a key, so probing stays in a few cache lines of its own. */
struct ds_match_slot {
    uint32_t tag; /* the key hash's upper half, never 0; 0 marks an empty slot */
    uint32_t idx; /* into acc */
};

#define INITIAL 256

int ds_matcher_init(struct ds_matcher *m, _Atomic(const struct ds_registry *) *reg,
                    const struct ds_alert_sink *sink, uint64_t update_ns)
{
    memset(m, 0, sizeof *m);
    m->reg = reg;
    m->sink = sink;
    m->update_ns = update_ns;
    m->slot = calloc(INITIAL, sizeof *m->slot);
    m->acc = malloc(INITIAL * sizeof *m->acc);
    m->fresh = malloc(INITIAL * sizeof *m->fresh);
    m->wait = malloc(INITIAL * sizeof *m->wait);
    m->mask = INITIAL - 1;
    m->cap = INITIAL;
    if (!m->slot || !m->acc || !m->fresh || !m->wait) {
        ds_matcher_free(m);
        return -ENOMEM;
    }
    m->cur = reg ? atomic_load_explicit(reg, memory_order_acquire) : NULL;
    return 0;
}

void ds_matcher_free(struct ds_matcher *m)
{
    free(m->slot);
    free(m->acc);
    free(m->fresh);
    free(m->wait);
    m->slot = NULL;
    m->acc = NULL;
    m->fresh = m->wait = NULL;
}

/* A snapshot maps an address to one organisation, so the hash is the address's alone: an
 * address's keys (up to one per case) share a probe sequence, and any of them names its
 * organisation. */
static uint64_t key_hash(const struct ds_addr *a)
{
    return ds_hash_addr16(a->b);
}

static uint32_t key_tag(uint64_t h)
{
    return (uint32_t)(h >> 32) | 1u;
}

/* Any key of address a (the first the probe meets); NULL if it has none. */
static const struct ds_match_acc *find_addr(const struct ds_matcher *m, const struct ds_addr *a)
{
    uint64_t h = key_hash(a);
    uint32_t tag = key_tag(h);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        const struct ds_match_slot *s = &m->slot[i];
        if (!s->tag)
            return NULL;
        if (s->tag == tag && ds_addr_eq(&m->acc[s->idx].ev.addr, a))
            return &m->acc[s->idx];
    }
}

void ds_matcher_prefetch_slot(const struct ds_matcher *m, const struct ds_addr *src)
{
    __builtin_prefetch(&m->slot[key_hash(src) & m->mask], 0, 3);
}

void ds_matcher_prefetch_key(const struct ds_matcher *m, const struct ds_addr *src)
{
    uint64_t h = key_hash(src);
    const struct ds_match_slot *s = &m->slot[h & m->mask];
    if (s->tag == key_tag(h)) { /* most likely its key (else the probe finds it later) */
        const char *e = (const char *)&m->acc[s->idx];
        __builtin_prefetch(e, 1, 3);
        __builtin_prefetch(e + 64, 1, 3);
        __builtin_prefetch(e + 128, 1, 3);
    }
}

/* The index slot of a key: its own, or the empty one where it belongs. */
/* (The snapshot gives an address one organisation: address and case identify a key.) */
static struct ds_match_slot *find_slot(struct ds_matcher *m, uint64_t h, const struct ds_addr *a,
                                       enum ds_alert_case c)
{
    uint32_t tag = key_tag(h);
    for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct ds_match_slot *s = &m->slot[i];
        if (!s->tag)
            return s;
        if (s->tag == tag) {
            const struct ds_alert_event *ev = &m->acc[s->idx].ev;
            if (ev->kase == c && ds_addr_eq(&ev->addr, a))
                return s;
        }
    }
}

static void report(struct ds_matcher *m, struct ds_match_acc *e)
{
    if (e->scan) { /* a static string of ds_host_scan_type (longest "horizontal") */
        size_t n = strnlen(e->scan, sizeof e->ev.scan_type - 1);
        memcpy(e->ev.scan_type, e->scan, n);
        e->ev.scan_type[n] = 0;
    }
    if (m->sink && m->sink->post)
        m->sink->post(m->sink->ctx, &e->ev);
    /* the next report carries the changes from here on */
    e->reported = true;
    e->ev.first = false;
    e->ev.packets = e->ev.bytes = 0;
    e->ev.first_ns = e->ev.last_ns = 0;
    e->ev.n_ports = 0;
    e->ev.n_samples = 0;
    e->ev.peak_ppm = 0;
    e->listed = false;
}

/* Reports everything that changed, and forgets all keys (their changes are reported). */
static void report_all_and_forget(struct ds_matcher *m)
{
    for (size_t i = 0; i < m->count; i++)
        if (m->acc[i].ev.packets)
            report(m, &m->acc[i]);
    memset(m->slot, 0, (m->mask + 1) * sizeof *m->slot);
    m->count = 0;
    m->n_fresh = m->n_wait = 0;
}

bool ds_matcher_begin(struct ds_matcher *m)
{
    if (!m->reg)
        return false;
    const struct ds_registry *r = atomic_load_explicit(m->reg, memory_order_acquire);
    if (r == m->cur)
        return false;
    report_all_and_forget(m); /* keys of the old snapshot may name orgs that are gone */
    m->cur = r;
    return true;
}

/* Lists a key with changes: in the fresh list before its first report, else the wait list.
 * Both lists have room for every key (a key is in at most one of them). */
static void list_key(struct ds_matcher *m, struct ds_match_acc *e)
{
    e->listed = true;
    if (e->reported)
        m->wait[m->n_wait++] = (uint32_t)(e - m->acc);
    else
        m->fresh[m->n_fresh++] = (uint32_t)(e - m->acc);
}

/* Room for one more key: the state arrays at count < cap, the index at most 3/4 full. */
static int reserve(struct ds_matcher *m)
{
    if (m->count == m->cap) {
        if (m->cap >= UINT32_MAX / 2)
            return -ENOMEM;
        size_t cap = m->cap * 2;
        struct ds_match_acc *na = realloc(m->acc, cap * sizeof *na);
        if (!na)
            return -ENOMEM;
        m->acc = na;
        uint32_t *nf = realloc(m->fresh, cap * sizeof *nf);
        if (!nf)
            return -ENOMEM;
        m->fresh = nf;
        uint32_t *nw = realloc(m->wait, cap * sizeof *nw);
        if (!nw)
            return -ENOMEM;
        m->wait = nw;
        m->cap = cap; /* only now: every array has the room */
    }
    if ((m->count + 1) * 4 <= (m->mask + 1) * 3)
        return 0;
    size_t n = (m->mask + 1) * 2;
    struct ds_match_slot *ns = calloc(n, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    free(m->slot);
    m->slot = ns;
    m->mask = n - 1;
    for (size_t k = 0; k < m->count; k++) { /* the keys are distinct: no comparisons */
        const struct ds_alert_event *ev = &m->acc[k].ev;
        uint64_t h = key_hash(&ev->addr);
        size_t i = h & m->mask;
        while (ns[i].tag)
            i = (i + 1) & m->mask;
        ns[i] = (struct ds_match_slot){.tag = key_tag(h), .idx = (uint32_t)k};
    }
    return 0;
}

static void add_port(struct ds_alert_event *ev, uint8_t proto, uint16_t port)
{
    for (size_t i = 0; i < ev->n_ports; i++)
        if (ev->ports[i].port == port && ev->ports[i].proto == proto) {
            ev->ports[i].packets++;
            return;
        }
    if (ev->n_ports < DS_ALERT_TOP_PORTS) {
        ev->ports[ev->n_ports++] =
            (struct ds_alert_port){.proto = proto, .port = port, .packets = 1};
        return;
    }
    /* full: the least busy entry gives way and the newcomer starts at 1, so every count is
     * exact since its port entered the list (a lower bound, never more than was sent: a
     * space-saving count + 1 would credit a 1000-port sweep's ports with hundreds each) */
    size_t lo = 0;
    for (size_t i = 1; i < ev->n_ports; i++)
        if (ev->ports[i].packets < ev->ports[lo].packets)
            lo = i;
    ev->ports[lo] = (struct ds_alert_port){.proto = proto, .port = port, .packets = 1};
}

static void update(struct ds_matcher *m, struct ds_match_acc *e, const struct ds_pkt *p,
                   const struct ds_host *src);

/* Adds a packet to its key; false when out of memory (the packet is not reported). */
static bool accumulate(struct ds_matcher *m, const struct ds_org *o, const struct ds_addr *a,
                       enum ds_alert_case c, const struct ds_pkt *p, const struct ds_host *src)
{
    uint64_t h = key_hash(a);
    struct ds_match_slot *s = find_slot(m, h, a, c);
    struct ds_match_acc *e;
    if (s->tag) {
        e = &m->acc[s->idx];
    } else {
        size_t mask = m->mask;
        if (reserve(m) < 0)
            return false;
        if (m->mask != mask)
            s = find_slot(m, h, a, c); /* the index was rebuilt */
        e = &m->acc[m->count];
        memset(e, 0, sizeof *e);
        e->ev.org_id = o->id;
        e->ev.addr = *a;
        e->ev.kase = c;
        e->ev.first = true;
        e->org = o;
        e->org_darknet = o->n_darknet > 0;
        *s = (struct ds_match_slot){.tag = key_tag(h), .idx = (uint32_t)m->count};
        m->count++;
    }
    update(m, e, p, src);
    return true;
}

/* One packet of a key: its counters, ports, samples and rate. */
static void update(struct ds_matcher *m, struct ds_match_acc *e, const struct ds_pkt *p,
                   const struct ds_host *src)
{
    struct ds_alert_event *ev = &e->ev;
    enum ds_alert_case c = ev->kase;
    if (!ev->packets || p->ts_ns < ev->first_ns)
        ev->first_ns = p->ts_ns;
    if (p->ts_ns > ev->last_ns)
        ev->last_ns = p->ts_ns;
    ev->packets++;
    ev->bytes += p->wirelen;
    ev->targets_bits |= 1ull << (ds_mix64(ds_hash_addr16(p->dst.b)) & 63);
    unsigned pi = p->proto == 6    ? 0
                  : p->proto == 17 ? 1
                  : p->proto == 1  ? 2
                  : p->proto == 58 ? 3
                                   : 4;
    ev->protos |= (uint8_t)(1u << pi);
    ev->classes |= p->classes;
    ev->fps |= p->fps;
    if ((p->flags & DS_PKT_L4) && (p->proto == 6 || p->proto == 17))
        add_port(ev, p->proto, c == DS_CASE_BACKSCATTER ? p->sport : p->dport);
    if (src)
        e->scan = ds_host_scan_type(src);
    if (!e->reported && ev->n_samples < DS_ALERT_SAMPLES) {
        ev->samples[ev->n_samples++] = (struct ds_alert_sample){
            .ts_ns = p->ts_ns,
            .src = p->src,
            .dst = p->dst,
            .proto = p->proto,
            .ttl = p->ttl,
            .tcp_flags = p->tcp_flags,
            .sport = p->sport,
            .dport = p->dport,
            .win = p->win,
            .ip_id = p->ip_id,
            .seq = p->seq,
            .icmp_type = p->icmp_type,
            .icmp_code = p->icmp_code,
        };
    }
    if (c == DS_CASE_BACKSCATTER) {
        uint64_t minute = p->ts_ns / 60000000000ull;
        if (minute != e->minute) {
            e->minute = minute;
            e->minute_packets = 0;
        }
        if (++e->minute_packets > ev->peak_ppm)
            ev->peak_ppm = e->minute_packets;
    }
    if (!e->listed)
        list_key(m, e);
    m->matched++;
}

enum ds_match_memo ds_matcher_packet(struct ds_matcher *m, const struct ds_pkt *p,
                                     const struct ds_host *src, enum ds_match_memo memo)
{
    const struct ds_registry *r = m->cur;
    if (!r || !r->n_orgs)
        return DS_MEMO_FREE;
    /* backscatter is a reply from a DoS victim (or a router's error about it, the victim in
     * its quote): the victim's case only */
    bool bs = p->classes & DS_CLASS_BIT(DS_CLASS_BACKSCATTER);
    const struct ds_addr *a = bs ? ds_backscatter_victim(p) : &p->src;
    bool own = !bs || ds_addr_eq(a, &p->src); /* a is the source: the memo is of it */
    const struct ds_org *o = NULL;
    bool dark = false;
    if (own && memo == DS_MEMO_FREE)
        return DS_MEMO_FREE;
    if (!own || memo == DS_MEMO_KEYED) {
        /* a keyed source, or a victim (a few addresses, hit again and again): a key of the
         * address names its organisation, no lookup */
        const struct ds_match_acc *e = find_addr(m, a);
        if (e) {
            o = e->org;
            dark = e->org_darknet;
        }
    }
    if (!o) {
        if (!(o = ds_registry_livenet(r, a)))
            return own ? DS_MEMO_FREE : memo;
        dark = o->n_darknet > 0;
    }
    enum ds_alert_case c = bs                                              ? DS_CASE_BACKSCATTER
                           : dark && ds_registry_in_darknet(r, o, &p->dst) ? DS_CASE_INTERNAL
                                                                           : DS_CASE_EXTERNAL;
    bool ok = accumulate(m, o, a, c, p, bs ? NULL : src);
    return own ? (ok ? DS_MEMO_KEYED : DS_MEMO_NONE) : memo;
}

void ds_matcher_end(struct ds_matcher *m, uint64_t now_ns)
{
    if (!m->n_fresh && !m->n_wait)
        return;
    for (size_t i = 0; i < m->n_fresh; i++)
        report(m, &m->acc[m->fresh[i]]); /* a key's first report never waits */
    m->n_fresh = 0;
    if (now_ns < m->last_flush_ns + m->update_ns)
        return; /* the waiting changes stay listed, and cost nothing until then */
    for (size_t i = 0; i < m->n_wait; i++) {
        if (i + 4 < m->n_wait) { /* the states are scattered: fetch a few ahead */
            const char *e = (const char *)&m->acc[m->wait[i + 4]];
            for (size_t off = 0; off < sizeof(struct ds_match_acc); off += 64)
                __builtin_prefetch(e + off, 1, 3);
        }
        report(m, &m->acc[m->wait[i]]);
    }
    m->n_wait = 0;
    m->last_flush_ns = now_ns;
}

void ds_matcher_flush(struct ds_matcher *m)
{
    for (size_t i = 0; i < m->n_fresh; i++)
        report(m, &m->acc[m->fresh[i]]);
    for (size_t i = 0; i < m->n_wait; i++)
        report(m, &m->acc[m->wait[i]]);
    m->n_fresh = m->n_wait = 0;
}
