/* pop_kernel.c - ordinary SYN scanners that connect() through the operating system's TCP
 * stack (brute-forcers, worms): Linux or Windows option layouts and SYN retransmissions. */
#include "gen/pop.h"

#include "gen/rules.h"

enum { OS_LINUX = 0, OS_WINDOWS = 1 };

/* services such scanners look for, with weights */
static const uint16_t svc_ports[] = {22, 445,  3389, 23,   1433, 3306, 5900,
                                     80, 8080, 6379, 5432, 21,   25};
static const double svc_w[] = {30, 15, 12, 10, 5, 5, 4, 5, 4, 3, 2, 3, 2};
#define NSVC (sizeof svc_ports / sizeof svc_ports[0])

#define KERNEL_LO 5.0
#define KERNEL_HI 500.0

static uint64_t backoff_ns(const struct ds_gen_actor *a, unsigned sent)
{
    /* Linux: initial RTO 1 s, doubling; Windows: 3 s, doubling */
    uint64_t base = a->u.kern.os == OS_LINUX ? DS_NS : 3 * DS_NS;
    return base << sent;
}

static int kernel_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    a->u.kern.os = ds_rng_chance(r, 0.7) ? OS_LINUX : OS_WINDOWS;
    a->u.kern.nports = (uint8_t)ds_rng_range(r, 1, 3);
    for (unsigned i = 0; i < a->u.kern.nports; i++)
        a->u.kern.ports[i] = svc_ports[ds_rng_weighted(r, svc_w, NSVC)];
    if (a->u.kern.os == OS_LINUX) {
        static const uint8_t lr[] = {1, 2, 2, 3, 5};
        a->u.kern.win = ds_rng_chance(r, 0.8) ? 64240 : 29200;
        a->u.kern.retries = lr[ds_rng_below(r, 5)];
    } else {
        a->u.kern.win = ds_rng_chance(r, 0.7) ? 64240 : 8192;
        a->u.kern.retries = (uint8_t)ds_rng_range(r, 1, 2);
    }
    a->u.kern.ipid = ds_rng_u16(r);
    a->u.kern.tsbase = ds_rng_u32(r);
    a->rate = ds_rng_logu(r, KERNEL_LO, KERNEL_HI) * g->share4;
    a->u.kern.next_new = ds_gen_after(r, a->start_ns, a->rate);
    *first = a->u.kern.next_new;
    return 0;
}

