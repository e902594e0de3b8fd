/*
 * tools/bench_alerts_bare.c - bench alerts' bare side: the least any
 * persisted fan-out must do, with no OneNet code on the path.
 *
 * A relay thread (its own ZeroMQ context, as a process of its own would
 * have) takes publishes on a ROUTER, appends each body to a Redis stream
 * (every publish waiting, up to RELAY_BATCH, XADDs pipelined then every
 * reply read: hiredis, sync, one connection, as the XADD baseline), sends
 * each on an XPUB as [topic][body][stream id] and answers its publisher
 * with the stream id. Four SUB threads decode every body (protobuf-c, the
 * SDK's decoder: a subscriber that uses an alert has to) and count it.
 * The publisher (the round, in the caller's thread) keeps --inflight
 * publishes in flight through a DEALER, each body an envelope the caller
 * writes (bench_body_fn).
 *
 * No validation, no duplicate check, no index, no open set, no
 * exactly-once bookkeeping and no state: so this side's rate over the XADD
 * baseline's is the most any design could reach on the machine, and
 * OneNet's rate over this side's is what OneNet's own work costs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <zmq.h>
#include "bench.h"
#include "onenet/proto/alert.pb-c.h"

#define SUBSCRIBERS 4
#define RELAY_BATCH 64       /* publishes appended in one pipeline */
#define BODY_MAX 4096        /* a publish's body */
#define TOPIC "alert.Minor.510104"
#define STREAM "onenet:bench:bare"
#define STUCK_MS 5000        /* no answer to a publish within this: the round fails */
#define READY_MS 5000        /* the subscriptions reach the relay */
#define ROUND_QUIET_MS 1000  /* a round waits this long at most for the subscribers */

typedef struct {
    bench_bare_t *bare;
    pthread_t thread;
    bool started;
    atomic_uint_fast64_t received; /* envelopes decoded */
    atomic_uint_fast64_t bad;      /* bodies that were not an envelope with an alert */
} bare_sub_t;

struct bench_bare_t {
    int redis_port;
    char front[64], back[64]; /* the relay's ROUTER and XPUB */
    void *context;            /* the publisher's and the subscribers' */
    void *relay_context;      /* the relay's own */
    pthread_t relay;
    bool relay_started;
    atomic_bool stop;
    atomic_int subscriptions; /* seen by the relay */
    atomic_bool failed;       /* the relay stopped on an error */
    char relay_error[200];    /* why, once failed is set */
    bare_sub_t subs[SUBSCRIBERS];
    void *dealer;
    size_t inflight, pending;
    bench_body_fn *body;
    void *body_state;
    uint64_t seq, published, in_window;
    bench_cpu_meter_t redis_cpu, self_cpu; /* in the rounds, warm-up included */
    uint64_t cpu_alerts;                   /* published in the rounds */
};

/* --- the relay --------------------------------------------------------- */

static void
s_relay_fail (bench_bare_t *self, const char *why)
{
    snprintf (self->relay_error, sizeof self->relay_error, "bare relay: %s", why);
    atomic_store (&self->failed, true);
}

/* Reads what is waiting on the XPUB: the subscribers' subscriptions. */
static void
s_relay_subscriptions (bench_bare_t *self, void *xpub)
{
    zmq_msg_t message;
    zmq_msg_init (&message);
    while (zmq_msg_recv (&message, xpub, ZMQ_DONTWAIT) >= 0)
        if (zmq_msg_size (&message) > 0 && *(const uint8_t *)zmq_msg_data (&message) == 1)
            atomic_fetch_add (&self->subscriptions, 1);
    zmq_msg_close (&message);
}

/* Takes up to RELAY_BATCH waiting publishes, [identity][body] each, into
 * ids and bodies. Returns how many. */
static int
s_relay_take (void *router, zmq_msg_t *ids, zmq_msg_t *bodies)
{
    int count = 0;
    while (count < RELAY_BATCH) {
        zmq_msg_init (&ids[count]);
        zmq_msg_init (&bodies[count]);
        //  a publisher of ours sends two frames: anything else cannot happen
        bool whole = zmq_msg_recv (&ids[count], router, ZMQ_DONTWAIT) >= 0 &&
                     zmq_msg_more (&ids[count]) &&
                     zmq_msg_recv (&bodies[count], router, 0) >= 0 &&
                     !zmq_msg_more (&bodies[count]);
        if (!whole) {
            zmq_msg_close (&ids[count]);
            zmq_msg_close (&bodies[count]);
            break;
        }
        count++;
    }
    return count;
}

