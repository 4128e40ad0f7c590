/* web.h - the workbench server a command runs (run, serve): the API and the app over HTTP. */
#ifndef DS_CLI_WEB_H
#define DS_CLI_WEB_H

#include <stdatomic.h>

#include "alert/registry.h"
#include "analyze/tap.h"
#include "api/api.h"
#include "core/err.h"
#include "http/server.h"

struct ds_prom_input;

struct ds_web_opts {
    const char *db;
    const char *listen; /* "off" or NULL: nothing is started */
    const char *tls_cert, *tls_key;
    const char *web_dir; /* holds app/ and node_modules/ */
    const char *sensor_name;
    const char *sensor_location; /* "LAT,LON" */
    _Atomic(const struct ds_registry *) *registry;
    struct ds_tap *tap;
    struct ds_groups *groups; /* host groups (the daemon's), or NULL */
    const struct ds_prom_input *prom;
};

struct ds_web {
    struct ds_api *api;
    struct ds_http *http;
};

/* Starts it (logging the URL); errors name the setting. */
int ds_web_start(struct ds_web *w, const struct ds_web_opts *o, struct ds_err *err);
void ds_web_stop(struct ds_web *w);

#endif
