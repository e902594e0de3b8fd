/*
 * test_events.c - departments' events reach their subscribers with flow
 * control. A subscriber slower than the publisher gets every event, in
 * order: the broker holds what it has no room for and the adapter is
 * slowed by credit, instead of the fan-out dropping. A subscriber that
 * takes nothing is left behind after events.hold_ms (counted in
 * /metrics), and the others still get everything.
 *
 * Real broker (no Redis: events are not kept) and the test adapter's
 * test.emit, which publishes numbered events as fast as it may. The
 * broker's per-subscriber queue is small (alerts.sndhwm = 100), as are
 * the subscribers' (ZMQ_RCVHWM = 100, a small kernel receive buffer), and
 * events are 2 KB, so the kernel's buffers cannot absorb the run and
 * "behind" comes quickly. The adapter's SDK batches what it publishes in
 * a burst (events.batch_max); the subscribers take the batches apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"

#define EVENTS 20000
#define EVENT_SIZE 2048

static struct {
    pid_t broker;
    int port;
    int http_port;
    onenet_client_t *client;
    void *context;
    void *subs[2];        /* closed by teardown, even after a failed assertion */
    size_t sub_count;
    int batch_max;        /* events.batch_max for the next start; 0: the default */
    /* Per subscriber, the events of the last message not yet returned. */
    struct {
        uint64_t seq[1024];
        uint32_t count, next;
    } unread[2];
    uint32_t largest_batch;   /* most events one message carried */
    uint64_t messages;        /* messages read */
} s;

/* The broker's config text for these settings. */
static void
write_config (char *config, size_t size, int window, int hold_ms, int hold_max)
{
    snprintf (config, size,
              "redis = { endpoint = \"\"; };\n"
              "alerts = { endpoint = \"tcp://127.0.0.1:%d\"; sndhwm = 100; };\n"
              "events = { window = %d; hold_ms = %d; hold_max = %d; batch_max = %d; };\n"
              "http = { endpoint = \"127.0.0.1:%d\"; };\n",
              harness_alerts_port (s.port), window, hold_ms, hold_max,
              s.batch_max ? s.batch_max : 64, s.http_port);
}

static void
start_system (int window, int hold_ms, int hold_max)
{
    s.port = harness_free_port ();
    s.http_port = harness_free_port ();
    char config[512];
    write_config (config, sizeof config, window, hold_ms, hold_max);
    s.broker = harness_start_broker (s.port, config);
    harness_start_adapter (s.port, "e1", (const char *[]) { "--emit", NULL });
    assert_true (harness_wait_instances (s.port, "test.emit", 1, 10000));
    s.client = onenet_client_new (harness_endpoint (s.port), NULL, 0);
    assert_non_null (s.client);
    s.context = zmq_ctx_new ();
}

static int
teardown (void **state)
{
    (void) state;
    onenet_client_destroy (&s.client);
    for (size_t i = 0; i < s.sub_count; i++)
        zmq_close (s.subs[i]);
    s.sub_count = 0;
    memset (s.unread, 0, sizeof s.unread);
    s.batch_max = 0;
    s.largest_batch = 0;
    s.messages = 0;
    if (s.context)
        zmq_ctx_term (s.context);
    s.context = NULL;
    harness_cleanup ();
    return 0;
}

static void *
subscriber (void)
{
    void *sub = zmq_socket (s.context, ZMQ_SUB);
    int linger = 0, hwm = 100, kernel_buffer = 8192;
    zmq_setsockopt (sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sub, ZMQ_RCVBUF, &kernel_buffer, sizeof kernel_buffer);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", harness_alerts_port (s.port));
    assert_int_equal (zmq_connect (sub, endpoint), 0);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "event.test.bench", 16);
    s.subs[s.sub_count++] = sub;
    harness_await_subscriptions (sub, 5000);
    return sub;
}

