/* api_hosts.c - API endpoints about sources: top hosts, one host's profile and timeline (with
 * its alerts and organisation), and search by address, prefix, port, fingerprint, country
 * and time. Organisation users only ever see addresses of their own livenet. */
#include "api/api_int.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "analyze/host.h"
#include "classify/fingerprint.h"
#include "core/addr.h"
#include "core/timefmt.h"

/* The caller's alerts (all for staff) matching an extra SQL condition, newest first, as the
 * stored alert JSON plus workflow fields. cond uses ?1 (text) and ?2 (integer). */
static json_t *alerts_where(struct api_call *c, const char *cond, const char *t, int64_t i,
                            long limit)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, org, json, workflow, assignee, note FROM alert WHERE (%s)"
             " AND (?3 = 0 OR org = ?3) ORDER BY last_ns DESC LIMIT ?4",
             cond);
    sqlite3_stmt *st;
    json_t *a = json_array();
    if (sqlite3_prepare_v2(ds_store_db(c->store), sql, -1, &st, NULL) != SQLITE_OK)
        return a;
    sqlite3_bind_text(st, 1, t ? t : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, i);
    sqlite3_bind_int64(st, 3, api_is_staff(c) ? 0 : c->who.org_id);
    sqlite3_bind_int64(st, 4, limit);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *j = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        if (!j)
            continue;
        json_object_set_new(j, "workflow", json_string((const char *)sqlite3_column_text(st, 3)));
        json_array_append_new(a, j);
    }
    sqlite3_finalize(st);
    return a;
}

void api_hosts(struct api_call *c)
{
    long n;
    bool xr;
    struct ds_period p;
    if (api_int_param(c, "n", 20, 1, 1000, &n) < 0 ||
        api_bool_param(c, "exclude_research", &xr) < 0 || api_period(c, &p) < 0)
        return;
    struct ds_err err = {0};
    json_t *out;
    if (!api_is_staff(c)) { /* an organisation: the profiles of its alerted addresses */
        json_t *hosts = json_array();
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(ds_store_db(c->store),
                               "SELECT addr FROM alert WHERE org = ? GROUP BY addr"
                               " ORDER BY max(last_ns) DESC LIMIT ?",
                               -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, c->who.org_id);
            sqlite3_bind_int64(st, 2, n);
            while (sqlite3_step(st) == SQLITE_ROW) {
                json_t *h;
                if (ds_query_host(c->store, (const char *)sqlite3_column_text(st, 0), &h, &err) ==
                    0)
                    json_array_append_new(hosts, h);
            }
            sqlite3_finalize(st);
        }
        api_json(c, 200, json_pack("{s:o}", "hosts", hosts));
        return;
    }
    if (ds_query_hosts(c->store, &p, (size_t)n, xr, &out, &err) < 0) {
        api_store_error(c, &err);
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "hosts", out));
}

void api_host(struct api_call *c)
{
    struct ds_addr a;
    struct ds_err err = {0};
    if (ds_addr_parse(&a, c->seg[1], &err) < 0) {
        api_error(c, 400, "'%.60s' is not an IPv4 or IPv6 address", c->seg[1]);
        return;
    }
    if (!api_sees_addr(c, &a)) { /* not the caller's: as if unknown */
        api_error(c, 404, "no profile of %.60s", c->seg[1]);
        return;
    }
    char text[DS_ADDR_STRLEN];
    ds_addr_format(&a, text);
    json_t *h;
    int rc = ds_query_host(c->store, text, &h, &err);
    if (rc < 0 && err.code != -ENOENT) {
        api_store_error(c, &err);
        return;
    }
    if (rc < 0)
        h = json_pack("{s:s, s:b}", "address", text, "seen", 0);
    const struct ds_org *o = ds_registry_livenet(api_registry(c), &a);
    json_object_set_new(h, "organisation",
                        o && api_sees_org(c, o->id)
                            ? json_pack("{s:I, s:s}", "id", (json_int_t)o->id, "name", o->name)
                            : json_null());
    json_object_set_new(h, "alerts", alerts_where(c, "addr = ?1", text, 0, 100));
    /* the suspected family: filled by the correlation engine when it exists */
    if (!json_object_get(h, "family"))
        json_object_set_new(h, "family", json_null());
    api_json(c, 200, h);
}

