/* summary.h - the exact counters of one analysis run (or one shard's part of it). */
#ifndef DS_SUMMARY_H
#define DS_SUMMARY_H

#include <stdint.h>

#include "classify/classify.h"
#include "classify/fingerprint.h"

/* Why a frame was not analysed. packets = darknet_packets + sum(skipped). */
enum ds_skip {
    DS_SKIP_NOT_DARKNET = 0,
    DS_SKIP_TRUNCATED,
    DS_SKIP_MALFORMED,
    DS_SKIP_UNSUPPORTED_LINK,
    DS_SKIP_NON_IP,
    DS_SKIP_COUNT
};
extern const char *const ds_skip_names[DS_SKIP_COUNT];

#define DS_LINK_SLOTS 16 /* distinct unsupported link types counted one by one */

struct ds_port_count {
    uint64_t packets;
    uint64_t sources;
};

/*
 * Owned by one thread while counting (a shard or the reader), merged by the coordinating
 * thread after the workers have stopped. Large (2 MiB of port counters): allocate it.
 */
struct ds_summary {
    uint64_t packets;         /* every frame read */
    uint64_t darknet_packets; /* analysed */
    uint64_t darknet_bytes;   /* wire bytes of analysed frames */
    uint64_t skipped[DS_SKIP_COUNT];
    uint64_t classes[DS_CLASS_COUNT];
    uint64_t fps[DS_FP_COUNT];
    uint64_t sources; /* distinct source addresses of darknet packets */
    uint64_t ipv6_packets;
    uint64_t first_ts_ns, last_ts_ns; /* of darknet packets; 0 when none */
    struct {
        uint32_t linktype;
        uint64_t packets;
    } unsupported_links[DS_LINK_SLOTS];
    uint64_t unsupported_links_other;     /* beyond DS_LINK_SLOTS distinct types */
    struct ds_port_count ports[2][65536]; /* [0] tcp, [1] udp, by destination port */
};

/* Adds src into dst (counts of disjoint shards add up exactly). */
void ds_summary_merge(struct ds_summary *dst, const struct ds_summary *src);

/* Counts one frame of an unsupported link type; returns true the first time the type is seen
 * (so the caller can log one message per type). */
int ds_summary_count_link(struct ds_summary *s, uint32_t linktype);

#endif
