/* alerts.c - the alert engine: alert state per (organisation, address, case), notification
 * policy (at once for new and reopened alerts, Alertmanager-style digests for the rest),
 * and outbox rows committed in the same transaction as the alert change that caused them.
 *
 * Threads: shards post events into a queue (a mutex and a condition variable); one engine
 * thread applies them, owns every alert record and the engine's store connection. */
#include "alert/alerts.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/format.h"
#include "alert/outbox_queue.h"
#include "alert/templates.h"
#include "alert/outbreak_alerts.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "store/busy.h"

#define NS 1000000000ull
#define TICK_NS (1 * NS) /* packet time between policy passes without events */
#define BUSY_MS 2000     /* the engine connection's busy timeout (then BEGIN is tried again) */
#define TX_BUDGET_NS                                                                               \
    (50 * 1000000ull) /* wall time one write transaction may take: a longer                        \
                       * pass commits and goes on in a new one */

void ds_alerts_config_defaults(struct ds_alerts_config *c)
{
    *c = (struct ds_alerts_config){
        .close_after_ns = 3600 * NS,
        .renotify_ns = 7 * 86400 * NS,
        .group_wait_ns = 30 * NS,
        .group_interval_ns = 300 * NS,
        .repeat_interval_ns = 4 * 3600 * NS,
    };
}

/* One alert as the engine holds it. */
struct rec {
    int64_t id, org_id;
    struct ds_addr addr;
    enum ds_alert_case kase;
    enum ds_alert_state state;
    enum ds_severity sev;
    uint64_t first_ns, last_ns, packets, bytes, bits, peak;
    uint8_t protos;
    uint32_t classes, fps;
    char scan[12];
    struct ds_alert_port ports[DS_ALERT_TOP_PORTS];
    size_t n_ports;
    struct ds_alert_sample samples[DS_ALERT_SAMPLES];
    size_t n_samples;
    uint64_t notified_ns;
    int64_t notices;
    bool changed;                            /* since its last notice or digest */
    bool dirty;                              /* to be written */
    uint64_t contrib_packets, contrib_bytes; /* added by the current ingest, not yet written */
    struct rec *hnext;                       /* the next record in its index bucket */
};

struct orgd { /* digest timers of one organisation */
    int64_t org_id;
    uint64_t pending_since, last_sent;
    int64_t seq;
};

/* The statements of the engine's hot writes, prepared once (engine thread only). */
enum { ST_WRITE, ST_CONTRIB, ST_CREATE, ST_ENQUEUE, ST_CLOSED, ST_DOS, ST_COUNT };

struct ds_alerts {
    struct ds_alerts_config cfg;
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];          /* cached(); finalized by ds_alerts_close */
    struct ds_template_cache *templates; /* the response texts, read once (engine thread) */
    char *path;
    _Atomic(const struct ds_registry *) *reg;
    _Atomic int64_t ingest; /* the ingest events come from (their share is recorded) */
    void (*wake)(void *);
    void *wake_ctx;
    struct ds_alert_sink sink;
    struct ds_alerts_stats stats;
    /* the queue */
    pthread_mutex_t mu;
    pthread_cond_t cv, done_cv;
    struct ds_alert_event *q;
    size_t nq, capq;
    _Atomic uint64_t clock;      /* packet time */
    _Atomic uint64_t seen_clock; /* the clock of the engine's last pass */
    bool stop, drain_req, flush_req;
    bool cfg_req; /* new_cfg waits to be applied by the engine thread */
    struct ds_alerts_config new_cfg;
    uint64_t drain_seq, drained_seq;
    int err_code;
    char err_msg[512];
    pthread_t thread;
    bool started;
    /* engine-thread state */
    struct rec **recs;
    size_t n_recs, cap_recs;
    struct rec **hb; /* the records by (organisation, address, case): hmask + 1 buckets */
    size_t hmask;
    struct orgd *orgs; /* digest timers, in ascending org_id order */
    size_t n_orgs;
    struct org_rec *grp; /* policy's scratch: the records grouped by organisation */
    size_t cap_grp;
    struct ds_obalerts *ob; /* outbreak alerts of the analysts (outbreak_alerts.c) */
    bool in_tx;
    /* the open write transaction: when it began (monotonic), the counters before it and the
     * events applied in it (what a rollback takes back) */
    uint64_t tx_t0;
    uint64_t tx_before[4];
    size_t tx_events;
};

struct org_rec {
    int64_t org_id;
    size_t pos; /* in recs: ties keep the records' order */
    struct rec *r;
};

/* ------------------------------------------------------------------ store helpers -------- */

static int fail(struct ds_alerts *a, const char *what)
{
    a->stats.errors++;
    int code = sqlite3_errcode(a->db);
    int rc = code == SQLITE_FULL ? -ENOSPC : -EIO;
    pthread_mutex_lock(&a->mu);
    if (!a->err_code) {
        a->err_code = rc;
        snprintf(a->err_msg, sizeof a->err_msg, "%s: %s: %s", a->path, what, sqlite3_errmsg(a->db));
    }
    pthread_mutex_unlock(&a->mu);
    ds_error("alerts", "%s: %s: %s", a->path, what, sqlite3_errmsg(a->db));
    return rc;
}

/* Statement k of the engine's connection, prepared the first time and reset for reuse after
 * (preparing the same UPDATE for every alert record written was a quarter of the engine's
 * time with 10,000 organisations). NULL when it does not prepare. */
