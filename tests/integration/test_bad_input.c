/*
 * test_bad_input.c - a raw ZeroMQ DEALER (no SDK) sends the broker what a
 * broken or hostile peer might: garbage, wrong versions, bad headers, too
 * many frames, too many bytes, a flood. After each, the broker must have
 * answered as docs/PROTOCOL.md says (or dropped the message), and must
 * still serve a normal SDK client's call to a real adapter.
 *
 * Every receive is bounded (zmq_poll), so a missing answer fails the test
 * instead of hanging it.
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
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"

#define WAIT_MS 2000   /* for an answer that should come */
#define QUIET_MS 500   /* to show that none comes */

typedef struct {
    int port;
    pid_t broker;
    onenet_client_t *client;   /* a well-behaved SDK client */
    void *context;
    void *raw;                 /* the misbehaving peer */
} fixture_t;

static int
start_with_config (void **state, const char *config_text)
{
    static fixture_t fixture;
    memset (&fixture, 0, sizeof fixture);
    fixture.port = harness_free_port ();
    fixture.broker = harness_start_broker (fixture.port, config_text);
    harness_start_adapter (fixture.port, "good", NULL);
    assert_true (harness_wait_instances (fixture.port, "test.echo", 1, 5000));
    fixture.client = onenet_client_new (harness_endpoint (fixture.port), NULL, 0);
    assert_non_null (fixture.client);
    fixture.context = zmq_ctx_new ();
    assert_non_null (fixture.context);
    fixture.raw = zmq_socket (fixture.context, ZMQ_DEALER);
    assert_non_null (fixture.raw);
    int linger = 0, send_timeout = 5000;
    zmq_setsockopt (fixture.raw, ZMQ_LINGER, &linger, sizeof linger);
    /* A broker that stops reading must fail the test, not block it. */
    zmq_setsockopt (fixture.raw, ZMQ_SNDTIMEO, &send_timeout, sizeof send_timeout);
    assert_int_equal (zmq_connect (fixture.raw, harness_endpoint (fixture.port)), 0);
    *state = &fixture;
    return 0;
}

static int
setup (void **state)
{
    return start_with_config (state, NULL);
}

static int
setup_small_messages (void **state)
{
    /* Hard limit (libzmq cuts the connection): 4 x 64 KiB + 64 KiB. */
    return start_with_config (state, "limits: { max_message_size = 65536; };\n");
}

static int
teardown (void **state)
{
    fixture_t *fixture = *state;
    if (fixture->raw)
        zmq_close (fixture->raw);
    if (fixture->context)
        zmq_ctx_term (fixture->context);
    onenet_client_destroy (&fixture->client);
    bool clean = harness_stop_all_clean ();
    harness_cleanup ();
    return clean ? 0 : -1;
}

/* --- the raw peer ----------------------------------------------------- */

typedef struct {
    const void *data;
    size_t size;
} frame_t;

static void
raw_send (fixture_t *fixture, const frame_t *frames, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int more = i + 1 < count ? ZMQ_SNDMORE : 0;
        if (zmq_send (fixture->raw, frames[i].data, frames[i].size, more) < 0)
            fail_msg ("raw send failed: %s", zmq_strerror (zmq_errno ()));
    }
}

static const uint8_t SIG_READY[4] = { 'O', 'N', 1, ONENET_CMD_READY };
static const uint8_t SIG_REQUEST[4] = { 'O', 'N', 1, ONENET_CMD_REQUEST };
static const uint8_t SIG_REPLY[4] = { 'O', 'N', 1, ONENET_CMD_REPLY };
static const uint8_t SIG_HEARTBEAT[4] = { 'O', 'N', 1, ONENET_CMD_HEARTBEAT };

/* What the broker sent back, decoded. command 0: nothing within the wait. */
typedef struct {
    int command;            /* from a version-1 signature; -1 if not one */
    int frames;
    int status;             /* Notice.status or ReplyHeader.status; -1 if unreadable */
    uint64_t correlation;   /* Notice, ReplyHeader or RequestHeader correlation_id */
    char message[256];      /* Notice or ReplyHeader message; RequestHeader service */
} answer_t;

