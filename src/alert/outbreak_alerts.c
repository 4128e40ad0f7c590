/* outbreak_alerts.c - outbreak candidates as alerts of the analysts' organisation (case
 * "outbreak", one per series such as "tcp/2323" or "fingerprint/mirai"), with the alert
 * engine's lifecycle, notices, Alertmanager-style digests and re-notify window.
 *
 * Threads: everything runs in the alert engine's thread on its connection, inside its open
 * transaction. The state lives in the store (alert, alert_outbreak, outbreak_digest_state and
 * the meta key below); memory holds only the prepared statements and two hints. */
#include "alert/outbreak_alerts.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/format_outbreak.h"
#include "alert/outbox_queue.h"
#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "core/log.h"
#include "store/query.h"

#define NS 1000000000ull
#define CURSOR_KEY "outbreak_alert_cursor" /* meta: the last outbreak row read */
#define MAX_ANALYSTS 16

struct ds_obalerts {
    sqlite3 *db;
    int64_t cursor; /* outbreak rows up to this id are read (0: load from meta) */
    bool loaded;
    bool active; /* some outbreak alert is open or has a change not told yet */
    int64_t day; /* the UTC day of packet time at the last host refresh */
};

/* One outbreak alert as a pass holds it. */
struct obrec {
    int64_t id, org;
    char key[48], dim[16], name[32];
    int64_t dim_key;
    enum ds_alert_state state;
    enum ds_severity sev;
    uint64_t first_ns, last_ns, packets, notified_ns;
    int64_t notices;
    bool changed;
    int64_t start_s;
    uint64_t value, peak;
    double baseline, score;
    int64_t candidates;
    json_t *hosts; /* owned */
};

static int fail(struct ds_obalerts *o, const char *what)
{
    ds_error("alerts", "outbreak alerts: %s: %s", what, sqlite3_errmsg(o->db));
    return sqlite3_errcode(o->db) == SQLITE_FULL ? -ENOSPC : -EIO;
}

int ds_obalerts_open(struct ds_obalerts **out, sqlite3 *db, struct ds_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return ds_err_set(err, -ENOMEM, "out of memory");
    (*out)->db = db;
    (*out)->active = true; /* until the first pass has looked */
    return 0;
}

void ds_obalerts_reset(struct ds_obalerts *o)
{
    if (o) {
        o->loaded = false;
        o->active = true;
    }
}

void ds_obalerts_close(struct ds_obalerts *o)
{
    free(o);
}

static int64_t scalar(struct ds_obalerts *o, const char *sql, int64_t def)
{
    sqlite3_stmt *st;
    int64_t v = def;
    if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) != SQLITE_OK)
        return def;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* ------------------------------------------------------------------ records ------------- */

#define OB_COLS                                                                                    \
    "a.id, a.org, a.addr, a.state, a.severity, a.first_ns, a.last_ns, a.packets, a.notified_ns,"   \
    " a.notices, a.changed, o.dim, o.key, o.name, o.start, o.value, o.baseline, o.score, o.peak,"  \
    " o.candidates, o.hosts"

static void rec_from_row(sqlite3_stmt *st, struct obrec *r)
{
    memset(r, 0, sizeof *r);
    int c = 0;
    r->id = sqlite3_column_int64(st, c++);
    r->org = sqlite3_column_int64(st, c++);
    snprintf(r->key, sizeof r->key, "%s", (const char *)sqlite3_column_text(st, c++));
    r->state = (enum ds_alert_state)sqlite3_column_int(st, c++);
    r->sev = (enum ds_severity)sqlite3_column_int(st, c++);
    r->first_ns = (uint64_t)sqlite3_column_int64(st, c++);
    r->last_ns = (uint64_t)sqlite3_column_int64(st, c++);
    r->packets = (uint64_t)sqlite3_column_int64(st, c++);
    r->notified_ns = (uint64_t)sqlite3_column_int64(st, c++);
    r->notices = sqlite3_column_int64(st, c++);
    r->changed = sqlite3_column_int(st, c++) != 0;
    snprintf(r->dim, sizeof r->dim, "%s", (const char *)sqlite3_column_text(st, c++));
    r->dim_key = sqlite3_column_int64(st, c++);
    snprintf(r->name, sizeof r->name, "%s", (const char *)sqlite3_column_text(st, c++));
    r->start_s = sqlite3_column_int64(st, c++);
    r->value = (uint64_t)sqlite3_column_int64(st, c++);
    r->baseline = sqlite3_column_double(st, c++);
    r->score = sqlite3_column_double(st, c++);
    r->peak = (uint64_t)sqlite3_column_int64(st, c++);
    r->candidates = sqlite3_column_int64(st, c++);
    r->hosts = json_loads((const char *)sqlite3_column_text(st, c++), 0, NULL);
    if (!json_is_array(r->hosts)) {
        json_decref(r->hosts);
        r->hosts = json_array();
    }
}

