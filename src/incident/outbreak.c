/* outbreak.c - change points in the 5-minute series of unique sources per port, fingerprint
 * and class (robust exponentially weighted level on a log scale; see outbreak.h). */
#include "incident/outbreak.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "classify/fingerprint.h"

#define NPORT 65536u
#define N_SERIES (2 * NPORT + DS_FP_COUNT + DS_CLASS_COUNT)

struct ds_ob_state {
    float mean, var;
    uint8_t alarmed, calm;
};

void ds_outbreak_defaults(struct ds_outbreak_config *cfg)
{
    *cfg = (struct ds_outbreak_config){.lambda = 0.02,
                                       .z_min = 6,
                                       .floor = 0.3,
                                       .min_sources = 10,
                                       .min_ratio = 3,
                                       .warmup = 12,
                                       .calm = 12};
}

const char *ds_outbreak_dim_name(enum ds_outbreak_dim d)
{
    static const char *const names[] = {"tcp", "udp", "fingerprint", "class"};
    return d <= DS_OB_CLASS ? names[d] : "?";
}

int ds_outbreaks_init(struct ds_outbreaks *o, const struct ds_outbreak_config *cfg,
                      ds_outbreak_emit_fn emit, void *ctx)
{
    memset(o, 0, sizeof *o);
    if (cfg)
        o->cfg = *cfg;
    else
        ds_outbreak_defaults(&o->cfg);
    o->emit = emit;
    o->ctx = ctx;
    o->st = calloc(N_SERIES, sizeof *o->st);
    return o->st ? 0 : -ENOMEM;
}

void ds_outbreaks_free(struct ds_outbreaks *o)
{
    free(o->st);
    o->st = NULL;
}

static void name_of(enum ds_outbreak_dim d, uint32_t key, char *buf, size_t cap)
{
    switch (d) {
    case DS_OB_TCP:
    case DS_OB_UDP:
        snprintf(buf, cap, "%u/%s", key, d == DS_OB_TCP ? "tcp" : "udp");
        break;
    case DS_OB_FP:
        snprintf(buf, cap, "%s", ds_fingerprints[key]->name);
        break;
    case DS_OB_CLASS:
        snprintf(buf, cap, "%s", ds_class_table[key].name);
        break;
    }
}

/* One series' interval: x sources (p packets). */
static int step(struct ds_outbreaks *o, struct ds_ob_state *s, enum ds_outbreak_dim d, uint32_t key,
                uint32_t idx, uint64_t x, uint64_t p, struct ds_err *err)
{
    const struct ds_outbreak_config *c = &o->cfg;
    double y = log1p((double)x);
    double sd = sqrt((double)s->var + c->floor * c->floor);
    double z = (y - s->mean) / sd;
    if (o->intervals >= c->warmup) {
        double expect = expm1((double)s->mean);
        uint64_t min = d == DS_OB_CLASS && key == DS_CLASS_BACKSCATTER ? 10ull * c->min_sources
                                                                       : c->min_sources;
        if (!s->alarmed && z >= c->z_min && x >= min && (double)x >= c->min_ratio * expect) {
            s->alarmed = 1;
            s->calm = 0;
            o->candidates++;
            if (o->emit && !o->failed) {
                struct ds_outbreak ob = {.dim = d,
                                         .key = key,
                                         .idx = idx,
                                         .sources = x,
                                         .packets = p,
                                         .baseline = expect,
                                         .score = z};
                name_of(d, key, ob.name, sizeof ob.name);
                int rc = o->emit(o->ctx, &ob, err);
                if (rc < 0)
                    return o->failed = rc;
            }
        } else if (s->alarmed) {
            s->calm = z < 2 ? (uint8_t)(s->calm + 1) : 0;
            if (s->calm >= c->calm)
                s->alarmed = 0;
        }
    }
    /* an alarm's values are clipped before they update the level */
    if (s->alarmed && y > s->mean + 3 * sd)
        y = s->mean + 3 * sd;
    double dv = y - s->mean;
    s->mean = (float)(s->mean + c->lambda * dv);
    s->var = (float)((1 - c->lambda) * (s->var + c->lambda * dv * dv));
    return 0;
}

/* ---- saved state: little-endian "DSOB", version, lambda (8 bytes), intervals, last_idx,
 * series count, then per series: index, mean, var (4 bytes each), alarmed, calm ---- */

#define HEAD_LEN (4 + 4 + 8 + 4 + 4 + 4)
#define REC_LEN (4 + 4 + 4 + 1 + 1)

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool learned(const struct ds_ob_state *s)
{
    return s->mean != 0 || s->var != 0 || s->alarmed || s->calm;
}

