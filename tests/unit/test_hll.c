/* test_hll.c - distinct-count sketches: exact sparse sets, HLL accuracy, merge, blobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "analyze/hll.h"
#include "core/hash.h"

#define SE (1.04 / 64.0) /* 1.04 / sqrt(4096): the standard error, 1.625 % */

/* The i-th source of population `seed`, hashed as callers do: IPv4-like numbers, distinct
 * for distinct (seed, i) with i < 2^32, through the ds_mix64 bijection. */
static uint64_t item(uint64_t seed, uint64_t i)
{
    return ds_mix64(seed << 32 | i);
}

/* xorshift64*: deterministic, so a failure reproduces */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void add_range(struct ds_hll *h, uint64_t seed, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++)
        assert_true(ds_hll_add(h, item(seed, i)) >= 0);
}

static size_t ser(const struct ds_hll *h, uint8_t *buf)
{
    int n = ds_hll_serialize(h, buf, DS_HLL_SERIAL_MAX);
    assert_true(n > 0);
    assert_int_equal((size_t)n, ds_hll_serialized_size(h));
    return (size_t)n;
}

/* Same mode, same blob, same estimate. */
static void assert_same(const struct ds_hll *a, const struct ds_hll *b)
{
    static uint8_t ba[DS_HLL_SERIAL_MAX], bb[DS_HLL_SERIAL_MAX];
    size_t na = ser(a, ba), nb = ser(b, bb);
    assert_int_equal(na, nb);
    assert_memory_equal(ba, bb, na);
    assert_int_equal(ds_hll_is_exact(a), ds_hll_is_exact(b));
    assert_int_equal(ds_hll_estimate(a), ds_hll_estimate(b));
}

static void assert_empty(const struct ds_hll *h)
{
    assert_null(h->sparse);
    assert_null(h->regs);
    assert_int_equal(h->n, 0);
    assert_int_equal(h->cap, 0);
    assert_true(ds_hll_is_exact(h));
    assert_int_equal(ds_hll_estimate(h), 0);
}

/* ---- an independent reference for the dense form ---- */

static void ref_add(uint8_t regs[DS_HLL_M], uint64_t hash)
{
    unsigned j = (unsigned)(hash >> 52);
    uint8_t r = 1;
    for (int bit = 51; bit >= 0 && !((hash >> bit) & 1); bit--)
        r++;
    if (r > regs[j])
        regs[j] = r;
}

/* Ertl's estimator written as the direct sum, with fixed-length series:
 *   sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1),  tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k)
 * / 3 E = m^2 / (2 ln 2) / (m sigma(C0/m) + sum_{1<=r<=52} 2^-r + m tau(1 - C53/m) 2^-52) */
static uint64_t ref_estimate(const uint8_t regs[DS_HLL_M])
{
    double m = 4096, c0 = 0, c53 = 0, mid = 0;
    for (unsigned j = 0; j < DS_HLL_M; j++) {
        if (regs[j] == 0)
            c0++;
        else if (regs[j] == 53)
            c53++;
        else
            mid += pow(2.0, -regs[j]);
    }
    double x = c0 / m, sigma = x;
    if (x == 1)
        sigma = INFINITY;
    for (int k = 1; k < 64 && x < 1; k++)
        sigma += pow(x, pow(2.0, k)) * pow(2.0, k - 1);
    x = 1 - c53 / m;
    double tau = 0;
    if (x > 0 && x < 1) {
        tau = 1 - x;
        for (int k = 1; k < 80; k++)
            tau -= pow(1 - pow(x, pow(2.0, -k)), 2) * pow(2.0, -k);
        tau /= 3;
    }
    double e = m * m / (2 * log(2.0)) / (m * sigma + mid + m * tau * pow(2.0, -52));
    if (e >= 18446744073709551616.0)
        return UINT64_MAX;
    uint64_t est = (uint64_t)(e + 0.5);
    return est < 513 ? 513 : est;
}

/* The registers of a dense sketch equal the reference's, and so does the estimate. */
static void assert_matches_ref(const struct ds_hll *h, const uint8_t regs[DS_HLL_M])
{
    static uint8_t b[DS_HLL_SERIAL_MAX];
    assert_false(ds_hll_is_exact(h));
    assert_int_equal(ser(h, b), DS_HLL_SERIAL_MAX);
    assert_memory_equal(b + 9, regs, DS_HLL_M);
    assert_int_equal(ds_hll_estimate(h), ref_estimate(regs));
}

