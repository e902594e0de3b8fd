/*
 * test_wire.c - unit tests of onenet/wire.h: the signature, command names,
 * whole-message send and receive over real inproc sockets, and header
 * unpacking with and without an arena (spilling to the heap when full).
 *
 * Sockets are real (one zmq context per test, inproc transport), so these
 * tests check what a peer actually receives, not what a mock was told.
 * Every receiving socket has a receive timeout only as a safety net: a
 * bug makes a test fail instead of hang; no assertion depends on timing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "onenet/wire.h"
#include "onenet/proto/onenet.pb-c.h"

#define SAFETY_TIMEOUT_MS 10000

/* --- a connected socket pair in its own context --- */

typedef struct {
    void *ctx;
    void *a;    /* binds */
    void *b;    /* connects */
} link_t;

static void *
socket_new (void *ctx, int type)
{
    void *socket = zmq_socket (ctx, type);
    assert_non_null (socket);
    int linger = 0, timeout = SAFETY_TIMEOUT_MS;
    assert_int_equal (zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger), 0);
    assert_int_equal (zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    assert_int_equal (zmq_setsockopt (socket, ZMQ_SNDTIMEO, &timeout, sizeof timeout), 0);
    return socket;
}

/* b_id, when not NULL, is b's routing id as a ROUTER at a will see it. */
static void
link_open (link_t *link, int type_a, int type_b, const char *b_id)
{
    link->ctx = zmq_ctx_new ();
    assert_non_null (link->ctx);
    link->a = socket_new (link->ctx, type_a);
    link->b = socket_new (link->ctx, type_b);
    if (b_id)
        assert_int_equal (zmq_setsockopt (link->b, ZMQ_ROUTING_ID, b_id, strlen (b_id)), 0);
    assert_int_equal (zmq_bind (link->a, "inproc://test-wire"), 0);
    assert_int_equal (zmq_connect (link->b, "inproc://test-wire"), 0);
}

static void
link_close (link_t *link)
{
    assert_int_equal (zmq_close (link->a), 0);
    assert_int_equal (zmq_close (link->b), 0);
    assert_int_equal (zmq_ctx_term (link->ctx), 0);
}

static void
msg_from_string (zmq_msg_t *msg, const char *text)
{
    size_t size = strlen (text);
    assert_int_equal (zmq_msg_init_size (msg, size), 0);
    memcpy (zmq_msg_data (msg), text, size);
}

static void
assert_frame_equal (zmq_msg_t *frame, const void *data, size_t size)
{
    assert_int_equal (zmq_msg_size (frame), size);
    assert_memory_equal (zmq_msg_data (frame), data, size);
}

