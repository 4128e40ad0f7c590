/* format_outbreak.c - outbreak-candidate alerts as JSON (schema version 2), IntelMQ CSV, XML and
 * e-mail text in English or Japanese, with the response template of the case "outbreak". */
#include "alert/format_outbreak.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/format.h"
#include "alert/templates.h"
#include "core/sbuf.h"
#include "core/timefmt.h"
#include "core/utf8.h"

#define TIME_LEN 40

/* ---- values ---- */

const char *ds_ob_measure(const struct ds_ob_alert *a)
{
    return a->name && !strcmp(a->name, "backscatter") ? "packets" : "sources";
}

double ds_ob_ratio(const struct ds_ob_alert *a)
{
    return (double)a->value / (a->baseline > 0.01 ? a->baseline : 0.01);
}

static int check(const struct ds_ob_alert *a, struct ds_err *err)
{
    if (!a || !a->org_name || !a->key || !a->dim || !a->name)
        return ds_err_set(err, -EINVAL, "outbreak alert: no organisation or series");
    if ((unsigned)a->state >= DS_ALERT_STATE_COUNT || (unsigned)a->severity >= DS_SEV_COUNT)
        return ds_err_set(err, -EINVAL,
                          "outbreak alert %" PRId64 ": state or severity out of range", a->id);
    const struct {
        const char *what, *s;
    } text[] = {{.what = "organisation name", .s = a->org_name},
                {.what = "series", .s = a->key},
                {.what = "dimension", .s = a->dim},
                {.what = "name", .s = a->name},
                {.what = "language", .s = a->lang}};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (text[i].s && !ds_utf8_valid(text[i].s, strlen(text[i].s)))
            return ds_err_set(err, -EINVAL, "outbreak alert %" PRId64 ": %s is not valid UTF-8",
                              a->id, text[i].what);
    return 0;
}

static const char *lang_of(const struct ds_ob_alert *a)
{
    return ds_response_lang(a->lang);
}

/* The series in words: "TCP port 2323", "the fingerprint mirai", "the class backscatter". */
static void what_rose(const struct ds_ob_alert *a, bool ja, char *buf, size_t cap)
{
    if (!strcmp(a->dim, "tcp") || !strcmp(a->dim, "udp"))
        snprintf(buf, cap, ja ? "%s %" PRId64 " 番ポート" : "%s port %" PRId64,
                 !strcmp(a->dim, "tcp") ? "TCP" : "UDP", a->dim_key);
    else if (!strcmp(a->dim, "fingerprint"))
        snprintf(buf, cap, ja ? "フィンガープリント %s" : "the fingerprint %s", a->name);
    else
        snprintf(buf, cap, ja ? "通信種別 %s" : "the class %s", a->name);
}

/* Reads TEMPLATES_DIR/LANG/outbreak.txt (templates.c: BOM dropped, CRLF -> LF, trailing space
 * cut, strict UTF-8) and
 * substitutes {{organisation}} {{series}} {{what}} {{interval_start}} {{interval_end}}
 * {{value}} {{baseline}} {{ratio}} {{measure}} {{first_seen}} {{last_seen}}. */
