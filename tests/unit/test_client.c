/*
 * test_client.c - the SDK client (onenet/onenet.h) against a fake broker:
 * a ROUTER socket on loopback driven by the test, so that the exact order
 * of what reaches the client can be arranged. The batch tests also check
 * exactly what reaches the broker: BATCHes of requests, plain requests.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>
#include "onenet/onenet.h"
#include "onenet/wire.h"
#include "onenet/proto/onenet.pb-c.h"

#define SAFETY_TIMEOUT_MS 10000
/* How long a test waits to be sure nothing was sent. */
#define QUIET_MS 100

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

/* --- a fake broker for the batch tests --- */

typedef struct {
    void *ctx;
    void *router;           /* the fake broker */
    char endpoint[128];
    zmq_msg_t peer;         /* the client's routing id, from its first message */
    bool have_peer;
    onenet_client_t *client;
} fake_t;

/* Binds the fake broker to endpoint ("...:*": any free port). */
static void
fake_bind (fake_t *fake, const char *endpoint)
{
    fake->router = zmq_socket (fake->ctx, ZMQ_ROUTER);
    assert_non_null (fake->router);
    int linger = 0, timeout = SAFETY_TIMEOUT_MS;
    zmq_setsockopt (fake->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (fake->router, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal (zmq_bind (fake->router, endpoint), 0);
    size_t length = sizeof fake->endpoint;
    assert_int_equal (zmq_getsockopt (fake->router, ZMQ_LAST_ENDPOINT, fake->endpoint, &length),
                      0);
}

static void
fake_open (fake_t *fake)
{
    memset (fake, 0, sizeof *fake);
    fake->ctx = zmq_ctx_new ();
    fake_bind (fake, "tcp://127.0.0.1:*");
    fake->client = onenet_client_new (fake->endpoint, NULL, 0);
    assert_non_null (fake->client);
}

static void
fake_close (fake_t *fake)
{
    onenet_client_destroy (&fake->client);
    if (fake->have_peer)
        zmq_msg_close (&fake->peer);
    if (fake->router)
        assert_int_equal (zmq_close (fake->router), 0);
    assert_int_equal (zmq_ctx_term (fake->ctx), 0);
}

/* Receives one message from the client: frame[0] its routing id, frame[1]
 * the signature. Returns the command. The caller closes msg. */
static int
fake_recv (fake_t *fake, onenet_wire_msg_t *msg)
{
    assert_int_equal (onenet_wire_recv (fake->router, msg, 0), 0);
    assert_true (msg->count >= 2);
    if (!fake->have_peer) {
        zmq_msg_init (&fake->peer);
        zmq_msg_copy (&fake->peer, &msg->frame[0]);
        fake->have_peer = true;
    }
    int version = 0;
    int command = onenet_wire_parse_signature (zmq_msg_data (&msg->frame[1]),
                                               zmq_msg_size (&msg->frame[1]), &version);
    assert_int_equal (version, ONENET_PROTOCOL_VERSION);
    return command;
}

/* True when nothing reaches the fake broker within QUIET_MS. */
static bool
fake_quiet (fake_t *fake)
{
    zmq_pollitem_t item = { fake->router, 0, ZMQ_POLLIN, 0 };
    return zmq_poll (&item, 1, QUIET_MS) == 0;
}

/* Checks a REQUEST's header and body bytes: its correlation id, the
 * client's batch_max, and the body. */
static void
check_request (const void *header_data, size_t header_size, const void *body, size_t body_size,
               uint64_t id, const void *expected_body, size_t expected_size)
{
    Onenet__RequestHeader *header = (Onenet__RequestHeader *) protobuf_c_message_unpack (
        &onenet__request_header__descriptor, NULL, header_size, header_data);
    assert_non_null (header);
    assert_int_equal (header->correlation_id, id);
    assert_int_equal (header->batch_max, 64);
    protobuf_c_message_free_unpacked (&header->base, NULL);
    assert_int_equal (body_size, expected_size);
    if (expected_size)
        assert_memory_equal (body, expected_body, expected_size);
}

/* The next message must be a plain REQUEST for id with this body. */
static void
expect_plain (fake_t *fake, uint64_t id, const void *body, size_t size)
{
    onenet_wire_msg_t msg;
    assert_int_equal (fake_recv (fake, &msg), ONENET_CMD_REQUEST);
    assert_true (msg.count >= 3);
    check_request (zmq_msg_data (&msg.frame[2]), zmq_msg_size (&msg.frame[2]),
                   msg.count >= 4 ? zmq_msg_data (&msg.frame[3]) : NULL,
                   msg.count >= 4 ? zmq_msg_size (&msg.frame[3]) : 0, id, body, size);
    onenet_wire_close (&msg);
}

/* A BATCH received by the fake broker must hold count REQUESTs, for
 * ids[i] with bodies[i] (strings). */
static void
check_batch (onenet_wire_msg_t *msg, int count, const uint64_t *ids, const char *const *bodies)
{
    assert_int_equal (msg->count, 3);
    onenet_batch_reader_t reader;
    assert_int_equal (onenet_batch_reader_init (&reader, zmq_msg_data (&msg->frame[2]),
                                                zmq_msg_size (&msg->frame[2])),
                      count);
    onenet_batch_entry_t entry;
    for (int i = 0; i < count; i++) {
        assert_int_equal (onenet_batch_next (&reader, &entry), 1);
        assert_int_equal (entry.command, ONENET_CMD_REQUEST);
        check_request (entry.header, entry.header_size, entry.body, entry.body_size, ids[i],
                       bodies[i], strlen (bodies[i]));
    }
}

/* The next message must be such a BATCH. */
static void
expect_batch (fake_t *fake, int count, const uint64_t *ids, const char *const *bodies)
{
    onenet_wire_msg_t msg;
    assert_int_equal (fake_recv (fake, &msg), ONENET_CMD_BATCH);
    check_batch (&msg, count, ids, bodies);
    onenet_wire_close (&msg);
}

/* Answers id with a plain REPLY saying the broker takes batch_max. */
static void
fake_reply (fake_t *fake, uint64_t id, onenet_status_t status, uint32_t batch_max)
{
    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    header.correlation_id = id;
    header.status = (Onenet__Status) status;
    header.batch_max = batch_max;
    assert_int_equal (onenet_wire_send (fake->router, &fake->peer, ONENET_CMD_REPLY, &header.base,
                                        NULL, 0),
                      0);
}

/* One whole call, as the client's first or a later one, whose reply says
 * the broker takes batch_max requests in a BATCH. */
static void
learn_batch_max (fake_t *fake, uint32_t batch_max)
{
    uint64_t id = onenet_client_send (fake->client, "test.hello", NULL, 0, NULL);
    assert_true (id > 0);
    onenet_client_flush (fake->client);   /* if it was gathered */
    onenet_wire_msg_t msg;
    fake_recv (fake, &msg);
    onenet_wire_close (&msg);
    fake_reply (fake, id, ONENET_OK, batch_max);
    onenet_reply_t *reply = onenet_client_recv (fake->client, SAFETY_TIMEOUT_MS);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_correlation_id (reply), id);
    onenet_reply_destroy (&reply);
}

static uint64_t
send_text (fake_t *fake, const char *text)
{
    uint64_t id = onenet_client_send (fake->client, "test.batch", text, strlen (text), NULL);
    assert_true (id > 0);
    return id;
}

/* A fake broker whose client batches, and knows the broker takes
 * batch_max requests in a BATCH. */
static void
fake_open_batching (fake_t *fake, uint32_t batch_max)
{
    fake_open (fake);
    learn_batch_max (fake, batch_max);
    onenet_client_set_batching (fake->client, true);
}

static const char *const s_three[3] = { "one", "two", "three" };

/* Starts one call for each text of s_three; their ids in ids. */
static void
send_three (fake_t *fake, uint64_t ids[3])
{
    for (int i = 0; i < 3; i++)
        ids[i] = send_text (fake, s_three[i]);
}

/* Every request says the client takes BATCHes of up to 64 replies. */
static void
test_client_request_carries_batch_max (void **state)
{
    (void) state;
    fake_t fake;
    fake_open (&fake);
    uint64_t id = send_text (&fake, "hello");
    expect_plain (&fake, id, "hello", 5);   /* checks batch_max 64 */
    fake_close (&fake);
}

/* The broker answers three calls with one BATCH of three REPLYs: each
 * comes out of onenet_client_recv as if it had come alone. */
static void
test_client_takes_a_batch_of_replies (void **state)
{
    (void) state;
    fake_t fake;
    fake_open (&fake);
    uint64_t ids[3];
    for (int i = 0; i < 3; i++) {
        ids[i] = send_text (&fake, "q");
        expect_plain (&fake, ids[i], "q", 1);
    }
    const char *bodies[3] = { "first", "", "third body" };
    onenet_status_t statuses[3] = { ONENET_OK, ONENET_NOT_FOUND, ONENET_OK };
    const char *served_by[3] = { "ps/a", "", "ps/b" };
    uint8_t trace[16] = { 0xab, 0xcd };
    onenet_batch_t batch = { 0 };
    for (int i = 0; i < 3; i++) {
        Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
        header.correlation_id = ids[i];
        header.status = (Onenet__Status) statuses[i];
        header.message = (char *) (statuses[i] == ONENET_OK ? "" : "no such person");
        header.served_by = (char *) served_by[i];
        header.trace_id.data = trace;
        header.trace_id.len = sizeof trace;
        header.batch_max = 64;
        assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REPLY, &header.base, bodies[i],
                                            strlen (bodies[i])),
                          0);
    }
    assert_int_equal (onenet_batch_send (&batch, fake.router, &fake.peer, 0), 0);
    onenet_batch_release (&batch);
    for (int i = 0; i < 3; i++) {
        onenet_reply_t *reply = onenet_client_recv (fake.client, SAFETY_TIMEOUT_MS);
        assert_non_null (reply);
        assert_int_equal (onenet_reply_correlation_id (reply), ids[i]);
        assert_int_equal (onenet_reply_status (reply), statuses[i]);
        assert_string_equal (onenet_reply_message (reply),
                             statuses[i] == ONENET_OK ? "" : "no such person");
        assert_string_equal (onenet_reply_served_by (reply), served_by[i]);
        assert_string_equal (onenet_reply_trace_id (reply), "abcd0000000000000000000000000000");
        size_t size = 99;
        const void *body = onenet_reply_body (reply, &size);
        assert_int_equal (size, strlen (bodies[i]));
        if (size)
            assert_memory_equal (body, bodies[i], size);
        onenet_reply_destroy (&reply);
    }
    assert_int_equal (onenet_client_pending (fake.client), 0);
    fake_close (&fake);
}

