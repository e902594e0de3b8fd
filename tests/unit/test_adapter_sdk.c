/*
 * test_adapter_sdk.c - the SDK adapter against a fake broker: a ROUTER on
 * loopback driven by the test, which counts the EVENTs that reach it,
 * decides when to send WELCOME and CREDIT, and sends REQUESTs. Covers the
 * event flow control (docs/PROTOCOL.md, "Event flow control"), event
 * batches ("Event batches"), BATCHes of requests and replies ("Batches")
 * and the request bodies a handler decodes (onenet_request_message).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>
#include "onenet/onenet.h"
#include "onenet/wire.h"
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"

#define SAFETY_TIMEOUT_MS 10000
#define HELD_MAX 32

typedef struct {
    void *context;
    void *broker;                 /* the fake broker's ROUTER */
    zmq_msg_t peer;               /* the adapter's routing id, once READY came */
    onenet_adapter_t *adapter;
    int calls;                    /* requests the test.echo handler got */
    char bodies[HELD_MAX][16];    /* their bodies, as text */
    onenet_request_t *held[HELD_MAX];   /* requests test.hold keeps */
    int held_count;
} fixture_t;

static void
on_nothing (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    (void) arg;
    onenet_adapter_reply (adapter, &request, ONENET_OK, NULL, NULL, 0);
}

/* Publishes two "test.handled" events, then answers OK. */
static void
on_publish_two (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    (void) arg;
    Onenet__Example__EchoMessage event = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    for (int i = 0; i < 2; i++)
        assert_int_equal (onenet_adapter_publish (adapter, "test.handled", &event.base), 0);
    onenet_adapter_reply (adapter, &request, ONENET_OK, NULL, NULL, 0);
}

/* Answers OK with the request's body; records the body. */
static void
on_echo (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    fixture_t *f = arg;
    size_t size;
    const void *body = onenet_request_body (request, &size);
    if (f->calls < HELD_MAX)
        snprintf (f->bodies[f->calls], sizeof f->bodies[0], "%.*s", (int) size,
                  (const char *) body);
    f->calls++;
    onenet_adapter_reply (adapter, &request, ONENET_OK, NULL, body, size);
}

/* Keeps the request for the test to answer. */
static void
on_hold (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    fixture_t *f = arg;
    assert_true (f->held_count < HELD_MAX);
    f->held[f->held_count++] = request;
    (void) adapter;
}

static void
publish_handled (onenet_adapter_t *adapter)
{
    Onenet__Example__EchoMessage event = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    assert_int_equal (onenet_adapter_publish (adapter, "test.handled", &event.base), 0);
}

/* Answers OK, then stops the adapter. */
static void
on_stop (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    (void) arg;
    onenet_adapter_reply (adapter, &request, ONENET_OK, NULL, "stop", 4);
    onenet_adapter_stop (adapter);
}

/* Publishes a "test.handled" event, then answers OK with the body. */
static void
on_publish_then_reply (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    (void) arg;
    publish_handled (adapter);
    size_t size;
    const void *body = onenet_request_body (request, &size);
    onenet_adapter_reply (adapter, &request, ONENET_OK, NULL, body, size);
}

/* Answers OK with the body, then publishes a "test.handled" event. */
static void
on_reply_then_publish (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    (void) arg;
    size_t size;
    const void *body = onenet_request_body (request, &size);
    onenet_adapter_reply (adapter, &request, ONENET_OK, NULL, body, size);
    publish_handled (adapter);
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
    assert_int_equal (onenet_adapter_offer (f->adapter, "test.publish_two", on_publish_two, NULL,
                                            NULL), 0);
    assert_int_equal (onenet_adapter_offer (f->adapter, "test.echo", on_echo, f, NULL), 0);
    assert_int_equal (onenet_adapter_offer (f->adapter, "test.hold", on_hold, f, NULL), 0);
    assert_int_equal (onenet_adapter_offer (f->adapter, "test.publish_then_reply",
                                            on_publish_then_reply, NULL, NULL), 0);
    assert_int_equal (onenet_adapter_offer (f->adapter, "test.reply_then_publish",
                                            on_reply_then_publish, NULL, NULL), 0);
    assert_int_equal (onenet_adapter_offer (f->adapter, "test.stop", on_stop, NULL, NULL), 0);
    assert_int_equal (onenet_adapter_start (f->adapter), 0);
    *state = f;
    return 0;
}