/* Asks the adapter to publish count events; returns the request id. */
static uint64_t
emit (uint32_t count)
{
    char payload[EVENT_SIZE + 1];
    memset (payload, 'e', EVENT_SIZE);
    payload[EVENT_SIZE] = '\0';
    uint8_t body[EVENT_SIZE + 64];
    size_t size = harness_echo_body (body, sizeof body, payload, count);
    onenet_call_options_t options = { .timeout_ms = 60000 };
    uint64_t id = onenet_client_send (s.client, "test.emit", body, size, &options);
    assert_true (id > 0);
    return id;
}

/* Reads one message: its events' sequence numbers (test.emit's body
 * starts with it) into seq; returns how many (a batch, or 1), 0 when
 * none came within timeout_ms. Checks the frames. */
static uint32_t
next_message (void *sub, int timeout_ms, uint64_t *seq, uint32_t room)
{
    zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return 0;
    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (sub, &msg, 0), 0);
    /* [event.test.bench NUL EventHeader][body, or count bodies] */
    assert_int_equal (msg.count, 2);
    size_t topic_length = 0;
    Onenet__EventHeader *header = (Onenet__EventHeader *) onenet_wire_unpack_event_head (
        &onenet__event_header__descriptor, &msg.frame[0], &topic_length, NULL);
    assert_non_null (header);
    assert_int_equal (topic_length, 16);
    assert_memory_equal (zmq_msg_data (&msg.frame[0]), "event.test.bench", 17);
    assert_string_equal (header->department, "test");
    assert_string_equal (header->topic, "bench");
    assert_true (header->count != 1);   /* a lone event goes without a count */
    assert_true (header->count <= (uint32_t) (s.batch_max ? s.batch_max : 64));
    onenet_event_bodies_t bodies;
    assert_int_equal (onenet_event_bodies_init (&bodies, header->count, zmq_msg_data (&msg.frame[1]),
                                                zmq_msg_size (&msg.frame[1])),
                      0);
    protobuf_c_message_free_unpacked (&header->base, NULL);
    const void *body;
    size_t size;
    uint32_t count = 0;
    while (onenet_event_bodies_next (&bodies, &body, &size)) {
        Onenet__Example__EchoMessage *echo = (Onenet__Example__EchoMessage *) protobuf_c_message_unpack (
            &onenet__example__echo_message__descriptor, NULL, size, body);
        assert_non_null (echo);
        assert_int_equal (echo->payload.len, EVENT_SIZE);
        assert_true (count < room);
        memcpy (&seq[count++], echo->payload.data, sizeof *seq);
        protobuf_c_message_free_unpacked (&echo->base, NULL);
    }
    onenet_wire_close (&msg);
    if (count > s.largest_batch)
        s.largest_batch = count;
    s.messages++;
    return count;
}

/* Reads one event within timeout_ms: its sequence number, or 0 when none
 * came. */
static uint64_t
next_event (void *sub, int timeout_ms)
{
    size_t i = 0;
    while (i < s.sub_count && s.subs[i] != sub)
        i++;
    assert_true (i < s.sub_count);
    if (s.unread[i].next == s.unread[i].count) {
        s.unread[i].next = 0;
        s.unread[i].count = next_message (sub, timeout_ms, s.unread[i].seq, 1024);
        if (!s.unread[i].count)
            return 0;
    }
    return s.unread[i].seq[s.unread[i].next++];
}

/* Waits for test.emit's answer: the first sequence number it used. */
static uint64_t
emitted_from (void)
{
    onenet_reply_t *reply = onenet_client_recv (s.client, 60000);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__Example__EchoMessage *echo = (Onenet__Example__EchoMessage *) onenet_reply_unpack (
        reply, &onenet__example__echo_message__descriptor);
    assert_non_null (echo);
    assert_int_equal (echo->delay_ms, EVENTS);
    uint64_t first;
    memcpy (&first, echo->payload.data, sizeof first);
    protobuf_c_message_free_unpacked (&echo->base, NULL);
    onenet_reply_destroy (&reply);
    return first;
}

