/* server.h - the daemon's HTTP server (libmicrohttpd): a table of routes, each a handler that
 * fills a response. Metrics now; the JSON API, live streams and the web UI plug in here. */
#ifndef DS_HTTP_SERVER_H
#define DS_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

#define DS_HTTP_MAX_BODY (1u << 20) /* larger request bodies are refused with 413 */

struct ds_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query */
    const char *query;  /* after '?', or "" */
    const char *body;   /* NUL-terminated copy of the request body, or "" */
    size_t body_len;
    void *conn; /* the libmicrohttpd connection (headers: ds_http_header) */
};

/* Looks up a request header (case-insensitive), or NULL. */
const char *ds_http_header(const struct ds_http_request *rq, const char *name);

/* Filled by a handler. body is malloc'd (the server frees it). */
struct ds_http_response {
    int status;
    const char *content_type;
    char *body;
    size_t len;
    const char *extra_header_name, *extra_header_value; /* one extra header, or NULL */
};

/* Sets a response from printf-style text (the body is formatted and owned). */
void ds_http_reply(struct ds_http_response *rs, int status, const char *content_type,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

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

struct ds_http;

/* Listens on "ADDR:PORT" ("127.0.0.1:8080", "[::1]:8080"; port 0 picks one, see
 * ds_http_port). The routes are copied. Errors name the address. */
int ds_http_start(struct ds_http **out, const char *listen, const struct ds_http_route *routes,
                  size_t n_routes, struct ds_err *err);
unsigned ds_http_port(const struct ds_http *h);
void ds_http_stop(struct ds_http *h);

#endif
