/*
 * events.h - departments' EVENTs relayed to subscribers, with flow control.
 *
 * An event goes out on the alerts XPUB endpoint as two frames,
 * [event.<department>.<topic> NUL EventHeader][body], the department set
 * from the connection (not three, the topic apart: every frame costs each
 * thread on the way to every subscriber). A batch of events an adapter
 * sent under one header goes on the same way, as one message: its count
 * in the header, its bodies in the one body frame. An event is not kept:
 * unlike alerts there is no stream to catch up from, so the broker does
 * not drop an event because a subscriber is momentarily behind. Instead:
 *
 *   - an event a subscriber has no room for waits, in order, with every
 *     event behind it (held);
 *   - each adapter may have at most events.window events not yet passed
 *     on; as they leave, the broker sends it CREDIT, so a publisher slows
 *     to what the subscribers take (onenet_adapter_publish fails with
 *     EAGAIN while its window is full);
 *   - a subscriber that takes nothing for events.hold_ms is left behind:
 *     the event goes to the others, counted as dropped, and ZeroMQ leaves
 *     that subscriber out until it has read half its queue (its pipe's
 *     low-water mark), so the others go on (one that is itself full at
 *     that moment can miss events too: docs/PROTOCOL.md).
 *
 * docs/PROTOCOL.md ("Event flow control") has the adapter's side.
 */
#ifndef BROKER_EVENTS_H
#define BROKER_EVENTS_H

#include "broker_internal.h"
#include "onenet/proto/onenet.pb-c.h"

typedef struct events_t events_t;

/* Relays on xpub (not owned). NULL when out of memory. */
events_t *events_new (broker_t *broker, void *xpub);
void events_destroy (events_t **self_p);

/* Relays one EVENT of a registered adapter, one event or a batch of
 * header->count (its body frame goes as it came, docs/PROTOCOL.md "Event
 * batches"); body may be NULL and is left to the caller (its content is
 * shared, not copied). */
void events_relay (events_t *self, adapter_t *adapter, const Onenet__EventHeader *header,
                   zmq_msg_t *body);

/* Sends what was held and now has room, or has waited too long. Returns
 * ms until it needs to run again, or -1 when nothing is held. */
int events_tick (events_t *self, int64_t now);

/* An EVENT of this many events that was not relayed (malformed) has left
 * the broker all the same: its adapter's window is credited. */
void events_refused (events_t *self, adapter_t *adapter, uint32_t events);

/* A WELCOME's event_window for a new registration. */
uint32_t events_window (const events_t *self);

typedef struct {
    uint64_t relayed;          /* events sent to every subscriber that matched */
    uint64_t dropped;          /* events sent without at least one (full) subscriber */
    uint64_t hold_timeouts;    /* times a subscriber was left behind after hold_ms */
    uint64_t credits;          /* CREDIT messages sent */
    size_t held;               /* events waiting now */
} events_stats_t;
const events_stats_t *events_stats (const events_t *self);

#endif