/* Reads messages up to the next READY; returns its batch_max. */
static uint32_t
broker_recv_ready (fixture_t *f)
{
    for (;;) {
        onenet_wire_msg_t msg;
        assert_int_equal (onenet_wire_recv (f->broker, &msg, 0), 0);
        zmq_msg_close (&f->peer);
        zmq_msg_init (&f->peer);
        zmq_msg_copy (&f->peer, &msg.frame[0]);
        int command = onenet_wire_parse_signature (zmq_msg_data (&msg.frame[1]),
                                                   zmq_msg_size (&msg.frame[1]), NULL);
        if (command == ONENET_CMD_READY) {
            assert_true (msg.count >= 3);
            Onenet__Ready *ready = (Onenet__Ready *) onenet_wire_unpack (
                &onenet__ready__descriptor, &msg.frame[2], NULL);
            assert_non_null (ready);
            uint32_t batch_max = ready->batch_max;
            protobuf_c_message_free_unpacked (&ready->base, NULL);
            onenet_wire_close (&msg);
            return batch_max;
        }
        onenet_wire_close (&msg);
    }
}

/* WELCOME with this window, batches of up to event_batch_max events and
 * BATCHes of up to batch_max replies; the READY offered BATCHes of 64
 * requests. */
static void
welcome_with (fixture_t *f, uint32_t window, uint32_t event_batch_max, uint32_t batch_max)
{
    assert_int_equal (broker_recv_ready (f), 64);
    Onenet__Welcome welcome = ONENET__WELCOME__INIT;
    welcome.heartbeat_ms = 10000;
    welcome.liveness = 3;
    welcome.event_window = window;
    welcome.event_batch_max = event_batch_max;
    welcome.batch_max = batch_max;
    broker_send (f, ONENET_CMD_WELCOME, &welcome.base);
    adapter_reads (f);
    assert_true (onenet_adapter_registered (f->adapter));
}

/* WELCOME with this window, and batches of up to batch_max events. */
static void
welcome_batching (fixture_t *f, uint32_t window, uint32_t batch_max)
{
    welcome_with (f, window, batch_max, 0);
}

/* WELCOME as from a broker without batches. */
static void
welcome (fixture_t *f, uint32_t window)
{
    welcome_batching (f, window, 0);
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

/* One EVENT as the fake broker got it. */
typedef struct {
    char topic[32];
    uint32_t count;             /* the header's: 0 for a lone event */
    uint32_t bodies;            /* what the body frame held */
    uint32_t first_delay_ms;    /* of the first body, an EchoMessage */
} event_seen_t;

/* Reads messages until an EVENT or a REPLY, whichever comes first, within
 * timeout_ms; returns its command (0: nothing came) and an EVENT in *seen. */
static int
broker_recv_event (fixture_t *f, int timeout_ms, event_seen_t *seen)
{
    for (;;) {
        zmq_pollitem_t item = { f->broker, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, timeout_ms) <= 0)
            return 0;
        onenet_wire_msg_t msg;
        assert_int_equal (onenet_wire_recv (f->broker, &msg, 0), 0);
        int command = onenet_wire_parse_signature (zmq_msg_data (&msg.frame[1]),
                                                   zmq_msg_size (&msg.frame[1]), NULL);
        if (command == ONENET_CMD_EVENT) {
            assert_int_equal (msg.count, 4);
            Onenet__EventHeader *header = (Onenet__EventHeader *) onenet_wire_unpack (
                &onenet__event_header__descriptor, &msg.frame[2], NULL);
            assert_non_null (header);
            snprintf (seen->topic, sizeof seen->topic, "%s", header->topic);
            seen->count = header->count;
            onenet_event_bodies_t bodies;
            assert_int_equal (onenet_event_bodies_init (&bodies, header->count,
                                                        zmq_msg_data (&msg.frame[3]),
                                                        zmq_msg_size (&msg.frame[3])), 0);
            protobuf_c_message_free_unpacked (&header->base, NULL);
            const void *body;
            size_t size;
            seen->bodies = 0;
            while (onenet_event_bodies_next (&bodies, &body, &size)) {
                Onenet__Example__EchoMessage *echo = (Onenet__Example__EchoMessage *)
                    protobuf_c_message_unpack (&onenet__example__echo_message__descriptor, NULL,
                                               size, body);
                assert_non_null (echo);
                if (seen->bodies++ == 0)
                    seen->first_delay_ms = echo->delay_ms;
                protobuf_c_message_free_unpacked (&echo->base, NULL);
            }
        }
        onenet_wire_close (&msg);
        if (command == ONENET_CMD_EVENT || command == ONENET_CMD_REPLY)
            return command;
    }
}

