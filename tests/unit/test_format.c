/* test_format.c - alert formats: JSON, digest CSV, XML, e-mail text, templates, digests. */
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
#include "analyze/host.h"
#include "core/addr.h"

#define T0 1704067200000000000ull /* 2024-01-01T00:00:00Z */

static struct ds_addr A(const char *text) {
    struct ds_addr a;
    struct ds_err err = {0};
    assert_int_equal(ds_addr_parse(&a, text, &err), 0);
    return a;
}

/* An internal-case alert with every field set; strings are literals (nothing to free). */
static struct ds_alert
base_alert(void)
{
    struct ds_alert a = {
        .id = 42,
        .org_id = 7,
        .org_name = "Example City",
        .lang = "en",
        .address = A("192.0.2.10"),
        .kase = DS_CASE_INTERNAL,
        .state = DS_ALERT_NEW,
        .severity = DS_SEV_HIGH,
        .first_ns = T0 + 11872004000ull,     /* 00:00:11.872004 */
        .last_ns = T0 + 3723000000000ull,    /* 01:02:03 */
        .updated_ns = T0 + 3724500000000ull, /* 01:02:04.5 */
        .packets = 1234,
        .bytes = 74040,
        .targets = 200,
        .protos = (1u << DS_PROTO_TCP) | (1u << DS_PROTO_UDP),
        .classes = DS_CLASS_BIT(DS_CLASS_TCP_SYN) | DS_CLASS_BIT(DS_CLASS_UDP),
        .fps = DS_FP_BIT(DS_FP_MIRAI) | DS_FP_BIT(DS_FP_ZMAP),
        .scan_type = "horizontal",
        .ports = {{.proto = 6, .port = 23, .packets = 1000},
                  {.proto = 6, .port = 2323, .packets = 200},
                  {.proto = 17, .port = 5060, .packets = 34}},
        .n_ports = 3,
        .family = "mirai",
        .dos_basis = "backscatter count", /* not a backscatter alert: must not show */
        .dos_peak_ppm = 99,
    };
    a.samples[0] = (struct ds_alert_sample){.ts_ns = T0 + 11872004000ull,
                                            .src = A("192.0.2.10"),
                                            .dst = A("198.51.100.7"),
                                            .proto = 6,
                                            .ttl = 52,
                                            .tcp_flags = 0x02,
                                            .sport = 41234,
                                            .dport = 23,
                                            .win = 5840,
                                            .ip_id = 4321,
                                            .seq = 3325256711u};
    a.samples[1] = (struct ds_alert_sample){.ts_ns = T0 + 60000000000ull,
                                            .src = A("192.0.2.10"),
                                            .dst = A("198.51.100.9"),
                                            .proto = 17,
                                            .ttl = 50,
                                            .sport = 5060,
                                            .dport = 5060,
                                            .ip_id = 7};
    a.n_samples = 2;
    return a;
}

/* A backscatter alert on an IPv6 address. */
static struct ds_alert backscatter_alert(void)
{
    struct ds_alert a = base_alert();
    a.id = 44;
    a.kase = DS_CASE_BACKSCATTER;
    a.state = DS_ALERT_CONTINUING;
    a.severity = DS_SEV_CRITICAL;
    a.address = A("2001:db8:1::80");
    a.protos = 1u << DS_PROTO_TCP;
    a.classes = DS_CLASS_BIT(DS_CLASS_BACKSCATTER);
    a.fps = 0;
    a.scan_type = "none";
    a.ports[0] = (struct ds_alert_port){.proto = 6, .port = 4444, .packets = 1234};
    a.n_ports = 1;
    a.family = NULL;
    a.dos_basis = "rs-dos inference";
    a.dos_peak_ppm = 1200;
    a.samples[0] = (struct ds_alert_sample){.ts_ns = T0 + 11872004000ull,
                                            .src = A("2001:db8:1::80"),
                                            .dst = A("2001:db8:ffff::1"),
                                            .proto = 6,
                                            .ttl = 57,
                                            .tcp_flags = 0x12,
                                            .sport = 80,
                                            .dport = 4444,
                                            .win = 28800,
                                            .seq = 1};
    a.n_samples = 1;
    return a;
}

static json_t *alert_to_json(const struct ds_alert *a)
{
    char *out = NULL;
    size_t len = 0;
    struct ds_err err = {0};
    int rc = ds_alert_json(a, NULL, &out, &len, &err);
    if (rc != 0)
        fail_msg("ds_alert_json: %d %s", rc, err.msg);
    assert_int_equal(len, strlen(out));
    assert_null(strchr(out, '\n'));
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j)
        fail_msg("JSON does not parse: %s: %s", je.text, out);
    free(out);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        fail_msg("key %s is not a string", k);
    return json_string_value(v);
}

static json_int_t jnum(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("key %s is not an integer", k);
    return json_integer_value(v);
}

