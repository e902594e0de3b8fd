/*
 * test_policy_enforced.c - the sharing policy enforced by a real broker
 * under CURVE: who may call what for which purpose (DENIED naming the
 * rule, even for services that do not exist), the person view with
 * fields masked or removed and a department withheld, and a policy change
 * taking effect on SIGHUP. Real department adapters on a seeded store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/proto/public_security.pb-c.h"
#include "onenet/proto/view.pb-c.h"
#include "onenet/subscriber.h"

static int s_port;
static pid_t s_broker;
static char s_keys[400], s_policy[512], s_person[19];

static const char s_rules[] =
    "default = \"deny\";\n"
    "rules = (\n"
    "  { name = \"anyone_pings\"; requester = \"*\"; service = \"onenet.ping\"; allow = true; },\n"
    "  { name = \"anyone_lists\"; requester = \"*\"; service = \"onenet.services\"; allow = true; },\n"
    "  { name = \"emergency_publishes\"; requester = \"emergency\"; service = \"onenet.alert.publish\";\n"
    "    allow = true; },\n"
    "  { name = \"coordinators_follow\"; requester = \"emergency_coordinators\";\n"
    "    service = \"onenet.alert.since\"; allow = true; },\n"
    "  { name = \"ss_reads_ps\"; requester = \"social_security\"; service = \"ps.person.get\"; allow = true;\n"
    "    purposes = [ \"benefit_review\" ]; },\n"
    "  { name = \"em_no_ps\"; requester = \"emergency\"; service = \"ps.*\"; allow = %s; },\n"
    "  { name = \"gateway_views\"; requester = \"gateway\"; service = \"onenet.view.person\"; allow = true;\n"
    "    purposes = [ \"identity_check\" ];\n"
    "    view = ( { department = \"public_security\"; masked = [ \"phone\", \"address\" ];\n"
    "               removed = [ \"household_id\" ]; },\n"
    "             { department = \"social_security\"; show = \"none\"; } ); }\n"
    ");\n";

static void
write_policy (bool emergency_may_read)
{
    FILE *file = fopen (s_policy, "w");
    assert_non_null (file);
    fprintf (file, s_rules, emergency_may_read ? "true" : "false");
    fclose (file);
}

static void
key_env (const char *name)
{
    char path[512], broker[512];
    snprintf (path, sizeof path, "%s/%s.key", s_keys, name);
    snprintf (broker, sizeof broker, "%s/broker.pub", s_keys);
    setenv ("ONENET_KEY", path, 1);
    setenv ("ONENET_BROKER_KEY", broker, 1);
}

static void
keygen (const char *name)
{
    char bin[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet"));
    const char *argv[] = { bin, "keygen", name, "--dir", s_keys, NULL };
    assert_int_equal (harness_run ("keygen.log", argv), 0);
}

static pid_t
start_department (const char *department, const char *binary, const char *stores)
{
    char bin[512], db[512], endpoint[64], log_name[64];
    snprintf (bin, sizeof bin, "%s", harness_bin (binary));
    snprintf (db, sizeof db, "%s/%s.db", stores, department);
    snprintf (endpoint, sizeof endpoint, "%s", harness_endpoint (s_port));
    snprintf (log_name, sizeof log_name, "%s.log", department);
    key_env (department);
    const char *argv[] = { bin, "--broker", endpoint, "--db", db, NULL };
    return harness_spawn (log_name, argv);
}

static int
setup (void **state)
{
    (void) state;
    snprintf (s_keys, sizeof s_keys, "%s/keys", harness_tempdir ());
    mkdir (s_keys, 0700);
    const char *names[] = { "broker", "public_security", "social_security", "emergency", "gateway" };
    for (size_t i = 0; i < 5; i++)
        keygen (names[i]);
    char seed[512], stores[400];
    snprintf (seed, sizeof seed, "%s", harness_bin ("onenet-seed"));
    snprintf (stores, sizeof stores, "%s/stores", harness_tempdir ());
    const char *seed_argv[] = { seed, "--out", stores, "--people", "200", "--quiet", NULL };
    assert_int_equal (harness_run ("seed.log", seed_argv), 0);
    char seed_log[512], line[256];
    snprintf (seed_log, sizeof seed_log, "%s/seed.log", harness_tempdir ());
    FILE *file = fopen (seed_log, "r");
    assert_non_null (file);
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "  example (known to all three departments): %18s", s_person) == 1)
            break;
    fclose (file);
    assert_int_equal (strlen (s_person), 18);

    snprintf (s_policy, sizeof s_policy, "%s/policy.cfg", harness_tempdir ());
    write_policy (false);
    s_port = harness_free_port ();
    int redis_port = harness_free_port ();
    harness_start_redis (redis_port, false);
    char config[4096], clients[2048] = "";
    for (size_t i = 1; i < 5; i++) {
        size_t used = strlen (clients);
        snprintf (clients + used, sizeof clients - used,
                  "%s{ department = \"%s\"; public_key_file = \"%s/%s.pub\"; }", i > 1 ? ", " : "",
                  names[i], s_keys, names[i]);
    }
    snprintf (
        config, sizeof config,
        "security = \"curve\";\n"
        "curve = { key_file = \"%s/broker.key\"; clients = ( %s ); };\n"
        "policy = { file = \"%s\"; };\n"
        "delegates = [ \"gateway\" ];\n"
        "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
        "departments = ( { name = \"public_security\"; view_service = \"ps.view.person\"; },\n"
        "                { name = \"social_security\"; view_service = \"ss.view.person\"; } );\n",
        s_keys, clients, s_policy, redis_port);
    key_env ("gateway");
    s_broker = harness_start_broker (s_port, config);
    start_department ("public_security", "onenet-adapter-public-security", stores);
    start_department ("social_security", "onenet-adapter-social-security", stores);
    key_env ("gateway");
    bool ready = harness_wait_instances (s_port, "ps.view.person", 1, 10000)
                 && harness_wait_instances (s_port, "ss.view.person", 1, 10000);
    return ready ? 0 : -1;
}

static int
teardown (void **state)
{
    (void) state;
    unsetenv ("ONENET_KEY");
    harness_cleanup ();
    return 0;
}

/* Calls service with department's key, with purpose, claiming to act for
 * behalf_department's clerk-7 when behalf_department is not NULL; returns
 * the status and the message in why. */
