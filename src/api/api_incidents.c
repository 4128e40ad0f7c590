/* api_incidents.c - the API's incident endpoints: DoS attacks inferred from backscatter,
 * reflector-hunting campaigns. */
#include <string.h>

#include "api/api_int.h"
#include "incident/groups.h"
#include "store/query.h"

/* An organisation user sees the attacks on its own livenet addresses only. */
static bool keep_own(void *ctx, const struct ds_addr *victim)
{
    return api_sees_addr(ctx, victim);
}

void api_dos(struct api_call *c)
{
    long limit, offset;
    struct ds_period p;
    if (api_int_param(c, "limit", 100, 1, 10000, &limit) < 0 ||
        api_int_param(c, "offset", 0, 0, 100000000, &offset) < 0 || api_period(c, &p) < 0)
        return;
    const char *victim = ds_http_arg(c->rq, "victim");
    struct ds_prefix pf;
    if (victim && *victim && ds_prefix_parse(&pf, victim, NULL) < 0) {
        api_error(c, 400, "victim '%.64s': give an address or a prefix (CIDR)", victim);
        return;
    }
    struct ds_dos_query q = {.period = p,
                             .victim = victim,
                             .limit = (size_t)limit,
                             .offset = (size_t)offset,
                             .keep = api_is_staff(c) ? NULL : keep_own,
                             .keep_ctx = c};
    struct ds_err err = {0};
    json_t *list;
    if (ds_query_dos(c->store, &q, &list, &err) < 0) {
        api_store_error(c, &err);
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "attacks", list));
}

void api_campaigns(struct api_call *c)
{
    long limit, offset;
    bool xr;
    struct ds_period p;
    if (api_int_param(c, "limit", 100, 1, 10000, &limit) < 0 ||
        api_int_param(c, "offset", 0, 0, 100000000, &offset) < 0 ||
        api_bool_param(c, "exclude_research", &xr) < 0 || api_period(c, &p) < 0)
        return;
    const char *source = ds_http_arg(c->rq, "source");
    struct ds_prefix pf;
    if (source && *source && ds_prefix_parse(&pf, source, NULL) < 0) {
        api_error(c, 400, "source '%.64s': give an address or a prefix (CIDR)", source);
        return;
    }
    struct ds_campaign_query q = {.period = p,
                                  .protocol = ds_http_arg(c->rq, "protocol"),
                                  .source = source,
                                  .exclude_research = xr,
                                  .limit = (size_t)limit,
                                  .offset = (size_t)offset,
                                  .keep = api_is_staff(c) ? NULL : keep_own,
                                  .keep_ctx = c};
    struct ds_err err = {0};
    json_t *list;
    if (ds_query_campaigns(c->store, &q, &list, &err) < 0) {
        api_store_error(c, &err);
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "campaigns", list));
}

void api_outbreaks(struct api_call *c)
{
    long limit, offset;
    struct ds_period p;
    if (api_int_param(c, "limit", 100, 1, 10000, &limit) < 0 ||
        api_int_param(c, "offset", 0, 0, 100000000, &offset) < 0 || api_period(c, &p) < 0)
        return;
    const char *dim = ds_http_arg(c->rq, "dim");
    if (dim && *dim && strcmp(dim, "tcp") && strcmp(dim, "udp") && strcmp(dim, "fingerprint") &&
        strcmp(dim, "class")) {
        api_error(c, 400, "dim '%.32s': give tcp, udp, fingerprint or class", dim);
        return;
    }
    struct ds_outbreak_query q = {
        .period = p, .dim = dim, .limit = (size_t)limit, .offset = (size_t)offset};
    struct ds_err err = {0};
    json_t *list;
    if (ds_query_outbreaks(c->store, &q, &list, &err) < 0) {
        api_store_error(c, &err);
        return;
    }
    api_json(c, 200, json_pack("{s:o}", "outbreaks", list));
}

void api_groups(struct api_call *c)
{
    long max;
    if (api_int_param(c, "max_hosts", 50, 1, 5000, &max) < 0)
        return;
    if (!c->api->cfg.groups) {
        api_error(c, 404, "host groups come from a live daemon (darkscope run), not from serve");
        return;
    }
    json_t *g =
        ds_groups_json(c->api->cfg.groups, (size_t)max, api_is_staff(c) ? NULL : keep_own, c);
    if (!g) {
        api_error(c, 500, "out of memory");
        return;
    }
    api_json(c, 200, g);
}
