/* pcapw.c - streaming capture writer: pcap (us or ns) and pcapng (SHB, IDB, EPB), plain or
 * zstd-compressed, through one large buffer. */
#include "gen/pcapw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define BUF_SIZE (4u << 20)

struct ds_pcapw {
    FILE *f;
    bool own_file; /* not stdout */
    char path[256];
    struct ds_pcapw_opts o;
    uint8_t *buf; /* uncompressed bytes not yet written */
    size_t used;
    ZSTD_CCtx *zc;
    uint8_t *zbuf;
    size_t zcap;
    uint64_t bytes;
    int rc; /* first error, sticky */
    char msg[384];
};

static void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int fail(struct ds_pcapw *w, int code, const char *what)
{
    if (!w->rc) {
        w->rc = code;
        snprintf(w->msg, sizeof w->msg, "%s '%s': %s", what, w->path, strerror(-code));
    }
    return w->rc;
}

static int out_raw(struct ds_pcapw *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return fail(w, errno ? -errno : -EIO, "cannot write");
    w->bytes += n;
    return 0;
}

/* Hands the buffered bytes to the file (through zstd when enabled); `end` finishes the
 * zstd frame. */
static int drain(struct ds_pcapw *w, bool end)
{
    if (w->rc)
        return w->rc;
    if (!w->zc) {
        int rc = out_raw(w, w->buf, w->used);
        w->used = 0;
        return rc;
    }
    ZSTD_inBuffer in = {.src = w->buf, .size = w->used, .pos = 0};
    for (;;) {
        ZSTD_outBuffer out = {.dst = w->zbuf, .size = w->zcap, .pos = 0};
        size_t left = ZSTD_compressStream2(w->zc, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) {
            w->used = 0;
            if (!w->rc) {
                w->rc = -EIO;
                snprintf(w->msg, sizeof w->msg, "zstd compression of '%s' failed: %s", w->path,
                         ZSTD_getErrorName(left));
            }
            return w->rc;
        }
        if (out_raw(w, w->zbuf, out.pos) < 0)
            return w->rc;
        bool done = end ? left == 0 : in.pos == in.size;
        if (done)
            break;
    }
    w->used = 0;
    return 0;
}

static int put(struct ds_pcapw *w, const void *p, size_t n)
{
    if (w->used + n > BUF_SIZE && drain(w, false) < 0)
        return w->rc;
    if (n > BUF_SIZE) /* cannot happen for frames <= 256 KiB, kept for safety */
        return fail(w, -EINVAL, "frame too large for");
    memcpy(w->buf + w->used, p, n);
    w->used += n;
    return 0;
}

bool ds_pcapw_name_is_zstd(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && !strcmp(path + n - 4, ".zst");
}

static int write_header(struct ds_pcapw *w)
{
    uint8_t h[64];
    if (w->o.format == DS_PCAPW_PCAP) {
        le32(h, w->o.nanosec ? 0xa1b23c4du : 0xa1b2c3d4u);
        le16(h + 4, 2);
        le16(h + 6, 4);
        le32(h + 8, 0);  /* thiszone */
        le32(h + 12, 0); /* sigfigs */
        le32(h + 16, w->o.snaplen);
        le32(h + 20, w->o.linktype);
        return put(w, h, 24);
    }
    /* Section Header Block with an optional shb_userappl */
    const char *app = w->o.appname;
    size_t alen = app ? strlen(app) : 0;
    if (alen > 200)
        alen = 200;
    size_t apad = (alen + 3) & ~(size_t)3;
    size_t optlen = alen ? 4 + apad + 4 : 0;
    uint32_t shb_len = (uint32_t)(28 + optlen);
    uint8_t shb[28 + 4 + 204 + 4];
    memset(shb, 0, sizeof shb);
    le32(shb, 0x0a0d0d0au);
    le32(shb + 4, shb_len);
    le32(shb + 8, 0x1a2b3c4du);
    le16(shb + 12, 1);
    le16(shb + 14, 0);
    memset(shb + 16, 0xff, 8); /* section length unknown */
    size_t o = 24;
    if (alen) {
        le16(shb + o, 4); /* shb_userappl */
        le16(shb + o + 2, (uint16_t)alen);
        memcpy(shb + o + 4, app, alen);
        o += 4 + apad;
        o += 4; /* opt_endofopt: zeros */
    }
    le32(shb + o, shb_len);
    if (put(w, shb, shb_len) < 0)
        return w->rc;
    /* Interface Description Block with if_tsresol */
    uint8_t idb[32];
    memset(idb, 0, sizeof idb);
    le32(idb, 1);
    le32(idb + 4, 32);
    le16(idb + 8, (uint16_t)w->o.linktype);
    le32(idb + 12, w->o.snaplen);
    le16(idb + 16, 9); /* if_tsresol */
    le16(idb + 18, 1);
    idb[20] = w->o.nanosec ? 9 : 6;
    /* idb[24..27]: opt_endofopt */
    le32(idb + 28, 32);
    return put(w, idb, 32);
}

