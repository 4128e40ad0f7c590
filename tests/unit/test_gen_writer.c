/* test_gen_writer.c - the generator's capture writer: pcap (us, ns), pcapng and zstd, checked
 * byte by byte and read back with libpcap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>
#include <zstd.h>

#include "gen/pcapw.h"

static char dir[] = "/tmp/test_gen_writer.XXXXXX";

static int setup(void **st)
{
    (void)st;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static const uint8_t frame1[5] = {1, 2, 3, 4, 5};
static const uint8_t frame2[8] = {9, 9, 9, 9, 9, 9, 9, 9};
#define TS1 1704067200123456789ull /* 2024-01-01T00:00:00.123456789Z */
#define TS2 1704067201000000001ull

static void write_two(const char *path, const struct ds_pcapw_opts *o)
{
    struct ds_pcapw *w;
    struct ds_err err = {0};
    assert_int_equal(ds_pcapw_open(&w, path, o, &err), 0);
    assert_int_equal(ds_pcapw_write(w, TS1, frame1, sizeof frame1, 60), 0);
    assert_int_equal(ds_pcapw_write(w, TS2, frame2, sizeof frame2, sizeof frame2), 0);
    assert_int_equal(ds_pcapw_close(w, &err), 0);
}

static void test_pcap_usec(void **st)
{
    (void)st;
    char path[256];
    snprintf(path, sizeof path, "%s/a.pcap", dir);
    struct ds_pcapw_opts o = {.format = DS_PCAPW_PCAP, .linktype = 1, .snaplen = 262144};
    write_two(path, &o);
    size_t n;
    uint8_t *b = slurp(path, &n);
    assert_int_equal(n, 24 + 16 + 5 + 16 + 8);
    static const uint8_t hdr[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0,
                                    0,    0,    0,    0,    0, 0, 4, 0, 1, 0, 0, 0};
    assert_memory_equal(b, hdr, 24);
    assert_int_equal(le32(b + 24), 1704067200u);
    assert_int_equal(le32(b + 28), 123456u); /* microseconds, truncated */
    assert_int_equal(le32(b + 32), 5);
    assert_int_equal(le32(b + 36), 60);
    assert_memory_equal(b + 40, frame1, 5);
    assert_int_equal(le32(b + 45), 1704067201u);
    assert_int_equal(le32(b + 49), 0u);
    free(b);
}

static void test_pcap_nsec_raw(void **st)
{
    (void)st;
    char path[256];
    snprintf(path, sizeof path, "%s/n.pcap", dir);
    struct ds_pcapw_opts o = {
        .format = DS_PCAPW_PCAP, .linktype = 101, .snaplen = 65535, .nanosec = true};
    write_two(path, &o);
    size_t n;
    uint8_t *b = slurp(path, &n);
    assert_int_equal(le32(b), 0xa1b23c4du);
    assert_int_equal(le32(b + 16), 65535);
    assert_int_equal(le32(b + 20), 101);
    assert_int_equal(le32(b + 28), 123456789u);
    assert_int_equal(le32(b + 49), 1u);
    free(b);
}

static void test_pcapng(void **st)
{
    (void)st;
    char path[256];
    snprintf(path, sizeof path, "%s/a.pcapng", dir);
    for (int ns = 0; ns < 2; ns++) {
        struct ds_pcapw_opts o = {.format = DS_PCAPW_PCAPNG,
                                  .linktype = 1,
                                  .snaplen = 262144,
                                  .nanosec = ns,
                                  .appname = "darkscope gen"};
        write_two(path, &o);
        size_t n;
        uint8_t *b = slurp(path, &n);
        /* SHB: type, length, byte-order magic, version 1.0, section length -1,
         * shb_userappl "darkscope gen" (13 bytes, padded to 16), end of options */
        assert_int_equal(le32(b), 0x0a0d0d0au);
        uint32_t shb = le32(b + 4);
        assert_int_equal(shb, 28 + 4 + 16 + 4);
        assert_int_equal(le32(b + 8), 0x1a2b3c4du);
        assert_int_equal(le16(b + 12), 1);
        assert_int_equal(le16(b + 14), 0);
        assert_int_equal(le32(b + 16), 0xffffffffu);
        assert_int_equal(le32(b + 20), 0xffffffffu);
        assert_int_equal(le16(b + 24), 4);
        assert_int_equal(le16(b + 26), 13);
        assert_memory_equal(b + 28, "darkscope gen", 13);
        assert_int_equal(le32(b + shb - 4), shb);
        /* IDB: linktype, snaplen, if_tsresol */
        const uint8_t *idb = b + shb;
        assert_int_equal(le32(idb), 1);
        assert_int_equal(le32(idb + 4), 32);
        assert_int_equal(le16(idb + 8), 1);
        assert_int_equal(le32(idb + 12), 262144);
        assert_int_equal(le16(idb + 16), 9);
        assert_int_equal(le16(idb + 18), 1);
        assert_int_equal(idb[20], ns ? 9 : 6);
        assert_int_equal(le32(idb + 24), 0); /* opt_endofopt */
        assert_int_equal(le32(idb + 28), 32);
        /* EPB: 5 bytes of data padded to 8 */
        const uint8_t *epb = idb + 32;
        assert_int_equal(le32(epb), 6);
        assert_int_equal(le32(epb + 4), 32 + 8);
        assert_int_equal(le32(epb + 8), 0);
        uint64_t ts = (uint64_t)le32(epb + 12) << 32 | le32(epb + 16);
        assert_true(ts == (ns ? TS1 : TS1 / 1000));
        assert_int_equal(le32(epb + 20), 5);
        assert_int_equal(le32(epb + 24), 60);
        assert_memory_equal(epb + 28, frame1, 5);
        assert_int_equal(le32(epb + 36), 40);
        const uint8_t *epb2 = epb + 40;
        assert_int_equal(le32(epb2 + 4), 32 + 8);
        assert_int_equal(n, (size_t)(epb2 + 40 - b));
        free(b);
    }
}

