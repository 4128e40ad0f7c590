/* craft.c - building real packets (Ethernet/raw, IPv4/IPv6, TCP/UDP/ICMP) with checksums. */
#include "gen/craft.h"

#include <string.h>

const uint8_t ds_opts_mss1460[4] = {2, 4, 0x05, 0xb4};
const uint8_t ds_opts_linux[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
                                   0, 1, 0,    0,    0, 0, 1, 3,  3, 7};
const uint8_t ds_opts_windows[12] = {2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2};

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        acc += (uint32_t)p[n - 1] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

uint32_t ds_craft_linktype(enum ds_craft_link link)
{
    return link == DS_CRAFT_RAW ? 101 : 1;
}

size_t ds_craft_packet(uint8_t *buf, size_t cap, const struct ds_craft *s)
{
    bool v4 = ds_addr_is_v4(&s->src);
    if (v4 != ds_addr_is_v4(&s->dst))
        return 0;
    bool frag6 = !v4 && (s->mf || s->frag_offset);
    size_t l2 = s->link == DS_CRAFT_ETHERNET ? 14 + (s->vlan ? 4 : 0) : 0;
    size_t l3 = v4 ? 20 : 40 + (frag6 ? 8 : 0);
    size_t optlen = (s->tcp_opts_len + 3) & ~(size_t)3;
    size_t l4;
    switch (s->proto) {
    case 6:
        l4 = 20 + optlen;
        break;
    case 17:
        l4 = 8;
        break;
    case 1:
    case 58:
        l4 = 8;
        break;
    default:
        l4 = 0;
    }
    if (s->raw_l4)
        l4 = 0;
    if (optlen > 40)
        return 0;
    size_t total = l2 + l3 + l4 + s->payload_len;
    if (total > cap || l3 + l4 + s->payload_len > 0xffff)
        return 0;
    memset(buf, 0, l2 + l3 + l4);
    uint8_t *p = buf;
    if (s->link == DS_CRAFT_ETHERNET) {
        static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x01}, smac[6] = {0x02, 0, 0, 0, 0, 0x02};
        memcpy(p, dmac, 6);
        memcpy(p + 6, smac, 6);
        if (s->vlan) {
            wr16(p + 12, 0x8100);
            wr16(p + 14, s->vlan & 0x0fff);
            wr16(p + 16, v4 ? 0x0800 : 0x86dd);
        } else {
            wr16(p + 12, v4 ? 0x0800 : 0x86dd);
        }
        p += l2;
    }
    uint8_t *ip = p;
    uint8_t *th = ip + l3;
    size_t l4len = l4 + s->payload_len;
    if (v4) {
        ip[0] = 0x45;
        wr16(ip + 2, (uint16_t)(l3 + l4len));
        wr16(ip + 4, s->ip_id);
        uint16_t frag =
            (uint16_t)((s->df ? 0x4000 : 0) | (s->mf ? 0x2000 : 0) | (s->frag_offset & 0x1fff));
        wr16(ip + 6, frag);
        ip[8] = s->ttl;
        ip[9] = s->proto;
        memcpy(ip + 12, s->src.b + 12, 4);
        memcpy(ip + 16, s->dst.b + 12, 4);
        wr16(ip + 10, fold(sum16(ip, 20, 0)));
    } else {
        ip[0] = 0x60;
        wr16(ip + 4, (uint16_t)(l3 - 40 + l4len));
        ip[6] = frag6 ? 44 : s->proto;
        ip[7] = s->ttl;
        memcpy(ip + 8, s->src.b, 16);
        memcpy(ip + 24, s->dst.b, 16);
        if (frag6) {
            ip[40] = s->proto;
            wr16(ip + 42, (uint16_t)((s->frag_offset << 3) | (s->mf ? 1 : 0)));
            wr32(ip + 44, 0x12345678u ^ s->ip_id);
        }
    }
    if (s->payload_len)
        memcpy(th + l4, s->payload, s->payload_len);
    /* pseudo-header sum for TCP/UDP/ICMPv6 */
    uint32_t ph = 0;
    if (v4) {
        ph = sum16(s->src.b + 12, 4, ph);
        ph = sum16(s->dst.b + 12, 4, ph);
        ph += s->proto + (uint32_t)l4len;
    } else {
        ph = sum16(s->src.b, 16, ph);
        ph = sum16(s->dst.b, 16, ph);
        ph += s->proto + (uint32_t)l4len;
    }
    switch (s->raw_l4 ? 0 : s->proto) {
    case 6:
        wr16(th, s->sport);
        wr16(th + 2, s->dport);
        wr32(th + 4, s->seq);
        wr32(th + 8, s->ack);
        th[12] = (uint8_t)(((20 + optlen) / 4) << 4);
        th[13] = s->tcp_flags;
        wr16(th + 14, s->win);
        if (s->tcp_opts_len)
            memcpy(th + 20, s->tcp_opts, s->tcp_opts_len);
        wr16(th + 16, fold(sum16(th, l4len, ph)));
        break;
    case 17: {
        wr16(th, s->sport);
        wr16(th + 2, s->dport);
        wr16(th + 4, (uint16_t)l4len);
        uint16_t c = fold(sum16(th, l4len, ph));
        wr16(th + 6, c ? c : 0xffff);
        break;
    }
    case 1:
    case 58:
        th[0] = s->icmp_type;
        th[1] = s->icmp_code;
        wr32(th + 4, s->icmp_rest);
        wr16(th + 2, fold(sum16(th, l4len, s->proto == 58 ? ph : 0)));
        break;
    default:
        break;
    }
    return total;
}