/* Reads all EVENTS of one test.emit, slowly (about 25,000 a second):
 * none missing, none twice, in order. Returns the first sequence number;
 * with held_seen, the most events the broker held (every 1000 read). */
static uint64_t
read_every_event_slowly (void *sub, double *held_seen)
{
    uint64_t first = 0, expected = 0, received = 0;
    while (received < EVENTS) {
        uint64_t seq = next_event (sub, 10000);
        assert_true (seq != 0);   /* nothing for 10 s: lost, or the publisher is stuck */
        if (!first)
            first = expected = seq;
        assert_int_equal (seq, expected);   /* no gap, no reorder */
        expected++;
        received++;
        if (received % 50 == 0)
            usleep (2000);
        if (held_seen && received % 1000 == 0) {
            /* The hold fills and empties as the queues do: the most seen. */
            double held = harness_metric (s.http_port, "onenet_events_held");
            if (held > *held_seen)
                *held_seen = held;
        }
    }
    return first;
}

/* The subscriber reads a quarter as fast as the adapter could publish.
 * Without the hold, the broker's queue of 100 would overflow; without
 * credit, its hold of 1000. Every event arrives, in order, none dropped. */
static void
test_slow_subscriber_gets_every_event (void **state)
{
    (void) state;
    start_system (256, 30000, 1000);
    void *sub = subscriber ();
    emit (EVENTS);
    double held_seen = 0;
    uint64_t first = read_every_event_slowly (sub, &held_seen);
    assert_int_equal (emitted_from (), first);
    assert_int_equal (next_event (sub, 300), 0);   /* and nothing more */
    /* Published in bursts, they travelled in batches: at most 16 KiB of
     * 2 KB bodies each. */
    print_message ("%d events in %" PRIu64 " messages, at most %" PRIu32 " in one\n", EVENTS,
                   s.messages, s.largest_batch);
    assert_true (s.largest_batch > 1);
    assert_true (s.largest_batch <= 8);
    /* The broker did hold events for this subscriber, within its bound. */
    assert_true (held_seen > 0);
    assert_true (held_seen <= 1000);
    assert_true (harness_metric (s.http_port, "onenet_events_dropped_total") == 0);
    assert_true (harness_metric (s.http_port, "onenet_events_relayed_total") >= EVENTS);
    /* 20,000 events through a window of 256, confirmed every 32 or, a
     * batch passing the mark, at most a batch later. */
    assert_true (harness_metric (s.http_port, "onenet_events_credits_total")
                 >= EVENTS / (32 + s.largest_batch));
}

/* Reads events until none comes for wait_ms; checks they are in order
 * (never twice, never reordered) and returns how many, and the last in
 * last_seq when it is not NULL. */
static uint64_t
read_in_order (void *sub, int wait_ms, uint64_t *last_seq)
{
    uint64_t seq, last = 0, count = 0;
    while ((seq = next_event (sub, wait_ms)) != 0) {
        assert_true (seq > last);
        last = seq;
        count++;
    }
    if (last_seq)
        *last_seq = last;
    return count;
}

/* A subscriber that never reads must not stop the others: after hold_ms
 * the broker sends without it, says so and counts the event dropped, and
 * ZeroMQ then leaves its full queue out. The publisher finishes, and the
 * live subscriber gets the events in order. (A live subscriber that is
 * itself at its high-water mark at the moment the stuck one is left out
 * can miss events too: docs/PROTOCOL.md, "Event flow control".) */
