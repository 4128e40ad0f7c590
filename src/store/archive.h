/* archive.h - the raw archive: frames into rotated nanosecond pcap files, zstd or plain. */
#ifndef DS_ARCHIVE_H
#define DS_ARCHIVE_H

#include <stdint.h>

#include "capture/capture.h"
#include "core/err.h"

/*
 * Files are named DIR/PREFIX-YYYYMMDDTHHMMSSZ[-ltN][-K].pcap[.zst], after the UTC start of
 * the period they cover, [k * period_s, (k + 1) * period_s) in packet time. A file is written
 * as NAME.part and renamed to NAME when it is closed. docs/archive.md has the whole story.
 *
 * Thread use: an archive belongs to one thread; nothing in it is shared or locked. Several
 * archives (in different directories or with different prefixes) may run in parallel.
 */

#define DS_ARCHIVE_DEFAULT_PERIOD_S 3600u
#define DS_ARCHIVE_DEFAULT_ZSTD_LEVEL 3
#define DS_ARCHIVE_DEFAULT_PREFIX "darknet"
#define DS_ARCHIVE_DEFAULT_SNAPLEN 262144u
#define DS_ARCHIVE_MAX_SNAPLEN 0x4000000u /* 64 MiB, libpcap's largest per-link-type limit */
#define DS_ARCHIVE_MAX_PREFIX 64
#define DS_ARCHIVE_MAX_LINKTYPES 8 /* files open at once: one per link type in a period */

struct ds_archive_config {
    const char *dir;    /* created (with its parents) if missing */
    uint32_t period_s;  /* rotation period in packet time; 0 = 3600 */
    int zstd_level;     /* 0 = no compression (.pcap); else a zstd level, e.g. 3 (.pcap.zst) */
    const char *prefix; /* NULL or "" = "darknet"; [A-Za-z0-9_.-], not starting with '.' or '-' */
    uint32_t snaplen;   /* pcap header snaplen; longer frames are cut to it; 0 = 262144 */
};

/* Fills cfg with the defaults (dir NULL, 3600 s, zstd level 3, "darknet", 262144). Note that
 * a zero-initialised config means zstd_level 0, i.e. uncompressed files. */
void ds_archive_config_init(struct ds_archive_config *cfg);

struct ds_archive_stats {
    uint64_t files_closed;   /* files finished and renamed into place */
    uint64_t files_failed;   /* files not created, or abandoned as NAME.part after an error */
    uint64_t frames_written; /* frames put into a file, the open ones included */
    uint64_t frames_lost;    /* of frames_written: those in files that failed afterwards */
    uint64_t bytes_written;  /* bytes written to disk (compressed), all files */
    uint64_t frames_dropped; /* frames not written: their file had failed, time out of range */
    uint64_t late;           /* of frames_written: older than the open period, written to it */
};

struct ds_archive;

/*
 * Checks cfg, creates cfg->dir if needed and checks it is writable. Errors name the field
 * or the directory. Logs one warning if NAME.part files of this prefix are in the directory
 * (left by a crash): they are not touched. No file is opened before the first frame.
 */
int ds_archive_open(struct ds_archive **out, const struct ds_archive_config *cfg,
                    struct ds_err *err);

/*
 * Appends one frame to the file of its period and link type, opening and rotating files as
 * packet time moves on. A frame of an earlier period than the open one goes into the open
 * file (counted as late). Returns 0, or a negative code when a file failed now (err names
 * the file and the reason): the failed file is left as NAME.part and frames for it are
 * dropped (counted) until the next period, when a new file is tried. A failure while
 * closing the previous period's file is reported by the call that rotated, whose frame is
 * still written to the new file; the stats say what happened to each frame. A frame with a
 * time beyond 2106-02-07 (pcap's 32-bit seconds) is dropped with -ERANGE.
 */
int ds_archive_write(struct ds_archive *a, const struct ds_frame *f, struct ds_err *err);

void ds_archive_stats(const struct ds_archive *a, struct ds_archive_stats *st);

/* Finishes and renames the open files, frees everything (also after errors). Returns the
 * first error of the closing (err set) or 0. a may be NULL. */
int ds_archive_close(struct ds_archive *a, struct ds_err *err);

#endif
