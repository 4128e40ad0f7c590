/* test_rank.c - rankings and top hosts over many days against the exact answer computed
 * here from the generated days: periods whose ends reach past the data (widened to one year,
 * or to days and a month), a period inside the data (interval by interval), with and without
 * research scanners, by packets and by unique sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analyze/daysketch.h"
#include "analyze/hll.h"
#include "analyze/host.h"
#include "analyze/window.h"
#include "core/hash.h"
#include "core/timefmt.h"
#include "store/query.h"
#include "store/store.h"

#define DAY0 19723u  /* 2024-01-01 */
#define NPORTS 40    /* ports 1001..1040; every 8th one UDP */
#define NHOSTS 30    /* 10.0.0.1..30 in every day's top list */
#define SPECIAL 9999 /* a TCP port of one day only, with more sources than a sketch keeps exact */
#define SPECIAL_DAY 25
#define SPECIAL_SOURCES 600u

/* the days with data, as offsets from DAY0: 2024-01-20 .. 2024-02-10 and 2024-06-01 */
static uint32_t day_off[23];
static size_t n_days;

static char dir[] = "/tmp/ds-test-rank-XXXXXX";
static struct ds_store *store;

/* ------------------------------------------------------------------ the generated days --- */

static bool is_udp(int p)
{
    return p % 8 == 0;
}
static uint32_t port_packets(int p, uint32_t o)
{
    return (uint32_t)(41 - p) * 100 + ((o * 31 + (uint32_t)p * 17) % 97) * 10;
}
static uint32_t port_rpackets(int p, uint32_t o)
{
    return p % 2 ? port_packets(p, o) / 4 : 0;
}
/* non-research sources: ids [p * 1e6 + o * 20, + n) */
static uint32_t port_n(int p)
{
    return 40 + 15 * (uint32_t)(40 - p);
}
static uint64_t port_id(int p, uint32_t o, uint32_t i)
{
    return (uint64_t)p * 1000000 + o * 20 + i;
}
/* research sources: 10 a day for every 5th port */
static uint32_t port_r(int p)
{
    return p % 5 == 0 ? 10 : 0;
}
static uint64_t port_rid(int p, uint32_t o, uint32_t i)
{
    return 900000000ull + (uint64_t)p * 1000 + o + i;
}
static uint64_t special_id(uint32_t i)
{
    return 500000000ull + i;
}
static uint32_t host_packets(int a, uint32_t o)
{
    return (uint32_t)(31 - a) * 50 + ((o * 13 + (uint32_t)a * 7) % 41) * 5;
}

