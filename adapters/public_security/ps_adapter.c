/*
 * ps_adapter.c - onenet-adapter-public-security: the population register
 * of the public security department, offered to OneNet.
 *
 *   ps.person.get     PersonGetRequest       -> Person        (idempotent)
 *   ps.person.search  PersonSearchRequest    -> PersonList    (idempotent)
 *   ps.person.update  PersonUpdateRequest    -> Person        (not idempotent;
 *                     publishes EVENT record.changed {resident_id, "person"})
 *   ps.household.get  HouseholdGetRequest    -> Household     (idempotent)
 *   ps.view.person    view.ContributionRequest -> view.Contribution (idempotent)
 *   ps.incident.report IncidentReportRequest -> IncidentReport (not idempotent;
 *                     publishes EVENT incident.reported {the IncidentReport},
 *                     and record.changed {resident_id, "incident_report"}
 *                     when a resident is named)
 *
 * Built like adapters/example/: the SDK does registration, heartbeats and
 * reconnection; this file checks requests and maps them onto ps_store.c.
 *
 *   onenet-adapter-public-security --broker tcp://127.0.0.1:5570 --db public_security.db
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <onenet/onenet.h>
#include <onenet/contribution.h>
#include <onenet/resident_id.h>
#include <onenet/proto/public_security.pb-c.h>
#include <onenet/proto/view.pb-c.h>
#include "ps_store.h"

#define DEPARTMENT "public_security"
#define SEARCH_LIMIT 100

/* --- request checks shared by the handlers --- */

/* True if text is 1..max bytes with no control characters. */
static bool
plain_text (const char *text, size_t max)
{
    size_t length = strlen (text);
    if (length == 0 || length > max)
        return false;
    for (size_t i = 0; i < length; i++)
        if ((unsigned char) text[i] < 0x20 || text[i] == 0x7f)
            return false;
    return true;
}

/* A phone number: 5..20 of digits, '+', '-', ' '. */
static bool
phone_valid (const char *phone)
{
    size_t length = strlen (phone);
    if (length < 5 || length > 20)
        return false;
    for (size_t i = 0; i < length; i++)
        if (!strchr ("0123456789+- ", phone[i]))
            return false;
    return true;
}

/* YYYY-MM-DD, shape only (the store simply finds nobody for a wrong date). */
static bool
date_shaped (const char *date)
{
    if (strlen (date) != 10 || date[4] != '-' || date[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (date[i] < '0' || date[i] > '9'))
            return false;
    return true;
}

/* The kinds of incident report the register knows (proto/public_security.proto). */
static const char *const s_report_kinds[]
    = { "theft", "dispute", "traffic", "missing_person", "fraud", "noise" };

static bool
report_kind_known (const char *kind)
{
    for (size_t i = 0; i < sizeof s_report_kinds / sizeof s_report_kinds[0]; i++)
        if (strcmp (s_report_kinds[i], kind) == 0)
            return true;
    return false;
}

/* A GB/T 2260 division code: exactly 6 digits. */
static bool
district_code_valid (const char *code)
{
    if (strlen (code) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        if (code[i] < '0' || code[i] > '9')
            return false;
    return true;
}

/* Answers BAD_REQUEST when the body did not unpack or the resident ID is
 * invalid; returns true when the handler may go on. */
static bool
check_resident_id (onenet_adapter_t *adapter, onenet_request_t **request_p,
                   const ProtobufCMessage *in, const char *resident_id)
{
    char why[128], message[200];
    if (!in) {
        snprintf (message, sizeof message, "body is not a valid %s request",
                  onenet_request_service (*request_p));
        onenet_adapter_reply (adapter, request_p, ONENET_BAD_REQUEST, message, NULL, 0);
        return false;
    }
    if (!onenet_resident_id_valid (resident_id, why, sizeof why)) {
        onenet_adapter_reply (adapter, request_p, ONENET_BAD_REQUEST, why, NULL, 0);
        return false;
    }
    return true;
}

static void
reply_store_error (onenet_adapter_t *adapter, onenet_request_t **request_p, ps_store_t *store)
{
    char quoted[300];
    onenet_error ("store.error", "service=%s reason=%s", onenet_request_service (*request_p),
                  onenet_log_quote (ps_store_error (store), quoted, sizeof quoted));
    onenet_adapter_reply (adapter, request_p, ONENET_INTERNAL, "public security store error",
                          NULL, 0);
}

/* --- services --- */

static void
on_person_get (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    ps_store_t *store = arg;
    Onenet__Ps__PersonGetRequest *in = (Onenet__Ps__PersonGetRequest *) onenet_request_message (
        request, &onenet__ps__person_get_request__descriptor);
    Onenet__Ps__Person *person = NULL;
    if (check_resident_id (adapter, &request, in ? &in->base : NULL, in ? in->resident_id : NULL)) {
        int found = ps_store_person (store, in->resident_id, true, &person);
        if (found < 0)
            reply_store_error (adapter, &request, store);
        else if (found == 0)
            onenet_adapter_reply (adapter, &request, ONENET_NOT_FOUND, "no such person", NULL, 0);
        else
            onenet_adapter_reply_message (adapter, &request, &person->base);
    }
    if (person)
        protobuf_c_message_free_unpacked (&person->base, NULL);
}

static void
on_person_search (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    ps_store_t *store = arg;
    Onenet__Ps__PersonSearchRequest *in
        = (Onenet__Ps__PersonSearchRequest *) onenet_request_message (
            request, &onenet__ps__person_search_request__descriptor);
    Onenet__Ps__PersonList *list = NULL;
    if (!in)
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "body is not a onenet.ps.PersonSearchRequest", NULL, 0);
    else if (!plain_text (in->name, 64))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "name is required (at most 64 bytes)", NULL, 0);
    else if (*in->birth_date && !date_shaped (in->birth_date))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "birth_date must be YYYY-MM-DD", NULL, 0);
    else {
        unsigned limit = in->limit == 0 || in->limit > SEARCH_LIMIT ? SEARCH_LIMIT : in->limit;
        if (ps_store_search (store, in->name, in->birth_date, limit, &list) < 0)
            reply_store_error (adapter, &request, store);
        else
            onenet_adapter_reply_message (adapter, &request, &list->base);
    }
    if (list)
        protobuf_c_message_free_unpacked (&list->base, NULL);
}

