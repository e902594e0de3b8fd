/*
 * tools/cmd_alerts.c - alerts for emergency coordinators.
 *
 * `onenet alerts` streams the alerts that match a filter, as text, JSON
 * lines or CAP XML, with the SDK's subscriber (onenet/subscriber.h): every
 * matching alert once, in order, also those published while it was not
 * running when it keeps a state file. `onenet alert publish` checks CAP
 * 1.2 documents with the SDK's codec (onenet/cap.h) and sends them to the
 * broker's onenet.alert.publish.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cli.h"
#include "onenet/adapter.h"
#include "onenet/cap.h"
#include "onenet/json.h"
#include "onenet/log.h"
#include "onenet/subscriber.h"
#include "onenet/proto/alert.pb-c.h"

#define SERVICE_PUBLISH "onenet.alert.publish"
#define MAX_WORDS 64 /* entries of one filter list */

//  --- alerts -----------------------------------------------------------

static const char s_alerts_usage[] =
    "usage: onenet alerts [--severity LIST] [--area LIST] [--category LIST]\n"
    "                     [--since ID | --last N] [--state FILE] [--alerts-endpoint EP]\n"
    "                     [--format text|json|cap] [--count N]\n"
    "\n"
    "Streams the alerts that match the filter until Ctrl-C: every one once, in\n"
    "the order the broker logged them. LISTs are comma-separated; an empty\n"
    "filter matches everything.\n"
    "\n"
    "options:\n"
    "  --severity LIST   CAP severities: Extreme, Severe, Moderate, Minor, Unknown\n"
    "  --area LIST       GB/T 2260 code prefixes: 51 (province), 5101 (city), 510104\n"
    "  --category LIST   CAP categories: Geo, Met, Safety, Security, Rescue, Fire,\n"
    "                    Health, Env, Transport, Infra, CBRNE, Other\n"
    "  --state FILE      keep the position in FILE: the next run starts after the\n"
    "                    last alert printed, so nothing published meanwhile is\n"
    "                    missed (a FILE written for another filter starts afresh).\n"
    "                    Without --state, each run starts from the oldest alert kept\n"
    "  --since ID        start after this stream ID instead (e.g. 1752261600000-0)\n"
    "  --last N          start with the newest N matching alerts instead\n"
    "  --alerts-endpoint EP  the broker's alert stream (default $ONENET_ALERTS or\n"
    "                    tcp://127.0.0.1:5571)\n"
    "  --format FORMAT   text (default): one block per alert; json: one\n"
    "                    onenet.alert.AlertEnvelope per line (as --json); cap: each\n"
    "                    alert as a CAP 1.2 XML document\n"
    "  --count N         stop after N alerts (for scripts)\n"
    "  --unacked         list the alerts nobody acknowledged or cancelled yet, then exit\n"
    "\n"
    "An alert recovered after a gap in the live stream (broker restart) may be\n"
    "printed after newer ones; \"(spooled)\" marks an alert the broker could not\n"
    "log yet (Redis down).\n"
    "\n"
    "example:\n"
    "  $ onenet alerts --severity Extreme,Severe --area 5101 --state ~/.onenet-alerts\n"
    "  == 1752261600000-0  Extreme  Immediate  暴雨洪涝\n"
    "     headline    锦江、武侯沿河低洼地带红色暴雨洪涝预警（演练）\n"
    "     sent        2026-07-12T03:20:00+08:00  (Exercise Alert, Restricted)\n"
    "     areas       锦江区、武侯区沿河低洼地带 [510104, 510107]\n"
    "     categories  Met, Infra\n"
    "     sender      duty@em.example.gov.cn  (published by emergency)\n"
    "     identifier  em.510100.2026.0001\n";

enum {
    OPT_SEVERITY = CLI_OPT_COMMAND,
    OPT_AREA,
    OPT_CATEGORY,
    OPT_SINCE,
    OPT_LAST,
    OPT_STATE,
    OPT_ALERTS_ENDPOINT,
    OPT_FORMAT,
    OPT_COUNT,
    OPT_UNACKED,
    OPT_BY,
};

typedef enum { FORMAT_TEXT, FORMAT_JSON, FORMAT_CAP } format_t;

