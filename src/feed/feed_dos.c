/* feed_dos.c - the DoS-victim feed for operators: the RS-DoS attacks inferred from
 * backscatter (docs/incidents.md), selected by the victim's ASN or prefix. */
#include <errno.h>
#include <string.h>

#include "core/addr.h"
#include "feed/feed_int.h"

/* ds_query_dos's keep(): the query's prefixes, ASNs (by the attack's recorded ASN) and
 * scoping. The ASN is not known to keep(), so it is checked after; see dos_read. */
struct dos_ctx {
    const struct ds_feed_query *q;
};

static bool dos_keep(void *ctx, const struct ds_addr *victim)
{
    const struct ds_feed_query *q = ((struct dos_ctx *)ctx)->q;
    /* the ASN test needs the row: let rows through that only an ASN could select */
    return ds_feed_addr_selected(q, victim, q->n_asns > 0);
}

static int dos_read(struct ds_store *s, const struct ds_feed_query *q, json_t **rows,
                    struct ds_err *err)
{
    struct dos_ctx ctx = {.q = q};
    struct ds_dos_query dq = {.period = q->period, .keep = dos_keep, .keep_ctx = &ctx};
    json_t *all;
    int rc = ds_query_dos(s, &dq, &all, err);
    if (rc < 0)
        return rc;
    json_t *list = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(all, i, a)
    {
        struct ds_addr v;
        if (ds_addr_parse(&v, json_string_value(json_object_get(a, "victim")), NULL) < 0)
            continue;
        bool asn_hit = false;
        json_int_t asn = json_integer_value(json_object_get(a, "asn"));
        for (size_t k = 0; k < q->n_asns; k++)
            asn_hit = asn_hit || (asn && q->asns[k] == asn);
        if (!ds_feed_addr_selected(q, &v, asn_hit))
            continue;
        json_object_set_new(a, "identifier", json_string("rsdos-backscatter"));
        json_array_append(list, a);
        if (q->limit && json_array_size(list) >= q->limit)
            break;
    }
    json_decref(all);
    *rows = list;
    return 0;
}

static const struct ds_feed_field csv_fields[] = {
    {.name = "timestamp", .key = "start", .conv = DS_CONV_SSTIME},
    {.name = "end_time", .key = "end", .conv = DS_CONV_SSTIME},
    {.name = "ip", .key = "victim"},
    {.name = "asn", .key = "asn"},
    {.name = "geo", .key = "country"},
    {.name = "protocol", .key = "protocol"},
    {.name = "port", .key = "top_victim_ports", .conv = DS_CONV_FIRST},
    {.name = "count", .key = "packets"},
    {.name = "tag", .key = "identifier"},
    {.name = "duration", .key = "duration_s"},
    {.name = "peak_ppm", .key = "peak_ppm"},
    {.name = "estimated_rate_pps", .key = "estimated_rate_pps"},
    {.name = "bytes", .key = "bytes"},
    {.name = "victim_ports", .key = "victim_ports"},
    {.name = "top_victim_ports", .key = "top_victim_ports", .conv = DS_CONV_PORTS},
    {.name = "darknet_addresses", .key = "darknet_addresses"},
    {.name = "attacker_ports", .key = "attacker_ports"},
    {.name = "attack_id", .key = "id"},
    {.name = NULL},
};

static const struct ds_feed_field intelmq_fields[] = {
    {.name = "feed.name", .key = "darkscope-dos-victims", .conv = DS_CONV_CONST},
    {.name = "feed.provider", .conv = DS_CONV_PRODUCER},
    {.name = "time.source", .key = "start", .conv = DS_CONV_ISOTIME},
    {.name = "time.observation", .conv = DS_CONV_GENERATED},
    {.name = "destination.ip", .key = "victim"},
    {.name = "destination.asn", .key = "asn"},
    {.name = "destination.geolocation.cc", .key = "country"},
    {.name = "destination.port", .key = "top_victim_ports", .conv = DS_CONV_FIRST},
    {.name = "protocol.transport", .key = "protocol"},
    {.name = "classification.taxonomy", .key = "availability", .conv = DS_CONV_CONST},
    {.name = "classification.type", .key = "ddos", .conv = DS_CONV_CONST},
    {.name = "classification.identifier", .key = "identifier"},
    {.name = "extra.end", .key = "end", .conv = DS_CONV_ISOTIME},
    {.name = "extra.duration_s", .key = "duration_s"},
    {.name = "extra.packets", .key = "packets"},
    {.name = "extra.bytes", .key = "bytes"},
    {.name = "extra.peak_ppm", .key = "peak_ppm"},
    {.name = "extra.estimated_rate_pps", .key = "estimated_rate_pps"},
    {.name = "extra.victim_ports", .key = "victim_ports"},
    {.name = "extra.top_victim_ports", .key = "top_victim_ports", .conv = DS_CONV_PORTS},
    {.name = "extra.darknet_addresses", .key = "darknet_addresses"},
    {.name = "extra.attacker_ports", .key = "attacker_ports"},
    {.name = "extra.attack_id", .key = "id"},
    {.name = NULL},
};

const struct ds_feed_kind ds_feed_dos = {
    .name = "dos",
    .summary = "DoS victims (RS-DoS from backscatter), per ASN or prefix, for operators",
    .by_address = true,
    .read = dos_read,
    .csv = csv_fields,
    .intelmq = intelmq_fields,
};
