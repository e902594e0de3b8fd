/*
 * requests.h - the broker's table of requests it has accepted and not yet
 * answered: queued for an adapter, or in flight at one.
 *
 * Lookup by id is O(1) without hashing: an id is (generation << 32 | slot)
 * so a late reply to a finished request is recognised by its generation.
 * Deadlines sit in a binary heap; the loop expires the earliest first.
 * The table is bounded by limits.max_pending.
 */
#ifndef BROKER_REQUESTS_H
#define BROKER_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct service_t service_t;
typedef struct adapter_t adapter_t;

typedef enum { REQUEST_QUEUED, REQUEST_IN_FLIGHT } request_state_t;

typedef struct request_t request_t;
struct request_t {
    uint64_t id;                   /* broker's correlation id toward adapters */
    request_state_t state;
    zmq_msg_t client;              /* routing id of the requester */
    uint64_t client_correlation;   /* the requester's own id, echoed back */
    service_t *service;
    adapter_t *adapter;            /* serving instance, when in flight */
    int64_t received_at;           /* monotonic ms */
    int64_t received_us;           /* monotonic µs (registry_clock_us), for latency metrics */
    int64_t deadline;              /* monotonic ms */
    uint8_t trace_id[16];
    bool idempotent;
    uint16_t reply_batch_max;      /* REPLYs the client takes in one BATCH; < 2: none */
    uint32_t attempt;
    char *purpose;                 /* NULL when none given */
    char requester[64];            /* department, from the connection */
    char user[64];                 /* end user, when a trusted delegate named one */
    char subject[20];              /* resident ID the request is about, for the audit; "" if none */
    zmq_msg_t body;                /* held while queued, or in flight and idempotent */
    uint64_t parent;               /* a view's id when the broker itself asked, else 0 */
    uint32_t part;                 /* which part of that view */
    request_t *prev, *next;        /* in the service's queue or the adapter's in-flight list */
    /* Owned by the table: */
    size_t heap_index;
    uint32_t slot;
    uint32_t generation;
};

typedef struct requests_t requests_t;

/* Creates an empty table for at most max requests. NULL when out of memory. */
requests_t *requests_new (size_t max);
/* Frees the table and every request still in it. */
void requests_destroy (requests_t **self_p);

/* Takes a fresh, zeroed request with an id and this deadline. Its zmq_msg_t
 * fields are initialised (empty). Returns NULL when the table is full or
 * out of memory. */
request_t *requests_add (requests_t *self, int64_t deadline);
/* Returns the live request with this id, or NULL. */
request_t *requests_find (requests_t *self, uint64_t id);
/* Frees the request (its messages and purpose) and its id. */
void requests_remove (requests_t *self, request_t *request);
/* The request with the earliest deadline if that deadline is <= now, else NULL. */
request_t *requests_expired (requests_t *self, int64_t now);
/* Earliest deadline, or -1 when the table is empty. */
int64_t requests_next_deadline (const requests_t *self);
size_t requests_count (const requests_t *self);
size_t requests_capacity (const requests_t *self);

#endif
