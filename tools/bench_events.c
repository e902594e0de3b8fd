/*
 * tools/bench_events.c - `onenet bench events`: plain (not persisted)
 * department events through the broker's relay, best effort, beside a bare
 * ZeroMQ XSUB/XPUB proxy and NATS doing the same fan-out.
 *
 * The system: the broker without Redis and without audit, and one
 * onenet-test-adapter --emit. Four SUB sockets (a thread each) on the
 * broker's alerts endpoint subscribe to "event.test.bench"; this thread
 * keeps EMIT_INFLIGHT test.emit calls queued at the adapter, EMIT_COUNT
 * events each, until the window closes. Every event's body carries its
 * sequence number and send time (CLOCK_MONOTONIC ns, same host): a
 * subscriber counts gaps in the sequence as dropped (a SUB past its HWM, or
 * the broker's XPUB past alerts.sndhwm, loses events by design), and the
 * time gives the latency, which includes any queue the load builds (the
 * adapter publishes as fast as its socket takes events). Events are as big
 * as the envelope of one of bench alerts' alerts (bench_envelope_size), so
 * the two benchmarks move messages of the same size.
 *
 * The baseline, in the same run: a bare XSUB/XPUB zmq_proxy (`onenet bench
 * zmq-xproxy`, its own process, also here) fanning one PUB out to four SUB
 * sockets, messages as big as the event body. Both systems are up for the
 * whole run, and their publishers take turns (bench_interleave): rounds of
 * about a second, each ending when its subscribers have what it sent, so
 * that a burst of other work on a shared machine lands on both sides
 * alike. A message counts for its side's rate when it was received inside
 * one of that side's measured windows.
 * Then, when nats-server and onenet-bench-nats are both there, NATS doing
 * the same: `onenet-bench-nats fanout`, one publisher and four subscribers
 * (a connection each) through a nats-server of our own.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "bench.h"
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"
#include "onenet/wire.h"

#define SUBSCRIBERS 4

/* --- the bare XSUB/XPUB baseline ---------------------------------------- */

/* Per subscriber, then the bare proxy drops. It has no flow control, so
 * only a deep queue keeps it from dropping when a subscriber thread is
 * not scheduled for a moment (with the broker's 1000 it dropped up to a
 * fifth). The broker holds events and slows their publisher instead. */
#define EVENTS_SNDHWM 100000

/* Each subscriber thread's own queue, the same on both sides. */
#define EVENTS_RCVHWM 100000

int
bench_zmq_xproxy_main (const char *frontend, const char *backend)
{
    void *context = zmq_ctx_new ();
    void *front = context ? zmq_socket (context, ZMQ_XSUB) : NULL;
    void *back = context ? zmq_socket (context, ZMQ_XPUB) : NULL;
    int hwm = EVENTS_SNDHWM;
    if (back)
        zmq_setsockopt (back, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (!front || !back || zmq_bind (front, frontend) < 0 || zmq_bind (back, backend) < 0) {
        fprintf (stderr, "onenet bench zmq-xproxy: %s\n", zmq_strerror (errno));
        return 1;
    }
    zmq_proxy (front, back, NULL); /* until killed */
    return 1;
}

/* What every subscriber thread of this bench has, as the first member of
 * its own struct (the thread's argument points at both). */
typedef struct {
    void *context;
    const char *endpoint; /* the XPUB it connects to */
    bench_fanout_t *run;
    pthread_t thread;
    bool started;
    atomic_bool ready; /* subscribed, or failed (err says why) */
    atomic_uint_fast64_t received; /* messages of the bench (not hellos, ticks) */
    char err[200];
} sub_thread_t;

/* Starts a thread running main for each of subs. */
static int
s_subs_start (sub_thread_t *subs[SUBSCRIBERS], void *context, const char *endpoint,
              bench_fanout_t *run, void *(*main) (void *), char *err, size_t err_size)
{
    for (int i = 0; i < SUBSCRIBERS; i++) {
        subs[i]->context = context;
        subs[i]->endpoint = endpoint;
        subs[i]->run = run;
        if (pthread_create (&subs[i]->thread, NULL, main, subs[i])) {
            snprintf (err, err_size, "cannot start the SUB threads");
            return -1;
        }
        subs[i]->started = true;
    }
    return 0;
}

/* Waits up to 10 s for every subscriber to be ready, calling poke (when
 * not NULL) every 10 ms meanwhile; -1 with "SUB n: why" when one is not,
 * `silence` the why of one that heard nothing. */
static int
s_subs_wait (sub_thread_t *subs[SUBSCRIBERS], void (*poke) (void *), void *state,
             const char *silence, char *err, size_t err_size)
{
    int64_t deadline = bench_now_ns () + 10 * (int64_t)1000000000;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        while (!atomic_load (&subs[i]->ready) && bench_now_ns () < deadline) {
            if (poke)
                poke (state);
            usleep (10000);
        }
        if (subs[i]->err[0] || !atomic_load (&subs[i]->ready)) {
            snprintf (err, err_size, "SUB %d: %s", i + 1, subs[i]->err[0] ? subs[i]->err : silence);
            return -1;
        }
    }
    return 0;
}

