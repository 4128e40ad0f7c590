/* shard.c - one analysis shard: the hosts whose address hashes to it, and its counters. */
#include "analyze/shard.h"

#include <stdlib.h>
#include <string.h>

int ds_shard_init(struct ds_shard *s)
{
    memset(s, 0, sizeof *s);
    s->sum = calloc(1, sizeof *s->sum);
    if (!s->sum)
        return -ENOMEM;
    if (ds_hosttab_init(&s->hosts) < 0) {
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

/* Everything one packet adds, once its host entry is known (NULL: no memory for it; the
 * packet is counted, its host, ports and stateful fingerprints are not). */
static void count(struct ds_shard *s, struct ds_pkt *p, struct ds_host *host, bool created,
                  uint64_t pkey)
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
    for (uint32_t c = p->classes; c; c &= c - 1)
        sum->classes[__builtin_ctz(c)]++;
    /* stateless bits (set by classify) count one each; stateful ones count themselves */
    for (uint32_t f = p->fps; f; f &= f - 1)
        sum->fps[__builtin_ctz(f)]++;
    if (!host) {
        s->oom_drops++;
        return;
    }
    if (created)
        sum->sources++;
    if (p->classes & DS_CLASS_BIT(DS_CLASS_TCP_SYN))
        p->fps |= ds_fp_match_syn_state(p, &host->fp, sum->fps);

    if ((p->flags & DS_PKT_L4) && (p->proto == 6 || p->proto == 17)) {
        int udp = p->proto == 17;
        struct ds_port_count *pc = &sum->ports[udp][p->dport];
        pc->packets++;
        int rc = ds_hosttab_add_port(&s->hosts, host, pkey, ds_port_key(udp, p->dport));
        if (rc > 0)
            pc->sources++;
        else if (rc < 0)
            s->oom_drops++;
    }
}

void ds_shard_ingest_batch(struct ds_shard *s, struct ds_pkt *p, const uint64_t *h, int n)
{
    struct ds_host *host[DS_SHARD_BATCH];
    bool created[DS_SHARD_BATCH];
    uint64_t pkey[DS_SHARD_BATCH];
    uint64_t moves = s->hosts.moves;
    for (int i = 0; i < n; i++) {
        host[i] = ds_hosttab_get(&s->hosts, &p[i].src, h[i], &created[i], &pkey[i]);
        if ((p[i].flags & DS_PKT_L4) && (p[i].proto == 6 || p[i].proto == 17)) {
            __builtin_prefetch(&s->sum->ports[p[i].proto == 17][p[i].dport], 1, 3);
            if (host[i])
                ds_hosttab_prefetch_port(&s->hosts, host[i], pkey[i],
                                         ds_port_key(p[i].proto == 17, p[i].dport));
        }
    }
    /* an insert that moved entries (a segment split) made the earlier pointers stale: look
     * those hosts up again (they exist now, so nothing moves any more) */
    bool stale = s->hosts.moves != moves;
    for (int i = 0; i < n; i++) {
        if (stale && host[i]) {
            bool again;
            host[i] = ds_hosttab_get(&s->hosts, &p[i].src, h[i], &again, &pkey[i]);
        }
        count(s, &p[i], host[i], created[i], pkey[i]);
    }
}
