/* api.c - the API's front door: store connection pool, authentication (bearer tokens and
 * session cookies), CSRF checks, the endpoint table with the roles allowed on each, and the
 * parameter and JSON helpers the endpoint files share. */
#include "api/api_int.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/timefmt.h"
#include "daemon/prom.h"
#include "http/static.h"

/* ---------------------------------------------------------------- replies ---------------- */

void api_json(struct api_call *c, int status, json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(v);
    if (!s) {
        ds_http_error(c->rs, 500, "out of memory");
        return;
    }
    size_t n = strlen(s);
    ds_http_reply_take(c->rs, status, "application/json", s, n);
}

void api_error(struct api_call *c, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ds_http_error(c->rs, status, "%s", msg);
}

void api_store_error(struct api_call *c, const struct ds_err *err)
{
    ds_error("api", "%s %s: %s", c->rq->method, c->rq->path, err->msg);
    if (err->code == -EBUSY)
        api_error(c, 503, "the store is busy; try again");
    else
        api_error(c, 500, "the store could not answer (logged on the server)");
}

/* ---------------------------------------------------------------- parameters ------------- */

int api_int_param(struct api_call *c, const char *name, long def, long min, long max, long *out)
{
    const char *v = ds_http_arg(c->rq, name);
    *out = def;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno || x < min || x > max) {
        api_error(c, 400, "parameter %s='%.60s': expected an integer from %ld to %ld", name, v, min,
                  max);
        return -1;
    }
    *out = x;
    return 0;
}

int api_bool_param(struct api_call *c, const char *name, bool *out)
{
    const char *v = ds_http_arg(c->rq, name);
    *out = false;
    if (!v)
        return 0;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !*v) {
        *out = true;
        return 0;
    }
    if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no"))
        return 0;
    api_error(c, 400, "parameter %s='%.60s': expected true or false", name, v);
    return -1;
}

int api_time_param(struct api_call *c, const char *name, int64_t *out, bool *given)
{
    const char *v = ds_http_arg(c->rq, name);
    *given = false;
    if (!v)
        return 0;
    struct ds_err err = {0};
    if (ds_time_parse(v, name, out, &err) < 0) {
        api_error(c, 400, "parameter %s", err.msg);
        return -1;
    }
    *given = true;
    return 0;
}

int api_period(struct api_call *c, struct ds_period *p)
{
    memset(p, 0, sizeof *p);
    if (api_time_param(c, "from", &p->from, &p->has_from) < 0 ||
        api_time_param(c, "to", &p->to, &p->has_to) < 0)
        return -1;
    if (p->has_from && p->has_to && p->to <= p->from) {
        api_error(c, 400, "parameters from/to: the period is empty (to must be after from)");
        return -1;
    }
    return 0;
}

json_t *api_body(struct api_call *c)
{
    json_error_t je;
    json_t *v = json_loadb(c->rq->body, c->rq->body_len, 0, &je);
    if (!v) {
        api_error(c, 400, "the body is not JSON: %s (line %d, column %d)", je.text, je.line,
                  je.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        api_error(c, 400, "the body must be a JSON object");
        return NULL;
    }
    return v;
}

/* ---------------------------------------------------------------- scoping ---------------- */

bool api_is_staff(const struct api_call *c)
{
    return c->authed && (c->who.role == DS_ROLE_ADMIN || c->who.role == DS_ROLE_ANALYST);
}

bool api_sees_org(const struct api_call *c, int64_t org_id)
{
    return api_is_staff(c) ||
           (c->authed && c->who.role == DS_ROLE_ORG && org_id > 0 && c->who.org_id == org_id);
}

const struct ds_registry *api_registry(const struct api_call *c)
{
    return c->api->cfg.registry ? atomic_load_explicit(c->api->cfg.registry, memory_order_acquire)
                                : NULL;
}

bool api_sees_addr(const struct api_call *c, const struct ds_addr *a)
{
    if (api_is_staff(c))
        return true;
    if (!c->authed || c->who.role != DS_ROLE_ORG)
        return false;
    const struct ds_org *o = ds_registry_livenet(api_registry(c), a);
    return o && o->id == c->who.org_id;
}

/* ---------------------------------------------------------------- the pool --------------- */

/* Opens a connection of the API: with a page cache of 32 MiB instead of SQLite's 2 MiB, so
 * a report over a year (the coverage of 105,120 intervals, the rank indexes) finds its pages
 * in memory on the next request instead of reading them again from the file. */
static int pool_open(struct ds_store **s, const char *db, struct ds_err *err)
{
    int rc = ds_store_open(s, db, false, err);
    if (rc == 0)
        sqlite3_exec(ds_store_db(*s), "PRAGMA cache_size=-32768", NULL, NULL, NULL);
    return rc;
}

static struct ds_store *pool_get(struct ds_api *a, int *slot, struct ds_err *err)
{
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < API_POOL; i++) {
        if (!a->busy[i]) {
            if (!a->pool[i] && pool_open(&a->pool[i], a->cfg.db, err) < 0) {
                a->pool[i] = NULL;
                pthread_mutex_unlock(&a->mu);
                return NULL;
            }
            a->busy[i] = true;
            *slot = i;
            pthread_mutex_unlock(&a->mu);
            return a->pool[i];
        }
    }
    pthread_mutex_unlock(&a->mu);
    *slot = -1; /* all busy (long streams): a connection of its own */
    struct ds_store *s;
    return pool_open(&s, a->cfg.db, err) < 0 ? NULL : s;
}

