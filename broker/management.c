/*
 * management.c - the services the broker answers itself, like ZeroMQ
 * RFC 8 (MMI): onenet.ping (is the broker there, which versions) and
 * onenet.services (the catalogue: services, instances, credit, health).
 */
#include <stdlib.h>
#include <string.h>
#include "broker_internal.h"
#include "alerts.h"
#include "audit.h"
#include "view.h"

static void
answer_message (broker_t *self, const zmq_msg_t *peer, uint64_t correlation,
                const ProtobufCMessage *reply)
{
    zmq_msg_t body;
    zmq_msg_init_size (&body, protobuf_c_message_get_packed_size (reply));
    protobuf_c_message_pack (reply, zmq_msg_data (&body));
    broker_answer (self, peer, correlation, NULL, ONENET_OK, NULL, &body);
    zmq_msg_close (&body);
}

static void
on_ping (broker_t *self, const zmq_msg_t *peer, uint64_t correlation)
{
    Onenet__PingReply reply = ONENET__PING_REPLY__INIT;
    reply.broker_version = (char *) onenet_version ();
    reply.protocol_version = ONENET_PROTOCOL_VERSION;
    reply.schema_version = ONENET_SCHEMA_VERSION;
    reply.uptime_ms = (uint64_t) (self->now - self->started_at);
    answer_message (self, peer, correlation, &reply.base);
}

static const char *
instance_health (const broker_t *self, const adapter_t *adapter)
{
    if (self->now - adapter->last_seen > (int64_t) adapter->heartbeat_ms + self->config->heartbeat_ms)
        return "late";
    if (adapter->in_flight >= adapter->credit)
        return "busy";
    return "ok";
}

static int
compare_services (const void *a, const void *b)
{
    const Onenet__ServiceInfo *x = *(Onenet__ServiceInfo *const *) a;
    const Onenet__ServiceInfo *y = *(Onenet__ServiceInfo *const *) b;
    return strcmp (x->name, y->name);
}

static void
on_services (broker_t *self, const zmq_msg_t *peer, uint64_t correlation, zmq_msg_t *body)
{
    Onenet__ServicesRequest *request = body ? (Onenet__ServicesRequest *) onenet_wire_unpack (
                                           &onenet__services_request__descriptor, body,
                                           &self->arena)
                                            : NULL;
    const char *prefix = request && request->prefix ? request->prefix : "";
    size_t prefix_length = strlen (prefix);

    size_t total_services = 0, total_instances = 0, cursor = 0;
    service_t *service;
    while ((service = registry_next_service (self->registry, &cursor))) {
        total_services++;
        total_instances += service->instance_count;
    }
    /* One allocation for the whole reply: it is built, packed and freed here. */
    Onenet__ServiceInfo *infos = calloc (total_services + 1, sizeof *infos);
    Onenet__ServiceInfo **info_ptrs = calloc (total_services + 1, sizeof *info_ptrs);
    Onenet__InstanceInfo *instances = calloc (total_instances + 1, sizeof *instances);
    Onenet__InstanceInfo **instance_ptrs = calloc (total_instances + 1, sizeof *instance_ptrs);
    if (!infos || !info_ptrs || !instances || !instance_ptrs) {
        broker_answer (self, peer, correlation, NULL, ONENET_INTERNAL, "broker out of memory",
                       NULL);
        goto done;
    }
    size_t n = 0, k = 0;
    cursor = 0;
    while ((service = registry_next_service (self->registry, &cursor))) {
        if (!service->known || strncmp (service->name, prefix, prefix_length) != 0)
            continue;
        Onenet__ServiceInfo *info = &infos[n];
        onenet__service_info__init (info);
        info->name = service->name;
        info->request_type = service->request_type ? service->request_type : "";
        info->reply_type = service->reply_type ? service->reply_type : "";
        info->description = service->description ? service->description : "";
        info->idempotent = service->idempotent;
        info->waiting = (uint32_t) service->waiting;
        info->requests = service->requests;
        info->errors = service->errors;
        info->instances = &instance_ptrs[k];
        for (size_t i = 0; i < service->instance_count; i++, k++) {
            const adapter_t *adapter = service->instances[i];
            Onenet__InstanceInfo *instance = &instances[k];
            onenet__instance_info__init (instance);
            instance->department = adapter->department;
            instance->instance = adapter->instance;
            instance->credit = adapter->credit;
            instance->in_flight = adapter->in_flight;
            instance->last_heartbeat_ms_ago = (uint64_t) (self->now - adapter->last_seen);
            instance->health = (char *) instance_health (self, adapter);
            instance->served = adapter->served;
            instance_ptrs[k] = instance;
            info->n_instances++;
        }
        info_ptrs[n++] = info;
    }
    qsort (info_ptrs, n, sizeof *info_ptrs, compare_services);
    Onenet__ServicesReply reply = ONENET__SERVICES_REPLY__INIT;
    reply.services = info_ptrs;
    reply.n_services = n;
    reply.security = self->config->security;
    reply.uptime_ms = (uint64_t) (self->now - self->started_at);
    reply.pending = (uint32_t) requests_count (self->requests);
    reply.max_pending = (uint32_t) requests_capacity (self->requests);
    answer_message (self, peer, correlation, &reply.base);
done:
    free (infos);
    free (info_ptrs);
    free (instances);
    free (instance_ptrs);
}

bool
management_handle (broker_t *self, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                   const char *requester, const char *user, zmq_msg_t *body)
{
    if (strcmp (header->service, "onenet.ping") == 0)
        on_ping (self, peer, header->correlation_id);
    else if (strcmp (header->service, "onenet.services") == 0)
        on_services (self, peer, header->correlation_id, body);
    else if (strcmp (header->service, "onenet.view.person") == 0)
        view_start (self, peer, header, requester, user, body);
    else if (strcmp (header->service, "onenet.alert.publish") == 0)
        alerts_publish (self, peer, header, requester, body);
    else if (strcmp (header->service, "onenet.alert.since") == 0)
        alerts_since (self, peer, header, body);
    else if (strcmp (header->service, "onenet.alert.ack") == 0)
        alerts_ack (self, peer, header, requester, body);
    else if (strcmp (header->service, "onenet.alert.unacked") == 0)
        alerts_unacked (self, peer, header, body);
    else if (strcmp (header->service, "onenet.alert.state") == 0)
        alerts_state (self, peer, header, body);
    else if (strcmp (header->service, "onenet.audit.query") == 0)
        audit_query (self->audit, peer, header, body);
    else {
        broker_answer (self, peer, header->correlation_id, NULL, ONENET_UNKNOWN_SERVICE,
                       "no such broker service (onenet.ping, onenet.services, onenet.view.person, onenet.alert.publish, onenet.alert.since, onenet.alert.ack, onenet.alert.unacked, onenet.alert.state, onenet.audit.query)", NULL);
        return false;
    }
    return true;
}
