/*
 * tools/cmd_audit.c - the audit log of cross-department exchanges.
 *
 * `onenet audit verify` walks the broker's local audit file and checks
 * its hash chain with the SDK's verifier (onenet/audit.h): no broker is
 * needed, and a broken chain names its first broken line. `onenet audit
 * query` asks the broker's onenet.audit.query who exchanged what, about
 * whom, when and for what purpose, following the reply's cursor until
 * every matching entry is printed.
 */
#define _GNU_SOURCE   /* strptime */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "onenet/audit.h"
#include "onenet/resident_id.h"
#include "onenet/proto/audit.pb-c.h"

#define SERVICE_QUERY "onenet.audit.query"
#define DEFAULT_FILE "onenet-audit.log"
#define PAGE_SIZE 1000
#define MAX_PAGES 1000000 /* a broker whose cursor never ends would loop forever */

static const char s_audit_usage[] =
    "usage: onenet audit verify [--file PATH]...\n"
    "       onenet audit query [--person ID] [--department NAME] [--since TIME]\n"
    "\n"
    "Every exchange between departments that the broker carries is recorded in a\n"
    "hash chain: each entry holds the SHA-256 of the one before, so an edited,\n"
    "deleted or reordered entry breaks the chain where it happened.\n"
    "\n"
    "verify   checks the broker's local audit file (no broker needed). Exit status\n"
    "         0 when the whole chain holds, 1 naming its first broken line:\n"
    "         edited (hash mismatch), deleted or reordered (sequence), replaced\n"
    "         (not chained to the entry before), unreadable, or incomplete.\n"
    "         Entries cut off the end leave no trace in the chain: keep the last\n"
    "         sequence and hash it prints somewhere else to check that too.\n"
    "  --file PATH        the audit file (default " DEFAULT_FILE ", the broker's\n"
    "                     audit.file). Several, oldest first, are checked as one\n"
    "                     chain: the files the broker went on in after each was\n"
    "                     moved away (SIGHUP)\n"
    "\n"
    "query    asks the broker who exchanged what, when, and for what purpose,\n"
    "         oldest first. Filters combine.\n"
    "  --person ID        exchanges about this resident\n"
    "  --department NAME  exchanges this department asked for\n"
    "  --since TIME       from this time: a date or time in UTC (2026-07-01,\n"
    "                     2026-07-01T08:00:00Z), or a span back from now (90m,\n"
    "                     24h, 7d)\n"
    "\n"
    "With --json, verify prints its report and query prints {\"entries\": [...]},\n"
    "each entry as a line of the audit file.\n"
    "\n"
    "examples:\n"
    "  $ onenet audit verify --file /var/lib/onenet/audit.log\n"
    "  onenet: audit verify: line 42 (sequence 42): edited: hash mismatch\n"
    "  $ onenet audit verify --file audit-2026-12-01.log --file audit.log\n"
    "  $ onenet audit query --person 510104199003071234 --since 30d\n"
    "  2026-07-12T10:00:01.123Z  social_security/wang  ps.person.get  purpose \"pension\"\n"
    "      -> OK in 1.8 ms, answered by public_security/i1  (request #42)\n";

enum {
    OPT_FILE = CLI_OPT_COMMAND,
    OPT_PERSON,
    OPT_DEPARTMENT,
    OPT_SINCE,
};

#define MAX_FILES 256

typedef struct {
    const char *file;
    const char *files[MAX_FILES]; /* every --file, in order */
    size_t file_count;
    const char *person;
    const char *department;
    const char *since;
    int64_t since_ms;
} audit_options_t;

static int
s_on_option (cli_t *cli, int opt, const char *arg, void *state)
{
    audit_options_t *options = state;
    switch (opt) {
    case OPT_FILE:
        if (options->file_count == MAX_FILES)
            return cli_fail (cli, CLI_EXIT_USAGE, "--file: at most %d files", MAX_FILES);
        options->file = arg;
        options->files[options->file_count++] = arg;
        break;
    case OPT_PERSON: options->person = arg; break;
    case OPT_DEPARTMENT: options->department = arg; break;
    case OPT_SINCE: options->since = arg; break;
    }
    return 0;
}

/* Parses --since: "2026-07-01", "2026-07-01T08:00[:00][Z]" (UTC) or a span
 * back from now "90s", "90m", "24h", "7d". Returns 0 with Unix ms, or -1. */
