/* outbreak_alerts.h - outbreak candidates as alerts of the analysts' organisation: one alert
 * per series (what rose), the alert engine's lifecycle, notices, digests and re-notify
 * window, and outbox rows in the engine's transaction. */
#ifndef DS_OUTBREAK_ALERTS_H
#define DS_OUTBREAK_ALERTS_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "alert/alerts.h"
#include "alert/registry.h"
#include "core/err.h"

struct ds_obalerts;

/*
 * Works on the alert engine's connection db (not owned) and in its thread only: every call is
 * made by the engine thread inside its open transaction, so the outbox rows, the alert rows
 * and the "candidates read up to" mark commit together or not at all.
 */
int ds_obalerts_open(struct ds_obalerts **out, sqlite3 *db, struct ds_err *err);

/*
 * One pass at packet time now: candidates the store holds that were not read yet become alerts
 * (or update them), quiet alerts close, digests go out (flush: every pending one now).
 * *rows counts the outbox rows queued. 0, or a negative code (the engine rolls back).
 */
int ds_obalerts_pass(struct ds_obalerts *o, const struct ds_registry *reg,
                     const struct ds_alerts_config *cfg, uint64_t now, bool flush, uint64_t *rows);

/* After a rolled-back pass: forget what memory holds (it is read again from the store). */
void ds_obalerts_reset(struct ds_obalerts *o);

void ds_obalerts_close(struct ds_obalerts *o);

#endif