static int
publish_numbered (fixture_t *f, const char *topic, uint32_t number)
{
    Onenet__Example__EchoMessage event = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    event.delay_ms = number;   /* the event's number, to check the order */
    return onenet_adapter_publish (f->adapter, topic, &event.base);
}

/* With batches allowed, events published together wait for a flush and
 * then travel as one EVENT: all of them, in order. Only a new millisecond
 * (a new header) sends a batch early, so the last event always waits. */
static void
test_events_wait_for_the_flush_and_go_together (void **state)
{
    fixture_t *f = *state;
    welcome_batching (f, 0, 8);
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal (publish_numbered (f, "test.happened", i), 0);
    event_seen_t seen;
    uint32_t got = 0, next = 1;
    while (broker_recv_event (f, 100, &seen) == ONENET_CMD_EVENT) {
        assert_int_equal (seen.first_delay_ms, next);
        got += seen.bodies;
        next += seen.bodies;
    }
    assert_true (got < 3);   /* not yet */
    assert_int_equal (onenet_adapter_flush (f->adapter), 0);
    while (got < 3) {
        assert_int_equal (broker_recv_event (f, 1000, &seen), ONENET_CMD_EVENT);
        assert_string_equal (seen.topic, "test.happened");
        assert_int_equal (seen.count, seen.bodies > 1 ? seen.bodies : 0);
        assert_int_equal (seen.first_delay_ms, next);
        got += seen.bodies;
        next += seen.bodies;
    }
    assert_int_equal (got, 3);
    assert_int_equal (onenet_adapter_flush (f->adapter), 0);   /* nothing left */
    assert_int_equal (broker_recv_event (f, 100, &seen), 0);
}

/* A full batch goes at once; a lone event goes without a count, as from
 * a broker without batches; a new topic starts a new batch. */
static void
test_full_batch_goes_and_topics_do_not_mix (void **state)
{
    fixture_t *f = *state;
    welcome_batching (f, 0, 2);
    event_seen_t seen;
    bool full_went = false;
    for (int attempt = 0; attempt < 5 && !full_went; attempt++) {
        assert_int_equal (publish_numbered (f, "test.a", 1), 0);
        assert_int_equal (publish_numbered (f, "test.a", 2), 0);   /* full: sent */
        if (broker_recv_event (f, 200, &seen) == ONENET_CMD_EVENT && seen.count == 2)
            full_went = true;
        else {
            /* The millisecond turned between the two: the first went
             * alone when the second came; the second waits. */
            assert_int_equal (onenet_adapter_flush (f->adapter), 0);
            while (broker_recv_event (f, 200, &seen) == ONENET_CMD_EVENT)
                ;
        }
    }
    assert_true (full_went);
    assert_int_equal (publish_numbered (f, "test.a", 3), 0);
    assert_int_equal (publish_numbered (f, "test.b", 4), 0);   /* sends test.a's */
    assert_int_equal (broker_recv_event (f, 1000, &seen), ONENET_CMD_EVENT);
    assert_string_equal (seen.topic, "test.a");
    assert_int_equal (seen.count, 0);
    assert_int_equal (seen.bodies, 1);
    assert_int_equal (seen.first_delay_ms, 3);
    onenet_adapter_poll (f->adapter, 0);   /* a poll sends what waits */
    assert_int_equal (broker_recv_event (f, 1000, &seen), ONENET_CMD_EVENT);
    assert_string_equal (seen.topic, "test.b");
    assert_int_equal (seen.first_delay_ms, 4);
}

/* A handler's events reach the broker before its reply, as the view's
 * cache needs (record.changed before the caller can ask again). */
