/* test_outbreak_state.c - the outbreak detector's saved state (ds_outbreaks_save/_restore):
 * a detector restored half-way through a series finds exactly the candidates, at the same
 * intervals and with the same scores, as one that ran through; the state is used only when
 * the next interval follows on (not for an older or re-read capture, not after a day's gap);
 * damaged or foreign blobs are refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "incident/outbreak.h"

#define MAX_CAND 16

struct got {
    int n;
    struct ds_outbreak c[MAX_CAND];
};

static int emit(void *ctx, const struct ds_outbreak *o, struct ds_err *err)
{
    (void)err;
    struct got *g = ctx;
    if (g->n < MAX_CAND)
        g->c[g->n] = *o;
    g->n++;
    return 0;
}

/* Interval idx of a made-up darknet: a steady 20 sources on 23/tcp and 5 on 80/tcp, and from
 * interval 125 on, 400 sources on 2323/tcp (an outbreak); 23/tcp jumps to 2000 at 150 only. */
static void fill(struct ds_window *w, uint32_t idx)
{
    ds_window_reset(w, idx);
    w->port[0][23].sources = idx == 150 ? 2000 : 20;
    w->port[0][23].packets = w->port[0][23].sources * 3;
    w->port[0][80].sources = 5;
    w->port[0][80].packets = 9;
    /* (rows written here directly are not in the window's touched list, which reset clears:
     * every row the test uses is set each time) */
    w->port[0][2323].sources = idx >= 125 ? 400 : 0;
    w->port[0][2323].packets = w->port[0][2323].sources * 3;
}

static void feed(struct ds_outbreaks *o, struct ds_window *w, uint32_t from, uint32_t to)
{
    struct ds_err err = {0};
    for (uint32_t i = from; i < to; i++) {
        fill(w, i);
        assert_int_equal(ds_outbreaks_interval(o, w, &err), 0);
    }
}

static void same(const struct got *a, const struct got *b)
{
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n && i < MAX_CAND; i++) {
        assert_int_equal(a->c[i].dim, b->c[i].dim);
        assert_int_equal(a->c[i].key, b->c[i].key);
        assert_int_equal(a->c[i].idx, b->c[i].idx);
        assert_int_equal(a->c[i].sources, b->c[i].sources);
        assert_true(a->c[i].score == b->c[i].score);
        assert_true(a->c[i].baseline == b->c[i].baseline);
    }
}

static void test_restore_goes_on(void **st)
{
    (void)st;
    struct ds_window w;
    assert_int_equal(ds_window_init(&w, DS_GRAN_5M), 0);
    struct got whole = {0}, split = {0};
    struct ds_outbreaks a, b, c;
    assert_int_equal(ds_outbreaks_init(&a, NULL, emit, &whole), 0);
    feed(&a, &w, 0, 200);
    assert_int_equal(whole.n, 2);
    assert_int_equal(whole.c[0].key, 2323);
    assert_int_equal(whole.c[0].idx, 125);
    assert_int_equal(whole.c[1].key, 23);
    assert_int_equal(whole.c[1].idx, 150);

    /* stopped after 120 intervals, saved, restored into a new detector, fed the rest */
    assert_int_equal(ds_outbreaks_init(&b, NULL, emit, &split), 0);
    feed(&b, &w, 0, 120);
    uint8_t *blob;
    size_t len;
    struct ds_err err = {0};
    assert_int_equal(ds_outbreaks_save(&b, &blob, &len, &err), 0);
    assert_int_equal(len, 28 + 2 * 14); /* 23/tcp and 80/tcp learned something, 2323 not yet */
    ds_outbreaks_free(&b);
    assert_int_equal(ds_outbreaks_init(&c, NULL, emit, &split), 0);
    assert_int_equal(ds_outbreaks_restore(&c, blob, len, &err), 0);
    assert_int_equal(c.intervals, 120);
    assert_int_equal(c.last_idx, 119);
    feed(&c, &w, 120, 200);
    same(&whole, &split);
    ds_outbreaks_free(&c);

    /* a fresh detector over the second part alone is still learning its baselines (slowly,
     * lambda 0.02) and finds neither: what the saved state is for */
    struct got fresh = {0};
    assert_int_equal(ds_outbreaks_init(&c, NULL, emit, &fresh), 0);
    feed(&c, &w, 120, 200);
    assert_int_equal(fresh.n, 0);
    ds_outbreaks_free(&c);

    free(blob);
    ds_outbreaks_free(&a);
    ds_window_free(&w);
}

/* The state is not used for an input that does not follow on: the detector then behaves as a
 * fresh one (same candidates as without a restore). */
