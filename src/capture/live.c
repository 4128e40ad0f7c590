/* live.c - the live backend: one or more network interfaces through libpcap
 * (pcap_create/activate); several are read round-robin, waiting in poll() when all are idle. */
#include "capture/capture_int.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"

#define LIVE_DEFAULT_SNAPLEN 262144
#define LIVE_TIMEOUT_MS 100 /* how long a read may wait before we look at the break flag */

struct live_if {
    pcap_t *p;
    const char *name; /* the caller keeps it alive while the source is open */
    uint32_t linktype;
    uint32_t frac_mult; /* 1 when libpcap gives nanoseconds, 1000 for microseconds */
};

/* Owned by the source; used by the reading thread, except pcap_breakloop (any thread or a
 * signal handler, which libpcap allows). */
struct live {
    struct live_if *ifs;
    size_t n;
    size_t next; /* several interfaces: the one to try first */
    struct pollfd *pfd;
    int idle_ms;     /* opts->idle_ms */
    int64_t last_ms; /* when a frame (or an idle report) was last returned */
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int open_one(struct ds_source *s, struct live_if *li, const struct ds_capture_opts *o,
                    bool nonblock, struct ds_err *err)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    struct bpf_program prog;
    bool have_prog = false;
    int rc = 0;
    li->p = pcap_create(li->name, errbuf);
    if (!li->p)
        return ds_err_set(err, -ENODEV, "live capture on %s: %s", li->name, errbuf);
    pcap_set_snaplen(li->p, o->snaplen > 0 ? o->snaplen : LIVE_DEFAULT_SNAPLEN);
    pcap_set_promisc(li->p, o->promisc);
    pcap_set_immediate_mode(li->p, o->immediate);
    pcap_set_timeout(li->p, LIVE_TIMEOUT_MS);
    if (o->buffer_mb > 0)
        pcap_set_buffer_size(li->p, o->buffer_mb << 20);
    pcap_set_tstamp_precision(li->p, PCAP_TSTAMP_PRECISION_NANO); /* falls back to micro */

    rc = pcap_activate(li->p);
    if (rc < 0) {
        const char *detail = pcap_geterr(li->p);
        int code = rc == PCAP_ERROR_NO_SUCH_DEVICE                                        ? -ENODEV
                   : rc == PCAP_ERROR_PERM_DENIED || rc == PCAP_ERROR_PROMISC_PERM_DENIED ? -EPERM
                                                                                          : -EIO;
        return ds_err_set(err, code, "live capture on %s: %s%s%s", li->name, pcap_statustostr(rc),
                          detail && *detail ? ": " : "", detail ? detail : "");
    }
    if (rc > 0) {
        const char *detail = pcap_geterr(li->p);
        ds_warn("capture", "live capture on %s: %s%s%s", li->name, pcap_statustostr(rc),
                detail && *detail ? ": " : "", detail ? detail : "");
        rc = 0;
    }
    li->frac_mult = pcap_get_tstamp_precision(li->p) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
    li->linktype = ds_dlt_to_linktype(pcap_datalink(li->p));

