/* match.c - the packet path's side of alerting: per-shard accumulators per (organisation,
 * address, case), reported to the alert engine when new (at the end of the batch, so a new
 * alert waits for no timer) and then at most every update_ns of packet time. */
#include "alert/match.h"

#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "core/hash.h"

struct ds_match_acc {
    uint64_t h;                      /* 0 marks an empty slot */
    struct ds_alert_event ev;        /* what the next report says (changes since the last one) */
    uint64_t minute, minute_packets; /* backscatter rate */
    bool reported;                   /* the first report went out */
    bool listed;                     /* in the fresh list (not reported yet) or the wait list */
};

#define INITIAL 256

int ds_matcher_init(struct ds_matcher *m, _Atomic(const struct ds_registry *) *reg,
                    const struct ds_alert_sink *sink, uint64_t update_ns)
{
    memset(m, 0, sizeof *m);
    m->reg = reg;
    m->sink = sink;
    m->update_ns = update_ns;
    m->tab = calloc(INITIAL, sizeof *m->tab);
    m->mask = INITIAL - 1;
    if (!m->tab)
        return -ENOMEM;
    m->cur = reg ? atomic_load_explicit(reg, memory_order_acquire) : NULL;
    return 0;
}

void ds_matcher_free(struct ds_matcher *m)
{
    free(m->tab);
    free(m->fresh);
    free(m->wait);
    m->tab = NULL;
    m->fresh = m->wait = NULL;
}

static uint64_t key_hash(int64_t org, const struct ds_addr *a, enum ds_alert_case c)
{
    uint64_t h = ds_hash_addr16(a->b) ^ ds_mix64((uint64_t)org * 4 + (uint64_t)c);
    return h ? h : 1;
}

static struct ds_match_acc *slot(struct ds_match_acc *tab, size_t mask, uint64_t h, int64_t org,
                                 const struct ds_addr *a, enum ds_alert_case c)
{
    size_t i = h & mask;
    for (;;) {
        struct ds_match_acc *e = &tab[i];
        if (!e->h ||
            (e->h == h && e->ev.org_id == org && e->ev.kase == c && ds_addr_eq(&e->ev.addr, a)))
            return e;
        i = (i + 1) & mask;
    }
}

static void report(struct ds_matcher *m, struct ds_match_acc *e)
{
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
    for (size_t i = 0; i <= m->mask; i++)
        if (m->tab[i].h && m->tab[i].ev.packets)
            report(m, &m->tab[i]);
    memset(m->tab, 0, (m->mask + 1) * sizeof *m->tab);
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

/* Lists a slot with changes: in the fresh list before its first report, else the wait list. */
static void list_slot(struct ds_matcher *m, struct ds_match_acc *e)
{
    e->listed = true;
    if (e->reported)
        m->wait[m->n_wait++] = (uint32_t)(e - m->tab);
    else
        m->fresh[m->n_fresh++] = (uint32_t)(e - m->tab);
}

static int grow(struct ds_matcher *m)
{
    size_t cap = (m->mask + 1) * 2;
    struct ds_match_acc *n = calloc(cap, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= m->mask; i++) {
        struct ds_match_acc *e = &m->tab[i];
        if (e->h)
            *slot(n, cap - 1, e->h, e->ev.org_id, &e->ev.addr, e->ev.kase) = *e;
    }
    free(m->tab);
    m->tab = n;
    m->mask = cap - 1;
    /* the slots moved: list the pending ones again */
    m->n_fresh = m->n_wait = 0;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->tab[i].h && m->tab[i].listed)
            list_slot(m, &m->tab[i]);
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

static void accumulate(struct ds_matcher *m, const struct ds_org *o, const struct ds_addr *a,
                       enum ds_alert_case c, const struct ds_pkt *p, const struct ds_host *src)
{
    if (m->cap_list < m->mask + 1) { /* room to list every slot (in one list or the other) */
        size_t cap = (m->mask + 1) * 2;
        uint32_t *nf = realloc(m->fresh, cap * sizeof *nf);
        if (nf)
            m->fresh = nf;
        uint32_t *nw = nf ? realloc(m->wait, cap * sizeof *nw) : NULL;
        if (!nw)
            return;
        m->wait = nw;
        m->cap_list = cap;
    }
    if ((m->count + 1) * 4 > (m->mask + 1) * 3 && grow(m) < 0)
        return;
    uint64_t h = key_hash(o->id, a, c);
    struct ds_match_acc *e = slot(m->tab, m->mask, h, o->id, a, c);
    if (!e->h) {
        memset(e, 0, sizeof *e);
        e->h = h;
        e->ev.org_id = o->id;
        e->ev.addr = *a;
        e->ev.kase = c;
        e->ev.first = true;
        m->count++;
    }
    struct ds_alert_event *ev = &e->ev;
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
        strncpy(ev->scan_type, ds_host_scan_type(src), sizeof ev->scan_type - 1);
    if (!e->reported || ev->n_samples < DS_ALERT_SAMPLES) {
        if (ev->n_samples < DS_ALERT_SAMPLES && !e->reported)
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
        list_slot(m, e);
    m->matched++;
}

bool ds_matcher_packet(struct ds_matcher *m, const struct ds_pkt *p, const struct ds_host *src,
                       bool src_free)
{
    const struct ds_registry *r = m->cur;
    if (!r || !r->n_orgs)
        return true;
    if (p->classes & DS_CLASS_BIT(DS_CLASS_BACKSCATTER)) {
        /* a reply from a DoS victim (or a router's error about it): the victim's case only */
        const struct ds_addr *v = ds_backscatter_victim(p);
        bool own = ds_addr_eq(v, &p->src);
        if (own && src_free)
            return true;
        const struct ds_org *o = ds_registry_livenet(r, v);
        if (!o)
            return own;
        accumulate(m, o, v, DS_CASE_BACKSCATTER, p, NULL);
        return false;
    }
    if (src_free)
        return true;
    const struct ds_org *o = ds_registry_livenet(r, &p->src);
    if (!o)
        return true;
    accumulate(m, o, &p->src,
               ds_registry_in_darknet(r, o, &p->dst) ? DS_CASE_INTERNAL : DS_CASE_EXTERNAL, p, src);
    return false;
}

void ds_matcher_end(struct ds_matcher *m, uint64_t now_ns)
{
    if (!m->n_fresh && !m->n_wait)
        return;
    for (size_t i = 0; i < m->n_fresh; i++)
        report(m, &m->tab[m->fresh[i]]); /* a key's first report never waits */
    m->n_fresh = 0;
    if (now_ns < m->last_flush_ns + m->update_ns)
        return; /* the waiting changes stay listed, and cost nothing until then */
    for (size_t i = 0; i < m->n_wait; i++)
        report(m, &m->tab[m->wait[i]]);
    m->n_wait = 0;
    m->last_flush_ns = now_ns;
}

void ds_matcher_flush(struct ds_matcher *m)
{
    for (size_t i = 0; i < m->n_fresh; i++)
        report(m, &m->tab[m->fresh[i]]);
    for (size_t i = 0; i < m->n_wait; i++)
        report(m, &m->tab[m->wait[i]]);
    m->n_fresh = m->n_wait = 0;
}
