/* lpm.h - longest-prefix-match table over IPv4 and IPv6 prefixes, built once, read-only. */
#ifndef DS_LPM_H
#define DS_LPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/err.h"

/*
 * Maps prefixes (struct ds_prefix, IPv4 in its v4-mapped form) to a uint32_t value the caller
 * owns (an id into the caller's own table: an organisation, a label, ...).
 *
 * Life cycle: a builder collects prefixes (one thread), ds_lpm_build() turns them into a
 * table, the builder can then be freed. The table is never modified after the build, so any
 * number of threads may look up in it at once without locks; free it only after all of
 * them are done. To change the contents, build a new table and swap the pointer (RCU-style).
 *
 * Matching: the longest prefix containing the address wins. Nested prefixes, /0 (::/0 and
 * 0.0.0.0/0), host routes (/32, /128) and both families in one table are all allowed; an IPv6
 * prefix that covers ::ffff:0:0/96 (for example ::/0 or ::/80) also covers every IPv4 address.
 *
 * Duplicates (the same prefix added more than once): all are kept. Lookup returns the value
 * added last ("later wins"); the iterator yields every one, the latest first, so a registry
 * where two organisations register the same range sees both.
 *
 * Lookups allocate nothing and take no locks: each family is a sorted array of disjoint
 * intervals with a 65,536-slot index on the top 16 bits, then a short binary search; IPv4
 * lookups first test a 128 KiB bitmap of the /20s any prefix touches (a miss there is one
 * load).
 * docs/enrichment.md has the design and the measured costs.
 */

struct ds_lpm;         /* the read-only table */
struct ds_lpm_builder; /* the prefixes collected before the build */

/* Creates an empty builder. 0 or -ENOMEM. */
int ds_lpm_builder_new(struct ds_lpm_builder **out, struct ds_err *err);

/* Adds one prefix. -EINVAL (message names the prefix) when len > 128 or host bits are set
 * below the prefix length; -ENOMEM; -E2BIG past 2^31 - 2 prefixes. */
int ds_lpm_builder_add(struct ds_lpm_builder *b, const struct ds_prefix *p, uint32_t value,
                       struct ds_err *err);

/* Number of prefixes added so far. */
size_t ds_lpm_builder_count(const struct ds_lpm_builder *b);

void ds_lpm_builder_free(struct ds_lpm_builder *b);

/* Builds the table from the builder's prefixes (the builder is left unchanged and may be
 * freed or reused). 0 or -ENOMEM. The caller owns *out. */
int ds_lpm_build(const struct ds_lpm_builder *b, struct ds_lpm **out, struct ds_err *err);

void ds_lpm_free(struct ds_lpm *t);

/* Longest match of a: true and *value set when some prefix contains a, false otherwise
 * (*value untouched). Thread-safe, allocation-free. */
bool ds_lpm_lookup(const struct ds_lpm *t, const struct ds_addr *a, uint32_t *value);

/* The same for an IPv4 address in host order (the packet path's fast case). */
bool ds_lpm_lookup_v4(const struct ds_lpm *t, uint32_t v4, uint32_t *value);

/* Starts loading the cache lines a lookup of a reads first (the /20 bitmap word and the /16
 * index slot of IPv4; nothing for IPv6), so a lookup a little later does not wait for them. */
void ds_lpm_prefetch(const struct ds_lpm *t, const struct ds_addr *a);

/* Every prefix containing an address, longest first (duplicates latest first). The iterator
 * is a small value on the caller's stack; the table must outlive it. */
struct ds_lpm_iter {
    const struct ds_lpm *t;
    uint32_t next; /* internal: entry index + 1, 0 when done */
};

void ds_lpm_iter_init(struct ds_lpm_iter *it, const struct ds_lpm *t, const struct ds_addr *a);

/* Next match: true and *prefix / *value set (either may be NULL), false when done. */
bool ds_lpm_iter_next(struct ds_lpm_iter *it, struct ds_prefix *prefix, uint32_t *value);

struct ds_lpm_stats {
    size_t prefixes;     /* entries in the table (duplicates included) */
    size_t v4_intervals; /* disjoint intervals in the IPv4 array */
    size_t v6_intervals; /* disjoint intervals in the IPv6 array */
    size_t bytes;        /* heap bytes held by the table */
};

void ds_lpm_get_stats(const struct ds_lpm *t, struct ds_lpm_stats *out);

#endif
