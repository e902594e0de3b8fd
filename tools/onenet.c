/*
 * tools/onenet.c - the `onenet` command: operators' and testers' window
 * on a running broker.
 *
 *     onenet [global options] COMMAND [options] [arguments]
 *
 * main parses the global options that come before the command, then hands
 * the rest of the line to the command, which parses its own options and
 * the global ones again (so they may also follow the command). A command
 * is one entry in s_commands; its code lives in a cmd_<group>.c file.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static const cli_command_t *const s_commands[] = {
    &cli_cmd_ping,
    &cli_cmd_services,
    &cli_cmd_call,
    &cli_cmd_view,
    &cli_cmd_keygen,
    &cli_cmd_alerts,
    &cli_cmd_alert,
    &cli_cmd_bench,
    &cli_cmd_policy,
    &cli_cmd_audit,
    NULL,
};

static void
s_print_usage (void)
{
    printf ("usage: onenet [global options] COMMAND [options] [arguments]\n"
            "\n"
            "Calls a OneNet broker's services from the command line.\n"
            "\n"
            "commands:\n");
    for (const cli_command_t *const *command = s_commands; *command; command++)
        printf ("  %-10s  %s\n", (*command)->name, (*command)->summary);
    printf ("\n"
            "Run 'onenet COMMAND --help' for a command's options and an example.\n"
            "\n"
            "example:\n"
            "  $ onenet --broker tcp://127.0.0.1:5570 services\n");
    cli_print_global_usage ();
}

static const cli_command_t *
s_find_command (const char *name)
{
    for (const cli_command_t *const *command = s_commands; *command; command++)
        if (strcmp ((*command)->name, name) == 0)
            return *command;
    return NULL;
}

//  Parses the global options before the command ('+': stop at the first
//  operand, which is the command). Returns CLI_CONTINUE or the exit code.
static int
s_parse_globals (cli_t *cli, int argc, char **argv)
{
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, "+:h", cli_global_options (), NULL)) != -1) {
        if (opt == '?' || opt == ':')
            return cli_getopt_error (cli, opt, argv);
        if (cli_global_option (cli, opt, optarg) < 0)
            return CLI_EXIT_USAGE;
    }
    return CLI_CONTINUE;
}

//  No command: only --help and --version make sense.
static int
s_no_command (cli_t *cli)
{
    if (cli->help) {
        s_print_usage ();
        return CLI_EXIT_OK;
    }
    if (cli->version) {
        cli_print_version ();
        return CLI_EXIT_OK;
    }
    return cli_fail (cli, CLI_EXIT_USAGE, "missing command (see 'onenet --help')");
}

int
main (int argc, char **argv)
{
    cli_t cli;
    cli_init (&cli);
    int rc = s_parse_globals (&cli, argc, argv);
    if (rc != CLI_CONTINUE)
        return rc;
    if (optind >= argc)
        return s_no_command (&cli);
    const char *name = argv[optind];
    cli.command = s_find_command (name);
    if (!cli.command)
        return cli_fail (&cli, CLI_EXIT_USAGE, "%s: unknown command (see 'onenet --help')", name);
    cli_set_context (&cli, "%s", cli.command->name);
    //  the command sees its name as argv[0], as getopt expects
    return cli.command->run (&cli, argc - optind, argv + optind);
}
