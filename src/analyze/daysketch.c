/* daysketch.c - one day's distinct-source sketches per (dimension, key). */
#include "analyze/daysketch.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

#define INITIAL 1024

int ds_daysk_init(struct ds_daysk *d)
{
    memset(d, 0, sizeof *d);
    d->tab = calloc(INITIAL, sizeof *d->tab);
    d->mask = INITIAL - 1;
    return d->tab ? 0 : -ENOMEM;
}

static void clear(struct ds_daysk *d)
{
    for (size_t i = 0; i <= d->mask; i++) {
        if (!d->tab[i].k)
            continue;
        ds_hll_free(&d->tab[i].nr);
        ds_hll_free(&d->tab[i].r);
        d->tab[i].k = 0;
    }
    d->count = 0;
}

void ds_daysk_free(struct ds_daysk *d)
{
    if (d->tab)
        clear(d);
    free(d->tab);
    memset(d, 0, sizeof *d);
}

void ds_daysk_reset(struct ds_daysk *d, uint32_t day)
{
    clear(d);
    d->day = day;
}

static struct ds_daysk_entry *slot(struct ds_daysk_entry *tab, size_t mask, uint64_t k)
{
    size_t i = ds_mix64(k) & mask;
    while (tab[i].k && tab[i].k != k)
        i = (i + 1) & mask;
    return &tab[i];
}

static struct ds_daysk_entry *get(struct ds_daysk *d, enum ds_dim dim, uint32_t key)
{
    uint64_t k = ((uint64_t)dim << 32 | key) + 1;
    struct ds_daysk_entry *e = slot(d->tab, d->mask, k);
    if (e->k)
        return e;
    if ((d->count + 1) * 4 > (d->mask + 1) * 3) {
        size_t cap = (d->mask + 1) * 2;
        struct ds_daysk_entry *n = calloc(cap, sizeof *n);
        if (!n)
            return NULL;
        for (size_t i = 0; i <= d->mask; i++)
            if (d->tab[i].k)
                *slot(n, cap - 1, d->tab[i].k) = d->tab[i]; /* moves the sketches */
        free(d->tab);
        d->tab = n;
        d->mask = cap - 1;
        e = slot(d->tab, d->mask, k);
    }
    e->k = k;
    ds_hll_init(&e->nr);
    ds_hll_init(&e->r);
    d->count++;
    return e;
}

int ds_daysk_add(struct ds_daysk *d, enum ds_dim dim, uint32_t key, bool research, uint64_t hash)
{
    struct ds_daysk_entry *e = get(d, dim, key);
    if (!e)
        return -ENOMEM;
    int rc = ds_hll_add(research ? &e->r : &e->nr, hash);
    return rc < 0 ? rc : 0;
}

int ds_daysk_merge(struct ds_daysk *dst, const struct ds_daysk *src)
{
    for (size_t i = 0; i <= src->mask; i++) {
        const struct ds_daysk_entry *s = &src->tab[i];
        if (!s->k)
            continue;
        uint64_t k = s->k - 1;
        struct ds_daysk_entry *e = get(dst, (enum ds_dim)(k >> 32), (uint32_t)k);
        if (!e || ds_hll_merge(&e->nr, &s->nr) < 0 || ds_hll_merge(&e->r, &s->r) < 0)
            return -ENOMEM;
    }
    return 0;
}

int ds_daysk_foreach(const struct ds_daysk *d, ds_daysk_fn fn, void *ctx)
{
    for (size_t i = 0; i <= d->mask; i++) {
        const struct ds_daysk_entry *e = &d->tab[i];
        if (!e->k)
            continue;
        uint64_t k = e->k - 1;
        int rc = fn(ctx, (enum ds_dim)(k >> 32), (uint32_t)k, &e->nr, &e->r);
        if (rc)
            return rc;
    }
    return 0;
}
