/* reader.c - one capture file: recognise pcap or pcapng by magic number, report early stops. */
#include "capture/capture_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"

static const char *comp_name(enum ds_in_comp c)
{
    return c == DS_IN_GZIP ? "gzip-compressed " : c == DS_IN_ZSTD ? "zstd-compressed " : "";
}

int ds_reader_open(struct ds_reader *r, const char *name, const uint8_t *mem, size_t mem_len,
                   size_t chunk, struct ds_err *err)
{
    int rc;
    memset(r, 0, sizeof *r);
    r->name = name;
    rc = mem ? ds_input_open_mem(&r->in, name, mem, mem_len, chunk, err)
             : ds_input_open_path(&r->in, name, err);
    if (rc < 0)
        return rc; /* the input cleaned up after itself */

    rc = ds_input_fill(&r->in, 4, err);
    if (rc < 0) {
        ds_err_wrap(err, "%s", name);
        goto out;
    }
    size_t have = (size_t)(r->in.lim - r->in.cur);
    if (rc == 0) {
        rc = ds_err_set(err, -EINVAL, "%s: %s%s, not a capture", name, comp_name(r->in.comp),
                        have == 0 ? "empty file" : "file of fewer than 4 bytes");
        goto out;
    }
    uint32_t magic;
    memcpy(&magic, r->in.cur, 4);
    switch (magic) {
    case 0xa1b2c3d4:
    case 0xd4c3b2a1:
    case 0xa1b23c4d:
    case 0x4d3cb2a1:
    case 0xa1b2cd34:
    case 0x34cdb2a1:
        r->fmt = DS_FMT_PCAP;
        rc = ds_pcap_open(r, err);
        break;
    case 0x0a0d0d0a:
        r->fmt = DS_FMT_PCAPNG;
        rc = ds_pcapng_open(r, err);
        break;
    default: {
        const uint8_t *p = r->in.cur;
        rc = ds_err_set(err, -EINVAL,
                        "%s: %snot a pcap or pcapng file (starts with %02x %02x %02x %02x)", name,
                        comp_name(r->in.comp), p[0], p[1], p[2], p[3]);
        goto out;
    }
    }
    if (rc < 0)
        ds_err_wrap(err, "%s: %s%s", name, comp_name(r->in.comp),
                    r->fmt == DS_FMT_PCAP ? "pcap" : "pcapng");
out:
    if (rc < 0)
        ds_reader_close(r);
    return rc < 0 ? rc : 0;
}

void ds_reader_close(struct ds_reader *r)
{
    ds_input_close(&r->in);
    if (r->fmt == DS_FMT_PCAPNG) {
        free(r->ng.ifs);
        r->ng.ifs = NULL;
        r->ng.n_ifs = r->ng.cap_ifs = 0;
    }
}

int ds_reader_stop(struct ds_reader *r, uint64_t off, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    ds_warn("capture",
            "%s: %s at %sbyte offset %" PRIu64 "; stopped reading it, %" PRIu64
            " frames before that are kept",
            r->name, why, r->in.comp == DS_IN_RAW ? "" : "uncompressed ", off, r->frames);
    r->cut = true;
    r->done = true;
    r->in.cur = r->in.lim; /* keeps the inline fast path away from the rest */
    return 0;
}