static int render(const struct ds_ob_alert *a, const char *templates_dir, char **out,
                  struct ds_err *err)
{
    *out = NULL;
    const char *dir = templates_dir ? templates_dir : DS_DATA_DIR "/templates";
    const char *lang = lang_of(a);
    char path[4096];
    int pn = snprintf(path, sizeof path, "%s/%s/outbreak.txt", dir, lang);
    if (pn < 0 || (size_t)pn >= sizeof path)
        return ds_err_set(err, -ENAMETOOLONG, "alert template directory %s: path too long", dir);
    struct ds_template_text tt; /* read, checked and normalised as the address cases' */
    int rc = ds_template_get(NULL, path, &tt, err);
    if (rc < 0)
        return rc;
    char what[96], is[TIME_LEN], ie[TIME_LEN], fs[TIME_LEN], ls[TIME_LEN], value[24], base[32],
        ratio[32];
    what_rose(a, !strcmp(lang, "ja"), what, sizeof what);
    ds_time_format(a->start_s, is, sizeof is);
    ds_time_format(a->start_s + 300, ie, sizeof ie);
    ds_time_format_ns(a->first_ns, fs, sizeof fs);
    ds_time_format_ns(a->last_ns, ls, sizeof ls);
    snprintf(value, sizeof value, "%" PRIu64, a->value);
    snprintf(base, sizeof base, "%.1f", a->baseline);
    snprintf(ratio, sizeof ratio, "%.1f", ds_ob_ratio(a));
    const struct ds_template_var subst[] = {
        {.name = "organisation", .value = a->org_name},
        {.name = "series", .value = a->key},
        {.name = "what", .value = what},
        {.name = "interval_start", .value = is},
        {.name = "interval_end", .value = ie},
        {.name = "value", .value = value},
        {.name = "baseline", .value = base},
        {.name = "ratio", .value = ratio},
        /* the measure in the text's language ("sources" / "packets" in the JSON) */
        {.name = "measure",
         .value = strcmp(lang, "ja")                    ? ds_ob_measure(a)
                  : strcmp(ds_ob_measure(a), "packets") ? "送信元"
                                                        : "パケット"},
        {.name = "first_seen", .value = fs},
        {.name = "last_seen", .value = ls},
    };
    struct ds_sbuf b = {0};
    ds_template_fill(&tt, subst, sizeof subst / sizeof subst[0], &b);
    free(tt.owned);
    return ds_sbuf_finish(&b, out, "outbreak alert template", err);
}

/* ---- JSON ---- */

static json_t *intelmq(const struct ds_ob_alert *a)
{
    char t[TIME_LEN];
    json_t *o = json_object();
    json_object_set_new(o, "feed.name", json_string("darkscope-outbreak-candidates"));
    json_object_set_new(o, "time.source", json_string(ds_time_format(a->start_s, t, sizeof t)));
    json_object_set_new(o, "classification.taxonomy", json_string("other"));
    json_object_set_new(o, "classification.type", json_string("undetermined"));
    json_object_set_new(o, "classification.identifier", json_string("outbreak-candidate"));
    if (!strcmp(a->dim, "tcp") || !strcmp(a->dim, "udp")) {
        json_object_set_new(o, "protocol.transport", json_string(a->dim));
        json_object_set_new(o, "destination.port", json_integer(a->dim_key));
    }
    json_object_set_new(o, "event_description.text", json_string(a->key));
    return o;
}

int ds_ob_alert_object(const struct ds_ob_alert *a, const char *templates_dir, json_t **out,
                       struct ds_err *err)
{
    *out = NULL;
    int rc = check(a, err);
    if (rc < 0)
        return rc;
    char *response;
    if ((rc = render(a, templates_dir, &response, err)) < 0)
        return rc;
    char t1[TIME_LEN], t2[TIME_LEN], t3[TIME_LEN], t4[TIME_LEN];
    json_t *ob =
        json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:f, s:f, s:f, s:I, s:I}", "dim", a->dim,
                  "key", (json_int_t)a->dim_key, "name", a->name, "measure", ds_ob_measure(a),
                  "interval_start", ds_time_format(a->start_s, t1, sizeof t1), "interval_end",
                  ds_time_format(a->start_s + 300, t2, sizeof t2), "value", (json_int_t)a->value,
                  "baseline", a->baseline, "ratio", ds_ob_ratio(a), "score", a->score, "peak",
                  (json_int_t)a->peak, "candidates", (json_int_t)a->candidates);
    json_t *o = json_pack(
        "{s:i, s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o, s:o, s:s}",
        "version", DS_OB_ALERT_JSON_VERSION, "id", (json_int_t)a->id, "organisation", a->org_name,
        "organisation_id", (json_int_t)a->org_id, "lang", lang_of(a), "address", a->key, "case",
        "outbreak", "state", ds_alert_state_names[a->state], "severity",
        ds_severity_names[a->severity], "first_seen", ds_time_format_ns(a->first_ns, t3, sizeof t3),
        "last_seen", ds_time_format_ns(a->last_ns, t4, sizeof t4), "packets",
        (json_int_t)a->packets, "outbreak", ob, "top_hosts",
        a->hosts ? json_incref(a->hosts) : json_array(), "intelmq", intelmq(a), "response",
        response);
    free(response);
    if (!o)
        return ds_err_set(err, -ENOMEM, "outbreak alert %" PRId64 ": out of memory", a->id);
    *out = o;
    return 0;
}

