/*
 * handle_adapter.c - what adapters send: READY (register), REPLY (answer a
 * request), HEARTBEAT, DISCONNECT and EVENT; and dropping an adapter that
 * left or went silent, with fail-over of its in-flight requests.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "broker_internal.h"
#include "onenet/proto/view.pb-c.h"
#include "alerts.h"
#include "events.h"
#include "rules.h"
#include "view.h"

static bool
valid_name (const char *name, bool dots)
{
    if (!name || !*name || strlen (name) > MAX_SERVICE_NAME)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
              || (dots && *p == '.')))
            return false;
    return true;
}

/* Checks a READY; returns NULL if acceptable, else why not. */
static const char *
check_ready (const broker_t *self, const Onenet__Ready *ready, const char *requester,
             onenet_status_t *status)
{
    *status = ONENET_BAD_REQUEST;
    if (ready->schema_version != ONENET_SCHEMA_VERSION) {
        *status = ONENET_UNSUPPORTED_VERSION;
        return "schema version not supported: this broker speaks schema version 1";
    }
    if (!valid_name (ready->department, false))
        return "READY: department must be [a-z0-9_-]+";
    /* Under CURVE a key speaks for one department only. */
    if (self->zap && strcmp (requester, ready->department) != 0) {
        *status = ONENET_DENIED;
        return "READY: the department does not match the connection's key";
    }
    if (!valid_name (ready->instance, true))
        return "READY: instance must be [a-z0-9_.-]+";
    if (ready->n_services == 0)
        return "READY: offers no service";
    if (ready->credit == 0)
        return "READY: credit must be at least 1";
    for (size_t i = 0; i < ready->n_services; i++) {
        const char *name = ready->services[i]->name;
        if (!valid_name (name, true) || strncmp (name, "onenet.", 7) == 0)
            return "READY: service names must be [a-z0-9_.-]+ and not start with \"onenet.\"";
    }
    return NULL;
}

void
on_adapter_ready (broker_t *self, inbound_t *in)
{
    Onenet__Ready *ready = in->header ? (Onenet__Ready *) onenet_wire_unpack (
                               &onenet__ready__descriptor, in->header, &self->arena)
                                      : NULL;
    if (!ready) {
        broker_log_bad (self, "READY without a valid onenet.Ready header");
        broker_send_error (self, in->peer, ONENET_BAD_REQUEST, 0,
                           "READY header missing or not a valid onenet.Ready");
        return;
    }
    onenet_status_t status;
    const char *user_id = zmq_msg_gets (in->signature, "User-Id");
    const char *problem = check_ready (self, ready, user_id ? user_id : "", &status);
    if (problem) {
        char quoted[200];
        onenet_warn ("adapter.refused", "department=%s reason=%s",
                     valid_name (ready->department, false) ? ready->department : "?",
                     onenet_log_quote (problem, quoted, sizeof quoted));
        broker_send_error (self, in->peer, status, 0, "%s", problem);
        return;
    }
    /* A READY from a registered peer is a fresh start: fail over what it
     * had in flight before registering it again. */
    if (in->adapter)
        broker_drop_adapter (self, in->adapter, "registered again");
    unsigned credit = ready->credit;
    if (credit > (unsigned) self->config->max_credit)
        credit = (unsigned) self->config->max_credit;
    offer_info_t offers[ready->n_services];
    for (size_t i = 0; i < ready->n_services; i++) {
        const Onenet__ServiceOffer *offer = ready->services[i];
        offers[i] = (offer_info_t) { offer->name, offer->request_type, offer->reply_type,
                                     offer->description, offer->idempotent };
    }
    unsigned heartbeat = ready->heartbeat_ms ? ready->heartbeat_ms : 1000;
    adapter_t *adapter = registry_add_adapter (self->registry, in->peer, ready->department,
                                               ready->instance, credit, heartbeat, offers,
                                               ready->n_services, self->now);
    if (!adapter) {
        broker_send_error (self, in->peer, ONENET_RESOURCE_EXHAUSTED, 0, "broker out of memory");
        return;
    }
    Onenet__Welcome welcome = ONENET__WELCOME__INIT;
    welcome.heartbeat_ms = (uint32_t) self->config->heartbeat_ms;
    welcome.liveness = (uint32_t) self->config->liveness;
    welcome.broker_version = (char *) onenet_version ();
    welcome.event_window = events_window (self->events);
    welcome.event_batch_max = (uint32_t) self->config->events_batch_max;
    welcome.batch_max = (uint32_t) self->config->batch_max;
    adapter->batch_max = ready->batch_max < welcome.batch_max ? ready->batch_max : welcome.batch_max;
    adapter->event_window = welcome.event_window;   /* a reload changes it for the next READY */
    onenet_wire_send (self->socket, in->peer, ONENET_CMD_WELCOME, &welcome.base, NULL,
                      ZMQ_DONTWAIT);
    onenet_info ("adapter.ready", "department=%s instance=%s services=%zu credit=%u adapters=%zu",
                 adapter->department, adapter->instance, adapter->service_count, credit,
                 registry_adapter_count (self->registry));
    for (size_t i = 0; i < adapter->service_count; i++)
        broker_pump (self, adapter->services[i]);
}

