/* pcapng.c - pcapng files: sections, interfaces, Enhanced/Simple/legacy Packet Blocks. */
/* Sections may differ in byte order; each interface has its own link type and time resolution;
 * every block that is not a packet, a section or an interface is skipped by its length. */
#include "capture/capture_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    BT_IDB = 1,
    BT_PB = 2, /* obsolete Packet Block */
    BT_SPB = 3,
    BT_EPB = 6,
    BT_SHB = 0x0a0d0d0a,
    BYTE_ORDER_MAGIC = 0x1a2b3c4d,
    OPT_ENDOFOPT = 0,
    OPT_IF_TSRESOL = 9,
    OPT_IF_TSOFFSET = 14,
    MAX_IFACES = 1 << 16, /* per section; more is taken as corruption */
};

__extension__ typedef __int128 ds_i128;
__extension__ typedef unsigned __int128 ds_u128;

/* Time units of one interface -> ns since the epoch, clamped to [0, UINT64_MAX]. */
static uint64_t ng_ts(const struct ds_ng_iface *ifc, uint64_t u)
{
    ds_u128 ns;
    switch (ifc->ts_mode) {
    case DS_TS_MUL:
        ns = (ds_u128)u * ifc->ts_k;
        break;
    case DS_TS_DIV:
        ns = u / ifc->ts_k;
        break;
    case DS_TS_SHIFT:
        ns = ((ds_u128)u * 1000000000u) >> ifc->ts_shift;
        break;
    default:
        ns = 0;
        break;
    }
    ds_i128 t = (ds_i128)ns + (ds_i128)ifc->ts_off_s * 1000000000;
    if (t < 0)
        return 0;
    if (t > (ds_i128)UINT64_MAX)
        return UINT64_MAX;
    return (uint64_t)t;
}

/* if_tsresol: high bit clear = 10^-v s per unit, set = 2^-(v & 0x7f). */
static void set_tsresol(struct ds_ng_iface *ifc, uint8_t v)
{
    if (v & 0x80) {
        ifc->ts_mode = DS_TS_SHIFT;
        ifc->ts_shift = v & 0x7f;
        return;
    }
    if (v <= 9) {
        uint64_t k = 1;
        for (int i = v; i < 9; i++)
            k *= 10;
        ifc->ts_mode = DS_TS_MUL;
        ifc->ts_k = k;
    } else if (v - 9 <= 19) {
        uint64_t k = 1;
        for (int i = 9; i < v; i++)
            k *= 10;
        ifc->ts_mode = DS_TS_DIV;
        ifc->ts_k = k;
    } else {
        ifc->ts_mode = DS_TS_ZERO; /* units far below a nanosecond, all under 1 ns */
    }
}

static void copy_why(char *why, size_t whylen, const char *msg)
{
    size_t l = strlen(msg);
    if (l >= whylen)
        l = whylen - 1;
    memcpy(why, msg, l);
    why[l] = '\0';
}

/*
 * Makes the next whole block readable at in->cur and checks its framing (length a multiple
 * of 4, >= 12, within the block limit, trailer equal to header). 1 = block at *blk, 0 = clean
 * end of file, -1 = unusable (why says what; the block starts at *off).
 */
