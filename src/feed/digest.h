/* digest.h - scheduled feed digests: recipients' subscriptions (feed kind and format) and one
 * outbox message per recipient, kind and UTC day with its own rows, sent once. */
#ifndef DS_FEED_DIGEST_H
#define DS_FEED_DIGEST_H

#include <stdbool.h>
#include <stdint.h>

#include "alert/registry.h"
#include "core/addr.h"
#include "core/err.h"
#include "store/store.h"

#define DS_FEED_DIGEST_JSON_VERSION 1

/* An organisation's own rows, as the API scopes them: an address whose longest livenet match
 * in reg is the organisation. Pass a struct ds_feed_scope as keep_ctx of ds_feed_query. */
struct ds_feed_scope {
    const struct ds_registry *reg;
    int64_t org_id;
};
bool ds_feed_scope_keep(void *ctx, const struct ds_addr *a);

/* Subscribes organisation `org` to feed kind in format (or with remove, ends it), audited with
 * who. "KIND:FORMAT" texts are parsed by ds_feed_sub_parse (errors name the text). Digests
 * cover ingests that start after the subscription. */
int ds_feed_sub_parse(const char *text, char *kind, size_t kcap, char *format, size_t fcap,
                      struct ds_err *err);
int ds_feed_subscribe(struct ds_store *s, const char *org, const char *kind, const char *format,
                      bool remove, const char *who, struct ds_err *err);

/*
 * Queues the digests that are due and not sent yet. A day is due when the data of it is
 * final: every day of a finished ingest (a replay: packet time), and for a live ingest every
 * day that ended at least grace_s before now_s (the clock). Each (recipient, kind, day) is
 * one transaction: its outbox rows (one per contact) and its feed_digest row commit together,
 * so a restart never sends a period twice and a kill loses none. A day without rows for the
 * recipient sends nothing (the row records it). Opens its own connection to db_path: any one
 * thread may call it. *queued: messages queued. 0 or a negative code with err set.
 */
int ds_feed_digests_run(const char *db_path, const struct ds_registry *reg, const char *producer,
                        int64_t now_s, int64_t grace_s, int *queued, struct ds_err *err);

#endif
