/* pop_dos.c - DoS victims answering spoofed floods: the backscatter a darknet receives
 * (SYN-ACK/RST from the victim's port, ICMP errors quoting the spoofed packet, echo
 * replies). Each actor is one attack on one victim; the truth records it (truth.h). */
#include "gen/pop.h"

#include <math.h>

enum { DOS_SYNACK = 0, DOS_RST, DOS_PORT_UNREACH, DOS_ECHO_REPLY, DOS_ROUTER, DOS_NTYPES };
static const char *const type_names[DOS_NTYPES] = {"tcp-synack", "tcp-rst", "icmp-port-unreach",
                                                   "icmp-echo-reply", "icmp-router-error"};
static const double type_w[DOS_NTYPES] = {45, 15, 15, 10, 15};

/* attacked services */
static const uint16_t tcp_ports[] = {80, 443, 22, 25, 53, 3389, 8080, 27015, 25565, 6667};
static const double tcp_w[] = {30, 30, 5, 4, 4, 4, 6, 6, 6, 2};
static const uint16_t udp_ports[] = {53, 123, 27015, 3074, 9987, 30120, 80, 443};
static const double udp_w[] = {6, 3, 5, 3, 2, 2, 2, 2};

#define RATE_LO 200.0 /* replies per second to all spoofed sources */
#define RATE_HI 2e6
#define DUR_LO 30.0
#define DUR_HI 7200.0

static int dos_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    int idx = ds_truth_add_attack(&g->truth);
    if (idx < 0)
        return ds_err_set(g->err, idx, "out of memory");
    uint8_t type = (uint8_t)ds_rng_weighted(r, type_w, DOS_NTYPES);
    double dur = ds_rng_logu(r, DUR_LO, DUR_HI);
    double rate = ds_rng_logu(r, RATE_LO, RATE_HI);
    uint64_t begin = a->start_ns;
    if (a->start_ns == g->t0) /* running when the capture starts */
        begin = g->t0 - (uint64_t)(ds_rng_unit(r) * 0.9 * dur * 1e9);
    if (idx == 0) { /* one attack well above the RS-DoS thresholds */
        if (dur < 900)
            dur = 900;
        if (rate * g->share4 < 2.0)
            rate = 2.0 / g->share4;
    }
    uint64_t end = begin + (uint64_t)(dur * 1e9);
    if (idx == 1) { /* and one well below: about five packets in the darknet */
        uint64_t lo = begin > g->t0 ? begin : g->t0, hi = end < g->t1 ? end : g->t1;
        double seen = hi > lo ? (double)(hi - lo) / 1e9 : 1;
        rate = 5.0 / (seen * g->share4);
    }
    if (end < a->end_ns)
        a->end_ns = end;
    a->aux = idx;
    a->kind = type;
    a->rate = rate * g->share4;
    a->u.dos.win = ds_rng_chance(r, 0.7) ? 65160 : 8192;
    a->u.dos.retries = type == DOS_SYNACK && ds_rng_chance(r, 0.5) ? 5 : 0; /* else cookies */
    a->u.dos.vport = type == DOS_ECHO_REPLY     ? 0
                     : type == DOS_PORT_UNREACH ? udp_ports[ds_rng_weighted(r, udp_w, 8)]
                                                : tcp_ports[ds_rng_weighted(r, tcp_w, 10)];
    uint32_t victim;
    int rc = ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V4, -1, &victim);
    if (rc < 0)
        return rc;
    a->u.dos.victim = ds_addr_v4(ds_gen_src_addr(g, victim));
    struct ds_truth_attack *at = &g->truth.attacks[idx];
    at->victim = *ds_gen_src_addr(g, victim);
    at->type = type_names[type];
    at->protocol = type <= DOS_RST ? "tcp" : "icmp";
    at->port = a->u.dos.vport;
    at->start_ns = begin;
    at->end_ns = end;
    at->rate_pps = rate;
    if (type == DOS_ROUTER) { /* a router in front of the victim answers */
        rc = ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V4, -1, &a->src);
        if (rc < 0)
            return rc;
        at->router = a->src;
    } else {
        a->src = victim;
    }
    a->u.dos.next_new = ds_gen_after(r, a->start_ns, a->rate);
    *first = a->u.dos.next_new;
    return 0;
}

