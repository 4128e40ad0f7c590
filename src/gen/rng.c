/* rng.c - the generator's deterministic PRNG: xoshiro256** seeded through splitmix64. */
#include "gen/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ds_rng_seed(struct ds_rng *r, uint64_t seed, uint64_t stream)
{
    /* Two splitmix rounds separate the stream number from the seed, so (seed, stream) and
     * (seed + 1, stream - 1) do not collide. */
    uint64_t x = seed;
    uint64_t h = splitmix64(&x) ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&h);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) /* the one forbidden state */
        r->s[0] = 1;
}

uint64_t ds_rng_below(struct ds_rng *r, uint64_t n)
{
    if (n == 0)
        return 0;
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = ds_rng_next(r);
        if (x >= threshold)
            return x % n;
    }
}

double ds_rng_exp(struct ds_rng *r, double mean)
{
    /* 1 - u is in (0, 1], so the log is finite */
    return -mean * log(1.0 - ds_rng_unit(r));
}

double ds_rng_logu(struct ds_rng *r, double lo, double hi)
{
    return lo * exp(ds_rng_unit(r) * log(hi / lo));
}

unsigned ds_rng_weighted(struct ds_rng *r, const double *w, unsigned n)
{
    double total = 0;
    for (unsigned i = 0; i < n; i++)
        total += w[i];
    double x = ds_rng_unit(r) * total;
    for (unsigned i = 0; i < n; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    for (unsigned i = n; i-- > 0;) /* rounding: the last non-zero weight */
        if (w[i] > 0)
            return i;
    return 0;
}
