/*
 * test_routing.c - requests routed through a real broker to real adapter
 * processes on 127.0.0.1: round trip, load sharing by credit, deadlines,
 * requests that wait for an adapter, typed errors, bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"

typedef struct {
    int port;
    pid_t broker;
    onenet_client_t *client;
} fixture_t;

static int
start_with_config (void **state, const char *config_text)
{
    static fixture_t fixture;
    memset (&fixture, 0, sizeof fixture);
    fixture.port = harness_free_port ();
    fixture.broker = harness_start_broker (fixture.port, config_text);
    fixture.client = onenet_client_new (harness_endpoint (fixture.port), NULL, 0);
    assert_non_null (fixture.client);
    *state = &fixture;
    return 0;
}

static int
setup (void **state)
{
    /* No grace: an unknown service is answered at once. */
    return start_with_config (state, "broker: { registration_grace_ms = 0; };\n");
}

static int
teardown (void **state)
{
    fixture_t *fixture = *state;
    onenet_client_destroy (&fixture->client);
    bool clean = harness_stop_all_clean ();
    harness_cleanup ();
    return clean ? 0 : -1;
}

static onenet_reply_t *
echo (fixture_t *fixture, const char *service, const char *payload, uint32_t delay_ms,
      uint32_t timeout_ms)
{
    uint8_t body[256];
    size_t size = harness_echo_body (body, sizeof body, payload, delay_ms);
    onenet_call_options_t options = { .timeout_ms = timeout_ms };
    return onenet_client_call (fixture->client, service, body, size, &options);
}

static void
test_round_trip (void **state)
{
    fixture_t *fixture = *state;
    harness_start_adapter (fixture->port, "a1", NULL);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 5000));

    onenet_reply_t *reply = echo (fixture, "test.echo", "hello 你好", 0, 2000);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    assert_string_equal (onenet_reply_served_by (reply), "test/a1");
    assert_int_equal (strlen (onenet_reply_trace_id (reply)), 32);
    Onenet__Example__EchoMessage *back = (Onenet__Example__EchoMessage *) onenet_reply_unpack (
        reply, &onenet__example__echo_message__descriptor);
    assert_non_null (back);
    assert_int_equal (back->payload.len, strlen ("hello 你好"));
    assert_memory_equal (back->payload.data, "hello 你好", back->payload.len);
    protobuf_c_message_free_unpacked (&back->base, NULL);
    onenet_reply_destroy (&reply);
}

static void
test_example_adapter_greets (void **state)
{
    fixture_t *fixture = *state;
    char bin[512], endpoint[64];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-adapter-example"));
    snprintf (endpoint, sizeof endpoint, "%s", harness_endpoint (fixture->port));
    const char *argv[] = { bin, "--broker", endpoint, "--instance", "ex1", NULL };
    harness_spawn ("example.log", argv);
    assert_true (harness_wait_instances (fixture->port, "example.greet", 1, 5000));

    Onenet__Example__GreetRequest request = ONENET__EXAMPLE__GREET_REQUEST__INIT;
    request.name = "Liu Yang";
    request.language = "zh";
    onenet_reply_t *reply = onenet_client_call_message (fixture->client, "example.greet",
                                                        &request.base, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__Example__GreetReply *greeting = (Onenet__Example__GreetReply *) onenet_reply_unpack (
        reply, &onenet__example__greet_reply__descriptor);
    assert_non_null (greeting);
    assert_string_equal (greeting->greeting, "你好，Liu Yang");
    protobuf_c_message_free_unpacked (&greeting->base, NULL);
    onenet_reply_destroy (&reply);

    /* The adapter's own validation comes back as a typed status. */
    request.name = "";
    reply = onenet_client_call_message (fixture->client, "example.greet", &request.base, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_BAD_REQUEST);
    assert_string_equal (onenet_reply_message (reply), "name is required");
    onenet_reply_destroy (&reply);
}

static void
test_two_instances_share_load (void **state)
{
    fixture_t *fixture = *state;
    harness_start_adapter (fixture->port, "s1", (const char *[]) { "--credit", "8", NULL });
    harness_start_adapter (fixture->port, "s2", (const char *[]) { "--credit", "8", NULL });
    assert_true (harness_wait_instances (fixture->port, "test.echo", 2, 5000));

    enum { CALLS = 400 };
    uint8_t body[64];
    size_t size = harness_echo_body (body, sizeof body, "x", 2);
    for (int i = 0; i < CALLS; i++)
        assert_true (onenet_client_send (fixture->client, "test.echo", body, size, NULL) > 0);
    int s1 = 0, s2 = 0, ok = 0;
    for (int i = 0; i < CALLS; i++) {
        onenet_reply_t *reply = onenet_client_recv (fixture->client, -1);
        assert_non_null (reply);
        if (onenet_reply_status (reply) == ONENET_OK)
            ok++;
        s1 += strcmp (onenet_reply_served_by (reply), "test/s1") == 0;
        s2 += strcmp (onenet_reply_served_by (reply), "test/s2") == 0;
        onenet_reply_destroy (&reply);
    }
    assert_int_equal (ok, CALLS);
    assert_int_equal (s1 + s2, CALLS);
    /* Equal credit and speed: neither instance may be starved. */
    assert_true (s1 >= CALLS / 4);
    assert_true (s2 >= CALLS / 4);
    assert_int_equal (onenet_client_pending (fixture->client), 0);
}

static void
test_deadline_gives_timeout (void **state)
{
    fixture_t *fixture = *state;
    harness_start_adapter (fixture->port, "slow", NULL);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 5000));
    int64_t started = onenet_clock_ms ();
    onenet_reply_t *reply = echo (fixture, "test.echo", "late", 3000, 300);
    int64_t took = onenet_clock_ms () - started;
    assert_int_equal (onenet_reply_status (reply), ONENET_TIMEOUT);
    /* The broker answered, not the client's local fallback. */
    assert_string_equal (onenet_reply_message (reply), "deadline passed before the adapter replied");
    assert_true (took >= 290);
    onenet_reply_destroy (&reply);
}