/* The first 28 bytes (IPv4 header + 8 transport bytes) of the spoofed packet, as an ICMP
 * error quotes it: from the darknet address to the victim. */
static void quote(struct ds_gen *g, struct ds_rng *r, const struct ds_gen_actor *a,
                  uint32_t spoofed, uint8_t proto, uint8_t inner_ttl, uint8_t *out)
{
    static const uint8_t zeros[512];
    uint8_t pkt[600];
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .ttl = inner_ttl,
                         .ip_id = ds_rng_u16(r),
                         .proto = proto,
                         .sport = (uint16_t)ds_rng_range(r, 1024, 65535),
                         .dport = a->u.dos.vport ? a->u.dos.vport : 80,
                         .seq = ds_rng_u32(r),
                         .tcp_flags = 0x02,
                         .win = 512,
                         .payload = zeros,
                         .payload_len = proto == 17 ? (size_t)ds_rng_range(r, 0, 512) : 0};
    ds_addr_set_v4(&c.src, spoofed);
    ds_addr_set_v4(&c.dst, a->u.dos.victim);
    ds_craft_packet(pkt, sizeof pkt, &c);
    memcpy(out, pkt, 28);
}

static uint64_t next_event(const struct ds_gen_actor *a)
{
    uint64_t n = a->u.dos.next_new;
    for (int i = 0; i < 2; i++)
        if (a->u.dos.pend[i].left && a->u.dos.pend[i].t < n)
            n = a->u.dos.pend[i].t;
    return n;
}

static void synack(struct ds_gen *g, const struct ds_gen_actor *a, const struct ds_gen_pending *p,
                   struct ds_craft *c, uint8_t *opts, uint64_t t)
{
    bool linux_ = a->u.dos.win != 8192;
    *c = (struct ds_craft){.src = *ds_gen_src_addr(g, a->src),
                           .ttl = (uint8_t)((linux_ ? 64 : 128) - a->hops),
                           .df = true,
                           .proto = 6,
                           .sport = p->sport,
                           .dport = p->dport,
                           .seq = p->seq,
                           .ack = p->ack,
                           .tcp_flags = 0x12,
                           .win = a->u.dos.win,
                           .tcp_opts = opts};
    ds_addr_set_v4(&c->dst, p->dst);
    if (linux_) {
        memcpy(opts, ds_opts_linux, sizeof ds_opts_linux);
        uint32_t ts = (uint32_t)(t / 1000000u);
        opts[8] = (uint8_t)(ts >> 24);
        opts[9] = (uint8_t)(ts >> 16);
        opts[10] = (uint8_t)(ts >> 8);
        opts[11] = (uint8_t)ts;
        c->tcp_opts_len = sizeof ds_opts_linux;
    } else {
        memcpy(opts, ds_opts_windows, sizeof ds_opts_windows);
        c->tcp_opts_len = sizeof ds_opts_windows;
    }
}

