/*
 * outbox.h - requests and replies gathered per peer during one turn of
 * the broker's loop, sent as one BATCH each at the end of the turn
 * (docs/PROTOCOL.md, "Batches"). Every message costs each thread on its
 * way the same whatever its size, so an adapter with 40 requests waiting
 * gets one message, not 40.
 */
#ifndef BROKER_OUTBOX_H
#define BROKER_OUTBOX_H

#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include <zmq.h>
#include "onenet/wire.h"

typedef struct outbox_t outbox_t;

/* An outbox sending on socket (the broker's ROUTER). NULL when out of
 * memory. */
outbox_t *outbox_new (void *socket);
/* Frees the outbox; what it still holds is not sent. */
void outbox_destroy (outbox_t **self_p);

/* Gathers a message for peer: the command, the header packed, the body's
 * bytes copied (body NULL: none). The peer's batch goes at once when it
 * holds max entries or ONENET_BATCH_BYTES_MAX bytes. Returns 0, or -1
 * when out of memory: the caller sends the message alone. */
int outbox_add (outbox_t *self, const zmq_msg_t *peer, uint32_t max, onenet_command_t command,
                const ProtobufCMessage *header, zmq_msg_t *body);

/* Sends what is gathered for peer, before a message that must follow it. */
void outbox_flush_peer (outbox_t *self, const zmq_msg_t *peer);
/* Sends what is gathered for every peer: once per turn of the loop. */
void outbox_flush (outbox_t *self);
/* Drops what is gathered for peer, unsent: a dropped adapter's requests,
 * already failed over. */
void outbox_discard (outbox_t *self, const zmq_msg_t *peer);

/* Messages sent in a BATCH, and BATCHes sent, since the start. */
uint64_t outbox_batched (const outbox_t *self);
uint64_t outbox_batches (const outbox_t *self);

#endif