/* ---- sparse mode ---- */

static void test_empty(void **st)
{
    (void)st;
    struct ds_hll h;
    ds_hll_init(&h);
    assert_empty(&h);
    uint8_t b[16];
    assert_int_equal(ds_hll_serialized_size(&h), 9);
    assert_int_equal(ds_hll_serialize(&h, b, sizeof b), 9);
    const uint8_t want[9] = {'H', 'L', 1, 0, 12, 0, 0, 0, 0};
    assert_memory_equal(b, want, 9);
    ds_hll_free(&h);
    assert_empty(&h);
    ds_hll_free(&h); /* twice is fine */
}

static void test_sparse_exact(void **st)
{
    (void)st;
    struct ds_hll h;
    ds_hll_init(&h);
    /* extremes and a known blob */
    assert_int_equal(ds_hll_add(&h, 0x0102030405060708ULL), 1);
    assert_int_equal(ds_hll_add(&h, 5), 1);
    assert_int_equal(ds_hll_add(&h, 5), 0);
    assert_int_equal(ds_hll_add(&h, 0x0102030405060708ULL), 0);
    assert_int_equal(ds_hll_estimate(&h), 2);
    uint8_t b[64];
    assert_int_equal(ds_hll_serialize(&h, b, sizeof b), 25);
    const uint8_t want[25] = {'H', 'L', 1, 0, 12, 2, 0, 0, 0, 5, 0, 0, 0,
                              0,   0,   0, 0, 8,  7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(b, want, 25);
    assert_int_equal(ds_hll_add(&h, 0), 1);
    assert_int_equal(ds_hll_add(&h, UINT64_MAX), 1);
    assert_int_equal(ds_hll_add(&h, 0), 0);
    assert_int_equal(ds_hll_add(&h, UINT64_MAX), 0);
    assert_int_equal(ds_hll_estimate(&h), 4);
    ds_hll_free(&h);

    /* up to 512 distinct, every other add a duplicate of an earlier item */
    rng_state = 99;
    for (uint64_t i = 0; i < DS_HLL_SPARSE_MAX; i++) {
        assert_int_equal(ds_hll_add(&h, item(7, i)), 1);
        assert_int_equal(ds_hll_add(&h, item(7, rnd() % (i + 1))), 0);
        assert_true(ds_hll_is_exact(&h));
        assert_int_equal(ds_hll_estimate(&h), i + 1);
    }
    assert_int_equal(h.n, 512);
    assert_true(h.cap * sizeof(uint64_t) <= DS_HLL_M); /* never more memory than dense */
    /* kept sorted: the blob's hashes increase */
    static uint8_t big[DS_HLL_SERIAL_MAX];
    assert_int_equal(ser(&h, big), 9 + 8 * 512);
    for (unsigned i = 1; i < 512; i++)
        assert_true(h.sparse[i - 1] < h.sparse[i]);
    ds_hll_free(&h);
}

/* ---- the switch and the dense form ---- */

static void test_switch_to_dense(void **st)
{
    (void)st;
    struct ds_hll h;
    static uint8_t regs[DS_HLL_M];
    memset(regs, 0, sizeof regs);
    ds_hll_init(&h);
    for (uint64_t i = 0; i < DS_HLL_SPARSE_MAX; i++) {
        assert_int_equal(ds_hll_add(&h, item(3, i)), 1);
        ref_add(regs, item(3, i));
    }
    assert_true(ds_hll_is_exact(&h));
    assert_int_equal(ds_hll_estimate(&h), 512);
    assert_int_equal(ds_hll_add(&h, item(3, 100)), 0); /* a duplicate does not switch */
    assert_true(ds_hll_is_exact(&h));
    assert_int_equal(ds_hll_add(&h, item(3, 512)), 1); /* the 513th does */
    ref_add(regs, item(3, 512));
    assert_false(ds_hll_is_exact(&h));
    assert_null(h.sparse);
    assert_non_null(h.regs);
    assert_matches_ref(&h, regs);
    uint64_t e = ds_hll_estimate(&h);
    assert_true(fabs((double)e - 513) <= 4 * SE * 513);
    for (uint64_t i = 0; i <= 512; i++) /* every item is known: no register rises */
        assert_int_equal(ds_hll_add(&h, item(3, i)), 0);
    assert_matches_ref(&h, regs);
    ds_hll_free(&h);
    assert_empty(&h);

    /* crafted hashes: 513 rank-1 items in registers 0..512 switch to dense; then register
     * 1000 + r - 1 gets rank r for r = 1..53 (bit 52 - r set; none for rank 53) */
    memset(regs, 0, sizeof regs);
    for (uint64_t j = 0; j <= 512; j++) {
        uint64_t hash = j << 52 | 1ULL << 51 | j;
        assert_int_equal(ds_hll_add(&h, hash), 1);
        ref_add(regs, hash);
        assert_int_equal(regs[j], 1);
    }
    assert_false(ds_hll_is_exact(&h));
    for (unsigned r = 1; r <= 53; r++) {
        uint64_t j = 1000 + r - 1;
        uint64_t hash = j << 52 | (r < 53 ? 1ULL << (52 - r) : 0);
        assert_int_equal(ds_hll_add(&h, hash), 1);
        assert_int_equal(ds_hll_add(&h, hash), 0);
        assert_int_equal(h.regs[j], r);
        ref_add(regs, hash);
        assert_int_equal(regs[j], r);
        /* a lower rank in the same register changes nothing; a higher one raises it */
        assert_int_equal(ds_hll_add(&h, j << 52 | 1ULL << 51), 0);
    }
    assert_int_equal(ds_hll_add(&h, 1000ULL << 52), 1); /* register 1000: 1 -> 53 */
    assert_int_equal(h.regs[1000], 53);
    ref_add(regs, 1000ULL << 52);
    assert_matches_ref(&h, regs);
    ds_hll_free(&h);
}

/* Register states with a closed-form estimate: all registers k gives C[k] = m, so
 * E = m 2^k / (2 ln 2); all at 53 is beyond 2^64; a few set registers read the minimum 513. */
static void test_estimator_closed_form(void **st)
{
    (void)st;
    static uint8_t b[DS_HLL_SERIAL_MAX];
    b[0] = 'H';
    b[1] = 'L';
    b[2] = 1;
    b[3] = 1;
    b[4] = 12;
    b[5] = 0;
    b[6] = 0x10; /* 4096 non-zero registers */
    b[7] = b[8] = 0;
    struct ds_hll h;
    struct ds_err err = {0};
    for (unsigned k = 1; k <= 52; k++) {
        memset(b + 9, (int)k, DS_HLL_M);
        assert_int_equal(ds_hll_deserialize(&h, b, sizeof b, &err), 0);
        uint64_t want = (uint64_t)(4096.0 * pow(2.0, k) / (2 * log(2.0)) + 0.5); /* < 2^64 */
        assert_int_equal(ds_hll_estimate(&h), want);
        assert_int_equal(ds_hll_estimate(&h), ref_estimate(b + 9));
        ds_hll_free(&h);
    }
    assert_int_equal(llround(4096.0 * 2 / (2 * log(2.0))), 5909); /* k = 1, for the reader */
    memset(b + 9, 53, DS_HLL_M);
    assert_int_equal(ds_hll_deserialize(&h, b, sizeof b, &err), 0);
    assert_int_equal(ds_hll_estimate(&h), UINT64_MAX);
    ds_hll_free(&h);
    /* saturated registers (tau's term): 52s and 53s, against the reference's direct sum; from
     * 1792 53s on the estimate passes 2^64 (about 2e19 at 2048) and saturates */
    for (unsigned c53 = 256; c53 <= 1536; c53 += 256) {
        memset(b + 9, 52, DS_HLL_M);
        memset(b + 9, 53, c53);
        assert_int_equal(ds_hll_deserialize(&h, b, sizeof b, &err), 0);
        double got = (double)ds_hll_estimate(&h), want = (double)ref_estimate(b + 9);
        assert_true(want > 1.3e19 && want < 1.8e19);
        assert_true(fabs(got - want) <= want * 1e-12);
        ds_hll_free(&h);
    }
    memset(b + 9, 52, DS_HLL_M);
    memset(b + 9, 53, 2048);
    assert_int_equal(ds_hll_deserialize(&h, b, sizeof b, &err), 0);
    assert_int_equal(ds_hll_estimate(&h), UINT64_MAX);
    assert_int_equal(ref_estimate(b + 9), UINT64_MAX);
    ds_hll_free(&h);
    /* half the registers at 1, half empty: sigma(1/2) = 1/2 + 1/4 + 2/16 + 4/256 + ... */
    memset(b + 9, 0, DS_HLL_M / 2);
    memset(b + 9 + DS_HLL_M / 2, 1, DS_HLL_M / 2);
    b[5] = 0;
    b[6] = 0x08; /* 2048 */
    assert_int_equal(ds_hll_deserialize(&h, b, sizeof b, &err), 0);
    assert_int_equal(ds_hll_estimate(&h), ref_estimate(b + 9));
    /* by hand: z = 2048/2 + 4096 sigma(1/2) = 1024 + 4096 * 0.8907470 = 4672.5;
     * E = 4096^2 / (2 ln 2) / z = 2590 */
    assert_int_equal(ds_hll_estimate(&h), 2590);
    ds_hll_free(&h);
    /* one register at 1: a real sketch this sparse has more than 512 items */
    memset(b + 9, 0, DS_HLL_M);
    b[9 + 100] = 1;
    b[5] = 1;
    b[6] = 0;
    assert_int_equal(ds_hll_deserialize(&h, b, sizeof b, &err), 0);
    assert_int_equal(ds_hll_estimate(&h), 513);
    ds_hll_free(&h);
}

/* ---- accuracy ---- */

#define NSEEDS 8

static double run_error(uint64_t n, uint64_t seed)
{
    struct ds_hll h;
    ds_hll_init(&h);
    add_range(&h, seed, 0, n);
    assert_false(ds_hll_is_exact(&h));
    double rel = ((double)ds_hll_estimate(&h) - (double)n) / (double)n;
    ds_hll_free(&h);
    return rel;
}

static void test_accuracy(void **st)
{
    (void)st;
    static const uint64_t sizes[] = {1000, 10000, 100000, 1000000};
    printf("# hll accuracy, p=12, %d seeds: n  mean|err|  mean err  max|err|  (4 SE = %.2f %%)\n",
           NSEEDS, 400 * SE);
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        double sum_abs = 0, sum = 0, max_abs = 0;
        for (uint64_t seed = 1; seed <= NSEEDS; seed++) {
            double rel = run_error(sizes[k], seed);
            if (fabs(rel) > 4 * SE)
                fail_msg("n=%llu seed %llu: relative error %.3f %% exceeds 4 SE",
                         (unsigned long long)sizes[k], (unsigned long long)seed, 100 * rel);
            sum_abs += fabs(rel);
            sum += rel;
            if (fabs(rel) > max_abs)
                max_abs = fabs(rel);
        }
        printf("#   %7llu  %6.3f %%  %+6.3f %%  %6.3f %%\n", (unsigned long long)sizes[k],
               100 * sum_abs / NSEEDS, 100 * sum / NSEEDS, 100 * max_abs);
        assert_true(sum_abs / NSEEDS <= 0.02); /* mean absolute error (bounds the bias too) */
    }
}

