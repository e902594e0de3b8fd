/*
 * tools/bench_alerts.c - `onenet bench alerts`: persisted alerts end to
 * end, beside a pipelined Redis XADD loop of the same size.
 *
 * The system: redis-server (no AOF, no RDB: the bench measures OneNet, not
 * the disk; --aof runs AOF on as production does, docs/ALERTS.md, for both
 * sides) and the broker with its
 * alert stream there. One publisher (this thread, one SDK client) keeps
 * --inflight onenet.alert.publish calls in flight, each a small valid CAP
 * alert with its own identifier ("bench-<seq>") and the send time
 * (CLOCK_MONOTONIC ns, same host) in its note. Four subscribers, each an
 * onenet_subscriber_t in its own thread (the SDK is not thread-safe per
 * object), receive everything; at receive the note gives the latency.
 * After the last round the subscribers get up to DRAIN_MS to receive every
 * acknowledged alert (the SDK's catch-up on ticks recovers live drops):
 * what is still missing then is lost.
 *
 * The publisher's client gathers its calls into BATCHes (as bench rr's
 * does).
 *
 * The baseline: XADD of an envelope-sized value to a stream with the
 * broker's MAXLEN ~, N appended then N replies read (hiredis, sync), N =
 * --inflight. The broker's own append is a Lua script call for up to 16
 * alerts (duplicate check, XADD each, index, open set), so the ratio shows
 * what OneNet costs above that.
 *
 * The bare side (bench_alerts_bare.c): the same fan-out with no OneNet
 * code, a relay appending each publish with pipelined XADDs and fanning
 * it out to four SUB threads that decode it. Its rate over the XADD
 * baseline's is the most any design could reach on the machine.
 *
 * The three sides run in turns (bench_interleave): rounds of about a
 * second, the publishers' ending with every answer taken and their
 * subscribers caught up, so that each round runs on a quiet system.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "bench.h"
#include "onenet/alert_publish.h"
#include "onenet/subscriber.h"

#define SUBSCRIBERS 4
#define CALL_TIMEOUT_MS 5000
#define STUCK_MS (CALL_TIMEOUT_MS + 3000)
/* How long subscribers may take to catch up after the last publish. */
#define DRAIN_MS 15000
/* How long a publisher's round waits for the subscribers to catch up. */
#define ROUND_QUIET_MS 1000
/* Identifiers tracked for duplicates; the publisher stops at this many. */
#define MAX_ALERTS (4u * 1024u * 1024u)
#define TARGET_RATIO_TO_XADD 0.5

