/*
 * harness.h - integration tests run real processes (broker, adapters,
 * redis-server) on 127.0.0.1: free ports, a temp dir per test, every
 * process stopped by PID. Nothing is mocked.
 */
#ifndef ONENET_TEST_HARNESS_H
#define ONENET_TEST_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>
#include "onenet/onenet.h"

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
int harness_free_port (void);

/* A new directory under /tmp, removed by harness_cleanup. Static string. */
const char *harness_tempdir (void);

/* Path of a built binary: $ONENET_BINARY_DIR/name (static buffer per call
 * site is not kept: copy it if you need two). */
const char *harness_bin (const char *name);

/* Starts argv[0] (a path) with stdout and stderr appended to log_name in
 * the temp dir. Returns its PID; fails the test if it cannot start. */
pid_t harness_spawn (const char *log_name, const char *const argv[]);

/* Sends sig to pid and waits for it up to 5 s, then SIGKILL. Returns the
 * raw wait status. Safe on pid <= 0 (returns 0). */
int harness_stop (pid_t pid, int sig);

/* Starts onenet-broker on tcp://127.0.0.1:port with optional extra config
 * text (a libconfig file body written to the temp dir; NULL for defaults).
 * Waits until it answers onenet.ping. */
pid_t harness_start_broker (int port, const char *config_text);

/* The same, run through a wrapper command (argv ending in NULL), e.g.
 * { "/usr/bin/prlimit", "--fsize=3000", NULL }, logging to log_name in
 * the temp dir (NULL: broker-<port>.log, as harness_start_broker). The
 * PID is the broker's once the wrapper has exec'd it. */
pid_t harness_start_broker_under (const char *const wrapper[], const char *log_name, int port,
                                  const char *config_text);

/* The free port a broker started by the harness on broker_port uses for
 * alert subscribers (when its config names none); the same for restarts. */
int harness_alerts_port (int broker_port);

/* Waits until the subscriptions already set on sub, a SUB socket connected
 * to a broker's alerts endpoint, are in force at the broker, so that
 * nothing published from now on is missed: subscribes to "tick" too and
 * waits for one (the broker ticks every second, and its XPUB applies a
 * connection's subscriptions in order, so the earlier ones are in force),
 * drops what came before it, then unsubscribes from "tick" (a SUB socket
 * filters too: no later tick reaches the test). Fails the test when no
 * tick came within timeout_ms. A fixed sleep was not enough on a loaded
 * machine. */
void harness_await_subscriptions (void *sub, int timeout_ms);

/* Starts the test adapter (tests/adapter) with extra arguments, e.g.
 * "--instance", "a1", NULL. */
pid_t harness_start_adapter (int port, const char *instance, const char *const extra[]);

/* Waits until `service` has `instances` live instances (or more). */
bool harness_wait_instances (int port, const char *service, size_t instances, int timeout_ms);

/* "tcp://127.0.0.1:PORT" in a static buffer. */
const char *harness_endpoint (int port);

/* Starts a private redis-server on 127.0.0.1:port with its data in the
 * temp dir (AOF on when aof is true) and waits until it answers PING.
 * Restarting on the same port with the same aof reuses the same data. */
pid_t harness_start_redis (int port, bool aof);

/* Runs a command (argv[0] a path) to completion with output appended to
 * log_name; returns its exit status (or -1 if it did not exit normally). */
int harness_run (const char *log_name, const char *const argv[]);

/* Stops a process the way an operator does (SIGTERM) and checks that it
 * shut down cleanly: exit status 0 within 5 s. In a sanitizer build that
 * also means LeakSanitizer found nothing still allocated at exit and no
 * ASan/UBSan error happened on the way out (they exit non-zero). On
 * failure prints why and the tail of log_name to stderr. */
bool harness_stop_clean (pid_t pid, const char *log_name);

/* harness_stop_clean for every process still running, newest first (so
 * adapters and clients go before the broker, the broker before Redis).
 * Returns false if any of them did not exit 0. */
bool harness_stop_all_clean (void);

/* A cmocka test, listed last in a group whose processes live for the
 * whole group: asserts harness_stop_all_clean (a group teardown's result
 * does not fail the run). */
void harness_test_exits_cleanly (void **state);

/* Kills every process still started by the harness and removes the temp dir. */
void harness_cleanup (void);

/* Waits up to timeout_ms for text to appear in log_name (in the temp dir):
 * how a test learns that a process reached a state it only logs. */
bool harness_log_has (const char *log_name, const char *text, int timeout_ms);

/* Does a record of the broker's audit log (onenet-audit.log in the temp
 * dir), written within 5 s, hold all three strings? */
bool harness_audit_has (const char *a, const char *b, const char *c);

/* Packs an EchoMessage {payload, delay_ms} into buf; returns its size. */
/* A counter or gauge from the /metrics of a broker whose http.endpoint is
 * 127.0.0.1:http_port; -1 if it cannot be read. */
double harness_metric (int http_port, const char *name);

/* The integer reply of `redis-cli -p port COMMAND` (a Redis started with
 * harness_start_redis); fails the test on anything else. */
long long harness_redis_int (int port, const char *command);

/* tests/data/cap/NAME ($ONENET_SOURCE_DIR) parsed; fails the test if it
 * cannot be read or parsed. Free with onenet__alert__alert__free_unpacked. */
struct Onenet__Alert__Alert *harness_cap_sample (const char *name);

size_t harness_echo_body (uint8_t *buf, size_t size, const char *payload, uint32_t delay_ms);

/* A bare DEALER in context, registered with the broker on port as an
 * adapter of department (READY offering "raw.unused", credit 1), for
 * tests that need exact frames. Asserts the WELCOME; stores its
 * event_batch_max in *event_batch_max when not NULL. */
void *harness_bare_adapter (void *context, int port, const char *department,
                            const char *instance, uint32_t *event_batch_max);
/* The same offering service (idempotent or not) with this credit and
 * Ready.batch_max; stores the WELCOME's batch_max in *welcome_batch_max
 * when not NULL. */
void *harness_bare_adapter_offer (void *context, int port, const char *department,
                                  const char *instance, const char *service, bool idempotent,
                                  uint32_t credit, uint32_t batch_max,
                                  uint32_t *welcome_batch_max);
/* Packs events as an EVENT's batch body frame (docs/PROTOCOL.md, "Event
 * batches") into batch (room bytes): each after its length, a one-byte
 * varint, so each must pack to under 128 bytes (asserted). Returns the
 * frame's size. */
size_t harness_event_batch (uint8_t *batch, size_t room, const ProtobufCMessage *const events[],
                            size_t count);
/* Sends an EVENT of count events (0: one, body is its plain bytes) on a
 * bare adapter, time now. */
void harness_send_event (void *dealer, const char *topic, const char *type, uint32_t count,
                         const uint8_t *body, size_t size);

/* Says DISCONNECT, so the broker forgets it at once (not after missed
 * heartbeats, meanwhile counting it as its department's), and closes it. */
void harness_bare_adapter_close (void *dealer);

#endif
