/* format.c - alerts into JSON, digest CSV, XML and e-mail text (docs/alert-format.md). */
#include "alert/format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "alert/templates.h"
#include "analyze/host.h"
#include "core/sbuf.h"
#include "core/timefmt.h"
#include "core/utf8.h"

/*
 * Thread use: nothing here is mutable beyond the stack and the buffers a call allocates; the
 * tables below are const. Templates are read on every call (no cache), so an edited template
 * takes effect at the next alert without a restart.
 */

const char *const ds_case_names[DS_CASE_COUNT] = {
    [DS_CASE_INTERNAL] = "internal",
    [DS_CASE_EXTERNAL] = "external",
    [DS_CASE_BACKSCATTER] = "backscatter",
};

const char *const ds_alert_state_names[DS_ALERT_STATE_COUNT] = {
    [DS_ALERT_NEW] = "new",
    [DS_ALERT_CONTINUING] = "continuing",
    [DS_ALERT_CLOSED] = "closed",
    [DS_ALERT_REOPENED] = "reopened",
};

const char *const ds_severity_names[DS_SEV_COUNT] = {
    [DS_SEV_LOW] = "low",
    [DS_SEV_MEDIUM] = "medium",
    [DS_SEV_HIGH] = "high",
    [DS_SEV_CRITICAL] = "critical",
};

#define FEED_NAME "darkscope"
#define TIME_LEN 32

/* IntelMQ classification per case (RSIT as IntelMQ uses it: "scanner" belongs to the
 * "information-gathering" taxonomy, "ddos" to "availability"). */
static const struct {
    const char *taxonomy, *type, *identifier;
} case_class[DS_CASE_COUNT] = {
    [DS_CASE_INTERNAL] = {.taxonomy = "information-gathering",
                          .type = "scanner",
                          .identifier = "darknet-internal"},
    [DS_CASE_EXTERNAL] = {.taxonomy = "information-gathering",
                          .type = "scanner",
                          .identifier = "darknet-external"},
    [DS_CASE_BACKSCATTER] = {.taxonomy = "availability",
                             .type = "ddos",
                             .identifier = "darknet-backscatter"},
};

/* Names of enum ds_proto_idx bits (a->protos), as the rest of darkscope spells them. */
static const char *const proto_idx_names[DS_PROTO_COUNT] = {
    [DS_PROTO_TCP] = "tcp",     [DS_PROTO_UDP] = "udp",     [DS_PROTO_ICMP] = "icmp",
    [DS_PROTO_ICMP6] = "icmp6", [DS_PROTO_OTHER] = "other",
};

/* The IntelMQ fields of an alert: the digest CSV columns in order, the keys of the JSON
 * "intelmq" object (integers there when `integer`) and the XML <intelmq> fields. */
enum {
    COL_TIME_SOURCE = 0,
    COL_TIME_OBSERVATION,
    COL_SOURCE_IP,
    COL_TAXONOMY,
    COL_TYPE,
    COL_IDENTIFIER,
    COL_TRANSPORT,
    COL_DPORT,
    COL_PACKETS,
    COL_TARGETS,
    COL_STATE,
    COL_SEVERITY,
    COL_FINGERPRINTS,
    COL_ALERT_ID,
    COL_FEED,
    COL_ORGANISATION,
    COL_COUNT
};

static const struct {
    const char *name;
    bool integer;
} columns[COL_COUNT] = {
    [COL_TIME_SOURCE] = {.name = "time.source"},
    [COL_TIME_OBSERVATION] = {.name = "time.observation"},
    [COL_SOURCE_IP] = {.name = "source.ip"},
    [COL_TAXONOMY] = {.name = "classification.taxonomy"},
    [COL_TYPE] = {.name = "classification.type"},
    [COL_IDENTIFIER] = {.name = "classification.identifier"},
    [COL_TRANSPORT] = {.name = "protocol.transport"},
    [COL_DPORT] = {.name = "destination.port", .integer = true},
    [COL_PACKETS] = {.name = "extra.packets", .integer = true},
    [COL_TARGETS] = {.name = "extra.targets", .integer = true},
    [COL_STATE] = {.name = "extra.state"},
    [COL_SEVERITY] = {.name = "extra.severity"},
    [COL_FINGERPRINTS] = {.name = "extra.fingerprints"},
    [COL_ALERT_ID] = {.name = "extra.alert_id", .integer = true},
    [COL_FEED] = {.name = "feed.name"},
    [COL_ORGANISATION] = {.name = "extra.organisation"},
};

/* ---- checks and small formatters ---- */

static int check_str(const struct ds_alert *a, const char *what, const char *s, struct ds_err *err)
{
    if (s && !ds_utf8_valid(s, strlen(s)))
        return ds_err_set(err, -EINVAL, "alert %" PRId64 ": %s is not valid UTF-8", a->id, what);
    return 0;
}

/* Everything the formatters index or print must be in range. */
static int check_alert(const struct ds_alert *a, struct ds_err *err)
{
    if (!a)
        return ds_err_set(err, -EINVAL, "alert: NULL alert");
    if ((unsigned)a->kase >= (unsigned)DS_CASE_COUNT)
        return ds_err_set(err, -EINVAL, "alert %" PRId64 ": case %d out of range", a->id,
                          (int)a->kase);
    if ((unsigned)a->state >= (unsigned)DS_ALERT_STATE_COUNT)
        return ds_err_set(err, -EINVAL, "alert %" PRId64 ": state %d out of range", a->id,
                          (int)a->state);
    if ((unsigned)a->severity >= (unsigned)DS_SEV_COUNT)
        return ds_err_set(err, -EINVAL, "alert %" PRId64 ": severity %d out of range", a->id,
                          (int)a->severity);
    if (!a->org_name)
        return ds_err_set(err, -EINVAL, "alert %" PRId64 ": no organisation name", a->id);
    if (a->n_ports > DS_ALERT_TOP_PORTS || a->n_samples > DS_ALERT_SAMPLES)
        return ds_err_set(err, -EINVAL,
                          "alert %" PRId64 ": %zu ports, %zu samples (at most %d, %d)", a->id,
                          a->n_ports, a->n_samples, DS_ALERT_TOP_PORTS, DS_ALERT_SAMPLES);
    int rc;
    if ((rc = check_str(a, "organisation name", a->org_name, err)) < 0 ||
        (rc = check_str(a, "scan type", a->scan_type, err)) < 0 ||
        (rc = check_str(a, "family", a->family, err)) < 0 ||
        (rc = check_str(a, "backscatter basis", a->dos_basis, err)) < 0)
        return rc;
    return 0;
}

