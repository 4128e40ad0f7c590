/* input.c - byte input for capture files: mmap'd in place, or streamed through a buffer. */
/* Regular files are mapped and parsed where they lie; standard input, pipes and gzip or zstd
 * data (recognised by magic number only) go through a refillable window. */
#include "capture/capture_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define IN_INITIAL_CAP (1u << 20) /* stream window; grows up to DS_IN_MAX_BLOCK as blocks need */
#define IN_CBUF_CAP (256u << 10)  /* compressed bytes read from a descriptor at a time */

static const uint8_t empty_file[1];

static enum ds_in_comp detect_comp(const uint8_t *p, size_t n)
{
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return DS_IN_GZIP;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return DS_IN_ZSTD;
    return DS_IN_RAW;
}

static int set_src_error(struct ds_input *in, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_src_error(struct ds_input *in, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->err_msg, sizeof in->err_msg, fmt, ap);
    va_end(ap);
    in->err_code = code;
    return code;
}

/* Reads from the descriptor, retrying on EINTR: bytes, 0 at end, <0 (sticky error set). */
static ssize_t fd_read(struct ds_input *in, uint8_t *dst, size_t n)
{
    for (;;) {
        ssize_t r = read(in->fd, dst, n);
        if (r >= 0) {
            if (r == 0)
                in->src_eof = true;
            return r;
        }
        if (errno != EINTR)
            return set_src_error(in, -errno, "read error: %s", strerror(errno));
    }
}

/* Points *p at compressed bytes not consumed yet (memory, or cbuf refilled from the fd).
 * 1 = *n > 0 bytes, 0 = no more input, <0 = read error. */
static int zin_get(struct ds_input *in, const uint8_t **p, size_t *n)
{
    if (in->src) {
        size_t rem = in->src_len - in->src_pos;
        if (rem == 0)
            return 0;
        *p = in->src + in->src_pos;
        *n = in->chunk && in->chunk < rem ? in->chunk : rem;
        return 1;
    }
    if (in->cbuf_pos == in->cbuf_len) {
        if (in->src_eof)
            return 0;
        ssize_t r = fd_read(in, in->cbuf, in->cbuf_cap);
        if (r <= 0)
            return (int)r;
        in->cbuf_len = (size_t)r;
        in->cbuf_pos = 0;
    }
    *p = in->cbuf + in->cbuf_pos;
    *n = in->cbuf_len - in->cbuf_pos;
    return 1;
}

static void zin_consume(struct ds_input *in, size_t k)
{
    if (in->src)
        in->src_pos += k;
    else
        in->cbuf_pos += k;
    in->src_consumed += k;
}

/* Uncompressed stream: copies what the source has (no more than n). */
static ssize_t produce_raw(struct ds_input *in, uint8_t *dst, size_t n)
{
    const uint8_t *p;
    size_t avail;
    if (in->src || in->cbuf_pos < in->cbuf_len) { /* memory, or bytes read while detecting */
        int r = zin_get(in, &p, &avail);
        if (r <= 0)
            return r;
        size_t k = avail < n ? avail : n;
        memcpy(dst, p, k);
        zin_consume(in, k);
        return (ssize_t)k;
    }
    if (in->src_eof)
        return 0;
    return fd_read(in, dst, n);
}

static ssize_t produce_gzip(struct ds_input *in, uint8_t *dst, size_t n)
{
    z_stream *zs = in->zs;
    for (;;) {
        const uint8_t *p = NULL;
        size_t avail = 0;
        int r = zin_get(in, &p, &avail);
        if (r < 0)
            return r;
        if (r > 0 && in->zdone) {
            /* another gzip member may follow; anything else (padding) is ignored, as gzip does */
            if (p[0] != 0x1f)
                return 0;
            inflateReset(zs);
            in->zdone = false;
        }
        if (r == 0 && in->zdone)
            return 0;
        zs->next_in = (Bytef *)(uintptr_t)p;
        zs->avail_in = (uInt)(avail > UINT32_MAX ? UINT32_MAX : avail);
        zs->next_out = dst;
        zs->avail_out = (uInt)(n > UINT32_MAX ? UINT32_MAX : n);
        uInt in0 = zs->avail_in, out0 = zs->avail_out;
        int zr = inflate(zs, Z_NO_FLUSH);
        zin_consume(in, in0 - zs->avail_in);
        size_t made = out0 - zs->avail_out;
        if (zr == Z_STREAM_END) {
            in->zdone = true;
        } else if (zr != Z_OK && !(zr == Z_BUF_ERROR && made > 0)) {
            int code;
            if (r == 0 || zr == Z_BUF_ERROR)
                code = set_src_error(
                    in, -EIO, "gzip data truncated (compressed input ends at byte %" PRIu64 ")",
                    in->src_consumed);
            else
                code =
                    set_src_error(in, -EIO, "gzip data corrupt (%s) near compressed byte %" PRIu64,
                                  zs->msg ? zs->msg : "inflate error", in->src_consumed);
            return made > 0 ? (ssize_t)made : code; /* the bytes before the damage count */
        }
        if (made > 0)
            return (ssize_t)made;
        if (r == 0 && !in->zdone)
            return set_src_error(in, -EIO,
                                 "gzip data truncated (compressed input ends at byte %" PRIu64 ")",
                                 in->src_consumed);
    }
}

