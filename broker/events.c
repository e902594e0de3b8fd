/*
 * events.c - departments' EVENTs relayed to subscribers, with flow control
 * (see events.h).
 *
 * The XPUB is lossy for everything else on it: alerts, marks and ticks
 * may be dropped for a full subscriber, who then catches up from the
 * stream. Only for an event's send is ZMQ_XPUB_NODROP switched on, so a
 * full subscriber makes the send fail with EAGAIN instead of silently
 * missing the event; the broker then holds it.
 *
 * Credits are cumulative (CREDIT carries every event of the registration
 * passed on so far), so a CREDIT the ROUTER could not deliver is made good
 * by the next one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "events.h"
#include "registry.h"

/* An event whose topic, "event.<department>.<topic>", is this long or
 * longer is not relayed. */
#define EVENTS_TOPIC_MAX 192

typedef struct {
    zmq_msg_t publisher;       /* the adapter's routing id, for its credit */
    zmq_msg_t heading;         /* the topic, a NUL, the EventHeader */
    zmq_msg_t body;
    uint32_t events;           /* bodies in it: 1, or a batch's count */
    int64_t since;             /* monotonic ms it was first refused */
} held_t;

struct events_t {
    broker_t *broker;
    void *xpub;
    bool nodrop;               /* ZMQ_XPUB_NODROP as last set */
    held_t *ring;              /* oldest at head; grows up to events.hold_max */
    size_t capacity;
    size_t head;
    size_t count;              /* messages in the ring; stats.held counts their events */
    int64_t warned_at;         /* of events.subscriber_behind, at most one per 10 s */
    uint64_t unwarned;         /* timeouts since, not logged */
    events_stats_t stats;
};

events_t *
events_new (broker_t *broker, void *xpub)
{
    events_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->broker = broker;
    self->xpub = xpub;
    self->warned_at = INT64_MIN / 2;
    return self;
}

static void
held_close (held_t *held)
{
    zmq_msg_close (&held->publisher);
    zmq_msg_close (&held->heading);
    zmq_msg_close (&held->body);
}

