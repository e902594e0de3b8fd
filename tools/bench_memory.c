/*
 * tools/bench_memory.c - `onenet bench memory`: the broker's resident
 * memory with many subscribers and adapters connected; and the broker
 * with a known alerts endpoint that `bench alerts` uses as well.
 *
 * The system: redis-server and the broker on it (as `bench alerts`
 * starts them). VmRSS of the broker (/proc/<pid>/status) is read three
 * times: idle, after --adapters onenet-test-adapter processes registered,
 * and after --subscribers SUB sockets (all in this process, subscribed
 * like the SDK's subscriber to "alert." and "tick") are connected to its
 * alerts endpoint. A socket counts as connected once it received a tick,
 * which the broker sends every second to everyone: so the figure says how
 * many subscribers the broker really held.
 *
 * Each SUB socket costs this process about two descriptors (the TCP
 * connection and the socket's mailbox) and the broker one, so the
 * descriptor limit is raised (setrlimit, up to the hard limit) before the
 * broker is started, which inherits it. If the hard limit is too low the
 * run uses fewer subscribers and says so on stderr.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>
#include "bench.h"
#include "onenet/proto/onenet.pb-c.h"

#define TARGET_RSS_MB 50.0
/* Descriptors kept for everything but the SUB sockets. */
#define FD_SPARE 256
#define TICK_WAIT_MS 5000
#define SETTLE_US 1000000

pid_t
bench_start_alerts_broker (bench_env_t *env, int redis_port, const char *extra_config,
                           char *endpoint, size_t endpoint_size, char *alerts, size_t alerts_size,
                           char *err, size_t err_size)
{
    char binary[PATH_MAX], config[1024], path[512], log_name[64];
    int port = bench_free_port (), alerts_port = bench_free_port ();
    if (bench_find_binary ("onenet-broker", binary, sizeof binary, err, err_size) < 0)
        return -1;
    char redis[64] = "";
    if (redis_port > 0)
        snprintf (redis, sizeof redis, "127.0.0.1:%d", redis_port);
    snprintf (config, sizeof config,
              "redis = { endpoint = \"%s\"; };\n"
              "alerts = { spool = \"%s/alerts-%d.spool\"; };\n"
              "audit = { enabled = false; };\n"
              "log = { level = \"warn\"; };\n%s",
              redis, bench_env_dir (env), port, extra_config ? extra_config : "");
    snprintf (log_name, sizeof log_name, "broker-%d.cfg", port);
    if (bench_write_file (env, log_name, config, path, sizeof path, err, err_size) < 0)
        return -1;
    bench_endpoint (endpoint, endpoint_size, port);
    bench_endpoint (alerts, alerts_size, alerts_port);
    snprintf (log_name, sizeof log_name, "broker-%d.log", port);
    const char *argv[] = {binary, "--endpoint",      endpoint, "-c", path, "--alerts-endpoint",
                          alerts, "--http-endpoint", "",       NULL};
    pid_t pid = bench_spawn (env, log_name, argv, err, err_size);
    for (int waited = 0; pid > 0 && waited < 10000; waited += 200) {
        if (!bench_alive (env, pid)) {
            snprintf (err, err_size, "onenet-broker exited at start (see %s/%s)",
                      bench_env_dir (env), log_name);
            return -1;
        }
        if (bench_ping (endpoint, 200))
            return pid;
    }
    if (pid > 0)
        snprintf (err, err_size, "onenet-broker did not answer onenet.ping (see %s/%s)",
                  bench_env_dir (env), log_name);
    return -1;
}

/* VmRSS of pid in MB (2^20 bytes); -1 if unreadable. */
static double
s_rss_mb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    double mb = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            mb = strtod (line + 6, NULL) / 1024.0; /* kB */
    if (file)
        fclose (file);
    return mb;
}

