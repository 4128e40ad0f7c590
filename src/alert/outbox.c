/* outbox.c - delivering the durable outbox: worker threads claim due rows in batches of one
 * receiver, send them through their channel, and mark them done or schedule a retry
 * (exponential backoff with jitter), a batch's outcomes in one transaction.
 *
 * At-least-once: a row is marked done only after its channel reported success; a crash
 * between the two sends it again after the restart (receivers deduplicate on the message id,
 * which every channel carries). Each worker owns its store connection and channel states. */
#include "alert/outbox.h"

#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "store/busy.h"

#define BUSY_MS 10000 /* the connections' busy timeout */

void ds_outbox_config_defaults(struct ds_outbox_config *c)
{
    *c = (struct ds_outbox_config){
        .workers = 4,
        .backoff_min_ms = 1000,
        .backoff_max_ms = 600000,
        .deliver = {.timeout_ms = 5000,
                    .smtp_from = "darkscope@localhost",
                    .hostname = "darkscope"},
    };
}

/* A batch: due rows of one receiver (channel, address and secret), claimed in one statement
 * and their outcomes stored in one transaction. Rows of one receiver only, so a receiver that
 * hangs or fails holds up nothing of another's; the scan for them looks at the first
 * BATCH_SCAN due rows only, so a deep outbox of many receivers costs the same per claim. */
#define BATCH 32       /* rows claimed at once */
#define BATCH_SCAN 128 /* due rows looked at to find them */
#define BATCH_MS 1000  /* a batch's sends stop after this; its rows not tried go back */

/* the statements of one worker, prepared when it starts, reset after every use */
enum { ST_CLAIM, ST_ORG, ST_DONE, ST_FAIL, ST_DEFER, ST_RELEASE, ST_BEGIN, ST_COMMIT, ST_N };
static const char *const stmt_sql[ST_N] = {
    [ST_CLAIM] =
        "WITH due AS MATERIALIZED (SELECT id, next_ms, channel, address, secret FROM outbox"
        "  WHERE state = 'pending' AND next_ms <= ?1 ORDER BY next_ms, id LIMIT ?3),"
        " first AS (SELECT channel, address, secret FROM due ORDER BY next_ms, id LIMIT 1)"
        " UPDATE outbox SET state = 'sending' WHERE id IN (SELECT due.id FROM due, first"
        "  WHERE due.channel = first.channel AND due.address = first.address"
        "  AND due.secret IS first.secret LIMIT ?2)"
        " RETURNING id, message_id, channel, address, secret, subject, text,"
        " json, attachment, severity, attempts, org, strftime('%s', created)",
    [ST_ORG] = "SELECT name FROM org WHERE id = ?",
    [ST_DONE] = "UPDATE outbox SET state = 'done', attempts = attempts + 1,"
                " done = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), last_error = NULL WHERE id = ?",
    [ST_FAIL] = "UPDATE outbox SET state = 'pending', attempts = attempts + 1,"
                " next_ms = ?, last_error = ? WHERE id = ?",
    [ST_DEFER] = "UPDATE outbox SET state = 'pending', next_ms = ?, last_error = ? WHERE id = ?",
    [ST_RELEASE] = "UPDATE outbox SET state = 'pending' WHERE id = ?",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
};

struct chan { /* one open channel state of a worker */
    char *key;
    const struct ds_deliverer *d;
    void *state;
};

struct worker {
    struct ds_outbox *o;
    pthread_t thread;
    sqlite3 *db;
    sqlite3_stmt *st[ST_N]; /* see stmt_sql */
    struct chan *chans;
    size_t n_chans;
    unsigned seed;
    bool started;
};

