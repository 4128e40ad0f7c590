/* feed_infected.c - the infected-host feed for ISPs: sources whose darknet traffic shows
 * malware, by the table of rules below (docs/feeds.md), research scanners left out. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/host.h"
#include "classify/classify.h"
#include "core/addr.h"
#include "core/timefmt.h"
#include "feed/feed_int.h"

#define DAY 86400

/* Telnet and the IoT services that Mirai's descendants and Gafgyt-like bots scan
 * (DOMAIN.md sections 3 and 7); 80/8080 are left out: too many ordinary scanners use them. */
static const uint16_t iot_ports[] = {23, 2323, 5555, 7547, 37215, 52869, 0};

/*
 * A source is infected when it is not a research scanner and at least one rule holds over
 * its profile segments in the period. A rule is an SQL condition over the aggregate of the
 * host table's columns (SUM/MAX over segments), optionally ANDed with "one of the ports the
 * store recorded for it (the first two per host and day) is a TCP port of .ports".
 */
struct infected_rule {
    const char *name;       /* in the row's "rules" */
    const char *identifier; /* IntelMQ classification.identifier, Shadowserver tag */
    const char *sql;        /* condition over the aggregate */
    const uint16_t *ports;  /* NULL, or 0-terminated TCP ports one of which must be recorded */
};

static const struct infected_rule rules[] = {
    {.name = "mirai-fingerprint", .identifier = "mirai", .sql = "SUM(mirai) > 0"},
    {.name = "iot-port-scan",
     .identifier = "iot-scanner",
     /* TCP SYN scanning, no backscatter (a DoS victim's replies land on random ports), and no
      * scanning-tool fingerprint (ZMap, Masscan, nmap, unicornscan mark a tool, not malware) */
     .sql = "SUM(tcp_syn) > 0 AND SUM(backscatter) = 0 AND "
            "SUM(zmap + masscan + nmap + unicornscan) = 0",
     .ports = iot_ports},
};
#define N_RULES (sizeof rules / sizeof rules[0])

static const char *const class_names[] = {"tcp_syn", "backscatter", "icmp_request",
                                          "udp",     "amp_probe",   "spoofed_hint"};
static const char *const fp_names[] = {"mirai", "zmap", "masscan", "nmap", "unicornscan"};

/* Appends printf text to b (cap bytes); returns -E2BIG when it does not fit. */
static int add(char *b, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int add(char *b, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *n)
        return -E2BIG;
    *n += (size_t)w;
    return 0;
}

/* The rule's condition over the aggregate. */
static int rule_sql(const struct infected_rule *r, char *b, size_t cap, size_t *n)
{
    int rc = add(b, cap, n, "(%s", r->sql);
    if (r->ports) {
        rc |= add(b, cap, n, " AND MAX(");
        for (size_t i = 0; r->ports[i]; i++)
            rc |= add(b, cap, n, "%s(',' || ports || ',') GLOB '*,tcp/%u,*'", i ? " OR " : "",
                      r->ports[i]);
        rc |= add(b, cap, n, ")");
    }
    return rc | add(b, cap, n, ")");
}

enum {
    C_ADDR,
    C_FIRST,
    C_LAST,
    C_PACKETS,
    C_BYTES,
    C_COUNTRY,
    C_ASN,
    C_CLASS0,
    C_CLASSES = C_CLASS0 + 6,
    C_FP0,
    C_PORTS = C_FP0 + 5,
    C_NPORTS,
    C_DSTS,
    C_SCAN,
    C_BEHAVIOUR,
    C_RULE0
};

static int build_sql(const struct ds_feed_query *q, char *b, size_t cap)
{
    size_t n = 0;
    int rc = add(b, cap, &n,
                 "SELECT addr, MIN(first_ns), MAX(last_ns), SUM(packets), SUM(bytes),"
                 " MAX(country), MAX(asn), SUM(tcp_syn), SUM(backscatter), SUM(icmp_request),"
                 " SUM(udp), SUM(amp_probe), SUM(spoofed_hint), bitor(classes), SUM(mirai),"
                 " SUM(zmap), SUM(masscan), SUM(nmap), SUM(unicornscan),"
                 " group_concat(ports, ','), SUM(nports), MAX(dsts),"
                 " CASE WHEN SUM(scan = 'both') > 0 OR (SUM(scan = 'horizontal') > 0 AND"
                 " SUM(scan = 'vertical') > 0) THEN 'both' WHEN SUM(scan = 'horizontal') > 0"
                 " THEN 'horizontal' WHEN SUM(scan = 'vertical') > 0 THEN 'vertical' ELSE"
                 " 'none' END, MAX(behaviour)");
    for (size_t i = 0; i < N_RULES; i++) {
        rc |= add(b, cap, &n, ", ");
        rc |= rule_sql(&rules[i], b, cap, &n);
    }
    rc |= add(b, cap, &n,
              " FROM host WHERE day >= ?1 AND day < ?2 AND last_ns >= ?3 AND first_ns < ?4"
              " AND ingest IN (SELECT id FROM ingest WHERE status IN ('done', 'live',"
              " 'interrupted'))");
    /* ASNs alone can narrow in SQL; with prefixes too, a row may match either (in C) */
    if (q->n_asns && !q->n_prefixes) {
        rc |= add(b, cap, &n, " AND asn IN (");
        for (size_t i = 0; i < q->n_asns; i++)
            rc |= add(b, cap, &n, "%s%" PRId64, i ? ", " : "", q->asns[i]);
        rc |= add(b, cap, &n, ")");
    }
    rc |= add(b, cap, &n, " GROUP BY addr HAVING MAX(research) IS NULL AND (");
    for (size_t i = 0; i < N_RULES; i++) {
        rc |= add(b, cap, &n, "%s", i ? " OR " : "");
        rc |= rule_sql(&rules[i], b, cap, &n);
    }
    return rc | add(b, cap, &n, ") ORDER BY SUM(packets) DESC, addr");
}

