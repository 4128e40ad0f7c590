/* test_match.c - the packet path's alert matcher: which (organisation, address, case) a
 * decoded and classified packet concerns (internal, external, backscatter with the victim
 * from the quoted header), when reports go out (first at the end of the batch, changes every
 * update_ns of packet time, everything on flush), the exact counts in each report, table
 * growth, and a registry swap that reports and drops the old accumulators. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alert/match.h"
#include "alert/registry.h"
#include "analyze/hosttab.h"
#include "analyze/shard.h"
#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "core/hash.h"
#include "decode/decode.h"
#include "gen/craft.h"
#include "store/store.h"

#define C(x) DS_CLASS_BIT(DS_CLASS_##x)
#define F(x) DS_FP_BIT(DS_FP_##x)
#define P(x) (1u << DS_PROTO_##x)
#define SEC 1000000000ull
#define T0 (1700000040ull * SEC) /* a minute boundary (28333334 * 60 s) */
#define UPDATE (10 * SEC)

/* ------------------------------------------------------------------ registry ------------ */

static char dir[256];
static unsigned seq;

static int group_setup(void **st)
{
    (void)st;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ds-test-match-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static struct ds_addr A(const char *text) {
    struct ds_addr a;
    assert_int_equal(ds_addr_parse(&a, text, NULL), 0);
    return a;
}

struct org_def {
    const char *name;
    const char *live[3], *dark[3];
    bool overlap;
};

/* Organisations used by most tests:
 *   1 Uni:  livenet 198.51.100.0/24, 2001:db8:100::/48; darknet 203.0.113.0/24, 2001:db8:ffff::/64
 *   2 Corp: livenet 192.0.2.0/24; darknet 198.18.0.0/24 */
static const struct org_def ORGS[] = {
    {.name = "Uni",
     .live = {"198.51.100.0/24", "2001:db8:100::/48"},
     .dark = {"203.0.113.0/24", "2001:db8:ffff::/64"}},
    {.name = "Corp", .live = {"192.0.2.0/24"}, .dark = {"198.18.0.0/24"}},
};

static size_t count_of(const char *const *v)
{
    size_t n = 0;
    while (n < 3 && v[n])
        n++;
    return n;
}

/* A store in a temp file holding these organisations (in order: ids 1, 2, ...), then the
 * edits in `removes` (names), then `more`; returns the loaded snapshot. The store is gone
 * afterwards. */
static struct ds_registry *make_registry(const struct org_def *orgs, size_t n,
                                         const char *const *removes, size_t n_removes,
                                         const struct org_def *more, size_t n_more)
{
    char path[300];
    snprintf(path, sizeof path, "%s/match-%u.db", dir, seq++);
    struct ds_store *s;
    struct ds_err err = {0};
    if (ds_store_open(&s, path, false, &err) < 0)
        fail_msg("%s", err.msg);
    for (int pass = 0; pass < 2; pass++) {
        const struct org_def *v = pass ? more : orgs;
        size_t k = pass ? n_more : n;
        for (size_t i = 0; i < k; i++) {
            struct ds_org_spec sp = {.name = v[i].name,
                                     .livenet = v[i].live,
                                     .n_livenet = count_of(v[i].live),
                                     .darknet = v[i].dark,
                                     .n_darknet = count_of(v[i].dark),
                                     .allow_overlap = v[i].overlap};
            int64_t id;
            if (ds_registry_add_org(s, &sp, "test", &id, &err) < 0)
                fail_msg("%s", err.msg);
        }
        for (size_t i = 0; !pass && i < n_removes; i++)
            if (ds_registry_remove_org(s, removes[i], "test", &err) < 0)
                fail_msg("%s", err.msg);
    }
    struct ds_registry *r = NULL;
    if (ds_registry_load(s, &r, &err) < 0)
        fail_msg("%s", err.msg);
    ds_store_close(s);
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[320];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    return r;
}

/* ------------------------------------------------------------------ the test sink ------- */

#define MAX_EV 4096

struct capture {
    struct ds_alert_event ev[MAX_EV];
    size_t n;
};

static void capture_post(void *ctx, const struct ds_alert_event *ev)
{
    struct capture *c = ctx;
    assert_true(c->n < MAX_EV);
    c->ev[c->n++] = *ev;
}

/* One matcher over a registry, with its sink. */
struct mx {
    struct ds_registry *reg;
    _Atomic(const struct ds_registry *) cur;
    struct capture cap;
    struct ds_alert_sink sink;
    struct ds_matcher m;
};

static struct mx *mx_new(struct ds_registry *reg, uint64_t update_ns)
{
    struct mx *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->reg = reg;
    atomic_init(&x->cur, reg);
    x->sink = (struct ds_alert_sink){.ctx = &x->cap, .post = capture_post};
    assert_int_equal(ds_matcher_init(&x->m, &x->cur, &x->sink, update_ns), 0);
    return x;
}

static void mx_free(struct mx *x)
{
    ds_matcher_free(&x->m);
    ds_registry_free(x->reg);
    free(x);
}

static const struct ds_alert_event *find_ev(const struct capture *c, size_t from, const char *addr,
                                            enum ds_alert_case k)
{
    struct ds_addr a = A(addr);
    const struct ds_alert_event *hit = NULL;
    for (size_t i = from; i < c->n; i++)
        if (ds_addr_eq(&c->ev[i].addr, &a) && c->ev[i].kase == k) {
            assert_null(hit); /* exactly one */
            hit = &c->ev[i];
        }
    if (!hit)
        fail_msg("no %s event for %s", ds_case_names[k], addr);
    return hit;
}

/* ------------------------------------------------------------------ packets ------------- */

/* Crafts a frame, decodes and classifies it like the capture path does; the frame was
 * `cut` bytes longer on the wire than captured. */
static struct ds_pkt decode_wire(const struct ds_craft *c, uint64_t ts, uint32_t cut)
{
    static uint8_t buf[2048];
    size_t n = ds_craft_packet(buf, sizeof buf, c);
    assert_true(n > 0);
    struct ds_pkt p;
    assert_int_equal(
        ds_decode(ds_craft_linktype(c->link), buf, (uint32_t)n, (uint32_t)n + cut, ts, &p),
        DS_DECODE_OK);
    assert_int_equal(p.wirelen, n + cut);
    ds_classify(&p);
    p.payload = NULL; /* the shards never see the frame */
    return p;
}

static struct ds_pkt decode(const struct ds_craft *c, uint64_t ts)
{
    return decode_wire(c, ts, 0);
}

static struct ds_pkt tcp(const char *src, uint16_t sport, const char *dst, uint16_t dport,
                         uint8_t flags, uint64_t ts)
{
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .src = A(src),
                         .dst = A(dst),
                         .ttl = 50,
                         .ip_id = 4321,
                         .proto = 6,
                         .sport = sport,
                         .dport = dport,
                         .seq = 0x11223344,
                         .ack = flags & DS_TCP_ACK ? 0x55667788 : 0,
                         .tcp_flags = flags,
                         .win = 29200};
    return decode(&c, ts);
}

static struct ds_pkt syn(const char *src, const char *dst, uint16_t dport, uint64_t ts)
{
    return tcp(src, 40000, dst, dport, DS_TCP_SYN, ts);
}

static struct ds_pkt udp(const char *src, const char *dst, uint16_t dport, size_t len, uint64_t ts)
{
    static const uint8_t zero[256];
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .src = A(src),
                         .dst = A(dst),
                         .ttl = 60,
                         .ip_id = 99,
                         .proto = 17,
                         .sport = 5353,
                         .dport = dport,
                         .payload = zero,
                         .payload_len = len};
    return decode(&c, ts);
}

static struct ds_pkt icmp(const char *src, const char *dst, uint8_t type, uint64_t ts)
{
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .src = A(src),
                         .dst = A(dst),
                         .ttl = 60,
                         .ip_id = 7,
                         .proto = strchr(src, ':') ? 58 : 1,
                         .icmp_type = type,
                         .icmp_rest = 0x00010002};
    return decode(&c, ts);
}

