/* window.h - the statistics of one time interval (5 minutes, 1 hour or 1 day): packets,
 * bytes and unique sources per dimension (protocol, port, ICMP type, country, ASN, class,
 * fingerprint), each also for research-scanner sources alone. */
#ifndef DS_WINDOW_H
#define DS_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/host.h"

enum ds_gran { DS_GRAN_5M = 0, DS_GRAN_1H, DS_GRAN_1D, DS_GRAN_COUNT };
extern const char *const ds_gran_names[DS_GRAN_COUNT]; /* "5m", "1h", "1d" */
extern const uint32_t ds_gran_seconds[DS_GRAN_COUNT];  /* 300, 3600, 86400 */
extern const uint32_t ds_gran_per_5m[DS_GRAN_COUNT];   /* 1, 12, 288 */

/* Dimensions; the key's meaning depends on it (docs/store.md). */
enum ds_dim {
    DS_DIM_TOTAL = 0, /* key 0 */
    DS_DIM_PROTO,     /* enum ds_proto_idx */
    DS_DIM_TCP,       /* destination port */
    DS_DIM_UDP,       /* destination port */
    DS_DIM_ICMP,      /* ICMP type */
    DS_DIM_ICMP6,     /* ICMPv6 type */
    DS_DIM_COUNTRY,   /* ds_country_index() */
    DS_DIM_ASN,       /* AS number, 0 unknown */
    DS_DIM_CLASS,     /* enum ds_class_id */
    DS_DIM_FP,        /* enum ds_fp_id */
    DS_DIM_COUNT
};
extern const char *const ds_dim_names[DS_DIM_COUNT];

/* One row. r_* count research-scanner sources only (so "excluding research" is the
 * difference: a source is research or not for the whole run). */
struct ds_srow {
    uint64_t packets, bytes, sources;
    uint64_t r_packets, r_bytes, r_sources;
};

/* Per-port rows are kept compact (2 x 65,536 of them): no bytes, 32-bit counters (4.29e9
 * packets per port per interval per shard). */
struct ds_prow {
    uint32_t packets, r_packets, sources, r_sources;
};

struct ds_asn_row {
    uint32_t asn; /* 0 marks an empty slot; AS 0 ("unknown") lives in asn0 */
    struct ds_srow row;
};

/* Owned by one shard thread (or the collector that merges shards); not thread-safe. */
struct ds_window {
    enum ds_gran gran;
    uint32_t idx;       /* interval number: start = idx * ds_gran_seconds[gran] */
    uint64_t monitored; /* monitored IPv4 addresses during the interval (set by the engine) */
    struct ds_srow total, proto[DS_PROTO_COUNT], icmp[2][256], cls[DS_CLASS_COUNT], fp[DS_FP_COUNT],
        country[DS_COUNTRY_SLOTS], asn0;
    struct ds_prow (*port)[65536]; /* [0] tcp, [1] udp */
    uint32_t *touched;             /* port keys (udp << 16 | port) with a row in use */
    size_t n_touched, cap_touched;
    struct ds_asn_row *asn;
    size_t asn_mask, asn_count;
};

int ds_window_init(struct ds_window *w, enum ds_gran gran);
void ds_window_free(struct ds_window *w);
/* Empties the window and makes it interval idx. */
void ds_window_reset(struct ds_window *w, uint32_t idx);
/* True when nothing was counted. */
bool ds_window_empty(const struct ds_window *w);

/* The per-port row (marks it in use). -ENOMEM only when the touched list cannot grow: then
 * NULL. */
static inline struct ds_prow *ds_window_port(struct ds_window *w, int udp, uint16_t port);
struct ds_prow *ds_window_port_slow(struct ds_window *w, int udp, uint16_t port);
static inline struct ds_prow *ds_window_port(struct ds_window *w, int udp, uint16_t port)
{
    struct ds_prow *r = &w->port[udp][port];
    if (r->packets | r->sources)
        return r;
    return ds_window_port_slow(w, udp, port);
}

/* The ASN row (inserted when new), or NULL when memory runs out. */
struct ds_srow *ds_window_asn(struct ds_window *w, uint32_t asn);

/* dst += src. traffic_only: add packets and bytes but not sources (rolling 5-minute traffic
 * up into the hour and day, whose unique sources are counted on their own). */
int ds_window_add(struct ds_window *dst, const struct ds_window *src, bool traffic_only);

/* Calls fn for every row in use, dimension by dimension (ports in touched order). fn returns
 * 0 to go on, anything else stops and is returned. */
typedef int (*ds_window_row_fn)(void *ctx, enum ds_dim dim, uint32_t key, const struct ds_srow *r);
int ds_window_foreach(const struct ds_window *w, ds_window_row_fn fn, void *ctx);

#endif
