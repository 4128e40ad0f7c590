/* cmd_report.c - `darkscope report KIND`: NICTER-style reports over a store. */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "core/log.h"
#include "core/options.h"
#include "core/timefmt.h"
#include "store/query.h"
#include "store/store.h"

static const char *const format_names[] = {"table", "csv", "json", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const by_names[] = {"packets", "sources", NULL};
static const char *const proto_names[] = {"all", "tcp", "udp", NULL};

struct report_settings {
    char *db;
    char *from, *to;
    int format;
    long top;
    bool exclude_research;
    int by;
    int proto;
    bool monthly;
    char *victim;
    char *source;
    int log_level;
    char *config;
    bool dump_config;
    bool help;
};

#define OPT(f) offsetof(struct report_settings, f)
static const struct ds_option report_options[] = {
    {.name = "db",
     .type = DS_OPT_STRING,
     .offset = OPT(db),
     .def = "darkscope.db",
     .metavar = "PATH",
     .help = "the store to read"},
    {.name = "from",
     .type = DS_OPT_STRING,
     .offset = OPT(from),
     .metavar = "TIME",
     .help = "period start, UTC (2024-01-01, 2024-01-01T06:00:00Z, 2024-01, 2024, @EPOCH)",
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
     .def = "table",
     .choices = format_names,
     .metavar = "table|csv|json",
     .help = "output format"},
    {.name = "top",
     .short_name = 'n',
     .type = DS_OPT_INT,
     .offset = OPT(top),
     .def = "10",
     .min = 1,
     .max = 100000,
     .metavar = "N",
     .help = "rows in rankings"},
    {.name = "exclude-research",
     .type = DS_OPT_BOOL,
     .offset = OPT(exclude_research),
     .help = "leave research-scanner sources out (as NICTER's published rankings do)",
     .cli_only = true},
    {.name = "by",
     .type = DS_OPT_ENUM,
     .offset = OPT(by),
     .def = "packets",
     .choices = by_names,
     .metavar = "packets|sources",
     .help = "rank by packets or by unique sources",
     .cli_only = true},
    {.name = "proto",
     .type = DS_OPT_ENUM,
     .offset = OPT(proto),
     .def = "all",
     .choices = proto_names,
     .metavar = "all|tcp|udp",
     .help = "ports: which protocol (port N: tcp unless udp)",
     .cli_only = true},
    {.name = "monthly",
     .type = DS_OPT_BOOL,
     .offset = OPT(monthly),
     .help = "port N: by month (the default and only layout for now)",
     .cli_only = true},
    {.name = "victim",
     .type = DS_OPT_STRING,
     .offset = OPT(victim),
     .metavar = "ADDR|CIDR",
     .help = "dos: only attacks on victims in this address or prefix",
     .cli_only = true},
    {.name = "source",
     .type = DS_OPT_STRING,
     .offset = OPT(source),
     .metavar = "ADDR|CIDR",
     .help = "campaigns: only those with a source in this address or prefix",
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
#define N_OPTS (sizeof report_options / sizeof report_options[0])

/* Tables and CSV show a list member of each row as one text: "80:1200 443:31" (name and
 * count members) or "192.0.2.7 192.0.2.9" (count NULL). */
static void flatten(json_t *list, const char *member, const char *name, const char *count)
{
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        char text[512] = "";
        size_t n = 0, k;
        json_t *p;
        json_array_foreach(json_object_get(a, member), k, p)
        {
            json_t *nv = json_object_get(p, name);
            char ntext[64];
            if (json_is_string(nv))
                snprintf(ntext, sizeof ntext, "%s", json_string_value(nv));
            else
                snprintf(ntext, sizeof ntext, "%" JSON_INTEGER_FORMAT, json_integer_value(nv));
            int w =
                count ? snprintf(text + n, sizeof text - n, "%s%s:%" JSON_INTEGER_FORMAT,
                                 n ? " " : "", ntext, json_integer_value(json_object_get(p, count)))
                      : snprintf(text + n, sizeof text - n, "%s%s", n ? " " : "", ntext);
            if (w < 0 || (size_t)w >= sizeof text - n)
                break;
            n += (size_t)w;
        }
        json_object_set_new(a, member, json_string(text));
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: darkscope report KIND [ARG] [--db PATH] [--from T --to T]\n"
               "                        [--format table|csv|json] [OPTIONS]\n\n"
               "Reports over a store written by `darkscope analyze --db`:\n"
               "  year           packets, monitored addresses (time-averaged), packets per\n"
               "                 address and unique sources, per calendar year and in all\n"
               "  ports          top TCP and UDP destination ports (--by sources, --proto)\n"
               "  countries      top source countries\n"
               "  asns           top source autonomous systems\n"
               "  port N         one port by month: packets, unique sources per day\n"
               "  hosts          top sources with their profiles\n"
               "  host ADDR      one source's profile and timeline\n"
               "  dos            DoS attacks inferred from backscatter (RS-DoS), --victim\n"
               "  campaigns      reflector hunting: amplification probes per protocol and source\n"
               "                 /24 (--source, --exclude-research)\n"
               "  outbreaks      incident candidates: change points of the 5-minute series\n"
               "                 per port, fingerprint and class, with the hosts driving them\n\n");
    ds_options_help(report_options, N_OPTS, f);
}

static int report_run(int argc, char **argv)
{
    struct report_settings s = {0};
    struct ds_strlist pos = {0};
    struct ds_err err = {0};
    struct ds_store *store = NULL;
    json_t *out = NULL;
    int status = DS_EXIT_USAGE;
    const char *csv_list = NULL;

    if (ds_options_load(report_options, N_OPTS, &s, argc, argv, &pos, &err) < 0) {
        fprintf(stderr, "darkscope report: %s\n", err.msg);
        usage(stderr);
        goto done;
    }
    if (s.help) {
        usage(stdout);
        status = DS_EXIT_OK;
        goto done;
    }
    if (s.dump_config) {
        ds_options_dump(report_options, N_OPTS, &s, stdout);
        status = DS_EXIT_OK;
        goto done;
    }
    ds_log_setup((enum ds_log_level)s.log_level, 0);
    if (pos.n == 0) {
        fprintf(stderr, "darkscope report: which report? (year, ports, countries, asns, port N, "
                        "hosts, host ADDR, dos, campaigns, outbreaks)\n");
        usage(stderr);
        goto done;
    }
    const char *kind = pos.v[0];
    bool needs_arg = !strcmp(kind, "port") || !strcmp(kind, "host");
    if (pos.n != (needs_arg ? 2u : 1u)) {
        fprintf(stderr,
                needs_arg ? "darkscope report %s: give one %s\n"
                          : "darkscope report %s: unexpected argument '%s'\n",
                kind, needs_arg ? (!strcmp(kind, "port") ? "port number" : "address") : pos.v[1]);
        goto done;
    }
    struct ds_period per = {0};
    if (s.from) {
        if (ds_time_parse(s.from, "--from", &per.from, &err) < 0)
            goto bad;
        per.has_from = true;
    }
    if (s.to) {
        if (ds_time_parse(s.to, "--to", &per.to, &err) < 0)
            goto bad;
        per.has_to = true;
    }
    if (per.has_from && per.has_to && per.to <= per.from) {
        fprintf(stderr, "darkscope report: --to (%s) must be after --from (%s)\n", s.to, s.from);
        goto done;
    }
    status = DS_EXIT_FAIL;
    if (ds_store_open(&store, s.db, true, &err) < 0)
        goto bad;
    int rc;
    if (!strcmp(kind, "year")) {
        rc = ds_query_year(store, &per, s.exclude_research, &out, &err);
        csv_list = "years";
    } else if (!strcmp(kind, "ports") || !strcmp(kind, "countries") || !strcmp(kind, "asns")) {
        struct ds_rank_opts ro = {
            .kind = !strcmp(kind, "ports")       ? DS_RANK_PORTS
                    : !strcmp(kind, "countries") ? DS_RANK_COUNTRIES
                                                 : DS_RANK_ASNS,
            .top = (size_t)s.top,
            .exclude_research = s.exclude_research,
            .by_sources = s.by == 1,
            .proto = s.proto - 1,
        };
        rc = ds_query_rank(store, &per, &ro, &out, &err);
    } else if (!strcmp(kind, "port")) {
        char *end;
        long port = strtol(pos.v[1], &end, 10);
        if (*end || end == pos.v[1] || port < 0 || port > 65535) {
            fprintf(stderr, "darkscope report port: '%s' is not a port number (0-65535)\n",
                    pos.v[1]);
            status = DS_EXIT_USAGE;
            goto done;
        }
        rc = ds_query_port_monthly(store, &per, s.proto == 2, (uint16_t)port, s.exclude_research,
                                   &out, &err);
        csv_list = "months";
    } else if (!strcmp(kind, "dos")) {
        struct ds_dos_query dq = {.period = per, .victim = s.victim};
        rc = ds_query_dos(store, &dq, &out, &err);
        if (rc == 0 && s.format != DS_FORMAT_JSON)
            flatten(out, "top_victim_ports", "port", "packets");
    } else if (!strcmp(kind, "campaigns")) {
        struct ds_campaign_query cq = {
            .period = per, .source = s.source, .exclude_research = s.exclude_research};
        rc = ds_query_campaigns(store, &cq, &out, &err);
        if (rc == 0 && s.format != DS_FORMAT_JSON)
            flatten(out, "top_sources", "address", "packets");
    } else if (!strcmp(kind, "outbreaks")) {
        struct ds_outbreak_query oq = {.period = per};
        rc = ds_query_outbreaks(store, &oq, &out, &err);
        if (rc == 0 && s.format != DS_FORMAT_JSON)
            flatten(out, "top_hosts", "address", NULL);
    } else if (!strcmp(kind, "hosts")) {
        rc = ds_query_hosts(store, &per, (size_t)s.top, s.exclude_research, &out, &err);
    } else if (!strcmp(kind, "host")) {
        rc = ds_query_host(store, pos.v[1], &out, &err);
        csv_list = "timeline";
    } else {
        fprintf(stderr,
                "darkscope report: unknown report '%s' (year, ports, countries, asns, "
                "port N, hosts, host ADDR, dos, campaigns, outbreaks)\n",
                kind);
        status = DS_EXIT_USAGE;
        goto done;
    }
    if (rc < 0)
        goto bad;
    if (ds_render(stdout, (enum ds_format)s.format, out, csv_list) < 0 || fflush(stdout)) {
        fprintf(stderr, "darkscope report: writing the report failed\n");
        goto done;
    }
    status = DS_EXIT_OK;
    goto done;
bad:
    fprintf(stderr, "darkscope report: %s\n", err.msg);
done:
    json_decref(out);
    ds_store_close(store);
    ds_strlist_free(&pos);
    ds_options_free(report_options, N_OPTS, &s);
    return status;
}

const struct ds_command ds_cmd_report = {
    .name = "report",
    .summary = "NICTER-style reports over a store (year, ports, countries, asns, hosts, dos...)",
    .run = report_run,
};
