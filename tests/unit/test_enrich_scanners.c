/* test_enrich_scanners.c - research-scanner lists: text format, MISP JSON, the repo's list. */
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
#include "enrich/scanners.h"

/* The repository's root, from this file's path (CMake compiles it by absolute path). */
static void repo_path(char *out, size_t size, const char *rel)
{
    const char *f = __FILE__, *cut = strstr(f, "tests/unit/");
    snprintf(out, size, "%.*s%s", cut ? (int)(cut - f) : 0, f, rel);
}

static struct ds_addr A(const char *text) {
    struct ds_addr a;
    struct ds_err err = {0};
    assert_int_equal(ds_addr_parse(&a, text, &err), 0);
    return a;
}

static const char *
who(const struct ds_scanners *s, const char *addr)
{
    uint32_t label;
    struct ds_addr a = A(addr);
    if (!ds_scanners_lookup(s, &a, &label))
        return "-";
    return ds_scanners_label(s, label);
}

static int parse_text(struct ds_scanners *s, const char *text, struct ds_err *err)
{
    return ds_scanners_parse_text(s, text, strlen(text), "list.txt", err);
}

static int parse_misp(struct ds_scanners *s, const char *text, struct ds_err *err)
{
    return ds_scanners_parse_misp(s, text, strlen(text), "wl.json", err);
}

static void test_text_good(void **st)
{
    (void)st;
    struct ds_scanners *s;
    struct ds_err err = {0};
    assert_int_equal(ds_scanners_new(&s, &err), 0);
    const char *text = "# a comment\n"
                       "\n"
                       "   \t  \n"
                       "192.0.2.0/24   Example Research  https://example.org/scanning\r\n"
                       "192.0.2.128/25\tExample   Research\tsrc # trailing comment\n"
                       "198.51.100.7  Other Org -\n"
                       "2001:db8::/32 IPv6   Scanner  -\n"
                       "192.0.2.0/24 Example Research another-source\n" /* duplicate, same org */
                       "203.0.113.0/24 Last Line -";                    /* no final newline */
    assert_int_equal(parse_text(s, text, &err), 0);
    assert_int_equal(ds_scanners_finish(s, &err), 0);
    assert_int_equal(ds_scanners_prefix_count(s), 5);
    assert_int_equal(ds_scanners_duplicate_count(s), 1);
    assert_int_equal(ds_scanners_label_count(s), 4);
    assert_string_equal(who(s, "192.0.2.1"), "Example Research");
    assert_string_equal(who(s, "192.0.2.200"), "Example Research");
    assert_string_equal(who(s, "198.51.100.7"), "Other Org");
    assert_string_equal(who(s, "198.51.100.8"), "-");
    assert_string_equal(who(s, "2001:db8:1::1"), "IPv6 Scanner");
    assert_string_equal(who(s, "203.0.113.255"), "Last Line");
    assert_null(ds_scanners_label(s, 99));
    ds_scanners_free(s);
}

static void expect_text_error(const char *text, const char *msg)
{
    struct ds_scanners *s;
    struct ds_err err = {0};
    assert_int_equal(ds_scanners_new(&s, &err), 0);
    assert_int_equal(parse_text(s, text, &err), -EINVAL);
    assert_string_equal(err.msg, msg);
    /* nothing from the failed buffer is kept */
    assert_int_equal(ds_scanners_finish(s, &err), 0);
    assert_int_equal(ds_scanners_prefix_count(s), 0);
    assert_int_equal(ds_scanners_label_count(s), 0);
    ds_scanners_free(s);
}

