/* test_archive.c - the raw archive: names, rotation, zstd and plain, read back, failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/capture.h"
#include "store/archive.h"

#define T0 1704067200ull /* 2024-01-01T00:00:00Z */
#define S(sec) ((T0 + (sec)) * 1000000000ull)
#define MAX_CAP 262144u
#define ARCHIVE_BUF (1u << 20) /* archive.c's BUF_SIZE: pcap bytes gathered before a write */

static char g_root[] = "/tmp/ds-archive-XXXXXX";
static uint8_t g_data[MAX_CAP], g_want[MAX_CAP];
static struct ds_err g_err;

/* ------------------------------------------------------------------ helpers */

struct spec {
    uint64_t ts;
    uint32_t caplen, wirelen, lt, seed;
};

/* Incompressible but reproducible bytes (xorshift32). */
static void gen_data(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static int put(struct ds_archive *a, const struct spec *sp)
{
    gen_data(g_data, sp->caplen, sp->seed);
    struct ds_frame f = {.ts_ns = sp->ts,
                         .data = g_data,
                         .caplen = sp->caplen,
                         .wirelen = sp->wirelen,
                         .linktype = sp->lt};
    memset(&g_err, 0, sizeof g_err);
    return ds_archive_write(a, &f, &g_err);
}

static void put_all(struct ds_archive *a, const struct spec *sp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = put(a, &sp[i]);
        if (rc != 0)
            fail_msg("frame %zu: %d %s", i, rc, g_err.msg);
    }
}

static char *path_in(const char *dir, const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        abort();
    return p;
}

/* A fresh directory under the scratch root (not created: the archive does it). */
static char *sub_dir(const char *name)
{
    return path_in(g_root, name);
}

static int cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The directory's names, sorted, one per line. */
static void list_dir(const char *dir, char *out, size_t cap)
{
    char *names[64];
    size_t n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && n < 64)
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, names[i], cap - strlen(out) - 2);
        strcat(out, "\n");
        free(names[i]);
    }
}

static long long file_size(const char *dir, const char *name)
{
    char *p = path_in(dir, name);
    struct stat sb;
    long long n = stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
    free(p);
    return n;
}

/* Reads path with the project's reader and checks every frame against want[] (data cut to
 * snaplen), byte for byte. Returns the reader's counters. */
