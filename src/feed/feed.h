/* feed.h - NICTER-style sharing feeds over a store: infected hosts per ASN / prefix for ISPs,
 * DoS victims for operators, daily statistics for researchers; as CSV, IntelMQ JSON lines,
 * STIX 2.1 bundles or MISP events (docs/feeds.md). */
#ifndef DS_FEED_H
#define DS_FEED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/addr.h"
#include "core/err.h"
#include "store/query.h"
#include "store/store.h"

#define DS_FEED_MAX_FILTERS 64 /* --asn and --prefix values per request */

/* What to select. The filters are ORed (a row inside any ASN or prefix given); none given
 * means every row. keep() narrows further (an organisation's own ranges), or is NULL. */
struct ds_feed_query {
    struct ds_period period;
    int64_t asns[DS_FEED_MAX_FILTERS];
    size_t n_asns;
    struct ds_prefix prefixes[DS_FEED_MAX_FILTERS];
    size_t n_prefixes;
    size_t top;   /* stats: ports per day (0: 10) */
    size_t limit; /* rows at most (0: all) */
    bool (*keep)(void *ctx, const struct ds_addr *a);
    void *keep_ctx;
};

/* A feed read from the store: its rows (the kind's own JSON objects, docs/feeds.md) and what
 * the formats put around them. */
struct ds_feed {
    const struct ds_feed_kind *kind;
    json_t *rows;         /* array, owned */
    int64_t generated;    /* seconds; time.observation, STIX created/modified */
    char producer[128];   /* the identity named in STIX and MISP, e.g. "darkscope" */
    char period_from[32]; /* "" when open */
    char period_to[32];
};

/* One feed kind: how its rows are read, and its fields in the flat formats. */
struct ds_feed_field; /* feed_int.h */
struct ds_feed_kind {
    const char *name;    /* "infected", "dos", "stats" */
    const char *summary; /* one line for usage texts */
    bool by_address;     /* rows are about one address each (filters and scoping apply) */
    int (*read)(struct ds_store *s, const struct ds_feed_query *q, json_t **rows,
                struct ds_err *err);
    const struct ds_feed_field *csv, *intelmq; /* NULL-name-terminated tables */
};

/* One output format. write() returns 0 or a negative code with err set (-ENOTSUP when the
 * format does not carry the kind, e.g. statistics as STIX). */
struct ds_feed_format {
    const char *name;         /* "csv", "json", "stix", "misp" */
    const char *content_type; /* for the API */
    int (*write)(FILE *f, const struct ds_feed *feed, struct ds_err *err);
};

extern const struct ds_feed_kind *const ds_feed_kinds[];     /* NULL-terminated */
extern const struct ds_feed_format *const ds_feed_formats[]; /* NULL-terminated */

const struct ds_feed_kind *ds_feed_kind_find(const char *name);
const struct ds_feed_format *ds_feed_format_find(const char *name);

/* Parses an AS number ("64500" or "AS64500") / a prefix into q, naming `what` (e.g. "--asn")
 * and the text in errors; -E2BIG past DS_FEED_MAX_FILTERS. */
int ds_feed_add_asn(struct ds_feed_query *q, const char *text, const char *what,
                    struct ds_err *err);
int ds_feed_add_prefix(struct ds_feed_query *q, const char *text, const char *what,
                       struct ds_err *err);

/* Reads the feed's rows (the caller fills producer and generated, or leaves them 0 for
 * "darkscope" and now). ds_feed_free releases the rows. */
int ds_feed_read(struct ds_store *s, const struct ds_feed_kind *kind, const struct ds_feed_query *q,
                 struct ds_feed *out, struct ds_err *err);
void ds_feed_free(struct ds_feed *f);

/* Writes it in a format. 0, or a negative code with err set. */
int ds_feed_write(FILE *f, const struct ds_feed_format *fmt, const struct ds_feed *feed,
                  struct ds_err *err);

#endif
