/* test_gen_core.c - the generator's building blocks: PRNG determinism, the event heap, the
 * source table, the pair set, RS-DoS peak windows and the generator's own rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "classify/amp.h"
#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "decode/decode.h"
#include "gen/craft.h"
#include "gen/pairset.h"
#include "gen/payload.h"
#include "gen/rng.h"
#include "gen/rules.h"
#include "gen/sched.h"
#include "gen/srctab.h"
#include "gen/truth.h"

static void test_rng_reference(void **st)
{
    (void)st;
    /* xoshiro256** reference outputs for the state {1, 2, 3, 4} */
    struct ds_rng r = {.s = {1, 2, 3, 4}};
    assert_true(ds_rng_next(&r) == 11520u);
    assert_true(ds_rng_next(&r) == 0u);
    assert_true(ds_rng_next(&r) == 1509978240u);
    assert_true(ds_rng_next(&r) == 1215971899390074240ull);
}

static void test_rng_determinism(void **st)
{
    (void)st;
    struct ds_rng a, b, c, d;
    ds_rng_seed(&a, 42, 7);
    ds_rng_seed(&b, 42, 7);
    ds_rng_seed(&c, 42, 8);
    ds_rng_seed(&d, 43, 7);
    int same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = ds_rng_next(&a);
        assert_true(x == ds_rng_next(&b));
        same_c += x == ds_rng_next(&c);
        same_d += x == ds_rng_next(&d);
    }
    assert_int_equal(same_c, 0);
    assert_int_equal(same_d, 0);
}

static void test_rng_ranges(void **st)
{
    (void)st;
    struct ds_rng r;
    ds_rng_seed(&r, 1, 1);
    unsigned hist[10] = {0};
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t x = ds_rng_below(&r, 10);
        assert_true(x < 10);
        hist[x]++;
        uint64_t y = ds_rng_range(&r, 5, 7);
        assert_true(y >= 5 && y <= 7);
        double u = ds_rng_unit(&r);
        assert_true(u >= 0 && u < 1);
        double l = ds_rng_logu(&r, 2, 200);
        assert_true(l >= 2 && l <= 200);
        sum += ds_rng_exp(&r, 3.0);
    }
    for (int i = 0; i < 10; i++)
        assert_true(hist[i] > 9500 && hist[i] < 10500);
    double mean = sum / 100000;
    assert_true(mean > 2.95 && mean < 3.05);
    assert_int_equal(ds_rng_below(&r, 0), 0);
    double w[3] = {0, 1, 0};
    for (int i = 0; i < 100; i++)
        assert_int_equal(ds_rng_weighted(&r, w, 3), 1);
}

static void test_sched_order(void **st)
{
    (void)st;
    struct ds_sched s;
    assert_int_equal(ds_sched_init(&s), 0);
    struct ds_rng r;
    ds_rng_seed(&r, 3, 3);
    enum { N = 20000 };
    /* times in the current bucket, within the ring's horizon and far beyond it, with ties */
    const uint64_t t0 = 1704067200ull * 1000000000ull;
    const uint64_t horizon = DS_SCHED_WIDTH_NS * DS_SCHED_BUCKETS;
    for (uint32_t i = 0; i < N; i++) {
        uint64_t span = i % 3 == 0 ? 1000 : i % 3 == 1 ? horizon : 5 * horizon;
        assert_int_equal(ds_sched_push(&s, t0 + ds_rng_below(&r, span), i), 0);
    }
    /* an event-driven run: take the top, sometimes re-time it later, sometimes add one;
     * (t, id) must never go back */
    uint64_t pt = 0;
    uint32_t pid = 0;
    size_t popped = 0, pushed = N;
    for (;;) {
        const struct ds_sched_ent *e = ds_sched_top(&s);
        if (!e)
            break;
        assert_true(e->t > pt || (e->t == pt && (popped == 0 || e->id >= pid)));
        pt = e->t;
        pid = e->id;
        uint64_t x = ds_rng_below(&r, 10);
        if (x < 3 && pushed < 3 * N) {
            uint64_t later = e->t + (x == 0 ? 0 : x == 1 ? ds_rng_below(&r, horizon) : 3 * horizon);
            assert_int_equal(ds_sched_retime_top(&s, later), 0);
            pushed++;
            continue;
        }
        if (x == 3 && pushed < 3 * N) {
            assert_int_equal(
                ds_sched_push(&s, e->t + ds_rng_below(&r, horizon / 4), (uint32_t)pushed), 0);
            pushed++;
        }
        ds_sched_pop(&s);
        popped++;
    }
    assert_int_equal(s.n, 0);
    assert_true(popped > N);
    ds_sched_free(&s);
}

