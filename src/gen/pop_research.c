/* pop_research.c - research and Internet-measurement scanners from their published
 * prefixes (gen/research.c): TCP SYN surveys and UDP amplification surveys. */
#include "gen/pop.h"

#include <math.h>

#include "gen/research.h"
#include "gen/rules.h"
#include "gen/synscan.h"

#define RESEARCH_LO 5e3
#define RESEARCH_HI 100e3

static int research_start(struct ds_gen *g, struct ds_gen_actor *a, uint64_t *first)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    size_t norg = ds_research_org_count();
    double w[16];
    double total = 0;
    for (size_t i = 0; i < norg && i < 16; i++) {
        /* an organisation takes at most half its addresses, so random picks stay cheap */
        bool room = 2 * g->research_chosen4[i] < g->research_cap4[i];
        w[i] = room ? ds_research_orgs[i].weight : 0;
        total += w[i];
    }
    if (total <= 0) { /* every published range is half used: the rest stay silent */
        *first = DS_GEN_NEVER;
        return 0;
    }
    unsigned org = ds_rng_weighted(r, w, (unsigned)(norg < 16 ? norg : 16));
    g->research_chosen4[org]++;
    a->u.tool.style = (uint8_t)org;
    a->kind = (uint8_t)ds_rng_weighted(r, ds_research_orgs[org].style_weight, DS_RS_COUNT);
    a->rate = ds_rng_logu(r, RESEARCH_LO, RESEARCH_HI) * g->share4;
    a->u.tool.ports = ds_ports_popular;
    a->u.tool.nports = ds_ports_popular_n;
    if (a->kind == DS_RS_UDP_SURVEY) {
        size_t n = ds_gen_probe_count(ds_gen_amp_probes);
        double pw[32];
        for (size_t i = 0; i < n && i < 32; i++)
            pw[i] = ds_gen_amp_probes[i].weight;
        a->u.tool.probe = &ds_gen_amp_probes[ds_rng_weighted(r, pw, (unsigned)(n < 32 ? n : 32))];
        int c = ds_truth_add_campaign(&g->truth);
        if (c < 0)
            return ds_err_set(g->err, c, "out of memory");
        struct ds_truth_campaign *tc = &g->truth.campaigns[c];
        tc->probe = a->u.tool.probe->name;
        tc->protocol = a->u.tool.probe->proto;
        tc->port = a->u.tool.probe->port;
        tc->research = true;
        tc->nsrc = 1;
        tc->start_ns = a->start_ns;
        tc->end_ns = a->end_ns;
        tc->rate_pps = a->rate / g->share4;
        a->aux = c;
    }
    *first = ds_gen_after(r, a->start_ns, a->rate);
    return 0;
}

static int research_step(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, uint64_t *next)
{
    struct ds_rng *r = ds_gen_rng(g, a);
    if (a->src == DS_GEN_NOSRC) {
        int rc = ds_gen_alloc(g, a->pop, DS_GEN_ALLOC_RESEARCH4, a->u.tool.style, &a->src);
        if (rc < 0)
            return rc;
        if (a->aux >= 0)
            g->truth.campaigns[a->aux].src[0] = a->src;
    }
    uint32_t dst = ds_gen_dst4(g, r);
    *next = ds_gen_after(r, t, a->rate);
    switch (a->kind) {
    case DS_RS_ZMAP:
    case DS_RS_ZMAP_MSS:
    case DS_RS_CUSTOM: {
        static const enum ds_syn_tool tool[] = {[DS_RS_ZMAP] = DS_SYN_ZMAP,
                                                [DS_RS_ZMAP_MSS] = DS_SYN_ZMAP_MSS,
                                                [DS_RS_CUSTOM] = DS_SYN_CUSTOM};
        uint16_t port = ds_pick_port(r, a->u.tool.ports, a->u.tool.nports, 0);
        return ds_syn_tool_send(g, a, t, tool[a->kind], dst, port, 0);
    }
    default: {
        const struct ds_gen_udp_probe *p = a->u.tool.probe;
        uint8_t buf[512];
        size_t len = ds_gen_probe_fill(p, r, buf, sizeof buf);
        struct ds_craft c = {.src = *ds_gen_src_addr(g, a->src),
                             .ttl = (uint8_t)(64 - a->hops),
                             .ip_id = ds_rng_u16(r),
                             .proto = 17,
                             .sport = (uint16_t)ds_rng_range(r, 32768, 61000),
                             .dport = p->port,
                             .payload = buf,
                             .payload_len = len};
        ds_addr_set_v4(&c.dst, dst);
        struct ds_gen_meta m = ds_gen_meta_plain(a->src);
        m.amp = p->amp;
        m.campaign = a->aux;
        return ds_gen_emit(g, t, &c, &m);
    }
    }
}

static double research_expect(const struct ds_gen *g)
{
    return (RESEARCH_HI - RESEARCH_LO) / log(RESEARCH_HI / RESEARCH_LO) * g->share4 *
           ds_gen_expect_active_s(&ds_pop_research, (double)(g->t1 - g->t0) / 1e9);
}

const struct ds_gen_pop ds_pop_research = {
    .name = "research",
    .option = "research",
    .description = "research scanners from published prefixes (Censys, Shodan, Shadowserver...)",
    .size = {[DS_GEN_PROFILE_DEMO] = 60, [DS_GEN_PROFILE_BENCH] = 1300, [DS_GEN_PROFILE_TINY] = 40},
    .scalable = true,
    .present = 0.8,
    .mean_life_s = 0,
    .start = research_start,
    .step = research_step,
    .expect = research_expect,
};