/* An ICMP port unreachable from `router` to `dst` quoting a UDP packet qsrc -> qdst. */
static struct ds_pkt icmp_error(const char *router, const char *dst, const char *qsrc,
                                const char *qdst, uint64_t ts)
{
    uint8_t inner[64];
    struct ds_craft q = {.link = DS_CRAFT_RAW,
                         .src = A(qsrc),
                         .dst = A(qdst),
                         .ttl = 50,
                         .proto = 17,
                         .sport = 3333,
                         .dport = 53};
    assert_true(ds_craft_packet(inner, sizeof inner, &q) >= 28);
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .src = A(router),
                         .dst = A(dst),
                         .ttl = 60,
                         .proto = 1,
                         .icmp_type = 3,
                         .icmp_code = 3,
                         .payload = inner,
                         .payload_len = 28};
    struct ds_pkt p = decode(&c, ts);
    assert_true(p.flags & DS_PKT_QUOTE);
    return p;
}

static uint64_t target_bit(const char *dst)
{
    struct ds_addr a = A(dst);
    return 1ull << (ds_mix64(ds_hash_addr16(a.b)) & 63);
}

static void check_sample(const struct ds_alert_sample *s, const struct ds_pkt *p)
{
    assert_int_equal(s->ts_ns, p->ts_ns);
    assert_true(ds_addr_eq(&s->src, &p->src));
    assert_true(ds_addr_eq(&s->dst, &p->dst));
    assert_int_equal(s->proto, p->proto);
    assert_int_equal(s->ttl, p->ttl);
    assert_int_equal(s->tcp_flags, p->tcp_flags);
    assert_int_equal(s->sport, p->sport);
    assert_int_equal(s->dport, p->dport);
    assert_int_equal(s->win, p->win);
    assert_int_equal(s->ip_id, p->ip_id);
    assert_int_equal(s->seq, p->seq);
    assert_int_equal(s->icmp_type, p->icmp_type);
    assert_int_equal(s->icmp_code, p->icmp_code);
}

static void check_port(const struct ds_alert_event *ev, size_t i, uint8_t proto, uint16_t port,
                       uint64_t packets)
{
    assert_true(i < ev->n_ports);
    assert_int_equal(ev->ports[i].proto, proto);
    assert_int_equal(ev->ports[i].port, port);
    assert_int_equal(ev->ports[i].packets, packets);
}

static void check_key(const struct ds_alert_event *ev, int64_t org, const char *addr,
                      enum ds_alert_case k)
{
    struct ds_addr a = A(addr);
    assert_int_equal(ev->org_id, org);
    assert_true(ds_addr_eq(&ev->addr, &a));
    assert_int_equal(ev->kase, k);
}

/* A batch the way a shard runs one: begin, packets, end at the last packet's time. */
static void batch(struct mx *x, const struct ds_pkt *p, size_t n, const struct ds_host *h)
{
    ds_matcher_begin(&x->m);
    for (size_t i = 0; i < n; i++)
        ds_matcher_packet(&x->m, &p[i], h, DS_MEMO_NONE);
    if (n)
        ds_matcher_end(&x->m, p[n - 1].ts_ns);
}

/* ------------------------------------------------------------------ cases --------------- */

static void test_internal(void **st)
{
    (void)st;
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    struct ds_host h = {.flags = DS_HF_HSCAN};
    struct ds_pkt p[4];
    p[0] = syn("198.51.100.7", "203.0.113.5", 23, T0);
    { /* a Mirai probe: sequence number == destination */
        struct ds_craft c = {.link = DS_CRAFT_RAW,
                             .src = A("198.51.100.7"),
                             .dst = A("203.0.113.9"),
                             .ttl = 64,
                             .ip_id = 1234,
                             .proto = 6,
                             .sport = 40001,
                             .dport = 2323,
                             .seq = 0xCB007109, /* == 203.0.113.9 */
                             .tcp_flags = DS_TCP_SYN,
                             .win = 5840};
        p[1] = decode(&c, T0 + 1 * SEC);
    }
    p[2] = syn("198.51.100.7", "203.0.113.5", 23, T0 + 2 * SEC);
    p[3] = syn("198.51.100.7", "203.0.113.200", 23, T0 + 2 * SEC);
    assert_int_equal(p[0].classes, C(TCP_SYN) | C(NONROUTABLE_SRC));
    assert_int_equal(p[0].fps, 0);
    assert_int_equal(p[1].fps, F(MIRAI));
    assert_int_equal(p[0].wirelen, 40);

    ds_matcher_begin(&x->m);
    for (int i = 0; i < 4; i++)
        ds_matcher_packet(&x->m, &p[i], &h, DS_MEMO_NONE);
    assert_int_equal(x->cap.n, 0); /* nothing before the end of the batch */
    assert_int_equal(x->m.matched, 4);
    ds_matcher_end(&x->m, T0 + 2 * SEC);
    assert_int_equal(x->cap.n, 1);
    const struct ds_alert_event *ev = &x->cap.ev[0];
    check_key(ev, 1, "198.51.100.7", DS_CASE_INTERNAL);
    assert_true(ev->first);
    assert_int_equal(ev->first_ns, T0);
    assert_int_equal(ev->last_ns, T0 + 2 * SEC);
    assert_int_equal(ev->packets, 4);
    assert_int_equal(ev->bytes, 160);
    uint64_t bits =
        target_bit("203.0.113.5") | target_bit("203.0.113.9") | target_bit("203.0.113.200");
    assert_int_equal(ev->targets_bits, bits);
    assert_int_equal(__builtin_popcountll(ev->targets_bits), 3); /* no collision among these */
    assert_int_equal(ev->protos, P(TCP));
    assert_int_equal(ev->classes, C(TCP_SYN) | C(NONROUTABLE_SRC));
    assert_int_equal(ev->fps, F(MIRAI));
    assert_string_equal(ev->scan_type, "horizontal");
    assert_int_equal(ev->n_ports, 2);
    check_port(ev, 0, 6, 23, 3);
    check_port(ev, 1, 6, 2323, 1);
    assert_int_equal(ev->n_samples, 3);
    for (int i = 0; i < 3; i++)
        check_sample(&ev->samples[i], &p[i]);
    assert_int_equal(ev->peak_ppm, 0);
    assert_int_equal(x->m.count, 1);

    /* nothing left: another end and a flush report nothing */
    ds_matcher_end(&x->m, T0 + 60 * SEC);
    ds_matcher_flush(&x->m);
    assert_int_equal(x->cap.n, 1);
    mx_free(x);
}

