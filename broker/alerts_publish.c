/*
 * alerts_publish.c - an alert published: checked, its envelope packed once,
 * appended to the stream with the other alerts of the loop's step in one
 * call of the publish script, then sent to subscribers and answered; or,
 * while Redis is down, sent live and kept in the spool until it returns.
 * Part of the alerts module (alerts_internal.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alerts_internal.h"
#include "cache.h"
#include "onenet/cap.h"

void
alerts_publish_clear (publish_t *publish)
{
    zmq_msg_close (&publish->peer);
    free (publish->packed);
    free (publish->text);
}

/* --- the spool: alerts published while Redis is down --- */

/* Appends [u32 length][envelope] to the spool file. A small buffered write
 * with no fsync: it lands in the page cache, the loop does not wait. */
static int
spool_append (alerts_t *self, const publish_t *publish)
{
    const broker_config_t *config = self->broker->config;
    size_t size = publish->packed_size;
    if (self->spool_bytes + size + 4 > (size_t) config->alerts_spool_max_mb * 1024 * 1024)
        return -1;
    uint8_t *record = malloc (size + 4);
    FILE *file = record ? fopen (config->alerts_spool, "ab") : NULL;
    int rc = -1;
    if (file) {
        uint32_t length = (uint32_t) size;
        memcpy (record, &length, 4);
        memcpy (record + 4, publish->packed, size);
        rc = fwrite (record, 1, size + 4, file) == size + 4 ? 0 : -1;
        rc = fclose (file) == 0 ? rc : -1;
    }
    free (record);
    if (rc == 0) {
        self->spool_bytes += size + 4;
        self->stats.spooled++;
    }
    return rc;
}

/* --- the publish script: up to STORE_MAX alerts a call --- */

/* Does an alert escalate when left unacknowledged? */
static bool
escalates (const alerts_t *self, const Onenet__Alert__Alert *alert)
{
    const broker_config_t *config = self->broker->config;
    return config->alerts_escalate_after_s > 0 &&
           onenet_cap_severity_rank (alerts_severity_of (alert)) >=
               onenet_cap_severity_rank (config->alerts_escalate_severity);
}

#define MAX_REFERENCES 32

/* Fills what the script and the topics need of an alert: identifier,
 * msgType, references and topics, copied into publish->text. Returns 0,
 * or -1 when out of memory. */
static int
publish_describe (alerts_t *self, publish_t *publish, const Onenet__Alert__Alert *alert)
{
    const char *references = alert->references ? alert->references : "";
    size_t identifier_size = strlen (alert->identifier) + 1;
    size_t msg_type_size = strlen (alert->msg_type) + 1;
    size_t references_size = strlen (references) + 1;
    size_t topics_size = 0;
    alerts_topics_write (alert, "alert", NULL, 0, &topics_size);
    size_t size = identifier_size + msg_type_size + references_size + topics_size;
    char *text = malloc (size);
    if (!text)
        return -1;
    publish->text = text;
    publish->identifier = memcpy (text, alert->identifier, identifier_size);
    publish->msg_type = memcpy (text + identifier_size, alert->msg_type, msg_type_size);
    publish->references = memcpy (text + identifier_size + msg_type_size, references,
                                  references_size);
    char *topics = text + identifier_size + msg_type_size + references_size;
    publish->topics = topics;
    publish->topic_count = alerts_topics_write (alert, "alert", topics, topics_size, &topics_size);
    publish->escalates = escalates (self, alert);
    return 0;
}

/* Starts a publish-script call (PUBLISH or FLUSH) with room for
 * STORE_MAX alerts. */
static pending_t *
store_new (alerts_t *self, pending_kind_t kind)
{
    pending_t *pending = alerts_pending_new (self, kind, NULL, 0);
    if (pending && !(pending->publishes = calloc (STORE_MAX, sizeof *pending->publishes))) {
        alerts_pending_done (self, pending);
        return NULL;
    }
    return pending;
}

/* Appends a call's envelopes to the stream with their index entries (the
 * publish script). References "sender,identifier,sent ..." name earlier
 * alerts. Returns 0, or -1 when nothing was sent. */