/* "tcp/23,tcp/2323,tcp/23" -> ["tcp/23", "tcp/2323"] (first seen first) */
static json_t *port_list(const char *text)
{
    json_t *a = json_array();
    char *dup = strdup(text ? text : "");
    char *save = NULL;
    for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
        bool seen = false;
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e) seen = seen || !strcmp(json_string_value(e), t);
        if (!seen)
            json_array_append_new(a, json_string(t));
    }
    free(dup);
    return a;
}

static json_t *row_json(sqlite3_stmt *st)
{
    char a[40], b[40];
    json_t *r = json_object();
    json_object_set_new(r, "address", json_string((const char *)sqlite3_column_text(st, C_ADDR)));
    int64_t asn = sqlite3_column_int64(st, C_ASN);
    json_object_set_new(r, "asn", asn ? json_integer(asn) : json_null());
    const char *cc = (const char *)sqlite3_column_text(st, C_COUNTRY);
    json_object_set_new(r, "country", cc && *cc ? json_string(cc) : json_null());
    json_object_set_new(
        r, "first_seen",
        json_string(ds_time_format_ns((uint64_t)sqlite3_column_int64(st, C_FIRST), a, sizeof a)));
    json_object_set_new(
        r, "last_seen",
        json_string(ds_time_format_ns((uint64_t)sqlite3_column_int64(st, C_LAST), b, sizeof b)));
    json_object_set_new(r, "packets", json_integer(sqlite3_column_int64(st, C_PACKETS)));
    json_object_set_new(r, "bytes", json_integer(sqlite3_column_int64(st, C_BYTES)));
    json_t *fps = json_array(), *cls = json_array();
    for (int i = 0; i < 5; i++)
        if (sqlite3_column_int64(st, C_FP0 + i) > 0)
            json_array_append_new(fps, json_string(fp_names[i]));
    for (int i = 0; i < 6; i++)
        if (sqlite3_column_int64(st, C_CLASS0 + i) > 0)
            json_array_append_new(cls, json_string(class_names[i]));
    int cm = sqlite3_column_int(st, C_CLASSES);
    if (cm & (1 << DS_CLASS_NONROUTABLE_SRC))
        json_array_append_new(cls, json_string("nonroutable_src"));
    if (cm & (1 << DS_CLASS_FRAGMENT))
        json_array_append_new(cls, json_string("fragment"));
    json_object_set_new(r, "fingerprints", fps);
    json_object_set_new(r, "classes", cls);
    json_object_set_new(r, "dst_ports", port_list((const char *)sqlite3_column_text(st, C_PORTS)));
    json_object_set_new(r, "ports_distinct", json_integer(sqlite3_column_int64(st, C_NPORTS)));
    json_object_set_new(r, "destinations", json_integer(sqlite3_column_int64(st, C_DSTS)));
    json_object_set_new(r, "scan_type", json_string((const char *)sqlite3_column_text(st, C_SCAN)));
    const char *beh = (const char *)sqlite3_column_text(st, C_BEHAVIOUR);
    json_object_set_new(r, "behaviour_key", json_string(beh ? beh : ""));
    json_object_set_new(r, "family", json_null()); /* the correlation engine's, later */
    json_t *rl = json_array(), *tags = json_array();
    for (size_t i = 0; i < N_RULES; i++)
        if (sqlite3_column_int(st, C_RULE0 + (int)i)) {
            json_array_append_new(rl, json_string(rules[i].name));
            json_array_append_new(tags, json_string(rules[i].identifier));
        }
    json_object_set_new(r, "identifier", json_incref(json_array_get(tags, 0)));
    json_object_set_new(r, "rules", rl);
    json_object_set_new(r, "tags", tags);
    return r;
}

static bool asn_in(const struct ds_feed_query *q, int64_t asn)
{
    for (size_t i = 0; i < q->n_asns; i++)
        if (q->asns[i] == asn)
            return true;
    return false;
}