static sqlite3_stmt *cached(struct ds_alerts *a, int k, const char *sql)
{
    if (!a->st[k] &&
        sqlite3_prepare_v3(a->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &a->st[k], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(a->st[k]);
    sqlite3_clear_bindings(a->st[k]);
    return a->st[k];
}

static int exec(struct ds_alerts *a, const char *sql)
{
    if (sqlite3_exec(a->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(a, sql);
    return 0;
}

/* ------------------------------------------------------------------ records -------------- */

/* The index: chained buckets over the key's hash, at most one record per bucket on average.
 * Records enter it once their key is set (index_add) and leave it only by a rebuild. Without
 * memory for it (hb NULL) lookups scan the records: slower, still right. */
static size_t rec_bucket(const struct ds_alerts *a, int64_t org, const struct ds_addr *addr,
                         enum ds_alert_case c)
{
    return (size_t)(ds_hash_addr16(addr->b) ^ ds_mix64((uint64_t)org * 4 + (uint64_t)c)) & a->hmask;
}

static int index_rebuild(struct ds_alerts *a)
{
    size_t n = 256;
    while (n < 2 * a->n_recs)
        n *= 2;
    struct rec **hb = calloc(n, sizeof *hb);
    free(a->hb);
    a->hb = NULL;
    if (!hb)
        return -ENOMEM;
    a->hb = hb;
    a->hmask = n - 1;
    for (size_t i = 0; i < a->n_recs; i++) {
        struct rec *r = a->recs[i];
        size_t b = rec_bucket(a, r->org_id, &r->addr, r->kase);
        r->hnext = hb[b];
        hb[b] = r;
    }
    return 0;
}

static void index_add(struct ds_alerts *a, struct rec *r)
{
    if (!a->hb || a->n_recs > a->hmask + 1) {
        index_rebuild(a); /* r is in recs already */
        return;
    }
    size_t b = rec_bucket(a, r->org_id, &r->addr, r->kase);
    r->hnext = a->hb[b];
    a->hb[b] = r;
}

static struct rec *find_rec(struct ds_alerts *a, int64_t org, const struct ds_addr *addr,
                            enum ds_alert_case c)
{
    if (!a->hb) {
        for (size_t i = 0; i < a->n_recs; i++) {
            struct rec *r = a->recs[i];
            if (r->org_id == org && r->kase == c && ds_addr_eq(&r->addr, addr))
                return r;
        }
        return NULL;
    }
    for (struct rec *r = a->hb[rec_bucket(a, org, addr, c)]; r; r = r->hnext)
        if (r->org_id == org && r->kase == c && ds_addr_eq(&r->addr, addr))
            return r;
    return NULL;
}

static struct rec *add_rec(struct ds_alerts *a)
{
    if (a->n_recs == a->cap_recs) {
        size_t ncap = a->cap_recs ? a->cap_recs * 2 : 64;
        struct rec **n = realloc(a->recs, ncap * sizeof *n);
        if (!n)
            return NULL;
        a->recs = n;
        a->cap_recs = ncap;
    }
    struct rec *r = calloc(1, sizeof *r);
    if (r)
        a->recs[a->n_recs++] = r;
    return r;
}

static json_t *ports_json(const struct rec *r)
{
    json_t *v = json_array();
    for (size_t i = 0; i < r->n_ports; i++)
        json_array_append_new(v, json_pack("{s:i, s:i, s:I}", "proto", r->ports[i].proto, "port",
                                           r->ports[i].port, "packets",
                                           (json_int_t)r->ports[i].packets));
    return v;
}

static json_t *samples_json(const struct rec *r)
{
    json_t *v = json_array();
    for (size_t i = 0; i < r->n_samples; i++) {
        const struct ds_alert_sample *s = &r->samples[i];
        char a[DS_ADDR_STRLEN], b[DS_ADDR_STRLEN];
        json_array_append_new(
            v, json_pack("{s:I, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:i, s:i}", "ts",
                         (json_int_t)s->ts_ns, "src", ds_addr_format(&s->src, a), "dst",
                         ds_addr_format(&s->dst, b), "proto", s->proto, "ttl", s->ttl, "flags",
                         s->tcp_flags, "sport", s->sport, "dport", s->dport, "win", s->win, "ip_id",
                         s->ip_id, "seq", (json_int_t)s->seq, "icmp_type", s->icmp_type,
                         "icmp_code", s->icmp_code));
    }
    return v;
}

static void ports_from_json(struct rec *r, const char *text)
{
    json_t *v = json_loads(text ? text : "[]", 0, NULL);
    size_t i;
    json_t *e;
    r->n_ports = 0;
    json_array_foreach(v, i, e)
    {
        if (r->n_ports == DS_ALERT_TOP_PORTS)
            break;
        r->ports[r->n_ports++] = (struct ds_alert_port){
            .proto = (uint8_t)json_integer_value(json_object_get(e, "proto")),
            .port = (uint16_t)json_integer_value(json_object_get(e, "port")),
            .packets = (uint64_t)json_integer_value(json_object_get(e, "packets"))};
    }
    json_decref(v);
}

static void samples_from_json(struct rec *r, const char *text)
{
    json_t *v = json_loads(text ? text : "[]", 0, NULL);
    size_t i;
    json_t *e;
    r->n_samples = 0;
    json_array_foreach(v, i, e)
    {
        if (r->n_samples == DS_ALERT_SAMPLES)
            break;
        struct ds_alert_sample *s = &r->samples[r->n_samples++];
        memset(s, 0, sizeof *s);
        s->ts_ns = (uint64_t)json_integer_value(json_object_get(e, "ts"));
        ds_addr_parse(&s->src, json_string_value(json_object_get(e, "src")), NULL);
        ds_addr_parse(&s->dst, json_string_value(json_object_get(e, "dst")), NULL);
        s->proto = (uint8_t)json_integer_value(json_object_get(e, "proto"));
        s->ttl = (uint8_t)json_integer_value(json_object_get(e, "ttl"));
        s->tcp_flags = (uint8_t)json_integer_value(json_object_get(e, "flags"));
        s->sport = (uint16_t)json_integer_value(json_object_get(e, "sport"));
        s->dport = (uint16_t)json_integer_value(json_object_get(e, "dport"));
        s->win = (uint16_t)json_integer_value(json_object_get(e, "win"));
        s->ip_id = (uint16_t)json_integer_value(json_object_get(e, "ip_id"));
        s->seq = (uint32_t)json_integer_value(json_object_get(e, "seq"));
        s->icmp_type = (uint8_t)json_integer_value(json_object_get(e, "icmp_type"));
        s->icmp_code = (uint8_t)json_integer_value(json_object_get(e, "icmp_code"));
    }
    json_decref(v);
}

#define REC_COLS                                                                                   \
    "id, org, addr, kase, state, severity, first_ns, last_ns, packets, bytes, targets_bits,"       \
    " protos, classes, fps, scan_type, peak_ppm, ports, samples, notified_ns, notices, changed"

static struct rec *rec_from_row(struct ds_alerts *a, sqlite3_stmt *st)
{
    struct rec *r = add_rec(a);
    if (!r)
        return NULL;
    int c = 0;
    r->id = sqlite3_column_int64(st, c++);
    r->org_id = sqlite3_column_int64(st, c++);
    ds_addr_parse(&r->addr, (const char *)sqlite3_column_text(st, c++), NULL);
    r->kase = (enum ds_alert_case)sqlite3_column_int(st, c++);
    r->state = (enum ds_alert_state)sqlite3_column_int(st, c++);
    r->sev = (enum ds_severity)sqlite3_column_int(st, c++);
    r->first_ns = (uint64_t)sqlite3_column_int64(st, c++);
    r->last_ns = (uint64_t)sqlite3_column_int64(st, c++);
    r->packets = (uint64_t)sqlite3_column_int64(st, c++);
    r->bytes = (uint64_t)sqlite3_column_int64(st, c++);
    r->bits = (uint64_t)sqlite3_column_int64(st, c++);
    r->protos = (uint8_t)sqlite3_column_int(st, c++);
    r->classes = (uint32_t)sqlite3_column_int64(st, c++);
    r->fps = (uint32_t)sqlite3_column_int64(st, c++);
    const unsigned char *scan = sqlite3_column_text(st, c++);
    snprintf(r->scan, sizeof r->scan, "%s", scan ? (const char *)scan : "none");
    r->peak = (uint64_t)sqlite3_column_int64(st, c++);
    ports_from_json(r, (const char *)sqlite3_column_text(st, c++));
    samples_from_json(r, (const char *)sqlite3_column_text(st, c++));
    r->notified_ns = (uint64_t)sqlite3_column_int64(st, c++);
    r->notices = sqlite3_column_int64(st, c++);
    r->changed = sqlite3_column_int(st, c++);
    index_add(a, r);
    return r;
}

/* Loads the alerts that are not closed (the ones events and timers can touch), and the closed
 * ones whose closing no digest has told yet. */
/* Ingests that were replaced (their statistics deleted, their files about to be read again)
 * take their share out of the alerts too, so a re-read does not count packets twice. */
static int reconcile(struct ds_alerts *a)
{
    static const char sql[] =
        "UPDATE alert SET packets = max(0, alert.packets - c.p), bytes = max(0, alert.bytes - c.b)"
        " FROM (SELECT alert, sum(packets) AS p, sum(bytes) AS b FROM alert_contrib"
        "       WHERE ingest NOT IN (SELECT id FROM ingest) GROUP BY alert) AS c"
        " WHERE alert.id = c.alert;"
        "DELETE FROM alert_contrib WHERE ingest NOT IN (SELECT id FROM ingest);"
        "COMMIT;";
    int r; /* the write lock first (see tx_begin), waited for up to 5 minutes */
    for (int waits = 0;
         (r = sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) == SQLITE_BUSY &&
         waits < 300000 / BUSY_MS;
         waits++)
        ds_warn("alerts", "%s: the write lock is held by another connection; waiting on", a->path);
    if (r != SQLITE_OK)
        return fail(a, "taking replaced ingests out of the alerts");
    if (sqlite3_exec(a->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        int rc = fail(a, "taking replaced ingests out of the alerts");
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    int n = sqlite3_changes(a->db);
    if (n > 0)
        ds_info("alerts", "%d shares of replaced ingests taken out of the alerts", n);
    return 0;
}

static int load_open(struct ds_alerts *a)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT " REC_COLS " FROM alert WHERE (state <> 2 OR changed <> 0)"
                           " AND kase < 3", /* outbreak alerts: outbreak_alerts.c */
                           -1, &st, NULL) != SQLITE_OK)
        return fail(a, "loading alerts");
    while (sqlite3_step(st) == SQLITE_ROW)
        if (!rec_from_row(a, st)) {
            sqlite3_finalize(st);
            return -ENOMEM;
        }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(a->db,
                           "SELECT org, IFNULL(pending_since_ns, 0), IFNULL(last_sent_ns, 0),"
                           " seq FROM digest_state ORDER BY org",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(a, "loading digest timers");
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct orgd *n = realloc(a->orgs, (a->n_orgs + 1) * sizeof *n);
        if (!n)
            break;
        a->orgs = n;
        a->orgs[a->n_orgs++] = (struct orgd){.org_id = sqlite3_column_int64(st, 0),
                                             .pending_since = (uint64_t)sqlite3_column_int64(st, 1),
                                             .last_sent = (uint64_t)sqlite3_column_int64(st, 2),
                                             .seq = sqlite3_column_int64(st, 3)};
    }
    sqlite3_finalize(st);
    return 0;
}

/* A closed alert of this key, from the store, or NULL. */
static struct rec *load_closed(struct ds_alerts *a, int64_t org, const struct ds_addr *addr,
                               enum ds_alert_case c)
{
    char text[DS_ADDR_STRLEN];
    sqlite3_stmt *st = cached(
        a, ST_CLOSED, "SELECT " REC_COLS " FROM alert WHERE org = ? AND addr = ? AND kase = ?");
    if (!st) {
        fail(a, "loading an alert");
        return NULL;
    }
    sqlite3_bind_int64(st, 1, org);
    sqlite3_bind_text(st, 2, ds_addr_format(addr, text), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, (int)c);
    struct rec *r = sqlite3_step(st) == SQLITE_ROW ? rec_from_row(a, st) : NULL;
    sqlite3_reset(st); /* a cached read must not keep its snapshot */
    return r;
}

static uint32_t targets(uint64_t bits)
{
    int zeros = 64 - __builtin_popcountll(bits);
    if (zeros == 0)
        return (uint32_t)(64 * log(64.0)); /* saturated: at least this many */
    return (uint32_t)(-64.0 * log(zeros / 64.0) + 0.5);
}

static enum ds_severity severity(const struct rec *r)
{
    switch (r->kase) {
    case DS_CASE_INTERNAL:
        return r->fps & DS_FP_BIT(DS_FP_MIRAI) ? DS_SEV_CRITICAL : DS_SEV_HIGH;
    case DS_CASE_EXTERNAL:
        return (r->fps & DS_FP_BIT(DS_FP_MIRAI)) || strcmp(r->scan, "none") ? DS_SEV_HIGH
                                                                            : DS_SEV_MEDIUM;
    default:
        return r->peak >= 30 && r->packets >= 25 ? DS_SEV_HIGH : DS_SEV_MEDIUM;
    }
}

/* The DoS inference's attacks on the alert's address in its time span (the dos_attack rows
 * an ingest has committed): 0 when there are none, or the count with their peak and start. */
static int dos_attacks(struct ds_alerts *a, const struct rec *r, uint64_t *peak, uint64_t *start)
{
    char addr[DS_ADDR_STRLEN];
    ds_addr_format(&r->addr, addr);
    sqlite3_stmt *st =
        cached(a, ST_DOS,
               "SELECT count(*), max(peak_ppm), min(first_ns) FROM dos_attack"
               " WHERE victim = ?1 AND last_ns >= ?2 AND first_ns <= ?3 AND ingest IN"
               " (SELECT id FROM ingest WHERE status IN ('done', 'live', 'running',"
               " 'interrupted'))");
    if (!st)
        return 0;
    sqlite3_bind_text(st, 1, addr, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->first_ns);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)r->last_ns);
    int n = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int(st, 0);
        *peak = (uint64_t)sqlite3_column_int64(st, 1);
        *start = (uint64_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return n;
}

/* The alert as the formatters see it (strings point into org, r and out itself). */
static void to_alert(struct ds_alerts *a, const struct rec *r, const struct ds_org *org,
                     struct ds_alert *out)
{
    memset(out, 0, sizeof *out);
    out->templates = a->templates;
    out->id = r->id;
    out->org_id = r->org_id;
    out->org_name = org ? org->name : "unknown";
    out->lang = org ? org->lang : "en";
    out->address = r->addr;
    out->kase = r->kase;
    out->state = r->state;
    out->severity = r->sev;
    out->first_ns = r->first_ns;
    out->last_ns = r->last_ns;
    out->packets = r->packets;
    out->bytes = r->bytes;
    out->targets = targets(r->bits);
    out->protos = r->protos;
    out->classes = r->classes;
    out->fps = r->fps;
    out->scan_type = r->scan;
    memcpy(out->ports, r->ports, sizeof r->ports);
    out->n_ports = r->n_ports;
    memcpy(out->samples, r->samples, sizeof r->samples);
    out->n_samples = r->n_samples;
    out->family = NULL; /* filled by the correlation engine (a later issue) */
    if (r->kase == DS_CASE_BACKSCATTER) {
        uint64_t peak = 0, start = 0;
        int n = dos_attacks(a, r, &peak, &start);
        bool rs = r->packets >= 25 && r->last_ns - r->first_ns >= 60 * NS && r->peak >= 30;
        out->dos_peak_ppm = r->peak;
        if (n > 0) {
            char t[40];
            snprintf(out->dos_basis_buf, sizeof out->dos_basis_buf,
                     "rs-dos inference: %d attack%s on this address (first from %s, peak %" PRIu64
                     " packets per minute; darkscope report dos --victim %s)",
                     n, n == 1 ? "" : "s", ds_time_format_ns(start, t, sizeof t), peak,
                     ds_addr_format(&r->addr, (char[DS_ADDR_STRLEN]){0}));
            out->dos_basis = out->dos_basis_buf;
            if (peak > out->dos_peak_ppm)
                out->dos_peak_ppm = peak;
        } else {
            out->dos_basis = rs ? "backscatter count meeting RS-DoS thresholds (25 packets, 60 "
                                  "s, 30 per minute); no attack inferred yet (an attack is "
                                  "recorded when it ends)"
                                : "backscatter count below RS-DoS thresholds: no attack inferred";
        }
    }
}

static int write_rec(struct ds_alerts *a, struct rec *r, const struct ds_org *org)
{
    struct ds_alert al;
    to_alert(a, r, org, &al);
    char *json = NULL;
    size_t jl = 0;
    struct ds_err e = {0};
    if (ds_alert_json(&al, a->cfg.templates_dir, &json, &jl, &e) < 0) {
        ds_error("alerts", "formatting alert %" PRId64 ": %s", r->id, e.msg);
        json = strdup("{}");
    }
    json_t *pv = ports_json(r), *sv = samples_json(r);
    char *pj = json_dumps(pv, JSON_COMPACT);
    char *sj = json_dumps(sv, JSON_COMPACT);
    json_decref(pv);
    json_decref(sv);
    char text[DS_ADDR_STRLEN];
    int rc = 0;
    sqlite3_stmt *st = cached(a, ST_WRITE,
                              "UPDATE alert SET state = ?, severity = ?, first_ns = ?, last_ns = ?,"
                              " packets = ?, bytes = ?, targets_bits = ?, protos = ?, classes = ?,"
                              " fps = ?, scan_type = ?, peak_ppm = ?, ports = ?, samples = ?,"
                              " notified_ns = ?, notices = ?, changed = ?, json = ? WHERE id = ?");
    if (!st) {
        rc = fail(a, "writing an alert");
        goto out;
    }
    int c = 1;
    sqlite3_bind_int(st, c++, (int)r->state);
    sqlite3_bind_int(st, c++, (int)r->sev);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->first_ns);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->last_ns);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->packets);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->bytes);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->bits);
    sqlite3_bind_int(st, c++, r->protos);
    sqlite3_bind_int64(st, c++, r->classes);
    sqlite3_bind_int64(st, c++, r->fps);
    sqlite3_bind_text(st, c++, r->scan, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->peak);
    sqlite3_bind_text(st, c++, pj ? pj : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, c++, sj ? sj : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->notified_ns);
    sqlite3_bind_int64(st, c++, r->notices);
    sqlite3_bind_int(st, c++, r->changed);
    sqlite3_bind_text(st, c++, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, r->id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail(a, "writing an alert");
    sqlite3_reset(st);
    (void)text;
    int64_t ing = atomic_load(&a->ingest);
    if (rc == 0 && ing > 0 && (r->contrib_packets || r->contrib_bytes)) {
        if (!(st = cached(a, ST_CONTRIB,
                          "INSERT INTO alert_contrib(alert, ingest, packets, bytes)"
                          " VALUES(?, ?, ?, ?) ON CONFLICT(alert, ingest) DO UPDATE SET"
                          " packets = packets + excluded.packets,"
                          " bytes = bytes + excluded.bytes"))) {
            rc = fail(a, "recording an ingest's share of an alert");
            goto out;
        }
        sqlite3_bind_int64(st, 1, r->id);
        sqlite3_bind_int64(st, 2, ing);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)r->contrib_packets);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)r->contrib_bytes);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = fail(a, "recording an ingest's share of an alert");
        sqlite3_reset(st);
    }
    r->contrib_packets = r->contrib_bytes = 0;
