/* window.c - the statistics of one time interval (5 minutes, 1 hour or 1 day). */
#include "analyze/window.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/hash.h"

const char *const ds_gran_names[DS_GRAN_COUNT] = {"5m", "1h", "1d"};
const uint32_t ds_gran_seconds[DS_GRAN_COUNT] = {300, 3600, 86400};
const uint32_t ds_gran_per_5m[DS_GRAN_COUNT] = {1, 12, 288};

const char *const ds_dim_names[DS_DIM_COUNT] = {
    [DS_DIM_TOTAL] = "total",     [DS_DIM_PROTO] = "proto", [DS_DIM_TCP] = "tcp",
    [DS_DIM_UDP] = "udp",         [DS_DIM_ICMP] = "icmp",   [DS_DIM_ICMP6] = "icmp6",
    [DS_DIM_COUNTRY] = "country", [DS_DIM_ASN] = "asn",     [DS_DIM_CLASS] = "class",
    [DS_DIM_FP] = "fingerprint",
};

#define PORT_BYTES (2 * 65536 * sizeof(struct ds_prow))
#define ASN_INITIAL 256

int ds_window_init(struct ds_window *w, enum ds_gran gran)
{
    memset(w, 0, sizeof *w);
    w->gran = gran;
    w->port = ds_bigmem_alloc(PORT_BYTES);
    w->asn_mask = ASN_INITIAL - 1;
    w->asn = calloc(ASN_INITIAL, sizeof *w->asn);
    if (!w->port || !w->asn) {
        ds_window_free(w);
        return -ENOMEM;
    }
    return 0;
}

void ds_window_free(struct ds_window *w)
{
    ds_bigmem_free(w->port, PORT_BYTES);
    free(w->touched);
    free(w->asn);
    memset(w, 0, sizeof *w);
}

void ds_window_reset(struct ds_window *w, uint32_t idx)
{
    /* clear only what was used: the port rows through the touched list */
    for (size_t i = 0; i < w->n_touched; i++) {
        uint32_t k = w->touched[i];
        memset(&w->port[k >> 16][k & 0xffff], 0, sizeof(struct ds_prow));
    }
    w->n_touched = 0;
    if (w->asn_count)
        memset(w->asn, 0, (w->asn_mask + 1) * sizeof *w->asn);
    w->asn_count = 0;
    memset(&w->total, 0, sizeof w->total);
    memset(w->proto, 0, sizeof w->proto);
    memset(w->icmp, 0, sizeof w->icmp);
    memset(w->cls, 0, sizeof w->cls);
    memset(w->fp, 0, sizeof w->fp);
    memset(w->country, 0, sizeof w->country);
    memset(&w->asn0, 0, sizeof w->asn0);
    w->idx = idx;
    w->monitored = 0;
}

bool ds_window_empty(const struct ds_window *w)
{
    return w->total.packets == 0 && w->total.sources == 0;
}

struct ds_prow *ds_window_port_slow(struct ds_window *w, int udp, uint16_t port)
{
    if (w->n_touched == w->cap_touched) {
        size_t ncap = w->cap_touched ? w->cap_touched * 2 : 1024;
        uint32_t *n = realloc(w->touched, ncap * sizeof *n);
        if (!n)
            return NULL;
        w->touched = n;
        w->cap_touched = ncap;
    }
    w->touched[w->n_touched++] = (uint32_t)udp << 16 | port;
    return &w->port[udp][port];
}

static struct ds_asn_row *asn_slot(struct ds_asn_row *tab, size_t mask, uint32_t asn)
{
    size_t i = ds_mix64(asn) & mask;
    while (tab[i].asn && tab[i].asn != asn)
        i = (i + 1) & mask;
    return &tab[i];
}

struct ds_srow *ds_window_asn(struct ds_window *w, uint32_t asn)
{
    if (asn == 0)
        return &w->asn0;
    struct ds_asn_row *r = asn_slot(w->asn, w->asn_mask, asn);
    if (r->asn)
        return &r->row;
    if ((w->asn_count + 1) * 4 > (w->asn_mask + 1) * 3) {
        size_t cap = (w->asn_mask + 1) * 2;
        struct ds_asn_row *n = calloc(cap, sizeof *n);
        if (!n)
            return NULL;
        for (size_t i = 0; i <= w->asn_mask; i++)
            if (w->asn[i].asn)
                *asn_slot(n, cap - 1, w->asn[i].asn) = w->asn[i];
        free(w->asn);
        w->asn = n;
        w->asn_mask = cap - 1;
        r = asn_slot(w->asn, w->asn_mask, asn);
    }
    r->asn = asn;
    w->asn_count++;
    return &r->row;
}