/* Entries of other commands in a BATCH are skipped; its REPLYs count. */
static void
test_client_skips_other_commands_in_a_batch (void **state)
{
    (void) state;
    fake_t fake;
    fake_open (&fake);
    uint64_t id = send_text (&fake, "q");
    expect_plain (&fake, id, "q", 1);
    onenet_batch_t batch = { 0 };
    Onenet__RequestHeader request = ONENET__REQUEST_HEADER__INIT;
    request.correlation_id = id;
    request.service = (char *) "test.odd";
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REQUEST, &request.base, "x", 1), 0);
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_HEARTBEAT, NULL, NULL, 0), 0);
    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    header.correlation_id = id;
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REPLY, &header.base, "ok", 2), 0);
    assert_int_equal (onenet_batch_send (&batch, fake.router, &fake.peer, 0), 0);
    onenet_batch_release (&batch);
    onenet_reply_t *reply = onenet_client_recv (fake.client, SAFETY_TIMEOUT_MS);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_correlation_id (reply), id);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);
    assert_int_equal (onenet_client_pending (fake.client), 0);
    fake_close (&fake);
}

/* A BATCH whose lengths do not tile its frame is dropped whole, even its
 * well-formed first entry; the plain REPLY after it is delivered. */
static void
test_client_drops_a_malformed_batch (void **state)
{
    (void) state;
    fake_t fake;
    fake_open (&fake);
    uint64_t id = send_text (&fake, "q");
    expect_plain (&fake, id, "q", 1);
    onenet_batch_t batch = { 0 };
    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    header.correlation_id = id;
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REPLY, &header.base, "ok", 2), 0);
    uint8_t frame[256];
    assert_true (batch.size + 3 <= sizeof frame);
    memcpy (frame, batch.data, batch.size);
    /* A second entry cut off: a REPLY whose header length runs past the end. */
    frame[batch.size] = ONENET_CMD_REPLY;
    frame[batch.size + 1] = 0x7f;
    frame[batch.size + 2] = 0x08;
    uint8_t signature[ONENET_SIGNATURE_SIZE];
    onenet_wire_signature (signature, ONENET_CMD_BATCH);
    zmq_msg_t peer;
    zmq_msg_init (&peer);
    zmq_msg_copy (&peer, &fake.peer);
    assert_true (zmq_msg_send (&peer, fake.router, ZMQ_SNDMORE) >= 0);
    assert_true (zmq_send (fake.router, signature, sizeof signature, ZMQ_SNDMORE) >= 0);
    assert_true (zmq_send (fake.router, frame, batch.size + 3, 0) >= 0);
    onenet_batch_release (&batch);
    fake_reply (&fake, id, ONENET_NOT_FOUND, 0);
    onenet_reply_t *reply = onenet_client_recv (fake.client, SAFETY_TIMEOUT_MS);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_correlation_id (reply), id);
    assert_int_equal (onenet_reply_status (reply), ONENET_NOT_FOUND);
    onenet_reply_destroy (&reply);
    assert_null (onenet_client_recv (fake.client, 0));
    fake_close (&fake);
}