/* libpcap reads every format back with the same frames. */
static void test_libpcap_reads(void **st)
{
    (void)st;
    static const struct {
        const char *name;
        enum ds_pcapw_format f;
        bool ns;
    } cases[] = {{"r1.pcap", DS_PCAPW_PCAP, false},
                 {"r2.pcap", DS_PCAPW_PCAP, true},
                 {"r3.pcapng", DS_PCAPW_PCAPNG, false},
                 {"r4.pcapng", DS_PCAPW_PCAPNG, true}};
    for (size_t i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, cases[i].name);
        struct ds_pcapw_opts o = {
            .format = cases[i].f, .linktype = 1, .snaplen = 262144, .nanosec = cases[i].ns};
        write_two(path, &o);
        char eb[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, eb);
        assert_non_null(p);
        assert_int_equal(pcap_datalink(p), 1);
        struct pcap_pkthdr *h;
        const u_char *d;
        assert_int_equal(pcap_next_ex(p, &h, &d), 1);
        assert_int_equal(h->caplen, 5);
        assert_int_equal(h->len, 60);
        assert_int_equal(h->ts.tv_sec, 1704067200);
        assert_int_equal(h->ts.tv_usec, cases[i].ns ? 123456789 : 123456000);
        assert_memory_equal(d, frame1, 5);
        assert_int_equal(pcap_next_ex(p, &h, &d), 1);
        assert_int_equal(h->caplen, 8);
        assert_int_equal(pcap_next_ex(p, &h, &d), PCAP_ERROR_BREAK);
        pcap_close(p);
    }
}

static void test_zstd(void **st)
{
    (void)st;
    char plain[256], packed[256];
    snprintf(plain, sizeof plain, "%s/z.pcapng", dir);
    snprintf(packed, sizeof packed, "%s/z.pcapng.zst", dir);
    assert_true(ds_pcapw_name_is_zstd(packed));
    assert_false(ds_pcapw_name_is_zstd(plain));
    struct ds_pcapw_opts o = {.format = DS_PCAPW_PCAPNG, .linktype = 1, .snaplen = 262144};
    write_two(plain, &o);
    o.zstd = true;
    write_two(packed, &o);
    size_t n1, n2;
    uint8_t *a = slurp(plain, &n1), *z = slurp(packed, &n2);
    unsigned long long dn = ZSTD_getFrameContentSize(z, n2);
    uint8_t *d = malloc(n1 + 64);
    size_t got = ZSTD_decompress(d, n1 + 64, z, n2);
    assert_false(ZSTD_isError(got));
    assert_int_equal(got, n1);
    assert_true(dn == ZSTD_CONTENTSIZE_UNKNOWN || dn == n1);
    assert_memory_equal(a, d, n1);
    free(a);
    free(z);
    free(d);
}

static void test_errors(void **st)
{
    (void)st;
    struct ds_pcapw *w;
    struct ds_err err = {0};
    struct ds_pcapw_opts o = {.format = DS_PCAPW_PCAP, .linktype = 1, .snaplen = 262144};
    assert_true(ds_pcapw_open(&w, "/nonexistent-dir/x.pcap", &o, &err) < 0);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.pcap"));
    /* a full device: the error shows at the latest when closing */
    if (access("/dev/full", W_OK) == 0) {
        assert_int_equal(ds_pcapw_open(&w, "/dev/full", &o, &err), 0);
        uint8_t big[1500] = {0};
        int rc = 0;
        for (int i = 0; i < 10000 && rc == 0; i++)
            rc = ds_pcapw_write(w, TS1, big, sizeof big, sizeof big);
        int crc = ds_pcapw_close(w, &err);
        assert_true(rc < 0 || crc < 0);
        assert_non_null(strstr(err.msg, "/dev/full"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcap_usec), cmocka_unit_test(test_pcap_nsec_raw),
        cmocka_unit_test(test_pcapng),    cmocka_unit_test(test_libpcap_reads),
        cmocka_unit_test(test_zstd),      cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
