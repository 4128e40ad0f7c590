/* classify.c - per-packet traffic classes (bit set) and the stateless classification step.
 * Rules: DOMAIN.md section 3 (backscatter, Corsaro's spoofed and non-routable filters);
 * the exact form used here is documented in docs/classification.md. */
#include "classify/classify.h"

#include "classify/amp.h"
#include "classify/fingerprint.h"

const struct ds_class_desc ds_class_table[DS_CLASS_COUNT] = {
    [DS_CLASS_TCP_SYN] = {.id = DS_CLASS_TCP_SYN,
                          .name = "tcp_syn",
                          .description = "TCP SYN without ACK (scan or connection attempt)"},
    [DS_CLASS_BACKSCATTER] = {.id = DS_CLASS_BACKSCATTER,
                              .name = "backscatter",
                              .description = "reply from a DoS victim to a spoofed darknet source"},
    [DS_CLASS_ICMP_REQUEST] = {.id = DS_CLASS_ICMP_REQUEST,
                               .name = "icmp_request",
                               .description = "ICMP/ICMPv6 echo, timestamp, info or mask request"},
    [DS_CLASS_UDP] = {.id = DS_CLASS_UDP, .name = "udp", .description = "any UDP"},
    [DS_CLASS_AMP_PROBE] = {.id = DS_CLASS_AMP_PROBE,
                            .name = "amp_probe",
                            .description = "amplifying request to a UDP amplifier port"},
    [DS_CLASS_SPOOFED_HINT] = {.id = DS_CLASS_SPOOFED_HINT,
                               .name = "spoofed_hint",
                               .description = "Corsaro's signs of a spoofed source"},
    [DS_CLASS_NONROUTABLE_SRC] = {.id = DS_CLASS_NONROUTABLE_SRC,
                                  .name = "nonroutable_src",
                                  .description = "source in a non-routable range (RFC 5735)"},
    [DS_CLASS_FRAGMENT] = {.id = DS_CLASS_FRAGMENT,
                           .name = "fragment",
                           .description = "IP fragment"},
};

/* RFC 5735 ranges as DOMAIN.md lists them, as (address, mask) pairs; 224/4 and above is
 * handled separately. */
static const struct {
    uint32_t net, mask;
} nonroutable4[] = {
    {0x00000000, 0xff000000}, /* 0/8 */
    {0x0a000000, 0xff000000}, /* 10/8 */
    {0x7f000000, 0xff000000}, /* 127/8 */
    {0xa9fe0000, 0xffff0000}, /* 169.254/16 */
    {0xac100000, 0xfff00000}, /* 172.16/12 */
    {0xc0000000, 0xffffff00}, /* 192.0.0/24 */
    {0xc0000200, 0xffffff00}, /* 192.0.2/24 */
    {0xc0586300, 0xffffff00}, /* 192.88.99/24 */
    {0xc0a80000, 0xffff0000}, /* 192.168/16 */
    {0xc6120000, 0xfffe0000}, /* 198.18/15 */
    {0xc6336400, 0xffffff00}, /* 198.51.100/24 */
    {0xcb007100, 0xffffff00}, /* 203.0.113/24 */
};

int ds_addr_nonroutable(const struct ds_addr *a)
{
    if (ds_addr_is_v4(a)) {
        uint32_t v = ds_addr_v4(a);
        if (v >= 0xe0000000u) /* 224/4 and above */
            return 1;
        /* fast exit: only these first octets can start a listed range */
        switch (v >> 24) {
        case 0:
        case 10:
        case 127:
        case 169:
        case 172:
        case 192:
        case 198:
        case 203:
            break;
        default:
            return 0;
        }
        for (size_t i = 0; i < sizeof nonroutable4 / sizeof nonroutable4[0]; i++)
            if ((v & nonroutable4[i].mask) == nonroutable4[i].net)
                return 1;
        return 0;
    }
    const uint8_t *b = a->b;
    static const uint8_t zero[15] = {0};
    if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1)) /* :: and ::1 */
        return 1;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
        return 1;
    if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return 1;
    if (b[0] == 0xff) /* ff00::/8 multicast */
        return 1;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* 2001:db8::/32 */
        return 1;
    return 0;
}

static bool icmp_backscatter(const struct ds_pkt *p)
{
    if (p->proto == 1) {
        switch (p->icmp_type) {
        case 0:
        case 3:
        case 4:
        case 5:
        case 11:
        case 12:
        case 14:
        case 16:
        case 18:
            return true;
        default:
            return false;
        }
    }
    /* ICMPv6: the same replies and errors (unreachable, too big, time exceeded, parameter
     * problem, echo reply) */
    return p->icmp_type <= 4 ? p->icmp_type >= 1 : p->icmp_type == 129;
}

