/* format_outbreak.h - outbreak-candidate alerts into what the analysts receive: JSON (schema
 * version 2), IntelMQ CSV, XML, e-mail text, and their digests. */
#ifndef DS_FORMAT_OUTBREAK_H
#define DS_FORMAT_OUTBREAK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "alert/alert.h"
#include "core/err.h"

/* Version 2 of the alert JSON schema adds the case "outbreak" and its "outbreak" object
 * (docs/alerts.md); address alerts keep writing version 1, which version 2 contains. */
#define DS_OB_ALERT_JSON_VERSION 2
#define DS_CASE_OUTBREAK 3 /* alert.kase of an outbreak alert (after enum ds_alert_case) */

/*
 * One outbreak alert: a series (what rose) of the analysts' organisation, with the latest
 * candidate's numbers. Plain data; the strings and hosts are borrowed from the caller.
 */
struct ds_ob_alert {
    int64_t id, org_id;
    const char *org_name;
    const char *lang;
    const char *key;  /* "tcp/2323", "udp/53", "fingerprint/mirai", "class/backscatter" */
    const char *dim;  /* "tcp", "udp", "fingerprint", "class" */
    int64_t dim_key;  /* port, fingerprint or class number */
    const char *name; /* the detector's name: "2323/tcp", "mirai", "backscatter" */
    enum ds_alert_state state;
    enum ds_severity severity;
    uint64_t first_ns, last_ns; /* first candidate interval's start .. latest one's end */
    int64_t start_s;            /* the latest candidate's 5-minute interval */
    uint64_t value;             /* its sources (backscatter: packets) */
    uint64_t packets;           /* packets of every candidate interval so far */
    double baseline, score;
    uint64_t peak;      /* the largest value of its candidates */
    int64_t candidates; /* candidate intervals so far */
    json_t *hosts;      /* borrowed array of {address, packets, country, asn, first_seen} */
};

/* The measure of a series: "packets" for the backscatter class, "sources" for the rest. */
const char *ds_ob_measure(const struct ds_ob_alert *a);
/* value / baseline (a baseline under 0.01 counts as 0.01). */
double ds_ob_ratio(const struct ds_ob_alert *a);

/*
 * Ownership as in format.h: every char ** output is malloc'd and freed by the caller; on
 * failure nothing is returned and err says why (templates.h for a template, -EINVAL for an
 * alert out of range). Thread use: no shared state; templates are read on every call.
 */
int ds_ob_alert_json(const struct ds_ob_alert *a, const char *templates_dir, char **out,
                     size_t *len, struct ds_err *err);
/* The same as a new jansson object (the caller decrefs). */
int ds_ob_alert_object(const struct ds_ob_alert *a, const char *templates_dir, json_t **out,
                       struct ds_err *err);
int ds_ob_alert_csv_header(char **out, struct ds_err *err);
int ds_ob_alert_csv_row(const struct ds_ob_alert *a, char **out, struct ds_err *err);
int ds_ob_alert_xml(const struct ds_ob_alert *a, const char *templates_dir, char **out,
                    struct ds_err *err);
int ds_ob_alert_text(const struct ds_ob_alert *a, const char *templates_dir, char **subject,
                     char **body, struct ds_err *err);
/* A digest of n outbreak alerts of one organisation: {"version":2,"digest":ID,
 * "organisation":ORG,"count":N,"alerts":[...]} and its e-mail text (one line per alert and
 * the CSV rows). Every alert's org_name must equal org (-EINVAL otherwise). */
int ds_ob_digest_json(const struct ds_ob_alert *const *v, size_t n, const char *org,
                      const char *digest_id, const char *templates_dir, char **out, size_t *len,
                      struct ds_err *err);
int ds_ob_digest_text(const struct ds_ob_alert *const *v, size_t n, const char *org,
                      const char *lang, char **subject, char **body, struct ds_err *err);

#endif
