/* lpm.c - longest-prefix-match table: disjoint sorted intervals with a /16 index, v4 and v6. */
#include "core/lpm.h"

#include <stdlib.h>

/*
 * Entries: every prefix added, ordered by (length, insertion order). Tables refer to an
 * entry by index + 1 (0 = no match). Each entry links to its parent: the next shorter
 * prefix that contains it (for a duplicate, the previous copy), which is what the
 * all-matches iterator walks.
 *
 * Both families are cut into disjoint intervals [start, next start), each holding its
 * longest match, built by one sweep over the prefixes sorted by start address. A lookup is
 * a binary search, narrowed first by a 65,536-slot index on the top 16 bits: the index gives
 * the intervals that overlap the address's /16 (IPv4) or top 16 bits (IPv6), usually one or
 * a handful, so a lookup is two or three cache-line loads. A 16-8-8 multibit trie was
 * measured first (docs/enrichment.md): as fast on a warm cache but 25x the memory on
 * random prefixes, which made it slower on a cold one.
 */

#define MAX_ENTRIES 0x7ffffffeu

struct ent {
    struct ds_prefix prefix;
    uint32_t value;
    uint32_t parent; /* entry index + 1 of the next shorter containing prefix, 0 none */
};

struct iv4 {
    uint32_t start; /* host order */
    uint32_t e;     /* entry index + 1, or 0 */
};

struct ival {
    uint64_t hi, lo; /* first address of the interval */
};

struct ds_lpm {
    struct ent *ents;
    size_t n_ents;
    struct iv4 *v4; /* n_v4 intervals; v4[0].start == 0. NULL when nothing covers IPv4 */
    uint32_t *idx4; /* 65537: idx4[h] = interval holding h.0.0.0 (h = top 16 bits) */
    uint32_t *bm20; /* 2^20 bits: bit b set when some prefix covers part of the /20 b */
    size_t n_v4;
    struct ival *v6;  /* n_v6 interval starts; v6[0] is :: */
    uint32_t *v6_ent; /* match of each interval */
    uint32_t *idx6;   /* 65537, as idx4 over the top 16 bits of the address */
    size_t n_v6;
};

struct add {
    struct ds_prefix prefix;
    uint32_t value;
    uint32_t seq;
};

struct ds_lpm_builder {
    struct add *v;
    size_t n, cap;
};

int ds_lpm_builder_new(struct ds_lpm_builder **out, struct ds_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return ds_err_set(err, -ENOMEM, "lpm: out of memory");
    return 0;
}

void ds_lpm_builder_free(struct ds_lpm_builder *b)
{
    if (!b)
        return;
    free(b->v);
    free(b);
}

size_t ds_lpm_builder_count(const struct ds_lpm_builder *b)
{
    return b->n;
}

static bool host_bits_clear(const struct ds_prefix *p)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned lo = i * 8; /* first bit of byte i */
        if (lo + 8 <= p->len)
            continue;
        uint8_t mask = lo >= p->len ? 0xff : (uint8_t)(0xffu >> (p->len - lo));
        if (p->addr.b[i] & mask)
            return false;
    }
    return true;
}

int ds_lpm_builder_add(struct ds_lpm_builder *b, const struct ds_prefix *p, uint32_t value,
                       struct ds_err *err)
{
    char buf[DS_ADDR_STRLEN];
    if (p->len > 128)
        return ds_err_set(err, -EINVAL, "lpm: prefix %s/%u: length exceeds 128",
                          ds_addr_format(&p->addr, buf), p->len);
    if (!host_bits_clear(p))
        return ds_err_set(err, -EINVAL, "lpm: prefix %s/%u has host bits set",
                          ds_addr_format(&p->addr, buf), p->len);
    if (b->n >= MAX_ENTRIES)
        return ds_err_set(err, -E2BIG, "lpm: more than %u prefixes", MAX_ENTRIES);
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        void *nv = realloc(b->v, cap * sizeof *b->v);
        if (!nv)
            return ds_err_set(err, -ENOMEM, "lpm: out of memory at %zu prefixes", b->n);
        b->v = nv;
        b->cap = cap;
    }
    b->v[b->n] = (struct add){.prefix = *p, .value = value, .seq = (uint32_t)b->n};
    b->n++;
    return 0;
}

/* ---- the sweep: nested prefixes -> disjoint intervals ---- */

static void to128(const struct ds_addr *a, uint64_t *hi, uint64_t *lo)
{
    uint64_t h = 0, l = 0;
    for (unsigned i = 0; i < 8; i++) {
        h = (h << 8) | a->b[i];
        l = (l << 8) | a->b[8 + i];
    }
    *hi = h;
    *lo = l;
}

/* One prefix as a closed range of 128-bit keys (IPv4 uses the low 32 bits). */
struct item {
    uint64_t sh, sl, eh, el;
    uint32_t e;      /* entry index + 1 */
    bool set_parent; /* this sweep owns the entry's parent link */
};