static void test_external(void **st)
{
    (void)st;
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    struct ds_pkt p[5];
    p[0] = udp("198.51.100.8", "198.18.0.5", 53, 12, T0);       /* Corp's darknet */
    p[1] = udp("198.51.100.8", "100.100.1.1", 123, 48, T0 + 5); /* nobody's */
    p[2] = syn("198.51.100.8", "203.0.113.77", 80, T0 + 6);     /* Uni's own: internal */
    p[3] = udp("198.51.100.8", "100.100.1.1", 123, 48, T0 + 7);
    p[4] = syn("192.0.2.44", "203.0.113.77", 445, T0 + 8); /* Corp -> Uni's darknet */
    assert_int_equal(p[0].classes, C(UDP) | C(NONROUTABLE_SRC));
    assert_int_equal(p[0].wirelen, 40);
    assert_int_equal(p[1].wirelen, 76);
    struct ds_host h = {.flags = DS_HF_VSCAN};
    struct ds_host both = {.flags = DS_HF_VSCAN | DS_HF_HSCAN};
    ds_matcher_begin(&x->m);
    for (int i = 0; i < 4; i++)
        ds_matcher_packet(&x->m, &p[i], &h, DS_MEMO_NONE);
    ds_matcher_packet(&x->m, &p[4], &both, DS_MEMO_NONE);
    ds_matcher_end(&x->m, T0 + 8);
    assert_int_equal(x->cap.n, 3);
    assert_int_equal(x->m.matched, 5);

    const struct ds_alert_event *ev = find_ev(&x->cap, 0, "198.51.100.8", DS_CASE_EXTERNAL);
    check_key(ev, 1, "198.51.100.8", DS_CASE_EXTERNAL);
    assert_true(ev->first);
    assert_int_equal(ev->first_ns, T0);
    assert_int_equal(ev->last_ns, T0 + 7);
    assert_int_equal(ev->packets, 3);
    assert_int_equal(ev->bytes, 40 + 76 + 76);
    assert_int_equal(ev->targets_bits, target_bit("198.18.0.5") | target_bit("100.100.1.1"));
    assert_int_equal(ev->protos, P(UDP));
    assert_int_equal(ev->classes, C(UDP) | C(NONROUTABLE_SRC));
    assert_int_equal(ev->fps, 0);
    assert_string_equal(ev->scan_type, "vertical");
    assert_int_equal(ev->n_ports, 2);
    check_port(ev, 0, 17, 53, 1);
    check_port(ev, 1, 17, 123, 2);
    assert_int_equal(ev->n_samples, 3);
    check_sample(&ev->samples[0], &p[0]);
    check_sample(&ev->samples[1], &p[1]);
    check_sample(&ev->samples[2], &p[3]);

    ev = find_ev(&x->cap, 0, "198.51.100.8", DS_CASE_INTERNAL);
    check_key(ev, 1, "198.51.100.8", DS_CASE_INTERNAL);
    assert_int_equal(ev->packets, 1);
    assert_int_equal(ev->bytes, 40);
    assert_int_equal(ev->first_ns, T0 + 6);
    assert_int_equal(ev->last_ns, T0 + 6);
    assert_int_equal(ev->targets_bits, target_bit("203.0.113.77"));
    assert_int_equal(ev->n_ports, 1);
    check_port(ev, 0, 6, 80, 1);
    assert_int_equal(ev->n_samples, 1);
    check_sample(&ev->samples[0], &p[2]);

    /* Uni's darknet is "any other darknet" for Corp */
    ev = find_ev(&x->cap, 0, "192.0.2.44", DS_CASE_EXTERNAL);
    check_key(ev, 2, "192.0.2.44", DS_CASE_EXTERNAL);
    assert_int_equal(ev->packets, 1);
    assert_string_equal(ev->scan_type, "both");
    check_port(ev, 0, 6, 445, 1);
    /* reports come in the order the keys were first seen */
    check_key(&x->cap.ev[0], 1, "198.51.100.8", DS_CASE_EXTERNAL);
    check_key(&x->cap.ev[1], 1, "198.51.100.8", DS_CASE_INTERNAL);
    check_key(&x->cap.ev[2], 2, "192.0.2.44", DS_CASE_EXTERNAL);
    mx_free(x);
}

static void test_ipv6(void **st)
{
    (void)st;
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    struct ds_pkt p[5];
    p[0] = syn("2001:db8:100::5", "2001:db8:ffff::1", 22, T0);
    p[1] = syn("2001:db8:100::5", "2001:db8:ffff:1::1", 22, T0 + SEC); /* outside the /64 */
    p[2] = icmp("2001:db8:100::5", "2001:db8:ffff::2", 128, T0 + 2 * SEC);
    p[3] = icmp("2001:db8:100:ab::9", "2001:db8:ffff::3", 129, T0 + 3 * SEC); /* a reply */
    p[4] = syn("2001:db8:101::5", "2001:db8:ffff::1", 22, T0 + 4 * SEC);      /* not Uni's */
    assert_int_equal(p[0].wirelen, 60);
    assert_int_equal(p[2].wirelen, 48);
    assert_int_equal(p[2].classes, C(ICMP_REQUEST) | C(NONROUTABLE_SRC));
    assert_int_equal(p[3].classes, C(BACKSCATTER) | C(NONROUTABLE_SRC));
    batch(x, p, 5, NULL);
    assert_int_equal(x->m.matched, 4);
    assert_int_equal(x->cap.n, 3);

    const struct ds_alert_event *ev = find_ev(&x->cap, 0, "2001:db8:100::5", DS_CASE_INTERNAL);
    check_key(ev, 1, "2001:db8:100::5", DS_CASE_INTERNAL);
    assert_int_equal(ev->packets, 2);
    assert_int_equal(ev->bytes, 60 + 48);
    assert_int_equal(ev->first_ns, T0);
    assert_int_equal(ev->last_ns, T0 + 2 * SEC);
    assert_int_equal(ev->protos, P(TCP) | P(ICMP6));
    assert_int_equal(ev->classes, C(TCP_SYN) | C(ICMP_REQUEST) | C(NONROUTABLE_SRC));
    assert_int_equal(ev->targets_bits,
                     target_bit("2001:db8:ffff::1") | target_bit("2001:db8:ffff::2"));
    assert_int_equal(ev->n_ports, 1); /* ICMP has no port */
    check_port(ev, 0, 6, 22, 1);
    assert_string_equal(ev->scan_type, ""); /* no profile given */
    assert_int_equal(ev->n_samples, 2);
    check_sample(&ev->samples[0], &p[0]);
    check_sample(&ev->samples[1], &p[2]);

    ev = find_ev(&x->cap, 0, "2001:db8:100::5", DS_CASE_EXTERNAL);
    assert_int_equal(ev->packets, 1);
    assert_int_equal(ev->bytes, 60);
    check_sample(&ev->samples[0], &p[1]);

    ev = find_ev(&x->cap, 0, "2001:db8:100:ab::9", DS_CASE_BACKSCATTER);
    check_key(ev, 1, "2001:db8:100:ab::9", DS_CASE_BACKSCATTER);
    assert_int_equal(ev->packets, 1);
    assert_int_equal(ev->protos, P(ICMP6));
    assert_int_equal(ev->n_ports, 0);
    assert_int_equal(ev->peak_ppm, 1);
    mx_free(x);
}

static void test_backscatter(void **st)
{
    (void)st;
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    struct ds_host h = {.flags = DS_HF_HSCAN}; /* ignored for the victim's case */
    struct ds_pkt p[10];
    p[0] = tcp("192.0.2.80", 80, "203.0.113.50", 5555, DS_TCP_SYN | DS_TCP_ACK, T0);
    /* to Corp's own darknet: still the victim's case, not internal */
    p[1] = tcp("192.0.2.80", 443, "198.18.0.9", 6000, DS_TCP_RST, T0 + 10 * SEC);
    p[2] = tcp("192.0.2.80", 80, "203.0.113.51", 5556, DS_TCP_RST | DS_TCP_ACK, T0 + 61 * SEC);
    p[3] = icmp("192.0.2.80", "203.0.113.52", 0, T0 + 62 * SEC); /* echo reply */
    p[4] = tcp("192.0.2.80", 80, "203.0.113.50", 5557, DS_TCP_SYN | DS_TCP_ACK, T0 + 63 * SEC);
    /* a router's error about Corp's 192.0.2.81: the victim is the quoted destination */
    p[5] = icmp_error("93.184.216.1", "203.0.113.77", "203.0.113.77", "192.0.2.81", T0 + 64 * SEC);
    /* Corp's own router reporting about somebody else: nobody's case, not Corp's */
    p[6] = icmp_error("192.0.2.1", "203.0.113.78", "203.0.113.78", "93.184.216.34", T0 + 65 * SEC);
    /* an outside victim's replies */
    p[7] = tcp("93.184.216.34", 80, "203.0.113.9", 5555, DS_TCP_SYN | DS_TCP_ACK, T0 + 66 * SEC);
    /* a SYN from the same Corp address is its external case, a key of its own */
    p[8] = syn("192.0.2.80", "203.0.113.50", 23, T0 + 67 * SEC);
    p[9] = tcp("192.0.2.80", 80, "203.0.113.53", 5558, DS_TCP_SYN | DS_TCP_ACK, T0 + 68 * SEC);
    assert_int_equal(p[0].classes, C(BACKSCATTER) | C(NONROUTABLE_SRC));
    assert_int_equal(p[3].classes, C(BACKSCATTER) | C(NONROUTABLE_SRC));
    assert_int_equal(p[5].classes, C(BACKSCATTER));
    assert_int_equal(p[5].wirelen, 56);
    assert_int_equal(p[6].classes, C(BACKSCATTER) | C(NONROUTABLE_SRC));
    assert_int_equal(p[3].wirelen, 28);
    batch(x, p, 10, &h);
    assert_int_equal(x->m.matched, 8);
    assert_int_equal(x->cap.n, 3);

    const struct ds_alert_event *ev = &x->cap.ev[0];
    check_key(ev, 2, "192.0.2.80", DS_CASE_BACKSCATTER);
    assert_true(ev->first);
    assert_int_equal(ev->packets, 6);
    assert_int_equal(ev->bytes, 5 * 40 + 28);
    assert_int_equal(ev->first_ns, T0);
    assert_int_equal(ev->last_ns, T0 + 68 * SEC);
    assert_int_equal(ev->targets_bits, target_bit("203.0.113.50") | target_bit("198.18.0.9") |
                                           target_bit("203.0.113.51") | target_bit("203.0.113.52") |
                                           target_bit("203.0.113.53"));
    assert_int_equal(ev->protos, P(TCP) | P(ICMP));
    assert_int_equal(ev->classes, C(BACKSCATTER) | C(NONROUTABLE_SRC));
    assert_int_equal(ev->fps, 0);
    assert_string_equal(ev->scan_type, "");
    /* the victim's service ports (the replies' source ports) */
    assert_int_equal(ev->n_ports, 2);
    check_port(ev, 0, 6, 80, 4);
    check_port(ev, 1, 6, 443, 1);
    /* minute T0: 2 packets, minute T0 + 60 s: 4 */
    assert_int_equal(ev->peak_ppm, 4);
    assert_int_equal(ev->n_samples, 3);
    for (int i = 0; i < 3; i++)
        check_sample(&ev->samples[i], &p[i]);

    ev = &x->cap.ev[1];
    check_key(ev, 2, "192.0.2.81", DS_CASE_BACKSCATTER);
    assert_int_equal(ev->packets, 1);
    assert_int_equal(ev->bytes, 56);
    assert_int_equal(ev->targets_bits, target_bit("203.0.113.77"));
    assert_int_equal(ev->protos, P(ICMP));
    assert_int_equal(ev->classes, C(BACKSCATTER));
    assert_int_equal(ev->n_ports, 0);
    assert_int_equal(ev->peak_ppm, 1);
    assert_int_equal(ev->n_samples, 1);
    check_sample(&ev->samples[0], &p[5]); /* the packet as seen: the router's */

    ev = &x->cap.ev[2];
    check_key(ev, 2, "192.0.2.80", DS_CASE_EXTERNAL);
    assert_int_equal(ev->packets, 1);
    assert_int_equal(ev->peak_ppm, 0);
    assert_string_equal(ev->scan_type, "horizontal");
    check_port(ev, 0, 6, 23, 1);
    mx_free(x);
}

