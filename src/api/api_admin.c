/* api_admin.c - API endpoints about accounts and organisations: meta, login/logout, me,
 * organisations (read for everyone within scope, write for admins), users and the audit log. */
#include "api/api_int.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "core/log.h"

static int err_status(int code)
{
    return code == -EINVAL ? 400 : code == -EEXIST ? 409 : code == -ENOENT ? 404 : 500;
}

static void reply_err(struct api_call *c, const struct ds_err *err)
{
    int st = err_status(err->code);
    if (st == 500)
        api_store_error(c, err);
    else
        api_error(c, st, "%s", err->msg);
}

static json_t *me_json(const struct api_call *c);

void api_meta(struct api_call *c)
{
    const struct ds_api_config *cf = &c->api->cfg;
    json_t *classes = json_array(), *fps = json_array();
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        json_array_append_new(classes, json_pack("{s:s, s:s}", "name", ds_class_table[i].name,
                                                 "description", ds_class_table[i].description));
    for (int i = 0; i < DS_FP_COUNT; i++)
        json_array_append_new(fps, json_pack("{s:s, s:s}", "name", ds_fingerprints[i]->name,
                                             "description", ds_fingerprints[i]->description));
    json_t *o = json_pack("{s:s, s:i, s:b, s:{s:s, s:f, s:f}, s:o, s:o}", "version", DS_VERSION,
                          "api", 1, "live", cf->tap != NULL, "sensor", "name",
                          cf->sensor_name ? cf->sensor_name : "darkscope", "lat", cf->sensor_lat,
                          "lon", cf->sensor_lon, "classes", classes, "fingerprints", fps);
    /* the caller's account when the request carries one: the app's first question */
    json_object_set_new(o, "me", c->authed ? me_json(c) : json_null());
    api_json(c, 200, o);
}

static json_t *org_ref(const struct api_call *c, int64_t org_id)
{
    const struct ds_org *o = ds_registry_find(api_registry(c), org_id);
    if (org_id <= 0)
        return json_null();
    return json_pack("{s:I, s:s?}", "id", (json_int_t)org_id, "name", o ? o->name : NULL);
}

static json_t *me_json(const struct api_call *c)
{
    json_t *o = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)c->who.user_id, "name",
                          c->who.name, "role", ds_role_names[c->who.role], "org",
                          org_ref(c, c->who.role == DS_ROLE_ORG ? c->who.org_id : 0));
    if (o && c->who.via_session)
        json_object_set_new(o, "csrf", json_string(c->who.csrf));
    return o;
}

void api_me(struct api_call *c)
{
    api_json(c, 200, me_json(c));
}

void api_login(struct api_call *c)
{
    json_t *b = api_body(c);
    if (!b)
        return;
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *pw = json_string_value(json_object_get(b, "password"));
    if (!name || !pw) {
        json_decref(b);
        api_error(c, 400, "login: give {\"name\": ..., \"password\": ...}");
        return;
    }
    int wait = ds_ratelimit_check(c->api->rl, c->rq->client, name);
    if (wait > 0) {
        json_decref(b);
        api_error(c, 429, "too many failed logins: try again in %d s", wait);
        ds_http_add_header(c->rs, "Retry-After", "%d", wait);
        return;
    }
    struct ds_err err = {0};
    struct ds_principal p;
    int rc = ds_auth_password(c->store, name, pw, &p, &err);
    if (rc < 0) {
        json_decref(b);
        api_store_error(c, &err);
        return;
    }
    if (rc == 0) {
        ds_ratelimit_fail(c->api->rl, c->rq->client, name);
        ds_warn("api", "failed login for '%.64s' from %s", name, c->rq->client);
        char detail[128];
        snprintf(detail, sizeof detail, "{\"client\": \"%.60s\"}", c->rq->client);
        ds_audit(c->store, name, "login.failed", name, detail, NULL);
        json_decref(b);
        api_error(c, 401, "wrong name or password");
        return;
    }
    ds_ratelimit_ok(c->api->rl, c->rq->client, name);
    json_decref(b); /* name points into b */
    char sid[DS_TOKEN_HEX + 1];
    if (ds_session_new(c->store, &p, c->api->cfg.session_ttl_s, sid, &err) < 0) {
        api_store_error(c, &err);
        return;
    }
    c->who = p;
    c->authed = true;
    char detail[128];
    snprintf(detail, sizeof detail, "{\"client\": \"%.60s\"}", c->rq->client);
    ds_audit(c->store, p.name, "login", p.name, detail, NULL);
    api_json(c, 200, me_json(c));
    ds_http_add_header(c->rs, "Set-Cookie",
                       "ds_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s", sid,
                       c->api->cfg.session_ttl_s, c->api->cfg.secure_cookies ? "; Secure" : "");
}

