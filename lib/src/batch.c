/*
 * batch.c - many messages in one: the bodies of an event batch, and the
 * entries of a BATCH of requests or replies (docs/PROTOCOL.md, "Event
 * batches" and "Batches"). Both put a varint length before each part,
 * and both are checked whole before anything is read from them, so a
 * malformed batch is refused as a unit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "onenet/wire.h"
#include "wire_internal.h"

/* A varint of at most 32 bits at *at, before end; -1 if cut off or longer. */
static int
read_length (const uint8_t **at, const uint8_t *end, uint32_t *value)
{
    uint32_t result = 0;
    for (int shift = 0; shift < 35 && *at < end; shift += 7) {
        uint8_t byte = *(*at)++;
        if (shift == 28 && byte > 0x0f)
            return -1;
        result |= (uint32_t) (byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *value = result;
            return 0;
        }
    }
    return -1;
}

int
onenet_event_bodies_init (onenet_event_bodies_t *bodies, uint32_t count, const void *data,
                          size_t size)
{
    const uint8_t *start = data;
    *bodies = (onenet_event_bodies_t) {.at = start, .end = start ? start + size : NULL,
                                       .left = count ? count : 1, .single = count == 0};
    if (bodies->single)
        return 0;
    const uint8_t *at = bodies->at;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t length;
        if (read_length (&at, bodies->end, &length) < 0 || length > (size_t) (bodies->end - at)) {
            bodies->left = 0;
            return -1;
        }
        at += length;
    }
    if (at != bodies->end) {
        bodies->left = 0;
        return -1;
    }
    return 0;
}

int
onenet_event_bodies_next (onenet_event_bodies_t *bodies, const void **body, size_t *size)
{
    if (!bodies->left)
        return 0;
    bodies->left--;
    size_t length = 0;
    if (bodies->single)
        length = bodies->at ? (size_t) (bodies->end - bodies->at) : 0;
    else {
        uint32_t prefix = 0;
        read_length (&bodies->at, bodies->end, &prefix);   /* checked by init */
        length = prefix;
    }
    *body = bodies->at;
    *size = length;
    if (bodies->at)
        bodies->at += length;
    return 1;
}

/* --- BATCH --- */

size_t
onenet_varint_write (uint8_t *out, uint64_t value)
{
    size_t bytes = 1;
    for (; value >= 0x80; value >>= 7, bytes++)
        if (out)
            *out++ = (uint8_t) (value | 0x80);
    if (out)
        *out = (uint8_t) value;
    return bytes;
}

static int
reserve (onenet_batch_t *batch, size_t more)
{
    if (batch->capacity - batch->size >= more)
        return 0;
    size_t capacity = batch->capacity ? batch->capacity : 1024;
    while (capacity - batch->size < more)
        capacity *= 2;
    uint8_t *data = realloc (batch->data, capacity);
    if (!data)
        return -1;
    batch->data = data;
    batch->capacity = capacity;
    return 0;
}

bool
onenet_batch_takes (uint32_t max, size_t body_size)
{
    return max > 1 && body_size <= ONENET_BATCH_BODY_MAX;
}

bool
onenet_batch_full (const onenet_batch_t *batch, uint32_t max)
{
    return batch->count >= max || batch->size >= ONENET_BATCH_BYTES_MAX;
}

int
onenet_batch_add (onenet_batch_t *batch, onenet_command_t command,
                  const ProtobufCMessage *header, const void *body, size_t body_size)
{
    size_t header_size = header ? protobuf_c_message_get_packed_size (header) : 0;
    if (reserve (batch, 1 + onenet_varint_write (NULL, header_size) + header_size
                            + onenet_varint_write (NULL, body_size) + body_size)
        < 0)
        return -1;
    uint8_t *at = batch->data + batch->size;
    *at++ = (uint8_t) command;
    at += onenet_varint_write (at, header_size);
    if (header_size)
        at += protobuf_c_message_pack (header, at);
    at += onenet_varint_write (at, body_size);
    if (body_size)
        memcpy (at, body, body_size);
    at += body_size;
    batch->size = (size_t) (at - batch->data);
    batch->count++;
    return 0;
}