/* Peak packets per minute of a backscatter key, per report span. */
static void test_backscatter_peak(void **st)
{
    (void)st;
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    struct ds_pkt p[8];
    for (int i = 0; i < 3; i++)
        p[i] = tcp("192.0.2.90", 53, "203.0.113.1", 1000, DS_TCP_RST, T0 + 59 * SEC + (uint64_t)i);
    batch(x, p, 3, NULL); /* first report: 3 in minute T0 */
    assert_int_equal(x->cap.n, 1);
    assert_int_equal(x->cap.ev[0].peak_ppm, 3);
    /* the next minute: 2 packets; then 5 more in the minute after, reported together */
    p[0] = tcp("192.0.2.90", 53, "203.0.113.1", 1000, DS_TCP_RST, T0 + 60 * SEC);
    p[1] = tcp("192.0.2.90", 53, "203.0.113.1", 1000, DS_TCP_RST, T0 + 61 * SEC);
    batch(x, p, 2, NULL);
    for (int i = 0; i < 5; i++)
        p[i] = tcp("192.0.2.90", 53, "203.0.113.1", 1000, DS_TCP_RST,
                   T0 + 120 * SEC + (uint64_t)i * SEC);
    batch(x, p, 5, NULL);
    assert_int_equal(x->cap.n, 2);
    const struct ds_alert_event *ev = &x->cap.ev[1];
    assert_false(ev->first);
    assert_int_equal(ev->packets, 7);
    assert_int_equal(ev->peak_ppm, 5);
    assert_int_equal(ev->first_ns, T0 + 60 * SEC);
    assert_int_equal(ev->last_ns, T0 + 124 * SEC);
    check_port(ev, 0, 6, 53, 7);
    assert_int_equal(ev->n_samples, 0); /* samples come with the first report only */

    /* a quiet span after a busy one reports its own, lower peak (due at once: the last
     * report was more than update_ns ago) */
    p[0] = tcp("192.0.2.90", 53, "203.0.113.1", 1000, DS_TCP_RST, T0 + 239 * SEC);
    batch(x, p, 1, NULL);
    assert_int_equal(x->cap.n, 3);
    ev = &x->cap.ev[2];
    assert_int_equal(ev->packets, 1);
    assert_int_equal(ev->peak_ppm, 1);
    /* a span that starts inside a minute counts that whole minute: T0 + 180 s has 2 */
    p[0] = tcp("192.0.2.90", 53, "203.0.113.1", 1000, DS_TCP_RST, T0 + 239 * SEC + SEC / 2);
    batch(x, p, 1, NULL);
    assert_int_equal(x->cap.n, 3);
    ds_matcher_flush(&x->m);
    assert_int_equal(x->cap.n, 4);
    assert_int_equal(x->cap.ev[3].packets, 1);
    assert_int_equal(x->cap.ev[3].peak_ppm, 2);
    mx_free(x);
}

static void test_unregistered(void **st)
{
    (void)st;
    struct ds_registry *reg = make_registry(ORGS, 2, NULL, 0, NULL, 0);
    struct ds_pkt p[8];
    p[0] = syn("93.184.216.34", "203.0.113.5", 23, T0); /* to Uni's darknet from outside */
    p[1] = udp("93.184.216.34", "198.18.0.1", 1900, 20, T0 + 1);
    p[2] = icmp("93.184.216.34", "203.0.113.5", 8, T0 + 2);
    p[3] = syn("2a01:4f8::1", "2001:db8:ffff::1", 23, T0 + 3);
    p[4] = syn("198.51.101.7", "203.0.113.5", 23, T0 + 4); /* next to Uni's /24 */
    p[5] = syn("192.0.3.1", "203.0.113.5", 23, T0 + 5);
    p[6] = syn("203.0.113.5", "203.0.113.6", 23, T0 + 6); /* from a darknet (not a livenet) */
    p[7] = tcp("198.18.0.7", 80, "203.0.113.9", 5555, DS_TCP_SYN | DS_TCP_ACK, T0 + 7);
    struct mx *x = mx_new(reg, UPDATE);
    batch(x, p, 8, NULL);
    ds_matcher_flush(&x->m);
    assert_int_equal(x->m.matched, 0);
    assert_int_equal(x->m.count, 0);
    assert_int_equal(x->cap.n, 0);
    mx_free(x);

    /* a snapshot without organisations, and no snapshot at all: the org's packets too */
    struct ds_pkt q[2];
    q[0] = syn("198.51.100.7", "203.0.113.5", 23, T0);
    q[1] = tcp("192.0.2.80", 80, "203.0.113.9", 5555, DS_TCP_RST, T0);
    x = mx_new(make_registry(NULL, 0, NULL, 0, NULL, 0), UPDATE);
    assert_int_equal(x->reg->n_orgs, 0);
    batch(x, q, 2, NULL);
    ds_matcher_flush(&x->m);
    assert_int_equal(x->m.matched, 0);
    assert_int_equal(x->cap.n, 0);
    mx_free(x);
    x = mx_new(NULL, UPDATE);
    batch(x, q, 2, NULL);
    ds_matcher_flush(&x->m);
    assert_int_equal(x->m.matched, 0);
    assert_int_equal(x->cap.n, 0);
    mx_free(x);
    /* and a matcher without a registry pointer */
    struct ds_matcher m;
    struct capture *c = calloc(1, sizeof *c);
    assert_non_null(c);
    struct ds_alert_sink sink = {.ctx = c, .post = capture_post};
    assert_int_equal(ds_matcher_init(&m, NULL, &sink, UPDATE), 0);
    ds_matcher_begin(&m);
    ds_matcher_packet(&m, &q[0], NULL, DS_MEMO_NONE);
    ds_matcher_end(&m, T0);
    ds_matcher_flush(&m);
    assert_int_equal(m.matched, 0);
    assert_int_equal(c->n, 0);
    ds_matcher_free(&m);
    free(c);
}

/* ------------------------------------------------------------------ timing -------------- */

