/* feed_stats.c - the statistics export for research communities: per UTC day the totals
 * (packets, unique sources, research share) and the top TCP and UDP ports with research
 * scanners left out, as NICTER publishes its rankings. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <string.h>

#include "core/timefmt.h"
#include "feed/feed_int.h"

#define DAY 86400
#define MAX_DAYS 3660

static const char *const total_keys[] = {"packets",
                                         "bytes",
                                         "sources",
                                         "sources_exact",
                                         "research_packets",
                                         "research_share",
                                         "monitored_addresses",
                                         "packets_per_address",
                                         NULL};

static int stats_read(struct ds_store *s, const struct ds_feed_query *q, json_t **rows,
                      struct ds_err *err)
{
    sqlite3 *db = ds_store_db(s);
    sqlite3_stmt *st;
    /* the days the store has day rows of, in the period */
    if (sqlite3_prepare_v2(
            db,
            "SELECT DISTINCT start FROM stat WHERE gran = 2 AND dim = 0 AND start >= ?1"
            " AND start < ?2 ORDER BY start",
            -1, &st, NULL) != SQLITE_OK)
        return ds_err_set(err, -EIO, "feed stats: %s", sqlite3_errmsg(db));
    /* a day is in the period when it overlaps it */
    int64_t from = q->period.has_from ? q->period.from - q->period.from % DAY : INT64_MIN / 2;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, q->period.has_to ? q->period.to : INT64_MAX / 2);
    int64_t days[MAX_DAYS];
    size_t nd = 0;
    while (sqlite3_step(st) == SQLITE_ROW && nd < MAX_DAYS)
        days[nd++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    json_t *list = json_array();
    int rc = 0;
    for (size_t i = 0; i < nd && (!q->limit || i < q->limit); i++) {
        struct ds_period p = {
            .from = days[i], .to = days[i] + DAY, .has_from = true, .has_to = true};
        json_t *year = NULL, *ports = NULL;
        struct ds_rank_opts ro = {.kind = DS_RANK_PORTS,
                                  .top = q->top ? q->top : 10,
                                  .exclude_research = true,
                                  .proto = -1};
        if ((rc = ds_query_year(s, &p, false, &year, err)) < 0 ||
            (rc = ds_query_rank(s, &p, &ro, &ports, err)) < 0) {
            json_decref(year);
            json_decref(list);
            return rc;
        }
        char d[32];
        ds_time_format(days[i], d, sizeof d);
        d[10] = 0;
        json_t *r = json_object();
        json_object_set_new(r, "date", json_string(d));
        for (size_t k = 0; total_keys[k]; k++) {
            json_t *v = json_object_get(year, total_keys[k]);
            json_object_set(r, total_keys[k], v ? v : json_null());
        }
        /* the rank report's rows, numbered */
        json_t *top = json_array();
        size_t k;
        json_t *e;
        json_array_foreach(json_is_array(ports) ? ports : json_object_get(ports, "ports"), k, e)
        {
            json_t *c = json_deep_copy(e);
            json_object_set_new(c, "rank", json_integer((json_int_t)k + 1));
            json_array_append_new(top, c);
        }
        json_object_set_new(r, "top_ports", top);
        json_array_append_new(list, r);
        json_decref(year);
        json_decref(ports);
    }
    *rows = list;
    return 0;
}

/* CSV: one line per (day, ranked port), the day's totals repeated (feed_csv.c expands
 * "top_ports" through these sub-fields). */
static const struct ds_feed_field csv_fields[] = {
    {.name = "timestamp", .key = "date"},
    {.name = "total_packets", .key = "packets"},
    {.name = "total_bytes", .key = "bytes"},
    {.name = "total_sources", .key = "sources"},
    {.name = "research_packets", .key = "research_packets"},
    {.name = "research_share", .key = "research_share"},
    {.name = "monitored_addresses", .key = "monitored_addresses"},
    {.name = "packets_per_address", .key = "packets_per_address"},
    {.name = "rank", .key = "top_ports.rank"},
    {.name = "protocol", .key = "top_ports.proto"},
    {.name = "port", .key = "top_ports.port"},
    {.name = "packets", .key = "top_ports.packets"},
    {.name = "sources", .key = "top_ports.sources"},
    {.name = "share", .key = "top_ports.share"},
    {.name = NULL},
};

const struct ds_feed_kind ds_feed_stats = {
    .name = "stats",
    .summary = "daily totals and top ports (research scanners out), for researchers",
    .by_address = false,
    .read = stats_read,
    .csv = csv_fields,
    .intelmq = NULL, /* JSON: the rows as they are (IntelMQ events describe addresses) */
};
