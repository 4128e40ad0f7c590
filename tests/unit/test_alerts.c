/* test_alerts.c - the alert engine against a real store: alert state per (organisation,
 * address, case), immediate notices, Alertmanager-style digests at exact packet times, the
 * re-notify window, restarts, reconfiguration and the counters, all read back from the
 * `alert`, `outbox` and `digest_state` tables with sqlite3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ftw.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "alert/alerts.h"
#include "alert/registry.h"
#include "store/store.h"

#define NS 1000000000ull
#define T0 (1700000000ull * NS) /* 2023-11-14T22:13:20Z */
#define AT(s) (T0 + (uint64_t)(s)*NS)
#define BIG (100000000ull * NS) /* a time that never comes in a test */

/* ---- the fixture: one store, one registry snapshot, one engine per test ---- */

static struct {
    char dir[256];
    char db[512];
    struct ds_store *store;
    struct ds_registry *reg;
    _Atomic(const struct ds_registry *) regp;
    struct ds_alerts *a;
    sqlite3 *q; /* the test's own connection, for reading the tables */
    atomic_int wakes;
    uint64_t posted; /* events posted to the current engine */
    int64_t base_alerts, base_rows, base_notices, base_digests; /* tables at its opening */
} F;

static char paths[16][600]; /* contact files of this test's organisations */
static size_t n_paths;

