/*
 * alerts_query.c - what emergency coordinators ask of the alert stream:
 * catch-up from a stream id or the newest N (onenet.alert.since), an
 * acknowledgement (onenet.alert.ack), the alerts nobody acknowledged
 * (onenet.alert.unacked), one alert's state with its updates and acks
 * (onenet.alert.state), and the escalation of alerts left open too long.
 * Each is one Redis command or script (alerts.c), answered when Redis
 * replies.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alerts_internal.h"
#include "cache.h"
#include "onenet/cap.h"

static bool
listed (const char *value, char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (value, list[i]) == 0)
            return true;
    return false;
}

/* Does an alert match a subscriber's filter? Empty lists match all. */
static bool
matches (const Onenet__Alert__Alert *alert, const Onenet__Alert__AlertFilter *filter)
{
    if (!filter)
        return true;
    if (filter->n_severities &&
        !listed (alerts_severity_of (alert), filter->severities, filter->n_severities))
        return false;
    if (filter->n_area_prefixes) {
        const Onenet__Alert__ValuePair *codes[MAX_TOPICS];
        size_t count = onenet_cap_geocodes (alert, GEOCODE_SCHEME, codes, MAX_TOPICS);
        bool hit = false;
        for (size_t i = 0; i < count && i < MAX_TOPICS && !hit; i++)
            for (size_t j = 0; j < filter->n_area_prefixes && !hit; j++)
                hit = strncmp (codes[i]->value, filter->area_prefixes[j],
                               strlen (filter->area_prefixes[j])) == 0;
        if (!hit)
            return false;
    }
    if (filter->n_categories) {
        bool hit = false;
        for (size_t i = 0; i < alert->n_info && !hit; i++)
            for (size_t j = 0; j < alert->info[i]->n_category && !hit; j++)
                hit =
                    listed (alert->info[i]->category[j], filter->categories, filter->n_categories);
        if (!hit)
            return false;
    }
    return true;
}

void
alerts_since (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
              zmq_msg_t *body)
{
    alerts_t *self = broker->alerts;
    Onenet__Alert__SinceRequest *request =
        body && zmq_msg_size (body)
            ? onenet__alert__since_request__unpack (NULL, zmq_msg_size (body), zmq_msg_data (body))
            : onenet__alert__since_request__unpack (NULL, 0, NULL);
    if (!request) {
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_BAD_REQUEST,
                       "body is not an onenet.alert.SinceRequest", NULL);
        return;
    }
    if (!cache_ready (broker->cache)) {
        onenet__alert__since_request__free_unpacked (request, NULL);
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_UNAVAILABLE,
                       "the alert stream is unavailable (Redis down); live alerts still flow",
                       NULL);
        return;
    }
    pending_t *pending = alerts_pending_new (self, PENDING_SINCE, peer, header->correlation_id);
    if (!pending) {
        onenet__alert__since_request__free_unpacked (request, NULL);
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_INTERNAL,
                       "broker out of memory", NULL);
        return;
    }
    pending->since = request;
    const char *stream = broker->config->alerts_stream;
    char start[64], count[16];
    snprintf (count, sizeof count, "%d", SCAN_MAX);
    if (request->last) {
        const char *argv[] = {"XREVRANGE", stream, "+", "-", "COUNT", count};
        size_t lengths[] = {9, strlen (stream), 1, 1, 5, strlen (count)};
        cache_command (broker->cache, ALERTS_COOKIE_BIT | pending->id, 6, argv, lengths);
        return;
    }
    bool from_start = !*request->after || strcmp (request->after, "0") == 0;
    snprintf (start, sizeof start, from_start ? "-" : "(%s", request->after);
    const char *argv[] = {"XRANGE", stream, start, "+", "COUNT", count};
    size_t lengths[] = {6, strlen (stream), strlen (start), 1, 5, strlen (count)};
    cache_command (broker->cache, ALERTS_COOKIE_BIT | pending->id, 6, argv, lengths);
}

/* One stream entry [id, [field, value, ...]] as an envelope, or NULL. */
static Onenet__Alert__AlertEnvelope *
entry_envelope (const redisReply *entry)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING ||
        entry->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    const redisReply *fields = entry->element[1];
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            strcmp (fields->element[i]->str, "envelope") == 0) {
            Onenet__Alert__AlertEnvelope *envelope = onenet__alert__alert_envelope__unpack (
                NULL, fields->element[i + 1]->len, (const uint8_t *)fields->element[i + 1]->str);
            if (envelope && envelope->alert) {
                /* Stored without an id: unpack left protobuf-c's shared empty string. */
                if (envelope->stream_id != protobuf_c_empty_string)
                    free (envelope->stream_id);
                envelope->stream_id = strndup (entry->element[0]->str, entry->element[0]->len);
                if (envelope->stream_id)
                    return envelope;
            }
            if (envelope)
                onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
            return NULL;
        }
    return NULL;
}

