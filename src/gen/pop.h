/* pop.h - traffic populations: one descriptor per kind of darknet visitor, one registry
 * (in the style of zmap's probe modules). */
#ifndef DS_POP_H
#define DS_POP_H

#include <stdbool.h>
#include <stdint.h>

#include "gen/engine.h"

/*
 * A population is a set of actors of one kind (Mirai bots, ZMap scanners, DoS victims...).
 * The engine spawns `count` actors per run: a share `present` is active when the capture
 * starts, the others arrive at uniformly random times; each stays active for an exponential
 * time of mean `mean_life_s` (0: to the end), unless `start` changes a->end_ns.
 */
struct ds_gen_pop {
    const char *name;                /* key in the truth ("populations", hosts' "population") */
    const char *option;              /* command-line option for its size, e.g. "bots" */
    const char *description;         /* one line for --help and docs */
    long size[DS_GEN_PROFILE_COUNT]; /* default count per profile */
    bool v6;                         /* needs an IPv6 darknet prefix (otherwise an IPv4 one) */
    bool scalable;                   /* scaled by --scale / --packets */
    double present;
    double mean_life_s;
    /* Sets up a new actor (a->pop, hops, start/end already set, a->src unallocated). Sets
     * *first to its first event time, or DS_GEN_NEVER when it will send nothing. 0 or <0. */
    int (*start)(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first);
    /* Sends what is due at t; sets *next (DS_GEN_NEVER when done). 0 or <0 (g->err set). */
    int (*step)(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next);
    /* Mean darknet packets one actor sends during the run (for --packets); may be NULL. */
    double (*expect)(const struct ds_gen *g);
};

extern const struct ds_gen_pop ds_pop_mirai, ds_pop_mirai_variant, ds_pop_zmap, ds_pop_masscan,
    ds_pop_nmap, ds_pop_unicornscan, ds_pop_research, ds_pop_kernel, ds_pop_dos, ds_pop_amp,
    ds_pop_udp, ds_pop_icmp, ds_pop_v6, ds_pop_leak, ds_pop_oddity;

/* The registry, NULL-terminated; the index is the population's id (RNG stream, truth). */
extern const struct ds_gen_pop *const ds_gen_pops[];
unsigned ds_gen_pop_count(void);

/* Expected events of a Poisson process of `rate` per second over an actor's expected active
 * time in a run of dur_s seconds (for the expect callbacks). */
double ds_gen_expect_active_s(const struct ds_gen_pop *p, double dur_s);

#endif
