/* test_dos.c - the DoS-attack tracker over backscatter records (RS-DoS rules): defaults,
 * the packet / duration / peak thresholds at their boundaries, the peak against a brute-force
 * computation and against the generator's ds_peak_add (random in-order input, several
 * seeds), out-of-order input (shuffled within seconds, records 5 and 10 minutes late), the
 * expiry (by a newer record, by ds_dos_advance and its sweep interval, at ds_dos_finish),
 * vectors per (victim, protocol), IPv6 victims, top ports and distinct counts, thousands of
 * victims expiring while others continue (table growth and backward-shift deletion), an
 * emitter that fails, the counters, and ds_dos_rec_from on decoded packets. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/hll.h"
#include "core/hash.h"
#include "decode/decode.h"
#include "gen/craft.h"
#include "gen/truth.h"
#include "incident/dos.h"

#define SEC 1000000000ull
#define MS 1000000ull
#define T0 (1700000040ull * SEC) /* a 10-s bucket boundary (and a minute boundary) */
#define BUCKET (10 * SEC)
#define EXPIRY (300 * SEC)

/* ------------------------------------------------------------------ helpers ------------- */

static struct ds_addr A(const char *text) {
    struct ds_addr a;
    assert_int_equal(ds_addr_parse(&a, text, NULL), 0);
    return a;
}

static struct ds_addr
V4(uint32_t v) {
    struct ds_addr a;
    ds_addr_set_v4(&a, v);
    return a;
}

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state += 0x9e3779b97f4a7c15ull;
    return ds_mix64(rng_state);
}

/* Uniform in [0, n). */
static uint64_t rnd_below(uint64_t n)
{
    return rnd() % n;
}

/* A record: ports for TCP and UDP, none for ICMP. */
static struct ds_dos_rec rec(struct ds_addr victim, uint8_t proto, uint64_t ts)
{
    bool ports = proto == 6 || proto == 17;
    return (struct ds_dos_rec){.ts_ns = ts,
                               .victim = victim,
                               .dst = A("203.0.113.1"),
                               .victim_port = ports ? 80 : 0,
                               .attacker_port = ports ? 1024 : 0,
                               .wirelen = 60,
                               .proto = proto,
                               .has_ports = ports};
}

/* A growing array of records. */
struct recs {
    struct ds_dos_rec *r;
    size_t n, cap;
};

static struct ds_dos_rec *push(struct recs *v, struct ds_dos_rec r)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 256;
        v->r = realloc(v->r, v->cap * sizeof *v->r);
        assert_non_null(v->r);
    }
    v->r[v->n] = r;
    return &v->r[v->n++];
}

/* count records of (victim, proto) from `start`, `step` apart. */
static void burst(struct recs *v, struct ds_addr victim, uint8_t proto, uint64_t start,
                  size_t count, uint64_t step)
{
    for (size_t k = 0; k < count; k++)
        push(v, rec(victim, proto, start + k * step));
}

/* The standard passing vector: 30 records 100 ms apart from `start` (one bucket when start is
 * on a boundary) and one at start + 60 s: 31 packets, 60 s, peak 30. */
static void std_attack(struct recs *v, struct ds_addr victim, uint8_t proto, uint64_t start)
{
    burst(v, victim, proto, start, 30, 100 * MS);
    push(v, rec(victim, proto, start + 60 * SEC));
}

/* ------------------------------------------------------------------ the test sink ------- */

struct sink {
    struct ds_dos_attack *a;
    size_t n, cap;
    size_t calls;
    size_t fail_after; /* calls that succeed before the sink fails; SIZE_MAX: never */
};

static int sink_emit(void *ctx, const struct ds_dos_attack *a, struct ds_err *err)
{
    struct sink *s = ctx;
    s->calls++;
    if (s->calls > s->fail_after)
        return ds_err_set(err, -EIO, "sink full");
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->a = realloc(s->a, s->cap * sizeof *s->a);
        assert_non_null(s->a);
    }
    s->a[s->n++] = *a;
    return 0;
}

struct fx {
    struct ds_dos d;
    struct sink s;
    struct ds_err err;
};

static struct fx *fx_new(const struct ds_dos_config *cfg)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->s.fail_after = SIZE_MAX;
    assert_int_equal(ds_dos_init(&f->d, cfg, sink_emit, &f->s), 0);
    return f;
}

static void fx_free(struct fx *f)
{
    ds_dos_free(&f->d);
    free(f->s.a);
    free(f);
}

static void add(struct fx *f, const struct ds_dos_rec *r, size_t n)
{
    assert_int_equal(ds_dos_add(&f->d, r, n, &f->err), 0);
}

static void add_all(struct fx *f, const struct recs *v)
{
    add(f, v->r, v->n);
}

static void finish(struct fx *f)
{
    assert_int_equal(ds_dos_finish(&f->d, &f->err), 0);
    assert_int_equal(ds_dos_open(&f->d), 0);
}

/* The attack of `victim` with protocol `proto` emitted `nth` (0-based) among that key's. */
static const struct ds_dos_attack *find_attack(const struct sink *s, struct ds_addr victim,
                                               uint8_t proto, size_t nth)
{
    for (size_t i = 0; i < s->n; i++)
        if (ds_addr_eq(&s->a[i].victim, &victim) && s->a[i].proto == proto && nth-- == 0)
            return &s->a[i];
    return NULL;
}

static size_t attacks_of(const struct sink *s, struct ds_addr victim, uint8_t proto)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += ds_addr_eq(&s->a[i].victim, &victim) && s->a[i].proto == proto;
    return n;
}

static void check_same_attack(const struct ds_dos_attack *x, const struct ds_dos_attack *y)
{
    assert_true(ds_addr_eq(&x->victim, &y->victim));
    assert_int_equal(x->proto, y->proto);
    assert_int_equal(x->first_ns, y->first_ns);
    assert_int_equal(x->last_ns, y->last_ns);
    assert_int_equal(x->packets, y->packets);
    assert_int_equal(x->bytes, y->bytes);
    assert_int_equal(x->late, y->late);
    assert_int_equal(x->peak_ppm, y->peak_ppm);
    assert_int_equal(x->n_ports, y->n_ports);
    for (size_t i = 0; i < x->n_ports; i++) {
        assert_int_equal(x->ports[i].port, y->ports[i].port);
        assert_int_equal(x->ports[i].packets, y->ports[i].packets);
    }
    assert_int_equal(x->victim_ports, y->victim_ports);
    assert_int_equal(x->darknet_addrs, y->darknet_addrs);
    assert_int_equal(x->attacker_ports, y->attacker_ports);
    assert_true(x->est_rate_pps == y->est_rate_pps);
    assert_string_equal(x->country, y->country);
    assert_int_equal(x->asn, y->asn);
}

/* The peak by definition: windows ending at every bucket e from the first to the last,
 * covering e-5..e clipped at the first bucket. */
static uint32_t brute_peak(const uint64_t *ts, size_t n)
{
    uint64_t fb = UINT64_MAX, lb = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = ts[i] / BUCKET;
        fb = b < fb ? b : fb;
        lb = b > lb ? b : lb;
    }
    uint32_t *cnt = calloc(lb - fb + 1, sizeof *cnt);
    assert_non_null(cnt);
    for (size_t i = 0; i < n; i++)
        cnt[ts[i] / BUCKET - fb]++;
    uint32_t peak = 0;
    for (uint64_t e = 0; e <= lb - fb; e++) {
        uint32_t sum = 0;
        for (uint64_t x = e >= 5 ? e - 5 : 0; x <= e; x++)
            sum += cnt[x];
        peak = sum > peak ? sum : peak;
    }
    free(cnt);
    return peak;
}

/* ------------------------------------------------------------------ tests --------------- */