static int64_t qi(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void on_wake(void *ctx)
{
    assert_ptr_equal(ctx, &F);
    atomic_fetch_add(&F.wakes, 1);
}

static int setup(void **st)
{
    (void)st;
    memset(&F, 0, sizeof F);
    n_paths = 0;
    snprintf(F.dir, sizeof F.dir, "/tmp/ds-test-alerts-%ld-XXXXXX", (long)getpid());
    if (!mkdtemp(F.dir))
        return -1;
    snprintf(F.db, sizeof F.db, "%s/store.db", F.dir);
    struct ds_err err = {0};
    if (ds_store_open(&F.store, F.db, false, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    if (sqlite3_open_v2(F.db, &F.q, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(F.q, 10000);
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    ds_alerts_close(F.a);
    F.a = NULL;
    ds_registry_free(F.reg);
    F.reg = NULL;
    ds_store_close(F.store);
    sqlite3_close(F.q);
    nftw(F.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* The policy of most tests; each changes what it exercises. */
static struct ds_alerts_config policy(uint64_t close_after_s, uint64_t renotify_s, uint64_t gw_s,
                                      uint64_t gi_s, uint64_t ri_s)
{
    struct ds_alerts_config c;
    ds_alerts_config_defaults(&c);
    c.close_after_ns = close_after_s * NS;
    c.renotify_ns = renotify_s * NS;
    c.group_wait_ns = gw_s * NS;
    c.group_interval_ns = gi_s * NS;
    c.repeat_interval_ns = ri_s * NS;
    return c;
}

static void engine_open(const struct ds_alerts_config *cfg)
{
    struct ds_err err = {0};
    assert_null(F.a);
    int rc = ds_alerts_open(&F.a, F.db, &F.regp, cfg, on_wake, &F, &err);
    if (rc < 0)
        fail_msg("ds_alerts_open: %s", err.msg);
    F.posted = 0;
    F.base_alerts = qi("SELECT count(*) FROM alert");
    F.base_rows = qi("SELECT count(*) FROM outbox");
    F.base_notices = qi("SELECT count(DISTINCT message_id) FROM outbox WHERE message_id LIKE"
                        " 'alert-%%'");
    F.base_digests = qi("SELECT count(DISTINCT message_id) FROM outbox WHERE message_id LIKE"
                        " 'digest-%%'");
}

static void engine_close(void)
{
    ds_alerts_close(F.a);
    F.a = NULL;
}

/* A new snapshot of the store's registry; the old one is freed once the engine has made a
 * pass with the new one (ds_alerts_drain waits for a pass that starts after the swap). */
static void load_registry(void)
{
    struct ds_err err = {0};
    struct ds_registry *r = NULL;
    if (ds_registry_load(F.store, &r, &err) < 0)
        fail_msg("ds_registry_load: %s", err.msg);
    struct ds_registry *old = F.reg;
    atomic_store(&F.regp, r);
    F.reg = r;
    if (F.a)
        assert_int_equal(ds_alerts_drain(F.a, false, &err), 0);
    ds_registry_free(old);
}

struct org_opts {
    const char *channels; /* NULL: every channel */
    size_t n_files;       /* file contacts, named DIR/NAME-I.jsonl */
    const char *email;    /* an smtp contact, or NULL */
    int64_t renotify_s, group_wait_s, group_interval_s, repeat_interval_s;
};

static int64_t add_org(const char *name, const char *livenet, const struct org_opts *o)
{
    const char *files[4];
    assert_true(o->n_files <= 4 && n_paths + o->n_files <= 16);
    for (size_t i = 0; i < o->n_files; i++) {
        char *p = paths[n_paths++];
        snprintf(p, sizeof paths[0], "%s/%s-%zu.jsonl", F.dir, name, i);
        files[i] = p;
    }
    const char *live[] = {livenet};
    const char *emails[] = {o->email};
    struct ds_org_spec spec = {
        .name = name,
        .channels = o->channels,
        .livenet = live,
        .n_livenet = 1,
        .emails = emails,
        .n_emails = o->email ? 1 : 0,
        .files = files,
        .n_files = o->n_files,
        .renotify_s = o->renotify_s,
        .group_wait_s = o->group_wait_s,
        .group_interval_s = o->group_interval_s,
        .repeat_interval_s = o->repeat_interval_s,
    };
    struct ds_err err = {0};
    int64_t id = 0;
    if (ds_registry_add_org(F.store, &spec, "test", &id, &err) < 0)
        fail_msg("ds_registry_add_org %s: %s", name, err.msg);
    assert_true(id > 0);
    return id;
}

static const struct org_opts FILES2 = {.n_files = 2};

/* ---- events and time ---- */

struct ev_opts {
    uint64_t targets_bits;
    uint8_t protos;
    uint32_t classes;
    const struct ds_alert_port *ports;
    size_t n_ports;
    const struct ds_alert_sample *samples;
    size_t n_samples;
};

static void post_ev(int64_t org, const char *addr, enum ds_alert_case k, uint64_t first_ns,
                    uint64_t last_ns, uint64_t packets, uint64_t bytes, const struct ev_opts *o)
{
    struct ds_alert_event ev = {.org_id = org,
                                .kase = k,
                                .first_ns = first_ns,
                                .last_ns = last_ns,
                                .packets = packets,
                                .bytes = bytes};
    assert_int_equal(ds_addr_parse(&ev.addr, addr, NULL), 0);
    snprintf(ev.scan_type, sizeof ev.scan_type, "none");
    if (o) {
        ev.targets_bits = o->targets_bits;
        ev.protos = o->protos;
        ev.classes = o->classes;
        assert_true(o->n_ports <= DS_ALERT_TOP_PORTS && o->n_samples <= DS_ALERT_SAMPLES);
        for (size_t i = 0; i < o->n_ports; i++)
            ev.ports[i] = o->ports[i];
        ev.n_ports = o->n_ports;
        for (size_t i = 0; i < o->n_samples; i++)
            ev.samples[i] = o->samples[i];
        ev.n_samples = o->n_samples;
    }
    const struct ds_alert_sink *sink = ds_alerts_sink(F.a);
    sink->post(sink->ctx, &ev);
    F.posted++;
}

static void drain(bool flush)
{
    struct ds_err err = {0};
    int rc = ds_alerts_drain(F.a, flush, &err);
    if (rc != 0)
        fail_msg("ds_alerts_drain: %d %s", rc, err.msg);
}

/* Packet time is T0 + s; the engine makes a pass at exactly that time. */
static void at(uint64_t s)
{
    ds_alerts_tick(F.a, AT(s));
    drain(false);
}

/* One event of one packet at T0 + s (the clock moved there first). */
static void hit(int64_t org, const char *addr, enum ds_alert_case k, uint64_t s)
{
    ds_alerts_tick(F.a, AT(s));
    post_ev(org, addr, k, AT(s), AT(s), 1, 60, NULL);
    drain(false);
}

/* ---- reading the tables ---- */

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

/* The integer of a one-row query. */
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

/* The text of a one-row query (malloc'd), NULL for SQL NULL. */
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

static json_t *parse(const char *text)
{
    assert_non_null(text);
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("bad JSON (%s): %s", je.text, text);
    return j;
}

/* The JSON of a one-row query. */
static json_t *qj(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *qj(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = prep(fmt, ap);
    va_end(ap);
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("no row: %s", sqlite3_sql(st));
    json_t *j = parse((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        fail_msg("no string '%s'", key);
    return json_string_value(v);
}

static int64_t jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("no integer '%s'", key);
    return json_integer_value(v);
}

static int64_t alert_id(int64_t org, const char *addr, enum ds_alert_case k)
{
    return qi("SELECT id FROM alert WHERE org = %" PRId64 " AND addr = '%s' AND kase = %d", org,
              addr, (int)k);
}

static int64_t state_of(int64_t id)
{
    return qi("SELECT state FROM alert WHERE id = %" PRId64, id);
}

/* Digests queued for an organisation (each is one row per contact). */
static int64_t digests(int64_t org)
{
    return qi("SELECT count(DISTINCT message_id) FROM outbox WHERE org = %" PRId64
              " AND message_id LIKE 'digest-%%'",
              org);
}

/* Notices of one alert. */
static int64_t notices(int64_t id)
{
    return qi("SELECT count(DISTINCT message_id) FROM outbox WHERE message_id LIKE 'alert-%" PRId64
              "-%%'",
              id);
}

/* The n-th digest of an organisation (as queued for its first contact). */
static json_t *digest_json(int64_t org, int64_t n)
{
    return qj("SELECT json FROM outbox WHERE message_id = 'digest-%" PRId64 "-%" PRId64
              "' ORDER BY id LIMIT 1",
              org, n);
}

/* The alert of id in a digest, or fails; checks the digest lists each alert once. */
static json_t *in_digest(json_t *d, int64_t id)
{
    json_t *found = NULL, *e;
    size_t i;
    json_array_foreach(json_object_get(d, "alerts"), i, e)
    {
        if (jint(e, "id") == id) {
            assert_null(found);
            found = e;
        }
    }
    if (!found)
        fail_msg("alert %" PRId64 " is not in digest %s", id, jstr(d, "digest"));
    return found;
}

static size_t digest_count(json_t *d)
{
    size_t n = json_array_size(json_object_get(d, "alerts"));
    assert_int_equal(jint(d, "count"), (int64_t)n);
    return n;
}

/* The n-th digest of org: how many alerts, and one alert's state and packets in it. */
static size_t digest_size(int64_t org, int64_t n)
{
    json_t *d = digest_json(org, n);
    size_t k = digest_count(d);
    json_decref(d);
    return k;
}

static const char *digest_state(int64_t org, int64_t n, int64_t id)
{
    json_t *d = digest_json(org, n);
    const char *v = jstr(in_digest(d, id), "state");
    for (int i = 0; i < DS_ALERT_STATE_COUNT; i++)
        if (strcmp(v, ds_alert_state_names[i]) == 0) {
            json_decref(d);
            return ds_alert_state_names[i];
        }
    fail_msg("alert %" PRId64 " has state '%s' in digest %" PRId64, id, v, n);
    return NULL;
}

static int64_t digest_packets(int64_t org, int64_t n, int64_t id)
{
    json_t *d = digest_json(org, n);
    int64_t v = jint(in_digest(d, id), "packets");
    json_decref(d);
    return v;
}

/*
 * What every test ends with: the engine's counters equal the tables (created, notices, digests,
 * outbox rows, alerts by state; closed ones are held only until a digest told their closing),
 * no store error, every queued row goes to a contact of its own organisation and every alert
 * in its JSON is that organisation's, and a digest lists an alert at most once.
 */
static void check_consistent(void)
{
    drain(false);
    const struct ds_alerts_stats *s = ds_alerts_stats(F.a);
    assert_int_equal(atomic_load(&s->errors), 0);
    assert_int_equal(atomic_load(&s->events), F.posted);
    assert_int_equal(F.base_alerts + (int64_t)atomic_load(&s->alerts_created),
                     qi("SELECT count(*) FROM alert"));
    assert_int_equal(F.base_rows + (int64_t)atomic_load(&s->outbox_rows),
                     qi("SELECT count(*) FROM outbox"));
    assert_int_equal(F.base_notices + (int64_t)atomic_load(&s->notices),
                     qi("SELECT count(DISTINCT message_id) FROM outbox WHERE message_id LIKE"
                        " 'alert-%%'"));
    assert_int_equal(F.base_digests + (int64_t)atomic_load(&s->digests),
                     qi("SELECT count(DISTINCT message_id) FROM outbox WHERE message_id LIKE"
                        " 'digest-%%'"));
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_NEW]),
                     qi("SELECT count(*) FROM alert WHERE state = 0"));
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_CONTINUING]),
                     qi("SELECT count(*) FROM alert WHERE state = 1"));
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_CLOSED]),
                     qi("SELECT count(*) FROM alert WHERE state = 2 AND changed = 1"));
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_REOPENED]),
                     qi("SELECT count(*) FROM alert WHERE state = 3"));
    /* every message went to every contact of its organisation once */
    assert_int_equal(qi("SELECT count(*) FROM outbox o LEFT JOIN org_contact c ON c.id = o.contact"
                        " WHERE c.org IS NOT o.org OR c.address IS NOT o.address"
                        " OR c.channel IS NOT o.channel"),
                     0);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE key <> message_id || '/' || contact"),
                     0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(F.q,
                                        "SELECT o.org, g.name, o.message_id, o.json FROM"
                                        " outbox o JOIN org g ON g.id = o.org",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t org = sqlite3_column_int64(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *mid = (const char *)sqlite3_column_text(st, 2);
        json_t *j = parse((const char *)sqlite3_column_text(st, 3));
        json_t *list = json_object_get(j, "alerts");
        if (strncmp(mid, "digest-", 7) == 0) {
            assert_true(json_is_array(list));
            assert_string_equal(jstr(j, "organisation"), name);
            assert_string_equal(jstr(j, "digest"), mid);
            assert_true(digest_count(j) > 0);
        } else {
            assert_int_equal(strncmp(mid, "alert-", 6), 0);
            assert_null(list);
            list = json_array();
            json_array_append(list, j);
            json_decref(j);
            j = list;
        }
        size_t i, k;
        json_t *e, *e2;
        json_array_foreach(list, i, e)
        {
            assert_string_equal(jstr(e, "organisation"), name);
            assert_int_equal(jint(e, "organisation_id"), org);
            assert_int_equal(qi("SELECT org FROM alert WHERE id = %" PRId64, jint(e, "id")), org);
            json_array_foreach(list, k, e2)
            {
                if (k != i)
                    assert_true(jint(e, "id") != jint(e2, "id"));
            }
        }
        json_decref(j);
    }
    sqlite3_finalize(st);
}

