/*
 * ss_adapter.c - onenet-adapter-social-security: the social security
 * department's insurance records, offered to OneNet.
 *
 *   ss.insurance.get     InsuranceGetRequest    -> InsuredPerson  (idempotent)
 *   ss.insurance.update  InsuranceUpdateRequest -> InsuredPerson  (not idempotent;
 *                        publishes EVENT record.changed {resident_id, "insurance"})
 *   ss.view.person       view.ContributionRequest -> view.Contribution (idempotent)
 *
 * Built like adapters/example/; SQLite access is in ss_store.c.
 *
 *   onenet-adapter-social-security --broker tcp://127.0.0.1:5570 --db social_security.db
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <onenet/onenet.h>
#include <onenet/contribution.h>
#include <onenet/resident_id.h>
#include <onenet/proto/social_security.pb-c.h>
#include <onenet/proto/view.pb-c.h>
#include "ss_store.h"

#define DEPARTMENT "social_security"

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
reply_store_error (onenet_adapter_t *adapter, onenet_request_t **request_p, ss_store_t *store)
{
    char quoted[300];
    onenet_error ("store.error", "service=%s reason=%s", onenet_request_service (*request_p),
                  onenet_log_quote (ss_store_error (store), quoted, sizeof quoted));
    onenet_adapter_reply (adapter, request_p, ONENET_INTERNAL, "social security store error",
                          NULL, 0);
}

static void
on_insurance_get (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    ss_store_t *store = arg;
    Onenet__Ss__InsuranceGetRequest *in
        = (Onenet__Ss__InsuranceGetRequest *) onenet_request_message (
            request, &onenet__ss__insurance_get_request__descriptor);
    Onenet__Ss__InsuredPerson *person = NULL;
    if (check_resident_id (adapter, &request, in ? &in->base : NULL, in ? in->resident_id : NULL)) {
        int found = ss_store_insured (store, in->resident_id, &person);
        if (found < 0)
            reply_store_error (adapter, &request, store);
        else if (found == 0)
            onenet_adapter_reply (adapter, &request, ONENET_NOT_FOUND, "not insured", NULL, 0);
        else
            onenet_adapter_reply_message (adapter, &request, &person->base);
    }
    if (person)
        protobuf_c_message_free_unpacked (&person->base, NULL);
}

static void
on_insurance_update (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    ss_store_t *store = arg;
    Onenet__Ss__InsuranceUpdateRequest *in
        = (Onenet__Ss__InsuranceUpdateRequest *) onenet_request_message (
            request, &onenet__ss__insurance_update_request__descriptor);
    Onenet__Ss__InsuredPerson *person = NULL;
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
        int updated = ss_store_update (store, in->resident_id, in->address, in->phone,
                                       onenet_wall_ms ());
        if (updated > 0)
            updated = ss_store_insured (store, in->resident_id, &person);
        if (updated < 0)
            reply_store_error (adapter, &request, store);
        else if (updated == 0)
            onenet_adapter_reply (adapter, &request, ONENET_NOT_FOUND, "not insured", NULL, 0);
        else {
            /* Event before reply, on the same connection: cached views are
             * dropped before the caller can ask again. */
            Onenet__View__RecordChanged changed = ONENET__VIEW__RECORD_CHANGED__INIT;
            changed.resident_id = person->resident_id;
            changed.record = "insurance";
            if (onenet_adapter_publish (adapter, "record.changed", &changed.base) < 0)
                onenet_warn ("event.lost", "topic=record.changed reason=%s",
                             errno == EAGAIN ? "queue_full" : "not_connected");
            onenet_info ("record.updated", "record=insurance service=ss.insurance.update");
            onenet_adapter_reply_message (adapter, &request, &person->base);
        }
    }
    if (person)
        protobuf_c_message_free_unpacked (&person->base, NULL);
}

/* Social security's part of the one network view: contact details as it
 * holds them (compared with the other departments'), pension status and
 * a few facts from the insurance record; the detail is the whole record. */
