/* sched.h - the event queue of the generator: a calendar queue of (time, actor id) events,
 * exact in order (time, then id). */
#ifndef DS_SCHED_H
#define DS_SCHED_H

#include <stddef.h>
#include <stdint.h>

/* One pending event. Ties in time are broken by id, so the order is fully determined. */
struct ds_sched_ent {
    uint64_t t;
    uint32_t id;
};

/* A 4-ary min-heap (internal building block). */
struct ds_sched_heap {
    struct ds_sched_ent *a; /* 64-byte aligned; the root is a[3] (see sched.c) */
    size_t n, cap;
};

struct ds_sched_bucket {
    struct ds_sched_ent *a; /* unsorted */
    uint32_t n, cap;
};

/*
 * Time is cut into buckets of DS_SCHED_WIDTH_NS. Events of the current bucket sit in a small
 * heap (`near`), the next DS_SCHED_BUCKETS buckets are unsorted arrays, anything later waits
 * in a heap (`far`). Pushing is an append, so the cost per event stays flat with millions of
 * live actors (a single heap that size misses the cache at every level). Memory grows with
 * the number of pending events, never with the number of packets. Owned by one thread.
 */
#define DS_SCHED_WIDTH_NS (1ull << 27) /* ~134 ms */
#define DS_SCHED_BUCKETS 32768u        /* horizon ~73 min */

struct ds_sched {
    struct ds_sched_heap near, far;
    struct ds_sched_bucket *ring;
    uint64_t cur;  /* bucket number of `near` */
    size_t ring_n; /* events in the ring */
    size_t n;      /* events in all */
};

int ds_sched_init(struct ds_sched *s);
void ds_sched_free(struct ds_sched *s);

/* Adds an event; 0 or -ENOMEM. */
int ds_sched_push(struct ds_sched *s, uint64_t t, uint32_t id);

/* The earliest event, or NULL when empty. May reorganise the buckets (or fail to, on
 * allocation failure: then NULL with s->n > 0). */
const struct ds_sched_ent *ds_sched_top(struct ds_sched *s);

/* Removes the earliest event (call ds_sched_top first). */
void ds_sched_pop(struct ds_sched *s);

/* Gives the earliest event a new, not earlier time (same id); 0 or -ENOMEM. */
int ds_sched_retime_top(struct ds_sched *s, uint64_t t);

#endif
