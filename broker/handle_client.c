/*
 * handle_client.c - a REQUEST from a client: check it, route it to the
 * instance with the most free credit or queue it until one has credit,
 * and answer with a typed error when that cannot happen in time.
 *
 * The body is never decoded: it is moved into the request and from there
 * onto the adapter's connection. Idempotent requests keep a reference to
 * the body (zmq_msg_copy shares the buffer) so they can be retried.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "broker_internal.h"
#include "audit.h"
#include "hashmap.h"
#include "view.h"

static void make_trace_id (broker_t *self, uint8_t out[16]);

void
broker_reply (broker_t *self, const zmq_msg_t *peer, uint64_t correlation, uint32_t batch_max,
              const uint8_t *trace_id, const char *served_by, onenet_status_t status,
              const char *message, zmq_msg_t *body)
{
    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    header.correlation_id = correlation;
    header.status = (Onenet__Status) status;
    header.message = (char *) (message ? message : "");
    if (served_by)
        header.served_by = (char *) served_by;
    /* Every reply carries a trace id, also those the broker answers itself. */
    uint8_t made[16];
    if (!trace_id) {
        make_trace_id (self, made);
        trace_id = made;
    }
    header.trace_id.data = (uint8_t *) trace_id;
    header.trace_id.len = 16;
    header.batch_max = (uint32_t) self->config->batch_max;
    broker_send (self, peer, batch_max, ONENET_CMD_REPLY, &header.base, body);
    self->replies_by_status[status < ONENET_STATUS_COUNT ? status : ONENET_INTERNAL]++;
}

void
broker_answer (broker_t *self, const zmq_msg_t *peer, uint64_t correlation,
               const uint8_t *trace_id, onenet_status_t status, const char *message,
               zmq_msg_t *body)
{
    broker_reply (self, peer, correlation, 0, trace_id, NULL, status, message, body);
}

void
broker_answer_batched (broker_t *self, const zmq_msg_t *peer, uint64_t correlation,
                       uint32_t batch_max, onenet_status_t status, const char *message,
                       zmq_msg_t *body)
{
    broker_reply (self, peer, correlation, batch_max, NULL, NULL, status, message, body);
}

uint32_t
broker_reply_batch_max (const broker_t *self, const Onenet__RequestHeader *header)
{
    uint32_t ours = (uint32_t) self->config->batch_max;
    return header->batch_max < ours ? header->batch_max : ours;
}

