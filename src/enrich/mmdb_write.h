/* mmdb_write.h - writes small MaxMind DB files (country / ASN records) for tests and imports. */
#ifndef DS_MMDB_WRITE_H
#define DS_MMDB_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/err.h"

/*
 * A MaxMind DB (format 2.0, maxmind.github.io/MaxMind-DB) with an IPv6 search tree of 24-bit
 * records; IPv4 prefixes go under ::/96 as in MaxMind's own files, so IPv4 lookups through
 * libmaxminddb find them. Each record is a map holding the fields that are set:
 *
 *   layout GEOLITE2:    {"country": {"iso_code": CC}, "autonomous_system_number": N,
 *                        "autonomous_system_organization": ORG}
 *   layout IPLOCATION:  {"country_code": CC, "autonomous_system_number": N,
 *                        "autonomous_system_organization": ORG}   (@ip-location-db's layout)
 *
 * Meant for modest sizes (tests, a converted ASN table): the whole file is built in memory.
 * Single-threaded; no global state.
 */
enum ds_mmdb_layout { DS_MMDB_GEOLITE2, DS_MMDB_IPLOCATION };

struct ds_mmdb_record {
    struct ds_prefix prefix; /* len >= 1; later records of the same prefix win */
    const char *country;     /* ISO code, NULL for none */
    uint32_t asn;            /* 0 for none */
    const char *as_org;      /* NULL for none */
};

/* Writes path (replacing it). 0 or a negative code with a message naming path. */
int ds_mmdb_write(const char *path, enum ds_mmdb_layout layout, const char *database_type,
                  const struct ds_mmdb_record *recs, size_t n, struct ds_err *err);

#endif