void
events_destroy (events_t **self_p)
{
    events_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        held_close (&self->ring[(self->head + i) % self->capacity]);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

uint32_t
events_window (const events_t *self)
{
    return (uint32_t) self->broker->config->events_window;
}

const events_stats_t *
events_stats (const events_t *self)
{
    return &self->stats;
}

/* More events of this adapter have left the broker. A CREDIT goes when
 * an eighth of the window has accumulated: often enough that a publisher
 * never waits on it, rarely enough to cost nothing per event. */
static void
passed_on (events_t *self, adapter_t *adapter, uint32_t events)
{
    if (!adapter || adapter->event_window == 0)
        return;
    unsigned window = adapter->event_window;
    adapter->events_passed += events;
    unsigned step = window / 8 ? window / 8 : 1;
    if (adapter->events_passed - adapter->events_credited < step)
        return;
    Onenet__Credit credit = ONENET__CREDIT__INIT;
    credit.events = adapter->events_passed;
    if (onenet_wire_send (self->broker->socket, &adapter->routing_id, ONENET_CMD_CREDIT,
                          &credit.base, NULL, ZMQ_DONTWAIT) == 0) {
        adapter->events_credited = adapter->events_passed;
        self->stats.credits++;
    }
}

void
events_refused (events_t *self, adapter_t *adapter, uint32_t events)
{
    passed_on (self, adapter, events);
}

static void
set_nodrop (events_t *self, bool nodrop)
{
    if (self->nodrop == nodrop)
        return;
    int value = nodrop;
    zmq_setsockopt (self->xpub, ZMQ_XPUB_NODROP, &value, sizeof value);
    self->nodrop = nodrop;
}

/* Sends the two frames; with wait_for_room, fails with EAGAIN (frames
 * still the caller's) when a matching subscriber's queue is full. A sent
 * frame is emptied by ZeroMQ. A message whose first frame went out always
 * completes: a full queue is only checked per message. */
static int
send_frames (events_t *self, zmq_msg_t *heading, zmq_msg_t *body, bool wait_for_room)
{
    set_nodrop (self, wait_for_room);
    if (zmq_msg_send (heading, self->xpub, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    zmq_msg_send (body, self->xpub, ZMQ_DONTWAIT);
    return 0;
}

/* Sends without waiting for anyone; counted dropped, since it was sent
 * this way because someone had no room. */
static void
send_leaving_behind (events_t *self, zmq_msg_t *heading, zmq_msg_t *body, uint32_t events)
{
    if (send_frames (self, heading, body, false) == 0)
        self->stats.dropped += events;
}

static int
hold (events_t *self, adapter_t *adapter, zmq_msg_t *heading, zmq_msg_t *body, uint32_t events)
{
    size_t limit = (size_t) self->broker->config->events_hold_max;
    if (self->stats.held + events > limit)
        return -1;
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 1024;
        if (capacity > limit)
            capacity = limit;
        held_t *ring = malloc (capacity * sizeof *ring);
        if (!ring)
            return -1;
        for (size_t i = 0; i < self->count; i++)
            ring[i] = self->ring[(self->head + i) % self->capacity];
        free (self->ring);
        self->ring = ring;
        self->capacity = capacity;
        self->head = 0;
    }
    held_t *held = &self->ring[(self->head + self->count) % self->capacity];
    zmq_msg_init (&held->publisher);
    zmq_msg_copy (&held->publisher, (zmq_msg_t *) &adapter->routing_id);
    zmq_msg_init (&held->heading);
    zmq_msg_move (&held->heading, heading);
    zmq_msg_init (&held->body);
    zmq_msg_move (&held->body, body);
    held->events = events;
    held->since = self->broker->now;
    self->count++;
    self->stats.held += events;
    return 0;
}

static void
pop_held (events_t *self)
{
    held_t *held = &self->ring[self->head];
    passed_on (self, registry_adapter (self->broker->registry, &held->publisher), held->events);
    self->stats.held -= held->events;
    held_close (held);
    self->head = (self->head + 1) % self->capacity;
    self->count--;
}

int
events_tick (events_t *self, int64_t now)
{
    int64_t hold_ms = self->broker->config->events_hold_ms;
    while (self->count) {
        held_t *held = &self->ring[self->head];
        if (send_frames (self, &held->heading, &held->body, true) == 0)
            self->stats.relayed += held->events;
        else if (now - held->since >= hold_ms) {
            /* Someone took nothing for hold_ms. Sent without them, the
             * event marks their queue full, and ZeroMQ leaves it out of
             * the next sends until they have read half of it, and the
             * others go on. */
            self->stats.hold_timeouts++;
            if (now - self->warned_at >= 10000) {
                onenet_warn ("events.subscriber_behind",
                             "reason=\"a subscriber took no event for hold_ms: sending without it\""
                             " hold_ms=%" PRId64 " held=%zu suppressed=%" PRIu64,
                             hold_ms, self->stats.held, self->unwarned);
                self->warned_at = now;
                self->unwarned = 0;
            }
            else
                self->unwarned++;
            send_leaving_behind (self, &held->heading, &held->body, held->events);
        }
        else
            break;
        pop_held (self);
    }
    set_nodrop (self, false);
    return self->count ? 1 : -1;
}

void
events_relay (events_t *self, adapter_t *adapter, const Onenet__EventHeader *header,
              zmq_msg_t *body)
{
    /* One frame for the topic and the header: "event.<department>.<topic>",
     * a NUL, the EventHeader with the department set. Subscribers match
     * the topic by prefix; the NUL ends it. */
    size_t department_length = strlen (adapter->department);
    size_t topic_length = strlen (header->topic);
    size_t length = 6 + department_length + 1 + topic_length;
    uint32_t events = header->count ? header->count : 1;
    if (length >= EVENTS_TOPIC_MAX) {
        passed_on (self, adapter, events);   /* refused, but it has left all the same */
        return;
    }
    Onenet__EventHeader out = *header;
    out.department = adapter->department;   /* from the connection, never from the adapter */
    zmq_msg_t heading, payload;
    zmq_msg_init_size (&heading, length + 1 + protobuf_c_message_get_packed_size (&out.base));
    char *name = zmq_msg_data (&heading);
    memcpy (name, "event.", 6);
    memcpy (name + 6, adapter->department, department_length);
    name[6 + department_length] = '.';
    memcpy (name + 6 + department_length + 1, header->topic, topic_length);
    name[length] = '\0';
    protobuf_c_message_pack (&out.base, (uint8_t *) name + length + 1);
    zmq_msg_init (&payload);
    if (body)
        zmq_msg_copy (&payload, body);
    if (self->count == 0 && send_frames (self, &heading, &payload, true) == 0) {
        self->stats.relayed += events;
        passed_on (self, adapter, events);
    }
    else {
        /* It waits, and behind held events it waits its turn, so each
         * publisher's order holds. With the hold full (or smaller since a
         * reload), the oldest go now, without whoever has no room. */
        while (self->count
               && self->stats.held + events > (size_t) self->broker->config->events_hold_max) {
            held_t *oldest = &self->ring[self->head];
            if (send_frames (self, &oldest->heading, &oldest->body, true) == 0)
                self->stats.relayed += oldest->events;
            else
                send_leaving_behind (self, &oldest->heading, &oldest->body, oldest->events);
            pop_held (self);
        }
        if (hold (self, adapter, &heading, &payload, events) < 0) {
            send_leaving_behind (self, &heading, &payload, events);
            passed_on (self, adapter, events);
        }
    }
    set_nodrop (self, false);
    zmq_msg_close (&heading);
    zmq_msg_close (&payload);
}
