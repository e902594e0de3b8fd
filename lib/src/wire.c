/*
 * wire.c - the frame codec: signature, whole-message receive, send with
 * the body moved, and header unpacking into an arena.
 *
 * This is the broker's hot path, so it avoids copies and malloc: a body
 * frame is handed from one socket to the other with zmq_msg_send, and a
 * header is packed straight into the zmq_msg_t that carries it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "onenet/wire.h"
#include "wire_internal.h"

#define MAGIC_0 'O'
#define MAGIC_1 'N'

static const char *const command_names[] = {
    [ONENET_CMD_READY] = "READY",         [ONENET_CMD_REQUEST] = "REQUEST",
    [ONENET_CMD_REPLY] = "REPLY",         [ONENET_CMD_HEARTBEAT] = "HEARTBEAT",
    [ONENET_CMD_DISCONNECT] = "DISCONNECT", [ONENET_CMD_EVENT] = "EVENT",
    [ONENET_CMD_ERROR] = "ERROR",         [ONENET_CMD_WELCOME] = "WELCOME",
    [ONENET_CMD_CREDIT] = "CREDIT",       [ONENET_CMD_BATCH] = "BATCH",
};

const char *
onenet_command_name (int command)
{
    if (command <= 0 || command >= (int) (sizeof command_names / sizeof command_names[0]))
        return "UNKNOWN";
    return command_names[command];
}

void
onenet_wire_signature (uint8_t out[ONENET_SIGNATURE_SIZE], onenet_command_t command)
{
    out[0] = MAGIC_0;
    out[1] = MAGIC_1;
    out[2] = ONENET_PROTOCOL_VERSION;
    out[3] = (uint8_t) command;
}

int
onenet_wire_parse_signature (const void *data, size_t size, int *version)
{
    const uint8_t *bytes = data;
    if (size != ONENET_SIGNATURE_SIZE || bytes[0] != MAGIC_0 || bytes[1] != MAGIC_1
        || bytes[3] == 0)
        return -1;
    if (version)
        *version = bytes[2];
    return bytes[3];
}

int
onenet_wire_recv (void *socket, onenet_wire_msg_t *msg, int flags)
{
    msg->count = 0;
    msg->dropped = 0;
    msg->size = 0;
    int more = 1;
    while (more) {
        zmq_msg_t spill;
        zmq_msg_t *frame
            = msg->count < ONENET_WIRE_MAX_FRAMES ? &msg->frame[msg->count] : &spill;
        zmq_msg_init (frame);
        /* Once the first frame is in, the rest of the message is already
         * queued: never wait for it. */
        int rc = zmq_msg_recv (frame, socket, msg->count + msg->dropped ? 0 : flags);
        if (rc < 0) {
            int saved = errno;
            zmq_msg_close (frame);
            if (msg->count + msg->dropped == 0) {
                errno = saved;
                return -1;
            }
            /* Cannot happen for a well-formed multipart; keep what we have. */
            break;
        }
        msg->size += (size_t) rc;
        more = zmq_msg_more (frame);
        if (frame == &spill) {
            zmq_msg_close (frame);
            msg->dropped++;
        }
        else
            msg->count++;
    }
    return 0;
}

int
onenet_wire_recv_wait (void *socket, onenet_wire_msg_t *msg, int timeout_ms)
{
    if (timeout_ms == 0)
        return onenet_wire_recv (socket, msg, ZMQ_DONTWAIT);
    if (timeout_ms < 0)
        timeout_ms = -1;
    if (zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms) < 0)
        return -1;
    return onenet_wire_recv (socket, msg, 0);
}

void
onenet_wire_close (onenet_wire_msg_t *msg)
{
    for (int i = 0; i < msg->count; i++)
        zmq_msg_close (&msg->frame[i]);
    msg->count = 0;
}

int
wire_send_frame (void *socket, zmq_msg_t *frame, int flags)
{
    if (zmq_msg_send (frame, socket, flags) < 0) {
        int saved = errno;
        zmq_msg_close (frame);
        errno = saved;
        return -1;
    }
    return 0;
}

int
wire_send_copy (void *socket, const void *data, size_t size, int flags)
{
    zmq_msg_t frame;
    if (zmq_msg_init_size (&frame, size) < 0)
        return -1;
    if (size)
        memcpy (zmq_msg_data (&frame), data, size);
    return wire_send_frame (socket, &frame, flags);
}

int
wire_send_routing_id (void *socket, const zmq_msg_t *routing_id, int flags)
{
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    zmq_msg_copy (&frame, (zmq_msg_t *) routing_id);
    return wire_send_frame (socket, &frame, ZMQ_SNDMORE | flags);
}

int
onenet_wire_send (void *socket, const zmq_msg_t *routing_id, onenet_command_t command,
                  const ProtobufCMessage *header, zmq_msg_t *body, int flags)
{
    int extra = flags & ZMQ_DONTWAIT;
    zmq_msg_t frame;
    if (routing_id && wire_send_routing_id (socket, routing_id, extra) < 0)
        goto fail;
    zmq_msg_init_size (&frame, ONENET_SIGNATURE_SIZE);
    onenet_wire_signature (zmq_msg_data (&frame), command);
    if (wire_send_frame (socket, &frame, (header || body ? ZMQ_SNDMORE : 0) | extra) < 0)
        goto fail;
    /* After the first frame the message is committed: later frames go
     * without DONTWAIT so a message is never cut short. */
    extra = 0;
    if (header) {
        size_t size = protobuf_c_message_get_packed_size (header);
        if (zmq_msg_init_size (&frame, size) < 0)
            goto fail;
        protobuf_c_message_pack (header, zmq_msg_data (&frame));
        if (wire_send_frame (socket, &frame, body ? ZMQ_SNDMORE : 0) < 0)
            goto fail;
    }
    if (body) {
        if (zmq_msg_send (body, socket, 0) < 0)
            goto fail;
    }
    return 0;
fail:
    if (body) {
        int saved = errno;
        zmq_msg_close (body);
        zmq_msg_init (body);
        errno = saved;
    }
    return -1;
}

