/* registry.c - the DAEDALUS registry: organisations, ranges and contacts in the store, every
 * change audited, and the read-only snapshot (two prefix tables) the packet path uses. */
#include "alert/registry.h"

#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int db_fail(sqlite3 *db, struct ds_err *err, const char *what)
{
    int code = sqlite3_errcode(db);
    return ds_err_set(err, code == SQLITE_FULL ? -ENOSPC : -EIO, "registry: %s: %s", what,
                      sqlite3_errmsg(db));
}

static char *dup_col(sqlite3_stmt *st, int c)
{
    const unsigned char *t = sqlite3_column_text(st, c);
    return t ? strdup((const char *)t) : NULL;
}

void ds_registry_free(struct ds_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_orgs; i++) {
        struct ds_org *o = &r->orgs[i];
        free(o->name);
        free(o->lang);
        free(o->channels);
        free(o->livenet);
        free(o->darknet);
        for (size_t k = 0; k < o->n_contacts; k++) {
            free(o->contacts[k].channel);
            free(o->contacts[k].address);
            free(o->contacts[k].secret);
        }
        free(o->contacts);
    }
    free(r->orgs);
    ds_lpm_free(r->livenet);
    ds_lpm_free(r->darknet);
    free(r);
}

/* A binary search: a snapshot's organisations are in ascending id order (loaded ORDER BY id),
 * so the alert engine's lookup per dirty alert and the load's per range cost O(log n). */