/* Builds the SYN of a connection attempt (or its retransmission) at time t. */
static void kernel_syn(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t,
                       const struct ds_gen_pending *p, struct ds_craft *c, uint8_t *opts)
{
    bool linux_ = a->u.kern.os == OS_LINUX;
    *c = (struct ds_craft){.src = *ds_gen_src_addr(g, a->src),
                           .ttl = (uint8_t)((linux_ ? 64 : 128) - a->hops),
                           .df = true,
                           .proto = 6,
                           .sport = p->sport,
                           .dport = p->dport,
                           .seq = p->seq,
                           .tcp_flags = 0x02,
                           .win = a->u.kern.win,
                           .tcp_opts = opts};
    ds_addr_set_v4(&c->dst, p->dst);
    if (linux_) {
        memcpy(opts, ds_opts_linux, sizeof ds_opts_linux);
        uint32_t ts = a->u.kern.tsbase + (uint32_t)((t - g->t0) / 1000000u); /* ms clock */
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

/* A fresh IP ID: random on Linux, the next value of a busy global counter on Windows;
 * values that would satisfy Masscan's equation are skipped. */
static void kernel_ipid(struct ds_gen_actor *a, struct ds_rng *r, struct ds_craft *c)
{
    do {
        if (a->u.kern.os == OS_LINUX)
            c->ip_id = ds_rng_u16(r);
        else
            c->ip_id = a->u.kern.ipid += (uint16_t)ds_rng_range(r, 1, 2000);
    } while (ds_rules_fps(c) != 0);
}

static uint64_t next_event(const struct ds_gen_actor *a)
{
    uint64_t n = a->u.kern.next_new;
    for (int i = 0; i < 2; i++)
        if (a->u.kern.pend[i].left && a->u.kern.pend[i].t < n)
            n = a->u.kern.pend[i].t;
    return n;
}

static int kernel_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    if (a->src == DS_GEN_NOSRC) {
        int rc = ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_V4, -1, &a->src);
        if (rc < 0)
            return rc;
    }
    struct ds_craft c;
    uint8_t opts[40];
    struct ds_gen_pending *due = NULL;
    for (int i = 0; i < 2; i++)
        if (a->u.kern.pend[i].left && a->u.kern.pend[i].t <= t &&
            (!due || a->u.kern.pend[i].t < due->t))
            due = &a->u.kern.pend[i];
    if (due) { /* a retransmission: same ports and sequence number, new IP ID and timestamp */
        kernel_syn(g, a, t, due, &c, opts);
        kernel_ipid(a, r, &c);
        due->sent++;
        if (--due->left)
            due->t = t + backoff_ns(a, due->sent);
    } else { /* a new connection attempt */
        struct ds_gen_pending p = {.dst = ds_gen_dst4(g, r), .left = a->u.kern.retries};
        p.dport = a->u.kern.ports[ds_rng_below(r, a->u.kern.nports)];
        p.sport = a->u.kern.os == OS_LINUX ? (uint16_t)ds_rng_range(r, 32768, 60999)
                                           : (uint16_t)ds_rng_range(r, 49152, 65535);
        for (;;) {
            p.seq = ds_rng_u32(r);
            kernel_syn(g, a, t, &p, &c, opts);
            c.ip_id = 0;
            if (p.seq == p.dst) /* would look like Mirai */
                continue;
            if (!ds_gen_key_fresh(g, a->src, p.dst, p.dport, p.sport, p.seq))
                continue;
            /* also differ from the keys of pending retransmissions, which may follow */
            uint32_t key = ds_rules_unicorn_key(p.dst, p.dport, p.sport, p.seq);
            bool clash = false;
            for (int i = 0; i < 2; i++) {
                const struct ds_gen_pending *q = &a->u.kern.pend[i];
                clash |= q->left && ds_rules_unicorn_key(q->dst, q->dport, q->sport, q->seq) == key;
            }
            if (!clash)
                break;
        }
        kernel_ipid(a, r, &c);
        if (p.left) {
            for (int i = 0; i < 2; i++) {
                if (!a->u.kern.pend[i].left) { /* both busy: this one is not retried */
                    p.t = t + backoff_ns(a, 0);
                    a->u.kern.pend[i] = p;
                    break;
                }
            }
        }
        a->u.kern.next_new = ds_gen_after(r, t, a->rate);
    }
    *next = next_event(a);
    struct ds_gen_meta m = ds_gen_meta_plain(a->src);
    return ds_gen_emit(g, t, &c, &m);
}

static double kernel_expect(const struct ds_gen *g)
{
    double rate = (KERNEL_HI - KERNEL_LO) / 4.605170185988091 * g->share4; /* ln 100 */
    /* about 2 retransmissions per attempt on average */
    return 3 * rate * ds_gen_expect_active_s(&ds_pop_kernel, (double)(g->t1 - g->t0) / 1e9);
}

const struct ds_gen_pop ds_pop_kernel = {
    .name = "kernel",
    .option = "kernel",
    .description = "connect() scanners through Linux/Windows TCP stacks, with SYN retransmissions",
    .size = {[DS_GEN_PROFILE_DEMO] = 3000,
             [DS_GEN_PROFILE_BENCH] = 20000,
             [DS_GEN_PROFILE_TINY] = 2000},
    .scalable = true,
    .present = 0.8,
    .mean_life_s = 4 * 3600,
    .start = kernel_start,
    .step = kernel_step,
    .expect = kernel_expect,
};