/* Batching on and the broker taking 64: requests are gathered, and leave
 * as one BATCH at onenet_client_flush, or at onenet_client_recv. */
static void
test_client_batches_requests_once_the_broker_takes_them (void **state)
{
    (void) state;
    fake_t fake;
    fake_open_batching (&fake, 64);
    const char *const *bodies = s_three;
    uint64_t ids[3];
    send_three (&fake, ids);
    assert_int_equal (onenet_client_pending (fake.client), 3);
    assert_true (fake_quiet (&fake));   /* gathered, not sent */
    assert_int_equal (onenet_client_flush (fake.client), 0);
    expect_batch (&fake, 3, ids, bodies);
    assert_true (fake_quiet (&fake));
    assert_int_equal (onenet_client_flush (fake.client), 0);   /* nothing left */

    send_three (&fake, ids);
    assert_true (fake_quiet (&fake));
    assert_null (onenet_client_recv (fake.client, 0));
    expect_batch (&fake, 3, ids, bodies);
    assert_int_equal (onenet_client_pending (fake.client), 6);
    fake_close (&fake);
}

/* Batching off (the default), each request leaves at onenet_client_send,
 * though the broker takes batches; turning batching off sends what was
 * gathered. */
static void
test_client_sends_alone_by_default (void **state)
{
    (void) state;
    fake_t fake;
    fake_open (&fake);
    learn_batch_max (&fake, 64);
    const char *const *bodies = s_three;
    uint64_t ids[3];
    send_three (&fake, ids);
    for (int i = 0; i < 3; i++)
        expect_plain (&fake, ids[i], bodies[i], strlen (bodies[i]));
    assert_true (fake_quiet (&fake));

    onenet_client_set_batching (fake.client, true);
    ids[0] = send_text (&fake, bodies[0]);
    ids[1] = send_text (&fake, bodies[1]);
    onenet_client_set_batching (fake.client, false);
    expect_batch (&fake, 2, ids, bodies);
    ids[2] = send_text (&fake, bodies[2]);
    expect_plain (&fake, ids[2], bodies[2], strlen (bodies[2]));
    fake_close (&fake);
}