static int
s_parse_since (const char *text, int64_t *ms)
{
    char *end = NULL;
    errno = 0;
    long long span = strtoll (text, &end, 10);
    if (end != text && *text >= '0' && *text <= '9' && end[0] && !end[1] && !errno && span >= 0) {
        int64_t unit = end[0] == 's' ? 1000 : end[0] == 'm' ? 60000 : end[0] == 'h' ? 3600000
                     : end[0] == 'd' ? 86400000 : 0;
        if (unit == 0 || span > INT64_MAX / unit / 2)
            return -1;
        struct timespec now;
        clock_gettime (CLOCK_REALTIME, &now);
        *ms = (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000 - span * unit;
        return 0;
    }
    static const char *const formats[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d" };
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        struct tm tm;
        memset (&tm, 0, sizeof tm);
        const char *rest = strptime (text, formats[i], &tm);
        if (rest && (!*rest || (rest[0] == 'Z' && !rest[1]))) {
            time_t seconds = timegm (&tm);
            if (seconds == (time_t) -1)
                return -1;
            *ms = (int64_t) seconds * 1000;
            return 0;
        }
    }
    return -1;
}

/* --- verify --- */

static int
s_verify (cli_t *cli, const audit_options_t *options)
{
    cli_set_context (cli, "audit verify");
    const char *fallback = DEFAULT_FILE;
    const char *const *files = options->file_count ? options->files : &fallback;
    size_t count = options->file_count ? options->file_count : 1;
    onenet_audit_report_t report;
    char err[512], hash[2 * ONENET_AUDIT_HASH_SIZE + 1];
    const char *path = files[0];
    bool intact = true;
    uint64_t before = 0; /* entries of the files before path */
    /* One chain across the files: each goes on from the one before. */
    for (size_t i = 0; i < count && intact; i++) {
        path = files[i];
        before = i ? report.entries : 0;
        int rc = i ? onenet_audit_verify_next (path, &report, err, sizeof err)
                   : onenet_audit_verify_file (path, &report, err, sizeof err);
        if (rc < 0)
            return cli_fail (cli, CLI_EXIT_FAILED, "%s", err);
        intact = report.problem == ONENET_AUDIT_INTACT;
        onenet_audit_hex (report.last_hash, sizeof report.last_hash, hash);
        if (intact && !cli->json)
            printf ("%s: intact, %" PRIu64 " entries (last sequence %" PRIu64 ", hash %s)\n",
                    path, report.entries - before, report.last_sequence, hash);
    }
    if (cli->json) {
        json_t *json = json_pack ("{s:s, s:b, s:I, s:I, s:s}", "file", path, "intact", intact,
                                  "entries", (json_int_t) report.entries, "last_sequence",
                                  (json_int_t) report.last_sequence, "last_hash", hash);
        json_t *list = count > 1 ? json_array () : NULL;
        for (size_t i = 0; list && i < count; i++)
            json_array_append_new (list, json_string (files[i]));
        if (json && list)
            json_object_set_new (json, "files", list);
        if (json && !intact) {
            json_object_set_new (json, "problem",
                                 json_string (onenet_audit_problem_name (report.problem)));
            json_object_set_new (json, "line", json_integer ((json_int_t) report.line));
            json_object_set_new (json, "sequence", json_integer ((json_int_t) report.sequence));
            json_object_set_new (json, "detail", json_string (report.detail));
        }
        int rc = cli_print_json (cli, json);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    else if (!intact)
        printf ("%s: %" PRIu64 " entries intact before line %" PRIu64 "\n", path,
                report.entries - before, report.line);
    if (intact)
        return fflush (stdout) ? cli_fail (cli, CLI_EXIT_FAILED, "cannot write output")
                               : CLI_EXIT_OK;
    char where[64] = "";
    if (report.sequence)
        snprintf (where, sizeof where, " (sequence %" PRIu64 ")", report.sequence);
    char file[300] = "";
    if (count > 1) /* which of the files */
        snprintf (file, sizeof file, "%s: ", path);
    return cli_fail (cli, CLI_EXIT_FAILED, "%sline %" PRIu64 "%s: %s: %s", file, report.line, where,
                     onenet_audit_problem_name (report.problem), report.detail);
}

/* --- query --- */

static void
s_format_time (int64_t ms, char *out, size_t size)
{
    time_t seconds = (time_t) (ms / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    size_t n = strftime (out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (out + n, size - n, ".%03dZ", (int) (ms % 1000));
}

static void
s_print_entry (const Onenet__Audit__Entry *entry, bool show_subject)
{
    char when[48];
    s_format_time (entry->time_ms, when, sizeof when);
    printf ("%s  %s%s%s  %s", when, entry->requester, *entry->user ? "/" : "", entry->user,
            entry->service);
    if (show_subject && *entry->subject)
        printf ("  subject %s", entry->subject);
    if (*entry->purpose)
        printf ("  purpose \"%s\"", entry->purpose);
    else
        printf ("  (no purpose given)");
    printf ("\n      -> %s in %.1f ms, %s%s  (%s #%" PRIu64 ")\n", entry->outcome,
            (double) entry->latency_us / 1000.0, *entry->answered_by ? "answered by " : "",
            *entry->answered_by ? entry->answered_by : "nobody answered", entry->kind,
            entry->sequence);
}

static int
s_query (cli_t *cli, const audit_options_t *options)
{
    cli_set_context (cli, "audit query");
    char why[128];
    if (options->person && !onenet_resident_id_valid (options->person, why, sizeof why))
        return cli_fail (cli, CLI_EXIT_USAGE, "--person: %s", why);
    int64_t since_ms = 0;
    if (options->since && s_parse_since (options->since, &since_ms) < 0)
        return cli_fail (cli, CLI_EXIT_USAGE,
                         "--since: expected a UTC date or time (2026-07-01, "
                         "2026-07-01T08:00:00Z) or a span (90m, 24h, 7d), got '%s'",
                         options->since);
    json_t *entries = cli->json ? json_array () : NULL;
    if (cli->json && !entries)
        return cli_fail (cli, CLI_EXIT_FAILED, "out of memory");
    onenet_client_t *client = cli_client_new (cli);
    if (!client) {
        json_decref (entries);
        return CLI_EXIT_CLIENT;
    }
    Onenet__Audit__QueryRequest request = ONENET__AUDIT__QUERY_REQUEST__INIT;
    request.person = (char *) (options->person ? options->person : "");
    request.department = (char *) (options->department ? options->department : "");
    request.since_ms = since_ms;
    request.limit = PAGE_SIZE;
    char cursor[64] = "";
    uint64_t count = 0;
    int rc = CLI_EXIT_OK;
    for (int page = 0; page < MAX_PAGES && rc == CLI_EXIT_OK; page++) {
        request.after = cursor;
        ProtobufCMessage *message = NULL;
        rc = cli_call_unpack (cli, client, SERVICE_QUERY, &request.base,
                              &onenet__audit__query_reply__descriptor, &message, NULL);
        if (rc != CLI_EXIT_OK)
            break;
        const Onenet__Audit__QueryReply *reply = (const Onenet__Audit__QueryReply *) message;
        for (size_t i = 0; i < reply->n_entries; i++, count++)
            if (entries)
                json_array_append_new (entries, onenet_audit_entry_json (reply->entries[i]));
            else
                s_print_entry (reply->entries[i], !options->person);
        /* Go on while there is more and the cursor moves. */
        bool more = reply->more && *reply->cursor && strcmp (reply->cursor, cursor) != 0
                    && strlen (reply->cursor) < sizeof cursor;
        if (more)
            snprintf (cursor, sizeof cursor, "%s", reply->cursor);
        protobuf_c_message_free_unpacked (message, NULL);
        if (!more)
            break;
    }
    onenet_client_destroy (&client);
    if (rc != CLI_EXIT_OK) {
        json_decref (entries);
        return rc;
    }
    if (entries)
        return cli_print_json (cli, json_pack ("{s:o}", "entries", entries));
    if (count == 0)
        printf ("no exchange recorded matches\n");
    else
        printf ("%" PRIu64 " exchange%s\n", count, count == 1 ? "" : "s");
    return fflush (stdout) ? cli_fail (cli, CLI_EXIT_FAILED, "cannot write output") : CLI_EXIT_OK;
}

static int
s_audit_run (cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "file", required_argument, NULL, OPT_FILE },
        { "person", required_argument, NULL, OPT_PERSON },
        { "department", required_argument, NULL, OPT_DEPARTMENT },
        { "since", required_argument, NULL, OPT_SINCE },
        { NULL, 0, NULL, 0 },
    };
    audit_options_t state;
    memset (&state, 0, sizeof state);
    int rc = cli_parse (cli, argc, argv, options, s_on_option, &state);
    if (rc == CLI_CONTINUE)
        rc = cli_expect_args (cli, 1, 1);
    if (rc != CLI_CONTINUE)
        return rc;
    const char *subcommand = cli->args[0];
    if (strcmp (subcommand, "verify") == 0) {
        if (state.person || state.department || state.since)
            return cli_fail (cli, CLI_EXIT_USAGE,
                             "verify checks the whole file: --person, --department and --since "
                             "are for query");
        return s_verify (cli, &state);
    }
    if (strcmp (subcommand, "query") == 0) {
        if (state.file)
            return cli_fail (cli, CLI_EXIT_USAGE, "query asks the broker: --file is for verify");
        return s_query (cli, &state);
    }
    return cli_fail (cli, CLI_EXIT_USAGE, "%s: unknown subcommand (see 'onenet audit --help')",
                     subcommand);
}

const cli_command_t cli_cmd_audit = {
    .name = "audit",
    .summary = "verify the audit log's chain; query who exchanged whose data, when, why",
    .usage = s_audit_usage,
    .run = s_audit_run,
};
