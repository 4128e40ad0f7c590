/* feed.c - the registry of feed kinds and formats, the query's filters, and what the formats
 * share (field values, times, UUIDv5). */
#include "feed/feed.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/timefmt.h"
#include "feed/feed_int.h"

const struct ds_feed_kind *const ds_feed_kinds[] = {&ds_feed_infected, &ds_feed_dos, &ds_feed_stats,
                                                    NULL};
const struct ds_feed_format *const ds_feed_formats[] = {&ds_feed_csv, &ds_feed_json, &ds_feed_stix,
                                                        &ds_feed_misp, NULL};

const struct ds_feed_kind *ds_feed_kind_find(const char *name)
{
    for (size_t i = 0; name && ds_feed_kinds[i]; i++)
        if (!strcmp(ds_feed_kinds[i]->name, name))
            return ds_feed_kinds[i];
    return NULL;
}

const struct ds_feed_format *ds_feed_format_find(const char *name)
{
    for (size_t i = 0; name && ds_feed_formats[i]; i++)
        if (!strcmp(ds_feed_formats[i]->name, name))
            return ds_feed_formats[i];
    return NULL;
}

int ds_feed_add_asn(struct ds_feed_query *q, const char *text, const char *what, struct ds_err *err)
{
    const char *p = text;
    if (!strncasecmp(p, "AS", 2))
        p += 2;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (!*p || *end || errno || v < 1 || v > 4294967295LL || *p == '-' || *p == '+')
        return ds_err_set(err, -EINVAL, "%s '%s': not an AS number (1-4294967295, or AS64500)",
                          what, text);
    if (q->n_asns == DS_FEED_MAX_FILTERS)
        return ds_err_set(err, -E2BIG, "%s '%s': at most %d AS numbers", what, text,
                          DS_FEED_MAX_FILTERS);
    q->asns[q->n_asns++] = v;
    return 0;
}

int ds_feed_add_prefix(struct ds_feed_query *q, const char *text, const char *what,
                       struct ds_err *err)
{
    struct ds_prefix pf;
    struct ds_err e = {0};
    if (ds_prefix_parse(&pf, text, &e) < 0)
        return ds_err_set(err, -EINVAL, "%s: %s", what, e.msg);
    if (q->n_prefixes == DS_FEED_MAX_FILTERS)
        return ds_err_set(err, -E2BIG, "%s '%s': at most %d prefixes", what, text,
                          DS_FEED_MAX_FILTERS);
    q->prefixes[q->n_prefixes++] = pf;
    return 0;
}

bool ds_feed_addr_selected(const struct ds_feed_query *q, const struct ds_addr *a, bool asn_matched)
{
    bool in = q->n_asns == 0 && q->n_prefixes == 0;
    if (!in && asn_matched)
        in = true;
    for (size_t i = 0; !in && i < q->n_prefixes; i++)
        in = ds_prefix_contains(&q->prefixes[i], a);
    return in && (!q->keep || q->keep(q->keep_ctx, a));
}

int ds_feed_read(struct ds_store *s, const struct ds_feed_kind *kind, const struct ds_feed_query *q,
                 struct ds_feed *out, struct ds_err *err)
{
    char producer[sizeof out->producer];
    snprintf(producer, sizeof producer, "%s", out->producer[0] ? out->producer : "darkscope");
    int64_t generated = out->generated ? out->generated : (int64_t)time(NULL);
    memset(out, 0, sizeof *out);
    memcpy(out->producer, producer, sizeof producer);
    out->generated = generated;
    out->kind = kind;
    if (!kind->by_address && (q->n_asns || q->n_prefixes))
        return ds_err_set(err, -EINVAL,
                          "feed %s: --asn and --prefix do not apply (its rows are not about "
                          "addresses)",
                          kind->name);
    if (q->period.has_from)
        ds_time_format(q->period.from, out->period_from, sizeof out->period_from);
    if (q->period.has_to)
        ds_time_format(q->period.to, out->period_to, sizeof out->period_to);
    return kind->read(s, q, &out->rows, err);
}

void ds_feed_free(struct ds_feed *f)
{
    json_decref(f->rows);
    f->rows = NULL;
}

int ds_feed_write(FILE *f, const struct ds_feed_format *fmt, const struct ds_feed *feed,
                  struct ds_err *err)
{
    int rc = fmt->write(f, feed, err);
    if (rc == 0 && (fflush(f) || ferror(f)))
        rc = ds_err_set(err, -EIO, "writing the %s feed as %s failed", feed->kind->name, fmt->name);
    return rc;
}

/* ---------------------------------------------------------------- times ----------------- */

int64_t ds_feed_iso_ns(const char *iso)
{
    int y, mo, d, h, mi, s;
    int n = 0;
    if (!iso || sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6)
        return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    int64_t t = (int64_t)timegm(&tm);
    int64_t frac = 0;
    const char *p = iso + n;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (digits < 9) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
        for (; digits < 9; digits++)
            frac *= 10;
    }
    if (*p != 'Z' || p[1])
        return -1;
    return t * 1000000000 + frac;
}

