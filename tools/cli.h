/*
 * tools/cli.h - what the `onenet` command's files share.
 *
 * onenet.c owns main, the global options and the table of commands; each
 * cmd_*.c file defines a group of commands as cli_command_t values and
 * builds on the helpers below, so that every command parses options,
 * connects, reports failures and prints JSON the same way.
 *
 * Every failure is reported as ONE line on stderr,
 * "onenet: <context>: <reason>", and the command returns one of the
 * CLI_EXIT_* codes, which main passes to exit.
 */
#ifndef ONENET_CLI_H
#define ONENET_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include "onenet/client.h"

/* Exit codes, part of the tool's interface for scripts. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1 /* the broker answered non-OK, or did not answer */
#define CLI_EXIT_USAGE 2  /* bad option, argument or input */
#define CLI_EXIT_CLIENT 3 /* invalid endpoint, client not created */

/* Returned by cli_parse when the command should go on (any other value
 * is the exit code to stop with, e.g. after --help). */
#define CLI_CONTINUE (-1)

/* Option values: global options use 0x100.., commands from CLI_OPT_COMMAND. */
#define CLI_OPT_COMMAND 0x200

#define CLI_DEFAULT_TIMEOUT_MS 5000

typedef struct cli_t cli_t;

/* One subcommand. usage is printed by --help: synopsis, what it does, an
 * example; the global options are appended by cli_print_usage. */
typedef struct {
    const char *name;
    const char *summary; /* one line, for `onenet --help` */
    const char *usage;
    int (*run) (cli_t *cli, int argc, char **argv);
} cli_command_t;

/* The parsed global options and the command being run. */
struct cli_t {
    const char *broker;           /* endpoint to connect to */
    uint32_t timeout_ms;          /* deadline of each call */
    const char *purpose;          /* why the data is asked for (a command's --purpose), or NULL */
    bool json;                    /* machine-readable output */
    bool help;                    /* --help seen */
    bool version;                 /* --version seen */
    const cli_command_t *command; /* NULL before dispatch */
    char context[256];            /* "ping", "call ps.person.get": error prefix */
    char **args;                  /* operands left by cli_parse */
    int nargs;
};

/* Handles one of a command's own options (opt is its option's val). Returns
 * 0, or an exit code after reporting the problem with cli_fail. */
typedef int (cli_option_fn) (cli_t *cli, int opt, const char *arg, void *state);

/* Sets the defaults of the global options. */
void cli_init (cli_t *cli);

/* The global options as a getopt_long table (terminated by a zero entry). */
const struct option *cli_global_options (void);

/* Applies one global option. Returns 1 if opt is one, 0 if it is not,
 * or -1 after reporting a bad value. */
int cli_global_option (cli_t *cli, int opt, const char *arg);

/* Reports a getopt error (opt '?' or ':') as a usage error; returns
 * CLI_EXIT_USAGE. */
int cli_getopt_error (cli_t *cli, int opt, char **argv);

/* Parses a command's argv (argv[0] is the command name) with the global
 * options plus options, which may be NULL. Options and operands may come
 * in any order; operands are left in cli->args / cli->nargs. Handles
 * --help and --version. Returns CLI_CONTINUE, or the exit code to stop
 * with. */
int cli_parse (cli_t *cli, int argc, char **argv, const struct option *options,
               cli_option_fn *on_option, void *state);

/* Checks the operand count is within [min, max]; reports a usage error
 * and returns CLI_EXIT_USAGE if not, else CLI_CONTINUE. */
int cli_expect_args (cli_t *cli, int min, int max);

/* Sets the error prefix, printf-style (e.g. "call %s"). */
void cli_set_context (cli_t *cli, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

/* Prints "onenet: <context>: <reason>" on stderr; returns code. */
int cli_fail (cli_t *cli, int code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Prints a warning line ("warning: ...") on stderr. */
void cli_warn (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

/* Prints the current command's usage, then the global options, on stdout. */
void cli_print_usage (const cli_t *cli);

/* Prints "onenet <version> (protocol N, schema N)" on stdout. */
void cli_print_version (void);

/* Prints the paragraph on the global options on stdout. */
void cli_print_global_usage (void);

/* Creates a client for --broker with --timeout as its default. Returns
 * NULL after reporting why (exit with CLI_EXIT_CLIENT). The caller
 * destroys the client. */
onenet_client_t *cli_client_new (cli_t *cli);

/* Call options from the global ones (timeout). */
onenet_call_options_t cli_call_options (const cli_t *cli);

/* Returns CLI_EXIT_OK when the reply is OK; else reports
 * "<STATUS>: <message>" and returns CLI_EXIT_FAILED. A NULL reply (out of
 * memory) is a failure too. */
int cli_reply_check (cli_t *cli, const onenet_reply_t *reply);

/* Calls service with request and unpacks the reply body as reply_type.
 * On success returns CLI_EXIT_OK with the message in *reply_p (the caller
 * frees it with protobuf_c_message_free_unpacked) and the round trip in
 * *rtt_ms if not NULL; otherwise reports and returns the exit code. */
int cli_call_unpack (cli_t *cli, onenet_client_t *client, const char *service,
                     const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                     ProtobufCMessage **reply_p, double *rtt_ms);

/* Prints value on stdout as indented JSON and consumes the reference.
 * Returns CLI_EXIT_OK, or CLI_EXIT_FAILED (out of memory, write error). */
int cli_print_json (cli_t *cli, json_t *value);

/* Reads a --data argument: literal text, "-" for stdin, "@FILE" for a
 * file. Returns CLI_EXIT_OK with a malloc'd, NUL-terminated copy in
 * *text_p (the caller frees it) and its length in *size_p; otherwise
 * reports and returns CLI_EXIT_USAGE. */
int cli_read_data (cli_t *cli, const char *arg, char **text_p, size_t *size_p);

/* Returns a new JSON string with data in base64; NULL when out of memory. */
json_t *cli_base64_json (const void *data, size_t size);

/* Formats a duration for people ("420 ms", "12 s", "5 min", "3 h",
 * "2 d") into buffer; returns buffer. */
const char *cli_format_duration (uint64_t ms, char *buffer, size_t size);

/* Milliseconds of a monotonic clock with sub-millisecond precision. */
double cli_now_ms (void);

/* The commands of cmd_core.c. */
extern const cli_command_t cli_cmd_ping;
extern const cli_command_t cli_cmd_services;
extern const cli_command_t cli_cmd_call;

/* cmd_keygen.c */
extern const cli_command_t cli_cmd_keygen;

/* cmd_view.c */
extern const cli_command_t cli_cmd_view;
extern const cli_command_t cli_cmd_alerts; /* cmd_alerts.c */
extern const cli_command_t cli_cmd_alert;  /* cmd_alerts.c */
extern const cli_command_t cli_cmd_bench; /* cmd_bench.c */
extern const cli_command_t cli_cmd_policy; /* cmd_policy.c */
extern const cli_command_t cli_cmd_audit;  /* cmd_audit.c */

#endif