static void
decode_header (answer_t *answer, const zmq_msg_t *frame)
{
    if (answer->command == ONENET_CMD_ERROR || answer->command == ONENET_CMD_DISCONNECT) {
        Onenet__Notice *notice = (Onenet__Notice *) onenet_wire_unpack (
            &onenet__notice__descriptor, frame, NULL);
        if (!notice)
            return;
        answer->status = notice->status;
        answer->correlation = notice->correlation_id;
        snprintf (answer->message, sizeof answer->message, "%s", notice->message);
        protobuf_c_message_free_unpacked (&notice->base, NULL);
    }
    else if (answer->command == ONENET_CMD_REQUEST) {
        Onenet__RequestHeader *header = (Onenet__RequestHeader *) onenet_wire_unpack (
            &onenet__request_header__descriptor, frame, NULL);
        if (!header)
            return;
        answer->status = ONENET_OK;
        answer->correlation = header->correlation_id;
        snprintf (answer->message, sizeof answer->message, "%s", header->service);
        protobuf_c_message_free_unpacked (&header->base, NULL);
    }
    else if (answer->command == ONENET_CMD_REPLY) {
        Onenet__ReplyHeader *header = (Onenet__ReplyHeader *) onenet_wire_unpack (
            &onenet__reply_header__descriptor, frame, NULL);
        if (!header)
            return;
        answer->status = header->status;
        answer->correlation = header->correlation_id;
        snprintf (answer->message, sizeof answer->message, "%s", header->message);
        protobuf_c_message_free_unpacked (&header->base, NULL);
    }
}

/* Waits up to timeout_ms for one message on the raw socket. */
static answer_t
raw_answer (fixture_t *fixture, int timeout_ms)
{
    answer_t answer = { 0, 0, -1, 0, "" };
    zmq_pollitem_t item = { fixture->raw, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return answer;
    onenet_wire_msg_t msg;
    if (onenet_wire_recv (fixture->raw, &msg, ZMQ_DONTWAIT) < 0)
        return answer;
    answer.frames = msg.count + msg.dropped;
    int version = 0;
    answer.command = onenet_wire_parse_signature (zmq_msg_data (&msg.frame[0]),
                                                  zmq_msg_size (&msg.frame[0]), &version);
    if (answer.command > 0 && version != ONENET_PROTOCOL_VERSION)
        answer.command = -1;
    if (answer.command > 0 && msg.count >= 2)
        decode_header (&answer, &msg.frame[1]);
    onenet_wire_close (&msg);
    return answer;
}

/* Expects an ERROR (or DISCONNECT) carrying a Notice with this status. */
static answer_t
expect_notice (fixture_t *fixture, int command, onenet_status_t status)
{
    answer_t answer = raw_answer (fixture, WAIT_MS);
    if (answer.command == 0)
        fail_msg ("no answer from the broker within %d ms", WAIT_MS);
    print_message ("broker: %s %s \"%s\"\n", onenet_command_name (answer.command),
                   onenet_status_name (answer.status), answer.message);
    assert_int_equal (answer.command, command);
    assert_int_equal (answer.frames, 2);
    assert_int_equal (answer.status, status);
    return answer;
}

/* Expects a REPLY with this status to the request `correlation`. */
static answer_t
expect_reply (fixture_t *fixture, uint64_t correlation, onenet_status_t status)
{
    answer_t answer = raw_answer (fixture, WAIT_MS);
    if (answer.command == 0)
        fail_msg ("no answer from the broker within %d ms", WAIT_MS);
    print_message ("broker: %s %s \"%s\"\n", onenet_command_name (answer.command),
                   onenet_status_name (answer.status), answer.message);
    assert_int_equal (answer.command, ONENET_CMD_REPLY);
    assert_int_equal (answer.status, status);
    assert_int_equal (answer.correlation, correlation);
    return answer;
}

/* Packs a RequestHeader into buf; returns its size. */
static size_t
pack_request (uint8_t *buf, size_t size, uint64_t correlation, const char *service,
              uint32_t schema_version, uint32_t timeout_ms)
{
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.correlation_id = correlation;
    header.service = (char *) service;
    header.schema_version = schema_version;
    header.timeout_ms = timeout_ms;
    assert_true (protobuf_c_message_get_packed_size (&header.base) <= size);
    return protobuf_c_message_pack (&header.base, buf);
}

/* Packs a Ready offering `services` (0 or 1 service) into buf. */
static size_t
pack_ready (uint8_t *buf, size_t size, uint32_t schema_version, const char *department,
            size_t services)
{
    Onenet__ServiceOffer offer = ONENET__SERVICE_OFFER__INIT;
    offer.name = "raw.service";
    Onenet__ServiceOffer *offers[] = { &offer };
    Onenet__Ready ready = ONENET__READY__INIT;
    ready.schema_version = schema_version;
    ready.department = (char *) department;
    ready.instance = "raw1";
    ready.services = offers;
    ready.n_services = services;
    ready.credit = 1;
    ready.heartbeat_ms = 1000;
    assert_true (protobuf_c_message_get_packed_size (&ready.base) <= size);
    return protobuf_c_message_pack (&ready.base, buf);
}

/* The broker still serves: a normal SDK call to the real adapter works. */
static void
assert_broker_serves (fixture_t *fixture)
{
    uint8_t body[64];
    size_t size = harness_echo_body (body, sizeof body, "still serving", 0);
    onenet_call_options_t options = { .timeout_ms = 2000 };
    onenet_reply_t *reply = onenet_client_call (fixture->client, "test.echo", body, size, &options);
    assert_non_null (reply);
    onenet_status_t status = onenet_reply_status (reply);
    char served_by[64];
    snprintf (served_by, sizeof served_by, "%s", onenet_reply_served_by (reply));
    size_t got_size = 0;
    const void *got = onenet_reply_body (reply, &got_size);
    bool same = got_size == size && memcmp (got, body, size) == 0;
    onenet_reply_destroy (&reply);
    assert_int_equal (status, ONENET_OK);
    assert_string_equal (served_by, "test/good");
    assert_true (same);
    assert_int_equal (kill (fixture->broker, 0), 0);
}

/* Deterministic noise (xorshift32), so a failure can be replayed. */
static uint32_t
noise (uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* --- a well-formed raw peer first: the helpers themselves work ------ */

static void
test_raw_ping_is_answered (void **state)
{
    fixture_t *fixture = *state;
    uint8_t header[64];
    size_t size = pack_request (header, sizeof header, 11, "onenet.ping", 0, 1000);
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { header, size } }, 2);
    expect_reply (fixture, 11, ONENET_OK);
    assert_broker_serves (fixture);
}