/* Ends the subscriber threads of run that were started. */
static void
s_subs_stop (sub_thread_t *subs[SUBSCRIBERS], bench_fanout_t *run)
{
    atomic_store (&run->stop, true);
    for (int i = 0; i < SUBSCRIBERS; i++)
        if (subs[i]->started)
            pthread_join (subs[i]->thread, NULL);
}

/* How long a round waits for its subscribers to get what it sent: until
 * they have it all, or their count stops moving for ROUND_QUIET_MS (a
 * best-effort fan-out may have dropped some), at most EVENTS_DRAIN_MS. */
#define ROUND_QUIET_MS 300
#define EVENTS_DRAIN_MS 10000

static uint64_t
s_subs_received (sub_thread_t *subs[SUBSCRIBERS])
{
    uint64_t total = 0;
    for (int i = 0; i < SUBSCRIBERS; i++)
        total += atomic_load (&subs[i]->received);
    return total;
}

static void
s_wait_quiet (sub_thread_t *subs[SUBSCRIBERS], uint64_t expected)
{
    int64_t end = bench_now_ns () + (int64_t)EVENTS_DRAIN_MS * 1000000;
    uint64_t last = UINT64_MAX, now = s_subs_received (subs);
    while (now < expected && now != last && bench_now_ns () < end) {
        last = now;
        usleep (ROUND_QUIET_MS * 1000);
        now = s_subs_received (subs);
    }
}

/* Messages the baseline's publisher sends between two reads of the clock. */
#define PROXY_BURST 256

typedef struct {
    sub_thread_t base;
    atomic_uint_fast64_t in_window; /* received inside a measured window */
} event_sub_t;

static void *
s_event_sub_main (void *arg)
{
    event_sub_t *self = arg;
    sub_thread_t *base = &self->base;
    void *socket = zmq_socket (base->context, ZMQ_SUB);
    int timeout = 100, hwm = EVENTS_RCVHWM;
    if (!socket || zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
        zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt (socket, ZMQ_SUBSCRIBE, "", 0) < 0 ||
        zmq_connect (socket, base->endpoint) < 0) {
        snprintf (base->err, sizeof base->err, "SUB: %s", zmq_strerror (errno));
        atomic_store (&base->ready, true);
        if (socket)
            zmq_close (socket);
        return NULL;
    }
    uint8_t buffer[4096];
    while (!atomic_load (&base->run->stop)) {
        int size = zmq_recv (socket, buffer, sizeof buffer, 0);
        if (size < 8)
            continue;
        int64_t now = bench_now_ns ();
        uint64_t seq;
        memcpy (&seq, buffer, sizeof seq);
        if (seq == 0) {
            atomic_store (&base->ready, true);
            continue;
        }
        atomic_fetch_add (&base->received, 1);
        if (now >= atomic_load (&base->run->from) && now <= atomic_load (&base->run->until))
            atomic_fetch_add (&self->in_window, 1);
    }
    zmq_close (socket);
    return NULL;
}

/* The baseline's side: the proxy process, four SUB threads, one PUB. */
typedef struct {
    pid_t pid;
    char frontend[64], backend[64];
    void *context, *pub;
    bench_fanout_t run;
    event_sub_t subs[SUBSCRIBERS];
    sub_thread_t *threads[SUBSCRIBERS]; /* each sub's base */
    uint8_t message[4096];
    size_t size;
    uint64_t seq;       /* messages published, warm-ups included */
    uint64_t in_window; /* of those, inside the measured windows */
} proxy_side_t;