static onenet_status_t
call_for (const char *department, const char *behalf_department, const char *service,
          const char *purpose, char *why, size_t size)
{
    key_env (department);
    onenet_client_t *client = onenet_client_new (harness_endpoint (s_port), NULL, 0);
    assert_non_null (client);
    Onenet__Ps__PersonGetRequest request = ONENET__PS__PERSON_GET_REQUEST__INIT;
    request.resident_id = s_person;
    onenet_call_options_t options = { .timeout_ms = 2000, .purpose = purpose };
    if (behalf_department) {
        options.on_behalf_of_department = behalf_department;
        options.on_behalf_of_user = "clerk-7";
    }
    onenet_reply_t *reply = onenet_client_call_message (client, service, &request.base, &options);
    onenet_status_t status = onenet_reply_status (reply);
    snprintf (why, size, "%s", onenet_reply_message (reply));
    onenet_reply_destroy (&reply);
    onenet_client_destroy (&client);
    return status;
}

static onenet_status_t
call_as (const char *department, const char *service, const char *purpose, char *why, size_t size)
{
    return call_for (department, NULL, service, purpose, why, size);
}

static void
test_who_may_call_what (void **state)
{
    (void) state;
    char why[512];
    assert_int_equal (call_as ("social_security", "ps.person.get", "benefit_review", why, sizeof why),
                      ONENET_OK);
    assert_int_equal (call_as ("social_security", "ps.person.get", "marketing", why, sizeof why),
                      ONENET_DENIED);
    assert_non_null (strstr (why, "marketing"));
    assert_non_null (strstr (why, "ss_reads_ps"));
    /* A refusal is audited with whom it was about. */
    char subject[64];
    snprintf (subject, sizeof subject, "\"subject\":\"%s\"", s_person);
    assert_true (harness_audit_has ("\"purpose\":\"marketing\"", "\"DENIED\"", subject));
    assert_int_equal (call_as ("emergency", "ps.person.get", "evacuation", why, sizeof why), ONENET_DENIED);
    assert_non_null (strstr (why, "rule em_no_ps"));
    /* Denied before the broker looks the service up: nobody can probe
     * which services exist. */
    assert_int_equal (call_as ("emergency", "no.such.service", "", why, sizeof why), ONENET_DENIED);
    assert_non_null (strstr (why, "default"));
}

/* Requests that travel together in one BATCH are each decided on their
 * own: a client with batching on sends an allowed and a denied purpose
 * alternately, and gets OK and DENIED alternately, each audited. */
