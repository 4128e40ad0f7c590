/* test_capture.c - pcap and pcapng parsing: byte orders, resolutions, link types, damage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_capture_util.h"

static char *g_dir; /* per-run temp dir */

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

/* Reads b from a file named name and checks that memory in place and memory streamed in
 * small pieces give exactly the same frames and outcome. */
static void read_bytes(const struct bb *b, const char *name, struct got *g)
{
    char *path = write_file(g_dir, name, b->p, b->n);
    read_path(path, NULL, g);
    free(path);
    static const size_t chunks[] = {0, 1, 7, 4096};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        struct got m;
        read_mem(b->p, b->n, chunks[i], NULL, &m);
        assert_true(got_same(g, &m));
        got_free(&m);
    }
}

struct open_args {
    const char *path;
    struct got *g;
};
static void do_read(void *arg)
{
    struct open_args *a = arg;
    read_path(a->path, NULL, a->g);
}
/* Reads path with stderr captured; returns the warnings (caller frees). */
static char *read_path_warnings(const char *path, struct got *g)
{
    struct open_args a = {path, g};
    return capture_stderr(do_read, &a);
}

/* ------------------------------------------------------------------ pcap */

static void test_pcap_orders_and_resolutions(void **state)
{
    for (int be = 0; be < 2; be++) {
        for (int nsec = 0; nsec < 2; nsec++) {
            struct bb b = {.be = be};
            uint8_t pkt[60];
            fill_pattern(pkt, sizeof pkt, 0x40);
            pcap_hdr(&b, nsec ? MAGIC_NSEC : MAGIC_USEC, 65535, 1);
            pcap_rec(&b, 1700000000, nsec ? 123456789 : 123456, 60, 60, pkt);
            pcap_rec(&b, 1700000001, nsec ? 999999999 : 999999, 20, 1500, pkt + 1);
            pcap_rec(&b, 0, 0, 0, 0, pkt);
            char name[32];
            snprintf(name, sizeof name, "%s-%s.pcap", be ? "be" : "le", nsec ? "nsec" : "usec");
            struct got g;
            read_bytes(&b, name, &g);
            assert_int_equal(g.open_rc, 0);
            assert_int_equal(g.n, 3);
            assert_int_equal(g.f[0].ts_ns, nsec ? 1700000000123456789ull : 1700000000123456000ull);
            assert_int_equal(g.f[1].ts_ns, nsec ? 1700000001999999999ull : 1700000001999999000ull);
            assert_int_equal(g.f[2].ts_ns, 0);
            assert_int_equal(g.f[0].caplen, 60);
            assert_int_equal(g.f[0].wirelen, 60);
            assert_int_equal(g.f[1].caplen, 20);
            assert_int_equal(g.f[1].wirelen, 1500);
            assert_int_equal(g.f[2].caplen, 0);
            assert_int_equal(g.f[0].linktype, 1);
            assert_int_equal(g.f[0].hash, fnv(pkt, 60));
            assert_int_equal(g.f[1].hash, fnv(pkt + 1, 20));
            assert_int_equal(g.st.frames, 3);
            assert_int_equal(g.st.inputs_ok, 1);
            assert_int_equal(g.st.inputs_cut, 0);
            assert_int_equal(g.st.inputs_rejected, 0);
            got_free(&g);
            bb_free(&b);
        }
    }
}

static void test_pcap_linktype_high_bits(void **state)
{
    static const struct {
        uint32_t word, want;
    } cases[] = {{0x30000001, 1}, {0x04000071, 113}, {0xf000007f, 127}, {0x00000065, 101}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bb b = {.be = i % 2};
        uint8_t pkt[4] = {1, 2, 3, 4};
        pcap_hdr(&b, MAGIC_USEC, 65535, cases[i].word);
        pcap_rec(&b, 1, 2, 4, 4, pkt);
        struct got g;
        read_bytes(&b, "lt.pcap", &g);
        assert_int_equal(g.n, 1);
        assert_int_equal(g.f[0].linktype, cases[i].want);
        got_free(&g);
        bb_free(&b);
    }
}

