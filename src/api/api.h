/* api.h - the workbench's JSON API under /api/v1 (docs/api.md), its live streams and the
 * single-page app's static files, as routes for the HTTP server. */
#ifndef DS_API_H
#define DS_API_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "alert/registry.h"
#include "analyze/tap.h"
#include "core/err.h"
#include "http/server.h"

struct ds_prom_input;

/* ds_api_open copies the strings; the pointed-to registry, tap and prom must outlive it. */
struct ds_groups;

struct ds_api_config {
    const char *db; /* the store */
    /* the current registry snapshot (the daemon's, swapped on reload), for scoping
     * organisation users to their own ranges */
    _Atomic(const struct ds_registry *) *registry;
    struct ds_tap *tap;               /* live packets, or NULL (`serve` over a store: none) */
    struct ds_groups *groups;         /* host groups of the live shards, or NULL */
    const struct ds_prom_input *prom; /* /metrics, or NULL */
    const char *web_root;             /* the app (index.html, js, css) */
    const char *vendor_root;          /* npm packages (node_modules) the app imports */
    bool secure_cookies;              /* served over TLS: cookies get Secure */
    const char *sensor_name;
    double sensor_lat, sensor_lon; /* where Atlas draws the sensor */
    long session_ttl_s;            /* login sessions last this long (default 12 h) */
};

struct ds_api;

int ds_api_open(struct ds_api **out, const struct ds_api_config *cfg, struct ds_err *err);
/* The routes to give ds_http_start (at most cap; returns how many). */
size_t ds_api_routes(struct ds_api *a, struct ds_http_route *routes, size_t cap);
/* Ends live streams (call before stopping the HTTP server), then frees. */
void ds_api_shutdown(struct ds_api *a);
void ds_api_close(struct ds_api *a);

#endif
