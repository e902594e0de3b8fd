/*
 * test_batches.c - BATCH messages (docs/PROTOCOL.md, "Batches") through a
 * real broker, between bare protocol peers on 127.0.0.1 whose every
 * frame the test sees: requests and replies gathered per peer and turn,
 * only for peers that said they take batches, bounded by their batch_max
 * and by body size, malformed batches refused, and nothing gathered for
 * an adapter that went away sent to it.
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
#include "onenet/proto/onenet.pb-c.h"

#define SERVICE "raw.echo"
#define ENTRIES_MAX 128

typedef struct {
    int port;
    pid_t broker;
    void *context;
    void *sockets[8];         /* open, closed at teardown (a failed test leaves them) */
} fixture_t;

/* One request or reply as a peer received it, alone or in a BATCH. */
typedef struct {
    int command;
    uint64_t correlation_id;
    uint32_t batch_max;       /* ReplyHeader's */
    uint32_t attempt;         /* RequestHeader's */
    int status;
    char served_by[64];
    char body[64];
    size_t body_size;
} got_t;

static fixture_t *s_fixture;

static int
start (void **state, const char *config_text)
{
    static fixture_t fixture;
    s_fixture = &fixture;
    memset (&fixture, 0, sizeof fixture);
    fixture.port = harness_free_port ();
    fixture.broker = harness_start_broker (fixture.port, config_text);
    fixture.context = zmq_ctx_new ();
    *state = &fixture;
    return 0;
}

static int
setup (void **state)
{
    return start (state, "broker: { registration_grace_ms = 0; };\n");
}

static int
setup_small_messages (void **state)
{
    return start (state, "broker: { registration_grace_ms = 0; };\n"
                         "limits: { max_message_size = 2048; };\n");
}

static int
teardown (void **state)
{
    fixture_t *fixture = *state;
    int linger = 0;
    for (size_t i = 0; i < sizeof fixture->sockets / sizeof fixture->sockets[0]; i++)
        if (fixture->sockets[i]) {
            zmq_setsockopt (fixture->sockets[i], ZMQ_LINGER, &linger, sizeof linger);
            zmq_close (fixture->sockets[i]);
        }
    zmq_ctx_term (fixture->context);
    bool clean = harness_stop_all_clean ();
    harness_cleanup ();
    return clean ? 0 : -1;
}

/* Keeps socket for teardown; returns it. */
static void *
track (fixture_t *fixture, void *socket)
{
    for (size_t i = 0; i < sizeof fixture->sockets / sizeof fixture->sockets[0]; i++)
        if (!fixture->sockets[i]) {
            fixture->sockets[i] = socket;
            return socket;
        }
    fail_msg ("more sockets than the fixture keeps");
    return NULL;
}

static void *
bare_adapter (fixture_t *fixture, const char *instance, bool idempotent, uint32_t credit,
              uint32_t batch_max, uint32_t *welcome_batch_max)
{
    return track (fixture, harness_bare_adapter_offer (fixture->context, fixture->port, "batch",
                                                       instance, SERVICE, idempotent, credit,
                                                       batch_max, welcome_batch_max));
}

static void *
bare_client (fixture_t *fixture)
{
    void *dealer = zmq_socket (fixture->context, ZMQ_DEALER);
    int linger = 0, timeout = 5000;
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal (zmq_connect (dealer, harness_endpoint (fixture->port)), 0);
    return track (fixture, dealer);
}

/* Forgets socket from the fixture; returns it. */
static void *
untrack (void *socket)
{
    fixture_t *fixture = s_fixture;
    for (size_t i = 0; i < sizeof fixture->sockets / sizeof fixture->sockets[0]; i++)
        if (fixture->sockets[i] == socket)
            fixture->sockets[i] = NULL;
    return socket;
}

static void
close_socket (void *socket)
{
    int linger = 0;
    zmq_setsockopt (untrack (socket), ZMQ_LINGER, &linger, sizeof linger);
    zmq_close (socket);
}

/* Adds REQUEST n (correlation id n, body "req-n", or size bytes of 'x'
 * when size is not 0) to a client's batch. */
