/*
 * marks.h - per-subscription counters on the alerts XPUB, so that a live
 * subscriber can prove it missed nothing without reading the stream again.
 *
 * ZeroMQ drops silently past a subscriber's high-water mark, and stream
 * IDs have gaps, so a subscriber cannot tell from the alerts it got that
 * none is missing. The broker therefore counts, for every subscribed
 * prefix (the XPUB reports each one when its first subscriber arrives and
 * when its last leaves), the alert messages it sent whose topic the
 * prefix matches. Every tick it sends one mark per prefix, on that prefix,
 * [prefix]["mark"]["<epoch> <count> <latest stream id>"], before the tick.
 * A subscriber that counted as many messages between two marks of each of
 * its prefixes got all of them (docs/PROTOCOL.md, "Marks").
 *
 * The epoch changes whenever the counts stop meaning that: at start, and
 * when alerts enter the stream without being sent live after it (the
 * spool written back, a new Redis connection).
 */
#ifndef BROKER_MARKS_H
#define BROKER_MARKS_H

#include <stddef.h>
#include <stdint.h>

typedef struct marks_t marks_t;

marks_t *marks_new (void);
void marks_destroy (marks_t **self_p);

/* A message read from the XPUB: byte 1 subscribe, 0 unsubscribe, then the
 * prefix. Only prefixes of alert topics ("alert.") are counted. */
void marks_on_subscription (marks_t *self, const void *data, size_t size);

/* One alert message sent on topic: every prefix of it counts one more. */
void marks_on_sent (marks_t *self, const char *topic, size_t length);

/* Sends one mark per prefix on xpub (never blocking). latest: the newest
 * stream id, "0-0" when unknown. */
void marks_send (marks_t *self, void *xpub, const char *latest);

/* The counts so far no longer prove anything: start a new epoch. */
void marks_new_epoch (marks_t *self);

/* Prefixes counted now. */
size_t marks_prefixes (const marks_t *self);

#endif
