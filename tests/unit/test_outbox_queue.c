/* test_outbox_queue.c - queueing a message into the durable outbox over a real store: one row
 * per contact whose channel the organisation uses, keyed MESSAGE/CONTACT so queueing twice adds
 * nothing, failures naming the organisation; the channel list; and the string buffer the
 * formatters build their text in (core/sbuf). */
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "alert/outbox_queue.h"
#include "alert/registry.h"
#include "core/sbuf.h"
#include "store/store.h"

static struct {
    char dir[256];
    char path[512];
    struct ds_store *s;
    sqlite3 *db; /* the store's connection: enqueue and read back */
} F;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **st)
{
    (void)st;
    memset(&F, 0, sizeof F);
    snprintf(F.dir, sizeof F.dir, "/tmp/ds-test-outbox-queue-%ld-XXXXXX", (long)getpid());
    if (!mkdtemp(F.dir))
        return -1;
    snprintf(F.path, sizeof F.path, "%s/store.db", F.dir);
    struct ds_err err = {0};
    if (ds_store_open(&F.s, F.path, false, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    F.db = ds_store_db(F.s);
    return F.db ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    ds_store_close(F.s);
    F.s = NULL;
    F.db = NULL;
    nftw(F.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- helpers ---- */

static sqlite3_stmt *prep(const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(F.db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(F.db));
    return st;
}

static int64_t qi(const char *sql)
{
    sqlite3_stmt *st = prep(sql);
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("no row: %s", sql);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void exec(const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(F.db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        char copy[512];
        snprintf(copy, sizeof copy, "%s", msg ? msg : "?");
        sqlite3_free(msg);
        fail_msg("%s: %s", sql, copy);
    }
}

/* Text column i of the current row, NULL for SQL NULL. */
static const char *col(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

struct want_row {
    const char *key, *message_id;
    int64_t org, contact;
    const char *channel, *address, *secret; /* secret NULL: SQL NULL */
    const char *subject, *text, *json, *attachment;
    int severity;
};

/* The row with w->key holds exactly w, pending and untried, created between t0 and t1. */
static void row_is(const struct want_row *w, time_t t0, time_t t1)
{
    sqlite3_stmt *st = prep("SELECT created, key, message_id, org, contact, channel, address,"
                            " secret, subject, text, json, attachment, severity, state, attempts,"
                            " next_ms, last_error, done FROM outbox WHERE key = ?");
    sqlite3_bind_text(st, 1, w->key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("no outbox row %s", w->key);
    const char *created = col(st, 0);
    assert_non_null(created);
    assert_int_equal(strlen(created), 20);
    struct tm tm = {0};
    const char *end = strptime(created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    assert_non_null(end);
    assert_string_equal(end, "");
    time_t c = timegm(&tm);
    assert_true(c >= t0 && c <= t1);
    assert_string_equal(col(st, 1), w->key);
    assert_string_equal(col(st, 2), w->message_id);
    assert_int_equal(sqlite3_column_int64(st, 3), w->org);
    assert_int_equal(sqlite3_column_int64(st, 4), w->contact);
    assert_string_equal(col(st, 5), w->channel);
    assert_string_equal(col(st, 6), w->address);
    if (w->secret)
        assert_string_equal(col(st, 7), w->secret);
    else
        assert_int_equal(sqlite3_column_type(st, 7), SQLITE_NULL);
    assert_string_equal(col(st, 8), w->subject);
    assert_string_equal(col(st, 9), w->text);
    assert_string_equal(col(st, 10), w->json);
    assert_string_equal(col(st, 11), w->attachment);
    assert_int_equal(sqlite3_column_type(st, 12), SQLITE_INTEGER);
    assert_int_equal(sqlite3_column_int(st, 12), w->severity);
    assert_string_equal(col(st, 13), "pending");
    assert_int_equal(sqlite3_column_int64(st, 14), 0);
    assert_int_equal(sqlite3_column_int64(st, 15), 0);
    assert_int_equal(sqlite3_column_type(st, 16), SQLITE_NULL);
    assert_int_equal(sqlite3_column_type(st, 17), SQLITE_NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* An organisation built by hand (the outbox has no foreign keys on org or contact). */
static char ch_smtp[] = "smtp", ch_webhook[] = "webhook", ch_syslog[] = "syslog";
static char ad_smtp[] = "soc@city.example", ad_webhook[] = "https://tickets.city.example/hook",
            ad_syslog[] = "udp://192.0.2.9:514", secret[] = "s3cret";
static char org_name[] = "Example City", org_lang[] = "en";

static struct ds_contact three_contacts[3];

static struct ds_org city(char *channels)
{
    three_contacts[0] = (struct ds_contact){.id = 11, .channel = ch_smtp, .address = ad_smtp};
    three_contacts[1] = (struct ds_contact){
        .id = 12, .channel = ch_webhook, .address = ad_webhook, .secret = secret};
    three_contacts[2] = (struct ds_contact){.id = 13, .channel = ch_syslog, .address = ad_syslog};
    return (struct ds_org){.id = 5,
                           .name = org_name,
                           .lang = org_lang,
                           .channels = channels,
                           .contacts = three_contacts,
                           .n_contacts = 3};
}

static const struct ds_outbox_msg MSG = {
    .message_id = "alert-42-1",
    .subject = "[darkscope] Alert #42",
    .text = "To: Example City\nAlert: 42\n",
    .json = "{\"version\":1,\"id\":42}",
    .attachment = "darkscope-alert-42.json",
    .severity = 2,
};

/* MSG's row for the smtp contact of city() */
static const struct want_row MSG_SMTP_ROW = {
    .key = "alert-42-1/11",
    .message_id = "alert-42-1",
    .org = 5,
    .contact = 11,
    .channel = "smtp",
    .address = "soc@city.example",
    .secret = NULL,
    .subject = "[darkscope] Alert #42",
    .text = "To: Example City\nAlert: 42\n",
    .json = "{\"version\":1,\"id\":42}",
    .attachment = "darkscope-alert-42.json",
    .severity = 2,
};

/* ---- ds_org_uses_channel ---- */

static void test_uses_channel(void **st)
{
    (void)st;
    static const struct {
        const char *channels; /* NULL: none */
        const char *channel;
        bool uses;
    } cases[] = {
        {"smtp,webhook", "smtp", true},
        {"smtp,webhook", "webhook", true},
        {"smtp,webhook", "syslog", false},
        {"smtp,webhook", "file", false},
        {"smtp,webhook", "web", false},
        {"smtp,webhook", "hook", false},
        {"smtp,webhook", "smt", false},
        {"smtp,webhook", "smtpx", false},
        {"smtp,webhook", "webhooks", false},
        {"smtp,webhook", "", false},
        {"smtp", "smtp", true},
        {"smtp", "webhook", false},
        {"smtp", "", false},
        {"webhook", "webhook", true},
        {"webhook", "web", false},
        {"webhook", "smtp", false},
        {"web", "web", true},
        {"web", "webhook", false},
        {"webhook,web", "web", true},
        {"webhook,web", "webhook", true},
        {"smtp,webhook,syslog,file", "file", true},
        {"smtp,webhook,syslog,file", "syslog", true},
        {"smtp,,webhook", "webhook", true},
        {"", "smtp", false},
        {"", "", false},
        {NULL, "smtp", false},
        {NULL, "webhook", false},
        {NULL, "", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        struct ds_org org = {.id = 1, .name = org_name};
        if (cases[i].channels) {
            snprintf(buf, sizeof buf, "%s", cases[i].channels);
            org.channels = buf;
        }
        if (ds_org_uses_channel(&org, cases[i].channel) != cases[i].uses)
            fail_msg("channels '%s', channel '%s': want %s",
                     cases[i].channels ? cases[i].channels : "(null)", cases[i].channel,
                     cases[i].uses ? "true" : "false");
    }
}

/* ---- ds_outbox_enqueue ---- */

static void test_enqueue_rows(void **st)
{
    (void)st;
    char channels[] = "smtp,webhook";
    struct ds_org org = city(channels);
    struct ds_err err = {0};
    time_t t0 = time(NULL);
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), 2);
    time_t t1 = time(NULL);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 2);
    /* the syslog contact is not one of the organisation's channels */
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE contact = 13 OR channel = 'syslog'"), 0);
    struct want_row smtp = MSG_SMTP_ROW;
    row_is(&smtp, t0, t1);
    struct want_row hook = smtp;
    hook.key = "alert-42-1/12";
    hook.contact = 12;
    hook.channel = "webhook";
    hook.address = "https://tickets.city.example/hook";
    hook.secret = "s3cret";
    row_is(&hook, t0, t1);
    /* the rows are in contact order */
    assert_int_equal(qi("SELECT contact FROM outbox ORDER BY id LIMIT 1"), 11);

    /* the same message again adds nothing and changes nothing */
    struct ds_outbox_msg again = MSG;
    again.subject = "changed";
    again.severity = 3;
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &again, &err), 0);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 2);
    row_is(&smtp, t0, t1);
    row_is(&hook, t0, t1);

    /* a row that went missing (delivered and purged, say) comes back alone */
    exec("DELETE FROM outbox WHERE key = 'alert-42-1/12'");
    t0 = time(NULL);
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), 1);
    t1 = time(NULL);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 2);
    row_is(&hook, t0, t1);

    /* another message: two more rows */
    struct ds_outbox_msg next = MSG;
    next.message_id = "digest-5-3";
    next.subject = "[darkscope] Digest";
    next.text = "";
    next.json = "[]";
    next.attachment = "digest.json";
    next.severity = 0;
    t0 = time(NULL);
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &next, &err), 2);
    t1 = time(NULL);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 4);
    struct want_row d = {
        .key = "digest-5-3/11",
        .message_id = "digest-5-3",
        .org = 5,
        .contact = 11,
        .channel = "smtp",
        .address = "soc@city.example",
        .subject = "[darkscope] Digest",
        .text = "",
        .json = "[]",
        .attachment = "digest.json",
        .severity = 0,
    };
    row_is(&d, t0, t1);
    d.key = "digest-5-3/12";
    d.contact = 12;
    d.channel = "webhook";
    d.address = "https://tickets.city.example/hook";
    d.secret = "s3cret";
    row_is(&d, t0, t1);
    assert_int_equal(err.code, 0);
}

