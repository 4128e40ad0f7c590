/* capture.h - packet sources behind one interface: capture files (pcap, pcapng, gzip/zstd,
 * directories, stdin) and live interfaces via libpcap. */
#ifndef DS_CAPTURE_H
#define DS_CAPTURE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* One captured frame. `data` points into the source's buffer and stays valid only until the
 * next ds_source_next() call on the same source. */
struct ds_frame {
    uint64_t ts_ns; /* capture time, ns since the epoch (any file resolution converted) */
    const uint8_t *data;
    uint32_t caplen;   /* bytes at data */
    uint32_t wirelen;  /* original length on the wire (>= caplen for sane files) */
    uint32_t linktype; /* LINKTYPE_ value, FCS/high bits masked off (pcapng: per interface) */
};

struct ds_capture_opts {
    const char *const *paths; /* files or directories; "-" is standard input */
    size_t n_paths;
    const char *iface;         /* live capture when set (paths must be empty) */
    const char *const *ifaces; /* or several interfaces at once (then iface is ignored) */
    size_t n_ifaces;
    const char *bpf; /* BPF filter expression, or NULL; applied to files and live */
    int snaplen;     /* live: bytes per packet to capture (default 262144) */
    bool immediate;  /* live: deliver packets at once instead of buffering */
    bool promisc;    /* live: promiscuous mode */
    int buffer_mb;   /* live: kernel buffer size, 0 = libpcap default */
    int idle_ms;     /* live: after this long without a frame, the next call returns
                        DS_SOURCE_IDLE, so the caller can act on passing time (0: wait) */
    double speed;    /* files: 0 = as fast as possible; else replay in real time times this
                        (1 = as captured, 10 = ten times faster); packet times are kept */
};

struct ds_capture_stats {
    uint64_t frames;          /* frames delivered (after the BPF filter) */
    uint64_t filtered_out;    /* frames the BPF filter rejected */
    uint64_t inputs_ok;       /* files read to their end */
    uint64_t inputs_rejected; /* files not read at all (not a capture, unreadable) */
    uint64_t inputs_cut;      /* files whose reading stopped early (corrupt or truncated) */
    /* live only (libpcap's pcap_stats): */
    uint64_t kernel_received, kernel_dropped, if_dropped;
    bool live;
};

struct ds_source;

/*
 * Opens the source described by opts. Errors that make the whole source unusable (no path
 * readable, bad BPF expression, interface missing) are returned here. A single bad file
 * among several is not fatal: it is reported once through the log (naming the file and the
 * byte offset) and counted in the stats.
 */
int ds_source_open(struct ds_source **out, const struct ds_capture_opts *opts, struct ds_err *err);

/* Returned by the next functions of a live source with idle_ms set when no frame arrived
 * for that long: not an error (err is untouched); call again. */
#define DS_SOURCE_IDLE (-EAGAIN)

/* Next frame in time order: 1 = *f filled, 0 = end of input, <0 = fatal error (err set). */
int ds_source_next(struct ds_source *s, struct ds_frame *f, struct ds_err *err);

/*
 * Up to max next frames in time order into fv[0..]: returns how many (>= 1), 0 at the end of
 * input, <0 on a fatal error (err set). Every frame of a batch stays valid until the next
 * call on the source. Sources whose buffer moves between frames (streams, live capture, a
 * BPF filter, several merged files) return one frame per call; a single mapped file returns
 * whole batches (the packet path's fast case).
 */
int ds_source_next_batch(struct ds_source *s, struct ds_frame *fv, int max, struct ds_err *err);

/* Current counters (live: asks the kernel). Safe to call from the reading thread only. */
void ds_source_stats(struct ds_source *s, struct ds_capture_stats *st);

/* Asks a live source to return 0 from ds_source_next soon; async-signal-safe. */
void ds_source_break(struct ds_source *s);

void ds_source_close(struct ds_source *s);

/* The input files a list of paths stands for (directories expanded to their files in name
 * order, "-" kept), as ds_source_open would read them. *out is a malloc'd array of malloc'd
 * strings (free each, then the array). 0 or -ENOMEM. */
int ds_capture_expand(const char *const *paths, size_t n, char ***out, size_t *n_out,
                      struct ds_err *err);

#endif
