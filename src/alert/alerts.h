/* alerts.h - the alert engine: one alert per (organisation, address, case), its state
 * (new -> continuing -> closed -> reopened), when to notify (at once, or in an Alertmanager-
 * style digest per organisation), and the durable outbox rows every notification becomes. */
#ifndef DS_ALERTS_H
#define DS_ALERTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alert/match.h"
#include "alert/registry.h"
#include "core/err.h"

/* Policy. Times are packet time (a replay behaves like live traffic, only faster). An
 * organisation's own settings (registry) override the notification ones. */
struct ds_alerts_config {
    uint64_t close_after_ns;     /* quiet this long: closed (default 1 h) */
    uint64_t renotify_ns;        /* the same host is not notified again within (7 d) */
    uint64_t group_wait_ns;      /* digest: wait after the first change (30 s) */
    uint64_t group_interval_ns;  /* digest: at most one per interval with changes (5 min) */
    uint64_t repeat_interval_ns; /* digest: repeat open alerts after (4 h) */
    const char *templates_dir;   /* NULL: DS_DATA_DIR/templates */
};

void ds_alerts_config_defaults(struct ds_alerts_config *c);

/* Counters for the metrics endpoint (written by the engine thread, read by anyone). */
struct ds_alerts_stats {
    _Atomic uint64_t events, alerts_created, notices, digests, outbox_rows;
    _Atomic uint64_t by_state[4]; /* alerts held now, by enum ds_alert_state */
    _Atomic uint64_t errors;      /* store errors (each logged) */
    _Atomic uint64_t lock_waits;  /* write lock held elsewhere past the busy timeout (waited on) */
};

struct ds_alerts;

/*
 * Opens the engine on its own connection to the store at db_path and starts its thread.
 * reg: the daemon's current registry pointer (the engine reads it for names, languages,
 * contacts and settings). wake: called after new outbox rows are committed (the delivery
 * workers' doorbell), may be NULL.
 */
int ds_alerts_open(struct ds_alerts **out, const char *db_path,
                   _Atomic(const struct ds_registry *) *reg, const struct ds_alerts_config *cfg,
                   void (*wake)(void *ctx), void *wake_ctx, struct ds_err *err);

/* The sink shards post events into (thread-safe; never blocks on the store). */
const struct ds_alert_sink *ds_alerts_sink(struct ds_alerts *a);

/* Packet time moved on (the reader calls it; cheap, thread-safe). */
void ds_alerts_tick(struct ds_alerts *a, uint64_t now_ns);

/* The ingest the coming events belong to: each alert records its share per ingest, and when
 * an ingest is replaced (killed replay read again) ds_alerts_open takes that share out. */
void ds_alerts_set_ingest(struct ds_alerts *a, int64_t ingest);

/* New policy times (SIGHUP), applied from the engine's next pass; templates_dir is kept. */
void ds_alerts_reconfigure(struct ds_alerts *a, const struct ds_alerts_config *cfg);

/* Processes everything queued so far and, with flush_digests, sends every pending digest now
 * (end of a replay). Waits until done. 0 or the first store error. */
int ds_alerts_drain(struct ds_alerts *a, bool flush_digests, struct ds_err *err);

const struct ds_alerts_stats *ds_alerts_stats(const struct ds_alerts *a);

/* Stops the thread (after draining) and closes. */
void ds_alerts_close(struct ds_alerts *a);

#endif
