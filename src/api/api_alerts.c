/* api_alerts.c - API endpoints for alerts: the list (filters, paging, CSV export), one alert
 * with its timeline, and the analyst workflow (acknowledge, assign, resolve, reject, reopen,
 * note), each change audited. Organisation users see and act on their own alerts only. */
#include "api/api_int.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "alert/format.h"
#include "alert/format_outbreak.h"
#include "core/sbuf.h"
#include "core/timefmt.h"

static const char *const workflow_names[] = {"new", "open", "resolved", "rejected", NULL};

static int name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n && names[i]; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

/* Adds the row's workflow fields to its stored JSON. */
static json_t *row_json(sqlite3_stmt *st)
{
    json_t *j = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
    if (!j)
        j = json_pack("{s:I}", "id", (json_int_t)sqlite3_column_int64(st, 0));
    json_object_set_new(j, "workflow", json_string((const char *)sqlite3_column_text(st, 2)));
    const char *as = (const char *)sqlite3_column_text(st, 3);
    const char *note = (const char *)sqlite3_column_text(st, 4);
    json_object_set_new(j, "assignee", as ? json_string(as) : json_null());
    json_object_set_new(j, "note", note ? json_string(note) : json_null());
    return j;
}

/* Appends the JSON of a text (NULL: null) as json_dumps writes it. false: not valid UTF-8
 * (json_string refuses it, and the key is then left out, as row_json does). */
static bool put_string(struct ds_sbuf *b, const char *s)
{
    if (!s) {
        ds_sbuf_puts(b, "null");
        return true;
    }
    json_t *v = json_string(s);
    char *t = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(v);
    if (!t)
        return false;
    ds_sbuf_puts(b, t);
    free(t);
    return true;
}

/*
 * Appends the row's JSON (as row_json and json_dumps make it) to b. The stored alert JSON was
 * written by json_dumps with the API's flags, so parsing and writing it again gives the same
 * text: it is copied as it is and the workflow fields appended, instead of building the
 * whole tree (a list of 500 alerts is 2 MB: that took 3/4 of the request). A row whose JSON
 * could already hold one of those keys, or with text json_string would refuse, goes through
 * row_json.
 */
static void put_row(struct ds_sbuf *b, sqlite3_stmt *st)
{
    const char *text = (const char *)sqlite3_column_text(st, 1);
    size_t n = text ? (size_t)sqlite3_column_bytes(st, 1) : 0;
    const char *wf = (const char *)sqlite3_column_text(st, 2);
    const char *as = (const char *)sqlite3_column_text(st, 3);
    const char *note = (const char *)sqlite3_column_text(st, 4);
    size_t mark = b->len;
    if (n >= 2 && text[0] == '{' && text[n - 1] == '}' && wf && !strstr(text, "\"workflow\":") &&
        !strstr(text, "\"assignee\":") && !strstr(text, "\"note\":")) {
        ds_sbuf_add(b, text, n - 1);
        ds_sbuf_puts(b, n > 2 ? ",\"workflow\":" : "\"workflow\":");
        bool ok = put_string(b, wf);
        ds_sbuf_puts(b, ",\"assignee\":");
        ok = ok && put_string(b, as);
        ds_sbuf_puts(b, ",\"note\":");
        ok = ok && put_string(b, note);
        ds_sbuf_puts(b, "}");
        if (ok || b->oom)
            return;
        b->len = mark; /* the slow way below */
        b->p[mark] = '\0';
    }
    json_t *j = row_json(st);
    char *t = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!t) {
        b->oom = true;
        return;
    }
    ds_sbuf_puts(b, t);
    free(t);
}

/* The alert row as a struct ds_alert-free CSV line: the stored JSON's main fields. */
static void csv_field(FILE *f, const char *s)
{
    bool q = s && strpbrk(s, ",\"\r\n");
    if (!s)
        s = "";
    if (!q) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_row(FILE *f, json_t *j)
{
    static const char *const keys[] = {
        "id",        "organisation", "address", "case",      "state",    "severity", "first_seen",
        "last_seen", "packets",      "targets", "scan_type", "workflow", "assignee", NULL};
    for (int i = 0; keys[i]; i++) {
        json_t *v = json_object_get(j, keys[i]);
        char num[32];
        const char *s = NULL;
        if (json_is_string(v))
            s = json_string_value(v);
        else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            s = num;
        }
        if (i)
            fputc(',', f);
        csv_field(f, s);
    }
    fputs("\r\n", f);
}

