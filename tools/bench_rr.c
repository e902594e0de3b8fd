/*
 * tools/bench_rr.c - `onenet bench rr`: request/reply through the broker
 * to an echo adapter, against bare ZeroMQ doing the same work.
 *
 *   OneNet    SDK client --DEALER--> onenet-broker --> onenet-test-adapter (test.echo)
 *   baseline  DEALER --> zmq_proxy (ROUTER | DEALER) --> echo worker (DEALER)
 *   NATS      onenet-bench-nats rr --> nats-server --> onenet-bench-nats echo
 *
 * All sides are three processes (a client, a router, an echo), carry
 * 100-byte bodies and keep the same number of requests in flight, so the
 * ratio between them is what OneNet's envelope, routing, credit and
 * bookkeeping cost over moving the bytes. The baseline's echo sends the
 * very frames it received back, as cheap as an echo gets; the test
 * adapter's echo also decodes its EchoMessage, as any adapter decodes its
 * request. NATS, the broker the issue asks OneNet to beat, runs only when
 * nats-server and onenet-bench-nats are both there (bench_nats_find);
 * otherwise its figures are left out, never guessed.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "bench.h"

#define BODY_SIZE BENCH_ECHO_BODY_SIZE
#define CALL_TIMEOUT_MS 5000
/* The baseline's first reply waits for its connections to come up. */
#define BASELINE_RECV_MS 10000
#define ADAPTER_CREDIT "1024"
#define NATS_SUBJECT "bench.echo"
/* The target: OneNet at least 3x NATS's requests/s at 64 in flight. */
#define TARGET_RATIO_TO_NATS 3.0
#define TARGET_INFLIGHT 64

/* --- the baseline's processes (hidden subcommands) ---------------------- */

/* No high-water mark on the baseline's sockets: with many requests in
 * flight a ROUTER at its mark drops replies, and the loop would stall.
 * (The broker has its own credit and limits instead.) */
