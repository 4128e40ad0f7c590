/* hosttab.h - per-shard table of source hosts: an index of 8-byte slots (IPv4 in
 * extendible-hashing segments, IPv6 in one table) over a chunked arena of 128-byte profiles,
 * and the set of (host, port) pairs behind exact distinct-port and per-port source counts. */
#ifndef DS_HOSTTAB_H
#define DS_HOSTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/host.h"
#include "core/addr.h"
#include "core/hash.h"

/* One index slot: the IPv4 address (or 32 bits of an IPv6 address's hash) and the arena id
 * of its profile; id 0 marks an empty slot. */
struct ds_hslot {
    uint32_t key;
    uint32_t id;
};

/* IPv4 index segment: 2^18 slots, one 2 MiB huge page; linear probing inside. */
#define DS_HIDX_SEG_SHIFT 18
struct ds_hseg {
    struct ds_hslot *slots;
    uint32_t count;
    uint8_t depth; /* local depth: how many top hash bits all its hosts share */
};

#define DS_HOST_CHUNK_SHIFT 14 /* profiles per arena chunk: 16,384 (2 MiB) */

/* One (host, port) pair: key (host << DS_PAIR_SHIFT | port key) + 1, and the 5-minute interval it
 * was last seen in (exact per-interval per-port source counts). */
struct ds_pair {
    uint64_t key;
    uint32_t stamp;
    uint32_t spare;
};

/* Port key: proto index (0 tcp, 1 udp) << 16 | port. ICMP types share the pair set under
 * their own keys (above every port key). Keys are below 2^DS_PAIR_SHIFT. */
#define DS_PAIR_SHIFT 18
static inline uint32_t ds_port_key(int udp, uint16_t port)
{
    return ((uint32_t)udp << 16) | port;
}
static inline uint32_t ds_icmp_key(int v6, uint8_t type)
{
    return 0x20000u | (uint32_t)v6 << 8 | type;
}

struct ds_hosttab {
    /* IPv4 index: dir[the top `depth` bits of the hash] is the segment; a full segment splits
     * in two, so growing never rehashes the whole index */
    struct ds_hseg **dir;
    unsigned depth;
    size_t v4_count, n_segs;
    struct ds_hslot *scratch; /* one segment's worth, for splits */
    /* IPv6 index: one open-addressing table, doubled when 3/4 full */
    struct ds_hslot *v6;
    size_t v6_mask, v6_count;
    /* the arena: profile id i is chunks[i >> SHIFT][i & (CHUNK - 1)]; ids never move */
    struct ds_host **chunks;
    size_t n_chunks, cap_chunks;
    uint32_t next_id;   /* ids 1.. handed out so far */
    uint32_t free_head; /* evicted ids to reuse (DS_HF_FREE, linked through `packets`) */
    size_t n_free;
    uint64_t evictions; /* profiles removed so far */
    /* the pair set */
    struct ds_pair *pairs;
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

/* The profile with this id (1 <= id < next_id). */
static inline struct ds_host *ds_hosttab_entry(const struct ds_hosttab *t, uint32_t id)
{
    return &t->chunks[id >> DS_HOST_CHUNK_SHIFT][id & ((1u << DS_HOST_CHUNK_SHIFT) - 1)];
}

/* Prefetches the index slot of a. Always inlined: as an ordinary function GCC finds it free of
 * side effects and deletes every call (measured). */
static inline __attribute__((always_inline)) void
ds_hosttab_prefetch(const struct ds_hosttab *t, const struct ds_addr *a, uint64_t h)
{
    if (ds_addr_is_v4(a))
        __builtin_prefetch(&ds_hosttab_seg(t, h)->slots[h & ((1u << DS_HIDX_SEG_SHIFT) - 1)], 0, 3);
    else
        __builtin_prefetch(&t->v6[h & t->v6_mask], 0, 3);
}

/* Finds the id of a's profile, or 0, without inserting (the probe a prefetch prepared). */
uint32_t ds_hosttab_find(const struct ds_hosttab *t, const struct ds_addr *a, uint64_t h);

/*
 * Finds or inserts the profile of a (h = ds_hosttab_hash(a)). A new profile is zeroed but for
 * addr, stamp (DS_HOST_NEVER) and flags; *created says so. *pkey is the host's base key in the
 * pair set. Returns NULL only when memory runs out. Profiles never move.
 */
struct ds_host *ds_hosttab_get(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                               bool *created, uint64_t *pkey);

/* Removes a profile (eviction): its inline ports move to the pair set first, so the run still
 * knows them; its id is reused later. 0 or -ENOMEM (nothing removed then). */
int ds_hosttab_remove(struct ds_hosttab *t, struct ds_host *host);

/* Calls fn for every live profile (in arena order). fn must not insert or remove. */
void ds_hosttab_foreach(struct ds_hosttab *t, void (*fn)(void *ctx, struct ds_host *h), void *ctx);

/* What ds_hosttab_port found for one (host, port). */
struct ds_port_hit {
    bool fresh;    /* first time in this run */
    int slot;      /* 0 or 1: an inline port of the profile; -1: in the pair set */
    uint32_t prev; /* pair set: the interval it was last seen in (DS_HOST_NEVER when fresh) */
};

/* Records that host (pair base pkey) sent to port key k in 5-minute interval `stamp`.
 * 0 or -ENOMEM. */
int ds_hosttab_port(struct ds_hosttab *t, struct ds_host *host, uint64_t pkey, uint32_t k,
                    uint32_t stamp, struct ds_port_hit *hit);

/* Records pair (pkey, k) in 5-minute interval stamp without the inline ports (ICMP types);
 * *prev gets the interval it was last seen in (DS_HOST_NEVER: never). 0 or -ENOMEM. */
int ds_hosttab_pair(struct ds_hosttab *t, uint64_t pkey, uint32_t k, uint32_t stamp,
                    uint32_t *prev);

/* Prefetches the pair-set slot ds_hosttab_port(t, host, pkey, k, ...) will probe, if it will
 * (host must be in the cache already). */
static inline __attribute__((always_inline)) void
ds_hosttab_prefetch_port(const struct ds_hosttab *t, const struct ds_host *host, uint64_t pkey,
                         uint32_t k)
{
    uint16_t f = host->flags;
    bool udp = k >> 16;
    if (!(f & DS_HF_PORT1) && !t->evictions)
        return; /* an inline slot is still free: no pair-set probe */
    if ((host->ports[0] == (uint16_t)k && !!(f & DS_HF_PORT0_UDP) == udp) ||
        (host->ports[1] == (uint16_t)k && !!(f & DS_HF_PORT1_UDP) == udp))
        return;
    __builtin_prefetch(&t->pairs[ds_mix64((pkey | k) + 1) & t->pairs_mask], 1, 3);
}

/* Bytes held by the tables (for logs and the memory-per-host figure). */
size_t ds_hosttab_bytes(const struct ds_hosttab *t);

#endif
