/* cmd_run.c - `darkscope run`: the daemon. Live capture or replay, analysis into the store,
 * DAEDALUS alerts through the durable outbox, metrics over HTTP; SIGHUP reloads, SIGTERM
 * drains. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alert/alerts.h"
#include "alert/outbox.h"
#include "analyze/engine.h"
#include "analyze/metrics.h"
#include "capture/capture.h"
#include "cli/analysis.h"
#include "cli/cli.h"
#include "cli/stored.h"
#include "core/darknet.h"
#include "core/log.h"
#include "core/options.h"
#include "daemon/prom.h"
#include "daemon/regwatch.h"
#include "feed/digest.h"
#include "cli/web.h"
#include "http/server.h"
#include "store/archive.h"

static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};

struct run_settings {
    struct ds_strlist iface;
    struct ds_strlist replay;
    char *speed;
    char *filter;
    long snaplen;
    bool immediate;
    bool promisc;
    long buffer_mb;
    char *db;
    struct ds_analysis_settings an; /* the options shared with analyze */
    char *http_listen;
    char *tls_cert, *tls_key;
    char *web_dir;
    char *sensor_name, *sensor_location;
    long stream_rate;
    long close_after;
    long renotify;
    long group_wait;
    long group_interval;
    long repeat_interval;
    long alert_update;
    char *templates;
    long delivery_workers;
    long backoff_min;
    long backoff_max;
    long delivery_timeout;
    char *smtp_url;
    char *smtp_from;
    char *smtp_user;
    char *smtp_password_file;
    bool smtp_starttls;
    char *ca_file;
    bool tls_insecure;
    long settle_timeout;
    bool linger;
    int log_level;
    bool log_json;
    char *log_file;
    char *config;
    bool dump_config;
    bool help;
};