static ssize_t produce_zstd(struct ds_input *in, uint8_t *dst, size_t n)
{
    /*
     * zstd drops all output of a call that fails, so what survives damage depends on how
     * much one call was given. These rules keep that loss small, and mostly independent of
     * how the bytes arrived (mapped file or pipe) and of the room in our buffer:
     * - input goes in pieces of zstd's own hint (the rest of the current block and the next
     *   block header), so a call decodes at most one block; a damaged block costs itself,
     *   at worst also the good block before it when the damage is in its own header;
     * - a frame's first byte goes alone: given a whole frame at once, zstd would decode it
     *   in one pass and damage anywhere would cost the whole frame;
     * - while decoded bytes wait to be flushed (the last call filled our buffer), calls get
     *   no new input, so nothing already decoded is lost to an error further on.
     */
    for (;;) {
        const uint8_t *p = NULL;
        size_t avail = 0;
        int r = 1;
        if (!in->zpending) {
            r = zin_get(in, &p, &avail);
            if (r < 0)
                return r;
            if (r == 0 && in->zdone)
                return 0; /* the last frame ended with the input */
        }
        ZSTD_inBuffer ib = {.src = p, .size = avail < in->zhint ? avail : in->zhint, .pos = 0};
        ZSTD_outBuffer ob = {.dst = dst, .size = n, .pos = 0};
        size_t zr = ZSTD_decompressStream(in->zd, &ob, &ib);
        zin_consume(in, ib.pos);
        if (ZSTD_isError(zr)) {
            int code =
                set_src_error(in, -EIO, "zstd data corrupt (%s) near compressed byte %" PRIu64,
                              ZSTD_getErrorName(zr), in->src_consumed);
            return ob.pos > 0 ? (ssize_t)ob.pos : code; /* the bytes before the damage count */
        }
        in->zdone = zr == 0;
        in->zhint = zr == 0 ? 1 : zr;
        in->zpending = zr != 0 && ob.pos == ob.size;
        if (ob.pos > 0)
            return (ssize_t)ob.pos;
        if (r == 0) {
            if (in->zdone)
                return 0;
            return set_src_error(in, -EIO,
                                 "zstd data truncated (compressed input ends at byte %" PRIu64 ")",
                                 in->src_consumed);
        }
    }
}

int ds_input_fill_slow(struct ds_input *in, size_t need, struct ds_err *err)
{
    if (need > DS_IN_MAX_BLOCK)
        return ds_err_set(err, -EFBIG, "block of %zu bytes exceeds the %u MiB limit", need,
                          DS_IN_MAX_BLOCK >> 20);
    while ((size_t)(in->lim - in->cur) < need) {
        if (in->mapped || in->eof)
            return 0;
        if (in->err_code)
            return ds_err_set(err, in->err_code, "%s", in->err_msg);
        size_t have = (size_t)(in->lim - in->cur);
        if (in->cur != in->buf) { /* slide the unread tail to the front */
            memmove(in->buf, in->cur, have);
            in->base_off += (uint64_t)(in->cur - in->buf);
            in->cur = in->buf;
            in->lim = in->buf + have;
        }
        if (have == in->cap) {
            /* full and still short of a block: double, so the buffer grows with the bytes
             * that really arrive, never at once to a length a header merely claims */
            size_t ncap = in->cap * 2;
            if (ncap > DS_IN_MAX_BLOCK)
                ncap = DS_IN_MAX_BLOCK;
            uint8_t *nb = realloc(in->buf, ncap);
            if (!nb)
                return ds_err_set(err, -ENOMEM, "out of memory for a %zu-byte block", need);
            in->buf = nb;
            in->cap = ncap;
            in->base = in->cur = nb;
            in->lim = nb + have;
        }
        uint8_t *dst = in->buf + have;
        size_t room = in->cap - have;
        ssize_t r = in->comp == DS_IN_GZIP   ? produce_gzip(in, dst, room)
                    : in->comp == DS_IN_ZSTD ? produce_zstd(in, dst, room)
                                             : produce_raw(in, dst, room);
        if (r < 0)
            continue; /* sticky error: reported above if the bytes are still short */
        if (r == 0)
            in->eof = true;
        in->lim += r;
    }
    return 1;
}

