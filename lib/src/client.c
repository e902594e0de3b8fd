/*
 * client.c - calls to OneNet services over one DEALER connection.
 *
 * Calls in flight are kept in an array sorted by correlation id (ids only
 * grow, so appending keeps it sorted and a reply is found by binary
 * search). Each has a local deadline a little after the broker's, so a
 * call ends even when the broker is gone. Replies that arrive while a
 * synchronous call waits for its own are queued for onenet_client_recv.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "onenet/onenet.h"
#include "onenet/proto/onenet.pb-c.h"
#include "sdk_internal.h"

#define DEFAULT_TIMEOUT_MS 5000

/* One allocation per reply: the strings live in text, after it. */
struct onenet_reply_t {
    onenet_status_t status;
    const char *message;
    zmq_msg_t body;
    uint64_t correlation_id;
    const char *served_by;
    char trace_hex[33];
    onenet_reply_t *next;
    char text[];
};

typedef struct {
    uint64_t id;
    int64_t deadline;   /* local, monotonic ms */
} pending_call_t;

struct onenet_client_t {
    void *context;
    void *socket;
    char *endpoint;
    uint32_t default_timeout_ms;
    uint64_t next_id;
    pending_call_t *pending;
    size_t pending_count;
    size_t pending_capacity;
    /* No pending call's local deadline is before this. It may be earlier
     * than any left (answered calls are not looked for): the scan that
     * finds it passed sets it again. */
    int64_t earliest;
    onenet_reply_t *ready_head;   /* replies read, not yet returned */
    onenet_reply_t *ready_tail;
    size_t ready_count;
    char error[256];
};

const char *
onenet_default_endpoint (void)
{
    const char *env = getenv ("ONENET_BROKER");
    return env && *env ? env : "tcp://127.0.0.1:5570";
}

onenet_client_t *
onenet_client_new (const char *endpoint, char *err, size_t err_size)
{
    if (!endpoint)
        endpoint = onenet_default_endpoint ();
    onenet_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        sdk_set_error (err, err_size, "out of memory");
        return NULL;
    }
    self->default_timeout_ms = DEFAULT_TIMEOUT_MS;
    self->next_id = 1;
    self->endpoint = strdup (endpoint);
    self->context = zmq_ctx_new ();
    self->socket = self->context ? sdk_connect (self->context, ZMQ_DEALER, endpoint, err, err_size) : NULL;
    if (!self->endpoint || !self->socket) {
        if (!self->context)
            sdk_set_error (err, err_size, "cannot create a ZeroMQ context");
        onenet_client_destroy (&self);
        return NULL;
    }
    return self;
}

void
onenet_client_destroy (onenet_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    onenet_client_t *self = *self_p;
    while (self->ready_head) {
        onenet_reply_t *reply = self->ready_head;
        self->ready_head = reply->next;
        onenet_reply_destroy (&reply);
    }
    if (self->socket)
        zmq_close (self->socket);
    if (self->context)
        zmq_ctx_term (self->context);
    free (self->pending);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

void
onenet_client_set_default_timeout (onenet_client_t *self, uint32_t timeout_ms)
{
    if (timeout_ms > 0)
        self->default_timeout_ms = timeout_ms;
}

const char *
onenet_client_error (const onenet_client_t *self)
{
    return self->error;
}

size_t
onenet_client_pending (const onenet_client_t *self)
{
    /* Started and not yet returned by recv: waiting for an answer, or
     * answered and queued here. */
    return self->pending_count + self->ready_count;
}

void *
onenet_client_socket (onenet_client_t *self)
{
    return self->socket;
}

int
onenet_client_fd (onenet_client_t *self)
{
    int fd = -1;
    size_t size = sizeof fd;
    zmq_getsockopt (self->socket, ZMQ_FD, &fd, &size);
    return fd;
}

/* --- pending calls --- */

/* Grace after the broker's deadline before the call fails locally: the
 * broker's own TIMEOUT reply normally wins. */
static int64_t
local_grace_ms (uint32_t timeout_ms)
{
    int64_t grace = 250 + timeout_ms / 10;
    return grace > 2000 ? 2000 : grace;
}

static int
pending_add (onenet_client_t *self, uint64_t id, int64_t deadline)
{
    if (self->pending_count == self->pending_capacity) {
        size_t capacity = self->pending_capacity ? self->pending_capacity * 2 : 16;
        pending_call_t *grown = realloc (self->pending, capacity * sizeof *grown);
        if (!grown)
            return -1;
        self->pending = grown;
        self->pending_capacity = capacity;
    }
    self->pending[self->pending_count++] = (pending_call_t) { id, deadline };
    if (deadline < self->earliest)
        self->earliest = deadline;
    return 0;
}

/* Removes the call with this id. Returns 0, or -1 if it is not pending
 * (a late reply to a call that already timed out locally). */
static int
pending_remove (onenet_client_t *self, uint64_t id)
{
    size_t low = 0, high = self->pending_count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (self->pending[mid].id < id)
            low = mid + 1;
        else
            high = mid;
    }
    if (low == self->pending_count || self->pending[low].id != id)
        return -1;
    memmove (&self->pending[low], &self->pending[low + 1],
             (self->pending_count - low - 1) * sizeof *self->pending);
    self->pending_count--;
    return 0;
}

