/*
 * test_alert_lifecycle.c - the broker's alert services with a real
 * redis-server: publish (stream first, then live on XPUB, duplicates not
 * resent), topic filtering by severity and area prefix, catch-up, the
 * update/cancel chain and an alert's state, acknowledgements, the list of
 * open alerts, escalation, the spool while Redis is down (a repeat and
 * an Update among what it keeps), publishes stored in one script call,
 * their batches on the XPUB, and unknown fields dropped.
 *
 * Subscribers here are raw ZeroMQ SUB sockets, to check the wire contract
 * of proto/alert.proto itself; the subscriber SDK has its own tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/alert_publish.h"
#include "onenet/cap.h"
#include "onenet/proto/alert.pb-c.h"

typedef struct {
    int broker_port, redis_port, alerts_port, http_port;
    pid_t broker, redis;
    onenet_client_t *client;
    void *context;
    void *subs[16]; /* open SUB sockets: teardown closes what a failed test left */
} fixture_t;

static fixture_t s;

static int
setup (void **state)
{
    (void) state;
    memset (&s, 0, sizeof s);
    s.redis_port = harness_free_port ();
    s.redis = harness_start_redis (s.redis_port, true);
    s.broker_port = harness_free_port ();
    s.alerts_port = harness_free_port ();
    s.http_port = harness_free_port ();
    char config[768];
    snprintf (config, sizeof config,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "http = { endpoint = \"127.0.0.1:%d\"; };\n"
              "alerts = { endpoint = \"tcp://127.0.0.1:%d\"; spool = \"%s/spool\";\n"
              "           escalate_severity = \"Extreme\"; escalate_after_s = 2; };\n",
              s.redis_port, s.http_port, s.alerts_port, harness_tempdir ());
    s.broker = harness_start_broker (s.broker_port, config);
    s.client = onenet_client_new (harness_endpoint (s.broker_port), NULL, 0);
    s.context = zmq_ctx_new ();
    return s.client && s.context ? 0 : -1;
}

static int
teardown (void **state)
{
    (void) state;
    onenet_client_destroy (&s.client);
    for (size_t i = 0; i < sizeof s.subs / sizeof s.subs[0]; i++)
        if (s.subs[i])
            zmq_close (s.subs[i]);
    zmq_ctx_term (s.context); /* would wait forever for a socket left open */
    harness_cleanup ();
    return 0;
}

static void *
subscribe (const char *prefix)
{
    void *sub = zmq_socket (s.context, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt (sub, ZMQ_LINGER, &linger, sizeof linger);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", s.alerts_port);
    assert_int_equal (zmq_connect (sub, endpoint), 0);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, prefix, strlen (prefix));
    size_t i = 0;
    while (i < sizeof s.subs / sizeof s.subs[0] && s.subs[i])
        i++;
    assert_true (i < sizeof s.subs / sizeof s.subs[0]);
    s.subs[i] = sub;
    harness_await_subscriptions (sub, 5000);
    return sub;
}

/* Closes a socket of subscribe (). */
static void
unsubscribe (void *sub)
{
    for (size_t i = 0; i < sizeof s.subs / sizeof s.subs[0]; i++)
        if (s.subs[i] == sub)
            s.subs[i] = NULL;
    zmq_close (sub);
}

/* The next message on sub within timeout_ms that is not a tick or a mark,
 * as frames (at most 3); returns how many, 0 if none came. */
static int
receive_frames (void *sub, int timeout_ms, zmq_msg_t frames[3])
{
    int64_t until = onenet_clock_ms () + timeout_ms;
    while (onenet_clock_ms () < until) {
        zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) (until - onenet_clock_ms ())) <= 0)
            return 0;
        int count = 0;
        do {
            assert_true (count < 3);
            zmq_msg_init (&frames[count]);
            assert_true (zmq_msg_recv (&frames[count], sub, 0) >= 0);
        } while (zmq_msg_more (&frames[count++]));
        bool tick = zmq_msg_size (&frames[0]) == 4 && memcmp (zmq_msg_data (&frames[0]), "tick", 4) == 0;
        bool mark = count == 3 && zmq_msg_size (&frames[1]) == 4
                    && memcmp (zmq_msg_data (&frames[1]), "mark", 4) == 0;
        if (!tick && !mark)
            return count;
        for (int i = 0; i < count; i++)
            zmq_msg_close (&frames[i]);
    }
    return 0;
}

/* The next [topic][envelope] on sub within timeout_ms, skipping ticks,
 * marks and acks; NULL if none. The topic goes to topic_out. */
