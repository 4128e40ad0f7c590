/* campaign.c - reflector-hunting campaigns: amplification probes per (amplifier protocol,
 * source /24 or /48), their sources, reach over the darknet and time span. */
#include "incident/campaign.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "classify/amp.h"
#include "core/hash.h"

#define SOURCES 64 /* sources counted one by one per campaign (the rest: the sketch only) */
#define SWEEP_NS (10ull * 1000000000ull)

struct ds_campaign_state {
    struct ds_prefix block;
    uint16_t port;
    uint8_t payload;
    uint64_t first_ns, last_ns, packets, bytes, research;
    struct ds_campaign_source src[SOURCES];
    size_t n_src;
    struct ds_hll srcs, dsts;
};

void ds_campaign_rec_from(struct ds_campaign_rec *r, const struct ds_pkt *p, bool research)
{
    *r = (struct ds_campaign_rec){.ts_ns = p->ts_ns,
                                  .src = p->src,
                                  .dst = p->dst,
                                  .wirelen = p->wirelen,
                                  .port = p->dport,
                                  .payload = p->payload_class,
                                  .research = research};
}

int ds_campaigns_init(struct ds_campaigns *t, const struct ds_campaign_config *cfg,
                      ds_campaign_emit_fn emit, void *ctx)
{
    memset(t, 0, sizeof *t);
    if (cfg)
        t->cfg = *cfg;
    if (!t->cfg.expiry_s)
        t->cfg.expiry_s = DS_CAMPAIGN_DEFAULT_EXPIRY;
    t->emit = emit;
    t->ctx = ctx;
    t->mask = 63;
    t->tab = calloc(t->mask + 1, sizeof *t->tab);
    return t->tab ? 0 : -ENOMEM;
}

static void state_free(struct ds_campaign_state *c)
{
    ds_hll_free(&c->srcs);
    ds_hll_free(&c->dsts);
    free(c);
}

void ds_campaigns_free(struct ds_campaigns *t)
{
    if (!t->tab)
        return;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->tab[i])
            state_free(t->tab[i]);
    free(t->tab);
    t->tab = NULL;
}

/* The campaign key: the source's block and the amplifier port. */
static void block_of(const struct ds_addr *a, struct ds_prefix *out)
{
    memset(out, 0, sizeof *out);
    out->addr = *a;
    out->len = ds_addr_is_v4(a) ? 96 + 24 : 48;
    for (unsigned i = out->len / 8; i < 16; i++)
        out->addr.b[i] = 0;
}

static uint64_t key_hash(const struct ds_prefix *b, uint16_t port)
{
    return ds_mix64(ds_hash_addr16(b->addr.b) ^ ((uint64_t)port << 8) ^ b->len);
}

static bool same(const struct ds_campaign_state *c, const struct ds_prefix *b, uint16_t port)
{
    return c->port == port && c->block.len == b->len && ds_addr_eq(&c->block.addr, &b->addr);
}

static size_t find(const struct ds_campaigns *t, const struct ds_prefix *b, uint16_t port)
{
    size_t i = key_hash(b, port) & t->mask;
    while (t->tab[i] && !same(t->tab[i], b, port))
        i = (i + 1) & t->mask;
    return i;
}

static int grow(struct ds_campaigns *t)
{
    size_t nmask = t->mask * 2 + 1;
    struct ds_campaign_state **n = calloc(nmask + 1, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->mask; i++) {
        struct ds_campaign_state *c = t->tab[i];
        if (!c)
            continue;
        size_t j = key_hash(&c->block, c->port) & nmask;
        while (n[j])
            j = (j + 1) & nmask;
        n[j] = c;
    }
    free(t->tab);
    t->tab = n;
    t->mask = nmask;
    return 0;
}

static void unlink_slot(struct ds_campaigns *t, size_t i)
{
    t->tab[i] = NULL;
    t->count--;
    for (size_t j = (i + 1) & t->mask; t->tab[j]; j = (j + 1) & t->mask) {
        struct ds_campaign_state *c = t->tab[j];
        size_t home = key_hash(&c->block, c->port) & t->mask;
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            t->tab[i] = c;
            t->tab[j] = NULL;
            i = j;
        }
    }
}

static int cmp_src(const void *a, const void *b)
{
    const struct ds_campaign_source *x = a, *y = b;
    if (x->packets != y->packets)
        return x->packets > y->packets ? -1 : 1;
    return memcmp(x->addr.b, y->addr.b, 16);
}

