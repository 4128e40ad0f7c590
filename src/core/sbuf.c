/* sbuf.c - a growing NUL-terminated string for formatters (see sbuf.h). */
#include "core/sbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ds_sbuf_add(struct ds_sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ds_sbuf_puts(struct ds_sbuf *b, const char *s)
{
    ds_sbuf_add(b, s, strlen(s));
}

void ds_sbuf_printf(struct ds_sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        ds_sbuf_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ds_sbuf_add(b, big, (size_t)n);
    free(big);
}

int ds_sbuf_finish(struct ds_sbuf *b, char **out, const char *what, struct ds_err *err)
{
    if (!b->oom && !b->p)
        ds_sbuf_add(b, "", 0);
    if (b->oom) {
        free(b->p);
        *b = (struct ds_sbuf){0};
        *out = NULL;
        return ds_err_set(err, -ENOMEM, "%s: out of memory", what);
    }
    *out = b->p;
    *b = (struct ds_sbuf){0};
    return 0;
}