/* the whole range between the switch and the raw estimator, including where linear counting
 * hands over (E = 2.5m = 10240): each estimate within 4 SE */
static void test_accuracy_sweep(void **st)
{
    (void)st;
    static const uint64_t sizes[] = {513,   600,   2000,  5000,  8000,  9000, 10240,
                                     11000, 12000, 15000, 20000, 30000, 50000};
    double worst = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        for (uint64_t seed = 11; seed < 11 + NSEEDS; seed++) {
            double rel = run_error(sizes[k], seed);
            if (fabs(rel) > 4 * SE)
                fail_msg("n=%llu seed %llu: relative error %.3f %% exceeds 4 SE",
                         (unsigned long long)sizes[k], (unsigned long long)seed, 100 * rel);
            if (fabs(rel) > worst)
                worst = fabs(rel);
        }
    }
    printf("# hll sweep 513..50000, %d seeds each: worst |err| %.3f %%\n", NSEEDS, 100 * worst);
}

/* ---- order independence and merge ---- */

static void test_order_independent(void **st)
{
    (void)st;
    uint64_t sizes[] = {300, 5000};
    for (int k = 0; k < 2; k++) {
        uint64_t n = sizes[k];
        struct ds_hll fwd, rev, rnd_order;
        ds_hll_init(&fwd);
        ds_hll_init(&rev);
        ds_hll_init(&rnd_order);
        add_range(&fwd, 5, 0, n);
        for (uint64_t i = n; i-- > 0;)
            assert_true(ds_hll_add(&rev, item(5, i)) >= 0);
        rng_state = 5;
        for (uint64_t i = 0; i < 4 * n; i++) /* random order with repeats, then the rest */
            assert_true(ds_hll_add(&rnd_order, item(5, rnd() % n)) >= 0);
        add_range(&rnd_order, 5, 0, n);
        assert_same(&fwd, &rev);
        assert_same(&fwd, &rnd_order);
        assert_int_equal(ds_hll_is_exact(&fwd), n <= DS_HLL_SPARSE_MAX);
        ds_hll_free(&fwd);
        ds_hll_free(&rev);
        ds_hll_free(&rnd_order);
    }
}

