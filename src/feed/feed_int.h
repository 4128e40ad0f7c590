/* feed_int.h - what the feed kinds and formats share: field tables of the flat formats,
 * value conversions, deterministic UUIDs and the query's address filter. */
#ifndef DS_FEED_INT_H
#define DS_FEED_INT_H

#include "feed/feed.h"

/* How a row value becomes a CSV cell or an IntelMQ value. */
enum ds_feed_conv {
    DS_CONV_VALUE,     /* as it is (CSV: strings bare, numbers as JSON, null empty) */
    DS_CONV_SSTIME,    /* ISO "...T...Z" time -> Shadowserver "YYYY-MM-DD HH:MM:SS" */
    DS_CONV_ISOTIME,   /* ISO time -> IntelMQ "YYYY-MM-DDTHH:MM:SS.ffffff+00:00" */
    DS_CONV_JOIN,      /* array of strings -> "a;b" (IntelMQ: kept as an array) */
    DS_CONV_PORTS,     /* array of {port, packets} -> "80:12;443:3" (IntelMQ: array) */
    DS_CONV_FIRST,     /* array -> its first element (ports: the port number) */
    DS_CONV_CONST,     /* the text in .key itself */
    DS_CONV_GENERATED, /* the feed's generation time (IntelMQ time.observation) */
    DS_CONV_PRODUCER   /* the feed's producer name */
};

struct ds_feed_field {
    const char *name; /* CSV column / IntelMQ key; NULL ends a table */
    const char *key;  /* the row's member (or the constant, for DS_CONV_CONST) */
    enum ds_feed_conv conv;
};

/* The value of a field for a row: a new reference, or NULL when absent (IntelMQ leaves the
 * key out). flat: CSV (arrays joined to text). */
json_t *ds_feed_field_value(const struct ds_feed *feed, const struct ds_feed_field *fl, json_t *row,
                            bool flat);

/* "2024-01-01T00:00:00.123456Z" (or without fraction) -> nanoseconds; -1 if malformed. */
int64_t ds_feed_iso_ns(const char *iso);
/* ISO time -> "2024-01-01T00:00:00.123Z" (millisecond precision, STIX created/modified). */
void ds_feed_iso_ms(const char *iso, char *buf, size_t cap);

/* RFC 4122 version 5 UUID (SHA-1) of name in a namespace given as text; out >= 37 bytes.
 * 0, or -EIO when libcrypto fails. */
int ds_feed_uuid5(const char *ns, const char *name, char *out, struct ds_err *err);
#define DS_FEED_UUID_NS "6d0a1e6c-8f2b-4c1e-9a57-6b1d2f3c4a5e" /* darkscope's own objects */
#define DS_STIX_SCO_NS "00abedb4-aa42-466c-9c01-fed23315a9b7"  /* STIX 2.1 SCO ids (spec) */

/* Does the query select this address (its ASN filter aside)? prefixes and keep(). */
bool ds_feed_addr_selected(const struct ds_feed_query *q, const struct ds_addr *a,
                           bool asn_matched);

extern const struct ds_feed_kind ds_feed_infected, ds_feed_dos, ds_feed_stats;
extern const struct ds_feed_format ds_feed_csv, ds_feed_json, ds_feed_stix, ds_feed_misp;

#endif