/* The alerts of a digest: each valid and of organisation org. */
static int check_digest(const struct ds_alert *const *alerts, size_t n, const char *org,
                        struct ds_err *err)
{
    if (!org)
        return ds_err_set(err, -EINVAL, "digest: no organisation");
    if (n && !alerts)
        return ds_err_set(err, -EINVAL, "digest: NULL alert list");
    for (size_t i = 0; i < n; i++) {
        int rc = check_alert(alerts[i], err);
        if (rc < 0)
            return rc;
        if (strcmp(alerts[i]->org_name, org) != 0)
            return ds_err_set(err, -EINVAL,
                              "digest for \"%s\": alert %" PRId64 " belongs to \"%s\"", org,
                              alerts[i]->id, alerts[i]->org_name);
    }
    return 0;
}

static const char *ip_proto_name(uint8_t proto, char *buf, size_t cap)
{
    switch (proto) {
    case 6:
        return "tcp";
    case 17:
        return "udp";
    case 1:
        return "icmp";
    case 58:
        return "icmp6";
    default:
        snprintf(buf, cap, "%u", proto);
        return buf;
    }
}

/* protocol.transport as IntelMQ spells it (IANA keywords): the top port's protocol, else the
 * first protocol seen; NULL when neither says. */
static const char *intelmq_transport(const struct ds_alert *a)
{
    if (a->n_ports) {
        switch (a->ports[0].proto) {
        case 6:
            return "tcp";
        case 17:
            return "udp";
        case 132:
            return "sctp";
        default:
            return NULL;
        }
    }
    static const char *const iana[DS_PROTO_OTHER] = {"tcp", "udp", "icmp", "ipv6-icmp"};
    for (int i = 0; i < DS_PROTO_OTHER; i++)
        if (a->protos & (1u << i))
            return iana[i];
    return NULL;
}

/* Fingerprint names joined by ';' (extra.fingerprints); "" when none. */
static void fp_names(const struct ds_alert *a, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < DS_FP_COUNT; i++) {
        if (!(a->fps & DS_FP_BIT(i)))
            continue;
        int n = snprintf(buf + len, cap - len, "%s%s", len ? ";" : "", ds_fingerprints[i]->name);
        if (n < 0 || (size_t)n >= cap - len)
            break;
        len += (size_t)n;
    }
}

/* The IntelMQ field values of an alert as text ("" when the alert has none); v[] points into
 * the struct or into constant tables. */
struct imq_cells {
    char first[TIME_LEN], last[TIME_LEN], addr[DS_ADDR_STRLEN], fps[128];
    char port[8], packets[24], targets[16], id[24];
    const char *v[COL_COUNT];
};

static void imq_cells(const struct ds_alert *a, struct imq_cells *c)
{
    const char *transport = intelmq_transport(a);
    fp_names(a, c->fps, sizeof c->fps);
    c->port[0] = '\0';
    if (a->n_ports)
        snprintf(c->port, sizeof c->port, "%u", a->ports[0].port);
    snprintf(c->packets, sizeof c->packets, "%" PRIu64, a->packets);
    snprintf(c->targets, sizeof c->targets, "%" PRIu32, a->targets);
    snprintf(c->id, sizeof c->id, "%" PRId64, a->id);
    c->v[COL_TIME_SOURCE] = ds_time_format_ns(a->first_ns, c->first, sizeof c->first);
    c->v[COL_TIME_OBSERVATION] = ds_time_format_ns(a->last_ns, c->last, sizeof c->last);
    c->v[COL_SOURCE_IP] = ds_addr_format(&a->address, c->addr);
    c->v[COL_TAXONOMY] = case_class[a->kase].taxonomy;
    c->v[COL_TYPE] = case_class[a->kase].type;
    c->v[COL_IDENTIFIER] = case_class[a->kase].identifier;
    c->v[COL_TRANSPORT] = transport ? transport : "";
    c->v[COL_DPORT] = c->port;
    c->v[COL_PACKETS] = c->packets;
    c->v[COL_TARGETS] = c->targets;
    c->v[COL_STATE] = ds_alert_state_names[a->state];
    c->v[COL_SEVERITY] = ds_severity_names[a->severity];
    c->v[COL_FINGERPRINTS] = c->fps;
    c->v[COL_ALERT_ID] = c->id;
    c->v[COL_FEED] = FEED_NAME;
    c->v[COL_ORGANISATION] = a->org_name;
}

/* ---- templates ---- */

/* TEMPLATES_DIR/LANG/CASE.txt (templates.c: read now, or through the alert's cache) with its
 * placeholders substituted, into *out (malloc'd, the caller frees). */
static int render_template(const struct ds_alert *a, const char *templates_dir, const char *lang,
                           char **out, struct ds_err *err)
{
    *out = NULL;
    const char *dir = templates_dir ? templates_dir : DS_DATA_DIR "/templates";
    char path[4096];
    int pn = snprintf(path, sizeof path, "%s/%s/%s.txt", dir, lang, ds_case_names[a->kase]);
    if (pn < 0 || (size_t)pn >= sizeof path)
        return ds_err_set(err, -ENAMETOOLONG, "alert template directory %s: path too long", dir);
    struct ds_template_text tt;
    int rc = ds_template_get(a->templates, path, &tt, err);
    if (rc < 0)
        return rc;
    char first[TIME_LEN], last[TIME_LEN], addr[DS_ADDR_STRLEN], packets[24];
    ds_time_format_ns(a->first_ns, first, sizeof first);
    ds_time_format_ns(a->last_ns, last, sizeof last);
    ds_addr_format(&a->address, addr);
    snprintf(packets, sizeof packets, "%" PRIu64, a->packets);
    const struct ds_template_var subst[] = {
        {.name = "organisation", .value = a->org_name},
        {.name = "address", .value = addr},
        {.name = "case", .value = ds_case_names[a->kase]},
        {.name = "first_seen", .value = first},
        {.name = "last_seen", .value = last},
        {.name = "packets", .value = packets},
    };
    struct ds_sbuf b = {0};
    ds_template_fill(&tt, subst, sizeof subst / sizeof subst[0], &b);
    free(tt.owned);
    return ds_sbuf_finish(&b, out, "alert template", err);
}

/* ---- JSON ---- */

/* Sets o[k] = v (taking v); any failure (v NULL from a failed allocation) marks *bad. */
static void jset(bool *bad, json_t *o, const char *k, json_t *v)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *bad = true;
}

static void jadd(bool *bad, json_t *arr, json_t *v)
{
    if (!v || json_array_append_new(arr, v) != 0)
        *bad = true;
}