void
alerts_on_since (alerts_t *self, pending_t *pending, const redisReply *reply)
{
    broker_t *broker = self->broker;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        broker_answer (broker, &pending->peer, pending->correlation, NULL, ONENET_UNAVAILABLE,
                       "the alert stream could not be read", NULL);
        return;
    }
    const Onenet__Alert__SinceRequest *request = pending->since;
    size_t limit = request->last ? request->last : request->limit ? request->limit : BATCH_DEFAULT;
    if (limit > SCAN_MAX)
        limit = SCAN_MAX;
    Onenet__Alert__AlertEnvelope **found = calloc (limit, sizeof *found);
    size_t count = 0, scanned = 0;
    const char *cursor = request->after;
    for (size_t i = 0; found && i < reply->elements && count < limit; i++) {
        const redisReply *entry = reply->element[i];
        scanned++;
        if (entry->type == REDIS_REPLY_ARRAY && entry->elements == 2)
            cursor = entry->element[0]->str;
        Onenet__Alert__AlertEnvelope *envelope = entry_envelope (entry);
        if (envelope && matches (envelope->alert, request->filter))
            found[count++] = envelope;
        else if (envelope)
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
    }
    if (request->last) /* read newest first: give them oldest first */
        for (size_t i = 0; i < count / 2; i++) {
            Onenet__Alert__AlertEnvelope *swap = found[i];
            found[i] = found[count - 1 - i];
            found[count - 1 - i] = swap;
        }
    Onenet__Alert__AlertBatch batch = ONENET__ALERT__ALERT_BATCH__INIT;
    batch.alerts = found;
    batch.n_alerts = count;
    /* For `last`, the cursor is the newest entry read (not the newest
     * match): resuming from it skips nothing and replays nothing. */
    const char *newest = reply->elements && reply->element[0]->type == REDIS_REPLY_ARRAY &&
                                 reply->element[0]->elements == 2
                             ? reply->element[0]->element[0]->str
                             : "";
    batch.cursor = (char *)(request->last ? newest : cursor);
    batch.more =
        !request->last && scanned > 0 && (scanned < reply->elements || reply->elements == SCAN_MAX);
    batch.latest = self->latest;
    self->stats.replayed += count;
    if (!found)
        broker_answer (broker, &pending->peer, pending->correlation, NULL, ONENET_INTERNAL,
                       "broker out of memory", NULL);
    else
        alerts_reply (broker, &pending->peer, pending->correlation, &batch.base);
    for (size_t i = 0; i < count; i++)
        onenet__alert__alert_envelope__free_unpacked (found[i], NULL);
    free (found);
}

/* --- acknowledgement, open alerts, state, escalation --- */

/* Starts a script for a client; answers UNAVAILABLE when Redis is down. */
static pending_t *
start_query (alerts_t *self, pending_kind_t kind, const zmq_msg_t *peer, uint64_t correlation)
{
    broker_t *broker = self->broker;
    if (!cache_ready (broker->cache)) {
        broker_answer (broker, peer, correlation, NULL, ONENET_UNAVAILABLE,
                       "the alert stream is unavailable (Redis down); live alerts still flow",
                       NULL);
        return NULL;
    }
    pending_t *pending = alerts_pending_new (self, kind, peer, correlation);
    if (!pending)
        broker_answer (broker, peer, correlation, NULL, ONENET_INTERNAL, "broker out of memory",
                       NULL);
    return pending;
}

