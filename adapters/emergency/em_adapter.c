/*
 * em_adapter.c - onenet-adapter-emergency: the emergency management
 * department's incidents, shelters and vulnerable-people registry,
 * offered to OneNet, and the department's alerts.
 *
 *   em.vulnerable.get  VulnerableGetRequest -> VulnerablePerson   (idempotent)
 *   em.shelter.list    ShelterListRequest   -> ShelterList        (idempotent)
 *   em.incident.list   IncidentListRequest  -> IncidentList       (idempotent)
 *   em.view.person     view.ContributionRequest -> view.Contribution (idempotent)
 *   em.incident.report IncidentReportRequest -> Incident          (not idempotent)
 *
 * Every new incident in the store, reported through em.incident.report or
 * written by the department's own systems, is published as a CAP alert
 * (em_alerts.c). The adapter therefore runs its own poll loop: the
 * adapter's socket and the alert publisher's client socket side by side,
 * so publishing never holds up requests.
 *
 * Built like adapters/example/; SQLite access is in em_store.c.
 *
 *   onenet-adapter-emergency --broker tcp://127.0.0.1:5570 --db emergency.db
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <onenet/onenet.h>
#include <onenet/contribution.h>
#include <onenet/resident_id.h>
#include <onenet/proto/emergency.pb-c.h>
#include <onenet/proto/view.pb-c.h>
#include "em_alerts.h"
#include "em_store.h"

#define DEPARTMENT "emergency"
#define SHELTER_LIMIT 1000
#define INCIDENT_DEFAULT 100
#define INCIDENT_LIMIT 1000

/* What the handlers that write share. */
typedef struct {
    em_store_t *store;
    em_alerts_t *alerts;
} em_t;

static const char *const s_incident_kinds[]
    = { "flood", "fire", "earthquake", "landslide", "storm", "chemical", "traffic", "other" };

/* An area prefix: up to 6 digits ("" for everywhere). */
static bool
area_prefix_valid (const char *prefix)
{
    size_t length = strlen (prefix);
    if (length > 6)
        return false;
    for (size_t i = 0; i < length; i++)
        if (prefix[i] < '0' || prefix[i] > '9')
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
reply_store_error (onenet_adapter_t *adapter, onenet_request_t **request_p, em_store_t *store)
{
    char quoted[300];
    onenet_error ("store.error", "service=%s reason=%s", onenet_request_service (*request_p),
                  onenet_log_quote (em_store_error (store), quoted, sizeof quoted));
    onenet_adapter_reply (adapter, request_p, ONENET_INTERNAL, "emergency store error", NULL, 0);
}

static void
on_vulnerable_get (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    em_store_t *store = arg;
    Onenet__Em__VulnerableGetRequest *in
        = (Onenet__Em__VulnerableGetRequest *) onenet_request_message (
            request, &onenet__em__vulnerable_get_request__descriptor);
    Onenet__Em__VulnerablePerson *person = NULL;
    if (check_resident_id (adapter, &request, in ? &in->base : NULL, in ? in->resident_id : NULL)) {
        int found = em_store_vulnerable (store, in->resident_id, &person);
        if (found < 0)
            reply_store_error (adapter, &request, store);
        else if (found == 0)
            onenet_adapter_reply (adapter, &request, ONENET_NOT_FOUND,
                                  "not on the vulnerable-people registry", NULL, 0);
        else
            onenet_adapter_reply_message (adapter, &request, &person->base);
    }
    if (person)
        protobuf_c_message_free_unpacked (&person->base, NULL);
}

static void
on_shelter_list (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    em_store_t *store = arg;
    Onenet__Em__ShelterListRequest *in = (Onenet__Em__ShelterListRequest *) onenet_request_message (
        request, &onenet__em__shelter_list_request__descriptor);
    Onenet__Em__ShelterList *list = NULL;
    if (!in || !area_prefix_valid (in->area_prefix))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "area_prefix must be at most 6 digits", NULL, 0);
    else if (em_store_shelters (store, in->area_prefix, SHELTER_LIMIT, &list) < 0)
        reply_store_error (adapter, &request, store);
    else
        onenet_adapter_reply_message (adapter, &request, &list->base);
    if (list)
        protobuf_c_message_free_unpacked (&list->base, NULL);
}

