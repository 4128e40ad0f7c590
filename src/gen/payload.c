/* payload.c - real UDP request payloads for reflector hunting and ordinary UDP probes.
 * Each amplifying request is the one the protocol's documentation (or US-CERT TA14-017A)
 * names; the bytes were built here field by field, see the comments. */
#include "gen/payload.h"

#include <string.h>

/* DNS query for isc.org, QTYPE ANY (255), RD set, with an EDNS0 OPT record (4096 bytes). */
static const uint8_t dns_any_isc[] = {
    0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* header */
    3,    'i',  's',  'c',  3,    'o',  'r',  'g',  0,    0x00, 0xff, 0x00,
    0x01,                                                             /* isc.org ANY IN */
    0x00, 0x00, 0x29, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* OPT */
};
/* DNS ANY for the root zone "." (a common amplification probe). */
static const uint8_t dns_any_root[] = {
    0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0,    0x00,
    0xff, 0x00, 0x01, 0x00, 0x00, 0x29, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* NTP mode 7 (private), implementation 3 (XNTPD), request 42 MON_GETLIST_1 ("monlist"),
 * padded with zeros to 48 bytes as ntpdc does. */
static const uint8_t ntp_monlist[48] = {0x17, 0x00, 0x03, 0x2a};
/* SSDP discovery of every service. */
static const char ssdp_msearch[] = "M-SEARCH * HTTP/1.1\r\n"
                                   "HOST: 239.255.255.250:1900\r\n"
                                   "MAN: \"ssdp:discover\"\r\n"
                                   "MX: 1\r\n"
                                   "ST: ssdp:all\r\n\r\n";
/* memcached UDP frame header (request id, sequence 0, 1 datagram, reserved) + "stats". */
static const uint8_t memcached_stats[] = {0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
                                          's',  't',  'a',  't',  's',  '\r', '\n'};
/* CLDAP: LDAPMessage { messageID 1, searchRequest { baseObject "", scope base, never deref,
 * no limits, typesOnly false, filter (objectClass=*), no attributes } }. */
static const uint8_t cldap_search[] = {
    0x30, 0x25, 0x02, 0x01, 0x01, 0x63, 0x20, 0x04, 0x00, 0x0a, 0x01, 0x00, 0x0a,
    0x01, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x01, 0x01, 0x00, 0x87, 0x0b,
    'o',  'b',  'j',  'e',  'c',  't',  'c',  'l',  'a',  's',  's',  0x30, 0x00,
};
/* SNMPv2c community "public", GetBulkRequest { request-id, non-repeaters 0,
 * max-repetitions 10, varbinds { 1.3.6.1.2.1 = NULL } }. */
static const uint8_t snmp_getbulk[] = {
    0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, 'p',  'u',  'b',  'l',  'i',  'c',  0xa5,
    0x19, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, 0x02, 0x01, 0x0a, 0x30,
    0x0b, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x05, 0x00,
};
/* CharGEN and QOTD answer any datagram; scanners send one byte. */
static const uint8_t one_byte[] = {0x01};
static const uint8_t newline[] = {'\n'};
/* NetBIOS name service node status (NBSTAT) query for "*", the nbtstat -A request. */
static const uint8_t netbios_nbstat[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
    'C',  'K',  'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',
    'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',  'A',
    'A',  'A',  'A',  'A',  'A',  'A',  0x00, 0x00, 0x21, 0x00, 0x01,
};
/* ONC RPC call: xid, CALL, RPC v2, program 100000 (portmapper) v2, procedure 4 (DUMP),
 * AUTH_NULL credentials and verifier. */
static const uint8_t portmap_dump[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01,
    0x86, 0xa0, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
/* TFTP read request (opcode 1) for a file, mode octet. */
static const uint8_t tftp_rrq[] = {0x00, 0x01, 'c',  'o', 'n', 'f', 'i', 'g', '.', 't',
                                   'x',  't',  0x00, 'o', 'c', 't', 'e', 't', 0x00};
/* mDNS query for _services._dns-sd._udp.local PTR (service enumeration). */
static const uint8_t mdns_services[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 9,    '_',  's', 'e',
    'r',  'v',  'i',  'c',  'e',  's',  7,    '_',  'd',  'n',  's',  '-',  's',  'd',  4,   '_',
    'u',  'd',  'p',  5,    'l',  'o',  'c',  'a',  'l',  0,    0x00, 0x0c, 0x00, 0x01,
};
/* RIPv1 request for the whole table: command 1, version 1, one entry AFI 0 metric 16. */
static const uint8_t rip_request[24] = {0x01, 0x01, 0x00, 0x00, [20] = 0x00, 0x00, 0x00, 0x10};
static const char quake_getstatus[] = "\xff\xff\xff\xffgetstatus\n";
/* Steam A2S_INFO, NUL-terminated as the Source engine sends it. */
static const char steam_a2s[] = "\xff\xff\xff\xffTSource Engine Query";

/* Not amplification requests: */
/* DNS query for example.com type A (an ordinary lookup). */
static const uint8_t dns_a[] = {
    0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 7,    'e',  'x',
    'a',  'm',  'p',  'l',  'e',  3,    'c',  'o',  'm',  0,    0x00, 0x01, 0x00, 0x01,
};
/* NTPv4 client request (mode 3), 48 bytes: a time query, not monlist. */
static const uint8_t ntp_client[48] = {0xe3, 0x00, 0x06, 0xec};
/* SIP OPTIONS probe (sipvicious-style). */
static const char sip_options[] = "OPTIONS sip:100@198.51.100.1 SIP/2.0\r\n"
                                  "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1\r\n"
                                  "Max-Forwards: 70\r\nTo: <sip:100@198.51.100.1>\r\n"
                                  "From: <sip:100@198.51.100.1>;tag=1\r\nCall-ID: 1\r\n"
                                  "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
/* SQL Server browser ping (CLNT_BCAST_EX). */
static const uint8_t mssql_ping[] = {0x02};
/* IKE main-mode-like initiator cookie header (first 28 bytes of an ISAKMP packet). */
static const uint8_t ike_hdr[28] = {0x11, 0x22,        0x33, 0x44, 0x55, 0x66,       0x77,
                                    0x88, [16] = 0x01, 0x10, 0x02, 0x00, [27] = 0x1c};

#define P(b) .bytes = (const uint8_t *)(b), .len = sizeof(b)
#define S(b) .bytes = (const uint8_t *)(b), .len = sizeof(b) - 1

const struct ds_gen_udp_probe ds_gen_amp_probes[] = {
    {.name = "dns-any",
     .proto = "dns",
     .port = 53,
     .amp = true,
     .weight = 6,
     P(dns_any_isc),
     .rand_off = 0,
     .rand_len = 2},
    {.name = "dns-any-root",
     .proto = "dns",
     .port = 53,
     .amp = true,
     .weight = 3,
     P(dns_any_root),
     .rand_off = 0,
     .rand_len = 2},
    {.name = "ntp-monlist", .proto = "ntp", .port = 123, .amp = true, .weight = 5, P(ntp_monlist)},
    {.name = "ssdp-msearch",
     .proto = "ssdp",
     .port = 1900,
     .amp = true,
     .weight = 4,
     S(ssdp_msearch)},
    {.name = "memcached-stats",
     .proto = "memcached",
     .port = 11211,
     .amp = true,
     .weight = 3,
     P(memcached_stats)},
    {.name = "cldap-search",
     .proto = "cldap",
     .port = 389,
     .amp = true,
     .weight = 3,
     P(cldap_search)},
    {.name = "snmp-getbulk",
     .proto = "snmp",
     .port = 161,
     .amp = true,
     .weight = 3,
     P(snmp_getbulk),
     .rand_off = 17,
     .rand_len = 4},
    {.name = "chargen", .proto = "chargen", .port = 19, .amp = true, .weight = 2, P(one_byte)},
    {.name = "qotd", .proto = "qotd", .port = 17, .amp = true, .weight = 1, P(newline)},
    {.name = "netbios-nbstat",
     .proto = "netbios",
     .port = 137,
     .amp = true,
     .weight = 2,
     P(netbios_nbstat),
     .rand_off = 0,
     .rand_len = 2},
    {.name = "portmap-dump",
     .proto = "portmap",
     .port = 111,
     .amp = true,
     .weight = 2,
     P(portmap_dump),
     .rand_off = 0,
     .rand_len = 4},
    {.name = "tftp-rrq", .proto = "tftp", .port = 69, .amp = true, .weight = 1, P(tftp_rrq)},
    {.name = "mdns-services",
     .proto = "mdns",
     .port = 5353,
     .amp = true,
     .weight = 1,
     P(mdns_services)},
    {.name = "rip-request",
     .proto = "ripv1",
     .port = 520,
     .amp = true,
     .weight = 1,
     P(rip_request)},
    {.name = "quake-getstatus",
     .proto = "quake",
     .port = 27960,
     .amp = true,
     .weight = 1,
     S(quake_getstatus)},
    {.name = "steam-a2s-info",
     .proto = "steam",
     .port = 27015,
     .amp = true,
     .weight = 1,
     P(steam_a2s)},
    {.name = NULL},
};

const struct ds_gen_udp_probe ds_gen_plain_probes[] = {
    {.name = "dns-a",
     .proto = "dns",
     .port = 53,
     .weight = 3,
     P(dns_a),
     .rand_off = 0,
     .rand_len = 2},
    {.name = "ntp-client", .proto = "ntp", .port = 123, .weight = 2, P(ntp_client)},
    {.name = "sip-options", .proto = "sip", .port = 5060, .weight = 4, S(sip_options)},
    {.name = "mssql-ping", .proto = "mssql", .port = 1434, .weight = 2, P(mssql_ping)},
    {.name = "ike", .proto = "ike", .port = 500, .weight = 1, P(ike_hdr)},
    {.name = NULL},
};

size_t ds_gen_probe_count(const struct ds_gen_udp_probe *table)
{
    size_t n = 0;
    while (table[n].name)
        n++;
    return n;
}

size_t ds_gen_probe_fill(const struct ds_gen_udp_probe *p, struct ds_rng *r, uint8_t *buf,
                         size_t cap)
{
    if (p->len > cap)
        return 0;
    memcpy(buf, p->bytes, p->len);
    for (unsigned i = 0; i < p->rand_len && p->rand_off + i < p->len; i++)
        buf[p->rand_off + i] = (uint8_t)ds_rng_u32(r);
    return p->len;
}