struct bnd {
    uint64_t hi, lo;
    uint32_t e;
};

struct bnds {
    struct bnd *v;
    size_t n, cap;
};

static int cmp_u128(uint64_t ah, uint64_t al, uint64_t bh, uint64_t bl)
{
    if (ah != bh)
        return ah < bh ? -1 : 1;
    if (al != bl)
        return al < bl ? -1 : 1;
    return 0;
}

/* By start, then entry index: entries are in (length, insertion) order, so an outer prefix
 * comes before the prefixes it contains and duplicates keep their insertion order. */
static int cmp_item(const void *x, const void *y)
{
    const struct item *a = x, *b = y;
    int c = cmp_u128(a->sh, a->sl, b->sh, b->sl);
    if (c)
        return c;
    return a->e < b->e ? -1 : a->e > b->e;
}

static int emit(struct bnds *o, uint64_t hi, uint64_t lo, uint32_t e)
{
    if (o->n && o->v[o->n - 1].hi == hi && o->v[o->n - 1].lo == lo) {
        o->v[o->n - 1].e = e; /* several changes at one address: the last one holds */
        return 0;
    }
    if (o->n == o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 64;
        void *a = realloc(o->v, nc * sizeof *o->v);
        if (!a)
            return -ENOMEM;
        o->v = a;
        o->cap = nc;
    }
    o->v[o->n++] = (struct bnd){.hi = hi, .lo = lo, .e = e};
    return 0;
}

/* Closes the innermost open prefix: after its end the enclosing one (or nothing) matches.
 * `top_h:top_l` is the last key of the space (IPv4: 2^32 - 1). */
static int pop_open(struct bnds *o, const struct item *stack, size_t *depth, uint64_t top_h,
                    uint64_t top_l)
{
    const struct item *t = &stack[--*depth];
    if (t->eh == top_h && t->el == top_l)
        return 0; /* runs to the end of the space */
    uint64_t lo = t->el + 1, hi = t->eh + (lo == 0);
    return emit(o, hi, lo, *depth ? stack[*depth - 1].e : 0);
}

/* Sorts items (n >= 1) and turns them into boundaries: o->v[i] starts an interval that runs
 * to o->v[i + 1]; o->v[0] is the space's first key. Sets the parents the sweep owns. */
static int sweep(struct ent *ents, struct item *items, size_t n, uint64_t top_h, uint64_t top_l,
                 struct bnds *o)
{
    int rc;
    size_t depth = 0;
    struct item *stack = malloc(n * sizeof *stack); /* nesting depth <= n */
    if (!stack)
        return -ENOMEM;
    qsort(items, n, sizeof *items, cmp_item);
    if ((rc = emit(o, 0, 0, 0)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct item *it = &items[i];
        while (depth && cmp_u128(stack[depth - 1].eh, stack[depth - 1].el, it->sh, it->sl) < 0)
            if ((rc = pop_open(o, stack, &depth, top_h, top_l)) < 0)
                goto out;
        if (it->set_parent)
            ents[it->e - 1].parent = depth ? stack[depth - 1].e : 0;
        stack[depth++] = *it;
        if ((rc = emit(o, it->sh, it->sl, it->e)) < 0)
            goto out;
    }
    while (depth)
        if ((rc = pop_open(o, stack, &depth, top_h, top_l)) < 0)
            goto out;
    size_t w = 1; /* merge neighbours with the same match */
    for (size_t r = 1; r < o->n; r++)
        if (o->v[r].e != o->v[w - 1].e)
            o->v[w++] = o->v[r];
    o->n = w;
out:
    free(stack);
    return rc;
}

/* idx[h] = the last interval starting at or before the first key of top-16-bit block h, for
 * h in 0..65535, and idx[65536] = the last interval. A key in block h then lies in one of
 * the intervals idx[h] .. idx[h + 1]. le(iv, j, h): interval j starts at or before block h. */
static uint32_t *build_index(const void *iv, size_t n, bool (*le)(const void *, size_t, uint32_t))
{
    uint32_t *idx = malloc(65537 * sizeof *idx);
    if (!idx)
        return NULL;
    size_t j = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        while (j + 1 < n && le(iv, j + 1, h))
            j++;
        idx[h] = (uint32_t)j;
    }
    idx[65536] = (uint32_t)(n - 1);
    return idx;
}

/* The /20 filter: one bit per /20 of the IPv4 space (128 KiB, so it stays in a core's L2
 * cache where the intervals and their index do not), set when any interval with a match
 * overlaps it. An address whose /20 no prefix touches, the common case for a registry of a
 * few percent of the space, is answered by one load; the others search as before. */
#define BM20_WORDS (1u << 15)