static void test_text_bad(void **st)
{
    (void)st;
    expect_text_error("192.0.2.0/24 Org src\n\n10.0.0.300/8 Org src\n",
                      "list.txt:3: '10.0.0.300/8' is not a CIDR prefix (bad address '10.0.0.300')");
    expect_text_error("# header\n192.0.2.1/24 Org src\n",
                      "list.txt:2: '192.0.2.1/24': host bits set below /24 (did you mean "
                      "192.0.2.0/24?)");
    expect_text_error("192.0.2.0/24 Org\n",
                      "list.txt:1: expected 'CIDR organisation source', got '192.0.2.0/24 Org' "
                      "(2 fields)");
    expect_text_error("  192.0.2.0/24\n", "list.txt:1: expected 'CIDR organisation source', got "
                                          "'192.0.2.0/24' (1 field)");
    expect_text_error("192.0.2.0/24 Org\x01 src\n",
                      "list.txt:1: control character 0x01 in column 17");
    expect_text_error("1.2.3.0/24 a b\n2001:db8::/129 Org src\n",
                      "list.txt:2: '2001:db8::/129': prefix length 129 exceeds 128");
}

static void test_conflicting_duplicate(void **st)
{
    (void)st;
    struct ds_scanners *s;
    struct ds_err err = {0};
    assert_int_equal(ds_scanners_new(&s, &err), 0);
    assert_int_equal(parse_text(s, "192.0.2.0/24 First Org src\n", &err), 0);
    assert_int_equal(parse_misp(s,
                                "{\"name\": \"Second\", \"type\": \"cidr\", \"list\": "
                                "[\"198.51.100.0/24\", \"192.0.2.0/24\"]}",
                                &err),
                     0);
    assert_int_equal(ds_scanners_finish(s, &err), -EINVAL);
    assert_string_equal(err.msg, "wl.json: list[1]: prefix 192.0.2.0/24 labelled 'Second', but "
                                 "list.txt:1 already labels it 'First Org'");
    ds_scanners_free(s);
}

static void test_misp_good(void **st)
{
    (void)st;
    struct ds_scanners *s;
    struct ds_err err = {0};
    assert_int_equal(ds_scanners_new(&s, &err), 0);
    assert_int_equal(parse_misp(s,
                                "{\"name\": \"Example Scanning\", \"type\": \"cidr\",\n"
                                " \"version\": 3, \"description\": \"x\",\n"
                                " \"list\": [\"192.0.2.0/24\", \"2001:db8::/48\", \"198.51.100.9\","
                                " \"2604:a940:300:5b6:0:0:0:0/64\"]}",
                                &err),
                     0);
    /* "string" lists (and lists without a type) may mix in domains, which are skipped */
    assert_int_equal(parse_misp(s,
                                "{\"name\": \"Mixed\", \"list\": [\"scanner.example\", "
                                "\"203.0.113.0/25\", \"\"]}",
                                &err),
                     0);
    assert_int_equal(ds_scanners_finish(s, &err), 0);
    assert_int_equal(ds_scanners_prefix_count(s), 5);
    assert_string_equal(who(s, "192.0.2.77"), "Example Scanning");
    assert_string_equal(who(s, "2001:db8::5"), "Example Scanning");
    assert_string_equal(who(s, "2604:a940:300:5b6::1"), "Example Scanning");
    assert_string_equal(who(s, "198.51.100.9"), "Example Scanning");
    assert_string_equal(who(s, "203.0.113.1"), "Mixed");
    assert_string_equal(who(s, "203.0.113.200"), "-");
    ds_scanners_free(s);
}

static void expect_misp_error(const char *json, const char *msg)
{
    struct ds_scanners *s;
    struct ds_err err = {0};
    assert_int_equal(ds_scanners_new(&s, &err), 0);
    assert_int_equal(parse_misp(s, json, &err), -EINVAL);
    assert_string_equal(err.msg, msg);
    assert_int_equal(ds_scanners_finish(s, &err), 0);
    assert_int_equal(ds_scanners_prefix_count(s), 0);
    ds_scanners_free(s);
}

