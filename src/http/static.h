/* static.h - serving the web app's files from a directory: paths are checked so nothing
 * outside the directory can be read (no "..", no symlink escapes). */
#ifndef DS_HTTP_STATIC_H
#define DS_HTTP_STATIC_H

#include <stdbool.h>

#include "http/server.h"

/* True when rel (relative to root, no leading '/') names a regular file inside root. */
bool ds_static_exists(const char *root, const char *rel);

/* Replies with the file (200, its content type), or 404 / 403 / 400 naming the path. */
void ds_static_serve(const char *root, const char *rel, const struct ds_http_request *rq,
                     struct ds_http_response *rs);

#endif
