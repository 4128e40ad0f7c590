/* fingerprint.c - tool and malware fingerprints on TCP SYNs: one registry of descriptors.
 * Values come from the tools' public sources (see docs/classification.md). All callers pass
 * packets already classified tcp_syn (SYN without ACK). */
#include "classify/fingerprint.h"

#include "core/hash.h"

/* Mirai and descendants: the initial sequence number is the destination IPv4 address. */
static bool mirai_match(const struct ds_pkt *p)
{
    return p->ipver == 4 && p->seq == ds_addr_v4(&p->dst);
}

/* ZMap up to 4.0: IP ID 54321 and window 65535 (the IP ID alone also hits by chance). */
static bool zmap_match(const struct ds_pkt *p)
{
    return p->ipver == 4 && p->ip_id == 54321 && p->win == 65535;
}

/* Masscan: ip_id == (dst ^ dport ^ seq) & 0xffff with host-order values. */
static bool masscan_match(const struct ds_pkt *p)
{
    return p->ipver == 4 && p->ip_id == ((ds_addr_v4(&p->dst) ^ p->dport ^ p->seq) & 0xffff);
}

/* Nmap SYN scan: window 1024, exactly one option (MSS), TTL 37..59 at the source. */
static bool nmap_match(const struct ds_pkt *p)
{
    return p->win == 1024 && p->tcp_nopts == 1 && p->tcp_layout[0] == 2 && p->tcp_mss != 0 &&
           p->ttl <= 59 && p->ttl >= 37 - DS_NMAP_MAX_HOPS;
}

/*
 * Unicornscan: seq ^ dst ^ ((dport << 16) + sport) is constant for a scan session. A SYN
 * whose key equals the source's previous SYN key, sent to another (dst, dport), confirms a
 * session: on confirmation both packets count (the earlier one retroactively), afterwards
 * each further matching SYN counts once. A SYN to the same (dst, dport) with the same key is
 * a retransmission: neither counted nor resetting. Any other key starts over. Mirai packets
 * are left out (their key is constant by construction: seq == dst).
 */
static unsigned unicorn_match(const struct ds_pkt *p, struct ds_fp_state *st, bool *bit_now)
{
    *bit_now = false;
    if (p->ipver != 4 || mirai_match(p))
        return 0;
    uint32_t dst = ds_addr_v4(&p->dst);
    uint32_t key = p->seq ^ dst ^ (((uint32_t)p->dport << 16) + p->sport);
    uint32_t target = (uint32_t)ds_mix64(((uint64_t)dst << 16) | p->dport);
    if (st->unicorn_have && st->unicorn_key == key) {
        if (st->unicorn_target == target)
            return 0; /* retransmission */
        st->unicorn_target = target;
        *bit_now = true;
        if (st->unicorn_session)
            return 1;
        st->unicorn_session = 1;
        return 2;
    }
    st->unicorn_have = 1;
    st->unicorn_session = 0;
    st->unicorn_key = key;
    st->unicorn_target = target;
    return 0;
}

static const struct ds_fingerprint fp_mirai = {
    .id = DS_FP_MIRAI,
    .name = "mirai",
    .description = "Mirai-like: TCP sequence number equals the destination address",
    .match = mirai_match,
};
static const struct ds_fingerprint fp_zmap = {
    .id = DS_FP_ZMAP,
    .name = "zmap",
    .description = "ZMap: IP ID 54321 and window 65535",
    .match = zmap_match,
};
static const struct ds_fingerprint fp_masscan = {
    .id = DS_FP_MASSCAN,
    .name = "masscan",
    .description = "Masscan: IP ID equals (dst ^ dport ^ seq) & 0xffff",
    .match = masscan_match,
};
static const struct ds_fingerprint fp_nmap = {
    .id = DS_FP_NMAP,
    .name = "nmap",
    .description = "Nmap SYN scan: window 1024, MSS as the only option, TTL 37-59 at source",
    .match = nmap_match,
};
static const struct ds_fingerprint fp_unicorn = {
    .id = DS_FP_UNICORNSCAN,
    .name = "unicornscan",
    .description = "Unicornscan: seq ^ dst ^ ((dport << 16) + sport) constant per source",
    .match_state = unicorn_match,
};

const struct ds_fingerprint *const ds_fingerprints[DS_FP_COUNT] = {
    [DS_FP_MIRAI] = &fp_mirai, [DS_FP_ZMAP] = &fp_zmap,           [DS_FP_MASSCAN] = &fp_masscan,
    [DS_FP_NMAP] = &fp_nmap,   [DS_FP_UNICORNSCAN] = &fp_unicorn,
};

uint32_t ds_fp_match_syn(const struct ds_pkt *p)
{
    uint32_t bits = 0;
#pragma GCC unroll 8 /* fully unrolled, each constant entry's matcher is inlined */
    for (int i = 0; i < DS_FP_COUNT; i++) {
        const struct ds_fingerprint *fp = ds_fingerprints[i];
        if (fp->match && fp->match(p))
            bits |= DS_FP_BIT(i);
    }
    return bits;
}

uint32_t ds_fp_match_syn_state(const struct ds_pkt *p, struct ds_fp_state *st,
                               uint64_t counts[DS_FP_COUNT])
{
    uint32_t bits = 0;
#pragma GCC unroll 8 /* fully unrolled, each constant entry's matcher is inlined */
    for (int i = 0; i < DS_FP_COUNT; i++) {
        const struct ds_fingerprint *fp = ds_fingerprints[i];
        if (!fp->match_state)
            continue;
        bool now;
        counts[i] += fp->match_state(p, st, &now);
        if (now)
            bits |= DS_FP_BIT(i);
    }
    return bits;
}
