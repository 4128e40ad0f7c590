/* host.h - one source host's in-memory profile (128 bytes) and the bits that describe it. */
#ifndef DS_HOST_H
#define DS_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "core/addr.h"

/* Per-host class counters kept in memory: the first DS_HOST_CLASSES classes of
 * enum ds_class_id (nonroutable_src and fragment are kept as "seen" bits only). */
#define DS_HOST_CLASSES 6
#define DS_HOST_DST_EXACT 3       /* distinct destinations kept exactly up to this many */
#define DS_HOST_DST_REGS 30       /* then a HyperLogLog of this many 4-bit registers (~19 %) */
#define DS_HOST_NEVER 0xffffffffu /* stamp of a host that has no packet yet */

/* Protocol index of a packet (bits in ds_host.protos and in the seen masks). */
enum ds_proto_idx {
    DS_PROTO_TCP = 0,
    DS_PROTO_UDP,
    DS_PROTO_ICMP,
    DS_PROTO_ICMP6,
    DS_PROTO_OTHER,
    DS_PROTO_COUNT
};

/* Bits of the "seen in the current window" masks (ds_host.seen_*): which per-dimension
 * unique counts this host has already been counted in. */
enum {
    DS_SEEN_CLASS0 = 0,                              /* classes: bits 0..7 */
    DS_SEEN_FP0 = DS_CLASS_COUNT,                    /* fingerprints: bits 8..12 */
    DS_SEEN_PROTO0 = DS_SEEN_FP0 + DS_FP_COUNT,      /* protocols: bits 13..17 */
    DS_SEEN_PORT0 = DS_SEEN_PROTO0 + DS_PROTO_COUNT, /* the inline ports: bits 18, 19 */
};

/* ds_host.flags */
enum {
    DS_HF_RESEARCH = 1u << 0,  /* in a research-scanner range */
    DS_HF_PORT0 = 1u << 1,     /* ports[0] is set */
    DS_HF_PORT0_UDP = 1u << 2, /* ... and is a UDP port */
    DS_HF_PORT1 = 1u << 3,
    DS_HF_PORT1_UDP = 1u << 4,
    DS_HF_HSCAN = 1u << 5,      /* a horizontal scan window was seen (many destinations) */
    DS_HF_VSCAN = 1u << 6,      /* a vertical scan window was seen (many ports) */
    DS_HF_DST_SKETCH = 1u << 7, /* destinations are in the sketch, not exact */
    DS_HF_SYN_SEEN = 1u << 8,   /* layout/ttl0/win0 come from a SYN */
    DS_HF_NO_ORG = 1u << 9,     /* in no registered livenet (the shard's matcher memo) */
    DS_HF_KEYED = 1u << 10,     /* in a livenet, and the matcher has a key of it (memo) */
    DS_HF_FREE = 1u << 15,      /* an evicted arena slot (hosttab's free list) */
};

/*
 * The profile of one source, owned by exactly one shard (never shared between threads).
 * Counters are the current *segment*: they start at zero when the host is created or
 * flushed (at a day boundary, before a counter would saturate, on eviction, at the end), and
 * each flushed segment becomes one stored row; the store adds segments up. Lifetime state
 * (ports, fingerprint state, stamps, seen masks) survives a flush.
 */
struct ds_host {
    struct ds_addr addr;
    uint64_t first_ns, last_ns; /* of the segment */
    uint32_t packets;           /* segment counters */
    uint32_t bytes;
    uint32_t stamp; /* 5-minute interval index of the last packet (DS_HOST_NEVER) */
    uint32_t seen_i, seen_h, seen_d; /* DS_SEEN_* bits already counted this 5 min / hour / day */
    struct ds_fp_state fp;           /* stateful fingerprints (9 bytes) */
    uint8_t protos;                  /* segment: 1 << enum ds_proto_idx */
    uint16_t flags;                  /* DS_HF_* */
    uint16_t country;                /* ds_country_index(), 0 unknown */
    uint16_t nports;                 /* segment: distinct (proto, port) first seen in this run */
    uint32_t asn;                    /* 0 unknown */
    uint16_t ports[2];               /* the first two destination ports (protocols in flags) */
    uint8_t ttl0, ttl_changes;       /* first TTL; how often it changed (saturating) */
    uint8_t win_changes;             /* how often the TCP window changed (saturating) */
    uint8_t pclass;              /* payload class of the first UDP packet (enum ds_payload_class) */
    uint16_t win0;               /* first TCP window */
    uint16_t layout;             /* hash of the first SYN's TCP option layout (0: none) */
    uint8_t win_ports, win_dsts; /* distinct ports / destinations in the current 5 minutes */
    uint16_t cls[DS_HOST_CLASSES]; /* segment packets per class */
    uint16_t fps[DS_FP_COUNT];     /* segment packets per fingerprint */
    uint8_t ndst;                  /* exact destinations held (when not DS_HF_DST_SKETCH) */
    uint8_t dst[15];               /* DS_HOST_DST_EXACT uint32 (host order) or 30 4-bit registers */
};

_Static_assert(sizeof(struct ds_host) == 128, "struct ds_host is two cache lines");

/* Country code <-> small index: "JP" -> 1 + (J-A)*26 + (P-A); 0 = unknown. */
static inline uint16_t ds_country_index(const char cc[2])
{
    if (cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z')
        return 0;
    return (uint16_t)(1 + (cc[0] - 'A') * 26 + (cc[1] - 'A'));
}
#define DS_COUNTRY_SLOTS (1 + 26 * 26)
/* Writes the two letters (or "--") and a NUL into out[3]. */
void ds_country_code(uint16_t idx, char out[3]);

/* Distinct destinations so far (exact up to DS_HOST_DST_EXACT, estimated beyond). */
uint32_t ds_host_dsts(const struct ds_host *h);
/* Adds a destination; returns true when it is (or, in sketch mode, looks) new. */
bool ds_host_add_dst(struct ds_host *h, uint32_t dst_hash);

/* Zeroes the segment counters (a flush) and starts the next segment at no time yet. */
void ds_host_reset_segment(struct ds_host *h);

/* Scan type from the flags: "horizontal", "vertical", "both" or "none". */
const char *ds_host_scan_type(const struct ds_host *h);

/* The behaviour key (for grouping and correlation): protocols, port set, fingerprints,
 * initial-TTL bucket, option layout and payload class, as one printable string such as
 * "tcp|23,2323|mirai|ttl64|L0|-". Returns the length written (buf >= 96 bytes). */
int ds_host_behaviour_key(const struct ds_host *h, char *buf, size_t cap);

#endif
