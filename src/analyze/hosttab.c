/* hosttab.c - per-shard table of source hosts: an index of 8-byte slots (IPv4 in
 * extendible-hashing segments, IPv6 in one table) over a chunked arena of 128-byte profiles,
 * and the set of (host, port) pairs behind exact distinct-port and per-port source counts.
 *
 * Why this shape (measured on the 10M-packet, 790k-source benchmark capture, see
 * docs/benchmark.md): random access is the packet path's main cost, so the index is small (8
 * slots per cache line) and the engine prefetches each packet's slot, then its profile, a
 * batch ahead. Fresh memory is the next cost (the kernel zeroes every page on first touch): a
 * table that doubles and rehashes touches twice the memory it keeps, while a segment split
 * touches one new 2 MiB segment, and the arena grows chunk by chunk. Profiles are dense in the
 * arena (no load-factor slack), which keeps a host under 128 + 8 / load bytes. */
#include "analyze/hosttab.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

#define SEG_SLOTS (1u << DS_HIDX_SEG_SHIFT)
#define SEG_MASK (SEG_SLOTS - 1)
#define SEG_SPLIT_AT (SEG_SLOTS / 4 * 3) /* a segment splits when 3/4 full */
#define SEG_BYTES ((size_t)SEG_SLOTS * sizeof(struct ds_hslot))
#define MAX_DEPTH 40
#define CHUNK (1u << DS_HOST_CHUNK_SHIFT)
#define CHUNK_BYTES ((size_t)CHUNK * sizeof(struct ds_host))
#define V6_INITIAL 1024
#define PAIRS_INITIAL 1024

/* Pair-set keys: (host << 18 | port key) + 1. An IPv4 host is its address (below 2^32), an
 * IPv6 host is 2^45 + its profile id, so the two never meet and 0 stays the empty marker.
 * IPv6 profile ids are never reused (their pairs stay keyed by them). */
#define PKEY_V6 ((uint64_t)1 << 45)

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
    t->next_id = 1; /* id 0 marks empty index slots */
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
        /* a segment appears in 2^(depth - its depth) consecutive, aligned directory slots */
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
    for (size_t i = 0; i < t->n_chunks; i++)
        ds_bigmem_free(t->chunks[i], CHUNK_BYTES);
    free(t->chunks);
    ds_bigmem_free(t->pairs, (t->pairs_mask + 1) * sizeof *t->pairs);
    memset(t, 0, sizeof *t);
}

size_t ds_hosttab_bytes(const struct ds_hosttab *t)
{
    return t->n_segs * (SEG_BYTES + sizeof(struct ds_hseg)) +
           ((size_t)1 << t->depth) * sizeof *t->dir + (t->scratch ? SEG_BYTES : 0) +
           (t->v6_mask + 1) * sizeof *t->v6 + t->n_chunks * CHUNK_BYTES +
           t->cap_chunks * sizeof *t->chunks + (t->pairs_mask + 1) * sizeof *t->pairs;
}

/* ------------------------------------------------------------------ the arena ----------- */

/* A zeroed profile and its id: a reused IPv4 id when reuse allows, else a new one. */
static struct ds_host *entry_new(struct ds_hosttab *t, bool reuse, uint32_t *out_id)
{
    if (t->free_head && reuse) {
        uint32_t id = t->free_head;
        struct ds_host *e = ds_hosttab_entry(t, id);
        t->free_head = e->packets;
        t->n_free--;
        memset(e, 0, sizeof *e);
        *out_id = id;
        return e;
    }
    uint32_t id = t->next_id;
    if (id == UINT32_MAX)
        return NULL;
    size_t c = id >> DS_HOST_CHUNK_SHIFT;
    if (c == t->n_chunks) {
        if (t->n_chunks == t->cap_chunks) {
            size_t ncap = t->cap_chunks ? t->cap_chunks * 2 : 16;
            struct ds_host **nc = realloc(t->chunks, ncap * sizeof *nc);
            if (!nc)
                return NULL;
            t->chunks = nc;
            t->cap_chunks = ncap;
        }
        t->chunks[c] = ds_bigmem_alloc(CHUNK_BYTES); /* zeroed */
        if (!t->chunks[c])
            return NULL;
        t->n_chunks++;
    }
    t->next_id++;
    *out_id = id;
    return ds_hosttab_entry(t, id);
}

static uint32_t entry_id(const struct ds_hosttab *t, const struct ds_host *e)
{
    for (size_t c = 0; c < t->n_chunks; c++)
        if (e >= t->chunks[c] && e < t->chunks[c] + CHUNK)
            return (uint32_t)((c << DS_HOST_CHUNK_SHIFT) + (size_t)(e - t->chunks[c]));
    return 0;
}

