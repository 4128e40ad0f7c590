/* pcapw.h - streaming capture writer: pcap (us or ns) and pcapng (SHB, IDB, EPB), plain or
 * zstd-compressed, through one large buffer. */
#ifndef DS_PCAPW_H
#define DS_PCAPW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

enum ds_pcapw_format { DS_PCAPW_PCAP = 0, DS_PCAPW_PCAPNG = 1 };

struct ds_pcapw_opts {
    enum ds_pcapw_format format;
    uint32_t linktype;   /* LINKTYPE_ value of every frame */
    uint32_t snaplen;    /* written in the file header / IDB */
    bool nanosec;        /* pcap: magic a1b23c4d; pcapng: if_tsresol 9 */
    bool zstd;           /* compress the whole stream with zstd */
    int zstd_level;      /* 0: libzstd's default */
    const char *appname; /* pcapng shb_userappl, or NULL */
};

struct ds_pcapw;

/* Opens path ("-" is standard output) and writes the file header. Byte order is
 * little-endian, whatever the host. Errors name the path. */
int ds_pcapw_open(struct ds_pcapw **out, const char *path, const struct ds_pcapw_opts *o,
                  struct ds_err *err);

/*
 * Appends one frame (caplen bytes of data; wirelen is the original length). Returns 0 or a
 * negative code; after the first I/O error every call fails and close reports it.
 * Not thread-safe: one writer per thread.
 */
int ds_pcapw_write(struct ds_pcapw *w, uint64_t ts_ns, const uint8_t *data, uint32_t caplen,
                   uint32_t wirelen);

/* Bytes handed to the file so far (compressed size when zstd). */
uint64_t ds_pcapw_bytes(const struct ds_pcapw *w);

/* Flushes, finishes the zstd frame, closes, frees. Returns the first error of the writer's
 * life (with its message in err), or 0. w may be NULL. */
int ds_pcapw_close(struct ds_pcapw *w, struct ds_err *err);

/* Frees without flushing (after an error elsewhere); the partial file stays. */
void ds_pcapw_abort(struct ds_pcapw *w);

/* True when the name asks for zstd (ends in ".zst"). */
bool ds_pcapw_name_is_zstd(const char *path);

#endif
