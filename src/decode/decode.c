/* decode.c - link layer, IPv4/IPv6, TCP/UDP/ICMP decoding of one frame into a ds_pkt. */
#include "decode/decode.h"

#include <string.h>

/* The hot path (Ethernet or raw IP, IPv4, TCP/UDP) is inlined into ds_decode. */
#define HOT static inline __attribute__((always_inline))

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint32_t rd32le(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

enum { ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd };

bool ds_decode_link_supported(uint32_t linktype)
{
    switch (linktype) {
    case DS_LINK_NULL:
    case DS_LINK_ETHERNET:
    case DS_LINK_RAW_DLT12:
    case DS_LINK_RAW_DLT14:
    case DS_LINK_RAW:
    case DS_LINK_LOOP:
    case DS_LINK_LINUX_SLL:
    case DS_LINK_IPV4:
    case DS_LINK_IPV6:
    case DS_LINK_LINUX_SLL2:
        return true;
    default:
        return false;
    }
}

/* Parses TCP options in [p, p+n) (n already clipped to caplen); `full` says whether the whole
 * option area was captured. */
HOT void tcp_options(const uint8_t *p, uint32_t n, bool full, struct ds_pkt *out)
{
    uint32_t i = 0;
    while (i < n) {
        uint8_t kind = p[i];
        if (out->tcp_nopts < DS_TCP_OPT_LAYOUT_MAX)
            out->tcp_layout[out->tcp_nopts] = kind;
        if (out->tcp_nopts < 255)
            out->tcp_nopts++;
        if (kind == 0) /* end of option list */
            return;
        if (kind == 1) { /* NOP */
            i++;
            continue;
        }
        if (i + 1 >= n) {
            out->flags |= full ? DS_PKT_TCP_OPT_BAD : DS_PKT_OPTS_CUT;
            return;
        }
        uint8_t len = p[i + 1];
        if (len < 2) {
            out->flags |= DS_PKT_TCP_OPT_BAD;
            return;
        }
        if (i + len > n) {
            out->flags |= full ? DS_PKT_TCP_OPT_BAD : DS_PKT_OPTS_CUT;
            return;
        }
        if (kind == 2 && len == 4)
            out->tcp_mss = rd16(p + i + 2);
        else if (kind == 3 && len == 3)
            out->tcp_wscale = p[i + 2];
        i += len;
    }
    if (!full)
        out->flags |= DS_PKT_OPTS_CUT;
}

/* Decodes the inner header quoted by an ICMP/ICMPv6 error; leaves DS_PKT_QUOTE clear when
 * the quote is too short to give addresses. */
static void __attribute__((noinline)) icmp_quote(const uint8_t *p, uint32_t n, struct ds_pkt *out)
{
    if (n < 1)
        return;
    unsigned ver = p[0] >> 4;
    uint32_t hl;
    uint8_t proto;
    if (ver == 4) {
        hl = (uint32_t)(p[0] & 0x0f) * 4;
        if (n < 20 || hl < 20)
            return;
        proto = p[9];
        ds_addr_set_v4(&out->quote.src, rd32(p + 12));
        ds_addr_set_v4(&out->quote.dst, rd32(p + 16));
    } else if (ver == 6) {
        hl = 40;
        if (n < 40)
            return;
        proto = p[6];
        ds_addr_set_v6(&out->quote.src, p + 8);
        ds_addr_set_v6(&out->quote.dst, p + 24);
    } else {
        return;
    }
    out->quote.proto = proto;
    out->quote.sport = out->quote.dport = 0;
    if ((proto == 6 || proto == 17) && n >= hl + 4) {
        out->quote.sport = rd16(p + hl);
        out->quote.dport = rd16(p + hl + 2);
    }
    out->flags |= DS_PKT_QUOTE;
}

static bool icmp4_is_error(uint8_t type)
{
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

static bool icmp6_is_error(uint8_t type)
{
    return type >= 1 && type <= 4;
}

/* Transport layer; p points at the transport header, n = captured bytes within the IP
 * payload. Returns TRUNCATED if the fixed header is cut. */
HOT enum ds_decode_rc transport(const uint8_t *p, uint32_t n, struct ds_pkt *out)
{
    switch (out->proto) {
    case 6: { /* TCP */
        if (n < 20)
            return DS_DECODE_TRUNCATED;
        out->sport = rd16(p);
        out->dport = rd16(p + 2);
        out->seq = rd32(p + 4);
        out->ack = rd32(p + 8);
        uint32_t doff = (uint32_t)(p[12] >> 4) * 4;
        out->tcp_flags = p[13];
        out->win = rd16(p + 14);
        out->flags |= DS_PKT_L4;
        if (doff < 20)
            return DS_DECODE_MALFORMED;
        uint32_t optlen = doff - 20;
        bool full = n >= doff;
        tcp_options(p + 20, full ? optlen : n - 20, full, out);
        if (full) {
            out->payload = p + doff;
            out->payload_len = (uint16_t)(n - doff > 0xffff ? 0xffff : n - doff);
        }
        return DS_DECODE_OK;
    }
    case 17: /* UDP */
        if (n < 8)
            return DS_DECODE_TRUNCATED;
        out->sport = rd16(p);
        out->dport = rd16(p + 2);
        out->flags |= DS_PKT_L4;
        out->payload = p + 8;
        out->payload_len = (uint16_t)(n - 8 > 0xffff ? 0xffff : n - 8);
        return DS_DECODE_OK;
    case 1:  /* ICMP */
    case 58: /* ICMPv6 */
        if (n < 4)
            return DS_DECODE_TRUNCATED;
        out->icmp_type = p[0];
        out->icmp_code = p[1];
        out->flags |= DS_PKT_L4;
        if (n > 8) {
            out->payload = p + 8;
            out->payload_len = (uint16_t)(n - 8 > 0xffff ? 0xffff : n - 8);
        }
        if (out->proto == 1 ? icmp4_is_error(p[0]) : icmp6_is_error(p[0]))
            if (n > 8)
                icmp_quote(p + 8, n - 8, out);
        return DS_DECODE_OK;
    default:
        return DS_DECODE_OK; /* other protocols: addresses only */
    }
}

HOT enum ds_decode_rc ipv4(const uint8_t *p, uint32_t caplen, struct ds_pkt *out)
{
    if (caplen < 20)
        return DS_DECODE_TRUNCATED;
    uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;
    if (ihl < 20)
        return DS_DECODE_MALFORMED;
    if (caplen < ihl)
        return DS_DECODE_TRUNCATED;
    uint32_t total = rd16(p + 2);
    out->ipver = 4;
    out->ip_len = (uint16_t)total;
    out->ip_id = rd16(p + 4);
    out->ttl = p[8];
    out->proto = p[9];
    ds_addr_set_v4(&out->src, rd32(p + 12));
    ds_addr_set_v4(&out->dst, rd32(p + 16));
    if (total < ihl) {
        /* TSO/offloaded captures write 0 here; trust caplen then, otherwise malformed */
        if (total != 0)
            return DS_DECODE_MALFORMED;
        total = caplen;
    }
    uint16_t frag = rd16(p + 6);
    uint32_t offset = frag & 0x1fff;
    if ((frag & 0x2000) || offset)
        out->flags |= DS_PKT_FRAGMENT;
    if (offset)
        return DS_DECODE_OK; /* no transport header in a non-first fragment */
    uint32_t avail = (caplen < total ? caplen : total) - ihl;
    return transport(p + ihl, avail, out);
}

static enum ds_decode_rc __attribute__((noinline))
ipv6(const uint8_t *p, uint32_t caplen, struct ds_pkt *out)
{
    if (caplen < 40)
        return DS_DECODE_TRUNCATED;
    uint32_t plen = rd16(p + 4);
    out->ipver = 6;
    out->ip_len = (uint16_t)(plen + 40 > 0xffff ? 0xffff : plen + 40);
    out->ttl = p[7];
    ds_addr_set_v6(&out->src, p + 8);
    ds_addr_set_v6(&out->dst, p + 24);
    /* jumbograms (plen 0) and TSO captures: fall back to caplen */
    uint32_t end = plen ? 40 + plen : caplen;
    if (end > caplen)
        end = caplen;
    uint8_t nh = p[6];
    uint32_t off = 40;
    for (int hops = 0; hops < 16; hops++) {
        switch (nh) {
        case 0:   /* hop-by-hop */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */
            if (off + 2 > end)
                return DS_DECODE_TRUNCATED;
            nh = p[off];
            off += ((uint32_t)p[off + 1] + 1) * 8;
            continue;
        case 51: /* AH: length in 4-byte units, minus 2 */
            if (off + 2 > end)
                return DS_DECODE_TRUNCATED;
            nh = p[off];
            off += ((uint32_t)p[off + 1] + 2) * 4;
            continue;
        case 44: { /* fragment */
            if (off + 8 > end)
                return DS_DECODE_TRUNCATED;
            out->flags |= DS_PKT_FRAGMENT;
            uint16_t fo = rd16(p + off + 2);
            nh = p[off];
            off += 8;
            if (fo & 0xfff8) { /* non-first fragment */
                out->proto = nh;
                return DS_DECODE_OK;
            }
            continue;
        }
        default:
            out->proto = nh;
            if (off > end)
                return DS_DECODE_TRUNCATED;
            if (nh == 59) /* no next header */
                return DS_DECODE_OK;
            return transport(p + off, end - off, out);
        }
    }
    out->proto = nh;
    return DS_DECODE_MALFORMED; /* more extension headers than any real stack sends */
}

enum ds_decode_rc ds_decode_ip(const uint8_t *data, uint32_t caplen, struct ds_pkt *out)
{
    if (caplen < 1)
        return DS_DECODE_TRUNCATED;
    switch (data[0] >> 4) {
    case 4:
        return ipv4(data, caplen, out);
    case 6:
        return ipv6(data, caplen, out);
    default:
        return DS_DECODE_NON_IP;
    }
}

HOT enum ds_decode_rc by_ethertype(uint16_t type, const uint8_t *p, uint32_t n, struct ds_pkt *out)
{
    if (type == ETH_IPV4) {
        if (n >= 1 && (p[0] >> 4) != 4)
            return DS_DECODE_MALFORMED;
        return ipv4(p, n, out);
    }
    if (type == ETH_IPV6) {
        if (n >= 1 && (p[0] >> 4) != 6)
            return DS_DECODE_MALFORMED;
        return ipv6(p, n, out);
    }
    return DS_DECODE_NON_IP;
}

HOT enum ds_decode_rc ethernet(const uint8_t *p, uint32_t n, struct ds_pkt *out)
{
    if (n < 14)
        return DS_DECODE_TRUNCATED;
    uint32_t off = 12;
    uint16_t type = rd16(p + off);
    /* 802.1Q, 802.1ad (QinQ) and the old 0x9100 stacking tag; bounded depth */
    for (int tags = 0; tags < 4 && (type == 0x8100 || type == 0x88a8 || type == 0x9100); tags++) {
        off += 4;
        if (n < off + 2)
            return DS_DECODE_TRUNCATED;
        type = rd16(p + off);
    }
    off += 2;
    return by_ethertype(type, p + off, n - off, out);
}

static enum ds_decode_rc null_loop(const uint8_t *p, uint32_t n, bool loop, struct ds_pkt *out)
{
    if (n < 4)
        return DS_DECODE_TRUNCATED;
    /* DLT_NULL: family in the writer's byte order; DLT_LOOP: network order */
    uint32_t fam = loop ? rd32(p) : rd32le(p);
    if (!loop && fam > 0xffff)
        fam = rd32(p);
    switch (fam) {
    case 2: /* AF_INET everywhere */
        return by_ethertype(ETH_IPV4, p + 4, n - 4, out);
    case 10: /* Linux */
    case 24: /* NetBSD, OpenBSD, BSD/OS */
    case 28: /* FreeBSD, DragonFly */
    case 30: /* Darwin */
        return by_ethertype(ETH_IPV6, p + 4, n - 4, out);
    default:
        return DS_DECODE_NON_IP;
    }
}

/* Zeroes the record with plain 16-byte stores: compilers turn a memset of this size into
 * `rep stos`, whose start-up cost is a good part of decoding a whole packet (measured). */
static inline void pkt_zero(struct ds_pkt *p)
{
    typedef uint8_t v16 __attribute__((vector_size(16)));
    _Static_assert(sizeof *p % 16 == 0, "struct ds_pkt is a multiple of 16 bytes");
    const v16 z = {0};
    uint8_t *b = (uint8_t *)p;
    for (size_t i = 0; i < sizeof *p; i += 16) {
        memcpy(b + i, &z, 16);
        __asm__("" ::: "memory"); /* keeps the stores from being merged back into memset */
    }
}

enum ds_decode_rc ds_decode(uint32_t linktype, const uint8_t *data, uint32_t caplen,
                            uint32_t wirelen, uint64_t ts_ns, struct ds_pkt *out)
{
    pkt_zero(out);
    out->ts_ns = ts_ns;
    out->wirelen = wirelen;
    out->tcp_wscale = 0xff;
    if (__builtin_expect(linktype == DS_LINK_ETHERNET, 1)) /* the common case first */
        return ethernet(data, caplen, out);
    switch (linktype) {
    case DS_LINK_RAW:
    case DS_LINK_RAW_DLT12:
    case DS_LINK_RAW_DLT14:
        return ds_decode_ip(data, caplen, out);
    case DS_LINK_IPV4:
        return by_ethertype(ETH_IPV4, data, caplen, out);
    case DS_LINK_IPV6:
        return by_ethertype(ETH_IPV6, data, caplen, out);
    case DS_LINK_LINUX_SLL:
        if (caplen < 16)
            return DS_DECODE_TRUNCATED;
        return by_ethertype(rd16(data + 14), data + 16, caplen - 16, out);
    case DS_LINK_LINUX_SLL2:
        if (caplen < 20)
            return DS_DECODE_TRUNCATED;
        return by_ethertype(rd16(data), data + 20, caplen - 20, out);
    case DS_LINK_NULL:
        return null_loop(data, caplen, false, out);
    case DS_LINK_LOOP:
        return null_loop(data, caplen, true, out);
    default:
        return DS_DECODE_UNSUPPORTED_LINK;
    }
}
