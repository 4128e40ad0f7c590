/* test_hosttab.c - the per-shard host table (index segment splits, IPv6 growth, eviction, the
 * pair set) against sorted-array references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "analyze/hosttab.h"

/* xorshift64*: deterministic, so a failure reproduces */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static struct ds_host *get(struct ds_hosttab *t, const struct ds_addr *a, bool *created,
                           uint64_t *pkey)
{
    return ds_hosttab_get(t, a, ds_hosttab_hash(a), created, pkey);
}

/* 900,000 lookups of 500,000 drawn IPv4 addresses drawn from a darknet-like space (a few
 * /8s, so addresses share high bits): several segment splits and directory doublings. Every
 * lookup must say "created" exactly the first time, and every host must keep its state
 * across the splits that move it. */
static void test_v4_splits(void **st)
{
    (void)st;
    rng_state = 42;
    enum { DISTINCT = 500000, LOOKUPS = 900000 };
    uint32_t *addrs = malloc(DISTINCT * sizeof *addrs);
    assert_non_null(addrs);
    /* distinct addresses: a random permutation prefix of (8 prefixes x 2^20 hosts) */
    uint64_t *seen = malloc(DISTINCT * sizeof *seen);
    assert_non_null(seen);
    size_t n = 0;
    while (n < DISTINCT) {
        uint32_t a = ((uint32_t)(rnd() % 8) + 10) << 24 | (uint32_t)(rnd() & 0xfffff);
        addrs[n] = a;
        seen[n++] = a;
    }
    qsort(seen, n, sizeof *seen, cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || seen[i] != seen[i - 1])
            seen[distinct++] = seen[i];

    struct ds_hosttab t;
    assert_int_equal(ds_hosttab_init(&t), 0);
    uint8_t *created_once = calloc(distinct, 1);
    assert_non_null(created_once);
    for (size_t i = 0; i < LOOKUPS; i++) {
        uint32_t a = i < DISTINCT ? addrs[i] : addrs[rnd() % DISTINCT];
        struct ds_addr x;
        ds_addr_set_v4(&x, a);
        bool created;
        uint64_t pkey;
        struct ds_host *h = get(&t, &x, &created, &pkey);
        assert_non_null(h);
        assert_int_equal(pkey, (uint64_t)a << DS_PAIR_SHIFT);
        uint64_t key = a;
        uint64_t *pos = bsearch(&key, seen, distinct, sizeof *seen, cmp_u64);
        assert_non_null(pos);
        size_t idx = (size_t)(pos - seen);
        assert_int_equal(created, !created_once[idx]);
        if (created) {
            created_once[idx] = 1;
            /* a new profile is zeroed but for its address and stamp */
            assert_int_equal(h->flags, 0);
            assert_int_equal(h->stamp, DS_HOST_NEVER);
            assert_int_equal(h->fp.unicorn_key, 0);
            assert_true(ds_addr_eq(&h->addr, &x));
            /* leave a mark that must survive every later split */
            h->fp.unicorn_key = a ^ 0x5a5a5a5au;
        } else {
            assert_int_equal(h->fp.unicorn_key, a ^ 0x5a5a5a5au);
        }
    }
    assert_int_equal(ds_hosttab_count(&t), distinct);
    assert_int_equal(t.v4_count, distinct);
    assert_true(t.n_segs >= 3); /* ~480k hosts do not fit in fewer than three segments */
    /* every segment at most 3/4 full, and the counts add up */
    size_t total = 0, nd = (size_t)1 << t.depth;
    for (size_t i = 0; i < nd;) {
        const struct ds_hseg *s = t.dir[i];
        assert_true(s->count <= (1u << DS_HIDX_SEG_SHIFT) / 4 * 3);
        assert_true(s->depth <= t.depth);
        total += s->count;
        i += (size_t)1 << (t.depth - s->depth);
    }
    assert_int_equal(total, distinct);
    ds_hosttab_free(&t);
    free(created_once);
    free(seen);
    free(addrs);
}

/* IPv6 hosts: growth of their table, and IPv4-mapped vs native addresses kept apart. */
static void test_v6(void **st)
{
    (void)st;
    struct ds_hosttab t;
    assert_int_equal(ds_hosttab_init(&t), 0);
    enum { N = 5000 };
    for (int round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < N; i++) {
            struct ds_addr a = {{0x20, 0x01, 0x0d, 0xb8}};
            a.b[12] = (uint8_t)(i >> 24);
            a.b[13] = (uint8_t)(i >> 16);
            a.b[14] = (uint8_t)(i >> 8);
            a.b[15] = (uint8_t)i;
            bool created;
            uint64_t pkey;
            struct ds_host *h = get(&t, &a, &created, &pkey);
            assert_non_null(h);
            assert_int_equal(created, round == 0);
            assert_true(pkey >> 63); /* IPv6 pair keys never meet IPv4 ones */
            if (round == 0)
                h->ports[0] = (uint16_t)i;
            else
                assert_int_equal(h->ports[0], (uint16_t)i);
        }
    }
    assert_int_equal(t.v6_count, N);
    /* ::ffff:0.0.0.5 is the IPv4 host 0.0.0.5, not the IPv6 host ...::5 */
    struct ds_addr v4;
    ds_addr_set_v4(&v4, 5);
    bool created;
    uint64_t pkey;
    assert_non_null(get(&t, &v4, &created, &pkey));
    assert_true(created);
    assert_int_equal(ds_hosttab_count(&t), N + 1);
    ds_hosttab_free(&t);
}

