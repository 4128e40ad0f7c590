/* query.c - the reports over a store (contracts: docs/reports.md).
 *
 * A period is cut into the largest stored intervals that tile it (calendar years, months,
 * days, hours, 5 minutes): sums add up exactly over them. Unique sources are exact when the
 * period is one interval of at most a day that one ingest wrote; otherwise they are the union
 * of the intervals' sketches (years, months and days keep them; an hour or 5 minutes uses its
 * day's), exact up to 512 sources, else HyperLogLog with a 1.63 % standard error, and the
 * report says which. */
#include "store/query.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/daysketch.h"
#include "analyze/hll.h"
#include "analyze/host.h"
#include "analyze/window.h"
#include "core/addr.h"
#include "core/hash.h"
#include "core/timefmt.h"

#define OTHER_KEY 0xffffffffu
#define DAY 86400
#define GRAN_MONTH 3
#define GRAN_YEAR 4
#define MAX_PIECES 256

static const char *const gran_text[] = {"5m", "1h", "1d", "month", "year"};

/* One stored interval of a period. */
struct piece {
    int gran;
    int64_t start;
};

/* A resolved period [from, to) and the intervals that tile it. */
struct span {
    int64_t from, to;
    struct piece p[MAX_PIECES];
    size_t n;
    bool empty; /* the store holds nothing in it */
};

static int q_err(struct ds_store *s, struct ds_err *err, const char *what)
{
    return ds_err_set(err, -EIO, "%s: %s", what, sqlite3_errmsg(ds_store_db(s)));
}

static int prepare(struct ds_store *s, const char *sql, sqlite3_stmt **st, struct ds_err *err)
{
    if (sqlite3_prepare_v2(ds_store_db(s), sql, -1, st, NULL) != SQLITE_OK)
        return q_err(s, err, "query");
    return 0;
}

/* One read transaction around a report: a single snapshot of the store (an ingest merging
 * meanwhile is seen entirely or not at all), and no lock taken and dropped per statement.
 * Nothing when the connection is inside a transaction already. */
