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
 * The baseline, in the same run after OneNet's processes are stopped: a
 * bare XSUB/XPUB zmq_proxy (`onenet bench zmq-xproxy`, its own process,
 * also here) fanning one PUB out to four SUB sockets, messages as big as
 * the event body. Then, when nats-server and onenet-bench-nats are both
 * there, NATS doing the same: `onenet-bench-nats fanout`, one publisher and
 * four subscribers (a connection each) through a nats-server of our own.
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

#define SUBSCRIBERS 4

/* --- the bare XSUB/XPUB baseline ---------------------------------------- */

/* The broker's alerts.sndhwm default: per subscriber, then drops. */
#define EVENTS_SNDHWM 100000

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

typedef struct {
    void *context;
    const char *backend;
    bench_fanout_t *run;
    pthread_t thread;
    bool started;
    atomic_bool ready;
    atomic_uint_fast64_t received; /* measured messages (seq > 0) */
    char err[200];
} event_sub_t;

static void *
s_event_sub_main (void *arg)
{
    event_sub_t *self = arg;
    void *socket = zmq_socket (self->context, ZMQ_SUB);
    int timeout = 100, hwm = EVENTS_SNDHWM;
    if (!socket || zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
        zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt (socket, ZMQ_SUBSCRIBE, "", 0) < 0 ||
        zmq_connect (socket, self->backend) < 0) {
        snprintf (self->err, sizeof self->err, "SUB: %s", zmq_strerror (errno));
        atomic_store (&self->ready, true);
        if (socket)
            zmq_close (socket);
        return NULL;
    }
    uint8_t buffer[4096];
    while (!atomic_load (&self->run->stop)) {
        int size = zmq_recv (socket, buffer, sizeof buffer, 0);
        if (size < 8)
            continue;
        uint64_t seq;
        memcpy (&seq, buffer, sizeof seq);
        if (seq == 0)
            atomic_store (&self->ready, true);
        else
            atomic_fetch_add (&self->received, 1);
    }
    zmq_close (socket);
    return NULL;
}

/* Publishes envelope-sized messages as fast as the publisher's pipe takes
 * them (ZMQ_XPUB_NODROP: it waits rather than drops; drops happen only at
 * the proxy's fan-out, per subscriber, as at the broker's XPUB). */