void
broker_send_error (broker_t *self, const zmq_msg_t *peer, onenet_status_t status,
                   uint64_t correlation, const char *format, ...)
{
    char message[256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    Onenet__Notice notice = ONENET__NOTICE__INIT;
    notice.status = (Onenet__Status) status;
    notice.message = message;
    notice.correlation_id = correlation;
    onenet_wire_send (self->socket, peer, ONENET_CMD_ERROR, &notice.base, NULL, ZMQ_DONTWAIT);
}

void
broker_send (broker_t *self, const zmq_msg_t *peer, uint32_t batch_max, onenet_command_t command,
             const ProtobufCMessage *header, zmq_msg_t *body)
{
    if (onenet_batch_takes (batch_max, body ? zmq_msg_size (body) : 0)
        && outbox_add (self->outbox, peer, batch_max, command, header, body) == 0)
        return;
    if (batch_max > 1)
        outbox_flush_peer (self->outbox, peer);   /* what was gathered goes first */
    onenet_wire_send (self->socket, peer, command, header, body, ZMQ_DONTWAIT);
}

static void
forget (broker_t *self, request_t *request)
{
    if (request->state == REQUEST_QUEUED)
        service_unlink (request->service, request);
    else if (request->adapter)
        adapter_untrack (request->adapter, request);
    service_t *service = request->service;
    requests_remove (self->requests, request);
    registry_forget_if_unused (self->registry, service);
}

void
broker_fail (broker_t *self, request_t *request, onenet_status_t status, const char *message)
{
    request->service->errors++;
    service_record (request->service, status, registry_clock_us () - request->received_us);
    if (request->parent)
        view_on_part (self, request, status, message, NULL, NULL);
    else
        broker_answer (self, &request->client, request->client_correlation, request->trace_id,
                       status, message, NULL);
    forget (self, request);
}

/* Sends a request to an adapter and tracks it there. */
static void
dispatch (broker_t *self, request_t *request, adapter_t *adapter)
{
    int64_t left = request->deadline - self->now;
    Onenet__Requester requester = ONENET__REQUESTER__INIT;
    requester.department = request->requester;
    requester.user = request->user;
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.correlation_id = request->id;
    header.service = request->service->name;
    header.timeout_ms = left > 0 ? (uint32_t) left : 1;
    header.trace_id.data = request->trace_id;
    header.trace_id.len = sizeof request->trace_id;
    header.idempotent = request->idempotent;
    header.purpose = request->purpose ? request->purpose : "";
    header.requester = &requester;
    header.attempt = ++request->attempt;
    zmq_msg_t body;
    zmq_msg_init (&body);
    if (request->idempotent)
        zmq_msg_copy (&body, &request->body);   /* shares the buffer: kept for a retry */
    else
        zmq_msg_move (&body, &request->body);
    broker_send (self, &adapter->routing_id, adapter->batch_max, ONENET_CMD_REQUEST, &header.base,
                 &body);
    zmq_msg_close (&body);
    request->state = REQUEST_IN_FLIGHT;
    adapter_track (adapter, request);
}

void
broker_pump (broker_t *self, service_t *service)
{
    while (service->queue_head) {
        adapter_t *adapter = registry_select (service);
        if (!adapter)
            return;
        dispatch (self, service_dequeue (service), adapter);
    }
}

static void
make_trace_id (broker_t *self, uint8_t out[16])
{
    for (int i = 0; i < 2; i++) {
        /* xorshift64*: trace ids need to be unique, not secret. */
        uint64_t x = self->trace_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self->trace_state = x;
        uint64_t r = x * 0x2545F4914F6CDD1DULL;
        memcpy (out + 8 * i, &r, 8);
    }
}

/* snprintf (out, size, "%s", text) without parsing a format: the
 * request path copies three names per request. size > 0. */
static void
copy_text (char *out, size_t size, const char *text)
{
    size_t length = strnlen (text, size - 1);
    memcpy (out, text, length);
    out[length] = '\0';
}

/* Who is asking: the authenticated identity of the connection (the ZAP
 * user id under CURVE), never anything the client wrote. */
static void
requester_of (const inbound_t *in, char *out, size_t size)
{
    const char *user_id = zmq_msg_gets (in->signature, "User-Id");
    copy_text (out, size, user_id && *user_id ? user_id : "anonymous");
}

/* A connection trusted to act for its users (delegates) may name the
 * department and user a request is for; from anyone else those fields
 * are ignored. Rewrites requester and fills user. */
static void
apply_delegation (const broker_t *self, const Onenet__RequestHeader *header, char *requester,
                  size_t requester_size, char *user, size_t user_size)
{
    *user = '\0';
    const Onenet__Requester *behalf = header->requester;
    if (!behalf)
        return;
    for (size_t i = 0; i < self->config->delegate_count; i++)
        if (strcmp (self->config->delegates[i], requester) == 0) {
            if (behalf->department && *behalf->department)
                copy_text (requester, requester_size, behalf->department);
            copy_text (user, user_size, behalf->user ? behalf->user : "");
            return;
        }
}

/* Whom a request is about, for the audit: the resident_id field of a body
 * of the named type, read by its wire tag without decoding the body; ""
 * when the type has none or is not known. */
static void
subject_of (const char *request_type, zmq_msg_t *body, char *out, size_t size)
{
    out[0] = '\0';
    if (body && request_type && *request_type)
        audit_subject_of (onenet_schema_find (request_type), zmq_msg_data (body),
                          zmq_msg_size (body), out, size);
}

/* The request type of a service the policy refused (not looked up on the
 * way to an adapter): the view's own, or the registry's. */
static const char *
refused_request_type (broker_t *self, const char *service_name)
{
    if (strcmp (service_name, "onenet.view.person") == 0)
        return "onenet.view.PersonViewRequest";
    service_t *service = registry_service (self->registry, service_name);
    return service ? service->request_type : NULL;
}

/* Checks the header; on a problem answers the client and returns -1. */
static int
check_header (broker_t *self, inbound_t *in, const Onenet__RequestHeader *header)
{
    const char *service = header->service;
    size_t length = strlen (service);
    onenet_status_t status = ONENET_OK;
    const char *why = NULL;
    if (length == 0) {
        status = ONENET_BAD_REQUEST;
        why = "request header has no service name";
    }
    else if (length > MAX_SERVICE_NAME) {
        status = ONENET_BAD_REQUEST;
        why = "service name longer than 255 bytes";
    }
    else if (header->schema_version && header->schema_version != ONENET_SCHEMA_VERSION) {
        status = ONENET_UNSUPPORTED_VERSION;
        why = "schema version not supported: this broker speaks schema version 1";
    }
    else if (header->timeout_ms > (uint32_t) self->config->max_timeout_ms) {
        status = ONENET_BAD_REQUEST;
        why = "timeout_ms exceeds broker.max_timeout_ms";
    }
    if (!why)
        return 0;
    broker_answer (self, in->peer, header->correlation_id, NULL, status, why, NULL);
    return -1;
}

/* Takes a slot for a request to service with the fields every request
 * has. NULL when the table is full. */
static request_t *
admit (broker_t *self, service_t *service, int64_t deadline)
{
    request_t *request = requests_add (self->requests, deadline);
    if (!request)
        return NULL;
    request->service = service;
    request->received_at = self->now;
    request->received_us = registry_clock_us ();
    request->idempotent = service->idempotent;
    make_trace_id (self, request->trace_id);
    service->requests++;
    return request;
}

/* Sends a request to the instance with the most free credit, or queues it
 * behind those already waiting. */
static void
route (broker_t *self, request_t *request)
{
    service_t *service = request->service;
    adapter_t *adapter = service->queue_head ? NULL : registry_select (service);
    if (adapter)
        dispatch (self, request, adapter);
    else {
        request->state = REQUEST_QUEUED;
        service_enqueue (service, request);
    }
}

typedef struct {
    double tokens;
    int64_t refilled_at;
} bucket_t;

/* Per-department token bucket (limits.rate_per_second, rate_burst).
 * True when this request must be refused. */
static bool
rate_limited (broker_t *self, const char *department)
{
    int rate = self->config->rate_per_second;
    if (rate <= 0 || !self->rates)
        return false;
    size_t length = strlen (department);
    bucket_t *bucket = hashmap_get (self->rates, department, length);
    if (!bucket) {
        bucket = calloc (1, sizeof *bucket);
        if (!bucket || hashmap_put (self->rates, department, length, bucket) < 0) {
            free (bucket);
            return false;
        }
        bucket->tokens = self->config->rate_burst;
        bucket->refilled_at = self->now;
    }
    double refill = (double) (self->now - bucket->refilled_at) * rate / 1000.0;
    bucket->refilled_at = self->now;
    bucket->tokens += refill;
    if (bucket->tokens > self->config->rate_burst)
        bucket->tokens = self->config->rate_burst;
    if (bucket->tokens < 1.0)
        return true;
    bucket->tokens -= 1.0;
    return false;
}

void
on_client_request (broker_t *self, inbound_t *in)
{
    self->requests_total++;
    Onenet__RequestHeader *header = in->header ? (Onenet__RequestHeader *) onenet_wire_unpack (
                                        &onenet__request_header__descriptor, in->header,
                                        &self->arena)
                                               : NULL;
    if (!header) {
        broker_log_bad (self, "request header missing or not a RequestHeader");
        broker_send_error (self, in->peer, ONENET_BAD_REQUEST, 0,
                           "request header missing or not a valid onenet.RequestHeader");
        return;
    }
    if (check_header (self, in, header) < 0)
        return;
    char requester[64], user[64];
    requester_of (in, requester, sizeof requester);
    apply_delegation (self, header, requester, sizeof requester, user, sizeof user);
    if (self->draining && strcmp (header->service, "onenet.ping") != 0) {
        broker_answer (self, in->peer, header->correlation_id, NULL, ONENET_UNAVAILABLE,
                       "broker is shutting down: try again in a moment", NULL);
        return;
    }
    if (rate_limited (self, requester)) {
        self->rate_limited_total++;
        char why[160];
        snprintf (why, sizeof why, "rate limit: department %.64s may send %d requests per second",
                  requester, self->config->rate_per_second);
        broker_answer (self, in->peer, header->correlation_id, NULL, ONENET_RESOURCE_EXHAUSTED, why,
                       NULL);
        return;
    }
    /* The sharing policy, before anything tells a denied caller whether
     * the service exists. */
    onenet_policy_decision_t decision;
    if (self->policy
        && !onenet_policy_decide (self->policy, requester, header->service, header->purpose, &decision)) {
        self->denied_total++;
        char quoted[600];
        onenet_warn ("policy.denied", "requester=%s service=%s rule=%s reason=%s", requester,
                     header->service, decision.rule,
                     onenet_log_quote (decision.reason, quoted, sizeof quoted));
        broker_answer (self, in->peer, header->correlation_id, NULL, ONENET_DENIED, decision.reason,
                       NULL);
        char subject[20]; /* as request_t.subject */
        subject_of (refused_request_type (self, header->service), in->body, subject,
                    sizeof subject);
        broker_audit (self, "request", requester, user, header->service, subject, header->purpose,
                      ONENET_DENIED, 0, "broker");
        return;
    }
    if (strncmp (header->service, "onenet.", 7) == 0) {
        management_handle (self, in->peer, header, requester, user, in->body);
        return;
    }
    service_t *service = registry_service (self->registry, header->service);
    bool in_grace = self->now - self->started_at < self->config->registration_grace_ms;
    if (!service && !in_grace) {
        broker_answer (self, in->peer, header->correlation_id, NULL, ONENET_UNKNOWN_SERVICE,
                       "no adapter offers this service", NULL);
        return;
    }
    uint32_t timeout = header->timeout_ms ? header->timeout_ms
                                          : (uint32_t) self->config->default_timeout_ms;
    int64_t deadline = self->now + timeout;
    if (!service || !service->known) {
        /* Just after a broker restart adapters are still re-registering:
         * wait for them, but not past the grace period. */
        int64_t grace_end = self->started_at + self->config->registration_grace_ms;
        if (grace_end < deadline)
            deadline = grace_end;
    }
    if (!service)
        service = registry_ensure_service (self->registry, header->service);
    request_t *request = service ? admit (self, service, deadline) : NULL;
    if (!request) {
        if (service)
            registry_forget_if_unused (self->registry, service);
        broker_answer (self, in->peer, header->correlation_id, NULL, ONENET_RESOURCE_EXHAUSTED,
                       "broker has limits.max_pending requests pending", NULL);
        return;
    }
    zmq_msg_copy (&request->client, (zmq_msg_t *) in->peer);
    request->client_correlation = header->correlation_id;
    request->reply_batch_max = (uint16_t) broker_reply_batch_max (self, header);
    request->idempotent = request->idempotent || header->idempotent;
    if (header->trace_id.len == sizeof request->trace_id)
        memcpy (request->trace_id, header->trace_id.data, sizeof request->trace_id);
    if (header->purpose && *header->purpose)
        request->purpose = strdup (header->purpose);
    copy_text (request->requester, sizeof request->requester, requester);
    copy_text (request->user, sizeof request->user, user);
    subject_of (service->request_type, in->body, request->subject, sizeof request->subject);
    if (in->body)
        zmq_msg_move (&request->body, in->body);
    route (self, request);
}

request_t *
broker_submit (broker_t *self, service_t *service, int64_t deadline, const char *requester,
               uint64_t parent, uint32_t part, zmq_msg_t *body)
{
    request_t *request = admit (self, service, deadline);
    if (!request)
        return NULL;
    request->parent = parent;
    request->part = part;
    copy_text (request->requester, sizeof request->requester, requester);
    zmq_msg_move (&request->body, body);
    route (self, request);
    return request;
}
