/* lpm.c - longest-prefix-match table: a 16-8-8 trie for IPv4, sorted intervals for IPv6. */
#include "core/lpm.h"

#include <stdio.h>
#include <stdlib.h>

/*
 * Entries: every prefix added, ordered by (length, insertion order). A slot or an interval
 * refers to an entry by index + 1 (0 = no match). Each entry links to its parent: the next
 * shorter prefix that contains it (for duplicates, the previous copy), which is what the
 * all-matches iterator walks.
 *
 * IPv4 trie: root[65536] indexed by the top 16 bits; a slot either holds a match (entry
 * index + 1, or 0) or, with CHILD set, the number of a 256-slot chunk indexed by the next 8
 * bits; a chunk at the second level can point to a third-level chunk for the last 8 bits.
 * Prefixes are expanded into every slot they cover and inserted shortest first, so a longer
 * prefix overwrites a shorter one and every slot ends up holding its longest match (leaf
 * pushing): a lookup is at most three loads with no backtracking.
 *
 * IPv6: every non-IPv4 prefix cut into disjoint intervals [start, next start), each with its
 * longest match; a lookup is a binary search. IPv6 is rare in darknet traffic and a 128-bit
 * trie of 8-bit strides costs a chunk per byte of prefix, so the flat array wins on memory.
 */

#define CHILD 0x80000000u
#define MAX_ENTRIES 0x7ffffffeu

struct ent {
    struct ds_prefix prefix;
    uint32_t value;
    uint32_t parent; /* entry index + 1 of the next shorter containing prefix, 0 none */
};

struct ival {
    uint64_t hi, lo; /* first address of the interval */
};

