/* pop_mirai.c - Mirai bots and Mirai variants: SYN scanners whose sequence number is the
 * destination address (DOMAIN.md section 3). */
#include "gen/pop.h"

#include "classify/fingerprint.h"
#include "gen/rules.h"

/* Mirai's scanner: 23, or 2323 for one probe in ten. */
static const uint16_t mirai_ports[] = {23, 2323};
static const double mirai_w[] = {9, 1};

/* Variants keep the scanner and change the ports (DOMAIN.md: 80, 8080, 8081, 5555, 7547,
 * 37215, 52869 ...). */
struct family {
    const uint16_t *ports;
    const double *w;
    unsigned n;
};
static const uint16_t http_p[] = {80, 8080, 8081};
static const double http_w[] = {5, 3, 2};
static const uint16_t adb_p[] = {5555};
static const uint16_t tr069_p[] = {7547};
static const uint16_t satori_p[] = {37215, 52869};
static const double satori_w[] = {3, 2};
static const uint16_t multi_p[] = {23, 2323, 80, 8080, 8081, 5555, 7547, 37215, 52869};
static const double multi_w[] = {8, 1, 3, 2, 1, 2, 1, 2, 1};
static const double one_w[] = {1};
static const struct family families[] = {
    {.ports = mirai_ports, .w = mirai_w, .n = 2}, /* 0: Mirai itself */
    {.ports = http_p, .w = http_w, .n = 3},       {.ports = adb_p, .w = one_w, .n = 1},
    {.ports = tr069_p, .w = one_w, .n = 1},       {.ports = satori_p, .w = satori_w, .n = 2},
    {.ports = multi_p, .w = multi_w, .n = 9},
};
static const double variant_w[] = {0, 4, 2, 1, 2, 3};

/* ~160 SYN/s to the whole IPv4 space per bot, varied per device (x 0.3 .. 2, log-uniform:
 * mean ~143/s, since many bots sit on slow links). */
#define BOT_PPS 160.0

static int start_common(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first, bool variant)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    a->rate = BOT_PPS * ds_rng_logu(r, 0.3, 2.0) * g->share4;
    a->u.bot.sport = (uint16_t)ds_rng_range(r, 1024, 65535);
    a->u.bot.win = ds_rng_u16(r);
    a->u.bot.family = (uint8_t)(variant ? ds_rng_weighted(r, variant_w, 6) : 0);
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int mirai_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    return start_common(g, a, first, false);
}

static int variant_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    return start_common(g, a, first, true);
}

static int bot_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    if (a->src == DS_GEN_NOSRC) {
        int rc = ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V4, -1, &a->src);
        if (rc < 0)
            return rc;
    }
    const struct family *f = &families[a->u.bot.family];
    uint32_t dst = ds_gen_dst4(g, r);
    struct ds_craft c = {.src = *ds_gen_src_addr(g, a->src),
                         .ttl = (uint8_t)(64 - a->hops),
                         .proto = 6,
                         .sport = a->u.bot.sport,
                         .dport = f->ports[f->n > 1 ? ds_rng_weighted(r, f->w, f->n) : 0],
                         .seq = dst,
                         .tcp_flags = 0x02,
                         .win = a->u.bot.win};
    ds_addr_set_v4(&c.dst, dst);
    /* the IP ID is random; re-draw the rare values that would also look like ZMap or
     * Masscan (with seq == dst, Masscan's test reduces to ip_id == dport) */
    do
        c.ip_id = ds_rng_u16(r);
    while (ds_rules_fps(&c) != DS_FP_BIT(DS_FP_MIRAI));
    struct ds_gen_meta m = ds_gen_meta_plain(a->src);
    m.fps = DS_FP_BIT(DS_FP_MIRAI);
    *next = ds_gen_after(r, t, a->rate);
    return ds_gen_emit(g, t, &c, &m);
}

static double bot_expect(const struct ds_gen *g)
{
    /* E[logu(0.3, 2)] = 1.7 / ln(2 / 0.3) */
    double rate = BOT_PPS * (1.7 / 1.8971199848858813) * g->share4;
    return rate * ds_gen_expect_active_s(&ds_pop_mirai, (double)(g->t1 - g->t0) / 1e9);
}

const struct ds_gen_pop ds_pop_mirai = {
    .name = "mirai",
    .option = "bots",
    .description = "Mirai bots: SYN to 23 (2323 one in ten), seq = destination, ~160/s each",
    .size = {[DS_GEN_PROFILE_DEMO] = 20000,
             [DS_GEN_PROFILE_BENCH] = 755000,
             [DS_GEN_PROFILE_TINY] = 20000},
    .scalable = true,
    .present = 0.9,
    .mean_life_s = 6 * 3600,
    .start = mirai_start,
    .step = bot_step,
    .expect = bot_expect,
};

const struct ds_gen_pop ds_pop_mirai_variant = {
    .name = "mirai-variant",
    .option = "variants",
    .description = "Mirai variants on 80, 8080, 8081, 5555, 7547, 37215, 52869 (seq = dst)",
    .size = {[DS_GEN_PROFILE_DEMO] = 5000,
             [DS_GEN_PROFILE_BENCH] = 60000,
             [DS_GEN_PROFILE_TINY] = 5000},
    .scalable = true,
    .present = 0.9,
    .mean_life_s = 6 * 3600,
    .start = variant_start,
    .step = bot_step,
    .expect = bot_expect,
};
