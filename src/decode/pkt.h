/* pkt.h - the fixed-size decoded packet record that flows from decode to the analysers. */
#ifndef DS_PKT_H
#define DS_PKT_H

#include <stdint.h>

#include "core/addr.h"

#define DS_TCP_OPT_LAYOUT_MAX 10 /* option kinds kept, in order; more are counted only */

/* pkt.flags */
enum {
    DS_PKT_FRAGMENT = 1u << 0,    /* IPv4 MF/offset or an IPv6 fragment header */
    DS_PKT_L4 = 1u << 1,          /* the transport header was decoded (ports/flags valid) */
    DS_PKT_QUOTE = 1u << 2,       /* ICMP error with a decoded quoted inner header */
    DS_PKT_OPTS_CUT = 1u << 3,    /* TCP options ran past caplen (layout incomplete) */
    DS_PKT_TCP_OPT_BAD = 1u << 4, /* TCP option list malformed (bad length) */
};

/* Payload class: what the first payload bytes are, decided by the classifier (amp requests). */
enum ds_payload_class {
    DS_PAYLOAD_NONE = 0,
    DS_PAYLOAD_OTHER,
    DS_PAYLOAD_DNS_ANY,
    DS_PAYLOAD_NTP_MONLIST,
    DS_PAYLOAD_NTP_VERSION,
    DS_PAYLOAD_SSDP_MSEARCH,
    DS_PAYLOAD_MEMCACHED,
    DS_PAYLOAD_CLDAP_SEARCH,
    DS_PAYLOAD_CHARGEN,
    DS_PAYLOAD_QOTD,
    DS_PAYLOAD_SNMP_GETBULK,
    DS_PAYLOAD_NETBIOS_NBSTAT,
    DS_PAYLOAD_PORTMAP_DUMP,
    DS_PAYLOAD_TFTP_RRQ,
    DS_PAYLOAD_MDNS_QUERY,
    DS_PAYLOAD_RIP_REQUEST,
    DS_PAYLOAD_QUAKE_GETSTATUS,
    DS_PAYLOAD_STEAM_QUERY,
    DS_PAYLOAD_COUNT
};

/*
 * One packet, decoded. Plain data, no pointers that outlive the frame except `payload`,
 * which points into the capture buffer and is valid only until the source's next frame;
 * stages that run after a record is copied (shard workers) must not touch it.
 * Multi-byte fields are in host order.
 */
struct ds_pkt {
    uint64_t ts_ns;        /* packet time, ns since the epoch */
    struct ds_addr src;    /* outer source */
    struct ds_addr dst;    /* outer destination */
    uint32_t wirelen;      /* length on the wire (frame) */
    uint32_t seq, ack;     /* TCP */
    uint16_t ip_len;       /* IPv4 total length; IPv6 payload length + 40 */
    uint16_t ip_id;        /* IPv4 identification; 0 for IPv6 */
    uint16_t sport, dport; /* TCP/UDP ports; ICMP: 0 */
    uint16_t win;          /* TCP window (unscaled) */
    uint16_t tcp_mss;      /* MSS option value, 0 when absent */
    uint16_t payload_len;  /* captured transport payload bytes (<= IP length) */
    uint8_t ipver;         /* 4 or 6 */
    uint8_t proto;         /* transport protocol (after IPv6 extension headers) */
    uint8_t ttl;           /* TTL or hop limit */
    uint8_t flags;         /* DS_PKT_* */
    uint8_t tcp_flags; /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80 */
    uint8_t tcp_wscale; /* window-scale shift, 0xff when absent */
    uint8_t tcp_nopts;  /* options present (may exceed the layout's capacity) */
    uint8_t tcp_layout[DS_TCP_OPT_LAYOUT_MAX]; /* option kinds in order */
    uint8_t icmp_type, icmp_code;
    uint8_t payload_class; /* enum ds_payload_class, set by classify */
    struct {
        struct ds_addr src, dst;
        uint16_t sport, dport;
        uint8_t proto;
    } quote;                /* valid when flags & DS_PKT_QUOTE */
    const uint8_t *payload; /* first payload byte in the frame buffer (see above) */
    uint32_t classes;       /* DS_CLASS_* bits, set by classify */
    uint32_t fps;           /* DS_FP_* bits, set by classify (stateless) and the shard (stateful) */
};

enum {
    DS_TCP_FIN = 0x01,
    DS_TCP_SYN = 0x02,
    DS_TCP_RST = 0x04,
    DS_TCP_PSH = 0x08,
    DS_TCP_ACK = 0x10,
    DS_TCP_URG = 0x20,
    DS_TCP_ECE = 0x40,
    DS_TCP_CWR = 0x80,
};

#endif
