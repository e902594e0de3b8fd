/*
 * test_failover.c - processes that die while requests are in flight: an
 * adapter instance killed mid-load (SIGKILL: found by missed heartbeats;
 * SIGTERM: says DISCONNECT), the only instance killed and restarted, and
 * the broker killed and restarted on the same port under the feet of a
 * client object and an adapter process that must find it again by
 * themselves.
 *
 * Every wait here is bounded: a call that never ends fails the test
 * instead of hanging it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"

#define LOAD_CALLS 100
#define LOAD_DELAY_MS 300
#define LOAD_TIMEOUT_MS 5000
#define CREDIT 32

typedef struct {
    int port;
    pid_t broker;
    onenet_client_t *client;     /* the client under test */
    onenet_client_t *observer;   /* asks onenet.services what the broker sees */
} fixture_t;

static int
setup (void **state)
{
    static fixture_t fixture;
    memset (&fixture, 0, sizeof fixture);
    fixture.port = harness_free_port ();
    fixture.broker = harness_start_broker (fixture.port, "broker: { registration_grace_ms = 0; };\n");
    fixture.client = onenet_client_new (harness_endpoint (fixture.port), NULL, 0);
    fixture.observer = onenet_client_new (harness_endpoint (fixture.port), NULL, 0);
    assert_non_null (fixture.client);
    assert_non_null (fixture.observer);
    *state = &fixture;
    return 0;
}

static int
teardown (void **state)
{
    fixture_t *fixture = *state;
    onenet_client_destroy (&fixture->client);
    onenet_client_destroy (&fixture->observer);
    bool clean = harness_stop_all_clean ();
    harness_cleanup ();
    return clean ? 0 : -1;
}

/* --- what the broker sees ------------------------------------------ */

/* One service as onenet.services lists it. */
typedef struct {
    bool listed;
    size_t instances;
    unsigned waiting;
    int in_flight;   /* of the instance asked about; -1 if it is not listed */
} service_view_t;

static service_view_t
view_service (fixture_t *fixture, const char *service, const char *instance)
{
    service_view_t view = { false, 0, 0, -1 };
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    request.prefix = (char *) service;
    onenet_call_options_t options = { .timeout_ms = 500 };
    onenet_reply_t *reply = onenet_client_call_message (fixture->observer, "onenet.services",
                                                        &request.base, &options);
    Onenet__ServicesReply *services
        = reply && onenet_reply_status (reply) == ONENET_OK
              ? (Onenet__ServicesReply *) onenet_reply_unpack (reply,
                                                               &onenet__services_reply__descriptor)
              : NULL;
    for (size_t i = 0; services && i < services->n_services; i++) {
        const Onenet__ServiceInfo *info = services->services[i];
        if (strcmp (info->name, service) != 0)
            continue;
        view.listed = true;
        view.instances = info->n_instances;
        view.waiting = info->waiting;
        for (size_t k = 0; instance && k < info->n_instances; k++)
            if (strcmp (info->instances[k]->instance, instance) == 0)
                view.in_flight = (int) info->instances[k]->in_flight;
    }
    if (services)
        protobuf_c_message_free_unpacked (&services->base, NULL);
    onenet_reply_destroy (&reply);
    return view;
}

/* Waits until `instance` holds in_flight requests of `service` and
 * `waiting` more are queued: every call sent has reached the broker. */
static bool
wait_dispatched (fixture_t *fixture, const char *service, const char *instance, int in_flight,
                 unsigned waiting, int timeout_ms)
{
    int64_t until = onenet_clock_ms () + timeout_ms;
    while (onenet_clock_ms () < until) {
        service_view_t view = view_service (fixture, service, instance);
        if (view.in_flight == in_flight && view.waiting == waiting)
            return true;
        usleep (10000);
    }
    return false;
}

