/* hosttab.h - per-shard table of source hosts (open addressing, mixed address hash; compact
 * IPv4 entries, separate IPv6 entries) and the set of (host, port) pairs used for exact
 * per-port unique-source counts. */
#ifndef DS_HOSTTAB_H
#define DS_HOSTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify/fingerprint.h"
#include "core/addr.h"
#include "core/hash.h"

#define DS_HOST_INLINE_PORTS 2

/* The state of one source host, the same for IPv4 and IPv6 entries. Owned by exactly one
 * shard; never shared between threads. */
struct ds_host {
    uint32_t id;           /* 1.. in insertion order; 0 marks an empty slot */
    struct ds_fp_state fp; /* stateful fingerprint state */
    uint16_t nports;       /* distinct (proto, dport) keys seen, saturating */
    uint16_t spare;
    uint32_t ports[DS_HOST_INLINE_PORTS]; /* first distinct port keys; more go to the pair set */
};

/* IPv4 entries are 32 bytes (two per cache line): the darknet's bulk. */
struct ds_host4 {
    uint32_t addr; /* host order */
    struct ds_host h;
};

struct ds_host6 {
    struct ds_addr addr;
    struct ds_host h;
};

/* Port key: proto index (0 tcp, 1 udp) << 16 | port. */
static inline uint32_t ds_port_key(int udp, uint16_t port) { return ((uint32_t)udp << 16) | port; }

struct ds_hosttab {
    struct ds_host4 *v4;
    size_t v4_mask; /* capacity - 1 (a power of two) */
    size_t v4_count;
    struct ds_host6 *v6;
    size_t v6_mask, v6_count;
    uint32_t next_id;
    /* overflow (host id, port key) pairs: a set of uint64 keys, 0 never used as a key */
    uint64_t *pairs;
    size_t pairs_mask, pairs_count;
};

int ds_hosttab_init(struct ds_hosttab *t, size_t initial);
void ds_hosttab_free(struct ds_hosttab *t);

static inline size_t ds_hosttab_count(const struct ds_hosttab *t)
{
    return t->v4_count + t->v6_count;
}

/* Hash of a source address (also picks the shard: the engine uses the high bits). */
static inline uint64_t ds_hosttab_hash(const struct ds_addr *a)
{
    return ds_addr_is_v4(a) ? ds_mix64(ds_addr_v4(a)) : ds_hash_addr16(a->b);
}

/* Prefetches the home slot of a (the engine calls it a batch ahead). */
static inline void ds_hosttab_prefetch(const struct ds_hosttab *t, const struct ds_addr *a,
                                       uint64_t h)
{
    if (ds_addr_is_v4(a))
        __builtin_prefetch(&t->v4[h & t->v4_mask], 1, 3);
    else
        __builtin_prefetch(&t->v6[h & t->v6_mask], 1, 3);
}

/* Finds or inserts the host for a (h = ds_hosttab_hash(a)). *created tells whether it is new.
 * Returns NULL only when growing the table fails (out of memory). The pointer is valid until
 * the next call. */
struct ds_host *ds_hosttab_get(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                               bool *created);

/* Records that host h sent to port key k: 1 the first time, 0 if seen, -ENOMEM. */
int ds_hosttab_add_port(struct ds_hosttab *t, struct ds_host *h, uint32_t key);

/* Bytes held by the tables (for logs and the memory-per-host figure). */
size_t ds_hosttab_bytes(const struct ds_hosttab *t);

#endif