//  One filter list, as given: each word a malloc'd copy.
typedef struct {
    char *words[MAX_WORDS];
    size_t count;
} words_t;

typedef struct {
    words_t severities, areas, categories;
    const char *since;
    unsigned long last;
    const char *state;
    const char *endpoint;
    const char *format_name; // --format as given, or NULL
    format_t format;
    unsigned long count; // 0 = no limit
    bool unacked;        // list what still needs attention, then exit
} alerts_args_t;

static const char *const s_cap_severities[] = {"Extreme", "Severe",  "Moderate",
                                               "Minor",   "Unknown", NULL};
static const char *const s_cap_categories[] = {"Geo",   "Met",    "Safety", "Security",  "Rescue",
                                               "Fire",  "Health", "Env",    "Transport", "Infra",
                                               "CBRNE", "Other",  NULL};

//  CAP's spelling of word when it is one of known in another case (people
//  type "severe"); else word itself, for the SDK's check to explain.
static const char *
s_cap_spelling (const char *word, const char *const *known)
{
    for (size_t i = 0; known && known[i]; i++)
        if (strcasecmp (word, known[i]) == 0)
            return known[i];
    return word;
}

//  Adds the comma-separated words of arg to list. Returns 0 or an exit code.
static int
s_words_add (cli_t *cli, words_t *list, const char *option, const char *arg,
             const char *const *known)
{
    for (const char *p = arg;;) {
        const char *end = p + strcspn (p, ",");
        while (p < end && *p == ' ')
            p++;
        size_t length = (size_t)(end - p);
        while (length && p[length - 1] == ' ')
            length--;
        if (length == 0)
            return cli_fail (cli, CLI_EXIT_USAGE, "--%s: empty entry in '%s'", option, arg);
        if (list->count == MAX_WORDS)
            return cli_fail (cli, CLI_EXIT_USAGE, "--%s: more than %d entries", option, MAX_WORDS);
        char *word = strndup (p, length);
        if (!word)
            return cli_fail (cli, CLI_EXIT_FAILED, "out of memory");
        const char *spelled = s_cap_spelling (word, known);
        memmove (word, spelled, strlen (spelled) + 1); // same length, other case
        list->words[list->count++] = word;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

static void
s_words_free (words_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free (list->words[i]);
    list->count = 0;
}

//  A positive decimal number. Returns 0 or the usage exit code.
static int
s_positive (cli_t *cli, const char *option, const char *arg, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long value = strtoul (arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end || errno || value == 0 || value > max)
        return cli_fail (cli, CLI_EXIT_USAGE, "--%s: expected a number from 1 to %lu, got '%s'",
                         option, max, arg);
    *out = value;
    return 0;
}

//  A stream ID as Redis writes it: MS or MS-SEQ, digits only.
static bool
s_stream_id_valid (const char *id)
{
    size_t ms = strspn (id, "0123456789");
    if (ms == 0)
        return false;
    if (id[ms] == '\0')
        return ms <= 20;
    size_t seq = id[ms] == '-' ? strspn (id + ms + 1, "0123456789") : 0;
    return seq > 0 && id[ms + 1 + seq] == '\0' && ms <= 20 && seq <= 20;
}

static int
s_format_option (cli_t *cli, alerts_args_t *args, const char *arg)
{
    static const char *const names[] = {"text", "json", "cap"};
    for (int i = 0; i < 3; i++)
        if (strcmp (arg, names[i]) == 0) {
            args->format = (format_t)i;
            args->format_name = names[i];
            return 0;
        }
    return cli_fail (cli, CLI_EXIT_USAGE, "--format: expected text, json or cap, got '%s'", arg);
}

static int
s_alerts_option (cli_t *cli, int opt, const char *arg, void *state)
{
    alerts_args_t *args = state;
    switch (opt) {
    case OPT_SEVERITY:
        return s_words_add (cli, &args->severities, "severity", arg, s_cap_severities);
    case OPT_AREA:
        return s_words_add (cli, &args->areas, "area", arg, NULL);
    case OPT_CATEGORY:
        return s_words_add (cli, &args->categories, "category", arg, s_cap_categories);
    case OPT_SINCE:
        if (!s_stream_id_valid (arg))
            return cli_fail (cli, CLI_EXIT_USAGE,
                             "--since: '%s' is not a stream ID (MS-SEQ, e.g. 1752261600000-0)",
                             arg);
        args->since = arg;
        return 0;
    case OPT_LAST:
        return s_positive (cli, "last", arg, 1000000, &args->last);
    case OPT_COUNT:
        return s_positive (cli, "count", arg, 4000000000UL, &args->count);
    case OPT_STATE:
        args->state = arg;
        return 0;
    case OPT_ALERTS_ENDPOINT:
        args->endpoint = arg;
        return 0;
    case OPT_FORMAT:
        return s_format_option (cli, args, arg);
    case OPT_UNACKED:
        args->unacked = true;
        return 0;
    default:
        return 0;
    }
}

//  Checks the options together. Returns CLI_CONTINUE or the exit code.
static int
s_alerts_check (cli_t *cli, alerts_args_t *args, const onenet_alert_filter_t *filter)
{
    if (args->since && args->last)
        return cli_fail (cli, CLI_EXIT_USAGE, "--since and --last exclude each other");
    if (cli->json && args->format_name && args->format != FORMAT_JSON)
        return cli_fail (cli, CLI_EXIT_USAGE, "--json and --format %s exclude each other",
                         args->format_name);
    if (cli->json)
        args->format = FORMAT_JSON;
    char why[256] = "";
    if (onenet_alert_filter_check (filter, why, sizeof why))
        return cli_fail (cli, CLI_EXIT_USAGE, "%s", why);
    return CLI_CONTINUE;
}

//  "暴雨 [510104, 510107]": an area's description and its geocodes (the
//  GB/T 2260 ones by their code alone).
static void
s_print_area (const Onenet__Alert__Area *area, bool first)
{
    printf ("%s%s", first ? "" : "; ", area->area_desc);
    for (size_t g = 0; g < area->n_geocode; g++) {
        const Onenet__Alert__ValuePair *code = area->geocode[g];
        bool gbt = strcmp (code->value_name, "GB/T 2260") == 0;
        printf ("%s%s%s%s%s", g ? ", " : " [", gbt ? "" : code->value_name, gbt ? "" : " ",
                code->value, g + 1 == area->n_geocode ? "]" : "");
    }
}

//  One block per alert, from its first info block (the first language).
static void
s_print_text (const Onenet__Alert__AlertEnvelope *envelope)
{
    const Onenet__Alert__Alert *alert = envelope->alert;
    const Onenet__Alert__Info *info = alert->n_info ? alert->info[0] : NULL;
    printf ("== %s  %s  %s  %s\n", *envelope->stream_id ? envelope->stream_id : "(spooled)",
            info ? info->severity : "-", info ? info->urgency : "-", info ? info->event : "-");
    if (info && *info->headline)
        printf ("   headline    %s\n", info->headline);
    printf ("   sent        %s  (%s %s, %s)\n", alert->sent, alert->status, alert->msg_type,
            alert->scope);
    if (info && info->n_area) {
        printf ("   areas       ");
        for (size_t a = 0; a < info->n_area; a++)
            s_print_area (info->area[a], a == 0);
        printf ("\n");
    }
    if (info && info->n_category) {
        printf ("   categories  ");
        for (size_t c = 0; c < info->n_category; c++)
            printf ("%s%s", c ? ", " : "", info->category[c]);
        printf ("\n");
    }
    printf ("   sender      %s", alert->sender);
    if (*envelope->published_by_department)
        printf ("  (published by %s)", envelope->published_by_department);
    printf ("\n   identifier  %s\n", alert->identifier);
}

//  Prints one alert in the chosen format. Returns CLI_EXIT_OK or the exit
//  code (output failed).
static int
s_print_alert (cli_t *cli, format_t format, const Onenet__Alert__AlertEnvelope *envelope)
{
    int rc = 0;
    if (format == FORMAT_TEXT)
        s_print_text (envelope);
    else if (format == FORMAT_JSON) {
        json_t *json = onenet_json_from_message (&envelope->base, 0);
        rc = json ? json_dumpf (json, stdout, JSON_COMPACT) : -1;
        json_decref (json);
        putchar ('\n');
    } else {
        char why[512] = "";
        char *xml = onenet_cap_format (envelope->alert, why, sizeof why);
        if (xml)
            fputs (xml, stdout);
        else
            cli_warn ("alert %s (stream ID %s) cannot be written as CAP: %s",
                      envelope->alert->identifier, envelope->stream_id, why);
        free (xml);
    }
    if (rc || fflush (stdout) || ferror (stdout))
        return cli_fail (cli, CLI_EXIT_FAILED, "cannot write output: %s", strerror (errno));
    return CLI_EXIT_OK;
}

//  Prints alerts until Ctrl-C or --count. Returns the exit code.
static int
s_alerts_stream (cli_t *cli, onenet_subscriber_t *subscriber, const alerts_args_t *args)
{
    unsigned long printed = 0;
    while (!args->count || printed < args->count) {
        Onenet__Alert__AlertEnvelope *envelope = onenet_subscriber_next (subscriber, -1);
        if (!envelope && onenet_interrupted ())
            return CLI_EXIT_OK;
        if (!envelope)
            return cli_fail (cli, CLI_EXIT_FAILED, "%s", onenet_subscriber_error (subscriber));
        int rc = s_print_alert (cli, args->format, envelope);
        onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        if (rc != CLI_EXIT_OK)
            return rc;
        printed++;
    }
    return CLI_EXIT_OK;
}

static int
s_alerts_subscribe (cli_t *cli, alerts_args_t *args, const onenet_alert_filter_t *filter)
{
    char why[512] = "";
    //  the SDK's warnings (catch-up failing, state file) are worth seeing
    onenet_log_configure (ONENET_LOG_WARN, 0, "onenet");
    onenet_subscriber_t *subscriber =
        onenet_subscriber_new (cli->broker, args->endpoint, filter, args->state, why, sizeof why);
    if (!subscriber)
        return cli_fail (cli, CLI_EXIT_CLIENT, "cannot subscribe: %s", why);
    int rc = CLI_EXIT_OK;
    if (args->since && onenet_subscriber_start_after (subscriber, args->since) < 0)
        rc = cli_fail (cli, CLI_EXIT_USAGE, "--since: '%s' is not a stream ID", args->since);
    if (args->last)
        onenet_subscriber_start_last (subscriber, (uint32_t)args->last);
    onenet_signals_catch ();
    if (rc == CLI_EXIT_OK)
        rc = s_alerts_stream (cli, subscriber, args);
    onenet_subscriber_destroy (&subscriber); // saves the state file
    return rc;
}

//  --unacked: the alerts nobody acknowledged or cancelled yet, oldest
//  first, from onenet.alert.unacked; then exits.
static int
s_alerts_unacked (cli_t *cli, const alerts_args_t *args, const onenet_alert_filter_t *filter)
{
    Onenet__Alert__AlertFilter request = ONENET__ALERT__ALERT_FILTER__INIT;
    request.severities = (char **)filter->severities;
    request.n_severities = filter->n_severities;
    request.area_prefixes = (char **)filter->areas;
    request.n_area_prefixes = filter->n_areas;
    request.categories = (char **)filter->categories;
    request.n_categories = filter->n_categories;
    onenet_client_t *client = cli_client_new (cli);
    if (!client)
        return CLI_EXIT_CLIENT;
    ProtobufCMessage *reply = NULL;
    int rc = cli_call_unpack (cli, client, "onenet.alert.unacked", &request.base,
                              &onenet__alert__alert_batch__descriptor, &reply, NULL);
    onenet_client_destroy (&client);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Onenet__Alert__AlertBatch *batch = (const Onenet__Alert__AlertBatch *)reply;
    for (size_t i = 0; i < batch->n_alerts && rc == CLI_EXIT_OK; i++)
        rc = s_print_alert (cli, args->format, batch->alerts[i]);
    if (rc == CLI_EXIT_OK && args->format == FORMAT_TEXT)
        printf ("%zu alert%s waiting for acknowledgement\n", batch->n_alerts,
                batch->n_alerts == 1 ? "" : "s");
    protobuf_c_message_free_unpacked (reply, NULL);
    return rc;
}

static int
s_alerts_run (cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"severity", required_argument, NULL, OPT_SEVERITY},
        {"area", required_argument, NULL, OPT_AREA},
        {"category", required_argument, NULL, OPT_CATEGORY},
        {"since", required_argument, NULL, OPT_SINCE},
        {"last", required_argument, NULL, OPT_LAST},
        {"state", required_argument, NULL, OPT_STATE},
        {"alerts-endpoint", required_argument, NULL, OPT_ALERTS_ENDPOINT},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"count", required_argument, NULL, OPT_COUNT},
        {"unacked", no_argument, NULL, OPT_UNACKED},
        {NULL, 0, NULL, 0},
    };
    alerts_args_t args;
    memset (&args, 0, sizeof args);
    int rc = cli_parse (cli, argc, argv, options, s_alerts_option, &args);
    if (rc == CLI_CONTINUE)
        rc = cli_expect_args (cli, 0, 0);
    onenet_alert_filter_t filter = {
        (const char *const *)args.severities.words, args.severities.count,
        (const char *const *)args.areas.words,      args.areas.count,
        (const char *const *)args.categories.words, args.categories.count};
    if (rc == CLI_CONTINUE)
        rc = s_alerts_check (cli, &args, &filter);
    if (rc == CLI_CONTINUE && args.unacked)
        rc = s_alerts_unacked (cli, &args, &filter);
    else if (rc == CLI_CONTINUE)
        rc = s_alerts_subscribe (cli, &args, &filter);
    s_words_free (&args.severities);
    s_words_free (&args.areas);
    s_words_free (&args.categories);
    return rc;
}

