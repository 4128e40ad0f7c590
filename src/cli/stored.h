/* stored.h - what a stored run (analyze --db, run) needs besides the packet path: the store,
 * the inputs not stored before, the geo databases and the research-scanner lists. */
#ifndef DS_STORED_H
#define DS_STORED_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "enrich/geo.h"
#include "enrich/scanners.h"
#include "store/store.h"

struct ds_stored_opts {
    const char *db;
    const char *const *read; /* -r inputs (files, directories, "-") */
    size_t n_read;
    const char *geo_country, *geo_asn;
    const char *const *research; /* user research-scanner lists */
    size_t n_research;
    bool no_research_default;
    const char *cmd; /* the subcommand, for messages */
};

struct ds_stored_run {
    struct ds_store *store;
    struct ds_geo *geo;
    struct ds_scanners *scanners;
    struct ds_ingest_file *files; /* identities of the inputs that will be read */
    size_t n_files;
    char **inputs; /* what to read: every expanded input not stored before */
    size_t n_inputs;
    bool ingesting;
};

/* Opens the store, drops inputs stored before (by content, with a message each), opens the
 * geo databases (absent ones are warned about once) and loads the research lists (errors name
 * file and line). 0 or a negative code with err set; free with ds_stored_free either way. */
int ds_stored_setup(struct ds_stored_run *r, const struct ds_stored_opts *o, struct ds_err *err);
void ds_stored_free(struct ds_stored_run *r);

/* The darknet as text, for the ingest log (malloc'd; NULL on out of memory). */
char *ds_darknet_text(const char *const *darknet, size_t n, const char *const *files, size_t nf);

#endif
