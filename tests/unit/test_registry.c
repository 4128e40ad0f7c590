/* test_registry.c - the DAEDALUS registry: organisations with livenet/darknet ranges and
 * contacts in the store, the exact errors (codes and messages naming the bad value), the
 * audit row of every change, the registry version, and the read-only snapshot's lookups
 * (longest-prefix match over nested ranges of two organisations, IPv4 and IPv6). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "alert/registry.h"
#include "store/store.h"

/* ------------------------------------------------------------------ fixtures ------------ */

static char dir[256];

static int group_setup(void **st)
{
    (void)st;
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ds-test-registry-XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

struct fx {
    struct ds_store *s;
    char path[300];
};

static int setup(void **st)
{
    static unsigned seq;
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/reg-%u.db", dir, seq++);
    struct ds_err err = {0};
    if (ds_store_open(&f->s, f->path, false, &err) < 0) {
        print_error("%s\n", err.msg);
        free(f);
        return -1;
    }
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    ds_store_close(f->s);
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[320];
        snprintf(p, sizeof p, "%s%s", f->path, suffix[i]);
        unlink(p);
    }
    free(f);
    return 0;
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static struct ds_addr A(const char *text) {
    struct ds_addr a;
    assert_int_equal(ds_addr_parse(&a, text, NULL), 0);
    return a;
}

/* One integer from a query (with one optional text parameter). */
static int64_t
q_int(struct ds_store *s, const char *sql, const char *param)
{
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ds_store_db(s), sql, -1, &q, NULL), SQLITE_OK);
    if (param)
        sqlite3_bind_text(q, 1, param, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Rows of a query as one string: columns joined by '|', rows by ';'. */
static void q_text(struct ds_store *s, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ds_store_db(s), sql, -1, &q, NULL), SQLITE_OK);
    size_t n = 0;
    out[0] = '\0';
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(q); c++) {
            const unsigned char *t = sqlite3_column_text(q, c);
            n += (size_t)snprintf(out + n, cap - n, "%s%s", c ? "|" : (n ? ";" : ""),
                                  t ? (const char *)t : "NULL");
            assert_true(n < cap);
        }
    }
    assert_int_equal(r, SQLITE_DONE);
    sqlite3_finalize(q);
}

static int64_t audit_rows(struct ds_store *s)
{
    return q_int(s, "SELECT count(*) FROM audit", NULL);
}

/* The audit row with this id: who, what, object and detail exactly; `at` is an ISO-8601 UTC
 * time stamp. */
