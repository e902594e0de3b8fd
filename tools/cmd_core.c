/*
 * tools/cmd_core.c - the core commands: ping, services, call.
 *
 * ping and services call the broker's built-in management services and
 * print their replies; call sends any service a request written as JSON,
 * using the types the broker lists for the service (onenet.services) and
 * the schema compiled into libonenet to convert JSON to and from protobuf.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onenet/json.h"
#include "onenet/proto/onenet.pb-c.h"
#include "cli.h"

#define SERVICE_PING "onenet.ping"
#define SERVICE_SERVICES "onenet.services"

//  Prints the unpacked reply of a built-in service.
typedef int (builtin_print_fn) (cli_t *cli, const ProtobufCMessage *reply, double rtt_ms);

//  Parses a command that takes up to max_args operands and no options of
//  its own. Returns CLI_CONTINUE or the exit code.
static int
s_parse_simple (cli_t *cli, int argc, char **argv, int max_args)
{
    int rc = cli_parse (cli, argc, argv, NULL, NULL, NULL);
    return rc == CLI_CONTINUE ? cli_expect_args (cli, 0, max_args) : rc;
}

//  Calls one of the broker's built-in services and hands the reply to print.
static int
s_call_builtin (cli_t *cli, const char *service, const ProtobufCMessage *request,
                const ProtobufCMessageDescriptor *reply_type, builtin_print_fn *print)
{
    onenet_client_t *client = cli_client_new (cli);
    if (!client)
        return CLI_EXIT_CLIENT;
    ProtobufCMessage *reply = NULL;
    double rtt_ms = 0;
    int rc = cli_call_unpack (cli, client, service, request, reply_type, &reply, &rtt_ms);
    onenet_client_destroy (&client);
    if (rc == CLI_EXIT_OK) {
        rc = print (cli, reply, rtt_ms);
        protobuf_c_message_free_unpacked (reply, NULL);
    }
    return rc;
}

//  --- ping -------------------------------------------------------------

static const char s_ping_usage[] =
    "usage: onenet ping\n"
    "\n"
    "Checks that the broker answers: calls its built-in service onenet.ping and\n"
    "prints the round trip, the broker's version and its uptime.\n"
    "\n"
    "example:\n"
    "  $ onenet ping --broker tcp://127.0.0.1:5570\n"
    "  pong from tcp://127.0.0.1:5570 in 0.42 ms (broker 0.1.0, protocol 1, schema 1, up 12 s)\n";

static int
s_ping_print (cli_t *cli, const ProtobufCMessage *message, double rtt_ms)
{
    const Onenet__PingReply *pong = (const Onenet__PingReply *)message;
    if (cli->json) {
        json_t *json = onenet_json_from_message (message, ONENET_JSON_DEFAULTS);
        //  three decimals: the clock is not more precise than a microsecond
        double rounded = (double)(int64_t)(rtt_ms * 1000.0 + 0.5) / 1000.0;
        if (json && (json_object_set_new (json, "round_trip_ms", json_real (rounded)) ||
                     json_object_set_new (json, "endpoint", json_string (cli->broker)))) {
            json_decref (json);
            json = NULL;
        }
        return cli_print_json (cli, json);
    }
    char uptime[32];
    printf ("pong from %s in %.2f ms (broker %s, protocol %u, schema %u, up %s)\n", cli->broker,
            rtt_ms, pong->broker_version, pong->protocol_version, pong->schema_version,
            cli_format_duration (pong->uptime_ms, uptime, sizeof uptime));
    return CLI_EXIT_OK;
}

static int
s_ping_run (cli_t *cli, int argc, char **argv)
{
    int rc = s_parse_simple (cli, argc, argv, 0);
    if (rc != CLI_CONTINUE)
        return rc;
    Onenet__PingRequest request = ONENET__PING_REQUEST__INIT;
    return s_call_builtin (cli, SERVICE_PING, &request.base, &onenet__ping_reply__descriptor,
                           s_ping_print);
}

const cli_command_t cli_cmd_ping = {
    .name = "ping",
    .summary = "check that the broker answers, and how fast",
    .usage = s_ping_usage,
    .run = s_ping_run,
};

//  --- services ---------------------------------------------------------

static const char s_services_usage[] =
    "usage: onenet services [PREFIX]\n"
    "\n"
    "Lists the services adapters offer (those whose name starts with PREFIX),\n"
    "with each live instance's credit, requests in flight, last heartbeat and\n"
    "health, and the requests waiting for a free instance.\n"
    "\n"
    "example:\n"
    "  $ onenet services example.\n"
    "  SERVICE        DEPARTMENT/INSTANCE  CREDIT  IN-FLIGHT  LAST HEARTBEAT  HEALTH  WAITING\n"
    "  example.greet  example/host-4242        10          0       350 ms ago  ok            0\n";

//  Column widths of the names, which are as long as the data makes them.
typedef struct {
    int service;
    int instance;
} services_widths_t;

#define SERVICES_ROW "%-*s  %-*s  %6s  %9s  %14s  %-6s  %7s\n"

static services_widths_t
s_services_widths (const Onenet__ServicesReply *reply)
{
    services_widths_t widths = {(int)strlen ("SERVICE"), (int)strlen ("DEPARTMENT/INSTANCE")};
    for (size_t s = 0; s < reply->n_services; s++) {
        const Onenet__ServiceInfo *service = reply->services[s];
        int length = (int)strlen (service->name);
        widths.service = length > widths.service ? length : widths.service;
        for (size_t i = 0; i < service->n_instances; i++) {
            const Onenet__InstanceInfo *instance = service->instances[i];
            length = (int)(strlen (instance->department) + 1 + strlen (instance->instance));
            widths.instance = length > widths.instance ? length : widths.instance;
        }
    }
    return widths;
}

static void
s_services_instance_row (services_widths_t widths, const Onenet__ServiceInfo *service,
                         const Onenet__InstanceInfo *instance)
{
    char name[512], credit[16], in_flight[16], heartbeat[48], ago[32], waiting[16];
    snprintf (name, sizeof name, "%s/%s", instance->department, instance->instance);
    snprintf (credit, sizeof credit, "%u", instance->credit);
    snprintf (in_flight, sizeof in_flight, "%u", instance->in_flight);
    snprintf (heartbeat, sizeof heartbeat, "%s ago",
              cli_format_duration (instance->last_heartbeat_ms_ago, ago, sizeof ago));
    snprintf (waiting, sizeof waiting, "%u", service->waiting);
    printf (SERVICES_ROW, widths.service, service->name, widths.instance, name, credit, in_flight,
            heartbeat, instance->health, waiting);
}

static void
s_services_table (const Onenet__ServicesReply *reply)
{
    services_widths_t widths = s_services_widths (reply);
    printf (SERVICES_ROW, widths.service, "SERVICE", widths.instance, "DEPARTMENT/INSTANCE",
            "CREDIT", "IN-FLIGHT", "LAST HEARTBEAT", "HEALTH", "WAITING");
    for (size_t s = 0; s < reply->n_services; s++) {
        const Onenet__ServiceInfo *service = reply->services[s];
        for (size_t i = 0; i < service->n_instances; i++)
            s_services_instance_row (widths, service, service->instances[i]);
        //  a known service with no live instance still shows, as "none"
        if (service->n_instances == 0) {
            char waiting[16];
            snprintf (waiting, sizeof waiting, "%u", service->waiting);
            printf (SERVICES_ROW, widths.service, service->name, widths.instance, "-", "-", "-",
                    "-", "none", waiting);
        }
    }
    char uptime[32];
    //  no instance count: one instance serving two services shows twice
    printf ("%zu service%s; broker: %u of %u requests pending, up %s\n", reply->n_services,
            reply->n_services == 1 ? "" : "s", reply->pending, reply->max_pending,
            cli_format_duration (reply->uptime_ms, uptime, sizeof uptime));
}

static int
s_services_print (cli_t *cli, const ProtobufCMessage *message, double rtt_ms)
{
    const Onenet__ServicesReply *reply = (const Onenet__ServicesReply *)message;
    if (cli->json)
        return cli_print_json (cli, onenet_json_from_message (message, ONENET_JSON_DEFAULTS));
    if (strcmp (reply->security, "none") == 0)
        cli_warn ("broker runs without CURVE security (security = \"none\")");
    if (reply->n_services > 0)
        s_services_table (reply);
    else if (cli->nargs)
        printf ("no services starting with '%s'\n", cli->args[0]);
    else
        printf ("no services\n");
    return CLI_EXIT_OK;
}

static int
s_services_run (cli_t *cli, int argc, char **argv)
{
    int rc = s_parse_simple (cli, argc, argv, 1);
    if (rc != CLI_CONTINUE)
        return rc;
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    if (cli->nargs)
        request.prefix = cli->args[0];
    return s_call_builtin (cli, SERVICE_SERVICES, &request.base,
                           &onenet__services_reply__descriptor, s_services_print);
}

const cli_command_t cli_cmd_services = {
    .name = "services",
    .summary = "list services, their instances and their health",
    .usage = s_services_usage,
    .run = s_services_run,
};

//  --- call -------------------------------------------------------------

static const char s_call_usage[] =
    "usage: onenet call SERVICE [--data JSON | --data - | --data @FILE]\n"
    "                           [--idempotent] [--purpose TEXT]\n"
    "\n"
    "Calls SERVICE with a request written as JSON and prints the reply as JSON.\n"
    "The request and reply types are those the broker lists for the service.\n"
    "\n"
    "options:\n"
    "  --data JSON     the request; '-' reads it from stdin, '@FILE' from FILE\n"
    "                  (without --data an empty request is sent)\n"
    "  --idempotent    the broker may retry the call on another instance\n"
    "  --purpose TEXT  why the data is asked for; recorded in the audit log\n"
    "\n"
    "With --json, prints {\"status\", \"message\", \"served_by\", \"trace_id\", \"body\"},\n"
    "also when the call fails. A reply of a type this tool does not know is\n"
    "printed as {\"body_base64\": ...}.\n"
    "\n"
    "example:\n"
    "  $ onenet call example.greet --data '{\"name\": \"Ana\", \"language\": \"en\"}'\n"
    "  {\n"
    "    \"greeting\": \"Hello, Ana\",\n"
    "    \"served_by\": \"example/host-4242\"\n"
    "  }\n";

enum {
    CALL_OPT_DATA = CLI_OPT_COMMAND,
    CALL_OPT_IDEMPOTENT,
    CALL_OPT_PURPOSE,
};

static const struct option s_call_options[] = {
    {"data", required_argument, NULL, CALL_OPT_DATA},
    {"idempotent", no_argument, NULL, CALL_OPT_IDEMPOTENT},
    {"purpose", required_argument, NULL, CALL_OPT_PURPOSE},
    {NULL, 0, NULL, 0},
};

//  What the command line asks for.
typedef struct {
    const char *service;
    const char *data; // --data as given, or NULL
    char *text;       // what --data names, read before connecting
    size_t size;
    bool idempotent;
    const char *purpose;
} call_args_t;

//  The service's types, as far as the broker and our schema know them.
typedef struct {
    bool listed;                               // the broker knows the service
    char request_name[256];                    // as listed, may be ""
    const ProtobufCMessageDescriptor *request; // NULL when unknown
    const ProtobufCMessageDescriptor *reply;   // NULL when unknown
} call_types_t;

//  The broker answers these itself and does not list them.
static const struct {
    const char *service;
    const char *request_type;
    const char *reply_type;
} s_builtins[] = {
    {SERVICE_PING, "onenet.PingRequest", "onenet.PingReply"},
    {SERVICE_SERVICES, "onenet.ServicesRequest", "onenet.ServicesReply"},
    {"onenet.view.person", "onenet.view.PersonViewRequest", "onenet.view.PersonView"},
};

static int
s_call_option (cli_t *cli, int opt, const char *arg, void *state)
{
    call_args_t *args = state;
    if (opt == CALL_OPT_DATA)
        args->data = arg;
    else if (opt == CALL_OPT_IDEMPOTENT)
        args->idempotent = true;
    else if (opt == CALL_OPT_PURPOSE)
        args->purpose = arg;
    return 0;
}

static void
s_types_set (call_types_t *types, const char *request_type, const char *reply_type)
{
    types->listed = true;
    snprintf (types->request_name, sizeof types->request_name, "%s", request_type);
    types->request = *request_type ? onenet_schema_find (request_type) : NULL;
    types->reply = *reply_type ? onenet_schema_find (reply_type) : NULL;
}

//  Explains why --data cannot be sent as the service's request type.
static int
s_call_unknown_type (cli_t *cli, const call_args_t *args, const call_types_t *types)
{
    const char *omit = "omit --data to send an empty request";
    if (!types->listed)
        return cli_fail (cli, CLI_EXIT_USAGE,
                         "unknown request type for %s; the broker lists no such service (%s)",
                         args->service, omit);
    if (!types->request_name[0])
        return cli_fail (cli, CLI_EXIT_USAGE,
                         "unknown request type for %s; its adapter declares none (%s)",
                         args->service, omit);
    return cli_fail (cli, CLI_EXIT_USAGE,
                     "unknown request type for %s; %s is not in this tool's schema (%s)",
                     args->service, types->request_name, omit);
}

//  Builds the request from --data. Returns CLI_EXIT_OK with the message in
//  *request_p (NULL for an empty request; the caller frees it), or the
//  exit code.
static int
s_call_request (cli_t *cli, const call_args_t *args, const call_types_t *types,
                ProtobufCMessage **request_p)
{
    *request_p = NULL;
    if (!args->data)
        return CLI_EXIT_OK;
    if (!types->request)
        return s_call_unknown_type (cli, args, types);
    char err[512] = "";
    *request_p = onenet_json_decode (types->request, args->text, args->size, err, sizeof err);
    if (!*request_p)
        return cli_fail (cli, CLI_EXIT_USAGE, "bad --data for %s: %s", types->request->name,
                         err[0] ? err : "invalid");
    return CLI_EXIT_OK;
}

//  The reply body as JSON: the reply type's fields, or base64 when the type
//  is unknown or the body is not one (*undecoded is then set).
static json_t *
s_call_body_json (const onenet_reply_t *reply, const ProtobufCMessageDescriptor *type,
                  bool *undecoded)
{
    size_t size = 0;
    const void *data = onenet_reply_body (reply, &size);
    if (onenet_reply_status (reply) != ONENET_OK && size == 0)
        return json_null ();
    if (type) {
        ProtobufCMessage *message = onenet_reply_unpack (reply, type);
        if (message) {
            json_t *json = onenet_json_from_message (message, 0);
            protobuf_c_message_free_unpacked (message, NULL);
            return json;
        }
        *undecoded = true;
    }
    return json_pack ("{s:o}", "body_base64", cli_base64_json (data, size));
}

static json_t *
s_call_envelope (const onenet_reply_t *reply, json_t *body)
{
    return json_pack ("{s:s, s:s, s:s, s:s, s:o}", "status",
                      onenet_status_name (onenet_reply_status (reply)), "message",
                      onenet_reply_message (reply), "served_by", onenet_reply_served_by (reply),
                      "trace_id", onenet_reply_trace_id (reply), "body", body);
}

//  Prints the reply (the envelope with --json, even on failure) and
//  returns the exit code.
static int
s_call_output (cli_t *cli, const onenet_reply_t *reply, const call_types_t *types)
{
    if (!reply)
        return cli_fail (cli, CLI_EXIT_FAILED, "out of memory");
    bool ok = onenet_reply_status (reply) == ONENET_OK;
    bool undecoded = false;
    json_t *body = s_call_body_json (reply, types->reply, &undecoded);
    int rc = CLI_EXIT_OK;
    if (cli->json)
        rc = cli_print_json (cli, body ? s_call_envelope (reply, body) : NULL);
    else if (ok)
        rc = cli_print_json (cli, body);
    else
        json_decref (body);
    if (!ok)
        return cli_reply_check (cli, reply);
    if (rc == CLI_EXIT_OK && undecoded)
        rc = cli_fail (cli, CLI_EXIT_FAILED, "reply body is not a valid %s (printed as base64)",
                       types->reply->name);
    return rc;
}

//  Reads the service's types from an OK reply of onenet.services.
static int
s_call_types_listed (cli_t *cli, const onenet_reply_t *reply, const char *service,
                     call_types_t *types)
{
    ProtobufCMessage *message = onenet_reply_unpack (reply, &onenet__services_reply__descriptor);
    if (!message)
        return cli_fail (cli, CLI_EXIT_FAILED, "%s replied with a body that is not a %s",
                         SERVICE_SERVICES, onenet__services_reply__descriptor.name);
    const Onenet__ServicesReply *list = (const Onenet__ServicesReply *)message;
    //  the prefix also matches longer names: take the exact one
    for (size_t s = 0; s < list->n_services; s++)
        if (strcmp (list->services[s]->name, service) == 0)
            s_types_set (types, list->services[s]->request_type, list->services[s]->reply_type);
    protobuf_c_message_free_unpacked (message, NULL);
    return CLI_EXIT_OK;
}

//  Finds the service's types: built in, or listed by onenet.services. When
//  the lookup fails, reports it as the call's failure (with the envelope
//  under --json, so scripts see one shape whatever failed).
static int
s_call_types (cli_t *cli, onenet_client_t *client, const char *service, call_types_t *types)
{
    memset (types, 0, sizeof *types);
    for (size_t b = 0; b < sizeof s_builtins / sizeof s_builtins[0]; b++)
        if (strcmp (service, s_builtins[b].service) == 0) {
            s_types_set (types, s_builtins[b].request_type, s_builtins[b].reply_type);
            return CLI_EXIT_OK;
        }
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    request.prefix = (char *)service;
    onenet_call_options_t options = cli_call_options (cli);
    onenet_reply_t *reply =
        onenet_client_call_message (client, SERVICE_SERVICES, &request.base, &options);
    int rc;
    if (reply && onenet_reply_status (reply) == ONENET_OK)
        rc = s_call_types_listed (cli, reply, service, types);
    else
        rc = s_call_output (cli, reply, types);
    onenet_reply_destroy (&reply);
    return rc;
}

static int
s_call_service (cli_t *cli, onenet_client_t *client, const call_args_t *args)
{
    call_types_t types;
    int rc = s_call_types (cli, client, args->service, &types);
    ProtobufCMessage *request = NULL;
    if (rc == CLI_EXIT_OK)
        rc = s_call_request (cli, args, &types, &request);
    if (rc != CLI_EXIT_OK)
        return rc;
    onenet_call_options_t options = cli_call_options (cli);
    options.idempotent = args->idempotent;
    options.purpose = args->purpose;
    onenet_reply_t *reply = onenet_client_call_message (client, args->service, request, &options);
    if (request)
        protobuf_c_message_free_unpacked (request, NULL);
    rc = s_call_output (cli, reply, &types);
    onenet_reply_destroy (&reply);
    return rc;
}

static int
s_call_run (cli_t *cli, int argc, char **argv)
{
    call_args_t args;
    memset (&args, 0, sizeof args);
    int rc = cli_parse (cli, argc, argv, s_call_options, s_call_option, &args);
    if (rc == CLI_CONTINUE)
        rc = cli_expect_args (cli, 1, 1);
    if (rc != CLI_CONTINUE)
        return rc;
    args.service = cli->args[0];
    cli_set_context (cli, "call %s", args.service);
    //  a missing file is a usage error whether or not the broker answers
    if (args.data && (rc = cli_read_data (cli, args.data, &args.text, &args.size)))
        return rc;
    onenet_client_t *client = cli_client_new (cli);
    rc = client ? s_call_service (cli, client, &args) : CLI_EXIT_CLIENT;
    onenet_client_destroy (&client);
    free (args.text);
    return rc;
}

const cli_command_t cli_cmd_call = {
    .name = "call",
    .summary = "call a service with a JSON request and print the reply",
    .usage = s_call_usage,
    .run = s_call_run,
};
