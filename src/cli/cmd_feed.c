/* cmd_feed.c - `darkscope feed KIND`: sharing feeds (infected hosts, DoS victims, statistics)
 * as CSV, IntelMQ JSON lines, STIX 2.1 or MISP (docs/feeds.md). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/registry.h"
#include "cli/cli.h"
#include "core/log.h"
#include "core/options.h"
#include "core/timefmt.h"
#include "feed/digest.h"
#include "feed/feed.h"
#include "store/store.h"

static const char *const format_names[] = {"csv", "json", "stix", "misp", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};

struct feed_settings {
    char *db;
    struct ds_strlist asn, prefix;
    char *from, *to;
    int format;
    char *output;
    long top;
    long limit;
    char *producer;
    char *org;
    int log_level;
    char *config;
    bool help;
};

#define OPT(f) offsetof(struct feed_settings, f)
static const struct ds_option feed_options[] = {
    {.name = "db",
     .type = DS_OPT_STRING,
     .offset = OPT(db),
     .def = "darkscope.db",
     .metavar = "PATH",
     .help = "the store to read"},
    {.name = "asn",
     .type = DS_OPT_LIST,
     .offset = OPT(asn),
     .metavar = "N",
     .help = "infected/dos: rows in this AS (ORed with --prefix)",
     .cli_only = true},
    {.name = "prefix",
     .type = DS_OPT_LIST,
     .offset = OPT(prefix),
     .metavar = "CIDR",
     .help = "infected/dos: rows inside this prefix",
     .cli_only = true},
    {.name = "from",
     .type = DS_OPT_STRING,
     .offset = OPT(from),
     .metavar = "TIME",
     .help = "period start, UTC (2024-01-01, 2024-01-01T06:00:00Z, @EPOCH)",
     .cli_only = true},
    {.name = "to",
     .type = DS_OPT_STRING,
     .offset = OPT(to),
     .metavar = "TIME",
     .help = "period end (exclusive), same forms",
     .cli_only = true},
    {.name = "format",
     .type = DS_OPT_ENUM,
     .offset = OPT(format),
     .def = "csv",
     .choices = format_names,
     .metavar = "csv|json|stix|misp",
     .help = "CSV (Shadowserver-like), IntelMQ JSON lines, STIX 2.1 bundle, MISP event"},
    {.name = "output",
     .short_name = 'o',
     .type = DS_OPT_STRING,
     .offset = OPT(output),
     .metavar = "FILE",
     .help = "write the feed to FILE (default: standard output)",
     .cli_only = true},
    {.name = "top",
     .short_name = 'n',
     .type = DS_OPT_INT,
     .offset = OPT(top),
     .def = "10",
     .min = 1,
     .max = 10000,
     .metavar = "N",
     .help = "stats: top ports per day"},
    {.name = "limit",
     .type = DS_OPT_INT,
     .offset = OPT(limit),
     .def = "0",
     .min = 0,
     .max = 100000000,
     .metavar = "N",
     .help = "at most N rows (0: all)",
     .cli_only = true},
    {.name = "producer",
     .type = DS_OPT_STRING,
     .offset = OPT(producer),
     .def = "darkscope",
     .metavar = "NAME",
     .help = "the producer named in STIX identities, MISP events and IntelMQ feed.provider"},
    {.name = "org",
     .type = DS_OPT_STRING,
     .offset = OPT(org),
     .metavar = "NAME",
     .help = "infected/dos: only the rows an organisation gets (its livenet, as the API and "
             "the daily digests scope them)",
     .cli_only = true},
    {.name = "log-level",
     .type = DS_OPT_ENUM,
     .offset = OPT(log_level),
     .def = "warn",
     .choices = level_names,
     .metavar = "LEVEL",
     .help = "error|warn|info|debug"},
    {.name = "config",
     .type = DS_OPT_STRING,
     .offset = OPT(config),
     .metavar = "FILE",
     .help = "read settings from FILE (flags override it)",
     .cli_only = true},
    {.name = "help",
     .short_name = 'h',
     .type = DS_OPT_BOOL,
     .offset = OPT(help),
     .help = "show this help",
     .cli_only = true},
};
#define N_OPTS (sizeof feed_options / sizeof feed_options[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: darkscope feed KIND --db PATH [--asn N]... [--prefix CIDR]...\n"
               "                      [--from T --to T] [--format csv|json|stix|misp] [-o FILE]\n\n"
               "Sharing feeds over a store written by `darkscope analyze --db`:\n");
    for (size_t i = 0; ds_feed_kinds[i]; i++)
        fprintf(f, "  %-10s %s\n", ds_feed_kinds[i]->name, ds_feed_kinds[i]->summary);
    fputc('\n', f);
    ds_options_help(feed_options, N_OPTS, f);
}

/* The query from the settings: 0, or a negative code with err naming the bad value. */
static int make_query(const struct feed_settings *s, struct ds_feed_query *q, struct ds_err *err)
{
    memset(q, 0, sizeof *q);
    int rc;
    for (size_t i = 0; i < s->asn.n; i++)
        if ((rc = ds_feed_add_asn(q, s->asn.v[i], "--asn", err)) < 0)
            return rc;
    for (size_t i = 0; i < s->prefix.n; i++)
        if ((rc = ds_feed_add_prefix(q, s->prefix.v[i], "--prefix", err)) < 0)
            return rc;
    if (s->from) {
        if ((rc = ds_time_parse(s->from, "--from", &q->period.from, err)) < 0)
            return rc;
        q->period.has_from = true;
    }
    if (s->to) {
        if ((rc = ds_time_parse(s->to, "--to", &q->period.to, err)) < 0)
            return rc;
        q->period.has_to = true;
    }
    if (q->period.has_from && q->period.has_to && q->period.to <= q->period.from)
        return ds_err_set(err, -EINVAL, "--to (%s) must be after --from (%s)", s->to, s->from);
    q->top = (size_t)s->top;
    q->limit = (size_t)s->limit;
    return 0;
}

