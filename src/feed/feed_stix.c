/* feed_stix.c - feeds as STIX 2.1 bundles: the producer's identity; per row an IP address
 * and a network-traffic SCO (ids: UUIDv5 by the spec's ID-contributing properties), an
 * observed-data SDO, and a sighting; infected hosts get an indicator ([ipv4-addr:value =
 * '...']) that the sighting sights, DoS attacks one shared attack-pattern. SDO ids are
 * UUIDv5 of their content, so the same data exports to the same ids. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/timefmt.h"
#include "feed/feed_int.h"

#define MAX_OBSERVED 999999999 /* number_observed and count are at most this */

struct stix {
    const struct ds_feed *feed;
    json_t *objects;
    char created[40];  /* the generation time, milliseconds */
    char identity[64]; /* identity--... */
    struct ds_err *err;
    int rc;
};

/* "type--uuid5(ns, name)" into out (>= 80 bytes). */
static void make_id(struct stix *x, const char *type, const char *ns, const char *name, char *out)
{
    char u[40];
    if (ds_feed_uuid5(ns, name, u, x->err) < 0) {
        x->rc = -EIO;
        snprintf(u, sizeof u, "00000000-0000-5000-8000-000000000000");
    }
    snprintf(out, 80, "%s--%s", type, u);
}

/* An SCO's id from its ID-contributing properties (STIX 2.1 section 2.9): UUIDv5 in the
 * SCO namespace over their canonical JSON (sorted keys, no whitespace). */
static void sco_id(struct stix *x, const char *type, json_t *contrib, char *out)
{
    char *c = json_dumps(contrib, JSON_COMPACT | JSON_SORT_KEYS);
    make_id(x, type, DS_STIX_SCO_NS, c ? c : "", out);
    free(c);
}

/* A new SDO with the common properties; its id from name (darkscope's namespace). */
static json_t *sdo(struct stix *x, const char *type, const char *name, char *id)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s|%s", type, name);
    make_id(x, type, DS_FEED_UUID_NS, buf, id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "spec_version", "2.1", "id",
                          id, "created", x->created, "modified", x->created);
    if (strcmp(type, "identity"))
        json_object_set_new(o, "created_by_ref", json_string(x->identity));
    return o;
}

static json_t *ip_sco(struct stix *x, const char *addr, char *id)
{
    struct ds_addr a;
    bool v4 = ds_addr_parse(&a, addr, NULL) == 0 && ds_addr_is_v4(&a);
    const char *type = v4 ? "ipv4-addr" : "ipv6-addr";
    json_t *contrib = json_pack("{s:s}", "value", addr);
    sco_id(x, type, contrib, id);
    json_decref(contrib);
    return json_pack("{s:s, s:s, s:s, s:s}", "type", type, "spec_version", "2.1", "id", id, "value",
                     addr);
}

/* network-traffic from the address: protocols, its first port (dst_port for a scanner,
 * src_port for a DoS victim's replies), start and end. */
static json_t *traffic_sco(struct stix *x, const char *ip_id, const char *proto, json_int_t port,
                           bool port_is_src, const char *start, const char *end, char *id)
{
    json_t *c = json_pack("{s:s, s:[s], s:s, s:s}", "src_ref", ip_id, "protocols", proto, "start",
                          start, "end", end);
    if (port >= 0 && port <= 65535)
        json_object_set_new(c, port_is_src ? "src_port" : "dst_port", json_integer(port));
    sco_id(x, "network-traffic", c, id);
    json_t *o =
        json_pack("{s:s, s:s, s:s}", "type", "network-traffic", "spec_version", "2.1", "id", id);
    json_object_update(o, c);
    json_decref(c);
    return o;
}

static json_int_t clamp(json_int_t n)
{
    return n < 1 ? 1 : n > MAX_OBSERVED ? MAX_OBSERVED : n;
}

