/* test_capture_util.h - capture test helpers: pcap/pcapng builders, temp files, reading. */
#ifndef DS_TEST_CAPTURE_UTIL_H
#define DS_TEST_CAPTURE_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "capture/capture_int.h"

/* ------------------------------------------------------------------ byte builder */

struct bb {
    uint8_t *p;
    size_t n, cap;
    bool be; /* write multi-byte fields big-endian */
};

static inline void bb_put(struct bb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n)
            nc *= 2;
        b->p = realloc(b->p, nc);
        if (!b->p)
            abort();
        b->cap = nc;
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void bb_u8(struct bb *b, uint8_t v)
{
    bb_put(b, &v, 1);
}
static inline void bb_u16(struct bb *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    if (b->be) {
        x[0] = (uint8_t)(v >> 8);
        x[1] = (uint8_t)v;
    }
    bb_put(b, x, 2);
}
static inline void bb_u32(struct bb *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[b->be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
    bb_put(b, x, 4);
}
static inline void bb_u64(struct bb *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[b->be ? 7 - i : i] = (uint8_t)(v >> (8 * i));
    bb_put(b, x, 8);
}
static inline void bb_pad4(struct bb *b)
{
    while (b->n % 4)
        bb_u8(b, 0);
}
static inline void bb_patch32(struct bb *b, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b->p[at + (size_t)(b->be ? 3 - i : i)] = (uint8_t)(v >> (8 * i));
}
static inline void bb_free(struct bb *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ pcap */

#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du
#define MAGIC_KUZ 0xa1b2cd34u

static inline void pcap_hdr(struct bb *b, uint32_t magic, uint32_t snaplen, uint32_t linkword)
{
    bb_u32(b, magic);
    bb_u16(b, 2);
    bb_u16(b, 4);
    bb_u32(b, 0);
    bb_u32(b, 0);
    bb_u32(b, snaplen);
    bb_u32(b, linkword);
}
static inline void pcap_rec(struct bb *b, uint32_t sec, uint32_t frac, uint32_t caplen,
                            uint32_t len, const uint8_t *data)
{
    bb_u32(b, sec);
    bb_u32(b, frac);
    bb_u32(b, caplen);
    bb_u32(b, len);
    bb_put(b, data, caplen);
}

/* ------------------------------------------------------------------ pcapng */

static inline size_t ng_begin(struct bb *b, uint32_t type)
{
    size_t at = b->n;
    bb_u32(b, type);
    bb_u32(b, 0); /* length, patched by ng_end */
    return at;
}
static inline void ng_end(struct bb *b, size_t at)
{
    bb_pad4(b);
    uint32_t len = (uint32_t)(b->n - at + 4);
    bb_u32(b, len);
    bb_patch32(b, at + 4, len);
}
static inline void ng_shb(struct bb *b)
{
    size_t at = ng_begin(b, 0x0a0d0d0a);
    bb_u32(b, 0x1a2b3c4d);
    bb_u16(b, 1);
    bb_u16(b, 0);
    bb_u64(b, UINT64_MAX);
    ng_end(b, at);
}
/* tsresol < 0: no option; has_off: write if_tsoffset */
static inline void ng_idb(struct bb *b, uint16_t lt, uint32_t snap, int tsresol, bool has_off,
                          int64_t off)
{
    size_t at = ng_begin(b, 1);
    bb_u16(b, lt);
    bb_u16(b, 0);
    bb_u32(b, snap);
    if (tsresol >= 0) {
        bb_u16(b, 9);
        bb_u16(b, 1);
        bb_u8(b, (uint8_t)tsresol);
        bb_pad4(b);
    }
    if (has_off) {
        bb_u16(b, 14);
        bb_u16(b, 8);
        bb_u64(b, (uint64_t)off);
    }
    bb_u16(b, 0);
    bb_u16(b, 0);
    ng_end(b, at);
}
static inline void ng_epb(struct bb *b, uint32_t ifid, uint64_t units, uint32_t caplen,
                          uint32_t len, const uint8_t *data)
{
    size_t at = ng_begin(b, 6);
    bb_u32(b, ifid);
    bb_u32(b, (uint32_t)(units >> 32));
    bb_u32(b, (uint32_t)units);
    bb_u32(b, caplen);
    bb_u32(b, len);
    bb_put(b, data, caplen);
    ng_end(b, at);
}
static inline void ng_spb(struct bb *b, uint32_t len, const uint8_t *data, uint32_t datalen)
{
    size_t at = ng_begin(b, 3);
    bb_u32(b, len);
    bb_put(b, data, datalen);
    ng_end(b, at);
}
static inline void ng_pb(struct bb *b, uint16_t ifid, uint64_t units, uint32_t caplen, uint32_t len,
                         const uint8_t *data)
{
    size_t at = ng_begin(b, 2);
    bb_u16(b, ifid);
    bb_u16(b, 0);
    bb_u32(b, (uint32_t)(units >> 32));
    bb_u32(b, (uint32_t)units);
    bb_u32(b, caplen);
    bb_u32(b, len);
    bb_put(b, data, caplen);
    ng_end(b, at);
}
/* Name Resolution Block: one IPv4 record and the end record. */
static inline void ng_nrb(struct bb *b)
{
    size_t at = ng_begin(b, 4);
    bb_u16(b, 1);
    bb_u16(b, 4 + 10);
    bb_put(b,
           "\xc0\x00\x02\x01"
           "a.example",
           4 + 10);
    bb_pad4(b);
    bb_u16(b, 0);
    bb_u16(b, 0);
    ng_end(b, at);
}
/* Interface Statistics Block for interface ifid, no options. */
static inline void ng_isb(struct bb *b, uint32_t ifid)
{
    size_t at = ng_begin(b, 5);
    bb_u32(b, ifid);
    bb_u32(b, 0);
    bb_u32(b, 0);
    ng_end(b, at);
}
/* Any other block type with body_len filler bytes. */
static inline void ng_other(struct bb *b, uint32_t type, uint32_t body_len)
{
    size_t at = ng_begin(b, type);
    for (uint32_t i = 0; i < body_len; i++)
        bb_u8(b, (uint8_t)(0xa0 + i));
    ng_end(b, at);
}

/* ------------------------------------------------------------------ packets */

/* Ethernet + IPv4 + TCP SYN (proto 6) or UDP (17); with_eth false = raw IPv4. Returns length. */
static inline size_t mk_ip(uint8_t *out, bool with_eth, uint8_t proto, uint16_t sport,
                           uint16_t dport)
{
    size_t n = 0;
    if (with_eth) {
        static const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00};
        memcpy(out, eth, 14);
        n = 14;
    }
    size_t l4 = proto == 6 ? 20 : 8;
    uint16_t tot = (uint16_t)(20 + l4);
    uint8_t ip[20] = {0x45,
                      0,
                      (uint8_t)(tot >> 8),
                      (uint8_t)tot,
                      0x12,
                      0x34,
                      0,
                      0,
                      64,
                      proto,
                      0,
                      0,
                      192,
                      0,
                      2,
                      1,
                      198,
                      51,
                      100,
                      7};
    memcpy(out + n, ip, 20);
    n += 20;
    memset(out + n, 0, l4);
    out[n] = (uint8_t)(sport >> 8);
    out[n + 1] = (uint8_t)sport;
    out[n + 2] = (uint8_t)(dport >> 8);
    out[n + 3] = (uint8_t)dport;
    if (proto == 6) {
        out[n + 12] = 0x50;
        out[n + 13] = 0x02;
    } else {
        out[n + 4] = 0;
        out[n + 5] = 8;
    }
    return n + l4;
}
static inline size_t mk_arp(uint8_t *out)
{
    static const uint8_t eth[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
                                    0,    0,    0,    0,    3,    0x08, 0x06};
    memcpy(out, eth, 14);
    memset(out + 14, 0x11, 28);
    return 42;
}
/* A recognisable payload: byte i = seed + i. */
static inline void fill_pattern(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i);
}

