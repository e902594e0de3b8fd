/*
 * test_alert_prune.c - the keys beside the alert stream shrink with it.
 *
 * The stream is trimmed to about alerts.stream_max entries; the index
 * (identifier -> stream id), the open and escalation sets and the lists of
 * acknowledgements and references of trimmed alerts must go too, while
 * what the stream still holds keeps working. A real redis-server and
 * broker; Redis is read with redis-cli.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/cap.h"
#include "onenet/proto/alert.pb-c.h"

#define STREAM "onenet:alerts"
#define STREAM_MAX 200
#define PUBLISHED 1200

static int s_redis_port, s_broker_port, s_http_port;
static onenet_client_t *s_client;

static int
setup (void **state)
{
    (void)state;
    s_redis_port = harness_free_port ();
    harness_start_redis (s_redis_port, false);
    s_broker_port = harness_free_port ();
    s_http_port = harness_free_port ();
    char config[640];
    /* Every alert escalates (Extreme >= Minor), none within the test. */
    snprintf (config, sizeof config,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "alerts = { stream_max = %d; spool = \"%s/spool\";\n"
              "           escalate_severity = \"Minor\"; escalate_after_s = 3600; };\n"
              "http = { endpoint = \"127.0.0.1:%d\"; };\n",
              s_redis_port, STREAM_MAX, harness_tempdir (), s_http_port);
    harness_start_broker (s_broker_port, config);
    s_client = onenet_client_new (harness_endpoint (s_broker_port), NULL, 0);
    return s_client ? 0 : -1;
}

static int
teardown (void **state)
{
    (void)state;
    onenet_client_destroy (&s_client);
    harness_cleanup ();
    return 0;
}

/* A Redis integer reply, from the test's Redis. */
static long long
redis_int (const char *command)
{
    return harness_redis_int (s_redis_port, command);
}

/* The flood sample under another identifier; an Update of `updates` when
 * not NULL. */
static Onenet__Alert__Alert *
alert_named (const char *identifier, const char *updates)
{
    Onenet__Alert__Alert *alert = harness_cap_sample ("onenet-flood-chengdu.xml");
    free (alert->identifier);
    alert->identifier = strdup (identifier);
    if (updates) {
        free (alert->msg_type);
        alert->msg_type = strdup ("Update");
        char references[256];
        snprintf (references, sizeof references, "%s,%s,%s", alert->sender, updates, alert->sent);
        if (alert->references != protobuf_c_empty_string) /* unset: a shared "" */
            free (alert->references);
        alert->references = strdup (references);
    }
    return alert;
}

static onenet_status_t
call (const char *service, const ProtobufCMessage *message)
{
    onenet_reply_t *reply = onenet_client_call_message (s_client, service, message, NULL);
    onenet_status_t status = onenet_reply_status (reply);
    onenet_reply_destroy (&reply);
    return status;
}

static void
publish (const char *identifier, const char *updates)
{
    Onenet__Alert__Alert *alert = alert_named (identifier, updates);
    assert_int_equal (call ("onenet.alert.publish", &alert->base), ONENET_OK);
    onenet__alert__alert__free_unpacked (alert, NULL);
}

static onenet_status_t
state_of (const char *identifier)
{
    Onenet__Alert__StateRequest request = ONENET__ALERT__STATE_REQUEST__INIT;
    request.identifier = (char *)identifier;
    return call ("onenet.alert.state", &request.base);
}

static void
test_trimmed_alerts_leave_nothing_behind (void **state)
{
    (void)state;
    char identifier[32];
    for (int i = 0; i < PUBLISHED; i++) {
        snprintf (identifier, sizeof identifier, "prune-%d", i);
        publish (identifier, NULL);
        if (i < 5) { /* acknowledged early: an acks list each */
            Onenet__Alert__Ack ack = ONENET__ALERT__ACK__INIT;
            ack.identifier = identifier;
            ack.by = "duty officer Wang";
            assert_int_equal (call ("onenet.alert.ack", &ack.base), ONENET_OK);
        }
        if (i == 4) {
            publish ("prune-update-of-0", "prune-0"); /* a refs list for prune-0 */
            assert_int_equal (redis_int ("EXISTS " STREAM ":refs:prune-0"), 1);
            assert_int_equal (redis_int ("EXISTS " STREAM ":acks:prune-0"), 1);
        }
    }
    long long length = redis_int ("XLEN " STREAM);
    assert_true (length < PUBLISHED / 2); /* trimmed */

    /* One step of HSCAN per tick: a few seconds for two passes' worth. */
    long long entries = 0;
    for (int i = 0; i < 150; i++) {
        entries = redis_int ("HLEN " STREAM ":index");
        if (entries <= redis_int ("XLEN " STREAM))
            break;
        usleep (100000);
    }
    length = redis_int ("XLEN " STREAM);
    if (entries > length)
        fail_msg ("the index still holds %lld identifiers for %lld alerts in the stream", entries,
                  length);
    assert_int_equal (redis_int ("EXISTS " STREAM ":refs:prune-0"), 0);
    assert_int_equal (redis_int ("EXISTS " STREAM ":acks:prune-0"), 0);
    assert_int_equal (redis_int ("EXISTS " STREAM ":acks:prune-4"), 0);
    assert_true (redis_int ("ZCARD " STREAM ":open") <= length);
    assert_true (redis_int ("ZCARD " STREAM ":escalate") <= length);

    /* What the stream holds still works; what it lost is unknown now. */
    assert_int_equal (state_of ("prune-1199"), ONENET_OK);
    assert_int_equal (state_of ("prune-update-of-0"), ONENET_NOT_FOUND);
    assert_int_equal (state_of ("prune-0"), ONENET_NOT_FOUND);
    Onenet__Alert__Ack ack = ONENET__ALERT__ACK__INIT;
    ack.identifier = "prune-1199";
    ack.by = "duty officer Wang";
    assert_int_equal (call ("onenet.alert.ack", &ack.base), ONENET_OK);
    ack.identifier = "prune-1";
    assert_int_equal (call ("onenet.alert.ack", &ack.base), ONENET_NOT_FOUND);
    /* Publishing a pruned identifier again makes a new alert. */
    Onenet__Alert__Alert *again = alert_named ("prune-1", NULL);
    onenet_reply_t *reply = onenet_client_call_message (s_client, "onenet.alert.publish",
                                                        &again->base, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__Alert__PublishReply *published = (Onenet__Alert__PublishReply *)onenet_reply_unpack (
        reply, &onenet__alert__publish_reply__descriptor);
    assert_non_null (published);
    assert_false (published->duplicate);
    onenet__alert__publish_reply__free_unpacked (published, NULL);
    onenet_reply_destroy (&reply);
    onenet__alert__alert__free_unpacked (again, NULL);
    /* Counted for the operator. */
    assert_true (harness_metric (s_http_port, "onenet_alerts_pruned_total") >= PUBLISHED / 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_trimmed_alerts_leave_nothing_behind),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests_name ("integration_alert_prune", tests, setup, teardown);
}
