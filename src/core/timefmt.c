/* timefmt.c - UTC times on the command line and in reports: parsing and formatting. */
#include "core/timefmt.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int bad(struct ds_err *err, const char *what, const char *text)
{
    return ds_err_set(err, -EINVAL,
                      "%s: '%s' is not a UTC time (2024-01-01, 2024-01-01T12:00:00Z, 2024-01, "
                      "2024 or @EPOCH)",
                      what, text);
}

static int64_t civil(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    return (int64_t)timegm(&tm);
}

int ds_time_parse(const char *text, const char *what, int64_t *out, struct ds_err *err)
{
    const char *p = text;
    if (*p == '@') {
        char *end;
        long long v = strtoll(p + 1, &end, 10);
        if (end == p + 1 || *end || v < 0)
            return bad(err, what, text);
        *out = v;
        return 0;
    }
    int y = 0, mo = 1, d = 1, h = 0, mi = 0, s = 0, n = 0;
    if (sscanf(p, "%4d%n", &y, &n) != 1 || n != 4)
        return bad(err, what, text);
    p += n;
    if (*p == '-') {
        if (sscanf(p, "-%2d%n", &mo, &n) != 1 || n != 3)
            return bad(err, what, text);
        p += n;
        if (*p == '-') {
            if (sscanf(p, "-%2d%n", &d, &n) != 1 || n != 3)
                return bad(err, what, text);
            p += n;
            if (*p == 'T' || *p == ' ') {
                if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &n) != 2 || n != 5)
                    return bad(err, what, text);
                p += 1 + n;
                if (*p == ':') {
                    if (sscanf(p, ":%2d%n", &s, &n) != 1 || n != 3)
                        return bad(err, what, text);
                    p += n;
                    if (*p == '.')
                        for (p++; isdigit((unsigned char)*p); p++)
                            ;
                }
                if (*p == 'Z')
                    p++;
            }
        }
    }
    if (*p || y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        s > 60)
        return bad(err, what, text);
    int64_t t = civil(y, mo, d, h, mi, s);
    /* reject days that do not exist (2024-02-30 would roll into March) */
    struct tm back;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &back);
    if (back.tm_mday != d || back.tm_mon != mo - 1)
        return bad(err, what, text);
    *out = t;
    return 0;
}

char *ds_time_format(int64_t t, char *buf, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

char *ds_time_format_ns(uint64_t ns, char *buf, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)(ns / 1000000000u);
    gmtime_r(&tt, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%06" PRIu64 "Z", base, (ns % 1000000000u) / 1000u);
    return buf;
}

int64_t ds_time_month_start(int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    return civil(tm.tm_year + 1900, tm.tm_mon + 1, 1, 0, 0, 0);
}

int64_t ds_time_next_month(int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    int y = tm.tm_year + 1900, m = tm.tm_mon + 2;
    if (m > 12) {
        m = 1;
        y++;
    }
    return civil(y, m, 1, 0, 0, 0);
}

int64_t ds_time_year_start(int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    return civil(tm.tm_year + 1900, 1, 1, 0, 0, 0);
}

int64_t ds_time_next_year(int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    return civil(tm.tm_year + 1901, 1, 1, 0, 0, 0);
}