static int
store_send (alerts_t *self, pending_t *pending)
{
    size_t count = pending->publish_count;
    /* Per alert: six values and its references; numbers are written in
     * `numbers`, 24 bytes each. */
    size_t most = 1 + count * (6 + MAX_REFERENCES);
    const char **args = malloc (most * sizeof *args);
    size_t *lengths = malloc (most * sizeof *lengths);
    char *numbers = malloc (count * 2 * 24 + 24);
    int rc = -1;
    if (!args || !lengths || !numbers)
        goto done;
    int argc = 0;
#define ARG(value, length) (args[argc] = (value), lengths[argc++] = (length))
    char *number = numbers;
    ARG (number, (size_t) snprintf (number, 24, "%d", self->broker->config->alerts_stream_max));
    number += 24;
    for (size_t i = 0; i < count; i++) {
        const publish_t *publish = &pending->publishes[i];
        ARG ((const char *) publish->packed, publish->packed_size);
        ARG (publish->identifier, strlen (publish->identifier));
        ARG (number, (size_t) snprintf (number, 24, "%" PRId64, publish->received_at_ms));
        number += 24;
        ARG (publish->msg_type, strlen (publish->msg_type));
        ARG (publish->escalates ? "1" : "0", 1);
        int refs_at = argc;
        ARG (number, 0);   /* the count, written below */
        /* Each reference is sender,identifier,sent: the identifier is
         * between the first and second comma. */
        const char *p = publish->references;
        int refs = 0;
        while (*p && refs < MAX_REFERENCES) {
            while (*p == ' ')
                p++;
            const char *end = p + strcspn (p, " ");
            const char *comma = memchr (p, ',', (size_t) (end - p));
            const char *second = comma ? memchr (comma + 1, ',', (size_t) (end - comma - 1)) : NULL;
            if (comma && second) {
                ARG (comma + 1, (size_t) (second - comma - 1));
                refs++;
            }
            p = end;
        }
        lengths[refs_at] = (size_t) snprintf (number, 24, "%d", refs);
        number += 24;
    }
#undef ARG
    rc = alerts_eval (self, pending->id, SCRIPT_PUBLISH, argc, args, lengths);
    if (rc == 0)
        self->stats.store_calls++;
done:
    free (args);
    free (lengths);
    free (numbers);
    return rc;
}

/* Appends what the spool holds to the stream, in order, before anything
 * newer (Redis runs one connection's commands in order). The file is
 * removed once every call is confirmed. */
static void
spool_flush_send (alerts_t *self, pending_t **call_p)
{
    pending_t *call = *call_p;
    *call_p = NULL;
    if (call && store_send (self, call) == 0)
        self->flushing++;
    else if (call)
        alerts_pending_done (self, call);
}

void
alerts_spool_flush (alerts_t *self)
{
    const char *path = self->broker->config->alerts_spool;
    FILE *file = self->spool_bytes ? fopen (path, "rb") : NULL;
    if (!file)
        return;
    pending_t *call = NULL;   /* the publish-script call being filled */
    uint32_t length;
    uint8_t *record = NULL;
    while (fread (&length, 4, 1, file) == 1) {
        record = malloc (length ? length : 1);
        if (!record || fread (record, 1, length, file) != length)
            break;
        Onenet__Alert__AlertEnvelope *envelope
            = onenet__alert__alert_envelope__unpack (NULL, length, record);
        if (envelope && envelope->alert && !call)
            call = store_new (self, PENDING_FLUSH);
        publish_t *publish = call ? &call->publishes[call->publish_count] : NULL;
        if (envelope && envelope->alert && publish
            && publish_describe (self, publish, envelope->alert) == 0) {
            zmq_msg_init (&publish->peer);   /* delivered live when it was spooled */
            publish->packed = record;
            publish->packed_size = length;
            publish->received_at_ms = envelope->received_at_ms;
            record = NULL;
            call->publish_count++;
        }
        if (envelope)
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        free (record);
        record = NULL;
        if (call && call->publish_count == STORE_MAX)
            spool_flush_send (self, &call);
    }
    spool_flush_send (self, &call);
    free (record);
    fclose (file);
    onenet_info ("alerts.spool_flush", "calls=%u", self->flushing);
}

