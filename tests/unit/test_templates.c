/* test_templates.c - response templates through the cache (src/alert/templates.c): read once,
 * served from memory, re-read within a second after the file changes, the file's errors when
 * it goes; without a cache every call reads the file. Files in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "alert/templates.h"

static char dir[64], path[128];

static void put(const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect(struct ds_template_cache *c, const char *want)
{
    struct ds_template_text t;
    struct ds_err err = {0};
    assert_int_equal(ds_template_get(c, path, &t, &err), 0);
    assert_int_equal(t.len, strlen(want));
    assert_memory_equal(t.text, want, t.len);
    assert_true(c ? t.owned == NULL : t.owned == t.text);
    free(t.owned);
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_cache(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/ds-test-templates-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/internal.txt", dir);
    put("\xef\xbb\xbfHello {{organisation}}\r\nline two  \n\n");
    struct ds_template_cache *c;
    struct ds_err err = {0};
    assert_int_equal(ds_template_cache_new(&c, &err), 0);
    expect(c, "Hello {{organisation}}\nline two"); /* BOM, CRLF and the trailing blanks go */
    struct ds_template_text a, b;
    assert_int_equal(ds_template_get(c, path, &a, &err), 0);
    assert_int_equal(ds_template_get(c, path, &b, &err), 0);
    assert_ptr_equal(a.text, b.text); /* from memory */

    /* edited: within a second the cache may still serve the old text; after it, the new */
    put("Changed text, longer than before\n");
    pause_ms(1100);
    expect(c, "Changed text, longer than before");
    expect(NULL, "Changed text, longer than before");

    /* gone: the file's error, naming it */
    assert_int_equal(unlink(path), 0);
    pause_ms(1100);
    struct ds_template_text t;
    assert_int_equal(ds_template_get(c, path, &t, &err), -ENOENT);
    char msg[256];
    snprintf(msg, sizeof msg, "alert template %s: No such file or directory", path);
    assert_string_equal(err.msg, msg);
    assert_null(t.text);
    memset(&err, 0, sizeof err);
    assert_int_equal(ds_template_get(NULL, path, &t, &err), -ENOENT);

    /* back, and not UTF-8: refused as before */
    put("bad \xff byte");
    memset(&err, 0, sizeof err);
    assert_int_equal(ds_template_get(c, path, &t, &err), -EINVAL);
    snprintf(msg, sizeof msg, "alert template %s: not UTF-8 text", path);
    assert_string_equal(err.msg, msg);

    /* many paths: more than the slots, each still right */
    for (int i = 0; i < 40; i++) {
        char p2[160], want[32];
        snprintf(p2, sizeof p2, "%s/t%d.txt", dir, i);
        snprintf(want, sizeof want, "text %d", i);
        FILE *f = fopen(p2, "w");
        assert_non_null(f);
        fputs(want, f);
        fclose(f);
        assert_int_equal(ds_template_get(c, p2, &t, &err), 0);
        assert_int_equal(t.len, strlen(want));
        assert_memory_equal(t.text, want, t.len);
        unlink(p2);
    }
    ds_template_cache_free(c);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