typedef struct {
    bench_fanout_t *run;
    int index;
    pthread_t thread;
    bool started;
    uint8_t *seen; /* MAX_ALERTS flags by seq */
    atomic_bool ready;
    atomic_uint_fast64_t unique;
    uint64_t duplicated, in_window, foreign;
    bench_samples_t latency;
    onenet_subscriber_stats_t stats; /* the SDK's, when it stopped */
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

/* The note: the send time, after "t=" when the alert was sent inside the
 * measured part of a round, after "w=" in a warm-up (the same size, so
 * every alert's envelope is bench_envelope_size). */
static void
s_alert_stamp (bench_alert_t *self, uint64_t seq, int64_t now_ns, bool measured)
{
    snprintf (self->identifier, sizeof self->identifier, "bench-%llu", (unsigned long long)seq);
    snprintf (self->note, sizeof self->note, "%c=%lld", measured ? 't' : 'w', (long long)now_ns);
}

size_t
bench_envelope_size (void)
{
    bench_alert_t alert;
    s_alert_init (&alert);
    s_alert_stamp (&alert, 1000000, bench_now_ns (), true);
    Onenet__Alert__AlertEnvelope envelope = ONENET__ALERT__ALERT_ENVELOPE__INIT;
    envelope.alert = &alert.alert;
    envelope.stream_id = "1763900000000-0";
    envelope.published_by_department = "bench";
    envelope.received_at_ms = 1763900000000;
    return protobuf_c_message_get_packed_size (&envelope.base);
}

/* A bench_body_fn for the bare side (state: a bench_alert_t): the
 * envelope of alert number seq as the broker would append it, before the
 * stream id is known. */
static size_t
s_bare_body (void *state, uint64_t seq, uint8_t *buffer, size_t size)
{
    bench_alert_t *alert = state;
    s_alert_stamp (alert, seq, bench_now_ns (), true);
    Onenet__Alert__AlertEnvelope envelope = ONENET__ALERT__ALERT_ENVELOPE__INIT;
    envelope.alert = &alert->alert;
    envelope.published_by_department = "bench";
    envelope.received_at_ms = 1763900000000;
    if (protobuf_c_message_get_packed_size (&envelope.base) > size)
        return 0;
    return protobuf_c_message_pack (&envelope.base, buffer);
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
    if (strncmp (alert->note, "t=", 2) != 0)
        return; /* sent in a warm-up */
    long long sent = strtoll (alert->note + 2, NULL, 10);
    self->in_window++;
    if (now >= sent)
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
    onenet_subscriber_stats (subscriber, &self->stats);
    onenet_subscriber_destroy (&subscriber);
    return NULL;
}

/* --- the sides, in turns -------------------------------------------------- */

typedef struct {
    uint64_t published, in_window, spooled, duplicate, failed;
    char first_error[300];
} published_t;

/* OneNet's side: one publisher, kept across rounds. */
typedef struct {
    onenet_client_t *client;
    bench_alert_t alert;
    size_t inflight;
    uint64_t seq;
    sub_t *subs;
    published_t out;
    /* CPU time each part used in the publisher's rounds, warm-up and
     * catch-up included (clients: this process), and the alerts
     * published in them. */
    bench_cpu_meter_t redis, broker, clients;
    uint64_t cpu_alerts;
} publisher_t;

/* Takes one reply; in_window counts it when it came inside [from, until].
 * Returns 0, or -1 with a reason when none came within wait_ms. */
static int
s_publish_reply (publisher_t *self, int wait_ms, int64_t from, int64_t until, char *err,
                 size_t err_size)
{
    onenet_reply_t *reply = onenet_client_recv (self->client, wait_ms);
    if (!reply) {
        snprintf (err, err_size, "no reply to onenet.alert.publish within %d ms", wait_ms);
        return -1;
    }
    published_t *out = &self->out;
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
    return 0;
}

/* Waits until every subscriber has every published alert, or wait_ms. */
static void
s_drain (sub_t *subs, uint64_t published, int wait_ms)
{
    int64_t until = bench_now_ns () + (int64_t)wait_ms * 1000000;
    for (int i = 0; i < SUBSCRIBERS; i++)
        while (atomic_load (&subs[i].unique) < published && bench_now_ns () < until)
            usleep (1000);
}

/* A bench_round_fn: keeps `inflight` publishes in flight for the warm-up
 * and the round, then takes every answer and waits (at most a second)
 * for the subscribers to have every alert, so that the XADD round after
 * it runs on a quiet machine. Its figures go to self->out, not to samples:
 * the latency that counts is the subscribers'. */
static int
s_publish_round (void *state, double warmup_s, double duration_s, bench_samples_t *samples,
                 bench_result_t *result, char *err, size_t err_size)
{
    publisher_t *self = state;
    (void)samples;
    (void)result;
    bench_cpu_meter_start (&self->redis);
    bench_cpu_meter_start (&self->broker);
    bench_cpu_meter_start (&self->clients);
    uint64_t published = self->out.published;
    int64_t from = bench_now_ns () + (int64_t)(warmup_s * 1e9);
    int64_t until = from + (int64_t)(duration_s * 1e9);
    for (int64_t now = bench_now_ns (); now < until; now = bench_now_ns ()) {
        while (now < until && self->seq < MAX_ALERTS &&
               onenet_client_pending (self->client) < self->inflight) {
            s_alert_stamp (&self->alert, self->seq++, now, now >= from);
            if (onenet_alert_publish_send (self->client, &self->alert.alert, CALL_TIMEOUT_MS, err,
                                           err_size) == 0)
                return -1;
            now = bench_now_ns ();
        }
        if (onenet_client_pending (self->client) == 0)
            break; /* MAX_ALERTS published */
        if (s_publish_reply (self, STUCK_MS, from, until, err, err_size) < 0)
            return -1;
    }
    //  pending counts the calls not answered and the answers not yet taken
    while (onenet_client_pending (self->client) > 0)
        if (s_publish_reply (self, STUCK_MS, from, until, err, err_size) < 0)
            return -1;
    s_drain (self->subs, self->out.published, ROUND_QUIET_MS);
    bench_cpu_meter_stop (&self->redis);
    bench_cpu_meter_stop (&self->broker);
    bench_cpu_meter_stop (&self->clients);
    self->cpu_alerts += self->out.published - published;
    return 0;
}

/* The baseline's side: XADDs of an envelope-sized value, `batch` appended
 * then `batch` replies read (hiredis, sync), on one connection. */
typedef struct {
    redisContext *redis;
    uint8_t *value;
    size_t size, batch;
    uint64_t done;               /* inside the rounds' measured time */
    bench_cpu_meter_t redis_cpu; /* in the rounds, warm-up included */
    uint64_t all;                /* the XADDs of the rounds, warm-up included */
} xadds_t;

/* A bench_round_fn: XADDs for the warm-up and the round. */
static int
s_xadd_round (void *state, double warmup_s, double duration_s, bench_samples_t *samples,
              bench_result_t *result, char *err, size_t err_size)
{
    xadds_t *self = state;
    (void)samples;
    (void)result;
    bench_cpu_meter_start (&self->redis_cpu);
    int64_t from = bench_now_ns () + (int64_t)(warmup_s * 1e9);
    int64_t until = from + (int64_t)(duration_s * 1e9);
    for (int64_t now = bench_now_ns (); now < until; now = bench_now_ns ()) {
        for (size_t i = 0; i < self->batch; i++)
            redisAppendCommand (self->redis, "XADD onenet:bench:xadd MAXLEN ~ %s * envelope %b",
                                BENCH_XADD_MAXLEN, self->value, self->size);
        for (size_t i = 0; i < self->batch; i++) {
            redisReply *reply = NULL;
            bool ok = redisGetReply (self->redis, (void **)&reply) == REDIS_OK &&
                      reply->type == REDIS_REPLY_STRING;
            freeReplyObject (reply);
            if (!ok) {
                snprintf (err, err_size, "redis baseline: %s",
                          self->redis->err ? self->redis->errstr : "unexpected reply to XADD");
                return -1;
            }
        }
        if (now >= from)
            self->done += self->batch;
        self->all += self->batch;
    }
    bench_cpu_meter_stop (&self->redis_cpu);
    return 0;
}

/* --- the system ---------------------------------------------------------------- */

/* Starts the subscriber threads and waits until each has subscribed. */
static int
s_start_subscribers (bench_fanout_t *run, sub_t *subs, char *err, size_t err_size)
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

/* CPU time per alert of each part, and per XADD of Redis in the baseline:
 * where an alert's cost goes, and what the target leaves it (every CPU of
 * the machine, at 0.5 x the XADD rate). */
static void
s_report_cpu (bench_report_t *report, const publisher_t *pub, const xadds_t *xadd, double xadds)
{
    if (pub->cpu_alerts > 0 && !pub->redis.unknown && !pub->broker.unknown
        && !pub->clients.unknown) {
        double per = 1e6 / (double)pub->cpu_alerts;
        bench_add (report, BENCH_MEASURED, "us/alert", 1, pub->redis.used * per,
                   "alerts.persisted.cpu.redis");
        bench_add (report, BENCH_MEASURED, "us/alert", 1, pub->broker.used * per,
                   "alerts.persisted.cpu.broker");
        bench_add (report, BENCH_MEASURED, "us/alert", 1, pub->clients.used * per,
                   "alerts.persisted.cpu.clients");
        bench_add (report, BENCH_MEASURED, "us/alert", 1,
                   (pub->redis.used + pub->broker.used + pub->clients.used) * per,
                   "alerts.persisted.cpu.total");
    }
    if (!xadd->redis_cpu.unknown && xadd->all > 0)
        bench_add (report, BENCH_MEASURED, "us/xadd", 1,
                   xadd->redis_cpu.used * 1e6 / (double)xadd->all, "alerts.redis_xadd.cpu.redis");
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    if (cpus > 0 && xadds > 0)
        bench_add (report, BENCH_RATIO, "us/alert", 1,
                   (double)cpus * 1e6 / (TARGET_RATIO_TO_XADD * xadds),
                   "alerts.persisted.cpu.target_budget");
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
    uint64_t live = 0, recovered = 0, read_again = 0, catchups = 0;
    for (int i = 0; i < SUBSCRIBERS; i++) {
        live += subs[i].stats.live;
        recovered += subs[i].stats.recovered;
        read_again += subs[i].stats.read_again;
        catchups += subs[i].stats.catchups;
    }
    bench_add (report, BENCH_MEASURED, "alerts", 0, (double)live, "alerts.persisted.live");
    bench_add (report, BENCH_MEASURED, "alerts", 0, (double)recovered,
               "alerts.persisted.recovered");
    bench_add (report, BENCH_MEASURED, "alerts", 0, (double)read_again,
               "alerts.persisted.read_again");
    bench_add (report, BENCH_MEASURED, "requests", 0, (double)catchups,
               "alerts.persisted.catchups");
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
    fprintf (stderr, "%s\n",
             options->aof ? "bench: Redis with AOF on (appendfsync everysec), as deployed"
                          : "bench: Redis without AOF or RDB for this run (--aof: as deployed)");
    pid_t redis = bench_start_redis (env, redis_port, options->aof, err, err_size);
    pid_t broker = redis < 0 ? -1
                             : bench_start_alerts_broker (env, redis_port, NULL, endpoint,
                                                          sizeof endpoint, alerts, sizeof alerts,
                                                          err, err_size);
    if (broker < 0)
        return -1;
    bench_fanout_t run;
    bench_fanout_init (&run, endpoint, alerts);
    sub_t *subs = calloc (SUBSCRIBERS, sizeof *subs);
    publisher_t pub = {
        .inflight = inflight, .subs = subs, .redis.pid = redis, .broker.pid = broker};
    xadds_t xadd = {.size = bench_envelope_size (), .batch = inflight, .redis_cpu.pid = redis};
    bench_alert_t bare_alert;
    bench_bare_t *bare = NULL;
    s_alert_init (&pub.alert);
    s_alert_init (&bare_alert);
    int rc = subs ? s_start_subscribers (&run, subs, err, err_size) : -1;
    if (!subs)
        snprintf (err, err_size, "out of memory");
    if (rc == 0) {
        pub.client = onenet_client_new (endpoint, err, err_size);
        xadd.redis = redisConnect ("127.0.0.1", redis_port);
        xadd.value = calloc (1, xadd.size ? xadd.size : 1);
        if (!pub.client)
            rc = -1;
        else
            onenet_client_set_batching (pub.client, true);   /* as bench rr's client */
        if (rc == 0 && (!xadd.redis || xadd.redis->err || !xadd.value)) {
            snprintf (err, err_size, "redis baseline: cannot connect: %s",
                      xadd.redis ? xadd.redis->errstr : "out of memory");
            rc = -1;
        }
        if (rc == 0 && !(bare = bench_bare_new (redis_port, redis, inflight, s_bare_body,
                                                &bare_alert, err, err_size)))
            rc = -1;
    }
    if (rc == 0) {
        memset (xadd.value, 'x', xadd.size);
        bench_side_t sides[3] = {{.round = s_publish_round, .state = &pub},
                                 {.round = s_xadd_round, .state = &xadd},
                                 {.round = bench_bare_round, .state = bare}};
        rc = bench_interleave (sides, 3, BENCH_WARMUP_S, options->duration_s, err, err_size);
    }
    if (rc == 0 && pub.out.failed) {
        snprintf (err, err_size, "%llu publishes failed, the first with %s",
                  (unsigned long long)pub.out.failed, pub.out.first_error);
        rc = -1;
    }
    if (rc == 0)
        s_drain (subs, pub.out.published, DRAIN_MS);
    atomic_store (&run.stop, true);
    for (int i = 0; subs && i < SUBSCRIBERS; i++)
        if (subs[i].started)
            pthread_join (subs[i].thread, NULL);
    onenet_client_destroy (&pub.client);
    redisFree (xadd.redis);
    free (xadd.value);
    double xadds = (double)xadd.done / options->duration_s;
    if (rc == 0) {
        s_report (report, &pub.out, subs, options->duration_s, xadds);
        s_report_cpu (report, &pub, &xadd, xadds);
        bench_bare_report (bare, options->duration_s, xadds,
                           (double)pub.out.in_window / options->duration_s, report);
    }
    bench_bare_destroy (&bare);
    for (int i = 0; subs && i < SUBSCRIBERS; i++) {
        free (subs[i].seen);
        bench_samples_free (&subs[i].latency);
    }
    free (subs);
    return rc;
}