static void test_misp_bad(void **st)
{
    (void)st;
    expect_misp_error("{\"name\": \"x\",\n \"list\": [\"1.2.3.4\",]}",
                      "wl.json:2:21: invalid JSON: unexpected token near ']'");
    expect_misp_error("[1, 2]", "wl.json: the top level is not a JSON object");
    expect_misp_error("{\"list\": []}", "wl.json: \"name\" is missing or not a non-empty string");
    expect_misp_error("{\"name\": 7, \"list\": []}",
                      "wl.json: \"name\" is missing or not a non-empty string");
    expect_misp_error("{\"name\": \"x\", \"type\": \"hostname\", \"list\": []}",
                      "wl.json: \"type\" is 'hostname'; only \"cidr\" and \"string\" lists hold "
                      "addresses");
    expect_misp_error("{\"name\": \"x\", \"type\": 1, \"list\": []}",
                      "wl.json: \"type\" is not a string");
    expect_misp_error("{\"name\": \"x\", \"list\": {}}",
                      "wl.json: \"list\" is missing or not an array");
    expect_misp_error("{\"name\": \"x\", \"type\": \"cidr\", \"list\": [\"192.0.2.0/24\", 5]}",
                      "wl.json: list[1] is not a string");
    expect_misp_error("{\"name\": \"x\", \"type\": \"cidr\", \"list\": [\"scanner.example\"]}",
                      "wl.json: list[0]: 'scanner.example' is not a CIDR prefix (bad address "
                      "'scanner.example')");
    expect_misp_error("{\"name\": \"x\", \"name\": \"y\", \"list\": []}",
                      "wl.json:1:20: invalid JSON: duplicate object key near '\"name\"'");
}

static void test_repo_list(void **st)
{
    (void)st;
    struct ds_scanners *s;
    struct ds_err err = {0};
    assert_int_equal(ds_scanners_new(&s, &err), 0);
    char path[1024];
    repo_path(path, sizeof path, "data/research-scanners.txt");
    int rc = ds_scanners_load(s, path, &err);
    if (rc < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(ds_scanners_finish(s, &err), 0);
    assert_int_equal(ds_scanners_prefix_count(s), 328);
    assert_int_equal(ds_scanners_duplicate_count(s), 0);
    assert_int_equal(ds_scanners_label_count(s), 10);
    assert_string_equal(who(s, "137.226.113.40"), "RWTH Aachen");
    assert_string_equal(who(s, "162.142.125.10"), "Censys");
    assert_string_equal(who(s, "2602:80d:1003::5"), "Censys");
    assert_string_equal(who(s, "71.6.233.9"), "Rapid7 Project Sonar");
    assert_string_equal(who(s, "71.6.146.185"), "Shodan");
    assert_string_equal(who(s, "198.235.24.1"), "Palo Alto Networks Cortex Xpanse");
    assert_string_equal(who(s, "87.236.176.200"), "Driftnet / Internet-Measurement");
    assert_string_equal(who(s, "184.105.139.70"), "Shadowserver Foundation");
    assert_string_equal(who(s, "8.8.8.8"), "-");
    ds_scanners_free(s);
}

static void test_files(void **st)
{
    (void)st;
    struct ds_scanners *s;
    struct ds_err err = {0};
    char dir[] = "/tmp/ds-scanners-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    assert_int_equal(ds_scanners_new(&s, &err), 0);
    snprintf(path, sizeof path, "%s/missing.txt", dir);
    assert_int_equal(ds_scanners_load(s, path, &err), -ENOENT);
    char want[400];
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(ds_scanners_load(s, dir, &err), -EIO); /* a directory */
    snprintf(path, sizeof path, "%s/wl.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("\n  {\"name\": \"From File\", \"type\": \"cidr\", \"list\": [\"192.0.2.0/24\"]}\n", f);
    fclose(f);
    assert_int_equal(ds_scanners_load(s, path, &err), 0);
    assert_int_equal(ds_scanners_finish(s, &err), 0);
    assert_string_equal(who(s, "192.0.2.3"), "From File");
    assert_int_equal(ds_scanners_parse_text(s, "", 0, "late", &err), -EBUSY);
    ds_scanners_free(s);
    remove(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_good),
        cmocka_unit_test(test_text_bad),
        cmocka_unit_test(test_conflicting_duplicate),
        cmocka_unit_test(test_misp_good),
        cmocka_unit_test(test_misp_bad),
        cmocka_unit_test(test_repo_list),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