static bool icmp_request(const struct ds_pkt *p)
{
    if (p->proto == 1)
        return p->icmp_type == 8 || p->icmp_type == 13 || p->icmp_type == 15 || p->icmp_type == 17;
    return p->icmp_type == 128;
}

/* Corsaro's "odd TCP flag combination": none, SYN with FIN or RST, FIN/PSH/URG without ACK. */
static bool odd_tcp_flags(uint8_t f)
{
    f &= 0x3f; /* ECE and CWR say nothing about spoofing */
    if (f == 0)
        return true;
    if ((f & DS_TCP_SYN) && (f & (DS_TCP_FIN | DS_TCP_RST)))
        return true;
    if (!(f & DS_TCP_ACK) && (f & (DS_TCP_FIN | DS_TCP_PSH | DS_TCP_URG)))
        return true;
    return false;
}

static bool spoofed_hint(const struct ds_pkt *p, bool syn)
{
    bool l4 = p->flags & DS_PKT_L4;
    if (p->proto != 6 && p->proto != 17 && p->proto != 1 && p->proto != 58)
        return true; /* abnormal protocol */
    if (p->proto == 6 && l4 && odd_tcp_flags(p->tcp_flags))
        return true;
    if (p->ttl >= 200) {
        /* Corsaro's large-scale scanner exemption: SYN, no options, window 1024 */
        bool big_scan = syn && p->tcp_nopts == 0 && p->win == 1024;
        if (!big_scan)
            return true;
    }
    if (p->flags & DS_PKT_FRAGMENT)
        return true;
    if (p->ipver == 4) {
        uint8_t last = p->src.b[15];
        if (last == 0 || last == 255)
            return true;
    }
    if (ds_addr_eq(&p->src, &p->dst))
        return true;
    if (l4 && (p->proto == 6 || p->proto == 17) && (p->sport == 0 || p->dport == 0))
        return true;
    if (l4 && p->proto == 17 && p->dport == 80)
        return true;
    return false;
}

void ds_classify(struct ds_pkt *p)
{
    uint32_t c = 0;
    bool l4 = p->flags & DS_PKT_L4;
    bool syn = false;
    if (p->proto == 6 && l4) {
        uint8_t f = p->tcp_flags;
        syn = (f & DS_TCP_SYN) && !(f & DS_TCP_ACK);
        if (syn)
            c |= DS_CLASS_BIT(DS_CLASS_TCP_SYN);
        if (((f & DS_TCP_SYN) && (f & DS_TCP_ACK)) || (f & DS_TCP_RST))
            c |= DS_CLASS_BIT(DS_CLASS_BACKSCATTER);
    } else if ((p->proto == 1 || p->proto == 58) && l4) {
        if (icmp_backscatter(p))
            c |= DS_CLASS_BIT(DS_CLASS_BACKSCATTER);
        else if (icmp_request(p))
            c |= DS_CLASS_BIT(DS_CLASS_ICMP_REQUEST);
    } else if (p->proto == 17) {
        c |= DS_CLASS_BIT(DS_CLASS_UDP);
        if (l4) {
            const struct ds_amp_proto *amp = ds_amp_by_port(p->dport);
            p->payload_class = p->payload_len ? DS_PAYLOAD_OTHER : DS_PAYLOAD_NONE;
            if (amp && amp->is_request(p->payload, p->payload_len)) {
                c |= DS_CLASS_BIT(DS_CLASS_AMP_PROBE);
                p->payload_class = (uint8_t)amp->request;
            }
        }
    }
    if (p->flags & DS_PKT_FRAGMENT)
        c |= DS_CLASS_BIT(DS_CLASS_FRAGMENT);
    if (spoofed_hint(p, syn))
        c |= DS_CLASS_BIT(DS_CLASS_SPOOFED_HINT);
    if (ds_addr_nonroutable(&p->src))
        c |= DS_CLASS_BIT(DS_CLASS_NONROUTABLE_SRC);
    p->classes = c;

    p->fps = syn ? ds_fp_match_syn(p) : 0;
}

const struct ds_addr *ds_backscatter_victim(const struct ds_pkt *p)
{
    if ((p->proto == 1 || p->proto == 58) && (p->flags & DS_PKT_QUOTE))
        return &p->quote.dst;
    return &p->src;
}
