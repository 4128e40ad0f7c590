/* mmdb_write.c - writes small MaxMind DB files (country / ASN records) for tests and imports. */
#include "enrich/mmdb_write.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

static void put(struct buf *b, const void *data, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + len)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void put8(struct buf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put(b, &c, 1);
}

/* Control byte(s): type 1..7 in the top 3 bits, extended types 8.. as 0 + a type byte;
 * sizes 0..28 inline, larger in 1..3 following bytes (the format's 29/30/31 escapes). */
static void ctrl(struct buf *b, unsigned type, size_t size)
{
    unsigned t = type <= 7 ? type : 0, sz;
    uint8_t ext[3];
    size_t next = 0;
    if (size < 29) {
        sz = (unsigned)size;
    } else if (size < 285) {
        sz = 29;
        ext[next++] = (uint8_t)(size - 29);
    } else if (size < 65821) {
        sz = 30;
        ext[next++] = (uint8_t)((size - 285) >> 8);
        ext[next++] = (uint8_t)(size - 285);
    } else {
        sz = 31;
        size -= 65821;
        ext[next++] = (uint8_t)(size >> 16);
        ext[next++] = (uint8_t)(size >> 8);
        ext[next++] = (uint8_t)size;
    }
    put8(b, (t << 5) | sz);
    if (type > 7)
        put8(b, type - 7);
    put(b, ext, next);
}

static void put_str(struct buf *b, const char *s)
{
    size_t n = strlen(s);
    ctrl(b, 2, n);
    put(b, s, n);
}

/* Unsigned integer of type 5 (uint16), 6 (uint32) or 9 (uint64), minimal big-endian bytes. */
static void put_uint(struct buf *b, unsigned type, uint64_t v)
{
    uint8_t be[8];
    size_t n = 0;
    for (uint64_t x = v; x; x >>= 8)
        n++;
    for (size_t i = 0; i < n; i++)
        be[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    ctrl(b, type, n);
    put(b, be, n);
}

struct node {
    uint8_t kind[2]; /* 0 empty, 1 node, 2 data */
    uint32_t v[2];
};

struct tree {
    struct node *n;
    size_t count, cap;
};

static int new_node(struct tree *t, uint8_t kind, uint32_t v, uint32_t *out)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        void *p = realloc(t->n, cap * sizeof *t->n);
        if (!p)
            return -ENOMEM;
        t->n = p;
        t->cap = cap;
    }
    t->n[t->count] = (struct node){.kind = {kind, kind}, .v = {v, v}};
    *out = (uint32_t)t->count++;
    return 0;
}

/* Bit i (0 = most significant) of the 128-bit key; IPv4 sits under ::/96. */
static unsigned bit(const uint8_t key[16], unsigned i)
{
    return (key[i / 8] >> (7 - i % 8)) & 1;
}

static int insert(struct tree *t, const uint8_t key[16], unsigned len, uint32_t off)
{
    uint32_t cur = 0;
    for (unsigned i = 0; i < len; i++) {
        unsigned side = bit(key, i);
        struct node *nd = &t->n[cur];
        if (i == len - 1) {
            nd->kind[side] = 2;
            nd->v[side] = off;
            return 0;
        }
        if (nd->kind[side] == 1) {
            cur = nd->v[side];
            continue;
        }
        uint32_t child; /* empty: a fresh node; data: pushed down into both halves */
        uint8_t kind = nd->kind[side];
        if (new_node(t, kind, nd->v[side], &child) < 0)
            return -ENOMEM;
        t->n[cur].kind[side] = 1; /* t->n may have moved */
        t->n[cur].v[side] = child;
        cur = child;
    }
    return 0;
}

static int cmp_len(const void *x, const void *y)
{
    const struct ds_mmdb_record *const *a = x, *const *b = y;
    if ((*a)->prefix.len != (*b)->prefix.len)
        return (*a)->prefix.len < (*b)->prefix.len ? -1 : 1;
    return *a < *b ? -1 : *a > *b; /* input order among equals: later wins */
}