static struct ds_capture_stats read_check(const char *path, const struct spec *want, size_t n,
                                          uint32_t snaplen)
{
    struct ds_capture_opts o = {.paths = &path, .n_paths = 1};
    struct ds_source *s = NULL;
    struct ds_err e = {0};
    if (ds_source_open(&s, &o, &e) < 0)
        fail_msg("cannot read '%s': %s", path, e.msg);
    struct ds_frame f;
    size_t i = 0;
    int rc;
    while ((rc = ds_source_next(s, &f, &e)) == 1) {
        if (i >= n)
            fail_msg("'%s': more than %zu frames", path, n);
        uint32_t cap = want[i].caplen < snaplen ? want[i].caplen : snaplen;
        assert_int_equal(f.ts_ns, want[i].ts);
        assert_int_equal(f.caplen, cap);
        assert_int_equal(f.wirelen, want[i].wirelen);
        assert_int_equal(f.linktype, want[i].lt);
        gen_data(g_want, cap, want[i].seed);
        if (cap)
            assert_memory_equal(f.data, g_want, cap);
        i++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(i, n);
    struct ds_capture_stats st;
    ds_source_stats(s, &st);
    ds_source_close(s);
    return st;
}

static void read_file_check(const char *dir, const char *name, const struct spec *want, size_t n)
{
    char *p = path_in(dir, name);
    struct ds_capture_stats st = read_check(p, want, n, MAX_CAP);
    assert_int_equal(st.inputs_ok, 1);
    assert_int_equal(st.inputs_cut, 0);
    free(p);
}

static struct ds_archive *open_ok(const char *dir, int zstd_level, const char *prefix,
                                  uint32_t period_s, uint32_t snaplen)
{
    struct ds_archive_config c;
    ds_archive_config_init(&c);
    c.dir = dir;
    c.zstd_level = zstd_level;
    if (prefix)
        c.prefix = prefix;
    if (period_s)
        c.period_s = period_s;
    if (snaplen)
        c.snaplen = snaplen;
    struct ds_archive *a = NULL;
    struct ds_err e = {0};
    if (ds_archive_open(&a, &c, &e) < 0)
        fail_msg("ds_archive_open: %s", e.msg);
    return a;
}

static void close_ok(struct ds_archive *a)
{
    struct ds_err e = {0};
    if (ds_archive_close(a, &e) != 0)
        fail_msg("ds_archive_close: %s", e.msg);
}

/* stderr into a temp file while fn runs; returns the text (caller frees). */
static char *stderr_of(void (*fn)(void *), void *arg)
{
    char tmpl[] = "/tmp/ds-archive-stderr-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    unlink(tmpl);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)len, 0), len);
    close(fd);
    return text;
}

static void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char *c = path_in(path, de->d_name);
            rm_rf(c);
            free(c);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int setup(void **state)
{
    return mkdtemp(g_root) ? 0 : -1;
}

static int teardown(void **state)
{
    rm_rf(g_root);
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_defaults(void **state)
{
    struct ds_archive_config c;
    ds_archive_config_init(&c);
    assert_null(c.dir);
    assert_int_equal(c.period_s, 3600);
    assert_int_equal(c.zstd_level, 3);
    assert_string_equal(c.prefix, "darknet");
    assert_int_equal(c.snaplen, 262144);
}

/* Three hours, zstd: three files named after their hour, .part while open, read back byte
 * for byte through the directory (zstd transparently, merged in time order). */
static void test_three_hours_zstd(void **state)
{
    char *dir = sub_dir("three/nested/dir");
    struct spec sp[40];
    size_t n = 0;
    sp[n++] = (struct spec){S(0) + 1, 60, 60, 1, 1};
    sp[n++] = (struct spec){S(600) + 500000000, 0, 0, 1, 2};
    sp[n++] = (struct spec){S(3599) + 999999999, 1514, 1514, 1, 3};
    size_t h1 = n;
    sp[n++] = (struct spec){S(3600), MAX_CAP, MAX_CAP, 1, 4};
    sp[n++] = (struct spec){S(5400), 40, 1500, 1, 5};
    for (uint32_t i = 0; i < 20; i++) /* 2 MB of incompressible data: several writes */
        sp[n++] = (struct spec){S(6000 + i), 100000, 100000, 1, 10 + i};
    size_t h2 = n;
    sp[n++] = (struct spec){S(7200) + 500000000, 54, 54, 1, 40};
    sp[n++] = (struct spec){S(10799), 54, 54, 1, 41};

    struct ds_archive *a = open_ok(dir, 3, NULL, 0, 0);
    char names[4096];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, ""); /* no file before the first frame */
    put_all(a, sp, h1);
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "darknet-20240101T000000Z.pcap.zst.part\n");
    put_all(a, sp + h1, 1);
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "darknet-20240101T000000Z.pcap.zst\n"
                               "darknet-20240101T010000Z.pcap.zst.part\n");
    put_all(a, sp + h1 + 1, n - h1 - 1);
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    assert_int_equal(st.files_closed, 2);
    assert_int_equal(st.frames_written, n);
    close_ok(a);

    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "darknet-20240101T000000Z.pcap.zst\n"
                               "darknet-20240101T010000Z.pcap.zst\n"
                               "darknet-20240101T020000Z.pcap.zst\n");
    /* incompressible data: it is all in there */
    assert_true(file_size(dir, "darknet-20240101T010000Z.pcap.zst") > 2000000);
    assert_int_equal(st.frames_dropped, 0);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.files_failed, 0);
    assert_int_equal(st.frames_lost, 0);

    /* zstd magic on disk */
    char *p0 = path_in(dir, "darknet-20240101T000000Z.pcap.zst");
    FILE *fp = fopen(p0, "rb");
    uint8_t mg[4];
    assert_non_null(fp);
    assert_int_equal(fread(mg, 1, 4, fp), 4);
    fclose(fp);
    free(p0);
    assert_memory_equal(mg, "\x28\xb5\x2f\xfd", 4);

    struct ds_capture_stats cs = read_check(dir, sp, n, MAX_CAP);
    assert_int_equal(cs.inputs_ok, 3);
    assert_int_equal(cs.inputs_cut, 0);
    assert_int_equal(cs.inputs_rejected, 0);
    read_file_check(dir, "darknet-20240101T000000Z.pcap.zst", sp, h1);
    read_file_check(dir, "darknet-20240101T010000Z.pcap.zst", sp + h1, h2 - h1);
    read_file_check(dir, "darknet-20240101T020000Z.pcap.zst", sp + h2, n - h2);

    free(dir);
}