static void test_srctab(void **st)
{
    (void)st;
    struct ds_srctab t;
    assert_int_equal(ds_srctab_init(&t), 0);
    for (uint32_t i = 0; i < 50000; i++) {
        struct ds_addr a;
        ds_addr_set_v4(&a, 0xc6120000u + i); /* one /16: only the low bits differ */
        uint32_t id;
        assert_int_equal(ds_srctab_add(&t, &a, 3, &id), 0);
        assert_int_equal(id, i);
    }
    struct ds_addr a;
    ds_addr_set_v4(&a, 0xc6120000u + 777);
    uint32_t id;
    assert_int_equal(ds_srctab_add(&t, &a, 1, &id), -EEXIST);
    assert_int_equal(ds_srctab_find(&t, &a, &id), 0);
    assert_int_equal(id, 777);
    assert_int_equal(ds_srctab_get(&t, id)->pop, 3);
    ds_addr_set_v4(&a, 0x01020304);
    assert_int_equal(ds_srctab_find(&t, &a, &id), -ENOENT);
    ds_srctab_free(&t);
}

static void test_pairset(void **st)
{
    (void)st;
    struct ds_pairset s;
    assert_int_equal(ds_pairset_init(&s), 0);
    for (uint32_t src = 0; src < 10000; src++) {
        assert_int_equal(ds_pairset_hit(&s, ds_pair_key(src, 0, 23)), 1);
        assert_int_equal(ds_pairset_hit(&s, ds_pair_key(src, 0, 23)), 0);
        assert_int_equal(ds_pairset_hit(&s, ds_pair_key(src, 1, 23)), 1);
    }
    assert_int_equal(ds_pairset_insert(&s, ds_pair_key(20000, 1, 53), 5), 0);
    assert_int_equal(s.n, 20001);
    ds_pairset_sort(&s);
    assert_true(s.slots[0].key == ds_pair_key(0, 0, 23));
    assert_int_equal(s.slots[0].packets, 2);
    assert_int_equal(ds_pair_proto(s.slots[1].key), 1);
    assert_int_equal(ds_pair_port(s.slots[1].key), 23);
    assert_int_equal(ds_pair_src(s.slots[20000].key), 20000);
    assert_int_equal(s.slots[20000].packets, 5);
    ds_pairset_free(&s);
}

static void test_peak_windows(void **st)
{
    (void)st;
    const uint64_t S = 1000000000ull, t0 = 1704067200ull * S;
    struct ds_peak p = {0};
    /* 20 packets in one 10-s bucket, 20 in the next 50 s, then 5 two minutes later */
    for (int i = 0; i < 20; i++)
        ds_peak_add(&p, t0 + (uint64_t)i * S / 4);
    for (int i = 0; i < 20; i++)
        ds_peak_add(&p, t0 + 10 * S + (uint64_t)i * 2 * S);
    assert_int_equal(p.peak, 40);
    for (int i = 0; i < 5; i++)
        ds_peak_add(&p, t0 + 170 * S + (uint64_t)i * S);
    assert_int_equal(p.peak, 40);
    assert_true(ds_truth_rsdos(45, t0, t0 + 174 * S, p.peak));
    assert_false(ds_truth_rsdos(24, t0, t0 + 174 * S, p.peak));
    assert_false(ds_truth_rsdos(45, t0, t0 + 59 * S, p.peak));
    assert_false(ds_truth_rsdos(45, t0, t0 + 174 * S, 29));

    struct ds_truth_attack a = {0};
    assert_int_equal(ds_truth_attack_packet(&a, t0), 0);
    assert_int_equal(ds_truth_attack_packet(&a, t0 + 300 * S), 0); /* a 300 s gap keeps it */
    assert_int_equal(ds_truth_attack_packet(&a, t0 + 601 * S), 0); /* 301 s: a new vector */
    assert_int_equal(a.nvec, 2);
    assert_int_equal(a.vec[0].packets, 2);
    assert_int_equal(a.vec[1].packets, 1);
    assert_int_equal(a.packets, 3);
    free(a.vec);
}