static void test_pcap_caplen_limits(void **state)
{
    struct bb b = {0};
    uint8_t *pkt = calloc(1, 300000);
    pcap_hdr(&b, MAGIC_USEC, 64, 1);
    pcap_rec(&b, 10, 0, 64, 1514, pkt);       /* caplen < len: a snapshot */
    pcap_rec(&b, 11, 0, 100, 100, pkt);       /* caplen > snaplen: tolerated */
    pcap_rec(&b, 12, 0, 262144, 262144, pkt); /* at the hard limit */
    size_t bad_at = b.n;
    pcap_rec(&b, 13, 0, 262145, 262145, pkt); /* beyond: corrupt */
    pcap_rec(&b, 14, 0, 10, 10, pkt);
    struct got g;
    char *path = write_file(g_dir, "caplen.pcap", b.p, b.n);
    char *warn = read_path_warnings(path, &g);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.f[0].caplen, 64);
    assert_int_equal(g.f[0].wirelen, 1514);
    assert_int_equal(g.f[1].caplen, 100);
    assert_int_equal(g.f[2].caplen, 262144);
    assert_int_equal(g.st.inputs_cut, 1);
    assert_int_equal(g.st.inputs_ok, 0);
    char want[64];
    snprintf(want, sizeof want, "byte offset %zu", bad_at);
    assert_non_null(strstr(warn, path));
    assert_non_null(strstr(warn, want));
    assert_non_null(strstr(warn, "caplen 262145"));
    /* the same through the streaming path */
    struct got m;
    read_mem(b.p, b.n, 1000, NULL, &m);
    assert_true(got_same(&g, &m));
    got_free(&m);
    free(warn);
    free(path);
    got_free(&g);
    bb_free(&b);
    free(pkt);
}

static void test_pcap_truncated_last_record(void **state)
{
    struct bb b = {.be = true};
    uint8_t pkt[100];
    fill_pattern(pkt, sizeof pkt, 7);
    pcap_hdr(&b, MAGIC_NSEC, 65535, 1);
    pcap_rec(&b, 100, 1, 100, 100, pkt);
    pcap_rec(&b, 101, 2, 50, 60, pkt);
    size_t third = b.n;
    pcap_rec(&b, 102, 3, 100, 100, pkt);

    /* cut inside the third record's data */
    struct got g;
    char *path = write_file(g_dir, "cut-data.pcap", b.p, third + 16 + 40);
    char *warn = read_path_warnings(path, &g);
    assert_int_equal(g.open_rc, 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.f[0].ts_ns, 100000000001ull);
    assert_int_equal(g.f[1].ts_ns, 101000000002ull);
    assert_int_equal(g.f[1].caplen, 50);
    assert_int_equal(g.f[1].wirelen, 60);
    assert_int_equal(g.st.inputs_cut, 1);
    assert_int_equal(g.st.inputs_ok, 0);
    char want[64];
    snprintf(want, sizeof want, "byte offset %zu", third);
    assert_non_null(strstr(warn, path));
    assert_non_null(strstr(warn, want));
    assert_non_null(strstr(warn, "truncated record"));
    /* reported once */
    assert_ptr_equal(strstr(strstr(warn, path) + 1, path), NULL);
    free(warn);
    free(path);
    got_free(&g);

    /* cut inside the third record's header */
    path = write_file(g_dir, "cut-hdr.pcap", b.p, third + 5);
    warn = read_path_warnings(path, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.st.inputs_cut, 1);
    assert_non_null(strstr(warn, "truncated record header (5 of 16 bytes)"));
    assert_non_null(strstr(warn, want));
    free(warn);
    free(path);
    got_free(&g);
    bb_free(&b);
}

static void test_pcap_kuznetzov_and_old_versions(void **state)
{
    /* modified pcap: 24-byte record headers (ifindex, protocol, pkt_type, pad) */
    struct bb b = {0};
    uint8_t pkt[8] = {9, 8, 7, 6, 5, 4, 3, 2};
    pcap_hdr(&b, MAGIC_KUZ, 65535, 1);
    for (int i = 0; i < 2; i++) {
        bb_u32(&b, 1000 + (uint32_t)i);
        bb_u32(&b, 5);
        bb_u32(&b, 8);
        bb_u32(&b, 9);
        bb_u32(&b, 2);      /* ifindex */
        bb_u16(&b, 0x0800); /* protocol */
        bb_u8(&b, 0);
        bb_u8(&b, 0);
        bb_put(&b, pkt, 8);
    }
    struct got g;
    read_bytes(&b, "kuz.pcap", &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.f[1].ts_ns, 1001000005000ull);
    assert_int_equal(g.f[1].caplen, 8);
    assert_int_equal(g.f[1].wirelen, 9);
    assert_int_equal(g.f[1].hash, fnv(pkt, 8));
    assert_int_equal(g.st.inputs_ok, 1);
    got_free(&g);
    bb_free(&b);

    /* version 2.2 wrote len before caplen */
    b = (struct bb){0};
    pcap_hdr(&b, MAGIC_USEC, 65535, 1);
    b.p[6] = 2;
    bb_u32(&b, 1);
    bb_u32(&b, 0);
    bb_u32(&b, 1500); /* len */
    bb_u32(&b, 8);    /* caplen */
    bb_put(&b, pkt, 8);
    read_bytes(&b, "v22.pcap", &g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.f[0].caplen, 8);
    assert_int_equal(g.f[0].wirelen, 1500);
    got_free(&g);
    bb_free(&b);
}

