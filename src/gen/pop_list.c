/* pop_list.c - scanners that work through a finite list of (address, port) probes aimed at
 * the darknet: nmap (vertical SYN scans, with retries) and unicornscan (sessions whose
 * sequence numbers share one constant). */
#include "gen/pop.h"

#include "classify/fingerprint.h"
#include "gen/rules.h"
#include "gen/synscan.h"

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Starts a new probe list of ntargets consecutive darknet addresses x the actor's ports, in
 * a random order (an affine permutation, as scanners randomise their order). */
static void list_begin(struct ds_gen *g, struct ds_gen_actor *a, struct ds_rng *r,
                       uint32_t ntargets)
{
    if (ntargets > g->d4)
        ntargets = (uint32_t)g->d4;
    a->u.list.ntargets = ntargets;
    a->u.list.base = (uint32_t)ds_rng_below(r, g->d4);
    uint64_t n = (uint64_t)ntargets * a->u.list.nports;
    a->u.list.n = n;
    a->u.list.i = 0;
    uint64_t step = 1;
    if (n > 2)
        do
            step = ds_rng_range(r, 1, n - 1);
        while (gcd64(step, n) != 1);
    a->u.list.step = step;
    a->u.list.off = ds_rng_below(r, n);
}

/* The k-th probe's destination and port. */
static void list_item(const struct ds_gen *g, const struct ds_gen_actor *a, uint64_t k,
                      uint32_t *dst, uint16_t *port)
{
    uint64_t idx = (k * a->u.list.step + a->u.list.off) % a->u.list.n;
    uint64_t target = idx / a->u.list.nports;
    uint32_t pi = (uint32_t)(idx % a->u.list.nports);
    *dst = ds_gen_dst4_at(g, (a->u.list.base + target) % g->d4);
    *port = a->u.list.ports ? a->u.list.ports[pi] : (uint16_t)(a->u.list.port_base + pi);
}

static int ensure_src(struct ds_gen *g, struct ds_gen_actor *a)
{
    if (a->src != DS_GEN_NOSRC)
        return 0;
    return ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V4, -1, &a->src);
}

/* ---- nmap ---- */

static int nmap_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    static const double tw[] = {5, 2, 1, 1};
    uint32_t ntargets = ds_rng_weighted(r, tw, 4) + 1;
    unsigned how = (unsigned)ds_rng_below(r, 20);
    if (how < 10) { /* default scan: the top 100 ports */
        a->u.list.ports = ds_ports_nmap_top;
        a->u.list.nports = ds_ports_nmap_top_n;
    } else if (how < 17) { /* -p1-1024 */
        a->u.list.ports = NULL;
        a->u.list.port_base = 1;
        a->u.list.nports = 1024;
    } else { /* --top-ports 20 */
        a->u.list.ports = ds_ports_nmap_top;
        a->u.list.nports = 20;
    }
    list_begin(g, a, r, ntargets);
    a->u.list.passes = ds_rng_chance(r, 0.7) ? 2 : 1; /* a darknet never answers: retries */
    a->u.list.sport = (uint16_t)ds_rng_range(r, 32768, 60998);
    a->rate = ds_rng_logu(r, 50, 2000); /* aimed at these addresses: not scaled by share */
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int nmap_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    int rc = ensure_src(g, a);
    if (rc < 0)
        return rc;
    uint32_t dst;
    uint16_t port;
    list_item(g, a, a->u.list.i, &dst, &port);
    /* Nmap: window 1024, MSS as the only option, a random TTL 37..59 per probe, the source
     * port moves with the try number, a new sequence number per probe. */
    struct ds_craft c = {.src = *ds_gen_src_addr(g, a->src),
                         .proto = 6,
                         .sport = (uint16_t)(a->u.list.sport + a->u.list.pass),
                         .dport = port,
                         .tcp_flags = 0x02,
                         .win = 1024,
                         .tcp_opts = ds_opts_mss1460,
                         .tcp_opts_len = sizeof ds_opts_mss1460};
    ds_addr_set_v4(&c.dst, dst);
    do {
        c.ttl = (uint8_t)(ds_rng_range(r, 37, 59) - a->hops);
        c.ip_id = ds_rng_u16(r);
        c.seq = ds_rng_u32(r);
    } while (ds_rules_fps(&c) != DS_FP_BIT(DS_FP_NMAP) ||
             !ds_gen_key_fresh(g, a->src, dst, port, c.sport, c.seq));
    struct ds_gen_meta m = ds_gen_meta_plain(a->src);
    m.fps = DS_FP_BIT(DS_FP_NMAP);
    if (++a->u.list.i == a->u.list.n) {
        a->u.list.i = 0;
        a->u.list.pass++;
    }
    *next = a->u.list.pass >= a->u.list.passes ? DS_GEN_NEVER : ds_gen_after(r, t, a->rate);
    return ds_gen_emit(g, t, &c, &m);
}

static double nmap_expect(const struct ds_gen *g)
{
    /* mean targets 16/9, mean ports 0.5*100 + 0.35*1024 + 0.15*20, mean passes 1.7 */
    double probes = 16.0 / 9 * (50 + 358.4 + 3) * 1.7;
    return g->d4 ? probes : 0;
}

/* ---- unicornscan ---- */

