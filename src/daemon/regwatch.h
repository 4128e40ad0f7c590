/* regwatch.h - the daemon's current registry snapshot: loaded from the store, reloaded when
 * the registry changes (any writer: `darkscope org`, the API) or on request (SIGHUP), and
 * swapped atomically under the packet path without a lock. */
#ifndef DS_REGWATCH_H
#define DS_REGWATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alert/registry.h"
#include "core/err.h"

/*
 * Thread use: `cur` is read by any thread (shards once per batch, the alert engine once per
 * pass). ds_regwatch_poll and ds_regwatch_close are called by one thread only (the daemon's
 * ticker). A replaced snapshot is freed only after DS_REGWATCH_GRACE_MS, long after any
 * reader can still be using it.
 */
#define DS_REGWATCH_GRACE_MS (10 * 60 * 1000)

struct ds_regwatch_stats {
    _Atomic uint64_t reloads, orgs, ranges, errors;
};

struct ds_regwatch {
    _Atomic(const struct ds_registry *) cur;
    struct ds_regwatch_stats stats;
    /* ticker-thread state */
    struct ds_store *store; /* own connection */
    int64_t version;
    struct ds_regwatch_old *old;
    size_t n_old, cap_old;
};

/* Opens its own connection to the store at db and loads the first snapshot. */
int ds_regwatch_open(struct ds_regwatch **out, const char *db, struct ds_err *err);

/* Reloads when the registry changed since the last load (or always, with force). 1 when a
 * new snapshot was swapped in, 0 when nothing changed, or a negative code (the old snapshot
 * stays in use). Also frees replaced snapshots older than the grace time. */
int ds_regwatch_poll(struct ds_regwatch *w, bool force, struct ds_err *err);

void ds_regwatch_close(struct ds_regwatch *w);

#endif