static void test_merge_sparse(void **st)
{
    (void)st;
    struct ds_hll a, b, u, e;
    ds_hll_init(&a);
    ds_hll_init(&b);
    ds_hll_init(&u);
    ds_hll_init(&e);
    add_range(&a, 1, 0, 300);
    add_range(&b, 1, 200, 500);
    add_range(&u, 1, 0, 500);

    assert_int_equal(ds_hll_merge(&a, &e), 0); /* empty source */
    assert_int_equal(ds_hll_estimate(&a), 300);
    assert_int_equal(ds_hll_merge(&a, &a), 0); /* self */
    assert_int_equal(ds_hll_estimate(&a), 300);
    assert_int_equal(ds_hll_merge(&a, &b), 1);
    assert_true(ds_hll_is_exact(&a));
    assert_int_equal(ds_hll_estimate(&a), 500); /* exact: 300 + 300 - 100 shared */
    assert_same(&a, &u);
    assert_int_equal(ds_hll_merge(&a, &b), 0); /* idempotent */
    assert_int_equal(ds_hll_merge(&a, &u), 0);
    assert_same(&a, &u);
    assert_int_equal(ds_hll_estimate(&b), 300); /* the source is untouched */

    assert_int_equal(ds_hll_merge(&e, &b), 1); /* into an empty sketch */
    assert_int_equal(ds_hll_estimate(&e), 300);
    assert_same(&e, &b);

    /* a subset adds nothing; interleaved sets fill gaps at both ends */
    ds_hll_free(&b);
    add_range(&b, 1, 250, 260);
    assert_int_equal(ds_hll_merge(&a, &b), 0);
    ds_hll_free(&a);
    ds_hll_free(&b);
    ds_hll_free(&u);
    for (uint64_t i = 0; i < 400; i++)
        assert_int_equal(ds_hll_add(i % 2 ? &a : &b, item(2, i)), 1);
    add_range(&u, 2, 0, 400);
    assert_int_equal(ds_hll_merge(&a, &b), 1);
    assert_int_equal(ds_hll_estimate(&a), 400);
    assert_same(&a, &u);

    /* exactly 512 stays sparse; 513 switches */
    ds_hll_free(&b);
    add_range(&b, 2, 300, 512);
    assert_int_equal(ds_hll_merge(&a, &b), 1);
    assert_true(ds_hll_is_exact(&a));
    assert_int_equal(ds_hll_estimate(&a), 512);
    ds_hll_free(&b);
    add_range(&b, 2, 500, 513);
    assert_int_equal(ds_hll_merge(&a, &b), 1);
    assert_false(ds_hll_is_exact(&a));
    ds_hll_free(&u);
    add_range(&u, 2, 0, 513);
    assert_same(&a, &u);

    ds_hll_free(&a);
    ds_hll_free(&b);
    ds_hll_free(&u);
    ds_hll_free(&e);
}