static void check_audit(struct ds_store *s, int64_t id, const char *who, const char *what,
                        const char *object, const char *detail)
{
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(ds_store_db(s),
                                        "SELECT at, who, what, object, detail FROM audit"
                                        " WHERE id = ?",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(q, 1, id);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    const char *at = (const char *)sqlite3_column_text(q, 0);
    assert_non_null(at);
    assert_int_equal(strlen(at), 20); /* 2024-01-01T00:00:00Z */
    assert_true(at[4] == '-' && at[7] == '-' && at[10] == 'T' && at[13] == ':' && at[16] == ':' &&
                at[19] == 'Z');
    assert_true(at[0] == '2'); /* this century */
    assert_string_equal((const char *)sqlite3_column_text(q, 1), who);
    assert_string_equal((const char *)sqlite3_column_text(q, 2), what);
    assert_string_equal((const char *)sqlite3_column_text(q, 3), object);
    assert_string_equal((const char *)sqlite3_column_text(q, 4), detail);
    sqlite3_finalize(q);
}

static int64_t version(struct ds_store *s)
{
    int64_t v = -1;
    struct ds_err err = {0};
    assert_int_equal(ds_registry_version(s, &v, &err), 0);
    return v;
}

/* Adds an organisation with only livenet ranges (and optional darknet); must succeed. */
static int64_t add_simple(struct ds_store *s, const char *name, const char *const *live,
                          size_t n_live, const char *const *dark, size_t n_dark, bool allow_overlap)
{
    struct ds_org_spec sp = {.name = name,
                             .livenet = live,
                             .n_livenet = n_live,
                             .darknet = dark,
                             .n_darknet = n_dark,
                             .allow_overlap = allow_overlap};
    struct ds_err err = {0};
    int64_t id = -1;
    int rc = ds_registry_add_org(s, &sp, "tester", &id, &err);
    if (rc != 0)
        fail_msg("adding '%s': %d %s", name, rc, err.msg);
    assert_true(id > 0);
    return id;
}

/* Expects ds_registry_add_org to fail with code and message, leaving the store unchanged. */
static void add_fails(struct ds_store *s, const struct ds_org_spec *sp, int code, const char *msg)
{
    int64_t orgs = q_int(s, "SELECT count(*) FROM org", NULL);
    int64_t ranges = q_int(s, "SELECT count(*) FROM org_range", NULL);
    int64_t contacts = q_int(s, "SELECT count(*) FROM org_contact", NULL);
    int64_t v = version(s);
    struct ds_err err = {0};
    int64_t id = 0;
    assert_int_equal(ds_registry_add_org(s, sp, "tester", &id, &err), code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
    /* without a message buffer the same code comes back */
    assert_int_equal(ds_registry_add_org(s, sp, "tester", &id, NULL), code);
    assert_int_equal(q_int(s, "SELECT count(*) FROM org", NULL), orgs);
    assert_int_equal(q_int(s, "SELECT count(*) FROM org_range", NULL), ranges);
    assert_int_equal(q_int(s, "SELECT count(*) FROM org_contact", NULL), contacts);
    assert_int_equal(version(s), v);
}

static struct ds_registry *load(struct ds_store *s)
{
    struct ds_registry *r = NULL;
    struct ds_err err = {0};
    int rc = ds_registry_load(s, &r, &err);
    if (rc != 0)
        fail_msg("load: %d %s", rc, err.msg);
    assert_non_null(r);
    return r;
}

static void prefix_is(const struct ds_prefix *p, const char *text)
{
    char b[DS_PREFIX_STRLEN];
    assert_string_equal(ds_prefix_format(p, b), text);
}

/* ------------------------------------------------------------------ adding -------------- */

static void test_add_org_full(void **st)
{
    struct fx *f = *st;
    assert_int_equal(version(f->s), 0);
    const char *live[] = {"198.51.100.0/24", "2001:db8:100::/48", "192.0.2.7"};
    const char *dark[] = {"203.0.113.0/25", "2001:db8:ffff::/64"};
    const char *emails[] = {"soc@example.org", "noc@example.org"};
    const char *hooks[] = {"https://hooks.example.org/ds", "http://10.1.2.3:8080/alert"};
    const char *secrets[] = {"s3cret-key", NULL};
    const char *syslogs[] = {"udp://192.0.2.5:514", "tcp://[2001:db8::5]:6514"};
    const char *files[] = {"/var/log/darkscope/alerts.jsonl"};
    struct ds_org_spec sp = {.name = "City of Example",
                             .lang = "ja",
                             .channels = "smtp,webhook",
                             .livenet = live,
                             .n_livenet = 3,
                             .darknet = dark,
                             .n_darknet = 2,
                             .emails = emails,
                             .n_emails = 2,
                             .webhooks = hooks,
                             .webhook_secrets = secrets,
                             .n_webhooks = 2,
                             .syslogs = syslogs,
                             .n_syslogs = 2,
                             .files = files,
                             .n_files = 1,
                             .renotify_s = 604800,
                             .group_wait_s = 30,
                             .group_interval_s = 300,
                             .repeat_interval_s = 14400};
    struct ds_err err = {0};
    int64_t id = 0;
    assert_int_equal(ds_registry_add_org(f->s, &sp, "alice", &id, &err), 0);
    assert_int_equal(id, 1);

    char buf[2048];
    q_text(f->s,
           "SELECT id, name, lang, channels, renotify_s, group_wait_s, group_interval_s,"
           " repeat_interval_s FROM org",
           buf, sizeof buf);
    assert_string_equal(buf, "1|City of Example|ja|smtp,webhook|604800|30|300|14400");
    /* ranges are stored in canonical form; a bare address is a host prefix */
    q_text(f->s, "SELECT org, kind, prefix FROM org_range ORDER BY kind, prefix", buf, sizeof buf);
    assert_string_equal(buf, "1|darknet|2001:db8:ffff::/64;1|darknet|203.0.113.0/25;"
                             "1|livenet|192.0.2.7/32;1|livenet|198.51.100.0/24;"
                             "1|livenet|2001:db8:100::/48");
    q_text(f->s, "SELECT id, org, channel, address, secret FROM org_contact ORDER BY id", buf,
           sizeof buf);
    assert_string_equal(buf, "1|1|smtp|soc@example.org|NULL;2|1|smtp|noc@example.org|NULL;"
                             "3|1|webhook|https://hooks.example.org/ds|s3cret-key;"
                             "4|1|webhook|http://10.1.2.3:8080/alert|NULL;"
                             "5|1|syslog|udp://192.0.2.5:514|NULL;"
                             "6|1|syslog|tcp://[2001:db8::5]:6514|NULL;"
                             "7|1|file|/var/log/darkscope/alerts.jsonl|NULL");

    /* one audit row; the webhook secret is not in it */
    assert_int_equal(audit_rows(f->s), 1);
    check_audit(f->s, 1, "alice", "org add", "City of Example",
                "{\"analysts\":false,\"darknet\":[\"203.0.113.0/25\",\"2001:db8:ffff::/64\"],"
                "\"emails\":[\"soc@example.org\",\"noc@example.org\"],"
                "\"files\":[\"/var/log/darkscope/alerts.jsonl\"],\"lang\":\"ja\","
                "\"livenet\":[\"198.51.100.0/24\",\"2001:db8:100::/48\",\"192.0.2.7\"],"
                "\"syslogs\":[\"udp://192.0.2.5:514\",\"tcp://[2001:db8::5]:6514\"],"
                "\"webhooks\":[\"https://hooks.example.org/ds\","
                "\"http://10.1.2.3:8080/alert\"]}");
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM audit WHERE detail LIKE '%s3cret%'", NULL),
                     0);
    assert_int_equal(version(f->s), 1);

    /* the snapshot holds exactly this */
    struct ds_registry *r = load(f->s);
    assert_int_equal(r->n_orgs, 1);
    assert_int_equal(r->n_ranges, 5);
    const struct ds_org *o = &r->orgs[0];
    assert_int_equal(o->id, 1);
    assert_string_equal(o->name, "City of Example");
    assert_string_equal(o->lang, "ja");
    assert_string_equal(o->channels, "smtp,webhook");
    assert_int_equal(o->renotify_s, 604800);
    assert_int_equal(o->group_wait_s, 30);
    assert_int_equal(o->group_interval_s, 300);
    assert_int_equal(o->repeat_interval_s, 14400);
    assert_int_equal(o->n_livenet, 3);
    /* stored order: the range table's key order (org, kind, prefix text) */
    prefix_is(&o->livenet[0], "192.0.2.7/32");
    prefix_is(&o->livenet[1], "198.51.100.0/24");
    prefix_is(&o->livenet[2], "2001:db8:100::/48");
    assert_int_equal(o->livenet[1].len, 96 + 24);
    assert_int_equal(o->livenet[2].len, 48);
    assert_int_equal(o->n_darknet, 2);
    prefix_is(&o->darknet[0], "2001:db8:ffff::/64");
    prefix_is(&o->darknet[1], "203.0.113.0/25");
    assert_int_equal(o->n_contacts, 7);
    static const char *const ch[] = {"smtp",   "smtp",   "webhook", "webhook",
                                     "syslog", "syslog", "file"};
    static const char *const ad[] = {"soc@example.org",
                                     "noc@example.org",
                                     "https://hooks.example.org/ds",
                                     "http://10.1.2.3:8080/alert",
                                     "udp://192.0.2.5:514",
                                     "tcp://[2001:db8::5]:6514",
                                     "/var/log/darkscope/alerts.jsonl"};
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(o->contacts[i].id, (int64_t)i + 1);
        assert_string_equal(o->contacts[i].channel, ch[i]);
        assert_string_equal(o->contacts[i].address, ad[i]);
        if (i == 2)
            assert_string_equal(o->contacts[i].secret, "s3cret-key");
        else
            assert_null(o->contacts[i].secret);
    }
    struct ds_addr a = A("198.51.100.200");
    assert_ptr_equal(ds_registry_livenet(r, &a), o);
    a = A("192.0.2.7");
    assert_ptr_equal(ds_registry_livenet(r, &a), o);
    a = A("192.0.2.8");
    assert_null(ds_registry_livenet(r, &a));
    a = A("2001:db8:100:ffff::1");
    assert_ptr_equal(ds_registry_livenet(r, &a), o);
    a = A("203.0.113.127");
    assert_true(ds_registry_in_darknet(r, o, &a));
    assert_null(ds_registry_livenet(r, &a)); /* a darknet is not a livenet */
    a = A("203.0.113.128");
    assert_false(ds_registry_in_darknet(r, o, &a));
    ds_registry_free(r);
}

