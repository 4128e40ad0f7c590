/* scanners.c - research-scanner ranges: the repo's list, user lists and MISP warninglists. */
#include "enrich/scanners.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lpm.h"

#define MAX_FILE (256u << 20) /* a list larger than this is a mistake */
#define MAX_LABEL 200

/* Where a prefix came from, for duplicate messages: a text line or a MISP list index. */
struct item {
    struct ds_prefix prefix;
    uint32_t label;
    uint32_t src;   /* index into sources */
    uint32_t where; /* line number (text) or list index (MISP) */
    uint32_t order; /* load order, to report the earlier place first */
};

struct ds_scanners {
    struct item *items;
    size_t n_items, cap_items;
    char **labels;
    size_t n_labels, cap_labels;
    char **sources; /* file names as given; sources_json[i] says which format */
    bool *sources_json;
    size_t n_sources, cap_sources;
    struct ds_lpm *lpm; /* NULL until finish */
    size_t n_prefixes, n_dups;
};

int ds_scanners_new(struct ds_scanners **out, struct ds_err *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : ds_err_set(err, -ENOMEM, "scanners: out of memory");
}

void ds_scanners_free(struct ds_scanners *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_labels; i++)
        free(s->labels[i]);
    for (size_t i = 0; i < s->n_sources; i++)
        free(s->sources[i]);
    free(s->labels);
    free(s->sources);
    free(s->sources_json);
    free(s->items);
    ds_lpm_free(s->lpm);
    free(s);
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, nc * size);
    if (!p)
        return -ENOMEM;
    *v = p;
    *cap = nc;
    return 0;
}

/* Interns a label of `len` bytes; returns its id or a negative code. */
static int64_t intern(struct ds_scanners *s, const char *text, size_t len)
{
    for (size_t i = s->n_labels; i-- > 0;)
        if (strlen(s->labels[i]) == len && memcmp(s->labels[i], text, len) == 0)
            return (int64_t)i;
    if (grow((void **)&s->labels, &s->cap_labels, s->n_labels, sizeof *s->labels) < 0)
        return -ENOMEM;
    char *copy = strndup(text, len);
    if (!copy)
        return -ENOMEM;
    s->labels[s->n_labels] = copy;
    return (int64_t)s->n_labels++;
}

static int add_source(struct ds_scanners *s, const char *name, bool json, uint32_t *id)
{
    if (grow((void **)&s->sources, &s->cap_sources, s->n_sources, sizeof *s->sources) < 0)
        return -ENOMEM;
    size_t cap = s->cap_sources;
    bool *nj = realloc(s->sources_json, cap * sizeof *nj);
    if (!nj)
        return -ENOMEM;
    s->sources_json = nj;
    if (!(s->sources[s->n_sources] = strdup(name)))
        return -ENOMEM;
    s->sources_json[s->n_sources] = json;
    *id = (uint32_t)s->n_sources++;
    return 0;
}

static int add_item(struct ds_scanners *s, const struct ds_prefix *p, uint32_t label, uint32_t src,
                    uint32_t where)
{
    if (grow((void **)&s->items, &s->cap_items, s->n_items, sizeof *s->items) < 0)
        return -ENOMEM;
    s->items[s->n_items] = (struct item){
        .prefix = *p, .label = label, .src = src, .where = where, .order = (uint32_t)s->n_items};
    s->n_items++;
    return 0;
}

/* Drops what a failed parse added (labels are only appended, so truncation is exact). */
static void rollback(struct ds_scanners *s, size_t n_items, size_t n_labels)
{
    s->n_items = n_items;
    while (s->n_labels > n_labels)
        free(s->labels[--s->n_labels]);
}

