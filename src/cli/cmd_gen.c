/* cmd_gen.c - `darkscope gen`: synthetic darknet traffic with exact ground truth. */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/options.h"
#include "gen/gen.h"
#include "gen/pop.h"

static const char *const format_names[] = {"auto", "pcap", "pcapng", NULL};
static const char *const link_names[] = {"ethernet", "raw", NULL};
static const char *const hosts_names[] = {"auto", "none", "summary", "all", NULL};

struct gen_settings {
    char *write;
    char *truth;
    int profile;
    long seed;
    char *start;
    char *duration;
    long minutes;
    struct ds_strlist darknet;
    struct ds_strlist darknet6;
    char *scale;
    char *packets;
    int format;
    bool nanosecond;
    int link;
    long snaplen;
    long zstd_level;
    int truth_hosts;
    long truth_top;
    bool self_check;
    bool quiet;
    bool help;
    long count[DS_GEN_MAX_POPS];
};

#define OPT(f) offsetof(struct gen_settings, f)
static const struct ds_option base_options[] = {
    {.name = "write",
     .short_name = 'w',
     .type = DS_OPT_STRING,
     .offset = OPT(write),
     .metavar = "FILE",
     .help = "capture to write (.pcap, .pcapng; .zst compresses; - = stdout)"},
    {.name = "truth",
     .type = DS_OPT_STRING,
     .offset = OPT(truth),
     .metavar = "FILE",
     .help = "ground truth JSON to write"},
    {.name = "profile",
     .type = DS_OPT_ENUM,
     .offset = OPT(profile),
     .def = "demo",
     .choices = ds_gen_profile_names,
     .metavar = "demo|bench|tiny",
     .help = "defaults for darknet, duration and population sizes"},
    {.name = "seed",
     .short_name = 's',
     .type = DS_OPT_INT,
     .offset = OPT(seed),
     .def = "1",
     .min = 0,
     .max = LONG_MAX,
     .metavar = "N",
     .help = "random seed (same seed, same bytes)"},
    {.name = "start",
     .type = DS_OPT_STRING,
     .offset = OPT(start),
     .metavar = "TIME",
     .help = "capture start, UTC 'YYYY-MM-DDTHH:MM:SSZ' or epoch seconds "
             "(default 2024-01-01T00:00:00Z)"},
    {.name = "duration",
     .type = DS_OPT_STRING,
     .offset = OPT(duration),
     .metavar = "TIME",
     .help = "capture length: seconds, or with s/m/h/d (profile: 1h, tiny 10m)"},
    {.name = "minutes",
     .short_name = 'm',
     .type = DS_OPT_INT,
     .offset = OPT(minutes),
     .min = 0,
     .max = 5256000,
     .metavar = "N",
     .help = "capture length in minutes"},
    {.name = "darknet",
     .short_name = 'd',
     .type = DS_OPT_LIST,
     .offset = OPT(darknet),
     .metavar = "CIDR[,CIDR]",
     .help = "monitored prefixes, v4 or v6 (default 198.51.100.0/24,203.0.113.0/24)"},
    {.name = "darknet6",
     .type = DS_OPT_LIST,
     .offset = OPT(darknet6),
     .metavar = "CIDR|none",
     .help = "monitored IPv6 prefixes (default 2001:db8:1::/48; none: IPv4 only)"},
    {.name = "scale",
     .type = DS_OPT_STRING,
     .offset = OPT(scale),
     .metavar = "F",
     .help = "multiply every population size by F"},
    {.name = "packets",
     .type = DS_OPT_STRING,
     .offset = OPT(packets),
     .metavar = "N[k|M|G]",
     .help = "scale the populations to about N packets"},
    {.name = "format",
     .type = DS_OPT_ENUM,
     .offset = OPT(format),
     .def = "auto",
     .choices = format_names,
     .metavar = "auto|pcap|pcapng",
     .help = "capture format (auto: pcapng when the name says so)"},
    {.name = "nanosecond",
     .type = DS_OPT_BOOL,
     .offset = OPT(nanosecond),
     .help = "nanosecond timestamps"},
    {.name = "link",
     .type = DS_OPT_ENUM,
     .offset = OPT(link),
     .def = "ethernet",
     .choices = link_names,
     .metavar = "ethernet|raw",
     .help = "link type of the frames"},
    {.name = "snaplen",
     .type = DS_OPT_INT,
     .offset = OPT(snaplen),
     .def = "262144",
     .min = 2048,
     .max = 262144,
     .metavar = "BYTES",
     .help = "snap length in the file header (frames are never longer)"},
    {.name = "zstd-level",
     .type = DS_OPT_INT,
     .offset = OPT(zstd_level),
     .def = "3",
     .min = 1,
     .max = 19,
     .metavar = "N",
     .help = "zstd level when the name ends in .zst"},
    {.name = "truth-hosts",
     .type = DS_OPT_ENUM,
     .offset = OPT(truth_hosts),
     .def = "auto",
     .choices = hosts_names,
     .metavar = "auto|none|summary|all",
     .help = "per-source list in the truth (auto: all up to 20000 sources, else summary)"},
    {.name = "truth-top",
     .type = DS_OPT_INT,
     .offset = OPT(truth_top),
     .def = "100",
     .min = 0,
     .max = 131072,
     .metavar = "N",
     .help = "ports listed in the truth (analyze's --top)"},
    {.name = "self-check",
     .type = DS_OPT_BOOL,
     .offset = OPT(self_check),
     .help = "decode and classify every frame with the analyzer's code and compare (slow)"},
    {.name = "quiet",
     .short_name = 'q',
     .type = DS_OPT_BOOL,
     .offset = OPT(quiet),
     .help = "no summary on standard error"},
    {.name = "help",
     .short_name = 'h',
     .type = DS_OPT_BOOL,
     .offset = OPT(help),
     .help = "show this help"},
};
#define N_BASE (sizeof base_options / sizeof base_options[0])