static uint32_t *build_bm20(const struct iv4 *v, size_t n)
{
    uint32_t *bm = calloc(BM20_WORDS, sizeof *bm);
    if (!bm)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].e)
            continue;
        uint32_t first = v[i].start >> 12;
        uint32_t last = (i + 1 < n ? v[i + 1].start - 1 : 0xffffffffu) >> 12;
        for (uint32_t b = first;; b++) {
            bm[b >> 5] |= 1u << (b & 31);
            if (b == last)
                break;
        }
    }
    return bm;
}

static inline bool bm20_maybe(const struct ds_lpm *t, uint32_t k)
{
    return t->bm20[k >> 17] >> ((k >> 12) & 31) & 1;
}

static bool le_v4(const void *iv, size_t j, uint32_t h)
{
    return ((const struct iv4 *)iv)[j].start <= h << 16;
}

static bool le_v6(const void *iv, size_t j, uint32_t h)
{
    const struct ival *v = &((const struct ival *)iv)[j];
    uint64_t first = (uint64_t)h << 48;
    return v->hi < first || (v->hi == first && v->lo == 0);
}

/* ---- build ---- */

static int cmp_len_seq(const void *x, const void *y)
{
    const struct add *a = x, *b = y;
    if (a->prefix.len != b->prefix.len)
        return a->prefix.len < b->prefix.len ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* True when p (not itself IPv4) contains the whole v4-mapped block ::ffff:0:0/96. */
static bool covers_v4(const struct ds_prefix *p)
{
    if (p->len > 96)
        return false;
    struct ds_addr mapped = {.b = {[10] = 0xff, [11] = 0xff}};
    return ds_prefix_contains(p, &mapped);
}

int ds_lpm_build(const struct ds_lpm_builder *b, struct ds_lpm **out, struct ds_err *err)
{
    int rc = 0;
    struct item *i4 = NULL, *i6 = NULL;
    struct bnds o4 = {0}, o6 = {0};
    struct ds_lpm *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t)
        goto nomem;
    t->n_ents = b->n;
    size_t n4 = 0, n6 = 0;
    if (b->n) {
        struct add *sorted = malloc(b->n * sizeof *sorted);
        t->ents = malloc(b->n * sizeof *t->ents);
        i4 = malloc(b->n * sizeof *i4);
        i6 = malloc(b->n * sizeof *i6);
        if (!sorted || !t->ents || !i4 || !i6) {
            free(sorted);
            goto nomem;
        }
        memcpy(sorted, b->v, b->n * sizeof *sorted);
        qsort(sorted, b->n, sizeof *sorted, cmp_len_seq);
        for (size_t i = 0; i < b->n; i++)
            t->ents[i] = (struct ent){.prefix = sorted[i].prefix, .value = sorted[i].value};
        free(sorted);
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct ds_prefix *p = &t->ents[i].prefix;
        uint32_t e = (uint32_t)i + 1;
        if (ds_prefix_is_v4(p)) {
            unsigned bits = p->len - 96u;
            uint32_t k = ds_addr_v4(&p->addr);
            uint32_t span = bits == 0 ? 0xffffffffu : (uint32_t)((1ULL << (32 - bits)) - 1);
            i4[n4++] = (struct item){.sl = k, .el = k | span, .e = e, .set_parent = true};
            continue;
        }
        /* an IPv6 prefix covering ::ffff:0:0/96 is, for IPv4, a /0 shorter than 0.0.0.0/0 */
        if (covers_v4(p))
            i4[n4++] = (struct item){.sl = 0, .el = 0xffffffffu, .e = e, .set_parent = false};
        struct item it = {.e = e, .set_parent = true};
        to128(&p->addr, &it.sh, &it.sl);
        it.eh = it.sh;
        it.el = it.sl;
        if (p->len < 64) {
            it.eh |= p->len == 0 ? ~0ULL : (~0ULL >> p->len);
            it.el = ~0ULL;
        } else if (p->len < 128) {
            it.el |= ~0ULL >> (p->len - 64);
        }
        i6[n6++] = it;
    }
    if (n4) {
        if ((rc = sweep(t->ents, i4, n4, 0, 0xffffffffu, &o4)) < 0)
            goto nomem;
        t->v4 = malloc(o4.n * sizeof *t->v4);
        if (!t->v4)
            goto nomem;
        for (size_t i = 0; i < o4.n; i++)
            t->v4[i] = (struct iv4){.start = (uint32_t)o4.v[i].lo, .e = o4.v[i].e};
        t->n_v4 = o4.n;
        if (!(t->idx4 = build_index(t->v4, t->n_v4, le_v4)) ||
            !(t->bm20 = build_bm20(t->v4, t->n_v4)))
            goto nomem;
    }
    if (n6) {
        if ((rc = sweep(t->ents, i6, n6, ~0ULL, ~0ULL, &o6)) < 0)
            goto nomem;
        t->v6 = malloc(o6.n * sizeof *t->v6);
        t->v6_ent = malloc(o6.n * sizeof *t->v6_ent);
        if (!t->v6 || !t->v6_ent)
            goto nomem;
        for (size_t i = 0; i < o6.n; i++) {
            t->v6[i] = (struct ival){.hi = o6.v[i].hi, .lo = o6.v[i].lo};
            t->v6_ent[i] = o6.v[i].e;
        }
        t->n_v6 = o6.n;
        if (!(t->idx6 = build_index(t->v6, t->n_v6, le_v6)))
            goto nomem;
    }
    *out = t;
    t = NULL;
    goto out;
nomem:
    rc = ds_err_set(err, -ENOMEM, "lpm: out of memory building a table of %zu prefixes", b->n);
out:
    free(i4);
    free(i6);
    free(o4.v);
    free(o6.v);
    ds_lpm_free(t);
    return rc;
}