static void test_merge_dense(void **st)
{
    (void)st;
    struct ds_hll a, b, s, u;
    ds_hll_init(&a);
    ds_hll_init(&b);
    ds_hll_init(&s);
    ds_hll_init(&u);

    /* sparse + sparse whose union is too large: 400 + 500 - 200 = 700 */
    add_range(&a, 4, 0, 400);
    add_range(&b, 4, 200, 700);
    add_range(&u, 4, 0, 700);
    assert_int_equal(ds_hll_merge(&a, &b), 1);
    assert_same(&a, &u);
    ds_hll_free(&a);
    ds_hll_free(&b);
    ds_hll_free(&u);

    /* dense + dense: register-wise maximum */
    add_range(&a, 4, 0, 60000);
    add_range(&b, 4, 40000, 100000);
    add_range(&u, 4, 0, 100000);
    assert_int_equal(ds_hll_merge(&a, &b), 1);
    assert_same(&a, &u);
    assert_int_equal(ds_hll_merge(&a, &b), 0);
    assert_int_equal(ds_hll_merge(&a, &u), 0);
    assert_true(fabs((double)ds_hll_estimate(&a) - 1e5) <= 4 * SE * 1e5);
    ds_hll_free(&a);
    ds_hll_free(&b);
    ds_hll_free(&u);

    /* dense + sparse, both ways round */
    add_range(&a, 4, 0, 10000);
    add_range(&s, 4, 9990, 10200);
    add_range(&u, 4, 0, 10200);
    assert_true(ds_hll_is_exact(&s));
    assert_int_equal(ds_hll_merge(&s, &a), 1); /* sparse dst becomes dense */
    assert_same(&s, &u);
    ds_hll_free(&s);
    add_range(&s, 4, 9990, 10200);
    assert_int_equal(ds_hll_merge(&a, &s), 1);
    assert_same(&a, &u);
    assert_int_equal(ds_hll_merge(&a, &s), 0);
    ds_hll_free(&s);
    add_range(&s, 4, 0, 100); /* all known: nothing rises */
    assert_int_equal(ds_hll_merge(&a, &s), 0);
    /* an empty sparse sketch takes a dense one's registers */
    struct ds_hll e;
    ds_hll_init(&e);
    assert_int_equal(ds_hll_merge(&e, &u), 1);
    assert_same(&e, &u);
    ds_hll_free(&e);

    ds_hll_free(&a);
    ds_hll_free(&s);
    ds_hll_free(&u);
}