struct ds_outbox {
    struct ds_outbox_config cfg;
    char *path;
    sqlite3 *db; /* the caller's connection: crash recovery, settle (workers own theirs) */
    struct worker *w;
    int n;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    uint64_t bell; /* rung by ds_outbox_wake */
    struct ds_outbox_stats stats;
};

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static struct chan *channel(struct worker *w, const char *name, const char *address,
                            const char *secret, struct ds_err *err)
{
    char key[1024];
    snprintf(key, sizeof key, "%s|%s|%s", name, address, secret ? secret : "");
    for (size_t i = 0; i < w->n_chans; i++)
        if (strcmp(w->chans[i].key, key) == 0)
            return &w->chans[i];
    const struct ds_deliverer *d = ds_deliverer_find(name);
    if (!d) {
        ds_err_set(err, -EINVAL, "unknown channel '%s'", name);
        return NULL;
    }
    struct ds_target t = {.channel = name, .address = address, .secret = secret};
    void *state = NULL;
    if (d->open(&state, &t, &w->o->cfg.deliver, err) < 0)
        return NULL;
    struct chan *n = realloc(w->chans, (w->n_chans + 1) * sizeof *n);
    if (!n) {
        d->close(state);
        ds_err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    w->chans = n;
    w->chans[w->n_chans] = (struct chan){.key = strdup(key), .d = d, .state = state};
    return &w->chans[w->n_chans++];
}

static char *col(sqlite3_stmt *st, int c)
{
    const unsigned char *t = sqlite3_column_text(st, c);
    return t ? strdup((const char *)t) : NULL;
}

enum outcome { NOT_TRIED, SENT, FAILED, DEFERRED };

struct row { /* one claimed row; strings owned */
    int64_t id, attempts, org_id, created;
    char *mid, *chan, *addr, *secret, *subject, *text, *json, *att;
    int sev;
    enum outcome outcome;
    int64_t next_ms; /* FAILED, DEFERRED: when it is due again */
    char *error;     /* FAILED, DEFERRED: what to store as last_error */
};

static void row_free(struct row *r)
{
    free(r->mid);
    free(r->chan);
    free(r->addr);
    free(r->secret);
    free(r->subject);
    free(r->text);
    free(r->json);
    free(r->att);
    free(r->error);
}

static int by_id(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static bool stopping(struct ds_outbox *o)
{
    pthread_mutex_lock(&o->mu);
    bool stop = o->stop;
    pthread_mutex_unlock(&o->mu);
    return stop;
}

/* Claims up to BATCH due rows of one receiver into rows[]: their number, or <0 (-EBUSY: the
 * claim waited out the busy timeout, nothing claimed). */
static int claim(struct worker *w, struct row *rows)
{
    sqlite3_stmt *st = w->st[ST_CLAIM];
    sqlite3_bind_int64(st, 1, now_ms());
    sqlite3_bind_int(st, 2, BATCH);
    sqlite3_bind_int(st, 3, BATCH_SCAN);
    int n = 0, r;
    while (n < BATCH && (r = sqlite3_step(st)) == SQLITE_ROW) {
        struct row *x = &rows[n++];
        *x = (struct row){.id = sqlite3_column_int64(st, 0),
                          .mid = col(st, 1),
                          .chan = col(st, 2),
                          .addr = col(st, 3),
                          .secret = col(st, 4),
                          .subject = col(st, 5),
                          .text = col(st, 6),
                          .json = col(st, 7),
                          .att = col(st, 8),
                          .sev = sqlite3_column_int(st, 9),
                          .attempts = sqlite3_column_int64(st, 10),
                          .org_id = sqlite3_column_int64(st, 11),
                          .created = sqlite3_column_int64(st, 12)};
    }
    if (n == BATCH)
        r = sqlite3_step(st); /* LIMIT ?2 = BATCH: no further row, the statement completes */
    sqlite3_reset(st);
    if (r != SQLITE_DONE) { /* the claim did not happen: nothing is 'sending' */
        for (int i = 0; i < n; i++)
            row_free(&rows[i]);
        return r == SQLITE_BUSY ? -EBUSY : -EIO;
    }
    qsort(rows, (size_t)n, sizeof *rows, by_id);
    return n;
}

/* Sends one row through its receiver's channel: 0 sent, <0 failed (err says why). */
static int send_row(struct worker *w, struct row *x, struct ds_err *err)
{
    char org[256]; /* the name for headers and logs (the id if the organisation is gone) */
    snprintf(org, sizeof org, "%" PRId64, x->org_id);
    sqlite3_stmt *st = w->st[ST_ORG];
    sqlite3_bind_int64(st, 1, x->org_id);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(org, sizeof org, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    struct chan *c = channel(w, x->chan, x->addr, x->secret, err);
    if (!c)
        return -EINVAL;
    struct ds_message m = {.id = x->mid,
                           .org = org,
                           .subject = x->subject,
                           .text = x->text,
                           .json = x->json,
                           .json_len = x->json ? strlen(x->json) : 0,
                           .attachment_name = x->att,
                           .severity = x->sev,
                           .created = x->created};
    return c->d->send(c->state, &m, err);
}

/* Steps a write of the outcome transaction; SQLITE_BUSY (the lock held elsewhere past the busy
 * timeout) is waited on: a row left 'sending' would wait for a restart (and settle for ever). */
static int step_write(struct worker *w, sqlite3_stmt *st, const char *what)
{
    int r;
    for (unsigned waits = 1; (r = sqlite3_step(st)) == SQLITE_BUSY; waits++) {
        sqlite3_reset(st);
        ds_warn("outbox",
                "%s: storing the outcome of %s: the write lock is held elsewhere"
                " (waited %u s); waiting on",
                w->o->path, what, waits * BUSY_MS / 1000);
    }
    sqlite3_reset(st);
    return r == SQLITE_DONE ? 0 : -EIO;
}

/* Stores the outcomes of rows[0..n) in one transaction: 0, or -EIO (rolled back; the rows stay
 * 'sending' until a restart puts them back). */
static int store(struct worker *w, struct row *rows, int n)
{
    const char *what = rows[0].mid;
    if (step_write(w, w->st[ST_BEGIN], what) < 0)
        return -EIO;
    for (int i = 0; i < n; i++) {
        struct row *x = &rows[i];
        sqlite3_stmt *st = NULL;
        switch (x->outcome) {
        case SENT:
            st = w->st[ST_DONE];
            sqlite3_bind_int64(st, 1, x->id);
            break;
        case FAILED:
        case DEFERRED:
            st = w->st[x->outcome == FAILED ? ST_FAIL : ST_DEFER];
            sqlite3_bind_int64(st, 1, x->next_ms);
            sqlite3_bind_text(st, 2, x->error, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, x->id);
            break;
        case NOT_TRIED:
            st = w->st[ST_RELEASE];
            sqlite3_bind_int64(st, 1, x->id);
            break;
        }
        int r = step_write(w, st, x->mid);
        sqlite3_clear_bindings(st);
        if (r < 0) {
            ds_error("outbox", "%s: storing the outcome of %s: %s", w->o->path, x->mid,
                     sqlite3_errmsg(w->db));
            sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
            return -EIO;
        }
    }
    if (step_write(w, w->st[ST_COMMIT], what) < 0) {
        sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
        return -EIO;
    }
    return 0;
}

/* Claims and sends one batch: 1 some rows handled, 0 none due, <0 store error. A failed send
 * defers the batch's rows not tried yet to the failed row's retry time (the receiver is
 * likely down; they are not counted as attempts); a batch past BATCH_MS or an outbox being
 * closed puts the rest back as they were. */
static int batch(struct worker *w)
{
    struct row rows[BATCH];
    int n = claim(w, rows);
    if (n <= 0)
        return n;
    int64_t t0 = now_ms();
    int i = 0;
    for (; i < n; i++) {
        if (i > 0 && (now_ms() - t0 > BATCH_MS || stopping(w->o)))
            break;
        struct row *x = &rows[i];
        struct ds_err err = {0};
        if (send_row(w, x, &err) == 0) {
            x->outcome = SENT;
            w->o->stats.delivered++;
            ds_info("outbox", "delivered %s by %s to %s", x->mid, x->chan, x->addr);
            continue;
        }
        /* exponential backoff with +-25 % jitter, capped */
        double back = (double)w->o->cfg.backoff_min_ms;
        for (int64_t k = 0; k < x->attempts && back < (double)w->o->cfg.backoff_max_ms; k++)
            back *= 2;
        if (back > (double)w->o->cfg.backoff_max_ms)
            back = (double)w->o->cfg.backoff_max_ms;
        back *= 0.75 + 0.5 * (double)(rand_r(&w->seed) % 1000) / 1000.0;
        x->outcome = FAILED;
        x->next_ms = now_ms() + (int64_t)back;
        x->error = strdup(err.msg);
        w->o->stats.failures++;
        ds_warn("outbox", "%s by %s to %s failed (attempt %" PRId64 ", next in %.1f s): %s", x->mid,
                x->chan, x->addr, x->attempts + 1, back / 1000, err.msg);
        for (int k = i + 1; k < n; k++) {
            char msg[sizeof err.msg + 64];
            snprintf(msg, sizeof msg, "not tried: %s failed just before: %s", x->mid, err.msg);
            rows[k].outcome = DEFERRED;
            rows[k].next_ms = x->next_ms;
            rows[k].error = strdup(msg);
        }
        if (n - i - 1 > 0)
            ds_warn("outbox", "%d more messages to %s deferred with it", n - i - 1, x->addr);
        i = n;
        break;
    }
    int rc = store(w, rows, n);
    for (int k = 0; k < n; k++)
        row_free(&rows[k]);
    return rc < 0 ? rc : 1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_setname_np(pthread_self(), "ds-outbox");
    struct ds_outbox *o = w->o;
    uint64_t seen = 0;
    for (;;) {
        if (stopping(o))
            break;
        int rc = batch(w);
        if (rc > 0)
            continue;
        if (rc == -EBUSY) /* the claim waited out the busy timeout: nothing claimed, try again */
            ds_warn("outbox", "%s: claiming a row: %s; trying again", o->path,
                    sqlite3_errmsg(w->db));
        else if (rc < 0)
            ds_error("outbox", "%s: %s", o->path, sqlite3_errmsg(w->db));
        /* nothing due: sleep until rung or for a while (retries come due by time) */
        pthread_mutex_lock(&o->mu);
        if (o->bell == seen && !o->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&o->cv, &o->mu, &ts);
        }
        seen = o->bell;
        pthread_mutex_unlock(&o->mu);
    }
    return NULL;
}

static int64_t pending(sqlite3 *db)
{
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox WHERE state <> 'done'", -1, &st,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

int ds_outbox_open(struct ds_outbox **out, const char *db_path, const struct ds_outbox_config *cfg,
                   struct ds_err *err)
{
    *out = NULL;
    struct ds_outbox *o = calloc(1, sizeof *o);
    if (!o || !(o->path = strdup(db_path))) {
        free(o);
        return ds_err_set(err, -ENOMEM, "out of memory");
    }
    o->cfg = *cfg;
    o->n = cfg->workers > 0 ? cfg->workers : 1;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->w = calloc((size_t)o->n, sizeof *o->w);
    int rc = 0;
    if (!o->w) {
        rc = ds_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    if (sqlite3_open_v2(db_path, &o->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        rc = ds_err_set(err, -EIO, "%s: cannot open for deliveries: %s", db_path,
                        o->db ? sqlite3_errmsg(o->db) : "out of memory");
        goto out;
    }
    ds_db_busy_wait(o->db, BUSY_MS);
    for (int i = 0; i < o->n; i++) {
        struct worker *w = &o->w[i];
        w->o = o;
        w->seed = (unsigned)(time(NULL) ^ (i * 7919));
        if (sqlite3_open_v2(db_path, &w->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
            rc = ds_err_set(err, -EIO, "%s: cannot open for deliveries: %s", db_path,
                            w->db ? sqlite3_errmsg(w->db) : "out of memory");
            goto out;
        }
        ds_db_busy_wait(w->db, BUSY_MS);
        sqlite3_exec(w->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
        for (int k = 0; k < ST_N; k++)
            if (sqlite3_prepare_v3(w->db, stmt_sql[k], -1, SQLITE_PREPARE_PERSISTENT, &w->st[k],
                                   NULL) != SQLITE_OK) {
                rc = ds_err_set(err, -EIO, "%s: preparing the delivery statements: %s", db_path,
                                sqlite3_errmsg(w->db));
                goto out;
            }
    }
    /* rows a crash left in flight go out again */
    if (sqlite3_exec(o->db, "UPDATE outbox SET state = 'pending' WHERE state = 'sending'", NULL,
                     NULL, NULL) != SQLITE_OK) {
        rc = ds_err_set(err, -EIO, "%s: %s", db_path, sqlite3_errmsg(o->db));
        goto out;
    }
    atomic_store(&o->stats.pending, (uint64_t)pending(o->db));
    for (int i = 0; i < o->n; i++) {
        if (pthread_create(&o->w[i].thread, NULL, worker_main, &o->w[i]) != 0) {
            rc = ds_err_set(err, -EAGAIN, "cannot start delivery worker %d", i);
            goto out;
        }
        o->w[i].started = true;
    }
    *out = o;
    return 0;
out:
    ds_outbox_close(o);
    return rc;
}

void ds_outbox_wake(void *outbox)
{
    struct ds_outbox *o = outbox;
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->bell++;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

bool ds_outbox_settle(struct ds_outbox *o, long timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        int64_t n = pending(o->db);
        atomic_store(&o->stats.pending, (uint64_t)(n < 0 ? 0 : n));
        if (n == 0)
            return true;
        if (now_ms() >= end)
            return false;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
}

const struct ds_outbox_stats *ds_outbox_stats(const struct ds_outbox *o)
{
    return &o->stats;
}

void ds_outbox_close(struct ds_outbox *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->stop = true;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    for (int i = 0; o->w && i < o->n; i++) {
        struct worker *w = &o->w[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        for (size_t k = 0; k < w->n_chans; k++) {
            w->chans[k].d->close(w->chans[k].state);
            free(w->chans[k].key);
        }
        free(w->chans);
        for (int k = 0; k < ST_N; k++)
            sqlite3_finalize(w->st[k]);
        sqlite3_close(w->db);
    }
    free(o->w);
    sqlite3_close(o->db);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(o->path);
    free(o);
}
