/* test_decode.c - decoder unit tests over hand-built frames of every supported link type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/decode.h"
#include "gen/craft.h"

static struct ds_addr A(const char *s) {
    struct ds_addr a;
    assert_int_equal(ds_addr_parse(&a, s, NULL), 0);
    return a;
}

static void
test_tcp_syn_ethernet(void **st)
{
    (void)st;
    uint8_t buf[256];
    struct ds_craft c = {.link = DS_CRAFT_ETHERNET,
                         .src = A("203.0.114.7"),
                         .dst = A("198.51.100.23"),
                         .ttl = 52,
                         .ip_id = 0x1234,
                         .proto = 6,
                         .sport = 40000,
                         .dport = 23,
                         .seq = 0xC6336417,
                         .ack = 0,
                         .tcp_flags = DS_TCP_SYN,
                         .win = 14600,
                         .tcp_opts = ds_opts_linux,
                         .tcp_opts_len = sizeof ds_opts_linux};
    size_t n = ds_craft_packet(buf, sizeof buf, &c);
    assert_int_equal(n, 14 + 20 + 40);
    struct ds_pkt p;
    assert_int_equal(ds_decode(1, buf, (uint32_t)n, (uint32_t)n, 77, &p), DS_DECODE_OK);
    assert_int_equal(p.ts_ns, 77);
    assert_int_equal(p.ipver, 4);
    assert_int_equal(p.proto, 6);
    assert_int_equal(ds_addr_v4(&p.src), 0xCB007207);
    assert_int_equal(ds_addr_v4(&p.dst), 0xC6336417);
    assert_int_equal(p.ttl, 52);
    assert_int_equal(p.ip_id, 0x1234);
    assert_int_equal(p.sport, 40000);
    assert_int_equal(p.dport, 23);
    assert_int_equal(p.seq, 0xC6336417);
    assert_int_equal(p.tcp_flags, DS_TCP_SYN);
    assert_int_equal(p.win, 14600);
    assert_int_equal(p.tcp_mss, 1460);
    assert_int_equal(p.tcp_wscale, 7);
    /* MSS, SACK-permitted, timestamps, NOP, window scale */
    assert_int_equal(p.tcp_nopts, 5);
    uint8_t layout[5] = {2, 4, 8, 1, 3};
    assert_memory_equal(p.tcp_layout, layout, 5);
    assert_int_equal(p.payload_len, 0);
    assert_true(p.flags & DS_PKT_L4);
    assert_false(p.flags & DS_PKT_FRAGMENT);
}

static void test_vlan_qinq(void **st)
{
    (void)st;
    uint8_t buf[256];
    struct ds_craft c = {.link = DS_CRAFT_ETHERNET,
                         .vlan = 100,
                         .src = A("192.0.2.1"),
                         .dst = A("198.51.100.1"),
                         .ttl = 64,
                         .proto = 17,
                         .sport = 5000,
                         .dport = 53};
    size_t n = ds_craft_packet(buf, sizeof buf, &c);
    struct ds_pkt p;
    assert_int_equal(ds_decode(1, buf, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_OK);
    assert_int_equal(p.dport, 53);
    /* add an outer 802.1ad tag in front: QinQ */
    uint8_t q[300];
    memcpy(q, buf, 12);
    q[12] = 0x88;
    q[13] = 0xa8;
    q[14] = 0;
    q[15] = 7;
    memcpy(q + 16, buf + 12, n - 12);
    assert_int_equal(ds_decode(1, q, (uint32_t)n + 4, (uint32_t)n + 4, 0, &p), DS_DECODE_OK);
    assert_int_equal(p.proto, 17);
    assert_int_equal(p.sport, 5000);
    assert_int_equal(p.dport, 53);
    /* cut inside the inner tag */
    assert_int_equal(ds_decode(1, q, 17, (uint32_t)n + 4, 0, &p), DS_DECODE_TRUNCATED);
}

static void test_raw_sll_null_links(void **st)
{
    (void)st;
    uint8_t ip[128];
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .src = A("192.0.2.9"),
                         .dst = A("198.51.100.2"),
                         .ttl = 99,
                         .proto = 1,
                         .icmp_type = 8,
                         .icmp_rest = 0x00010002};
    size_t n = ds_craft_packet(ip, sizeof ip, &c);
    assert_int_equal(n, 28);
    struct ds_pkt p;
    uint32_t raw_types[] = {12, 14, 101, 228};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(ds_decode(raw_types[i], ip, (uint32_t)n, (uint32_t)n, 0, &p),
                         DS_DECODE_OK);
        assert_int_equal(p.icmp_type, 8);
        assert_int_equal(p.ttl, 99);
    }
    /* LINKTYPE_IPV6 with an IPv4 packet is malformed, not silently accepted */
    assert_int_equal(ds_decode(229, ip, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_MALFORMED);

    uint8_t f[200];
    /* Linux SLL: 16-byte header, protocol at offset 14 */
    memset(f, 0, 16);
    f[14] = 0x08;
    memcpy(f + 16, ip, n);
    assert_int_equal(ds_decode(113, f, (uint32_t)n + 16, (uint32_t)n + 16, 0, &p), DS_DECODE_OK);
    assert_int_equal(ds_addr_v4(&p.src), 0xC0000209);
    /* SLL2: 20-byte header, protocol at offset 0 */
    memset(f, 0, 20);
    f[0] = 0x08;
    memcpy(f + 20, ip, n);
    assert_int_equal(ds_decode(276, f, (uint32_t)n + 20, (uint32_t)n + 20, 0, &p), DS_DECODE_OK);
    assert_int_equal(p.icmp_type, 8);
    f[1] = 0x06; /* ARP */
    assert_int_equal(ds_decode(276, f, (uint32_t)n + 20, (uint32_t)n + 20, 0, &p),
                     DS_DECODE_NON_IP);
    /* BSD null (host order, little-endian writer) and loop (network order) */
    uint8_t le[4] = {2, 0, 0, 0}, be[4] = {0, 0, 0, 2};
    memcpy(f, le, 4);
    memcpy(f + 4, ip, n);
    assert_int_equal(ds_decode(0, f, (uint32_t)n + 4, (uint32_t)n + 4, 0, &p), DS_DECODE_OK);
    memcpy(f, be, 4);
    assert_int_equal(ds_decode(0, f, (uint32_t)n + 4, (uint32_t)n + 4, 0, &p), DS_DECODE_OK);
    assert_int_equal(ds_decode(108, f, (uint32_t)n + 4, (uint32_t)n + 4, 0, &p), DS_DECODE_OK);
    /* unsupported link type */
    assert_int_equal(ds_decode(105, f, (uint32_t)n + 4, (uint32_t)n + 4, 0, &p),
                     DS_DECODE_UNSUPPORTED_LINK);
}

