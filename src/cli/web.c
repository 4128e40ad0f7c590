/* web.c - starting and stopping the workbench server of run and serve. */
#include "cli/web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

int ds_web_start(struct ds_web *w, const struct ds_web_opts *o, struct ds_err *err)
{
    memset(w, 0, sizeof *w);
    if (!o->listen || !strcmp(o->listen, "off"))
        return 0;
    double lat = 35.7101, lon = 139.4886; /* NICT, Koganei, Tokyo */
    if (o->sensor_location) {
        char *e1, *e2;
        lat = strtod(o->sensor_location, &e1);
        lon = *e1 == ',' ? strtod(e1 + 1, &e2) : 0;
        if (*e1 != ',' || *e2 || lat < -90 || lat > 90 || lon < -180 || lon > 180)
            return ds_err_set(err, -EINVAL,
                              "--sensor-location '%s': expected LAT,LON in degrees, e.g. "
                              "35.71,139.49",
                              o->sensor_location);
    }
    char app[4096], vendor[4096];
    snprintf(app, sizeof app, "%s/app", o->web_dir);
    snprintf(vendor, sizeof vendor, "%s/node_modules", o->web_dir);
    struct ds_api_config ac = {.db = o->db,
                               .registry = o->registry,
                               .tap = o->tap,
                               .groups = o->groups,
                               .prom = o->prom,
                               .web_root = app,
                               .vendor_root = vendor,
                               .secure_cookies = o->tls_cert != NULL,
                               .sensor_name = o->sensor_name,
                               .sensor_lat = lat,
                               .sensor_lon = lon};
    int rc = ds_api_open(&w->api, &ac, err);
    if (rc < 0)
        return rc;
    struct ds_http_route routes[8];
    size_t n = ds_api_routes(w->api, routes, 8);
    struct ds_http_config hc = {
        .listen = o->listen, .cert_file = o->tls_cert, .key_file = o->tls_key};
    if ((rc = ds_http_start(&w->http, &hc, routes, n, err)) < 0) {
        ds_api_close(w->api);
        w->api = NULL;
        return rc;
    }
    char host[256];
    snprintf(host, sizeof host, "%s", o->listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = 0;
    fprintf(stderr, "darkscope: workbench at %s://%s:%u/ (API under /api/v1)\n",
            o->tls_cert ? "https" : "http", host, ds_http_port(w->http));
    return 0;
}

void ds_web_stop(struct ds_web *w)
{
    ds_api_shutdown(w->api); /* event streams end, so the server's threads can */
    ds_http_stop(w->http);
    ds_api_close(w->api);
    memset(w, 0, sizeof *w);
}