static void pool_put(struct ds_api *a, struct ds_store *s, int slot)
{
    if (slot < 0) {
        ds_store_close(s);
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->busy[slot] = false;
    pthread_mutex_unlock(&a->mu);
}

/* ---------------------------------------------------------------- the endpoint table ----- */

#define R_ADMIN (1u << DS_ROLE_ADMIN)
#define R_ANALYST (1u << DS_ROLE_ANALYST)
#define R_ORG (1u << DS_ROLE_ORG)
#define R_STAFF (R_ADMIN | R_ANALYST)
#define R_ALL (R_STAFF | R_ORG)
#define R_PUBLIC 0u /* no account needed */

struct endpoint {
    const char *method;
    const char *pattern; /* segments after /api/v1/; "*" matches one segment */
    void (*fn)(struct api_call *c);
    unsigned roles;
};

static const struct endpoint endpoints[] = {
    {.method = "GET", .pattern = "meta", .fn = api_meta, .roles = R_PUBLIC},
    {.method = "POST", .pattern = "login", .fn = api_login, .roles = R_PUBLIC},
    {.method = "POST", .pattern = "logout", .fn = api_logout, .roles = R_ALL},
    {.method = "GET", .pattern = "me", .fn = api_me, .roles = R_ALL},
    {.method = "GET", .pattern = "stats", .fn = api_stats, .roles = R_STAFF},
    {.method = "GET", .pattern = "top", .fn = api_top, .roles = R_STAFF},
    {.method = "GET", .pattern = "year", .fn = api_year, .roles = R_STAFF},
    {.method = "GET", .pattern = "hosts", .fn = api_hosts, .roles = R_ALL},
    {.method = "GET", .pattern = "hosts/*", .fn = api_host, .roles = R_ALL},
    {.method = "GET", .pattern = "search", .fn = api_search, .roles = R_ALL},
    {.method = "GET", .pattern = "alerts", .fn = api_alerts, .roles = R_ALL},
    {.method = "GET", .pattern = "dos", .fn = api_dos, .roles = R_ALL},
    {.method = "GET", .pattern = "campaigns", .fn = api_campaigns, .roles = R_ALL},
    {.method = "GET", .pattern = "outbreaks", .fn = api_outbreaks, .roles = R_STAFF},
    {.method = "GET", .pattern = "groups", .fn = api_groups, .roles = R_ALL},
    {.method = "GET", .pattern = "feeds/*", .fn = api_feed, .roles = R_ALL},
    {.method = "GET", .pattern = "alerts/*", .fn = api_alert, .roles = R_ALL},
    {.method = "POST", .pattern = "alerts/*/workflow", .fn = api_alert_workflow, .roles = R_ALL},
    {.method = "GET", .pattern = "orgs", .fn = api_orgs, .roles = R_ALL},
    {.method = "POST", .pattern = "orgs", .fn = api_org_create, .roles = R_ADMIN},
    {.method = "GET", .pattern = "orgs/*", .fn = api_org, .roles = R_ALL},
    {.method = "DELETE", .pattern = "orgs/*", .fn = api_org_delete, .roles = R_ADMIN},
    {.method = "GET", .pattern = "users", .fn = api_users, .roles = R_ADMIN},
    {.method = "POST", .pattern = "users", .fn = api_user_create, .roles = R_ADMIN},
    {.method = "DELETE", .pattern = "users/*", .fn = api_user_delete, .roles = R_ADMIN},
    {.method = "GET", .pattern = "audit", .fn = api_audit, .roles = R_ADMIN},
    {.method = "GET", .pattern = "stream", .fn = api_stream, .roles = R_ALL},
};

static bool pattern_match(const char *pattern, struct api_call *c)
{
    int i = 0;
    const char *p = pattern;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (i >= c->nseg)
            return false;
        if (!(l == 1 && *p == '*') && (strlen(c->seg[i]) != l || strncmp(c->seg[i], p, l)))
            return false;
        i++;
        p += l + (e ? 1 : 0);
    }
    return i == c->nseg;
}

