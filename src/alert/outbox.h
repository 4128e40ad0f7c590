/* outbox.h - delivering the durable outbox: worker threads send each pending row through its
 * channel, mark it done only on success, and retry failures with exponential backoff and
 * jitter, so a dead receiver delays only its own messages. */
#ifndef DS_OUTBOX_H
#define DS_OUTBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alert/deliver.h"
#include "core/err.h"

struct ds_outbox_config {
    int workers;                      /* delivery threads (default 4) */
    long backoff_min_ms;              /* first retry after about this (default 1000) */
    long backoff_max_ms;              /* never longer (default 600000) */
    struct ds_deliver_config deliver; /* channel-wide settings (SMTP server, TLS, timeouts) */
};

void ds_outbox_config_defaults(struct ds_outbox_config *c);

struct ds_outbox_stats {
    _Atomic uint64_t delivered, failures, pending; /* pending: rows not done, last count */
};

struct ds_outbox;

/* Opens its own store connections (one per worker), resets rows a crash left "sending" to
 * "pending", and starts the workers. Strings in cfg must outlive the outbox. */
int ds_outbox_open(struct ds_outbox **out, const char *db_path, const struct ds_outbox_config *cfg,
                   struct ds_err *err);

/* New rows were committed: look now instead of at the next poll. Thread-safe. */
void ds_outbox_wake(void *outbox);

/* Waits until no row is pending (true), or timeout_ms passes (false). */
bool ds_outbox_settle(struct ds_outbox *o, long timeout_ms);

const struct ds_outbox_stats *ds_outbox_stats(const struct ds_outbox *o);

/* Stops the workers (a send in progress finishes) and closes. */
void ds_outbox_close(struct ds_outbox *o);

#endif
