/* test_capture_inputs.c - compression, stdin, several files, directories, BPF, live capture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "test_capture_util.h"

static char *g_dir;

static int setup_dir(void **state)
{
    g_dir = tmp_dir_new();
    return 0;
}
static int teardown_dir(void **state)
{
    rm_rf(g_dir);
    free(g_dir);
    return 0;
}

/* n records, record i at sec = base + i*step, payload length 40 + i % 50 */
static void build_pcap(struct bb *b, bool be, uint32_t base, uint32_t step, int n)
{
    uint8_t pkt[100];
    b->be = be;
    pcap_hdr(b, MAGIC_USEC, 65535, 1);
    for (int i = 0; i < n; i++) {
        uint32_t len = 40 + (uint32_t)(i % 50);
        fill_pattern(pkt, len, (uint8_t)i);
        pcap_rec(b, base + (uint32_t)i * step, (uint32_t)i, len, len, pkt);
    }
}

static void build_ng(struct bb *b, uint64_t base_us, int n)
{
    uint8_t pkt[100];
    ng_shb(b);
    ng_idb(b, 1, 0, -1, false, 0);
    for (int i = 0; i < n; i++) {
        uint32_t len = 40 + (uint32_t)(i % 50);
        fill_pattern(pkt, len, (uint8_t)i);
        ng_epb(b, 0, base_us + (uint64_t)i * 1000, len, len, pkt);
    }
}