const cli_command_t cli_cmd_alerts = {
    .name = "alerts",
    .summary = "stream the alerts that match a filter, also those missed",
    .usage = s_alerts_usage,
    .run = s_alerts_run,
};

//  --- alert publish ----------------------------------------------------

static const char s_alert_usage[] =
    "usage: onenet alert publish FILE.xml [FILE...]\n"
    "       onenet alert ack IDENTIFIER [--by NAME]\n"
    "       onenet alert state IDENTIFIER\n"
    "\n"
    "ack records that NAME (with the department of this connection) has seen\n"
    "the alert; subscribers are told, and it no longer escalates or shows in\n"
    "'onenet alerts --unacked'. state shows the alert with its updates and\n"
    "cancellation, acknowledgements and escalation.\n"
    "\n"
    "Publishes CAP 1.2 alerts. Every FILE ('-' reads stdin) is read and checked\n"
    "first (an error names the line and the element), then each is sent to the\n"
    "broker's onenet.alert.publish, which logs it and passes it on to\n"
    "subscribers (onenet alerts). Prints its stream ID, or \"spooled\" when the\n"
    "broker could not log it yet (Redis down) and keeps it until it can. Stops at\n"
    "the first alert the broker refuses.\n"
    "\n"
    "An identifier published before is not sent again: its first stream ID is\n"
    "printed with \"(published before: not sent again)\".\n"
    "\n"
    "With --json, prints one {\"file\", \"identifier\", \"stream_id\", \"spooled\",\n"
    "\"duplicate\"} per line.\n"
    "\n"
    "example:\n"
    "  $ onenet alert publish flood.xml\n"
    "  published em.510100.2026.0001 as 1752261600000-0\n"
    "  $ onenet alert ack em.510100.2026.0001 --by \"duty officer Li\"\n"
    "  acknowledged em.510100.2026.0001 by anonymous/duty officer Li\n";

