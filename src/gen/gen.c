/* gen.c - `darkscope gen`'s engine loop: profiles, set-up, the event queue of actors and
 * population spawners, and the final truth file. */
#include "gen/gen.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/engine.h"
#include "gen/pop.h"
#include "gen/research.h"

const char *const ds_gen_profile_names[DS_GEN_PROFILE_COUNT + 1] = {[DS_GEN_PROFILE_DEMO] = "demo",
                                                                    [DS_GEN_PROFILE_BENCH] =
                                                                        "bench",
                                                                    [DS_GEN_PROFILE_TINY] = "tiny",
                                                                    [DS_GEN_PROFILE_COUNT] = NULL};

#define SPAWN_BASE 0xffffff00u
#define DEFAULT_START_NS (1704067200ull * DS_NS) /* 2024-01-01T00:00:00Z */

void ds_gen_opts_profile(struct ds_gen_opts *o, enum ds_gen_profile p)
{
    memset(o, 0, sizeof *o);
    o->profile = p;
    o->seed = 1;
    o->start_ns = DEFAULT_START_NS;
    o->format = DS_PCAPW_PCAP;
    o->link = DS_CRAFT_ETHERNET;
    o->snaplen = 262144;
    o->top = 100;
    o->hosts = DS_TRUTH_HOSTS_AUTO;
    switch (p) {
    case DS_GEN_PROFILE_BENCH:
        /* one /16 (RFC 2544's benchmarking range) for an hour: ~10 M packets, ~790 k sources */
        snprintf(o->darknet, sizeof o->darknet, "198.18.0.0/16");
        o->duration_ns = 3600 * DS_NS;
        break;
    case DS_GEN_PROFILE_TINY:
        snprintf(o->darknet, sizeof o->darknet, "198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48");
        o->duration_ns = 600 * DS_NS;
        break;
    default:
        snprintf(o->darknet, sizeof o->darknet, "198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48");
        o->duration_ns = 3600 * DS_NS;
        break;
    }
    for (unsigned i = 0; ds_gen_pops[i] && i < DS_GEN_MAX_POPS; i++)
        o->count[i] = ds_gen_pops[i]->size[p];
}

/* ---- set-up and tear-down ---- */

static int parse_research(struct ds_gen *g, struct ds_err *err)
{
    size_t n4 = 0, n6 = 0;
    for (size_t o = 0; ds_research_orgs[o].name; o++) {
        for (size_t i = 0; ds_research_orgs[o].v4[i]; i++)
            n4++;
        for (size_t i = 0; ds_research_orgs[o].v6[i]; i++)
            n6++;
    }
    g->research4 = calloc(n4 + 1, sizeof *g->research4);
    g->research6 = calloc(n6 + 1, sizeof *g->research6);
    g->research4_org = calloc(n4 + 1, sizeof *g->research4_org);
    g->research6_org = calloc(n6 + 1, sizeof *g->research6_org);
    if (!g->research4 || !g->research6 || !g->research4_org || !g->research6_org)
        return ds_err_set(err, -ENOMEM, "out of memory");
    for (size_t o = 0; ds_research_orgs[o].name; o++) {
        const struct ds_research_org *org = &ds_research_orgs[o];
        for (size_t i = 0; org->v4[i]; i++) {
            int rc = ds_prefix_parse(&g->research4[g->nresearch4], org->v4[i], err);
            if (rc < 0)
                return ds_err_wrap(err, "research list (%s)", org->name);
            unsigned bits = g->research4[g->nresearch4].len - 96u;
            uint64_t span = 1ull << (32 - bits);
            /* the .0 and .255 addresses are not used as sources */
            uint64_t usable = span >= 256 ? span / 256 * 254 : span;
            if (o < 32)
                g->research_cap4[o] += usable;
            g->research4_org[g->nresearch4++] = (uint16_t)o;
        }
        for (size_t i = 0; org->v6[i]; i++) {
            int rc = ds_prefix_parse(&g->research6[g->nresearch6], org->v6[i], err);
            if (rc < 0)
                return ds_err_wrap(err, "research list (%s)", org->name);
            g->research6_org[g->nresearch6++] = (uint16_t)o;
        }
    }
    return 0;
}

