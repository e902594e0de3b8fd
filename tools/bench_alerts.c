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
 * After the window the publisher drains, and the subscribers get up to
 * DRAIN_MS to receive every acknowledged alert (the SDK's catch-up on
 * ticks recovers live drops): what is still missing then is lost.
 *
 * The baseline: XADD of an envelope-sized value to a stream with the
 * broker's MAXLEN ~, N appended then N replies read (hiredis, sync), N =
 * --inflight. The broker's own append is one Lua script per alert (index,
 * XADD, open set), so the ratio shows what OneNet costs above that.
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
/* Identifiers tracked for duplicates; the publisher stops at this many. */
#define MAX_ALERTS (4u * 1024u * 1024u)
#define TARGET_RATIO_TO_XADD 0.5
#define XADD_MAXLEN "1000000" /* the broker's default alerts.stream_max */

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

static void
s_alert_stamp (bench_alert_t *self, uint64_t seq, int64_t now_ns)
{
    snprintf (self->identifier, sizeof self->identifier, "bench-%llu", (unsigned long long)seq);
    snprintf (self->note, sizeof self->note, "t=%lld", (long long)now_ns);
}

size_t
bench_envelope_size (void)
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
    onenet_subscriber_stats (subscriber, &self->stats);
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
s_publish (bench_fanout_t *run, size_t inflight, double duration_s, published_t *out, char *err,
           size_t err_size)
{
    onenet_client_t *client = onenet_client_new (run->endpoint, err, err_size);
    if (!client)
        return -1;
    bench_alert_t alert;
    s_alert_init (&alert);
    bench_fanout_open (run, duration_s);
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
    fprintf (stderr, options->aof ? "bench: Redis with AOF on (appendfsync everysec), as deployed\n"
                                  : "bench: Redis without AOF or RDB for this run (--aof: as deployed)\n");
    if (bench_start_redis (env, redis_port, options->aof, err, err_size) < 0 ||
        bench_start_alerts_broker (env, redis_port, endpoint, sizeof endpoint, alerts,
                                   sizeof alerts, err, err_size) < 0)
        return -1;
    bench_fanout_t run;
    bench_fanout_init (&run, endpoint, alerts);
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
        xadds = s_redis_xadds (redis_port, bench_envelope_size (), inflight, options->duration_s,
                               err, err_size);
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
