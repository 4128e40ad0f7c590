/* pairset.c - exact set of (source id, protocol, destination port) pairs with a packet
 * count each. Open addressing keyed by a full-avalanche mix of the 64-bit key. */
#include "gen/pairset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"

#define EMPTY UINT64_MAX

static struct ds_pair *alloc_slots(size_t n)
{
    struct ds_pair *p = malloc(n * sizeof *p);
    if (p)
        memset(p, 0xff, n * sizeof *p); /* key = EMPTY */
    return p;
}

int ds_pairset_init(struct ds_pairset *s)
{
    s->mask = 4096 - 1;
    s->n = 0;
    s->slots = alloc_slots(s->mask + 1);
    return s->slots ? 0 : -ENOMEM;
}

void ds_pairset_free(struct ds_pairset *s)
{
    free(s->slots);
    s->slots = NULL;
    s->mask = s->n = 0;
}

static int grow(struct ds_pairset *s)
{
    size_t nm = (s->mask + 1) * 2 - 1;
    struct ds_pair *ns = alloc_slots(nm + 1);
    if (!ns)
        return -ENOMEM;
    for (size_t i = 0; i <= s->mask; i++) {
        if (s->slots[i].key == EMPTY)
            continue;
        size_t j = ds_mix64(s->slots[i].key) & nm;
        while (ns[j].key != EMPTY)
            j = (j + 1) & nm;
        ns[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = ns;
    s->mask = nm;
    return 0;
}

int ds_pairset_hit(struct ds_pairset *s, uint64_t key)
{
    size_t i = ds_mix64(key) & s->mask;
    for (;;) {
        struct ds_pair *p = &s->slots[i];
        if (p->key == key) {
            p->packets++;
            return 0;
        }
        if (p->key == EMPTY)
            break;
        i = (i + 1) & s->mask;
    }
    if ((s->n + 1) * 2 > s->mask + 1) {
        if (grow(s) < 0)
            return -ENOMEM;
        i = ds_mix64(key) & s->mask;
        while (s->slots[i].key != EMPTY)
            i = (i + 1) & s->mask;
    }
    s->slots[i] = (struct ds_pair){.key = key, .packets = 1};
    s->n++;
    return 1;
}

int ds_pairset_insert(struct ds_pairset *s, uint64_t key, uint64_t packets)
{
    if ((s->n + 1) * 2 > s->mask + 1 && grow(s) < 0)
        return -ENOMEM;
    size_t i = ds_mix64(key) & s->mask;
    while (s->slots[i].key != EMPTY)
        i = (i + 1) & s->mask;
    s->slots[i] = (struct ds_pair){.key = key, .packets = packets};
    s->n++;
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    uint64_t x = ((const struct ds_pair *)a)->key, y = ((const struct ds_pair *)b)->key;
    return x < y ? -1 : x > y;
}

void ds_pairset_sort(struct ds_pairset *s)
{
    size_t w = 0;
    for (size_t i = 0; i <= s->mask; i++)
        if (s->slots[i].key != EMPTY)
            s->slots[w++] = s->slots[i];
    qsort(s->slots, w, sizeof *s->slots, cmp_pair);
}