out:
    free(pj);
    free(sj);
    free(json);
    r->dirty = false;
    return rc;
}

static struct rec *create_rec(struct ds_alerts *a, const struct ds_alert_event *ev)
{
    char text[DS_ADDR_STRLEN];
    sqlite3_stmt *st =
        cached(a, ST_CREATE,
               "INSERT INTO alert(org, addr, kase, state, severity, first_ns, last_ns,"
               " packets, bytes, targets_bits, protos, classes, fps, scan_type,"
               " peak_ppm, ports, samples, json) VALUES(?, ?, ?, 0, 0, ?, ?, 0, 0, 0,"
               " 0, 0, 0, 'none', 0, '[]', '[]', '{}')");
    if (!st) {
        fail(a, "creating an alert");
        return NULL;
    }
    sqlite3_bind_int64(st, 1, ev->org_id);
    sqlite3_bind_text(st, 2, ds_addr_format(&ev->addr, text), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, (int)ev->kase);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)ev->first_ns);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)ev->last_ns);
    int r = sqlite3_step(st);
    sqlite3_reset(st);
    if (r != SQLITE_DONE) {
        fail(a, "creating an alert");
        return NULL;
    }
    struct rec *x = add_rec(a);
    if (!x)
        return NULL;
    x->id = sqlite3_last_insert_rowid(a->db);
    x->org_id = ev->org_id;
    x->addr = ev->addr;
    x->kase = ev->kase;
    x->state = DS_ALERT_NEW;
    snprintf(x->scan, sizeof x->scan, "none");
    index_add(a, x);
    a->stats.alerts_created++;
    return x;
}

