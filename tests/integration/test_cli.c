/*
 * test_cli.c - the `onenet` command (tools/) as an operator or a script
 * runs it, against a real broker and the real example adapter: what it
 * prints, on which stream, and its exit code (tools/cli.h: 0 ok, 1 the
 * call failed, 2 usage). --json output is parsed with jansson, which
 * libonenet already depends on.
 *
 * Every run is bounded: a CLI that does not exit in 15 s is killed and
 * the test fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"

#define RUN_LIMIT_MS 15000
#define OUTPUT_SIZE 65536

typedef struct {
    int port;
    char endpoint[64];
} fixture_t;

/* One run of the CLI. */
typedef struct {
    int exit_code;   /* -1 if it did not exit normally (signal, sanitizer abort) */
    char out[OUTPUT_SIZE];
    char err[OUTPUT_SIZE];
} run_t;

static int
setup (void **state)
{
    static fixture_t fixture;
    memset (&fixture, 0, sizeof fixture);
    fixture.port = harness_free_port ();
    snprintf (fixture.endpoint, sizeof fixture.endpoint, "%s", harness_endpoint (fixture.port));
    /* No grace: an unknown service is answered at once. */
    harness_start_broker (fixture.port, "broker: { registration_grace_ms = 0; };\n");
    char bin[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-adapter-example"));
    const char *argv[] = { bin, "--broker", fixture.endpoint, "--instance", "ex1", NULL };
    harness_spawn ("example.log", argv);
    assert_true (harness_wait_instances (fixture.port, "example.greet", 1, 5000));
    *state = &fixture;
    return 0;
}

static int
teardown (void **state)
{
    (void) state;
    bool clean = harness_stop_all_clean ();
    harness_cleanup ();
    return clean ? 0 : -1;
}

static void
read_file (const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    size_t n = fread (out, 1, size - 1, file);
    out[n] = '\0';
    fclose (file);
}

/* Runs `onenet args...` (NULL-terminated) to completion, capturing stdout
 * and stderr. The result is static: valid until the next run. */
static const run_t *
run_cli (const char *const args[])
{
    static run_t run;
    static int serial;
    char bin[512], out_path[512], err_path[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet"));
    snprintf (out_path, sizeof out_path, "%s/cli-%d.out", harness_tempdir (), serial);
    snprintf (err_path, sizeof err_path, "%s/cli-%d.err", harness_tempdir (), serial++);
    const char *argv[32] = { bin };
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0)
            _exit (126);
        dup2 (out, 1);
        dup2 (err, 2);
        close (out);
        close (err);
        unsetenv ("ONENET_BROKER");   /* only what the test passes counts */
        execv (argv[0], (char *const *) argv);
        _exit (127);
    }
    int status = 0;
    int64_t until = onenet_clock_ms () + RUN_LIMIT_MS;
    while (waitpid (pid, &status, WNOHANG) == 0) {
        if (onenet_clock_ms () > until) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            fail_msg ("onenet did not exit within %d ms", RUN_LIMIT_MS);
        }
        usleep (10000);
    }
    run.exit_code = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
    read_file (out_path, run.out, sizeof run.out);
    read_file (err_path, run.err, sizeof run.err);
    print_message ("$ onenet");
    for (size_t i = 1; argv[i]; i++)
        print_message (" %s", argv[i]);
    print_message ("\n-> exit %d\n%s%s", run.exit_code, run.out, run.err);
    return &run;
}

static void
assert_contains (const char *text, const char *part)
{
    if (!strstr (text, part))
        fail_msg ("expected \"%s\" in:\n%s", part, text);
}

/* Parses text as one JSON object; fails the test if it is not one. The
 * caller json_decref's the result. */
static json_t *
parse_json_object (const char *text)
{
    json_error_t error;
    json_t *json = json_loads (text, 0, &error);
    if (!json)
        fail_msg ("not JSON (line %d: %s):\n%s", error.line, error.text, text);
    if (!json_is_object (json)) {
        json_decref (json);
        fail_msg ("not a JSON object:\n%s", text);
    }
    return json;
}

/* --- the commands ------------------------------------------------------ */