static void view(const struct obrec *r, const struct ds_org *org, struct ds_ob_alert *v)
{
    *v = (struct ds_ob_alert){.id = r->id,
                              .org_id = r->org,
                              .org_name = org ? org->name : "unknown",
                              .lang = org ? org->lang : "en",
                              .key = r->key,
                              .dim = r->dim,
                              .dim_key = r->dim_key,
                              .name = r->name,
                              .state = r->state,
                              .severity = r->sev,
                              .first_ns = r->first_ns,
                              .last_ns = r->last_ns,
                              .start_s = r->start_s,
                              .value = r->value,
                              .packets = r->packets,
                              .baseline = r->baseline,
                              .score = r->score,
                              .peak = r->peak,
                              .candidates = r->candidates,
                              .hosts = r->hosts};
}

static int write_rec(struct ds_obalerts *o, const struct obrec *r, const struct ds_org *org,
                     const char *templates_dir)
{
    struct ds_ob_alert v;
    view(r, org, &v);
    char *json = NULL, *hosts = json_dumps(r->hosts, JSON_COMPACT);
    struct ds_err e = {0};
    if (ds_ob_alert_json(&v, templates_dir, &json, NULL, &e) < 0) {
        ds_error("alerts", "formatting outbreak alert %" PRId64 ": %s", r->id, e.msg);
        json = strdup("{}");
    }
    int rc = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db,
                           "UPDATE alert SET state = ?, severity = ?, first_ns = ?, last_ns = ?,"
                           " packets = ?, notified_ns = ?, notices = ?, changed = ?, json = ?"
                           " WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = fail(o, "writing an outbreak alert");
        goto out;
    }
    int c = 1;
    sqlite3_bind_int(st, c++, (int)r->state);
    sqlite3_bind_int(st, c++, (int)r->sev);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->first_ns);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->last_ns);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->packets);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->notified_ns);
    sqlite3_bind_int64(st, c++, r->notices);
    sqlite3_bind_int(st, c++, r->changed);
    sqlite3_bind_text(st, c++, json ? json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, r->id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail(o, "writing an outbreak alert");
    sqlite3_finalize(st);
    if (rc < 0)
        goto out;
    if (sqlite3_prepare_v2(o->db,
                           "INSERT OR REPLACE INTO alert_outbreak(alert, dim, key, name, start,"
                           " value, baseline, score, peak, candidates, hosts)"
                           " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = fail(o, "writing an outbreak alert");
        goto out;
    }
    c = 1;
    sqlite3_bind_int64(st, c++, r->id);
    sqlite3_bind_text(st, c++, r->dim, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, r->dim_key);
    sqlite3_bind_text(st, c++, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, c++, r->start_s);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->value);
    sqlite3_bind_double(st, c++, r->baseline);
    sqlite3_bind_double(st, c++, r->score);
    sqlite3_bind_int64(st, c++, (sqlite3_int64)r->peak);
    sqlite3_bind_int64(st, c++, r->candidates);
    sqlite3_bind_text(st, c++, hosts ? hosts : "[]", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = fail(o, "writing an outbreak alert");
    sqlite3_finalize(st);
out:
    free(json);
    free(hosts);
    return rc;
}

/* ------------------------------------------------------------------ notifications -------- */

/* One message to every contact of the organisation (the outbox's idempotency key is the
 * message id and the contact), in the open transaction. */
static int enqueue(struct ds_obalerts *o, const struct ds_org *org, const char *message_id,
                   const char *subject, const char *text, const char *json, const char *attachment,
                   int sev, uint64_t *rows)
{
    struct ds_err e = {0};
    int n = ds_outbox_enqueue(o->db, org,
                              &(struct ds_outbox_msg){.message_id = message_id,
                                                      .subject = subject,
                                                      .text = text,
                                                      .json = json,
                                                      .attachment = attachment,
                                                      .severity = sev},
                              &e);
    if (n < 0)
        return fail(o, "queueing a delivery");
    *rows += (uint64_t)n;
    return 0;
}

/* The alert's own notice (new, or reopened outside the re-notify window). */
static int notify(struct ds_obalerts *o, struct obrec *r, const struct ds_org *org,
                  const struct ds_alerts_config *cfg, uint64_t now, uint64_t *rows)
{
    struct ds_ob_alert v;
    view(r, org, &v);
    char *json = NULL, *subject = NULL, *body = NULL;
    struct ds_err e = {0};
    int rc = 0;
    if (ds_ob_alert_json(&v, cfg->templates_dir, &json, NULL, &e) < 0 ||
        ds_ob_alert_text(&v, cfg->templates_dir, &subject, &body, &e) < 0) {
        ds_error("alerts", "formatting outbreak alert %" PRId64 ": %s", r->id, e.msg);
        rc = -EINVAL;
        goto out;
    }
    char mid[64], att[64];
    snprintf(mid, sizeof mid, "alert-%" PRId64 "-%" PRId64, r->id, r->notices + 1);
    snprintf(att, sizeof att, "alert-%" PRId64 ".json", r->id);
    if ((rc = enqueue(o, org, mid, subject, body, json, att, (int)r->sev, rows)) == 0) {
        r->notices++;
        r->notified_ns = now;
        r->changed = false;
    }
out:
    free(json);
    free(subject);
    free(body);
    return rc;
}

static enum ds_severity severity(const struct obrec *r)
{
    double ratio = (double)r->value / (r->baseline > 0.01 ? r->baseline : 0.01);
    if (!strcmp(r->dim, "fingerprint") && !strcmp(r->name, "mirai"))
        return DS_SEV_HIGH;
    return ratio >= 10 || r->score >= 12 ? DS_SEV_HIGH : DS_SEV_MEDIUM;
}

/* The series key of a candidate: "tcp/2323", "fingerprint/mirai", "class/backscatter". */
static void series_key(const char *dim, int64_t key, const char *name, char *buf, size_t cap)
{
    if (!strcmp(dim, "tcp") || !strcmp(dim, "udp"))
        snprintf(buf, cap, "%s/%" PRId64, dim, key);
    else
        snprintf(buf, cap, "%s/%s", dim, name);
}

static int load_one(struct ds_obalerts *o, int64_t org, const char *key, struct obrec *r)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT " OB_COLS " FROM alert a JOIN alert_outbreak o ON o.alert = a.id"
                           " WHERE a.org = ? AND a.addr = ? AND a.kase = 3",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(o, "loading an outbreak alert");
    sqlite3_bind_int64(st, 1, org);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        rec_from_row(st, r);
        found = 1;
    }
    sqlite3_finalize(st);
    return found;
}

