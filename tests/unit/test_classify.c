/* test_classify.c - classes, fingerprints and amplification requests on hand-built packets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/shard.h"
#include "classify/amp.h"
#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "decode/decode.h"
#include "gen/craft.h"

#define C(x) DS_CLASS_BIT(DS_CLASS_##x)
#define F(x) DS_FP_BIT(DS_FP_##x)

static struct ds_addr A(const char *s) {
    struct ds_addr a;
    assert_int_equal(ds_addr_parse(&a, s, NULL), 0);
    return a;
}

/* Crafts, decodes and classifies; the frame buffer is static so payload pointers stay valid. */
static struct ds_pkt
run(const struct ds_craft *c)
{
    static uint8_t buf[2048];
    size_t n = ds_craft_packet(buf, sizeof buf, c);
    assert_true(n > 0);
    struct ds_pkt p;
    assert_int_equal(ds_decode(ds_craft_linktype(c->link), buf, (uint32_t)n, (uint32_t)n, 0, &p),
                     DS_DECODE_OK);
    ds_classify(&p);
    return p;
}

static struct ds_craft syn(const char *src, const char *dst, uint16_t dport)
{
    return (struct ds_craft){.link = DS_CRAFT_ETHERNET,
                             .src = A(src),
                             .dst = A(dst),
                             .ttl = 50,
                             .ip_id = 777,
                             .proto = 6,
                             .sport = 44444,
                             .dport = dport,
                             .seq = 0x11223344,
                             .tcp_flags = DS_TCP_SYN,
                             .win = 29200,
                             .tcp_opts = ds_opts_linux,
                             .tcp_opts_len = sizeof ds_opts_linux};
}

static void test_plain_syn(void **st)
{
    (void)st;
    struct ds_craft c = syn("203.0.114.5", "198.51.100.9", 22);
    struct ds_pkt p = run(&c);
    assert_int_equal(p.classes, C(TCP_SYN));
    assert_int_equal(p.fps, 0);
}

static void test_mirai(void **st)
{
    (void)st;
    struct ds_craft c = syn("203.0.114.5", "198.51.100.9", 23);
    c.seq = 0xC6336409; /* == 198.51.100.9 */
    c.ttl = 64;
    c.tcp_opts_len = 0;
    struct ds_pkt p = run(&c);
    assert_int_equal(p.classes, C(TCP_SYN));
    assert_int_equal(p.fps, F(MIRAI));
    c.seq++;
    p = run(&c);
    assert_int_equal(p.fps, 0);
}

static void test_zmap_and_spoofed_ttl(void **st)
{
    (void)st;
    struct ds_craft c = syn("203.0.114.5", "198.51.100.9", 443);
    c.ip_id = 54321;
    c.win = 65535;
    c.ttl = 250;
    c.tcp_opts_len = 0;
    struct ds_pkt p = run(&c);
    /* Corsaro's TTL >= 200 rule applies: ZMap is not window 1024 */
    assert_int_equal(p.classes, C(TCP_SYN) | C(SPOOFED_HINT));
    assert_int_equal(p.fps, F(ZMAP));
    c.win = 65534;
    p = run(&c);
    assert_int_equal(p.fps, 0);
}

static void test_masscan_exempt_from_ttl_rule(void **st)
{
    (void)st;
    struct ds_craft c = syn("203.0.114.5", "198.51.100.9", 8080);
    c.ttl = 250;
    c.win = 1024;
    c.tcp_opts_len = 0;
    c.seq = 0xdeadbeef;
    c.ip_id = (uint16_t)((0xC6336409u ^ 8080u ^ 0xdeadbeefu) & 0xffff);
    struct ds_pkt p = run(&c);
    assert_int_equal(p.classes, C(TCP_SYN));
    assert_int_equal(p.fps, F(MASSCAN));
    c.ip_id ^= 1;
    p = run(&c);
    assert_int_equal(p.fps, 0);
}

static void test_nmap(void **st)
{
    (void)st;
    struct ds_craft c = syn("203.0.114.5", "198.51.100.9", 3389);
    c.win = 1024;
    c.tcp_opts = ds_opts_mss1460;
    c.tcp_opts_len = 4;
    c.ttl = 44;
    struct ds_pkt p = run(&c);
    assert_int_equal(p.fps, F(NMAP));
    c.ttl = 7; /* 37 at the source minus 30 hops */
    assert_int_equal(run(&c).fps, F(NMAP));
    c.ttl = 6;
    assert_int_equal(run(&c).fps, 0);
    c.ttl = 60;
    assert_int_equal(run(&c).fps, 0);
    c.ttl = 44;
    c.tcp_opts = ds_opts_linux;
    c.tcp_opts_len = sizeof ds_opts_linux;
    assert_int_equal(run(&c).fps, 0);
}