static void write_days(void)
{
    struct ds_err err = {0};
    struct ds_ingest_info ii = {.darknet = "198.51.100.0/24", .monitored = 256, .threads = 1};
    int64_t id;
    assert_int_equal(ds_store_ingest_begin(store, &ii, &id, &err), 0);
    const struct ds_sink *sk = ds_store_sink(store);
    struct ds_window w, w5;
    struct ds_daysk d;
    assert_int_equal(ds_window_init(&w, DS_GRAN_1D), 0);
    assert_int_equal(ds_window_init(&w5, DS_GRAN_5M), 0);
    assert_int_equal(ds_daysk_init(&d), 0);
    for (size_t k = 0; k < n_days; k++) {
        uint32_t o = day_off[k], day = DAY0 + o;
        ds_window_reset(&w, day);
        ds_daysk_reset(&d, day);
        for (int p = 1; p <= NPORTS; p++) {
            struct ds_prow *r = ds_window_port(&w, is_udp(p), (uint16_t)(1000 + p));
            enum ds_dim dim = is_udp(p) ? DS_DIM_UDP : DS_DIM_TCP;
            r->packets = port_packets(p, o);
            r->r_packets = port_rpackets(p, o);
            r->sources = port_n(p) + port_r(p);
            r->r_sources = port_r(p);
            w.total.packets += r->packets;
            w.total.r_packets += r->r_packets;
            w.total.sources += r->sources;
            w.total.r_sources += r->r_sources;
            for (uint32_t i = 0; i < port_n(p); i++) {
                uint64_t h = ds_mix64(port_id(p, o, i));
                assert_int_equal(ds_daysk_add(&d, dim, (uint32_t)(1000 + p), false, h), 0);
                assert_int_equal(ds_daysk_add(&d, DS_DIM_TOTAL, 0, false, h), 0);
            }
            for (uint32_t i = 0; i < port_r(p); i++) {
                uint64_t h = ds_mix64(port_rid(p, o, i));
                assert_int_equal(ds_daysk_add(&d, dim, (uint32_t)(1000 + p), true, h), 0);
                assert_int_equal(ds_daysk_add(&d, DS_DIM_TOTAL, 0, true, h), 0);
            }
        }
        if (o == SPECIAL_DAY) {
            struct ds_prow *r = ds_window_port(&w, 0, SPECIAL);
            r->packets = 1000000;
            r->sources = SPECIAL_SOURCES;
            w.total.packets += r->packets;
            w.total.sources += r->sources;
            for (uint32_t i = 0; i < SPECIAL_SOURCES; i++) {
                uint64_t h = ds_mix64(special_id(i));
                assert_int_equal(ds_daysk_add(&d, DS_DIM_TCP, SPECIAL, false, h), 0);
                assert_int_equal(ds_daysk_add(&d, DS_DIM_TOTAL, 0, false, h), 0);
            }
        }
        w.monitored = 256;
        assert_int_equal(sk->window(sk->ctx, &w, &err), 0);
        /* a 5-minute window: the coverage that says the day has data */
        ds_window_reset(&w5, day * 288);
        w5.total.packets = w.total.packets;
        w5.monitored = 256;
        assert_int_equal(sk->window(sk->ctx, &w5, &err), 0);
        assert_int_equal(sk->daysk(sk->ctx, &d, &err), 0);
        struct ds_host_top top[NHOSTS];
        struct ds_host hp[NHOSTS];
        const struct ds_host *hv[NHOSTS];
        memset(hp, 0, sizeof hp);
        for (int a = 1; a <= NHOSTS; a++) {
            ds_addr_set_v4(&top[a - 1].addr, 0x0a000000u + (uint32_t)a);
            top[a - 1].packets = host_packets(a, o);
            hp[a - 1].addr = top[a - 1].addr;
            hp[a - 1].first_ns = (uint64_t)day * 86400000000000ull + (uint64_t)a;
            hp[a - 1].last_ns = hp[a - 1].first_ns + 1000;
            hp[a - 1].packets = host_packets(a, o);
            hp[a - 1].protos = 1;
            hv[a - 1] = &hp[a - 1];
        }
        assert_int_equal(sk->top(sk->ctx, day, top, NHOSTS, &err), 0);
        assert_int_equal(sk->hosts(sk->ctx, hv, NHOSTS, &err), 0);
        assert_int_equal(sk->checkpoint(sk->ctx, (day + 1) * 288, &err), 0);
    }
    ds_window_free(&w);
    ds_window_free(&w5);
    ds_daysk_free(&d);
    assert_int_equal(ds_store_ingest_end(store, true, 0, 0, 0, 0, 0, "{}", &err), 0);
}