/* The cached form: the statement is prepared once, kept, reset after every call (also after
 * an error), and gives exactly the rows the per-call form gives. */
static void test_enqueue_cached(void **st)
{
    (void)st;
    char channels[] = "smtp,webhook";
    struct ds_org org = city(channels);
    struct ds_err err = {0};
    sqlite3_stmt *cache = NULL;
    time_t t0 = time(NULL);
    assert_int_equal(ds_outbox_enqueue_st(F.db, &cache, &org, &MSG, &err), 2);
    time_t t1 = time(NULL);
    assert_non_null(cache);
    sqlite3_stmt *first = cache;
    struct want_row smtp = MSG_SMTP_ROW;
    row_is(&smtp, t0, t1);
    /* reset after the call: not busy, no binding left behind */
    assert_int_equal(sqlite3_stmt_busy(cache), 0);
    char *sql = sqlite3_expanded_sql(cache);
    assert_non_null(strstr(sql, "VALUES(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
                                " NULL, NULL, NULL, NULL)"));
    sqlite3_free(sql);

    /* again: nothing new, the same statement */
    assert_int_equal(ds_outbox_enqueue_st(F.db, &cache, &org, &MSG, &err), 0);
    assert_ptr_equal(cache, first);

    /* an error in the middle (a contact without address) leaves the statement usable */
    struct ds_contact bad[2] = {org.contacts[0], org.contacts[1]};
    bad[1].address = NULL;
    struct ds_org broken = org;
    broken.contacts = bad;
    broken.n_contacts = 2;
    struct ds_outbox_msg other = MSG;
    other.message_id = "alert-43-1";
    assert_int_equal(ds_outbox_enqueue_st(F.db, &cache, &broken, &other, &err), -EINVAL);
    assert_int_equal(sqlite3_stmt_busy(cache), 0);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE message_id = 'alert-43-1'"), 1);
    memset(&err, 0, sizeof err);
    assert_int_equal(ds_outbox_enqueue_st(F.db, &cache, &org, &other, &err), 1);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 4);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE message_id = 'alert-43-1'"), 2);
    assert_ptr_equal(cache, first);
    sqlite3_finalize(cache);
    assert_int_equal(err.code, 0);
}