/* The alert's text body, from the shipped templates. */
static char *text_body(const struct ds_alert *a, char **subject)
{
    char *body = NULL;
    struct ds_err err = {0};
    int rc = ds_alert_text(a, NULL, subject, &body, &err);
    if (rc != 0)
        fail_msg("ds_alert_text: %d %s", rc, err.msg);
    return body;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* ---- JSON ---- */

static void test_json_keys(void **st)
{
    (void)st;
    struct ds_alert a = base_alert();
    json_t *j = alert_to_json(&a);
    assert_int_equal(json_object_size(j), 26);
    assert_int_equal(jnum(j, "version"), 1);
    assert_int_equal(jnum(j, "id"), 42);
    assert_string_equal(jstr(j, "organisation"), "Example City");
    assert_int_equal(jnum(j, "organisation_id"), 7);
    assert_string_equal(jstr(j, "lang"), "en");
    assert_string_equal(jstr(j, "address"), "192.0.2.10");
    assert_string_equal(jstr(j, "case"), "internal");
    assert_string_equal(jstr(j, "state"), "new");
    assert_string_equal(jstr(j, "severity"), "high");
    assert_string_equal(jstr(j, "first_seen"), "2024-01-01T00:00:11.872004Z");
    assert_string_equal(jstr(j, "last_seen"), "2024-01-01T01:02:03.000000Z");
    assert_string_equal(jstr(j, "updated"), "2024-01-01T01:02:04.500000Z");
    assert_int_equal(jnum(j, "packets"), 1234);
    assert_int_equal(jnum(j, "bytes"), 74040);
    assert_int_equal(jnum(j, "targets"), 200);

    json_t *p = json_object_get(j, "protocols");
    assert_int_equal(json_array_size(p), 2);
    assert_string_equal(json_string_value(json_array_get(p, 0)), "tcp");
    assert_string_equal(json_string_value(json_array_get(p, 1)), "udp");

    json_t *ports = json_object_get(j, "ports");
    assert_int_equal(json_array_size(ports), 3);
    const char *pp[] = {"tcp", "tcp", "udp"};
    const int pn[] = {23, 2323, 5060}, pk[] = {1000, 200, 34};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(ports, i);
        assert_int_equal(json_object_size(e), 3);
        assert_string_equal(jstr(e, "proto"), pp[i]);
        assert_int_equal(jnum(e, "port"), pn[i]);
        assert_int_equal(jnum(e, "packets"), pk[i]);
    }

    json_t *cl = json_object_get(j, "classes");
    assert_int_equal(json_array_size(cl), 2);
    assert_string_equal(json_string_value(json_array_get(cl, 0)), "tcp_syn");
    assert_string_equal(json_string_value(json_array_get(cl, 1)), "udp");

    json_t *fp = json_object_get(j, "fingerprints");
    assert_int_equal(json_array_size(fp), 2);
    assert_string_equal(jstr(json_array_get(fp, 0), "name"), "mirai");
    assert_string_equal(jstr(json_array_get(fp, 0), "description"),
                        "Mirai-like: TCP sequence number equals the destination address");
    assert_string_equal(jstr(json_array_get(fp, 1), "name"), "zmap");
    assert_string_equal(jstr(json_array_get(fp, 1), "description"),
                        "ZMap: IP ID 54321 and window 65535");

    assert_string_equal(jstr(j, "scan_type"), "horizontal");
    assert_string_equal(jstr(j, "family"), "mirai");
    assert_true(json_is_null(json_object_get(j, "backscatter_basis")));
    assert_true(json_is_null(json_object_get(j, "backscatter_peak_ppm")));

    json_t *sm = json_object_get(j, "samples");
    assert_int_equal(json_array_size(sm), 2);
    json_t *s0 = json_array_get(sm, 0);
    assert_int_equal(json_object_size(s0), 11);
    assert_string_equal(jstr(s0, "time"), "2024-01-01T00:00:11.872004Z");
    assert_string_equal(jstr(s0, "src"), "192.0.2.10");
    assert_string_equal(jstr(s0, "dst"), "198.51.100.7");
    assert_string_equal(jstr(s0, "proto"), "tcp");
    assert_int_equal(jnum(s0, "ttl"), 52);
    assert_int_equal(jnum(s0, "ip_id"), 4321);
    assert_int_equal(jnum(s0, "sport"), 41234);
    assert_int_equal(jnum(s0, "dport"), 23);
    assert_int_equal(jnum(s0, "tcp_flags"), 2);
    assert_int_equal(jnum(s0, "seq"), 3325256711);
    assert_int_equal(jnum(s0, "win"), 5840);
    json_t *s1 = json_array_get(sm, 1);
    assert_int_equal(json_object_size(s1), 8);
    assert_string_equal(jstr(s1, "time"), "2024-01-01T00:01:00.000000Z");
    assert_string_equal(jstr(s1, "proto"), "udp");
    assert_int_equal(jnum(s1, "sport"), 5060);
    assert_int_equal(jnum(s1, "dport"), 5060);
    assert_null(json_object_get(s1, "seq"));

    json_t *im = json_object_get(j, "intelmq");
    assert_int_equal(json_object_size(im), 16);
    assert_string_equal(jstr(im, "source.ip"), "192.0.2.10");
    assert_int_equal(jnum(im, "destination.port"), 23);
    assert_string_equal(jstr(im, "protocol.transport"), "tcp");
    assert_string_equal(jstr(im, "classification.taxonomy"), "information-gathering");
    assert_string_equal(jstr(im, "classification.type"), "scanner");
    assert_string_equal(jstr(im, "classification.identifier"), "darknet-internal");
    assert_string_equal(jstr(im, "feed.name"), "darkscope");
    assert_string_equal(jstr(im, "time.source"), "2024-01-01T00:00:11.872004Z");
    assert_string_equal(jstr(im, "time.observation"), "2024-01-01T01:02:03.000000Z");
    assert_int_equal(jnum(im, "extra.packets"), 1234);
    assert_int_equal(jnum(im, "extra.targets"), 200);
    assert_string_equal(jstr(im, "extra.state"), "new");
    assert_string_equal(jstr(im, "extra.severity"), "high");
    assert_string_equal(jstr(im, "extra.fingerprints"), "mirai;zmap");
    assert_int_equal(jnum(im, "extra.alert_id"), 42);
    assert_string_equal(jstr(im, "extra.organisation"), "Example City");

    /* the response: the shipped English internal template, substituted, and the same text
     * the e-mail body ends with */
    const char *resp = jstr(j, "response");
    const char *resp_start = "WHAT THIS MEANS\n\nThe address 192.0.2.10 of Example City sent 1234 "
                             "packets to\naddresses in your own network that are not in use (your "
                             "darknet) between\n2024-01-01T00:00:11.872004Z and "
                             "2024-01-01T01:02:03.000000Z (UTC).\n";
    assert_true(strncmp(resp, resp_start, strlen(resp_start)) == 0);
    assert_null(strstr(resp, "{{"));
    assert_true(resp[strlen(resp) - 1] != '\n');
    char *subject, *body = text_body(&a, &subject);
    char *tail = malloc(strlen(resp) + 2);
    sprintf(tail, "%s\n", resp);
    assert_true(ends_with(body, tail));
    free(tail);
    free(subject);
    free(body);
    json_decref(j);
}

