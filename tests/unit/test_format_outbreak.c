/* test_format_outbreak.c - outbreak-candidate alerts: JSON (version 2) and its jansson object,
 * the IntelMQ CSV, XML, the e-mail text in English and Japanese, the response template
 * outbreak.txt, the digests, and alerts out of range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "alert/format.h"
#include "alert/format_outbreak.h"

#define NS 1000000000ull
#define T0 1704067200ll /* 2024-01-01T00:00:00Z */

/* 29 spaces: "%-40s" of an 11-character address */
#define SP29 "                             "
_Static_assert(sizeof SP29 == 30, "SP29 is 29 spaces");

/* The shipped English template for base_alert(), substituted; the XML form differs only in
 * its escaped apostrophes. */
#define EN_RESP_HEAD                                                                               \
    "WHAT THIS MEANS\n"                                                                            \
    "\n"                                                                                           \
    "The darknet sensor saw TCP port 2323 rise sharply: 480 sources in the\n"                      \
    "5-minute interval from 2024-01-01T02:00:00Z to 2024-01-01T02:05:00Z (UTC), where\n"           \
    "about 12.0 were expected (40.0 times the usual level). This is an\n"                          \
    "incident candidate (tcp/2323): a change point of the series, not yet a\n"                     \
    "confirmed outbreak.\n"                                                                        \
    "\n"                                                                                           \
    "Typical causes: a new worm or botnet campaign on a port that was quiet (as\n"                 \
    "23/TCP and 2323/TCP were for Mirai), the growth of an existing botnet, a\n"                   \
    "newly published vulnerability being scanned for, a large research scan, or,\n"                \
    "for backscatter, a DoS attack somewhere on the Internet.\n"                                   \
    "\n"                                                                                           \
    "WHAT TO DO\n"                                                                                 \
    "\n"                                                                                           \
    "1. Look at the hosts driving it (above, or `darkscope report outbreaks` and\n"
#define EN_RESP_MID                                                                                \
    "   they known research scanners, one network, or many unrelated networks?\n"                  \
    "2. For a port: check recent vulnerability advisories and exploit releases\n"                  \
    "   for services on that port, and look at the payloads in the archive.\n"                     \
    "3. For a fingerprint or a family: compare with the previous days; a sudden\n"                 \
    "   growth of Mirai-fingerprinted hosts often follows a new exploit.\n"
#define EN_RESP_TAIL                                                                               \
    "   alerts tell them; consider an advisory to all organisations.\n"                            \
    "5. Acknowledge, assign or resolve this alert in the workbench so the team\n"                  \
    "   knows who follows it up. It closes by itself when the series is quiet."

#define EN_RESPONSE                                                                                \
    EN_RESP_HEAD                                                                                   \
    "   the workbench's Incidents view once the day's profiles are stored): are\n" EN_RESP_MID     \
    "4. If registered organisations' addresses are among the hosts, their own\n" EN_RESP_TAIL

#define EN_RESPONSE_XML                                                                            \
    EN_RESP_HEAD "   the workbench&apos;s Incidents view once the day&apos;s profiles are "        \
                 "stored): are\n" EN_RESP_MID                                                      \
                 "4. If registered organisations&apos; addresses are among the hosts, their "      \
                 "own\n" EN_RESP_TAIL

/* The shipped Japanese template for base_alert() with lang "ja". */
#define JA_RESPONSE                                                                                                        \
    "■ この通知の意味\n"                                                                                          \
    "\n"                                                                                                                   \
    "ダークネットのセンサーで TCP 2323 番ポート の急増を観測しました。\n"                       \
    "2024-01-01T02:00:00Z から 2024-01-01T02:05:00Z まで（UTC、5 分間）に\n"                                     \
    "480 （送信元）を観測し、平常値の約 12.0 の\n"                                                         \
    "40.0 倍に当たります。これはインシデント候補（tcp/2323）であり、\n"                           \
    "系列の変化点として検出されたもので、アウトブレイクと確定したものでは\n"             \
    "ありません。\n"                                                                                                 \
    "\n"                                                                                                                   \
    "主な原因: それまで静かだったポートでの新しいワームやボットネットの活動\n"           \
    "（Mirai における 23/TCP や 2323/TCP のように）、既存のボットネットの拡大、\n"                \
    "新たに公表された脆弱性を狙うスキャン、大規模な研究目的のスキャン、\n"                \
    "バックスキャッタの場合はインターネット上のどこかで起きている DoS 攻撃。\n"           \
    "\n"                                                                                                                   \
    "■ 対応のお願い\n"                                                                                             \
    "\n"                                                                                                                   \
    "1. 主な送信元ホスト（上記、または当日のプロファイルが保存された後の\n"                \
    "   `darkscope report outbreaks` やワークベンチのインシデント画面）を確認し、\n"                 \
    "   既知の研究用スキャナか、特定のネットワークか、多数の無関係な\n"                      \
    "   ネットワークかを見極めてください。\n"                                                             \
    "2. ポートの場合は、そのポートのサービスに関する最近の脆弱性情報や\n"                   \
    "   エクスプロイトの公開状況を確認し、アーカイブのペイロードを調べてください。\n" \
    "3. フィンガープリントの場合は前日までと比較してください。Mirai の\n"                      \
    "   フィンガープリントを持つホストの急増は新しいエクスプロイトに続くことが\n"       \
    "   よくあります。\n"                                                                                           \
    "4. 登録組織のアドレスが含まれる場合は各組織に個別のアラートが届きます。\n"          \
    "   全組織への注意喚起もご検討ください。\n"                                                          \
    "5. ワークベンチでこのアラートの確認・担当者の割り当て・解決を行い、\n"                \
    "   誰が対応しているかをチームで共有してください。系列が平常に戻れば\n"                \
    "   アラートは自動的に終了します。"

#define CSV_HEADER                                                                                 \
    "time.source,classification.taxonomy,classification.type,classification.identifier,"           \
    "protocol.transport,destination.port,event_description.text,extra.value,extra.measure,"        \
    "extra.baseline,extra.ratio,extra.score,extra.state,extra.severity,extra.alert_id,"            \
    "extra.top_hosts,feed.name,extra.organisation\r\n"

#define CSV_ROW_BASE                                                                               \
    "2024-01-01T02:00:00Z,other,undetermined,outbreak-candidate,tcp,2323,tcp/2323,480,"            \
    "sources,12.00,40.00,9.50,new,high,17,203.0.113.7;2001:db8::5,"                                \
    "darkscope-outbreak-candidates,NICTER Analysts\r\n"

static char g_templates[4096]; /* the repository's data/templates */
static json_t *g_hosts;        /* the two driving hosts of base_alert() */