/* Tells a peer the broker does not know it, so it sends READY again. */
static void
ask_to_register (broker_t *self, inbound_t *in)
{
    Onenet__Notice notice = ONENET__NOTICE__INIT;
    notice.status = ONENET__STATUS__UNAVAILABLE;
    notice.message = "not registered with this broker: send READY";
    onenet_wire_send (self->socket, in->peer, ONENET_CMD_DISCONNECT, &notice.base, NULL,
                      ZMQ_DONTWAIT);
}

/* The request an adapter's REPLY answers, its header in *header; NULL
 * when the peer is not registered (asked to), the header is unreadable,
 * or the request was answered already. */
static request_t *
replied_request (broker_t *self, inbound_t *in, Onenet__ReplyHeader **header)
{
    if (!in->adapter) {
        ask_to_register (self, in);
        return NULL;
    }
    *header = in->header ? (Onenet__ReplyHeader *) onenet_wire_unpack (
                               &onenet__reply_header__descriptor, in->header, &self->arena)
                         : NULL;
    if (!*header) {
        broker_log_bad (self, "REPLY without a valid onenet.ReplyHeader");
        return NULL;
    }
    request_t *request = requests_find (self->requests, (*header)->correlation_id);
    if (!request || request->adapter != in->adapter) {
        /* Answered already (timed out, or retried elsewhere). */
        self->late_replies++;
        return NULL;
    }
    return request;
}

static void complete (broker_t *self, request_t *request, adapter_t *adapter,
                      onenet_status_t status, const char *message, zmq_msg_t *body);

void
on_adapter_reply (broker_t *self, inbound_t *in)
{
    Onenet__ReplyHeader *header;
    request_t *request = replied_request (self, in, &header);
    if (!request)
        return;
    onenet_status_t status = (onenet_status_t) header->status;
    if (status >= ONENET_STATUS_COUNT)
        status = ONENET_INTERNAL;
    complete (self, request, in->adapter, status, header->message, in->body);
}

void
on_adapter_reply_too_large (broker_t *self, inbound_t *in, size_t size)
{
    Onenet__ReplyHeader *header;
    request_t *request = replied_request (self, in, &header);
    if (!request)
        return;
    /* The adapter hears which reply, by its id: an ERROR without one
     * would tell it the broker refused the adapter itself. */
    broker_send_error (self, in->peer, ONENET_RESOURCE_EXHAUSTED, request->id,
                       "reply of %zu bytes: at most %ld (limits.max_message_size)", size,
                       self->config->max_message_size);
    char message[160];
    snprintf (message, sizeof message,
              "the adapter's reply of %zu bytes is over the broker's limit of %ld "
              "(limits.max_message_size)", size, self->config->max_message_size);
    complete (self, request, in->adapter, ONENET_RESOURCE_EXHAUSTED, message, NULL);
}

/* Ends a request an adapter answered: the reply goes to the client (or
 * the view), the audit and counters hear of it, the credit returns. */
static void
complete (broker_t *self, request_t *request, adapter_t *adapter, onenet_status_t status,
          const char *message, zmq_msg_t *body)
{
    if (request->parent)
        view_on_part (self, request, status, message, body, adapter->label);
    else {
        broker_reply (self, &request->client, request->client_correlation,
                      request->reply_batch_max, request->trace_id, adapter->label, status,
                      message, body);
        /* A department answering itself is its own business; across
         * departments, it is recorded. */
        if (strcmp (request->requester, adapter->department) != 0)
            broker_audit (self, "request", request->requester, request->user,
                          request->service->name, request->subject, request->purpose, status,
                          (uint64_t)(registry_clock_us () - request->received_us), adapter->label);
    }
    if (status != ONENET_OK)
        request->service->errors++;
    service_record (request->service, status, registry_clock_us () - request->received_us);
    adapter->served++;
    adapter_untrack (adapter, request);
    requests_remove (self->requests, request);
    /* One credit came back: give it the oldest waiting request. */
    for (size_t i = 0; i < adapter->service_count && adapter->in_flight < adapter->credit; i++)
        if (adapter->services[i]->queue_head)
            broker_pump (self, adapter->services[i]);
}