int
onenet_client_next_timeout_ms (const onenet_client_t *self)
{
    if (self->pending_count == 0)
        return -1;
    int64_t left = self->earliest - onenet_clock_ms ();
    return left < 0 ? 0 : (int) (left > INT32_MAX ? INT32_MAX : left);
}

/* --- replies --- */

static onenet_reply_t *
reply_new_served (uint64_t id, onenet_status_t status, const char *message, const char *served_by)
{
    message = message ? message : "";
    served_by = served_by ? served_by : "";
    size_t message_len = strlen (message), served_by_len = strlen (served_by);
    onenet_reply_t *reply = malloc (sizeof *reply + message_len + served_by_len + 2);
    if (!reply)
        return NULL;
    reply->correlation_id = id;
    reply->status = status;
    char *cursor = reply->text;
    reply->message = sdk_text_put (&cursor, message, message_len);
    reply->served_by = sdk_text_put (&cursor, served_by, served_by_len);
    reply->trace_hex[0] = '\0';
    reply->next = NULL;
    zmq_msg_init (&reply->body);
    return reply;
}

static onenet_reply_t *
reply_new (uint64_t id, onenet_status_t status, const char *message)
{
    return reply_new_served (id, status, message, NULL);
}

static void
ready_push (onenet_client_t *self, onenet_reply_t *reply)
{
    reply->next = NULL;
    if (self->ready_tail)
        self->ready_tail->next = reply;
    else
        self->ready_head = reply;
    self->ready_tail = reply;
    self->ready_count++;
}

/* Takes the queued reply with this id (any when id is 0), or NULL. */
static onenet_reply_t *
ready_take (onenet_client_t *self, uint64_t id)
{
    onenet_reply_t *prev = NULL;
    for (onenet_reply_t *reply = self->ready_head; reply; prev = reply, reply = reply->next) {
        if (id && reply->correlation_id != id)
            continue;
        if (prev)
            prev->next = reply->next;
        else
            self->ready_head = reply->next;
        if (self->ready_tail == reply)
            self->ready_tail = prev;
        reply->next = NULL;
        self->ready_count--;
        return reply;
    }
    return NULL;
}

/* Fails every pending call whose local deadline has passed. Looks at
 * them only once the earliest deadline is due: this runs for every
 * message the client receives. */
static void
expire_pending (onenet_client_t *self)
{
    int64_t now = onenet_clock_ms ();
    if (now < self->earliest)
        return;
    int64_t earliest = INT64_MAX;
    for (size_t i = 0; i < self->pending_count;) {
        if (self->pending[i].deadline > now) {
            if (self->pending[i].deadline < earliest)
                earliest = self->pending[i].deadline;
            i++;
            continue;
        }
        uint64_t id = self->pending[i].id;
        pending_remove (self, id);
        onenet_reply_t *reply = reply_new (id, ONENET_TIMEOUT, "no reply from the broker before the deadline");
        if (reply)
            ready_push (self, reply);
    }
    self->earliest = earliest;
}

/* Fails every pending call with the same status, for a connection-wide error. */
static void
fail_all_pending (onenet_client_t *self, onenet_status_t status, const char *message)
{
    while (self->pending_count) {
        uint64_t id = self->pending[0].id;
        pending_remove (self, id);
        onenet_reply_t *reply = reply_new (id, status, message);
        if (reply)
            ready_push (self, reply);
    }
}

