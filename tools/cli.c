/*
 * tools/cli.c - helpers every `onenet` command shares: option parsing,
 * the client, one-line failure reports, JSON output and --data input.
 *
 * Keeping these here means a command file only says what is particular
 * to its command, and all commands fail and print the same way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "onenet/wire.h"
#include "cli.h"

#ifndef ONENET_VERSION
#define ONENET_VERSION "unknown"
#endif

/* Room for the global options plus any one command's, and the terminator. */
#define CLI_MAX_OPTIONS 32
/* --data beyond this is surely a mistake (the broker's frame limit is lower). */
#define CLI_MAX_DATA (64u * 1024 * 1024)
/* A day: longer is a typo, and keeps the value well inside uint32_t. */
#define CLI_MAX_TIMEOUT_MS 86400000UL

enum {
    CLI_OPT_BROKER = 0x100,
    CLI_OPT_TIMEOUT,
    CLI_OPT_JSON,
    CLI_OPT_VERSION,
    CLI_OPT_KEY,
    CLI_OPT_BROKER_KEY,
};

static const struct option s_global_options[] = {
    {"broker", required_argument, NULL, CLI_OPT_BROKER},
    {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},
    {"json", no_argument, NULL, CLI_OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, CLI_OPT_VERSION},
    {"key", required_argument, NULL, CLI_OPT_KEY},
    {"broker-key", required_argument, NULL, CLI_OPT_BROKER_KEY},
    {NULL, 0, NULL, 0},
};

void
cli_init (cli_t *cli)
{
    memset (cli, 0, sizeof *cli);
    cli->broker = onenet_default_endpoint ();
    cli->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
}

const struct option *
cli_global_options (void)
{
    return s_global_options;
}

static int
s_parse_timeout (cli_t *cli, const char *arg)
{
    char *end = NULL;
    errno = 0;
    unsigned long value = strtoul (arg, &end, 10);
    //  strtoul accepts signs and spaces; a timeout is plain digits
    if (arg[0] < '0' || arg[0] > '9' || *end || errno || value == 0 || value > CLI_MAX_TIMEOUT_MS) {
        cli_fail (cli, CLI_EXIT_USAGE, "--timeout: expected milliseconds from 1 to %lu, got '%s'",
                  CLI_MAX_TIMEOUT_MS, arg);
        return -1;
    }
    cli->timeout_ms = (uint32_t)value;
    return 1;
}

int
cli_global_option (cli_t *cli, int opt, const char *arg)
{
    switch (opt) {
    case CLI_OPT_BROKER:
        cli->broker = arg;
        return 1;
    case CLI_OPT_TIMEOUT:
        return s_parse_timeout (cli, arg);
    case CLI_OPT_JSON:
        cli->json = true;
        return 1;
    case 'h':
        cli->help = true;
        return 1;
    case CLI_OPT_VERSION:
        cli->version = true;
        return 1;
    //  The SDK reads the CURVE identity from the environment, so every
    //  connection this process makes (calls, subscriptions) uses it.
    case CLI_OPT_KEY:
        setenv ("ONENET_KEY", arg, 1);
        return 1;
    case CLI_OPT_BROKER_KEY:
        setenv ("ONENET_BROKER_KEY", arg, 1);
        return 1;
    default:
        return 0;
    }
}

int
cli_getopt_error (cli_t *cli, int opt, char **argv)
{
    //  optind has moved past the offending word; optopt names a short option
    const char *word = argv[optind - 1];
    char see[128];
    snprintf (see, sizeof see, "see 'onenet %s%s--help'", cli->command ? cli->command->name : "",
              cli->command ? " " : "");
    if (opt == ':')
        return cli_fail (cli, CLI_EXIT_USAGE, "option '%s' needs a value (%s)", word, see);
    if (optopt > ' ' && optopt < 0x7f)
        return cli_fail (cli, CLI_EXIT_USAGE, "unknown option '-%c' (%s)", optopt, see);
    return cli_fail (cli, CLI_EXIT_USAGE, "unknown or malformed option '%s' (%s)", word, see);
}

//  Builds one getopt_long table of the global options and the command's.
static int
s_merge_options (struct option *table, const struct option *options)
{
    size_t count = 0;
    for (const struct option *o = s_global_options; o->name; o++)
        table[count++] = *o;
    for (const struct option *o = options; o && o->name; o++) {
        if (count + 1 >= CLI_MAX_OPTIONS)
            return -1;
        table[count++] = *o;
    }
    memset (&table[count], 0, sizeof table[count]);
    return 0;
}