//  Reads all of a file ("-": stdin), up to the CAP size limit and one byte
//  more so that the codec refuses a larger one. Returns CLI_EXIT_OK with
//  a malloc'd copy in *text_p, or the exit code.
static int
s_read_file (cli_t *cli, const char *path, char **text_p, size_t *size_p)
{
    bool std = strcmp (path, "-") == 0;
    FILE *file = std ? stdin : fopen (path, "rb");
    size_t capacity = 64 * 1024, size = 0;
    char *text = file ? malloc (capacity) : NULL;
    while (text && !feof (file) && !ferror (file) && size <= ONENET_CAP_MAX_SIZE) {
        if (size == capacity) {
            char *bigger = realloc (text, capacity * 2);
            if (!bigger)
                break;
            text = bigger;
            capacity *= 2;
        }
        size += fread (text + size, 1, capacity - size, file);
    }
    int saved = errno;
    bool ok = text && file && !ferror (file) && (feof (file) || size > ONENET_CAP_MAX_SIZE);
    if (file && !std)
        fclose (file);
    if (!ok) {
        free (text);
        return cli_fail (cli, CLI_EXIT_USAGE, "cannot read %s: %s", std ? "stdin" : path,
                         file ? strerror (saved) : strerror (errno));
    }
    *text_p = text;
    *size_p = size;
    return CLI_EXIT_OK;
}