static void
test_unknown_service (void **state)
{
    fixture_t *fixture = *state;
    onenet_reply_t *reply = echo (fixture, "nobody.offers.this", "x", 0, 2000);
    assert_int_equal (onenet_reply_status (reply), ONENET_UNKNOWN_SERVICE);
    onenet_reply_destroy (&reply);
    reply = onenet_client_call (fixture->client, "onenet.nothing", NULL, 0, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_UNKNOWN_SERVICE);
    onenet_reply_destroy (&reply);
}

static void
test_configured_service_without_adapter (void **state)
{
    fixture_t *fixture = *state;
    onenet_reply_t *reply = echo (fixture, "ps.person.get", "x", 0, 400);
    assert_int_equal (onenet_reply_status (reply), ONENET_NO_ADAPTER);
    onenet_reply_destroy (&reply);
}

static int
setup_known_service (void **state)
{
    return start_with_config (state,
                              "broker: { registration_grace_ms = 0; };\n"
                              "services = ( { name = \"ps.person.get\"; department = \"public_security\"; } );\n");
}

static void
test_request_waits_for_adapter (void **state)
{
    fixture_t *fixture = *state;
    /* Known service (offered once), then its only instance goes away. */
    pid_t adapter = harness_start_adapter (fixture->port, "w1", NULL);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 5000));
    harness_stop (adapter, SIGTERM);

    uint8_t body[64];
    size_t size = harness_echo_body (body, sizeof body, "waited", 0);
    onenet_call_options_t options = { .timeout_ms = 5000 };
    uint64_t id = onenet_client_send (fixture->client, "test.echo", body, size, &options);
    assert_true (id > 0);
    assert_null (onenet_client_recv (fixture->client, 300));   /* it waits... */
    harness_start_adapter (fixture->port, "w2", NULL);         /* ...for the new instance */
    onenet_reply_t *reply = onenet_client_recv (fixture->client, 5000);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    assert_string_equal (onenet_reply_served_by (reply), "test/w2");
    onenet_reply_destroy (&reply);
}

static int
setup_small_limits (void **state)
{
    return start_with_config (state, "limits: { max_pending = 5; };\n");
}

