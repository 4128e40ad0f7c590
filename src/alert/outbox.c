/* outbox.c - delivering the durable outbox: worker threads claim due rows, send them through
 * their channel, and mark them done or schedule a retry (exponential backoff with jitter).
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

struct chan { /* one open channel state of a worker */
    char *key;
    const struct ds_deliverer *d;
    void *state;
};

struct worker {
    struct ds_outbox *o;
    pthread_t thread;
    sqlite3 *db;
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

/* Claims and sends one due row: 1 sent or failed, 0 none due, <0 store error. */
static int one(struct worker *w)
{
    sqlite3_stmt *st;
    int64_t now = now_ms();
    if (sqlite3_prepare_v2(w->db,
                           "UPDATE outbox SET state = 'sending' WHERE id = (SELECT id FROM outbox"
                           " WHERE state = 'pending' AND next_ms <= ? ORDER BY next_ms, id LIMIT 1)"
                           " RETURNING id, message_id, channel, address, secret, subject, text,"
                           " json, attachment, severity, attempts, org, strftime('%s', created)",
                           -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(st, 1, now);
    int r = sqlite3_step(st);
    if (r != SQLITE_ROW) {
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? 0 : r == SQLITE_BUSY ? -EBUSY : -EIO;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    char *mid = col(st, 1), *chan = col(st, 2), *addr = col(st, 3), *secret = col(st, 4);
    char *subject = col(st, 5), *text = col(st, 6), *json = col(st, 7), *att = col(st, 8);
    int sev = sqlite3_column_int(st, 9);
    int64_t attempts = sqlite3_column_int64(st, 10);
    int64_t org_id = sqlite3_column_int64(st, 11);
    int64_t created = sqlite3_column_int64(st, 12);
    sqlite3_finalize(st);
    char org[256]; /* the name for headers and logs (the id if the organisation is gone) */
    snprintf(org, sizeof org, "%" PRId64, org_id);
    if (sqlite3_prepare_v2(w->db, "SELECT name FROM org WHERE id = ?", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(st, 1, org_id);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
            snprintf(org, sizeof org, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }

    struct ds_err err = {0};
    struct chan *c = channel(w, chan, addr, secret, &err);
    int rc = -EINVAL;
    if (c) {
        struct ds_message m = {.id = mid,
                               .org = org,
                               .subject = subject,
                               .text = text,
                               .json = json,
                               .json_len = json ? strlen(json) : 0,
                               .attachment_name = att,
                               .severity = sev,
                               .created = created};
        rc = c->d->send(c->state, &m, &err);
    }
    if (rc == 0) {
        sqlite3_prepare_v2(w->db,
                           "UPDATE outbox SET state = 'done', attempts = attempts + 1,"
                           " done = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), last_error = NULL"
                           " WHERE id = ?",
                           -1, &st, NULL);
        sqlite3_bind_int64(st, 1, id);
        w->o->stats.delivered++;
        ds_info("outbox", "delivered %s by %s to %s", mid, chan, addr);
    } else {
        /* exponential backoff with +-25 % jitter, capped */
        double back = (double)w->o->cfg.backoff_min_ms;
        for (int64_t i = 0; i < attempts && back < (double)w->o->cfg.backoff_max_ms; i++)
            back *= 2;
        if (back > (double)w->o->cfg.backoff_max_ms)
            back = (double)w->o->cfg.backoff_max_ms;
        back *= 0.75 + 0.5 * (double)(rand_r(&w->seed) % 1000) / 1000.0;
        sqlite3_prepare_v2(w->db,
                           "UPDATE outbox SET state = 'pending', attempts = attempts + 1,"
                           " next_ms = ?, last_error = ? WHERE id = ?",
                           -1, &st, NULL);
        sqlite3_bind_int64(st, 1, now_ms() + (int64_t)back);
        sqlite3_bind_text(st, 2, err.msg, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, id);
        w->o->stats.failures++;
        ds_warn("outbox", "%s by %s to %s failed (attempt %" PRId64 ", next in %.1f s): %s", mid,
                chan, addr, attempts + 1, back / 1000, err.msg);
    }
    /* the outcome must be stored: a row left 'sending' would wait for a restart (and settle
     * for ever). A single-statement write waits in the busy handler; while the lock stays
     * held elsewhere past it, the statement is run again (its bindings kept). */
    for (unsigned waits = 1; (r = sqlite3_step(st)) == SQLITE_BUSY; waits++) {
        sqlite3_reset(st);
        ds_warn("outbox",
                "%s: storing the outcome of %s: the write lock is held elsewhere"
                " (waited %u s); waiting on",
                w->o->path, mid, waits * BUSY_MS / 1000);
    }
    sqlite3_finalize(st);
    free(mid);
    free(chan);
    free(addr);
    free(secret);
    free(subject);
    free(text);
    free(json);
    free(att);
    return r == SQLITE_DONE ? 1 : -EIO;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    pthread_setname_np(pthread_self(), "ds-outbox");
    struct ds_outbox *o = w->o;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&o->mu);
        bool stop = o->stop;
        pthread_mutex_unlock(&o->mu);
        if (stop)
            break;
        int rc = one(w);
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
        sqlite3_close(w->db);
    }
    free(o->w);
    sqlite3_close(o->db);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    free(o->path);
    free(o);
}