static void
add_request (onenet_batch_t *batch, uint64_t n, const char *service, uint32_t batch_max,
             size_t size, bool idempotent)
{
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.correlation_id = n;
    header.service = (char *) service;
    header.timeout_ms = 5000;
    header.batch_max = batch_max;
    header.idempotent = idempotent;
    char small[32];
    char *body = small;
    if (size) {
        body = malloc (size);
        memset (body, 'x', size);
    }
    else
        size = (size_t) snprintf (small, sizeof small, "req-%llu", (unsigned long long) n);
    assert_int_equal (onenet_batch_add (batch, ONENET_CMD_REQUEST, &header.base, body, size), 0);
    if (body != small)
        free (body);
}

/* Sends requests first..last of SERVICE as one BATCH. */
static void
send_requests (void *client, uint64_t first, uint64_t last, uint32_t batch_max, bool idempotent)
{
    onenet_batch_t batch = { 0 };
    for (uint64_t n = first; n <= last; n++)
        add_request (&batch, n, SERVICE, batch_max, 0, idempotent);
    assert_int_equal (onenet_batch_send (&batch, client, NULL, 0), 0);
    onenet_batch_release (&batch);
}

static void
keep_entry (got_t *got, int command, const void *header, size_t header_size, const void *body,
            size_t body_size)
{
    memset (got, 0, sizeof *got);
    got->command = command;
    if (command == ONENET_CMD_REQUEST) {
        Onenet__RequestHeader *request = onenet__request_header__unpack (NULL, header_size, header);
        assert_non_null (request);
        got->correlation_id = request->correlation_id;
        got->attempt = request->attempt;
        onenet__request_header__free_unpacked (request, NULL);
    }
    else if (command == ONENET_CMD_REPLY) {
        Onenet__ReplyHeader *reply = onenet__reply_header__unpack (NULL, header_size, header);
        assert_non_null (reply);
        got->correlation_id = reply->correlation_id;
        got->batch_max = reply->batch_max;
        got->status = reply->status;
        snprintf (got->served_by, sizeof got->served_by, "%s", reply->served_by);
        onenet__reply_header__free_unpacked (reply, NULL);
    }
    got->body_size = body_size;
    memcpy (got->body, body, body_size < sizeof got->body ? body_size : sizeof got->body);
}

/* Receives messages until `want` requests or replies are in (or the
 * socket's timeout); returns how many messages carried them, and the
 * entries in got, in order. */
static int
receive (void *socket, got_t got[], size_t want, size_t *count)
{
    *count = 0;
    int messages = 0;
    while (*count < want) {
        onenet_wire_msg_t msg;
        if (onenet_wire_recv (socket, &msg, 0) < 0)
            break;
        int command = onenet_wire_parse_signature (zmq_msg_data (&msg.frame[0]),
                                                   zmq_msg_size (&msg.frame[0]), NULL);
        if (command == ONENET_CMD_HEARTBEAT || command == ONENET_CMD_CREDIT) {
            onenet_wire_close (&msg);
            continue;
        }
        messages++;
        if (command == ONENET_CMD_BATCH) {
            assert_int_equal (msg.count, 2);
            onenet_batch_reader_t reader;
            assert_true (onenet_batch_reader_init (&reader, zmq_msg_data (&msg.frame[1]),
                                                   zmq_msg_size (&msg.frame[1]))
                         >= 2);   /* a lone entry goes as its plain message */
            onenet_batch_entry_t entry;
            while (onenet_batch_next (&reader, &entry) && *count < ENTRIES_MAX)
                keep_entry (&got[(*count)++], entry.command, entry.header, entry.header_size,
                            entry.body, entry.body_size);
        }
        else {
            assert_true (msg.count >= 2);
            keep_entry (&got[(*count)++], command, zmq_msg_data (&msg.frame[1]),
                        zmq_msg_size (&msg.frame[1]), msg.count > 2 ? zmq_msg_data (&msg.frame[2]) : "",
                        msg.count > 2 ? zmq_msg_size (&msg.frame[2]) : 0);
        }
        onenet_wire_close (&msg);
    }
    return messages;
}

/* Answers requests as a bare adapter: one REPLY each ("rep-" and the
 * request's body), all in one BATCH when batch is true. */
static void
answer (void *adapter, const got_t requests[], size_t count, bool batch)
{
    onenet_batch_t replies = { 0 };
    for (size_t i = 0; i < count; i++) {
        Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
        header.correlation_id = requests[i].correlation_id;
        char body[80];
        int size = snprintf (body, sizeof body, "rep-%.*s", (int) requests[i].body_size,
                             requests[i].body);
        assert_int_equal (onenet_batch_add (&replies, ONENET_CMD_REPLY, &header.base, body,
                                            (size_t) size),
                          0);
        if (!batch)
            assert_int_equal (onenet_batch_send (&replies, adapter, NULL, 0), 0);
    }
    assert_int_equal (onenet_batch_send (&replies, adapter, NULL, 0), 0);
    onenet_batch_release (&replies);
}