/* DS_TEST_DATA is REPO/tests/data; the shipped templates are REPO/data/templates. */
static int setup(void **st)
{
    (void)st;
    char root[2048];
    snprintf(root, sizeof root, "%s", DS_TEST_DATA);
    for (int i = 0; i < 2; i++) {
        char *slash = strrchr(root, '/');
        if (!slash)
            return -1;
        *slash = '\0';
    }
    snprintf(g_templates, sizeof g_templates, "%s/data/templates", root);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/en/outbreak.txt", g_templates);
    if (access(probe, R_OK) != 0) {
        fprintf(stderr, "no template %s\n", probe);
        return -1;
    }
    g_hosts = json_pack("[{s:s, s:I, s:s, s:I, s:s}, {s:s, s:I, s:s, s:I, s:s}]", "address",
                        "203.0.113.7", "packets", (json_int_t)900, "country", "JP", "asn",
                        (json_int_t)64500, "first_seen", "2024-01-01T01:00:03.000000Z", "address",
                        "2001:db8::5", "packets", (json_int_t)450, "country", "CN", "asn",
                        (json_int_t)4134, "first_seen", "2024-01-01T01:20:00.000000Z");
    return g_hosts ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    json_decref(g_hosts);
    g_hosts = NULL;
    return 0;
}

/* A tcp/2323 candidate of the analysts' organisation; strings are literals, hosts borrowed. */
static struct ds_ob_alert base_alert(void)
{
    return (struct ds_ob_alert){
        .id = 17,
        .org_id = 3,
        .org_name = "NICTER Analysts",
        .lang = "en",
        .key = "tcp/2323",
        .dim = "tcp",
        .dim_key = 2323,
        .name = "2323/tcp",
        .state = DS_ALERT_NEW,
        .severity = DS_SEV_HIGH,
        .first_ns = (uint64_t)(T0 + 3600) * NS, /* 01:00:00 */
        .last_ns = (uint64_t)(T0 + 7500) * NS,  /* 02:05:00 */
        .start_s = T0 + 7200,                   /* 02:00:00 */
        .value = 480,
        .packets = 12345,
        .baseline = 12.0,
        .score = 9.5,
        .peak = 480,
        .candidates = 3,
        .hosts = g_hosts,
    };
}

/* A fingerprint series without hosts. */
static struct ds_ob_alert mirai_alert(void)
{
    struct ds_ob_alert a = base_alert();
    a.id = 18;
    a.key = "fingerprint/mirai";
    a.dim = "fingerprint";
    a.dim_key = 1;
    a.name = "mirai";
    a.state = DS_ALERT_CONTINUING;
    a.severity = DS_SEV_MEDIUM;
    a.value = 55;
    a.baseline = 5.0;
    a.hosts = NULL;
    return a;
}

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fail_msg("JSON does not parse: %s: %s", je.text, s);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        fail_msg("key %s is not a string", k);
    return json_string_value(v);
}

static json_int_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("key %s is not an integer", k);
    return json_integer_value(v);
}

static double jreal(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_real(v))
        fail_msg("key %s is not a real", k);
    return json_real_value(v);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- a scratch templates directory ---- */

struct tdir {
    char root[64];
};

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* ROOT/en/outbreak.txt and ROOT/ja/outbreak.txt (NULL: not written). */
static void tdir_make(struct tdir *t, const char *en, size_t en_len, const char *ja, size_t ja_len)
{
    snprintf(t->root, sizeof t->root, "/tmp/ds-test-ob-%ld-XXXXXX", (long)getpid());
    assert_non_null(mkdtemp(t->root));
    char p[128];
    snprintf(p, sizeof p, "%s/en", t->root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/ja", t->root);
    assert_int_equal(mkdir(p, 0700), 0);
    if (en) {
        snprintf(p, sizeof p, "%s/en/outbreak.txt", t->root);
        write_file(p, en, en_len);
    }
    if (ja) {
        snprintf(p, sizeof p, "%s/ja/outbreak.txt", t->root);
        write_file(p, ja, ja_len);
    }
}

static void tdir_remove(struct tdir *t)
{
    char p[128];
    const char *langs[] = {"en", "ja"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/%s/outbreak.txt", t->root, langs[i]);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s", t->root, langs[i]);
        assert_int_equal(rmdir(p), 0);
    }
    assert_int_equal(rmdir(t->root), 0);
}

/* The response of a via ds_ob_alert_json (the caller frees it). */
static char *response_of(const struct ds_ob_alert *a, const char *dir)
{
    char *out = NULL;
    struct ds_err err = {0};
    int rc = ds_ob_alert_json(a, dir, &out, NULL, &err);
    if (rc != 0)
        fail_msg("ds_ob_alert_json: %d %s", rc, err.msg);
    json_t *j = parse(out);
    free(out);
    char *r = strdup(jstr(j, "response"));
    json_decref(j);
    assert_non_null(r);
    return r;
}

/* ---- values ---- */

static void test_measure_ratio(void **st)
{
    (void)st;
    struct ds_ob_alert a = base_alert();
    assert_string_equal(ds_ob_measure(&a), "sources");
    assert_true(ds_ob_ratio(&a) == 40.0);
    a.baseline = 0.5;
    assert_true(ds_ob_ratio(&a) == 960.0);
    /* a baseline under 0.01 counts as 0.01 */
    a.baseline = 0.0;
    assert_true(ds_ob_ratio(&a) == 480.0 / 0.01);
    a.baseline = 0.004;
    assert_true(ds_ob_ratio(&a) == 480.0 / 0.01);
    a.baseline = 0.02;
    assert_true(ds_ob_ratio(&a) == 480.0 / 0.02);
    a.value = 0;
    assert_true(ds_ob_ratio(&a) == 0.0);

    /* packets only for the backscatter class; a fingerprint or another class counts sources */
    a.dim = "class";
    a.name = "backscatter";
    assert_string_equal(ds_ob_measure(&a), "packets");
    a.name = "tcp_syn";
    assert_string_equal(ds_ob_measure(&a), "sources");
    a.dim = "fingerprint";
    a.name = "mirai";
    assert_string_equal(ds_ob_measure(&a), "sources");
    a.name = NULL;
    assert_string_equal(ds_ob_measure(&a), "sources");
}

/* ---- JSON ---- */

