/* analysis.h - the analysis settings `analyze` and `run` share: one option group (darknet,
 * workers, raw archive, enrichment, host table, scan thresholds, incident detectors) embedded
 * in each command's settings, and the configurations built from it. */
#ifndef DS_CLI_ANALYSIS_H
#define DS_CLI_ANALYSIS_H

#include <stdbool.h>

#include "analyze/shard.h"
#include "cli/stored.h"
#include "core/darknet.h"
#include "core/err.h"
#include "core/options.h"
#include "incident/campaign.h"
#include "incident/dos.h"
#include "store/archive.h"

struct ds_analysis_settings {
    struct ds_strlist darknet;
    struct ds_strlist darknet_file;
    long threads;
    char *archive;
    long archive_period;
    long archive_zstd;
    char *geo_country;
    char *geo_asn;
    struct ds_strlist research;
    bool no_research_default;
    long host_idle;
    long max_hosts;
    long hscan_dsts;
    long vscan_ports;
    long dos_min_packets, dos_min_duration, dos_min_ppm, dos_expiry;
    long campaign_expiry;
};

/* The group: a command's table embeds it as
 *   {.name = "analysis", .type = DS_OPT_GROUP, .offset = offsetof(struct x, an),
 *    .group = ds_analysis_options, .group_n = DS_ANALYSIS_N_OPTIONS} */
#define DS_ANALYSIS_N_OPTIONS 19
extern const struct ds_option ds_analysis_options[DS_ANALYSIS_N_OPTIONS];

/* Adds --darknet and --darknet-file to dn (initialised by the caller) and finishes it.
 * 0 or a negative code with err naming the prefix or the file and line. */
int ds_analysis_darknet(const struct ds_analysis_settings *a, struct ds_darknet *dn,
                        struct ds_err *err);

/* The darknet as given, for the ingest log (malloc'd; NULL on out of memory). */
char *ds_analysis_darknet_text(const struct ds_analysis_settings *a);

/* What ds_stored_setup needs: the store, the inputs and the enrichment (pointers into a). */
void ds_analysis_stored_opts(const struct ds_analysis_settings *a, const char *db,
                             const struct ds_strlist *read, const char *cmd,
                             struct ds_stored_opts *out);

/* The shard's analysis settings (geo and scanners from the stored run, when there is one;
 * the caller adds alerting, metrics and groups). */
void ds_analysis_shard_config(const struct ds_analysis_settings *a, const struct ds_darknet *dn,
                              const struct ds_stored_run *st, struct ds_shard_config *out);

/* The incident detectors' settings. */
void ds_analysis_dos_config(const struct ds_analysis_settings *a, struct ds_dos_config *out);
void ds_analysis_campaign_config(const struct ds_analysis_settings *a,
                                 struct ds_campaign_config *out);

/* Opens the raw archive when --archive is given (*out stays NULL otherwise). 0 or negative. */
int ds_analysis_archive(const struct ds_analysis_settings *a, struct ds_archive **out,
                        struct ds_err *err);

#endif