/* A client's batch of five requests reaches an adapter that takes
 * batches as one BATCH; the adapter's BATCH of replies reaches the
 * client, which takes batches too, as one BATCH, with the client's own
 * correlation ids and who served them. */
static void
test_requests_and_replies_go_in_batches (void **state)
{
    fixture_t *fixture = *state;
    uint32_t welcome_batch_max = 0;
    void *adapter = bare_adapter (fixture, "a1", false, 32, 16, &welcome_batch_max);
    assert_int_equal (welcome_batch_max, 64);   /* broker.batch_max's default */
    void *client = bare_client (fixture);
    send_requests (client, 1, 5, 64, false);

    got_t requests[ENTRIES_MAX];
    size_t count;
    assert_int_equal (receive (adapter, requests, 5, &count), 1);
    assert_int_equal (count, 5);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal (requests[i].command, ONENET_CMD_REQUEST);
        assert_int_equal (requests[i].attempt, 1);
        char body[32];
        snprintf (body, sizeof body, "req-%zu", i + 1);
        assert_int_equal (requests[i].body_size, strlen (body));
        assert_memory_equal (requests[i].body, body, strlen (body));
    }
    answer (adapter, requests, count, true);

    got_t replies[ENTRIES_MAX];
    assert_int_equal (receive (client, replies, 5, &count), 1);
    assert_int_equal (count, 5);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal (replies[i].command, ONENET_CMD_REPLY);
        assert_int_equal (replies[i].correlation_id, i + 1);
        assert_int_equal (replies[i].status, ONENET_OK);
        assert_string_equal (replies[i].served_by, "batch/a1");
        assert_int_equal (replies[i].batch_max, 64);
        char body[32];
        snprintf (body, sizeof body, "rep-req-%zu", i + 1);
        assert_memory_equal (replies[i].body, body, strlen (body));
    }
    close_socket (client);
    harness_bare_adapter_close (untrack (adapter));
}

/* Peers that did not say they take batches get every request and reply
 * alone, as before batches, even when the other side sent a batch. */
static void
test_peers_without_batches_get_messages_alone (void **state)
{
    fixture_t *fixture = *state;
    void *adapter = bare_adapter (fixture, "a1", false, 32, 0, NULL);
    void *client = bare_client (fixture);
    send_requests (client, 1, 5, 0, false);
    got_t got[ENTRIES_MAX];
    size_t count;
    assert_int_equal (receive (adapter, got, 5, &count), 5);
    assert_int_equal (count, 5);
    answer (adapter, got, count, true);
    assert_int_equal (receive (client, got, 5, &count), 5);
    assert_int_equal (count, 5);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal (got[i].command, ONENET_CMD_REPLY);
        assert_int_equal (got[i].batch_max, 64);   /* told, so it could batch next time */
    }
    close_socket (client);
    harness_bare_adapter_close (untrack (adapter));
}

/* A batch holds at most the peer's batch_max; a body larger than
 * ONENET_BATCH_BODY_MAX goes alone, after what was gathered before it,
 * and what follows it goes after it. */
static void
test_batches_are_bounded_by_count_and_body_size (void **state)
{
    fixture_t *fixture = *state;
    void *adapter = bare_adapter (fixture, "a1", false, 64, 2, NULL);
    void *client = bare_client (fixture);
    send_requests (client, 1, 5, 64, false);
    got_t got[ENTRIES_MAX];
    size_t count;
    assert_int_equal (receive (adapter, got, 5, &count), 3);   /* 2 + 2 + 1 */
    assert_int_equal (count, 5);
    for (size_t i = 0; i < count; i++)
        assert_memory_equal (got[i].body, "req-", 4);
    answer (adapter, got, count, true);
    assert_int_equal (receive (client, got, 5, &count), 1);   /* the client takes 64 */
    assert_int_equal (count, 5);
    harness_bare_adapter_close (untrack (adapter));

    void *wide = bare_adapter (fixture, "a2", false, 64, 64, NULL);
    onenet_batch_t batch = { 0 };
    add_request (&batch, 11, SERVICE, 64, 0, false);
    add_request (&batch, 12, SERVICE, 64, 0, false);
    add_request (&batch, 13, SERVICE, 64, ONENET_BATCH_BODY_MAX + 1, false);
    add_request (&batch, 14, SERVICE, 64, 0, false);
    assert_int_equal (onenet_batch_send (&batch, client, NULL, 0), 0);
    onenet_batch_release (&batch);
    assert_int_equal (receive (wide, got, 4, &count), 3);   /* [11 12] 13 14 */
    assert_int_equal (count, 4);
    assert_memory_equal (got[0].body, "req-11", 6);
    assert_memory_equal (got[1].body, "req-12", 6);
    assert_int_equal (got[2].body_size, ONENET_BATCH_BODY_MAX + 1);
    assert_memory_equal (got[3].body, "req-14", 6);
    close_socket (client);
    harness_bare_adapter_close (untrack (wide));
}

