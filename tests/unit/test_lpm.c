/* test_lpm.c - the longest-prefix-match table against a brute-force reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/addr.h"
#include "core/lpm.h"

/* xorshift64*: deterministic, so a failure reproduces */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void clear_host_bits(struct ds_prefix *p)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned lo = i * 8;
        if (lo + 8 <= p->len)
            continue;
        p->addr.b[i] &= lo >= p->len ? 0 : (uint8_t)(0xff00u >> (p->len - lo));
    }
}

static struct ds_prefix pfx(const char *text)
{
    struct ds_prefix p;
    struct ds_err err = {0};
    assert_int_equal(ds_prefix_parse(&p, text, &err), 0);
    return p;
}

static struct ds_addr addr(const char *text)
{
    struct ds_addr a;
    struct ds_err err = {0};
    assert_int_equal(ds_addr_parse(&a, text, &err), 0);
    return a;
}

static struct ds_lpm *build(const struct ds_prefix *ps, const uint32_t *vals, size_t n)
{
    struct ds_lpm_builder *b;
    struct ds_lpm *t;
    struct ds_err err = {0};
    assert_int_equal(ds_lpm_builder_new(&b, &err), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ds_lpm_builder_add(b, &ps[i], vals[i], &err), 0);
    assert_int_equal(ds_lpm_build(b, &t, &err), 0);
    ds_lpm_builder_free(b);
    return t;
}

static void test_basic(void **st)
{
    (void)st;
    struct ds_prefix ps[] = {pfx("10.0.0.0/8"),        pfx("10.1.0.0/16"),   pfx("10.1.2.0/24"),
                             pfx("10.1.2.3/32"),       pfx("2001:db8::/32"), pfx("2001:db8:1::/48"),
                             pfx("2001:db8:1::1/128"), pfx("192.0.2.0/25")};
    uint32_t vals[] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct ds_lpm *t = build(ps, vals, 8);
    uint32_t v = 0;
    struct ds_addr a = addr("10.1.2.3");
    assert_true(ds_lpm_lookup(t, &a, &v));
    assert_int_equal(v, 4);
    a = addr("10.1.2.4");
    assert_true(ds_lpm_lookup(t, &a, &v));
    assert_int_equal(v, 3);
    assert_true(ds_lpm_lookup_v4(t, 0x0a01ff01, &v));
    assert_int_equal(v, 2);
    assert_true(ds_lpm_lookup_v4(t, 0x0aff0000, &v));
    assert_int_equal(v, 1);
    assert_false(ds_lpm_lookup_v4(t, 0x0b000000, &v));
    assert_true(ds_lpm_lookup_v4(t, 0xc000027f, &v)); /* 192.0.2.127 */
    assert_int_equal(v, 8);
    assert_false(ds_lpm_lookup_v4(t, 0xc0000280, &v)); /* 192.0.2.128 */
    a = addr("2001:db8:1::1");
    assert_true(ds_lpm_lookup(t, &a, &v));
    assert_int_equal(v, 7);
    a = addr("2001:db8:1::2");
    assert_true(ds_lpm_lookup(t, &a, &v));
    assert_int_equal(v, 6);
    a = addr("2001:db8:ffff::");
    assert_true(ds_lpm_lookup(t, &a, &v));
    assert_int_equal(v, 5);
    a = addr("2001:db9::");
    assert_false(ds_lpm_lookup(t, &a, &v));
    a = addr("::");
    assert_false(ds_lpm_lookup(t, &a, &v));

    /* every match, longest first */
    struct ds_lpm_iter it;
    struct ds_prefix p;
    char buf[DS_PREFIX_STRLEN];
    a = addr("10.1.2.3");
    ds_lpm_iter_init(&it, t, &a);
    const char *want[] = {"10.1.2.3/32", "10.1.2.0/24", "10.1.0.0/16", "10.0.0.0/8"};
    for (int i = 0; i < 4; i++) {
        assert_true(ds_lpm_iter_next(&it, &p, &v));
        assert_string_equal(ds_prefix_format(&p, buf), want[i]);
        assert_int_equal(v, 4 - i);
    }
    assert_false(ds_lpm_iter_next(&it, &p, &v));

    struct ds_lpm_stats s;
    ds_lpm_get_stats(t, &s);
    assert_int_equal(s.prefixes, 8);
    /* 0 | 10/8 | 10.1/16 | 10.1.2/24 | .3/32 | 10.1.2/24 | 10.1/16 | 10/8 | 0 | 192.0.2/25 | 0 */
    assert_int_equal(s.v4_intervals, 11);
    /* :: | 2001:db8/32 | 1::/48 | 1::1 | 1::/48 | /32 | :: */
    assert_int_equal(s.v6_intervals, 7);
    ds_lpm_free(t);
}

