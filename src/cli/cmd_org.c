/* cmd_org.c - `darkscope org`: the DAEDALUS registry of organisations, ranges and contacts. */
#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert/registry.h"
#include "cli/cli.h"
#include "cli/render.h"
#include "feed/digest.h"
#include "core/log.h"
#include "core/options.h"
#include "store/store.h"

static const char *const format_names[] = {"table", "csv", "json", NULL};
static const char *const lang_names[] = {"en", "ja", NULL};
#define FEED_SUBS_MAX 8 /* --feed options of one org add */

struct org_settings {
    char *db;
    char *name;
    struct ds_strlist livenet, darknet, email, webhook, webhook_secret, syslog, file;
    int lang;
    char *channels;
    long renotify, group_wait, group_interval, repeat_interval;
    bool allow_overlap;
    bool analysts;
    struct ds_strlist feed;
    char *who;
    int format;
    char *config;
    bool help;
};

#define OPT(f) offsetof(struct org_settings, f)
static const struct ds_option org_options[] = {
    {.name = "db",
     .type = DS_OPT_STRING,
     .offset = OPT(db),
     .def = "darkscope.db",
     .metavar = "PATH",
     .help = "the store holding the registry"},
    {.name = "name",
     .type = DS_OPT_STRING,
     .offset = OPT(name),
     .metavar = "NAME",
     .help = "the organisation",
     .cli_only = true},
    {.name = "livenet",
     .type = DS_OPT_LIST,
     .offset = OPT(livenet),
     .metavar = "CIDR",
     .help = "an address range the organisation uses",
     .cli_only = true},
    {.name = "darknet",
     .type = DS_OPT_LIST,
     .offset = OPT(darknet),
     .metavar = "CIDR",
     .help = "an unused range of its own that a sensor watches",
     .cli_only = true},
    {.name = "email",
     .type = DS_OPT_LIST,
     .offset = OPT(email),
     .metavar = "ADDR",
     .help = "an e-mail contact",
     .cli_only = true},
    {.name = "webhook",
     .type = DS_OPT_LIST,
     .offset = OPT(webhook),
     .metavar = "URL",
     .help = "a webhook contact",
     .cli_only = true},
    {.name = "webhook-secret",
     .type = DS_OPT_LIST,
     .offset = OPT(webhook_secret),
     .metavar = "SECRET",
     .help = "the HMAC key of the webhook given in the same position",
     .cli_only = true},
    {.name = "syslog",
     .type = DS_OPT_LIST,
     .offset = OPT(syslog),
     .metavar = "udp://H:P",
     .help = "a syslog contact, udp:// or tcp://",
     .cli_only = true},
    {.name = "file",
     .type = DS_OPT_LIST,
     .offset = OPT(file),
     .metavar = "PATH",
     .help = "a JSON-lines file contact",
     .cli_only = true},
    {.name = "lang",
     .type = DS_OPT_ENUM,
     .offset = OPT(lang),
     .def = "en",
     .choices = lang_names,
     .metavar = "en|ja",
     .help = "language of the texts it receives",
     .cli_only = true},
    {.name = "channels",
     .type = DS_OPT_STRING,
     .offset = OPT(channels),
     .metavar = "LIST",
     .help = "channels to use, e.g. smtp,webhook (default: all with a contact)",
     .cli_only = true},
    {.name = "renotify",
     .type = DS_OPT_INT,
     .offset = OPT(renotify),
     .def = "0",
     .min = 0,
     .max = LONG_MAX,
     .metavar = "SECONDS",
     .help = "do not notify the same host again within this window (0: the daemon's default)",
     .cli_only = true},
    {.name = "group-wait",
     .type = DS_OPT_INT,
     .offset = OPT(group_wait),
     .def = "0",
     .min = 0,
     .max = LONG_MAX,
     .metavar = "SECONDS",
     .help = "digest: wait before the first (0: default)",
     .cli_only = true},
    {.name = "group-interval",
     .type = DS_OPT_INT,
     .offset = OPT(group_interval),
     .def = "0",
     .min = 0,
     .max = LONG_MAX,
     .metavar = "SECONDS",
     .help = "digest: at most one per this interval with changes (0: default)",
     .cli_only = true},
    {.name = "repeat-interval",
     .type = DS_OPT_INT,
     .offset = OPT(repeat_interval),
     .def = "0",
     .min = 0,
     .max = LONG_MAX,
     .metavar = "SECONDS",
     .help = "digest: repeat unchanged alerts after (0: default)",
     .cli_only = true},
    {.name = "allow-overlap",
     .type = DS_OPT_BOOL,
     .offset = OPT(allow_overlap),
     .help = "accept a livenet range that overlaps another organisation's",
     .cli_only = true},
    {.name = "analysts",
     .type = DS_OPT_BOOL,
     .offset = OPT(analysts),
     .help = "the analysts' organisation: receives the outbreak alerts (needs no --livenet)",
     .cli_only = true},
    {.name = "feed",
     .type = DS_OPT_LIST,
     .offset = OPT(feed),
     .metavar = "KIND:FORMAT",
     .help = "a daily feed digest to receive, e.g. infected:csv or dos:json",
     .cli_only = true},
    {.name = "who",
     .type = DS_OPT_STRING,
     .offset = OPT(who),
     .metavar = "NAME",
     .help = "who makes the change, for the audit log (default: $USER)",
     .cli_only = true},
    {.name = "format",
     .type = DS_OPT_ENUM,
     .offset = OPT(format),
     .def = "table",
     .choices = format_names,
     .metavar = "table|csv|json",
     .help = "list/show: output format"},
    {.name = "config",
     .type = DS_OPT_STRING,
     .offset = OPT(config),
     .metavar = "FILE",
     .help = "read settings (db) from FILE",
     .cli_only = true},
    {.name = "help",
     .short_name = 'h',
     .type = DS_OPT_BOOL,
     .offset = OPT(help),
     .help = "show this help",
     .cli_only = true},
};
#define N_OPTS (sizeof org_options / sizeof org_options[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: darkscope org add --name NAME --livenet CIDR [--darknet CIDR] [--email ADDR]\n"
            "                        [--webhook URL --webhook-secret SECRET] [--syslog udp://H:P]\n"
            "                        [--file PATH] [--lang en|ja] ...      (options repeatable)\n"
            "       darkscope org list | show NAME | remove NAME\n"
            "       darkscope org range add|remove NAME livenet|darknet CIDR\n"
            "       darkscope org contact add|remove NAME smtp|webhook|syslog|file ADDRESS "
            "[SECRET]\n"
            "       darkscope org feed add|remove NAME KIND[:FORMAT]   (daily digests)\n"
            "       darkscope org add --name SOC --analysts --email ADDR   (outbreak alerts)\n"
            "       darkscope org audit\n\n"
            "The registry of organisations whose addresses are watched (DAEDALUS). Every change\n"
            "is written to the audit log with who made it.\n\n");
    ds_options_help(org_options, N_OPTS, f);
}

