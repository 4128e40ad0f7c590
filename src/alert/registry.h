/* registry.h - the DAEDALUS registry: organisations, their livenet and darknet ranges and
 * contacts, kept in the store (audited), and the read-only snapshot the packet path matches
 * addresses against. */
#ifndef DS_REGISTRY_H
#define DS_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/err.h"
#include "core/lpm.h"
#include "store/store.h"

struct ds_contact {
    int64_t id;
    char *channel; /* "smtp", "webhook", "syslog", "file" */
    char *address;
    char *secret; /* webhook HMAC key, or NULL */
};

/* One organisation as the snapshot holds it (owned by the snapshot). Notification settings
 * of 0 mean "the daemon's default". */
struct ds_org {
    int64_t id;
    char *name;
    char *lang;     /* "en" or "ja" */
    char *channels; /* comma-separated channels to use, e.g. "smtp,webhook" */
    int64_t renotify_s, group_wait_s, group_interval_s, repeat_interval_s;
    struct ds_prefix *livenet, *darknet;
    size_t n_livenet, n_darknet;
    struct ds_contact *contacts;
    size_t n_contacts;
};

/*
 * A snapshot: built once from the store (one thread), then read-only and shared by every
 * shard (lookups take no lock). To change it, build a new one and swap the pointer; free the
 * old one only when no thread can still hold it.
 */
struct ds_registry {
    struct ds_org *orgs;
    size_t n_orgs;
    struct ds_lpm *livenet; /* prefix -> index into orgs */
    struct ds_lpm *darknet; /* prefix -> index into orgs (the orgs' own darknets) */
    size_t n_ranges;
};

int ds_registry_load(struct ds_store *s, struct ds_registry **out, struct ds_err *err);
void ds_registry_free(struct ds_registry *r);

/* The registry's version: the newest audit row's id (every change writes one), so a daemon
 * can notice changes made by `darkscope org` or the API and reload. */
int ds_registry_version(struct ds_store *s, int64_t *version, struct ds_err *err);

/* The organisation whose livenet holds a (longest match), or NULL. Thread-safe. */
static inline const struct ds_org *ds_registry_livenet(const struct ds_registry *r,
                                                       const struct ds_addr *a)
{
    uint32_t v;
    if (!r || !r->n_orgs || !ds_lpm_lookup(r->livenet, a, &v))
        return NULL;
    return &r->orgs[v];
}

/* True when a lies in org's own darknet. */
bool ds_registry_in_darknet(const struct ds_registry *r, const struct ds_org *org,
                            const struct ds_addr *a);

const struct ds_org *ds_registry_find(const struct ds_registry *r, int64_t org_id);

/* ---------------------------------------------------------------- changes (audited) ----- */

/* A new organisation. Livenet ranges may not overlap another organisation's livenet (the
 * error names both) unless allow_overlap; a range that is not a prefix, or has host bits
 * set, is an error naming it. Every change writes an audit row naming `who`. */
struct ds_org_spec {
    const char *name;
    const char *lang;     /* NULL: "en" */
    const char *channels; /* NULL: every channel with a contact */
    const char *const *livenet;
    size_t n_livenet;
    const char *const *darknet;
    size_t n_darknet;
    const char *const *emails;
    size_t n_emails;
    const char *const *webhooks;        /* URLs */
    const char *const *webhook_secrets; /* one per webhook (may be NULL entries) */
    size_t n_webhooks;
    const char *const *syslogs; /* udp://host:port, tcp://host:port */
    size_t n_syslogs;
    const char *const *files; /* JSON-lines files */
    size_t n_files;
    int64_t renotify_s, group_wait_s, group_interval_s, repeat_interval_s; /* 0: default */
    bool allow_overlap;
    bool analysts; /* the analysts' organisation: receives outbreak alerts, needs no livenet */
};

int ds_registry_add_org(struct ds_store *s, const struct ds_org_spec *spec, const char *who,
                        int64_t *id, struct ds_err *err);
int ds_registry_remove_org(struct ds_store *s, const char *name, const char *who,
                           struct ds_err *err);
/* Adds (or with remove, removes) one range of kind "livenet" / "darknet" to an organisation. */
int ds_registry_range(struct ds_store *s, const char *org, const char *kind, const char *prefix,
                      bool remove, bool allow_overlap, const char *who, struct ds_err *err);
/* Adds (or removes) one contact. */
int ds_registry_contact(struct ds_store *s, const char *org, const char *channel,
                        const char *address, const char *secret, bool remove, const char *who,
                        struct ds_err *err);

#endif