static void test_enqueue_channels(void **st)
{
    (void)st;
    struct ds_err err = {0};

    /* no contacts at all */
    struct ds_org none = {.id = 6, .name = org_name, .channels = ch_smtp};
    assert_int_equal(ds_outbox_enqueue(F.db, &none, &MSG, &err), 0);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 0);

    /* contacts, but no channel (NULL or empty) or one no contact has */
    struct ds_org org = city(NULL);
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), 0);
    char empty[] = "";
    org = city(empty);
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), 0);
    char file[] = "file";
    org = city(file);
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), 0);
    char web[] = "web";
    org = city(web);
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), 0);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 0);

    /* only syslog: its row, without a secret */
    char syslog[] = "syslog";
    org = city(syslog);
    time_t t0 = time(NULL);
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), 1);
    time_t t1 = time(NULL);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 1);
    struct want_row w = {
        .key = "alert-42-1/13",
        .message_id = "alert-42-1",
        .org = 5,
        .contact = 13,
        .channel = "syslog",
        .address = "udp://192.0.2.9:514",
        .subject = MSG.subject,
        .text = MSG.text,
        .json = MSG.json,
        .attachment = MSG.attachment,
        .severity = 2,
    };
    row_is(&w, t0, t1);

    /* every channel: the two others join it */
    char all[] = "webhook,syslog,smtp";
    org = city(all);
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), 2);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 3);
    assert_int_equal(qi("SELECT count(*) FROM outbox WHERE key IN ('alert-42-1/11',"
                        " 'alert-42-1/12', 'alert-42-1/13')"),
                     3);

    /* a message id that extends another one is another message */
    struct ds_outbox_msg other = MSG;
    other.message_id = "alert-42-10";
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &other, &err), 3);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 6);
    assert_int_equal(err.code, 0);
}