static int
s_parse_one (cli_t *cli, int opt, char **argv, cli_option_fn *on_option, void *state)
{
    if (opt == '?' || opt == ':')
        return cli_getopt_error (cli, opt, argv);
    int global = cli_global_option (cli, opt, optarg);
    if (global < 0)
        return CLI_EXIT_USAGE;
    if (global > 0 || !on_option)
        return CLI_CONTINUE;
    int rc = on_option (cli, opt, optarg, state);
    return rc ? rc : CLI_CONTINUE;
}

int
cli_parse (cli_t *cli, int argc, char **argv, const struct option *options,
           cli_option_fn *on_option, void *state)
{
    struct option table[CLI_MAX_OPTIONS];
    if (s_merge_options (table, options))
        return cli_fail (cli, CLI_EXIT_USAGE, "too many options (internal)");
    //  optind 0 makes glibc start afresh; GNU getopt permutes, so options
    //  and operands may come in any order
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, ":h", table, NULL)) != -1) {
        int rc = s_parse_one (cli, opt, argv, on_option, state);
        if (rc != CLI_CONTINUE)
            return rc;
    }
    if (cli->help) {
        cli_print_usage (cli);
        return CLI_EXIT_OK;
    }
    if (cli->version) {
        cli_print_version ();
        return CLI_EXIT_OK;
    }
    cli->args = argv + optind;
    cli->nargs = argc - optind;
    return CLI_CONTINUE;
}

int
cli_expect_args (cli_t *cli, int min, int max)
{
    if (cli->nargs < min)
        return cli_fail (cli, CLI_EXIT_USAGE, "missing argument (see 'onenet %s --help')",
                         cli->command->name);
    if (cli->nargs > max)
        return cli_fail (cli, CLI_EXIT_USAGE, "unexpected argument '%s' (see 'onenet %s --help')",
                         cli->args[max], cli->command->name);
    return CLI_CONTINUE;
}

void
cli_set_context (cli_t *cli, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (cli->context, sizeof cli->context, format, args);
    va_end (args);
}

