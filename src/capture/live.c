/* live.c - the live backend: one network interface through libpcap (pcap_create/activate). */
#include "capture/capture_int.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"

#define LIVE_DEFAULT_SNAPLEN 262144
#define LIVE_TIMEOUT_MS 100 /* how long pcap_next_ex may wait before we look at the break flag */

/* Owned by the source; used by the reading thread, except pcap_breakloop (any thread or a
 * signal handler, which libpcap allows). */
struct live {
    pcap_t *p;
    const char *iface; /* opts->iface: the caller keeps it alive while the source is open */
    uint32_t linktype;
    uint32_t frac_mult; /* 1 when libpcap gives nanoseconds, 1000 for microseconds */
};

static int live_open(struct ds_source *s, const struct ds_capture_opts *o, struct ds_err *err)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    struct bpf_program prog;
    bool have_prog = false;
    int rc = 0;
    struct live *lv = calloc(1, sizeof *lv);
    if (!lv)
        return ds_err_set(err, -ENOMEM, "out of memory");
    s->priv = lv;
    lv->iface = o->iface;
    lv->p = pcap_create(o->iface, errbuf);
    if (!lv->p) {
        rc = ds_err_set(err, -ENODEV, "live capture on %s: %s", o->iface, errbuf);
        goto out;
    }
    if (o->buffer_mb < 0 || o->buffer_mb > 2047) {
        rc = ds_err_set(err, -EINVAL, "live capture on %s: buffer size %d MiB out of range",
                        o->iface, o->buffer_mb);
        goto out;
    }
    pcap_set_snaplen(lv->p, o->snaplen > 0 ? o->snaplen : LIVE_DEFAULT_SNAPLEN);
    pcap_set_promisc(lv->p, o->promisc);
    pcap_set_immediate_mode(lv->p, o->immediate);
    pcap_set_timeout(lv->p, LIVE_TIMEOUT_MS);
    if (o->buffer_mb > 0)
        pcap_set_buffer_size(lv->p, o->buffer_mb << 20);
    pcap_set_tstamp_precision(lv->p, PCAP_TSTAMP_PRECISION_NANO); /* falls back to micro */

    rc = pcap_activate(lv->p);
    if (rc < 0) {
        const char *detail = pcap_geterr(lv->p);
        int code = rc == PCAP_ERROR_NO_SUCH_DEVICE                                        ? -ENODEV
                   : rc == PCAP_ERROR_PERM_DENIED || rc == PCAP_ERROR_PROMISC_PERM_DENIED ? -EPERM
                                                                                          : -EIO;
        rc = ds_err_set(err, code, "live capture on %s: %s%s%s", o->iface, pcap_statustostr(rc),
                        detail && *detail ? ": " : "", detail ? detail : "");
        goto out;
    }
    if (rc > 0) {
        const char *detail = pcap_geterr(lv->p);
        ds_warn("capture", "live capture on %s: %s%s%s", o->iface, pcap_statustostr(rc),
                detail && *detail ? ": " : "", detail ? detail : "");
        rc = 0;
    }
    lv->frac_mult = pcap_get_tstamp_precision(lv->p) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
    lv->linktype = ds_dlt_to_linktype(pcap_datalink(lv->p));

    if (s->bpf.expr) {
        if (pcap_compile(lv->p, &prog, s->bpf.expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            rc = ds_err_set(err, -EINVAL, "bad BPF filter '%s' on %s: %s", s->bpf.expr, o->iface,
                            pcap_geterr(lv->p));
            goto out;
        }
        have_prog = true;
        if (pcap_setfilter(lv->p, &prog) < 0) {
            rc = ds_err_set(err, -EIO, "cannot set BPF filter '%s' on %s: %s", s->bpf.expr,
                            o->iface, pcap_geterr(lv->p));
            goto out;
        }
    }
    ds_info("capture", "live capture on %s: link type %u, %s timestamps", o->iface, lv->linktype,
            lv->frac_mult == 1 ? "nanosecond" : "microsecond");
out:
    if (have_prog)
        pcap_freecode(&prog);
    return rc;
}

static int live_next(struct ds_source *s, struct ds_frame *f, struct ds_err *err)
{
    struct live *lv = s->priv;
    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *d;
        if (s->broken)
            return 0;
        int rc = pcap_next_ex(lv->p, &h, &d);
        if (DS_LIKELY(rc == 1)) {
            f->ts_ns =
                (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec * lv->frac_mult;
            f->data = d;
            f->caplen = h->caplen;
            f->wirelen = h->len;
            f->linktype = lv->linktype;
            return 1;
        }
        if (rc == 0)
            continue; /* read timeout: look at the break flag again */
        if (rc == PCAP_ERROR_BREAK)
            return 0;
        return ds_err_set(err, -EIO, "live capture on %s: %s", lv->iface, pcap_geterr(lv->p));
    }
}

static void live_stats(struct ds_source *s, struct ds_capture_stats *st)
{
    struct live *lv = s->priv;
    struct pcap_stat ps;
    st->live = true;
    if (pcap_stats(lv->p, &ps) == 0) {
        st->kernel_received = ps.ps_recv;
        st->kernel_dropped = ps.ps_drop;
        st->if_dropped = ps.ps_ifdrop;
    }
}

static void live_interrupt(struct ds_source *s)
{
    struct live *lv = s->priv;
    if (lv && lv->p)
        pcap_breakloop(lv->p);
}

static void live_close(struct ds_source *s)
{
    struct live *lv = s->priv;
    if (!lv)
        return;
    if (lv->p)
        pcap_close(lv->p);
    free(lv);
    s->priv = NULL;
}

const struct ds_capture_backend ds_capture_live = {
    .name = "live",
    .open = live_open,
    .next = live_next,
    .stats = live_stats,
    .interrupt = live_interrupt,
    .close = live_close,
};
