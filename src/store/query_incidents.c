/* query_incidents.c - the incident reports over a store: DoS attacks, reflector-hunting
 * campaigns and outbreak candidates (contracts: docs/reports.md). */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "classify/fingerprint.h"
#include "core/addr.h"
#include "core/timefmt.h"
#include "store/query.h"

static json_t *attack_json(sqlite3_stmt *st)
{
    char a[40], b[40];
    int c = 0;
    int64_t id = sqlite3_column_int64(st, c++);
    const char *victim = (const char *)sqlite3_column_text(st, c++);
    const char *proto = (const char *)sqlite3_column_text(st, c++);
    uint64_t first = (uint64_t)sqlite3_column_int64(st, c++);
    uint64_t last = (uint64_t)sqlite3_column_int64(st, c++);
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:f}", "id", (json_int_t)id, "victim", victim,
                  "protocol", proto, "start", ds_time_format_ns(first, a, sizeof a), "end",
                  ds_time_format_ns(last, b, sizeof b), "duration_s", (double)(last - first) / 1e9);
    json_object_set_new(o, "packets", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(o, "bytes", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(o, "peak_ppm", json_integer(sqlite3_column_int64(st, c++)));
    json_t *ports = json_loads((const char *)sqlite3_column_text(st, c++), 0, NULL);
    json_object_set_new(o, "top_victim_ports", ports ? ports : json_array());
    json_object_set_new(o, "victim_ports", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(o, "darknet_addresses", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(o, "attacker_ports", json_integer(sqlite3_column_int64(st, c++)));
    double rate = sqlite3_column_double(st, c++);
    json_object_set_new(o, "estimated_rate_pps", rate > 0 ? json_real(rate) : json_null());
    const char *cc = (const char *)sqlite3_column_text(st, c++);
    json_object_set_new(o, "country", cc && *cc ? json_string(cc) : json_null());
    int64_t asn = sqlite3_column_int64(st, c++);
    json_object_set_new(o, "asn", asn ? json_integer(asn) : json_null());
    json_object_set_new(o, "late_packets", json_integer(sqlite3_column_int64(st, c++)));
    return o;
}

int ds_query_dos(struct ds_store *s, const struct ds_dos_query *q, json_t **out, struct ds_err *err)
{
    *out = NULL;
    struct ds_prefix pf;
    bool by_victim = q->victim && *q->victim;
    if (by_victim && ds_prefix_parse(&pf, q->victim, NULL) < 0)
        return ds_err_set(err, -EINVAL, "victim '%s': not an address or prefix", q->victim);
    int64_t from = q->period.has_from ? q->period.from : INT64_MIN / 1000000000;
    int64_t to = q->period.has_to ? q->period.to : INT64_MAX / 1000000000;
    sqlite3_stmt *st;
    /* an attack is in the period when it overlaps it */
    if (sqlite3_prepare_v2(ds_store_db(s),
                           "SELECT id, victim, protocol, first_ns, last_ns, packets, bytes,"
                           " peak_ppm, ports, victim_ports, darknet_addrs, attacker_ports,"
                           " est_rate_pps, country, asn, late FROM dos_attack"
                           " WHERE last_ns >= ?1 AND first_ns < ?2 AND ingest IN"
                           " (SELECT id FROM ingest WHERE status IN ('done', 'live',"
                           " 'interrupted')) ORDER BY first_ns, victim, protocol",
                           -1, &st, NULL) != SQLITE_OK)
        return ds_err_set(err, -EIO, "listing DoS attacks: %s", sqlite3_errmsg(ds_store_db(s)));
    sqlite3_bind_int64(st, 1, from * 1000000000);
    sqlite3_bind_int64(st, 2, to * 1000000000);
    json_t *list = json_array();
    size_t skipped = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct ds_addr v;
        if (ds_addr_parse(&v, (const char *)sqlite3_column_text(st, 1), NULL) < 0)
            continue;
        if (by_victim && !ds_prefix_contains(&pf, &v))
            continue;
        if (q->keep && !q->keep(q->keep_ctx, &v))
            continue;
        if (skipped < q->offset) {
            skipped++;
            continue;
        }
        if (q->limit && json_array_size(list) >= q->limit)
            break;
        json_array_append_new(list, attack_json(st));
    }
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        json_decref(list);
        return ds_err_set(err, -EIO, "listing DoS attacks: %s", sqlite3_errmsg(ds_store_db(s)));
    }
    *out = list;
    return 0;
}

static json_t *campaign_json(sqlite3_stmt *st)
{
    char a[40], b[40];
    int c = 0;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(o, "protocol", json_string((const char *)sqlite3_column_text(st, c++)));
    json_object_set_new(o, "request", json_string((const char *)sqlite3_column_text(st, c++)));
    json_object_set_new(o, "port", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(o, "source_block", json_string((const char *)sqlite3_column_text(st, c++)));
    uint64_t first = (uint64_t)sqlite3_column_int64(st, c++);
    uint64_t last = (uint64_t)sqlite3_column_int64(st, c++);
    json_object_set_new(o, "first_seen", json_string(ds_time_format_ns(first, a, sizeof a)));
    json_object_set_new(o, "last_seen", json_string(ds_time_format_ns(last, b, sizeof b)));
    json_object_set_new(o, "duration_s", json_real((double)(last - first) / 1e9));
    json_object_set_new(o, "packets", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(o, "bytes", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(o, "sources", json_integer(sqlite3_column_int64(st, c++)));
    json_t *top = json_loads((const char *)sqlite3_column_text(st, c++), 0, NULL);
    json_object_set_new(o, "top_sources", top ? top : json_array());
    json_object_set_new(o, "darknet_addresses", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(o, "darknet_coverage", json_real(sqlite3_column_double(st, c++)));
    int64_t rp = sqlite3_column_int64(st, c++);
    json_object_set_new(o, "research_packets", json_integer(rp));
    return o;
}

int ds_query_campaigns(struct ds_store *s, const struct ds_campaign_query *q, json_t **out,
                       struct ds_err *err)
{
    *out = NULL;
    struct ds_prefix pf;
    bool by_src = q->source && *q->source;
    if (by_src && ds_prefix_parse(&pf, q->source, NULL) < 0)
        return ds_err_set(err, -EINVAL, "source '%s': not an address or prefix", q->source);
    int64_t from = q->period.has_from ? q->period.from : INT64_MIN / 1000000000;
    int64_t to = q->period.has_to ? q->period.to : INT64_MAX / 1000000000;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            ds_store_db(s),
            "SELECT id, protocol, request, port, block, first_ns, last_ns, packets,"
            " bytes, sources, top_sources, darknet_addrs, coverage,"
            " research_packets FROM amp_campaign"
            " WHERE last_ns >= ?1 AND first_ns < ?2 AND (?3 IS NULL OR protocol = ?3)"
            " AND (?4 = 0 OR research_packets < packets) AND ingest IN"
            " (SELECT id FROM ingest WHERE status IN ('done', 'live',"
            " 'interrupted')) ORDER BY first_ns, block, port",
            -1, &st, NULL) != SQLITE_OK)
        return ds_err_set(err, -EIO, "listing campaigns: %s", sqlite3_errmsg(ds_store_db(s)));
    sqlite3_bind_int64(st, 1, from * 1000000000);
    sqlite3_bind_int64(st, 2, to * 1000000000);
    if (q->protocol && *q->protocol)
        sqlite3_bind_text(st, 3, q->protocol, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, q->exclude_research);
    json_t *list = json_array();
    size_t skipped = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        if (by_src || q->keep) {
            /* by its sources: a campaign is in when one of its listed sources is */
            json_t *top = json_loads((const char *)sqlite3_column_text(st, 10), 0, NULL);
            bool in = false;
            size_t i;
            json_t *e;
            json_array_foreach(top, i, e)
            {
                struct ds_addr a;
                if (ds_addr_parse(&a, json_string_value(json_object_get(e, "address")), NULL) < 0)
                    continue;
                if ((!by_src || ds_prefix_contains(&pf, &a)) &&
                    (!q->keep || q->keep(q->keep_ctx, &a)))
                    in = true;
            }
            json_decref(top);
            if (!in)
                continue;
        }
        if (skipped < q->offset) {
            skipped++;
            continue;
        }
        if (q->limit && json_array_size(list) >= q->limit)
            break;
        json_array_append_new(list, campaign_json(st));
    }
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        json_decref(list);
        return ds_err_set(err, -EIO, "listing campaigns: %s", sqlite3_errmsg(ds_store_db(s)));
    }
    *out = list;
    return 0;
}

json_t *ds_query_outbreak_drivers(struct sqlite3 *db, const char *dim, int64_t key,
                                  const char *name, int64_t start, bool running)
{
    static const char *const class_cols[] = {
        "tcp_syn", "backscatter", "icmp_request", "udp", "amp_probe", "spoofed_hint", NULL};
    char cond[96];
    if (!strcmp(dim, "tcp") || !strcmp(dim, "udp")) {
        snprintf(cond, sizeof cond, "(',' || ports || ',') LIKE '%%,%s/%" PRId64 ",%%'", dim, key);
    } else {
        /* a fingerprint's or a class's column, named after it (from fixed tables only) */
        bool ok = false;
        if (!strcmp(dim, "fingerprint"))
            for (int i = 0; i < DS_FP_COUNT; i++)
                ok |= !strcmp(ds_fingerprints[i]->name, name);
        else
            for (int i = 0; class_cols[i]; i++)
                ok |= !strcmp(class_cols[i], name);
        if (!ok)
            return json_array();
        snprintf(cond, sizeof cond, "%s > 0", name);
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT addr, packets, country, asn, first_ns FROM host WHERE day = ?1 AND"
             " first_ns < ?3 AND last_ns >= ?2 AND research IS NULL AND %s AND ingest IN"
             " (SELECT id FROM ingest WHERE status IN ('done', 'live', 'interrupted'%s))"
             " ORDER BY packets DESC, addr LIMIT 10",
             cond, running ? ", 'running'" : "");
    json_t *list = json_array();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return list;
    sqlite3_bind_int64(st, 1, start / 86400);
    sqlite3_bind_int64(st, 2, start * 1000000000);
    sqlite3_bind_int64(st, 3, (start + 300) * 1000000000);
    while (sqlite3_step(st) == SQLITE_ROW) {
        char t[40];
        const char *cc = (const char *)sqlite3_column_text(st, 2);
        json_array_append_new(
            list, json_pack("{s:s, s:I, s:s?, s:I, s:s}", "address", sqlite3_column_text(st, 0),
                            "packets", (json_int_t)sqlite3_column_int64(st, 1), "country",
                            cc && *cc ? cc : NULL, "asn", (json_int_t)sqlite3_column_int64(st, 3),
                            "first_seen",
                            ds_time_format_ns((uint64_t)sqlite3_column_int64(st, 4), t, sizeof t)));
    }
    sqlite3_finalize(st);
    return list;
}

int ds_query_outbreaks(struct ds_store *s, const struct ds_outbreak_query *q, json_t **out,
                       struct ds_err *err)
{
    *out = NULL;
    int64_t from = q->period.has_from ? q->period.from : INT64_MIN / 2;
    int64_t to = q->period.has_to ? q->period.to : INT64_MAX / 2;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ds_store_db(s),
                           "SELECT id, dim, key, name, start, value, packets, baseline, score"
                           " FROM outbreak WHERE start >= ?1 - 299 AND start < ?2"
                           " AND (?3 IS NULL OR dim = ?3) AND ingest IN"
                           " (SELECT id FROM ingest WHERE status IN ('done', 'live',"
                           " 'interrupted')) ORDER BY start, dim, key LIMIT ?4 OFFSET ?5",
                           -1, &st, NULL) != SQLITE_OK)
        return ds_err_set(err, -EIO, "listing outbreak candidates: %s",
                          sqlite3_errmsg(ds_store_db(s)));
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    if (q->dim && *q->dim)
        sqlite3_bind_text(st, 3, q->dim, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, q->limit ? (sqlite3_int64)q->limit : -1);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)q->offset);
    json_t *list = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        char a[32], b[32];
        const char *dim = (const char *)sqlite3_column_text(st, 1);
        int64_t key = sqlite3_column_int64(st, 2);
        const char *name = (const char *)sqlite3_column_text(st, 3);
        int64_t start = sqlite3_column_int64(st, 4);
        int64_t value = sqlite3_column_int64(st, 5);
        double base = sqlite3_column_double(st, 7);
        json_t *o = json_pack(
            "{s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:f, s:f}", "id",
            (json_int_t)sqlite3_column_int64(st, 0), "dim", dim, "key", (json_int_t)key, "name",
            name, "measure", !strcmp(name, "backscatter") ? "packets" : "sources", "start",
            ds_time_format(start, a, sizeof a), "end", ds_time_format(start + 300, b, sizeof b),
            "value", (json_int_t)value, "packets", (json_int_t)sqlite3_column_int64(st, 6),
            "baseline", base, "ratio", base > 0.01 ? (double)value / base : (double)value / 0.01,
            "score", sqlite3_column_double(st, 8));
        json_object_set_new(
            o, "top_hosts",
            ds_query_outbreak_drivers(ds_store_db(s), dim, key, name, start, false));
        json_array_append_new(list, o);
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE) {
        json_decref(list);
        return ds_err_set(err, -EIO, "listing outbreak candidates: %s",
                          sqlite3_errmsg(ds_store_db(s)));
    }
    *out = list;
    return 0;
}
