/*
 * registry.c - adapters by routing id, services by name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "hashmap.h"
#include "registry.h"

struct registry_t {
    hashmap_t *adapters;   /* routing id -> adapter_t */
    hashmap_t *services;   /* name -> service_t */
};

registry_t *
registry_new (void)
{
    registry_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->adapters = hashmap_new ();
    self->services = hashmap_new ();
    if (!self->adapters || !self->services)
        registry_destroy (&self);
    return self;
}

static void
adapter_free (adapter_t *adapter)
{
    zmq_msg_close (&adapter->routing_id);
    free (adapter->department);
    free (adapter->instance);
    free (adapter->label);
    free (adapter->services);
    free (adapter);
}

static void
service_free (service_t *service)
{
    free (service->name);
    free (service->department);
    free (service->request_type);
    free (service->reply_type);
    free (service->description);
    free (service->instances);
    free (service);
}

void
registry_destroy (registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    registry_t *self = *self_p;
    size_t cursor = 0;
    void *item;
    while (self->adapters && (item = hashmap_next (self->adapters, &cursor)))
        adapter_free (item);
    cursor = 0;
    while (self->services && (item = hashmap_next (self->services, &cursor)))
        service_free (item);
    hashmap_destroy (&self->adapters);
    hashmap_destroy (&self->services);
    free (self);
    *self_p = NULL;
}

adapter_t *
registry_adapter (const registry_t *self, const zmq_msg_t *routing_id)
{
    zmq_msg_t *id = (zmq_msg_t *) routing_id;
    return hashmap_get (self->adapters, zmq_msg_data (id), zmq_msg_size (id));
}

service_t *
registry_service (const registry_t *self, const char *name)
{
    return hashmap_get (self->services, name, strlen (name));
}

service_t *
registry_ensure_service (registry_t *self, const char *name)
{
    service_t *service = registry_service (self, name);
    if (service)
        return service;
    service = calloc (1, sizeof *service);
    if (!service)
        return NULL;
    service->name = strdup (name);
    if (!service->name || hashmap_put (self->services, name, strlen (name), service) < 0) {
        service_free (service);
        return NULL;
    }
    return service;
}

void
registry_forget_if_unused (registry_t *self, service_t *service)
{
    if (service->known || service->instance_count || service->waiting)
        return;
    hashmap_remove (self->services, service->name, strlen (service->name));
    service_free (service);
}

/* Copies an offer's description into the service where it has none yet. */
static void
describe (service_t *service, const offer_info_t *offer, const char *department)
{
    if (!service->department && department)
        service->department = strdup (department);
    if (!service->request_type || !*service->request_type) {
        free (service->request_type);
        service->request_type = strdup (offer->request_type ? offer->request_type : "");
    }
    if (!service->reply_type || !*service->reply_type) {
        free (service->reply_type);
        service->reply_type = strdup (offer->reply_type ? offer->reply_type : "");
    }
    if (!service->description || !*service->description) {
        free (service->description);
        service->description = strdup (offer->description ? offer->description : "");
    }
    service->idempotent = offer->idempotent;
    service->known = true;
}