int ds_pcapw_open(struct ds_pcapw **out, const char *path, const struct ds_pcapw_opts *o,
                  struct ds_err *err)
{
    *out = NULL;
    struct ds_pcapw *w = calloc(1, sizeof *w);
    if (!w)
        return ds_err_set(err, -ENOMEM, "out of memory opening '%s'", path);
    w->o = *o;
    snprintf(w->path, sizeof w->path, "%s", path);
    w->buf = malloc(BUF_SIZE);
    if (!w->buf)
        goto oom;
    if (o->zstd) {
        w->zc = ZSTD_createCCtx();
        w->zcap = ZSTD_CStreamOutSize();
        w->zbuf = malloc(w->zcap);
        if (!w->zc || !w->zbuf)
            goto oom;
        if (o->zstd_level)
            ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, o->zstd_level);
        ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1);
    }
    if (!strcmp(path, "-")) {
        w->f = stdout;
    } else {
        w->f = fopen(path, "wb");
        if (!w->f) {
            int e = errno;
            ds_pcapw_abort(w);
            return ds_err_set(err, -e, "cannot create '%s': %s", path, strerror(e));
        }
        w->own_file = true;
    }
    if (write_header(w) < 0) {
        int rc = ds_err_set(err, w->rc, "%s", w->msg);
        ds_pcapw_abort(w);
        return rc;
    }
    *out = w;
    return 0;
oom:
    ds_pcapw_abort(w);
    return ds_err_set(err, -ENOMEM, "out of memory opening '%s'", path);
}

int ds_pcapw_write(struct ds_pcapw *w, uint64_t ts_ns, const uint8_t *data, uint32_t caplen,
                   uint32_t wirelen)
{
    if (w->rc)
        return w->rc;
    uint8_t h[28];
    if (w->o.format == DS_PCAPW_PCAP) {
        uint64_t sec = ts_ns / 1000000000u, frac = ts_ns % 1000000000u;
        le32(h, (uint32_t)sec);
        le32(h + 4, (uint32_t)(w->o.nanosec ? frac : frac / 1000u));
        le32(h + 8, caplen);
        le32(h + 12, wirelen);
        if (put(w, h, 16) < 0 || put(w, data, caplen) < 0)
            return w->rc;
        return 0;
    }
    uint64_t ts = w->o.nanosec ? ts_ns : ts_ns / 1000u;
    uint32_t pad = (4 - (caplen & 3)) & 3;
    uint32_t len = 32 + caplen + pad;
    le32(h, 6);
    le32(h + 4, len);
    le32(h + 8, 0); /* interface 0 */
    le32(h + 12, (uint32_t)(ts >> 32));
    le32(h + 16, (uint32_t)ts);
    le32(h + 20, caplen);
    le32(h + 24, wirelen);
    static const uint8_t zero[4] = {0};
    uint8_t tail[4];
    le32(tail, len);
    if (put(w, h, 28) < 0 || put(w, data, caplen) < 0 || put(w, zero, pad) < 0 ||
        put(w, tail, 4) < 0)
        return w->rc;
    return 0;
}

uint64_t ds_pcapw_bytes(const struct ds_pcapw *w)
{
    return w->bytes + (w->zc ? 0 : w->used);
}

void ds_pcapw_abort(struct ds_pcapw *w)
{
    if (!w)
        return;
    if (w->own_file && w->f)
        fclose(w->f);
    ZSTD_freeCCtx(w->zc);
    free(w->zbuf);
    free(w->buf);
    free(w);
}

int ds_pcapw_close(struct ds_pcapw *w, struct ds_err *err)
{
    if (!w)
        return 0;
    drain(w, true);
    if (!w->rc && fflush(w->f) != 0)
        fail(w, errno ? -errno : -EIO, "cannot write");
    if (w->own_file) {
        if (fclose(w->f) != 0 && !w->rc)
            fail(w, errno ? -errno : -EIO, "cannot close");
        w->f = NULL;
    }
    int rc = w->rc;
    if (rc)
        ds_err_set(err, rc, "%s", w->msg);
    w->own_file = false;
    ds_pcapw_abort(w);
    return rc;
}
