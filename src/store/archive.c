/* archive.c - the raw archive: frames into rotated nanosecond pcap files, zstd or plain. */
#include "store/archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "core/log.h"

#define BUF_SIZE (1u << 20)  /* pcap bytes gathered before compressing (or writing, plain) */
#define ZBUF_SIZE (1u << 20) /* compressed bytes gathered before one write(2) */
#define MAX_SUFFIX 9999u     /* -1 ... -9999 for names already taken */
#define NAME_ROOM 128        /* bytes of a path beyond the directory: "/PREFIX-...part" */
#define NS_PER_S 1000000000ull
#define PCAP_NSEC_MAGIC 0xa1b23c4du

enum slot_state { SLOT_FREE, SLOT_OPEN, SLOT_FAILED };

/* One file of the open period (one per link type) and its buffers, kept across periods. */
struct slot {
    enum slot_state state;
    uint32_t linktype;
    bool lt_in_name; /* not the period's first file: "-ltN" in its name */
    unsigned suffix; /* 0, or the -K that made the name free */
    int fd;
    char part[PATH_MAX]; /* the NAME.part being written */
    uint8_t *buf;        /* uncompressed pcap bytes not yet handed on */
    size_t used;
    ZSTD_CCtx *zc; /* NULL when uncompressed */
    uint8_t *zbuf; /* compressed bytes not yet written */
    size_t zused;
    const char *zerr;    /* zstd's reason for the last compression error */
    uint64_t frames;     /* frames in this file */
    uint64_t disk_bytes; /* bytes of this file written to disk */
};

struct ds_archive {
    char dir[PATH_MAX];
    char prefix[DS_ARCHIVE_MAX_PREFIX + 1];
    uint32_t period_s;
    int zstd_level;
    uint32_t snaplen;
    bool have_period;
    uint64_t period;    /* index k of the open period: [k * period_s, (k + 1) * period_s) */
    bool plain_taken;   /* a file of this period already has the name without -ltN */
    bool full_reported; /* "no slot for this link type" was returned this period */
    struct slot *slots[DS_ARCHIVE_MAX_LINKTYPES];
    struct ds_archive_stats st;
};

void ds_archive_config_init(struct ds_archive_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->period_s = DS_ARCHIVE_DEFAULT_PERIOD_S;
    cfg->zstd_level = DS_ARCHIVE_DEFAULT_ZSTD_LEVEL;
    cfg->prefix = DS_ARCHIVE_DEFAULT_PREFIX;
    cfg->snaplen = DS_ARCHIVE_DEFAULT_SNAPLEN;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The first error of a call goes to err and is returned; later ones are only logged. */
static void report(struct ds_err *err, int *first, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(struct ds_err *err, int *first, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (*first == 0) {
        *first = code;
        ds_err_set(err, code, "%s", msg);
    } else {
        ds_error("archive", "%s", msg);
    }
}

/* dir/PREFIX-YYYYMMDDTHHMMSSZ[-ltN][-K].pcap[.zst][.part] for slot s in the open period. */
static int build_path(const struct ds_archive *a, const struct slot *s, unsigned suffix, bool part,
                      char *out, size_t cap)
{
    time_t t = (time_t)(a->period * a->period_s);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -EOVERFLOW;
    char lt[16] = "", sfx[16] = "";
    if (s->lt_in_name)
        snprintf(lt, sizeof lt, "-lt%u", (unsigned)s->linktype);
    if (suffix)
        snprintf(sfx, sizeof sfx, "-%u", suffix);
    int n = snprintf(out, cap, "%s/%s-%04d%02d%02dT%02d%02d%02dZ%s%s.pcap%s%s", a->dir, a->prefix,
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     lt, sfx, s->zc ? ".zst" : "", part ? ".part" : "");
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* mkdir -p; errors name the directory asked for (and the component that failed). */
static int make_dirs(const char *dir, struct ds_err *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && !is_dir(tmp)) {
            int e = errno == EEXIST ? ENOTDIR : errno;
            if (!strcmp(tmp, dir))
                return ds_err_set(err, -e, "cannot create archive directory '%s': %s", dir,
                                  strerror(e));
            return ds_err_set(err, -e, "cannot create archive directory '%s': '%s': %s", dir, tmp,
                              strerror(e));
        }
        *p = c;
        if (c == '\0')
            break;
    }
    return 0;
}

/* Logs one warning if NAME.part files of this prefix are in the directory (a crash). */
static void warn_parts(const struct ds_archive *a)
{
    DIR *d = opendir(a->dir);
    if (!d)
        return;
    size_t plen = strlen(a->prefix), n = 0;
    char first[256] = "";
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len <= plen + 6 || strncmp(de->d_name, a->prefix, plen) || de->d_name[plen] != '-' ||
            strcmp(de->d_name + len - 5, ".part"))
            continue;
        if (n++ == 0 || strcmp(de->d_name, first) < 0)
            snprintf(first, sizeof first, "%s", de->d_name);
    }
    closedir(d);
    if (n)
        ds_warn("archive",
                "'%s' holds %zu unfinished file%s from an earlier run (e.g. '%s'); left as %s",
                a->dir, n, n == 1 ? "" : "s", first, n == 1 ? "it is" : "they are");
}

