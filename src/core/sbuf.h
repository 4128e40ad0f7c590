/* sbuf.h - a growing NUL-terminated string for formatters. Out of memory sticks: every later
 * add is a no-op and ds_sbuf_finish reports it, so callers check once at the end. */
#ifndef DS_SBUF_H
#define DS_SBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct ds_sbuf {
    char *p; /* owned by the buffer until ds_sbuf_finish hands it over (NULL when empty) */
    size_t len, cap;
    bool oom;
};

void ds_sbuf_add(struct ds_sbuf *b, const char *s, size_t n);
void ds_sbuf_puts(struct ds_sbuf *b, const char *s);
void ds_sbuf_printf(struct ds_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the text to *out (the caller frees it; "" when nothing was added) and empties b, or
 * frees it and returns -ENOMEM naming what. */
int ds_sbuf_finish(struct ds_sbuf *b, char **out, const char *what, struct ds_err *err);

#endif
