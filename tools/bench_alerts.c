/*
 * tools/bench_alerts.c - `onenet bench alerts`: persisted alerts end to
 * end, beside a pipelined Redis XADD loop of the same size.
 *
 * The system: redis-server (no AOF, no RDB: the bench measures OneNet, not
 * the disk; production runs AOF on, docs/ALERTS.md) and the broker with its
 * alert stream there. One publisher (this thread, one SDK client) keeps
 * --inflight onenet.alert.publish calls in flight, each a small valid CAP
 * alert with its own identifier ("bench-<seq>") and the send time
 * (CLOCK_MONOTONIC ns, same host) in its note. Four subscribers, each an
 * onenet_subscriber_t in its own thread (the SDK is not thread-safe per
 * object), receive everything; at receive the note gives the latency.
 * After the window the publisher drains, and the subscribers get up to
 * DRAIN_MS to receive every acknowledged alert (the SDK's catch-up on
 * ticks recovers live drops): what is still missing then is lost.
 *
 * The baseline: XADD of an envelope-sized value to a stream with the
 * broker's MAXLEN ~, N appended then N replies read (hiredis, sync), N =
 * --inflight. The broker's own append is one Lua script per alert (index,
 * XADD, open set), so the ratio shows what OneNet costs above that.
 *
 * `onenet bench events`: plain (not persisted) events, best effort. The
 * system: the broker without Redis and without audit, and one
 * onenet-test-adapter --emit. Four SUB sockets (a thread each) on the broker's
 * alerts endpoint subscribe to "event.test.bench"; this thread keeps
 * EMIT_INFLIGHT test.emit calls queued at the adapter, EMIT_COUNT events
 * each, until the window closes. Every event's body carries its sequence
 * number and send time (CLOCK_MONOTONIC ns, same host): a subscriber
 * counts gaps in the sequence as dropped (a SUB past its HWM, or the
 * broker's XPUB past alerts.sndhwm, loses events by design), and the time
 * gives the latency, which includes any queue the load builds (the
 * adapter publishes as fast as its socket takes events). The baseline, in
 * the same run after OneNet's processes are stopped: a bare XSUB/XPUB
 * zmq_proxy (`onenet bench zmq-xproxy`, its own process) fanning one PUB
 * out to four SUB sockets, messages as big as the event body. Then, when
 * nats-server and onenet-bench-nats are both there, NATS doing the same:
 * `onenet-bench-nats fanout`, one publisher and four subscribers (a
 * connection each) through a nats-server of our own.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <zmq.h>
#include "bench.h"
#include "onenet/alert_publish.h"
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"
#include "onenet/subscriber.h"

#define SUBSCRIBERS 4
#define CALL_TIMEOUT_MS 5000
#define STUCK_MS (CALL_TIMEOUT_MS + 3000)
/* How long subscribers may take to catch up after the last publish. */
#define DRAIN_MS 15000
/* Identifiers tracked for duplicates; the publisher stops at this many. */
#define MAX_ALERTS (4u * 1024u * 1024u)
#define TARGET_RATIO_TO_XADD 0.5
#define XADD_MAXLEN "1000000" /* the broker's default alerts.stream_max */

/* What the publisher and the subscriber threads share. */
typedef struct {
    const char *endpoint, *alerts;
    _Atomic int64_t from, until; /* the measured window, CLOCK_MONOTONIC ns */
    atomic_bool stop;
} run_t;

typedef struct {
    run_t *run;
    int index;
    pthread_t thread;
    bool started;
    uint8_t *seen; /* MAX_ALERTS flags by seq */
    atomic_bool ready;
    atomic_uint_fast64_t unique;
    uint64_t duplicated, in_window, foreign;
    bench_samples_t latency;
    char err[300];
} sub_t;

/* One alert being built: every pointer points into it. */
typedef struct {
    Onenet__Alert__Alert alert;
    Onenet__Alert__Info info, *infos[1];
    Onenet__Alert__Area area, *areas[1];
    Onenet__Alert__ValuePair geocode, *geocodes[1];
    char *categories[1];
    char identifier[48], note[48];
} bench_alert_t;

