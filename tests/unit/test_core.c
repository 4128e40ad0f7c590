/* test_core.c - addresses, prefixes, the darknet set and the option table. */
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
#include "core/darknet.h"
#include "core/options.h"

static void test_prefix_parse(void **st)
{
    (void)st;
    struct ds_prefix p;
    struct ds_err err = {0};
    char buf[DS_PREFIX_STRLEN];
    assert_int_equal(ds_prefix_parse(&p, "198.51.100.0/24", &err), 0);
    assert_int_equal(p.len, 96 + 24);
    assert_string_equal(ds_prefix_format(&p, buf), "198.51.100.0/24");
    assert_int_equal(ds_prefix_parse(&p, "2001:db8::/32", &err), 0);
    assert_int_equal(p.len, 32);
    assert_string_equal(ds_prefix_format(&p, buf), "2001:db8::/32");
    assert_int_equal(ds_prefix_parse(&p, "192.0.2.7", &err), 0);
    assert_int_equal(p.len, 128);
    assert_int_equal(ds_prefix_parse(&p, "198.51.100.1/24", &err), -EINVAL);
    assert_string_equal(
        err.msg, "'198.51.100.1/24': host bits set below /24 (did you mean 198.51.100.0/24?)");
    assert_int_equal(ds_prefix_parse(&p, "10.0.0.0/33", &err), -EINVAL);
    assert_string_equal(err.msg, "'10.0.0.0/33': prefix length 33 exceeds 32");
    assert_int_equal(ds_prefix_parse(&p, "banana/8", &err), -EINVAL);
    assert_string_equal(err.msg, "'banana/8' is not a CIDR prefix (bad address 'banana')");
    assert_int_equal(ds_prefix_parse(&p, "10.0.0.0/", &err), -EINVAL);
    assert_int_equal(ds_prefix_parse(&p, "10.0.0.0/8x", &err), -EINVAL);
}

static void test_darknet(void **st)
{
    (void)st;
    struct ds_darknet d;
    struct ds_err err = {0};
    ds_darknet_init(&d);
    assert_true(ds_darknet_is_all(&d));
    assert_int_equal(ds_darknet_v4_addresses(&d), 1ULL << 32);
    assert_int_equal(
        ds_darknet_add_list(&d, "198.51.100.0/25, 198.51.100.128/25", "--darknet", &err), 0);
    assert_int_equal(
        ds_darknet_add_list(&d, "198.51.100.0/24,10.0.0.0/8 2001:db8:1::/48", "--darknet", &err),
        0);
    ds_darknet_finish(&d);
    assert_int_equal(d.n_v4, 2); /* merged */
    assert_int_equal(ds_darknet_v4_addresses(&d), 256 + (1u << 24));
    struct ds_addr a;
    ds_addr_parse(&a, "198.51.100.200", NULL);
    assert_true(ds_darknet_contains(&d, &a));
    ds_addr_parse(&a, "198.51.101.0", NULL);
    assert_false(ds_darknet_contains(&d, &a));
    ds_addr_parse(&a, "10.255.255.255", NULL);
    assert_true(ds_darknet_contains(&d, &a));
    ds_addr_parse(&a, "2001:db8:1:ffff::1", NULL);
    assert_true(ds_darknet_contains(&d, &a));
    ds_addr_parse(&a, "2001:db8:2::1", NULL);
    assert_false(ds_darknet_contains(&d, &a));
    assert_int_equal(ds_darknet_add_list(&d, "198.51.100.0/24,300.1.1.1/8", "--darknet", &err),
                     -EINVAL);
    assert_string_equal(err.msg,
                        "--darknet: '300.1.1.1/8' is not a CIDR prefix (bad address '300.1.1.1')");
    ds_darknet_free(&d);

    /* 0.0.0.0/0 covers everything and does not overflow */
    ds_darknet_init(&d);
    assert_int_equal(ds_darknet_add_list(&d, "0.0.0.0/0,1.0.0.0/8", "x", &err), 0);
    ds_darknet_finish(&d);
    assert_int_equal(d.n_v4, 1);
    assert_int_equal(ds_darknet_v4_addresses(&d), 1ULL << 32);
    ds_darknet_free(&d);

    /* from a file, with an error naming file:line */
    char path[] = "/tmp/ds_darknet_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# our sensors\n198.51.100.0/24  # tokyo\n\n203.0.113.0/24\n192.0.2.0/33\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ds_darknet_init(&d);
    assert_int_equal(ds_darknet_add_file(&d, path, &err), -EINVAL);
    char expect[256];
    snprintf(expect, sizeof expect, "%s:5: '192.0.2.0/33': prefix length 33 exceeds 32", path);
    assert_string_equal(err.msg, expect);
    ds_darknet_finish(&d);
    assert_int_equal(ds_darknet_v4_addresses(&d), 512);
    ds_darknet_free(&d);
    unlink(path);
}