/* ---- text format ---- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses one line (no newline). Returns 0, or an error with the message naming the text. */
static int parse_line(struct ds_scanners *s, const char *line, size_t len, uint32_t src,
                      uint32_t lineno, struct ds_err *err)
{
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '#') {
            len = i;
            break;
        }
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            return ds_err_set(err, -EINVAL, "control character 0x%02x in column %zu",
                              (unsigned char)line[i], i + 1);
    }
    /* split into at most the fields we need: first, last, and the span between */
    const char *tok[3] = {0};
    size_t tlen[3] = {0}, ntok = 0;
    const char *mid_start = NULL, *mid_end = NULL;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_blank(line[i]))
            i++;
        if (i == len)
            break;
        size_t st = i;
        while (i < len && !is_blank(line[i]))
            i++;
        if (ntok == 0) {
            tok[0] = line + st;
            tlen[0] = i - st;
        } else {
            if (ntok >= 2) { /* the previous "last" token becomes part of the organisation */
                if (!mid_start)
                    mid_start = tok[2];
                mid_end = tok[2] + tlen[2];
            }
            tok[2] = line + st;
            tlen[2] = i - st;
        }
        ntok++;
    }
    if (ntok == 0)
        return 0; /* blank or comment */
    if (ntok < 3) {
        const char *t = tok[0];
        while (len && is_blank(line[len - 1]))
            len--;
        return ds_err_set(err, -EINVAL,
                          "expected 'CIDR organisation source', got '%.*s' (%zu field%s)",
                          (int)(len - (size_t)(t - line) > 120 ? 120 : len - (size_t)(t - line)), t,
                          ntok, ntok == 1 ? "" : "s");
    }
    char text[DS_PREFIX_STRLEN + 16];
    if (tlen[0] >= sizeof text)
        return ds_err_set(err, -EINVAL, "'%.40s...' is not a CIDR prefix (too long)", tok[0]);
    memcpy(text, tok[0], tlen[0]);
    text[tlen[0]] = '\0';
    struct ds_prefix p;
    int rc = ds_prefix_parse(&p, text, err);
    if (rc < 0)
        return rc;
    /* the organisation: the middle fields, inner blanks collapsed to one space */
    char org[MAX_LABEL + 1];
    size_t ol = 0;
    for (const char *c = mid_start; c < mid_end; c++) {
        if (is_blank(*c) && (ol == 0 || org[ol - 1] == ' '))
            continue;
        if (ol == MAX_LABEL)
            return ds_err_set(err, -EINVAL, "organisation longer than %d bytes", MAX_LABEL);
        org[ol++] = is_blank(*c) ? ' ' : *c;
    }
    int64_t label = intern(s, org, ol);
    if (label < 0)
        return ds_err_set(err, -ENOMEM, "out of memory");
    if (add_item(s, &p, (uint32_t)label, src, lineno) < 0)
        return ds_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

int ds_scanners_parse_text(struct ds_scanners *s, const char *buf, size_t len, const char *name,
                           struct ds_err *err)
{
    size_t n_items = s->n_items, n_labels = s->n_labels;
    uint32_t src;
    if (s->lpm)
        return ds_err_set(err, -EBUSY, "%s: list loaded after the table was built", name);
    if (add_source(s, name, false, &src) < 0)
        return ds_err_set(err, -ENOMEM, "%s: out of memory", name);
    uint32_t lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t l = end - pos;
        if (l && buf[pos + l - 1] == '\r')
            l--;
        lineno++;
        int rc = parse_line(s, buf + pos, l, src, lineno, err);
        if (rc < 0) {
            rollback(s, n_items, n_labels);
            return ds_err_wrap(err, "%s:%u", name, lineno);
        }
        pos = end + 1;
    }
    return 0;
}

/* ---- MISP warninglist JSON ---- */

int ds_scanners_parse_misp(struct ds_scanners *s, const char *buf, size_t len, const char *name,
                           struct ds_err *err)
{
    int rc = 0;
    size_t n_items = s->n_items, n_labels = s->n_labels;
    json_error_t jerr;
    json_t *root = NULL;
    uint32_t src;
    if (s->lpm)
        return ds_err_set(err, -EBUSY, "%s: list loaded after the table was built", name);
    if (add_source(s, name, true, &src) < 0)
        return ds_err_set(err, -ENOMEM, "%s: out of memory", name);
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = ds_err_set(err, -EINVAL, "%s:%d:%d: invalid JSON: %s", name, jerr.line, jerr.column,
                        jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = ds_err_set(err, -EINVAL, "%s: the top level is not a JSON object", name);
        goto out;
    }
    json_t *jname = json_object_get(root, "name"), *jtype = json_object_get(root, "type"),
           *jlist = json_object_get(root, "list");
    if (!json_is_string(jname) || json_string_length(jname) == 0) {
        rc = ds_err_set(err, -EINVAL, "%s: \"name\" is missing or not a non-empty string", name);
        goto out;
    }
    bool cidr = true; /* MISP's default type is "string" */
    if (jtype && !json_is_string(jtype)) {
        rc = ds_err_set(err, -EINVAL, "%s: \"type\" is not a string", name);
        goto out;
    }
    const char *type = jtype ? json_string_value(jtype) : "string";
    if (strcmp(type, "cidr") == 0) {
        cidr = true;
    } else if (strcmp(type, "string") == 0) {
        cidr = false;
    } else {
        rc = ds_err_set(err, -EINVAL,
                        "%s: \"type\" is '%.40s'; only \"cidr\" and \"string\" lists hold "
                        "addresses",
                        name, type);
        goto out;
    }
    if (!json_is_array(jlist)) {
        rc = ds_err_set(err, -EINVAL, "%s: \"list\" is missing or not an array", name);
        goto out;
    }
    size_t nl = json_string_length(jname);
    if (nl > MAX_LABEL)
        nl = MAX_LABEL;
    int64_t label = intern(s, json_string_value(jname), nl);
    if (label < 0) {
        rc = ds_err_set(err, -ENOMEM, "%s: out of memory", name);
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(jlist, i, v)
    {
        if (!json_is_string(v)) {
            rc = ds_err_set(err, -EINVAL, "%s: list[%zu] is not a string", name, i);
            goto out;
        }
        const char *text = json_string_value(v);
        struct ds_prefix p;
        struct ds_err perr = {0};
        if (strlen(text) != json_string_length(v) || strlen(text) > DS_PREFIX_STRLEN)
            ds_err_set(&perr, -EINVAL, "'%.40s' is not a CIDR prefix", text);
        else
            ds_prefix_parse(&p, text, &perr);
        if (perr.code) {
            if (!cidr)
                continue; /* a domain or other string in a "string" list */
            rc = ds_err_set(err, -EINVAL, "%s: list[%zu]: %s", name, i, perr.msg);
            goto out;
        }
        if (add_item(s, &p, (uint32_t)label, src, (uint32_t)i) < 0) {
            rc = ds_err_set(err, -ENOMEM, "%s: out of memory", name);
            goto out;
        }
    }
out:
    if (rc < 0)
        rollback(s, n_items, n_labels);
    json_decref(root);
    return rc;
}

/* ---- files ---- */

int ds_scanners_load(struct ds_scanners *s, const char *path, struct ds_err *err)
{
    int rc = 0;
    char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ds_err_set(err, -errno, "%s: %s", path, strerror(errno));
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_FILE) {
                rc = ds_err_set(err, -EFBIG, "%s: larger than %u MiB", path, MAX_FILE >> 20);
                goto out;
            }
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = ds_err_set(err, -ENOMEM, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = ds_err_set(err, -EIO, "%s: read error: %s", path, strerror(errno));
                goto out;
            }
            break;
        }
    }
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i < len && buf[i] == '{')
        rc = ds_scanners_parse_misp(s, buf, len, path, err);
    else
        rc = ds_scanners_parse_text(s, buf, len, path, err);
out:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- the table ---- */

static int cmp_item(const void *x, const void *y)
{
    const struct item *a = x, *b = y;
    int c = memcmp(a->prefix.addr.b, b->prefix.addr.b, 16);
    if (c)
        return c;
    if (a->prefix.len != b->prefix.len)
        return a->prefix.len < b->prefix.len ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void place(const struct ds_scanners *s, const struct item *it, char *buf, size_t size)
{
    if (s->sources_json[it->src])
        snprintf(buf, size, "%s: list[%u]", s->sources[it->src], it->where);
    else
        snprintf(buf, size, "%s:%u", s->sources[it->src], it->where);
}

int ds_scanners_finish(struct ds_scanners *s, struct ds_err *err)
{
    int rc = 0;
    struct ds_lpm_builder *b = NULL;
    if (s->lpm)
        return ds_err_set(err, -EBUSY, "scanners: table already built");
    if (s->n_items)
        qsort(s->items, s->n_items, sizeof *s->items, cmp_item);
    if ((rc = ds_lpm_builder_new(&b, err)) < 0)
        goto out;
    s->n_dups = 0;
    for (size_t i = 0; i < s->n_items; i++) {
        const struct item *it = &s->items[i];
        if (i > 0 && memcmp(&it->prefix, &s->items[i - 1].prefix, sizeof it->prefix) == 0) {
            /* compare with the first occurrence (same label so far, or we failed) */
            const struct item *first = &s->items[i - 1];
            if (first->label != it->label) {
                char p1[600], p2[600], pb[DS_PREFIX_STRLEN];
                place(s, first, p1, sizeof p1);
                place(s, it, p2, sizeof p2);
                rc = ds_err_set(err, -EINVAL,
                                "%s: prefix %s labelled '%s', but %s already labels it '%s'", p2,
                                ds_prefix_format(&it->prefix, pb), s->labels[it->label], p1,
                                s->labels[first->label]);
                goto out;
            }
            s->n_dups++;
            continue;
        }
        if ((rc = ds_lpm_builder_add(b, &it->prefix, it->label, err)) < 0)
            goto out;
    }
    s->n_prefixes = ds_lpm_builder_count(b);
    rc = ds_lpm_build(b, &s->lpm, err);
out:
    ds_lpm_builder_free(b);
    return rc;
}

bool ds_scanners_lookup(const struct ds_scanners *s, const struct ds_addr *a, uint32_t *label)
{
    return s->lpm && ds_lpm_lookup(s->lpm, a, label);
}

const char *ds_scanners_label(const struct ds_scanners *s, uint32_t label)
{
    return label < s->n_labels ? s->labels[label] : NULL;
}

size_t ds_scanners_prefix_count(const struct ds_scanners *s)
{
    return s->n_prefixes;
}
size_t ds_scanners_label_count(const struct ds_scanners *s)
{
    return s->n_labels;
}
size_t ds_scanners_duplicate_count(const struct ds_scanners *s)
{
    return s->n_dups;
}