static void merge_event(struct rec *r, const struct ds_alert_event *ev)
{
    if (ev->packets) {
        if (!r->packets || ev->first_ns < r->first_ns)
            r->first_ns = ev->first_ns;
        if (ev->last_ns > r->last_ns)
            r->last_ns = ev->last_ns;
    }
    r->packets += ev->packets;
    r->bytes += ev->bytes;
    r->bits |= ev->targets_bits;
    r->protos |= ev->protos;
    r->classes |= ev->classes;
    r->fps |= ev->fps;
    if (ev->scan_type[0] && strcmp(ev->scan_type, "none"))
        snprintf(r->scan, sizeof r->scan, "%s", ev->scan_type);
    if (ev->peak_ppm > r->peak)
        r->peak = ev->peak_ppm;
    for (size_t i = 0; i < ev->n_ports; i++) {
        size_t k = 0;
        while (k < r->n_ports &&
               !(r->ports[k].port == ev->ports[i].port && r->ports[k].proto == ev->ports[i].proto))
            k++;
        if (k < r->n_ports) {
            r->ports[k].packets += ev->ports[i].packets;
        } else if (r->n_ports < DS_ALERT_TOP_PORTS) {
            r->ports[r->n_ports++] = ev->ports[i];
        } else { /* keep the busiest */
            size_t lo = 0;
            for (size_t j = 1; j < r->n_ports; j++)
                if (r->ports[j].packets < r->ports[lo].packets)
                    lo = j;
            if (ev->ports[i].packets > r->ports[lo].packets)
                r->ports[lo] = ev->ports[i];
        }
    }
    /* busiest first */
    for (size_t i = 1; i < r->n_ports; i++)
        for (size_t j = i; j > 0 && r->ports[j].packets > r->ports[j - 1].packets; j--) {
            struct ds_alert_port t = r->ports[j];
            r->ports[j] = r->ports[j - 1];
            r->ports[j - 1] = t;
        }
    for (size_t i = 0; i < ev->n_samples && r->n_samples < DS_ALERT_SAMPLES; i++)
        r->samples[r->n_samples++] = ev->samples[i];
    r->sev = severity(r);
}