static void test_update_timing(void **st)
{
    (void)st;
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    struct capture *c = &x->cap;
    const char *k = "198.51.100.7", *k2 = "198.51.100.9";
    struct ds_pkt p[2];

    p[0] = syn(k, "203.0.113.5", 23, T0);
    batch(x, p, 1, NULL);
    assert_int_equal(c->n, 1); /* the first report does not wait */
    assert_true(c->ev[0].first);
    assert_int_equal(c->ev[0].packets, 1);

    /* 3 s later: k's change waits; k2 is new and reported at once */
    p[0] = syn(k, "203.0.113.6", 23, T0 + 3 * SEC);
    p[1] = syn(k2, "203.0.113.6", 80, T0 + 3 * SEC);
    batch(x, p, 2, NULL);
    assert_int_equal(c->n, 2);
    check_key(&c->ev[1], 1, k2, DS_CASE_INTERNAL);
    assert_true(c->ev[1].first);

    p[0] = syn(k, "203.0.113.7", 23, T0 + 6 * SEC);
    p[1] = syn(k2, "203.0.113.7", 80, T0 + 6 * SEC);
    batch(x, p, 2, NULL);
    p[0] = syn(k, "203.0.113.5", 23, T0 + 10 * SEC - 1);
    batch(x, p, 1, NULL);
    assert_int_equal(c->n, 2);        /* less than update_ns after the last report */
    assert_int_equal(x->m.n_wait, 2); /* both reported before: waiting, not fresh */
    assert_int_equal(x->m.n_fresh, 0);

    /* exactly update_ns after the last report: every change goes out */
    p[0] = syn(k, "203.0.113.8", 2323, T0 + 10 * SEC);
    batch(x, p, 1, NULL);
    assert_int_equal(c->n, 4);
    const struct ds_alert_event *ev = find_ev(c, 2, k, DS_CASE_INTERNAL);
    check_key(ev, 1, k, DS_CASE_INTERNAL);
    assert_false(ev->first);
    assert_int_equal(ev->packets, 4);
    assert_int_equal(ev->bytes, 160);
    assert_int_equal(ev->first_ns, T0 + 3 * SEC);
    assert_int_equal(ev->last_ns, T0 + 10 * SEC);
    /* the bitmap is what it has seen so far, the ports what came since the last report */
    assert_int_equal(ev->targets_bits, target_bit("203.0.113.5") | target_bit("203.0.113.6") |
                                           target_bit("203.0.113.7") | target_bit("203.0.113.8"));
    assert_int_equal(ev->n_ports, 2);
    check_port(ev, 0, 6, 23, 3);
    check_port(ev, 1, 6, 2323, 1);
    assert_int_equal(ev->n_samples, 0);
    ev = find_ev(c, 2, k2, DS_CASE_INTERNAL);
    assert_false(ev->first);
    assert_int_equal(ev->packets, 1);
    assert_int_equal(ev->first_ns, T0 + 6 * SEC);
    assert_int_equal(ev->last_ns, T0 + 6 * SEC);
    assert_int_equal(x->m.n_wait, 0);
    assert_int_equal(x->m.n_fresh, 0);

    /* the next window: T0 + 20 s */
    p[0] = syn(k, "203.0.113.5", 23, T0 + 15 * SEC);
    batch(x, p, 1, NULL);
    p[0] = syn(k, "203.0.113.5", 23, T0 + 19 * SEC);
    batch(x, p, 1, NULL);
    assert_int_equal(c->n, 4);
    ds_matcher_flush(&x->m); /* end of input: now */
    assert_int_equal(c->n, 5);
    assert_int_equal(c->ev[4].packets, 2);
    assert_int_equal(c->ev[4].first_ns, T0 + 15 * SEC);
    assert_int_equal(c->ev[4].last_ns, T0 + 19 * SEC);
    ds_matcher_flush(&x->m);
    assert_int_equal(c->n, 5);

    /* after a quiet spell a change is due at once */
    p[0] = syn(k, "203.0.113.5", 23, T0 + 300 * SEC);
    batch(x, p, 1, NULL);
    assert_int_equal(c->n, 6);
    assert_false(c->ev[5].first);
    assert_int_equal(c->ev[5].packets, 1);
    assert_int_equal(x->m.matched, 10);
    mx_free(x);
}

static void test_flush(void **st)
{
    (void)st;
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    struct ds_pkt p[3];
    p[0] = syn("198.51.100.7", "203.0.113.5", 23, T0);
    p[1] = syn("198.51.100.8", "100.100.1.1", 23, T0 + 1);
    p[2] = tcp("192.0.2.80", 80, "203.0.113.9", 5555, DS_TCP_RST, T0 + 2);
    /* packets with no end of batch: the flush reports them */
    ds_matcher_begin(&x->m);
    for (int i = 0; i < 3; i++)
        ds_matcher_packet(&x->m, &p[i], NULL, DS_MEMO_NONE);
    assert_int_equal(x->cap.n, 0);
    ds_matcher_flush(&x->m);
    assert_int_equal(x->cap.n, 3);
    check_key(&x->cap.ev[0], 1, "198.51.100.7", DS_CASE_INTERNAL);
    check_key(&x->cap.ev[1], 1, "198.51.100.8", DS_CASE_EXTERNAL);
    check_key(&x->cap.ev[2], 2, "192.0.2.80", DS_CASE_BACKSCATTER);
    for (int i = 0; i < 3; i++) {
        assert_true(x->cap.ev[i].first);
        assert_int_equal(x->cap.ev[i].packets, 1);
        assert_int_equal(x->cap.ev[i].first_ns, T0 + (uint64_t)i);
        assert_int_equal(x->cap.ev[i].n_samples, 1);
    }
    ds_matcher_flush(&x->m);
    assert_int_equal(x->cap.n, 3);
    /* the update clock starts at the first end of a batch (a flush does not set it): this
     * change is due at once */
    p[0].ts_ns = T0 + SEC;
    batch(x, p, 1, NULL);
    assert_int_equal(x->cap.n, 4);
    check_key(&x->cap.ev[3], 1, "198.51.100.7", DS_CASE_INTERNAL);
    assert_false(x->cap.ev[3].first);
    assert_int_equal(x->cap.ev[3].first_ns, T0 + SEC);
    /* one that is not due yet goes out with the next flush */
    p[0].ts_ns = T0 + 2 * SEC;
    batch(x, p, 1, NULL);
    assert_int_equal(x->cap.n, 4);
    ds_matcher_flush(&x->m);
    assert_int_equal(x->cap.n, 5);
    check_key(&x->cap.ev[4], 1, "198.51.100.7", DS_CASE_INTERNAL);
    assert_false(x->cap.ev[4].first);
    assert_int_equal(x->cap.ev[4].packets, 1);
    assert_int_equal(x->cap.ev[4].first_ns, T0 + 2 * SEC);
    assert_int_equal(x->cap.ev[4].last_ns, T0 + 2 * SEC);
    assert_int_equal(x->cap.ev[4].n_samples, 0);
    ds_matcher_flush(&x->m);
    assert_int_equal(x->cap.n, 5);
    mx_free(x);

    /* a matcher without a sink drops reports but keeps its state right */
    struct ds_registry *reg = make_registry(ORGS, 2, NULL, 0, NULL, 0);
    _Atomic(const struct ds_registry *) cur;
    atomic_init(&cur, reg);
    struct ds_matcher m;
    assert_int_equal(ds_matcher_init(&m, &cur, NULL, UPDATE), 0);
    ds_matcher_packet(&m, &p[1], NULL, DS_MEMO_NONE);
    ds_matcher_end(&m, T0);
    assert_int_equal(m.matched, 1);
    assert_int_equal(m.n_fresh + m.n_wait, 0);
    ds_matcher_flush(&m);
    ds_matcher_free(&m);
    ds_registry_free(reg);
}

/* ------------------------------------------------------------------ counts -------------- */

