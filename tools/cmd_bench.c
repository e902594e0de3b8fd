/*
 * tools/cmd_bench.c - `onenet bench rr|view|alerts|events|memory|audit`: how fast
 * (and how large) OneNet is, beside
 * a baseline measured in the same run on the same machine.
 *
 * This file parses the options, sets up the run's temp dir and processes
 * (bench_proc.c), hands over to the benchmark (bench_rr.c, bench_view.c,
 * bench_alerts.c, bench_events.c, bench_memory.c)
 * and prints its figures: one `name value unit` line each, measurements
 * first, then ratios; or one JSON object with --json. docs/PERFORMANCE.md
 * describes the figures and records what they were on our machines.
 *
 * Absolute numbers depend on the machine and on whatever else runs on it;
 * the ratios against a baseline from the same run are what compare.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

enum {
    OPT_DURATION = CLI_OPT_COMMAND,
    OPT_INFLIGHT,
    OPT_PEOPLE,
    OPT_SUBSCRIBERS,
    OPT_ADAPTERS,
    OPT_AOF,
    OPT_EVENT_BATCH,
    OPT_BATCH,
};

#define DEFAULT_DURATION_S 5.0
#define DEFAULT_PEOPLE 100000
#define MAX_DURATION_S 3600.0
/* Beyond ZeroMQ's default high-water marks (1000) blocking sends could stall
 * both loops; also the broker's limits.max_credit (1024). */
#define MAX_INFLIGHT 1000
#define MAX_PEOPLE 20000000L
#define DEFAULT_SUBSCRIBERS 1000
#define MAX_SUBSCRIBERS 20000
#define DEFAULT_ADAPTERS 10
/* The bench's children: broker, Redis and the adapters, under 32. */
#define MAX_ADAPTERS 20