/* bytes_written is exactly what is on disk. */
static void test_bytes_written(void **state)
{
    char *dir = sub_dir("bytes");
    struct spec sp[] = {{S(10), 500, 500, 1, 1},
                        {S(20), 600, 600, 1, 2},
                        {S(3610), 700, 700, 1, 3},
                        {S(7210), 10, 10, 1, 4}};
    struct ds_archive *a = open_ok(dir, 3, NULL, 0, 0);
    put_all(a, sp, 4);
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    assert_int_equal(st.files_closed, 2);
    assert_int_equal(st.bytes_written, file_size(dir, "darknet-20240101T000000Z.pcap.zst") +
                                           file_size(dir, "darknet-20240101T010000Z.pcap.zst"));
    close_ok(a);
    free(dir);
}

/* zstd_level 0: plain .pcap, exact bytes; another prefix and period; frames cut to snaplen. */
static void test_uncompressed(void **state)
{
    char *dir = sub_dir("plain");
    struct spec sp[] = {
        {S(300) + 123456789, 100, 100, 1, 1}, /* 00:05 */
        {S(900), 300, 300, 1, 2},             /* 00:15, cut to 100 */
        {S(1500), 50, 1514, 1, 3},            /* 00:25 */
        {S(1799) + 999999999, 0, 60, 1, 4},   /* 00:29:59.999999999 */
    };
    struct ds_archive *a = open_ok(dir, 0, "sensor-7", 600, 100);
    put_all(a, sp, 4);
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    close_ok(a);
    char names[4096];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "sensor-7-20240101T000000Z.pcap\n"
                               "sensor-7-20240101T001000Z.pcap\n"
                               "sensor-7-20240101T002000Z.pcap\n");
    assert_int_equal(file_size(dir, "sensor-7-20240101T000000Z.pcap"), 24 + 16 + 100);
    assert_int_equal(file_size(dir, "sensor-7-20240101T001000Z.pcap"), 24 + 16 + 100);
    assert_int_equal(file_size(dir, "sensor-7-20240101T002000Z.pcap"), 24 + 16 + 50 + 16);
    assert_int_equal(st.files_closed, 2);
    assert_int_equal(st.frames_written, 4);

    /* the header and first record, byte by byte */
    char *p = path_in(dir, "sensor-7-20240101T000000Z.pcap");
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    uint8_t b[40];
    assert_int_equal(fread(b, 1, 40, fp), 40);
    fclose(fp);
    static const uint8_t want[40] = {
        0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 1, 0, 0, 0,
        /* 1704067500 s, 123456789 ns, caplen 100, len 100 */
        0xac, 0x01, 0x92, 0x65, 0x15, 0xcd, 0x5b, 0x07, 100, 0, 0, 0, 100, 0, 0, 0};
    assert_memory_equal(b, want, 40);

    read_file_check(dir, "sensor-7-20240101T000000Z.pcap", sp, 1);
    char *p1 = path_in(dir, "sensor-7-20240101T001000Z.pcap");
    read_check(p1, sp + 1, 1, 100);
    struct ds_capture_stats cs = read_check(dir, sp, 4, 100);
    assert_int_equal(cs.inputs_ok, 3);
    free(p1);
    free(p);
    free(dir);
}

/* A link type change mid-period opens a second file of that period, -ltN in its name; the
 * first file of each period has the plain name. */