/* With batching on, requests go alone until a broker reply says it takes
 * batches, and again once a reply says it does not (a broker restarted at
 * an older version: batch_max 0). */
static void
test_client_sends_alone_until_the_broker_takes_batches (void **state)
{
    (void) state;
    fake_t fake;
    fake_open (&fake);
    onenet_client_set_batching (fake.client, true);
    const char *const *bodies = s_three;
    uint64_t ids[3];
    send_three (&fake, ids);
    for (int i = 0; i < 3; i++) {
        expect_plain (&fake, ids[i], bodies[i], strlen (bodies[i]));
        fake_reply (&fake, ids[i], ONENET_OK, i == 2 ? 64 : 1);   /* 1: every request alone */
    }
    for (int i = 0; i < 3; i++) {
        onenet_reply_t *reply = onenet_client_recv (fake.client, SAFETY_TIMEOUT_MS);
        assert_non_null (reply);
        onenet_reply_destroy (&reply);
    }
    /* Now it takes 64. */
    ids[0] = send_text (&fake, bodies[0]);
    ids[1] = send_text (&fake, bodies[1]);
    assert_true (fake_quiet (&fake));
    assert_int_equal (onenet_client_flush (fake.client), 0);
    expect_batch (&fake, 2, ids, bodies);
    /* The reply to the first says 0; the second's was lost. */
    fake_reply (&fake, ids[0], ONENET_OK, 0);
    onenet_reply_t *reply = onenet_client_recv (fake.client, SAFETY_TIMEOUT_MS);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_correlation_id (reply), ids[0]);
    onenet_reply_destroy (&reply);
    send_three (&fake, ids);
    for (int i = 0; i < 3; i++)
        expect_plain (&fake, ids[i], bodies[i], strlen (bodies[i]));
    fake_close (&fake);
}