/* One candidate for one analysts' organisation. */
static int candidate(struct ds_obalerts *o, const struct ds_org *org, sqlite3_stmt *c,
                     const struct ds_alerts_config *cfg, uint64_t now, uint64_t *rows)
{
    const char *dim = (const char *)sqlite3_column_text(c, 1);
    int64_t key = sqlite3_column_int64(c, 2);
    const char *name = (const char *)sqlite3_column_text(c, 3);
    int64_t start = sqlite3_column_int64(c, 4);
    uint64_t value = (uint64_t)sqlite3_column_int64(c, 5);
    uint64_t packets = (uint64_t)sqlite3_column_int64(c, 6);
    char skey[48];
    series_key(dim, key, name, skey, sizeof skey);
    struct obrec r;
    int found = load_one(o, org->id, skey, &r);
    if (found < 0)
        return found;
    uint64_t s_ns = (uint64_t)start * NS, e_ns = (uint64_t)(start + 300) * NS;
    bool fresh = !found;
    if (fresh) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(o->db,
                               "INSERT INTO alert(org, addr, kase, state, severity, first_ns,"
                               " last_ns, packets, bytes, targets_bits, protos, classes, fps,"
                               " scan_type, peak_ppm, ports, samples, json) VALUES(?, ?, 3, 0,"
                               " 0, ?, ?, 0, 0, 0, 0, 0, 0, 'none', 0, '[]', '[]', '{}')",
                               -1, &st, NULL) != SQLITE_OK)
            return fail(o, "creating an outbreak alert");
        sqlite3_bind_int64(st, 1, org->id);
        sqlite3_bind_text(st, 2, skey, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)s_ns);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)e_ns);
        int x = sqlite3_step(st);
        sqlite3_finalize(st);
        if (x != SQLITE_DONE)
            return fail(o, "creating an outbreak alert");
        memset(&r, 0, sizeof r);
        r.id = sqlite3_last_insert_rowid(o->db);
        r.org = org->id;
        snprintf(r.key, sizeof r.key, "%s", skey);
        snprintf(r.dim, sizeof r.dim, "%s", dim);
        snprintf(r.name, sizeof r.name, "%s", name);
        r.dim_key = key;
        r.state = DS_ALERT_NEW;
        r.first_ns = s_ns;
        r.hosts = NULL;
    } else if (s_ns < r.last_ns) {
        json_decref(r.hosts); /* an interval it has counted (an ingest read again) */
        return 0;
    }
    r.last_ns = e_ns;
    r.packets += packets;
    r.start_s = start;
    r.value = value;
    r.baseline = sqlite3_column_double(c, 7);
    r.score = sqlite3_column_double(c, 8);
    if (value > r.peak)
        r.peak = value;
    r.candidates++;
    json_decref(r.hosts);
    r.hosts = ds_query_outbreak_drivers(o->db, dim, key, name, start, true);
    r.sev = severity(&r);
    int rc = 0;
    uint64_t renotify = org->renotify_s ? (uint64_t)org->renotify_s * NS : cfg->renotify_ns;
    if (fresh) {
        rc = notify(o, &r, org, cfg, now, rows);
    } else if (r.state == DS_ALERT_CLOSED) {
        r.state = DS_ALERT_REOPENED;
        if (!r.notified_ns || now >= r.notified_ns + renotify)
            rc = notify(o, &r, org, cfg, now, rows);
        else
            r.changed = true; /* inside the re-notify window: the next digest tells */
    } else {
        r.state = DS_ALERT_CONTINUING;
        r.changed = true;
    }
    if (rc == 0)
        rc = write_rec(o, &r, org, cfg->templates_dir);
    json_decref(r.hosts);
    o->active = true;
    return rc;
}

