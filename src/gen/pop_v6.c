/* pop_v6.c - IPv6 scanning of the IPv6 darknet: TCP SYNs through Linux stacks and ICMPv6
 * echo requests, from ordinary and research (published-prefix) sources. */
#include "gen/pop.h"

#include "gen/research.h"

static const uint16_t v6_ports[] = {22, 80, 443, 23, 8080, 3389, 21, 25};
static const double v6_w[] = {6, 5, 5, 3, 2, 2, 1, 1};

enum { V6_SYN = 0, V6_ECHO = 1 };

#define V6_LO 0.002 /* darknet packets per second: v6 scanners hit chosen addresses */
#define V6_HI 0.1

static int v6_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    a->kind = ds_rng_chance(r, 0.65) ? V6_SYN : V6_ECHO;
    a->u.tool.style = 0xff; /* not research */
    if (ds_rng_chance(r, 0.2)) {
        unsigned cand[16], n = 0;
        for (unsigned i = 0; ds_research_orgs[i].name && n < 16; i++)
            if (ds_research_orgs[i].v6[0])
                cand[n++] = i;
        if (n)
            a->u.tool.style = (uint8_t)cand[ds_rng_below(r, n)];
    }
    a->u.tool.sport = (uint16_t)ds_rng_range(r, 32768, 60999);
    a->u.tool.left = (uint16_t)ds_rng_below(r, 1000); /* ICMPv6 sequence */
    a->rate = ds_rng_logu(r, V6_LO, V6_HI);
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int v6_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    if (a->src == DS_GEN_NOSRC) {
        int rc = a->u.tool.style != 0xff
                     ? ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_RESEARCH6, a->u.tool.style, &a->src)
                     : ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V6, -1, &a->src);
        if (rc < 0)
            return rc;
    }
    uint8_t opts[sizeof ds_opts_linux], pl[16];
    struct ds_craft c = {.src = *ds_gen_src_addr(g, a->src), .ttl = (uint8_t)(64 - a->hops)};
    ds_gen_dst6(g, r, &c.dst);
    if (a->kind == V6_SYN) {
        memcpy(opts, ds_opts_linux, sizeof opts);
        opts[2] = 0x05; /* MSS 1440 over IPv6 */
        opts[3] = 0xa0;
        uint32_t ts = (uint32_t)(t / 1000000u);
        opts[8] = (uint8_t)(ts >> 24);
        opts[9] = (uint8_t)(ts >> 16);
        opts[10] = (uint8_t)(ts >> 8);
        opts[11] = (uint8_t)ts;
        c.proto = 6;
        c.sport = (uint16_t)(a->u.tool.sport + ds_rng_below(r, 64));
        c.dport = v6_ports[ds_rng_weighted(r, v6_w, 8)];
        c.seq = ds_rng_u32(r);
        c.tcp_flags = 0x02;
        c.win = 64800;
        c.tcp_opts = opts;
        c.tcp_opts_len = sizeof opts;
    } else {
        for (size_t i = 0; i < sizeof pl; i++)
            pl[i] = (uint8_t)ds_rng_u32(r);
        c.proto = 58;
        c.icmp_type = 128;
        c.icmp_rest = (uint32_t)a->u.tool.sport << 16 | a->u.tool.left++;
        c.payload = pl;
        c.payload_len = sizeof pl;
    }
    *next = ds_gen_after(r, t, a->rate);
    struct ds_gen_meta m = ds_gen_meta_plain(a->src);
    return ds_gen_emit(g, t, &c, &m);
}

static double v6_expect(const struct ds_gen *g)
{
    return g->dn.n_v6 ? (V6_HI - V6_LO) / 3.912023005428146 * /* ln 50 */
                            ds_gen_expect_active_s(&ds_pop_v6, (double)(g->t1 - g->t0) / 1e9)
                      : 0;
}

const struct ds_gen_pop ds_pop_v6 = {
    .name = "ipv6",
    .option = "v6-scanners",
    .description = "IPv6 scanners: TCP SYN and ICMPv6 echo to the IPv6 darknet",
    .size = {[DS_GEN_PROFILE_DEMO] = 40, [DS_GEN_PROFILE_BENCH] = 0, [DS_GEN_PROFILE_TINY] = 30},
    .v6 = true,
    .scalable = true,
    .present = 0.6,
    .mean_life_s = 2 * 3600,
    .start = v6_start,
    .step = v6_step,
    .expect = v6_expect,
};
