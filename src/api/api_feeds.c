/* api_feeds.c - the API's sharing feeds: GET /api/v1/feeds/KIND?format=&asn=&prefix=&from=&to=
 * (docs/feeds.md). Staff may select any ASN or prefix; an organisation user gets only rows
 * inside its own livenet ranges, whatever it asks for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "feed/feed.h"

static bool keep_own(void *ctx, const struct ds_addr *a)
{
    return api_sees_addr(ctx, a);
}

/* A comma-separated parameter, each value added by fn: 0, or replies 400 and returns -1. */
static int list_param(struct api_call *c, struct ds_feed_query *q, const char *name,
                      int (*fn)(struct ds_feed_query *, const char *, const char *,
                                struct ds_err *))
{
    const char *v = ds_http_arg(c->rq, name);
    if (!v || !*v)
        return 0;
    char *dup = strdup(v), *save = NULL;
    if (!dup) {
        api_error(c, 500, "out of memory");
        return -1;
    }
    struct ds_err err = {0};
    int rc = 0;
    for (char *t = strtok_r(dup, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save))
        rc = fn(q, t, name, &err);
    free(dup);
    if (rc < 0) {
        api_error(c, 400, "parameter %s", err.msg);
        return -1;
    }
    return 0;
}

void api_feed(struct api_call *c)
{
    const struct ds_feed_kind *kind = ds_feed_kind_find(c->seg[1]);
    if (!kind || c->nseg != 2) {
        api_error(c, 404, "no feed '%.32s' (infected, dos, stats)", c->seg[1]);
        return;
    }
    /* statistics are staff's, as GET /stats is (docs/api.md: organisations get none) */
    if (!kind->by_address && !api_is_staff(c)) {
        api_error(c, 403, "the %s role may not read the %s feed", ds_role_names[c->who.role],
                  kind->name);
        return;
    }
    const char *fname = ds_http_arg(c->rq, "format");
    const struct ds_feed_format *fmt = ds_feed_format_find(fname && *fname ? fname : "json");
    if (!fmt) {
        api_error(c, 400, "parameter format='%.32s': csv, json, stix or misp", fname);
        return;
    }
    struct ds_feed_query q = {0};
    long top, limit;
    if (api_period(c, &q.period) < 0 || api_int_param(c, "top", 10, 1, 10000, &top) < 0 ||
        api_int_param(c, "limit", 0, 0, 100000000, &limit) < 0 ||
        list_param(c, &q, "asn", ds_feed_add_asn) < 0 ||
        list_param(c, &q, "prefix", ds_feed_add_prefix) < 0)
        return;
    q.top = (size_t)top;
    q.limit = (size_t)limit;
    if (!kind->by_address && (q.n_asns || q.n_prefixes)) {
        api_error(c, 400, "feed %s: parameters asn and prefix do not apply", kind->name);
        return;
    }
    /* an organisation: its own livenet only; the filters it sent can only narrow that */
    if (!api_is_staff(c)) {
        q.keep = keep_own;
        q.keep_ctx = c;
    }
    struct ds_feed feed = {0};
    snprintf(feed.producer, sizeof feed.producer, "%s",
             c->api->cfg.sensor_name && *c->api->cfg.sensor_name ? c->api->cfg.sensor_name
                                                                 : "darkscope");
    struct ds_err err = {0};
    if (ds_feed_read(c->store, kind, &q, &feed, &err) < 0) {
        if (err.code == -EINVAL || err.code == -E2BIG)
            api_error(c, 400, "%s", err.msg);
        else
            api_store_error(c, &err);
        return;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        ds_feed_free(&feed);
        api_error(c, 500, "out of memory");
        return;
    }
    int rc = ds_feed_write(f, fmt, &feed, &err);
    fclose(f);
    ds_feed_free(&feed);
    if (rc < 0) {
        free(buf);
        if (rc == -ENOTSUP)
            api_error(c, 400, "%s", err.msg);
        else
            api_error(c, 500, "the feed could not be written");
        return;
    }
    ds_http_reply_take(c->rs, 200, fmt->content_type, buf, len);
    ds_http_add_header(c->rs, "Content-Disposition", "inline; filename=\"%s.%s\"", kind->name,
                       !strcmp(fmt->name, "csv")    ? "csv"
                       : !strcmp(fmt->name, "json") ? "jsonl"
                                                    : "json");
}
