/* scanners.h - research-scanner ranges: the repo's list, user lists and MISP warninglists. */
#ifndef DS_SCANNERS_H
#define DS_SCANNERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/err.h"

/*
 * Loads prefix lists into one longest-prefix-match table that maps an address to a label
 * (the organisation: "Censys", "Shodan", ...). Two input formats (docs/enrichment.md):
 *
 *   text   one prefix per line: `CIDR  organisation words  source`; the first field is the
 *          prefix, the last the source of the fact ("-" when none), the words between the
 *          organisation. '#' starts a comment; blank lines are ignored.
 *   MISP   a warninglist JSON file: {"name": ..., "type": "cidr"|"string", "list": [...]};
 *          the label is "name". A "cidr" list must hold only prefixes or addresses; a
 *          "string" list may mix them with other strings (domains), which are skipped.
 *
 * Errors fail the load (a skipped scanner range would silently inflate every port ranking):
 * a bad line names file:line and the offending text, a bad JSON file names jansson's
 * line:column or the JSON path (list[3]). A prefix listed twice with the same label is kept
 * once; with two different labels it is an error naming both places.
 *
 * Threads: loading and ds_scanners_finish() run on one thread; afterwards the object is
 * read-only and lookups may run on any number of threads at once.
 */
struct ds_scanners;

int ds_scanners_new(struct ds_scanners **out, struct ds_err *err);
void ds_scanners_free(struct ds_scanners *s);

/* Loads a file, choosing the format by content: MISP JSON when the first non-blank byte is
 * '{', the text format otherwise. 0 or a negative code (-ENOENT, -EINVAL, -ENOMEM, ...). */
int ds_scanners_load(struct ds_scanners *s, const char *path, struct ds_err *err);

/* Parses a buffer (not necessarily NUL-terminated) in one format; `name` stands for the file
 * in messages. On error nothing from this buffer is kept. */
int ds_scanners_parse_text(struct ds_scanners *s, const char *buf, size_t len, const char *name,
                           struct ds_err *err);
int ds_scanners_parse_misp(struct ds_scanners *s, const char *buf, size_t len, const char *name,
                           struct ds_err *err);

/* Checks duplicates and builds the table; call once, after the last load. */
int ds_scanners_finish(struct ds_scanners *s, struct ds_err *err);

/* The label of the organisation whose range holds a (longest match), after finish.
 * Thread-safe, allocation-free. */
bool ds_scanners_lookup(const struct ds_scanners *s, const struct ds_addr *a, uint32_t *label);

/* The organisation's name for a label; NULL for an unknown label. Valid while s lives. */
const char *ds_scanners_label(const struct ds_scanners *s, uint32_t label);

size_t ds_scanners_prefix_count(const struct ds_scanners *s); /* distinct prefixes */
size_t ds_scanners_label_count(const struct ds_scanners *s);
size_t ds_scanners_duplicate_count(const struct ds_scanners *s); /* same prefix, same label */

#endif