static void test_truncation_never_reads_past_caplen(void **st)
{
    (void)st;
    uint8_t buf[256];
    struct ds_craft c = {.link = DS_CRAFT_ETHERNET,
                         .src = A("192.0.2.1"),
                         .dst = A("198.51.100.1"),
                         .ttl = 64,
                         .proto = 6,
                         .sport = 1,
                         .dport = 2,
                         .tcp_flags = DS_TCP_SYN,
                         .win = 1,
                         .tcp_opts = ds_opts_windows,
                         .tcp_opts_len = sizeof ds_opts_windows};
    size_t n = ds_craft_packet(buf, sizeof buf, &c);
    struct ds_pkt p;
    /* every shorter caplen: truncated before the TCP fixed header, OK after it */
    for (uint32_t cl = 0; cl <= n; cl++) {
        /* an exact-size heap copy, so AddressSanitizer catches any read past caplen */
        uint8_t *copy = malloc(cl ? cl : 1);
        assert_non_null(copy);
        memcpy(copy, buf, cl);
        enum ds_decode_rc rc = ds_decode(1, copy, cl, (uint32_t)n, 0, &p);
        free(copy);
        if (cl < 14 + 20 + 20)
            assert_int_equal(rc, DS_DECODE_TRUNCATED);
        else
            assert_int_equal(rc, DS_DECODE_OK);
        if (cl > 54 && cl < n)
            assert_true(p.flags & DS_PKT_OPTS_CUT);
    }
    /* options cut after MSS: layout known up to there */
    assert_int_equal(ds_decode(1, buf, 14 + 20 + 20 + 4, (uint32_t)n, 0, &p), DS_DECODE_OK);
    assert_int_equal(p.tcp_mss, 1460);
    assert_int_equal(p.tcp_nopts, 1);
    assert_true(p.flags & DS_PKT_OPTS_CUT);
}

