/* store.h - the SQLite store: interval statistics, day sketches, host profiles and the
 * ingest log, with versioned migrations (schema: docs/store.md). */
#ifndef DS_STORE_H
#define DS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze/sink.h"
#include "core/addr.h"
#include "core/err.h"
#include "core/hash.h"
#include "enrich/scanners.h"

#define DS_STORE_SCHEMA_VERSION 10

/*
 * One open database. Threads: a store is used by one thread at a time (the engine's collector
 * serialises the sink calls); open another handle for another thread. Writes of an ingest go
 * into short write transactions (BEGIN IMMEDIATE, one per sink call; a live ingest's merge at
 * each checkpoint), so other connections never wait long for this one; the ingest's rows stay
 * in its stage tables until merged, so a crash never leaves half an interval in the shared
 * tables. A write lock held elsewhere past the busy timeout is waited for again, not an error.
 */
struct ds_store;

/* Opens (creating if missing) and migrates to DS_STORE_SCHEMA_VERSION. A file that is not a
 * darkscope store, a newer schema, or a corrupt database is an error naming the path. */
int ds_store_open(struct ds_store **out, const char *path, bool readonly, struct ds_err *err);
void ds_store_close(struct ds_store *s);

/* The underlying handle, for queries (query.c). */
struct sqlite3 *ds_store_db(struct ds_store *s);

/* The key the host table is indexed by: 63 bits of the address's hash. */
static inline int64_t ds_store_addr_key(const struct ds_addr *a)
{
    return (int64_t)(ds_hash_addr16(a->b) >> 1);
}

/* One input file of an ingest, identified by content (ds_store_file_identity). */
struct ds_ingest_file {
    const char *path;
    char identity[65]; /* hex SHA-256 */
    uint64_t size;
};

/* SHA-256 over the file's size and its first and last MiB: cheap, and different for any two
 * different capture files seen in practice (a rotated file keeps its name but not its
 * content). Standard input and pipes have no identity (-ESPIPE). */
int ds_store_file_identity(const char *path, struct ds_ingest_file *f, struct ds_err *err);

/* Which of these files an earlier finished ingest already holds: sets done[i]. */
int ds_store_files_done(struct ds_store *s, const struct ds_ingest_file *f, size_t n, bool *done,
                        int64_t *by_ingest, struct ds_err *err);

struct ds_ingest_info {
    const char *darknet; /* the monitored prefixes, as text */
    uint64_t monitored;  /* IPv4 addresses */
    int threads;
    const struct ds_ingest_file *files;
    size_t n_files;                     /* 0 for live capture or standard input */
    const struct ds_scanners *scanners; /* labels for research hosts, or NULL */
    /* Live capture: closed intervals are merged into the shared tables at every checkpoint
     * (visible to reports at once; a crash loses only what came after the last one), and
     * the ingest never needs replacing. A live ingest left by a dead process is marked
     * 'interrupted' when the next live ingest begins. */
    bool live;
};

/*
 * Starts an ingest. An earlier ingest of exactly these files that did not finish (killed,
 * failed) is removed first, rows and all, so the new one replaces it without double counts.
 * Returns the new ingest id in *id. The sink (ds_store_sink) then writes into it.
 */
int ds_store_ingest_begin(struct ds_store *s, const struct ds_ingest_info *info, int64_t *id,
                          struct ds_err *err);

/* The sink that writes into the current ingest. Valid until ds_store_ingest_end. */
const struct ds_sink *ds_store_sink(struct ds_store *s);

/* The outbreak detector's state saved by the last ingest that ran detection (the sink's
 * outbreak_state), into *blob (malloc'd; NULL and *len 0 when there is none). */
int ds_store_outbreak_state(struct ds_store *s, void **blob, size_t *len, struct ds_err *err);

/* Finishes the ingest: the run's totals (summary_json: analyze's JSON) and status. */
int ds_store_ingest_end(struct ds_store *s, bool ok, uint64_t first_ns, uint64_t last_ns,
                        uint64_t packets, uint64_t darknet_packets, uint64_t sources,
                        const char *summary_json, struct ds_err *err);

/* Counters of what the current/last ingest wrote (for logs and tests). */
struct ds_store_stats {
    uint64_t stat_rows, sketch_rows, host_rows, dos_rows, campaign_rows, outbreak_rows, commits;
};
void ds_store_get_stats(const struct ds_store *s, struct ds_store_stats *st);

#endif