void api_logout(struct api_call *c)
{
    struct ds_err err = {0};
    const char *sid = ds_http_cookie(c->rq, "ds_session");
    if (sid && ds_session_end(c->store, sid, &err) < 0) {
        api_store_error(c, &err);
        return;
    }
    ds_audit(c->store, c->who.name, "logout", c->who.name, "{}", NULL);
    api_json(c, 200, json_pack("{s:b}", "logged_out", 1));
    ds_http_add_header(c->rs, "Set-Cookie",
                       "ds_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
                       c->api->cfg.secure_cookies ? "; Secure" : "");
}

/* ---------------------------------------------------------------- organisations ---------- */

static json_t *prefixes(const struct ds_prefix *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        char buf[DS_PREFIX_STRLEN];
        ds_prefix_format(&v[i], buf);
        json_array_append_new(a, json_string(buf));
    }
    return a;
}

static json_t *org_json(const struct api_call *c, const struct ds_org *o)
{
    (void)c;
    json_t *contacts = json_array();
    for (size_t i = 0; i < o->n_contacts; i++)
        json_array_append_new(
            contacts, json_pack("{s:s, s:s, s:b}", "channel", o->contacts[i].channel, "address",
                                o->contacts[i].address, "signed", o->contacts[i].secret != NULL));
    return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)o->id, "name",
                     o->name, "lang", o->lang ? o->lang : "en", "channels",
                     o->channels ? o->channels : "", "livenet", prefixes(o->livenet, o->n_livenet),
                     "darknet", prefixes(o->darknet, o->n_darknet), "contacts", contacts);
}

void api_orgs(struct api_call *c)
{
    const struct ds_registry *r = api_registry(c);
    json_t *a = json_array();
    for (size_t i = 0; r && i < r->n_orgs; i++)
        if (api_sees_org(c, r->orgs[i].id))
            json_array_append_new(a, org_json(c, &r->orgs[i]));
    api_json(c, 200, json_pack("{s:o}", "orgs", a));
}

static int parse_id(struct api_call *c, const char *s, int64_t *id)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v <= 0) {
        api_error(c, 400, "'%.40s' is not an id", s);
        return -1;
    }
    *id = v;
    return 0;
}

void api_org(struct api_call *c)
{
    int64_t id;
    if (parse_id(c, c->seg[1], &id) < 0)
        return;
    const struct ds_org *o = ds_registry_find(api_registry(c), id);
    if (!o || !api_sees_org(c, id)) { /* another organisation's: as if it did not exist */
        api_error(c, 404, "no organisation %" PRId64, id);
        return;
    }
    json_t *j = org_json(c, o);
    json_t *counts = json_object();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ds_store_db(c->store),
                           "SELECT kase, state, count(*), sum(packets) FROM alert WHERE org = ?"
                           " GROUP BY 1, 2",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int k = sqlite3_column_int(st, 0), s = sqlite3_column_int(st, 1);
            if (k < 0 || k >= DS_CASE_COUNT || s < 0 || s >= DS_ALERT_STATE_COUNT)
                continue;
            json_t *kc = json_object_get(counts, ds_case_names[k]);
            if (!kc) {
                kc = json_object();
                json_object_set_new(counts, ds_case_names[k], kc);
            }
            json_object_set_new(kc, ds_alert_state_names[s],
                                json_pack("{s:I, s:I}", "alerts",
                                          (json_int_t)sqlite3_column_int64(st, 2), "packets",
                                          (json_int_t)sqlite3_column_int64(st, 3)));
        }
        sqlite3_finalize(st);
    }
    json_object_set_new(j, "alerts", counts);
    api_json(c, 200, j);
}

