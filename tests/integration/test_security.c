/*
 * test_security.c - CURVE on the broker: department keys made by
 * `onenet keygen`, a ZAP handler that lets in listed keys only, the
 * requester's department taken from the key (never from the message),
 * and an adapter refused when it claims another department than its key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/alert_publish.h"
#include "onenet/cap.h"
#include "onenet/subscriber.h"
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"

static int s_port;
static char s_keys[400];

static void
keygen (const char *name)
{
    char bin[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet"));
    const char *argv[] = { bin, "keygen", name, "--dir", s_keys, NULL };
    assert_int_equal (harness_run ("keygen.log", argv), 0);
}

static void
use_key (const char *name)
{
    char path[512], broker[512];
    snprintf (path, sizeof path, "%s/%s.key", s_keys, name);
    snprintf (broker, sizeof broker, "%s/broker.pub", s_keys);
    setenv ("ONENET_KEY", path, 1);
    setenv ("ONENET_BROKER_KEY", broker, 1);
}

static int
setup (void **state)
{
    (void) state;
    snprintf (s_keys, sizeof s_keys, "%s/keys", harness_tempdir ());
    mkdir (s_keys, 0700);
    keygen ("broker");
    keygen ("public_security");
    keygen ("social_security");
    keygen ("intruder");
    s_port = harness_free_port ();
    char config[2048];
    snprintf (config, sizeof config,
              "security = \"curve\";\n"
              "curve = { key_file = \"%s/broker.key\";\n"
              "  clients = ( { department = \"public_security\"; public_key_file = \"%s/public_security.pub\"; },\n"
              "              { department = \"social_security\"; public_key_file = \"%s/social_security.pub\"; } ); };\n"
              "broker = { registration_grace_ms = 0; };\n",
              s_keys, s_keys, s_keys);
    use_key ("public_security");   /* the harness pings the broker, like any client */
    harness_start_broker (s_port, config);
    /* The adapter runs as public security, with its key. */
    harness_start_adapter (s_port, "ps1", (const char *[]) { "--department", "public_security", NULL });
    bool ready = harness_wait_instances (s_port, "test.whoami", 1, 5000);
    unsetenv ("ONENET_KEY");
    return ready ? 0 : -1;
}

static void
test_keygen_files (void **state)
{
    (void) state;
    char path[512];
    struct stat info;
    snprintf (path, sizeof path, "%s/social_security.key", s_keys);
    assert_int_equal (stat (path, &info), 0);
    assert_int_equal (info.st_mode & 0777, 0600);
    snprintf (path, sizeof path, "%s/social_security.pub", s_keys);
    assert_int_equal (stat (path, &info), 0);
    /* An identity is never overwritten by accident. */
    char bin[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet"));
    const char *argv[] = { bin, "keygen", "social_security", "--dir", s_keys, NULL };
    assert_int_not_equal (harness_run ("keygen-again.log", argv), 0);
    assert_true (harness_log_has ("keygen-again.log", "exists already", 1000));
}

static onenet_reply_t *
whoami_as (const char *key, const char *purpose)
{
    if (key)
        use_key (key);
    else
        unsetenv ("ONENET_KEY");
    onenet_client_t *client = onenet_client_new (harness_endpoint (s_port), NULL, 0);
    unsetenv ("ONENET_KEY");
    assert_non_null (client);
    onenet_call_options_t options = { .timeout_ms = 1000, .purpose = purpose };
    onenet_reply_t *reply = onenet_client_call (client, "test.whoami", NULL, 0, &options);
    onenet_client_destroy (&client);
    return reply;
}

static void
test_department_comes_from_the_key (void **state)
{
    (void) state;
    onenet_reply_t *reply = whoami_as ("social_security", "benefit_review");
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__Example__EchoMessage *who = (Onenet__Example__EchoMessage *) onenet_reply_unpack (
        reply, &onenet__example__echo_message__descriptor);
    assert_non_null (who);
    assert_memory_equal (who->payload.data, "social_security//benefit_review", who->payload.len);
    protobuf_c_message_free_unpacked (&who->base, NULL);
    onenet_reply_destroy (&reply);
}

static void
test_identity_in_the_message_is_ignored (void **state)
{
    (void) state;
    /* A raw CURVE client with social security's key writes another
     * department into its request header. */
    use_key ("social_security");
    onenet_security_t security;
    char err[256];
    assert_int_equal (onenet_security_from_env (&security, err, sizeof err), 1);
    unsetenv ("ONENET_KEY");
    void *context = zmq_ctx_new ();
    void *dealer = zmq_socket (context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (dealer, ZMQ_CURVE_SERVERKEY, security.broker_public_key, 40);
    zmq_setsockopt (dealer, ZMQ_CURVE_PUBLICKEY, security.own.public_key, 40);
    zmq_setsockopt (dealer, ZMQ_CURVE_SECRETKEY, security.own.secret_key, 40);
    assert_int_equal (zmq_connect (dealer, harness_endpoint (s_port)), 0);
    Onenet__Requester forged = ONENET__REQUESTER__INIT;
    forged.department = "public_security";
    forged.user = "someone else";
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.correlation_id = 1;
    header.service = "test.whoami";
    header.timeout_ms = 2000;
    header.requester = &forged;
    assert_int_equal (onenet_wire_send_bytes (dealer, NULL, ONENET_CMD_REQUEST, &header.base, NULL, 0, 0), 0);
    zmq_pollitem_t item = { dealer, 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 3000), 1);
    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (dealer, &msg, 0), 0);
    assert_int_equal (msg.count, 3);
    Onenet__Example__EchoMessage *who = (Onenet__Example__EchoMessage *) onenet_wire_unpack (
        &onenet__example__echo_message__descriptor, &msg.frame[2], NULL);
    assert_non_null (who);
    assert_memory_equal (who->payload.data, "social_security//", who->payload.len);
    protobuf_c_message_free_unpacked (&who->base, NULL);
    onenet_wire_close (&msg);
    zmq_close (dealer);
    zmq_ctx_term (context);
}

