/* server.c - the daemon's HTTP server (libmicrohttpd): routes, request bodies up to
 * DS_HTTP_MAX_BODY, buffered or streamed responses, one thread per connection, TLS. */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
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
    bool tls;
    char *cert, *key; /* PEM contents (libmicrohttpd wants them in memory) */
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

const char *ds_http_arg(const struct ds_http_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *ds_http_cookie(const struct ds_http_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, name);
}

void ds_http_reply_take(struct ds_http_response *rs, int status, const char *content_type,
                        char *body, size_t len)
{
    free(rs->body);
    rs->body = body;
    rs->len = body ? len : 0;
    rs->status = status;
    rs->content_type = content_type;
}

/* Appends s to b as a JSON string body (without quotes). */
static void json_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = 0;
}

void ds_http_error(struct ds_http_response *rs, int status, const char *fmt, ...)
{
    char msg[512], esc[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_escape(esc, sizeof esc, msg);
    ds_http_reply(rs, status, "application/json", "{\"error\": \"%s\", \"status\": %d}\n", esc,
                  status);
}

void ds_http_add_header(struct ds_http_response *rs, const char *name, const char *fmt, ...)
{
    if (rs->n_headers >= DS_HTTP_MAX_HEADERS)
        return;
    char *v = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&v, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    rs->headers[rs->n_headers].name = name;
    rs->headers[rs->n_headers].value = v;
    rs->n_headers++;
}

static void response_free(struct ds_http_response *rs)
{
    free(rs->body);
    rs->body = NULL;
    for (int i = 0; i < rs->n_headers; i++)
        free(rs->headers[i].value);
    rs->n_headers = 0;
    if (rs->stream.done)
        rs->stream.done(rs->stream.ctx);
    rs->stream = (struct ds_http_stream){0};
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct ds_http_stream *st = cls;
    ssize_t n = st->read(st->ctx, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

static void stream_free(void *cls)
{
    struct ds_http_stream *st = cls;
    if (st->done)
        st->done(st->ctx);
    free(st);
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
        if (l && r->path[l - 1] == '/' ? strncmp(path, r->path, l) == 0
                                       : strcmp(path, r->path) == 0)
            return r;
    }
    return NULL;
}

static enum MHD_Result reply_send(struct MHD_Connection *c, struct ds_http_response *rs)
{
    struct MHD_Response *resp;
    if (rs->stream.read) {
        struct ds_http_stream *st = malloc(sizeof *st);
        if (!st) {
            response_free(rs);
            return MHD_NO;
        }
        *st = rs->stream;
        rs->stream = (struct ds_http_stream){0}; /* the response owns it now */
        resp =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
        if (!resp)
            stream_free(st);
    } else {
        resp = MHD_create_response_from_buffer(rs->len, rs->body ? rs->body : (char *)"",
                                               rs->body ? MHD_RESPMEM_MUST_FREE
                                                        : MHD_RESPMEM_PERSISTENT);
        if (resp)
            rs->body = NULL; /* libmicrohttpd frees it */
    }
    if (!resp) {
        response_free(rs);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            rs->content_type ? rs->content_type : "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    bool cache = false;
    for (int i = 0; i < rs->n_headers; i++) {
        MHD_add_response_header(resp, rs->headers[i].name, rs->headers[i].value);
        cache |= strcasecmp(rs->headers[i].name, "Cache-Control") == 0;
    }
    if (!cache)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result r = MHD_queue_response(c, (unsigned)rs->status, resp);
    MHD_destroy_response(resp);
    response_free(rs);
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
        ds_http_error(&rs, 413, "request body larger than %u bytes", DS_HTTP_MAX_BODY);
        return reply_send(c, &rs);
    }
    const struct ds_http_route *r = route(h, method, url);
    if (!r) {
        ds_http_error(&rs, 404, "no such path: %s %s", method, url);
        return reply_send(c, &rs);
    }
    char client[64] = "?";
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, client, sizeof client);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, client,
                      sizeof client);
    }
    struct ds_http_request rq = {.method = method,
                                 .path = url,
                                 .body = p->body ? p->body : "",
                                 .body_len = p->len,
                                 .client = client,
                                 .tls = h->tls,
                                 .conn = c};
    r->fn(r->ctx, &rq, &rs);
    if (!rs.stream.read && !rs.body && rs.status == 500)
        ds_http_error(&rs, 500, "internal error");
    return reply_send(c, &rs);
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

