/* engine.c - what populations see of the generator: sampling, source allocation, and the
 * one emit path that writes a packet and counts its ground truth (by construction: the
 * population states what it sends, gen/rules.c labels it, the analyzer is not consulted). */
#include "gen/engine.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "decode/decode.h"
#include "gen/pcapw.h"
#include "gen/pop.h"
#include "gen/rules.h"

uint64_t ds_gen_after(struct ds_rng *r, uint64_t t, double rate)
{
    if (rate <= 0)
        return DS_GEN_NEVER;
    double gap = ds_rng_exp(r, 1.0 / rate) * 1e9;
    if (gap >= 1.8e19 - (double)t)
        return DS_GEN_NEVER;
    uint64_t g = (uint64_t)gap;
    return t + (g ? g : 1); /* strictly later: an actor never sends twice at one instant */
}

uint32_t ds_gen_dst4_at(const struct ds_gen *g, uint64_t idx)
{
    size_t lo = 0, hi = g->dn.n_v4; /* cum4[lo] <= idx < cum4[hi] */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (g->cum4[mid] <= idx)
            lo = mid;
        else
            hi = mid;
    }
    return g->dn.v4[lo].lo + (uint32_t)(idx - g->cum4[lo]);
}

uint32_t ds_gen_dst4(struct ds_gen *g, struct ds_rng *r)
{
    return ds_gen_dst4_at(g, ds_rng_below(r, g->d4));
}

void ds_gen_dst6(struct ds_gen *g, struct ds_rng *r, struct ds_addr *out)
{
    const struct ds_prefix *p = &g->dn.v6[ds_rng_below(r, g->dn.n_v6)];
    uint8_t b[16];
    for (int i = 0; i < 16; i += 8) {
        uint64_t x = ds_rng_next(r);
        memcpy(b + i, &x, 8);
    }
    if (p->len <= 64) {
        /* subnet: mostly small subnet numbers, as operators number them */
        if (ds_rng_chance(r, 0.7)) {
            memset(b, 0, 8);
            b[7] = (uint8_t)ds_rng_below(r, 16);
        }
        unsigned pat = (unsigned)ds_rng_below(r, 10);
        if (pat < 4) { /* ::1 .. ::ff */
            memset(b + 8, 0, 8);
            b[15] = (uint8_t)ds_rng_range(r, 1, 255);
        } else if (pat < 6) { /* ::N with N < 65536 */
            memset(b + 8, 0, 6);
        } else if (pat < 8) { /* EUI-64: xx:xx:xx:ff:fe:xx:xx:xx */
            b[11] = 0xff;
            b[12] = 0xfe;
            b[8] |= 0x02;
        } /* else: a random interface id (privacy address) */
    }
    /* overlay the prefix bits */
    for (unsigned i = 0; i < 16; i++) {
        unsigned bit0 = i * 8;
        if (bit0 + 8 <= p->len) {
            b[i] = p->addr.b[i];
        } else if (bit0 < p->len) {
            uint8_t mask = (uint8_t)(0xff << (8 - (p->len - bit0)));
            b[i] = (uint8_t)((p->addr.b[i] & mask) | (b[i] & ~mask));
        }
    }
    ds_addr_set_v6(out, b);
}

/* ---- source allocation ---- */

static bool in_research6(const struct ds_gen *g, const struct ds_addr *a)
{
    for (size_t i = 0; i < g->nresearch6; i++)
        if (ds_prefix_contains(&g->research6[i], a))
            return true;
    return false;
}

bool ds_gen_v4_reserved(const struct ds_gen *g, uint32_t v4)
{
    if (g->dn.n_v4 && ds_darknet_contains_v4(&g->dn, v4))
        return true;
    struct ds_addr a;
    ds_addr_set_v4(&a, v4);
    for (size_t i = 0; i < g->nresearch4; i++)
        if (ds_prefix_contains(&g->research4[i], &a))
            return true;
    return false;
}

/* Usable as an ordinary IPv4 source. 100.64/10 (carrier-grade NAT) is avoided too. */
static bool v4_ok(const struct ds_gen *g, uint32_t v4)
{
    struct ds_addr a;
    uint8_t last = (uint8_t)v4;
    if (last == 0 || last == 255)
        return false;
    if ((v4 & 0xffc00000u) == 0x64400000u)
        return false;
    ds_addr_set_v4(&a, v4);
    return !ds_rules_nonroutable(&a) && !ds_gen_v4_reserved(g, v4);
}

