/* hll.c - distinct-count sketches: sorted exact sets, 4096-register HyperLogLog, blobs. */
#include "analyze/hll.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HDR_LEN 9 /* magic(2) version(1) mode(1) p(1) count(4) */
#define MODE_SPARSE 0
#define MODE_DENSE 1
#define SPARSE_MIN_CAP 8u

_Static_assert(DS_HLL_SPARSE_MAX * sizeof(uint64_t) <= DS_HLL_M, "sparse never exceeds dense");
_Static_assert(DS_HLL_SERIAL_MAX == HDR_LEN + DS_HLL_M, "dense blob is the largest");

/* ---- registers ---- */

static unsigned reg_index(uint64_t hash)
{
    return (unsigned)(hash >> (64 - DS_HLL_P));
}

static uint8_t reg_rank(uint64_t hash)
{
    uint64_t w = hash << DS_HLL_P;
    return w ? (uint8_t)(__builtin_clzll(w) + 1) : (uint8_t)DS_HLL_RANK_MAX;
}

/* 1 if the register rose */
static int dense_add(uint8_t *regs, uint64_t hash)
{
    unsigned j = reg_index(hash);
    uint8_t r = reg_rank(hash);
    if (regs[j] >= r)
        return 0;
    regs[j] = r;
    return 1;
}

/* A new register array holding the n hashes of a; NULL when out of memory. */
static uint8_t *dense_from(const uint64_t *a, uint32_t n)
{
    uint8_t *regs = calloc(DS_HLL_M, 1);
    if (!regs)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        dense_add(regs, a[i]);
    return regs;
}

/* Puts h into dense mode with the given registers, releasing the sparse set. */
static void become_dense(struct ds_hll *h, uint8_t *regs)
{
    free(h->sparse);
    h->sparse = NULL;
    h->n = h->cap = 0;
    h->regs = regs;
}

/* ---- sparse sets ---- */

/* the first index whose hash is >= x */
static uint32_t lower_bound(const uint64_t *a, uint32_t n, uint64_t x)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The smallest power of two >= need (at least SPARSE_MIN_CAP, at most DS_HLL_SPARSE_MAX). */
static uint32_t sparse_cap_for(uint32_t need)
{
    uint32_t cap = SPARSE_MIN_CAP;
    while (cap < need)
        cap *= 2;
    return cap < DS_HLL_SPARSE_MAX ? cap : DS_HLL_SPARSE_MAX;
}

static int sparse_reserve(struct ds_hll *h, uint32_t need)
{
    if (need <= h->cap)
        return 0;
    uint32_t cap = sparse_cap_for(need);
    uint64_t *a = realloc(h->sparse, (size_t)cap * sizeof *a);
    if (!a)
        return -ENOMEM;
    h->sparse = a;
    h->cap = cap;
    return 0;
}

/* |a u b| for two sorted sets */
static uint32_t union_count(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb)
{
    uint32_t i = 0, j = 0, u = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j])
            i++;
        else if (a[i] > b[j])
            j++;
        else
            i++, j++; /* in both */
        u++;
    }
    return u + (na - i) + (nb - j);
}

/* ---- public ---- */

void ds_hll_init(struct ds_hll *h)
{
    *h = (struct ds_hll){0};
}

void ds_hll_free(struct ds_hll *h)
{
    free(h->sparse);
    free(h->regs);
    ds_hll_init(h);
}

bool ds_hll_is_exact(const struct ds_hll *h)
{
    return h->regs == NULL;
}

int ds_hll_add(struct ds_hll *h, uint64_t hash)
{
    if (h->regs)
        return dense_add(h->regs, hash);
    uint32_t i = lower_bound(h->sparse, h->n, hash);
    if (i < h->n && h->sparse[i] == hash)
        return 0;
    if (h->n == DS_HLL_SPARSE_MAX) { /* one more would not fit: switch */
        uint8_t *regs = dense_from(h->sparse, h->n);
        if (!regs)
            return -ENOMEM;
        dense_add(regs, hash);
        become_dense(h, regs);
        return 1;
    }
    if (sparse_reserve(h, h->n + 1) < 0)
        return -ENOMEM;
    memmove(h->sparse + i + 1, h->sparse + i, (size_t)(h->n - i) * sizeof *h->sparse);
    h->sparse[i] = hash;
    h->n++;
    return 1;
}

