/* test_tap.c - the live packet stream's rate limit: exactly rate packets listed per second of
 * a stream above the rate, the rest counted in summaries, nothing lost from the count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/tap.h"

static int64_t fake_now; /* the test's clock, in ms */

static int64_t fake_clock(void)
{
    return fake_now;
}

static struct ds_tap *new_tap(uint32_t rate)
{
    struct ds_tap *t = malloc(sizeof *t);
    assert_non_null(t);
    assert_int_equal(ds_tap_init(t, rate, NULL), 0);
    fake_now = 0;
    t->clock_ms = fake_clock;
    t->window_ms = 0;
    return t;
}

static void offer_at(struct ds_tap *t, int64_t ms, uint8_t proto)
{
    struct ds_pkt p;
    memset(&p, 0, sizeof p);
    p.proto = proto;
    p.ts_ns = (uint64_t)ms * 1000000;
    ds_addr_set_v4(&p.src, 0xc0000201);
    ds_addr_set_v4(&p.dst, 0xc6336401);
    fake_now = ms;
    ds_tap_offer(t, &p);
}

struct counts {
    uint64_t listed, skipped, summaries;
    uint64_t per_second[16]; /* listed packets by second of packet time */
};

static void drain(struct ds_tap *t, uint64_t *cursor, struct counts *c)
{
    static struct ds_tap_rec recs[512];
    uint64_t missed;
    int n;
    while ((n = ds_tap_read(t, cursor, recs, 512, 0, &missed)) > 0) {
        assert_int_equal(missed, 0);
        for (int i = 0; i < n; i++) {
            if (recs[i].kind == DS_TAP_PACKET) {
                c->listed++;
                c->per_second[recs[i].ts_ns / 1000000000]++;
            } else {
                assert_int_equal(recs[i].kind, DS_TAP_SUMMARY);
                c->summaries++;
                c->skipped += recs[i].skipped;
                assert_int_equal(recs[i].skipped,
                                 recs[i].skipped_tcp + recs[i].skipped_udp + recs[i].skipped_icmp);
            }
        }
    }
}

/* 5,000 packets per second for 10 s at a rate of 2,000: every second lists exactly 2,000 (the
 * windows abut, so late clock reads do not stretch them), the rest are in the summaries. */
static void test_rate_exact_above_rate(void **state)
{
    (void)state;
    struct ds_tap *t = new_tap(2000);
    uint64_t cursor = ds_tap_now(t);
    struct counts c = {0};
    for (int64_t us = 0; us < 10 * 1000000; us += 200) {
        offer_at(t, us / 1000, us % 600 == 0 ? 17 : 6);
        drain(t, &cursor, &c);
    }
    /* at 10 s: the clock is read within 32 offers, which rolls the last window (its summary)
     * and lists the rest in the next */
    for (int i = 0; i < 32; i++)
        offer_at(t, 10000, 6);
    drain(t, &cursor, &c);
    for (int s = 0; s < 10; s++)
        assert_int_equal(c.per_second[s], 2000);
    assert_true(c.per_second[10] >= 1);
    assert_int_equal(c.listed, 20000 + c.per_second[10]);
    /* every offer is either listed or in one of the 10 windows' summaries */
    assert_int_equal(c.listed + c.skipped, 50000 + 32);
    assert_int_equal(c.summaries, 10);
    ds_tap_free(t);
    free(t);
}

/* Below the rate everything is listed and no summary is written. */
static void test_below_rate_lists_all(void **state)
{
    (void)state;
    struct ds_tap *t = new_tap(2000);
    uint64_t cursor = ds_tap_now(t);
    struct counts c = {0};
    for (int64_t ms = 0; ms < 5000; ms++)
        offer_at(t, ms, 1);
    drain(t, &cursor, &c);
    assert_int_equal(c.listed, 5000);
    assert_int_equal(c.summaries, 0);
    ds_tap_free(t);
    free(t);
}

/* After a quiet gap longer than a window the next window starts when the gap is noticed, so
 * a burst after the gap gets a whole window's allowance. */
static void test_gap_restarts_window(void **state)
{
    (void)state;
    struct ds_tap *t = new_tap(10);
    uint64_t cursor = ds_tap_now(t);
    struct counts c = {0};
    for (int i = 0; i < 20; i++)
        offer_at(t, 0, 6); /* 10 listed, 10 skipped */
    for (int i = 0; i < 100; i++)
        offer_at(t, 5500 + i, 6); /* the window restarts within 32 offers: 10 listed */
    drain(t, &cursor, &c);
    assert_int_equal(c.per_second[0], 10);
    assert_int_equal(c.per_second[5], 10);
    assert_int_equal(c.listed, 20);
    assert_int_equal(c.summaries, 1); /* the first window's; the second is still open */
    assert_int_equal(c.listed + c.skipped + t->skipped, 120);
    ds_tap_free(t);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_exact_above_rate),
        cmocka_unit_test(test_below_rate_lists_all),
        cmocka_unit_test(test_gap_restarts_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