/* ---- tests ---- */

/* A new alert: one row, one immediate notice with one outbox row per contact of the channels
 * the organisation uses, the alert JSON in it. */
static void test_new_alert_notice(void **st)
{
    (void)st;
    struct org_opts all = {.n_files = 2, .email = "soc@a.example"};
    struct org_opts only_file = {.channels = "file", .n_files = 1, .email = "soc@b.example"};
    int64_t a = add_org("Org A", "192.0.2.0/24", &all);
    int64_t b = add_org("Org B", "198.51.100.0/24", &only_file);
    load_registry();
    struct ds_alerts_config cfg = policy(600, 3600, 30, 300, 1200);
    engine_open(&cfg);

    const struct ds_alerts_stats *s = ds_alerts_stats(F.a);
    assert_int_equal(atomic_load(&s->events), 0);
    assert_int_equal(atomic_load(&s->alerts_created), 0);

    ds_alerts_tick(F.a, AT(12));
    post_ev(a, "192.0.2.10", DS_CASE_EXTERNAL, AT(10) + 123456000, AT(12) + 5000, 5, 300, NULL);
    drain(false);
    assert_true(atomic_load(&F.wakes) > 0);

    assert_int_equal(qi("SELECT count(*) FROM alert"), 1);
    int64_t id = alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL);
    assert_int_equal(qi("SELECT state FROM alert WHERE id = %" PRId64, id), DS_ALERT_NEW);
    assert_int_equal(qi("SELECT packets FROM alert WHERE id = %" PRId64, id), 5);
    assert_int_equal(qi("SELECT bytes FROM alert WHERE id = %" PRId64, id), 300);
    assert_int_equal(qi("SELECT first_ns FROM alert WHERE id = %" PRId64, id),
                     (int64_t)(AT(10) + 123456000));
    assert_int_equal(qi("SELECT last_ns FROM alert WHERE id = %" PRId64, id),
                     (int64_t)(AT(12) + 5000));
    assert_int_equal(qi("SELECT notices FROM alert WHERE id = %" PRId64, id), 1);
    assert_int_equal(qi("SELECT notified_ns FROM alert WHERE id = %" PRId64, id),
                     (int64_t)(AT(12) + 5000));
    assert_int_equal(qi("SELECT changed FROM alert WHERE id = %" PRId64, id), 0);
    assert_int_equal(qi("SELECT severity FROM alert WHERE id = %" PRId64, id), DS_SEV_MEDIUM);

    /* one row per contact (2 files, 1 e-mail), all the same message */
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 3);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE org = %" PRId64
                        " AND message_id = 'alert-%" PRId64 "-1' AND attachment = 'alert-%" PRId64
                        ".json' AND state = 'pending' AND attempts = 0 AND next_ms = 0"
                        " AND severity = 1 AND done IS NULL",
                        a, id, id),
                     3);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE channel = 'file'"), 2);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE channel = 'smtp' AND address ="
                        " 'soc@a.example'"),
                     1);
    assert_int_equal(qi("SELECT count(DISTINCT json) FROM outbox"), 1);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE instr(text, '192.0.2.10') > 0 AND"
                        " instr(subject, '192.0.2.10') > 0"),
                     3);

    json_t *j = qj("SELECT json FROM outbox WHERE channel = 'file' ORDER BY id LIMIT 1");
    assert_int_equal(jint(j, "id"), id);
    assert_int_equal(jint(j, "version"), 1);
    assert_string_equal(jstr(j, "organisation"), "Org A");
    assert_int_equal(jint(j, "organisation_id"), a);
    assert_string_equal(jstr(j, "address"), "192.0.2.10");
    assert_string_equal(jstr(j, "case"), "external");
    assert_string_equal(jstr(j, "state"), "new");
    assert_string_equal(jstr(j, "severity"), "medium");
    assert_string_equal(jstr(j, "first_seen"), "2023-11-14T22:13:30.123456Z");
    assert_string_equal(jstr(j, "last_seen"), "2023-11-14T22:13:32.000005Z");
    assert_int_equal(jint(j, "packets"), 5);
    assert_int_equal(jint(j, "bytes"), 300);
    json_decref(j);
    /* the alert row holds the same JSON */
    char *row_json = qs("SELECT json FROM alert WHERE id = %" PRId64, id);
    char *box_json = qs("SELECT json FROM outbox ORDER BY id LIMIT 1");
    assert_string_equal(row_json, box_json);
    free(row_json);
    free(box_json);

    /* Org B uses only its file contact: one row, none to its e-mail address */
    hit(b, "198.51.100.7", DS_CASE_INTERNAL, 20);
    int64_t idb = alert_id(b, "198.51.100.7", DS_CASE_INTERNAL);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE org = %" PRId64, b), 1);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE org = %" PRId64
                        " AND channel = 'file' AND message_id = 'alert-%" PRId64 "-1'",
                        b, idb),
                     1);
    j = qj("SELECT json FROM outbox WHERE org = %" PRId64, b);
    assert_string_equal(jstr(j, "organisation"), "Org B");
    assert_string_equal(jstr(j, "case"), "internal");
    assert_string_equal(jstr(j, "severity"), "high");
    assert_string_equal(jstr(j, "first_seen"), "2023-11-14T22:13:40.000000Z");
    json_decref(j);

    assert_int_equal(atomic_load(&s->events), 2);
    assert_int_equal(atomic_load(&s->alerts_created), 2);
    assert_int_equal(atomic_load(&s->notices), 2);
    assert_int_equal(atomic_load(&s->digests), 0);
    assert_int_equal(atomic_load(&s->outbox_rows), 4);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_NEW]), 2);
    check_consistent();
}

/* One alert per (organisation, address, case); later events make it continuing and add up
 * exactly; nothing is notified at once for them. */