/* An organisation as the registry loads it from the store. */
static void test_enqueue_registry(void **st)
{
    (void)st;
    const char *live[] = {"192.0.2.0/24"};
    const char *emails[] = {"soc@city.example"};
    const char *hooks[] = {"https://tickets.city.example/hook"};
    const char *secrets[] = {"s3cret"};
    const char *syslogs[] = {"udp://192.0.2.9:514"};
    struct ds_org_spec spec = {
        .name = "Example City",
        .channels = "smtp,webhook",
        .livenet = live,
        .n_livenet = 1,
        .emails = emails,
        .n_emails = 1,
        .webhooks = hooks,
        .webhook_secrets = secrets,
        .n_webhooks = 1,
        .syslogs = syslogs,
        .n_syslogs = 1,
    };
    struct ds_err err = {0};
    int64_t id = 0;
    if (ds_registry_add_org(F.s, &spec, "test", &id, &err) < 0)
        fail_msg("ds_registry_add_org: %s", err.msg);
    /* the defaults: every channel */
    const char *live2[] = {"198.51.100.0/24"};
    const char *emails2[] = {"noc@isp.example"};
    spec = (struct ds_org_spec){.name = "Example ISP",
                                .livenet = live2,
                                .n_livenet = 1,
                                .emails = emails2,
                                .n_emails = 1,
                                .syslogs = syslogs,
                                .n_syslogs = 1};
    int64_t id2 = 0;
    if (ds_registry_add_org(F.s, &spec, "test", &id2, &err) < 0)
        fail_msg("ds_registry_add_org: %s", err.msg);
    struct ds_registry *r = NULL;
    if (ds_registry_load(F.s, &r, &err) < 0)
        fail_msg("ds_registry_load: %s", err.msg);
    const struct ds_org *org = ds_registry_find(r, id);
    assert_non_null(org);
    assert_int_equal(org->n_contacts, 3);

    int64_t smtp_id = qi("SELECT id FROM org_contact WHERE channel = 'smtp' AND address ="
                         " 'soc@city.example'");
    int64_t hook_id = qi("SELECT id FROM org_contact WHERE channel = 'webhook'");
    time_t t0 = time(NULL);
    assert_int_equal(ds_outbox_enqueue(F.db, org, &MSG, &err), 2);
    time_t t1 = time(NULL);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 2);
    char key[64];
    snprintf(key, sizeof key, "alert-42-1/%" PRId64, smtp_id);
    struct want_row w = {
        .key = key,
        .message_id = "alert-42-1",
        .org = id,
        .contact = smtp_id,
        .channel = "smtp",
        .address = "soc@city.example",
        .subject = MSG.subject,
        .text = MSG.text,
        .json = MSG.json,
        .attachment = MSG.attachment,
        .severity = 2,
    };
    row_is(&w, t0, t1);
    char key2[64];
    snprintf(key2, sizeof key2, "alert-42-1/%" PRId64, hook_id);
    w.key = key2;
    w.contact = hook_id;
    w.channel = "webhook";
    w.address = "https://tickets.city.example/hook";
    w.secret = "s3cret";
    row_is(&w, t0, t1);
    assert_int_equal(ds_outbox_enqueue(F.db, org, &MSG, &err), 0);

    /* the organisation registered without channels uses every channel it has a contact of */
    const struct ds_org *isp = ds_registry_find(r, id2);
    assert_non_null(isp);
    assert_int_equal(ds_outbox_enqueue(F.db, isp, &MSG, &err), 2);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM outbox WHERE org = %" PRId64, id2);
    assert_int_equal(qi(sql), 2);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 4);
    ds_registry_free(r);
}