static void
handle_reply (onenet_client_t *self, onenet_wire_msg_t *msg)
{
    if (msg->count < 2)
        return;
    /* The header is read into the stack; the reply copies what it keeps. */
    max_align_t space[512 / sizeof (max_align_t)];
    onenet_arena_t arena;
    onenet_arena_init (&arena, space, sizeof space);
    Onenet__ReplyHeader *header = (Onenet__ReplyHeader *) onenet_wire_unpack (
        &onenet__reply_header__descriptor, &msg->frame[1], &arena);
    if (header && pending_remove (self, header->correlation_id) == 0) {
        onenet_reply_t *reply = reply_new_served (header->correlation_id,
                                                  (onenet_status_t) header->status,
                                                  header->message, header->served_by);
        if (reply) {
            sdk_hex (header->trace_id.data, header->trace_id.len, reply->trace_hex,
                     sizeof reply->trace_hex);
            if (msg->count >= 3)
                zmq_msg_move (&reply->body, &msg->frame[2]);
            ready_push (self, reply);
        }
    }
    onenet_arena_reset (&arena);
}

static void
handle_error (onenet_client_t *self, onenet_wire_msg_t *msg)
{
    Onenet__Notice *notice = msg->count >= 2 ? (Onenet__Notice *) onenet_wire_unpack (
                                 &onenet__notice__descriptor, &msg->frame[1], NULL)
                                             : NULL;
    onenet_status_t status = notice ? (onenet_status_t) notice->status : ONENET_INTERNAL;
    const char *message = notice && notice->message ? notice->message : "error from broker";
    snprintf (self->error, sizeof self->error, "%s: %s", onenet_status_name (status), message);
    if (notice && notice->correlation_id) {
        if (pending_remove (self, notice->correlation_id) == 0) {
            onenet_reply_t *reply = reply_new (notice->correlation_id, status, message);
            if (reply)
                ready_push (self, reply);
        }
    }
    else
        fail_all_pending (self, status, message);
    if (notice)
        protobuf_c_message_free_unpacked (&notice->base, NULL);
}

static void
handle_message (onenet_client_t *self, onenet_wire_msg_t *msg)
{
    int version = 0;
    int command = msg->count ? onenet_wire_parse_signature (zmq_msg_data (&msg->frame[0]),
                                                            zmq_msg_size (&msg->frame[0]), &version)
                             : -1;
    if (command == ONENET_CMD_REPLY && version == ONENET_PROTOCOL_VERSION)
        handle_reply (self, msg);
    else if (command == ONENET_CMD_ERROR)
        handle_error (self, msg);
    onenet_wire_close (msg);
}

/* Waits up to wait_ms for a message (never past the next local deadline),
 * reads it, and expires what is late. One message per turn, received
 * without zmq_poll: free of system calls while replies are queued (see
 * onenet_wire_recv_wait). */
static bool
pump (onenet_client_t *self, int wait_ms)
{
    int next = onenet_client_next_timeout_ms (self);
    if (next >= 0 && (wait_ms < 0 || next < wait_ms))
        wait_ms = next;
    onenet_wire_msg_t msg;
    bool got = onenet_wire_recv_wait (self->socket, &msg, wait_ms) == 0;
    if (got)
        handle_message (self, &msg);
    expire_pending (self);
    return got;
}

/* --- calls --- */

uint64_t
onenet_client_send (onenet_client_t *self, const char *service, const void *body, size_t size,
                    const onenet_call_options_t *options)
{
    if (!service || !*service) {
        snprintf (self->error, sizeof self->error, "no service name");
        return 0;
    }
    onenet_call_options_t defaults = { 0 };
    if (!options)
        options = &defaults;
    uint32_t timeout = options->timeout_ms ? options->timeout_ms : self->default_timeout_ms;
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.correlation_id = self->next_id;
    header.service = (char *) service;
    header.timeout_ms = timeout;
    header.idempotent = options->idempotent;
    header.purpose = (char *) (options->purpose ? options->purpose : "");
    header.schema_version = ONENET_SCHEMA_VERSION;
    Onenet__Requester behalf = ONENET__REQUESTER__INIT;
    if (options->on_behalf_of_department || options->on_behalf_of_user) {
        behalf.department =
            (char *)(options->on_behalf_of_department ? options->on_behalf_of_department : "");
        behalf.user = (char *)(options->on_behalf_of_user ? options->on_behalf_of_user : "");
        header.requester = &behalf;
    }
    if (options->trace_id) {
        header.trace_id.data = (uint8_t *) options->trace_id;
        header.trace_id.len = 16;
    }
    if (pending_add (self, header.correlation_id,
                     onenet_clock_ms () + timeout + local_grace_ms (timeout))
        < 0) {
        snprintf (self->error, sizeof self->error, "out of memory");
        return 0;
    }
    /* Never wait here: with no connection to queue on (the broker refused
     * this peer's handshake, or too much is queued) fail the call now. */
    if (onenet_wire_send_bytes (self->socket, NULL, ONENET_CMD_REQUEST, &header.base, body, size,
                                ZMQ_DONTWAIT)
        < 0) {
        if (errno == EAGAIN)
            snprintf (self->error, sizeof self->error,
                      "cannot queue the request: no connection to the broker (refused, or too "
                      "much already queued)");
        else
            snprintf (self->error, sizeof self->error, "cannot send: %s", zmq_strerror (errno));
        pending_remove (self, header.correlation_id);
        return 0;
    }
    return self->next_id++;
}

