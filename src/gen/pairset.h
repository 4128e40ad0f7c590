/* pairset.h - exact set of (source id, protocol, destination port) pairs with a packet
 * count each: the ground truth of per-port distinct sources. */
#ifndef DS_PAIRSET_H
#define DS_PAIRSET_H

#include <stddef.h>
#include <stdint.h>

struct ds_pair {
    uint64_t key; /* ds_pair_key(); UINT64_MAX = empty slot */
    uint64_t packets;
};

/* Memory is proportional to distinct pairs (16 bytes per slot, <= 50 % load), never to
 * packets. Single thread. */
struct ds_pairset {
    struct ds_pair *slots;
    size_t mask, n;
};

/* proto_idx: 0 tcp, 1 udp. */
static inline uint64_t ds_pair_key(uint32_t src_id, unsigned proto_idx, uint16_t port)
{
    return ((uint64_t)src_id << 17) | ((uint64_t)proto_idx << 16) | port;
}
static inline uint32_t ds_pair_src(uint64_t key)
{
    return (uint32_t)(key >> 17);
}
static inline unsigned ds_pair_proto(uint64_t key)
{
    return (unsigned)(key >> 16) & 1;
}
static inline uint16_t ds_pair_port(uint64_t key)
{
    return (uint16_t)key;
}

int ds_pairset_init(struct ds_pairset *s);
void ds_pairset_free(struct ds_pairset *s);

/* Counts one packet for key: returns 1 when the pair is new, 0 when it was known, -ENOMEM. */
int ds_pairset_hit(struct ds_pairset *s, uint64_t key);

/* Inserts a key known to be absent with a packet count; 0 or -ENOMEM. */
int ds_pairset_insert(struct ds_pairset *s, uint64_t key, uint64_t packets);

/* Moves the occupied entries to the front of s->slots (s->n of them) and sorts them by key;
 * the set is unusable for hits afterwards (only for reading and freeing). */
void ds_pairset_sort(struct ds_pairset *s);

#endif