static void test_json_backscatter_v6(void **st)
{
    (void)st;
    struct ds_alert a = backscatter_alert();
    a.lang = "ja-JP";
    json_t *j = alert_to_json(&a);
    assert_string_equal(jstr(j, "address"), "2001:db8:1::80");
    assert_string_equal(jstr(j, "case"), "backscatter");
    assert_string_equal(jstr(j, "state"), "continuing");
    assert_string_equal(jstr(j, "severity"), "critical");
    assert_string_equal(jstr(j, "lang"), "ja");
    assert_string_equal(jstr(j, "backscatter_basis"), "rs-dos inference");
    assert_int_equal(jnum(j, "backscatter_peak_ppm"), 1200);
    assert_true(json_is_null(json_object_get(j, "family")));
    assert_int_equal(json_array_size(json_object_get(j, "fingerprints")), 0);
    json_t *s0 = json_array_get(json_object_get(j, "samples"), 0);
    assert_int_equal(json_object_size(s0), 10); /* no ip_id over IPv6 */
    assert_null(json_object_get(s0, "ip_id"));
    assert_int_equal(jnum(s0, "tcp_flags"), 0x12);
    json_t *im = json_object_get(j, "intelmq");
    assert_int_equal(json_object_size(im), 15); /* no extra.fingerprints */
    assert_string_equal(jstr(im, "classification.taxonomy"), "availability");
    assert_string_equal(jstr(im, "classification.type"), "ddos");
    assert_string_equal(jstr(im, "classification.identifier"), "darknet-backscatter");
    assert_string_equal(jstr(im, "source.ip"), "2001:db8:1::80");
    assert_int_equal(jnum(im, "destination.port"), 4444);
    assert_null(json_object_get(im, "extra.fingerprints"));
    const char *resp = jstr(j, "response");
    assert_true(
        strncmp(resp, "■ この通知の意味\n\nExample City のアドレス 2001:db8:1::80 から",
                strlen("■ この通知の意味\n\nExample City のアドレス 2001:db8:1::80 から")) == 0);
    json_decref(j);
}

/* NULL family and NULL scan type are JSON null; no ports/protocols: no IntelMQ port or
 * transport. */
static void test_json_nulls(void **st)
{
    (void)st;
    struct ds_alert a = base_alert();
    a.family = NULL;
    a.scan_type = NULL;
    a.updated_ns = 0;
    a.n_ports = 0;
    a.protos = 0;
    a.n_samples = 0;
    json_t *j = alert_to_json(&a);
    assert_int_equal(json_object_size(j), 26);
    assert_true(json_is_null(json_object_get(j, "family")));
    assert_true(json_is_null(json_object_get(j, "scan_type")));
    assert_true(json_is_null(json_object_get(j, "updated")));
    assert_int_equal(json_array_size(json_object_get(j, "ports")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "samples")), 0);
    json_t *im = json_object_get(j, "intelmq");
    assert_null(json_object_get(im, "destination.port"));
    assert_null(json_object_get(im, "protocol.transport"));
    json_decref(j);

    /* without ports the transport comes from the protocols seen */
    a.protos = 1u << DS_PROTO_ICMP6;
    j = alert_to_json(&a);
    assert_string_equal(jstr(json_object_get(j, "intelmq"), "protocol.transport"), "ipv6-icmp");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "protocols"), 0)),
                        "icmp6");
    json_decref(j);
}

static void test_json_escaping(void **st)
{
    (void)st;
    struct ds_alert a = base_alert();
    a.org_name = "Say \"hi\" \\ 東京都\t";
    char *out;
    size_t len;
    struct ds_err err = {0};
    assert_int_equal(ds_alert_json(&a, NULL, &out, &len, &err), 0);
    assert_non_null(strstr(out, "\"organisation\":\"Say \\\"hi\\\" \\\\ 東京都\\t\""));
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(jstr(j, "organisation"), "Say \"hi\" \\ 東京都\t");
    assert_string_equal(jstr(json_object_get(j, "intelmq"), "extra.organisation"),
                        "Say \"hi\" \\ 東京都\t");
    assert_non_null(strstr(jstr(j, "response"), "of Say \"hi\" \\ 東京都\t sent"));
    json_decref(j);
    free(out);
}