static bool read_begin(struct ds_store *s)
{
    sqlite3 *db = ds_store_db(s);
    return sqlite3_get_autocommit(db) && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

static void read_end(struct ds_store *s, bool began)
{
    if (began && sqlite3_exec(ds_store_db(s), "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        sqlite3_exec(ds_store_db(s), "ROLLBACK", NULL, NULL, NULL);
}

static int64_t floor_to(int64_t t, int64_t unit)
{
    return t - ((t % unit) + unit) % unit;
}
static int64_t ceil_to(int64_t t, int64_t unit)
{
    return floor_to(t + unit - 1, unit);
}

/* Cuts [from, to) into the largest intervals that start at their own boundaries. */
static int tile(struct span *sp, struct ds_err *err)
{
    sp->n = 0;
    for (int64_t t = sp->from; t < sp->to;) {
        struct piece pc;
        int64_t next;
        if (t == ds_time_year_start(t) && ds_time_next_year(t) <= sp->to) {
            pc = (struct piece){GRAN_YEAR, t};
            next = ds_time_next_year(t);
        } else if (t == ds_time_month_start(t) && ds_time_next_month(t) <= sp->to) {
            pc = (struct piece){GRAN_MONTH, t};
            next = ds_time_next_month(t);
        } else if (t % DAY == 0 && t + DAY <= sp->to) {
            pc = (struct piece){DS_GRAN_1D, t};
            next = t + DAY;
        } else if (t % 3600 == 0 && t + 3600 <= sp->to) {
            pc = (struct piece){DS_GRAN_1H, t};
            next = t + 3600;
        } else {
            pc = (struct piece){DS_GRAN_5M, floor_to(t, 300)};
            next = pc.start + 300;
        }
        if (sp->n == MAX_PIECES)
            return ds_err_set(err, -E2BIG,
                              "the period needs more than %d stored intervals: give --from and "
                              "--to on hour (or 5-minute) boundaries",
                              MAX_PIECES);
        sp->p[sp->n++] = pc;
        t = next;
    }
    return 0;
}

static int resolve(struct ds_store *s, const struct ds_period *p, struct span *sp,
                   struct ds_err *err)
{
    sqlite3_stmt *st;
    /* two subqueries: each is one end of the primary key, where MIN and MAX side by side in
     * one SELECT read every row */
    int rc = prepare(
        s, "SELECT (SELECT MIN(start) FROM coverage), (SELECT MAX(start) FROM coverage)", &st, err);
    if (rc < 0)
        return rc;
    int64_t lo = 0, hi = 0;
    bool any = false;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        lo = sqlite3_column_int64(st, 0);
        hi = sqlite3_column_int64(st, 1) + 300;
        any = true;
    }
    sqlite3_finalize(st);
    /* without an end given, a period reaches to whole days around the data, so the day rows
     * (complete, with exact unique counts) can answer */
    sp->from = p->has_from ? p->from : floor_to(lo, DAY);
    sp->to = p->has_to ? p->to : ceil_to(hi, DAY);
    if (!p->has_to && p->has_from && sp->from % DAY)
        sp->to = ceil_to(hi, sp->from % 3600 ? 300 : 3600);
    if (sp->to < sp->from)
        sp->to = sp->from;
    sp->empty = !any || sp->to <= lo || sp->from >= hi;
    return tile(sp, err);
}

static void put_period(json_t *o, const struct span *sp)
{
    char a[32], b[32];
    json_object_set_new(o, "from", json_string(ds_time_format(sp->from, a, sizeof a)));
    json_object_set_new(o, "to", json_string(ds_time_format(sp->to, b, sizeof b)));
    /* the coarsest interval used, and how many */
    int g = 0;
    for (size_t i = 0; i < sp->n; i++)
        if (sp->p[i].gran > g)
            g = sp->p[i].gran;
    json_object_set_new(o, "granularity", json_string(sp->n ? gran_text[g] : "-"));
    json_object_set_new(o, "intervals", json_integer((json_int_t)sp->n));
}

/* The mean number of monitored addresses over the 5-minute intervals with data (the
 * darknets of concurrent ingests added up). */
static int monitored_mean(struct ds_store *s, const struct span *sp, double *out,
                          struct ds_err *err)
{
    sqlite3_stmt *st;
    /* summed and counted here, in the primary key's order: SQLite's COUNT(DISTINCT start)
     * puts every start into a temporary b-tree (a year: 105,120 of them, 3/4 of the time) */
    int rc = prepare(s,
                     "SELECT start, monitored FROM coverage WHERE start >= ? AND start < ?"
                     " ORDER BY start",
                     &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, sp->from);
    sqlite3_bind_int64(st, 2, sp->to);
    *out = 0;
    int64_t sum = 0, starts = 0, prev = 0;
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(st, 0);
        sum += sqlite3_column_int64(st, 1);
        starts += !starts || t != prev;
        prev = t;
    }
    sqlite3_finalize(st);
    if (r != SQLITE_DONE)
        return q_err(s, err, "reading the coverage");
    if (starts > 0)
        *out = (double)sum / (double)starts;
    return 0;
}

/* The statements a report repeats for every key and interval, prepared once: owned by the
 * report that declares it (qcache_free), NULL members until first used. */
struct qcache {
    sqlite3_stmt *sum, *sketch;
};

static void qcache_free(struct qcache *qc)
{
    sqlite3_finalize(qc->sum);
    sqlite3_finalize(qc->sketch);
}

/* *st: the cached statement (reset), or a new one kept in *keep; keep NULL: a new one the
 * caller finalizes (stmt_put). */
static int stmt_get(struct ds_store *s, sqlite3_stmt **keep, const char *sql, sqlite3_stmt **st,
                    struct ds_err *err)
{
    if (keep && *keep) {
        sqlite3_reset(*keep);
        *st = *keep;
        return 0;
    }
    int rc = prepare(s, sql, st, err);
    if (rc == 0 && keep)
        *keep = *st;
    return rc;
}

static void stmt_put(sqlite3_stmt **keep, sqlite3_stmt *st)
{
    if (keep)
        sqlite3_reset(st);
    else
        sqlite3_finalize(st);
}

struct sums {
    uint64_t packets, bytes, r_packets, r_bytes, sources, r_sources;
    size_t rows; /* intervals that had a row */
    bool exact;  /* sources are exact (one interval of one ingest) */
};

/* One interval's row of (dim, key): ?1 gran, ?2 start, ?3 dim, ?4 key (sums_of, exact_in,
 * which share the cached statement qcache.sum) */
#define SUM_SQL                                                                                    \
    "SELECT packets, bytes, sources, r_packets, r_bytes, r_sources, ingests"                       \
    " FROM stat WHERE gran = ?1 + 0 AND start = ?2 AND dim = ?3 + 0 AND key = ?4"

/* Steps SUM_SQL for (dim, key) in one interval of a span; true when it has a row. */
static bool sum_row(sqlite3_stmt *st, const struct piece *p, enum ds_dim dim, uint32_t key)
{
    sqlite3_reset(st);
    sqlite3_bind_int(st, 1, p->gran);
    sqlite3_bind_int64(st, 2, p->start);
    sqlite3_bind_int(st, 3, (int)dim);
    sqlite3_bind_int64(st, 4, key);
    return sqlite3_step(st) == SQLITE_ROW;
}

/* Sums of (dim, key) over the span's intervals. (The "+ 0" keeps SQLite from weighing the
 * partial indexes against the values bound to gran and dim, which makes it prepare the
 * statement again at every new value; the primary key is the one to use.) */
static int sums_of(struct ds_store *s, struct qcache *qc, const struct span *sp, enum ds_dim dim,
                   uint32_t key, struct sums *out, struct ds_err *err)
{
    sqlite3_stmt *st, **keep = qc ? &qc->sum : NULL;
    int rc = stmt_get(s, keep, SUM_SQL, &st, err);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    int64_t ingests = 0;
    int last_gran = 0;
    for (size_t i = 0; i < sp->n; i++) {
        if (!sum_row(st, &sp->p[i], dim, key))
            continue;
        out->packets += (uint64_t)sqlite3_column_int64(st, 0);
        out->bytes += (uint64_t)sqlite3_column_int64(st, 1);
        out->sources += (uint64_t)sqlite3_column_int64(st, 2);
        out->r_packets += (uint64_t)sqlite3_column_int64(st, 3);
        out->r_bytes += (uint64_t)sqlite3_column_int64(st, 4);
        out->r_sources += (uint64_t)sqlite3_column_int64(st, 5);
        ingests = sqlite3_column_int64(st, 6);
        last_gran = sp->p[i].gran;
        out->rows++;
    }
    stmt_put(keep, st);
    out->exact = out->rows <= 1 && (out->rows == 0 || (ingests == 1 && last_gran <= DS_GRAN_1D));
    return 0;
}

/* The union of the sketches of (dim, key) over the span: each year, month or day interval's
 * own, the day's for an hour or 5 minutes. *exact: the union is still an exact set and
 * every interval was covered exactly by its sketch. */
static int sketch_union(struct ds_store *s, struct qcache *qc, const struct span *sp,
                        enum ds_dim dim, uint32_t key, bool exclude_research, uint64_t *est,
                        bool *exact, struct ds_err *err)
{
    sqlite3_stmt *st, **keep = qc ? &qc->sketch : NULL;
    int rc = stmt_get(s, keep,
                      "SELECT nonresearch, research FROM sketch"
                      " WHERE gran = ? AND start = ? AND dim = ? AND key = ?",
                      &st, err);
    if (rc < 0)
        return rc;
    struct ds_hll all, one;
    ds_hll_init(&all);
    ds_hll_init(&one);
    bool covers = true;
    int64_t last_day = -1;
    for (size_t i = 0; i < sp->n; i++) {
        int g = sp->p[i].gran;
        int64_t start = sp->p[i].start;
        if (g < DS_GRAN_1D) { /* a part of a day: the whole day's sources (a superset) */
            covers = false;
            start = floor_to(start, DAY);
            if (start == last_day)
                continue;
            last_day = start;
            g = DS_GRAN_1D;
        }
        sqlite3_reset(st);
        sqlite3_bind_int(st, 1, g);
        sqlite3_bind_int64(st, 2, start);
        sqlite3_bind_int(st, 3, (int)dim);
        sqlite3_bind_int64(st, 4, key);
        if (sqlite3_step(st) != SQLITE_ROW)
            continue;
        for (int c = 0; c < (exclude_research ? 1 : 2); c++) {
            if (ds_hll_deserialize(&one, sqlite3_column_blob(st, c),
                                   (size_t)sqlite3_column_bytes(st, c), err) < 0) {
                ds_err_wrap(err, "a stored sketch (dimension %s, key %u)", ds_dim_names[dim], key);
                rc = -EINVAL;
                goto out;
            }
            int m = ds_hll_merge(&all, &one);
            ds_hll_free(&one);
            if (m < 0) {
                rc = ds_err_set(err, -ENOMEM, "out of memory merging sketches");
                goto out;
            }
        }
    }
    *est = ds_hll_estimate(&all);
    *exact = covers && ds_hll_is_exact(&all);
out:
    ds_hll_free(&one);
    ds_hll_free(&all);
    stmt_put(keep, st);
    return rc;
}

/* Unique sources of (dim, key) over the span, given its sums. */
static int sources_of(struct ds_store *s, struct qcache *qc, const struct span *sp, enum ds_dim dim,
                      uint32_t key, bool exclude_research, const struct sums *sm, uint64_t *out,
                      bool *exact, struct ds_err *err)
{
    if (sm->exact) {
        *out = exclude_research ? sm->sources - sm->r_sources : sm->sources;
        *exact = true;
        return 0;
    }
    if (!ds_daysk_dim(dim))
        return ds_err_set(err, -ENOTSUP,
                          "unique sources of %s over several intervals need sketches, which "
                          "are not kept for it",
                          ds_dim_names[dim]);
    return sketch_union(s, qc, sp, dim, key, exclude_research, out, exact, err);
}

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

/* One row of the yearly table over a span. */
static int year_row(struct ds_store *s, const struct span *sp, bool excl, json_t *o,
                    struct ds_err *err)
{
    struct sums t;
    double mon = 0;
    uint64_t src = 0;
    bool exact = true;
    int rc = sums_of(s, NULL, sp, DS_DIM_TOTAL, 0, &t, err);
    if (rc == 0)
        rc = monitored_mean(s, sp, &mon, err);
    if (rc == 0)
        rc = sources_of(s, NULL, sp, DS_DIM_TOTAL, 0, excl, &t, &src, &exact, err);
    if (rc < 0)
        return rc;
    uint64_t pk = excl ? t.packets - t.r_packets : t.packets;
    json_object_set_new(o, "packets", json_integer((json_int_t)pk));
    json_object_set_new(o, "monitored_addresses", json_real(mon));
    json_object_set_new(o, "packets_per_address", json_real(ratio((double)pk, mon)));
    json_object_set_new(o, "sources", json_integer((json_int_t)src));
    json_object_set_new(o, "sources_exact", json_boolean(exact));
    json_object_set_new(o, "research_packets", json_integer((json_int_t)t.r_packets));
    json_object_set_new(o, "research_share",
                        json_real(ratio((double)t.r_packets, (double)t.packets) * 100));
    json_object_set_new(o, "bytes",
                        json_integer((json_int_t)(excl ? t.bytes - t.r_bytes : t.bytes)));
    return 0;
}

static int year_report(struct ds_store *s, const struct ds_period *p, bool exclude_research,
                       json_t **out, struct ds_err *err)
{
    struct span *sp = malloc(sizeof *sp);
    if (!sp)
        return ds_err_set(err, -ENOMEM, "out of memory");
    int rc = resolve(s, p, sp, err);
    if (rc < 0) {
        free(sp);
        return rc;
    }
    json_t *o = json_object(), *years = json_array();
    json_object_set_new(o, "report", json_string("year"));
    json_object_set_new(o, "version", json_integer(DS_REPORT_VERSION));
    put_period(o, sp);
    json_object_set_new(o, "exclude_research", json_boolean(exclude_research));
    if ((rc = year_row(s, sp, exclude_research, o, err)) < 0)
        goto fail;
    /* one row per calendar year the period touches (NICTER's table) */
    for (int64_t y = ds_time_year_start(sp->from); y < sp->to && !sp->empty;
         y = ds_time_next_year(y)) {
        struct span *ys = malloc(sizeof *ys);
        if (!ys) {
            rc = ds_err_set(err, -ENOMEM, "out of memory");
            goto fail;
        }
        ys->from = y > sp->from ? y : sp->from;
        ys->to = ds_time_next_year(y) < sp->to ? ds_time_next_year(y) : sp->to;
        ys->empty = false;
        json_t *r = json_object();
        char buf[16];
        struct tm tm;
        time_t tt = (time_t)y;
        gmtime_r(&tt, &tm);
        snprintf(buf, sizeof buf, "%d", tm.tm_year + 1900);
        json_object_set_new(r, "year", json_string(buf));
        json_array_append_new(years, r);
        if (ys->from == sp->from && ys->to == sp->to) {
            /* the period is within one calendar year: its row is the total (computed once) */
            static const char *const keys[] = {
                "packets",       "monitored_addresses", "packets_per_address", "sources",
                "sources_exact", "research_packets",    "research_share",      "bytes"};
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
                json_object_set(r, keys[k], json_object_get(o, keys[k]));
            free(ys);
            continue;
        }
        rc = tile(ys, err);
        if (rc == 0)
            rc = year_row(s, ys, exclude_research, r, err);
        free(ys);
        if (rc < 0)
            goto fail;
    }
    json_object_set_new(o, "years", years);
    free(sp);
    *out = o;
    return 0;
fail:
    free(sp);
    json_decref(years);
    json_decref(o);
    return rc;
}

int ds_query_year(struct ds_store *s, const struct ds_period *p, bool exclude_research,
                  json_t **out, struct ds_err *err)
{
    bool began = read_begin(s);
    int rc = year_report(s, p, exclude_research, out, err);
    read_end(s, began);
    return rc;
}

/* ------------------------------------------------------------------ rankings ------------- */

struct cand {
    enum ds_dim dim;
    uint32_t key;
    struct sums sm;
    uint64_t packets; /* without research when excluded */
    uint64_t sources;
    bool exact;
};

static int by_packets(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->packets != y->packets)
        return x->packets > y->packets ? -1 : 1;
    if (x->dim != y->dim)
        return x->dim < y->dim ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int by_bound(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->sm.sources != y->sm.sources)
        return x->sm.sources > y->sm.sources ? -1 : 1;
    return by_packets(a, b);
}