static void test_ports_and_counts(void **st)
{
    (void)st;
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    static const uint16_t ports[] = {23, 23, 23, 80, 80, 443, 22, 8080, 2323, 2323, 5555};
    enum { N = sizeof ports / sizeof ports[0] };
    struct ds_pkt p[N + 2];
    uint64_t bytes = 0, bits = 0;
    /* out-of-order times: first and last are the extremes, not the ends of the batch */
    static const uint64_t off[N] = {5, 2, 9, 7, 1, 3, 4, 6, 8, 10, 11};
    for (int i = 0; i < N; i++) {
        char dst[32];
        snprintf(dst, sizeof dst, "203.0.113.%d", 10 + i % 4);
        p[i] = syn("198.51.100.20", dst, ports[i], T0 + off[i] * SEC);
        bits |= target_bit(dst);
        bytes += p[i].wirelen;
    }
    /* a UDP packet to a port already listed for TCP is a different entry; so is a TCP SYN
     * with options (60 bytes) */
    p[N] = udp("198.51.100.20", "203.0.113.10", 23, 100, T0 + 6 * SEC);
    {
        struct ds_craft c = {.link = DS_CRAFT_RAW,
                             .src = A("198.51.100.20"),
                             .dst = A("203.0.113.99"),
                             .ttl = 50,
                             .proto = 6,
                             .sport = 40000,
                             .dport = 23,
                             .seq = 1,
                             .tcp_flags = DS_TCP_SYN,
                             .win = 64240,
                             .tcp_opts = ds_opts_linux,
                             .tcp_opts_len = sizeof ds_opts_linux};
        /* an Ethernet frame with a VLAN tag, cut by the snap length: the bytes counted are
         * the frame's length on the wire */
        c.link = DS_CRAFT_ETHERNET;
        c.vlan = 7;
        p[N + 1] = decode_wire(&c, T0 + 6 * SEC, 1000);
    }
    assert_int_equal(p[N].wirelen, 128);
    assert_int_equal(p[N + 1].wirelen, 78 + 1000);
    assert_int_equal(p[N + 1].ip_len, 60);
    bytes += 128 + 1078;
    bits |= target_bit("203.0.113.99");
    ds_matcher_begin(&x->m);
    for (int i = 0; i < N + 2; i++)
        ds_matcher_packet(&x->m, &p[i], NULL, DS_MEMO_NONE);
    ds_matcher_end(&x->m, T0 + 11 * SEC);
    assert_int_equal(x->cap.n, 1);
    const struct ds_alert_event *ev = &x->cap.ev[0];
    assert_int_equal(ev->packets, N + 2);
    assert_int_equal(ev->bytes, bytes);
    assert_int_equal(ev->bytes, 11 * 40 + 128 + 1078);
    assert_int_equal(ev->first_ns, T0 + 1 * SEC);
    assert_int_equal(ev->last_ns, T0 + 11 * SEC);
    assert_int_equal(ev->targets_bits, bits);
    assert_int_equal(__builtin_popcountll(bits), 5);
    assert_int_equal(ev->protos, P(TCP) | P(UDP));
    assert_int_equal(ev->classes, C(TCP_SYN) | C(UDP) | C(NONROUTABLE_SRC));
    /* five entries: 23x3, 80x2, 443, 22, 8080; then each newcomer takes the first least busy
     * entry and starts at 1 (counts are exact since a port entered, never more than was
     * sent): 2323 takes 443 and counts on to 2, 5555 takes 22, udp/23 takes 5555, tcp/23
     * again is 4 */
    assert_int_equal(ev->n_ports, 5);
    check_port(ev, 0, 6, 23, 4);
    check_port(ev, 1, 6, 80, 2);
    check_port(ev, 2, 6, 2323, 2);
    check_port(ev, 3, 17, 23, 1);
    check_port(ev, 4, 6, 8080, 1);
    assert_int_equal(ev->n_samples, 3);
    for (int i = 0; i < 3; i++)
        check_sample(&ev->samples[i], &p[i]);
    mx_free(x);
}

/* More keys than the initial table holds: it grows while reports are pending, and every
 * key is reported exactly once per report round with its own counts. */
static void test_grow(void **st)
{
    (void)st;
    enum { N = 1000 };
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    struct ds_pkt *p = calloc(2 * N, sizeof *p);
    assert_non_null(p);
    char src[64];
    for (int i = 0; i < N; i++) {
        snprintf(src, sizeof src, "2001:db8:100::%x", i + 1);
        p[2 * i] = syn(src, "2001:db8:ffff::1", 23, T0 + (uint64_t)i);
        p[2 * i + 1] = syn(src, "2001:db8:ffff::2", 23, T0 + (uint64_t)i + N);
    }
    /* the second packets come after all the first ones */
    struct ds_pkt *q = calloc(2 * N, sizeof *q);
    assert_non_null(q);
    for (int i = 0; i < N; i++) {
        q[i] = p[2 * i];
        q[N + i] = p[2 * i + 1];
    }
    batch(x, q, 2 * N, NULL);
    assert_int_equal(x->m.count, N);
    assert_true(x->m.mask + 1 >= 2048); /* grew from 256 */
    assert_int_equal(x->cap.n, N);
    bool *seen = calloc(N, sizeof *seen);
    assert_non_null(seen);
    for (size_t e = 0; e < x->cap.n; e++) {
        const struct ds_alert_event *ev = &x->cap.ev[e];
        assert_int_equal(ev->kase, DS_CASE_INTERNAL);
        assert_true(ev->first);
        unsigned i = (unsigned)(ev->addr.b[14] << 8 | ev->addr.b[15]) - 1;
        assert_true(i < N);
        assert_false(seen[i]);
        seen[i] = true;
        assert_int_equal(ev->packets, 2);
        assert_int_equal(ev->first_ns, T0 + i);
        assert_int_equal(ev->last_ns, T0 + i + N);
        assert_int_equal(ev->n_samples, 2);
        check_sample(&ev->samples[0], &p[2 * i]);
        check_sample(&ev->samples[1], &p[2 * i + 1]);
        check_port(ev, 0, 6, 23, 2);
    }
    /* changes for all of them, not due; then one more for key 0 when due */
    for (int i = 0; i < N; i++) {
        snprintf(src, sizeof src, "2001:db8:100::%x", i + 1);
        q[i] = syn(src, "2001:db8:ffff::3", 23, T0 + SEC + (uint64_t)i);
    }
    batch(x, q, N, NULL);
    assert_int_equal(x->cap.n, N);
    assert_int_equal(x->m.n_wait, N);
    assert_int_equal(x->m.n_fresh, 0);
    q[0] = syn("2001:db8:100::1", "2001:db8:ffff::3", 23, T0 + 20 * SEC);
    batch(x, q, 1, NULL);
    assert_int_equal(x->cap.n, 2 * N);
    memset(seen, 0, N * sizeof *seen);
    for (size_t e = N; e < x->cap.n; e++) {
        const struct ds_alert_event *ev = &x->cap.ev[e];
        assert_false(ev->first);
        unsigned i = (unsigned)(ev->addr.b[14] << 8 | ev->addr.b[15]) - 1;
        assert_true(i < N);
        assert_false(seen[i]);
        seen[i] = true;
        assert_int_equal(ev->packets, i == 0 ? 2 : 1);
        assert_int_equal(ev->first_ns, T0 + SEC + i);
        assert_int_equal(ev->last_ns, i == 0 ? T0 + 20 * SEC : T0 + SEC + i);
    }
    assert_int_equal(x->m.matched, 3 * N + 1);
    free(seen);
    free(q);
    free(p);
    mx_free(x);
}

/* ------------------------------------------------------------------ registry swap ------- */