static void
on_incident_list (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    em_store_t *store = arg;
    Onenet__Em__IncidentListRequest *in
        = (Onenet__Em__IncidentListRequest *) onenet_request_message (
            request, &onenet__em__incident_list_request__descriptor);
    Onenet__Em__IncidentList *list = NULL;
    if (!in || !area_prefix_valid (in->area_prefix))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "area_prefix must be at most 6 digits", NULL, 0);
    else {
        unsigned limit = in->limit == 0 ? INCIDENT_DEFAULT
                         : in->limit > INCIDENT_LIMIT ? INCIDENT_LIMIT
                                                      : in->limit;
        if (em_store_incidents (store, in->area_prefix, in->open_only, limit, &list) < 0)
            reply_store_error (adapter, &request, store);
        else
            onenet_adapter_reply_message (adapter, &request, &list->base);
    }
    if (list)
        protobuf_c_message_free_unpacked (&list->base, NULL);
}

/* True if text is at most max bytes with no control characters but tab
 * and line breaks (multi_line) or none at all; required: at least 1 byte. */
static bool
text_valid (const char *text, size_t max, bool required, bool multi_line)
{
    size_t length = strlen (text);
    if ((required && length == 0) || length > max)
        return false;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char) text[i];
        if ((c < 0x20 || c == 0x7f) && !(multi_line && (c == '\t' || c == '\n' || c == '\r')))
            return false;
    }
    return true;
}

static bool
incident_kind_known (const char *kind)
{
    for (size_t i = 0; i < sizeof s_incident_kinds / sizeof s_incident_kinds[0]; i++)
        if (strcmp (s_incident_kinds[i], kind) == 0)
            return true;
    return false;
}

static bool
district_code_valid (const char *code)
{
    return strlen (code) == 6 && area_prefix_valid (code);
}

/* A new incident. Its alert goes out from the loop, not from here: the
 * publisher is woken so it looks at once instead of at the next poll. */
static void
on_incident_report (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    em_t *em = arg;
    Onenet__Em__IncidentReportRequest *in
        = (Onenet__Em__IncidentReportRequest *) onenet_request_message (
            request, &onenet__em__incident_report_request__descriptor);
    Onenet__Em__Incident *incident = NULL;
    if (!in)
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "body is not a onenet.em.IncidentReportRequest", NULL, 0);
    else if (!incident_kind_known (in->kind))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "kind must be one of flood, fire, earthquake, landslide, storm,"
                              " chemical, traffic, other",
                              NULL, 0);
    else if (in->level < 1 || in->level > 4)
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "level must be 1 (most severe) to 4", NULL, 0);
    else if (!district_code_valid (in->district_code))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "district_code must be a 6-digit GB/T 2260 code", NULL, 0);
    else if (!text_valid (in->title, 200, true, false))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "title is required (1..200 bytes without control characters)",
                              NULL, 0);
    else if (!text_valid (in->location, 200, false, false))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "location must be at most 200 bytes without control characters",
                              NULL, 0);
    else if (!text_valid (in->description, 2000, false, true))
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                              "description must be at most 2000 bytes without control characters",
                              NULL, 0);
    else if (em_store_incident_add (em->store, in->kind, in->level, in->district_code,
                                    in->location, in->title, in->description, onenet_wall_ms (),
                                    &incident)
             < 0)
        reply_store_error (adapter, &request, em->store);
    else {
        onenet_info ("incident.reported", "incident=%s kind=%s level=%u district=%s",
                     incident->incident_id, incident->kind, incident->level,
                     incident->district_code);
        em_alerts_wake (em->alerts);
        onenet_adapter_reply_message (adapter, &request, &incident->base);
    }
    if (incident)
        protobuf_c_message_free_unpacked (&incident->base, NULL);
}

/* Emergency management's part of the one network view: known only for
 * people on the vulnerable registry; says why they are vulnerable and
 * in which order they are evacuated. */