static void
s_alert_init (bench_alert_t *self)
{
    memset (self, 0, sizeof *self);
    onenet__alert__alert__init (&self->alert);
    onenet__alert__info__init (&self->info);
    onenet__alert__area__init (&self->area);
    onenet__alert__value_pair__init (&self->geocode);
    self->alert.sender = "bench@onenet.example";
    self->alert.sent = "2026-11-23T10:00:00+08:00";
    self->alert.status = "Test";
    self->alert.msg_type = "Alert";
    self->alert.scope = "Public";
    self->alert.identifier = self->identifier;
    self->alert.note = self->note;
    self->categories[0] = "Other";
    self->info.category = self->categories;
    self->info.n_category = 1;
    self->info.event = "OneNet benchmark";
    self->info.urgency = "Unknown";
    //  Minor: below alerts.escalate_severity, so nothing is re-sent
    self->info.severity = "Minor";
    self->info.certainty = "Unknown";
    self->area.area_desc = "Chengdu";
    self->geocode.value_name = "GB/T 2260";
    self->geocode.value = "510104";
    self->geocodes[0] = &self->geocode;
    self->area.geocode = self->geocodes;
    self->area.n_geocode = 1;
    self->areas[0] = &self->area;
    self->info.area = self->areas;
    self->info.n_area = 1;
    self->infos[0] = &self->info;
    self->alert.info = self->infos;
    self->alert.n_info = 1;
}

static void
s_alert_stamp (bench_alert_t *self, uint64_t seq, int64_t now_ns)
{
    snprintf (self->identifier, sizeof self->identifier, "bench-%llu", (unsigned long long)seq);
    snprintf (self->note, sizeof self->note, "t=%lld", (long long)now_ns);
}

/* --- subscribers ---------------------------------------------------------- */

static void
s_take (sub_t *self, const Onenet__Alert__AlertEnvelope *envelope, int64_t now)
{
    const Onenet__Alert__Alert *alert = envelope->alert;
    char *end = NULL;
    if (!alert || strncmp (alert->identifier, "bench-", 6) != 0) {
        self->foreign++;
        return;
    }
    unsigned long long seq = strtoull (alert->identifier + 6, &end, 10);
    if (*end || seq >= MAX_ALERTS) {
        self->foreign++;
        return;
    }
    if (self->seen[seq]) {
        self->duplicated++;
        return;
    }
    self->seen[seq] = 1;
    atomic_fetch_add (&self->unique, 1);
    int64_t from = atomic_load (&self->run->from), until = atomic_load (&self->run->until);
    if (now >= from && now <= until)
        self->in_window++;
    long long sent = strncmp (alert->note, "t=", 2) == 0 ? strtoll (alert->note + 2, NULL, 10) : 0;
    if (sent >= from && sent <= until && now >= sent)
        bench_samples_add (&self->latency, (uint64_t)(now - sent));
}

static void *
s_subscriber_main (void *arg)
{
    sub_t *self = arg;
    onenet_subscriber_t *subscriber = onenet_subscriber_new (
        self->run->endpoint, self->run->alerts, NULL, NULL, self->err, sizeof self->err);
    if (!subscriber) {
        atomic_store (&self->ready, true);
        return NULL;
    }
    //  the first call subscribes and replays the (empty) log
    Onenet__Alert__AlertEnvelope *envelope = onenet_subscriber_next (subscriber, 200);
    atomic_store (&self->ready, true);
    while (envelope || !atomic_load (&self->run->stop)) {
        if (envelope) {
            s_take (self, envelope, bench_now_ns ());
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        }
        envelope = onenet_subscriber_next (subscriber, 100);
    }
    onenet_subscriber_destroy (&subscriber);
    return NULL;
}

/* --- the publisher -------------------------------------------------------- */

typedef struct {
    uint64_t published, in_window, spooled, duplicate, failed;
    char first_error[300];
} published_t;

/* Keeps `inflight` publishes in flight until the window closes, then
 * drains. Returns 0, or -1 with a reason (the system is stuck). */
