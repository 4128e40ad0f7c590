/* capture_int.h - internals shared by the capture backends: byte input, readers, BPF cache. */
#ifndef DS_CAPTURE_INT_H
#define DS_CAPTURE_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capture/capture.h"

#define DS_LIKELY(x) __builtin_expect(!!(x), 1)
#define DS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Largest pcapng block (or pcap record) held in one piece: bigger ones are corrupt. */
#define DS_IN_MAX_BLOCK (64u << 20)
/* pcap records: caplen above this (per link type, as libpcap's limits) means corruption. */
#define DS_PCAP_MAX_CAPLEN 262144u

/* ---------------------------------------------------------------- backends ---------------- */

/*
 * One packet source kind (capture.c keeps the registry). All calls come from the reading
 * thread, except interrupt, which may run in a signal handler and must be async-signal-safe.
 */
struct ds_capture_backend {
    const char *name;
    int (*open)(struct ds_source *s, const struct ds_capture_opts *opts, struct ds_err *err);
    int (*next)(struct ds_source *s, struct ds_frame *f, struct ds_err *err);
    /* optional: several frames that all stay valid until the next call (see capture.h) */
    int (*next_batch)(struct ds_source *s, struct ds_frame *fv, int max, struct ds_err *err);
    void (*stats)(struct ds_source *s, struct ds_capture_stats *st); /* add live counters */
    void (*interrupt)(struct ds_source *s);                          /* optional */
    void (*close)(struct ds_source *s);
};

extern const struct ds_capture_backend ds_capture_file;
extern const struct ds_capture_backend ds_capture_live;

/* ---------------------------------------------------------------- BPF ---------------------- */

/* One compiled program per link type, compiled on first use (pcapng may mix link types). */
struct ds_bpf_ent {
    uint32_t linktype;
    bool ok;    /* false: the expression does not compile for this link type */
    void *prog; /* struct bpf_program *, owned */
};

struct ds_bpf {
    char *expr; /* owned copy; NULL = no filter */
    struct ds_bpf_ent *ents;
    size_t n, cap;
    struct ds_bpf_ent *last; /* the entry used for the previous frame */
};

/* Compiles expr for linktype (or finds it cached). 0 or -EINVAL with libpcap's message. */
int ds_bpf_prepare(struct ds_bpf *b, uint32_t linktype, struct ds_bpf_ent **out,
                   struct ds_err *err);
/* True when the frame passes the filter; a link type the filter cannot compile for fails. */
bool ds_bpf_match(struct ds_bpf *b, const struct ds_frame *f);
void ds_bpf_free(struct ds_bpf *b);
/* LINKTYPE_ (file) <-> DLT_ (libpcap) for the few values that differ on this platform. */
int ds_linktype_to_dlt(uint32_t linktype);
uint32_t ds_dlt_to_linktype(int dlt);

/* ---------------------------------------------------------------- the source -------------- */

struct ds_source {
    const struct ds_capture_backend *be;
    volatile sig_atomic_t broken; /* set by ds_source_break */
    struct ds_capture_stats st;   /* frames, filtered_out and input counters */
    struct ds_bpf bpf;
    void *priv; /* backend state, owned by the backend */
    /* replay pacing (opts.speed > 0): wall and packet time of the first frame */
    double speed;
    int64_t pace_wall_ns;
    uint64_t pace_ts_ns;
    bool paced;
};

/* Test and fuzz hook: a file source over caller memory (not copied; must outlive the source).
 * stream_chunk 0 reads it in place like an mmap'd file; > 0 feeds it through the streaming
 * refill path in pieces of that many bytes (as a pipe would). */
int ds_source_open_mem(struct ds_source **out, const uint8_t *data, size_t len, size_t stream_chunk,
                       const char *bpf, struct ds_err *err);

/* The file backend's half of ds_source_open_mem. */
int ds_file_open_mem(struct ds_source *s, const uint8_t *data, size_t len, size_t stream_chunk,
                     struct ds_err *err);

/* How many files a file source has held open at once so far (tests: lazy opening). */
size_t ds_file_max_open(const struct ds_source *s);

/* ---------------------------------------------------------------- byte input --------------- */