void
on_adapter_heartbeat (broker_t *self, inbound_t *in)
{
    if (!in->adapter)
        ask_to_register (self, in);
}

void
on_adapter_disconnect (broker_t *self, inbound_t *in)
{
    if (in->adapter)
        broker_drop_adapter (self, in->adapter, "disconnected");
}

/* A department's record changed: its cached views go. */
static void
on_record_changed (broker_t *self, const char *department, const void *body, size_t size)
{
    const ProtobufCMessageDescriptor *type = &onenet__view__record_changed__descriptor;
    Onenet__View__RecordChanged *changed
        = body ? (Onenet__View__RecordChanged *) protobuf_c_message_unpack (
                     type, &self->arena.allocator, size, body)
               : NULL;
    if (changed && *changed->resident_id)
        view_on_record_changed (self, department, changed->resident_id);
    else
        broker_log_bad (self, "record.changed event without an onenet.view.RecordChanged body");
}

void
on_adapter_event (broker_t *self, inbound_t *in)
{
    if (!in->adapter) {
        ask_to_register (self, in);
        return;
    }
    Onenet__EventHeader *header = in->header ? (Onenet__EventHeader *) onenet_wire_unpack (
                                      &onenet__event_header__descriptor, in->header,
                                      &self->arena)
                                             : NULL;
    if (!header) {
        self->events_total++;
        broker_log_bad (self, "EVENT without a valid onenet.EventHeader");
        return;
    }
    /* One event, or a batch of header->count under the same header. The
     * broker reads the bodies only for the rules and the view; the frame
     * goes on to the subscribers as it came. */
    uint32_t events = header->count ? header->count : 1;
    self->events_total += events;
    onenet_event_bodies_t bodies;
    if (onenet_event_bodies_init (&bodies, header->count, in->body ? zmq_msg_data (in->body) : NULL,
                                  in->body ? zmq_msg_size (in->body) : 0) < 0) {
        broker_log_bad (self, "EVENT whose body frame does not hold EventHeader.count bodies");
        events_refused (self->events, in->adapter, events);
        return;
    }
    onenet_debug ("event.received", "department=%s topic=%s type=%s events=%" PRIu32,
                  in->adapter->department, header->topic, header->type, events);
    bool record_changed = strcmp (header->topic, "record.changed") == 0;
    const void *body;
    size_t size;
    while (onenet_event_bodies_next (&bodies, &body, &size)) {
        rules_on_event (self, in->adapter->department, header, body, size);
        if (record_changed)
            on_record_changed (self, in->adapter->department, body, size);
    }
    events_relay (self->events, in->adapter, header, in->body);
}

void
broker_drop_adapter (broker_t *self, adapter_t *adapter, const char *reason)
{
    unsigned retried = 0, failed = 0;
    service_t *touched[adapter->service_count ? adapter->service_count : 1];
    size_t touched_count = adapter->service_count;
    memcpy (touched, adapter->services, touched_count * sizeof *touched);
    while (adapter->in_flight_head) {
        request_t *request = adapter->in_flight_head;
        adapter_untrack (adapter, request);
        if (request->idempotent) {
            request->state = REQUEST_QUEUED;
            service_enqueue_front (request->service, request);
            retried++;
        }
        else {
            broker_fail (self, request, ONENET_UNAVAILABLE,
                         "the serving adapter went away; the request was not idempotent");
            failed++;
        }
    }
    char quoted[64];
    onenet_info ("adapter.gone", "department=%s instance=%s reason=%s retried=%u failed=%u",
                 adapter->department, adapter->instance,
                 onenet_log_quote (reason, quoted, sizeof quoted), retried, failed);
    /* Requests gathered for it were failed over above: they must not
     * reach it too. */
    outbox_discard (self->outbox, &adapter->routing_id);
    registry_remove_adapter (self->registry, adapter);
    for (size_t i = 0; i < touched_count; i++)
        broker_pump (self, touched[i]);
}