static void
on_person_update (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    ps_store_t *store = arg;
    Onenet__Ps__PersonUpdateRequest *in
        = (Onenet__Ps__PersonUpdateRequest *) onenet_request_message (
            request, &onenet__ps__person_update_request__descriptor);
    Onenet__Ps__Person *person = NULL;
    if (!check_resident_id (adapter, &request, in ? &in->base : NULL, in ? in->resident_id : NULL))
        ;
    else if (!*in->address && !*in->phone)
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "nothing to update: set address and/or phone", NULL, 0);
    else if (*in->address && !plain_text (in->address, 200))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "address must be 1..200 bytes without control characters", NULL, 0);
    else if (*in->phone && !phone_valid (in->phone))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "phone must be 5..20 digits, '+', '-' or spaces", NULL, 0);
    else {
        int updated = ps_store_update (store, in->resident_id, in->address, in->phone,
                                       onenet_wall_ms ());
        if (updated > 0)
            updated = ps_store_person (store, in->resident_id, false, &person);
        if (updated < 0)
            reply_store_error (adapter, &request, store);
        else if (updated == 0)
            onenet_adapter_reply (adapter, &request, ONENET_NOT_FOUND, "no such person", NULL, 0);
        else {
            /* The event goes out before the reply on the same connection, so
             * the broker drops cached views before the caller can ask again. */
            Onenet__View__RecordChanged changed = ONENET__VIEW__RECORD_CHANGED__INIT;
            changed.resident_id = person->resident_id;
            changed.record = "person";
            if (onenet_adapter_publish (adapter, "record.changed", &changed.base) < 0)
                onenet_warn ("event.lost", "topic=record.changed reason=%s",
                             errno == EAGAIN ? "queue_full" : "not_connected");
            onenet_info ("record.updated", "record=person service=ps.person.update");
            onenet_adapter_reply_message (adapter, &request, &person->base);
        }
    }
    if (person)
        protobuf_c_message_free_unpacked (&person->base, NULL);
}

static void
on_household_get (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    ps_store_t *store = arg;
    Onenet__Ps__HouseholdGetRequest *in
        = (Onenet__Ps__HouseholdGetRequest *) onenet_request_message (
            request, &onenet__ps__household_get_request__descriptor);
    Onenet__Ps__Household *household = NULL;
    if (!in || !plain_text (in->household_id, 32))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "household_id is required (at most 32 bytes)", NULL, 0);
    else {
        int found = ps_store_household (store, in->household_id, &household);
        if (found < 0)
            reply_store_error (adapter, &request, store);
        else if (found == 0)
            onenet_adapter_reply (adapter, &request, ONENET_NOT_FOUND, "no such household",
                                  NULL, 0);
        else
            onenet_adapter_reply_message (adapter, &request, &household->base);
    }
    if (household)
        protobuf_c_message_free_unpacked (&household->base, NULL);
}

/* A new incident report. Like ps.person.update, the events go out before
 * the reply on the same connection: by the time the caller has its
 * report, the broker has seen incident.reported (and may have raised an
 * alert from it) and dropped cached views of the resident. */