/* A header with every field set, so a field lost in packing shows up. */
static uint8_t s_trace[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void
header_fill (Onenet__RequestHeader *header, Onenet__Requester *requester)
{
    *requester = (Onenet__Requester) ONENET__REQUESTER__INIT;
    requester->department = "social_security";
    requester->user = "clerk-17";
    requester->peer = "peer-3";
    *header = (Onenet__RequestHeader) ONENET__REQUEST_HEADER__INIT;
    header->correlation_id = 0x1122334455667788ULL;
    header->service = "ps.person.get";
    header->timeout_ms = 2500;
    header->trace_id.data = s_trace;
    header->trace_id.len = sizeof s_trace;
    header->idempotent = 1;
    header->purpose = "benefit claim 42";
    header->requester = requester;
    header->attempt = 3;
    header->schema_version = ONENET_SCHEMA_VERSION;
}

static void
assert_header_equal (const Onenet__RequestHeader *got, const Onenet__RequestHeader *want)
{
    assert_int_equal (got->correlation_id, want->correlation_id);
    assert_string_equal (got->service, want->service);
    assert_int_equal (got->timeout_ms, want->timeout_ms);
    assert_int_equal (got->trace_id.len, want->trace_id.len);
    assert_memory_equal (got->trace_id.data, want->trace_id.data, want->trace_id.len);
    assert_int_equal (got->idempotent, want->idempotent);
    assert_string_equal (got->purpose, want->purpose);
    assert_non_null (got->requester);
    assert_string_equal (got->requester->department, want->requester->department);
    assert_string_equal (got->requester->user, want->requester->user);
    assert_string_equal (got->requester->peer, want->requester->peer);
    assert_int_equal (got->attempt, want->attempt);
    assert_int_equal (got->schema_version, want->schema_version);
}

static void
assert_signature (zmq_msg_t *frame, onenet_command_t command)
{
    int version = -1;
    assert_int_equal (onenet_wire_parse_signature (zmq_msg_data (frame), zmq_msg_size (frame),
                                                   &version),
                      command);
    assert_int_equal (version, ONENET_PROTOCOL_VERSION);
}

/* --- signature --- */

static void
test_signature_round_trip (void **state)
{
    for (int command = ONENET_CMD_READY; command <= ONENET_CMD_CREDIT; command++) {
        uint8_t sig[ONENET_SIGNATURE_SIZE];
        onenet_wire_signature (sig, (onenet_command_t) command);
        assert_int_equal (sig[0], 'O');
        assert_int_equal (sig[1], 'N');
        assert_int_equal (sig[2], ONENET_PROTOCOL_VERSION);
        assert_int_equal (sig[3], command);
        int version = -1;
        assert_int_equal (onenet_wire_parse_signature (sig, sizeof sig, &version), command);
        assert_int_equal (version, ONENET_PROTOCOL_VERSION);
        /* The version pointer is optional. */
        assert_int_equal (onenet_wire_parse_signature (sig, sizeof sig, NULL), command);
    }
}

static void
test_signature_wrong_size (void **state)
{
    const uint8_t bytes[8] = { 'O', 'N', ONENET_PROTOCOL_VERSION, ONENET_CMD_REQUEST };
    int version = -7;
    for (size_t size = 0; size < sizeof bytes; size++) {
        if (size == ONENET_SIGNATURE_SIZE)
            continue;
        assert_int_equal (onenet_wire_parse_signature (bytes, size, &version), -1);
    }
    /* A failed parse must not report a version. */
    assert_int_equal (version, -7);
    assert_int_equal (onenet_wire_parse_signature (NULL, 0, &version), -1);
}

static void
test_signature_wrong_magic (void **state)
{
    const uint8_t bad_first[] = { 'X', 'N', ONENET_PROTOCOL_VERSION, ONENET_CMD_REQUEST };
    const uint8_t bad_second[] = { 'O', 'n', ONENET_PROTOCOL_VERSION, ONENET_CMD_REQUEST };
    const uint8_t swapped[] = { 'N', 'O', ONENET_PROTOCOL_VERSION, ONENET_CMD_REQUEST };
    int version = -7;
    assert_int_equal (onenet_wire_parse_signature (bad_first, 4, &version), -1);
    assert_int_equal (onenet_wire_parse_signature (bad_second, 4, &version), -1);
    assert_int_equal (onenet_wire_parse_signature (swapped, 4, &version), -1);
    assert_int_equal (version, -7);
}

static void
test_signature_zero_command (void **state)
{
    const uint8_t bytes[] = { 'O', 'N', ONENET_PROTOCOL_VERSION, 0 };
    int version = -7;
    assert_int_equal (onenet_wire_parse_signature (bytes, sizeof bytes, &version), -1);
    assert_int_equal (version, -7);
}

static void
test_signature_other_version_and_command (void **state)
{
    /* Neither the version nor the command is judged here: the caller does. */
    const uint8_t future[] = { 'O', 'N', 7, ONENET_CMD_REPLY };
    int version = -1;
    assert_int_equal (onenet_wire_parse_signature (future, sizeof future, &version),
                      ONENET_CMD_REPLY);
    assert_int_equal (version, 7);

    const uint8_t unknown[] = { 'O', 'N', 0, 255 };
    assert_int_equal (onenet_wire_parse_signature (unknown, sizeof unknown, &version), 255);
    assert_int_equal (version, 0);
}

static void
test_command_name (void **state)
{
    assert_string_equal (onenet_command_name (ONENET_CMD_READY), "READY");
    assert_string_equal (onenet_command_name (ONENET_CMD_REQUEST), "REQUEST");
    assert_string_equal (onenet_command_name (ONENET_CMD_REPLY), "REPLY");
    assert_string_equal (onenet_command_name (ONENET_CMD_HEARTBEAT), "HEARTBEAT");
    assert_string_equal (onenet_command_name (ONENET_CMD_DISCONNECT), "DISCONNECT");
    assert_string_equal (onenet_command_name (ONENET_CMD_EVENT), "EVENT");
    assert_string_equal (onenet_command_name (ONENET_CMD_ERROR), "ERROR");
    assert_string_equal (onenet_command_name (ONENET_CMD_WELCOME), "WELCOME");
    assert_string_equal (onenet_command_name (ONENET_CMD_CREDIT), "CREDIT");
    assert_string_equal (onenet_command_name (ONENET_CMD_BATCH), "BATCH");
    assert_string_equal (onenet_command_name (0), "UNKNOWN");
    assert_string_equal (onenet_command_name (-1), "UNKNOWN");
    assert_string_equal (onenet_command_name (ONENET_CMD_BATCH + 1), "UNKNOWN");
    assert_string_equal (onenet_command_name (255), "UNKNOWN");
    assert_string_equal (onenet_command_name (-2147483647 - 1), "UNKNOWN");
}

/* --- send and receive --- */

static void
test_send_recv_pair (void **state)
{
    link_t link;
    link_open (&link, ZMQ_PAIR, ZMQ_PAIR, NULL);
    Onenet__RequestHeader header;
    Onenet__Requester requester;
    header_fill (&header, &requester);
    const char body_text[] = "opaque body bytes";
    zmq_msg_t body;
    msg_from_string (&body, body_text);

    assert_int_equal (onenet_wire_send (link.b, NULL, ONENET_CMD_REQUEST, &header.base, &body, 0),
                      0);
    /* The body was moved onto the wire: the caller holds an empty frame. */
    assert_int_equal (zmq_msg_size (&body), 0);

    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (link.a, &msg, 0), 0);
    assert_int_equal (msg.count, 3);
    assert_int_equal (msg.dropped, 0);
    size_t header_size = protobuf_c_message_get_packed_size (&header.base);
    assert_int_equal (msg.size, ONENET_SIGNATURE_SIZE + header_size + strlen (body_text));
    assert_signature (&msg.frame[0], ONENET_CMD_REQUEST);
    assert_true (zmq_msg_more (&msg.frame[0]));
    assert_true (zmq_msg_more (&msg.frame[1]));
    assert_false (zmq_msg_more (&msg.frame[2]));

    Onenet__RequestHeader *got = (Onenet__RequestHeader *) onenet_wire_unpack (
        &onenet__request_header__descriptor, &msg.frame[1], NULL);
    assert_non_null (got);
    assert_header_equal (got, &header);
    protobuf_c_message_free_unpacked (&got->base, NULL);
    assert_frame_equal (&msg.frame[2], body_text, strlen (body_text));

    onenet_wire_close (&msg);
    assert_int_equal (msg.count, 0);
    zmq_msg_close (&body);
    link_close (&link);
}