static void test_pcap_bad_headers(void **state)
{
    struct got g;
    struct bb b = {0};
    pcap_hdr(&b, MAGIC_USEC, 65535, 1);
    b.p[4] = 3; /* version 3.4 */
    char *path = write_file(g_dir, "v3.pcap", b.p, b.n);
    read_path(path, NULL, &g);
    assert_int_equal(g.open_rc, -EINVAL);
    assert_non_null(strstr(g.msg, path));
    assert_non_null(strstr(g.msg, "unsupported pcap version 3.4"));
    free(path);

    path = write_file(g_dir, "short.pcap", b.p, 10);
    read_path(path, NULL, &g);
    assert_int_equal(g.open_rc, -EINVAL);
    assert_non_null(strstr(g.msg, "file header truncated (10 of 24 bytes)"));
    free(path);

    path = write_file(g_dir, "empty.pcap", b.p, 0);
    read_path(path, NULL, &g);
    assert_int_equal(g.open_rc, -EINVAL);
    assert_non_null(strstr(g.msg, "empty file"));
    free(path);

    /* a header and no records: read fine, no frames */
    b.p[4] = 2;
    path = write_file(g_dir, "header-only.pcap", b.p, b.n);
    read_path(path, NULL, &g);
    assert_int_equal(g.open_rc, 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(g.st.inputs_ok, 1);
    free(path);
    bb_free(&b);
}

/* ------------------------------------------------------------------ pcapng */

/* Two sections (little- then big-endian), interfaces with different link types and time
 * resolutions, EPB/SPB/PB and blocks to skip. */
static void build_pcapng(struct bb *b, uint8_t *tcp, uint8_t *udp_raw, uint8_t *big)
{
    mk_ip(tcp, true, 6, 40000, 23);
    mk_ip(udp_raw, false, 17, 53, 40001);
    fill_pattern(big, 100, 0x80);

    b->be = false;
    ng_shb(b);
    ng_idb(b, 1, 80, 9, false, 0);      /* Ethernet, nanoseconds, snaplen 80 */
    ng_idb(b, 101, 64, 0x8a, false, 0); /* raw IP, 2^-10 s */
    ng_epb(b, 0, 1700000000123456789ull, 54, 54, tcp);
    ng_nrb(b);
    ng_other(b, 0x00000bad, 9); /* custom block */
    ng_isb(b, 0);
    ng_epb(b, 1, 1700000000ull * 1024 + 512, 28, 28, udp_raw);
    ng_spb(b, 100, big, 80); /* interface 0: 100 bytes on the wire, snaplen 80 */
    ng_pb(b, 1, 1700000001ull * 1024, 28, 28, udp_raw);

    b->be = true;
    ng_shb(b);
    ng_idb(b, 113, 65535, -1, true, 100); /* SLL, default microseconds, +100 s */
    ng_epb(b, 0, 1700000000000000ull, 60, 60, big);
    ng_other(b, 0x00000099, 20); /* a type nobody defined */
}

static void test_pcapng_sections_interfaces_blocks(void **state)
{
    uint8_t tcp[64], udp[64], big[100];
    struct bb b = {0};
    build_pcapng(&b, tcp, udp, big);
    struct got g;
    read_bytes(&b, "two-sections.pcapng", &g);
    assert_int_equal(g.open_rc, 0);
    assert_int_equal(g.n, 5);
    static const uint64_t ts[] = {1700000000123456789ull, 1700000000500000000ull,
                                  1700000000500000000ull, 1700000001000000000ull,
                                  1700000100000000000ull};
    static const uint32_t cap[] = {54, 28, 80, 28, 60}, wire[] = {54, 28, 100, 28, 60},
                          lt[] = {1, 101, 1, 101, 113};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(g.f[i].ts_ns, ts[i]);
        assert_int_equal(g.f[i].caplen, cap[i]);
        assert_int_equal(g.f[i].wirelen, wire[i]);
        assert_int_equal(g.f[i].linktype, lt[i]);
    }
    assert_int_equal(g.f[0].hash, fnv(tcp, 54));
    assert_int_equal(g.f[1].hash, fnv(udp, 28));
    assert_int_equal(g.f[2].hash, fnv(big, 80));
    assert_int_equal(g.f[4].hash, fnv(big, 60));
    assert_int_equal(g.st.inputs_ok, 1);
    assert_int_equal(g.st.inputs_cut, 0);
    got_free(&g);
    bb_free(&b);
}

