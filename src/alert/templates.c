/* templates.c - reading response templates, with an optional cache (see templates.h). The
 * cache is owned by one thread; it holds a few entries (languages x cases), searched in line. */
#include "alert/templates.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/sbuf.h"
#include "core/utf8.h"

#define SLOTS 32 /* more than the languages times the cases there are */

struct entry {
    char *path; /* NULL: unused */
    char *text;
    size_t len;
    struct stat st;     /* of the file as read */
    int64_t checked_ms; /* when st was last compared with the file */
};

struct ds_template_cache {
    struct entry e[SLOTS];
    size_t next; /* the slot a new path takes when all are used (round robin) */
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Reads and normalises path into a malloc'd *text of *len bytes; *st is the file's. */
static int read_file(const char *path, char **text, size_t *len, struct stat *st,
                     struct ds_err *err)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        int e = errno;
        char eb[128];
        return ds_err_set(err, -e, "alert template %s: %s", path, strerror_r(e, eb, sizeof eb));
    }
    if (fstat(fileno(f), st) == 0 && !S_ISREG(st->st_mode)) {
        fclose(f);
        return ds_err_set(err, -EISDIR, "alert template %s: not a regular file", path);
    }
    char *raw = malloc(DS_TEMPLATE_MAX + 1);
    if (!raw) {
        fclose(f);
        return ds_err_set(err, -ENOMEM, "alert template %s: out of memory", path);
    }
    size_t n = fread(raw, 1, DS_TEMPLATE_MAX + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    int rc = 0;
    if (bad)
        rc = ds_err_set(err, -EIO, "alert template %s: read error", path);
    else if (n > DS_TEMPLATE_MAX)
        rc = ds_err_set(err, -EFBIG, "alert template %s: longer than %d bytes", path,
                        DS_TEMPLATE_MAX);
    else if (memchr(raw, '\0', n) || !ds_utf8_valid(raw, n))
        rc = ds_err_set(err, -EINVAL, "alert template %s: not UTF-8 text", path);
    if (rc < 0) {
        free(raw);
        return rc;
    }
    size_t i = 0;
    if (n >= 3 && memcmp(raw, "\xef\xbb\xbf", 3) == 0)
        i = 3;
    size_t w = 0; /* CRLF -> LF in place */
    for (; i < n; i++) {
        if (raw[i] == '\r' && i + 1 < n && raw[i + 1] == '\n')
            continue;
        raw[w++] = raw[i];
    }
    while (w && (raw[w - 1] == '\n' || raw[w - 1] == ' ' || raw[w - 1] == '\t'))
        w--;
    *text = raw;
    *len = w;
    return 0;
}

int ds_template_cache_new(struct ds_template_cache **out, struct ds_err *err)
{
    if (!(*out = calloc(1, sizeof **out)))
        return ds_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static void drop(struct entry *e)
{
    free(e->path);
    free(e->text);
    *e = (struct entry){0};
}

void ds_template_cache_free(struct ds_template_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < SLOTS; i++)
        drop(&c->e[i]);
    free(c);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int ds_template_get(struct ds_template_cache *c, const char *path, struct ds_template_text *t,
                    struct ds_err *err)
{
    *t = (struct ds_template_text){0};
    struct stat st;
    if (!c) {
        char *text;
        size_t len;
        int rc = read_file(path, &text, &len, &st, err);
        if (rc == 0)
            *t = (struct ds_template_text){.text = text, .len = len, .owned = text};
        return rc;
    }
    struct entry *e = NULL;
    for (size_t i = 0; i < SLOTS && !e; i++)
        if (c->e[i].path && !strcmp(c->e[i].path, path))
            e = &c->e[i];
    int64_t now = mono_ms();
    if (e && now - e->checked_ms < 1000) {
        *t = (struct ds_template_text){.text = e->text, .len = e->len};
        return 0;
    }
    if (e) { /* looked at over a second ago: unchanged? */
        if (stat(path, &st) == 0 && same_file(&st, &e->st)) {
            e->checked_ms = now;
            *t = (struct ds_template_text){.text = e->text, .len = e->len};
            return 0;
        }
        drop(e); /* changed or gone: read it again (the error, if any, is the file's now) */
    } else {
        for (size_t i = 0; i < SLOTS && !e; i++)
            if (!c->e[i].path)
                e = &c->e[i];
        if (!e) {
            e = &c->e[c->next];
            c->next = (c->next + 1) % SLOTS;
            drop(e);
        }
    }
    char *text;
    size_t len;
    int rc = read_file(path, &text, &len, &st, err);
    if (rc < 0)
        return rc;
    if (!(e->path = strdup(path))) {
        free(text);
        return ds_err_set(err, -ENOMEM, "alert template %s: out of memory", path);
    }
    e->text = text;
    e->len = len;
    e->st = st;
    e->checked_ms = now;
    *t = (struct ds_template_text){.text = e->text, .len = e->len};
    return 0;
}

void ds_template_fill(const struct ds_template_text *t, const struct ds_template_var *vars,
                      size_t n_vars, struct ds_sbuf *b)
{
    const char *raw = t->text;
    size_t w = t->len, pos = 0;
    while (pos < w) {
        const char *open = memmem(raw + pos, w - pos, "{{", 2);
        if (!open) {
            ds_sbuf_add(b, raw + pos, w - pos);
            break;
        }
        size_t o = (size_t)(open - raw);
        ds_sbuf_add(b, raw + pos, o - pos);
        const char *val = NULL;
        size_t skip = 1;
        for (size_t k = 0; k < n_vars; k++) {
            size_t nl = strlen(vars[k].name);
            if (o + 2 + nl + 2 <= w && memcmp(raw + o + 2, vars[k].name, nl) == 0 &&
                memcmp(raw + o + 2 + nl, "}}", 2) == 0) {
                val = vars[k].value;
                skip = 2 + nl + 2;
                break;
            }
        }
        if (val)
            ds_sbuf_puts(b, val);
        else
            ds_sbuf_add(b, "{", 1);
        pos = o + skip;
    }
}