static int
s_publish (run_t *run, size_t inflight, double duration_s, published_t *out, char *err,
           size_t err_size)
{
    onenet_client_t *client = onenet_client_new (run->endpoint, err, err_size);
    if (!client)
        return -1;
    bench_alert_t alert;
    s_alert_init (&alert);
    int64_t start = bench_now_ns ();
    atomic_store (&run->from, start + (int64_t)(BENCH_WARMUP_S * 1e9));
    atomic_store (&run->until, atomic_load (&run->from) + (int64_t)(duration_s * 1e9));
    int64_t from = atomic_load (&run->from), until = atomic_load (&run->until);
    uint64_t seq = 0;
    int rc = 0;
    for (;;) {
        while (bench_now_ns () < until && seq < MAX_ALERTS &&
               onenet_client_pending (client) < inflight) {
            s_alert_stamp (&alert, seq++, bench_now_ns ());
            if (onenet_alert_publish_send (client, &alert.alert, CALL_TIMEOUT_MS, err, err_size) ==
                0) {
                rc = -1;
                break;
            }
        }
        if (rc < 0)
            break;
        //  pending counts calls not answered yet; answers already read but
        //  not returned by recv are not in it: take them with a zero wait
        bool waiting = onenet_client_pending (client) > 0;
        onenet_reply_t *reply = onenet_client_recv (client, waiting ? STUCK_MS : 0);
        if (!reply) {
            if (waiting)
                snprintf (err, err_size, "no reply to onenet.alert.publish within %d ms", STUCK_MS);
            rc = waiting ? -1 : 0;
            break;
        }
        bool spooled = false, duplicate = false;
        char reason[300];
        int64_t now = bench_now_ns ();
        if (onenet_alert_publish_result (reply, NULL, 0, &spooled, &duplicate, reason,
                                         sizeof reason) < 0) {
            if (out->failed++ == 0)
                snprintf (out->first_error, sizeof out->first_error, "%s", reason);
        } else {
            out->published++;
            out->spooled += spooled;
            out->duplicate += duplicate;
            if (now >= from && now <= until)
                out->in_window++;
        }
        onenet_reply_destroy (&reply);
    }
    onenet_client_destroy (&client);
    return rc;
}

/* --- the Redis baseline ----------------------------------------------------- */

/* The size of the envelope the broker appends for one of our alerts. */
static size_t
s_envelope_size (void)
{
    bench_alert_t alert;
    s_alert_init (&alert);
    s_alert_stamp (&alert, 1000000, bench_now_ns ());
    Onenet__Alert__AlertEnvelope envelope = ONENET__ALERT__ALERT_ENVELOPE__INIT;
    envelope.alert = &alert.alert;
    envelope.stream_id = "1763900000000-0";
    envelope.published_by_department = "bench";
    envelope.received_at_ms = 1763900000000;
    return protobuf_c_message_get_packed_size (&envelope.base);
}

/* XADDs of size-byte values, batch appended then batch replies read, for
 * the warm-up and then duration_s. Returns XADDs per second, or -1. */
static double
s_redis_xadds (int port, size_t size, size_t batch, double duration_s, char *err, size_t err_size)
{
    redisContext *redis = redisConnect ("127.0.0.1", port);
    uint8_t *value = calloc (1, size ? size : 1);
    if (!redis || redis->err || !value) {
        snprintf (err, err_size, "redis baseline: cannot connect: %s",
                  redis ? redis->errstr : "out of memory");
        redisFree (redis);
        free (value);
        return -1;
    }
    memset (value, 'x', size);
    int64_t from = bench_now_ns () + (int64_t)(BENCH_WARMUP_S * 1e9);
    int64_t until = from + (int64_t)(duration_s * 1e9);
    uint64_t done = 0;
    bool ok = true;
    for (int64_t now = bench_now_ns (); ok && now < until; now = bench_now_ns ()) {
        for (size_t i = 0; i < batch; i++)
            redisAppendCommand (redis, "XADD onenet:bench:xadd MAXLEN ~ %s * envelope %b",
                                XADD_MAXLEN, value, size);
        for (size_t i = 0; ok && i < batch; i++) {
            redisReply *reply = NULL;
            ok = redisGetReply (redis, (void **)&reply) == REDIS_OK &&
                 reply->type == REDIS_REPLY_STRING;
            freeReplyObject (reply);
        }
        if (now >= from)
            done += batch;
    }
    if (!ok)
        snprintf (err, err_size, "redis baseline: %s",
                  redis->err ? redis->errstr : "unexpected reply to XADD");
    free (value);
    redisFree (redis);
    return ok ? (double)done / duration_s : -1;
}