static const char s_bench_usage[] =
    "usage: onenet bench rr [--inflight N] [--duration SECONDS] [--batch N]\n"
    "       onenet bench view [--people N] [--inflight N] [--duration SECONDS] [--aof]\n"
    "       onenet bench alerts [--inflight N] [--duration SECONDS] [--aof]\n"
    "       onenet bench events [--duration SECONDS] [--event-batch N]\n"
    "       onenet bench memory [--subscribers N] [--adapters N] [--aof]\n"
    "       onenet bench audit [--duration SECONDS] [--aof]\n"
    "\n"
    "Measures OneNet and, in the same run, a baseline doing the same work\n"
    "without it, and prints both with their ratio. It starts what it needs\n"
    "(broker, adapters, redis-server, nats-server) on free 127.0.0.1 ports in a\n"
    "temp dir, finding the binaries next to this one or in $PATH, and stops\n"
    "them after. The NATS figures of rr and events need nats-server and\n"
    "onenet-bench-nats (built when libnats is there); without them the bench\n"
    "says so on stderr and prints no NATS figures.\n"
    "\n"
    "  rr    request/reply with 100-byte bodies through the broker to an echo\n"
    "        adapter (onenet-test-adapter, test.echo), against bare ZeroMQ\n"
    "        (DEALER -> zmq_proxy ROUTER/DEALER -> echo) and NATS (nats-server,\n"
    "        libnats client and responder); with 1 and 64 requests in flight\n"
    "        unless --inflight is given: requests/s, p50/p99/p999 us\n"
    "  view  the one network view (onenet.view.person) of people seeded by\n"
    "        onenet-seed: cache hits and misses (bypass_cache), against a\n"
    "        single ps.person.get round trip and pipelined Redis GETs\n"
    "  alerts  persisted alerts (onenet.alert.publish; Redis without AOF unless\n"
    "        --aof) from one publisher to four SDK subscribers: alerts/s\n"
    "        published and delivered, delivery latency, lost and duplicated,\n"
    "        CPU per alert, against pipelined Redis XADDs and a bare relay\n"
    "        (ZeroMQ and XADD, no OneNet code) doing the same fan-out\n"
    "  events  plain (not persisted) events from a test adapter through the broker\n"
    "        to four SUB sockets: delivered/s, dropped, against a bare XSUB/XPUB\n"
    "        zmq_proxy and NATS (one publisher, four subscribers)\n"
    "  memory  the broker's resident memory idle, with --adapters test adapters\n"
    "        and with --subscribers SUB sockets on its alerts endpoint\n"
    "  audit   rr's load (64, then 1 in flight) with the audit off, then on as\n"
    "        deployed (a file and the Redis Stream): what auditing costs\n"
    "\n"
    "options:\n"
    "  --duration SECONDS  measured time of each phase, after 0.5 s of warm-up\n"
    "                      (default 5)\n"
    "  --inflight N        requests kept in flight, 1 to 1000 (rr: 1 and 64;\n"
    "                      view: 64)\n"
    "  --people N          view: people to seed (default 100000)\n"
    "  --subscribers N     memory: subscribers to connect (default 1000)\n"
    "  --adapters N        memory: test adapters to start, 0 to 20 (default 10)\n"
    "  --event-batch N     events: the broker's events.batch_max, 1 to 1024\n"
    "                      (default its own, 64; 1: every event alone)\n"
    "  --batch N           rr: the broker's broker.batch_max, 1 to 1024 (default\n"
    "                      its own, 64; 1: every request and reply alone)\n"
    "  --aof               alerts, view, memory, audit: Redis with AOF on\n"
    "                      (appendfsync everysec, as docker-compose.yml runs it)\n"
    "                      instead of no persistence; baselines use the same Redis\n"
    "  --broker ENDPOINT   measure that running system instead of starting one;\n"
    "                      baselines still run locally. rr starts a test adapter\n"
    "                      if the broker has no test.echo; view needs the three\n"
    "                      departments, seeded with onenet-seed's default seed;\n"
    "                      alerts, events, memory and audit always start their\n"
    "                      own\n"
    "\n"
    "Output: one line per figure, 'name value unit' (us = microseconds), ratios\n"
    "last; figures ending in .target_min/.target_max are targets, for reading\n"
    "beside the figure, not checks. With --json: one object {benchmark,\n"
    "duration_s, figures: {name: {value, unit}}}. Exit 0 when the benchmark ran;\n"
    "a failure is one line on stderr, and the temp dir with the logs is kept.\n"
    "\n"
    "example:\n"
    "  $ onenet bench rr --inflight 64 --duration 5\n"
    "  rr.inflight64.onenet.rps 21345 req/s\n"
    "  ...\n"
    "  rr.inflight64.ratio 0.412 x\n"
    "  $ onenet bench view --people 20000 --json\n";

static int
s_parse_number (cli_t *cli, const char *option, const char *arg, double min, double max,
                double *value)
{
    char *end = NULL;
    errno = 0;
    double parsed = strtod (arg, &end);
    //  plain decimals only: no signs, hex, exponents, inf or nan
    if (arg[0] < '0' || arg[0] > '9' || *end || errno || strpbrk (arg, "xXeEpP") || parsed < min ||
        parsed > max)
        return cli_fail (cli, CLI_EXIT_USAGE, "%s: expected a number from %g to %g, got '%s'",
                         option, min, max, arg);
    *value = parsed;
    return 0;
}