static void test_bad_alerts(void **st)
{
    (void)st;
    struct ds_err err = {0};
    char *out = (char *)"x";
    size_t len = 9;
    struct ds_alert a = base_alert();
    a.org_name = "bad \xff utf-8";
    assert_int_equal(ds_alert_json(&a, NULL, &out, &len, &err), -EINVAL);
    assert_string_equal(err.msg, "alert 42: organisation name is not valid UTF-8");
    assert_null(out);
    assert_int_equal(len, 0);
    a = base_alert();
    a.kase = DS_CASE_COUNT;
    assert_int_equal(ds_alert_xml(&a, NULL, &out, &err), -EINVAL);
    assert_string_equal(err.msg, "alert 42: case 3 out of range");
    a = base_alert();
    a.org_name = NULL;
    assert_int_equal(ds_alert_csv_row(&a, &out, &err), -EINVAL);
    assert_string_equal(err.msg, "alert 42: no organisation name");
    a = base_alert();
    a.n_samples = DS_ALERT_SAMPLES + 1;
    char *subject, *body;
    assert_int_equal(ds_alert_text(&a, NULL, &subject, &body, &err), -EINVAL);
    assert_null(subject);
    assert_null(body);
}

/* ---- CSV ---- */

/* Splits one RFC 4180 record (ending in CRLF) into fields; returns the count. */
static size_t csv_parse(const char *s, char fields[][128], size_t max)
{
    size_t n = 0;
    const char *p = s;
    for (;;) {
        assert_true(n < max);
        size_t k = 0;
        if (*p == '"') {
            p++;
            for (;;) {
                assert_true(*p != '\0');
                if (*p == '"' && p[1] == '"') {
                    fields[n][k++] = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    fields[n][k++] = *p++;
                }
            }
        } else {
            while (*p && *p != ',' && *p != '\r')
                fields[n][k++] = *p++;
        }
        fields[n++][k] = '\0';
        if (*p == ',') {
            p++;
            continue;
        }
        assert_string_equal(p, "\r\n");
        return n;
    }
}

static void test_csv(void **st)
{
    (void)st;
    char *out;
    struct ds_err err = {0};
    assert_int_equal(ds_alert_csv_header(&out, &err), 0);
    assert_string_equal(out, "time.source,time.observation,source.ip,classification.taxonomy,"
                             "classification.type,classification.identifier,protocol.transport,"
                             "destination.port,extra.packets,extra.targets,extra.state,"
                             "extra.severity,extra.fingerprints,extra.alert_id,feed.name,"
                             "extra.organisation\r\n");
    free(out);

    struct ds_alert a = base_alert();
    a.org_name = "Foo, \"Bar\" Univ";
    assert_int_equal(ds_alert_csv_row(&a, &out, &err), 0);
    assert_string_equal(out, "2024-01-01T00:00:11.872004Z,2024-01-01T01:02:03.000000Z,"
                             "192.0.2.10,information-gathering,scanner,darknet-internal,tcp,23,"
                             "1234,200,new,high,mirai;zmap,42,darkscope,"
                             "\"Foo, \"\"Bar\"\" Univ\"\r\n");
    char f[20][128];
    assert_int_equal(csv_parse(out, f, 20), 16);
    const char *want[16] = {"2024-01-01T00:00:11.872004Z",
                            "2024-01-01T01:02:03.000000Z",
                            "192.0.2.10",
                            "information-gathering",
                            "scanner",
                            "darknet-internal",
                            "tcp",
                            "23",
                            "1234",
                            "200",
                            "new",
                            "high",
                            "mirai;zmap",
                            "42",
                            "darkscope",
                            "Foo, \"Bar\" Univ"};
    for (int i = 0; i < 16; i++)
        assert_string_equal(f[i], want[i]);
    free(out);

    /* a line break inside a field is quoted too; no ports/fingerprints: empty cells */
    a = backscatter_alert();
    a.org_name = "Line\r\nBreak";
    a.n_ports = 0;
    a.protos = 0;
    assert_int_equal(ds_alert_csv_row(&a, &out, &err), 0);
    assert_string_equal(out, "2024-01-01T00:00:11.872004Z,2024-01-01T01:02:03.000000Z,"
                             "2001:db8:1::80,availability,ddos,darknet-backscatter,,,1234,200,"
                             "continuing,critical,,44,darkscope,\"Line\r\nBreak\"\r\n");
    free(out);
}

/* ---- XML ---- */

