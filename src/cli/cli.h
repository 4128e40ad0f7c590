/* cli.h - the subcommand registry: one descriptor per `darkscope SUBCOMMAND`. */
#ifndef DS_CLI_H
#define DS_CLI_H

struct ds_command {
    const char *name;                  /* as typed after `darkscope` */
    const char *summary;               /* one line for `darkscope help` */
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand; returns the exit status */
};

extern const struct ds_command ds_cmd_analyze;
extern const struct ds_command ds_cmd_gen;
extern const struct ds_command ds_cmd_report;
extern const struct ds_command ds_cmd_org;
extern const struct ds_command ds_cmd_run;
extern const struct ds_command ds_cmd_user;
extern const struct ds_command ds_cmd_serve;
extern const struct ds_command ds_cmd_feed;

/* NULL-terminated registry, in help order. */
extern const struct ds_command *const ds_commands[];

/* Exit statuses shared by all subcommands. */
enum {
    DS_EXIT_OK = 0,
    DS_EXIT_PARTIAL = 1, /* ran, but some input was rejected or cut short (see stderr) */
    DS_EXIT_USAGE = 2,   /* bad command line or configuration */
    DS_EXIT_FAIL = 3,    /* could not run (no readable input, out of memory, ...) */
};

#endif
