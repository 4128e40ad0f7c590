/* deliver.h - delivery channels (SMTP, webhook, syslog, JSON-lines file): one descriptor
 * each, one registry. */
#ifndef DS_DELIVER_H
#define DS_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* What to send: one alert or one digest, already formatted. Strings are not owned. */
struct ds_message {
    const char *id;      /* idempotency key: the alert id ("alert-42") or digest id */
    const char *org;     /* organisation name (for headers and logs) */
    const char *subject; /* e-mail subject / syslog message summary */
    const char *text;    /* readable text body (e-mail) */
    const char *json;    /* the JSON form (webhook body, e-mail attachment, file line) */
    size_t json_len;
    const char *attachment_name; /* e-mail: name of the JSON attachment, e.g. "alert-42.json" */
    int severity;                /* 0 low .. 3 critical (syslog severity mapping) */
    int64_t created;             /* Unix seconds the alert or digest was made */
};

/* Where to send it: one contact of an organisation, or a global setting. */
struct ds_target {
    const char *channel; /* "smtp", "webhook", "syslog", "file" */
    const char *address; /* smtp: recipient e-mail; webhook: URL; syslog: udp://host:port or
                            tcp://host:port; file: path */
    const char *secret;  /* webhook: HMAC-SHA256 key (NULL: no signature header) */
};

/* Channel-wide settings (from the daemon's config). */
struct ds_deliver_config {
    const char *smtp_url;  /* e.g. smtp://127.0.0.1:2525 or smtps://... */
    const char *smtp_from; /* envelope and header From */
    const char *smtp_user; /* NULL: no AUTH */
    const char *smtp_password;
    bool smtp_starttls;   /* require STARTTLS on smtp:// */
    const char *ca_file;  /* CA bundle for TLS (NULL: system default) */
    bool tls_insecure;    /* skip certificate checks (tests with self-signed certs) */
    long timeout_ms;      /* per attempt (connect + transfer) */
    const char *hostname; /* syslog HOSTNAME field */
};

/*
 * A channel. open() prepares per-target state (parse the address, allocate); send() delivers
 * one message and must be safe to repeat for the same message id (receivers deduplicate on
 * it); close() frees. All return 0 or a negative code with err naming the target and the
 * reason. Thread use: one state per delivery thread, never shared.
 */
struct ds_deliverer {
    const char *name;
    int (*open)(void **state, const struct ds_target *t, const struct ds_deliver_config *cfg,
                struct ds_err *err);
    int (*send)(void *state, const struct ds_message *m, struct ds_err *err);
    void (*close)(void *state);
};

extern const struct ds_deliverer ds_deliver_smtp;
extern const struct ds_deliverer ds_deliver_webhook;
extern const struct ds_deliverer ds_deliver_syslog;
extern const struct ds_deliverer ds_deliver_file;

/* The registry, NULL-terminated; ds_deliverer_find("webhook") or NULL. */
extern const struct ds_deliverer *const ds_deliverers[];
const struct ds_deliverer *ds_deliverer_find(const char *name);

/* The webhook signature: header "X-Darkscope-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
 * "<unix>.<body>" keyed with the secret>" (Stripe's scheme). Written into out (>= 100 bytes). */
void ds_webhook_signature(const char *secret, int64_t t, const char *body, size_t len, char *out,
                          size_t cap);

#endif
