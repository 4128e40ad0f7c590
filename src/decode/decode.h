/* decode.h - link layer, IPv4/IPv6, TCP/UDP/ICMP decoding of one frame into a ds_pkt. */
#ifndef DS_DECODE_H
#define DS_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/pkt.h"

/* Link types (the LINKTYPE_ values written in pcap/pcapng files). */
enum {
    DS_LINK_NULL = 0,
    DS_LINK_ETHERNET = 1,
    DS_LINK_RAW_DLT12 = 12, /* DLT_RAW on most BSD-derived systems */
    DS_LINK_RAW_DLT14 = 14, /* DLT_RAW on OpenBSD */
    DS_LINK_RAW = 101,
    DS_LINK_LOOP = 108,
    DS_LINK_LINUX_SLL = 113,
    DS_LINK_IPV4 = 228,
    DS_LINK_IPV6 = 229,
    DS_LINK_LINUX_SLL2 = 276,
};

enum ds_decode_rc {
    DS_DECODE_OK = 0,
    DS_DECODE_TRUNCATED,        /* caplen ends before a header that is needed */
    DS_DECODE_MALFORMED,        /* impossible header values (IHL < 5, length < header, ...) */
    DS_DECODE_NON_IP,           /* ARP, LLDP, STP, ...: a supported link carrying no IP */
    DS_DECODE_UNSUPPORTED_LINK, /* a link type this decoder does not know */
};

/* True for link types ds_decode understands. */
bool ds_decode_link_supported(uint32_t linktype);

/*
 * Decodes one frame. Reads only data[0 .. caplen-1]; caplen may be less than wirelen.
 * Fills *out (classes/fps/payload_class left zero) and returns DS_DECODE_OK, or the reason
 * the packet cannot be analysed. Pure function: thread-safe, no allocation.
 */
enum ds_decode_rc ds_decode(uint32_t linktype, const uint8_t *data, uint32_t caplen,
                            uint32_t wirelen, uint64_t ts_ns, struct ds_pkt *out);

/* Decodes from an IP header (version nibble decides v4/v6); used by ds_decode. */
enum ds_decode_rc ds_decode_ip(const uint8_t *data, uint32_t caplen, struct ds_pkt *out);

#endif