static void
test_events_go_before_the_reply (void **state)
{
    fixture_t *f = *state;
    welcome_batching (f, 0, 64);
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.correlation_id = 9;
    header.service = "test.publish_two";
    header.timeout_ms = 5000;
    assert_int_equal (onenet_wire_send (f->broker, &f->peer, ONENET_CMD_REQUEST, &header.base,
                                        NULL, 0), 0);
    adapter_reads (f);
    event_seen_t seen;
    uint32_t got = 0;
    while (got < 2) {
        assert_int_equal (broker_recv_event (f, 1000, &seen), ONENET_CMD_EVENT);
        assert_string_equal (seen.topic, "test.handled");
        got += seen.bodies;
    }
    assert_int_equal (broker_recv_event (f, 1000, &seen), ONENET_CMD_REPLY);
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

/* --- BATCHes of requests and replies --- */

/* A REQUEST as the fake broker sends it: its body is text, or size bytes
 * of 'x' when size is set. */
typedef struct {
    uint64_t correlation_id;
    const char *service;
    const char *body;
    size_t size;
} request_spec_t;

static void
add_request (onenet_batch_t *batch, const request_spec_t *spec, uint8_t *scratch)
{
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.correlation_id = spec->correlation_id;
    header.service = (char *) spec->service;
    header.timeout_ms = 5000;
    size_t size = spec->size ? spec->size : strlen (spec->body);
    const void *body = spec->body;
    if (spec->size) {
        memset (scratch, 'x', size);
        body = scratch;
    }
    assert_int_equal (onenet_batch_add (batch, ONENET_CMD_REQUEST, &header.base, body, size), 0);
}

/* Sends these requests, each alone (plain REQUESTs) or all as one BATCH. */
static void
broker_send_requests (fixture_t *f, const request_spec_t *specs, int count, bool as_batch)
{
    static uint8_t scratch[8192];
    onenet_batch_t batch = { 0 };
    for (int i = 0; i < count; i++) {
        add_request (&batch, &specs[i], scratch);
        if (!as_batch)
            assert_int_equal (onenet_batch_send (&batch, f->broker, &f->peer, 0), 0);
    }
    assert_int_equal (onenet_batch_send (&batch, f->broker, &f->peer, 0), 0);
    onenet_batch_release (&batch);
}

/* A reply or an event as the fake broker got it, in order. */
typedef struct {
    int message;                /* which message it came in, from 1 */
    int command;                /* ONENET_CMD_REPLY or ONENET_CMD_EVENT */
    bool batched;               /* a REPLY in a BATCH */
    int frames;                 /* of a plain REPLY: signature, header, body */
    uint64_t correlation_id;    /* of a REPLY */
    size_t body_size;
    char body[16];              /* its first bytes, as text */
} item_t;

typedef struct {
    item_t item[HELD_MAX];
    int count;
    int messages;
} seen_log_t;

static void
log_reply (seen_log_t *log, bool batched, int frames, const void *header, size_t header_size,
           const void *body, size_t body_size)
{
    assert_true (log->count < HELD_MAX);
    item_t *item = &log->item[log->count++];
    Onenet__ReplyHeader *reply = (Onenet__ReplyHeader *) protobuf_c_message_unpack (
        &onenet__reply_header__descriptor, NULL, header_size, header);
    assert_non_null (reply);
    *item = (item_t) { .message = log->messages, .command = ONENET_CMD_REPLY, .batched = batched,
                       .frames = frames, .correlation_id = reply->correlation_id,
                       .body_size = body_size };
    protobuf_c_message_free_unpacked (&reply->base, NULL);
    snprintf (item->body, sizeof item->body, "%.*s", (int) body_size, (const char *) body);
}

/* Reads messages until log holds want items, waiting at most timeout_ms
 * for each; HEARTBEATs are skipped, an EVENT is one item whatever its
 * count. Returns how many items the log holds. */
static int
broker_collect (fixture_t *f, seen_log_t *log, int want, int timeout_ms)
{
    while (log->count < want) {
        zmq_pollitem_t poll_item = { f->broker, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&poll_item, 1, timeout_ms) <= 0)
            break;
        onenet_wire_msg_t msg;
        assert_int_equal (onenet_wire_recv (f->broker, &msg, 0), 0);
        int command = onenet_wire_parse_signature (zmq_msg_data (&msg.frame[1]),
                                                   zmq_msg_size (&msg.frame[1]), NULL);
        if (command != ONENET_CMD_HEARTBEAT)
            log->messages++;
        if (command == ONENET_CMD_REPLY) {
            assert_true (msg.count >= 3);
            zmq_msg_t *body = msg.count >= 4 ? &msg.frame[3] : NULL;
            log_reply (log, false, msg.count - 1, zmq_msg_data (&msg.frame[2]),
                       zmq_msg_size (&msg.frame[2]), body ? zmq_msg_data (body) : "",
                       body ? zmq_msg_size (body) : 0);
        }
        else if (command == ONENET_CMD_BATCH) {
            assert_int_equal (msg.count, 3);
            onenet_batch_reader_t reader;
            assert_true (onenet_batch_reader_init (&reader, zmq_msg_data (&msg.frame[2]),
                                                   zmq_msg_size (&msg.frame[2])) >= 2);
            onenet_batch_entry_t entry;
            while (onenet_batch_next (&reader, &entry)) {
                assert_int_equal (entry.command, ONENET_CMD_REPLY);
                log_reply (log, true, 0, entry.header, entry.header_size, entry.body,
                           entry.body_size);
            }
        }
        else if (command == ONENET_CMD_EVENT) {
            assert_true (log->count < HELD_MAX);
            log->item[log->count++] = (item_t) { .message = log->messages,
                                                 .command = ONENET_CMD_EVENT };
        }
        onenet_wire_close (&msg);
    }
    return log->count;
}

