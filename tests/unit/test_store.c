/* test_store.c - the SQLite store and its reports: migrations and refusals, ingests merged
 * into the shared tables (month and year roll-ups, sketch unions), replaced unfinished
 * ingests, file identities, host profiles written many rows per statement, and the reports'
 * choice of intervals and exactness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "analyze/daysketch.h"
#include "analyze/host.h"
#include "analyze/window.h"
#include "core/hash.h"
#include "core/timefmt.h"
#include "store/query.h"
#include "store/store.h"

#define DAY0 19723u /* 2024-01-01 */

static char dir[] = "/tmp/ds-test-store-XXXXXX";

static int setup(void **st)
{
    (void)st;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static struct ds_store *open_new(const char *name)
{
    char p[256];
    path_of(p, sizeof p, name);
    unlink(p);
    struct ds_store *s;
    struct ds_err err = {0};
    if (ds_store_open(&s, p, false, &err) < 0)
        fail_msg("%s", err.msg);
    return s;
}

/* One ingest writing `days` days from day0: each day one day window whose total has
 * `packets` packets and the sources [base, base + n) (in the day sketch and the row). */
static void ingest_days(struct ds_store *s, uint32_t day0, int days, uint64_t packets,
                        uint64_t base, uint64_t n, bool finish)
{
    struct ds_err err = {0};
    struct ds_ingest_info ii = {.darknet = "198.51.100.0/24", .monitored = 256, .threads = 1};
    int64_t id;
    assert_int_equal(ds_store_ingest_begin(s, &ii, &id, &err), 0);
    const struct ds_sink *sk = ds_store_sink(s);
    struct ds_window w;
    struct ds_daysk d;
    assert_int_equal(ds_window_init(&w, DS_GRAN_1D), 0);
    assert_int_equal(ds_daysk_init(&d), 0);
    for (int i = 0; i < days; i++) {
        ds_window_reset(&w, day0 + (uint32_t)i);
        w.total.packets = packets;
        w.total.sources = n;
        struct ds_prow *r = ds_window_port(&w, 0, 23);
        r->packets = (uint32_t)packets;
        r->sources = (uint32_t)n;
        w.monitored = 256;
        assert_int_equal(sk->window(sk->ctx, &w, &err), 0);
        /* a 5-minute window too, for the coverage (monitored addresses) */
        struct ds_window w5;
        assert_int_equal(ds_window_init(&w5, DS_GRAN_5M), 0);
        ds_window_reset(&w5, (day0 + (uint32_t)i) * 288);
        w5.total.packets = packets;
        w5.monitored = 256;
        assert_int_equal(sk->window(sk->ctx, &w5, &err), 0);
        ds_window_free(&w5);
        ds_daysk_reset(&d, day0 + (uint32_t)i);
        for (uint64_t k = 0; k < n; k++) {
            uint64_t h = ds_mix64(base + k);
            assert_int_equal(ds_daysk_add(&d, DS_DIM_TOTAL, 0, false, h), 0);
            assert_int_equal(ds_daysk_add(&d, DS_DIM_TCP, 23, false, h), 0);
        }
        assert_int_equal(sk->daysk(sk->ctx, &d, &err), 0);
    }
    ds_window_free(&w);
    ds_daysk_free(&d);
    if (finish)
        assert_int_equal(ds_store_ingest_end(s, true, 0, 0, 0, 0, 0, "{}", &err), 0);
}

static int64_t scalar(struct ds_store *s, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(ds_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static json_t *year(struct ds_store *s, const char *from, const char *to)
{
    struct ds_period p = {0};
    struct ds_err err = {0};
    if (from)
        p.has_from = ds_time_parse(from, "from", &p.from, &err) == 0;
    if (to)
        p.has_to = ds_time_parse(to, "to", &p.to, &err) == 0;
    json_t *o = NULL;
    if (ds_query_year(s, &p, false, &o, &err) < 0)
        fail_msg("%s", err.msg);
    return o;
}

static json_int_t jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void test_open_and_refuse(void **st)
{
    (void)st;
    char p[256];
    struct ds_err err = {0};
    struct ds_store *s = open_new("a.db");
    assert_int_equal(scalar(s, "PRAGMA user_version"), DS_STORE_SCHEMA_VERSION);
    ds_store_close(s);
    path_of(p, sizeof p, "a.db");
    assert_int_equal(ds_store_open(&s, p, true, &err), 0); /* reopens read-only */
    ds_store_close(s);
    /* another application's database */
    sqlite3 *db;
    path_of(p, sizeof p, "other.db");
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(ds_store_open(&s, p, false, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a darkscope store"));
    /* a newer schema */
    path_of(p, sizeof p, "new.db");
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA application_id=1146309425; PRAGMA user_version=99;", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(ds_store_open(&s, p, false, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "newer"));
    /* not SQLite at all */
    path_of(p, sizeof p, "noise.db");
    FILE *f = fopen(p, "w");
    for (int i = 0; i < 4096; i++)
        fputc(i * 37 % 251, f);
    fclose(f);
    assert_int_equal(ds_store_open(&s, p, false, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not an SQLite database"));
}

/* Two ingests of the same days: sums add up, unique sources are the union of the sketches,
 * and the month and year roll-ups hold the same. */
static void test_merge(void **st)
{
    (void)st;
    struct ds_store *s = open_new("m.db");
    ingest_days(s, DAY0, 31, 1000, 0, 100, true); /* January, sources 0..99 */
    json_t *o = year(s, "2024-01", "2024-02");
    assert_int_equal(jint(o, "packets"), 31000);
    assert_int_equal(jint(o, "sources"), 100); /* the month's sketch: exact set */
    assert_true(json_is_true(json_object_get(o, "sources_exact")));
    assert_string_equal(json_string_value(json_object_get(o, "granularity")), "month");
    assert_int_equal(json_real_value(json_object_get(o, "monitored_addresses")), 256);
    json_decref(o);
    /* one day of one ingest: the exact row */
    o = year(s, "2024-01-05", "2024-01-06");
    assert_int_equal(jint(o, "sources"), 100);
    assert_string_equal(json_string_value(json_object_get(o, "granularity")), "1d");
    json_decref(o);
    /* a second ingest of January with sources 50..149: 150 distinct */
    ingest_days(s, DAY0, 31, 500, 50, 100, true);
    o = year(s, "2024-01", "2024-02");
    assert_int_equal(jint(o, "packets"), 31 * 1500);
    assert_int_equal(jint(o, "sources"), 150);
    json_decref(o);
    o = year(s, "2024-01-05", "2024-01-06");
    assert_int_equal(jint(o, "sources"), 150); /* two ingests: the sketch union, not 200 */
    json_decref(o);
    assert_int_equal(scalar(s, "SELECT ingests FROM stat WHERE gran = 2 AND dim = 0 LIMIT 1"), 2);
    assert_int_equal(scalar(s, "SELECT count(*) FROM stat_stage"), 0);
    assert_int_equal(scalar(s, "SELECT packets FROM stat WHERE gran = 4 AND dim = 0"), 31 * 1500);
    /* the ports ranking over the month */
    struct ds_period p = {.has_from = true, .has_to = true};
    struct ds_err err = {0};
    ds_time_parse("2024-01", "from", &p.from, &err);
    ds_time_parse("2024-02", "to", &p.to, &err);
    struct ds_rank_opts ro = {.kind = DS_RANK_PORTS, .top = 5, .proto = -1};
    json_t *l = NULL;
    assert_int_equal(ds_query_rank(s, &p, &ro, &l, &err), 0);
    assert_int_equal(json_array_size(l), 1);
    assert_int_equal(jint(json_array_get(l, 0), "port"), 23);
    assert_int_equal(jint(json_array_get(l, 0), "packets"), 31 * 1500);
    assert_int_equal(jint(json_array_get(l, 0), "sources"), 150);
    json_decref(l);
    ds_store_close(s);
}

/* An ingest that never ends leaves its rows in the stage only; the next ingest of the same
 * file removes them, and the shared tables hold one copy. */
static void test_replace_unfinished(void **st)
{
    (void)st;
    struct ds_store *s = open_new("r.db");
    char p[256], cap[256];
    path_of(cap, sizeof cap, "cap.pcap");
    FILE *f = fopen(cap, "w");
    fputs("not really a capture, but a file with content", f);
    fclose(f);
    struct ds_ingest_file file;
    struct ds_err err = {0};
    assert_int_equal(ds_store_file_identity(cap, &file, &err), 0);
    struct ds_ingest_info ii = {
        .darknet = "x", .monitored = 1, .threads = 1, .files = &file, .n_files = 1};
    int64_t id1, id2;
    assert_int_equal(ds_store_ingest_begin(s, &ii, &id1, &err), 0);
    struct ds_window w;
    assert_int_equal(ds_window_init(&w, DS_GRAN_1D), 0);
    ds_window_reset(&w, DAY0);
    w.total.packets = 7;
    const struct ds_sink *sk = ds_store_sink(s);
    assert_int_equal(sk->window(sk->ctx, &w, &err), 0);
    assert_int_equal(sk->checkpoint(sk->ctx, 1, &err), 0);
    ds_store_close(s); /* as a crash would: no ingest_end */
    path_of(p, sizeof p, "r.db");
    assert_int_equal(ds_store_open(&s, p, false, &err), 0);
    assert_int_equal(scalar(s, "SELECT count(*) FROM stat"), 0);
    assert_int_equal(scalar(s, "SELECT count(*) FROM stat_stage"), 1);
    bool done;
    assert_int_equal(ds_store_files_done(s, &file, 1, &done, NULL, &err), 0);
    assert_false(done);
    assert_int_equal(ds_store_ingest_begin(s, &ii, &id2, &err), 0);
    assert_true(id2 != id1);
    assert_int_equal(scalar(s, "SELECT count(*) FROM stat_stage"), 0); /* id1's rows are gone */
    sk = ds_store_sink(s);
    assert_int_equal(sk->window(sk->ctx, &w, &err), 0);
    assert_int_equal(ds_store_ingest_end(s, true, 0, 0, 0, 0, 0, "{}", &err), 0);
    assert_int_equal(scalar(s, "SELECT packets FROM stat WHERE gran = 2 AND dim = 0"), 7);
    assert_int_equal(scalar(s, "SELECT count(*) FROM ingest"), 1);
    assert_int_equal(ds_store_files_done(s, &file, 1, &done, NULL, &err), 0);
    assert_true(done);
    ds_window_free(&w);
    ds_store_close(s);
}

/* 600 profiles in one sink call: two statements of 256 rows, then 88 one by one. Every row is
 * stored, in address-key order (the rowids), with the text columns as snprintf wrote them. */
static void test_hosts_batched(void **st)
{
    (void)st;
    struct ds_store *s = open_new("h.db");
    struct ds_err err = {0};
    struct ds_ingest_info ii = {.darknet = "198.51.100.0/24", .monitored = 256, .threads = 1};
    int64_t id;
    assert_int_equal(ds_store_ingest_begin(s, &ii, &id, &err), 0);
    enum { N = 600 };
    struct ds_host *hs = calloc(N, sizeof *hs);
    const struct ds_host **hp = calloc(N, sizeof *hp);
    assert_non_null(hs);
    assert_non_null(hp);
    for (int i = 0; i < N; i++) {
        struct ds_host *h = &hs[i];
        uint64_t r = ds_mix64((uint64_t)i + 1);
        if (i % 50 == 7) {
            uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [14] = (uint8_t)(i >> 8), [15] = (uint8_t)i};
            ds_addr_set_v6(&h->addr, v6);
        } else {
            /* octets of one, two and three digits */
            uint32_t v4 = (uint32_t)r;
            if (i % 3 == 0)
                v4 &= 0xff09ff63u;
            ds_addr_set_v4(&h->addr, v4);
        }
        h->first_ns = (uint64_t)DAY0 * 86400000000000ull + (uint64_t)i * 1000;
        h->last_ns = h->first_ns + 5;
        h->packets = (uint32_t)(i + 1);
        h->bytes = 60u * (uint32_t)(i + 1);
        h->protos = (uint8_t)(1u << (i % 3));
        h->flags = (uint16_t)((i % 4 ? DS_HF_PORT0 : 0) | (i % 5 ? DS_HF_PORT1 : 0) |
                              (i % 7 == 1 ? DS_HF_PORT1_UDP : 0));
        h->ports[0] = (uint16_t)(r >> 32);
        h->ports[1] = (uint16_t)(i * 37 % 70000);
        h->nports = (uint16_t)(i % 6);
        h->ttl0 = (uint8_t)(r >> 48);
        h->layout = (uint16_t)(r >> 20);
        hp[i] = h;
    }
    const struct ds_sink *sk = ds_store_sink(s);
    assert_int_equal(sk->hosts(sk->ctx, hp, N, &err), 0);
    assert_int_equal(ds_store_ingest_end(s, true, 0, 0, 0, 0, 0, "{}", &err), 0);
    assert_int_equal(scalar(s, "SELECT count(*) FROM host"), N);
    assert_int_equal(scalar(s, "SELECT count(*) FROM host a JOIN host b ON b.id = a.id + 1"
                               " WHERE b.addrkey < a.addrkey"),
                     0);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ds_store_db(s),
                                        "SELECT addr, ports, behaviour, packets, addrkey FROM host"
                                        " WHERE packets = ?",
                                        -1, &q, NULL),
                     SQLITE_OK);
    for (int i = 0; i < N; i++) {
        const struct ds_host *h = &hs[i];
        char addr[64], ports[32] = "", beh[128];
        if (ds_addr_is_v4(&h->addr))
            snprintf(addr, sizeof addr, "%u.%u.%u.%u", h->addr.b[12], h->addr.b[13], h->addr.b[14],
                     h->addr.b[15]);
        else
            ds_addr_format(&h->addr, addr);
        int pl = 0;
        for (int k = 0; k < 2; k++)
            if (h->flags & (k ? DS_HF_PORT1 : DS_HF_PORT0))
                pl += snprintf(ports + pl, sizeof ports - (size_t)pl, "%s%s/%u", pl ? "," : "",
                               h->flags & (k ? DS_HF_PORT1_UDP : DS_HF_PORT0_UDP) ? "udp" : "tcp",
                               h->ports[k]);
        ds_host_behaviour_key(h, beh, sizeof beh);
        char ttl[16], lay[16];
        unsigned t = h->ttl0;
        snprintf(ttl, sizeof ttl, "|ttl%u|",
                 t == 0     ? 0
                 : t <= 32  ? 32
                 : t <= 64  ? 64
                 : t <= 128 ? 128
                            : 255);
        snprintf(lay, sizeof lay, "|L%04x|", h->layout);
        assert_non_null(strstr(beh, ttl));
        assert_non_null(strstr(beh, lay));
        sqlite3_reset(q);
        sqlite3_bind_int(q, 1, i + 1);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), addr);
        assert_string_equal((const char *)sqlite3_column_text(q, 1), ports);
        assert_string_equal((const char *)sqlite3_column_text(q, 2), beh);
        assert_int_equal(sqlite3_column_int64(q, 4), ds_store_addr_key(&h->addr));
    }
    sqlite3_finalize(q);
    /* a truncated key is terminated and its length is the full one, as snprintf's */
    char small[6];
    int full = ds_host_behaviour_key(&hs[1], small, sizeof small);
    char big[128];
    assert_int_equal(ds_host_behaviour_key(&hs[1], big, sizeof big), full);
    assert_int_equal((int)strlen(big), full);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, big, sizeof small - 1);
    free(hp);
    free(hs);
    ds_store_close(s);
}

static void test_file_identity(void **st)
{
    (void)st;
    char a[256], b[256], c[256];
    path_of(a, sizeof a, "id-a");
    path_of(b, sizeof b, "id-b");
    path_of(c, sizeof c, "id-c");
    FILE *fa = fopen(a, "w"), *fb = fopen(b, "w"), *fc = fopen(c, "w");
    for (int i = 0; i < 3 << 20; i++) { /* 3 MiB: the middle MiB is not hashed */
        fputc(i & 0xff, fa);
        fputc(i & 0xff, fb);
        fputc(i == 3 << 19 ? 0 : i & 0xff, fc);
    }
    fputc('x', fa);
    fputc('y', fb);
    fputc('x', fc);
    fclose(fa);
    fclose(fb);
    fclose(fc);
    struct ds_ingest_file x, y, z;
    struct ds_err err = {0};
    assert_int_equal(ds_store_file_identity(a, &x, &err), 0);
    assert_int_equal(ds_store_file_identity(b, &y, &err), 0);
    assert_int_equal(ds_store_file_identity(c, &z, &err), 0);
    assert_int_equal(strlen(x.identity), 64);
    assert_string_not_equal(x.identity, y.identity); /* the last byte differs */
    assert_string_equal(x.identity, z.identity);     /* a change in the middle is not seen */
    assert_int_equal(x.size, (3u << 20) + 1);
    assert_int_equal(ds_store_file_identity("/dev/null", &x, &err), -ESPIPE);
    assert_int_equal(ds_store_file_identity("/nonexistent", &x, &err), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_refuse),    cmocka_unit_test(test_merge),
        cmocka_unit_test(test_replace_unfinished), cmocka_unit_test(test_hosts_batched),
        cmocka_unit_test(test_file_identity),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
