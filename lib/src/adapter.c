/*
 * adapter.c - a department's side of OneNet: register services, answer
 * requests, heartbeat, and come back by itself after a broker restart.
 *
 * Liveness follows ZeroMQ RFC 7 (MDP): both sides send HEARTBEAT every
 * interval; a peer silent for `liveness` intervals is gone. When the broker
 * goes silent the adapter opens a new connection and sends READY again;
 * when a (restarted) broker answers a heartbeat with DISCONNECT because it
 * does not know the adapter, READY goes again on the same connection.
 * Requests held by handlers across a reconnect are answered into the void:
 * their broker either is gone or has already failed them over.
 *
 * Where the broker takes them (docs/PROTOCOL.md, "Batches"), requests come
 * and replies go in BATCHes: small replies wait, like events, until the
 * next poll. Replies and events leave in the order they were given, so at
 * most one of the two batches holds anything at a time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "onenet/onenet.h"
#include "onenet/proto/onenet.pb-c.h"
#include "sdk_internal.h"

#define DEFAULT_CREDIT 32
#define DEFAULT_HEARTBEAT_MS 1000
#define DEFAULT_LIVENESS 3
#define RECV_BATCH 256
/* Bytes of bodies one batched EVENT carries at most. Every place in a
 * subscriber's queue at the broker (alerts.sndhwm) may hold a batch, so
 * this bounds what a queue can hold in bytes: 1000 places of 16 KiB.
 * Larger batches gain little more: a batch of 64 small events already
 * costs each thread once instead of 64 times. */
#define BATCH_BYTES_MAX 16384
/* REQUESTs the adapter takes in one BATCH (Ready.batch_max). */
#define REQUEST_BATCH_MAX 64

/* Events published since the last send, waiting to go as one EVENT
 * (docs/PROTOCOL.md, "Event batches"): consecutive events with the same
 * topic, type and millisecond, each body after its length as a varint. */
typedef struct {
    char *topic;
    const char *type;          /* the body's descriptor name: static */
    int64_t time_ms;
    uint32_t count;
    uint8_t *data;
    size_t size;
    size_t first_length_size;  /* bytes of the first body's length */
} batch_t;

typedef struct {
    char *name;
    onenet_handler_fn *handler;
    void *arg;
    const ProtobufCMessageDescriptor *request_type;
    const ProtobufCMessageDescriptor *reply_type;
    bool idempotent;
    char *description;
} offer_t;

/* One allocation per request: the strings live in text, after it. */
struct onenet_request_t {
    uint64_t correlation_id;
    uint64_t connection;       /* which registration it came in */
    const char *service;
    const char *department;
    const char *user;
    const char *purpose;
    char trace_hex[33];
    int64_t deadline;          /* local monotonic ms */
    uint32_t attempt;
    zmq_msg_t body;
    onenet_request_t *prev, *next;   /* held by handlers */
    onenet_arena_t arena;      /* onenet_request_message's, over the room after text */
    char text[];
};

struct onenet_adapter_t {
    void *context;
    void *socket;
    char *endpoint;
    char *department;
    char *instance;
    offer_t *offers;
    size_t offer_count;
    unsigned credit;
    unsigned heartbeat_ms;
    unsigned broker_heartbeat_ms;
    unsigned liveness;
    uint64_t connection;       /* bumped on every registration (READY) */
    int64_t broker_seen_at;    /* last message from the broker */
    int64_t heartbeat_at;      /* when to send the next HEARTBEAT */
    bool registered;
    int64_t ready_sent_at;     /* last READY not yet WELCOMEd; 0 when none */
    bool stopped;
    bool fatal;
    onenet_request_t *held;    /* requests given to handlers, not yet replied */
    /* Event flow control: the broker confirms with CREDIT, cumulatively
     * per registration, the events that left it; at most event_window
     * (from WELCOME; 0 = no limit) may be unconfirmed. */
    uint32_t event_window;
    uint64_t events_sent;      /* EVENTs sent since the last READY */
    uint64_t events_confirmed; /* of those, what the latest CREDIT counted */
    uint32_t event_batch_max;  /* from WELCOME; below 2, every event goes alone */
    batch_t batch;             /* events */
    uint32_t reply_batch_max;  /* Welcome.batch_max; below 2, every reply goes alone */
    onenet_batch_t replies;    /* replies given since the last send */
    char error[256];
};

