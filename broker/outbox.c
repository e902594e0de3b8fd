/*
 * outbox.c - a peer's batch lives in a box found by its routing id. Only
 * peers with something gathered have a box: a flushed box goes back to a
 * small pool with its buffer, so a busy loop allocates nothing, and a
 * client seen once leaves nothing behind.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "outbox.h"

/* Boxes kept for reuse, each with its buffer (up to about 128 KiB). */
#define POOL_MAX 16

typedef struct box_t {
    zmq_msg_t peer;             /* routing id */
    onenet_batch_t batch;
    struct box_t *next;         /* in the dirty list, or the pool */
} box_t;

struct outbox_t {
    void *socket;
    hashmap_t *boxes;           /* routing id -> box with something gathered */
    box_t *dirty;
    box_t *pool;
    size_t pooled;
    uint64_t batched;
    uint64_t batches;
};

outbox_t *
outbox_new (void *socket)
{
    outbox_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->socket = socket;
    self->boxes = hashmap_new ();
    if (!self->boxes)
        outbox_destroy (&self);
    return self;
}

/* Frees a box whose routing id is closed. */
static void
box_free (box_t *box)
{
    onenet_batch_release (&box->batch);
    free (box);
}

void
outbox_destroy (outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    outbox_t *self = *self_p;
    while (self->dirty) {
        box_t *box = self->dirty;
        self->dirty = box->next;
        zmq_msg_close (&box->peer);
        box_free (box);
    }
    while (self->pool) {
        box_t *box = self->pool;
        self->pool = box->next;
        box_free (box);
    }
    hashmap_destroy (&self->boxes);
    free (self);
    *self_p = NULL;
}

static box_t *
box_of (outbox_t *self, const zmq_msg_t *peer)
{
    zmq_msg_t *id = (zmq_msg_t *) peer;
    return hashmap_get (self->boxes, zmq_msg_data (id), zmq_msg_size (id));
}

static box_t *
box_open (outbox_t *self, const zmq_msg_t *peer)
{
    box_t *box = self->pool;
    if (box) {
        self->pool = box->next;
        self->pooled--;
    }
    else if (!(box = calloc (1, sizeof *box)))
        return NULL;
    zmq_msg_init (&box->peer);
    zmq_msg_copy (&box->peer, (zmq_msg_t *) peer);
    if (hashmap_put (self->boxes, zmq_msg_data (&box->peer), zmq_msg_size (&box->peer), box) < 0) {
        zmq_msg_close (&box->peer);
        box_free (box);
        return NULL;
    }
    box->next = self->dirty;
    self->dirty = box;
    return box;
}

static void
send_box (outbox_t *self, box_t *box)
{
    if (box->batch.count > 1) {
        self->batched += box->batch.count;
        self->batches++;
    }
    /* As every send of the broker: never wait. A peer whose queue is
     * full loses the batch, as it would each message: clients and the
     * broker's deadlines cover that. */
    onenet_batch_send (&box->batch, self->socket, &box->peer, ZMQ_DONTWAIT);
    onenet_batch_clear (&box->batch);
}

int
outbox_add (outbox_t *self, const zmq_msg_t *peer, uint32_t max, onenet_command_t command,
            const ProtobufCMessage *header, zmq_msg_t *body)
{
    box_t *box = box_of (self, peer);
    if (!box && !(box = box_open (self, peer)))
        return -1;
    if (onenet_batch_add (&box->batch, command, header, body ? zmq_msg_data (body) : NULL,
                          body ? zmq_msg_size (body) : 0)
        < 0)
        return -1;
    if (onenet_batch_full (&box->batch, max))
        send_box (self, box);   /* the box stays dirty until the turn ends */
    return 0;
}

void
outbox_flush_peer (outbox_t *self, const zmq_msg_t *peer)
{
    box_t *box = box_of (self, peer);
    if (box)
        send_box (self, box);
}

/* Unlinks a box from the map and puts it in the pool (or frees it). */
static void
box_close (outbox_t *self, box_t *box)
{
    hashmap_remove (self->boxes, zmq_msg_data (&box->peer), zmq_msg_size (&box->peer));
    zmq_msg_close (&box->peer);
    onenet_batch_clear (&box->batch);
    if (self->pooled < POOL_MAX) {
        box->next = self->pool;
        self->pool = box;
        self->pooled++;
    }
    else
        box_free (box);
}

void
outbox_flush (outbox_t *self)
{
    while (self->dirty) {
        box_t *box = self->dirty;
        self->dirty = box->next;
        send_box (self, box);
        box_close (self, box);
    }
}

void
outbox_discard (outbox_t *self, const zmq_msg_t *peer)
{
    box_t *box = box_of (self, peer);
    if (box)
        onenet_batch_clear (&box->batch);   /* closed with the others at the turn's end */
}

uint64_t
outbox_batched (const outbox_t *self)
{
    return self->batched;
}

uint64_t
outbox_batches (const outbox_t *self)
{
    return self->batches;
}
