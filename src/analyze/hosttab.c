/* hosttab.c - per-shard table of source hosts (16-byte IPv4 entries in extendible-hashing
 * segments, 32-byte IPv6 entries) and the set of (host, port) pairs behind exact per-port
 * unique-source counts.
 *
 * Why this shape (measured on the 10M-packet, 790k-source benchmark capture): random access
 * into this table is the packet path's main cost, so entries are small (four per cache
 * line) and the engine prefetches each packet's home slot a batch ahead. Fresh memory is the
 * next cost (the kernel zeroes every page on first touch): a table that doubles and rehashes
 * touches twice the memory it ends up keeping and stalls on the rehash, while a segment
 * split touches one new 2 MiB segment and re-places the entries of one old one. */
#include "analyze/hosttab.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

#define SEG_SLOTS (1u << DS_HOST_SEG_SHIFT)
#define SEG_MASK (SEG_SLOTS - 1)
#define SEG_SPLIT_AT (SEG_SLOTS / 4 * 3) /* a segment splits when 3/4 full */
#define SEG_BYTES ((size_t)SEG_SLOTS * sizeof(struct ds_host4))
#define MAX_DEPTH 40 /* 2^40 segments: far beyond any memory */
#define V6_INITIAL 1024
#define PAIRS_INITIAL 1024

static struct ds_hseg *seg_new(uint8_t depth)
{
    struct ds_hseg *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->slots = ds_bigmem_alloc(SEG_BYTES);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    s->depth = depth;
    return s;
}

static void seg_free(struct ds_hseg *s)
{
    ds_bigmem_free(s->slots, SEG_BYTES);
    free(s);
}

int ds_hosttab_init(struct ds_hosttab *t)
{
    memset(t, 0, sizeof *t);
    t->dir = calloc(1, sizeof *t->dir);
    if (t->dir)
        t->dir[0] = seg_new(0);
    t->n_segs = 1;
    t->v6_mask = V6_INITIAL - 1;
    t->v6 = ds_bigmem_alloc(V6_INITIAL * sizeof *t->v6);
    t->v6_next_id = 1;
    t->pairs_mask = PAIRS_INITIAL - 1;
    t->pairs = ds_bigmem_alloc(PAIRS_INITIAL * sizeof *t->pairs);
    if (!t->dir || !t->dir[0] || !t->v6 || !t->pairs) {
        ds_hosttab_free(t);
        return -ENOMEM;
    }
    return 0;
}

void ds_hosttab_free(struct ds_hosttab *t)
{
    if (t->dir) {
        /* a segment appears in 2^(depth - its depth) consecutive directory slots */
        size_t n = (size_t)1 << t->depth;
        for (size_t i = 0; i < n;) {
            struct ds_hseg *s = t->dir[i];
            if (!s) {
                i++;
                continue;
            }
            i += (size_t)1 << (t->depth - s->depth);
            seg_free(s);
        }
        free(t->dir);
    }
    ds_bigmem_free(t->scratch, SEG_BYTES);
    ds_bigmem_free(t->v6, (t->v6_mask + 1) * sizeof *t->v6);
    ds_bigmem_free(t->pairs, (t->pairs_mask + 1) * sizeof *t->pairs);
    memset(t, 0, sizeof *t);
}

size_t ds_hosttab_bytes(const struct ds_hosttab *t)
{
    return t->n_segs * (SEG_BYTES + sizeof(struct ds_hseg)) +
           ((size_t)1 << t->depth) * sizeof *t->dir + (t->scratch ? SEG_BYTES : 0) +
           (t->v6_mask + 1) * sizeof *t->v6 + (t->pairs_mask + 1) * sizeof *t->pairs;
}

/* Places e in segment s (known to have room and not to hold e's address). */
static void seg_put(struct ds_hseg *s, const struct ds_host4 *e, uint64_t h)
{
    size_t i = h & SEG_MASK;
    while (s->slots[i].h.flags & DS_HOST_USED)
        i = (i + 1) & SEG_MASK;
    s->slots[i] = *e;
    s->count++;
}

/* Splits the segment that hash h maps to: its hosts whose next hash bit is 1 move to a new
 * segment. Doubles the directory first when the segment is as deep as the directory. */
static int seg_split(struct ds_hosttab *t, uint64_t h)
{
    struct ds_hseg *s = ds_hosttab_seg(t, h);
    unsigned l = s->depth;
    if (l >= MAX_DEPTH)
        return -ENOMEM;
    if (!t->scratch && !(t->scratch = ds_bigmem_alloc(SEG_BYTES)))
        return -ENOMEM;
    if (l == t->depth) {
        size_t n = (size_t)1 << t->depth;
        struct ds_hseg **nd = malloc(2 * n * sizeof *nd);
        if (!nd)
            return -ENOMEM;
        for (size_t i = 0; i < 2 * n; i++)
            nd[i] = t->dir[i >> 1];
        free(t->dir);
        t->dir = nd;
        t->depth++;
    }
    struct ds_hseg *ns = seg_new((uint8_t)(l + 1));
    if (!ns)
        return -ENOMEM;
    t->n_segs++;
    /* move the hosts out, then put each back into s or ns by hash bit 63 - l */
    size_t n = 0;
    for (size_t i = 0; i < SEG_SLOTS; i++)
        if (s->slots[i].h.flags & DS_HOST_USED)
            t->scratch[n++] = s->slots[i];
    memset(s->slots, 0, SEG_BYTES);
    s->count = 0;
    s->depth = (uint8_t)(l + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t eh = ds_mix64(t->scratch[i].addr);
        seg_put((eh >> (63 - l)) & 1 ? ns : s, &t->scratch[i], eh);
    }
    /* the directory slots of s: 2^(depth - l) from prefix << (depth - l); the upper half
     * now belongs to ns */
    unsigned span = t->depth - l;
    size_t first = l ? (size_t)(h >> (64 - l)) << span : 0;
    size_t half = (size_t)1 << (span - 1);
    for (size_t i = first + half; i < first + 2 * half; i++)
        t->dir[i] = ns;
    t->moves++;
    return 0;
}

