/*
 * tools/cmd_keygen.c - `onenet keygen NAME`: a CURVE key pair for a
 * department (or the broker), and the config line that lets it in.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "onenet/security.h"

enum { OPT_DIR = CLI_OPT_COMMAND };

static const char s_keygen_usage[] =
    "usage: onenet keygen NAME [--dir DIR]\n"
    "\n"
    "Writes a CURVE key pair: DIR/NAME.key (public and secret key, mode 0600,\n"
    "to keep on NAME's host only) and DIR/NAME.pub (the public key, to give to\n"
    "the broker's operator). Never replaces an existing NAME.key. Prints the\n"
    "line to add to the broker's curve.clients list.\n"
    "\n"
    "options:\n"
    "  --dir DIR   where to write the files (default: the current directory)\n"
    "\n"
    "example:\n"
    "  $ onenet keygen social_security --dir /etc/onenet/keys\n"
    "  wrote /etc/onenet/keys/social_security.key (secret, 0600) and .pub\n"
    "  add to the broker's config, in curve.clients:\n"
    "    { department = \"social_security\"; public_key = \"...\"; }\n";

static int
s_on_option (cli_t *cli, int opt, const char *arg, void *state)
{
    (void) cli;
    if (opt == OPT_DIR)
        *(const char **) state = arg;
    return 0;
}

static int
s_keygen_run (cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "dir", required_argument, NULL, OPT_DIR },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = ".";
    int rc = cli_parse (cli, argc, argv, options, s_on_option, &dir);
    if (rc == CLI_CONTINUE)
        rc = cli_expect_args (cli, 1, 1);
    if (rc != CLI_CONTINUE)
        return rc;
    const char *name = cli->args[0];
    if (!*name || strspn (name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen (name))
        return cli_fail (cli, CLI_EXIT_USAGE, "NAME must be [a-z0-9_-]+, like a department: '%s'", name);
    onenet_keypair_t pair;
    if (onenet_keypair_generate (&pair) < 0)
        return cli_fail (cli, CLI_EXIT_FAILED, "libzmq was built without CURVE");
    char err[512];
    if (onenet_keypair_save (&pair, dir, name, err, sizeof err) < 0)
        return cli_fail (cli, CLI_EXIT_FAILED, "%s", err);
    if (cli->json) {
        json_t *out = json_pack ("{s:s, s:s, s:s}", "name", name, "public_key", pair.public_key,
                                 "dir", dir);
        return cli_print_json (cli, out);
    }
    printf ("wrote %s/%s.key (secret, 0600) and %s/%s.pub\n", dir, name, dir, name);
    printf ("add to the broker's config, in curve.clients:\n");
    printf ("    { department = \"%s\"; public_key = \"%s\"; }\n", name, pair.public_key);
    return CLI_EXIT_OK;
}

const cli_command_t cli_cmd_keygen = {
    .name = "keygen",
    .summary = "write a CURVE key pair for a department or the broker",
    .usage = s_keygen_usage,
    .run = s_keygen_run,
};