/* --- the system ---------------------------------------------------------------- */

/* Starts the subscriber threads and waits until each has subscribed. */
static int
s_start_subscribers (run_t *run, sub_t *subs, char *err, size_t err_size)
{
    for (int i = 0; i < SUBSCRIBERS; i++) {
        subs[i].run = run;
        subs[i].index = i + 1;
        subs[i].seen = calloc (MAX_ALERTS, 1);
        if (!subs[i].seen || pthread_create (&subs[i].thread, NULL, s_subscriber_main, &subs[i])) {
            snprintf (err, err_size, "cannot start subscriber %d", i + 1);
            return -1;
        }
        subs[i].started = true;
    }
    for (int i = 0; i < SUBSCRIBERS; i++) {
        while (!atomic_load (&subs[i].ready))
            usleep (10000);
        if (subs[i].err[0]) {
            snprintf (err, err_size, "subscriber %d: %s", i + 1, subs[i].err);
            return -1;
        }
    }
    usleep (300000); /* the live subscriptions reach the broker's XPUB */
    return 0;
}

/* Waits until every subscriber has every published alert, or DRAIN_MS. */
static void
s_drain (sub_t *subs, uint64_t published)
{
    int64_t until = bench_now_ns () + (int64_t)DRAIN_MS * 1000000;
    for (int i = 0; i < SUBSCRIBERS; i++)
        while (atomic_load (&subs[i].unique) < published && bench_now_ns () < until)
            usleep (20000);
}

static void
s_report (bench_report_t *report, const published_t *pub, sub_t *subs, double duration_s,
          double xadds)
{
    bench_samples_t all = {0};
    uint64_t lost = 0, duplicated = 0;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        for (size_t j = 0; j < subs[i].latency.count; j++)
            bench_samples_add (&all, subs[i].latency.ns[j]);
        uint64_t unique = atomic_load (&subs[i].unique);
        lost += unique < pub->published ? pub->published - unique : 0;
        duplicated += subs[i].duplicated;
    }
    bench_samples_sort (&all);
    double rps = (double)pub->in_window / duration_s;
    bench_add (report, BENCH_MEASURED, "alerts/s", 0, rps, "alerts.persisted.published.rps");
    for (int i = 0; i < SUBSCRIBERS; i++)
        bench_add (report, BENCH_MEASURED, "alerts/s", 0, (double)subs[i].in_window / duration_s,
                   "alerts.persisted.sub%d.delivered.rps", i + 1);
    bench_add (report, BENCH_MEASURED, "us", 1, bench_samples_us (&all, 0.50),
               "alerts.persisted.latency.p50");
    bench_add (report, BENCH_MEASURED, "us", 1, bench_samples_us (&all, 0.99),
               "alerts.persisted.latency.p99");
    bench_add (report, BENCH_MEASURED, "alerts", 0, (double)pub->published,
               "alerts.persisted.published");
    for (int i = 0; i < SUBSCRIBERS; i++)
        bench_add (report, BENCH_MEASURED, "alerts", 0, (double)atomic_load (&subs[i].unique),
                   "alerts.persisted.sub%d.received", i + 1);
    bench_add (report, BENCH_MEASURED, "alerts", 0, (double)lost, "alerts.persisted.lost");
    bench_add (report, BENCH_MEASURED, "alerts", 0, (double)duplicated,
               "alerts.persisted.duplicated");
    bench_add (report, BENCH_MEASURED, "alerts", 0, (double)pub->spooled,
               "alerts.persisted.spooled");
    bench_add (report, BENCH_MEASURED, "xadds/s", 0, xadds, "alerts.redis_xadd.rps");
    bench_add (report, BENCH_RATIO, "x", 3, xadds > 0 ? rps / xadds : 0,
               "alerts.persisted.ratio_to_xadd");
    bench_add (report, BENCH_RATIO, "x", 1, TARGET_RATIO_TO_XADD,
               "alerts.persisted.ratio_to_xadd.target_min");
    bench_samples_free (&all);
}