int ds_hll_merge(struct ds_hll *dst, const struct ds_hll *src)
{
    if (dst == src)
        return 0;
    int changed = 0;
    if (src->regs) {
        if (!dst->regs) {
            uint8_t *regs = dense_from(dst->sparse, dst->n);
            if (!regs)
                return -ENOMEM;
            become_dense(dst, regs);
            changed = 1;
        }
        for (unsigned j = 0; j < DS_HLL_M; j++) {
            if (src->regs[j] > dst->regs[j]) {
                dst->regs[j] = src->regs[j];
                changed = 1;
            }
        }
        return changed;
    }
    if (dst->regs) {
        for (uint32_t i = 0; i < src->n; i++)
            changed |= dense_add(dst->regs, src->sparse[i]);
        return changed;
    }

    /* both sparse */
    uint32_t u = union_count(dst->sparse, dst->n, src->sparse, src->n);
    if (u == dst->n)
        return 0;
    if (u > DS_HLL_SPARSE_MAX) {
        uint8_t *regs = dense_from(dst->sparse, dst->n);
        if (!regs)
            return -ENOMEM;
        for (uint32_t i = 0; i < src->n; i++)
            dense_add(regs, src->sparse[i]);
        become_dense(dst, regs);
        return 1;
    }
    if (sparse_reserve(dst, u) < 0)
        return -ENOMEM;
    /* merge in place from the back: slots [u, ...) are free and k never overtakes i */
    uint64_t *a = dst->sparse;
    const uint64_t *b = src->sparse;
    uint32_t i = dst->n, j = src->n, k = u;
    while (j > 0) {
        if (i > 0 && a[i - 1] > b[j - 1]) {
            a[--k] = a[--i];
        } else {
            if (i > 0 && a[i - 1] == b[j - 1])
                i--; /* in both: keep one copy */
            a[--k] = b[--j];
        }
    }
    dst->n = u;
    return 1;
}

/* Ertl's sigma and tau (arXiv:1702.01284): the series that account for empty and for
 * saturated registers. Both converge within a few dozen steps for every x in [0, 1]. */
static double ertl_sigma(double x)
{
    if (x == 1.0)
        return INFINITY;
    double y = 1.0, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (z != prev);
    return z;
}

static double ertl_tau(double x)
{
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
    } while (z != prev);
    return z / 3.0;
}

uint64_t ds_hll_estimate(const struct ds_hll *h)
{
    if (!h->regs)
        return h->n;
    unsigned c[UINT8_MAX + 1] = {0}; /* register histogram; values above 53 never occur */
    for (unsigned j = 0; j < DS_HLL_M; j++)
        c[h->regs[j]]++;
    const double m = DS_HLL_M;
    double z = m * ertl_tau(1.0 - c[DS_HLL_RANK_MAX] / m);
    for (int k = DS_HLL_RANK_MAX - 1; k >= 1; k--)
        z = 0.5 * (z + c[k]);
    z += m * ertl_sigma(c[0] / m);
    double e = m * m * (0.5 / log(2.0)) / z; /* alpha_inf = 1 / (2 ln 2) */
    e += 0.5;                                /* round to nearest */
    if (e >= 0x1p64)
        return UINT64_MAX; /* only from forged registers: all at the maximum 53 */
    uint64_t est = (uint64_t)e;
    return est > DS_HLL_SPARSE_MAX ? est : DS_HLL_SPARSE_MAX + 1;
}

/* ---- serialised form ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

size_t ds_hll_serialized_size(const struct ds_hll *h)
{
    return HDR_LEN + (h->regs ? (size_t)DS_HLL_M : (size_t)h->n * 8);
}

int ds_hll_serialize(const struct ds_hll *h, uint8_t *buf, size_t cap)
{
    size_t need = ds_hll_serialized_size(h);
    if (cap < need)
        return -ENOBUFS;
    buf[0] = 'H';
    buf[1] = 'L';
    buf[2] = DS_HLL_SERIAL_VERSION;
    buf[3] = h->regs ? MODE_DENSE : MODE_SPARSE;
    buf[4] = DS_HLL_P;
    if (h->regs) {
        uint32_t nonzero = 0;
        for (unsigned j = 0; j < DS_HLL_M; j++)
            nonzero += h->regs[j] != 0;
        put_u32(buf + 5, nonzero);
        memcpy(buf + HDR_LEN, h->regs, DS_HLL_M);
    } else {
        put_u32(buf + 5, h->n);
        for (uint32_t i = 0; i < h->n; i++)
            put_u64(buf + HDR_LEN + 8 * (size_t)i, h->sparse[i]);
    }
    return (int)need;
}

/* The data after the header must be exactly `want` bytes. */
static int check_length(size_t len, size_t want, const char *what, struct ds_err *err)
{
    if (len < want)
        return ds_err_set(err, -EINVAL, "hll: byte %zu: truncated: %s needs %zu bytes in all", len,
                          what, want);
    if (len > want)
        return ds_err_set(err, -EINVAL, "hll: byte %zu: trailing garbage: %zu byte(s) after %s",
                          want, len - want, what);
    return 0;
}