/* ------------------------------------------------------------------ IPv4 index ----------- */

/* Places a slot in segment s (known to have room and not to hold its key). */
static void seg_put(struct ds_hseg *s, struct ds_hslot v, uint64_t h)
{
    size_t i = h & SEG_MASK;
    while (s->slots[i].id)
        i = (i + 1) & SEG_MASK;
    s->slots[i] = v;
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
    size_t n = 0;
    for (size_t i = 0; i < SEG_SLOTS; i++)
        if (s->slots[i].id)
            t->scratch[n++] = s->slots[i];
    memset(s->slots, 0, SEG_BYTES);
    s->count = 0;
    s->depth = (uint8_t)(l + 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t eh = ds_mix64(t->scratch[i].key);
        seg_put((eh >> (63 - l)) & 1 ? ns : s, t->scratch[i], eh);
    }
    /* the directory slots of s: 2^(depth - l) from prefix << (depth - l); the upper half
     * now belongs to ns */
    unsigned span = t->depth - l;
    size_t first = l ? (size_t)(h >> (64 - l)) << span : 0;
    size_t half = (size_t)1 << (span - 1);
    for (size_t i = first + half; i < first + 2 * half; i++)
        t->dir[i] = ns;
    return 0;
}

/* Deletes slot i of a linear-probing table of mask+1 slots, shifting later slots of the same
 * cluster back (no tombstones); home(slot) gives a slot's home position. */
static void probe_delete(struct ds_hslot *tab, size_t mask, size_t i,
                         size_t (*home)(const struct ds_hslot *s, size_t mask))
{
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!tab[j].id)
            break;
        size_t k = home(&tab[j], mask);
        /* move tab[j] into the hole at i unless its home lies cyclically in (i, j] */
        bool stay = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stay) {
            tab[i] = tab[j];
            i = j;
        }
    }
    tab[i].id = 0;
    tab[i].key = 0;
}

static size_t home4(const struct ds_hslot *s, size_t mask)
{
    return ds_mix64(s->key) & mask;
}

/* ------------------------------------------------------------------ IPv6 index ----------- */

static size_t home6_of(const struct ds_hosttab *t, const struct ds_hslot *s, size_t mask)
{
    return ds_hash_addr16(ds_hosttab_entry(t, s->id)->addr.b) & mask;
}

static int grow6(struct ds_hosttab *t)
{
    size_t cap = (t->v6_mask + 1) * 2;
    struct ds_hslot *n = ds_bigmem_alloc(cap * sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->v6_mask; i++) {
        if (!t->v6[i].id)
            continue;
        size_t j = home6_of(t, &t->v6[i], cap - 1);
        while (n[j].id)
            j = (j + 1) & (cap - 1);
        n[j] = t->v6[i];
    }
    ds_bigmem_free(t->v6, (t->v6_mask + 1) * sizeof *t->v6);
    t->v6 = n;
    t->v6_mask = cap - 1;
    return 0;
}

/* ------------------------------------------------------------------ lookups -------------- */

uint32_t ds_hosttab_find(const struct ds_hosttab *t, const struct ds_addr *a, uint64_t h)
{
    if (ds_addr_is_v4(a)) {
        uint32_t key = ds_addr_v4(a);
        const struct ds_hseg *s = ds_hosttab_seg(t, h);
        for (size_t i = h & SEG_MASK;; i = (i + 1) & SEG_MASK) {
            const struct ds_hslot *sl = &s->slots[i];
            if (!sl->id)
                return 0;
            if (sl->key == key)
                return sl->id;
        }
    }
    uint32_t key = (uint32_t)(h >> 32);
    for (size_t i = h & t->v6_mask;; i = (i + 1) & t->v6_mask) {
        const struct ds_hslot *sl = &t->v6[i];
        if (!sl->id)
            return 0;
        if (sl->key == key && ds_addr_eq(&ds_hosttab_entry(t, sl->id)->addr, a))
            return sl->id;
    }
}

static struct ds_host *init_entry(struct ds_host *e, const struct ds_addr *a)
{
    e->addr = *a;
    e->stamp = DS_HOST_NEVER;
    return e;
}

static struct ds_host *get4(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                            bool *created)
{
    uint32_t key = ds_addr_v4(a);
    for (;;) {
        struct ds_hseg *s = ds_hosttab_seg(t, h);
        size_t i = h & SEG_MASK;
        for (;;) {
            struct ds_hslot *sl = &s->slots[i];
            if (!sl->id)
                break;
            if (sl->key == key) {
                *created = false;
                return ds_hosttab_entry(t, sl->id);
            }
            i = (i + 1) & SEG_MASK;
        }
        if (s->count < SEG_SPLIT_AT) {
            uint32_t id;
            struct ds_host *e = entry_new(t, true, &id);
            if (!e)
                return NULL;
            s->slots[i].key = key;
            s->slots[i].id = id;
            s->count++;
            t->v4_count++;
            *created = true;
            return init_entry(e, a);
        }
        if (seg_split(t, h) < 0)
            return NULL;
    }
}