/* Waits until the broker lists exactly `instances` instances of service. */
static bool
wait_instance_count (fixture_t *fixture, const char *service, size_t instances, int timeout_ms)
{
    int64_t until = onenet_clock_ms () + timeout_ms;
    while (onenet_clock_ms () < until) {
        if (view_service (fixture, service, NULL).instances == instances)
            return true;
        usleep (10000);
    }
    return false;
}

/* --- calls ----------------------------------------------------------- */

static uint64_t
send_echo (onenet_client_t *client, const char *service, const char *payload, uint32_t delay_ms,
           uint32_t timeout_ms)
{
    uint8_t body[256];
    size_t size = harness_echo_body (body, sizeof body, payload, delay_ms);
    onenet_call_options_t options = { .timeout_ms = timeout_ms };
    uint64_t id = onenet_client_send (client, service, body, size, &options);
    assert_true (id > 0);
    return id;
}

/* Copies the echoed payload into out ("(not an EchoMessage)" if the
 * body is not one); returns out. */
static const char *
payload_of (const onenet_reply_t *reply, char *out, size_t size)
{
    Onenet__Example__EchoMessage *echo = (Onenet__Example__EchoMessage *) onenet_reply_unpack (
        reply, &onenet__example__echo_message__descriptor);
    if (echo) {
        snprintf (out, size, "%.*s", (int) echo->payload.len, (const char *) echo->payload.data);
        protobuf_c_message_free_unpacked (&echo->base, NULL);
    }
    else
        snprintf (out, size, "(not an EchoMessage)");
    return out;
}

/* Asserts the reply carries back exactly `payload`. */
static void
assert_payload (const onenet_reply_t *reply, const char *payload)
{
    char got[256];
    assert_string_equal (payload_of (reply, got, sizeof got), payload);
}

/* What a load of calls came back as. */
typedef struct {
    int ok;
    int unavailable;
    int other;
    int ok_by_survivor;
} load_result_t;

/* Sends LOAD_CALLS echoes to service across two instances ("k1" is the
 * victim, "k2" the survivor), kills k1 with sig once both hold CREDIT
 * calls each, then collects every reply before the calls' deadline.
 * *victim_held gets the calls k1 held when it died. */
static load_result_t
load_and_kill (fixture_t *fixture, const char *service, int sig, pid_t victim, int *victim_held)
{
    uint64_t ids[LOAD_CALLS];
    char payload[32];
    int64_t started = onenet_clock_ms ();
    for (int i = 0; i < LOAD_CALLS; i++) {
        snprintf (payload, sizeof payload, "call-%d", i);
        ids[i] = send_echo (fixture->client, service, payload, LOAD_DELAY_MS, LOAD_TIMEOUT_MS);
    }
    /* Credit decides the split: CREDIT each in flight, the rest queued. */
    assert_true (wait_dispatched (fixture, service, "k1", CREDIT, LOAD_CALLS - 2 * CREDIT, 2000));
    *victim_held = view_service (fixture, service, "k1").in_flight;
    harness_stop (victim, sig);

    load_result_t result = { 0, 0, 0, 0 };
    bool seen[LOAD_CALLS] = { false };
    int64_t deadline = started + LOAD_TIMEOUT_MS;
    for (int n = 0; n < LOAD_CALLS; n++) {
        int64_t left = deadline - onenet_clock_ms ();
        /* No call may hang: each is answered before its own deadline. */
        onenet_reply_t *reply = left > 0 ? onenet_client_recv (fixture->client, (int) left) : NULL;
        if (!reply)
            fail_msg ("only %d of %d calls answered before their deadline", n, LOAD_CALLS);
        uint64_t index = onenet_reply_correlation_id (reply) - ids[0];
        assert_true (index < LOAD_CALLS);
        assert_false (seen[index]);   /* exactly one reply per call */
        seen[index] = true;
        onenet_status_t status = onenet_reply_status (reply);
        if (status == ONENET_OK) {
            result.ok++;
            result.ok_by_survivor += strcmp (onenet_reply_served_by (reply), "test/k2") == 0;
            snprintf (payload, sizeof payload, "call-%d", (int) index);
            assert_payload (reply, payload);
        }
        else if (status == ONENET_UNAVAILABLE) {
            result.unavailable++;
            assert_string_equal (onenet_reply_message (reply),
                                 "the serving adapter went away; the request was not idempotent");
        }
        else {
            print_message ("unexpected reply %s: %s\n", onenet_status_name (status),
                           onenet_reply_message (reply));
            result.other++;
        }
        onenet_reply_destroy (&reply);
    }
    assert_int_equal (onenet_client_pending (fixture->client), 0);
    return result;
}