/* Checks log item i: a reply with this id and body, in that message. */
static void
expect_reply (const seen_log_t *log, int i, uint64_t correlation_id, const char *body,
              int message, bool batched)
{
    assert_true (i < log->count);
    assert_int_equal (log->item[i].command, ONENET_CMD_REPLY);
    assert_int_equal (log->item[i].correlation_id, correlation_id);
    assert_string_equal (log->item[i].body, body);
    assert_int_equal (log->item[i].message, message);
    assert_int_equal (log->item[i].batched, batched);
}

/* The READY offers BATCHes of 64 requests. A broker whose WELCOME has no
 * batch_max (it predates batches) gets every reply alone, as before:
 * signature, header and body frame, an empty body included. */
static void
test_old_broker_gets_every_reply_alone (void **state)
{
    fixture_t *f = *state;
    welcome_with (f, 0, 64, 0);   /* checks the READY's batch_max */
    const request_spec_t specs[] = {
        { 1, "test.echo", "one", 0 }, { 2, "test.echo", "two", 0 }, { 3, "test.echo", "", 0 } };
    broker_send_requests (f, specs, 3, false);
    adapter_reads (f);
    assert_int_equal (f->calls, 3);
    seen_log_t log = { 0 };
    assert_int_equal (broker_collect (f, &log, 3, 1000), 3);
    expect_reply (&log, 0, 1, "one", 1, false);
    expect_reply (&log, 1, 2, "two", 2, false);
    expect_reply (&log, 2, 3, "", 3, false);
    for (int i = 0; i < 3; i++)
        assert_int_equal (log.item[i].frames, 3);
    assert_int_equal (broker_collect (f, &log, 4, 50), 3);   /* nothing more */
}

/* One BATCH of three requests: each handled as a plain one (and counted
 * by the poll); their replies come back as one BATCH, in order. */
static void
test_batch_of_requests_gets_a_batch_of_replies (void **state)
{
    fixture_t *f = *state;
    welcome_with (f, 0, 64, 64);
    const request_spec_t specs[] = { { 11, "test.echo", "one", 0 },
                                     { 12, "test.echo", "two", 0 },
                                     { 13, "test.echo", "three", 0 } };
    broker_send_requests (f, specs, 3, true);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 3);
    assert_int_equal (f->calls, 3);
    assert_string_equal (f->bodies[0], "one");
    assert_string_equal (f->bodies[1], "two");
    assert_string_equal (f->bodies[2], "three");
    seen_log_t log = { 0 };
    assert_int_equal (broker_collect (f, &log, 3, 1000), 3);
    expect_reply (&log, 0, 11, "one", 1, true);
    expect_reply (&log, 1, 12, "two", 1, true);
    expect_reply (&log, 2, 13, "three", 1, true);
    assert_int_equal (broker_collect (f, &log, 4, 50), 3);   /* nothing more */
}

/* Replies given outside the poll: a batch that reaches Welcome.batch_max
 * goes at once; a reply whose body is past ONENET_BATCH_BODY_MAX goes
 * alone, after the batch before it (a lone reply: a plain REPLY); a reply
 * left waiting goes at onenet_adapter_flush. */
