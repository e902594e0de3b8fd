/*
 * broker_internal.h - the broker's state, shared by its handler files
 * (handle_adapter.c, handle_client.c, management.c) and the loop
 * (broker.c). Not part of any public API.
 */
#ifndef BROKER_INTERNAL_H
#define BROKER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "onenet/onenet.h"
#include "onenet/policy.h"
#include "onenet/proto/onenet.pb-c.h"
#include "broker.h"
#include "outbox.h"
#include "registry.h"
#include "requests.h"

typedef struct cache_t cache_t;
typedef struct views_t views_t;
typedef struct alerts_t alerts_t;
typedef struct events_t events_t;
typedef struct http_t http_t;
typedef struct zap_t zap_t;
typedef struct audit_t audit_t;

#define BROKER_ARENA_SIZE 32768
#define BROKER_RECV_BATCH 512
/* Within a batch, Redis is written to and read from every this many
 * messages (see broker_run). */
#define BROKER_REDIS_EVERY 16
#define MAX_SERVICE_NAME 255

struct broker_t {
    broker_config_t *config;      /* owned; replaced by broker_reload */
    void *context;
    void *socket;                 /* ROUTER: adapters and clients */
    outbox_t *outbox;             /* requests and replies gathered per peer this turn */
    registry_t *registry;
    requests_t *requests;
    cache_t *cache;               /* Redis, asynchronous */
    views_t *views;               /* one network views in progress */
    alerts_t *alerts;             /* alert stream and XPUB fan-out */
    events_t *events;             /* departments' events relayed on the XPUB */
    http_t *http;                 /* /healthz, /readyz, /metrics */
    zap_t *zap;                   /* CURVE authentication; NULL with security = "none" */
    onenet_policy_t *policy;      /* sharing policy; NULL when policy.file is "" */
    audit_t *audit;               /* the tamper-evident record of exchanges */
    struct hashmap_t *rates;      /* department -> token bucket (limits.rate_*) */
    onenet_arena_t arena;         /* headers of the message being handled */
    unsigned char arena_buffer[BROKER_ARENA_SIZE];
    int64_t now;                  /* monotonic ms, refreshed per message */
    int64_t started_at;
    int64_t heartbeat_at;
    uint64_t trace_state;         /* xorshift state for trace ids */
    bool stopped;
    bool draining;                /* stop signal seen: no new requests */
    int64_t drain_until;
    int64_t bad_logged_at;        /* rate limit of bad-message warnings */
    uint64_t bad_suppressed;
    /* Counters, for onenet.services and (later) /metrics. */
    uint64_t requests_total;
    uint64_t replies_by_status[ONENET_STATUS_COUNT];
    uint64_t late_replies;
    uint64_t bad_messages;
    uint64_t events_total;
    uint64_t denied_total;
    uint64_t rate_limited_total;
};

/* The message being handled, as the handlers see it. */
typedef struct {
    const zmq_msg_t *peer;        /* routing id */
    zmq_msg_t *signature;
    zmq_msg_t *header;            /* NULL when absent */
    zmq_msg_t *body;              /* NULL when absent */
    adapter_t *adapter;           /* the sender, if a registered adapter */
} inbound_t;

/* handle_adapter.c */
void on_adapter_ready (broker_t *self, inbound_t *in);
void on_adapter_reply (broker_t *self, inbound_t *in);
/* A REPLY over limits.max_message_size: its request is answered
 * RESOURCE_EXHAUSTED, and the adapter told by an ERROR with its id. */
void on_adapter_reply_too_large (broker_t *self, inbound_t *in, size_t size);
void on_adapter_heartbeat (broker_t *self, inbound_t *in);
void on_adapter_disconnect (broker_t *self, inbound_t *in);
void on_adapter_event (broker_t *self, inbound_t *in);
/* Removes an adapter: idempotent in-flight requests go back to the front
 * of their service's queue, the others are answered UNAVAILABLE. */
void broker_drop_adapter (broker_t *self, adapter_t *adapter, const char *reason);

/* handle_client.c */
/* Sends a REQUEST or REPLY to peer: gathered into the peer's BATCH for
 * this turn when the peer takes batches of batch_max and the body is
 * small, else sent alone (after what was gathered). body may be NULL;
 * the caller closes it (sent alone, it is moved and left empty). */
void broker_send (broker_t *self, const zmq_msg_t *peer, uint32_t batch_max,
                  onenet_command_t command, const ProtobufCMessage *header, zmq_msg_t *body);
void on_client_request (broker_t *self, inbound_t *in);
/* Admits a request the broker itself makes (part `part` of view
 * `parent`) to a service: sent to an instance or queued. The body is
 * moved. Returns NULL when limits.max_pending is reached. */
request_t *broker_submit (broker_t *self, service_t *service, int64_t deadline,
                          const char *requester, uint64_t parent, uint32_t part, zmq_msg_t *body);
/* Sends queued requests of a service to instances with free credit. */
void broker_pump (broker_t *self, service_t *service);
/* Answers a request with an error and forgets it. */
void broker_fail (broker_t *self, request_t *request, onenet_status_t status,
                  const char *message);
/* Sends a REPLY to a peer for its request `correlation`; the body (may be
 * NULL) is moved. broker_send_error sends an ERROR notice instead, for
 * messages that are not requests or whose header cannot be read. */
void broker_answer (broker_t *self, const zmq_msg_t *peer, uint64_t correlation,
                    const uint8_t *trace_id, onenet_status_t status, const char *message,
                    zmq_msg_t *body);
/* Every REPLY the broker sends a client: to its request `correlation`,
 * gathered into a BATCH when the client takes batch_max (0: alone), with
 * trace_id (NULL: one is made) and served_by (NULL: the broker's own
 * answer). The caller closes the body (may be NULL). broker_answer and
 * broker_answer_batched are its short forms. */
void broker_reply (broker_t *self, const zmq_msg_t *peer, uint64_t correlation,
                   uint32_t batch_max, const uint8_t *trace_id, const char *served_by,
                   onenet_status_t status, const char *message, zmq_msg_t *body);
/* broker_answer for a client that takes replies in BATCHes of batch_max
 * (broker_reply_batch_max of its request): gathered like an adapter's
 * replies. For answers a client may have many of in flight (views). */
void broker_answer_batched (broker_t *self, const zmq_msg_t *peer, uint64_t correlation,
                            uint32_t batch_max, onenet_status_t status, const char *message,
                            zmq_msg_t *body);
/* How many replies in one BATCH the client of this request takes, within
 * the broker's own broker.batch_max. */
uint32_t broker_reply_batch_max (const broker_t *self, const Onenet__RequestHeader *header);
/* In the middle of a long step: Redis hears of the alerts gathered so far
 * and what it has answered goes out, while the rest of the step is still
 * being read, so that the broker's and Redis's work on a burst overlap
 * instead of taking turns. */
void broker_overlap (broker_t *self);
void broker_send_error (broker_t *self, const zmq_msg_t *peer, onenet_status_t status,
                        uint64_t correlation, const char *format, ...)
    __attribute__ ((format (printf, 5, 6)));

/* management.c: services named onenet.* answered by the broker itself.
 * Returns true if the service was one of them (answered). */
bool management_handle (broker_t *self, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                        const char *requester, const char *user, zmq_msg_t *body);

/* broker.c */
void broker_log_bad (broker_t *self, const char *reason);

/* Records an exchange in the audit log (a no-op when audit is off). */
void broker_audit (broker_t *self, const char *kind, const char *requester, const char *user,
                   const char *service, const char *subject, const char *purpose,
                   onenet_status_t status, uint64_t latency_us, const char *answered_by);

#endif