void ds_feed_iso_ms(const char *iso, char *buf, size_t cap)
{
    int64_t ns = ds_feed_iso_ns(iso);
    if (ns < 0)
        ns = 0;
    char full[40];
    ds_time_format(ns / 1000000000, full, sizeof full); /* ...:SSZ */
    size_t len = strlen(full);
    if (len)
        full[len - 1] = 0;
    snprintf(buf, cap, "%s.%03dZ", full, (int)(ns % 1000000000 / 1000000));
}

/* "2024-01-01T00:00:00.5Z" -> "2024-01-01 00:00:00" */
static json_t *sstime(const char *iso)
{
    char b[20];
    if (!iso || strlen(iso) < 19)
        return NULL;
    memcpy(b, iso, 19);
    b[10] = ' ';
    b[19] = 0;
    return json_string(b);
}

/* -> "2024-01-01T00:00:00.500000+00:00" (IntelMQ's DateTime form) */
static json_t *isotime(const char *iso)
{
    int64_t ns = ds_feed_iso_ns(iso);
    if (ns < 0)
        return NULL;
    char b[40], out[64];
    ds_time_format(ns / 1000000000, b, sizeof b);
    b[19] = 0; /* "YYYY-MM-DDTHH:MM:SS" */
    snprintf(out, sizeof out, "%.19s.%06d+00:00", b, (int)(ns % 1000000000 / 1000));
    return json_string(out);
}

/* ---------------------------------------------------------------- fields ---------------- */

json_t *ds_feed_field_value(const struct ds_feed *feed, const struct ds_feed_field *fl, json_t *row,
                            bool flat)
{
    if (fl->conv == DS_CONV_CONST)
        return json_string(fl->key);
    if (fl->conv == DS_CONV_PRODUCER)
        return json_string(feed->producer);
    if (fl->conv == DS_CONV_GENERATED) {
        char b[32];
        ds_time_format(feed->generated, b, sizeof b);
        return isotime(b);
    }
    json_t *v = json_object_get(row, fl->key);
    if (!v || json_is_null(v))
        return NULL;
    switch (fl->conv) {
    case DS_CONV_SSTIME:
        return sstime(json_string_value(v));
    case DS_CONV_ISOTIME:
        return isotime(json_string_value(v));
    case DS_CONV_FIRST: {
        json_t *e = json_array_get(v, 0);
        if (json_is_object(e))
            e = json_object_get(e, "port");
        return e ? json_incref(e) : NULL;
    }
    case DS_CONV_JOIN:
    case DS_CONV_PORTS: {
        if (!flat)
            return json_incref(v);
        char text[1024] = "";
        size_t n = 0, i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            char one[64];
            if (fl->conv == DS_CONV_PORTS)
                snprintf(one, sizeof one, "%" JSON_INTEGER_FORMAT ":%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(e, "port")),
                         json_integer_value(json_object_get(e, "packets")));
            else
                snprintf(one, sizeof one, "%s", json_is_string(e) ? json_string_value(e) : "");
            int w = snprintf(text + n, sizeof text - n, "%s%s", n ? ";" : "", one);
            if (w < 0 || (size_t)w >= sizeof text - n)
                break;
            n += (size_t)w;
        }
        return json_string(text);
    }
    default:
        return json_incref(v);
    }
}

/* ---------------------------------------------------------------- UUIDv5 ---------------- */

static int uuid_parse16(const char *s, unsigned char out[16])
{
    size_t k = 0;
    for (const char *p = s; *p && k < 32; p++) {
        if (*p == '-')
            continue;
        unsigned v;
        if (sscanf(p, "%1x", &v) != 1)
            return -1;
        out[k / 2] = (unsigned char)(k % 2 ? (out[k / 2] << 4) | v : v);
        k++;
    }
    return k == 32 ? 0 : -1;
}

int ds_feed_uuid5(const char *ns, const char *name, char *out, struct ds_err *err)
{
    unsigned char nsb[16], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (uuid_parse16(ns, nsb) < 0)
        return ds_err_set(err, -EINVAL, "uuid5: bad namespace '%s'", ns);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
             EVP_DigestUpdate(ctx, nsb, sizeof nsb) && EVP_DigestUpdate(ctx, name, strlen(name)) &&
             EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok || mdlen < 16)
        return ds_err_set(err, -EIO, "uuid5: SHA-1 failed (libcrypto)");
    md[6] = (unsigned char)((md[6] & 0x0f) | 0x50); /* version 5 */
    md[8] = (unsigned char)((md[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[md[i] >> 4];
        out[o++] = hex[md[i] & 15];
    }
    out[o] = 0;
    return 0;
}