static struct ds_org *find_mut(struct ds_registry *r, int64_t id)
{
    size_t lo = 0, hi = r->n_orgs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->orgs[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n_orgs && r->orgs[lo].id == id ? &r->orgs[lo] : NULL;
}

const struct ds_org *ds_registry_find(const struct ds_registry *r, int64_t id)
{
    return r ? find_mut((struct ds_registry *)r, id) : NULL;
}

bool ds_registry_in_darknet(const struct ds_registry *r, const struct ds_org *org,
                            const struct ds_addr *a)
{
    if (!r || !org->n_darknet)
        return false;
    if (org->n_darknet <= 16) { /* a few prefixes: compared directly, no table walk */
        for (size_t i = 0; i < org->n_darknet; i++)
            if (ds_prefix_contains(&org->darknet[i], a))
                return true;
        return false;
    }
    struct ds_lpm_iter it;
    uint32_t v;
    ds_lpm_iter_init(&it, r->darknet, a);
    while (ds_lpm_iter_next(&it, NULL, &v))
        if (&r->orgs[v] == org)
            return true;
    return false;
}

static int push_prefix(struct ds_prefix **v, size_t *n, const struct ds_prefix *p)
{
    struct ds_prefix *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return -ENOMEM;
    nv[(*n)++] = *p;
    *v = nv;
    return 0;
}

int ds_registry_load(struct ds_store *s, struct ds_registry **out, struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    sqlite3_stmt *st = NULL;
    struct ds_lpm_builder *bl = NULL, *bd = NULL;
    int rc = 0, step;
    bool own_tx = false;
    struct ds_registry *r = calloc(1, sizeof *r);
    if (!r || ds_lpm_builder_new(&bl, err) < 0 || ds_lpm_builder_new(&bd, err) < 0) {
        rc = ds_err_set(err, -ENOMEM, "out of memory loading the registry");
        goto out;
    }
    /* one read transaction: organisations, ranges and contacts of the same moment (a change
     * committed in between would leave a range without its organisation) */
    own_tx = sqlite3_get_autocommit(db) && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, name, lang, channels, IFNULL(renotify_s, 0),"
                           " IFNULL(group_wait_s, 0), IFNULL(group_interval_s, 0),"
                           " IFNULL(repeat_interval_s, 0) FROM org ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "reading organisations");
        goto out;
    }
    size_t cap = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->n_orgs == cap) {
            cap = cap ? cap * 2 : 64;
            struct ds_org *n = realloc(r->orgs, cap * sizeof *n);
            if (!n) {
                rc = ds_err_set(err, -ENOMEM, "out of memory loading the registry");
                goto out;
            }
            r->orgs = n;
        }
        struct ds_org *o = &r->orgs[r->n_orgs++];
        memset(o, 0, sizeof *o);
        o->id = sqlite3_column_int64(st, 0);
        o->name = dup_col(st, 1);
        o->lang = dup_col(st, 2);
        o->channels = dup_col(st, 3);
        o->renotify_s = sqlite3_column_int64(st, 4);
        o->group_wait_s = sqlite3_column_int64(st, 5);
        o->group_interval_s = sqlite3_column_int64(st, 6);
        o->repeat_interval_s = sqlite3_column_int64(st, 7);
    }
    if (step != SQLITE_DONE) { /* a read error must not load a partial registry */
        rc = db_fail(db, err, "reading organisations");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT org, kind, prefix FROM org_range ORDER BY org, kind, prefix",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "reading ranges");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct ds_org *o = find_mut(r, sqlite3_column_int64(st, 0));
        const char *kind = (const char *)sqlite3_column_text(st, 1);
        const char *text = (const char *)sqlite3_column_text(st, 2);
        struct ds_prefix p;
        if (!o || !kind || !text || ds_prefix_parse(&p, text, err) < 0) {
            rc = ds_err_wrap(err, "registry: a stored range of organisation %" PRId64,
                             (int64_t)sqlite3_column_int64(st, 0));
            rc = rc < 0 ? rc : -EINVAL;
            goto out;
        }
        bool live = strcmp(kind, "livenet") == 0;
        uint32_t idx = (uint32_t)(o - r->orgs);
        if ((rc = push_prefix(live ? &o->livenet : &o->darknet,
                              live ? &o->n_livenet : &o->n_darknet, &p)) < 0 ||
            (rc = ds_lpm_builder_add(live ? bl : bd, &p, idx, err)) < 0) {
            ds_err_set(err, rc, "out of memory loading the registry");
            goto out;
        }
        r->n_ranges++;
    }
    if (step != SQLITE_DONE) {
        rc = db_fail(db, err, "reading ranges");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT org, id, channel, address, secret FROM org_contact ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "reading contacts");
        goto out;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        struct ds_org *o = find_mut(r, sqlite3_column_int64(st, 0));
        if (!o)
            continue;
        struct ds_contact *n = realloc(o->contacts, (o->n_contacts + 1) * sizeof *n);
        if (!n) {
            rc = ds_err_set(err, -ENOMEM, "out of memory loading the registry");
            goto out;
        }
        o->contacts = n;
        struct ds_contact *c = &o->contacts[o->n_contacts++];
        c->id = sqlite3_column_int64(st, 1);
        c->channel = dup_col(st, 2);
        c->address = dup_col(st, 3);
        c->secret = dup_col(st, 4);
    }
    if (step != SQLITE_DONE) {
        rc = db_fail(db, err, "reading contacts");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = ds_lpm_build(bl, &r->livenet, err)) < 0 ||
        (rc = ds_lpm_build(bd, &r->darknet, err)) < 0)
        goto out;
    *out = r;
    r = NULL;
out:
    sqlite3_finalize(st);
    if (own_tx)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL); /* read only: nothing to keep or lose */
    ds_lpm_builder_free(bl);
    ds_lpm_builder_free(bd);
    ds_registry_free(r);
    return rc;
}

/* ---------------------------------------------------------------- changes ---------------- */

static int exec(sqlite3 *db, const char *sql, struct ds_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = ds_err_set(err, -EIO, "registry: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static int audit(sqlite3 *db, const char *who, const char *what, const char *object, json_t *detail,
                 struct ds_err *err)
{
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *d = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    sqlite3_stmt *st;
    int rc = 0;
    if (!d || sqlite3_prepare_v2(db,
                                 "INSERT INTO audit(at, who, what, object, detail)"
                                 " VALUES(?, ?, ?, ?, ?)",
                                 -1, &st, NULL) != SQLITE_OK) {
        free(d);
        return db_fail(db, err, "writing the audit log");
    }
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, who ? who : "unknown", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, what, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, d, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_fail(db, err, "writing the audit log");
    sqlite3_finalize(st);
    free(d);
    return rc;
}

static int org_id(sqlite3 *db, const char *name, int64_t *id, struct ds_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT id FROM org WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "finding the organisation");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (r != SQLITE_ROW)
        return ds_err_set(err, -ENOENT, "no organisation named '%s'", name);
    return 0;
}