static struct ds_host *get4(struct ds_hosttab *t, uint32_t a, uint64_t h, bool *created)
{
    for (;;) {
        struct ds_hseg *s = ds_hosttab_seg(t, h);
        size_t i = h & SEG_MASK;
        for (;;) {
            struct ds_host4 *e = &s->slots[i];
            if (!(e->h.flags & DS_HOST_USED))
                break;
            if (e->addr == a) {
                *created = false;
                return &e->h;
            }
            i = (i + 1) & SEG_MASK;
        }
        if (s->count < SEG_SPLIT_AT) {
            struct ds_host4 *e = &s->slots[i];
            e->addr = a;
            e->h.flags = DS_HOST_USED;
            s->count++;
            t->v4_count++;
            *created = true;
            return &e->h;
        }
        if (seg_split(t, h) < 0)
            return NULL;
    }
}

static int grow6(struct ds_hosttab *t)
{
    size_t cap = (t->v6_mask + 1) * 2;
    struct ds_host6 *n = ds_bigmem_alloc(cap * sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->v6_mask; i++) {
        const struct ds_host6 *e = &t->v6[i];
        if (!(e->h.flags & DS_HOST_USED))
            continue;
        size_t j = ds_hash_addr16(e->addr.b) & (cap - 1);
        while (n[j].h.flags & DS_HOST_USED)
            j = (j + 1) & (cap - 1);
        n[j] = *e;
    }
    ds_bigmem_free(t->v6, (t->v6_mask + 1) * sizeof *t->v6);
    t->v6 = n;
    t->v6_mask = cap - 1;
    t->moves++;
    return 0;
}

static struct ds_host6 *get6(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                             bool *created)
{
    for (;;) {
        size_t i = h & t->v6_mask;
        for (;;) {
            struct ds_host6 *e = &t->v6[i];
            if (!(e->h.flags & DS_HOST_USED))
                break;
            if (ds_addr_eq(&e->addr, a)) {
                *created = false;
                return e;
            }
            i = (i + 1) & t->v6_mask;
        }
        if ((t->v6_count + 1) * 4 <= (t->v6_mask + 1) * 3 && t->v6_next_id < UINT32_MAX) {
            struct ds_host6 *e = &t->v6[i];
            e->addr = *a;
            e->id = t->v6_next_id++;
            e->h.flags = DS_HOST_USED;
            t->v6_count++;
            *created = true;
            return e;
        }
        if (t->v6_next_id == UINT32_MAX || grow6(t) < 0)
            return NULL;
    }
}

/* Pair-set keys: (host << 17 | port key) + 1. An IPv4 host is its address (below 2^32), an
 * IPv6 host is 2^46 + its id, so the two never meet and 0 stays free as the empty marker. */
#define PKEY_V6 ((uint64_t)1 << 46)

struct ds_host *ds_hosttab_get(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                               bool *created, uint64_t *pkey)
{
    if (ds_addr_is_v4(a)) {
        uint32_t v4 = ds_addr_v4(a);
        *pkey = (uint64_t)v4 << 17;
        return get4(t, v4, h, created);
    }
    struct ds_host6 *e = get6(t, a, h, created);
    if (!e)
        return NULL;
    *pkey = (PKEY_V6 | e->id) << 17;
    return &e->h;
}

static bool pairs_insert(uint64_t *tab, size_t mask, uint64_t k)
{
    size_t i = ds_mix64(k) & mask;
    while (tab[i]) {
        if (tab[i] == k)
            return false;
        i = (i + 1) & mask;
    }
    tab[i] = k;
    return true;
}

static int pairs_grow(struct ds_hosttab *t)
{
    size_t cap = (t->pairs_mask + 1) * 2;
    uint64_t *n = ds_bigmem_alloc(cap * sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->pairs_mask; i++)
        if (t->pairs[i])
            pairs_insert(n, cap - 1, t->pairs[i]);
    ds_bigmem_free(t->pairs, (t->pairs_mask + 1) * sizeof *t->pairs);
    t->pairs = n;
    t->pairs_mask = cap - 1;
    return 0;
}

int ds_hosttab_add_port(struct ds_hosttab *t, struct ds_host *host, uint64_t pkey, uint32_t k)
{
    uint8_t udp = k >> 16 ? DS_HOST_PORT0_UDP : 0;
    if (!(host->flags & DS_HOST_PORT0)) {
        host->flags |= DS_HOST_PORT0 | udp;
        host->port0 = (uint16_t)k;
        return 1;
    }
    if (host->port0 == (uint16_t)k && (host->flags & DS_HOST_PORT0_UDP) == udp)
        return 0;
    if ((t->pairs_count + 1) * 4 > (t->pairs_mask + 1) * 3 && pairs_grow(t) < 0)
        return -ENOMEM;
    if (!pairs_insert(t->pairs, t->pairs_mask, (pkey | k) + 1))
        return 0;
    t->pairs_count++;
    return 1;
}