static void test_registry_swap(void **st)
{
    (void)st;
    struct mx *x = mx_new(make_registry(ORGS, 2, NULL, 0, NULL, 0), UPDATE);
    struct capture *c = &x->cap;
    struct ds_pkt p[3];
    p[0] = syn("198.51.100.7", "203.0.113.5", 23, T0);
    p[1] = tcp("192.0.2.80", 80, "203.0.113.9", 5555, DS_TCP_RST, T0);
    batch(x, p, 2, NULL);
    assert_int_equal(c->n, 2);
    /* a change of Uni's key, not due yet */
    p[0] = syn("198.51.100.7", "203.0.113.6", 23, T0 + SEC);
    batch(x, p, 1, NULL);
    assert_int_equal(c->n, 2);

    /* the same snapshot again: begin changes nothing */
    ds_matcher_begin(&x->m);
    assert_int_equal(c->n, 2);
    assert_int_equal(x->m.count, 2);

    /* the new registry: Uni is gone; Uni2 (id 3) holds the lower half of its /24 and the
     * same darknet; Corp stays */
    static const char *const gone[] = {"Uni"};
    static const struct org_def uni2[] = {
        {.name = "Uni2", .live = {"198.51.100.0/25"}, .dark = {"203.0.113.0/24"}}};
    struct ds_registry *reg2 = make_registry(ORGS, 2, gone, 1, uni2, 1);
    assert_int_equal(reg2->n_orgs, 2);
    assert_non_null(ds_registry_find(reg2, 3));
    atomic_store(&x->cur, reg2);
    ds_matcher_begin(&x->m);
    /* the pending change went out under the old snapshot; the reported Corp key had none */
    assert_int_equal(c->n, 3);
    check_key(&c->ev[2], 1, "198.51.100.7", DS_CASE_INTERNAL);
    assert_false(c->ev[2].first);
    assert_int_equal(c->ev[2].packets, 1);
    assert_int_equal(c->ev[2].first_ns, T0 + SEC);
    assert_int_equal(x->m.count, 0);
    assert_int_equal(x->m.n_wait, 0);
    assert_int_equal(x->m.n_fresh, 0);
    assert_ptr_equal(x->m.cur, reg2);
    ds_registry_free(x->reg); /* no thread holds the old one now */
    x->reg = reg2;

    /* the same addresses under the new snapshot: new keys, first reports at once */
    p[0] = syn("198.51.100.7", "203.0.113.5", 23, T0 + 2 * SEC);
    p[1] = tcp("192.0.2.80", 80, "203.0.113.9", 5555, DS_TCP_RST, T0 + 2 * SEC);
    p[2] = syn("198.51.100.200", "203.0.113.5", 23, T0 + 2 * SEC); /* Uni's, not Uni2's */
    batch(x, p, 3, NULL);
    assert_int_equal(c->n, 5);
    check_key(&c->ev[3], 3, "198.51.100.7", DS_CASE_INTERNAL);
    assert_true(c->ev[3].first);
    assert_int_equal(c->ev[3].packets, 1);
    assert_int_equal(c->ev[3].n_samples, 1);
    check_key(&c->ev[4], 2, "192.0.2.80", DS_CASE_BACKSCATTER);
    assert_true(c->ev[4].first);
    assert_int_equal(c->ev[4].packets, 1);
    assert_int_equal(x->m.count, 2);
    assert_int_equal(x->m.matched, 5);

    /* a change pending, then a swap to an empty registry: reported, then nothing matches */
    p[0].ts_ns = T0 + 3 * SEC;
    batch(x, p, 1, NULL);
    assert_int_equal(c->n, 5);
    struct ds_registry *empty = make_registry(NULL, 0, NULL, 0, NULL, 0);
    atomic_store(&x->cur, empty);
    ds_matcher_begin(&x->m);
    assert_int_equal(c->n, 6);
    check_key(&c->ev[5], 3, "198.51.100.7", DS_CASE_INTERNAL);
    assert_int_equal(c->ev[5].packets, 1);
    ds_registry_free(x->reg);
    x->reg = empty;
    batch(x, p, 3, NULL);
    ds_matcher_flush(&x->m);
    assert_int_equal(c->n, 6);
    assert_int_equal(x->m.count, 0);
    mx_free(x);
}

/* ------------------------------------------------------------------ in a shard --------- */

/* A shard alerting into a capture over a registry of ORGS: the in-shard tests' setup. */
struct shard_fx {
    _Atomic(const struct ds_registry *) cur;
    struct ds_registry *reg;
    struct capture *c;
    struct ds_alert_sink sink;
    struct ds_shard_config cfg;
    struct ds_shard sh;
};

static struct shard_fx *shard_fx_new(void)
{
    struct shard_fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->reg = make_registry(ORGS, 2, NULL, 0, NULL, 0);
    atomic_init(&f->cur, f->reg);
    f->c = calloc(1, sizeof *f->c);
    assert_non_null(f->c);
    f->sink = (struct ds_alert_sink){.ctx = f->c, .post = capture_post};
    f->cfg = (struct ds_shard_config){.hscan_dsts = 25,
                                      .vscan_ports = 15,
                                      .registry = &f->cur,
                                      .alerts = &f->sink,
                                      .alert_update_ns = UPDATE};
    struct ds_err err = {0};
    assert_int_equal(ds_shard_init(&f->sh, 0, &f->cfg, NULL, &err), 0);
    return f;
}

static void shard_fx_free(struct shard_fx *f)
{
    ds_shard_free(&f->sh);
    ds_registry_free(f->reg);
    free(f->c);
    free(f);
}

/* The matcher as a shard drives it: profiles from the host table (the scan type appears once
 * a 5-minute interval with 25 destinations has closed), batches, idle ticks and the finish. */
static void test_through_shard(void **st)
{
    (void)st;
    struct shard_fx *f = shard_fx_new();
    struct capture *c = f->c;
    struct ds_shard *sh = &f->sh;
    assert_true(sh->alerting);
    /* T0 + 60 s starts the next 5-minute interval (1700000100 = 5666667 * 300). 240
     * destinations before it: the profile's distinct-destination count (a sketch) passes the
     * threshold of 25 for certain. */
    enum { NDST = 240 };
    struct ds_pkt p[DS_SHARD_BATCH];
    uint64_t h[DS_SHARD_BATCH];
    for (int i = 0; i < NDST;) {
        int n = 0;
        for (; n < DS_SHARD_BATCH && i < NDST; n++, i++) {
            char dst[32];
            snprintf(dst, sizeof dst, "203.0.113.%d", i + 1);
            p[n] = syn("198.51.100.7", dst, 23, T0 + (uint64_t)i * 1000000);
            h[n] = ds_hosttab_hash(&p[n].src);
        }
        /* the first packet alone: its first report goes out at the end of its batch */
        int first = i == n ? 1 : 0;
        if (first) {
            ds_shard_ingest_batch(sh, p, h, 1);
            assert_int_equal(c->n, 1);
            assert_true(c->ev[0].first);
            assert_int_equal(c->ev[0].packets, 1);
            assert_string_equal(c->ev[0].scan_type, "none");
        }
        ds_shard_ingest_batch(sh, p + first, h + first, n - first);
        assert_int_equal(c->n, 1);
    }
    /* an idle tick before update_ns has passed reports nothing, one after it the change */
    ds_shard_idle(sh, T0 + 5 * SEC);
    assert_int_equal(c->n, 1);
    ds_shard_idle(sh, T0 + 10 * SEC);
    assert_int_equal(c->n, 2);
    assert_false(c->ev[1].first);
    assert_int_equal(c->ev[1].packets, NDST - 1);
    assert_int_equal(c->ev[1].bytes, (NDST - 1) * 40);
    assert_int_equal(c->ev[1].first_ns, T0 + 1000000);
    assert_int_equal(c->ev[1].last_ns, T0 + (NDST - 1) * 1000000ull);
    /* a horizontal scan from the packet that crossed the threshold, in the open interval */
    assert_string_equal(c->ev[1].scan_type, "horizontal");
    check_port(&c->ev[1], 0, 6, 23, NDST - 1);
    /* the next interval: the closed one had a horizontal scan */
    p[0] = syn("198.51.100.7", "203.0.113.99", 23, T0 + 60 * SEC);
    p[1] = tcp("192.0.2.80", 443, "203.0.113.9", 5555, DS_TCP_SYN | DS_TCP_ACK, T0 + 60 * SEC);
    p[2] = syn("93.184.216.34", "203.0.113.5", 23, T0 + 60 * SEC);
    for (int i = 0; i < 3; i++)
        h[i] = ds_hosttab_hash(&p[i].src);
    ds_shard_ingest_batch(sh, p, h, 3);
    assert_int_equal(c->n, 4);
    /* first reports go before the changes of keys reported already */
    check_key(&c->ev[2], 2, "192.0.2.80", DS_CASE_BACKSCATTER);
    assert_true(c->ev[2].first);
    check_port(&c->ev[2], 0, 6, 443, 1);
    check_key(&c->ev[3], 1, "198.51.100.7", DS_CASE_INTERNAL);
    assert_int_equal(c->ev[3].packets, 1);
    assert_string_equal(c->ev[3].scan_type, "horizontal");
    assert_int_equal(sh->matcher.matched, NDST + 2);
    /* a change left at the end of input goes out with the finish */
    p[0] = tcp("192.0.2.80", 443, "203.0.113.9", 5556, DS_TCP_RST, T0 + 61 * SEC);
    h[0] = ds_hosttab_hash(&p[0].src);
    ds_shard_ingest_batch(sh, p, h, 1);
    assert_int_equal(c->n, 4);
    assert_int_equal(ds_shard_finish(sh), 0);
    assert_int_equal(c->n, 5);
    check_key(&c->ev[4], 2, "192.0.2.80", DS_CASE_BACKSCATTER);
    assert_false(c->ev[4].first);
    assert_int_equal(c->ev[4].packets, 1);
    assert_int_equal(c->ev[4].classes, C(BACKSCATTER) | C(NONROUTABLE_SRC));
    shard_fx_free(f);
}

