/* cmd_serve.c - `darkscope serve`: the workbench and API over an existing store, without
 * capturing (alerts and statistics as the store holds them; no live packets). */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/web.h"
#include "core/log.h"
#include "core/options.h"
#include "daemon/regwatch.h"

static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};

struct serve_settings {
    char *db;
    char *http;
    char *tls_cert, *tls_key;
    char *web_dir;
    char *sensor_name, *sensor_location;
    int log_level;
    bool log_json;
    char *config;
    bool dump_config;
    bool help;
};

#define OPT(f) offsetof(struct serve_settings, f)
static const struct ds_option serve_options[] = {
    {.name = "db",
     .type = DS_OPT_STRING,
     .offset = OPT(db),
     .def = "darkscope.db",
     .metavar = "PATH",
     .help = "the store to serve"},
    {.name = "http",
     .type = DS_OPT_STRING,
     .offset = OPT(http),
     .def = "127.0.0.1:8080",
     .metavar = "ADDR:PORT",
     .help = "where to listen (the workbench and /api/v1)"},
    {.name = "tls-cert",
     .type = DS_OPT_STRING,
     .offset = OPT(tls_cert),
     .metavar = "PEM",
     .help = "serve HTTPS with this certificate chain (with --tls-key)"},
    {.name = "tls-key",
     .type = DS_OPT_STRING,
     .offset = OPT(tls_key),
     .metavar = "PEM",
     .help = "the certificate's private key"},
    {.name = "web-dir",
     .type = DS_OPT_STRING,
     .offset = OPT(web_dir),
     .def = DS_WEB_DIR,
     .metavar = "DIR",
     .help = "the web app (DIR/app) and its npm packages (DIR/node_modules)"},
    {.name = "sensor-name",
     .type = DS_OPT_STRING,
     .offset = OPT(sensor_name),
     .def = "darkscope",
     .metavar = "NAME",
     .help = "the sensor's name in the workbench"},
    {.name = "sensor-location",
     .type = DS_OPT_STRING,
     .offset = OPT(sensor_location),
     .def = "35.71,139.49",
     .metavar = "LAT,LON",
     .help = "where Atlas draws the sensor (degrees)"},
    {.name = "log-level",
     .type = DS_OPT_ENUM,
     .offset = OPT(log_level),
     .def = "info",
     .choices = level_names,
     .metavar = "LEVEL",
     .help = "error|warn|info|debug"},
    {.name = "log-json",
     .type = DS_OPT_BOOL,
     .offset = OPT(log_json),
     .help = "write log lines as JSON objects"},
    {.name = "config",
     .short_name = 'c',
     .type = DS_OPT_STRING,
     .offset = OPT(config),
     .metavar = "FILE",
     .help = "read settings from FILE (flags override it)",
     .cli_only = true},
    {.name = "dump-config",
     .type = DS_OPT_BOOL,
     .offset = OPT(dump_config),
     .help = "print the effective settings as a config file and exit",
     .cli_only = true},
    {.name = "help",
     .short_name = 'h',
     .type = DS_OPT_BOOL,
     .offset = OPT(help),
     .help = "show this help",
     .cli_only = true},
};
#define N_OPTS (sizeof serve_options / sizeof serve_options[0])

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reload; /* SIGHUP: read the registry now */

static void on_hup(int sig)
{
    (void)sig;
    g_reload = 1;
}

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: darkscope serve --db PATH [--http ADDR:PORT] [--tls-cert PEM --tls-key PEM]\n\n"
            "Serves the workbench and the API over a store written by `darkscope run` or\n"
            "`darkscope analyze --db`, without capturing. SIGTERM or SIGINT stops it.\n\n");
    ds_options_help(serve_options, N_OPTS, f);
}

static int serve_run(int argc, char **argv)
{
    struct serve_settings s = {0};
    struct ds_err err = {0};
    struct ds_regwatch *reg = NULL;
    struct ds_web web = {0};
    int status = DS_EXIT_USAGE;
    if (ds_options_load(serve_options, N_OPTS, &s, argc, argv, NULL, &err) < 0) {
        fprintf(stderr, "darkscope serve: %s\n", err.msg);
        usage(stderr);
        goto out;
    }
    if (s.help) {
        usage(stdout);
        status = DS_EXIT_OK;
        goto out;
    }
    if (s.dump_config) {
        ds_options_dump(serve_options, N_OPTS, &s, stdout);
        status = DS_EXIT_OK;
        goto out;
    }
    ds_log_setup((enum ds_log_level)s.log_level, s.log_json);
    status = DS_EXIT_FAIL;
    if (ds_regwatch_open(&reg, s.db, &err) < 0)
        goto bad;
    struct ds_web_opts wo = {.db = s.db,
                             .listen = s.http,
                             .tls_cert = s.tls_cert,
                             .tls_key = s.tls_key,
                             .web_dir = s.web_dir,
                             .sensor_name = s.sensor_name,
                             .sensor_location = s.sensor_location,
                             .registry = &reg->cur};
    if (ds_web_start(&web, &wo, &err) < 0)
        goto bad;
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct sigaction hup = {.sa_handler = on_hup};
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    signal(SIGPIPE, SIG_IGN);
    int ticks = 0;
    while (!g_stop) {
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
        bool now = g_reload;
        g_reload = 0;
        if ((now || ++ticks % 10 == 0) && ds_regwatch_poll(reg, now, &err) < 0)
            ds_error("serve", "registry: %s", err.msg);
    }
    status = DS_EXIT_OK;
    goto out;
bad:
    fprintf(stderr, "darkscope serve: %s\n", err.msg);
out:
    ds_web_stop(&web);
    ds_regwatch_close(reg);
    ds_options_free(serve_options, N_OPTS, &s);
    return status;
}

const struct ds_command ds_cmd_serve = {
    .name = "serve",
    .summary = "the workbench and API over an existing store (no capture)",
    .run = serve_run,
};
