/* cmd_analyze.c - `darkscope analyze`: read captures or an interface, print exact counts. */
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/engine.h"
#include "analyze/report.h"
#include "capture/capture.h"
#include "cli/analysis.h"
#include "cli/cli.h"
#include "core/darknet.h"
#include "core/log.h"
#include "core/options.h"
#include "enrich/geo.h"
#include "enrich/scanners.h"
#include "store/archive.h"
#include "cli/stored.h"
#include "store/store.h"

static const char *const format_names[] = {"table", "csv", "json", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};

struct analyze_settings {
    struct ds_strlist read;
    char *iface;
    char *filter;
    int format;
    long top;
    long snaplen;
    bool immediate;
    bool promisc;
    long buffer_mb;
    long count;
    long duration;
    char *output;
    char *db;
    struct ds_analysis_settings an; /* the options shared with run */
    int log_level;
    bool log_json;
    char *config;
    bool dump_config;
    bool help;
};

#define OPT(f) offsetof(struct analyze_settings, f)
static const struct ds_option analyze_options[] = {
    {.name = "read",
     .short_name = 'r',
     .type = DS_OPT_LIST,
     .offset = OPT(read),
     .metavar = "FILE|DIR|-",
     .help =
         "read pcap/pcapng (optionally gzip/zstd) files, directories of rotated files, or stdin",
     .cli_only = true},
    {.name = "interface",
     .short_name = 'i',
     .type = DS_OPT_STRING,
     .offset = OPT(iface),
     .metavar = "IFACE",
     .help = "capture live from this interface",
     .cli_only = true},
    {.name = "filter",
     .short_name = 'f',
     .type = DS_OPT_STRING,
     .offset = OPT(filter),
     .metavar = "BPF",
     .help = "BPF filter expression (also accepted as trailing arguments)"},
    {.name = "format",
     .type = DS_OPT_ENUM,
     .offset = OPT(format),
     .def = "table",
     .choices = format_names,
     .metavar = "table|csv|json",
     .help = "output format"},
    {.name = "top",
     .type = DS_OPT_INT,
     .offset = OPT(top),
     .def = "100",
     .min = 0,
     .max = 131072,
     .metavar = "N",
     .help = "destination ports to list"},
    {.name = "snaplen",
     .short_name = 's',
     .type = DS_OPT_INT,
     .offset = OPT(snaplen),
     .def = "262144",
     .min = 64,
     .max = 262144,
     .metavar = "BYTES",
     .help = "live: bytes captured per packet"},
    {.name = "immediate",
     .type = DS_OPT_BOOL,
     .offset = OPT(immediate),
     .def = "yes",
     .help = "live: deliver packets at once (no kernel batching)"},
    {.name = "promisc",
     .type = DS_OPT_BOOL,
     .offset = OPT(promisc),
     .def = "yes",
     .help = "live: put the interface in promiscuous mode"},
    {.name = "buffer-size",
     .short_name = 'B',
     .type = DS_OPT_INT,
     .offset = OPT(buffer_mb),
     .def = "0",
     .min = 0,
     .max = 65536,
     .metavar = "MiB",
     .help = "live: kernel capture buffer (0: libpcap default)"},
    {.name = "count",
     .short_name = 'c',
     .type = DS_OPT_INT,
     .offset = OPT(count),
     .def = "0",
     .min = 0,
     .max = LONG_MAX,
     .metavar = "N",
     .help = "stop after N packets (0: no limit)"},
    {.name = "duration",
     .type = DS_OPT_INT,
     .offset = OPT(duration),
     .def = "0",
     .min = 0,
     .max = 31536000,
     .metavar = "SECONDS",
     .help = "live: stop after this many seconds (0: no limit)"},
    {.name = "output",
     .short_name = 'o',
     .type = DS_OPT_STRING,
     .offset = OPT(output),
     .metavar = "FILE",
     .help = "write the report here instead of standard output",
     .cli_only = true},
    {.name = "db",
     .type = DS_OPT_STRING,
     .offset = OPT(db),
     .metavar = "PATH",
     .help = "store statistics and host profiles in this SQLite database (created if missing)"},
    {.name = "analysis",
     .type = DS_OPT_GROUP,
     .offset = OPT(an),
     .group = ds_analysis_options,
     .group_n = DS_ANALYSIS_N_OPTIONS},
    {.name = "log-level",
     .type = DS_OPT_ENUM,
     .offset = OPT(log_level),
     .def = "warn",
     .choices = level_names,
     .metavar = "LEVEL",
     .help = "error|warn|info|debug"},
    {.name = "log-json",
     .type = DS_OPT_BOOL,
     .offset = OPT(log_json),
     .help = "write log lines as JSON objects"},
    {.name = "config",
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
#define N_OPTS (sizeof analyze_options / sizeof analyze_options[0])

/* Signal plumbing: the handler only touches these (async-signal-safe), set before capture. */
static struct ds_source *volatile g_src;
static volatile sig_atomic_t g_stats_request, g_stopped;

static void on_stop(int sig)
{
    (void)sig;
    g_stopped = 1;
    if (g_src)
        ds_source_break(g_src);
}

static void on_usr1(int sig)
{
    (void)sig;
    g_stats_request = 1;
}

static void print_capture_stats(void *ctx, struct ds_source *src)
{
    (void)ctx;
    struct ds_capture_stats st;
    ds_source_stats(src, &st);
    if (st.live)
        fprintf(stderr,
                "darkscope: capture: %" PRIu64 " packets delivered, %" PRIu64
                " received by filter, %" PRIu64 " dropped by kernel, %" PRIu64
                " dropped by interface\n",
                st.frames, st.kernel_received, st.kernel_dropped, st.if_dropped);
    else
        fprintf(stderr,
                "darkscope: capture: %" PRIu64 " packets read, %" PRIu64 " filtered out, %" PRIu64
                " inputs done, %" PRIu64 " rejected, %" PRIu64 " cut short\n",
                st.frames, st.filtered_out, st.inputs_ok, st.inputs_rejected, st.inputs_cut);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: darkscope analyze -r FILE... | -i IFACE [--darknet CIDR,...] [-f BPF]\n"
               "                         [--format table|csv|json] [OPTIONS] [BPF...]\n\n"
               "Reads packets, keeps those sent to the darknet, classifies them and prints exact\n"
               "counts: classes, tool fingerprints, sources and top destination ports.\n\n");
    ds_options_help(analyze_options, N_OPTS, f);
}

/* Joins trailing arguments into one BPF expression, tcpdump style. */
static char *join_args(const struct ds_strlist *l)
{
    size_t len = 1;
    for (size_t i = 0; i < l->n; i++)
        len += strlen(l->v[i]) + 1;
    char *s = calloc(1, len);
    if (!s)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, l->v[i]);
    }
    return s;
}