static void
s_proxy_hello (void *state)
{
    proxy_side_t *self = state;
    zmq_send (self->pub, self->message, self->size, ZMQ_DONTWAIT);
}

/* Starts the proxy and the SUB threads, connects the PUB (ZMQ_XPUB_NODROP:
 * it waits rather than drops; drops happen only at the proxy's fan-out,
 * per subscriber, as at the broker's XPUB) and sends hellos until every
 * subscription is through. */
static int
s_proxy_start (bench_env_t *env, proxy_side_t *self, char *err, size_t err_size)
{
    char self_path[PATH_MAX];
    ssize_t length = readlink ("/proc/self/exe", self_path, sizeof self_path - 1);
    if (length <= 0) {
        snprintf (err, err_size, "readlink /proc/self/exe: %s", strerror (errno));
        return -1;
    }
    self_path[length] = '\0';
    bench_endpoint (self->frontend, sizeof self->frontend, bench_free_port ());
    bench_endpoint (self->backend, sizeof self->backend, bench_free_port ());
    const char *proxy[] = {self_path, "bench", "zmq-xproxy", self->frontend, self->backend, NULL};
    self->pid = bench_spawn (env, "zmq-xproxy.log", proxy, err, err_size);
    if (self->pid < 0)
        return -1;
    usleep (200000); /* it binds */
    bench_fanout_init (&self->run, NULL, self->backend);
    self->size = bench_envelope_size ();
    if (self->size < 16)
        self->size = 16;
    self->context = zmq_ctx_new ();
    if (!self->context) {
        snprintf (err, err_size, "zmq_ctx_new: %s", zmq_strerror (errno));
        return -1;
    }
    for (int i = 0; i < SUBSCRIBERS; i++)
        self->threads[i] = &self->subs[i].base;
    if (s_subs_start (self->threads, self->context, self->backend, &self->run, s_event_sub_main,
                      err, err_size) < 0)
        return -1;
    self->pub = zmq_socket (self->context, ZMQ_PUB);
    int one = 1, linger = 0;
    if (!self->pub || zmq_setsockopt (self->pub, ZMQ_XPUB_NODROP, &one, sizeof one) < 0 ||
        zmq_setsockopt (self->pub, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_connect (self->pub, self->frontend) < 0) {
        snprintf (err, err_size, "PUB: %s", zmq_strerror (errno));
        return -1;
    }
    //  hello messages (sequence number 0) until every subscription is through
    return s_subs_wait (self->threads, s_proxy_hello, self, "got nothing through the proxy in 10 s",
                        err, err_size);
}

/* A bench_round_fn: publishes as fast as the PUB's pipe takes messages
 * for the warm-up and the round, then waits for the subscribers. */
static int
s_proxy_round (void *state, double warmup_s, double duration_s, bench_samples_t *samples,
               bench_result_t *result, char *err, size_t err_size)
{
    proxy_side_t *self = state;
    (void)samples;
    (void)result;
    bench_fanout_open (&self->run, warmup_s, duration_s);
    int64_t from = atomic_load (&self->run.from), until = atomic_load (&self->run.until);
    for (int64_t now = bench_now_ns (); now < until; now = bench_now_ns ()) {
        for (int i = 0; i < PROXY_BURST; i++) {
            self->seq++;
            memcpy (self->message, &self->seq, sizeof self->seq);
            if (zmq_send (self->pub, self->message, self->size, 0) < 0) {
                snprintf (err, err_size, "PUB send: %s", zmq_strerror (errno));
                return -1;
            }
        }
        if (now >= from)
            self->in_window += PROXY_BURST;
    }
    s_wait_quiet (self->threads, self->seq * SUBSCRIBERS);
    return 0;
}

/* Stops the SUB threads and the proxy; NULL-safe on what never started. */
static void
s_proxy_stop (bench_env_t *env, proxy_side_t *self)
{
    if (self->threads[0])
        s_subs_stop (self->threads, &self->run);
    if (self->pub)
        zmq_close (self->pub);
    if (self->context)
        zmq_ctx_term (self->context);
    if (self->pid > 0)
        bench_stop (env, self->pid);
}

static void
s_proxy_report (const proxy_side_t *self, double duration_s, bench_report_t *report)
{
    uint64_t received = 0, in_window = 0;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        received += atomic_load (&self->subs[i].base.received);
        in_window += atomic_load (&self->subs[i].in_window);
    }
    uint64_t expected = self->seq * SUBSCRIBERS;
    bench_add (report, BENCH_MEASURED, "msgs/s", 0, (double)in_window / duration_s,
               "events.baseline.delivered.rps");
    bench_add (report, BENCH_MEASURED, "msgs/s", 0, (double)self->in_window / duration_s,
               "events.baseline.published.rps");
    bench_add (report, BENCH_MEASURED, "msgs", 0, (double)self->seq, "events.baseline.published");
    bench_add (report, BENCH_MEASURED, "msgs", 0, (double)received, "events.baseline.received");
    bench_add (report, BENCH_MEASURED, "msgs", 0,
               (double)(expected > received ? expected - received : 0), "events.baseline.dropped");
}