#define OPT(f) offsetof(struct run_settings, f)
static const struct ds_option run_options[] = {
    {.name = "interface",
     .short_name = 'i',
     .type = DS_OPT_LIST,
     .offset = OPT(iface),
     .metavar = "IFACE",
     .help = "capture live from this interface (repeat for several)"},
    {.name = "replay",
     .short_name = 'r',
     .type = DS_OPT_LIST,
     .offset = OPT(replay),
     .metavar = "FILE|DIR",
     .help = "replay captures instead (packet times kept); exits when done and delivered"},
    {.name = "speed",
     .type = DS_OPT_STRING,
     .offset = OPT(speed),
     .def = "max",
     .metavar = "1x|10x|max",
     .help = "replay speed: real time times N, or as fast as possible"},
    {.name = "filter",
     .short_name = 'f',
     .type = DS_OPT_STRING,
     .offset = OPT(filter),
     .metavar = "BPF",
     .help = "BPF filter expression"},
    {.name = "snaplen",
     .short_name = 's',
     .type = DS_OPT_INT,
     .offset = OPT(snaplen),
     .def = "4096",
     .min = 64,
     .max = 262144,
     .metavar = "BYTES",
     .help = "live: bytes captured per packet (small slots: many packets fit the kernel buffer)"},
    {.name = "immediate",
     .type = DS_OPT_BOOL,
     .offset = OPT(immediate),
     .def = "yes",
     .help = "live: deliver packets at once (no kernel batching)"},
    {.name = "promisc",
     .type = DS_OPT_BOOL,
     .offset = OPT(promisc),
     .def = "yes",
     .help = "live: put the interfaces in promiscuous mode"},
    {.name = "buffer-size",
     .short_name = 'B',
     .type = DS_OPT_INT,
     .offset = OPT(buffer_mb),
     .def = "64",
     .min = 0,
     .max = 2047,
     .metavar = "MiB",
     .help = "live: kernel capture buffer per interface (0: libpcap default)"},
    {.name = "db",
     .type = DS_OPT_STRING,
     .offset = OPT(db),
     .metavar = "PATH",
     .help = "the store: statistics, host profiles, registry, alerts, outbox (required)"},
    {.name = "analysis",
     .type = DS_OPT_GROUP,
     .offset = OPT(an),
     .group = ds_analysis_options,
     .group_n = DS_ANALYSIS_N_OPTIONS},
    {.name = "http",
     .type = DS_OPT_STRING,
     .offset = OPT(http_listen),
     .def = "127.0.0.1:8080",
     .metavar = "ADDR:PORT",
     .help = "the workbench, API (/api/v1), /metrics and /healthz; \"off\" for none"},
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
     .help = "this sensor's name in the workbench"},
    {.name = "sensor-location",
     .type = DS_OPT_STRING,
     .offset = OPT(sensor_location),
     .def = "35.71,139.49",
     .metavar = "LAT,LON",
     .help = "where Atlas draws the sensor (degrees)"},
    {.name = "stream-rate",
     .type = DS_OPT_INT,
     .offset = OPT(stream_rate),
     .def = "2000",
     .min = 1,
     .max = 1000000,
     .metavar = "PACKETS/S",
     .help = "live views: packets sent one by one per second (the rest are counted)"},
    {.name = "close-after",
     .type = DS_OPT_INT,
     .offset = OPT(close_after),
     .def = "3600",
     .min = 60,
     .max = 31536000,
     .metavar = "SECONDS",
     .help = "an alert quiet this long (packet time) is closed; reloadable"},
    {.name = "renotify",
     .type = DS_OPT_INT,
     .offset = OPT(renotify),
     .def = "604800",
     .min = 0,
     .max = 31536000,
     .metavar = "SECONDS",
     .help = "the same host is not notified again within this window; reloadable"},
    {.name = "group-wait",
     .type = DS_OPT_INT,
     .offset = OPT(group_wait),
     .def = "30",
     .min = 0,
     .max = 86400,
     .metavar = "SECONDS",
     .help = "digest: wait this long after the first change; reloadable"},
    {.name = "group-interval",
     .type = DS_OPT_INT,
     .offset = OPT(group_interval),
     .def = "300",
     .min = 1,
     .max = 604800,
     .metavar = "SECONDS",
     .help = "digest: at most one per organisation per interval with changes; reloadable"},
    {.name = "repeat-interval",
     .type = DS_OPT_INT,
     .offset = OPT(repeat_interval),
     .def = "14400",
     .min = 60,
     .max = 31536000,
     .metavar = "SECONDS",
     .help = "digest: repeat still-open alerts after this long; reloadable"},
    {.name = "alert-update",
     .type = DS_OPT_INT,
     .offset = OPT(alert_update),
     .def = "10",
     .min = 1,
     .max = 3600,
     .metavar = "SECONDS",
     .help = "the packet path reports an alert's changes at most this often"},
    {.name = "templates",
     .type = DS_OPT_STRING,
     .offset = OPT(templates),
     .def = DS_DATA_DIR "/templates",
     .metavar = "DIR",
     .help = "response templates, DIR/LANG/CASE.txt (docs/alert-format.md)"},
    {.name = "delivery-workers",
     .type = DS_OPT_INT,
     .offset = OPT(delivery_workers),
     .def = "4",
     .min = 1,
     .max = 64,
     .metavar = "N",
     .help = "delivery threads (a slow receiver holds one at most per attempt)"},
    {.name = "retry-min",
     .type = DS_OPT_INT,
     .offset = OPT(backoff_min),
     .def = "1000",
     .min = 10,
     .max = 3600000,
     .metavar = "MS",
     .help = "first retry of a failed delivery after about this long (doubling, with jitter)"},
    {.name = "retry-max",
     .type = DS_OPT_INT,
     .offset = OPT(backoff_max),
     .def = "600000",
     .min = 10,
     .max = 86400000,
     .metavar = "MS",
     .help = "retries are never further apart than this"},
    {.name = "delivery-timeout",
     .type = DS_OPT_INT,
     .offset = OPT(delivery_timeout),
     .def = "10000",
     .min = 100,
     .max = 600000,
     .metavar = "MS",
     .help = "one delivery attempt (connect and transfer) gives up after this"},
    {.name = "smtp-url",
     .type = DS_OPT_STRING,
     .offset = OPT(smtp_url),
     .def = "smtp://127.0.0.1:25",
     .metavar = "URL",
     .help = "mail relay: smtp://HOST:PORT or smtps://HOST:PORT"},
    {.name = "smtp-from",
     .type = DS_OPT_STRING,
     .offset = OPT(smtp_from),
     .def = "darkscope@localhost",
     .metavar = "ADDR",
     .help = "envelope and header sender of alert e-mail"},
    {.name = "smtp-user",
     .type = DS_OPT_STRING,
     .offset = OPT(smtp_user),
     .metavar = "USER",
     .help = "SMTP AUTH user (with --smtp-password-file)"},
    {.name = "smtp-password-file",
     .type = DS_OPT_STRING,
     .offset = OPT(smtp_password_file),
     .metavar = "FILE",
     .help = "SMTP AUTH password, the file's first line (kept out of configs and dumps)"},
    {.name = "smtp-starttls",
     .type = DS_OPT_BOOL,
     .offset = OPT(smtp_starttls),
     .help = "require STARTTLS on smtp:// relays"},
    {.name = "ca-file",
     .type = DS_OPT_STRING,
     .offset = OPT(ca_file),
     .metavar = "PEM",
     .help = "CA certificates for TLS deliveries (default: the system's)"},
    {.name = "tls-insecure",
     .type = DS_OPT_BOOL,
     .offset = OPT(tls_insecure),
     .help = "do not verify TLS certificates of receivers (testing only)"},
    {.name = "settle-timeout",
     .type = DS_OPT_INT,
     .offset = OPT(settle_timeout),
     .def = "300",
     .min = 0,
     .max = 31536000,
     .metavar = "SECONDS",
     .help = "replay: wait this long at the end for deliveries to succeed (undelivered ones "
             "stay in the outbox)"},
    {.name = "linger",
     .type = DS_OPT_BOOL,
     .offset = OPT(linger),
     .help = "replay: keep serving the workbench after the replay until SIGTERM (demos)"},
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
    {.name = "log-file",
     .type = DS_OPT_STRING,
     .offset = OPT(log_file),
     .metavar = "PATH",
     .help = "append the log here instead of standard error (reopened on SIGHUP: logrotate)"},
    {.name = "config",
     .short_name = 'c',
     .type = DS_OPT_STRING,
     .offset = OPT(config),
     .metavar = "FILE",
     .help = "read settings from FILE (flags override it; re-read on SIGHUP)",
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
#define N_OPTS (sizeof run_options / sizeof run_options[0])

/* ---------------------------------------------------------------- signals ----------------- */

/* The handlers only set these and break the source (async-signal-safe). */
static struct ds_source *volatile g_src;
static volatile sig_atomic_t g_stop, g_hup, g_usr1;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
    if (g_src)
        ds_source_break(g_src);
}

