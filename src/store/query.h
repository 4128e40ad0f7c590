/* query.h - the reports over a store: NICTER's yearly table, top ports / countries / ASNs,
 * one port by month, top hosts and one host. Results are JSON (jansson) values whose layout
 * is the versioned contract in docs/reports.md. */
#ifndef DS_QUERY_H
#define DS_QUERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/err.h"
#include "store/store.h"

#define DS_REPORT_VERSION 1

/* A period [from, to) in seconds; a missing end means "as far as the data goes". */
struct ds_period {
    int64_t from, to;
    bool has_from, has_to;
};

enum ds_rank_kind { DS_RANK_PORTS, DS_RANK_COUNTRIES, DS_RANK_ASNS };

struct ds_rank_opts {
    enum ds_rank_kind kind;
    size_t top;            /* rows per list */
    bool exclude_research; /* leave research-scanner sources out */
    bool by_sources;       /* rank by unique sources instead of packets */
    int proto;             /* ports: -1 both, 0 tcp, 1 udp */
};

/* Each returns 0 and a new reference in *out, or a negative code with err set. */
int ds_query_year(struct ds_store *s, const struct ds_period *p, bool exclude_research,
                  json_t **out, struct ds_err *err);
int ds_query_rank(struct ds_store *s, const struct ds_period *p, const struct ds_rank_opts *o,
                  json_t **out, struct ds_err *err);
int ds_query_port_monthly(struct ds_store *s, const struct ds_period *p, int udp, uint16_t port,
                          bool exclude_research, json_t **out, struct ds_err *err);
int ds_query_hosts(struct ds_store *s, const struct ds_period *p, size_t top, bool exclude_research,
                   json_t **out, struct ds_err *err);
int ds_query_host(struct ds_store *s, const char *addr, json_t **out, struct ds_err *err);

/* DoS attacks (query_incidents.c): those overlapping the period, oldest first. */
struct ds_dos_query {
    struct ds_period period;
    const char *victim; /* an address or prefix the victim lies in, or NULL */
    size_t limit;       /* 0: all */
    size_t offset;
    /* more filtering (an organisation's view): keep the attack on this victim? or NULL */
    bool (*keep)(void *ctx, const struct ds_addr *victim);
    void *keep_ctx;
};
int ds_query_dos(struct ds_store *s, const struct ds_dos_query *q, json_t **out,
                 struct ds_err *err);

/* Reflector-hunting campaigns (query_incidents.c): those overlapping the period, oldest
 * first. The source filters match the campaign's listed (busiest) sources. */
struct ds_campaign_query {
    struct ds_period period;
    const char *protocol;  /* "dns", "ntp", ... or NULL */
    const char *source;    /* an address or prefix, or NULL */
    bool exclude_research; /* leave out campaigns made only of research scanners' probes */
    size_t limit, offset;
    bool (*keep)(void *ctx, const struct ds_addr *source);
    void *keep_ctx;
};
int ds_query_campaigns(struct ds_store *s, const struct ds_campaign_query *q, json_t **out,
                       struct ds_err *err);

/* Outbreak candidates (query_incidents.c), oldest first, each with the hosts that drive it. */
struct ds_outbreak_query {
    struct ds_period period;
    const char *dim; /* "tcp", "udp", "fingerprint", "class" or NULL */
    size_t limit, offset;
};
int ds_query_outbreaks(struct ds_store *s, const struct ds_outbreak_query *q, json_t **out,
                       struct ds_err *err);

/* The hosts that drive a candidate (dim, key or name, interval start in seconds): stored
 * profile segments of its interval with its port, its fingerprint or its class, busiest
 * first, at most 10: [{address, packets, country?, asn, first_seen}]. With running, the
 * segments of ingests still running count too (the daemon's own). Never NULL. */
json_t *ds_query_outbreak_drivers(struct sqlite3 *db, const char *dim, int64_t key,
                                  const char *name, int64_t start, bool running);

#endif