/* The full table: the base options plus one size option per population, from the registry. */
struct gen_table {
    struct ds_option o[N_BASE + DS_GEN_MAX_POPS];
    size_t n;
    char help[DS_GEN_MAX_POPS][256];
};

static void build_table(struct gen_table *t)
{
    memcpy(t->o, base_options, sizeof base_options);
    t->n = N_BASE;
    for (unsigned i = 0; ds_gen_pops[i] && i < DS_GEN_MAX_POPS; i++) {
        const struct ds_gen_pop *p = ds_gen_pops[i];
        snprintf(t->help[i], sizeof t->help[i], "%s (demo %ld, bench %ld, tiny %ld)",
                 p->description, p->size[DS_GEN_PROFILE_DEMO], p->size[DS_GEN_PROFILE_BENCH],
                 p->size[DS_GEN_PROFILE_TINY]);
        /* no default in the table: -1 (set after the defaults) means "the profile's" */
        t->o[t->n++] = (struct ds_option){.name = p->option,
                                          .type = DS_OPT_INT,
                                          .offset = OPT(count) + i * sizeof(long),
                                          .min = 0,
                                          .max = 100000000,
                                          .metavar = "N",
                                          .help = t->help[i]};
    }
}

static void usage(const struct gen_table *t, FILE *f)
{
    fprintf(f,
            "usage: darkscope gen -w FILE [--truth FILE] [--profile demo|bench|tiny] [OPTIONS]\n\n"
            "Writes synthetic darknet traffic (Mirai bots, scanners, backscatter, reflector\n"
            "hunting, IPv6 scans, oddities) and its exact ground truth. The same seed and\n"
            "options give byte-identical files. Population sizes default to the profile's.\n\n");
    ds_options_help(t->o, t->n, f);
    fprintf(f, "\nexamples:\n"
               "  darkscope gen -w demo.pcap --truth demo.truth.json\n"
               "  darkscope gen --profile bench -w bench.pcap --truth bench.truth.json\n");
}

/* Seconds with an optional unit: 90, 90s, 15m, 2h, 1d. */
static int parse_duration(const char *s, uint64_t *ns, struct ds_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mult = 1;
    if (end != s && *end && !end[1]) {
        switch (*end) {
        case 's':
            mult = 1;
            end++;
            break;
        case 'm':
            mult = 60;
            end++;
            break;
        case 'h':
            mult = 3600;
            end++;
            break;
        case 'd':
            mult = 86400;
            end++;
            break;
        default:
            break;
        }
    }
    if (errno || end == s || *end || !(v > 0) || v * mult > 1e8)
        return ds_err_set(err, -EINVAL,
                          "--duration: '%s' is not a duration (e.g. 600, 90s, 15m, 2h)", s);
    *ns = (uint64_t)llround(v * mult * 1e9);
    return 0;
}