static void
test_send_signature_only_and_header_only (void **state)
{
    link_t link;
    link_open (&link, ZMQ_PAIR, ZMQ_PAIR, NULL);

    assert_int_equal (onenet_wire_send (link.b, NULL, ONENET_CMD_HEARTBEAT, NULL, NULL, 0), 0);
    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (link.a, &msg, 0), 0);
    assert_int_equal (msg.count, 1);
    assert_int_equal (msg.size, ONENET_SIGNATURE_SIZE);
    assert_signature (&msg.frame[0], ONENET_CMD_HEARTBEAT);
    assert_false (zmq_msg_more (&msg.frame[0]));
    onenet_wire_close (&msg);

    Onenet__Notice notice = ONENET__NOTICE__INIT;
    notice.status = ONENET__STATUS__UNAVAILABLE;
    notice.message = "going away";
    assert_int_equal (onenet_wire_send (link.b, NULL, ONENET_CMD_DISCONNECT, &notice.base, NULL,
                                        0),
                      0);
    assert_int_equal (onenet_wire_recv (link.a, &msg, 0), 0);
    assert_int_equal (msg.count, 2);
    assert_signature (&msg.frame[0], ONENET_CMD_DISCONNECT);
    assert_false (zmq_msg_more (&msg.frame[1]));
    Onenet__Notice *got
        = (Onenet__Notice *) onenet_wire_unpack (&onenet__notice__descriptor, &msg.frame[1], NULL);
    assert_non_null (got);
    assert_int_equal (got->status, ONENET__STATUS__UNAVAILABLE);
    assert_string_equal (got->message, "going away");
    protobuf_c_message_free_unpacked (&got->base, NULL);
    onenet_wire_close (&msg);
    link_close (&link);
}

static void
test_send_recv_router (void **state)
{
    link_t link;
    link_open (&link, ZMQ_ROUTER, ZMQ_DEALER, "dealer-1");
    Onenet__RequestHeader header;
    Onenet__Requester requester;
    header_fill (&header, &requester);

    assert_int_equal (onenet_wire_send_bytes (link.b, NULL, ONENET_CMD_REQUEST, &header.base,
                                              "ask", 3, 0),
                      0);
    onenet_wire_msg_t in;
    assert_int_equal (onenet_wire_recv (link.a, &in, 0), 0);
    /* The ROUTER puts the peer's routing id first. */
    assert_int_equal (in.count, 4);
    assert_frame_equal (&in.frame[0], "dealer-1", 8);
    assert_signature (&in.frame[1], ONENET_CMD_REQUEST);
    Onenet__RequestHeader *got = (Onenet__RequestHeader *) onenet_wire_unpack (
        &onenet__request_header__descriptor, &in.frame[2], NULL);
    assert_non_null (got);
    assert_header_equal (got, &header);
    protobuf_c_message_free_unpacked (&got->base, NULL);
    assert_frame_equal (&in.frame[3], "ask", 3);

    /* Reply through the ROUTER to that routing id, moving the request's
     * body back as the reply body, as the broker forwards bodies. */
    Onenet__ReplyHeader reply = ONENET__REPLY_HEADER__INIT;
    reply.correlation_id = header.correlation_id;
    reply.status = ONENET__STATUS__OK;
    reply.served_by = "ps/a1";
    assert_int_equal (onenet_wire_send (link.a, &in.frame[0], ONENET_CMD_REPLY, &reply.base,
                                        &in.frame[3], 0),
                      0);
    /* The routing id is copied, not consumed; the body is moved. */
    assert_frame_equal (&in.frame[0], "dealer-1", 8);
    assert_int_equal (zmq_msg_size (&in.frame[3]), 0);
    /* Closing a message whose body was moved on is safe. */
    onenet_wire_close (&in);

    onenet_wire_msg_t out;
    assert_int_equal (onenet_wire_recv (link.b, &out, 0), 0);
    assert_int_equal (out.count, 3);
    assert_signature (&out.frame[0], ONENET_CMD_REPLY);
    Onenet__ReplyHeader *got_reply = (Onenet__ReplyHeader *) onenet_wire_unpack (
        &onenet__reply_header__descriptor, &out.frame[1], NULL);
    assert_non_null (got_reply);
    assert_int_equal (got_reply->correlation_id, header.correlation_id);
    assert_string_equal (got_reply->served_by, "ps/a1");
    protobuf_c_message_free_unpacked (&got_reply->base, NULL);
    assert_frame_equal (&out.frame[2], "ask", 3);
    onenet_wire_close (&out);
    link_close (&link);
}

static void
test_send_failure_still_moves_body (void **state)
{
    /* A PAIR with no peer cannot take a message: with DONTWAIT the send
     * fails at once, and the body must be released all the same. */
    void *ctx = zmq_ctx_new ();
    assert_non_null (ctx);
    void *lonely = socket_new (ctx, ZMQ_PAIR);
    zmq_msg_t body;
    msg_from_string (&body, "a body that must not leak");
    errno = 0;
    assert_int_equal (onenet_wire_send (lonely, NULL, ONENET_CMD_REQUEST, NULL, &body,
                                        ZMQ_DONTWAIT),
                      -1);
    assert_int_equal (errno, EAGAIN);
    assert_int_equal (zmq_msg_size (&body), 0);
    zmq_msg_close (&body);

    errno = 0;
    assert_int_equal (onenet_wire_send_bytes (lonely, NULL, ONENET_CMD_REQUEST, NULL, "x", 1,
                                              ZMQ_DONTWAIT),
                      -1);
    assert_int_equal (errno, EAGAIN);
    assert_int_equal (zmq_close (lonely), 0);
    assert_int_equal (zmq_ctx_term (ctx), 0);
}

static void
test_recv_nothing_waiting (void **state)
{
    link_t link;
    link_open (&link, ZMQ_PAIR, ZMQ_PAIR, NULL);
    onenet_wire_msg_t msg;
    errno = 0;
    assert_int_equal (onenet_wire_recv (link.a, &msg, ZMQ_DONTWAIT), -1);
    assert_int_equal (errno, EAGAIN);
    link_close (&link);
}

/* onenet_wire_recv_wait: EAGAIN after its timeout, not before and not
 * forever; a message already queued is returned whole, in order. */