/* --- publish --- */

void
alerts_publish (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                const char *requester, zmq_msg_t *body)
{
    /* Unpacked in the loop's arena: only what the alert is packed into
     * outlives this request. */
    ProtobufCAllocator *arena = &broker->arena.allocator;
    Onenet__Alert__Alert *alert = body ? onenet__alert__alert__unpack (arena, zmq_msg_size (body),
                                                                       zmq_msg_data (body))
                                       : NULL;
    if (!alert) {
        broker->alerts->stats.rejected++;
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_BAD_REQUEST,
                       "body is not an onenet.alert.Alert", NULL);
        return;
    }
    onenet_message_strip_unknown_with (&alert->base, arena);
    alerts_take (broker, peer, header->correlation_id, broker_reply_batch_max (broker, header),
                 alert, requester);
}

/* Answers the publisher, unless the broker itself published (no peer):
 * gathered with the other answers of this step for a publisher that takes
 * batches. */
static void
answer_publisher (broker_t *broker, const publish_t *publish, onenet_status_t status,
                  const char *message, const ProtobufCMessage *reply)
{
    if (zmq_msg_size ((zmq_msg_t *) &publish->peer) == 0)
        return;
    zmq_msg_t body;
    if (reply) {
        zmq_msg_init_size (&body, protobuf_c_message_get_packed_size (reply));
        protobuf_c_message_pack (reply, zmq_msg_data (&body));
    }
    broker_answer_batched (broker, &publish->peer, publish->correlation, publish->batch_max, status,
                           message, reply ? &body : NULL);
    if (reply)
        zmq_msg_close (&body);
}

/* An alert that could not be stored (Redis down or failing): delivered
 * live now and kept in the spool for the stream, or refused when the
 * spool is full. */
static void
deliver_unstored (alerts_t *self, const publish_t *publish, onenet_status_t when_full)
{
    Onenet__Alert__PublishReply reply = ONENET__ALERT__PUBLISH_REPLY__INIT;
    if (spool_append (self, publish) < 0) {
        answer_publisher (self->broker, publish, when_full,
                          "alert stream unavailable and the spool is full (alerts.spool_max_mb)",
                          NULL);
        return;
    }
    alerts_send_alert (self, publish, "", 0);
    reply.spooled = true;
    answer_publisher (self->broker, publish, ONENET_OK, NULL, &reply.base);
}

void
alerts_submit (broker_t *broker, const zmq_msg_t *peer, uint64_t correlation, uint32_t batch_max,
               Onenet__Alert__Alert *alert, const char *department)
{
    onenet_message_strip_unknown (&alert->base);
    alerts_take (broker, peer, correlation, batch_max, alert, department);
    onenet__alert__alert__free_unpacked (alert, NULL);
}