static json_t *jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *jstr_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *sample_json(bool *bad, const struct ds_alert_sample *s)
{
    json_t *o = json_object();
    if (!o) {
        *bad = true;
        return NULL;
    }
    char t[TIME_LEN], src[DS_ADDR_STRLEN], dst[DS_ADDR_STRLEN], pb[8];
    jset(bad, o, "time", json_string(ds_time_format_ns(s->ts_ns, t, sizeof t)));
    jset(bad, o, "src", json_string(ds_addr_format(&s->src, src)));
    jset(bad, o, "dst", json_string(ds_addr_format(&s->dst, dst)));
    jset(bad, o, "proto", json_string(ip_proto_name(s->proto, pb, sizeof pb)));
    jset(bad, o, "ttl", json_integer(s->ttl));
    if (ds_addr_is_v4(&s->src))
        jset(bad, o, "ip_id", json_integer(s->ip_id));
    if (s->proto == 6 || s->proto == 17) {
        jset(bad, o, "sport", json_integer(s->sport));
        jset(bad, o, "dport", json_integer(s->dport));
    }
    if (s->proto == 6) {
        jset(bad, o, "tcp_flags", json_integer(s->tcp_flags));
        jset(bad, o, "seq", json_integer(s->seq));
        jset(bad, o, "win", json_integer(s->win));
    }
    if (s->proto == 1 || s->proto == 58) {
        jset(bad, o, "icmp_type", json_integer(s->icmp_type));
        jset(bad, o, "icmp_code", json_integer(s->icmp_code));
    }
    return o;
}

/* The "intelmq" object: the fields that have a value, integers as JSON integers. */
static json_t *intelmq_json(bool *bad, const struct ds_alert *a)
{
    json_t *o = json_object();
    if (!o) {
        *bad = true;
        return NULL;
    }
    struct imq_cells c;
    imq_cells(a, &c);
    for (int i = 0; i < COL_COUNT; i++) {
        if (!c.v[i][0])
            continue;
        if (columns[i].integer)
            jset(bad, o, columns[i].name, json_integer(strtoll(c.v[i], NULL, 10)));
        else
            jset(bad, o, columns[i].name, json_string(c.v[i]));
    }
    return o;
}

/* The alert object into *out (a new reference: the caller decrefs it), or a negative code. */
static int alert_json(const struct ds_alert *a, const char *templates_dir, json_t **out,
                      struct ds_err *err)
{
    *out = NULL;
    int rc = check_alert(a, err);
    if (rc < 0)
        return rc;
    const char *lang = ds_response_lang(a->lang);
    char *response;
    if ((rc = render_template(a, templates_dir, lang, &response, err)) < 0)
        return rc;

    bool bad = false;
    json_t *o = json_object();
    if (!o) {
        free(response);
        return ds_err_set(err, -ENOMEM, "alert %" PRId64 ": out of memory", a->id);
    }
    char t[TIME_LEN], addr[DS_ADDR_STRLEN], pb[8];
    jset(&bad, o, "version", json_integer(DS_ALERT_JSON_VERSION));
    jset(&bad, o, "id", json_integer(a->id));
    jset(&bad, o, "organisation", json_string(a->org_name));
    jset(&bad, o, "organisation_id", json_integer(a->org_id));
    jset(&bad, o, "lang", json_string(lang));
    jset(&bad, o, "address", json_string(ds_addr_format(&a->address, addr)));
    jset(&bad, o, "case", json_string(ds_case_names[a->kase]));
    jset(&bad, o, "state", json_string(ds_alert_state_names[a->state]));
    jset(&bad, o, "severity", json_string(ds_severity_names[a->severity]));
    jset(&bad, o, "first_seen", json_string(ds_time_format_ns(a->first_ns, t, sizeof t)));
    jset(&bad, o, "last_seen", json_string(ds_time_format_ns(a->last_ns, t, sizeof t)));
    jset(&bad, o, "updated",
         a->updated_ns ? json_string(ds_time_format_ns(a->updated_ns, t, sizeof t)) : json_null());
    jset(&bad, o, "packets", jint(a->packets));
    jset(&bad, o, "bytes", jint(a->bytes));
    jset(&bad, o, "targets", json_integer(a->targets));

    json_t *arr = json_array();
    for (int i = 0; arr && i < DS_PROTO_COUNT; i++)
        if (a->protos & (1u << i))
            jadd(&bad, arr, json_string(proto_idx_names[i]));
    jset(&bad, o, "protocols", arr);

    arr = json_array();
    for (size_t i = 0; arr && i < a->n_ports; i++) {
        json_t *p = json_object();
        if (p) {
            jset(&bad, p, "proto", json_string(ip_proto_name(a->ports[i].proto, pb, sizeof pb)));
            jset(&bad, p, "port", json_integer(a->ports[i].port));
            jset(&bad, p, "packets", jint(a->ports[i].packets));
        }
        jadd(&bad, arr, p);
    }
    jset(&bad, o, "ports", arr);

    arr = json_array();
    for (int i = 0; arr && i < DS_CLASS_COUNT; i++)
        if (a->classes & DS_CLASS_BIT(i))
            jadd(&bad, arr, json_string(ds_class_table[i].name));
    jset(&bad, o, "classes", arr);

    arr = json_array();
    for (int i = 0; arr && i < DS_FP_COUNT; i++) {
        if (!(a->fps & DS_FP_BIT(i)))
            continue;
        json_t *f = json_object();
        if (f) {
            jset(&bad, f, "name", json_string(ds_fingerprints[i]->name));
            jset(&bad, f, "description", json_string(ds_fingerprints[i]->description));
        }
        jadd(&bad, arr, f);
    }
    jset(&bad, o, "fingerprints", arr);

    jset(&bad, o, "scan_type", jstr_or_null(a->scan_type));
    jset(&bad, o, "family", jstr_or_null(a->family));
    bool bs = a->kase == DS_CASE_BACKSCATTER;
    jset(&bad, o, "backscatter_basis", jstr_or_null(bs ? a->dos_basis : NULL));
    jset(&bad, o, "backscatter_peak_ppm",
         bs && a->dos_peak_ppm ? jint(a->dos_peak_ppm) : json_null());

    arr = json_array();
    for (size_t i = 0; arr && i < a->n_samples; i++)
        jadd(&bad, arr, sample_json(&bad, &a->samples[i]));
    jset(&bad, o, "samples", arr);

    jset(&bad, o, "intelmq", intelmq_json(&bad, a));
    jset(&bad, o, "response", json_string(response));
    free(response);
    if (bad) {
        json_decref(o);
        return ds_err_set(err, -ENOMEM, "alert %" PRId64 ": out of memory", a->id);
    }
    *out = o;
    return 0;
}

/* Compact one-line text of v into *out (malloc'd by jansson's default allocator: free()). */
static int dump_json(json_t *v, char **out, size_t *len, const char *what, struct ds_err *err)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        return ds_err_set(err, -ENOMEM, "%s: out of memory", what);
    *out = s;
    if (len)
        *len = strlen(s);
    return 0;
}

int ds_alert_json(const struct ds_alert *a, const char *templates_dir, char **out, size_t *len,
                  struct ds_err *err)
{
    if (!out)
        return ds_err_set(err, -EINVAL, "ds_alert_json: NULL output");
    *out = NULL;
    if (len)
        *len = 0;
    json_t *o;
    int rc = alert_json(a, templates_dir, &o, err);
    if (rc < 0)
        return rc;
    rc = dump_json(o, out, len, "alert JSON", err);
    json_decref(o);
    return rc;
}