static void
test_full_reply_batch_goes_and_large_replies_go_alone (void **state)
{
    fixture_t *f = *state;
    welcome_with (f, 0, 64, 2);
    request_spec_t specs[5];
    for (int i = 0; i < 5; i++)
        specs[i] = (request_spec_t) { (uint64_t) (21 + i), "test.hold", "", 0 };
    broker_send_requests (f, specs, 5, true);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 5);
    assert_int_equal (f->held_count, 5);
    static char large[ONENET_BATCH_BODY_MAX + 1];
    memset (large, 'L', sizeof large);
    seen_log_t log = { 0 };
    assert_int_equal (onenet_adapter_reply (f->adapter, &f->held[0], ONENET_OK, NULL, "r1", 2), 0);
    assert_int_equal (broker_collect (f, &log, 1, 50), 0);   /* waits */
    assert_int_equal (onenet_adapter_reply (f->adapter, &f->held[1], ONENET_OK, NULL, "r2", 2), 0);
    assert_int_equal (broker_collect (f, &log, 2, 1000), 2);  /* full: went */
    expect_reply (&log, 0, 21, "r1", 1, true);
    expect_reply (&log, 1, 22, "r2", 1, true);
    assert_int_equal (onenet_adapter_reply (f->adapter, &f->held[2], ONENET_OK, NULL, "r3", 2), 0);
    assert_int_equal (broker_collect (f, &log, 3, 50), 2);   /* waits */
    assert_int_equal (onenet_adapter_reply (f->adapter, &f->held[3], ONENET_OK, NULL, large,
                                            sizeof large), 0);
    assert_int_equal (broker_collect (f, &log, 4, 1000), 4);
    expect_reply (&log, 2, 23, "r3", 2, false);
    expect_reply (&log, 3, 24, "LLLLLLLLLLLLLLL", 3, false);
    assert_int_equal (log.item[3].body_size, sizeof large);
    assert_int_equal (onenet_adapter_reply (f->adapter, &f->held[4], ONENET_OK, NULL, "r5", 2), 0);
    assert_int_equal (broker_collect (f, &log, 5, 50), 4);   /* waits */
    assert_int_equal (onenet_adapter_flush (f->adapter), 0);
    assert_int_equal (broker_collect (f, &log, 5, 1000), 5);
    expect_reply (&log, 4, 25, "r5", 4, false);
}

/* A batch goes once it holds ONENET_BATCH_BYTES_MAX bytes, whatever its
 * count: replies of ONENET_BATCH_BODY_MAX bytes (the largest batched)
 * fill it at the 16th. */
static void
test_reply_batch_goes_at_its_byte_bound (void **state)
{
    fixture_t *f = *state;
    welcome_with (f, 0, 64, 64);
    request_spec_t specs[20];
    for (int i = 0; i < 20; i++)
        specs[i] = (request_spec_t) { (uint64_t) (101 + i), "test.hold", "", 0 };
    broker_send_requests (f, specs, 20, true);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 20);
    static char body[ONENET_BATCH_BODY_MAX];
    memset (body, 'B', sizeof body);
    seen_log_t log = { 0 };
    for (int i = 0; i < 15; i++)
        assert_int_equal (onenet_adapter_reply (f->adapter, &f->held[i], ONENET_OK, NULL, body,
                                                sizeof body), 0);
    assert_int_equal (broker_collect (f, &log, 1, 50), 0);   /* 15 × 4 KiB: waits */
    assert_int_equal (onenet_adapter_reply (f->adapter, &f->held[15], ONENET_OK, NULL, body,
                                            sizeof body), 0);
    assert_int_equal (broker_collect (f, &log, 16, 1000), 16);
    for (int i = 0; i < 16; i++) {
        assert_int_equal (log.item[i].message, 1);
        assert_true (log.item[i].batched);
        assert_int_equal (log.item[i].correlation_id, 101 + i);
        assert_int_equal (log.item[i].body_size, sizeof body);
    }
}

/* A handler that publishes and then replies: the EVENT reaches the broker
 * before the reply, with replies batched too. */
static void
test_event_before_a_batched_reply_goes_first (void **state)
{
    fixture_t *f = *state;
    welcome_with (f, 0, 64, 64);
    const request_spec_t specs[] = { { 31, "test.publish_then_reply", "p", 0 } };
    broker_send_requests (f, specs, 1, false);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 1);
    seen_log_t log = { 0 };
    assert_int_equal (broker_collect (f, &log, 2, 1000), 2);
    assert_int_equal (log.item[0].command, ONENET_CMD_EVENT);
    expect_reply (&log, 1, 31, "p", 2, false);
}