static void
test_recv_wait (void **state)
{
    link_t link;
    link_open (&link, ZMQ_PAIR, ZMQ_PAIR, NULL);
    onenet_wire_msg_t msg;
    int64_t started = onenet_clock_ms ();
    errno = 0;
    assert_int_equal (onenet_wire_recv_wait (link.a, &msg, 50), -1);
    assert_int_equal (errno, EAGAIN);
    int64_t waited = onenet_clock_ms () - started;
    assert_true (waited >= 45);
    assert_true (waited < SAFETY_TIMEOUT_MS);
    errno = 0;
    assert_int_equal (onenet_wire_recv_wait (link.a, &msg, 0), -1);
    assert_int_equal (errno, EAGAIN);

    assert_int_equal (onenet_wire_send (link.b, NULL, ONENET_CMD_HEARTBEAT, NULL, NULL, 0), 0);
    assert_int_equal (onenet_wire_send (link.b, NULL, ONENET_CMD_DISCONNECT, NULL, NULL, 0), 0);
    assert_int_equal (onenet_wire_recv_wait (link.a, &msg, -1), 0);
    assert_int_equal (msg.count, 1);
    assert_signature (&msg.frame[0], ONENET_CMD_HEARTBEAT);
    onenet_wire_close (&msg);
    assert_int_equal (onenet_wire_recv_wait (link.a, &msg, 0), 0);
    assert_signature (&msg.frame[0], ONENET_CMD_DISCONNECT);
    onenet_wire_close (&msg);
    link_close (&link);
}

static void
test_recv_too_many_frames (void **state)
{
    link_t link;
    link_open (&link, ZMQ_PAIR, ZMQ_PAIR, NULL);
    enum { EXTRA = 3, TOTAL = ONENET_WIRE_MAX_FRAMES + EXTRA };
    char frame[TOTAL + 1];
    size_t total_size = 0;
    for (int i = 0; i < TOTAL; i++) {
        /* Frame i is i + 1 bytes of the letter 'a' + i. */
        memset (frame, 'a' + i, (size_t) i + 1);
        assert_int_equal (zmq_send (link.b, frame, (size_t) i + 1, i < TOTAL - 1 ? ZMQ_SNDMORE : 0),
                          i + 1);
        total_size += (size_t) i + 1;
    }
    /* A normal message behind it must arrive whole and on its own. */
    assert_int_equal (onenet_wire_send_bytes (link.b, NULL, ONENET_CMD_EVENT, NULL, "next", 4, 0),
                      0);

    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (link.a, &msg, 0), 0);
    assert_int_equal (msg.count, ONENET_WIRE_MAX_FRAMES);
    assert_int_equal (msg.dropped, EXTRA);
    assert_int_equal (msg.size, total_size);
    for (int i = 0; i < ONENET_WIRE_MAX_FRAMES; i++) {
        memset (frame, 'a' + i, (size_t) i + 1);
        assert_frame_equal (&msg.frame[i], frame, (size_t) i + 1);
    }
    onenet_wire_close (&msg);

    assert_int_equal (onenet_wire_recv (link.a, &msg, 0), 0);
    assert_int_equal (msg.count, 2);
    assert_int_equal (msg.dropped, 0);
    assert_int_equal (msg.size, ONENET_SIGNATURE_SIZE + 4);
    assert_signature (&msg.frame[0], ONENET_CMD_EVENT);
    assert_frame_equal (&msg.frame[1], "next", 4);
    onenet_wire_close (&msg);
    link_close (&link);
}

static void
test_recv_exactly_max_frames (void **state)
{
    link_t link;
    link_open (&link, ZMQ_PAIR, ZMQ_PAIR, NULL);
    for (int i = 0; i < ONENET_WIRE_MAX_FRAMES; i++)
        assert_int_equal (zmq_send (link.b, "f", 1,
                                    i < ONENET_WIRE_MAX_FRAMES - 1 ? ZMQ_SNDMORE : 0),
                          1);
    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (link.a, &msg, 0), 0);
    assert_int_equal (msg.count, ONENET_WIRE_MAX_FRAMES);
    assert_int_equal (msg.dropped, 0);
    assert_int_equal (msg.size, ONENET_WIRE_MAX_FRAMES);
    onenet_wire_close (&msg);
    link_close (&link);
}

static void
test_send_bytes (void **state)
{
    link_t link;
    link_open (&link, ZMQ_PAIR, ZMQ_PAIR, NULL);
    char body[300];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char) (i * 7);
    Onenet__RequestHeader header;
    Onenet__Requester requester;
    header_fill (&header, &requester);
    assert_int_equal (onenet_wire_send_bytes (link.b, NULL, ONENET_CMD_REQUEST, &header.base, body,
                                              sizeof body, 0),
                      0);
    /* The caller's bytes are copied, so changing them now changes nothing. */
    memset (body, 0, sizeof body);

    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (link.a, &msg, 0), 0);
    assert_int_equal (msg.count, 3);
    assert_signature (&msg.frame[0], ONENET_CMD_REQUEST);
    assert_int_equal (zmq_msg_size (&msg.frame[2]), sizeof body);
    const unsigned char *got = zmq_msg_data (&msg.frame[2]);
    for (size_t i = 0; i < sizeof body; i++)
        assert_int_equal (got[i], (unsigned char) (i * 7));
    onenet_wire_close (&msg);

    assert_int_equal (onenet_wire_send_bytes (link.b, NULL, ONENET_CMD_EVENT, NULL, "xyz", 3, 0),
                      0);
    assert_int_equal (onenet_wire_recv (link.a, &msg, 0), 0);
    assert_int_equal (msg.count, 2);
    assert_signature (&msg.frame[0], ONENET_CMD_EVENT);
    assert_frame_equal (&msg.frame[1], "xyz", 3);
    onenet_wire_close (&msg);
    link_close (&link);
}

/* --- unpacking --- */

static void
packed_header (zmq_msg_t *frame, const Onenet__RequestHeader *header)
{
    size_t size = protobuf_c_message_get_packed_size (&header->base);
    assert_int_equal (zmq_msg_init_size (frame, size), 0);
    assert_int_equal (protobuf_c_message_pack (&header->base, zmq_msg_data (frame)), size);
}

static bool
in_buffer (const void *ptr, const unsigned char *buffer, size_t size)
{
    const unsigned char *p = ptr;
    return p >= buffer && p < buffer + size;
}