int
onenet_batch_send (onenet_batch_t *batch, void *socket, const zmq_msg_t *routing_id, int flags)
{
    if (batch->count == 0)
        return 0;
    int extra = flags & ZMQ_DONTWAIT;
    if (routing_id) {
        if (wire_send_routing_id (socket, routing_id, extra) < 0)
            return -1;
        extra = 0;   /* committed: the rest never fails for room */
    }
    uint8_t signature[ONENET_SIGNATURE_SIZE];
    int rc;
    if (batch->count == 1) {
        /* A lone entry goes as the message it is, as without batches. */
        onenet_batch_reader_t reader;
        onenet_batch_entry_t entry;
        onenet_batch_reader_init (&reader, batch->data, batch->size);
        onenet_batch_next (&reader, &entry);
        onenet_wire_signature (signature, (onenet_command_t) entry.command);
        int more = entry.header_size || entry.body_size ? ZMQ_SNDMORE : 0;
        rc = wire_send_copy (socket, signature, sizeof signature, more | extra);
        if (rc == 0 && more)
            rc = wire_send_copy (socket, entry.header, entry.header_size,
                                 entry.body_size ? ZMQ_SNDMORE : 0);
        if (rc == 0 && entry.body_size)
            rc = wire_send_copy (socket, entry.body, entry.body_size, 0);
    }
    else {
        onenet_wire_signature (signature, ONENET_CMD_BATCH);
        rc = wire_send_copy (socket, signature, sizeof signature, ZMQ_SNDMORE | extra);
        if (rc == 0)
            rc = wire_send_copy (socket, batch->data, batch->size, 0);
    }
    if (rc == 0 || errno != EAGAIN)
        onenet_batch_clear (batch);   /* sent, or it never will be */
    return rc;
}

void
onenet_batch_clear (onenet_batch_t *batch)
{
    batch->size = 0;
    batch->count = 0;
}

void
onenet_batch_release (onenet_batch_t *batch)
{
    free (batch->data);
    *batch = (onenet_batch_t) { 0 };
}

/* A length and the bytes after it, within end; NULL if they do not fit. */
static const uint8_t *
read_part (const uint8_t *at, const uint8_t *end, const void **part, size_t *size)
{
    uint32_t length;
    if (read_length (&at, end, &length) < 0 || length > (size_t) (end - at))
        return NULL;
    *part = at;
    *size = length;
    return at + length;
}

/* One entry at at; NULL when it does not fit before end. */
static const uint8_t *
read_entry (const uint8_t *at, const uint8_t *end, onenet_batch_entry_t *entry)
{
    if (at >= end)
        return NULL;
    entry->command = *at++;
    at = read_part (at, end, &entry->header, &entry->header_size);
    return at ? read_part (at, end, &entry->body, &entry->body_size) : NULL;
}

int
onenet_batch_reader_init (onenet_batch_reader_t *reader, const void *data, size_t size)
{
    const uint8_t *at = data, *end = data ? at + size : NULL;
    *reader = (onenet_batch_reader_t) { .at = end, .end = end };
    int count = 0;
    onenet_batch_entry_t entry;
    while (at && at < end) {
        at = read_entry (at, end, &entry);
        if (!at || count == INT32_MAX)
            return -1;
        count++;
    }
    if (count == 0)
        return -1;
    reader->at = data;
    return count;
}

int
onenet_batch_next (onenet_batch_reader_t *reader, onenet_batch_entry_t *entry)
{
    if (!reader->at || reader->at >= reader->end)
        return 0;
    reader->at = read_entry (reader->at, reader->end, entry);   /* checked by init */
    return 1;
}
