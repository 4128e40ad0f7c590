/* srctab.h - the generator's table of source addresses: uniqueness across populations and
 * per-source ground truth (packets, classes, fingerprints, unicornscan rule state). */
#ifndef DS_SRCTAB_H
#define DS_SRCTAB_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"

/* ds_gen_src.flags */
enum {
    DS_SRC_DARKNET = 1u << 0,  /* sent at least one darknet packet (counts in "sources") */
    DS_SRC_RESEARCH = 1u << 1, /* from a published research-scanner prefix */
};

/* One source address. Ids are dense (0, 1, 2 ...) in allocation order and never reused. */
struct ds_gen_src {
    struct ds_addr addr;
    uint64_t packets;           /* darknet packets sent */
    uint64_t first_ns, last_ns; /* of those packets (written timestamps) */
    uint32_t classes;           /* OR of the class bits of its darknet packets */
    uint32_t uc_key, uc_target; /* unicornscan rule state, kept as the rule defines it */
    uint16_t pop;               /* population (registry index) that owns it */
    uint16_t org;               /* research organisation index + 1; 0 for none */
    uint8_t fps;                /* OR of the fingerprint bits counted for it */
    uint8_t flags;              /* DS_SRC_* */
    uint8_t uc_have, uc_session;
    /* The first two (protocol, port) pairs it sent to, kept here instead of the pair set:
     * most sources (bots) hit one or two ports, and this record is touched anyway. */
    uint32_t pair_key[2]; /* (proto_idx << 16 | port) + 1; 0 = empty */
    uint64_t pair_packets[2];
};

/* Memory: one record per source plus a 4-byte slot index at <= 50 % load. Single thread. */
struct ds_srctab {
    struct ds_gen_src *v;
    size_t n, cap;
    uint32_t *slots; /* id + 1, 0 = empty */
    size_t mask;
};

int ds_srctab_init(struct ds_srctab *t);
void ds_srctab_free(struct ds_srctab *t);

/* Finds a's id: 0 and *id set, or -ENOENT. */
int ds_srctab_find(const struct ds_srctab *t, const struct ds_addr *a, uint32_t *id);

/* Adds a new address owned by population pop: 0 and *id, -EEXIST when already present,
 * -ENOMEM. */
int ds_srctab_add(struct ds_srctab *t, const struct ds_addr *a, uint16_t pop, uint32_t *id);

static inline struct ds_gen_src *ds_srctab_get(const struct ds_srctab *t, uint32_t id)
{
    return &t->v[id];
}

#endif