static void
test_max_pending_is_enforced (void **state)
{
    fixture_t *fixture = *state;
    harness_start_adapter (fixture->port, "p1", NULL);
    assert_true (harness_wait_instances (fixture->port, "test.echo", 1, 5000));
    uint8_t body[64];
    size_t size = harness_echo_body (body, sizeof body, "x", 300);
    for (int i = 0; i < 8; i++)
        assert_true (onenet_client_send (fixture->client, "test.echo", body, size, NULL) > 0);
    int ok = 0, exhausted = 0;
    for (int i = 0; i < 8; i++) {
        onenet_reply_t *reply = onenet_client_recv (fixture->client, -1);
        assert_non_null (reply);
        ok += onenet_reply_status (reply) == ONENET_OK;
        exhausted += onenet_reply_status (reply) == ONENET_RESOURCE_EXHAUSTED;
        onenet_reply_destroy (&reply);
    }
    assert_int_equal (ok, 5);
    assert_int_equal (exhausted, 3);
    /* The broker is fine afterwards. */
    onenet_reply_t *reply = onenet_client_call (fixture->client, "onenet.ping", NULL, 0, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);
}

static int
setup_rate_limit (void **state)
{
    return start_with_config (state, "limits: { rate_per_second = 20; rate_burst = 10; };\n");
}

static void
test_rate_limit_per_department (void **state)
{
    fixture_t *fixture = *state;
    enum { CALLS = 60 };
    for (int i = 0; i < CALLS; i++)
        assert_true (onenet_client_send (fixture->client, "onenet.ping", NULL, 0, NULL) > 0);
    int ok = 0, limited = 0;
    for (int i = 0; i < CALLS; i++) {
        onenet_reply_t *reply = onenet_client_recv (fixture->client, -1);
        assert_non_null (reply);
        ok += onenet_reply_status (reply) == ONENET_OK;
        if (onenet_reply_status (reply) == ONENET_RESOURCE_EXHAUSTED) {
            limited++;
            assert_non_null (strstr (onenet_reply_message (reply), "rate limit"));
        }
        onenet_reply_destroy (&reply);
    }
    /* About the burst passes (the harness's start-up ping took a token from
     * the same department's bucket; a few refill meanwhile), the rest of
     * the flood is refused, typed. */
    assert_int_equal (ok + limited, CALLS);
    assert_true (ok >= 5 && ok <= 15);
    assert_true (limited >= CALLS - 15);
    /* The bucket refills: after a pause the department is served again. */
    usleep (600000);
    onenet_reply_t *reply = onenet_client_call (fixture->client, "onenet.ping", NULL, 0, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);
}

static void
test_services_lists_instances (void **state)
{
    fixture_t *fixture = *state;
    harness_start_adapter (fixture->port, "c1", (const char *[]) { "--credit", "7", NULL });
    assert_true (harness_wait_instances (fixture->port, "test.echo_idem", 1, 5000));
    onenet_reply_t *reply = onenet_client_call (fixture->client, "onenet.services", NULL, 0, NULL);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__ServicesReply *services = (Onenet__ServicesReply *) onenet_reply_unpack (
        reply, &onenet__services_reply__descriptor);
    assert_non_null (services);
    assert_int_equal (services->n_services, 3);   /* test.echo, test.echo_idem, test.whoami */
    assert_string_equal (services->services[0]->name, "test.echo");
    assert_false (services->services[0]->idempotent);
    assert_string_equal (services->services[1]->name, "test.echo_idem");
    assert_true (services->services[1]->idempotent);
    assert_string_equal (services->services[0]->request_type, "onenet.example.EchoMessage");
    assert_int_equal (services->services[0]->n_instances, 1);
    assert_int_equal (services->services[0]->instances[0]->credit, 7);
    assert_string_equal (services->services[0]->instances[0]->health, "ok");
    assert_string_equal (services->security, "none");
    protobuf_c_message_free_unpacked (&services->base, NULL);
    onenet_reply_destroy (&reply);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown (test_example_adapter_greets, setup, teardown),
        cmocka_unit_test_setup_teardown (test_two_instances_share_load, setup, teardown),
        cmocka_unit_test_setup_teardown (test_deadline_gives_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown (test_unknown_service, setup, teardown),
        cmocka_unit_test_setup_teardown (test_configured_service_without_adapter,
                                         setup_known_service, teardown),
        cmocka_unit_test_setup_teardown (test_request_waits_for_adapter, setup, teardown),
        cmocka_unit_test_setup_teardown (test_max_pending_is_enforced, setup_small_limits, teardown),
        cmocka_unit_test_setup_teardown (test_services_lists_instances, setup, teardown),
        cmocka_unit_test_setup_teardown (test_rate_limit_per_department, setup_rate_limit, teardown),
    };
    return cmocka_run_group_tests_name ("integration_routing", tests, NULL, NULL);
}
