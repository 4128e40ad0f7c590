/* cmd_user.c - `darkscope user`: accounts of the workbench and the API (add, list, remove,
 * new token, new password), each change audited. */
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/auth.h"
#include "cli/cli.h"
#include "core/options.h"
#include "store/store.h"

static const char *const role_choices[] = {"admin", "analyst", "org", NULL};

struct user_settings {
    char *db;
    char *name;
    int role;
    char *org;
    char *password_file;
    char *label;
    char *who;
    bool help;
};

#define OPT(f) offsetof(struct user_settings, f)
static const struct ds_option user_options[] = {
    {.name = "db",
     .type = DS_OPT_STRING,
     .offset = OPT(db),
     .def = "darkscope.db",
     .metavar = "PATH",
     .help = "the store holding the accounts"},
    {.name = "name",
     .type = DS_OPT_STRING,
     .offset = OPT(name),
     .metavar = "NAME",
     .help = "the account (letters, digits, . - _ @)"},
    {.name = "role",
     .type = DS_OPT_ENUM,
     .offset = OPT(role),
     .def = "analyst",
     .choices = role_choices,
     .metavar = "admin|analyst|org",
     .help = "what the account may do (org: only its organisation's data)"},
    {.name = "org",
     .type = DS_OPT_STRING,
     .offset = OPT(org),
     .metavar = "ORG",
     .help = "the organisation of an org account"},
    {.name = "password-file",
     .type = DS_OPT_STRING,
     .offset = OPT(password_file),
     .metavar = "FILE",
     .help = "the password for logging in to the web UI: the file's first line (- = stdin)"},
    {.name = "label",
     .type = DS_OPT_STRING,
     .offset = OPT(label),
     .def = "cli",
     .metavar = "TEXT",
     .help = "token: what the new token is for"},
    {.name = "who",
     .type = DS_OPT_STRING,
     .offset = OPT(who),
     .metavar = "NAME",
     .help = "who makes the change, for the audit log (default: $USER)"},
    {.name = "help",
     .short_name = 'h',
     .type = DS_OPT_BOOL,
     .offset = OPT(help),
     .help = "show this help"},
};
#define N_OPTS (sizeof user_options / sizeof user_options[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: darkscope user add --name NAME --role admin|analyst|org [--org ORG]\n"
               "                          [--password-file FILE]\n"
               "       darkscope user list | remove NAME | token NAME | passwd NAME "
               "--password-file FILE\n\n"
               "Accounts of the web workbench and the API. `add` and `token` print an API\n"
               "token (send it as Authorization: Bearer TOKEN); only its hash is stored.\n\n");
    ds_options_help(user_options, N_OPTS, f);
}

static int read_password(const char *path, char *out, size_t cap, struct ds_err *err)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f)
        return ds_err_set(err, -errno, "--password-file %s: %s", path, strerror(errno));
    if (!fgets(out, (int)cap, f)) {
        if (f != stdin)
            fclose(f);
        return ds_err_set(err, -EINVAL, "--password-file %s: empty", path);
    }
    if (f != stdin)
        fclose(f);
    out[strcspn(out, "\r\n")] = 0;
    if (strlen(out) < 8)
        return ds_err_set(err, -EINVAL,
                          "--password-file %s: the password is shorter than 8 "
                          "characters",
                          path);
    return 0;
}

static int list(struct ds_store *st)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ds_store_db(st),
                           "SELECT u.id, u.name, u.role, IFNULL(o.name, ''), u.created,"
                           " u.pw_hash IS NOT NULL, (SELECT count(*) FROM api_token t"
                           " WHERE t.user = u.id) FROM user u LEFT JOIN org o ON o.id = u.org"
                           " ORDER BY u.id",
                           -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "darkscope user: %s\n", sqlite3_errmsg(ds_store_db(st)));
        return -1;
    }
    printf("%4s  %-20s %-8s %-20s %-21s %-8s %s\n", "id", "name", "role", "org", "created",
           "password", "tokens");
    while (sqlite3_step(q) == SQLITE_ROW)
        printf("%4lld  %-20s %-8s %-20s %-21s %-8s %d\n", sqlite3_column_int64(q, 0),
               sqlite3_column_text(q, 1), sqlite3_column_text(q, 2), sqlite3_column_text(q, 3),
               sqlite3_column_text(q, 4), sqlite3_column_int(q, 5) ? "yes" : "no",
               sqlite3_column_int(q, 6));
    sqlite3_finalize(q);
    return 0;
}