int ds_digest_json(const struct ds_alert *const *alerts, size_t n, const char *org,
                   const char *digest_id, const char *templates_dir, char **out, size_t *len,
                   struct ds_err *err)
{
    if (!out)
        return ds_err_set(err, -EINVAL, "ds_digest_json: NULL output");
    *out = NULL;
    if (len)
        *len = 0;
    if (!digest_id || !ds_utf8_valid(digest_id, strlen(digest_id)))
        return ds_err_set(err, -EINVAL, "digest: no digest id or not UTF-8");
    int rc = check_digest(alerts, n, org, err);
    if (rc < 0)
        return rc;
    if (!ds_utf8_valid(org, strlen(org)))
        return ds_err_set(err, -EINVAL, "digest: organisation name is not valid UTF-8");
    bool bad = false;
    json_t *o = json_object();
    if (!o)
        return ds_err_set(err, -ENOMEM, "digest %s: out of memory", digest_id);
    jset(&bad, o, "version", json_integer(DS_DIGEST_JSON_VERSION));
    jset(&bad, o, "digest", json_string(digest_id));
    jset(&bad, o, "organisation", json_string(org));
    jset(&bad, o, "count", json_integer((json_int_t)n));
    json_t *arr = json_array();
    jset(&bad, o, "alerts", arr);
    for (size_t i = 0; !bad && i < n; i++) {
        json_t *aj;
        if ((rc = alert_json(alerts[i], templates_dir, &aj, err)) < 0) {
            json_decref(o);
            ds_err_wrap(err, "digest %s", digest_id);
            return rc;
        }
        jadd(&bad, arr, aj);
    }
    if (bad) {
        json_decref(o);
        return ds_err_set(err, -ENOMEM, "digest %s: out of memory", digest_id);
    }
    rc = dump_json(o, out, len, "digest JSON", err);
    json_decref(o);
    return rc;
}

/* ---- CSV ---- */

static void csv_field(struct ds_sbuf *b, const char *s, bool first)
{
    if (!first)
        ds_sbuf_add(b, ",", 1);
    if (!strpbrk(s, ",\"\r\n")) {
        ds_sbuf_puts(b, s);
        return;
    }
    ds_sbuf_add(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            ds_sbuf_add(b, "\"", 1);
        ds_sbuf_add(b, p, 1);
    }
    ds_sbuf_add(b, "\"", 1);
}

int ds_alert_csv_header(char **out, struct ds_err *err)
{
    if (!out)
        return ds_err_set(err, -EINVAL, "ds_alert_csv_header: NULL output");
    *out = NULL;
    struct ds_sbuf b = {0};
    for (int i = 0; i < COL_COUNT; i++)
        csv_field(&b, columns[i].name, i == 0);
    ds_sbuf_add(&b, "\r\n", 2);
    return ds_sbuf_finish(&b, out, "CSV header", err);
}

int ds_alert_csv_row(const struct ds_alert *a, char **out, struct ds_err *err)
{
    if (!out)
        return ds_err_set(err, -EINVAL, "ds_alert_csv_row: NULL output");
    *out = NULL;
    int rc = check_alert(a, err);
    if (rc < 0)
        return rc;
    struct imq_cells c;
    imq_cells(a, &c);
    struct ds_sbuf b = {0};
    for (int i = 0; i < COL_COUNT; i++)
        csv_field(&b, c.v[i], i == 0);
    ds_sbuf_add(&b, "\r\n", 2);
    return ds_sbuf_finish(&b, out, "CSV row", err);
}

/* ---- XML ---- */

/* Escapes the five markup characters; control characters XML 1.0 forbids (and U+FFFE,
 * U+FFFF) become U+FFFD; in attributes TAB, LF and CR become character references so
 * attribute normalisation keeps them. s is valid UTF-8 (checked before). */
void ds_xml_escape(struct ds_sbuf *b, const char *s, bool attr)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '&':
            ds_sbuf_puts(b, "&amp;");
            break;
        case '<':
            ds_sbuf_puts(b, "&lt;");
            break;
        case '>':
            ds_sbuf_puts(b, "&gt;");
            break;
        case '"':
            ds_sbuf_puts(b, "&quot;");
            break;
        case '\'':
            ds_sbuf_puts(b, "&apos;");
            break;
        case '\r':
            ds_sbuf_puts(b, "&#13;");
            break;
        case '\t':
        case '\n':
            if (attr)
                ds_sbuf_puts(b, *p == '\t' ? "&#9;" : "&#10;");
            else
                ds_sbuf_add(b, (const char *)p, 1);
            break;
        default:
            if (*p < 0x20) {
                ds_sbuf_puts(b, "\xef\xbf\xbd");
            } else if (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf)) {
                ds_sbuf_puts(b, "\xef\xbf\xbd");
                p += 2;
            } else {
                ds_sbuf_add(b, (const char *)p, 1);
            }
        }
    }
}

void ds_xml_elem(struct ds_sbuf *b, const char *indent, const char *name, const char *text)
{
    ds_sbuf_printf(b, "%s<%s>", indent, name);
    ds_xml_escape(b, text, false);
    ds_sbuf_printf(b, "</%s>\n", name);
}

int ds_alert_xml(const struct ds_alert *a, const char *templates_dir, char **out,
                 struct ds_err *err)
{
    if (!out)
        return ds_err_set(err, -EINVAL, "ds_alert_xml: NULL output");
    *out = NULL;
    int rc = check_alert(a, err);
    if (rc < 0)
        return rc;
    const char *lang = ds_response_lang(a->lang);
    char *response;
    if ((rc = render_template(a, templates_dir, lang, &response, err)) < 0)
        return rc;

    struct ds_sbuf b = {0};
    char t[TIME_LEN], addr[DS_ADDR_STRLEN], pb[8];
    ds_sbuf_printf(&b, "<alert version=\"%d\" id=\"%" PRId64 "\">\n", DS_ALERT_JSON_VERSION, a->id);
    ds_sbuf_printf(&b, "  <organisation id=\"%" PRId64 "\">", a->org_id);
    ds_xml_escape(&b, a->org_name, false);
    ds_sbuf_puts(&b, "</organisation>\n");
    ds_xml_elem(&b, "  ", "lang", lang);
    ds_xml_elem(&b, "  ", "address", ds_addr_format(&a->address, addr));
    ds_xml_elem(&b, "  ", "case", ds_case_names[a->kase]);
    ds_xml_elem(&b, "  ", "state", ds_alert_state_names[a->state]);
    ds_xml_elem(&b, "  ", "severity", ds_severity_names[a->severity]);
    ds_xml_elem(&b, "  ", "first_seen", ds_time_format_ns(a->first_ns, t, sizeof t));
    ds_xml_elem(&b, "  ", "last_seen", ds_time_format_ns(a->last_ns, t, sizeof t));
    if (a->updated_ns)
        ds_xml_elem(&b, "  ", "updated", ds_time_format_ns(a->updated_ns, t, sizeof t));
    ds_sbuf_printf(&b, "  <packets>%" PRIu64 "</packets>\n", a->packets);
    ds_sbuf_printf(&b, "  <bytes>%" PRIu64 "</bytes>\n", a->bytes);
    ds_sbuf_printf(&b, "  <targets>%" PRIu32 "</targets>\n", a->targets);