enum ds_in_comp { DS_IN_RAW, DS_IN_GZIP, DS_IN_ZSTD };

/*
 * A capture file's (decompressed) bytes. Parsers read the window [cur, lim) directly and
 * call ds_input_fill when they need more contiguous bytes than it holds. A mapped input
 * (mmap'd regular file or caller memory) is one window over the whole file and never
 * copies; a streamed input (stdin, pipes, gzip, zstd) keeps a refillable buffer whose
 * contents move on each refill, so pointers into it die at the next ds_input_fill.
 * Owned by one reader; not thread-safe.
 */
struct ds_input {
    const uint8_t *cur, *lim; /* unread bytes */
    const uint8_t *base;      /* memory holding the window */
    uint64_t base_off;        /* stream offset of base[0] */
    const char *name;         /* for messages, not owned */
    enum ds_in_comp comp;
    bool mapped;     /* window = the whole file */
    bool reopenable; /* a regular file: can be opened again by path */
    bool eof;        /* no more bytes will come into the window */
    int err_code;    /* sticky source error (read/decompress), reported when needed */
    char err_msg[200];

    int fd;      /* -1 when none */
    bool own_fd; /* opened here (not standard input): closed by ds_input_close */
    uint8_t *map;
    size_t map_len;

    /* stream window buffer */
    uint8_t *buf;
    size_t cap;

    /* raw source for streams: fd (read into cbuf / buf) or memory (src..src_len) */
    const uint8_t *src;
    size_t src_len, src_pos;
    size_t chunk;  /* memory streams: at most this many bytes per "read" (tests) */
    uint8_t *cbuf; /* compressed bytes read from fd */
    size_t cbuf_cap, cbuf_len, cbuf_pos;
    bool src_eof;
    uint64_t src_consumed; /* compressed bytes consumed, for messages */
    void *zs;              /* z_stream * */
    void *zd;              /* ZSTD_DStream * */
    bool zdone;            /* gzip member / zstd frame complete at last call */
    size_t zhint;          /* zstd: compressed bytes to give the next call */
    bool zpending;         /* zstd: decoded bytes wait to be flushed */
};

/* Opens path ("-" = standard input). 0 or -errno with err naming the path. */
int ds_input_open_path(struct ds_input *in, const char *path, struct ds_err *err);
/* Opens caller memory (see ds_source_open_mem for stream_chunk). */
int ds_input_open_mem(struct ds_input *in, const char *name, const uint8_t *data, size_t len,
                      size_t stream_chunk, struct ds_err *err);
/* Makes at least need bytes readable at cur (need <= DS_IN_MAX_BLOCK): 1 = done, 0 = the
 * input ends first (the rest stays in the window), <0 = read/decompression error (err set,
 * naming the input and offset). Invalidates pointers into a streamed window. */
int ds_input_fill_slow(struct ds_input *in, size_t need, struct ds_err *err);
static inline int ds_input_fill(struct ds_input *in, size_t need, struct ds_err *err)
{
    if (DS_LIKELY((size_t)(in->lim - in->cur) >= need))
        return 1;
    return ds_input_fill_slow(in, need, err);
}
static inline uint64_t ds_input_off(const struct ds_input *in, const uint8_t *p)
{
    return in->base_off + (uint64_t)(p - in->base);
}
void ds_input_close(struct ds_input *in);

/* ---------------------------------------------------------------- readers ------------------ */

enum ds_fmt { DS_FMT_PCAP, DS_FMT_PCAPNG };

struct ds_pcap_state {
    bool swap;          /* file byte order differs from the host's */
    bool simple;        /* 16-byte record headers, lengths never swapped: the fast path */
    uint32_t frac_mult; /* 1000 (microsecond files) or 1 (nanosecond files) */
    uint32_t hdr_len;   /* 16, or 24 for the modified (Kuznetzov) format */
    uint32_t linktype;  /* masked */
    uint32_t snaplen;
    uint32_t max_caplen; /* beyond this a record is corrupt */
    uint8_t len_swap;    /* 0 never, 1 always, 2 when caplen > len (old 2.3 files) */
};

enum ds_ts_mode { DS_TS_MUL, DS_TS_DIV, DS_TS_SHIFT, DS_TS_ZERO };

