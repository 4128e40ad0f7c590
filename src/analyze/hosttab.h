/* hosttab.h - per-shard table of source hosts (open addressing, mixed address hash) and the
 * set of (host, port) pairs used for exact per-port unique-source counts. */
#ifndef DS_HOSTTAB_H
#define DS_HOSTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify/fingerprint.h"
#include "core/addr.h"
#include "core/hash.h"

#define DS_HOST_INLINE_PORTS 5

/* One source host. Owned by exactly one shard; never shared between threads. */
struct ds_host {
    struct ds_addr addr;
    uint64_t packets;
    uint32_t id;               /* 1.. in insertion order; 0 marks an empty slot */
    uint16_t nports;           /* distinct (proto, dport) keys seen, saturating */
    uint8_t pad[2];
    struct ds_fp_state fp;     /* stateful fingerprint state */
    uint32_t ports[DS_HOST_INLINE_PORTS]; /* first distinct port keys; more go to the pair set */
};

/* Port key: proto index (0 tcp, 1 udp) << 16 | port. */
static inline uint32_t ds_port_key(int udp, uint16_t port) { return ((uint32_t)udp << 16) | port; }

struct ds_hosttab {
    struct ds_host *slots;
    size_t mask;   /* capacity - 1 (capacity is a power of two) */
    size_t count;
    uint32_t next_id;
    /* overflow (host id, port key) pairs: a set of uint64 keys, 0 never used as a key */
    uint64_t *pairs;
    size_t pairs_mask, pairs_count;
};

int ds_hosttab_init(struct ds_hosttab *t, size_t initial);
void ds_hosttab_free(struct ds_hosttab *t);

static inline uint64_t ds_hosttab_hash(const struct ds_addr *a) { return ds_hash_addr16(a->b); }

/* Prefetches the home slot of hash h (the engine calls it a batch ahead). */
static inline void ds_hosttab_prefetch(const struct ds_hosttab *t, uint64_t h)
{
    __builtin_prefetch(&t->slots[h & t->mask], 1, 1);
}

/* Finds or inserts the host for a (hash computed by ds_hosttab_hash). *created tells whether
 * it is new. Returns NULL only when growing the table fails (out of memory). The pointer is
 * valid until the next call. */
struct ds_host *ds_hosttab_get(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                               bool *created);

/* Records that host h sent to port key k: 1 the first time, 0 if seen, -ENOMEM. */
int ds_hosttab_add_port(struct ds_hosttab *t, struct ds_host *h, uint32_t key);

#endif