struct ds_lpm {
    struct ent *ents;
    size_t n_ents;
    uint32_t *root;   /* 65536 slots, NULL when no prefix touches IPv4 */
    uint32_t *chunks; /* n_chunks * 256 slots */
    size_t n_chunks, cap_chunks;
    struct ival *iv;  /* n_iv sorted interval starts (iv[0] is ::) */
    uint32_t *iv_ent; /* match of each interval, entry index + 1 or 0 */
    size_t n_iv;
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

size_t ds_lpm_builder_count(const struct ds_lpm_builder *b) { return b->n; }

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

/* ---- IPv4 trie ---- */

static int new_chunk(struct ds_lpm *t, uint32_t fill, uint32_t *out)
{
    if (t->n_chunks >= (CHILD - 1))
        return -E2BIG;
    if (t->n_chunks == t->cap_chunks) {
        size_t cap = t->cap_chunks ? t->cap_chunks * 2 : 64;
        void *n = realloc(t->chunks, cap * 256 * sizeof *t->chunks);
        if (!n)
            return -ENOMEM;
        t->chunks = n;
        t->cap_chunks = cap;
    }
    uint32_t *c = t->chunks + t->n_chunks * 256;
    for (unsigned i = 0; i < 256; i++)
        c[i] = fill;
    *out = (uint32_t)t->n_chunks++;
    return 0;
}

/* Sets every leaf under *slot (a slot value, possibly a child) to e. Entries are inserted
 * shortest first, so whatever is there is no longer than the new prefix. */
static void fill(struct ds_lpm *t, uint32_t *slot, uint32_t e)
{
    if (!(*slot & CHILD)) {
        *slot = e;
        return;
    }
    uint32_t *c = t->chunks + (size_t)(*slot & ~CHILD) * 256;
    for (unsigned i = 0; i < 256; i++)
        fill(t, &c[i], e);
}

/* Returns the chunk below the slot at t->root / t->chunks index `where` (root when
 * in_root), creating it (filled with the slot's current match) if needed. Indices, not
 * pointers: new_chunk may move t->chunks. */
static int child_of(struct ds_lpm *t, bool in_root, size_t where, uint32_t *chunk)
{
    uint32_t s = in_root ? t->root[where] : t->chunks[where];
    if (s & CHILD) {
        *chunk = s & ~CHILD;
        return 0;
    }
    int rc = new_chunk(t, s, chunk);
    if (rc < 0)
        return rc;
    if (in_root)
        t->root[where] = *chunk | CHILD;
    else
        t->chunks[where] = *chunk | CHILD;
    return 0;
}

static uint32_t v4_find(const struct ds_lpm *t, uint32_t k)
{
    if (!t->root)
        return 0;
    uint32_t s = t->root[k >> 16];
    if (s & CHILD) {
        s = t->chunks[(size_t)(s & ~CHILD) * 256 + ((k >> 8) & 0xff)];
        if (s & CHILD)
            s = t->chunks[(size_t)(s & ~CHILD) * 256 + (k & 0xff)];
    }
    return s;
}

/* Inserts entry e (index + 1) for k/bits, bits 0..32. */
static int v4_insert(struct ds_lpm *t, uint32_t k, unsigned bits, uint32_t e)
{
    if (bits <= 16) {
        size_t first = bits ? k >> 16 : 0, count = (size_t)1 << (16 - bits);
        for (size_t i = 0; i < count; i++)
            fill(t, &t->root[first + i], e);
        return 0;
    }
    uint32_t c2, c3;
    int rc = child_of(t, true, k >> 16, &c2);
    if (rc < 0)
        return rc;
    if (bits <= 24) {
        size_t first = (size_t)c2 * 256 + ((k >> 8) & 0xff), count = (size_t)1 << (24 - bits);
        for (size_t i = 0; i < count; i++)
            fill(t, &t->chunks[first + i], e);
        return 0;
    }
    rc = child_of(t, false, (size_t)c2 * 256 + ((k >> 8) & 0xff), &c3);
    if (rc < 0)
        return rc;
    size_t first = (size_t)c3 * 256 + (k & 0xff), count = (size_t)1 << (32 - bits);
    for (size_t i = 0; i < count; i++)
        t->chunks[first + i] = e; /* third level: always leaves */
    return 0;
}

/* ---- IPv6 intervals ---- */

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

static void prefix_end(const struct ds_prefix *p, uint64_t *hi, uint64_t *lo)
{
    to128(&p->addr, hi, lo);
    unsigned len = p->len;
    if (len < 64) {
        *hi |= len == 0 ? ~0ULL : (~0ULL >> len);
        *lo = ~0ULL;
    } else if (len < 128) {
        *lo |= ~0ULL >> (len - 64);
    }
}

static int cmp_u128(uint64_t ah, uint64_t al, uint64_t bh, uint64_t bl)
{
    if (ah != bh)
        return ah < bh ? -1 : 1;
    if (al != bl)
        return al < bl ? -1 : 1;
    return 0;
}

/* Order of the IPv6 sweep: by start address, then shorter (outer) first, then insertion. */
static int cmp_sweep(const void *x, const void *y, void *arg)
{
    const struct ent *ents = arg;
    const struct ent *a = &ents[*(const uint32_t *)x], *b = &ents[*(const uint32_t *)y];
    int c = memcmp(a->prefix.addr.b, b->prefix.addr.b, 16);
    if (c)
        return c;
    if (a->prefix.len != b->prefix.len)
        return a->prefix.len < b->prefix.len ? -1 : 1;
    /* entries are already in (len, seq) order, so the index breaks ties by insertion */
    uint32_t ia = *(const uint32_t *)x, ib = *(const uint32_t *)y;
    return ia < ib ? -1 : ia > ib;
}

struct open {
    uint64_t end_hi, end_lo;
    uint32_t e; /* entry index + 1 */
};

static int emit(struct ds_lpm *t, size_t *cap, uint64_t hi, uint64_t lo, uint32_t e)
{
    if (t->n_iv && t->iv[t->n_iv - 1].hi == hi && t->iv[t->n_iv - 1].lo == lo) {
        t->iv_ent[t->n_iv - 1] = e;
        return 0;
    }
    if (t->n_iv == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        void *a = realloc(t->iv, nc * sizeof *t->iv);
        if (!a)
            return -ENOMEM;
        t->iv = a;
        void *b = realloc(t->iv_ent, nc * sizeof *t->iv_ent);
        if (!b)
            return -ENOMEM;
        t->iv_ent = b;
        *cap = nc;
    }
    t->iv[t->n_iv] = (struct ival){.hi = hi, .lo = lo};
    t->iv_ent[t->n_iv] = e;
    t->n_iv++;
    return 0;
}

/* Closes the innermost open prefix: from the address after its end, the enclosing one (or
 * nothing) matches. */
static int pop_open(struct ds_lpm *t, size_t *cap, struct open *stack, size_t *depth)
{
    struct open top = stack[--*depth];
    if (top.end_hi == ~0ULL && top.end_lo == ~0ULL)
        return 0; /* runs to the end of the address space */
    uint64_t lo = top.end_lo + 1, hi = top.end_hi + (lo == 0);
    return emit(t, cap, hi, lo, *depth ? stack[*depth - 1].e : 0);
}

static int v6_build(struct ds_lpm *t, uint32_t *idx, size_t n)
{
    int rc = 0;
    size_t cap = 0, depth = 0;
    struct open *stack = NULL;
    if (n == 0)
        return 0;
    qsort_r(idx, n, sizeof *idx, cmp_sweep, t->ents);
    stack = malloc(n * sizeof *stack); /* nesting depth <= n */
    if (!stack)
        return -ENOMEM;
    if ((rc = emit(t, &cap, 0, 0, 0)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct ent *e = &t->ents[idx[i]];
        uint64_t sh, sl, eh, el;
        to128(&e->prefix.addr, &sh, &sl);
        prefix_end(&e->prefix, &eh, &el);
        while (depth && cmp_u128(stack[depth - 1].end_hi, stack[depth - 1].end_lo, sh, sl) < 0)
            if ((rc = pop_open(t, &cap, stack, &depth)) < 0)
                goto out;
        e->parent = depth ? stack[depth - 1].e : 0;
        stack[depth++] = (struct open){.end_hi = eh, .end_lo = el, .e = idx[i] + 1};
        if ((rc = emit(t, &cap, sh, sl, idx[i] + 1)) < 0)
            goto out;
    }
    while (depth)
        if ((rc = pop_open(t, &cap, stack, &depth)) < 0)
            goto out;
    /* merge neighbours with the same match */
    size_t w = 1;
    for (size_t r = 1; r < t->n_iv; r++) {
        if (t->iv_ent[r] == t->iv_ent[w - 1])
            continue;
        t->iv[w] = t->iv[r];
        t->iv_ent[w] = t->iv_ent[r];
        w++;
    }
    t->n_iv = w;
    void *a = realloc(t->iv, w * sizeof *t->iv); /* shrink; failure keeps the larger block */
    if (a)
        t->iv = a;
    void *c = realloc(t->iv_ent, w * sizeof *t->iv_ent);
    if (c)
        t->iv_ent = c;
out:
    free(stack);
    return rc;
}

static uint32_t v6_find(const struct ds_lpm *t, const struct ds_addr *a)
{
    if (t->n_iv == 0)
        return 0;
    uint64_t hi, lo;
    to128(a, &hi, &lo);
    /* last interval whose start <= a; iv[0] starts at :: so one always exists */
    size_t base = 0, n = t->n_iv;
    while (n > 1) {
        size_t half = n / 2;
        const struct ival *m = &t->iv[base + half];
        if (m->hi < hi || (m->hi == hi && m->lo <= lo))
            base += half;
        n -= half;
    }
    return t->iv_ent[base];
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
    struct ds_prefix mapped = {.len = 96};
    mapped.addr.b[10] = 0xff;
    mapped.addr.b[11] = 0xff;
    return ds_prefix_contains(p, &mapped.addr);
}

int ds_lpm_build(const struct ds_lpm_builder *b, struct ds_lpm **out, struct ds_err *err)
{
    int rc = 0;
    uint32_t *v6idx = NULL;
    struct add *sorted = NULL;
    struct ds_lpm *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!t)
        goto nomem;
    t->n_ents = b->n;
    if (b->n) {
        sorted = malloc(b->n * sizeof *sorted);
        t->ents = malloc(b->n * sizeof *t->ents);
        v6idx = malloc(b->n * sizeof *v6idx);
        if (!sorted || !t->ents || !v6idx)
            goto nomem;
        memcpy(sorted, b->v, b->n * sizeof *sorted);
        qsort(sorted, b->n, sizeof *sorted, cmp_len_seq);
    }
    size_t n6 = 0;
    bool any_v4 = false;
    for (size_t i = 0; i < b->n; i++) {
        t->ents[i] = (struct ent){.prefix = sorted[i].prefix, .value = sorted[i].value};
        if (ds_prefix_is_v4(&sorted[i].prefix))
            any_v4 = true;
        else {
            v6idx[n6++] = (uint32_t)i;
            any_v4 |= covers_v4(&sorted[i].prefix);
        }
    }
    if (any_v4) {
        t->root = calloc(65536, sizeof *t->root);
        if (!t->root)
            goto nomem;
    }
    /* shortest first: covering IPv6 prefixes act as IPv4 /0s of their own length */
    for (size_t i = 0; i < b->n; i++) {
        struct ent *e = &t->ents[i];
        uint32_t id = (uint32_t)i + 1;
        if (ds_prefix_is_v4(&e->prefix)) {
            uint32_t k = ds_addr_v4(&e->prefix.addr);
            e->parent = v4_find(t, k); /* everything in so far is no longer than e */
            rc = v4_insert(t, k, e->prefix.len - 96u, id);
        } else if (covers_v4(&e->prefix)) {
            rc = v4_insert(t, 0, 0, id);
        }
        if (rc == -E2BIG) {
            ds_err_set(err, rc, "lpm: IPv4 trie exceeds 2^31 chunks");
            goto out;
        }
        if (rc < 0)
            goto nomem;
    }
    if ((rc = v6_build(t, v6idx, n6)) < 0)
        goto nomem;
    if (t->n_chunks && t->n_chunks < t->cap_chunks) {
        void *c = realloc(t->chunks, t->n_chunks * 256 * sizeof *t->chunks);
        if (c) {
            t->chunks = c;
            t->cap_chunks = t->n_chunks;
        }
    }
    *out = t;
    t = NULL;
    goto out;
nomem:
    rc = ds_err_set(err, -ENOMEM, "lpm: out of memory building a table of %zu prefixes", b->n);
out:
    free(sorted);
    free(v6idx);
    ds_lpm_free(t);
    return rc;
}

void ds_lpm_free(struct ds_lpm *t)
{
    if (!t)
        return;
    free(t->ents);
    free(t->root);
    free(t->chunks);
    free(t->iv);
    free(t->iv_ent);
    free(t);
}

/* ---- lookups ---- */

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
        .v4_chunks = t->n_chunks,
        .v6_intervals = t->n_iv,
        .bytes = sizeof *t + t->n_ents * sizeof *t->ents + (t->root ? 65536 * 4 : 0) +
                 t->cap_chunks * 256 * 4 + t->n_iv * (sizeof *t->iv + sizeof *t->iv_ent),
    };
}