static void test_add_org_defaults(void **st)
{
    struct fx *f = *st;
    const char *live[] = {"2001:db8:1::/48"};
    struct ds_org_spec sp = {.name = "Plain", .livenet = live, .n_livenet = 1};
    struct ds_err err = {0};
    int64_t id = 0;
    assert_int_equal(ds_registry_add_org(f->s, &sp, NULL, &id, &err), 0);
    assert_int_equal(id, 1);
    char buf[512];
    q_text(f->s,
           "SELECT lang, channels, renotify_s, group_wait_s, group_interval_s,"
           " repeat_interval_s FROM org",
           buf, sizeof buf);
    assert_string_equal(buf, "en|smtp,webhook,syslog,file|NULL|NULL|NULL|NULL");
    /* no `who`: the audit row says "unknown" */
    check_audit(f->s, 1, "unknown", "org add", "Plain",
                "{\"analysts\":false,\"darknet\":[],\"emails\":[],\"files\":[],\"lang\":\"en\","
                "\"livenet\":[\"2001:db8:1::/48\"],\"syslogs\":[],\"webhooks\":[]}");
    struct ds_registry *r = load(f->s);
    assert_int_equal(r->n_orgs, 1);
    assert_string_equal(r->orgs[0].lang, "en");
    assert_string_equal(r->orgs[0].channels, "smtp,webhook,syslog,file");
    assert_int_equal(r->orgs[0].renotify_s, 0);
    assert_int_equal(r->orgs[0].group_wait_s, 0);
    assert_int_equal(r->orgs[0].group_interval_s, 0);
    assert_int_equal(r->orgs[0].repeat_interval_s, 0);
    assert_int_equal(r->orgs[0].n_darknet, 0);
    assert_int_equal(r->orgs[0].n_contacts, 0);
    assert_null(r->orgs[0].contacts);
    struct ds_addr a = A("2001:db8:1::1");
    assert_false(ds_registry_in_darknet(r, &r->orgs[0], &a));
    ds_registry_free(r);
}

static void test_add_org_bad_ranges(void **st)
{
    struct fx *f = *st;
    static const struct {
        const char *live, *dark, *msg;
    } cases[] = {
        /* host bits set */
        {"198.51.100.1/24", NULL,
         "--livenet: '198.51.100.1/24': host bits set below /24 (did you mean 198.51.100.0/24?)"},
        {"2001:db8::1/32", NULL,
         "--livenet: '2001:db8::1/32': host bits set below /32 (did you mean 2001:db8::/32?)"},
        /* not a prefix */
        {"198.51.100.0/33", NULL, "--livenet: '198.51.100.0/33': prefix length 33 exceeds 32"},
        {"2001:db8::/129", NULL, "--livenet: '2001:db8::/129': prefix length 129 exceeds 128"},
        {"198.51.100.0/", NULL, "--livenet: '198.51.100.0/': missing prefix length after '/'"},
        {"198.51.100.0/2x", NULL, "--livenet: '198.51.100.0/2x': bad prefix length '2x'"},
        {"198.51.100.0/-8", NULL, "--livenet: '198.51.100.0/-8': bad prefix length '-8'"},
        {"198.51.100.0-198.51.100.255", NULL,
         "--livenet: '198.51.100.0-198.51.100.255' is not a CIDR prefix (bad address "
         "'198.51.100.0-198.51.100.255')"},
        /* garbage */
        {"example.org", NULL,
         "--livenet: 'example.org' is not a CIDR prefix (bad address 'example.org')"},
        {"", NULL, "--livenet: '' is not a CIDR prefix"},
        {"300.1.2.0/24", NULL,
         "--livenet: '300.1.2.0/24' is not a CIDR prefix (bad address '300.1.2.0')"},
        /* the same errors for a darknet range, after a good livenet */
        {"198.51.100.0/24", "203.0.113.64/25",
         "--darknet: '203.0.113.64/25': host bits set below /25 (did you mean 203.0.113.0/25?)"},
        {"198.51.100.0/24", "darknet",
         "--darknet: 'darknet' is not a CIDR prefix (bad address 'darknet')"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *live[] = {"192.0.2.0/24", cases[i].live};
        const char *dark[] = {cases[i].dark};
        struct ds_org_spec sp = {.name = "Bad",
                                 .livenet = live,
                                 .n_livenet = 2,
                                 .darknet = dark,
                                 .n_darknet = cases[i].dark ? 1 : 0};
        add_fails(f->s, &sp, -EINVAL, cases[i].msg);
    }
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM org", NULL), 0);
    assert_int_equal(audit_rows(f->s), 0);
    /* the rolled-back attempts used no id */
    const char *live[] = {"192.0.2.0/24"};
    assert_int_equal(add_simple(f->s, "Good", live, 1, NULL, 0, false), 1);
}

static void test_add_org_bad_contacts(void **st)
{
    struct fx *f = *st;
    const char *live[] = {"192.0.2.0/24"};
    static const struct {
        int channel; /* 0 email, 1 webhook, 2 syslog, 3 file */
        const char *address, *msg;
    } cases[] = {
        {0, "soc.example.org", "--email 'soc.example.org' is not an e-mail address"},
        {0, "@example.org", "--email '@example.org' is not an e-mail address"},
        {0, "soc@", "--email 'soc@' is not an e-mail address"},
        {0, "soc team@example.org", "--email 'soc team@example.org' is not an e-mail address"},
        {0, "a@b.org,c@d.org", "--email 'a@b.org,c@d.org' is not an e-mail address"},
        {0, "<soc@example.org>", "--email '<soc@example.org>' is not an e-mail address"},
        {0, "", "smtp contact: empty address"},
        {1, "ftp://hooks.example.org/x",
         "--webhook 'ftp://hooks.example.org/x' is not an http:// or https:// URL"},
        {1, "hooks.example.org/x",
         "--webhook 'hooks.example.org/x' is not an http:// or https:// URL"},
        {1, "", "webhook contact: empty address"},
        {2, "udp://192.0.2.5",
         "--syslog 'udp://192.0.2.5' is not udp://HOST:PORT or tcp://HOST:PORT"},
        {2, "http://192.0.2.5:514",
         "--syslog 'http://192.0.2.5:514' is not udp://HOST:PORT or tcp://HOST:PORT"},
        {2, "192.0.2.5:514", "--syslog '192.0.2.5:514' is not udp://HOST:PORT or tcp://HOST:PORT"},
        {3, "alerts.jsonl", "--file 'alerts.jsonl' must be an absolute path"},
        {3, "./alerts.jsonl", "--file './alerts.jsonl' must be an absolute path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* a good contact first: the bad one still rolls everything back */
        const char *emails[] = {"soc@example.org", cases[i].address};
        const char *addr[] = {cases[i].address};
        struct ds_org_spec sp = {
            .name = "Bad", .livenet = live, .n_livenet = 1, .emails = emails, .n_emails = 1};
        switch (cases[i].channel) {
        case 0:
            sp.n_emails = 2;
            break;
        case 1:
            sp.webhooks = addr;
            sp.n_webhooks = 1;
            break;
        case 2:
            sp.syslogs = addr;
            sp.n_syslogs = 1;
            break;
        default:
            sp.files = addr;
            sp.n_files = 1;
            break;
        }
        add_fails(f->s, &sp, -EINVAL, cases[i].msg);
    }
    assert_int_equal(audit_rows(f->s), 0);
}

static void test_add_org_bad_fields(void **st)
{
    struct fx *f = *st;
    const char *live[] = {"192.0.2.0/24"};
    struct ds_org_spec sp = {.name = "", .livenet = live, .n_livenet = 1};
    add_fails(f->s, &sp, -EINVAL, "--name: an organisation needs a name (1-200 bytes)");
    sp.name = NULL;
    add_fails(f->s, &sp, -EINVAL, "--name: an organisation needs a name (1-200 bytes)");
    char longname[202];
    memset(longname, 'x', 201);
    longname[201] = '\0';
    sp.name = longname;
    add_fails(f->s, &sp, -EINVAL, "--name: an organisation needs a name (1-200 bytes)");
    longname[200] = '\0'; /* 200 bytes is allowed */
    int64_t id = 0;
    assert_int_equal(ds_registry_add_org(f->s, &sp, "t", &id, NULL), 0);
    assert_int_equal(id, 1);
    sp.name = "No ranges";
    sp.n_livenet = 0;
    add_fails(f->s, &sp, -EINVAL, "organisation 'No ranges': give at least one --livenet range");
    sp.n_livenet = 1;
    sp.lang = "fr";
    sp.livenet = (const char *[]){"198.51.100.0/24"};
    add_fails(f->s, &sp, -EINVAL, "--lang 'fr': en or ja");
    assert_int_equal(audit_rows(f->s), 1);
}

static void test_overlap(void **st)
{
    struct fx *f = *st;
    const char *a_live[] = {"198.51.100.0/24", "2001:db8:a::/48"};
    assert_int_equal(add_simple(f->s, "Alpha", a_live, 2, NULL, 0, false), 1);
    static const struct {
        const char *live, *msg;
    } cases[] = {
        {"198.51.100.128/25", "livenet 198.51.100.128/25 overlaps 198.51.100.0/24 of "
                              "organisation 'Alpha' (give --allow-overlap if both really own it)"},
        {"198.51.0.0/16", "livenet 198.51.0.0/16 overlaps 198.51.100.0/24 of organisation "
                          "'Alpha' (give --allow-overlap if both really own it)"},
        {"198.51.100.0/24", "livenet 198.51.100.0/24 overlaps 198.51.100.0/24 of organisation "
                            "'Alpha' (give --allow-overlap if both really own it)"},
        {"198.51.100.77", "livenet 198.51.100.77 overlaps 198.51.100.0/24 of organisation "
                          "'Alpha' (give --allow-overlap if both really own it)"},
        {"2001:db8:a:1::/64", "livenet 2001:db8:a:1::/64 overlaps 2001:db8:a::/48 of "
                              "organisation 'Alpha' (give --allow-overlap if both really own it)"},
        {"2001:db8::/32", "livenet 2001:db8::/32 overlaps 2001:db8:a::/48 of organisation "
                          "'Alpha' (give --allow-overlap if both really own it)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *live[] = {"192.0.2.0/24", cases[i].live};
        struct ds_org_spec sp = {.name = "Beta", .livenet = live, .n_livenet = 2};
        add_fails(f->s, &sp, -EEXIST, cases[i].msg);
    }
    /* neighbours do not overlap; an organisation's own ranges may nest */
    const char *b_live[] = {"198.51.101.0/24", "198.51.99.0/24", "2001:db8:b::/48",
                            "2001:db8:b:1::/64"};
    const char *b_dark[] = {"198.51.100.128/25"}; /* a darknet may overlap anything */
    assert_int_equal(add_simple(f->s, "Beta", b_live, 4, b_dark, 1, false), 2);
    /* with allow_overlap the nested range is accepted */
    const char *g_live[] = {"198.51.100.128/25", "2001:db8:a:1::/64"};
    assert_int_equal(add_simple(f->s, "Gamma", g_live, 2, NULL, 0, true), 3);
    /* a later range of Beta is checked against Alpha and Gamma too */
    struct ds_err err = {0};
    assert_int_equal(
        ds_registry_range(f->s, "Beta", "livenet", "198.51.100.192/26", false, false, "t", &err),
        -EEXIST);
    assert_string_equal(err.msg, "livenet 198.51.100.192/26 overlaps 198.51.100.0/24 of "
                                 "organisation 'Alpha' (give --allow-overlap if both really own "
                                 "it)");
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "livenet", "198.51.100.128/26", false, false, "t", &err),
        -EEXIST);
    assert_string_equal(err.msg, "livenet 198.51.100.128/26 overlaps 198.51.100.128/25 of "
                                 "organisation 'Gamma' (give --allow-overlap if both really own "
                                 "it)");
    /* but not against its own */
    assert_int_equal(
        ds_registry_range(f->s, "Beta", "livenet", "198.51.101.128/25", false, false, "t", &err),
        0);
    assert_int_equal(
        ds_registry_range(f->s, "Beta", "livenet", "198.51.100.192/26", false, true, "t", &err), 0);
    /* darknet ranges are never checked for overlap */
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "darknet", "198.51.101.0/24", false, false, "t", &err), 0);
    assert_int_equal(audit_rows(f->s), 6);
}