static int add_src(struct ds_gen *g, uint16_t pop, const struct ds_addr *a, int org, uint32_t *id)
{
    int rc = ds_srctab_add(&g->srcs, a, pop, id);
    if (rc == -ENOMEM)
        return ds_err_set(g->err, rc, "out of memory for source addresses");
    if (rc == 0 && org >= 0) {
        g->srcs.v[*id].org = (uint16_t)(org + 1);
        g->srcs.v[*id].flags |= DS_SRC_RESEARCH;
    }
    return rc;
}

#define ALLOC_TRIES 100000

static int alloc_v6(struct ds_gen *g, uint16_t pop, uint32_t *id)
{
    /* RIR blocks: APNIC 2400::/12, ARIN 2600::/12, RIPE 2a00::/12, LACNIC 2800::/12,
     * AFRINIC 2c00::/12 */
    static const uint16_t tops[] = {0x2400, 0x2600, 0x2a00, 0x2800, 0x2c00};
    struct ds_rng *r = &g->alloc_rng;
    for (int i = 0; i < ALLOC_TRIES; i++) {
        uint8_t b[16];
        for (int k = 0; k < 16; k += 8) {
            uint64_t x = ds_rng_next(r);
            memcpy(b + k, &x, 8);
        }
        uint16_t top = (uint16_t)(tops[ds_rng_below(r, 5)] | (b[1] & 0x0f));
        b[0] = (uint8_t)(top >> 8);
        b[1] = (uint8_t)top;
        if (ds_rng_chance(r, 0.5)) { /* servers: small interface ids */
            memset(b + 8, 0, 6);
            b[14] = 0;
            b[15] = (uint8_t)ds_rng_range(r, 1, 254);
        }
        struct ds_addr a;
        ds_addr_set_v6(&a, b);
        if (ds_rules_nonroutable(&a) || ds_darknet_contains_v6(&g->dn, &a) || in_research6(g, &a))
            continue;
        int rc = add_src(g, pop, &a, -1, id);
        if (rc != -EEXIST)
            return rc;
    }
    return ds_err_set(g->err, -ENOSPC, "no free IPv6 source address found");
}

