/* addr.c - IPv4/IPv6 addresses and prefixes: one 16-byte form, parsing and formatting. */
#include "core/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

int ds_addr_parse(struct ds_addr *out, const char *text, struct ds_err *err)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        ds_addr_set_v4(out, ntohl(v4.s_addr));
        return 0;
    }
    if (inet_pton(AF_INET6, text, &v6) == 1) {
        ds_addr_set_v6(out, v6.s6_addr);
        return 0;
    }
    return ds_err_set(err, -EINVAL, "'%s' is not an IPv4 or IPv6 address", text);
}

static void mask_bits(struct ds_addr *a, unsigned len)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned bit0 = i * 8;
        if (bit0 >= len)
            a->b[i] = 0;
        else if (bit0 + 8 > len)
            a->b[i] &= (uint8_t)(0xff << (8 - (len - bit0)));
    }
}

int ds_prefix_parse(struct ds_prefix *out, const char *text, struct ds_err *err)
{
    char buf[DS_PREFIX_STRLEN + 8];
    size_t tl = strlen(text);
    if (tl == 0 || tl >= sizeof buf)
        return ds_err_set(err, -EINVAL, "'%s' is not a CIDR prefix", text);
    memcpy(buf, text, tl + 1);
    char *slash = strchr(buf, '/');
    long plen = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        if (!slash[1])
            return ds_err_set(err, -EINVAL, "'%s': missing prefix length after '/'", text);
        plen = strtol(slash + 1, &end, 10);
        if (*end || plen < 0)
            return ds_err_set(err, -EINVAL, "'%s': bad prefix length '%s'", text, slash + 1);
    }
    struct ds_addr a;
    if (ds_addr_parse(&a, buf, NULL) < 0)
        return ds_err_set(err, -EINVAL, "'%s' is not a CIDR prefix (bad address '%s')", text, buf);
    bool v4 = ds_addr_is_v4(&a) && strchr(buf, ':') == NULL;
    long max = v4 ? 32 : 128;
    if (plen < 0)
        plen = max;
    if (plen > max)
        return ds_err_set(err, -EINVAL, "'%s': prefix length %ld exceeds %ld", text, plen, max);
    unsigned len = (unsigned)(v4 ? 96 + plen : plen);
    struct ds_addr m = a;
    mask_bits(&m, len);
    if (!ds_addr_eq(&m, &a))
        return ds_err_set(
            err, -EINVAL, "'%s': host bits set below /%ld (did you mean %s?)", text, plen,
            ds_prefix_format(&(struct ds_prefix){.addr = m, .len = (uint8_t)len}, buf));
    out->addr = a;
    out->len = (uint8_t)len;
    return 0;
}

char *ds_addr_format(const struct ds_addr *a, char *buf)
{
    if (ds_addr_is_v4(a)) {
        /* "%u.%u.%u.%u" by hand: the store formats every profile's address */
        char *o = buf;
        for (int i = 12; i < 16; i++) {
            unsigned v = a->b[i];
            if (v >= 100)
                *o++ = (char)('0' + v / 100);
            if (v >= 10)
                *o++ = (char)('0' + v / 10 % 10);
            *o++ = (char)('0' + v % 10);
            *o++ = i < 15 ? '.' : '\0';
        }
    } else {
        inet_ntop(AF_INET6, a->b, buf, DS_ADDR_STRLEN);
    }
    return buf;
}

char *ds_prefix_format(const struct ds_prefix *p, char *buf)
{
    char a[DS_ADDR_STRLEN];
    ds_addr_format(&p->addr, a);
    unsigned len = ds_prefix_is_v4(p) ? p->len - 96u : p->len;
    snprintf(buf, DS_PREFIX_STRLEN, "%s/%u", a, len);
    return buf;
}

bool ds_prefix_contains(const struct ds_prefix *p, const struct ds_addr *a)
{
    unsigned full = p->len / 8, rem = p->len % 8;
    if (memcmp(p->addr.b, a->b, full) != 0)
        return false;
    if (rem == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rem));
    return (a->b[full] & mask) == p->addr.b[full];
}