static int infected_read(struct ds_store *s, const struct ds_feed_query *q, json_t **rows,
                         struct ds_err *err)
{
    char sql[8192];
    if (build_sql(q, sql, sizeof sql) < 0)
        return ds_err_set(err, -E2BIG, "feed infected: the query is too long");
    sqlite3 *db = ds_store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return ds_err_set(err, -EIO, "feed infected: %s", sqlite3_errmsg(db));
    int64_t from = q->period.has_from ? q->period.from : INT64_MIN / 2000000000;
    int64_t to = q->period.has_to ? q->period.to : INT64_MAX / 2000000000;
    sqlite3_bind_int64(st, 1, from >= 0 ? from / DAY : -((-from + DAY - 1) / DAY));
    sqlite3_bind_int64(st, 2, to / DAY + 1);
    sqlite3_bind_int64(st, 3, from * 1000000000);
    sqlite3_bind_int64(st, 4, to * 1000000000);
    json_t *list = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        struct ds_addr a;
        if (ds_addr_parse(&a, (const char *)sqlite3_column_text(st, C_ADDR), NULL) < 0)
            continue;
        if (!ds_feed_addr_selected(q, &a, asn_in(q, sqlite3_column_int64(st, C_ASN))))
            continue;
        json_array_append_new(list, row_json(st));
        if (q->limit && json_array_size(list) >= q->limit)
            break;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        json_decref(list);
        return ds_err_set(err, -EIO, "feed infected: %s", sqlite3_errmsg(db));
    }
    *rows = list;
    return 0;
}

static const struct ds_feed_field csv_fields[] = {
    {.name = "timestamp", .key = "last_seen", .conv = DS_CONV_SSTIME},
    {.name = "ip", .key = "address"},
    {.name = "asn", .key = "asn"},
    {.name = "geo", .key = "country"},
    {.name = "protocol", .key = "tcp", .conv = DS_CONV_CONST},
    {.name = "type", .key = "scan_type"},
    {.name = "count", .key = "packets"},
    {.name = "tag", .key = "tags", .conv = DS_CONV_JOIN},
    {.name = "family", .key = "family"},
    {.name = "first_seen", .key = "first_seen", .conv = DS_CONV_SSTIME},
    {.name = "last_seen", .key = "last_seen", .conv = DS_CONV_SSTIME},
    {.name = "dst_ports", .key = "dst_ports", .conv = DS_CONV_JOIN},
    {.name = "ports_distinct", .key = "ports_distinct"},
    {.name = "destinations", .key = "destinations"},
    {.name = "fingerprints", .key = "fingerprints", .conv = DS_CONV_JOIN},
    {.name = "classes", .key = "classes", .conv = DS_CONV_JOIN},
    {.name = "behaviour", .key = "behaviour_key"},
    {.name = "infected_rules", .key = "rules", .conv = DS_CONV_JOIN},
    {.name = NULL},
};

static const struct ds_feed_field intelmq_fields[] = {
    {.name = "feed.name", .key = "darkscope-infected-hosts", .conv = DS_CONV_CONST},
    {.name = "feed.provider", .conv = DS_CONV_PRODUCER},
    {.name = "time.source", .key = "last_seen", .conv = DS_CONV_ISOTIME},
    {.name = "time.observation", .conv = DS_CONV_GENERATED},
    {.name = "source.ip", .key = "address"},
    {.name = "source.asn", .key = "asn"},
    {.name = "source.geolocation.cc", .key = "country"},
    {.name = "protocol.transport", .key = "tcp", .conv = DS_CONV_CONST},
    {.name = "classification.taxonomy", .key = "malicious-code", .conv = DS_CONV_CONST},
    {.name = "classification.type", .key = "infected-system", .conv = DS_CONV_CONST},
    {.name = "classification.identifier", .key = "identifier"},
    {.name = "malware.name", .key = "family"},
    {.name = "extra.first_seen", .key = "first_seen", .conv = DS_CONV_ISOTIME},
    {.name = "extra.last_seen", .key = "last_seen", .conv = DS_CONV_ISOTIME},
    {.name = "extra.packets", .key = "packets"},
    {.name = "extra.bytes", .key = "bytes"},
    {.name = "extra.fingerprints", .key = "fingerprints", .conv = DS_CONV_JOIN},
    {.name = "extra.classes", .key = "classes", .conv = DS_CONV_JOIN},
    {.name = "extra.dst_ports", .key = "dst_ports", .conv = DS_CONV_JOIN},
    {.name = "extra.ports_distinct", .key = "ports_distinct"},
    {.name = "extra.destinations", .key = "destinations"},
    {.name = "extra.scan_type", .key = "scan_type"},
    {.name = "extra.behaviour_key", .key = "behaviour_key"},
    {.name = "extra.rules", .key = "rules", .conv = DS_CONV_JOIN},
    {.name = NULL},
};

const struct ds_feed_kind ds_feed_infected = {
    .name = "infected",
    .summary = "infected hosts (malware evidence), per ASN or prefix, for ISPs",
    .by_address = true,
    .read = infected_read,
    .csv = csv_fields,
    .intelmq = intelmq_fields,
};