static void
on_view_person (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    em_store_t *store = arg;
    Onenet__View__ContributionRequest *in
        = (Onenet__View__ContributionRequest *) onenet_request_message (
            request, &onenet__view__contribution_request__descriptor);
    Onenet__Em__VulnerablePerson *person = NULL;
    if (check_resident_id (adapter, &request, in ? &in->base : NULL, in ? in->resident_id : NULL)) {
        int found = em_store_vulnerable (store, in->resident_id, &person);
        onenet_contribution_t *contribution = found >= 0 ? onenet_contribution_new (found > 0)
                                                         : NULL;
        if (found > 0 && contribution) {
            char vulnerability[80] = "", priority[8];
            if (person->elderly_alone)
                strcat (vulnerability, "elderly_alone");
            if (person->disabled)
                strcat (strcat (vulnerability, *vulnerability ? "," : ""), "disabled");
            if (person->needs_evacuation_help)
                strcat (strcat (vulnerability, *vulnerability ? "," : ""),
                        "needs_evacuation_help");
            if (!*vulnerability)
                strcat (vulnerability, "elderly");
            snprintf (priority, sizeof priority, "%u", person->evacuation_priority);
            onenet_contribution_add (contribution, "name", person->name, NULL);
            onenet_contribution_add (contribution, "birth_date", person->birth_date, NULL);
            onenet_contribution_add (contribution, "sex", person->sex, NULL);
            onenet_contribution_add (contribution, "address", person->address,
                                     "应急联系地址 Address for emergencies");
            onenet_contribution_add (contribution, "phone", person->phone, NULL);
            onenet_contribution_add (contribution, "vulnerability", vulnerability,
                                     "脆弱人群类别 Vulnerability");
            onenet_contribution_add (contribution, "evacuation_priority", priority,
                                     "疏散优先级 Evacuation priority (1 first)");
            onenet_contribution_add (contribution, "assigned_shelter", person->shelter_id,
                                     "指定避难场所 Assigned shelter");
            onenet_contribution_add (contribution, "caretaker_phone", person->caretaker_phone,
                                     "照护人电话 Caretaker phone");
            if (onenet_contribution_set_detail (contribution, &person->base) < 0)
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

static void
usage (FILE *out, const char *program)
{
    fprintf (out,
             "Usage: %s --db PATH [--broker ENDPOINT] [--instance NAME] [--credit N]\n"
             "       [--poll-ms MS] [--alert-status Exercise|Actual]\n"
             "Offers emergency management data (em.vulnerable.get, em.shelter.list,\n"
             "em.incident.list, em.view.person, em.incident.report) from an SQLite store, and\n"
             "publishes every new incident in the store as a CAP alert.\n"
             "  --broker ENDPOINT  broker to connect to (default $ONENET_BROKER or %s)\n"
             "  --db PATH          the store, e.g. made by onenet-seed\n"
             "  --instance NAME    instance name (default host-pid)\n"
             "  --credit N         requests taken in flight (default 32)\n"
             "  --poll-ms MS       how often to look for new incidents (default 1000)\n"
             "  --alert-status S   CAP status of the alerts: Exercise (default: the data is\n"
             "                     synthetic) or Actual\n"
             "Example: %s --broker tcp://127.0.0.1:5570 --db data/emergency.db\n",
             program, "tcp://127.0.0.1:5570", program);
}

/* Like onenet_adapter_run, with the alert publisher's socket in the same
 * poll. Returns 0 when stopped by a signal, -1 when the adapter failed. */
static int
run (onenet_adapter_t *adapter, em_alerts_t *alerts)
{
    if (onenet_adapter_start (adapter) < 0)
        return -1;
    for (;;) {
        zmq_pollitem_t items[2] = { { em_alerts_socket (alerts), 0, ZMQ_POLLIN, 0 },
                                    { onenet_adapter_socket (adapter), 0, ZMQ_POLLIN, 0 } };
        int wait = onenet_adapter_next_timeout_ms (adapter);
        int publisher = em_alerts_next_timeout_ms (alerts);
        if (wait < 0 || (publisher >= 0 && publisher < wait))
            wait = publisher;
        if (zmq_poll (items, items[1].socket ? 2 : 1, wait) < 0 && errno != EINTR)
            return -1;
        if (onenet_adapter_poll (adapter, 0) < 0)
            break;
        em_alerts_handle (alerts);
    }
    onenet_info ("adapter.stop", "department=%s instance=%s", DEPARTMENT,
                 onenet_adapter_instance (adapter));
    return onenet_interrupted () ? 0 : -1;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "broker", required_argument, NULL, 'b' }, { "db", required_argument, NULL, 'd' },
        { "instance", required_argument, NULL, 'i' }, { "credit", required_argument, NULL, 'c' },
        { "poll-ms", required_argument, NULL, 'p' },
        { "alert-status", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
    };
    const char *broker = NULL, *db = NULL, *instance = NULL, *alert_status = "Exercise";
    long credit = 32, poll_ms = 1000;
    int opt;
    while ((opt = getopt_long (argc, argv, "b:d:i:c:p:s:h", options, NULL)) != -1) {
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
        case 'p':
            poll_ms = strtol (optarg, &end, 10);
            if (*end || poll_ms < 10 || poll_ms > 3600000) {
                fprintf (stderr, "%s: --poll-ms must be 10..3600000\n", argv[0]);
                return 2;
            }
            break;
        case 's':
            if (strcmp (optarg, "Exercise") != 0 && strcmp (optarg, "Actual") != 0) {
                fprintf (stderr, "%s: --alert-status must be Exercise or Actual\n", argv[0]);
                return 2;
            }
            alert_status = optarg;
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
    em_store_t *store = em_store_open (db, err, sizeof err);
    if (!store) {
        fprintf (stderr, "%s: %s\n", argv[0], err);
        return 1;
    }
    onenet_adapter_t *adapter = onenet_adapter_new (broker, DEPARTMENT, instance, err, sizeof err);
    if (!adapter) {
        fprintf (stderr, "%s: %s\n", argv[0], err);
        em_store_close (&store);
        return 1;
    }
    em_alerts_t *alerts = em_alerts_new (broker, store, alert_status, (unsigned) poll_ms, err,
                                         sizeof err);
    if (!alerts) {
        fprintf (stderr, "%s: %s\n", argv[0], err);
        onenet_adapter_destroy (&adapter);
        em_store_close (&store);
        return 1;
    }
    em_t em = { store, alerts };
    onenet_adapter_set_credit (adapter, (unsigned) credit);
    onenet_adapter_offer (adapter, "em.vulnerable.get", on_vulnerable_get, store,
                          &(onenet_offer_options_t) {
                              &onenet__em__vulnerable_get_request__descriptor,
                              &onenet__em__vulnerable_person__descriptor, true,
                              "An entry of the vulnerable-people registry, by resident ID" });
    onenet_adapter_offer (adapter, "em.shelter.list", on_shelter_list, store,
                          &(onenet_offer_options_t) {
                              &onenet__em__shelter_list_request__descriptor,
                              &onenet__em__shelter_list__descriptor, true,
                              "Shelters in an area (district code prefix)" });
    onenet_adapter_offer (adapter, "em.incident.list", on_incident_list, store,
                          &(onenet_offer_options_t) {
                              &onenet__em__incident_list_request__descriptor,
                              &onenet__em__incident_list__descriptor, true,
                              "Incidents in an area, newest first" });
    onenet_adapter_offer (adapter, "em.view.person", on_view_person, store,
                          &(onenet_offer_options_t) {
                              &onenet__view__contribution_request__descriptor,
                              &onenet__view__contribution__descriptor, true,
                              "Emergency management's part of the one network view of a person" });
    onenet_adapter_offer (adapter, "em.incident.report", on_incident_report, &em,
                          &(onenet_offer_options_t) {
                              &onenet__em__incident_report_request__descriptor,
                              &onenet__em__incident__descriptor, false,
                              "Records a new incident; it is published as a CAP alert" });
    onenet_info ("store.open", "department=%s instance=%s vulnerable=%ld alert_status=%s",
                 DEPARTMENT, onenet_adapter_instance (adapter), em_store_count_vulnerable (store),
                 alert_status);
    onenet_signals_catch ();
    int rc = run (adapter, alerts);
    if (rc < 0 || *onenet_adapter_error (adapter))
        fprintf (stderr, "%s: %s\n", argv[0], onenet_adapter_error (adapter));
    onenet_adapter_destroy (&adapter);
    em_alerts_destroy (&alerts);
    em_store_close (&store);
    return rc < 0 ? 1 : 0;
}