static void
expect_error (void *client, onenet_status_t status)
{
    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (client, &msg, 0), 0);
    assert_int_equal (onenet_wire_parse_signature (zmq_msg_data (&msg.frame[0]),
                                                   zmq_msg_size (&msg.frame[0]), NULL),
                      ONENET_CMD_ERROR);
    Onenet__Notice *notice = (Onenet__Notice *) onenet_wire_unpack (&onenet__notice__descriptor,
                                                                    &msg.frame[1], NULL);
    assert_non_null (notice);
    assert_int_equal (notice->status, status);
    assert_int_equal (notice->correlation_id, 0);
    protobuf_c_message_free_unpacked (&notice->base, NULL);
    onenet_wire_close (&msg);
}

/* A BATCH whose frame is not a run of whole entries, or holds more than
 * broker.batch_max, is refused whole with an ERROR; an entry that is not
 * a request or reply is skipped, the others served; the broker goes on. */
static void
test_bad_batches_are_refused (void **state)
{
    fixture_t *fixture = *state;
    void *client = bare_client (fixture);
    uint8_t signature[ONENET_SIGNATURE_SIZE];
    onenet_wire_signature (signature, ONENET_CMD_BATCH);
    const uint8_t garbage[] = { ONENET_CMD_REQUEST, 0x7f, 0x01 };
    assert_int_equal (zmq_send (client, signature, sizeof signature, ZMQ_SNDMORE), sizeof signature);
    assert_int_equal (zmq_send (client, garbage, sizeof garbage, 0), sizeof garbage);
    expect_error (client, ONENET_BAD_REQUEST);

    onenet_batch_t batch = { 0 };
    for (uint64_t n = 1; n <= 65; n++)
        add_request (&batch, n, "onenet.ping", 64, 0, false);
    assert_int_equal (onenet_batch_send (&batch, client, NULL, 0), 0);
    expect_error (client, ONENET_BAD_REQUEST);

    Onenet__EventHeader event = ONENET__EVENT_HEADER__INIT;
    event.topic = "record.changed";
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_EVENT, &event.base, NULL, 0), 0);
    add_request (&batch, 100, "onenet.ping", 64, 0, false);
    assert_int_equal (onenet_batch_send (&batch, client, NULL, 0), 0);
    onenet_batch_release (&batch);
    got_t got[ENTRIES_MAX];
    size_t count;
    assert_int_equal (receive (client, got, 1, &count), 1);
    assert_int_equal (count, 1);
    assert_int_equal (got[0].correlation_id, 100);
    assert_int_equal (got[0].status, ONENET_OK);

    /* An adapter's malformed batch of replies is dropped (logged); its
     * next reply still reaches the client. */
    void *adapter = bare_adapter (fixture, "a1", false, 8, 8, NULL);
    send_requests (client, 7, 7, 64, false);
    assert_int_equal (receive (adapter, got, 1, &count), 1);
    assert_int_equal (zmq_send (adapter, signature, sizeof signature, ZMQ_SNDMORE), sizeof signature);
    assert_int_equal (zmq_send (adapter, garbage, sizeof garbage, 0), sizeof garbage);
    answer (adapter, got, 1, false);
    got_t reply[ENTRIES_MAX];
    assert_int_equal (receive (client, reply, 1, &count), 1);
    assert_int_equal (reply[0].correlation_id, 7);
    assert_memory_equal (reply[0].body, "rep-req-7", 9);
    char log[64];
    snprintf (log, sizeof log, "broker-%d.log", fixture->port);
    assert_true (harness_log_has (log, "BATCH whose frame is not a run of whole entries", 2000));
    close_socket (client);
    harness_bare_adapter_close (untrack (adapter));
}

