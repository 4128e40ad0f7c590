/* digest.c - scheduled feed digests: recipients' subscriptions, and one outbox message per
 * recipient, feed kind and UTC day holding exactly that recipient's rows of the day. */
#include "feed/digest.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert/outbox_queue.h"
#include "api/auth.h"
#include "core/log.h"
#include "core/timefmt.h"
#include "feed/feed.h"

#define DAY 86400
#define MAX_DAYS 62 /* days of one ingest a pass looks at (a live one: back from today) */

bool ds_feed_scope_keep(void *ctx, const struct ds_addr *a)
{
    const struct ds_feed_scope *sc = ctx;
    const struct ds_org *o = ds_registry_livenet(sc->reg, a);
    return o && o->id == sc->org_id;
}

int ds_feed_sub_parse(const char *text, char *kind, size_t kcap, char *format, size_t fcap,
                      struct ds_err *err)
{
    const char *colon = text ? strchr(text, ':') : NULL;
    size_t kl = colon ? (size_t)(colon - text) : text ? strlen(text) : 0;
    const char *fmt = colon ? colon + 1 : "csv";
    if (!text || kl == 0 || kl >= kcap || strlen(fmt) >= fcap)
        return ds_err_set(err, -EINVAL, "--feed '%s': give KIND[:FORMAT], e.g. infected:csv",
                          text ? text : "");
    memcpy(kind, text, kl);
    kind[kl] = '\0';
    snprintf(format, fcap, "%s", fmt);
    const struct ds_feed_kind *k = ds_feed_kind_find(kind);
    if (!k || !k->by_address)
        return ds_err_set(err, -EINVAL, "--feed '%s': the kind is infected or dos", text);
    if (!ds_feed_format_find(format))
        return ds_err_set(err, -EINVAL, "--feed '%s': the format is csv, json, stix or misp", text);
    return 0;
}

static int db_fail(sqlite3 *db, struct ds_err *err, const char *what)
{
    return ds_err_set(err, sqlite3_errcode(db) == SQLITE_FULL ? -ENOSPC : -EIO, "%s: %s", what,
                      sqlite3_errmsg(db));
}