static int dump(json_t *o, char **out, size_t *len, struct ds_err *err)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return ds_err_set(err, -ENOMEM, "outbreak alert JSON: out of memory");
    *out = s;
    if (len)
        *len = strlen(s);
    return 0;
}

int ds_ob_alert_json(const struct ds_ob_alert *a, const char *templates_dir, char **out,
                     size_t *len, struct ds_err *err)
{
    *out = NULL;
    json_t *o;
    int rc = ds_ob_alert_object(a, templates_dir, &o, err);
    return rc < 0 ? rc : dump(o, out, len, err);
}

static int check_digest(const struct ds_ob_alert *const *v, size_t n, const char *org,
                        struct ds_err *err)
{
    if (!org)
        return ds_err_set(err, -EINVAL, "outbreak digest: no organisation");
    if (!ds_utf8_valid(org, strlen(org)))
        return ds_err_set(err, -EINVAL, "outbreak digest: organisation name is not valid UTF-8");
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || !v[i]->org_name || strcmp(v[i]->org_name, org))
            return ds_err_set(err, -EINVAL,
                              "outbreak digest for '%s': alert of another organisation", org);
        int rc = check(v[i], err); /* every line of the digest prints its fields */
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ds_ob_digest_json(const struct ds_ob_alert *const *v, size_t n, const char *org,
                      const char *digest_id, const char *templates_dir, char **out, size_t *len,
                      struct ds_err *err)
{
    *out = NULL;
    int rc = check_digest(v, n, org, err);
    if (rc < 0)
        return rc;
    if (!digest_id || !ds_utf8_valid(digest_id, strlen(digest_id)))
        return ds_err_set(err, -EINVAL, "outbreak digest for '%s': no digest id, or not UTF-8",
                          org);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o;
        if ((rc = ds_ob_alert_object(v[i], templates_dir, &o, err)) < 0) {
            json_decref(arr);
            return rc;
        }
        json_array_append_new(arr, o);
    }
    json_t *d =
        json_pack("{s:i, s:s, s:s, s:I, s:o}", "version", DS_OB_ALERT_JSON_VERSION, "digest",
                  digest_id, "organisation", org, "count", (json_int_t)n, "alerts", arr);
    if (!d)
        return ds_err_set(err, -ENOMEM, "outbreak digest: out of memory");
    return dump(d, out, len, err);
}

/* ---- CSV (RFC 4180, IntelMQ field names) ---- */

static const char *const csv_cols[] = {"time.source",
                                       "classification.taxonomy",
                                       "classification.type",
                                       "classification.identifier",
                                       "protocol.transport",
                                       "destination.port",
                                       "event_description.text",
                                       "extra.value",
                                       "extra.measure",
                                       "extra.baseline",
                                       "extra.ratio",
                                       "extra.score",
                                       "extra.state",
                                       "extra.severity",
                                       "extra.alert_id",
                                       "extra.top_hosts",
                                       "feed.name",
                                       "extra.organisation",
                                       NULL};

