/* pop_odd.c - a script of deliberate oddities, each from its own source: fragments, a
 * non-IP frame, a truncated and a malformed packet, non-routable and .0/.255 sources, odd
 * TCP flags and protocols, UDP to port 80, port 0, IPv6 fragments and backscatter, and
 * Corsaro's large-scale-scanner exemption. */
#include "gen/pop.h"

#include "gen/rules.h"

enum {
    ODD_FRAG4,
    ODD_ARP,
    ODD_TRUNCATED,
    ODD_MALFORMED,
    ODD_NONROUTE_SYN,
    ODD_NONROUTE_UDP,
    ODD_SRC0,
    ODD_SRC255,
    ODD_NULL,
    ODD_XMAS,
    ODD_SYNFIN,
    ODD_GRE,
    ODD_UDP80,
    ODD_SPORT0,
    ODD_FRAG6,
    ODD_BACKSCATTER6,
    ODD_BIGSCAN,
    ODD_COUNT
};

static uint64_t when(const struct ds_gen *g, uint32_t step)
{
    return g->t0 + (g->t1 - g->t0) / (ODD_COUNT + 1) * (step + 1);
}

static int odd_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    a->u.odd.step = 0;
    uint64_t t = when(g, 0);
    *first = t < a->start_ns ? a->start_ns : t;
    return 0;
}

/* A Linux-stack SYN from source id (fingerprint-free). */
static void linux_syn(struct ds_gen *g, struct ds_rng *r, const struct ds_gen_actor *a, uint32_t id,
                      struct ds_craft *c)
{
    *c = (struct ds_craft){.src = *ds_gen_src_addr(g, id),
                           .ttl = (uint8_t)(64 - a->hops),
                           .df = true,
                           .proto = 6,
                           .sport = (uint16_t)ds_rng_range(r, 32768, 60999),
                           .dport = (uint16_t)(ds_rng_chance(r, 0.5) ? 22 : 445),
                           .tcp_flags = 0x02,
                           .win = 64240,
                           .tcp_opts = ds_opts_linux,
                           .tcp_opts_len = sizeof ds_opts_linux};
    ds_addr_set_v4(&c->dst, ds_gen_dst4(g, r));
}

/* Re-draws the sequence number and IP ID until the packet carries no fingerprint. */
static void clean(struct ds_rng *r, struct ds_craft *c)
{
    do {
        c->seq = ds_rng_u32(r);
        c->ip_id = ds_rng_u16(r);
    } while (ds_rules_fps(c) != 0);
}

