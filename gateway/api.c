/*
 * api.c - the REST handlers: each turns an HTTP request into one broker
 * call and its reply into JSON, through the SDK's generic protobuf <->
 * JSON mapping (onenet_json_*). No business logic lives here: the broker
 * and the departments decide; the gateway translates and checks only
 * what it must before calling (resident ID, purpose, CAP syntax).
 *
 * The purpose travels in onenet_call_options_t.purpose, and the user's
 * department and name in its on_behalf_of_* fields: a broker that lists
 * the gateway's department in `delegates` decides and audits on them;
 * any other broker ignores them and sees the gateway's own key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gateway.h"
#include "onenet/cap.h"
#include "onenet/resident_id.h"
#include "onenet/subscriber.h"
#include "onenet/proto/alert.pb-c.h"
#include "onenet/proto/audit.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"
#include "onenet/proto/view.pb-c.h"

#define SPLIT_MAX 16

ProtobufCMessage *
api_call (gateway_t *gateway, const gateway_user_t *user, const char *service,
          const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
          const char *purpose, onenet_status_t *status_p, char *why, size_t why_size)
{
    char err[256] = "";
    onenet_client_t *client = pool_acquire (gateway->pool, err, sizeof err);
    if (!client) {
        *status_p = ONENET_UNAVAILABLE;
        snprintf (why, why_size, "cannot reach the broker: %s", err);
        return NULL;
    }
    onenet_call_options_t options = {0};
    options.timeout_ms = gateway->config->request_timeout_ms;
    options.purpose = purpose;
    /* The broker lets the gateway (listed in its `delegates`) name the user
     * a call is for: the policy decides on the user's department and the
     * audit log records the user. */
    if (user) {
        options.on_behalf_of_department = user->department;
        options.on_behalf_of_user = user->name;
    }
    onenet_reply_t *reply = onenet_client_call_message (client, service, request, &options);
    ProtobufCMessage *message = NULL;
    onenet_status_t status = reply ? onenet_reply_status (reply) : ONENET_INTERNAL;
    if (!reply)
        snprintf (why, why_size, "out of memory");
    else if (status != ONENET_OK)
        snprintf (why, why_size, "%s", onenet_reply_message (reply));
    else if (reply_type && !(message = onenet_reply_unpack (reply, reply_type))) {
        status = ONENET_INTERNAL;
        snprintf (why, why_size, "%s: reply is not a %s", service, reply_type->name);
    }
    onenet_reply_destroy (&reply);
    /* A client whose call timed out may still get the late reply: drop it. */
    if (status == ONENET_TIMEOUT)
        onenet_client_destroy (&client);
    else
        pool_release (gateway->pool, client);
    *status_p = status;
    return message;
}

/* Calls and answers: 200 with the reply as JSON, or the typed error. */
static enum MHD_Result
s_forward (gateway_request_t *req, const char *service, const ProtobufCMessage *request,
           const ProtobufCMessageDescriptor *reply_type, const char *purpose)
{
    onenet_status_t status;
    char why[512];
    ProtobufCMessage *reply = api_call (req->gateway, req->user, service, request, reply_type,
                                        purpose, &status, why, sizeof why);
    if (!reply)
        return gateway_reply_error (req, status, "%s", why);
    json_t *json = onenet_json_from_message (reply, ONENET_JSON_DEFAULTS);
    protobuf_c_message_free_unpacked (reply, NULL);
    if (!json)
        return gateway_reply_error (req, ONENET_INTERNAL, "out of memory");
    return gateway_reply_json (req, MHD_HTTP_OK, json);
}

size_t
api_split (const char *text, char **out, size_t max)
{
    size_t count = 0;
    while (text && *text && count < max) {
        const char *comma = strchr (text, ',');
        size_t length = comma ? (size_t)(comma - text) : strlen (text);
        if (length)
            out[count++] = strndup (text, length);
        text = comma ? comma + 1 : NULL;
    }
    return count;
}

void
api_strings_free (char **items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free (items[i]);
}

enum MHD_Result
api_me (gateway_request_t *req)
{
    json_t *json = json_pack ("{s:s, s:s, s:s}", "user", req->user->name, "department",
                              req->user->department, "role", auth_role_name (req->user->role));
    return gateway_reply_json (req, MHD_HTTP_OK, json);
}