static void test_defaults(void **st)
{
    (void)st;
    struct ds_dos_config c;
    memset(&c, 0xa5, sizeof c);
    ds_dos_defaults(&c);
    assert_int_equal(c.min_packets, 25);
    assert_int_equal(c.min_duration_s, 60);
    assert_int_equal(c.min_ppm, 30);
    assert_int_equal(c.expiry_s, 300);
    assert_int_equal(c.monitored_v4, 0);
    assert_null(c.geo);

    struct ds_dos d;
    assert_int_equal(ds_dos_init(&d, NULL, NULL, NULL), 0);
    assert_int_equal(d.cfg.min_packets, 25);
    assert_int_equal(d.cfg.min_duration_s, 60);
    assert_int_equal(d.cfg.min_ppm, 30);
    assert_int_equal(d.cfg.expiry_s, 300);
    assert_int_equal(ds_dos_open(&d), 0);
    /* no emitter: attacks are counted, nothing is called */
    struct recs v = {0};
    std_attack(&v, A("192.0.2.1"), 6, T0);
    assert_int_equal(ds_dos_add(&d, v.r, v.n, NULL), 0);
    assert_int_equal(ds_dos_open(&d), 1);
    assert_int_equal(ds_dos_finish(&d, NULL), 0);
    assert_int_equal(d.attacks, 1);
    assert_int_equal(d.records, 31);
    ds_dos_free(&d);
    ds_dos_free(&d); /* idempotent */

    /* an expiry of 0 means the default */
    c.expiry_s = 0;
    c.min_packets = 7;
    assert_int_equal(ds_dos_init(&d, &c, NULL, NULL), 0);
    assert_int_equal(d.cfg.expiry_s, 300);
    assert_int_equal(d.cfg.min_packets, 7);
    ds_dos_free(&d);

    assert_string_equal(ds_dos_proto_name(6), "tcp");
    assert_string_equal(ds_dos_proto_name(17), "udp");
    assert_string_equal(ds_dos_proto_name(1), "icmp");
    assert_string_equal(ds_dos_proto_name(58), "icmp6");
    assert_string_equal(ds_dos_proto_name(47), "other");
    free(v.r);
}

/* 24 vs 25 packets (the peak threshold lowered so the packet count decides). */
static void test_threshold_packets(void **st)
{
    (void)st;
    struct ds_dos_config c;
    ds_dos_defaults(&c);
    c.min_ppm = 1;
    struct fx *f = fx_new(&c);
    struct recs v = {0};
    struct ds_addr v24 = A("192.0.2.24"), v25 = A("192.0.2.25");
    /* T0, T0+1..T0+22 s, T0+60 s: 24 packets, peak 23 (buckets 0..5 hold 23) */
    push(&v, rec(v24, 6, T0));
    burst(&v, v24, 6, T0 + SEC, 22, SEC);
    push(&v, rec(v24, 6, T0 + 60 * SEC));
    /* T0, T0+1..T0+23 s, T0+60 s: 25 packets, peak 24 */
    push(&v, rec(v25, 6, T0));
    burst(&v, v25, 6, T0 + SEC, 23, SEC);
    push(&v, rec(v25, 6, T0 + 60 * SEC));
    add_all(f, &v);
    finish(f);
    assert_int_equal(f->s.n, 1);
    const struct ds_dos_attack *a = find_attack(&f->s, v25, 6, 0);
    assert_non_null(a);
    assert_int_equal(a->packets, 25);
    assert_int_equal(a->bytes, 25 * 60);
    assert_int_equal(a->first_ns, T0);
    assert_int_equal(a->last_ns, T0 + 60 * SEC);
    assert_int_equal(a->peak_ppm, 24);
    assert_int_equal(a->late, 0);
    assert_int_equal(f->d.records, 49);
    assert_int_equal(f->d.vectors, 2);
    assert_int_equal(f->d.attacks, 1);
    assert_int_equal(f->d.below, 1);
    free(v.r);
    fx_free(f);
}

/* 59.999999999 s vs 60 s; peak 29 vs 30 (defaults). */
static void test_threshold_duration_peak(void **st)
{
    (void)st;
    struct fx *f = fx_new(NULL);
    struct recs v = {0};
    struct ds_addr short_ = A("192.0.2.1"), exact = A("192.0.2.2"), p29 = A("192.0.2.3"),
                   p30 = A("192.0.2.4");
    /* 30 in bucket 0, the last 1 ns short of 60 s (still bucket 5): peak 31, 59.999999999 s */
    burst(&v, short_, 6, T0, 30, 100 * MS);
    push(&v, rec(short_, 6, T0 + 60 * SEC - 1));
    /* the same with the last at exactly 60 s (bucket 6): peak 30, 60 s */
    std_attack(&v, exact, 6, T0);
    /* 29 in bucket 0 and one at 70 s: 30 packets, 70 s, peak 29 */
    burst(&v, p29, 6, T0, 29, 100 * MS);
    push(&v, rec(p29, 6, T0 + 70 * SEC));
    /* plus one at 50 s (bucket 5): peak 30 */
    burst(&v, p30, 6, T0, 29, 100 * MS);
    push(&v, rec(p30, 6, T0 + 50 * SEC));
    push(&v, rec(p30, 6, T0 + 70 * SEC));
    add_all(f, &v);
    assert_int_equal(ds_dos_open(&f->d), 4);
    assert_int_equal(f->s.n, 0);
    finish(f);
    assert_int_equal(f->s.n, 2);
    assert_int_equal(f->d.attacks, 2);
    assert_int_equal(f->d.below, 2);
    assert_int_equal(f->d.vectors, 4);
    assert_null(find_attack(&f->s, short_, 6, 0));
    assert_null(find_attack(&f->s, p29, 6, 0));
    const struct ds_dos_attack *a = find_attack(&f->s, exact, 6, 0);
    assert_non_null(a);
    assert_int_equal(a->packets, 31);
    assert_int_equal(a->first_ns, T0);
    assert_int_equal(a->last_ns, T0 + 60 * SEC);
    assert_int_equal(a->peak_ppm, 30);
    assert_int_equal(a->n_ports, 1);
    assert_int_equal(a->ports[0].port, 80);
    assert_int_equal(a->ports[0].packets, 31);
    assert_int_equal(a->victim_ports, 1);
    assert_int_equal(a->attacker_ports, 1);
    assert_int_equal(a->darknet_addrs, 1);
    assert_true(a->est_rate_pps == 0.0); /* monitored_v4 unset */
    assert_string_equal(a->country, "");
    assert_int_equal(a->asn, 0);
    a = find_attack(&f->s, p30, 6, 0);
    assert_non_null(a);
    assert_int_equal(a->packets, 31);
    assert_int_equal(a->last_ns, T0 + 70 * SEC);
    assert_int_equal(a->peak_ppm, 30);
    free(v.r);
    fx_free(f);
}

/* The peak of known patterns. */
static void test_peak_patterns(void **st)
{
    (void)st;
    struct ds_dos_config c;
    ds_dos_defaults(&c);
    c.min_packets = 1;
    c.min_duration_s = 0;
    c.min_ppm = 0;
    struct fx *f = fx_new(&c);
    struct recs v = {0};
    struct ds_addr a1 = A("192.0.2.1"), a2 = A("192.0.2.2"), a3 = A("192.0.2.3"),
                   a4 = A("192.0.2.4");
    /* one every 2 s for 20 minutes: 5 a bucket, 30 a window */
    burst(&v, a1, 6, T0, 601, 2 * SEC);
    /* 10 a bucket in buckets 0, 6, 12 (windows never hold two of them): 10 */
    for (int k = 0; k < 3; k++)
        burst(&v, a2, 6, T0 + (uint64_t)k * 60 * SEC, 10, SEC);
    /* 10 a bucket in buckets 0 and 5 (one window): 20 */
    burst(&v, a3, 6, T0, 10, SEC);
    burst(&v, a3, 6, T0 + 50 * SEC, 10, SEC);
    /* a single packet */
    push(&v, rec(a4, 6, T0 + 5 * SEC));
    add_all(f, &v);
    finish(f);
    assert_int_equal(f->s.n, 4);
    assert_int_equal(find_attack(&f->s, a1, 6, 0)->peak_ppm, 30);
    assert_int_equal(find_attack(&f->s, a1, 6, 0)->packets, 601);
    assert_int_equal(find_attack(&f->s, a2, 6, 0)->peak_ppm, 10);
    assert_int_equal(find_attack(&f->s, a3, 6, 0)->peak_ppm, 20);
    assert_int_equal(find_attack(&f->s, a4, 6, 0)->peak_ppm, 1);
    assert_int_equal(find_attack(&f->s, a4, 6, 0)->first_ns, T0 + 5 * SEC);
    assert_int_equal(find_attack(&f->s, a4, 6, 0)->last_ns, T0 + 5 * SEC);
    free(v.r);
    fx_free(f);
}

