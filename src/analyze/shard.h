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

int ds_shard_init(struct ds_shard *s, size_t expected_hosts);
void ds_shard_free(struct ds_shard *s);

/* Counts one darknet packet (already decoded and classified); h = ds_hosttab_hash(&p->src).
 * Adds stateful fingerprint bits to p->fps. */
void ds_shard_ingest(struct ds_shard *s, struct ds_pkt *p, uint64_t h);

#endif
