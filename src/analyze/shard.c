/* shard.c - one analysis shard: the hosts whose address hashes to it, and its counters. */
#include "analyze/shard.h"

#include <stdlib.h>
#include <string.h>

int ds_shard_init(struct ds_shard *s, size_t expected_hosts)
{
    memset(s, 0, sizeof *s);
    s->sum = calloc(1, sizeof *s->sum);
    if (!s->sum)
        return -ENOMEM;
    if (ds_hosttab_init(&s->hosts, expected_hosts) < 0) {
        free(s->sum);
        s->sum = NULL;
        return -ENOMEM;
    }
    return 0;
}

void ds_shard_free(struct ds_shard *s)
{
    ds_hosttab_free(&s->hosts);
    free(s->sum);
    s->sum = NULL;
}

void ds_shard_ingest(struct ds_shard *s, struct ds_pkt *p, uint64_t h)
{
    struct ds_summary *sum = s->sum;
    sum->darknet_packets++;
    sum->darknet_bytes += p->wirelen;
    if (!sum->first_ts_ns || p->ts_ns < sum->first_ts_ns)
        sum->first_ts_ns = p->ts_ns;
    if (p->ts_ns > sum->last_ts_ns)
        sum->last_ts_ns = p->ts_ns;
    if (p->ipver == 6)
        sum->ipv6_packets++;

    bool created;
    struct ds_host *host = ds_hosttab_get(&s->hosts, &p->src, h, &created);
    if (!host) {
        s->oom_drops++;
        return;
    }
    if (created)
        sum->sources++;

    if (p->classes & DS_CLASS_BIT(DS_CLASS_TCP_SYN)) {
        for (int i = 0; i < DS_FP_COUNT; i++) {
            const struct ds_fingerprint *fp = ds_fingerprints[i];
            if (!fp->match_state)
                continue;
            bool now;
            sum->fps[i] += fp->match_state(p, &host->fp, &now);
            if (now)
                p->fps |= DS_FP_BIT(i);
        }
    }
    for (uint32_t c = p->classes; c; c &= c - 1)
        sum->classes[__builtin_ctz(c)]++;
    for (uint32_t f = p->fps & ~DS_FP_BIT(DS_FP_UNICORNSCAN); f; f &= f - 1)
        sum->fps[__builtin_ctz(f)]++;

    if ((p->flags & DS_PKT_L4) && (p->proto == 6 || p->proto == 17)) {
        int udp = p->proto == 17;
        struct ds_port_count *pc = &sum->ports[udp][p->dport];
        pc->packets++;
        int rc = ds_hosttab_add_port(&s->hosts, host, ds_port_key(udp, p->dport));
        if (rc > 0)
            pc->sources++;
        else if (rc < 0)
            s->oom_drops++;
    }
}
