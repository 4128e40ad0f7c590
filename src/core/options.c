/* options.c - one typed option table feeding command-line flags, config files,
 * --dump-config and --help. */
#include "core/options.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int ds_strlist_push(struct ds_strlist *l, const char *s)
{
    char *dup = strdup(s);
    if (!dup)
        return -ENOMEM;
    char **v = realloc(l->v, (l->n + 1) * sizeof *v);
    if (!v) {
        free(dup);
        return -ENOMEM;
    }
    v[l->n++] = dup;
    l->v = v;
    return 0;
}

void ds_strlist_free(struct ds_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void *field(void *obj, const struct ds_option *o)
{
    return (char *)obj + o->offset;
}
static const void *cfield(const void *obj, const struct ds_option *o)
{
    return (const char *)obj + o->offset;
}

/* Finds an option by long name, descending into groups; *objp becomes the struct it sets. */
static const struct ds_option *find_long(const struct ds_option *tab, size_t n, void *obj,
                                         const char *name, size_t len, void **objp)
{
    for (size_t i = 0; i < n; i++) {
        if (tab[i].type == DS_OPT_GROUP) {
            const struct ds_option *o =
                find_long(tab[i].group, tab[i].group_n, field(obj, &tab[i]), name, len, objp);
            if (o)
                return o;
        } else if (strlen(tab[i].name) == len && !strncmp(tab[i].name, name, len)) {
            *objp = obj;
            return &tab[i];
        }
    }
    return NULL;
}

static const struct ds_option *find_short(const struct ds_option *tab, size_t n, void *obj, char c,
                                          void **objp)
{
    for (size_t i = 0; i < n; i++) {
        if (tab[i].type == DS_OPT_GROUP) {
            const struct ds_option *o =
                find_short(tab[i].group, tab[i].group_n, field(obj, &tab[i]), c, objp);
            if (o)
                return o;
        } else if (tab[i].short_name == c) {
            *objp = obj;
            return &tab[i];
        }
    }
    return NULL;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "yes", "true", "on"};
    static const char *const no[] = {"0", "no", "false", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(v, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int set_value(const struct ds_option *o, void *obj, const char *value, const char *where,
                     struct ds_err *err)
{
    void *f = field(obj, o);
    switch (o->type) {
    case DS_OPT_BOOL: {
        bool b;
        if (parse_bool(value, &b) < 0)
            return ds_err_set(err, -EINVAL, "%s: %s expects yes or no, not '%s'", where, o->name,
                              value);
        *(bool *)f = b;
        return 0;
    }
    case DS_OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 0);
        if (errno || end == value || *end)
            return ds_err_set(err, -EINVAL, "%s: %s expects a whole number, not '%s'", where,
                              o->name, value);
        if (v < o->min || v > o->max)
            return ds_err_set(err, -ERANGE, "%s: %s must be between %ld and %ld, not %ld", where,
                              o->name, o->min, o->max, v);
        *(long *)f = v;
        return 0;
    }
    case DS_OPT_STRING: {
        char *dup = strdup(value);
        if (!dup)
            return ds_err_set(err, -ENOMEM, "%s: out of memory", where);
        free(*(char **)f);
        *(char **)f = dup;
        return 0;
    }
    case DS_OPT_LIST:
        if (ds_strlist_push(f, value) < 0)
            return ds_err_set(err, -ENOMEM, "%s: out of memory", where);
        return 0;
    case DS_OPT_ENUM:
        for (int i = 0; o->choices[i]; i++) {
            if (!strcmp(o->choices[i], value)) {
                *(int *)f = i;
                return 0;
            }
        }
        {
            char list[256] = "";
            for (int i = 0; o->choices[i]; i++) {
                if (i)
                    strncat(list, "|", sizeof list - strlen(list) - 1);
                strncat(list, o->choices[i], sizeof list - strlen(list) - 1);
            }
            return ds_err_set(err, -EINVAL, "%s: %s must be one of %s, not '%s'", where, o->name,
                              list, value);
        }
    case DS_OPT_GROUP:
        break;
    }
    return ds_err_set(err, -EINVAL, "%s: %s has an unknown type", where, o->name);
}

int ds_options_defaults(const struct ds_option *tab, size_t n, void *obj, struct ds_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct ds_option *o = &tab[i];
        void *f = field(obj, o);
        switch (o->type) {
        case DS_OPT_GROUP: {
            int rc = ds_options_defaults(o->group, o->group_n, f, err);
            if (rc < 0)
                return rc;
            continue;
        }
        case DS_OPT_BOOL:
            *(bool *)f = false;
            break;
        case DS_OPT_INT:
            *(long *)f = 0;
            break;
        case DS_OPT_STRING:
            *(char **)f = NULL;
            break;
        case DS_OPT_LIST:
            memset(f, 0, sizeof(struct ds_strlist));
            break;
        case DS_OPT_ENUM:
            *(int *)f = 0;
            break;
        }
        if (o->def) {
            int rc = set_value(o, obj, o->def, "default", err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int ds_options_set(const struct ds_option *tab, size_t n, void *obj, const char *name,
                   const char *value, const char *where, struct ds_err *err)
{
    void *at = obj;
    const struct ds_option *o = find_long(tab, n, obj, name, strlen(name), &at);
    if (!o || o->cli_only)
        return ds_err_set(err, -EINVAL, "%s: unknown setting '%s'", where, name);
    return set_value(o, at, value, where, err);
}

int ds_options_parse_argv(const struct ds_option *tab, size_t n, void *obj, int argc, char **argv,
                          struct ds_strlist *positional, struct ds_err *err)
{
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct ds_option *o = NULL;
        void *at = obj; /* the struct o sets (a group's, for shared options) */
        const char *value = NULL;
        char flag[160];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (!positional)
                return ds_err_set(err, -EINVAL, "unexpected argument '%s'", a);
            if (ds_strlist_push(positional, a) < 0)
                return ds_err_set(err, -ENOMEM, "out of memory");
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = true;
            continue;
        }
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(tab, n, obj, name, len, &at);
            if (!o && len > 3 && !strncmp(name, "no-", 3)) {
                const struct ds_option *neg = find_long(tab, n, obj, name + 3, len - 3, &at);
                if (neg && neg->type == DS_OPT_BOOL && !eq) {
                    *(bool *)field(at, neg) = false;
                    continue;
                }
            }
            if (!o)
                return ds_err_set(err, -EINVAL, "unknown option '--%.*s'", (int)len, name);
            snprintf(flag, sizeof flag, "--%s", o->name);
            if (eq)
                value = eq + 1;
        } else {
            o = find_short(tab, n, obj, a[1], &at);
            if (!o)
                return ds_err_set(err, -EINVAL, "unknown option '-%c'", a[1]);
            snprintf(flag, sizeof flag, "-%c", a[1]);
            if (a[2])
                value = a + 2;
        }
        if (!value) {
            if (o->type == DS_OPT_BOOL) {
                *(bool *)field(at, o) = true;
                continue;
            }
            if (i + 1 >= argc)
                return ds_err_set(err, -EINVAL, "option %s needs a value (%s)", flag,
                                  o->metavar ? o->metavar : "VALUE");
            value = argv[++i];
        }
        int rc = set_value(o, at, value, flag, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int ds_options_load(const struct ds_option *tab, size_t n, void *obj, int argc, char **argv,
                    struct ds_strlist *positional, struct ds_err *err)
{
    int rc = ds_options_defaults(tab, n, obj, err);
    void *at;
    const struct ds_option *c = find_long(tab, n, obj, "config", 6, &at);
    char cshort[3] = {'-', c ? c->short_name : 0, 0};
    for (int i = 1; i < argc && rc == 0; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        const char *path = NULL;
        if ((!strcmp(argv[i], "--config") || (cshort[1] && !strcmp(argv[i], cshort))) &&
            i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
        if (path)
            rc = ds_options_parse_file(tab, n, obj, path, err);
    }
    return rc < 0 ? rc : ds_options_parse_argv(tab, n, obj, argc, argv, positional, err);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int ds_options_parse_file(const struct ds_option *tab, size_t n, void *obj, const char *path,
                          struct ds_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ds_err_set(err, -errno, "config file '%s': %s", path, strerror(errno));
    char line[8192];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char where[600];
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            rc = ds_err_set(err, -EINVAL, "%s: line longer than %zu bytes", where, sizeof line - 1);
            goto out;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *sep = s + strcspn(s, " \t=");
        char *value = sep;
        if (*sep) {
            *sep = '\0';
            value = sep + 1;
        }
        value = trim(value);
        if (*value == '=')
            value = trim(value + 1);
        if (!*value) {
            rc = ds_err_set(err, -EINVAL, "%s: setting '%s' has no value", where, s);
            goto out;
        }
        size_t vl = strlen(value);
        if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
            value[vl - 1] = '\0';
            value++;
        }
        rc = ds_options_set(tab, n, obj, s, value, where, err);
        if (rc < 0)
            goto out;
    }
    if (ferror(f))
        rc = ds_err_set(err, -EIO, "config file '%s': read error", path);
out:
    fclose(f);
    return rc;
}

void ds_options_dump(const struct ds_option *tab, size_t n, const void *obj, FILE *f)
{
    for (size_t i = 0; i < n; i++) {
        const struct ds_option *o = &tab[i];
        if (o->cli_only)
            continue;
        const void *v = cfield(obj, o);
        if (o->type == DS_OPT_GROUP) {
            ds_options_dump(o->group, o->group_n, v, f);
            continue;
        }
        fprintf(f, "# %s\n", o->help);
        switch (o->type) {
        case DS_OPT_BOOL:
            fprintf(f, "%s %s\n", o->name, *(const bool *)v ? "yes" : "no");
            break;
        case DS_OPT_INT:
            fprintf(f, "%s %ld\n", o->name, *(const long *)v);
            break;
        case DS_OPT_STRING: {
            const char *s = *(char *const *)v;
            if (s)
                fprintf(f, "%s \"%s\"\n", o->name, s);
            else
                fprintf(f, "# %s (unset)\n", o->name);
            break;
        }
        case DS_OPT_LIST: {
            const struct ds_strlist *l = v;
            if (!l->n)
                fprintf(f, "# %s (none)\n", o->name);
            for (size_t j = 0; j < l->n; j++)
                fprintf(f, "%s \"%s\"\n", o->name, l->v[j]);
            break;
        }
        case DS_OPT_ENUM:
            fprintf(f, "%s %s\n", o->name, o->choices[*(const int *)v]);
            break;
        case DS_OPT_GROUP:
            break;
        }
    }
}

void ds_options_help(const struct ds_option *tab, size_t n, FILE *f)
{
    for (size_t i = 0; i < n; i++) {
        const struct ds_option *o = &tab[i];
        if (o->type == DS_OPT_GROUP) {
            ds_options_help(o->group, o->group_n, f);
            continue;
        }
        char left[96];
        char shortp[8] = "    ";
        if (o->short_name)
            snprintf(shortp, sizeof shortp, "-%c, ", o->short_name);
        snprintf(left, sizeof left, "%s--%s%s%s", shortp, o->name,
                 o->type == DS_OPT_BOOL ? "" : " ",
                 o->type == DS_OPT_BOOL ? "" : (o->metavar ? o->metavar : "VALUE"));
        fprintf(f, "  %-32s %s", left, o->help);
        if (o->def && o->type != DS_OPT_BOOL)
            fprintf(f, " (default: %s)", o->def);
        if (o->type == DS_OPT_LIST)
            fprintf(f, " (repeatable)");
        fputc('\n', f);
    }
}

void ds_options_free(const struct ds_option *tab, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++) {
        void *f = field(obj, &tab[i]);
        if (tab[i].type == DS_OPT_GROUP) {
            ds_options_free(tab[i].group, tab[i].group_n, f);
        } else if (tab[i].type == DS_OPT_STRING) {
            free(*(char **)f);
            *(char **)f = NULL;
        } else if (tab[i].type == DS_OPT_LIST) {
            ds_strlist_free(f);
        }
    }
}
