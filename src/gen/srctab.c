/* srctab.c - the generator's table of source addresses: uniqueness across populations and
 * per-source ground truth. Open addressing on a mixed hash of the 16 address bytes. */
#include "gen/srctab.h"

#include <errno.h>
#include <stdlib.h>

#include "core/hash.h"

int ds_srctab_init(struct ds_srctab *t)
{
    t->n = 0;
    t->cap = 1024;
    t->v = malloc(t->cap * sizeof *t->v);
    t->mask = 4096 - 1;
    t->slots = calloc(t->mask + 1, sizeof *t->slots);
    if (!t->v || !t->slots) {
        ds_srctab_free(t);
        return -ENOMEM;
    }
    return 0;
}

void ds_srctab_free(struct ds_srctab *t)
{
    free(t->v);
    free(t->slots);
    t->v = NULL;
    t->slots = NULL;
    t->n = t->cap = 0;
    t->mask = 0;
}

static size_t lookup(const struct ds_srctab *t, const struct ds_addr *a, bool *found)
{
    size_t i = ds_hash_addr16(a->b) & t->mask;
    for (;;) {
        uint32_t s = t->slots[i];
        if (!s) {
            *found = false;
            return i;
        }
        if (ds_addr_eq(&t->v[s - 1].addr, a)) {
            *found = true;
            return i;
        }
        i = (i + 1) & t->mask;
    }
}

int ds_srctab_find(const struct ds_srctab *t, const struct ds_addr *a, uint32_t *id)
{
    bool found;
    size_t i = lookup(t, a, &found);
    if (!found)
        return -ENOENT;
    *id = t->slots[i] - 1;
    return 0;
}

static int grow_slots(struct ds_srctab *t)
{
    size_t nm = (t->mask + 1) * 2 - 1;
    uint32_t *ns = calloc(nm + 1, sizeof *ns);
    if (!ns)
        return -ENOMEM;
    for (size_t id = 0; id < t->n; id++) {
        size_t i = ds_hash_addr16(t->v[id].addr.b) & nm;
        while (ns[i])
            i = (i + 1) & nm;
        ns[i] = (uint32_t)id + 1;
    }
    free(t->slots);
    t->slots = ns;
    t->mask = nm;
    return 0;
}

int ds_srctab_add(struct ds_srctab *t, const struct ds_addr *a, uint16_t pop, uint32_t *id)
{
    if (t->n >= UINT32_MAX - 1)
        return -ENOMEM;
    if ((t->n + 1) * 2 > t->mask + 1 && grow_slots(t) < 0)
        return -ENOMEM;
    bool found;
    size_t i = lookup(t, a, &found);
    if (found)
        return -EEXIST;
    if (t->n == t->cap) {
        size_t cap = t->cap * 2;
        struct ds_gen_src *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    struct ds_gen_src *s = &t->v[t->n];
    *s = (struct ds_gen_src){.addr = *a, .pop = pop};
    t->slots[i] = (uint32_t)t->n + 1;
    *id = (uint32_t)t->n++;
    return 0;
}
