/*
 * test_adapter_sdk.c - the SDK adapter against a fake broker: a ROUTER on
 * loopback driven by the test, which counts the EVENTs that reach it,
 * decides when to send WELCOME and CREDIT, and sends REQUESTs. Covers the
 * event flow control (docs/PROTOCOL.md, "Event flow control") and the
 * request bodies a handler decodes (onenet_request_message).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>
#include "onenet/onenet.h"
#include "onenet/wire.h"
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"

#define SAFETY_TIMEOUT_MS 10000

typedef struct {
    void *context;
    void *broker;                 /* the fake broker's ROUTER */
    zmq_msg_t peer;               /* the adapter's routing id, once READY came */
    onenet_adapter_t *adapter;
} fixture_t;

static void
on_nothing (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    (void) arg;
    onenet_adapter_reply (adapter, &request, ONENET_OK, NULL, NULL, 0);
}

/* Answers with the body decoded twice by onenet_request_message, both
 * copies read after both decodes: an EchoMessage with the first one's
 * payload and delay_ms 1 when the two agree. Not an EchoMessage: 400. */
static void
on_decode (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    (void) arg;
    const ProtobufCMessageDescriptor *type = &onenet__example__echo_message__descriptor;
    Onenet__Example__EchoMessage *first, *second;
    first = (Onenet__Example__EchoMessage *) onenet_request_message (request, type);
    second = (Onenet__Example__EchoMessage *) onenet_request_message (request, type);
    if (!first || !second) {
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST, "not an EchoMessage", NULL, 0);
        return;
    }
    Onenet__Example__EchoMessage out = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    out.payload = first->payload;
    size_t length = first->payload.len;
    bool same = second->payload.len == length
                && (length == 0 || memcmp (first->payload.data, second->payload.data, length) == 0);
    out.delay_ms = first != second && same;
    onenet_adapter_reply_message (adapter, &request, &out.base);
}

/* Reads the next message at the fake broker; returns its command. */
static int
broker_recv (fixture_t *f)
{
    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (f->broker, &msg, 0), 0);
    int command = onenet_wire_parse_signature (zmq_msg_data (&msg.frame[1]),
                                               zmq_msg_size (&msg.frame[1]), NULL);
    zmq_msg_close (&f->peer);
    zmq_msg_init (&f->peer);
    zmq_msg_copy (&f->peer, &msg.frame[0]);
    onenet_wire_close (&msg);
    return command;
}

/* The next message that is not a HEARTBEAT. */
static int
broker_recv_skipping_heartbeats (fixture_t *f)
{
    int command;
    while ((command = broker_recv (f)) == ONENET_CMD_HEARTBEAT)
        ;
    return command;
}

static void
broker_send (fixture_t *f, onenet_command_t command, const ProtobufCMessage *header)
{
    assert_int_equal (onenet_wire_send (f->broker, &f->peer, command, header, NULL, 0), 0);
}

static void
send_credit (fixture_t *f, uint64_t events)
{
    Onenet__Credit credit = ONENET__CREDIT__INIT;
    credit.events = events;
    broker_send (f, ONENET_CMD_CREDIT, &credit.base);
}

/* The adapter reads what the fake broker sent (loopback: well within 200 ms). */
static void
adapter_reads (fixture_t *f)
{
    for (int i = 0; i < 20; i++)
        onenet_adapter_poll (f->adapter, 10);
}

static int
publish (fixture_t *f)
{
    Onenet__Example__EchoMessage event = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    errno = 0;
    return onenet_adapter_publish (f->adapter, "test.happened", &event.base);
}

/* Exactly n more events may be published now: the next fails with EAGAIN. */
static void
expect_room (fixture_t *f, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal (publish (f), 0);
    assert_int_equal (publish (f), -1);
    assert_int_equal (errno, EAGAIN);
}