static void test_xml(void **st)
{
    (void)st;
    struct ds_alert a = base_alert();
    a.org_name = "A&B <\"x\"> 'y'\x01";
    a.family = "x<y";
    char *out;
    struct ds_err err = {0};
    assert_int_equal(ds_alert_xml(&a, NULL, &out, &err), 0);
    const char *head = "<alert version=\"1\" id=\"42\">\n"
                       "  <organisation id=\"7\">A&amp;B &lt;&quot;x&quot;&gt; &apos;y&apos;"
                       "\xef\xbf\xbd</organisation>\n"
                       "  <lang>en</lang>\n"
                       "  <address>192.0.2.10</address>\n"
                       "  <case>internal</case>\n"
                       "  <state>new</state>\n"
                       "  <severity>high</severity>\n"
                       "  <first_seen>2024-01-01T00:00:11.872004Z</first_seen>\n"
                       "  <last_seen>2024-01-01T01:02:03.000000Z</last_seen>\n"
                       "  <updated>2024-01-01T01:02:04.500000Z</updated>\n"
                       "  <packets>1234</packets>\n"
                       "  <bytes>74040</bytes>\n"
                       "  <targets>200</targets>\n"
                       "  <protocols>\n"
                       "    <protocol>tcp</protocol>\n"
                       "    <protocol>udp</protocol>\n"
                       "  </protocols>\n"
                       "  <ports>\n"
                       "    <port proto=\"tcp\" port=\"23\" packets=\"1000\"/>\n"
                       "    <port proto=\"tcp\" port=\"2323\" packets=\"200\"/>\n"
                       "    <port proto=\"udp\" port=\"5060\" packets=\"34\"/>\n"
                       "  </ports>\n"
                       "  <classes>\n"
                       "    <class>tcp_syn</class>\n"
                       "    <class>udp</class>\n"
                       "  </classes>\n"
                       "  <fingerprints>\n"
                       "    <fingerprint name=\"mirai\">Mirai-like: TCP sequence number equals "
                       "the destination address</fingerprint>\n"
                       "    <fingerprint name=\"zmap\">ZMap: IP ID 54321 and window "
                       "65535</fingerprint>\n"
                       "  </fingerprints>\n"
                       "  <scan_type>horizontal</scan_type>\n"
                       "  <family>x&lt;y</family>\n"
                       "  <samples>\n"
                       "    <sample time=\"2024-01-01T00:00:11.872004Z\" src=\"192.0.2.10\" "
                       "dst=\"198.51.100.7\" proto=\"tcp\" ttl=\"52\" ip_id=\"4321\" "
                       "sport=\"41234\" dport=\"23\" tcp_flags=\"2\" seq=\"3325256711\" "
                       "win=\"5840\"/>\n"
                       "    <sample time=\"2024-01-01T00:01:00.000000Z\" src=\"192.0.2.10\" "
                       "dst=\"198.51.100.9\" proto=\"udp\" ttl=\"50\" ip_id=\"7\" "
                       "sport=\"5060\" dport=\"5060\"/>\n"
                       "  </samples>\n"
                       "  <intelmq>\n"
                       "    <field name=\"time.source\">2024-01-01T00:00:11.872004Z</field>\n";
    assert_true(strncmp(out, head, strlen(head)) == 0);
    assert_non_null(strstr(out, "    <field name=\"extra.organisation\">A&amp;B &lt;&quot;x&quot;"
                                "&gt; &apos;y&apos;\xef\xbf\xbd</field>\n"
                                "  </intelmq>\n"
                                "  <response lang=\"en\">WHAT THIS MEANS\n\nThe address "
                                "192.0.2.10 of A&amp;B &lt;&quot;x&quot;&gt; &apos;y&apos;"));
    assert_true(ends_with(out, "please quote the alert number.</response>\n</alert>\n"));
    /* nothing unescaped from the name got through */
    assert_null(strstr(out, "A&B"));
    assert_null(strstr(out, "\x01"));
    free(out);

    /* the backscatter element */
    a = backscatter_alert();
    assert_int_equal(ds_alert_xml(&a, NULL, &out, &err), 0);
    assert_non_null(strstr(out, "  <backscatter basis=\"rs-dos inference\" peak_ppm=\"1200\"/>\n"));
    assert_non_null(strstr(out, "  <fingerprints/>\n"));
    assert_null(strstr(out, "<family>"));
    free(out);
}

/* ---- templates and text ---- */