static void
start_two_instances (fixture_t *fixture, pid_t *victim, const char *heartbeat)
{
    const char *extra[] = { "--heartbeat", heartbeat, NULL };
    *victim = harness_start_adapter (fixture->port, "k1", extra);
    harness_start_adapter (fixture->port, "k2", extra);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 2, 5000));
}

/* --- an instance dies under load ------------------------------------ */

static void
test_sigkill_idempotent_calls_are_retried (void **state)
{
    fixture_t *fixture = *state;
    pid_t victim;
    start_two_instances (fixture, &victim, "100");
    int held = 0;
    load_result_t result = load_and_kill (fixture, "test.echo_idem", SIGKILL, victim, &held);
    assert_int_equal (held, CREDIT);
    /* The victim's calls were retried on the survivor: all OK, all by k2. */
    assert_int_equal (result.ok, LOAD_CALLS);
    assert_int_equal (result.ok_by_survivor, LOAD_CALLS);
    assert_int_equal (result.unavailable + result.other, 0);
    /* The broker dropped the dead instance. */
    assert_true (wait_instance_count (fixture, "test.echo_idem", 1, 3000));
}

static void
test_sigkill_other_calls_come_back_unavailable (void **state)
{
    fixture_t *fixture = *state;
    pid_t victim;
    start_two_instances (fixture, &victim, "100");
    int held = 0;
    load_result_t result = load_and_kill (fixture, "test.echo", SIGKILL, victim, &held);
    assert_int_equal (held, CREDIT);
    /* The broker cannot know whether the victim ran its calls: those,
     * and only those, are UNAVAILABLE; the rest is served by k2. */
    assert_int_equal (result.unavailable, held);
    assert_int_equal (result.ok, LOAD_CALLS - held);
    assert_int_equal (result.ok_by_survivor, LOAD_CALLS - held);
    assert_int_equal (result.other, 0);
    assert_true (wait_instance_count (fixture, "test.echo", 1, 3000));
}

/* Whether the broker's log has a line with every one of the words. */
static bool
broker_log_has (int port, const char *word1, const char *word2)
{
    char path[512], line[2048];
    snprintf (path, sizeof path, "%s/broker-%d.log", harness_tempdir (), port);
    FILE *file = fopen (path, "r");
    bool found = false;
    while (file && !found && fgets (line, sizeof line, file))
        found = strstr (line, word1) && strstr (line, word2);
    if (file)
        fclose (file);
    return found;
}

