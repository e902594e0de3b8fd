/*
 * alerts_fan_out.c - what the broker sends on its alerts XPUB: an alert on
 * each of its topics (alone, or the runs of one publish-script call as
 * batches, docs/PROTOCOL.md "Alert batches"), escalations, and the tick
 * with its marks. Part of the alerts module (alerts_internal.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alerts_internal.h"
#include "onenet/cap.h"

const char *
alerts_severity_of (const Onenet__Alert__Alert *alert)
{
    for (size_t i = 0; i < alert->n_info; i++)
        if (alert->info[i]->severity && *alert->info[i]->severity)
            return alert->info[i]->severity;
    return "Unknown";
}

/* See alerts_internal.h. */
size_t
alerts_topics_write (const Onenet__Alert__Alert *alert, const char *prefix, char *out,
                     size_t out_size, size_t *size_needed)
{
    const Onenet__Alert__ValuePair *codes[MAX_TOPICS];
    size_t count = onenet_cap_geocodes (alert, GEOCODE_SCHEME, codes, MAX_TOPICS);
    if (count > MAX_TOPICS)
        count = MAX_TOPICS;
    const char *severity = alerts_severity_of (alert);
    size_t used = 0;
    for (size_t i = 0; i < (count ? count : 1); i++) {
        const char *code = count ? codes[i]->value : "-";
        size_t room = out && used < out_size ? out_size - used : 0;
        int length = snprintf (out ? out + used : NULL, room, "%s.%s.%s", prefix, severity, code);
        used += (size_t) length + 1;
    }
    *size_needed = used;
    return out && used <= out_size ? (count ? count : 1) : 0;
}

/* Sends body on each of `count` topics (NUL-separated): [topic][body],
 * or for a batch of `alerts` envelopes [topic][bodies][alerts]. counted:
 * counted in the marks (alerts are, escalations sent again are not). */
static void
send_on_topics (alerts_t *self, const char *topics, size_t count, zmq_msg_t *body, uint32_t alerts,
                bool counted)
{
    char batch[16];
    int batch_length = snprintf (batch, sizeof batch, "%u", alerts);
    for (size_t i = 0; i < count; i++) {
        size_t length = strlen (topics);
        /* Counted whether or not ZeroMQ delivers it: a subscriber that
         * misses it sees a count it did not reach. */
        if (counted)
            marks_on_sent (self->marks, topics, length);
        zmq_msg_t copy;
        zmq_msg_init (&copy);
        zmq_msg_copy (&copy, body);   /* shares the buffer */
        /* XPUB never blocks: past a subscriber's high-water mark ZeroMQ
         * drops for that subscriber only, who catches up from the stream.
         * A message is all or nothing, so a batch is too. */
        if (zmq_send (self->xpub, topics, length, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
            && zmq_msg_send (&copy, self->xpub, ZMQ_DONTWAIT | (alerts ? ZMQ_SNDMORE : 0)) >= 0
            && (!alerts || zmq_send (self->xpub, batch, (size_t) batch_length, ZMQ_DONTWAIT) >= 0))
            self->stats.delivered += alerts ? alerts : 1;
        zmq_msg_close (&copy);
        topics += length + 1;
    }
}

/* The envelope subscribers get for a published alert: as packed at
 * submit, with the stream id (field 1, "" while Redis is down: absent)
 * appended, a field after the others reading the same. Written at out
 * when out is not NULL; returns its size. */
static size_t
envelope_write (uint8_t *out, const publish_t *publish, const char *stream_id,
                size_t stream_id_size)
{
    uint8_t field[16];
    size_t field_size = 0;
    if (stream_id_size > 0) {
        field[field_size++] = 0x0a;   /* field 1, length-delimited */
        field_size += onenet_varint_write (field + field_size, stream_id_size);
    }
    if (out) {
        memcpy (out, publish->packed, publish->packed_size);
        memcpy (out + publish->packed_size, field, field_size);
        if (stream_id_size > 0)
            memcpy (out + publish->packed_size + field_size, stream_id, stream_id_size);
    }
    return publish->packed_size + field_size + stream_id_size;
}

/* Sends an envelope on every topic of its alert under a first topic word
 * other than "alert" ("escalation"). */
void
alerts_fan_out (alerts_t *self, const Onenet__Alert__AlertEnvelope *envelope, const char *prefix)
{
    size_t size = 0;
    alerts_topics_write (envelope->alert, prefix, NULL, 0, &size);
    char *topics = malloc (size);
    size_t count = topics ? alerts_topics_write (envelope->alert, prefix, topics, size, &size) : 0;
    zmq_msg_t packed;
    zmq_msg_init_size (&packed, protobuf_c_message_get_packed_size (&envelope->base));
    protobuf_c_message_pack (&envelope->base, zmq_msg_data (&packed));
    send_on_topics (self, topics, count, &packed, 0, strcmp (prefix, "alert") == 0);
    zmq_msg_close (&packed);
    free (topics);
}

/* Sends a published alert to its subscribers, alone. */
void
alerts_send_alert (alerts_t *self, const publish_t *publish, const char *stream_id,
                   size_t stream_id_size)
{
    zmq_msg_t body;
    zmq_msg_init_size (&body, envelope_write (NULL, publish, stream_id, stream_id_size));
    envelope_write (zmq_msg_data (&body), publish, stream_id, stream_id_size);
    send_on_topics (self, publish->topics, publish->topic_count, &body, 0, true);
    zmq_msg_close (&body);
}

/* Sends `count` stored alerts (ids[i] is publish[i]'s stream id) in
 * order: each run of alerts with the same topics as one message per
 * topic, its bodies one after the other, each after its length as a
 * varint (docs/PROTOCOL.md, "Alert batches"); a run of one alone. */
void
alerts_send_runs (alerts_t *self, const publish_t *const *publishes, const redisReply *const *ids,
                  size_t count)
{
    for (size_t first = 0, end; first < count; first = end) {
        const publish_t *head = publishes[first];
        size_t size = 0;
        for (end = first; end < count; end++) {
            const publish_t *next = publishes[end];
            if (next->topic_count != head->topic_count || strcmp (next->topics, head->topics) != 0)
                break;
            size_t length = envelope_write (NULL, next, ids[end]->str, ids[end]->len);
            size += onenet_varint_write (NULL, length) + length;
        }
        if (end - first == 1) {
            alerts_send_alert (self, head, ids[first]->str, ids[first]->len);
            continue;
        }
        zmq_msg_t bodies;
        zmq_msg_init_size (&bodies, size);
        uint8_t *at = zmq_msg_data (&bodies);
        for (size_t i = first; i < end; i++) {
            size_t length = envelope_write (NULL, publishes[i], ids[i]->str, ids[i]->len);
            at += onenet_varint_write (at, length);
            at += envelope_write (at, publishes[i], ids[i]->str, ids[i]->len);
        }
        send_on_topics (self, head->topics, head->topic_count, &bodies, (uint32_t) (end - first),
                        true);
        zmq_msg_close (&bodies);
    }
}

void
alerts_send_tick (alerts_t *self)
{
    /* "0-0" while the newest id is not known (empty stream, Redis down):
     * subscribers learn the broker is there, and catch up on later ticks. */
    const char *latest = *self->latest ? self->latest : "0-0";
    marks_send (self->marks, self->xpub, latest);   /* before the tick that closes the round */
    if (zmq_send (self->xpub, "tick", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send (self->xpub, latest, strlen (latest), ZMQ_DONTWAIT);
}