static void test_one_alert_per_key_and_counts(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    load_registry();
    struct ds_alerts_config cfg = policy(86400, 86400, 86400, 86400, 86400); /* no digest */
    engine_open(&cfg);

    const struct ds_alert_port p1[] = {{6, 23, 7}, {6, 2323, 3}};
    const struct ds_alert_port p2[] = {{6, 2323, 5}, {17, 53, 1}};
    struct ds_alert_sample s1[2] = {{.ts_ns = AT(100), .proto = 6, .dport = 23, .ttl = 50},
                                    {.ts_ns = AT(101), .proto = 6, .dport = 2323, .ttl = 51}};
    struct ds_alert_sample s2[2] = {{.ts_ns = AT(96), .proto = 17, .dport = 53, .ttl = 52},
                                    {.ts_ns = AT(97), .proto = 6, .dport = 23, .ttl = 53}};
    for (int i = 0; i < 2; i++) {
        ds_addr_parse(&s1[i].src, "192.0.2.10", NULL);
        ds_addr_parse(&s1[i].dst, "203.0.113.1", NULL);
        ds_addr_parse(&s2[i].src, "192.0.2.10", NULL);
        ds_addr_parse(&s2[i].dst, "203.0.113.2", NULL);
    }
    struct ev_opts o1 = {.targets_bits = 0x3,
                         .protos = 1,
                         .classes = 0x1,
                         .ports = p1,
                         .n_ports = 2,
                         .samples = s1,
                         .n_samples = 2};
    struct ev_opts o2 = {.targets_bits = 0x4,
                         .protos = 2,
                         .classes = 0x2,
                         .ports = p2,
                         .n_ports = 2,
                         .samples = s2,
                         .n_samples = 2};

    ds_alerts_tick(F.a, AT(105));
    post_ev(a, "192.0.2.10", DS_CASE_EXTERNAL, AT(100), AT(105), 10, 600, &o1);
    drain(false);
    int64_t x = alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL);
    assert_int_equal(state_of(x), DS_ALERT_NEW);
    /* the notice tells what the first event said */
    json_t *j = qj("SELECT json FROM outbox WHERE message_id = 'alert-%" PRId64 "-1' LIMIT 1", x);
    assert_int_equal(jint(j, "packets"), 10);
    assert_int_equal(jint(j, "bytes"), 600);
    json_decref(j);

    ds_alerts_tick(F.a, AT(120));
    post_ev(a, "192.0.2.10", DS_CASE_EXTERNAL, AT(95), AT(120), 5, 400, &o2); /* earlier start */
    drain(false);
    assert_int_equal(state_of(x), DS_ALERT_CONTINUING);
    ds_alerts_tick(F.a, AT(140));
    post_ev(a, "192.0.2.10", DS_CASE_EXTERNAL, AT(130), AT(140), 1, 60, NULL);
    drain(false);

    /* a burst of 100 events without a pass in between */
    for (int i = 0; i < 100; i++)
        post_ev(a, "192.0.2.10", DS_CASE_EXTERNAL, AT(141), AT(141) + (uint64_t)i, 1, 40, NULL);
    drain(false);

    assert_int_equal(qi("SELECT count(*) FROM alert"), 1);
    assert_int_equal(state_of(x), DS_ALERT_CONTINUING);
    assert_int_equal(qi("SELECT packets FROM alert WHERE id = %" PRId64, x), 116);
    assert_int_equal(qi("SELECT bytes FROM alert WHERE id = %" PRId64, x), 5060);
    assert_int_equal(qi("SELECT first_ns FROM alert WHERE id = %" PRId64, x), (int64_t)AT(95));
    assert_int_equal(qi("SELECT last_ns FROM alert WHERE id = %" PRId64, x),
                     (int64_t)(AT(141) + 99));
    assert_int_equal(qi("SELECT targets_bits FROM alert WHERE id = %" PRId64, x), 7);
    assert_int_equal(qi("SELECT protos FROM alert WHERE id = %" PRId64, x), 3);
    assert_int_equal(qi("SELECT classes FROM alert WHERE id = %" PRId64, x), 3);
    char *ports = qs("SELECT ports FROM alert WHERE id = %" PRId64, x);
    assert_string_equal(ports, "[{\"proto\":6,\"port\":2323,\"packets\":8},"
                               "{\"proto\":6,\"port\":23,\"packets\":7},"
                               "{\"proto\":17,\"port\":53,\"packets\":1}]");
    free(ports);
    /* the first three samples are kept */
    json_t *smp = qj("SELECT samples FROM alert WHERE id = %" PRId64, x);
    assert_int_equal(json_array_size(smp), 3);
    assert_int_equal(jint(json_array_get(smp, 0), "ts"), (int64_t)AT(100));
    assert_int_equal(jint(json_array_get(smp, 1), "ts"), (int64_t)AT(101));
    assert_int_equal(jint(json_array_get(smp, 2), "ts"), (int64_t)AT(96));
    assert_string_equal(jstr(json_array_get(smp, 2), "dst"), "203.0.113.2");
    json_decref(smp);
    /* the stored JSON says the same */
    j = qj("SELECT json FROM alert WHERE id = %" PRId64, x);
    assert_string_equal(jstr(j, "state"), "continuing");
    assert_int_equal(jint(j, "packets"), 116);
    assert_int_equal(jint(j, "bytes"), 5060);
    assert_int_equal(jint(j, "targets"), 3); /* -64 ln(61/64) = 3.07 */
    assert_string_equal(jstr(j, "first_seen"), "2023-11-14T22:14:55.000000Z");
    assert_string_equal(jstr(j, "last_seen"), "2023-11-14T22:15:41.000000Z"); /* 99 ns: cut */
    json_t *jp = json_object_get(j, "ports");
    assert_int_equal(json_array_size(jp), 3);
    assert_string_equal(jstr(json_array_get(jp, 0), "proto"), "tcp");
    assert_int_equal(jint(json_array_get(jp, 0), "port"), 2323);
    assert_int_equal(jint(json_array_get(jp, 0), "packets"), 8);
    assert_string_equal(jstr(json_array_get(jp, 2), "proto"), "udp");
    assert_int_equal(json_array_size(json_object_get(j, "samples")), 3);
    json_decref(j);
    /* continuing events notify nobody at once */
    assert_int_equal(notices(x), 1);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 2);
    assert_int_equal(qi("SELECT changed FROM alert WHERE id = %" PRId64, x), 1);

    /* the same address in another case, and another address: alerts of their own */
    hit(a, "192.0.2.10", DS_CASE_INTERNAL, 150);
    hit(a, "192.0.2.11", DS_CASE_EXTERNAL, 150);
    hit(a, "192.0.2.10", DS_CASE_BACKSCATTER, 150);
    assert_int_equal(qi("SELECT count(*) FROM alert"), 4);
    assert_int_equal(qi("SELECT count(*) FROM alert WHERE addr = '192.0.2.10'"), 3);
    assert_int_equal(qi("SELECT count(DISTINCT kase) FROM alert WHERE addr = '192.0.2.10'"), 3);
    assert_int_equal(qi("SELECT count(*) FROM alert WHERE state = 0 AND packets = 1"), 3);
    assert_int_equal(qi("SELECT packets FROM alert WHERE id = %" PRId64, x), 116);
    assert_int_equal(qi("SELECT count(DISTINCT message_id) FROM outbox"), 4);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 8);

    /* the top ports keep the five busiest */
    const struct ds_alert_port q1[] = {{6, 1, 10}, {6, 2, 20}, {6, 3, 30}, {6, 4, 40}, {6, 5, 50}};
    const struct ds_alert_port q2[] = {{6, 6, 5}};
    const struct ds_alert_port q3[] = {{6, 7, 15}};
    struct ev_opts oq1 = {.ports = q1, .n_ports = 5}, oq2 = {.ports = q2, .n_ports = 1},
                   oq3 = {.ports = q3, .n_ports = 1};
    post_ev(a, "192.0.2.12", DS_CASE_EXTERNAL, AT(150), AT(150), 150, 9000, &oq1);
    post_ev(a, "192.0.2.12", DS_CASE_EXTERNAL, AT(150), AT(150), 5, 300, &oq2);
    post_ev(a, "192.0.2.12", DS_CASE_EXTERNAL, AT(150), AT(150), 15, 900, &oq3);
    drain(false);
    int64_t w = alert_id(a, "192.0.2.12", DS_CASE_EXTERNAL);
    ports = qs("SELECT ports FROM alert WHERE id = %" PRId64, w);
    assert_string_equal(ports, "[{\"proto\":6,\"port\":5,\"packets\":50},"
                               "{\"proto\":6,\"port\":4,\"packets\":40},"
                               "{\"proto\":6,\"port\":3,\"packets\":30},"
                               "{\"proto\":6,\"port\":2,\"packets\":20},"
                               "{\"proto\":6,\"port\":7,\"packets\":15}]");
    free(ports);
    assert_int_equal(qi("SELECT packets FROM alert WHERE id = %" PRId64, w), 170);
    assert_int_equal(qi("SELECT bytes FROM alert WHERE id = %" PRId64, w), 10200);
    assert_int_equal(state_of(w), DS_ALERT_CONTINUING);

    const struct ds_alerts_stats *s = ds_alerts_stats(F.a);
    assert_int_equal(atomic_load(&s->alerts_created), 5);
    assert_int_equal(atomic_load(&s->notices), 5);
    assert_int_equal(atomic_load(&s->digests), 0);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_NEW]), 3);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_CONTINUING]), 2);
    check_consistent();
}

