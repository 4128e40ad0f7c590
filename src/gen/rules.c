/* rules.c - the generator's own statement of the traffic classes and tool fingerprints of
 * DOMAIN.md section 3, applied to packets it is about to write. */
#include "gen/rules.h"

#include "classify/classify.h"
#include "classify/fingerprint.h"
#include "core/hash.h"

bool ds_rules_has_l4(const struct ds_craft *s)
{
    if (s->raw_l4 || s->frag_offset)
        return false;
    return s->proto == 6 || s->proto == 17 || s->proto == 1 || s->proto == 58;
}

bool ds_rules_is_syn(const struct ds_craft *s)
{
    return s->proto == 6 && ds_rules_has_l4(s) && (s->tcp_flags & 0x02) && !(s->tcp_flags & 0x10);
}

unsigned ds_rules_tcp_nopts(const struct ds_craft *s)
{
    size_t n = (s->tcp_opts_len + 3) & ~(size_t)3;
    unsigned count = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t kind = i < s->tcp_opts_len ? s->tcp_opts[i] : 0; /* padding is EOL */
        count++;
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= s->tcp_opts_len)
            break;
        uint8_t len = s->tcp_opts[i + 1];
        if (len < 2)
            break;
        i += len;
    }
    return count;
}

/* Only an MSS option (kind 2, length 4, non-zero value), nothing else. */
static bool mss_only(const struct ds_craft *s)
{
    return s->tcp_opts_len == 4 && s->tcp_opts[0] == 2 && s->tcp_opts[1] == 4 &&
           (s->tcp_opts[2] | s->tcp_opts[3]) != 0;
}

bool ds_rules_amp_port(uint16_t port)
{
    static const uint16_t ports[] = {53,  123, 161, 1900, 19,  17,    389,  11211,
                                     137, 69,  111, 5353, 520, 27960, 27015};
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (ports[i] == port)
            return true;
    return false;
}

bool ds_rules_nonroutable(const struct ds_addr *a)
{
    if (ds_addr_is_v4(a)) {
        uint32_t v = ds_addr_v4(a);
        static const struct {
            uint32_t net;
            unsigned len;
        } r[] = {
            {0x00000000, 8},  {0x0a000000, 8},  {0x7f000000, 8},  {0xa9fe0000, 16},
            {0xac100000, 12}, {0xc0000000, 24}, {0xc0000200, 24}, {0xc0586300, 24},
            {0xc0a80000, 16}, {0xc6120000, 15}, {0xc6336400, 24}, {0xcb007100, 24},
            {0xe0000000, 3}, /* 224/4 and everything above it */
        };
        for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
            if ((v >> (32 - r[i].len)) == (r[i].net >> (32 - r[i].len)))
                return true;
        return false;
    }
    const uint8_t *b = a->b;
    bool zero15 = true;
    for (int i = 0; i < 15; i++)
        zero15 &= b[i] == 0;
    if (zero15 && b[15] <= 1)
        return true;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return true;
    if ((b[0] & 0xfe) == 0xfc || b[0] == 0xff)
        return true;
    return b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8;
}

/* Corsaro's odd flag combinations: none, SYN with FIN or RST, FIN/PSH/URG without ACK
 * (ECE and CWR ignored). */
static bool odd_flags(uint8_t f)
{
    f &= 0x3f;
    if (!f)
        return true;
    if ((f & 0x02) && (f & 0x05))
        return true;
    return !(f & 0x10) && (f & 0x29);
}

static bool spoofed_hint(const struct ds_craft *s, bool l4, bool syn)
{
    if (s->proto != 6 && s->proto != 17 && s->proto != 1 && s->proto != 58)
        return true;
    if (s->proto == 6 && l4 && odd_flags(s->tcp_flags))
        return true;
    if (s->ttl >= 200 && !(syn && s->tcp_opts_len == 0 && s->win == 1024))
        return true;
    if (s->mf || s->frag_offset)
        return true;
    if (ds_addr_is_v4(&s->src) && (s->src.b[15] == 0 || s->src.b[15] == 255))
        return true;
    if (ds_addr_eq(&s->src, &s->dst))
        return true;
    if (l4 && (s->proto == 6 || s->proto == 17) && (s->sport == 0 || s->dport == 0))
        return true;
    return l4 && s->proto == 17 && s->dport == 80;
}

uint32_t ds_rules_classes(const struct ds_craft *s, bool amp_request)
{
    uint32_t c = 0;
    bool l4 = ds_rules_has_l4(s);
    bool syn = ds_rules_is_syn(s);
    if (s->proto == 6 && l4) {
        if (syn)
            c |= DS_CLASS_BIT(DS_CLASS_TCP_SYN);
        if ((s->tcp_flags & 0x12) == 0x12 || (s->tcp_flags & 0x04))
            c |= DS_CLASS_BIT(DS_CLASS_BACKSCATTER);
    } else if (s->proto == 1 && l4) {
        switch (s->icmp_type) {
        case 0:
        case 3:
        case 4:
        case 5:
        case 11:
        case 12:
        case 14:
        case 16:
        case 18:
            c |= DS_CLASS_BIT(DS_CLASS_BACKSCATTER);
            break;
        case 8:
        case 13:
        case 15:
        case 17:
            c |= DS_CLASS_BIT(DS_CLASS_ICMP_REQUEST);
            break;
        default:
            break;
        }
    } else if (s->proto == 58 && l4) {
        if ((s->icmp_type >= 1 && s->icmp_type <= 4) || s->icmp_type == 129)
            c |= DS_CLASS_BIT(DS_CLASS_BACKSCATTER);
        else if (s->icmp_type == 128)
            c |= DS_CLASS_BIT(DS_CLASS_ICMP_REQUEST);
    } else if (s->proto == 17) {
        c |= DS_CLASS_BIT(DS_CLASS_UDP);
        if (l4 && amp_request)
            c |= DS_CLASS_BIT(DS_CLASS_AMP_PROBE);
    }
    if (s->mf || s->frag_offset)
        c |= DS_CLASS_BIT(DS_CLASS_FRAGMENT);
    if (spoofed_hint(s, l4, syn))
        c |= DS_CLASS_BIT(DS_CLASS_SPOOFED_HINT);
    if (ds_rules_nonroutable(&s->src))
        c |= DS_CLASS_BIT(DS_CLASS_NONROUTABLE_SRC);
    return c;
}

uint32_t ds_rules_fps(const struct ds_craft *s)
{
    if (!ds_rules_is_syn(s))
        return 0;
    uint32_t f = 0;
    bool v4 = ds_addr_is_v4(&s->dst);
    uint32_t dst = v4 ? ds_addr_v4(&s->dst) : 0;
    if (v4 && s->seq == dst)
        f |= DS_FP_BIT(DS_FP_MIRAI);
    if (v4 && s->ip_id == 54321 && s->win == 65535)
        f |= DS_FP_BIT(DS_FP_ZMAP);
    if (v4 && s->ip_id == ((dst ^ s->dport ^ s->seq) & 0xffff))
        f |= DS_FP_BIT(DS_FP_MASSCAN);
    if (s->win == 1024 && mss_only(s) && s->ttl <= 59 && s->ttl >= 37 - DS_NMAP_MAX_HOPS)
        f |= DS_FP_BIT(DS_FP_NMAP);
    return f;
}

uint32_t ds_rules_unicorn_target(uint32_t dst, uint16_t dport)
{
    return (uint32_t)ds_mix64(((uint64_t)dst << 16) | dport);
}