int ds_feed_subscribe(struct ds_store *s, const char *org, const char *kind, const char *format,
                      bool remove, const char *who, struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err, "subscribing to a feed");
    sqlite3_stmt *st;
    int rc = 0;
    int64_t org_id = 0;
    if (sqlite3_prepare_v2(db, "SELECT id FROM org WHERE name = ?", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            org_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (!org_id) {
        rc = ds_err_set(err, -ENOENT, "no organisation named '%s'", org);
        goto out;
    }
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *sql = remove ? "DELETE FROM feed_sub WHERE org = ?1 AND kind = ?2"
                             : "INSERT INTO feed_sub(org, kind, format, since_ingest, created)"
                               " VALUES(?1, ?2, ?3, (SELECT IFNULL(max(id), 0) FROM ingest), ?4)"
                               " ON CONFLICT(org, kind) DO UPDATE SET format = excluded.format";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "subscribing to a feed");
        goto out;
    }
    sqlite3_bind_int64(st, 1, org_id);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    if (!remove) {
        sqlite3_bind_text(st, 3, format, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    }
    int x = sqlite3_step(st);
    sqlite3_finalize(st);
    if (x != SQLITE_DONE) {
        rc = db_fail(db, err, "subscribing to a feed");
        goto out;
    }
    if (remove && sqlite3_changes(db) == 0) {
        rc = ds_err_set(err, -ENOENT, "'%s' has no %s feed subscription", org, kind);
        goto out;
    }
    char detail[160];
    snprintf(detail, sizeof detail, "{\"kind\":\"%s\",\"format\":\"%s\"}", kind,
             remove ? "" : format);
    rc = ds_audit(s, who, remove ? "org feed remove" : "org feed add", org, detail, err);
out:
    sqlite3_exec(db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ------------------------------------------------------------------ one digest ---------- */

/* The day's feed of one recipient in its format: *content (malloc'd) and *rows. */
static int render(struct ds_store *s, const struct ds_registry *reg, const struct ds_org *org,
                  const struct ds_feed_kind *kind, const struct ds_feed_format *fmt, int64_t day,
                  const char *producer, char **content, size_t *rows, struct ds_err *err)
{
    struct ds_feed_scope scope = {.reg = reg, .org_id = org->id};
    struct ds_feed_query q = {
        .period = {.has_from = true, .from = day * DAY, .has_to = true, .to = (day + 1) * DAY},
        .keep = ds_feed_scope_keep,
        .keep_ctx = &scope};
    struct ds_feed feed = {0};
    snprintf(feed.producer, sizeof feed.producer, "%s", producer ? producer : "darkscope");
    int rc = ds_feed_read(s, kind, &q, &feed, err);
    if (rc < 0)
        return rc;
    *rows = json_array_size(feed.rows);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        ds_feed_free(&feed);
        return ds_err_set(err, -ENOMEM, "out of memory");
    }
    rc = ds_feed_write(f, fmt, &feed, err);
    fclose(f);
    ds_feed_free(&feed);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *content = buf;
    return 0;
}

/* Queues one digest (or records an empty day) in one transaction. */
static int one(struct ds_store *s, const struct ds_registry *reg, const struct ds_org *org,
               const char *kname, const char *fname, int64_t day, const char *producer, int *queued,
               struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    const struct ds_feed_kind *kind = ds_feed_kind_find(kname);
    const struct ds_feed_format *fmt = ds_feed_format_find(fname);
    if (!kind || !fmt)
        return ds_err_set(err, -EINVAL, "feed subscription of '%s': unknown %s:%s", org->name,
                          kname, fname);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(db, err, "queueing a feed digest");
    int rc = 0;
    char *content = NULL, *json = NULL, *text = NULL;
    sqlite3_stmt *st = NULL;
    /* sent before (by another run, or a concurrent one): nothing to do */
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM feed_digest WHERE org = ? AND kind = ? AND day = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "queueing a feed digest");
        goto out;
    }
    sqlite3_bind_int64(st, 1, org->id);
    sqlite3_bind_text(st, 2, kname, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, day);
    bool done = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    st = NULL;
    if (done)
        goto out;
    size_t rows = 0;
    if ((rc = render(s, reg, org, kind, fmt, day, producer, &content, &rows, err)) < 0)
        goto out;
    char date[16], from[40], to[40], mid[160], att[200];
    time_t d0 = (time_t)(day * DAY);
    struct tm tm;
    gmtime_r(&d0, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    ds_time_format(day * DAY, from, sizeof from);
    ds_time_format((day + 1) * DAY, to, sizeof to);
    snprintf(mid, sizeof mid, "feed-%" PRId64 "-%s-%s", org->id, kname, date);
    snprintf(att, sizeof att, "%s.json", mid);
    if (rows > 0) {
        json_t *j =
            json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "version",
                      DS_FEED_DIGEST_JSON_VERSION, "digest", mid, "organisation", org->name,
                      "organisation_id", (json_int_t)org->id, "feed", kname, "format", fname, "day",
                      date, "from", from, "to", to, "count", (json_int_t)rows, "content_type",
                      fmt->content_type, "content", content);
        json = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        bool ja = org->lang && !strcmp(org->lang, "ja");
        size_t tl = strlen(content) + 512;
        if (!json || !(text = malloc(tl))) {
            rc = ds_err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        snprintf(text, tl,
                 ja ? "%s 様\n\n%s (UTC) の %s フィード (%s 形式, %zu 件) です。"
                      "貴組織のアドレス範囲内の行だけを含みます。\n\n%s"
                    : "To %s\n\nThe %s (UTC) %s feed in %s, %zu rows: the rows inside your "
                      "registered ranges only.\n\n%s",
                 org->name, date, kname, fname, rows, content);
        char subject[256];
        snprintf(subject, sizeof subject,
                 ja ? "[darkscope] %s フィード %s: %zu 件 (%s)"
                    : "[darkscope] %s feed %s: %zu rows (%s)",
                 kname, date, rows, org->name);
        if ((rc = ds_outbox_enqueue(db, org,
                                    &(struct ds_outbox_msg){.message_id = mid,
                                                            .subject = subject,
                                                            .text = text,
                                                            .json = json,
                                                            .attachment = att,
                                                            .severity = 0},
                                    err)) < 0)
            goto out;
        rc = 0;
    }
    char at[32];
    time_t t = time(NULL);
    gmtime_r(&t, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO feed_digest(org, kind, day, format, rows, message_id, at)"
                           " VALUES(?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "recording a feed digest");
        goto out;
    }
    sqlite3_bind_int64(st, 1, org->id);
    sqlite3_bind_text(st, 2, kname, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, day);
    sqlite3_bind_text(st, 4, fname, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)rows);
    sqlite3_bind_text(st, 6, rows ? mid : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, at, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(db, err, "recording a feed digest");
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0 && rows)
        (*queued)++;
    if (rc == 0)
        ds_info("feed", "digest %s: %zu rows%s", mid, rows, rows ? "" : " (nothing sent)");