/* Random in-order times for one vector (every gap within the expiry): the tracker's peak
 * equals the brute force and ds_peak_add. */
static void test_peak_oracle(void **st)
{
    (void)st;
    struct ds_dos_config c;
    ds_dos_defaults(&c);
    c.min_packets = 1;
    c.min_duration_s = 0;
    c.min_ppm = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        rng_state = seed * 1000003;
        size_t n = 1 + rnd_below(3000);
        uint64_t *ts = malloc(n * sizeof *ts);
        assert_non_null(ts);
        uint64_t t = T0 + rnd_below(BUCKET); /* anywhere in a bucket */
        unsigned mode = (unsigned)(seed % 4);
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd_below(100), gap;
            if (mode == 0) /* dense: up to 1 s */
                gap = rnd_below(SEC);
            else if (mode == 1) /* around the threshold: up to 4 s */
                gap = rnd_below(4 * SEC);
            else if (r < 70) /* bursts with pauses */
                gap = rnd_below(SEC / 2);
            else if (r < 95)
                gap = rnd_below(30 * SEC);
            else
                gap = rnd_below(EXPIRY + 1); /* up to exactly the expiry */
            if (i && rnd_below(20) == 0)
                gap = 0; /* equal times */
            t += i ? gap : 0;
            ts[i] = t;
        }
        struct ds_peak ref = {0};
        struct fx *f = fx_new(&c);
        struct ds_addr victim = V4(0xc6336400u + (uint32_t)seed);
        for (size_t i = 0; i < n; i++) {
            ds_peak_add(&ref, ts[i]);
            struct ds_dos_rec r = rec(victim, 17, ts[i]);
            add(f, &r, 1);
        }
        finish(f);
        assert_int_equal(f->s.n, 1);
        uint32_t brute = brute_peak(ts, n);
        assert_int_equal(ref.peak, brute);
        assert_int_equal(f->s.a[0].peak_ppm, brute);
        assert_int_equal(f->s.a[0].packets, n);
        assert_int_equal(f->s.a[0].first_ns, ts[0]);
        assert_int_equal(f->s.a[0].last_ns, ts[n - 1]);
        assert_int_equal(f->s.a[0].late, 0);
        assert_int_equal(f->d.vectors, 1);
        fx_free(f);
        free(ts);
    }
}

/* Several victims, in-order interleaved, gaps sometimes beyond the expiry: every vector
 * (packets, first, last, peak, RS-DoS verdict) equals the generator's truth
 * (ds_truth_attack_packet splits on the same rule). */
static void test_vectors_oracle(void **st)
{
    (void)st;
    enum { NV = 4 };
    for (uint64_t seed = 1; seed <= 12; seed++) {
        rng_state = seed * 7919;
        struct ds_truth_attack truth[NV];
        memset(truth, 0, sizeof truth);
        uint64_t next[NV];
        size_t left[NV];
        struct ds_addr victim[NV];
        for (int k = 0; k < NV; k++) {
            next[k] = T0 + rnd_below(100 * SEC);
            left[k] = 200 + rnd_below(2000);
            victim[k] = V4(0xcb007100u + (uint32_t)k);
        }
        struct fx *f = fx_new(NULL);
        for (;;) { /* the earliest next record of any victim */
            int k = -1;
            for (int j = 0; j < NV; j++)
                if (left[j] && (k < 0 || next[j] < next[k]))
                    k = j;
            if (k < 0)
                break;
            assert_int_equal(ds_truth_attack_packet(&truth[k], next[k]), 0);
            struct ds_dos_rec r = rec(victim[k], 6, next[k]);
            add(f, &r, 1);
            assert_int_equal(ds_dos_advance(&f->d, next[k], &f->err), 0);
            left[k]--;
            uint64_t p = rnd_below(1000);
            next[k] += p < 900   ? rnd_below(3 * SEC)
                       : p < 990 ? rnd_below(60 * SEC)
                                 : EXPIRY - SEC + rnd_below(2 * SEC); /* either side */
        }
        finish(f);
        size_t want = 0, nvec = 0;
        for (int k = 0; k < NV; k++) {
            size_t nth = 0;
            nvec += truth[k].nvec;
            for (size_t i = 0; i < truth[k].nvec; i++) {
                const struct ds_truth_vector *tv = &truth[k].vec[i];
                if (!ds_truth_rsdos(tv->packets, tv->first_ns, tv->last_ns, tv->peak.peak))
                    continue;
                want++;
                const struct ds_dos_attack *a = find_attack(&f->s, victim[k], 6, nth++);
                assert_non_null(a);
                assert_int_equal(a->first_ns, tv->first_ns);
                assert_int_equal(a->last_ns, tv->last_ns);
                assert_int_equal(a->packets, tv->packets);
                assert_int_equal(a->peak_ppm, tv->peak.peak);
                assert_int_equal(a->late, 0);
            }
            assert_int_equal(attacks_of(&f->s, victim[k], 6), nth);
            free(truth[k].vec);
        }
        assert_int_equal(f->s.n, want);
        assert_int_equal(f->d.attacks, want);
        assert_int_equal(f->d.vectors, nvec);
        assert_int_equal(f->d.below, nvec - want);
        fx_free(f);
    }
}

/* A vector with many ports, addresses and sizes, in order from its first record. */
static void rich_vector(struct recs *v, struct ds_addr victim, uint64_t start, size_t n)
{
    static const uint16_t vports[12] = {80, 443, 22, 25, 53, 8080, 3389, 110, 143, 993, 995, 21};
    uint64_t t = start;
    for (size_t i = 0; i < n; i++) {
        struct ds_dos_rec r = rec(victim, 6, t);
        uint64_t x = rnd_below(100);
        r.victim_port = vports[x < 40 ? 0 : x < 60 ? 1 : rnd_below(12)];
        r.attacker_port = (uint16_t)(1024 + rnd_below(700));
        ds_addr_set_v4(&r.dst, 0xcb007100u + (uint32_t)rnd_below(300));
        r.wirelen = (uint32_t)(40 + rnd_below(1400));
        push(v, r);
        t += rnd_below(1500 * MS);
    }
}

/* Arrival order: sorted by time + a jitter of up to 3 s (the first record stays first when
 * keep_first). */
static void jitter_shuffle(struct recs *v, bool keep_first)
{
    uint64_t *key = malloc(v->n * sizeof *key);
    assert_non_null(key);
    for (size_t i = 0; i < v->n; i++)
        key[i] = keep_first && i == 0 ? 0 : v->r[i].ts_ns + rnd_below(3 * SEC);
    for (size_t i = 1; i < v->n; i++) /* insertion sort: stable, almost sorted input */
        for (size_t j = i; j > 0 && key[j - 1] > key[j]; j--) {
            uint64_t k = key[j];
            key[j] = key[j - 1];
            key[j - 1] = k;
            struct ds_dos_rec r = v->r[j];
            v->r[j] = v->r[j - 1];
            v->r[j - 1] = r;
        }
    free(key);
}

static size_t displaced(const struct recs *v)
{
    size_t n = 0;
    for (size_t i = 1; i < v->n; i++)
        n += v->r[i].ts_ns < v->r[i - 1].ts_ns;
    return n;
}

/* The same records, shuffled within a few seconds (the earliest still first), give the
 * identical attack. */