static void
test_batched_requests_are_decided_one_by_one (void **state)
{
    (void) state;
    key_env ("social_security");
    onenet_client_t *client = onenet_client_new (harness_endpoint (s_port), NULL, 0);
    assert_non_null (client);
    onenet_client_set_batching (client, true);
    /* The first reply tells the client the broker takes batches. */
    onenet_reply_t *first = onenet_client_call (client, "onenet.ping", NULL, 0, NULL);
    assert_int_equal (onenet_reply_status (first), ONENET_OK);
    onenet_reply_destroy (&first);
    Onenet__Ps__PersonGetRequest request = ONENET__PS__PERSON_GET_REQUEST__INIT;
    request.resident_id = s_person;
    uint8_t body[64];
    size_t size = protobuf_c_message_pack (&request.base, body);
    uint64_t ids[8];
    for (int i = 0; i < 8; i++) {
        onenet_call_options_t options = { .timeout_ms = 2000,
                                          .purpose = i % 2 ? "marketing" : "benefit_review" };
        ids[i] = onenet_client_send (client, "ps.person.get", body, size, &options);
        assert_true (ids[i] > 0);
    }
    for (int i = 0; i < 8; i++) {
        onenet_reply_t *reply = onenet_client_recv (client, 3000);
        assert_non_null (reply);
        uint64_t id = onenet_reply_correlation_id (reply);
        assert_true (id >= ids[0] && id <= ids[7]);
        bool denied_purpose = (id - ids[0]) % 2 == 1;
        assert_int_equal (onenet_reply_status (reply), denied_purpose ? ONENET_DENIED : ONENET_OK);
        if (denied_purpose)
            assert_non_null (strstr (onenet_reply_message (reply), "ss_reads_ps"));
        onenet_reply_destroy (&reply);
    }
    onenet_client_destroy (&client);
}

static const Onenet__View__Section *
section (const Onenet__View__PersonView *person, const char *department)
{
    for (size_t i = 0; i < person->n_sections; i++)
        if (strcmp (person->sections[i]->department, department) == 0)
            return person->sections[i];
    fail_msg ("no section %s", department);
    return NULL;
}

static const char *
field (const Onenet__View__Section *sec, const char *name)
{
    for (size_t i = 0; i < sec->n_fields; i++)
        if (strcmp (sec->fields[i]->name, name) == 0)
            return sec->fields[i]->value;
    return NULL;
}

