/* main.c - `darkscope SUBCOMMAND ...`: dispatch to the subcommand registry. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: darkscope COMMAND [OPTIONS]\n\ncommands:\n");
    for (const struct ds_command *const *c = ds_commands; *c; c++)
        fprintf(f, "  %-10s %s\n", (*c)->name, (*c)->summary);
    fprintf(f, "\n`darkscope COMMAND --help` describes each command; see also darkscope(1).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DS_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return DS_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("darkscope %s\n", DS_VERSION);
        return DS_EXIT_OK;
    }
    for (const struct ds_command *const *c = ds_commands; *c; c++)
        if (!strcmp(argv[1], (*c)->name))
            return (*c)->run(argc - 1, argv + 1);
    fprintf(stderr, "darkscope: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return DS_EXIT_USAGE;
}
