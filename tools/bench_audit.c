/*
 * tools/bench_audit.c - `onenet bench audit`: what the tamper-evident
 * audit log costs on the request path.
 *
 * The same request/reply load as `bench rr` (test.echo, 100-byte body)
 * through two brokers, one after the other, each with its own
 * onenet-test-adapter:
 *
 *   off  audit = { enabled = false; } (what every other bench runs)
 *   on   the audit as deployed: a file in the temp dir and the Redis
 *        Stream on a redis-server started here
 *
 * Every request is cross-department (the bench's connection is
 * "anonymous", the adapter's department "test"), so each one is an audit
 * entry. After the run the broker is stopped (it syncs the chain on the
 * way out) and the file's lines are counted: a run that audited fewer
 * requests than it completed is an error, not a figure.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

#define CALL_TIMEOUT_MS 10000
#define ADAPTER_CREDIT "1024"

typedef struct {
    pid_t broker, adapter;
    char endpoint[64];
} side_t;

/* A broker with this config and an echo adapter on it. */
static int
s_start_side (bench_env_t *env, const char *config, const char *name, side_t *side, char *err,
              size_t err_size)
{
    int port = bench_free_port ();
    side->broker = bench_start_broker (env, port, config, err, err_size);
    if (side->broker < 0)
        return -1;
    bench_endpoint (side->endpoint, sizeof side->endpoint, port);
    char adapter[PATH_MAX], log_name[64];
    if (bench_find_binary ("onenet-test-adapter", adapter, sizeof adapter, err, err_size) < 0)
        return -1;
    snprintf (log_name, sizeof log_name, "test-adapter-%s.log", name);
    const char *argv[] = {adapter, "--broker", side->endpoint, "--instance", name,
                          "--credit", ADAPTER_CREDIT, NULL};
    side->adapter = bench_spawn (env, log_name, argv, err, err_size);
    if (side->adapter < 0)
        return -1;
    return bench_wait_service (side->endpoint, "test.echo", 10000, err, err_size);
}

/* 64 in flight, then 1, on one side. */
static int
s_load (const side_t *side, bench_echo_t *body, const bench_options_t *options,
        bench_result_t results[2], char *err, size_t err_size)
{
    const size_t counts[2] = {64, 1};
    for (int i = 0; i < 2; i++) {
        bench_load_t load = {.endpoint = side->endpoint,
                             .service = "test.echo",
                             .inflight = counts[i],
                             .warmup_s = BENCH_WARMUP_S,
                             .duration_s = options->duration_s,
                             .timeout_ms = CALL_TIMEOUT_MS,
                             .body = bench_echo_body,
                             .state = body};
        char what[64];
        snprintf (what, sizeof what, "test.echo with %zu in flight", counts[i]);
        if (bench_onenet_load (&load, &results[i], err, err_size) < 0 ||
            bench_result_check (what, &results[i], options->duration_s, err, err_size) < 0)
            return -1;
    }
    return 0;
}

static long
s_count_lines (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    long lines = 0;
    int c;
    while ((c = fgetc (file)) != EOF)
        lines += c == '\n';
    fclose (file);
    return lines;
}

int
bench_audit (bench_env_t *env, const bench_options_t *options, bench_report_t *report,
             char *err, size_t err_size)
{
    if (options->broker) {
        snprintf (err, err_size, "bench audit starts its own brokers: --broker is not for it");
        return -1;
    }
    bench_echo_t body;
    bench_echo_init (&body);

    bench_result_t off[2], on[2];
    side_t side;
    const char *config_off = "redis = { endpoint = \"\"; };\n"
                             "audit = { enabled = false; };\n"
                             "log = { level = \"warn\"; };\n";
    if (s_start_side (env, config_off, "off", &side, err, err_size) < 0 ||
        s_load (&side, &body, options, off, err, err_size) < 0)
        return -1;
    bench_stop (env, side.adapter);
    bench_stop (env, side.broker);

    int redis_port = bench_free_port ();
    char config_on[1024], audit_file[512];
    snprintf (audit_file, sizeof audit_file, "%s/audit.log", bench_env_dir (env));
    snprintf (config_on, sizeof config_on,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "audit = { enabled = true; file = \"%s\"; stream = \"onenet:audit\"; };\n"
              "log = { level = \"warn\"; };\n",
              redis_port, audit_file);
    if (bench_start_redis (env, redis_port, options->aof, err, err_size) < 0 ||
        s_start_side (env, config_on, "on", &side, err, err_size) < 0 ||
        s_load (&side, &body, options, on, err, err_size) < 0)
        return -1;
    bench_stop (env, side.adapter);
    bench_stop (env, side.broker);
    long entries = s_count_lines (audit_file);
    uint64_t completed = on[0].completed + on[1].completed;
    if (entries < 0 || (uint64_t)entries < completed) {
        snprintf (err, err_size, "the audit file holds %ld entries for %llu requests completed",
                  entries, (unsigned long long)completed);
        return -1;
    }

    const char *modes[2] = {"off", "on"};
    const bench_result_t *by_mode[2] = {off, on};
    const size_t counts[2] = {64, 1};
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < 2; i++) {
            const bench_result_t *r = &by_mode[m][i];
            bench_add (report, BENCH_MEASURED, "req/s", 0, r->rps, "audit.inflight%zu.%s.rps",
                       counts[i], modes[m]);
            bench_add (report, BENCH_MEASURED, "us", 1, r->p50_us, "audit.inflight%zu.%s.p50",
                       counts[i], modes[m]);
            bench_add (report, BENCH_MEASURED, "us", 1, r->p99_us, "audit.inflight%zu.%s.p99",
                       counts[i], modes[m]);
        }
    bench_add (report, BENCH_MEASURED, "entries", 0, (double)entries, "audit.entries");
    bench_add (report, BENCH_RATIO, "x", 3, on[0].rps / off[0].rps, "audit.inflight64.ratio");
    bench_add (report, BENCH_RATIO, "x", 3, on[1].p50_us / off[1].p50_us,
               "audit.inflight1.p50_ratio");
    return 0;
}