static int odd_one(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint32_t step)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    bool v4 = g->d4 > 0, v6 = g->dn.n_v6 > 0;
    uint32_t id;
    int rc;
    struct ds_craft c;
    struct ds_gen_meta m;
    struct ds_addr addr;
    uint8_t pl[128];
    for (size_t i = 0; i < sizeof pl; i++)
        pl[i] = (uint8_t)(0x41 + i % 26);
    bool need6 = step == ODD_FRAG6 || step == ODD_BACKSCATTER6;
    if ((need6 && !v6) || (!need6 && !v4))
        return 0;
    if (step == ODD_ARP)
        return ds_gen_emit_arp(g, a->pop, t);
    switch (step) {
    case ODD_NONROUTE_SYN: /* a NAT leaking its inside address */
        do
            ds_addr_set_v4(&addr, 0x0a000000u | (ds_rng_u32(r) & 0xffffff));
        while (addr.b[15] == 0 || addr.b[15] == 255);
        rc = ds_gen_alloc_exact(g, a->pop, &addr, &id);
        break;
    case ODD_NONROUTE_UDP:
        do
            ds_addr_set_v4(&addr, 0xc0a80000u | (ds_rng_u32(r) & 0xffff));
        while (addr.b[15] == 0 || addr.b[15] == 255);
        rc = ds_gen_alloc_exact(g, a->pop, &addr, &id);
        break;
    case ODD_SRC0:
    case ODD_SRC255:
        ds_addr_set_v4(&addr, ds_gen_random_block24(g) | (step == ODD_SRC0 ? 0 : 255));
        rc = ds_gen_alloc_exact(g, a->pop, &addr, &id);
        break;
    default:
        rc = ds_gen_alloc(g, a->pop, need6 ? DS_GEN_ALLOC_V6 : DS_GEN_ALLOC_V4, -1, &id);
        break;
    }
    if (rc == -EEXIST)
        return 0; /* the address is taken: skip this oddity */
    if (rc < 0)
        return rc;
    if (a->src == DS_GEN_NOSRC)
        a->src = id;
    m = ds_gen_meta_plain(id);
    switch (step) {
    case ODD_FRAG4: { /* a UDP datagram in two fragments */
        c = (struct ds_craft){.src = *ds_gen_src_addr(g, id),
                              .ttl = (uint8_t)(64 - a->hops),
                              .ip_id = ds_rng_u16(r),
                              .mf = true,
                              .proto = 17,
                              .sport = (uint16_t)ds_rng_range(r, 1024, 65535),
                              .dport = 4444,
                              .payload = pl,
                              .payload_len = 32};
        ds_addr_set_v4(&c.dst, ds_gen_dst4(g, r));
        rc = ds_gen_emit(g, t, &c, &m);
        if (rc < 0)
            return rc;
        c.mf = false;
        c.frag_offset = (8 + 32) / 8;
        c.raw_l4 = true;
        c.payload_len = 100;
        return ds_gen_emit(g, t, &c, &m);
    }
    case ODD_TRUNCATED: /* cut by the capture's snap length inside the TCP header */
        linux_syn(g, r, a, id, &c);
        clean(r, &c);
        m.kind = DS_GEN_PKT_TRUNCATED;
        m.caplen_cut = 20 + 10;
        return ds_gen_emit(g, t, &c, &m);
    case ODD_MALFORMED:
        linux_syn(g, r, a, id, &c);
        clean(r, &c);
        m.kind = DS_GEN_PKT_MALFORMED;
        return ds_gen_emit(g, t, &c, &m);
    case ODD_NONROUTE_SYN:
    case ODD_SRC0:
    case ODD_SRC255:
        linux_syn(g, r, a, id, &c);
        clean(r, &c);
        return ds_gen_emit(g, t, &c, &m);
    case ODD_NONROUTE_UDP: {
        static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00,
                                    0x00, 0x00, 0x00, 0x00, 0x00, 3,    'w',
                                    'w',  'w',  0,    0x00, 0x01, 0x00, 0x01};
        c = (struct ds_craft){.src = *ds_gen_src_addr(g, id),
                              .ttl = (uint8_t)(64 - a->hops),
                              .ip_id = ds_rng_u16(r),
                              .proto = 17,
                              .sport = (uint16_t)ds_rng_range(r, 1024, 65535),
                              .dport = 53,
                              .payload = q,
                              .payload_len = sizeof q};
        ds_addr_set_v4(&c.dst, ds_gen_dst4(g, r));
        return ds_gen_emit(g, t, &c, &m);
    }
    case ODD_NULL:
    case ODD_XMAS:
    case ODD_SYNFIN:
    case ODD_SPORT0:
    case ODD_BIGSCAN:
        linux_syn(g, r, a, id, &c);
        c.tcp_opts = NULL;
        c.tcp_opts_len = 0;
        c.win = 1024;
        c.tcp_flags = step == ODD_NULL     ? 0x00
                      : step == ODD_XMAS   ? 0x29
                      : step == ODD_SYNFIN ? 0x03
                                           : 0x02;
        if (step == ODD_SPORT0)
            c.sport = 0;
        if (step == ODD_BIGSCAN) /* SYN, no options, window 1024, TTL >= 200: exempt */
            c.ttl = (uint8_t)(255 - a->hops);
        clean(r, &c);
        return ds_gen_emit(g, t, &c, &m);
    case ODD_GRE: { /* GRE (protocol 47) carrying IPv4: an odd protocol for a darknet */
        static const uint8_t gre[4] = {0x00, 0x00, 0x08, 0x00};
        c = (struct ds_craft){.src = *ds_gen_src_addr(g, id),
                              .ttl = (uint8_t)(64 - a->hops),
                              .ip_id = ds_rng_u16(r),
                              .proto = 47,
                              .payload = gre,
                              .payload_len = sizeof gre};
        ds_addr_set_v4(&c.dst, ds_gen_dst4(g, r));
        return ds_gen_emit(g, t, &c, &m);
    }
    case ODD_UDP80:
        c = (struct ds_craft){.src = *ds_gen_src_addr(g, id),
                              .ttl = (uint8_t)(64 - a->hops),
                              .ip_id = ds_rng_u16(r),
                              .proto = 17,
                              .sport = (uint16_t)ds_rng_range(r, 1024, 65535),
                              .dport = 80,
                              .payload = pl,
                              .payload_len = 64};
        ds_addr_set_v4(&c.dst, ds_gen_dst4(g, r));
        return ds_gen_emit(g, t, &c, &m);
    case ODD_FRAG6: /* the first fragment of an ICMPv6 echo request */
        c = (struct ds_craft){.src = *ds_gen_src_addr(g, id),
                              .ttl = (uint8_t)(64 - a->hops),
                              .ip_id = ds_rng_u16(r),
                              .mf = true,
                              .proto = 58,
                              .icmp_type = 128,
                              .icmp_rest = ds_rng_u32(r),
                              .payload = pl,
                              .payload_len = 64};
        ds_gen_dst6(g, r, &c.dst);
        return ds_gen_emit(g, t, &c, &m);
    case ODD_BACKSCATTER6: { /* ICMPv6 port unreachable quoting a spoofed UDP packet */
        uint8_t inner[128], q[48];
        struct ds_craft ic = {.link = DS_CRAFT_RAW,
                              .ttl = 50,
                              .proto = 17,
                              .sport = (uint16_t)ds_rng_range(r, 1024, 65535),
                              .dport = 53,
                              .dst = *ds_gen_src_addr(g, id),
                              .payload = pl,
                              .payload_len = 40};
        ds_gen_dst6(g, r, &ic.src);
        ds_craft_packet(inner, sizeof inner, &ic);
        memcpy(q, inner, sizeof q);
        c = (struct ds_craft){.src = *ds_gen_src_addr(g, id),
                              .dst = ic.src,
                              .ttl = (uint8_t)(64 - a->hops),
                              .proto = 58,
                              .icmp_type = 1,
                              .icmp_code = 4,
                              .payload = q,
                              .payload_len = sizeof q};
        return ds_gen_emit(g, t, &c, &m);
    }
    default:
        return 0;
    }
}

static int odd_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    int rc = odd_one(g, a, t, a->u.odd.step);
    a->u.odd.step++;
    *next = a->u.odd.step < ODD_COUNT ? when(g, a->u.odd.step) : DS_GEN_NEVER;
    if (*next != DS_GEN_NEVER && *next <= t)
        *next = t + 1;
    return rc;
}

static double odd_expect(const struct ds_gen *g)
{
    (void)g;
    return ODD_COUNT;
}

const struct ds_gen_pop ds_pop_oddity = {
    .name = "oddity",
    .option = "oddities",
    .description = "deliberate odd packets (fragments, ARP, truncated, malformed, port 0 ...)",
    .size = {[DS_GEN_PROFILE_DEMO] = 1, [DS_GEN_PROFILE_BENCH] = 1, [DS_GEN_PROFILE_TINY] = 1},
    .scalable = false,
    .present = 1,
    .start = odd_start,
    .step = odd_step,
    .expect = odd_expect,
};