    bool any = false;
    for (int i = 0; i < DS_PROTO_COUNT; i++) {
        if (!(a->protos & (1u << i)))
            continue;
        ds_sbuf_puts(&b, any ? "" : "  <protocols>\n");
        any = true;
        ds_xml_elem(&b, "    ", "protocol", proto_idx_names[i]);
    }
    ds_sbuf_puts(&b, any ? "  </protocols>\n" : "  <protocols/>\n");

    if (a->n_ports) {
        ds_sbuf_puts(&b, "  <ports>\n");
        for (size_t i = 0; i < a->n_ports; i++)
            ds_sbuf_printf(&b, "    <port proto=\"%s\" port=\"%u\" packets=\"%" PRIu64 "\"/>\n",
                           ip_proto_name(a->ports[i].proto, pb, sizeof pb), a->ports[i].port,
                           a->ports[i].packets);
        ds_sbuf_puts(&b, "  </ports>\n");
    } else {
        ds_sbuf_puts(&b, "  <ports/>\n");
    }

    any = false;
    for (int i = 0; i < DS_CLASS_COUNT; i++) {
        if (!(a->classes & DS_CLASS_BIT(i)))
            continue;
        ds_sbuf_puts(&b, any ? "" : "  <classes>\n");
        any = true;
        ds_xml_elem(&b, "    ", "class", ds_class_table[i].name);
    }
    ds_sbuf_puts(&b, any ? "  </classes>\n" : "  <classes/>\n");

    any = false;
    for (int i = 0; i < DS_FP_COUNT; i++) {
        if (!(a->fps & DS_FP_BIT(i)))
            continue;
        ds_sbuf_puts(&b, any ? "" : "  <fingerprints>\n");
        any = true;
        ds_sbuf_puts(&b, "    <fingerprint name=\"");
        ds_xml_escape(&b, ds_fingerprints[i]->name, true);
        ds_sbuf_puts(&b, "\">");
        ds_xml_escape(&b, ds_fingerprints[i]->description, false);
        ds_sbuf_puts(&b, "</fingerprint>\n");
    }
    ds_sbuf_puts(&b, any ? "  </fingerprints>\n" : "  <fingerprints/>\n");

    if (a->scan_type)
        ds_xml_elem(&b, "  ", "scan_type", a->scan_type);
    if (a->family)
        ds_xml_elem(&b, "  ", "family", a->family);
    if (a->kase == DS_CASE_BACKSCATTER) {
        ds_sbuf_puts(&b, "  <backscatter");
        if (a->dos_basis) {
            ds_sbuf_puts(&b, " basis=\"");
            ds_xml_escape(&b, a->dos_basis, true);
            ds_sbuf_puts(&b, "\"");
        }
        if (a->dos_peak_ppm)
            ds_sbuf_printf(&b, " peak_ppm=\"%" PRIu64 "\"", a->dos_peak_ppm);
        ds_sbuf_puts(&b, "/>\n");
    }

    if (a->n_samples) {
        ds_sbuf_puts(&b, "  <samples>\n");
        for (size_t i = 0; i < a->n_samples; i++) {
            const struct ds_alert_sample *s = &a->samples[i];
            char src[DS_ADDR_STRLEN], dst[DS_ADDR_STRLEN];
            ds_sbuf_printf(
                &b, "    <sample time=\"%s\" src=\"%s\" dst=\"%s\" proto=\"%s\" ttl=\"%u\"",
                ds_time_format_ns(s->ts_ns, t, sizeof t), ds_addr_format(&s->src, src),
                ds_addr_format(&s->dst, dst), ip_proto_name(s->proto, pb, sizeof pb), s->ttl);
            if (ds_addr_is_v4(&s->src))
                ds_sbuf_printf(&b, " ip_id=\"%u\"", s->ip_id);
            if (s->proto == 6 || s->proto == 17)
                ds_sbuf_printf(&b, " sport=\"%u\" dport=\"%u\"", s->sport, s->dport);
            if (s->proto == 6)
                ds_sbuf_printf(&b, " tcp_flags=\"%u\" seq=\"%" PRIu32 "\" win=\"%u\"", s->tcp_flags,
                               s->seq, s->win);
            if (s->proto == 1 || s->proto == 58)
                ds_sbuf_printf(&b, " icmp_type=\"%u\" icmp_code=\"%u\"", s->icmp_type,
                               s->icmp_code);
            ds_sbuf_puts(&b, "/>\n");
        }
        ds_sbuf_puts(&b, "  </samples>\n");
    } else {
        ds_sbuf_puts(&b, "  <samples/>\n");
    }

    /* the IntelMQ fields that have a value, in the CSV's column order */
    struct imq_cells c;
    imq_cells(a, &c);
    ds_sbuf_puts(&b, "  <intelmq>\n");
    for (int i = 0; i < COL_COUNT; i++) {
        if (!c.v[i][0])
            continue;
        ds_sbuf_printf(&b, "    <field name=\"%s\">", columns[i].name);
        ds_xml_escape(&b, c.v[i], false);
        ds_sbuf_puts(&b, "</field>\n");
    }
    ds_sbuf_puts(&b, "  </intelmq>\n");

    ds_sbuf_printf(&b, "  <response lang=\"%s\">", lang);
    ds_xml_escape(&b, response, false);
    ds_sbuf_puts(&b, "</response>\n</alert>\n");
    free(response);
    return ds_sbuf_finish(&b, out, "alert XML", err);
}

/* ---- e-mail text ---- */

const char *ds_response_lang(const char *lang)
{
    if (lang && (lang[0] == 'j' || lang[0] == 'J') && (lang[1] == 'a' || lang[1] == 'A') &&
        (lang[2] == '\0' || lang[2] == '-' || lang[2] == '_' || lang[2] == '.'))
        return "ja";
    return "en";
}

/* The words of the text forms in one language. Labels carry their separator (and, in
 * English, the padding that aligns the values); `indent` lines continuation values up. */