/* Parses the darknet and research lists: everything --packets needs to estimate. */
static int setup_space(struct ds_gen *g, const struct ds_gen_opts *o, struct ds_err *err)
{
    g->o = o;
    g->err = err;
    g->t0 = o->start_ns;
    g->t1 = o->start_ns + o->duration_ns;
    ds_darknet_init(&g->dn);
    int rc = ds_darknet_add_list(&g->dn, o->darknet, "--darknet", err);
    if (rc < 0)
        return rc;
    ds_darknet_finish(&g->dn);
    if (ds_darknet_is_all(&g->dn))
        return ds_err_set(err, -EINVAL, "--darknet: no prefix given");
    g->d4 = g->dn.n_v4 ? ds_darknet_v4_addresses(&g->dn) : 0;
    g->share4 = (double)g->d4 / 4294967296.0;
    g->cum4 = calloc(g->dn.n_v4 + 1, sizeof *g->cum4);
    if (!g->cum4)
        return ds_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < g->dn.n_v4; i++)
        g->cum4[i + 1] = g->cum4[i] + (uint64_t)(g->dn.v4[i].hi - g->dn.v4[i].lo) + 1;
    return parse_research(g, err);
}

static void teardown(struct ds_gen *g)
{
    ds_darknet_free(&g->dn);
    free(g->cum4);
    free(g->research4);
    free(g->research6);
    free(g->research4_org);
    free(g->research6_org);
    ds_sched_free(&g->q);
    for (size_t i = 0; i < g->nchunks; i++)
        free(g->actor_chunks[i]);
    free(g->actor_chunks);
    free(g->freelist);
    ds_srctab_free(&g->srcs);
    ds_truth_free(&g->truth);
    free(g->check_state);
    if (g->w)
        ds_pcapw_abort(g->w);
}

/* A population can run when the darknet has the family it needs. */
static bool pop_possible(const struct ds_gen *g, const struct ds_gen_pop *p)
{
    return p->v6 ? g->dn.n_v6 > 0 : g->d4 > 0;
}

int ds_gen_expected_packets(const struct ds_gen_opts *o, double *out, struct ds_err *err)
{
    struct ds_gen *g = calloc(1, sizeof *g);
    if (!g)
        return ds_err_set(err, -ENOMEM, "out of memory");
    int rc = setup_space(g, o, err);
    double sum = 0;
    for (unsigned i = 0; rc == 0 && ds_gen_pops[i]; i++) {
        const struct ds_gen_pop *p = ds_gen_pops[i];
        if (p->expect && pop_possible(g, p))
            sum += p->expect(g) * (double)o->count[i];
    }
    *out = sum;
    teardown(g);
    free(g);
    return rc;
}

/* ---- actors ---- */

static inline struct ds_gen_actor *actor_at(const struct ds_gen *g, uint32_t id)
{
    return &g->actor_chunks[id >> DS_GEN_CHUNK_BITS][id & (DS_GEN_CHUNK - 1)];
}

static int actor_new(struct ds_gen *g, uint32_t *id)
{
    if (g->nfree) {
        *id = g->freelist[--g->nfree];
        return 0;
    }
    if (g->nactors == g->nchunks * DS_GEN_CHUNK) { /* chunks: no copying, no 2x overshoot */
        if (g->nactors + DS_GEN_CHUNK >= SPAWN_BASE)
            return ds_err_set(g->err, -ENOMEM, "too many live actors");
        struct ds_gen_actor **c = realloc(g->actor_chunks, (g->nchunks + 1) * sizeof *c);
        if (!c)
            return ds_err_set(g->err, -ENOMEM, "out of memory for actors");
        g->actor_chunks = c;
        if (!(c[g->nchunks] = malloc(DS_GEN_CHUNK * sizeof **c)))
            return ds_err_set(g->err, -ENOMEM, "out of memory for actors");
        g->nchunks++;
    }
    *id = (uint32_t)g->nactors++;
    return 0;
}

static int actor_free(struct ds_gen *g, uint32_t id)
{
    if (g->nfree == g->capfree) {
        size_t cap = g->capfree ? g->capfree * 2 : 4096;
        uint32_t *f = realloc(g->freelist, cap * sizeof *f);
        if (!f)
            return ds_err_set(g->err, -ENOMEM, "out of memory");
        g->freelist = f;
        g->capfree = cap;
    }
    g->freelist[g->nfree++] = id;
    return 0;
}

/* Handles a spawner event at the top of the queue: creates one actor of population p and
 * re-times (or removes) the spawner. */