static void test_linktype_change(void **state)
{
    char *dir = sub_dir("linktype");
    struct spec sp[] = {
        {S(1), 60, 60, 1, 1},    {S(2), 40, 40, 101, 2}, {S(3), 61, 61, 1, 3},
        {S(4), 41, 41, 101, 4},  {S(5), 80, 80, 113, 5}, {S(3600), 42, 42, 101, 6},
        {S(3601), 62, 62, 1, 7},
    };
    struct ds_archive *a = open_ok(dir, 3, NULL, 0, 0);
    put_all(a, sp, 7);
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    assert_int_equal(st.files_closed, 3);
    close_ok(a);
    char names[4096];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "darknet-20240101T000000Z-lt101.pcap.zst\n"
                               "darknet-20240101T000000Z-lt113.pcap.zst\n"
                               "darknet-20240101T000000Z.pcap.zst\n"
                               "darknet-20240101T010000Z-lt1.pcap.zst\n"
                               "darknet-20240101T010000Z.pcap.zst\n");
    const struct spec lt1[] = {sp[0], sp[2]}, lt101[] = {sp[1], sp[3]};
    read_file_check(dir, "darknet-20240101T000000Z.pcap.zst", lt1, 2);
    read_file_check(dir, "darknet-20240101T000000Z-lt101.pcap.zst", lt101, 2);
    read_file_check(dir, "darknet-20240101T000000Z-lt113.pcap.zst", sp + 4, 1);
    read_file_check(dir, "darknet-20240101T010000Z.pcap.zst", sp + 5, 1);
    read_file_check(dir, "darknet-20240101T010000Z-lt1.pcap.zst", sp + 6, 1);
    struct ds_capture_stats cs = read_check(dir, sp, 7, MAX_CAP);
    assert_int_equal(cs.inputs_ok, 5);
    free(dir);
}

/* At most DS_ARCHIVE_MAX_LINKTYPES files per period: a further link type is dropped, with one
 * error per period. */
static void test_too_many_linktypes(void **state)
{
    char *dir = sub_dir("many-lt");
    struct ds_archive *a = open_ok(dir, 0, NULL, 0, 0);
    for (uint32_t lt = 1; lt <= DS_ARCHIVE_MAX_LINKTYPES; lt++) {
        struct spec sp = {S(lt), 20, 20, lt, lt};
        assert_int_equal(put(a, &sp), 0);
    }
    struct spec extra = {S(100), 20, 20, 200, 1};
    assert_int_equal(put(a, &extra), -EMFILE);
    char want[512];
    snprintf(want, sizeof want,
             "archive '%s': more than 8 link types in one period; frames with link type 200 "
             "dropped until the next period",
             dir);
    assert_string_equal(g_err.msg, want);
    assert_int_equal(put(a, &extra), 0); /* reported once */
    struct spec next = {S(3600), 20, 20, 200, 2};
    assert_int_equal(put(a, &next), 0);
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    close_ok(a);
    assert_int_equal(st.files_closed, DS_ARCHIVE_MAX_LINKTYPES);
    assert_int_equal(st.frames_written, DS_ARCHIVE_MAX_LINKTYPES + 1);
    assert_int_equal(st.frames_dropped, 2);
    read_file_check(dir, "darknet-20240101T010000Z.pcap", &next, 1);
    free(dir);
}

/* Frames of an earlier period go into the open file (never a closed one), counted late. */
static void test_late_frames(void **state)
{
    char *dir = sub_dir("late");
    struct spec sp[] = {
        {S(3599) + 900000000, 60, 60, 1, 1}, /* hour 0 */
        {S(3600) + 500000000, 61, 61, 1, 2}, /* hour 1 */
        {S(3599) + 950000000, 62, 62, 1, 3}, /* late: into hour 1's file */
        {S(1800), 40, 40, 101, 4},           /* late, other link type: hour 1's -lt101 */
        {S(3601), 63, 63, 1, 5},
    };
    struct ds_archive *a = open_ok(dir, 3, NULL, 0, 0);
    put_all(a, sp, 5);
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    close_ok(a);
    assert_int_equal(st.late, 2);
    assert_int_equal(st.frames_written, 5);
    assert_int_equal(st.frames_dropped, 0);
    assert_int_equal(st.files_closed, 1);
    char names[4096];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "darknet-20240101T000000Z.pcap.zst\n"
                               "darknet-20240101T010000Z-lt101.pcap.zst\n"
                               "darknet-20240101T010000Z.pcap.zst\n");
    read_file_check(dir, "darknet-20240101T000000Z.pcap.zst", sp, 1);
    const struct spec h1[] = {sp[1], sp[2], sp[4]}; /* file order, as written */
    read_file_check(dir, "darknet-20240101T010000Z.pcap.zst", h1, 3);
    read_file_check(dir, "darknet-20240101T010000Z-lt101.pcap.zst", sp + 3, 1);
    free(dir);
}

