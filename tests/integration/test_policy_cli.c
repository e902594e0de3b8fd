/*
 * test_policy_cli.c - `onenet policy check` as an operator or a script
 * runs it on the shipped config/policy.cfg: what it prints, on which
 * stream, and its exit code (0 allowed, 1 denied, 2 usage or an invalid
 * policy file). No broker: the command evaluates the file locally.
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
    int exit_code; /* -1 if it did not exit normally (signal, sanitizer abort) */
    char out[OUTPUT_SIZE];
    char err[OUTPUT_SIZE];
} run_t;

static char s_policy[1024]; /* the shipped config/policy.cfg */

static int
setup (void **state)
{
    (void)state;
    const char *source = getenv ("ONENET_SOURCE_DIR");
    snprintf (s_policy, sizeof s_policy, "%s/config/policy.cfg", source ? source : ".");
    return 0;
}

static int
teardown (void **state)
{
    (void)state;
    harness_cleanup ();
    return 0;
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

/* Runs `onenet args...` (NULL-terminated) in directory dir (NULL: here)
 * with ONENET_POLICY set to env_policy (NULL: unset), capturing stdout
 * and stderr. The result is static: valid until the next run. */
static const run_t *
run_in (const char *dir, const char *env_policy, const char *const args[])
{
    static run_t run;
    static int serial;
    char bin[512], out_path[512], err_path[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet"));
    snprintf (out_path, sizeof out_path, "%s/policy-%d.out", harness_tempdir (), serial);
    snprintf (err_path, sizeof err_path, "%s/policy-%d.err", harness_tempdir (), serial++);
    const char *argv[32] = {bin};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0 || (dir && chdir (dir) != 0))
            _exit (126);
        dup2 (out, 1);
        dup2 (err, 2);
        close (out);
        close (err);
        if (env_policy)
            setenv ("ONENET_POLICY", env_policy, 1);
        else
            unsetenv ("ONENET_POLICY");
        execv (argv[0], (char *const *)argv);
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

/* Runs `onenet policy check ARGS... --policy config/policy.cfg`. */
static const run_t *
check (const char *const args[])
{
    const char *argv[24] = {"policy", "check"};
    size_t n = 2;
    for (size_t i = 0; args[i] && n < 21; i++)
        argv[n++] = args[i];
    argv[n++] = "--policy";
    argv[n++] = s_policy;
    argv[n] = NULL;
    return run_in (NULL, NULL, argv);
}

static void
assert_contains (const char *text, const char *part)
{
    if (!strstr (text, part))
        fail_msg ("expected \"%s\" in:\n%s", part, text);
}

static void
test_allowed_exits_0 (void **state)
{
    (void)state;
    const run_t *run = check (
        (const char *[]){"social_security", "ps.person.get", "--purpose", "benefit_review", NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "decision  ALLOWED by rule ss_reads_ps\n");
    assert_contains (run->out, "reason    rule ss_reads_ps allows social_security to call "
                               "ps.person.get for purpose benefit_review\n");
    assert_contains (run->out,
                     "request   social_security calls ps.person.get, purpose benefit_review\n");
    assert_string_equal (run->err, "");

    run = check ((const char *[]){"gateway", "onenet.ping", NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "ALLOWED by rule anyone_pings");
}

static void
test_denied_exits_1 (void **state)
{
    (void)state;
    const run_t *run = check (
        (const char *[]){"social_security", "ps.person.get", "--purpose", "marketing", NULL});
    assert_int_equal (run->exit_code, 1);
    assert_contains (run->out, "decision  DENIED by rule ss_reads_ps\n");
    assert_contains (run->out, "purpose 'marketing' is not one of benefit_review, identity_check "
                               "(rule ss_reads_ps)");
    assert_string_equal (run->err, "");

    run = check ((const char *[]){"social_security", "ps.person.get", NULL});
    assert_int_equal (run->exit_code, 1);
    assert_contains (run->out,
                     "no purpose given: one of benefit_review, identity_check is required");

    run = check ((const char *[]){"civil_affairs", "ps.person.get", NULL});
    assert_int_equal (run->exit_code, 1);
    assert_contains (run->out, "decision  DENIED by default (no rule matches)\n");
    assert_contains (run->out, "reason    no rule matches: denied by default\n");

    run = check ((const char *[]){"gateway", "ps.person.update", NULL});
    assert_int_equal (run->exit_code, 1);
    assert_contains (run->out,
                     "rule gateway_nothing_else denies gateway calls to ps.person.update");

    run = check ((const char *[]){"anonymous", "onenet.view.person", NULL});
    assert_int_equal (run->exit_code, 1);
    assert_contains (run->out, "DENIED by rule anonymous_pings_only");
}

static void
test_view_sections_explained (void **state)
{
    (void)state;
    const run_t *run = check ((const char *[]){"social_security", "onenet.view.person", "--purpose",
                                               "benefit_review", NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "ALLOWED by rule ss_views_person");
    assert_contains (run->out, "  public_security          shown; masked phone; removed "
                               "incident_reports; record (detail) withheld\n");
    assert_contains (run->out,
                     "  social_security          shown in full, with the department's record\n");
    assert_contains (run->out, "  emergency                withheld (section status denied)\n");
    assert_contains (run->out, "  * (any other)            withheld (section status denied)\n");

    run = check ((const char *[]){"emergency_coordinators", "onenet.view.person", "--purpose",
                                  "evacuation", NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "public_security          shown; visible name, sex, address, phone; "
                               "masked birth_date (other fields removed)");

    /* A denied view lists no sections. */
    run = check (
        (const char *[]){"social_security", "onenet.view.person", "--purpose", "evacuation", NULL});
    assert_int_equal (run->exit_code, 1);
    assert_null (strstr (run->out, "view sections"));
}

static void
test_json (void **state)
{
    (void)state;
    const run_t *run = check ((const char *[]){"--json", "civil_affairs", "onenet.view.person",
                                               "--purpose", "identity_check", NULL});
    assert_int_equal (run->exit_code, 0);
    json_error_t error;
    json_t *json = json_loads (run->out, 0, &error);
    if (!json)
        fail_msg ("not JSON (line %d: %s):\n%s", error.line, error.text, run->out);
    assert_true (json_is_true (json_object_get (json, "allowed")));
    assert_string_equal (json_string_value (json_object_get (json, "rule")),
                         "clerks_view_person");
    assert_string_equal (json_string_value (json_object_get (json, "requester")), "civil_affairs");
    assert_string_equal (json_string_value (json_object_get (json, "purpose")), "identity_check");
    assert_string_equal (json_string_value (json_object_get (json, "policy")), s_policy);
    json_t *view = json_object_get (json, "view");
    assert_true (json_is_array (view));
    json_t *ps = json_array_get (view, 0);
    assert_string_equal (json_string_value (json_object_get (ps, "department")), "public_security");
    assert_true (json_is_true (json_object_get (ps, "shown")));
    assert_false (json_is_true (json_object_get (ps, "detail")));
    json_t *masked = json_object_get (ps, "masked");
    assert_int_equal (json_array_size (masked), 4);
    assert_string_equal (json_string_value (json_array_get (masked, 0)), "name");
    json_t *last = json_array_get (view, json_array_size (view) - 1);
    assert_string_equal (json_string_value (json_object_get (last, "department")), "*");
    assert_true (json_is_false (json_object_get (last, "shown")));
    json_decref (json);

    run = check ((const char *[]){"civil_affairs", "ps.person.get", "--json", NULL});
    assert_int_equal (run->exit_code, 1);
    json = json_loads (run->out, 0, &error);
    assert_non_null (json);
    assert_true (json_is_false (json_object_get (json, "allowed")));
    assert_string_equal (json_string_value (json_object_get (json, "rule")), "default");
    assert_string_equal (json_string_value (json_object_get (json, "reason")),
                         "no rule matches: denied by default");
    assert_null (json_object_get (json, "view"));
    json_decref (json);
}

static void
test_invalid_policy_exits_2 (void **state)
{
    (void)state;
    char path[600];
    snprintf (path, sizeof path, "%s/bad-policy.cfg", harness_tempdir ());
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs ("rules = (\n"
           "    { name = \"a\"; requester = \"*\"; service = \"onenet.ping\"; allow = true;\n"
           "      colour = \"red\"; }\n"
           ");\n",
           file);
    fclose (file);
    const run_t *run =
        run_in (NULL, NULL,
                (const char *[]){"policy", "check", "a", "onenet.ping", "--policy", path, NULL});
    assert_int_equal (run->exit_code, 2);
    assert_string_equal (run->out, "");
    char expected[800];
    snprintf (expected, sizeof expected,
              "onenet: policy check: %s:3: rules[0].colour: unknown setting\n", path);
    assert_string_equal (run->err, expected);

    run = run_in (NULL, NULL,
                  (const char *[]){"policy", "check", "a", "onenet.ping", "--policy",
                                   "/nonexistent/policy.cfg", NULL});
    assert_int_equal (run->exit_code, 2);
    assert_string_equal (run->err, "onenet: policy check: /nonexistent/policy.cfg: cannot open: No "
                                   "such file or directory\n");
}

static void
test_usage_exits_2 (void **state)
{
    (void)state;
    const run_t *run = run_in (NULL, NULL, (const char *[]){"policy", NULL});
    assert_int_equal (run->exit_code, 2);
    assert_contains (run->err, "missing command: check");
    run = run_in (NULL, NULL, (const char *[]){"policy", "explain", "a", "b", NULL});
    assert_int_equal (run->exit_code, 2);
    assert_contains (run->err, "explain: unknown policy command; expected check");
    run = check ((const char *[]){"social_security", NULL});
    assert_int_equal (run->exit_code, 2);
    assert_contains (run->err, "missing argument");
    run = check ((const char *[]){"a", "b", "c", NULL});
    assert_int_equal (run->exit_code, 2);
    assert_contains (run->err, "unexpected argument 'c'");
    run = check ((const char *[]){"a", "b", "--bogus", NULL});
    assert_int_equal (run->exit_code, 2);
    run = run_in (NULL, NULL, (const char *[]){"policy", "--help", NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "usage: onenet policy check DEPARTMENT SERVICE");
}

static void
test_default_policy_file (void **state)
{
    (void)state;
    /* $ONENET_POLICY names the file when --policy does not. */
    const run_t *run =
        run_in ("/", s_policy, (const char *[]){"policy", "check", "gateway", "onenet.ping", NULL});
    assert_int_equal (run->exit_code, 0);
    char expected[1200];
    snprintf (expected, sizeof expected, "policy    %s (", s_policy);
    assert_contains (run->out, expected);

    /* From a source tree, config/policy.cfg (unless this machine has a
     * system-wide policy, which then comes first). */
    if (access ("/etc/onenet/policy.cfg", F_OK) == 0)
        return;
    const char *source = getenv ("ONENET_SOURCE_DIR");
    assert_non_null (source);
    run =
        run_in (source, NULL, (const char *[]){"policy", "check", "gateway", "onenet.ping", NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "policy    config/policy.cfg (");
    /* Elsewhere, the system path is named in the error. */
    run = run_in ("/", NULL, (const char *[]){"policy", "check", "gateway", "onenet.ping", NULL});
    assert_int_equal (run->exit_code, 2);
    assert_contains (run->err, "/etc/onenet/policy.cfg: cannot open");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_allowed_exits_0),
        cmocka_unit_test (test_denied_exits_1),
        cmocka_unit_test (test_view_sections_explained),
        cmocka_unit_test (test_json),
        cmocka_unit_test (test_invalid_policy_exits_2),
        cmocka_unit_test (test_usage_exits_2),
        cmocka_unit_test (test_default_policy_file),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests_name ("integration_policy_cli", tests, setup, teardown);
}