static void test_duplicate_name(void **st)
{
    struct fx *f = *st;
    const char *live[] = {"192.0.2.0/24"};
    assert_int_equal(add_simple(f->s, "Alpha", live, 1, NULL, 0, false), 1);
    const char *other[] = {"198.51.100.0/24"};
    struct ds_org_spec sp = {.name = "Alpha", .livenet = other, .n_livenet = 1};
    add_fails(f->s, &sp, -EEXIST, "an organisation named 'Alpha' exists already");
    /* names are case-sensitive */
    sp.name = "alpha";
    int64_t id = 0;
    assert_int_equal(ds_registry_add_org(f->s, &sp, "t", &id, NULL), 0);
    assert_int_equal(id, 2);
    /* the same range twice in one organisation */
    const char *twice[] = {"203.0.113.0/24", "203.0.113.0/24"};
    sp.name = "Twice";
    sp.livenet = twice;
    sp.n_livenet = 2;
    add_fails(f->s, &sp, -EEXIST, "livenet 203.0.113.0/24 is registered already");
    const char *emails[] = {"a@example.org", "a@example.org"};
    sp.livenet = twice;
    sp.n_livenet = 1;
    sp.emails = emails;
    sp.n_emails = 2;
    add_fails(f->s, &sp, -EEXIST, "smtp contact a@example.org is registered already");
    assert_int_equal(audit_rows(f->s), 2);
}

/* ------------------------------------------------------------------ changing ------------ */

