/* alert.h - one DAEDALUS-style alert: an organisation's address seen in the darknet, by case,
 * with its evidence and state. */
#ifndef DS_ALERT_H
#define DS_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "core/addr.h"

#define DS_ALERT_JSON_VERSION 1

/* DOMAIN.md section 5: internal = an org's livenet host sends to the org's own darknet;
 * external = it sends to any other darknet; backscatter = the org's address is a DoS victim
 * (replies to spoofed darknet sources). */
enum ds_alert_case { DS_CASE_INTERNAL = 0, DS_CASE_EXTERNAL, DS_CASE_BACKSCATTER, DS_CASE_COUNT };
extern const char *const ds_case_names[DS_CASE_COUNT]; /* "internal", "external", "backscatter" */

/* new -> continuing -> closed (quiet for the configured time) -> reopened -> continuing ... */
enum ds_alert_state {
    DS_ALERT_NEW = 0,
    DS_ALERT_CONTINUING,
    DS_ALERT_CLOSED,
    DS_ALERT_REOPENED,
    DS_ALERT_STATE_COUNT
};
extern const char *const ds_alert_state_names[DS_ALERT_STATE_COUNT];

enum ds_severity { DS_SEV_LOW = 0, DS_SEV_MEDIUM, DS_SEV_HIGH, DS_SEV_CRITICAL, DS_SEV_COUNT };
extern const char *const ds_severity_names[DS_SEV_COUNT];

#define DS_ALERT_TOP_PORTS 5
#define DS_ALERT_SAMPLES 3

/* A port and its packets (top destination ports of the alert). */
struct ds_alert_port {
    uint8_t proto; /* 6 tcp, 17 udp */
    uint16_t port;
    uint64_t packets;
};

/* One packet's headers, kept as evidence. */
struct ds_alert_sample {
    uint64_t ts_ns;
    struct ds_addr src, dst;
    uint8_t proto, ttl, tcp_flags;
    uint16_t sport, dport, win, ip_id;
    uint32_t seq;
    uint8_t icmp_type, icmp_code;
};

/*
 * The alert as stored and as formatted. Plain data (no pointers but the strings, which point
 * into the alert's owner: the alert engine's record or a test's literals, and the optional
 * template cache of the formatter's caller).
 */
struct ds_template_cache;
struct ds_alert {
    int64_t id; /* stable: the idempotency key of every delivery of it */
    int64_t org_id;
    const char *org_name;
    const char *lang;       /* "en" or "ja": the organisation's language */
    struct ds_addr address; /* the organisation's address */
    enum ds_alert_case kase;
    enum ds_alert_state state;
    enum ds_severity severity;
    uint64_t first_ns, last_ns; /* first and last packet of this alert */
    uint64_t packets, bytes;
    uint32_t targets;      /* distinct darknet destinations (estimated beyond a few) */
    uint8_t protos;        /* 1 << enum ds_proto_idx */
    uint32_t classes;      /* DS_CLASS_BIT set */
    uint32_t fps;          /* DS_FP_BIT set */
    const char *scan_type; /* "none", "horizontal", "vertical", "both" */
    struct ds_alert_port ports[DS_ALERT_TOP_PORTS];
    size_t n_ports;
    struct ds_alert_sample samples[DS_ALERT_SAMPLES];
    size_t n_samples;
    const char *family;      /* suspected malware family (correlation engine), or NULL */
    const char *dos_basis;   /* backscatter: "rs-dos inference" or "backscatter count" */
    uint64_t dos_peak_ppm;   /* backscatter: peak packets per minute seen (0 if none) */
    char dos_basis_buf[224]; /* where dos_basis may point (do not copy a ds_alert by value) */
    uint64_t updated_ns;     /* wall clock of the last change (for digests) */
    /* where the formatters get response templates (templates.h; the caller's, used on its
     * thread only), or NULL: read the file for each call */
    struct ds_template_cache *templates;
};

#endif