static void test_json(void **st)
{
    (void)st;
    struct ds_ob_alert a = base_alert();
    char *out = NULL;
    size_t len = 0;
    struct ds_err err = {0};
    assert_int_equal(ds_ob_alert_json(&a, g_templates, &out, &len, &err), 0);
    assert_int_equal(len, strlen(out));
    assert_null(strchr(out, '\n'));
    /* compact, in the documented key order */
    const char *head =
        "{\"version\":2,\"id\":17,\"organisation\":\"NICTER Analysts\",\"organisation_id\":3,"
        "\"lang\":\"en\",\"address\":\"tcp/2323\",\"case\":\"outbreak\",\"state\":\"new\","
        "\"severity\":\"high\",\"first_seen\":\"2024-01-01T01:00:00.000000Z\","
        "\"last_seen\":\"2024-01-01T02:05:00.000000Z\",\"packets\":12345,"
        "\"outbreak\":{\"dim\":\"tcp\",\"key\":2323,\"name\":\"2323/tcp\",\"measure\":"
        "\"sources\",\"interval_start\":\"2024-01-01T02:00:00Z\",\"interval_end\":"
        "\"2024-01-01T02:05:00Z\",\"value\":480,\"baseline\":12.0,\"ratio\":40.0,\"score\":9.5,"
        "\"peak\":480,\"candidates\":3},"
        "\"top_hosts\":[{\"address\":\"203.0.113.7\",\"packets\":900,\"country\":\"JP\","
        "\"asn\":64500,\"first_seen\":\"2024-01-01T01:00:03.000000Z\"},{\"address\":"
        "\"2001:db8::5\",\"packets\":450,\"country\":\"CN\",\"asn\":4134,\"first_seen\":"
        "\"2024-01-01T01:20:00.000000Z\"}],"
        "\"intelmq\":{\"feed.name\":\"darkscope-outbreak-candidates\",\"time.source\":"
        "\"2024-01-01T02:00:00Z\",\"classification.taxonomy\":\"other\","
        "\"classification.type\":\"undetermined\",\"classification.identifier\":"
        "\"outbreak-candidate\",\"protocol.transport\":\"tcp\",\"destination.port\":2323,"
        "\"event_description.text\":\"tcp/2323\"},"
        "\"response\":\"WHAT THIS MEANS\\n\\nThe darknet sensor saw TCP port 2323 rise";
    if (!starts_with(out, head))
        fail_msg("JSON starts differently:\n%s", out);
    assert_true(ends_with(out, "It closes by itself when the series is quiet.\"}"));

    json_t *j = parse(out);
    free(out);
    assert_int_equal(json_object_size(j), 16);
    assert_int_equal(jint(j, "version"), DS_OB_ALERT_JSON_VERSION);
    assert_int_equal(jint(j, "version"), 2);
    assert_int_equal(jint(j, "id"), 17);
    assert_string_equal(jstr(j, "organisation"), "NICTER Analysts");
    assert_int_equal(jint(j, "organisation_id"), 3);
    assert_string_equal(jstr(j, "lang"), "en");
    assert_string_equal(jstr(j, "address"), "tcp/2323");
    assert_string_equal(jstr(j, "case"), "outbreak");
    assert_string_equal(jstr(j, "state"), "new");
    assert_string_equal(jstr(j, "severity"), "high");
    assert_string_equal(jstr(j, "first_seen"), "2024-01-01T01:00:00.000000Z");
    assert_string_equal(jstr(j, "last_seen"), "2024-01-01T02:05:00.000000Z");
    assert_int_equal(jint(j, "packets"), 12345);

    json_t *ob = json_object_get(j, "outbreak");
    assert_true(json_is_object(ob));
    assert_int_equal(json_object_size(ob), 12);
    assert_string_equal(jstr(ob, "dim"), "tcp");
    assert_int_equal(jint(ob, "key"), 2323);
    assert_string_equal(jstr(ob, "name"), "2323/tcp");
    assert_string_equal(jstr(ob, "measure"), "sources");
    assert_string_equal(jstr(ob, "interval_start"), "2024-01-01T02:00:00Z");
    assert_string_equal(jstr(ob, "interval_end"), "2024-01-01T02:05:00Z");
    assert_int_equal(jint(ob, "value"), 480);
    assert_true(jreal(ob, "baseline") == 12.0);
    assert_true(jreal(ob, "ratio") == 40.0);
    assert_true(jreal(ob, "score") == 9.5);
    assert_int_equal(jint(ob, "peak"), 480);
    assert_int_equal(jint(ob, "candidates"), 3);

    json_t *hosts = json_object_get(j, "top_hosts");
    assert_true(json_is_array(hosts));
    assert_int_equal(json_array_size(hosts), 2);
    assert_true(json_equal(hosts, g_hosts));
    json_t *h1 = json_array_get(hosts, 1);
    assert_string_equal(jstr(h1, "address"), "2001:db8::5");
    assert_int_equal(jint(h1, "packets"), 450);
    assert_string_equal(jstr(h1, "country"), "CN");
    assert_int_equal(jint(h1, "asn"), 4134);
    assert_string_equal(jstr(h1, "first_seen"), "2024-01-01T01:20:00.000000Z");

    json_t *im = json_object_get(j, "intelmq");
    assert_true(json_is_object(im));
    assert_int_equal(json_object_size(im), 8);
    assert_string_equal(jstr(im, "feed.name"), "darkscope-outbreak-candidates");
    assert_string_equal(jstr(im, "time.source"), "2024-01-01T02:00:00Z");
    assert_string_equal(jstr(im, "classification.taxonomy"), "other");
    assert_string_equal(jstr(im, "classification.type"), "undetermined");
    assert_string_equal(jstr(im, "classification.identifier"), "outbreak-candidate");
    assert_string_equal(jstr(im, "protocol.transport"), "tcp");
    assert_int_equal(jint(im, "destination.port"), 2323);
    assert_string_equal(jstr(im, "event_description.text"), "tcp/2323");

    assert_string_equal(jstr(j, "response"), EN_RESPONSE);
    json_decref(j);

    /* the hosts are borrowed: the alert's array is untouched and still the caller's alone */
    assert_int_equal(g_hosts->refcount, 1);
    assert_int_equal(json_array_size(g_hosts), 2);

    /* len may be NULL */
    assert_int_equal(ds_ob_alert_json(&a, g_templates, &out, NULL, &err), 0);
    assert_true(starts_with(out, "{\"version\":2,\"id\":17,"));
    free(out);
}

static void test_json_other_series(void **st)
{
    (void)st;
    struct ds_err err = {0};
    json_t *o = NULL;

    /* a fingerprint: no transport or port in the IntelMQ fields, no hosts: [] */
    struct ds_ob_alert a = mirai_alert();
    assert_int_equal(ds_ob_alert_object(&a, g_templates, &o, &err), 0);
    assert_string_equal(jstr(o, "address"), "fingerprint/mirai");
    assert_string_equal(jstr(o, "state"), "continuing");
    assert_string_equal(jstr(o, "severity"), "medium");
    json_t *ob = json_object_get(o, "outbreak");
    assert_string_equal(jstr(ob, "dim"), "fingerprint");
    assert_int_equal(jint(ob, "key"), 1);
    assert_string_equal(jstr(ob, "name"), "mirai");
    assert_string_equal(jstr(ob, "measure"), "sources");
    assert_int_equal(jint(ob, "value"), 55);
    assert_true(jreal(ob, "ratio") == 11.0);
    json_t *hosts = json_object_get(o, "top_hosts");
    assert_true(json_is_array(hosts));
    assert_int_equal(json_array_size(hosts), 0);
    json_t *im = json_object_get(o, "intelmq");
    assert_int_equal(json_object_size(im), 6);
    assert_null(json_object_get(im, "protocol.transport"));
    assert_null(json_object_get(im, "destination.port"));
    assert_string_equal(jstr(im, "event_description.text"), "fingerprint/mirai");
    assert_true(starts_with(jstr(o, "response"), "WHAT THIS MEANS\n\nThe darknet sensor saw "
                                                 "the fingerprint mirai rise sharply: 55 "
                                                 "sources in the\n"));
    json_decref(o);

    /* the backscatter class counts packets, with a baseline under 0.01 */
    a = mirai_alert();
    a.key = "class/backscatter";
    a.dim = "class";
    a.dim_key = 9;
    a.name = "backscatter";
    a.value = 3;
    a.baseline = 0.0;
    a.state = DS_ALERT_REOPENED;
    a.severity = DS_SEV_CRITICAL;
    assert_int_equal(ds_ob_alert_object(&a, g_templates, &o, &err), 0);
    assert_string_equal(jstr(o, "state"), "reopened");
    assert_string_equal(jstr(o, "severity"), "critical");
    ob = json_object_get(o, "outbreak");
    assert_string_equal(jstr(ob, "measure"), "packets");
    assert_int_equal(jint(ob, "key"), 9);
    assert_true(jreal(ob, "baseline") == 0.0);
    assert_true(jreal(ob, "ratio") == 3.0 / 0.01);
    assert_true(starts_with(jstr(o, "response"),
                            "WHAT THIS MEANS\n\nThe darknet sensor saw the class backscatter "
                            "rise sharply: 3 packets in the\n"));
    assert_non_null(strstr(jstr(o, "response"), "about 0.0 were expected (300.0 times the"));
    json_decref(o);

    /* udp */
    a = base_alert();
    a.key = "udp/53";
    a.dim = "udp";
    a.dim_key = 53;
    a.name = "53/udp";
    a.state = DS_ALERT_CLOSED;
    a.severity = DS_SEV_LOW;
    assert_int_equal(ds_ob_alert_object(&a, g_templates, &o, &err), 0);
    assert_string_equal(jstr(o, "state"), "closed");
    assert_string_equal(jstr(o, "severity"), "low");
    im = json_object_get(o, "intelmq");
    assert_string_equal(jstr(im, "protocol.transport"), "udp");
    assert_int_equal(jint(im, "destination.port"), 53);
    assert_true(starts_with(jstr(o, "response"),
                            "WHAT THIS MEANS\n\nThe darknet sensor saw UDP port 53 rise"));
    json_decref(o);
}