static int spawn(struct ds_gen *g, unsigned p, uint64_t t)
{
    const struct ds_gen_pop *pop = ds_gen_pops[p];
    struct ds_gen_spawner *sp = &g->spawn[p];
    struct ds_rng *r = &g->pop_rng[p];
    if (sp->present)
        sp->present--;
    else
        sp->arrivals--;
    /* next spawn time: the remaining present actors at t0, then sorted uniform arrivals
     * drawn one at a time (the sequential method for order statistics) */
    int rc = 0;
    if (sp->present) {
        rc = ds_sched_retime_top(&g->q, g->t0);
    } else if (sp->arrivals) {
        double k = (double)sp->arrivals;
        sp->u += (1 - sp->u) * (1 - pow(ds_rng_unit(r), 1 / k));
        uint64_t tn = g->t0 + (uint64_t)(sp->u * (double)(g->t1 - g->t0));
        rc = ds_sched_retime_top(&g->q, tn < t ? t : tn);
    } else {
        ds_sched_pop(&g->q);
    }
    if (rc < 0)
        return ds_err_set(g->err, rc, "out of memory for the event queue");

    uint32_t id = 0;
    rc = actor_new(g, &id);
    if (rc < 0)
        return rc;
    struct ds_gen_actor *a = actor_at(g, id);
    memset(a, 0, sizeof *a);
    a->pop = (uint16_t)p;
    a->src = DS_GEN_NOSRC;
    a->aux = -1;
    a->start_ns = t;
    a->end_ns = g->t1;
    a->hops = (uint8_t)ds_rng_range(r, 3, 24);
    if (pop->mean_life_s > 0) {
        double life = ds_rng_exp(r, pop->mean_life_s) * 1e9;
        if (life < (double)(g->t1 - t))
            a->end_ns = t + (uint64_t)life;
    }
    uint64_t first = DS_GEN_NEVER;
    g->truth.pops[p].actors++;
    rc = pop->start(g, a, &first);
    if (rc < 0)
        return rc;
    if (first == DS_GEN_NEVER || first >= a->end_ns || first >= g->t1) {
        g->truth.pops[p].silent++;
        return actor_free(g, id);
    }
    if (ds_sched_push(&g->q, first < t ? t : first, id) < 0)
        return ds_err_set(g->err, -ENOMEM, "out of memory for the event queue");
    return 0;
}

static int run_loop(struct ds_gen *g, struct ds_gen_stats *st)
{
    while (g->q.n) {
        const struct ds_sched_ent *e = ds_sched_top(&g->q);
        if (!e)
            return ds_err_set(g->err, -ENOMEM, "out of memory for the event queue");
        uint64_t t = e->t;
        if (t >= g->t1)
            break;
        uint32_t id = e->id;
        int rc;
        if (id >= SPAWN_BASE) {
            rc = spawn(g, id - SPAWN_BASE, t);
            if (rc < 0)
                return rc;
            continue;
        }
        struct ds_gen_actor *a = actor_at(g, id);
        uint64_t next = DS_GEN_NEVER;
        rc = ds_gen_pops[a->pop]->step(g, a, t, &next);
        if (rc < 0)
            return rc;
        if (next == DS_GEN_NEVER || next >= a->end_ns || next >= g->t1) {
            ds_sched_pop(&g->q);
            if (a->src == DS_GEN_NOSRC)
                g->truth.pops[a->pop].silent++;
            rc = actor_free(g, id);
            if (rc < 0)
                return rc;
        } else if (ds_sched_retime_top(&g->q, next <= t ? t + 1 : next) < 0) {
            return ds_err_set(g->err, -ENOMEM, "out of memory for the event queue");
        }
    }
    st->actors = g->nactors;
    return 0;
}

static int start_spawners(struct ds_gen *g)
{
    for (unsigned p = 0; ds_gen_pops[p]; p++) {
        const struct ds_gen_pop *pop = ds_gen_pops[p];
        long n = g->o->count[p];
        if (n <= 0 || !pop_possible(g, pop))
            continue;
        struct ds_gen_spawner *sp = &g->spawn[p];
        sp->present = (uint64_t)llround((double)n * pop->present);
        if (sp->present > (uint64_t)n)
            sp->present = (uint64_t)n;
        sp->arrivals = (uint64_t)n - sp->present;
        sp->u = 0;
        uint64_t t = g->t0;
        if (!sp->present) {
            double k = (double)sp->arrivals;
            sp->u = 1 - pow(ds_rng_unit(&g->pop_rng[p]), 1 / k);
            t = g->t0 + (uint64_t)(sp->u * (double)(g->t1 - g->t0));
        }
        if (ds_sched_push(&g->q, t, SPAWN_BASE + p) < 0)
            return ds_err_set(g->err, -ENOMEM, "out of memory for the event queue");
    }
    return 0;
}