static int
s_on_option (cli_t *cli, int opt, const char *arg, void *state)
{
    bench_options_t *options = state;
    double value = 0;
    int rc = 0;
    switch (opt) {
    case OPT_DURATION:
        return s_parse_number (cli, "--duration", arg, 0.1, MAX_DURATION_S, &options->duration_s);
    case OPT_INFLIGHT:
        rc = s_parse_number (cli, "--inflight", arg, 1, MAX_INFLIGHT, &value);
        if (rc == 0 && value != (double)(size_t)value)
            rc = cli_fail (cli, CLI_EXIT_USAGE, "--inflight: expected a whole number, got '%s'",
                           arg);
        options->inflight = (size_t)value;
        return rc;
    case OPT_PEOPLE:
        rc = s_parse_number (cli, "--people", arg, 1, (double)MAX_PEOPLE, &value);
        if (rc == 0 && value != (double)(long)value)
            rc = cli_fail (cli, CLI_EXIT_USAGE, "--people: expected a whole number, got '%s'", arg);
        options->people = (long)value;
        return rc;
    case OPT_AOF:
        options->aof = true;
        return 0;
    case OPT_EVENT_BATCH:
        rc = s_parse_number (cli, "--event-batch", arg, 1, 1024, &value);
        if (rc == 0 && value != (double)(size_t)value)
            rc = cli_fail (cli, CLI_EXIT_USAGE, "--event-batch: expected a whole number, got '%s'",
                           arg);
        options->event_batch = (size_t)value;
        return rc;
    case OPT_BATCH:
        rc = s_parse_number (cli, "--batch", arg, 1, 1024, &value);
        if (rc == 0 && value != (double)(size_t)value)
            rc = cli_fail (cli, CLI_EXIT_USAGE, "--batch: expected a whole number, got '%s'", arg);
        options->batch = (size_t)value;
        return rc;
    case OPT_SUBSCRIBERS:
    case OPT_ADAPTERS:
        rc = s_parse_number (cli, opt == OPT_ADAPTERS ? "--adapters" : "--subscribers", arg,
                             opt == OPT_ADAPTERS ? 0 : 1,
                             opt == OPT_ADAPTERS ? MAX_ADAPTERS : MAX_SUBSCRIBERS, &value);
        if (rc == 0 && value != (double)(size_t)value)
            rc = cli_fail (cli, CLI_EXIT_USAGE, "%s: expected a whole number, got '%s'",
                           opt == OPT_ADAPTERS ? "--adapters" : "--subscribers", arg);
        *(opt == OPT_ADAPTERS ? &options->adapters : &options->subscribers) = (size_t)value;
        return rc;
    default:
        return 0;
    }
}

/* --- output ---------------------------------------------------------------- */

static void
s_print_text (const bench_report_t *report)
{
    for (int group = BENCH_MEASURED; group <= BENCH_RATIO; group++)
        for (size_t i = 0; i < report->count; i++) {
            const bench_figure_t *figure = &report->figures[i];
            if ((int)figure->group == group)
                printf ("%s %.*f %s\n", figure->name, figure->decimals, figure->value,
                        figure->unit);
        }
    fflush (stdout);
}

static json_t *
s_report_json (const bench_report_t *report)
{
    json_t *root = json_object ();
    json_t *figures = json_object ();
    bool ok = root && figures &&
              !json_object_set_new (root, "benchmark", json_string (report->benchmark)) &&
              !json_object_set_new (root, "duration_s", json_real (report->duration_s));
    for (int group = BENCH_MEASURED; ok && group <= BENCH_RATIO; group++)
        for (size_t i = 0; ok && i < report->count; i++) {
            const bench_figure_t *figure = &report->figures[i];
            if ((int)figure->group != group)
                continue;
            //  the same rounding as the text output
            char text[64];
            snprintf (text, sizeof text, "%.*f", figure->decimals, figure->value);
            json_t *value = figure->decimals ? json_real (strtod (text, NULL))
                                             : json_integer ((json_int_t)strtod (text, NULL));
            ok = !json_object_set_new (
                figures, figure->name,
                json_pack ("{s:o, s:s}", "value", value, "unit", figure->unit));
        }
    if (ok && !json_object_set (root, "figures", figures)) {
        json_decref (figures);
        return root;
    }
    json_decref (figures);
    json_decref (root);
    return NULL;
}

/* --- run ------------------------------------------------------------------------ */

/* Runs one benchmark in a fresh env and prints its report. */
static int
s_run (cli_t *cli, const char *name, const bench_options_t *options)
{
    int (*bench) (bench_env_t *, const bench_options_t *, bench_report_t *, char *, size_t) =
        strcmp (name, "rr") == 0       ? bench_rr
        : strcmp (name, "view") == 0   ? bench_view
        : strcmp (name, "alerts") == 0 ? bench_alerts
        : strcmp (name, "events") == 0 ? bench_events
        : strcmp (name, "audit") == 0  ? bench_audit
                                       : bench_memory;
    char err[1024] = "";
    bench_env_t *env = bench_env_new (err, sizeof err);
    if (!env)
        return cli_fail (cli, CLI_EXIT_FAILED, "%s", err);
    bench_report_t *report = calloc (1, sizeof *report);
    int rc = report ? bench (env, options, report, err, sizeof err) : -1;
    if (!report)
        snprintf (err, sizeof err, "out of memory");
    char dir[256];
    snprintf (dir, sizeof dir, "%s", bench_env_dir (env));
    bool kept = bench_env_destroy (&env, rc < 0);
    if (rc < 0) {
        free (report);
        if (kept)
            return cli_fail (cli, CLI_EXIT_FAILED, "%s (logs kept in %s)", err, dir);
        return cli_fail (cli, CLI_EXIT_FAILED, "%s", err);
    }
    report->benchmark = name;
    report->duration_s = options->duration_s;
    if (cli->json)
        rc = cli_print_json (cli, s_report_json (report));
    else {
        s_print_text (report);
        rc = CLI_EXIT_OK;
    }
    free (report);
    return rc;
}