static int by_sources(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->sources != y->sources)
        return x->sources > y->sources ? -1 : 1;
    return by_packets(a, b);
}

/* The candidates of a ranking, with a hash index on (dim, key): a period of many intervals
 * proposes thousands, each added in O(1). Owned by one query. */
struct cands {
    struct cand *c;
    size_t n, cap;
    uint32_t *slot; /* 1 + index into c, 0 for an empty slot; mask + 1 of them */
    size_t mask;
};

static size_t cand_slot(const struct cands *cs, enum ds_dim dim, uint32_t key)
{
    size_t i = (size_t)ds_mix64(((uint64_t)dim << 32) | key) & cs->mask;
    while (cs->slot[i] && (cs->c[cs->slot[i] - 1].dim != dim || cs->c[cs->slot[i] - 1].key != key))
        i = (i + 1) & cs->mask;
    return i;
}

/* Adds (dim, key) to the candidates unless it is there. 0 or -ENOMEM. */
static int add_cand(struct cands *cs, enum ds_dim dim, uint32_t key)
{
    if (!cs->slot || (cs->n + 1) * 2 > cs->mask + 1) {
        size_t nmask = cs->slot ? cs->mask * 2 + 1 : 1023;
        uint32_t *ns = calloc(nmask + 1, sizeof *ns);
        if (!ns)
            return -ENOMEM;
        free(cs->slot);
        cs->slot = ns;
        cs->mask = nmask;
        for (size_t j = 0; j < cs->n; j++)
            cs->slot[cand_slot(cs, cs->c[j].dim, cs->c[j].key)] = (uint32_t)(j + 1);
    }
    size_t i = cand_slot(cs, dim, key);
    if (cs->slot[i])
        return 0;
    if (cs->n == cs->cap) {
        size_t ncap = cs->cap ? cs->cap * 2 : 256;
        struct cand *nc = realloc(cs->c, ncap * sizeof *nc);
        if (!nc)
            return -ENOMEM;
        cs->c = nc;
        cs->cap = ncap;
    }
    cs->c[cs->n++] = (struct cand){.dim = dim, .key = key};
    cs->slot[i] = (uint32_t)cs->n;
    return 0;
}