static int next_block(struct ds_reader *r, const uint8_t **blk, uint32_t *type, uint32_t *len,
                      bool *swap, uint64_t *off, char *why, size_t whylen)
{
    struct ds_input *in = &r->in;
    struct ds_err e = {0};
    *off = ds_input_off(in, in->cur);
    int rc = ds_input_fill(in, 12, &e);
    if (rc < 0) {
        copy_why(why, whylen, e.msg);
        return -1;
    }
    if (rc == 0) {
        size_t left = (size_t)(in->lim - in->cur);
        if (left == 0)
            return 0;
        snprintf(why, whylen, "truncated block header (%zu bytes left)", left);
        return -1;
    }
    const uint8_t *p = in->cur;
    bool sw = r->ng.swap;
    *type = ds_ld32(p, sw);
    if (*type == BT_SHB) { /* a new section names its own byte order */
        uint32_t bom;
        memcpy(&bom, p + 8, 4);
        if (bom == BYTE_ORDER_MAGIC) {
            sw = false;
        } else if (__builtin_bswap32(bom) == BYTE_ORDER_MAGIC) {
            sw = true;
        } else {
            snprintf(why, whylen, "section header with bad byte-order magic 0x%08x", bom);
            return -1;
        }
    }
    *len = ds_ld32(p + 4, sw);
    if (*len < 12 || *len % 4 != 0) {
        snprintf(why, whylen, "bad block length %u (block type 0x%08x)", *len, *type);
        return -1;
    }
    if (*len > DS_IN_MAX_BLOCK) {
        snprintf(why, whylen, "block of %u bytes (type 0x%08x) exceeds the %u MiB limit", *len,
                 *type, DS_IN_MAX_BLOCK >> 20);
        return -1;
    }
    rc = ds_input_fill(in, *len, &e);
    if (rc < 0) {
        copy_why(why, whylen, e.msg);
        return -1;
    }
    if (rc == 0) {
        snprintf(why, whylen, "truncated block (type 0x%08x, %u bytes announced, %zu present)",
                 *type, *len, (size_t)(in->lim - in->cur));
        return -1;
    }
    p = in->cur;
    uint32_t trail = ds_ld32(p + *len - 4, sw);
    if (trail != *len) {
        snprintf(why, whylen, "block trailer length %u differs from header length %u", trail, *len);
        return -1;
    }
    *blk = p;
    *swap = sw;
    return 1;
}

static int section_start(struct ds_reader *r, const uint8_t *b, uint32_t len, bool sw, char *why,
                         size_t whylen)
{
    if (len < 28) {
        snprintf(why, whylen, "section header block too short (%u bytes)", len);
        return -1;
    }
    uint16_t major = ds_ld16(b + 12, sw), minor = ds_ld16(b + 14, sw);
    if (major != 1) {
        snprintf(why, whylen, "unsupported pcapng version %u.%u", major, minor);
        return -1;
    }
    r->ng.swap = sw;
    r->ng.n_ifs = 0; /* interface ids are per section */
    return 0;
}

static int add_iface(struct ds_reader *r, const uint8_t *b, uint32_t len, char *why, size_t whylen)
{
    struct ds_pcapng_state *ng = &r->ng;
    bool sw = ng->swap;
    if (len < 20) {
        snprintf(why, whylen, "interface description block too short (%u bytes)", len);
        return -1;
    }
    if (ng->n_ifs == ng->cap_ifs) {
        if (ng->n_ifs >= MAX_IFACES) {
            snprintf(why, whylen, "more than %d interfaces in one section", MAX_IFACES);
            return -1;
        }
        uint32_t ncap = ng->cap_ifs ? ng->cap_ifs * 2 : 4;
        struct ds_ng_iface *n = realloc(ng->ifs, ncap * sizeof *n);
        if (!n) {
            snprintf(why, whylen, "out of memory for interface %u", ng->n_ifs);
            return -1;
        }
        ng->ifs = n;
        ng->cap_ifs = ncap;
    }
    struct ds_ng_iface *ifc = &ng->ifs[ng->n_ifs++];
    memset(ifc, 0, sizeof *ifc);
    ifc->linktype = ds_ld16(b + 8, sw);
    ifc->snaplen = ds_ld32(b + 12, sw);
    set_tsresol(ifc, 6); /* default: microseconds */

    /* options: a damaged option ends the option list, not the file (the block's framing
     * was checked, so the damage stays inside this block) */
    const uint8_t *o = b + 16, *end = b + len - 4;
    bool have_res = false, have_off = false;
    while (end - o >= 4) {
        uint16_t code = ds_ld16(o, sw), olen = ds_ld16(o + 2, sw);
        size_t padded = ((size_t)olen + 3) & ~(size_t)3;
        if (code == OPT_ENDOFOPT || padded > (size_t)(end - o) - 4)
            break;
        if (code == OPT_IF_TSRESOL && olen >= 1 && !have_res) {
            set_tsresol(ifc, o[4]);
            have_res = true;
        } else if (code == OPT_IF_TSOFFSET && olen == 8 && !have_off) {
            ifc->ts_off_s = (int64_t)ds_ld64(o + 4, sw);
            have_off = true;
        }
        o += 4 + padded;
    }
    return 0;
}

