/* sched.h - the event queue of the generator: a 4-ary min-heap of (time, actor id). */
#ifndef DS_SCHED_H
#define DS_SCHED_H

#include <stddef.h>
#include <stdint.h>

/* One pending event. Ties in time are broken by id, so the order is fully determined. */
struct ds_sched_ent {
    uint64_t t;
    uint32_t id;
};

/* Owned by one thread. Memory grows with the number of pending events (one per live actor),
 * never with the number of packets. */
struct ds_sched {
    struct ds_sched_ent *a; /* 64-byte aligned; the root is a[3] (see sched.c) */
    size_t n, cap;
};

void ds_sched_init(struct ds_sched *s);
void ds_sched_free(struct ds_sched *s);

/* Adds an event; 0 or -ENOMEM. */
int ds_sched_push(struct ds_sched *s, uint64_t t, uint32_t id);

/* The earliest event; only valid when s->n > 0. */
static inline const struct ds_sched_ent *ds_sched_top(const struct ds_sched *s) { return &s->a[3]; }

/* Removes the earliest event. */
void ds_sched_pop(struct ds_sched *s);

/* Gives the earliest event a new time (same id): cheaper than pop + push. */
void ds_sched_retime_top(struct ds_sched *s, uint64_t t);

#endif
