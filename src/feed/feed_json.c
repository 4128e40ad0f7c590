/* feed_json.c - feeds as JSON lines: one IntelMQ event per line (harmonised field names,
 * the kind's intelmq table; absent values left out), as IntelMQ's file output writes them.
 * A kind without an IntelMQ mapping (statistics) writes its rows as they are, one per line. */
#include <errno.h>
#include <stdlib.h>

#include "feed/feed_int.h"

static int put(FILE *f, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!s)
        return -ENOMEM;
    fputs(s, f);
    fputc('\n', f);
    free(s);
    return 0;
}

static int json_write(FILE *f, const struct ds_feed *feed, struct ds_err *err)
{
    const struct ds_feed_field *fl = feed->kind->intelmq;
    size_t i;
    json_t *row;
    json_array_foreach(feed->rows, i, row)
    {
        int rc;
        if (!fl) {
            rc = put(f, row);
        } else {
            json_t *ev = json_object();
            for (size_t k = 0; fl[k].name; k++) {
                json_t *v = ds_feed_field_value(feed, &fl[k], row, false);
                if (v)
                    json_object_set_new(ev, fl[k].name, v);
            }
            rc = put(f, ev);
            json_decref(ev);
        }
        if (rc < 0)
            return ds_err_set(err, rc, "feed %s: out of memory writing JSON", feed->kind->name);
    }
    return 0;
}

const struct ds_feed_format ds_feed_json = {
    .name = "json",
    .content_type = "application/x-ndjson",
    .write = json_write,
};