int
cli_fail (cli_t *cli, int code, const char *format, ...)
{
    char reason[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    //  one line, always: a reason from the wire could hold newlines
    for (char *c = reason; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    fflush (stdout);
    if (cli->context[0])
        fprintf (stderr, "onenet: %s: %s\n", cli->context, reason);
    else
        fprintf (stderr, "onenet: %s\n", reason);
    return code;
}

void
cli_warn (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fflush (stdout);
    fputs ("warning: ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
}

void
cli_print_version (void)
{
    printf ("onenet %s (protocol %d, schema %d)\n", ONENET_VERSION, ONENET_PROTOCOL_VERSION,
            ONENET_SCHEMA_VERSION);
}

void
cli_print_global_usage (void)
{
    printf ("\nglobal options (before or after the command):\n"
            "  --broker ENDPOINT  broker to call (default $ONENET_BROKER or tcp://127.0.0.1:5570)\n"
            "  --timeout MS       deadline of each call, milliseconds (default %d)\n"
            "  --json             machine-readable JSON on stdout\n"
            "  --key FILE         this department's CURVE key pair (default $ONENET_KEY)\n"
            "  --broker-key KEY   the broker's public key or .pub file ($ONENET_BROKER_KEY)\n"
            "  --help             show this help\n"
            "  --version          show the version\n"
            "\nexit status: 0 success; 1 the broker answered with an error or did not\n"
            "answer; 2 bad option, argument or input; 3 invalid endpoint.\n",
            CLI_DEFAULT_TIMEOUT_MS);
}

void
cli_print_usage (const cli_t *cli)
{
    fputs (cli->command->usage, stdout);
    cli_print_global_usage ();
}

onenet_client_t *
cli_client_new (cli_t *cli)
{
    char err[256] = "";
    onenet_client_t *client = onenet_client_new (cli->broker, err, sizeof err);
    if (!client) {
        if (err[0])
            cli_fail (cli, CLI_EXIT_CLIENT, "cannot create client: %s", err);
        else
            cli_fail (cli, CLI_EXIT_CLIENT, "cannot create client for '%s'", cli->broker);
        return NULL;
    }
    onenet_client_set_default_timeout (client, cli->timeout_ms);
    return client;
}

onenet_call_options_t
cli_call_options (const cli_t *cli)
{
    onenet_call_options_t options;
    memset (&options, 0, sizeof options);
    options.timeout_ms = cli->timeout_ms;
    options.purpose = cli->purpose;
    return options;
}

int
cli_reply_check (cli_t *cli, const onenet_reply_t *reply)
{
    if (!reply)
        return cli_fail (cli, CLI_EXIT_FAILED, "out of memory");
    onenet_status_t status = onenet_reply_status (reply);
    if (status == ONENET_OK)
        return CLI_EXIT_OK;
    const char *message = onenet_reply_message (reply);
    return cli_fail (cli, CLI_EXIT_FAILED, "%s%s%s", onenet_status_name (status),
                     *message ? ": " : "", message);
}

int
cli_call_unpack (cli_t *cli, onenet_client_t *client, const char *service,
                 const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                 ProtobufCMessage **reply_p, double *rtt_ms)
{
    onenet_call_options_t options = cli_call_options (cli);
    double start = cli_now_ms ();
    onenet_reply_t *reply = onenet_client_call_message (client, service, request, &options);
    if (rtt_ms)
        *rtt_ms = cli_now_ms () - start;
    int rc = cli_reply_check (cli, reply);
    if (rc == CLI_EXIT_OK) {
        *reply_p = onenet_reply_unpack (reply, reply_type);
        if (!*reply_p)
            rc = cli_fail (cli, CLI_EXIT_FAILED, "%s replied with a body that is not a %s", service,
                           reply_type->name);
    }
    onenet_reply_destroy (&reply);
    return rc;
}

int
cli_print_json (cli_t *cli, json_t *value)
{
    if (!value)
        return cli_fail (cli, CLI_EXIT_FAILED, "out of memory");
    int rc = json_dumpf (value, stdout, JSON_INDENT (2) | JSON_REAL_PRECISION (6));
    json_decref (value);
    if (rc || putchar ('\n') == EOF || fflush (stdout))
        return cli_fail (cli, CLI_EXIT_FAILED, "cannot write output: %s", strerror (errno));
    return CLI_EXIT_OK;
}

//  Reads all of stream into a NUL-terminated buffer. Returns 0, or -1 with
//  errno set (EFBIG beyond CLI_MAX_DATA).
static int
s_read_stream (FILE *stream, char **text_p, size_t *size_p)
{
    size_t size = 0, capacity = 4096;
    char *text = malloc (capacity);
    while (text) {
        size += fread (text + size, 1, capacity - size - 1, stream);
        if (ferror (stream) || feof (stream))
            break;
        if (capacity >= CLI_MAX_DATA) {
            errno = EFBIG;
            break;
        }
        char *bigger = realloc (text, capacity * 2);
        if (!bigger)
            break;
        text = bigger;
        capacity *= 2;
    }
    if (!text || !feof (stream)) {
        free (text);
        return -1;
    }
    text[size] = '\0';
    *text_p = text;
    *size_p = size;
    return 0;
}

int
cli_read_data (cli_t *cli, const char *arg, char **text_p, size_t *size_p)
{
    if (strcmp (arg, "-") == 0) {
        if (s_read_stream (stdin, text_p, size_p))
            return cli_fail (cli, CLI_EXIT_USAGE, "cannot read --data from stdin: %s",
                             strerror (errno));
        return CLI_EXIT_OK;
    }
    if (arg[0] == '@') {
        FILE *file = fopen (arg + 1, "rb");
        int rc = file ? s_read_stream (file, text_p, size_p) : -1;
        int saved = errno;
        if (file)
            fclose (file);
        if (rc)
            return cli_fail (cli, CLI_EXIT_USAGE, "cannot read --data file '%s': %s", arg + 1,
                             strerror (saved));
        return CLI_EXIT_OK;
    }
    *text_p = strdup (arg);
    *size_p = strlen (arg);
    return *text_p ? CLI_EXIT_OK : cli_fail (cli, CLI_EXIT_FAILED, "out of memory");
}

json_t *
cli_base64_json (const void *data, size_t size)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = data;
    char *out = malloc ((size + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < size; i += 3) {
        uint32_t chunk = (uint32_t)in[i] << 16;
        if (i + 1 < size)
            chunk |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < size)
            chunk |= in[i + 2];
        out[o++] = alphabet[(chunk >> 18) & 63];
        out[o++] = alphabet[(chunk >> 12) & 63];
        out[o++] = i + 1 < size ? alphabet[(chunk >> 6) & 63] : '=';
        out[o++] = i + 2 < size ? alphabet[chunk & 63] : '=';
    }
    out[o] = '\0';
    json_t *value = json_string (out);
    free (out);
    return value;
}

const char *
cli_format_duration (uint64_t ms, char *buffer, size_t size)
{
    uint64_t s = ms / 1000;
    if (ms < 1000)
        snprintf (buffer, size, "%llu ms", (unsigned long long)ms);
    else if (s < 120)
        snprintf (buffer, size, "%llu s", (unsigned long long)s);
    else if (s < 2 * 3600)
        snprintf (buffer, size, "%llu min", (unsigned long long)(s / 60));
    else if (s < 2 * 86400)
        snprintf (buffer, size, "%llu h", (unsigned long long)(s / 3600));
    else
        snprintf (buffer, size, "%llu d", (unsigned long long)(s / 86400));
    return buffer;
}

double
cli_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1000.0 + (double)now.tv_nsec / 1e6;
}