onenet_reply_t *
onenet_client_recv (onenet_client_t *self, int timeout_ms)
{
    if (timeout_ms == 0) {
        /* No waiting, but everything already queued is read: a message
         * that is not a reply (a late one) must not hide one behind it. */
        onenet_reply_t *reply;
        while (!(reply = ready_take (self, 0)) && pump (self, 0))
            ;
        return reply;
    }
    int64_t until = timeout_ms < 0 ? -1 : onenet_clock_ms () + timeout_ms;
    for (;;) {
        onenet_reply_t *reply = ready_take (self, 0);
        if (reply)
            return reply;
        int64_t left = until < 0 ? -1 : until - onenet_clock_ms ();
        if (until >= 0 && left < 0)
            return NULL;
        if (until < 0 && self->pending_count == 0)
            return NULL;   /* nothing could ever arrive */
        pump (self, (int) left);
    }
}

onenet_reply_t *
onenet_client_call (onenet_client_t *self, const char *service, const void *body, size_t size,
                    const onenet_call_options_t *options)
{
    uint64_t id = onenet_client_send (self, service, body, size, options);
    if (id == 0)
        return reply_new (0, *service ? ONENET_UNAVAILABLE : ONENET_BAD_REQUEST, self->error);
    for (;;) {
        onenet_reply_t *reply = ready_take (self, id);
        if (reply)
            return reply;
        pump (self, -1);
    }
}

onenet_reply_t *
onenet_client_call_message (onenet_client_t *self, const char *service,
                            const ProtobufCMessage *request, const onenet_call_options_t *options)
{
    if (!request)
        return onenet_client_call (self, service, NULL, 0, options);
    size_t size = protobuf_c_message_get_packed_size (request);
    uint8_t stack[512];
    uint8_t *buffer = size <= sizeof stack ? stack : malloc (size);
    if (!buffer)
        return NULL;
    protobuf_c_message_pack (request, buffer);
    onenet_reply_t *reply = onenet_client_call (self, service, buffer, size, options);
    if (buffer != stack)
        free (buffer);
    return reply;
}

/* --- reply accessors --- */

onenet_status_t
onenet_reply_status (const onenet_reply_t *self)
{
    return self->status;
}

const char *
onenet_reply_message (const onenet_reply_t *self)
{
    return self->message;
}

const void *
onenet_reply_body (const onenet_reply_t *self, size_t *size)
{
    zmq_msg_t *body = (zmq_msg_t *) &self->body;
    if (size)
        *size = zmq_msg_size (body);
    return zmq_msg_data (body);
}

uint64_t
onenet_reply_correlation_id (const onenet_reply_t *self)
{
    return self->correlation_id;
}

const char *
onenet_reply_served_by (const onenet_reply_t *self)
{
    return self->served_by;
}

const char *
onenet_reply_trace_id (const onenet_reply_t *self)
{
    return self->trace_hex;
}

ProtobufCMessage *
onenet_reply_unpack (const onenet_reply_t *self, const ProtobufCMessageDescriptor *descriptor)
{
    return onenet_wire_unpack (descriptor, &self->body, NULL);
}

void
onenet_reply_destroy (onenet_reply_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    onenet_reply_t *self = *self_p;
    zmq_msg_close (&self->body);
    free (self);
    *self_p = NULL;
}
