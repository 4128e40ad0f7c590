/* match.h - the packet path's side of alerting: which registered organisation a packet
 * concerns (its source, or the DoS victim behind backscatter), and a per-shard accumulator
 * per (organisation, address, case) whose changes go to the alert engine. */
#ifndef DS_MATCH_H
#define DS_MATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alert/alert.h"
#include "alert/registry.h"
#include "analyze/host.h"
#include "decode/pkt.h"

/* What a shard reports about one (organisation, address, case): the changes since its last
 * report (packets, bytes, first/last times, ports, peak_ppm) and what it has seen so far
 * (targets bitmap, protos, classes, fps, scan type). Samples come with the key's first report
 * only (the receiver adds up counts and ORs bits). */
struct ds_alert_event {
    /* the fields every packet of the key updates come first (two cache lines) */
    int64_t org_id;
    struct ds_addr addr;
    enum ds_alert_case kase;
    bool first; /* the shard's first report of this key */
    uint8_t protos;
    uint64_t first_ns, last_ns;
    uint64_t packets, bytes;
    uint64_t targets_bits; /* 64-bit linear-counting bitmap of destinations */
    uint32_t classes, fps;
    uint64_t peak_ppm; /* backscatter: the busiest minute seen in this report's span */
    size_t n_ports;
    struct ds_alert_port ports[DS_ALERT_TOP_PORTS]; /* packets since the last report */
    char scan_type[12];
    size_t n_samples;
    struct ds_alert_sample samples[DS_ALERT_SAMPLES];
};

/* Where events go (the alert engine); called from the shard's thread, must be thread-safe. */
struct ds_alert_sink {
    void *ctx;
    void (*post)(void *ctx, const struct ds_alert_event *ev);
};

struct ds_match_acc;  /* one key's state in a shard (match.c) */
struct ds_match_slot; /* the index entry of one key (match.c) */

/* Per shard; owned by its thread. reg points at the current registry snapshot (swapped by
 * the daemon on reload; read once per batch). */
struct ds_matcher {
    _Atomic(const struct ds_registry *) *reg;
    const struct ds_registry *cur;
    const struct ds_alert_sink *sink;
    uint64_t update_ns;         /* report changes at most this often, in packet time: one clock for
                                 * the matcher (a key's first report never waits) */
    struct ds_match_acc *acc;   /* the keys' states, in order of arrival (count of cap) */
    struct ds_match_slot *slot; /* open-addressing index into acc (mask + 1 slots) */
    size_t mask, count, cap;
    uint32_t *fresh; /* keys (acc indices) with changes, not reported yet (at the batch's end) */
    uint32_t *wait;  /* keys with changes since their last report (reported every update_ns) */
    size_t n_fresh, n_wait;
    uint64_t last_flush_ns;
    uint64_t matched; /* packets that concerned an organisation */
};

int ds_matcher_init(struct ds_matcher *m, _Atomic(const struct ds_registry *) *reg,
                    const struct ds_alert_sink *sink, uint64_t update_ns);
void ds_matcher_free(struct ds_matcher *m);

/* What a caller may remember about a packet's source between its packets (in the profile),
 * an answer of ds_matcher_packet valid until ds_matcher_begin says the snapshot changed. */
enum ds_match_memo {
    DS_MEMO_NONE = 0,  /* nothing known: the source is looked up */
    DS_MEMO_FREE = 1,  /* in no registered livenet: no lookup */
    DS_MEMO_KEYED = 2, /* in a livenet, and the matcher holds a key of it: found in the
                        * matcher's own table, no lookup */
};

/* Start of a batch: picks up a swapped registry (accumulators of the old one are reported
 * and dropped). Returns true when it did: what the caller remembered from
 * ds_matcher_packet's answers (enum ds_match_memo) is void. */
bool ds_matcher_begin(struct ds_matcher *m);

/*
 * One packet (decoded, classified, its source's profile updated). memo: what an earlier
 * answer of this function said about p->src. Returns what the caller may remember of p->src
 * for the source's later packets (DS_MEMO_NONE: nothing). Backscatter whose victim is
 * another address (from an ICMP quote) is always looked up.
 */
enum ds_match_memo ds_matcher_packet(struct ds_matcher *m, const struct ds_pkt *p,
                                     const struct ds_host *src, enum ds_match_memo memo);

/* Prepares the livenet lookup of a, for a packet the batch matches later (a new source). */
static inline void ds_matcher_prefetch(const struct ds_matcher *m, const struct ds_addr *a)
{
    if (m->cur && m->cur->n_orgs)
        ds_lpm_prefetch(m->cur->livenet, a);
}

/* Prepares a keyed source's (DS_MEMO_KEYED) packet a few ahead, in two steps: its index slot
 * (well ahead), then its key's state (once the slot is in the cache). */
void ds_matcher_prefetch_slot(const struct ds_matcher *m, const struct ds_addr *src);
void ds_matcher_prefetch_key(const struct ds_matcher *m, const struct ds_addr *src);

/* End of a batch: first reports go out at once, changes every update_ns of packet time. */
void ds_matcher_end(struct ds_matcher *m, uint64_t now_ns);

/* Reports every change now (end of input). */
void ds_matcher_flush(struct ds_matcher *m);

#endif