int
bench_alerts (bench_env_t *env, const bench_options_t *options, bench_report_t *report, char *err,
              size_t err_size)
{
    if (options->broker) {
        snprintf (err, err_size, "bench alerts starts its own broker and Redis (no --broker)");
        return -1;
    }
    size_t inflight = options->inflight ? options->inflight : 64;
    char endpoint[64], alerts[64];
    int redis_port = bench_free_port ();
    fprintf (stderr, "bench: Redis without AOF or RDB for this run (production: appendonly yes)\n");
    if (bench_start_redis (env, redis_port, err, err_size) < 0 ||
        bench_start_alerts_broker (env, redis_port, endpoint, sizeof endpoint, alerts,
                                   sizeof alerts, err, err_size) < 0)
        return -1;
    run_t run = {.endpoint = endpoint, .alerts = alerts};
    atomic_store (&run.from, INT64_MAX);
    atomic_store (&run.until, INT64_MAX);
    sub_t *subs = calloc (SUBSCRIBERS, sizeof *subs);
    published_t pub = {0};
    int rc = subs ? s_start_subscribers (&run, subs, err, err_size) : -1;
    if (!subs)
        snprintf (err, err_size, "out of memory");
    if (rc == 0)
        rc = s_publish (&run, inflight, options->duration_s, &pub, err, err_size);
    if (rc == 0 && pub.failed) {
        snprintf (err, err_size, "%llu publishes failed, the first with %s",
                  (unsigned long long)pub.failed, pub.first_error);
        rc = -1;
    }
    if (rc == 0)
        s_drain (subs, pub.published);
    atomic_store (&run.stop, true);
    for (int i = 0; subs && i < SUBSCRIBERS; i++)
        if (subs[i].started)
            pthread_join (subs[i].thread, NULL);
    double xadds = 0;
    if (rc == 0) {
        xadds = s_redis_xadds (redis_port, s_envelope_size (), inflight, options->duration_s, err,
                               err_size);
        rc = xadds > 0 ? 0 : -1;
    }
    if (rc == 0)
        s_report (report, &pub, subs, options->duration_s, xadds);
    for (int i = 0; subs && i < SUBSCRIBERS; i++) {
        free (subs[i].seen);
        bench_samples_free (&subs[i].latency);
    }
    free (subs);
    return rc;
}

/* --- events: the bare XSUB/XPUB baseline ----------------------------------------------- */

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
    run_t *run;
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
s_events_measure (void *context, const char *frontend, event_sub_t *subs, run_t *run,
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
    size_t size = s_envelope_size ();
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
    run_t run = {0};
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

/* --- events: OneNet ---------------------------------------------------------------- */

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
    run_t *run;
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
    //  "tick" too: the broker's tick each second says the subscription is
    //  through (sent on connect, before it)
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
        if (zmq_msg_size (&frames[0]) == 4 && memcmp (zmq_msg_data (&frames[0]), "tick", 4) == 0)
            atomic_store (&self->ready, true);
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
s_emit (run_t *run, double duration_s, emitted_t *out, char *err, size_t err_size)
{
    onenet_client_t *client = onenet_client_new (run->endpoint, err, err_size);
    if (!client)
        return -1;
    uint8_t payload[4096], body[4200];
    size_t payload_size = s_envelope_size ();
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
    int64_t start = bench_now_ns ();
    atomic_store (&run->from, start + (int64_t)(BENCH_WARMUP_S * 1e9));
    atomic_store (&run->until, atomic_load (&run->from) + (int64_t)(duration_s * 1e9));
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
    run_t run = {.endpoint = endpoint, .alerts = alerts};
    atomic_store (&run.from, INT64_MAX);
    atomic_store (&run.until, INT64_MAX);
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

/* --- events: NATS ------------------------------------------------------------------ */

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
    snprintf (payload, sizeof payload, "%zu", s_envelope_size ());
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
