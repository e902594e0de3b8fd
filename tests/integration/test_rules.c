/*
 * test_rules.c - cross-department routing: a rule in the broker's config
 * turns public security's "incident.reported" event for a missing person
 * into an alert for everyone; other kinds of incident raise nothing, also
 * inside a batch of events. Real redis-server, broker and public security
 * adapter on a seeded store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/proto/alert.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"
#include "onenet/proto/public_security.pb-c.h"

static onenet_client_t *s_client;
static int s_broker_port;

static int
setup (void **state)
{
    (void) state;
    char seed[512], stores[400];
    snprintf (seed, sizeof seed, "%s", harness_bin ("onenet-seed"));
    snprintf (stores, sizeof stores, "%s/stores", harness_tempdir ());
    const char *seed_argv[] = { seed, "--out", stores, "--people", "200", "--quiet", NULL };
    if (harness_run ("seed.log", seed_argv) != 0)
        return -1;
    int redis_port = harness_free_port (), port = harness_free_port ();
    harness_start_redis (redis_port, false);
    char config[2048];
    snprintf (config, sizeof config,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "alert_rules = (\n"
              "  { name = \"missing_person\"; department = \"public_security\"; topic = \"incident.reported\";\n"
              "    match_field = \"kind\"; match_value = \"missing_person\"; id_field = \"report_id\";\n"
              "    area_field = \"district_code\"; area_desc = \"District {district_code}\";\n"
              "    status = \"Exercise\"; category = \"Rescue\"; severity = \"Severe\"; urgency = \"Immediate\";\n"
              "    certainty = \"Likely\"; event = \"Missing person\";\n"
              "    headline = \"Missing person reported in {district_code}\"; description = \"{summary}\"; }\n"
              ");\n",
              redis_port);
    harness_start_broker (port, config);
    s_broker_port = port;
    char bin[512], db[512], endpoint[64];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-adapter-public-security"));
    snprintf (db, sizeof db, "%s/public_security.db", stores);
    snprintf (endpoint, sizeof endpoint, "%s", harness_endpoint (port));
    const char *argv[] = { bin, "--broker", endpoint, "--db", db, NULL };
    harness_spawn ("public_security.log", argv);
    if (!harness_wait_instances (port, "ps.incident.report", 1, 10000))
        return -1;
    s_client = onenet_client_new (endpoint, NULL, 0);
    return s_client ? 0 : -1;
}

static int
teardown (void **state)
{
    (void) state;
    onenet_client_destroy (&s_client);
    harness_cleanup ();
    return 0;
}

static Onenet__Ps__IncidentReport *
report (const char *kind, const char *summary)
{
    Onenet__Ps__IncidentReportRequest request = ONENET__PS__INCIDENT_REPORT_REQUEST__INIT;
    request.kind = (char *) kind;
    request.district_code = "510104";
    request.summary = (char *) summary;
    onenet_reply_t *reply = onenet_client_call_message (s_client, "ps.incident.report", &request.base, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__Ps__IncidentReport *stored = (Onenet__Ps__IncidentReport *) onenet_reply_unpack (
        reply, &onenet__ps__incident_report__descriptor);
    onenet_reply_destroy (&reply);
    assert_non_null (stored);
    return stored;
}

/* The newest alerts on the stream (up to 10). */
static Onenet__Alert__AlertBatch *
newest (void)
{
    Onenet__Alert__SinceRequest request = ONENET__ALERT__SINCE_REQUEST__INIT;
    request.last = 10;
    onenet_reply_t *reply = onenet_client_call_message (s_client, "onenet.alert.since", &request.base, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__Alert__AlertBatch *batch = (Onenet__Alert__AlertBatch *) onenet_reply_unpack (
        reply, &onenet__alert__alert_batch__descriptor);
    onenet_reply_destroy (&reply);
    assert_non_null (batch);
    return batch;
}

/* A SUB socket on the broker's alerts endpoint for prefix. */
static void *
subscribe (void *context, const char *prefix)
{
    void *sub = zmq_socket (context, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt (sub, ZMQ_LINGER, &linger, sizeof linger);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", harness_alerts_port (s_broker_port));
    assert_int_equal (zmq_connect (sub, endpoint), 0);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, prefix, strlen (prefix));
    harness_await_subscriptions (sub, 5000);
    return sub;
}

static void
test_missing_person_becomes_alert (void **state)
{
    (void) state;
    /* Departments' events are relayed as they are, too. */
    void *context = zmq_ctx_new ();
    void *events = subscribe (context, "event.public_security.incident.reported");
    Onenet__Ps__IncidentReport *noise = report ("noise", "Loud construction at night");
    Onenet__Ps__IncidentReport *missing = report ("missing_person", "Child missing near Jinjiang market");
    char expected[128];
    snprintf (expected, sizeof expected, "rule.missing_person.%s", missing->report_id);

    const Onenet__Alert__AlertEnvelope *found = NULL;
    Onenet__Alert__AlertBatch *batch = NULL;
    for (int i = 0; i < 50 && !found; i++) {
        if (batch)
            onenet__alert__alert_batch__free_unpacked (batch, NULL);
        batch = newest ();
        for (size_t j = 0; j < batch->n_alerts; j++)
            if (strcmp (batch->alerts[j]->alert->identifier, expected) == 0)
                found = batch->alerts[j];
        if (!found)
            usleep (100000);
    }
    assert_non_null (found);
    /* Only the missing person raised an alert, not the noise complaint. */
    assert_int_equal (batch->n_alerts, 1);
    const Onenet__Alert__Alert *alert = found->alert;
    assert_string_equal (found->published_by_department, "public_security");
    assert_string_equal (alert->status, "Exercise");
    assert_string_equal (alert->info[0]->severity, "Severe");
    assert_string_equal (alert->info[0]->category[0], "Rescue");
    assert_string_equal (alert->info[0]->headline, "Missing person reported in 510104");
    assert_string_equal (alert->info[0]->description, "Child missing near Jinjiang market");
    assert_string_equal (alert->info[0]->area[0]->area_desc, "District 510104");
    assert_string_equal (alert->info[0]->area[0]->geocode[0]->value, "510104");
    onenet__alert__alert_batch__free_unpacked (batch, NULL);

    /* Both reports went out as events: [topic NUL EventHeader][IncidentReport]. */
    for (int i = 0; i < 2; i++) {
        zmq_pollitem_t item = { events, 0, ZMQ_POLLIN, 0 };
        assert_int_equal (zmq_poll (&item, 1, 3000), 1);
        onenet_wire_msg_t msg;
        assert_int_equal (onenet_wire_recv (events, &msg, 0), 0);
        assert_int_equal (msg.count, 2);
        size_t topic_length = 0;
        Onenet__EventHeader *header = (Onenet__EventHeader *) onenet_wire_unpack_event_head (
            &onenet__event_header__descriptor, &msg.frame[0], &topic_length, NULL);
        assert_non_null (header);
        const char *topic = "event.public_security.incident.reported";
        assert_int_equal (topic_length, strlen (topic));
        assert_memory_equal (zmq_msg_data (&msg.frame[0]), topic, topic_length + 1);
        assert_string_equal (header->department, "public_security");   /* set by the broker */
        assert_string_equal (header->type, "onenet.ps.IncidentReport");
        assert_int_equal (header->count, 0);   /* flushed alone, before the reply */
        Onenet__Ps__IncidentReport *event = (Onenet__Ps__IncidentReport *) onenet_wire_unpack (
            &onenet__ps__incident_report__descriptor, &msg.frame[1], NULL);
        assert_non_null (event);
        assert_string_equal (event->report_id, i == 0 ? noise->report_id : missing->report_id);
        protobuf_c_message_free_unpacked (&event->base, NULL);
        protobuf_c_message_free_unpacked (&header->base, NULL);
        onenet_wire_close (&msg);
    }
    zmq_close (events);
    zmq_ctx_term (context);
    onenet__ps__incident_report__free_unpacked (noise, NULL);
    onenet__ps__incident_report__free_unpacked (missing, NULL);
}

/* The broker reads a batch of events body by body: a rule fires for the
 * one body that matches, and the batch is relayed whole, as one message.
 * A batch whose body frame does not hold its count is refused and said
 * in the log, and nothing of it is relayed. The adapter here is a bare
 * DEALER speaking the protocol, so the frames are exactly these. */
static void
test_batch_is_read_body_by_body (void **state)
{
    (void) state;
    void *context = zmq_ctx_new ();
    void *events = subscribe (context, "event.public_security.incident.reported");
    uint32_t batch_max = 0;
    void *dealer = harness_bare_adapter (context, s_broker_port, "public_security", "raw",
                                         &batch_max);
    assert_int_equal (batch_max, 64);   /* events.batch_max's default */
    onenet_wire_msg_t msg;

    /* Three reports in one EVENT; the second is a missing person. */
    static const char *const kinds[] = { "noise", "missing_person", "noise" };
    char ids[3][16];
    Onenet__Ps__IncidentReport reports[3];
    const ProtobufCMessage *bodies[3];
    for (int i = 0; i < 3; i++) {
        snprintf (ids[i], sizeof ids[i], "raw-%d", i + 1);
        onenet__ps__incident_report__init (&reports[i]);
        reports[i].report_id = ids[i];
        reports[i].kind = (char *) kinds[i];
        reports[i].district_code = "510104";
        reports[i].summary = "Synthetic report sent in a batch";
        bodies[i] = &reports[i].base;
    }
    uint8_t batch[1024];
    size_t size = harness_event_batch (batch, sizeof batch, bodies, 3);
    const char *topic = "incident.reported", *type = "onenet.ps.IncidentReport";
    harness_send_event (dealer, topic, type, 3, batch, size);

    /* Relayed whole: one message, count 3, the same bytes. */
    zmq_pollitem_t item = { events, 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 3000), 1);
    assert_int_equal (onenet_wire_recv (events, &msg, 0), 0);
    assert_int_equal (msg.count, 2);
    Onenet__EventHeader *relayed = (Onenet__EventHeader *) onenet_wire_unpack_event_head (
        &onenet__event_header__descriptor, &msg.frame[0], NULL, NULL);
    assert_non_null (relayed);
    assert_int_equal (relayed->count, 3);
    assert_string_equal (relayed->department, "public_security");
    protobuf_c_message_free_unpacked (&relayed->base, NULL);
    assert_int_equal (zmq_msg_size (&msg.frame[1]), size);
    assert_memory_equal (zmq_msg_data (&msg.frame[1]), batch, size);
    onenet_wire_close (&msg);

    /* The rule fired for raw-2 only. */
    bool raised[3] = { false, false, false };
    for (int attempt = 0; attempt < 50 && !raised[1]; attempt++) {
        Onenet__Alert__AlertBatch *alerts = newest ();
        for (size_t j = 0; j < alerts->n_alerts; j++)
            for (int i = 0; i < 3; i++) {
                char expected[64];
                snprintf (expected, sizeof expected, "rule.missing_person.raw-%d", i + 1);
                if (strcmp (alerts->alerts[j]->alert->identifier, expected) == 0)
                    raised[i] = true;
            }
        onenet__alert__alert_batch__free_unpacked (alerts, NULL);
        if (!raised[1])
            usleep (100000);
    }
    assert_true (raised[1]);
    assert_false (raised[0]);
    assert_false (raised[2]);

    /* A count of 4 over the same three bodies: refused, not relayed. The
     * lone event after it is the next message the subscriber gets. */
    harness_send_event (dealer, topic, type, 4, batch, size);
    harness_send_event (dealer, topic, type, 0, batch + 1, batch[0]);
    char log[64];
    snprintf (log, sizeof log, "broker-%d.log", s_broker_port);
    assert_true (harness_log_has (log, "EVENT whose body frame does not hold", 3000));
    assert_int_equal (zmq_poll (&item, 1, 3000), 1);
    assert_int_equal (onenet_wire_recv (events, &msg, 0), 0);
    relayed = (Onenet__EventHeader *) onenet_wire_unpack_event_head (
        &onenet__event_header__descriptor, &msg.frame[0], NULL, NULL);
    assert_non_null (relayed);
    assert_int_equal (relayed->count, 0);
    protobuf_c_message_free_unpacked (&relayed->base, NULL);
    Onenet__Ps__IncidentReport *lone = (Onenet__Ps__IncidentReport *) onenet_wire_unpack (
        &onenet__ps__incident_report__descriptor, &msg.frame[1], NULL);
    assert_non_null (lone);
    assert_string_equal (lone->report_id, "raw-1");
    protobuf_c_message_free_unpacked (&lone->base, NULL);
    onenet_wire_close (&msg);

    harness_bare_adapter_close (dealer);
    zmq_close (events);
    zmq_ctx_term (context);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_missing_person_becomes_alert),
        cmocka_unit_test (test_batch_is_read_body_by_body),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests_name ("integration_rules", tests, setup, teardown);
}
