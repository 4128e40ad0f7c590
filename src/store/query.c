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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/daysketch.h"
#include "analyze/hll.h"
#include "analyze/host.h"
#include "analyze/window.h"
#include "core/addr.h"
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
    int rc = prepare(s, "SELECT MIN(start), MAX(start) FROM coverage", &st, err);
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
    int rc = prepare(s,
                     "SELECT SUM(monitored), COUNT(DISTINCT start) FROM coverage"
                     " WHERE start >= ? AND start < ?",
                     &st, err);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, sp->from);
    sqlite3_bind_int64(st, 2, sp->to);
    *out = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 1) > 0)
        *out = sqlite3_column_double(st, 0) / (double)sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    return 0;
}

struct sums {
    uint64_t packets, bytes, r_packets, r_bytes, sources, r_sources;
    size_t rows; /* intervals that had a row */
    bool exact;  /* sources are exact (one interval of one ingest) */
};

/* Sums of (dim, key) over the span's intervals. */
static int sums_of(struct ds_store *s, const struct span *sp, enum ds_dim dim, uint32_t key,
                   struct sums *out, struct ds_err *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
                     "SELECT packets, bytes, sources, r_packets, r_bytes, r_sources, ingests"
                     " FROM stat WHERE gran = ? AND start = ? AND dim = ? AND key = ?",
                     &st, err);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    int64_t ingests = 0;
    int last_gran = 0;
    for (size_t i = 0; i < sp->n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int(st, 1, sp->p[i].gran);
        sqlite3_bind_int64(st, 2, sp->p[i].start);
        sqlite3_bind_int(st, 3, (int)dim);
        sqlite3_bind_int64(st, 4, key);
        if (sqlite3_step(st) != SQLITE_ROW)
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
    sqlite3_finalize(st);
    out->exact = out->rows <= 1 && (out->rows == 0 || (ingests == 1 && last_gran <= DS_GRAN_1D));
    return 0;
}

/* The union of the sketches of (dim, key) over the span: each year, month or day interval's
 * own, the day's for an hour or 5 minutes. *exact: the union is still an exact set and
 * every interval was covered exactly by its sketch. */
