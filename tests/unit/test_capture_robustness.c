/* test_capture_robustness.c - tcpdump's 830 test captures, each read every way, and as a dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inttypes.h>

#include "core/log.h"
#include "test_capture_util.h"

#define ROBUST_DIR DS_SHARED_DIR "/data/pcaps/robustness/tcpdump-tests"

/*
 * Expected totals, measured on the-tcpdump-group/tcpdump @39b50f76 tests/ (830 captures and
 * its LICENSE file): every capture reads to its end; LICENSE is rejected as not a capture.
 *
 * Cross-checked against two independent readers (Debian 12, tcpdump 4.99.3 / libpcap 1.10.3,
 * Wireshark 4.0 capinfos/tshark):
 *   find $DIR -type f -exec tcpdump --count -r {} \; 2>/dev/null | awk '{s+=$1} END {print s}'
 *     -> 10183, the same count as ours for each of the 830 files, and no libpcap error on any
 *        of them (LICENSE: "unknown file format", as here).
 *   find $DIR -type f -exec capinfos -c -M {} \;
 *     -> 10107 frames in 816 files; wiretap refuses 14 files for their link types (DSA/EDSA/
 *        Broadcom tags 281/284/285, MFR 182, Juniper ...) holding 76 frames: 10107 + 76 = 10183.
 *   tshark -r f -T fields -e frame.time_epoch -e frame.cap_len -e frame.len, against ours:
 *     the same timestamp (to the ns), caplen and len for every frame of 808 files. The 6 that
 *     differ are presentation: 3 SunATM files (wiretap strips the 4-byte pseudo-header from
 *     cap_len) and rx_serviceid_oobr / timestamp_invalid_{micro,nano}, whose fraction fields
 *     are >= 1e6 (1e9) or >= 2^31: wiretap reads them as signed, we read the pcap format's
 *     unsigned fields and carry the overflow into the seconds.
 * libpcap and we would differ on caplen > snaplen (libpcap returns snaplen bytes, we return
 * caplen, up to 256 KiB) and on pcapng files whose interfaces differ in link type or whose
 * sections differ in byte order (libpcap stops, we read on); no file here has those.
 */
enum {
    EXP_FILES = 831,
    EXP_OK = 830,
    EXP_REJECTED = 1,
    EXP_CUT = 0,
    EXP_FRAMES = 10183,
    /* The same files with their last byte removed (measured; the arithmetic checks out):
     * the 828 captures holding frames stop at their damaged last block or record (cut); 826
     * of them lose that last frame, 2 pcapng files end in a non-packet block and lose none:
     * 10183 - 826 = 9357 frames. empty.pcapng (blocks, no packets) is cut with 0 frames;
     * empty.pcap (a bare 24-byte header) becomes 23 bytes and is rejected, as is LICENSE. */
    EXP_TRUNC_CUT = 829,
    EXP_TRUNC_REJECTED = 2,
    EXP_TRUNC_FRAMES = 9357,
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char **list_dir(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **v = NULL;
    size_t cap = 0;
    struct dirent *de;
    *n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof *v);
            assert_non_null(v);
        }
        assert_true(asprintf(&v[(*n)++], "%s/%s", dir, de->d_name) > 0);
    }
    closedir(d);
    qsort(v, *n, sizeof *v, cmp_names);
    return v;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

struct tally {
    size_t files, ok, rejected, cut;
    uint64_t frames;
};
static void tally_add(struct tally *t, const struct got *g)
{
    t->files++;
    if (g->open_rc < 0) {
        t->rejected++;
        return;
    }
    t->ok += g->st.inputs_ok;
    t->cut += g->st.inputs_cut;
    t->frames += g->n;
}

static void quiet(void)
{
    /* the warnings about cut files are expected here by the hundred */
    ds_log_setup(DS_LOG_ERROR, 0);
}

