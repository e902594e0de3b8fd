/*
 * client.c - calls to OneNet services over one DEALER connection.
 *
 * Calls in flight are kept in an array sorted by correlation id (ids only
 * grow, so appending keeps it sorted and a reply is found by binary
 * search). Each has a local deadline a little after the broker's, so a
 * call ends even when the broker is gone. Replies that arrive while a
 * synchronous call waits for its own are queued for onenet_client_recv.
 *
 * Batches (docs/PROTOCOL.md, "Batches"): every request says the client
 * takes BATCHes of replies, and a BATCH's REPLY entries are handled as
 * plain REPLYs. Requests are gathered into one BATCH only when the caller
 * turned batching on (a caller polling the socket itself must otherwise
 * see each request leave at onenet_client_send) and the broker's latest
 * reply said it takes them. The gathered calls are pending like any
 * other, so their local deadlines hold even while the batch cannot leave.
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
/* REPLYs the client takes in one BATCH (RequestHeader.batch_max). */
#define CLIENT_BATCH_MAX 64
/* How often a wait retries a batch the socket refused (EAGAIN). */
#define BATCH_RETRY_MS 50

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
    bool batching;                /* onenet_client_set_batching */
    uint32_t broker_batch_max;    /* from the latest broker reply; < 2: no batches */
    onenet_batch_t batch;         /* requests gathered, not yet sent */
    uint64_t *batch_ids;          /* their correlation ids, batch.count of them */
    size_t batch_ids_capacity;
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
    onenet_batch_release (&self->batch);
    free (self->batch_ids);
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

/* One REPLY, plain or an entry of a BATCH: the header's bytes, and the
 * body either as a frame, moved into the reply (body_frame not NULL), or
 * as bytes, copied. */
static void
on_reply (onenet_client_t *self, const void *header_data, size_t header_size,
          zmq_msg_t *body_frame, const void *body, size_t body_size)
{
    /* The header is read into the stack; the reply copies what it keeps. */
    max_align_t space[512 / sizeof (max_align_t)];
    onenet_arena_t arena;
    onenet_arena_init (&arena, space, sizeof space);
    Onenet__ReplyHeader *header = (Onenet__ReplyHeader *) protobuf_c_message_unpack (
        &onenet__reply_header__descriptor, &arena.allocator, header_size, header_data);
    if (header)
        self->broker_batch_max = header->batch_max;   /* 0: this broker takes no batches */
    if (header && pending_remove (self, header->correlation_id) == 0) {
        onenet_reply_t *reply = reply_new_served (header->correlation_id,
                                                  (onenet_status_t) header->status,
                                                  header->message, header->served_by);
        if (reply && !body_frame && body_size) {
            zmq_msg_close (&reply->body);
            if (zmq_msg_init_size (&reply->body, body_size) == 0)
                memcpy (zmq_msg_data (&reply->body), body, body_size);
            else {
                zmq_msg_init (&reply->body);
                onenet_reply_destroy (&reply);
                reply = reply_new (header->correlation_id, ONENET_INTERNAL,
                                   "out of memory for the reply's body");
            }
        }
        else if (reply && body_frame)
            zmq_msg_move (&reply->body, body_frame);
        if (reply) {
            sdk_hex (header->trace_id.data, header->trace_id.len, reply->trace_hex,
                     sizeof reply->trace_hex);
            ready_push (self, reply);
        }
    }
    onenet_arena_reset (&arena);
}

static void
handle_reply (onenet_client_t *self, onenet_wire_msg_t *msg)
{
    if (msg->count < 2)
        return;
    on_reply (self, zmq_msg_data (&msg->frame[1]), zmq_msg_size (&msg->frame[1]),
              msg->count >= 3 ? &msg->frame[2] : NULL, NULL, 0);
}

/* A BATCH from the broker: its REPLY entries, each as a plain REPLY. One
 * whose lengths do not tile its frame is dropped whole; entries of other
 * commands are not the broker's to send a client, and are skipped. */
static void
handle_batch (onenet_client_t *self, onenet_wire_msg_t *msg)
{
    if (msg->count < 2)
        return;
    onenet_batch_reader_t reader;
    if (onenet_batch_reader_init (&reader, zmq_msg_data (&msg->frame[1]),
                                  zmq_msg_size (&msg->frame[1]))
        < 0)
        return;
    onenet_batch_entry_t entry;
    while (onenet_batch_next (&reader, &entry))
        if (entry.command == ONENET_CMD_REPLY)
            on_reply (self, entry.header, entry.header_size, NULL, entry.body, entry.body_size);
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
    else if (command == ONENET_CMD_BATCH && version == ONENET_PROTOCOL_VERSION)
        handle_batch (self, msg);
    else if (command == ONENET_CMD_ERROR)
        handle_error (self, msg);
    onenet_wire_close (msg);
}

/* --- request batches --- */

