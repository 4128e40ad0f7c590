/* shard.h - one analysis shard: the hosts whose address hashes to it, and its counters. */
#ifndef DS_SHARD_H
#define DS_SHARD_H

#include <stdint.h>

#include "analyze/hosttab.h"
#include "analyze/summary.h"
#include "decode/pkt.h"

/* Owned by one thread; shards share no mutable state, so their summaries add up exactly. */
struct ds_shard {
    struct ds_hosttab hosts;
    struct ds_summary *sum; /* darknet packets only; skipped frames are the reader's */
    uint64_t oom_drops;     /* packets whose host or port could not be recorded (no memory) */
};

int ds_shard_init(struct ds_shard *s);
void ds_shard_free(struct ds_shard *s);

/* Largest batch ds_shard_ingest_batch takes. */
#define DS_SHARD_BATCH 32

/*
 * Counts n <= DS_SHARD_BATCH darknet packets (decoded and classified), in order;
 * h[i] = ds_hosttab_hash(&p[i].src), and the caller has ideally prefetched each index slot
 * (ds_hosttab_prefetch) a while before. Looks up every host first and prefetches the
 * entries, then counts, so the cache misses of a batch overlap. Adds stateful fingerprint
 * bits to p[i].fps.
 */
void ds_shard_ingest_batch(struct ds_shard *s, struct ds_pkt *p, const uint64_t *h, int n);

/* One packet (tests, and callers without batches). */
static inline void ds_shard_ingest(struct ds_shard *s, struct ds_pkt *p, uint64_t h)
{
    ds_shard_ingest_batch(s, p, &h, 1);
}

#endif