struct words {
    const char *title;
    const char *l_org, *l_addr, *l_case, *l_state, *l_sev, *l_first, *l_last, *l_packets,
        *l_targets, *l_protos, *l_ports, *l_classes, *l_fps, *l_scan, *l_family, *l_basis, *l_peak,
        *l_samples;
    const char *indent;
    const char *bytes_open, *bytes_close; /* around the byte count after the packets */
    const char *targets_suffix, *port_packets, *none, *suspected, *per_minute;
    bool jst; /* times also in Japan time */
    const char *state[DS_ALERT_STATE_COUNT];
    const char *state_long[DS_ALERT_STATE_COUNT];
    const char *severity[DS_SEV_COUNT];
    const char *case_short[DS_CASE_COUNT];
    const char *case_long[DS_CASE_COUNT];
    const char *subj_pre[DS_CASE_COUNT], *subj_post[DS_CASE_COUNT]; /* around the address */
    const char *scan_none, *scan_horizontal, *scan_vertical, *scan_both;
};

static const struct words words_en = {
    .title = "darkscope alert",
    .l_org = "Organisation:  ",
    .l_addr = "Address:       ",
    .l_case = "Case:          ",
    .l_state = "State:         ",
    .l_sev = "Severity:      ",
    .l_first = "First seen:    ",
    .l_last = "Last seen:     ",
    .l_packets = "Packets:       ",
    .l_targets = "Targets:       ",
    .l_protos = "Protocols:     ",
    .l_ports = "Top ports:     ",
    .l_classes = "Classes:       ",
    .l_fps = "Fingerprints:  ",
    .l_scan = "Scan type:     ",
    .l_family = "Malware:       ",
    .l_basis = "DoS basis:     ",
    .l_peak = "Peak rate:     ",
    .l_samples = "Sample packets (headers):",
    .indent = "               ",
    .bytes_open = " (",
    .bytes_close = " bytes)",
    .targets_suffix = " unused (darknet) addresses",
    .port_packets = " packets",
    .none = "none",
    .suspected = " (suspected)",
    .per_minute = " packets per minute",
    .jst = false,
    .state = {[DS_ALERT_NEW] = "New",
              [DS_ALERT_CONTINUING] = "Continuing",
              [DS_ALERT_CLOSED] = "Closed",
              [DS_ALERT_REOPENED] = "Reopened"},
    .state_long = {[DS_ALERT_NEW] = "new - the first notice for this address and case",
                   [DS_ALERT_CONTINUING] = "continuing - still active since the last notice",
                   [DS_ALERT_CLOSED] = "closed - no more packets for the configured quiet time",
                   [DS_ALERT_REOPENED] = "reopened - active again after it was closed"},
    .severity = {[DS_SEV_LOW] = "low",
                 [DS_SEV_MEDIUM] = "medium",
                 [DS_SEV_HIGH] = "high",
                 [DS_SEV_CRITICAL] = "critical"},
    .case_short = {[DS_CASE_INTERNAL] = "internal",
                   [DS_CASE_EXTERNAL] = "external",
                   [DS_CASE_BACKSCATTER] = "backscatter"},
    .case_long = {[DS_CASE_INTERNAL] = "internal - this address sent packets to unused addresses "
                                       "inside your own network",
                  [DS_CASE_EXTERNAL] = "external - this address sent packets to unused addresses "
                                       "outside your network",
                  [DS_CASE_BACKSCATTER] = "backscatter - this address answered forged packets: it "
                                          "is probably the target of a denial-of-service attack"},
    .subj_pre = {[DS_CASE_INTERNAL] = "internal scanning from ",
                 [DS_CASE_EXTERNAL] = "outbound scanning from ",
                 [DS_CASE_BACKSCATTER] = "DoS attack on "},
    .subj_post = {[DS_CASE_INTERNAL] = "",
                  [DS_CASE_EXTERNAL] = "",
                  [DS_CASE_BACKSCATTER] = " (backscatter)"},
    .scan_none = "none",
    .scan_horizontal = "horizontal (the same ports on many addresses)",
    .scan_vertical = "vertical (many ports on few addresses)",
    .scan_both = "horizontal and vertical",
};

static const struct words words_ja = {
    .title = "darkscope アラート",
    .l_org = "組織名：",
    .l_addr = "対象アドレス：",
    .l_case = "種別：",
    .l_state = "状態：",
    .l_sev = "重要度：",
    .l_first = "初回観測：",
    .l_last = "最終観測：",
    .l_packets = "パケット数：",
    .l_targets = "宛先アドレス数：",
    .l_protos = "プロトコル：",
    .l_ports = "主な宛先ポート：",
    .l_classes = "通信の分類：",
    .l_fps = "ツール・マルウェアの特徴：",
    .l_scan = "スキャンの種類：",
    .l_family = "推定マルウェア：",
    .l_basis = "DoS 判定の根拠：",
    .l_peak = "最大レート：",
    .l_samples = "観測パケットの例（ヘッダ）：",
    .indent = "  ",
    .bytes_open = "（",
    .bytes_close = " バイト）",
    .targets_suffix = "（未使用アドレス）",
    .port_packets = " パケット",
    .none = "なし",
    .suspected = "（推定）",
    .per_minute = " パケット/分",
    .jst = true,
    .state = {[DS_ALERT_NEW] = "新規",
              [DS_ALERT_CONTINUING] = "継続",
              [DS_ALERT_CLOSED] = "終了",
              [DS_ALERT_REOPENED] = "再発"},
    .state_long = {[DS_ALERT_NEW] = "新規（このアドレス・種別について初めてのお知らせです）",
                   [DS_ALERT_CONTINUING] = "継続（前回のお知らせ以降も続いています）",
                   [DS_ALERT_CLOSED] = "終了（一定期間、観測されていません）",
                   [DS_ALERT_REOPENED] = "再発（終了した後、再び観測されました）"},
    .severity = {[DS_SEV_LOW] = "低",
                 [DS_SEV_MEDIUM] = "中",
                 [DS_SEV_HIGH] = "高",
                 [DS_SEV_CRITICAL] = "緊急"},
    .case_short = {[DS_CASE_INTERNAL] = "内部",
                   [DS_CASE_EXTERNAL] = "外部",
                   [DS_CASE_BACKSCATTER] = "バックスキャッタ"},
    .case_long = {[DS_CASE_INTERNAL] = "内部（組織内の未使用アドレス宛てに送信しています）",
                  [DS_CASE_EXTERNAL] = "外部（組織外の未使用アドレス宛てに送信しています）",
                  [DS_CASE_BACKSCATTER] = "バックスキャッタ（送信元を偽装したパケットに応答して"
                                          "います。DoS 攻撃を受けている可能性があります）"},
    .subj_pre = {[DS_CASE_INTERNAL] = "", [DS_CASE_EXTERNAL] = "", [DS_CASE_BACKSCATTER] = ""},
    .subj_post = {[DS_CASE_INTERNAL] = " から組織内へのスキャン",
                  [DS_CASE_EXTERNAL] = " から組織外へのスキャン",
                  [DS_CASE_BACKSCATTER] = " への DoS 攻撃（バックスキャッタ）"},
    .scan_none = "なし",
    .scan_horizontal = "水平スキャン（多数のアドレスの同じポートを探索）",
    .scan_vertical = "垂直スキャン（少数のアドレスの多数のポートを探索）",
    .scan_both = "水平・垂直の両方",
};