static int user_run(int argc, char **argv)
{
    struct user_settings s = {0};
    struct ds_strlist pos = {0};
    struct ds_err err = {0};
    struct ds_store *st = NULL;
    char pw[1100] = "";
    int status = DS_EXIT_USAGE;
    if (ds_options_defaults(user_options, N_OPTS, &s, &err) < 0 ||
        ds_options_parse_argv(user_options, N_OPTS, &s, argc, argv, &pos, &err) < 0) {
        fprintf(stderr, "darkscope user: %s\n", err.msg);
        usage(stderr);
        goto out;
    }
    if (s.help || pos.n == 0) {
        usage(s.help ? stdout : stderr);
        status = s.help ? DS_EXIT_OK : DS_EXIT_USAGE;
        goto out;
    }
    const char *cmd = pos.v[0];
    const char *name = pos.n > 1 ? pos.v[1] : s.name;
    const char *who = s.who ? s.who : getenv("USER") ? getenv("USER") : "cli";
    bool needs_name = strcmp(cmd, "list") != 0;
    if (strcmp(cmd, "add") && strcmp(cmd, "list") && strcmp(cmd, "remove") &&
        strcmp(cmd, "token") && strcmp(cmd, "passwd")) {
        fprintf(stderr, "darkscope user: unknown subcommand '%s'\n", cmd);
        usage(stderr);
        goto out;
    }
    if (needs_name && !name) {
        fprintf(stderr, "darkscope user %s: give the account's name (--name NAME)\n", cmd);
        goto out;
    }
    if ((s.password_file && read_password(s.password_file, pw, sizeof pw, &err) < 0) ||
        (!strcmp(cmd, "passwd") && !s.password_file &&
         ds_err_set(&err, -EINVAL, "passwd needs --password-file FILE") < 0)) {
        fprintf(stderr, "darkscope user %s: %s\n", cmd, err.msg);
        goto out;
    }
    status = DS_EXIT_FAIL;
    if (ds_store_open(&st, s.db, false, &err) < 0) {
        fprintf(stderr, "darkscope user: %s\n", err.msg);
        goto out;
    }
    char token[DS_TOKEN_HEX + 1];
    int rc = 0;
    if (!strcmp(cmd, "list")) {
        rc = list(st);
    } else if (!strcmp(cmd, "add")) {
        int64_t id;
        rc = ds_user_add(st, name, (enum ds_role)s.role, s.org, *pw ? pw : NULL, who, &id, token,
                         &err);
        if (rc == 0) {
            fprintf(stderr, "user %lld '%s' added (%s%s%s)%s; its API token:\n", (long long)id,
                    name, ds_role_names[s.role], s.org ? " of " : "", s.org ? s.org : "",
                    *pw ? ", can log in to the web UI" : "");
            printf("%s\n", token);
        }
    } else if (!strcmp(cmd, "remove")) {
        rc = ds_user_remove(st, name, who, &err);
        if (rc == 0)
            fprintf(stderr, "user '%s' removed (its tokens and sessions with it)\n", name);
    } else if (!strcmp(cmd, "token")) {
        rc = ds_user_token(st, name, s.label, who, token, &err);
        if (rc == 0)
            printf("%s\n", token);
    } else {
        rc = ds_user_set_password(st, name, pw, who, &err);
        if (rc == 0)
            fprintf(stderr, "password of '%s' changed; its sessions ended\n", name);
    }
    if (rc < 0 && err.msg[0]) {
        fprintf(stderr, "darkscope user %s: %s\n", cmd, err.msg);
        status = err.code == -EINVAL || err.code == -EEXIST || err.code == -ENOENT ? DS_EXIT_USAGE
                                                                                   : DS_EXIT_FAIL;
        goto out;
    }
    status = rc < 0 ? DS_EXIT_FAIL : DS_EXIT_OK;
out:
    memset(pw, 0, sizeof pw);
    ds_store_close(st);
    ds_strlist_free(&pos);
    ds_options_free(user_options, N_OPTS, &s);
    return status;
}

const struct ds_command ds_cmd_user = {
    .name = "user",
    .summary = "accounts of the web workbench and the API (tokens, roles)",
    .run = user_run,
};