/* Does p overlap a livenet range of another organisation than self? Names it in err. */
static int check_overlap(struct ds_store *s, const struct ds_prefix *p, const char *text,
                         int64_t self, struct ds_err *err)
{
    struct ds_registry *r;
    int rc = ds_registry_load(s, &r, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < r->n_orgs && rc == 0; i++) {
        const struct ds_org *o = &r->orgs[i];
        if (o->id == self)
            continue;
        for (size_t k = 0; k < o->n_livenet; k++) {
            const struct ds_prefix *q = &o->livenet[k];
            if (ds_prefix_contains(q, &p->addr) || ds_prefix_contains(p, &q->addr)) {
                char b[DS_PREFIX_STRLEN];
                rc = ds_err_set(err, -EEXIST,
                                "livenet %s overlaps %s of organisation '%s' (give "
                                "--allow-overlap if both really own it)",
                                text, ds_prefix_format(q, b), o->name);
                break;
            }
        }
    }
    ds_registry_free(r);
    return rc;
}

static int insert_range(struct ds_store *s, int64_t id, const char *kind, const char *text,
                        bool allow_overlap, struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    struct ds_prefix p;
    int rc = ds_prefix_parse(&p, text, err);
    if (rc < 0) {
        ds_err_wrap(err, "--%s", kind); /* returns 0 when err is NULL: keep rc */
        return rc;
    }
    if (strcmp(kind, "livenet") == 0 && !allow_overlap &&
        (rc = check_overlap(s, &p, text, id, err)) < 0)
        return rc;
    char canon[DS_PREFIX_STRLEN];
    ds_prefix_format(&p, canon);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO org_range VALUES(?, ?, ?)", -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "adding a range");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, canon, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r == SQLITE_CONSTRAINT)
        return ds_err_set(err, -EEXIST, "%s %s is registered already", kind, canon);
    if (r != SQLITE_DONE)
        return db_fail(db, err, "adding a range");
    return 0;
}

/* Checks a contact's address for its channel: the error names it. */
static int check_contact(const char *channel, const char *address, struct ds_err *err)
{
    if (!address || !*address)
        return ds_err_set(err, -EINVAL, "%s contact: empty address", channel);
    if (strcmp(channel, "smtp") == 0) {
        const char *at = strchr(address, '@');
        if (!at || at == address || !at[1] || strpbrk(address, " \t\r\n<>,;"))
            return ds_err_set(err, -EINVAL, "--email '%s' is not an e-mail address", address);
    } else if (strcmp(channel, "webhook") == 0) {
        if (strncmp(address, "http://", 7) && strncmp(address, "https://", 8))
            return ds_err_set(err, -EINVAL, "--webhook '%s' is not an http:// or https:// URL",
                              address);
    } else if (strcmp(channel, "syslog") == 0) {
        if ((strncmp(address, "udp://", 6) && strncmp(address, "tcp://", 6)) ||
            !strchr(address + 6, ':'))
            return ds_err_set(err, -EINVAL,
                              "--syslog '%s' is not udp://HOST:PORT or tcp://HOST:PORT", address);
    } else if (strcmp(channel, "file") == 0) {
        if (address[0] != '/')
            return ds_err_set(err, -EINVAL, "--file '%s' must be an absolute path", address);
    } else {
        return ds_err_set(err, -EINVAL, "unknown channel '%s' (smtp, webhook, syslog, file)",
                          channel);
    }
    return 0;
}

static int insert_contact(sqlite3 *db, int64_t id, const char *channel, const char *address,
                          const char *secret, struct ds_err *err)
{
    int rc = check_contact(channel, address, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO org_contact(org, channel, address, secret)"
                           " VALUES(?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(db, err, "adding a contact");
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, address, -1, SQLITE_STATIC);
    if (secret)
        sqlite3_bind_text(st, 4, secret, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r == SQLITE_CONSTRAINT)
        return ds_err_set(err, -EEXIST, "%s contact %s is registered already", channel, address);
    if (r != SQLITE_DONE)
        return db_fail(db, err, "adding a contact");
    return 0;
}