static void observed(struct stix *x, const char *key, const char *first, const char *last,
                     json_int_t n, const char *ip_id, const char *nt_id, char *od_id)
{
    json_t *od = sdo(x, "observed-data", key, od_id);
    json_object_set_new(od, "first_observed", json_string(first));
    json_object_set_new(od, "last_observed", json_string(last));
    json_object_set_new(od, "number_observed", json_integer(clamp(n)));
    json_object_set_new(od, "object_refs", json_pack("[s, s]", ip_id, nt_id));
    json_array_append_new(x->objects, od);
}

static void sighting(struct stix *x, const char *key, const char *of, const char *od_id,
                     const char *first, const char *last, json_int_t n)
{
    char id[80];
    json_t *s = sdo(x, "sighting", key, id);
    json_object_set_new(s, "first_seen", json_string(first));
    json_object_set_new(s, "last_seen", json_string(last));
    json_object_set_new(s, "count", json_integer(clamp(n)));
    json_object_set_new(s, "sighting_of_ref", json_string(of));
    json_object_set_new(s, "observed_data_refs", json_pack("[s]", od_id));
    json_object_set_new(s, "where_sighted_refs", json_pack("[s]", x->identity));
    json_array_append_new(x->objects, s);
}

static void infected_row(struct stix *x, json_t *r)
{
    const char *addr = json_string_value(json_object_get(r, "address"));
    const char *first = json_string_value(json_object_get(r, "first_seen"));
    const char *last = json_string_value(json_object_get(r, "last_seen"));
    json_int_t packets = json_integer_value(json_object_get(r, "packets"));
    if (!addr || !first || !last)
        return;
    char key[256], ip_id[80], nt_id[80], od_id[80], ind_id[80];
    snprintf(key, sizeof key, "infected|%s|%s|%s", addr, first, last);
    json_t *ip = ip_sco(x, addr, ip_id);
    bool v4 = !strcmp(json_string_value(json_object_get(ip, "type")), "ipv4-addr");
    json_array_append_new(x->objects, ip);
    /* the first recorded destination port, "tcp/23" */
    const char *p0 = json_string_value(json_array_get(json_object_get(r, "dst_ports"), 0));
    json_int_t port = p0 && !strncmp(p0, "tcp/", 4) ? atoi(p0 + 4) : -1;
    json_array_append_new(x->objects,
                          traffic_sco(x, ip_id, "tcp", port, false, first, last, nt_id));
    observed(x, key, first, last, packets, ip_id, nt_id, od_id);
    json_t *ind = sdo(x, "indicator", key, ind_id);
    char text[512], pattern[128];
    const char *ident = json_string_value(json_object_get(r, "identifier"));
    snprintf(text, sizeof text, "Infected host %s (%s)", addr, ident ? ident : "malware");
    json_object_set_new(ind, "name", json_string(text));
    snprintf(text, sizeof text,
             "Darknet sensor: %" JSON_INTEGER_FORMAT " packets from %s to %s; scan type %s",
             packets, first, last, json_string_value(json_object_get(r, "scan_type")));
    json_object_set_new(ind, "description", json_string(text));
    json_object_set_new(ind, "indicator_types", json_pack("[s]", "compromised"));
    snprintf(pattern, sizeof pattern, "[%s:value = '%s']", v4 ? "ipv4-addr" : "ipv6-addr", addr);
    json_object_set_new(ind, "pattern", json_string(pattern));
    json_object_set_new(ind, "pattern_type", json_string("stix"));
    json_object_set_new(ind, "pattern_version", json_string("2.1"));
    json_object_set_new(ind, "valid_from", json_string(first));
    json_t *tags = json_object_get(r, "tags");
    if (json_array_size(tags))
        json_object_set(ind, "labels", tags);
    json_array_append_new(x->objects, ind);
    sighting(x, key, ind_id, od_id, first, last, packets);
}