static void on_hup(int sig)
{
    (void)sig;
    g_hup = 1;
}

static void on_usr1(int sig)
{
    (void)sig;
    g_usr1 = 1;
}

static void install_signals(void)
{
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct sigaction sh = {.sa_handler = on_hup, .sa_flags = SA_RESTART};
    sigemptyset(&sh.sa_mask);
    sigaction(SIGHUP, &sh, NULL);
    struct sigaction su = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
    sigemptyset(&su.sa_mask);
    sigaction(SIGUSR1, &su, NULL);
    signal(SIGPIPE, SIG_IGN); /* a receiver closing a socket is an error, not an exit */
}

/* ---------------------------------------------------------------- the daemon -------------- */

/* Shared by the threads; pointers are set before the threads start and not changed after. */
struct daemon {
    const char *const *argv;
    int argc;
    bool live;
    struct ds_path_metrics metrics;
    struct ds_regwatch *reg;
    struct ds_alerts *alerts;
    struct ds_outbox *outbox;
    struct ds_source *src;
    struct ds_prom_input prom;
    struct ds_tap tap; /* the live views' packet stream (with the web server) */
    bool have_tap;
    struct ds_groups groups; /* host groups for the API (with the web server) */
    bool have_groups;
    struct ds_web web;
    char *log_file;
    const char *db, *producer; /* for the feed digests */
    /* reading thread only */
    int64_t last_stats_ms;
    /* the ticker */
    pthread_t ticker;
    bool ticker_started;
    _Atomic bool ticker_stop;
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint64_t wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Points standard error at the log file (append), so a renamed file is left behind. */
static int open_log(const char *path, struct ds_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return ds_err_set(err, -errno, "log file %s: %s", path, strerror(errno));
    if (dup2(fd, STDERR_FILENO) < 0) {
        int e = errno;
        close(fd);
        return ds_err_set(err, -e, "log file %s: %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

static void policy_from(const struct run_settings *s, struct ds_alerts_config *ac)
{
    const uint64_t ns = 1000000000u;
    ds_alerts_config_defaults(ac);
    ac->close_after_ns = (uint64_t)s->close_after * ns;
    ac->renotify_ns = (uint64_t)s->renotify * ns;
    ac->group_wait_ns = (uint64_t)s->group_wait * ns;
    ac->group_interval_ns = (uint64_t)s->group_interval * ns;
    ac->repeat_interval_ns = (uint64_t)s->repeat_interval * ns;
    ac->templates_dir = s->templates;
}

/* SIGHUP: reopen the log, re-read the config (the alert policy takes effect; other changes
 * need a restart and are named), reload the registry. A bad config keeps the running one. */
static void reload(struct daemon *d)
{
    struct ds_err err = {0};
    if (d->log_file && open_log(d->log_file, &err) < 0)
        ds_error("run", "SIGHUP: %s (logging continues to the old file)", err.msg);
    struct run_settings s = {0};
    int rc = ds_options_load(run_options, N_OPTS, &s, d->argc, (char **)d->argv, NULL, &err);
    if (rc < 0) {
        ds_error("run", "SIGHUP: the configuration was not reloaded: %s", err.msg);
    } else {
        struct ds_alerts_config ac;
        policy_from(&s, &ac);
        ds_alerts_reconfigure(d->alerts, &ac);
        ds_info("run",
                "SIGHUP: alert policy reloaded (close-after %lds, renotify %lds, "
                "group-wait %lds, group-interval %lds, repeat-interval %lds)",
                s.close_after, s.renotify, s.group_wait, s.group_interval, s.repeat_interval);
    }
    ds_options_free(run_options, N_OPTS, &s);
    if (ds_regwatch_poll(d->reg, true, &err) < 0)
        ds_error("run", "SIGHUP: the registry was not reloaded: %s", err.msg);
}

/* Queues the feed digests that are due (feed/digest.h: a replay's days once it is stored, a
 * live daemon's days ten minutes after they end); from the ticker or the main thread. */
static void feed_digests(struct daemon *d)
{
    int n = 0;
    struct ds_err err = {0};
    const struct ds_registry *reg = atomic_load_explicit(&d->reg->cur, memory_order_acquire);
    if (ds_feed_digests_run(d->db, reg, d->producer, (int64_t)(wall_ns() / 1000000000u), 600, &n,
                            &err) < 0)
        ds_error("run", "feed digests: %s (tried again later)", err.msg);
    else if (n > 0) {
        ds_info("run", "%d feed digests queued", n);
        ds_outbox_wake(d->outbox);
    }
}

/* The ticker: packet time for live capture (so quiet periods still close alerts and send
 * digests), registry changes, SIGHUP. */
static void *ticker_main(void *arg)
{
    struct daemon *d = arg;
    pthread_setname_np(pthread_self(), "ds-ticker");
    int64_t last_poll = mono_ms(), last_digest = 0;
    while (!atomic_load(&d->ticker_stop)) {
        if (d->live && mono_ms() - last_digest >= 60000) {
            feed_digests(d);
            last_digest = mono_ms();
        }
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
        if (d->live)
            ds_alerts_tick(d->alerts, wall_ns());
        if (g_hup) {
            g_hup = 0;
            reload(d);
            last_poll = mono_ms();
        } else if (mono_ms() - last_poll >= 2000) {
            struct ds_err err = {0};
            if (ds_regwatch_poll(d->reg, false, &err) < 0)
                ds_error("run", "registry: %s", err.msg);
            last_poll = mono_ms();
        }
        if (g_usr1) {
            g_usr1 = 0;
            ds_log(DS_LOG_WARN, "run",
                   "%" PRIu64 " frames, %" PRIu64 " darknet packets, %" PRIu64 " hosts, %" PRIu64
                   " alert events, %" PRIu64 " deliveries pending",
                   atomic_load(&d->metrics.frames), atomic_load(&d->metrics.darknet),
                   atomic_load(&d->metrics.hosts), atomic_load(&ds_alerts_stats(d->alerts)->events),
                   atomic_load(&ds_outbox_stats(d->outbox)->pending));
        }
    }
    return NULL;
}

/* After every batch (and when a live source is idle), on the reading thread. */
static void on_batch(void *ctx, uint64_t ts_ns, int frames)
{
    struct daemon *d = ctx;
    if (frames > 0) { /* 0: the live source was idle for a while */
        atomic_fetch_add_explicit(&d->metrics.frames, (uint64_t)frames, memory_order_relaxed);
        atomic_store_explicit(&d->metrics.last_packet_ns, ts_ns, memory_order_relaxed);
        if (!d->live)
            ds_alerts_tick(d->alerts, ts_ns);
    }
    int64_t now = mono_ms();
    if (d->live && now - d->last_stats_ms >= 1000) { /* pcap_stats: the reading thread only */
        struct ds_capture_stats st;
        ds_source_stats(d->src, &st);
        atomic_store(&d->metrics.kernel_received, st.kernel_received);
        atomic_store(&d->metrics.kernel_dropped, st.kernel_dropped);
        atomic_store(&d->metrics.if_dropped, st.if_dropped);
        d->last_stats_ms = now;
    }
}

/* "max" -> 0, "10x" / "10" / "2.5x" -> the factor; -1 for anything else. */
static double parse_speed(const char *s)
{
    if (!s || !strcmp(s, "max"))
        return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v <= 0 || v > 1e6)
        return -1;
    if (*end == 'x' || *end == 'X')
        end++;
    return *end ? -1 : v;
}

static int read_secret(const char *path, char **out, struct ds_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ds_err_set(err, -errno, "--smtp-password-file %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    if (n <= 0) {
        free(line);
        return ds_err_set(err, -EINVAL, "--smtp-password-file %s: the file is empty", path);
    }
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    *out = line;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: darkscope run --db PATH (-i IFACE... | --replay FILE... [--speed 1x|10x|max])\n"
            "                     [--config FILE] [OPTIONS]\n\n"
            "The daemon: captures (or replays), analyses into the store, alerts registered\n"
            "organisations through the durable outbox and serves metrics over HTTP.\n"
            "SIGHUP reopens the log and reloads the configuration and the registry; SIGTERM\n"
            "stores what was counted and stops; SIGUSR1 logs a status line.\n\n");
    ds_options_help(run_options, N_OPTS, f);
}

/* Waits for the outbox to empty: up to timeout_s, or until a stop signal. */
static bool settle(struct ds_outbox *o, long timeout_s, bool stop_on_signal)
{
    int64_t end = mono_ms() + timeout_s * 1000;
    for (;;) {
        int64_t left = end - mono_ms();
        if (ds_outbox_settle(o, left < 200 ? (left > 0 ? left : 0) : 200))
            return true;
        if (left <= 0 || (stop_on_signal && g_stop))
            return false;
    }
}

static int run_run(int argc, char **argv)
{
    struct run_settings s = {0};
    struct ds_err err = {0};
    struct ds_darknet dn;
    struct ds_stored_run st = {0};
    struct ds_archive *arch = NULL;
    struct ds_summary *sum = NULL;
    char *smtp_password = NULL;
    struct daemon d = {
        .argv = (const char *const *)argv, .argc = argc, .prom.start_unix = time(NULL)};
    int status = DS_EXIT_USAGE;
    ds_darknet_init(&dn);

    if (ds_options_load(run_options, N_OPTS, &s, argc, (char **)argv, NULL, &err) < 0) {
        fprintf(stderr, "darkscope run: %s\n", err.msg);
        usage(stderr);
        goto out;
    }
    if (s.help) {
        usage(stdout);
        status = DS_EXIT_OK;
        goto out;
    }
    if (s.dump_config) {
        ds_options_dump(run_options, N_OPTS, &s, stdout);
        status = DS_EXIT_OK;
        goto out;
    }
    double speed = parse_speed(s.speed);
    if (speed < 0) {
        fprintf(stderr,
                "darkscope run: --speed '%s': expected max, or a factor such as 1x or 10x\n",
                s.speed);
        goto out;
    }
    if (!s.db) {
        fprintf(stderr, "darkscope run: --db PATH is required (the store alerts and the outbox "
                        "live in)\n");
        goto out;
    }
    if (!s.iface.n == !s.replay.n) {
        fprintf(stderr, "darkscope run: give either -i IFACE... or --replay FILE...\n");
        usage(stderr);
        goto out;
    }
    if (ds_analysis_darknet(&s.an, &dn, &err) < 0)
        goto bad;
    if (s.smtp_password_file && read_secret(s.smtp_password_file, &smtp_password, &err) < 0)
        goto bad;
    if (s.log_file) {
        if (open_log(s.log_file, &err) < 0)
            goto bad;
        d.log_file = s.log_file;
    }
    ds_log_setup((enum ds_log_level)s.log_level, s.log_json);
    d.live = s.iface.n > 0;
    d.db = s.db;
    d.producer = s.sensor_name && *s.sensor_name ? s.sensor_name : "darkscope";

    status = DS_EXIT_FAIL;
    struct ds_stored_opts so;
    ds_analysis_stored_opts(&s.an, s.db, &s.replay, "run", &so);
    if (ds_stored_setup(&st, &so, &err) < 0)
        goto bad;
    if (ds_regwatch_open(&d.reg, s.db, &err) < 0)
        goto bad;
    /* The ingest starts before the alert engine opens: a replaced ingest (a killed replay
     * read again) is gone by then, and the engine takes its share out of the alerts. */
    bool read_any = d.live || st.n_inputs > 0;
    int64_t ingest = 0;
    if (read_any) {
        char *dtext = ds_analysis_darknet_text(&s.an);
        struct ds_ingest_info ii = {.darknet = dtext,
                                    .monitored = ds_darknet_v4_addresses(&dn),
                                    .threads = (int)s.an.threads,
                                    .files = st.files,
                                    .n_files = st.n_files,
                                    .scanners = st.scanners,
                                    .live = d.live};
        int brc = ds_store_ingest_begin(st.store, &ii, &ingest, &err);
        free(dtext);
        if (brc < 0)
            goto bad;
        st.ingesting = true;
    }

    struct ds_outbox_config oc;
    ds_outbox_config_defaults(&oc);
    oc.workers = (int)s.delivery_workers;
    oc.backoff_min_ms = s.backoff_min;
    oc.backoff_max_ms = s.backoff_max < s.backoff_min ? s.backoff_min : s.backoff_max;
    oc.deliver.smtp_url = s.smtp_url;
    oc.deliver.smtp_from = s.smtp_from;
    oc.deliver.smtp_user = s.smtp_user;
    oc.deliver.smtp_password = smtp_password;
    oc.deliver.smtp_starttls = s.smtp_starttls;
    oc.deliver.ca_file = s.ca_file;
    oc.deliver.tls_insecure = s.tls_insecure;
    oc.deliver.timeout_ms = s.delivery_timeout;
    if (ds_outbox_open(&d.outbox, s.db, &oc, &err) < 0)
        goto bad;
    struct ds_alerts_config ac;
    policy_from(&s, &ac);
    if (ds_alerts_open(&d.alerts, s.db, &d.reg->cur, &ac, ds_outbox_wake, d.outbox, &err) < 0)
        goto bad;
    ds_alerts_set_ingest(d.alerts, ingest);

    d.prom = (struct ds_prom_input){.path = &d.metrics,
                                    .alerts = ds_alerts_stats(d.alerts),
                                    .outbox = ds_outbox_stats(d.outbox),
                                    .registry = &d.reg->stats,
                                    .start_unix = d.prom.start_unix,
                                    .mode = d.live ? "live" : "replay"};
    if (s.http_listen && strcmp(s.http_listen, "off") != 0) {
        if (ds_tap_init(&d.tap, (uint32_t)s.stream_rate, st.geo) < 0) {
            ds_err_set(&err, -ENOMEM, "out of memory");
            goto bad;
        }
        d.have_tap = true;
        if (ds_groups_init(&d.groups, (int)s.an.threads, 5000) < 0) {
            ds_err_set(&err, -ENOMEM, "out of memory");
            goto bad;
        }
        d.have_groups = true;
    }
    struct ds_web_opts wo = {.db = s.db,
                             .listen = s.http_listen,
                             .tls_cert = s.tls_cert,
                             .tls_key = s.tls_key,
                             .web_dir = s.web_dir,
                             .sensor_name = s.sensor_name,
                             .sensor_location = s.sensor_location,
                             .registry = &d.reg->cur,
                             .tap = d.have_tap ? &d.tap : NULL,
                             .groups = d.have_groups ? &d.groups : NULL,
                             .prom = &d.prom};
    if (ds_web_start(&d.web, &wo, &err) < 0)
        goto bad;
    install_signals();
    if (pthread_create(&d.ticker, NULL, ticker_main, &d) != 0) {
        ds_err_set(&err, -EAGAIN, "cannot start the ticker thread");
        goto bad;
    }
    d.ticker_started = true;

    int rc = 0;
    struct ds_engine_result res = {0};
    struct ds_capture_stats cst = {0};
    if (!read_any)
        ds_warn("run", "every replay input was stored before: only delivering what the outbox "
                       "holds");
    if (read_any && !g_stop) {
        struct ds_capture_opts co = {
            .paths = d.live ? NULL : (const char *const *)st.inputs,
            .n_paths = d.live ? 0 : st.n_inputs,
            .ifaces = (const char *const *)s.iface.v,
            .n_ifaces = s.iface.n,
            .bpf = s.filter,
            .snaplen = (int)s.snaplen,
            .immediate = s.immediate,
            .promisc = s.promisc,
            .buffer_mb = (int)s.buffer_mb,
            .speed = speed,
            .idle_ms = d.live ? 250 : 0, /* quiet links still report alert changes */
        };
        if (ds_source_open(&d.src, &co, &err) < 0)
            goto bad;
        if (ds_analysis_archive(&s.an, &arch, &err) < 0)
            goto bad;
        if (!(sum = calloc(1, sizeof *sum))) {
            ds_err_set(&err, -ENOMEM, "out of memory");
            goto bad;
        }
        struct ds_shard_config shc;
        ds_analysis_shard_config(&s.an, &dn, &st, &shc);
        shc.registry = &d.reg->cur;
        shc.alerts = ds_alerts_sink(d.alerts);
        shc.alert_update_ns = (uint64_t)s.alert_update * 1000000000u;
        shc.metrics = &d.metrics;
        shc.groups = d.have_groups ? &d.groups : NULL;
        struct ds_campaign_config campc;
        ds_analysis_campaign_config(&s.an, &campc);
        struct ds_dos_config dosc;
        ds_analysis_dos_config(&s.an, &dosc);
        struct ds_engine_opts eo = {
            .dos = &dosc,
            .campaign = &campc,
            .darknet = &dn,
            .workers = (int)s.an.threads,
            .shard = &shc,
            .sink = ds_store_sink(st.store),
            .archive = arch,
            .on_batch = on_batch,
            .ctx = &d,
            .tap = d.have_tap ? &d.tap : NULL,
        };
        ds_info("run", "%s; storing into %s as ingest %" PRId64,
                d.live ? "capturing live" : "replaying", s.db, ingest);
        g_src = d.src;
        if (g_stop) /* a signal before g_src was set */
            ds_source_break(d.src);
        void *ob_state = NULL; /* go on from the outbreak detector's saved state */
        struct ds_err oe = {0};
        if (ds_store_outbreak_state(st.store, &ob_state, &eo.outbreak_state_len, &oe) < 0)
            ds_warn("run", "%s; the outbreak detector starts afresh", oe.msg);
        eo.outbreak_state = ob_state;
        rc = ds_engine_run(&eo, d.src, sum, &res, &err);
        free(ob_state);
        g_src = NULL;
        if (rc < 0)
            ds_error("run", "%s (what was read before is stored)", err.msg);
        if (res.oom_drops)
            ds_error("run", "out of memory: %" PRIu64 " packets not fully counted", res.oom_drops);
        if (arch) {
            struct ds_err ae = {0};
            if (ds_archive_close(arch, &ae) < 0) {
                ds_error("run", "archive: %s", ae.msg);
                res.archive_errors++;
            }
            arch = NULL;
        }
        ds_source_stats(d.src, &cst);
        struct ds_err e2 = {0};
        /* a replay stopped by a signal is incomplete: not kept, so the next run reads the
         * files again (a live ingest keeps what it saw) */
        bool complete = rc == 0 && (d.live || !g_stop);
        if (!complete && !d.live)
            ds_warn("run", "the replay did not finish: its statistics are not kept, the next "
                           "run reads the same inputs again");
        if (ds_store_ingest_end(st.store, complete, sum->first_ts_ns, sum->last_ts_ns, sum->packets,
                                sum->darknet_packets, sum->sources, NULL, &e2) < 0) {
            ds_error("run", "%s", e2.msg);
            rc = e2.code;
        }
        st.ingesting = false;
        ds_info("run",
                "%" PRIu64 " frames read, %" PRIu64 " darknet packets, %" PRIu64
                " sources; %" PRIu64 " alert events",
                sum->packets, sum->darknet_packets, sum->sources,
                atomic_load(&ds_alerts_stats(d.alerts)->events));
    }
    /* Everything the shards reported is applied; at the end of a replay the digests that were
     * waiting go out now (a live daemon keeps them: their state is stored). */
    bool finished = !d.live && !g_stop;
    if (finished) /* the replay's days are stored: their digests (and any a kill left) */
        feed_digests(&d);
    if (ds_alerts_drain(d.alerts, finished, &err) < 0) {
        ds_error("run", "alerts: %s", err.msg);
        rc = rc < 0 ? rc : err.code;
    }
    bool settled = settle(d.outbox, finished ? s.settle_timeout : 5, finished);
    uint64_t pending = atomic_load(&ds_outbox_stats(d.outbox)->pending);
    if (!settled)
        ds_warn("run",
                "%" PRIu64 " deliveries not done yet: they stay in the outbox of %s and are "
                "retried when darkscope runs again",
                pending, s.db);
    else
        ds_info("run",
                "every delivery is done (%" PRIu64 " in this run, %" PRIu64 " failed attempts)",
                atomic_load(&ds_outbox_stats(d.outbox)->delivered),
                atomic_load(&ds_outbox_stats(d.outbox)->failures));
    if (s.linger && !d.live && !g_stop) {
        fprintf(stderr, "darkscope: the replay is done; still serving until SIGTERM or Ctrl-C\n");
        while (!g_stop) {
            struct timespec ts = {0, 200000000};
            nanosleep(&ts, NULL);
        }
    }
    status = (rc < 0 || res.oom_drops || res.archive_errors || cst.inputs_rejected ||
              cst.inputs_cut || (finished && !settled))
                 ? DS_EXIT_PARTIAL
                 : DS_EXIT_OK;
    goto out;
bad:
    fprintf(stderr, "darkscope run: %s\n", err.msg);
    ds_error("run", "%s", err.msg);
out:
    g_src = NULL;
    if (d.ticker_started) {
        atomic_store(&d.ticker_stop, true);
        pthread_join(d.ticker, NULL);
    }
    if (d.have_tap)
        ds_tap_close(&d.tap);
    ds_web_stop(&d.web);
    if (d.have_tap)
        ds_tap_free(&d.tap);
    if (d.have_groups) /* after the web server: its threads read the groups */
        ds_groups_free(&d.groups);
    if (arch)
        ds_archive_close(arch, NULL);
    if (st.ingesting) { /* failed before the engine finished: the ingest is not kept */
        struct ds_err e2 = {0};
        ds_store_ingest_end(st.store, false, 0, 0, 0, 0, 0, NULL, &e2);
        st.ingesting = false;
    }
    ds_alerts_close(d.alerts);
    ds_outbox_close(d.outbox);
    ds_source_close(d.src);
    ds_regwatch_close(d.reg);
    ds_stored_free(&st);
    free(sum);
    free(smtp_password);
    ds_darknet_free(&dn);
    ds_options_free(run_options, N_OPTS, &s);
    return status;
}

const struct ds_command ds_cmd_run = {
    .name = "run",
    .summary = "the daemon: capture or replay, store, alert organisations, serve metrics",
    .run = run_run,
};