/* Adds every key the stepped statement x yields (column 0) to the candidates of dim. */
static int collect(struct ds_store *s, sqlite3_stmt *x, enum ds_dim dim, struct cands *cs,
                   struct ds_err *err)
{
    int r;
    while ((r = sqlite3_step(x)) == SQLITE_ROW)
        if (add_cand(cs, dim, (uint32_t)sqlite3_column_int64(x, 0)) < 0)
            return ds_err_set(err, -ENOMEM, "out of memory");
    return r == SQLITE_DONE ? 0 : q_err(s, err, "ranking");
}

/* One int64 from a query over coverage with two bound times; *have: it was not NULL. */
static int cover_edge(struct ds_store *s, const char *sql, int64_t a, int64_t b, int64_t *out,
                      bool *have, struct ds_err *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s, sql, &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    *have = false;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *out = sqlite3_column_int64(st, 0);
        *have = true;
    } else if (r != SQLITE_ROW && r != SQLITE_DONE) {
        rc = q_err(s, err, "reading the coverage");
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * The same rows in fewer intervals. When the store holds nothing between an end of the
 * period and the year (else month, else day) boundary around its first or last data, the
 * period may reach to that boundary without changing any sum or sketch union: a year of
 * data is then one year interval instead of eleven months and thirty days. Only periods of
 * whole days (an hour or 5 minutes takes its sources from its day's sketch, and reports
 * say so); *used is false when nothing is gained.
 */
static int widen(struct ds_store *s, const struct span *sp, struct span *w, bool *used,
                 struct ds_err *err)
{
    *used = false;
    if (sp->empty || sp->n < 2)
        return 0;
    for (size_t i = 0; i < sp->n; i++)
        if (sp->p[i].gran < DS_GRAN_1D)
            return 0;
    int64_t lo = 0, hi = 0, prev = 0, next = 0;
    bool any, have_prev, have_next;
    int rc;
    if ((rc = cover_edge(s, "SELECT MIN(start) FROM coverage WHERE start >= ?1 AND start < ?2",
                         sp->from, sp->to, &lo, &any, err)) < 0 ||
        (rc = cover_edge(s, "SELECT MAX(start) FROM coverage WHERE start >= ?1 AND start < ?2",
                         sp->from, sp->to, &hi, &any, err)) < 0 ||
        (rc = cover_edge(s, "SELECT MAX(start) FROM coverage WHERE start < ?1 AND ?2 = ?2",
                         sp->from, 0, &prev, &have_prev, err)) < 0 ||
        (rc = cover_edge(s, "SELECT MIN(start) FROM coverage WHERE start >= ?1 AND ?2 = ?2", sp->to,
                         0, &next, &have_next, err)) < 0)
        return rc;
    if (!any)
        return 0;
    /* the earliest start with no data between it and the period, the latest end likewise */
    int64_t min_from = have_prev ? prev + 300 : INT64_MIN;
    int64_t max_to = have_next ? next : INT64_MAX;
    const int64_t froms[] = {ds_time_year_start(lo), ds_time_month_start(lo), floor_to(lo, DAY)};
    const int64_t tos[] = {ds_time_next_year(ds_time_year_start(hi)),
                           ds_time_next_month(ds_time_month_start(hi)), floor_to(hi, DAY) + DAY};
    /* the fewest intervals of the 3 x 3 choices (tile() is greedy: coarsest first) */
    size_t best = sp->n;
    int64_t bf = sp->from, bt = sp->to;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            if (froms[i] < min_from || tos[j] > max_to)
                continue;
            w->from = froms[i];
            w->to = tos[j];
            if (tile(w, NULL) == 0 && w->n < best) {
                best = w->n;
                bf = w->from;
                bt = w->to;
            }
        }
    w->from = bf;
    w->to = bt;
    w->empty = false;
    if ((rc = tile(w, err)) < 0)
        return rc;
    *used = w->n < sp->n;
    return 0;
}

/* Whether the sources of (dim, key) over the span are exact, as sums_of says (out->exact),
 * without its sums: the lookups stop at the second interval with a row (a year of days
 * and months is 41 intervals; a ranked key has rows in the first two). */
static int exact_in(struct ds_store *s, struct qcache *qc, const struct span *sp, enum ds_dim dim,
                    uint32_t key, bool *exact, struct ds_err *err)
{
    sqlite3_stmt *st, **keep = qc ? &qc->sum : NULL;
    int rc = stmt_get(s, keep, SUM_SQL, &st, err);
    if (rc < 0)
        return rc;
    size_t rows = 0;
    int64_t ingests = 0;
    int last_gran = 0;
    for (size_t i = 0; i < sp->n && rows < 2; i++) {
        if (!sum_row(st, &sp->p[i], dim, key))
            continue;
        ingests = sqlite3_column_int64(st, 6);
        last_gran = sp->p[i].gran;
        rows++;
    }
    stmt_put(keep, st);
    *exact = rows <= 1 && (rows == 0 || (ingests == 1 && last_gran <= DS_GRAN_1D));
    return 0;
}

/* Sums of (dim, key) over q, a widening of sp (or sp itself). One row over q's coarser
 * intervals may be several, or one of an ingest's own days, over sp's: whether the sources
 * are exact is sp's answer. */
static int sums_wide(struct ds_store *s, struct qcache *qc, const struct span *sp,
                     const struct span *q, enum ds_dim dim, uint32_t key, struct sums *out,
                     struct ds_err *err)
{
    int rc = sums_of(s, qc, q, dim, key, out, err);
    if (rc < 0 || q == sp || out->rows != 1)
        return rc;
    return exact_in(s, qc, sp, dim, key, &out->exact, err);
}

/* Keeps v among the `top` largest values seen (kept[] descending, *nk of them). */
static void keep_top(uint64_t *kept, size_t *nk, size_t top, uint64_t v)
{
    size_t i = *nk < top ? (*nk)++ : top;
    if (i == top) {
        if (!top || v <= kept[top - 1])
            return;
        i = top - 1;
    }
    while (i > 0 && kept[i - 1] < v) {
        kept[i] = kept[i - 1];
        i--;
    }
    kept[i] = v;
}

/*
 * Candidates from the intervals of a widened span (few, and complete: days, months and
 * years keep every key). Each interval's busiest keys by packets, in the rank index's order:
 * at least `want` of them, and while the `top`-th largest count without research scanners
 * could still be beaten (a key's count without them is at most its count with them), so
 * over one interval the list is exactly the period's. Ranking by sources (or over several
 * intervals) adds each interval's `want` keys with the most sources per interval (the upper
 * bound the ranking orders by).
 */