void ds_lpm_free(struct ds_lpm *t)
{
    if (!t)
        return;
    free(t->ents);
    free(t->v4);
    free(t->idx4);
    free(t->bm20);
    free(t->v6);
    free(t->v6_ent);
    free(t->idx6);
    free(t);
}

static uint32_t v4_find(const struct ds_lpm *t, uint32_t k)
{
    if (!t->v4 || !bm20_maybe(t, k))
        return 0;
    const uint32_t *ix = &t->idx4[k >> 16];
    size_t base = ix[0], n = ix[1] - ix[0] + 1;
    while (n > 1) { /* last interval in [ix[0], ix[1]] starting at or before k */
        size_t half = n / 2;
        if (t->v4[base + half].start <= k)
            base += half;
        n -= half;
    }
    return t->v4[base].e;
}

static uint32_t v6_find(const struct ds_lpm *t, const struct ds_addr *a)
{
    if (!t->v6)
        return 0;
    uint64_t hi, lo;
    to128(a, &hi, &lo);
    const uint32_t *ix = &t->idx6[hi >> 48];
    size_t base = ix[0], n = ix[1] - ix[0] + 1;
    while (n > 1) {
        size_t half = n / 2;
        const struct ival *m = &t->v6[base + half];
        if (m->hi < hi || (m->hi == hi && m->lo <= lo))
            base += half;
        n -= half;
    }
    return t->v6_ent[base];
}

/* ---- lookups ---- */

void ds_lpm_prefetch(const struct ds_lpm *t, const struct ds_addr *a)
{
    if (!t || !t->v4 || !ds_addr_is_v4(a))
        return;
    uint32_t k = ds_addr_v4(a);
    __builtin_prefetch(&t->bm20[k >> 17], 0, 3);
    __builtin_prefetch(&t->idx4[k >> 16], 0, 3);
}

static uint32_t find(const struct ds_lpm *t, const struct ds_addr *a)
{
    return ds_addr_is_v4(a) ? v4_find(t, ds_addr_v4(a)) : v6_find(t, a);
}

bool ds_lpm_lookup(const struct ds_lpm *t, const struct ds_addr *a, uint32_t *value)
{
    uint32_t e = find(t, a);
    if (!e)
        return false;
    *value = t->ents[e - 1].value;
    return true;
}

bool ds_lpm_lookup_v4(const struct ds_lpm *t, uint32_t v4, uint32_t *value)
{
    uint32_t e = v4_find(t, v4);
    if (!e)
        return false;
    *value = t->ents[e - 1].value;
    return true;
}

void ds_lpm_iter_init(struct ds_lpm_iter *it, const struct ds_lpm *t, const struct ds_addr *a)
{
    it->t = t;
    it->next = find(t, a);
}

bool ds_lpm_iter_next(struct ds_lpm_iter *it, struct ds_prefix *prefix, uint32_t *value)
{
    if (!it->next)
        return false;
    const struct ent *e = &it->t->ents[it->next - 1];
    if (prefix)
        *prefix = e->prefix;
    if (value)
        *value = e->value;
    it->next = e->parent;
    return true;
}

void ds_lpm_get_stats(const struct ds_lpm *t, struct ds_lpm_stats *out)
{
    *out = (struct ds_lpm_stats){
        .prefixes = t->n_ents,
        .v4_intervals = t->n_v4,
        .v6_intervals = t->n_v6,
        .bytes = sizeof *t + t->n_ents * sizeof(struct ent) + t->n_v4 * sizeof(struct iv4) +
                 t->n_v6 * (sizeof(struct ival) + sizeof(uint32_t)) +
                 ((t->idx4 ? 1 : 0) + (t->idx6 ? 1 : 0)) * 65537 * sizeof(uint32_t) +
                 (t->bm20 ? BM20_WORDS * sizeof(uint32_t) : 0),
    };
}
