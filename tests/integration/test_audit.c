/*
 * test_audit.c - the audit log end to end: a seeded public security
 * store and its adapter, a real redis-server and the broker with
 * `audit = { file = ...; }`. Calls to the department and a one network
 * view are recorded; `onenet audit query --person` lists them with their
 * purpose; the chain goes on across a broker restart and catches the
 * stream up after Redis was down; and an entry edited in the file makes
 * `onenet audit verify` exit 1 naming its line.
 *
 * The file is read back with the SDK's parser (onenet/audit.h) and the
 * CLI's --json output with jansson, both already libonenet dependencies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/audit.h"
#include "onenet/proto/public_security.pb-c.h"
#include "onenet/proto/view.pb-c.h"

#define RUN_LIMIT_MS 15000
#define OUTPUT_SIZE 262144

typedef struct {
    int broker_port;
    int redis_port;
    pid_t broker;
    pid_t redis;
    pid_t adapter;
    char data[400];
    char audit_file[400];
    char config[1024];
    char endpoint[64];
    onenet_client_t *client;
} system_t;

static system_t s;

typedef struct {
    int exit_code;
    char out[OUTPUT_SIZE];
    char err[4096];
} run_t;

static void
read_text (const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    size_t n = fread (out, 1, size - 1, file);
    out[n] = '\0';
    fclose (file);
}

/* Runs `onenet args...` to completion, capturing stdout and stderr. The
 * result is static: valid until the next run. */
