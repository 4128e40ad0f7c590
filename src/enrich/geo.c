/* geo.c - country and ASN of an address from MaxMind-format databases (libmaxminddb). */
#include "enrich/geo.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/hash.h"
#include "core/log.h"

struct db {
    MMDB_s mmdb;
    bool ok;
    char why[512]; /* why it is not usable */
};

struct ds_geo {
    struct db country, asn;
};

struct ds_geo_cache_entry {
    struct ds_addr key; /* the address masked to len bits */
    uint8_t len;        /* 0..128; valid only when used */
    bool used;
    struct ds_geo_info info;
};

/* Opens one database or records (and logs, once) why not. */
static void open_db(struct db *d, const char *what, const char *path, const char *unknown)
{
    struct stat st;
    d->ok = false;
    if (!path || !*path) {
        snprintf(d->why, sizeof d->why, "no %s database configured", what);
        return;
    }
    if (stat(path, &st) != 0) {
        snprintf(d->why, sizeof d->why, "%s database %s: %s", what, path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        snprintf(d->why, sizeof d->why, "%s database %s: is a directory", what, path);
    } else if (st.st_size == 0) {
        snprintf(d->why, sizeof d->why, "%s database %s: empty file", what, path);
    } else {
        int status = MMDB_open(path, MMDB_MODE_MMAP, &d->mmdb);
        if (status == MMDB_SUCCESS) {
            d->ok = true;
            d->why[0] = '\0';
            return;
        }
        if (status == MMDB_IO_ERROR)
            snprintf(d->why, sizeof d->why, "%s database %s: %s (%s)", what, path,
                     MMDB_strerror(status), strerror(errno));
        else
            snprintf(d->why, sizeof d->why, "%s database %s: %s", what, path,
                     MMDB_strerror(status));
    }
    ds_warn("geo", "%s; %s will be reported as unknown", d->why, unknown);
}

int ds_geo_open(struct ds_geo **out, const struct ds_geo_config *cfg, struct ds_err *err)
{
    struct ds_geo *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g)
        return ds_err_set(err, -ENOMEM, "geo: out of memory");
    open_db(&g->country, "country", cfg->country_db, "countries");
    open_db(&g->asn, "ASN", cfg->asn_db, "ASNs");
    *out = g;
    return 0;
}

void ds_geo_close(struct ds_geo *g)
{
    if (!g)
        return;
    if (g->country.ok)
        MMDB_close(&g->country.mmdb);
    if (g->asn.ok)
        MMDB_close(&g->asn.mmdb);
    free(g);
}

bool ds_geo_has_country(const struct ds_geo *g, const char **why)
{
    if (why)
        *why = g->country.ok ? NULL : g->country.why;
    return g->country.ok;
}

bool ds_geo_has_asn(const struct ds_geo *g, const char **why)
{
    if (why)
        *why = g->asn.ok ? NULL : g->asn.why;
    return g->asn.ok;
}

/* Looks a up in one database; returns the entry (or has_data false) and the network length
 * in our 16-byte space. */
static MMDB_lookup_result_s lookup_db(const struct db *d, const struct ds_addr *a, unsigned *netlen)
{
    MMDB_lookup_result_s r = {0};
    int mmdb_err = MMDB_SUCCESS;
    bool v4 = ds_addr_is_v4(a);
    *netlen = 0;
    if (v4) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        sin.sin_addr.s_addr = htonl(ds_addr_v4(a));
        r = MMDB_lookup_sockaddr((MMDB_s *)&d->mmdb, (const struct sockaddr *)&sin, &mmdb_err);
    } else {
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
        memcpy(sin6.sin6_addr.s6_addr, a->b, 16);
        r = MMDB_lookup_sockaddr((MMDB_s *)&d->mmdb, (const struct sockaddr *)&sin6, &mmdb_err);
    }
    if (mmdb_err != MMDB_SUCCESS) { /* e.g. IPv6 in an IPv4-only database: this address */
        r.found_entry = false;
        *netlen = 128;
        return r;
    }
    /* an IPv6 database counts IPv4 from ::/96 already; an IPv4 one does not */
    unsigned len = r.netmask;
    if (v4 && d->mmdb.metadata.ip_version == 4)
        len += 96;
    if (v4 && len < 96)
        len = 96; /* an answer found through an IPv4 lookup stands for IPv4 addresses only */
    *netlen = len > 128 ? 128 : len;
    return r;
}

