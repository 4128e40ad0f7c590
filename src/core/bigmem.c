/* bigmem.c - large zeroed tables backed by transparent huge pages. */
#include "core/bigmem.h"

#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_THRESHOLD (2u << 20) /* below one huge page, plain calloc is as good */

void *ds_bigmem_alloc(size_t size)
{
    if (size < HUGE_THRESHOLD)
        return calloc(1, size);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* a hint: where THP is off or in "never" mode this simply has no effect */
    (void)madvise(p, size, MADV_HUGEPAGE);
    return p;
}

void ds_bigmem_free(void *p, size_t size)
{
    if (!p)
        return;
    if (size < HUGE_THRESHOLD)
        free(p);
    else
        munmap(p, size);
}
