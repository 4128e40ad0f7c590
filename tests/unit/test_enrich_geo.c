/* test_enrich_geo.c - country/ASN lookups against MMDB files the test writes itself, and
 * absent or broken databases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/addr.h"
#include "enrich/geo.h"
#include "enrich/mmdb_write.h"

static char dir[64];
static char country_path[128], asn_path[128], iploc_path[128];

static struct ds_prefix P(const char *text) {
    struct ds_prefix p;
    struct ds_err err = {0};
    assert_int_equal(ds_prefix_parse(&p, text, &err), 0);
    return p;
}

static struct ds_addr
A(const char *text) {
    struct ds_addr a;
    struct ds_err err = {0};
    assert_int_equal(ds_addr_parse(&a, text, &err), 0);
    return a;
}

static int
setup(void **st)
{
    (void)st;
    struct ds_err err = {0};
    strcpy(dir, "/tmp/ds-geo-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(country_path, sizeof country_path, "%s/country.mmdb", dir);
    snprintf(asn_path, sizeof asn_path, "%s/asn.mmdb", dir);
    snprintf(iploc_path, sizeof iploc_path, "%s/iploc.mmdb", dir);
    const struct ds_mmdb_record country[] = {
        {.prefix = P("192.0.2.0/24"), .country = "JP"},
        {.prefix = P("192.0.2.128/25"), .country = "FR"}, /* nested: longer wins */
        {.prefix = P("198.51.0.0/16"), .country = "US"},
        {.prefix = P("203.0.113.7/32"), .country = "DE"},
        {.prefix = P("2001:db8::/32"), .country = "NL"},
        {.prefix = P("2001:db8:ff::/48"), .country = "BR"},
    };
    const struct ds_mmdb_record asn[] = {
        {.prefix = P("192.0.2.0/24"), .asn = 64500, .as_org = "Example Net"},
        {.prefix = P("198.51.100.0/24"), .asn = 4200000000u, .as_org = "Big ASN Ltd"},
        {.prefix = P("2001:db8::/32"), .asn = 64501, .as_org = "V6 \xe6\x97\xa5\xe6\x9c\xac"},
    };
    const struct ds_mmdb_record iploc[] = {
        {.prefix = P("192.0.2.0/24"), .country = "KR"},
        {.prefix = P("2001:db8::/32"), .country = "SE"},
    };
    if (ds_mmdb_write(country_path, DS_MMDB_GEOLITE2, "Test-Country", country, 6, &err) < 0 ||
        ds_mmdb_write(asn_path, DS_MMDB_GEOLITE2, "Test-ASN", asn, 3, &err) < 0 ||
        ds_mmdb_write(iploc_path, DS_MMDB_IPLOCATION, "country", iploc, 2, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void look(const struct ds_geo *g, const char *addr, const char *cc, uint32_t asn,
                 const char *org, unsigned netlen)
{
    struct ds_geo_info info;
    unsigned len;
    struct ds_addr a = A(addr);
    ds_geo_lookup_uncached(g, &a, &info, &len);
    assert_string_equal(info.country, cc);
    assert_int_equal(info.asn, asn);
    if (org) {
        assert_non_null(info.as_org);
        assert_int_equal(info.as_org_len, strlen(org));
        assert_memory_equal(info.as_org, org, strlen(org));
    } else {
        assert_null(info.as_org);
    }
    if (netlen)
        assert_int_equal(len, netlen);
}

static void test_geolite2_layout(void **st)
{
    (void)st;
    struct ds_geo *g;
    struct ds_err err = {0};
    struct ds_geo_config cfg = {.country_db = country_path, .asn_db = asn_path};
    assert_int_equal(ds_geo_open(&g, &cfg, &err), 0);
    assert_true(ds_geo_has_country(g, NULL));
    assert_true(ds_geo_has_asn(g, NULL));
    look(g, "192.0.2.1", "JP", 64500, "Example Net", 96 + 25);
    look(g, "192.0.2.200", "FR", 64500, "Example Net", 96 + 25);
    look(g, "198.51.100.20", "US", 4200000000u, "Big ASN Ltd", 96 + 24);
    look(g, "198.51.7.1", "US", 0, NULL, 0);
    look(g, "203.0.113.7", "DE", 0, NULL, 128);
    look(g, "203.0.113.8", "", 0, NULL, 0);
    look(g, "2001:db8::1", "NL", 64501, "V6 \xe6\x97\xa5\xe6\x9c\xac", 41); /* split at bit 40 */
    look(g, "2001:db8:ff::1", "BR", 64501, "V6 \xe6\x97\xa5\xe6\x9c\xac", 48);
    look(g, "2001:db9::1", "", 0, NULL, 0);
    look(g, "10.0.0.1", "", 0, NULL, 0);
    ds_geo_close(g);
}

static void test_iplocation_layout(void **st)
{
    (void)st;
    struct ds_geo *g;
    struct ds_err err = {0};
    struct ds_geo_config cfg = {.country_db = iploc_path, .asn_db = NULL};
    assert_int_equal(ds_geo_open(&g, &cfg, &err), 0);
    const char *why;
    assert_false(ds_geo_has_asn(g, &why));
    assert_string_equal(why, "no ASN database configured");
    look(g, "192.0.2.9", "KR", 0, NULL, 0);
    look(g, "2001:db8:1::", "SE", 0, NULL, 0);
    ds_geo_close(g);
}

static void test_cache(void **st)
{
    (void)st;
    struct ds_geo *g;
    struct ds_err err = {0};
    struct ds_geo_config cfg = {.country_db = country_path, .asn_db = asn_path};
    struct ds_geo_cache c;
    struct ds_geo_info info;
    assert_int_equal(ds_geo_open(&g, &cfg, &err), 0);
    assert_int_equal(ds_geo_cache_init(&c, g, 100, &err), 0);
    assert_int_equal(c.mask, 127);
    const char *addrs[] = {"192.0.2.1",      "192.0.2.2",    "192.0.2.200", "192.0.2.3",
                           "203.0.113.7",    "203.0.113.8",  "2001:db8::1", "2001:db8::2",
                           "2001:db8:ff::9", "198.51.100.1", "192.0.2.201", "10.1.2.3"};
    /* the cached answer equals the uncached one, whatever the order and collisions */
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
            struct ds_addr a = A(addrs[i]);
            struct ds_geo_info want;
            ds_geo_lookup_uncached(g, &a, &want, NULL);
            ds_geo_lookup(&c, &a, &info);
            assert_string_equal(info.country, want.country);
            assert_int_equal(info.asn, want.asn);
            assert_ptr_equal(info.as_org, want.as_org);
        }
    }
    assert_int_equal(c.hits + c.misses, 36);
    assert_true(c.hits >= 12); /* /25 neighbours in one /24 slot evict each other; others hit */
    uint64_t misses = c.misses;
    struct ds_addr a = A("192.0.2.1");
    ds_geo_lookup(&c, &a, &info);
    a = A("192.0.2.7"); /* same /25 network: a hit */
    ds_geo_lookup(&c, &a, &info);
    assert_string_equal(info.country, "JP");
    assert_true(c.misses <= misses + 1);
    ds_geo_cache_free(&c);
    ds_geo_close(g);
}