//  Reads and checks one CAP document. Returns CLI_EXIT_OK with the alert
//  in *alert_p (the caller frees it), or the exit code.
static int
s_parse_file (cli_t *cli, const char *path, Onenet__Alert__Alert **alert_p)
{
    char *text = NULL;
    size_t size = 0;
    int rc = s_read_file (cli, path, &text, &size);
    if (rc != CLI_EXIT_OK)
        return rc;
    char why[512] = "";
    *alert_p = onenet_cap_parse (text, size, why, sizeof why);
    free (text);
    if (!*alert_p)
        return cli_fail (cli, CLI_EXIT_USAGE, "%s: %s", path, why);
    return CLI_EXIT_OK;
}

static int
s_print_published (cli_t *cli, const char *path, const Onenet__Alert__Alert *alert,
                   const Onenet__Alert__PublishReply *reply)
{
    if (cli->json) {
        json_t *json = json_pack ("{s:s, s:s, s:s, s:b, s:b}", "file", path, "identifier",
                                  alert->identifier, "stream_id", reply->stream_id, "spooled",
                                  reply->spooled, "duplicate", reply->duplicate);
        int rc = json ? json_dumpf (json, stdout, JSON_COMPACT) : -1;
        json_decref (json);
        return rc || putchar ('\n') == EOF || fflush (stdout)
                   ? cli_fail (cli, CLI_EXIT_FAILED, "cannot write output")
                   : CLI_EXIT_OK;
    }
    if (reply->spooled || !*reply->stream_id)
        printf ("published %s spooled (the broker logs it when Redis is back)\n",
                alert->identifier);
    else
        printf ("published %s as %s%s\n", alert->identifier, reply->stream_id,
                reply->duplicate ? " (published before: not sent again)" : "");
    return fflush (stdout) ? cli_fail (cli, CLI_EXIT_FAILED, "cannot write output") : CLI_EXIT_OK;
}

