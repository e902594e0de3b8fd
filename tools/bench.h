/*
 * tools/bench.h - what the files of `onenet bench` share.
 *
 *   cmd_bench.c   the command: options, subcommands, printing the figures
 *   bench_core.c  figures, latency percentiles, the closed-loop load driver
 *                 over the SDK client (N calls kept in flight), the
 *                 measured window of a fan-out run
 *   bench_proc.c  the processes a run needs: temp dir, free ports, finding
 *                 binaries, starting and stopping them by PID; nats-server
 *                 and onenet-bench-nats (tools/nats/), the NATS baseline
 *   bench_rr.c    `bench rr`: request/reply against a bare ZeroMQ baseline
 *                 and NATS
 *   bench_view.c  `bench view`: the one network view against Redis and a
 *                 single round trip
 *   bench_alerts.c `bench alerts`: persisted alerts, one publisher to four
 *                 subscribers, against Redis XADD
 *   bench_alerts_bare.c its bare side: the same fan-out with no OneNet
 *                 code, the most any design could reach
 *   bench_events.c `bench events`: department events through the broker's
 *                 relay against a bare XSUB/XPUB proxy (`bench
 *                 zmq-xproxy`) and NATS
 *   bench_memory.c `bench memory`: the broker's RSS with many subscribers
 *                 and adapters; the broker with a known alerts endpoint
 *   bench_audit.c  `bench audit`: request/reply with the audit log off and on
 *
 * A benchmark measures and reports; it never judges. Targets are printed
 * beside the figures they concern, never asserted.
 */
#ifndef ONENET_BENCH_H
#define ONENET_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "bench_samples.h"
#include "cli.h"

/* Warm-up before every measured phase: connections, caches, allocators. */
#define BENCH_WARMUP_S 0.5
/* Room for every figure of one run. */
#define BENCH_MAX_FIGURES 64

/* --- figures ----------------------------------------------------------- */

/* A figure's place in the output: measurements first, then ratios. */
typedef enum { BENCH_MEASURED = 0, BENCH_RATIO = 1 } bench_group_t;

typedef struct {
    char name[96];
    char unit[16];
    double value;
    int decimals; /* printed precision */
    bench_group_t group;
} bench_figure_t;

/* What a run prints: figures in the order they were added, by group. */
typedef struct {
    const char *benchmark; /* "rr", "view" */
    double duration_s;
    bench_figure_t figures[BENCH_MAX_FIGURES];
    size_t count;
} bench_report_t;

/* Adds a figure named printf-style. Extra figures past BENCH_MAX_FIGURES
 * are dropped (a programming error, caught by the smoke test's names). */
void bench_add (bench_report_t *report, bench_group_t group, const char *unit, int decimals,
                double value, const char *format, ...) __attribute__ ((format (printf, 6, 7)));

/* Looks a figure up by exact name; NULL if absent. */
const bench_figure_t *bench_find (const bench_report_t *report, const char *name);

/* --- load ---------------------------------------------------------------- */

/* Writes the body of request number seq into buffer (size bytes); returns
 * its length. */
typedef size_t (bench_body_fn) (void *state, uint64_t seq, uint8_t *buffer, size_t size);

/* Sees each OK reply that completed inside the measured window. */
typedef void (bench_reply_fn) (void *state, const onenet_reply_t *reply);

/* One closed-loop phase: `inflight` calls of `service` kept in flight
 * through one SDK client for warmup_s, then measured for duration_s. */
typedef struct {
    const char *endpoint;
    const char *service;
    size_t inflight;
    double warmup_s;
    double duration_s;
    uint32_t timeout_ms;
    bench_body_fn *body;
    bench_reply_fn *on_reply; /* may be NULL */
    void *state;
} bench_load_t;

/* What a phase measured. */
typedef struct {
    double rps; /* replies completed in the window per second */
    double p50_us, p99_us, p999_us;
    uint64_t completed;    /* in the window */
    uint64_t failed;       /* any non-OK reply, warm-up included */
    char first_error[200]; /* "STATUS: message" of the first failure */
} bench_result_t;

/* test.echo's request for rr and audit: an onenet.example.EchoMessage
 * packed to exactly BENCH_ECHO_BODY_SIZE bytes, the same for every call. */
#define BENCH_ECHO_BODY_SIZE 100
typedef struct {
    uint8_t body[BENCH_ECHO_BODY_SIZE];
    size_t size;
} bench_echo_t;
void bench_echo_init (bench_echo_t *echo);
/* A bench_body_fn whose state is a bench_echo_t. */
size_t bench_echo_body (void *state, uint64_t seq, uint8_t *buffer, size_t size);

