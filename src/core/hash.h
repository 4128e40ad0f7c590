/* hash.h - address and key mixing for hash tables (darknet addresses share high bits). */
#ifndef DS_HASH_H
#define DS_HASH_H

#include <stdint.h>
#include <string.h>

/* A full-avalanche 64-bit finaliser (splitmix64's): every input bit flips about half of the
 * output bits, so keys that differ only in low bits spread over the whole table. */
static inline uint64_t ds_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Hash of a 16-byte address (struct ds_addr's bytes). */
static inline uint64_t ds_hash_addr16(const uint8_t b[16])
{
    uint64_t hi, lo;
    memcpy(&hi, b, 8);
    memcpy(&lo, b + 8, 8);
    return ds_mix64(hi ^ ds_mix64(lo));
}

#endif