static void
test_sigterm_fails_over_at_once (void **state)
{
    fixture_t *fixture = *state;
    /* Default heartbeat (1 s): found by heartbeats, the victim would be
     * dropped only after 3 s; its DISCONNECT must make it immediate. */
    pid_t victim = harness_start_adapter (fixture->port, "k1", NULL);
    harness_start_adapter (fixture->port, "k2", NULL);
    assert_true (harness_wait_instances (fixture->port, "test.echo_idem", 2, 5000));

    enum { CALLS = 20 };
    uint64_t ids[CALLS];
    char payload[32];
    for (int i = 0; i < CALLS; i++) {
        snprintf (payload, sizeof payload, "call-%d", i);
        ids[i] = send_echo (fixture->client, "test.echo_idem", payload, LOAD_DELAY_MS,
                            LOAD_TIMEOUT_MS);
    }
    /* Ties rotate: half each, nothing queued. */
    assert_true (wait_dispatched (fixture, "test.echo_idem", "k1", CALLS / 2, 0, 2000));
    int64_t killed_at = onenet_clock_ms ();
    harness_stop (victim, SIGTERM);
    int by_survivor = 0;
    int64_t last_reply_at = 0;
    for (int n = 0; n < CALLS; n++) {
        onenet_reply_t *reply = onenet_client_recv (fixture->client, LOAD_TIMEOUT_MS);
        if (!reply)
            fail_msg ("only %d of %d calls answered", n, CALLS);
        assert_int_equal (onenet_reply_status (reply), ONENET_OK);
        uint64_t index = onenet_reply_correlation_id (reply) - ids[0];
        assert_true (index < CALLS);
        snprintf (payload, sizeof payload, "call-%d", (int) index);
        assert_payload (reply, payload);
        by_survivor += strcmp (onenet_reply_served_by (reply), "test/k2") == 0;
        last_reply_at = onenet_clock_ms ();
        onenet_reply_destroy (&reply);
    }
    assert_int_equal (by_survivor, CALLS);
    assert_true (broker_log_has (fixture->port, "event=adapter.gone", "reason=disconnected"));
    /* Retried as soon as the victim said goodbye: the last reply is its
     * delay after the kill, far from the 3 s missed heartbeats take. */
    int64_t took = last_reply_at - killed_at;
    print_message ("fail-over: last retried reply %lld ms after SIGTERM\n", (long long) took);
    assert_true (took < 1000);
}

/* --- the only instance dies and comes back --------------------------- */

static void
test_restarted_adapter_serves_call_held_by_dead_one (void **state)
{
    fixture_t *fixture = *state;
    const char *extra[] = { "--heartbeat", "100", NULL };
    pid_t adapter = harness_start_adapter (fixture->port, "r1", extra);
    assert_true (harness_wait_instances (fixture->port, "test.echo_idem", 1, 5000));
    harness_stop (adapter, SIGKILL);

    /* The broker does not know yet: the call goes to the dead instance. */
    uint64_t id = send_echo (fixture->client, "test.echo_idem", "survives", 0, 5000);
    assert_null (onenet_client_recv (fixture->client, 300));
    harness_start_adapter (fixture->port, "r1", extra);   /* same name, new process */
    onenet_reply_t *reply = onenet_client_recv (fixture->client, 5000);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_correlation_id (reply), id);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    assert_string_equal (onenet_reply_served_by (reply), "test/r1");
    assert_payload (reply, "survives");
    onenet_reply_destroy (&reply);
}

static void
test_request_waits_for_restarted_adapter (void **state)
{
    fixture_t *fixture = *state;
    const char *extra[] = { "--heartbeat", "100", NULL };
    pid_t adapter = harness_start_adapter (fixture->port, "r1", extra);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 5000));
    harness_stop (adapter, SIGKILL);
    assert_true (wait_instance_count (fixture, "test.echo", 0, 3000));

    /* Not idempotent, no instance: it waits in the queue... */
    uint64_t id = send_echo (fixture->client, "test.echo", "waited", 0, 5000);
    assert_null (onenet_client_recv (fixture->client, 300));
    assert_int_equal (view_service (fixture, "test.echo", NULL).waiting, 1);
    /* ...for the new process, within its deadline. */
    harness_start_adapter (fixture->port, "r2", extra);
    onenet_reply_t *reply = onenet_client_recv (fixture->client, 5000);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_correlation_id (reply), id);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    assert_string_equal (onenet_reply_served_by (reply), "test/r2");
    assert_payload (reply, "waited");
    onenet_reply_destroy (&reply);
}

/* --- the broker dies and comes back ---------------------------------- */

static void
restart_broker (fixture_t *fixture)
{
    harness_stop (fixture->broker, SIGKILL);
    fixture->broker = harness_start_broker (fixture->port,
                                            "broker: { registration_grace_ms = 0; };\n");
}