/* Exact distinct (host, port) pairs: two inline ports, the rest in the pair set, TCP and UDP
 * apart, against a reference set; the pair set's interval stamps. */
static void test_ports(void **st)
{
    (void)st;
    rng_state = 7;
    struct ds_hosttab t;
    assert_int_equal(ds_hosttab_init(&t), 0);
    enum { HOSTS = 2000, EVENTS = 200000 };
    uint64_t *ref = malloc(EVENTS * sizeof *ref);
    assert_non_null(ref);
    size_t nref = 0, firsts = 0, inline_hits = 0;
    for (size_t i = 0; i < EVENTS; i++) {
        uint32_t host = (uint32_t)(rnd() % HOSTS);
        /* a few hosts scan many ports, most stay on one or two */
        uint32_t ports = host < 20 ? 5000 : (host < 500 ? 3 : 1);
        uint32_t k = ds_port_key((int)(rnd() & 1) && host >= 20, (uint16_t)(rnd() % ports + 1));
        struct ds_addr a;
        ds_addr_set_v4(&a, 0xc6120000u + host);
        bool created;
        uint64_t pkey;
        struct ds_host *h = get(&t, &a, &created, &pkey);
        struct ds_port_hit hit;
        assert_int_equal(ds_hosttab_port(&t, h, pkey, k, (uint32_t)(i / 1000), &hit), 0);
        firsts += hit.fresh;
        inline_hits += hit.slot >= 0;
        if (hit.slot < 0 && !hit.fresh)
            assert_true(hit.prev <= i / 1000);
        ref[nref++] = (uint64_t)host << DS_PAIR_SHIFT | k;
    }
    qsort(ref, nref, sizeof *ref, cmp_u64);
    size_t distinct = 0, hosts_with_two = 0;
    for (size_t i = 0; i < nref; i++)
        distinct += i == 0 || ref[i] != ref[i - 1];
    assert_int_equal(firsts, distinct);
    for (uint32_t host = 0; host < HOSTS; host++) {
        struct ds_addr a;
        ds_addr_set_v4(&a, 0xc6120000u + host);
        uint32_t id = ds_hosttab_find(&t, &a, ds_hosttab_hash(&a));
        assert_true(id != 0);
        hosts_with_two += !!(ds_hosttab_entry(&t, id)->flags & DS_HF_PORT1);
    }
    /* two inline ports per host that used two or more; the rest in the pair set */
    assert_int_equal(t.pairs_count, distinct - HOSTS - hosts_with_two);
    assert_true(inline_hits > 0);
    ds_hosttab_free(&t);
    free(ref);
}

/* Eviction: removed hosts are gone from the index (the others stay found, across the
 * backward shifts of linear probing), their ids are reused, and their ports stay known to
 * the run (a returning host's old port is not fresh). */
static void test_remove(void **st)
{
    (void)st;
    struct ds_hosttab t;
    assert_int_equal(ds_hosttab_init(&t), 0);
    enum { N = 50000 };
    for (uint32_t i = 0; i < N; i++) {
        struct ds_addr a;
        ds_addr_set_v4(&a, 0x0a000000u + i * 7);
        bool created;
        uint64_t pkey;
        struct ds_host *h = get(&t, &a, &created, &pkey);
        struct ds_port_hit hit;
        assert_int_equal(ds_hosttab_port(&t, h, pkey, ds_port_key(0, 23), 5, &hit), 0);
        assert_true(hit.fresh);
        h->stamp = 5; /* the shard stamps each packet's interval */
    }
    for (uint32_t i = 0; i < N; i += 2) {
        struct ds_addr a;
        ds_addr_set_v4(&a, 0x0a000000u + i * 7);
        uint32_t id = ds_hosttab_find(&t, &a, ds_hosttab_hash(&a));
        assert_true(id != 0);
        assert_int_equal(ds_hosttab_remove(&t, ds_hosttab_entry(&t, id)), 0);
    }
    assert_int_equal(ds_hosttab_count(&t), N / 2);
    assert_int_equal(t.n_free, N / 2);
    for (uint32_t i = 0; i < N; i++) {
        struct ds_addr a;
        ds_addr_set_v4(&a, 0x0a000000u + i * 7);
        uint32_t id = ds_hosttab_find(&t, &a, ds_hosttab_hash(&a));
        assert_int_equal(id != 0, i % 2 == 1);
    }
    uint32_t next = t.next_id;
    for (uint32_t i = 0; i < N; i += 2) {
        struct ds_addr a;
        ds_addr_set_v4(&a, 0x0a000000u + i * 7);
        bool created;
        uint64_t pkey;
        struct ds_host *h = get(&t, &a, &created, &pkey);
        assert_true(created);
        struct ds_port_hit hit;
        assert_int_equal(ds_hosttab_port(&t, h, pkey, ds_port_key(0, 23), 9, &hit), 0);
        assert_false(hit.fresh); /* 23 was seen before the eviction */
        assert_int_equal(hit.prev, 5);
        assert_int_equal(ds_hosttab_port(&t, h, pkey, ds_port_key(0, 80), 9, &hit), 0);
        assert_true(hit.fresh);
    }
    assert_int_equal(t.next_id, next); /* every id came from the free list */
    assert_int_equal(ds_hosttab_count(&t), N);
    ds_hosttab_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_splits),
        cmocka_unit_test(test_v6),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