struct open_args {
    const char *dir;
    struct ds_archive *a;
};
static void do_open(void *arg)
{
    struct open_args *o = arg;
    o->a = open_ok(o->dir, 3, NULL, 0, 0);
}

/* A restart within the same hour: -1, -2 ...; a .part left by a crash is warned about, not
 * touched, and its name is not reused. */
static void test_restart_collision(void **state)
{
    char *dir = sub_dir("restart");
    struct spec sp[] = {{S(10), 60, 60, 1, 1},
                        {S(20), 61, 61, 1, 2},
                        {S(30), 62, 62, 1, 3},
                        {S(3700), 63, 63, 1, 4}};
    for (int run = 0; run < 3; run++) {
        struct open_args o = {dir, NULL};
        char *warn = stderr_of(do_open, &o);
        assert_string_equal(warn, "");
        free(warn);
        put_all(o.a, sp + run, 1);
        close_ok(o.a);
    }
    /* a crash in hour 1 left this one */
    char *crash = path_in(dir, "darknet-20240101T010000Z.pcap.zst.part");
    FILE *fp = fopen(crash, "wb");
    assert_non_null(fp);
    fputs("half a file", fp);
    fclose(fp);
    struct open_args o = {dir, NULL};
    char *warn = stderr_of(do_open, &o);
    char want[512];
    snprintf(want, sizeof want,
             "darkscope: archive: warning: '%s' holds 1 unfinished file from an earlier run "
             "(e.g. 'darknet-20240101T010000Z.pcap.zst.part'); left as it is\n",
             dir);
    assert_string_equal(warn, want);
    free(warn);
    put_all(o.a, sp + 3, 1);
    close_ok(o.a);

    char names[4096];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "darknet-20240101T000000Z-1.pcap.zst\n"
                               "darknet-20240101T000000Z-2.pcap.zst\n"
                               "darknet-20240101T000000Z.pcap.zst\n"
                               "darknet-20240101T010000Z-1.pcap.zst\n"
                               "darknet-20240101T010000Z.pcap.zst.part\n");
    read_file_check(dir, "darknet-20240101T000000Z.pcap.zst", sp, 1);
    read_file_check(dir, "darknet-20240101T000000Z-1.pcap.zst", sp + 1, 1);
    read_file_check(dir, "darknet-20240101T000000Z-2.pcap.zst", sp + 2, 1);
    read_file_check(dir, "darknet-20240101T010000Z-1.pcap.zst", sp + 3, 1);
    assert_int_equal(file_size(dir, "darknet-20240101T010000Z.pcap.zst.part"), 11);
    free(crash);
    free(dir);
}

struct fsize_guard {
    struct rlimit saved;
    struct sigaction old_xfsz;
};
static void fsize_limit(struct fsize_guard *g, rlim_t bytes)
{
    struct sigaction ign = {.sa_handler = SIG_IGN};
    assert_int_equal(sigaction(SIGXFSZ, &ign, &g->old_xfsz), 0);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &g->saved), 0);
    struct rlimit r = g->saved;
    r.rlim_cur = bytes;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &r), 0);
}
static void fsize_restore(struct fsize_guard *g)
{
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &g->saved), 0);
    assert_int_equal(sigaction(SIGXFSZ, &g->old_xfsz, NULL), 0);
}

/*
 * A write error mid-period (RLIMIT_FSIZE, which binds root too, with SIGXFSZ ignored: EFBIG):
 * the call returns the error naming the file, the file stays NAME.part, frames for it are
 * dropped until the next period, which opens a new file; the closed file is intact.
 */