static void slot_free(struct slot *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    ZSTD_freeCCtx(s->zc);
    free(s->zbuf);
    free(s->buf);
    free(s);
}

static int slot_new(struct ds_archive *a, struct slot **out)
{
    int rc = -ENOMEM;
    struct slot *s = calloc(1, sizeof *s);
    if (!s)
        goto out;
    s->fd = -1;
    if (!(s->buf = malloc(BUF_SIZE)))
        goto out;
    if (a->zstd_level) {
        s->zc = ZSTD_createCCtx();
        s->zbuf = malloc(ZBUF_SIZE);
        if (!s->zc || !s->zbuf)
            goto out;
        if (ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_compressionLevel, a->zstd_level)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(s->zc, ZSTD_c_checksumFlag, 1))) {
            rc = -EINVAL;
            goto out;
        }
    }
    rc = 0;
out:
    if (rc < 0) {
        slot_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

static int write_all(struct ds_archive *a, struct slot *s, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(s->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        p += w;
        n -= (size_t)w;
        s->disk_bytes += (uint64_t)w;
        a->st.bytes_written += (uint64_t)w;
    }
    return 0;
}

/* Hands the buffered pcap bytes on: to the file, or through zstd (end: finish the zstd
 * frame and write everything). */
static int drain(struct ds_archive *a, struct slot *s, bool end)
{
    int rc = 0;
    if (!s->zc) {
        rc = write_all(a, s, s->buf, s->used);
        goto out;
    }
    ZSTD_inBuffer in = {.src = s->buf, .size = s->used, .pos = 0};
    for (;;) {
        ZSTD_outBuffer o = {.dst = s->zbuf, .size = ZBUF_SIZE, .pos = s->zused};
        size_t left = ZSTD_compressStream2(s->zc, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) {
            s->zerr = ZSTD_getErrorName(left);
            rc = -EIO;
            goto out;
        }
        s->zused = o.pos;
        if (s->zused == ZBUF_SIZE || (end && left == 0)) {
            rc = write_all(a, s, s->zbuf, s->zused);
            s->zused = 0;
            if (rc < 0)
                goto out;
        }
        if (end ? left == 0 : in.pos == in.size)
            break;
    }
out:
    s->used = 0;
    return rc;
}

static int put(struct ds_archive *a, struct slot *s, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        if (s->used == BUF_SIZE) {
            int rc = drain(a, s, false);
            if (rc < 0)
                return rc;
        }
        size_t k = BUF_SIZE - s->used < n ? BUF_SIZE - s->used : n;
        memcpy(s->buf + s->used, b, k);
        s->used += k;
        b += k;
        n -= k;
    }
    return 0;
}

/* Gives up the slot's file: closed and left as NAME.part (removed if nothing of it reached
 * the disk). mid_period: frames of its link type are dropped until the next period. */
static void fail_slot(struct ds_archive *a, struct slot *s, int code, const char *what,
                      bool mid_period, struct ds_err *err, int *first)
{
    const char *why = code == -EIO && s->zerr ? s->zerr : strerror(-code);
    bool empty = s->fd >= 0 && s->disk_bytes == 0;
    char tail[96] = "";
    if (mid_period)
        snprintf(tail, sizeof tail, "; frames with link type %u dropped until the next period",
                 (unsigned)s->linktype);
    report(err, first, code, "%s archive file '%s': %s (%s)%s", what, s->part, why,
           empty ? "removed, it was empty" : "kept as it is", tail);
    s->zerr = NULL;
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
        if (empty)
            unlink(s->part);
    }
    s->state = SLOT_FAILED;
    s->used = s->zused = 0;
    a->st.files_failed++;
    a->st.frames_lost += s->frames;
}

