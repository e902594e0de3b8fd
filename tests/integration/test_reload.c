/*
 * test_reload.c - SIGHUP makes the broker re-read its config file: a valid
 * change takes effect without dropping connections, an invalid file is
 * refused with its file and line logged and the running config kept, and
 * a setting only a restart can change is kept and reported.
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

static int s_port;
static pid_t s_broker;
static char s_config[512];

static void
write_config (const char *text)
{
    FILE *file = fopen (s_config, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
}

/* True once the broker's log contains text. */
static bool
log_has (const char *text, int timeout_ms)
{
    char log_name[64];
    snprintf (log_name, sizeof log_name, "broker-%d.log", s_port);
    return harness_log_has (log_name, text, timeout_ms);
}

static onenet_status_t
call_status (onenet_client_t *client, const char *service)
{
    onenet_call_options_t options = { .timeout_ms = 300 };
    onenet_reply_t *reply = onenet_client_call (client, service, NULL, 0, &options);
    onenet_status_t status = onenet_reply_status (reply);
    onenet_reply_destroy (&reply);
    return status;
}

static void
test_reload (void **state)
{
    (void) state;
    s_port = harness_free_port ();
    const char *initial = "broker: { registration_grace_ms = 0; };\nredis = { endpoint = \"\"; };\n";
    s_broker = harness_start_broker (s_port, initial);
    snprintf (s_config, sizeof s_config, "%s/broker-%d.cfg", harness_tempdir (), s_port);
    onenet_client_t *client = onenet_client_new (harness_endpoint (s_port), NULL, 0);
    assert_non_null (client);
    assert_int_equal (call_status (client, "ca.marriage.get"), ONENET_UNKNOWN_SERVICE);

    /* A valid change: the service becomes known, so it now waits for an
     * adapter (NO_ADAPTER at its deadline) instead of UNKNOWN_SERVICE. */
    write_config ("broker: { registration_grace_ms = 0; };\nredis = { endpoint = \"\"; };\n"
                  "services = ( { name = \"ca.marriage.get\"; department = \"civil_affairs\"; } );\n");
    kill (s_broker, SIGHUP);
    assert_true (log_has ("event=config.reloaded", 5000));
    assert_int_equal (call_status (client, "ca.marriage.get"), ONENET_NO_ADAPTER);

    /* An invalid file: refused, named by file and line, the running config kept. */
    write_config ("broker: { registration_grace_ms = 0; };\nbroker_typo = 1;\n");
    kill (s_broker, SIGHUP);
    assert_true (log_has ("event=config.reload_refused", 5000));
    assert_true (log_has (":2: broker_typo: unknown setting", 100));
    assert_int_equal (call_status (client, "ca.marriage.get"), ONENET_NO_ADAPTER);
    assert_int_equal (kill (s_broker, 0), 0);   /* still running */

    /* Settings only a restart changes: kept, and said so. Peers were told
     * broker.batch_max (WELCOME, every reply), so it is one of them. */
    write_config ("broker: { registration_grace_ms = 0; endpoint = \"tcp://127.0.0.1:1\";\n"
                  "          batch_max = 8; };\n"
                  "redis = { endpoint = \"\"; };\n"
                  "services = ( { name = \"ca.marriage.get\"; department = \"civil_affairs\"; } );\n");
    kill (s_broker, SIGHUP);
    assert_true (log_has ("event=config.needs_restart setting=broker.endpoint", 5000));
    assert_true (log_has ("event=config.needs_restart setting=broker.batch_max", 100));
    assert_int_equal (call_status (client, "onenet.ping"), ONENET_OK);   /* same connection, same endpoint */
    onenet_client_destroy (&client);
}

static int
teardown (void **state)
{
    (void) state;
    bool clean = harness_stop_all_clean ();
    harness_cleanup ();
    return clean ? 0 : -1;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown (test_reload, teardown),
    };
    return cmocka_run_group_tests_name ("integration_reload", tests, NULL, NULL);
}