/* A year of day sketches per port: the union of 365 days equals the sketch of the year. */
static void test_merge_days(void **st)
{
    (void)st;
    struct ds_hll year, direct, small_year, small_direct;
    ds_hll_init(&year);
    ds_hll_init(&direct);
    ds_hll_init(&small_year);
    ds_hll_init(&small_direct);
    static bool seen[100];
    memset(seen, 0, sizeof seen);
    unsigned small_truth = 0;
    rng_state = 365;
    for (uint64_t d = 0; d < 365; d++) {
        /* a busy port: 300 sources every day plus 200 new ones (500, sparse) */
        struct ds_hll day;
        ds_hll_init(&day);
        add_range(&day, 9, 0, 300);
        add_range(&day, 9, 300 + d * 200, 300 + d * 200 + 200);
        assert_true(ds_hll_is_exact(&day));
        assert_int_equal(ds_hll_estimate(&day), 500);
        assert_true(ds_hll_merge(&year, &day) >= 0);
        ds_hll_free(&day);
        /* a quiet port: 5 draws a day from 100 sources */
        for (int k = 0; k < 5; k++) {
            uint64_t src = rnd() % 100;
            assert_true(ds_hll_add(&day, item(10, src)) >= 0);
            assert_true(ds_hll_add(&small_direct, item(10, src)) >= 0);
            small_truth += !seen[src];
            seen[src] = true;
        }
        assert_true(ds_hll_merge(&small_year, &day) >= 0);
        ds_hll_free(&day);
    }
    add_range(&direct, 9, 0, 300 + 365 * 200);
    assert_same(&year, &direct);
    double truth = 300 + 365 * 200;
    assert_true(fabs((double)ds_hll_estimate(&year) - truth) <= 4 * SE * truth);
    assert_true(ds_hll_is_exact(&small_year));
    assert_int_equal(ds_hll_estimate(&small_year), small_truth);
    assert_true(small_truth > 90); /* the draws did cover the pool */
    assert_same(&small_year, &small_direct);
    ds_hll_free(&year);
    ds_hll_free(&direct);
    ds_hll_free(&small_year);
    ds_hll_free(&small_direct);
}

/* ---- serialised form ---- */