/* Instances of test.echo the broker lists. */
static size_t
s_echo_instances (onenet_client_t *client)
{
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    request.prefix = "test.echo";
    onenet_call_options_t options = {.timeout_ms = 1000};
    onenet_reply_t *reply =
        onenet_client_call_message (client, "onenet.services", &request.base, &options);
    Onenet__ServicesReply *services = reply && onenet_reply_status (reply) == ONENET_OK
                                          ? (Onenet__ServicesReply *)onenet_reply_unpack (
                                                reply, &onenet__services_reply__descriptor)
                                          : NULL;
    size_t count = 0;
    for (size_t i = 0; services && i < services->n_services; i++)
        if (strcmp (services->services[i]->name, "test.echo") == 0)
            count = services->services[i]->n_instances;
    if (services)
        protobuf_c_message_free_unpacked (&services->base, NULL);
    onenet_reply_destroy (&reply);
    return count;
}

/* Starts count test adapters and waits until the broker lists them all. */
static int
s_start_adapters (bench_env_t *env, const char *endpoint, size_t count, char *err, size_t err_size)
{
    char binary[PATH_MAX];
    if (bench_find_binary ("onenet-test-adapter", binary, sizeof binary, err, err_size) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        char instance[32], log_name[48];
        snprintf (instance, sizeof instance, "bench-%zu", i + 1);
        snprintf (log_name, sizeof log_name, "adapter-%zu.log", i + 1);
        const char *argv[] = {binary, "--broker", endpoint, "--instance", instance, NULL};
        if (bench_spawn (env, log_name, argv, err, err_size) < 0)
            return -1;
    }
    onenet_client_t *client = onenet_client_new (endpoint, err, err_size);
    size_t live = 0;
    for (int waited = 0; client && waited < 10000 && live < count; waited += 100) {
        live = s_echo_instances (client);
        if (live < count)
            usleep (100000);
    }
    onenet_client_destroy (&client);
    if (live < count)
        snprintf (err, err_size, "only %zu of %zu test adapters registered within 10 s", live,
                  count);
    return live < count ? -1 : 0;
}

/* Raises the descriptor limit for `wanted` SUB sockets; returns how many
 * the limit allows. */
static size_t
s_raise_fd_limit (size_t wanted)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) < 0)
        return 0;
    rlim_t need = (rlim_t)(2 * wanted + FD_SPARE);
    if (limit.rlim_cur < need) {
        limit.rlim_cur =
            limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= need ? need : limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
        getrlimit (RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur >= need)
        return wanted;
    return limit.rlim_cur > FD_SPARE ? (size_t)((limit.rlim_cur - FD_SPARE) / 2) : 0;
}

/* Connects count SUB sockets to alerts and waits for a tick on each.
 * Returns how many got one (connected), or -1 with a reason. */
static long
s_connect_subscribers (void *context, void **sockets, size_t count, const char *alerts, char *err,
                       size_t err_size)
{
    for (size_t i = 0; i < count; i++) {
        int linger = 0;
        sockets[i] = zmq_socket (context, ZMQ_SUB);
        if (!sockets[i] || zmq_setsockopt (sockets[i], ZMQ_LINGER, &linger, sizeof linger) < 0 ||
            zmq_setsockopt (sockets[i], ZMQ_SUBSCRIBE, "alert.", 6) < 0 ||
            zmq_setsockopt (sockets[i], ZMQ_SUBSCRIBE, "tick", 4) < 0 ||
            zmq_connect (sockets[i], alerts) < 0) {
            snprintf (err, err_size, "SUB socket %zu of %zu: %s", i + 1, count,
                      zmq_strerror (zmq_errno ()));
            return -1;
        }
    }
    zmq_pollitem_t *items = calloc (count, sizeof *items);
    bool *ticked = calloc (count, sizeof *ticked);
    long connected = 0;
    for (size_t i = 0; items && i < count; i++)
        items[i] = (zmq_pollitem_t){.socket = sockets[i], .events = ZMQ_POLLIN};
    int64_t until = bench_now_ns () + (int64_t)TICK_WAIT_MS * 1000000;
    while (items && ticked && (size_t)connected < count && bench_now_ns () < until) {
        if (zmq_poll (items, (int)count, 200) <= 0)
            continue;
        for (size_t i = 0; i < count; i++) {
            char frame[256];
            while (items[i].revents & ZMQ_POLLIN &&
                   zmq_recv (sockets[i], frame, sizeof frame, ZMQ_DONTWAIT) >= 0) {
                if (!ticked[i]) {
                    ticked[i] = true;
                    connected++;
                }
            }
        }
    }
    free (items);
    free (ticked);
    return connected;
}

