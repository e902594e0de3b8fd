/*
 * test_incidents.c - incidents reported to departments, end to end with
 * real processes on 127.0.0.1: onenet-seed's synthetic stores, the public
 * security and emergency adapters, a real redis-server and the broker.
 *
 *   ps.incident.report  stores and returns the report (the
 *                       incident.reported event it publishes is for the
 *                       broker's alert rules);
 *   em.incident.report  the new incident becomes a CAP alert
 *                       "em.<district>.<incident_id>" with the mapped
 *                       severity, urgency, category and geocode;
 *   the store itself    an incident INSERTed directly into emergency.db
 *                       (as the department's own systems would) becomes an
 *                       alert too;
 *   restart             the alert cursor survives: nothing republished,
 *                       nothing written meanwhile skipped;
 *   Redis down          the alert is accepted spooled, the incident marked
 *                       published, and it reaches the stream once Redis
 *                       is back.
 *
 * One system serves the whole file; tests that stop a process start it
 * again before they end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/proto/alert.pb-c.h"
#include "onenet/proto/emergency.pb-c.h"
#include "onenet/proto/public_security.pb-c.h"

#define EM_LOG "emergency.log"

typedef struct {
    int broker_port, redis_port;
    pid_t broker, redis, ps, em;
    char data[400];
    onenet_client_t *client;
} system_t;

static system_t s;

/* --- processes --- */