/* --- envelope --------------------------------------------------------- */

static void
test_garbage_bytes (void **state)
{
    fixture_t *fixture = *state;
    uint8_t garbage[61];
    uint32_t seed = 0x5eed1;
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t) noise (&seed);
    raw_send (fixture, (frame_t[]) { { garbage, sizeof garbage } }, 1);
    answer_t answer = expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_int_equal (answer.correlation, 0);
    assert_broker_serves (fixture);
}

static void
test_empty_frame (void **state)
{
    fixture_t *fixture = *state;
    raw_send (fixture, (frame_t[]) { { "", 0 } }, 1);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_request_signature_without_header (void **state)
{
    fixture_t *fixture = *state;
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 } }, 1);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_header_not_protobuf (void **state)
{
    fixture_t *fixture = *state;
    /* Field 2 (service), length 127, and no bytes after it. */
    static const uint8_t truncated[] = { 0x12, 0x7f, 'x' };
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { truncated, sizeof truncated } }, 2);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_wrong_magic (void **state)
{
    fixture_t *fixture = *state;
    static const uint8_t signature[4] = { 'X', 'Y', 1, 2 };
    uint8_t header[64];
    size_t size = pack_request (header, sizeof header, 5, "test.echo", 0, 1000);
    raw_send (fixture, (frame_t[]) { { signature, 4 }, { header, size } }, 2);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_protocol_version_2 (void **state)
{
    fixture_t *fixture = *state;
    static const uint8_t signature[4] = { 'O', 'N', 2, 2 };
    uint8_t header[64];
    size_t size = pack_request (header, sizeof header, 5, "test.echo", 0, 1000);
    raw_send (fixture, (frame_t[]) { { signature, 4 }, { header, size } }, 2);
    answer_t answer = expect_notice (fixture, ONENET_CMD_ERROR, ONENET_UNSUPPORTED_VERSION);
    /* Answered in version-1 framing (checked by raw_answer), saying why. */
    assert_string_equal (answer.message,
                         "protocol version 2 not supported: this broker speaks version 1");
    assert_broker_serves (fixture);
}

static void
test_unknown_command (void **state)
{
    fixture_t *fixture = *state;
    static const uint8_t signature[4] = { 'O', 'N', 1, 99 };
    raw_send (fixture, (frame_t[]) { { signature, 4 } }, 1);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_command_zero (void **state)
{
    fixture_t *fixture = *state;
    static const uint8_t signature[4] = { 'O', 'N', 1, 0 };
    raw_send (fixture, (frame_t[]) { { signature, 4 } }, 1);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_broker_only_command_from_peer (void **state)
{
    fixture_t *fixture = *state;
    /* WELCOME and CREDIT go broker -> adapter only. */
    static const uint8_t welcome[4] = { 'O', 'N', 1, ONENET_CMD_WELCOME };
    static const uint8_t credit[4] = { 'O', 'N', 1, ONENET_CMD_CREDIT };
    raw_send (fixture, (frame_t[]) { { welcome, 4 } }, 1);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    raw_send (fixture, (frame_t[]) { { credit, 4 } }, 1);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_too_many_frames (void **state)
{
    fixture_t *fixture = *state;
    uint8_t header[64];
    size_t size = pack_request (header, sizeof header, 77, "test.echo", 0, 1000);
    frame_t frames[10] = { { SIG_REQUEST, 4 }, { header, size } };
    for (size_t i = 2; i < 10; i++)
        frames[i] = (frame_t) { "extra", 5 };
    raw_send (fixture, frames, 10);
    answer_t answer = expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    /* The header was readable, so the notice names the request. */
    assert_int_equal (answer.correlation, 77);
    assert_broker_serves (fixture);
}

/* --- size ------------------------------------------------------------- */

static void
test_message_over_size_limit (void **state)
{
    fixture_t *fixture = *state;
    uint8_t header[64];
    size_t size = pack_request (header, sizeof header, 4242, "test.echo", 0, 1000);
    size_t body_size = 100 * 1024;
    uint8_t *body = calloc (1, body_size);
    assert_non_null (body);
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { header, size }, { body, body_size } },
              3);
    free (body);
    answer_t answer = expect_notice (fixture, ONENET_CMD_ERROR, ONENET_RESOURCE_EXHAUSTED);
    assert_int_equal (answer.correlation, 4242);
    assert_broker_serves (fixture);
}

/* Waits for a ZMQ_EVENT_DISCONNECTED on a monitor PAIR socket. */
static bool
wait_disconnected (void *monitor, int timeout_ms)
{
    int64_t until = onenet_clock_ms () + timeout_ms;
    zmq_pollitem_t item = { monitor, 0, ZMQ_POLLIN, 0 };
    while (onenet_clock_ms () < until) {
        if (zmq_poll (&item, 1, (int) (until - onenet_clock_ms ())) <= 0)
            continue;
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        uint16_t event = 0;
        if (zmq_msg_recv (&frame, monitor, 0) >= 2)
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
        while (zmq_msg_more (&frame))   /* the endpoint frame */
            zmq_msg_recv (&frame, monitor, 0);
        zmq_msg_close (&frame);
        if (event == ZMQ_EVENT_DISCONNECTED)
            return true;
    }
    return false;
}

static void
test_message_over_hard_limit_drops_connection (void **state)
{
    fixture_t *fixture = *state;
    /* Connected first, so the disconnect seen below is the broker's doing. */
    uint8_t header[64];
    size_t size = pack_request (header, sizeof header, 1, "onenet.ping", 0, 1000);
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { header, size } }, 2);
    expect_reply (fixture, 1, ONENET_OK);

    assert_int_equal (zmq_socket_monitor (fixture->raw, "inproc://raw-monitor",
                                          ZMQ_EVENT_DISCONNECTED),
                      0);
    void *monitor = zmq_socket (fixture->context, ZMQ_PAIR);
    assert_non_null (monitor);
    assert_int_equal (zmq_connect (monitor, "inproc://raw-monitor"), 0);

    size = pack_request (header, sizeof header, 2, "test.echo", 0, 1000);
    size_t body_size = 1024 * 1024;   /* > 4 x 64 KiB + 64 KiB */
    uint8_t *body = calloc (1, body_size);
    assert_non_null (body);
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { header, size }, { body, body_size } },
              3);
    free (body);
    bool dropped = wait_disconnected (monitor, WAIT_MS);
    zmq_socket_monitor (fixture->raw, NULL, 0);
    zmq_close (monitor);
    assert_true (dropped);
    /* Cut off, not answered: the broker never buffered the whole frame. */
    assert_int_equal (raw_answer (fixture, QUIET_MS).command, 0);
    /* Others are served, and the same peer once it has reconnected. */
    assert_broker_serves (fixture);
    size = pack_request (header, sizeof header, 3, "onenet.ping", 0, 1000);
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { header, size } }, 2);
    expect_reply (fixture, 3, ONENET_OK);
}