/* --- OneNet ------------------------------------------------------------ */

/* What the subscribers subscribe to: the test adapter's "bench" events. */
#define EVENTS_TOPIC "event.test.bench"
/* Events per test.emit call, and calls kept queued at the adapter. */
#define EMIT_COUNT 20000
#define EMIT_INFLIGHT 2
#define EMIT_TIMEOUT_MS 30000
/* One latency sample per this many events (memory at high rates). */
#define EVENTS_SAMPLE_EVERY 4
#define TARGET_RATIO_TO_PROXY 0.8
/* The targets against NATS: at least as many events delivered,
 * and none dropped. */
#define TARGET_RATIO_TO_NATS 1.0
#define TARGET_DROPPED 0
#define NATS_EVENTS_SUBJECT "event.test.bench"

typedef struct {
    sub_thread_t base; /* ready at its first tick */
    uint64_t last;      /* highest sequence number seen */
    uint64_t gaps;      /* sequence numbers skipped (dropped) */
    uint64_t reordered; /* at or below last: duplicate or late */
    uint64_t foreign;   /* not a well-formed bench event from "test" */
    uint64_t messages;  /* event messages (a lone event or a batch) */
    onenet_arena_t arena; /* both frames unpacked without malloc */
    uint8_t room[1024];
    uint64_t in_window; /* received inside a measured window */
    bench_samples_t latency;
} onenet_sub_t;

/* One bench event's EchoMessage body. */
static void
s_onenet_take_body (onenet_sub_t *self, const void *body, size_t size, int64_t now)
{
    Onenet__Example__EchoMessage *echo = (Onenet__Example__EchoMessage *)protobuf_c_message_unpack (
        &onenet__example__echo_message__descriptor, &self->arena.allocator, size, body);
    if (!echo || echo->payload.len < 16) {
        self->foreign++;
        return;
    }
    uint64_t seq;
    int64_t sent;
    memcpy (&seq, echo->payload.data, sizeof seq);
    memcpy (&sent, echo->payload.data + 8, sizeof sent);
    atomic_fetch_add (&self->base.received, 1);
    if (seq <= self->last)
        self->reordered++;
    else {
        self->gaps += seq - self->last - 1;
        self->last = seq;
    }
    const bench_fanout_t *run = self->base.run;
    int64_t from = atomic_load (&run->from), until = atomic_load (&run->until);
    if (now >= from && now <= until)
        self->in_window++;
    if (seq % EVENTS_SAMPLE_EVERY == 0 && sent >= from && sent <= until && now >= sent)
        bench_samples_add (&self->latency, (uint64_t)(now - sent));
}

/* One event message as relayed: [topic NUL EventHeader][EchoMessage body,
 * or a batch of them]. */
static void
s_onenet_take (onenet_sub_t *self, zmq_msg_t *head_frame, zmq_msg_t *body_frame, int64_t now)
{
    Onenet__EventHeader *header = (Onenet__EventHeader *)onenet_wire_unpack_event_head (
        &onenet__event_header__descriptor, head_frame, NULL, &self->arena);
    onenet_event_bodies_t bodies;
    if (!header || strcmp (header->department, "test") != 0 || strcmp (header->topic, "bench") != 0 ||
        onenet_event_bodies_init (&bodies, header->count, zmq_msg_data (body_frame),
                                  zmq_msg_size (body_frame)) < 0) {
        self->foreign++;
    } else {
        self->messages++;
        const void *body;
        size_t size;
        while (onenet_event_bodies_next (&bodies, &body, &size)) {
            s_onenet_take_body (self, body, size, now);
            onenet_arena_reset (&self->arena);   //  the header is read by now
        }
    }
    onenet_arena_reset (&self->arena);
}