static const struct words *words_for(const char *lang)
{
    return strcmp(lang, "ja") == 0 ? &words_ja : &words_en;
}

/* The subject is one header line: control characters (CR, LF ...) become spaces. */
static void one_line(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

/* An ISO time, and in Japanese also the Japan time (UTC+9, no daylight saving). */
static void put_time(struct ds_sbuf *b, const struct words *w, uint64_t ns)
{
    char t[TIME_LEN];
    ds_sbuf_puts(b, ds_time_format_ns(ns, t, sizeof t));
    if (w->jst) {
        struct tm tm;
        time_t tt = (time_t)(ns / 1000000000u) + 9 * 3600;
        gmtime_r(&tt, &tm);
        char j[32];
        strftime(j, sizeof j, "%Y-%m-%d %H:%M:%S", &tm);
        ds_sbuf_printf(b, "（日本時間 %s）", j);
    }
}

static void put_endpoint(struct ds_sbuf *b, const struct ds_addr *a, bool port, uint16_t p)
{
    char s[DS_ADDR_STRLEN];
    ds_addr_format(a, s);
    if (!port)
        ds_sbuf_puts(b, s);
    else if (ds_addr_is_v4(a))
        ds_sbuf_printf(b, "%s:%u", s, p);
    else
        ds_sbuf_printf(b, "[%s]:%u", s, p);
}

static void put_sample(struct ds_sbuf *b, const struct ds_alert_sample *s)
{
    static const char *const flag_names[8] = {"FIN", "SYN", "RST", "PSH",
                                              "ACK", "URG", "ECE", "CWR"};
    char t[TIME_LEN], pb[8];
    bool ports = s->proto == 6 || s->proto == 17;
    ds_sbuf_printf(b, "  %s %s ", ds_time_format_ns(s->ts_ns, t, sizeof t),
                   ip_proto_name(s->proto, pb, sizeof pb));
    put_endpoint(b, &s->src, ports, s->sport);
    ds_sbuf_puts(b, " -> ");
    put_endpoint(b, &s->dst, ports, s->dport);
    ds_sbuf_printf(b, " ttl %u", s->ttl);
    if (s->proto == 6) {
        ds_sbuf_puts(b, " flags ");
        bool any = false;
        for (int i = 0; i < 8; i++) {
            if (s->tcp_flags & (1u << i)) {
                ds_sbuf_printf(b, "%s%s", any ? "," : "", flag_names[i]);
                any = true;
            }
        }
        if (!any)
            ds_sbuf_puts(b, "none");
        ds_sbuf_printf(b, " seq %" PRIu32 " win %u", s->seq, s->win);
    }
    if (s->proto == 1 || s->proto == 58)
        ds_sbuf_printf(b, " type %u code %u", s->icmp_type, s->icmp_code);
    if (ds_addr_is_v4(&s->src))
        ds_sbuf_printf(b, " id %u", s->ip_id);
    ds_sbuf_puts(b, "\n");
}

static const char *scan_words(const struct words *w, const char *scan)
{
    if (strcmp(scan, "none") == 0)
        return w->scan_none;
    if (strcmp(scan, "horizontal") == 0)
        return w->scan_horizontal;
    if (strcmp(scan, "vertical") == 0)
        return w->scan_vertical;
    if (strcmp(scan, "both") == 0)
        return w->scan_both;
    return scan;
}

/* "[darkscope #42] New: internal scanning from 192.0.2.10 (Example City), severity high" */
static void put_subject(struct ds_sbuf *b, const struct words *w, const struct ds_alert *a)
{
    char addr[DS_ADDR_STRLEN];
    ds_addr_format(&a->address, addr);
    if (w->jst)
        ds_sbuf_printf(b, "[darkscope #%" PRId64 "]【%s】%s%s%s（%s、重要度：%s）", a->id,
                       w->state[a->state], w->subj_pre[a->kase], addr, w->subj_post[a->kase],
                       a->org_name, w->severity[a->severity]);
    else
        ds_sbuf_printf(b, "[darkscope #%" PRId64 "] %s: %s%s%s (%s), severity %s", a->id,
                       w->state[a->state], w->subj_pre[a->kase], addr, w->subj_post[a->kase],
                       a->org_name, w->severity[a->severity]);
}

static void put_summary(struct ds_sbuf *b, const struct words *w, const struct ds_alert *a)
{
    char addr[DS_ADDR_STRLEN], pb[8];
    ds_sbuf_printf(b, "%s %" PRId64 "\n\n", w->title, a->id);
    ds_sbuf_printf(b, "%s%s\n", w->l_org, a->org_name);
    ds_sbuf_printf(b, "%s%s\n", w->l_addr, ds_addr_format(&a->address, addr));
    ds_sbuf_printf(b, "%s%s\n", w->l_case, w->case_long[a->kase]);
    ds_sbuf_printf(b, "%s%s\n", w->l_state, w->state_long[a->state]);
    ds_sbuf_printf(b, "%s%s\n", w->l_sev, w->severity[a->severity]);
    ds_sbuf_puts(b, w->l_first);
    put_time(b, w, a->first_ns);
    ds_sbuf_printf(b, "\n%s", w->l_last);
    put_time(b, w, a->last_ns);
    ds_sbuf_printf(b, "\n%s%" PRIu64 "%s%" PRIu64 "%s\n", w->l_packets, a->packets, w->bytes_open,
                   a->bytes, w->bytes_close);
    ds_sbuf_printf(b, "%s%" PRIu32 "%s\n", w->l_targets, a->targets, w->targets_suffix);

    ds_sbuf_puts(b, w->l_protos);
    bool any = false;
    for (int i = 0; i < DS_PROTO_COUNT; i++) {
        if (a->protos & (1u << i)) {
            ds_sbuf_printf(b, "%s%s", any ? ", " : "", proto_idx_names[i]);
            any = true;
        }
    }
    ds_sbuf_printf(b, "%s\n%s", any ? "" : w->none, w->l_ports);
    for (size_t i = 0; i < a->n_ports; i++)
        ds_sbuf_printf(b, "%s%s/%u (%" PRIu64 "%s)", i ? ", " : "",
                       ip_proto_name(a->ports[i].proto, pb, sizeof pb), a->ports[i].port,
                       a->ports[i].packets, w->port_packets);
    ds_sbuf_printf(b, "%s\n%s", a->n_ports ? "" : w->none, w->l_classes);
    any = false;
    for (int i = 0; i < DS_CLASS_COUNT; i++) {
        if (a->classes & DS_CLASS_BIT(i)) {
            ds_sbuf_printf(b, "%s%s", any ? ", " : "", ds_class_table[i].name);
            any = true;
        }
    }
    ds_sbuf_printf(b, "%s\n%s", any ? "" : w->none, w->l_fps);
    any = false;
    for (int i = 0; i < DS_FP_COUNT; i++) {
        if (a->fps & DS_FP_BIT(i)) {
            ds_sbuf_printf(b, "%s%s (%s)", any ? w->indent : "", ds_fingerprints[i]->name,
                           ds_fingerprints[i]->description);
            ds_sbuf_puts(b, "\n");
            any = true;
        }
    }
    if (!any)
        ds_sbuf_printf(b, "%s\n", w->none);
    if (a->scan_type)
        ds_sbuf_printf(b, "%s%s\n", w->l_scan, scan_words(w, a->scan_type));
    if (a->family)
        ds_sbuf_printf(b, "%s%s%s\n", w->l_family, a->family, w->suspected);
    if (a->kase == DS_CASE_BACKSCATTER && a->dos_basis)
        ds_sbuf_printf(b, "%s%s\n", w->l_basis, a->dos_basis);
    if (a->kase == DS_CASE_BACKSCATTER && a->dos_peak_ppm)
        ds_sbuf_printf(b, "%s%" PRIu64 "%s\n", w->l_peak, a->dos_peak_ppm, w->per_minute);
    if (a->n_samples) {
        ds_sbuf_printf(b, "%s\n", w->l_samples);
        for (size_t i = 0; i < a->n_samples; i++)
            put_sample(b, &a->samples[i]);
    }
}

int ds_alert_text(const struct ds_alert *a, const char *templates_dir, char **subject, char **body,
                  struct ds_err *err)
{
    if (!subject || !body)
        return ds_err_set(err, -EINVAL, "ds_alert_text: NULL output");
    *subject = *body = NULL;
    int rc = check_alert(a, err);
    if (rc < 0)
        return rc;
    const char *lang = ds_response_lang(a->lang);
    const struct words *w = words_for(lang);
    char *response;
    if ((rc = render_template(a, templates_dir, lang, &response, err)) < 0)
        return rc;

    struct ds_sbuf sb = {0}, bb = {0};
    put_subject(&sb, w, a);
    put_summary(&bb, w, a);
    ds_sbuf_printf(&bb,
                   "\n----------------------------------------------------------------------\n\n"
                   "%s\n",
                   response);
    free(response);
    if ((rc = ds_sbuf_finish(&sb, subject, "alert subject", err)) < 0) {
        free(bb.p);
        return rc;
    }
    one_line(*subject);
    if ((rc = ds_sbuf_finish(&bb, body, "alert text", err)) < 0) {
        free(*subject);
        *subject = NULL;
        return rc;
    }
    return 0;
}

int ds_digest_text(const struct ds_alert *const *alerts, size_t n, const char *org,
                   const char *lang, char **subject, char **body, struct ds_err *err)
{
    if (!subject || !body)
        return ds_err_set(err, -EINVAL, "ds_digest_text: NULL output");
    *subject = *body = NULL;
    int rc = check_digest(alerts, n, org, err);
    if (rc < 0)
        return rc;
    const struct words *w = words_for(ds_response_lang(lang));
    bool ja = w == &words_ja;

    struct ds_sbuf sb = {0}, bb = {0};
    if (ja) {
        ds_sbuf_printf(&sb, "[darkscope] 継続中のアラート %zu 件のまとめ（%s）", n, org);
        ds_sbuf_printf(&bb, "darkscope 継続中のアラートのまとめ（%s）\n\n", org);
        if (n)
            ds_sbuf_printf(&bb,
                           "以前お知らせした次の %zu 件のアラートは現在も続いています（これらの"
                           "アドレスからのパケットが引き続き観測されています）。\n"
                           "詳細は添付の CSV ファイルをご覧ください。1 行が 1 件のアラートで、"
                           "1 行目に列名（IntelMQ の項目名）があります。\n\n",
                           n);
        else
            ds_sbuf_puts(&bb, "継続中のアラートはありません。\n\n");
    } else {
        ds_sbuf_printf(&sb, "[darkscope] Digest for %s: %zu continuing alert%s", org, n,
                       n == 1 ? "" : "s");
        ds_sbuf_printf(&bb, "darkscope digest for %s\n\n", org);
        if (n)
            ds_sbuf_printf(&bb,
                           "%s reported to you earlier and %s still active:\n"
                           "packets from %s keep arriving. The attached CSV file has the\n"
                           "details, one row per alert; its first line names the columns (IntelMQ\n"
                           "field names).\n\n",
                           n == 1 ? "The following alert was" : "The following alerts were",
                           n == 1 ? "is" : "are", n == 1 ? "this address" : "these addresses");
        else
            ds_sbuf_puts(&bb, "There are no continuing alerts.\n\n");
    }
    for (size_t i = 0; i < n; i++) {
        const struct ds_alert *a = alerts[i];
        char addr[DS_ADDR_STRLEN], t[TIME_LEN], pb[8];
        ds_addr_format(&a->address, addr);
        ds_time_format_ns(a->last_ns, t, sizeof t);
        if (ja)
            ds_sbuf_printf(
                &bb, "#%" PRId64 "  %s  %s（%s）  重要度：%s  %" PRIu64 " パケット  最終観測 %s",
                a->id, addr, w->case_short[a->kase], w->state[a->state], w->severity[a->severity],
                a->packets, t);
        else
            ds_sbuf_printf(
                &bb, "#%" PRId64 "  %s  %s (%s)  severity %s  %" PRIu64 " packets  last seen %s",
                a->id, addr, w->case_short[a->kase], ds_alert_state_names[a->state],
                w->severity[a->severity], a->packets, t);
        if (a->n_ports)
            ds_sbuf_printf(&bb, "  %s/%u", ip_proto_name(a->ports[0].proto, pb, sizeof pb),
                           a->ports[0].port);
        ds_sbuf_puts(&bb, "\n");
    }
    if (n && ja)
        ds_sbuf_puts(
            &bb,
            "\n対処済みのアドレスが含まれている場合は、あらためて状況をご確認ください。"
            "詳細が必要な場合や誤検知と思われる場合は、アラート番号を添えてご連絡ください。\n");
    else if (n)
        ds_sbuf_puts(&bb,
                     "\nIf an address here has been dealt with already, please check it again:\n"
                     "packets from it are still arriving. To ask for details or report a false\n"
                     "alarm, quote the alert number.\n");
    if ((rc = ds_sbuf_finish(&sb, subject, "digest subject", err)) < 0) {
        free(bb.p);
        return rc;
    }
    one_line(*subject);
    if ((rc = ds_sbuf_finish(&bb, body, "digest text", err)) < 0) {
        free(*subject);
        *subject = NULL;
        return rc;
    }
    return 0;
}
