/* options.h - one typed option table feeding command-line flags, config files,
 * --dump-config and --help (Redis's habit: the table is the single source of truth). */
#ifndef DS_OPTIONS_H
#define DS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

enum ds_opt_type {
    DS_OPT_BOOL,   /* bool; flag form "--name", file form "name yes|no" */
    DS_OPT_INT,    /* long, checked against [min, max] */
    DS_OPT_STRING, /* char * (owned by the struct, freed by ds_options_free) */
    DS_OPT_LIST,   /* struct ds_strlist; every occurrence appends */
    DS_OPT_ENUM,   /* int index into choices[] */
    DS_OPT_GROUP,  /* a table shared by several commands: group[] with offsets counted from
                      this entry's offset (its settings struct embedded in the command's) */
};

struct ds_strlist {
    char **v;
    size_t n;
};

struct ds_option {
    const char *name; /* long flag and config key, e.g. "darknet" */
    char short_name;  /* e.g. 'r', or 0 */
    enum ds_opt_type type;
    size_t offset;                 /* offsetof() into the settings struct */
    const char *def;               /* default as text (NULL: false / 0 / NULL / empty) */
    const char *metavar;           /* shown in --help, e.g. "CIDR" */
    const char *help;              /* one line */
    long min, max;                 /* DS_OPT_INT bounds */
    const char *const *choices;    /* DS_OPT_ENUM: NULL-terminated */
    bool cli_only;                 /* not accepted in config files, not dumped (e.g. --help) */
    const struct ds_option *group; /* DS_OPT_GROUP: the shared table and its length */
    size_t group_n;
};

/* Sets every field of obj to its default. Returns 0 or -ENOMEM/-EINVAL (bad default). */
int ds_options_defaults(const struct ds_option *tab, size_t n, void *obj, struct ds_err *err);

/*
 * Parses argv[1..argc-1]: "--name value", "--name=value", "-x value", "-xvalue", bare
 * "--flag" for booleans (and "--no-flag"). Non-option arguments are collected in
 * *positional (may be NULL: then they are an error). "--" ends options. Errors name the
 * flag and the value.
 */
int ds_options_parse_argv(const struct ds_option *tab, size_t n, void *obj, int argc, char **argv,
                          struct ds_strlist *positional, struct ds_err *err);

/*
 * What every command does: defaults, then each "--config FILE" (also "--config=FILE", and the
 * short form when the table's "config" option has one) found in argv, then argv itself, so
 * flags override the files. Errors as the functions below.
 */
int ds_options_load(const struct ds_option *tab, size_t n, void *obj, int argc, char **argv,
                    struct ds_strlist *positional, struct ds_err *err);

/* Reads "name value" / "name = value" lines ('#' comments); errors name file:line. */
int ds_options_parse_file(const struct ds_option *tab, size_t n, void *obj, const char *path,
                          struct ds_err *err);

/* Sets one option from text; `where` names the origin for error messages. */
int ds_options_set(const struct ds_option *tab, size_t n, void *obj, const char *name,
                   const char *value, const char *where, struct ds_err *err);

/* Writes the current values as a config file that ds_options_parse_file accepts. */
void ds_options_dump(const struct ds_option *tab, size_t n, const void *obj, FILE *f);

/* Writes "--name METAVAR  help (default: x)" lines. */
void ds_options_help(const struct ds_option *tab, size_t n, FILE *f);

void ds_options_free(const struct ds_option *tab, size_t n, void *obj);

int ds_strlist_push(struct ds_strlist *l, const char *s);
void ds_strlist_free(struct ds_strlist *l);

#endif