static void *
s_onenet_sub_main (void *arg)
{
    onenet_sub_t *self = arg;
    sub_thread_t *base = &self->base;
    onenet_arena_init (&self->arena, self->room, sizeof self->room);
    void *socket = zmq_socket (base->context, ZMQ_SUB);
    int timeout = 100, hwm = EVENTS_RCVHWM;
    //  "tick" too, until the first: the broker's tick each second says the
    //  subscription is through (sent on connect, before it). Then no more:
    //  ticks are sent without waiting for room, and one that meets a full
    //  queue makes ZeroMQ leave that queue out of the events that follow
    //  (docs/PROTOCOL.md, "Event flow control")
    if (!socket || zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
        zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt (socket, ZMQ_SUBSCRIBE, EVENTS_TOPIC, strlen (EVENTS_TOPIC)) < 0 ||
        zmq_setsockopt (socket, ZMQ_SUBSCRIBE, "tick", 4) < 0 ||
        zmq_connect (socket, base->endpoint) < 0) {
        snprintf (base->err, sizeof base->err, "SUB: %s", zmq_strerror (errno));
        atomic_store (&base->ready, true);
        if (socket)
            zmq_close (socket);
        return NULL;
    }
    zmq_msg_t frames[2];
    for (int i = 0; i < 2; i++)
        zmq_msg_init (&frames[i]);
    while (!atomic_load (&base->run->stop)) {
        if (zmq_msg_recv (&frames[0], socket, 0) < 0)
            continue;
        int count = 1;
        while (zmq_msg_more (&frames[count < 2 ? count - 1 : 1])) {
            //  a third frame and beyond (none in an event) lands in the last
            zmq_msg_recv (&frames[count < 2 ? count : 1], socket, 0);
            count++;
        }
        int64_t now = bench_now_ns ();
        if (zmq_msg_size (&frames[0]) == 4 && memcmp (zmq_msg_data (&frames[0]), "tick", 4) == 0) {
            if (!atomic_load (&base->ready))
                zmq_setsockopt (socket, ZMQ_UNSUBSCRIBE, "tick", 4);
            atomic_store (&base->ready, true);
        }
        else if (count == 2)
            s_onenet_take (self, &frames[0], &frames[1], now);
        else
            self->foreign++;
    }
    for (int i = 0; i < 2; i++)
        zmq_msg_close (&frames[i]);
    zmq_close (socket);
    return NULL;
}

typedef struct {
    uint64_t published; /* events the adapter reported published */
    uint64_t last_seq;  /* the highest sequence number published */
    int64_t emit_ns;    /* time from each round's first call to its last reply */
} emitted_t;

/* OneNet's side: the broker, one test adapter, four SUB threads on the
 * alerts endpoint, and the client that asks the adapter to emit. */
typedef struct {
    pid_t broker, adapter;
    char endpoint[64], alerts[64];
    void *context;
    bench_fanout_t run;
    onenet_sub_t subs[SUBSCRIBERS];
    sub_thread_t *threads[SUBSCRIBERS]; /* each sub's base */
    onenet_client_t *client;
    uint8_t body[4200]; /* the test.emit request */
    size_t size;
    emitted_t emitted;
} onenet_side_t;

/* Starts the broker, the adapter and the SUB threads (each ready at its
 * first tick), and builds the test.emit request: an EchoMessage whose
 * payload (the event body template) is as big as the baseline's message. */