/* Bearer token, else session cookie. 1 authenticated, 0 not, <0 store error (replied). */
static int authenticate(struct api_call *c)
{
    struct ds_err err = {0};
    const char *h = ds_http_header(c->rq, "Authorization");
    int rc = 0;
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) != 0) {
            api_error(c, 401, "Authorization: expected 'Bearer TOKEN'");
            return -1;
        }
        rc = ds_auth_token(c->store, h + 7, &c->who, &err);
        if (rc == 0) {
            api_error(c, 401, "the API token is not valid");
            return -1;
        }
    } else {
        const char *sid = ds_http_cookie(c->rq, "ds_session");
        if (sid)
            rc = ds_session_get(c->store, sid, &c->who, &err);
    }
    if (rc < 0) {
        api_store_error(c, &err);
        return -1;
    }
    c->authed = rc == 1;
    return rc;
}

static bool safe_method(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD");
}

static void dispatch(void *ctx, const struct ds_http_request *rq, struct ds_http_response *rs)
{
    struct ds_api *a = ctx;
    struct api_call c = {.api = a, .rq = rq, .rs = rs};
    char path[512];
    const char *rest = rq->path + strlen("/api/v1/");
    if (strlen(rest) >= sizeof path) {
        api_error(&c, 414, "path too long");
        return;
    }
    snprintf(path, sizeof path, "%s", rest);
    for (char *p = path, *save = NULL, *tok; (tok = strtok_r(p, "/", &save)); p = NULL) {
        if (c.nseg == API_MAX_SEGS) {
            api_error(&c, 404, "no such endpoint: %s", rq->path);
            return;
        }
        c.seg[c.nseg++] = tok;
    }
    const struct endpoint *ep = NULL;
    bool path_known = false;
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
        if (!pattern_match(endpoints[i].pattern, &c))
            continue;
        path_known = true;
        if (!strcmp(endpoints[i].method, rq->method)) {
            ep = &endpoints[i];
            break;
        }
    }
    if (!ep) {
        if (path_known)
            api_error(&c, 405, "%s is not allowed on %s", rq->method, rq->path);
        else
            api_error(&c, 404, "no such endpoint: %s", rq->path);
        return;
    }
    struct ds_err err = {0};
    int slot;
    c.store = pool_get(a, &slot, &err);
    if (!c.store) {
        api_store_error(&c, &err);
        return;
    }
    if (authenticate(&c) < 0)
        goto out;
    if (ep->roles != R_PUBLIC) {
        if (!c.authed) {
            api_error(&c, 401, "log in, or send Authorization: Bearer TOKEN");
            goto out;
        }
        if (!(ep->roles & (1u << c.who.role))) {
            api_error(&c, 403, "the %s role may not use %s %s", ds_role_names[c.who.role],
                      rq->method, rq->path);
            goto out;
        }
    }
    /* a browser session changes state only with its CSRF token (a token caller has no
     * ambient credentials to abuse) */
    if (c.authed && c.who.via_session && !safe_method(rq->method)) {
        const char *t = ds_http_header(rq, "X-CSRF-Token");
        if (!t || strlen(t) != strlen(c.who.csrf) ||
            CRYPTO_memcmp(t, c.who.csrf, strlen(c.who.csrf)) != 0) {
            api_error(&c, 403, "missing or wrong X-CSRF-Token header");
            goto out;
        }
    }
    ep->fn(&c);