static void test_remove_org(void **st)
{
    struct fx *f = *st;
    const char *a_live[] = {"192.0.2.0/24", "2001:db8:a::/48"};
    const char *a_dark[] = {"203.0.113.0/24"};
    const char *b_live[] = {"198.51.100.0/24"};
    const char *emails[] = {"soc@example.org"};
    const char *hooks[] = {"https://example.org/h"};
    const char *secrets[] = {"k"};
    struct ds_org_spec sp = {.name = "Alpha",
                             .livenet = a_live,
                             .n_livenet = 2,
                             .darknet = a_dark,
                             .n_darknet = 1,
                             .emails = emails,
                             .n_emails = 1,
                             .webhooks = hooks,
                             .webhook_secrets = secrets,
                             .n_webhooks = 1};
    int64_t id = 0;
    struct ds_err err = {0};
    assert_int_equal(ds_registry_add_org(f->s, &sp, "t", &id, &err), 0);
    assert_int_equal(id, 1);
    sp.name = "Beta";
    sp.livenet = b_live;
    sp.n_livenet = 1;
    sp.n_darknet = 0;
    assert_int_equal(ds_registry_add_org(f->s, &sp, "t", &id, &err), 0);
    assert_int_equal(id, 2);
    struct ds_registry *before = load(f->s);

    assert_int_equal(ds_registry_remove_org(f->s, "Alpha", "bob", &err), 0);
    assert_int_equal(audit_rows(f->s), 3);
    check_audit(f->s, 3, "bob", "org remove", "Alpha", "{\"id\":1}");
    /* ranges and contacts went with it */
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM org WHERE name = ?", "Alpha"), 0);
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM org_range WHERE org = 1", NULL), 0);
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM org_contact WHERE org = 1", NULL), 0);
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM org_range WHERE org = 2", NULL), 1);
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM org_contact WHERE org = 2", NULL), 2);

    assert_int_equal(ds_registry_remove_org(f->s, "Alpha", "bob", &err), -ENOENT);
    assert_string_equal(err.msg, "no organisation named 'Alpha'");
    assert_int_equal(ds_registry_remove_org(f->s, "Zeta", "bob", &err), -ENOENT);
    assert_string_equal(err.msg, "no organisation named 'Zeta'");
    assert_int_equal(audit_rows(f->s), 3);

    struct ds_registry *r = load(f->s);
    assert_int_equal(r->n_orgs, 1);
    assert_int_equal(r->n_ranges, 1);
    assert_int_equal(r->orgs[0].id, 2);
    assert_string_equal(r->orgs[0].name, "Beta");
    struct ds_addr a = A("192.0.2.1");
    assert_null(ds_registry_livenet(r, &a));
    assert_null(ds_registry_find(r, 1));
    assert_ptr_equal(ds_registry_find(r, 2), &r->orgs[0]);
    /* the old snapshot is a copy: unchanged */
    assert_int_equal(before->n_orgs, 2);
    assert_string_equal(ds_registry_livenet(before, &a)->name, "Alpha");
    ds_registry_free(before);
    ds_registry_free(r);

    /* the name can be registered again; ids are never reused */
    const char *live[] = {"192.0.2.0/24"};
    assert_int_equal(add_simple(f->s, "Alpha", live, 1, NULL, 0, false), 3);
}

static void test_range_add_remove(void **st)
{
    struct fx *f = *st;
    const char *live[] = {"192.0.2.0/24"};
    assert_int_equal(add_simple(f->s, "Alpha", live, 1, NULL, 0, false), 1);
    struct ds_err err = {0};
    assert_int_equal(ds_registry_range(f->s, "Alpha", "livenet", "2001:db8:100::/48", false, false,
                                       "carol", &err),
                     0);
    check_audit(f->s, 2, "carol", "range add", "Alpha",
                "{\"kind\":\"livenet\",\"prefix\":\"2001:db8:100::/48\"}");
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "darknet", "203.0.113.0/25", false, false, "carol", &err),
        0);
    check_audit(f->s, 3, "carol", "range add", "Alpha",
                "{\"kind\":\"darknet\",\"prefix\":\"203.0.113.0/25\"}");
    /* stored canonical: upper case and a long form come out the same */
    assert_int_equal(ds_registry_range(f->s, "Alpha", "darknet", "2001:DB8:FFFF:0:0::/64", false,
                                       false, "carol", &err),
                     0);
    char buf[512];
    q_text(f->s, "SELECT kind, prefix FROM org_range ORDER BY kind, prefix", buf, sizeof buf);
    assert_string_equal(buf, "darknet|2001:db8:ffff::/64;darknet|203.0.113.0/25;"
                             "livenet|192.0.2.0/24;livenet|2001:db8:100::/48");
    assert_int_equal(audit_rows(f->s), 4);

    /* errors, none of which changes anything */
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "darknet", "203.0.113.0/25", false, false, "c", &err),
        -EEXIST);
    assert_string_equal(err.msg, "darknet 203.0.113.0/25 is registered already");
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "livenet", "2001:db8:100:0::/48", false, true, "c", &err),
        -EEXIST);
    assert_string_equal(err.msg, "livenet 2001:db8:100::/48 is registered already");
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "greynet", "203.0.113.0/25", false, false, "c", &err),
        -EINVAL);
    assert_string_equal(err.msg, "range kind 'greynet': livenet or darknet");
    assert_int_equal(
        ds_registry_range(f->s, "Omega", "livenet", "198.51.100.0/24", false, false, "c", &err),
        -ENOENT);
    assert_string_equal(err.msg, "no organisation named 'Omega'");
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "livenet", "198.51.100.9/24", false, false, "c", &err),
        -EINVAL);
    assert_string_equal(err.msg, "--livenet: '198.51.100.9/24': host bits set below /24 (did you "
                                 "mean 198.51.100.0/24?)");
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "livenet", "198.51.100.9/24", false, false, "c", NULL),
        -EINVAL);
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "darknet", "garbage", false, false, "c", &err), -EINVAL);
    assert_string_equal(err.msg, "--darknet: 'garbage' is not a CIDR prefix (bad address "
                                 "'garbage')");
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "darknet", "garbage", false, false, "c", NULL), -EINVAL);
    assert_int_equal(audit_rows(f->s), 4);
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM org_range", NULL), 4);

    /* removal: the text is canonicalised before the match */
    assert_int_equal(ds_registry_range(f->s, "Alpha", "darknet", "2001:db8:ffff::/64", true, false,
                                       "dave", &err),
                     0);
    check_audit(f->s, 5, "dave", "range remove", "Alpha",
                "{\"kind\":\"darknet\",\"prefix\":\"2001:db8:ffff::/64\"}");
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "livenet", "2001:DB8:100::/48", true, false, "dave", &err),
        0);
    assert_int_equal(ds_registry_range(f->s, "Alpha", "darknet", "2001:db8:ffff::/64", true, false,
                                       "dave", &err),
                     -ENOENT);
    assert_string_equal(err.msg, "organisation 'Alpha' has no darknet 2001:db8:ffff::/64");
    /* the kind matters: 203.0.113.0/25 is a darknet, not a livenet */
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "livenet", "203.0.113.0/25", true, false, "dave", &err),
        -ENOENT);
    assert_string_equal(err.msg, "organisation 'Alpha' has no livenet 203.0.113.0/25");
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "livenet", "not/a/prefix", true, false, "dave", &err),
        -EINVAL);
    assert_string_equal(err.msg, "'not/a/prefix': bad prefix length 'a/prefix'");
    assert_int_equal(
        ds_registry_range(f->s, "Omega", "livenet", "192.0.2.0/24", true, false, "dave", &err),
        -ENOENT);
    assert_string_equal(err.msg, "no organisation named 'Omega'");
    assert_int_equal(audit_rows(f->s), 6);
    q_text(f->s, "SELECT kind, prefix FROM org_range ORDER BY kind, prefix", buf, sizeof buf);
    assert_string_equal(buf, "darknet|203.0.113.0/25;livenet|192.0.2.0/24");

    struct ds_registry *r = load(f->s);
    assert_int_equal(r->n_ranges, 2);
    assert_int_equal(r->orgs[0].n_livenet, 1);
    assert_int_equal(r->orgs[0].n_darknet, 1);
    struct ds_addr a = A("2001:db8:100::1");
    assert_null(ds_registry_livenet(r, &a));
    a = A("203.0.113.1");
    assert_true(ds_registry_in_darknet(r, &r->orgs[0], &a));
    ds_registry_free(r);
}