static int wide_cands(struct ds_store *s, const struct span *q, const enum ds_dim *dims, int nd,
                      const struct ds_rank_opts *o, size_t want, struct cands *cs,
                      struct ds_err *err)
{
    sqlite3_stmt *pk = NULL, *src = NULL, *src_day = NULL;
    uint64_t *kept = calloc(o->top + 1, sizeof *kept);
    int rc;
    if (!kept)
        return ds_err_set(err, -ENOMEM, "out of memory");
    /* (the literal conditions let SQLite use the partial rank indexes) */
    if ((rc = prepare(s,
                      "SELECT key, packets, r_packets FROM stat WHERE gran = ?1 AND gran >= 2"
                      " AND dim = ?2 AND start = ?3 AND key <> ?4 ORDER BY packets DESC",
                      &pk, err)) < 0 ||
        (rc = prepare(s,
                      "SELECT key FROM stat INDEXED BY stat_rank_src WHERE gran = ?1 AND"
                      " gran >= 3 AND dim = ?2 AND start = ?3 AND key <> ?4"
                      " ORDER BY sources DESC LIMIT ?5",
                      &src, err)) < 0 ||
        (rc = prepare(s,
                      "SELECT key FROM stat WHERE gran = ?1 AND dim = ?2 AND start = ?3"
                      " AND key <> ?4 ORDER BY sources DESC LIMIT ?5",
                      &src_day, err)) < 0)
        goto out;
    bool by_src = o->by_sources || q->n > 1;
    for (size_t i = 0; i < q->n; i++)
        for (int d = 0; d < nd; d++) {
            sqlite3_reset(pk);
            sqlite3_bind_int(pk, 1, q->p[i].gran);
            sqlite3_bind_int(pk, 2, (int)dims[d]);
            sqlite3_bind_int64(pk, 3, q->p[i].start);
            sqlite3_bind_int64(pk, 4, OTHER_KEY);
            size_t taken = 0, nk = 0;
            int r;
            while ((r = sqlite3_step(pk)) == SQLITE_ROW) {
                uint64_t p = (uint64_t)sqlite3_column_int64(pk, 1);
                uint64_t rp = (uint64_t)sqlite3_column_int64(pk, 2);
                if (taken >= want &&
                    (!o->exclude_research || q->n > 1 || (nk == o->top && p < kept[o->top - 1])))
                    break;
                if (add_cand(cs, dims[d], (uint32_t)sqlite3_column_int64(pk, 0)) < 0) {
                    rc = ds_err_set(err, -ENOMEM, "out of memory");
                    goto out;
                }
                keep_top(kept, &nk, o->top, p - rp);
                taken++;
            }
            if (r != SQLITE_ROW && r != SQLITE_DONE) {
                rc = q_err(s, err, "ranking");
                goto out;
            }
            if (!by_src)
                continue;
            sqlite3_stmt *x = q->p[i].gran >= GRAN_MONTH ? src : src_day;
            sqlite3_reset(x);
            sqlite3_bind_int(x, 1, q->p[i].gran);
            sqlite3_bind_int(x, 2, (int)dims[d]);
            sqlite3_bind_int64(x, 3, q->p[i].start);
            sqlite3_bind_int64(x, 4, OTHER_KEY);
            sqlite3_bind_int64(x, 5, (sqlite3_int64)want);
            if ((rc = collect(s, x, dims[d], cs, err)) < 0)
                goto out;
        }
out:
    sqlite3_finalize(pk);
    sqlite3_finalize(src);
    sqlite3_finalize(src_day);
    free(kept);
    return rc;
}

/* Candidates from every interval of a span, as many as it takes: each interval's `want`
 * busiest keys by packets and by sources (without research scanners when excluded). */
static int all_cands(struct ds_store *s, const struct span *sp, const enum ds_dim *dims, int nd,
                     const struct ds_rank_opts *o, size_t want, struct cands *cs,
                     struct ds_err *err)
{
    sqlite3_stmt *st = NULL, *st2 = NULL, *st3 = NULL;
    int rc;
    /* (the literal "gran >= 2" lets SQLite use the partial rank index) */
    if ((rc = prepare(s,
                      "SELECT key FROM stat WHERE gran = ? AND gran >= 2 AND dim = ? AND start = ?"
                      " AND key <> ? ORDER BY packets DESC LIMIT ?",
                      &st, err)) < 0 ||
        (rc = prepare(s,
                      "SELECT key FROM stat WHERE gran = ? AND gran < 2 AND dim = ? AND start = ?"
                      " AND key <> ? ORDER BY packets DESC LIMIT ?",
                      &st3, err)) < 0 ||
        (rc = prepare(s,
                      "SELECT key FROM stat WHERE gran = ? AND dim = ? AND start = ? AND key <> ?"
                      " ORDER BY sources - ? * r_sources DESC LIMIT ?",
                      &st2, err)) < 0)
        goto out;
    for (size_t i = 0; i < sp->n; i++)
        for (int d = 0; d < nd; d++)
            for (int q = 0; q < 2; q++) {
                sqlite3_stmt *x = q ? st2 : sp->p[i].gran >= 2 ? st : st3;
                sqlite3_reset(x);
                sqlite3_bind_int(x, 1, sp->p[i].gran);
                sqlite3_bind_int(x, 2, (int)dims[d]);
                sqlite3_bind_int64(x, 3, sp->p[i].start);
                sqlite3_bind_int64(x, 4, OTHER_KEY);
                if (q)
                    sqlite3_bind_int(x, 5, o->exclude_research);
                sqlite3_bind_int64(x, q ? 6 : 5, (sqlite3_int64)want);
                if ((rc = collect(s, x, dims[d], cs, err)) < 0)
                    goto out;
            }
out:
    sqlite3_finalize(st);
    sqlite3_finalize(st2);
    sqlite3_finalize(st3);
    return rc;
}

/*
 * The ranked list for one kind. Candidates: each interval's busiest keys by packets and by
 * sources (from the rank indexes), enough of them that the period's top list is among them;
 * then each candidate's exact sums and unique sources over the whole period. A period whose
 * ends reach past the data is first widened to the enclosing year, month or day intervals
 * (widen()): a year of data is then one interval, whose ranked rows are the period's own.
 */