static void check_roundtrip(struct ds_hll *h)
{
    static uint8_t b[DS_HLL_SERIAL_MAX + 8], b2[DS_HLL_SERIAL_MAX];
    size_t n = ser(h, b);
    struct ds_hll c;
    struct ds_err err = {0};
    assert_int_equal(ds_hll_deserialize(&c, b, n, &err), 0);
    assert_int_equal(err.code, 0);
    assert_same(h, &c);
    assert_int_equal(ser(&c, b2), n);
    assert_memory_equal(b, b2, n);
    /* the copy is a working sketch: both evolve alike */
    for (uint64_t i = 0; i < 600; i++) {
        int r1 = ds_hll_add(h, item(77, i)), r2 = ds_hll_add(&c, item(77, i));
        assert_true(r1 >= 0);
        assert_int_equal(r1, r2);
    }
    assert_same(h, &c);
    ds_hll_free(&c);
    /* too small a buffer: an error and nothing written */
    n = ds_hll_serialized_size(h);
    memset(b, 0xaa, sizeof b);
    assert_int_equal(ds_hll_serialize(h, b, n - 1), -ENOBUFS);
    for (size_t i = 0; i < sizeof b; i++)
        assert_int_equal(b[i], 0xaa);
}

static void test_roundtrip(void **st)
{
    (void)st;
    static const uint64_t sizes[] = {0, 1, 2, 9, 511, 512, 513, 5000, 100000};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        struct ds_hll h;
        ds_hll_init(&h);
        add_range(&h, 6, 0, sizes[k]);
        assert_int_equal(ds_hll_is_exact(&h), sizes[k] <= 512);
        assert_int_equal(ds_hll_serialized_size(&h), sizes[k] <= 512 ? 9 + 8 * sizes[k] : 4105);
        check_roundtrip(&h);
        ds_hll_free(&h);
    }
}

