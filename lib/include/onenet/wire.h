/*
 * onenet/wire.h - the frame codec shared by the broker and the SDK.
 *
 * A OneNet message is a ZeroMQ multipart message of at most three frames
 * (after the routing id a ROUTER socket adds):
 *
 *   signature  4 bytes: 'O' 'N' <protocol version> <command>
 *   header     protobuf message of proto/onenet.proto, chosen by command
 *   body       optional, opaque bytes, e.g. a service's request message
 *
 * The broker routes on the signature and header and moves the body frame
 * on without reading or copying it. docs/PROTOCOL.md is the full text.
 */
#ifndef ONENET_WIRE_H
#define ONENET_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONENET_PROTOCOL_VERSION 1
#define ONENET_SCHEMA_VERSION 1
#define ONENET_SIGNATURE_SIZE 4

/* Frames kept by onenet_wire_recv; further frames are counted and dropped. */
#define ONENET_WIRE_MAX_FRAMES 8

typedef enum {
    ONENET_CMD_READY = 1,      /* adapter -> broker, header Ready */
    ONENET_CMD_REQUEST = 2,    /* client -> broker -> adapter, RequestHeader + body */
    ONENET_CMD_REPLY = 3,      /* adapter -> broker -> client, ReplyHeader + body */
    ONENET_CMD_HEARTBEAT = 4,  /* both ways, no header */
    ONENET_CMD_DISCONNECT = 5, /* both ways, optional Notice */
    ONENET_CMD_EVENT = 6,      /* adapter -> broker, EventHeader + body */
    ONENET_CMD_ERROR = 7,      /* broker -> peer, Notice */
    ONENET_CMD_WELCOME = 8,    /* broker -> adapter, Welcome */
    ONENET_CMD_CREDIT = 9,     /* broker -> adapter, Credit (events passed on) */
    ONENET_CMD_BATCH = 10,     /* REQUESTs or REPLYs in one frame, where negotiated */
} onenet_command_t;

/* Returns the command's name ("READY", ...) or "UNKNOWN". Static string. */
const char *onenet_command_name (int command);

/* Writes the 4-byte signature of a command of this protocol version. */
void onenet_wire_signature (uint8_t out[ONENET_SIGNATURE_SIZE], onenet_command_t command);

/* Reads a signature frame. Returns the command code (1..255) and stores the
 * protocol version in *version; returns -1 when the frame is not a OneNet
 * signature (wrong size or magic). The command is not checked against the
 * known ones, nor the version against ours: the caller decides. */
int onenet_wire_parse_signature (const void *data, size_t size, int *version);

/* One received multipart message, on the caller's stack. Frames are
 * zmq_msg_t so a body can be moved on with zmq_msg_send without a copy. */
typedef struct {
    zmq_msg_t frame[ONENET_WIRE_MAX_FRAMES];
    int count;      /* frames kept in frame[] */
    int dropped;    /* frames past ONENET_WIRE_MAX_FRAMES, discarded */
    size_t size;    /* bytes in all frames, kept and dropped */
} onenet_wire_msg_t;

/* Receives one whole multipart message. flags as for zmq_msg_recv
 * (ZMQ_DONTWAIT). Returns 0, or -1 with errno set (EAGAIN, EINTR, ...),
 * in which case nothing needs closing. On success the caller must
 * onenet_wire_close the message. */
int onenet_wire_recv (void *socket, onenet_wire_msg_t *msg, int flags);

/* Receives one whole message, waiting at most timeout_ms for it (-1:
 * without limit). Unlike zmq_poll followed by a receive, this costs no
 * system call when a message is already queued: the cheapest way for a
 * one-socket loop to wait. Sets the socket's ZMQ_RCVTIMEO. Returns as
 * onenet_wire_recv (EAGAIN when nothing came in time). */
int onenet_wire_recv_wait (void *socket, onenet_wire_msg_t *msg, int timeout_ms);