int ds_outbreaks_save(const struct ds_outbreaks *o, uint8_t **blob, size_t *len, struct ds_err *err)
{
    *blob = NULL;
    *len = 0;
    uint32_t n = 0;
    for (uint32_t i = 0; i < N_SERIES; i++)
        n += learned(&o->st[i]);
    size_t total = HEAD_LEN + (size_t)n * REC_LEN;
    uint8_t *b = malloc(total), *p = b;
    if (!b)
        return ds_err_set(err, -ENOMEM, "saving the outbreak detector: out of memory");
    memcpy(p, "DSOB", 4);
    put32(p + 4, DS_OB_STATE_VERSION);
    uint64_t lb;
    memcpy(&lb, &o->cfg.lambda, 8);
    put32(p + 8, (uint32_t)lb);
    put32(p + 12, (uint32_t)(lb >> 32));
    put32(p + 16, o->intervals);
    put32(p + 20, o->last_idx);
    put32(p + 24, n);
    p += HEAD_LEN;
    for (uint32_t i = 0; i < N_SERIES; i++) {
        const struct ds_ob_state *s = &o->st[i];
        if (!learned(s))
            continue;
        uint32_t m, v;
        memcpy(&m, &s->mean, 4);
        memcpy(&v, &s->var, 4);
        put32(p, i);
        put32(p + 4, m);
        put32(p + 8, v);
        p[12] = s->alarmed;
        p[13] = s->calm;
        p += REC_LEN;
    }
    *blob = b;
    *len = total;
    return 0;
}

int ds_outbreaks_restore(struct ds_outbreaks *o, const uint8_t *b, size_t len, struct ds_err *err)
{
    if (len < HEAD_LEN || memcmp(b, "DSOB", 4) || get32(b + 4) != DS_OB_STATE_VERSION)
        return ds_err_set(err, -EINVAL, "saved outbreak state: not version %d of the format",
                          DS_OB_STATE_VERSION);
    uint64_t lb = (uint64_t)get32(b + 8) | (uint64_t)get32(b + 12) << 32;
    double lambda;
    memcpy(&lambda, &lb, 8);
    if (lambda != o->cfg.lambda)
        return ds_err_set(err, -EINVAL,
                          "saved outbreak state: learned with lambda %g, configured %g", lambda,
                          o->cfg.lambda);
    uint32_t n = get32(b + 24);
    if (n > N_SERIES || len != HEAD_LEN + (size_t)n * REC_LEN)
        return ds_err_set(err, -EINVAL, "saved outbreak state: %zu bytes for %u series", len, n);
    memset(o->st, 0, N_SERIES * sizeof *o->st);
    const uint8_t *p = b + HEAD_LEN;
    for (uint32_t k = 0; k < n; k++, p += REC_LEN) {
        uint32_t i = get32(p), m = get32(p + 4), v = get32(p + 8);
        if (i >= N_SERIES || p[12] > 1) {
            memset(o->st, 0, N_SERIES * sizeof *o->st);
            return ds_err_set(err, -EINVAL, "saved outbreak state: series %u out of range", i);
        }
        struct ds_ob_state *s = &o->st[i];
        memcpy(&s->mean, &m, 4);
        memcpy(&s->var, &v, 4);
        s->alarmed = p[12];
        s->calm = p[13];
    }
    o->intervals = get32(b + 16);
    o->last_idx = get32(b + 20);
    o->restored = o->intervals > 0;
    return 0;
}

int ds_outbreaks_interval(struct ds_outbreaks *o, const struct ds_window *w, struct ds_err *err)
{
    if (o->failed)
        return o->failed;
    if (o->restored && w->gran == DS_GRAN_5M) {
        o->restored = false; /* the first interval after a restore: does it follow on? */
        if (w->idx < o->last_idx || w->idx - o->last_idx > DS_OB_RESTORE_GAP) {
            memset(o->st, 0, N_SERIES * sizeof *o->st);
            o->intervals = 0;
            o->last_idx = 0;
        } else if (w->idx == o->last_idx && o->last_idx > 0) {
            o->last_idx--; /* a restart within the interval: its second part counts too */
        }
    }
    if (w->gran != DS_GRAN_5M || (o->intervals && w->idx <= o->last_idx))
        return 0;
    int rc = 0;
    for (int u = 0; u < 2 && rc == 0; u++)
        for (uint32_t port = 0; port < NPORT && rc == 0; port++) {
            const struct ds_prow *r = &w->port[u][port];
            struct ds_ob_state *s = &o->st[u * NPORT + port];
            if (!r->sources && s->mean == 0 && !s->alarmed)
                continue; /* quiet and never heard of: nothing to learn */
            rc = step(o, s, u ? DS_OB_UDP : DS_OB_TCP, port, w->idx, r->sources - r->r_sources,
                      r->packets - r->r_packets, err);
        }
    for (uint32_t f = 0; f < DS_FP_COUNT && rc == 0; f++)
        rc =
            step(o, &o->st[2 * NPORT + f], DS_OB_FP, f, w->idx,
                 w->fp[f].sources - w->fp[f].r_sources, w->fp[f].packets - w->fp[f].r_packets, err);
    /* classes by sources, but backscatter by packets: a burst is a few victims answering a
     * lot */
    for (uint32_t k = 0; k < DS_CLASS_COUNT && rc == 0; k++) {
        uint64_t p = w->cls[k].packets - w->cls[k].r_packets;
        uint64_t x = k == DS_CLASS_BACKSCATTER ? p : w->cls[k].sources - w->cls[k].r_sources;
        rc = step(o, &o->st[2 * NPORT + DS_FP_COUNT + k], DS_OB_CLASS, k, w->idx, x, p, err);
    }
    o->intervals++;
    o->last_idx = w->idx;
    return rc;
}