struct settings {
    bool flag;
    long num;
    char *name;
    struct ds_strlist list;
    int mode;
};
static const char *const modes[] = {"a", "b", "c", NULL};
static const struct ds_option tab[] = {
    {.name = "flag",
     .short_name = 'F',
     .type = DS_OPT_BOOL,
     .offset = offsetof(struct settings, flag),
     .help = "a flag"},
    {.name = "num",
     .short_name = 'n',
     .type = DS_OPT_INT,
     .offset = offsetof(struct settings, num),
     .def = "5",
     .min = 1,
     .max = 10,
     .help = "a number"},
    {.name = "name",
     .type = DS_OPT_STRING,
     .offset = offsetof(struct settings, name),
     .def = "x",
     .help = "a name"},
    {.name = "item",
     .short_name = 'i',
     .type = DS_OPT_LIST,
     .offset = offsetof(struct settings, list),
     .help = "items"},
    {.name = "mode",
     .type = DS_OPT_ENUM,
     .offset = offsetof(struct settings, mode),
     .def = "b",
     .choices = modes,
     .help = "mode"},
};
#define NT (sizeof tab / sizeof tab[0])

static void test_options(void **st)
{
    (void)st;
    struct settings s;
    struct ds_err err = {0};
    struct ds_strlist pos = {0};
    assert_int_equal(ds_options_defaults(tab, NT, &s, &err), 0);
    assert_int_equal(s.num, 5);
    assert_string_equal(s.name, "x");
    assert_int_equal(s.mode, 1);
    char *argv[] = {"prog",   "-F", "--num=7", "-i", "one", "-itwo",
                    "--mode", "c",  "file",    "--", "-x",  NULL};
    assert_int_equal(ds_options_parse_argv(tab, NT, &s, 11, argv, &pos, &err), 0);
    assert_true(s.flag);
    assert_int_equal(s.num, 7);
    assert_int_equal(s.list.n, 2);
    assert_string_equal(s.list.v[1], "two");
    assert_int_equal(s.mode, 2);
    assert_int_equal(pos.n, 2);
    assert_string_equal(pos.v[1], "-x");
    char *bad1[] = {"prog", "--num", "11", NULL};
    assert_int_equal(ds_options_parse_argv(tab, NT, &s, 3, bad1, NULL, &err), -ERANGE);
    assert_string_equal(err.msg, "--num: num must be between 1 and 10, not 11");
    char *bad2[] = {"prog", "--mode=z", NULL};
    assert_int_equal(ds_options_parse_argv(tab, NT, &s, 2, bad2, NULL, &err), -EINVAL);
    assert_string_equal(err.msg, "--mode: mode must be one of a|b|c, not 'z'");
    char *bad3[] = {"prog", "--nope", NULL};
    assert_int_equal(ds_options_parse_argv(tab, NT, &s, 2, bad3, NULL, &err), -EINVAL);
    assert_string_equal(err.msg, "unknown option '--nope'");
    char *bad4[] = {"prog", "-n", NULL};
    assert_int_equal(ds_options_parse_argv(tab, NT, &s, 2, bad4, NULL, &err), -EINVAL);
    char *neg[] = {"prog", "--no-flag", NULL};
    assert_int_equal(ds_options_parse_argv(tab, NT, &s, 2, neg, NULL, &err), 0);
    assert_false(s.flag);

    /* dump, then read the dump back into fresh settings: same values */
    char path[] = "/tmp/ds_opts_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    ds_options_dump(tab, NT, &s, f);
    fclose(f);
    struct settings t;
    assert_int_equal(ds_options_defaults(tab, NT, &t, &err), 0);
    assert_int_equal(ds_options_parse_file(tab, NT, &t, path, &err), 0);
    assert_int_equal(t.num, 7);
    assert_int_equal(t.mode, 2);
    assert_int_equal(t.list.n, 2);
    assert_string_equal(t.list.v[0], "one");
    assert_false(t.flag);
    ds_options_free(tab, NT, &t);
    /* file errors name file:line */
    f = fopen(path, "w");
    fputs("num 3\n\nflag maybe\n", f);
    fclose(f);
    assert_int_equal(ds_options_defaults(tab, NT, &t, &err), 0);
    assert_int_equal(ds_options_parse_file(tab, NT, &t, path, &err), -EINVAL);
    char expect[256];
    snprintf(expect, sizeof expect, "%s:3: flag expects yes or no, not 'maybe'", path);
    assert_string_equal(err.msg, expect);
    ds_options_free(tab, NT, &t);
    unlink(path);
    ds_options_free(tab, NT, &s);
    ds_strlist_free(&pos);
}

