/* sched.c - the event queue of the generator: a 4-ary min-heap of (time, actor id).
 * Four children per node halve the depth of a binary heap and keep siblings in one cache
 * line, which matters with hundreds of thousands of live actors. */
#include "gen/sched.h"

#include <errno.h>
#include <stdlib.h>

void ds_sched_init(struct ds_sched *s)
{
    s->a = NULL;
    s->n = s->cap = 0;
}

void ds_sched_free(struct ds_sched *s)
{
    free(s->a);
    ds_sched_init(s);
}

static inline int before(const struct ds_sched_ent *x, const struct ds_sched_ent *y)
{
    return x->t < y->t || (x->t == y->t && x->id < y->id);
}

static void sift_up(struct ds_sched *s, size_t i)
{
    struct ds_sched_ent e = s->a[i];
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!before(&e, &s->a[parent]))
            break;
        s->a[i] = s->a[parent];
        i = parent;
    }
    s->a[i] = e;
}

static void sift_down(struct ds_sched *s, size_t i)
{
    struct ds_sched_ent e = s->a[i];
    size_t n = s->n;
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n)
            break;
        size_t best = c;
        size_t end = c + 4 < n ? c + 4 : n;
        for (size_t k = c + 1; k < end; k++)
            if (before(&s->a[k], &s->a[best]))
                best = k;
        if (!before(&s->a[best], &e))
            break;
        s->a[i] = s->a[best];
        i = best;
    }
    s->a[i] = e;
}

int ds_sched_push(struct ds_sched *s, uint64_t t, uint32_t id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        struct ds_sched_ent *a = realloc(s->a, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        s->a = a;
        s->cap = cap;
    }
    s->a[s->n] = (struct ds_sched_ent){.t = t, .id = id};
    sift_up(s, s->n++);
    return 0;
}

void ds_sched_pop(struct ds_sched *s)
{
    if (s->n == 0)
        return;
    s->a[0] = s->a[--s->n];
    if (s->n)
        sift_down(s, 0);
}

void ds_sched_retime_top(struct ds_sched *s, uint64_t t)
{
    s->a[0].t = t;
    sift_down(s, 0);
}