/* A JSON array of strings into a NULL-free C array (borrowed pointers). */
static int strings(struct api_call *c, json_t *b, const char *key, const char ***out, size_t *n)
{
    json_t *a = json_object_get(b, key);
    *out = NULL;
    *n = 0;
    if (!a)
        return 0;
    if (!json_is_array(a) || json_array_size(a) > 10000) {
        api_error(c, 400, "'%s' must be an array of strings", key);
        return -1;
    }
    *out = calloc(json_array_size(a) + 1, sizeof **out);
    if (!*out) {
        api_error(c, 500, "out of memory");
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v)) {
            free(*out);
            *out = NULL;
            api_error(c, 400, "'%s'[%zu] is not a string", key, i);
            return -1;
        }
        (*out)[(*n)++] = json_string_value(v);
    }
    return 0;
}

void api_org_create(struct api_call *c)
{
    json_t *b = api_body(c);
    if (!b)
        return;
    struct ds_org_spec sp = {.name = json_string_value(json_object_get(b, "name")),
                             .lang = json_string_value(json_object_get(b, "lang")),
                             .channels = json_string_value(json_object_get(b, "channels")),
                             .allow_overlap = json_is_true(json_object_get(b, "allow_overlap"))};
    const char **secrets = NULL;
    int ok = sp.name ? 0 : -1;
    if (ok < 0)
        api_error(c, 400, "'name' (a string) is required");
    if (ok == 0)
        ok = strings(c, b, "livenet", (const char ***)&sp.livenet, &sp.n_livenet);
    if (ok == 0)
        ok = strings(c, b, "darknet", (const char ***)&sp.darknet, &sp.n_darknet);
    if (ok == 0)
        ok = strings(c, b, "emails", (const char ***)&sp.emails, &sp.n_emails);
    if (ok == 0)
        ok = strings(c, b, "webhooks", (const char ***)&sp.webhooks, &sp.n_webhooks);
    if (ok == 0) {
        size_t ns;
        ok = strings(c, b, "webhook_secrets", &secrets, &ns);
        if (ok == 0 && secrets && ns != sp.n_webhooks) {
            api_error(c, 400, "'webhook_secrets' must have one entry per webhook");
            ok = -1;
        }
        sp.webhook_secrets = secrets;
    }
    if (ok == 0)
        ok = strings(c, b, "syslogs", (const char ***)&sp.syslogs, &sp.n_syslogs);
    if (ok == 0 && json_object_get(b, "files")) {
        api_error(c, 400, "file contacts can only be added on the sensor (darkscope org)");
        ok = -1;
    }
    if (ok == 0) {
        struct ds_err err = {0};
        int64_t id;
        if (ds_registry_add_org(c->store, &sp, c->who.name, &id, &err) < 0)
            reply_err(c, &err);
        else
            api_json(c, 201, json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", sp.name));
    }
    free((void *)sp.livenet);
    free((void *)sp.darknet);
    free((void *)sp.emails);
    free((void *)sp.webhooks);
    free((void *)sp.syslogs);
    free(secrets);
    json_decref(b);
}

void api_org_delete(struct api_call *c)
{
    int64_t id;
    if (parse_id(c, c->seg[1], &id) < 0)
        return;
    const struct ds_org *o = ds_registry_find(api_registry(c), id);
    if (!o) {
        api_error(c, 404, "no organisation %" PRId64, id);
        return;
    }
    struct ds_err err = {0};
    if (ds_registry_remove_org(c->store, o->name, c->who.name, &err) < 0)
        reply_err(c, &err);
    else
        api_json(c, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "removed", 1));
}