static void test_shuffled(void **st)
{
    (void)st;
    struct ds_dos_config c;
    ds_dos_defaults(&c);
    c.monitored_v4 = 1u << 24;
    for (uint64_t seed = 1; seed <= 10; seed++) {
        rng_state = seed * 31337;
        struct recs v = {0};
        rich_vector(&v, A("192.0.2.77"), T0 + rnd_below(BUCKET), 400 + rnd_below(400));
        struct fx *in = fx_new(&c), *sh = fx_new(&c);
        add_all(in, &v);
        finish(in);
        assert_int_equal(in->s.n, 1);
        assert_int_equal(in->s.a[0].late, 0);
        assert_int_equal(in->s.a[0].packets, v.n);
        jitter_shuffle(&v, true);
        assert_true(displaced(&v) > 10);
        /* in several batches */
        for (size_t i = 0; i < v.n; i += 37)
            add(sh, v.r + i, v.n - i < 37 ? v.n - i : 37);
        finish(sh);
        assert_int_equal(sh->s.n, 1);
        check_same_attack(&in->s.a[0], &sh->s.a[0]);
        fx_free(in);
        fx_free(sh);
        free(v.r);
    }
}

/* Fully shuffled within a few seconds: the first record to arrive need not be the earliest. */
static void test_shuffled_start(void **st)
{
    (void)st;
    struct ds_dos_config c;
    ds_dos_defaults(&c);
    c.monitored_v4 = 1u << 24;
    unsigned starts_late = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        rng_state = seed * 4243;
        struct recs v = {0};
        /* starts 0.1 s before a bucket boundary: the first records straddle it */
        rich_vector(&v, A("192.0.2.78"), T0 + 9900 * MS, 400 + rnd_below(400));
        struct fx *in = fx_new(&c), *sh = fx_new(&c);
        add_all(in, &v);
        finish(in);
        assert_int_equal(in->s.n, 1);
        jitter_shuffle(&v, false);
        /* does a record of bucket 0 arrive after the first arrival, of bucket 1? */
        starts_late += v.r[0].ts_ns >= T0 + BUCKET;
        add_all(sh, &v);
        finish(sh);
        assert_int_equal(sh->s.n, 1);
        /* a record of an earlier bucket than the first to arrive, seconds out of order, moves
         * the vector's start back: not late, in the peak (this once counted it as late) */
        assert_int_equal(sh->s.a[0].late, in->s.a[0].late);
        assert_int_equal(sh->s.a[0].peak_ppm, in->s.a[0].peak_ppm);
        check_same_attack(&in->s.a[0], &sh->s.a[0]);
        fx_free(in);
        fx_free(sh);
        free(v.r);
    }
    assert_true(starts_late > 0); /* the case above did occur */
}

/* The smallest case of the above: the earliest record arrives second, 1 s later than the
 * first arrival but in the previous bucket, and it makes the peak. */
static void test_earliest_second(void **st)
{
    (void)st;
    struct ds_addr victim = A("192.0.2.79");
    struct recs v = {0};
    push(&v, rec(victim, 6, T0 + 9500 * MS));            /* bucket 0 */
    burst(&v, victim, 6, T0 + 10500 * MS, 29, 100 * MS); /* bucket 1 */
    push(&v, rec(victim, 6, T0 + 70 * SEC));             /* bucket 7 */
    /* in order: 31 packets, 60.5 s, peak 30 (buckets 0..1) */
    struct fx *in = fx_new(NULL);
    add_all(in, &v);
    finish(in);
    assert_int_equal(in->s.n, 1);
    assert_int_equal(in->s.a[0].packets, 31);
    assert_int_equal(in->s.a[0].first_ns, T0 + 9500 * MS);
    assert_int_equal(in->s.a[0].last_ns, T0 + 70 * SEC);
    assert_int_equal(in->s.a[0].peak_ppm, 30);
    assert_int_equal(in->s.a[0].late, 0);
    /* the first two swapped */
    struct ds_dos_rec r = v.r[0];
    v.r[0] = v.r[1];
    v.r[1] = r;
    struct fx *sh = fx_new(NULL);
    add_all(sh, &v);
    finish(sh);
    assert_int_equal(sh->d.records, 31);
    /* the record at T0+9.5 s, arriving after one at T0+10.5 s (1 s out of order), is in the
     * peak: the same attack as in order, peak 30, late 0 (once: peak 29, no attack) */
    assert_int_equal(sh->d.attacks, 1);
    assert_int_equal(sh->s.n, 1);
    check_same_attack(&in->s.a[0], &sh->s.a[0]);
    fx_free(in);
    fx_free(sh);
    free(v.r);
}

/* Late records: 10 minutes late (in packets, bytes and `late`, not the peak), 29 buckets
 * behind the newest (in the peak), 31 buckets behind (late). */
static void test_late(void **st)
{
    (void)st;
    struct ds_addr va = A("192.0.2.10"), vb = A("192.0.2.11"), vc = A("192.0.2.12");
    const struct ds_addr vs[3] = {va, vb, vc};
    /* a late record for each, sent right after the one at T0+900 s (bucket 90) */
    const uint64_t late_ts[3] = {T0 + 301 * SEC,  /* bucket 30: 599 s late */
                                 T0 + 611 * SEC,  /* bucket 61: 29 buckets behind */
                                 T0 + 591 * SEC}; /* bucket 59: 31 buckets behind */
    struct recs v = {0};
    for (uint64_t s = 0; s <= 1200; s += 2)
        for (int k = 0; k < 3; k++) {
            push(&v, rec(vs[k], 6, T0 + s * SEC));
            if (s == 900) {
                struct ds_dos_rec *r = push(&v, rec(vs[k], 6, late_ts[k]));
                r->wirelen = 1000;
                r->victim_port = 443;
            }
        }
    struct fx *f = fx_new(NULL);
    add_all(f, &v);
    finish(f);
    assert_int_equal(f->s.n, 3);
    assert_int_equal(f->d.records, 3 * 602);
    for (int k = 0; k < 3; k++) {
        const struct ds_dos_attack *a = find_attack(&f->s, vs[k], 6, 0);
        assert_non_null(a);
        assert_int_equal(a->packets, 602);
        assert_int_equal(a->bytes, 601 * 60 + 1000);
        assert_int_equal(a->first_ns, T0);
        assert_int_equal(a->last_ns, T0 + 1200 * SEC);
        assert_int_equal(a->n_ports, 2);
        assert_int_equal(a->ports[0].port, 80);
        assert_int_equal(a->ports[0].packets, 601);
        assert_int_equal(a->ports[1].port, 443);
        assert_int_equal(a->ports[1].packets, 1);
        assert_int_equal(a->victim_ports, 2);
    }
    assert_int_equal(find_attack(&f->s, va, 6, 0)->late, 1);
    assert_int_equal(find_attack(&f->s, va, 6, 0)->peak_ppm, 30);
    assert_int_equal(find_attack(&f->s, vb, 6, 0)->late, 0);
    assert_int_equal(find_attack(&f->s, vb, 6, 0)->peak_ppm, 31);
    assert_int_equal(find_attack(&f->s, vc, 6, 0)->late, 1);
    assert_int_equal(find_attack(&f->s, vc, 6, 0)->peak_ppm, 30);
    free(v.r);
    fx_free(f);
}

/* A gap of exactly the expiry continues the vector; 1 ns more starts a new one. */
static void test_gap(void **st)
{
    (void)st;
    struct ds_addr same = A("192.0.2.20"), split = A("192.0.2.21");
    struct recs v = {0};
    std_attack(&v, same, 6, T0); /* last at T0+60 s */
    std_attack(&v, split, 6, T0);
    std_attack(&v, same, 6, T0 + 360 * SEC); /* 300 s after the last */
    struct fx *f = fx_new(NULL);
    add_all(f, &v);
    assert_int_equal(f->s.n, 0);
    v.n = 0;
    std_attack(&v, split, 6, T0 + 360 * SEC + 1); /* 300 s + 1 ns */
    add(f, v.r, 1);                               /* ends the first vector */
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->d.vectors, 3);
    assert_int_equal(ds_dos_open(&f->d), 2);
    const struct ds_dos_attack *a = &f->s.a[0];
    assert_true(ds_addr_eq(&a->victim, &split));
    assert_int_equal(a->packets, 31);
    assert_int_equal(a->first_ns, T0);
    assert_int_equal(a->last_ns, T0 + 60 * SEC);
    assert_int_equal(a->peak_ppm, 30);
    add(f, v.r + 1, v.n - 1);
    finish(f);
    assert_int_equal(f->s.n, 3);
    assert_int_equal(f->d.attacks, 3);
    assert_int_equal(f->d.below, 0);
    assert_int_equal(f->d.records, 31 * 4);
    a = find_attack(&f->s, same, 6, 0);
    assert_non_null(a);
    assert_null(find_attack(&f->s, same, 6, 1));
    assert_int_equal(a->packets, 62);
    assert_int_equal(a->first_ns, T0);
    assert_int_equal(a->last_ns, T0 + 420 * SEC);
    assert_int_equal(a->peak_ppm, 30);
    a = find_attack(&f->s, split, 6, 1);
    assert_non_null(a);
    assert_int_equal(a->packets, 31);
    assert_int_equal(a->first_ns, T0 + 360 * SEC + 1);
    assert_int_equal(a->last_ns, T0 + 420 * SEC + 1);
    assert_int_equal(a->peak_ppm, 30);
    assert_int_equal(a->late, 0);
    free(v.r);
    fx_free(f);
}