/* Digests per organisation: group_wait after the first change, at most one per
 * group_interval, a repeat of the open alerts after repeat_interval without changes. */
static void test_digest_timing(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    load_registry();
    struct ds_alerts_config cfg = policy(86400, 7 * 86400, 30, 300, 1200);
    engine_open(&cfg);
    const struct ds_alerts_stats *s = ds_alerts_stats(F.a);

    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 0);
    int64_t x = alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL);
    assert_int_equal(notices(x), 1);
    assert_int_equal(digests(a), 0);

    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 10); /* continuing: a change */
    assert_int_equal(state_of(x), DS_ALERT_CONTINUING);
    assert_int_equal(digests(a), 0);
    assert_int_equal(qi("SELECT pending_since_ns FROM digest_state WHERE org = %" PRId64, a),
                     (int64_t)AT(10));
    assert_int_equal(qi("SELECT last_sent_ns FROM digest_state WHERE org = %" PRId64, a), 0);
    at(39);
    assert_int_equal(digests(a), 0);
    at(40); /* 10 + group_wait */
    assert_int_equal(digests(a), 1);
    assert_int_equal(qi("SELECT pending_since_ns FROM digest_state WHERE org = %" PRId64, a), 0);
    assert_int_equal(qi("SELECT last_sent_ns FROM digest_state WHERE org = %" PRId64, a),
                     (int64_t)AT(40));
    assert_int_equal(qi("SELECT seq FROM digest_state WHERE org = %" PRId64, a), 1);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE message_id = 'digest-%" PRId64
                        "-1' AND attachment = 'digest-%" PRId64 "-1.json' AND channel = 'file'",
                        a, a),
                     2);
    assert_int_equal(qi("SELECT changed FROM alert WHERE id = %" PRId64, x), 0);
    json_t *d = digest_json(a, 1);
    assert_int_equal(jint(d, "version"), 1);
    assert_string_equal(jstr(d, "organisation"), "Org A");
    assert_int_equal(digest_count(d), 1);
    json_t *e = in_digest(d, x);
    assert_string_equal(jstr(e, "state"), "continuing");
    assert_int_equal(jint(e, "packets"), 2);
    assert_string_equal(jstr(e, "address"), "192.0.2.10");
    json_decref(d);
    at(1000);
    assert_int_equal(digests(a), 1); /* nothing changed since */

    /* the next change waits for the group interval */
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 1010);
    at(1039);
    assert_int_equal(digests(a), 1);
    at(1040);
    assert_int_equal(digests(a), 2); /* group_wait; the last digest was 1000 s ago */
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 1050);
    at(1080);
    assert_int_equal(digests(a), 2); /* group_wait is over, group_interval not */
    at(1339);
    assert_int_equal(digests(a), 2);
    at(1340); /* 1040 + group_interval */
    assert_int_equal(digests(a), 3);
    d = digest_json(a, 3);
    assert_int_equal(jint(in_digest(d, x), "packets"), 4);
    json_decref(d);

    /* a new alert is notified at once and is no change for the digest */
    hit(a, "192.0.2.20", DS_CASE_INTERNAL, 1400);
    int64_t y = alert_id(a, "192.0.2.20", DS_CASE_INTERNAL);
    assert_int_equal(notices(y), 1);
    at(2000);
    assert_int_equal(digests(a), 3);

    /* no change: the open alerts are repeated after repeat_interval since the last digest */
    at(2539);
    assert_int_equal(digests(a), 3);
    at(2540);
    assert_int_equal(digests(a), 4);
    d = digest_json(a, 4);
    assert_int_equal(digest_count(d), 2);
    assert_string_equal(jstr(in_digest(d, x), "state"), "continuing");
    assert_string_equal(jstr(in_digest(d, y), "state"), "new");
    json_decref(d);
    at(3739);
    assert_int_equal(digests(a), 4);
    at(3740);
    assert_int_equal(digests(a), 5);

    /* a change after a quiet spell still waits group_wait after it */
    hit(a, "192.0.2.20", DS_CASE_INTERNAL, 4200);
    assert_int_equal(state_of(y), DS_ALERT_CONTINUING);
    at(4229);
    assert_int_equal(digests(a), 5);
    at(4230);
    assert_int_equal(digests(a), 6);
    d = digest_json(a, 6);
    assert_int_equal(digest_count(d), 1); /* only the changed one */
    assert_string_equal(jstr(in_digest(d, y), "state"), "continuing");
    json_decref(d);
    at(5429);
    assert_int_equal(digests(a), 6);
    at(5430); /* repeat after the last digest, whatever kind it was */
    assert_int_equal(digests(a), 7);
    assert_int_equal(digest_size(a, 7), 2);

    /* digest message ids are numbered without gaps, one row per contact */
    for (int64_t n = 1; n <= 7; n++)
        assert_int_equal(qi("SELECT count(*) FROM outbox WHERE message_id = 'digest-%" PRId64
                            "-%" PRId64 "'",
                            a, n),
                         2);
    assert_int_equal(atomic_load(&s->digests), 7);
    assert_int_equal(atomic_load(&s->notices), 2);
    assert_int_equal(atomic_load(&s->outbox_rows), 18);
    check_consistent();
}

/* Quiet for close_after: closed (a change for the digest); a new event reopens the same alert,
 * notified again only outside the re-notify window (the organisation's own window first). */
