/* payload.h - real UDP request payloads for reflector hunting (the amplifying requests of
 * DOMAIN.md section 3) and for ordinary UDP probes that are not amplification requests. */
#ifndef DS_PAYLOAD_H
#define DS_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen/rng.h"

struct ds_gen_udp_probe {
    const char *name;     /* e.g. "dns-any" */
    const char *proto;    /* protocol name, as the analyzer's amp registry names it */
    uint16_t port;        /* UDP destination port */
    bool amp;             /* the protocol's amplifying request (counts as amp_probe) */
    double weight;        /* how often a campaign picks it */
    const uint8_t *bytes; /* the payload */
    size_t len;
    uint8_t rand_off, rand_len; /* bytes re-drawn per packet (a transaction id), len 0: none */
};

/* Amplification requests, one entry per protocol variant; NULL-name terminated. */
extern const struct ds_gen_udp_probe ds_gen_amp_probes[];
/* UDP probes that are not amplification requests (to amp ports or elsewhere). */
extern const struct ds_gen_udp_probe ds_gen_plain_probes[];

size_t ds_gen_probe_count(const struct ds_gen_udp_probe *table);

/* Copies p's payload into buf (cap >= p->len) re-drawing its transaction id; returns len. */
size_t ds_gen_probe_fill(const struct ds_gen_udp_probe *p, struct ds_rng *r, uint8_t *buf,
                         size_t cap);

#endif