/* Expiry by ds_dos_advance: exactly the expiry ends nothing, more does (at the next sweep,
 * sweeps at most every 10 s); time never goes back. */
static void test_advance(void **st)
{
    (void)st;
    struct ds_addr victim = A("192.0.2.30");
    const uint64_t last = T0 + 60 * SEC;
    struct recs v = {0};
    std_attack(&v, victim, 6, T0);

    struct fx *f = fx_new(NULL);
    add_all(f, &v);
    assert_int_equal(ds_dos_advance(&f->d, last + EXPIRY, &f->err), 0); /* sweeps */
    assert_int_equal(ds_dos_open(&f->d), 1);
    assert_int_equal(f->s.n, 0);
    assert_int_equal(f->d.now_ns, last + EXPIRY);
    /* past the expiry but within 10 s of the last sweep: no sweep yet */
    assert_int_equal(ds_dos_advance(&f->d, last + EXPIRY + 1, &f->err), 0);
    assert_int_equal(ds_dos_open(&f->d), 1);
    assert_int_equal(ds_dos_advance(&f->d, last + EXPIRY + 10 * SEC - 1, &f->err), 0);
    assert_int_equal(ds_dos_open(&f->d), 1);
    /* going back leaves the watermark */
    assert_int_equal(ds_dos_advance(&f->d, T0, &f->err), 0);
    assert_int_equal(f->d.now_ns, last + EXPIRY + 10 * SEC - 1);
    assert_int_equal(ds_dos_advance(&f->d, last + EXPIRY + 10 * SEC, &f->err), 0);
    assert_int_equal(ds_dos_open(&f->d), 0);
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.a[0].packets, 31);
    assert_int_equal(f->s.a[0].last_ns, last);
    /* the same key again: a new vector */
    add_all(f, &v);
    assert_int_equal(f->d.vectors, 2);
    assert_int_equal(ds_dos_open(&f->d), 1);
    finish(f);
    assert_int_equal(f->s.n, 2);
    assert_int_equal(f->d.attacks, 2);
    fx_free(f);

    /* a fresh tracker sweeps at its first advance: 1 ns past the expiry ends it */
    f = fx_new(NULL);
    add_all(f, &v);
    struct recs w = {0};
    std_attack(&w, A("192.0.2.31"), 6, T0 + 30 * SEC); /* last at T0+90 s */
    burst(&w, A("192.0.2.32"), 6, T0, 3, SEC);         /* below */
    add_all(f, &w);
    assert_int_equal(ds_dos_open(&f->d), 3);
    assert_int_equal(ds_dos_advance(&f->d, last + EXPIRY + 1, &f->err), 0);
    assert_int_equal(ds_dos_open(&f->d), 1);
    assert_int_equal(f->s.n, 1);
    assert_true(ds_addr_eq(&f->s.a[0].victim, &victim));
    assert_int_equal(f->d.below, 1);
    /* the other (last at T0+90 s) stays at exactly the expiry, ends at the next sweep */
    assert_int_equal(ds_dos_advance(&f->d, T0 + 390 * SEC, &f->err), 0);
    assert_int_equal(ds_dos_open(&f->d), 1);
    assert_int_equal(ds_dos_advance(&f->d, T0 + 400 * SEC, &f->err), 0);
    assert_int_equal(ds_dos_open(&f->d), 0);
    assert_int_equal(f->s.n, 2);
    assert_int_equal(f->s.a[1].first_ns, T0 + 30 * SEC);
    assert_int_equal(f->d.attacks, 2);
    /* ds_dos_add never ends a vector of another key by time */
    add(f, w.r, 1);
    struct ds_dos_rec far = rec(A("192.0.2.33"), 6, T0 + 100000 * SEC);
    add(f, &far, 1);
    assert_int_equal(ds_dos_open(&f->d), 2);
    finish(f);
    assert_int_equal(f->d.below, 3);
    free(v.r);
    free(w.r);
    fx_free(f);
}

/* Finish ends every vector; the tracker is empty after it. */
static void test_finish(void **st)
{
    (void)st;
    struct fx *f = fx_new(NULL);
    struct recs v = {0};
    for (uint32_t i = 0; i < 5; i++)
        std_attack(&v, V4(0xc0000201u + i), 6, T0 + i * SEC);
    for (uint32_t i = 0; i < 3; i++)
        burst(&v, V4(0xc0000301u + i), 6, T0, 40, SEC / 2); /* 19.5 s: below */
    add_all(f, &v);
    assert_int_equal(ds_dos_open(&f->d), 8);
    finish(f);
    assert_int_equal(f->s.n, 5);
    assert_int_equal(f->d.attacks, 5);
    assert_int_equal(f->d.below, 3);
    assert_int_equal(f->d.vectors, 8);
    assert_int_equal(f->d.records, 5 * 31 + 3 * 40);
    for (uint32_t i = 0; i < 5; i++) {
        const struct ds_dos_attack *a = find_attack(&f->s, V4(0xc0000201u + i), 6, 0);
        assert_non_null(a);
        assert_int_equal(a->first_ns, T0 + i * SEC);
        assert_int_equal(a->packets, 31);
    }
    /* again: nothing left */
    finish(f);
    assert_int_equal(f->s.n, 5);
    assert_int_equal(f->d.attacks, 5);
    assert_int_equal(f->d.below, 3);
    free(v.r);
    fx_free(f);
}