/* ------------------------------------------------------------------ files */

static inline char *tmp_dir_new(void)
{
    const char *t = getenv("TMPDIR");
    char *p;
    if (asprintf(&p, "%s/ds-capture-XXXXXX", t && *t ? t : "/tmp") < 0 || !mkdtemp(p))
        abort();
    return p;
}
static inline void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            char *c;
            if (asprintf(&c, "%s/%s", path, de->d_name) < 0)
                abort();
            rm_rf(c);
            free(c);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}
/* Writes bytes to dir/name; returns the path (caller frees). */
static inline char *write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        abort();
    return path;
}
static inline void gzip_bytes(const struct bb *in, struct bb *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&zs, (uLong)in->n) + 64;
    out->p = realloc(out->p, cap);
    out->cap = cap;
    zs.next_in = in->p;
    zs.avail_in = (uInt)in->n;
    zs.next_out = out->p;
    zs.avail_out = (uInt)cap;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    out->n = cap - zs.avail_out;
    deflateEnd(&zs);
}
static inline void zstd_bytes(const struct bb *in, struct bb *out)
{
    size_t cap = ZSTD_compressBound(in->n);
    out->p = realloc(out->p, cap);
    out->cap = cap;
    size_t r = ZSTD_compress(out->p, cap, in->p, in->n, 3);
    if (ZSTD_isError(r))
        abort();
    out->n = r;
}

