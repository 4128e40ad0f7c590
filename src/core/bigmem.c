/* bigmem.c - large zeroed tables backed by transparent huge pages. */
#include "core/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

void *ds_bigmem_alloc(size_t size)
{
    if (size < HUGE_PAGE)
        return calloc(1, size);
    /* map a huge page more than asked and trim both ends, so the region starts on a huge
     * page boundary and the kernel can back all of it with huge pages */
    size_t len = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
    uint8_t *raw =
        mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uint8_t *p = (uint8_t *)start;
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + len + HUGE_PAGE - (p + len));
    if (tail)
        munmap(p + len, tail);
    /* a hint: where THP is off or in "never" mode this simply has no effect */
    (void)madvise(p, len, MADV_HUGEPAGE);
    return p;
}

void ds_bigmem_free(void *p, size_t size)
{
    if (!p)
        return;
    if (size < HUGE_PAGE) {
        free(p);
        return;
    }
    munmap(p, (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1));
}