static void test_enqueue_failures(void **st)
{
    (void)st;
    char channels[] = "smtp,webhook";
    struct ds_org org = city(channels);
    struct ds_err err = {0};

    /* a read-only store */
    struct ds_store *ro = NULL;
    if (ds_store_open(&ro, F.path, true, &err) < 0)
        fail_msg("read-only open: %s", err.msg);
    int rc = ds_outbox_enqueue(ds_store_db(ro), &org, &MSG, &err);
    assert_int_equal(rc, -EIO);
    assert_int_equal(err.code, -EIO);
    assert_string_equal(
        err.msg, "queueing a delivery to Example City: attempt to write a readonly database");
    ds_store_close(ro);
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 0);

    /* the second contact fails after the first was queued: the error names the
     * organisation, and the caller's transaction rolls both back */
    memset(&err, 0, sizeof err);
    exec("CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN NEW.contact = 12"
         " BEGIN SELECT RAISE(ABORT, 'contact 12 refused'); END");
    exec("BEGIN");
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), -EIO);
    assert_int_equal(err.code, -EIO);
    assert_string_equal(err.msg, "queueing a delivery to Example City: contact 12 refused");
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 1);
    assert_int_equal(qi("SELECT contact FROM outbox"), 11);
    exec("ROLLBACK");
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 0);
    exec("DROP TRIGGER refuse");

    /* a full database: -ENOSPC */
    memset(&err, 0, sizeof err);
    exec("PRAGMA max_page_count = 1"); /* clamps to the current size */
    size_t big_len = 4 << 20;
    char *big = malloc(big_len + 1);
    assert_non_null(big);
    memset(big, 'x', big_len);
    big[big_len] = '\0';
    struct ds_outbox_msg huge = MSG;
    huge.text = big;
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &huge, &err), -ENOSPC);
    assert_int_equal(err.code, -ENOSPC);
    assert_string_equal(err.msg, "queueing a delivery to Example City: database or disk is full");
    free(big);
    exec("PRAGMA max_page_count = 1073741823");
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 0);

    /* a message with a part missing, a contact without address, a message id too long for
     * the row key: refused before anything is written (INSERT OR IGNORE would skip such a
     * row silently, as if it were queued already) */
    memset(&err, 0, sizeof err);
    struct ds_outbox_msg part = MSG;
    part.json = NULL;
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &part, &err), -EINVAL);
    assert_string_equal(err.msg,
                        "queueing a delivery to Example City: a part of the message is missing");
    memset(&err, 0, sizeof err);
    char longid[300];
    memset(longid, 'm', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    struct ds_outbox_msg lng = MSG;
    lng.message_id = longid;
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &lng, &err), -EINVAL);
    assert_string_equal(err.msg, "queueing a delivery to Example City: message id "
                                 "'mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm...' is too long");
    memset(&err, 0, sizeof err);
    struct ds_org noaddr = org;
    struct ds_contact c0 = org.contacts[0];
    c0.address = NULL;
    noaddr.contacts = &c0;
    noaddr.n_contacts = 1;
    assert_int_equal(ds_outbox_enqueue(F.db, &noaddr, &MSG, &err), -EINVAL);
    assert_string_equal(
        err.msg, "queueing a delivery to Example City: contact 11 has no channel or address");
    assert_int_equal(qi("SELECT count(*) FROM outbox"), 0);

    /* no outbox table: the statement does not prepare */
    memset(&err, 0, sizeof err);
    exec("DROP TABLE outbox");
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, &err), -EIO);
    assert_int_equal(err.code, -EIO);
    assert_string_equal(err.msg, "queueing a delivery to Example City: no such table: outbox");
    /* a NULL err is allowed */
    assert_int_equal(ds_outbox_enqueue(F.db, &org, &MSG, NULL), -EIO);
}