/* Sends the gathered requests: one BATCH, or a lone one as a plain
 * REQUEST. Returns 0 (also with nothing gathered), or -1 with errno: with
 * EAGAIN the batch is kept for the next flush point (its calls still
 * expire at their local deadlines); with another error it is dropped and
 * its calls end now, each with an UNAVAILABLE reply. */
static int
batch_flush (onenet_client_t *self)
{
    uint32_t count = self->batch.count;
    if (count == 0 || onenet_batch_send (&self->batch, self->socket, NULL, ZMQ_DONTWAIT) == 0)
        return 0;
    int saved = errno;
    if (saved == EAGAIN)
        snprintf (self->error, sizeof self->error,
                  "cannot queue %" PRIu32 " gathered requests: no connection to the broker "
                  "(refused, or too much already queued); they go at the next flush",
                  count);
    else {
        snprintf (self->error, sizeof self->error, "cannot send: %s", zmq_strerror (saved));
        for (uint32_t i = 0; i < count; i++) {
            if (pending_remove (self, self->batch_ids[i]) < 0)
                continue;   /* already ended: its local deadline passed */
            onenet_reply_t *reply = reply_new (self->batch_ids[i], ONENET_UNAVAILABLE, self->error);
            if (reply)
                ready_push (self, reply);
        }
    }
    errno = saved;
    return -1;
}

/* Room for one more id in batch_ids. */
static int
batch_ids_reserve (onenet_client_t *self)
{
    if (self->batch.count < self->batch_ids_capacity)
        return 0;
    size_t capacity = self->batch_ids_capacity ? self->batch_ids_capacity * 2 : CLIENT_BATCH_MAX;
    uint64_t *grown = realloc (self->batch_ids, capacity * sizeof *grown);
    if (!grown)
        return -1;
    self->batch_ids = grown;
    self->batch_ids_capacity = capacity;
    return 0;
}

int
onenet_client_flush (onenet_client_t *self)
{
    return batch_flush (self);
}

void
onenet_client_set_batching (onenet_client_t *self, bool on)
{
    self->batching = on;
    if (!on)
        batch_flush (self);
}

/* Waits up to wait_ms for a message (never past the next local deadline),
 * reads it, and expires what is late. One message per turn, received
 * without zmq_poll: free of system calls while replies are queued (see
 * onenet_wire_recv_wait). Gathered requests go first: never wait on a
 * request not sent. */
static bool
pump (onenet_client_t *self, int wait_ms)
{
    if (batch_flush (self) < 0) {
        if (errno != EAGAIN)
            return true;   /* their calls ended: the replies are ready */
        if (wait_ms < 0 || wait_ms > BATCH_RETRY_MS)
            wait_ms = BATCH_RETRY_MS;   /* the socket may take them soon */
    }
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
    header.batch_max = CLIENT_BATCH_MAX;
    if (options->trace_id) {
        header.trace_id.data = (uint8_t *) options->trace_id;
        header.trace_id.len = 16;
    }
    /* Gathered only where the broker said it takes batches, and small:
     * a large body is worth its own message. */
    bool gather = self->batching && onenet_batch_takes (self->broker_batch_max, size);
    /* Its entry's size, each length taking at most 5 bytes. */
    size_t entry_size = gather ? 11 + protobuf_c_message_get_packed_size (&header.base) + size : 0;
    /* What is gathered goes before a request that cannot join it. If it
     * cannot go, neither can this one (requests leave in order). */
    if (self->batch.count
        && (!gather || onenet_batch_full (&self->batch, self->broker_batch_max)
            || self->batch.size + entry_size > ONENET_BATCH_BYTES_MAX)
        && batch_flush (self) < 0) {
        if (errno == EAGAIN)
            snprintf (self->error, sizeof self->error,
                      "cannot queue the request: the requests gathered before it cannot be "
                      "queued either (no connection to the broker, or too much already queued)");
        return 0;
    }
    if (pending_add (self, header.correlation_id,
                     onenet_clock_ms () + timeout + local_grace_ms (timeout))
        < 0) {
        snprintf (self->error, sizeof self->error, "out of memory");
        return 0;
    }
    if (gather) {
        if (batch_ids_reserve (self) < 0
            || onenet_batch_add (&self->batch, ONENET_CMD_REQUEST, &header.base, body, size) < 0) {
            snprintf (self->error, sizeof self->error, "out of memory");
            pending_remove (self, header.correlation_id);
            return 0;
        }
        self->batch_ids[self->batch.count - 1] = header.correlation_id;
        /* A full batch goes now. Refused, it is tried again at the next
         * flush point, or its calls (this one too) got their replies. */
        if (onenet_batch_full (&self->batch, self->broker_batch_max))
            batch_flush (self);
        return self->next_id++;
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
        /* A caller polling the socket itself calls this after each
         * wake-up: what it gathered leaves before it polls again. A
         * waiting call sends it only when it has to read (pump), so the
         * requests started for the replies already read go together. */
        batch_flush (self);
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
