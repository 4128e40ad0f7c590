/* api_int.h - what the API's endpoint files share: the call context, parameter and JSON
 * helpers, scoping, and the endpoint handlers. */
#ifndef DS_API_INT_H
#define DS_API_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "api/auth.h"
#include "store/query.h"
#include "store/store.h"

#define API_POOL 8
#define API_MAX_SEGS 8

struct ds_api {
    struct ds_api_config cfg; /* its strings point into own[] */
    char *own[4];             /* copies of db, web_root, vendor_root, sensor_name */
    pthread_mutex_t mu;       /* the pool */
    struct ds_store *pool[API_POOL];
    bool busy[API_POOL];
    struct ds_ratelimit *rl;
    _Atomic bool stopping;
    _Atomic int streams; /* open event streams */
};

/* One request being answered (one thread). */
struct api_call {
    struct ds_api *api;
    const struct ds_http_request *rq;
    struct ds_http_response *rs;
    struct ds_store *store; /* from the pool, for this call */
    struct ds_principal who;
    bool authed;
    const char *seg[API_MAX_SEGS]; /* the path after /api/v1/, split at '/' */
    int nseg;
};

/* Replies: a JSON value (stolen), or an error. */
void api_json(struct api_call *c, int status, json_t *v);
void api_error(struct api_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Store errors: 503 when busy, 500 otherwise (the message is logged, not shown). */
void api_store_error(struct api_call *c, const struct ds_err *err);

/* Query parameters. Each returns 0, or replies 400 naming the parameter and returns -1. */
int api_int_param(struct api_call *c, const char *name, long def, long min, long max, long *out);
int api_bool_param(struct api_call *c, const char *name, bool *out);
int api_time_param(struct api_call *c, const char *name, int64_t *out, bool *given);
int api_period(struct api_call *c, struct ds_period *p);
/* The request body as a JSON object (400 on anything else). */
json_t *api_body(struct api_call *c);

/* Scoping: may the caller see this organisation / address? Admin and analyst see all. */
bool api_sees_org(const struct api_call *c, int64_t org_id);
bool api_sees_addr(const struct api_call *c, const struct ds_addr *a);
bool api_is_staff(const struct api_call *c); /* admin or analyst */
const struct ds_registry *api_registry(const struct api_call *c);

/* Endpoints (api_*.c). */
void api_meta(struct api_call *c);
void api_me(struct api_call *c);
void api_login(struct api_call *c);
void api_logout(struct api_call *c);
void api_stats(struct api_call *c);
void api_top(struct api_call *c);
void api_year(struct api_call *c);
void api_hosts(struct api_call *c);
void api_host(struct api_call *c);
void api_search(struct api_call *c);
void api_alerts(struct api_call *c);
void api_dos(struct api_call *c);
void api_campaigns(struct api_call *c);
void api_outbreaks(struct api_call *c);
void api_groups(struct api_call *c);
void api_feed(struct api_call *c); /* api_feeds.c */
void api_alert(struct api_call *c);
void api_alert_workflow(struct api_call *c);
void api_orgs(struct api_call *c);
void api_org(struct api_call *c);
void api_org_create(struct api_call *c);
void api_org_delete(struct api_call *c);
void api_users(struct api_call *c);
void api_user_create(struct api_call *c);
void api_user_delete(struct api_call *c);
void api_audit(struct api_call *c);
void api_stream(struct api_call *c);

#endif
