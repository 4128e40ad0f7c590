/* registry.c - the table of subcommands dispatched by main(). */
#include "cli/cli.h"

#include <stddef.h>

const struct ds_command *const ds_commands[] = {
    &ds_cmd_run, &ds_cmd_serve, &ds_cmd_analyze, &ds_cmd_report, &ds_cmd_feed,
    &ds_cmd_org, &ds_cmd_user,  &ds_cmd_gen,     NULL,
};