/* limits.max_message_size holds for each entry of a BATCH as for the
 * message it would be alone, not for the BATCH: a batch of small
 * requests larger than the limit is served; an entry over it gets its own
 * RESOURCE_EXHAUSTED, by its correlation id, and the others are served. */
static void
test_size_limit_holds_per_entry (void **state)
{
    fixture_t *fixture = *state;
    void *client = bare_client (fixture);
    onenet_batch_t batch = { 0 };
    for (uint64_t n = 1; n <= 60; n++)   /* about 4 KB together */
        add_request (&batch, n, "onenet.ping", 64, 40, false);
    size_t small = batch.size;
    add_request (&batch, 61, "onenet.ping", 64, 3000, false);
    assert_true (small > 2048);
    assert_int_equal (onenet_batch_send (&batch, client, NULL, 0), 0);
    onenet_batch_release (&batch);
    bool answered[62] = { false };
    for (int i = 0; i < 61; i++) {
        onenet_wire_msg_t msg;
        assert_int_equal (onenet_wire_recv (client, &msg, 0), 0);
        int command = onenet_wire_parse_signature (zmq_msg_data (&msg.frame[0]),
                                                   zmq_msg_size (&msg.frame[0]), NULL);
        if (command == ONENET_CMD_ERROR) {
            Onenet__Notice *notice = (Onenet__Notice *) onenet_wire_unpack (
                &onenet__notice__descriptor, &msg.frame[1], NULL);
            assert_non_null (notice);
            assert_int_equal (notice->status, ONENET_RESOURCE_EXHAUSTED);
            assert_int_equal (notice->correlation_id, 61);
            answered[61] = true;
            protobuf_c_message_free_unpacked (&notice->base, NULL);
        }
        else {
            got_t got[1];
            assert_int_equal (command, ONENET_CMD_REPLY);   /* the broker's own: alone */
            keep_entry (&got[0], command, zmq_msg_data (&msg.frame[1]),
                        zmq_msg_size (&msg.frame[1]), "", 0);
            assert_int_equal (got[0].status, ONENET_OK);
            assert_true (got[0].correlation_id >= 1 && got[0].correlation_id <= 60);
            answered[got[0].correlation_id] = true;
        }
        onenet_wire_close (&msg);
    }
    for (int n = 1; n <= 61; n++)
        assert_true (answered[n]);
    close_socket (client);
}

/* Sends a REPLY to request (its broker id) with size bytes of 'r', alone
 * or as the second entry of a BATCH after a small reply to also. */
static void
reply_large (void *adapter, const got_t *request, const got_t *also, size_t size)
{
    onenet_batch_t batch = { 0 };
    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    if (also) {
        header.correlation_id = also->correlation_id;
        assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REPLY, &header.base, "ok", 2), 0);
    }
    char *body = malloc (size);
    memset (body, 'r', size);
    header.correlation_id = request->correlation_id;
    assert_int_equal (onenet_batch_add (&batch, ONENET_CMD_REPLY, &header.base, body, size), 0);
    assert_int_equal (onenet_batch_send (&batch, adapter, NULL, 0), 0);
    onenet_batch_release (&batch);
    free (body);
}

/* The adapter's side of a refused reply: an ERROR RESOURCE_EXHAUSTED that
 * names the request (an ERROR without an id would stop an SDK adapter). */
static void
expect_reply_refused (void *adapter, uint64_t correlation)
{
    onenet_wire_msg_t msg;
    int command;
    do {   /* heartbeats may come first */
        assert_int_equal (onenet_wire_recv (adapter, &msg, 0), 0);
        command = onenet_wire_parse_signature (zmq_msg_data (&msg.frame[0]),
                                               zmq_msg_size (&msg.frame[0]), NULL);
        if (command != ONENET_CMD_ERROR)
            onenet_wire_close (&msg);
    } while (command != ONENET_CMD_ERROR);
    Onenet__Notice *notice = (Onenet__Notice *) onenet_wire_unpack (&onenet__notice__descriptor,
                                                                    &msg.frame[1], NULL);
    assert_non_null (notice);
    assert_int_equal (notice->status, ONENET_RESOURCE_EXHAUSTED);
    assert_int_equal (notice->correlation_id, correlation);
    protobuf_c_message_free_unpacked (&notice->base, NULL);
    onenet_wire_close (&msg);
}

