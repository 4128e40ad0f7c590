/* bench_store.c - a simulated year of NICTER-scale statistics in a store: how many bytes a day
 * of statistics costs, and how long every report takes over the whole year.
 * Usage: bench_store DB [DAYS]   (DAYS default 365; the DB is created, or reused when it
 * already holds the simulation)
 *
 * Each simulated day has 288 5-minute, 24 hourly and 1 daily window with a realistic key mix
 * (NICTER 2024: ~20,000 packets/s on ~290k addresses, ~1 M sources a day, 23/tcp on top,
 * thousands of active ports and ASNs), day sketches for every (dimension, key) the reports
 * use, and the 1,000 busiest hosts with their profiles. Host profiles of all ~1 M daily
 * sources are not simulated: their size is measured on the benchmark capture (make bench). */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "analyze/daysketch.h"
#include "analyze/host.h"
#include "analyze/window.h"
#include "core/hash.h"
#include "store/query.h"
#include "store/store.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define PPS 20000.0
#define DAY0 19723u /* 2024-01-01 */

/* Fills a window with one interval's worth of traffic (scale = seconds covered). */
static void fill(struct ds_window *w, double secs)
{
    double pk = PPS * secs;
    double src = secs >= 86400 ? 1.0e6 : secs >= 3600 ? 2.0e5 : 4.0e4;
    struct ds_srow t = {.packets = (uint64_t)pk,
                        .bytes = (uint64_t)(pk * 60),
                        .sources = (uint64_t)src,
                        .r_packets = (uint64_t)(pk * 0.4),
                        .r_bytes = (uint64_t)(pk * 24),
                        .r_sources = 900};
    w->total = t;
    static const double proto_share[DS_PROTO_COUNT] = {0.86, 0.1, 0.035, 0.004, 0.001};
    for (int i = 0; i < DS_PROTO_COUNT; i++) {
        w->proto[i].packets = (uint64_t)(pk * proto_share[i]);
        w->proto[i].sources = (uint64_t)(src * proto_share[i]) + 1;
    }
    /* ports: Zipf-like, 23/tcp first; a vertical scanner touches thousands */
    int nports = secs >= 86400 ? 30000 : secs >= 3600 ? 12000 : 3000;
    for (int i = 0; i < nports; i++) {
        int udp = i % 7 == 6;
        uint16_t port = i == 0 ? 23 : (uint16_t)(rnd() % 65535 + 1);
        struct ds_prow *r = ds_window_port(w, udp, port);
        if (!r)
            continue;
        r->packets += (uint32_t)(pk * 0.24 / (i + 1)) + 1;
        r->sources += (uint32_t)(src * 0.5 / (i + 1)) + 1;
        r->r_packets += r->packets / 3;
        r->r_sources += 1;
    }
    for (int v = 0; v < 2; v++)
        for (int t2 = 0; t2 < 12; t2++)
            w->icmp[v][t2 * 3].packets = (uint64_t)(pk * 0.001) + 1;
    for (int c = 1; c < 240; c++) {
        w->country[c].packets = (uint64_t)(pk * 0.2 / c) + 1;
        w->country[c].sources = (uint64_t)(src * 0.2 / c) + 1;
    }
    int nasn = secs >= 86400 ? 30000 : secs >= 3600 ? 8000 : 2000;
    for (int i = 0; i < nasn; i++) {
        struct ds_srow *a = ds_window_asn(w, (uint32_t)(rnd() % 400000 + 1));
        if (!a)
            continue;
        a->packets += (uint64_t)(pk * 0.1 / (i + 1)) + 1;
        a->sources += (uint64_t)(src * 0.1 / (i + 1)) + 1;
    }
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        w->cls[i].packets = (uint64_t)(pk / (i + 2));
    for (int i = 0; i < DS_FP_COUNT; i++)
        w->fp[i].packets = (uint64_t)(pk / (i + 3));
    w->monitored = 290000;
}

/* The day's sketches: total (1 M sources), protocols, the 2,000 busiest ports, countries, the
 * 5,000 busiest ASNs; sources drawn from a pool so that days overlap, as real ones do. */