static int rank_report(struct ds_store *s, const struct ds_period *p, const struct ds_rank_opts *o,
                       json_t **out, struct ds_err *err)
{
    struct span *sp = malloc(sizeof *sp), *w = malloc(sizeof *w);
    struct cands cs = {0};
    struct qcache qc = {0};
    json_t *list = NULL;
    bool wide = false;
    int rc;
    if (!sp || !w) {
        rc = ds_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = resolve(s, p, sp, err)) < 0 || (rc = widen(s, sp, w, &wide, err)) < 0)
        goto out;
    const struct span *q = wide ? w : sp;
    enum ds_dim dims[2];
    int nd = 0;
    if (o->kind == DS_RANK_PORTS) {
        if (o->proto != 1)
            dims[nd++] = DS_DIM_TCP;
        if (o->proto != 0)
            dims[nd++] = DS_DIM_UDP;
    } else {
        dims[nd++] = o->kind == DS_RANK_COUNTRIES ? DS_DIM_COUNTRY : DS_DIM_ASN;
    }
    size_t want = o->top * 4 + 16;
    if ((rc = wide ? wide_cands(s, q, dims, nd, o, want, &cs, err)
                   : all_cands(s, sp, dims, nd, o, want, &cs, err)) < 0)
        goto out;
    struct cand *c = cs.c;
    size_t n = cs.n;
    for (size_t i = 0; i < n; i++) {
        struct cand *x = &c[i];
        if ((rc = sums_of(s, &qc, q, x->dim, x->key, &x->sm, err)) < 0)
            goto out;
        x->packets = o->exclude_research ? x->sm.packets - x->sm.r_packets : x->sm.packets;
    }
    /* unique sources for the packet ranking's top, or, ranking by sources, for the
     * candidates with the largest sums of per-interval sources (an upper bound) */
    qsort(c, n, sizeof *c, o->by_sources ? by_bound : by_packets);
    for (size_t i = 0; i < n && i < (o->by_sources ? want : o->top); i++)
        if ((rc = sums_wide(s, &qc, sp, q, c[i].dim, c[i].key, &c[i].sm, err)) < 0 ||
            (rc = sources_of(s, &qc, q, c[i].dim, c[i].key, o->exclude_research, &c[i].sm,
                             &c[i].sources, &c[i].exact, err)) < 0)
            goto out;
    qsort(c, n, sizeof *c, o->by_sources ? by_sources : by_packets);
    struct sums tot;
    uint64_t tot_src = 0;
    bool tot_exact;
    if ((rc = sums_wide(s, &qc, sp, q, DS_DIM_TOTAL, 0, &tot, err)) < 0 ||
        (rc = sources_of(s, &qc, q, DS_DIM_TOTAL, 0, o->exclude_research, &tot, &tot_src,
                         &tot_exact, err)) < 0)
        goto out;
    uint64_t tot_pk = o->exclude_research ? tot.packets - tot.r_packets : tot.packets;
    list = json_array();
    for (size_t i = 0; i < n && json_array_size(list) < o->top; i++) {
        if (!c[i].packets && !c[i].sources)
            continue;
        json_t *r = json_object();
        if (o->kind == DS_RANK_PORTS) {
            json_object_set_new(r, "proto", json_string(c[i].dim == DS_DIM_UDP ? "udp" : "tcp"));
            json_object_set_new(r, "port", json_integer(c[i].key));
        } else if (o->kind == DS_RANK_COUNTRIES) {
            char cc[3];
            ds_country_code((uint16_t)c[i].key, cc);
            json_object_set_new(r, "country", json_string(cc));
        } else {
            json_object_set_new(r, "asn", json_integer(c[i].key));
        }
        json_object_set_new(r, "packets", json_integer((json_int_t)c[i].packets));
        json_object_set_new(r, "sources", json_integer((json_int_t)c[i].sources));
        json_object_set_new(r, "share",
                            json_real(ratio((double)c[i].packets, (double)tot_pk) * 100));
        json_object_set_new(r, "source_share",
                            json_real(ratio((double)c[i].sources, (double)tot_src) * 100));
        json_object_set_new(r, "sources_exact", json_boolean(c[i].exact));
        json_array_append_new(list, r);
    }
    *out = list;
    list = NULL;
out:
    json_decref(list);
    qcache_free(&qc);
    free(cs.c);
    free(cs.slot);
    free(sp);
    free(w);
    return rc;
}

int ds_query_rank(struct ds_store *s, const struct ds_period *p, const struct ds_rank_opts *o,
                  json_t **out, struct ds_err *err)
{
    bool began = read_begin(s);
    int rc = rank_report(s, p, o, out, err);
    read_end(s, began);
    return rc;
}

/* ------------------------------------------------------------------ one port by month ---- */

int ds_query_port_monthly(struct ds_store *s, const struct ds_period *p, int udp, uint16_t port,
                          bool exclude_research, json_t **out, struct ds_err *err)
{
    struct span *sp = malloc(sizeof *sp), *ds = malloc(sizeof *ds);
    if (!sp || !ds) {
        free(sp);
        free(ds);
        return ds_err_set(err, -ENOMEM, "out of memory");
    }
    json_t *o = NULL, *months = NULL;
    struct qcache qc = {0};
    int rc = resolve(s, p, sp, err);
    if (rc < 0)
        goto out;
    enum ds_dim dim = udp ? DS_DIM_UDP : DS_DIM_TCP;
    o = json_object();
    months = json_array();
    json_object_set_new(o, "report", json_string("port"));
    json_object_set_new(o, "version", json_integer(DS_REPORT_VERSION));
    json_object_set_new(o, "proto", json_string(udp ? "udp" : "tcp"));
    json_object_set_new(o, "port", json_integer(port));
    put_period(o, sp);
    json_object_set_new(o, "exclude_research", json_boolean(exclude_research));
    /* month by month: packets over the month's intervals, and the mean of each day's
     * unique sources over the days with data */
    int64_t from = floor_to(sp->from, DAY), to = ceil_to(sp->to, DAY);
    for (int64_t m = ds_time_month_start(from); m < to && !sp->empty; m = ds_time_next_month(m)) {
        uint64_t pk = 0, src = 0, days = 0;
        bool exact = true;
        for (int64_t d = m > from ? m : from; d < ds_time_next_month(m) && d < to; d += DAY) {
            ds->from = d;
            ds->to = d + DAY;
            ds->n = 1;
            ds->p[0] = (struct piece){DS_GRAN_1D, d};
            struct sums sm;
            uint64_t ds_src;
            bool ex;
            if ((rc = sums_of(s, &qc, ds, dim, port, &sm, err)) < 0)
                goto out;
            if (!sm.rows)
                continue;
            pk += exclude_research ? sm.packets - sm.r_packets : sm.packets;
            if ((rc = sources_of(s, &qc, ds, dim, port, exclude_research, &sm, &ds_src, &ex, err)) <
                0)
                goto out;
            src += ds_src;
            exact = exact && ex;
            days++;
        }
        if (!days)
            continue;
        json_t *r = json_object();
        char buf[32];
        ds_time_format(m, buf, sizeof buf);
        buf[7] = 0;
        json_object_set_new(r, "month", json_string(buf));
        json_object_set_new(r, "packets", json_integer((json_int_t)pk));
        json_object_set_new(r, "days", json_integer((json_int_t)days));
        json_object_set_new(r, "sources_per_day", json_real(ratio((double)src, (double)days)));
        json_object_set_new(r, "sources_exact", json_boolean(exact));
        json_array_append_new(months, r);
    }
    json_object_set_new(o, "months", months);
    months = NULL;
    *out = o;
    o = NULL;
out:
    json_decref(months);
    json_decref(o);
    free(sp);
    qcache_free(&qc);
    free(ds);
    return rc;
}

/* ------------------------------------------------------------------ hosts ---------------- */

static const char *const host_cols[] = {"tcp_syn",   "backscatter",  "icmp_request", "udp",
                                        "amp_probe", "spoofed_hint", "mirai",        "zmap",
                                        "masscan",   "nmap",         "unicornscan"};
#define N_HOST_COLS (sizeof host_cols / sizeof host_cols[0])

/* The JSON of a host profile from an aggregate row: columns addr, first, last, packets,
 * bytes, protos, the counters of host_cols, classes, nports, ports, dsts, dsts_exact, scan,
 * research, country, asn, behaviour, segments. */
