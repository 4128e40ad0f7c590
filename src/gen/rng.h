/* rng.h - the generator's deterministic PRNG: xoshiro256** seeded through splitmix64. */
#ifndef DS_RNG_H
#define DS_RNG_H

#include <stdint.h>

/*
 * One stream of pseudo-random numbers. Plain data owned by its user (no hidden global
 * state), so the same (seed, stream) always yields the same sequence on every run.
 * xoshiro256** (Blackman & Vigna): 256 bits of state, period 2^256-1.
 */
struct ds_rng {
    uint64_t s[4];
};

/* Seeds the stream `stream` of `seed`: distinct streams are independent for practical use. */
void ds_rng_seed(struct ds_rng *r, uint64_t seed, uint64_t stream);

static inline uint64_t ds_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t ds_rng_next(struct ds_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = ds_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = ds_rng_rotl(s[3], 45);
    return out;
}

static inline uint32_t ds_rng_u32(struct ds_rng *r)
{
    return (uint32_t)(ds_rng_next(r) >> 32);
}
static inline uint16_t ds_rng_u16(struct ds_rng *r)
{
    return (uint16_t)(ds_rng_next(r) >> 48);
}

/* Uniform in [0, n) without modulo bias; n == 0 returns 0. */
uint64_t ds_rng_below(struct ds_rng *r, uint64_t n);

/* Uniform in [lo, hi] (inclusive). */
static inline uint64_t ds_rng_range(struct ds_rng *r, uint64_t lo, uint64_t hi)
{
    return lo + ds_rng_below(r, hi - lo + 1);
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double ds_rng_unit(struct ds_rng *r)
{
    return (double)(ds_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* True with probability p. */
static inline int ds_rng_chance(struct ds_rng *r, double p)
{
    return ds_rng_unit(r) < p;
}

/* Exponential variate with the given mean (> 0). */
double ds_rng_exp(struct ds_rng *r, double mean);

/* Log-uniform in [lo, hi] (both > 0): every decade equally likely. */
double ds_rng_logu(struct ds_rng *r, double lo, double hi);

/* Index drawn with the given non-negative weights (n > 0, at least one weight > 0). */
unsigned ds_rng_weighted(struct ds_rng *r, const double *w, unsigned n);

#endif