/* Opens a new NAME.part for link type lt in the open period, under the first free name. */
static int open_file(struct ds_archive *a, struct slot *s, uint32_t lt, struct ds_err *err,
                     int *first)
{
    char final[PATH_MAX];
    int rc = 0;
    bool made_dir = false;
    s->linktype = lt;
    s->lt_in_name = a->plain_taken;
    a->plain_taken = true;
    s->frames = s->disk_bytes = 0;
    s->used = s->zused = 0;
    s->zerr = NULL;
    s->fd = -1;
    s->part[0] = '\0';
    if (s->zc)
        ZSTD_CCtx_reset(s->zc, ZSTD_reset_session_only);
    unsigned k = 0;
    while (k <= MAX_SUFFIX) {
        if ((rc = build_path(a, s, k, false, final, sizeof final)) < 0 ||
            (rc = build_path(a, s, k, true, s->part, sizeof s->part)) < 0)
            goto out;
        struct stat sb;
        if (lstat(final, &sb) == 0) { /* a restart within the period: next suffix */
            k++;
            continue;
        }
        s->fd = open(s->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (s->fd >= 0)
            break;
        rc = -errno;
        if (rc == -EEXIST) { /* a NAME.part left by a crash: not ours, not touched */
            k++;
            continue;
        }
        if (rc == -ENOENT && !made_dir && make_dirs(a->dir, NULL) == 0) {
            made_dir = true; /* the directory went away: made again, same name once more */
            continue;
        }
        goto out;
    }
    s->suffix = k;
    if (s->fd < 0) {
        rc = -EEXIST;
        goto out;
    }
    uint8_t h[24];
    le32(h, PCAP_NSEC_MAGIC);
    le32(h + 4, 2 | 4u << 16); /* version 2.4 */
    le32(h + 8, 0);            /* thiszone */
    le32(h + 12, 0);           /* sigfigs */
    le32(h + 16, a->snaplen);
    le32(h + 20, lt);
    rc = put(a, s, h, sizeof h);
    s->state = SLOT_OPEN;
    ds_debug("archive", "writing '%s'", s->part);
out:
    if (rc < 0) {
        a->st.files_failed++;
        s->state = SLOT_FAILED;
        report(err, first, rc,
               "cannot create archive file '%s': %s; frames with link type %u dropped until "
               "the next period",
               s->part[0] ? s->part : a->dir, strerror(-rc), (unsigned)lt);
    }
    return rc;
}

/* rename(2) that never replaces: -EEXIST when `to` exists. */
static int rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -errno;
    /* a file system without RENAME_NOREPLACE: link + unlink, else check and rename */
    if (link(from, to) == 0) {
        unlink(from);
        return 0;
    }
    if (errno == EEXIST)
        return -EEXIST;
    struct stat sb;
    if (lstat(to, &sb) == 0)
        return -EEXIST;
    return rename(from, to) == 0 ? 0 : -errno;
}

static void sync_dir(const struct ds_archive *a)
{
    int fd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fsync(fd) < 0 && errno != EINVAL)
        ds_warn("archive", "cannot sync directory '%s': %s", a->dir, strerror(errno));
    close(fd);
}

/* Finishes the slot's file: the zstd frame's end, everything written and synced, then
 * NAME.part renamed to NAME (or NAME with the next free -K). */
