/* darknet.c - the monitored address space: a set of v4/v6 prefixes with fast membership. */
#include "core/darknet.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

void ds_darknet_init(struct ds_darknet *d)
{
    memset(d, 0, sizeof *d);
}

void ds_darknet_free(struct ds_darknet *d)
{
    free(d->v4);
    free(d->v6);
    memset(d, 0, sizeof *d);
}

static int add_prefix(struct ds_darknet *d, const struct ds_prefix *p)
{
    if (ds_prefix_is_v4(p)) {
        if (d->n_v4 == d->cap_v4) {
            size_t cap = d->cap_v4 ? d->cap_v4 * 2 : 8;
            void *n = realloc(d->v4, cap * sizeof *d->v4);
            if (!n)
                return -ENOMEM;
            d->v4 = n;
            d->cap_v4 = cap;
        }
        unsigned bits = p->len - 96u;
        uint32_t lo = ds_addr_v4(&p->addr);
        uint32_t span = bits == 0 ? 0xffffffffu : (uint32_t)((1ULL << (32 - bits)) - 1);
        d->v4[d->n_v4++] = (struct ds_v4range){.lo = lo, .hi = lo + span};
        return 0;
    }
    if (d->n_v6 == d->cap_v6) {
        size_t cap = d->cap_v6 ? d->cap_v6 * 2 : 8;
        void *n = realloc(d->v6, cap * sizeof *d->v6);
        if (!n)
            return -ENOMEM;
        d->v6 = n;
        d->cap_v6 = cap;
    }
    d->v6[d->n_v6++] = *p;
    return 0;
}

int ds_darknet_add_list(struct ds_darknet *d, const char *list, const char *where,
                        struct ds_err *err)
{
    const char *s = list;
    while (*s) {
        while (*s == ',' || isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        const char *e = s;
        while (*e && *e != ',' && !isspace((unsigned char)*e))
            e++;
        char tok[DS_PREFIX_STRLEN + 8];
        size_t n = (size_t)(e - s);
        if (n >= sizeof tok)
            return ds_err_set(err, -EINVAL, "%s: '%.*s' is too long for a CIDR prefix", where,
                              (int)n, s);
        memcpy(tok, s, n);
        tok[n] = '\0';
        struct ds_prefix p;
        int rc = ds_prefix_parse(&p, tok, err);
        if (rc < 0)
            return ds_err_wrap(err, "%s", where);
        if (add_prefix(d, &p) < 0)
            return ds_err_set(err, -ENOMEM, "%s: out of memory", where);
        s = e;
    }
    return 0;
}

int ds_darknet_add_file(struct ds_darknet *d, const char *path, struct ds_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ds_err_set(err, -errno, "darknet file '%s': %s", path, strerror(errno));
    char line[4096];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char where[600];
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        rc = ds_darknet_add_list(d, line, where, err);
        if (rc < 0)
            goto out;
    }
    if (ferror(f))
        rc = ds_err_set(err, -EIO, "darknet file '%s': read error", path);
out:
    fclose(f);
    return rc;
}

static int cmp_range(const void *a, const void *b)
{
    const struct ds_v4range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

void ds_darknet_finish(struct ds_darknet *d)
{
    if (d->n_v4 == 0)
        return;
    qsort(d->v4, d->n_v4, sizeof *d->v4, cmp_range);
    size_t w = 0;
    for (size_t i = 1; i < d->n_v4; i++) {
        struct ds_v4range *cur = &d->v4[w];
        /* merge overlapping or adjacent ranges (careful with hi == UINT32_MAX) */
        if (d->v4[i].lo <= cur->hi || (cur->hi != UINT32_MAX && d->v4[i].lo == cur->hi + 1)) {
            if (d->v4[i].hi > cur->hi)
                cur->hi = d->v4[i].hi;
        } else {
            d->v4[++w] = d->v4[i];
        }
    }
    d->n_v4 = w + 1;
}

uint64_t ds_darknet_v4_addresses(const struct ds_darknet *d)
{
    if (ds_darknet_is_all(d))
        return 1ULL << 32;
    uint64_t n = 0;
    for (size_t i = 0; i < d->n_v4; i++)
        n += (uint64_t)d->v4[i].hi - d->v4[i].lo + 1;
    return n;
}

bool ds_darknet_contains_v6(const struct ds_darknet *d, const struct ds_addr *a)
{
    for (size_t i = 0; i < d->n_v6; i++)
        if (ds_prefix_contains(&d->v6[i], a))
            return true;
    return false;
}
