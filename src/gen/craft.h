/* craft.h - building real packets (Ethernet/raw, IPv4/IPv6, TCP/UDP/ICMP) with checksums,
 * for the traffic generator and for tests. */
#ifndef DS_CRAFT_H
#define DS_CRAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

enum ds_craft_link { DS_CRAFT_ETHERNET = 0, DS_CRAFT_RAW = 1 };

/* Everything needed to write one packet. Unused fields stay zero; designated initialisers
 * keep call sites readable. IPv4 vs IPv6 follows src (v4-mapped or not). */
struct ds_craft {
    enum ds_craft_link link;
    uint16_t vlan; /* Ethernet: an 802.1Q tag when non-zero */
    struct ds_addr src, dst;
    uint8_t ttl;          /* TTL or hop limit */
    uint16_t ip_id;       /* IPv4 only */
    bool df;              /* IPv4 don't-fragment */
    bool mf;              /* more fragments (IPv4 flag or IPv6 fragment header) */
    uint16_t frag_offset; /* in 8-byte units; non-zero makes a non-first fragment */
    uint8_t proto;        /* 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, or anything else */
    /* TCP / UDP */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t tcp_flags;
    uint16_t win;
    const uint8_t *tcp_opts; /* raw option bytes (padded by craft to a multiple of 4) */
    size_t tcp_opts_len;
    /* ICMP / ICMPv6 */
    uint8_t icmp_type, icmp_code;
    uint32_t icmp_rest; /* the 4 bytes after the checksum (id/seq, unused, MTU...) */
    /* transport payload (for ICMP errors: the quoted packet) */
    const uint8_t *payload;
    size_t payload_len;
    /* When true no transport header is built whatever proto says: payload is the whole IP
     * payload (non-first fragments, a header written by hand). */
    bool raw_l4;
};

/* Writes the frame into buf (cap bytes). Returns the frame length, or 0 if cap is too small
 * or the spec is inconsistent. Pure, thread-safe. */
size_t ds_craft_packet(uint8_t *buf, size_t cap, const struct ds_craft *spec);

/* The link type a crafted frame has (LINKTYPE_ETHERNET or LINKTYPE_RAW). */
uint32_t ds_craft_linktype(enum ds_craft_link link);

/* Common TCP option layouts, as raw bytes (see craft.c for the exact bytes). */
extern const uint8_t ds_opts_mss1460[4];  /* MSS 1460 */
extern const uint8_t ds_opts_linux[20];   /* MSS,SACKOK,TS,NOP,WS7 */
extern const uint8_t ds_opts_windows[12]; /* MSS,NOP,WS8,NOP,NOP,SACKOK */

#endif