static int
s_publish_one (cli_t *cli, onenet_client_t *client, const char *path,
               const Onenet__Alert__Alert *alert)
{
    cli_set_context (cli, "alert publish %s", path);
    ProtobufCMessage *reply = NULL;
    int rc = cli_call_unpack (cli, client, SERVICE_PUBLISH, &alert->base,
                              &onenet__alert__publish_reply__descriptor, &reply, NULL);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = s_print_published (cli, path, alert, (const Onenet__Alert__PublishReply *)reply);
    protobuf_c_message_free_unpacked (reply, NULL);
    return rc;
}

static int
s_publish (cli_t *cli, char **paths, int count)
{
    Onenet__Alert__Alert **alerts = calloc ((size_t)count, sizeof *alerts);
    if (!alerts)
        return cli_fail (cli, CLI_EXIT_FAILED, "out of memory");
    int rc = CLI_EXIT_OK;
    for (int i = 0; i < count && rc == CLI_EXIT_OK; i++)
        rc = s_parse_file (cli, paths[i], &alerts[i]);
    onenet_client_t *client = rc == CLI_EXIT_OK ? cli_client_new (cli) : NULL;
    if (rc == CLI_EXIT_OK && !client)
        rc = CLI_EXIT_CLIENT;
    for (int i = 0; i < count && rc == CLI_EXIT_OK; i++)
        rc = s_publish_one (cli, client, paths[i], alerts[i]);
    onenet_client_destroy (&client);
    for (int i = 0; i < count; i++)
        if (alerts[i])
            onenet__alert__alert__free_unpacked (alerts[i], NULL);
    free (alerts);
    return rc;
}