int ds_pcapng_open(struct ds_reader *r, struct ds_err *err)
{
    const uint8_t *b;
    uint32_t type, len;
    bool sw;
    uint64_t off;
    char why[200];
    int rc = next_block(r, &b, &type, &len, &sw, &off, why, sizeof why);
    if (rc == 0)
        snprintf(why, sizeof why, "no section header");
    if (rc <= 0 || section_start(r, b, len, sw, why, sizeof why) < 0)
        return ds_err_set(err, -EINVAL, "%s", why);
    r->in.cur = b + len;
    return 0;
}

int ds_pcapng_next(struct ds_reader *r, struct ds_frame *f)
{
    struct ds_pcapng_state *ng = &r->ng;
    char why[240];
    for (;;) {
        const uint8_t *b;
        uint32_t type, len;
        bool sw;
        uint64_t off;
        if (r->done)
            return 0;
        int rc = next_block(r, &b, &type, &len, &sw, &off, why, sizeof why);
        if (rc == 0) {
            r->done = true;
            return 0;
        }
        if (rc < 0)
            return ds_reader_stop(r, off, "%s", why);
        uint32_t ifid, caplen, wire;
        uint64_t units;
        switch (type) {
        case BT_SHB:
            if (section_start(r, b, len, sw, why, sizeof why) < 0)
                return ds_reader_stop(r, off, "%s", why);
            break;
        case BT_IDB:
            if (add_iface(r, b, len, why, sizeof why) < 0)
                return ds_reader_stop(r, off, "%s", why);
            break;
        case BT_EPB:
        case BT_PB:
            if (len < 32)
                return ds_reader_stop(r, off, "packet block too short (%u bytes)", len);
            ifid = type == BT_EPB ? ds_ld32(b + 8, sw) : ds_ld16(b + 8, sw);
            if (ifid >= ng->n_ifs)
                return ds_reader_stop(r, off, "packet block names interface %u, the section has %u",
                                      ifid, ng->n_ifs);
            units = (uint64_t)ds_ld32(b + 12, sw) << 32 | ds_ld32(b + 16, sw);
            caplen = ds_ld32(b + 20, sw);
            wire = ds_ld32(b + 24, sw);
            if (caplen > len - 32)
                return ds_reader_stop(r, off, "packet caplen %u exceeds its %u-byte block", caplen,
                                      len);
            f->ts_ns = ng->last_ts = ng_ts(&ng->ifs[ifid], units);
            f->data = b + 28;
            f->caplen = caplen;
            f->wirelen = wire;
            f->linktype = ng->ifs[ifid].linktype;
            r->in.cur = b + len;
            r->frames++;
            return 1;
        case BT_SPB:
            if (len < 16)
                return ds_reader_stop(r, off, "simple packet block too short (%u bytes)", len);
            if (ng->n_ifs == 0)
                return ds_reader_stop(r, off, "simple packet block before any interface");
            wire = ds_ld32(b + 8, sw);
            caplen = wire < len - 16 ? wire : len - 16;
            if (ng->ifs[0].snaplen && caplen > ng->ifs[0].snaplen)
                caplen = ng->ifs[0].snaplen;
            f->ts_ns = ng->last_ts; /* SPBs carry no time: keep the previous frame's */
            f->data = b + 12;
            f->caplen = caplen;
            f->wirelen = wire;
            f->linktype = ng->ifs[0].linktype;
            r->in.cur = b + len;
            r->frames++;
            return 1;
        default:
            break; /* NRB, ISB, DSB, custom, ...: not packets */
        }
        r->in.cur = b + len;
    }
}
