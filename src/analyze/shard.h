/* shard.h - one analysis shard: the hosts whose address hashes to it, their profiles, the run
 * counters and the open 5-minute, hourly and daily statistics. */
#ifndef DS_SHARD_H
#define DS_SHARD_H

#include <stdbool.h>
#include <stdint.h>

#include "alert/match.h"
#include "analyze/collect.h"
#include "analyze/daysketch.h"
#include "analyze/hosttab.h"
#include "analyze/metrics.h"
#include "analyze/summary.h"
#include "analyze/window.h"
#include "decode/pkt.h"
#include "enrich/geo.h"
#include "enrich/scanners.h"
#include "incident/groups.h"

/* Settings shared read-only by every shard of a run. */
struct ds_shard_config {
    const struct ds_geo *geo;           /* country/ASN, or NULL */
    const struct ds_scanners *scanners; /* research-scanner ranges, or NULL */
    uint64_t monitored;                 /* monitored IPv4 addresses (for the statistics) */
    uint32_t hscan_dsts;                /* horizontal scan: destinations in 5 minutes (25) */
    uint32_t vscan_ports;               /* vertical scan: ports in 5 minutes (15) */
    uint32_t idle_intervals;            /* evict hosts idle this many 5-minute intervals */
    size_t max_hosts;                   /* per shard; 0 = no limit */
    /* alerting: the current registry snapshot (swapped on reload) and where events go;
     * NULL: no alerting */
    _Atomic(const struct ds_registry *) *registry;
    const struct ds_alert_sink *alerts;
    uint64_t alert_update_ns;        /* changes of an alert reported at most this often (10 s) */
    struct ds_path_metrics *metrics; /* published after every batch, or NULL */
    struct ds_groups *groups;        /* active hosts published every 30 s of packet time, or NULL */
};

/* Owned by one thread; shards share no mutable state (the collector has its own lock), so
 * their counts add up exactly. */
struct ds_shard {
    int id;
    const struct ds_shard_config *cfg;
    struct ds_collect *collect; /* NULL: no statistics (plain analyze) */
    struct ds_hosttab hosts;
    struct ds_summary *sum; /* darknet packets only; skipped frames are the reader's */
    uint64_t oom_drops;     /* packets whose host or port could not be recorded */
    struct ds_geo_cache geo;
    bool have_geo;
    struct ds_window w[DS_GRAN_COUNT];
    struct ds_daysk dsk;
    bool open;                    /* the windows hold an interval */
    const struct ds_host **flush; /* profiles waiting to go to the collector */
    size_t n_flush, cap_flush;
    /* packets of hosts whose segment ended early today (saturated counters, forced
     * eviction), so the day's top list counts their whole day */
    struct ds_host_top *dayx;
    size_t dayx_mask, dayx_count;
    uint64_t evicted, evicted_active; /* evictions; of them, hosts seen the same day */
    uint64_t segments;                /* profile segments flushed */
    int failed;                       /* the collector's error, sticky */
    struct ds_matcher matcher;
    bool alerting;
    /* backscatter and amplification probes of the current batch, for the collector's
     * incident detection */
    struct ds_dos_rec dosbuf[32]; /* DS_SHARD_BATCH */
    struct ds_campaign_rec campbuf[32];
    size_t n_dos, n_camp;
    uint64_t dos_tick_ns;   /* report the packet time at least every 10 s */
    uint64_t group_tick_ns; /* publish the active hosts next at this packet time */
    /* what this shard last published into cfg->metrics */
    uint64_t pub_darknet, pub_bytes, pub_classes[DS_CLASS_COUNT], pub_fps[DS_FP_COUNT];
    uint64_t pub_hosts, pub_matched;
};

int ds_shard_init(struct ds_shard *s, int id, const struct ds_shard_config *cfg,
                  struct ds_collect *collect, struct ds_err *err);
void ds_shard_free(struct ds_shard *s);

/* Largest batch ds_shard_ingest_batch takes. */
#define DS_SHARD_BATCH 32

/*
 * Counts n <= DS_SHARD_BATCH darknet packets (decoded and classified), in order;
 * h[i] = ds_hosttab_hash(&p[i].src), and the caller has ideally prefetched each index slot
 * (ds_hosttab_prefetch) a while before. Looks up every host first and prefetches its
 * profile, then counts, so the cache misses of a batch overlap. Adds stateful fingerprint
 * bits to p[i].fps.
 */
void ds_shard_ingest_batch(struct ds_shard *s, struct ds_pkt *p, const uint64_t *h, int n);

/* One packet (tests, and callers without batches). */
static inline void ds_shard_ingest(struct ds_shard *s, struct ds_pkt *p, uint64_t h)
{
    ds_shard_ingest_batch(s, p, &h, 1);
}

/* End of input: closes every open interval and flushes every profile to the collector.
 * 0 or the collector's error. */
int ds_shard_finish(struct ds_shard *s);

/* No packet for a while (live capture): time-based work as of now_ns (alert changes due for
 * reporting are reported). Called by the shard's own thread. */
void ds_shard_idle(struct ds_shard *s, uint64_t now_ns);

#endif