/* ------------------------------------------------------------------ timers -------------- */

struct timers {
    uint64_t pending_since, last_sent;
    int64_t seq;
};

static void load_timers(struct ds_obalerts *o, int64_t org, struct timers *t)
{
    memset(t, 0, sizeof *t);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT IFNULL(pending_since_ns, 0), IFNULL(last_sent_ns, 0), seq"
                           " FROM outbreak_digest_state WHERE org = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, org);
    if (sqlite3_step(st) == SQLITE_ROW) {
        t->pending_since = (uint64_t)sqlite3_column_int64(st, 0);
        t->last_sent = (uint64_t)sqlite3_column_int64(st, 1);
        t->seq = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
}

static int save_timers(struct ds_obalerts *o, int64_t org, const struct timers *t)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db, "INSERT OR REPLACE INTO outbreak_digest_state VALUES(?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(o, "saving outbreak digest timers");
    sqlite3_bind_int64(st, 1, org);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)t->pending_since);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)t->last_sent);
    sqlite3_bind_int64(st, 4, t->seq);
    int x = sqlite3_step(st);
    sqlite3_finalize(st);
    return x == SQLITE_DONE ? 0 : fail(o, "saving outbreak digest timers");
}

static int digest(struct ds_obalerts *o, const struct ds_org *org, struct obrec *recs, size_t n,
                  bool repeat, struct timers *t, const struct ds_alerts_config *cfg, uint64_t now,
                  uint64_t *rows)
{
    struct ds_ob_alert *al = calloc(n ? n : 1, sizeof *al);
    const struct ds_ob_alert **v = calloc(n ? n : 1, sizeof *v);
    size_t k = 0;
    int rc = 0;
    char *json = NULL, *subject = NULL, *body = NULL;
    if (!al || !v) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct obrec *r = &recs[i];
        if (repeat ? r->state == DS_ALERT_CLOSED && !r->changed : !r->changed)
            continue;
        view(r, org, &al[k]);
        v[k] = &al[k];
        k++;
    }
    if (!k)
        goto out;
    char did[64], att[80];
    snprintf(did, sizeof did, "obdigest-%" PRId64 "-%" PRId64, org->id, t->seq + 1);
    snprintf(att, sizeof att, "%s.json", did);
    struct ds_err e = {0};
    if (ds_ob_digest_json(v, k, org->name, did, cfg->templates_dir, &json, NULL, &e) < 0 ||
        ds_ob_digest_text(v, k, org->name, org->lang, &subject, &body, &e) < 0) {
        ds_error("alerts", "formatting an outbreak digest for '%s': %s", org->name, e.msg);
        rc = -EINVAL;
        goto out;
    }
    int sev = 0;
    for (size_t i = 0; i < k; i++)
        if ((int)v[i]->severity > sev)
            sev = (int)v[i]->severity;
    if ((rc = enqueue(o, org, did, subject, body, json, att, sev, rows)) < 0)
        goto out;
    t->seq++;
    t->last_sent = now;
    t->pending_since = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (recs[i].changed) {
            recs[i].changed = false;
            rc = write_rec(o, &recs[i], org, cfg->templates_dir);
        }