static void
s_no_hwm (void *socket)
{
    int zero = 0;
    zmq_setsockopt (socket, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (socket, ZMQ_RCVHWM, &zero, sizeof zero);
}

int
bench_zmq_proxy_main (const char *frontend, const char *backend)
{
    void *context = zmq_ctx_new ();
    void *front = context ? zmq_socket (context, ZMQ_ROUTER) : NULL;
    void *back = context ? zmq_socket (context, ZMQ_DEALER) : NULL;
    if (front && back) {
        s_no_hwm (front);
        s_no_hwm (back);
    }
    if (!front || !back || zmq_bind (front, frontend) < 0 || zmq_bind (back, backend) < 0) {
        fprintf (stderr, "onenet bench zmq-proxy: %s\n", zmq_strerror (errno));
        return 1;
    }
    zmq_proxy (front, back, NULL); /* until killed */
    return 1;
}

int
bench_zmq_echo_main (const char *backend)
{
    void *context = zmq_ctx_new ();
    void *socket = context ? zmq_socket (context, ZMQ_DEALER) : NULL;
    if (socket)
        s_no_hwm (socket);
    if (!socket || zmq_connect (socket, backend) < 0) {
        fprintf (stderr, "onenet bench zmq-echo: %s\n", zmq_strerror (errno));
        return 1;
    }
    //  [client routing id][body] in, the same frames out, never copied
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    for (;;) {
        if (zmq_msg_recv (&frame, socket, 0) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        int more = zmq_msg_more (&frame);
        if (zmq_msg_send (&frame, socket, more ? ZMQ_SNDMORE : 0) < 0)
            break;
    }
    fprintf (stderr, "onenet bench zmq-echo: %s\n", zmq_strerror (errno));
    return 1;
}

/* --- the baseline's client ---------------------------------------------- */

/* The baseline's client, for one round. */
typedef struct {
    const char *frontend;
    size_t inflight;
} baseline_t;

/* A bench_round_fn: the same closed loop as bench_onenet_round over a raw
 * DEALER; the send time travels in the first 8 bytes of the body, which
 * the echo returns. */
static int
s_baseline_round (void *state, double warmup_s, double duration_s, bench_samples_t *samples,
                  bench_result_t *result, char *err, size_t err_size)
{
    const baseline_t *baseline = state;
    (void)result; /* the echo cannot fail a call */
    void *context = zmq_ctx_new ();
    void *socket = context ? zmq_socket (context, ZMQ_DEALER) : NULL;
    int linger = 0, timeout = BASELINE_RECV_MS;
    if (socket)
        s_no_hwm (socket);
    if (!socket || zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
        zmq_connect (socket, baseline->frontend) < 0) {
        snprintf (err, err_size, "baseline client: %s", zmq_strerror (errno));
        if (socket)
            zmq_close (socket);
        if (context)
            zmq_ctx_term (context);
        return -1;
    }
    uint8_t body[BODY_SIZE];
    memset (body, 'x', sizeof body);
    int64_t from = bench_now_ns () + (int64_t)(warmup_s * 1e9);
    int64_t until = from + (int64_t)(duration_s * 1e9);
    size_t outstanding = 0;
    int rc = 0;
    for (;;) {
        while (outstanding < baseline->inflight && bench_now_ns () < until) {
            int64_t sent = bench_now_ns ();
            memcpy (body, &sent, sizeof sent);
            if (zmq_send (socket, body, sizeof body, 0) < 0) {
                snprintf (err, err_size, "baseline send: %s", zmq_strerror (errno));
                rc = -1;
                break;
            }
            outstanding++;
        }
        if (rc < 0 || outstanding == 0)
            break;
        uint8_t reply[BODY_SIZE];
        int size = zmq_recv (socket, reply, sizeof reply, 0);
        int64_t done = bench_now_ns ();
        if (size != BODY_SIZE) {
            snprintf (err, err_size, "baseline: %s",
                      size < 0 ? "no echo within 10 s (see zmq-proxy/zmq-echo logs)"
                               : "echo of the wrong size");
            rc = -1;
            break;
        }
        outstanding--;
        int64_t sent;
        memcpy (&sent, reply, sizeof sent);
        if (done >= from && done <= until)
            bench_samples_add (samples, (uint64_t)(done - sent));
    }
    zmq_close (socket);
    zmq_ctx_term (context);
    return rc;
}

/* --- the systems ---------------------------------------------------------- */

/* Starts zmq-proxy and zmq-echo (this executable, hidden subcommands) on
 * free ports; frontend gets the endpoint clients connect to. */
static int
s_start_baseline (bench_env_t *env, char *frontend, size_t frontend_size, char *err,
                  size_t err_size)
{
    char self_path[PATH_MAX], backend[64];
    ssize_t length = readlink ("/proc/self/exe", self_path, sizeof self_path - 1);
    if (length <= 0) {
        snprintf (err, err_size, "readlink /proc/self/exe: %s", strerror (errno));
        return -1;
    }
    self_path[length] = '\0';
    bench_endpoint (frontend, frontend_size, bench_free_port ());
    bench_endpoint (backend, sizeof backend, bench_free_port ());
    const char *proxy[] = {self_path, "bench", "zmq-proxy", frontend, backend, NULL};
    const char *echo[] = {self_path, "bench", "zmq-echo", backend, NULL};
    if (bench_spawn (env, "zmq-proxy.log", proxy, err, err_size) < 0 ||
        bench_spawn (env, "zmq-echo.log", echo, err, err_size) < 0)
        return -1;
    return 0;
}

/* The broker (unless --broker) and an echo adapter if none is there. */
static int
s_start_onenet (bench_env_t *env, const bench_options_t *options, char *endpoint,
                size_t endpoint_size, char *err, size_t err_size)
{
    if (options->broker) {
        snprintf (endpoint, endpoint_size, "%s", options->broker);
        if (!bench_ping (endpoint, 2000)) {
            snprintf (err, err_size, "the broker at %s does not answer onenet.ping", endpoint);
            return -1;
        }
    } else {
        int port = bench_free_port ();
        //  no Redis: request/reply does not use it, and reconnect attempts
        //  to a Redis that is not there would only add noise; no audit:
        //  this measures the routing path (docs/PERFORMANCE.md)
        char config[256], batch[64] = "";
        if (options->batch)
            snprintf (batch, sizeof batch, "broker = { batch_max = %zu; };\n", options->batch);
        snprintf (config, sizeof config,
                  "redis = { endpoint = \"\"; };\n"
                  "audit = { enabled = false; };\n"
                  "log = { level = \"warn\"; };\n%s",
                  batch);
        if (bench_start_broker (env, port, config, err, err_size) < 0)
            return -1;
        bench_endpoint (endpoint, endpoint_size, port);
    }
    if (options->broker && bench_wait_service (endpoint, "test.echo", 500, err, err_size) == 0)
        return 0;
    if (options->broker)
        fprintf (stderr, "bench: %s offers no test.echo: starting onenet-test-adapter for it\n",
                 endpoint);
    char adapter[PATH_MAX];
    if (bench_find_binary ("onenet-test-adapter", adapter, sizeof adapter, err, err_size) < 0)
        return -1;
    //  credit beyond the in-flight count, as the proxy has no credit limit
    const char *argv[] = {adapter,   "--broker", endpoint,       "--instance",
                          "bench-1", "--credit", ADAPTER_CREDIT, NULL};
    if (bench_spawn (env, "test-adapter.log", argv, err, err_size) < 0)
        return -1;
    return bench_wait_service (endpoint, "test.echo", 10000, err, err_size);
}

/* NATS's phase: onenet-bench-nats rr against the echo started with the
 * server, the same in-flight count, warm-up and window. */
static int
s_nats_load (bench_env_t *env, const bench_nats_t *nats, size_t inflight, double duration_s,
             bench_result_t *result, char *err, size_t err_size)
{
    char count[16], duration[32], warmup[32], payload[16], log_name[64];
    snprintf (count, sizeof count, "%zu", inflight);
    snprintf (duration, sizeof duration, "%g", duration_s);
    snprintf (warmup, sizeof warmup, "%g", BENCH_WARMUP_S);
    snprintf (payload, sizeof payload, "%d", BODY_SIZE);
    snprintf (log_name, sizeof log_name, "nats-rr-%zu.log", inflight);
    const char *args[] = {"rr",     "--subject", NATS_SUBJECT, "--inflight", count,   "--duration",
                          duration, "--warmup",  warmup,       "--payload",  payload, NULL};
    const char *required[] = {"rps", "p50", "p99", "p999", NULL};
    bench_report_t *figures = calloc (1, sizeof *figures);
    if (!figures) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    int rc = bench_nats_run (env, nats, log_name, args, required, figures, err, err_size);
    if (rc == 0) {
        memset (result, 0, sizeof *result);
        result->rps = bench_find (figures, "rps")->value;
        result->p50_us = bench_find (figures, "p50")->value;
        result->p99_us = bench_find (figures, "p99")->value;
        result->p999_us = bench_find (figures, "p999")->value;
    }
    free (figures);
    return rc;
}

/* nats-server and the echo responder, when both binaries are there:
 * returns 1 when started, 0 when not there (said on stderr), -1 on
 * failure. */
static int
s_start_nats (bench_env_t *env, bench_nats_t *nats, char *err, size_t err_size)
{
    char why[512];
    if (bench_nats_find (nats, why, sizeof why) < 0) {
        fprintf (stderr, "bench rr: NATS baseline not measured: %s\n", why);
        return 0;
    }
    if (bench_nats_start (env, nats, err, err_size) < 0)
        return -1;
    const char *argv[] = {nats->helper, "echo",       "--url", nats->url,
                          "--subject",  NATS_SUBJECT, NULL};
    //  the rr client waits until the echo answers (no responders before)
    return bench_spawn (env, "nats-echo.log", argv, err, err_size) < 0 ? -1 : 1;
}

/* One in-flight count: OneNet and the baseline in alternating rounds
 * (bench_interleave), then NATS (when nats is not NULL), whose helper
 * reports figures rather than latencies to pool. */
static int
s_measure (bench_env_t *env, const char *onenet, const char *baseline, const bench_nats_t *nats,
           size_t inflight, const bench_options_t *options, bench_report_t *report, char *err,
           size_t err_size)
{
    bench_echo_t body;
    bench_echo_init (&body);

    bench_load_t load = {.endpoint = onenet,
                         .service = "test.echo",
                         .inflight = inflight,
                         .warmup_s = BENCH_WARMUP_S,
                         .duration_s = options->duration_s,
                         .timeout_ms = CALL_TIMEOUT_MS,
                         .body = bench_echo_body,
                         .state = &body};
    baseline_t bare_client = {.frontend = baseline, .inflight = inflight};
    bench_side_t pair[2] = {{.round = bench_onenet_round, .state = &load},
                            {.round = s_baseline_round, .state = &bare_client}};
    char what[64], bare_what[64];
    snprintf (what, sizeof what, "test.echo with %zu in flight", inflight);
    snprintf (bare_what, sizeof bare_what, "the bare ZeroMQ echo with %zu in flight", inflight);
    if (bench_interleave (pair, 2, BENCH_WARMUP_S, options->duration_s, err, err_size) < 0 ||
        bench_result_check (what, &pair[0].result, options->duration_s, err, err_size) < 0 ||
        bench_result_check (bare_what, &pair[1].result, options->duration_s, err, err_size) < 0)
        return -1;
    const bench_result_t mine = pair[0].result, bare = pair[1].result;
    bench_result_t theirs = {0};
    if (nats && s_nats_load (env, nats, inflight, options->duration_s, &theirs, err, err_size) < 0)
        return -1;
    const struct {
        const char *side;
        const bench_result_t *result;
    } sides[] = {{"onenet", &mine}, {"baseline", &bare}, {"nats", &theirs}};
    for (size_t i = 0; i < (nats ? 3u : 2u); i++) {
        const char *side = sides[i].side;
        const bench_result_t *r = sides[i].result;
        bench_add (report, BENCH_MEASURED, "req/s", 0, r->rps, "rr.inflight%zu.%s.rps", inflight,
                   side);
        bench_add (report, BENCH_MEASURED, "us", 1, r->p50_us, "rr.inflight%zu.%s.p50", inflight,
                   side);
        bench_add (report, BENCH_MEASURED, "us", 1, r->p99_us, "rr.inflight%zu.%s.p99", inflight,
                   side);
        bench_add (report, BENCH_MEASURED, "us", 1, r->p999_us, "rr.inflight%zu.%s.p999", inflight,
                   side);
    }
    bench_add (report, BENCH_RATIO, "x", 3, mine.rps / bare.rps, "rr.inflight%zu.ratio", inflight);
    bench_add (report, BENCH_RATIO, "x", 3, mine.p50_us / bare.p50_us, "rr.inflight%zu.p50_ratio",
               inflight);
    if (nats) {
        bench_add (report, BENCH_RATIO, "x", 3, theirs.rps > 0 ? mine.rps / theirs.rps : 0,
                   "rr.inflight%zu.ratio_to_nats", inflight);
        if (inflight == TARGET_INFLIGHT)
            bench_add (report, BENCH_RATIO, "x", 1, TARGET_RATIO_TO_NATS,
                       "rr.inflight%zu.ratio_to_nats.target_min", inflight);
        bench_add (report, BENCH_RATIO, "x", 3, theirs.p50_us > 0 ? mine.p50_us / theirs.p50_us : 0,
                   "rr.inflight%zu.p50_ratio_to_nats", inflight);
    }
    return 0;
}

int
bench_rr (bench_env_t *env, const bench_options_t *options, bench_report_t *report, char *err,
          size_t err_size)
{
    char onenet[256], baseline[64];
    bench_nats_t nats;
    int with_nats = 0;
    if (s_start_onenet (env, options, onenet, sizeof onenet, err, err_size) < 0 ||
        s_start_baseline (env, baseline, sizeof baseline, err, err_size) < 0 ||
        (with_nats = s_start_nats (env, &nats, err, err_size)) < 0)
        return -1;
    size_t counts[2] = {1, 64};
    size_t n = 2;
    if (options->inflight) {
        counts[0] = options->inflight;
        n = 1;
    }
    for (size_t i = 0; i < n; i++)
        if (s_measure (env, onenet, baseline, with_nats ? &nats : NULL, counts[i], options, report,
                       err, err_size) < 0)
            return -1;
    return 0;
}