static void test_restore_discarded(void **st)
{
    (void)st;
    struct ds_window w;
    assert_int_equal(ds_window_init(&w, DS_GRAN_5M), 0);
    struct ds_outbreaks a;
    struct got g = {0};
    assert_int_equal(ds_outbreaks_init(&a, NULL, emit, &g), 0);
    feed(&a, &w, 0, 120);
    uint8_t *blob;
    size_t len;
    struct ds_err err = {0};
    assert_int_equal(ds_outbreaks_save(&a, &blob, &len, &err), 0);
    ds_outbreaks_free(&a);

    /* reference: a fresh detector over 0..200 */
    struct got ref = {0};
    assert_int_equal(ds_outbreaks_init(&a, NULL, emit, &ref), 0);
    feed(&a, &w, 0, 200);
    ds_outbreaks_free(&a);

    /* the same capture read again (its first interval is not after the saved one) */
    struct got again = {0};
    assert_int_equal(ds_outbreaks_init(&a, NULL, emit, &again), 0);
    assert_int_equal(ds_outbreaks_restore(&a, blob, len, &err), 0);
    feed(&a, &w, 0, 200);
    same(&ref, &again);
    ds_outbreaks_free(&a);

    /* more than a day later: the baselines are stale, start afresh */
    struct got late = {0}, late_ref = {0};
    assert_int_equal(ds_outbreaks_init(&a, NULL, emit, &late), 0);
    assert_int_equal(ds_outbreaks_restore(&a, blob, len, &err), 0);
    feed(&a, &w, 119 + DS_OB_RESTORE_GAP + 1, 119 + DS_OB_RESTORE_GAP + 30);
    assert_int_equal(a.intervals, 29); /* counted from the first interval after the gap */
    ds_outbreaks_free(&a);
    assert_int_equal(ds_outbreaks_init(&a, NULL, emit, &late_ref), 0);
    feed(&a, &w, 119 + DS_OB_RESTORE_GAP + 1, 119 + DS_OB_RESTORE_GAP + 30);
    same(&late_ref, &late);
    ds_outbreaks_free(&a);

    /* a restart within the saved interval goes on with that interval's second part */
    assert_int_equal(ds_outbreaks_init(&a, NULL, emit, &late), 0);
    assert_int_equal(ds_outbreaks_restore(&a, blob, len, &err), 0);
    feed(&a, &w, 119, 121);
    assert_int_equal(a.intervals, 122);
    assert_int_equal(a.last_idx, 120);
    ds_outbreaks_free(&a);

    /* exactly a day later still goes on */
    assert_int_equal(ds_outbreaks_init(&a, NULL, emit, &late), 0);
    assert_int_equal(ds_outbreaks_restore(&a, blob, len, &err), 0);
    feed(&a, &w, 119 + DS_OB_RESTORE_GAP, 119 + DS_OB_RESTORE_GAP + 1);
    assert_int_equal(a.intervals, 121);
    ds_outbreaks_free(&a);
    free(blob);
    ds_window_free(&w);
}

static void expect_bad(const uint8_t *b, size_t len, const char *msg)
{
    struct ds_outbreaks a;
    assert_int_equal(ds_outbreaks_init(&a, NULL, NULL, NULL), 0);
    struct ds_err err = {0};
    assert_int_equal(ds_outbreaks_restore(&a, b, len, &err), -EINVAL);
    assert_string_equal(err.msg, msg);
    assert_int_equal(a.intervals, 0);
    assert_false(a.restored);
    ds_outbreaks_free(&a);
}

static void test_restore_bad(void **st)
{
    (void)st;
    struct ds_window w;
    assert_int_equal(ds_window_init(&w, DS_GRAN_5M), 0);
    struct ds_outbreaks a;
    assert_int_equal(ds_outbreaks_init(&a, NULL, NULL, NULL), 0);
    feed(&a, &w, 0, 20);
    uint8_t *blob;
    size_t len;
    struct ds_err err = {0};
    assert_int_equal(ds_outbreaks_save(&a, &blob, &len, &err), 0);
    ds_outbreaks_free(&a);
    ds_window_free(&w);

    const char *fmt = "saved outbreak state: not version 1 of the format";
    expect_bad(blob, 10, fmt);
    uint8_t *c = malloc(len);
    assert_non_null(c);
    memcpy(c, blob, len);
    c[0] = 'X';
    expect_bad(c, len, fmt);
    memcpy(c, blob, len);
    c[4] = 2; /* version 2 */
    expect_bad(c, len, fmt);
    expect_bad(blob, len - 1, "saved outbreak state: 55 bytes for 2 series");
    memcpy(c, blob, len);
    c[28] = 0xff, c[29] = 0xff, c[30] = 0xff, c[31] = 0x7f; /* the first series' index */
    expect_bad(c, len, "saved outbreak state: series 2147483647 out of range");

    /* another lambda: the learned levels do not fit */
    struct ds_outbreak_config cfg;
    ds_outbreak_defaults(&cfg);
    cfg.lambda = 0.05;
    assert_int_equal(ds_outbreaks_init(&a, &cfg, NULL, NULL), 0);
    assert_int_equal(ds_outbreaks_restore(&a, blob, len, &err), -EINVAL);
    assert_string_equal(err.msg, "saved outbreak state: learned with lambda 0.02, configured 0.05");
    ds_outbreaks_free(&a);
    free(c);
    free(blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restore_goes_on),
        cmocka_unit_test(test_restore_discarded),
        cmocka_unit_test(test_restore_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