static int
s_bench_run (cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"duration", required_argument, NULL, OPT_DURATION},
        {"inflight", required_argument, NULL, OPT_INFLIGHT},
        {"people", required_argument, NULL, OPT_PEOPLE},
        {"subscribers", required_argument, NULL, OPT_SUBSCRIBERS},
        {"adapters", required_argument, NULL, OPT_ADAPTERS},
        {"aof", no_argument, NULL, OPT_AOF},
        {"event-batch", required_argument, NULL, OPT_EVENT_BATCH},
        {"batch", required_argument, NULL, OPT_BATCH},
        {NULL, 0, NULL, 0},
    };
    bench_options_t state = {DEFAULT_DURATION_S, 0, DEFAULT_PEOPLE, NULL, DEFAULT_SUBSCRIBERS,
                             DEFAULT_ADAPTERS, false, 0, 0};
    int rc = cli_parse (cli, argc, argv, options, s_on_option, &state);
    if (rc == CLI_CONTINUE)
        rc = cli_expect_args (cli, 1, 3);
    if (rc != CLI_CONTINUE)
        return rc;
    const char *name = cli->args[0];
    //  the baseline's own processes, started by bench rr (not for people)
    if (strcmp (name, "zmq-proxy") == 0 && cli->nargs == 3)
        return bench_zmq_proxy_main (cli->args[1], cli->args[2]);
    if (strcmp (name, "zmq-echo") == 0 && cli->nargs == 2)
        return bench_zmq_echo_main (cli->args[1]);
    if (strcmp (name, "zmq-xproxy") == 0 && cli->nargs == 3)
        return bench_zmq_xproxy_main (cli->args[1], cli->args[2]);
    if (strcmp (name, "rr") != 0 && strcmp (name, "view") != 0 && strcmp (name, "alerts") != 0 &&
        strcmp (name, "events") != 0 && strcmp (name, "memory") != 0 &&
        strcmp (name, "audit") != 0)
        return cli_fail (cli, CLI_EXIT_USAGE,
                         "unknown benchmark '%s': rr, view, alerts, events, memory or audit", name);
    if (cli->nargs > 1)
        return cli_fail (cli, CLI_EXIT_USAGE,
                         "unexpected argument '%s' (see 'onenet bench --help')", cli->args[1]);
    if (state.event_batch && strcmp (name, "events") != 0)
        return cli_fail (cli, CLI_EXIT_USAGE, "--event-batch is an option of bench events only");
    if (state.batch && strcmp (name, "rr") != 0)
        return cli_fail (cli, CLI_EXIT_USAGE, "--batch is an option of bench rr only");
    //  --broker given (before or after the command) replaces the default
    //  pointer; $ONENET_BROKER alone does not make the bench skip its own
    //  system
    if (cli->broker != onenet_default_endpoint ())
        state.broker = cli->broker;
    if ((state.batch || state.event_batch) && state.broker)
        return cli_fail (cli, CLI_EXIT_USAGE,
                         "--batch and --event-batch configure the bench's own broker: not with "
                         "--broker");
    cli_set_context (cli, "bench %s", name);
    return s_run (cli, name, &state);
}

const cli_command_t cli_cmd_bench = {
    .name = "bench",
    .summary = "measure throughput, latency and memory against a baseline (rr, view, alerts, "
               "events, memory, audit)",
    .usage = s_bench_usage,
    .run = s_bench_run,
};
