/* analysis.c - the analysis settings `analyze` and `run` share, and what they configure. */
#include "cli/analysis.h"

#include <limits.h>
#include <stddef.h>

#define AOPT(f) offsetof(struct ds_analysis_settings, f)
const struct ds_option ds_analysis_options[DS_ANALYSIS_N_OPTIONS] = {
    {.name = "darknet",
     .short_name = 'd',
     .type = DS_OPT_LIST,
     .offset = AOPT(darknet),
     .metavar = "CIDR[,CIDR]",
     .help = "monitored prefixes, v4 or v6 (default: every destination)"},
    {.name = "darknet-file",
     .type = DS_OPT_LIST,
     .offset = AOPT(darknet_file),
     .metavar = "FILE",
     .help = "read monitored prefixes from a file, one or more per line, # comments"},
    {.name = "threads",
     .short_name = 'T',
     .type = DS_OPT_INT,
     .offset = AOPT(threads),
     .def = "1",
     .min = 1,
     .max = 256,
     .metavar = "N",
     .help = "shard workers (1: single thread; N>1: a reader plus N shard threads)"},
    {.name = "archive",
     .type = DS_OPT_STRING,
     .offset = AOPT(archive),
     .metavar = "DIR",
     .help = "also write every packet read to rotated capture files here (docs/archive.md)"},
    {.name = "archive-period",
     .type = DS_OPT_INT,
     .offset = AOPT(archive_period),
     .def = "3600",
     .min = 60,
     .max = 86400,
     .metavar = "SECONDS",
     .help = "archive: one file per this much packet time"},
    {.name = "archive-zstd",
     .type = DS_OPT_INT,
     .offset = AOPT(archive_zstd),
     .def = "3",
     .min = 0,
     .max = 19,
     .metavar = "LEVEL",
     .help = "archive: zstd level (0: plain .pcap)"},
    {.name = "geo-country",
     .type = DS_OPT_STRING,
     .offset = AOPT(geo_country),
     .def = DS_DATA_DIR "/geo/country.mmdb",
     .metavar = "MMDB",
     .help = "country database (GeoLite2 or ip-location-db layout)"},
    {.name = "geo-asn",
     .type = DS_OPT_STRING,
     .offset = AOPT(geo_asn),
     .def = DS_DATA_DIR "/geo/asn.mmdb",
     .metavar = "MMDB",
     .help = "ASN database (GeoLite2-ASN layout)"},
    {.name = "research",
     .type = DS_OPT_LIST,
     .offset = AOPT(research),
     .metavar = "FILE",
     .help = "more research-scanner ranges: text list or MISP warninglist JSON"},
    {.name = "no-research-default",
     .type = DS_OPT_BOOL,
     .offset = AOPT(no_research_default),
     .help = "do not load the project's own list (" DS_DATA_DIR "/research-scanners.txt)"},
    {.name = "host-idle",
     .type = DS_OPT_INT,
     .offset = AOPT(host_idle),
     .def = "86400",
     .min = 0,
     .max = 31536000,
     .metavar = "SECONDS",
     .help = "flush and forget hosts idle this long in packet time (0: keep all)"},
    {.name = "max-hosts",
     .type = DS_OPT_INT,
     .offset = AOPT(max_hosts),
     .def = "8000000",
     .min = 0,
     .max = LONG_MAX,
     .metavar = "N",
     .help = "host profiles held in memory (~140 bytes each; the oldest go first; 0: no limit)"},
    {.name = "hscan-dsts",
     .type = DS_OPT_INT,
     .offset = AOPT(hscan_dsts),
     .def = "25",
     .min = 1,
     .max = 255,
     .metavar = "N",
     .help = "horizontal scan: this many destinations within 5 minutes"},
    {.name = "vscan-ports",
     .type = DS_OPT_INT,
     .offset = AOPT(vscan_ports),
     .def = "15",
     .min = 1,
     .max = 255,
     .metavar = "N",
     .help = "vertical scan: this many ports within 5 minutes"},
    {.name = "dos-min-packets",
     .type = DS_OPT_INT,
     .offset = AOPT(dos_min_packets),
     .def = "25",
     .min = 1,
     .max = 1000000000,
     .metavar = "N",
     .help = "DoS inference (with --db): an attack has at least this many backscatter packets"},
    {.name = "dos-min-duration",
     .type = DS_OPT_INT,
     .offset = AOPT(dos_min_duration),
     .def = "60",
     .min = 0,
     .max = 86400,
     .metavar = "SECONDS",
     .help = "DoS inference: an attack lasts at least this long"},
    {.name = "dos-min-ppm",
     .type = DS_OPT_INT,
     .offset = AOPT(dos_min_ppm),
     .def = "30",
     .min = 1,
     .max = 1000000000,
     .metavar = "N",
     .help = "DoS inference: peak packets per minute (60 s windows sliding by 10 s)"},
    {.name = "dos-expiry",
     .type = DS_OPT_INT,
     .offset = AOPT(dos_expiry),
     .def = "300",
     .min = 10,
     .max = 86400,
     .metavar = "SECONDS",
     .help = "DoS inference: an attack vector ends after this long without backscatter"},
    {.name = "campaign-expiry",
     .type = DS_OPT_INT,
     .offset = AOPT(campaign_expiry),
     .def = "3600",
     .min = 10,
     .max = 30 * 86400,
     .metavar = "SECONDS",
     .help = "reflector hunting (with --db): a campaign ends after this long without a probe"},
};
#undef AOPT