static void test_contact_add_remove(void **st)
{
    struct fx *f = *st;
    const char *live[] = {"192.0.2.0/24"};
    assert_int_equal(add_simple(f->s, "Alpha", live, 1, NULL, 0, false), 1);
    struct ds_err err = {0};
    assert_int_equal(ds_registry_contact(f->s, "Alpha", "webhook", "https://example.org/hook",
                                         "hmac-key-123", false, "erin", &err),
                     0);
    check_audit(f->s, 2, "erin", "contact add", "Alpha",
                "{\"address\":\"https://example.org/hook\",\"channel\":\"webhook\","
                "\"secret\":true}");
    assert_int_equal(
        ds_registry_contact(f->s, "Alpha", "smtp", "soc@example.org", NULL, false, "erin", &err),
        0);
    check_audit(f->s, 3, "erin", "contact add", "Alpha",
                "{\"address\":\"soc@example.org\",\"channel\":\"smtp\",\"secret\":false}");
    assert_int_equal(ds_registry_contact(f->s, "Alpha", "syslog", "tcp://192.0.2.9:6514", NULL,
                                         false, "erin", &err),
                     0);
    assert_int_equal(
        ds_registry_contact(f->s, "Alpha", "file", "/tmp/alpha.jsonl", NULL, false, "erin", &err),
        0);
    assert_int_equal(q_int(f->s, "SELECT count(*) FROM audit WHERE detail LIKE '%hmac-key%'", NULL),
                     0);
    char buf[512];
    q_text(f->s, "SELECT id, channel, address, secret FROM org_contact ORDER BY id", buf,
           sizeof buf);
    assert_string_equal(buf, "1|webhook|https://example.org/hook|hmac-key-123;"
                             "2|smtp|soc@example.org|NULL;3|syslog|tcp://192.0.2.9:6514|NULL;"
                             "4|file|/tmp/alpha.jsonl|NULL");

    /* errors */
    assert_int_equal(ds_registry_contact(f->s, "Alpha", "webhook", "https://example.org/hook", NULL,
                                         false, "erin", &err),
                     -EEXIST);
    assert_string_equal(err.msg, "webhook contact https://example.org/hook is registered already");
    assert_int_equal(
        ds_registry_contact(f->s, "Alpha", "pager", "555-0100", NULL, false, "erin", &err),
        -EINVAL);
    assert_string_equal(err.msg, "unknown channel 'pager' (smtp, webhook, syslog, file)");
    assert_int_equal(
        ds_registry_contact(f->s, "Alpha", "smtp", "not-an-address", NULL, false, "erin", &err),
        -EINVAL);
    assert_string_equal(err.msg, "--email 'not-an-address' is not an e-mail address");
    assert_int_equal(
        ds_registry_contact(f->s, "Alpha", "syslog", "udp://loghost", NULL, false, "erin", &err),
        -EINVAL);
    assert_string_equal(err.msg, "--syslog 'udp://loghost' is not udp://HOST:PORT or "
                                 "tcp://HOST:PORT");
    assert_int_equal(
        ds_registry_contact(f->s, "Alpha", "file", "relative.jsonl", NULL, false, "erin", &err),
        -EINVAL);
    assert_string_equal(err.msg, "--file 'relative.jsonl' must be an absolute path");
    assert_int_equal(ds_registry_contact(f->s, "Alpha", "webhook", "", NULL, false, "erin", &err),
                     -EINVAL);
    assert_string_equal(err.msg, "webhook contact: empty address");
    assert_int_equal(
        ds_registry_contact(f->s, "Omega", "smtp", "a@example.org", NULL, false, "erin", &err),
        -ENOENT);
    assert_string_equal(err.msg, "no organisation named 'Omega'");
    assert_int_equal(audit_rows(f->s), 5);

    /* removal */
    assert_int_equal(ds_registry_contact(f->s, "Alpha", "webhook", "https://example.org/hook", NULL,
                                         true, "frank", &err),
                     0);
    check_audit(f->s, 6, "frank", "contact remove", "Alpha",
                "{\"address\":\"https://example.org/hook\",\"channel\":\"webhook\","
                "\"secret\":false}");
    assert_int_equal(ds_registry_contact(f->s, "Alpha", "webhook", "https://example.org/hook", NULL,
                                         true, "frank", &err),
                     -ENOENT);
    assert_string_equal(err.msg,
                        "organisation 'Alpha' has no webhook contact https://example.org/hook");
    /* the channel matters */
    assert_int_equal(
        ds_registry_contact(f->s, "Alpha", "webhook", "soc@example.org", NULL, true, "frank", &err),
        -ENOENT);
    assert_string_equal(err.msg, "organisation 'Alpha' has no webhook contact soc@example.org");
    assert_int_equal(audit_rows(f->s), 6);

    struct ds_registry *r = load(f->s);
    const struct ds_org *o = ds_registry_find(r, 1);
    assert_non_null(o);
    assert_int_equal(o->n_contacts, 3);
    assert_int_equal(o->contacts[0].id, 2);
    assert_string_equal(o->contacts[0].channel, "smtp");
    assert_string_equal(o->contacts[0].address, "soc@example.org");
    assert_int_equal(o->contacts[1].id, 3);
    assert_string_equal(o->contacts[1].channel, "syslog");
    assert_int_equal(o->contacts[2].id, 4);
    assert_string_equal(o->contacts[2].address, "/tmp/alpha.jsonl");
    ds_registry_free(r);
}

