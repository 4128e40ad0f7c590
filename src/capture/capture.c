/* capture.c - the packet source front: backend registry, dispatch, and the BPF filter cache. */
#include "capture/capture_int.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"

/* Every backend, looked up by name. */
static const struct ds_capture_backend *const backends[] = {
    &ds_capture_file,
    &ds_capture_live,
};

static const struct ds_capture_backend *find_backend(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

static int source_new(struct ds_source **out, const char *backend, const char *bpf,
                      struct ds_err *err)
{
    struct ds_source *s = calloc(1, sizeof *s);
    if (!s)
        return ds_err_set(err, -ENOMEM, "out of memory");
    s->be = find_backend(backend);
    if (bpf && *bpf) {
        s->bpf.expr = strdup(bpf);
        if (!s->bpf.expr) {
            free(s);
            return ds_err_set(err, -ENOMEM, "out of memory");
        }
    }
    *out = s;
    return 0;
}

static void source_free(struct ds_source *s)
{
    ds_bpf_free(&s->bpf);
    free(s);
}

int ds_source_open(struct ds_source **out, const struct ds_capture_opts *opts, struct ds_err *err)
{
    struct ds_source *s = NULL;
    int rc;
    *out = NULL;
    bool live = opts->iface || opts->n_ifaces;
    if (live && opts->n_paths)
        return ds_err_set(err, -EINVAL, "capture: give interfaces or files, not both");
    if (!live && opts->n_paths == 0)
        return ds_err_set(err, -EINVAL, "capture: no interface and no input files given");
    rc = source_new(&s, live ? "live" : "file", opts->bpf, err);
    if (rc < 0)
        goto out;
    s->speed = live ? 0 : opts->speed;
    rc = s->be->open(s, opts, err);
out:
    if (rc < 0 && s) {
        if (s->priv)
            s->be->close(s);
        source_free(s);
        s = NULL;
    }
    *out = s;
    return rc < 0 ? rc : 0;
}

int ds_source_open_mem(struct ds_source **out, const uint8_t *data, size_t len, size_t stream_chunk,
                       const char *bpf, struct ds_err *err)
{
    struct ds_source *s = NULL;
    int rc = source_new(&s, "file", bpf, err);
    if (rc < 0)
        return rc;
    rc = ds_file_open_mem(s, data, len, stream_chunk, err);
    if (rc < 0) {
        source_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

static int64_t wall_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Replay pacing: waits until the frame is due (its packet-time distance from the first
 * frame, divided by the speed), in short sleeps so ds_source_break still stops it soon. */
static void pace(struct ds_source *s, const struct ds_frame *f)
{
    if (!s->paced) {
        s->paced = true;
        s->pace_wall_ns = wall_ns();
        s->pace_ts_ns = f->ts_ns;
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        ds_info("capture",
                "replay at %gx: packet time %" PRIu64 ".%09" PRIu64 " is wall time %lld.%09ld",
                s->speed, f->ts_ns / 1000000000u, f->ts_ns % 1000000000u, (long long)rt.tv_sec,
                rt.tv_nsec);
        return;
    }
    if (f->ts_ns <= s->pace_ts_ns)
        return;
    int64_t due = s->pace_wall_ns + (int64_t)((double)(f->ts_ns - s->pace_ts_ns) / s->speed);
    for (;;) {
        int64_t left = due - wall_ns();
        if (left <= 0 || s->broken)
            return;
        struct timespec ts = {0, left > 50000000 ? 50000000 : (long)left};
        nanosleep(&ts, NULL);
    }
}

int ds_source_next(struct ds_source *s, struct ds_frame *f, struct ds_err *err)
{
    if (DS_UNLIKELY(s->broken))
        return 0;
    int rc = s->be->next(s, f, err);
    if (rc == 1 && s->speed > 0)
        pace(s, f);
    s->st.frames += rc == 1;
    return rc;
}

int ds_source_next_batch(struct ds_source *s, struct ds_frame *fv, int max, struct ds_err *err)
{
    if (DS_UNLIKELY(s->broken) || max <= 0)
        return 0;
    if (s->speed > 0) /* paced: one frame at a time, each when it is due */
        return ds_source_next(s, fv, err);
    int n = s->be->next_batch ? s->be->next_batch(s, fv, max, err) : s->be->next(s, fv, err);
    if (n > 0)
        s->st.frames += (uint64_t)n;
    return n;
}

void ds_source_stats(struct ds_source *s, struct ds_capture_stats *st)
{
    *st = s->st;
    if (s->be->stats)
        s->be->stats(s, st);
}

void ds_source_break(struct ds_source *s)
{
    s->broken = 1;
    if (s->be->interrupt)
        s->be->interrupt(s);
}

void ds_source_close(struct ds_source *s)
{
    if (!s)
        return;
    s->be->close(s);
    source_free(s);
}

/* ---------------------------------------------------------------- BPF ---------------------- */

/* The LINKTYPE_ values that differ from this platform's DLT_ values (libpcap's table). */
static const struct {
    uint32_t linktype;
    int dlt;
} lt_dlt[] = {
    {100, DLT_ATM_RFC1483}, {101, DLT_RAW},      {102, DLT_SLIP_BSDOS},
    {103, DLT_PPP_BSDOS},   {106, DLT_ATM_CLIP},
};

int ds_linktype_to_dlt(uint32_t linktype)
{
    for (size_t i = 0; i < sizeof lt_dlt / sizeof lt_dlt[0]; i++)
        if (lt_dlt[i].linktype == linktype)
            return lt_dlt[i].dlt;
    return (int)linktype;
}

uint32_t ds_dlt_to_linktype(int dlt)
{
    for (size_t i = 0; i < sizeof lt_dlt / sizeof lt_dlt[0]; i++)
        if (lt_dlt[i].dlt == dlt)
            return lt_dlt[i].linktype;
    return (uint32_t)dlt;
}

int ds_bpf_prepare(struct ds_bpf *b, uint32_t linktype, struct ds_bpf_ent **out, struct ds_err *err)
{
    int rc = 0;
    pcap_t *dead = NULL;
    for (size_t i = 0; i < b->n; i++) {
        if (b->ents[i].linktype == linktype) {
            *out = &b->ents[i];
            return b->ents[i].ok ? 0 : -EINVAL;
        }
    }
    if (b->n == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 4;
        struct ds_bpf_ent *n = realloc(b->ents, ncap * sizeof *n);
        if (!n)
            return ds_err_set(err, -ENOMEM, "out of memory");
        b->ents = n;
        b->cap = ncap;
        b->last = NULL; /* it pointed into the old array */
    }
    struct ds_bpf_ent *e = &b->ents[b->n];
    memset(e, 0, sizeof *e);
    e->linktype = linktype;
    e->prog = calloc(1, sizeof(struct bpf_program));
    if (!e->prog)
        return ds_err_set(err, -ENOMEM, "out of memory");
    b->n++;
    *out = e;
    dead = pcap_open_dead(ds_linktype_to_dlt(linktype), 262144);
    if (!dead) {
        rc = ds_err_set(err, -ENOMEM, "BPF filter '%s': pcap_open_dead failed", b->expr);
        goto out;
    }
    if (pcap_compile(dead, e->prog, b->expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        rc = ds_err_set(err, -EINVAL, "bad BPF filter '%s' (for link type %u): %s", b->expr,
                        linktype, pcap_geterr(dead));
        goto out;
    }
    e->ok = true;
out:
    if (dead)
        pcap_close(dead);
    return rc;
}

bool ds_bpf_match(struct ds_bpf *b, const struct ds_frame *f)
{
    struct ds_bpf_ent *e = b->last;
    if (DS_UNLIKELY(!e || e->linktype != f->linktype)) {
        struct ds_err err = {0};
        int rc = ds_bpf_prepare(b, f->linktype, &e, &err);
        if (rc == -ENOMEM || !e)
            return false;
        if (rc < 0 && err.msg[0]) /* set when compiled, not when found failed in the cache */
            ds_warn("capture", "%s; frames of link type %u are dropped by the filter", err.msg,
                    f->linktype);
        b->last = e;
    }
    if (!e->ok)
        return false;
    struct pcap_pkthdr h = {.caplen = f->caplen, .len = f->wirelen};
    return pcap_offline_filter(e->prog, &h, f->data) != 0;
}

void ds_bpf_free(struct ds_bpf *b)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->ents[i].ok)
            pcap_freecode(b->ents[i].prog);
        free(b->ents[i].prog);
    }
    free(b->ents);
    free(b->expr);
    memset(b, 0, sizeof *b);
}