void
alerts_take (broker_t *broker, const zmq_msg_t *peer, uint64_t correlation, uint32_t batch_max,
             const Onenet__Alert__Alert *alert, const char *department)
{
    alerts_t *self = broker->alerts;
    publish_t publish = { .correlation = correlation, .batch_max = batch_max };
    zmq_msg_init (&publish.peer);
    if (peer)
        zmq_msg_copy (&publish.peer, (zmq_msg_t *) peer);
    char why[256];
    /* What is not CAP is not stored (unknown fields were stripped by the
     * caller: they could make the stored envelope unreadable for every
     * subscriber, found by fuzzing). */
    if (onenet_cap_validate (alert, why, sizeof why) < 0) {
        self->stats.rejected++;
        answer_publisher (broker, &publish, ONENET_BAD_REQUEST, why, NULL);
        alerts_publish_clear (&publish);
        return;
    }
    /* Packed once: the same bytes go to Redis, to the spool and, with the
     * stream id after them, to the subscribers. */
    Onenet__Alert__AlertEnvelope envelope = ONENET__ALERT__ALERT_ENVELOPE__INIT;
    envelope.alert = (Onenet__Alert__Alert *) alert;
    envelope.published_by_department = (char *) department;
    envelope.received_at_ms = onenet_wall_ms ();
    publish.received_at_ms = envelope.received_at_ms;
    publish.packed_size = protobuf_c_message_get_packed_size (&envelope.base);
    publish.packed = malloc (publish.packed_size ? publish.packed_size : 1);
    if (!publish.packed || publish_describe (self, &publish, alert) < 0) {
        answer_publisher (broker, &publish, ONENET_INTERNAL, "broker out of memory", NULL);
        alerts_publish_clear (&publish);
        return;
    }
    protobuf_c_message_pack (&envelope.base, publish.packed);
    self->stats.published++;
    /* The audit's subject of an alert is its CAP identifier. */
    broker_audit (broker, "alert.publish", department, "", "onenet.alert.publish",
                  alert->identifier, "", ONENET_OK, 0, "broker");

    if (cache_ready (broker->cache) && !self->gathering)
        self->gathering = store_new (self, PENDING_PUBLISH);
    if (cache_ready (broker->cache) && self->gathering) {
        self->gathering->publishes[self->gathering->publish_count++] = publish;   /* moved */
        if (self->gathering->publish_count == STORE_MAX)
            broker_overlap (broker);
        return;
    }
    /* Redis is down: deliver live now, keep it for the stream; after the
     * alerts gathered before Redis went, which go the same way. */
    alerts_flush (self);
    deliver_unstored (self, &publish, ONENET_RESOURCE_EXHAUSTED);
    alerts_publish_clear (&publish);
}

void
alerts_flush (alerts_t *self)
{
    pending_t *call = self ? self->gathering : NULL;
    if (!call)
        return;
    self->gathering = NULL;
    if (store_send (self, call) == 0)
        return;
    /* Not sent (Redis went away in this step): as if it had been down. */
    for (size_t i = 0; i < call->publish_count; i++)
        deliver_unstored (self, &call->publishes[i], ONENET_RESOURCE_EXHAUSTED);
    alerts_pending_done (self, call);
}

void
alerts_on_published (alerts_t *self, pending_t *pending, const redisReply *reply)
{
    size_t count = pending->publish_count;
    bool stored = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 * count;
    for (size_t i = 0; stored && i < count; i++)
        stored = reply->element[2 * i]->type == REDIS_REPLY_STRING
                 && reply->element[2 * i + 1]->type == REDIS_REPLY_INTEGER;
    if (!stored) {   /* Redis failed under us: keep them for later */
        for (size_t i = 0; i < count; i++)
            deliver_unstored (self, &pending->publishes[i], ONENET_UNAVAILABLE);
        return;
    }
    /* Each alert's stream id, and whether it was there before (a retry, a
     * spool replay: subscribers have it). The new ones go out, then every
     * publisher is answered. */
    const publish_t *fresh[STORE_MAX] = { 0 };
    const redisReply *fresh_ids[STORE_MAX] = { 0 };
    size_t fresh_count = 0;
    for (size_t i = 0; i < count; i++) {
        const redisReply *id = reply->element[2 * i];
        if (reply->element[2 * i + 1]->integer == 1)
            continue;
        if (id->len < sizeof self->latest)
            memcpy (self->latest, id->str, id->len + 1);
        fresh[fresh_count] = &pending->publishes[i];
        fresh_ids[fresh_count++] = id;
    }
    alerts_send_runs (self, fresh, fresh_ids, fresh_count);
    for (size_t i = 0; i < count; i++) {
        Onenet__Alert__PublishReply out = ONENET__ALERT__PUBLISH_REPLY__INIT;
        out.stream_id = reply->element[2 * i]->str;
        out.duplicate = reply->element[2 * i + 1]->integer == 1;
        answer_publisher (self->broker, &pending->publishes[i], ONENET_OK, NULL, &out.base);
    }
}