int
bench_memory (bench_env_t *env, const bench_options_t *options, bench_report_t *report, char *err,
              size_t err_size)
{
    if (options->broker) {
        snprintf (err, err_size, "bench memory starts its own broker (no --broker)");
        return -1;
    }
    size_t count = s_raise_fd_limit (options->subscribers);
    if (count < options->subscribers)
        fprintf (stderr,
                 "bench: the descriptor limit allows %zu subscribers, not %zu (raise ulimit -Hn)\n",
                 count, options->subscribers);
    char endpoint[64], alerts[64];
    int redis_port = bench_free_port ();
    pid_t broker = -1;
    if (bench_start_redis (env, redis_port, options->aof, err, err_size) < 0 ||
        (broker = bench_start_alerts_broker (env, redis_port, NULL, endpoint, sizeof endpoint,
                                             alerts, sizeof alerts, err, err_size)) < 0)
        return -1;
    usleep (SETTLE_US);
    double idle = s_rss_mb (broker);
    if (s_start_adapters (env, endpoint, options->adapters, err, err_size) < 0)
        return -1;
    usleep (SETTLE_US);
    double with_adapters = s_rss_mb (broker);
    void *context = zmq_ctx_new ();
    void **sockets = calloc (count ? count : 1, sizeof *sockets);
    if (!context || !sockets || zmq_ctx_set (context, ZMQ_MAX_SOCKETS, (int)count + 16) < 0) {
        snprintf (err, err_size, "cannot create %zu sockets", count);
        free (sockets);
        if (context)
            zmq_ctx_term (context);
        return -1;
    }
    long connected = s_connect_subscribers (context, sockets, count, alerts, err, err_size);
    if (connected >= 0)
        usleep (SETTLE_US);
    double loaded = s_rss_mb (broker);
    for (size_t i = 0; i < count; i++)
        if (sockets[i])
            zmq_close (sockets[i]);
    free (sockets);
    zmq_ctx_term (context);
    if (connected < 0)
        return -1;
    if (idle < 0 || with_adapters < 0 || loaded < 0) {
        snprintf (err, err_size, "cannot read VmRSS of the broker (PID %d)", (int)broker);
        return -1;
    }
    bench_add (report, BENCH_MEASURED, "MB", 1, idle, "memory.broker.idle_rss_mb");
    bench_add (report, BENCH_MEASURED, "MB", 1, with_adapters, "memory.broker.adapters_rss_mb");
    bench_add (report, BENCH_MEASURED, "MB", 1, loaded, "memory.broker.rss_mb");
    bench_add (report, BENCH_MEASURED, "MB", 1, TARGET_RSS_MB, "memory.broker.rss_mb.target_max");
    bench_add (report, BENCH_MEASURED, "KB", 1,
               connected ? (loaded - with_adapters) * 1024.0 / (double)connected : 0,
               "memory.broker.per_subscriber_kb");
    bench_add (report, BENCH_MEASURED, "subscribers", 0, (double)options->subscribers,
               "memory.subscribers.requested");
    bench_add (report, BENCH_MEASURED, "subscribers", 0, (double)connected,
               "memory.subscribers.connected");
    bench_add (report, BENCH_MEASURED, "adapters", 0, (double)options->adapters,
               "memory.adapters.connected");
    return 0;
}