static void test_unicornscan_state(void **st)
{
    (void)st;
    struct ds_shard sh;
    static const struct ds_shard_config cfg = {.hscan_dsts = 25, .vscan_ports = 15};
    assert_int_equal(ds_shard_init(&sh, 0, &cfg, NULL, NULL), 0);
    const uint32_t K = 0x5a5a1234;
    uint32_t dsts[4] = {0xC6336401, 0xC6336402, 0xC6336402, 0xC6336403};
    uint16_t dports[4] = {80, 81, 81, 82};
    for (int i = 0; i < 4; i++) {
        struct ds_craft c = syn("203.0.114.5", "198.51.100.1", dports[i]);
        ds_addr_set_v4(&c.dst, dsts[i]);
        c.sport = 5555;
        c.seq = K ^ dsts[i] ^ (((uint32_t)dports[i] << 16) + 5555u);
        struct ds_pkt p = run(&c);
        ds_shard_ingest(&sh, &p, ds_hosttab_hash(&p.src));
        /* packet 0 sets the key, packet 1 confirms (counting both), packet 2 is a
         * retransmission of packet 1, packet 3 continues the session */
        static const uint64_t expect[4] = {0, 2, 2, 3};
        assert_int_equal(sh.sum->fps[DS_FP_UNICORNSCAN], expect[i]);
        assert_int_equal(!!(p.fps & F(UNICORNSCAN)), i == 1 || i == 3);
    }
    assert_int_equal(sh.sum->sources, 1);
    assert_int_equal(sh.sum->ports[0][81].packets, 2);
    assert_int_equal(sh.sum->ports[0][81].sources, 1);
    ds_shard_free(&sh);
}

static void test_backscatter(void **st)
{
    (void)st;
    struct ds_craft c = syn("192.0.2.80", "198.51.100.9", 5555);
    c.tcp_flags = DS_TCP_SYN | DS_TCP_ACK;
    c.sport = 80;
    struct ds_pkt p = run(&c);
    /* 192.0.2.0/24 is TEST-NET-1: non-routable by RFC 5735 */
    assert_int_equal(p.classes, C(BACKSCATTER) | C(NONROUTABLE_SRC));
    c.src = A("93.184.216.34");
    c.tcp_flags = DS_TCP_RST;
    assert_int_equal(run(&c).classes, C(BACKSCATTER));
    c.tcp_flags = DS_TCP_RST | DS_TCP_ACK;
    assert_int_equal(run(&c).classes, C(BACKSCATTER));
    /* ICMP types: 0 and 11 are backscatter, 8 is a request, 9 neither */
    struct ds_craft i = {.link = DS_CRAFT_RAW,
                         .src = A("93.184.216.34"),
                         .dst = A("198.51.100.9"),
                         .ttl = 60,
                         .proto = 1,
                         .icmp_type = 0};
    assert_int_equal(run(&i).classes, C(BACKSCATTER));
    i.icmp_type = 11;
    assert_int_equal(run(&i).classes, C(BACKSCATTER));
    i.icmp_type = 8;
    assert_int_equal(run(&i).classes, C(ICMP_REQUEST));
    i.icmp_type = 9;
    assert_int_equal(run(&i).classes, 0);
    /* ICMPv6 echo request and reply */
    struct ds_craft i6 = {.link = DS_CRAFT_RAW,
                          .src = A("2a01:4f8::1"),
                          .dst = A("2001:db8::1"),
                          .ttl = 60,
                          .proto = 58,
                          .icmp_type = 128};
    assert_int_equal(run(&i6).classes, C(ICMP_REQUEST));
    i6.icmp_type = 129;
    assert_int_equal(run(&i6).classes, C(BACKSCATTER));
}

static void test_icmp_victim_from_quote(void **st)
{
    (void)st;
    uint8_t inner[64];
    struct ds_craft q = {.link = DS_CRAFT_RAW,
                         .src = A("198.51.100.77"),
                         .dst = A("93.184.216.34"),
                         .ttl = 50,
                         .proto = 17,
                         .sport = 3333,
                         .dport = 53};
    ds_craft_packet(inner, sizeof inner, &q);
    struct ds_craft c = {.link = DS_CRAFT_RAW,
                         .src = A("93.184.216.1"),
                         .dst = A("198.51.100.77"),
                         .ttl = 60,
                         .proto = 1,
                         .icmp_type = 3,
                         .icmp_code = 3,
                         .payload = inner,
                         .payload_len = 28};
    struct ds_pkt p = run(&c);
    assert_int_equal(p.classes, C(BACKSCATTER));
    assert_int_equal(ds_addr_v4(ds_backscatter_victim(&p)), 0x5DB8D822);
    struct ds_craft s = syn("93.184.216.34", "198.51.100.9", 1);
    s.tcp_flags = DS_TCP_RST;
    p = run(&s);
    assert_int_equal(ds_addr_v4(ds_backscatter_victim(&p)), 0x5DB8D822);
}