out:
    free(json);
    free(subject);
    free(body);
    free(v);
    free(al);
    return rc;
}

/* Quiet alerts close; the organisation's digest goes out when its timers say so. Sets *busy
 * when an alert stays open or changed. */
static int policy(struct ds_obalerts *o, const struct ds_org *org,
                  const struct ds_alerts_config *cfg, uint64_t now, bool flush, uint64_t *rows,
                  bool *busy)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT " OB_COLS " FROM alert a JOIN alert_outbreak o ON o.alert = a.id"
                           " WHERE a.org = ? AND a.kase = 3 AND (a.state <> 2 OR a.changed <> 0)"
                           " ORDER BY a.id",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(o, "loading outbreak alerts");
    sqlite3_bind_int64(st, 1, org->id);
    struct obrec *recs = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct obrec *x = realloc(recs, nc * sizeof *x);
            if (!x) {
                rc = -ENOMEM;
                break;
            }
            recs = x;
            cap = nc;
        }
        rec_from_row(st, &recs[n++]);
    }
    sqlite3_finalize(st);
    bool changes = false, open = false;
    uint64_t first_notice = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct obrec *r = &recs[i];
        if (r->state != DS_ALERT_CLOSED && now >= r->last_ns + cfg->close_after_ns) {
            r->state = DS_ALERT_CLOSED;
            r->changed = true;
            rc = write_rec(o, r, org, cfg->templates_dir);
        }
        changes = changes || r->changed;
        if (r->state != DS_ALERT_CLOSED) {
            open = true;
            if (r->notified_ns && (!first_notice || r->notified_ns < first_notice))
                first_notice = r->notified_ns;
        }
    }
    if (rc == 0 && (changes || open)) {
        struct timers t;
        load_timers(o, org->id, &t);
        uint64_t gw = org->group_wait_s ? (uint64_t)org->group_wait_s * NS : cfg->group_wait_ns;
        uint64_t gi =
            org->group_interval_s ? (uint64_t)org->group_interval_s * NS : cfg->group_interval_ns;
        uint64_t ri = org->repeat_interval_s ? (uint64_t)org->repeat_interval_s * NS
                                             : cfg->repeat_interval_ns;
        bool before = t.pending_since != 0;
        if (changes && !t.pending_since)
            t.pending_since = now ? now : 1;
        bool send = false, repeat = false;
        if (changes)
            send =
                flush || (now >= t.pending_since + gw && (!t.last_sent || now >= t.last_sent + gi));
        else if (open && (t.last_sent || first_notice) &&
                 now >= (t.last_sent ? t.last_sent : first_notice) + ri)
            send = repeat = true;
        if (send)
            rc = digest(o, org, recs, n, repeat, &t, cfg, now, rows);
        if (rc == 0 && (send || before != (t.pending_since != 0)))
            rc = save_timers(o, org->id, &t);
    }
    for (size_t i = 0; i < n; i++) {
        if (recs[i].state != DS_ALERT_CLOSED || recs[i].changed)
            *busy = true;
        json_decref(recs[i].hosts);
    }
    free(recs);
    return rc;
}

