/* fingerprint.h - tool and malware fingerprints on TCP SYNs: one registry of descriptors. */
#ifndef DS_FINGERPRINT_H
#define DS_FINGERPRINT_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/pkt.h"

enum ds_fp_id {
    DS_FP_MIRAI = 0,
    DS_FP_ZMAP,
    DS_FP_MASSCAN,
    DS_FP_NMAP,
    DS_FP_UNICORNSCAN,
    DS_FP_COUNT
};

#define DS_FP_BIT(id) (1u << (id))

/* Per-source state for stateful fingerprints; lives in the source's host entry and is only
 * touched by the shard that owns the source. Zero-initialised means "nothing seen". Packed
 * (9 bytes): it sits in every 16-byte host entry. */
struct __attribute__((packed)) ds_fp_state {
    uint32_t unicorn_key;        /* seq ^ dst ^ ((dport << 16) + sport) of the last SYN */
    uint32_t unicorn_target;     /* mix of (dst, dport) of that SYN, to tell retransmissions */
    uint8_t unicorn_have : 1;    /* a key is stored */
    uint8_t unicorn_session : 1; /* the stored key has repeated: a unicornscan session */
};

/*
 * A fingerprint. Stateless ones implement `match`; stateful ones implement `match_state`,
 * which returns how many packets to count now (it may count an earlier packet of the same
 * source retroactively, see unicornscan) and sets *bit_now when this packet matches.
 */
struct ds_fingerprint {
    enum ds_fp_id id;
    const char *name;        /* key in reports */
    const char *description; /* for alerts and docs, e.g. "Mirai-like: TCP seq equals dst" */
    bool (*match)(const struct ds_pkt *p);
    unsigned (*match_state)(const struct ds_pkt *p, struct ds_fp_state *st, bool *bit_now);
};

/* The registry, indexed by enum ds_fp_id. */
extern const struct ds_fingerprint *const ds_fingerprints[DS_FP_COUNT];

/*
 * The registry applied to one TCP SYN (SYN without ACK). Both walk the registry here, where
 * the compiler sees its constant entries and inlines them (the packet path calls these).
 * ds_fp_match_syn: bits of the stateless fingerprints that match. Pure.
 * ds_fp_match_syn_state: the stateful ones with the source's state (owned by the caller's
 * shard); adds each one's count into counts[id] and returns the bits that match now.
 */
uint32_t ds_fp_match_syn(const struct ds_pkt *p);
uint32_t ds_fp_match_syn_state(const struct ds_pkt *p, struct ds_fp_state *st,
                               uint64_t counts[DS_FP_COUNT]);

/* Nmap's TTL window at the source is 37..59; observed TTLs are lower by the hop count. */
#define DS_NMAP_MAX_HOPS 30

#endif
