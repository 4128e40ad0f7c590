/* host.c - one source host's in-memory profile: destination sketch, segments, scan type and
 * the behaviour key. */
#include "analyze/host.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "classify/amp.h"
#include "core/hash.h"

void ds_country_code(uint16_t idx, char out[3])
{
    if (idx == 0 || idx >= DS_COUNTRY_SLOTS) {
        memcpy(out, "--", 3);
        return;
    }
    out[0] = (char)('A' + (idx - 1) / 26);
    out[1] = (char)('A' + (idx - 1) % 26);
    out[2] = 0;
}

/* A destination's sketch hash (salted, so it is independent of the source hash). */
static uint64_t mix_dst(uint32_t dst)
{
    return ds_mix64((uint64_t)dst ^ 0x9e3779b97f4a7c15ULL);
}

/* The 4-bit HyperLogLog registers packed two per byte in h->dst. */
static unsigned reg_get(const struct ds_host *h, unsigned i)
{
    uint8_t b = h->dst[i / 2];
    return i & 1 ? b >> 4 : b & 0x0f;
}

static bool reg_raise(struct ds_host *h, unsigned i, unsigned v)
{
    if (v > 15)
        v = 15;
    if (reg_get(h, i) >= v)
        return false;
    uint8_t *b = &h->dst[i / 2];
    *b = i & 1 ? (uint8_t)((*b & 0x0f) | (v << 4)) : (uint8_t)((*b & 0xf0) | v);
    return true;
}

static bool sketch_add(struct ds_host *h, uint64_t x)
{
    unsigned i = (unsigned)(x % DS_HOST_DST_REGS);
    uint64_t rest = x >> 8; /* bits not used by the register choice (m < 256) */
    unsigned rank = rest ? (unsigned)__builtin_ctzll(rest) + 1 : 57;
    return reg_raise(h, i, rank);
}

bool ds_host_add_dst(struct ds_host *h, uint32_t dst_hash)
{
    uint64_t x = mix_dst(dst_hash);
    if (!(h->flags & DS_HF_DST_SKETCH)) {
        uint32_t d[DS_HOST_DST_EXACT];
        memcpy(d, h->dst, sizeof d);
        for (unsigned i = 0; i < h->ndst; i++)
            if (d[i] == dst_hash)
                return false;
        if (h->ndst < DS_HOST_DST_EXACT) {
            d[h->ndst++] = dst_hash;
            memcpy(h->dst, d, sizeof d);
            return true;
        }
        /* the fourth distinct destination: move to the sketch */
        memset(h->dst, 0, sizeof h->dst);
        for (unsigned i = 0; i < DS_HOST_DST_EXACT; i++)
            sketch_add(h, mix_dst(d[i]));
        h->flags |= DS_HF_DST_SKETCH;
        sketch_add(h, x);
        return true;
    }
    return sketch_add(h, x);
}

uint32_t ds_host_dsts(const struct ds_host *h)
{
    if (!(h->flags & DS_HF_DST_SKETCH))
        return h->ndst;
    const double m = DS_HOST_DST_REGS;
    double sum = 0;
    unsigned zeros = 0;
    for (unsigned i = 0; i < DS_HOST_DST_REGS; i++) {
        unsigned r = reg_get(h, i);
        sum += 1.0 / (double)(1u << r); /* 2^-r exactly (4-bit registers) */
        zeros += r == 0;
    }
    double alpha = 0.7213 / (1.0 + 1.079 / m);
    double e = alpha * m * m / sum;
    if (e <= 2.5 * m && zeros)
        e = m * log(m / zeros); /* linear counting for small cardinalities */
    /* never below the exact count it started from */
    if (e < DS_HOST_DST_EXACT + 1)
        e = DS_HOST_DST_EXACT + 1;
    return (uint32_t)(e + 0.5);
}