/* Closes every frame still held. Safe on frames already moved. */
void onenet_wire_close (onenet_wire_msg_t *msg);

/* Sends one message: optional routing id (copied, not consumed), the
 * signature, the packed header if not NULL, and the body if not NULL.
 * The body frame is moved: on return it is empty whatever the outcome.
 * Returns 0, or -1 with errno set. Blocks only if the socket would
 * (pass ZMQ_DONTWAIT in flags to never block). */
int onenet_wire_send (void *socket, const zmq_msg_t *routing_id,
                      onenet_command_t command, const ProtobufCMessage *header,
                      zmq_msg_t *body, int flags);

/* Like onenet_wire_send with the body given as bytes, copied. */
int onenet_wire_send_bytes (void *socket, const zmq_msg_t *routing_id,
                            onenet_command_t command, const ProtobufCMessage *header,
                            const void *body, size_t body_size, int flags);

/* A bump allocator for unpacking headers without malloc: frees are no-ops
 * and the whole arena is reset once a message is handled. An allocation
 * that does not fit (a header with a very long field) spills to malloc
 * and is freed at reset, so any valid header unpacks. */
typedef struct {
    ProtobufCAllocator allocator;
    size_t used;
    size_t capacity;
    unsigned char *buffer;
    void *spilled;      /* malloc'd blocks, freed by reset */
} onenet_arena_t;

/* Sets an arena over a caller-owned buffer. */
void onenet_arena_init (onenet_arena_t *arena, void *buffer, size_t capacity);
/* Forgets everything allocated from the arena, freeing what spilled. */
void onenet_arena_reset (onenet_arena_t *arena);

/* Unpacks a header frame as a message of the given type. With arena NULL
 * the result is malloc'd and the caller frees it with
 * protobuf_c_message_free_unpacked(msg, NULL); with an arena it lives
 * until the arena is reset. Returns NULL if the bytes are not a valid
 * message of that type. */
ProtobufCMessage *onenet_wire_unpack (const ProtobufCMessageDescriptor *descriptor,
                                      const zmq_msg_t *frame, onenet_arena_t *arena);

/* Unpacks the header of an event as the broker relays it to subscribers:
 * two frames, the first its topic ("event.<department>.<topic>"), a NUL
 * and the EventHeader (descriptor onenet__event_header__descriptor), the
 * second the body. Sets *topic_length (if not NULL) to the topic's length.
 * The header is allocated as by onenet_wire_unpack. NULL if the frame has
 * no NUL or what follows it is not a valid message of that type. */
ProtobufCMessage *onenet_wire_unpack_event_head (const ProtobufCMessageDescriptor *descriptor,
                                                 const zmq_msg_t *frame, size_t *topic_length,
                                                 onenet_arena_t *arena);

/* Writes value as a protobuf varint at out (at most 10 bytes) and returns
 * how many bytes that took; with out NULL it only counts them. The
 * lengths of batches' bodies and of length-delimited fields appended to
 * packed messages are written with it. */
size_t onenet_varint_write (uint8_t *out, uint64_t value);

/* The bodies of one event message (docs/PROTOCOL.md, "Event batches"):
 * with its EventHeader's count 0 the body frame is one body; with count N
 * it holds N bodies, each after its length as a varint. */
typedef struct {
    const uint8_t *at;
    const uint8_t *end;
    uint32_t left;      /* bodies not yet returned */
    int single;         /* count 0: the whole frame is the one body */
} onenet_event_bodies_t;

/* Starts a walk over the body frame's bytes (data NULL when there is no
 * body frame, size then 0) for an EventHeader's count. Checks the whole frame first: returns
 * 0, or -1 when the lengths do not add up to exactly count bodies filling
 * the frame (then the walk returns nothing). */
int onenet_event_bodies_init (onenet_event_bodies_t *bodies, uint32_t count, const void *data,
                              size_t size);

/* The next body: returns 1 and sets *body and *size (pointing into the
 * frame), or 0 when every body was returned. */
