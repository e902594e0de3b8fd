/*
 * test_client.c - the SDK client (onenet/onenet.h) against a fake broker:
 * a ROUTER socket on loopback driven by the test, so that the exact order
 * of what reaches the client can be arranged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>
#include "onenet/onenet.h"
#include "onenet/wire.h"
#include "onenet/proto/onenet.pb-c.h"

#define SAFETY_TIMEOUT_MS 10000

/* A fake broker (a ROUTER on loopback) answers a call the client already
 * gave up on, then a live one: onenet_client_recv with timeout 0 must not
 * stop at the late reply while the live one is queued behind it. */
static void
test_client_recv_zero_reads_past_a_late_reply (void **state)
{
    void *ctx = zmq_ctx_new ();
    void *broker = zmq_socket (ctx, ZMQ_ROUTER);
    assert_non_null (broker);
    int linger = 0, timeout = SAFETY_TIMEOUT_MS;
    zmq_setsockopt (broker, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (broker, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal (zmq_bind (broker, "tcp://127.0.0.1:*"), 0);
    char endpoint[128];
    size_t length = sizeof endpoint;
    assert_int_equal (zmq_getsockopt (broker, ZMQ_LAST_ENDPOINT, endpoint, &length), 0);
    onenet_client_t *client = onenet_client_new (endpoint, NULL, 0);
    assert_non_null (client);

    /* Call 1 with a 1 ms timeout: given up locally (TIMEOUT) after its grace. */
    onenet_call_options_t quick = { .timeout_ms = 1 };
    uint64_t late = onenet_client_send (client, "test.late", NULL, 0, &quick);
    onenet_reply_t *reply = onenet_client_recv (client, 2000);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_status (reply), ONENET_TIMEOUT);
    onenet_reply_destroy (&reply);
    uint64_t live = onenet_client_send (client, "test.live", NULL, 0, NULL);

    /* The broker got both; it answers the late one first. */
    zmq_msg_t peer;
    for (int i = 0; i < 2; i++) {
        onenet_wire_msg_t msg;
        assert_int_equal (onenet_wire_recv (broker, &msg, 0), 0);
        if (i == 0) {
            zmq_msg_init (&peer);
            zmq_msg_copy (&peer, &msg.frame[0]);
        }
        onenet_wire_close (&msg);
    }
    uint64_t ids[] = { late, live };
    for (int i = 0; i < 2; i++) {
        Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
        header.correlation_id = ids[i];
        assert_int_equal (onenet_wire_send (broker, &peer, ONENET_CMD_REPLY, &header.base, NULL, 0),
                          0);
    }
    /* Loopback delivers both within far less than a second; then one
     * call that does not wait must find the live reply. */
    usleep (1000000);
    reply = onenet_client_recv (client, 0);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_correlation_id (reply), live);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);

    zmq_msg_close (&peer);
    onenet_client_destroy (&client);
    assert_int_equal (zmq_close (broker), 0);
    assert_int_equal (zmq_ctx_term (ctx), 0);
    (void) state;
}

/* Calls started before the broker is there wait in the client's queue:
 * well over ZeroMQ's default of 1000 (whose reads are only seen every
 * 500, so that bench rr could not keep 1000 in flight) all queue. */
static void
test_client_queues_thousands_of_calls (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new ();
    void *probe = zmq_socket (ctx, ZMQ_ROUTER);   /* finds a free port, then leaves it */
    assert_int_equal (zmq_bind (probe, "tcp://127.0.0.1:*"), 0);
    char endpoint[128];
    size_t length = sizeof endpoint;
    assert_int_equal (zmq_getsockopt (probe, ZMQ_LAST_ENDPOINT, endpoint, &length), 0);
    zmq_close (probe);
    onenet_client_t *client = onenet_client_new (endpoint, NULL, 0);
    assert_non_null (client);
    onenet_call_options_t options = { .timeout_ms = 60000 };
    for (int i = 0; i < 5000; i++)
        assert_true (onenet_client_send (client, "test.queued", NULL, 0, &options) > 0);
    assert_int_equal (onenet_client_pending (client), 5000);
    onenet_client_destroy (&client);
    assert_int_equal (zmq_ctx_term (ctx), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_client_recv_zero_reads_past_a_late_reply),
        cmocka_unit_test (test_client_queues_thousands_of_calls),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