/* The object and the JSON text are the same record; the Japanese template for "ja_JP". */
static void test_object_and_ja(void **st)
{
    (void)st;
    struct ds_ob_alert a = base_alert();
    struct ds_err err = {0};
    json_t *o = NULL;
    char *out = NULL;
    assert_int_equal(ds_ob_alert_object(&a, g_templates, &o, &err), 0);
    assert_int_equal(ds_ob_alert_json(&a, g_templates, &out, NULL, &err), 0);
    json_t *j = parse(out);
    free(out);
    assert_true(json_equal(o, j));
    json_decref(j);
    /* the object holds a reference to the caller's hosts, not a copy */
    assert_ptr_equal(json_object_get(o, "top_hosts"), g_hosts);
    assert_int_equal(g_hosts->refcount, 2);
    json_decref(o);
    assert_int_equal(g_hosts->refcount, 1);

    a.lang = "ja_JP.UTF-8";
    assert_int_equal(ds_ob_alert_object(&a, g_templates, &o, &err), 0);
    assert_string_equal(jstr(o, "lang"), "ja");
    assert_string_equal(jstr(o, "response"), JA_RESPONSE);
    json_decref(o);

    /* any other language, or none, is English */
    a.lang = NULL;
    assert_int_equal(ds_ob_alert_object(&a, g_templates, &o, &err), 0);
    assert_string_equal(jstr(o, "lang"), "en");
    assert_string_equal(jstr(o, "response"), EN_RESPONSE);
    json_decref(o);
    a.lang = "de";
    assert_int_equal(ds_ob_alert_object(&a, g_templates, &o, &err), 0);
    assert_string_equal(jstr(o, "lang"), "en");
    json_decref(o);
}

/* ---- CSV ---- */

static void test_csv(void **st)
{
    (void)st;
    char *out = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_ob_alert_csv_header(&out, &err), 0);
    assert_string_equal(out, CSV_HEADER);
    free(out);

    struct ds_ob_alert a = base_alert();
    assert_int_equal(ds_ob_alert_csv_row(&a, &out, &err), 0);
    assert_string_equal(out, CSV_ROW_BASE);
    free(out);

    /* a fingerprint series without hosts: empty transport, port and hosts cells; an
     * organisation with a comma, quotes and a line break is quoted, quotes doubled */
    a = mirai_alert();
    a.org_name = "Foo, \"Bar\"\r\nUniv";
    assert_int_equal(ds_ob_alert_csv_row(&a, &out, &err), 0);
    assert_string_equal(out, "2024-01-01T02:00:00Z,other,undetermined,outbreak-candidate,,,"
                             "fingerprint/mirai,55,sources,5.00,11.00,9.50,continuing,medium,"
                             "18,,darkscope-outbreak-candidates,\"Foo, \"\"Bar\"\"\r\nUniv\"\r\n");
    free(out);

    /* backscatter: packets; a host without an address is an empty entry */
    json_t *hosts = json_pack("[{s:s}, {s:I}, {s:s}]", "address", "198.51.100.1", "packets",
                              (json_int_t)5, "address", "198.51.100.3");
    assert_non_null(hosts);
    a = base_alert();
    a.id = 19;
    a.key = "class/backscatter";
    a.dim = "class";
    a.dim_key = 9;
    a.name = "backscatter";
    a.value = 7;
    a.baseline = 0.25;
    a.score = 3.125;
    a.state = DS_ALERT_CLOSED;
    a.severity = DS_SEV_LOW;
    a.hosts = hosts;
    assert_int_equal(ds_ob_alert_csv_row(&a, &out, &err), 0);
    assert_string_equal(out, "2024-01-01T02:00:00Z,other,undetermined,outbreak-candidate,,,"
                             "class/backscatter,7,packets,0.25,28.00,3.12,closed,low,19,"
                             "198.51.100.1;;198.51.100.3,darkscope-outbreak-candidates,"
                             "NICTER Analysts\r\n");
    free(out);
    json_decref(hosts);
}

/* ---- XML ---- */

static void test_xml(void **st)
{
    (void)st;
    struct ds_ob_alert a = base_alert();
    char *out = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_ob_alert_xml(&a, g_templates, &out, &err), 0);
    assert_string_equal(out, "<alert version=\"2\" id=\"17\">\n"
                             "  <organisation>NICTER Analysts</organisation>\n"
                             "  <address>tcp/2323</address>\n"
                             "  <case>outbreak</case>\n"
                             "  <state>new</state>\n"
                             "  <severity>high</severity>\n"
                             "  <first_seen>2024-01-01T01:00:00.000000Z</first_seen>\n"
                             "  <last_seen>2024-01-01T02:05:00.000000Z</last_seen>\n"
                             "  <packets>12345</packets>\n"
                             "  <outbreak>\n"
                             "    <dim>tcp</dim>\n"
                             "    <key>2323</key>\n"
                             "    <name>2323/tcp</name>\n"
                             "    <measure>sources</measure>\n"
                             "    <interval_start>2024-01-01T02:00:00Z</interval_start>\n"
                             "    <interval_end>2024-01-01T02:05:00Z</interval_end>\n"
                             "    <value>480</value>\n"
                             "    <baseline>12.000000</baseline>\n"
                             "    <ratio>40.000000</ratio>\n"
                             "    <score>9.500000</score>\n"
                             "    <candidates>3</candidates>\n"
                             "  </outbreak>\n"
                             "  <top_hosts>\n"
                             "    <host packets=\"900\">203.0.113.7</host>\n"
                             "    <host packets=\"450\">2001:db8::5</host>\n"
                             "  </top_hosts>\n"
                             "  <response>" EN_RESPONSE_XML "</response>\n"
                             "</alert>\n");
    free(out);

    /* no hosts: an empty top_hosts element */
    a = mirai_alert();
    assert_int_equal(ds_ob_alert_xml(&a, g_templates, &out, &err), 0);
    assert_non_null(strstr(out, "  </outbreak>\n  <top_hosts>\n  </top_hosts>\n  <response>"));
    assert_non_null(strstr(out, "    <dim>fingerprint</dim>\n    <key>1</key>\n"
                                "    <name>mirai</name>\n"));
    free(out);
}