static void test_defaults_and_duplicates(void **st)
{
    (void)st;
    /* ::/0 covers IPv4 too; 0.0.0.0/0 is longer (in the 128-bit space) so it wins for IPv4 */
    struct ds_prefix ps[] = {pfx("::/0"), pfx("0.0.0.0/0"), pfx("10.0.0.0/8"), pfx("10.0.0.0/8"),
                             pfx("::/80")}; /* not IPv4, but covers ::ffff:0:0/96 */
    uint32_t vals[] = {100, 200, 300, 301, 150};
    struct ds_lpm *t = build(ps, vals, 5);
    uint32_t v = 0;
    struct ds_addr a = addr("2001:db8::1");
    assert_true(ds_lpm_lookup(t, &a, &v));
    assert_int_equal(v, 100);
    a = addr("::1");
    assert_true(ds_lpm_lookup(t, &a, &v));
    assert_int_equal(v, 150);
    assert_true(ds_lpm_lookup_v4(t, 0x01020304, &v));
    assert_int_equal(v, 200);
    assert_true(ds_lpm_lookup_v4(t, 0x0a000001, &v));
    assert_int_equal(v, 301); /* duplicate: later wins */
    struct ds_lpm_iter it;
    a = addr("10.0.0.1");
    ds_lpm_iter_init(&it, t, &a);
    uint32_t got[8];
    int n = 0;
    while (n < 8 && ds_lpm_iter_next(&it, NULL, &got[n]))
        n++;
    assert_int_equal(n, 5);
    assert_int_equal(got[0], 301);
    assert_int_equal(got[1], 300);
    assert_int_equal(got[2], 200);
    assert_int_equal(got[3], 150);
    assert_int_equal(got[4], 100);
    ds_lpm_free(t);

    /* IPv6 only: IPv4 lookups find nothing and allocate no IPv4 index */
    struct ds_prefix p6[] = {pfx("2001:db8::/32")};
    t = build(p6, vals, 1);
    assert_false(ds_lpm_lookup_v4(t, 0x0a000001, &v));
    struct ds_lpm_stats s;
    ds_lpm_get_stats(t, &s);
    assert_true(s.bytes < 300000);
    assert_int_equal(s.v4_intervals, 0);
    ds_lpm_free(t);

    /* empty table */
    t = build(NULL, NULL, 0);
    a = addr("::1");
    assert_false(ds_lpm_lookup(t, &a, &v));
    ds_lpm_iter_init(&it, t, &a);
    assert_false(ds_lpm_iter_next(&it, NULL, NULL));
    ds_lpm_free(t);
}

static void test_bad_prefix(void **st)
{
    (void)st;
    struct ds_lpm_builder *b;
    struct ds_err err = {0};
    assert_int_equal(ds_lpm_builder_new(&b, &err), 0);
    struct ds_prefix p = pfx("10.0.0.0/8");
    p.addr.b[15] = 1;
    assert_int_equal(ds_lpm_builder_add(b, &p, 1, &err), -EINVAL);
    assert_string_equal(err.msg, "lpm: prefix 10.0.0.1/104 has host bits set");
    p.len = 129;
    assert_int_equal(ds_lpm_builder_add(b, &p, 1, &err), -EINVAL);
    assert_string_equal(err.msg, "lpm: prefix 10.0.0.1/129: length exceeds 128");
    assert_int_equal(ds_lpm_builder_count(b), 0);
    ds_lpm_builder_free(b);
}

/* ---- randomised comparison with a linear scan ---- */

struct ref {
    struct ds_prefix *p;
    uint32_t *v;
    size_t n;
};

/* The reference: the longest containing prefix, the latest among equals. */
static bool ref_lookup(const struct ref *r, const struct ds_addr *a, uint32_t *v)
{
    int best = -1;
    for (size_t i = 0; i < r->n; i++) {
        /* bitwise containment: an IPv6 prefix covering ::ffff:0:0/96 covers IPv4 too */
        bool in = ds_prefix_contains(&r->p[i], a);
        if (in && (best < 0 || r->p[i].len >= r->p[best].len))
            best = (int)i;
    }
    if (best < 0)
        return false;
    *v = r->v[best];
    return true;
}

static size_t ref_count(const struct ref *r, const struct ds_addr *a)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++)
        n += ds_prefix_contains(&r->p[i], a);
    return n;
}

static struct ds_prefix random_prefix(bool v4)
{
    struct ds_prefix p;
    for (unsigned i = 0; i < 16; i += 8) {
        uint64_t x = rnd();
        memcpy(p.addr.b + i, &x, 8);
    }
    if (v4) {
        ds_addr_set_v4(&p.addr, (uint32_t)(rnd() >> 32) & 0x0f0f00ffu); /* clustered */
        static const uint8_t lens[] = {0, 1, 7, 8, 12, 15, 16, 17, 20, 23, 24, 25, 28, 31, 32};
        p.len = (uint8_t)(96 + lens[rnd() % sizeof lens]);
    } else {
        p.addr.b[0] = 0x20;
        p.addr.b[1] = (uint8_t)(rnd() & 3);
        static const uint8_t lens[] = {0, 3, 12, 16, 24, 32, 33, 40, 48, 56, 64, 96, 127, 128};
        p.len = lens[rnd() % sizeof lens];
    }
    clear_host_bits(&p);
    return p;
}

