/* hosttab.c - per-shard table of source hosts (open addressing, mixed address hash) and the
 * set of (host, port) pairs used for exact per-port unique-source counts. */
#include "analyze/hosttab.h"

#include <stdlib.h>
#include <string.h>

static size_t pow2_at_least(size_t n)
{
    size_t c = 1024;
    while (c < n)
        c <<= 1;
    return c;
}

int ds_hosttab_init(struct ds_hosttab *t, size_t initial)
{
    memset(t, 0, sizeof *t);
    size_t cap = pow2_at_least(initial * 2);
    t->slots = calloc(cap, sizeof *t->slots);
    t->pairs = calloc(1024, sizeof *t->pairs);
    if (!t->slots || !t->pairs) {
        ds_hosttab_free(t);
        return -ENOMEM;
    }
    t->mask = cap - 1;
    t->pairs_mask = 1023;
    t->next_id = 1;
    return 0;
}

void ds_hosttab_free(struct ds_hosttab *t)
{
    free(t->slots);
    free(t->pairs);
    memset(t, 0, sizeof *t);
}

static int grow(struct ds_hosttab *t)
{
    size_t cap = (t->mask + 1) * 2;
    struct ds_host *n = calloc(cap, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->mask; i++) {
        struct ds_host *h = &t->slots[i];
        if (!h->id)
            continue;
        size_t j = ds_hosttab_hash(&h->addr) & (cap - 1);
        while (n[j].id)
            j = (j + 1) & (cap - 1);
        n[j] = *h;
    }
    free(t->slots);
    t->slots = n;
    t->mask = cap - 1;
    return 0;
}

struct ds_host *ds_hosttab_get(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                               bool *created)
{
    size_t i = h & t->mask;
    for (;;) {
        struct ds_host *s = &t->slots[i];
        if (!s->id)
            break;
        if (ds_addr_eq(&s->addr, a)) {
            *created = false;
            return s;
        }
        i = (i + 1) & t->mask;
    }
    /* keep the load factor under 3/4 */
    if ((t->count + 1) * 4 > (t->mask + 1) * 3) {
        if (grow(t) < 0)
            return NULL;
        return ds_hosttab_get(t, a, h, created);
    }
    struct ds_host *s = &t->slots[i];
    memset(s, 0, sizeof *s);
    s->addr = *a;
    s->id = t->next_id++;
    t->count++;
    *created = true;
    return s;
}

static bool pairs_insert(uint64_t *tab, size_t mask, uint64_t k)
{
    size_t i = ds_mix64(k) & mask;
    while (tab[i]) {
        if (tab[i] == k)
            return false;
        i = (i + 1) & mask;
    }
    tab[i] = k;
    return true;
}

static int pairs_grow(struct ds_hosttab *t)
{
    size_t cap = (t->pairs_mask + 1) * 2;
    uint64_t *n = calloc(cap, sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->pairs_mask; i++)
        if (t->pairs[i])
            pairs_insert(n, cap - 1, t->pairs[i]);
    free(t->pairs);
    t->pairs = n;
    t->pairs_mask = cap - 1;
    return 0;
}

int ds_hosttab_add_port(struct ds_hosttab *t, struct ds_host *h, uint32_t key)
{
    unsigned inl = h->nports < DS_HOST_INLINE_PORTS ? h->nports : DS_HOST_INLINE_PORTS;
    for (unsigned i = 0; i < inl; i++)
        if (h->ports[i] == key)
            return 0;
    if (h->nports < DS_HOST_INLINE_PORTS) {
        h->ports[h->nports++] = key;
        return 1;
    }
    /* key fits in 17 bits; the host id above it; +1 keeps 0 free as the empty marker */
    uint64_t k = ((uint64_t)h->id << 17 | key) + 1;
    if ((t->pairs_count + 1) * 4 > (t->pairs_mask + 1) * 3 && pairs_grow(t) < 0)
        return -ENOMEM;
    if (!pairs_insert(t->pairs, t->pairs_mask, k))
        return 0;
    t->pairs_count++;
    if (h->nports < UINT16_MAX)
        h->nports++;
    return 1;
}