static void
on_view_person (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    ss_store_t *store = arg;
    Onenet__View__ContributionRequest *in
        = (Onenet__View__ContributionRequest *) onenet_request_message (
            request, &onenet__view__contribution_request__descriptor);
    Onenet__Ss__InsuredPerson *person = NULL;
    if (check_resident_id (adapter, &request, in ? &in->base : NULL, in ? in->resident_id : NULL)) {
        int found = ss_store_insured (store, in->resident_id, &person);
        onenet_contribution_t *contribution = found >= 0 ? onenet_contribution_new (found > 0)
                                                         : NULL;
        if (found > 0 && contribution) {
            char months[16], open_claims[16];
            size_t open = 0;
            for (size_t i = 0; i < person->n_claims; i++)
                open += strcmp (person->claims[i]->status, "pending") == 0
                        || strcmp (person->claims[i]->status, "approved") == 0;
            uint32_t paid = person->contributions ? person->contributions->months_paid : 0;
            months[0] = '\0';   /* no field when nothing was paid (retirees, minors) */
            if (paid > 0)
                snprintf (months, sizeof months, "%u", paid);
            snprintf (open_claims, sizeof open_claims, "%zu", open);
            onenet_contribution_add (contribution, "name", person->name, NULL);
            onenet_contribution_add (contribution, "birth_date", person->birth_date, NULL);
            onenet_contribution_add (contribution, "sex", person->sex, NULL);
            onenet_contribution_add (contribution, "address", person->address,
                                     "参保联系地址 Address on file");
            onenet_contribution_add (contribution, "phone", person->phone, NULL);
            onenet_contribution_add (contribution, "pension_status",
                                     ss_pension_status_name (person->pension_status),
                                     "养老金状态 Pension status");
            onenet_contribution_add (contribution, "insurance_no", person->insurance_no,
                                     "社保卡号 Social security number");
            onenet_contribution_add (contribution, "employer", person->employer,
                                     "参保单位 Employer");
            onenet_contribution_add (contribution, "contribution_months", months,
                                     "养老缴费月数 Pension months paid");
            onenet_contribution_add (contribution, "open_claims", open_claims,
                                     "在办待遇申请 Open benefit claims");
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
             "Offers social security records (ss.insurance.get, ss.insurance.update,\n"
             "ss.view.person) from an SQLite store.\n"
             "  --broker ENDPOINT  broker to connect to (default $ONENET_BROKER or %s)\n"
             "  --db PATH          the store, e.g. made by onenet-seed\n"
             "  --instance NAME    instance name (default host-pid)\n"
             "  --credit N         requests taken in flight (default 32)\n"
             "Example: %s --broker tcp://127.0.0.1:5570 --db data/social_security.db\n",
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
    ss_store_t *store = ss_store_open (db, err, sizeof err);
    if (!store) {
        fprintf (stderr, "%s: %s\n", argv[0], err);
        return 1;
    }
    onenet_adapter_t *adapter = onenet_adapter_new (broker, DEPARTMENT, instance, err, sizeof err);
    if (!adapter) {
        fprintf (stderr, "%s: %s\n", argv[0], err);
        ss_store_close (&store);
        return 1;
    }
    onenet_adapter_set_credit (adapter, (unsigned) credit);
    onenet_adapter_offer (adapter, "ss.insurance.get", on_insurance_get, store,
                          &(onenet_offer_options_t) {
                              &onenet__ss__insurance_get_request__descriptor,
                              &onenet__ss__insured_person__descriptor, true,
                              "Insurance record: contributions, claims, pension status" });
    onenet_adapter_offer (adapter, "ss.insurance.update", on_insurance_update, store,
                          &(onenet_offer_options_t) {
                              &onenet__ss__insurance_update_request__descriptor,
                              &onenet__ss__insured_person__descriptor, false,
                              "Changes the address and/or phone social security holds" });
    onenet_adapter_offer (adapter, "ss.view.person", on_view_person, store,
                          &(onenet_offer_options_t) {
                              &onenet__view__contribution_request__descriptor,
                              &onenet__view__contribution__descriptor, true,
                              "Social security's part of the one network view of a person" });
    onenet_info ("store.open", "department=%s instance=%s insured=%ld", DEPARTMENT,
                 onenet_adapter_instance (adapter), ss_store_count_insured (store));
    onenet_signals_catch ();
    int rc = onenet_adapter_run (adapter);
    if (rc < 0 || *onenet_adapter_error (adapter))
        fprintf (stderr, "%s: %s\n", argv[0], onenet_adapter_error (adapter));
    onenet_adapter_destroy (&adapter);
    ss_store_close (&store);
    return rc < 0 ? 1 : 0;
}