static int setup(void **st)
{
    (void)st;
    if (!mkdtemp(dir))
        return -1;
    for (uint32_t o = 19; o <= 40; o++)
        day_off[n_days++] = o;
    day_off[n_days++] = 152;
    char p[256];
    snprintf(p, sizeof p, "%s/rank.db", dir);
    struct ds_err err = {0};
    if (ds_store_open(&store, p, false, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    write_days();
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    ds_store_close(store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ the exact answer ----- */

/* A period as day offsets [o0, o1) and how the report tiles it: days in [d_lo, d_hi) are
 * day intervals (the rest are inside month intervals). */
struct per {
    const char *from, *to; /* NULL: as far as the data goes */
    uint32_t o0, o1;
    uint32_t d_lo, d_hi, d_lo2, d_hi2;
};

struct want {
    enum ds_dim dim;
    uint32_t key;
    uint64_t packets, sources;
    bool exact;
};

static bool in_per(const struct per *pe, uint32_t o)
{
    return o >= pe->o0 && o < pe->o1;
}

static bool day_piece(const struct per *pe, uint32_t o)
{
    return (o >= pe->d_lo && o < pe->d_hi) || (o >= pe->d_lo2 && o < pe->d_hi2);
}

/* The union of every source of key (or of everything, key 0 with dim TOTAL) in the period. */
static void expect_sources(const struct per *pe, enum ds_dim dim, uint32_t key, bool xr,
                           uint64_t *est, bool *exact)
{
    struct ds_hll h;
    ds_hll_init(&h);
    uint32_t days = 0, last = 0;
    uint64_t ids = 0; /* the ids added (all distinct) */
    for (size_t k = 0; k < n_days; k++) {
        uint32_t o = day_off[k];
        if (!in_per(pe, o))
            continue;
        bool any = false;
        for (int p = 1; p <= NPORTS; p++) {
            enum ds_dim pd = is_udp(p) ? DS_DIM_UDP : DS_DIM_TCP;
            if (dim != DS_DIM_TOTAL && (pd != dim || key != (uint32_t)(1000 + p)))
                continue;
            any = true;
            for (uint32_t i = 0; i < port_n(p); i++)
                assert_true(ds_hll_add(&h, ds_mix64(port_id(p, o, i))) >= 0), ids++;
            for (uint32_t i = 0; !xr && i < port_r(p); i++)
                assert_true(ds_hll_add(&h, ds_mix64(port_rid(p, o, i))) >= 0), ids++;
        }
        if (o == SPECIAL_DAY && (dim == DS_DIM_TOTAL || (dim == DS_DIM_TCP && key == SPECIAL))) {
            any = true;
            for (uint32_t i = 0; i < SPECIAL_SOURCES; i++)
                assert_true(ds_hll_add(&h, ds_mix64(special_id(i))) >= 0), ids++;
        }
        if (any) {
            days++;
            last = o;
        }
    }
    /* one day interval of one ingest: its row's exact count */
    if (days == 1 && day_piece(pe, last)) {
        *est = ids;
        *exact = true;
    } else {
        *est = ds_hll_estimate(&h);
        *exact = ds_hll_is_exact(&h);
    }
    ds_hll_free(&h);
}

static int cmp_packets(const void *a, const void *b)
{
    const struct want *x = a, *y = b;
    if (x->packets != y->packets)
        return x->packets > y->packets ? -1 : 1;
    if (x->dim != y->dim)
        return x->dim < y->dim ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int cmp_sources(const void *a, const void *b)
{
    const struct want *x = a, *y = b;
    if (x->sources != y->sources)
        return x->sources > y->sources ? -1 : 1;
    return cmp_packets(a, b);
}

/* Every port's sums over the period, ranked; returns how many. */
static size_t expect_ports(const struct per *pe, bool xr, bool by_sources, struct want *out,
                           uint64_t *tot_pk, uint64_t *tot_src)
{
    size_t n = 0;
    *tot_pk = 0;
    for (int p = 0; p <= NPORTS; p++) {
        struct want x = {.dim = p && is_udp(p) ? DS_DIM_UDP : DS_DIM_TCP,
                         .key = p ? (uint32_t)(1000 + p) : SPECIAL};
        for (size_t k = 0; k < n_days; k++) {
            uint32_t o = day_off[k];
            if (!in_per(pe, o))
                continue;
            uint64_t pk = p ? port_packets(p, o) : o == SPECIAL_DAY ? 1000000 : 0;
            uint64_t rp = p ? port_rpackets(p, o) : 0;
            x.packets += xr ? pk - rp : pk;
            *tot_pk += xr ? pk - rp : pk;
        }
        expect_sources(pe, x.dim, x.key, xr, &x.sources, &x.exact);
        if (x.packets || x.sources)
            out[n++] = x;
    }
    bool ex;
    expect_sources(pe, DS_DIM_TOTAL, 0, xr, tot_src, &ex);
    qsort(out, n, sizeof *out, by_sources ? cmp_sources : cmp_packets);
    return n;
}

static struct ds_period period(const struct per *pe)
{
    struct ds_period p = {0};
    struct ds_err err = {0};
    if (pe->from)
        assert_int_equal(ds_time_parse(pe->from, "from", &p.from, &err), 0), p.has_from = true;
    if (pe->to)
        assert_int_equal(ds_time_parse(pe->to, "to", &p.to, &err), 0), p.has_to = true;
    return p;
}

static void check_ports(const struct per *pe, bool xr, bool by_sources, size_t top)
{
    struct want w[NPORTS + 1];
    uint64_t tot_pk, tot_src;
    size_t n = expect_ports(pe, xr, by_sources, w, &tot_pk, &tot_src);
    struct ds_period p = period(pe);
    struct ds_rank_opts ro = {.kind = DS_RANK_PORTS,
                              .top = top,
                              .proto = -1,
                              .exclude_research = xr,
                              .by_sources = by_sources};
    json_t *got = NULL;
    struct ds_err err = {0};
    if (ds_query_rank(store, &p, &ro, &got, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(json_array_size(got), top < n ? top : n);
    for (size_t i = 0; i < json_array_size(got); i++) {
        json_t *r = json_array_get(got, i);
        const char *proto = json_string_value(json_object_get(r, "proto"));
        assert_string_equal(proto, w[i].dim == DS_DIM_UDP ? "udp" : "tcp");
        assert_int_equal(json_integer_value(json_object_get(r, "port")), w[i].key);
        assert_int_equal(json_integer_value(json_object_get(r, "packets")), w[i].packets);
        assert_int_equal(json_integer_value(json_object_get(r, "sources")), w[i].sources);
        assert_int_equal(json_is_true(json_object_get(r, "sources_exact")), w[i].exact);
        assert_true(json_real_value(json_object_get(r, "share")) ==
                    (double)w[i].packets / (double)tot_pk * 100);
        assert_true(json_real_value(json_object_get(r, "source_share")) ==
                    (double)w[i].sources / (double)tot_src * 100);
    }
    json_decref(got);
}

/* The whole data (2024-01-20 .. 2024-06-01): the report's period runs to the day after the
 * last data and tiles into the days of January, February to May and June 1st; widened, it
 * is the year 2024. */
static const struct per whole = {
    .o0 = 0, .o1 = 153, .d_lo = 19, .d_hi = 31, .d_lo2 = 152, .d_hi2 = 153};
/* Inside the data on both ends: day by day, as stored. */
static const struct per inner = {
    .from = "2024-01-25", .to = "2024-02-05", .o0 = 24, .o1 = 35, .d_lo = 24, .d_hi = 35};
/* Data before it, none up to June after it: widened to its own days and all of February. */
static const struct per tail = {
    .from = "2024-01-22", .to = "2024-02-11", .o0 = 21, .o1 = 41, .d_lo = 21, .d_hi = 41};

static void test_ports_whole(void **st)
{
    (void)st;
    for (int xr = 0; xr < 2; xr++)
        for (int bs = 0; bs < 2; bs++) {
            check_ports(&whole, xr, bs, 3);
            check_ports(&whole, xr, bs, 10);
        }
}

static void test_ports_inner(void **st)
{
    (void)st;
    for (int xr = 0; xr < 2; xr++)
        for (int bs = 0; bs < 2; bs++) {
            check_ports(&inner, xr, bs, 3);
            check_ports(&inner, xr, bs, 10);
        }
}

static void test_ports_tail(void **st)
{
    (void)st;
    for (int xr = 0; xr < 2; xr++)
        for (int bs = 0; bs < 2; bs++) {
            check_ports(&tail, xr, bs, 3);
            check_ports(&tail, xr, bs, 10);
        }
}

/* the one-day port's exact count survives the widening (a year row cannot tell it) */
static void test_one_day_port_exact(void **st)
{
    (void)st;
    struct ds_period p = period(&whole);
    struct ds_rank_opts ro = {.kind = DS_RANK_PORTS, .top = 1, .proto = 0};
    json_t *got = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_query_rank(store, &p, &ro, &got, &err), 0);
    json_t *r = json_array_get(got, 0);
    assert_int_equal(json_integer_value(json_object_get(r, "port")), SPECIAL);
    assert_int_equal(json_integer_value(json_object_get(r, "packets")), 1000000);
    assert_int_equal(json_integer_value(json_object_get(r, "sources")), SPECIAL_SOURCES);
    assert_true(json_is_true(json_object_get(r, "sources_exact")));
    json_decref(got);
}

static int cmp_host(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* {packets, address number} */
    if (x[0] != y[0])
        return x[0] > y[0] ? -1 : 1;
    char s[2][16];
    snprintf(s[0], sizeof s[0], "10.0.0.%u", (unsigned)x[1]);
    snprintf(s[1], sizeof s[1], "10.0.0.%u", (unsigned)y[1]);
    return strcmp(s[0], s[1]);
}

static void check_hosts(const struct per *pe, size_t top)
{
    uint64_t w[NHOSTS][2];
    for (int a = 1; a <= NHOSTS; a++) {
        w[a - 1][0] = 0;
        w[a - 1][1] = (uint64_t)a;
        for (size_t k = 0; k < n_days; k++)
            if (in_per(pe, day_off[k]))
                w[a - 1][0] += host_packets(a, day_off[k]);
    }
    qsort(w, NHOSTS, sizeof w[0], cmp_host);
    struct ds_period p = period(pe);
    json_t *got = NULL;
    struct ds_err err = {0};
    if (ds_query_hosts(store, &p, top, false, &got, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(json_array_size(got), top);
    for (size_t i = 0; i < top; i++) {
        json_t *h = json_array_get(got, i);
        char addr[16];
        snprintf(addr, sizeof addr, "10.0.0.%u", (unsigned)w[i][1]);
        assert_string_equal(json_string_value(json_object_get(h, "address")), addr);
        assert_int_equal(json_integer_value(json_object_get(h, "packets")), w[i][0]);
    }
    json_decref(got);
}

static void test_hosts(void **st)
{
    (void)st;
    check_hosts(&whole, 5);
    check_hosts(&whole, NHOSTS);
    check_hosts(&inner, 5);
    check_hosts(&tail, 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ports_whole), cmocka_unit_test(test_ports_inner),
        cmocka_unit_test(test_ports_tail),  cmocka_unit_test(test_one_day_port_exact),
        cmocka_unit_test(test_hosts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