static struct ds_host *get6(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                            bool *created, uint32_t *id)
{
    uint32_t key = (uint32_t)(h >> 32);
    for (;;) {
        size_t i = h & t->v6_mask;
        for (;;) {
            struct ds_hslot *sl = &t->v6[i];
            if (!sl->id)
                break;
            if (sl->key == key) {
                struct ds_host *e = ds_hosttab_entry(t, sl->id);
                if (ds_addr_eq(&e->addr, a)) {
                    *created = false;
                    *id = sl->id;
                    return e;
                }
            }
            i = (i + 1) & t->v6_mask;
        }
        if ((t->v6_count + 1) * 4 <= (t->v6_mask + 1) * 3) {
            uint32_t nid;
            struct ds_host *e = entry_new(t, false, &nid);
            if (!e)
                return NULL;
            t->v6[i].key = key;
            t->v6[i].id = nid;
            t->v6_count++;
            *created = true;
            *id = nid;
            return init_entry(e, a);
        }
        if (grow6(t) < 0)
            return NULL;
    }
}

struct ds_host *ds_hosttab_get(struct ds_hosttab *t, const struct ds_addr *a, uint64_t h,
                               bool *created, uint64_t *pkey)
{
    if (ds_addr_is_v4(a)) {
        *pkey = (uint64_t)ds_addr_v4(a) << DS_PAIR_SHIFT;
        return get4(t, a, h, created);
    }
    uint32_t id = 0;
    struct ds_host *e = get6(t, a, h, created, &id);
    *pkey = (PKEY_V6 | id) << DS_PAIR_SHIFT;
    return e;
}

void ds_hosttab_foreach(struct ds_hosttab *t, void (*fn)(void *ctx, struct ds_host *h), void *ctx)
{
    for (uint32_t id = 1; id < t->next_id; id++) {
        struct ds_host *e = ds_hosttab_entry(t, id);
        if (!(e->flags & DS_HF_FREE))
            fn(ctx, e);
    }
}

/* ------------------------------------------------------------------ the pair set --------- */

static struct ds_pair *pairs_find(struct ds_pair *tab, size_t mask, uint64_t k, bool *found)
{
    size_t i = ds_mix64(k) & mask;
    while (tab[i].key) {
        if (tab[i].key == k) {
            *found = true;
            return &tab[i];
        }
        i = (i + 1) & mask;
    }
    *found = false;
    return &tab[i];
}

static int pairs_grow(struct ds_hosttab *t)
{
    size_t cap = (t->pairs_mask + 1) * 2;
    struct ds_pair *n = ds_bigmem_alloc(cap * sizeof *n);
    if (!n)
        return -ENOMEM;
    for (size_t i = 0; i <= t->pairs_mask; i++) {
        if (!t->pairs[i].key)
            continue;
        bool found;
        *pairs_find(n, cap - 1, t->pairs[i].key, &found) = t->pairs[i];
    }
    ds_bigmem_free(t->pairs, (t->pairs_mask + 1) * sizeof *t->pairs);
    t->pairs = n;
    t->pairs_mask = cap - 1;
    return 0;
}

/* Inserts or finds key k; *prev gets its old stamp (DS_HOST_NEVER when new), the stamp is
 * set to `stamp` (never lowered). 1 new, 0 found, -ENOMEM. */
static int pairs_touch(struct ds_hosttab *t, uint64_t k, uint32_t stamp, uint32_t *prev)
{
    if ((t->pairs_count + 1) * 4 > (t->pairs_mask + 1) * 3 && pairs_grow(t) < 0)
        return -ENOMEM;
    bool found;
    struct ds_pair *p = pairs_find(t->pairs, t->pairs_mask, k, &found);
    if (found) {
        *prev = p->stamp;
        if (stamp > p->stamp || p->stamp == DS_HOST_NEVER)
            p->stamp = stamp;
        return 0;
    }
    p->key = k;
    p->stamp = stamp;
    t->pairs_count++;
    *prev = DS_HOST_NEVER;
    return 1;
}

int ds_hosttab_pair(struct ds_hosttab *t, uint64_t pkey, uint32_t k, uint32_t stamp, uint32_t *prev)
{
    int rc = pairs_touch(t, (pkey | k) + 1, stamp, prev);
    return rc < 0 ? rc : 0;
}

