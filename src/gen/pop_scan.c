/* pop_scan.c - Internet-wide SYN scanners run by unknown parties: ZMap and Masscan. */
#include "gen/pop.h"

#include <math.h>

#include "gen/synscan.h"

/* Mean of a log-uniform variate on [lo, hi]. */
static double logu_mean(double lo, double hi)
{
    return (hi - lo) / log(hi / lo);
}

#define ZMAP_LO 10e3
#define ZMAP_HI 1e6
#define MASSCAN_LO 20e3
#define MASSCAN_HI 2e6

static int zmap_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    static const double w[] = {60, 25, 15};
    static const enum ds_syn_tool tools[] = {DS_SYN_ZMAP, DS_SYN_ZMAP_MSS, DS_SYN_ZMAP41};
    a->kind = (uint8_t)tools[ds_rng_weighted(r, w, 3)];
    a->rate = ds_rng_logu(r, ZMAP_LO, ZMAP_HI) * g->share4;
    /* ZMap scans one port per run */
    a->u.tool.ports = &ds_ports_popular[ds_pick_skewed(r, ds_ports_popular_n)];
    a->u.tool.nports = 1;
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int masscan_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    a->kind = (uint8_t)(ds_rng_chance(r, 0.7) ? DS_SYN_MASSCAN : DS_SYN_MASSCAN_NEW);
    a->rate = ds_rng_logu(r, MASSCAN_LO, MASSCAN_HI) * g->share4;
    a->u.tool.sport = (uint16_t)ds_rng_range(r, 40000, 60000);
    unsigned how = (unsigned)ds_rng_below(r, 10);
    if (how < 4) { /* one port */
        a->u.tool.ports = &ds_ports_popular[ds_pick_skewed(r, ds_ports_popular_n)];
        a->u.tool.nports = 1;
    } else if (how < 8) { /* a list of popular ports */
        a->u.tool.ports = ds_ports_popular;
        a->u.tool.nports = (uint32_t)ds_rng_range(r, 5, ds_ports_popular_n);
    } else { /* -p0-65535 */
        a->u.tool.ports = NULL;
        a->u.tool.nports = 65536;
    }
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int scan_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    if (a->src == DS_GEN_NOSRC) {
        int rc = ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V4, -1, &a->src);
        if (rc < 0)
            return rc;
    }
    uint32_t dst = ds_gen_dst4(g, r);
    uint16_t port = ds_pick_port(r, a->u.tool.ports, a->u.tool.nports, 0);
    *next = ds_gen_after(r, t, a->rate);
    return ds_syn_tool_send(g, a, t, (enum ds_syn_tool)a->kind, dst, port, a->u.tool.sport);
}

static double zmap_expect(const struct ds_gen *g)
{
    return logu_mean(ZMAP_LO, ZMAP_HI) * g->share4 *
           ds_gen_expect_active_s(&ds_pop_zmap, (double)(g->t1 - g->t0) / 1e9);
}

static double masscan_expect(const struct ds_gen *g)
{
    return logu_mean(MASSCAN_LO, MASSCAN_HI) * g->share4 *
           ds_gen_expect_active_s(&ds_pop_masscan, (double)(g->t1 - g->t0) / 1e9);
}

const struct ds_gen_pop ds_pop_zmap = {
    .name = "zmap",
    .option = "zmap",
    .description = "ZMap scanners (IP ID 54321, TTL 255, window 65535; v3 MSS; v4.1 unmarked)",
    .size = {[DS_GEN_PROFILE_DEMO] = 30, [DS_GEN_PROFILE_BENCH] = 100, [DS_GEN_PROFILE_TINY] = 20},
    .scalable = true,
    .present = 0.5,
    .mean_life_s = 3 * 3600,
    .start = zmap_start,
    .step = scan_step,
    .expect = zmap_expect,
};

const struct ds_gen_pop ds_pop_masscan = {
    .name = "masscan",
    .option = "masscan",
    .description = "Masscan scanners (IP ID = dst^dport^seq, TTL 255, window 1024 or 1025+MSS)",
    .size = {[DS_GEN_PROFILE_DEMO] = 20, [DS_GEN_PROFILE_BENCH] = 60, [DS_GEN_PROFILE_TINY] = 15},
    .scalable = true,
    .present = 0.5,
    .mean_life_s = 2 * 3600,
    .start = masscan_start,
    .step = scan_step,
    .expect = masscan_expect,
};
