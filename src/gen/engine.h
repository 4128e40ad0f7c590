/* engine.h - what populations see of the generator: actors, destination sampling, source
 * allocation and the one emit path that writes a packet and counts its ground truth. */
#ifndef DS_ENGINE_H
#define DS_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/darknet.h"
#include "decode/pkt.h"
#include "gen/craft.h"
#include "gen/gen.h"
#include "gen/payload.h"
#include "gen/rng.h"
#include "gen/sched.h"
#include "gen/srctab.h"
#include "gen/truth.h"

#define DS_GEN_NOSRC UINT32_MAX
#define DS_GEN_NEVER UINT64_MAX
#define DS_NS 1000000000ull
#define DS_GEN_CHUNK_BITS 16
#define DS_GEN_CHUNK (1u << DS_GEN_CHUNK_BITS)

/* A retransmission still to send (kernel SYN scanners, DoS victims' SYN-ACKs). */
struct ds_gen_pending {
    uint64_t t; /* when */
    uint32_t dst, seq, ack;
    uint16_t sport, dport;
    uint8_t left; /* retransmissions still to come, this one included */
    uint8_t sent; /* sent so far (the backoff doubles with it) */
};

/* Per-actor state of each kind of population (one union keeps actors one fixed size). */
union ds_gen_state {
    struct { /* mirai, mirai-variant */
        uint16_t sport, win;
        uint8_t family;
    } bot;
    struct {                   /* zmap, masscan, research, leak, v6 */
        const uint16_t *ports; /* NULL: every port 1..65535 (masscan -p1-65535) */
        const struct ds_gen_udp_probe *probe;
        uint32_t nports;
        uint16_t sport, win;
        uint8_t style, ttl0;
        uint16_t left; /* leak: packets still to send */
    } tool;
    struct {           /* nmap, unicornscan: a finite list of (target, port) probes */
        uint32_t base; /* first darknet index of the targets */
        uint32_t ntargets;
        const uint16_t *ports; /* NULL: the range port_base .. port_base + nports - 1 */
        uint32_t nports;
        uint16_t port_base;
        uint64_t n, i, step, off; /* probe i is (i * step + off) mod n: a permutation */
        uint32_t key;             /* unicornscan: the session constant K */
        uint32_t prev_dst;        /* unicornscan: the previous probe's target */
        uint16_t prev_port;
        uint16_t sport;
        uint8_t pass, passes; /* nmap: pass 1 probes, pass 2 retries */
        uint8_t sessions;     /* unicornscan: sessions still to run after this one */
        uint32_t in_session;  /* unicornscan: probes sent in this session */
    } list;
    struct { /* kernel SYN scanners */
        struct ds_gen_pending pend[2];
        uint64_t next_new; /* the next new connection attempt */
        uint16_t ports[4];
        uint16_t ipid, win;
        uint32_t tsbase;
        uint8_t os, nports, retries;
    } kern;
    struct { /* DoS victims */
        struct ds_gen_pending pend[2];
        uint64_t next_new; /* the next reply to a new spoofed packet */
        uint32_t victim;   /* IPv4, host order */
        uint16_t vport, win;
        uint8_t type, retries;
    } dos;
    struct { /* reflector hunting, UDP probes, ICMP sweeps */
        const struct ds_gen_udp_probe *probe;
        uint32_t block; /* campaigns: the /24 their sources share, 0 for none */
        uint16_t sport, icmp_id, icmp_seq;
        uint8_t nsrc, style;
    } udp;
    struct { /* the oddities: a script of special packets */
        uint32_t step;
    } odd;
};

/* One actor: a source (or a small group) with its own behaviour and next event time. */
struct ds_gen_actor {
    uint64_t start_ns, end_ns; /* active window (no events at or after end_ns) */
    double rate;               /* darknet packets per second of its main Poisson process */
    uint32_t src;              /* srctab id, DS_GEN_NOSRC until its first packet */
    int32_t aux;               /* attack / campaign index, -1 none */
    uint16_t pop;              /* registry index */
    uint8_t hops;              /* router hops to the darknet (TTL = initial - hops) */
    uint8_t kind;              /* population-specific variant */
    union ds_gen_state u;
};

/* What the emitter must know beyond the packet bytes. */
enum ds_gen_pkt_kind {
    DS_GEN_PKT_NORMAL = 0,
    DS_GEN_PKT_TRUNCATED, /* write only caplen_cut bytes (the analyzer counts it truncated) */
    DS_GEN_PKT_MALFORMED, /* IPv4 header length field below 5 */
};

struct ds_gen_meta {
    uint32_t src; /* srctab id of spec->src */
    uint32_t fps; /* the stateless fingerprints the population means this SYN to have */
    int unicorn;  /* the unicornscan count this packet must add (-1: none allowed) */
    bool amp;     /* UDP payload is the amplifying request of its port */
    enum ds_gen_pkt_kind kind;
    uint32_t caplen_cut;
    int32_t attack;   /* DoS attack index or -1 */
    int32_t campaign; /* campaign index or -1 */
};

struct ds_gen_spawner {
    uint64_t present;  /* actors still to spawn at the start */
    uint64_t arrivals; /* actors still to arrive during the capture */
    double u;          /* last arrival position in [0, 1) */
};

