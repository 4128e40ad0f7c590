/* geo.h - country and ASN of an address from MaxMind-format databases (libmaxminddb). */
#ifndef DS_GEO_H
#define DS_GEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/err.h"

/*
 * Two optional databases: a country MMDB and an ASN MMDB. Field layouts understood:
 *   country: country.iso_code (GeoLite2/GeoIP2 Country and City), registered_country.iso_code
 *            (fallback), country_code (@ip-location-db's *-country-mmdb)
 *   ASN:     autonomous_system_number, autonomous_system_organization (GeoLite2-ASN and
 *            @ip-location-db's ASN layout; scripts/install-geodb.sh builds one)
 *
 * A database that is absent or unreadable is not an error: ds_geo_open() logs one warning
 * naming the path and the reason, keeps the reason for ds_geo_status(), and lookups answer
 * "unknown" (country "", asn 0) for that part. Only -ENOMEM fails the open.
 *
 * Threads: struct ds_geo is read-only after ds_geo_open() (libmaxminddb lookups on an open
 * MMDB_s are thread-safe), so one ds_geo may be shared by every worker. The lookup cache is
 * per thread: each worker owns a struct ds_geo_cache and never shares it.
 */

#define DS_GEO_COUNTRY_DB_DEFAULT "data/geo/country.mmdb" /* scripts/install-geodb.sh */
#define DS_GEO_ASN_DB_DEFAULT "data/geo/asn.mmdb"

struct ds_geo_config {
    const char *country_db; /* path or NULL (no country data) */
    const char *asn_db;     /* path or NULL (no ASN data) */
};

struct ds_geo;

/* The answer for one address. as_org points into the open database's memory map (no copy,
 * not NUL-terminated: use as_org_len); it stays valid until ds_geo_close(). */
struct ds_geo_info {
    char country[3];    /* ISO 3166-1 alpha-2, "" when unknown */
    uint32_t asn;       /* 0 when unknown */
    const char *as_org; /* NULL when unknown */
    uint32_t as_org_len;
};

int ds_geo_open(struct ds_geo **out, const struct ds_geo_config *cfg, struct ds_err *err);
void ds_geo_close(struct ds_geo *g);

/* Which databases are usable; when not, *why (if given) names the path and the reason. */
bool ds_geo_has_country(const struct ds_geo *g, const char **why);
bool ds_geo_has_asn(const struct ds_geo *g, const char **why);

/* One uncached lookup (a few hundred ns: two tree walks and map searches). *netlen, if
 * given, is the length (0..128, IPv4 as 96+n) of the largest prefix around a over which the
 * answer is the same in both databases. Thread-safe. */
void ds_geo_lookup_uncached(const struct ds_geo *g, const struct ds_addr *a,
                            struct ds_geo_info *out, unsigned *netlen);

/* A direct-mapped per-thread cache, indexed by the /24 (IPv4) or /48 (IPv6) of the address:
 * darknet sources repeat and cluster, so most lookups cost one hash and one compare. An entry
 * remembers the database network it came from, so it is exact, never approximate. */
struct ds_geo_cache_entry;
struct ds_geo_cache {
    const struct ds_geo *g;
    struct ds_geo_cache_entry *slots;
    size_t mask;
    uint64_t hits, misses; /* for stats; owned by the thread */
};

/* slots is rounded up to a power of two (default 65536 when 0: ~2.6 MB; ~40 bytes each). */
int ds_geo_cache_init(struct ds_geo_cache *c, const struct ds_geo *g, size_t slots,
                      struct ds_err *err);
void ds_geo_cache_free(struct ds_geo_cache *c);

/* The cached lookup; allocation-free. Not thread-safe on one cache (one cache per thread). */
void ds_geo_lookup(struct ds_geo_cache *c, const struct ds_addr *a, struct ds_geo_info *out);

#endif