static void
test_stuck_subscriber_is_left_behind (void **state)
{
    (void) state;
    start_system (256, 100, 1000);
    void *stuck = subscriber ();
    void *live = subscriber ();
    int64_t started = onenet_clock_ms ();
    emit (EVENTS);
    uint64_t live_last;
    uint64_t live_count = read_in_order (live, 2000, &live_last);
    uint64_t first = emitted_from ();
    assert_true (onenet_clock_ms () - started < 20000);
    uint64_t stuck_count = read_in_order (stuck, 100, NULL);
    print_message ("live %" PRIu64 ", stuck %" PRIu64 " of %d events\n", live_count, stuck_count,
                   EVENTS);
    assert_true (live_last <= first + EVENTS - 1);
    assert_true (stuck_count > 0);
    assert_true (stuck_count < live_count);
    assert_true (harness_metric (s.http_port, "onenet_events_hold_timeouts_total") >= 1);
    /* Counted: the events sent knowing someone had no room; once left
     * out, ZeroMQ skips the stuck queue without telling the broker, so
     * this is a floor of what the stuck one missed. */
    double dropped = harness_metric (s.http_port, "onenet_events_dropped_total");
    assert_true (dropped >= 1);
    assert_true (dropped <= EVENTS - stuck_count);
    char log[64];
    snprintf (log, sizeof log, "broker-%d.log", s.port);
    assert_true (harness_log_has (log, "events.subscriber_behind", 2000));
}

/* Rewrites the broker's config file with these settings and has it
 * reloaded (SIGHUP); returns once the broker says so. */
static void
reload_with (int window, int hold_ms, int hold_max)
{
    char config[512], path[512], log[64];
    write_config (config, sizeof config, window, hold_ms, hold_max);
    snprintf (path, sizeof path, "%s/broker-%d.cfg", harness_tempdir (), s.port);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (config, file);
    fclose (file);
    snprintf (log, sizeof log, "broker-%d.log", s.port);
    kill (s.broker, SIGHUP);
    assert_true (harness_log_has (log, "config.reloaded", 5000));
}

/* A reload that turns flow control off (events.window = 0) applies to
 * adapters as they next register: the one registered under a window keeps
 * getting its CREDIT, or it would stop after one window of events. */
static void
test_reload_keeps_credit_flowing (void **state)
{
    (void) state;
    start_system (256, 30000, 1000);
    reload_with (0, 30000, 1000);
    void *sub = subscriber ();
    emit (EVENTS);
    uint64_t first = read_every_event_slowly (sub, NULL);
    assert_int_equal (emitted_from (), first);
    assert_true (harness_metric (s.http_port, "onenet_events_dropped_total") == 0);
}

/* Without flow control (window 0) the hold fills to hold_max; a reload
 * that makes hold_max smaller than what is held must send the oldest
 * first, never a new event ahead of held ones. */
static void
test_smaller_hold_after_reload_keeps_order (void **state)
{
    (void) state;
    start_system (0, 30000, 5000);
    void *sub = subscriber ();
    emit (EVENTS);
    /* Wait until the hold is well past the new limit. */
    int64_t until = onenet_clock_ms () + 10000;
    while (harness_metric (s.http_port, "onenet_events_held") < 1000 && onenet_clock_ms () < until)
        usleep (10000);
    assert_true (harness_metric (s.http_port, "onenet_events_held") >= 1000);
    reload_with (0, 30000, 100);
    uint64_t count = read_in_order (sub, 2000, NULL);
    emitted_from ();
    assert_true (count > 0);
    assert_true (harness_metric (s.http_port, "onenet_events_held") <= 100);
}

/* events.batch_max = 1 turns batches off: every event goes alone, as a
 * subscriber written before batches expects, and all arrive in order. */
static void
test_batch_max_one_sends_events_alone (void **state)
{
    (void) state;
    s.batch_max = 1;
    start_system (256, 30000, 1000);
    void *sub = subscriber ();
    emit (EVENTS);
    uint64_t first = read_every_event_slowly (sub, NULL);
    assert_int_equal (emitted_from (), first);
    assert_int_equal (s.largest_batch, 1);
    assert_int_equal (s.messages, EVENTS);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown (test_slow_subscriber_gets_every_event, teardown),
        cmocka_unit_test_teardown (test_stuck_subscriber_is_left_behind, teardown),
        cmocka_unit_test_teardown (test_reload_keeps_credit_flowing, teardown),
        cmocka_unit_test_teardown (test_smaller_hold_after_reload_keeps_order, teardown),
        cmocka_unit_test_teardown (test_batch_max_one_sends_events_alone, teardown),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