int ds_hosttab_port(struct ds_hosttab *t, struct ds_host *host, uint64_t pkey, uint32_t k,
                    uint32_t stamp, struct ds_port_hit *hit)
{
    bool udp = k >> 16;
    uint16_t port = (uint16_t)k;
    uint16_t f = host->flags;
    hit->prev = DS_HOST_NEVER;
    if ((f & DS_HF_PORT0) && host->ports[0] == port && !!(f & DS_HF_PORT0_UDP) == udp) {
        hit->fresh = false;
        hit->slot = 0;
        return 0;
    }
    if ((f & DS_HF_PORT1) && host->ports[1] == port && !!(f & DS_HF_PORT1_UDP) == udp) {
        hit->fresh = false;
        hit->slot = 1;
        return 0;
    }
    if (!(f & DS_HF_PORT1)) {
        /* a free inline slot. Once the table has evicted hosts, a port may have been seen
         * before an eviction moved the inline ports to the pair set: look there first. */
        if (t->evictions) {
            bool found;
            struct ds_pair *p = pairs_find(t->pairs, t->pairs_mask, (pkey | k) + 1, &found);
            if (found) {
                hit->fresh = false;
                hit->slot = -1;
                hit->prev = p->stamp;
                if (stamp > p->stamp)
                    p->stamp = stamp;
                return 0;
            }
        }
        int slot = (f & DS_HF_PORT0) ? 1 : 0;
        host->ports[slot] = port;
        host->flags |= slot ? (DS_HF_PORT1 | (udp ? DS_HF_PORT1_UDP : 0))
                            : (DS_HF_PORT0 | (udp ? DS_HF_PORT0_UDP : 0));
        hit->fresh = true;
        hit->slot = slot;
        return 0;
    }
    int rc = pairs_touch(t, (pkey | k) + 1, stamp, &hit->prev);
    if (rc < 0)
        return rc;
    hit->fresh = rc == 1;
    hit->slot = -1;
    return 0;
}

/* ------------------------------------------------------------------ eviction ------------- */

int ds_hosttab_remove(struct ds_hosttab *t, struct ds_host *host)
{
    t->evictions++;
    uint64_t pkey;
    bool v4 = ds_addr_is_v4(&host->addr);
    uint64_t h = ds_hosttab_hash(&host->addr);
    uint32_t id = v4 ? 0 : entry_id(t, host);
    pkey =
        v4 ? (uint64_t)ds_addr_v4(&host->addr) << DS_PAIR_SHIFT : (PKEY_V6 | id) << DS_PAIR_SHIFT;
    /* the run must keep knowing the inline ports: move them to the pair set */
    for (int s = 0; s < 2; s++) {
        uint16_t have = s ? DS_HF_PORT1 : DS_HF_PORT0, u = s ? DS_HF_PORT1_UDP : DS_HF_PORT0_UDP;
        if (!(host->flags & have))
            continue;
        uint32_t prev;
        if (pairs_touch(t, (pkey | ds_port_key(!!(host->flags & u), host->ports[s])) + 1,
                        host->stamp, &prev) < 0)
            return -ENOMEM;
    }
    if (v4) {
        struct ds_hseg *s = ds_hosttab_seg(t, h);
        uint32_t key = ds_addr_v4(&host->addr);
        size_t i = h & SEG_MASK;
        while (s->slots[i].id && s->slots[i].key != key)
            i = (i + 1) & SEG_MASK;
        if (!s->slots[i].id)
            return 0; /* not in the index: nothing to do */
        id = s->slots[i].id;
        probe_delete(s->slots, SEG_MASK, i, home4);
        s->count--;
        t->v4_count--;
        memset(host, 0, sizeof *host);
        host->flags = DS_HF_FREE;
        host->packets = t->free_head;
        t->free_head = id;
        t->n_free++;
        return 0;
    }
    /* IPv6: the slot goes, the profile id is retired (its pairs stay keyed by it) */
    size_t i = h & t->v6_mask;
    while (t->v6[i].id && t->v6[i].id != id)
        i = (i + 1) & t->v6_mask;
    if (!t->v6[i].id)
        return 0;
    /* backward-shift deletion needs each slot's home, which comes from its profile */
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->v6_mask;
        if (!t->v6[j].id)
            break;
        size_t k = home6_of(t, &t->v6[j], t->v6_mask);
        bool stay = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stay) {
            t->v6[i] = t->v6[j];
            i = j;
        }
    }
    t->v6[i].id = 0;
    t->v6[i].key = 0;
    t->v6_count--;
    memset(host, 0, sizeof *host);
    host->flags = DS_HF_FREE;
    return 0;
}