struct tdir {
    char root[64];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* A scratch templates directory with en/internal.txt and ja/internal.txt. */
static void tdir_make(struct tdir *t, const char *en, const char *ja)
{
    char p[128];
    snprintf(t->root, sizeof t->root, "/tmp/ds-test-format-XXXXXX");
    assert_non_null(mkdtemp(t->root));
    snprintf(p, sizeof p, "%s/en", t->root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/ja", t->root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/en/internal.txt", t->root);
    write_file(p, en);
    snprintf(p, sizeof p, "%s/ja/internal.txt", t->root);
    write_file(p, ja);
}

static void tdir_remove(struct tdir *t)
{
    char p[128];
    const char *files[] = {"en/internal.txt", "ja/internal.txt", "en", "ja"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", t->root, files[i]);
        assert_int_equal(remove(p), 0);
    }
    assert_int_equal(rmdir(t->root), 0);
}

/* BOM dropped, CRLF -> LF, trailing blank lines dropped; known placeholders replaced once
 * (values not re-scanned), unknown and malformed ones left as they are. */
static const char *tmpl_en = "\xef\xbb\xbf"
                             "Dear {{organisation}}:\r\n"
                             "{{address}} {{case}} {{first_seen}} {{last_seen}} {{packets}}\r\n"
                             "{{unknown}} {{ packets}} {{{address}}} {{packets\r\n"
                             "\r\n\r\n";
static const char *tmpl_ja = "{{organisation}} 御中\n{{address}} から {{packets}} パケット。"
                             "{{謎}}\n";

static void test_text_en(void **st)
{
    (void)st;
    struct tdir t;
    tdir_make(&t, tmpl_en, tmpl_ja);
    struct ds_alert a = base_alert();
    a.org_name = "Example {{address}} City";
    a.lang = "fr"; /* not offered: English */
    char *subject, *body;
    struct ds_err err = {0};
    assert_int_equal(ds_alert_text(&a, t.root, &subject, &body, &err), 0);
    assert_string_equal(subject, "[darkscope #42] New: internal scanning from 192.0.2.10 "
                                 "(Example {{address}} City), severity high");
    assert_string_equal(
        body,
        "darkscope alert 42\n"
        "\n"
        "Organisation:  Example {{address}} City\n"
        "Address:       192.0.2.10\n"
        "Case:          internal - this address sent packets to unused addresses inside your "
        "own network\n"
        "State:         new - the first notice for this address and case\n"
        "Severity:      high\n"
        "First seen:    2024-01-01T00:00:11.872004Z\n"
        "Last seen:     2024-01-01T01:02:03.000000Z\n"
        "Packets:       1234 (74040 bytes)\n"
        "Targets:       200 unused (darknet) addresses\n"
        "Protocols:     tcp, udp\n"
        "Top ports:     tcp/23 (1000 packets), tcp/2323 (200 packets), udp/5060 (34 packets)\n"
        "Classes:       tcp_syn, udp\n"
        "Fingerprints:  mirai (Mirai-like: TCP sequence number equals the destination address)\n"
        "               zmap (ZMap: IP ID 54321 and window 65535)\n"
        "Scan type:     horizontal (the same ports on many addresses)\n"
        "Malware:       mirai (suspected)\n"
        "Sample packets (headers):\n"
        "  2024-01-01T00:00:11.872004Z tcp 192.0.2.10:41234 -> 198.51.100.7:23 ttl 52 flags SYN "
        "seq 3325256711 win 5840 id 4321\n"
        "  2024-01-01T00:01:00.000000Z udp 192.0.2.10:5060 -> 198.51.100.9:5060 ttl 50 id 7\n"
        "\n"
        "----------------------------------------------------------------------\n"
        "\n"
        "Dear Example {{address}} City:\n"
        "192.0.2.10 internal 2024-01-01T00:00:11.872004Z 2024-01-01T01:02:03.000000Z 1234\n"
        "{{unknown}} {{ packets}} {192.0.2.10} {{packets\n");
    free(subject);
    free(body);

    /* a subject stays one line whatever the organisation is called */
    a.org_name = "Evil\r\nBcc: x";
    assert_int_equal(ds_alert_text(&a, t.root, &subject, &body, &err), 0);
    assert_string_equal(subject, "[darkscope #42] New: internal scanning from 192.0.2.10 "
                                 "(Evil  Bcc: x), severity high");
    free(subject);
    free(body);
    tdir_remove(&t);
}

static void test_text_ja(void **st)
{
    (void)st;
    struct tdir t;
    tdir_make(&t, tmpl_en, tmpl_ja);
    struct ds_alert a = base_alert();
    a.org_name = "東京都サンプル市";
    a.lang = "ja";
    a.state = DS_ALERT_REOPENED;
    char *subject, *body;
    struct ds_err err = {0};
    assert_int_equal(ds_alert_text(&a, t.root, &subject, &body, &err), 0);
    assert_string_equal(subject, "[darkscope #42]【再発】192.0.2.10 から組織内へのスキャン"
                                 "（東京都サンプル市、重要度：高）");
    assert_string_equal(body, "darkscope アラート 42\n"
                              "\n"
                              "組織名：東京都サンプル市\n"
                              "対象アドレス：192.0.2.10\n"
                              "種別：内部（組織内の未使用アドレス宛てに送信しています）\n"
                              "状態：再発（終了した後、再び観測されました）\n"
                              "重要度：高\n"
                              "初回観測：2024-01-01T00:00:11.872004Z（日本時間 2024-01-01 "
                              "09:00:11）\n"
                              "最終観測：2024-01-01T01:02:03.000000Z（日本時間 2024-01-01 "
                              "10:02:03）\n"
                              "パケット数：1234（74040 バイト）\n"
                              "宛先アドレス数：200（未使用アドレス）\n"
                              "プロトコル：tcp, udp\n"
                              "主な宛先ポート：tcp/23 (1000 パケット), tcp/2323 (200 パケット), "
                              "udp/5060 (34 パケット)\n"
                              "通信の分類：tcp_syn, udp\n"
                              "ツール・マルウェアの特徴：mirai (Mirai-like: TCP sequence number "
                              "equals the destination address)\n"
                              "  zmap (ZMap: IP ID 54321 and window 65535)\n"
                              "スキャンの種類：水平スキャン（多数のアドレスの同じポートを探索）\n"
                              "推定マルウェア：mirai（推定）\n"
                              "観測パケットの例（ヘッダ）：\n"
                              "  2024-01-01T00:00:11.872004Z tcp 192.0.2.10:41234 -> "
                              "198.51.100.7:23 ttl 52 flags SYN seq 3325256711 win 5840 id 4321\n"
                              "  2024-01-01T00:01:00.000000Z udp 192.0.2.10:5060 -> "
                              "198.51.100.9:5060 ttl 50 id 7\n"
                              "\n"
                              "------------------------------------------------------------------"
                              "----\n"
                              "\n"
                              "東京都サンプル市 御中\n"
                              "192.0.2.10 から 1234 パケット。{{謎}}\n");
    free(subject);
    free(body);
    tdir_remove(&t);
}

static void test_text_shipped(void **st)
{
    (void)st;
    /* the shipped backscatter template in Japanese, with the IPv6 sample and DoS lines */
    struct ds_alert a = backscatter_alert();
    a.lang = "JA";
    char *subject, *body = text_body(&a, &subject);
    assert_string_equal(subject, "[darkscope #44]【継続】2001:db8:1::80 への DoS 攻撃"
                                 "（バックスキャッタ）（Example City、重要度：緊急）");
    assert_non_null(strstr(body, "\nDoS 判定の根拠：rs-dos inference\n"
                                 "最大レート：1200 パケット/分\n"));
    assert_non_null(strstr(body, "\n  2024-01-01T00:00:11.872004Z tcp [2001:db8:1::80]:80 -> "
                                 "[2001:db8:ffff::1]:4444 ttl 57 flags SYN,ACK seq 1 win 28800\n"));
    assert_non_null(strstr(body, "\n■ この通知の意味\n\nExample City のアドレス 2001:db8:1::80 "
                                 "から、当方の使われていない\nアドレス宛てに、"
                                 "2024-01-01T00:00:11.872004Z から 2024-01-01T01:02:03.000000Z "
                                 "まで（UTC）の間に\n1234 パケットが届きました。"));
    assert_null(strstr(body, "{{"));
    assert_true(ends_with(body, "お問い合わせの際は、アラート番号をお書き添えください。\n"));
    free(subject);
    free(body);
}

/* Every shipped template exists, is found for every case and language, and uses only the
 * documented placeholders. */
static void test_templates_shipped(void **st)
{
    (void)st;
    static const char *const known[] = {"organisation", "address",   "case",
                                        "first_seen",   "last_seen", "packets"};
    const char *langs[] = {"en", "ja"};
    for (int l = 0; l < 2; l++) {
        for (int k = 0; k < DS_CASE_COUNT; k++) {
            char path[512];
            snprintf(path, sizeof path, "%s/templates/%s/%s.txt", DS_DATA_DIR, langs[l],
                     ds_case_names[k]);
            FILE *f = fopen(path, "r");
            if (!f)
                fail_msg("missing template %s", path);
            char buf[16384];
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = '\0';
            assert_true(n > 500);
            for (const char *p = strstr(buf, "{{"); p; p = strstr(p + 2, "{{")) {
                bool ok = false;
                for (size_t i = 0; i < 6; i++) {
                    size_t m = strlen(known[i]);
                    if (strncmp(p + 2, known[i], m) == 0 && strncmp(p + 2 + m, "}}", 2) == 0)
                        ok = true;
                }
                if (!ok)
                    fail_msg("%s: unknown placeholder at %.20s", path, p);
            }
            struct ds_alert a = base_alert();
            a.kase = (enum ds_alert_case)k;
            a.lang = langs[l];
            char *subject, *body = text_body(&a, &subject);
            assert_null(strstr(body, "{{"));
            free(subject);
            free(body);
        }
    }
}

static void test_template_missing(void **st)
{
    (void)st;
    struct ds_alert a = base_alert();
    char *subject = (char *)"x", *body = (char *)"y";
    struct ds_err err = {0};
    assert_int_equal(ds_alert_text(&a, "/nonexistent/ds-templates", &subject, &body, &err),
                     -ENOENT);
    assert_string_equal(err.msg, "alert template /nonexistent/ds-templates/en/internal.txt: No "
                                 "such file or directory");
    assert_null(subject);
    assert_null(body);

    /* present for one language, missing for the other: no silent fallback */
    struct tdir t;
    tdir_make(&t, tmpl_en, tmpl_ja);
    a.kase = DS_CASE_EXTERNAL;
    assert_int_equal(ds_alert_text(&a, t.root, &subject, &body, &err), -ENOENT);
    char want[256];
    snprintf(want, sizeof want, "alert template %s/en/external.txt: No such file or directory",
             t.root);
    assert_string_equal(err.msg, want);

    /* a directory where the file should be */
    a.kase = DS_CASE_INTERNAL;
    char p[128];
    snprintf(p, sizeof p, "%s/en/internal.txt", t.root);
    assert_int_equal(remove(p), 0);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(ds_alert_text(&a, t.root, &subject, &body, &err), -EISDIR);
    snprintf(want, sizeof want, "alert template %s/en/internal.txt: not a regular file", t.root);
    assert_string_equal(err.msg, want);
    assert_int_equal(rmdir(p), 0);

    /* not UTF-8 */
    write_file(p, "caf\xe9 {{address}}\n");
    assert_int_equal(ds_alert_text(&a, t.root, &subject, &body, &err), -EINVAL);
    snprintf(want, sizeof want, "alert template %s/en/internal.txt: not UTF-8 text", t.root);
    assert_string_equal(err.msg, want);
    tdir_remove(&t);
}

static void test_response_lang(void **st)
{
    (void)st;
    assert_string_equal(ds_response_lang("ja"), "ja");
    assert_string_equal(ds_response_lang("JA"), "ja");
    assert_string_equal(ds_response_lang("ja-JP"), "ja");
    assert_string_equal(ds_response_lang("ja_JP.UTF-8"), "ja");
    assert_string_equal(ds_response_lang("en"), "en");
    assert_string_equal(ds_response_lang("jav"), "en");
    assert_string_equal(ds_response_lang("j"), "en");
    assert_string_equal(ds_response_lang(""), "en");
    assert_string_equal(ds_response_lang(NULL), "en");
    assert_string_equal(ds_case_names[DS_CASE_BACKSCATTER], "backscatter");
    assert_string_equal(ds_alert_state_names[DS_ALERT_REOPENED], "reopened");
    assert_string_equal(ds_severity_names[DS_SEV_CRITICAL], "critical");
}

/* ---- digests ---- */

static void three_alerts(struct ds_alert al[3])
{
    al[0] = base_alert();
    al[0].state = DS_ALERT_CONTINUING;
    al[1] = base_alert();
    al[1].id = 43;
    al[1].kase = DS_CASE_EXTERNAL;
    al[1].state = DS_ALERT_CONTINUING;
    al[1].severity = DS_SEV_MEDIUM;
    al[1].address = A("192.0.2.11");
    al[1].packets = 77;
    al[1].n_ports = 0;
    al[2] = backscatter_alert();
}

static void test_digest_json(void **st)
{
    (void)st;
    struct ds_alert al[3];
    three_alerts(al);
    const struct ds_alert *ptr[3] = {&al[0], &al[1], &al[2]};
    char *out;
    size_t len;
    struct ds_err err = {0};
    assert_int_equal(
        ds_digest_json(ptr, 3, "Example City", "digest-7-2024-01-02", NULL, &out, &len, &err), 0);
    assert_int_equal(len, strlen(out));
    assert_null(strchr(out, '\n'));
    assert_true(strncmp(out,
                        "{\"version\":1,\"digest\":\"digest-7-2024-01-02\","
                        "\"organisation\":\"Example City\",\"count\":3,\"alerts\":[{\"version\":1,"
                        "\"id\":42,",
                        110) == 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 5);
    assert_int_equal(jnum(j, "version"), 1);
    assert_string_equal(jstr(j, "digest"), "digest-7-2024-01-02");
    assert_string_equal(jstr(j, "organisation"), "Example City");
    assert_int_equal(jnum(j, "count"), 3);
    json_t *arr = json_object_get(j, "alerts");
    assert_int_equal(json_array_size(arr), 3);
    const int ids[] = {42, 43, 44};
    const char *cases[] = {"internal", "external", "backscatter"};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(arr, i);
        assert_int_equal(jnum(e, "id"), ids[i]);
        assert_string_equal(jstr(e, "case"), cases[i]);
        json_t *single = alert_to_json(ptr[i]);
        assert_true(json_equal(e, single));
        json_decref(single);
    }
    json_decref(j);
    free(out);