static void test_close_reopen_renotify(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    struct org_opts b_opts = {.n_files = 1, .renotify_s = 100};
    int64_t b = add_org("Org B", "198.51.100.0/24", &b_opts);
    load_registry();
    struct ds_alerts_config cfg = policy(600, 3600, 30, 300, 100000);
    engine_open(&cfg);
    const struct ds_alerts_stats *s = ds_alerts_stats(F.a);

    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 0);
    hit(b, "198.51.100.5", DS_CASE_BACKSCATTER, 0);
    int64_t x = alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL);
    int64_t y = alert_id(b, "198.51.100.5", DS_CASE_BACKSCATTER);
    at(599);
    assert_int_equal(state_of(x), DS_ALERT_NEW);
    assert_int_equal(state_of(y), DS_ALERT_NEW);
    at(600);
    assert_int_equal(state_of(x), DS_ALERT_CLOSED);
    assert_int_equal(state_of(y), DS_ALERT_CLOSED);
    assert_int_equal(qi("SELECT changed FROM alert WHERE id = %" PRId64, x), 1);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_CLOSED]), 2);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_NEW]), 0);
    check_consistent();
    at(629);
    assert_int_equal(digests(a), 0);
    at(630);
    assert_int_equal(digests(a), 1);
    assert_int_equal(digests(b), 1);
    json_t *d = digest_json(a, 1);
    assert_int_equal(digest_count(d), 1);
    assert_string_equal(jstr(in_digest(d, x), "state"), "closed");
    json_decref(d);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_CLOSED]), 0); /* told: no longer held */
    check_consistent();

    /* outside Org B's own window (100 s): reopened and notified at once */
    hit(b, "198.51.100.5", DS_CASE_BACKSCATTER, 700);
    assert_int_equal(state_of(y), DS_ALERT_REOPENED);
    assert_int_equal(notices(y), 2);
    json_t *j = qj("SELECT json FROM outbox WHERE message_id = 'alert-%" PRId64 "-2'", y);
    assert_string_equal(jstr(j, "state"), "reopened");
    assert_string_equal(jstr(j, "case"), "backscatter");
    assert_int_equal(jint(j, "packets"), 2);
    json_decref(j);
    assert_int_equal(qi("SELECT notified_ns FROM alert WHERE id = %" PRId64, y), (int64_t)AT(700));
    assert_int_equal(qi("SELECT changed FROM alert WHERE id = %" PRId64, y), 0);

    /* inside Org A's window (the daemon's 3600 s): reopened, told by the next digest only */
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 1000);
    assert_int_equal(qi("SELECT count(*) FROM alert WHERE org = %" PRId64, a), 1);
    assert_int_equal(state_of(x), DS_ALERT_REOPENED);
    assert_int_equal(notices(x), 1);
    assert_int_equal(qi("SELECT notices FROM alert WHERE id = %" PRId64, x), 1);
    assert_int_equal(qi("SELECT packets FROM alert WHERE id = %" PRId64, x), 2);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_REOPENED]), 2); /* x and y */
    at(1029);
    assert_int_equal(digests(a), 1);
    at(1030);
    assert_int_equal(digests(a), 2);
    d = digest_json(a, 2);
    assert_string_equal(jstr(in_digest(d, x), "state"), "reopened");
    assert_int_equal(jint(in_digest(d, x), "packets"), 2);
    json_decref(d);

    /* continuing, then closed again */
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 1100);
    assert_int_equal(state_of(x), DS_ALERT_CONTINUING);
    at(1329);
    assert_int_equal(digests(a), 2);
    at(1330); /* 1030 + group_interval */
    assert_int_equal(digests(a), 3);
    at(1699);
    assert_int_equal(state_of(x), DS_ALERT_CONTINUING);
    at(1700);
    assert_int_equal(state_of(x), DS_ALERT_CLOSED);
    at(1729);
    assert_int_equal(digests(a), 3);
    at(1730);
    assert_int_equal(digests(a), 4);
    assert_string_equal(digest_state(a, 4, x), "closed");

    /* the window (from the last notice at 0) is over at 3600: notified again */
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 3600);
    assert_int_equal(state_of(x), DS_ALERT_REOPENED);
    assert_int_equal(notices(x), 2);
    assert_int_equal(qi("SELECT notices FROM alert WHERE id = %" PRId64, x), 2);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE message_id = 'alert-%" PRId64 "-2'", x),
                     2);
    j = qj("SELECT json FROM outbox WHERE message_id = 'alert-%" PRId64 "-2' LIMIT 1", x);
    assert_string_equal(jstr(j, "state"), "reopened");
    assert_int_equal(jint(j, "id"), x);
    assert_int_equal(jint(j, "packets"), 4);
    json_decref(j);
    at(4000);
    assert_int_equal(digests(a), 4); /* the notice told it */
    assert_int_equal(qi("SELECT count(*) FROM alert"), 2);

    assert_int_equal(atomic_load(&s->alerts_created), 2);
    assert_int_equal(atomic_load(&s->notices), 4);
    check_consistent();
}

/* ds_alerts_drain(a, true, ...) sends every pending digest now, and only those. */
static void test_flush(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    int64_t b = add_org("Org B", "198.51.100.0/24", &FILES2);
    load_registry();
    struct ds_alerts_config cfg = policy(86400, 86400, 30, 300, 100000);
    engine_open(&cfg);

    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 0);
    hit(b, "198.51.100.10", DS_CASE_EXTERNAL, 0);
    drain(true);
    assert_int_equal(digests(a), 0); /* nothing pending */
    assert_int_equal(digests(b), 0);
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 10);
    hit(b, "198.51.100.10", DS_CASE_EXTERNAL, 10);
    drain(true);
    assert_int_equal(digests(a), 1);
    assert_int_equal(digests(b), 1);
    assert_int_equal(qi("SELECT last_sent_ns FROM digest_state WHERE org = %" PRId64, a),
                     (int64_t)AT(10));
    drain(true);
    assert_int_equal(digests(a), 1);
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 20); /* inside group_interval */
    drain(true);
    assert_int_equal(digests(a), 2);
    assert_int_equal(digests(b), 1);
    json_t *d = digest_json(a, 2);
    assert_int_equal(jint(in_digest(d, alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL)), "packets"), 3);
    json_decref(d);
    at(400);
    assert_int_equal(digests(a), 2);
    assert_int_equal(digests(b), 1);
    assert_int_equal(atomic_load(&ds_alerts_stats(F.a)->digests), 3);
    check_consistent();
}