out:
    if (st)
        sqlite3_finalize(st);
    if (sqlite3_exec(db, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK && rc == 0)
        rc = db_fail(db, err, "committing a feed digest");
    free(content);
    free(json);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ the schedule -------- */

struct sub {
    int64_t org, since;
    char kind[16], format[16];
};

int ds_feed_digests_run(const char *db_path, const struct ds_registry *reg, const char *producer,
                        int64_t now_s, int64_t grace_s, int *queued, struct ds_err *err)
{
    *queued = 0;
    struct ds_store *s = NULL;
    int rc = ds_store_open(&s, db_path, false, err);
    if (rc < 0)
        return rc;
    sqlite3 *db = ds_store_db(s);
    struct sub *subs = NULL;
    size_t n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            db, "SELECT org, since_ingest, kind, format FROM feed_sub ORDER BY org, kind", -1, &st,
            NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "reading feed subscriptions");
        goto out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct sub *x = realloc(subs, (n + 1) * sizeof *x);
        if (!x)
            break;
        subs = x;
        subs[n].org = sqlite3_column_int64(st, 0);
        subs[n].since = sqlite3_column_int64(st, 1);
        snprintf(subs[n].kind, sizeof subs[n].kind, "%s", sqlite3_column_text(st, 2));
        snprintf(subs[n].format, sizeof subs[n].format, "%s", sqlite3_column_text(st, 3));
        n++;
    }
    sqlite3_finalize(st);
    /* the days each kept ingest's data covers, once final: packet time of a finished one,
     * days ended grace_s ago on the clock for a live one (read first: no statement stays
     * active across the digests' transactions) */
    struct span {
        int64_t id, d0, d1;
    } *spans = NULL;
    size_t ns = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, status, IFNULL(first_ns, 0), IFNULL(last_ns, 0) FROM ingest"
                           " WHERE status IN ('done', 'live', 'interrupted') ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "reading the ingests");
        goto out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *status = (const char *)sqlite3_column_text(st, 1);
        int64_t first = sqlite3_column_int64(st, 2) / 1000000000;
        int64_t last = sqlite3_column_int64(st, 3) / 1000000000;
        int64_t d0, d1; /* days [d0, d1] */
        if (!strcmp(status, "live")) {
            d1 = (now_s - grace_s) / DAY - 1;
            d0 = first > 0 ? first / DAY : d1;
        } else {
            if (first <= 0 || last < first)
                continue;
            d0 = first / DAY;
            d1 = last / DAY;
        }
        if (d1 - d0 >= MAX_DAYS)
            d0 = d1 - MAX_DAYS + 1;
        struct span *x = realloc(spans, (ns + 1) * sizeof *x);
        if (!x)
            break;
        spans = x;
        spans[ns++] = (struct span){.id = sqlite3_column_int64(st, 0), .d0 = d0, .d1 = d1};
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct ds_org *org = ds_registry_find(reg, subs[i].org);
        for (size_t k = 0; org && k < ns && rc == 0; k++)
            for (int64_t d = spans[k].d0;
                 spans[k].id > subs[i].since && d <= spans[k].d1 && rc == 0; d++)
                rc = one(s, reg, org, subs[i].kind, subs[i].format, d, producer, queued, err);
    }
    free(spans);
out:
    free(subs);
    ds_store_close(s);
    return rc;
}
