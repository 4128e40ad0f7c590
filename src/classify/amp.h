/* amp.h - UDP amplification protocols: ports and recognisers of their amplifying requests. */
#ifndef DS_AMP_H
#define DS_AMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/pkt.h"

struct ds_amp_proto {
    const char *name;              /* "dns", "ntp", ... */
    uint16_t port;                 /* UDP destination port */
    enum ds_payload_class request; /* the payload class of its amplifying request */
    const char *factor; /* published bandwidth amplification factor (US-CERT TA14-017A) */
    /* Recognises the amplifying request in a UDP payload (len bytes, may be 0). */
    bool (*is_request)(const uint8_t *p, size_t len);
};

/* NULL-terminated registry. */
extern const struct ds_amp_proto *const ds_amp_protos[];

/* The protocol on a UDP destination port, or NULL. O(1). */
const struct ds_amp_proto *ds_amp_by_port(uint16_t port);

/* Names of payload classes, indexed by enum ds_payload_class. */
extern const char *const ds_payload_class_names[DS_PAYLOAD_COUNT];

#endif