static void expect_unusable(const char *path, const char *reason)
{
    struct ds_geo *g;
    struct ds_err err = {0};
    struct ds_geo_config cfg = {.country_db = path, .asn_db = asn_path};
    assert_int_equal(ds_geo_open(&g, &cfg, &err), 0); /* analysis goes on */
    const char *why;
    assert_false(ds_geo_has_country(g, &why));
    char want[512];
    snprintf(want, sizeof want, "country database %s: %s", path, reason);
    assert_string_equal(why, want);
    assert_true(ds_geo_has_asn(g, NULL));
    look(g, "192.0.2.1", "", 64500, "Example Net", 0); /* ASN still answers */
    struct ds_geo_cache c;
    struct ds_geo_info info;
    assert_int_equal(ds_geo_cache_init(&c, g, 0, &err), 0);
    struct ds_addr a = A("198.51.100.1");
    ds_geo_lookup(&c, &a, &info);
    assert_string_equal(info.country, "");
    ds_geo_cache_free(&c);
    ds_geo_close(g);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_broken_databases(void **st)
{
    (void)st;
    char path[160];
    snprintf(path, sizeof path, "%s/absent.mmdb", dir);
    expect_unusable(path, "No such file or directory");
    expect_unusable(dir, "is a directory");

    /* truncated: the first half of a valid file (the metadata is at the end) */
    FILE *f = fopen(country_path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 100);
    snprintf(path, sizeof path, "%s/truncated.mmdb", dir);
    write_file(path, buf, n / 2);
    expect_unusable(path, "The MaxMind DB file contains invalid metadata");

    /* random bytes */
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < 4096; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (char)x;
    }
    snprintf(path, sizeof path, "%s/random.mmdb", dir);
    write_file(path, buf, 4096);
    expect_unusable(path, "The MaxMind DB file contains invalid metadata");

    /* empty */
    snprintf(path, sizeof path, "%s/empty.mmdb", dir);
    write_file(path, "", 0);
    expect_unusable(path, "empty file");

    /* nothing configured at all: lookups still answer, with unknowns */
    struct ds_geo *g;
    struct ds_err err = {0};
    struct ds_geo_config none = {0};
    assert_int_equal(ds_geo_open(&g, &none, &err), 0);
    look(g, "192.0.2.1", "", 0, NULL, 0);
    ds_geo_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geolite2_layout),
        cmocka_unit_test(test_iplocation_layout),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_broken_databases),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
