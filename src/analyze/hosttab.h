/* hosttab.h - per-shard table of source hosts (16-byte IPv4 entries in extendible-hashing
 * segments, 32-byte IPv6 entries) and the set of (host, port) pairs behind exact per-port
 * unique-source counts. */
#ifndef DS_HOSTTAB_H
#define DS_HOSTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify/fingerprint.h"
#include "core/addr.h"
#include "core/hash.h"

/* The state of one source host, the same for IPv4 and IPv6 entries (12 bytes). Owned by
 * exactly one shard; never shared between threads. */
struct ds_host {
    struct ds_fp_state fp; /* stateful fingerprint state (9 bytes) */
    uint8_t flags;         /* DS_HOST_* */
    uint16_t port0;        /* the first destination port seen (protocol in flags) */
};

enum {
    DS_HOST_USED = 1u << 0,  /* the slot holds a host */
    DS_HOST_PORT0 = 1u << 1, /* port0 is set; further ports go to the pair set */
    DS_HOST_PORT0_UDP = 1u << 2,
};

struct ds_host4 {
    uint32_t addr; /* host order */
    struct ds_host h;
};

struct ds_host6 {
    struct ds_addr addr;
    uint32_t id; /* 1.., names the host in the pair set */
    struct ds_host h;
};

/* IPv4 segment: 2^17 entries of 16 bytes, one 2 MiB huge page; linear probing inside. */
#define DS_HOST_SEG_SHIFT 17
struct ds_hseg {
    struct ds_host4 *slots;
    uint32_t count;
    uint8_t depth; /* local depth: how many top hash bits all its hosts share */
};

/* Port key: proto index (0 tcp, 1 udp) << 16 | port. */
static inline uint32_t ds_port_key(int udp, uint16_t port)
{
    return ((uint32_t)udp << 16) | port;
}

struct ds_hosttab {
    /* IPv4: extendible hashing. dir[the top `depth` bits of the hash] is the segment; a full
     * segment splits in two, so growing never rehashes the whole table or touches memory
     * it does not keep. */
    struct ds_hseg **dir;
    unsigned depth;
    size_t v4_count, n_segs;
    struct ds_host4 *scratch; /* one segment's worth, for splits */
    /* IPv6: one open-addressing table, doubled when 3/4 full */
    struct ds_host6 *v6;
    size_t v6_mask, v6_count;
    uint32_t v6_next_id;
    /* bumped whenever entries move (a split, an IPv6 rehash): host pointers taken before
     * are stale */
    uint64_t moves;
    /* overflow (host, port key) pairs: a set of uint64 keys, 0 never used as a key */
    uint64_t *pairs;
    size_t pairs_mask, pairs_count;
};

int ds_hosttab_init(struct ds_hosttab *t);
void ds_hosttab_free(struct ds_hosttab *t);

static inline size_t ds_hosttab_count(const struct ds_hosttab *t)
{
    return t->v4_count + t->v6_count;
}

/* Hash of a source address (also picks the shard: the engine uses bits 32 and up). */
static inline uint64_t ds_hosttab_hash(const struct ds_addr *a)
{
    return ds_addr_is_v4(a) ? ds_mix64(ds_addr_v4(a)) : ds_hash_addr16(a->b);
}

static inline struct ds_hseg *ds_hosttab_seg(const struct ds_hosttab *t, uint64_t h)
{
    return t->dir[t->depth ? h >> (64 - t->depth) : 0];
}

/* Prefetches the home slot of a. Always inlined: as an ordinary function GCC finds it free of
 * side effects and deletes every call (measured). */
static inline __attribute__((always_inline)) void
ds_hosttab_prefetch(const struct ds_hosttab *t, const struct ds_addr *a, uint64_t h)
{
    if (ds_addr_is_v4(a))
        __builtin_prefetch(&ds_hosttab_seg(t, h)->slots[h & ((1u << DS_HOST_SEG_SHIFT) - 1)], 1, 3);
    else
        __builtin_prefetch(&t->v6[h & t->v6_mask], 1, 3);
}

/*
 * Finds or inserts the host for a (h = ds_hosttab_hash(a)). *created tells whether it is new
 * (zeroed); *pkey is its base key in the pair set (for ds_hosttab_add_port). Returns NULL only
 * when memory runs out. The pointer is valid until t->moves changes (a later insert may
 * move entries).
 */
struct ds_host *ds_hosttab_get(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                               bool *created, uint64_t *pkey);

/* Prefetches what ds_hosttab_add_port(t, host, pkey, k) will read, if it reads beyond the
 * host entry (which must be in the cache: the caller just looked it up). */
static inline __attribute__((always_inline)) void
ds_hosttab_prefetch_port(const struct ds_hosttab *t, const struct ds_host *host, uint64_t pkey,
                         uint32_t k)
{
    uint8_t udp = k >> 16 ? DS_HOST_PORT0_UDP : 0;
    if ((host->flags & DS_HOST_PORT0) &&
        (host->port0 != (uint16_t)k || (host->flags & DS_HOST_PORT0_UDP) != udp))
        __builtin_prefetch(&t->pairs[ds_mix64((pkey | k) + 1) & t->pairs_mask], 0, 3);
}

/* Records that the host (pair base pkey) sent to port key k: 1 the first time, 0 if seen,
 * -ENOMEM. */
int ds_hosttab_add_port(struct ds_hosttab *t, struct ds_host *host, uint64_t pkey, uint32_t k);

/* Bytes held by the tables (for logs and the memory-per-host figure). */
size_t ds_hosttab_bytes(const struct ds_hosttab *t);

#endif