static void
test_ping (void **state)
{
    fixture_t *fixture = *state;
    const run_t *run = run_cli ((const char *[]) { "ping", "--broker", fixture->endpoint, NULL });
    assert_int_equal (run->exit_code, 0);
    char expected[128];
    snprintf (expected, sizeof expected, "pong from %s", fixture->endpoint);
    assert_contains (run->out, expected);
    assert_contains (run->out, "protocol 1, schema 1");
}

static void
test_services_lists_example_greet (void **state)
{
    fixture_t *fixture = *state;
    const run_t *run
        = run_cli ((const char *[]) { "--broker", fixture->endpoint, "services", NULL });
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "example.greet");
    assert_contains (run->out, "example/ex1");
    /* With a prefix, only what starts with it. */
    run = run_cli (
        (const char *[]) { "--broker", fixture->endpoint, "services", "example.gr", NULL });
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "example.greet");
    assert_null (strstr (run->out, "example.echo"));
}

static void
test_call_greets (void **state)
{
    fixture_t *fixture = *state;
    const run_t *run
        = run_cli ((const char *[]) { "--broker", fixture->endpoint, "call", "example.greet",
                                      "--data", "{\"name\":\"Zhao Lei\"}", NULL });
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "Hello, Zhao Lei");
    /* The reply is printed as JSON. */
    json_t *reply = parse_json_object (run->out);
    const char *greeting = json_string_value (json_object_get (reply, "greeting"));
    bool right = greeting && strcmp (greeting, "Hello, Zhao Lei") == 0;
    json_decref (reply);
    assert_true (right);
}

static void
test_call_with_unknown_field_is_usage_error (void **state)
{
    fixture_t *fixture = *state;
    const run_t *run
        = run_cli ((const char *[]) { "--broker", fixture->endpoint, "call", "example.greet",
                                      "--data", "{\"nmae\":1}", NULL });
    assert_int_equal (run->exit_code, 2);
    assert_contains (run->err, "nmae");
    assert_string_equal (run->out, "");
}

static void
test_call_unknown_service_fails (void **state)
{
    fixture_t *fixture = *state;
    const run_t *run = run_cli (
        (const char *[]) { "--broker", fixture->endpoint, "call", "no.such.service", NULL });
    assert_int_equal (run->exit_code, 1);
    assert_contains (run->err, "UNKNOWN_SERVICE");
}

static void
test_no_broker_times_out (void **state)
{
    (void) state;
    int64_t started = onenet_clock_ms ();
    const run_t *run = run_cli (
        (const char *[]) { "--broker", "tcp://127.0.0.1:1", "ping", "--timeout", "300", NULL });
    assert_int_equal (run->exit_code, 1);
    assert_contains (run->err, "TIMEOUT");
    /* Ended by the local deadline, not the default 5 s one. */
    assert_true (onenet_clock_ms () - started < 5000);
}

static void
test_help_on_every_command (void **state)
{
    (void) state;
    const run_t *run = run_cli ((const char *[]) { "--help", NULL });
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "usage: onenet");
    assert_contains (run->out, "ping");
    assert_contains (run->out, "services");
    assert_contains (run->out, "call");
    static const char *const commands[] = { "ping", "services", "call" };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        /* No broker needed to ask for help. */
        run = run_cli (
            (const char *[]) { "--broker", "tcp://127.0.0.1:1", commands[i], "--help", NULL });
        assert_int_equal (run->exit_code, 0);
        char expected[64];
        snprintf (expected, sizeof expected, "usage: onenet %s", commands[i]);
        assert_contains (run->out, expected);
        assert_contains (run->out, "--broker");   /* the global options follow */
    }
}

