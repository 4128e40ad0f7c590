/* pcap_file.c - classic pcap files: byte orders, usec/nsec magics, the Kuznetzov variant. */
/* The per-frame fast path is inline in capture_int.h; this file has the header and the rest. */
#include "capture/capture_int.h"

#include <errno.h>

enum {
    MAGIC_USEC = 0xa1b2c3d4,
    MAGIC_NSEC = 0xa1b23c4d,
    MAGIC_KUZNETZOV = 0xa1b2cd34,
};

uint32_t ds_pcap_max_caplen(uint32_t linktype)
{
    /* the exceptions in libpcap's max_snaplen_for_dlt(); every other link type: 256 KiB */
    switch (linktype) {
    case 231: /* D-Bus: 128 MiB in libpcap, held to our block limit here */
        return DS_IN_MAX_BLOCK - 24;
    case 279: /* EBHSCR */
        return 8u << 20;
    case 249: /* USBPcap */
        return 1u << 20;
    default:
        return DS_PCAP_MAX_CAPLEN;
    }
}

int ds_pcap_open(struct ds_reader *r, struct ds_err *err)
{
    struct ds_pcap_state *ps = &r->pcap;
    int rc = ds_input_fill(&r->in, 24, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return ds_err_set(err, -EINVAL, "file header truncated (%zu of 24 bytes)",
                          (size_t)(r->in.lim - r->in.cur));
    const uint8_t *h = r->in.cur;
    uint32_t magic;
    memcpy(&magic, h, 4);
    ps->swap = magic != MAGIC_USEC && magic != MAGIC_NSEC && magic != MAGIC_KUZNETZOV;
    magic = ds_ld32(h, ps->swap);
    ps->frac_mult = magic == MAGIC_NSEC ? 1 : 1000;
    ps->hdr_len = magic == MAGIC_KUZNETZOV ? 24 : 16;

    /* versions as libpcap accepts them: 2.0 - 2.4, and 543.0 (DG/UX); before 2.3 (and in
     * 543.0) caplen and len were written the other way round, 2.3 files may be either */
    uint16_t vmaj = ds_ld16(h + 4, ps->swap), vmin = ds_ld16(h + 6, ps->swap);
    if (!((vmaj == 2 && vmin <= 4) || (vmaj == 543 && vmin == 0)))
        return ds_err_set(err, -EINVAL, "unsupported pcap version %u.%u", vmaj, vmin);
    ps->len_swap = vmaj == 543 || vmin < 3 ? 1 : vmin == 3 ? 2 : 0;
    ps->snaplen = ds_ld32(h + 16, ps->swap);
    /* the low 26 bits name the link type; the high bits carry the FCS length, ignored */
    ps->linktype = ds_ld32(h + 20, ps->swap) & 0x03FFFFFFu;
    ps->max_caplen = ds_pcap_max_caplen(ps->linktype);
    ps->simple = ps->hdr_len == 16 && ps->len_swap == 0;
    r->in.cur += 24;
    return 0;
}

/* Every record the inline fast path did not take: needs a refill, is unusual, or is bad. */
int ds_pcap_next_slow(struct ds_reader *r, struct ds_frame *f)
{
    struct ds_pcap_state *ps = &r->pcap;
    struct ds_input *in = &r->in;
    struct ds_err e = {0};
    if (r->done)
        return 0;
    size_t hl = ps->hdr_len;
    uint64_t off = ds_input_off(in, in->cur);
    int rc = ds_input_fill(in, hl, &e);
    if (rc < 0)
        return ds_reader_stop(r, off, "%s", e.msg);
    if (rc == 0) {
        size_t left = (size_t)(in->lim - in->cur);
        if (left == 0) {
            r->done = true; /* the clean end */
            return 0;
        }
        return ds_reader_stop(r, off, "truncated record header (%zu of %zu bytes)", left, hl);
    }
    const uint8_t *p = in->cur;
    uint32_t caplen = ds_ld32(p + 8, ps->swap), len = ds_ld32(p + 12, ps->swap);
    if (ps->len_swap == 1 || (ps->len_swap == 2 && caplen > len)) {
        uint32_t t = caplen;
        caplen = len;
        len = t;
    }
    if (caplen > ps->max_caplen)
        return ds_reader_stop(r, off, "corrupt record: caplen %u exceeds the %u-byte limit", caplen,
                              ps->max_caplen);
    rc = ds_input_fill(in, hl + caplen, &e);
    if (rc < 0)
        return ds_reader_stop(r, off, "%s", e.msg);
    if (rc == 0)
        return ds_reader_stop(r, off,
                              "truncated record (%u bytes of packet data announced, %zu present)",
                              caplen, (size_t)(in->lim - in->cur) - hl);
    p = in->cur; /* a refill may have moved the window */
    f->ts_ns = (uint64_t)ds_ld32(p, ps->swap) * 1000000000u +
               (uint64_t)ds_ld32(p + 4, ps->swap) * ps->frac_mult;
    f->caplen = caplen;
    f->wirelen = len;
    f->linktype = ps->linktype;
    f->data = p + hl;
    in->cur = p + hl + caplen;
    r->frames++;
    return 1;
}