/* The generator's rules against the analyzer's classifier on random packets. */
static void test_rules_agree_with_classifier(void **st)
{
    (void)st;
    struct ds_rng r;
    ds_rng_seed(&r, 5, 5);
    static const uint8_t *const opts[] = {NULL, ds_opts_mss1460, ds_opts_linux, ds_opts_windows};
    static const size_t optlen[] = {0, 4, 20, 12};
    static const uint8_t protos[] = {6, 6, 6, 17, 1, 47};
    static const uint8_t flags[] = {0x02, 0x12, 0x04, 0x14, 0x00, 0x29, 0x03, 0x10, 0x06, 0xc2};
    static const uint8_t icmp_types[] = {0, 3, 8, 11, 13, 5, 17, 9};
    static const uint16_t wins[] = {1024, 1025, 65535, 29200};
    static const uint16_t ports[] = {0, 23, 80, 4444, 2323};
    uint8_t buf[2048];
    for (int i = 0; i < 200000; i++) {
        struct ds_craft c = {.link = DS_CRAFT_RAW};
        uint32_t dst = 0xc6336400u | (uint32_t)ds_rng_below(&r, 256);
        uint32_t src = ds_rng_chance(&r, 0.1) ? 0x0a000001u : ds_rng_u32(&r);
        if (ds_rng_chance(&r, 0.05))
            src = (src & ~0xffu) | (ds_rng_chance(&r, 0.5) ? 0 : 255);
        if (ds_rng_chance(&r, 0.01))
            src = dst;
        ds_addr_set_v4(&c.src, src);
        ds_addr_set_v4(&c.dst, dst);
        c.proto = protos[ds_rng_below(&r, 6)];
        c.ttl = ds_rng_chance(&r, 0.3) ? (uint8_t)ds_rng_range(&r, 200, 255)
                                       : (uint8_t)ds_rng_range(&r, 1, 199);
        c.ip_id = ds_rng_chance(&r, 0.1) ? 54321 : ds_rng_u16(&r);
        c.sport = ports[ds_rng_below(&r, 5)];
        c.dport = ports[ds_rng_below(&r, 5)];
        c.seq = ds_rng_chance(&r, 0.1) ? dst : ds_rng_u32(&r);
        if (ds_rng_chance(&r, 0.1))
            c.ip_id = (uint16_t)(dst ^ c.dport ^ c.seq);
        c.tcp_flags = flags[ds_rng_below(&r, 10)];
        c.win = wins[ds_rng_below(&r, 4)];
        unsigned o = (unsigned)ds_rng_below(&r, 4);
        c.tcp_opts = opts[o];
        c.tcp_opts_len = optlen[o];
        c.icmp_type = icmp_types[ds_rng_below(&r, 8)];
        if (ds_rng_chance(&r, 0.05))
            c.mf = true;
        size_t n = ds_craft_packet(buf, sizeof buf, &c);
        assert_true(n > 0);
        struct ds_pkt p;
        assert_int_equal(ds_decode(101, buf, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_OK);
        ds_classify(&p);
        /* UDP payloads are empty here: port 17/19 take any datagram as the request */
        bool amp = c.proto == 17 && (c.dport == 17 || c.dport == 19);
        assert_int_equal(ds_rules_classes(&c, amp), p.classes);
        assert_int_equal(ds_rules_fps(&c), p.fps);
    }
}

/* Every amplification payload is its protocol's request; the plain probes are not. */
static void test_payloads(void **st)
{
    (void)st;
    for (const struct ds_gen_udp_probe *p = ds_gen_amp_probes; p->name; p++) {
        const struct ds_amp_proto *a = ds_amp_by_port(p->port);
        assert_non_null(a);
        assert_string_equal(a->name, p->proto);
        assert_true(a->is_request(p->bytes, p->len));
        assert_true(p->amp);
        assert_true(ds_rules_amp_port(p->port));
    }
    for (const struct ds_gen_udp_probe *p = ds_gen_plain_probes; p->name; p++) {
        const struct ds_amp_proto *a = ds_amp_by_port(p->port);
        assert_false(p->amp);
        if (a)
            assert_false(a->is_request(p->bytes, p->len));
    }
    assert_true(ds_gen_probe_count(ds_gen_amp_probes) >= 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_reference), cmocka_unit_test(test_rng_determinism),
        cmocka_unit_test(test_rng_ranges),    cmocka_unit_test(test_sched_order),
        cmocka_unit_test(test_srctab),        cmocka_unit_test(test_pairset),
        cmocka_unit_test(test_peak_windows),  cmocka_unit_test(test_rules_agree_with_classifier),
        cmocka_unit_test(test_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