/* One vector per (victim, protocol); ICMP has no ports; IPv6 victims have no rate. */
static void test_protocols_ipv6(void **st)
{
    (void)st;
    struct ds_dos_config c;
    ds_dos_defaults(&c);
    c.monitored_v4 = 1u << 24; /* a /8: the rate is scaled by 256 */
    struct fx *f = fx_new(&c);
    struct ds_addr v4 = A("192.0.2.40"), v6 = A("2001:db8::40"), v4m = A("::ffff:192.0.2.41");
    struct recs v = {0};
    std_attack(&v, v4, 6, T0);
    std_attack(&v, v4, 1, T0 + 1 * SEC);
    std_attack(&v, v4, 17, T0 + 2 * SEC);
    burst(&v, v4, 6, T0 + 61 * SEC, 30, SEC); /* TCP goes on to T0+90 s */
    std_attack(&v, v6, 6, T0);
    std_attack(&v, v6, 58, T0);
    std_attack(&v, v4m, 6, T0); /* a mapped address is IPv4 */
    for (size_t i = 0; i < v.n; i++)
        if (v.r[i].proto == 1 || v.r[i].proto == 58) /* echo replies: varied darknet dst */
            ds_addr_set_v4(&v.r[i].dst, 0xcb007100u + (uint32_t)(i % 5));
    add_all(f, &v);
    assert_int_equal(ds_dos_open(&f->d), 6);
    finish(f);
    assert_int_equal(f->s.n, 6);
    assert_int_equal(f->d.vectors, 6);
    const struct ds_dos_attack *a = find_attack(&f->s, v4, 6, 0);
    assert_non_null(a);
    assert_int_equal(a->packets, 61);
    assert_int_equal(a->first_ns, T0);
    assert_int_equal(a->last_ns, T0 + 90 * SEC);
    assert_int_equal(a->peak_ppm, 31); /* buckets 6..9: 10 + 10 + 10 + 1 */
    assert_true(fabs(a->est_rate_pps - 61.0 / 90.0 * 256.0) < 1e-9);
    a = find_attack(&f->s, v4, 1, 0);
    assert_non_null(a);
    assert_int_equal(a->packets, 31);
    assert_int_equal(a->first_ns, T0 + SEC);
    assert_int_equal(a->n_ports, 0);
    assert_int_equal(a->victim_ports, 0);
    assert_int_equal(a->attacker_ports, 0);
    assert_int_equal(a->darknet_addrs, 5);
    assert_true(fabs(a->est_rate_pps - 31.0 / 60.0 * 256.0) < 1e-9);
    a = find_attack(&f->s, v4, 17, 0);
    assert_non_null(a);
    assert_int_equal(a->first_ns, T0 + 2 * SEC);
    assert_int_equal(a->packets, 31);
    assert_int_equal(a->n_ports, 1);
    a = find_attack(&f->s, v6, 6, 0);
    assert_non_null(a);
    assert_int_equal(a->packets, 31);
    assert_int_equal(a->peak_ppm, 30);
    assert_true(a->est_rate_pps == 0.0);
    a = find_attack(&f->s, v6, 58, 0);
    assert_non_null(a);
    assert_true(a->est_rate_pps == 0.0);
    assert_int_equal(a->n_ports, 0);
    a = find_attack(&f->s, A("192.0.2.41"), 6, 0);
    assert_non_null(a);
    assert_true(fabs(a->est_rate_pps - 31.0 / 60.0 * 256.0) < 1e-9);
    free(v.r);
    fx_free(f);
}

/* Top victim ports (busiest first, ties by port, lower bounds after a replacement) and the
 * distinct counts. */
static void test_ports(void **st)
{
    (void)st;
    struct fx *f = fx_new(NULL);
    struct ds_addr victim = A("192.0.2.50");
    struct recs v = {0};
    uint64_t t = T0;
    /* ports 1000..1015 with 2..17 packets, interleaved round-robin */
    for (unsigned round = 0; round < 17; round++)
        for (unsigned i = 0; i < 16; i++)
            if (round < i + 2) {
                struct ds_dos_rec *r = push(&v, rec(victim, 6, t));
                t += 400 * MS;
                r->victim_port = (uint16_t)(1000 + i);
                r->attacker_port = (uint16_t)(v.n % 100);
                ds_addr_set_v4(&r->dst, 0xcb007100u + (uint32_t)(v.n % 7));
            }
    /* a 17th port: it replaces the least busy (1000, 2 packets) and counts from 1 */
    for (unsigned k = 0; k < 30; k++) {
        struct ds_dos_rec *r = push(&v, rec(victim, 6, t));
        t += 400 * MS;
        r->victim_port = 2000;
        r->attacker_port = 7;
    }
    t += 400 * MS;
    /* 1000 comes back once: it replaces the least busy (1001, 3) and counts 1 */
    struct ds_dos_rec *r = push(&v, rec(victim, 6, t));
    r->victim_port = 1000;
    r->attacker_port = 7;
    assert_int_equal(v.n, 152 + 31);
    add_all(f, &v);
    finish(f);
    assert_int_equal(f->s.n, 1);
    const struct ds_dos_attack *a = &f->s.a[0];
    assert_int_equal(a->packets, 183);
    assert_int_equal(a->n_ports, 8);
    const uint16_t want_port[8] = {2000, 1015, 1014, 1013, 1012, 1011, 1010, 1009};
    const uint64_t want_n[8] = {30, 17, 16, 15, 14, 13, 12, 11};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(a->ports[i].port, want_port[i]);
        assert_int_equal(a->ports[i].packets, want_n[i]);
    }
    assert_int_equal(a->victim_ports, 17);
    assert_int_equal(a->attacker_ports, 100); /* 0..99 (7 among them) */
    assert_int_equal(a->darknet_addrs, 7);
    fx_free(f);

    /* ties: equal counts list by port */
    f = fx_new(NULL);
    v.n = 0;
    t = T0;
    for (unsigned k = 0; k < 40; k++) {
        r = push(&v, rec(victim, 6, t));
        t += 2 * SEC;
        r->victim_port = (uint16_t)(900 - (k % 10) * 10); /* 810..900, 4 each */
    }
    add_all(f, &v);
    finish(f);
    assert_int_equal(f->s.n, 1);
    a = &f->s.a[0];
    assert_int_equal(a->n_ports, 8);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(a->ports[i].port, 810 + 10 * i);
        assert_int_equal(a->ports[i].packets, 4);
    }
    assert_int_equal(a->victim_ports, 10);
    fx_free(f);
    free(v.r);
}

/* Distinct counts: exact up to 512, then the sketch's estimate clamped to the packets. */
static void test_distinct(void **st)
{
    (void)st;
    /* the smallest n > 512 whose sketch of n distinct ports estimates more than n */
    uint64_t n_over = 0, raw_over = 0;
    for (uint64_t n = 513; n < 4000 && !n_over; n++) {
        struct ds_hll h;
        ds_hll_init(&h);
        for (uint64_t p = 0; p < n; p++)
            assert_true(ds_hll_add(&h, ds_mix64(p)) >= 0);
        uint64_t est = ds_hll_estimate(&h);
        if (est > n) {
            n_over = n;
            raw_over = est;
        }
        ds_hll_free(&h);
    }
    assert_true(n_over > 0);
    struct ds_addr v512 = A("192.0.2.60"), vover = A("192.0.2.61");
    struct recs v = {0};
    /* 600 records, 512 distinct victim ports and darknet addresses, 600 attacker ports */
    for (unsigned k = 0; k < 600; k++) {
        struct ds_dos_rec *r = push(&v, rec(v512, 6, T0 + k * 500 * MS));
        r->victim_port = (uint16_t)(k % 512);
        r->attacker_port = (uint16_t)k;
        ds_addr_set_v4(&r->dst, 0xcb000000u + (k % 512));
    }
    /* n_over records, each with its own victim port: the estimate is clamped */
    for (unsigned k = 0; k < n_over; k++) {
        struct ds_dos_rec *r = push(&v, rec(vover, 17, T0 + k * 200 * MS));
        r->victim_port = (uint16_t)k;
        r->attacker_port = 5;
    }
    struct fx *f = fx_new(NULL);
    add_all(f, &v);
    finish(f);
    assert_int_equal(f->s.n, 2);
    const struct ds_dos_attack *a = find_attack(&f->s, v512, 6, 0);
    assert_non_null(a);
    assert_int_equal(a->packets, 600);
    assert_int_equal(a->victim_ports, 512);
    assert_int_equal(a->darknet_addrs, 512);
    struct ds_hll h;
    ds_hll_init(&h);
    for (uint64_t p = 0; p < 600; p++)
        assert_true(ds_hll_add(&h, ds_mix64(p)) >= 0);
    uint64_t est600 = ds_hll_estimate(&h);
    ds_hll_free(&h);
    assert_int_equal(a->attacker_ports, est600 < 600 ? est600 : 600);
    a = find_attack(&f->s, vover, 17, 0);
    assert_non_null(a);
    assert_int_equal(a->packets, n_over);
    assert_true(raw_over > n_over);
    assert_int_equal(a->victim_ports, n_over); /* clamped */
    assert_int_equal(a->attacker_ports, 1);
    assert_int_equal(a->darknet_addrs, 1);
    free(v.r);
    fx_free(f);
}

/* Thousands of victims: the table grows, and vectors expire (backward-shift deletion) while
 * others continue; every attack is emitted exactly once with its counts. Groups by i % 4:
 *   0: T0..T0+100 s, expires (sweep at T0+410 s), again T0+700..T0+800 s: two attacks
 *   1: T0..T0+1000 s: one attack, at the finish
 *   2: T0..T0+30 s (below), again T0+500..T0+600 s: one attack
 *   3: T0..T0+100 s, again T0+406..T0+506 s (a newer record ends it, before the sweep): two
 * one record every 2 s each while active. */