static int alloc_research(struct ds_gen *g, uint16_t pop, bool v6, int org, uint32_t *id)
{
    struct ds_rng *r = &g->alloc_rng;
    const struct ds_prefix *pre = v6 ? g->research6 : g->research4;
    const uint16_t *porg = v6 ? g->research6_org : g->research4_org;
    size_t n = v6 ? g->nresearch6 : g->nresearch4;
    size_t cand[64], nc = 0;
    for (size_t i = 0; i < n && nc < 64; i++)
        if (porg[i] == org)
            cand[nc++] = i;
    if (!nc)
        return ds_err_set(g->err, -ENOENT, "research organisation %d has no %s prefix", org,
                          v6 ? "IPv6" : "IPv4");
    for (int i = 0; i < ALLOC_TRIES; i++) {
        const struct ds_prefix *p = &pre[cand[ds_rng_below(r, nc)]];
        struct ds_addr a = p->addr;
        for (unsigned bit = p->len; bit < 128; bit++)
            if (ds_rng_next(r) >> 63)
                a.b[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
        if (!v6) {
            if ((a.b[15] == 0 || a.b[15] == 255) && p->len < 128)
                continue;
            if (ds_darknet_contains_v4(&g->dn, ds_addr_v4(&a)))
                continue;
        } else if (ds_darknet_contains_v6(&g->dn, &a)) {
            continue;
        }
        int rc = add_src(g, pop, &a, org, id);
        if (rc != -EEXIST)
            return rc;
    }
    return ds_err_set(g->err, -ENOSPC, "research organisation %d: its prefixes are used up", org);
}

int ds_gen_alloc(struct ds_gen *g, uint16_t pop, enum ds_gen_alloc how, int org, uint32_t *id)
{
    switch (how) {
    case DS_GEN_ALLOC_V4:
        for (int i = 0; i < ALLOC_TRIES; i++) {
            uint32_t v4 = ds_rng_u32(&g->alloc_rng);
            if (!v4_ok(g, v4))
                continue;
            struct ds_addr a;
            ds_addr_set_v4(&a, v4);
            int rc = add_src(g, pop, &a, -1, id);
            if (rc != -EEXIST)
                return rc;
        }
        return ds_err_set(g->err, -ENOSPC, "no free IPv4 source address found");
    case DS_GEN_ALLOC_V6:
        return alloc_v6(g, pop, id);
    case DS_GEN_ALLOC_RESEARCH4:
        return alloc_research(g, pop, false, org, id);
    case DS_GEN_ALLOC_RESEARCH6:
        return alloc_research(g, pop, true, org, id);
    }
    return ds_err_set(g->err, -EINVAL, "bad allocation kind");
}

int ds_gen_alloc_in4(struct ds_gen *g, uint16_t pop, uint32_t net, unsigned len, uint32_t *id)
{
    uint32_t span = len >= 32 ? 1 : (uint32_t)(1ull << (32 - len));
    for (int i = 0; i < 1000; i++) {
        uint32_t v4 = net + (uint32_t)ds_rng_below(&g->alloc_rng, span);
        if (!v4_ok(g, v4))
            continue;
        struct ds_addr a;
        ds_addr_set_v4(&a, v4);
        int rc = add_src(g, pop, &a, -1, id);
        if (rc != -EEXIST)
            return rc;
    }
    return ds_err_set(g->err, -ENOSPC, "block %08" PRIx32 "/%u has no free address", net, len);
}

int ds_gen_alloc_exact(struct ds_gen *g, uint16_t pop, const struct ds_addr *a, uint32_t *id)
{
    return add_src(g, pop, a, -1, id);
}

uint32_t ds_gen_random_block24(struct ds_gen *g)
{
    for (;;) {
        uint32_t net = ds_rng_u32(&g->alloc_rng) & 0xffffff00u;
        if (!v4_ok(g, net | 1) || !v4_ok(g, net | 254))
            continue;
        bool clash = false;
        for (size_t i = 0; i < g->dn.n_v4 && !clash; i++)
            clash = g->dn.v4[i].lo <= (net | 255) && g->dn.v4[i].hi >= net;
        for (size_t i = 0; i < g->nresearch4 && !clash; i++) {
            uint32_t lo = ds_addr_v4(&g->research4[i].addr);
            unsigned bits = g->research4[i].len - 96u;
            uint32_t hi = lo + (bits ? (uint32_t)((1ull << (32 - bits)) - 1) : 0xffffffffu);
            clash = lo <= (net | 255) && hi >= net;
        }
        if (!clash)
            return net;
    }
}

bool ds_gen_key_fresh(const struct ds_gen *g, uint32_t id, uint32_t dst, uint16_t dport,
                      uint16_t sport, uint32_t seq)
{
    const struct ds_gen_src *s = &g->srcs.v[id];
    if (!s->uc_have || s->uc_key != ds_rules_unicorn_key(dst, dport, sport, seq))
        return true;
    return s->uc_target == ds_rules_unicorn_target(dst, dport);
}

/* ---- emitting ---- */

static size_t link_len(const struct ds_gen *g)
{
    return g->o->link == DS_CRAFT_ETHERNET ? 14 : 0;
}

static const char *pop_name(const struct ds_gen *g, uint32_t src)
{
    return src == DS_GEN_NOSRC ? "?" : ds_gen_pops[g->srcs.v[src].pop]->name;
}

/* The unicornscan rule as fingerprint.c's comment defines it; returns the packets it counts. */
static unsigned unicorn_step(struct ds_gen_src *s, const struct ds_craft *c)
{
    uint32_t dst = ds_addr_v4(&c->dst);
    uint32_t key = ds_rules_unicorn_key(dst, c->dport, c->sport, c->seq);
    uint32_t target = ds_rules_unicorn_target(dst, c->dport);
    if (s->uc_have && s->uc_key == key) {
        if (s->uc_target == target)
            return 0;
        s->uc_target = target;
        if (s->uc_session)
            return 1;
        s->uc_session = 1;
        return 2;
    }
    s->uc_have = 1;
    s->uc_session = 0;
    s->uc_key = key;
    s->uc_target = target;
    return 0;
}

static int write_frame(struct ds_gen *g, uint64_t tw, const uint8_t *frame, uint32_t caplen,
                       uint32_t wirelen)
{
    int rc = ds_pcapw_write(g->w, tw, frame, caplen, wirelen);
    if (rc < 0)
        return ds_err_set(g->err, rc, "writing the capture failed (see close)");
    return 0;
}

/* --self-check: the analyzer's decoder and classifier must agree with what was counted. */
static void self_check(struct ds_gen *g, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                       uint64_t tw, enum ds_truth_skip expect_skip, bool darknet, uint32_t classes,
                       uint32_t fps, unsigned unicorn, uint32_t src)
{
    struct ds_pkt p;
    enum ds_decode_rc rc = ds_decode(g->linktype, frame, caplen, wirelen, tw, &p);
    char what[200] = "";
    if (!darknet) {
        enum ds_decode_rc want = expect_skip == DS_TSKIP_TRUNCATED   ? DS_DECODE_TRUNCATED
                                 : expect_skip == DS_TSKIP_MALFORMED ? DS_DECODE_MALFORMED
                                 : expect_skip == DS_TSKIP_NON_IP    ? DS_DECODE_NON_IP
                                                                     : DS_DECODE_OK;
        if (rc != want)
            snprintf(what, sizeof what, "decode result %d, expected %d", rc, want);
        else if (want == DS_DECODE_OK && ds_darknet_contains(&g->dn, &p.dst))
            snprintf(what, sizeof what, "destination is in the darknet");
    } else if (rc != DS_DECODE_OK) {
        snprintf(what, sizeof what, "decode result %d for a darknet packet", rc);
    } else {
        ds_classify(&p);
        unsigned n = 0;
        if (p.classes & DS_CLASS_BIT(DS_CLASS_TCP_SYN)) {
            if (src >= g->check_cap) {
                size_t cap = g->check_cap ? g->check_cap : 1024;
                while (cap <= src)
                    cap *= 2;
                struct ds_fp_state *ns = realloc(g->check_state, cap * sizeof *ns);
                if (ns) {
                    memset(ns + g->check_cap, 0, (cap - g->check_cap) * sizeof *ns);
                    g->check_state = ns;
                    g->check_cap = cap;
                }
            }
            bool now;
            if (src < g->check_cap)
                n = ds_fingerprints[DS_FP_UNICORNSCAN]->match_state(&p, &g->check_state[src], &now);
        }
        if (p.classes != classes)
            snprintf(what, sizeof what, "classes 0x%x, truth 0x%x", p.classes, classes);
        else if (p.fps != fps)
            snprintf(what, sizeof what, "fingerprints 0x%x, truth 0x%x", p.fps, fps);
        else if (n != unicorn)
            snprintf(what, sizeof what, "unicornscan count %u, truth %u", n, unicorn);
    }
    if (what[0]) {
        if (!g->check_mismatch)
            ds_err_set(g->err, -EPROTO, "self-check: packet %" PRIu64 " (%s): %s", g->truth.packets,
                       pop_name(g, src), what);
        g->check_mismatch++;
    }
}

int ds_gen_emit(struct ds_gen *g, uint64_t t, const struct ds_craft *spec0,
                const struct ds_gen_meta *m)
{
    struct ds_craft spec = *spec0;
    spec.link = g->o->link;
    uint8_t frame[2048];
    size_t len = ds_craft_packet(frame, sizeof frame, &spec);
    if (!len)
        return ds_err_set(g->err, -EPROTO, "internal: population %s built an impossible packet",
                          pop_name(g, m->src));
    uint32_t caplen = (uint32_t)len, wirelen = (uint32_t)len;
    size_t l2 = link_len(g);
    if (m->kind == DS_GEN_PKT_TRUNCATED)
        caplen = (uint32_t)(l2 + m->caplen_cut);
    else if (m->kind == DS_GEN_PKT_MALFORMED)
        frame[l2] = 0x44; /* IPv4, header length 4 words: below the minimum of 5 */
    uint64_t tw = t / g->res_ns * g->res_ns; /* the time the file will hold */
    int rc = write_frame(g, tw, frame, caplen, wirelen);
    if (rc < 0)
        return rc;

    struct ds_truth *tr = &g->truth;
    struct ds_gen_src *s = &g->srcs.v[m->src];
    struct ds_truth_pop *tp = &tr->pops[s->pop];
    tr->packets++;
    tp->packets++;
    enum ds_truth_skip skip = DS_TSKIP_COUNT;
    if (m->kind == DS_GEN_PKT_TRUNCATED)
        skip = DS_TSKIP_TRUNCATED;
    else if (m->kind == DS_GEN_PKT_MALFORMED)
        skip = DS_TSKIP_MALFORMED;
    else if (!ds_darknet_contains(&g->dn, &spec.dst))
        skip = DS_TSKIP_NOT_DARKNET;
    if (skip != DS_TSKIP_COUNT) {
        tr->skipped[skip]++;
        if (g->o->self_check)
            self_check(g, frame, caplen, wirelen, tw, skip, false, 0, 0, 0, m->src);
        return 0;
    }

    bool v4 = ds_addr_is_v4(&spec.dst);
    uint32_t classes = ds_rules_classes(&spec, m->amp);
    uint32_t fps = ds_rules_fps(&spec);
    if (fps != m->fps)
        return ds_err_set(g->err, -EPROTO,
                          "internal: population %s sent a SYN with fingerprints 0x%x, meant 0x%x",
                          pop_name(g, m->src), fps, m->fps);
    unsigned uc = 0;
    if (v4 && (classes & DS_CLASS_BIT(DS_CLASS_TCP_SYN)) && !(fps & DS_FP_BIT(DS_FP_MIRAI)))
        uc = unicorn_step(s, &spec);
    if (uc && m->unicorn < 0)
        return ds_err_set(g->err, -EPROTO,
                          "internal: population %s triggered the unicornscan rule by accident",
                          pop_name(g, m->src));
    if (m->unicorn >= 0 && uc != (unsigned)m->unicorn)
        return ds_err_set(g->err, -EPROTO,
                          "internal: unicornscan session counted %u, construction says %d", uc,
                          m->unicorn);

    tr->darknet_packets++;
    tp->darknet_packets++;
    if (!v4)
        tr->ipv6_packets++;
    for (uint32_t c = classes; c; c &= c - 1)
        tr->classes[__builtin_ctz(c)]++;
    for (uint32_t f = fps; f; f &= f - 1)
        tr->fps[__builtin_ctz(f)]++;
    tr->fps[DS_FP_UNICORNSCAN] += uc;
    if (!(s->flags & DS_SRC_DARKNET)) {
        s->flags |= DS_SRC_DARKNET;
        s->first_ns = tw;
        tr->sources++;
        tp->sources++;
    }
    s->packets++;
    s->last_ns = tw;
    s->classes |= classes;
    s->fps |= (uint8_t)(fps | (uc ? DS_FP_BIT(DS_FP_UNICORNSCAN) : 0));
    if ((spec.proto == 6 || spec.proto == 17) && ds_rules_has_l4(&spec)) {
        unsigned u = spec.proto == 17;
        uint32_t k = ((uint32_t)u << 16 | spec.dport) + 1;
        tr->port_packets[u][spec.dport]++;
        if (s->pair_key[0] == k) {
            s->pair_packets[0]++;
        } else if (s->pair_key[1] == k) {
            s->pair_packets[1]++;
        } else if (!s->pair_key[0] || !s->pair_key[1]) {
            int slot = s->pair_key[0] ? 1 : 0;
            s->pair_key[slot] = k;
            s->pair_packets[slot] = 1;
            tr->port_sources[u][spec.dport]++;
        } else {
            rc = ds_pairset_hit(&tr->pairs, ds_pair_key(m->src, u, spec.dport));
            if (rc < 0)
                return ds_err_set(g->err, rc, "out of memory counting port sources");
            if (rc > 0)
                tr->port_sources[u][spec.dport]++;
        }
    }
    if (m->attack >= 0 && ds_truth_attack_packet(&tr->attacks[m->attack], tw) < 0)
        return ds_err_set(g->err, -ENOMEM, "out of memory recording an attack");
    if (m->campaign >= 0) {
        struct ds_truth_campaign *c = &tr->campaigns[m->campaign];
        if (!c->packets)
            c->first_ns = tw;
        c->packets++;
        c->last_ns = tw;
    }
    if (g->o->self_check)
        self_check(g, frame, caplen, wirelen, tw, DS_TSKIP_COUNT, true, classes, fps, uc, m->src);
    return 0;
}

int ds_gen_emit_arp(struct ds_gen *g, uint16_t pop, uint64_t t)
{
    if (g->o->link != DS_CRAFT_ETHERNET)
        return 0;
    /* who-has 192.0.2.1 tell 192.0.2.254 (a router asking on the sensor's segment) */
    static const uint8_t arp[42] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe,
        192,  0,    2,    254,  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 192,  0,    2,    1,
    };
    uint64_t tw = t / g->res_ns * g->res_ns;
    int rc = write_frame(g, tw, arp, sizeof arp, sizeof arp);
    if (rc < 0)
        return rc;
    g->truth.packets++;
    g->truth.pops[pop].packets++;
    g->truth.skipped[DS_TSKIP_NON_IP]++;
    if (g->o->self_check)
        self_check(g, arp, sizeof arp, sizeof arp, tw, DS_TSKIP_NON_IP, false, 0, 0, 0,
                   DS_GEN_NOSRC);
    return 0;
}