static const run_t *
run_cli (const char *const args[])
{
    static run_t run;
    static int serial;
    char bin[512], out_path[512], err_path[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet"));
    snprintf (out_path, sizeof out_path, "%s/audit-cli-%d.out", harness_tempdir (), serial);
    snprintf (err_path, sizeof err_path, "%s/audit-cli-%d.err", harness_tempdir (), serial++);
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
        unsetenv ("ONENET_BROKER");
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
    read_text (out_path, run.out, sizeof run.out);
    read_text (err_path, run.err, sizeof run.err);
    return &run;
}

static void
start_broker (void)
{
    s.broker = harness_start_broker (s.broker_port, s.config);
}

static pid_t
start_public_security (void)
{
    char bin[512], db[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-adapter-public-security"));
    snprintf (db, sizeof db, "%s/public_security.db", s.data);
    const char *argv[] = { bin, "--broker", s.endpoint, "--db", db, "--instance", "i1", NULL };
    pid_t pid = harness_spawn ("public_security.log", argv);
    assert_true (harness_wait_instances (s.broker_port, "ps.person.get", 1, 10000));
    assert_true (harness_wait_instances (s.broker_port, "ps.view.person", 1, 10000));
    return pid;
}

static int
setup_system (void **state)
{
    (void) state;
    snprintf (s.data, sizeof s.data, "%s/stores", harness_tempdir ());
    snprintf (s.audit_file, sizeof s.audit_file, "%s/audit.log", harness_tempdir ());
    char seed[512];
    snprintf (seed, sizeof seed, "%s", harness_bin ("onenet-seed"));
    const char *argv[] = { seed, "--out", s.data, "--people", "200", "--seed", "7",
                           "--quiet", NULL };
    if (harness_run ("seed.log", argv) != 0)
        return -1;
    s.redis_port = harness_free_port ();
    s.redis = harness_start_redis (s.redis_port, false);
    s.broker_port = harness_free_port ();
    snprintf (s.endpoint, sizeof s.endpoint, "%s", harness_endpoint (s.broker_port));
    snprintf (s.config, sizeof s.config,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "audit = { file = \"%s\"; };\n"
              "departments = ( { name = \"public_security\";"
              " view_service = \"ps.view.person\"; } );\n",
              s.redis_port, s.audit_file);
    start_broker ();
    s.adapter = start_public_security ();
    s.client = onenet_client_new (s.endpoint, NULL, 0);
    return s.client ? 0 : -1;
}

static int
teardown_system (void **state)
{
    (void) state;
    onenet_client_destroy (&s.client);
    harness_cleanup ();
    return 0;
}

/* The resident ID of the skip-th person of the seeded register. */
static void
pick (int skip, char out[19])
{
    char path[512];
    snprintf (path, sizeof path, "%s/public_security.db", s.data);
    sqlite3 *db = NULL;
    assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal (sqlite3_prepare_v2 (db, "SELECT resident_id FROM persons ORDER BY resident_id"
                                              " LIMIT 1 OFFSET ?", -1, &stmt, NULL), SQLITE_OK);
    sqlite3_bind_int (stmt, 1, skip);
    assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
    snprintf (out, 19, "%s", (const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

static void
person_get (const char *id, const char *purpose)
{
    Onenet__Ps__PersonGetRequest request = ONENET__PS__PERSON_GET_REQUEST__INIT;
    request.resident_id = (char *) id;
    onenet_call_options_t options = { .timeout_ms = 3000, .purpose = purpose };
    onenet_reply_t *reply = onenet_client_call_message (s.client, "ps.person.get", &request.base,
                                                        &options);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);
}

static void
view (const char *id, const char *purpose)
{
    Onenet__View__PersonViewRequest request = ONENET__VIEW__PERSON_VIEW_REQUEST__INIT;
    request.resident_id = (char *) id;
    onenet_call_options_t options = { .timeout_ms = 3000, .purpose = purpose };
    onenet_reply_t *reply = onenet_client_call_message (s.client, "onenet.view.person",
                                                        &request.base, &options);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);
}

/* `onenet audit query --person id --json`: the entries, once the
 * stream holds `want` of them (the stream follows asynchronously). The
 * caller releases the array. */
static json_t *
query_person (const char *id, size_t want)
{
    json_t *entries = NULL;
    for (int attempt = 0; attempt < 100; attempt++) {
        const run_t *run = run_cli ((const char *[]) { "--broker", s.endpoint, "audit", "query",
                                                       "--person", id, "--json", NULL });
        json_decref (entries);
        entries = NULL;
        if (run->exit_code == 0) {
            json_error_t error;
            json_t *root = json_loads (run->out, 0, &error);
            assert_non_null (root);
            entries = json_incref (json_object_get (root, "entries"));
            json_decref (root);
            assert_true (json_is_array (entries));
            if (json_array_size (entries) >= want)
                return entries;
        }
        usleep (100000);
    }
    fail_msg ("audit query --person did not list %zu entries", want);
    return NULL;
}

/* The entry of entries with this service and purpose, or NULL. */
static json_t *
find (json_t *entries, const char *service, const char *purpose)
{
    size_t i;
    json_t *entry;
    json_array_foreach (entries, i, entry) {
        if (strcmp (json_string_value (json_object_get (entry, "service")), service) == 0
            && strcmp (json_string_value (json_object_get (entry, "purpose")), purpose) == 0)
            return entry;
    }
    return NULL;
}

static const char *
text_of (json_t *entry, const char *key)
{
    const char *value = json_string_value (json_object_get (entry, key));
    assert_non_null (value);
    return value;
}

/* Verifies the audit file with the CLI; returns the run. */
static const run_t *
verify_file (void)
{
    return run_cli ((const char *[]) { "audit", "verify", "--file", s.audit_file, NULL });
}

/* Depends on the broker's wiring: requests and views recorded, the
 * onenet.audit.query service routed. */
static void
test_exchanges_listed_by_person_with_purpose (void **state)
{
    (void) state;
    char id[19], other[19];
    pick (3, id);
    pick (4, other);
    person_get (id, "pension review");
    view (id, "case 42 follow-up");
    person_get (other, "someone else");

    json_t *entries = query_person (id, 2);
    json_t *get = find (entries, "ps.person.get", "pension review");
    assert_non_null (get);
    assert_string_equal (text_of (get, "kind"), "request");
    assert_string_equal (text_of (get, "subject"), id);
    assert_string_equal (text_of (get, "outcome"), "OK");
    assert_string_equal (text_of (get, "answered_by"), "public_security/i1");
    assert_true (strlen (text_of (get, "requester")) > 0);
    assert_true (json_integer_value (json_object_get (get, "latency_us")) > 0);
    json_t *seen = find (entries, "onenet.view.person", "case 42 follow-up");
    assert_non_null (seen);
    assert_string_equal (text_of (seen, "kind"), "view");
    assert_string_equal (text_of (seen, "subject"), id);
    /* Only this person's exchanges. */
    size_t i;
    json_t *entry;
    json_array_foreach (entries, i, entry) assert_string_equal (text_of (entry, "subject"), id);
    assert_null (find (entries, "ps.person.get", "someone else"));
    json_decref (entries);

    /* For people: who, when, what for, who answered. */
    const run_t *run = run_cli ((const char *[]) { "--broker", s.endpoint, "audit", "query",
                                                   "--person", id, NULL });
    assert_int_equal (run->exit_code, 0);
    assert_non_null (strstr (run->out, "ps.person.get"));
    assert_non_null (strstr (run->out, "purpose \"pension review\""));
    assert_non_null (strstr (run->out, "answered by public_security/i1"));
    assert_non_null (strstr (run->out, "Z  "));   /* times in UTC */

    /* Filters combine. */
    run = run_cli ((const char *[]) { "--broker", s.endpoint, "audit", "query", "--person", id,
                                      "--since", "1h", "--json", NULL });
    assert_int_equal (run->exit_code, 0);
    assert_non_null (strstr (run->out, "pension review"));
    run = run_cli ((const char *[]) { "--broker", s.endpoint, "audit", "query", "--person", id,
                                      "--since", "2999-01-01", NULL });
    assert_int_equal (run->exit_code, 0);
    assert_non_null (strstr (run->out, "no exchange recorded matches"));
    run = run_cli ((const char *[]) { "--broker", s.endpoint, "audit", "query", "--person", id,
                                      "--department", "no_such_department", "--json", NULL });
    assert_int_equal (run->exit_code, 0);
    assert_null (strstr (run->out, "pension review"));
    /* Usage errors are caught before the broker is asked. */
    run = run_cli ((const char *[]) { "--broker", s.endpoint, "audit", "query", "--person",
                                      "510104199001011235", NULL });
    assert_int_equal (run->exit_code, 2);
    run = run_cli ((const char *[]) { "--broker", s.endpoint, "audit", "query", "--since",
                                      "yesterday", NULL });
    assert_int_equal (run->exit_code, 2);
}

/* Depends on the wiring (entries recorded) and on the broker creating
 * the audit module from audit.file. */
static void
test_chain_continues_across_restart_and_redis_outage (void **state)
{
    (void) state;
    char id[19];
    pick (5, id);
    person_get (id, "before restart");
    harness_stop (s.broker, SIGTERM);
    start_broker ();
    assert_true (harness_wait_instances (s.broker_port, "ps.person.get", 1, 10000));
    person_get (id, "after restart");

    /* Redis down: the file still gets every entry. */
    harness_stop (s.redis, SIGKILL);
    person_get (id, "while redis is down");
    const run_t *run = run_cli ((const char *[]) { "--broker", s.endpoint, "audit", "query",
                                                   "--person", id, NULL });
    assert_int_equal (run->exit_code, 1);
    assert_non_null (strstr (run->err, "UNAVAILABLE"));
    run = verify_file ();
    assert_int_equal (run->exit_code, 0);
    assert_non_null (strstr (run->out, "intact"));
    char text[OUTPUT_SIZE];
    read_text (s.audit_file, text, sizeof text);
    assert_non_null (strstr (text, "while redis is down"));

    /* Redis back, empty (no AOF): the stream is rebuilt from the file. */
    s.redis = harness_start_redis (s.redis_port, false);
    json_t *entries = query_person (id, 3);
    assert_non_null (find (entries, "ps.person.get", "before restart"));
    assert_non_null (find (entries, "ps.person.get", "after restart"));
    assert_non_null (find (entries, "ps.person.get", "while redis is down"));
    json_decref (entries);
}

/* The verify half runs on any file; the file itself comes from the wiring. */
static void
test_edited_entry_fails_verify_naming_its_line (void **state)
{
    (void) state;
    const run_t *run = verify_file ();
    assert_int_equal (run->exit_code, 0);
    /* Change one purpose, as someone covering their tracks would. */
    char text[OUTPUT_SIZE];
    read_text (s.audit_file, text, sizeof text);
    char *at = strstr (text, "\"purpose\":\"pension review\"");
    assert_non_null (at);
    int line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    memcpy (at, "\"purpose\":\"routine  check\"", strlen ("\"purpose\":\"routine  check\""));
    FILE *file = fopen (s.audit_file, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);

    run = verify_file ();
    assert_int_equal (run->exit_code, 1);
    char expected[128];
    snprintf (expected, sizeof expected,
              "onenet: audit verify: line %d (sequence %d): edited: hash mismatch", line, line);
    assert_non_null (strstr (run->err, expected));
    run = run_cli ((const char *[]) { "audit", "verify", "--file", s.audit_file, "--json", NULL });
    assert_int_equal (run->exit_code, 1);
    assert_non_null (strstr (run->out, "\"problem\": \"edited\""));
}

/* The file cannot grow (a file size limit, as on a full disk): the
 * broker goes on answering, says so in its log, and the file keeps whole
 * lines and a valid chain; nothing of a batch that failed is chained. */
static void
test_file_that_cannot_grow_keeps_a_valid_chain (void **state)
{
    (void) state;
    char first_log[64];
    snprintf (first_log, sizeof first_log, "broker-%d.log", s.broker_port);
    assert_true (harness_stop_clean (s.broker, first_log));
    /* A file of its own: the test before this one edited the shared one. */
    char audit_file[512], config_text[1024];
    snprintf (audit_file, sizeof audit_file, "%s/audit-limited.log", harness_tempdir ());
    snprintf (config_text, sizeof config_text,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "audit = { file = \"%s\"; stream = \"onenet:audit:limited\"; };\n",
              s.redis_port, audit_file);
    /* A few entries. The limit holds for every file the broker writes: its
     * log must be a new one too. */
    const char *const limited[] = { "/usr/bin/prlimit", "--fsize=3000", NULL };
    s.broker = harness_start_broker_under (limited, "broker-limited.log", s.broker_port,
                                           config_text);
    assert_true (harness_wait_instances (s.broker_port, "ps.person.get", 1, 10000));

    char id[19];
    pick (5, id);
    for (int i = 0; i < 40; i++)
        person_get (id, "full disk drill");   /* answered OK all the same */
    assert_true (harness_log_has ("broker-limited.log", "audit.write_failed", 5000));
    assert_true (harness_stop_clean (s.broker, "broker-limited.log"));

    struct stat info;
    assert_int_equal (stat (audit_file, &info), 0);
    assert_true (info.st_size > 0 && info.st_size <= 3000);
    char last = 0;
    FILE *file = fopen (audit_file, "r");
    assert_non_null (file);
    assert_int_equal (fseek (file, -1, SEEK_END), 0);
    assert_int_equal (fread (&last, 1, 1, file), 1);
    fclose (file);
    assert_int_equal (last, '\n');   /* whole lines only */
    const char *verify[] = { "audit", "verify", "--file", audit_file, NULL };
    const run_t *run = run_cli (verify);
    if (run->exit_code != 0)
        fail_msg ("audit verify: %s%s", run->out, run->err);

    start_broker ();   /* as the other tests left it */
    assert_true (harness_wait_instances (s.broker_port, "ps.person.get", 1, 10000));
}

/* An operator moves the audit file away and sends SIGHUP: the broker goes
 * on in a new file at the path, chained to the moved one; the two verify
 * as one chain, the new one alone names what to do, a restart goes on
 * from the new file, and the stream misses nothing. */
static void
test_moved_file_goes_on_in_a_new_one (void **state)
{
    (void) state;
    harness_stop (s.broker, SIGTERM);
    char moved[512];
    snprintf (s.audit_file, sizeof s.audit_file, "%s/audit-moved.log", harness_tempdir ());
    snprintf (moved, sizeof moved, "%s/audit-moved-1.log", harness_tempdir ());
    snprintf (s.config, sizeof s.config,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "audit = { file = \"%s\"; stream = \"onenet:audit:moved\"; };\n",
              s.redis_port, s.audit_file);
    start_broker ();
    assert_true (harness_wait_instances (s.broker_port, "ps.person.get", 1, 10000));
    char id[19], log_name[64];
    pick (9, id);
    snprintf (log_name, sizeof log_name, "broker-%d.log", s.broker_port);
    for (int i = 0; i < 3; i++)
        person_get (id, "before the move");
    assert_int_equal (rename (s.audit_file, moved), 0);
    kill (s.broker, SIGHUP);
    assert_true (harness_log_has (log_name, "event=audit.reopened", 10000));
    person_get (id, "after the move");

    /* The new file alone starts mid-chain, and says how to check it. */
    const run_t *run = verify_file ();
    assert_int_equal (run->exit_code, 1);
    assert_non_null (strstr (run->err, "starts at sequence 4, not 1"));
    assert_non_null (strstr (run->err, "--file OLD --file THIS"));
    run = run_cli ((const char *[]) { "audit", "verify", "--file", moved, "--file", s.audit_file,
                                      NULL });
    if (run->exit_code != 0)
        fail_msg ("audit verify of both: %s%s", run->out, run->err);
    assert_non_null (strstr (run->out, "audit-moved-1.log: intact, 3 entries (last sequence 3"));
    assert_non_null (strstr (run->out, "audit-moved.log: intact, 1 entries (last sequence 4"));

    /* A restart goes on from the new file, whose only entry continues the
     * moved one. */
    harness_stop (s.broker, SIGTERM);
    start_broker ();
    assert_true (harness_wait_instances (s.broker_port, "ps.person.get", 1, 10000));
    person_get (id, "after the restart");
    run = run_cli ((const char *[]) { "audit", "verify", "--file", moved, "--file", s.audit_file,
                                      NULL });
    if (run->exit_code != 0)
        fail_msg ("audit verify after the restart: %s%s", run->out, run->err);
    assert_non_null (strstr (run->out, "audit-moved.log: intact, 2 entries (last sequence 5"));
    /* Swapped, they are no chain. */
    run = run_cli ((const char *[]) { "audit", "verify", "--file", s.audit_file, "--file", moved,
                                      NULL });
    assert_int_equal (run->exit_code, 1);

    json_t *entries = query_person (id, 5);
    assert_non_null (find (entries, "ps.person.get", "before the move"));
    assert_non_null (find (entries, "ps.person.get", "after the move"));
    assert_non_null (find (entries, "ps.person.get", "after the restart"));
    json_decref (entries);
}

/* The stream keeps audit.stream_keep_s: older entries and their index
 * members leave Redis (and queries), the file keeps them. Runs last: it
 * restarts the broker with a short keep. */
static void
test_stream_keeps_its_window (void **state)
{
    (void) state;
    harness_stop (s.broker, SIGTERM);
    int http_port = harness_free_port ();
    /* A file of its own: an earlier test edited the shared one. */
    snprintf (s.audit_file, sizeof s.audit_file, "%s/audit-window.log", harness_tempdir ());
    snprintf (s.config, sizeof s.config,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "audit = { file = \"%s\"; stream = \"onenet:audit:window\"; stream_keep_s = 2; };\n"
              "http = { endpoint = \"127.0.0.1:%d\"; };\n",
              s.redis_port, s.audit_file, http_port);
    start_broker ();
    assert_true (harness_wait_instances (s.broker_port, "ps.person.get", 1, 10000));
    char old[19], recent[19];
    pick (7, old);
    pick (8, recent);
    for (int i = 0; i < 3; i++)
        person_get (old, "aged out");
    json_decref (query_person (old, 3));   /* in the stream */
    sleep (3);
    person_get (recent, "kept");   /* the stream's newest entry is never trimmed */

    size_t left = 3;
    for (int i = 0; i < 100 && left > 0; i++) {
        const run_t *run = run_cli ((const char *[]) { "--broker", s.endpoint, "audit", "query",
                                                       "--person", old, "--json", NULL });
        assert_int_equal (run->exit_code, 0);
        json_t *root = json_loads (run->out, 0, NULL);
        assert_non_null (root);
        left = json_array_size (json_object_get (root, "entries"));
        json_decref (root);
        if (left > 0)
            usleep (100000);
    }
    assert_int_equal (left, 0);
    char command[128];
    snprintf (command, sizeof command, "EXISTS onenet:audit:window:person:%s", old);
    assert_int_equal (harness_redis_int (s.redis_port, command), 0);   /* its index emptied and gone */
    assert_true (harness_metric (http_port, "onenet_audit_trimmed_total") >= 3);
    json_t *entries = query_person (recent, 1);
    assert_non_null (find (entries, "ps.person.get", "kept"));
    json_decref (entries);

    /* The file keeps everything, and its chain holds. */
    char text[OUTPUT_SIZE];
    read_text (s.audit_file, text, sizeof text);
    assert_non_null (strstr (text, "aged out"));
    const run_t *run = verify_file ();
    assert_int_equal (run->exit_code, 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_exchanges_listed_by_person_with_purpose),
        cmocka_unit_test (test_chain_continues_across_restart_and_redis_outage),
        cmocka_unit_test (test_edited_entry_fails_verify_naming_its_line),
        cmocka_unit_test (test_file_that_cannot_grow_keeps_a_valid_chain),
        cmocka_unit_test (test_moved_file_goes_on_in_a_new_one),
        cmocka_unit_test (test_stream_keeps_its_window),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests (tests, setup_system, teardown_system);
}
