/* rules.h - the generator's own statement of the traffic classes and tool fingerprints of
 * DOMAIN.md section 3, applied to packets it is about to write. */
#ifndef DS_RULES_H
#define DS_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "gen/craft.h"

/*
 * These functions label a packet from the fields the generator chose for it. They are a
 * second, independent reading of the rules (written from DOMAIN.md and the analyzer's
 * documented contract, not by calling src/classify), so an end-to-end comparison of the
 * ground truth with `darkscope analyze` tests two implementations against each other.
 * Class and fingerprint bits use the analyzer's numbering (DS_CLASS_BIT, DS_FP_BIT).
 * All pure and thread-safe.
 */

/* A transport header will be decoded (TCP/UDP/ICMP/ICMPv6, not a non-first fragment). */
bool ds_rules_has_l4(const struct ds_craft *s);

/* TCP with SYN and without ACK (and a transport header). */
bool ds_rules_is_syn(const struct ds_craft *s);

/* The class bits of a packet that reaches the darknet; amp_request says the UDP payload is
 * the amplifying request of the protocol on the destination port. */
uint32_t ds_rules_classes(const struct ds_craft *s, bool amp_request);

/* The stateless fingerprint bits (mirai, zmap, masscan, nmap) of a packet; 0 unless it is a
 * SYN. */
uint32_t ds_rules_fps(const struct ds_craft *s);

/* Unicornscan's per-packet key seq ^ dst ^ ((dport << 16) + sport). */
static inline uint32_t ds_rules_unicorn_key(uint32_t dst, uint16_t dport, uint16_t sport,
                                            uint32_t seq)
{
    return seq ^ dst ^ (((uint32_t)dport << 16) + sport);
}

/* The 32-bit target tag the unicornscan rule compares to tell a retransmission (the
 * analyzer's fingerprint.c uses the low half of ds_mix64((dst << 16) | dport)). */
uint32_t ds_rules_unicorn_target(uint32_t dst, uint16_t dport);

/* Source in the RFC 5735 ranges DOMAIN.md lists (and, for IPv6, ::, ::1, fe80::/10,
 * fc00::/7, ff00::/8, 2001:db8::/32). */
bool ds_rules_nonroutable(const struct ds_addr *a);

/* One of the UDP amplification ports of DOMAIN.md section 3. */
bool ds_rules_amp_port(uint16_t port);

/* Number of TCP options (as a decoder counts kinds, EOL included) in the padded option
 * area of s. */
unsigned ds_rules_tcp_nopts(const struct ds_craft *s);

#endif