/* A batch of the broker's batch_max (2) requests goes at once; the next
 * waits for a flush, and goes alone as a plain REQUEST. */
static void
test_client_sends_a_full_batch_at_once (void **state)
{
    (void) state;
    fake_t fake;
    fake_open_batching (&fake, 2);
    const char *const *bodies = s_three;
    uint64_t ids[3];
    send_three (&fake, ids);
    expect_batch (&fake, 2, ids, bodies);
    assert_true (fake_quiet (&fake));
    assert_int_equal (onenet_client_flush (fake.client), 0);
    expect_plain (&fake, ids[2], bodies[2], strlen (bodies[2]));
    fake_close (&fake);
}

/* A batch also goes once it holds ONENET_BATCH_BYTES_MAX bytes, though
 * the broker would take more requests. */
static void
test_client_sends_a_batch_full_of_bytes (void **state)
{
    (void) state;
    fake_t fake;
    fake_open_batching (&fake, 1000);
    static char body[ONENET_BATCH_BODY_MAX + 1];   /* the most a batched body may be */
    memset (body, 'b', ONENET_BATCH_BODY_MAX);
    enum { SENT = ONENET_BATCH_BYTES_MAX / ONENET_BATCH_BODY_MAX };   /* more than fit */
    for (int i = 0; i < SENT; i++)
        send_text (&fake, body);
    onenet_wire_msg_t msg;
    assert_int_equal (fake_recv (&fake, &msg), ONENET_CMD_BATCH);
    size_t size = zmq_msg_size (&msg.frame[2]);
    onenet_batch_reader_t reader;
    int count = onenet_batch_reader_init (&reader, zmq_msg_data (&msg.frame[2]), size);
    onenet_wire_close (&msg);
    /* Full: another entry would not have fitted. */
    assert_true (count > 1 && count < SENT);
    assert_true (size <= ONENET_BATCH_BYTES_MAX);
    assert_true (size + ONENET_BATCH_BODY_MAX + 64 > ONENET_BATCH_BYTES_MAX);
    assert_true (fake_quiet (&fake));   /* the rest waits for a flush */
    assert_int_equal (onenet_client_flush (fake.client), 0);
    int rest = fake_recv (&fake, &msg);
    assert_int_equal (rest, SENT - count == 1 ? ONENET_CMD_REQUEST : ONENET_CMD_BATCH);
    onenet_wire_close (&msg);
    fake_close (&fake);
}

/* A body over ONENET_BATCH_BODY_MAX goes alone, after the batch gathered
 * before it: requests leave in order. */
static void
test_client_sends_a_large_body_alone_after_the_batch (void **state)
{
    (void) state;
    fake_t fake;
    fake_open_batching (&fake, 64);
    const char *bodies[2] = { "one", "two" };
    uint64_t ids[2];
    for (int i = 0; i < 2; i++)
        ids[i] = send_text (&fake, bodies[i]);
    size_t large_size = ONENET_BATCH_BODY_MAX + 1;
    char *large = malloc (large_size);
    assert_non_null (large);
    for (size_t i = 0; i < large_size; i++)
        large[i] = (char) ('a' + i % 26);
    uint64_t large_id = onenet_client_send (fake.client, "test.batch", large, large_size, NULL);
    assert_true (large_id > 0);
    uint64_t last_id = send_text (&fake, "last");
    expect_batch (&fake, 2, ids, bodies);
    expect_plain (&fake, large_id, large, large_size);
    assert_true (fake_quiet (&fake));
    assert_int_equal (onenet_client_flush (fake.client), 0);
    expect_plain (&fake, last_id, "last", 4);
    free (large);
    fake_close (&fake);
}