/* ------------------------------------------------------------------ notifications -------- */

/* Queues one message to every contact of the organisation (in the open transaction). */
static int enqueue(struct ds_alerts *a, const struct ds_org *org, const char *message_id,
                   const char *subject, const char *text, const char *json, const char *attachment,
                   int sev)
{
    struct ds_err e = {0};
    int rows = ds_outbox_enqueue_st(a->db, &a->st[ST_ENQUEUE], org,
                                    &(struct ds_outbox_msg){.message_id = message_id,
                                                            .subject = subject,
                                                            .text = text,
                                                            .json = json,
                                                            .attachment = attachment,
                                                            .severity = sev},
                                    &e);
    if (rows < 0)
        return fail(a, "queueing a delivery");
    a->stats.outbox_rows += (uint64_t)rows;
    return 0;
}

/* The alert's own notification (new, or reopened outside the re-notify window). */
static int notify(struct ds_alerts *a, struct rec *r, const struct ds_org *org, uint64_t now)
{
    struct ds_alert al;
    to_alert(a, r, org, &al);
    char *json = NULL, *subject = NULL, *body = NULL;
    size_t jl;
    struct ds_err e = {0};
    int rc = 0;
    if (ds_alert_json(&al, a->cfg.templates_dir, &json, &jl, &e) < 0 ||
        ds_alert_text(&al, a->cfg.templates_dir, &subject, &body, &e) < 0) {
        ds_error("alerts", "formatting alert %" PRId64 ": %s", r->id, e.msg);
        rc = -EINVAL;
        goto out;
    }
    char mid[64], att[64];
    snprintf(mid, sizeof mid, "alert-%" PRId64 "-%" PRId64, r->id, r->notices + 1);
    snprintf(att, sizeof att, "alert-%" PRId64 ".json", r->id);
    if ((rc = enqueue(a, org, mid, subject, body, json, att, (int)r->sev)) == 0) {
        r->notices++;
        r->notified_ns = now;
        r->changed = false;
        r->dirty = true;
        a->stats.notices++;
    }
out:
    free(json);
    free(subject);
    free(body);
    return rc;
}

/* The organisation's digest timers (a binary search; a new one is inserted in order). */
static struct orgd *orgd_of(struct ds_alerts *a, int64_t org)
{
    size_t lo = 0, hi = a->n_orgs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->orgs[mid].org_id < org)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < a->n_orgs && a->orgs[lo].org_id == org)
        return &a->orgs[lo];
    struct orgd *n = realloc(a->orgs, (a->n_orgs + 1) * sizeof *n);
    if (!n)
        return NULL;
    a->orgs = n;
    memmove(&n[lo + 1], &n[lo], (a->n_orgs - lo) * sizeof *n);
    n[lo] = (struct orgd){.org_id = org};
    a->n_orgs++;
    return &n[lo];
}

/* One digest of the organisation's records g[0..m) (policy's group of it). */
static int digest(struct ds_alerts *a, const struct ds_org *org, struct orgd *od,
                  const struct org_rec *g, size_t m, bool repeat, uint64_t now)
{
    const struct ds_alert **v = calloc(m ? m : 1, sizeof *v);
    struct ds_alert *al = calloc(m ? m : 1, sizeof *al);
    struct rec **rs = calloc(m ? m : 1, sizeof *rs);
    size_t n = 0;
    int rc = 0;
    char *json = NULL, *subject = NULL, *body = NULL;
    if (!v || !al || !rs) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < m; i++) {
        struct rec *r = g[i].r;
        if (repeat ? r->state == DS_ALERT_CLOSED && !r->changed : !r->changed)
            continue;
        to_alert(a, r, org, &al[n]);
        v[n] = &al[n];
        rs[n++] = r;
    }
    if (!n)
        goto out;
    char did[64], att[80];
    snprintf(did, sizeof did, "digest-%" PRId64 "-%" PRId64, org->id, od->seq + 1);
    snprintf(att, sizeof att, "%s.json", did);
    size_t jl;
    struct ds_err e = {0};
    if (ds_digest_json(v, n, org->name, did, a->cfg.templates_dir, &json, &jl, &e) < 0 ||
        ds_digest_text(v, n, org->name, org->lang, &subject, &body, &e) < 0) {
        ds_error("alerts", "formatting a digest for '%s': %s", org->name, e.msg);
        rc = -EINVAL;
        goto out;
    }
    int sev = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)v[i]->severity > sev)
            sev = (int)v[i]->severity;
    if ((rc = enqueue(a, org, did, subject, body, json, att, sev)) < 0)
        goto out;
    od->seq++;
    od->last_sent = now;
    od->pending_since = 0;
    a->stats.digests++;
    for (size_t i = 0; i < n; i++) {
        rs[i]->changed = false;
        rs[i]->dirty = true;
    }