static void dos_row(struct stix *x, json_t *r, const char *ap_id)
{
    const char *victim = json_string_value(json_object_get(r, "victim"));
    const char *first = json_string_value(json_object_get(r, "start"));
    const char *last = json_string_value(json_object_get(r, "end"));
    const char *proto = json_string_value(json_object_get(r, "protocol"));
    json_int_t packets = json_integer_value(json_object_get(r, "packets"));
    if (!victim || !first || !last || !proto)
        return;
    char key[256], ip_id[80], nt_id[80], od_id[80];
    snprintf(key, sizeof key, "dos|%s|%s|%s|%s", victim, proto, first, last);
    json_array_append_new(x->objects, ip_sco(x, victim, ip_id));
    json_t *p0 = json_array_get(json_object_get(r, "top_victim_ports"), 0);
    json_int_t port = p0 ? json_integer_value(json_object_get(p0, "port")) : -1;
    json_array_append_new(x->objects, traffic_sco(x, ip_id, proto, strcmp(proto, "tcp") ? -1 : port,
                                                  true, first, last, nt_id));
    observed(x, key, first, last, packets, ip_id, nt_id, od_id);
    sighting(x, key, ap_id, od_id, first, last, packets);
}

static int stix_write(FILE *f, const struct ds_feed *feed, struct ds_err *err)
{
    bool infected = feed->kind == &ds_feed_infected;
    if (!infected && feed->kind != &ds_feed_dos)
        return ds_err_set(err, -ENOTSUP,
                          "feed %s: STIX carries indicators and sightings, not statistics (use "
                          "csv or json)",
                          feed->kind->name);
    struct stix x = {.feed = feed, .objects = json_array(), .err = err};
    char t[32];
    ds_time_format(feed->generated, t, sizeof t);
    ds_feed_iso_ms(t, x.created, sizeof x.created);
    json_t *idn = sdo(&x, "identity", feed->producer, x.identity);
    json_object_set_new(idn, "name", json_string(feed->producer));
    json_object_set_new(idn, "identity_class", json_string("system"));
    json_object_set_new(idn, "description", json_string("darkscope darknet sensor"));
    json_array_append_new(x.objects, idn);
    char ap_id[80] = "";
    if (!infected) {
        json_t *ap = sdo(&x, "attack-pattern", "dos-backscatter", ap_id);
        json_object_set_new(ap, "name",
                            json_string("Denial of service (inferred from backscatter)"));
        json_object_set_new(
            ap, "description",
            json_string("RS-DoS inference (Moore et al.): the victim's replies to spoofed "
                        "sources reached the darknet"));
        json_object_set_new(
            ap, "external_references",
            json_pack("[{s:s, s:s}]", "source_name", "capec", "external_id", "CAPEC-125"));
        json_array_append_new(x.objects, ap);
    }
    size_t i;
    json_t *r;
    json_array_foreach(feed->rows, i, r)
    {
        if (infected)
            infected_row(&x, r);
        else
            dos_row(&x, r, ap_id);
    }
    char bname[256], bid[80];
    snprintf(bname, sizeof bname, "%s|%s|%s|%s|%zu", feed->kind->name, x.created, feed->period_from,
             feed->period_to, json_array_size(feed->rows));
    make_id(&x, "bundle", DS_FEED_UUID_NS, bname, bid);
    json_t *b = json_pack("{s:s, s:s, s:o}", "type", "bundle", "id", bid, "objects", x.objects);
    int rc = x.rc;
    if (rc == 0 && json_dumpf(b, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER) < 0)
        rc = ds_err_set(err, -EIO, "feed %s: writing the STIX bundle failed", feed->kind->name);
    if (rc == 0)
        fputc('\n', f);
    json_decref(b);
    return rc;
}

const struct ds_feed_format ds_feed_stix = {
    .name = "stix",
    .content_type = "application/stix+json;version=2.1",
    .write = stix_write,
};
