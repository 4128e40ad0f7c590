/* timefmt.h - UTC times on the command line and in reports: parsing and formatting. */
#ifndef DS_TIMEFMT_H
#define DS_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Parses a UTC time: "2024-01-01", "2024-01-01T12:00", "2024-01-01T12:00:00Z" (also with a
 * space for the T, and fractional seconds), "2024-01" (a month), "2024" (a year), or epoch
 * seconds "@1704067200". Returns 0 and seconds since the epoch, or -EINVAL with a message
 * naming `what` (e.g. "--from") and the text. */
int ds_time_parse(const char *text, const char *what, int64_t *out, struct ds_err *err);

/* "2024-01-01T00:00:00Z" into buf (>= 21 bytes). */
char *ds_time_format(int64_t t, char *buf, size_t cap);
/* "2024-01-01T00:00:00.000000Z" from nanoseconds into buf (>= 28 bytes). */
char *ds_time_format_ns(uint64_t ns, char *buf, size_t cap);

/* The start of the UTC month / year holding t, and of the next one. */
int64_t ds_time_month_start(int64_t t);
int64_t ds_time_next_month(int64_t t);
int64_t ds_time_year_start(int64_t t);
int64_t ds_time_next_year(int64_t t);

#endif