void api_alerts(struct api_call *c)
{
    const char *state = ds_http_arg(c->rq, "state");
    const char *kase = ds_http_arg(c->rq, "case");
    const char *wf = ds_http_arg(c->rq, "workflow");
    const char *addr = ds_http_arg(c->rq, "address");
    const char *fmt = ds_http_arg(c->rq, "format");
    long limit, offset, org;
    struct ds_period p;
    if (api_int_param(c, "limit", 100, 1, 10000, &limit) < 0 ||
        api_int_param(c, "offset", 0, 0, 100000000, &offset) < 0 ||
        api_int_param(c, "org", 0, 0, INT64_MAX, &org) < 0 || api_period(c, &p) < 0)
        return;
    int si = state ? name_index(ds_alert_state_names, DS_ALERT_STATE_COUNT, state) : -1;
    int ki = kase ? name_index(ds_case_names, DS_CASE_COUNT, kase) : -1;
    if (kase && !strcmp(kase, "outbreak"))
        ki = DS_CASE_OUTBREAK; /* the analysts' outbreak alerts (outbreak_alerts.c) */
    int wi = wf ? name_index(workflow_names, 4, wf) : -1;
    if ((state && si < 0) || (kase && ki < 0) || (wf && wi < 0)) {
        api_error(c, 400, "%s",
                  state && si < 0  ? "parameter state: new, continuing, closed or reopened"
                  : kase && ki < 0 ? "parameter case: internal, external, backscatter or outbreak"
                                   : "parameter workflow: new, open, resolved or rejected");
        return;
    }
    if (fmt && strcmp(fmt, "json") && strcmp(fmt, "csv")) {
        api_error(c, 400, "parameter format: json or csv");
        return;
    }
    if (!api_is_staff(c)) {
        /* never anything but its own; asking for another organisation finds nothing */
        org = org && org != c->who.org_id ? -1 : c->who.org_id;
    }
    const char *where = " WHERE (?1 = 0 OR org = ?1) AND (?2 < 0 OR state = ?2)"
                        " AND (?3 < 0 OR kase = ?3) AND (?4 IS NULL OR workflow = ?4)"
                        " AND (?5 IS NULL OR addr = ?5) AND (?6 = 0 OR last_ns >= ?7)"
                        " AND (?8 = 0 OR first_ns < ?9)"
                        /* outbreak alerts: staff's and the analysts' organisation's only */
                        " AND (?12 = 1 OR kase <> 3 OR org IN (SELECT id FROM org"
                        " WHERE analysts <> 0))";
    char sql[1024];
    sqlite3 *db = ds_store_db(c->store);
    sqlite3_stmt *st, *ct;
    snprintf(sql, sizeof sql,
             "SELECT id, json, workflow, assignee, note FROM alert%s"
             " ORDER BY last_ns DESC, id DESC LIMIT ?10 OFFSET ?11",
             where);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        struct ds_err err;
        ds_err_set(&err, -EIO, "%s", sqlite3_errmsg(db));
        api_store_error(c, &err);
        return;
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM alert%s", where);
    if (sqlite3_prepare_v2(db, sql, -1, &ct, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        struct ds_err err;
        ds_err_set(&err, -EIO, "%s", sqlite3_errmsg(db));
        api_store_error(c, &err);
        return;
    }
    sqlite3_stmt *both[2] = {st, ct};
    for (int k = 0; k < 2; k++) {
        sqlite3_bind_int64(both[k], 1, org);
        sqlite3_bind_int(both[k], 2, si);
        sqlite3_bind_int(both[k], 3, ki);
        if (wf)
            sqlite3_bind_text(both[k], 4, wf, -1, SQLITE_STATIC);
        if (addr)
            sqlite3_bind_text(both[k], 5, addr, -1, SQLITE_STATIC);
        sqlite3_bind_int(both[k], 6, p.has_from);
        sqlite3_bind_int64(both[k], 7, p.from * 1000000000);
        sqlite3_bind_int(both[k], 8, p.has_to);
        sqlite3_bind_int64(both[k], 9, p.to * 1000000000);
        sqlite3_bind_int(both[k], 12, api_is_staff(c) ? 1 : 0);
    }
    sqlite3_bind_int64(st, 10, limit);
    sqlite3_bind_int64(st, 11, offset);
    int64_t total = sqlite3_step(ct) == SQLITE_ROW ? sqlite3_column_int64(ct, 0) : 0;
    sqlite3_finalize(ct);
    if (fmt && !strcmp(fmt, "csv")) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) {
            sqlite3_finalize(st);
            api_error(c, 500, "out of memory");
            return;
        }
        fputs("id,organisation,address,case,state,severity,first_seen,last_seen,packets,targets,"
              "scan_type,workflow,assignee\r\n",
              f);
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *j = row_json(st);
            csv_row(f, j);
            json_decref(j);
        }
        sqlite3_finalize(st);
        fclose(f);
        ds_http_reply_take(c->rs, 200, "text/csv; charset=utf-8", buf, len);
        ds_http_add_header(c->rs, "Content-Disposition", "attachment; filename=\"alerts.csv\"");
        return;
    }
    /* {"alerts":[...],"total":N,"limit":L,"offset":O}, written as it goes (put_row) */
    struct ds_sbuf b = {0};
    ds_sbuf_puts(&b, "{\"alerts\":[");
    for (bool first = true; sqlite3_step(st) == SQLITE_ROW; first = false) {
        if (!first)
            ds_sbuf_puts(&b, ",");
        put_row(&b, st);
    }
    sqlite3_finalize(st);
    ds_sbuf_printf(&b, "],\"total\":%" PRId64 ",\"limit\":%d,\"offset\":%d}", total, (int)limit,
                   (int)offset);
    char *out;
    struct ds_err err = {0};
    if (ds_sbuf_finish(&b, &out, "the alert list", &err) < 0) {
        api_error(c, 500, "out of memory");
        return;
    }
    ds_http_reply_take(c->rs, 200, "application/json", out, strlen(out));
}