static void test_spoofed_hints(void **st)
{
    (void)st;
    struct ds_craft c = syn("203.0.114.0", "198.51.100.9", 22); /* last octet 0 */
    assert_int_equal(run(&c).classes, C(TCP_SYN) | C(SPOOFED_HINT));
    c.src = A("203.0.114.255");
    assert_int_equal(run(&c).classes, C(TCP_SYN) | C(SPOOFED_HINT));
    c.src = A("198.51.100.9"); /* src == dst, and TEST-NET-2 */
    assert_int_equal(run(&c).classes, C(TCP_SYN) | C(SPOOFED_HINT) | C(NONROUTABLE_SRC));
    c = syn("203.0.114.5", "198.51.100.9", 0); /* port 0 */
    assert_int_equal(run(&c).classes, C(TCP_SYN) | C(SPOOFED_HINT));
    c = syn("203.0.114.5", "198.51.100.9", 22);
    c.tcp_flags = DS_TCP_SYN | DS_TCP_FIN;
    assert_int_equal(run(&c).classes, C(TCP_SYN) | C(SPOOFED_HINT));
    c.tcp_flags = 0; /* null scan */
    assert_int_equal(run(&c).classes, C(SPOOFED_HINT));
    c.tcp_flags = DS_TCP_FIN;
    assert_int_equal(run(&c).classes, C(SPOOFED_HINT));
    struct ds_craft u = {.link = DS_CRAFT_RAW,
                         .src = A("203.0.114.5"),
                         .dst = A("198.51.100.9"),
                         .ttl = 60,
                         .proto = 17,
                         .sport = 999,
                         .dport = 80};
    assert_int_equal(run(&u).classes, C(UDP) | C(SPOOFED_HINT));
    u.dport = 81;
    assert_int_equal(run(&u).classes, C(UDP));
    u.mf = true;
    assert_int_equal(run(&u).classes, C(UDP) | C(FRAGMENT) | C(SPOOFED_HINT));
    struct ds_craft g = {.link = DS_CRAFT_RAW,
                         .src = A("203.0.114.5"),
                         .dst = A("198.51.100.9"),
                         .ttl = 60,
                         .proto = 47};
    assert_int_equal(run(&g).classes, C(SPOOFED_HINT));
}

static void test_nonroutable(void **st)
{
    (void)st;
    const char *yes[] = {"0.1.2.3",      "10.0.0.1",        "127.0.0.1",    "169.254.1.1",
                         "172.31.255.1", "192.0.0.5",       "192.0.2.1",    "192.88.99.1",
                         "192.168.1.1",  "198.19.0.1",      "198.51.100.1", "203.0.113.1",
                         "224.0.0.1",    "255.255.255.254", "fe80::1",      "fd00::1",
                         "::1",          "ff02::1",         "2001:db8::1"};
    const char *no[] = {"1.1.1.1",       "172.32.0.1",  "198.20.0.1",  "203.0.114.1",
                        "223.255.255.1", "2a01:4f8::1", "2001:4860::1"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        struct ds_addr a = A(yes[i]);
        assert_true(ds_addr_nonroutable(&a));
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        struct ds_addr a = A(no[i]);
        assert_false(ds_addr_nonroutable(&a));
    }
}

static struct ds_pkt udp_to(uint16_t port, const void *payload, size_t len)
{
    struct ds_craft u = {.link = DS_CRAFT_ETHERNET,
                         .src = A("203.0.114.5"),
                         .dst = A("198.51.100.9"),
                         .ttl = 60,
                         .proto = 17,
                         .sport = 40000,
                         .dport = port,
                         .payload = payload,
                         .payload_len = len};
    return run(&u);
}