/* ---- core/sbuf ---- */

static void test_sbuf_add_puts(void **st)
{
    (void)st;
    struct ds_sbuf b = {0};
    ds_sbuf_puts(&b, "abc");
    assert_non_null(b.p);
    assert_string_equal(b.p, "abc");
    assert_int_equal(b.len, 3);
    assert_true(b.cap > b.len);
    assert_false(b.oom);
    ds_sbuf_add(&b, "defgh", 2); /* only n bytes */
    assert_string_equal(b.p, "abcde");
    assert_int_equal(b.len, 5);
    ds_sbuf_add(&b, "zzz", 0);
    ds_sbuf_puts(&b, "");
    assert_string_equal(b.p, "abcde");
    assert_int_equal(b.len, 5);
    ds_sbuf_add(&b, "x\0y", 3); /* bytes, NUL included */
    assert_int_equal(b.len, 8);
    assert_memory_equal(b.p, "abcdex\0y", 9);

    /* growing well past the first allocation keeps every byte */
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, 'q', 4999);
    big[4999] = '\0';
    ds_sbuf_puts(&b, big);
    ds_sbuf_add(&b, big, 1000);
    assert_int_equal(b.len, 8 + 4999 + 1000);
    assert_true(b.cap > b.len);
    assert_memory_equal(b.p, "abcdex\0y", 8);
    for (size_t i = 8; i < b.len; i++)
        if (b.p[i] != 'q')
            fail_msg("byte %zu is %d", i, b.p[i]);
    assert_int_equal(b.p[b.len], '\0');
    free(big);

    char *out = NULL;
    struct ds_err err = {0};
    char *p = b.p;
    assert_int_equal(ds_sbuf_finish(&b, &out, "sbuf test", &err), 0);
    assert_ptr_equal(out, p); /* handed over, not copied */
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_false(b.oom);
    free(out);
}