static int
s_onenet_start (bench_env_t *env, onenet_side_t *self, size_t event_batch, char *err,
                size_t err_size)
{
    char binary[PATH_MAX], batch[64] = "";
    if (event_batch)
        snprintf (batch, sizeof batch, "events = { batch_max = %zu; };\n", event_batch);
    self->broker = bench_start_alerts_broker (env, 0, batch, self->endpoint, sizeof self->endpoint,
                                              self->alerts, sizeof self->alerts, err, err_size);
    if (self->broker < 0)
        return -1;
    if (bench_find_binary ("onenet-test-adapter", binary, sizeof binary, err, err_size) < 0)
        return -1;
    const char *argv[] = {binary,         "--broker", self->endpoint, "--instance",
                          "bench-events", "--emit",   NULL};
    self->adapter = bench_spawn (env, "adapter-events.log", argv, err, err_size);
    if (self->adapter < 0 ||
        bench_wait_service (self->endpoint, "test.emit", 10000, err, err_size) < 0)
        return -1;
    bench_fanout_init (&self->run, self->endpoint, self->alerts);
    self->context = zmq_ctx_new ();
    if (!self->context) {
        snprintf (err, err_size, "zmq_ctx_new: %s", zmq_strerror (errno));
        return -1;
    }
    for (int i = 0; i < SUBSCRIBERS; i++)
        self->threads[i] = &self->subs[i].base;
    if (s_subs_start (self->threads, self->context, self->alerts, &self->run, s_onenet_sub_main,
                      err, err_size) < 0 ||
        s_subs_wait (self->threads, NULL, NULL, "no tick from the broker within 10 s", err,
                     err_size) < 0)
        return -1;
    self->client = onenet_client_new (self->endpoint, err, err_size);
    if (!self->client)
        return -1;
    uint8_t payload[4096];
    size_t payload_size = bench_envelope_size ();
    if (payload_size < 16)
        payload_size = 16;
    if (payload_size > sizeof payload)
        payload_size = sizeof payload;
    memset (payload, 'x', payload_size);
    Onenet__Example__EchoMessage request = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    request.payload.data = payload;
    request.payload.len = payload_size;
    request.delay_ms = EMIT_COUNT;
    self->size = protobuf_c_message_pack (&request.base, self->body);
    return 0;
}

/* Takes one test.emit reply: how many events, from which sequence number. */
static int
s_emit_reply (onenet_side_t *self, char *err, size_t err_size)
{
    onenet_reply_t *reply = onenet_client_recv (self->client, EMIT_TIMEOUT_MS + 3000);
    if (!reply) {
        snprintf (err, err_size, "no reply to test.emit within %d ms", EMIT_TIMEOUT_MS + 3000);
        return -1;
    }
    Onenet__Example__EchoMessage *done =
        onenet_reply_status (reply) == ONENET_OK
            ? (Onenet__Example__EchoMessage *)onenet_reply_unpack (
                  reply, &onenet__example__echo_message__descriptor)
            : NULL;
    int rc = 0;
    if (!done || done->payload.len != 8) {
        snprintf (err, err_size, "test.emit: %s",
                  onenet_reply_status (reply) == ONENET_OK ? "reply not understood"
                                                           : onenet_reply_message (reply));
        rc = -1;
    } else {
        uint64_t first;
        memcpy (&first, done->payload.data, sizeof first);
        self->emitted.published += done->delay_ms;
        if (done->delay_ms && first + done->delay_ms - 1 > self->emitted.last_seq)
            self->emitted.last_seq = first + done->delay_ms - 1;
    }
    if (done)
        protobuf_c_message_free_unpacked (&done->base, NULL);
    onenet_reply_destroy (&reply);
    return rc;
}

/* A bench_round_fn: keeps EMIT_INFLIGHT test.emit calls queued at the
 * adapter for the warm-up and the round, takes the last replies, then
 * waits for the subscribers. */
static int
s_onenet_round (void *state, double warmup_s, double duration_s, bench_samples_t *samples,
                bench_result_t *result, char *err, size_t err_size)
{
    onenet_side_t *self = state;
    (void)samples;
    (void)result;
    int64_t start = bench_fanout_open (&self->run, warmup_s, duration_s);
    int64_t until = atomic_load (&self->run.until);
    onenet_call_options_t options = {.timeout_ms = EMIT_TIMEOUT_MS};
    for (;;) {
        while (bench_now_ns () < until && onenet_client_pending (self->client) < EMIT_INFLIGHT)
            if (onenet_client_send (self->client, "test.emit", self->body, self->size, &options) ==
                0) {
                snprintf (err, err_size, "test.emit: %s", onenet_client_error (self->client));
                return -1;
            }
        if (onenet_client_pending (self->client) == 0)
            break;
        if (s_emit_reply (self, err, err_size) < 0)
            return -1;
    }
    self->emitted.emit_ns += bench_now_ns () - start;
    s_wait_quiet (self->threads, self->emitted.published * SUBSCRIBERS);
    return 0;
}