/* Sets up decompression or a raw stream once the first bytes are known. */
static int start_stream(struct ds_input *in, const uint8_t *head, size_t n, struct ds_err *err)
{
    in->comp = detect_comp(head, n);
    in->cap = in->chunk ? 4096 : IN_INITIAL_CAP; /* small in tests: exercises growth */
    in->buf = malloc(in->cap);
    if (!in->buf)
        return ds_err_set(err, -ENOMEM, "%s: out of memory", in->name);
    in->base = in->cur = in->lim = in->buf;
    if (in->comp == DS_IN_GZIP) {
        z_stream *zs = calloc(1, sizeof *zs);
        if (!zs)
            return ds_err_set(err, -ENOMEM, "%s: out of memory", in->name);
        if (inflateInit2(zs, 16 + MAX_WBITS) != Z_OK) {
            free(zs);
            return ds_err_set(err, -ENOMEM, "%s: cannot start gzip decompression", in->name);
        }
        in->zs = zs;
    } else if (in->comp == DS_IN_ZSTD) {
        in->zhint = 1;
        in->zd = ZSTD_createDStream();
        if (!in->zd || ZSTD_isError(ZSTD_initDStream(in->zd)))
            return ds_err_set(err, -ENOMEM, "%s: cannot start zstd decompression", in->name);
    }
    return 0;
}

/* Memory (a mapped file or caller bytes): in place when uncompressed and not chunked. */
static int open_memory(struct ds_input *in, const uint8_t *data, size_t len, struct ds_err *err)
{
    if (detect_comp(data, len) == DS_IN_RAW && in->chunk == 0) {
        in->mapped = true;
        in->eof = true;
        in->base = in->cur = data;
        in->lim = data + len;
        return 0;
    }
    in->src = data;
    in->src_len = len;
    return start_stream(in, data, len, err);
}

static void input_init(struct ds_input *in, const char *name)
{
    memset(in, 0, sizeof *in);
    in->fd = -1;
    in->name = name;
    in->base = in->cur = in->lim = empty_file;
}

int ds_input_open_mem(struct ds_input *in, const char *name, const uint8_t *data, size_t len,
                      size_t stream_chunk, struct ds_err *err)
{
    input_init(in, name);
    in->chunk = stream_chunk;
    return open_memory(in, len ? data : empty_file, len, err);
}

int ds_input_open_path(struct ds_input *in, const char *path, struct ds_err *err)
{
    int rc = 0;
    struct stat sb;
    bool is_stdin = strcmp(path, "-") == 0;
    input_init(in, path);
    if (is_stdin) {
        in->fd = STDIN_FILENO;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            rc = ds_err_set(err, -errno, "%s: %s", path, strerror(errno));
            goto out;
        }
        in->own_fd = true;
    }
    if (fstat(in->fd, &sb) < 0) {
        rc = ds_err_set(err, -errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(sb.st_mode)) {
        rc = ds_err_set(err, -EISDIR, "%s: is a directory", path);
        goto out;
    }
    if (S_ISREG(sb.st_mode) && !is_stdin) {
        in->reopenable = true;
        if (sb.st_size > 0) {
            if ((uint64_t)sb.st_size > SIZE_MAX) {
                rc = ds_err_set(err, -EFBIG, "%s: file too large to map", path);
                goto out;
            }
            void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, in->fd, 0);
            if (m == MAP_FAILED) {
                rc = ds_err_set(err, -errno, "%s: mmap: %s", path, strerror(errno));
                goto out;
            }
            in->map = m;
            in->map_len = (size_t)sb.st_size;
            madvise(m, in->map_len, MADV_SEQUENTIAL);
        }
        close(in->fd); /* the mapping stays valid; 1,000 files need not hold 1,000 fds */
        in->fd = -1;
        in->own_fd = false;
        rc = open_memory(in, in->map ? in->map : empty_file, in->map_len, err);
        goto out;
    }
    /* a pipe, terminal or device: read the first bytes to recognise compression */
    in->cbuf_cap = IN_CBUF_CAP;
    in->cbuf = malloc(in->cbuf_cap);
    if (!in->cbuf) {
        rc = ds_err_set(err, -ENOMEM, "%s: out of memory", path);
        goto out;
    }
    while (in->cbuf_len < 4 && !in->src_eof) {
        ssize_t r = fd_read(in, in->cbuf + in->cbuf_len, in->cbuf_cap - in->cbuf_len);
        if (r < 0) {
            rc = ds_err_set(err, in->err_code, "%s: %s", path, in->err_msg);
            goto out;
        }
        in->cbuf_len += (size_t)r;
    }
    rc = start_stream(in, in->cbuf, in->cbuf_len, err);
out:
    if (rc < 0)
        ds_input_close(in);
    return rc;
}

void ds_input_close(struct ds_input *in)
{
    if (in->map)
        munmap(in->map, in->map_len);
    if (in->own_fd)
        close(in->fd);
    if (in->zs) {
        inflateEnd(in->zs);
        free(in->zs);
    }
    if (in->zd)
        ZSTD_freeDStream(in->zd);
    free(in->buf);
    free(in->cbuf);
    const char *name = in->name;
    input_init(in, name);
}