static void test_sbuf_printf(void **st)
{
    (void)st;
    struct ds_sbuf b = {0};
    ds_sbuf_printf(&b, "%d-%s-%05.1f", 42, "x", 2.5);
    assert_string_equal(b.p, "42-x-002.5");
    ds_sbuf_printf(&b, "|%c|", 'z');
    assert_string_equal(b.p, "42-x-002.5|z|");
    assert_int_equal(b.len, 13);

    /* at the 512-byte scratch buffer's edge: 511 fits it, 512 takes the long path */
    char *s = malloc(2001);
    assert_non_null(s);
    for (size_t len = 510; len <= 513; len++) {
        struct ds_sbuf e = {0};
        memset(s, 'a', len);
        s[len] = '\0';
        ds_sbuf_printf(&e, "%s", s);
        assert_int_equal(e.len, len);
        assert_string_equal(e.p, s);
        free(e.p);
    }

    /* longer than 512, after existing text, with arguments on both sides */
    memset(s, 'b', 2000);
    s[2000] = '\0';
    ds_sbuf_printf(&b, "<%s|%d|%s>", s, 7, "end");
    assert_int_equal(b.len, 13 + 1 + 2000 + 3 + 3 + 1);
    assert_true(strncmp(b.p, "42-x-002.5|z|<", 14) == 0);
    assert_memory_equal(b.p + 14, s, 2000);
    assert_string_equal(b.p + 2014, "|7|end>");
    free(s);

    char *out = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_sbuf_finish(&b, &out, "sbuf test", &err), 0);
    assert_int_equal(strlen(out), 2021);
    free(out);

    /* the buffer is reusable after finish */
    ds_sbuf_printf(&b, "%s", "again");
    assert_int_equal(ds_sbuf_finish(&b, &out, "sbuf test", &err), 0);
    assert_string_equal(out, "again");
    free(out);
}

static void test_sbuf_finish(void **st)
{
    (void)st;
    struct ds_sbuf b = {0};
    char *out = NULL;
    struct ds_err err = {0};

    /* nothing added: "" */
    assert_int_equal(ds_sbuf_finish(&b, &out, "empty", &err), 0);
    assert_non_null(out);
    assert_string_equal(out, "");
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(out);

    /* only empty adds: "" too */
    ds_sbuf_puts(&b, "");
    assert_int_equal(ds_sbuf_finish(&b, &out, "empty", NULL), 0);
    assert_string_equal(out, "");
    free(out);

    /* out of memory sticks: later adds do nothing and finish frees and reports it */
    ds_sbuf_puts(&b, "kept so far");
    b.oom = true;
    ds_sbuf_puts(&b, "more");
    ds_sbuf_printf(&b, "%d", 5);
    assert_int_equal(b.len, 11);
    assert_string_equal(b.p, "kept so far");
    out = (char *)"x";
    assert_int_equal(ds_sbuf_finish(&b, &out, "the digest text", &err), -ENOMEM);
    assert_null(out);
    assert_int_equal(err.code, -ENOMEM);
    assert_string_equal(err.msg, "the digest text: out of memory");
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_false(b.oom);

    /* an oom buffer that never allocated; a NULL err */
    b.oom = true;
    out = (char *)"x";
    assert_int_equal(ds_sbuf_finish(&b, &out, "x", NULL), -ENOMEM);
    assert_null(out);
    assert_false(b.oom);

    /* a format that cannot be produced (a wide character the C locale cannot encode) poisons
     * the buffer like out of memory */
    ds_sbuf_puts(&b, "before");
    ds_sbuf_printf(&b, "%ls", L"\u00e9");
    assert_true(b.oom);
    memset(&err, 0, sizeof err);
    out = (char *)"x";
    assert_int_equal(ds_sbuf_finish(&b, &out, "wide", &err), -ENOMEM);
    assert_null(out);
    assert_string_equal(err.msg, "wide: out of memory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uses_channel),
        cmocka_unit_test_setup_teardown(test_enqueue_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_channels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_failures, setup, teardown),
        cmocka_unit_test(test_sbuf_add_puts),
        cmocka_unit_test(test_sbuf_printf),
        cmocka_unit_test(test_sbuf_finish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