/* The five markup characters and a control character of the organisation's name, the series
 * and a host's address are escaped in the elements and in the substituted response. */
static void test_xml_escaping(void **st)
{
    (void)st;
    const char *tpl = "For {{organisation}}: {{series}}";
    struct tdir t;
    tdir_make(&t, tpl, strlen(tpl), tpl, strlen(tpl));
    json_t *hosts =
        json_pack("[{s:s, s:I}]", "address", "<evil&\"host\">", "packets", (json_int_t)12);
    assert_non_null(hosts);
    struct ds_ob_alert a = base_alert();
    a.org_name = "A&B <\"x\"> 'y'\x01z";
    a.key = "tcp/<2323>";
    a.hosts = hosts;
    char *out = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_ob_alert_xml(&a, t.root, &out, &err), 0);
    const char *name = "A&amp;B &lt;&quot;x&quot;&gt; &apos;y&apos;\xef\xbf\xbdz";
    char want[512];
    snprintf(want, sizeof want,
             "<alert version=\"2\" id=\"17\">\n  <organisation>%s</organisation>\n"
             "  <address>tcp/&lt;2323&gt;</address>\n",
             name);
    assert_true(starts_with(out, want));
    assert_non_null(strstr(out,
                           "  <top_hosts>\n"
                           "    <host packets=\"12\">&lt;evil&amp;&quot;host&quot;&gt;</host>\n"
                           "  </top_hosts>\n"));
    snprintf(want, sizeof want, "  <response>For %s: tcp/&lt;2323&gt;</response>\n</alert>\n",
             name);
    assert_true(ends_with(out, want));
    /* nothing unescaped got through */
    assert_null(strstr(out, "A&B"));
    assert_null(strstr(out, "<\"x\">"));
    assert_null(strstr(out, "'y'"));
    assert_null(strchr(out, '\x01'));
    assert_null(strstr(out, "<evil"));
    free(out);
    json_decref(hosts);
    tdir_remove(&t);
}

/* ---- e-mail text ---- */

static void test_text_en(void **st)
{
    (void)st;
    struct ds_ob_alert a = base_alert();
    char *subject = NULL, *body = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_ob_alert_text(&a, g_templates, &subject, &body, &err), 0);
    assert_string_equal(subject, "[darkscope] Outbreak candidate #17 (new): TCP port 2323 rose");
    assert_string_equal(body,
                        "To: NICTER Analysts\n"
                        "Alert: 17 (state new, severity high)\n"
                        "\n"
                        "What rose: TCP port 2323 (tcp/2323)\n"
                        "When: 2024-01-01T02:00:00Z to 2024-01-01T02:05:00Z (UTC, one 5-minute "
                        "interval)\n"
                        "By how much: 480 sources against a baseline of 12.0 (40.0x, score 9.5)\n"
                        "Candidate intervals so far: 3\n"
                        "\n"
                        "Hosts driving it:\n"
                        "  203.0.113.7" SP29 "      900 packets  AS64500 JP\n"
                        "  2001:db8::5" SP29 "      450 packets  AS4134 CN\n"
                        "\n" EN_RESPONSE "\n");
    free(subject);
    free(body);
}

static void test_text_ja(void **st)
{
    (void)st;
    struct ds_ob_alert a = base_alert();
    a.lang = "ja";
    char *subject = NULL, *body = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_ob_alert_text(&a, g_templates, &subject, &body, &err), 0);
    assert_string_equal(subject,
                        "[darkscope] アウトブレイク候補 #17 (新規): TCP 2323 番ポート の急増");
    assert_string_equal(body, "宛先: NICTER Analysts\n"
                              "アラート番号: 17 (状態: 新規, 重要度: high)\n"
                              "\n"
                              "急増したもの: TCP 2323 番ポート (tcp/2323)\n"
                              "時間帯: 2024-01-01T02:00:00Z から 2024-01-01T02:05:00Z (UTC, 5 "
                              "分間)\n"
                              "増加の大きさ: 480 送信元 (平常値 12.0 の 40.0 倍, スコア 9.5)\n"
                              "候補となった区間: 3\n"
                              "\n"
                              "主な送信元ホスト:\n"
                              "  203.0.113.7" SP29 "      900 パケット  AS64500 JP\n"
                              "  2001:db8::5" SP29 "      450 パケット  AS4134 CN\n"
                              "\n" JA_RESPONSE "\n");
    free(subject);
    free(body);
}

