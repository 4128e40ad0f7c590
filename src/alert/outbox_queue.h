/* outbox_queue.h - queueing a message into the durable outbox: one row per contact of the
 * organisation whose channel it uses, keyed so that queueing the same message twice adds
 * nothing. Alerts, outbreak alerts and feed digests all queue through here. */
#ifndef DS_OUTBOX_QUEUE_H
#define DS_OUTBOX_QUEUE_H

#include <stdbool.h>

#include "core/err.h"

struct sqlite3;
struct sqlite3_stmt;
struct ds_org;

/* One message (the strings are the caller's; they are copied into the rows). */
struct ds_outbox_msg {
    const char *message_id; /* receivers deduplicate on it; the row key is message_id/contact */
    const char *subject;
    const char *text;       /* the readable body */
    const char *json;       /* the machine-readable body (webhook body, e-mail attachment) */
    const char *attachment; /* file name of the attached JSON */
    int severity;
};

/* Whether org's notification channels ("smtp,webhook", NULL = none) include channel. */
bool ds_org_uses_channel(const struct ds_org *org, const char *channel);

/* Queues m for every contact of org whose channel the organisation uses, in db's open
 * transaction (the caller commits). Returns the number of rows added (0 when all were
 * already there), or a negative code with err naming the organisation: -EINVAL for a message
 * with a NULL part, a contact without channel or address, or a message id too long for the
 * row key; -EIO or -ENOSPC from the store. */
int ds_outbox_enqueue(struct sqlite3 *db, const struct ds_org *org, const struct ds_outbox_msg *m,
                      struct ds_err *err);

/* The same through a statement the caller keeps: *st is prepared on first use (persistent)
 * and reset after, so a caller queueing thousands of messages prepares the INSERT once. The
 * caller finalizes *st with the connection. st NULL: prepared and finalized per call. */
int ds_outbox_enqueue_st(struct sqlite3 *db, struct sqlite3_stmt **st, const struct ds_org *org,
                         const struct ds_outbox_msg *m, struct ds_err *err);

#endif