static int finish_file(struct ds_archive *a, struct slot *s, struct ds_err *err, int *first)
{
    char final[PATH_MAX];
    int rc = drain(a, s, true);
    if (rc < 0) {
        fail_slot(a, s, rc, "cannot write", false, err, first);
        return rc;
    }
    if (fsync(s->fd) < 0 && errno != EINVAL) {
        rc = -errno;
        fail_slot(a, s, rc, "cannot sync", false, err, first);
        return rc;
    }
    int fd = s->fd;
    s->fd = -1;
    if (close(fd) < 0 && errno != EINTR) {
        rc = -errno;
        fail_slot(a, s, rc, "cannot close", false, err, first);
        return rc;
    }
    for (unsigned k = s->suffix; k <= MAX_SUFFIX; k++) {
        if ((rc = build_path(a, s, k, false, final, sizeof final)) < 0)
            break;
        if ((rc = rename_noreplace(s->part, final)) != -EEXIST)
            break;
    }
    if (rc < 0) {
        fail_slot(a, s, rc, "cannot rename", false, err, first);
        return rc;
    }
    sync_dir(a);
    a->st.files_closed++;
    s->state = SLOT_FREE;
    ds_info("archive", "closed '%s' (%llu frames, %llu bytes)", final,
            (unsigned long long)s->frames, (unsigned long long)s->disk_bytes);
    return 0;
}

/* Finishes every file of the open period; failed slots become free again. */
static void close_period(struct ds_archive *a, struct ds_err *err, int *first)
{
    for (size_t i = 0; i < DS_ARCHIVE_MAX_LINKTYPES; i++) {
        struct slot *s = a->slots[i];
        if (!s)
            continue;
        if (s->state == SLOT_OPEN)
            finish_file(a, s, err, first);
        s->state = SLOT_FREE;
    }
}