/* A command's settings with the shared table above embedded as a group. */
struct outer {
    long level;
    struct settings shared;
    char *config;
};
static const struct ds_option outer_tab[] = {
    {.name = "level",
     .type = DS_OPT_INT,
     .offset = offsetof(struct outer, level),
     .def = "2",
     .min = 0,
     .max = 9,
     .help = "a level"},
    {.name = "shared",
     .type = DS_OPT_GROUP,
     .offset = offsetof(struct outer, shared),
     .group = tab,
     .group_n = NT},
    {.name = "config",
     .short_name = 'c',
     .type = DS_OPT_STRING,
     .offset = offsetof(struct outer, config),
     .help = "config file",
     .cli_only = true},
};
#define NO (sizeof outer_tab / sizeof outer_tab[0])

static void test_options_group(void **st)
{
    (void)st;
    char path[] = "/tmp/ds_optg_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("level 4\nnum 9\nitem from-file\nmode a\n", f);
    fclose(f);
    /* defaults reach into the group; the file (found by -c) first, then the flags */
    struct outer o;
    struct ds_err err = {0};
    char *argv[] = {"prog", "-n", "3", "-c", path, "--no-flag", "-i", "flag", "--level=6", NULL};
    assert_int_equal(ds_options_load(outer_tab, NO, &o, 9, argv, NULL, &err), 0);
    assert_int_equal(o.level, 6);
    assert_int_equal(o.shared.num, 3);
    assert_string_equal(o.shared.name, "x");
    assert_int_equal(o.shared.mode, 0);
    assert_int_equal(o.shared.list.n, 2);
    assert_string_equal(o.shared.list.v[0], "from-file");
    assert_string_equal(o.shared.list.v[1], "flag");
    assert_false(o.shared.flag);
    assert_string_equal(o.config, path);
    /* a group's option is named like any other in errors */
    char *bad[] = {"prog", "--num", "0", NULL};
    struct outer b;
    assert_int_equal(ds_options_load(outer_tab, NO, &b, 3, bad, NULL, &err), -ERANGE);
    assert_string_equal(err.msg, "--num: num must be between 1 and 10, not 0");
    ds_options_free(outer_tab, NO, &b);
    /* the dump lists the group's settings in place and reads back the same */
    f = fopen(path, "w");
    ds_options_dump(outer_tab, NO, &o, f);
    fclose(f);
    struct outer t;
    char *argv2[] = {"prog", "--config", path, NULL};
    assert_int_equal(ds_options_load(outer_tab, NO, &t, 3, argv2, NULL, &err), 0);
    assert_int_equal(t.level, 6);
    assert_int_equal(t.shared.num, 3);
    assert_int_equal(t.shared.list.n, 2);
    assert_string_equal(t.shared.list.v[1], "flag");
    /* a missing config file is named */
    char *argv3[] = {"prog", "--config=/nonexistent/x.conf", NULL};
    struct outer u;
    assert_int_equal(ds_options_load(outer_tab, NO, &u, 2, argv3, NULL, &err), -ENOENT);
    assert_string_equal(err.msg, "config file '/nonexistent/x.conf': No such file or directory");
    ds_options_free(outer_tab, NO, &u);
    ds_options_free(outer_tab, NO, &t);
    ds_options_free(outer_tab, NO, &o);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_parse),
        cmocka_unit_test(test_darknet),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_options_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