/* Expects rejection with -EINVAL, the given message (or any), and an empty sketch. */
static void expect_bad(const uint8_t *buf, size_t len, const char *want)
{
    struct ds_hll h;
    struct ds_err err = {0};
    memset(&h, 0x5a, sizeof h); /* treated as uninitialised */
    assert_int_equal(ds_hll_deserialize(&h, buf, len, &err), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_true(strncmp(err.msg, "hll: byte ", 10) == 0);
    if (want)
        assert_string_equal(err.msg, want);
    assert_empty(&h);
}

static size_t make_blob(uint8_t *b, uint64_t n)
{
    struct ds_hll h;
    ds_hll_init(&h);
    add_range(&h, 8, 0, n);
    size_t len = ser(&h, b);
    ds_hll_free(&h);
    return len;
}

static void test_corrupt_truncated(void **st)
{
    (void)st;
    static uint8_t b[DS_HLL_SERIAL_MAX];
    size_t len = make_blob(b, 5);
    assert_int_equal(len, 49);
    for (size_t cut = 0; cut < len; cut++)
        expect_bad(b, cut, NULL);
    expect_bad(b, 0, "hll: byte 0: truncated: the header needs 9 bytes");
    expect_bad(b, 4, "hll: byte 4: truncated: the header needs 9 bytes");
    expect_bad(b, 9, "hll: byte 9: truncated: the sparse sketch needs 49 bytes in all");
    expect_bad(b, 48, "hll: byte 48: truncated: the sparse sketch needs 49 bytes in all");
    len = make_blob(b, 2000);
    assert_int_equal(len, 4105);
    for (size_t cut = 0; cut < len; cut++)
        expect_bad(b, cut, NULL);
    expect_bad(b, 4104, "hll: byte 4104: truncated: the dense sketch needs 4105 bytes in all");
    struct ds_hll h;
    assert_int_equal(ds_hll_deserialize(&h, b, len, NULL), 0); /* the whole blob is fine */
    ds_hll_free(&h);
}

static void test_corrupt_fields(void **st)
{
    (void)st;
    static uint8_t good[DS_HLL_SERIAL_MAX + 1], b[DS_HLL_SERIAL_MAX + 1];
    struct ds_hll h;
    struct ds_err err = {0};

    size_t len = make_blob(good, 5);
#define RESET() memcpy(b, good, sizeof b)
    RESET();
    b[0] = 'X';
    expect_bad(b, len, "hll: byte 0: bad magic 0x58 0x4c (want \"HL\")");
    RESET();
    b[2] = 2;
    expect_bad(b, len, "hll: byte 2: unsupported version 2 (want 1)");
    b[2] = 0;
    expect_bad(b, len, "hll: byte 2: unsupported version 0 (want 1)");
    RESET();
    b[3] = 2;
    expect_bad(b, len, "hll: byte 3: unknown mode 2 (0 sparse, 1 dense)");
    RESET();
    b[4] = 14;
    expect_bad(b, len, "hll: byte 4: precision 14 is not supported (want 12)");
    RESET();
    b[5] = 4; /* count 4, 5 hashes follow */
    expect_bad(b, len, "hll: byte 41: trailing garbage: 8 byte(s) after the sparse sketch");
    RESET();
    b[len] = 0; /* one byte more */
    expect_bad(b, len + 1, "hll: byte 49: trailing garbage: 1 byte(s) after the sparse sketch");
    RESET();
    b[5] = 0x01;
    b[6] = 0x02; /* count 513 */
    expect_bad(b, len, "hll: byte 5: sparse count 513 exceeds the maximum 512");
    b[5] = b[6] = b[7] = b[8] = 0xff;
    expect_bad(b, len, "hll: byte 5: sparse count 4294967295 exceeds the maximum 512");

    /* unsorted and duplicate hashes: swap hashes 2 and 3, copy 3 onto 4 */
    RESET();
    memcpy(b + 9 + 16, good + 9 + 24, 8);
    memcpy(b + 9 + 24, good + 9 + 16, 8);
    expect_bad(b, len, NULL);
    assert_int_equal(ds_hll_deserialize(&h, b, len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "hll: byte 33: sparse hash 3 ("));
    assert_non_null(strstr(err.msg, ") is below the one before ("));
    RESET();
    memcpy(b + 9 + 32, good + 9 + 24, 8);
    expect_bad(b, len, NULL);
    assert_int_equal(ds_hll_deserialize(&h, b, len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "hll: byte 41: sparse hash 4 ("));
    assert_non_null(strstr(err.msg, ") repeats the one before"));

    /* dense: register values, counts, length */
    len = make_blob(good, 3000);
    assert_int_equal(len, 4105);
    uint32_t nonzero = (uint32_t)good[5] | (uint32_t)good[6] << 8;
    assert_true(nonzero > 1000 && nonzero < 4096);
    RESET();
    b[9 + 7] = 54;
    expect_bad(b, len, "hll: byte 16: register 7 holds 54, above the maximum 53");
    RESET();
    b[9 + 4095] = 255;
    expect_bad(b, len, "hll: byte 4104: register 4095 holds 255, above the maximum 53");
    RESET();
    b[5]++;
    char want[128];
    snprintf(want, sizeof want, "hll: byte 5: dense count %u, but %u registers are non-zero",
             nonzero + 1, nonzero);
    expect_bad(b, len, want);
    RESET();
    b[len] = 1;
    expect_bad(b, len + 1, "hll: byte 4105: trailing garbage: 1 byte(s) after the dense sketch");
    memset(b + 9, 0, DS_HLL_M);
    b[5] = b[6] = b[7] = b[8] = 0;
    expect_bad(b, len, "hll: byte 5: dense count 0 is outside 1..4096");
    b[5] = 0x01;
    b[6] = 0x10; /* 4097 */
    expect_bad(b, len, "hll: byte 5: dense count 4097 is outside 1..4096");
    /* a dense sketch with one set register, or all at 53, is valid */
    b[5] = 1;
    b[6] = 0;
    b[9 + 100] = 1;
    assert_int_equal(ds_hll_deserialize(&h, b, len, &err), 0);
    ds_hll_free(&h);
    memset(b + 9, 53, DS_HLL_M);
    b[5] = 0;
    b[6] = 0x10;
    assert_int_equal(ds_hll_deserialize(&h, b, len, &err), 0);
    ds_hll_free(&h);
    /* a full sparse sketch (512 hashes) is valid */
    len = make_blob(good, 512);
    assert_int_equal(ds_hll_deserialize(&h, good, len, &err), 0);
    assert_int_equal(ds_hll_estimate(&h), 512);
    ds_hll_free(&h);
#undef RESET
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_sparse_exact),
        cmocka_unit_test(test_switch_to_dense),
        cmocka_unit_test(test_estimator_closed_form),
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_accuracy_sweep),
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_merge_sparse),
        cmocka_unit_test(test_merge_dense),
        cmocka_unit_test(test_merge_days),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_corrupt_truncated),
        cmocka_unit_test(test_corrupt_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