static bool
valid_department (const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

onenet_adapter_t *
onenet_adapter_new (const char *endpoint, const char *department, const char *instance,
                    char *err, size_t err_size)
{
    if (!valid_department (department)) {
        sdk_set_error (err, err_size, "department must be [a-z0-9_]+, not \"%s\"",
                       department ? department : "");
        return NULL;
    }
    onenet_adapter_t *self = calloc (1, sizeof *self);
    if (!self) {
        sdk_set_error (err, err_size, "out of memory");
        return NULL;
    }
    char default_instance[128];
    if (!instance || !*instance) {
        char host[64] = "host";
        gethostname (host, sizeof host - 1);
        snprintf (default_instance, sizeof default_instance, "%s-%d", host, (int) getpid ());
        instance = default_instance;
    }
    self->endpoint = strdup (endpoint ? endpoint : onenet_default_endpoint ());
    self->department = strdup (department);
    self->instance = strdup (instance);
    self->credit = DEFAULT_CREDIT;
    self->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    self->broker_heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    self->liveness = DEFAULT_LIVENESS;
    self->context = zmq_ctx_new ();
    if (!self->endpoint || !self->department || !self->instance || !self->context) {
        sdk_set_error (err, err_size, "out of memory");
        onenet_adapter_destroy (&self);
    }
    return self;
}

static void
request_free (onenet_request_t *request)
{
    zmq_msg_close (&request->body);
    onenet_arena_reset (&request->arena);   /* what a decoded body spilled */
    free (request);
}

/* Room for the body decoded by onenet_request_message, in the request's
 * one allocation: decoded, a message takes about twice its wire size
 * (structs, pointers, strings); what does not fit spills to malloc. */
static size_t
message_room (size_t body_size)
{
    size_t room = 2 * body_size + 256;
    return room < 2048 ? room : 2048;
}

static void
held_unlink (onenet_adapter_t *self, onenet_request_t *request)
{
    if (request->prev)
        request->prev->next = request->next;
    else
        self->held = request->next;
    if (request->next)
        request->next->prev = request->prev;
}

/* Sends one EVENT of count events under this header (count 0: one event
 * without a count); the body frame is moved. Returns as onenet_wire_send. */
static int
send_event (onenet_adapter_t *self, const char *topic, const char *type, int64_t time_ms,
            uint32_t count, zmq_msg_t *body)
{
    Onenet__EventHeader header = ONENET__EVENT_HEADER__INIT;
    header.topic = (char *) topic;
    header.type = (char *) type;
    header.time_ms = time_ms;
    header.count = count;
    return onenet_wire_send (self->socket, NULL, ONENET_CMD_EVENT, &header.base, body,
                             ZMQ_DONTWAIT);
}

/* Sends the batched events as one EVENT (a lone event as before
 * batches, count 0). Returns 0, or -1 (EAGAIN: the socket is full) with
 * the batch kept for the next try. */
static int
flush_events (onenet_adapter_t *self)
{
    batch_t *batch = &self->batch;
    if (batch->count == 0)
        return 0;
    if (!self->socket) {
        errno = ENOTCONN;
        return -1;
    }
    size_t skip = batch->count > 1 ? 0 : batch->first_length_size;
    zmq_msg_t body;
    if (zmq_msg_init_size (&body, batch->size - skip) < 0)
        return -1;
    memcpy (zmq_msg_data (&body), batch->data + skip, batch->size - skip);
    int rc = send_event (self, batch->topic, batch->type, batch->time_ms,
                         batch->count > 1 ? batch->count : 0, &body);
    zmq_msg_close (&body);
    if (rc == 0) {
        batch->count = 0;
        batch->size = 0;
    }
    return rc;
}

/* Sends the batched replies as one BATCH (a lone reply as a plain
 * REPLY). Returns 0, or -1 (EAGAIN: the socket is full) with the batch
 * kept for the next try. */
static int
flush_replies (onenet_adapter_t *self)
{
    if (self->replies.count == 0)
        return 0;
    if (!self->socket) {
        errno = ENOTCONN;
        return -1;
    }
    return onenet_batch_send (&self->replies, self->socket, NULL, ZMQ_DONTWAIT);
}

/* Sends whichever batch holds something (at most one does). */
static int
flush_batches (onenet_adapter_t *self)
{
    return flush_events (self) < 0 ? -1 : flush_replies (self);
}

/* Every message goes after the events and replies given before it. */
static void
send_simple (onenet_adapter_t *self, onenet_command_t command, const ProtobufCMessage *header)
{
    if (self->socket) {
        flush_batches (self);
        onenet_wire_send (self->socket, NULL, command, header, NULL, ZMQ_DONTWAIT);
    }
}

static void
close_connection (onenet_adapter_t *self, bool say_goodbye)
{
    if (!self->socket)
        return;
    if (say_goodbye)
        send_simple (self, ONENET_CMD_DISCONNECT, NULL);
    zmq_close (self->socket);
    self->socket = NULL;
    self->registered = false;
    self->batch.count = 0;   /* unsent, like what the socket still queued */
    self->batch.size = 0;
    onenet_batch_clear (&self->replies);   /* for a registration that is gone */
}

void
onenet_adapter_destroy (onenet_adapter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    onenet_adapter_t *self = *self_p;
    if (self->socket) {
        /* Let DISCONNECT reach the broker, so it fails over at once
         * instead of waiting for missed heartbeats. */
        int linger = 200;
        zmq_setsockopt (self->socket, ZMQ_LINGER, &linger, sizeof linger);
        close_connection (self, true);
    }
    while (self->held) {
        onenet_request_t *request = self->held;
        held_unlink (self, request);
        request_free (request);
    }
    for (size_t i = 0; i < self->offer_count; i++) {
        free (self->offers[i].name);
        free (self->offers[i].description);
    }
    free (self->offers);
    free (self->batch.topic);
    free (self->batch.data);
    onenet_batch_release (&self->replies);
    if (self->context)
        zmq_ctx_term (self->context);
    free (self->endpoint);
    free (self->department);
    free (self->instance);
    free (self);
    *self_p = NULL;
}

int
onenet_adapter_offer (onenet_adapter_t *self, const char *service, onenet_handler_fn *handler,
                      void *arg, const onenet_offer_options_t *options)
{
    if (!service || !*service || !handler || strncmp (service, "onenet.", 7) == 0) {
        snprintf (self->error, sizeof self->error, "invalid service name \"%s\"",
                  service ? service : "");
        return -1;
    }
    for (size_t i = 0; i < self->offer_count; i++)
        if (strcmp (self->offers[i].name, service) == 0) {
            snprintf (self->error, sizeof self->error, "service %s offered twice", service);
            return -1;
        }
    offer_t *grown = realloc (self->offers, (self->offer_count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    self->offers = grown;
    offer_t *offer = &self->offers[self->offer_count];
    memset (offer, 0, sizeof *offer);
    offer->name = strdup (service);
    offer->handler = handler;
    offer->arg = arg;
    if (options) {
        offer->request_type = options->request_type;
        offer->reply_type = options->reply_type;
        offer->idempotent = options->idempotent;
        offer->description = options->description ? strdup (options->description) : NULL;
    }
    if (!offer->name)
        return -1;
    self->offer_count++;
    return 0;
}

void
onenet_adapter_set_credit (onenet_adapter_t *self, unsigned credit)
{
    if (credit >= 1 && credit <= 65535)
        self->credit = credit;
}

void
onenet_adapter_set_heartbeat (onenet_adapter_t *self, unsigned heartbeat_ms)
{
    if (heartbeat_ms >= 10)
        self->heartbeat_ms = heartbeat_ms;
}

static void
send_ready (onenet_adapter_t *self)
{
    Onenet__ServiceOffer offers[self->offer_count ? self->offer_count : 1];
    Onenet__ServiceOffer *offer_ptrs[self->offer_count ? self->offer_count : 1];
    for (size_t i = 0; i < self->offer_count; i++) {
        const offer_t *offer = &self->offers[i];
        onenet__service_offer__init (&offers[i]);
        offers[i].name = offer->name;
        offers[i].request_type = (char *) (offer->request_type ? offer->request_type->name : "");
        offers[i].reply_type = (char *) (offer->reply_type ? offer->reply_type->name : "");
        offers[i].idempotent = offer->idempotent;
        offers[i].description = offer->description ? offer->description : "";
        offer_ptrs[i] = &offers[i];
    }
    Onenet__Ready ready = ONENET__READY__INIT;
    ready.schema_version = ONENET_SCHEMA_VERSION;
    ready.department = self->department;
    ready.instance = self->instance;
    ready.n_services = self->offer_count;
    ready.services = offer_ptrs;
    ready.credit = self->credit;
    ready.heartbeat_ms = self->heartbeat_ms;
    ready.batch_max = REQUEST_BATCH_MAX;
    send_simple (self, ONENET_CMD_READY, &ready.base);
    self->registered = false;
    self->ready_sent_at = onenet_clock_ms ();
    self->events_sent = self->events_confirmed = 0;   /* the broker counts afresh */
    self->reply_batch_max = 0;   /* until its WELCOME says */
    /* Replies the full socket kept back belong to the registration
     * before: after this READY their ids could be taken for new ones. */
    onenet_batch_clear (&self->replies);
    /* Requests from an earlier registration are not answered into this
     * one: a restarted broker could take their ids for its own. */
    self->connection++;
}

static int
open_connection (onenet_adapter_t *self)
{
    self->socket = sdk_connect (self->context, ZMQ_DEALER, self->endpoint, self->error, sizeof self->error);
    if (!self->socket)
        return -1;
    int64_t now = onenet_clock_ms ();
    self->broker_seen_at = now;
    self->heartbeat_at = now + self->heartbeat_ms;
    send_ready (self);
    return 0;
}

int
onenet_adapter_start (onenet_adapter_t *self)
{
    if (self->socket)
        return 0;
    if (self->offer_count == 0) {
        snprintf (self->error, sizeof self->error, "no service offered");
        return -1;
    }
    if (open_connection (self) < 0)
        return -1;
    onenet_info ("adapter.start", "department=%s instance=%s broker=%s services=%zu credit=%u",
                 self->department, self->instance, self->endpoint, self->offer_count, self->credit);
    return 0;
}

static const offer_t *
find_offer (const onenet_adapter_t *self, const char *service)
{
    for (size_t i = 0; i < self->offer_count; i++)
        if (strcmp (self->offers[i].name, service) == 0)
            return &self->offers[i];
    return NULL;
}

/* One REQUEST, plain or from a BATCH: its packed header, and its body
 * (NULL: none), which is moved into the request. Returns 1 when a handler
 * (or the reply for an unknown service) took it, else 0. */
static int
handle_request (onenet_adapter_t *self, const void *header_data, size_t header_size,
                zmq_msg_t *body)
{
    /* The header is read into the stack; what the request keeps of it is
     * copied into the request's one allocation. */
    max_align_t space[512 / sizeof (max_align_t)];
    onenet_arena_t arena;
    onenet_arena_init (&arena, space, sizeof space);
    Onenet__RequestHeader *header = (Onenet__RequestHeader *) protobuf_c_message_unpack (
        &onenet__request_header__descriptor, &arena.allocator, header_size, header_data);
    if (!header) {
        onenet_arena_reset (&arena);
        onenet_warn ("adapter.bad_request", "reason=\"request header missing or invalid\"");
        return 0;
    }
    const char *department = header->requester ? header->requester->department : "";
    const char *user = header->requester ? header->requester->user : "";
    size_t service_len = strlen (header->service), department_len = strlen (department);
    size_t user_len = strlen (user), purpose_len = strlen (header->purpose);
    size_t text_size = service_len + department_len + user_len + purpose_len + 4;
    size_t room = message_room (body ? zmq_msg_size (body) : 0)
                  + 16;   /* what aligning the arena's start may skip */
    onenet_request_t *request = malloc (sizeof *request + text_size + room);
    if (!request) {
        onenet_arena_reset (&arena);
        return 0;
    }
    char *cursor = request->text;
    request->service = sdk_text_put (&cursor, header->service, service_len);
    request->department = sdk_text_put (&cursor, department, department_len);
    request->user = sdk_text_put (&cursor, user, user_len);
    request->purpose = sdk_text_put (&cursor, header->purpose, purpose_len);
    onenet_arena_init (&request->arena, request->text + text_size, room);
    request->correlation_id = header->correlation_id;
    request->connection = self->connection;
    request->attempt = header->attempt;
    request->deadline = onenet_clock_ms () + header->timeout_ms;
    sdk_hex (header->trace_id.data, header->trace_id.len, request->trace_hex,
             sizeof request->trace_hex);
    zmq_msg_init (&request->body);
    if (body)
        zmq_msg_move (&request->body, body);
    onenet_arena_reset (&arena);

    request->prev = NULL;
    request->next = self->held;
    if (self->held)
        self->held->prev = request;
    self->held = request;

    const offer_t *offer = find_offer (self, request->service);
    if (!offer) {
        onenet_adapter_reply (self, &request, ONENET_UNKNOWN_SERVICE,
                              "service not offered by this adapter", NULL, 0);
        return 1;
    }
    offer->handler (self, request, offer->arg);
    return 1;
}

/* A plain REQUEST: the body frame moves to the request, without a copy. */
static int
handle_plain_request (onenet_adapter_t *self, onenet_wire_msg_t *msg)
{
    if (msg->count < 2) {
        onenet_warn ("adapter.bad_request", "reason=\"request header missing or invalid\"");
        return 0;
    }
    return handle_request (self, zmq_msg_data (&msg->frame[1]), zmq_msg_size (&msg->frame[1]),
                           msg->count >= 3 ? &msg->frame[2] : NULL);
}

/* A BATCH of REQUESTs, each handled as a plain one, its body copied out
 * of the frame (which is freed once the BATCH is handled). A malformed
 * BATCH is dropped whole: none of its requests is handled. */
static int
handle_batch (onenet_adapter_t *self, onenet_wire_msg_t *msg)
{
    onenet_batch_reader_t reader;
    if (msg->count < 2
        || onenet_batch_reader_init (&reader, zmq_msg_data (&msg->frame[1]),
                                     zmq_msg_size (&msg->frame[1]))
               < 0) {
        onenet_warn ("adapter.bad_request", "reason=\"malformed batch\"");
        return 0;
    }
    uint64_t connection = self->connection;
    int handled = 0;
    onenet_batch_entry_t entry;
    while (onenet_batch_next (&reader, &entry)) {
        if (entry.command != ONENET_CMD_REQUEST) {
            onenet_warn ("adapter.bad_request", "reason=\"not a request in a batch\" command=%s",
                         onenet_command_name (entry.command));
            continue;
        }
        zmq_msg_t body;
        if (zmq_msg_init_size (&body, entry.body_size) < 0)
            break;
        if (entry.body_size)
            memcpy (zmq_msg_data (&body), entry.body, entry.body_size);
        handled += handle_request (self, entry.header, entry.header_size, &body);
        zmq_msg_close (&body);
        /* As after a plain request, a stopped adapter takes no more; and
         * what is left is not answered into another registration. */
        if (self->stopped || !self->socket || self->connection != connection)
            break;
    }
    return handled;
}

static void
handle_welcome (onenet_adapter_t *self, onenet_wire_msg_t *msg)
{
    Onenet__Welcome *welcome = msg->count >= 2 ? (Onenet__Welcome *) onenet_wire_unpack (
                                   &onenet__welcome__descriptor, &msg->frame[1], NULL)
                                               : NULL;
    if (welcome) {
        if (welcome->heartbeat_ms)
            self->broker_heartbeat_ms = welcome->heartbeat_ms;
        if (welcome->liveness)
            self->liveness = welcome->liveness;
        self->event_window = welcome->event_window;
        self->event_batch_max = welcome->event_batch_max;
        self->reply_batch_max = welcome->batch_max;
        protobuf_c_message_free_unpacked (&welcome->base, NULL);
    }
    self->registered = true;
    self->ready_sent_at = 0;
    onenet_info ("adapter.registered", "department=%s instance=%s broker=%s", self->department,
                 self->instance, self->endpoint);
}

/* An ERROR not tied to a request means the broker refused this adapter
 * (wrong version, invalid READY): retrying cannot help, so stop. One with
 * a request's id refused that reply (too large): the adapter goes on. */
static void
handle_error (onenet_adapter_t *self, onenet_wire_msg_t *msg)
{
    Onenet__Notice *notice = msg->count >= 2 ? (Onenet__Notice *) onenet_wire_unpack (
                                 &onenet__notice__descriptor, &msg->frame[1], NULL)
                                             : NULL;
    bool fatal = !notice || notice->correlation_id == 0;
    snprintf (self->error, sizeof self->error, "broker refused %s: %s: %s",
              fatal ? "the adapter" : "a reply",
              onenet_status_name (notice ? (int) notice->status : ONENET_INTERNAL),
              notice && notice->message ? notice->message : "");
    if (!fatal) {
        char quoted[300];
        onenet_warn ("adapter.reply_refused", "department=%s correlation_id=%" PRIu64 " reason=%s",
                     self->department, notice->correlation_id,
                     onenet_log_quote (self->error, quoted, sizeof quoted));
    }
    if (notice)
        protobuf_c_message_free_unpacked (&notice->base, NULL);
    if (fatal) {
        char quoted[300];
        onenet_error ("adapter.refused", "department=%s reason=%s", self->department,
                      onenet_log_quote (self->error, quoted, sizeof quoted));
        self->fatal = true;
        self->stopped = true;
    }
}

/* CREDIT: how many of this registration's events have left the broker.
 * One that comes before WELCOME still counts the registration before. */
static void
handle_credit (onenet_adapter_t *self, onenet_wire_msg_t *msg)
{
    if (self->ready_sent_at || msg->count < 2)
        return;
    Onenet__Credit *credit = (Onenet__Credit *) onenet_wire_unpack (&onenet__credit__descriptor,
                                                                   &msg->frame[1], NULL);
    if (!credit)
        return;
    uint64_t confirmed = credit->events < self->events_sent ? credit->events : self->events_sent;
    if (confirmed > self->events_confirmed)
        self->events_confirmed = confirmed;
    protobuf_c_message_free_unpacked (&credit->base, NULL);
}

static int
handle_message (onenet_adapter_t *self, onenet_wire_msg_t *msg)
{
    int version = 0;
    int command = msg->count ? onenet_wire_parse_signature (zmq_msg_data (&msg->frame[0]),
                                                            zmq_msg_size (&msg->frame[0]), &version)
                             : -1;
    if (command < 0)
        return 0;
    self->broker_seen_at = onenet_clock_ms ();
    switch (command) {
    case ONENET_CMD_REQUEST:
        return handle_plain_request (self, msg);
    case ONENET_CMD_BATCH:
        return handle_batch (self, msg);
    case ONENET_CMD_WELCOME:
        handle_welcome (self, msg);
        break;
    case ONENET_CMD_DISCONNECT:
        /* The broker does not know us (it restarted, or dropped us as
         * silent): register again on this connection. A restarted broker
         * answers every heartbeat and late reply with DISCONNECT: one READY
         * answers them all, and a second would undo the first (the broker
         * takes it as a fresh start and fails what it had sent us). */
        if (self->ready_sent_at
            && onenet_clock_ms () - self->ready_sent_at < (int64_t) self->broker_heartbeat_ms)
            break;
        onenet_info ("adapter.reregister", "department=%s instance=%s", self->department,
                     self->instance);
        send_ready (self);
        break;
    case ONENET_CMD_ERROR:
        handle_error (self, msg);
        break;
    case ONENET_CMD_CREDIT:
        handle_credit (self, msg);
        break;
    default:
        break;   /* HEARTBEAT: liveness only */
    }
    return 0;
}

static void
run_timers (onenet_adapter_t *self)
{
    int64_t now = onenet_clock_ms ();
    if (now - self->broker_seen_at > (int64_t) self->broker_heartbeat_ms * self->liveness) {
        onenet_warn ("adapter.broker_silent", "department=%s instance=%s silent_ms=%" PRId64,
                     self->department, self->instance, now - self->broker_seen_at);
        close_connection (self, false);
        if (open_connection (self) < 0)
            return;
        now = onenet_clock_ms ();
    }
    if (now >= self->heartbeat_at) {
        send_simple (self, ONENET_CMD_HEARTBEAT, NULL);
        self->heartbeat_at = now + self->heartbeat_ms;
    }
}

int
onenet_adapter_next_timeout_ms (const onenet_adapter_t *self)
{
    int64_t now = onenet_clock_ms ();
    int64_t expiry = self->broker_seen_at + (int64_t) self->broker_heartbeat_ms * self->liveness;
    int64_t next = self->heartbeat_at < expiry ? self->heartbeat_at : expiry;
    return next <= now ? 0 : (int) (next - now);
}

int
onenet_adapter_poll (onenet_adapter_t *self, int timeout_ms)
{
    if (self->stopped || onenet_interrupted ())
        return -1;
    if (!self->socket && onenet_adapter_start (self) < 0)
        return -1;
    /* Events and replies given since the last poll go before it waits; a
     * batch the full socket refused is tried again within a millisecond. */
    int wait = flush_batches (self) == 0 ? onenet_adapter_next_timeout_ms (self) : 1;
    if (timeout_ms >= 0 && timeout_ms < wait)
        wait = timeout_ms;
    /* One message, waited for without zmq_poll: a receive costs no
     * system call while messages are queued, where poll(2) and the check
     * that finds the queue empty each cost one (see onenet_wire_recv_wait).
     * A caller with its own poll loop (timeout 0) gets what is queued. */
    int handled = 0;
    onenet_wire_msg_t msg;
    if (onenet_wire_recv_wait (self->socket, &msg, wait) == 0) {
        int batch = timeout_ms == 0 ? RECV_BATCH : 1;
        int i = 0;
        do {
            handled += handle_message (self, &msg);
            onenet_wire_close (&msg);
        } while (++i < batch && self->socket
                 && onenet_wire_recv (self->socket, &msg, ZMQ_DONTWAIT) == 0);
    }
    else if (errno == EINTR && onenet_interrupted ())
        return -1;
    if (self->socket) {
        run_timers (self);
        flush_batches (self);   /* what the handlers published and replied */
    }
    return self->stopped ? -1 : handled;
}

int
onenet_adapter_run (onenet_adapter_t *self)
{
    if (onenet_adapter_start (self) < 0)
        return -1;
    while (onenet_adapter_poll (self, -1) >= 0)
        ;
    onenet_info ("adapter.stop", "department=%s instance=%s", self->department, self->instance);
    return self->fatal ? -1 : 0;
}

void
onenet_adapter_stop (onenet_adapter_t *self)
{
    self->stopped = true;
}

bool
onenet_adapter_registered (const onenet_adapter_t *self)
{
    return self->registered;
}

void *
onenet_adapter_socket (onenet_adapter_t *self)
{
    return self->socket;
}

const char *
onenet_adapter_error (const onenet_adapter_t *self)
{
    return self->error;
}

const char *
onenet_adapter_department (const onenet_adapter_t *self)
{
    return self->department;
}

const char *
onenet_adapter_instance (const onenet_adapter_t *self)
{
    return self->instance;
}

/* Adds a reply to the batch, sent at once when that fills it. */
static int
batch_reply (onenet_adapter_t *self, const ProtobufCMessage *header, const void *body,
             size_t size)
{
    if (onenet_batch_full (&self->replies, self->reply_batch_max) && flush_replies (self) < 0)
        return -1;
    if (onenet_batch_add (&self->replies, ONENET_CMD_REPLY, header, body, size) < 0) {
        errno = ENOMEM;
        return -1;
    }
    if (onenet_batch_full (&self->replies, self->reply_batch_max))
        flush_replies (self);   /* if refused, it goes at the next chance */
    return 0;
}

int
onenet_adapter_reply (onenet_adapter_t *self, onenet_request_t **request_p,
                      onenet_status_t status, const char *message, const void *body, size_t size)
{
    if (!request_p || !*request_p)
        return -1;
    onenet_request_t *request = *request_p;
    *request_p = NULL;
    held_unlink (self, request);
    int rc = 0;
    /* Never block the adapter's loop: a reply that cannot be queued is
     * lost, and the broker answers its requester TIMEOUT. Nor does it
     * overtake what was given before it: the record.changed its handler
     * published, earlier replies still in the batch. */
    if (self->socket && request->connection == self->connection) {
        Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
        header.correlation_id = request->correlation_id;
        header.status = (Onenet__Status) status;
        header.message = (char *) (message ? message : "");
        if (flush_events (self) < 0)
            rc = -1;
        else if (onenet_batch_takes (self->reply_batch_max, size))
            rc = batch_reply (self, &header.base, body, size);
        else if (flush_replies (self) < 0)
            rc = -1;
        else
            rc = onenet_wire_send_bytes (self->socket, NULL, ONENET_CMD_REPLY, &header.base, body,
                                         size, ZMQ_DONTWAIT);
    }
    else
        rc = -1;   /* its connection is gone; the broker failed it over */
    request_free (request);
    return rc;
}

int
onenet_adapter_reply_message (onenet_adapter_t *self, onenet_request_t **request_p,
                              const ProtobufCMessage *reply)
{
    size_t size = protobuf_c_message_get_packed_size (reply);
    uint8_t stack[1024];
    uint8_t *buffer = size <= sizeof stack ? stack : malloc (size);
    if (!buffer)
        return onenet_adapter_reply (self, request_p, ONENET_INTERNAL, "adapter out of memory",
                                     NULL, 0);
    protobuf_c_message_pack (reply, buffer);
    int rc = onenet_adapter_reply (self, request_p, ONENET_OK, NULL, buffer, size);
    if (buffer != stack)
        free (buffer);
    return rc;
}

/* Appends a varint length and the packed event to the batch, which has
 * room for both. */
static void
batch_append (batch_t *batch, const ProtobufCMessage *event, size_t size)
{
    uint8_t *at = batch->data + batch->size;
    at += onenet_varint_write (at, size);
    if (batch->count == 0)
        batch->first_length_size = (size_t) (at - (batch->data + batch->size));
    protobuf_c_message_pack (event, at);
    batch->size = (size_t) (at - batch->data) + size;
    batch->count++;
}

/* Starts a batch for events of this header; -1 when out of memory. */
static int
batch_start (batch_t *batch, const char *topic, const char *type, int64_t time_ms)
{
    if (!batch->topic || strcmp (batch->topic, topic) != 0) {
        char *copy = strdup (topic);
        if (!copy)
            return -1;
        free (batch->topic);
        batch->topic = copy;
    }
    if (!batch->data && !(batch->data = malloc (BATCH_BYTES_MAX)))
        return -1;
    batch->type = type;
    batch->time_ms = time_ms;
    return 0;
}

int
onenet_adapter_publish (onenet_adapter_t *self, const char *topic, const ProtobufCMessage *event)
{
    if (!self->socket) {
        errno = ENOTCONN;
        return -1;
    }
    if (self->event_window && self->events_sent - self->events_confirmed >= self->event_window) {
        errno = EAGAIN;   /* subscribers are behind: the broker holds our window's worth */
        return -1;
    }
    if (flush_replies (self) < 0)
        return -1;   /* replies given before it go first */
    batch_t *batch = &self->batch;
    const char *type = event->descriptor->name;
    int64_t time_ms = onenet_wall_ms ();
    size_t size = protobuf_c_message_get_packed_size (event);
    size_t room = size + 5;   /* its length takes at most 5 bytes */
    bool batching = self->event_batch_max > 1 && room <= BATCH_BYTES_MAX;
    /* It joins the batch only under the same header, and while the
     * batch has room; otherwise the batch goes first. */
    if (batch->count
        && (!batching || batch->count >= self->event_batch_max || batch->time_ms != time_ms
            || batch->type != type || strcmp (batch->topic, topic) != 0
            || batch->size + room > BATCH_BYTES_MAX)
        && flush_events (self) < 0)
        return -1;
    if (batching && batch->count == 0 && batch_start (batch, topic, type, time_ms) < 0) {
        errno = ENOMEM;
        return -1;
    }
    if (batching) {
        batch_append (batch, event, size);
        self->events_sent++;
        if (batch->count >= self->event_batch_max)
            flush_events (self);   /* if refused, it goes at the next chance */
        return 0;
    }
    zmq_msg_t body;
    if (zmq_msg_init_size (&body, size) < 0)
        return -1;
    protobuf_c_message_pack (event, zmq_msg_data (&body));
    int rc = send_event (self, topic, type, time_ms, 0, &body);
    zmq_msg_close (&body);
    if (rc == 0)
        self->events_sent++;
    return rc;
}

int
onenet_adapter_flush (onenet_adapter_t *self)
{
    return flush_batches (self);
}

/* --- request accessors --- */

const char *
onenet_request_service (const onenet_request_t *self)
{
    return self->service;
}

const void *
onenet_request_body (const onenet_request_t *self, size_t *size)
{
    zmq_msg_t *body = (zmq_msg_t *) &self->body;
    if (size)
        *size = zmq_msg_size (body);
    return zmq_msg_data (body);
}

ProtobufCMessage *
onenet_request_unpack (const onenet_request_t *self, const ProtobufCMessageDescriptor *descriptor)
{
    return onenet_wire_unpack (descriptor, &self->body, NULL);
}

ProtobufCMessage *
onenet_request_message (onenet_request_t *self, const ProtobufCMessageDescriptor *descriptor)
{
    return onenet_wire_unpack (descriptor, &self->body, &self->arena);
}

const char *
onenet_request_department (const onenet_request_t *self)
{
    return self->department;
}

const char *
onenet_request_user (const onenet_request_t *self)
{
    return self->user;
}

const char *
onenet_request_purpose (const onenet_request_t *self)
{
    return self->purpose;
}

const char *
onenet_request_trace_id (const onenet_request_t *self)
{
    return self->trace_hex;
}

int64_t
onenet_request_remaining_ms (const onenet_request_t *self)
{
    int64_t left = self->deadline - onenet_clock_ms ();
    return left > 0 ? left : 0;
}

uint32_t
onenet_request_attempt (const onenet_request_t *self)
{
    return self->attempt;
}
