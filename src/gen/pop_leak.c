/* pop_leak.c - packets to addresses next to the darknet (a sensor's span port also sees a
 * little neighbouring traffic): the analyzer must count them as not_darknet. */
#include "gen/pop.h"

/* An IPv4 address outside every darknet range, within 16 of one of its edges. */
static uint32_t outside4(struct ds_gen *g, struct ds_rng *r)
{
    for (;;) {
        const struct ds_v4range *v = &g->dn.v4[ds_rng_below(r, g->dn.n_v4)];
        uint32_t k = (uint32_t)ds_rng_range(r, 1, 16);
        uint32_t x;
        if (ds_rng_chance(r, 0.5) && v->lo > k)
            x = v->lo - k;
        else if (v->hi <= UINT32_MAX - k)
            x = v->hi + k;
        else
            continue;
        if (!ds_darknet_contains_v4(&g->dn, x))
            return x;
    }
}

/* An IPv6 address just outside a darknet prefix (one bit above it flipped). */
static void outside6(struct ds_gen *g, struct ds_rng *r, struct ds_addr *out)
{
    for (;;) {
        ds_gen_dst6(g, r, out);
        const struct ds_prefix *p = &g->dn.v6[ds_rng_below(r, g->dn.n_v6)];
        if (p->len == 0)
            continue;
        unsigned bit = p->len - 1;
        out->b[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
        if (!ds_darknet_contains_v6(&g->dn, out))
            return;
    }
}

static int leak_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    a->kind = g->dn.n_v6 && (!g->d4 || ds_rng_chance(r, 0.25)); /* 1: IPv6 */
    a->u.tool.left = (uint16_t)ds_rng_range(r, 1, 5);
    a->rate = 1.0 / 300;
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int leak_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    if (a->src == DS_GEN_NOSRC) {
        int rc = ds_gen_alloc(g, a->pop, a->kind ? DS_GEN_ALLOC_V6 : DS_GEN_ALLOC_V4, -1, &a->src);
        if (rc < 0)
            return rc;
    }
    struct ds_craft c = {.src = *ds_gen_src_addr(g, a->src),
                         .ttl = (uint8_t)(64 - a->hops),
                         .df = true,
                         .ip_id = ds_rng_u16(r),
                         .proto = 6,
                         .sport = (uint16_t)ds_rng_range(r, 32768, 60999),
                         .dport = (uint16_t)(ds_rng_chance(r, 0.5) ? 443 : 80),
                         .seq = ds_rng_u32(r),
                         .tcp_flags = 0x02,
                         .win = 64240,
                         .tcp_opts = ds_opts_mss1460,
                         .tcp_opts_len = sizeof ds_opts_mss1460};
    if (a->kind)
        outside6(g, r, &c.dst);
    else
        ds_addr_set_v4(&c.dst, outside4(g, r));
    *next = --a->u.tool.left ? ds_gen_after(r, t, a->rate) : DS_GEN_NEVER;
    struct ds_gen_meta m = ds_gen_meta_plain(a->src);
    return ds_gen_emit(g, t, &c, &m);
}

const struct ds_gen_pop ds_pop_leak = {
    .name = "leak",
    .option = "leakers",
    .description = "sources sending to addresses next to the darknet (counted not_darknet)",
    .size = {[DS_GEN_PROFILE_DEMO] = 6, [DS_GEN_PROFILE_BENCH] = 50, [DS_GEN_PROFILE_TINY] = 5},
    .scalable = false,
    .present = 0.5,
    .start = leak_start,
    .step = leak_step,
};
