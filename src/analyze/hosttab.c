/* hosttab.c - per-shard table of source hosts (open addressing, mixed address hash; compact
 * IPv4 entries, separate IPv6 entries) and the set of (host, port) pairs used for exact
 * per-port unique-source counts. Linear probing, load factor at most 3/4, tables backed by
 * huge pages (random access over hundreds of MiB). */
#include "analyze/hosttab.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

#define INITIAL_MIN 1024

static size_t pow2_at_least(size_t n)
{
    size_t c = INITIAL_MIN;
    while (c < n)
        c <<= 1;
    return c;
}

int ds_hosttab_init(struct ds_hosttab *t, size_t initial)
{
    memset(t, 0, sizeof *t);
    t->v4_mask = pow2_at_least(initial + initial / 3) - 1;
    t->v6_mask = INITIAL_MIN - 1;
    t->pairs_mask = INITIAL_MIN - 1;
    t->v4 = ds_bigmem_alloc((t->v4_mask + 1) * sizeof *t->v4);
    t->v6 = ds_bigmem_alloc((t->v6_mask + 1) * sizeof *t->v6);
    t->pairs = ds_bigmem_alloc((t->pairs_mask + 1) * sizeof *t->pairs);
    if (!t->v4 || !t->v6 || !t->pairs) {
        ds_hosttab_free(t);
        return -ENOMEM;
    }
    t->next_id = 1;
    return 0;
}

void ds_hosttab_free(struct ds_hosttab *t)
{
    ds_bigmem_free(t->v4, (t->v4_mask + 1) * sizeof *t->v4);
    ds_bigmem_free(t->v6, (t->v6_mask + 1) * sizeof *t->v6);
    ds_bigmem_free(t->pairs, (t->pairs_mask + 1) * sizeof *t->pairs);
    memset(t, 0, sizeof *t);
}

size_t ds_hosttab_bytes(const struct ds_hosttab *t)
{
    return (t->v4_mask + 1) * sizeof *t->v4 + (t->v6_mask + 1) * sizeof *t->v6 +
           (t->pairs_mask + 1) * sizeof *t->pairs;
}

static int grow4(struct ds_hosttab *t)
{
    size_t cap = (t->v4_mask + 1) * 2;
    struct ds_host4 *n = ds_bigmem_alloc(cap * sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->v4_mask; i++) {
        const struct ds_host4 *e = &t->v4[i];
        if (!e->h.id)
            continue;
        size_t j = ds_mix64(e->addr) & (cap - 1);
        while (n[j].h.id)
            j = (j + 1) & (cap - 1);
        n[j] = *e;
    }
    ds_bigmem_free(t->v4, (t->v4_mask + 1) * sizeof *t->v4);
    t->v4 = n;
    t->v4_mask = cap - 1;
    return 0;
}

static int grow6(struct ds_hosttab *t)
{
    size_t cap = (t->v6_mask + 1) * 2;
    struct ds_host6 *n = ds_bigmem_alloc(cap * sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->v6_mask; i++) {
        const struct ds_host6 *e = &t->v6[i];
        if (!e->h.id)
            continue;
        size_t j = ds_hash_addr16(e->addr.b) & (cap - 1);
        while (n[j].h.id)
            j = (j + 1) & (cap - 1);
        n[j] = *e;
    }
    ds_bigmem_free(t->v6, (t->v6_mask + 1) * sizeof *t->v6);
    t->v6 = n;
    t->v6_mask = cap - 1;
    return 0;
}

static struct ds_host *get4(struct ds_hosttab *t, uint32_t a, uint64_t h, bool *created)
{
    for (;;) {
        size_t i = h & t->v4_mask;
        for (;;) {
            struct ds_host4 *e = &t->v4[i];
            if (!e->h.id)
                break;
            if (e->addr == a) {
                *created = false;
                return &e->h;
            }
            i = (i + 1) & t->v4_mask;
        }
        if ((t->v4_count + 1) * 4 <= (t->v4_mask + 1) * 3) {
            struct ds_host4 *e = &t->v4[i];
            e->addr = a;
            e->h.id = t->next_id++;
            t->v4_count++;
            *created = true;
            return &e->h;
        }
        if (grow4(t) < 0)
            return NULL;
    }
}

static struct ds_host *get6(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                            bool *created)
{
    for (;;) {
        size_t i = h & t->v6_mask;
        for (;;) {
            struct ds_host6 *e = &t->v6[i];
            if (!e->h.id)
                break;
            if (ds_addr_eq(&e->addr, a)) {
                *created = false;
                return &e->h;
            }
            i = (i + 1) & t->v6_mask;
        }
        if ((t->v6_count + 1) * 4 <= (t->v6_mask + 1) * 3) {
            struct ds_host6 *e = &t->v6[i];
            e->addr = *a;
            e->h.id = t->next_id++;
            t->v6_count++;
            *created = true;
            return &e->h;
        }
        if (grow6(t) < 0)
            return NULL;
    }
}

struct ds_host *ds_hosttab_get(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                               bool *created)
{
    if (ds_addr_is_v4(a))
        return get4(t, ds_addr_v4(a), h, created);
    return get6(t, a, h, created);
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
    uint64_t *n = ds_bigmem_alloc(cap * sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->pairs_mask; i++)
        if (t->pairs[i])
            pairs_insert(n, cap - 1, t->pairs[i]);
    ds_bigmem_free(t->pairs, (t->pairs_mask + 1) * sizeof *t->pairs);
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