static void put_record(struct buf *d, enum ds_mmdb_layout layout, const struct ds_mmdb_record *r)
{
    size_t pairs = (r->country != NULL) + (r->asn != 0) + (r->as_org != NULL);
    ctrl(d, 7, pairs);
    if (r->country) {
        if (layout == DS_MMDB_GEOLITE2) {
            put_str(d, "country");
            ctrl(d, 7, 1);
            put_str(d, "iso_code");
        } else {
            put_str(d, "country_code");
        }
        put_str(d, r->country);
    }
    if (r->asn) {
        put_str(d, "autonomous_system_number");
        put_uint(d, 6, r->asn);
    }
    if (r->as_org) {
        put_str(d, "autonomous_system_organization");
        put_str(d, r->as_org);
    }
}

int ds_mmdb_write(const char *path, enum ds_mmdb_layout layout, const char *database_type,
                  const struct ds_mmdb_record *recs, size_t n, struct ds_err *err)
{
    int rc = 0;
    struct tree t = {0};
    struct buf data = {0}, out = {0};
    const struct ds_mmdb_record **order = NULL;
    FILE *f = NULL;
    uint32_t root;
    if ((order = malloc((n ? n : 1) * sizeof *order)) == NULL || new_node(&t, 0, 0, &root) < 0)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        order[i] = &recs[i];
    qsort(order, n, sizeof *order, cmp_len);
    for (size_t i = 0; i < n; i++) {
        const struct ds_mmdb_record *r = order[i];
        uint8_t key[16];
        memcpy(key, r->prefix.addr.b, 16);
        if (ds_prefix_is_v4(&r->prefix))
            key[10] = key[11] = 0; /* ::ffff:a.b.c.d -> ::a.b.c.d, MaxMind's IPv4 subtree */
        if (r->prefix.len == 0 || r->prefix.len > 128) {
            rc = ds_err_set(err, -EINVAL, "%s: record %zu: prefix length %u not in 1..128", path,
                            (size_t)(r - recs), r->prefix.len);
            goto out;
        }
        uint32_t off = (uint32_t)data.n;
        put_record(&data, layout, r);
        if (insert(&t, key, r->prefix.len, off) < 0)
            goto nomem;
    }
    if (t.count + 16 + data.n > 0xffffff) {
        rc = ds_err_set(err, -E2BIG, "%s: tree too large for 24-bit records", path);
        goto out;
    }
    uint32_t nc = (uint32_t)t.count;
    for (size_t i = 0; i < t.count; i++) {
        for (int s = 0; s < 2; s++) {
            uint32_t v = t.n[i].kind[s] == 1   ? t.n[i].v[s]
                         : t.n[i].kind[s] == 2 ? nc + 16 + t.n[i].v[s]
                                               : nc;
            put8(&out, v >> 16);
            put8(&out, v >> 8);
            put8(&out, v);
        }
    }
    static const uint8_t zeros[16];
    put(&out, zeros, 16);
    put(&out, data.p ? data.p : zeros, data.n);
    put(&out, "\xab\xcd\xefMaxMind.com", 14);
    ctrl(&out, 7, 9);
    put_str(&out, "binary_format_major_version");
    put_uint(&out, 5, 2);
    put_str(&out, "binary_format_minor_version");
    put_uint(&out, 5, 0);
    put_str(&out, "build_epoch");
    put_uint(&out, 9, (uint64_t)time(NULL));
    put_str(&out, "database_type");
    put_str(&out, database_type);
    put_str(&out, "description");
    ctrl(&out, 7, 1);
    put_str(&out, "en");
    put_str(&out, "written by darkscope (enrich/mmdb_write.c)");
    put_str(&out, "ip_version");
    put_uint(&out, 5, 6);
    put_str(&out, "languages");
    ctrl(&out, 11, 1);
    put_str(&out, "en");
    put_str(&out, "node_count");
    put_uint(&out, 6, nc);
    put_str(&out, "record_size");
    put_uint(&out, 5, 24);
    if (out.oom || data.oom)
        goto nomem;
    if (!(f = fopen(path, "wb")) || fwrite(out.p, 1, out.n, f) != out.n) {
        rc = ds_err_set(err, -errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        rc = ds_err_set(err, -errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    f = NULL;
    goto out;
nomem:
    rc = ds_err_set(err, -ENOMEM, "%s: out of memory", path);
out:
    if (f)
        fclose(f);
    free(order);
    free(t.n);
    free(data.p);
    free(out.p);
    return rc;
}
