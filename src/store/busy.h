/* busy.h - how every store connection waits for the write lock: a busy handler that tries
 * again every millisecond until its timeout. SQLite's own (sqlite3_busy_timeout) sleeps up
 * to 100 ms between tries, so a writer that commits and begins again at once (the alert
 * engine between its short transactions) could keep it out for seconds. */
#ifndef DS_BUSY_H
#define DS_BUSY_H

struct sqlite3;

/* Installs the handler on db: SQLITE_BUSY when the lock is still held after timeout_ms. */
void ds_db_busy_wait(struct sqlite3 *db, int timeout_ms);

/* The pause a writer makes between two transactions of one long job (a few tries of the
 * handler above), so a connection waiting in it gets the lock. */
void ds_db_yield(void);

#endif