static int dos_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    struct ds_craft c;
    uint8_t opts[40], q[28], echo[56];
    struct ds_gen_pending *due = NULL;
    for (int i = 0; i < 2; i++)
        if (a->u.dos.pend[i].left && a->u.dos.pend[i].t <= t &&
            (!due || a->u.dos.pend[i].t < due->t))
            due = &a->u.dos.pend[i];
    if (due) { /* the victim retransmits its SYN-ACK: the darknet never completes */
        synack(g, a, due, &c, opts, t);
        due->sent++;
        if (--due->left)
            due->t = t + (DS_NS << due->sent);
    } else {
        uint32_t spoofed = ds_gen_dst4(g, r);
        struct ds_gen_pending p = {.dst = spoofed,
                                   .sport = a->u.dos.vport,
                                   .dport = (uint16_t)ds_rng_range(r, 1024, 65535),
                                   .seq = ds_rng_u32(r),
                                   .ack = ds_rng_u32(r)};
        const struct ds_addr *src = ds_gen_src_addr(g, a->src);
        switch (a->kind) {
        case DOS_SYNACK:
            synack(g, a, &p, &c, opts, t);
            if (ds_rng_chance(r, 0.1)) { /* some half-open connections are reset instead */
                c.tcp_flags = 0x14;
                c.tcp_opts_len = 0;
                c.win = 0;
            } else if (a->u.dos.retries) {
                for (int i = 0; i < 2; i++) {
                    if (!a->u.dos.pend[i].left) {
                        p.left = a->u.dos.retries;
                        p.t = t + DS_NS;
                        a->u.dos.pend[i] = p;
                        break;
                    }
                }
            }
            break;
        case DOS_RST:
            c = (struct ds_craft){.src = *src,
                                  .ttl = (uint8_t)(64 - a->hops),
                                  .df = true,
                                  .proto = 6,
                                  .sport = p.sport,
                                  .dport = p.dport,
                                  .seq = p.seq,
                                  .ack = p.ack,
                                  .tcp_flags = ds_rng_chance(r, 0.5) ? 0x04 : 0x14};
            if (c.tcp_flags == 0x04)
                c.ack = 0;
            break;
        case DOS_PORT_UNREACH:
            quote(g, r, a, spoofed, 17, (uint8_t)ds_rng_range(r, 30, 250), q);
            c = (struct ds_craft){.src = *src,
                                  .ttl = (uint8_t)(64 - a->hops),
                                  .ip_id = ds_rng_u16(r),
                                  .proto = 1,
                                  .icmp_type = 3,
                                  .icmp_code = 3,
                                  .payload = q,
                                  .payload_len = sizeof q};
            break;
        case DOS_ECHO_REPLY:
            for (size_t i = 0; i < sizeof echo; i++)
                echo[i] = (uint8_t)(0x10 + i);
            c = (struct ds_craft){.src = *src,
                                  .ttl = (uint8_t)(64 - a->hops),
                                  .ip_id = ds_rng_u16(r),
                                  .proto = 1,
                                  .icmp_type = 0,
                                  .icmp_rest = ds_rng_u32(r),
                                  .payload = echo,
                                  .payload_len = sizeof echo};
            break;
        default: { /* a router: TTL exceeded or host unreachable, TTL from 255 */
            bool ttlx = ds_rng_chance(r, 0.6);
            quote(g, r, a, spoofed, ds_rng_chance(r, 0.5) ? 6 : 17, ttlx ? 1 : 40, q);
            c = (struct ds_craft){.src = *src,
                                  .ttl = (uint8_t)(255 - a->hops),
                                  .ip_id = ds_rng_u16(r),
                                  .proto = 1,
                                  .icmp_type = ttlx ? 11 : 3,
                                  .icmp_code = ttlx ? 0 : 1,
                                  .payload = q,
                                  .payload_len = sizeof q};
            break;
        }
        }
        ds_addr_set_v4(&c.dst, spoofed);
        a->u.dos.next_new = ds_gen_after(r, t, a->rate);
    }
    *next = next_event(a);
    struct ds_gen_meta m = ds_gen_meta_plain(a->src);
    m.attack = a->aux;
    return ds_gen_emit(g, t, &c, &m);
}

static double dos_expect(const struct ds_gen *g)
{
    double rate = (RATE_HI - RATE_LO) / log(RATE_HI / RATE_LO) * g->share4;
    double dur = (DUR_HI - DUR_LO) / log(DUR_HI / DUR_LO);
    double span = (double)(g->t1 - g->t0) / 1e9;
    return rate * (dur < span ? dur : span) * 0.7;
}

const struct ds_gen_pop ds_pop_dos = {
    .name = "dos",
    .option = "attacks",
    .description = "DoS attacks: victims' SYN-ACK/RST/ICMP replies to spoofed darknet addresses",
    .size = {[DS_GEN_PROFILE_DEMO] = 20, [DS_GEN_PROFILE_BENCH] = 150, [DS_GEN_PROFILE_TINY] = 12},
    .scalable = true,
    .present = 0.5,
    .mean_life_s = 0,
    .start = dos_start,
    .step = dos_step,
    .expect = dos_expect,
};