/* --- READY ------------------------------------------------------------ */

static void
test_ready_schema_version_2 (void **state)
{
    fixture_t *fixture = *state;
    uint8_t ready[128];
    size_t size = pack_ready (ready, sizeof ready, 2, "raw", 1);
    raw_send (fixture, (frame_t[]) { { SIG_READY, 4 }, { ready, size } }, 2);
    answer_t answer = expect_notice (fixture, ONENET_CMD_ERROR, ONENET_UNSUPPORTED_VERSION);
    assert_int_equal (answer.correlation, 0);
    /* Refused, so not registered: nothing it offered is listed. */
    assert_false (harness_wait_instances (fixture->port, "raw.service", 1, 200));
    assert_broker_serves (fixture);
}

static void
test_ready_without_services (void **state)
{
    fixture_t *fixture = *state;
    uint8_t ready[128];
    size_t size = pack_ready (ready, sizeof ready, 1, "raw", 0);
    raw_send (fixture, (frame_t[]) { { SIG_READY, 4 }, { ready, size } }, 2);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_ready_with_invalid_department (void **state)
{
    fixture_t *fixture = *state;
    uint8_t ready[128];
    size_t size = pack_ready (ready, sizeof ready, 1, "Public Security", 1);
    raw_send (fixture, (frame_t[]) { { SIG_READY, 4 }, { ready, size } }, 2);
    expect_notice (fixture, ONENET_CMD_ERROR, ONENET_BAD_REQUEST);
    assert_false (harness_wait_instances (fixture->port, "raw.service", 1, 200));
    assert_broker_serves (fixture);
}

/* --- REQUEST headers ---------------------------------------------------- */

static void
test_request_schema_version_2 (void **state)
{
    fixture_t *fixture = *state;
    uint8_t header[64];
    size_t size = pack_request (header, sizeof header, 31, "test.echo", 2, 1000);
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { header, size } }, 2);
    expect_reply (fixture, 31, ONENET_UNSUPPORTED_VERSION);
    assert_broker_serves (fixture);
}