static char *slurp(const char *path, struct ds_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ds_err_set(err, -errno, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (4u << 20)) {
                ds_err_set(err, -EFBIG, "%s: larger than 4 MiB: not a PEM file", path);
                goto bad;
            }
            char *n = realloc(buf, cap);
            if (!n) {
                ds_err_set(err, -ENOMEM, "out of memory");
                goto bad;
            }
            buf = n;
        }
        size_t r = fread(buf + len, 1, 4096, f);
        len += r;
        if (r < 4096)
            break;
    }
    if (ferror(f)) {
        ds_err_set(err, -EIO, "%s: read error", path);
        goto bad;
    }
    fclose(f);
    buf[len] = 0;
    if (!strstr(buf, "-----BEGIN ")) {
        ds_err_set(err, -EINVAL, "%s: not a PEM file (no -----BEGIN line)", path);
        free(buf);
        return NULL;
    }
    return buf;
bad:
    fclose(f);
    free(buf);
    return NULL;
}

int ds_http_start(struct ds_http **out, const struct ds_http_config *cfg,
                  const struct ds_http_route *routes, size_t n_routes, struct ds_err *err)
{
    *out = NULL;
    const char *listen = cfg->listen ? cfg->listen : "";
    char host[128];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
        return ds_err_set(err, -EINVAL, "--http '%s': give ADDR:PORT, e.g. 127.0.0.1:8080", listen);
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
    if (!cfg->cert_file != !cfg->key_file) {
        free(h->routes);
        free(h);
        return ds_err_set(err, -EINVAL, "HTTPS needs both a certificate and a key file");
    }
    if (cfg->cert_file) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            free(h->routes);
            free(h);
            return ds_err_set(err, -ENOTSUP, "this libmicrohttpd has no TLS support");
        }
        if (!(h->cert = slurp(cfg->cert_file, err)) || !(h->key = slurp(cfg->key_file, err))) {
            ds_http_stop(h);
            return err->code;
        }
        h->tls = true;
    }
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0) | (h->tls ? MHD_USE_TLS : 0);
    unsigned maxc = cfg->max_connections ? cfg->max_connections : 256;
    if (h->tls)
        h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, &ss,
                                MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
                                MHD_OPTION_CONNECTION_LIMIT, maxc, MHD_OPTION_CONNECTION_TIMEOUT,
                                (unsigned)60, MHD_OPTION_HTTPS_MEM_CERT, h->cert,
                                MHD_OPTION_HTTPS_MEM_KEY, h->key, MHD_OPTION_END);
    else
        h->d =
            MHD_start_daemon(flags, 0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR, &ss,
                             MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_CONNECTION_LIMIT,
                             maxc, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!h->d) {
        if (h->tls) {
            ds_http_stop(h);
            return ds_err_set(err, -EINVAL,
                              "--http %s: cannot start HTTPS (address in use, or the certificate "
                              "%s and key %s do not form a valid pair)",
                              listen, cfg->cert_file, cfg->key_file);
        }
        free(h->routes);
        free(h);
        return ds_err_set(err, -EADDRINUSE,
                          "--http %s: cannot listen (in use, or not an address of "
                          "this host)",
                          listen);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : (unsigned)port;
    *out = h;
    return 0;
}

unsigned ds_http_port(const struct ds_http *h)
{
    return h->port;
}

void ds_http_stop(struct ds_http *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    free(h->routes);
    free(h->cert);
    free(h->key);
    free(h);
}