/* Runs one phase with the SDK's async API (onenet_client_send /
 * onenet_client_recv). Latency of a call is from send to receive. Returns
 * 0, or -1 with a reason in err (client not created, send failed, a
 * reply did not come). Failed replies are counted, not fatal: the caller
 * decides. */
int bench_onenet_load (const bench_load_t *load, bench_result_t *result, char *err,
                       size_t err_size);

/* A benchmark of errors measures nothing: 0 when result has no failed
 * call and some completed in its duration_s, else -1 with "<what>: why"
 * in err. */
int bench_result_check (const char *what, const bench_result_t *result, double duration_s,
                        char *err, size_t err_size);

/* --- interleaved rounds --------------------------------------------------- */

/* Two phases run back to back are not measured alike on a shared machine:
 * a burst of other work lands on one and misses the other, and a ratio
 * between them moves by a third from run to run. So the sides of a ratio
 * run in turns instead: rounds of about BENCH_ROUND_S each, the order
 * reversed every round, the latencies of all rounds pooled. */
#define BENCH_ROUND_S 1.0
/* Warm-up of every round after the first: a new connection, nothing cold. */
#define BENCH_ROUND_WARMUP_S 0.1
#define BENCH_MAX_SIDES 4

/* One round of a side: warm up warmup_s, then add the latency of every call
 * that completed in the next duration_s to samples, and count failed calls
 * in result (failed, first_error). Returns 0, or -1 with a reason. */
typedef int (bench_round_fn) (void *state, double warmup_s, double duration_s,
                              bench_samples_t *samples, bench_result_t *result, char *err,
                              size_t err_size);

typedef struct {
    bench_round_fn *round;
    void *state;
    bench_result_t result; /* filled by bench_interleave */
} bench_side_t;

/* Measures each of count sides for duration_s in all, in alternating rounds
 * (one round when count is 1); the first round of each warms up warmup_s.
 * Fills each side's result over its whole measured time. Returns 0, or -1
 * with a reason. */
int bench_interleave (bench_side_t *sides, size_t count, double warmup_s, double duration_s,
                      char *err, size_t err_size);

/* A bench_round_fn whose state is a bench_load_t (its warmup_s and
 * duration_s are not used: the round's are). */
int bench_onenet_round (void *state, double warmup_s, double duration_s, bench_samples_t *samples,
                        bench_result_t *result, char *err, size_t err_size);

/* Fills result's percentiles and rate from samples over window_s. */
void bench_result_fill (bench_result_t *result, bench_samples_t *samples, double window_s);

/* --- fan-out runs --------------------------------------------------------- */

/* What the publishing thread of bench alerts or bench events and its
 * subscriber threads share. */
typedef struct {
    const char *endpoint, *alerts; /* the broker's and its XPUB's */
    _Atomic int64_t from, until;   /* bench events' measured window, CLOCK_MONOTONIC ns
                                      (bench alerts marks its alerts instead) */
    atomic_bool stop;              /* the subscriber threads end */
} bench_fanout_t;

/* Sets self up for the broker at endpoint with its XPUB at alerts (both
 * the caller's, kept by pointer), the window not open yet: nothing
 * received before bench_fanout_open counts. */
void bench_fanout_init (bench_fanout_t *self, const char *endpoint, const char *alerts);

/* Opens a window (a round's, in bench events): warmup_s from now, then
 * duration_s. Returns now (CLOCK_MONOTONIC ns). */
int64_t bench_fanout_open (bench_fanout_t *self, double warmup_s, double duration_s);

/* The size of the envelope the broker appends for one of bench alerts'
 * alerts: the value size of its XADD baseline, and the message size of
 * bench events, so both move messages of one size. */
size_t bench_envelope_size (void);

/* The MAXLEN ~ of bench alerts' own XADDs (the baseline's, the bare
 * side's): the broker's default alerts.stream_max, so that every side
 * trims its stream alike. */
#define BENCH_XADD_MAXLEN "1000000"

/* --- bench alerts' bare side (bench_alerts_bare.c) -------------------------- */

/* The least any persisted fan-out must do, with no OneNet code: a relay
 * thread appending each publish to a Redis stream (pipelined XADDs) and
 * fanning it out on an XPUB to four SUB threads that decode it. */
typedef struct bench_bare_t bench_bare_t;

/* Starts the relay (on free 127.0.0.1 ports, appending to the Redis at
 * redis_port, whose CPU time redis_pid's is) and its four subscribers, and
 * waits until they are subscribed. A round keeps inflight publishes in
 * flight, each body written by body (body_state). Returns NULL with a
 * reason. */
bench_bare_t *bench_bare_new (int redis_port, pid_t redis_pid, size_t inflight,
                              bench_body_fn *body, void *body_state, char *err, size_t err_size);