/* The fake broker in a thread of its own: it answers one request. */
typedef struct {
    fake_t *fake;
    int command;            /* of the message it got */
    uint64_t id;            /* its correlation id */
} answerer_t;

static void *
answer_one (void *arg)
{
    answerer_t *answerer = arg;
    onenet_wire_msg_t msg;
    if (onenet_wire_recv (answerer->fake->router, &msg, 0) < 0)
        return NULL;   /* nothing came: the call times out and the test fails */
    int version;
    answerer->command = msg.count >= 3 ? onenet_wire_parse_signature (
                                             zmq_msg_data (&msg.frame[1]),
                                             zmq_msg_size (&msg.frame[1]), &version)
                                       : -1;
    Onenet__RequestHeader *request =
        answerer->command == ONENET_CMD_REQUEST
            ? (Onenet__RequestHeader *) onenet_wire_unpack (&onenet__request_header__descriptor,
                                                            &msg.frame[2], NULL)
            : NULL;
    if (request) {
        answerer->id = request->correlation_id;
        Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
        header.correlation_id = request->correlation_id;
        header.batch_max = 64;
        onenet_wire_send_bytes (answerer->fake->router, &msg.frame[0], ONENET_CMD_REPLY,
                                &header.base, "answer", 6, 0);
        protobuf_c_message_free_unpacked (&request->base, NULL);
    }
    onenet_wire_close (&msg);
    return NULL;
}

/* A synchronous call with batching on sends its request before it waits. */
static void
test_client_call_flushes_before_waiting (void **state)
{
    (void) state;
    fake_t fake;
    fake_open_batching (&fake, 64);
    answerer_t answerer = { .fake = &fake, .command = -1 };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, answer_one, &answerer), 0);
    onenet_call_options_t options = { .timeout_ms = 2000 };
    onenet_reply_t *reply = onenet_client_call (fake.client, "test.sync", "q", 1, &options);
    assert_int_equal (pthread_join (thread, NULL), 0);
    assert_non_null (reply);
    assert_int_equal (answerer.command, ONENET_CMD_REQUEST);   /* a lone one goes plain */
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    assert_int_equal (onenet_reply_correlation_id (reply), answerer.id);
    size_t size;
    const void *body = onenet_reply_body (reply, &size);
    assert_int_equal (size, 6);
    assert_memory_equal (body, "answer", 6);
    onenet_reply_destroy (&reply);
    fake_close (&fake);
}

/* A batch the socket refuses (EAGAIN: the broker is gone and the queue
 * full) is kept: its calls end at their local deadlines, or, once the
 * broker is back, it leaves while the client waits. */