/* The shard remembers in a profile (DS_HF_NO_ORG) that its source is in no livenet, and skips
 * the lookup for its later packets, until the registry snapshot changes: an organisation
 * registered meanwhile sees the same source's next packet. ds_matcher_packet's answer. */
static void test_no_org_memo(void **st)
{
    (void)st;
    struct shard_fx *f = shard_fx_new();
    struct capture *c = f->c;
    struct ds_shard *sh = &f->sh;

    /* the answers themselves */
    struct ds_pkt q = syn("93.184.216.34", "203.0.113.5", 23, T0);
    assert_int_equal(ds_matcher_packet(&sh->matcher, &q, NULL, DS_MEMO_NONE), DS_MEMO_FREE);
    struct ds_pkt r = syn("198.51.100.7", "203.0.113.5", 23, T0);
    assert_int_equal(ds_matcher_packet(&sh->matcher, &r, NULL, DS_MEMO_NONE), DS_MEMO_KEYED);
    assert_int_equal(sh->matcher.matched, 1);
    /* told it is in no livenet: not looked up */
    assert_int_equal(ds_matcher_packet(&sh->matcher, &r, NULL, DS_MEMO_FREE), DS_MEMO_FREE);
    assert_int_equal(sh->matcher.matched, 1);
    /* told it is keyed: its key names the organisation (same key, no lookup) */
    assert_int_equal(ds_matcher_packet(&sh->matcher, &r, NULL, DS_MEMO_KEYED), DS_MEMO_KEYED);
    assert_int_equal(sh->matcher.matched, 2);
    ds_matcher_flush(&sh->matcher);
    c->n = 0;

    struct ds_pkt p[2];
    uint64_t h[2];
    p[0] = syn("93.184.216.34", "203.0.113.5", 23, T0 + SEC);
    p[1] = syn("198.51.100.7", "203.0.113.5", 23, T0 + SEC);
    for (int i = 0; i < 2; i++)
        h[i] = ds_hosttab_hash(&p[i].src);
    ds_shard_ingest_batch(sh, p, h, 2);
    uint32_t id_out = ds_hosttab_find(&sh->hosts, &p[0].src, h[0]);
    uint32_t id_in = ds_hosttab_find(&sh->hosts, &p[1].src, h[1]);
    assert_true(id_out && id_in);
    const struct ds_host *out = ds_hosttab_entry(&sh->hosts, id_out);
    const struct ds_host *in = ds_hosttab_entry(&sh->hosts, id_in);
    assert_true(out->flags & DS_HF_NO_ORG);
    assert_false(in->flags & DS_HF_NO_ORG);
    assert_true(in->flags & DS_HF_KEYED);
    assert_false(out->flags & DS_HF_KEYED);
    assert_int_equal(c->n, 1);

    /* a new snapshot with an organisation holding 93.184.216.0/24: the memo is forgotten */
    static const struct org_def late[] = {
        {.name = "Late", .live = {"93.184.216.0/24"}, .dark = {"198.18.1.0/24"}}};
    struct ds_registry *reg2 = make_registry(ORGS, 2, NULL, 0, late, 1);
    atomic_store(&f->cur, reg2);
    p[0].ts_ns = p[1].ts_ns = T0 + 2 * SEC;
    ds_shard_ingest_batch(sh, p, h, 2);
    assert_false(out->flags & DS_HF_NO_ORG);
    assert_int_equal(c->n, 3); /* new keys under the new snapshot, first reports at once */
    check_key(&c->ev[1], 3, "93.184.216.34", DS_CASE_EXTERNAL);
    assert_true(c->ev[1].first);
    check_key(&c->ev[2], 1, "198.51.100.7", DS_CASE_INTERNAL);
    assert_true(c->ev[2].first);
    shard_fx_free(f);
    ds_registry_free(reg2);
}

/* A source the matcher has a key of (DS_HF_KEYED) is found in the matcher's table, not looked
 * up: its packets still go to the right key when they switch between its organisation's
 * darknet and another (internal <-> external), and its own backscatter gets its own key. */
static void test_keyed_memo(void **st)
{
    (void)st;
    struct shard_fx *f = shard_fx_new();
    struct capture *c = f->c;
    struct ds_shard *sh = &f->sh;
    struct ds_pkt p[5] = {
        syn("198.51.100.7", "203.0.113.5", 23, T0),             /* internal: Uni's darknet */
        syn("198.51.100.7", "198.18.0.9", 23, T0 + SEC),        /* external: Corp's */
        syn("198.51.100.7", "203.0.113.6", 2323, T0 + 2 * SEC), /* internal again */
        tcp("198.51.100.7", 80, "198.18.0.10", 4444, DS_TCP_SYN | DS_TCP_ACK, T0 + 3 * SEC),
        syn("198.51.100.7", "198.18.0.11", 23, T0 + 4 * SEC), /* external again */
    };
    uint64_t h[5];
    for (int i = 0; i < 5; i++) {
        h[i] = ds_hosttab_hash(&p[i].src);
        ds_shard_ingest_batch(sh, &p[i], &h[i], 1); /* one batch each: first reports at once */
    }
    uint32_t id = ds_hosttab_find(&sh->hosts, &p[0].src, h[0]);
    assert_true(id);
    const struct ds_host *host = ds_hosttab_entry(&sh->hosts, id);
    assert_true(host->flags & DS_HF_KEYED);
    assert_false(host->flags & DS_HF_NO_ORG);
    assert_int_equal(sh->matcher.matched, 5);
    assert_int_equal(sh->matcher.count, 3); /* internal, external, backscatter */
    assert_int_equal(c->n, 3);              /* the three first reports; the rest wait */
    check_key(&c->ev[0], 1, "198.51.100.7", DS_CASE_INTERNAL);
    check_key(&c->ev[1], 1, "198.51.100.7", DS_CASE_EXTERNAL);
    check_key(&c->ev[2], 1, "198.51.100.7", DS_CASE_BACKSCATTER);
    ds_matcher_flush(&sh->matcher);
    assert_int_equal(c->n, 5);
    check_key(&c->ev[3], 1, "198.51.100.7", DS_CASE_INTERNAL);
    assert_int_equal(c->ev[3].packets, 1);
    assert_int_equal(c->ev[3].ports[0].port, 2323);
    check_key(&c->ev[4], 1, "198.51.100.7", DS_CASE_EXTERNAL);
    assert_int_equal(c->ev[4].packets, 1);
    assert_int_equal(c->ev[4].last_ns, T0 + 4 * SEC);
    shard_fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_internal),
        cmocka_unit_test(test_external),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_backscatter),
        cmocka_unit_test(test_backscatter_peak),
        cmocka_unit_test(test_unregistered),
        cmocka_unit_test(test_update_timing),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_ports_and_counts),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_registry_swap),
        cmocka_unit_test(test_through_shard),
        cmocka_unit_test(test_no_org_memo),
        cmocka_unit_test(test_keyed_memo),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, NULL);
    if (rmdir(dir) != 0) { /* a test left a file behind (or failed before cleaning up) */
        fprintf(stderr, "files left in %s\n", dir);
        DIR *d = opendir(dir);
        for (struct dirent *e; d && (e = readdir(d));) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlink(p);
        }
        if (d)
            closedir(d);
        rmdir(dir);
        return 1;
    }
    return failed;
}