static void
on_incident_report (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    ps_store_t *store = arg;
    Onenet__Ps__IncidentReportRequest *in
        = (Onenet__Ps__IncidentReportRequest *) onenet_request_message (
            request, &onenet__ps__incident_report_request__descriptor);
    Onenet__Ps__IncidentReport *report = NULL;
    char why[128];
    if (!in)
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "body is not a onenet.ps.IncidentReportRequest", NULL, 0);
    else if (!report_kind_known (in->kind))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "kind must be one of theft, dispute, traffic, missing_person,"
                              " fraud, noise",
                              NULL, 0);
    else if (!district_code_valid (in->district_code))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "district_code must be a 6-digit GB/T 2260 code", NULL, 0);
    else if (*in->resident_id && !onenet_resident_id_valid (in->resident_id, why, sizeof why))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST, why, NULL, 0);
    else if (!plain_text (in->summary, 200))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "summary is required (1..200 bytes without control characters)",
                              NULL, 0);
    else if (ps_store_report_add (store, in->resident_id, in->kind, in->district_code,
                                  in->summary, onenet_wall_ms (), &report)
             < 0)
        reply_store_error (adapter, &request, store);
    else {
        if (onenet_adapter_publish (adapter, "incident.reported", &report->base) < 0)
            onenet_warn ("event.lost", "topic=incident.reported reason=%s",
                             errno == EAGAIN ? "queue_full" : "not_connected");
        if (*report->resident_id) {
            Onenet__View__RecordChanged changed = ONENET__VIEW__RECORD_CHANGED__INIT;
            changed.resident_id = report->resident_id;
            changed.record = "incident_report";
            if (onenet_adapter_publish (adapter, "record.changed", &changed.base) < 0)
                onenet_warn ("event.lost", "topic=record.changed reason=%s",
                             errno == EAGAIN ? "queue_full" : "not_connected");
        }
        onenet_info ("incident.reported", "report=%s kind=%s district=%s", report->report_id,
                     report->kind, report->district_code);
        onenet_adapter_reply_message (adapter, &request, &report->base);
    }
    if (report)
        protobuf_c_message_free_unpacked (&report->base, NULL);
}

/* The register's part of the one network view. The detail is the Person
 * without incident reports: those stay with the police; the view only
 * says how many there are. */
static void
on_view_person (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    ps_store_t *store = arg;
    Onenet__View__ContributionRequest *in
        = (Onenet__View__ContributionRequest *) onenet_request_message (
            request, &onenet__view__contribution_request__descriptor);
    Onenet__Ps__Person *person = NULL;
    if (check_resident_id (adapter, &request, in ? &in->base : NULL, in ? in->resident_id : NULL)) {
        int found = ps_store_person (store, in->resident_id, true, &person);
        onenet_contribution_t *contribution = found >= 0 ? onenet_contribution_new (found > 0)
                                                         : NULL;
        if (found > 0 && contribution) {
            char reports[16];
            snprintf (reports, sizeof reports, "%zu", person->n_incident_reports);
            onenet_contribution_add (contribution, "name", person->name, NULL);
            onenet_contribution_add (contribution, "birth_date", person->birth_date, NULL);
            onenet_contribution_add (contribution, "sex", person->sex, NULL);
            onenet_contribution_add (contribution, "address", person->address,
                                     "户籍地址 Registered address");
            onenet_contribution_add (contribution, "phone", person->phone, NULL);
            onenet_contribution_add (contribution, "household_id", person->household_id, NULL);
            onenet_contribution_add (contribution, "household_relation",
                                     person->household_relation,
                                     "与户主关系 Relation to head of household");
            onenet_contribution_add (contribution, "district_code", person->district_code,
                                     "户籍地区划 Registered district");
            onenet_contribution_add (contribution, "incident_reports", reports,
                                     "报警记录 Incident reports");
            /* Keep the reports out of the shared detail. */
            size_t n_reports = person->n_incident_reports;
            person->n_incident_reports = 0;
            int rc = onenet_contribution_set_detail (contribution, &person->base);
            person->n_incident_reports = n_reports;
            if (rc < 0)
                onenet_contribution_destroy (&contribution);
            else
                onenet_contribution_set_updated_at (contribution, person->updated_at_ms);
        }
        if (found < 0)
            reply_store_error (adapter, &request, store);
        else if (!contribution)
            onenet_adapter_reply (adapter, &request, ONENET_INTERNAL, "out of memory", NULL, 0);
        else
            onenet_contribution_reply (contribution, adapter, &request);
        onenet_contribution_destroy (&contribution);
    }
    if (person)
        protobuf_c_message_free_unpacked (&person->base, NULL);
}

/* --- main --- */