enum MHD_Result
api_person_view (gateway_request_t *req)
{
    char why[160];
    if (!onenet_resident_id_valid (req->param, why, sizeof why))
        return gateway_reply_error (req, ONENET_BAD_REQUEST, "invalid resident ID: %s", why);
    const char *purpose = gateway_arg (req, "purpose");
    if (!purpose || !*purpose)
        return gateway_reply_error (req, ONENET_BAD_REQUEST,
                                    "purpose is required: say why the data is needed");
    const char *fresh = gateway_arg (req, "fresh");
    Onenet__View__PersonViewRequest request = ONENET__VIEW__PERSON_VIEW_REQUEST__INIT;
    request.resident_id = (char *)req->param;
    request.bypass_cache = fresh && strcmp (fresh, "true") == 0;
    return s_forward (req, "onenet.view.person", &request.base,
                      &onenet__view__person_view__descriptor, purpose);
}

enum MHD_Result
api_services (gateway_request_t *req)
{
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    const char *prefix = gateway_arg (req, "prefix");
    request.prefix = (char *)(prefix ? prefix : "");
    return s_forward (req, "onenet.services", &request.base, &onenet__services_reply__descriptor,
                      gateway_arg (req, "purpose"));
}

/* The request and reply types of a service as the broker lists them. */
static int
s_service_types (gateway_request_t *req, const char *service,
                 const ProtobufCMessageDescriptor **request_p,
                 const ProtobufCMessageDescriptor **reply_p, onenet_status_t *status_p, char *why,
                 size_t why_size)
{
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    request.prefix = (char *)service;
    ProtobufCMessage *message =
        api_call (req->gateway, req->user, "onenet.services", &request.base,
                  &onenet__services_reply__descriptor, NULL, status_p, why, why_size);
    if (!message)
        return -1;
    Onenet__ServicesReply *list = (Onenet__ServicesReply *)message;
    int rc = -1;
    for (size_t i = 0; i < list->n_services; i++)
        if (strcmp (list->services[i]->name, service) == 0) {
            *request_p = onenet_schema_find (list->services[i]->request_type);
            *reply_p = onenet_schema_find (list->services[i]->reply_type);
            if (*request_p)
                rc = 0;
            else {
                *status_p = ONENET_INTERNAL;
                snprintf (why, why_size, "%s: request type \"%s\" is not in the schema", service,
                          list->services[i]->request_type);
            }
            break;
        }
    if (rc < 0 && *status_p == ONENET_OK) {
        *status_p = ONENET_UNKNOWN_SERVICE;
        snprintf (why, why_size, "no adapter offers %s", service);
    }
    protobuf_c_message_free_unpacked (message, NULL);
    return rc;
}

enum MHD_Result
api_service_call (gateway_request_t *req)
{
    const ProtobufCMessageDescriptor *request_type = NULL, *reply_type = NULL;
    onenet_status_t status = ONENET_OK;
    char why[512];
    if (strncmp (req->param, "onenet.", 7) == 0)
        return gateway_reply_error (req, ONENET_DENIED,
                                    "broker services are reached through their own endpoints");
    if (s_service_types (req, req->param, &request_type, &reply_type, &status, why, sizeof why) < 0)
        return gateway_reply_error (req, status, "%s", why);
    ProtobufCMessage *request =
        onenet_json_decode (request_type, req->body ? req->body : "{}",
                            req->body_size ? req->body_size : 2, why, sizeof why);
    if (!request)
        return gateway_reply_error (req, ONENET_BAD_REQUEST, "request body: %s", why);
    enum MHD_Result queued =
        s_forward (req, req->param, request, reply_type, gateway_arg (req, "purpose"));
    protobuf_c_message_free_unpacked (request, NULL);
    return queued;
}