int onenet_event_bodies_next (onenet_event_bodies_t *bodies, const void **body, size_t *size);

/* A BATCH message (docs/PROTOCOL.md, "Batches"): the signature, then one
 * frame of entries, each a whole REQUEST or REPLY:
 *
 *   command (1 byte)  varint(header length) header  varint(body length) body
 *
 * Every message costs each thread on its way the same, whatever its size,
 * so many small requests or replies to one peer go as one. Peers batch
 * only what the other side said it takes (the batch_max fields). */

/* Bodies larger than this are worth their own message: sent alone, they
 * move without a copy, and their size, not the message count, is what
 * they cost. */
#define ONENET_BATCH_BODY_MAX 4096
/* A batch is sent once it holds this many bytes, whatever its count. */
#define ONENET_BATCH_BYTES_MAX 65536

/* Entries being gathered for one peer. Zero-initialise; release with
 * onenet_batch_release. */
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    uint32_t count;
} onenet_batch_t;

/* True when a message with a body of body_size bytes, to a peer that
 * takes BATCHes of max, should be gathered rather than sent alone. */
bool onenet_batch_takes (uint32_t max, size_t body_size);

/* True when the batch must go before anything else joins it: it holds
 * max entries, or ONENET_BATCH_BYTES_MAX bytes. */
bool onenet_batch_full (const onenet_batch_t *batch, uint32_t max);

/* Appends a message: the command, the packed header (NULL: none) and the
 * body's bytes (copied). Returns 0, or -1 when out of memory. */
int onenet_batch_add (onenet_batch_t *batch, onenet_command_t command,
                      const ProtobufCMessage *header, const void *body, size_t body_size);

/* Sends what was gathered, to routing_id if not NULL: one BATCH, or a
 * lone entry as the plain message it is. Empties the batch; nothing to
 * send is success. Returns 0, or -1 with errno (EAGAIN: the socket is
 * full, and the batch is kept for another try). */
int onenet_batch_send (onenet_batch_t *batch, void *socket, const zmq_msg_t *routing_id,
                       int flags);

/* Forgets the entries, keeping the buffer. */
void onenet_batch_clear (onenet_batch_t *batch);
/* Frees the buffer. */
void onenet_batch_release (onenet_batch_t *batch);

/* A walk over a received BATCH frame. */
typedef struct {
    const uint8_t *at;
    const uint8_t *end;
} onenet_batch_reader_t;

/* One entry, pointing into the frame. */
typedef struct {
    int command;
    const void *header;
    size_t header_size;
    const void *body;
    size_t body_size;
} onenet_batch_entry_t;

/* Starts a walk over a BATCH frame. Checks the whole frame first: returns
 * how many entries it holds (at least 1), or -1 when it is empty or its
 * lengths do not tile it (then the walk returns nothing). The commands
 * are not checked: the caller decides what it accepts. */
int onenet_batch_reader_init (onenet_batch_reader_t *reader, const void *data, size_t size);

/* The next entry: returns 1 and fills *entry, or 0 after the last. */
int onenet_batch_next (onenet_batch_reader_t *reader, onenet_batch_entry_t *entry);

/* Drops the unknown fields of message and of every message inside it.
 * For a message unpacked with the default allocator (NULL) that is about
 * to be stored or re-sent: protobuf-c keeps unknown fields it cannot
 * always pack back readably (an over-long varint tag of field 0 is read,
 * then written as a plain 0 that unpack refuses). */
void onenet_message_strip_unknown (ProtobufCMessage *message);
/* The same for a message unpacked with `allocator` (an arena's: its
 * fields are given back to it, not to free). */
void onenet_message_strip_unknown_with (ProtobufCMessage *message, ProtobufCAllocator *allocator);

/* Milliseconds of a monotonic clock, for deadlines and heartbeats. */
int64_t onenet_clock_ms (void);
/* Milliseconds since the Unix epoch. */
int64_t onenet_wall_ms (void);

#ifdef __cplusplus
}
#endif
#endif