static Onenet__Alert__AlertEnvelope *
receive (void *sub, int timeout_ms, char *topic_out, size_t topic_size)
{
    int64_t until = onenet_clock_ms () + timeout_ms;
    zmq_msg_t frames[3];
    int count;
    while ((count = receive_frames (sub, (int) (until - onenet_clock_ms ()), frames)) > 0) {
        assert_int_equal (count, 2); /* not a batch: one alert was sent */
        size_t length = zmq_msg_size (&frames[0]);
        bool ack = length == 3 && memcmp (zmq_msg_data (&frames[0]), "ack", 3) == 0;
        Onenet__Alert__AlertEnvelope *envelope =
            ack ? NULL
                : onenet__alert__alert_envelope__unpack (NULL, zmq_msg_size (&frames[1]),
                                                         zmq_msg_data (&frames[1]));
        if (envelope)
            snprintf (topic_out, topic_size, "%.*s", (int) length,
                      (const char *) zmq_msg_data (&frames[0]));
        zmq_msg_close (&frames[0]);
        zmq_msg_close (&frames[1]);
        if (envelope)
            return envelope;
    }
    return NULL;
}

static Onenet__Alert__PublishReply *
publish (Onenet__Alert__Alert *alert, onenet_status_t expect)
{
    onenet_reply_t *reply = onenet_client_call_message (s.client, "onenet.alert.publish", &alert->base, NULL);
    assert_int_equal (onenet_reply_status (reply), expect);
    Onenet__Alert__PublishReply *out = expect == ONENET_OK
                                           ? (Onenet__Alert__PublishReply *) onenet_reply_unpack (
                                               reply, &onenet__alert__publish_reply__descriptor)
                                           : NULL;
    onenet_reply_destroy (&reply);
    return out;
}

static void
test_publish_filter_and_dedupe (void **state)
{
    (void) state;
    void *chengdu = subscribe ("alert.Extreme.5101");
    void *elsewhere = subscribe ("alert.Extreme.5102");
    Onenet__Alert__Alert *flood = harness_cap_sample ("onenet-flood-chengdu.xml");
    Onenet__Alert__PublishReply *reply = publish (flood, ONENET_OK);
    assert_non_null (reply);
    assert_true (strlen (reply->stream_id) > 0);
    assert_false (reply->spooled);
    assert_false (reply->duplicate);
    char stream_id[64];
    snprintf (stream_id, sizeof stream_id, "%s", reply->stream_id);
    onenet__alert__publish_reply__free_unpacked (reply, NULL);

    char topic[160];
    Onenet__Alert__AlertEnvelope *got = receive (chengdu, 3000, topic, sizeof topic);
    assert_non_null (got);
    assert_string_equal (got->stream_id, stream_id);   /* on the stream before it went out */
    assert_string_equal (got->alert->identifier, "em.510100.2026.0001");
    assert_string_equal (got->published_by_department, "anonymous");
    assert_int_equal (strncmp (topic, "alert.Extreme.5101", 18), 0);
    onenet__alert__alert_envelope__free_unpacked (got, NULL);
    /* Two districts: two topics, the subscriber gets both copies (its SDK dedupes). */
    got = receive (chengdu, 1000, topic, sizeof topic);
    assert_non_null (got);
    onenet__alert__alert_envelope__free_unpacked (got, NULL);
    /* Another city's coordinator gets nothing. */
    assert_null (receive (elsewhere, 500, topic, sizeof topic));

    /* Published again: recognised, not sent again. */
    reply = publish (flood, ONENET_OK);
    assert_true (reply->duplicate);
    assert_string_equal (reply->stream_id, stream_id);
    onenet__alert__publish_reply__free_unpacked (reply, NULL);
    assert_null (receive (chengdu, 500, topic, sizeof topic));
    onenet__alert__alert__free_unpacked (flood, NULL);

    /* Invalid CAP is refused with the field named. */
    Onenet__Alert__Alert *bad = harness_cap_sample ("oasis-a2-severe-thunderstorm.xml");
    free (bad->info[0]->severity);
    bad->info[0]->severity = strdup ("Dreadful");
    onenet_reply_t *refused = onenet_client_call_message (s.client, "onenet.alert.publish", &bad->base, NULL);
    assert_int_equal (onenet_reply_status (refused), ONENET_BAD_REQUEST);
    assert_non_null (strstr (onenet_reply_message (refused), "severity"));
    onenet_reply_destroy (&refused);
    onenet__alert__alert__free_unpacked (bad, NULL);
    unsubscribe (chengdu);
    unsubscribe (elsewhere);
}

