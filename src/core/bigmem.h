/* bigmem.h - large zeroed tables backed by transparent huge pages (fewer TLB misses on the
 * randomly accessed host and pair tables). */
#ifndef DS_BIGMEM_H
#define DS_BIGMEM_H

#include <stddef.h>

/* Returns zeroed memory of at least `size` bytes, or NULL. Free with ds_bigmem_free(p, size)
 * using the same size. Thread-safe (mmap). */
void *ds_bigmem_alloc(size_t size);
void ds_bigmem_free(void *p, size_t size);

#endif
