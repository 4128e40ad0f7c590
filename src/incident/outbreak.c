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

int ds_outbreaks_interval(struct ds_outbreaks *o, const struct ds_window *w, struct ds_err *err)
{
    if (o->failed)
        return o->failed;
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