/* The driving hosts of alerts that had none when they were told (a day's profile segments are
 * stored when the day ends): looked up again, the stored alert (the workbench's) updated; no
 * notice. At the end of a replay and when packet time enters a new day. */
static int refresh_hosts(struct ds_obalerts *o, const struct ds_registry *reg,
                         const struct ds_alerts_config *cfg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db,
                           "SELECT " OB_COLS " FROM alert a JOIN alert_outbreak o ON o.alert = a.id"
                           " WHERE a.kase = 3 AND o.hosts = '[]' ORDER BY a.id",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(o, "loading outbreak alerts");
    struct obrec *recs = NULL;
    size_t n = 0;
    int rc = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct obrec *x = realloc(recs, (n + 1) * sizeof *x);
        if (!x) {
            rc = -ENOMEM;
            break;
        }
        recs = x;
        rec_from_row(st, &recs[n++]);
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) {
        struct obrec *r = &recs[i];
        json_t *h = ds_query_outbreak_drivers(o->db, r->dim, r->dim_key, r->name, r->start_s, true);
        if (rc == 0 && json_array_size(h)) {
            json_decref(r->hosts);
            r->hosts = h;
            h = NULL;
            rc = write_rec(o, r, ds_registry_find(reg, r->org), cfg->templates_dir);
        }
        json_decref(h);
        json_decref(r->hosts);
    }
    free(recs);
    return rc;
}

/* ------------------------------------------------------------------ the pass ------------ */

int ds_obalerts_pass(struct ds_obalerts *o, const struct ds_registry *reg,
                     const struct ds_alerts_config *cfg, uint64_t now, bool flush, uint64_t *rows)
{
    if (!o || !reg)
        return 0;
    if (!o->loaded) {
        o->cursor =
            scalar(o, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = '" CURSOR_KEY "'", 0);
        o->loaded = true;
    }
    int64_t top = scalar(o, "SELECT max(id) FROM outbreak", 0);
    if (top <= o->cursor && !o->active && !flush && (int64_t)(now / NS / 86400) == o->day)
        return 0;
    const struct ds_org *orgs[MAX_ANALYSTS];
    size_t n_orgs = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(o->db, "SELECT id FROM org WHERE analysts <> 0 ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK)
        return fail(o, "reading the analysts' organisations");
    while (sqlite3_step(st) == SQLITE_ROW && n_orgs < MAX_ANALYSTS) {
        const struct ds_org *org = ds_registry_find(reg, sqlite3_column_int64(st, 0));
        if (org)
            orgs[n_orgs++] = org;
    }
    sqlite3_finalize(st);
    int rc = 0;
    if (top > o->cursor) {
        /* candidates in id order; those of an ingest that is not kept are passed over */
        if (sqlite3_prepare_v2(o->db,
                               "SELECT id, dim, key, name, start, value, packets, baseline, score"
                               " FROM outbreak WHERE id > ? AND ingest IN (SELECT id FROM ingest"
                               " WHERE status IN ('done', 'live', 'interrupted', 'running'))"
                               " ORDER BY id",
                               -1, &st, NULL) != SQLITE_OK)
            return fail(o, "reading outbreak candidates");
        sqlite3_bind_int64(st, 1, o->cursor);
        int64_t last = o->cursor;
        while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
            for (size_t i = 0; i < n_orgs && rc == 0; i++)
                rc = candidate(o, orgs[i], st, cfg, now, rows);
            last = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        if (rc < 0)
            return rc;
        if (last > o->cursor) {
            char sql[160];
            snprintf(sql, sizeof sql,
                     "INSERT OR REPLACE INTO meta(key, value) VALUES('" CURSOR_KEY "', '%" PRId64
                     "')",
                     last);
            if (sqlite3_exec(o->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                return fail(o, "saving the outbreak cursor");
            o->cursor = last;
        }
    }
    bool busy = false;
    for (size_t i = 0; i < n_orgs && rc == 0; i++)
        rc = policy(o, orgs[i], cfg, now, flush, rows, &busy);
    int64_t day = (int64_t)(now / NS / 86400);
    if (rc == 0 && (flush || day != o->day)) {
        rc = refresh_hosts(o, reg, cfg);
        o->day = day;
    }
    if (rc == 0)
        o->active = busy;
    return rc;
}