static uint64_t ng_one_ts(int tsresol, bool has_off, int64_t off, uint64_t units)
{
    struct bb b = {0};
    uint8_t pkt[4] = {0};
    ng_shb(&b);
    ng_idb(&b, 1, 0, tsresol, has_off, off);
    ng_epb(&b, 0, units, 4, 4, pkt);
    struct got g;
    read_mem(b.p, b.n, 0, NULL, &g);
    assert_int_equal(g.n, 1);
    uint64_t ts = g.f[0].ts_ns;
    got_free(&g);
    bb_free(&b);
    return ts;
}

static void test_pcapng_timestamps(void **state)
{
    assert_int_equal(ng_one_ts(-1, false, 0, 5), 5000);                         /* default usec */
    assert_int_equal(ng_one_ts(0, false, 0, 3), 3000000000ull);                 /* seconds */
    assert_int_equal(ng_one_ts(3, false, 0, 7), 7000000);                       /* ms */
    assert_int_equal(ng_one_ts(12, false, 0, 5000000000000ull), 5000000000ull); /* ps */
    assert_int_equal(ng_one_ts(0x80, false, 0, 3), 3000000000ull);              /* 2^0 */
    assert_int_equal(ng_one_ts(0x81, false, 0, 3), 1500000000ull);              /* 2^-1 */
    assert_int_equal(ng_one_ts(0x94, false, 0, 1u << 20), 1000000000ull);       /* 2^-20 */
    assert_int_equal(ng_one_ts(0xff, false, 0, UINT64_MAX), 0);                 /* 2^-127 */
    assert_int_equal(ng_one_ts(30, false, 0, UINT64_MAX), 0);                   /* 10^-30 */
    assert_int_equal(ng_one_ts(9, true, 1000, 5), 1000000000005ull);            /* offset */
    assert_int_equal(ng_one_ts(9, true, -10, 5000000000ull), 0);                /* clamped at 0 */
    assert_int_equal(ng_one_ts(0, false, 0, UINT64_MAX), UINT64_MAX);           /* clamped high */
    assert_int_equal(ng_one_ts(9, true, INT64_MAX, 1), UINT64_MAX);
    assert_int_equal(ng_one_ts(9, true, INT64_MIN, UINT64_MAX), 0);
}

/* A valid start (SHB, IDB, two EPBs) followed by one damaged block; the file must stop at
 * the damage with the two frames kept. */
struct ng_bad {
    const char *name, *why;
    void (*damage)(struct bb *b);
};
static void dmg_unknown_iface(struct bb *b)
{
    uint8_t p[4] = {0};
    ng_epb(b, 5, 1, 4, 4, p);
}
static void dmg_trailer(struct bb *b)
{
    uint8_t p[4] = {0};
    ng_epb(b, 0, 1, 4, 4, p);
    b->p[b->n - 4] ^= 0x40;
}
static void dmg_len_not_4(struct bb *b)
{
    size_t at = ng_begin(b, 6);
    for (int i = 0; i < 22; i++)
        bb_u8(b, 0);
    bb_patch32(b, at + 4, 30);
}
static void dmg_len_short(struct bb *b)
{
    bb_u32(b, 6);
    bb_u32(b, 8);
    bb_u32(b, 8);
}
static void dmg_caplen(struct bb *b)
{
    uint8_t p[8] = {0};
    size_t at = b->n;
    ng_epb(b, 0, 1, 8, 8, p);
    bb_patch32(b, at + 20, 9); /* caplen one past the data room */
}
static void dmg_bad_bom(struct bb *b)
{
    size_t at = b->n;
    ng_shb(b);
    bb_patch32(b, at + 8, 0x11223344);
}
static void dmg_truncated(struct bb *b)
{
    uint8_t p[40] = {0};
    ng_epb(b, 0, 1, 40, 40, p);
    b->n -= 10;
}
static void dmg_shb_version(struct bb *b)
{
    size_t at = b->n;
    ng_shb(b);
    b->p[at + 12] = 2; /* major 2 (little-endian) */
}
static void dmg_huge_block(struct bb *b)
{
    bb_u32(b, 6);
    bb_u32(b, 0x7ffffff0);
    bb_u32(b, 0);
}
static void dmg_partial_header(struct bb *b)
{
    bb_u32(b, 6);
    bb_u32(b, 32);
}