static void day_sketches(struct ds_daysk *d)
{
    for (int i = 0; i < 1000000; i++) {
        uint64_t h = ds_mix64(rnd() % 3000000);
        ds_daysk_add(d, DS_DIM_TOTAL, 0, false, h);
        ds_daysk_add(d, DS_DIM_PROTO, (uint32_t)(i % 10 == 9), false, h);
        if (i % 3 == 0)
            ds_daysk_add(d, DS_DIM_COUNTRY, (uint32_t)(h % 239 + 1), false, h);
    }
    for (int p = 0; p < 2000; p++) {
        int n = 200000 / (p + 1) + 1;
        uint32_t port = p == 0 ? 23 : (uint32_t)(p * 31 % 65535 + 1);
        for (int i = 0; i < n; i++)
            ds_daysk_add(d, p % 7 == 6 ? DS_DIM_UDP : DS_DIM_TCP, port, false,
                         ds_mix64(rnd() % 3000000));
    }
    for (int a = 0; a < 5000; a++) {
        int n = 50000 / (a + 1) + 1;
        for (int i = 0; i < n; i++)
            ds_daysk_add(d, DS_DIM_ASN, (uint32_t)(a + 1), false, ds_mix64(rnd() % 3000000));
    }
}

static double timed(const char *name, struct ds_store *st, int which)
{
    struct ds_err err = {0};
    json_t *out = NULL;
    struct ds_period per = {0};
    struct ds_rank_opts ro = {.kind = DS_RANK_PORTS, .top = 10, .proto = -1};
    double t0 = now();
    int rc = 0;
    switch (which) {
    case 0:
        rc = ds_query_year(st, &per, false, &out, &err);
        break;
    case 1:
        rc = ds_query_rank(st, &per, &ro, &out, &err);
        break;
    case 2:
        ro.exclude_research = true;
        rc = ds_query_rank(st, &per, &ro, &out, &err);
        break;
    case 3:
        ro.by_sources = true;
        rc = ds_query_rank(st, &per, &ro, &out, &err);
        break;
    case 4:
        ro.kind = DS_RANK_COUNTRIES;
        rc = ds_query_rank(st, &per, &ro, &out, &err);
        break;
    case 5:
        ro.kind = DS_RANK_ASNS;
        rc = ds_query_rank(st, &per, &ro, &out, &err);
        break;
    case 6:
        rc = ds_query_port_monthly(st, &per, 0, 23, false, &out, &err);
        break;
    case 7:
        rc = ds_query_hosts(st, &per, 10, false, &out, &err);
        break;
    case 8: /* the busiest host of the period, as the workbench would open it */
        rc = ds_query_hosts(st, &per, 1, false, &out, &err);
        if (rc >= 0) {
            json_t *a = json_object_get(json_array_get(out, 0), "address");
            char addr[64];
            snprintf(addr, sizeof addr, "%s",
                     json_is_string(a) ? json_string_value(a) : "10.0.0.7");
            json_decref(out);
            out = NULL;
            t0 = now();
            rc = ds_query_host(st, addr, &out, &err);
        }
        break;
    }
    double t = now() - t0;
    if (rc < 0)
        fprintf(stderr, "bench_store: %s: %s\n", name, err.msg);
    json_decref(out);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store DB [DAYS]\n");
        return 2;
    }
    int days = argc > 2 ? atoi(argv[2]) : 365;
    struct ds_err err = {0};
    struct ds_store *st;
    if (ds_store_open(&st, argv[1], false, &err) < 0) {
        fprintf(stderr, "bench_store: %s\n", err.msg);
        return 1;
    }
    sqlite3_stmt *q;
    int have = 0;
    if (sqlite3_prepare_v2(ds_store_db(st), "SELECT count(DISTINCT start) FROM stat WHERE gran = 2",
                           -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            have = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    double t_build = 0;
    if (have < days) {
        /* a live ingest, as `darkscope run` on an interface writes a year: every day's
         * checkpoint merges it into the shared tables (one merge of a whole year's stage rows
         * at the end takes far longer than writing them, and a daemon never does that) */
        struct ds_ingest_info ii = {
            .darknet = "simulated", .monitored = 290000, .threads = 1, .live = true};
        int64_t id;
        if (ds_store_ingest_begin(st, &ii, &id, &err) < 0) {
            fprintf(stderr, "bench_store: %s\n", err.msg);
            return 1;
        }
        const struct ds_sink *sk = ds_store_sink(st);
        struct ds_window w;
        struct ds_daysk d;
        ds_window_init(&w, DS_GRAN_5M);
        ds_daysk_init(&d);
        double t0 = now();
        for (int day = have; day < days; day++) {
            uint32_t d5 = (DAY0 + (uint32_t)day) * 288;
            for (int g = 0; g < DS_GRAN_COUNT; g++) {
                int n = g == 0 ? 288 : g == 1 ? 24 : 1;
                for (int i = 0; i < n; i++) {
                    w.gran = (enum ds_gran)g;
                    ds_window_reset(&w, d5 / ds_gran_per_5m[g] + (uint32_t)i);
                    fill(&w, ds_gran_seconds[g]);
                    if (sk->window(sk->ctx, &w, &err) < 0)
                        goto fail;
                }
            }
            ds_daysk_reset(&d, DAY0 + (uint32_t)day);
            day_sketches(&d);
            if (sk->daysk(sk->ctx, &d, &err) < 0)
                goto fail;
            /* the day's busiest hosts: top list and their profiles */
            struct ds_host_top top[1000];
            struct ds_host *hp = calloc(1000, sizeof *hp);
            const struct ds_host **hv = calloc(1000, sizeof *hv);
            for (int i = 0; i < 1000; i++) {
                uint32_t a = 0x0a000000u + (uint32_t)(rnd() % 20000);
                ds_addr_set_v4(&top[i].addr, a);
                top[i].packets = 10000000 / (uint64_t)(i + 1);
                hp[i].addr = top[i].addr;
                hp[i].first_ns = ((uint64_t)DAY0 + (uint64_t)day) * 86400000000000ull;
                hp[i].last_ns = hp[i].first_ns + 86399000000000ull;
                hp[i].packets = (uint32_t)top[i].packets;
                hp[i].protos = 1;
                hv[i] = &hp[i];
            }
            if (sk->top(sk->ctx, DAY0 + (uint32_t)day, top, 1000, &err) < 0 ||
                sk->hosts(sk->ctx, hv, 1000, &err) < 0 ||
                sk->checkpoint(sk->ctx, d5 + 288, &err) < 0)
                goto fail;
            free(hp);
            free(hv);
        }
        t_build = now() - t0;
        ds_window_free(&w);
        ds_daysk_free(&d);
        if (ds_store_ingest_end(st, true, 0, 0, 0, 0, 0, "", &err) < 0)
            goto fail;
        sqlite3_exec(ds_store_db(st), "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    }
    struct stat sb;
    stat(argv[1], &sb);
    printf("simulated %d days (%.1f s to write): store %.1f MB, %.2f MB per day of statistics"
           " (without the full host profiles)\n",
           days, t_build, (double)sb.st_size / 1e6, (double)sb.st_size / 1e6 / days);
    static const char *const names[] = {
        "year",      "ports", "ports --exclude-research", "ports --by sources",
        "countries", "asns",  "port 23 --monthly",        "hosts",
        "host ADDR"};
    double worst = 0;
    for (int i = 0; i < 9; i++) {
        double best = 1e9;
        for (int r = 0; r < 3; r++) {
            double t = timed(names[i], st, i);
            if (t < best)
                best = t;
        }
        if (best > worst)
            worst = best;
        printf("  report %-26s %8.1f ms over the whole period\n", names[i], best * 1e3);
    }
    printf("slowest report: %.1f ms (target: under 100 ms)\n", worst * 1e3);
    ds_store_close(st);
    return 0;
fail:
    fprintf(stderr, "bench_store: %s\n", err.msg);
    ds_store_close(st);
    return 1;
}