static int read_sparse(struct ds_hll *h, const uint8_t *buf, size_t len, uint32_t count,
                       struct ds_err *err)
{
    if (count > DS_HLL_SPARSE_MAX)
        return ds_err_set(err, -EINVAL, "hll: byte 5: sparse count %u exceeds the maximum %u",
                          count, DS_HLL_SPARSE_MAX);
    int rc = check_length(len, HDR_LEN + 8 * (size_t)count, "the sparse sketch", err);
    if (rc < 0)
        return rc;
    for (uint32_t i = 1; i < count; i++) {
        size_t off = HDR_LEN + 8 * (size_t)i;
        uint64_t prev = get_u64(buf + off - 8), cur = get_u64(buf + off);
        if (cur == prev)
            return ds_err_set(err, -EINVAL,
                              "hll: byte %zu: sparse hash %u (0x%016llx) repeats the one before",
                              off, i, (unsigned long long)cur);
        if (cur < prev)
            return ds_err_set(
                err, -EINVAL,
                "hll: byte %zu: sparse hash %u (0x%016llx) is below the one before (0x%016llx)",
                off, i, (unsigned long long)cur, (unsigned long long)prev);
    }
    if (count == 0)
        return 0;
    uint32_t cap = sparse_cap_for(count);
    h->sparse = malloc((size_t)cap * sizeof *h->sparse);
    if (!h->sparse)
        return ds_err_set(err, -ENOMEM, "hll: out of memory for %u sparse hashes", count);
    for (uint32_t i = 0; i < count; i++)
        h->sparse[i] = get_u64(buf + HDR_LEN + 8 * (size_t)i);
    h->n = count;
    h->cap = cap;
    return 0;
}

static int read_dense(struct ds_hll *h, const uint8_t *buf, size_t len, uint32_t count,
                      struct ds_err *err)
{
    if (count == 0 || count > DS_HLL_M)
        return ds_err_set(err, -EINVAL, "hll: byte 5: dense count %u is outside 1..%u", count,
                          DS_HLL_M);
    int rc = check_length(len, HDR_LEN + (size_t)DS_HLL_M, "the dense sketch", err);
    if (rc < 0)
        return rc;
    uint32_t nonzero = 0;
    for (unsigned j = 0; j < DS_HLL_M; j++) {
        uint8_t r = buf[HDR_LEN + j];
        if (r > DS_HLL_RANK_MAX)
            return ds_err_set(err, -EINVAL,
                              "hll: byte %u: register %u holds %u, above the maximum %d",
                              HDR_LEN + j, j, r, DS_HLL_RANK_MAX);
        nonzero += r != 0;
    }
    if (nonzero != count)
        return ds_err_set(err, -EINVAL,
                          "hll: byte 5: dense count %u, but %u registers are non-zero", count,
                          nonzero);
    h->regs = malloc(DS_HLL_M);
    if (!h->regs)
        return ds_err_set(err, -ENOMEM, "hll: out of memory for the dense registers");
    memcpy(h->regs, buf + HDR_LEN, DS_HLL_M);
    return 0;
}

int ds_hll_deserialize(struct ds_hll *h, const uint8_t *buf, size_t len, struct ds_err *err)
{
    ds_hll_init(h);
    if (len < HDR_LEN)
        return ds_err_set(err, -EINVAL, "hll: byte %zu: truncated: the header needs %d bytes", len,
                          HDR_LEN);
    if (buf[0] != 'H' || buf[1] != 'L')
        return ds_err_set(err, -EINVAL, "hll: byte 0: bad magic 0x%02x 0x%02x (want \"HL\")",
                          buf[0], buf[1]);
    if (buf[2] != DS_HLL_SERIAL_VERSION)
        return ds_err_set(err, -EINVAL, "hll: byte 2: unsupported version %u (want %d)", buf[2],
                          DS_HLL_SERIAL_VERSION);
    if (buf[4] != DS_HLL_P)
        return ds_err_set(err, -EINVAL, "hll: byte 4: precision %u is not supported (want %d)",
                          buf[4], DS_HLL_P);
    uint32_t count = get_u32(buf + 5);
    int rc;
    if (buf[3] == MODE_SPARSE)
        rc = read_sparse(h, buf, len, count, err);
    else if (buf[3] == MODE_DENSE)
        rc = read_dense(h, buf, len, count, err);
    else
        rc = ds_err_set(err, -EINVAL, "hll: byte 3: unknown mode %u (0 sparse, 1 dense)", buf[3]);
    if (rc < 0)
        ds_hll_free(h);
    return rc;
}