/* Each organisation has its own digest timers, and a digest holds its own alerts only. */
static void test_org_isolation(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    struct org_opts b_opts = {.n_files = 1, .email = "soc@b.example", .group_wait_s = 100};
    int64_t b = add_org("Org B", "198.51.100.0/24", &b_opts);
    load_registry();
    struct ds_alerts_config cfg = policy(86400, 86400, 30, 300, 100000);
    engine_open(&cfg);

    const char *aa[] = {"192.0.2.1", "192.0.2.2"};
    const char *bb[] = {"198.51.100.1", "198.51.100.2", "198.51.100.3"};
    for (int pass = 0; pass < 2; pass++) {
        ds_alerts_tick(F.a, AT(pass * 10));
        for (size_t i = 0; i < 2; i++)
            post_ev(a, aa[i], DS_CASE_EXTERNAL, AT(pass * 10), AT(pass * 10), 1, 60, NULL);
        for (size_t i = 0; i < 3; i++)
            post_ev(b, bb[i], DS_CASE_INTERNAL, AT(pass * 10), AT(pass * 10), 1, 60, NULL);
        drain(false);
    }
    assert_int_equal(qi("SELECT count(*) FROM alert WHERE org = %" PRId64 " AND state = 1", a), 2);
    assert_int_equal(qi("SELECT count(*) FROM alert WHERE org = %" PRId64 " AND state = 1", b), 3);
    at(39);
    assert_int_equal(digests(a), 0);
    at(40);
    assert_int_equal(digests(a), 1);
    assert_int_equal(digests(b), 0); /* its own group_wait: 100 s */
    json_t *d = digest_json(a, 1);
    assert_int_equal(digest_count(d), 2);
    for (size_t i = 0; i < 2; i++)
        in_digest(d, alert_id(a, aa[i], DS_CASE_EXTERNAL));
    json_decref(d);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE message_id LIKE 'digest-%" PRId64
                        "-%%' AND org <> %" PRId64,
                        a, a),
                     0);
    at(109);
    assert_int_equal(digests(b), 0);
    at(110);
    assert_int_equal(digests(b), 1);
    assert_int_equal(digests(a), 1);
    d = digest_json(b, 1);
    assert_string_equal(jstr(d, "organisation"), "Org B");
    assert_int_equal(digest_count(d), 3);
    for (size_t i = 0; i < 3; i++)
        in_digest(d, alert_id(b, bb[i], DS_CASE_INTERNAL));
    json_decref(d);
    /* to B's two contacts (file and e-mail), nobody else */
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE message_id = 'digest-%" PRId64 "-1'", b),
                     2);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE message_id = 'digest-%" PRId64
                        "-1' AND address IN ('soc@b.example', '%s')",
                        b, paths[2]),
                     2);
    /* a change of B does not start a digest of A */
    hit(b, bb[0], DS_CASE_INTERNAL, 500);
    at(700);
    assert_int_equal(digests(a), 1);
    assert_int_equal(digests(b), 2);
    assert_int_equal(digest_size(b, 2), 1);
    check_consistent();
}

/* An event for an organisation the snapshot does not hold is dropped; after a reload that
 * holds it, its events count. */
static void test_unknown_org_dropped(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    load_registry();
    struct ds_alerts_config cfg = policy(600, 3600, 30, 300, 1200);
    engine_open(&cfg);
    const struct ds_alerts_stats *s = ds_alerts_stats(F.a);

    hit(a + 1000, "192.0.2.10", DS_CASE_EXTERNAL, 0);
    int64_t c = add_org("Org C", "203.0.113.0/24", &FILES2); /* in the store, not the snapshot */
    hit(c, "203.0.113.9", DS_CASE_EXTERNAL, 1);
    drain(true);
    assert_int_equal(qi("SELECT count(*) FROM alert"), 0);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 0);
    assert_int_equal(qi("SELECT count(*) FROM digest_state"), 0);
    assert_int_equal(atomic_load(&s->alerts_created), 0);
    assert_int_equal(atomic_load(&s->notices), 0);
    assert_int_equal(atomic_load(&s->outbox_rows), 0);
    assert_int_equal(atomic_load(&s->events), 2); /* received, then dropped */
    check_consistent();

    load_registry();
    hit(c, "203.0.113.9", DS_CASE_EXTERNAL, 2);
    assert_int_equal(qi("SELECT count(*) FROM alert"), 1);
    assert_int_equal(qi("SELECT org FROM alert"), c);
    assert_int_equal(qi("SELECT packets FROM alert"), 1); /* the dropped event is not in it */
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE org = %" PRId64, c), 2);
    hit(a + 1000, "192.0.2.10", DS_CASE_EXTERNAL, 3);
    assert_int_equal(qi("SELECT count(*) FROM alert"), 1);
    check_consistent();
}

/* Close and reopen the engine: the same alert rows continue, digest timers and numbering
 * survive, and a closing not yet told is told after the restart. */
static void test_restart(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    load_registry();
    struct ds_alerts_config cfg = policy(600, 3600, 30, 300, 100000);
    engine_open(&cfg);

    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 0);
    hit(a, "192.0.2.20", DS_CASE_EXTERNAL, 0);
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 10);
    int64_t x = alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL);
    int64_t z = alert_id(a, "192.0.2.20", DS_CASE_EXTERNAL);
    check_consistent();
    engine_close();
    assert_int_equal(qi("SELECT pending_since_ns FROM digest_state WHERE org = %" PRId64, a),
                     (int64_t)AT(10));

    engine_open(&cfg);
    const struct ds_alerts_stats *s = ds_alerts_stats(F.a);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_NEW]), 1);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_CONTINUING]), 1);
    assert_int_equal(atomic_load(&s->alerts_created), 0);
    at(39);
    assert_int_equal(digests(a), 0);
    at(40); /* the timer started before the restart */
    assert_int_equal(digests(a), 1);
    assert_int_equal(digest_packets(a, 1, x), 2);
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 50);
    assert_int_equal(alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL), x);
    assert_int_equal(qi("SELECT count(*) FROM alert"), 2);
    assert_int_equal(qi("SELECT packets FROM alert WHERE id = %" PRId64, x), 3);
    assert_int_equal(state_of(x), DS_ALERT_CONTINUING);
    assert_int_equal(notices(x), 1);
    drain(true); /* at 50: the group interval now runs to 350 */
    assert_int_equal(digests(a), 2);
    at(600); /* z closes; the digest telling it is due at 630 */
    assert_int_equal(state_of(z), DS_ALERT_CLOSED);
    assert_int_equal(digests(a), 2);
    check_consistent();
    engine_close();

    engine_open(&cfg);
    s = ds_alerts_stats(F.a);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_CONTINUING]), 1);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_CLOSED]), 1);
    at(629);
    assert_int_equal(digests(a), 2);
    at(630);
    assert_int_equal(digests(a), 3);
    json_t *d = digest_json(a, 3);
    assert_int_equal(digest_count(d), 1);
    assert_string_equal(jstr(in_digest(d, z), "state"), "closed");
    json_decref(d);
    at(650); /* x closes */
    assert_int_equal(state_of(x), DS_ALERT_CLOSED);
    at(930);
    assert_int_equal(digests(a), 4);
    assert_string_equal(digest_state(a, 4, x), "closed");
    check_consistent();
    engine_close();

    /* a closed alert is found in the store and reopened, the re-notify window kept */
    engine_open(&cfg);
    s = ds_alerts_stats(F.a);
    for (int i = 0; i < DS_ALERT_STATE_COUNT; i++)
        assert_int_equal(atomic_load(&s->by_state[i]), 0);
    hit(a, "192.0.2.20", DS_CASE_EXTERNAL, 1000);
    assert_int_equal(alert_id(a, "192.0.2.20", DS_CASE_EXTERNAL), z);
    assert_int_equal(state_of(z), DS_ALERT_REOPENED);
    assert_int_equal(notices(z), 1); /* inside 3600 s of its notice at 0 */
    assert_int_equal(qi("SELECT packets FROM alert WHERE id = %" PRId64, z), 2);
    assert_int_equal(qi("SELECT first_ns FROM alert WHERE id = %" PRId64, z), (int64_t)AT(0));
    at(1230); /* 930 + group_interval */
    assert_int_equal(digests(a), 5);
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 4000); /* outside: notified */
    assert_int_equal(notices(x), 2);
    assert_int_equal(qi("SELECT count(*) FROM alert"), 2);
    /* numbering went on across the restarts: digest-A-1 .. -5, each to both contacts */
    assert_int_equal(qi("SELECT count(DISTINCT message_id) FROM outbox WHERE message_id LIKE"
                        " 'digest-%%'"),
                     5);
    assert_int_equal(qi("SELECT max(seq) FROM digest_state"), 5);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE message_id LIKE 'digest-%%'"), 10);
    check_consistent();
}