/* Writes the truth into f (opened before the run, so a bad path fails early) and closes it. */
static int write_truth(struct ds_gen *g, FILE *f, struct ds_err *err)
{
    const struct ds_gen_opts *o = g->o;
    /* the prefixes as given, normalised */
    char list[sizeof o->darknet];
    snprintf(list, sizeof list, "%s", o->darknet);
    const char *names[64];
    char bufs[64][DS_PREFIX_STRLEN];
    size_t n = 0;
    for (char *tok = strtok(list, ", \t"); tok && n < 64; tok = strtok(NULL, ", \t")) {
        struct ds_prefix p;
        if (ds_prefix_parse(&p, tok, NULL) == 0)
            names[n] = ds_prefix_format(&p, bufs[n]), n++;
    }
    const char *pop_names[DS_GEN_MAX_POPS];
    for (unsigned i = 0; ds_gen_pops[i]; i++)
        pop_names[i] = ds_gen_pops[i]->name;
    const char *org_names[32];
    for (size_t i = 0; ds_research_orgs[i].name && i < 32; i++)
        org_names[i] = ds_research_orgs[i].name;
    struct ds_truth_meta m = {
        .seed = o->seed,
        .profile = ds_gen_profile_names[o->profile],
        .start_ns = g->t0,
        .end_ns = g->t1,
        .monitored_v4 = g->d4,
        .darknet = names,
        .ndarknet = n,
        .format = o->format == DS_PCAPW_PCAPNG ? "pcapng" : "pcap",
        .link = o->link == DS_CRAFT_RAW ? "raw" : "ethernet",
        .nanosec = o->nanosec,
        .top = o->top,
        .hosts = o->hosts,
        .pop_names = pop_names,
        .org_names = org_names,
        .seconds_resolution_ns = g->res_ns,
    };
    int rc = ds_truth_write(&g->truth, &g->srcs, &m, f, err);
    if (fclose(f) != 0 && rc == 0)
        rc = ds_err_set(err, -errno, "cannot write '%s': %s", o->truth_path, strerror(errno));
    if (rc < 0)
        ds_err_wrap(err, "%s", o->truth_path);
    return rc;
}

int ds_gen_run(const struct ds_gen_opts *o, struct ds_gen_stats *st, struct ds_err *err)
{
    memset(st, 0, sizeof *st);
    if (o->duration_ns == 0)
        return ds_err_set(err, -EINVAL, "the duration must be positive");
    struct ds_gen *g = calloc(1, sizeof *g);
    if (!g)
        return ds_err_set(err, -ENOMEM, "out of memory");
    FILE *truth = NULL;
    int rc = ds_sched_init(&g->q) < 0 ? ds_err_set(err, -ENOMEM, "out of memory") : 0;
    if (rc == 0)
        rc = setup_space(g, o, err);
    if (rc < 0)
        goto out;
    unsigned npops = ds_gen_pop_count();
    ds_rng_seed(&g->alloc_rng, o->seed, 1000);
    for (unsigned p = 0; p < npops; p++)
        ds_rng_seed(&g->pop_rng[p], o->seed, p + 1);
    if (ds_srctab_init(&g->srcs) < 0 || ds_truth_init(&g->truth, npops) < 0) {
        rc = ds_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    g->linktype = ds_craft_linktype(o->link);
    g->res_ns = o->nanosec ? 1 : 1000;
    struct ds_pcapw_opts wo = {.format = o->format,
                               .linktype = g->linktype,
                               .snaplen = o->snaplen,
                               .nanosec = o->nanosec,
                               .zstd = o->zstd,
                               .zstd_level = o->zstd_level,
                               .appname = "darkscope gen"};
    if (o->truth_path && !(truth = fopen(o->truth_path, "w"))) {
        rc = ds_err_set(err, -errno, "cannot create '%s': %s", o->truth_path, strerror(errno));
        goto out;
    }
    rc = ds_pcapw_open(&g->w, o->out_path, &wo, err);
    if (rc < 0)
        goto out;
    rc = start_spawners(g);
    if (rc == 0)
        rc = run_loop(g, st);
    st->bytes = ds_pcapw_bytes(g->w);
    struct ds_err cerr = {0};
    int crc = ds_pcapw_close(g->w, &cerr);
    g->w = NULL;
    if (rc < 0)
        goto out;
    if (crc < 0) {
        rc = ds_err_set(err, crc, "%s", cerr.msg);
        goto out;
    }
    st->packets = g->truth.packets;
    st->darknet_packets = g->truth.darknet_packets;
    st->sources = g->truth.sources;
    st->self_check_mismatches = g->check_mismatch;
    if (g->check_mismatch) {
        rc = ds_err_wrap(err, "%" PRIu64 " packets disagree with the analyzer's decoder",
                         g->check_mismatch);
        goto out;
    }
    if (truth) {
        rc = write_truth(g, truth, err);
        truth = NULL;
    }
out:
    if (truth) /* a failed run leaves no half-written truth behind */
        fclose(truth), remove(o->truth_path);
    teardown(g);
    free(g);
    return rc;
}