static struct ds_addr random_addr_near(const struct ref *r)
{
    struct ds_addr a;
    uint64_t x = rnd(), y = rnd();
    memcpy(a.b, &x, 8);
    memcpy(a.b + 8, &y, 8);
    uint64_t pick = rnd() % 4;
    if (pick == 0)
        return a; /* anywhere in the 128-bit space */
    const struct ds_prefix *p = &r->p[rnd() % r->n];
    if (pick == 1 && ds_prefix_is_v4(p)) {
        ds_addr_set_v4(&a, (uint32_t)x);
        return a;
    }
    /* inside p (or one past its end, a boundary case) */
    for (unsigned i = 0; i < 16; i++) {
        unsigned lo = i * 8;
        if (lo + 8 <= p->len)
            a.b[i] = p->addr.b[i];
        else if (lo < p->len) {
            uint8_t keep = (uint8_t)(0xff00u >> (p->len - lo));
            a.b[i] = (uint8_t)((p->addr.b[i] & keep) | (a.b[i] & ~keep));
        }
    }
    if (pick == 3) { /* the prefix's first and last address, and the ones beside them */
        uint8_t fillb = (rnd() & 1) ? 0xff : 0;
        for (unsigned bit = p->len; bit < 128; bit++) {
            uint8_t m = (uint8_t)(0x80u >> (bit % 8));
            a.b[bit / 8] = (uint8_t)(fillb ? a.b[bit / 8] | m : a.b[bit / 8] & ~m);
        }
        if (rnd() & 1) { /* step one address out */
            for (int i = 15; i >= 0; i--) {
                if (fillb) {
                    if (++a.b[i] != 0)
                        break;
                } else if (a.b[i]-- != 0) {
                    break;
                }
            }
        }
    }
    return a;
}

static void check_random(unsigned n_v4, unsigned n_v6, unsigned n_lookups, uint64_t seed)
{
    rng_state = seed;
    struct ref r = {.n = n_v4 + n_v6};
    r.p = calloc(r.n, sizeof *r.p);
    r.v = calloc(r.n, sizeof *r.v);
    assert_non_null(r.p);
    assert_non_null(r.v);
    for (size_t i = 0; i < r.n; i++) {
        if (i > 0 && rnd() % 50 == 0)
            r.p[i] = r.p[rnd() % i]; /* a duplicate */
        else
            r.p[i] = random_prefix(i < n_v4);
        r.v[i] = (uint32_t)i;
    }
    struct ds_lpm *t = build(r.p, r.v, r.n);
    size_t hits = 0;
    for (unsigned k = 0; k < n_lookups; k++) {
        struct ds_addr a = random_addr_near(&r);
        uint32_t want = 0, got = 0;
        bool in = ref_lookup(&r, &a, &want);
        bool found = ds_lpm_lookup(t, &a, &got);
        if (in != found || (in && want != got)) {
            char buf[DS_ADDR_STRLEN];
            fail_msg("%s: reference %d/%u, table %d/%u (seed %llu)", ds_addr_format(&a, buf), in,
                     want, found, got, (unsigned long long)seed);
        }
        hits += in;
        if (ds_addr_is_v4(&a)) {
            uint32_t got4 = 0;
            assert_int_equal(ds_lpm_lookup_v4(t, ds_addr_v4(&a), &got4), found);
            if (found)
                assert_int_equal(got4, got);
        }
        /* the iterator yields every containing prefix, lengths non-increasing */
        struct ds_lpm_iter it;
        struct ds_prefix p;
        uint32_t v, first = 0;
        unsigned last_len = 129;
        size_t n = 0;
        ds_lpm_iter_init(&it, t, &a);
        while (ds_lpm_iter_next(&it, &p, &v)) {
            assert_true(ds_prefix_contains(&p, &a));
            assert_true(p.len <= last_len);
            assert_true(memcmp(&r.p[v], &p, sizeof p) == 0);
            last_len = p.len;
            if (n == 0)
                first = v;
            n++;
        }
        assert_int_equal(n, ref_count(&r, &a));
        if (in)
            assert_int_equal(first, want);
    }
    assert_true(hits > n_lookups / 4); /* the test exercises matches, not only misses */
    ds_lpm_free(t);
    free(r.p);
    free(r.v);
}

static void test_random_v4(void **st)
{
    (void)st;
    check_random(3000, 0, 20000, 1);
    check_random(200, 0, 5000, 2);
}

static void test_random_v6(void **st)
{
    (void)st;
    check_random(0, 3000, 20000, 3);
}

static void test_random_mixed(void **st)
{
    (void)st;
    check_random(2000, 2000, 20000, 4);
    for (uint64_t seed = 10; seed < 40; seed++)
        check_random(20, 20, 500, seed); /* small tables: dense nesting and duplicates */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),      cmocka_unit_test(test_defaults_and_duplicates),
        cmocka_unit_test(test_bad_prefix), cmocka_unit_test(test_random_v4),
        cmocka_unit_test(test_random_v6),  cmocka_unit_test(test_random_mixed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
