/* render.c - prints a report's JSON value as JSON, CSV or an aligned text table. */
#include "cli/render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A scalar as text (strings unquoted; reals with up to 4 decimals; arrays joined). */
static char *scalar_text(json_t *v)
{
    char *out = NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return strdup(json_string_value(v));
    case JSON_INTEGER:
        if (asprintf(&out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0)
            return NULL;
        return out;
    case JSON_REAL: {
        double d = json_real_value(v), a = d < 0 ? -d : d;
        int n = d == (double)(long long)d && a < 1e15 ? asprintf(&out, "%.0f", d)
                : a >= 100                            ? asprintf(&out, "%.1f", d)
                : a >= 0.01 || a == 0                 ? asprintf(&out, "%.2f", d)
                                                      : asprintf(&out, "%.3g", d);
        if (n < 0)
            return NULL;
        return out;
    }
    case JSON_TRUE:
        return strdup("yes");
    case JSON_FALSE:
        return strdup("no");
    case JSON_NULL:
        return strdup("-");
    case JSON_ARRAY: {
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        if (!f)
            return NULL;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            char *t = json_is_object(e) || json_is_array(e) ? strdup("...") : scalar_text(e);
            fprintf(f, "%s%s", i ? "," : "", t ? t : "");
            free(t);
        }
        fclose(f);
        return out;
    }
    case JSON_OBJECT: {
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);
        if (!f)
            return NULL;
        const char *k;
        json_t *e;
        bool first = true;
        json_object_foreach(v, k, e)
        {
            char *t = scalar_text(e);
            fprintf(f, "%s%s=%s", first ? "" : " ", k, t ? t : "");
            free(t);
            first = false;
        }
        fclose(f);
        return out;
    }
    }
    return strdup("");
}

static bool is_table(json_t *v)
{
    return json_is_array(v) && (json_array_size(v) == 0 || json_is_object(json_array_get(v, 0)));
}

static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
}

/* An array of objects: columns from the first element's keys. */
static void table(FILE *f, json_t *arr, bool csv)
{
    json_t *first = json_array_get(arr, 0);
    if (!first) {
        if (!csv)
            fprintf(f, "  (none)\n");
        return;
    }
    size_t nc = json_object_size(first), nr = json_array_size(arr);
    const char **cols = calloc(nc, sizeof *cols);
    size_t *w = calloc(nc, sizeof *w);
    char **cells = calloc(nc * nr, sizeof *cells);
    if (!cols || !w || !cells)
        goto out;
    size_t c = 0;
    const char *k;
    json_t *e;
    json_object_foreach(first, k, e)
    {
        cols[c] = k;
        w[c] = strlen(k);
        c++;
    }
    for (size_t r = 0; r < nr; r++)
        for (c = 0; c < nc; c++) {
            json_t *v = json_object_get(json_array_get(arr, r), cols[c]);
            char *t = v ? scalar_text(v) : strdup("");
            cells[r * nc + c] = t;
            if (t && strlen(t) > w[c])
                w[c] = strlen(t);
        }
    for (c = 0; c < nc; c++) {
        if (csv) {
            if (c)
                fputc(',', f);
            csv_field(f, cols[c]);
        } else {
            fprintf(f, "%s%-*s", c ? "  " : "  ", (int)w[c], cols[c]);
        }
    }
    fputc('\n', f);
    for (size_t r = 0; r < nr; r++) {
        for (c = 0; c < nc; c++) {
            const char *t = cells[r * nc + c] ? cells[r * nc + c] : "";
            if (csv) {
                if (c)
                    fputc(',', f);
                csv_field(f, t);
            } else {
                json_t *v = json_object_get(json_array_get(arr, r), cols[c]);
                bool num = v && json_is_number(v);
                fprintf(f, "  %*s", num ? (int)w[c] : -(int)w[c], t);
            }
        }
        fputc('\n', f);
    }
out:
    if (cells)
        for (size_t i = 0; i < nc * nr; i++)
            free(cells[i]);
    free(cells);
    free(w);
    free(cols);
}

int ds_render(FILE *f, enum ds_format fmt, json_t *v, const char *csv_list)
{
    if (fmt == DS_FORMAT_JSON) {
        if (json_dumpf(v, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) < 0)
            return -EIO;
        fputc('\n', f);
    } else if (fmt == DS_FORMAT_CSV) {
        json_t *arr = json_is_array(v) ? v : json_object_get(v, csv_list ? csv_list : "");
        if (arr && is_table(arr))
            table(f, arr, true);
    } else if (is_table(v)) {
        table(f, v, false);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        size_t w = 0;
        json_object_foreach(v, k, e) if (!is_table(e) && strlen(k) > w) w = strlen(k);
        json_object_foreach(v, k, e)
        {
            if (is_table(e))
                continue;
            char *t = scalar_text(e);
            fprintf(f, "%-*s  %s\n", (int)w, k, t ? t : "");
            free(t);
        }
        json_object_foreach(v, k, e)
        {
            if (!is_table(e))
                continue;
            fprintf(f, "\n%s:\n", k);
            table(f, e, false);
        }
    }
    return ferror(f) ? -EIO : 0;
}