static int feed_run(int argc, char **argv)
{
    struct feed_settings s = {0};
    struct ds_strlist pos = {0};
    struct ds_err err = {0};
    struct ds_store *store = NULL;
    struct ds_feed feed = {0};
    struct ds_registry *reg = NULL;
    FILE *out = NULL;
    int status = DS_EXIT_USAGE;

    if (ds_options_load(feed_options, N_OPTS, &s, argc, argv, &pos, &err) < 0) {
        fprintf(stderr, "darkscope feed: %s\n", err.msg);
        usage(stderr);
        goto done;
    }
    if (s.help) {
        usage(stdout);
        status = DS_EXIT_OK;
        goto done;
    }
    ds_log_setup((enum ds_log_level)s.log_level, 0);
    if (pos.n != 1) {
        fprintf(stderr,
                pos.n ? "darkscope feed: give one feed kind, not %zu\n"
                      : "darkscope feed: which feed? (infected, dos, stats)\n",
                pos.n);
        usage(stderr);
        goto done;
    }
    const struct ds_feed_kind *kind = ds_feed_kind_find(pos.v[0]);
    if (!kind) {
        fprintf(stderr, "darkscope feed: unknown feed '%s' (infected, dos, stats)\n", pos.v[0]);
        goto done;
    }
    const struct ds_feed_format *fmt = ds_feed_format_find(format_names[s.format]);
    struct ds_feed_query q;
    if (make_query(&s, &q, &err) < 0)
        goto bad;
    if (!kind->by_address && (q.n_asns || q.n_prefixes)) {
        fprintf(stderr, "darkscope feed %s: --asn and --prefix do not apply to statistics\n",
                kind->name);
        goto done;
    }
    if (kind == ds_feed_kind_find("stats") && (s.format == 2 || s.format == 3)) {
        fprintf(stderr,
                "darkscope feed stats: --format %s carries addresses, not statistics (use csv "
                "or json)\n",
                format_names[s.format]);
        goto done;
    }
    status = DS_EXIT_FAIL;
    if (ds_store_open(&store, s.db, true, &err) < 0)
        goto bad;
    snprintf(feed.producer, sizeof feed.producer, "%s", s.producer);
    struct ds_feed_scope scope = {0};
    if (s.org) {
        if (!kind->by_address) {
            fprintf(stderr, "darkscope feed %s: --org does not apply to statistics\n", kind->name);
            status = DS_EXIT_USAGE;
            goto done;
        }
        if (ds_registry_load(store, &reg, &err) < 0)
            goto bad;
        for (size_t i = 0; i < reg->n_orgs; i++)
            if (!strcmp(reg->orgs[i].name, s.org))
                scope.org_id = reg->orgs[i].id;
        if (!scope.org_id) {
            fprintf(stderr, "darkscope feed: --org '%s': no such organisation\n", s.org);
            status = DS_EXIT_USAGE;
            goto done;
        }
        scope.reg = reg;
        q.keep = ds_feed_scope_keep;
        q.keep_ctx = &scope;
    }
    if (ds_feed_read(store, kind, &q, &feed, &err) < 0)
        goto bad;
    out = s.output ? fopen(s.output, "w") : stdout;
    if (!out) {
        fprintf(stderr, "darkscope feed: -o %s: %s\n", s.output, strerror(errno));
        goto done;
    }
    if (ds_feed_write(out, fmt, &feed, &err) < 0)
        goto bad;
    if (s.output && fclose(out)) {
        out = NULL;
        fprintf(stderr, "darkscope feed: -o %s: %s\n", s.output, strerror(errno));
        goto done;
    }
    out = NULL;
    ds_info("feed", "%s: %zu rows as %s", kind->name, json_array_size(feed.rows), fmt->name);
    status = DS_EXIT_OK;
    goto done;
bad:
    fprintf(stderr, "darkscope feed: %s\n", err.msg);
done:
    if (out && out != stdout)
        fclose(out);
    ds_feed_free(&feed);
    ds_registry_free(reg);
    ds_store_close(store);
    ds_strlist_free(&pos);
    ds_options_free(feed_options, N_OPTS, &s);
    return status;
}

const struct ds_command ds_cmd_feed = {
    .name = "feed",
    .summary = "sharing feeds: infected hosts, DoS victims, statistics (CSV, IntelMQ, STIX, MISP)",
    .run = feed_run,
};
