/* merge.c - the file backend: files and directories merged in time order, opened lazily. */
#include "capture/capture_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* One input file. Its reader is open only while the merge needs it (or for inputs that
 * cannot be opened twice, such as standard input, from the peek on). */
struct fin {
    char *path;         /* owned; the name in messages */
    const uint8_t *mem; /* memory input (tests, fuzzing), not owned */
    size_t mem_len, chunk;
    struct ds_reader *rd; /* owned; NULL when not open */
    struct ds_frame head; /* the input's next frame while it is in the heap */
    bool head_from_peek;  /* head was read by the peek: not yet through the filter */
    uint64_t first_ts;    /* timestamp of the first frame (peek) */
    char *reject;         /* why the input is unusable, or NULL; owned */
    int reject_rc;        /* and the error code that came with it */
};

struct fsrc {
    struct fin *v;
    size_t n, cap;
    size_t *pend; /* inputs not opened yet, by first timestamp */
    size_t n_pend, next_pend;
    size_t *heap; /* open inputs, min-heap by (head.ts_ns, index) */
    size_t n_heap;
    bool have_last;          /* heap[0]'s head was handed out: advance it before the next pick */
    bool single;             /* exactly one input: no heap, the reader is called directly */
    size_t n_open, max_open; /* readers open now / at most so far (lazy opening, tests) */
};