int
onenet_wire_send_bytes (void *socket, const zmq_msg_t *routing_id, onenet_command_t command,
                        const ProtobufCMessage *header, const void *body, size_t body_size,
                        int flags)
{
    zmq_msg_t frame;
    if (zmq_msg_init_size (&frame, body_size) < 0)
        return -1;
    if (body_size)
        memcpy (zmq_msg_data (&frame), body, body_size);
    int rc = onenet_wire_send (socket, routing_id, command, header, &frame, flags);
    zmq_msg_close (&frame);
    return rc;
}

/* --- arena --- */

/* A spilled block: a link to the previous one, then the caller's bytes. */
typedef struct spill {
    struct spill *next;
    max_align_t data[];
} spill_t;

static void *
arena_alloc (void *data, size_t size)
{
    onenet_arena_t *arena = data;
    size_t aligned = (size + 15) & ~(size_t) 15;
    if (aligned <= arena->capacity - arena->used) {
        void *ptr = arena->buffer + arena->used;
        arena->used += aligned;
        return ptr;
    }
    spill_t *block = malloc (sizeof *block + size);
    if (!block)
        return NULL;
    block->next = arena->spilled;
    arena->spilled = block;
    return block->data;
}

static void
arena_free (void *data, void *ptr)
{
    (void) data;
    (void) ptr;
}

void
onenet_arena_init (onenet_arena_t *arena, void *buffer, size_t capacity)
{
    arena->allocator.alloc = arena_alloc;
    arena->allocator.free = arena_free;
    arena->allocator.allocator_data = arena;
    /* Keep every allocation 16-byte aligned. */
    uintptr_t start = ((uintptr_t) buffer + 15) & ~(uintptr_t) 15;
    size_t lost = start - (uintptr_t) buffer;
    arena->buffer = (unsigned char *) start;
    arena->capacity = capacity > lost ? capacity - lost : 0;
    arena->used = 0;
    arena->spilled = NULL;
}

void
onenet_arena_reset (onenet_arena_t *arena)
{
    arena->used = 0;
    while (arena->spilled) {
        spill_t *block = arena->spilled;
        arena->spilled = block->next;
        free (block);
    }
}

/* protobuf-c's unpack, with the arena's allocator or the heap's. */
static ProtobufCMessage *
unpack_bytes (const ProtobufCMessageDescriptor *descriptor, onenet_arena_t *arena, size_t size,
              const uint8_t *data)
{
    return protobuf_c_message_unpack (descriptor, arena ? &arena->allocator : NULL, size, data);
}

ProtobufCMessage *
onenet_wire_unpack (const ProtobufCMessageDescriptor *descriptor, const zmq_msg_t *frame,
                    onenet_arena_t *arena)
{
    zmq_msg_t *mutable_frame = (zmq_msg_t *) frame;
    return unpack_bytes (descriptor, arena, zmq_msg_size (mutable_frame),
                         zmq_msg_data (mutable_frame));
}

ProtobufCMessage *
onenet_wire_unpack_event_head (const ProtobufCMessageDescriptor *descriptor,
                               const zmq_msg_t *frame, size_t *topic_length,
                               onenet_arena_t *arena)
{
    zmq_msg_t *mutable_frame = (zmq_msg_t *) frame;
    const uint8_t *data = zmq_msg_data (mutable_frame);
    size_t size = zmq_msg_size (mutable_frame);
    const uint8_t *nul = size ? memchr (data, '\0', size) : NULL;
    if (!nul)
        return NULL;
    size_t length = (size_t) (nul - data);
    if (topic_length)
        *topic_length = length;
    return unpack_bytes (descriptor, arena, size - length - 1, nul + 1);
}

/* --- unknown fields --- */

void
onenet_message_strip_unknown (ProtobufCMessage *message)
{
    onenet_message_strip_unknown_with (message, NULL);
}

void
onenet_message_strip_unknown_with (ProtobufCMessage *message, ProtobufCAllocator *allocator)
{
    if (!message)
        return;
    for (unsigned i = 0; i < message->n_unknown_fields; i++)
        allocator ? allocator->free (allocator->allocator_data, message->unknown_fields[i].data)
                  : free (message->unknown_fields[i].data);
    allocator ? allocator->free (allocator->allocator_data, message->unknown_fields)
              : free (message->unknown_fields);
    message->unknown_fields = NULL;
    message->n_unknown_fields = 0;
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    for (unsigned f = 0; f < descriptor->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields[f];
        if (field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        void *member = (char *) message + field->offset;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(size_t *) ((char *) message + field->quantifier_offset);
            ProtobufCMessage **items = *(ProtobufCMessage ***) member;
            for (size_t j = 0; j < count; j++)
                onenet_message_strip_unknown_with (items[j], allocator);
        }
        else
            onenet_message_strip_unknown_with (*(ProtobufCMessage **) member, allocator);
    }
}

/* --- clocks --- */

int64_t
onenet_clock_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
onenet_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