static int
s_events_measure (void *context, const char *frontend, event_sub_t *subs, bench_fanout_t *run,
                  double duration_s, uint64_t *sent, char *err, size_t err_size)
{
    void *pub = zmq_socket (context, ZMQ_PUB);
    int one = 1, linger = 0;
    if (!pub || zmq_setsockopt (pub, ZMQ_XPUB_NODROP, &one, sizeof one) < 0 ||
        zmq_setsockopt (pub, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_connect (pub, frontend) < 0) {
        snprintf (err, err_size, "PUB: %s", zmq_strerror (errno));
        if (pub)
            zmq_close (pub);
        return -1;
    }
    size_t size = bench_envelope_size ();
    uint8_t message[4096] = {0};
    uint64_t seq = 0;
    //  hello messages until every subscriber's subscription is through
    int64_t deadline = bench_now_ns () + 10 * (int64_t)1000000000;
    for (int i = 0; i < SUBSCRIBERS && bench_now_ns () < deadline; i++)
        while (!atomic_load (&subs[i].ready) && bench_now_ns () < deadline) {
            zmq_send (pub, message, size, ZMQ_DONTWAIT);
            usleep (10000);
        }
    if (bench_now_ns () >= deadline) {
        snprintf (err, err_size, "the SUB sockets got nothing through the proxy in 10 s");
        zmq_close (pub);
        return -1;
    }
    int64_t until = bench_now_ns () + (int64_t)(duration_s * 1e9);
    while (bench_now_ns () < until) {
        for (int i = 0; i < 256; i++) {
            seq++;
            memcpy (message, &seq, sizeof seq);
            if (zmq_send (pub, message, size, 0) < 0) {
                snprintf (err, err_size, "PUB send: %s", zmq_strerror (errno));
                zmq_close (pub);
                return -1;
            }
        }
    }
    *sent = seq;
    //  what is queued arrives, then the count stops moving
    uint64_t last = UINT64_MAX, now = 0;
    for (int waited = 0; waited < 10000 && now != last; waited += 300) {
        last = now;
        usleep (300000);
        now = 0;
        for (int i = 0; i < SUBSCRIBERS; i++)
            now += atomic_load (&subs[i].received);
    }
    atomic_store (&run->stop, true);
    zmq_close (pub);
    return 0;
}

/* Runs the baseline: the proxy process, four SUB threads, one PUB for
 * duration_s. Stops the proxy after. */
static int
s_events_baseline (bench_env_t *env, double duration_s, uint64_t *sent_out, uint64_t *received_out,
                   char *err, size_t err_size)
{
    char self_path[PATH_MAX], frontend[64], backend[64];
    ssize_t length = readlink ("/proc/self/exe", self_path, sizeof self_path - 1);
    if (length <= 0) {
        snprintf (err, err_size, "readlink /proc/self/exe: %s", strerror (errno));
        return -1;
    }
    self_path[length] = '\0';
    bench_endpoint (frontend, sizeof frontend, bench_free_port ());
    bench_endpoint (backend, sizeof backend, bench_free_port ());
    const char *proxy[] = {self_path, "bench", "zmq-xproxy", frontend, backend, NULL};
    pid_t pid = bench_spawn (env, "zmq-xproxy.log", proxy, err, err_size);
    if (pid < 0)
        return -1;
    usleep (200000); /* it binds */
    bench_fanout_t run = {0};
    event_sub_t subs[SUBSCRIBERS];
    memset (subs, 0, sizeof subs);
    void *context = zmq_ctx_new ();
    int rc = context ? 0 : -1;
    for (int i = 0; rc == 0 && i < SUBSCRIBERS; i++) {
        subs[i] = (event_sub_t){.context = context, .backend = backend, .run = &run};
        rc = pthread_create (&subs[i].thread, NULL, s_event_sub_main, &subs[i]) ? -1 : 0;
        subs[i].started = rc == 0;
    }
    if (rc < 0)
        snprintf (err, err_size, "cannot start the SUB threads");
    uint64_t sent = 0;
    if (rc == 0)
        rc = s_events_measure (context, frontend, subs, &run, duration_s, &sent, err, err_size);
    atomic_store (&run.stop, true);
    uint64_t received = 0;
    for (int i = 0; i < SUBSCRIBERS; i++)
        if (subs[i].started) {
            pthread_join (subs[i].thread, NULL);
            received += atomic_load (&subs[i].received);
            if (subs[i].err[0] && rc == 0) {
                snprintf (err, err_size, "%s", subs[i].err);
                rc = -1;
            }
        }
    if (context)
        zmq_ctx_term (context);
    bench_stop (env, pid);
    *sent_out = sent;
    *received_out = received;
    return rc;
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
/* How long subscribers may take to get what is queued after the last
 * emit: until their counts stop moving, at most this. */
#define EVENTS_DRAIN_MS 10000
#define TARGET_RATIO_TO_PROXY 0.8
/* The targets against NATS: at least as many events delivered,
 * and none dropped. */
#define TARGET_RATIO_TO_NATS 1.0
#define TARGET_DROPPED 0
#define NATS_EVENTS_SUBJECT "event.test.bench"

typedef struct {
    void *context;
    const char *alerts;
    bench_fanout_t *run;
    pthread_t thread;
    bool started;
    atomic_bool ready; /* got a tick: subscribed */
    atomic_uint_fast64_t received;
    uint64_t last;      /* highest sequence number seen */
    uint64_t gaps;      /* sequence numbers skipped (dropped) */
    uint64_t reordered; /* at or below last: duplicate or late */
    uint64_t foreign;   /* not a well-formed bench event from "test" */
    uint64_t in_window; /* received inside the measured window */
    bench_samples_t latency;
    char err[200];
} onenet_sub_t;

/* One EVENT as relayed: [topic][EventHeader][EchoMessage body]. */
static void
s_onenet_take (onenet_sub_t *self, zmq_msg_t *header_frame, zmq_msg_t *body_frame, int64_t now)
{
    Onenet__EventHeader *header = onenet__event_header__unpack (NULL, zmq_msg_size (header_frame),
                                                                zmq_msg_data (header_frame));
    Onenet__Example__EchoMessage *echo = onenet__example__echo_message__unpack (
        NULL, zmq_msg_size (body_frame), zmq_msg_data (body_frame));
    if (!header || !echo || strcmp (header->department, "test") != 0 ||
        strcmp (header->topic, "bench") != 0 || echo->payload.len < 16) {
        self->foreign++;
    } else {
        uint64_t seq;
        int64_t sent;
        memcpy (&seq, echo->payload.data, sizeof seq);
        memcpy (&sent, echo->payload.data + 8, sizeof sent);
        atomic_fetch_add (&self->received, 1);
        if (seq <= self->last)
            self->reordered++;
        else {
            self->gaps += seq - self->last - 1;
            self->last = seq;
        }
        int64_t from = atomic_load (&self->run->from), until = atomic_load (&self->run->until);
        if (now >= from && now <= until)
            self->in_window++;
        if (seq % EVENTS_SAMPLE_EVERY == 0 && sent >= from && sent <= until && now >= sent)
            bench_samples_add (&self->latency, (uint64_t)(now - sent));
    }
    if (header)
        onenet__event_header__free_unpacked (header, NULL);
    if (echo)
        onenet__example__echo_message__free_unpacked (echo, NULL);
}

static void *
s_onenet_sub_main (void *arg)
{
    onenet_sub_t *self = arg;
    void *socket = zmq_socket (self->context, ZMQ_SUB);
    int timeout = 100, hwm = EVENTS_SNDHWM;
    //  "tick" too, until the first: the broker's tick each second says the
    //  subscription is through (sent on connect, before it). Then no more:
    //  ticks are sent without waiting for room, and one that meets a full
    //  queue makes ZeroMQ leave that queue out of the events that follow
    //  (docs/PROTOCOL.md, "Event flow control")
    if (!socket || zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
        zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt (socket, ZMQ_SUBSCRIBE, EVENTS_TOPIC, strlen (EVENTS_TOPIC)) < 0 ||
        zmq_setsockopt (socket, ZMQ_SUBSCRIBE, "tick", 4) < 0 ||
        zmq_connect (socket, self->alerts) < 0) {
        snprintf (self->err, sizeof self->err, "SUB: %s", zmq_strerror (errno));
        atomic_store (&self->ready, true);
        if (socket)
            zmq_close (socket);
        return NULL;
    }
    zmq_msg_t frames[3];
    for (int i = 0; i < 3; i++)
        zmq_msg_init (&frames[i]);
    while (!atomic_load (&self->run->stop)) {
        if (zmq_msg_recv (&frames[0], socket, 0) < 0)
            continue;
        int count = 1;
        while (zmq_msg_more (&frames[count < 3 ? count - 1 : 2])) {
            //  a fourth frame and beyond (none expected) lands in the last
            zmq_msg_recv (&frames[count < 3 ? count : 2], socket, 0);
            count++;
        }
        int64_t now = bench_now_ns ();
        if (zmq_msg_size (&frames[0]) == 4 && memcmp (zmq_msg_data (&frames[0]), "tick", 4) == 0) {
            if (!atomic_load (&self->ready))
                zmq_setsockopt (socket, ZMQ_UNSUBSCRIBE, "tick", 4);
            atomic_store (&self->ready, true);
        }
        else if (count == 3)
            s_onenet_take (self, &frames[1], &frames[2], now);
        else
            self->foreign++;
    }
    for (int i = 0; i < 3; i++)
        zmq_msg_close (&frames[i]);
    zmq_close (socket);
    return NULL;
}

typedef struct {
    uint64_t published; /* events the adapter reported published */
    uint64_t last_seq;  /* the highest sequence number published */
    double emit_rps;    /* published over the emit phase's length */
} emitted_t;

/* Keeps EMIT_INFLIGHT test.emit calls queued at the adapter until the
 * window closes, then takes the last replies. Body: an EchoMessage whose
 * payload (the event body template) is as big as the baseline's message. */
static int
s_emit (bench_fanout_t *run, double duration_s, emitted_t *out, char *err, size_t err_size)
{
    onenet_client_t *client = onenet_client_new (run->endpoint, err, err_size);
    if (!client)
        return -1;
    uint8_t payload[4096], body[4200];
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
    size_t size = protobuf_c_message_pack (&request.base, body);
    onenet_call_options_t options = {.timeout_ms = EMIT_TIMEOUT_MS};
    int64_t start = bench_fanout_open (run, duration_s);
    int64_t until = atomic_load (&run->until), end = start;
    int rc = 0;
    for (;;) {
        while (bench_now_ns () < until && onenet_client_pending (client) < EMIT_INFLIGHT)
            if (onenet_client_send (client, "test.emit", body, size, &options) == 0) {
                snprintf (err, err_size, "test.emit: %s", onenet_client_error (client));
                rc = -1;
                break;
            }
        if (rc < 0 || onenet_client_pending (client) == 0)
            break;
        onenet_reply_t *reply = onenet_client_recv (client, EMIT_TIMEOUT_MS + 3000);
        if (!reply) {
            snprintf (err, err_size, "no reply to test.emit within %d ms", EMIT_TIMEOUT_MS + 3000);
            rc = -1;
            break;
        }
        Onenet__Example__EchoMessage *done =
            onenet_reply_status (reply) == ONENET_OK
                ? (Onenet__Example__EchoMessage *)onenet_reply_unpack (
                      reply, &onenet__example__echo_message__descriptor)
                : NULL;
        if (!done || done->payload.len != 8) {
            snprintf (err, err_size, "test.emit: %s",
                      onenet_reply_status (reply) == ONENET_OK ? "reply not understood"
                                                               : onenet_reply_message (reply));
            rc = -1;
        } else {
            uint64_t first;
            memcpy (&first, done->payload.data, sizeof first);
            out->published += done->delay_ms;
            if (done->delay_ms && first + done->delay_ms - 1 > out->last_seq)
                out->last_seq = first + done->delay_ms - 1;
            end = bench_now_ns ();
        }
        if (done)
            protobuf_c_message_free_unpacked (&done->base, NULL);
        onenet_reply_destroy (&reply);
        if (rc < 0)
            break;
    }
    onenet_client_destroy (&client);
    out->emit_rps = end > start ? (double)out->published * 1e9 / (double)(end - start) : 0;
    return rc;
}

/* The subscribers' total so far. */
static uint64_t
s_onenet_received (onenet_sub_t *subs)
{
    uint64_t total = 0;
    for (int i = 0; i < SUBSCRIBERS; i++)
        total += atomic_load (&subs[i].received);
    return total;
}

/* The OneNet run: broker, one test adapter, four SUB threads on the
 * alerts endpoint, test.emit for the window; figures into report. The
 * broker and adapter are stopped after. */
static int
s_events_onenet (bench_env_t *env, double duration_s, double *delivered_rps, bench_report_t *report,
                 char *err, size_t err_size)
{
    char endpoint[64], alerts[64], binary[PATH_MAX];
    pid_t broker = bench_start_alerts_broker (env, 0, endpoint, sizeof endpoint, alerts,
                                              sizeof alerts, err, err_size);
    if (broker < 0)
        return -1;
    pid_t adapter = -1;
    if (bench_find_binary ("onenet-test-adapter", binary, sizeof binary, err, err_size) == 0) {
        const char *argv[] = {binary,         "--broker", endpoint, "--instance",
                              "bench-events", "--emit",   NULL};
        adapter = bench_spawn (env, "adapter-events.log", argv, err, err_size);
    }
    if (adapter < 0 || bench_wait_service (endpoint, "test.emit", 10000, err, err_size) < 0) {
        bench_stop (env, adapter);
        bench_stop (env, broker);
        return -1;
    }
    bench_fanout_t run;
    bench_fanout_init (&run, endpoint, alerts);
    onenet_sub_t *subs = calloc (SUBSCRIBERS, sizeof *subs);
    void *context = zmq_ctx_new ();
    int rc = subs && context ? 0 : -1;
    if (rc < 0)
        snprintf (err, err_size, "out of memory");
    for (int i = 0; rc == 0 && i < SUBSCRIBERS; i++) {
        subs[i].context = context;
        subs[i].alerts = alerts;
        subs[i].run = &run;
        rc = pthread_create (&subs[i].thread, NULL, s_onenet_sub_main, &subs[i]) ? -1 : 0;
        subs[i].started = rc == 0;
        if (rc < 0)
            snprintf (err, err_size, "cannot start the SUB threads");
    }
    int64_t deadline = bench_now_ns () + 10 * (int64_t)1000000000;
    for (int i = 0; rc == 0 && i < SUBSCRIBERS; i++) {
        while (!atomic_load (&subs[i].ready) && bench_now_ns () < deadline)
            usleep (10000);
        if (subs[i].err[0] || !atomic_load (&subs[i].ready)) {
            snprintf (err, err_size, "SUB %d: %s", i + 1,
                      subs[i].err[0] ? subs[i].err : "no tick from the broker within 10 s");
            rc = -1;
        }
    }
    emitted_t emitted = {0};
    if (rc == 0)
        rc = s_emit (&run, duration_s, &emitted, err, err_size);
    //  what is queued arrives, then the count stops moving
    int64_t drain_until = bench_now_ns () + (int64_t)EVENTS_DRAIN_MS * 1000000;
    uint64_t last = UINT64_MAX, now = rc == 0 ? s_onenet_received (subs) : 0;
    while (rc == 0 && now != last && now < emitted.published * SUBSCRIBERS &&
           bench_now_ns () < drain_until) {
        last = now;
        usleep (300000);
        now = s_onenet_received (subs);
    }
    atomic_store (&run.stop, true);
    for (int i = 0; subs && i < SUBSCRIBERS; i++)
        if (subs[i].started)
            pthread_join (subs[i].thread, NULL);
    if (context)
        zmq_ctx_term (context);
    bench_stop (env, adapter);
    bench_stop (env, broker);
    if (rc == 0) {
        bench_samples_t all = {0};
        uint64_t received = 0, in_window = 0, dropped = 0, reordered = 0, foreign = 0;
        for (int i = 0; i < SUBSCRIBERS; i++) {
            for (size_t j = 0; j < subs[i].latency.count; j++)
                bench_samples_add (&all, subs[i].latency.ns[j]);
            received += atomic_load (&subs[i].received);
            in_window += subs[i].in_window;
            //  gaps, and the tail a subscriber never saw
            dropped += subs[i].gaps +
                       (emitted.last_seq > subs[i].last ? emitted.last_seq - subs[i].last : 0);
            reordered += subs[i].reordered;
            foreign += subs[i].foreign;
        }
        bench_samples_sort (&all);
        *delivered_rps = (double)in_window / duration_s;
        bench_add (report, BENCH_MEASURED, "msgs/s", 0, *delivered_rps,
                   "events.onenet.delivered.rps");
        for (int i = 0; i < SUBSCRIBERS; i++)
            bench_add (report, BENCH_MEASURED, "msgs/s", 0, (double)subs[i].in_window / duration_s,
                       "events.onenet.sub%d.delivered.rps", i + 1);
        bench_add (report, BENCH_MEASURED, "msgs/s", 0, emitted.emit_rps,
                   "events.onenet.published.rps");
        bench_add (report, BENCH_MEASURED, "us", 1, bench_samples_us (&all, 0.50),
                   "events.onenet.latency.p50");
        bench_add (report, BENCH_MEASURED, "us", 1, bench_samples_us (&all, 0.99),
                   "events.onenet.latency.p99");
        bench_add (report, BENCH_MEASURED, "msgs", 0, (double)emitted.published,
                   "events.onenet.published");
        bench_add (report, BENCH_MEASURED, "msgs", 0, (double)received, "events.onenet.received");
        bench_add (report, BENCH_MEASURED, "msgs", 0, (double)dropped, "events.onenet.dropped");
        bench_add (report, BENCH_MEASURED, "msgs", 0, TARGET_DROPPED,
                   "events.onenet.dropped.target_max");
        bench_add (report, BENCH_MEASURED, "msgs", 0, (double)(reordered + foreign),
                   "events.onenet.unexpected");
        bench_samples_free (&all);
    }
    for (int i = 0; subs && i < SUBSCRIBERS; i++)
        bench_samples_free (&subs[i].latency);
    free (subs);
    return rc;
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
    double onenet = 0;
    if (s_events_onenet (env, options->duration_s, &onenet, report, err, err_size) < 0)
        return -1;
    uint64_t sent = 0, received = 0;
    if (s_events_baseline (env, options->duration_s, &sent, &received, err, err_size) < 0)
        return -1;
    uint64_t expected = sent * SUBSCRIBERS;
    double baseline = (double)received / options->duration_s;
    bench_add (report, BENCH_MEASURED, "msgs/s", 0, baseline, "events.baseline.delivered.rps");
    bench_add (report, BENCH_MEASURED, "msgs/s", 0, (double)sent / options->duration_s,
               "events.baseline.published.rps");
    bench_add (report, BENCH_MEASURED, "msgs", 0, (double)sent, "events.baseline.published");
    bench_add (report, BENCH_MEASURED, "msgs", 0, (double)received, "events.baseline.received");
    bench_add (report, BENCH_MEASURED, "msgs", 0,
               (double)(expected > received ? expected - received : 0), "events.baseline.dropped");
    bench_add (report, BENCH_RATIO, "x", 3, baseline > 0 ? onenet / baseline : 0,
               "events.onenet.ratio_to_proxy");
    bench_add (report, BENCH_RATIO, "x", 1, TARGET_RATIO_TO_PROXY,
               "events.onenet.ratio_to_proxy.target_min");
    double nats = 0;
    int with_nats = s_events_nats (env, options->duration_s, &nats, report, err, err_size);
    if (with_nats < 0)
        return -1;
    if (with_nats) {
        bench_add (report, BENCH_RATIO, "x", 3, nats > 0 ? onenet / nats : 0,
                   "events.onenet.ratio_to_nats");
        bench_add (report, BENCH_RATIO, "x", 1, TARGET_RATIO_TO_NATS,
                   "events.onenet.ratio_to_nats.target_min");
    }
    return 0;
}