static void test_write_failure(void **state)
{
    char *dir = sub_dir("fail");
    struct spec h0[10], h1[15], h2[2];
    for (uint32_t i = 0; i < 10; i++)
        h0[i] = (struct spec){S(i), 1000, 1000, 1, i};
    for (uint32_t i = 0; i < 15; i++)
        h1[i] = (struct spec){S(3600 + i), 100000, 100000, 1, 100 + i};
    for (uint32_t i = 0; i < 2; i++)
        h2[i] = (struct spec){S(7200 + i), 100, 100, 1, 200 + i};
    struct spec late = {S(100), 100, 100, 1, 300};

    struct ds_archive *a = open_ok(dir, 0, NULL, 0, 0);
    put_all(a, h0, 10);
    struct fsize_guard g;
    fsize_limit(&g, 300000);
    int rc[15], late_rc, h2_rc[2];
    char msg[sizeof g_err.msg] = "";
    for (int i = 0; i < 15; i++) {
        rc[i] = put(a, &h1[i]);
        if (rc[i] < 0 && !msg[0])
            memcpy(msg, g_err.msg, sizeof msg);
    }
    late_rc = put(a, &late);
    for (int i = 0; i < 2; i++)
        h2_rc[i] = put(a, &h2[i]);
    fsize_restore(&g);
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    close_ok(a);

    /* 24 + 10 * 100016 bytes are buffered; the 11th frame fills the buffer, whose write
     * stops at the 300,000-byte limit */
    assert_true(24 + 10 * 100016 < ARCHIVE_BUF && 24 + 11 * 100016 > ARCHIVE_BUF);
    for (int i = 0; i < 15; i++)
        assert_int_equal(rc[i], i == 10 ? -EFBIG : 0);
    assert_int_equal(late_rc, 0);
    assert_int_equal(h2_rc[0], 0);
    assert_int_equal(h2_rc[1], 0);
    char want[512];
    snprintf(want, sizeof want,
             "cannot write archive file '%s/darknet-20240101T010000Z.pcap.part': %s (kept as it "
             "is); frames with link type 1 dropped until the next period",
             dir, strerror(EFBIG));
    assert_string_equal(msg, want);
    assert_int_equal(st.files_closed, 1); /* hour 2's file is still open */
    assert_int_equal(st.files_failed, 1);
    assert_int_equal(st.frames_written, 10 + 10 + 2);
    assert_int_equal(st.frames_lost, 10);
    assert_int_equal(st.frames_dropped, 5 + 1); /* the 11th to 15th, and the late one */
    assert_int_equal(st.late, 0);
    assert_int_equal(st.bytes_written, (24 + 10 * 1016) + 300000); /* hour 2's: buffered */

    char names[4096];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "darknet-20240101T000000Z.pcap\n"
                               "darknet-20240101T010000Z.pcap.part\n"
                               "darknet-20240101T020000Z.pcap\n");
    assert_int_equal(file_size(dir, "darknet-20240101T000000Z.pcap"), 24 + 10 * 1016);
    assert_int_equal(file_size(dir, "darknet-20240101T010000Z.pcap.part"), 300000);
    read_file_check(dir, "darknet-20240101T000000Z.pcap", h0, 10);
    read_file_check(dir, "darknet-20240101T020000Z.pcap", h2, 2);
    free(dir);
}

struct cut_args {
    const char *path;
    const struct spec *want;
    size_t n;
    struct ds_capture_stats st;
};
static void do_read_cut(void *arg)
{
    struct cut_args *c = arg;
    c->st = read_check(c->path, c->want, c->n, MAX_CAP);
}

/* A failure while the previous period's file is finished: the rotating call reports it, its
 * own frame still goes into the new period's file. */