static void check_pcap_frames(const struct got *g, uint32_t base, uint32_t step, int n)
{
    assert_int_equal(g->n, (size_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t pkt[100];
        uint32_t len = 40 + (uint32_t)(i % 50);
        fill_pattern(pkt, len, (uint8_t)i);
        assert_int_equal(g->f[i].ts_ns,
                         (uint64_t)(base + (uint32_t)i * step) * 1000000000u + (uint64_t)i * 1000);
        assert_int_equal(g->f[i].caplen, len);
        assert_int_equal(g->f[i].hash, fnv(pkt, len));
    }
}

struct rd_args {
    const char *const *paths;
    size_t n;
    const char *bpf;
    struct got *g;
};
static void do_read(void *arg)
{
    struct rd_args *a = arg;
    read_paths(a->paths, a->n, a->bpf, a->g);
}
static char *read_warn(const char *const *paths, size_t n, const char *bpf, struct got *g)
{
    struct rd_args a = {paths, n, bpf, g};
    return capture_stderr(do_read, &a);
}

/* ------------------------------------------------------------------ compression, names */

static void test_gzip_zstd(void **state)
{
    struct bb raw = {0}, ng = {0}, z = {0};
    build_pcap(&raw, true, 1000, 1, 300);
    build_ng(&ng, 1000000000ull, 300);
    struct {
        const char *name;
        struct bb *src;
        void (*comp)(const struct bb *, struct bb *);
    } cases[] = {
        {"gz-pcap.pcap", &raw, gzip_bytes},
        {"zst-pcap.bin", &raw, zstd_bytes},
        {"gz-ng.pcapng", &ng, gzip_bytes},
        {"zst-ng.pcap.gz", &ng, zstd_bytes},
    };
    for (size_t i = 0; i < 4; i++) {
        cases[i].comp(cases[i].src, &z);
        char *path = write_file(g_dir, cases[i].name, z.p, z.n);
        struct got g, plain;
        read_path(path, NULL, &g);
        read_mem(cases[i].src->p, cases[i].src->n, 0, NULL, &plain);
        assert_int_equal(g.open_rc, 0);
        assert_int_equal(g.n, 300);
        if (!got_same(&g, &plain))
            fail_msg("%s: n %zu/%zu ok %d/%d f0 %llu/%llu", cases[i].name, g.n, plain.n,
                     (int)g.st.inputs_ok, (int)plain.st.inputs_ok, (unsigned long long)g.f[0].ts_ns,
                     (unsigned long long)plain.f[0].ts_ns);
        assert_int_equal(g.st.inputs_ok, 1);
        if (cases[i].src == &raw)
            check_pcap_frames(&g, 1000, 1, 300);
        else
            assert_int_equal(g.f[299].ts_ns, 1000000000000ull + 299000000ull);
        /* the decompressing stream fed one byte at a time gives the same */
        struct got m;
        read_mem(z.p, z.n, 1, NULL, &m);
        assert_true(got_same(&g, &m));
        got_free(&m);
        got_free(&g);
        got_free(&plain);
        free(path);
    }
    bb_free(&z);
    bb_free(&raw);
    bb_free(&ng);
}

static void test_compressed_damage(void **state)
{
    struct bb raw = {0}, z = {0};
    build_pcap(&raw, false, 50, 2, 6000); /* ~550 KB: several zstd blocks */
    for (int zstd = 0; zstd < 2; zstd++) {
        (zstd ? zstd_bytes : gzip_bytes)(&raw, &z);
        /* cut the compressed bytes in half: what was decompressed before stays */
        char *path = write_file(g_dir, zstd ? "half.zst" : "half.gz", z.p, z.n / 2);
        struct got g;
        const char *p1[] = {path};
        char *warn = read_warn(p1, 1, NULL, &g);
        assert_int_equal(g.open_rc, 0);
        assert_true(g.n > 100 && g.n < 6000);
        assert_int_equal(g.st.inputs_cut, 1);
        assert_non_null(strstr(warn, path));
        assert_non_null(strstr(warn, zstd ? "zstd data truncated" : "gzip data truncated"));
        assert_non_null(strstr(warn, "uncompressed byte offset"));
        struct got full;
        read_mem(raw.p, raw.n, 0, NULL, &full);
        for (size_t i = 0; i < g.n; i++)
            assert_int_equal(g.f[i].hash, full.f[i].hash);
        got_free(&full);
        free(warn);
        free(path);
        got_free(&g);

        /* flip bytes late in the data: corrupt data is an early stop too. zstd notices in
         * the damaged block; deflate may first hand garbage to the pcap parser, which stops
         * at a nonsense record (or the gzip CRC check stops it at the end). */
        for (size_t i = z.n * 3 / 4; i < z.n * 3 / 4 + 16; i++)
            z.p[i] ^= 0x5a;
        path = write_file(g_dir, zstd ? "bad.zst" : "bad.gz", z.p, z.n);
        p1[0] = path;
        warn = read_warn(p1, 1, NULL, &g);
        assert_int_equal(g.open_rc, 0);
        assert_int_equal(g.st.inputs_cut, 1);
        assert_true(g.n > 1000 && g.n < 6000);
        assert_non_null(strstr(warn, path));
        if (zstd)
            assert_non_null(strstr(warn, "zstd data corrupt"));
        free(warn);
        free(path);
        got_free(&g);
    }
    bb_free(&z);
    bb_free(&raw);
}

static void test_gzip_members_and_padding(void **state)
{
    struct bb a = {0}, b = {0}, za = {0}, zb = {0};
    build_pcap(&a, false, 10, 1, 5);
    /* the second member carries only records: strip the header of a 3-record file */
    build_pcap(&b, false, 15, 1, 3);
    memmove(b.p, b.p + 24, b.n - 24);
    b.n -= 24;
    gzip_bytes(&a, &za);
    gzip_bytes(&b, &zb);
    bb_put(&za, zb.p, zb.n);
    for (int i = 0; i < 100; i++)
        bb_u8(&za, 0); /* zero padding after the last member, as tape tools leave it */
    char *path = write_file(g_dir, "members.gz", za.p, za.n);
    struct got g;
    read_path(path, NULL, &g);
    assert_int_equal(g.n, 8);
    assert_int_equal(g.st.inputs_ok, 1);
    assert_int_equal(g.f[7].ts_ns, 17000000000ull + 2000);
    got_free(&g);
    free(path);
    bb_free(&a);
    bb_free(&b);
    bb_free(&za);
    bb_free(&zb);
}

static void test_names_do_not_matter(void **state)
{
    struct bb p = {0}, n = {0};
    build_pcap(&p, false, 100, 1, 4);
    build_ng(&n, 200000000ull, 4);
    char *a = write_file(g_dir, "really-pcapng.pcap", n.p, n.n);
    char *b = write_file(g_dir, "really-pcap.pcapng", p.p, p.n);
    const char *paths[] = {a, b};
    struct got g;
    read_paths(paths, 2, NULL, &g);
    assert_int_equal(g.open_rc, 0);
    assert_int_equal(g.n, 8);
    assert_int_equal(g.st.inputs_ok, 2);
    assert_int_equal(g.f[0].ts_ns, 100000000000ull); /* pcap first: t = 100 s */
    assert_int_equal(g.f[4].ts_ns, 200000000000ull); /* then the pcapng from 200 s */
    got_free(&g);
    free(a);
    free(b);
    bb_free(&p);
    bb_free(&n);
}

/* ------------------------------------------------------------------ standard input */

static void read_stdin_bytes(const struct bb *b, struct got *g)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        size_t off = 0;
        while (off < b->n) {
            ssize_t w = write(fds[1], b->p + off, b->n - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    int saved = dup(0);
    dup2(fds[0], 0);
    close(fds[0]);
    read_path("-", NULL, g);
    dup2(saved, 0);
    close(saved);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_stdin(void **state)
{
    struct bb raw = {0}, z = {0}, ng = {0};
    build_pcap(&raw, false, 500, 1, 3000); /* ~200 KB: several pipe refills */
    struct got g;
    read_stdin_bytes(&raw, &g);
    assert_int_equal(g.open_rc, 0);
    check_pcap_frames(&g, 500, 1, 3000);
    assert_int_equal(g.st.inputs_ok, 1);
    got_free(&g);

    build_ng(&ng, 7000000ull, 1000);
    zstd_bytes(&ng, &z);
    read_stdin_bytes(&z, &g);
    assert_int_equal(g.n, 1000);
    assert_int_equal(g.f[999].ts_ns, 7000000000ull + 999000000ull);
    got_free(&g);

    gzip_bytes(&raw, &z);
    read_stdin_bytes(&z, &g);
    check_pcap_frames(&g, 500, 1, 3000);
    got_free(&g);

    /* not a capture on stdin: the open fails naming "-" */
    struct bb junk = {0};
    bb_put(&junk, "hello world\n", 12);
    read_stdin_bytes(&junk, &g);
    assert_int_equal(g.open_rc, -EINVAL);
    assert_non_null(strstr(g.msg, "-: not a pcap or pcapng file (starts with 68 65 6c 6c)"));
    bb_free(&junk);
    bb_free(&raw);
    bb_free(&z);
    bb_free(&ng);
}

/* ------------------------------------------------------------------ several inputs */

/* one-record-per-entry pcap with the given seconds; payload byte 0 = tag + index */
static char *pcap_with_times(const char *name, const uint32_t *secs, size_t n, uint8_t tag)
{
    struct bb b = {0};
    pcap_hdr(&b, MAGIC_USEC, 65535, 1);
    for (size_t i = 0; i < n; i++) {
        uint8_t pkt[8] = {(uint8_t)(tag + i)};
        pcap_rec(&b, secs[i], 0, 8, 8, pkt);
    }
    char *p = write_file(g_dir, name, b.p, b.n);
    bb_free(&b);
    return p;
}

static void test_merge_time_order(void **state)
{
    static const uint32_t ta[] = {1, 3, 5}, tb[] = {2, 4, 6}, tc[] = {0, 7, 7}, td[] = {10, 9, 11},
                          te[] = {9};
    char *a = pcap_with_times("m-a.pcap", ta, 3, 0x10);
    char *b = pcap_with_times("m-b.pcap", tb, 3, 0x20);
    char *c = pcap_with_times("m-c.pcap", tc, 3, 0x30);
    char *d = pcap_with_times("m-d.pcap", td, 3, 0x40);
    char *e = pcap_with_times("m-e.pcap", te, 1, 0x50);
    const char *paths[] = {d, c, b, a, e};
    struct got g;
    read_paths(paths, 5, NULL, &g);
    assert_int_equal(g.open_rc, 0);
    /* across files by time (ties by path order); within a file, file order (d: 10, 9, 11) */
    static const uint32_t want_s[] = {0, 1, 2, 3, 4, 5, 6, 7, 7, 9, 10, 9, 11};
    static const uint8_t want_tag[] = {0x30, 0x10, 0x20, 0x11, 0x21, 0x12, 0x22,
                                       0x31, 0x32, 0x50, 0x40, 0x41, 0x42};
    assert_int_equal(g.n, 13);
    for (size_t i = 0; i < 13; i++) {
        assert_int_equal(g.f[i].ts_ns, (uint64_t)want_s[i] * 1000000000u);
        assert_int_equal(g.f[i].first[0], want_tag[i]);
    }
    assert_int_equal(g.st.inputs_ok, 5);
    got_free(&g);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
}

static void test_directory_of_rotated_files(void **state)
{
    char *dir;
    assert_true(asprintf(&dir, "%s/rotated", g_dir) > 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    /* written in reverse so directory order is not time order */
    for (int i = 49; i >= 0; i--) {
        struct bb b = {0};
        build_pcap(&b, i % 2, 1000 + (uint32_t)i * 10, 1, 2);
        char name[32];
        snprintf(name, sizeof name, "rot-%03d.pcap", i);
        free(write_file(dir, name, b.p, b.n));
        bb_free(&b);
    }
    struct bb hidden = {0};
    build_pcap(&hidden, false, 1, 1, 5);
    free(write_file(dir, ".hidden.pcap", hidden.p, hidden.n));
    bb_free(&hidden);
    char *readme = write_file(dir, "README.txt", "rotated captures\n", 17);
    char *sub;
    assert_true(asprintf(&sub, "%s/sub", dir) > 0);
    assert_int_equal(mkdir(sub, 0700), 0);

    struct ds_capture_opts o = {.paths = (const char *const *)&dir, .n_paths = 1};
    struct ds_source *s;
    struct ds_err e = {0};
    struct got g = {0};
    struct stderr_cap cap;
    stderr_begin(&cap);
    int rc = ds_source_open(&s, &o, &e);
    if (rc == 0)
        got_drain(s, &g);
    char *warn = stderr_end(&cap);
    assert_int_equal(rc, 0);
    assert_int_equal(g.n, 100);
    for (size_t i = 0; i < 100; i++) {
        uint64_t want = (uint64_t)(1000 + (i / 2) * 10 + i % 2) * 1000000000u + (i % 2) * 1000;
        assert_int_equal(g.f[i].ts_ns, want);
    }
    assert_int_equal(g.st.inputs_ok, 50);
    assert_int_equal(g.st.inputs_rejected, 1);
    assert_int_equal(g.st.inputs_cut, 0);
    assert_int_equal(ds_file_max_open(s), 1); /* one rotated file at a time */
    assert_non_null(strstr(warn, readme));
    assert_non_null(strstr(warn, "not a pcap or pcapng file"));
    assert_null(strstr(warn, "hidden"));
    ds_source_close(s);
    got_free(&g);
    free(warn);

    /* opened lazily: a file removed after the open but before its turn is reported then */
    assert_int_equal(ds_source_open(&s, &o, &e), 0);
    char *last;
    assert_true(asprintf(&last, "%s/rot-049.pcap", dir) > 0);
    assert_int_equal(unlink(last), 0);
    stderr_begin(&cap);
    got_drain(s, &g);
    char *w2 = stderr_end(&cap);
    assert_int_equal(g.n, 98);
    assert_int_equal(g.st.inputs_ok, 49);
    assert_int_equal(g.st.inputs_rejected, 2);
    assert_non_null(strstr(w2, last));
    ds_source_close(s);
    got_free(&g);
    free(w2);
    free(last);
    free(readme);
    free(sub);
    free(dir);
}

static void test_rejected_inputs(void **state)
{
    struct got g;
    char *junk1 = write_file(g_dir, "notes.txt", "just some text", 14);
    char *junk2 = write_file(g_dir, "image.png", "\x89PNG\r\n\x1a\n", 8);
    char *missing;
    assert_true(asprintf(&missing, "%s/no-such-file.pcap", g_dir) > 0);

    /* one input, not a capture */
    read_path(junk1, NULL, &g);
    assert_int_equal(g.open_rc, -EINVAL);
    assert_non_null(strstr(g.msg, junk1));
    assert_non_null(strstr(g.msg, "not a pcap or pcapng file (starts with 6a 75 73 74)"));

    /* one input, missing */
    read_path(missing, NULL, &g);
    assert_int_equal(g.open_rc, -ENOENT);
    assert_non_null(strstr(g.msg, missing));
    assert_non_null(strstr(g.msg, "No such file or directory"));

    /* nothing readable among several: every path named */
    const char *three[] = {junk1, missing, junk2};
    read_paths(three, 3, NULL, &g);
    assert_true(g.open_rc < 0);
    assert_non_null(strstr(g.msg, "no readable capture among 3 inputs"));
    assert_non_null(strstr(g.msg, junk1));
    assert_non_null(strstr(g.msg, missing));
    assert_non_null(strstr(g.msg, junk2));

    /* a bad file among good ones: warned once, counted, the rest read */
    struct bb b = {0};
    build_pcap(&b, false, 1, 1, 3);
    char *good = write_file(g_dir, "good.pcap", b.p, b.n);
    char *cut = write_file(g_dir, "cut.pcap", b.p, b.n - 3);
    const char *four[] = {junk1, good, missing, cut};
    char *warn = read_warn(four, 4, NULL, &g);
    assert_int_equal(g.open_rc, 0);
    assert_int_equal(g.n, 5);
    assert_int_equal(g.st.inputs_ok, 1);
    assert_int_equal(g.st.inputs_cut, 1);
    assert_int_equal(g.st.inputs_rejected, 2);
    assert_non_null(strstr(warn, junk1));
    assert_non_null(strstr(warn, missing));
    assert_non_null(strstr(warn, cut));
    char off[48];
    snprintf(off, sizeof off, "byte offset %zu", (size_t)24 + 2 * 16 + 40 + 41);
    assert_non_null(strstr(warn, off));
    free(warn);
    got_free(&g);

    /* an empty directory is an input that yields nothing */
    char *empty;
    assert_true(asprintf(&empty, "%s/empty-dir", g_dir) > 0);
    assert_int_equal(mkdir(empty, 0700), 0);
    read_path(empty, NULL, &g);
    assert_true(g.open_rc < 0);
    assert_non_null(strstr(g.msg, "directory holds no files"));
    /* the same stdin twice */
    const char *twice[] = {good, "-", "-"};
    int saved = dup(0), devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    warn = read_warn(twice, 3, NULL, &g);
    dup2(saved, 0);
    close(saved);
    close(devnull);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.st.inputs_rejected, 2); /* empty stdin, then "-" again */
    assert_non_null(strstr(warn, "standard input given twice"));
    free(warn);
    got_free(&g);
    free(empty);
    free(good);
    free(cut);
    bb_free(&b);
    free(junk1);
    free(junk2);
    free(missing);
}

static void test_break_on_files(void **state)
{
    struct bb b = {0};
    build_pcap(&b, false, 1, 1, 10);
    struct ds_source *s;
    struct ds_err e = {0};
    assert_int_equal(ds_source_open_mem(&s, b.p, b.n, 0, NULL, &e), 0);
    struct ds_frame f;
    assert_int_equal(ds_source_next(s, &f, &e), 1);
    ds_source_break(s);
    assert_int_equal(ds_source_next(s, &f, &e), 0);
    ds_source_close(s);
    bb_free(&b);
}

/* ------------------------------------------------------------------ BPF */

static void build_mixed(struct bb *b)
{
    uint8_t pkt[128];
    size_t n;
    pcap_hdr(b, MAGIC_USEC, 65535, 1);
    uint32_t t = 1;
    for (int i = 0; i < 3; i++) {
        n = mk_ip(pkt, true, 6, (uint16_t)(1000 + i), 23);
        pcap_rec(b, t++, 0, (uint32_t)n, (uint32_t)n, pkt);
        if (i < 2) {
            n = mk_ip(pkt, true, 17, 5000, (uint16_t)(53 + i));
            pcap_rec(b, t++, 0, (uint32_t)n, (uint32_t)n, pkt);
        }
    }
    n = mk_arp(pkt);
    pcap_rec(b, t++, 0, (uint32_t)n, (uint32_t)n, pkt);
}

static void test_bpf(void **state)
{
    struct bb b = {0};
    build_mixed(&b);
    char *path = write_file(g_dir, "mixed.pcap", b.p, b.n);
    struct got g;
    read_path(path, NULL, &g);
    assert_int_equal(g.n, 6);
    got_free(&g);
    read_path(path, "tcp", &g);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.st.frames, 3);
    assert_int_equal(g.st.filtered_out, 3);
    assert_int_equal(g.f[0].ts_ns, 1000000000ull);
    assert_int_equal(g.f[1].ts_ns, 3000000000ull);
    assert_int_equal(g.f[2].ts_ns, 5000000000ull);
    got_free(&g);
    read_path(path, "udp", &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.st.filtered_out, 4);
    got_free(&g);
    read_path(path, "udp dst port 54", &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.f[0].ts_ns, 4000000000ull);
    got_free(&g);
    read_path(path, "arp", &g);
    assert_int_equal(g.n, 1);
    got_free(&g);

    read_path(path, "tcp and", &g);
    assert_int_equal(g.open_rc, -EINVAL);
    assert_non_null(strstr(g.msg, "bad BPF filter 'tcp and'"));
    assert_non_null(strstr(g.msg, "syntax error"));
    read_path(path, "port 99999", &g);
    assert_int_equal(g.open_rc, -EINVAL);
    assert_non_null(strstr(g.msg, "port 99999"));

    /* pcapng mixing Ethernet and raw IP: one program per link type */
    struct bb ng = {0};
    uint8_t pkt[128];
    size_t n;
    ng_shb(&ng);
    ng_idb(&ng, 1, 0, -1, false, 0);
    ng_idb(&ng, 101, 0, -1, false, 0);
    n = mk_ip(pkt, true, 17, 1, 2);
    ng_epb(&ng, 0, 1, (uint32_t)n, (uint32_t)n, pkt);
    n = mk_ip(pkt, false, 17, 1, 2);
    ng_epb(&ng, 1, 2, (uint32_t)n, (uint32_t)n, pkt);
    n = mk_ip(pkt, false, 6, 1, 2);
    ng_epb(&ng, 1, 3, (uint32_t)n, (uint32_t)n, pkt);
    n = mk_ip(pkt, true, 6, 1, 2);
    ng_epb(&ng, 0, 4, (uint32_t)n, (uint32_t)n, pkt);
    char *ngp = write_file(g_dir, "mixed-links.pcapng", ng.p, ng.n);
    read_path(ngp, "udp", &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.f[0].linktype, 1);
    assert_int_equal(g.f[1].linktype, 101);
    assert_int_equal(g.st.filtered_out, 2);
    got_free(&g);
    /* an Ethernet-only expression cannot apply to raw IP: those frames are dropped, once
     * warned */
    const char *one[] = {ngp};
    char *warn = read_warn(one, 1, "ether src 02:00:00:00:00:02", &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.st.filtered_out, 2);
    assert_non_null(strstr(warn, "link type 101"));
    assert_ptr_equal(strstr(strstr(warn, "link type 101") + 1, "bad BPF"), NULL);
    free(warn);
    got_free(&g);
    free(ngp);
    bb_free(&ng);
    free(path);
    bb_free(&b);
}

/* ------------------------------------------------------------------ live */

static void test_live_bad_interface(void **state)
{
    struct ds_capture_opts o = {.iface = "ds-no-such0"};
    struct ds_source *s = NULL;
    struct ds_err e = {0};
    int rc = ds_source_open(&s, &o, &e);
    assert_true(rc < 0);
    assert_null(s);
    assert_non_null(strstr(e.msg, "ds-no-such0"));

    const char *p = "x.pcap";
    struct ds_capture_opts both = {.iface = "lo", .paths = &p, .n_paths = 1};
    assert_int_equal(ds_source_open(&s, &both, &e), -EINVAL);
    struct ds_capture_opts none = {0};
    assert_int_equal(ds_source_open(&s, &none, &e), -EINVAL);
}

struct breaker {
    struct ds_source *s;
    int delay_ms;
};
static void *break_later(void *arg)
{
    struct breaker *b = arg;
    struct timespec ts = {b->delay_ms / 1000, (long)(b->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    ds_source_break(b->s);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_live_loopback(void **state)
{
    struct ds_capture_opts o = {.iface = "lo",
                                .bpf = "udp and dst port 54321",
                                .immediate = true,
                                .snaplen = 0,
                                .buffer_mb = 4};
    struct ds_source *s = NULL;
    struct ds_err e = {0};
    int rc = ds_source_open(&s, &o, &e);
    if (rc == -EPERM || rc == -ENODEV) {
        print_message("live capture on lo not possible here (%s): skipped\n", e.msg);
        skip();
    }
    assert_int_equal(rc, 0);

    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(sock >= 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(54321)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char msg[] = "darkscope-live-test";
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    uint64_t sent_ns = (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec;
    for (int i = 0; i < 3; i++)
        assert_int_equal(sendto(sock, msg, sizeof msg, 0, (struct sockaddr *)&to, sizeof to),
                         (ssize_t)sizeof msg);
    close(sock);

    struct ds_frame f;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ds_source_next(s, &f, &e), 1);
        assert_true(f.caplen >= sizeof msg && f.caplen == f.wirelen);
        assert_memory_equal(f.data + f.caplen - sizeof msg, msg, sizeof msg);
        assert_true(f.ts_ns + 5000000000ull > sent_ns && f.ts_ns < sent_ns + 5000000000ull);
    }
    /* nothing more will come: a break from another thread ends the wait promptly */
    struct breaker br = {s, 300};
    pthread_t th;
    pthread_create(&th, NULL, break_later, &br);
    double t0 = now_s();
    assert_int_equal(ds_source_next(s, &f, &e), 0);
    double waited = now_s() - t0;
    pthread_join(th, NULL);
    assert_true(waited >= 0.25 && waited < 1.5);

    struct ds_capture_stats st;
    ds_source_stats(s, &st);
    assert_true(st.live);
    assert_int_equal(st.frames, 3);
    assert_true(st.kernel_received >= 3);
    ds_source_close(s);

    /* a bad filter on a live source names the expression */
    o.bpf = "udp and and";
    assert_int_equal(ds_source_open(&s, &o, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "'udp and and'"));
    assert_non_null(strstr(e.msg, "lo"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_zstd),
        cmocka_unit_test(test_compressed_damage),
        cmocka_unit_test(test_gzip_members_and_padding),
        cmocka_unit_test(test_names_do_not_matter),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_merge_time_order),
        cmocka_unit_test(test_directory_of_rotated_files),
        cmocka_unit_test(test_rejected_inputs),
        cmocka_unit_test(test_break_on_files),
        cmocka_unit_test(test_bpf),
        cmocka_unit_test(test_live_bad_interface),
        cmocka_unit_test(test_live_loopback),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