static bool active(unsigned g, uint64_t s, unsigned *phase)
{
    switch (g) {
    case 0:
        *phase = s >= 700;
        return s <= 100 || (s >= 700 && s <= 800);
    case 1:
        *phase = 0;
        return s <= 1000;
    case 2:
        *phase = s >= 500;
        return s <= 30 || (s >= 500 && s <= 600);
    default:
        *phase = s >= 406;
        return s <= 100 || (s >= 406 && s <= 506);
    }
}

static int cmp_attack(const void *x, const void *y)
{
    const struct ds_dos_attack *a = x, *b = y;
    int c = memcmp(a->victim.b, b->victim.b, sizeof a->victim.b);
    if (c)
        return c;
    if (a->proto != b->proto)
        return a->proto < b->proto ? -1 : 1;
    return a->first_ns < b->first_ns ? -1 : a->first_ns > b->first_ns;
}

static void test_many_victims(void **st)
{
    (void)st;
    enum { N = 6000 };
    struct fx *f = fx_new(NULL);
    struct ds_addr *vic = malloc(N * sizeof *vic);
    assert_non_null(vic);
    for (uint32_t i = 0; i < N; i++) {
        if (i % 5 == 4) {
            uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0};
            b[12] = (uint8_t)(i >> 24), b[13] = (uint8_t)(i >> 16), b[14] = (uint8_t)(i >> 8),
            b[15] = (uint8_t)i;
            ds_addr_set_v6(&vic[i], b);
        } else {
            vic[i] = V4(0x0a000000u + i * 97);
        }
    }
    struct recs batch = {0};
    uint64_t recs_total = 0;
    for (uint64_t s = 0; s <= 1000; s++) {
        batch.n = 0;
        if (s % 2 == 0)
            for (uint32_t i = 0; i < N; i++) {
                unsigned phase;
                if (active(i % 4, s, &phase))
                    push(&batch, rec(vic[i], 6, T0 + s * SEC + i)); /* distinct ns per victim */
            }
        add(f, batch.r, batch.n);
        recs_total += batch.n;
        /* sweeps at every multiple of 10 s */
        assert_int_equal(ds_dos_advance(&f->d, T0 + s * SEC, &f->err), 0);
        if (s == 2)
            assert_int_equal(ds_dos_open(&f->d), N);
        if (s == 400) { /* groups 0 and 3 are quiet for at most 300 s; group 2 has ended */
            assert_int_equal(f->s.n, 0);
            assert_int_equal(f->d.below, N / 4);
            assert_int_equal(ds_dos_open(&f->d), N / 4 * 3);
        }
        if (s == 406) /* group 3 restarted by a newer record: their first attacks */
            assert_int_equal(f->s.n, N / 4);
        if (s == 410) { /* the sweep at T0+410 s ended group 0 */
            assert_int_equal(f->s.n, N / 2);
            assert_int_equal(ds_dos_open(&f->d), N / 2);
        }
        if (s == 1000) /* groups 1 and 0 (again) */
            assert_int_equal(ds_dos_open(&f->d), N / 2);
    }
    assert_true(f->d.mask + 1 >= N * 4 / 3);
    assert_int_equal(f->d.records, recs_total);
    finish(f);
    assert_int_equal(f->d.below, N / 4);
    assert_int_equal(f->d.vectors, N / 4 * 7);
    assert_int_equal(f->d.attacks, N / 4 * 6);
    assert_int_equal(f->s.n, N / 4 * 6);
    /* the expected attacks, compared in (victim, first) order */
    struct ds_dos_attack *want = calloc(f->s.n, sizeof *want);
    assert_non_null(want);
    size_t nw = 0;
    for (uint32_t i = 0; i < N; i++) {
        unsigned g = i % 4;
        for (size_t k = 0; k < (g == 0 || g == 3 ? 2u : 1u); k++) {
            uint64_t first = g == 1 ? 0 : g == 2 ? 500 : k == 0 ? 0 : g == 0 ? 700 : 406;
            uint64_t last = g == 1 ? 1000 : first + 100;
            assert_true(nw < f->s.n);
            want[nw++] = (struct ds_dos_attack){.victim = vic[i],
                                                .proto = 6,
                                                .first_ns = T0 + first * SEC + i,
                                                .last_ns = T0 + last * SEC + i,
                                                .packets = (last - first) / 2 + 1};
        }
    }
    assert_int_equal(nw, f->s.n);
    qsort(want, nw, sizeof *want, cmp_attack);
    qsort(f->s.a, f->s.n, sizeof *f->s.a, cmp_attack);
    for (size_t j = 0; j < nw; j++) {
        const struct ds_dos_attack *a = &f->s.a[j], *w = &want[j];
        assert_true(ds_addr_eq(&a->victim, &w->victim));
        assert_int_equal(a->proto, 6);
        assert_int_equal(a->first_ns, w->first_ns);
        assert_int_equal(a->last_ns, w->last_ns);
        assert_int_equal(a->packets, w->packets);
        assert_int_equal(a->bytes, w->packets * 60);
        assert_int_equal(a->peak_ppm, 30);
        assert_int_equal(a->late, 0);
        assert_int_equal(a->n_ports, 1);
        assert_int_equal(a->ports[0].packets, w->packets);
        assert_true(a->est_rate_pps == 0.0);
    }
    free(want);
    free(batch.r);
    free(vic);
    fx_free(f);
}

/* The emitter fails: the error is returned, nothing more is emitted. */
static void test_emit_error(void **st)
{
    (void)st;
    struct recs v = {0};
    for (uint32_t i = 0; i < 4; i++)
        std_attack(&v, V4(0xc0000201u + i), 6, T0);
    /* at the finish */
    struct fx *f = fx_new(NULL);
    f->s.fail_after = 1;
    add_all(f, &v);
    assert_int_equal(ds_dos_finish(&f->d, &f->err), -EIO);
    assert_int_equal(f->err.code, -EIO);
    assert_string_equal(f->err.msg, "sink full");
    assert_int_equal(f->s.calls, 2);
    assert_int_equal(f->s.n, 1);
    assert_int_equal(ds_dos_open(&f->d), 0);
    /* later calls report it */
    assert_int_equal(ds_dos_add(&f->d, v.r, 1, &f->err), -EIO);
    fx_free(f);

    /* at a sweep */
    f = fx_new(NULL);
    f->s.fail_after = 0;
    add_all(f, &v);
    assert_int_equal(ds_dos_advance(&f->d, T0 + 60 * SEC + EXPIRY + 1, &f->err), -EIO);
    assert_int_equal(f->s.calls, 1);
    assert_int_equal(f->s.n, 0);
    assert_int_equal(ds_dos_open(&f->d), 0);
    assert_int_equal(ds_dos_add(&f->d, v.r, 1, &f->err), -EIO);
    assert_int_equal(ds_dos_advance(&f->d, T0 + 60 * SEC + EXPIRY + 2, &f->err), -EIO);
    assert_int_equal(f->s.calls, 1);
    fx_free(f);

    /* at a newer record of the same key */
    f = fx_new(NULL);
    f->s.fail_after = 0;
    add(f, v.r, 31);
    struct ds_dos_rec r = rec(V4(0xc0000201u), 6, T0 + 60 * SEC + EXPIRY + 1);
    assert_int_equal(ds_dos_add(&f->d, &r, 1, &f->err), -EIO);
    assert_int_equal(f->s.calls, 1);
    assert_int_equal(ds_dos_add(&f->d, v.r, v.n, &f->err), -EIO);
    assert_int_equal(ds_dos_finish(&f->d, &f->err), -EIO);
    assert_int_equal(f->s.calls, 1);
    assert_int_equal(f->s.n, 0);
    fx_free(f);
    free(v.r);
}

/* After the emitter failed, every later call reports the failure (ds_dos_add always does,
 * ds_dos_advance does between sweeps). */