/* A reply over limits.max_message_size, alone or in a BATCH, ends its
 * request RESOURCE_EXHAUSTED for the client at once (not TIMEOUT at the
 * deadline), tells the adapter which reply it was, and gives the credit
 * back; the other entries of the BATCH go on as usual. */
static void
test_reply_over_the_limit_ends_its_request (void **state)
{
    fixture_t *fixture = *state;
    void *adapter = bare_adapter (fixture, "a1", false, 3, 64, NULL);
    void *client = bare_client (fixture);
    send_requests (client, 1, 3, 64, false);
    got_t requests[ENTRIES_MAX], replies[ENTRIES_MAX];
    size_t count;
    receive (adapter, requests, 3, &count);
    assert_int_equal (count, 3);

    reply_large (adapter, &requests[0], NULL, 3000);
    expect_reply_refused (adapter, requests[0].correlation_id);
    receive (client, replies, 1, &count);
    assert_int_equal (replies[0].correlation_id, 1);
    assert_int_equal (replies[0].status, ONENET_RESOURCE_EXHAUSTED);
    assert_string_equal (replies[0].served_by, "batch/a1");

    reply_large (adapter, &requests[2], &requests[1], 3000);
    expect_reply_refused (adapter, requests[2].correlation_id);
    receive (client, replies, 2, &count);
    assert_int_equal (count, 2);
    assert_int_equal (replies[0].correlation_id, 2);
    assert_int_equal (replies[0].status, ONENET_OK);
    assert_int_equal (replies[1].correlation_id, 3);
    assert_int_equal (replies[1].status, ONENET_RESOURCE_EXHAUSTED);

    /* All three credits are back: three more requests reach the adapter. */
    send_requests (client, 4, 6, 64, false);
    receive (adapter, requests, 3, &count);
    assert_int_equal (count, 3);
    close_socket (client);
    harness_bare_adapter_close (untrack (adapter));
}

/* Requests gathered for an adapter that leaves in the same turn are not
 * sent to it: they were failed over (idempotent) to the other instance.
 * The leaving adapter itself sends the batch of requests, then
 * DISCONNECT, while the broker is stopped, so that one turn reads both
 * and some of the requests are gathered for it before it leaves. */
static void
test_dropped_adapter_gets_nothing_gathered (void **state)
{
    fixture_t *fixture = *state;
    void *leaving = bare_adapter (fixture, "a1", true, 64, 64, NULL);
    void *staying = bare_adapter (fixture, "a2", true, 64, 64, NULL);
    assert_int_equal (kill (fixture->broker, SIGSTOP), 0);
    send_requests (leaving, 1, 6, 64, true);
    assert_int_equal (onenet_wire_send (leaving, NULL, ONENET_CMD_DISCONNECT, NULL, NULL, 0), 0);
    usleep (100 * 1000);
    assert_int_equal (kill (fixture->broker, SIGCONT), 0);

    got_t got[ENTRIES_MAX];
    size_t count;
    assert_true (receive (staying, got, 6, &count) >= 1);
    assert_int_equal (count, 6);
    answer (staying, got, count, true);
    /* The leaving peer, still connected, gets its six replies, and not
     * one of the requests. */
    receive (leaving, got, 6, &count);
    assert_int_equal (count, 6);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal (got[i].command, ONENET_CMD_REPLY);
        assert_int_equal (got[i].status, ONENET_OK);
        assert_string_equal (got[i].served_by, "batch/a2");
    }
    int timeout = 300;
    zmq_setsockopt (leaving, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal (receive (leaving, got, 1, &count), 0);
    close_socket (leaving);
    harness_bare_adapter_close (untrack (staying));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_requests_and_replies_go_in_batches, setup, teardown),
        cmocka_unit_test_setup_teardown (test_peers_without_batches_get_messages_alone, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_batches_are_bounded_by_count_and_body_size, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_bad_batches_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown (test_size_limit_holds_per_entry, setup_small_messages,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_reply_over_the_limit_ends_its_request,
                                         setup_small_messages, teardown),
        cmocka_unit_test_setup_teardown (test_dropped_adapter_gets_nothing_gathered, setup,
                                         teardown),
    };
    return cmocka_run_group_tests_name ("integration_batches", tests, NULL, NULL);
}