static bool get_string(MMDB_entry_s *e, MMDB_entry_data_s *out, const char *const *path)
{
    return MMDB_aget_value(e, out, path) == MMDB_SUCCESS && out->has_data &&
           out->type == MMDB_DATA_TYPE_UTF8_STRING;
}

static void country_of(MMDB_entry_s *e, char cc[3])
{
    static const char *const paths[][3] = {
        {"country", "iso_code", NULL},
        {"registered_country", "iso_code", NULL},
        {"country_code", NULL, NULL},
    };
    MMDB_entry_data_s d;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        if (get_string(e, &d, paths[i]) && d.data_size == 2) {
            cc[0] = d.utf8_string[0];
            cc[1] = d.utf8_string[1];
            cc[2] = '\0';
            return;
        }
    }
}

static void asn_of(MMDB_entry_s *e, struct ds_geo_info *out)
{
    static const char *const num[] = {"autonomous_system_number", NULL};
    static const char *const org[] = {"autonomous_system_organization", NULL};
    MMDB_entry_data_s d;
    if (MMDB_aget_value(e, &d, num) == MMDB_SUCCESS && d.has_data) {
        if (d.type == MMDB_DATA_TYPE_UINT32)
            out->asn = d.uint32;
        else if (d.type == MMDB_DATA_TYPE_UINT16)
            out->asn = d.uint16;
        else if (d.type == MMDB_DATA_TYPE_UINT64 && d.uint64 <= UINT32_MAX)
            out->asn = (uint32_t)d.uint64;
        else if (d.type == MMDB_DATA_TYPE_INT32 && d.int32 >= 0)
            out->asn = (uint32_t)d.int32;
    }
    if (get_string(e, &d, org)) {
        out->as_org = d.utf8_string;
        out->as_org_len = d.data_size;
    }
}

void ds_geo_lookup_uncached(const struct ds_geo *g, const struct ds_addr *a,
                            struct ds_geo_info *out, unsigned *netlen)
{
    unsigned len = 0, l;
    *out = (struct ds_geo_info){0};
    if (g->country.ok) {
        MMDB_lookup_result_s r = lookup_db(&g->country, a, &l);
        if (r.found_entry)
            country_of(&r.entry, out->country);
        len = l;
    }
    if (g->asn.ok) {
        MMDB_lookup_result_s r = lookup_db(&g->asn, a, &l);
        if (r.found_entry)
            asn_of(&r.entry, out);
        if (l > len)
            len = l;
    }
    if (netlen)
        *netlen = len;
}

/* ---- per-thread cache ---- */

int ds_geo_cache_init(struct ds_geo_cache *c, const struct ds_geo *g, size_t slots,
                      struct ds_err *err)
{
    size_t n = 1;
    if (slots == 0)
        slots = 65536;
    while (n < slots)
        n <<= 1;
    *c = (struct ds_geo_cache){.g = g, .mask = n - 1};
    c->slots = calloc(n, sizeof *c->slots);
    if (!c->slots)
        return ds_err_set(err, -ENOMEM, "geo: out of memory for a %zu-slot cache", n);
    return 0;
}

void ds_geo_cache_free(struct ds_geo_cache *c)
{
    free(c->slots);
    c->slots = NULL;
}

static void mask_to(struct ds_addr *a, unsigned len)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned lo = i * 8;
        if (lo + 8 <= len)
            continue;
        a->b[i] &= lo >= len ? 0 : (uint8_t)(0xff00u >> (len - lo));
    }
}

void ds_geo_lookup(struct ds_geo_cache *c, const struct ds_addr *a, struct ds_geo_info *out)
{
    const struct ds_geo *g = c->g;
    if (!g->country.ok && !g->asn.ok) {
        *out = (struct ds_geo_info){0};
        return;
    }
    /* the slot comes from the /24 (/48), so every entry that can answer for a is there */
    struct ds_addr k = *a;
    mask_to(&k, ds_addr_is_v4(a) ? 96 + 24 : 48);
    struct ds_geo_cache_entry *e = &c->slots[ds_hash_addr16(k.b) & c->mask];
    if (e->used) {
        k = *a;
        mask_to(&k, e->len);
        if (ds_addr_eq(&k, &e->key)) {
            c->hits++;
            *out = e->info;
            return;
        }
    }
    c->misses++;
    unsigned len;
    ds_geo_lookup_uncached(g, a, out, &len);
    e->used = true;
    e->len = (uint8_t)len;
    e->key = *a;
    mask_to(&e->key, len);
    e->info = *out;
}
