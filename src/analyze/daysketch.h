/* daysketch.h - one day's distinct-source sketches per (dimension, key), for unique counts
 * over any period (a year's sources are the union of its days). */
#ifndef DS_DAYSKETCH_H
#define DS_DAYSKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/hll.h"
#include "analyze/window.h"

/* Which dimensions get day sketches (the ones reports rank over arbitrary periods). */
static inline bool ds_daysk_dim(enum ds_dim d)
{
    return d == DS_DIM_TOTAL || d == DS_DIM_PROTO || d == DS_DIM_TCP || d == DS_DIM_UDP ||
           d == DS_DIM_COUNTRY || d == DS_DIM_ASN;
}

struct ds_daysk_entry {
    uint64_t k;       /* (dim << 32 | key) + 1; 0 marks an empty slot */
    struct ds_hll nr; /* sources that are not research scanners */
    struct ds_hll r;  /* research-scanner sources */
};

/* Owned by one shard (or the collector); not thread-safe. */
struct ds_daysk {
    uint32_t day; /* day number since the epoch (UTC) */
    struct ds_daysk_entry *tab;
    size_t mask, count;
};

int ds_daysk_init(struct ds_daysk *d);
void ds_daysk_free(struct ds_daysk *d);
void ds_daysk_reset(struct ds_daysk *d, uint32_t day);

/* Adds a source (its 64-bit address hash) under (dim, key). 0 or -ENOMEM. */
int ds_daysk_add(struct ds_daysk *d, enum ds_dim dim, uint32_t key, bool research, uint64_t hash);

/* dst |= src (the union, key by key). */
int ds_daysk_merge(struct ds_daysk *dst, const struct ds_daysk *src);

typedef int (*ds_daysk_fn)(void *ctx, enum ds_dim dim, uint32_t key, const struct ds_hll *nr,
                           const struct ds_hll *r);
int ds_daysk_foreach(const struct ds_daysk *d, ds_daysk_fn fn, void *ctx);

#endif