static void
test_view_masked_and_withheld (void **state)
{
    (void) state;
    key_env ("gateway");
    onenet_client_t *client = onenet_client_new (harness_endpoint (s_port), NULL, 0);
    Onenet__View__PersonViewRequest request = ONENET__VIEW__PERSON_VIEW_REQUEST__INIT;
    request.resident_id = s_person;
    onenet_call_options_t options = { .timeout_ms = 3000, .purpose = "identity_check" };
    onenet_reply_t *reply = onenet_client_call_message (client, "onenet.view.person", &request.base, &options);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    Onenet__View__PersonView *person = (Onenet__View__PersonView *) onenet_reply_unpack (
        reply, &onenet__view__person_view__descriptor);
    assert_non_null (person);
    const Onenet__View__Section *ps = section (person, "public_security");
    assert_int_equal (ps->status, ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    assert_non_null (field (ps, "name"));                       /* visible */
    assert_null (field (ps, "household_id"));                   /* removed */
    assert_non_null (strstr (field (ps, "phone"), "****"));     /* masked */
    assert_non_null (strstr (field (ps, "address"), "***"));
    assert_int_equal (ps->detail.len, 0);                       /* its own record would leak them */
    const Onenet__View__Section *ss = section (person, "social_security");
    assert_int_equal (ss->status, ONENET__VIEW__SECTION_STATUS__SECTION_DENIED);
    assert_int_equal (ss->n_fields, 0);
    assert_non_null (strstr (ss->message, "gateway_views"));
    assert_false (person->partial);   /* withheld on purpose is not a failure */
    for (size_t i = 0; i < person->n_conflicts; i++)   /* no hidden value leaks through conflicts */
        for (size_t j = 0; j < person->conflicts[i]->n_values; j++)
            assert_string_not_equal (person->conflicts[i]->values[j]->department, "social_security");
    protobuf_c_message_free_unpacked (&person->base, NULL);
    onenet_reply_destroy (&reply);

    /* Without an allowed purpose, no view at all. */
    options.purpose = "curiosity";
    reply = onenet_client_call_message (client, "onenet.view.person", &request.base, &options);
    assert_int_equal (onenet_reply_status (reply), ONENET_DENIED);
    onenet_reply_destroy (&reply);
    onenet_client_destroy (&client);
}

static void
test_gateway_acts_for_its_users (void **state)
{
    (void)state;
    char why[512];
    /* The gateway is a delegate: the policy decides for social security. */
    assert_int_equal (
        call_for ("gateway", "social_security", "ps.person.get", "benefit_review", why, sizeof why),
        ONENET_OK);
    /* Emergency is not: its claim is ignored and its own rule denies it. */
    assert_int_equal (call_for ("emergency", "social_security", "ps.person.get", "benefit_review",
                                why, sizeof why),
                      ONENET_DENIED);
    assert_non_null (strstr (why, "em_no_ps"));
    /* The audit log names the user the gateway acted for. */
    assert_true (
        harness_audit_has ("\"user\":\"clerk-7\"", "\"requester\":\"social_security\"", "\"OK\""));
}

/* The next alert of a subscriber made with the gateway's key, acting for
 * the coordinators' department when act_for; NULL if none within 3 s
 * (its error in why). */
static Onenet__Alert__AlertEnvelope *
gateway_subscriber_next (bool act_for, char *why, size_t size)
{
    key_env ("gateway");
    char alerts[64];
    snprintf (alerts, sizeof alerts, "tcp://127.0.0.1:%d", harness_alerts_port (s_port));
    onenet_subscriber_t *subscriber =
        onenet_subscriber_new (harness_endpoint (s_port), alerts, NULL, NULL, why, size);
    assert_non_null (subscriber);
    assert_int_equal (onenet_subscriber_start_after (subscriber, "0"), 0);
    if (act_for)
        assert_int_equal (
            onenet_subscriber_act_for (subscriber, "emergency_coordinators", "coordinator-3"), 0);
    Onenet__Alert__AlertEnvelope *envelope = NULL;
    int64_t until = onenet_clock_ms () + 3000;
    while (!envelope && onenet_clock_ms () < until)
        envelope = onenet_subscriber_next (subscriber, 200);
    snprintf (why, size, "%s", onenet_subscriber_error (subscriber));
    onenet_subscriber_destroy (&subscriber);
    return envelope;
}

/* A delegate's alert subscriber catches up for its user: the policy
 * decides for the user's department, not for the gateway's key. */
static void
test_subscriber_acts_for_its_user (void **state)
{
    (void)state;
    key_env ("emergency");
    char bin[512], cap[512], why[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet"));
    snprintf (cap, sizeof cap, "%s/tests/data/cap/onenet-flood-chengdu.xml",
              getenv ("ONENET_SOURCE_DIR"));
    const char *argv[] = {bin, "--broker", harness_endpoint (s_port), "alert", "publish", cap, NULL};
    assert_int_equal (harness_run ("publish.log", argv), 0);

    Onenet__Alert__AlertEnvelope *envelope = gateway_subscriber_next (false, why, sizeof why);
    assert_null (envelope);
    assert_non_null (strstr (why, "DENIED"));
    assert_non_null (strstr (why, "denied by default"));

    envelope = gateway_subscriber_next (true, why, sizeof why);
    if (!envelope)
        fail_msg ("no alert for the coordinators: %s", why);
    assert_string_equal (envelope->alert->identifier, "em.510100.2026.0001");
    onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
}

static void
test_policy_reload (void **state)
{
    (void) state;
    char why[512];
    write_policy (true);
    kill (s_broker, SIGHUP);
    onenet_status_t status = ONENET_DENIED;
    for (int i = 0; i < 50 && status != ONENET_OK; i++) {
        status = call_as ("emergency", "ps.person.get", "evacuation", why, sizeof why);
        if (status != ONENET_OK)
            usleep (100000);
    }
    assert_int_equal (status, ONENET_OK);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_who_may_call_what),
        cmocka_unit_test (test_batched_requests_are_decided_one_by_one),
        cmocka_unit_test (test_view_masked_and_withheld),
        cmocka_unit_test (test_gateway_acts_for_its_users),
        cmocka_unit_test (test_subscriber_acts_for_its_user),
        cmocka_unit_test (test_policy_reload),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests_name ("integration_policy_enforced", tests, setup, teardown);
}