static void
test_client_keeps_a_refused_batch (void **state)
{
    (void) state;
    fake_t fake;
    fake_open (&fake);
    learn_batch_max (&fake, 64);
    assert_int_equal (zmq_close (fake.router), 0);
    fake.router = NULL;
    zmq_msg_close (&fake.peer);
    fake.have_peer = false;
    /* A small queue fills quickly (the setting applies to the existing pipe). */
    int hwm = 8;
    void *socket = onenet_client_socket (fake.client);
    assert_int_equal (zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof hwm), 0);
    onenet_call_options_t quick = { .timeout_ms = 1 };
    /* Messages queued before the client saw the broker go drain into the
     * closed connection: fill until two rounds after a pause add none. */
    int queued = 0, idle = 0;
    while (idle < 2) {
        usleep (QUIET_MS * 1000);
        int round = 0;
        for (; onenet_client_send (fake.client, "test.fill", NULL, 0, &quick) > 0; round++)
            assert_true (++queued < 100000);
        idle = round ? 0 : idle + 1;
    }
    onenet_reply_t *late;
    while ((late = onenet_client_recv (fake.client, 0)))
        onenet_reply_destroy (&late);   /* fills that timed out meanwhile */
    size_t before = onenet_client_pending (fake.client);

    /* Two calls that time out, two that wait for the broker's return. */
    onenet_client_set_batching (fake.client, true);
    onenet_call_options_t patient = { .timeout_ms = SAFETY_TIMEOUT_MS };
    const char *bodies[2] = { "p1", "p2" };
    uint64_t quick_ids[2], patient_ids[2];
    for (int i = 0; i < 2; i++) {
        quick_ids[i] = onenet_client_send (fake.client, "test.quick", "q", 1, &quick);
        assert_true (quick_ids[i] > 0);
    }
    assert_int_equal (onenet_client_flush (fake.client), -1);
    assert_int_equal (errno, EAGAIN);
    assert_non_null (strstr (onenet_client_error (fake.client), "gathered"));
    assert_int_equal (onenet_client_pending (fake.client), before + 2);
    int timed_out = 0;
    while (onenet_client_pending (fake.client)) {
        onenet_reply_t *reply = onenet_client_recv (fake.client, SAFETY_TIMEOUT_MS);
        assert_non_null (reply);
        assert_int_equal (onenet_reply_status (reply), ONENET_TIMEOUT);
        uint64_t id = onenet_reply_correlation_id (reply);
        timed_out += id == quick_ids[0] || id == quick_ids[1];
        onenet_reply_destroy (&reply);
    }
    assert_int_equal (timed_out, 2);

    /* Still refused: they join the kept batch, after the quick ones. */
    for (int i = 0; i < 2; i++) {
        patient_ids[i] = onenet_client_send (fake.client, "test.batch", bodies[i], 2, &patient);
        assert_true (patient_ids[i] > 0);
    }
    assert_int_equal (onenet_client_flush (fake.client), -1);
    assert_int_equal (errno, EAGAIN);
    /* The broker is back on the same port. While the client waits for
     * replies, its queue drains (the fill) and it sends the batch it kept. */
    char endpoint[128];
    strcpy (endpoint, fake.endpoint);
    fake_bind (&fake, endpoint);
    int64_t until = onenet_clock_ms () + SAFETY_TIMEOUT_MS;
    bool sent = false;
    while (!sent) {
        assert_true (onenet_clock_ms () < until);
        assert_null (onenet_client_recv (fake.client, QUIET_MS));
        zmq_pollitem_t item = { fake.router, 0, ZMQ_POLLIN, 0 };
        while (!sent && zmq_poll (&item, 1, 0) == 1) {
            onenet_wire_msg_t msg;
            if (fake_recv (&fake, &msg) == ONENET_CMD_BATCH) {
                uint64_t ids[4] = { quick_ids[0], quick_ids[1], patient_ids[0], patient_ids[1] };
                const char *batch_bodies[4] = { "q", "q", bodies[0], bodies[1] };
                check_batch (&msg, 4, ids, batch_bodies);
                sent = true;
            }
            onenet_wire_close (&msg);   /* else a fill request, timed out */
        }
    }
    for (int i = 0; i < 2; i++)
        fake_reply (&fake, patient_ids[i], ONENET_OK, 64);
    for (int i = 0; i < 2; i++) {
        onenet_reply_t *reply = onenet_client_recv (fake.client, SAFETY_TIMEOUT_MS);
        assert_non_null (reply);
        assert_int_equal (onenet_reply_status (reply), ONENET_OK);
        assert_int_equal (onenet_reply_correlation_id (reply), patient_ids[i]);
        onenet_reply_destroy (&reply);
    }
    fake_close (&fake);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_client_recv_zero_reads_past_a_late_reply),
        cmocka_unit_test (test_client_queues_thousands_of_calls),
        cmocka_unit_test (test_client_request_carries_batch_max),
        cmocka_unit_test (test_client_takes_a_batch_of_replies),
        cmocka_unit_test (test_client_skips_other_commands_in_a_batch),
        cmocka_unit_test (test_client_drops_a_malformed_batch),
        cmocka_unit_test (test_client_batches_requests_once_the_broker_takes_them),
        cmocka_unit_test (test_client_sends_alone_by_default),
        cmocka_unit_test (test_client_sends_alone_until_the_broker_takes_batches),
        cmocka_unit_test (test_client_sends_a_full_batch_at_once),
        cmocka_unit_test (test_client_sends_a_batch_full_of_bytes),
        cmocka_unit_test (test_client_sends_a_large_body_alone_after_the_batch),
        cmocka_unit_test (test_client_call_flushes_before_waiting),
        cmocka_unit_test (test_client_keeps_a_refused_batch),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