/* A fake broker, an adapter registered with it under event_window. */
static int
setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    f->context = zmq_ctx_new ();
    f->broker = zmq_socket (f->context, ZMQ_ROUTER);
    int linger = 0, timeout = SAFETY_TIMEOUT_MS;
    zmq_setsockopt (f->broker, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (f->broker, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal (zmq_bind (f->broker, "tcp://127.0.0.1:*"), 0);
    char endpoint[128];
    size_t length = sizeof endpoint;
    assert_int_equal (zmq_getsockopt (f->broker, ZMQ_LAST_ENDPOINT, endpoint, &length), 0);
    zmq_msg_init (&f->peer);
    f->adapter = onenet_adapter_new (endpoint, "test", "a1", NULL, 0);
    assert_non_null (f->adapter);
    assert_int_equal (onenet_adapter_offer (f->adapter, "test.nothing", on_nothing, NULL, NULL), 0);
    assert_int_equal (onenet_adapter_offer (f->adapter, "test.decode", on_decode, NULL, NULL), 0);
    assert_int_equal (onenet_adapter_start (f->adapter), 0);
    *state = f;
    return 0;
}

static void
welcome (fixture_t *f, uint32_t window)
{
    assert_int_equal (broker_recv_skipping_heartbeats (f), ONENET_CMD_READY);
    Onenet__Welcome welcome = ONENET__WELCOME__INIT;
    welcome.heartbeat_ms = 10000;
    welcome.liveness = 3;
    welcome.event_window = window;
    broker_send (f, ONENET_CMD_WELCOME, &welcome.base);
    adapter_reads (f);
    assert_true (onenet_adapter_registered (f->adapter));
}

static int
teardown (void **state)
{
    fixture_t *f = *state;
    onenet_adapter_destroy (&f->adapter);
    zmq_msg_close (&f->peer);
    zmq_close (f->broker);
    zmq_ctx_term (f->context);
    free (f);
    return 0;
}

/* A window of 3: three events go, the fourth fails with EAGAIN until a
 * CREDIT confirms some; then exactly as many more go. */
static void
test_publish_stops_at_the_window (void **state)
{
    fixture_t *f = *state;
    welcome (f, 3);
    expect_room (f, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal (broker_recv_skipping_heartbeats (f), ONENET_CMD_EVENT);

    send_credit (f, 2);   /* two of the three have left the broker */
    adapter_reads (f);
    expect_room (f, 2);
}

/* Credits are cumulative: a lost one is made good by the next, an old one
 * after a newer changes nothing, and one counting more than was sent
 * cannot open the window wider than it is. */
static void
test_credit_is_cumulative (void **state)
{
    fixture_t *f = *state;
    welcome (f, 2);
    expect_room (f, 2);
    /* "1 left" was lost; "2 left" arrives, then a stale "1 left". */
    send_credit (f, 2);
    send_credit (f, 1);
    adapter_reads (f);
    expect_room (f, 2);
    /* A credit for 100 (more than the 4 sent) confirms the 4, no more. */
    send_credit (f, 100);
    adapter_reads (f);
    expect_room (f, 2);
}

/* A new registration counts afresh: the broker asks for READY again
 * (DISCONNECT) and counts from 0. Events sent after that READY are of the
 * new registration; a CREDIT that comes before its WELCOME still counts
 * the old one and must not confirm them. */
static void
test_new_registration_counts_afresh (void **state)
{
    fixture_t *f = *state;
    welcome (f, 2);
    expect_room (f, 2);
    broker_send (f, ONENET_CMD_DISCONNECT, NULL);
    adapter_reads (f);
    while (broker_recv (f) != ONENET_CMD_READY)
        ;
    /* Counted afresh from the READY: two more may go before WELCOME. */
    expect_room (f, 2);
    send_credit (f, 2);   /* the old registration's, late */
    Onenet__Welcome welcome = ONENET__WELCOME__INIT;
    welcome.heartbeat_ms = 10000;
    welcome.liveness = 3;
    welcome.event_window = 2;
    broker_send (f, ONENET_CMD_WELCOME, &welcome.base);
    adapter_reads (f);
    expect_room (f, 0);
    send_credit (f, 2);   /* the new registration's */
    adapter_reads (f);
    expect_room (f, 2);
}

/* A broker that sends no window (older, or events.window = 0): no limit. */
static void
test_no_window_no_limit (void **state)
{
    fixture_t *f = *state;
    welcome (f, 0);
    for (int i = 0; i < 500; i++)
        assert_int_equal (publish (f), 0);
}

/* Before start there is no connection: ENOTCONN, not EAGAIN, so a caller
 * can tell "try again shortly" from "not connected". */
static void
test_publish_before_start_is_not_connected (void **state)
{
    (void) state;
    onenet_adapter_t *adapter = onenet_adapter_new ("tcp://127.0.0.1:1", "test", "a1", NULL, 0);
    assert_non_null (adapter);
    Onenet__Example__EchoMessage event = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    errno = EAGAIN;
    assert_int_equal (onenet_adapter_publish (adapter, "test.happened", &event.base), -1);
    assert_int_equal (errno, ENOTCONN);
    onenet_adapter_destroy (&adapter);
}

/* Sends test.decode a body of size bytes and returns the reply's status;
 * with OK, checks the echoed payload and that both decodes agreed. */
static onenet_status_t
decode_round_trip (fixture_t *f, const uint8_t *body, size_t size)
{
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.correlation_id = 7;
    header.service = "test.decode";
    header.timeout_ms = 5000;
    zmq_msg_t frame;
    zmq_msg_init_size (&frame, size);
    memcpy (zmq_msg_data (&frame), body, size);
    assert_int_equal (onenet_wire_send (f->broker, &f->peer, ONENET_CMD_REQUEST, &header.base,
                                        &frame, 0), 0);
    zmq_msg_close (&frame);
    adapter_reads (f);
    onenet_wire_msg_t msg;
    do {
        assert_int_equal (onenet_wire_recv (f->broker, &msg, 0), 0);
        if (onenet_wire_parse_signature (zmq_msg_data (&msg.frame[1]), zmq_msg_size (&msg.frame[1]),
                                         NULL) == ONENET_CMD_REPLY)
            break;
        onenet_wire_close (&msg);
    } while (true);
    assert_true (msg.count >= 3);
    Onenet__ReplyHeader *reply = (Onenet__ReplyHeader *) onenet_wire_unpack (
        &onenet__reply_header__descriptor, &msg.frame[2], NULL);
    assert_non_null (reply);
    assert_int_equal (reply->correlation_id, 7);
    onenet_status_t status = (onenet_status_t) reply->status;
    protobuf_c_message_free_unpacked (&reply->base, NULL);
    if (status == ONENET_OK) {
        assert_int_equal (msg.count, 4);
        Onenet__Example__EchoMessage *echo = (Onenet__Example__EchoMessage *) onenet_wire_unpack (
            &onenet__example__echo_message__descriptor, &msg.frame[3], NULL);
        assert_non_null (echo);
        assert_int_equal (echo->delay_ms, 1);
        Onenet__Example__EchoMessage *sent
            = onenet__example__echo_message__unpack (NULL, size, body);
        assert_int_equal (echo->payload.len, sent->payload.len);
        if (sent->payload.len)
            assert_memory_equal (echo->payload.data, sent->payload.data, sent->payload.len);
        protobuf_c_message_free_unpacked (&sent->base, NULL);
        protobuf_c_message_free_unpacked (&echo->base, NULL);
    }
    onenet_wire_close (&msg);
    return status;
}

/* A body decoded by onenet_request_message belongs to the request: two
 * decodes are two messages, both readable until the reply, and freed with
 * the request (the sanitizers check that nothing leaks). A small body fits
 * the room the request has; a large one spills to the heap. */
static void
test_request_message_belongs_to_the_request (void **state)
{
    fixture_t *f = *state;
    welcome (f, 0);
    static uint8_t payload[64 * 1024], body[sizeof payload + 16];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t) (i * 31 + 7);
    const size_t sizes[] = { 0, 100, 5000, sizeof payload };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        Onenet__Example__EchoMessage echo = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
        echo.payload.data = payload;
        echo.payload.len = sizes[i];
        size_t size = protobuf_c_message_pack (&echo.base, body);
        assert_int_equal (decode_round_trip (f, body, size), ONENET_OK);
    }
    /* Not an EchoMessage (a truncated varint): NULL, and the handler says so. */
    const uint8_t garbage[] = { 0x08, 0xff, 0xff };
    assert_int_equal (decode_round_trip (f, garbage, sizeof garbage), ONENET_BAD_REQUEST);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_publish_stops_at_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown (test_credit_is_cumulative, setup, teardown),
        cmocka_unit_test_setup_teardown (test_new_registration_counts_afresh, setup, teardown),
        cmocka_unit_test_setup_teardown (test_no_window_no_limit, setup, teardown),
        cmocka_unit_test (test_publish_before_start_is_not_connected),
        cmocka_unit_test_setup_teardown (test_request_message_belongs_to_the_request, setup,
                                         teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