static Onenet__Alert__AlertBatch *
since (const char *after, const char *area, uint32_t last)
{
    Onenet__Alert__AlertFilter filter = ONENET__ALERT__ALERT_FILTER__INIT;
    char *areas[] = { (char *) area };
    if (area) {
        filter.area_prefixes = areas;
        filter.n_area_prefixes = 1;
    }
    Onenet__Alert__SinceRequest request = ONENET__ALERT__SINCE_REQUEST__INIT;
    request.after = (char *) after;
    request.filter = &filter;
    request.last = last;
    onenet_reply_t *reply = onenet_client_call_message (s.client, "onenet.alert.since", &request.base, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__Alert__AlertBatch *batch = (Onenet__Alert__AlertBatch *) onenet_reply_unpack (
        reply, &onenet__alert__alert_batch__descriptor);
    onenet_reply_destroy (&reply);
    assert_non_null (batch);
    return batch;
}

static void
test_catch_up_is_filtered_and_ordered (void **state)
{
    (void) state;
    const char *names[] = { "oasis-a1-homeland-security.xml", "oasis-a2-severe-thunderstorm.xml",
                            "oasis-a3-earthquake-update.xml" };
    for (size_t i = 0; i < 3; i++) {
        Onenet__Alert__Alert *alert = harness_cap_sample (names[i]);
        onenet__alert__publish_reply__free_unpacked (publish (alert, ONENET_OK), NULL);
        onenet__alert__alert__free_unpacked (alert, NULL);
    }
    Onenet__Alert__AlertBatch *all = since ("", NULL, 0);
    assert_int_equal (all->n_alerts, 4);   /* the flood alert and these three */
    for (size_t i = 1; i < all->n_alerts; i++)
        assert_true (strcmp (all->alerts[i - 1]->stream_id, all->alerts[i]->stream_id) < 0
                     || strlen (all->alerts[i - 1]->stream_id) < strlen (all->alerts[i]->stream_id));
    assert_string_equal (all->alerts[0]->alert->identifier, "em.510100.2026.0001");
    char after_first[64];
    snprintf (after_first, sizeof after_first, "%s", all->alerts[0]->stream_id);
    assert_string_equal (all->latest, all->alerts[3]->stream_id);
    onenet__alert__alert_batch__free_unpacked (all, NULL);

    Onenet__Alert__AlertBatch *later = since (after_first, NULL, 0);
    assert_int_equal (later->n_alerts, 3);
    onenet__alert__alert_batch__free_unpacked (later, NULL);

    Onenet__Alert__AlertBatch *chengdu = since ("", "5101", 0);
    assert_int_equal (chengdu->n_alerts, 1);
    onenet__alert__alert_batch__free_unpacked (chengdu, NULL);

    Onenet__Alert__AlertBatch *newest = since ("", NULL, 2);
    assert_int_equal (newest->n_alerts, 2);
    assert_string_equal (newest->alerts[1]->alert->identifier, "TRI13970876.2");
    onenet__alert__alert_batch__free_unpacked (newest, NULL);
}

static Onenet__Alert__AlertState *
state_of (const char *identifier, onenet_status_t expect)
{
    Onenet__Alert__StateRequest request = ONENET__ALERT__STATE_REQUEST__INIT;
    request.identifier = (char *) identifier;
    onenet_reply_t *reply = onenet_client_call_message (s.client, "onenet.alert.state", &request.base, NULL);
    assert_int_equal (onenet_reply_status (reply), expect);
    Onenet__Alert__AlertState *state = expect == ONENET_OK
                                           ? (Onenet__Alert__AlertState *) onenet_reply_unpack (
                                               reply, &onenet__alert__alert_state__descriptor)
                                           : NULL;
    onenet_reply_destroy (&reply);
    return state;
}

static size_t
open_alerts (const char *identifier, bool *listed)
{
    Onenet__Alert__AlertFilter filter = ONENET__ALERT__ALERT_FILTER__INIT;
    onenet_reply_t *reply = onenet_client_call_message (s.client, "onenet.alert.unacked", &filter.base, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__Alert__AlertBatch *batch = (Onenet__Alert__AlertBatch *) onenet_reply_unpack (
        reply, &onenet__alert__alert_batch__descriptor);
    onenet_reply_destroy (&reply);
    assert_non_null (batch);
    *listed = false;
    for (size_t i = 0; i < batch->n_alerts; i++)
        *listed = *listed || strcmp (batch->alerts[i]->alert->identifier, identifier) == 0;
    size_t n = batch->n_alerts;
    onenet__alert__alert_batch__free_unpacked (batch, NULL);
    return n;
}

static void
test_ack_cancel_and_state (void **state)
{
    (void) state;
    bool listed = false;
    open_alerts ("KSTO1055887203", &listed);
    assert_true (listed);

    Onenet__Alert__Ack ack = ONENET__ALERT__ACK__INIT;
    ack.identifier = "KSTO1055887203";
    ack.by = "duty officer Li";
    onenet_reply_t *reply = onenet_client_call_message (s.client, "onenet.alert.ack", &ack.base, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__Alert__Ack *recorded = (Onenet__Alert__Ack *) onenet_reply_unpack (reply, &onenet__alert__ack__descriptor);
    assert_string_equal (recorded->by, "anonymous/duty officer Li");
    assert_true (recorded->at_ms > 0);
    /* The audit keeps the department and the person apart. */
    assert_true (harness_audit_has ("\"kind\":\"alert.ack\"", "\"requester\":\"anonymous\"",
                                    "\"user\":\"duty officer Li\""));
    onenet__alert__ack__free_unpacked (recorded, NULL);
    onenet_reply_destroy (&reply);
    open_alerts ("KSTO1055887203", &listed);
    assert_false (listed);

    ack.identifier = "no.such.alert";
    reply = onenet_client_call_message (s.client, "onenet.alert.ack", &ack.base, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_NOT_FOUND);
    onenet_reply_destroy (&reply);

    Onenet__Alert__AlertState *acked = state_of ("KSTO1055887203", ONENET_OK);
    assert_int_equal (acked->n_acks, 1);
    assert_false (acked->cancelled);
    onenet__alert__alert_state__free_unpacked (acked, NULL);

    /* The flood alert is cancelled by its follow-up: no longer open. */
    Onenet__Alert__Alert *cancel = harness_cap_sample ("onenet-flood-chengdu-cancel.xml");
    onenet__alert__publish_reply__free_unpacked (publish (cancel, ONENET_OK), NULL);
    onenet__alert__alert__free_unpacked (cancel, NULL);
    Onenet__Alert__AlertState *flood = state_of ("em.510100.2026.0001", ONENET_OK);
    assert_true (flood->cancelled);
    assert_int_equal (flood->n_updates, 1);
    assert_string_equal (flood->updates[0]->alert->identifier, "em.510100.2026.0002");
    assert_string_equal (flood->alert->alert->msg_type, "Alert");
    onenet__alert__alert_state__free_unpacked (flood, NULL);
    open_alerts ("em.510100.2026.0001", &listed);
    assert_false (listed);
    assert_null (state_of ("never.published", ONENET_NOT_FOUND));
}

static void
test_escalation_of_unacknowledged (void **state)
{
    (void) state;
    void *everyone = subscribe ("escalation.");
    Onenet__Alert__Alert *alert = harness_cap_sample ("onenet-flood-chengdu.xml");
    free (alert->identifier);
    alert->identifier = strdup ("em.510100.2026.0099");   /* a new, Extreme, unacknowledged alert */
    onenet__alert__publish_reply__free_unpacked (publish (alert, ONENET_OK), NULL);
    onenet__alert__alert__free_unpacked (alert, NULL);
    char topic[160];
    /* escalate_after_s = 2: escalated a few seconds later, once. */
    Onenet__Alert__AlertEnvelope *escalated = receive (everyone, 8000, topic, sizeof topic);
    assert_non_null (escalated);
    assert_true (escalated->escalated);
    assert_string_equal (escalated->alert->identifier, "em.510100.2026.0099");
    assert_int_equal (strncmp (topic, "escalation.Extreme.", 19), 0);
    onenet__alert__alert_envelope__free_unpacked (escalated, NULL);
    Onenet__Alert__AlertEnvelope *again = receive (everyone, 1000, topic, sizeof topic);   /* second geocode */
    if (again)
        onenet__alert__alert_envelope__free_unpacked (again, NULL);
    assert_null (receive (everyone, 2500, topic, sizeof topic));   /* not escalated twice */
    Onenet__Alert__AlertState *state_now = state_of ("em.510100.2026.0099", ONENET_OK);
    assert_true (state_now->escalated);
    onenet__alert__alert_state__free_unpacked (state_now, NULL);
    unsubscribe (everyone);
}

static void
test_spool_while_redis_is_down (void **state)
{
    (void) state;
    void *sub = subscribe ("alert.");
    harness_stop (s.redis, SIGKILL);
    Onenet__Alert__Alert *alert = harness_cap_sample ("oasis-a4-amber-alert-bilingual.xml");
    /* The broker may not have noticed yet: retry until it answers spooled. */
    Onenet__Alert__PublishReply *reply = NULL;
    for (int i = 0; i < 50 && !(reply && reply->spooled); i++) {
        if (reply)
            onenet__alert__publish_reply__free_unpacked (reply, NULL);
        onenet_reply_t *raw = onenet_client_call_message (s.client, "onenet.alert.publish", &alert->base, NULL);
        reply = onenet_reply_status (raw) == ONENET_OK
                    ? (Onenet__Alert__PublishReply *) onenet_reply_unpack (raw, &onenet__alert__publish_reply__descriptor)
                    : NULL;
        onenet_reply_destroy (&raw);
        if (!(reply && reply->spooled))
            usleep (100000);
    }
    assert_non_null (reply);
    assert_true (reply->spooled);
    onenet__alert__publish_reply__free_unpacked (reply, NULL);
    /* Spooled too: the same alert again, and an Update of it. When the
     * spool goes back to Redis, the repeat is stored once and the Update
     * closes the alert it names, as if Redis had never been away. */
    Onenet__Alert__Alert *update = harness_cap_sample ("oasis-a4-amber-alert-bilingual.xml");
    char references[256];
    snprintf (references, sizeof references, "%s,%s,%s", update->sender, update->identifier,
              update->sent);
    update->references = strdup (references);
    free (update->identifier);
    update->identifier = strdup ("KAR0-0306112239-SW.2");
    free (update->msg_type);
    update->msg_type = strdup ("Update");
    Onenet__Alert__Alert *spooled[] = { alert, update };
    for (int i = 0; i < 2; i++) {
        Onenet__Alert__PublishReply *answer = publish (spooled[i], ONENET_OK);
        assert_true (answer->spooled);
        onenet__alert__publish_reply__free_unpacked (answer, NULL);
    }
    onenet__alert__alert__free_unpacked (update, NULL);
    char topic[160];
    Onenet__Alert__AlertEnvelope *live = receive (sub, 3000, topic, sizeof topic);
    assert_non_null (live);   /* delivered live all the same */
    assert_string_equal (live->alert->identifier, "KAR0-0306112239-SW");
    assert_string_equal (live->stream_id, "");
    onenet__alert__alert_envelope__free_unpacked (live, NULL);

    s.redis = harness_start_redis (s.redis_port, true);   /* AOF: the stream survived */
    bool flushed = false;
    for (int i = 0; i < 100 && !flushed; i++) {
        Onenet__Alert__AlertBatch *batch = NULL;
        Onenet__Alert__SinceRequest request = ONENET__ALERT__SINCE_REQUEST__INIT;
        request.last = 1;
        onenet_reply_t *raw = onenet_client_call_message (s.client, "onenet.alert.since", &request.base, NULL);
        if (onenet_reply_status (raw) == ONENET_OK)
            batch = (Onenet__Alert__AlertBatch *) onenet_reply_unpack (raw, &onenet__alert__alert_batch__descriptor);
        onenet_reply_destroy (&raw);
        flushed = batch && batch->n_alerts == 1
                  && strcmp (batch->alerts[0]->alert->identifier, "KAR0-0306112239-SW.2") == 0;
        if (batch)
            onenet__alert__alert_batch__free_unpacked (batch, NULL);
        if (!flushed)
            usleep (100000);
    }
    assert_true (flushed);
    /* Stored once, followed by its Update, which closed it. */
    Onenet__Alert__AlertBatch *newest = since ("", NULL, 3);
    assert_int_equal (newest->n_alerts, 3);
    assert_string_not_equal (newest->alerts[0]->alert->identifier, "KAR0-0306112239-SW");
    assert_string_equal (newest->alerts[1]->alert->identifier, "KAR0-0306112239-SW");
    onenet__alert__alert_batch__free_unpacked (newest, NULL);
    Onenet__Alert__AlertState *chain = state_of ("KAR0-0306112239-SW", ONENET_OK);
    assert_int_equal (chain->n_updates, 1);
    onenet__alert__alert_state__free_unpacked (chain, NULL);
    bool listed = true;
    open_alerts ("KAR0-0306112239-SW", &listed);
    assert_false (listed);
    open_alerts ("KAR0-0306112239-SW.2", &listed);
    assert_true (listed);
    /* Everything published before Redis died is still there. */
    Onenet__Alert__AlertState *old = state_of ("KSTO1055887203", ONENET_OK);
    assert_int_equal (old->n_acks, 1);
    onenet__alert__alert_state__free_unpacked (old, NULL);
    onenet__alert__alert__free_unpacked (alert, NULL);
    unsubscribe (sub);
}

/* 1 if stream id `id` is in the sorted set onenet:alerts:<set>, else 0. */
static long long
in_set (const char *set, const char *id)
{
    char command[256];
    snprintf (command, sizeof command,
              "EVAL \"return redis.call('ZSCORE', KEYS[1], ARGV[1]) and 1 or 0\" 1 "
              "onenet:alerts:%s %s", set, id);
    return harness_redis_int (s.redis_port, command);
}

/* An Extreme flood alert (it escalates here) of another identifier,
 * msgType and reference. */
static Onenet__Alert__Alert *
chain_alert (const char *identifier, const char *msg_type, const char *references)
{
    Onenet__Alert__Alert *alert = harness_cap_sample ("onenet-flood-chengdu.xml");
    free (alert->identifier);
    alert->identifier = strdup (identifier);
    free (alert->msg_type);
    alert->msg_type = strdup (msg_type);
    if (references) {   /* the sample has none: "" is protobuf-c's, not malloc'd */
        if (alert->references && alert->references != protobuf_c_empty_string)
            free (alert->references);
        alert->references = strdup (references);
    }
    return alert;
}

/* Publishes alerts[0..count) in one BATCH on a client that takes batches;
 * their stream ids go to ids and whether each was a duplicate to
 * duplicate (may be NULL), in order. None may be spooled. */
static void
publish_together (Onenet__Alert__Alert **alerts, size_t count, char ids[][48], bool *duplicate)
{
    onenet_client_t *client = onenet_client_new (harness_endpoint (s.broker_port), NULL, 0);
    assert_non_null (client);
    onenet_client_set_batching (client, true);
    /* A first call tells the client that the broker takes batches. */
    onenet_reply_t *reply = onenet_client_call (client, "onenet.ping", NULL, 0, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);
    uint64_t calls[16];
    char err[300];
    assert_true (count <= 16);
    for (size_t i = 0; i < count; i++)
        assert_true ((calls[i] = onenet_alert_publish_send (client, alerts[i], 5000, err,
                                                            sizeof err)) > 0);
    assert_int_equal (onenet_client_flush (client), 0);
    for (size_t got = 0; got < count; got++) {
        reply = onenet_client_recv (client, 5000);
        assert_non_null (reply);
        size_t i = 0;
        while (i < count && calls[i] != onenet_reply_correlation_id (reply))
            i++;
        assert_true (i < count);
        bool spooled = true, repeat = false;
        assert_int_equal (onenet_alert_publish_result (reply, ids[i], 48, &spooled, &repeat, err,
                                                       sizeof err), 0);
        assert_false (spooled);
        if (duplicate)
            duplicate[i] = repeat;
        onenet_reply_destroy (&reply);
    }
    onenet_client_destroy (&client);
}

/* Alerts published together reach Redis in one call of the publish
 * script: an Update or a Cancel in that call closes an alert earlier in
 * it, and a repeat in it is a duplicate of the first. */
static void
test_one_call_holds_a_chain (void **state)
{
    (void) state;
    enum { FIRST, UPDATE, SECOND, CANCEL, REPEAT, COUNT };
    Onenet__Alert__Alert *alerts[COUNT] = {
        [FIRST] = chain_alert ("chain.0001", "Alert", NULL),
        [UPDATE] = chain_alert ("chain.0002", "Update",
                                "duty@em.example.gov.cn,chain.0001,2026-07-12T03:20:00+08:00"),
        [SECOND] = chain_alert ("chain.0003", "Alert", NULL),
        [CANCEL] = chain_alert ("chain.0004", "Cancel",
                                "duty@em.example.gov.cn,chain.0003,2026-07-12T03:20:00+08:00"),
        [REPEAT] = chain_alert ("chain.0001", "Alert", NULL),
    };
    /* Nothing else publishes here (escalations are sent again, not
     * stored), and the five are all that was published. */
    double published = harness_metric (s.http_port, "onenet_alerts_published_total");
    double calls = harness_metric (s.http_port, "onenet_alerts_store_calls_total");
    char ids[COUNT][48];
    bool duplicate[COUNT];
    publish_together (alerts, COUNT, ids, duplicate);
    /* One call of the publish script for the five (Redis's clock moves
     * during a script: the ids need not share their millisecond). */
    assert_true (harness_metric (s.http_port, "onenet_alerts_published_total") == published + 5);
    assert_true (harness_metric (s.http_port, "onenet_alerts_store_calls_total") == calls + 1);
    /* The four new entries in order. */
    for (int i = FIRST; i <= CANCEL; i++) {
        assert_false (duplicate[i]);
        if (i > FIRST) {
            unsigned long long ms, seq, before_ms, before_seq;
            assert_int_equal (sscanf (ids[i], "%llu-%llu", &ms, &seq), 2);
            assert_int_equal (sscanf (ids[i - 1], "%llu-%llu", &before_ms, &before_seq), 2);
            assert_true (ms > before_ms || (ms == before_ms && seq > before_seq));
        }
    }
    /* The repeat: the first one's id, not stored again. */
    assert_true (duplicate[REPEAT]);
    assert_string_equal (ids[REPEAT], ids[FIRST]);

    /* The Update closed the first and is open itself; the Cancel closed
     * the second and is not open. */
    bool listed;
    open_alerts ("chain.0001", &listed);
    assert_false (listed);
    open_alerts ("chain.0002", &listed);
    assert_true (listed);
    open_alerts ("chain.0003", &listed);
    assert_false (listed);
    open_alerts ("chain.0004", &listed);
    assert_false (listed);
    /* The same for escalation: only the Update may still escalate. */
    assert_int_equal (in_set ("escalate", ids[FIRST]), 0);
    assert_int_equal (in_set ("escalate", ids[UPDATE]), 1);
    assert_int_equal (in_set ("escalate", ids[SECOND]), 0);
    assert_int_equal (in_set ("escalate", ids[CANCEL]), 0);
    Onenet__Alert__AlertState *first = state_of ("chain.0001", ONENET_OK);
    assert_int_equal (first->n_updates, 1);
    assert_string_equal (first->updates[0]->alert->identifier, "chain.0002");
    assert_false (first->cancelled);
    onenet__alert__alert_state__free_unpacked (first, NULL);
    Onenet__Alert__AlertState *second = state_of ("chain.0003", ONENET_OK);
    assert_true (second->cancelled);
    onenet__alert__alert_state__free_unpacked (second, NULL);
    for (int i = 0; i < COUNT; i++)
        onenet__alert__alert__free_unpacked (alerts[i], NULL);
}

/* Fields an alert's publisher sent that CAP does not have are dropped
 * before the alert is stored or sent (the broker reads publishes in its
 * loop's arena): among them a tag of field 0 in an over-long varint,
 * which protobuf-c reads but would pack back unreadably. */
static void
test_unknown_fields_are_not_stored (void **state)
{
    (void) state;
    void *sub = subscribe ("alert.Extreme.5101");
    Onenet__Alert__Alert *alert = chain_alert ("unknown.0001", "Alert", NULL);
    size_t size = protobuf_c_message_get_packed_size (&alert->base);
    const uint8_t unknown[] = {
        0xf8, 0x06, 0x2a,         /* field 111, varint 42 */
        0x80, 0x00, 0x01,         /* field 0 (tag 0 in two bytes), varint 1 */
    };
    uint8_t *body = malloc (size + sizeof unknown);
    assert_non_null (body);
    protobuf_c_message_pack (&alert->base, body);
    memcpy (body + size, unknown, sizeof unknown);
    /* protobuf-c takes both as unknown fields of the alert. */
    Onenet__Alert__Alert *read = onenet__alert__alert__unpack (NULL, size + sizeof unknown, body);
    assert_non_null (read);
    assert_int_equal (read->base.n_unknown_fields, 2);
    onenet__alert__alert__free_unpacked (read, NULL);

    onenet_reply_t *reply = onenet_client_call (s.client, "onenet.alert.publish", body,
                                                size + sizeof unknown, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);
    char topic[160];
    Onenet__Alert__AlertEnvelope *got = receive (sub, 3000, topic, sizeof topic);
    assert_non_null (got);
    assert_string_equal (got->alert->identifier, "unknown.0001");
    assert_int_equal (got->alert->base.n_unknown_fields, 0);
    assert_true (*got->stream_id);
    onenet__alert__alert_envelope__free_unpacked (got, NULL);
    /* And the stream holds it without them. */
    Onenet__Alert__AlertState *stored = state_of ("unknown.0001", ONENET_OK);
    assert_int_equal (stored->alert->alert->base.n_unknown_fields, 0);
    assert_string_equal (stored->alert->alert->identifier, "unknown.0001");
    onenet__alert__alert_state__free_unpacked (stored, NULL);
    free (body);
    onenet__alert__alert__free_unpacked (alert, NULL);
    unsubscribe (sub);
}

/* Alerts stored by one call go out together: a run of them with the same
 * topics as one message per topic, [topic][bodies][count], each body an
 * envelope after its length as a varint; alerts of other topics in
 * between end a run, so the order on the wire stays the stream's. */
static void
test_alerts_of_one_call_go_as_one_message (void **state)
{
    (void) state;
    void *sub = subscribe ("alert.Extreme.5101");
    char identifiers[5][32];
    Onenet__Alert__Alert *alerts[5];
    for (int i = 0; i < 5; i++) {
        snprintf (identifiers[i], sizeof identifiers[i], "together.%04d", i);
        alerts[i] = chain_alert (identifiers[i], "Alert", NULL);
    }
    char ids[5][48];
    publish_together (alerts, 5, ids, NULL);
    /* The sample has two districts: one message on each topic. */
    for (int topic = 0; topic < 2; topic++) {
        zmq_msg_t frames[3];
        assert_int_equal (receive_frames (sub, 3000, frames), 3);
        assert_int_equal (zmq_msg_size (&frames[2]), 1);
        assert_memory_equal (zmq_msg_data (&frames[2]), "5", 1);
        onenet_event_bodies_t bodies;
        assert_int_equal (onenet_event_bodies_init (&bodies, 5, zmq_msg_data (&frames[1]),
                                                    zmq_msg_size (&frames[1])), 0);
        const void *body;
        size_t size;
        for (int i = 0; i < 5; i++) {
            assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 1);
            Onenet__Alert__AlertEnvelope *envelope =
                onenet__alert__alert_envelope__unpack (NULL, size, body);
            assert_non_null (envelope);
            assert_string_equal (envelope->alert->identifier, identifiers[i]);
            assert_string_equal (envelope->stream_id, ids[i]);
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        }
        assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 0);
        for (int i = 0; i < 3; i++)
            zmq_msg_close (&frames[i]);
    }

    /* Another district in the middle: three runs, each alone, in order. */
    void *all = subscribe ("alert.Extreme");
    for (int i = 0; i < 3; i++) {
        snprintf (identifiers[i], sizeof identifiers[i], "between.%04d", i);
        free (alerts[i]->identifier);
        alerts[i]->identifier = strdup (identifiers[i]);
    }
    Onenet__Alert__Area *area = alerts[1]->info[0]->area[0];
    assert_int_equal (area->n_geocode, 2);
    for (size_t g = 0; g < 2; g++) {   /* Luzhou's districts, not Chengdu's */
        free (area->geocode[g]->value);
        area->geocode[g]->value = strdup (g == 0 ? "510502" : "510503");
    }
    publish_together (alerts, 3, ids, NULL);
    for (int i = 0; i < 3; i++) {
        for (int copy = 0; copy < 2; copy++) {   /* two districts each */
            zmq_msg_t frames[3];
            assert_int_equal (receive_frames (all, 3000, frames), 2);
            Onenet__Alert__AlertEnvelope *envelope = onenet__alert__alert_envelope__unpack (
                NULL, zmq_msg_size (&frames[1]), zmq_msg_data (&frames[1]));
            assert_non_null (envelope);
            assert_string_equal (envelope->alert->identifier, identifiers[i]);
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
            zmq_msg_close (&frames[0]);
            zmq_msg_close (&frames[1]);
        }
    }
    for (int i = 0; i < 5; i++)
        onenet__alert__alert__free_unpacked (alerts[i], NULL);
    unsubscribe (sub);
    unsubscribe (all);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_publish_filter_and_dedupe),
        cmocka_unit_test (test_catch_up_is_filtered_and_ordered),
        cmocka_unit_test (test_ack_cancel_and_state),
        cmocka_unit_test (test_escalation_of_unacknowledged),
        cmocka_unit_test (test_spool_while_redis_is_down),
        cmocka_unit_test (test_one_call_holds_a_chain),
        cmocka_unit_test (test_unknown_fields_are_not_stored),
        cmocka_unit_test (test_alerts_of_one_call_go_as_one_message),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests_name ("integration_alert_lifecycle", tests, setup, teardown);
}