/* Replies and events leave in the order they were given, across a BATCH:
 * test.echo's reply, then a handler that publishes and replies, then one
 * that replies and publishes. The two events share topic and millisecond
 * but cannot travel together: replies stand between them. */
static void
test_replies_and_events_keep_their_order (void **state)
{
    fixture_t *f = *state;
    welcome_with (f, 0, 64, 64);
    const request_spec_t specs[] = { { 41, "test.echo", "a", 0 },
                                     { 42, "test.publish_then_reply", "b", 0 },
                                     { 43, "test.reply_then_publish", "c", 0 } };
    broker_send_requests (f, specs, 3, true);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 3);
    seen_log_t log = { 0 };
    assert_int_equal (broker_collect (f, &log, 5, 1000), 5);
    expect_reply (&log, 0, 41, "a", 1, false);          /* alone: the event came */
    assert_int_equal (log.item[1].command, ONENET_CMD_EVENT);
    expect_reply (&log, 2, 42, "b", 3, true);           /* 42 and 43 together */
    expect_reply (&log, 3, 43, "c", 3, true);
    assert_int_equal (log.item[4].command, ONENET_CMD_EVENT);
    assert_int_equal (log.item[4].message, 4);
}

/* A BATCH whose entries do not tile its frame is dropped whole, none of
 * its requests handled; an entry that is not a REQUEST is skipped; the
 * adapter goes on answering. */
static void
test_malformed_batch_is_dropped (void **state)
{
    fixture_t *f = *state;
    welcome_with (f, 0, 64, 64);
    static uint8_t scratch[16];
    onenet_batch_t batch = { 0 };
    add_request (&batch, &(request_spec_t) { 51, "test.echo", "one", 0 }, scratch);
    add_request (&batch, &(request_spec_t) { 52, "test.echo", "two", 0 }, scratch);
    zmq_msg_t frame;   /* the last byte cut off */
    zmq_msg_init_size (&frame, batch.size - 1);
    memcpy (zmq_msg_data (&frame), batch.data, batch.size - 1);
    assert_int_equal (onenet_wire_send (f->broker, &f->peer, ONENET_CMD_BATCH, NULL, &frame, 0),
                      0);
    zmq_msg_close (&frame);
    onenet_batch_clear (&batch);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 0);
    assert_int_equal (f->calls, 0);

    Onenet__ReplyHeader stray = ONENET__REPLY_HEADER__INIT;
    stray.correlation_id = 53;
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REPLY, &stray.base, "x", 1), 0);
    add_request (&batch, &(request_spec_t) { 54, "test.echo", "four", 0 }, scratch);
    assert_int_equal (onenet_batch_send (&batch, f->broker, &f->peer, 0), 0);
    onenet_batch_release (&batch);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 1);
    assert_int_equal (f->calls, 1);

    const request_spec_t next[] = { { 55, "test.echo", "five", 0 } };
    broker_send_requests (f, next, 1, false);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 1);
    seen_log_t log = { 0 };
    assert_int_equal (broker_collect (f, &log, 2, 1000), 2);
    expect_reply (&log, 0, 54, "four", 1, false);
    expect_reply (&log, 1, 55, "five", 2, false);
}

/* An ERROR naming a request (the broker refused that reply: too large)
 * leaves the adapter running and serving; one naming none (the broker
 * refused the adapter itself) stops it. */
static void
test_error_for_a_reply_is_not_fatal (void **state)
{
    fixture_t *f = *state;
    welcome (f, 0);
    Onenet__Notice notice = ONENET__NOTICE__INIT;
    notice.status = ONENET__STATUS__RESOURCE_EXHAUSTED;
    notice.message = "reply of 3000 bytes: at most 2048 (limits.max_message_size)";
    notice.correlation_id = 41;
    broker_send (f, ONENET_CMD_ERROR, &notice.base);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 0);
    assert_non_null (strstr (onenet_adapter_error (f->adapter), "broker refused a reply"));
    const request_spec_t next[] = { { 42, "test.echo", "still here", 0 } };
    broker_send_requests (f, next, 1, false);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 1);
    seen_log_t log = { 0 };
    assert_int_equal (broker_collect (f, &log, 1, 1000), 1);
    expect_reply (&log, 0, 42, "still here", 1, false);

    notice.correlation_id = 0;
    broker_send (f, ONENET_CMD_ERROR, &notice.base);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), -1);
    assert_non_null (strstr (onenet_adapter_error (f->adapter), "broker refused the adapter"));
}

