/* test_outbox.c - the delivery workers over a real store: rows delivered and marked done,
 * failures retried with capped exponential backoff and jitter while other rows still go out,
 * rows a crash left "sending" sent again, the counters, a real webhook receiver that fails
 * and then recovers, and the alert engine's rows delivered end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "alert/alerts.h"
#include "alert/outbox.h"
#include "alert/registry.h"
#include "store/store.h"

#define NS 1000000000ull
#define T0 (1700000000ull * NS)

static struct {
    char dir[256];
    char db[512];
    char receivers[512]; /* tests/receivers */
    sqlite3 *q;          /* the test's connection: inserts rows, reads them back */
    struct ds_outbox *o;
    pid_t child;   /* a receiver, or 0 */
    int listen_fd; /* a listener that never accepts, or -1 */
} F;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void stop_child(void)
{
    if (F.child > 0) {
        kill(F.child, SIGKILL);
        waitpid(F.child, NULL, 0);
        F.child = 0;
    }
}

static int setup(void **st)
{
    (void)st;
    memset(&F, 0, sizeof F);
    F.listen_fd = -1;
    snprintf(F.dir, sizeof F.dir, "/tmp/ds-test-outbox-%ld-XXXXXX", (long)getpid());
    if (!mkdtemp(F.dir))
        return -1;
    snprintf(F.db, sizeof F.db, "%s/store.db", F.dir);
    /* DS_TEST_DATA is tests/data; the receivers are beside it */
    snprintf(F.receivers, sizeof F.receivers, "%s", DS_TEST_DATA);
    char *slash = strrchr(F.receivers, '/');
    if (!slash)
        return -1;
    snprintf(slash, sizeof F.receivers - (size_t)(slash - F.receivers), "/receivers");
    struct ds_err err = {0};
    struct ds_store *s = NULL;
    if (ds_store_open(&s, F.db, false, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    ds_store_close(s);
    if (sqlite3_open_v2(F.db, &F.q, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(F.q, 10000);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    ds_outbox_close(F.o);
    F.o = NULL;
    stop_child();
    if (F.listen_fd >= 0)
        close(F.listen_fd);
    sqlite3_close(F.q);
    nftw(F.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- helpers ---- */

static int64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void path_in(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", F.dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, r;
    char *b = malloc(cap + 1);
    assert_non_null(b);
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap + 1);
            assert_non_null(b);
        }
    }
    fclose(f);
    b[n] = '\0';
    return b;
}

/* The lines of a file (an array of strings; empty if there is no file). */
static json_t *lines_of(const char *path)
{
    json_t *v = json_array();
    char *text = slurp(path);
    if (!text)
        return v;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        json_array_append_new(v, json_string(l));
    free(text);
    return v;
}

static bool has_line(json_t *lines, const char *want)
{
    size_t i;
    json_t *e;
    json_array_foreach(lines, i, e)
    {
        if (strcmp(json_string_value(e), want) == 0)
            return true;
    }
    return false;
}

static sqlite3_stmt *prep(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static sqlite3_stmt *prep(const char *fmt, va_list ap)
{
    char sql[2048];
    vsnprintf(sql, sizeof sql, fmt, ap);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(F.q, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(F.q));
    return st;
}

static int64_t qi(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int64_t qi(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = prep(fmt, ap);
    va_end(ap);
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("no row: %s", sqlite3_sql(st));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static char *qs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *qs(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = prep(fmt, ap);
    va_end(ap);
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("no row: %s", sqlite3_sql(st));
    const unsigned char *t = sqlite3_column_text(st, 0);
    char *v = t ? strdup((const char *)t) : NULL;
    sqlite3_finalize(st);
    return v;
}

static void state_is(int64_t id, const char *want)
{
    char *s = qs("SELECT state FROM outbox WHERE id = %" PRId64, id);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

/* The JSON body of row n, as the test inserts it. */
static void body(char *out, size_t cap, const char *mid)
{
    snprintf(out, cap, "{\"version\":1,\"id\":\"%s\",\"note\":\"outbox test\"}", mid);
}

/* One outbox row as the alert engine writes it; returns its id. */
static int64_t add_row(const char *mid, const char *channel, const char *address,
                       const char *secret, const char *state, int64_t attempts, int64_t next_ms)
{
    char json[256], key[160];
    body(json, sizeof json, mid);
    snprintf(key, sizeof key, "%s/1", mid);
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(F.q,
                           "INSERT INTO outbox(created, key, message_id, org, contact, channel,"
                           " address, secret, subject, text, json, attachment, severity, state,"
                           " attempts, next_ms) VALUES('2024-01-01T00:00:00Z', ?, ?, 7, 1, ?, ?,"
                           " ?, 'subject', 'text', ?, 'a.json', 2, ?, ?, ?)",
                           -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, mid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, channel, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, address, -1, SQLITE_TRANSIENT);
    if (secret)
        sqlite3_bind_text(st, 5, secret, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_text(st, 6, json, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 7, state, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 8, attempts);
    sqlite3_bind_int64(st, 9, next_ms);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    return sqlite3_last_insert_rowid(F.q);
}

static void outbox_open(int workers, long min_ms, long max_ms, long timeout_ms)
{
    struct ds_outbox_config c;
    ds_outbox_config_defaults(&c);
    c.workers = workers;
    c.backoff_min_ms = min_ms;
    c.backoff_max_ms = max_ms;
    c.deliver.timeout_ms = timeout_ms;
    struct ds_err err = {0};
    assert_null(F.o);
    if (ds_outbox_open(&F.o, F.db, &c, &err) < 0)
        fail_msg("ds_outbox_open: %s", err.msg);
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static const char *python(void)
{
    const char *p = getenv("DS_PYTHON");
    if (p && p[0])
        return p;
    return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

/* Starts http_receiver.py (port 0: the kernel picks) and returns its port. */
static int start_http(const char *tag, const char *log, int port, const char *secret,
                      const char *mode)
{
    char script[1024], port_file[600], out[600], port_s[16];
    snprintf(script, sizeof script, "%s/http_receiver.py", F.receivers);
    snprintf(port_file, sizeof port_file, "%s/%s.port", F.dir, tag);
    snprintf(out, sizeof out, "%s/%s.out", F.dir, tag);
    snprintf(port_s, sizeof port_s, "%d", port);
    unlink(port_file);
    const char *argv[] = {python(), script,     "--port-file", port_file, "--log", log, "--port",
                          port_s,   "--secret", secret,        "--mode",  mode,    NULL};
    assert_int_equal(F.child, 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (null >= 0)
            dup2(null, 0);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    F.child = pid;
    for (int waited = 0; access(port_file, R_OK) != 0; waited += 20) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            F.child = 0;
            char *o = slurp(out);
            fail_msg("http_receiver.py exited (status %d) before listening (%s): %s", status,
                     python(), o ? o : "");
        }
        if (waited > 20000)
            fail_msg("http_receiver.py wrote no port file in 20 s");
        sleep_ms(20);
    }
    char *text = slurp(port_file);
    int p = 0;
    assert_int_equal(sscanf(text, "http %d", &p), 1);
    free(text);
    assert_true(p > 0 && p < 65536);
    return p;
}

/* SIGTERM; the receiver exits 0 by itself. */
static void stop_http(void)
{
    assert_true(F.child > 0);
    assert_int_equal(kill(F.child, SIGTERM), 0);
    int status = 0;
    pid_t w = 0;
    for (int waited = 0; waited < 10000 && (w = waitpid(F.child, &status, WNOHANG)) == 0;
         waited += 10)
        sleep_ms(10);
    if (w != F.child)
        fail_msg("http_receiver.py did not exit on SIGTERM");
    F.child = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- tests ---- */

/* File rows are appended once each, marked done; a wake delivers a later row. */
static void test_file_delivery(void **st)
{
    (void)st;
    char f1[512], f2[512], want[256];
    path_in(f1, sizeof f1, "one.jsonl");
    path_in(f2, sizeof f2, "two.jsonl");
    int64_t r1 = add_row("alert-1-1", "file", f1, NULL, "pending", 0, 0);
    int64_t r2 = add_row("alert-2-1", "file", f1, NULL, "pending", 0, 0);
    int64_t r3 = add_row("digest-7-1", "file", f2, NULL, "pending", 0, 0);
    outbox_open(2, 50, 200, 2000);
    const struct ds_outbox_stats *s = ds_outbox_stats(F.o);
    assert_true(ds_outbox_settle(F.o, 10000));
    assert_int_equal(atomic_load(&s->delivered), 3);
    assert_int_equal(atomic_load(&s->failures), 0);
    assert_int_equal(atomic_load(&s->pending), 0);
    int64_t ids[] = {r1, r2, r3};
    for (size_t i = 0; i < 3; i++) {
        state_is(ids[i], "done");
        assert_int_equal(qi("SELECT attempts FROM outbox WHERE id = %" PRId64, ids[i]), 1);
        assert_int_equal(
            qi("SELECT last_error IS NULL AND done GLOB '20[0-9][0-9]-[01][0-9]-[0-3][0-9]T*Z'"
               " FROM outbox WHERE id = %" PRId64,
               ids[i]),
            1);
    }
    json_t *l1 = lines_of(f1), *l2 = lines_of(f2);
    assert_int_equal(json_array_size(l1), 2);
    body(want, sizeof want, "alert-1-1");
    assert_true(has_line(l1, want));
    body(want, sizeof want, "alert-2-1");
    assert_true(has_line(l1, want));
    assert_int_equal(json_array_size(l2), 1);
    body(want, sizeof want, "digest-7-1");
    assert_true(has_line(l2, want));
    json_decref(l1);
    json_decref(l2);

    /* a row committed later, and the doorbell */
    int64_t r4 = add_row("alert-3-1", "file", f2, NULL, "pending", 0, 0);
    ds_outbox_wake(F.o);
    assert_true(ds_outbox_settle(F.o, 10000));
    state_is(r4, "done");
    sleep_ms(300); /* nothing is sent twice */
    l1 = lines_of(f1);
    l2 = lines_of(f2);
    assert_int_equal(json_array_size(l1), 2);
    assert_int_equal(json_array_size(l2), 2);
    body(want, sizeof want, "alert-3-1");
    assert_true(has_line(l2, want));
    json_decref(l1);
    json_decref(l2);
    assert_int_equal(atomic_load(&s->delivered), 4);
    assert_int_equal(atomic_load(&s->failures), 0);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE state = 'done' AND attempts = 1"), 4);
}

/* Polls (2 ms apart) one row's attempts, next_ms and state. */
struct look {
    int64_t attempts, next_ms;
    bool sending;
    int64_t before_ms, after_ms; /* wall time just before and just after the read */
};

static struct look look_at(int64_t id)
{
    struct look l;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(F.q,
                                        "SELECT attempts, next_ms, state = 'sending' FROM outbox"
                                        " WHERE id = ?",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, id);
    l.before_ms = wall_ms();
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    l.attempts = sqlite3_column_int64(q, 0);
    l.next_ms = sqlite3_column_int64(q, 1);
    l.sending = sqlite3_column_int(q, 2) != 0;
    sqlite3_finalize(q);
    l.after_ms = wall_ms();
    return l;
}

/* The counters and the table at one moment when no send is in flight: the table read before
 * and after the counters is the same and no row is 'sending' (a failure is counted just
 * before its row is written back). */
static void snapshot(const struct ds_outbox_stats *s, uint64_t *delivered, uint64_t *failures,
                     int64_t *attempts, int64_t *done)
{
    const char *sql = "SELECT sum(attempts), sum(state = 'done'), sum(state = 'sending') FROM"
                      " outbox WHERE message_id NOT LIKE 'old-%'";
    for (int tries = 0; tries < 20000; tries++) {
        int64_t v1[3], v2[3];
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(F.q, sql, -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        for (int i = 0; i < 3; i++)
            v1[i] = sqlite3_column_int64(q, i);
        sqlite3_reset(q);
        *delivered = atomic_load(&s->delivered);
        *failures = atomic_load(&s->failures);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        for (int i = 0; i < 3; i++)
            v2[i] = sqlite3_column_int64(q, i);
        sqlite3_finalize(q);
        if (memcmp(v1, v2, sizeof v1) == 0 && v1[2] == 0) {
            *attempts = v1[0];
            *done = v1[1];
            return;
        }
        sleep_ms(1);
    }
    fail_msg("no quiet moment to read the counters in 20 s");
}

/*
 * A webhook to a port nobody listens on: every attempt fails, the k-th retry is due after
 * [0.75, 1.25] x min(min * 2^(k-1), max), never earlier, and the row stays pending; the file
 * rows behind it (and a row of an unknown channel) do not wait for it.
 */
static void test_dead_webhook_backoff(void **st)
{
    (void)st;
    char url[128], f1[512], want[256];
    int port = free_port();
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    path_in(f1, sizeof f1, "alerts.jsonl");
    int64_t w = add_row("alert-1-1", "webhook", url, "key", "pending", 0, 0);
    int64_t fax = add_row("alert-2-1", "fax", "+81 3 0000 0000", NULL, "pending", 0, 0);
    int64_t r1 = add_row("alert-3-1", "file", f1, NULL, "pending", 0, 0);
    int64_t r2 = add_row("alert-4-1", "file", f1, NULL, "pending", 0, 0);
    add_row("old-1", "file", f1, NULL, "done", 1, 0); /* delivered before: not touched */
    const long min_ms = 100, max_ms = 400;
    enum { N = 6 };
    /* attempt k: next_ms, and the failure happened after lo_ms (the last look that saw the
     * row pending with k - 1 attempts) and before hi_ms (the first look that saw k) */
    int64_t next[N + 1], lo_ms[N + 1], hi_ms[N + 1];
    int64_t files_done_ms = -1;
    outbox_open(1, min_ms, max_ms, 2000);
    const struct ds_outbox_stats *s = ds_outbox_stats(F.o);
    assert_int_equal(atomic_load(&s->pending), 4);
    int64_t t_open = wall_ms(), last = 0, last_pending_ms = t_open;
    while (last < N) {
        if (wall_ms() - t_open > 15000)
            fail_msg("only %" PRId64 " attempts in 15 s", last);
        struct look l = look_at(w);
        if (l.attempts != last) {
            if (l.attempts != last + 1)
                fail_msg("attempts went from %" PRId64 " to %" PRId64 " between two looks", last,
                         l.attempts);
            last = l.attempts;
            next[last] = l.next_ms;
            lo_ms[last] = last_pending_ms;
            hi_ms[last] = l.after_ms;
            if (l.sending)
                fail_msg("attempt %" PRId64 " counted, the row still 'sending'", last);
        }
        if (!l.sending)
            last_pending_ms = l.before_ms;
        if (files_done_ms < 0 && qi("SELECT count(*) FROM outbox WHERE id IN (%" PRId64 ", %" PRId64
                                    ") AND state = 'done'",
                                    r1, r2) == 2)
            files_done_ms = wall_ms() - t_open;
        sleep_ms(2);
    }
    for (int64_t k = 1; k <= N; k++) {
        double b = (double)min_ms * pow(2.0, (double)(k - 1));
        if (b > (double)max_ms)
            b = (double)max_ms;
        int64_t lo = lo_ms[k] + (int64_t)floor(0.75 * b) - 1;
        int64_t hi = hi_ms[k] + (int64_t)ceil(1.25 * b) + 1;
        if (next[k] < lo || next[k] > hi)
            fail_msg("attempt %" PRId64 ": next_ms %" PRId64 " outside [%" PRId64 ", %" PRId64
                     "] (backoff %.0f ms, failed between %" PRId64 " and %" PRId64 ")",
                     k, next[k], lo, hi, b, lo_ms[k], hi_ms[k]);
        if (k > 1 && hi_ms[k] < next[k - 1])
            fail_msg("attempt %" PRId64 " failed by %" PRId64 ", before it was due at %" PRId64, k,
                     hi_ms[k], next[k - 1]);
    }
    /* 100 + 200 + 400 + 400 + 400 ms of waiting at least, 1.25 times that at most (plus the
     * workers' 100 ms polls) */
    assert_true(hi_ms[N] - lo_ms[1] >= (int64_t)(0.75 * 1500) - 2);
    /* the file rows went out at once, not after the webhook's retries */
    assert_true(files_done_ms >= 0 && files_done_ms < 1000);
    json_t *l = lines_of(f1);
    assert_int_equal(json_array_size(l), 2);
    body(want, sizeof want, "alert-3-1");
    assert_true(has_line(l, want));
    body(want, sizeof want, "alert-4-1");
    assert_true(has_line(l, want));
    json_decref(l);
    state_is(r1, "done");
    state_is(r2, "done");
    assert_int_equal(qi("SELECT attempts FROM outbox WHERE id = %" PRId64, r1), 1);
    assert_int_equal(
        qi("SELECT state IN ('pending', 'sending') FROM outbox WHERE id = %" PRId64, w), 1);
    assert_int_equal(
        qi("SELECT state IN ('pending', 'sending') FROM outbox WHERE id = %" PRId64, fax), 1);
    char *e = qs("SELECT last_error FROM outbox WHERE id = %" PRId64, w);
    assert_non_null(e);
    assert_non_null(strstr(e, url));
    free(e);
    e = qs("SELECT last_error FROM outbox WHERE id = %" PRId64, fax);
    assert_non_null(e);
    assert_non_null(strstr(e, "unknown channel 'fax'"));
    free(e);

    /* the counters: exactly what the table says */
    assert_false(ds_outbox_settle(F.o, 200));
    assert_int_equal(atomic_load(&s->pending), 2);
    uint64_t delivered, failures;
    int64_t attempts, done;
    snapshot(s, &delivered, &failures, &attempts, &done);
    assert_int_equal(delivered, 2);
    assert_int_equal(done, 2);
    assert_int_equal(failures, (uint64_t)(attempts - 2)); /* the two file rows: 1 each */
    assert_true(failures >= N + 1);
    ds_outbox_close(F.o);
    F.o = NULL;
    state_is(w, "pending"); /* a send in progress finished before the close returned */
    state_is(fax, "pending");
    assert_int_equal(qi("SELECT attempts FROM outbox WHERE message_id = 'old-1'"), 1);
}

/* Several workers: the counters still equal the table at quiet moments. */
static void test_counters_many_workers(void **st)
{
    (void)st;
    char url[128], f1[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", free_port());
    path_in(f1, sizeof f1, "alerts.jsonl");
    int64_t w = add_row("alert-1-1", "webhook", url, NULL, "pending", 0, 0);
    int64_t fax = add_row("alert-2-1", "fax", "somewhere", NULL, "pending", 0, 0);
    for (int i = 0; i < 20; i++) {
        char mid[32];
        snprintf(mid, sizeof mid, "alert-%d-1", i + 3);
        add_row(mid, "file", f1, NULL, "pending", 0, 0);
    }
    add_row("old-1", "file", f1, NULL, "done", 1, 0);
    outbox_open(3, 20, 60, 2000);
    const struct ds_outbox_stats *s = ds_outbox_stats(F.o);
    assert_int_equal(atomic_load(&s->pending), 22); /* counted at opening */
    for (int waited = 0;
         qi("SELECT min(attempts) FROM outbox WHERE id IN (%" PRId64 ", %" PRId64 ")", w, fax) < 5;
         waited += 10) {
        if (waited > 10000)
            fail_msg("fewer than 5 attempts each in 10 s");
        sleep_ms(10);
    }
    uint64_t delivered, failures;
    int64_t attempts, done;
    snapshot(s, &delivered, &failures, &attempts, &done);
    assert_int_equal(delivered, 20);
    assert_int_equal(done, 20);
    assert_int_equal(failures, (uint64_t)(attempts - 20));
    assert_true(failures >= 10);
    json_t *l = lines_of(f1);
    assert_int_equal(json_array_size(l), 20); /* each once */
    json_decref(l);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE state = 'done' AND attempts = 1"), 21);
    assert_false(ds_outbox_settle(F.o, 50));
    assert_int_equal(atomic_load(&s->pending), 2);
}

/* A receiver that accepts the connection and never answers holds one worker until the
 * timeout; the other worker delivers everything else meanwhile. */
static void test_hanging_receiver_blocks_nothing(void **st)
{
    (void)st;
    F.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(F.listen_fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(F.listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(F.listen_fd, 16), 0); /* the kernel completes connections */
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(F.listen_fd, (struct sockaddr *)&sa, &sl), 0);
    char url[128], f1[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", ntohs(sa.sin_port));
    path_in(f1, sizeof f1, "alerts.jsonl");
    int64_t w = add_row("alert-1-1", "webhook", url, NULL, "pending", 0, 0);
    int64_t r[5];
    for (int i = 0; i < 5; i++) {
        char mid[32];
        snprintf(mid, sizeof mid, "alert-%d-1", i + 2);
        r[i] = add_row(mid, "file", f1, NULL, "pending", 0, 0);
    }
    outbox_open(2, 100, 200, 3000);
    int64_t t0 = wall_ms();
    while (qi("SELECT count(*) FROM outbox WHERE state = 'done'") < 5) {
        if (wall_ms() - t0 > 2000)
            fail_msg("the file rows waited for the hanging receiver");
        sleep_ms(5);
    }
    state_is(w, "sending"); /* still held by the other worker */
    assert_int_equal(qi("SELECT attempts FROM outbox WHERE id = %" PRId64, w), 0);
    json_t *l = lines_of(f1);
    assert_int_equal(json_array_size(l), 5);
    json_decref(l);
    for (int i = 0; i < 5; i++)
        state_is(r[i], "done");
    /* after the timeout: a failure, retried later */
    while (qi("SELECT attempts FROM outbox WHERE id = %" PRId64, w) < 1) {
        if (wall_ms() - t0 > 8000)
            fail_msg("the hanging send did not time out");
        sleep_ms(10);
    }
    int64_t took = wall_ms() - t0;
    assert_true(took >= 2900);
    const struct ds_outbox_stats *s = ds_outbox_stats(F.o);
    assert_int_equal(atomic_load(&s->delivered), 5);
    assert_true(atomic_load(&s->failures) >= 1);
    char *e = qs("SELECT last_error FROM outbox WHERE id = %" PRId64, w);
    assert_non_null(e);
    assert_non_null(strstr(e, url));
    assert_non_null(strstr(e, "imeout"));
    free(e);
    close(F.listen_fd); /* resets a retry in progress, so the close does not wait for it */
    F.listen_fd = -1;
}

/* Rows a crash left "sending" go out again after ds_outbox_open; done rows do not. */
static void test_crash_recovery(void **st)
{
    (void)st;
    char f1[512], want[256];
    path_in(f1, sizeof f1, "alerts.jsonl");
    int64_t s1 = add_row("alert-1-1", "file", f1, NULL, "sending", 1, 0);
    int64_t s2 = add_row("alert-2-1", "file", f1, NULL, "sending", 0, 0);
    int64_t p = add_row("alert-3-1", "file", f1, NULL, "pending", 0, 0);
    int64_t d = add_row("alert-4-1", "file", f1, NULL, "done", 1, 0);
    int64_t later = add_row("alert-5-1", "file", f1, NULL, "pending", 2, wall_ms() + 60000);
    outbox_open(1, 50, 100, 2000);
    const struct ds_outbox_stats *s = ds_outbox_stats(F.o);
    assert_int_equal(atomic_load(&s->pending), 4);
    for (int waited = 0; qi("SELECT count(*) FROM outbox WHERE state = 'done'") < 4; waited += 10) {
        if (waited > 10000)
            fail_msg("the rows left sending were not delivered");
        sleep_ms(10);
    }
    state_is(s1, "done");
    state_is(s2, "done");
    state_is(p, "done");
    state_is(d, "done");
    state_is(later, "pending"); /* its retry is not due for a minute */
    assert_int_equal(qi("SELECT attempts FROM outbox WHERE id = %" PRId64, s1), 2);
    assert_int_equal(qi("SELECT attempts FROM outbox WHERE id = %" PRId64, s2), 1);
    assert_int_equal(qi("SELECT attempts FROM outbox WHERE id = %" PRId64, d), 1);
    assert_int_equal(qi("SELECT attempts FROM outbox WHERE id = %" PRId64, later), 2);
    json_t *l = lines_of(f1);
    assert_int_equal(json_array_size(l), 3);
    const char *mids[] = {"alert-1-1", "alert-2-1", "alert-3-1"};
    for (size_t i = 0; i < 3; i++) {
        body(want, sizeof want, mids[i]);
        assert_true(has_line(l, want));
    }
    json_decref(l);
    assert_false(ds_outbox_settle(F.o, 100));
    assert_int_equal(atomic_load(&s->pending), 1);
    assert_int_equal(atomic_load(&s->delivered), 3);
    assert_int_equal(atomic_load(&s->failures), 0);
}

/* A real receiver answering 500 (retried, the row pending), then one answering 200 on the same
 * port: delivered once, signed, and done. */
static void test_receiver_recovers(void **st)
{
    (void)st;
    char log500[512], logok[512], url[128];
    path_in(log500, sizeof log500, "hook-500.jsonl");
    path_in(logok, sizeof logok, "hook-ok.jsonl");
    int port = start_http("h500", log500, 0, "whsec_test", "500");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", port);
    int64_t w = add_row("alert-9-1", "webhook", url, "whsec_test", "pending", 0, 0);
    outbox_open(1, 100, 200, 3000);
    for (int waited = 0; qi("SELECT attempts FROM outbox WHERE id = %" PRId64, w) < 2;
         waited += 10) {
        if (waited > 10000)
            fail_msg("fewer than 2 attempts in 10 s");
        sleep_ms(10);
    }
    assert_int_equal(
        qi("SELECT state IN ('pending', 'sending') FROM outbox WHERE id = %" PRId64, w), 1);
    char *e = qs("SELECT last_error FROM outbox WHERE id = %" PRId64, w);
    assert_non_null(e);
    assert_non_null(strstr(e, "HTTP 500"));
    free(e);
    stop_http();
    json_t *l = lines_of(log500);
    assert_true(json_array_size(l) >= 2);
    size_t i;
    json_t *rec;
    char want[256];
    body(want, sizeof want, "alert-9-1");
    json_array_foreach(l, i, rec)
    {
        json_t *r = json_loads(json_string_value(rec), 0, NULL);
        assert_non_null(r);
        assert_true(json_is_true(json_object_get(r, "verified")));
        assert_string_equal(json_string_value(json_object_get(r, "body")), want);
        assert_int_equal(json_integer_value(json_object_get(r, "status")), 500);
        json_decref(r);
    }
    json_decref(l);
    assert_int_equal(
        qi("SELECT state IN ('pending', 'sending') FROM outbox WHERE id = %" PRId64, w), 1);

    assert_int_equal(start_http("hok", logok, port, "whsec_test", "ok"), port);
    assert_true(ds_outbox_settle(F.o, 10000));
    state_is(w, "done");
    int64_t attempts = qi("SELECT attempts FROM outbox WHERE id = %" PRId64, w);
    assert_true(attempts >= 3);
    assert_int_equal(qi("SELECT last_error IS NULL FROM outbox WHERE id = %" PRId64, w), 1);
    sleep_ms(300);
    l = lines_of(logok);
    assert_int_equal(json_array_size(l), 1);
    json_t *r = json_loads(json_string_value(json_array_get(l, 0)), 0, NULL);
    assert_non_null(r);
    assert_true(json_is_true(json_object_get(r, "verified")));
    assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(r, "body")), want);
    assert_string_equal(json_string_value(json_object_get(r, "path")), "/hook");
    json_t *h = json_object_get(r, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "X-Darkscope-Id")), "alert-9-1");
    json_decref(r);
    json_decref(l);
    const struct ds_outbox_stats *s = ds_outbox_stats(F.o);
    assert_int_equal(atomic_load(&s->delivered), 1);
    assert_int_equal(atomic_load(&s->failures), (uint64_t)(attempts - 1));
    assert_int_equal(atomic_load(&s->pending), 0);
    stop_http();
}

/* Rows of one receiver go out as one batch: when the receiver is down, its first row counts a
 * failed attempt and the rest of the batch waits with it (not counted, told why); the rows of
 * another receiver are delivered meanwhile, their outcomes stored together. */
static void test_batch_defers_with_receiver(void **st)
{
    (void)st;
    char url[128], f1[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", free_port());
    path_in(f1, sizeof f1, "alerts.jsonl");
    int64_t w1 = add_row("alert-1-1", "webhook", url, "key", "pending", 0, 0);
    int64_t w2 = add_row("alert-2-1", "webhook", url, "key", "pending", 0, 0);
    int64_t w3 = add_row("alert-3-1", "webhook", url, "key", "pending", 0, 0);
    int64_t other = add_row("alert-4-1", "webhook", url, "other-key", "pending", 0, 0);
    for (int i = 0; i < 40; i++) { /* more than one batch */
        char mid[32];
        snprintf(mid, sizeof mid, "alert-%d-1", i + 5);
        add_row(mid, "file", f1, NULL, "pending", 0, 0);
    }
    outbox_open(1, 5000, 10000, 2000);
    int64_t t0 = wall_ms();
    while (qi("SELECT count(*) FROM outbox WHERE state = 'done'") < 40 ||
           qi("SELECT attempts FROM outbox WHERE id = %" PRId64, other) < 1) {
        if (wall_ms() - t0 > 4000)
            fail_msg("the batches were not handled in 4 s");
        sleep_ms(5);
    }
    assert_int_equal(qi("SELECT attempts FROM outbox WHERE id = %" PRId64, w1), 1);
    int64_t next = qi("SELECT next_ms FROM outbox WHERE id = %" PRId64, w1);
    assert_true(next >= t0 + 3750);
    for (int k = 0; k < 2; k++) {
        int64_t id = k == 0 ? w2 : w3;
        state_is(id, "pending");
        assert_int_equal(qi("SELECT attempts FROM outbox WHERE id = %" PRId64, id), 0);
        assert_int_equal(qi("SELECT next_ms FROM outbox WHERE id = %" PRId64, id), next);
        char *e = qs("SELECT last_error FROM outbox WHERE id = %" PRId64, id);
        assert_non_null(e);
        assert_non_null(strstr(e, "not tried: alert-1-1 failed just before: "));
        assert_non_null(strstr(e, url));
        free(e);
    }
    /* another secret is another receiver: tried on its own */
    char *e = qs("SELECT last_error FROM outbox WHERE id = %" PRId64, other);
    assert_non_null(e);
    assert_null(strstr(e, "not tried"));
    free(e);
    json_t *l = lines_of(f1);
    assert_int_equal(json_array_size(l), 40);
    json_decref(l);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE state = 'done' AND attempts = 1"), 40);
    const struct ds_outbox_stats *s = ds_outbox_stats(F.o);
    assert_int_equal(atomic_load(&s->delivered), 40);
    assert_int_equal(atomic_load(&s->failures), 2);
}

/* ---- the alert engine's rows, delivered ---- */

static void test_engine_to_outbox(void **st)
{
    (void)st;
    char f1[512], f2[512];
    path_in(f1, sizeof f1, "org-a.jsonl");
    path_in(f2, sizeof f2, "org-a-2.jsonl");
    struct ds_store *store = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_store_open(&store, F.db, false, &err), 0);
    const char *live[] = {"192.0.2.0/24"};
    const char *files[] = {f1, f2};
    struct ds_org_spec spec = {.name = "Org A",
                               .channels = "file",
                               .livenet = live,
                               .n_livenet = 1,
                               .files = files,
                               .n_files = 2};
    int64_t org = 0;
    assert_int_equal(ds_registry_add_org(store, &spec, "test", &org, &err), 0);
    struct ds_registry *reg = NULL;
    assert_int_equal(ds_registry_load(store, &reg, &err), 0);
    _Atomic(const struct ds_registry *) regp;
    atomic_init(&regp, reg);

    outbox_open(2, 50, 100, 2000);
    struct ds_alerts_config cfg;
    ds_alerts_config_defaults(&cfg);
    struct ds_alerts *a = NULL;
    assert_int_equal(ds_alerts_open(&a, F.db, &regp, &cfg, ds_outbox_wake, F.o, &err), 0);
    struct ds_alert_event ev = {.org_id = org,
                                .kase = DS_CASE_EXTERNAL,
                                .first_ns = T0,
                                .last_ns = T0 + NS,
                                .packets = 3,
                                .bytes = 180};
    ds_addr_parse(&ev.addr, "192.0.2.33", NULL);
    const struct ds_alert_sink *sink = ds_alerts_sink(a);
    sink->post(sink->ctx, &ev);
    assert_int_equal(ds_alerts_drain(a, false, &err), 0);
    /* rung by the engine: no ds_outbox_wake from the test */
    assert_true(ds_outbox_settle(F.o, 10000));
    ev.first_ns = ev.last_ns = T0 + 5 * NS;
    ev.packets = 2;
    sink->post(sink->ctx, &ev);
    assert_int_equal(ds_alerts_drain(a, true, &err), 0); /* the digest now */
    assert_true(ds_outbox_settle(F.o, 10000));

    int64_t id = qi("SELECT id FROM alert");
    const char *paths[] = {f1, f2};
    for (size_t k = 0; k < 2; k++) {
        json_t *l = lines_of(paths[k]);
        assert_int_equal(json_array_size(l), 2);
        json_t *notice = json_loads(json_string_value(json_array_get(l, 0)), 0, NULL);
        json_t *digest = json_loads(json_string_value(json_array_get(l, 1)), 0, NULL);
        assert_non_null(notice);
        assert_non_null(digest);
        assert_int_equal(json_integer_value(json_object_get(notice, "id")), id);
        assert_string_equal(json_string_value(json_object_get(notice, "state")), "new");
        assert_string_equal(json_string_value(json_object_get(notice, "address")), "192.0.2.33");
        assert_int_equal(json_integer_value(json_object_get(notice, "packets")), 3);
        char did[64];
        snprintf(did, sizeof did, "digest-%" PRId64 "-1", org);
        assert_string_equal(json_string_value(json_object_get(digest, "digest")), did);
        assert_int_equal(json_integer_value(json_object_get(digest, "count")), 1);
        json_t *al = json_array_get(json_object_get(digest, "alerts"), 0);
        assert_int_equal(json_integer_value(json_object_get(al, "id")), id);
        assert_string_equal(json_string_value(json_object_get(al, "state")), "continuing");
        assert_int_equal(json_integer_value(json_object_get(al, "packets")), 5);
        json_decref(notice);
        json_decref(digest);
        json_decref(l);
    }
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE state = 'done' AND attempts = 1"), 4);
    const struct ds_outbox_stats *s = ds_outbox_stats(F.o);
    assert_int_equal(atomic_load(&s->delivered), 4);
    assert_int_equal(atomic_load(&s->failures), 0);
    assert_int_equal(atomic_load(&ds_alerts_stats(a)->outbox_rows), 4);
    ds_alerts_close(a);
    ds_registry_free(reg);
    ds_store_close(store);
}

int main(void)
{
    /* only 127.0.0.1 is ever contacted: no proxy from the environment */
    static const char *const proxies[] = {"http_proxy",  "https_proxy", "HTTP_PROXY",
                                          "HTTPS_PROXY", "all_proxy",   "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    setenv("no_proxy", "*", 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_webhook_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_many_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hanging_receiver_blocks_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_defers_with_receiver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receiver_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_to_outbox, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