static void
test_unpack_arena (void **state)
{
    Onenet__RequestHeader header;
    Onenet__Requester requester;
    header_fill (&header, &requester);
    zmq_msg_t frame;
    packed_header (&frame, &header);

    static alignas (16) unsigned char buffer[2048];
    onenet_arena_t arena;
    onenet_arena_init (&arena, buffer, sizeof buffer);
    assert_int_equal (arena.used, 0);
    assert_int_equal (arena.capacity, sizeof buffer);

    Onenet__RequestHeader *first = (Onenet__RequestHeader *) onenet_wire_unpack (
        &onenet__request_header__descriptor, &frame, &arena);
    assert_non_null (first);
    assert_header_equal (first, &header);
    /* It lives in the arena, not on the heap. */
    assert_true (in_buffer (first, buffer, sizeof buffer));
    assert_true (in_buffer (first->service, buffer, sizeof buffer));
    assert_true (in_buffer (first->requester, buffer, sizeof buffer));
    assert_null (arena.spilled);
    size_t one = arena.used;
    assert_true (one > 0);
    assert_int_equal (one % 16, 0);

    /* Unpack past the arena's end without a reset: what does not fit
     * spills to the heap, and every header still unpacks whole. */
    size_t fit = arena.capacity / one;
    assert_true (fit >= 2);
    Onenet__RequestHeader *last = NULL;
    for (size_t i = 1; i < fit + 3; i++) {
        last = (Onenet__RequestHeader *) onenet_wire_unpack (&onenet__request_header__descriptor,
                                                             &frame, &arena);
        assert_non_null (last);
        assert_header_equal (last, &header);
        assert_true (arena.used <= arena.capacity);
    }
    assert_false (in_buffer (last, buffer, sizeof buffer));
    assert_non_null (arena.spilled);
    /* The earlier results are untouched by the later ones. */
    assert_header_equal (first, &header);

    /* Reset frees the spilled blocks (ASan's leak check at exit is the
     * assertion) and the buffer is used again from its start. */
    onenet_arena_reset (&arena);
    assert_int_equal (arena.used, 0);
    assert_null (arena.spilled);
    Onenet__RequestHeader *again = (Onenet__RequestHeader *) onenet_wire_unpack (
        &onenet__request_header__descriptor, &frame, &arena);
    assert_ptr_equal (again, first);
    assert_header_equal (again, &header);
    assert_int_equal (arena.used, one);
    onenet_arena_reset (&arena);
    zmq_msg_close (&frame);
}

static void
test_unpack_arena_too_small (void **state)
{
    Onenet__RequestHeader header;
    Onenet__Requester requester;
    header_fill (&header, &requester);
    /* A field longer than the whole arena. */
    char purpose[4096];
    memset (purpose, 'p', sizeof purpose - 1);
    purpose[sizeof purpose - 1] = '\0';
    header.purpose = purpose;
    zmq_msg_t frame;
    packed_header (&frame, &header);

    /* Smaller than the message struct itself: all of it spills. */
    static alignas (16) unsigned char tiny[32];
    onenet_arena_t arena;
    onenet_arena_init (&arena, tiny, sizeof tiny);
    Onenet__RequestHeader *got = (Onenet__RequestHeader *) onenet_wire_unpack (
        &onenet__request_header__descriptor, &frame, &arena);
    assert_non_null (got);
    assert_false (in_buffer (got, tiny, sizeof tiny));
    assert_header_equal (got, &header);
    assert_non_null (arena.spilled);
    onenet_arena_reset (&arena);
    assert_null (arena.spilled);

    /* Room for the struct but not the long field: only that part spills. */
    static alignas (16) unsigned char small[512];
    onenet_arena_init (&arena, small, sizeof small);
    got = (Onenet__RequestHeader *) onenet_wire_unpack (&onenet__request_header__descriptor,
                                                        &frame, &arena);
    assert_non_null (got);
    assert_true (in_buffer (got, small, sizeof small));
    assert_false (in_buffer (got->purpose, small, sizeof small));
    assert_header_equal (got, &header);
    assert_int_equal (strlen (got->purpose), sizeof purpose - 1);
    onenet_arena_reset (&arena);

    /* No buffer at all. */
    onenet_arena_init (&arena, NULL, 0);
    got = (Onenet__RequestHeader *) onenet_wire_unpack (&onenet__request_header__descriptor,
                                                        &frame, &arena);
    assert_non_null (got);
    assert_header_equal (got, &header);
    onenet_arena_reset (&arena);

    /* A misaligned buffer is accepted; what is lost to alignment is not used. */
    static alignas (16) unsigned char big[1024];
    onenet_arena_init (&arena, big + 1, sizeof big - 1);
    assert_int_equal (arena.capacity, sizeof big - 16);
    header.purpose = "short";
    zmq_msg_close (&frame);
    packed_header (&frame, &header);
    got = (Onenet__RequestHeader *) onenet_wire_unpack (&onenet__request_header__descriptor,
                                                        &frame, &arena);
    assert_non_null (got);
    assert_true (in_buffer (got, big + 16, sizeof big - 16));
    assert_int_equal ((uintptr_t) got % 16, 0);
    assert_header_equal (got, &header);
    assert_null (arena.spilled);
    onenet_arena_reset (&arena);
    zmq_msg_close (&frame);
}

/* An event's first frame as the broker relays it: the topic, a NUL, the
 * EventHeader. */
