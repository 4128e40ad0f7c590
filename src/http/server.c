/* server.c - the daemon's HTTP server (libmicrohttpd): routes, request bodies up to
 * DS_HTTP_MAX_BODY, one thread per connection. */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/log.h"

struct ds_http {
    struct MHD_Daemon *d;
    struct ds_http_route *routes;
    size_t n;
    unsigned port;
};

/* Per-request state while the body arrives. */
struct pending {
    char *body;
    size_t len;
    bool too_big;
};

const char *ds_http_header(const struct ds_http_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

void ds_http_reply(struct ds_http_response *rs, int status, const char *content_type,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(rs->body);
    rs->body = NULL;
    int n = vasprintf(&rs->body, fmt, ap);
    va_end(ap);
    rs->len = n > 0 ? (size_t)n : 0;
    rs->status = status;
    rs->content_type = content_type;
}

static const struct ds_http_route *route(const struct ds_http *h, const char *method,
                                         const char *path)
{
    for (size_t i = 0; i < h->n; i++) {
        const struct ds_http_route *r = &h->routes[i];
        if (r->method && strcmp(r->method, method))
            continue;
        size_t l = strlen(r->path);
        if (l && r->path[l - 1] == '/' ? strncmp(path, r->path, l) == 0 : strcmp(path, r->path) == 0)
            return r;
    }
    return NULL;
}

static enum MHD_Result reply_send(struct MHD_Connection *c, struct ds_http_response *rs)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(rs->len, rs->body ? rs->body : (char *)"",
                                        rs->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    rs->body = NULL; /* libmicrohttpd frees it */
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type",
                            rs->content_type ? rs->content_type : "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (rs->extra_header_name && rs->extra_header_value)
        MHD_add_response_header(resp, rs->extra_header_name, rs->extra_header_value);
    enum MHD_Result r = MHD_queue_response(c, (unsigned)rs->status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    struct ds_http *h = cls;
    struct pending *p = *con_cls;
    if (!p) { /* the first call: headers only */
        p = calloc(1, sizeof *p);
        if (!p)
            return MHD_NO;
        *con_cls = p;
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        if (p->len + *upload_size > DS_HTTP_MAX_BODY) {
            p->too_big = true;
        } else if (!p->too_big) {
            char *nb = realloc(p->body, p->len + *upload_size + 1);
            if (!nb)
                return MHD_NO;
            memcpy(nb + p->len, upload, *upload_size);
            p->body = nb;
            p->len += *upload_size;
            p->body[p->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    struct ds_http_response rs = {.status = 500};
    if (p->too_big) {
        ds_http_reply(&rs, 413, "application/json",
                      "{\"error\": \"request body larger than %u bytes\"}\n", DS_HTTP_MAX_BODY);
        return reply_send(c, &rs);
    }
    const struct ds_http_route *r = route(h, method, url);
    if (!r) {
        ds_http_reply(&rs, 404, "application/json", "{\"error\": \"no such path\"}\n");
        return reply_send(c, &rs);
    }
    struct ds_http_request rq = {.method = method,
                                 .path = url,
                                 .query = "",
                                 .body = p->body ? p->body : "",
                                 .body_len = p->len,
                                 .conn = c};
    r->fn(r->ctx, &rq, &rs);
    enum MHD_Result res = reply_send(c, &rs);
    free(rs.body);
    return res;
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct pending *p = *con_cls;
    if (p) {
        free(p->body);
        free(p);
    }
    *con_cls = NULL;
}

int ds_http_start(struct ds_http **out, const char *listen, const struct ds_http_route *routes,
                  size_t n_routes, struct ds_err *err)
{
    *out = NULL;
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return ds_err_set(err, -EINVAL, "--http '%s': give ADDR:PORT, e.g. 127.0.0.1:8080",
                          listen);
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return ds_err_set(err, -EINVAL, "--http '%s': bad port", listen);
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    bool v6 = host[0] == '[';
    if (v6) {
        size_t l = strlen(host);
        if (l < 3 || host[l - 1] != ']')
            return ds_err_set(err, -EINVAL, "--http '%s': bad IPv6 address", listen);
        host[l - 1] = 0;
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return ds_err_set(err, -EINVAL, "--http '%s': bad IPv6 address", listen);
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return ds_err_set(err, -EINVAL, "--http '%s': '%s' is not an IPv4 address", listen,
                              host);
        sl = sizeof *a;
    }
    (void)sl;
    struct ds_http *h = calloc(1, sizeof *h);
    if (!h || !(h->routes = calloc(n_routes ? n_routes : 1, sizeof *h->routes))) {
        free(h);
        return ds_err_set(err, -ENOMEM, "out of memory");
    }
    memcpy(h->routes, routes, n_routes * sizeof *routes);
    h->n = n_routes;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, &ss,
                            MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)128, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_END);
    if (!h->d) {
        free(h->routes);
        free(h);
        return ds_err_set(err, -EADDRINUSE, "--http %s: cannot listen (in use, or not an address of "
                                            "this host)",
                          listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : (unsigned)port;
    *out = h;
    return 0;
}

unsigned ds_http_port(const struct ds_http *h) { return h->port; }

void ds_http_stop(struct ds_http *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->d);
    free(h->routes);
    free(h);
}