static void test_each_file(void **state)
{
    size_t n;
    char **files = list_dir(ROBUST_DIR, &n);
    if (!files) {
        print_message("%s missing: skipped\n", ROBUST_DIR);
        skip();
    }
    quiet();
    struct tally path = {0}, trunc = {0};
    size_t trunc_kept = 0; /* truncated copies that lost no frame */
    for (size_t i = 0; i < n; i++) {
        alarm(60); /* a hang fails the test instead of stalling it */
        struct got g;
        read_path(files[i], NULL, &g);
        tally_add(&path, &g);

        /* every other way in must agree: memory in place, streamed in odd pieces, gzip, zstd */
        size_t len;
        uint8_t *bytes = slurp(files[i], &len);
        struct bb raw = {.p = bytes, .n = len, .cap = len}, z = {0};
        struct got m;
        read_mem(bytes, len, 0, NULL, &m);
        if (!got_same(&g, &m))
            fail_msg("%s: in-place memory read differs", files[i]);
        got_free(&m);
        read_mem(bytes, len, 61, NULL, &m);
        if (!got_same(&g, &m))
            fail_msg("%s: streamed read differs", files[i]);
        got_free(&m);
        if (g.open_rc == 0) {
            gzip_bytes(&raw, &z);
            read_mem(z.p, z.n, 0, NULL, &m);
            if (!got_same(&g, &m))
                fail_msg("%s: gzip read differs", files[i]);
            got_free(&m);
            zstd_bytes(&raw, &z);
            read_mem(z.p, z.n, 0, NULL, &m);
            if (!got_same(&g, &m))
                fail_msg("%s: zstd read differs", files[i]);
            got_free(&m);
        }
        /* and without the last byte: the frames before the damage, counted as cut (a pcapng
         * file that ends in a statistics block keeps all its frames) */
        read_mem(bytes, len ? len - 1 : 0, 0, NULL, &m);
        tally_add(&trunc, &m);
        if (m.open_rc == 0 && g.n > 0) {
            if (m.n + 1 < g.n || m.n > g.n || m.st.inputs_cut != 1)
                fail_msg("%s: truncated copy gave %zu frames (cut %" PRIu64 "), want %zu", files[i],
                         m.n, m.st.inputs_cut, g.n - 1);
            for (size_t k = 0; k < m.n; k++)
                if (m.f[k].hash != g.f[k].hash || m.f[k].ts_ns != g.f[k].ts_ns)
                    fail_msg("%s: truncated copy differs at frame %zu", files[i], k);
            trunc_kept += m.n == g.n;
        }
        got_free(&m);
        bb_free(&z);
        free(bytes);
        got_free(&g);
        alarm(0);
    }
    print_message("tcpdump tests: %zu files: %zu read to the end, %zu rejected, %zu cut, "
                  "%" PRIu64 " frames\n",
                  path.files, path.ok, path.rejected, path.cut, path.frames);
    print_message("last byte removed: %zu cut (%zu of them losing no frame), %zu rejected, "
                  "%" PRIu64 " frames\n",
                  trunc.cut, trunc_kept, trunc.rejected, trunc.frames);
    assert_int_equal(path.files, EXP_FILES);
    assert_int_equal(path.ok, EXP_OK);
    assert_int_equal(path.rejected, EXP_REJECTED);
    assert_int_equal(path.cut, EXP_CUT);
    assert_int_equal(path.frames, EXP_FRAMES);
    assert_int_equal(trunc.cut, EXP_TRUNC_CUT);
    assert_int_equal(trunc.rejected, EXP_TRUNC_REJECTED);
    assert_int_equal(trunc.frames, EXP_TRUNC_FRAMES);
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
}

/* The whole directory as one input: 830 files merged by time, opened lazily. */
static void test_whole_directory(void **state)
{
    DIR *d = opendir(ROBUST_DIR);
    if (!d)
        skip();
    closedir(d);
    quiet();
    alarm(120);
    const char *dir = ROBUST_DIR;
    struct ds_capture_opts o = {.paths = &dir, .n_paths = 1};
    struct ds_source *s;
    struct ds_err e = {0};
    assert_int_equal(ds_source_open(&s, &o, &e), 0);
    struct got g = {0};
    got_drain(s, &g);
    assert_int_equal(g.next_rc, 0);
    print_message("directory: %zu frames, %" PRIu64 " ok, %" PRIu64 " rejected, %" PRIu64
                  " cut, at most %zu files open at once\n",
                  g.n, g.st.inputs_ok, g.st.inputs_rejected, g.st.inputs_cut, ds_file_max_open(s));
    assert_int_equal(g.n, EXP_FRAMES);
    assert_int_equal(g.st.inputs_ok, EXP_OK);
    assert_int_equal(g.st.inputs_rejected, EXP_REJECTED);
    assert_int_equal(g.st.inputs_cut, EXP_CUT);
    assert_true(ds_file_max_open(s) < 830);
    ds_source_close(s);
    got_free(&g);
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_file),
        cmocka_unit_test(test_whole_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