int ds_analysis_darknet(const struct ds_analysis_settings *a, struct ds_darknet *dn,
                        struct ds_err *err)
{
    int rc = 0;
    for (size_t i = 0; i < a->darknet.n && rc == 0; i++)
        rc = ds_darknet_add_list(dn, a->darknet.v[i], "--darknet", err);
    for (size_t i = 0; i < a->darknet_file.n && rc == 0; i++)
        rc = ds_darknet_add_file(dn, a->darknet_file.v[i], err);
    if (rc == 0)
        ds_darknet_finish(dn);
    return rc;
}

char *ds_analysis_darknet_text(const struct ds_analysis_settings *a)
{
    return ds_darknet_text((const char *const *)a->darknet.v, a->darknet.n,
                           (const char *const *)a->darknet_file.v, a->darknet_file.n);
}

void ds_analysis_stored_opts(const struct ds_analysis_settings *a, const char *db,
                             const struct ds_strlist *read, const char *cmd,
                             struct ds_stored_opts *out)
{
    *out = (struct ds_stored_opts){
        .db = db,
        .read = (const char *const *)read->v,
        .n_read = read->n,
        .geo_country = a->geo_country,
        .geo_asn = a->geo_asn,
        .research = (const char *const *)a->research.v,
        .n_research = a->research.n,
        .no_research_default = a->no_research_default,
        .cmd = cmd,
    };
}

void ds_analysis_shard_config(const struct ds_analysis_settings *a, const struct ds_darknet *dn,
                              const struct ds_stored_run *st, struct ds_shard_config *out)
{
    *out = (struct ds_shard_config){
        .geo = st ? st->geo : NULL,
        .scanners = st ? st->scanners : NULL,
        .monitored = ds_darknet_v4_addresses(dn),
        .hscan_dsts = (uint32_t)a->hscan_dsts,
        .vscan_ports = (uint32_t)a->vscan_ports,
        .idle_intervals = (uint32_t)((a->host_idle + 299) / 300),
        .max_hosts = (size_t)a->max_hosts / (size_t)a->threads,
    };
}

void ds_analysis_dos_config(const struct ds_analysis_settings *a, struct ds_dos_config *out)
{
    *out = (struct ds_dos_config){.min_packets = (uint64_t)a->dos_min_packets,
                                  .min_duration_s = (uint64_t)a->dos_min_duration,
                                  .min_ppm = (uint32_t)a->dos_min_ppm,
                                  .expiry_s = (uint64_t)a->dos_expiry};
}

void ds_analysis_campaign_config(const struct ds_analysis_settings *a,
                                 struct ds_campaign_config *out)
{
    *out = (struct ds_campaign_config){.expiry_s = (uint64_t)a->campaign_expiry};
}

int ds_analysis_archive(const struct ds_analysis_settings *a, struct ds_archive **out,
                        struct ds_err *err)
{
    *out = NULL;
    if (!a->archive)
        return 0;
    struct ds_archive_config ac;
    ds_archive_config_init(&ac);
    ac.dir = a->archive;
    ac.period_s = (uint32_t)a->archive_period;
    ac.zstd_level = (int)a->archive_zstd;
    return ds_archive_open(out, &ac, err);
}
