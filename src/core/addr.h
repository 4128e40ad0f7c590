/* addr.h - IPv4/IPv6 addresses and prefixes: one 16-byte form, parsing and formatting. */
#ifndef DS_ADDR_H
#define DS_ADDR_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/err.h"

/*
 * Every address is kept as 16 bytes in network order; IPv4 is the v4-mapped form
 * ::ffff:a.b.c.d so one table can hold both families. ds_addr_v4() reads the IPv4 value
 * in host order (only meaningful when ds_addr_is_v4()).
 */
struct ds_addr {
    uint8_t b[16];
};

struct ds_prefix {
    struct ds_addr addr; /* host bits are zero */
    uint8_t len;         /* 0..128 in the 16-byte space; an IPv4 /n is 96+n */
};

#define DS_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
#define DS_PREFIX_STRLEN 50

/* The accessors below copy whole words (the packet path calls them per packet). */
static const uint8_t ds_addr_v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static inline bool ds_addr_is_v4(const struct ds_addr *a)
{
    return memcmp(a->b, ds_addr_v4_mapped, 12) == 0;
}

static inline uint32_t ds_addr_v4(const struct ds_addr *a)
{
    uint32_t v;
    memcpy(&v, a->b + 12, 4);
    return be32toh(v);
}

static inline void ds_addr_set_v4(struct ds_addr *a, uint32_t v4)
{
    uint32_t be = htobe32(v4);
    memcpy(a->b, ds_addr_v4_mapped, 12);
    memcpy(a->b + 12, &be, 4);
}

static inline void ds_addr_set_v6(struct ds_addr *a, const uint8_t v6[16])
{
    memcpy(a->b, v6, 16);
}

static inline bool ds_addr_eq(const struct ds_addr *x, const struct ds_addr *y)
{
    uint64_t x0, x1, y0, y1;
    memcpy(&x0, x->b, 8);
    memcpy(&x1, x->b + 8, 8);
    memcpy(&y0, y->b, 8);
    memcpy(&y1, y->b + 8, 8);
    return ((x0 ^ y0) | (x1 ^ y1)) == 0;
}

/* Parses "192.0.2.1" or "2001:db8::1". Returns 0 or -EINVAL with a message naming text. */
int ds_addr_parse(struct ds_addr *out, const char *text, struct ds_err *err);

/* Parses "198.51.100.0/24", "2001:db8::/32" or a bare address (host prefix). Host bits
 * set below the prefix length are an error (they usually mean a typo). */
int ds_prefix_parse(struct ds_prefix *out, const char *text, struct ds_err *err);

/* Formats into buf (at least DS_ADDR_STRLEN / DS_PREFIX_STRLEN bytes); returns buf. */
char *ds_addr_format(const struct ds_addr *a, char *buf);
char *ds_prefix_format(const struct ds_prefix *p, char *buf);

/* True when a lies inside p. */
bool ds_prefix_contains(const struct ds_prefix *p, const struct ds_addr *a);

static inline bool ds_prefix_is_v4(const struct ds_prefix *p)
{
    return p->len >= 96 && ds_addr_is_v4(&p->addr);
}

#endif
