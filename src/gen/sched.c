/* sched.c - the event queue of the generator: a calendar queue (current-bucket heap, a ring
 * of unsorted buckets, a far heap). The heaps are 4-ary and laid out so that the four
 * 16-byte children of a node share one 64-byte cache line (the root sits at slot 3). */
#include "gen/sched.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PAD 3 /* heap index i lives in slot i + PAD; children of i: slots 4(i+1) .. 4(i+1)+3 */
#define AT(h, i) ((h)->a[(i) + PAD])

static inline bool before(const struct ds_sched_ent *x, const struct ds_sched_ent *y)
{
    return x->t < y->t || (x->t == y->t && x->id < y->id);
}

static void sift_up(struct ds_sched_heap *h, size_t i)
{
    struct ds_sched_ent e = AT(h, i);
    while (i > 0) {
        size_t parent = (i - 1) / 4;
        if (!before(&e, &AT(h, parent)))
            break;
        AT(h, i) = AT(h, parent);
        i = parent;
    }
    AT(h, i) = e;
}

static void sift_down(struct ds_sched_heap *h, size_t i)
{
    struct ds_sched_ent e = AT(h, i);
    size_t n = h->n;
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= n)
            break;
        size_t best = c;
        size_t end = c + 4 < n ? c + 4 : n;
        for (size_t k = c + 1; k < end; k++)
            if (before(&AT(h, k), &AT(h, best)))
                best = k;
        if (!before(&AT(h, best), &e))
            break;
        AT(h, i) = AT(h, best);
        i = best;
    }
    AT(h, i) = e;
}

static int heap_push(struct ds_sched_heap *h, struct ds_sched_ent e)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        void *mem;
        if (posix_memalign(&mem, 64, (cap + PAD + 4) * sizeof *h->a) != 0)
            return -ENOMEM;
        if (h->a)
            memcpy((struct ds_sched_ent *)mem + PAD, h->a + PAD, h->n * sizeof *h->a);
        free(h->a);
        h->a = mem;
        h->cap = cap;
    }
    AT(h, h->n) = e;
    sift_up(h, h->n++);
    return 0;
}

static void heap_pop(struct ds_sched_heap *h)
{
    AT(h, 0) = AT(h, h->n - 1);
    if (--h->n)
        sift_down(h, 0);
}

int ds_sched_init(struct ds_sched *s)
{
    memset(s, 0, sizeof *s);
    s->ring = calloc(DS_SCHED_BUCKETS, sizeof *s->ring);
    return s->ring ? 0 : -ENOMEM;
}

void ds_sched_free(struct ds_sched *s)
{
    free(s->near.a);
    free(s->far.a);
    if (s->ring)
        for (uint32_t i = 0; i < DS_SCHED_BUCKETS; i++)
            free(s->ring[i].a);
    free(s->ring);
    memset(s, 0, sizeof *s);
}

static int bucket_add(struct ds_sched_bucket *b, struct ds_sched_ent e)
{
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 16;
        struct ds_sched_ent *a = realloc(b->a, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        b->a = a;
        b->cap = cap;
    }
    b->a[b->n++] = e;
    return 0;
}

/* Files e by its bucket: near, ring or far. */
static int place(struct ds_sched *s, struct ds_sched_ent e)
{
    uint64_t b = e.t / DS_SCHED_WIDTH_NS;
    if (b <= s->cur)
        return heap_push(&s->near, e);
    if (b - s->cur < DS_SCHED_BUCKETS) {
        int rc = bucket_add(&s->ring[b % DS_SCHED_BUCKETS], e);
        if (rc == 0)
            s->ring_n++;
        return rc;
    }
    return heap_push(&s->far, e);
}

int ds_sched_push(struct ds_sched *s, uint64_t t, uint32_t id)
{
    int rc = place(s, (struct ds_sched_ent){.t = t, .id = id});
    if (rc == 0)
        s->n++;
    return rc;
}

/* Moves the current bucket into `near` and far events that came within the horizon into
 * the ring. */
static int enter_bucket(struct ds_sched *s)
{
    while (s->far.n && AT(&s->far, 0).t / DS_SCHED_WIDTH_NS - s->cur < DS_SCHED_BUCKETS) {
        struct ds_sched_ent e = AT(&s->far, 0);
        heap_pop(&s->far);
        if (place(s, e) < 0)
            return -ENOMEM;
    }
    struct ds_sched_bucket *b = &s->ring[s->cur % DS_SCHED_BUCKETS];
    for (uint32_t i = 0; i < b->n; i++)
        if (heap_push(&s->near, b->a[i]) < 0)
            return -ENOMEM; /* (events stay counted; the caller reports the failure) */
    s->ring_n -= b->n;
    b->n = 0;
    return 0;
}

const struct ds_sched_ent *ds_sched_top(struct ds_sched *s)
{
    while (!s->near.n) {
        if (!s->n)
            return NULL;
        if (s->ring_n)
            s->cur++;
        else /* nothing within the horizon: jump to the far heap's first bucket */
            s->cur = AT(&s->far, 0).t / DS_SCHED_WIDTH_NS;
        if (enter_bucket(s) < 0)
            return NULL;
    }
    return &AT(&s->near, 0);
}

void ds_sched_pop(struct ds_sched *s)
{
    if (!s->near.n)
        return;
    heap_pop(&s->near);
    s->n--;
}

int ds_sched_retime_top(struct ds_sched *s, uint64_t t)
{
    if (t / DS_SCHED_WIDTH_NS <= s->cur) {
        AT(&s->near, 0).t = t;
        sift_down(&s->near, 0);
        return 0;
    }
    struct ds_sched_ent e = {.t = t, .id = AT(&s->near, 0).id};
    heap_pop(&s->near);
    return place(s, e);
}
