/* outbox_queue.c - queueing a message into the durable outbox (see outbox_queue.h). Runs on
 * the caller's thread and store connection; holds no state. */
#include "alert/outbox_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alert/registry.h"

bool ds_org_uses_channel(const struct ds_org *org, const char *channel)
{
    const char *p = org->channels ? org->channels : "";
    size_t n = strlen(channel);
    while (*p) {
        if (!strncmp(p, channel, n) && (p[n] == ',' || !p[n]))
            return true;
        if (!(p = strchr(p, ',')))
            break;
        p++;
    }
    return false;
}

static int db_fail(sqlite3 *db, struct ds_err *err, const char *org)
{
    return ds_err_set(err, sqlite3_errcode(db) == SQLITE_FULL ? -ENOSPC : -EIO,
                      "queueing a delivery to %s: %s", org, sqlite3_errmsg(db));
}

int ds_outbox_enqueue(sqlite3 *db, const struct ds_org *org, const struct ds_outbox_msg *m,
                      struct ds_err *err)
{
    return ds_outbox_enqueue_st(db, NULL, org, m, err);
}

/* The rows of m, one per contact, through st (reset before each; the caller resets after). */
static int enqueue_rows(sqlite3 *db, sqlite3_stmt *st, const struct ds_org *org,
                        const struct ds_outbox_msg *m, struct ds_err *err)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int rows = 0;
    for (size_t i = 0; i < org->n_contacts; i++) {
        const struct ds_contact *c = &org->contacts[i];
        if (!c->channel || !c->address)
            return ds_err_set(err, -EINVAL,
                              "queueing a delivery to %s: contact %" PRId64
                              " has no channel or address",
                              org->name, c->id);
        if (!ds_org_uses_channel(org, c->channel))
            continue;
        char key[256];
        int kl = snprintf(key, sizeof key, "%s/%" PRId64, m->message_id, c->id);
        if (kl < 0 || (size_t)kl >= sizeof key)
            return ds_err_set(err, -EINVAL,
                              "queueing a delivery to %s: message id '%.40s...' is too long",
                              org->name, m->message_id);
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, m->message_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, org->id);
        sqlite3_bind_int64(st, 5, c->id);
        sqlite3_bind_text(st, 6, c->channel, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, c->address, -1, SQLITE_STATIC);
        if (c->secret)
            sqlite3_bind_text(st, 8, c->secret, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 8);
        sqlite3_bind_text(st, 9, m->subject, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, m->text, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 11, m->json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, m->attachment, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 13, m->severity);
        if (sqlite3_step(st) != SQLITE_DONE)
            return db_fail(db, err, org->name);
        rows += sqlite3_changes(db) > 0;
    }
    return rows;
}

int ds_outbox_enqueue_st(sqlite3 *db, sqlite3_stmt **cache, const struct ds_org *org,
                         const struct ds_outbox_msg *m, struct ds_err *err)
{
    if (!m->message_id || !m->subject || !m->text || !m->json || !m->attachment)
        return ds_err_set(err, -EINVAL,
                          "queueing a delivery to %s: a part of the message is missing", org->name);
    static const char sql[] = "INSERT OR IGNORE INTO outbox(created, key, message_id, org, contact,"
                              " channel, address, secret, subject, text, json, attachment,"
                              " severity) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = cache ? *cache : NULL;
    if (!st && sqlite3_prepare_v3(db, sql, -1, cache ? SQLITE_PREPARE_PERSISTENT : 0, &st, NULL) !=
                   SQLITE_OK)
        return db_fail(db, err, org->name);
    if (cache)
        *cache = st;
    int rc = enqueue_rows(db, st, org, m, err);
    if (cache) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    } else {
        sqlite3_finalize(st);
    }
    return rc;
}