static pid_t
start_department (const char *binary, const char *store, const char *log_name,
                  const char *const extra[])
{
    char bin[512], db[512], endpoint[64];
    snprintf (bin, sizeof bin, "%s", harness_bin (binary));
    snprintf (db, sizeof db, "%s/%s", s.data, store);
    snprintf (endpoint, sizeof endpoint, "%s", harness_endpoint (s.broker_port));
    const char *argv[16] = { bin, "--broker", endpoint, "--db", db };
    size_t argc = 5;
    for (size_t i = 0; extra && extra[i] && argc < 15; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    return harness_spawn (log_name, argv);
}

static pid_t
start_emergency (void)
{
    /* A short poll keeps the test quick; Exercise is the default status. */
    const char *const extra[] = { "--instance", "em1", "--poll-ms", "200", NULL };
    pid_t pid = start_department ("onenet-adapter-emergency", "emergency.db", EM_LOG, extra);
    assert_true (harness_wait_instances (s.broker_port, "em.incident.report", 1, 10000));
    return pid;
}

static int
setup_system (void **state)
{
    (void) state;
    snprintf (s.data, sizeof s.data, "%s/stores", harness_tempdir ());
    char seed[512];
    snprintf (seed, sizeof seed, "%s", harness_bin ("onenet-seed"));
    const char *argv[] = { seed,   "--out", s.data, "--people", "400",
                           "--seed", "11",  "--quiet", NULL };
    if (harness_run ("seed.log", argv) != 0)
        return -1;
    s.redis_port = harness_free_port ();
    s.redis = harness_start_redis (s.redis_port, true);
    s.broker_port = harness_free_port ();
    char config[768];
    snprintf (config, sizeof config,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "alerts = { spool = \"%s/alerts.spool\"; };\n",
              s.redis_port, harness_tempdir ());
    s.broker = harness_start_broker (s.broker_port, config);
    const char *const ps_extra[] = { "--instance", "ps1", NULL };
    s.ps = start_department ("onenet-adapter-public-security", "public_security.db",
                             "public_security.log", ps_extra);
    if (!harness_wait_instances (s.broker_port, "ps.incident.report", 1, 10000))
        return -1;
    s.em = start_emergency ();
    s.client = onenet_client_new (harness_endpoint (s.broker_port), NULL, 0);
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

/* --- calls --- */

/* Calls service and checks the status; returns the reply body unpacked
 * as type (NULL when the status is not OK). The caller frees it. */
static ProtobufCMessage *
call (const char *service, const ProtobufCMessage *request,
      const ProtobufCMessageDescriptor *type, onenet_status_t expect)
{
    onenet_call_options_t options = { .timeout_ms = 5000 };
    onenet_reply_t *reply = onenet_client_call_message (s.client, service, request, &options);
    assert_non_null (reply);
    if (onenet_reply_status (reply) != expect)
        fail_msg ("%s: expected %s, got %s (%s)", service, onenet_status_name (expect),
                  onenet_status_name (onenet_reply_status (reply)), onenet_reply_message (reply));
    ProtobufCMessage *body = NULL;
    if (expect == ONENET_OK) {
        body = onenet_reply_unpack (reply, type);
        assert_non_null (body);
    }
    onenet_reply_destroy (&reply);
    return body;
}

static void
free_message (void *message)
{
    if (message)
        protobuf_c_message_free_unpacked (message, NULL);
}

/* The newest `last` alerts (0: all, oldest first, up to 1000); NULL when
 * the stream cannot be read (Redis down). The caller frees the batch. */
static Onenet__Alert__AlertBatch *
alerts (uint32_t last)
{
    Onenet__Alert__SinceRequest request = ONENET__ALERT__SINCE_REQUEST__INIT;
    request.last = last;
    request.limit = 1000;
    onenet_reply_t *reply = onenet_client_call_message (s.client, "onenet.alert.since",
                                                        &request.base, NULL);
    Onenet__Alert__AlertBatch *batch = NULL;
    if (onenet_reply_status (reply) == ONENET_OK)
        batch = (Onenet__Alert__AlertBatch *) onenet_reply_unpack (
            reply, &onenet__alert__alert_batch__descriptor);
    onenet_reply_destroy (&reply);
    return batch;
}

/* Alerts on the stream from the emergency adapter. */
static size_t
alert_count (void)
{
    Onenet__Alert__AlertBatch *batch = alerts (0);
    assert_non_null (batch);
    assert_false (batch->more);
    size_t count = 0;
    for (size_t i = 0; i < batch->n_alerts; i++)
        count += strcmp (batch->alerts[i]->alert->sender, "duty@em.example.gov.cn") == 0;
    free_message (batch);
    return count;
}

/* Waits (up to 15 s) until an alert with this identifier is among the
 * newest five on the stream; returns a copy of it, which the caller frees. */
static Onenet__Alert__AlertEnvelope *
wait_alert (const char *identifier)
{
    for (int i = 0; i < 150; i++) {
        Onenet__Alert__AlertBatch *batch = alerts (5);
        for (size_t j = 0; batch && j < batch->n_alerts; j++)
            if (strcmp (batch->alerts[j]->alert->identifier, identifier) == 0) {
                uint8_t packed[65536];
                size_t size = onenet__alert__alert_envelope__pack (batch->alerts[j], packed);
                free_message (batch);
                return onenet__alert__alert_envelope__unpack (NULL, size, packed);
            }
        free_message (batch);
        usleep (100000);
    }
    fail_msg ("no alert %s on the stream", identifier);
    return NULL;
}

/* --- the stores, read and written with libsqlite3 --- */

static sqlite3 *
open_store (const char *file, int flags)
{
    char path[600];
    snprintf (path, sizeof path, "%s/%s", s.data, file);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2 (path, &db, flags, NULL) != SQLITE_OK)
        fail_msg ("cannot open %s: %s", path, db ? sqlite3_errmsg (db) : "?");
    sqlite3_busy_timeout (db, 5000);
    return db;
}

/* The first column of the first row as text into out ("" if no row). */
static void
query_text (const char *file, const char *sql, char *out, size_t size)
{
    sqlite3 *db = open_store (file, SQLITE_OPEN_READONLY);
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg ("%s: %s", sql, sqlite3_errmsg (db));
    out[0] = '\0';
    if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0))
        snprintf (out, size, "%s", (const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

static long
query_long (const char *file, const char *sql)
{
    char text[64];
    query_text (file, sql, text, sizeof text);
    return strtol (text, NULL, 10);
}

/* What the department's own systems do: a row straight into its table. */
static void
insert_incident (const char *incident_id, const char *kind, int level, const char *district,
                 const char *location)
{
    sqlite3 *db = open_store ("emergency.db", SQLITE_OPEN_READWRITE);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal (sqlite3_prepare_v2 (db,
                                          "INSERT INTO incidents (incident_id, kind, level,"
                                          " district_code, location, status, started_at_ms,"
                                          " ended_at_ms, description)"
                                          " VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, 0,"
                                          " 'Synthetic incident entered by the duty desk')",
                                          -1, &stmt, NULL),
                      SQLITE_OK);
    sqlite3_bind_text (stmt, 1, incident_id, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int (stmt, 3, level);
    sqlite3_bind_text (stmt, 4, district, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 5, location, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 6, onenet_wall_ms ());
    assert_int_equal (sqlite3_step (stmt), SQLITE_DONE);
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

/* True if the emergency adapter's log has a line with both texts. */
static bool
em_log_has (const char *text, const char *also)
{
    char path[600], line[2048];
    snprintf (path, sizeof path, "%s/%s", harness_tempdir (), EM_LOG);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    bool found = false;
    while (!found && fgets (line, sizeof line, file))
        found = strstr (line, text) && (!also || strstr (line, also));
    fclose (file);
    return found;
}

/* --- public security --- */

static Onenet__Ps__IncidentReport *
ps_report (const char *resident_id, const char *kind, const char *district, const char *summary,
           onenet_status_t expect)
{
    Onenet__Ps__IncidentReportRequest request = ONENET__PS__INCIDENT_REPORT_REQUEST__INIT;
    request.resident_id = (char *) resident_id;
    request.kind = (char *) kind;
    request.district_code = (char *) district;
    request.summary = (char *) summary;
    return (Onenet__Ps__IncidentReport *) call ("ps.incident.report", &request.base,
                                                &onenet__ps__incident_report__descriptor, expect);
}

static void
test_ps_incident_report (void **state)
{
    (void) state;
    char resident[32], sql[300];
    query_text ("public_security.db", "SELECT resident_id FROM persons ORDER BY resident_id",
                resident, sizeof resident);
    assert_int_equal (strlen (resident), 18);
    int64_t before = onenet_wall_ms ();
    Onenet__Ps__IncidentReport *report = ps_report (
        resident, "missing_person", "510104", "Synthetic: child not home since noon", ONENET_OK);
    assert_int_equal (strncmp (report->report_id, "R510104", 7), 0);
    assert_string_equal (report->resident_id, resident);
    assert_string_equal (report->kind, "missing_person");
    assert_string_equal (report->status, "open");
    assert_string_equal (report->district_code, "510104");
    assert_string_equal (report->summary, "Synthetic: child not home since noon");
    assert_true (report->reported_at_ms >= before);

    /* In the store, and in the person's record. */
    snprintf (sql, sizeof sql,
              "SELECT count(*) FROM incident_reports WHERE report_id = '%s' AND resident_id = '%s'"
              " AND kind = 'missing_person' AND status = 'open' AND district_code = '510104'",
              report->report_id, resident);
    assert_int_equal (query_long ("public_security.db", sql), 1);
    Onenet__Ps__PersonGetRequest get = ONENET__PS__PERSON_GET_REQUEST__INIT;
    get.resident_id = resident;
    Onenet__Ps__Person *person = (Onenet__Ps__Person *) call (
        "ps.person.get", &get.base, &onenet__ps__person__descriptor, ONENET_OK);
    bool listed = false;
    for (size_t i = 0; i < person->n_incident_reports; i++)
        listed = listed || strcmp (person->incident_reports[i]->report_id, report->report_id) == 0;
    assert_true (listed);
    free_message (person);

    /* Nobody named is allowed; each report is a new one. */
    Onenet__Ps__IncidentReport *anonymous = ps_report ("", "theft", "510107",
                                                       "Synthetic: bicycle taken", ONENET_OK);
    assert_string_equal (anonymous->resident_id, "");
    assert_string_not_equal (anonymous->report_id, report->report_id);
    free_message (anonymous);
    free_message (report);

    ps_report (resident, "arson", "510104", "Synthetic", ONENET_BAD_REQUEST);
    ps_report (resident, "theft", "5101", "Synthetic", ONENET_BAD_REQUEST);
    ps_report (resident, "theft", "51010A", "Synthetic", ONENET_BAD_REQUEST);
    ps_report ("510104199001011234", "theft", "510104", "Synthetic", ONENET_BAD_REQUEST);
    ps_report (resident, "theft", "510104", "", ONENET_BAD_REQUEST);
}

/* --- emergency --- */

static Onenet__Em__Incident *
em_report (const char *kind, uint32_t level, const char *district, const char *title,
           onenet_status_t expect)
{
    Onenet__Em__IncidentReportRequest request = ONENET__EM__INCIDENT_REPORT_REQUEST__INIT;
    request.kind = (char *) kind;
    request.level = level;
    request.district_code = (char *) district;
    request.title = (char *) title;
    request.description = "Synthetic exercise data.";
    request.location = "Jinjiang District Binjiang Road";
    return (Onenet__Em__Incident *) call ("em.incident.report", &request.base,
                                          &onenet__em__incident__descriptor, expect);
}

static const Onenet__Alert__Info *
only_info (const Onenet__Alert__AlertEnvelope *envelope)
{
    assert_int_equal (envelope->alert->n_info, 1);
    return envelope->alert->info[0];
}

static void
assert_geocode (const Onenet__Alert__Info *info, const char *district)
{
    assert_int_equal (info->n_area, 1);
    assert_int_equal (info->area[0]->n_geocode, 1);
    assert_string_equal (info->area[0]->geocode[0]->value_name, "GB/T 2260");
    assert_string_equal (info->area[0]->geocode[0]->value, district);
    char code[16];
    snprintf (code, sizeof code, "(%s)", district);
    assert_non_null (strstr (info->area[0]->area_desc, code));
}

static void
test_em_incident_report_becomes_alert (void **state)
{
    (void) state;
    int64_t before = onenet_wall_ms ();
    Onenet__Em__Incident *incident = em_report ("flood", 1, "510104",
                                                "Flooding on Binjiang Road (exercise)", ONENET_OK);
    assert_true (*incident->incident_id);
    assert_string_equal (incident->status, "open");
    assert_int_equal (incident->level, 1);
    assert_string_equal (incident->title, "Flooding on Binjiang Road (exercise)");
    assert_true (incident->started_at_ms >= before);

    char identifier[128];
    snprintf (identifier, sizeof identifier, "em.510104.%s", incident->incident_id);
    Onenet__Alert__AlertEnvelope *envelope = wait_alert (identifier);
    const Onenet__Alert__Alert *alert = envelope->alert;
    assert_string_equal (alert->sender, "duty@em.example.gov.cn");
    assert_string_equal (alert->status, "Exercise");
    assert_string_equal (alert->msg_type, "Alert");
    assert_string_equal (alert->scope, "Public");
    assert_null (strchr (alert->sent, 'Z'));
    const Onenet__Alert__Info *info = only_info (envelope);
    assert_int_equal (info->n_category, 1);
    assert_string_equal (info->category[0], "Met");
    assert_string_equal (info->event, "Flooding on Binjiang Road (exercise)");
    assert_string_equal (info->severity, "Extreme");   /* level 1: the highest response */
    assert_string_equal (info->urgency, "Immediate");
    assert_string_equal (info->certainty, "Observed");
    assert_string_equal (info->description, "Synthetic exercise data.");
    assert_geocode (info, "510104");
    free_message (envelope);
    /* The only one: the seeded incidents were history when the adapter
     * first started, not news. */
    assert_int_equal (alert_count (), 1);

    /* The incident list shows it with its title. */
    Onenet__Em__IncidentListRequest list_request = ONENET__EM__INCIDENT_LIST_REQUEST__INIT;
    list_request.area_prefix = "510104";
    list_request.open_only = true;
    Onenet__Em__IncidentList *list = (Onenet__Em__IncidentList *) call (
        "em.incident.list", &list_request.base, &onenet__em__incident_list__descriptor, ONENET_OK);
    assert_true (list->n_incidents >= 1);
    assert_string_equal (list->incidents[0]->incident_id, incident->incident_id);
    assert_string_equal (list->incidents[0]->title, incident->title);
    free_message (list);
    free_message (incident);

    em_report ("meteor", 2, "510104", "Synthetic", ONENET_BAD_REQUEST);
    em_report ("fire", 0, "510104", "Synthetic", ONENET_BAD_REQUEST);
    em_report ("fire", 5, "510104", "Synthetic", ONENET_BAD_REQUEST);
    em_report ("fire", 2, "51010", "Synthetic", ONENET_BAD_REQUEST);
    em_report ("fire", 2, "510104", "", ONENET_BAD_REQUEST);
}

static void
test_incident_written_to_the_store_becomes_alert (void **state)
{
    (void) state;
    /* An ID CAP could not carry as is: the identifier encodes it. */
    insert_incident ("EXT 2026/7", "fire", 3, "510107", "Wuhou District Test Road");
    Onenet__Alert__AlertEnvelope *envelope = wait_alert ("em.510107.EXT%202026%2F7");
    const Onenet__Alert__Info *info = only_info (envelope);
    assert_string_equal (info->category[0], "Fire");
    assert_string_equal (info->event, "Fire");   /* no title: the kind names it */
    assert_string_equal (info->severity, "Moderate");
    assert_string_equal (info->urgency, "Expected");
    assert_geocode (info, "510107");
    free_message (envelope);
}

static void
test_restart_neither_republishes_nor_skips (void **state)
{
    (void) state;
    size_t before = alert_count ();
    harness_stop (s.em, SIGTERM);
    /* Written while the adapter is down: published once it is back. */
    insert_incident ("EXT-RESTART-1", "chemical", 2, "510106", "Jinniu District Test Road");
    s.em = start_emergency ();
    Onenet__Alert__AlertEnvelope *envelope = wait_alert ("em.510106.EXT-RESTART-1");
    assert_string_equal (only_info (envelope)->category[0], "CBRNE");
    assert_string_equal (only_info (envelope)->severity, "Severe");
    free_message (envelope);
    /* Alerts go out in store order, so anything republished would have
     * been sent before this one; the broker would have answered duplicate. */
    assert_int_equal (alert_count (), before + 1);
    assert_false (em_log_has ("alert.published", "duplicate=true"));
}

static void
test_redis_down_alert_is_spooled (void **state)
{
    (void) state;
    harness_stop (s.redis, SIGKILL);
    Onenet__Em__Incident *incident = em_report ("landslide", 2, "510105",
                                                "Landslide above Qingyang Road (exercise)",
                                                ONENET_OK);
    char identifier[128], sql[300], published[128] = "", stream_id[64] = "x";
    snprintf (identifier, sizeof identifier, "em.510105.%s", incident->incident_id);
    /* Marked published as soon as the broker took it on its spool. */
    for (int i = 0; i < 150 && strcmp (published, identifier) != 0; i++) {
        usleep (100000);
        query_text ("emergency.db",
                    "SELECT last_identifier FROM onenet_alert_cursor WHERE feed = 'incidents'",
                    published, sizeof published);
    }
    assert_string_equal (published, identifier);
    query_text ("emergency.db",
                "SELECT last_stream_id FROM onenet_alert_cursor WHERE feed = 'incidents'",
                stream_id, sizeof stream_id);
    assert_string_equal (stream_id, "");   /* spooled: no stream id yet */
    snprintf (sql, sizeof sql,
              "SELECT last_rowid >= (SELECT rowid FROM incidents WHERE incident_id = '%s')"
              " FROM onenet_alert_cursor WHERE feed = 'incidents'",
              incident->incident_id);
    assert_int_equal (query_long ("emergency.db", sql), 1);
    assert_true (em_log_has (identifier, "spooled=true"));
    free_message (incident);

    /* Redis back (AOF kept the stream): the spool reaches the stream. */
    s.redis = harness_start_redis (s.redis_port, true);
    Onenet__Alert__AlertEnvelope *envelope = wait_alert (identifier);
    assert_string_equal (only_info (envelope)->category[0], "Geo");
    assert_true (*envelope->stream_id);
    free_message (envelope);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_ps_incident_report),
        cmocka_unit_test (test_em_incident_report_becomes_alert),
        cmocka_unit_test (test_incident_written_to_the_store_becomes_alert),
        cmocka_unit_test (test_restart_neither_republishes_nor_skips),
        cmocka_unit_test (test_redis_down_alert_is_spooled),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests_name ("integration_incidents", tests, setup_system,
                                        teardown_system);
}
