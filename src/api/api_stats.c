/* api_stats.c - API endpoints over the statistics: time series at 5 min / 1 h / 1 day for one
 * key of one dimension, top lists (ports, countries, ASNs) and the yearly table. */
#include "api/api_int.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/host.h"
#include "analyze/window.h"
#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "core/timefmt.h"

static const char *const proto_names[DS_PROTO_COUNT] = {"tcp", "udp", "icmp", "icmp6", "other"};

/* The key of dim named by text (port, type, country code, AS number, class or fingerprint
 * name). 0 or replies 400. */
static int parse_key(struct api_call *c, enum ds_dim dim, const char *text, uint32_t *key)
{
    *key = 0;
    if (dim == DS_DIM_TOTAL)
        return 0;
    if (!text) {
        api_error(c, 400, "parameter key is required for dim=%s", ds_dim_names[dim]);
        return -1;
    }
    char *end;
    unsigned long v;
    switch (dim) {
    case DS_DIM_PROTO:
        for (int i = 0; i < DS_PROTO_COUNT; i++)
            if (!strcmp(text, proto_names[i])) {
                *key = (uint32_t)i;
                return 0;
            }
        break;
    case DS_DIM_TCP:
    case DS_DIM_UDP:
    case DS_DIM_ICMP:
    case DS_DIM_ICMP6:
    case DS_DIM_ASN:
        errno = 0;
        v = strtoul(text, &end, 10);
        if (*text && !*end && !errno &&
            v <= (dim == DS_DIM_ASN    ? 4294967295ul
                  : dim >= DS_DIM_ICMP ? 255ul
                                       : 65535ul)) {
            *key = (uint32_t)v;
            return 0;
        }
        break;
    case DS_DIM_COUNTRY:
        if (strlen(text) == 2 && text[0] >= 'A' && text[0] <= 'Z' && text[1] >= 'A' &&
            text[1] <= 'Z') {
            *key = ds_country_index(text);
            return 0;
        }
        break;
    case DS_DIM_CLASS:
        for (int i = 0; i < DS_CLASS_COUNT; i++)
            if (!strcmp(text, ds_class_table[i].name)) {
                *key = (uint32_t)i;
                return 0;
            }
        break;
    case DS_DIM_FP:
        for (int i = 0; i < DS_FP_COUNT; i++)
            if (!strcmp(text, ds_fingerprints[i]->name)) {
                *key = (uint32_t)i;
                return 0;
            }
        break;
    default:
        break;
    }
    api_error(c, 400, "parameter key='%.60s' is not a %s key", text, ds_dim_names[dim]);
    return -1;
}