static void test_pcapng_damage(void **state)
{
    static const struct ng_bad cases[] = {
        {"unknown-iface", "packet block names interface 5, the section has 1", dmg_unknown_iface},
        {"trailer", "block trailer length", dmg_trailer},
        {"len30", "bad block length 30", dmg_len_not_4},
        {"len8", "bad block length 8", dmg_len_short},
        {"caplen", "packet caplen 9 exceeds its 40-byte block", dmg_caplen},
        {"bom", "bad byte-order magic", dmg_bad_bom},
        {"truncated", "truncated block (type 0x00000006, 72 bytes announced, 62 present)",
         dmg_truncated},
        {"version", "unsupported pcapng version 2.0", dmg_shb_version},
        {"huge", "exceeds the 64 MiB limit", dmg_huge_block},
        {"partial", "truncated block header (8 bytes left)", dmg_partial_header},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bb b = {0};
        uint8_t p[4] = {1, 2, 3, 4};
        ng_shb(&b);
        ng_idb(&b, 1, 0, -1, false, 0);
        ng_epb(&b, 0, 1, 4, 4, p);
        ng_epb(&b, 0, 2, 4, 4, p);
        size_t at = b.n;
        cases[i].damage(&b);
        char name[64];
        snprintf(name, sizeof name, "%s.pcapng", cases[i].name);
        char *path = write_file(g_dir, name, b.p, b.n);
        struct got g;
        char *warn = read_path_warnings(path, &g);
        assert_int_equal(g.open_rc, 0);
        assert_int_equal(g.n, 2);
        assert_int_equal(g.f[1].ts_ns, 2000);
        assert_int_equal(g.st.inputs_cut, 1);
        char off[64];
        snprintf(off, sizeof off, "at byte offset %zu;", at);
        if (!strstr(warn, cases[i].why) || !strstr(warn, off) || !strstr(warn, path))
            fail_msg("%s: warning '%s' lacks '%s' or '%s'", cases[i].name, warn, cases[i].why, off);
        for (size_t c = 1; c < 9000; c += 4000) {
            struct got m;
            read_mem(b.p, b.n, c, NULL, &m);
            assert_true(got_same(&g, &m));
            got_free(&m);
        }
        free(warn);
        free(path);
        got_free(&g);
        bb_free(&b);
    }
}

static void test_pcapng_bad_start(void **state)
{
    struct bb b = {0};
    ng_shb(&b);
    b.p[12] = 2;
    struct got g;
    char *path = write_file(g_dir, "v2.pcapng", b.p, b.n);
    read_path(path, NULL, &g);
    assert_int_equal(g.open_rc, -EINVAL);
    assert_non_null(strstr(g.msg, path));
    assert_non_null(strstr(g.msg, "unsupported pcapng version 2.0"));
    free(path);
    path = write_file(g_dir, "shb-cut.pcapng", b.p, 20);
    read_path(path, NULL, &g);
    assert_int_equal(g.open_rc, -EINVAL);
    assert_non_null(
        strstr(g.msg, "truncated block (type 0x0a0d0d0a, 28 bytes announced, 20 present)"));
    free(path);
    bb_free(&b);
}

/* A 300,000-byte packet: the stream window must grow to hold the whole block. */
static void test_pcapng_big_block(void **state)
{
    struct bb b = {0};
    uint8_t *pkt = malloc(300000);
    fill_pattern(pkt, 300000, 3);
    ng_shb(&b);
    ng_idb(&b, 1, 0, -1, false, 0);
    ng_epb(&b, 0, 1, 300000, 300000, pkt);
    ng_epb(&b, 0, 2, 10, 10, pkt);
    struct got g;
    read_bytes(&b, "big.pcapng", &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.f[0].caplen, 300000);
    assert_int_equal(g.f[0].hash, fnv(pkt, 300000));
    assert_int_equal(g.st.inputs_ok, 1);
    got_free(&g);
    bb_free(&b);
    free(pkt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcap_orders_and_resolutions),
        cmocka_unit_test(test_pcap_linktype_high_bits),
        cmocka_unit_test(test_pcap_caplen_limits),
        cmocka_unit_test(test_pcap_truncated_last_record),
        cmocka_unit_test(test_pcap_kuznetzov_and_old_versions),
        cmocka_unit_test(test_pcap_bad_headers),
        cmocka_unit_test(test_pcapng_sections_interfaces_blocks),
        cmocka_unit_test(test_pcapng_timestamps),
        cmocka_unit_test(test_pcapng_damage),
        cmocka_unit_test(test_pcapng_bad_start),
        cmocka_unit_test(test_pcapng_big_block),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