static json_t *host_json(sqlite3_stmt *st)
{
    static const char *const protos[] = {"tcp", "udp", "icmp", "icmp6", "other"};
    json_t *h = json_object();
    char a[40], b[40];
    int c = 0;
    json_object_set_new(h, "address", json_string((const char *)sqlite3_column_text(st, c++)));
    json_object_set_new(
        h, "first_seen",
        json_string(ds_time_format_ns((uint64_t)sqlite3_column_int64(st, c++), a, sizeof a)));
    json_object_set_new(
        h, "last_seen",
        json_string(ds_time_format_ns((uint64_t)sqlite3_column_int64(st, c++), b, sizeof b)));
    json_object_set_new(h, "packets", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(h, "bytes", json_integer(sqlite3_column_int64(st, c++)));
    int pm = sqlite3_column_int(st, c++);
    json_t *pl = json_array();
    for (int i = 0; i < DS_PROTO_COUNT; i++)
        if (pm & (1 << i))
            json_array_append_new(pl, json_string(protos[i]));
    json_object_set_new(h, "protocols", pl);
    json_t *cls = json_object(), *fps = json_object();
    for (size_t i = 0; i < N_HOST_COLS; i++) {
        json_int_t v = sqlite3_column_int64(st, c++);
        json_object_set_new(i < DS_HOST_CLASSES ? cls : fps, host_cols[i], json_integer(v));
    }
    int cm = sqlite3_column_int(st, c++);
    /* the rare classes are kept as "seen" only */
    json_object_set_new(cls, "nonroutable_src", json_boolean(cm & (1 << DS_CLASS_NONROUTABLE_SRC)));
    json_object_set_new(cls, "fragment", json_boolean(cm & (1 << DS_CLASS_FRAGMENT)));
    json_object_set_new(h, "classes", cls);
    json_object_set_new(h, "fingerprints", fps);
    json_object_set_new(h, "ports_distinct", json_integer(sqlite3_column_int64(st, c++)));
    const unsigned char *ports = sqlite3_column_text(st, c++);
    json_object_set_new(h, "first_ports", json_string(ports ? (const char *)ports : ""));
    json_object_set_new(h, "destinations", json_integer(sqlite3_column_int64(st, c++)));
    json_object_set_new(h, "destinations_exact", json_boolean(sqlite3_column_int(st, c++)));
    const unsigned char *scan = sqlite3_column_text(st, c++);
    json_object_set_new(h, "scan_type", json_string(scan ? (const char *)scan : "none"));
    const unsigned char *res = sqlite3_column_text(st, c++);
    json_object_set_new(h, "research", res ? json_string((const char *)res) : json_null());
    json_object_set_new(h, "country", json_string((const char *)sqlite3_column_text(st, c++)));
    json_object_set_new(h, "asn", json_integer(sqlite3_column_int64(st, c++)));
    const unsigned char *beh = sqlite3_column_text(st, c++);
    json_object_set_new(h, "behaviour_key", json_string(beh ? (const char *)beh : ""));
    json_object_set_new(h, "segments", json_integer(sqlite3_column_int64(st, c++)));
    return h;
}

/* Aggregates host segments: sums of counters, extremes of times, the latest descriptive
 * fields (scan type "both" wins over one direction, which wins over none). */
#define HOST_AGG                                                                                   \
    "addr, MIN(first_ns), MAX(last_ns), SUM(packets), SUM(bytes), bitor(protos), "                 \
    "SUM(tcp_syn), SUM(backscatter), SUM(icmp_request), SUM(udp), SUM(amp_probe), "                \
    "SUM(spoofed_hint), SUM(mirai), SUM(zmap), SUM(masscan), SUM(nmap), SUM(unicornscan), "        \
    "bitor(classes), SUM(nports), MAX(ports), MAX(dsts), MIN(dsts_exact), "                        \
    "CASE WHEN SUM(scan = 'both') > 0 OR (SUM(scan = 'horizontal') > 0 AND "                       \
    "SUM(scan = 'vertical') > 0) THEN 'both' WHEN SUM(scan = 'horizontal') > 0 THEN 'horizontal' " \
    "WHEN SUM(scan = 'vertical') > 0 THEN 'vertical' ELSE 'none' END, "                            \
    "MAX(research), MAX(country), MAX(asn), MAX(behaviour), COUNT(*)"

/* One host's aggregate over [day0, day1) (HOST_AGG columns), or NULL when it has none. */
static json_t *host_profile(struct ds_store *s, const struct ds_addr *a, int64_t day0, int64_t day1,
                            struct ds_err *err)
{
    char canon[DS_ADDR_STRLEN];
    ds_addr_format(a, canon);
    sqlite3_stmt *st;
    if (prepare(s,
                "SELECT " HOST_AGG " FROM host WHERE addrkey = ? AND addr = ? AND day >= ?"
                " AND day < ? AND ingest IN (SELECT id FROM ingest WHERE status IN ('done', "
                "'live', 'interrupted'))"
                " GROUP BY addr",
                &st, err) < 0)
        return NULL;
    sqlite3_bind_int64(st, 1, ds_store_addr_key(a));
    sqlite3_bind_text(st, 2, canon, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, day0);
    sqlite3_bind_int64(st, 4, day1);
    json_t *h = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        h = host_json(st);
    sqlite3_finalize(st);
    return h;
}

/*
 * The statement ranking the addresses of the day top lists over days [d0, d1) by their
 * summed packets (?1: how many). Whole months and years use their sums (host_top_roll), and
 * the days are first widened to the year, month or day around the data (widen()): a year of
 * data is one sorted index range instead of 365 days' lists grouped per request.
 */
static int top_hosts_sql(struct ds_store *s, const struct span *sp, int64_t d0, int64_t d1,
                         sqlite3_stmt **st, struct ds_err *err)
{
    struct span *ds = malloc(sizeof *ds), *w = malloc(sizeof *w);
    char *sql = NULL;
    size_t len = 0;
    FILE *f = NULL;
    bool wide = false;
    int rc = 0;
    if (!ds || !w || !(f = open_memstream(&sql, &len))) {
        rc = ds_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    ds->from = d0 * DAY;
    ds->to = d1 * DAY;
    ds->empty = sp->empty;
    if ((rc = tile(ds, err)) < 0 || (rc = widen(s, ds, w, &wide, err)) < 0)
        goto out;
    const struct span *q = wide ? w : ds;
    if (q->n == 1 && q->p[0].gran >= GRAN_MONTH) {
        fprintf(f,
                "SELECT addr FROM host_top_roll WHERE gran = %d AND start = %" PRId64
                " ORDER BY packets DESC, addr LIMIT ?1",
                q->p[0].gran, q->p[0].start);
    } else {
        fputs("SELECT addr FROM (SELECT addr, packets FROM host_top WHERE false", f);
        for (size_t i = 0; i < q->n; i++) {
            const struct piece *pc = &q->p[i];
            if (pc->gran >= GRAN_MONTH) {
                fprintf(f,
                        " UNION ALL SELECT addr, packets FROM host_top_roll WHERE gran = %d"
                        " AND start = %" PRId64,
                        pc->gran, pc->start);
                continue;
            }
            size_t j = i; /* a run of days */
            while (j + 1 < q->n && q->p[j + 1].gran == DS_GRAN_1D)
                j++;
            fprintf(f,
                    " UNION ALL SELECT addr, packets FROM host_top WHERE day >= %" PRId64
                    " AND day < %" PRId64,
                    pc->start / DAY, q->p[j].start / DAY + 1);
            i = j;
        }
        fputs(") GROUP BY addr ORDER BY SUM(packets) DESC, addr LIMIT ?1", f);
    }
    if (fclose(f) != 0) {
        f = NULL;
        rc = ds_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    f = NULL;
    rc = prepare(s, sql, st, err);
out:
    if (f)
        fclose(f);
    free(sql);
    free(ds);
    free(w);
    return rc;
}

/* Top hosts by packets. A period of one day ranks every stored profile of that day; longer
 * periods rank the union of the days' top lists (each day keeps its busiest
 * DS_HOST_TOP_PER_DAY hosts per shard), then aggregate each candidate's profile. */
static int hosts_report(struct ds_store *s, const struct ds_period *p, size_t top,
                        bool exclude_research, json_t **out, struct ds_err *err)
{
    struct span sp;
    int rc = resolve(s, p, &sp, err);
    if (rc < 0)
        return rc;
    int64_t d0 = floor_to(sp.from, DAY) / DAY, d1 = ceil_to(sp.to, DAY) / DAY;
    sqlite3_stmt *st;
    json_t *list = json_array();
    if (d1 - d0 <= 1) {
        char sql[2048];
        snprintf(
            sql, sizeof sql,
            "SELECT " HOST_AGG " FROM host WHERE day >= ? AND day < ? %s"
            " AND ingest IN (SELECT id FROM ingest WHERE status IN ('done', 'live', 'interrupted'))"
            " GROUP BY addr ORDER BY SUM(packets) DESC, addr LIMIT ?",
            exclude_research ? "AND research IS NULL" : "");
        if ((rc = prepare(s, sql, &st, err)) < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, d0);
        sqlite3_bind_int64(st, 2, d1);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)top);
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW)
            json_array_append_new(list, host_json(st));
        sqlite3_finalize(st);
        if (r != SQLITE_DONE) {
            rc = q_err(s, err, "ranking hosts");
            goto fail;
        }
        *out = list;
        return 0;
    }
    /* research hosts are filtered after the profile lookup: ask for more candidates */
    size_t want = exclude_research ? top * 2 + 64 : top;
    if ((rc = top_hosts_sql(s, &sp, d0, d1, &st, err)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)want);
    while (sqlite3_step(st) == SQLITE_ROW && json_array_size(list) < top) {
        struct ds_addr a;
        if (ds_addr_parse(&a, (const char *)sqlite3_column_text(st, 0), NULL) < 0)
            continue;
        json_t *h = host_profile(s, &a, d0, d1, err);
        if (!h)
            continue;
        if (exclude_research && !json_is_null(json_object_get(h, "research")))
            json_decref(h);
        else
            json_array_append_new(list, h);
    }
    sqlite3_finalize(st);
    *out = list;
    return 0;
fail:
    json_decref(list);
    return rc;
}