static void test_failure_at_rotation(void **state)
{
    char *dir = sub_dir("fail-rotate");
    struct spec h0[3], h1[6], h2 = {S(7200), 100, 100, 1, 50};
    for (uint32_t i = 0; i < 3; i++)
        h0[i] = (struct spec){S(i), 1000, 1000, 1, i};
    for (uint32_t i = 0; i < 6; i++)
        h1[i] = (struct spec){S(3600 + i), 10000, 10000, 1, 10 + i};
    struct ds_archive *a = open_ok(dir, 0, NULL, 0, 0);
    put_all(a, h0, 3);
    struct fsize_guard g;
    fsize_limit(&g, 50000);
    put_all(a, h1, 6); /* 60,120 bytes, all still buffered */
    int rc = put(a, &h2);
    fsize_restore(&g);
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    close_ok(a);

    assert_int_equal(rc, -EFBIG);
    char want[512];
    snprintf(want, sizeof want,
             "cannot write archive file '%s/darknet-20240101T010000Z.pcap.part': %s (kept as it "
             "is)",
             dir, strerror(EFBIG));
    assert_string_equal(g_err.msg, want);
    assert_int_equal(st.files_closed, 1);
    assert_int_equal(st.files_failed, 1);
    assert_int_equal(st.frames_written, 3 + 6 + 1);
    assert_int_equal(st.frames_lost, 6);
    assert_int_equal(st.frames_dropped, 0);
    assert_int_equal(st.bytes_written, (24 + 3 * 1016) + 50000);
    char names[4096];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "darknet-20240101T000000Z.pcap\n"
                               "darknet-20240101T010000Z.pcap.part\n"
                               "darknet-20240101T020000Z.pcap\n");
    read_file_check(dir, "darknet-20240101T000000Z.pcap", h0, 3);
    read_file_check(dir, "darknet-20240101T020000Z.pcap", &h2, 1);
    assert_int_equal(file_size(dir, "darknet-20240101T010000Z.pcap.part"), 50000);

    /* the failed file's complete records are readable: it is cut, not rejected */
    char *part = path_in(dir, "darknet-20240101T010000Z.pcap.part");
    struct cut_args c = {part, h1, 4, {0}}; /* (50000 - 24) / 10016 = 4 whole records */
    char *warn = stderr_of(do_read_cut, &c);
    assert_int_equal(c.st.inputs_cut, 1);
    assert_int_equal(c.st.inputs_ok, 0);
    assert_non_null(strstr(warn, part));
    free(warn);
    free(part);
    free(dir);
}

/* Failing to finish the file at close: the error names the file, everything is freed. */
static void test_failure_at_close(void **state)
{
    char *dir = sub_dir("fail-close");
    struct spec sp[3];
    for (uint32_t i = 0; i < 3; i++)
        sp[i] = (struct spec){S(i), 10000, 10000, 1, i};
    struct ds_archive *a = open_ok(dir, 3, NULL, 0, 0);
    put_all(a, sp, 3);
    struct fsize_guard g;
    fsize_limit(&g, 1000);
    struct ds_err e = {0};
    int rc = ds_archive_close(a, &e);
    fsize_restore(&g);
    assert_int_equal(rc, -EFBIG);
    char want[512];
    snprintf(want, sizeof want,
             "cannot write archive file '%s/darknet-20240101T000000Z.pcap.zst.part': %s (kept "
             "as it is)",
             dir, strerror(EFBIG));
    assert_string_equal(e.msg, want);
    assert_int_equal(file_size(dir, "darknet-20240101T000000Z.pcap.zst.part"), 1000);
    assert_int_equal(file_size(dir, "darknet-20240101T000000Z.pcap.zst"), -1);
    free(dir);
}

/* A failed file of which nothing reached the disk is removed, not left as an empty .part. */
static void test_failure_empty_removed(void **state)
{
    char *dir = sub_dir("fail-empty");
    struct spec sp = {S(0), 100, 100, 1, 1};
    struct ds_archive *a = open_ok(dir, 0, NULL, 0, 0);
    put_all(a, &sp, 1);
    struct fsize_guard g;
    fsize_limit(&g, 0);
    struct ds_err e = {0};
    int rc = ds_archive_close(a, &e);
    fsize_restore(&g);
    assert_int_equal(rc, -EFBIG);
    char want[512];
    snprintf(want, sizeof want,
             "cannot write archive file '%s/darknet-20240101T000000Z.pcap.part': %s (removed, "
             "it was empty)",
             dir, strerror(EFBIG));
    assert_string_equal(e.msg, want);
    char names[256];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "");
    free(dir);
}

/* The directory removed under a running archive: the open file is lost (its rename fails),
 * the next period makes the directory again. */