/* Every change writes one audit row, so the version counts changes; failures write none. */
static void test_version(void **st)
{
    struct fx *f = *st;
    struct ds_err err = {0};
    assert_int_equal(version(f->s), 0);
    const char *live[] = {"192.0.2.0/24"};
    add_simple(f->s, "Alpha", live, 1, NULL, 0, false);
    assert_int_equal(version(f->s), 1);
    add_simple(f->s, "Beta", (const char *[]){"198.51.100.0/24"}, 1, NULL, 0, false);
    assert_int_equal(version(f->s), 2);
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "darknet", "203.0.113.0/24", false, false, "t", &err), 0);
    assert_int_equal(version(f->s), 3);
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "darknet", "203.0.113.0/24", false, false, "t", &err),
        -EEXIST);
    assert_int_equal(version(f->s), 3);
    assert_int_equal(
        ds_registry_contact(f->s, "Beta", "smtp", "b@example.org", NULL, false, "t", &err), 0);
    assert_int_equal(version(f->s), 4);
    assert_int_equal(
        ds_registry_contact(f->s, "Beta", "smtp", "b@example.org", NULL, true, "t", &err), 0);
    assert_int_equal(version(f->s), 5);
    assert_int_equal(
        ds_registry_range(f->s, "Alpha", "darknet", "203.0.113.0/24", true, false, "t", &err), 0);
    assert_int_equal(version(f->s), 6);
    assert_int_equal(ds_registry_remove_org(f->s, "Beta", "t", &err), 0);
    assert_int_equal(version(f->s), 7);
    assert_int_equal(ds_registry_remove_org(f->s, "Beta", "t", &err), -ENOENT);
    assert_int_equal(version(f->s), 7);
    char buf[1024];
    q_text(f->s, "SELECT id, what, object FROM audit ORDER BY id", buf, sizeof buf);
    assert_string_equal(buf, "1|org add|Alpha;2|org add|Beta;3|range add|Alpha;"
                             "4|contact add|Beta;5|contact remove|Beta;6|range remove|Alpha;"
                             "7|org remove|Beta");
    /* a second handle on the same file sees the same version (how the daemon notices) */
    struct ds_store *s2;
    assert_int_equal(ds_store_open(&s2, f->path, false, &err), 0);
    assert_int_equal(version(s2), 7);
    ds_store_close(s2);
}

/* ------------------------------------------------------------------ the snapshot -------- */

static void test_snapshot_lookup(void **st)
{
    struct fx *f = *st;
    /* Alpha holds two wide ranges, Beta nested ranges inside them (allow_overlap), Gamma a
     * range of its own and no darknet. */
    const char *a_live[] = {"198.18.0.0/15", "2001:db8::/32"};
    const char *a_dark[] = {"203.0.113.0/24", "2001:db8:dead::/48"};
    const char *b_live[] = {"198.19.5.0/24", "2001:db8:5::/48", "198.19.5.77"};
    const char *b_dark[] = {"203.0.113.64/26", "2001:db8:dead:1::/64"};
    const char *c_live[] = {"192.0.2.128/25"};
    assert_int_equal(add_simple(f->s, "Alpha", a_live, 2, a_dark, 2, false), 1);
    assert_int_equal(add_simple(f->s, "Beta", b_live, 3, b_dark, 2, true), 2);
    assert_int_equal(add_simple(f->s, "Gamma", c_live, 1, NULL, 0, false), 3);
    struct ds_registry *r = load(f->s);
    assert_int_equal(r->n_orgs, 3);
    assert_int_equal(r->n_ranges, 10);
    const struct ds_org *alpha = ds_registry_find(r, 1), *beta = ds_registry_find(r, 2),
                        *gamma = ds_registry_find(r, 3);
    assert_non_null(alpha);
    assert_non_null(beta);
    assert_non_null(gamma);
    assert_string_equal(alpha->name, "Alpha");
    assert_string_equal(beta->name, "Beta");
    assert_string_equal(gamma->name, "Gamma");
    assert_null(ds_registry_find(r, 0));
    assert_null(ds_registry_find(r, 4));
    assert_null(ds_registry_find(r, -1));
    assert_null(ds_registry_find(NULL, 1));

    static const struct {
        const char *addr;
        int org; /* 0: none */
    } live[] = {
        {"198.18.0.0", 1},
        {"198.19.255.255", 1},
        {"198.19.4.255", 1},
        {"198.19.5.0", 2},
        {"198.19.5.255", 2},
        {"198.19.6.0", 1},
        {"198.19.5.77", 2},
        {"198.17.255.255", 0},
        {"198.20.0.0", 0},
        {"192.0.2.127", 0},
        {"192.0.2.128", 3},
        {"192.0.2.255", 3},
        {"0.0.0.0", 0},
        {"255.255.255.255", 0},
        {"::ffff:198.19.5.1", 2},
        {"2001:db8::", 1},
        {"2001:db8:4:ffff::1", 1},
        {"2001:db8:5::", 2},
        {"2001:db8:5:ffff:ffff:ffff:ffff:ffff", 2},
        {"2001:db8:6::", 1},
        {"2001:db8:ffff::1", 1},
        {"2001:db9::", 0},
        {"2001:db7:ffff::1", 0},
        {"::", 0},
        {"::c613:501", 0},  /* IPv4-compatible, not IPv4 */
        {"203.0.113.1", 0}, /* a darknet is not a livenet */
    };
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
        struct ds_addr a = A(live[i].addr);
        const struct ds_org *o = ds_registry_livenet(r, &a);
        if (live[i].org == 0) {
            if (o)
                fail_msg("%s: expected no organisation, got %s", live[i].addr, o->name);
        } else {
            if (!o)
                fail_msg("%s: expected organisation %d, got none", live[i].addr, live[i].org);
            assert_int_equal(o->id, live[i].org);
            assert_ptr_equal(o, ds_registry_find(r, live[i].org));
        }
    }
    assert_null(ds_registry_livenet(NULL, &(struct ds_addr){{0}}));

    static const struct {
        const char *addr;
        bool alpha, beta;
    } dark[] = {
        {"203.0.113.0", true, false},       {"203.0.113.63", true, false},
        {"203.0.113.64", true, true},       {"203.0.113.127", true, true},
        {"203.0.113.128", true, false},     {"203.0.113.255", true, false},
        {"203.0.112.255", false, false},    {"203.0.114.0", false, false},
        {"2001:db8:dead::1", true, false},  {"2001:db8:dead:1::9", true, true},
        {"2001:db8:dead:2::", true, false}, {"2001:db8:deae::", false, false},
        {"198.19.5.1", false, false}, /* a livenet is not a darknet */
    };
    for (size_t i = 0; i < sizeof dark / sizeof dark[0]; i++) {
        struct ds_addr a = A(dark[i].addr);
        if (ds_registry_in_darknet(r, alpha, &a) != dark[i].alpha ||
            ds_registry_in_darknet(r, beta, &a) != dark[i].beta)
            fail_msg("%s: in Alpha's darknet %d (want %d), in Beta's %d (want %d)", dark[i].addr,
                     ds_registry_in_darknet(r, alpha, &a), dark[i].alpha,
                     ds_registry_in_darknet(r, beta, &a), dark[i].beta);
        assert_false(ds_registry_in_darknet(r, gamma, &a));
    }
    struct ds_addr a = A("203.0.113.70");
    assert_false(ds_registry_in_darknet(NULL, alpha, &a));
    ds_registry_free(r);
}

