/* prom.h - the daemon's counters as Prometheus text exposition (format 0.0.4). */
#ifndef DS_PROM_H
#define DS_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "alert/alerts.h"
#include "alert/outbox.h"
#include "analyze/metrics.h"
#include "daemon/regwatch.h"

/* What is exposed; any pointer may be NULL (its metrics are left out). All are atomics
 * written by other threads, so rendering is safe from any thread. */
struct ds_prom_input {
    const struct ds_path_metrics *path;
    const struct ds_alerts_stats *alerts;
    const struct ds_outbox_stats *outbox;
    const struct ds_regwatch_stats *registry;
    int64_t start_unix; /* process start, for darkscope_start_time_seconds */
    const char *mode;   /* "live" or "replay", as a label of darkscope_info */
};

/* The exposition text (malloc'd, *len its length), or NULL when out of memory. */
char *ds_prom_render(const struct ds_prom_input *in, size_t *len);

#endif