int ds_query_hosts(struct ds_store *s, const struct ds_period *p, size_t top, bool exclude_research,
                   json_t **out, struct ds_err *err)
{
    bool began = read_begin(s);
    int rc = hosts_report(s, p, top, exclude_research, out, err);
    read_end(s, began);
    return rc;
}

int ds_query_host(struct ds_store *s, const char *addr, json_t **out, struct ds_err *err)
{
    struct ds_addr a;
    char canon[DS_ADDR_STRLEN];
    int rc = ds_addr_parse(&a, addr, err);
    if (rc < 0)
        return rc;
    ds_addr_format(&a, canon);
    sqlite3_stmt *st;
    if ((rc = prepare(s,
                      "SELECT " HOST_AGG " FROM host WHERE addrkey = ?2 AND addr = ?1 AND"
                      " ingest IN (SELECT id FROM ingest WHERE status IN ('done', 'live',"
                      " 'interrupted')) GROUP BY addr",
                      &st, err)) < 0)
        return rc;
    sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ds_store_addr_key(&a)); /* the index (not the ingest's rows) */
    json_t *h = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        h = host_json(st);
    sqlite3_finalize(st);
    if (!h)
        return ds_err_set(err, -ENOENT, "no profile of %s in the store", canon);
    /* the masks (protocols, rare classes), OR-ed over segments, and the timeline */
    if ((rc = prepare(s,
                      "SELECT first_ns, last_ns, packets, protos, classes, ports, nports, dsts,"
                      " scan, behaviour, ingest FROM host WHERE addrkey = ? AND addr = ?"
                      " AND ingest IN (SELECT id FROM ingest WHERE status IN ('done', 'live', "
                      "'interrupted'))"
                      " ORDER BY first_ns",
                      &st, err)) < 0) {
        json_decref(h);
        return rc;
    }
    sqlite3_bind_int64(st, 1, ds_store_addr_key(&a));
    sqlite3_bind_text(st, 2, canon, -1, SQLITE_STATIC);
    json_t *tl = json_array();
    int pm = 0, cm = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *seg = json_object();
        char b1[40], b2[40];
        json_object_set_new(
            seg, "first_seen",
            json_string(ds_time_format_ns((uint64_t)sqlite3_column_int64(st, 0), b1, sizeof b1)));
        json_object_set_new(
            seg, "last_seen",
            json_string(ds_time_format_ns((uint64_t)sqlite3_column_int64(st, 1), b2, sizeof b2)));
        json_object_set_new(seg, "packets", json_integer(sqlite3_column_int64(st, 2)));
        pm |= sqlite3_column_int(st, 3);
        cm |= sqlite3_column_int(st, 4);
        json_object_set_new(seg, "first_ports",
                            json_string((const char *)sqlite3_column_text(st, 5)));
        json_object_set_new(seg, "ports_distinct", json_integer(sqlite3_column_int64(st, 6)));
        json_object_set_new(seg, "destinations", json_integer(sqlite3_column_int64(st, 7)));
        json_object_set_new(seg, "scan_type",
                            json_string((const char *)sqlite3_column_text(st, 8)));
        json_object_set_new(seg, "behaviour_key",
                            json_string((const char *)sqlite3_column_text(st, 9)));
        json_object_set_new(seg, "ingest", json_integer(sqlite3_column_int64(st, 10)));
        json_array_append_new(tl, seg);
    }
    sqlite3_finalize(st);
    (void)pm;
    (void)cm;
    json_object_set_new(h, "report", json_string("host"));
    json_object_set_new(h, "version", json_integer(DS_REPORT_VERSION));
    json_object_set_new(h, "timeline", tl);
    *out = h;
    return 0;
}