out:
    pool_put(a, c.store, slot);
}

/* ---------------------------------------------------------------- other routes ----------- */

static void metrics(void *ctx, const struct ds_http_request *rq, struct ds_http_response *rs)
{
    (void)rq;
    struct ds_api *a = ctx;
    if (!a->cfg.prom) { /* serve: no packet path to measure */
        ds_http_error(rs, 404, "no metrics here: /metrics is the daemon's (darkscope run)");
        return;
    }
    size_t len;
    char *text = ds_prom_render(a->cfg.prom, &len);
    if (!text) {
        ds_http_error(rs, 500, "out of memory");
        return;
    }
    ds_http_reply_take(rs, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static void healthz(void *ctx, const struct ds_http_request *rq, struct ds_http_response *rs)
{
    (void)ctx;
    (void)rq;
    ds_http_reply(rs, 200, "text/plain", "ok\n");
}

static void app(void *ctx, const struct ds_http_request *rq, struct ds_http_response *rs)
{
    struct ds_api *a = ctx;
    const char *p = rq->path;
    if (!strncmp(p, "/vendor/", 8)) {
        ds_static_serve(a->cfg.vendor_root, p + 8, rq, rs);
        return;
    }
    /* the app is one page: every other path that is not a file gets index.html */
    if (!strcmp(p, "/") || !ds_static_exists(a->cfg.web_root, p + 1))
        p = "/index.html";
    ds_static_serve(a->cfg.web_root, p + 1, rq, rs);
}

size_t ds_api_routes(struct ds_api *a, struct ds_http_route *r, size_t cap)
{
    size_t n = 0;
    const struct ds_http_route all[] = {
        {.method = NULL, .path = "/api/v1/", .fn = dispatch, .ctx = a},
        {.method = "GET", .path = "/metrics", .fn = metrics, .ctx = a},
        {.method = "GET", .path = "/healthz", .fn = healthz, .ctx = a},
        {.method = "GET", .path = "/", .fn = app, .ctx = a},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < cap; i++) {
        if (all[i].fn == app && !a->cfg.web_root)
            continue;
        r[n++] = all[i];
    }
    return n;
}

int ds_api_open(struct ds_api **out, const struct ds_api_config *cfg, struct ds_err *err)
{
    *out = NULL;
    struct ds_api *a = calloc(1, sizeof *a);
    if (!a || !(a->rl = ds_ratelimit_new())) {
        free(a);
        return ds_err_set(err, -ENOMEM, "out of memory");
    }
    pthread_mutex_init(&a->mu, NULL);
    a->cfg = *cfg;
    const char **strs[4] = {&a->cfg.db, &a->cfg.web_root, &a->cfg.vendor_root, &a->cfg.sensor_name};
    for (int i = 0; i < 4; i++) {
        if (*strs[i] && !(a->own[i] = strdup(*strs[i]))) {
            ds_api_close(a);
            return ds_err_set(err, -ENOMEM, "out of memory");
        }
        *strs[i] = a->own[i];
    }
    if (!a->cfg.session_ttl_s)
        a->cfg.session_ttl_s = 12 * 3600;
    int rc = pool_open(&a->pool[0], cfg->db, err); /* fails early on a bad store */
    if (rc < 0) {
        a->pool[0] = NULL;
        ds_api_close(a);
        return rc;
    }
    *out = a;
    return 0;
}

void ds_api_shutdown(struct ds_api *a)
{
    if (a)
        atomic_store(&a->stopping, true);
}

void ds_api_close(struct ds_api *a)
{
    if (!a)
        return;
    for (int i = 0; i < API_POOL; i++)
        ds_store_close(a->pool[i]);
    ds_ratelimit_free(a->rl);
    pthread_mutex_destroy(&a->mu);
    for (int i = 0; i < 4; i++)
        free(a->own[i]);
    free(a);
}