static void
test_unpack_event_head (void **state)
{
    (void) state;
    Onenet__EventHeader header = ONENET__EVENT_HEADER__INIT;
    header.topic = "record.changed";
    header.type = "onenet.view.RecordChanged";
    header.department = "social_security";
    header.time_ms = 1764979200000;
    const char *topic = "event.social_security.record.changed";
    size_t topic_length = strlen (topic);
    size_t size = topic_length + 1 + protobuf_c_message_get_packed_size (&header.base);
    zmq_msg_t frame;
    assert_int_equal (zmq_msg_init_size (&frame, size), 0);
    memcpy (zmq_msg_data (&frame), topic, topic_length + 1);
    protobuf_c_message_pack (&header.base, (uint8_t *) zmq_msg_data (&frame) + topic_length + 1);

    static alignas (16) unsigned char buffer[512];
    onenet_arena_t arena;
    onenet_arena_init (&arena, buffer, sizeof buffer);
    size_t length = 0;
    Onenet__EventHeader *got = (Onenet__EventHeader *) onenet_wire_unpack_event_head (
        &onenet__event_header__descriptor, &frame, &length, &arena);
    assert_non_null (got);
    assert_int_equal (length, topic_length);
    assert_string_equal (got->topic, "record.changed");
    assert_string_equal (got->type, "onenet.view.RecordChanged");
    assert_string_equal (got->department, "social_security");
    assert_true (got->time_ms == 1764979200000);
    onenet_arena_reset (&arena);
    zmq_msg_close (&frame);

    /* No NUL: a topic frame of the old three-frame layout, or garbage. */
    zmq_msg_init_size (&frame, topic_length);
    memcpy (zmq_msg_data (&frame), topic, topic_length);
    length = 99;
    assert_null (onenet_wire_unpack_event_head (&onenet__event_header__descriptor, &frame,
                                                &length, &arena));
    assert_int_equal (length, 99);
    zmq_msg_close (&frame);

    /* A NUL, then bytes that are not a header (a length past the end). */
    const uint8_t cut[] = { 'e', 0, 0x0a, 50, 'x' };
    zmq_msg_init_size (&frame, sizeof cut);
    memcpy (zmq_msg_data (&frame), cut, sizeof cut);
    assert_null (onenet_wire_unpack_event_head (&onenet__event_header__descriptor, &frame, NULL,
                                                &arena));
    zmq_msg_close (&frame);
    zmq_msg_init (&frame);   /* empty */
    assert_null (onenet_wire_unpack_event_head (&onenet__event_header__descriptor, &frame, NULL,
                                                NULL));
    zmq_msg_close (&frame);
    onenet_arena_reset (&arena);
}

/* onenet_varint_write: protobuf's base-128 varint, low group first, the
 * high bit set on every byte but the last; with out NULL a count only. */
static void
test_varint_write (void **state)
{
    (void) state;
    struct {
        uint64_t value;
        size_t size;
        uint8_t bytes[10];
    } cases[] = {
        { 0, 1, { 0x00 } },
        { 1, 1, { 0x01 } },
        { 127, 1, { 0x7f } },
        { 128, 2, { 0x80, 0x01 } },
        { 300, 2, { 0xac, 0x02 } },
        { 16383, 2, { 0xff, 0x7f } },
        { 16384, 3, { 0x80, 0x80, 0x01 } },
        { UINT32_MAX, 5, { 0xff, 0xff, 0xff, 0xff, 0x0f } },
        { UINT64_MAX, 10, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[12];
        memset (out, 0xee, sizeof out);
        assert_int_equal (onenet_varint_write (NULL, cases[i].value), cases[i].size);
        assert_int_equal (onenet_varint_write (out, cases[i].value), cases[i].size);
        assert_memory_equal (out, cases[i].bytes, cases[i].size);
        assert_int_equal (out[cases[i].size], 0xee);   /* nothing written past it */
        /* and the event bodies' walk reads it back as a length */
        onenet_event_bodies_t bodies;
        if (cases[i].value < 8) {
            uint8_t frame[16];
            size_t size = onenet_varint_write (frame, cases[i].value);
            memset (frame + size, 'x', (size_t) cases[i].value);
            assert_int_equal (onenet_event_bodies_init (&bodies, 1, frame,
                                                        size + (size_t) cases[i].value), 0);
        }
    }
}

/* The bodies of an event message: one plain body (count 0), or count
 * bodies each after its varint length; a frame whose lengths do not add
 * up to exactly count bodies is refused whole. */
static void
test_event_bodies (void **state)
{
    (void) state;
    onenet_event_bodies_t bodies;
    const void *body;
    size_t size;

    const uint8_t plain[] = { 0x08, 0x01 };
    assert_int_equal (onenet_event_bodies_init (&bodies, 0, plain, sizeof plain), 0);
    assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 1);
    assert_ptr_equal (body, plain);
    assert_int_equal (size, sizeof plain);
    assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 0);

    /* No body frame at all: one event without a body. */
    assert_int_equal (onenet_event_bodies_init (&bodies, 0, NULL, 0), 0);
    assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 1);
    assert_null (body);
    assert_int_equal (size, 0);

    /* Three bodies: "ab", "" and 200 bytes (a two-byte length). */
    uint8_t batch[3 + 1 + 2 + 200];
    size_t at = 0;
    batch[at++] = 2;
    batch[at++] = 'a';
    batch[at++] = 'b';
    batch[at++] = 0;
    batch[at++] = 0x80 | (200 & 0x7f);
    batch[at++] = 200 >> 7;
    memset (batch + at, 'z', 200);
    at += 200;
    assert_int_equal (at, sizeof batch);
    assert_int_equal (onenet_event_bodies_init (&bodies, 3, batch, sizeof batch), 0);
    assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 1);
    assert_int_equal (size, 2);
    assert_memory_equal (body, "ab", 2);
    assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 1);
    assert_int_equal (size, 0);
    assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 1);
    assert_int_equal (size, 200);
    assert_ptr_equal (body, batch + 6);
    assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 0);

    /* A count the frame does not hold: too many, too few (bytes left). */
    assert_int_equal (onenet_event_bodies_init (&bodies, 4, batch, sizeof batch), -1);
    assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 0);
    assert_int_equal (onenet_event_bodies_init (&bodies, 2, batch, sizeof batch), -1);
    assert_int_equal (onenet_event_bodies_next (&bodies, &body, &size), 0);
    /* A length past the end; a length cut off; a varint longer than 32 bits. */
    assert_int_equal (onenet_event_bodies_init (&bodies, 3, batch, sizeof batch - 1), -1);
    const uint8_t cut[] = { 0x80 };
    assert_int_equal (onenet_event_bodies_init (&bodies, 1, cut, sizeof cut), -1);
    const uint8_t wide[] = { 0xff, 0xff, 0xff, 0xff, 0x1f };
    assert_int_equal (onenet_event_bodies_init (&bodies, 1, wide, sizeof wide), -1);
    const uint8_t long_varint[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
    assert_int_equal (onenet_event_bodies_init (&bodies, 1, long_varint, sizeof long_varint), -1);
    /* A batch without a body frame. */
    assert_int_equal (onenet_event_bodies_init (&bodies, 2, NULL, 0), -1);
}