static void test_emit_error_sticky(void **st)
{
    (void)st;
    struct recs v = {0};
    std_attack(&v, A("192.0.2.90"), 6, T0);
    burst(&v, A("192.0.2.91"), 6, T0 + 200 * SEC, 3, SEC); /* below, still open */
    struct fx *f = fx_new(NULL);
    f->s.fail_after = 0;
    add_all(f, &v);
    /* the attack ends at this sweep, the other vector stays */
    assert_int_equal(ds_dos_advance(&f->d, T0 + 60 * SEC + EXPIRY + 1, &f->err), -EIO);
    assert_int_equal(ds_dos_open(&f->d), 1);
    assert_int_equal(ds_dos_add(&f->d, v.r, 0, &f->err), -EIO);
    assert_int_equal(ds_dos_advance(&f->d, T0 + 60 * SEC + EXPIRY + 2, &f->err), -EIO);
    /* a later sweep that ends no attack still answers the stored error (it once returned 0) */
    assert_int_equal(ds_dos_advance(&f->d, T0 + 1000 * SEC, &f->err), -EIO);
    assert_int_equal(ds_dos_open(&f->d), 0);
    assert_int_equal(f->s.calls, 1);
    free(v.r);
    fx_free(f);
}

/* ------------------------------------------------------------------ decoded packets ----- */

static struct ds_pkt decode(const struct ds_craft *c, uint64_t ts, size_t *len)
{
    static uint8_t buf[2048];
    size_t n = ds_craft_packet(buf, sizeof buf, c);
    assert_true(n > 0);
    struct ds_pkt p;
    assert_int_equal(ds_decode(ds_craft_linktype(c->link), buf, (uint32_t)n, (uint32_t)n, ts, &p),
                     DS_DECODE_OK);
    p.payload = NULL;
    *len = n;
    return p;
}

static void test_rec_from(void **st)
{
    (void)st;
    size_t len;
    struct ds_dos_rec r;
    /* a SYN-ACK: the victim is the source, its port the source port */
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .src = A("192.0.2.7"),
                         .dst = A("203.0.113.9"),
                         .ttl = 50,
                         .proto = 6,
                         .sport = 443,
                         .dport = 40001,
                         .seq = 1,
                         .ack = 2,
                         .tcp_flags = DS_TCP_SYN | DS_TCP_ACK,
                         .win = 29200};
    struct ds_pkt p = decode(&c, T0 + 5, &len);
    ds_dos_rec_from(&r, &p);
    assert_int_equal(r.ts_ns, T0 + 5);
    struct ds_addr x = A("192.0.2.7");
    assert_true(ds_addr_eq(&r.victim, &x));
    x = A("203.0.113.9");
    assert_true(ds_addr_eq(&r.dst, &x));
    assert_int_equal(r.victim_port, 443);
    assert_int_equal(r.attacker_port, 40001);
    assert_int_equal(r.proto, 6);
    assert_true(r.has_ports);
    assert_int_equal(r.wirelen, len);

    /* an ICMP port unreachable quoting UDP 203.0.113.5:3333 -> 192.0.2.50:53: the victim is
     * the quoted destination */
    uint8_t inner[64];
    struct ds_craft q = {.link = DS_CRAFT_RAW,
                         .src = A("203.0.113.5"),
                         .dst = A("192.0.2.50"),
                         .ttl = 50,
                         .proto = 17,
                         .sport = 3333,
                         .dport = 53};
    assert_true(ds_craft_packet(inner, sizeof inner, &q) >= 28);
    c = (struct ds_craft){.link = DS_CRAFT_RAW,
                          .src = A("198.51.100.1"),
                          .dst = A("203.0.113.5"),
                          .ttl = 60,
                          .proto = 1,
                          .icmp_type = 3,
                          .icmp_code = 3,
                          .payload = inner,
                          .payload_len = 28};
    p = decode(&c, T0 + 6, &len);
    assert_true(p.flags & DS_PKT_QUOTE);
    ds_dos_rec_from(&r, &p);
    x = A("192.0.2.50");
    assert_true(ds_addr_eq(&r.victim, &x));
    x = A("203.0.113.5");
    assert_true(ds_addr_eq(&r.dst, &x));
    assert_int_equal(r.victim_port, 53);
    assert_int_equal(r.attacker_port, 3333);
    assert_int_equal(r.proto, 1);
    assert_true(r.has_ports);
    assert_int_equal(r.wirelen, len);
    assert_int_equal(r.ts_ns, T0 + 6);

    /* an echo reply: the source, no ports */
    c = (struct ds_craft){.link = DS_CRAFT_RAW,
                          .src = A("192.0.2.8"),
                          .dst = A("203.0.113.10"),
                          .ttl = 60,
                          .proto = 1,
                          .icmp_type = 0,
                          .icmp_rest = 0x00010002};
    p = decode(&c, T0 + 7, &len);
    ds_dos_rec_from(&r, &p);
    x = A("192.0.2.8");
    assert_true(ds_addr_eq(&r.victim, &x));
    assert_false(r.has_ports);
    assert_int_equal(r.victim_port, 0);
    assert_int_equal(r.attacker_port, 0);
    assert_int_equal(r.proto, 1);

    /* a RST-ACK from an IPv6 victim */
    c = (struct ds_craft){.link = DS_CRAFT_RAW,
                          .src = A("2001:db8:1::80"),
                          .dst = A("2001:db8:ffff::9"),
                          .ttl = 50,
                          .proto = 6,
                          .sport = 80,
                          .dport = 5555,
                          .seq = 0,
                          .ack = 9,
                          .tcp_flags = DS_TCP_RST | DS_TCP_ACK};
    p = decode(&c, T0 + 8, &len);
    ds_dos_rec_from(&r, &p);
    x = A("2001:db8:1::80");
    assert_true(ds_addr_eq(&r.victim, &x));
    assert_int_equal(r.victim_port, 80);
    assert_int_equal(r.attacker_port, 5555);
    assert_int_equal(r.wirelen, len);

    /* decoded SYN-ACKs make an attack */
    struct fx *f = fx_new(NULL);
    for (unsigned k = 0; k < 31; k++) {
        c = (struct ds_craft){.link = DS_CRAFT_RAW,
                              .src = A("192.0.2.7"),
                              .dst = V4(0xcb007100u + k % 3),
                              .ttl = 50,
                              .proto = 6,
                              .sport = k % 2 ? 443 : 80,
                              .dport = (uint16_t)(1024 + k),
                              .seq = 1,
                              .ack = 2,
                              .tcp_flags = DS_TCP_SYN | DS_TCP_ACK,
                              .win = 29200};
        p = decode(&c, k < 30 ? T0 + k * 100 * MS : T0 + 60 * SEC, &len);
        ds_dos_rec_from(&r, &p);
        add(f, &r, 1);
    }
    finish(f);
    assert_int_equal(f->s.n, 1);
    const struct ds_dos_attack *a = &f->s.a[0];
    assert_int_equal(a->packets, 31);
    assert_int_equal(a->bytes, 31 * len);
    assert_int_equal(a->peak_ppm, 30);
    assert_int_equal(a->n_ports, 2);
    assert_int_equal(a->ports[0].port, 80);
    assert_int_equal(a->ports[0].packets, 16);
    assert_int_equal(a->ports[1].port, 443);
    assert_int_equal(a->ports[1].packets, 15);
    assert_int_equal(a->victim_ports, 2);
    assert_int_equal(a->attacker_ports, 31);
    assert_int_equal(a->darknet_addrs, 3);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_threshold_packets),
        cmocka_unit_test(test_threshold_duration_peak),
        cmocka_unit_test(test_peak_patterns),
        cmocka_unit_test(test_peak_oracle),
        cmocka_unit_test(test_vectors_oracle),
        cmocka_unit_test(test_shuffled),
        cmocka_unit_test(test_shuffled_start),
        cmocka_unit_test(test_earliest_second),
        cmocka_unit_test(test_late),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_advance),
        cmocka_unit_test(test_finish),
        cmocka_unit_test(test_protocols_ipv6),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_distinct),
        cmocka_unit_test(test_many_victims),
        cmocka_unit_test(test_emit_error),
        cmocka_unit_test(test_emit_error_sticky),
        cmocka_unit_test(test_rec_from),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