static void
test_request_without_service_name (void **state)
{
    fixture_t *fixture = *state;
    uint8_t header[64];
    size_t size = pack_request (header, sizeof header, 32, "", 0, 1000);
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { header, size } }, 2);
    expect_reply (fixture, 32, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_request_service_name_too_long (void **state)
{
    fixture_t *fixture = *state;
    char name[257];
    memset (name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    uint8_t header[512];
    size_t size = pack_request (header, sizeof header, 33, name, 0, 1000);
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { header, size } }, 2);
    expect_reply (fixture, 33, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

static void
test_request_timeout_over_maximum (void **state)
{
    fixture_t *fixture = *state;
    uint8_t header[64];
    size_t size = pack_request (header, sizeof header, 34, "test.echo", 0, 60001);
    raw_send (fixture, (frame_t[]) { { SIG_REQUEST, 4 }, { header, size } }, 2);
    expect_reply (fixture, 34, ONENET_BAD_REQUEST);
    assert_broker_serves (fixture);
}

/* A valid header is valid whatever its size within limits.max_message_size
 * (docs/PROTOCOL.md sets no other bound): a long purpose is still a
 * RequestHeader, and other calls of the same client are not its business. */
static void
test_long_purpose_is_a_valid_header (void **state)
{
    fixture_t *fixture = *state;
    uint8_t body[64];
    size_t size = harness_echo_body (body, sizeof body, "bystander", 500);
    onenet_call_options_t options = { .timeout_ms = 3000 };
    uint64_t bystander = onenet_client_send (fixture->client, "test.echo", body, size, &options);
    assert_true (bystander > 0);

    enum { PURPOSE = 20000 };
    char *purpose = malloc (PURPOSE + 1);
    assert_non_null (purpose);
    memset (purpose, 'p', PURPOSE);
    purpose[PURPOSE] = '\0';
    options.purpose = purpose;
    size = harness_echo_body (body, sizeof body, "long purpose", 0);
    uint64_t id = onenet_client_send (fixture->client, "test.echo", body, size, &options);
    free (purpose);
    assert_true (id > 0);
    for (int n = 0; n < 2; n++) {
        onenet_reply_t *reply = onenet_client_recv (fixture->client, 4000);
        assert_non_null (reply);
        onenet_status_t status = onenet_reply_status (reply);
        uint64_t correlation = onenet_reply_correlation_id (reply);
        char message[256];
        snprintf (message, sizeof message, "%s", onenet_reply_message (reply));
        onenet_reply_destroy (&reply);
        print_message ("call %llu: %s \"%s\"\n", (unsigned long long) correlation,
                       onenet_status_name (status), message);
        assert_int_equal (status, ONENET_OK);
    }
    assert_broker_serves (fixture);
}

/* --- adapter commands from a stranger ------------------------------------ */

/* Requests the broker has in flight at the instance "good", from
 * onenet.services; -1 if it is not listed. */
static int
in_flight_at_good (fixture_t *fixture)
{
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    request.prefix = "test.echo";
    onenet_call_options_t options = { .timeout_ms = 1000 };
    onenet_reply_t *reply = onenet_client_call_message (fixture->client, "onenet.services",
                                                        &request.base, &options);
    Onenet__ServicesReply *services
        = reply && onenet_reply_status (reply) == ONENET_OK
              ? (Onenet__ServicesReply *) onenet_reply_unpack (reply,
                                                               &onenet__services_reply__descriptor)
              : NULL;
    int in_flight = -1;
    for (size_t i = 0; services && i < services->n_services; i++)
        for (size_t k = 0; k < services->services[i]->n_instances; k++)
            if (strcmp (services->services[i]->instances[k]->instance, "good") == 0
                && strcmp (services->services[i]->name, "test.echo") == 0)
                in_flight = (int) services->services[i]->instances[k]->in_flight;
    if (services)
        protobuf_c_message_free_unpacked (&services->base, NULL);
    onenet_reply_destroy (&reply);
    return in_flight;
}

static void
test_heartbeat_from_unknown_peer (void **state)
{
    fixture_t *fixture = *state;
    raw_send (fixture, (frame_t[]) { { SIG_HEARTBEAT, 4 } }, 1);
    expect_notice (fixture, ONENET_CMD_DISCONNECT, ONENET_UNAVAILABLE);
    assert_broker_serves (fixture);
}

static void
test_reply_from_unknown_peer (void **state)
{
    fixture_t *fixture = *state;
    /* A stranger's REPLY, while a real request is in flight at the real
     * adapter: refused, and the real answer still comes through. (Request
     * ids carry a random per-run epoch, so the stranger can only guess
     * one; test_reply_for_another_adapter_is_dropped uses a real one.) */
    uint8_t body[64];
    size_t body_size = harness_echo_body (body, sizeof body, "slow", 1000);
    onenet_call_options_t options = { .timeout_ms = 3000 };
    uint64_t id = onenet_client_send (fixture->client, "test.echo", body, body_size, &options);
    assert_true (id > 0);
    int64_t until = onenet_clock_ms () + WAIT_MS;
    while (in_flight_at_good (fixture) != 1 && onenet_clock_ms () < until)
        usleep (10000);
    assert_int_equal (in_flight_at_good (fixture), 1);
    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    header.correlation_id = 1ULL << 32;
    uint8_t packed[64];
    size_t size = protobuf_c_message_pack (&header.base, packed);
    raw_send (fixture, (frame_t[]) { { SIG_REPLY, 4 }, { packed, size }, { "forged", 6 } }, 3);
    expect_notice (fixture, ONENET_CMD_DISCONNECT, ONENET_UNAVAILABLE);
    onenet_reply_t *reply = onenet_client_recv (fixture->client, 3000);
    assert_non_null (reply);
    onenet_status_t status = onenet_reply_status (reply);
    char served_by[64];
    snprintf (served_by, sizeof served_by, "%s", onenet_reply_served_by (reply));
    size_t got_size = 0;
    const void *got = onenet_reply_body (reply, &got_size);
    bool genuine = got_size == body_size && memcmp (got, body, body_size) == 0;
    onenet_reply_destroy (&reply);
    assert_int_equal (status, ONENET_OK);
    assert_string_equal (served_by, "test/good");
    assert_true (genuine);
    assert_broker_serves (fixture);
}

/* Reads raw answers until one that is not a HEARTBEAT (the broker sends
 * those to a registered raw peer), or none within timeout_ms. */
static answer_t
raw_answer_skipping_heartbeats (fixture_t *fixture, int timeout_ms)
{
    answer_t answer;
    do
        answer = raw_answer (fixture, timeout_ms);
    while (answer.command == ONENET_CMD_HEARTBEAT);
    return answer;
}

/* One department cannot answer for another: a registered adapter that
 * sends a REPLY with the id of a request in flight at another adapter is
 * not taken as that request's answer. */
static void
test_reply_for_another_adapter_is_dropped (void **state)
{
    fixture_t *fixture = *state;
    /* The raw peer registers as an adapter of its own service. */
    Onenet__ServiceOffer offer = ONENET__SERVICE_OFFER__INIT;
    offer.name = "raw.service";
    Onenet__ServiceOffer *offers[] = { &offer };
    Onenet__Ready ready = ONENET__READY__INIT;
    ready.schema_version = ONENET_SCHEMA_VERSION;
    ready.department = "raw";
    ready.instance = "raw1";
    ready.services = offers;
    ready.n_services = 1;
    ready.credit = 1;
    ready.heartbeat_ms = 10000;   /* not dropped as silent during the test */
    uint8_t packed[128];
    size_t size = protobuf_c_message_pack (&ready.base, packed);
    raw_send (fixture, (frame_t[]) { { SIG_READY, 4 }, { packed, size } }, 2);
    assert_int_equal (raw_answer_skipping_heartbeats (fixture, WAIT_MS).command,
                      ONENET_CMD_WELCOME);

    /* The first request routed: in flight at "good" for 1 s. */
    uint8_t body[64];
    size_t body_size = harness_echo_body (body, sizeof body, "genuine", 1000);
    onenet_call_options_t options = { .timeout_ms = 3000 };
    uint64_t genuine = onenet_client_send (fixture->client, "test.echo", body, body_size, &options);
    assert_true (genuine > 0);
    int64_t until = onenet_clock_ms () + WAIT_MS;
    while (in_flight_at_good (fixture) != 1 && onenet_clock_ms () < until)
        usleep (10000);
    assert_int_equal (in_flight_at_good (fixture), 1);
    /* The second, to the raw adapter: its id shows the ids' layout. */
    uint64_t own = onenet_client_send (fixture->client, "raw.service", "x", 1, &options);
    assert_true (own > 0);
    answer_t request = raw_answer_skipping_heartbeats (fixture, WAIT_MS);
    assert_int_equal (request.command, ONENET_CMD_REQUEST);
    assert_string_equal (request.message, "raw.service");

    /* Forge the answer to the request before it (slot - 1, same epoch and
     * generation: the request at "good"), then answer its own. */
    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    header.correlation_id = request.correlation - 1;
    size = protobuf_c_message_pack (&header.base, packed);
    raw_send (fixture, (frame_t[]) { { SIG_REPLY, 4 }, { packed, size }, { "forged", 6 } }, 3);
    header.correlation_id = request.correlation;
    size = protobuf_c_message_pack (&header.base, packed);
    raw_send (fixture, (frame_t[]) { { SIG_REPLY, 4 }, { packed, size }, { "own", 3 } }, 3);

    bool got_genuine = false, got_own = false;
    for (int n = 0; n < 2; n++) {
        onenet_reply_t *reply = onenet_client_recv (fixture->client, 3000);
        assert_non_null (reply);
        uint64_t id = onenet_reply_correlation_id (reply);
        onenet_status_t status = onenet_reply_status (reply);
        char served_by[64];
        snprintf (served_by, sizeof served_by, "%s", onenet_reply_served_by (reply));
        size_t got_size = 0;
        const void *got = onenet_reply_body (reply, &got_size);
        bool is_genuine = got_size == body_size && memcmp (got, body, body_size) == 0;
        bool is_own = got_size == 3 && memcmp (got, "own", 3) == 0;
        onenet_reply_destroy (&reply);
        assert_int_equal (status, ONENET_OK);
        if (id == genuine) {
            assert_string_equal (served_by, "test/good");
            assert_true (is_genuine);   /* not "forged" */
            got_genuine = true;
        }
        else {
            assert_int_equal (id, own);
            assert_string_equal (served_by, "raw/raw1");
            assert_true (is_own);
            got_own = true;
        }
    }
    assert_true (got_genuine && got_own);
    assert_broker_serves (fixture);
}

/* --- volume ------------------------------------------------------------ */

static int
count_log_lines (int port, const char *word)
{
    char path[512], line[2048];
    snprintf (path, sizeof path, "%s/broker-%d.log", harness_tempdir (), port);
    FILE *file = fopen (path, "r");
    int count = 0;
    while (file && fgets (line, sizeof line, file))
        count += strstr (line, word) != NULL;
    if (file)
        fclose (file);
    return count;
}

static void
test_flood_of_garbage (void **state)
{
    fixture_t *fixture = *state;
    enum { MESSAGES = 10000 };
    uint32_t seed = 0xf100d;
    uint8_t data[3][300];
    int64_t started = onenet_clock_ms ();
    for (int m = 0; m < MESSAGES; m++) {
        frame_t frames[3];
        size_t count = 1 + noise (&seed) % 3;
        for (size_t f = 0; f < count; f++) {
            size_t size = noise (&seed) % sizeof data[f];
            if (f == 0 && size == ONENET_SIGNATURE_SIZE)
                size++;   /* never a signature by chance */
            for (size_t i = 0; i < size; i++)
                data[f][i] = (uint8_t) noise (&seed);
            frames[f] = (frame_t) { data[f], size };
        }
        raw_send (fixture, frames, count);
    }
    /* Every answer is the same refusal; some may have been dropped at the
     * high-water mark, but the broker has not gone quiet. */
    int errors = 0, others = 0;
    answer_t answer;
    while ((answer = raw_answer (fixture, QUIET_MS)).command != 0) {
        if (answer.command == ONENET_CMD_ERROR && answer.status == ONENET_BAD_REQUEST)
            errors++;
        else
            others++;
    }
    print_message ("flood: %d ERROR BAD_REQUEST answers, %d others\n", errors, others);
    assert_true (errors > 0);
    assert_int_equal (others, 0);
    assert_broker_serves (fixture);
    /* The warnings are rate-limited (one a second), not one per message. */
    int seconds = (int) ((onenet_clock_ms () - started) / 1000);
    assert_true (count_log_lines (fixture->port, "event=peer.bad_message") <= seconds + 2);
}

int
main (void)
{
#define TEST(name) cmocka_unit_test_setup_teardown (name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST (test_raw_ping_is_answered),
        TEST (test_garbage_bytes),
        TEST (test_empty_frame),
        TEST (test_request_signature_without_header),
        TEST (test_header_not_protobuf),
        TEST (test_wrong_magic),
        TEST (test_protocol_version_2),
        TEST (test_unknown_command),
        TEST (test_command_zero),
        TEST (test_broker_only_command_from_peer),
        TEST (test_too_many_frames),
        cmocka_unit_test_setup_teardown (test_message_over_size_limit, setup_small_messages,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_message_over_hard_limit_drops_connection,
                                         setup_small_messages, teardown),
        TEST (test_ready_schema_version_2),
        TEST (test_ready_without_services),
        TEST (test_ready_with_invalid_department),
        TEST (test_request_schema_version_2),
        TEST (test_request_without_service_name),
        TEST (test_request_service_name_too_long),
        TEST (test_request_timeout_over_maximum),
        TEST (test_long_purpose_is_a_valid_header),
        TEST (test_heartbeat_from_unknown_peer),
        TEST (test_reply_from_unknown_peer),
        TEST (test_reply_for_another_adapter_is_dropped),
        TEST (test_flood_of_garbage),
    };
#undef TEST
    return cmocka_run_group_tests_name ("integration_bad_input", tests, NULL, NULL);
}