static json_t *strings(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i] ? v[i] : ""));
    return a;
}

int ds_registry_add_org(struct ds_store *s, const struct ds_org_spec *spec, const char *who,
                        int64_t *id, struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    if (!spec->name || !*spec->name || strlen(spec->name) > 200)
        return ds_err_set(err, -EINVAL, "--name: an organisation needs a name (1-200 bytes)");
    if (spec->n_livenet == 0 && !spec->analysts)
        return ds_err_set(err, -EINVAL, "organisation '%s': give at least one --livenet range",
                          spec->name);
    const char *lang = spec->lang ? spec->lang : "en";
    if (strcmp(lang, "en") && strcmp(lang, "ja"))
        return ds_err_set(err, -EINVAL, "--lang '%s': en or ja", lang);
    int rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *st;
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (sqlite3_prepare_v2(
            db,
            "INSERT INTO org(name, lang, channels, renotify_s, group_wait_s,"
            " group_interval_s, repeat_interval_s, created)"
            " VALUES(?, ?, ?, NULLIF(?, 0), NULLIF(?, 0), NULLIF(?, 0), NULLIF(?, 0), ?)",
            -1, &st, NULL) != SQLITE_OK) {
        rc = db_fail(db, err, "adding the organisation");
        goto out;
    }
    sqlite3_bind_text(st, 1, spec->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, lang, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, spec->channels ? spec->channels : "smtp,webhook,syslog,file", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, spec->renotify_s);
    sqlite3_bind_int64(st, 5, spec->group_wait_s);
    sqlite3_bind_int64(st, 6, spec->group_interval_s);
    sqlite3_bind_int64(st, 7, spec->repeat_interval_s);
    sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
    int r = sqlite3_step(st);
    sqlite3_finalize(st);
    if (r == SQLITE_CONSTRAINT) {
        rc = ds_err_set(err, -EEXIST, "an organisation named '%s' exists already", spec->name);
        goto out;
    }
    if (r != SQLITE_DONE) {
        rc = db_fail(db, err, "adding the organisation");
        goto out;
    }
    *id = sqlite3_last_insert_rowid(db);
    if (spec->analysts) { /* outbreak alerts go to it (outbreak_alerts.c) */
        char sql[96];
        snprintf(sql, sizeof sql, "UPDATE org SET analysts = 1 WHERE id = %" PRId64, *id);
        rc = exec(db, sql, err);
    }
    for (size_t i = 0; i < spec->n_livenet && rc == 0; i++)
        rc = insert_range(s, *id, "livenet", spec->livenet[i], spec->allow_overlap, err);
    for (size_t i = 0; i < spec->n_darknet && rc == 0; i++)
        rc = insert_range(s, *id, "darknet", spec->darknet[i], true, err);
    for (size_t i = 0; i < spec->n_emails && rc == 0; i++)
        rc = insert_contact(db, *id, "smtp", spec->emails[i], NULL, err);
    for (size_t i = 0; i < spec->n_webhooks && rc == 0; i++)
        rc = insert_contact(db, *id, "webhook", spec->webhooks[i],
                            spec->webhook_secrets ? spec->webhook_secrets[i] : NULL, err);
    for (size_t i = 0; i < spec->n_syslogs && rc == 0; i++)
        rc = insert_contact(db, *id, "syslog", spec->syslogs[i], NULL, err);
    for (size_t i = 0; i < spec->n_files && rc == 0; i++)
        rc = insert_contact(db, *id, "file", spec->files[i], NULL, err);
    if (rc < 0)
        goto out;
    json_t *d = json_pack(
        "{s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "lang", lang, "analysts", spec->analysts,
        "livenet", strings(spec->livenet, spec->n_livenet), "darknet",
        strings(spec->darknet, spec->n_darknet), "emails", strings(spec->emails, spec->n_emails),
        "webhooks", strings(spec->webhooks, spec->n_webhooks), "syslogs",
        strings(spec->syslogs, spec->n_syslogs), "files", strings(spec->files, spec->n_files));
    rc = audit(db, who, "org add", spec->name, d, err);
    json_decref(d);
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
out:
    if (rc < 0)
        exec(db, "ROLLBACK", NULL);
    return rc;
}