static void
test_unlisted_key_and_plaintext_refused (void **state)
{
    (void) state;
    onenet_reply_t *reply = whoami_as ("intruder", "");
    /* Refused at the handshake: no answer (TIMEOUT), or no connection left
     * to queue on (UNAVAILABLE); never a reply from the service. */
    assert_true (onenet_reply_status (reply) == ONENET_TIMEOUT
                 || onenet_reply_status (reply) == ONENET_UNAVAILABLE);
    onenet_reply_destroy (&reply);
    char log_name[64];
    snprintf (log_name, sizeof log_name, "broker-%d.log", s_port);
    assert_true (harness_log_has (log_name, "event=security.refused", 3000));
    assert_true (harness_log_has (log_name, "unknown key", 100));

    reply = whoami_as (NULL, "");   /* plaintext */
    assert_true (onenet_reply_status (reply) == ONENET_TIMEOUT
                 || onenet_reply_status (reply) == ONENET_UNAVAILABLE);
    onenet_reply_destroy (&reply);
}

static void
test_adapter_cannot_claim_another_department (void **state)
{
    (void) state;
    use_key ("social_security");
    harness_start_adapter (s_port, "fake", (const char *[]) { "--department", "public_security", NULL });
    unsetenv ("ONENET_KEY");
    assert_true (harness_log_has ("adapter-fake.log", "the department does not match the connection's key", 5000));
    /* Still one instance of public security's service: the real one. */
    use_key ("public_security");
    assert_true (harness_wait_instances (s_port, "test.whoami", 1, 1000));
    unsetenv ("ONENET_KEY");
    onenet_reply_t *reply = whoami_as ("public_security", "");
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    assert_string_equal (onenet_reply_served_by (reply), "public_security/ps1");
    onenet_reply_destroy (&reply);
}

/* Under CURVE the alerts endpoint is a CURVE server too: a coordinator's
 * subscriber, holding its department's key, gets an alert live. */
static void
test_alert_subscriber_under_curve (void **state)
{
    (void) state;
    char alerts[64], err[256] = "";
    Onenet__Alert__Alert *alert = harness_cap_sample ("onenet-flood-chengdu.xml");

    use_key ("social_security");
    snprintf (alerts, sizeof alerts, "tcp://127.0.0.1:%d", harness_alerts_port (s_port));
    onenet_subscriber_t *sub = onenet_subscriber_new (harness_endpoint (s_port), alerts, NULL, NULL,
                                                      err, sizeof err);
    onenet_client_t *client = onenet_client_new (harness_endpoint (s_port), NULL, 0);
    unsetenv ("ONENET_KEY");
    assert_non_null (sub);
    assert_non_null (client);
    Onenet__Alert__AlertEnvelope *envelope = onenet_subscriber_next (sub, 2500);   /* live by now */
    if (envelope)
        onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
    char stream_id[64];
    bool spooled = false;
    assert_int_equal (onenet_alert_publish (client, alert, stream_id, sizeof stream_id, &spooled, err,
                                            sizeof err), 0);
    bool got = false;
    int64_t until = onenet_clock_ms () + 5000;
    while (!got && onenet_clock_ms () < until) {
        envelope = onenet_subscriber_next (sub, 500);
        if (envelope) {
            got = envelope->alert && strcmp (envelope->alert->identifier, alert->identifier) == 0;
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        }
    }
    assert_true (got);
    onenet_subscriber_destroy (&sub);
    onenet_client_destroy (&client);
    protobuf_c_message_free_unpacked (&alert->base, NULL);
}

static int
teardown (void **state)
{
    (void) state;
    harness_cleanup ();
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_keygen_files),
        cmocka_unit_test (test_department_comes_from_the_key),
        cmocka_unit_test (test_identity_in_the_message_is_ignored),
        cmocka_unit_test (test_unlisted_key_and_plaintext_refused),
        cmocka_unit_test (test_adapter_cannot_claim_another_department),
        cmocka_unit_test (test_alert_subscriber_under_curve),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests_name ("integration_security", tests, setup, teardown);
}