out:
    free(json);
    free(subject);
    free(body);
    free(v);
    free(al);
    free(rs);
    return rc;
}

static int save_orgd(struct ds_alerts *a, const struct orgd *od)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(a->db, "INSERT OR REPLACE INTO digest_state VALUES(?, ?, ?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        return fail(a, "saving digest timers");
    sqlite3_bind_int64(st, 1, od->org_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)od->pending_since);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)od->last_sent);
    sqlite3_bind_int64(st, 4, od->seq);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : fail(a, "saving digest timers");
}

/* ------------------------------------------------------------------ the engine ----------- */

static int apply(struct ds_alerts *a, const struct ds_registry *reg,
                 const struct ds_alert_event *ev, uint64_t now)
{
    const struct ds_org *org = ds_registry_find(reg, ev->org_id);
    if (!org)
        return 0; /* removed meanwhile */
    struct rec *r = find_rec(a, ev->org_id, &ev->addr, ev->kase);
    if (!r)
        r = load_closed(a, ev->org_id, &ev->addr, ev->kase);
    if (!r) {
        if (!(r = create_rec(a, ev)))
            return -EIO;
        merge_event(r, ev);
        r->contrib_packets += ev->packets;
        r->contrib_bytes += ev->bytes;
        r->dirty = true;
        return notify(a, r, org, now);
    }
    merge_event(r, ev);
    r->contrib_packets += ev->packets;
    r->contrib_bytes += ev->bytes;
    r->dirty = true;
    uint64_t renotify = org->renotify_s ? (uint64_t)org->renotify_s * NS : a->cfg.renotify_ns;
    switch (r->state) {
    case DS_ALERT_CLOSED:
        r->state = DS_ALERT_REOPENED;
        if (!r->notified_ns || now >= r->notified_ns + renotify)
            return notify(a, r, org, now);
        r->changed = true; /* inside the re-notify window: the next digest tells */
        break;
    case DS_ALERT_NEW:
    case DS_ALERT_REOPENED:
        r->state = DS_ALERT_CONTINUING;
        r->changed = true;
        break;
    default:
        r->changed = true;
        break;
    }
    return 0;
}

static int cmp_org_rec(const void *x, const void *y)
{
    const struct org_rec *a = x, *b = y;
    if (a->org_id != b->org_id)
        return a->org_id < b->org_id ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static bool tx_due(const struct ds_alerts *a);
static int tx_split(struct ds_alerts *a, const struct ds_registry *reg);

/* Timers: quiet alerts close, digests go out. flush: every pending digest now. The records are
 * grouped by organisation (one sort), so an organisation costs what its own records cost and
 * one without records nothing; organisations go in id order, as the registry lists them. A
 * long pass (thousands of digests at the end of a replay) commits between organisations. */
static int policy(struct ds_alerts *a, const struct ds_registry *reg, uint64_t now, bool flush)
{
    int rc = 0;
    for (size_t i = 0; i < a->n_recs; i++) {
        struct rec *r = a->recs[i];
        if (r->state != DS_ALERT_CLOSED && now >= r->last_ns + a->cfg.close_after_ns) {
            r->state = DS_ALERT_CLOSED;
            r->changed = true;
            r->dirty = true;
        }
    }
    if (!reg || !reg->n_orgs || !a->n_recs)
        return 0;
    size_t n = a->n_recs; /* policy adds no records and frees none */
    if (a->cap_grp < n) {
        struct org_rec *g = realloc(a->grp, n * sizeof *g);
        if (!g)
            return -ENOMEM;
        a->grp = g;
        a->cap_grp = n;
    }
    struct org_rec *grp = a->grp;
    for (size_t i = 0; i < n; i++)
        grp[i] = (struct org_rec){.org_id = a->recs[i]->org_id, .pos = i, .r = a->recs[i]};
    qsort(grp, n, sizeof *grp, cmp_org_rec);
    for (size_t i = 0, j; i < n && rc == 0; i = j) {
        for (j = i; j < n && grp[j].org_id == grp[i].org_id; j++)
            ;
        const struct ds_org *org = ds_registry_find(reg, grp[i].org_id);
        if (!org)
            continue; /* removed meanwhile: no digests */
        bool changes = false, open = false;
        uint64_t first_notice = 0; /* of the open alerts: repeats start from it until a digest */
        for (size_t k = i; k < j; k++) {
            const struct rec *r = grp[k].r;
            changes = changes || r->changed;
            if (r->state != DS_ALERT_CLOSED) {
                open = true;
                if (r->notified_ns && (!first_notice || r->notified_ns < first_notice))
                    first_notice = r->notified_ns;
            }
        }
        if (!changes && !open)
            continue;
        struct orgd *od = orgd_of(a, org->id);
        if (!od)
            return -ENOMEM;
        uint64_t gw = org->group_wait_s ? (uint64_t)org->group_wait_s * NS : a->cfg.group_wait_ns;
        uint64_t gi =
            org->group_interval_s ? (uint64_t)org->group_interval_s * NS : a->cfg.group_interval_ns;
        uint64_t ri = org->repeat_interval_s ? (uint64_t)org->repeat_interval_s * NS
                                             : a->cfg.repeat_interval_ns;
        bool before = od->pending_since != 0;
        if (changes && !od->pending_since)
            od->pending_since = now ? now : 1;
        bool send = false, repeat = false;
        if (changes) { /* group_wait after the first change, group_interval since the last */
            send = flush ||
                   (now >= od->pending_since + gw && (!od->last_sent || now >= od->last_sent + gi));
        } else if (open && (od->last_sent || first_notice) &&
                   now >= (od->last_sent ? od->last_sent : first_notice) + ri) {
            send = repeat = true;
        }
        if (send)
            rc = digest(a, org, od, grp + i, j - i, repeat, now);
        if (rc == 0 && (send || before != (od->pending_since != 0)))
            rc = save_orgd(a, od);
        /* a failed split has rolled back and reloaded: grp is stale, and rc ends the loop */
        if (rc == 0 && send && j < n && tx_due(a))
            rc = tx_split(a, reg);
    }
    return rc;
}

/* Drops closed, written records from memory (they are in the store). */
static void forget_closed(struct ds_alerts *a)
{
    size_t k = 0;
    for (size_t i = 0; i < a->n_recs; i++) {
        struct rec *r = a->recs[i];
        if (r->state == DS_ALERT_CLOSED && !r->changed && !r->dirty)
            free(r);
        else
            a->recs[k++] = r;
    }
    bool freed = k < a->n_recs;
    a->n_recs = k;
    if (freed)
        index_rebuild(a); /* without memory for it, hb is NULL: lookups scan */
}

/*
 * After a rolled-back pass the records in memory are ahead of the store (alerts created in the
 * pass are gone from it, and their ids will be handed out again), so memory is reloaded from
 * the store and the pass's counters are taken back. The pass's events are lost (logged).
 */
static void reload(struct ds_alerts *a, const uint64_t before[4], size_t events)
{
    for (size_t i = 0; i < a->n_recs; i++)
        free(a->recs[i]);
    a->n_recs = 0;
    free(a->hb); /* rebuilt by the first record loaded */
    a->hb = NULL;
    free(a->orgs);
    a->orgs = NULL;
    a->n_orgs = 0;
    a->stats.alerts_created = before[0];
    a->stats.notices = before[1];
    a->stats.digests = before[2];
    a->stats.outbox_rows = before[3];
    ds_error("alerts", "%s: a pass was rolled back, %zu alert events in it are lost", a->path,
             events);
    if (load_open(a) < 0)
        ds_error("alerts", "%s: reloading the alerts after a rollback failed", a->path);
}

static void count_states(struct ds_alerts *a)
{
    uint64_t n[4] = {0};
    for (size_t i = 0; i < a->n_recs; i++)
        n[a->recs[i]->state]++;
    for (int i = 0; i < 4; i++)
        atomic_store(&a->stats.by_state[i], n[i]);
}

static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * NS + (uint64_t)t.tv_nsec;
}

