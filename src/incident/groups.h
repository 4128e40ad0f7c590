/* groups.h - host groups: the active hosts of every shard, grouped by behaviour (the same
 * behaviour key first, then similar keys: same protocols and fingerprints, overlapping port
 * sets), for the Tiles view and, later, the correlation engine. */
#ifndef DS_GROUPS_H
#define DS_GROUPS_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/host.h"
#include "core/addr.h"

#define DS_GROUP_KEY_MAX 96

/* One active host as a shard publishes it. */
struct ds_group_host {
    struct ds_addr addr;
    char key[DS_GROUP_KEY_MAX]; /* ds_host_behaviour_key() */
    char cc[3];
    uint32_t packets; /* of its current profile segment */
    uint64_t last_ns;
};

/*
 * Shared by the shard threads (each publishes its own list every 30 s of packet time) and
 * the API threads (which read a grouping); every call takes the lock. The lists are copies:
 * nothing points into a shard.
 */
struct ds_groups {
    pthread_mutex_t mu;
    int nshards;
    size_t cap;                  /* hosts kept per shard (the busiest) */
    struct ds_group_host **list; /* [shard] */
    size_t *n;                   /* [shard] */
    uint64_t at_ns;              /* packet time of the newest publication */
    uint64_t publications;
};

int ds_groups_init(struct ds_groups *g, int nshards, size_t cap_per_shard);
void ds_groups_free(struct ds_groups *g);

/* The shard's active hosts (copied; at most cap are kept, the busiest). 0 or -ENOMEM. */
int ds_groups_publish(struct ds_groups *g, int shard, const struct ds_group_host *h, size_t n,
                      uint64_t now_ns);

/* Appends h to a shard's list being built (keeps the busiest cap). */
struct ds_group_list {
    struct ds_group_host *v;
    size_t n, cap;
};
int ds_group_list_add(struct ds_group_list *l, const struct ds_host *h, size_t cap);

/* The grouping now, as JSON: {"at": time, "hosts": N, "groups": [...]}, largest group first,
 * each with up to max_hosts members. keep (NULL: all) selects the hosts a caller may see; a
 * group with none of them is left out. */
json_t *ds_groups_json(struct ds_groups *g, size_t max_hosts,
                       bool (*keep)(void *ctx, const struct ds_addr *a), void *ctx);

#endif