    if (s->bpf.expr) {
        if (pcap_compile(li->p, &prog, s->bpf.expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
            rc = ds_err_set(err, -EINVAL, "bad BPF filter '%s' on %s: %s", s->bpf.expr, li->name,
                            pcap_geterr(li->p));
            goto out;
        }
        have_prog = true;
        if (pcap_setfilter(li->p, &prog) < 0) {
            rc = ds_err_set(err, -EIO, "cannot set BPF filter '%s' on %s: %s", s->bpf.expr,
                            li->name, pcap_geterr(li->p));
            goto out;
        }
    }
    if (nonblock && pcap_setnonblock(li->p, 1, errbuf) < 0) {
        rc = ds_err_set(err, -EIO, "live capture on %s: cannot make it non-blocking: %s", li->name,
                        errbuf);
        goto out;
    }
    if (nonblock && pcap_get_selectable_fd(li->p) < 0) {
        rc =
            ds_err_set(err, -EINVAL, "live capture on %s: no file descriptor to wait on", li->name);
        goto out;
    }
    ds_info("capture", "live capture on %s: link type %u, %s timestamps", li->name, li->linktype,
            li->frac_mult == 1 ? "nanosecond" : "microsecond");
out:
    if (have_prog)
        pcap_freecode(&prog);
    return rc;
}

static int live_open(struct ds_source *s, const struct ds_capture_opts *o, struct ds_err *err)
{
    size_t n = o->n_ifaces ? o->n_ifaces : 1;
    struct live *lv = calloc(1, sizeof *lv);
    if (!lv)
        return ds_err_set(err, -ENOMEM, "out of memory");
    s->priv = lv;
    lv->ifs = calloc(n, sizeof *lv->ifs);
    lv->pfd = calloc(n, sizeof *lv->pfd);
    if (!lv->ifs || !lv->pfd)
        return ds_err_set(err, -ENOMEM, "out of memory");
    lv->idle_ms = o->idle_ms > 0 ? o->idle_ms : 0;
    lv->last_ms = mono_ms();
    if (o->buffer_mb < 0 || o->buffer_mb > 2047)
        return ds_err_set(err, -EINVAL, "live capture: buffer size %d MiB out of range",
                          o->buffer_mb);
    for (size_t i = 0; i < n; i++) {
        lv->ifs[i].name = o->n_ifaces ? o->ifaces[i] : o->iface;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(lv->ifs[j].name, lv->ifs[i].name))
                return ds_err_set(err, -EINVAL, "live capture: interface %s given twice",
                                  lv->ifs[i].name);
        lv->n = i + 1; /* close() frees what was opened */
        int rc = open_one(s, &lv->ifs[i], o, n > 1, err);
        if (rc < 0)
            return rc;
        lv->pfd[i].fd = n > 1 ? pcap_get_selectable_fd(lv->ifs[i].p) : -1;
        lv->pfd[i].events = POLLIN;
    }
    return 0;
}

static void fill(struct ds_frame *f, const struct live_if *li, const struct pcap_pkthdr *h,
                 const u_char *d)
{
    f->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000u + (uint64_t)h->ts.tv_usec * li->frac_mult;
    f->data = d;
    f->caplen = h->caplen;
    f->wirelen = h->len;
    f->linktype = li->linktype;
}

static int live_next(struct ds_source *s, struct ds_frame *f, struct ds_err *err)
{
    struct live *lv = s->priv;
    for (;;) {
        if (s->broken)
            return 0;
        for (size_t k = 0; k < lv->n; k++) {
            size_t i = (lv->next + k) % lv->n;
            struct live_if *li = &lv->ifs[i];
            struct pcap_pkthdr *h;
            const u_char *d;
            int rc = pcap_next_ex(li->p, &h, &d);
            if (DS_LIKELY(rc == 1)) {
                fill(f, li, h, d);
                lv->next = (i + 1) % lv->n; /* fairness: a busy interface cannot starve others */
                if (lv->idle_ms)
                    lv->last_ms = mono_ms();
                return 1;
            }
            if (rc == 0)
                continue; /* timeout (one interface) or nothing queued (several) */
            if (rc == PCAP_ERROR_BREAK)
                return 0;
            return ds_err_set(err, -EIO, "live capture on %s: %s", li->name, pcap_geterr(li->p));
        }
        if (lv->n > 1 && poll(lv->pfd, lv->n, LIVE_TIMEOUT_MS) < 0 && errno != EINTR)
            return ds_err_set(err, -errno, "live capture: poll: %s", strerror(errno));
        if (lv->idle_ms) {
            int64_t now = mono_ms();
            if (now - lv->last_ms >= lv->idle_ms) {
                lv->last_ms = now;
                return DS_SOURCE_IDLE;
            }
        }
    }
}

static void live_stats(struct ds_source *s, struct ds_capture_stats *st)
{
    struct live *lv = s->priv;
    st->live = true;
    st->kernel_received = st->kernel_dropped = st->if_dropped = 0;
    for (size_t i = 0; i < lv->n; i++) {
        struct pcap_stat ps;
        if (lv->ifs[i].p && pcap_stats(lv->ifs[i].p, &ps) == 0) {
            st->kernel_received += ps.ps_recv;
            st->kernel_dropped += ps.ps_drop;
            st->if_dropped += ps.ps_ifdrop;
        }
    }
}

static void live_interrupt(struct ds_source *s)
{
    struct live *lv = s->priv;
    if (!lv)
        return;
    for (size_t i = 0; i < lv->n; i++)
        if (lv->ifs[i].p)
            pcap_breakloop(lv->ifs[i].p);
}

static void live_close(struct ds_source *s)
{
    struct live *lv = s->priv;
    if (!lv)
        return;
    for (size_t i = 0; i < lv->n; i++)
        if (lv->ifs[i].p)
            pcap_close(lv->ifs[i].p);
    free(lv->ifs);
    free(lv->pfd);
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