static int
service_add_instance (service_t *service, adapter_t *adapter)
{
    adapter_t **grown
        = realloc (service->instances, (service->instance_count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    service->instances = grown;
    service->instances[service->instance_count++] = adapter;
    return 0;
}

adapter_t *
registry_add_adapter (registry_t *self, const zmq_msg_t *routing_id, const char *department,
                      const char *instance, unsigned credit, unsigned heartbeat_ms,
                      const offer_info_t *offers, size_t offer_count, int64_t now)
{
    adapter_t *adapter = calloc (1, sizeof *adapter);
    if (!adapter)
        return NULL;
    zmq_msg_init (&adapter->routing_id);
    zmq_msg_copy (&adapter->routing_id, (zmq_msg_t *) routing_id);
    adapter->department = strdup (department);
    adapter->instance = strdup (instance);
    size_t label_size = strlen (department) + strlen (instance) + 2;
    adapter->label = malloc (label_size);
    adapter->services = calloc (offer_count ? offer_count : 1, sizeof *adapter->services);
    adapter->credit = credit;
    adapter->heartbeat_ms = heartbeat_ms;
    adapter->last_seen = now;
    adapter->registered_at = now;
    if (!adapter->department || !adapter->instance || !adapter->label || !adapter->services) {
        adapter_free (adapter);
        return NULL;
    }
    snprintf (adapter->label, label_size, "%s/%s", department, instance);
    if (hashmap_put (self->adapters, zmq_msg_data (&adapter->routing_id),
                     zmq_msg_size (&adapter->routing_id), adapter)
        < 0) {
        adapter_free (adapter);
        return NULL;
    }
    for (size_t i = 0; i < offer_count; i++) {
        service_t *service = registry_ensure_service (self, offers[i].name);
        if (!service || service_add_instance (service, adapter) < 0)
            continue;   /* out of memory: offer fewer services rather than none */
        describe (service, &offers[i], department);
        adapter->services[adapter->service_count++] = service;
    }
    return adapter;
}

void
registry_remove_adapter (registry_t *self, adapter_t *adapter)
{
    for (size_t i = 0; i < adapter->service_count; i++) {
        service_t *service = adapter->services[i];
        for (size_t j = 0; j < service->instance_count; j++)
            if (service->instances[j] == adapter) {
                service->instances[j] = service->instances[--service->instance_count];
                break;
            }
    }
    hashmap_remove (self->adapters, zmq_msg_data (&adapter->routing_id),
                    zmq_msg_size (&adapter->routing_id));
    adapter_free (adapter);
}

adapter_t *
registry_select (service_t *service)
{
    size_t n = service->instance_count;
    size_t best_index = 0;
    adapter_t *best = NULL;
    unsigned best_free = 0;
    for (size_t k = 0; k < n; k++) {
        size_t index = (service->cursor + k) % n;
        adapter_t *adapter = service->instances[index];
        unsigned free_credit = adapter->credit > adapter->in_flight
                                   ? adapter->credit - adapter->in_flight : 0;
        if (free_credit > best_free) {
            best = adapter;
            best_free = free_credit;
            best_index = index;
        }
    }
    /* The next scan starts just after the chosen one, so instances with
     * equal free credit take turns even when another one is full. */
    if (best)
        service->cursor = best_index + 1;
    return best;
}

adapter_t *
registry_next_adapter (const registry_t *self, size_t *cursor)
{
    return hashmap_next (self->adapters, cursor);
}

service_t *
registry_next_service (const registry_t *self, size_t *cursor)
{
    return hashmap_next (self->services, cursor);
}

size_t
registry_adapter_count (const registry_t *self)
{
    return hashmap_size (self->adapters);
}

/* --- lists --- */

void
service_enqueue (service_t *service, request_t *request)
{
    request->next = NULL;
    request->prev = service->queue_tail;
    if (service->queue_tail)
        service->queue_tail->next = request;
    else
        service->queue_head = request;
    service->queue_tail = request;
    service->waiting++;
}

void
service_enqueue_front (service_t *service, request_t *request)
{
    request->prev = NULL;
    request->next = service->queue_head;
    if (service->queue_head)
        service->queue_head->prev = request;
    else
        service->queue_tail = request;
    service->queue_head = request;
    service->waiting++;
}

void
service_unlink (service_t *service, request_t *request)
{
    if (request->prev)
        request->prev->next = request->next;
    else
        service->queue_head = request->next;
    if (request->next)
        request->next->prev = request->prev;
    else
        service->queue_tail = request->prev;
    request->prev = request->next = NULL;
    service->waiting--;
}

request_t *
service_dequeue (service_t *service)
{
    request_t *request = service->queue_head;
    if (request)
        service_unlink (service, request);
    return request;
}

void
adapter_track (adapter_t *adapter, request_t *request)
{
    request->prev = NULL;
    request->next = adapter->in_flight_head;
    if (adapter->in_flight_head)
        adapter->in_flight_head->prev = request;
    adapter->in_flight_head = request;
    request->adapter = adapter;
    adapter->in_flight++;
}

void
adapter_untrack (adapter_t *adapter, request_t *request)
{
    if (request->prev)
        request->prev->next = request->next;
    else
        adapter->in_flight_head = request->next;
    if (request->next)
        request->next->prev = request->prev;
    request->prev = request->next = NULL;
    request->adapter = NULL;
    adapter->in_flight--;
}

int64_t
registry_clock_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
service_record (service_t *service, onenet_status_t status, int64_t latency_us)
{
    static const double bounds_s[REGISTRY_LATENCY_BUCKETS] = { REGISTRY_LATENCY_BOUNDS };
    if (latency_us < 0)
        latency_us = 0;
    size_t bucket = 0;
    double latency_s = (double) latency_us / 1e6;
    while (bucket < REGISTRY_LATENCY_BUCKETS && latency_s > bounds_s[bucket])
        bucket++;
    service->latency_buckets[bucket]++;
    service->latency_sum_s += latency_s;
    service->status_counts[(unsigned) status < ONENET_STATUS_COUNT ? status : ONENET_INTERNAL]++;
}
