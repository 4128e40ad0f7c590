/* pop_udp.c - UDP visitors: reflector-hunting campaigns sending real amplification requests
 * (one truth record per campaign), and ordinary UDP service probes. */
#include "gen/pop.h"

#include <math.h>

#define AMP_LO 2e3 /* per source, packets per second to the whole IPv4 space */
#define AMP_HI 2e5
#define UDP_LO 1e3
#define UDP_HI 1e5

static const struct ds_gen_udp_probe *pick_probe(struct ds_rng *r,
                                                 const struct ds_gen_udp_probe *table)
{
    size_t n = ds_gen_probe_count(table);
    double w[32];
    for (size_t i = 0; i < n && i < 32; i++)
        w[i] = table[i].weight;
    return &table[ds_rng_weighted(r, w, (unsigned)(n < 32 ? n : 32))];
}

static int amp_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    static const uint8_t sizes[] = {1, 2, 3, 4, 6, 8};
    static const double size_w[] = {5, 2, 1, 1, 1, 0.5};
    a->u.udp.probe = pick_probe(r, ds_gen_amp_probes);
    a->u.udp.nsrc = sizes[ds_rng_weighted(r, size_w, 6)];
    a->u.udp.block = a->u.udp.nsrc > 1 && ds_rng_chance(r, 0.5) ? ds_gen_random_block24(g) : 0;
    a->u.udp.style = ds_rng_chance(r, 0.3); /* 1: ZMap's UDP module (IP ID 54321, TTL 255) */
    a->u.udp.sport = (uint16_t)ds_rng_range(r, 1024, 65535);
    double per_src = ds_rng_logu(r, AMP_LO, AMP_HI);
    a->rate = per_src * a->u.udp.nsrc * g->share4;
    int c = ds_truth_add_campaign(&g->truth);
    if (c < 0)
        return ds_err_set(g->err, c, "out of memory");
    struct ds_truth_campaign *tc = &g->truth.campaigns[c];
    tc->probe = a->u.udp.probe->name;
    tc->protocol = a->u.udp.probe->proto;
    tc->port = a->u.udp.probe->port;
    tc->nsrc = a->u.udp.nsrc;
    tc->start_ns = a->start_ns;
    tc->end_ns = a->end_ns;
    tc->rate_pps = per_src;
    a->aux = c;
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int udp_send(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint32_t src,
                    const struct ds_gen_udp_probe *p, bool zmap_style, uint16_t sport)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    uint8_t buf[512];
    size_t len = ds_gen_probe_fill(p, r, buf, sizeof buf);
    struct ds_craft c = {.src = *ds_gen_src_addr(g, src),
                         .ttl = (uint8_t)((zmap_style ? 255 : 64) - a->hops),
                         .ip_id = zmap_style ? 54321 : ds_rng_u16(r),
                         .proto = 17,
                         .sport = sport,
                         .dport = p->port,
                         .payload = buf,
                         .payload_len = len};
    ds_addr_set_v4(&c.dst, ds_gen_dst4(g, r));
    struct ds_gen_meta m = ds_gen_meta_plain(src);
    m.amp = p->amp;
    m.campaign = a->aux;
    return ds_gen_emit(g, t, &c, &m);
}

static int amp_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    struct ds_truth_campaign *tc = &g->truth.campaigns[a->aux];
    unsigned k = (unsigned)ds_rng_below(r, a->u.udp.nsrc);
    if (tc->src[k] == UINT32_MAX) {
        uint32_t id;
        int rc = a->u.udp.block ? ds_gen_alloc_in4(g, a->pop, a->u.udp.block, 24, &id)
                                : ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V4, -1, &id);
        if (rc < 0)
            return rc;
        tc = &g->truth.campaigns[a->aux];
        tc->src[k] = id;
        if (a->src == DS_GEN_NOSRC)
            a->src = id;
    }
    *next = ds_gen_after(r, t, a->rate);
    return udp_send(g, a, t, tc->src[k], a->u.udp.probe, a->u.udp.style,
                    (uint16_t)(a->u.udp.sport + k));
}

static double amp_expect(const struct ds_gen *g)
{
    double per_src = (AMP_HI - AMP_LO) / log(AMP_HI / AMP_LO);
    return per_src * 2.3 * g->share4 *
           ds_gen_expect_active_s(&ds_pop_amp, (double)(g->t1 - g->t0) / 1e9);
}

static int udp_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    a->u.udp.probe = pick_probe(r, ds_gen_plain_probes);
    a->u.udp.sport = (uint16_t)ds_rng_range(r, 1024, 65535);
    a->rate = ds_rng_logu(r, UDP_LO, UDP_HI) * g->share4;
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int udp_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    if (a->src == DS_GEN_NOSRC) {
        int rc = ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V4, -1, &a->src);
        if (rc < 0)
            return rc;
    }
    *next = ds_gen_after(r, t, a->rate);
    return udp_send(g, a, t, a->src, a->u.udp.probe, false, a->u.udp.sport);
}

static double udp_expect(const struct ds_gen *g)
{
    return (UDP_HI - UDP_LO) / log(UDP_HI / UDP_LO) * g->share4 *
           ds_gen_expect_active_s(&ds_pop_udp, (double)(g->t1 - g->t0) / 1e9);
}

const struct ds_gen_pop ds_pop_amp = {
    .name = "amp",
    .option = "campaigns",
    .description = "reflector-hunting campaigns: DNS ANY, NTP monlist, SSDP, memcached, CLDAP...",
    .size = {[DS_GEN_PROFILE_DEMO] = 12, [DS_GEN_PROFILE_BENCH] = 80, [DS_GEN_PROFILE_TINY] = 10},
    .scalable = true,
    .present = 0.3,
    .mean_life_s = 2 * 3600,
    .start = amp_start,
    .step = amp_step,
    .expect = amp_expect,
};

const struct ds_gen_pop ds_pop_udp = {
    .name = "udp",
    .option = "udp",
    .description = "ordinary UDP probes that are not amplification requests (SIP, DNS A, NTP...)",
    .size = {[DS_GEN_PROFILE_DEMO] = 20, [DS_GEN_PROFILE_BENCH] = 200, [DS_GEN_PROFILE_TINY] = 15},
    .scalable = true,
    .present = 0.6,
    .mean_life_s = 2 * 3600,
    .start = udp_start,
    .step = udp_step,
    .expect = udp_expect,
};