/* ------------------------------------------------------------------ reading */

struct got_frame {
    uint64_t ts_ns;
    uint32_t caplen, wirelen, linktype;
    uint64_t hash; /* FNV-1a of the data */
    uint8_t first[16];
};
struct got {
    struct got_frame *f;
    size_t n, cap;
    struct ds_capture_stats st;
    int open_rc, next_rc;
    char msg[512];
};

static inline uint64_t fnv(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static inline void got_drain(struct ds_source *s, struct got *g)
{
    struct ds_frame fr;
    struct ds_err e = {0};
    while ((g->next_rc = ds_source_next(s, &fr, &e)) == 1) {
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 64;
            g->f = realloc(g->f, g->cap * sizeof *g->f);
            if (!g->f)
                abort();
        }
        struct got_frame *x = &g->f[g->n++];
        x->ts_ns = fr.ts_ns;
        x->caplen = fr.caplen;
        x->wirelen = fr.wirelen;
        x->linktype = fr.linktype;
        x->hash = fnv(fr.data, fr.caplen);
        memset(x->first, 0, sizeof x->first);
        memcpy(x->first, fr.data, fr.caplen < 16 ? fr.caplen : 16);
    }
    if (g->next_rc < 0)
        snprintf(g->msg, sizeof g->msg, "%s", e.msg);
    ds_source_stats(s, &g->st);
}

/* Reads the given paths to the end; g->open_rc / g->msg tell about a failed open. */
static inline void read_paths(const char *const *paths, size_t n, const char *bpf, struct got *g)
{
    memset(g, 0, sizeof *g);
    struct ds_capture_opts o = {.paths = paths, .n_paths = n, .bpf = bpf};
    struct ds_source *s = NULL;
    struct ds_err e = {0};
    g->open_rc = ds_source_open(&s, &o, &e);
    if (g->open_rc < 0) {
        snprintf(g->msg, sizeof g->msg, "%s", e.msg);
        return;
    }
    got_drain(s, g);
    ds_source_close(s);
}
static inline void read_path(const char *path, const char *bpf, struct got *g)
{
    read_paths(&path, 1, bpf, g);
}
static inline void read_mem(const void *p, size_t n, size_t chunk, const char *bpf, struct got *g)
{
    memset(g, 0, sizeof *g);
    struct ds_source *s = NULL;
    struct ds_err e = {0};
    g->open_rc = ds_source_open_mem(&s, p, n, chunk, bpf, &e);
    if (g->open_rc < 0) {
        snprintf(g->msg, sizeof g->msg, "%s", e.msg);
        return;
    }
    got_drain(s, g);
    ds_source_close(s);
}
static inline void got_free(struct got *g)
{
    free(g->f);
    memset(g, 0, sizeof *g);
}
static inline bool got_same(const struct got *a, const struct got *b)
{
    if (a->n != b->n || a->open_rc != b->open_rc || a->st.inputs_ok != b->st.inputs_ok ||
        a->st.inputs_cut != b->st.inputs_cut)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const struct got_frame *x = &a->f[i], *y = &b->f[i];
        if (x->ts_ns != y->ts_ns || x->caplen != y->caplen || x->wirelen != y->wirelen ||
            x->linktype != y->linktype || x->hash != y->hash)
            return false;
    }
    return true;
}

/* Sends stderr (the log's warnings) to a temp file until stderr_end, which returns the text
 * (caller frees). */
struct stderr_cap {
    int fd, saved;
};
static inline void stderr_begin(struct stderr_cap *c)
{
    char tmpl[] = "/tmp/ds-stderr-XXXXXX";
    c->fd = mkstemp(tmpl);
    if (c->fd < 0)
        abort();
    unlink(tmpl);
    fflush(stderr);
    c->saved = dup(2);
    dup2(c->fd, 2);
}
static inline char *stderr_end(struct stderr_cap *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    off_t len = lseek(c->fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    if (!text || pread(c->fd, text, (size_t)len, 0) != len)
        abort();
    close(c->fd);
    return text;
}
static inline char *capture_stderr(void (*fn)(void *), void *arg)
{
    struct stderr_cap c;
    stderr_begin(&c);
    fn(arg);
    return stderr_end(&c);
}

#endif