static void
test_usage_errors (void **state)
{
    fixture_t *fixture = *state;
    const char *const *cases[] = {
        (const char *[]) { NULL },                                             /* no command */
        (const char *[]) { "--broker", fixture->endpoint, "frobnicate", NULL }, /* unknown */
        (const char *[]) { "--broker", fixture->endpoint, "ping", "extra", NULL },
        (const char *[]) { "--broker", fixture->endpoint, "call", NULL },    /* no service */
        (const char *[]) { "--timeout", "0", "--broker", fixture->endpoint, "ping", NULL },
        (const char *[]) { "--broker", fixture->endpoint, "ping", "--no-such-option", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const run_t *run = run_cli (cases[i]);
        assert_int_equal (run->exit_code, 2);
        /* One line on stderr saying what is wrong, nothing on stdout. */
        assert_contains (run->err, "onenet: ");
        assert_string_equal (run->out, "");
    }
}

/* --- --json -------------------------------------------------------------- */

static void
test_json_ping_parses (void **state)
{
    fixture_t *fixture = *state;
    const run_t *run
        = run_cli ((const char *[]) { "--json", "--broker", fixture->endpoint, "ping", NULL });
    assert_int_equal (run->exit_code, 0);
    json_t *pong = parse_json_object (run->out);
    bool version = json_is_string (json_object_get (pong, "broker_version"));
    json_int_t protocol = json_integer_value (json_object_get (pong, "protocol_version"));
    bool rtt = json_is_number (json_object_get (pong, "round_trip_ms"));
    json_decref (pong);
    assert_true (version);
    assert_int_equal (protocol, 1);
    assert_true (rtt);
}

static void
test_json_services_parses (void **state)
{
    fixture_t *fixture = *state;
    const run_t *run
        = run_cli ((const char *[]) { "--broker", fixture->endpoint, "services", "--json", NULL });
    assert_int_equal (run->exit_code, 0);
    json_t *list = parse_json_object (run->out);
    json_t *services = json_object_get (list, "services");
    bool found = false;
    size_t index;
    json_t *service;
    json_array_foreach (services, index, service)
    {
        const char *name = json_string_value (json_object_get (service, "name"));
        json_t *instances = json_object_get (service, "instances");
        if (name && strcmp (name, "example.greet") == 0 && json_array_size (instances) == 1)
            found = true;
    }
    bool array = json_is_array (services);
    json_decref (list);
    assert_true (array);
    assert_true (found);
}

static void
test_json_call_parses (void **state)
{
    fixture_t *fixture = *state;
    const run_t *run = run_cli ((const char *[]) { "--json", "--broker", fixture->endpoint,
                                                   "call", "example.greet", "--data",
                                                   "{\"name\":\"Zhao Lei\"}", NULL });
    assert_int_equal (run->exit_code, 0);
    json_t *envelope = parse_json_object (run->out);
    const char *status = json_string_value (json_object_get (envelope, "status"));
    const char *served_by = json_string_value (json_object_get (envelope, "served_by"));
    const char *greeting
        = json_string_value (json_object_get (json_object_get (envelope, "body"), "greeting"));
    bool ok = status && strcmp (status, "OK") == 0;
    bool by_ex1 = served_by && strcmp (served_by, "example/ex1") == 0;
    bool greeted = greeting && strcmp (greeting, "Hello, Zhao Lei") == 0;
    json_decref (envelope);
    assert_true (ok);
    assert_true (by_ex1);
    assert_true (greeted);

    /* A failed call prints the same envelope, with its status. */
    run = run_cli ((const char *[]) { "--json", "--broker", fixture->endpoint, "call",
                                      "no.such.service", NULL });
    assert_int_equal (run->exit_code, 1);
    envelope = parse_json_object (run->out);
    status = json_string_value (json_object_get (envelope, "status"));
    bool unknown = status && strcmp (status, "UNKNOWN_SERVICE") == 0;
    json_decref (envelope);
    assert_true (unknown);
}

int
main (void)
{
#define TEST(name) cmocka_unit_test_setup_teardown (name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST (test_ping),
        TEST (test_services_lists_example_greet),
        TEST (test_call_greets),
        TEST (test_call_with_unknown_field_is_usage_error),
        TEST (test_call_unknown_service_fails),
        TEST (test_no_broker_times_out),
        TEST (test_help_on_every_command),
        TEST (test_usage_errors),
        TEST (test_json_ping_parses),
        TEST (test_json_services_parses),
        TEST (test_json_call_parses),
    };
#undef TEST
    return cmocka_run_group_tests_name ("integration_cli", tests, NULL, NULL);
}
