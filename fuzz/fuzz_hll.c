/* fuzz_hll.c - libFuzzer target: sketch blobs (stored in SQLite, so untrusted) and adds. */

/*
 * The first byte picks how the rest becomes a blob (with no seed corpus, random bytes would
 * almost never start with the magic, so three of the four paths start from near-valid ones):
 *   0  the bytes as they are
 *   1  a valid header over the rest, count as the data implies: sparse, the 8-byte words;
 *      dense, 4096 registers repeating the bytes
 *   2  a valid blob (bytes 3.. as the items of path 3) with byte [0..1] xored with [2]
 *   3  items: byte 0 x 8 derived hashes (enough to go dense from a short input) plus the
 *      8-byte words; checks add results and the exact count, then the blob as above
 * Every blob is deserialised. An accepted one must be the one serialised form of what it
 * decodes to, survive a second round trip with the same estimate, and merge into a sketch
 * that lives for the whole run; a rejected one must explain itself and leave nothing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/hll.h"
#include "core/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ds_hll acc;    /* the union of every accepted blob; reachable until exit */
static struct ds_hll recent; /* the same, but emptied once dense: sparse + sparse merges */
static uint8_t out[DS_HLL_SERIAL_MAX], out2[DS_HLL_SERIAL_MAX];

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Serialises h, reads it back and checks that the copy is the same sketch. */
static void check_roundtrip(const struct ds_hll *h)
{
    struct ds_hll c;
    struct ds_err err = {0};
    int n = ds_hll_serialize(h, out, sizeof out);
    if (n < 0 || (size_t)n != ds_hll_serialized_size(h))
        abort();
    if (ds_hll_deserialize(&c, out, (size_t)n, &err) != 0)
        abort(); /* what we write we read */
    if (ds_hll_estimate(&c) != ds_hll_estimate(h) || ds_hll_is_exact(&c) != ds_hll_is_exact(h))
        abort();
    if (ds_hll_serialize(&c, out2, sizeof out2) != n || memcmp(out, out2, (size_t)n) != 0)
        abort();
    ds_hll_free(&c);
}

/* Merges an accepted blob into `into`: idempotent, and absorbed (blob u into == into). */
static void merge_into(struct ds_hll *into, const uint8_t *blob, size_t len)
{
    struct ds_hll h;
    if (ds_hll_deserialize(&h, blob, len, NULL) < 0)
        return; /* out of memory */
    if (ds_hll_merge(into, &h) >= 0) {
        if (ds_hll_merge(into, &h) != 0)
            abort(); /* merging is idempotent */
        if (ds_hll_merge(&h, into) >= 0) {
            int n = ds_hll_serialize(into, out, sizeof out);
            if (n < 0 || ds_hll_serialize(&h, out2, sizeof out2) != n ||
                memcmp(out, out2, (size_t)n) != 0)
                abort(); /* into holds h, so h u into is into: the same blob */
        }
    }
    ds_hll_free(&h);
}

static void check_blob(const uint8_t *blob, size_t len)
{
    struct ds_hll h;
    struct ds_err err = {0};
    int rc = ds_hll_deserialize(&h, blob, len, &err);
    if (rc < 0) {
        if (err.msg[0] == '\0' || err.code != rc || h.sparse || h.regs || h.n || h.cap)
            abort(); /* every failure explains itself and leaves nothing behind */
        return;
    }
    /* canonical: the blob is exactly what the sketch serialises to */
    if (ds_hll_serialized_size(&h) != len || ds_hll_serialize(&h, out, sizeof out) != (int)len ||
        memcmp(out, blob, len) != 0)
        abort();
    check_roundtrip(&h);
    ds_hll_free(&h);
    merge_into(&acc, blob, len);
    merge_into(&recent, blob, len);
    if (!ds_hll_is_exact(&recent))
        ds_hll_free(&recent);
}

/* Adds the items that the bytes describe (path 3) into h, which must be empty, checking the
 * add results and the exact count. 0 or -ENOMEM. */
static int add_hashes(struct ds_hll *h, const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t derived = (size_t)data[0] * 8, words = (size - 1) / 8, n = derived + words;
    uint64_t *hashes = malloc((n ? n : 1) * sizeof *hashes);
    if (!hashes)
        return -ENOMEM;
    uint64_t key = 0;
    memcpy(&key, data + 1, size - 1 < 8 ? size - 1 : 8);
    for (size_t i = 0; i < n; i++) {
        if (i < derived)
            hashes[i] = ds_mix64(key + i);
        else
            memcpy(&hashes[i], data + 1 + 8 * (i - derived), 8);
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if ((rc = ds_hll_add(h, hashes[i])) < 0)
            goto out;
        if (ds_hll_add(h, hashes[i]) != 0)
            abort(); /* the second add of an item changes nothing */
    }
    qsort(hashes, n, sizeof *hashes, cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += i == 0 || hashes[i] != hashes[i - 1];
    if (ds_hll_is_exact(h) != (distinct <= DS_HLL_SPARSE_MAX))
        abort();
    if (ds_hll_is_exact(h) && ds_hll_estimate(h) != distinct)
        abort();
    rc = 0;
out:
    free(hashes);
    return rc;
}

/* path 1: a valid header (mode from the first byte), count as the data implies */
static void fixed_header(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    bool dense = data[0] & 1;
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    size_t total = dense ? 9 + (size_t)DS_HLL_M : 9 + len;
    uint8_t *b = malloc(total);
    if (!b)
        return;
    uint32_t count = 0;
    if (dense) {
        for (size_t j = 0; j < DS_HLL_M; j++) {
            b[9 + j] = len ? p[j % len] : 0;
            count += b[9 + j] != 0;
        }
    } else {
        memcpy(b + 9, p, len);
        count = (uint32_t)(len / 8); /* a length not a multiple of 8 is rejected */
    }
    b[0] = 'H';
    b[1] = 'L';
    b[2] = DS_HLL_SERIAL_VERSION;
    b[3] = dense;
    b[4] = DS_HLL_P;
    for (int i = 0; i < 4; i++)
        b[5 + i] = (uint8_t)(count >> (8 * i));
    check_blob(b, total);
    free(b);
}

/* path 2: a valid blob from the hashes after the first 3 bytes, then byte [0..1] ^= [2] */
static void mutated_blob(const uint8_t *data, size_t size)
{
    if (size < 3)
        return;
    struct ds_hll h;
    ds_hll_init(&h);
    if (add_hashes(&h, data + 3, size - 3) == 0) {
        static uint8_t b[DS_HLL_SERIAL_MAX];
        int n = ds_hll_serialize(&h, b, sizeof b);
        if (n <= 0)
            abort();
        b[(data[0] | (size_t)data[1] << 8) % (size_t)n] ^= data[2];
        check_blob(b, (size_t)n);
    }
    ds_hll_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    switch (data[0] % 4) {
    case 0:
        check_blob(body, len);
        break;
    case 1:
        fixed_header(body, len);
        break;
    case 2:
        mutated_blob(body, len);
        break;
    default: {
        struct ds_hll h;
        ds_hll_init(&h);
        if (add_hashes(&h, body, len) == 0) {
            static uint8_t b[DS_HLL_SERIAL_MAX];
            int n = ds_hll_serialize(&h, b, sizeof b);
            if (n <= 0)
                abort();
            check_blob(b, (size_t)n); /* round trips, then merges */
        }
        ds_hll_free(&h);
        break;
    }
    }
    return 0;
}