/* The whole generator state: owned by the single generating thread. */
struct ds_gen {
    const struct ds_gen_opts *o;
    uint64_t t0, t1;
    struct ds_darknet dn;
    uint64_t d4;    /* monitored IPv4 addresses */
    double share4;  /* d4 / 2^32: the darknet's share of an Internet-wide scan */
    uint64_t *cum4; /* cumulative sizes of dn.v4 ranges (n_v4 + 1 entries) */
    struct ds_prefix *research4, *research6;
    uint16_t *research4_org, *research6_org;
    size_t nresearch4, nresearch6;
    uint64_t research_cap4[32];    /* usable IPv4 source addresses per organisation */
    uint64_t research_chosen4[32]; /* research actors assigned to it so far */
    struct ds_rng alloc_rng;
    struct ds_rng pop_rng[DS_GEN_MAX_POPS];
    struct ds_sched q;
    struct ds_gen_actor **actor_chunks; /* DS_GEN_CHUNK actors each: ids never move */
    size_t nactors, nchunks;
    uint32_t *freelist;
    size_t nfree, capfree;
    struct ds_gen_spawner spawn[DS_GEN_MAX_POPS];
    struct ds_srctab srcs;
    struct ds_truth truth;
    struct ds_pcapw *w;
    uint32_t linktype;
    uint64_t res_ns;                 /* timestamp resolution written: 1000 (us) or 1 (ns) */
    struct ds_fp_state *check_state; /* --self-check: per source, indexed by srctab id */
    size_t check_cap;
    uint64_t check_mismatch;
    struct ds_err *err;
};

/* ---- helpers for populations ---- */

static inline struct ds_rng *ds_gen_rng(struct ds_gen *g, const struct ds_gen_actor *a)
{
    return &g->pop_rng[a->pop];
}

/* t plus an exponential gap of mean 1/rate seconds (rate <= 0: never). */
uint64_t ds_gen_after(struct ds_rng *r, uint64_t t, double rate);

/* A uniformly random monitored IPv4 address (requires d4 > 0). */
uint32_t ds_gen_dst4(struct ds_gen *g, struct ds_rng *r);
/* The idx-th monitored IPv4 address (idx < d4), in address order. */
uint32_t ds_gen_dst4_at(const struct ds_gen *g, uint64_t idx);
/* An address in a monitored IPv6 prefix, in the patterns v6 scanners use (low byte,
 * EUI-64-like, random). Requires dn.n_v6 > 0. */
void ds_gen_dst6(struct ds_gen *g, struct ds_rng *r, struct ds_addr *out);

/* Source allocation; each returns 0 with *id set, or a negative code (err set). */
enum ds_gen_alloc {
    DS_GEN_ALLOC_V4,        /* routable, outside darknet and research ranges, last octet not
                             * 0/255 */
    DS_GEN_ALLOC_V6,        /* global unicast outside 2001:db8::/32, darknet and research */
    DS_GEN_ALLOC_RESEARCH4, /* inside a research organisation's v4 prefix (org = index) */
    DS_GEN_ALLOC_RESEARCH6,
};
int ds_gen_alloc(struct ds_gen *g, uint16_t pop, enum ds_gen_alloc how, int org, uint32_t *id);
/* A host address inside net/len (IPv4) not yet used; for sources that share a block. */
int ds_gen_alloc_in4(struct ds_gen *g, uint16_t pop, uint32_t net, unsigned len, uint32_t *id);
/* Exactly this address (deliberate oddities); -EEXIST if it is taken. */
int ds_gen_alloc_exact(struct ds_gen *g, uint16_t pop, const struct ds_addr *a, uint32_t *id);
/* A random routable /24 (for a campaign's block) outside darknet and research ranges. */
uint32_t ds_gen_random_block24(struct ds_gen *g);

/* The address of source id. */
static inline const struct ds_addr *ds_gen_src_addr(const struct ds_gen *g, uint32_t id)
{
    return &g->srcs.v[id].addr;
}

/* True when an IPv4 SYN with these fields from source id would NOT be counted by the
 * unicornscan rule (its key differs from the stored one, or it repeats the stored target). */
bool ds_gen_key_fresh(const struct ds_gen *g, uint32_t id, uint32_t dst, uint16_t dport,
                      uint16_t sport, uint32_t seq);

/* True when v4 is in the darknet or a research prefix (no source may use it). */
bool ds_gen_v4_reserved(const struct ds_gen *g, uint32_t v4);

/*
 * Writes one packet at time t (ns) and counts its ground truth. spec->link is ignored (the
 * run's link type is used). Returns 0, or a negative code with g->err set: I/O errors, and
 * internal violations (a fingerprint the population did not intend) which are bugs.
 */
int ds_gen_emit(struct ds_gen *g, uint64_t t, const struct ds_craft *spec,
                const struct ds_gen_meta *m);

/* Writes a non-IP frame (an ARP request) at time t; Ethernet only. */
int ds_gen_emit_arp(struct ds_gen *g, uint16_t pop, uint64_t t);

/* A meta with no fingerprint, no attack or campaign, for source id. */
static inline struct ds_gen_meta ds_gen_meta_plain(uint32_t id)
{
    return (struct ds_gen_meta){.src = id, .unicorn = -1, .attack = -1, .campaign = -1};
}

#endif
