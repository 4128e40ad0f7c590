/* synscan.h - the TCP SYN probes of scanning tools (ZMap, Masscan, a custom scanner) and
 * the port lists scanners use; accidental fingerprint matches are re-drawn. */
#ifndef DS_SYNSCAN_H
#define DS_SYNSCAN_H

#include <stdint.h>

#include "gen/engine.h"

enum ds_syn_tool {
    DS_SYN_ZMAP,        /* ZMap <= 4.0: IP ID 54321, TTL 255, window 65535, no options */
    DS_SYN_ZMAP_MSS,    /* ZMap 3.x: the same plus one MSS 1460 option */
    DS_SYN_ZMAP41,      /* ZMap >= 4.1: random IP ID, TTL 64, window 65535 (no fingerprint) */
    DS_SYN_MASSCAN,     /* Masscan 1.3.2: IP ID from the cookie, TTL 255, window 1024 */
    DS_SYN_MASSCAN_NEW, /* newer Masscan: window 1025 and MSS 1460 */
    DS_SYN_CUSTOM,      /* own scanner: random IP ID, TTL 64, window 65535, no options */
};

/* The fingerprints a tool's SYNs carry by construction. */
uint32_t ds_syn_tool_fps(enum ds_syn_tool tool);

/*
 * Sends one SYN of `tool` from the actor's source (allocated) to dst:dport at time t.
 * sport 0 picks the tool's usual source port per packet. Re-draws the free fields (sequence
 * number, IP ID) until the packet has exactly the tool's fingerprints and does not trip the
 * unicornscan rule. 0 or <0.
 */
int ds_syn_tool_send(struct ds_gen *g, struct ds_gen_actor *a, uint64_t t, enum ds_syn_tool tool,
                     uint32_t dst, uint16_t dport, uint16_t sport);

/* Ports most scanned on the Internet, most popular first. */
extern const uint16_t ds_ports_popular[];
extern const uint32_t ds_ports_popular_n;
/* Nmap's 100 most common TCP ports (as its services list ranks them). */
extern const uint16_t ds_ports_nmap_top[];
extern const uint32_t ds_ports_nmap_top_n;

/* A port from a list (ports NULL: base + a uniform offset below n). */
static inline uint16_t ds_pick_port(struct ds_rng *r, const uint16_t *ports, uint32_t n,
                                    uint16_t base)
{
    uint32_t k = (uint32_t)ds_rng_below(r, n);
    return ports ? ports[k] : (uint16_t)(base + k);
}

/* An index below n, skewed to the front (P(i) ~ 1/(i+1)). */
uint32_t ds_pick_skewed(struct ds_rng *r, uint32_t n);

#endif