/* A bench_round_fn whose state is a bench_bare_t. Its figures stay in it
 * for bench_bare_report, not in samples or result. */
int bench_bare_round (void *state, double warmup_s, double duration_s, bench_samples_t *samples,
                      bench_result_t *result, char *err, size_t err_size);

/* Adds alerts.bare.* (rate, published, lost, CPU per alert), its ratio to
 * xadds (the XADD baseline's rate) and persisted_rps's ratio to it. */
void bench_bare_report (const bench_bare_t *self, double duration_s, double xadds,
                        double persisted_rps, bench_report_t *report);

/* Stops the threads and frees the side; sets *self_p to NULL. Safe on NULL. */
void bench_bare_destroy (bench_bare_t **self_p);

/* --- processes ----------------------------------------------------------- */

/* The processes and files of one run. Everything lives in a temp dir
 * under /tmp, removed by bench_env_cleanup unless the run failed. */
typedef struct bench_env_t bench_env_t;

/* Creates the temp dir and catches SIGINT/SIGTERM so that children are
 * stopped even when the run is interrupted. Returns NULL with a reason. */
bench_env_t *bench_env_new (char *err, size_t err_size);

/* Stops every child still running (SIGTERM, then SIGKILL after 3 s) and
 * removes the temp dir, or keeps it when keep is true and it holds
 * something (logs to read). Returns true if the dir was kept. Sets
 * *self_p to NULL. Safe on NULL. */
bool bench_env_destroy (bench_env_t **self_p, bool keep);

/* The temp dir. Owned by env. */
const char *bench_env_dir (const bench_env_t *self);

/* Finds a binary next to this executable (readlink /proc/self/exe), else
 * in $PATH. Returns 0 with the path in out, or -1 with a reason in err. */
int bench_find_binary (const char *name, char *out, size_t out_size, char *err, size_t err_size);

/* A TCP port on 127.0.0.1 nothing listens on right now; -1 on failure. */
int bench_free_port (void);

/* Starts argv[0] (a path) with stdout and stderr in <dir>/<log_name>.
 * Returns the PID, or -1 with a reason. The child dies with us
 * (PR_SET_PDEATHSIG). */
pid_t bench_spawn (bench_env_t *self, const char *log_name, const char *const argv[], char *err,
                   size_t err_size);

/* Runs argv to completion (output to log_name). Returns 0 when it exited
 * 0, else -1 with a reason. */
int bench_run (bench_env_t *self, const char *log_name, const char *const argv[], char *err,
               size_t err_size);

/* Stops one child by PID: SIGTERM, SIGKILL after 3 s. Does nothing for a
 * PID that is not a running child of env (it may have been reused). */
void bench_stop (bench_env_t *self, pid_t pid);

/* True while the child has not exited. */
bool bench_alive (bench_env_t *self, pid_t pid);

/* CPU time (user and system, every thread) a process has used so far, in
 * seconds: a child's from /proc/<pid>/stat (clock ticks, 10 ms here), or
 * this process's when pid is 0. -1 when it cannot be read. */
double bench_cpu_s (pid_t pid);

/* The CPU time one process (pid; 0: this one) used over several spans,
 * each between a start and a stop. */
typedef struct {
    pid_t pid;
    double used, started; /* seconds */
    bool unknown;         /* a read failed: no figure */
} bench_cpu_meter_t;

void bench_cpu_meter_start (bench_cpu_meter_t *self);
void bench_cpu_meter_stop (bench_cpu_meter_t *self);

/* Writes text to <dir>/name; returns 0 with the path in out, or -1. */
int bench_write_file (bench_env_t *self, const char *name, const char *text, char *out,
                      size_t out_size, char *err, size_t err_size);

/* Starts onenet-broker on 127.0.0.1:port with the config text and waits
 * until it answers onenet.ping. Returns the PID, or -1 with a reason. */
pid_t bench_start_broker (bench_env_t *self, int port, const char *config_text, char *err,
                          size_t err_size);

/* Starts /usr/bin/redis-server (else from $PATH) on 127.0.0.1:port, its
 * data in the temp dir, without persistence or with AOF on (appendfsync
 * everysec, the compose file's setting), and waits until it answers PING. */
pid_t bench_start_redis (bench_env_t *self, int port, bool aof, char *err, size_t err_size);

/* Starts onenet-broker on redis_port's Redis (0: none; alerts would be
 * spooled), its alert spool in the temp dir, no audit, on free ports, with
 * extra_config (NULL: none) appended to its config; writes endpoint and
 * alerts (its XPUB) to the buffers and waits until it answers
 * onenet.ping. Returns the PID, or -1 with a reason. */