/* The alert row id of the path, visible to the caller: 0 and *org set, or replies 404. */
static int find(struct api_call *c, int64_t *id, int64_t *org)
{
    char *end;
    long long v = strtoll(c->seg[1], &end, 10);
    if (!*c->seg[1] || *end || v <= 0) {
        api_error(c, 400, "'%.40s' is not an alert id", c->seg[1]);
        return -1;
    }
    sqlite3_stmt *st;
    *org = 0;
    if (sqlite3_prepare_v2(ds_store_db(c->store),
                           "SELECT org FROM alert WHERE id = ?1 AND (?2 = 1 OR kase <> 3 OR org IN"
                           " (SELECT id FROM org WHERE analysts <> 0))",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int(st, 2, api_is_staff(c) ? 1 : 0);
        sqlite3_bind_int64(st, 1, v);
        if (sqlite3_step(st) == SQLITE_ROW)
            *org = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (!*org || !api_sees_org(c, *org)) { /* another organisation's: as if it did not exist */
        api_error(c, 404, "no alert %lld", v);
        return -1;
    }
    *id = v;
    return 0;
}

static json_t *one(struct api_call *c, int64_t id)
{
    sqlite3_stmt *st;
    json_t *j = NULL;
    if (sqlite3_prepare_v2(ds_store_db(c->store),
                           "SELECT id, json, workflow, assignee, note FROM alert WHERE id = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW)
        j = row_json(st);
    sqlite3_finalize(st);
    return j;
}

void api_alert(struct api_call *c)
{
    int64_t id, org;
    if (find(c, &id, &org) < 0)
        return;
    json_t *j = one(c, id);
    if (!j) {
        api_error(c, 404, "no alert %" PRId64, id);
        return;
    }
    /* the timeline: notifications sent for it, and workflow changes */
    json_t *tl = json_array();
    sqlite3_stmt *st;
    char like[64], lo[64], hi[64];
    snprintf(like, sizeof like, "alert-%" PRId64 "-%%", id);
    /* the message ids are written "alert-ID-N": their range in the index outbox_message
     * ('.' follows '-'), the LIKE as before for the rows in it */
    snprintf(lo, sizeof lo, "alert-%" PRId64 "-", id);
    snprintf(hi, sizeof hi, "alert-%" PRId64 ".", id);
    if (sqlite3_prepare_v2(ds_store_db(c->store),
                           "SELECT created, message_id, channel, state, attempts, done FROM outbox"
                           " WHERE message_id >= ?2 AND message_id < ?3 AND message_id LIKE ?1"
                           " ORDER BY id",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, hi, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(
                tl, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s?}", "kind", "notification", "at",
                              (const char *)sqlite3_column_text(st, 0), "message",
                              (const char *)sqlite3_column_text(st, 1), "channel",
                              (const char *)sqlite3_column_text(st, 2), "delivery",
                              (const char *)sqlite3_column_text(st, 3), "attempts",
                              (json_int_t)sqlite3_column_int64(st, 4), "delivered",
                              (const char *)sqlite3_column_text(st, 5)));
        sqlite3_finalize(st);
    }
    char obj[32];
    snprintf(obj, sizeof obj, "alert-%" PRId64, id);
    if (sqlite3_prepare_v2(ds_store_db(c->store),
                           "SELECT at, who, what, detail FROM audit WHERE object = ? ORDER BY id",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, obj, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            json_t *d = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
            json_array_append_new(tl, json_pack("{s:s, s:s, s:s, s:s, s:o}", "kind", "workflow",
                                                "at", (const char *)sqlite3_column_text(st, 0),
                                                "who", (const char *)sqlite3_column_text(st, 1),
                                                "what", (const char *)sqlite3_column_text(st, 2),
                                                "detail", d ? d : json_null()));
        }
        sqlite3_finalize(st);
    }
    json_object_set_new(j, "timeline", tl);
    api_json(c, 200, j);
}

void api_alert_workflow(struct api_call *c)
{
    int64_t id, org;
    if (find(c, &id, &org) < 0)
        return;
    json_t *b = api_body(c);
    if (!b)
        return;
    const char *action = json_string_value(json_object_get(b, "action"));
    const char *note = json_string_value(json_object_get(b, "note"));
    const char *assignee = json_string_value(json_object_get(b, "assignee"));
    if (note && strlen(note) > 4000) {
        json_decref(b);
        api_error(c, 400, "note longer than 4000 bytes");
        return;
    }
    /* action -> the workflow state it leads to (NULL: unchanged) and the states it starts from */
    static const struct {
        const char *action, *to, *from;
    } moves[] = {
        {"ack", "open", "new"},
        {"assign", "open", "new,open"},
        {"resolve", "resolved", "new,open"},
        {"reject", "rejected", "new,open"},
        {"reopen", "open", "resolved,rejected"},
        {"note", NULL, "new,open,resolved,rejected"},
    };
    int m = -1;
    for (size_t i = 0; action && i < sizeof moves / sizeof moves[0]; i++)
        if (!strcmp(action, moves[i].action))
            m = (int)i;
    if (m < 0 || (!strcmp(action, "assign") && (!assignee || !*assignee)) ||
        (!strcmp(action, "note") && (!note || !*note))) {
        json_decref(b);
        api_error(c, 400,
                  "give {\"action\": ack|assign (with \"assignee\")|resolve|reject|reopen"
                  "|note (with \"note\"), \"note\": optional text}");
        return;
    }
    sqlite3 *db = ds_store_db(c->store);
    sqlite3_stmt *st;
    struct ds_err err = {0};
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        json_decref(b);
        ds_err_set(&err, -EBUSY, "%s", sqlite3_errmsg(db));
        api_store_error(c, &err);
        return;
    }
    char cur[16] = "";
    if (sqlite3_prepare_v2(db, "SELECT workflow FROM alert WHERE id = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(cur, sizeof cur, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    char from[48];
    snprintf(from, sizeof from, ",%s,", moves[m].from);
    char curk[20];
    snprintf(curk, sizeof curk, ",%s,", cur);
    if (!strstr(from, curk)) {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        api_error(c, 409, "alert %" PRId64 " is %s: it cannot be %s", id, cur,
                  !strcmp(action, "ack") ? "acknowledged" : action);
        json_decref(b); /* action points into b */
        return;
    }
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE alert SET workflow = IFNULL(?2, workflow),"
                                " assignee = IFNULL(?3, assignee),"
                                " note = CASE WHEN ?4 IS NULL THEN note"
                                "   WHEN note IS NULL THEN ?4 ELSE note || char(10) || ?4 END"
                                " WHERE id = ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        if (moves[m].to)
            sqlite3_bind_text(st, 2, moves[m].to, -1, SQLITE_STATIC);
        if (assignee)
            sqlite3_bind_text(st, 3, assignee, -1, SQLITE_STATIC);
        if (note) {
            char line[4200];
            snprintf(line, sizeof line, "%s: %s", c->who.name, note);
            sqlite3_bind_text(st, 4, line, -1, SQLITE_TRANSIENT);
        }
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_finalize(st);
    }
    char obj[32];
    snprintf(obj, sizeof obj, "alert-%" PRId64, id);
    json_t *d = json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "action", action, "from", cur, "to",
                          moves[m].to, "assignee", assignee, "note", note);
    char *ds = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(d);
    if (rc == SQLITE_OK && ds_audit(c->store, c->who.name, "alert.workflow", obj, ds, &err) == 0 &&
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
        free(ds);
        json_decref(b);
        api_json(c, 200, one(c, id));
        return;
    }
    free(ds);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    json_decref(b);
    if (!err.code)
        ds_err_set(&err, -EIO, "%s", sqlite3_errmsg(db));
    api_store_error(c, &err);
}