/* Stops the SUB threads, the client, the adapter and the broker;
 * NULL-safe on what never started. */
static void
s_onenet_stop (bench_env_t *env, onenet_side_t *self)
{
    if (self->threads[0])
        s_subs_stop (self->threads, &self->run);
    onenet_client_destroy (&self->client);
    if (self->context)
        zmq_ctx_term (self->context);
    if (self->adapter > 0)
        bench_stop (env, self->adapter);
    if (self->broker > 0)
        bench_stop (env, self->broker);
}

/* OneNet's figures; its delivered rate to delivered_rps. */
static void
s_onenet_report (onenet_side_t *self, double duration_s, double *delivered_rps,
                 bench_report_t *report)
{
    const emitted_t *emitted = &self->emitted;
    bench_samples_t all = {0};
    uint64_t received = 0, in_window = 0, dropped = 0, unexpected = 0, messages = 0;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        onenet_sub_t *sub = &self->subs[i];
        for (size_t j = 0; j < sub->latency.count; j++)
            bench_samples_add (&all, sub->latency.ns[j]);
        received += atomic_load (&sub->base.received);
        in_window += sub->in_window;
        //  gaps, and the tail a subscriber never saw
        dropped += sub->gaps + (emitted->last_seq > sub->last ? emitted->last_seq - sub->last : 0);
        unexpected += sub->reordered + sub->foreign;
        messages += sub->messages;
    }
    bench_samples_sort (&all);
    *delivered_rps = (double)in_window / duration_s;
    bench_add (report, BENCH_MEASURED, "msgs/s", 0, *delivered_rps, "events.onenet.delivered.rps");
    for (int i = 0; i < SUBSCRIBERS; i++)
        bench_add (report, BENCH_MEASURED, "msgs/s", 0, (double)self->subs[i].in_window / duration_s,
                   "events.onenet.sub%d.delivered.rps", i + 1);
    bench_add (report, BENCH_MEASURED, "msgs/s", 0,
               emitted->emit_ns > 0 ? (double)emitted->published * 1e9 / (double)emitted->emit_ns
                                    : 0,
               "events.onenet.published.rps");
    bench_add (report, BENCH_MEASURED, "us", 1, bench_samples_us (&all, 0.50),
               "events.onenet.latency.p50");
    bench_add (report, BENCH_MEASURED, "us", 1, bench_samples_us (&all, 0.99),
               "events.onenet.latency.p99");
    bench_add (report, BENCH_MEASURED, "msgs", 0, (double)emitted->published,
               "events.onenet.published");
    bench_add (report, BENCH_MEASURED, "msgs", 0, (double)received, "events.onenet.received");
    bench_add (report, BENCH_MEASURED, "msgs", 0, (double)dropped, "events.onenet.dropped");
    bench_add (report, BENCH_MEASURED, "msgs", 0, TARGET_DROPPED,
               "events.onenet.dropped.target_max");
    bench_add (report, BENCH_MEASURED, "msgs", 0, (double)unexpected, "events.onenet.unexpected");
    bench_add (report, BENCH_MEASURED, "msgs", 1, messages ? (double)received / (double)messages : 0,
               "events.onenet.events_per_message");
    bench_samples_free (&all);
}

/* --- NATS -------------------------------------------------------------- */

/* NATS's run, when nats-server and onenet-bench-nats are both there:
 * returns 1 with its figures in report and delivered_rps, 0 when it was
 * not measured (said on stderr), -1 on failure. The server is stopped
 * after. */
