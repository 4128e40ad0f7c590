/* truth.h - the ground truth of a generated capture: the analyzer's contract counters,
 * per-source records, DoS attacks and reflector-hunting campaigns, written as JSON. */
#ifndef DS_TRUTH_H
#define DS_TRUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "gen/pairset.h"
#include "gen/srctab.h"

/* Why a frame is not a darknet packet (the analyzer's "skipped" keys, in its order). */
enum ds_truth_skip {
    DS_TSKIP_NOT_DARKNET = 0,
    DS_TSKIP_TRUNCATED,
    DS_TSKIP_MALFORMED,
    DS_TSKIP_UNSUPPORTED_LINK,
    DS_TSKIP_NON_IP,
    DS_TSKIP_COUNT
};

/* Peak packets per minute over 60 s windows that slide by 10 s (windows start at multiples
 * of 10 s of packet time), as DOMAIN.md's RS-DoS rule counts them. */
struct ds_peak {
    uint64_t bucket; /* 10-s bucket of the last packet */
    uint32_t win[6]; /* counts of the last six buckets, ring-indexed by bucket % 6 */
    uint32_t peak;
    bool any;
};
void ds_peak_add(struct ds_peak *p, uint64_t t_ns);

/* One vector as an RS-DoS tracker sees it: packets of one attack until a 300 s gap. */
struct ds_truth_vector {
    uint64_t first_ns, last_ns, packets;
    struct ds_peak peak;
};

#define DS_TRUTH_QUIET_NS (300ull * 1000000000ull) /* legacy Corsaro's vector expiry */

/* One DoS attack whose backscatter reaches the darknet. */
struct ds_truth_attack {
    struct ds_addr victim;
    const char *type;     /* "tcp-synack", "tcp-rst", "icmp-port-unreach", ... */
    const char *protocol; /* "tcp" or "icmp": the analyzer groups by (victim, protocol) */
    uint16_t port;        /* victim's service port (0 for ICMP echo floods) */
    uint32_t router;      /* srctab id of a router that answers for the victim, or UINT32_MAX */
    uint64_t start_ns, end_ns; /* when the attack runs (may start before the capture) */
    double rate_pps;           /* replies per second the victim sends to all spoofed sources */
    uint64_t packets, first_ns, last_ns; /* observed in the darknet */
    struct ds_peak peak;
    struct ds_truth_vector *vec;
    size_t nvec, capvec;
};

#define DS_TRUTH_CAMPAIGN_MAX_SRC 8

/* One reflector-hunting campaign: sources probing one protocol with its amplifying request. */
struct ds_truth_campaign {
    const char *probe;    /* payload name, e.g. "ntp-monlist" */
    const char *protocol; /* "ntp" */
    uint16_t port;
    bool research;
    uint32_t src[DS_TRUTH_CAMPAIGN_MAX_SRC]; /* srctab ids (UINT32_MAX until allocated) */
    unsigned nsrc;
    uint64_t start_ns, end_ns;
    double rate_pps; /* per source, to the whole IPv4 space */
    uint64_t packets, first_ns, last_ns;
};

/* Per population. */
struct ds_truth_pop {
    uint64_t actors, silent; /* spawned; spawned but never sent a packet */
    uint64_t packets, darknet_packets, sources;
};

struct ds_truth {
    uint64_t packets, darknet_packets, ipv6_packets, sources;
    uint64_t skipped[DS_TSKIP_COUNT];
    uint64_t classes[DS_CLASS_COUNT];
    uint64_t fps[DS_FP_COUNT];
    uint64_t (*port_packets)[65536]; /* [0] tcp, [1] udp */
    uint64_t (*port_sources)[65536];
    struct ds_pairset pairs;
    struct ds_truth_attack *attacks;
    size_t nattacks, capattacks;
    struct ds_truth_campaign *campaigns;
    size_t ncampaigns, capcampaigns;
    struct ds_truth_pop *pops; /* indexed by registry index */
    size_t npops;
};

int ds_truth_init(struct ds_truth *t, size_t npops);
void ds_truth_free(struct ds_truth *t);

/* Appends a zeroed record; returns its index or -ENOMEM. */
int ds_truth_add_attack(struct ds_truth *t);
int ds_truth_add_campaign(struct ds_truth *t);

/* Counts one darknet packet of an attack at written time t. */
int ds_truth_attack_packet(struct ds_truth_attack *a, uint64_t t);

/* RS-DoS thresholds of DOMAIN.md: >= 25 packets, >= 60 s, peak >= 30 per minute. */
bool ds_truth_rsdos(uint64_t packets, uint64_t first_ns, uint64_t last_ns, uint32_t peak);

/* What the JSON lists per source. */
enum ds_truth_hosts {
    DS_TRUTH_HOSTS_AUTO = 0,
    DS_TRUTH_HOSTS_NONE,
    DS_TRUTH_HOSTS_SUMMARY,
    DS_TRUTH_HOSTS_ALL
};

/* Everything the writer needs besides the counters. */
struct ds_truth_meta {
    uint64_t seed;
    const char *profile;
    uint64_t start_ns, end_ns;
    uint64_t monitored_v4;
    const char *const *darknet; /* prefixes as text */
    size_t ndarknet;
    const char *format, *link;
    bool nanosec;
    unsigned top; /* ports listed */
    enum ds_truth_hosts hosts;
    const char *const *pop_names;   /* indexed like t->pops */
    const char *const *org_names;   /* research organisations, index = org - 1 */
    uint64_t seconds_resolution_ns; /* 1000 for microsecond files, 1 for nanosecond */
};

/*
 * Writes the truth JSON. Consumes t->pairs (sorted in place for the per-host port lists),
 * so it is the last use of t. Returns 0 or a negative code with err set.
 */
int ds_truth_write(struct ds_truth *t, const struct ds_srctab *srcs, const struct ds_truth_meta *m,
                   FILE *f, struct ds_err *err);

#endif