void
alerts_ack (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
            const char *requester, zmq_msg_t *body)
{
    alerts_t *self = broker->alerts;
    Onenet__Alert__Ack *ack =
        body ? onenet__alert__ack__unpack (NULL, zmq_msg_size (body), zmq_msg_data (body)) : NULL;
    if (!ack || !*ack->identifier) {
        if (ack)
            onenet__alert__ack__free_unpacked (ack, NULL);
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_BAD_REQUEST,
                       "body must be an onenet.alert.Ack with an identifier", NULL);
        return;
    }
    /* Who acknowledged: the authenticated department, then the name given. */
    char by[256];
    snprintf (by, sizeof by, "%s%s%s", requester, *ack->by ? "/" : "", ack->by);
    Onenet__Alert__Ack recorded = ONENET__ALERT__ACK__INIT;
    recorded.identifier = ack->identifier;
    recorded.by = by;
    recorded.at_ms = onenet_wall_ms ();
    pending_t *pending = start_query (self, PENDING_ACK, peer, header->correlation_id);
    if (pending) {
        /* Kept packed in the pending entry's envelope slot is awkward;
         * the packed Ack travels in the script and again in the reply. */
        size_t size = protobuf_c_message_get_packed_size (&recorded.base);
        uint8_t packed[512 + 256];
        if (size <= sizeof packed) {
            protobuf_c_message_pack (&recorded.base, packed);
            const char *args[] = {ack->identifier, (const char *)packed};
            size_t lengths[] = {strlen (ack->identifier), size};
            pending->ack = onenet__alert__ack__unpack (NULL, size, packed);
            if (alerts_eval (self, pending->id, SCRIPT_ACK, 2, args, lengths) < 0)
                alerts_pending_done (self, pending);
        } else {
            broker_answer (broker, peer, header->correlation_id, NULL, ONENET_BAD_REQUEST,
                           "acknowledgement too long", NULL);
            alerts_pending_done (self, pending);
        }
    }
    onenet__alert__ack__free_unpacked (ack, NULL);
}

void
alerts_on_ack (alerts_t *self, pending_t *pending, const redisReply *reply)
{
    broker_t *broker = self->broker;
    if (!reply || reply->type != REDIS_REPLY_INTEGER || !pending->ack) {
        broker_answer (broker, &pending->peer, pending->correlation, NULL, ONENET_UNAVAILABLE,
                       "the acknowledgement could not be recorded", NULL);
        return;
    }
    if (reply->integer == 0) {
        broker_answer (broker, &pending->peer, pending->correlation, NULL, ONENET_NOT_FOUND,
                       "no alert with this identifier was published", NULL);
        return;
    }
    zmq_msg_t body;
    zmq_msg_init_size (&body, protobuf_c_message_get_packed_size (&pending->ack->base));
    protobuf_c_message_pack (&pending->ack->base, zmq_msg_data (&body));
    /* Subscribers learn of it too. */
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, &body);
    if (zmq_send (self->xpub, "ack", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_msg_send (&copy, self->xpub, ZMQ_DONTWAIT);
    zmq_msg_close (&copy);
    broker_answer (broker, &pending->peer, pending->correlation, NULL, ONENET_OK, NULL, &body);
    zmq_msg_close (&body);
    self->stats.acks++;
    /* `by` is "department/name": the audit keeps them apart. */
    char department[128];
    const char *slash = strchr (pending->ack->by, '/');
    snprintf (department, sizeof department, "%.*s",
              slash ? (int)(slash - pending->ack->by) : (int)strlen (pending->ack->by),
              pending->ack->by);
    broker_audit (broker, "alert.ack", department, slash ? slash + 1 : "", "onenet.alert.ack",
                  pending->ack->identifier, "", ONENET_OK, 0, "broker");
}

void
alerts_unacked (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                zmq_msg_t *body)
{
    alerts_t *self = broker->alerts;
    Onenet__Alert__AlertFilter *filter = onenet__alert__alert_filter__unpack (
        NULL, body ? zmq_msg_size (body) : 0, body ? zmq_msg_data (body) : NULL);
    if (!filter) {
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_BAD_REQUEST,
                       "body is not an onenet.alert.AlertFilter", NULL);
        return;
    }
    pending_t *pending = start_query (self, PENDING_UNACKED, peer, header->correlation_id);
    if (!pending) {
        onenet__alert__alert_filter__free_unpacked (filter, NULL);
        return;
    }
    /* The catch-up reply code serves this too: a SinceRequest with no
     * cursor and this filter. */
    pending->since = calloc (1, sizeof *pending->since);
    if (!pending->since) {
        onenet__alert__alert_filter__free_unpacked (filter, NULL);
        alerts_pending_done (self, pending);
        return;
    }
    onenet__alert__since_request__init (pending->since);
    pending->since->after = strdup ("");
    pending->since->filter = filter;
    pending->since->limit = SCAN_MAX;
    if (!pending->since->after ||
        alerts_eval (self, pending->id, SCRIPT_UNACKED, 0, NULL, NULL) < 0)
        alerts_pending_done (self, pending);
}