struct ds_ng_iface {
    uint32_t linktype;
    uint32_t snaplen;
    uint8_t ts_mode;  /* enum ds_ts_mode */
    uint8_t ts_shift; /* DS_TS_SHIFT: units * 1e9 >> shift */
    uint64_t ts_k;    /* DS_TS_MUL: ns per unit; DS_TS_DIV: units per ns */
    int64_t ts_off_s; /* if_tsoffset, seconds */
};

struct ds_pcapng_state {
    bool swap;
    struct ds_ng_iface *ifs; /* owned */
    uint32_t n_ifs, cap_ifs;
    uint64_t last_ts; /* for Simple Packet Blocks, which carry no time */
};

/* One open capture file. Owned by the file backend; not thread-safe. */
struct ds_reader {
    struct ds_input in;
    enum ds_fmt fmt;
    bool done;        /* no more frames (ended or stopped) */
    bool cut;         /* stopped early: truncated or corrupt (already reported) */
    uint64_t frames;  /* frames returned so far */
    const char *name; /* not owned */
    union {
        struct ds_pcap_state pcap;
        struct ds_pcapng_state ng;
    };
};

/* Opens path (or memory when mem != NULL), detects compression and format by magic number
 * and reads the file header. 0 or -errno (err: "NAME: reason"): the file is not usable. */
int ds_reader_open(struct ds_reader *r, const char *name, const uint8_t *mem, size_t mem_len,
                   size_t chunk, struct ds_err *err);
void ds_reader_close(struct ds_reader *r);
/* Stops the reader at the current position: warns once ("NAME: reason at byte offset N"),
 * marks it cut and done. Returns 0 so parsers can `return ds_reader_stop(...)`. */
int ds_reader_stop(struct ds_reader *r, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int ds_pcap_open(struct ds_reader *r, struct ds_err *err);
int ds_pcap_next_slow(struct ds_reader *r, struct ds_frame *f);
int ds_pcapng_open(struct ds_reader *r, struct ds_err *err);
int ds_pcapng_next(struct ds_reader *r, struct ds_frame *f);
/* Largest sane caplen for a link type (libpcap's max_snaplen_for_dlt). */
uint32_t ds_pcap_max_caplen(uint32_t linktype);

static inline uint32_t ds_ld32(const uint8_t *p, bool swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}
static inline uint16_t ds_ld16(const uint8_t *p, bool swap)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return swap ? __builtin_bswap16(v) : v;
}
static inline uint64_t ds_ld64(const uint8_t *p, bool swap)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return swap ? __builtin_bswap64(v) : v;
}

/* The pcap record fast path: a complete plain record in the window is parsed in place
 * (a few loads, no copy); everything else goes to ds_pcap_next_slow. */
static inline int ds_pcap_next(struct ds_reader *r, struct ds_frame *f)
{
    const struct ds_pcap_state *ps = &r->pcap;
    const uint8_t *p = r->in.cur;
    size_t avail = (size_t)(r->in.lim - p);
    if (DS_LIKELY(avail >= 16 && ps->simple)) {
        uint32_t caplen = ds_ld32(p + 8, ps->swap);
        if (DS_LIKELY(caplen <= ps->max_caplen && avail - 16 >= caplen)) {
            f->ts_ns = (uint64_t)ds_ld32(p, ps->swap) * 1000000000u +
                       (uint64_t)ds_ld32(p + 4, ps->swap) * ps->frac_mult;
            f->caplen = caplen;
            f->wirelen = ds_ld32(p + 12, ps->swap);
            f->linktype = ps->linktype;
            f->data = p + 16;
            r->in.cur = p + 16 + caplen;
            r->frames++;
            return 1;
        }
    }
    return ds_pcap_next_slow(r, f);
}

/* Next frame of one file: 1 = *f filled, 0 = no more (the reader reported why if cut). */
static inline int ds_reader_next(struct ds_reader *r, struct ds_frame *f)
{
    if (DS_LIKELY(r->fmt == DS_FMT_PCAP))
        return ds_pcap_next(r, f);
    return ds_pcapng_next(r, f);
}

#endif