static void add_row(struct ds_srow *d, const struct ds_srow *s, bool traffic_only)
{
    d->packets += s->packets;
    d->bytes += s->bytes;
    d->r_packets += s->r_packets;
    d->r_bytes += s->r_bytes;
    if (!traffic_only) {
        d->sources += s->sources;
        d->r_sources += s->r_sources;
    }
}

static void add_rows(struct ds_srow *d, const struct ds_srow *s, size_t n, bool traffic_only)
{
    for (size_t i = 0; i < n; i++)
        add_row(&d[i], &s[i], traffic_only);
}

int ds_window_add(struct ds_window *dst, const struct ds_window *src, bool traffic_only)
{
    add_row(&dst->total, &src->total, traffic_only);
    add_rows(dst->proto, src->proto, DS_PROTO_COUNT, traffic_only);
    add_rows(&dst->icmp[0][0], &src->icmp[0][0], 2 * 256, traffic_only);
    add_rows(dst->cls, src->cls, DS_CLASS_COUNT, traffic_only);
    add_rows(dst->fp, src->fp, DS_FP_COUNT, traffic_only);
    add_rows(dst->country, src->country, DS_COUNTRY_SLOTS, traffic_only);
    add_row(&dst->asn0, &src->asn0, traffic_only);
    for (size_t i = 0; i <= src->asn_mask; i++) {
        if (!src->asn[i].asn)
            continue;
        struct ds_srow *r = ds_window_asn(dst, src->asn[i].asn);
        if (!r)
            return -ENOMEM;
        add_row(r, &src->asn[i].row, traffic_only);
    }
    for (size_t i = 0; i < src->n_touched; i++) {
        uint32_t k = src->touched[i];
        const struct ds_prow *s = &src->port[k >> 16][k & 0xffff];
        struct ds_prow *d = ds_window_port(dst, (int)(k >> 16), (uint16_t)k);
        if (!d)
            return -ENOMEM;
        d->packets += s->packets;
        d->r_packets += s->r_packets;
        if (!traffic_only) {
            d->sources += s->sources;
            d->r_sources += s->r_sources;
        }
    }
    if (!traffic_only || !dst->monitored)
        dst->monitored = dst->monitored > src->monitored ? dst->monitored : src->monitored;
    return 0;
}

static bool row_used(const struct ds_srow *r)
{
    return r->packets || r->sources;
}

int ds_window_foreach(const struct ds_window *w, ds_window_row_fn fn, void *ctx)
{
    int rc;
#define EMIT(dim, key, row)                                                                        \
    do {                                                                                           \
        if (row_used(row) && (rc = fn(ctx, dim, key, row)) != 0)                                   \
            return rc;                                                                             \
    } while (0)
    EMIT(DS_DIM_TOTAL, 0, &w->total);
    for (uint32_t i = 0; i < DS_PROTO_COUNT; i++)
        EMIT(DS_DIM_PROTO, i, &w->proto[i]);
    for (size_t i = 0; i < w->n_touched; i++) {
        uint32_t k = w->touched[i];
        const struct ds_prow *p = &w->port[k >> 16][k & 0xffff];
        struct ds_srow r = {.packets = p->packets,
                            .sources = p->sources,
                            .r_packets = p->r_packets,
                            .r_sources = p->r_sources};
        EMIT(k >> 16 ? DS_DIM_UDP : DS_DIM_TCP, k & 0xffff, &r);
    }
    for (uint32_t v = 0; v < 2; v++)
        for (uint32_t t = 0; t < 256; t++)
            EMIT(v ? DS_DIM_ICMP6 : DS_DIM_ICMP, t, &w->icmp[v][t]);
    for (uint32_t i = 0; i < DS_COUNTRY_SLOTS; i++)
        EMIT(DS_DIM_COUNTRY, i, &w->country[i]);
    EMIT(DS_DIM_ASN, 0, &w->asn0);
    for (size_t i = 0; i <= w->asn_mask; i++)
        if (w->asn[i].asn)
            EMIT(DS_DIM_ASN, w->asn[i].asn, &w->asn[i].row);
    for (uint32_t i = 0; i < DS_CLASS_COUNT; i++)
        EMIT(DS_DIM_CLASS, i, &w->cls[i]);
    for (uint32_t i = 0; i < DS_FP_COUNT; i++)
        EMIT(DS_DIM_FP, i, &w->fp[i]);
#undef EMIT
    return 0;
}