/*
 * Write transactions of a pass. Each begins with BEGIN IMMEDIATE: the write lock is taken
 * first, where the busy handler waits for it, so no statement inside can meet SQLITE_BUSY
 * (a read would otherwise pin a snapshot that the later write cannot upgrade). While another
 * connection holds the lock past the busy timeout the begin is tried again (logged, counted):
 * the batch waits in memory and no event is lost. A transaction lasts at most about
 * TX_BUDGET_NS of work (tx_split commits and begins anew between events or digests), so the
 * ingest, the outbox and the API never wait long for the engine.
 */
static int tx_begin(struct ds_alerts *a)
{
    for (unsigned waits = 1;; waits++) {
        int r = sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (r == SQLITE_OK)
            break;
        if (r != SQLITE_BUSY)
            return fail(a, "beginning a transaction");
        a->stats.lock_waits++;
        ds_warn("alerts",
                "%s: the write lock is held by another connection (waited %u s); waiting on",
                a->path, waits * BUSY_MS / 1000);
    }
    a->in_tx = true;
    a->tx_t0 = mono_ns();
    a->tx_before[0] = a->stats.alerts_created;
    a->tx_before[1] = a->stats.notices;
    a->tx_before[2] = a->stats.digests;
    a->tx_before[3] = a->stats.outbox_rows;
    a->tx_events = 0;
    return 0;
}

/* Ends the open transaction. rc 0: the dirty records are written and it commits (the delivery
 * workers are rung); otherwise, or when that fails, it rolls back and memory is reloaded from
 * the store (the transaction's events are lost, logged). Returns the first error. */
static int tx_end(struct ds_alerts *a, const struct ds_registry *reg, int rc)
{
    a->in_tx = false;
    for (size_t i = 0; i < a->n_recs && rc == 0; i++)
        if (a->recs[i]->dirty)
            rc = write_rec(a, a->recs[i], ds_registry_find(reg, a->recs[i]->org_id));
    if (rc == 0 && (rc = exec(a, "COMMIT")) == 0) {
        if (a->wake)
            a->wake(a->wake_ctx); /* the rows are durable: deliver */
        return 0;
    }
    sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
    ds_obalerts_reset(a->ob);
    reload(a, a->tx_before, a->tx_events);
    return rc;
}

static bool tx_due(const struct ds_alerts *a)
{
    return mono_ns() - a->tx_t0 >= TX_BUDGET_NS;
}

/* Commits what the pass did so far and goes on in a new transaction, after a pause in which
 * a connection waiting for the lock (ds_db_busy_wait) takes it. */
static int tx_split(struct ds_alerts *a, const struct ds_registry *reg)
{
    int rc = tx_end(a, reg, 0);
    if (rc)
        return rc;
    ds_db_yield();
    return tx_begin(a);
}