/* Appends count bodies, then fans each out and answers its publisher.
 * Returns 0, or -1 when Redis failed. */
static int
s_relay_forward (bench_bare_t *self, redisContext *redis, void *router, void *xpub,
                 zmq_msg_t *ids, zmq_msg_t *bodies, int count)
{
    for (int i = 0; i < count; i++)
        redisAppendCommand (redis, "XADD " STREAM " MAXLEN ~ " BENCH_XADD_MAXLEN " * envelope %b",
                            zmq_msg_data (&bodies[i]), zmq_msg_size (&bodies[i]));
    int rc = 0;
    for (int i = 0; i < count; i++) {
        redisReply *reply = NULL;
        if (rc == 0 && (redisGetReply (redis, (void **)&reply) != REDIS_OK ||
                        reply->type != REDIS_REPLY_STRING)) {
            s_relay_fail (self, redis->err ? redis->errstr : "unexpected reply to XADD");
            rc = -1;
        }
        if (rc == 0) {
            zmq_send (xpub, TOPIC, strlen (TOPIC), ZMQ_SNDMORE);
            zmq_msg_send (&bodies[i], xpub, ZMQ_SNDMORE);
            zmq_send (xpub, reply->str, reply->len, 0);
            zmq_msg_send (&ids[i], router, ZMQ_SNDMORE);
            zmq_send (router, reply->str, reply->len, 0);
        }
        freeReplyObject (reply);
        zmq_msg_close (&ids[i]);
        zmq_msg_close (&bodies[i]);
    }
    return rc;
}