    /* empty digest */
    assert_int_equal(ds_digest_json(NULL, 0, "Example City", "d0", NULL, &out, &len, &err), 0);
    assert_string_equal(out, "{\"version\":1,\"digest\":\"d0\",\"organisation\":\"Example City\","
                             "\"count\":0,\"alerts\":[]}");
    free(out);

    /* another organisation's alert never goes into this one's digest */
    al[1].org_name = "Other University";
    assert_int_equal(ds_digest_json(ptr, 3, "Example City", "d1", NULL, &out, &len, &err), -EINVAL);
    assert_string_equal(err.msg, "digest for \"Example City\": alert 43 belongs to \"Other "
                                 "University\"");
    assert_null(out);
}

static void test_digest_text(void **st)
{
    (void)st;
    struct ds_alert al[3];
    three_alerts(al);
    const struct ds_alert *ptr[3] = {&al[0], &al[1], &al[2]};
    char *subject, *body;
    struct ds_err err = {0};
    assert_int_equal(ds_digest_text(ptr, 3, "Example City", "en", &subject, &body, &err), 0);
    assert_string_equal(subject, "[darkscope] Digest for Example City: 3 continuing alerts");
    assert_string_equal(
        body, "darkscope digest for Example City\n"
              "\n"
              "The following alerts were reported to you earlier and are still active:\n"
              "packets from these addresses keep arriving. The attached CSV file has the\n"
              "details, one row per alert; its first line names the columns (IntelMQ\n"
              "field names).\n"
              "\n"
              "#42  192.0.2.10  internal (continuing)  severity high  1234 packets  last seen "
              "2024-01-01T01:02:03.000000Z  tcp/23\n"
              "#43  192.0.2.11  external (continuing)  severity medium  77 packets  last seen "
              "2024-01-01T01:02:03.000000Z\n"
              "#44  2001:db8:1::80  backscatter (continuing)  severity critical  1234 packets  "
              "last seen 2024-01-01T01:02:03.000000Z  tcp/4444\n"
              "\n"
              "If an address here has been dealt with already, please check it again:\n"
              "packets from it are still arriving. To ask for details or report a false\n"
              "alarm, quote the alert number.\n");
    free(subject);
    free(body);

    assert_int_equal(ds_digest_text(ptr, 1, "Example City", "ja", &subject, &body, &err), 0);
    assert_string_equal(subject, "[darkscope] 継続中のアラート 1 件のまとめ（Example City）");
    assert_string_equal(
        body, "darkscope 継続中のアラートのまとめ（Example City）\n"
              "\n"
              "以前お知らせした次の 1 件のアラートは現在も続いています（これらのアドレスからの"
              "パケットが引き続き観測されています）。\n"
              "詳細は添付の CSV ファイルをご覧ください。1 行が 1 件のアラートで、1 行目に列名"
              "（IntelMQ の項目名）があります。\n"
              "\n"
              "#42  192.0.2.10  内部（継続）  重要度：高  1234 パケット  最終観測 "
              "2024-01-01T01:02:03.000000Z  tcp/23\n"
              "\n"
              "対処済みのアドレスが含まれている場合は、あらためて状況をご確認ください。詳細が"
              "必要な場合や誤検知と思われる場合は、アラート番号を添えてご連絡ください。\n");
    free(subject);
    free(body);

    assert_int_equal(ds_digest_text(ptr, 1, "Example City", NULL, &subject, &body, &err), 0);
    assert_string_equal(subject, "[darkscope] Digest for Example City: 1 continuing alert");
    assert_non_null(strstr(body, "The following alert was reported to you earlier and is still "
                                 "active:\npackets from this address keep arriving."));
    free(subject);
    free(body);

    assert_int_equal(ds_digest_text(ptr, 3, "Other", "en", &subject, &body, &err), -EINVAL);
    assert_null(subject);
    assert_null(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_keys),
        cmocka_unit_test(test_json_backscatter_v6),
        cmocka_unit_test(test_json_nulls),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_bad_alerts),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_xml),
        cmocka_unit_test(test_text_en),
        cmocka_unit_test(test_text_ja),
        cmocka_unit_test(test_text_shipped),
        cmocka_unit_test(test_templates_shipped),
        cmocka_unit_test(test_template_missing),
        cmocka_unit_test(test_response_lang),
        cmocka_unit_test(test_digest_json),
        cmocka_unit_test(test_digest_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