static void test_amp_requests(void **st)
{
    (void)st;
    /* DNS query for "isc.org" ANY with EDNS-less header */
    static const uint8_t dns_any[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0,   0, 0, 0,   0, 0, 3,
                                      'i',  's',  'c',  3,    'o', 'r', 'g', 0, 0, 255, 0, 1};
    struct ds_pkt p = udp_to(53, dns_any, sizeof dns_any);
    assert_int_equal(p.classes, C(UDP) | C(AMP_PROBE));
    assert_int_equal(p.payload_class, DS_PAYLOAD_DNS_ANY);
    uint8_t dns_a[sizeof dns_any];
    memcpy(dns_a, dns_any, sizeof dns_a);
    dns_a[sizeof dns_a - 3] = 1; /* QTYPE A */
    p = udp_to(53, dns_a, sizeof dns_a);
    assert_int_equal(p.classes, C(UDP));
    assert_int_equal(p.payload_class, DS_PAYLOAD_OTHER);
    /* same ANY query to another port is not an amp probe */
    assert_int_equal(udp_to(54, dns_any, sizeof dns_any).classes, C(UDP));

    static const uint8_t monlist[8] = {0x17, 0x00, 0x03, 0x2a, 0, 0, 0, 0};
    p = udp_to(123, monlist, sizeof monlist);
    assert_int_equal(p.payload_class, DS_PAYLOAD_NTP_MONLIST);
    static const uint8_t ntp_client[48] = {0x23};
    assert_int_equal(udp_to(123, ntp_client, sizeof ntp_client).classes, C(UDP));

    const char *ms = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "
                     "\"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n";
    assert_int_equal(udp_to(1900, ms, strlen(ms)).payload_class, DS_PAYLOAD_SSDP_MSEARCH);
    static const uint8_t mc[] = {0, 0, 0, 0, 0, 1, 0, 0, 's', 't', 'a', 't', 's', '\r', '\n'};
    assert_int_equal(udp_to(11211, mc, sizeof mc).payload_class, DS_PAYLOAD_MEMCACHED);
    /* CLDAP: SEQUENCE { INTEGER 1, [APPLICATION 3] {...} } (rootDSE search) */
    static const uint8_t cldap[] = {0x30, 0x25, 0x02, 0x01, 0x01, 0x63, 0x20, 0x04, 0x00, 0x0a,
                                    0x01, 0x00, 0x0a, 0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01,
                                    0x00, 0x01, 0x01, 0x00, 0x87, 0x0b, 'o',  'b',  'j',  'e',
                                    'c',  't',  'c',  'l',  'a',  's',  's',  0x30, 0x00};
    assert_int_equal(udp_to(389, cldap, sizeof cldap).payload_class, DS_PAYLOAD_CLDAP_SEARCH);
    /* SNMPv2c GetBulk with community "public" */
    static const uint8_t snmp[] = {0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, 'p',  'u',  'b',
                                   'l',  'i',  'c',  0xa5, 0x19, 0x02, 0x04, 0,    0,    0,
                                   1,    0x02, 0x01, 0x00, 0x02, 0x01, 0x0a, 0x30, 0x0b, 0x30,
                                   0x09, 0x06, 0x05, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x05, 0x00};
    assert_int_equal(udp_to(161, snmp, sizeof snmp).payload_class, DS_PAYLOAD_SNMP_GETBULK);
    uint8_t snmp_get[sizeof snmp];
    memcpy(snmp_get, snmp, sizeof snmp);
    snmp_get[13] = 0xa0; /* GetRequest */
    assert_int_equal(udp_to(161, snmp_get, sizeof snmp_get).classes, C(UDP));
    assert_int_equal(udp_to(19, "x", 1).payload_class, DS_PAYLOAD_CHARGEN);
    assert_int_equal(udp_to(17, "", 0).payload_class, DS_PAYLOAD_QOTD);
    const char *a2s = "\xff\xff\xff\xffTSource Engine Query";
    assert_int_equal(udp_to(27015, a2s, strlen(a2s) + 1).payload_class, DS_PAYLOAD_STEAM_QUERY);
}

static void test_amp_registry_consistent(void **st)
{
    (void)st;
    size_t n = 0;
    for (const struct ds_amp_proto *const *a = ds_amp_protos; *a; a++, n++) {
        assert_ptr_equal(ds_amp_by_port((*a)->port), *a);
        assert_non_null(ds_payload_class_names[(*a)->request]);
    }
    assert_int_equal(n, 15);
    assert_null(ds_amp_by_port(80));
    for (int i = 0; i < DS_FP_COUNT; i++)
        assert_int_equal(ds_fingerprints[i]->id, i);
    for (int i = 0; i < DS_CLASS_COUNT; i++)
        assert_int_equal(ds_class_table[i].id, i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_syn),
        cmocka_unit_test(test_mirai),
        cmocka_unit_test(test_zmap_and_spoofed_ttl),
        cmocka_unit_test(test_masscan_exempt_from_ttl_rule),
        cmocka_unit_test(test_nmap),
        cmocka_unit_test(test_unicornscan_state),
        cmocka_unit_test(test_backscatter),
        cmocka_unit_test(test_icmp_victim_from_quote),
        cmocka_unit_test(test_spoofed_hints),
        cmocka_unit_test(test_nonroutable),
        cmocka_unit_test(test_amp_requests),
        cmocka_unit_test(test_amp_registry_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