static void test_dir_removed(void **state)
{
    char *dir = sub_dir("removed");
    struct spec sp[] = {{S(0), 100, 100, 1, 1}, {S(3600), 100, 100, 1, 2}};
    struct ds_archive *a = open_ok(dir, 3, NULL, 0, 0);
    put_all(a, sp, 1);
    rm_rf(dir);
    int rc = put(a, &sp[1]);
    assert_int_equal(rc, -ENOENT);
    assert_non_null(strstr(g_err.msg, "cannot rename archive file '"));
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    close_ok(a);
    assert_int_equal(st.files_failed, 1);
    assert_int_equal(st.frames_lost, 1);
    assert_int_equal(st.frames_written, 2);
    char names[256];
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, "darknet-20240101T010000Z.pcap.zst\n");
    read_file_check(dir, "darknet-20240101T010000Z.pcap.zst", sp + 1, 1);
    free(dir);
}

static void test_bad_config(void **state)
{
    struct ds_archive *a = (struct ds_archive *)1;
    struct ds_err e = {0};
    struct ds_archive_config c;

    /* a directory that cannot be created: below a regular file */
    char *file = sub_dir("plainfile");
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    char *bad = path_in(file, "archive");
    ds_archive_config_init(&c);
    c.dir = bad;
    assert_int_equal(ds_archive_open(&a, &c, &e), -ENOTDIR);
    assert_null(a);
    char want[512];
    snprintf(want, sizeof want, "cannot create archive directory '%s': '%s': %s", bad, file,
             strerror(ENOTDIR));
    assert_string_equal(e.msg, want);

    c.dir = file; /* exists, not a directory */
    assert_int_equal(ds_archive_open(&a, &c, &e), -ENOTDIR);
    snprintf(want, sizeof want, "cannot create archive directory '%s': %s", file,
             strerror(ENOTDIR));
    assert_string_equal(e.msg, want);

    char *ok = sub_dir("cfg");
    c.dir = NULL;
    assert_int_equal(ds_archive_open(&a, &c, &e), -EINVAL);
    assert_string_equal(e.msg, "archive directory not set");
    c.dir = ok;
    c.zstd_level = 23;
    assert_int_equal(ds_archive_open(&a, &c, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "archive zstd_level 23 out of range"));
    c.zstd_level = 3;
    char too_long[DS_ARCHIVE_MAX_PREFIX + 2];
    memset(too_long, 'x', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    const char *const bad_prefixes[] = {"a/b", ".hidden", "-x", "sp ace", too_long};
    for (size_t i = 0; i < sizeof bad_prefixes / sizeof bad_prefixes[0]; i++) {
        c.prefix = bad_prefixes[i];
        assert_int_equal(ds_archive_open(&a, &c, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "archive prefix '"));
    }
    c.prefix = NULL; /* default */
    c.snaplen = DS_ARCHIVE_MAX_SNAPLEN + 1;
    assert_int_equal(ds_archive_open(&a, &c, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "archive snaplen 67108865 out of range"));

    /* a frame past 2106: refused, counted, no file */
    c.snaplen = 0;
    c.period_s = 0;
    assert_int_equal(ds_archive_open(&a, &c, &e), 0);
    struct spec far = {(UINT32_MAX + 1ull) * 1000000000ull, 10, 10, 1, 1};
    assert_int_equal(put(a, &far), -ERANGE);
    assert_non_null(strstr(g_err.msg, "frame time 4294967296000000000 ns"));
    struct ds_archive_stats st;
    ds_archive_stats(a, &st);
    assert_int_equal(st.frames_dropped, 1);
    assert_int_equal(st.frames_written, 0);
    close_ok(a);
    char names[256];
    list_dir(ok, names, sizeof names);
    assert_string_equal(names, "");
    assert_int_equal(ds_archive_close(NULL, NULL), 0);
    free(ok);
    free(bad);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_three_hours_zstd),
        cmocka_unit_test(test_bytes_written),    cmocka_unit_test(test_uncompressed),
        cmocka_unit_test(test_linktype_change),  cmocka_unit_test(test_too_many_linktypes),
        cmocka_unit_test(test_late_frames),      cmocka_unit_test(test_restart_collision),
        cmocka_unit_test(test_write_failure),    cmocka_unit_test(test_failure_at_rotation),
        cmocka_unit_test(test_failure_at_close), cmocka_unit_test(test_failure_empty_removed),
        cmocka_unit_test(test_dir_removed),      cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
