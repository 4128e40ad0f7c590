/* summary.c - the exact counters of one analysis run (or one shard's part of it). */
#include "analyze/summary.h"

const char *const ds_skip_names[DS_SKIP_COUNT] = {
    [DS_SKIP_NOT_DARKNET] = "not_darknet", [DS_SKIP_TRUNCATED] = "truncated",
    [DS_SKIP_MALFORMED] = "malformed",     [DS_SKIP_UNSUPPORTED_LINK] = "unsupported_link",
    [DS_SKIP_NON_IP] = "non_ip",
};

int ds_summary_count_link(struct ds_summary *s, uint32_t linktype)
{
    s->skipped[DS_SKIP_UNSUPPORTED_LINK]++;
    for (int i = 0; i < DS_LINK_SLOTS; i++) {
        if (s->unsupported_links[i].packets && s->unsupported_links[i].linktype == linktype) {
            s->unsupported_links[i].packets++;
            return 0;
        }
        if (!s->unsupported_links[i].packets) {
            s->unsupported_links[i].linktype = linktype;
            s->unsupported_links[i].packets = 1;
            return 1;
        }
    }
    s->unsupported_links_other++;
    return 0;
}

void ds_summary_merge(struct ds_summary *dst, const struct ds_summary *src)
{
    dst->packets += src->packets;
    dst->darknet_packets += src->darknet_packets;
    dst->darknet_bytes += src->darknet_bytes;
    for (int i = 0; i < DS_SKIP_COUNT; i++)
        dst->skipped[i] += src->skipped[i];
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        dst->classes[i] += src->classes[i];
    for (int i = 0; i < DS_FP_COUNT; i++)
        dst->fps[i] += src->fps[i];
    dst->sources += src->sources;
    dst->ipv6_packets += src->ipv6_packets;
    if (src->first_ts_ns && (!dst->first_ts_ns || src->first_ts_ns < dst->first_ts_ns))
        dst->first_ts_ns = src->first_ts_ns;
    if (src->last_ts_ns > dst->last_ts_ns)
        dst->last_ts_ns = src->last_ts_ns;
    for (int i = 0; i < DS_LINK_SLOTS && src->unsupported_links[i].packets; i++) {
        int j;
        for (j = 0; j < DS_LINK_SLOTS && dst->unsupported_links[j].packets; j++)
            if (dst->unsupported_links[j].linktype == src->unsupported_links[i].linktype)
                break;
        if (j == DS_LINK_SLOTS) {
            dst->unsupported_links_other += src->unsupported_links[i].packets;
            continue;
        }
        dst->unsupported_links[j].linktype = src->unsupported_links[i].linktype;
        dst->unsupported_links[j].packets += src->unsupported_links[i].packets;
    }
    dst->unsupported_links_other += src->unsupported_links_other;
    for (int p = 0; p < 2; p++)
        for (int port = 0; port < 65536; port++) {
            dst->ports[p][port].packets += src->ports[p][port].packets;
            dst->ports[p][port].sources += src->ports[p][port].sources;
        }
}