pid_t bench_start_alerts_broker (bench_env_t *self, int redis_port, const char *extra_config,
                                 char *endpoint, size_t endpoint_size, char *alerts,
                                 size_t alerts_size, char *err, size_t err_size);

/* True if the broker at endpoint answers onenet.ping within timeout_ms. */
bool bench_ping (const char *endpoint, uint32_t timeout_ms);

/* Waits until the broker at endpoint lists a live instance of service.
 * Returns 0, or -1 with a reason after timeout_ms. */
int bench_wait_service (const char *endpoint, const char *service, int timeout_ms, char *err,
                        size_t err_size);

/* "tcp://127.0.0.1:PORT" into out; returns out. */
const char *bench_endpoint (char *out, size_t size, int port);

/* --- the NATS baseline --------------------------------------------------- */

/* nats-server and the helper that speaks to it (onenet-bench-nats, built
 * from tools/nats/ only when libnats is there, so that this CLI never links
 * libnats). The helper prints `name value unit` lines like ours. */
typedef struct {
    char server[512]; /* nats-server */
    char helper[512]; /* onenet-bench-nats */
    char url[64];     /* nats://127.0.0.1:PORT once started */
    pid_t pid;        /* the running nats-server; 0 before bench_nats_start */
} bench_nats_t;

/* Finds nats-server (in $PATH, then /usr/sbin and /usr/bin: Debian puts it
 * in /usr/sbin, which not every PATH has) and onenet-bench-nats (next to
 * this executable, else in $PATH). Returns 0, or -1 with why one is
 * missing in why: not an error, the NATS figures are then left out and
 * the caller says so on stderr. */
int bench_nats_find (bench_nats_t *self, char *why, size_t why_size);

/* Starts nats-server on 127.0.0.1 on a free port (no monitoring, cluster
 * or other listener) and waits until it greets a connection. Fills url and
 * pid. Returns 0, or -1 with a reason. Stop it with bench_stop. */
int bench_nats_start (bench_env_t *env, bench_nats_t *self, char *err, size_t err_size);

/* Runs `onenet-bench-nats args... --url URL` to completion (args ends with
 * NULL; output in <dir>/log_name) and reads its `name value unit` lines
 * into figures, names as printed. Returns 0, or -1 with a reason (it
 * failed, or left out one of the names in required, which ends with
 * NULL). */
int bench_nats_run (bench_env_t *env, const bench_nats_t *self, const char *log_name,
                    const char *const args[], const char *const required[], bench_report_t *figures,
                    char *err, size_t err_size);

/* --- benchmarks ---------------------------------------------------------- */

/* The options of `onenet bench`. */
typedef struct {
    double duration_s;
    size_t inflight; /* 0: the benchmark's default */
    long people;
    const char *broker; /* NULL: start a system of our own */
    size_t subscribers; /* memory: SUB sockets to connect */
    size_t adapters;    /* memory: test adapters to start */
    bool aof;           /* Redis with AOF on (appendfsync everysec), as deployed */
    size_t event_batch; /* events: the broker's events.batch_max; 0: its default */
    size_t batch;       /* rr: the broker's broker.batch_max; 0: its default */
} bench_options_t;

/* Each runs its benchmark, filling report. Returns 0, or -1 with a reason
 * in err. env holds what they start. */
int bench_rr (bench_env_t *env, const bench_options_t *options, bench_report_t *report, char *err,
              size_t err_size);
int bench_view (bench_env_t *env, const bench_options_t *options, bench_report_t *report, char *err,
                size_t err_size);
int bench_alerts (bench_env_t *env, const bench_options_t *options, bench_report_t *report,
                  char *err, size_t err_size);
int bench_events (bench_env_t *env, const bench_options_t *options, bench_report_t *report,
                  char *err, size_t err_size);
int bench_memory (bench_env_t *env, const bench_options_t *options, bench_report_t *report,
                  char *err, size_t err_size);
int bench_audit (bench_env_t *env, const bench_options_t *options, bench_report_t *report,
                 char *err, size_t err_size);

/* The baseline's own processes, run as hidden subcommands of this binary
 * (`onenet bench zmq-proxy FRONTEND BACKEND`, `onenet bench zmq-echo
 * BACKEND`) so they are separate processes like the broker and adapter.
 * They run until killed; return an exit code on failure. */
int bench_zmq_proxy_main (const char *frontend, const char *backend);
int bench_zmq_echo_main (const char *backend);
/* `onenet bench zmq-xproxy FRONTEND BACKEND`: XSUB/XPUB zmq_proxy, the
 * baseline of bench events. */
int bench_zmq_xproxy_main (const char *frontend, const char *backend);

#endif