/* Every state word and series form in both subjects; no hosts; a host without a country. */
static void test_text_forms(void **st)
{
    (void)st;
    static const struct {
        enum ds_alert_state state;
        const char *dim, *key, *name, *lang, *subject;
    } cases[] = {
        {DS_ALERT_CONTINUING, "udp", "udp/53", "53/udp", "en",
         "[darkscope] Outbreak candidate #17 (continuing): UDP port 53 rose"},
        {DS_ALERT_CLOSED, "fingerprint", "fingerprint/mirai", "mirai", "en",
         "[darkscope] Outbreak candidate #17 (closed): the fingerprint mirai rose"},
        {DS_ALERT_REOPENED, "class", "class/backscatter", "backscatter", "en",
         "[darkscope] Outbreak candidate #17 (reopened): the class backscatter rose"},
        {DS_ALERT_CONTINUING, "udp", "udp/53", "53/udp", "JA",
         "[darkscope] アウトブレイク候補 #17 (継続): UDP 53 番ポート の急増"},
        {DS_ALERT_CLOSED, "fingerprint", "fingerprint/mirai", "mirai", "ja",
         "[darkscope] アウトブレイク候補 #17 (終了): フィンガープリント mirai の急増"},
        {DS_ALERT_REOPENED, "class", "class/backscatter", "backscatter", "ja-JP",
         "[darkscope] アウトブレイク候補 #17 (再発): 通信種別 backscatter の急増"},
    };
    struct ds_err err = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ds_ob_alert a = base_alert();
        a.state = cases[i].state;
        a.dim = cases[i].dim;
        a.key = cases[i].key;
        a.name = cases[i].name;
        a.dim_key = 53;
        a.lang = cases[i].lang;
        char *subject = NULL, *body = NULL;
        assert_int_equal(ds_ob_alert_text(&a, g_templates, &subject, &body, &err), 0);
        assert_string_equal(subject, cases[i].subject);
        free(subject);
        free(body);
    }

    /* the backscatter class measures packets */
    struct ds_ob_alert a = base_alert();
    a.dim = "class";
    a.key = "class/backscatter";
    a.name = "backscatter";
    char *subject = NULL, *body = NULL;
    assert_int_equal(ds_ob_alert_text(&a, g_templates, &subject, &body, &err), 0);
    assert_non_null(strstr(body, "\nWhat rose: the class backscatter (class/backscatter)\n"));
    assert_non_null(strstr(body, "\nBy how much: 480 packets against a baseline of 12.0 (40.0x, "
                                 "score 9.5)\n"));
    free(subject);
    free(body);
    a.lang = "ja";
    assert_int_equal(ds_ob_alert_text(&a, g_templates, &subject, &body, &err), 0);
    assert_non_null(strstr(body, "\n急増したもの: 通信種別 backscatter (class/backscatter)\n"));
    assert_non_null(strstr(body, "\n増加の大きさ: 480 パケット (平常値 12.0 の 40.0 倍, スコア "
                                 "9.5)\n"));
    free(subject);
    free(body);

    /* no hosts stored yet */
    a = mirai_alert();
    assert_int_equal(ds_ob_alert_text(&a, g_templates, &subject, &body, &err), 0);
    assert_non_null(strstr(body, "Hosts driving it:\n"
                                 "  (not stored yet: darkscope report outbreaks lists them "
                                 "later)\n\nWHAT THIS MEANS\n"));
    free(subject);
    free(body);
    a.lang = "ja";
    assert_int_equal(ds_ob_alert_text(&a, g_templates, &subject, &body, &err), 0);
    assert_non_null(strstr(body, "主な送信元ホスト:\n"
                                 "  (まだ保存されていません: darkscope report outbreaks "
                                 "で確認できます)\n\n■ この通知の意味\n"));
    free(subject);
    free(body);

    /* a host without country, asn or address */
    json_t *hosts = json_pack("[{s:s, s:I}, {s:I}]", "address", "192.0.2.1", "packets",
                              (json_int_t)7, "packets", (json_int_t)1234567890);
    assert_non_null(hosts);
    a = base_alert();
    a.hosts = hosts;
    assert_int_equal(ds_ob_alert_text(&a, g_templates, &subject, &body, &err), 0);
    /* "192.0.2.1" is 9 characters (31 spaces to 40), "?" 1 (39); %8 does not cut 10 digits */
    assert_non_null(strstr(body, "Hosts driving it:\n"
                                 "  192.0.2.1" SP29 "  "
                                 "        7 packets  AS0 -\n"
                                 "  ?" SP29 "          "
                                 " 1234567890 packets  AS0 -\n\n"));
    free(subject);
    free(body);
    json_decref(hosts);
}

/* ---- the template ---- */

/* BOM, CRLF and trailing blanks; every placeholder; unknown and unclosed braces stay; a
 * replacement is not scanned again. */
static void test_template_render(void **st)
{
    (void)st;
    const char tpl[] = "\xef\xbb\xbf"
                       "org={{organisation}}\r\n"
                       "series={{series}} what={{what}}\r\n"
                       "interval={{interval_start}}..{{interval_end}}\r\n"
                       "value={{value}} baseline={{baseline}} ratio={{ratio}} "
                       "measure={{measure}}\r\n"
                       "seen={{first_seen}}..{{last_seen}}\r\n"
                       "keep={{nope}} {{value} {{ {{value}}{{\r\n"
                       "lone\rCR\n"
                       "\r\n \t\r\n\n";
    const char tpl_ja[] = "組織={{organisation}} 何={{what}}\n";
    struct tdir t;
    tdir_make(&t, tpl, sizeof tpl - 1, tpl_ja, sizeof tpl_ja - 1);
    struct ds_ob_alert a = base_alert();
    a.baseline = 3.0;
    a.value = 10;
    char *r = response_of(&a, t.root);
    assert_string_equal(r, "org=NICTER Analysts\n"
                           "series=tcp/2323 what=TCP port 2323\n"
                           "interval=2024-01-01T02:00:00Z..2024-01-01T02:05:00Z\n"
                           "value=10 baseline=3.0 ratio=3.3 measure=sources\n"
                           "seen=2024-01-01T01:00:00.000000Z..2024-01-01T02:05:00.000000Z\n"
                           "keep={{nope}} {{value} {{ 10{{\n"
                           "lone\rCR");
    free(r);

    /* a value that looks like a placeholder is not expanded again */
    a.org_name = "{{series}}";
    r = response_of(&a, t.root);
    assert_true(starts_with(r, "org={{series}}\nseries=tcp/2323 "));
    free(r);

    /* the Japanese template and words */
    a = base_alert();
    a.lang = "ja";
    r = response_of(&a, t.root);
    assert_string_equal(r, "組織=NICTER Analysts 何=TCP 2323 番ポート");
    free(r);
    a.dim = "fingerprint";
    a.name = "mirai";
    r = response_of(&a, t.root);
    assert_string_equal(r, "組織=NICTER Analysts 何=フィンガープリント mirai");
    free(r);
    a.dim = "class";
    a.name = "backscatter";
    r = response_of(&a, t.root);
    assert_string_equal(r, "組織=NICTER Analysts 何=通信種別 backscatter");
    free(r);
    tdir_remove(&t);

    /* an empty template gives an empty response */
    tdir_make(&t, "\n\n", 2, "", 0);
    a = base_alert();
    r = response_of(&a, t.root);
    assert_string_equal(r, "");
    free(r);
    tdir_remove(&t);
}

