/* campaign.h - reflector hunting (DRDoS preparation): probes carrying an amplifier's
 * amplifying request, grouped into campaigns per (amplifier protocol, source block). */
#ifndef DS_CAMPAIGN_H
#define DS_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/hll.h"
#include "core/addr.h"
#include "core/err.h"
#include "decode/pkt.h"

struct ds_campaign_config {
    uint64_t expiry_s;     /* a campaign ends after this long without a probe (3600) */
    uint64_t monitored_v4; /* monitored IPv4 addresses, for the coverage share */
    uint64_t monitored_v6; /* monitored IPv6 /64s are not counted: coverage is IPv4 only */
};

#define DS_CAMPAIGN_DEFAULT_EXPIRY 3600
#define DS_CAMPAIGN_TOP_SOURCES 8

/* One amplification probe as the tracker needs it (the shards copy these out). */
struct ds_campaign_rec {
    uint64_t ts_ns;
    struct ds_addr src, dst;
    uint32_t wirelen;
    uint16_t port;   /* UDP destination port (the amplifier's) */
    uint8_t payload; /* enum ds_payload_class of the request */
    bool research;   /* the source is a known research scanner */
};

/* Fills r from a packet with the amp_probe class; research from its source's profile. */
void ds_campaign_rec_from(struct ds_campaign_rec *r, const struct ds_pkt *p, bool research);

struct ds_campaign_source {
    struct ds_addr addr;
    uint64_t packets;
};

/* One ended campaign. */
struct ds_campaign {
    const char *protocol; /* "dns", "ntp", ... (static) */
    const char *request;  /* the payload class: "dns_any", "ntp_monlist", ... (static) */
    uint16_t port;
    struct ds_prefix block; /* the sources' /24 (IPv4) or /48 (IPv6) */
    uint64_t first_ns, last_ns;
    uint64_t packets, bytes;
    uint64_t sources; /* distinct sources (exact up to 512, then estimated) */
    struct ds_campaign_source top[DS_CAMPAIGN_TOP_SOURCES]; /* busiest first */
    size_t n_top;
    uint64_t darknet_addrs;    /* distinct darknet addresses probed (likewise) */
    double coverage;           /* darknet_addrs / monitored IPv4 addresses (0 for IPv6) */
    uint64_t research_packets; /* of them, from known research scanners */
};

typedef int (*ds_campaign_emit_fn)(void *ctx, const struct ds_campaign *c, struct ds_err *err);

struct ds_campaign_state; /* campaign.c */

/* Not thread-safe: one owner at a time (the collector, under its lock). Records may come
 * in any order; a campaign ends when ds_campaign_advance passes its last probe by the
 * expiry, or at ds_campaign_finish. */
struct ds_campaigns {
    struct ds_campaign_config cfg;
    ds_campaign_emit_fn emit;
    void *ctx;
    struct ds_campaign_state **tab;
    size_t mask, count;
    uint64_t now_ns, next_sweep_ns;
    uint64_t records, campaigns;
    int failed;
};

int ds_campaigns_init(struct ds_campaigns *t, const struct ds_campaign_config *cfg,
                      ds_campaign_emit_fn emit, void *ctx);
void ds_campaigns_free(struct ds_campaigns *t);
int ds_campaigns_add(struct ds_campaigns *t, const struct ds_campaign_rec *r, size_t n,
                     struct ds_err *err);
int ds_campaigns_advance(struct ds_campaigns *t, uint64_t now_ns, struct ds_err *err);
int ds_campaigns_finish(struct ds_campaigns *t, struct ds_err *err);

#endif