static int sketch_union(struct ds_store *s, const struct span *sp, enum ds_dim dim, uint32_t key,
                        bool exclude_research, uint64_t *est, bool *exact, struct ds_err *err)
{
    sqlite3_stmt *st;
    int rc = prepare(s,
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
    sqlite3_finalize(st);
    return rc;
}

/* Unique sources of (dim, key) over the span, given its sums. */
static int sources_of(struct ds_store *s, const struct span *sp, enum ds_dim dim, uint32_t key,
                      bool exclude_research, const struct sums *sm, uint64_t *out, bool *exact,
                      struct ds_err *err)
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
    return sketch_union(s, sp, dim, key, exclude_research, out, exact, err);
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
    int rc = sums_of(s, sp, DS_DIM_TOTAL, 0, &t, err);
    if (rc == 0)
        rc = monitored_mean(s, sp, &mon, err);
    if (rc == 0)
        rc = sources_of(s, sp, DS_DIM_TOTAL, 0, excl, &t, &src, &exact, err);
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

int ds_query_year(struct ds_store *s, const struct ds_period *p, bool exclude_research,
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

/* Adds (dim, key) to the candidates unless it is there. */
static int add_cand(struct cand **c, size_t *n, size_t *cap, enum ds_dim dim, uint32_t key)
{
    for (size_t i = 0; i < *n; i++)
        if ((*c)[i].dim == dim && (*c)[i].key == key)
            return 0;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        struct cand *nc = realloc(*c, ncap * sizeof *nc);
        if (!nc)
            return -ENOMEM;
        *c = nc;
        *cap = ncap;
    }
    (*c)[(*n)++] = (struct cand){.dim = dim, .key = key};
    return 0;
}

/*
 * The ranked list for one kind. Candidates: each interval's busiest keys by packets and by
 * sources (from the rank index), enough of them that the period's top list is among them;
 * then each candidate's exact sums and unique sources over the whole period.
 */
int ds_query_rank(struct ds_store *s, const struct ds_period *p, const struct ds_rank_opts *o,
                  json_t **out, struct ds_err *err)
{
    struct span *sp = malloc(sizeof *sp);
    struct cand *c = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = NULL, *st2 = NULL, *st3 = NULL;
    json_t *list = NULL;
    if (!sp)
        return ds_err_set(err, -ENOMEM, "out of memory");
    int rc = resolve(s, p, sp, err);
    if (rc < 0)
        goto out;
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
                int r;
                while ((r = sqlite3_step(x)) == SQLITE_ROW)
                    if (add_cand(&c, &n, &cap, dims[d], (uint32_t)sqlite3_column_int64(x, 0)) < 0) {
                        rc = ds_err_set(err, -ENOMEM, "out of memory");
                        goto out;
                    }
                if (r != SQLITE_DONE) {
                    rc = q_err(s, err, "ranking");
                    goto out;
                }
            }
    for (size_t i = 0; i < n; i++) {
        struct cand *x = &c[i];
        if ((rc = sums_of(s, sp, x->dim, x->key, &x->sm, err)) < 0)
            goto out;
        x->packets = o->exclude_research ? x->sm.packets - x->sm.r_packets : x->sm.packets;
    }
    /* unique sources for the packet ranking's top, or, ranking by sources, for the
     * candidates with the largest sums of per-interval sources (an upper bound) */
    qsort(c, n, sizeof *c, o->by_sources ? by_bound : by_packets);
    for (size_t i = 0; i < n && i < (o->by_sources ? want : o->top); i++)
        if ((rc = sources_of(s, sp, c[i].dim, c[i].key, o->exclude_research, &c[i].sm,
                             &c[i].sources, &c[i].exact, err)) < 0)
            goto out;
    qsort(c, n, sizeof *c, o->by_sources ? by_sources : by_packets);
    struct sums tot;
    uint64_t tot_src = 0;
    bool tot_exact;
    if ((rc = sums_of(s, sp, DS_DIM_TOTAL, 0, &tot, err)) < 0 ||
        (rc = sources_of(s, sp, DS_DIM_TOTAL, 0, o->exclude_research, &tot, &tot_src, &tot_exact,
                         err)) < 0)
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
    sqlite3_finalize(st);
    sqlite3_finalize(st2);
    sqlite3_finalize(st3);
    free(c);
    free(sp);
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
            if ((rc = sums_of(s, ds, dim, port, &sm, err)) < 0)
                goto out;
            if (!sm.rows)
                continue;
            pk += exclude_research ? sm.packets - sm.r_packets : sm.packets;
            if ((rc = sources_of(s, ds, dim, port, exclude_research, &sm, &ds_src, &ex, err)) < 0)
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

/* Top hosts by packets. A period of one day ranks every stored profile of that day; longer
 * periods rank the union of the days' top lists (each day keeps its busiest
 * DS_HOST_TOP_PER_DAY hosts per shard), then aggregate each candidate's profile. */
int ds_query_hosts(struct ds_store *s, const struct ds_period *p, size_t top, bool exclude_research,
                   json_t **out, struct ds_err *err)
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
    if ((rc = prepare(s,
                      "SELECT addr FROM host_top WHERE day >= ? AND day < ? GROUP BY addr"
                      " ORDER BY SUM(packets) DESC, addr LIMIT ?",
                      &st, err)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, d0);
    sqlite3_bind_int64(st, 2, d1);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)want);
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
                      "SELECT " HOST_AGG " FROM host WHERE addr = ? AND ingest IN (SELECT id"
                      " FROM ingest WHERE status IN ('done', 'live', 'interrupted'))"
                      " GROUP BY addr",
                      &st, err)) < 0)
        return rc;
    sqlite3_bind_text(st, 1, canon, -1, SQLITE_STATIC);
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