void
alerts_state (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
              zmq_msg_t *body)
{
    alerts_t *self = broker->alerts;
    Onenet__Alert__StateRequest *request =
        body ? onenet__alert__state_request__unpack (NULL, zmq_msg_size (body), zmq_msg_data (body))
             : NULL;
    if (!request || !*request->identifier) {
        if (request)
            onenet__alert__state_request__free_unpacked (request, NULL);
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_BAD_REQUEST,
                       "body must be an onenet.alert.StateRequest with an identifier", NULL);
        return;
    }
    pending_t *pending = start_query (self, PENDING_STATE, peer, header->correlation_id);
    if (pending) {
        const char *args[] = {request->identifier};
        if (alerts_eval (self, pending->id, SCRIPT_STATE, 1, args, NULL) < 0)
            alerts_pending_done (self, pending);
    }
    onenet__alert__state_request__free_unpacked (request, NULL);
}

void
alerts_on_state (alerts_t *self, pending_t *pending, const redisReply *reply)
{
    broker_t *broker = self->broker;
    if (reply && reply->type == REDIS_REPLY_NIL) {
        broker_answer (broker, &pending->peer, pending->correlation, NULL, ONENET_NOT_FOUND,
                       "no alert with this identifier was published", NULL);
        return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 4 ||
        reply->element[1]->type != REDIS_REPLY_ARRAY ||
        reply->element[2]->type != REDIS_REPLY_ARRAY) {
        broker_answer (broker, &pending->peer, pending->correlation, NULL, ONENET_UNAVAILABLE,
                       "the alert stream could not be read", NULL);
        return;
    }
    const redisReply *updates = reply->element[1], *acks = reply->element[2];
    Onenet__Alert__AlertState state = ONENET__ALERT__ALERT_STATE__INIT;
    state.alert = entry_envelope (reply->element[0]);
    state.updates = calloc (updates->elements + 1, sizeof *state.updates);
    state.acks = calloc (acks->elements + 1, sizeof *state.acks);
    for (size_t i = 0; state.updates && i < updates->elements; i++) {
        Onenet__Alert__AlertEnvelope *update = entry_envelope (updates->element[i]);
        if (!update)
            continue;
        state.cancelled = state.cancelled || strcmp (update->alert->msg_type, "Cancel") == 0;
        state.updates[state.n_updates++] = update;
    }
    for (size_t i = 0; state.acks && i < acks->elements; i++) {
        const redisReply *item = acks->element[i];
        Onenet__Alert__Ack *ack =
            item->type == REDIS_REPLY_STRING
                ? onenet__alert__ack__unpack (NULL, item->len, (const uint8_t *)item->str)
                : NULL;
        if (ack)
            state.acks[state.n_acks++] = ack;
    }
    state.escalated =
        reply->element[3]->type == REDIS_REPLY_INTEGER && reply->element[3]->integer == 1;
    if (state.alert && state.updates && state.acks)
        alerts_reply (broker, &pending->peer, pending->correlation, &state.base);
    else
        broker_answer (broker, &pending->peer, pending->correlation, NULL, ONENET_INTERNAL,
                       "the alert's entries could not be read", NULL);
    if (state.alert)
        onenet__alert__alert_envelope__free_unpacked (state.alert, NULL);
    for (size_t i = 0; i < state.n_updates; i++)
        onenet__alert__alert_envelope__free_unpacked (state.updates[i], NULL);
    for (size_t i = 0; i < state.n_acks; i++)
        onenet__alert__ack__free_unpacked (state.acks[i], NULL);
    free (state.updates);
    free (state.acks);
}

/* Sends again, on the escalation topic, the alerts at or above the
 * configured severity left unacknowledged for too long. */
void
alerts_escalate (alerts_t *self)
{
    broker_t *broker = self->broker;
    if (broker->config->alerts_escalate_after_s <= 0 || !cache_ready (broker->cache))
        return;
    pending_t *pending = alerts_pending_new (self, PENDING_ESCALATE, NULL, 0);
    if (!pending)
        return;
    char cutoff[24];
    snprintf (cutoff, sizeof cutoff, "%" PRId64,
              onenet_wall_ms () - (int64_t)broker->config->alerts_escalate_after_s * 1000);
    const char *args[] = {cutoff};
    if (alerts_eval (self, pending->id, SCRIPT_ESCALATE, 1, args, NULL) < 0)
        alerts_pending_done (self, pending);
}

void
alerts_on_escalate (alerts_t *self, const redisReply *reply)
{
    for (size_t i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements; i++) {
        Onenet__Alert__AlertEnvelope *envelope = entry_envelope (reply->element[i]);
        if (!envelope)
            continue;
        envelope->escalated = true;
        alerts_fan_out (self, envelope, "escalation");
        self->stats.escalated++;
        onenet_info ("alerts.escalated", "stream_id=%s severity=%s", envelope->stream_id,
                     alerts_severity_of (envelope->alert));
        onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
    }
}