static int analyze_run(int argc, char **argv)
{
    struct analyze_settings s = {0};
    struct ds_strlist pos = {0};
    struct ds_err err = {0};
    struct ds_darknet dn;
    struct ds_source *src = NULL;
    struct ds_summary *sum = NULL;
    struct ds_stored_run st = {0};
    struct ds_archive *arch = NULL;
    void *ob_state = NULL; /* the outbreak detector's saved state, from the store */
    FILE *out = stdout;
    int status = DS_EXIT_USAGE;
    ds_darknet_init(&dn);

    if (ds_options_load(analyze_options, N_OPTS, &s, argc, argv, &pos, &err) < 0) {
        fprintf(stderr, "darkscope analyze: %s\n", err.msg);
        usage(stderr);
        goto out;
    }
    if (s.help) {
        usage(stdout);
        status = DS_EXIT_OK;
        goto out;
    }
    ds_log_setup((enum ds_log_level)s.log_level, s.log_json);
    if (pos.n) {
        if (s.filter) {
            fprintf(stderr,
                    "darkscope analyze: give the BPF filter either with -f or as "
                    "trailing arguments, not both (got -f '%s' and '%s')\n",
                    s.filter, pos.v[0]);
            goto out;
        }
        s.filter = join_args(&pos);
    }
    if (s.dump_config) {
        ds_options_dump(analyze_options, N_OPTS, &s, stdout);
        status = DS_EXIT_OK;
        goto out;
    }
    if (!s.read.n == !s.iface) {
        fprintf(stderr, "darkscope analyze: give either -r FILE... or -i IFACE\n");
        usage(stderr);
        goto out;
    }
    if (ds_analysis_darknet(&s.an, &dn, &err) < 0)
        goto bad;

    status = DS_EXIT_FAIL;
    if (s.db) {
        struct ds_stored_opts so;
        ds_analysis_stored_opts(&s.an, s.db, &s.read, "analyze", &so);
        if (ds_stored_setup(&st, &so, &err) < 0)
            goto bad;
        if (s.read.n && st.n_inputs == 0) {
            fprintf(stderr, "darkscope analyze: every input was stored before: nothing to do\n");
            status = DS_EXIT_OK;
            goto out;
        }
    }
    struct ds_capture_opts co = {
        .paths = s.db && s.read.n ? (const char *const *)st.inputs : (const char *const *)s.read.v,
        .n_paths = s.db && s.read.n ? st.n_inputs : s.read.n,
        .iface = s.iface,
        .bpf = s.filter,
        .snaplen = (int)s.snaplen,
        .immediate = s.immediate,
        .promisc = s.promisc,
        .buffer_mb = (int)s.buffer_mb,
    };
    if (ds_source_open(&src, &co, &err) < 0)
        goto bad;
    if (ds_analysis_archive(&s.an, &arch, &err) < 0)
        goto bad;
    if (s.output && !(out = fopen(s.output, "w"))) {
        fprintf(stderr, "darkscope analyze: cannot write '%s': %s\n", s.output, strerror(errno));
        out = stdout;
        goto out;
    }
    sum = calloc(1, sizeof *sum);
    if (!sum) {
        fprintf(stderr, "darkscope analyze: out of memory\n");
        goto out;
    }

    g_src = src;
    struct sigaction sa = {.sa_handler = on_stop};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    struct sigaction su = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
    sigemptyset(&su.sa_mask);
    sigaction(SIGUSR1, &su, NULL);
    if (s.duration)
        alarm((unsigned)s.duration);

    struct ds_shard_config shc;
    ds_analysis_shard_config(&s.an, &dn, &st, &shc);
    struct ds_campaign_config campc;
    ds_analysis_campaign_config(&s.an, &campc);
    struct ds_dos_config dosc;
    ds_analysis_dos_config(&s.an, &dosc);
    struct ds_engine_opts eo = {
        .dos = &dosc,
        .campaign = &campc,
        .darknet = &dn,
        .workers = (int)s.an.threads,
        .max_packets = (uint64_t)s.count,
        .shard = &shc,
        .archive = arch,
        .stats_request = &g_stats_request,
        .on_stats = print_capture_stats,
    };
    if (s.db) {
        char *dtext = ds_analysis_darknet_text(&s.an);
        struct ds_ingest_info ii = {.darknet = dtext,
                                    .monitored = shc.monitored,
                                    .threads = (int)s.an.threads,
                                    .files = st.files,
                                    .n_files = st.n_files,
                                    .scanners = st.scanners};
        int64_t ingest;
        int brc = ds_store_ingest_begin(st.store, &ii, &ingest, &err);
        free(dtext);
        if (brc < 0)
            goto bad;
        st.ingesting = true;
        eo.sink = ds_store_sink(st.store);
        ds_info("analyze", "storing into %s as ingest %" PRId64, s.db, ingest);
        if (ds_store_outbreak_state(st.store, &ob_state, &eo.outbreak_state_len, &err) < 0)
            goto bad;
        eo.outbreak_state = ob_state;
    }
    struct ds_engine_result res;
    int rc = ds_engine_run(&eo, src, sum, &res, &err);
    free(ob_state);
    ob_state = NULL;
    alarm(0);
    g_src = NULL;
    if (rc < 0)
        fprintf(stderr, "darkscope analyze: %s (counts below cover what was read before)\n",
                err.msg);
    if (res.oom_drops)
        fprintf(stderr, "darkscope analyze: out of memory: %" PRIu64 " packets not fully counted\n",
                res.oom_drops);

    if (arch) {
        struct ds_archive_stats as;
        struct ds_err ae = {0};
        ds_archive_stats(arch, &as);
        if (ds_archive_close(arch, &ae) < 0) {
            fprintf(stderr, "darkscope analyze: archive: %s\n", ae.msg);
            res.archive_errors++;
        }
        arch = NULL;
        if (as.frames_dropped)
            fprintf(stderr,
                    "darkscope analyze: archive: %" PRIu64 " packets not archived (see above)\n",
                    as.frames_dropped);
    }
    struct ds_capture_stats cst;
    ds_source_stats(src, &cst);
    if (cst.live)
        print_capture_stats(NULL, src);
    struct ds_report_meta meta = {.darknet = &dn, .capture = &cst, .top = (size_t)s.top};
    if (st.ingesting) {
        char *json = NULL;
        size_t jlen = 0;
        FILE *jf = open_memstream(&json, &jlen);
        if (jf) {
            ds_report_write(jf, DS_FORMAT_JSON, sum, &meta);
            fclose(jf);
        }
        struct ds_err e2 = {0};
        /* files cut short by a signal are not kept: a rerun reads them again */
        bool complete = rc == 0 && (s.iface || !g_stopped);
        if (!complete && !s.iface)
            fprintf(stderr, "darkscope analyze: interrupted: nothing is stored; run it again to "
                            "store these inputs\n");
        if (ds_store_ingest_end(st.store, complete, sum->first_ts_ns, sum->last_ts_ns, sum->packets,
                                sum->darknet_packets, sum->sources, json, &e2) < 0) {
            fprintf(stderr, "darkscope analyze: %s\n", e2.msg);
            rc = e2.code;
        }
        free(json);
        st.ingesting = false;
        ds_info("analyze",
                "%" PRIu64 " host profiles held at the end, %" PRIu64 " evicted (%" PRIu64
                " seen the same day), %" PRIu64 " profile segments stored, %" PRIu64
                " MiB of host tables",
                res.hosts, res.evicted, res.evicted_active, res.segments, res.table_bytes >> 20);
    }
    if (ds_report_write(out, (enum ds_format)s.format, sum, &meta) < 0) {
        fprintf(stderr, "darkscope analyze: writing the report failed: %s\n", strerror(errno));
        goto out;
    }
    status =
        (rc < 0 || res.oom_drops || res.archive_errors || cst.inputs_rejected || cst.inputs_cut)
            ? DS_EXIT_PARTIAL
            : DS_EXIT_OK;
    goto out;
bad:
    fprintf(stderr, "darkscope analyze: %s\n", err.msg);
out:
    if (out != stdout)
        fclose(out);
    if (arch)
        ds_archive_close(arch, NULL);
    if (src)
        ds_source_close(src);
    ds_stored_free(&st);
    free(ob_state);
    free(sum);
    ds_darknet_free(&dn);
    ds_strlist_free(&pos);
    ds_options_free(analyze_options, N_OPTS, &s);
    return status;
}

const struct ds_command ds_cmd_analyze = {
    .name = "analyze",
    .summary = "read captures or an interface; print exact darknet counts",
    .run = analyze_run,
};