static void unicorn_session(struct ds_gen *g, struct ds_gen_actor *a, struct ds_rng *r)
{
    uint32_t old = a->u.list.key;
    do
        a->u.list.key = ds_rng_u32(r);
    while (a->u.list.key == old);
    uint32_t ntargets;
    if (ds_rng_chance(r, 0.6)) { /* horizontal: a few ports over a block of addresses */
        static const uint32_t sizes[] = {16, 64, 256};
        ntargets = sizes[ds_rng_below(r, 3)];
        uint32_t np = (uint32_t)ds_rng_range(r, 1, 3);
        uint32_t off = (uint32_t)ds_rng_below(r, ds_ports_popular_n - np);
        a->u.list.ports = ds_ports_popular + off;
        a->u.list.nports = np;
    } else { /* vertical: one address, many ports */
        ntargets = 1;
        if (ds_rng_chance(r, 0.5)) {
            a->u.list.ports = NULL;
            a->u.list.port_base = 1;
            a->u.list.nports = 1024;
        } else {
            a->u.list.ports = ds_ports_popular;
            a->u.list.nports = ds_ports_popular_n;
        }
    }
    list_begin(g, a, r, ntargets);
    if (a->u.list.n < 2) { /* a one-probe session cannot show the constant */
        a->u.list.ports = ds_ports_popular;
        a->u.list.nports = 2;
        list_begin(g, a, r, ntargets);
    }
    a->u.list.in_session = 0;
}

static int unicorn_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    a->u.list.sessions = (uint8_t)ds_rng_below(r, 3); /* further sessions after the first */
    a->u.list.key = 0;
    unicorn_session(g, a, r);
    a->rate = ds_rng_logu(r, 100, 1000);
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int unicorn_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    int rc = ensure_src(g, a);
    if (rc < 0)
        return rc;
    uint32_t dst;
    uint16_t port;
    for (;;) {
        list_item(g, a, a->u.list.i++, &dst, &port);
        /* the rule tells retransmissions by a 32-bit tag of (dst, port): skip the (rare)
         * probe whose tag equals the previous one's, so every probe counts */
        if (!a->u.list.in_session ||
            ds_rules_unicorn_target(dst, port) !=
                ds_rules_unicorn_target(a->u.list.prev_dst, a->u.list.prev_port))
            break;
        if (a->u.list.i == a->u.list.n) {
            *next = DS_GEN_NEVER;
            return 0;
        }
    }
    /* Unicornscan: seq = K ^ dst ^ ((dport << 16) + sport) with a random source port;
     * re-draw the source port and IP ID if the packet would also look like Mirai or
     * Masscan. */
    struct ds_craft c = {.src = *ds_gen_src_addr(g, a->src),
                         .ttl = (uint8_t)(64 - a->hops),
                         .proto = 6,
                         .dport = port,
                         .tcp_flags = 0x02,
                         .win = 4096};
    ds_addr_set_v4(&c.dst, dst);
    do {
        c.sport = (uint16_t)ds_rng_range(r, 1024, 65535);
        c.seq = a->u.list.key ^ dst ^ (((uint32_t)port << 16) + c.sport);
        c.ip_id = ds_rng_u16(r);
    } while (ds_rules_fps(&c) != 0);
    struct ds_gen_meta m = ds_gen_meta_plain(a->src);
    /* by construction: the first probe of a session sets the constant, the second confirms
     * it (counting both), every later one counts once */
    m.unicorn = a->u.list.in_session == 0 ? 0 : a->u.list.in_session == 1 ? 2 : 1;
    a->u.list.in_session++;
    a->u.list.prev_dst = dst;
    a->u.list.prev_port = port;
    if (a->u.list.i < a->u.list.n) {
        *next = ds_gen_after(r, t, a->rate);
    } else if (a->u.list.sessions) {
        a->u.list.sessions--;
        unicorn_session(g, a, r);
        *next = t + (uint64_t)(ds_rng_logu(r, 60, 1800) * 1e9);
    } else {
        *next = DS_GEN_NEVER;
    }
    return ds_gen_emit(g, t, &c, &m);
}

static double unicorn_expect(const struct ds_gen *g)
{
    return g->d4 ? 2 * (0.6 * 112 * 2 + 0.4 * (512 + 30)) : 0;
}

const struct ds_gen_pop ds_pop_nmap = {
    .name = "nmap",
    .option = "nmap",
    .description = "nmap SYN scans of a few darknet addresses (window 1024, MSS only, TTL 37-59)",
    .size = {[DS_GEN_PROFILE_DEMO] = 3, [DS_GEN_PROFILE_BENCH] = 20, [DS_GEN_PROFILE_TINY] = 2},
    .scalable = true,
    .present = 0,
    .start = nmap_start,
    .step = nmap_step,
    .expect = nmap_expect,
};

const struct ds_gen_pop ds_pop_unicornscan = {
    .name = "unicornscan",
    .option = "unicorn",
    .description = "unicornscan sessions (seq ^ dst ^ ((dport << 16) + sport) constant)",
    .size = {[DS_GEN_PROFILE_DEMO] = 3, [DS_GEN_PROFILE_BENCH] = 20, [DS_GEN_PROFILE_TINY] = 2},
    .scalable = true,
    .present = 0,
    .start = unicorn_start,
    .step = unicorn_step,
    .expect = unicorn_expect,
};
