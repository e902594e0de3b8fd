/*
 * requests.c - slots in chunks (stable addresses, nothing allocated on
 * the hot path once warm), a stack of free slots, and a deadline heap.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "requests.h"

#define CHUNK_SHIFT 10
#define CHUNK_SIZE (1u << CHUNK_SHIFT)

struct requests_t {
    request_t **chunks;
    size_t chunk_count;
    size_t max;
    uint32_t *free_slots;     /* stack */
    size_t free_count;
    size_t allocated;         /* slots created so far */
    request_t **heap;         /* min-heap on deadline */
    size_t count;
    uint32_t epoch;           /* random per run: ids never repeat across restarts */
};

requests_t *
requests_new (size_t max)
{
    requests_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max = max;
    /* A restarted broker must not hand out the ids of its previous run:
     * an adapter may still answer one of those. */
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    uint64_t mix = ((uint64_t) now.tv_sec * 1000000007ULL) ^ (uint64_t) now.tv_nsec
                   ^ ((uint64_t) getpid () << 40);
    mix ^= mix >> 33;
    mix *= 0xff51afd7ed558ccdULL;
    mix ^= mix >> 33;
    self->epoch = (uint32_t) mix;
    size_t chunks = (max + CHUNK_SIZE - 1) / CHUNK_SIZE;
    self->chunks = calloc (chunks, sizeof *self->chunks);
    self->free_slots = malloc (max * sizeof *self->free_slots);
    self->heap = malloc (max * sizeof *self->heap);
    if (!self->chunks || !self->free_slots || !self->heap)
        requests_destroy (&self);
    return self;
}

static request_t *
slot_request (const requests_t *self, uint32_t slot)
{
    return &self->chunks[slot >> CHUNK_SHIFT][slot & (CHUNK_SIZE - 1)];
}

static void
release (request_t *request)
{
    zmq_msg_close (&request->client);
    zmq_msg_close (&request->body);
    free (request->purpose);
    request->purpose = NULL;
}

void
requests_destroy (requests_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    requests_t *self = *self_p;
    for (size_t i = 0; self->heap && i < self->count; i++)
        release (self->heap[i]);
    for (size_t i = 0; self->chunks && i < self->chunk_count; i++)
        free (self->chunks[i]);
    free (self->chunks);
    free (self->free_slots);
    free (self->heap);
    free (self);
    *self_p = NULL;
}

static void
heap_swap (requests_t *self, size_t a, size_t b)
{
    request_t *tmp = self->heap[a];
    self->heap[a] = self->heap[b];
    self->heap[b] = tmp;
    self->heap[a]->heap_index = a;
    self->heap[b]->heap_index = b;
}

static void
heap_up (requests_t *self, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (self->heap[parent]->deadline <= self->heap[i]->deadline)
            break;
        heap_swap (self, i, parent);
        i = parent;
    }
}

static void
heap_down (requests_t *self, size_t i)
{
    for (;;) {
        size_t left = 2 * i + 1, right = left + 1, least = i;
        if (left < self->count && self->heap[left]->deadline < self->heap[least]->deadline)
            least = left;
        if (right < self->count && self->heap[right]->deadline < self->heap[least]->deadline)
            least = right;
        if (least == i)
            break;
        heap_swap (self, i, least);
        i = least;
    }
}

/* Makes a slot available: a freed one, or a new one from a new chunk. */
static int
take_slot (requests_t *self, uint32_t *slot)
{
    if (self->free_count) {
        *slot = self->free_slots[--self->free_count];
        return 0;
    }
    if (self->allocated >= self->max)
        return -1;
    size_t chunk = self->allocated >> CHUNK_SHIFT;
    if (!self->chunks[chunk]) {
        self->chunks[chunk] = calloc (CHUNK_SIZE, sizeof (request_t));
        if (!self->chunks[chunk])
            return -1;
        self->chunk_count = chunk + 1;
    }
    *slot = (uint32_t) self->allocated++;
    return 0;
}

request_t *
requests_add (requests_t *self, int64_t deadline)
{
    uint32_t slot;
    if (self->count >= self->max || take_slot (self, &slot) < 0)
        return NULL;
    request_t *request = slot_request (self, slot);
    uint32_t generation = request->generation + 1;
    memset (request, 0, sizeof *request);
    request->slot = slot;
    request->generation = generation;
    uint32_t high = self->epoch + generation;
    if (high == 0) {   /* an id's upper half is never 0: 0 means no request */
        request->generation++;
        high = self->epoch + request->generation;
    }
    request->id = ((uint64_t) high << 32) | slot;
    request->deadline = deadline;
    zmq_msg_init (&request->client);
    zmq_msg_init (&request->body);
    request->heap_index = self->count;
    self->heap[self->count++] = request;
    heap_up (self, request->heap_index);
    return request;
}

request_t *
requests_find (requests_t *self, uint64_t id)
{
    uint32_t slot = (uint32_t) id;
    if (slot >= self->allocated || (id >> 32) == 0)
        return NULL;
    request_t *request = slot_request (self, slot);
    return request->id == id ? request : NULL;
}

void
requests_remove (requests_t *self, request_t *request)
{
    size_t i = request->heap_index;
    self->count--;
    if (i != self->count) {
        heap_swap (self, i, self->count);
        heap_down (self, i);
        heap_up (self, i);
    }
    release (request);
    request->id = 0;   /* a late reply no longer finds it */
    self->free_slots[self->free_count++] = request->slot;
}

request_t *
requests_expired (requests_t *self, int64_t now)
{
    if (self->count == 0 || self->heap[0]->deadline > now)
        return NULL;
    return self->heap[0];
}

int64_t
requests_next_deadline (const requests_t *self)
{
    return self->count ? self->heap[0]->deadline : -1;
}

size_t
requests_count (const requests_t *self)
{
    return self->count;
}

size_t
requests_capacity (const requests_t *self)
{
    return self->max;
}