static void
usage (FILE *out, const char *program)
{
    fprintf (out,
             "Usage: %s --db PATH [--broker ENDPOINT] [--instance NAME] [--credit N]\n"
             "Offers the public security population register (ps.person.get, ps.person.search,\n"
             "ps.person.update, ps.household.get, ps.view.person, ps.incident.report) from an\n"
             "SQLite store.\n"
             "  --broker ENDPOINT  broker to connect to (default $ONENET_BROKER or %s)\n"
             "  --db PATH          the store, e.g. made by onenet-seed\n"
             "  --instance NAME    instance name (default host-pid)\n"
             "  --credit N         requests taken in flight (default 32)\n"
             "Example: %s --broker tcp://127.0.0.1:5570 --db data/public_security.db\n",
             program, "tcp://127.0.0.1:5570", program);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "broker", required_argument, NULL, 'b' }, { "db", required_argument, NULL, 'd' },
        { "instance", required_argument, NULL, 'i' }, { "credit", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
    };
    const char *broker = NULL, *db = NULL, *instance = NULL;
    long credit = 32;
    int opt;
    while ((opt = getopt_long (argc, argv, "b:d:i:c:h", options, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'b': broker = optarg; break;
        case 'd': db = optarg; break;
        case 'i': instance = optarg; break;
        case 'c':
            credit = strtol (optarg, &end, 10);
            if (*end || credit < 1 || credit > 65535) {
                fprintf (stderr, "%s: --credit must be 1..65535\n", argv[0]);
                return 2;
            }
            break;
        case 'h': usage (stdout, argv[0]); return 0;
        default: usage (stderr, argv[0]); return 2;
        }
    }
    if (!db || optind < argc) {
        fprintf (stderr, "%s: %s\n", argv[0], db ? "unexpected argument" : "--db PATH is required");
        usage (stderr, argv[0]);
        return 2;
    }
    onenet_log_configure (ONENET_LOG_INFO, 0, DEPARTMENT);
    char err[512];
    ps_store_t *store = ps_store_open (db, err, sizeof err);
    if (!store) {
        fprintf (stderr, "%s: %s\n", argv[0], err);
        return 1;
    }
    onenet_adapter_t *adapter = onenet_adapter_new (broker, DEPARTMENT, instance, err, sizeof err);
    if (!adapter) {
        fprintf (stderr, "%s: %s\n", argv[0], err);
        ps_store_close (&store);
        return 1;
    }
    onenet_adapter_set_credit (adapter, (unsigned) credit);
    onenet_adapter_offer (adapter, "ps.person.get", on_person_get, store,
                          &(onenet_offer_options_t) {
                              &onenet__ps__person_get_request__descriptor,
                              &onenet__ps__person__descriptor, true,
                              "A resident from the population register, by resident ID" });
    onenet_adapter_offer (adapter, "ps.person.search", on_person_search, store,
                          &(onenet_offer_options_t) {
                              &onenet__ps__person_search_request__descriptor,
                              &onenet__ps__person_list__descriptor, true,
                              "Residents by exact name and optional birth date" });
    onenet_adapter_offer (adapter, "ps.person.update", on_person_update, store,
                          &(onenet_offer_options_t) {
                              &onenet__ps__person_update_request__descriptor,
                              &onenet__ps__person__descriptor, false,
                              "Changes a resident's registered address and/or phone" });
    onenet_adapter_offer (adapter, "ps.household.get", on_household_get, store,
                          &(onenet_offer_options_t) {
                              &onenet__ps__household_get_request__descriptor,
                              &onenet__ps__household__descriptor, true,
                              "A household and its members" });
    onenet_adapter_offer (adapter, "ps.view.person", on_view_person, store,
                          &(onenet_offer_options_t) {
                              &onenet__view__contribution_request__descriptor,
                              &onenet__view__contribution__descriptor, true,
                              "Public security's part of the one network view of a person" });
    onenet_adapter_offer (adapter, "ps.incident.report", on_incident_report, store,
                          &(onenet_offer_options_t) {
                              &onenet__ps__incident_report_request__descriptor,
                              &onenet__ps__incident_report__descriptor, false,
                              "Files an incident report; publishes incident.reported" });
    onenet_info ("store.open", "department=%s instance=%s persons=%ld", DEPARTMENT,
                 onenet_adapter_instance (adapter), ps_store_count_persons (store));
    onenet_signals_catch ();
    int rc = onenet_adapter_run (adapter);
    if (rc < 0 || *onenet_adapter_error (adapter))
        fprintf (stderr, "%s: %s\n", argv[0], onenet_adapter_error (adapter));
    onenet_adapter_destroy (&adapter);
    ps_store_close (&store);
    return rc < 0 ? 1 : 0;
}