static bool prefix_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > DS_ARCHIVE_MAX_PREFIX || p[0] == '.' || p[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

int ds_archive_open(struct ds_archive **out, const struct ds_archive_config *cfg,
                    struct ds_err *err)
{
    int rc = 0;
    struct ds_archive *a = NULL;
    *out = NULL;
    const char *prefix = cfg->prefix && *cfg->prefix ? cfg->prefix : DS_ARCHIVE_DEFAULT_PREFIX;
    if (!cfg->dir || !*cfg->dir) {
        rc = ds_err_set(err, -EINVAL, "archive directory not set");
        goto out;
    }
    if (strlen(cfg->dir) >= PATH_MAX - NAME_ROOM) {
        rc = ds_err_set(err, -ENAMETOOLONG, "archive directory '%.80s...' is too long", cfg->dir);
        goto out;
    }
    if (cfg->zstd_level &&
        (cfg->zstd_level < ZSTD_minCLevel() || cfg->zstd_level > ZSTD_maxCLevel())) {
        rc = ds_err_set(err, -EINVAL,
                        "archive zstd_level %d out of range (0 = uncompressed, %d to %d)",
                        cfg->zstd_level, ZSTD_minCLevel(), ZSTD_maxCLevel());
        goto out;
    }
    if (!prefix_ok(prefix)) {
        rc = ds_err_set(err, -EINVAL,
                        "archive prefix '%.80s' invalid (1 to %d of A-Z a-z 0-9 _ . -, not "
                        "starting with '.' or '-')",
                        prefix, DS_ARCHIVE_MAX_PREFIX);
        goto out;
    }
    if (cfg->snaplen > DS_ARCHIVE_MAX_SNAPLEN) {
        rc = ds_err_set(err, -EINVAL, "archive snaplen %u out of range (1 to %u, 0 = %u)",
                        (unsigned)cfg->snaplen, DS_ARCHIVE_MAX_SNAPLEN, DS_ARCHIVE_DEFAULT_SNAPLEN);
        goto out;
    }
    if (!(a = calloc(1, sizeof *a))) {
        rc = ds_err_set(err, -ENOMEM, "out of memory opening archive '%s'", cfg->dir);
        goto out;
    }
    snprintf(a->dir, sizeof a->dir, "%s", cfg->dir);
    for (size_t n = strlen(a->dir); n > 1 && a->dir[n - 1] == '/'; n--)
        a->dir[n - 1] = '\0';
    snprintf(a->prefix, sizeof a->prefix, "%s", prefix);
    a->period_s = cfg->period_s ? cfg->period_s : DS_ARCHIVE_DEFAULT_PERIOD_S;
    a->zstd_level = cfg->zstd_level;
    a->snaplen = cfg->snaplen ? cfg->snaplen : DS_ARCHIVE_DEFAULT_SNAPLEN;
    if ((rc = make_dirs(a->dir, err)) < 0)
        goto out;
    if (access(a->dir, W_OK | X_OK) < 0) {
        rc = ds_err_set(err, -errno, "archive directory '%s' is not writable: %s", a->dir,
                        strerror(errno));
        goto out;
    }
    if ((rc = slot_new(a, &a->slots[0])) < 0) {
        ds_err_set(err, rc, "cannot set up archive '%s': %s", a->dir, strerror(-rc));
        goto out;
    }
    warn_parts(a);
    *out = a;
    a = NULL;
out:
    if (a) {
        slot_free(a->slots[0]);
        free(a);
    }
    return rc;
}

/* The slot for link type lt in the open period, or a free one (allocated on first use). */
static struct slot *find_slot(struct ds_archive *a, uint32_t lt, bool *fresh, int *rc)
{
    *fresh = false;
    *rc = 0;
    for (size_t i = 0; i < DS_ARCHIVE_MAX_LINKTYPES; i++) {
        struct slot *s = a->slots[i];
        if (s && s->state != SLOT_FREE && s->linktype == lt)
            return s;
    }
    for (size_t i = 0; i < DS_ARCHIVE_MAX_LINKTYPES; i++) {
        if (a->slots[i] && a->slots[i]->state != SLOT_FREE)
            continue;
        if (!a->slots[i] && (*rc = slot_new(a, &a->slots[i])) < 0)
            return NULL;
        *fresh = true;
        return a->slots[i];
    }
    *rc = -EMFILE;
    return NULL;
}

int ds_archive_write(struct ds_archive *a, const struct ds_frame *f, struct ds_err *err)
{
    int first = 0;
    uint64_t sec = f->ts_ns / NS_PER_S;
    if (sec > UINT32_MAX) {
        a->st.frames_dropped++;
        return ds_err_set(err, -ERANGE,
                          "frame time %llu ns is past pcap's last second (2106-02-07T06:28:15Z); "
                          "frame not archived",
                          (unsigned long long)f->ts_ns);
    }
    uint64_t k = sec / a->period_s;
    bool late = false;
    if (!a->have_period || k > a->period) {
        if (a->have_period)
            close_period(a, err, &first);
        a->have_period = true;
        a->period = k;
        a->plain_taken = false;
        a->full_reported = false;
    } else if (k < a->period) {
        late = true;
    }
    bool fresh;
    int rc;
    struct slot *s = find_slot(a, f->linktype, &fresh, &rc);
    if (!s) {
        a->st.frames_dropped++;
        if (a->full_reported)
            return first;
        if (rc == -ENOMEM)
            report(err, &first, rc, "out of memory for a file of archive '%s'", a->dir);
        else
            report(err, &first, rc,
                   "archive '%s': more than %d link types in one period; frames with link "
                   "type %u dropped until the next period",
                   a->dir, DS_ARCHIVE_MAX_LINKTYPES, (unsigned)f->linktype);
        a->full_reported = true;
        return first;
    }
    if (fresh && open_file(a, s, f->linktype, err, &first) < 0) {
        a->st.frames_dropped++;
        return first;
    }
    if (s->state != SLOT_OPEN) {
        a->st.frames_dropped++;
        return first;
    }
    uint32_t cap = f->caplen < a->snaplen ? f->caplen : a->snaplen;
    uint8_t h[16];
    le32(h, (uint32_t)sec);
    le32(h + 4, (uint32_t)(f->ts_ns % NS_PER_S));
    le32(h + 8, cap);
    le32(h + 12, f->wirelen);
    rc = put(a, s, h, sizeof h);
    if (rc == 0 && cap)
        rc = put(a, s, f->data, cap);
    if (rc < 0) {
        fail_slot(a, s, rc, "cannot write", true, err, &first);
        a->st.frames_dropped++;
        return first;
    }
    s->frames++;
    a->st.frames_written++;
    if (late)
        a->st.late++;
    return first;
}

void ds_archive_stats(const struct ds_archive *a, struct ds_archive_stats *st)
{
    *st = a->st;
}

int ds_archive_close(struct ds_archive *a, struct ds_err *err)
{
    int first = 0;
    if (!a)
        return 0;
    close_period(a, err, &first);
    for (size_t i = 0; i < DS_ARCHIVE_MAX_LINKTYPES; i++)
        slot_free(a->slots[i]);
    free(a);
    return first;
}