enum MHD_Result
api_alerts (gateway_request_t *req)
{
    char *severities[SPLIT_MAX], *areas[SPLIT_MAX], *categories[SPLIT_MAX];
    Onenet__Alert__AlertFilter filter = ONENET__ALERT__ALERT_FILTER__INIT;
    filter.n_severities = api_split (gateway_arg (req, "severity"), severities, SPLIT_MAX);
    filter.severities = severities;
    filter.n_area_prefixes = api_split (gateway_arg (req, "area"), areas, SPLIT_MAX);
    filter.area_prefixes = areas;
    filter.n_categories = api_split (gateway_arg (req, "category"), categories, SPLIT_MAX);
    filter.categories = categories;
    const char *unacked = gateway_arg (req, "unacked");
    enum MHD_Result queued;
    onenet_alert_filter_t check = {(const char *const *)severities, filter.n_severities,
                                   (const char *const *)areas,      filter.n_area_prefixes,
                                   (const char *const *)categories, filter.n_categories};
    char why[256];
    if (onenet_alert_filter_check (&check, why, sizeof why) < 0)
        queued = gateway_reply_error (req, ONENET_BAD_REQUEST, "filter: %s", why);
    else if (unacked && strcmp (unacked, "true") == 0)
        queued = s_forward (req, "onenet.alert.unacked", &filter.base,
                            &onenet__alert__alert_batch__descriptor, NULL);
    else {
        Onenet__Alert__SinceRequest request = ONENET__ALERT__SINCE_REQUEST__INIT;
        const char *since = gateway_arg (req, "since");
        const char *limit = gateway_arg (req, "limit");
        const char *last = gateway_arg (req, "last");
        request.after = (char *)(since ? since : "");
        request.limit = limit ? (uint32_t)strtoul (limit, NULL, 10) : 100;
        request.last = last ? (uint32_t)strtoul (last, NULL, 10) : 0;
        request.filter = &filter;
        queued = s_forward (req, "onenet.alert.since", &request.base,
                            &onenet__alert__alert_batch__descriptor, NULL);
    }
    api_strings_free (severities, filter.n_severities);
    api_strings_free (areas, filter.n_area_prefixes);
    api_strings_free (categories, filter.n_categories);
    return queued;
}

enum MHD_Result
api_alert_publish (gateway_request_t *req)
{
    char why[512];
    if (!req->body_size)
        return gateway_reply_error (req, ONENET_BAD_REQUEST, "the body must be a CAP 1.2 alert");
    Onenet__Alert__Alert *alert = onenet_cap_parse (req->body, req->body_size, why, sizeof why);
    if (!alert)
        return gateway_reply_error (req, ONENET_BAD_REQUEST, "CAP: %s", why);
    enum MHD_Result queued = s_forward (req, "onenet.alert.publish", &alert->base,
                                        &onenet__alert__publish_reply__descriptor, NULL);
    onenet__alert__alert__free_unpacked (alert, NULL);
    return queued;
}

enum MHD_Result
api_alert_ack (gateway_request_t *req)
{
    Onenet__Alert__Ack ack = ONENET__ALERT__ACK__INIT;
    ack.identifier = (char *)req->param;
    ack.by = req->user->name;
    return s_forward (req, "onenet.alert.ack", &ack.base, &onenet__alert__ack__descriptor, NULL);
}

enum MHD_Result
api_audit (gateway_request_t *req)
{
    Onenet__Audit__QueryRequest request = ONENET__AUDIT__QUERY_REQUEST__INIT;
    const char *person = gateway_arg (req, "person");
    const char *department = gateway_arg (req, "department");
    const char *since = gateway_arg (req, "since_ms");
    const char *limit = gateway_arg (req, "limit");
    const char *after = gateway_arg (req, "after");
    char why[160];
    if (person && *person && !onenet_resident_id_valid (person, why, sizeof why))
        return gateway_reply_error (req, ONENET_BAD_REQUEST, "invalid resident ID: %s", why);
    request.person = (char *)(person ? person : "");
    request.department = (char *)(department ? department : "");
    request.since_ms = since ? strtoll (since, NULL, 10) : 0;
    request.limit = limit ? (uint32_t)strtoul (limit, NULL, 10) : 0;
    request.after = (char *)(after ? after : "");
    return s_forward (req, "onenet.audit.query", &request.base,
                      &onenet__audit__query_reply__descriptor, gateway_arg (req, "purpose"));
}
