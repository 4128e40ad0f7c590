/* classify.h - per-packet traffic classes (bit set) and the stateless classification step. */
#ifndef DS_CLASSIFY_H
#define DS_CLASSIFY_H

#include <stdint.h>

#include "decode/pkt.h"

/* Class bits (struct ds_pkt.classes). Each packet gets every class that applies. The exact
 * rules are documented in docs/classification.md and implemented in classify.c. */
enum ds_class_id {
    DS_CLASS_TCP_SYN = 0,
    DS_CLASS_BACKSCATTER,
    DS_CLASS_ICMP_REQUEST,
    DS_CLASS_UDP,
    DS_CLASS_AMP_PROBE,
    DS_CLASS_SPOOFED_HINT,
    DS_CLASS_NONROUTABLE_SRC,
    DS_CLASS_FRAGMENT,
    DS_CLASS_COUNT
};

#define DS_CLASS_BIT(id) (1u << (id))

struct ds_class_desc {
    enum ds_class_id id;
    const char *name;        /* key in reports, e.g. "tcp_syn" */
    const char *description; /* one line for humans */
};

/* Indexed by enum ds_class_id. */
extern const struct ds_class_desc ds_class_table[DS_CLASS_COUNT];

/*
 * Sets p->classes, p->payload_class and the stateless fingerprint bits in p->fps.
 * Reads p->payload (so it must run while the frame is still valid). Pure: thread-safe,
 * no allocation. Stateful fingerprints (unicornscan) are added later by the host shard.
 */
void ds_classify(struct ds_pkt *p);

/* The DoS victim a backscatter packet speaks for: the quoted header's destination for ICMP
 * errors that quote one, else the packet's source. */
const struct ds_addr *ds_backscatter_victim(const struct ds_pkt *p);

/* True when an IPv4/IPv6 source is in a non-routable range (RFC 5735 / RFC 6890 list). */
int ds_addr_nonroutable(const struct ds_addr *a);

#endif