static void csv_cell(struct ds_sbuf *b, const char *s, bool first)
{
    if (!first)
        ds_sbuf_puts(b, ",");
    if (!strpbrk(s, ",\"\r\n")) {
        ds_sbuf_puts(b, s);
        return;
    }
    ds_sbuf_puts(b, "\"");
    for (; *s; s++)
        ds_sbuf_add(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
    ds_sbuf_puts(b, "\"");
}

int ds_ob_alert_csv_header(char **out, struct ds_err *err)
{
    struct ds_sbuf b = {0};
    for (int i = 0; csv_cols[i]; i++)
        csv_cell(&b, csv_cols[i], i == 0);
    ds_sbuf_puts(&b, "\r\n");
    return ds_sbuf_finish(&b, out, "outbreak CSV header", err);
}

int ds_ob_alert_csv_row(const struct ds_ob_alert *a, char **out, struct ds_err *err)
{
    *out = NULL;
    int rc = check(a, err);
    if (rc < 0)
        return rc;
    char t[TIME_LEN], port[16] = "", value[24], base[32], ratio[32], score[32], id[24];
    bool net = !strcmp(a->dim, "tcp") || !strcmp(a->dim, "udp");
    if (net)
        snprintf(port, sizeof port, "%" PRId64, a->dim_key);
    snprintf(value, sizeof value, "%" PRIu64, a->value);
    snprintf(base, sizeof base, "%.2f", a->baseline);
    snprintf(ratio, sizeof ratio, "%.2f", ds_ob_ratio(a));
    snprintf(score, sizeof score, "%.2f", a->score);
    snprintf(id, sizeof id, "%" PRId64, a->id);
    struct ds_sbuf hosts = {0};
    size_t i;
    json_t *h;
    json_array_foreach(a->hosts, i, h)
    {
        if (i)
            ds_sbuf_puts(&hosts, ";");
        ds_sbuf_puts(&hosts, json_string_value(json_object_get(h, "address")) ?: "");
    }
    const char *cells[] = {ds_time_format(a->start_s, t, sizeof t),
                           "other",
                           "undetermined",
                           "outbreak-candidate",
                           net ? a->dim : "",
                           port,
                           a->key,
                           value,
                           ds_ob_measure(a),
                           base,
                           ratio,
                           score,
                           ds_alert_state_names[a->state],
                           ds_severity_names[a->severity],
                           id,
                           hosts.p ? hosts.p : "",
                           "darkscope-outbreak-candidates",
                           a->org_name};
    struct ds_sbuf b = {0};
    for (size_t k = 0; k < sizeof cells / sizeof cells[0]; k++)
        csv_cell(&b, cells[k], k == 0);
    ds_sbuf_puts(&b, "\r\n");
    free(hosts.p);
    return ds_sbuf_finish(&b, out, "outbreak CSV row", err);
}

/* ---- XML ---- */

int ds_ob_alert_xml(const struct ds_ob_alert *a, const char *templates_dir, char **out,
                    struct ds_err *err)
{
    *out = NULL;
    int rc = check(a, err);
    if (rc < 0)
        return rc;
    char *response;
    if ((rc = render(a, templates_dir, &response, err)) < 0)
        return rc;
    char t[TIME_LEN], num[48];
    struct ds_sbuf b = {0};
    ds_sbuf_printf(&b, "<alert version=\"%d\" id=\"%" PRId64 "\">\n", DS_OB_ALERT_JSON_VERSION,
                   a->id);
    ds_xml_elem(&b, "  ", "organisation", a->org_name);
    ds_xml_elem(&b, "  ", "address", a->key);
    ds_xml_elem(&b, "  ", "case", "outbreak");
    ds_xml_elem(&b, "  ", "state", ds_alert_state_names[a->state]);
    ds_xml_elem(&b, "  ", "severity", ds_severity_names[a->severity]);
    ds_xml_elem(&b, "  ", "first_seen", ds_time_format_ns(a->first_ns, t, sizeof t));
    ds_xml_elem(&b, "  ", "last_seen", ds_time_format_ns(a->last_ns, t, sizeof t));
    snprintf(num, sizeof num, "%" PRIu64, a->packets);
    ds_xml_elem(&b, "  ", "packets", num);
    ds_sbuf_puts(&b, "  <outbreak>\n");
    ds_xml_elem(&b, "    ", "dim", a->dim);
    snprintf(num, sizeof num, "%" PRId64, a->dim_key);
    ds_xml_elem(&b, "    ", "key", num);
    ds_xml_elem(&b, "    ", "name", a->name);
    ds_xml_elem(&b, "    ", "measure", ds_ob_measure(a));
    ds_xml_elem(&b, "    ", "interval_start", ds_time_format(a->start_s, t, sizeof t));
    ds_xml_elem(&b, "    ", "interval_end", ds_time_format(a->start_s + 300, t, sizeof t));
    snprintf(num, sizeof num, "%" PRIu64, a->value);
    ds_xml_elem(&b, "    ", "value", num);
    snprintf(num, sizeof num, "%.6f", a->baseline);
    ds_xml_elem(&b, "    ", "baseline", num);
    snprintf(num, sizeof num, "%.6f", ds_ob_ratio(a));
    ds_xml_elem(&b, "    ", "ratio", num);
    snprintf(num, sizeof num, "%.6f", a->score);
    ds_xml_elem(&b, "    ", "score", num);
    snprintf(num, sizeof num, "%" PRId64, a->candidates);
    ds_xml_elem(&b, "    ", "candidates", num);
    ds_sbuf_puts(&b, "  </outbreak>\n  <top_hosts>\n");
    size_t i;
    json_t *h;
    json_array_foreach(a->hosts, i, h)
    {
        ds_sbuf_printf(&b, "    <host packets=\"%" JSON_INTEGER_FORMAT "\">",
                       json_integer_value(json_object_get(h, "packets")));
        ds_xml_escape(&b, json_string_value(json_object_get(h, "address")) ?: "", false);
        ds_sbuf_puts(&b, "</host>\n");
    }
    ds_sbuf_puts(&b, "  </top_hosts>\n");
    ds_xml_elem(&b, "  ", "response", response);
    ds_sbuf_puts(&b, "</alert>\n");
    free(response);
    return ds_sbuf_finish(&b, out, "outbreak alert XML", err);
}

/* ---- e-mail text ---- */

static void put_hosts(struct ds_sbuf *b, const struct ds_ob_alert *a, bool ja)
{
    size_t n = json_array_size(a->hosts);
    if (!n) {
        ds_sbuf_puts(b,
                     ja ? "  (まだ保存されていません: darkscope report outbreaks で確認できます)\n"
                        : "  (not stored yet: darkscope report outbreaks lists them later)\n");
        return;
    }
    size_t i;
    json_t *h;
    json_array_foreach(a->hosts, i, h)
    {
        const char *cc = json_string_value(json_object_get(h, "country"));
        ds_sbuf_printf(b, "  %-40s %8" JSON_INTEGER_FORMAT " %s  AS%" JSON_INTEGER_FORMAT " %s\n",
                       json_string_value(json_object_get(h, "address")) ?: "?",
                       json_integer_value(json_object_get(h, "packets")),
                       ja ? "パケット" : "packets", json_integer_value(json_object_get(h, "asn")),
                       cc ? cc : "-");
    }
}

static const char *state_word(enum ds_alert_state s, bool ja)
{
    static const char *const en[] = {"new", "continuing", "closed", "reopened"};
    static const char *const jp[] = {"新規", "継続", "終了", "再発"};
    return (ja ? jp : en)[s];
}

int ds_ob_alert_text(const struct ds_ob_alert *a, const char *templates_dir, char **subject,
                     char **body, struct ds_err *err)
{
    *subject = *body = NULL;
    int rc = check(a, err);
    if (rc < 0)
        return rc;
    bool ja = !strcmp(lang_of(a), "ja");
    char *response;
    if ((rc = render(a, templates_dir, &response, err)) < 0)
        return rc;
    char what[96], t1[TIME_LEN], t2[TIME_LEN];
    what_rose(a, ja, what, sizeof what);
    struct ds_sbuf s = {0}, b = {0};
    if (ja)
        ds_sbuf_printf(&s, "[darkscope] アウトブレイク候補 #%" PRId64 " (%s): %s の急増", a->id,
                       state_word(a->state, true), what);
    else
        ds_sbuf_printf(&s, "[darkscope] Outbreak candidate #%" PRId64 " (%s): %s rose", a->id,
                       state_word(a->state, false), what);
    ds_time_format(a->start_s, t1, sizeof t1);
    ds_time_format(a->start_s + 300, t2, sizeof t2);
    if (ja) {
        ds_sbuf_printf(&b, "宛先: %s\nアラート番号: %" PRId64 " (状態: %s, 重要度: %s)\n\n",
                       a->org_name, a->id, state_word(a->state, true),
                       ds_severity_names[a->severity]);
        ds_sbuf_printf(&b, "急増したもの: %s (%s)\n", what, a->key);
        ds_sbuf_printf(&b, "時間帯: %s から %s (UTC, 5 分間)\n", t1, t2);
        ds_sbuf_printf(&b, "増加の大きさ: %" PRIu64 " %s (平常値 %.1f の %.1f 倍, スコア %.1f)\n",
                       a->value, !strcmp(ds_ob_measure(a), "packets") ? "パケット" : "送信元",
                       a->baseline, ds_ob_ratio(a), a->score);
        ds_sbuf_printf(&b, "候補となった区間: %" PRId64 "\n\n主な送信元ホスト:\n", a->candidates);
    } else {
        ds_sbuf_printf(&b, "To: %s\nAlert: %" PRId64 " (state %s, severity %s)\n\n", a->org_name,
                       a->id, state_word(a->state, false), ds_severity_names[a->severity]);
        ds_sbuf_printf(&b, "What rose: %s (%s)\n", what, a->key);
        ds_sbuf_printf(&b, "When: %s to %s (UTC, one 5-minute interval)\n", t1, t2);
        ds_sbuf_printf(
            &b, "By how much: %" PRIu64 " %s against a baseline of %.1f (%.1fx, score %.1f)\n",
            a->value, ds_ob_measure(a), a->baseline, ds_ob_ratio(a), a->score);
        ds_sbuf_printf(&b, "Candidate intervals so far: %" PRId64 "\n\nHosts driving it:\n",
                       a->candidates);
    }
    put_hosts(&b, a, ja);
    ds_sbuf_puts(&b, "\n");
    ds_sbuf_puts(&b, response);
    ds_sbuf_puts(&b, "\n");
    free(response);
    if ((rc = ds_sbuf_finish(&s, subject, "outbreak alert subject", err)) < 0) {
        free(b.p);
        return rc;
    }
    if ((rc = ds_sbuf_finish(&b, body, "outbreak alert text", err)) < 0) {
        free(*subject);
        *subject = NULL;
    }
    return rc;
}

int ds_ob_digest_text(const struct ds_ob_alert *const *v, size_t n, const char *org,
                      const char *lang, char **subject, char **body, struct ds_err *err)
{
    *subject = *body = NULL;
    int rc = check_digest(v, n, org, err);
    if (rc < 0)
        return rc;
    bool ja = !strcmp(ds_response_lang(lang), "ja");
    struct ds_sbuf s = {0}, b = {0};
    ds_sbuf_printf(&s,
                   ja ? "[darkscope] アウトブレイク候補のまとめ: %zu 件 (%s)"
                      : "[darkscope] Outbreak candidates digest: %zu alerts (%s)",
                   n, org);
    ds_sbuf_puts(&b, ja ? "アウトブレイク候補の変化 (詳細は添付の JSON):\n\n"
                        : "Outbreak candidates that changed (details in the attached JSON):\n\n");
    for (size_t i = 0; i < n; i++) {
        char t[TIME_LEN];
        ds_sbuf_printf(&b, "  #%" PRId64 " %-20s %-10s %s %" PRIu64 " %s (x%.1f)\n", v[i]->id,
                       v[i]->key, state_word(v[i]->state, ja),
                       ds_time_format(v[i]->start_s, t, sizeof t), v[i]->value, ds_ob_measure(v[i]),
                       ds_ob_ratio(v[i]));
    }
    ds_sbuf_puts(&b, "\n");
    char *h = NULL;
    if ((rc = ds_ob_alert_csv_header(&h, err)) == 0) {
        ds_sbuf_puts(&b, h);
        free(h);
        for (size_t i = 0; i < n && rc == 0; i++) {
            char *row;
            if ((rc = ds_ob_alert_csv_row(v[i], &row, err)) == 0) {
                ds_sbuf_puts(&b, row);
                free(row);
            }
        }
    }
    if (rc < 0) {
        free(s.p);
        free(b.p);
        return rc;
    }
    if ((rc = ds_sbuf_finish(&s, subject, "outbreak digest subject", err)) < 0) {
        free(b.p);
        return rc;
    }
    if ((rc = ds_sbuf_finish(&b, body, "outbreak digest text", err)) < 0) {
        free(*subject);
        *subject = NULL;
    }
    return rc;
}