static void
test_unpack_garbage (void **state)
{
    static alignas (16) unsigned char buffer[1024];
    onenet_arena_t arena;
    onenet_arena_init (&arena, buffer, sizeof buffer);

    /* A varint that never ends. */
    const uint8_t endless[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    /* Field 2 (service), length 50, with 3 bytes of data. */
    const uint8_t truncated[] = { 0x12, 50, 'a', 'b', 'c' };
    /* Field 1 (uint64) sent as length-delimited: wrong wire type. */
    const uint8_t wrong_type[] = { 0x0a, 1, 'x' };
    /* A good service, then purpose (field 6) cut short. */
    const uint8_t good_then_cut[] = { 0x12, 3, 'a', 'b', 'c', 0x32, 50, 'x' };
    const struct {
        const uint8_t *data;
        size_t size;
    } cases[] = {
        { endless, sizeof endless },
        { truncated, sizeof truncated },
        { wrong_type, sizeof wrong_type },
        { good_then_cut, sizeof good_then_cut },
    };
    /* With no buffer, whatever a failed unpack took has spilled. */
    onenet_arena_t empty;
    onenet_arena_init (&empty, NULL, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zmq_msg_t frame;
        assert_int_equal (zmq_msg_init_size (&frame, cases[i].size), 0);
        memcpy (zmq_msg_data (&frame), cases[i].data, cases[i].size);
        assert_null (onenet_wire_unpack (&onenet__request_header__descriptor, &frame, NULL));
        assert_null (onenet_wire_unpack (&onenet__request_header__descriptor, &frame, &arena));
        onenet_arena_reset (&arena);
        assert_null (onenet_wire_unpack (&onenet__request_header__descriptor, &frame, &empty));
        /* Reset frees that too (ASan's leak check at exit). */
        onenet_arena_reset (&empty);
        assert_null (empty.spilled);
        zmq_msg_close (&frame);
    }
}

/* A BATCH frame: entries of command, header and body, each after its
 * varint length, written by onenet_batch_add and read back in order; a
 * frame whose lengths do not tile it is refused whole. */
static void
test_batch_entries (void **state)
{
    (void) state;
    onenet_batch_t batch = { 0 };
    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    header.correlation_id = 7;
    header.status = ONENET__STATUS__OK;
    char big[300];
    memset (big, 'b', sizeof big);
    size_t ends[3];   /* where each entry ends */
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REPLY, &header.base, "hi", 2), 0);
    ends[0] = batch.size;
    header.correlation_id = 8;
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REPLY, &header.base, NULL, 0), 0);
    ends[1] = batch.size;
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REQUEST, NULL, big, sizeof big), 0);
    ends[2] = batch.size;
    assert_int_equal (batch.count, 3);

    onenet_batch_reader_t reader;
    onenet_batch_entry_t entry;
    assert_int_equal (onenet_batch_reader_init (&reader, batch.data, batch.size), 3);
    uint64_t expected_id = 7;
    for (int i = 0; i < 2; i++) {
        assert_int_equal (onenet_batch_next (&reader, &entry), 1);
        assert_int_equal (entry.command, ONENET_CMD_REPLY);
        Onenet__ReplyHeader *read = onenet__reply_header__unpack (NULL, entry.header_size,
                                                                  entry.header);
        assert_non_null (read);
        assert_int_equal (read->correlation_id, expected_id++);
        onenet__reply_header__free_unpacked (read, NULL);
        assert_int_equal (entry.body_size, i == 0 ? 2 : 0);
    }
    assert_int_equal (onenet_batch_next (&reader, &entry), 1);
    assert_int_equal (entry.command, ONENET_CMD_REQUEST);
    assert_int_equal (entry.header_size, 0);
    assert_int_equal (entry.body_size, sizeof big);   /* a two-byte length */
    assert_memory_equal (entry.body, big, sizeof big);
    assert_int_equal (onenet_batch_next (&reader, &entry), 0);

    /* Cut short inside an entry, or with a byte too many, the frame is
     * refused and the walk returns nothing; cut between entries, it is a
     * shorter batch. */
    for (size_t cut = 0; cut < batch.size; cut++) {
        int expected = cut == ends[0] ? 1 : cut == ends[1] ? 2 : -1;
        assert_int_equal (onenet_batch_reader_init (&reader, batch.data, cut), expected);
        assert_int_equal (onenet_batch_next (&reader, &entry), expected > 0);
    }
    assert_int_equal (ends[2], batch.size);
    assert_int_equal (onenet_batch_reader_init (&reader, NULL, 0), -1);
    uint8_t longer[batch.size + 1];
    memcpy (longer, batch.data, batch.size);
    longer[batch.size] = ONENET_CMD_REPLY;
    assert_int_equal (onenet_batch_reader_init (&reader, longer, sizeof longer), -1);
    const uint8_t wide[] = { ONENET_CMD_REPLY, 0xff, 0xff, 0xff, 0xff, 0x1f };
    assert_int_equal (onenet_batch_reader_init (&reader, wide, sizeof wide), -1);

    /* The rules every batcher shares: which bodies join, when it is full. */
    assert_true (onenet_batch_takes (64, ONENET_BATCH_BODY_MAX));
    assert_false (onenet_batch_takes (64, ONENET_BATCH_BODY_MAX + 1));
    assert_false (onenet_batch_takes (1, 10));
    assert_false (onenet_batch_takes (0, 10));
    assert_true (onenet_batch_full (&batch, 3));
    assert_false (onenet_batch_full (&batch, 4));
    onenet_batch_clear (&batch);
    assert_int_equal (batch.count, 0);
    assert_int_equal (batch.size, 0);
    assert_false (onenet_batch_full (&batch, 1));
    while (batch.size < ONENET_BATCH_BYTES_MAX)
        assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REQUEST, NULL, big, sizeof big), 0);
    assert_true (onenet_batch_full (&batch, 1000));
    onenet_batch_release (&batch);
    assert_null (batch.data);
}