static void
test_client_and_adapter_find_restarted_broker (void **state)
{
    fixture_t *fixture = *state;
    pid_t adapter = harness_start_adapter (fixture->port, "a1", NULL);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 5000));
    send_echo (fixture->client, "test.echo", "before", 0, 2000);
    onenet_reply_t *reply = onenet_client_recv (fixture->client, 3000);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);

    restart_broker (fixture);
    /* Same adapter process, not restarted: it registers again by itself. */
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 10000));
    assert_int_equal (kill (adapter, 0), 0);
    /* Same client object, not recreated. */
    uint64_t id = send_echo (fixture->client, "test.echo", "after", 0, 2000);
    reply = onenet_client_recv (fixture->client, 3000);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_correlation_id (reply), id);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    assert_string_equal (onenet_reply_served_by (reply), "test/a1");
    assert_payload (reply, "after");
    onenet_reply_destroy (&reply);
}

static void
test_call_in_flight_when_broker_dies_times_out (void **state)
{
    fixture_t *fixture = *state;
    harness_start_adapter (fixture->port, "a1", NULL);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 5000));
    int64_t sent_at = onenet_clock_ms ();
    uint64_t id = send_echo (fixture->client, "test.echo", "lost", 3000, 1000);
    assert_true (wait_dispatched (fixture, "test.echo", "a1", 1, 0, 2000));
    harness_stop (fixture->broker, SIGKILL);
    fixture->broker = 0;

    /* Nobody will answer: the client's local deadline (1000 ms + 350 ms
     * grace) ends the call with a typed status rather than a hang. */
    onenet_reply_t *reply = onenet_client_recv (fixture->client, 5000);
    assert_non_null (reply);
    int64_t took = onenet_clock_ms () - sent_at;
    assert_int_equal (onenet_reply_correlation_id (reply), id);
    assert_int_equal (onenet_reply_status (reply), ONENET_TIMEOUT);
    assert_string_equal (onenet_reply_message (reply), "no reply from the broker before the deadline");
    assert_string_equal (onenet_reply_served_by (reply), "");
    assert_true (took >= 1000);
    onenet_reply_destroy (&reply);
    assert_int_equal (onenet_client_pending (fixture->client), 0);
}

/* A broker told to stop (SIGTERM) drains: it refuses new requests, lets
 * those in flight finish within broker.drain_ms, answers what is left
 * UNAVAILABLE rather than let clients wait out their deadlines, and exits 0. */
static int
setup_short_drain (void **state)
{
    static fixture_t fixture;
    memset (&fixture, 0, sizeof fixture);
    fixture.port = harness_free_port ();
    fixture.broker = harness_start_broker (
        fixture.port, "broker: { registration_grace_ms = 0; drain_ms = 1500; };\n");
    fixture.client = onenet_client_new (harness_endpoint (fixture.port), NULL, 0);
    fixture.observer = onenet_client_new (harness_endpoint (fixture.port), NULL, 0);
    assert_non_null (fixture.client);
    assert_non_null (fixture.observer);
    *state = &fixture;
    return 0;
}

