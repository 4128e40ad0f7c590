/* amp.c - UDP amplification protocols: ports and recognisers of their amplifying requests.
 * Each recogniser checks the request a reflector hunter sends (see DOMAIN.md section 3). */
#include "classify/amp.h"

#include <string.h>

const char *const ds_payload_class_names[DS_PAYLOAD_COUNT] = {
    [DS_PAYLOAD_NONE] = "none",
    [DS_PAYLOAD_OTHER] = "other",
    [DS_PAYLOAD_DNS_ANY] = "dns_any",
    [DS_PAYLOAD_NTP_MONLIST] = "ntp_monlist",
    [DS_PAYLOAD_NTP_VERSION] = "ntp_version",
    [DS_PAYLOAD_SSDP_MSEARCH] = "ssdp_msearch",
    [DS_PAYLOAD_MEMCACHED] = "memcached_stats_get",
    [DS_PAYLOAD_CLDAP_SEARCH] = "cldap_search",
    [DS_PAYLOAD_CHARGEN] = "chargen",
    [DS_PAYLOAD_QOTD] = "qotd",
    [DS_PAYLOAD_SNMP_GETBULK] = "snmp_getbulk",
    [DS_PAYLOAD_NETBIOS_NBSTAT] = "netbios_nbstat",
    [DS_PAYLOAD_PORTMAP_DUMP] = "portmap_call",
    [DS_PAYLOAD_TFTP_RRQ] = "tftp_rrq",
    [DS_PAYLOAD_MDNS_QUERY] = "mdns_query",
    [DS_PAYLOAD_RIP_REQUEST] = "rip_request",
    [DS_PAYLOAD_QUAKE_GETSTATUS] = "quake_getstatus",
    [DS_PAYLOAD_STEAM_QUERY] = "steam_a2s_info",
};

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

/* A DNS query header plus a first question; returns the offset just after QNAME (the QTYPE
 * position) or 0 when it is not a well-formed query. */
static size_t dns_question(const uint8_t *p, size_t len)
{
    if (len < 12 + 1 + 4)
        return 0;
    if (p[2] & 0x80) /* QR: a response */
        return 0;
    if ((p[2] >> 3) & 0x0f) /* opcode must be QUERY */
        return 0;
    if (rd16(p + 4) == 0) /* QDCOUNT */
        return 0;
    size_t off = 12, namelen = 0;
    for (;;) {
        if (off >= len)
            return 0;
        uint8_t l = p[off];
        if (l == 0) {
            off++;
            break;
        }
        if (l > 63 || (namelen += l + 1u) > 255)
            return 0;
        off += 1u + l;
    }
    return off + 4 <= len ? off : 0;
}

static bool dns_any(const uint8_t *p, size_t len)
{
    size_t q = dns_question(p, len);
    return q && rd16(p + q) == 255;
}

static bool mdns_query(const uint8_t *p, size_t len)
{
    return dns_question(p, len) != 0;
}

/* NTP mode 7 (private) request 42 MON_GETLIST_1 or 20 MON_GETLIST: "monlist". */
static bool ntp_monlist(const uint8_t *p, size_t len)
{
    if (len < 4)
        return false;
    bool response = p[0] & 0x80;
    return !response && (p[0] & 0x07) == 7 && (p[3] == 42 || p[3] == 20);
}

static bool prefix(const uint8_t *p, size_t len, const char *s)
{
    size_t n = strlen(s);
    return len >= n && memcmp(p, s, n) == 0;
}

static bool ssdp_msearch(const uint8_t *p, size_t len)
{
    return prefix(p, len, "M-SEARCH ");
}

/* memcached over UDP: an 8-byte frame header, then the ASCII command. Scanners also send the
 * bare command; both are accepted. */
static bool memcached_cmd(const uint8_t *p, size_t len)
{
    return prefix(p, len, "stats") || prefix(p, len, "get ") || prefix(p, len, "gets ");
}
static bool memcached(const uint8_t *p, size_t len)
{
    return memcached_cmd(p, len) || (len > 8 && memcached_cmd(p + 8, len - 8));
}

/* BER length at p[*off]; advances *off; returns false on bad or oversized lengths. */
static bool ber_len(const uint8_t *p, size_t len, size_t *off, size_t *out)
{
    if (*off >= len)
        return false;
    uint8_t b = p[(*off)++];
    if (b < 0x80) {
        *out = b;
        return true;
    }
    unsigned n = b & 0x7f;
    if (n == 0 || n > 4 || *off + n > len)
        return false;
    size_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[(*off)++];
    *out = v;
    return true;
}

/* Skips one BER TLV with the given tag; false if the tag differs or it overruns. */
static bool ber_skip(const uint8_t *p, size_t len, size_t *off, uint8_t tag)
{
    size_t l;
    if (*off >= len || p[*off] != tag)
        return false;
    (*off)++;
    if (!ber_len(p, len, off, &l) || l > len - *off)
        return false;
    *off += l;
    return true;
}

/* CLDAP: LDAPMessage SEQUENCE { messageID INTEGER, searchRequest [APPLICATION 3] } */
static bool cldap_search(const uint8_t *p, size_t len)
{
    size_t off = 0, l;
    if (len < 2 || p[off++] != 0x30 || !ber_len(p, len, &off, &l))
        return false;
    if (!ber_skip(p, len, &off, 0x02))
        return false;
    return off < len && p[off] == 0x63;
}

