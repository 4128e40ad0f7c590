/* templates.h - reading the per-case response templates (TEMPLATES_DIR/LANG/CASE.txt), once
 * per call or through a cache that re-reads a file only when it changed. */
#ifndef DS_TEMPLATES_H
#define DS_TEMPLATES_H

#include <stddef.h>

#include "core/err.h"

#define DS_TEMPLATE_MAX (64 * 1024) /* a response text longer than this is a mistake */

/* The normalised text of one template: a leading BOM dropped, CRLF turned into LF, trailing
 * blank space removed; strict UTF-8 without NUL bytes, at most DS_TEMPLATE_MAX bytes. */
struct ds_template_text {
    const char *text; /* not NUL-terminated: use len */
    size_t len;
    char *owned; /* what to free when it was read for this call (NULL: the cache's) */
};

/*
 * A cache of the templates one owner formats with (the alert engine: one per engine, used on
 * its thread only). A file is read at its first use and again when its size, modification
 * time or inode has changed, which is looked at most once a second: an edited template
 * takes effect within a second, and formatting thousands of alerts reads each file once.
 */
struct ds_template_cache;
int ds_template_cache_new(struct ds_template_cache **out, struct ds_err *err);
void ds_template_cache_free(struct ds_template_cache *c);

/* The template at path, through c (NULL: read now). Errors name the path: -ENOENT and the
 * other open errors, -EISDIR, -EIO, -EFBIG, -EINVAL (not UTF-8 text), -ENOMEM. The text stays
 * valid until the next call with the same cache, or until t->owned is freed. */
int ds_template_get(struct ds_template_cache *c, const char *path, struct ds_template_text *t,
                    struct ds_err *err);

/* One placeholder: {{name}} becomes value. */
struct ds_template_var {
    const char *name, *value;
};

struct ds_sbuf;

/* Appends t's text to b with its placeholders substituted: at each "{{", a known name and
 * "}}" is replaced by its value (which is not scanned again); anything else keeps its first
 * '{' and the scan goes on from the next byte. */
void ds_template_fill(const struct ds_template_text *t, const struct ds_template_var *vars,
                      size_t n_vars, struct ds_sbuf *b);

#endif