/* UTC "YYYY-MM-DDTHH:MM:SS[.frac][Z]" (or a space for T), or epoch seconds. */
static int parse_start(const char *s, uint64_t *ns, struct ds_err *err)
{
    char *end;
    bool digits = *s != '\0';
    for (const char *p = s; *p; p++)
        digits &= isdigit((unsigned char)*p) != 0;
    if (digits) {
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || v > 4000000000ull)
            return ds_err_set(err, -EINVAL, "--start: '%s' is out of range", s);
        *ns = v * 1000000000ull;
        return 0;
    }
    struct tm tm = {0};
    int y, mo, d, h, mi, se, n = 0;
    char sep;
    if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &se, &n) != 7 ||
        (sep != 'T' && sep != ' ') || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60 || y < 1970 || y > 2099)
        return ds_err_set(err, -EINVAL, "--start: '%s' is not a UTC time like 2024-01-01T00:00:00Z",
                          s);
    uint64_t frac = 0;
    const char *p = s + n;
    if (*p == '.') {
        uint64_t scale = 100000000;
        for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (uint64_t)(*p - '0') * scale;
    }
    if (*p == 'Z')
        p++;
    if (*p)
        return ds_err_set(err, -EINVAL, "--start: unexpected '%s' in '%s'", p, s);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    *ns = (uint64_t)t * 1000000000ull + frac;
    return 0;
}

static int parse_count(const char *name, const char *s, double *out, struct ds_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s && *end && !end[1]) {
        switch (*end) {
        case 'k':
        case 'K':
            v *= 1e3;
            end++;
            break;
        case 'M':
            v *= 1e6;
            end++;
            break;
        case 'G':
            v *= 1e9;
            end++;
            break;
        default:
            break;
        }
    }
    if (errno || end == s || *end || !(v > 0) || v > 1e12)
        return ds_err_set(err, -EINVAL, "%s: '%s' is not a positive number", name, s);
    *out = v;
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Joins the prefix lists into o->darknet; "none" in --darknet6 drops the v6 default. */
static int set_darknet(struct ds_gen_opts *o, const struct gen_settings *s, struct ds_err *err)
{
    char v4[sizeof o->darknet] = "", v6[sizeof o->darknet] = "";
    /* the profile's defaults, split by family */
    char prof[sizeof o->darknet];
    snprintf(prof, sizeof prof, "%s", o->darknet);
    for (char *tok = strtok(prof, ","); tok; tok = strtok(NULL, ",")) {
        char *dst = strchr(tok, ':') ? v6 : v4;
        size_t l = strlen(dst);
        snprintf(dst + l, sizeof v4 - l, "%s%s", l ? "," : "", tok);
    }
    if (s->darknet.n) { /* --darknet replaces the IPv4 default (and carries any IPv6 given) */
        v4[0] = '\0';
        if (!s->darknet6.n)
            v6[0] = '\0';
        for (size_t i = 0; i < s->darknet.n; i++) {
            size_t l = strlen(v4);
            snprintf(v4 + l, sizeof v4 - l, "%s%s", l ? "," : "", s->darknet.v[i]);
        }
    }
    if (s->darknet6.n) {
        v6[0] = '\0';
        for (size_t i = 0; i < s->darknet6.n; i++) {
            if (!strcmp(s->darknet6.v[i], "none"))
                continue;
            size_t l = strlen(v6);
            snprintf(v6 + l, sizeof v6 - l, "%s%s", l ? "," : "", s->darknet6.v[i]);
        }
    }
    int n = snprintf(o->darknet, sizeof o->darknet, "%s%s%s", v4, v4[0] && v6[0] ? "," : "", v6);
    if (n >= (int)sizeof o->darknet)
        return ds_err_set(err, -EINVAL, "--darknet: the prefix list is too long");
    /* validate each list under its own name, so the error names the option */
    struct ds_darknet d;
    ds_darknet_init(&d);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->darknet.n; i++)
        rc = ds_darknet_add_list(&d, s->darknet.v[i], "--darknet", err);
    for (size_t i = 0; rc == 0 && i < s->darknet6.n; i++)
        if (strcmp(s->darknet6.v[i], "none"))
            rc = ds_darknet_add_list(&d, s->darknet6.v[i], "--darknet6", err);
    if (rc == 0)
        rc = ds_darknet_add_list(&d, o->darknet, "--darknet", err);
    bool empty = ds_darknet_is_all(&d);
    ds_darknet_free(&d);
    if (rc < 0)
        return rc;
    if (empty)
        return ds_err_set(err, -EINVAL, "--darknet: no prefix left to monitor");
    return 0;
}

