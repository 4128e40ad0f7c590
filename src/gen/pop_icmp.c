/* pop_icmp.c - ICMP sweeps: echo requests (Linux and Windows ping, ZMap's ICMP module) and
 * timestamp / address-mask requests. */
#include "gen/pop.h"

#include <math.h>

enum { PING_LINUX = 0, PING_WINDOWS, PING_ZMAP, PING_TIMESTAMP, PING_MASK, PING_NSTYLES };
static const double style_w[PING_NSTYLES] = {45, 15, 25, 10, 5};

#define ICMP_LO 1e3
#define ICMP_HI 5e4

static int icmp_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    a->kind = (uint8_t)ds_rng_weighted(r, style_w, PING_NSTYLES);
    a->u.udp.icmp_id = ds_rng_u16(r);
    a->u.udp.icmp_seq = (uint16_t)ds_rng_below(r, 1000);
    a->rate = ds_rng_logu(r, ICMP_LO, ICMP_HI) * g->share4;
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int icmp_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    if (a->src == DS_GEN_NOSRC) {
        int rc = ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V4, -1, &a->src);
        if (rc < 0)
            return rc;
    }
    uint8_t pl[56];
    struct ds_craft c = {.src = *ds_gen_src_addr(g, a->src),
                         .ttl = (uint8_t)(64 - a->hops),
                         .ip_id = ds_rng_u16(r),
                         .proto = 1,
                         .icmp_type = 8,
                         .payload = pl};
    c.icmp_rest = (uint32_t)a->u.udp.icmp_id << 16 | a->u.udp.icmp_seq++;
    switch (a->kind) {
    case PING_LINUX: /* 8-byte timestamp + the 0x10.. pattern, 56 bytes */
        for (size_t i = 0; i < 56; i++)
            pl[i] = (uint8_t)(i < 8 ? ds_rng_u32(r) : i);
        c.payload_len = 56;
        c.df = true;
        break;
    case PING_WINDOWS:
        for (size_t i = 0; i < 32; i++)
            pl[i] = (uint8_t)('a' + i % 23);
        c.payload_len = 32;
        c.ttl = (uint8_t)(128 - a->hops);
        break;
    case PING_ZMAP:
        c.ip_id = 54321;
        c.ttl = (uint8_t)(255 - a->hops);
        break;
    case PING_TIMESTAMP: /* originate, receive, transmit timestamps */
        memset(pl, 0, 12);
        c.icmp_type = 13;
        c.payload_len = 12;
        break;
    default: /* address mask request */
        memset(pl, 0, 4);
        c.icmp_type = 17;
        c.payload_len = 4;
        break;
    }
    ds_addr_set_v4(&c.dst, ds_gen_dst4(g, r));
    *next = ds_gen_after(r, t, a->rate);
    struct ds_gen_meta m = ds_gen_meta_plain(a->src);
    return ds_gen_emit(g, t, &c, &m);
}

static double icmp_expect(const struct ds_gen *g)
{
    return (ICMP_HI - ICMP_LO) / log(ICMP_HI / ICMP_LO) * g->share4 *
           ds_gen_expect_active_s(&ds_pop_icmp, (double)(g->t1 - g->t0) / 1e9);
}

const struct ds_gen_pop ds_pop_icmp = {
    .name = "icmp",
    .option = "pingers",
    .description = "ICMP sweeps: echo requests (Linux, Windows, ZMap) and timestamp/mask requests",
    .size = {[DS_GEN_PROFILE_DEMO] = 30, [DS_GEN_PROFILE_BENCH] = 300, [DS_GEN_PROFILE_TINY] = 20},
    .scalable = true,
    .present = 0.6,
    .mean_life_s = 2 * 3600,
    .start = icmp_start,
    .step = icmp_step,
    .expect = icmp_expect,
};
