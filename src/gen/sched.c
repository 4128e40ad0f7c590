/* sched.c - the event queue of the generator: a 4-ary min-heap of (time, actor id).
 * Four children per node halve the depth of a binary heap; the array is laid out so that
 * the four 16-byte children of a node share one 64-byte cache line (the root sits at slot
 * 3), which matters with hundreds of thousands of live actors. */
#include "gen/sched.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAD 3 /* heap index i lives in slot i + PAD; children of i: slots 4(i+1) .. 4(i+1)+3 */

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

#define AT(s, i) ((s)->a[(i) + PAD])

static void sift_up(struct ds_sched *s, size_t i)
{
    struct ds_sched_ent e = AT(s, i);
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!before(&e, &AT(s, parent)))
            break;
        AT(s, i) = AT(s, parent);
        i = parent;
    }
    AT(s, i) = e;
}

static void sift_down(struct ds_sched *s, size_t i)
{
    struct ds_sched_ent e = AT(s, i);
    size_t n = s->n;
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n)
            break;
        size_t best = c;
        size_t end = c + 4 < n ? c + 4 : n;
        for (size_t k = c + 1; k < end; k++)
            if (before(&AT(s, k), &AT(s, best)))
                best = k;
        if (!before(&AT(s, best), &e))
            break;
        AT(s, i) = AT(s, best);
        i = best;
    }
    AT(s, i) = e;
}

int ds_sched_push(struct ds_sched *s, uint64_t t, uint32_t id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        void *mem;
        if (posix_memalign(&mem, 64, (cap + PAD + 4) * sizeof *s->a) != 0)
            return -ENOMEM;
        if (s->a)
            memcpy((struct ds_sched_ent *)mem + PAD, s->a + PAD, s->n * sizeof *s->a);
        free(s->a);
        s->a = mem;
        s->cap = cap;
    }
    AT(s, s->n) = (struct ds_sched_ent){.t = t, .id = id};
    sift_up(s, s->n++);
    return 0;
}

void ds_sched_pop(struct ds_sched *s)
{
    if (s->n == 0)
        return;
    AT(s, 0) = AT(s, s->n - 1);
    if (--s->n)
        sift_down(s, 0);
}

void ds_sched_retime_top(struct ds_sched *s, uint64_t t)
{
    AT(s, 0).t = t;
    sift_down(s, 0);
}