static void *
s_relay_main (void *arg)
{
    bench_bare_t *self = arg;
    void *router = zmq_socket (self->relay_context, ZMQ_ROUTER);
    void *xpub = zmq_socket (self->relay_context, ZMQ_XPUB);
    int zero = 0, one = 1;
    redisContext *redis = redisConnect ("127.0.0.1", self->redis_port);
    //  no high-water mark: a subscriber behind is waited for, never
    //  dropped; verbose: every subscriber's subscription is counted
    if (!router || !xpub || zmq_setsockopt (router, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_setsockopt (xpub, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_setsockopt (xpub, ZMQ_SNDHWM, &zero, sizeof zero) < 0 ||
        zmq_setsockopt (xpub, ZMQ_XPUB_VERBOSE, &one, sizeof one) < 0 ||
        zmq_bind (router, self->front) < 0 || zmq_bind (xpub, self->back) < 0)
        s_relay_fail (self, zmq_strerror (zmq_errno ()));
    else if (!redis || redis->err)
        s_relay_fail (self, redis ? redis->errstr : "cannot connect to Redis");
    zmq_msg_t ids[RELAY_BATCH], bodies[RELAY_BATCH];
    while (!atomic_load (&self->failed) && !atomic_load (&self->stop)) {
        zmq_pollitem_t items[] = {{router, 0, ZMQ_POLLIN, 0}, {xpub, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 2, 100) <= 0)
            continue;
        if (items[1].revents & ZMQ_POLLIN)
            s_relay_subscriptions (self, xpub);
        int count = s_relay_take (router, ids, bodies);
        if (s_relay_forward (self, redis, router, xpub, ids, bodies, count) < 0)
            break;
    }
    redisFree (redis);
    if (router)
        zmq_close (router);
    if (xpub)
        zmq_close (xpub);
    return NULL;
}

/* --- the subscribers --------------------------------------------------- */

static void *
s_sub_main (void *arg)
{
    bare_sub_t *self = arg;
    bench_bare_t *bare = self->bare;
    void *socket = zmq_socket (bare->context, ZMQ_SUB);
    int zero = 0, timeout = 100;
    if (!socket || zmq_setsockopt (socket, ZMQ_RCVHWM, &zero, sizeof zero) < 0 ||
        zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout) < 0 ||
        zmq_setsockopt (socket, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_setsockopt (socket, ZMQ_SUBSCRIBE, "alert.", 6) < 0 ||
        zmq_connect (socket, bare->back) < 0) {
        if (socket)
            zmq_close (socket);
        return NULL; /* its subscription never comes: bench_bare_new says so */
    }
    zmq_msg_t frames[3];
    for (int i = 0; i < 3; i++)
        zmq_msg_init (&frames[i]);
    while (!atomic_load (&bare->stop)) {
        if (zmq_msg_recv (&frames[0], socket, 0) < 0)
            continue;
        int parts = 1;
        while (zmq_msg_more (&frames[parts - 1]) && parts < 3 &&
               zmq_msg_recv (&frames[parts], socket, 0) >= 0)
            parts++;
        Onenet__Alert__AlertEnvelope *envelope =
            parts == 3 ? onenet__alert__alert_envelope__unpack (NULL, zmq_msg_size (&frames[1]),
                                                                zmq_msg_data (&frames[1]))
                       : NULL;
        if (envelope && envelope->alert && zmq_msg_size (&frames[2]) > 0)
            atomic_fetch_add (&self->received, 1);
        else
            atomic_fetch_add (&self->bad, 1);
        if (envelope)
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
    }
    for (int i = 0; i < 3; i++)
        zmq_msg_close (&frames[i]);
    zmq_close (socket);
    return NULL;
}

/* --- the side ---------------------------------------------------------- */

bench_bare_t *
bench_bare_new (int redis_port, pid_t redis_pid, size_t inflight, bench_body_fn *body,
                void *body_state, char *err, size_t err_size)
{
    bench_bare_t *self = calloc (1, sizeof *self);
    int front = bench_free_port (), back = bench_free_port ();
    if (!self || front < 0 || back < 0 || front == back) {
        snprintf (err, err_size, "bare side: %s", self ? "no free port" : "out of memory");
        free (self);
        return NULL;
    }
    self->redis_port = redis_port;
    self->inflight = inflight;
    self->body = body;
    self->body_state = body_state;
    self->redis_cpu.pid = redis_pid;
    bench_endpoint (self->front, sizeof self->front, front);
    bench_endpoint (self->back, sizeof self->back, back);
    self->context = zmq_ctx_new ();
    self->relay_context = zmq_ctx_new ();
    if (!self->context || !self->relay_context ||
        pthread_create (&self->relay, NULL, s_relay_main, self)) {
        snprintf (err, err_size, "bare side: cannot start the relay");
        bench_bare_destroy (&self);
        return NULL;
    }
    self->relay_started = true;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        self->subs[i].bare = self;
        if (pthread_create (&self->subs[i].thread, NULL, s_sub_main, &self->subs[i])) {
            snprintf (err, err_size, "bare side: cannot start subscriber %d", i + 1);
            bench_bare_destroy (&self);
            return NULL;
        }
        self->subs[i].started = true;
    }
    int64_t until = bench_now_ns () + (int64_t)READY_MS * 1000000;
    while (atomic_load (&self->subscriptions) < SUBSCRIBERS && !atomic_load (&self->failed) &&
           bench_now_ns () < until)
        usleep (1000);
    int zero = 0;
    self->dealer = zmq_socket (self->context, ZMQ_DEALER);
    if (atomic_load (&self->failed) || atomic_load (&self->subscriptions) < SUBSCRIBERS ||
        !self->dealer || zmq_setsockopt (self->dealer, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_connect (self->dealer, self->front) < 0) {
        snprintf (err, err_size, "%s",
                  atomic_load (&self->failed) ? self->relay_error
                                              : "bare side: the subscribers did not connect");
        bench_bare_destroy (&self);
        return NULL;
    }
    return self;
}

void
bench_bare_destroy (bench_bare_t **self_p)
{
    bench_bare_t *self = *self_p;
    if (!self)
        return;
    atomic_store (&self->stop, true);
    if (self->dealer)
        zmq_close (self->dealer);
    for (int i = 0; i < SUBSCRIBERS; i++)
        if (self->subs[i].started)
            pthread_join (self->subs[i].thread, NULL);
    if (self->relay_started)
        pthread_join (self->relay, NULL);
    if (self->context)
        zmq_ctx_term (self->context);
    if (self->relay_context)
        zmq_ctx_term (self->relay_context);
    free (self);
    *self_p = NULL;
}

/* Takes one answer; in_window counts it when it came inside [from, until].
 * Returns 0, or -1 with a reason when none came in STUCK_MS. */
static int
s_answer (bench_bare_t *self, int64_t from, int64_t until, char *err, size_t err_size)
{
    zmq_pollitem_t item = {self->dealer, 0, ZMQ_POLLIN, 0};
    char stream_id[64];
    if (zmq_poll (&item, 1, STUCK_MS) <= 0 ||
        zmq_recv (self->dealer, stream_id, sizeof stream_id, 0) <= 0) {
        snprintf (err, err_size, "%s",
                  atomic_load (&self->failed) ? self->relay_error
                                              : "bare side: no answer from the relay");
        return -1;
    }
    int64_t now = bench_now_ns ();
    self->pending--;
    self->published++;
    if (now >= from && now <= until)
        self->in_window++;
    return 0;
}

/* The fewest envelopes one subscriber has decoded. */
static uint64_t
s_received_min (const bench_bare_t *self)
{
    uint64_t least = UINT64_MAX;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        uint64_t received = atomic_load (&self->subs[i].received);
        least = received < least ? received : least;
    }
    return least;
}

int
bench_bare_round (void *state, double warmup_s, double duration_s, bench_samples_t *samples,
                  bench_result_t *result, char *err, size_t err_size)
{
    bench_bare_t *self = state;
    (void)samples;
    (void)result;
    bench_cpu_meter_start (&self->redis_cpu);
    bench_cpu_meter_start (&self->self_cpu);
    uint64_t published = self->published;
    int64_t from = bench_now_ns () + (int64_t)(warmup_s * 1e9);
    int64_t until = from + (int64_t)(duration_s * 1e9);
    uint8_t body[BODY_MAX];
    for (int64_t now = bench_now_ns (); now < until; now = bench_now_ns ()) {
        while (self->pending < self->inflight) {
            size_t size = self->body (self->body_state, self->seq++, body, sizeof body);
            if (size == 0 || size > sizeof body || zmq_send (self->dealer, body, size, 0) < 0) {
                snprintf (err, err_size, "bare side: cannot send publish %llu",
                          (unsigned long long)self->seq);
                return -1;
            }
            self->pending++;
        }
        if (s_answer (self, from, until, err, err_size) < 0)
            return -1;
    }
    while (self->pending > 0)
        if (s_answer (self, from, until, err, err_size) < 0)
            return -1;
    //  the next round (maybe the other side's) starts on a quiet machine
    int64_t quiet = bench_now_ns () + (int64_t)ROUND_QUIET_MS * 1000000;
    while (s_received_min (self) < self->published && bench_now_ns () < quiet)
        usleep (1000);
    bench_cpu_meter_stop (&self->redis_cpu);
    bench_cpu_meter_stop (&self->self_cpu);
    self->cpu_alerts += self->published - published;
    return 0;
}

void
bench_bare_report (const bench_bare_t *self, double duration_s, double xadds,
                   double persisted_rps, bench_report_t *report)
{
    double rps = (double)self->in_window / duration_s;
    uint64_t lost = 0, bad = 0;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        uint64_t received = atomic_load (&self->subs[i].received);
        lost += received < self->published ? self->published - received : 0;
        bad += atomic_load (&self->subs[i].bad);
    }
    bench_add (report, BENCH_MEASURED, "alerts/s", 0, rps, "alerts.bare.published.rps");
    bench_add (report, BENCH_MEASURED, "alerts", 0, (double)self->published,
               "alerts.bare.published");
    bench_add (report, BENCH_MEASURED, "alerts", 0, (double)(lost + bad), "alerts.bare.lost");
    double cpu_us = 0; /* per alert; 0: unknown */
    if (self->cpu_alerts > 0 && !self->redis_cpu.unknown && !self->self_cpu.unknown)
        cpu_us = (self->redis_cpu.used + self->self_cpu.used) * 1e6 / (double)self->cpu_alerts;
    if (cpu_us > 0)
        bench_add (report, BENCH_MEASURED, "us/alert", 1, cpu_us, "alerts.bare.cpu.total");
    bench_add (report, BENCH_RATIO, "x", 3, xadds > 0 ? rps / xadds : 0,
               "alerts.bare.ratio_to_xadd");
    //  the rate with every CPU busy at that cost: no design that appends,
    //  fans out and decodes each alert can do better on this machine
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    if (cpu_us > 0 && cpus > 0 && xadds > 0)
        bench_add (report, BENCH_RATIO, "x", 3, (double)cpus * 1e6 / cpu_us / xadds,
                   "alerts.bare.ratio_to_xadd.all_cpus");
    bench_add (report, BENCH_RATIO, "x", 3, rps > 0 ? persisted_rps / rps : 0,
               "alerts.persisted.ratio_to_bare");
}
