/* darknet.h - the monitored address space: a set of v4/v6 prefixes with fast membership. */
#ifndef DS_DARKNET_H
#define DS_DARKNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/err.h"

/*
 * Built once (single thread), then read-only and shared by all threads. An empty set means
 * "every destination is darknet" (the analyze default without --darknet).
 */
struct ds_v4range {
    uint32_t lo, hi; /* inclusive, host order */
};

struct ds_darknet {
    struct ds_v4range *v4; /* sorted, merged, non-overlapping after ds_darknet_finish */
    size_t n_v4, cap_v4;
    struct ds_prefix *v6; /* non-v4 prefixes, as given */
    size_t n_v6, cap_v6;
};

void ds_darknet_init(struct ds_darknet *d);
void ds_darknet_free(struct ds_darknet *d);

/* Adds a comma- or space-separated list of prefixes; `where` names the origin for errors
 * (e.g. "--darknet" or "darknet.txt:12"). */
int ds_darknet_add_list(struct ds_darknet *d, const char *list, const char *where,
                        struct ds_err *err);

/* Adds prefixes from a file: one or more per line, '#' starts a comment. */
int ds_darknet_add_file(struct ds_darknet *d, const char *path, struct ds_err *err);

/* Sorts and merges; call once after the last add. */
void ds_darknet_finish(struct ds_darknet *d);

static inline bool ds_darknet_is_all(const struct ds_darknet *d)
{
    return d->n_v4 == 0 && d->n_v6 == 0;
}

/* Number of monitored IPv4 addresses (overlaps counted once); 2^32 when the set is all. */
uint64_t ds_darknet_v4_addresses(const struct ds_darknet *d);

bool ds_darknet_contains_v6(const struct ds_darknet *d, const struct ds_addr *a);

static inline bool ds_darknet_contains_v4(const struct ds_darknet *d, uint32_t v4)
{
    size_t lo = 0, hi = d->n_v4;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v4 > d->v4[mid].hi)
            lo = mid + 1;
        else if (v4 < d->v4[mid].lo)
            hi = mid;
        else
            return true;
    }
    return false;
}

/* Membership for any address; true for everything when the set is all. */
static inline bool ds_darknet_contains(const struct ds_darknet *d, const struct ds_addr *a)
{
    if (ds_darknet_is_all(d))
        return true;
    if (ds_addr_is_v4(a))
        return ds_darknet_contains_v4(d, ds_addr_v4(a));
    return ds_darknet_contains_v6(d, a);
}

#endif