static int end_campaign(struct ds_campaigns *t, struct ds_campaign_state *s, struct ds_err *err)
{
    t->campaigns++;
    if (!t->emit || t->failed)
        return t->failed;
    const struct ds_amp_proto *ap = ds_amp_by_port(s->port);
    struct ds_campaign c = {
        .protocol = ap ? ap->name : "udp",
        .request = s->payload < DS_PAYLOAD_COUNT ? ds_payload_class_names[s->payload] : "other",
        .port = s->port,
        .block = s->block,
        .first_ns = s->first_ns,
        .last_ns = s->last_ns,
        .packets = s->packets,
        .bytes = s->bytes,
        .sources = ds_hll_estimate(&s->srcs),
        .darknet_addrs = ds_hll_estimate(&s->dsts),
        .research_packets = s->research};
    if (c.sources > s->packets)
        c.sources = s->packets;
    if (c.darknet_addrs > s->packets)
        c.darknet_addrs = s->packets;
    qsort(s->src, s->n_src, sizeof *s->src, cmp_src);
    c.n_top = s->n_src < DS_CAMPAIGN_TOP_SOURCES ? s->n_src : DS_CAMPAIGN_TOP_SOURCES;
    memcpy(c.top, s->src, c.n_top * sizeof *c.top);
    if (ds_prefix_is_v4(&s->block) && t->cfg.monitored_v4)
        c.coverage = (double)c.darknet_addrs / (double)t->cfg.monitored_v4;
    int rc = t->emit(t->ctx, &c, err);
    if (rc < 0)
        t->failed = rc;
    return rc;
}

static void count(struct ds_campaign_state *s, const struct ds_campaign_rec *r)
{
    if (r->ts_ns < s->first_ns)
        s->first_ns = r->ts_ns;
    if (r->ts_ns > s->last_ns)
        s->last_ns = r->ts_ns;
    s->packets++;
    s->bytes += r->wirelen;
    if (r->research)
        s->research++;
    if (s->payload != r->payload && r->payload > s->payload)
        s->payload = r->payload; /* mixed requests: the recognised (non-"other") one wins */
    size_t i = 0;
    while (i < s->n_src && !ds_addr_eq(&s->src[i].addr, &r->src))
        i++;
    if (i < s->n_src)
        s->src[i].packets++;
    else if (s->n_src < SOURCES)
        s->src[s->n_src++] = (struct ds_campaign_source){.addr = r->src, .packets = 1};
    (void)ds_hll_add(&s->srcs, ds_hash_addr16(r->src.b));
    (void)ds_hll_add(&s->dsts, ds_hash_addr16(r->dst.b));
}

static void start(struct ds_campaign_state *s, const struct ds_prefix *b,
                  const struct ds_campaign_rec *r)
{
    ds_hll_free(&s->srcs);
    ds_hll_free(&s->dsts);
    memset(s, 0, sizeof *s);
    s->block = *b;
    s->port = r->port;
    s->payload = r->payload;
    s->first_ns = s->last_ns = r->ts_ns;
    ds_hll_init(&s->srcs);
    ds_hll_init(&s->dsts);
}

int ds_campaigns_add(struct ds_campaigns *t, const struct ds_campaign_rec *r, size_t n,
                     struct ds_err *err)
{
    uint64_t quiet = t->cfg.expiry_s * 1000000000ull;
    for (size_t k = 0; k < n; k++) {
        const struct ds_campaign_rec *x = &r[k];
        struct ds_prefix b;
        block_of(&x->src, &b);
        t->records++;
        size_t i = find(t, &b, x->port);
        struct ds_campaign_state *s = t->tab[i];
        if (s && x->ts_ns > s->last_ns && x->ts_ns - s->last_ns > quiet) {
            int rc = end_campaign(t, s, err);
            if (rc < 0)
                return rc;
            start(s, &b, x);
        } else if (!s) {
            if ((t->count + 1) * 4 > (t->mask + 1) * 3) {
                if (grow(t) < 0)
                    return ds_err_set(err, -ENOMEM, "out of memory tracking campaigns");
                i = find(t, &b, x->port);
            }
            if (!(s = calloc(1, sizeof *s)))
                return ds_err_set(err, -ENOMEM, "out of memory tracking campaigns");
            start(s, &b, x);
            t->tab[i] = s;
            t->count++;
        }
        count(s, x);
    }
    return t->failed;
}

int ds_campaigns_advance(struct ds_campaigns *t, uint64_t now_ns, struct ds_err *err)
{
    if (now_ns > t->now_ns)
        t->now_ns = now_ns;
    if (t->now_ns < t->next_sweep_ns)
        return t->failed;
    uint64_t quiet = t->cfg.expiry_s * 1000000000ull;
    int rc = 0;
    for (size_t i = 0; i <= t->mask;) {
        struct ds_campaign_state *s = t->tab[i];
        if (s && t->now_ns > s->last_ns && t->now_ns - s->last_ns > quiet) {
            int r = end_campaign(t, s, err);
            if (r < 0 && !rc)
                rc = r;
            unlink_slot(t, i);
            state_free(s);
            continue;
        }
        i++;
    }
    t->next_sweep_ns = t->now_ns + SWEEP_NS;
    return rc;
}

int ds_campaigns_finish(struct ds_campaigns *t, struct ds_err *err)
{
    int rc = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        struct ds_campaign_state *s = t->tab[i];
        if (!s)
            continue;
        int r = end_campaign(t, s, err);
        if (r < 0 && !rc)
            rc = r;
        state_free(s);
        t->tab[i] = NULL;
    }
    t->count = 0;
    return rc;
}