static json_t *org_json(const struct ds_org *o)
{
    json_t *j = json_object(), *ln = json_array(), *dn = json_array(), *cs = json_array();
    char b[DS_PREFIX_STRLEN];
    for (size_t i = 0; i < o->n_livenet; i++)
        json_array_append_new(ln, json_string(ds_prefix_format(&o->livenet[i], b)));
    for (size_t i = 0; i < o->n_darknet; i++)
        json_array_append_new(dn, json_string(ds_prefix_format(&o->darknet[i], b)));
    for (size_t i = 0; i < o->n_contacts; i++)
        json_array_append_new(cs, json_pack("{s:s, s:s, s:b}", "channel", o->contacts[i].channel,
                                            "address", o->contacts[i].address, "signed",
                                            o->contacts[i].secret != NULL));
    json_object_set_new(j, "id", json_integer(o->id));
    json_object_set_new(j, "name", json_string(o->name));
    json_object_set_new(j, "lang", json_string(o->lang));
    json_object_set_new(j, "channels", json_string(o->channels));
    json_object_set_new(j, "livenet", ln);
    json_object_set_new(j, "darknet", dn);
    json_object_set_new(j, "contacts", cs);
    return j;
}

static int list_orgs(struct ds_store *st, const struct org_settings *s, const char *only,
                     struct ds_err *err)
{
    struct ds_registry *r;
    int rc = ds_registry_load(st, &r, err);
    if (rc < 0)
        return rc;
    json_t *out = json_array();
    for (size_t i = 0; i < r->n_orgs; i++)
        if (!only || strcmp(r->orgs[i].name, only) == 0)
            json_array_append_new(out, org_json(&r->orgs[i]));
    ds_registry_free(r);
    if (only && json_array_size(out) == 0) {
        json_decref(out);
        return ds_err_set(err, -ENOENT, "no organisation named '%s'", only);
    }
    json_t *v = only ? json_incref(json_array_get(out, 0)) : json_incref(out);
    json_decref(out);
    rc = ds_render(stdout, (enum ds_format)s->format, v, "contacts");
    json_decref(v);
    return rc;
}