static int
s_events_nats (bench_env_t *env, double duration_s, double *delivered_rps, bench_report_t *report,
               char *err, size_t err_size)
{
    bench_nats_t nats;
    char why[512];
    if (bench_nats_find (&nats, why, sizeof why) < 0) {
        fprintf (stderr, "bench events: NATS baseline not measured: %s\n", why);
        return 0;
    }
    if (bench_nats_start (env, &nats, err, err_size) < 0)
        return -1;
    char subscribers[16], duration[32], warmup[32], payload[16];
    snprintf (subscribers, sizeof subscribers, "%d", SUBSCRIBERS);
    snprintf (duration, sizeof duration, "%g", duration_s);
    snprintf (warmup, sizeof warmup, "%g", BENCH_WARMUP_S);
    snprintf (payload, sizeof payload, "%zu", bench_envelope_size ());
    const char *args[] = {"fanout",        "--subject", NATS_EVENTS_SUBJECT,
                          "--subscribers", subscribers, "--duration",
                          duration,        "--warmup",  warmup,
                          "--payload",     payload,     NULL};
    const char *required[] = {"delivered.rps",      "sub1.delivered.rps", "sub2.delivered.rps",
                              "sub3.delivered.rps", "sub4.delivered.rps", "published.rps",
                              "published",          "received",           "dropped",
                              "client_dropped",     "disconnected",       NULL};
    bench_report_t *figures = calloc (1, sizeof *figures);
    int rc = figures ? bench_nats_run (env, &nats, "nats-fanout.log", args, required, figures, err,
                                       err_size)
                     : -1;
    if (!figures)
        snprintf (err, err_size, "out of memory");
    bench_stop (env, nats.pid);
    if (rc == 0) {
        *delivered_rps = bench_find (figures, "delivered.rps")->value;
        for (size_t i = 0; required[i]; i++) {
            const bench_figure_t *figure = bench_find (figures, required[i]);
            bench_add (report, BENCH_MEASURED, figure->unit, 0, figure->value, "events.nats.%s",
                       figure->name);
        }
    }
    free (figures);
    return rc < 0 ? -1 : 1;
}

int
bench_events (bench_env_t *env, const bench_options_t *options, bench_report_t *report, char *err,
              size_t err_size)
{
    if (options->broker) {
        snprintf (err, err_size, "bench events starts its own broker and adapter (no --broker)");
        return -1;
    }
    onenet_side_t *onenet = calloc (1, sizeof *onenet);
    proxy_side_t *proxy = calloc (1, sizeof *proxy);
    int rc = onenet && proxy ? 0 : -1;
    if (rc < 0)
        snprintf (err, err_size, "out of memory");
    if (rc == 0)
        rc = s_onenet_start (env, onenet, options->event_batch, err, err_size);
    if (rc == 0)
        rc = s_proxy_start (env, proxy, err, err_size);
    if (rc == 0) {
        bench_side_t sides[2] = {{.round = s_onenet_round, .state = onenet},
                                 {.round = s_proxy_round, .state = proxy}};
        rc = bench_interleave (sides, 2, BENCH_WARMUP_S, options->duration_s, err, err_size);
    }
    if (proxy)
        s_proxy_stop (env, proxy);
    if (onenet)
        s_onenet_stop (env, onenet);
    double delivered = 0;
    if (rc == 0) {
        s_onenet_report (onenet, options->duration_s, &delivered, report);
        s_proxy_report (proxy, options->duration_s, report);
        const bench_figure_t *baseline = bench_find (report, "events.baseline.delivered.rps");
        bench_add (report, BENCH_RATIO, "x", 3,
                   baseline && baseline->value > 0 ? delivered / baseline->value : 0,
                   "events.onenet.ratio_to_proxy");
        bench_add (report, BENCH_RATIO, "x", 1, TARGET_RATIO_TO_PROXY,
                   "events.onenet.ratio_to_proxy.target_min");
    }
    for (int i = 0; onenet && i < SUBSCRIBERS; i++)
        bench_samples_free (&onenet->subs[i].latency);
    free (onenet);
    free (proxy);
    if (rc < 0)
        return -1;
    double nats = 0;
    int with_nats = s_events_nats (env, options->duration_s, &nats, report, err, err_size);
    if (with_nats < 0)
        return -1;
    if (with_nats) {
        bench_add (report, BENCH_RATIO, "x", 3, nats > 0 ? delivered / nats : 0,
                   "events.onenet.ratio_to_nats");
        bench_add (report, BENCH_RATIO, "x", 1, TARGET_RATIO_TO_NATS,
                   "events.onenet.ratio_to_nats.target_min");
    }
    return 0;
}