void ds_host_reset_segment(struct ds_host *h)
{
    h->first_ns = h->last_ns = 0;
    h->packets = h->bytes = 0;
    h->protos = 0;
    h->nports = 0;
    memset(h->cls, 0, sizeof h->cls);
    memset(h->fps, 0, sizeof h->fps);
}

const char *ds_host_scan_type(const struct ds_host *h)
{
    bool hs = h->flags & DS_HF_HSCAN, vs = h->flags & DS_HF_VSCAN;
    return hs && vs ? "both" : hs ? "horizontal" : vs ? "vertical" : "none";
}

/* The behaviour key is written for every stored profile: appended by hand, not with
 * snprintf; like snprintf, n counts what would have been written and buf stays terminated. */
struct kbuf {
    char *buf;
    size_t cap, n;
};

static void kput(struct kbuf *k, const char *s)
{
    for (; *s; s++, k->n++)
        if (k->n + 1 < k->cap)
            k->buf[k->n] = *s;
    if (k->cap)
        k->buf[k->n < k->cap ? k->n : k->cap - 1] = 0;
}

static void kput_uint(struct kbuf *k, unsigned v)
{
    char t[12], *p = t + sizeof t;
    *--p = 0;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    kput(k, p);
}

static void port_text(struct kbuf *k, uint16_t port, bool udp)
{
    if (udp)
        kput(k, "u");
    kput_uint(k, port);
}

int ds_host_behaviour_key(const struct ds_host *h, char *buf, size_t cap)
{
    static const char *const proto_names[DS_PROTO_COUNT] = {"tcp", "udp", "icmp", "icmp6", "other"};
    struct kbuf k = {.buf = buf, .cap = cap};
    if (cap)
        buf[0] = 0;
    bool any = false;
    for (int i = 0; i < DS_PROTO_COUNT; i++)
        if (h->protos & (1u << i)) {
            if (any)
                kput(&k, "+");
            kput(&k, proto_names[i]);
            any = true;
        }
    if (!any)
        kput(&k, "-");
    kput(&k, "|");
    /* the port set: exact when the host used at most the two inline ports */
    unsigned inl = !!(h->flags & DS_HF_PORT0) + !!(h->flags & DS_HF_PORT1);
    if (inl == 0) {
        kput(&k, "-");
    } else if (h->nports <= 2 && inl == h->nports) {
        uint32_t a = (uint32_t) !!(h->flags & DS_HF_PORT0_UDP) << 16 | h->ports[0];
        uint32_t b = (uint32_t) !!(h->flags & DS_HF_PORT1_UDP) << 16 | h->ports[1];
        if (inl == 2 && b < a) {
            uint32_t t = a;
            a = b;
            b = t;
        }
        port_text(&k, (uint16_t)a, a >> 16);
        if (inl == 2) {
            kput(&k, ",");
            port_text(&k, (uint16_t)b, b >> 16);
        }
    } else {
        kput(&k, h->nports <= 10 ? "ports<=10" : h->nports <= 100 ? "ports<=100" : "ports>100");
    }
    kput(&k, "|");
    any = false;
    for (int i = 0; i < DS_FP_COUNT; i++)
        if (h->fps[i]) {
            if (any)
                kput(&k, "+");
            kput(&k, ds_fingerprints[i]->name);
            any = true;
        }
    if (!any)
        kput(&k, "-");
    /* initial TTL bucket: the smallest common initial TTL at or above the one seen */
    unsigned t = h->ttl0;
    kput(&k, "|ttl");
    kput_uint(&k, t == 0 ? 0 : t <= 32 ? 32 : t <= 64 ? 64 : t <= 128 ? 128 : 255);
    static const char hex[] = "0123456789abcdef";
    char l[7] = {'|',
                 'L',
                 hex[h->layout >> 12 & 15],
                 hex[h->layout >> 8 & 15],
                 hex[h->layout >> 4 & 15],
                 hex[h->layout & 15],
                 0};
    kput(&k, l);
    kput(&k, "|");
    kput(&k, h->pclass ? ds_payload_class_names[h->pclass] : "-");
    return (int)k.n;
}