/* A missing template, and one that is not text or too long, fail every format naming it. */
static void test_template_bad(void **st)
{
    (void)st;
    struct tdir t;
    tdir_make(&t, NULL, 0, "a\0b", 3);
    char want[256];
    struct ds_ob_alert a = base_alert();
    struct ds_err err = {0};
    char *out = (char *)"x", *subject = (char *)"x", *body = (char *)"x";
    json_t *o = json_object();
    json_t *sentinel = o;

    snprintf(want, sizeof want, "alert template %s/en/outbreak.txt: No such file or directory",
             t.root);
    assert_int_equal(ds_ob_alert_json(&a, t.root, &out, NULL, &err), -ENOENT);
    assert_null(out);
    assert_string_equal(err.msg, want);
    assert_int_equal(err.code, -ENOENT);
    memset(&err, 0, sizeof err);
    assert_int_equal(ds_ob_alert_object(&a, t.root, &o, &err), -ENOENT);
    assert_null(o);
    assert_string_equal(err.msg, want);
    memset(&err, 0, sizeof err);
    out = (char *)"x";
    assert_int_equal(ds_ob_alert_xml(&a, t.root, &out, &err), -ENOENT);
    assert_null(out);
    assert_string_equal(err.msg, want);
    memset(&err, 0, sizeof err);
    assert_int_equal(ds_ob_alert_text(&a, t.root, &subject, &body, &err), -ENOENT);
    assert_null(subject);
    assert_null(body);
    assert_string_equal(err.msg, want);
    json_decref(sentinel);

    /* a NUL byte: not text */
    a.lang = "ja";
    snprintf(want, sizeof want, "alert template %s/ja/outbreak.txt: not UTF-8 text", t.root);
    out = (char *)"x";
    assert_int_equal(ds_ob_alert_json(&a, t.root, &out, NULL, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, want);
    tdir_remove(&t);

    /* 64 KiB is the limit: one byte more is too long */
    size_t max = 64 * 1024;
    char *big = malloc(max + 1);
    assert_non_null(big);
    memset(big, 'x', max + 1);
    tdir_make(&t, big, max, big, max + 1);
    snprintf(want, sizeof want, "alert template %s/ja/outbreak.txt: longer than 65536 bytes",
             t.root);
    a = base_alert();
    char *r = response_of(&a, t.root);
    assert_int_equal(strlen(r), max);
    free(r);
    a.lang = "ja";
    out = (char *)"x";
    assert_int_equal(ds_ob_alert_json(&a, t.root, &out, NULL, &err), -EFBIG);
    assert_null(out);
    assert_string_equal(err.msg, want);
    tdir_remove(&t);
    free(big);

    /* a templates directory path too long */
    char longdir[5000];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/';
    longdir[sizeof longdir - 1] = '\0';
    a = base_alert();
    out = (char *)"x";
    assert_int_equal(ds_ob_alert_xml(&a, longdir, &out, &err), -ENAMETOOLONG);
    assert_null(out);
    assert_int_equal(err.code, -ENAMETOOLONG);
    /* the message names the directory (cut to the message's size) */
    assert_true(starts_with(err.msg, "alert template directory /ddd"));
    assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
}

/* ---- alerts out of range ---- */

static void expect_invalid(const struct ds_ob_alert *a, const char *msg)
{
    struct ds_err err = {0};
    char *out = (char *)"x", *subject = (char *)"x", *body = (char *)"x";
    size_t len = 99;
    assert_int_equal(ds_ob_alert_json(a, g_templates, &out, &len, &err), -EINVAL);
    assert_null(out);
    assert_int_equal(len, 99);
    assert_string_equal(err.msg, msg);
    assert_int_equal(err.code, -EINVAL);

    memset(&err, 0, sizeof err);
    json_t *o = (json_t *)g_hosts;
    assert_int_equal(ds_ob_alert_object(a, g_templates, &o, &err), -EINVAL);
    assert_null(o);
    assert_string_equal(err.msg, msg);

    memset(&err, 0, sizeof err);
    out = (char *)"x";
    assert_int_equal(ds_ob_alert_csv_row(a, &out, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, msg);

    memset(&err, 0, sizeof err);
    out = (char *)"x";
    assert_int_equal(ds_ob_alert_xml(a, g_templates, &out, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, msg);

    memset(&err, 0, sizeof err);
    assert_int_equal(ds_ob_alert_text(a, g_templates, &subject, &body, &err), -EINVAL);
    assert_null(subject);
    assert_null(body);
    assert_string_equal(err.msg, msg);

    /* a NULL err is allowed */
    out = (char *)"x";
    assert_int_equal(ds_ob_alert_csv_row(a, &out, NULL), -EINVAL);
    assert_null(out);
}

static void test_bad_alerts(void **st)
{
    (void)st;
    const char *none = "outbreak alert: no organisation or series";
    expect_invalid(NULL, none);
    struct ds_ob_alert a = base_alert();
    a.org_name = NULL;
    expect_invalid(&a, none);
    a = base_alert();
    a.key = NULL;
    expect_invalid(&a, none);
    a = base_alert();
    a.dim = NULL;
    expect_invalid(&a, none);
    a = base_alert();
    a.name = NULL;
    expect_invalid(&a, none);

    const char *range = "outbreak alert 17: state or severity out of range";
    a = base_alert();
    a.state = DS_ALERT_STATE_COUNT;
    expect_invalid(&a, range);
    a = base_alert();
    a.state = (enum ds_alert_state) - 1;
    expect_invalid(&a, range);
    a = base_alert();
    a.severity = DS_SEV_COUNT;
    expect_invalid(&a, range);
    a = base_alert();
    a.severity = (enum ds_severity)99;
    expect_invalid(&a, range);

    /* text that is not UTF-8 is refused by every form (XML and JSON would not be well formed) */
    a = base_alert();
    a.org_name = "bad \xff name";
    expect_invalid(&a, "outbreak alert 17: organisation name is not valid UTF-8");
    a = base_alert();
    a.key = "tcp/\xc0\xaf";
    expect_invalid(&a, "outbreak alert 17: series is not valid UTF-8");

    /* the last valid values pass */
    a = base_alert();
    a.state = DS_ALERT_REOPENED;
    a.severity = DS_SEV_CRITICAL;
    char *out = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_ob_alert_csv_row(&a, &out, &err), 0);
    assert_non_null(strstr(out, ",reopened,critical,17,"));
    free(out);
}

/* ---- digests ---- */

static void test_digest_json(void **st)
{
    (void)st;
    struct ds_ob_alert a = base_alert(), b = mirai_alert();
    const struct ds_ob_alert *v[] = {&a, &b};
    char *out = NULL;
    size_t len = 0;
    struct ds_err err = {0};
    assert_int_equal(
        ds_ob_digest_json(v, 2, "NICTER Analysts", "D-2024-01-01-7", g_templates, &out, &len, &err),
        0);
    assert_int_equal(len, strlen(out));
    assert_null(strchr(out, '\n'));
    assert_true(starts_with(out, "{\"version\":2,\"digest\":\"D-2024-01-01-7\",\"organisation\":"
                                 "\"NICTER Analysts\",\"count\":2,\"alerts\":[{\"version\":2,"
                                 "\"id\":17,"));
    json_t *d = parse(out);
    free(out);
    assert_int_equal(json_object_size(d), 5);
    assert_int_equal(jint(d, "version"), 2);
    assert_string_equal(jstr(d, "digest"), "D-2024-01-01-7");
    assert_string_equal(jstr(d, "organisation"), "NICTER Analysts");
    assert_int_equal(jint(d, "count"), 2);
    json_t *arr = json_object_get(d, "alerts");
    assert_int_equal(json_array_size(arr), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *o = NULL;
        assert_int_equal(ds_ob_alert_object(v[i], g_templates, &o, &err), 0);
        assert_true(json_equal(json_array_get(arr, i), o));
        json_decref(o);
    }
    assert_int_equal(jint(json_array_get(arr, 1), "id"), 18);
    json_decref(d);

    /* no alerts */
    assert_int_equal(
        ds_ob_digest_json(v, 0, "NICTER Analysts", "D-0", g_templates, &out, NULL, &err), 0);
    assert_string_equal(out, "{\"version\":2,\"digest\":\"D-0\",\"organisation\":\"NICTER "
                             "Analysts\",\"count\":0,\"alerts\":[]}");
    free(out);

    /* another organisation's alert, a NULL alert, no organisation */
    b.org_name = "Example City";
    out = (char *)"x";
    assert_int_equal(
        ds_ob_digest_json(v, 2, "NICTER Analysts", "D-1", g_templates, &out, &len, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg,
                        "outbreak digest for 'NICTER Analysts': alert of another organisation");
    b = mirai_alert();
    b.org_name = NULL;
    out = (char *)"x";
    assert_int_equal(
        ds_ob_digest_json(v, 2, "NICTER Analysts", "D-1", g_templates, &out, &len, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg,
                        "outbreak digest for 'NICTER Analysts': alert of another organisation");
    const struct ds_ob_alert *vn[] = {&a, NULL};
    out = (char *)"x";
    assert_int_equal(
        ds_ob_digest_json(vn, 2, "NICTER Analysts", "D-1", g_templates, &out, &len, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg,
                        "outbreak digest for 'NICTER Analysts': alert of another organisation");
    out = (char *)"x";
    assert_int_equal(ds_ob_digest_json(v, 2, NULL, "D-1", g_templates, &out, &len, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, "outbreak digest: no organisation");

    /* an alert out of range, or a missing template, fails the digest */
    b = mirai_alert();
    b.key = NULL;
    out = (char *)"x";
    assert_int_equal(
        ds_ob_digest_json(v, 2, "NICTER Analysts", "D-1", g_templates, &out, &len, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, "outbreak alert: no organisation or series");
    b = mirai_alert();
    out = (char *)"x";
    assert_int_equal(ds_ob_digest_json(v, 2, "NICTER Analysts", "D-1", "/nonexistent-ds-templates",
                                       &out, &len, &err),
                     -ENOENT);
    assert_null(out);
    assert_string_equal(err.msg, "alert template /nonexistent-ds-templates/en/outbreak.txt: "
                                 "No such file or directory");
}

/* A digest checks every alert it lists before it prints any (a state out of range read
 * past the table of state words before) and needs its id. */
static void test_digest_bad(void **st)
{
    (void)st;
    struct ds_ob_alert a = base_alert(), b = mirai_alert();
    b.state = (enum ds_alert_state)7;
    const struct ds_ob_alert *v[] = {&a, &b};
    char *subject = (char *)"x", *body = (char *)"x", *out = (char *)"x";
    struct ds_err err = {0};
    assert_int_equal(ds_ob_digest_text(v, 2, "NICTER Analysts", "en", &subject, &body, &err),
                     -EINVAL);
    assert_null(subject);
    assert_null(body);
    assert_string_equal(err.msg, "outbreak alert 18: state or severity out of range");
    memset(&err, 0, sizeof err);
    assert_int_equal(
        ds_ob_digest_json(v, 2, "NICTER Analysts", "obdigest-1-1", g_templates, &out, NULL, &err),
        -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg, "outbreak alert 18: state or severity out of range");
    b = mirai_alert();
    memset(&err, 0, sizeof err);
    out = (char *)"x";
    assert_int_equal(
        ds_ob_digest_json(v, 2, "NICTER Analysts", NULL, g_templates, &out, NULL, &err), -EINVAL);
    assert_null(out);
    assert_string_equal(err.msg,
                        "outbreak digest for 'NICTER Analysts': no digest id, or not UTF-8");
}

static void test_digest_text(void **st)
{
    (void)st;
    struct ds_ob_alert a = base_alert(), b = mirai_alert();
    const struct ds_ob_alert *v[] = {&a, &b};
    char *subject = NULL, *body = NULL;
    struct ds_err err = {0};
    assert_int_equal(ds_ob_digest_text(v, 2, "NICTER Analysts", "en", &subject, &body, &err), 0);
    assert_string_equal(subject,
                        "[darkscope] Outbreak candidates digest: 2 alerts (NICTER Analysts)");
    assert_string_equal(body, "Outbreak candidates that changed (details in the attached JSON):\n"
                              "\n"
                              "  #17 tcp/2323             new        2024-01-01T02:00:00Z 480 "
                              "sources (x40.0)\n"
                              "  #18 fingerprint/mirai    continuing 2024-01-01T02:00:00Z 55 "
                              "sources (x11.0)\n"
                              "\n" CSV_HEADER CSV_ROW_BASE
                              "2024-01-01T02:00:00Z,other,undetermined,outbreak-candidate,,,"
                              "fingerprint/mirai,55,sources,5.00,11.00,9.50,continuing,medium,"
                              "18,,darkscope-outbreak-candidates,NICTER Analysts\r\n");
    free(subject);
    free(body);

    /* Japanese (the digest's language, not the alerts') */
    assert_int_equal(
        ds_ob_digest_text(v, 2, "NICTER Analysts", "ja_JP.UTF-8", &subject, &body, &err), 0);
    assert_string_equal(subject, "[darkscope] アウトブレイク候補のまとめ: 2 件 (NICTER Analysts)");
    assert_true(starts_with(body, "アウトブレイク候補の変化 (詳細は添付の JSON):\n"
                                  "\n"
                                  "  #17 tcp/2323             新規     2024-01-01T02:00:00Z 480 "
                                  "sources (x40.0)\n"
                                  "  #18 fingerprint/mirai    継続     2024-01-01T02:00:00Z 55 "
                                  "sources (x11.0)\n"
                                  "\n" CSV_HEADER CSV_ROW_BASE));
    free(subject);
    free(body);

    /* no alerts: the header only */
    assert_int_equal(ds_ob_digest_text(v, 0, "NICTER Analysts", NULL, &subject, &body, &err), 0);
    assert_string_equal(subject,
                        "[darkscope] Outbreak candidates digest: 0 alerts (NICTER Analysts)");
    assert_string_equal(body, "Outbreak candidates that changed (details in the attached JSON):\n"
                              "\n\n" CSV_HEADER);
    free(subject);
    free(body);

    /* another organisation's alert */
    b.org_name = "Example City";
    subject = body = (char *)"x";
    assert_int_equal(ds_ob_digest_text(v, 2, "NICTER Analysts", "en", &subject, &body, &err),
                     -EINVAL);
    assert_null(subject);
    assert_null(body);
    assert_string_equal(err.msg,
                        "outbreak digest for 'NICTER Analysts': alert of another organisation");
    subject = body = (char *)"x";
    assert_int_equal(ds_ob_digest_text(v, 2, NULL, "en", &subject, &body, &err), -EINVAL);
    assert_null(subject);
    assert_null(body);
    assert_string_equal(err.msg, "outbreak digest: no organisation");

    /* an alert whose severity is out of range fails in its CSV row */
    b = mirai_alert();
    b.severity = DS_SEV_COUNT;
    subject = body = (char *)"x";
    assert_int_equal(ds_ob_digest_text(v, 2, "NICTER Analysts", "en", &subject, &body, &err),
                     -EINVAL);
    assert_null(subject);
    assert_null(body);
    assert_string_equal(err.msg, "outbreak alert 18: state or severity out of range");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measure_ratio),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_other_series),
        cmocka_unit_test(test_object_and_ja),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_xml),
        cmocka_unit_test(test_xml_escaping),
        cmocka_unit_test(test_text_en),
        cmocka_unit_test(test_text_ja),
        cmocka_unit_test(test_text_forms),
        cmocka_unit_test(test_template_render),
        cmocka_unit_test(test_template_bad),
        cmocka_unit_test(test_bad_alerts),
        cmocka_unit_test(test_digest_json),
        cmocka_unit_test(test_digest_bad),
        cmocka_unit_test(test_digest_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