//  onenet alert ack ID --by NAME
static int
s_ack (cli_t *cli, const char *identifier, const char *by)
{
    cli_set_context (cli, "alert ack %s", identifier);
    Onenet__Alert__Ack request = ONENET__ALERT__ACK__INIT;
    request.identifier = (char *)identifier;
    request.by = (char *)(by ? by : "");
    onenet_client_t *client = cli_client_new (cli);
    if (!client)
        return CLI_EXIT_CLIENT;
    ProtobufCMessage *reply = NULL;
    int rc = cli_call_unpack (cli, client, "onenet.alert.ack", &request.base,
                              &onenet__alert__ack__descriptor, &reply, NULL);
    onenet_client_destroy (&client);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Onenet__Alert__Ack *ack = (const Onenet__Alert__Ack *)reply;
    if (cli->json)
        rc = cli_print_json (cli, onenet_json_from_message (reply, 0));
    else
        printf ("acknowledged %s by %s\n", ack->identifier, ack->by);
    protobuf_c_message_free_unpacked (reply, NULL);
    return rc;
}

//  onenet alert state ID
static int
s_state (cli_t *cli, const char *identifier)
{
    cli_set_context (cli, "alert state %s", identifier);
    Onenet__Alert__StateRequest request = ONENET__ALERT__STATE_REQUEST__INIT;
    request.identifier = (char *)identifier;
    onenet_client_t *client = cli_client_new (cli);
    if (!client)
        return CLI_EXIT_CLIENT;
    ProtobufCMessage *reply = NULL;
    int rc = cli_call_unpack (cli, client, "onenet.alert.state", &request.base,
                              &onenet__alert__alert_state__descriptor, &reply, NULL);
    onenet_client_destroy (&client);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Onenet__Alert__AlertState *state = (const Onenet__Alert__AlertState *)reply;
    if (cli->json)
        rc = cli_print_json (cli, onenet_json_from_message (reply, 0));
    else {
        rc = s_print_alert (cli, FORMAT_TEXT, state->alert);
        for (size_t i = 0; i < state->n_updates && rc == CLI_EXIT_OK; i++) {
            printf ("-- followed by:\n");
            rc = s_print_alert (cli, FORMAT_TEXT, state->updates[i]);
        }
        printf ("state: %s%s, %zu acknowledgement%s\n", state->cancelled ? "cancelled" : "open",
                state->escalated ? ", escalated" : "", state->n_acks, state->n_acks == 1 ? "" : "s");
        for (size_t i = 0; i < state->n_acks; i++)
            printf ("  acknowledged by %s\n", state->acks[i]->by);
    }
    protobuf_c_message_free_unpacked (reply, NULL);
    return rc;
}

static int
s_alert_option (cli_t *cli, int opt, const char *arg, void *state)
{
    (void)cli;
    if (opt == OPT_BY)
        *(const char **)state = arg;
    return 0;
}

static int
s_alert_run (cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"by", required_argument, NULL, OPT_BY},
        {NULL, 0, NULL, 0},
    };
    const char *by = NULL;
    int rc = cli_parse (cli, argc, argv, options, s_alert_option, &by);
    const char *sub = cli->nargs ? cli->args[0] : "";
    if (rc == CLI_CONTINUE && strcmp (sub, "publish") != 0 && strcmp (sub, "ack") != 0 &&
        strcmp (sub, "state") != 0)
        return cli_fail (cli, CLI_EXIT_USAGE, "'%s': unknown subcommand (see 'onenet alert --help')",
                         sub);
    cli_set_context (cli, "alert %s", sub);
    if (rc == CLI_CONTINUE)
        rc = strcmp (sub, "publish") == 0 ? cli_expect_args (cli, 2, 100000)
                                          : cli_expect_args (cli, 2, 2);
    if (rc != CLI_CONTINUE)
        return rc;
    if (strcmp (sub, "ack") == 0)
        return s_ack (cli, cli->args[1], by);
    if (strcmp (sub, "state") == 0)
        return s_state (cli, cli->args[1]);
    return s_publish (cli, cli->args + 1, cli->nargs - 1);
}

const cli_command_t cli_cmd_alert = {
    .name = "alert",
    .summary = "publish CAP 1.2 alerts, acknowledge them, show their state",
    .usage = s_alert_usage,
    .run = s_alert_run,
};
