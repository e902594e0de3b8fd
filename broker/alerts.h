/*
 * alerts.h - alerts for emergency coordinators, broker side.
 *
 *   onenet.alert.publish  Alert -> PublishReply: validate (CAP 1.2), append
 *                         to the Redis Stream, then fan out on XPUB
 *   onenet.alert.since    SinceRequest -> AlertBatch: catch up from a
 *                         stream id, filtered, oldest first
 *   XPUB endpoint         [topic][AlertEnvelope]; "tick" every second
 *
 * An alert is on the stream before any subscriber sees it, so a subscriber
 * that missed it live (offline, slow, broker restarted) gets it from the
 * stream. When Redis is down, alerts are still delivered live and kept in
 * a bounded spool file, appended to the stream when Redis returns.
 * proto/alert.proto's Distribution section and docs/ALERTS.md say more.
 */
#ifndef BROKER_ALERTS_H
#define BROKER_ALERTS_H

#include <hiredis/hiredis.h>
#include "broker_internal.h"
#include "onenet/proto/alert.pb-c.h"

/* Cache cookies of the alerts module carry this bit. */
#define ALERTS_COOKIE_BIT (1ULL << 63)

typedef struct alerts_t alerts_t;

/* Binds the XPUB endpoint. NULL with a reason in err. */
alerts_t *alerts_new (broker_t *broker, char *err, size_t err_size);
void alerts_destroy (alerts_t **self_p);

/* The services; body may be NULL. */
void alerts_publish (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                     const char *requester, zmq_msg_t *body);
/* Publishes an alert the broker holds (owned: freed here), for peer's
 * request `correlation` (answered in BATCHes of batch_max, 0: alone), or
 * for the broker itself when peer is NULL (no answer then). department is
 * recorded as the publisher. The alert waits for alerts_flush. */
void alerts_submit (broker_t *broker, const zmq_msg_t *peer, uint64_t correlation,
                    uint32_t batch_max, Onenet__Alert__Alert *alert, const char *department);
/* alerts_submit for an alert the caller keeps (one unpacked in the loop's
 * arena, its unknown fields stripped): what outlives the call is copied. */
void alerts_take (broker_t *broker, const zmq_msg_t *peer, uint64_t correlation,
                  uint32_t batch_max, const Onenet__Alert__Alert *alert, const char *department);
/* Sends Redis the alerts submitted since the last call, as one call of the
 * publish script. The loop calls it at the end of every step and before
 * it lets Redis read (cache_pump). */
void alerts_flush (alerts_t *self);
void alerts_since (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                   zmq_msg_t *body);
/* onenet.alert.ack: Ack -> Ack as recorded; NOT_FOUND for an unknown alert. */
void alerts_ack (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                 const char *requester, zmq_msg_t *body);
/* onenet.alert.unacked: AlertFilter -> AlertBatch of open alerts. */
void alerts_unacked (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                     zmq_msg_t *body);
/* onenet.alert.state: StateRequest -> AlertState. */
void alerts_state (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                   zmq_msg_t *body);

/* A Redis reply for the alerts module (cookie without ALERTS_COOKIE_BIT). */
void alerts_on_cache (broker_t *broker, uint64_t cookie, const redisReply *reply);

/* Ticks, spool flushing. Returns ms until it next needs to run. */
int alerts_tick (broker_t *broker);

/* True when no alert is waiting for Redis (publishes, spool flush). */
bool alerts_idle (const alerts_t *self);

/* The XPUB socket, for the loop to serve subscriptions on. */
void *alerts_socket (alerts_t *self);
/* Reads pending subscription messages (keeps XPUB's queue empty). */
void alerts_handle_subscriptions (alerts_t *self);

typedef struct {
    uint64_t published;
    uint64_t delivered;        /* messages sent on XPUB (topics × alerts) */
    uint64_t replayed;         /* alerts returned by onenet.alert.since */
    uint64_t spooled;
    uint64_t spool_flushed;
    uint64_t store_calls;      /* publish-script calls: alerts go to Redis up to 16 a call */
    uint64_t rejected;
    uint64_t acks;
    uint64_t escalated;
    uint64_t pruned; /* index entries (and what hangs on them) of alerts trimmed from the stream */
} alerts_stats_t;
const alerts_stats_t *alerts_stats (const alerts_t *self);

#endif