/* Two organisations registering exactly the same range (allow_overlap): the lookup answers
 * the later one (ranges load in organisation order, and the prefix table lets the last added
 * of equal prefixes win), and both see the darknet as their own. */
static void test_snapshot_same_range(void **st)
{
    struct fx *f = *st;
    const char *live[] = {"192.0.2.0/24"};
    const char *dark[] = {"203.0.113.0/24"};
    add_simple(f->s, "Alpha", live, 1, dark, 1, false);
    add_simple(f->s, "Beta", live, 1, dark, 1, true);
    struct ds_registry *r = load(f->s);
    struct ds_addr a = A("192.0.2.9");
    const struct ds_org *o = ds_registry_livenet(r, &a);
    assert_non_null(o);
    assert_int_equal(o->id, 2); /* the later registration (lpm: later wins) */
    a = A("203.0.113.9");
    assert_true(ds_registry_in_darknet(r, ds_registry_find(r, 1), &a));
    assert_true(ds_registry_in_darknet(r, ds_registry_find(r, 2), &a));
    ds_registry_free(r);
}

static void test_snapshot_empty(void **st)
{
    struct fx *f = *st;
    struct ds_registry *r = load(f->s);
    assert_int_equal(r->n_orgs, 0);
    assert_int_equal(r->n_ranges, 0);
    struct ds_addr a = A("192.0.2.1");
    assert_null(ds_registry_livenet(r, &a));
    a = A("2001:db8::1");
    assert_null(ds_registry_livenet(r, &a));
    assert_null(ds_registry_find(r, 1));
    ds_registry_free(r);
    ds_registry_free(NULL);

    /* an organisation added and removed again leaves an empty snapshot too */
    const char *live[] = {"0.0.0.0/0", "::/0"};
    add_simple(f->s, "Everything", live, 2, NULL, 0, false);
    r = load(f->s);
    assert_int_equal(r->n_orgs, 1);
    a = A("192.0.2.1");
    assert_ptr_equal(ds_registry_livenet(r, &a), &r->orgs[0]);
    a = A("2001:db8::1");
    assert_ptr_equal(ds_registry_livenet(r, &a), &r->orgs[0]);
    ds_registry_free(r);
    struct ds_err err = {0};
    assert_int_equal(ds_registry_remove_org(f->s, "Everything", "t", &err), 0);
    r = load(f->s);
    assert_int_equal(r->n_orgs, 0);
    assert_int_equal(r->n_ranges, 0);
    assert_null(ds_registry_livenet(r, &a));
    ds_registry_free(r);
}

/* A damaged stored range (written behind the registry's back) fails the load, naming it. */
static void test_snapshot_bad_stored_range(void **st)
{
    struct fx *f = *st;
    const char *live[] = {"192.0.2.0/24"};
    add_simple(f->s, "Alpha", live, 1, NULL, 0, false);
    assert_int_equal(sqlite3_exec(ds_store_db(f->s),
                                  "INSERT INTO org_range VALUES(1, 'darknet', '10.0.0.1/8')", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    struct ds_registry *r = (struct ds_registry *)&r; /* must stay untouched */
    struct ds_registry *const sentinel = r;
    struct ds_err err = {0};
    assert_int_equal(ds_registry_load(f->s, &r, &err), -EINVAL);
    assert_ptr_equal(r, sentinel);
    assert_string_equal(err.msg, "registry: a stored range of organisation 1: '10.0.0.1/8': host "
                                 "bits set below /8 (did you mean 10.0.0.0/8?)");
    assert_int_equal(ds_registry_load(f->s, &r, NULL), -EINVAL);
    assert_ptr_equal(r, sentinel);
}

/* Many organisations (more than the loader's first allocation of 64). */
static void test_snapshot_many(void **st)
{
    struct fx *f = *st;
    for (int i = 0; i < 150; i++) {
        char name[32], live[32], dark[32];
        snprintf(name, sizeof name, "org-%03d", i);
        snprintf(live, sizeof live, "10.%d.0.0/16", i);
        snprintf(dark, sizeof dark, "172.16.%d.0/24", i);
        const char *l[] = {live};
        const char *d[] = {dark};
        assert_int_equal(add_simple(f->s, name, l, 1, d, 1, false), i + 1);
    }
    struct ds_registry *r = load(f->s);
    assert_int_equal(r->n_orgs, 150);
    assert_int_equal(r->n_ranges, 300);
    for (int i = 0; i < 150; i++) {
        char text[32], name[32];
        snprintf(text, sizeof text, "10.%d.200.1", i);
        snprintf(name, sizeof name, "org-%03d", i);
        struct ds_addr a = A(text);
        const struct ds_org *o = ds_registry_livenet(r, &a);
        assert_non_null(o);
        assert_int_equal(o->id, i + 1);
        assert_string_equal(o->name, name);
        snprintf(text, sizeof text, "172.16.%d.9", i);
        a = A(text);
        assert_true(ds_registry_in_darknet(r, o, &a));
        assert_false(ds_registry_in_darknet(r, ds_registry_find(r, i == 0 ? 2 : 1), &a));
    }
    struct ds_addr a = A("10.150.0.1");
    assert_null(ds_registry_livenet(r, &a));
    ds_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_add_org_full),
        TEST(test_add_org_defaults),
        TEST(test_add_org_bad_ranges),
        TEST(test_add_org_bad_contacts),
        TEST(test_add_org_bad_fields),
        TEST(test_overlap),
        TEST(test_duplicate_name),
        TEST(test_remove_org),
        TEST(test_range_add_remove),
        TEST(test_contact_add_remove),
        TEST(test_version),
        TEST(test_snapshot_lookup),
        TEST(test_snapshot_same_range),
        TEST(test_snapshot_empty),
        TEST(test_snapshot_bad_stored_range),
        TEST(test_snapshot_many),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, NULL);
    if (rmdir(dir) != 0) { /* a test left a file behind (or failed before cleaning up) */
        fprintf(stderr, "files left in %s\n", dir);
        DIR *d = opendir(dir);
        for (struct dirent *e; d && (e = readdir(d));) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlink(p);
        }
        if (d)
            closedir(d);
        rmdir(dir);
        return 1;
    }
    return failed;
}