/* onenet_batch_send: several entries go as one BATCH of two frames, a
 * lone entry as the plain message it is; either way the batch empties. */
static void
test_batch_send (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new ();
    void *in = zmq_socket (ctx, ZMQ_PAIR), *out = zmq_socket (ctx, ZMQ_PAIR);
    assert_int_equal (zmq_bind (in, "inproc://batch"), 0);
    assert_int_equal (zmq_connect (out, "inproc://batch"), 0);
    onenet_batch_t batch = { 0 };
    assert_int_equal (onenet_batch_send (&batch, out, NULL, ZMQ_DONTWAIT), 0);   /* nothing */
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.service = "example.greet";
    header.correlation_id = 1;
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REQUEST, &header.base, "a", 1), 0);
    header.correlation_id = 2;
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REQUEST, &header.base, "bc", 2), 0);
    assert_int_equal (onenet_batch_send (&batch, out, NULL, ZMQ_DONTWAIT), 0);
    assert_int_equal (batch.count, 0);

    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (in, &msg, 0), 0);
    assert_int_equal (msg.count, 2);
    int version;
    assert_int_equal (onenet_wire_parse_signature (zmq_msg_data (&msg.frame[0]),
                                                   zmq_msg_size (&msg.frame[0]), &version),
                      ONENET_CMD_BATCH);
    onenet_batch_reader_t reader;
    onenet_batch_entry_t entry;
    assert_int_equal (onenet_batch_reader_init (&reader, zmq_msg_data (&msg.frame[1]),
                                                zmq_msg_size (&msg.frame[1])),
                      2);
    assert_int_equal (onenet_batch_next (&reader, &entry), 1);
    assert_int_equal (entry.body_size, 1);
    assert_int_equal (onenet_batch_next (&reader, &entry), 1);
    assert_memory_equal (entry.body, "bc", 2);
    onenet_wire_close (&msg);

    header.correlation_id = 3;
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REQUEST, &header.base, "xyz", 3), 0);
    assert_int_equal (onenet_batch_send (&batch, out, NULL, ZMQ_DONTWAIT), 0);
    assert_int_equal (onenet_wire_recv (in, &msg, 0), 0);
    assert_int_equal (msg.count, 3);
    assert_int_equal (onenet_wire_parse_signature (zmq_msg_data (&msg.frame[0]),
                                                   zmq_msg_size (&msg.frame[0]), &version),
                      ONENET_CMD_REQUEST);
    Onenet__RequestHeader *read = (Onenet__RequestHeader *) onenet_wire_unpack (
        &onenet__request_header__descriptor, &msg.frame[1], NULL);
    assert_non_null (read);
    assert_int_equal (read->correlation_id, 3);
    assert_string_equal (read->service, "example.greet");
    protobuf_c_message_free_unpacked (&read->base, NULL);
    assert_int_equal (zmq_msg_size (&msg.frame[2]), 3);
    assert_memory_equal (zmq_msg_data (&msg.frame[2]), "xyz", 3);
    onenet_wire_close (&msg);

    onenet_batch_release (&batch);
    zmq_close (in);
    zmq_close (out);
    zmq_ctx_term (ctx);
}

static void
test_unpack_empty_frame_is_default (void **state)
{
    /* Zero bytes are a valid message with every field at its default. */
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    Onenet__RequestHeader *got = (Onenet__RequestHeader *) onenet_wire_unpack (
        &onenet__request_header__descriptor, &frame, NULL);
    assert_non_null (got);
    assert_int_equal (got->correlation_id, 0);
    assert_string_equal (got->service, "");
    assert_null (got->requester);
    protobuf_c_message_free_unpacked (&got->base, NULL);
    zmq_msg_close (&frame);
}

static void
test_clocks (void **state)
{
    int64_t a = onenet_clock_ms ();
    int64_t b = onenet_clock_ms ();
    assert_true (b >= a);
    /* After 2020-01-01, whatever machine runs this. */
    assert_true (onenet_wall_ms () > 1577836800000LL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_signature_round_trip),
        cmocka_unit_test (test_signature_wrong_size),
        cmocka_unit_test (test_signature_wrong_magic),
        cmocka_unit_test (test_signature_zero_command),
        cmocka_unit_test (test_signature_other_version_and_command),
        cmocka_unit_test (test_command_name),
        cmocka_unit_test (test_send_recv_pair),
        cmocka_unit_test (test_send_signature_only_and_header_only),
        cmocka_unit_test (test_send_recv_router),
        cmocka_unit_test (test_send_failure_still_moves_body),
        cmocka_unit_test (test_recv_nothing_waiting),
        cmocka_unit_test (test_recv_wait),
        cmocka_unit_test (test_recv_too_many_frames),
        cmocka_unit_test (test_recv_exactly_max_frames),
        cmocka_unit_test (test_send_bytes),
        cmocka_unit_test (test_unpack_arena),
        cmocka_unit_test (test_unpack_arena_too_small),
        cmocka_unit_test (test_unpack_garbage),
        cmocka_unit_test (test_unpack_event_head),
        cmocka_unit_test (test_varint_write),
        cmocka_unit_test (test_event_bodies),
        cmocka_unit_test (test_batch_entries),
        cmocka_unit_test (test_batch_send),
        cmocka_unit_test (test_unpack_empty_frame_is_default),
        cmocka_unit_test (test_clocks),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