static int add_input(struct fsrc *fs, const char *path, const char *reject, int reject_rc)
{
    if (fs->n == fs->cap) {
        size_t ncap = fs->cap ? fs->cap * 2 : 8;
        struct fin *nv = realloc(fs->v, ncap * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        fs->v = nv;
        fs->cap = ncap;
    }
    struct fin *in = &fs->v[fs->n];
    memset(in, 0, sizeof *in);
    in->path = strdup(path);
    in->reject_rc = reject_rc;
    if (reject)
        in->reject = strdup(reject);
    if (!in->path || (reject && !in->reject)) {
        free(in->path);
        free(in->reject);
        return -ENOMEM;
    }
    fs->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory stands for its regular files (not recursive, dot files skipped), by name. */
static int add_dir(struct fsrc *fs, const char *dir)
{
    int rc = 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    char msg[400];
    DIR *d = opendir(dir);
    if (!d) {
        int code = -errno;
        snprintf(msg, sizeof msg, "%s: %s", dir, strerror(errno));
        return add_input(fs, dir, msg, code);
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat sb;
        size_t nl = strlen(de->d_name);
        /* dot files, and files the raw archive is still writing (NAME.part) */
        if (de->d_name[0] == '.' || (nl > 5 && strcmp(de->d_name + nl - 5, ".part") == 0))
            continue;
        if (fstatat(dirfd(d), de->d_name, &sb, 0) < 0 || !S_ISREG(sb.st_mode))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) {
                rc = -ENOMEM;
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (n == 0) {
        snprintf(msg, sizeof msg, "%s: directory holds no files", dir);
        rc = add_input(fs, dir, msg, -ENOENT);
        goto out;
    }
    qsort(names, n, sizeof *names, cmp_str);
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *p;
        if (asprintf(&p, "%s%s%s", dir, slash ? "" : "/", names[i]) < 0) {
            rc = -ENOMEM;
            break;
        }
        rc = add_input(fs, p, NULL, 0);
        free(p);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

static void fin_close(struct fsrc *fs, struct fin *in)
{
    if (in->rd) {
        fs->n_open--;
        ds_reader_close(in->rd);
        free(in->rd);
        in->rd = NULL;
    }
}

/* The input's reader has no more frames: count how it ended and let it go. */
static void fin_finish(struct ds_source *s, struct fin *in)
{
    if (in->rd->cut)
        s->st.inputs_cut++;
    else
        s->st.inputs_ok++;
    fin_close(s->priv, in);
}

/* Reads the input's next frame that passes the filter into head: 1, or 0 when done. */
static int fin_advance(struct ds_source *s, struct fin *in)
{
    for (;;) {
        if (ds_reader_next(in->rd, &in->head) == 0) {
            fin_finish(s, in);
            return 0;
        }
        if (!s->bpf.expr || ds_bpf_match(&s->bpf, &in->head))
            return 1;
        s->st.filtered_out++;
    }
}

static int fin_open(struct fsrc *fs, struct fin *in, struct ds_err *err)
{
    in->rd = malloc(sizeof *in->rd);
    if (!in->rd)
        return ds_err_set(err, -ENOMEM, "out of memory");
    int rc = ds_reader_open(in->rd, in->path, in->mem, in->mem_len, in->chunk, err);
    if (rc < 0) {
        free(in->rd);
        in->rd = NULL;
        return rc;
    }
    if (++fs->n_open > fs->max_open)
        fs->max_open = fs->n_open;
    return 0;
}

/* The merge reached the input's first timestamp: open it (again) and load its head.
 * 1 = head ready, 0 = nothing to deliver, <0 = out of memory. */
static int fin_start(struct ds_source *s, struct fin *in)
{
    if (in->head_from_peek) { /* kept open since the peek */
        in->head_from_peek = false;
        if (!s->bpf.expr || ds_bpf_match(&s->bpf, &in->head))
            return 1;
        s->st.filtered_out++;
        return fin_advance(s, in);
    }
    struct ds_err e = {0};
    int rc = fin_open(s->priv, in, &e);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0) { /* it was readable a moment ago (peek): replaced or removed since */
        ds_warn("capture", "%s", e.msg);
        s->st.inputs_rejected++;
        return 0;
    }
    return fin_advance(s, in);
}

static bool head_less(const struct fsrc *fs, size_t a, size_t b)
{
    uint64_t ta = fs->v[a].head.ts_ns, tb = fs->v[b].head.ts_ns;
    return ta < tb || (ta == tb && a < b);
}

static void sift_down(struct fsrc *fs, size_t i)
{
    size_t *h = fs->heap, n = fs->n_heap;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && head_less(fs, h[l], h[m]))
            m = l;
        if (l + 1 < n && head_less(fs, h[l + 1], h[m]))
            m = l + 1;
        if (m == i)
            return;
        size_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void heap_push(struct fsrc *fs, size_t idx)
{
    size_t *h = fs->heap, i = fs->n_heap++;
    h[i] = idx;
    while (i > 0 && head_less(fs, h[i], h[(i - 1) / 2])) {
        size_t p = (i - 1) / 2, t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static int merge_next(struct ds_source *s, struct fsrc *fs, struct ds_frame *f, struct ds_err *err)
{
    if (fs->have_last) {
        fs->have_last = false;
        if (fin_advance(s, &fs->v[fs->heap[0]]) == 0)
            fs->heap[0] = fs->heap[--fs->n_heap];
        sift_down(fs, 0);
    }
    /* open every waiting input whose first frame is not later than the current minimum */
    while (fs->next_pend < fs->n_pend) {
        size_t j = fs->pend[fs->next_pend];
        if (fs->n_heap && fs->v[j].first_ts > fs->v[fs->heap[0]].head.ts_ns)
            break;
        fs->next_pend++;
        int rc = fin_start(s, &fs->v[j]);
        if (rc < 0)
            return ds_err_set(err, rc, "out of memory opening %s", fs->v[j].path);
        if (rc == 1)
            heap_push(fs, j);
    }
    if (fs->n_heap == 0)
        return 0;
    *f = fs->v[fs->heap[0]].head;
    fs->have_last = true;
    return 1;
}

static int file_next(struct ds_source *s, struct ds_frame *f, struct ds_err *err)
{
    struct fsrc *fs = s->priv;
    if (!fs->single)
        return merge_next(s, fs, f, err);
    struct fin *in = fs->v;
    if (DS_UNLIKELY(in->head_from_peek)) {
        in->head_from_peek = false;
        *f = in->head;
        if (!s->bpf.expr || ds_bpf_match(&s->bpf, f))
            return 1;
        s->st.filtered_out++;
    }
    if (DS_UNLIKELY(!in->rd))
        return 0;
    for (;;) {
        if (DS_UNLIKELY(ds_reader_next(in->rd, f) == 0)) {
            fin_finish(s, in);
            return 0;
        }
        if (DS_LIKELY(!s->bpf.expr) || ds_bpf_match(&s->bpf, f))
            return 1;
        s->st.filtered_out++;
    }
}

/* Whole batches from a single mapped file without a filter (frames point into the mapping,
 * which stays until the reader is closed at the call after its last frame); everything
 * else one frame at a time. */
static int file_next_batch(struct ds_source *s, struct ds_frame *fv, int max, struct ds_err *err)
{
    struct fsrc *fs = s->priv;
    struct fin *in = fs->v;
    if (!fs->single || s->bpf.expr || in->head_from_peek || !in->rd || !in->rd->in.mapped)
        return file_next(s, fv, err);
    struct ds_reader *rd = in->rd;
    int n = 0;
    while (n < max && DS_LIKELY(ds_reader_next(rd, &fv[n])))
        n++;
    if (n == 0)
        fin_finish(s, in);
    return n;
}

static int cmp_first_ts(const void *a, const void *b, void *arg)
{
    const struct fsrc *fs = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    uint64_t tx = fs->v[x].first_ts, ty = fs->v[y].first_ts;
    if (tx != ty)
        return tx < ty ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Builds "no readable capture input: A; B; ..." from the rejection messages. */
static int all_rejected(struct fsrc *fs, struct ds_err *err)
{
    if (fs->n == 1)
        return ds_err_set(err, fs->v[0].reject_rc, "%s", fs->v[0].reject);
    char msg[sizeof err->msg];
    size_t len = (size_t)snprintf(msg, sizeof msg, "no readable capture among %zu inputs: ", fs->n);
    for (size_t i = 0; i < fs->n && len < sizeof msg; i++)
        len +=
            (size_t)snprintf(msg + len, sizeof msg - len, "%s%s", i ? "; " : "", fs->v[i].reject);
    if (len >= sizeof msg)
        memcpy(msg + sizeof msg - 5, "...", 4);
    return ds_err_set(err, fs->v[0].reject_rc, "%s", msg); /* the first input's reason */
}

/*
 * Peeks every input (opens it, reads its header and first frame, closes it again unless it
 * cannot be reopened or is the only one), orders the inputs by first timestamp and compiles
 * the filter for the first input's link type.
 */
static int setup(struct ds_source *s, struct fsrc *fs, struct ds_err *err)
{
    int rc = 0;
    size_t readable = 0;
    uint32_t first_lt = 1; /* LINKTYPE_ETHERNET until an input says otherwise */
    bool have_lt = false;
    fs->pend = calloc(fs->n, sizeof *fs->pend);
    fs->heap = calloc(fs->n, sizeof *fs->heap);
    if (!fs->pend || !fs->heap)
        return ds_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < fs->n; i++) {
        struct fin *in = &fs->v[i];
        struct ds_err e = {0};
        if (in->reject)
            continue;
        rc = fin_open(fs, in, &e);
        if (rc == -ENOMEM)
            return ds_err_set(err, rc, "%s", e.msg);
        if (rc < 0) {
            if (!(in->reject = strdup(e.msg)))
                return ds_err_set(err, -ENOMEM, "out of memory");
            in->reject_rc = rc;
            rc = 0;
            continue;
        }
        readable++;
        if (ds_reader_next(in->rd, &in->head) == 0) {
            fin_finish(s, in); /* no frames at all (a header-only file, or cut at once) */
            continue;
        }
        if (!have_lt) {
            first_lt = in->head.linktype;
            have_lt = true;
        }
        in->first_ts = in->head.ts_ns;
        fs->pend[fs->n_pend++] = i;
        if (fs->n == 1 || !in->rd->in.reopenable)
            in->head_from_peek = true;
        else
            fin_close(fs, in);
    }
    if (readable == 0)
        return all_rejected(fs, err);
    for (size_t i = 0; i < fs->n; i++) {
        if (fs->v[i].reject) {
            ds_warn("capture", "%s; skipped", fs->v[i].reject);
            s->st.inputs_rejected++;
        }
    }
    if (s->bpf.expr) {
        struct ds_bpf_ent *ent;
        rc = ds_bpf_prepare(&s->bpf, first_lt, &ent, err);
        if (rc < 0)
            return rc;
    }
    qsort_r(fs->pend, fs->n_pend, sizeof *fs->pend, cmp_first_ts, fs);
    fs->single = fs->n == 1;
    return 0;
}

static void file_close(struct ds_source *s)
{
    struct fsrc *fs = s->priv;
    if (!fs)
        return;
    for (size_t i = 0; i < fs->n; i++) {
        fin_close(fs, &fs->v[i]);
        free(fs->v[i].path);
        free(fs->v[i].reject);
    }
    free(fs->v);
    free(fs->pend);
    free(fs->heap);
    free(fs);
    s->priv = NULL;
}

/* The inputs a list of paths stands for, as the file backend will read them. */
static int expand(struct fsrc *fs, const char *const *paths, size_t n)
{
    int rc = 0;
    bool had_stdin = false;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *p = paths[i];
        struct stat sb;
        if (strcmp(p, "-") == 0) {
            rc = add_input(fs, p, had_stdin ? "-: standard input given twice" : NULL, -EINVAL);
            had_stdin = true;
        } else if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            rc = add_dir(fs, p);
        } else {
            rc = add_input(fs, p, NULL, 0); /* opening it reports what is wrong, if anything */
        }
    }
    return rc;
}

int ds_capture_expand(const char *const *paths, size_t n, char ***out, size_t *n_out,
                      struct ds_err *err)
{
    struct fsrc fs = {0};
    *out = NULL;
    *n_out = 0;
    int rc = expand(&fs, paths, n);
    char **v = rc == 0 ? calloc(fs.n ? fs.n : 1, sizeof *v) : NULL;
    if (!v)
        rc = ds_err_set(err, -ENOMEM, "out of memory listing inputs");
    for (size_t i = 0; i < fs.n; i++) {
        if (v)
            v[i] = fs.v[i].path; /* ownership moves to the caller */
        else
            free(fs.v[i].path);
        free(fs.v[i].reject);
    }
    free(fs.v);
    if (rc < 0)
        return rc;
    *out = v;
    *n_out = fs.n;
    return 0;
}

static int file_open(struct ds_source *s, const struct ds_capture_opts *opts, struct ds_err *err)
{
    int rc = 0;
    struct fsrc *fs = calloc(1, sizeof *fs);
    if (!fs)
        return ds_err_set(err, -ENOMEM, "out of memory");
    s->priv = fs;
    rc = expand(fs, opts->paths, opts->n_paths);
    if (rc < 0) {
        rc = ds_err_set(err, rc, "out of memory");
        goto out;
    }
    rc = setup(s, fs, err);
out:
    if (rc < 0)
        file_close(s);
    return rc;
}

size_t ds_file_max_open(const struct ds_source *s)
{
    const struct fsrc *fs = s->be == &ds_capture_file ? s->priv : NULL;
    return fs ? fs->max_open : 0;
}

int ds_file_open_mem(struct ds_source *s, const uint8_t *data, size_t len, size_t stream_chunk,
                     struct ds_err *err)
{
    int rc;
    struct fsrc *fs = calloc(1, sizeof *fs);
    if (!fs)
        return ds_err_set(err, -ENOMEM, "out of memory");
    s->priv = fs;
    rc = add_input(fs, "<memory>", NULL, 0);
    if (rc < 0) {
        rc = ds_err_set(err, rc, "out of memory");
        goto out;
    }
    fs->v[0].mem = data ? data : (const uint8_t *)""; /* non-NULL marks a memory input */
    fs->v[0].mem_len = len;
    fs->v[0].chunk = stream_chunk;
    rc = setup(s, fs, err);
out:
    if (rc < 0)
        file_close(s);
    return rc;
}

const struct ds_capture_backend ds_capture_file = {
    .name = "file",
    .open = file_open,
    .next = file_next,
    .next_batch = file_next_batch,
    .stats = NULL, /* the common counters say everything */
    .interrupt = NULL,
    .close = file_close,
};