/* Hosts of the day top lists inside a prefix (the busiest ones), and alerts inside it. */
static void search_prefix(struct api_call *c, const struct ds_prefix *pf, const char *q,
                          json_t *res)
{
    const struct ds_period *per = NULL;
    (void)per;
    json_t *hosts = json_array();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ds_store_db(c->store),
                           "SELECT addr, sum(packets) FROM host_top GROUP BY addr"
                           " ORDER BY 2 DESC",
                           -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW && json_array_size(hosts) < 200) {
            struct ds_addr a;
            const char *t = (const char *)sqlite3_column_text(st, 0);
            if (ds_addr_parse(&a, t, NULL) < 0 || !ds_prefix_contains(pf, &a) ||
                !api_sees_addr(c, &a))
                continue;
            json_array_append_new(hosts, json_pack("{s:s, s:I}", "address", t, "packets",
                                                   (json_int_t)sqlite3_column_int64(st, 1)));
        }
        sqlite3_finalize(st);
    }
    json_object_set_new(res, "hosts", hosts);
    json_t *alerts = alerts_where(c, "1", NULL, 0, 100000);
    json_t *in = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(alerts, i, v)
    {
        struct ds_addr a;
        if (ds_addr_parse(&a, json_string_value(json_object_get(v, "address")), NULL) == 0 &&
            ds_prefix_contains(pf, &a) && json_array_size(in) < 200)
            json_array_append(in, v);
    }
    json_decref(alerts);
    json_object_set_new(res, "alerts", in);
    json_object_set_new(res, "kind", json_string("prefix"));
    json_object_set_new(res, "prefix", json_string(q));
}

void api_search(struct api_call *c)
{
    const char *q = ds_http_arg(c->rq, "q");
    if (!q || !*q || strlen(q) > 200) {
        api_error(c, 400,
                  "parameter q is required: an address, a prefix, a port (23, 23/tcp, "
                  "53/udp), a fingerprint name or a country code");
        return;
    }
    json_t *res = json_object();
    struct ds_addr a;
    struct ds_prefix pf;
    if (ds_addr_parse(&a, q, NULL) == 0) {
        json_object_set_new(res, "kind", json_string("address"));
        char text[DS_ADDR_STRLEN];
        ds_addr_format(&a, text);
        json_object_set_new(res, "address", json_string(text));
        bool mine = api_sees_addr(c, &a);
        json_t *h = NULL;
        if (mine && ds_query_host(c->store, text, &h, NULL) == 0)
            json_object_set_new(res, "host", h);
        else
            json_object_set_new(res, "host", json_null());
        json_object_set_new(res, "alerts",
                            mine ? alerts_where(c, "addr = ?1", text, 0, 100) : json_array());
        api_json(c, 200, res);
        return;
    }
    if (strchr(q, '/') && ds_prefix_parse(&pf, q, NULL) == 0) {
        search_prefix(c, &pf, q, res);
        api_json(c, 200, res);
        return;
    }
    /* a port: "23", "23/tcp", "port:23" */
    const char *pq = !strncmp(q, "port:", 5) ? q + 5 : q;
    char *end;
    unsigned long port = strtoul(pq, &end, 10);
    if (end != pq && port <= 65535 && (!*end || !strcmp(end, "/tcp") || !strcmp(end, "/udp"))) {
        bool udp = !strcmp(end, "/udp");
        json_object_set_new(res, "kind", json_string("port"));
        json_object_set_new(res, "proto", json_string(udp ? "udp" : "tcp"));
        json_object_set_new(res, "port", json_integer((json_int_t)port));
        if (api_is_staff(c)) {
            struct ds_period p = {0};
            json_t *m;
            if (ds_query_port_monthly(c->store, &p, udp, (uint16_t)port, false, &m, NULL) == 0)
                json_object_set_new(res, "monthly", m);
        }
        char pat[32];
        snprintf(pat, sizeof pat, "%%\"port\":%lu,%%", port);
        json_object_set_new(res, "alerts", alerts_where(c, "ports LIKE ?1", pat, 0, 100));
        api_json(c, 200, res);
        return;
    }
    for (int i = 0; i < DS_FP_COUNT; i++) {
        if (!strcasecmp(q, ds_fingerprints[i]->name)) {
            json_object_set_new(res, "kind", json_string("fingerprint"));
            json_object_set_new(res, "fingerprint", json_string(ds_fingerprints[i]->name));
            json_object_set_new(res, "description", json_string(ds_fingerprints[i]->description));
            json_object_set_new(res, "alerts", alerts_where(c, "(fps >> ?2) & 1", NULL, i, 100));
            api_json(c, 200, res);
            return;
        }
    }
    if (strlen(q) == 2 && q[0] >= 'A' && q[0] <= 'Z' && q[1] >= 'A' && q[1] <= 'Z') {
        json_object_set_new(res, "kind", json_string("country"));
        json_object_set_new(res, "country", json_string(q));
        json_t *hosts = json_array();
        if (api_is_staff(c)) {
            struct ds_period p;
            if (api_period(c, &p) < 0) {
                json_decref(res);
                json_decref(hosts);
                return;
            }
            json_t *all;
            if (ds_query_hosts(c->store, &p, 1000, false, &all, NULL) == 0) {
                size_t i;
                json_t *v;
                json_array_foreach(all, i, v)
                {
                    if (!strcmp(json_string_value(json_object_get(v, "country")) ?: "", q) &&
                        json_array_size(hosts) < 100)
                        json_array_append(hosts, v);
                }
                json_decref(all);
            }
        }
        json_object_set_new(res, "hosts", hosts);
        api_json(c, 200, res);
        return;
    }
    json_decref(res);
    api_error(c, 400, "q='%.60s': not an address, prefix, port, fingerprint or country code", q);
}