static void *engine_main(void *arg)
{
    struct ds_alerts *a = arg;
    pthread_setname_np(pthread_self(), "ds-alerts"); /* for top -H, perf, gdb */
    struct ds_alert_event *batch = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (!a->nq && !a->stop && !a->drain_req &&
               atomic_load(&a->clock) < a->seen_clock + TICK_NS) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
        bool stop = a->stop && !a->nq && !a->drain_req;
        bool flush = a->flush_req;
        uint64_t seq = a->drain_seq;
        bool draining = a->drain_req;
        if (a->cfg_req) {
            const char *dir = a->cfg.templates_dir; /* fixed for the engine's life */
            a->cfg = a->new_cfg;
            a->cfg.templates_dir = dir;
            a->cfg_req = false;
        }
        size_t n = a->nq;
        if (n > cap) {
            struct ds_alert_event *nb = realloc(batch, n * sizeof *nb);
            if (nb) {
                batch = nb;
                cap = n;
            } else {
                n = cap;
            }
        }
        if (n) { /* batch and q are NULL until the first event: no memcpy(NULL, ..., 0) */
            memcpy(batch, a->q, n * sizeof *batch);
            memmove(a->q, a->q + n, (a->nq - n) * sizeof *a->q);
            a->nq -= n;
        }
        pthread_mutex_unlock(&a->mu);
        if (stop)
            break;
        const struct ds_registry *reg = atomic_load_explicit(a->reg, memory_order_acquire);
        uint64_t now = atomic_load(&a->clock);
        for (size_t i = 0; i < n; i++)
            if (batch[i].last_ns > now)
                now = batch[i].last_ns;
        atomic_store(&a->seen_clock, now);
        int rc = tx_begin(a);
        size_t i = 0;
        for (; i < n && rc == 0; i++) {
            a->stats.events++;
            a->tx_events++;
            rc = apply(a, reg, &batch[i], now);
            if (rc == 0 && i + 1 < n && tx_due(a))
                rc = tx_split(a, reg);
        }
        if (rc == 0)
            rc = policy(a, reg, now, flush && draining);
        uint64_t ob_rows = 0;
        if (rc == 0 && a->in_tx)
            rc = ds_obalerts_pass(a->ob, reg, &a->cfg, now, flush && draining, &ob_rows);
        a->stats.outbox_rows += ob_rows;
        if (a->in_tx) {
            a->tx_events += n - i; /* after a failure the rest of the batch goes too */
            rc = tx_end(a, reg, rc);
        } else if (rc != 0 && i < n) {
            ds_error("alerts", "%s: %zu alert events after a failed transaction are lost", a->path,
                     n - i);
        }
        if (rc == 0)
            forget_closed(a);
        count_states(a);
        if (draining) {
            pthread_mutex_lock(&a->mu);
            if (!a->nq) { /* everything posted before the drain request is applied */
                a->drained_seq = seq;
                a->drain_req = false;
                a->flush_req = false;
                pthread_cond_broadcast(&a->done_cv);
            }
            pthread_mutex_unlock(&a->mu);
        }
    }
    free(batch);
    return NULL;
}

static void post(void *ctx, const struct ds_alert_event *ev)
{
    struct ds_alerts *a = ctx;
    pthread_mutex_lock(&a->mu);
    if (a->nq == a->capq) {
        size_t ncap = a->capq ? a->capq * 2 : 256;
        struct ds_alert_event *n = realloc(a->q, ncap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&a->mu);
            ds_error("alerts", "out of memory queueing an alert event");
            return;
        }
        a->q = n;
        a->capq = ncap;
    }
    a->q[a->nq++] = *ev;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

int ds_alerts_open(struct ds_alerts **out, const char *db_path,
                   _Atomic(const struct ds_registry *) *reg, const struct ds_alerts_config *cfg,
                   void (*wake)(void *ctx), void *wake_ctx, struct ds_err *err)
{
    *out = NULL;
    struct ds_alerts *a = calloc(1, sizeof *a);
    if (!a || !(a->path = strdup(db_path))) {
        free(a);
        return ds_err_set(err, -ENOMEM, "out of memory");
    }
    a->cfg = *cfg;
    a->reg = reg;
    a->wake = wake;
    a->wake_ctx = wake_ctx;
    a->sink = (struct ds_alert_sink){.ctx = a, .post = post};
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    pthread_cond_init(&a->done_cv, NULL);
    int rc = ds_template_cache_new(&a->templates, err);
    if (rc < 0)
        goto out;
    if (sqlite3_open_v2(db_path, &a->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        rc = ds_err_set(err, -EIO, "%s: cannot open for alerts: %s", db_path,
                        a->db ? sqlite3_errmsg(a->db) : "out of memory");
        goto out;
    }
    ds_db_busy_wait(a->db, BUSY_MS);
    /* 32 MiB of page cache: a transaction of thousands of alert rows spilled the default 2 MiB */
    sqlite3_exec(a->db,
                 "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-32768;",
                 NULL, NULL, NULL);
    if ((rc = reconcile(a)) < 0 || (rc = load_open(a)) < 0) {
        ds_err_set(err, rc, "%s", a->err_msg[0] ? a->err_msg : "out of memory loading alerts");
        goto out;
    }
    if ((rc = ds_obalerts_open(&a->ob, a->db, err)) < 0)
        goto out;
    count_states(a);
    if (pthread_create(&a->thread, NULL, engine_main, a) != 0) {
        rc = ds_err_set(err, -EAGAIN, "cannot start the alert engine thread");
        goto out;
    }
    a->started = true;
    *out = a;
    return 0;
out:
    ds_alerts_close(a);
    return rc;
}

const struct ds_alert_sink *ds_alerts_sink(struct ds_alerts *a)
{
    return &a->sink;
}

const struct ds_alerts_stats *ds_alerts_stats(const struct ds_alerts *a)
{
    return &a->stats;
}

void ds_alerts_tick(struct ds_alerts *a, uint64_t now_ns)
{
    uint64_t cur = atomic_load_explicit(&a->clock, memory_order_relaxed);
    while (now_ns > cur && !atomic_compare_exchange_weak_explicit(
                               &a->clock, &cur, now_ns, memory_order_relaxed, memory_order_relaxed))
        ;
    if (now_ns >= atomic_load_explicit(&a->seen_clock, memory_order_relaxed) + TICK_NS) {
        pthread_mutex_lock(&a->mu);
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
    }
}

void ds_alerts_set_ingest(struct ds_alerts *a, int64_t ingest)
{
    atomic_store(&a->ingest, ingest);
}

void ds_alerts_reconfigure(struct ds_alerts *a, const struct ds_alerts_config *cfg)
{
    pthread_mutex_lock(&a->mu);
    a->new_cfg = *cfg;
    a->cfg_req = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

int ds_alerts_drain(struct ds_alerts *a, bool flush_digests, struct ds_err *err)
{
    pthread_mutex_lock(&a->mu);
    uint64_t seq = ++a->drain_seq;
    a->drain_req = true;
    a->flush_req = flush_digests;
    pthread_cond_signal(&a->cv);
    while (a->drained_seq < seq && a->started)
        pthread_cond_wait(&a->done_cv, &a->mu);
    int rc = a->err_code;
    if (rc)
        ds_err_set(err, rc, "%s", a->err_msg);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void ds_alerts_close(struct ds_alerts *a)
{
    if (!a)
        return;
    if (a->started) {
        pthread_mutex_lock(&a->mu);
        a->stop = true;
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL);
    }
    for (size_t i = 0; i < a->n_recs; i++)
        free(a->recs[i]);
    free(a->recs);
    free(a->hb);
    free(a->grp);
    free(a->orgs);
    free(a->q);
    ds_obalerts_close(a->ob);
    for (int k = 0; k < ST_COUNT; k++)
        sqlite3_finalize(a->st[k]);
    ds_template_cache_free(a->templates);
    sqlite3_close(a->db);
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    pthread_cond_destroy(&a->done_cv);
    free(a->path);
    free(a);
}