static int show_audit(struct ds_store *st, const struct org_settings *s, struct ds_err *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ds_store_db(st),
                           "SELECT at, who, what, object, detail FROM audit ORDER BY id", -1, &q,
                           NULL) != SQLITE_OK)
        return ds_err_set(err, -EIO, "reading the audit log");
    json_t *a = json_array();
    while (sqlite3_step(q) == SQLITE_ROW)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "at",
                                           (const char *)sqlite3_column_text(q, 0), "who",
                                           (const char *)sqlite3_column_text(q, 1), "what",
                                           (const char *)sqlite3_column_text(q, 2), "object",
                                           (const char *)sqlite3_column_text(q, 3), "detail",
                                           (const char *)sqlite3_column_text(q, 4)));
    sqlite3_finalize(q);
    int rc = ds_render(stdout, (enum ds_format)s->format, a, NULL);
    json_decref(a);
    return rc;
}

static int org_run(int argc, char **argv)
{
    struct org_settings s = {0};
    struct ds_strlist pos = {0};
    struct ds_err err = {0};
    struct ds_store *st = NULL;
    int status = DS_EXIT_USAGE;
    if (ds_options_defaults(org_options, N_OPTS, &s, &err) < 0)
        goto bad;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--config") && i + 1 < argc &&
            ds_options_parse_file(org_options, N_OPTS, &s, argv[i + 1], &err) < 0)
            goto bad;
    if (ds_options_parse_argv(org_options, N_OPTS, &s, argc, argv, &pos, &err) < 0) {
        fprintf(stderr, "darkscope org: %s\n", err.msg);
        usage(stderr);
        goto done;
    }
    if (s.help || pos.n == 0) {
        usage(s.help ? stdout : stderr);
        status = s.help ? DS_EXIT_OK : DS_EXIT_USAGE;
        goto done;
    }
    const char *who = s.who ? s.who : getenv("USER") ? getenv("USER") : "cli";
    const char *cmd = pos.v[0];
    bool known = !strcmp(cmd, "add") || !strcmp(cmd, "list") || !strcmp(cmd, "show") ||
                 !strcmp(cmd, "remove") || !strcmp(cmd, "range") || !strcmp(cmd, "contact") ||
                 !strcmp(cmd, "audit") || !strcmp(cmd, "feed");
    if (!known) {
        fprintf(stderr, "darkscope org: unknown subcommand '%s'\n", cmd);
        usage(stderr);
        goto done;
    }
    status = DS_EXIT_FAIL;
    if (ds_store_open(&st, s.db, false, &err) < 0)
        goto bad;
    int rc = 0;
    if (!strcmp(cmd, "add")) {
        if (s.webhook_secret.n && s.webhook_secret.n != s.webhook.n) {
            fprintf(stderr,
                    "darkscope org add: give one --webhook-secret per --webhook (%zu "
                    "webhooks, %zu secrets)\n",
                    s.webhook.n, s.webhook_secret.n);
            status = DS_EXIT_USAGE;
            goto done;
        }
        struct ds_org_spec sp = {
            .name = s.name,
            .lang = lang_names[s.lang],
            .channels = s.channels,
            .livenet = (const char *const *)s.livenet.v,
            .n_livenet = s.livenet.n,
            .darknet = (const char *const *)s.darknet.v,
            .n_darknet = s.darknet.n,
            .emails = (const char *const *)s.email.v,
            .n_emails = s.email.n,
            .webhooks = (const char *const *)s.webhook.v,
            .webhook_secrets = s.webhook_secret.n ? (const char *const *)s.webhook_secret.v : NULL,
            .n_webhooks = s.webhook.n,
            .syslogs = (const char *const *)s.syslog.v,
            .n_syslogs = s.syslog.n,
            .files = (const char *const *)s.file.v,
            .n_files = s.file.n,
            .renotify_s = s.renotify,
            .group_wait_s = s.group_wait,
            .group_interval_s = s.group_interval,
            .repeat_interval_s = s.repeat_interval,
            .allow_overlap = s.allow_overlap,
            .analysts = s.analysts,
        };
        char kinds[FEED_SUBS_MAX][16], fmts[FEED_SUBS_MAX][16];
        if (s.feed.n > FEED_SUBS_MAX) {
            fprintf(stderr, "darkscope org add: at most %d --feed\n", FEED_SUBS_MAX);
            status = DS_EXIT_USAGE;
            goto done;
        }
        for (size_t i = 0; i < s.feed.n; i++)
            if (ds_feed_sub_parse(s.feed.v[i], kinds[i], 16, fmts[i], 16, &err) < 0) {
                fprintf(stderr, "darkscope org add: %s\n", err.msg);
                status = DS_EXIT_USAGE;
                goto done;
            }
        int64_t id;
        rc = ds_registry_add_org(st, &sp, who, &id, &err);
        for (size_t i = 0; rc == 0 && i < s.feed.n; i++)
            rc = ds_feed_subscribe(st, s.name, kinds[i], fmts[i], false, who, &err);
        if (rc == 0)
            printf("organisation %" PRId64 " '%s' added: %zu livenet, %zu darknet ranges, %zu "
                   "contacts\n",
                   id, s.name, s.livenet.n, s.darknet.n,
                   s.email.n + s.webhook.n + s.syslog.n + s.file.n);
    } else if (!strcmp(cmd, "list")) {
        rc = list_orgs(st, &s, NULL, &err);
    } else if (!strcmp(cmd, "show") || !strcmp(cmd, "remove")) {
        if (pos.n != 2) {
            fprintf(stderr, "darkscope org %s: give the organisation's name\n", cmd);
            status = DS_EXIT_USAGE;
            goto done;
        }
        rc = !strcmp(cmd, "show") ? list_orgs(st, &s, pos.v[1], &err)
                                  : ds_registry_remove_org(st, pos.v[1], who, &err);
    } else if (!strcmp(cmd, "range")) {
        if (pos.n != 5 || (strcmp(pos.v[1], "add") && strcmp(pos.v[1], "remove"))) {
            fprintf(stderr, "darkscope org range: add|remove NAME livenet|darknet CIDR\n");
            status = DS_EXIT_USAGE;
            goto done;
        }
        rc = ds_registry_range(st, pos.v[2], pos.v[3], pos.v[4], !strcmp(pos.v[1], "remove"),
                               s.allow_overlap, who, &err);
    } else if (!strcmp(cmd, "contact")) {
        if (pos.n < 5 || pos.n > 6 || (strcmp(pos.v[1], "add") && strcmp(pos.v[1], "remove"))) {
            fprintf(stderr, "darkscope org contact: add|remove NAME CHANNEL ADDRESS [SECRET]\n");
            status = DS_EXIT_USAGE;
            goto done;
        }
        rc = ds_registry_contact(st, pos.v[2], pos.v[3], pos.v[4], pos.n == 6 ? pos.v[5] : NULL,
                                 !strcmp(pos.v[1], "remove"), who, &err);
    } else if (!strcmp(cmd, "feed")) {
        char kind[16], fmt[16];
        if (pos.n != 4 || (strcmp(pos.v[1], "add") && strcmp(pos.v[1], "remove"))) {
            fprintf(stderr, "darkscope org feed: add|remove NAME KIND[:FORMAT]\n");
            status = DS_EXIT_USAGE;
            goto done;
        }
        if ((rc = ds_feed_sub_parse(pos.v[3], kind, sizeof kind, fmt, sizeof fmt, &err)) == 0)
            rc = ds_feed_subscribe(st, pos.v[2], kind, fmt, !strcmp(pos.v[1], "remove"), who, &err);
    } else {
        rc = show_audit(st, &s, &err);
    }
    if (rc < 0) {
        status = rc == -EINVAL || rc == -EEXIST || rc == -ENOENT ? DS_EXIT_USAGE : DS_EXIT_FAIL;
        fprintf(stderr, "darkscope org %s: %s\n", cmd, err.msg);
        goto done;
    }
    status = DS_EXIT_OK;
    goto done;
bad:
    fprintf(stderr, "darkscope org: %s\n", err.msg);
done:
    ds_store_close(st);
    ds_strlist_free(&pos);
    ds_options_free(org_options, N_OPTS, &s);
    return status;
}

const struct ds_command ds_cmd_org = {
    .name = "org",
    .summary = "the registry of organisations, their ranges and contacts (DAEDALUS)",
    .run = org_run,
};