/* A new registration forgets the old WELCOME's batch_max: until a WELCOME
 * says otherwise (here, none), replies go alone again. */
static void
test_new_registration_forgets_batch_max (void **state)
{
    fixture_t *f = *state;
    welcome_with (f, 0, 64, 64);
    broker_send (f, ONENET_CMD_DISCONNECT, NULL);
    adapter_reads (f);
    assert_int_equal (broker_recv_ready (f), 64);
    seen_log_t log = { 0 };
    const request_spec_t early[] = { { 61, "test.echo", "one", 0 }, { 62, "test.echo", "two", 0 } };
    broker_send_requests (f, early, 2, true);   /* before the WELCOME */
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 2);
    assert_int_equal (broker_collect (f, &log, 2, 1000), 2);
    expect_reply (&log, 0, 61, "one", 1, false);
    expect_reply (&log, 1, 62, "two", 2, false);

    Onenet__Welcome welcome = ONENET__WELCOME__INIT;   /* without batch_max */
    welcome.heartbeat_ms = 10000;
    welcome.liveness = 3;
    broker_send (f, ONENET_CMD_WELCOME, &welcome.base);
    adapter_reads (f);
    const request_spec_t late[] = { { 63, "test.echo", "three", 0 },
                                    { 64, "test.echo", "four", 0 } };
    broker_send_requests (f, late, 2, true);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), 2);
    assert_int_equal (broker_collect (f, &log, 4, 1000), 4);
    expect_reply (&log, 2, 63, "three", 3, false);
    expect_reply (&log, 3, 64, "four", 4, false);
}

/* A handler that stops the adapter ends the BATCH there, as after a
 * plain request: the requests after it are not handled; the replies given
 * go (here, at destroy, before DISCONNECT). */
static void
test_stop_inside_a_batch_ends_it (void **state)
{
    fixture_t *f = *state;
    welcome_with (f, 0, 64, 64);
    const request_spec_t specs[] = { { 71, "test.echo", "one", 0 },
                                     { 72, "test.stop", "", 0 },
                                     { 73, "test.echo", "three", 0 } };
    broker_send_requests (f, specs, 3, true);
    assert_int_equal (onenet_adapter_poll (f->adapter, 1000), -1);
    assert_int_equal (f->calls, 1);
    onenet_adapter_destroy (&f->adapter);
    seen_log_t log = { 0 };
    assert_int_equal (broker_collect (f, &log, 2, 1000), 2);
    expect_reply (&log, 0, 71, "one", 1, true);
    expect_reply (&log, 1, 72, "stop", 1, true);
    assert_int_equal (broker_collect (f, &log, 3, 50), 2);   /* 73 never ran */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_publish_stops_at_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown (test_credit_is_cumulative, setup, teardown),
        cmocka_unit_test_setup_teardown (test_new_registration_counts_afresh, setup, teardown),
        cmocka_unit_test_setup_teardown (test_no_window_no_limit, setup, teardown),
        cmocka_unit_test_setup_teardown (test_events_wait_for_the_flush_and_go_together, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_full_batch_goes_and_topics_do_not_mix, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_events_go_before_the_reply, setup, teardown),
        cmocka_unit_test (test_publish_before_start_is_not_connected),
        cmocka_unit_test_setup_teardown (test_request_message_belongs_to_the_request, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_old_broker_gets_every_reply_alone, setup, teardown),
        cmocka_unit_test_setup_teardown (test_batch_of_requests_gets_a_batch_of_replies, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_full_reply_batch_goes_and_large_replies_go_alone,
                                         setup, teardown),
        cmocka_unit_test_setup_teardown (test_reply_batch_goes_at_its_byte_bound, setup, teardown),
        cmocka_unit_test_setup_teardown (test_event_before_a_batched_reply_goes_first, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_replies_and_events_keep_their_order, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_malformed_batch_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown (test_new_registration_forgets_batch_max, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_stop_inside_a_batch_ends_it, setup, teardown),
        cmocka_unit_test_setup_teardown (test_error_for_a_reply_is_not_fatal, setup, teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
