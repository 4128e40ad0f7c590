/* pop.c - the registry of traffic populations. */
#include "gen/pop.h"

#include <math.h>

const struct ds_gen_pop *const ds_gen_pops[] = {
    &ds_pop_mirai, &ds_pop_mirai_variant, &ds_pop_zmap,     &ds_pop_masscan,
    &ds_pop_nmap,  &ds_pop_unicornscan,   &ds_pop_research, &ds_pop_kernel,
    &ds_pop_dos,   &ds_pop_amp,           &ds_pop_udp,      &ds_pop_icmp,
    &ds_pop_v6,    &ds_pop_leak,          &ds_pop_oddity,   NULL,
};

unsigned ds_gen_pop_count(void)
{
    unsigned n = 0;
    while (ds_gen_pops[n])
        n++;
    return n;
}

double ds_gen_expect_active_s(const struct ds_gen_pop *p, double dur_s)
{
    /* present actors: active from 0 for min(life, dur); arrivals: from U*dur */
    if (p->mean_life_s <= 0)
        return p->present * dur_s + (1 - p->present) * dur_s / 2;
    double L = p->mean_life_s;
    double present = L * (1 - exp(-dur_s / L));
    /* E over u ~ U(0,1) of L * (1 - exp(-(1-u) dur / L)) */
    double arrive = L - L * L / dur_s * (1 - exp(-dur_s / L));
    return p->present * present + (1 - p->present) * arrive;
}
