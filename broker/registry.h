/*
 * registry.h - who offers what: connected adapter instances, the services
 * they offer, and the requests waiting for a service to have a free
 * instance. Selection is by free credit (credit - in flight), ties broken
 * round-robin, so a slow instance gets less and a fast one more.
 */
#ifndef BROKER_REGISTRY_H
#define BROKER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "onenet/status.h"
#include "requests.h"

/* Request latency histogram of a service, for /metrics: the upper bounds
 * of the REGISTRY_LATENCY_BUCKETS finite buckets in seconds (Prometheus
 * "le"); a service keeps one count more, for the +Inf bucket. */
#define REGISTRY_LATENCY_BOUNDS \
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5
#define REGISTRY_LATENCY_BUCKETS 13

struct adapter_t {
    zmq_msg_t routing_id;
    char *department;
    char *instance;
    char *label;                  /* "department/instance" */
    unsigned credit;
    unsigned in_flight;
    unsigned heartbeat_ms;
    int64_t last_seen;            /* monotonic ms of its last message */
    int64_t registered_at;
    uint64_t served;
    service_t **services;
    size_t service_count;
    request_t *in_flight_head;    /* requests it is serving */
    unsigned event_window;        /* granted in its WELCOME; 0 = no CREDIT */
    unsigned batch_max;           /* REQUESTs it takes in one BATCH (READY, capped); < 2: none */
    uint64_t events_passed;       /* its EVENTs that left the broker (events.c) */
    uint64_t events_credited;     /* events_passed as last sent in a CREDIT */
};

struct service_t {
    char *name;
    char *department;             /* from config or the first offer */
    char *request_type;
    char *reply_type;
    char *description;
    bool idempotent;
    bool known;                   /* configured, or offered at least once */
    adapter_t **instances;
    size_t instance_count;
    size_t cursor;                /* round-robin start for ties */
    request_t *queue_head;        /* waiting for a free instance, oldest first */
    request_t *queue_tail;
    size_t waiting;
    uint64_t requests;
    uint64_t errors;
    /* Finished requests, for /metrics (service_record). Buckets are not
     * cumulative here: [i] counts latencies in (bound[i-1], bound[i]]. */
    uint64_t status_counts[ONENET_STATUS_COUNT];
    uint64_t latency_buckets[REGISTRY_LATENCY_BUCKETS + 1];
    double latency_sum_s;
};

/* What an adapter offers, as read from its READY. */
typedef struct {
    const char *name;
    const char *request_type;
    const char *reply_type;
    const char *description;
    bool idempotent;
} offer_info_t;

typedef struct registry_t registry_t;

registry_t *registry_new (void);
/* Frees every adapter and service. Requests are not touched: the request
 * table owns them. */
void registry_destroy (registry_t **self_p);

adapter_t *registry_adapter (const registry_t *self, const zmq_msg_t *routing_id);

/* Adds an adapter with its offers. The caller first removes any adapter
 * already registered under the same routing id. Returns it, or NULL when
 * out of memory. */
adapter_t *registry_add_adapter (registry_t *self, const zmq_msg_t *routing_id,
                                 const char *department, const char *instance, unsigned credit,
                                 unsigned heartbeat_ms, const offer_info_t *offers,
                                 size_t offer_count, int64_t now);

/* Unlinks the adapter from its services and frees it. Its in-flight list
 * must be empty (the caller fails or re-queues those requests first). */
void registry_remove_adapter (registry_t *self, adapter_t *adapter);

service_t *registry_service (const registry_t *self, const char *name);
/* Returns the service, creating an unknown (never offered) entry if needed. */
service_t *registry_ensure_service (registry_t *self, const char *name);
/* Forgets a service nobody offers, configured or waits for. */
void registry_forget_if_unused (registry_t *self, service_t *service);

/* The instance to send the next request to, or NULL if none has credit. */
adapter_t *registry_select (service_t *service);

/* Iteration, cursor starting at 0; NULL at the end. */
adapter_t *registry_next_adapter (const registry_t *self, size_t *cursor);
service_t *registry_next_service (const registry_t *self, size_t *cursor);
size_t registry_adapter_count (const registry_t *self);

/* Waiting queue of a service. */
void service_enqueue (service_t *service, request_t *request);
void service_enqueue_front (service_t *service, request_t *request);
request_t *service_dequeue (service_t *service);
void service_unlink (service_t *service, request_t *request);

/* Counts a finished request of the service: its status and its latency
 * from admission to answer, in microseconds (registry_clock_us). */
void service_record (service_t *service, onenet_status_t status, int64_t latency_us);

/* Monotonic clock in microseconds, finer than the loop's ms clock so the
 * sub-millisecond latency buckets mean something. */
int64_t registry_clock_us (void);

/* In-flight list of an adapter; tracking takes one credit. */
void adapter_track (adapter_t *adapter, request_t *request);
void adapter_untrack (adapter_t *adapter, request_t *request);

#endif
