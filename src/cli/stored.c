/* stored.c - what a stored run (analyze --db, run) needs besides the packet path: the store,
 * the inputs not stored before, the geo databases and the research-scanner lists. */
#include "cli/stored.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"

void ds_stored_free(struct ds_stored_run *r)
{
    ds_store_close(r->store);
    ds_geo_close(r->geo);
    ds_scanners_free(r->scanners);
    free(r->files);
    for (size_t i = 0; i < r->n_inputs; i++)
        free(r->inputs[i]);
    free(r->inputs);
}

/* Opens the store, drops inputs stored before (by content), loads geo and research lists. */
int ds_stored_setup(struct ds_stored_run *r, const struct ds_stored_opts *s, struct ds_err *err)
{
    int rc;
    if ((rc = ds_store_open(&r->store, s->db, false, err)) < 0)
        return rc;
    if (s->n_read) {
        char **all;
        size_t n_all;
        if ((rc = ds_capture_expand(s->read, s->n_read, &all, &n_all, err)) < 0)
            return rc;
        r->files = calloc(n_all ? n_all : 1, sizeof *r->files);
        r->inputs = calloc(n_all ? n_all : 1, sizeof *r->inputs);
        bool *done = calloc(n_all ? n_all : 1, sizeof *done);
        int64_t *by = calloc(n_all ? n_all : 1, sizeof *by);
        if (!r->files || !r->inputs || !done || !by) {
            rc = ds_err_set(err, -ENOMEM, "out of memory");
        } else {
            for (size_t i = 0; i < n_all && rc == 0; i++) {
                struct ds_err fe = {0};
                /* only regular files have a content identity (not "-", pipes, devices) */
                if (ds_store_file_identity(all[i], &r->files[r->n_files], &fe) == 0)
                    r->n_files++;
                else if (strcmp(all[i], "-") != 0 && fe.code != -ESPIPE)
                    rc = ds_err_set(err, fe.code, "%s", fe.msg);
            }
            if (rc == 0)
                rc = ds_store_files_done(r->store, r->files, r->n_files, done, by, err);
            size_t keep = 0;
            for (size_t i = 0, f = 0; i < n_all && rc == 0; i++) {
                bool has_id = f < r->n_files && r->files[f].path == all[i];
                if (has_id && done[f]) {
                    fprintf(stderr,
                            "darkscope %s: %s was stored before (ingest %" PRId64 "): skipped\n",
                            s->cmd, all[i], by[f]);
                    free(all[i]);
                    all[i] = NULL;
                    memmove(&r->files[f], &r->files[f + 1],
                            (r->n_files - f - 1) * sizeof *r->files);
                    memmove(&done[f], &done[f + 1], (r->n_files - f - 1) * sizeof *done);
                    memmove(&by[f], &by[f + 1], (r->n_files - f - 1) * sizeof *by);
                    r->n_files--;
                    continue;
                }
                f += has_id;
                r->inputs[keep++] = all[i];
                all[i] = NULL;
            }
            r->n_inputs = keep;
        }
        for (size_t i = 0; i < n_all; i++)
            free(all[i]);
        free(all);
        free(done);
        free(by);
        if (rc < 0)
            return rc;
    }
    struct ds_geo_config gc = {.country_db = s->geo_country, .asn_db = s->geo_asn};
    if ((rc = ds_geo_open(&r->geo, &gc, err)) < 0)
        return rc;
    if ((rc = ds_scanners_new(&r->scanners, err)) < 0)
        return rc;
    if (!s->no_research_default &&
        (rc = ds_scanners_load(r->scanners, DS_DATA_DIR "/research-scanners.txt", err)) < 0)
        return rc;
    for (size_t i = 0; i < s->n_research; i++)
        if ((rc = ds_scanners_load(r->scanners, s->research[i], err)) < 0)
            return rc;
    return ds_scanners_finish(r->scanners, err);
}

char *ds_darknet_text(const char *const *darknet, size_t n, const char *const *files, size_t nf)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? "," : "", darknet[i]);
    for (size_t i = 0; i < nf; i++)
        fprintf(f, "%sfile:%s", i || n ? "," : "", files[i]);
    if (!n && !nf)
        fprintf(f, "all");
    fclose(f);
    return buf;
}
