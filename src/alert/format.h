/* format.h - alerts into what organisations receive: JSON, digest CSV, XML, e-mail text. */
#ifndef DS_FORMAT_H
#define DS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "alert/alert.h"
#include "core/err.h"

/*
 * The contract (keys, columns, layouts, templates, IntelMQ mapping) is docs/alert-format.md.
 * Adding a key is compatible; renaming or removing one, or changing a meaning, bumps
 * DS_ALERT_JSON_VERSION (alert.h) or DS_DIGEST_JSON_VERSION.
 *
 * Ownership: every char ** output is malloc'd here and freed by the caller with free(); on
 * failure nothing is returned (outputs are set to NULL) and err says why. The alert and the
 * strings it points to are only read.
 * Thread use: no global or static mutable state. Templates are read from disk on every call
 * unless the alert names a template cache (a->templates, templates.h), which is its owner's
 * and used on the owner's thread only; otherwise any function may run in any thread.
 */

#define DS_DIGEST_JSON_VERSION 1

/* The response-template language for an organisation's language: "ja" for "ja", "JA",
 * "ja-JP", "ja_JP.UTF-8"; "en" for everything else, NULL included. */
const char *ds_response_lang(const char *lang);

/*
 * The alert as compact JSON (one line, no trailing newline), *len its length. `response` is
 * the per-case template of the alert's language from templates_dir (NULL: DS_DATA_DIR
 * "/templates"), so a missing template is an error here too. -EINVAL for an alert out of range
 * (case, state, severity, no organisation name, a string that is not UTF-8), -ENOENT/-EIO for the
 * template.
 */
int ds_alert_json(const struct ds_alert *a, const char *templates_dir, char **out, size_t *len,
                  struct ds_err *err);

/* The digest CSV (RFC 4180: CRLF line ends, fields with , " CR LF quoted, quotes doubled).
 * The header is one line with IntelMQ field names; a row is one line for one alert. Both end
 * in CRLF, so header + rows concatenated is the file. */
int ds_alert_csv_header(char **out, struct ds_err *err);
int ds_alert_csv_row(const struct ds_alert *a, char **out, struct ds_err *err);

/* The alert as XML: <alert version="1" id="...">...</alert> plus a newline, UTF-8, no XML
 * declaration; & < > " ' escaped everywhere, control characters XML 1.0 forbids replaced
 * by U+FFFD. Includes the response template like ds_alert_json. */
int ds_alert_xml(const struct ds_alert *a, const char *templates_dir, char **out,
                 struct ds_err *err);

/* The XML pieces ds_alert_xml is made of, for the other alert formats: s (valid UTF-8)
 * with the five markup characters escaped, forbidden control characters (and U+FFFE,
 * U+FFFF) as U+FFFD, and in attributes TAB, LF and CR as character references; and
 * "INDENT<NAME>escaped text</NAME>\n". */
struct ds_sbuf;
void ds_xml_escape(struct ds_sbuf *b, const char *s, bool attr);
void ds_xml_elem(struct ds_sbuf *b, const char *indent, const char *name, const char *text);

/*
 * The e-mail subject (one line) and the readable body in the alert's language
 * (ds_response_lang(a->lang)): a summary block, then the response template read from
 * TEMPLATES_DIR/LANG/CASE.txt (templates_dir NULL: DS_DATA_DIR "/templates") with
 * {{organisation}} {{address}} {{case}} {{first_seen}} {{last_seen}} {{packets}}
 * substituted; other {{...}} are left as they are. A missing or unreadable template is an
 * error naming its path.
 */
int ds_alert_text(const struct ds_alert *a, const char *templates_dir, char **subject, char **body,
                  struct ds_err *err);

/*
 * A digest e-mail of n continuing alerts of one organisation `org` (every alert's org_name
 * must equal it: -EINVAL otherwise, so one organisation's alerts never reach another): one
 * short line per alert and a pointer to the attached CSV. lang as in ds_response_lang.
 */
int ds_digest_text(const struct ds_alert *const *alerts, size_t n, const char *org,
                   const char *lang, char **subject, char **body, struct ds_err *err);

/* {"version":1,"digest":ID,"organisation":ORG,"count":N,"alerts":[ds_alert_json objects]},
 * compact, one line, *len its length. Same organisation check as ds_digest_text. */
int ds_digest_json(const struct ds_alert *const *alerts, size_t n, const char *org,
                   const char *digest_id, const char *templates_dir, char **out, size_t *len,
                   struct ds_err *err);

#endif