int ds_registry_remove_org(struct ds_store *s, const char *name, const char *who,
                           struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    int64_t id;
    int rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    if ((rc = org_id(db, name, &id, err)) < 0)
        goto out;
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA foreign_keys=ON; DELETE FROM org WHERE id = %" PRId64, id);
    if ((rc = exec(db, sql, err)) < 0)
        goto out;
    json_t *d = json_pack("{s:I}", "id", (json_int_t)id);
    rc = audit(db, who, "org remove", name, d, err);
    json_decref(d);
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
out:
    if (rc < 0)
        exec(db, "ROLLBACK", NULL);
    return rc;
}

int ds_registry_range(struct ds_store *s, const char *org, const char *kind, const char *prefix,
                      bool remove, bool allow_overlap, const char *who, struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    if (strcmp(kind, "livenet") && strcmp(kind, "darknet"))
        return ds_err_set(err, -EINVAL, "range kind '%s': livenet or darknet", kind);
    int64_t id;
    int rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    if ((rc = org_id(db, org, &id, err)) < 0)
        goto out;
    if (!remove) {
        rc = insert_range(s, id, kind, prefix, allow_overlap || strcmp(kind, "darknet") == 0, err);
    } else {
        struct ds_prefix p;
        char canon[DS_PREFIX_STRLEN];
        if ((rc = ds_prefix_parse(&p, prefix, err)) < 0)
            goto out;
        ds_prefix_format(&p, canon);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db,
                               "DELETE FROM org_range WHERE org = ? AND kind = ? AND prefix = ?",
                               -1, &st, NULL) != SQLITE_OK) {
            rc = db_fail(db, err, "removing a range");
            goto out;
        }
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, canon, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
        if (sqlite3_changes(db) == 0)
            rc = ds_err_set(err, -ENOENT, "organisation '%s' has no %s %s", org, kind, canon);
    }
    if (rc < 0)
        goto out;
    json_t *d = json_pack("{s:s, s:s}", "kind", kind, "prefix", prefix);
    rc = audit(db, who, remove ? "range remove" : "range add", org, d, err);
    json_decref(d);
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
out:
    if (rc < 0)
        exec(db, "ROLLBACK", NULL);
    return rc;
}

int ds_registry_contact(struct ds_store *s, const char *org, const char *channel,
                        const char *address, const char *secret, bool remove, const char *who,
                        struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    int64_t id;
    int rc = exec(db, "BEGIN IMMEDIATE", err);
    if (rc < 0)
        return rc;
    if ((rc = org_id(db, org, &id, err)) < 0)
        goto out;
    if (!remove) {
        rc = insert_contact(db, id, channel, address, secret, err);
    } else {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(
                db, "DELETE FROM org_contact WHERE org = ? AND channel = ? AND address = ?", -1,
                &st, NULL) != SQLITE_OK) {
            rc = db_fail(db, err, "removing a contact");
            goto out;
        }
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, address, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
        if (sqlite3_changes(db) == 0)
            rc = ds_err_set(err, -ENOENT, "organisation '%s' has no %s contact %s", org, channel,
                            address);
    }
    if (rc < 0)
        goto out;
    /* the secret is never written to the audit log */
    json_t *d = json_pack("{s:s, s:s, s:b}", "channel", channel, "address", address, "secret",
                          secret != NULL);
    rc = audit(db, who, remove ? "contact remove" : "contact add", org, d, err);
    json_decref(d);
    if (rc == 0)
        rc = exec(db, "COMMIT", err);
out:
    if (rc < 0)
        exec(db, "ROLLBACK", NULL);
    return rc;
}

int ds_registry_version(struct ds_store *s, int64_t *version, struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    sqlite3_stmt *st;
    *version = 0;
    if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM audit", -1, &st, NULL) !=
        SQLITE_OK)
        return db_fail(db, err, "reading the audit log");
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int64(st, 0);
    else
        rc = db_fail(db, err, "reading the audit log");
    sqlite3_finalize(st);
    return rc;
}
