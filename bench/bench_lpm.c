/* bench_lpm.c - longest-prefix-match cost: 100,000 IPv4 + 10,000 IPv6 prefixes, 10^7 lookups,
 * reported as ratios against baselines measured in the same run (a hash of each address, a
 * linear scan over 64 prefixes). Usage: bench_lpm [lookups] [v4-prefixes] [v6-prefixes] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/hash.h"
#include "core/lpm.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A routing-table-like length mix (most /24, then /22-/23, /16-/21, a few short and long). */
static unsigned v4_len(void)
{
    unsigned r = (unsigned)(rnd() % 100);
    if (r < 55)
        return 24;
    if (r < 70)
        return 22 + (unsigned)(rnd() % 2);
    if (r < 90)
        return 16 + (unsigned)(rnd() % 6);
    if (r < 95)
        return 8 + (unsigned)(rnd() % 8);
    return 25 + (unsigned)(rnd() % 8);
}

static unsigned v6_len(void)
{
    static const unsigned lens[] = {29, 32, 32, 36, 40, 44, 48, 48, 48, 48, 56, 64, 128};
    return lens[rnd() % (sizeof lens / sizeof lens[0])];
}

static void mask(struct ds_prefix *p)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned lo = i * 8;
        if (lo + 8 <= p->len)
            continue;
        p->addr.b[i] &= lo >= p->len ? 0 : (uint8_t)(0xff00u >> (p->len - lo));
    }
}

static volatile uint64_t sink;

int main(int argc, char **argv)
{
    size_t n_look = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000;
    size_t n4 = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    size_t n6 = argc > 3 ? strtoul(argv[3], NULL, 10) : 10000;
    struct ds_err err = {0};
    struct ds_lpm_builder *b = NULL;
    struct ds_lpm *t = NULL;
    struct ds_prefix *p6 = calloc(n6 ? n6 : 1, sizeof *p6);
    struct ds_addr *a4 = malloc(n_look * sizeof *a4), *a6 = malloc(n_look / 10 * sizeof *a6);
    if (!p6 || !a4 || !a6 || ds_lpm_builder_new(&b, &err) < 0)
        return 1;

    for (size_t i = 0; i < n4; i++) {
        struct ds_prefix p = {.len = (uint8_t)(96 + v4_len())};
        ds_addr_set_v4(&p.addr, (uint32_t)(rnd() >> 32));
        mask(&p);
        if (ds_lpm_builder_add(b, &p, (uint32_t)i, &err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < n6; i++) {
        struct ds_prefix *p = &p6[i];
        uint64_t x = rnd(), y = rnd();
        memcpy(p->addr.b, &x, 8);
        memcpy(p->addr.b + 8, &y, 8);
        p->addr.b[0] = 0x20;
        p->addr.b[1] = (uint8_t)(rnd() % 16);
        p->len = (uint8_t)v6_len();
        mask(p);
        if (ds_lpm_builder_add(b, p, (uint32_t)(n4 + i), &err) < 0)
            goto fail;
    }
    double t0 = now();
    if (ds_lpm_build(b, &t, &err) < 0)
        goto fail;
    double build_s = now() - t0;
    struct ds_lpm_stats st;
    ds_lpm_get_stats(t, &st);

    /* addresses: uniformly random IPv4 (darknet sources come from everywhere), and IPv6
     * inside the table's prefixes (a uniformly random IPv6 address matches nothing) */
    for (size_t i = 0; i < n_look; i++)
        ds_addr_set_v4(&a4[i], (uint32_t)(rnd() >> 32));
    size_t n_look6 = n_look / 10;
    for (size_t i = 0; i < n_look6; i++) {
        a6[i] = p6[rnd() % (n6 ? n6 : 1)].addr;
        a6[i].b[15] ^= (uint8_t)rnd();
    }

    /* baseline 1: one ds_mix64 per address (what any per-source hash table pays anyway) */
    uint64_t acc = 0;
    t0 = now();
    for (size_t i = 0; i < n_look; i++)
        acc += ds_hash_addr16(a4[i].b);
    double base_hash = (now() - t0) / (double)n_look;
    sink = acc;

    /* baseline 2: a linear scan over 64 prefixes (the naive registry) */
    struct ds_prefix scan[64];
    for (int i = 0; i < 64; i++) {
        scan[i].len = (uint8_t)(96 + v4_len());
        ds_addr_set_v4(&scan[i].addr, (uint32_t)(rnd() >> 32));
        mask(&scan[i]);
    }
    size_t n_scan = n_look / 10;
    acc = 0;
    t0 = now();
    for (size_t i = 0; i < n_scan; i++) {
        unsigned best = 0;
        for (int k = 0; k < 64; k++)
            if (ds_prefix_contains(&scan[k], &a4[i]) && scan[k].len > best)
                best = scan[k].len;
        acc += best;
    }
    double base_scan = (now() - t0) / (double)n_scan;
    sink = acc;

    /* the table */
    size_t hits = 0;
    uint32_t v = 0;
    t0 = now();
    for (size_t i = 0; i < n_look; i++) {
        hits += ds_lpm_lookup(t, &a4[i], &v);
        acc += v;
    }
    double lpm4 = (now() - t0) / (double)n_look;
    size_t hits_v4 = 0;
    t0 = now();
    for (size_t i = 0; i < n_look; i++) {
        hits_v4 += ds_lpm_lookup_v4(t, ds_addr_v4(&a4[i]), &v);
        acc += v;
    }
    double lpm4h = (now() - t0) / (double)n_look;
    size_t hits6 = 0;
    t0 = now();
    for (size_t i = 0; i < n_look6; i++) {
        hits6 += ds_lpm_lookup(t, &a6[i], &v);
        acc += v;
    }
    double lpm6 = (now() - t0) / (double)n_look6;
    sink = acc;

    printf("lpm: %zu IPv4 + %zu IPv6 prefixes: build %.1f ms, %.1f MiB (%zu v4 + %zu v6 "
           "intervals, %.0f bytes/prefix)\n",
           n4, n6, build_s * 1e3, (double)st.bytes / 1048576.0, st.v4_intervals, st.v6_intervals,
           (double)st.bytes / (double)(n4 + n6 ? n4 + n6 : 1));
    printf("lpm: baseline hash %.2f ns/address, linear scan of 64 prefixes %.2f ns/address\n",
           base_hash * 1e9, base_scan * 1e9);
    printf("lpm: v4 lookup (ds_addr)   %.2f ns = %.2fx hash, %.3fx scan64 (%.1f %% hit)\n",
           lpm4 * 1e9, lpm4 / base_hash, lpm4 / base_scan, 100.0 * (double)hits / (double)n_look);
    printf("lpm: v4 lookup (host u32)  %.2f ns = %.2fx hash, %.3fx scan64\n", lpm4h * 1e9,
           lpm4h / base_hash, lpm4h / base_scan);
    printf("lpm: v6 lookup (intervals) %.2f ns = %.2fx hash, %.3fx scan64 (%.1f %% hit)\n",
           lpm6 * 1e9, lpm6 / base_hash, lpm6 / base_scan,
           100.0 * (double)hits6 / (double)(n_look6 ? n_look6 : 1));
    ds_lpm_free(t);
    ds_lpm_builder_free(b);
    free(p6);
    free(a4);
    free(a6);
    return hits_v4 == hits ? 0 : 1;
fail:
    fprintf(stderr, "bench_lpm: %s\n", err.msg);
    return 1;
}