static void
test_stopping_broker_drains (void **state)
{
    fixture_t *fixture = *state;
    harness_start_adapter (fixture->port, "a1", NULL);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 5000));
    enum { QUICK = 3, SLOW = 2 };
    for (int i = 0; i < QUICK; i++)
        send_echo (fixture->client, "test.echo", "quick", 300, 5000);
    for (int i = 0; i < SLOW; i++)
        send_echo (fixture->client, "test.echo", "slow", 4000, 5000);
    assert_true (wait_dispatched (fixture, "test.echo", "a1", QUICK + SLOW, 0, 2000));
    int64_t stopped_at = onenet_clock_ms ();
    kill (fixture->broker, SIGTERM);
    /* The signal is asynchronous: wait until the broker says it drains (a
     * fixed sleep was too short on a loaded CI machine). */
    char log_name[64];
    snprintf (log_name, sizeof log_name, "broker-%d.log", fixture->port);
    assert_true (harness_log_has (log_name, "event=broker.draining", 3000));

    /* A request arriving while it drains is refused at once. */
    onenet_call_options_t options = { .timeout_ms = 2000 };
    onenet_reply_t *late = onenet_client_call (fixture->observer, "test.echo", NULL, 0, &options);
    assert_int_equal (onenet_reply_status (late), ONENET_UNAVAILABLE);
    assert_string_equal (onenet_reply_message (late), "broker is shutting down: try again in a moment");
    onenet_reply_destroy (&late);

    int ok = 0, unavailable = 0;
    for (int n = 0; n < QUICK + SLOW; n++) {
        /* All answered around the end of drain_ms (1.5 s), well before the
         * calls' own deadlines (5 s). */
        onenet_reply_t *reply = onenet_client_recv (fixture->client, 3000);
        if (!reply)
            fail_msg ("%d of %d calls answered within 3 s of SIGTERM", n, QUICK + SLOW);
        onenet_status_t status = onenet_reply_status (reply);
        ok += status == ONENET_OK;
        if (status == ONENET_UNAVAILABLE) {
            assert_string_equal (onenet_reply_message (reply), "broker shutting down");
            unavailable++;
        }
        onenet_reply_destroy (&reply);
    }
    assert_int_equal (ok, QUICK);          /* finished during the drain */
    assert_int_equal (unavailable, SLOW);  /* would outlast it */
    assert_true (onenet_clock_ms () - stopped_at < 4000);
    int status = harness_stop (fixture->broker, SIGTERM);
    fixture->broker = 0;
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
}

/* A reply the adapter finishes after the broker restarted belongs to a
 * request the new broker never saw. Both runs route a first request (the
 * same slot, the same generation), so if ids did not differ between runs,
 * or if the adapter sent replies from an earlier registration, that reply
 * would be taken as the new broker's first request's answer. */
static void
test_reply_from_before_broker_restart_is_not_misrouted (void **state)
{
    fixture_t *fixture = *state;
    const char *extra[] = { "--heartbeat", "100", NULL };
    harness_start_adapter (fixture->port, "a1", extra);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 5000));
    /* The first request routed by the old broker; the adapter answers it
     * after 4 s, long after the broker that sent it is gone. */
    send_echo (fixture->client, "test.echo", "old broker's call", 4000, 1000);
    assert_true (wait_dispatched (fixture, "test.echo", "a1", 1, 0, 2000));
    restart_broker (fixture);
    onenet_reply_t *reply = onenet_client_recv (fixture->client, 5000);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_status (reply), ONENET_TIMEOUT);   /* local */
    onenet_reply_destroy (&reply);

    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 10000));
    /* The first request routed by the new broker, answered after 3 s,
     * i.e. after the adapter has sent its answer to the old one. */
    uint64_t id = send_echo (fixture->client, "test.echo", "new broker's call", 3000, 8000);
    reply = onenet_client_recv (fixture->client, 10000);
    assert_non_null (reply);
    uint64_t correlation = onenet_reply_correlation_id (reply);
    onenet_status_t status = onenet_reply_status (reply);
    char payload[256];
    payload_of (reply, payload, sizeof payload);
    onenet_reply_destroy (&reply);
    assert_int_equal (correlation, id);
    assert_int_equal (status, ONENET_OK);
    assert_string_equal (payload, "new broker's call");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_sigkill_idempotent_calls_are_retried, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_sigkill_other_calls_come_back_unavailable, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_sigterm_fails_over_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown (test_restarted_adapter_serves_call_held_by_dead_one,
                                         setup, teardown),
        cmocka_unit_test_setup_teardown (test_request_waits_for_restarted_adapter, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_client_and_adapter_find_restarted_broker, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_call_in_flight_when_broker_dies_times_out, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_stopping_broker_drains, setup_short_drain,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_reply_from_before_broker_restart_is_not_misrouted,
                                         setup, teardown),
    };
    return cmocka_run_group_tests_name ("integration_failover", tests, NULL, NULL);
}
