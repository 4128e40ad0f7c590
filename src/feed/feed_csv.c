/* feed_csv.c - feeds as CSV (RFC 4180, CRLF) with a header row of Shadowserver-like column
 * names (the kind's csv table). A column "list.member" expands the row: one line per
 * element of the row's array "list", the other columns repeated. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "feed/feed_int.h"

static void cell(FILE *f, json_t *v)
{
    if (!v || json_is_null(v))
        return;
    if (json_is_integer(v)) {
        fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    }
    if (json_is_real(v)) {
        fprintf(f, "%.10g", json_real_value(v));
        return;
    }
    if (json_is_boolean(v)) {
        fputs(json_is_true(v) ? "true" : "false", f);
        return;
    }
    const char *s = json_string_value(v);
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* The array a "list.member" column expands over, and the member (or NULL). */
static const char *sub_member(const char *key, char *list, size_t cap)
{
    const char *dot = key ? strchr(key, '.') : NULL;
    if (!dot || (size_t)(dot - key) >= cap)
        return NULL;
    memcpy(list, key, (size_t)(dot - key));
    list[dot - key] = 0;
    return dot + 1;
}

static void line(FILE *f, const struct ds_feed *feed, json_t *row, json_t *sub)
{
    const struct ds_feed_field *fl = feed->kind->csv;
    for (size_t i = 0; fl[i].name; i++) {
        if (i)
            fputc(',', f);
        char list[64];
        const char *m = sub_member(fl[i].key, list, sizeof list);
        if (m) {
            cell(f, sub ? json_object_get(sub, m) : NULL);
            continue;
        }
        json_t *v = ds_feed_field_value(feed, &fl[i], row, true);
        cell(f, v);
        json_decref(v);
    }
    fputs("\r\n", f);
}

static int csv_write(FILE *f, const struct ds_feed *feed, struct ds_err *err)
{
    const struct ds_feed_field *fl = feed->kind->csv;
    if (!fl)
        return ds_err_set(err, -ENOTSUP, "feed %s has no CSV form", feed->kind->name);
    char expand[64] = "";
    for (size_t i = 0; fl[i].name; i++) {
        fprintf(f, "%s%s", i ? "," : "", fl[i].name);
        char list[64];
        if (sub_member(fl[i].key, list, sizeof list))
            memcpy(expand, list, sizeof list);
    }
    fputs("\r\n", f);
    size_t i;
    json_t *row;
    json_array_foreach(feed->rows, i, row)
    {
        json_t *subs = *expand ? json_object_get(row, expand) : NULL;
        if (!json_array_size(subs)) {
            line(f, feed, row, NULL);
            continue;
        }
        size_t k;
        json_t *sub;
        json_array_foreach(subs, k, sub) line(f, feed, row, sub);
    }
    return 0;
}

const struct ds_feed_format ds_feed_csv = {
    .name = "csv",
    .content_type = "text/csv; charset=utf-8",
    .write = csv_write,
};
