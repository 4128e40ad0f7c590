/* report.h - `darkscope analyze` output: the versioned JSON contract, CSV and a table. */
#ifndef DS_REPORT_H
#define DS_REPORT_H

#include <stdio.h>

#include "analyze/summary.h"
#include "capture/capture.h"
#include "core/darknet.h"

#define DS_ANALYZE_JSON_VERSION 1

enum ds_format { DS_FORMAT_TABLE = 0, DS_FORMAT_CSV, DS_FORMAT_JSON };

struct ds_report_meta {
    const struct ds_darknet *darknet;
    const struct ds_capture_stats *capture;
    size_t top; /* ports listed */
};

struct ds_port_row {
    int udp;
    uint16_t port;
    uint64_t packets, sources;
};

/* Ranks (proto, port) by packets desc, then tcp before udp, then port asc. Fills up to max
 * rows into rows (caller-allocated) and returns how many. */
size_t ds_report_top_ports(const struct ds_summary *s, struct ds_port_row *rows, size_t max);

/* Writes the summary in the chosen format. Returns 0 or -EIO/-ENOMEM. */
int ds_report_write(FILE *f, enum ds_format fmt, const struct ds_summary *s,
                    const struct ds_report_meta *m);

#endif
