/* feed_misp.c - feeds as one MISP event (MISP's JSON event format): the feed's tags (TLP,
 * the RSIT classification) and one attribute per row: ip-src for an infected host (to_ids),
 * ip-dst for a DoS victim, with a comment, first_seen and last_seen. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "core/timefmt.h"
#include "feed/feed_int.h"

/* ISO "...Z" -> MISP's "2024-01-01T00:00:00.123456+00:00" */
static json_t *misp_time(json_t *iso)
{
    struct ds_feed_field fl = {.name = "t", .key = "t", .conv = DS_CONV_ISOTIME};
    json_t *row = json_pack("{s:O}", "t", iso ? iso : json_null());
    json_t *v = ds_feed_field_value(NULL, &fl, row, false);
    json_decref(row);
    return v ? v : json_null();
}

static json_t *tag(const char *name)
{
    return json_pack("{s:s}", "name", name);
}

static int attribute(json_t *list, const struct ds_feed *feed, json_t *r, bool infected,
                     struct ds_err *err)
{
    const char *addr = json_string_value(json_object_get(r, infected ? "address" : "victim"));
    const char *first_k = infected ? "first_seen" : "start";
    const char *last_k = infected ? "last_seen" : "end";
    if (!addr)
        return 0;
    char comment[512], name[256], uuid[40];
    json_t *asn = json_object_get(r, "asn"), *cc = json_object_get(r, "country");
    char where[64] = "";
    if (json_is_integer(asn))
        snprintf(where, sizeof where, "; AS%" JSON_INTEGER_FORMAT, json_integer_value(asn));
    if (json_is_string(cc))
        snprintf(where + strlen(where), sizeof where - strlen(where), " %s", json_string_value(cc));
    if (infected) {
        json_t *ports = json_object_get(r, "dst_ports");
        snprintf(comment, sizeof comment,
                 "infected (%s): %" JSON_INTEGER_FORMAT
                 " packets to the darknet, first ports %s%s%s",
                 json_string_value(json_object_get(r, "identifier")),
                 json_integer_value(json_object_get(r, "packets")),
                 json_string_value(json_array_get(ports, 0))
                     ? json_string_value(json_array_get(ports, 0))
                     : "-",
                 json_array_size(ports) > 1 ? " ..." : "", where);
    } else {
        json_t *rate = json_object_get(r, "estimated_rate_pps");
        snprintf(comment, sizeof comment,
                 "DoS victim (%s backscatter): %" JSON_INTEGER_FORMAT
                 " packets, peak %" JSON_INTEGER_FORMAT "/min, estimated %.0f pps%s",
                 json_string_value(json_object_get(r, "protocol")),
                 json_integer_value(json_object_get(r, "packets")),
                 json_integer_value(json_object_get(r, "peak_ppm")),
                 json_is_number(rate) ? json_number_value(rate) : 0.0, where);
    }
    snprintf(name, sizeof name, "misp-attribute|%s|%s|%s|%s", feed->kind->name, addr,
             json_string_value(json_object_get(r, first_k)),
             json_string_value(json_object_get(r, last_k)));
    if (ds_feed_uuid5(DS_FEED_UUID_NS, name, uuid, err) < 0)
        return -EIO;
    char ts[32];
    snprintf(ts, sizeof ts, "%" PRId64, feed->generated);
    json_t *a = json_pack(
        "{s:s, s:s, s:s, s:b, s:s, s:s, s:o, s:o, s:s, s:b}", "uuid", uuid, "type",
        infected ? "ip-src" : "ip-dst", "category", "Network activity", "to_ids", infected, "value",
        addr, "comment", comment, "first_seen", misp_time(json_object_get(r, first_k)), "last_seen",
        misp_time(json_object_get(r, last_k)), "timestamp", ts, "disable_correlation", false);
    json_t *tags = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r, "tags"), i, t)
        json_array_append_new(tags, tag(json_string_value(t)));
    if (!infected)
        json_array_append_new(tags, tag("rsdos-backscatter"));
    json_object_set_new(a, "Tag", tags);
    json_array_append_new(list, a);
    return 0;
}

static int misp_write(FILE *f, const struct ds_feed *feed, struct ds_err *err)
{
    bool infected = feed->kind == &ds_feed_infected;
    if (!infected && feed->kind != &ds_feed_dos)
        return ds_err_set(err, -ENOTSUP,
                          "feed %s: a MISP event carries attributes about addresses, not "
                          "statistics (use csv or json)",
                          feed->kind->name);
    char gen[32], date[16], ts[32], info[256], uuid[40], org_uuid[40], name[256];
    ds_time_format(feed->generated, gen, sizeof gen);
    memcpy(date, gen, 10);
    date[10] = 0;
    snprintf(ts, sizeof ts, "%" PRId64, feed->generated);
    snprintf(info, sizeof info, "%s: %s feed, %s to %s (%zu %s)", feed->producer,
             infected ? "infected hosts" : "DoS victims",
             feed->period_from[0] ? feed->period_from : "the start",
             feed->period_to[0] ? feed->period_to : "now", json_array_size(feed->rows),
             infected ? "hosts" : "attacks");
    snprintf(name, sizeof name, "misp-event|%s|%s|%s|%s", feed->kind->name, gen, feed->period_from,
             feed->period_to);
    if (ds_feed_uuid5(DS_FEED_UUID_NS, name, uuid, err) < 0)
        return -EIO;
    snprintf(name, sizeof name, "misp-org|%s", feed->producer);
    if (ds_feed_uuid5(DS_FEED_UUID_NS, name, org_uuid, err) < 0)
        return -EIO;
    json_t *attrs = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(feed->rows, i, r)
    {
        if (attribute(attrs, feed, r, infected, err) < 0) {
            json_decref(attrs);
            return -EIO;
        }
    }
    json_t *tags = json_pack(
        "[{s:s}, {s:s}, {s:s}]", "name", "tlp:amber", "name",
        infected ? "rsit:malicious-code=\"infected-system\"" : "rsit:availability=\"ddos\"", "name",
        infected ? "darkscope:feed=\"infected\"" : "darkscope:feed=\"dos\"");
    json_t *ev = json_pack("{s:{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:o}}",
                           "Event", "uuid", uuid, "info", info, "date", date, "timestamp", ts,
                           "published", false, "analysis", "2", "threat_level_id",
                           infected ? "2" : "3", "distribution", "0", "Orgc", "name",
                           feed->producer, "uuid", org_uuid, "Tag", tags, "Attribute", attrs);
    int rc = 0;
    if (json_dumpf(ev, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER) < 0)
        rc = ds_err_set(err, -EIO, "feed %s: writing the MISP event failed", feed->kind->name);
    else
        fputc('\n', f);
    json_decref(ev);
    return rc;
}

const struct ds_feed_format ds_feed_misp = {
    .name = "misp",
    .content_type = "application/json",
    .write = misp_write,
};
