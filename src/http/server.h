/* server.h - the daemon's HTTP server (libmicrohttpd): a table of routes, each a handler that
 * fills a response (a buffer, or a stream such as server-sent events); optional TLS. */
#ifndef DS_HTTP_SERVER_H
#define DS_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

#define DS_HTTP_MAX_BODY (1u << 20) /* larger request bodies are refused with 413 */
#define DS_HTTP_MAX_HEADERS 6       /* extra response headers per response */

struct ds_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query, percent-decoded by libmicrohttpd */
    const char *body;   /* NUL-terminated copy of the request body, or "" */
    size_t body_len;
    const char *client; /* the peer's address as text */
    bool tls;           /* arrived over TLS */
    void *conn;         /* the libmicrohttpd connection */
};

/* A request header (case-insensitive), query argument or cookie, or NULL. */
const char *ds_http_header(const struct ds_http_request *rq, const char *name);
const char *ds_http_arg(const struct ds_http_request *rq, const char *name);
const char *ds_http_cookie(const struct ds_http_request *rq, const char *name);

/*
 * A streamed body: read() is called on the connection's thread whenever the client can take
 * more; it may block (server-sent events wait for the next event) and returns the bytes
 * written into buf, 0 to be called again, or -1 to end the stream. done() frees ctx when the
 * connection ends (always called once).
 */
struct ds_http_stream {
    ssize_t (*read)(void *ctx, char *buf, size_t max);
    void (*done)(void *ctx);
    void *ctx;
};

/* Filled by a handler. body is malloc'd (the server frees it). */
struct ds_http_response {
    int status;
    const char *content_type;
    char *body;
    size_t len;
    struct ds_http_stream stream; /* used instead of body when stream.read is set */
    struct {
        const char *name;
        char *value; /* malloc'd */
    } headers[DS_HTTP_MAX_HEADERS];
    int n_headers;
};

/* Sets a response from printf-style text (the body is formatted and owned). */
void ds_http_reply(struct ds_http_response *rs, int status, const char *content_type,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Takes ownership of a malloc'd body. */
void ds_http_reply_take(struct ds_http_response *rs, int status, const char *content_type,
                        char *body, size_t len);
/* {"error": MESSAGE} with the status; the message is JSON-escaped. */
void ds_http_error(struct ds_http_response *rs, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a response header (name must be a literal or outlive the response). */
void ds_http_add_header(struct ds_http_response *rs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A handler: called on one of the server's threads (several may run at once), so ctx must be
 * safe to use from any thread. */
typedef void (*ds_http_handler)(void *ctx, const struct ds_http_request *rq,
                                struct ds_http_response *rs);

struct ds_http_route {
    const char *method; /* NULL: any */
    const char *path;   /* exact, or a prefix when it ends in '/' */
    ds_http_handler fn;
    void *ctx;
};

struct ds_http_config {
    const char *listen;    /* "ADDR:PORT" ("127.0.0.1:8080", "[::1]:8080"; port 0 picks one) */
    const char *cert_file; /* PEM certificate chain: serve HTTPS (with key_file) */
    const char *key_file;
    unsigned max_connections; /* 0: 256 */
};

struct ds_http;

/* Listens; the routes are copied (first match wins). Errors name the address or file. */
int ds_http_start(struct ds_http **out, const struct ds_http_config *cfg,
                  const struct ds_http_route *routes, size_t n_routes, struct ds_err *err);
unsigned ds_http_port(const struct ds_http *h);
void ds_http_stop(struct ds_http *h);

#endif