/* New policy times apply from the engine's next pass; the templates directory is kept. */
static void test_reconfigure(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    load_registry();
    struct ds_alerts_config cfg = policy(600, 3600, 30, 300, 100000);
    engine_open(&cfg);

    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 0);
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 10);
    int64_t x = alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL);
    struct ds_alerts_config c2 = policy(100, 200, 5, 50, 100000);
    c2.templates_dir = "/nonexistent/templates"; /* kept from ds_alerts_open: ignored */
    ds_alerts_reconfigure(F.a, &c2);
    at(14);
    assert_int_equal(digests(a), 0);
    at(15); /* 10 + the new group_wait */
    assert_int_equal(digests(a), 1);
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 20);
    at(64);
    assert_int_equal(digests(a), 1);
    at(65); /* 15 + the new group_interval */
    assert_int_equal(digests(a), 2);
    at(119);
    assert_int_equal(state_of(x), DS_ALERT_CONTINUING);
    at(120); /* 20 + the new close_after */
    assert_int_equal(state_of(x), DS_ALERT_CLOSED);
    at(125);
    assert_int_equal(digests(a), 3);
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 300); /* the new window: 200 s since the notice at 0 */
    assert_int_equal(state_of(x), DS_ALERT_REOPENED);
    assert_int_equal(notices(x), 2);

    /* and back: the old window suppresses the notice again */
    ds_alerts_reconfigure(F.a, &cfg);
    at(1000); /* closes at 300 + 600 */
    assert_int_equal(state_of(x), DS_ALERT_CLOSED);
    at(1030);
    assert_int_equal(digests(a), 4);
    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 2000);
    assert_int_equal(state_of(x), DS_ALERT_REOPENED);
    assert_int_equal(notices(x), 2); /* 2000 < 300 + 3600 */
    check_consistent();
}

/* An organisation that was only ever sent notices still gets its open alerts repeated,
 * repeat_interval after the first notice, then after each digest. */
static void test_repeat_without_digest(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    load_registry();
    struct ds_alerts_config cfg = policy(86400, 86400, 30, 300, 1200);
    engine_open(&cfg);

    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 0);
    hit(a, "192.0.2.11", DS_CASE_INTERNAL, 500);
    int64_t x = alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL);
    int64_t y = alert_id(a, "192.0.2.11", DS_CASE_INTERNAL);
    at(1199);
    assert_int_equal(digests(a), 0);
    at(1200);
    assert_int_equal(digests(a), 1);
    json_t *d = digest_json(a, 1);
    assert_int_equal(digest_count(d), 2);
    assert_string_equal(jstr(in_digest(d, x), "state"), "new");
    assert_string_equal(jstr(in_digest(d, y), "state"), "new");
    json_decref(d);
    at(2399);
    assert_int_equal(digests(a), 1);
    at(2400);
    assert_int_equal(digests(a), 2);
    assert_int_equal(notices(x), 1);
    assert_int_equal(notices(y), 1);
    check_consistent();
}

/* A pass that fails (here: the outbox refuses rows) is rolled back in the store and in memory:
 * the alert it created does not linger with an id the store hands out again. */
static void test_store_error_rolls_back(void **st)
{
    (void)st;
    int64_t a = add_org("Org A", "192.0.2.0/24", &FILES2);
    load_registry();
    struct ds_alerts_config cfg = policy(600, 3600, 30, 300, 100000);
    engine_open(&cfg);
    const struct ds_alerts_stats *s = ds_alerts_stats(F.a);
    sqlite3 *rw = ds_store_db(F.store);

    hit(a, "192.0.2.10", DS_CASE_EXTERNAL, 0);
    int64_t x = alert_id(a, "192.0.2.10", DS_CASE_EXTERNAL);
    assert_int_equal(sqlite3_exec(rw,
                                  "CREATE TRIGGER refuse BEFORE INSERT ON outbox BEGIN"
                                  " SELECT RAISE(ABORT, 'injected failure'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ds_alerts_tick(F.a, AT(10));
    post_ev(a, "192.0.2.20", DS_CASE_EXTERNAL, AT(10), AT(10), 1, 60, NULL);
    struct ds_err err = {0};
    assert_int_equal(ds_alerts_drain(F.a, false, &err), -EIO);
    assert_non_null(strstr(err.msg, "queueing a delivery"));
    assert_non_null(strstr(err.msg, "injected failure"));
    assert_int_equal(atomic_load(&s->errors), 1);
    assert_int_equal(qi("SELECT count(*) FROM alert"), 1);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 2);
    assert_int_equal(atomic_load(&s->alerts_created), 1);
    assert_int_equal(atomic_load(&s->notices), 1);
    assert_int_equal(atomic_load(&s->outbox_rows), 2);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_NEW]), 1);

    assert_int_equal(sqlite3_exec(rw, "DROP TRIGGER refuse", NULL, NULL, NULL), SQLITE_OK);
    ds_alerts_tick(F.a, AT(20));
    post_ev(a, "192.0.2.20", DS_CASE_EXTERNAL, AT(20), AT(20), 1, 60, NULL);
    assert_int_equal(ds_alerts_drain(F.a, false, &err), -EIO); /* the first error stays */
    assert_int_equal(qi("SELECT count(*) FROM alert"), 2);
    int64_t y = alert_id(a, "192.0.2.20", DS_CASE_EXTERNAL);
    assert_true(y != x);
    assert_int_equal(state_of(y), DS_ALERT_NEW);
    assert_int_equal(qi("SELECT packets FROM alert WHERE id = %" PRId64, y), 1);
    assert_int_equal(qi("SELECT first_ns FROM alert WHERE id = %" PRId64, y), (int64_t)AT(20));
    assert_int_equal(notices(y), 1);
    ds_alerts_tick(F.a, AT(30));
    post_ev(a, "192.0.2.10", DS_CASE_EXTERNAL, AT(30), AT(30), 1, 60, NULL);
    assert_int_equal(ds_alerts_drain(F.a, false, &err), -EIO);
    assert_int_equal(state_of(x), DS_ALERT_CONTINUING);
    assert_int_equal(qi("SELECT packets FROM alert WHERE id = %" PRId64, x), 2);
    assert_int_equal(
        qi("SELECT count(*) FROM alert WHERE id = %" PRId64 " AND addr = '192.0.2.10'", x), 1);
    assert_int_equal(
        qi("SELECT count(*) FROM alert WHERE id = %" PRId64 " AND addr = '192.0.2.20'", y), 1);
    assert_int_equal(state_of(y), DS_ALERT_NEW);
    assert_int_equal(atomic_load(&s->errors), 1);
    assert_int_equal(atomic_load(&s->alerts_created), 2);
    assert_int_equal(atomic_load(&s->notices), 2);
    assert_int_equal(atomic_load(&s->outbox_rows), 4);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 4);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_NEW]), 1);
    assert_int_equal(atomic_load(&s->by_state[DS_ALERT_CONTINUING]), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_alert_notice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_alert_per_key_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_timing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_reopen_renotify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_org_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_org_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconfigure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeat_without_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_error_rolls_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
