/* deliver_file.c - the JSON-lines file channel: one appended, fsync'd line per message. */
#include "alert/deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Per-target state, owned by one delivery thread; other threads and processes may append to
 * the same file through their own descriptors. fd is -1 after a failed reopen (retried on the
 * next send). */
struct file_state {
    int fd;
    char *path;
    char *line; /* reused buffer: the JSON and its newline, written with one write(2) */
    size_t cap;
};

static void file_close(void *state)
{
    struct file_state *s = state;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->path);
    free(s->line);
    free(s);
}

/* O_APPEND: every write(2) goes to the end of the file atomically, so whole lines from several
 * writers never interleave or overwrite each other */
static int reopen(struct file_state *s, struct ds_err *err)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (s->fd < 0)
        return ds_err_set(err, -errno, "file: cannot open %s for appending: %s", s->path,
                          strerror(errno));
    return 0;
}

static int file_open(void **state, const struct ds_target *t, const struct ds_deliver_config *cfg,
                     struct ds_err *err)
{
    (void)cfg;
    int rc = 0;
    struct file_state *s = NULL;
    *state = NULL;
    if (!t->address || !t->address[0]) {
        rc = ds_err_set(err, -EINVAL, "file: empty target path");
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (s)
        s->fd = -1;
    if (!s || !(s->path = strdup(t->address))) {
        rc = ds_err_set(err, -ENOMEM, "file: %s: out of memory", t->address);
        goto out;
    }
    if ((rc = reopen(s, err)) < 0)
        goto out;
    *state = s;
    s = NULL;
out:
    file_close(s);
    return rc;
}

/* Rotation by rename (logrotate's default): once the path names another file, or none, the
 * next line goes to a new file at the path. */
static int follow_rotation(struct file_state *s, struct ds_err *err)
{
    struct stat at_path, open_file;
    if (s->fd >= 0 && stat(s->path, &at_path) == 0 && fstat(s->fd, &open_file) == 0 &&
        at_path.st_dev == open_file.st_dev && at_path.st_ino == open_file.st_ino)
        return 0;
    return reopen(s, err);
}

static int file_send(void *state, const struct ds_message *m, struct ds_err *err)
{
    struct file_state *s = state;
    int rc = 0;
    if (!m->json || m->json_len == 0) {
        rc = ds_err_set(err, -EINVAL, "file: %s: %s has no JSON", s->path, m->id ? m->id : "?");
        goto out;
    }
    const char *nl = memchr(m->json, '\n', m->json_len);
    if (!nl)
        nl = memchr(m->json, '\r', m->json_len);
    if (nl) {
        rc = ds_err_set(err, -EINVAL,
                        "file: %s: JSON of %s has a line break at byte %zu (must be compact)",
                        s->path, m->id ? m->id : "?", (size_t)(nl - m->json));
        goto out;
    }
    if (m->json_len + 1 > s->cap) {
        char *b = realloc(s->line, m->json_len + 1);
        if (!b) {
            rc = ds_err_set(err, -ENOMEM, "file: %s: out of memory for %zu bytes", s->path,
                            m->json_len + 1);
            goto out;
        }
        s->line = b;
        s->cap = m->json_len + 1;
    }
    if ((rc = follow_rotation(s, err)) < 0)
        goto out;
    memcpy(s->line, m->json, m->json_len);
    s->line[m->json_len] = '\n';
    ssize_t n;
    do
        n = write(s->fd, s->line, m->json_len + 1);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        rc = ds_err_set(err, -errno, "file: %s: write of %s: %s", s->path, m->id ? m->id : "?",
                        strerror(errno));
        goto out;
    }
    if ((size_t)n != m->json_len + 1) { /* disk full mid-line: a retry appends a whole line */
        rc = ds_err_set(err, -EIO, "file: %s: short write of %s: %zd of %zu bytes", s->path,
                        m->id ? m->id : "?", n, m->json_len + 1);
        goto out;
    }
    if (fsync(s->fd) < 0) {
        rc = ds_err_set(err, -errno, "file: %s: fsync after %s: %s", s->path, m->id ? m->id : "?",
                        strerror(errno));
        goto out;
    }
out:
    return rc;
}

const struct ds_deliverer ds_deliver_file = {
    .name = "file",
    .open = file_open,
    .send = file_send,
    .close = file_close,
};