static int build_opts(const struct gen_settings *s, struct ds_gen_opts *o, struct ds_err *err)
{
    ds_gen_opts_profile(o, (enum ds_gen_profile)s->profile);
    o->seed = (uint64_t)s->seed;
    int rc;
    if (s->start && (rc = parse_start(s->start, &o->start_ns, err)) < 0)
        return rc;
    if (s->minutes)
        o->duration_ns = (uint64_t)s->minutes * 60 * 1000000000ull;
    if (s->duration && (rc = parse_duration(s->duration, &o->duration_ns, err)) < 0)
        return rc;
    if ((rc = set_darknet(o, s, err)) < 0)
        return rc;
    for (unsigned i = 0; ds_gen_pops[i]; i++)
        if (s->count[i] >= 0)
            o->count[i] = s->count[i];
    if (s->scale && s->packets)
        return ds_err_set(err, -EINVAL, "--scale and --packets cannot be combined");
    double factor = 1;
    if (s->scale && (rc = parse_count("--scale", s->scale, &factor, err)) < 0)
        return rc;
    if (s->packets) {
        double target, expected;
        if ((rc = parse_count("--packets", s->packets, &target, err)) < 0)
            return rc;
        if ((rc = ds_gen_expected_packets(o, &expected, err)) < 0)
            return rc;
        if (!(expected > 0))
            return ds_err_set(err, -EINVAL, "--packets: every population is empty");
        factor = target / expected;
    }
    if (factor != 1)
        for (unsigned i = 0; ds_gen_pops[i]; i++)
            if (ds_gen_pops[i]->scalable)
                o->count[i] = (long)llround((double)o->count[i] * factor);
    o->nanosec = s->nanosecond;
    o->link = s->link == 1 ? DS_CRAFT_RAW : DS_CRAFT_ETHERNET;
    o->snaplen = (uint32_t)s->snaplen;
    o->out_path = s->write;
    o->truth_path = s->truth;
    o->zstd = ds_pcapw_name_is_zstd(s->write);
    o->zstd_level = (int)s->zstd_level;
    if (s->format == 0)
        o->format = ends_with(s->write, ".pcapng") || ends_with(s->write, ".pcapng.zst")
                        ? DS_PCAPW_PCAPNG
                        : DS_PCAPW_PCAP;
    else
        o->format = s->format == 2 ? DS_PCAPW_PCAPNG : DS_PCAPW_PCAP;
    o->hosts = (enum ds_truth_hosts)s->truth_hosts;
    o->top = (unsigned)s->truth_top;
    o->self_check = s->self_check;
    return 0;
}

static int gen_run(int argc, char **argv)
{
    struct gen_table t;
    build_table(&t);
    struct gen_settings s;
    struct ds_err err = {0};
    struct ds_gen_opts o;
    int status = DS_EXIT_OK;
    int rc = ds_options_defaults(t.o, t.n, &s, &err);
    for (unsigned i = 0; i < DS_GEN_MAX_POPS; i++)
        s.count[i] = -1;
    if (rc < 0 || ds_options_parse_argv(t.o, t.n, &s, argc, argv, NULL, &err) < 0) {
        fprintf(stderr, "darkscope gen: %s\n", err.msg);
        status = DS_EXIT_USAGE;
        goto out;
    }
    if (s.help) {
        usage(&t, stdout);
        goto out;
    }
    if (!s.write) {
        fprintf(stderr, "darkscope gen: -w FILE is required (see --help)\n");
        status = DS_EXIT_USAGE;
        goto out;
    }
    if (build_opts(&s, &o, &err) < 0) {
        fprintf(stderr, "darkscope gen: %s\n", err.msg);
        status = DS_EXIT_USAGE;
        goto out;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct ds_gen_stats st;
    if (ds_gen_run(&o, &st, &err) < 0) {
        fprintf(stderr, "darkscope gen: %s\n", err.msg);
        status = err.code == -EINVAL ? DS_EXIT_USAGE : DS_EXIT_FAIL;
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (!s.quiet)
        fprintf(stderr,
                "darkscope gen: %" PRIu64 " packets (%" PRIu64 " to the darknet, %" PRIu64
                " sources, %.1f MB) in %.2f s, %.0f packets/s%s\n",
                st.packets, st.darknet_packets, st.sources, (double)st.bytes / 1e6, secs,
                secs > 0 ? (double)st.packets / secs : 0.0,
                o.self_check ? ", self-check passed" : "");
out:
    ds_options_free(t.o, t.n, &s);
    return status;
}

const struct ds_command ds_cmd_gen = {
    .name = "gen",
    .summary = "write synthetic darknet traffic and its exact ground truth",
    .run = gen_run,
};