static void test_ipv4_fragments_and_malformed(void **st)
{
    (void)st;
    uint8_t buf[256];
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .src = A("192.0.2.1"),
                         .dst = A("198.51.100.1"),
                         .ttl = 64,
                         .proto = 17,
                         .sport = 7,
                         .dport = 8,
                         .mf = true};
    size_t n = ds_craft_packet(buf, sizeof buf, &c);
    struct ds_pkt p;
    assert_int_equal(ds_decode(101, buf, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_OK);
    assert_true(p.flags & DS_PKT_FRAGMENT);
    assert_true(p.flags & DS_PKT_L4); /* first fragment has the UDP header */
    c.mf = false;
    c.frag_offset = 100;
    n = ds_craft_packet(buf, sizeof buf, &c);
    assert_int_equal(ds_decode(101, buf, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_OK);
    assert_true(p.flags & DS_PKT_FRAGMENT);
    assert_false(p.flags & DS_PKT_L4);
    assert_int_equal(p.proto, 17);
    buf[0] = 0x44; /* IHL 16 bytes */
    assert_int_equal(ds_decode(101, buf, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_MALFORMED);
    buf[0] = 0x35; /* version 3 */
    assert_int_equal(ds_decode(101, buf, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_NON_IP);
}

static void test_ipv6_extension_headers(void **st)
{
    (void)st;
    uint8_t buf[256];
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .src = A("2a01:4f8::1"),
                         .dst = A("2001:db8:1::5"),
                         .ttl = 57,
                         .proto = 6,
                         .sport = 1234,
                         .dport = 22,
                         .seq = 9,
                         .tcp_flags = DS_TCP_SYN,
                         .win = 64800};
    size_t n = ds_craft_packet(buf, sizeof buf, &c);
    /* insert a hop-by-hop (8 bytes) and a destination-options header (16 bytes) */
    uint8_t x[300];
    memcpy(x, buf, 40);
    x[6] = 0; /* hop-by-hop */
    uint8_t hbh[8] = {60, 0, 1, 4, 0, 0, 0, 0};
    uint8_t dst[16] = {6, 1, 1, 12, 0};
    memcpy(x + 40, hbh, 8);
    memcpy(x + 48, dst, 16);
    memcpy(x + 64, buf + 40, n - 40);
    x[4] = (uint8_t)((n - 40 + 24) >> 8);
    x[5] = (uint8_t)(n - 40 + 24);
    struct ds_pkt p;
    assert_int_equal(ds_decode(229, x, (uint32_t)n + 24, (uint32_t)n + 24, 0, &p), DS_DECODE_OK);
    assert_int_equal(p.ipver, 6);
    assert_int_equal(p.proto, 6);
    assert_int_equal(p.dport, 22);
    assert_int_equal(p.ttl, 57);
    assert_int_equal(p.win, 64800);
    /* cut inside the destination options header */
    assert_int_equal(ds_decode(229, x, 49, 200, 0, &p), DS_DECODE_TRUNCATED);
    /* IPv6 fragment header: non-first fragment has no transport header */
    struct ds_craft f6 = c;
    f6.frag_offset = 3;
    n = ds_craft_packet(buf, sizeof buf, &f6);
    assert_int_equal(ds_decode(229, buf, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_OK);
    assert_true(p.flags & DS_PKT_FRAGMENT);
    assert_false(p.flags & DS_PKT_L4);
    assert_int_equal(p.proto, 6);
}

static void test_icmp_quote(void **st)
{
    (void)st;
    /* the quoted packet: a SYN from the spoofed darknet source to the victim's port 443 */
    uint8_t inner[64];
    struct ds_craft q = {.link = DS_CRAFT_RAW,
                         .src = A("198.51.100.77"),
                         .dst = A("192.0.2.80"),
                         .ttl = 50,
                         .proto = 6,
                         .sport = 3333,
                         .dport = 443,
                         .tcp_flags = DS_TCP_SYN};
    size_t qn = ds_craft_packet(inner, sizeof inner, &q);
    uint8_t buf[256];
    struct ds_craft c = {.link = DS_CRAFT_ETHERNET,
                         .src = A("192.0.2.254"),
                         .dst = A("198.51.100.77"),
                         .ttl = 250,
                         .proto = 1,
                         .icmp_type = 3,
                         .icmp_code = 3,
                         .payload = inner,
                         .payload_len = 28};
    size_t n = ds_craft_packet(buf, sizeof buf, &c);
    struct ds_pkt p;
    assert_int_equal(ds_decode(1, buf, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_OK);
    assert_int_equal(p.icmp_type, 3);
    assert_int_equal(p.icmp_code, 3);
    assert_true(p.flags & DS_PKT_QUOTE);
    assert_int_equal(ds_addr_v4(&p.quote.src), 0xC633644D);
    assert_int_equal(ds_addr_v4(&p.quote.dst), 0xC0000250);
    assert_int_equal(p.quote.proto, 6);
    assert_int_equal(p.quote.sport, 3333);
    assert_int_equal(p.quote.dport, 443);
    (void)qn;
    /* quote shorter than an IP header: no quote, still decoded */
    c.payload_len = 12;
    n = ds_craft_packet(buf, sizeof buf, &c);
    assert_int_equal(ds_decode(1, buf, (uint32_t)n, (uint32_t)n, 0, &p), DS_DECODE_OK);
    assert_false(p.flags & DS_PKT_QUOTE);
}

static void test_ethernet_padding_not_payload(void **st)
{
    (void)st;
    uint8_t buf[128] = {0};
    struct ds_craft c = {.link = DS_CRAFT_ETHERNET,
                         .src = A("192.0.2.1"),
                         .dst = A("198.51.100.1"),
                         .ttl = 64,
                         .proto = 17,
                         .sport = 1,
                         .dport = 19,
                         .payload = (const uint8_t *)"x",
                         .payload_len = 1};
    size_t n = ds_craft_packet(buf, sizeof buf, &c);
    assert_int_equal(n, 43);
    struct ds_pkt p;
    /* minimum Ethernet frame: 60 bytes with padding after the IP packet */
    assert_int_equal(ds_decode(1, buf, 60, 60, 0, &p), DS_DECODE_OK);
    assert_int_equal(p.payload_len, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_syn_ethernet),
        cmocka_unit_test(test_vlan_qinq),
        cmocka_unit_test(test_raw_sll_null_links),
        cmocka_unit_test(test_truncation_never_reads_past_caplen),
        cmocka_unit_test(test_ipv4_fragments_and_malformed),
        cmocka_unit_test(test_ipv6_extension_headers),
        cmocka_unit_test(test_icmp_quote),
        cmocka_unit_test(test_ethernet_padding_not_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