/* ---------------------------------------------------------------- users, audit ----------- */

void api_users(struct api_call *c)
{
    sqlite3_stmt *st;
    json_t *a = json_array();
    if (sqlite3_prepare_v2(ds_store_db(c->store),
                           "SELECT id, name, role, IFNULL(org, 0), created, disabled,"
                           " pw_hash IS NOT NULL FROM user ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        json_decref(a);
        struct ds_err err;
        ds_err_set(&err, -EIO, "%s", sqlite3_errmsg(ds_store_db(c->store)));
        api_store_error(c, &err);
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:o, s:s, s:b, s:b}", "id",
                                           (json_int_t)sqlite3_column_int64(st, 0), "name",
                                           (const char *)sqlite3_column_text(st, 1), "role",
                                           (const char *)sqlite3_column_text(st, 2), "org",
                                           org_ref(c, sqlite3_column_int64(st, 3)), "created",
                                           (const char *)sqlite3_column_text(st, 4), "disabled",
                                           sqlite3_column_int(st, 5), "password",
                                           sqlite3_column_int(st, 6)));
    sqlite3_finalize(st);
    api_json(c, 200, json_pack("{s:o}", "users", a));
}

void api_user_create(struct api_call *c)
{
    json_t *b = api_body(c);
    if (!b)
        return;
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *role = json_string_value(json_object_get(b, "role"));
    const char *org = json_string_value(json_object_get(b, "org"));
    const char *pw = json_string_value(json_object_get(b, "password"));
    int r = ds_role_parse(role);
    if (!name || r < 0) {
        json_decref(b);
        api_error(c, 400, "give 'name' and 'role' (admin, analyst or org)");
        return;
    }
    struct ds_err err = {0};
    char token[DS_TOKEN_HEX + 1];
    int64_t id;
    if (ds_user_add(c->store, name, (enum ds_role)r, org, pw, c->who.name, &id, token, &err) < 0)
        reply_err(c, &err);
    else
        api_json(c, 201,
                 json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "name", name, "role", role,
                           "token", token));
    json_decref(b);
}

void api_user_delete(struct api_call *c)
{
    struct ds_err err = {0};
    if (!strcmp(c->seg[1], c->who.name)) {
        api_error(c, 400, "you cannot remove your own account");
        return;
    }
    if (ds_user_remove(c->store, c->seg[1], c->who.name, &err) < 0)
        reply_err(c, &err);
    else
        api_json(c, 200, json_pack("{s:s, s:b}", "name", c->seg[1], "removed", 1));
}

void api_audit(struct api_call *c)
{
    long limit, before;
    if (api_int_param(c, "limit", 100, 1, 10000, &limit) < 0 ||
        api_int_param(c, "before", 0, 0, INT64_MAX, &before) < 0)
        return;
    sqlite3_stmt *st;
    json_t *a = json_array();
    if (sqlite3_prepare_v2(ds_store_db(c->store),
                           "SELECT id, at, who, what, object, detail FROM audit"
                           " WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        json_decref(a);
        struct ds_err err;
        ds_err_set(&err, -EIO, "%s", sqlite3_errmsg(ds_store_db(c->store)));
        api_store_error(c, &err);
        return;
    }
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, limit);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *detail = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
        json_array_append_new(a, json_pack("{s:I, s:s, s:s, s:s, s:s, s:o}", "id",
                                           (json_int_t)sqlite3_column_int64(st, 0), "at",
                                           (const char *)sqlite3_column_text(st, 1), "who",
                                           (const char *)sqlite3_column_text(st, 2), "what",
                                           (const char *)sqlite3_column_text(st, 3), "object",
                                           (const char *)sqlite3_column_text(st, 4), "detail",
                                           detail ? detail : json_null()));
    }
    sqlite3_finalize(st);
    api_json(c, 200, json_pack("{s:o}", "audit", a));
}