static int newest_start(struct ds_store *s, int gran, int64_t *out)
{
    sqlite3_stmt *st;
    *out = 0;
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT max(start) FROM stat WHERE gran = %d", gran);
    if (sqlite3_prepare_v2(ds_store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

void api_stats(struct api_call *c)
{
    static const int64_t span[DS_GRAN_COUNT] = {86400, 7 * 86400, 365 * 86400};
    static const int64_t max_points[DS_GRAN_COUNT] = {14 * 288, 366 * 24, 100 * 366};
    const char *g = ds_http_arg(c->rq, "gran");
    const char *d = ds_http_arg(c->rq, "dim");
    int gran = -1, dim = -1;
    for (int i = 0; i < DS_GRAN_COUNT; i++)
        if (!strcmp(g ? g : "1h", ds_gran_names[i]))
            gran = i;
    for (int i = 0; i < DS_DIM_COUNT; i++)
        if (!strcmp(d ? d : "total", ds_dim_names[i]))
            dim = i;
    if (gran < 0) {
        api_error(c, 400, "parameter gran='%.20s': expected 5m, 1h or 1d", g);
        return;
    }
    if (dim < 0) {
        api_error(c, 400,
                  "parameter dim='%.20s': expected total, proto, tcp, udp, icmp, icmp6, country, "
                  "asn, class or fingerprint",
                  d);
        return;
    }
    uint32_t key;
    bool xr;
    struct ds_period p;
    if (parse_key(c, (enum ds_dim)dim, ds_http_arg(c->rq, "key"), &key) < 0 ||
        api_bool_param(c, "exclude_research", &xr) < 0 || api_period(c, &p) < 0)
        return;
    int64_t step = ds_gran_seconds[gran];
    if (!p.has_to) {
        int64_t newest;
        newest_start(c->store, gran, &newest);
        p.to = newest ? newest + step : 0;
    }
    if (!p.has_from)
        p.from = p.to - span[gran];
    if ((p.to - p.from) / step > max_points[gran]) {
        api_error(c, 400,
                  "period too long for gran=%s: at most %" PRId64 " points (use a coarser "
                  "granularity)",
                  ds_gran_names[gran], max_points[gran]);
        return;
    }
    bool small = dim == DS_DIM_TOTAL || dim == DS_DIM_PROTO || dim == DS_DIM_ICMP ||
                 dim == DS_DIM_ICMP6 || dim == DS_DIM_CLASS || dim == DS_DIM_FP;
    /* dim and gran as literals, so SQLite can pick the partial indexes; a large dimension
     * at 5 minutes or an hour has none (the rows of every key of the period would be read):
     * one primary-key lookup per interval of the period instead (rows start at multiples of
     * the step) */
    char sql[640];
    if (!small && gran != DS_GRAN_1D)
        snprintf(sql, sizeof sql,
                 "WITH RECURSIVE t(s) AS (SELECT ?4 WHERE ?4 < ?3 UNION ALL SELECT s + %" PRId64
                 " FROM t WHERE s + %" PRId64 " < ?3)"
                 " SELECT start, packets, bytes, sources, r_packets, r_bytes, r_sources"
                 " FROM t CROSS JOIN stat ON gran = %d AND start = t.s AND dim = %d AND key = ?1"
                 " WHERE start >= ?2 ORDER BY start",
                 step, step, gran, dim);
    else
        snprintf(sql, sizeof sql,
                 "SELECT start, packets, bytes, sources, r_packets, r_bytes, r_sources FROM stat"
                 " %s WHERE gran = %d AND dim = %d AND key = ?1 AND start >= ?2 AND start < ?3 %s"
                 " ORDER BY start",
                 small                ? "INDEXED BY stat_series"
                 : gran == DS_GRAN_1D ? "INDEXED BY stat_series_day"
                                      : "",
                 gran, dim,
                 /* the partial indexes' own conditions, word for word, so SQLite may use them */
                 small                ? "AND dim IN (0, 1, 4, 5, 8, 9)"
                 : gran == DS_GRAN_1D ? "AND gran = 2 AND dim IN (2, 3, 6, 7)"
                                      : "");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ds_store_db(c->store), sql, -1, &st, NULL) != SQLITE_OK) {
        struct ds_err err;
        ds_err_set(&err, -EIO, "%s", sqlite3_errmsg(ds_store_db(c->store)));
        api_store_error(c, &err);
        return;
    }
    sqlite3_bind_int64(st, 1, key);
    sqlite3_bind_int64(st, 2, p.from);
    sqlite3_bind_int64(st, 3, p.to);
    sqlite3_bind_int64(st, 4, p.from + ((step - p.from % step) % step)); /* the first start */
    json_t *t = json_array(), *pk = json_array(), *by = json_array(), *so = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t v[7];
        for (int i = 0; i < 7; i++)
            v[i] = sqlite3_column_int64(st, i);
        json_array_append_new(t, json_integer(v[0]));
        json_array_append_new(pk, json_integer(xr ? v[1] - v[4] : v[1]));
        json_array_append_new(by, json_integer(xr ? v[2] - v[5] : v[2]));
        json_array_append_new(so, json_integer(xr ? v[3] - v[6] : v[3]));
    }
    sqlite3_finalize(st);
    char from[32], to[32];
    json_t *o =
        json_pack("{s:i, s:s, s:s, s:s?, s:s, s:s, s:I, s:b, s:o, s:o, s:o, s:o}", "version", 1,
                  "gran", ds_gran_names[gran], "dim", ds_dim_names[dim], "key",
                  ds_http_arg(c->rq, "key"), "from", ds_time_format(p.from, from, sizeof from),
                  "to", ds_time_format(p.to, to, sizeof to), "step", (json_int_t)step,
                  "exclude_research", xr, "t", t, "packets", pk, "bytes", by, "sources", so);
    api_json(c, 200, o);
}

void api_top(struct api_call *c)
{
    const char *k = ds_http_arg(c->rq, "kind");
    const char *proto = ds_http_arg(c->rq, "proto");
    const char *by = ds_http_arg(c->rq, "by");
    struct ds_rank_opts ro = {.proto = -1};
    long n;
    struct ds_period p;
    if (!k || !strcmp(k, "ports"))
        ro.kind = DS_RANK_PORTS;
    else if (!strcmp(k, "countries"))
        ro.kind = DS_RANK_COUNTRIES;
    else if (!strcmp(k, "asns"))
        ro.kind = DS_RANK_ASNS;
    else {
        api_error(c, 400, "parameter kind='%.20s': expected ports, countries or asns", k);
        return;
    }
    if (proto && strcmp(proto, "all")) {
        if (!strcmp(proto, "tcp"))
            ro.proto = 0;
        else if (!strcmp(proto, "udp"))
            ro.proto = 1;
        else {
            api_error(c, 400, "parameter proto='%.20s': expected all, tcp or udp", proto);
            return;
        }
    }
    if (by && strcmp(by, "packets") && strcmp(by, "sources")) {
        api_error(c, 400, "parameter by='%.20s': expected packets or sources", by);
        return;
    }
    ro.by_sources = by && !strcmp(by, "sources");
    if (api_int_param(c, "n", 10, 1, 1000, &n) < 0 ||
        api_bool_param(c, "exclude_research", &ro.exclude_research) < 0 || api_period(c, &p) < 0)
        return;
    ro.top = (size_t)n;
    json_t *out;
    struct ds_err err = {0};
    if (ds_query_rank(c->store, &p, &ro, &out, &err) < 0) {
        api_store_error(c, &err);
        return;
    }
    api_json(c, 200, out);
}

void api_year(struct api_call *c)
{
    struct ds_period p;
    bool xr;
    if (api_bool_param(c, "exclude_research", &xr) < 0 || api_period(c, &p) < 0)
        return;
    json_t *out;
    struct ds_err err = {0};
    if (ds_query_year(c->store, &p, xr, &out, &err) < 0) {
        api_store_error(c, &err);
        return;
    }
    api_json(c, 200, out);
}