/* SNMP: SEQUENCE { version INTEGER, community OCTET STRING, GetBulkRequest-PDU [5] } */
static bool snmp_getbulk(const uint8_t *p, size_t len)
{
    size_t off = 0, l;
    if (len < 2 || p[off++] != 0x30 || !ber_len(p, len, &off, &l))
        return false;
    if (!ber_skip(p, len, &off, 0x02) || !ber_skip(p, len, &off, 0x04))
        return false;
    return off < len && p[off] == 0xa5;
}

/* CharGEN and QOTD answer any datagram: every datagram to the port is the request. */
static bool any_datagram(const uint8_t *p, size_t len)
{
    (void)p;
    (void)len;
    return true;
}

/* NetBIOS name service NBSTAT query (the "*" wildcard node status request). */
static bool netbios_nbstat(const uint8_t *p, size_t len)
{
    if (len < 12 + 34 + 4 || (p[2] & 0x80) || rd16(p + 4) == 0)
        return false;
    if (p[12] != 32) /* encoded NetBIOS names are 32 bytes */
        return false;
    size_t off = 12 + 1 + 32;
    if (p[off] != 0)
        return false;
    return rd16(p + off + 1) == 0x0021;
}

/* ONC RPC call to the portmapper (program 100000), e.g. DUMP. */
static bool portmap_call(const uint8_t *p, size_t len)
{
    if (len < 24)
        return false;
    uint32_t mtype = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
    uint32_t prog = (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 | (uint32_t)p[14] << 8 | p[15];
    return mtype == 0 && prog == 100000;
}

/* TFTP read request: opcode 1. */
static bool tftp_rrq(const uint8_t *p, size_t len)
{
    return len >= 4 && p[0] == 0 && p[1] == 1;
}

/* RIPv1 request: command 1, version 1. */
static bool rip_request(const uint8_t *p, size_t len)
{
    return len >= 4 && p[0] == 1 && p[1] == 1;
}

static bool quake_getstatus(const uint8_t *p, size_t len)
{
    return prefix(p, len, "\xff\xff\xff\xffgetstatus");
}

static bool steam_a2s_info(const uint8_t *p, size_t len)
{
    return prefix(p, len, "\xff\xff\xff\xffTSource Engine Query");
}

#define AMP(var, nm, prt, cls, fac, fn)                                                            \
    static const struct ds_amp_proto var = {                                                       \
        .name = nm, .port = prt, .request = cls, .factor = fac, .is_request = fn}

AMP(amp_dns, "dns", 53, DS_PAYLOAD_DNS_ANY, "28-54", dns_any);
AMP(amp_ntp, "ntp", 123, DS_PAYLOAD_NTP_MONLIST, "556.9", ntp_monlist);
AMP(amp_snmp, "snmp", 161, DS_PAYLOAD_SNMP_GETBULK, "6.3", snmp_getbulk);
AMP(amp_ssdp, "ssdp", 1900, DS_PAYLOAD_SSDP_MSEARCH, "30.8", ssdp_msearch);
AMP(amp_chargen, "chargen", 19, DS_PAYLOAD_CHARGEN, "358.8", any_datagram);
AMP(amp_qotd, "qotd", 17, DS_PAYLOAD_QOTD, "140.3", any_datagram);
AMP(amp_cldap, "cldap", 389, DS_PAYLOAD_CLDAP_SEARCH, "56-70", cldap_search);
AMP(amp_memcached, "memcached", 11211, DS_PAYLOAD_MEMCACHED, "10000-51000", memcached);
AMP(amp_netbios, "netbios", 137, DS_PAYLOAD_NETBIOS_NBSTAT, "3.8", netbios_nbstat);
AMP(amp_tftp, "tftp", 69, DS_PAYLOAD_TFTP_RRQ, "60", tftp_rrq);
AMP(amp_portmap, "portmap", 111, DS_PAYLOAD_PORTMAP_DUMP, "7-28", portmap_call);
AMP(amp_mdns, "mdns", 5353, DS_PAYLOAD_MDNS_QUERY, "2-10", mdns_query);
AMP(amp_rip, "ripv1", 520, DS_PAYLOAD_RIP_REQUEST, "131", rip_request);
AMP(amp_quake, "quake", 27960, DS_PAYLOAD_QUAKE_GETSTATUS, "63.9", quake_getstatus);
AMP(amp_steam, "steam", 27015, DS_PAYLOAD_STEAM_QUERY, "5.5", steam_a2s_info);

const struct ds_amp_proto *const ds_amp_protos[] = {
    &amp_dns,   &amp_ntp,       &amp_snmp,    &amp_ssdp, &amp_chargen, &amp_qotd,
    &amp_cldap, &amp_memcached, &amp_netbios, &amp_tftp, &amp_portmap, &amp_mdns,
    &amp_rip,   &amp_quake,     &amp_steam,   NULL,
};

const struct ds_amp_proto *ds_amp_by_port(uint16_t port)
{
    switch (port) {
    case 53:
        return &amp_dns;
    case 123:
        return &amp_ntp;
    case 161:
        return &amp_snmp;
    case 1900:
        return &amp_ssdp;
    case 19:
        return &amp_chargen;
    case 17:
        return &amp_qotd;
    case 389:
        return &amp_cldap;
    case 11211:
        return &amp_memcached;
    case 137:
        return &amp_netbios;
    case 69:
        return &amp_tftp;
    case 111:
        return &amp_portmap;
    case 5353:
        return &amp_mdns;
    case 520:
        return &amp_rip;
    case 27960:
        return &amp_quake;
    case 27015:
        return &amp_steam;
    default:
        return NULL;
    }
}
