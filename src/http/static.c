/* static.c - the web app's files: checked paths, content types, whole-file replies. */
#include "http/static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (32u << 20)

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".map", "application/json"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

/* The checked absolute path of rel under root into out; 0, -EINVAL (bad path), -ENOENT,
 * -EACCES (outside root). */
static int resolve(const char *root, const char *rel, char out[PATH_MAX])
{
    if (!root || !rel || !*rel || rel[0] == '/' || strlen(rel) > 1024)
        return -EINVAL;
    for (const char *p = rel; *p; p++)
        if (*p == '\\' || (unsigned char)*p < 0x20)
            return -EINVAL;
    /* no "." or ".." segments, no empty segments */
    for (const char *p = rel; *p;) {
        const char *e = strchr(p, '/');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
            return -EINVAL;
        p += l + (e ? 1 : 0);
    }
    char rroot[PATH_MAX], joined[PATH_MAX * 2];
    if (!realpath(root, rroot))
        return -ENOENT;
    snprintf(joined, sizeof joined, "%s/%s", rroot, rel);
    if (!realpath(joined, out))
        return -ENOENT;
    size_t rl = strlen(rroot);
    if (strncmp(out, rroot, rl) != 0 || (out[rl] != '/' && out[rl] != 0))
        return -EACCES; /* a symlink pointing out */
    return 0;
}

bool ds_static_exists(const char *root, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;
    return resolve(root, rel, path) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void ds_static_serve(const char *root, const char *rel, const struct ds_http_request *rq,
                     struct ds_http_response *rs)
{
    (void)rq;
    char path[PATH_MAX];
    int rc = resolve(root, rel, path);
    if (rc == -EINVAL) {
        ds_http_error(rs, 400, "bad path '%.200s'", rel ? rel : "");
        return;
    }
    if (rc == -EACCES) {
        ds_http_error(rs, 403, "'%.200s' is outside the web directory", rel);
        return;
    }
    int fd = rc == 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        ds_http_error(rs, 404, "no such file: %.200s", rel);
        return;
    }
    if ((uint64_t)st.st_size > MAX_FILE) {
        close(fd);
        ds_http_error(rs, 500, "%.200s is too large to serve", rel);
        return;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n ? n : 1);
    size_t got = 0;
    while (buf && got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!buf || got != n) {
        free(buf);
        ds_http_error(rs, 500, "cannot read %.200s", rel);
        return;
    }
    ds_http_reply_take(rs, 200, type_of(path), buf, n);
    ds_http_add_header(rs, "Cache-Control", "%s",
                       strstr(rel, "index.html") ? "no-cache" : "public, max-age=300");
    ds_http_add_header(rs, "Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data:; style-src 'self' "
                       "'unsafe-inline'; connect-src 'self'; object-src 'none'; "
                       "frame-ancestors 'none'");
}
