/*
 * em_alerts.h - the emergency adapter turns new incidents into CAP alerts.
 * Private to adapters/emergency/.
 *
 * Every poll interval the store is asked for incidents after the alert
 * cursor (em_store_next_unalerted), however they got there: through
 * em.incident.report or written directly by the department's own
 * systems. Each becomes one CAP 1.2 alert (em_alert_from_incident),
 * published with onenet.alert.publish over a client connection of its
 * own; the cursor moves past an incident only when the broker answers OK
 * (a stream id, spooled, or a duplicate), so a failed publish is tried
 * again at the next poll and a restart neither republishes nor skips.
 *
 * Nothing here blocks: one publish is in flight at a time, its reply is
 * read when the client socket is readable. The adapter's loop polls
 * em_alerts_socket beside the adapter's socket, waits at most
 * em_alerts_next_timeout_ms, and calls em_alerts_handle after every
 * wake-up.
 */
#ifndef ONENET_EM_ALERTS_H
#define ONENET_EM_ALERTS_H

#include <stddef.h>
#include <stdint.h>
#include "onenet/proto/alert.pb-c.h"
#include "onenet/proto/emergency.pb-c.h"
#include "em_store.h"

/* The CAP sender of every alert of the department. */
#define EM_ALERT_SENDER "duty@em.example.gov.cn"

typedef struct em_alerts_t em_alerts_t;

/* Creates the publisher: a client of the broker at endpoint (NULL for
 * the default), publishing with CAP status cap_status ("Exercise" or
 * "Actual", borrowed: must outlive the publisher) and looking for new
 * incidents in store (borrowed) every poll_ms. Returns NULL with a reason
 * in err. */
em_alerts_t *em_alerts_new (const char *endpoint, em_store_t *store, const char *cap_status,
                            unsigned poll_ms, char *err, size_t err_size);

/* Frees the publisher (an alert still in flight is published again by
 * the next run: the broker dedupes it); sets *self_p to NULL. Safe on
 * NULL. */
void em_alerts_destroy (em_alerts_t **self_p);

/* The client's ZeroMQ socket, to poll for ZMQ_POLLIN. */
void *em_alerts_socket (em_alerts_t *self);

/* Milliseconds until em_alerts_handle has something to do without
 * socket activity (the next poll, a local timeout); 0 if now. */
int em_alerts_next_timeout_ms (const em_alerts_t *self);

/* Reads the broker's answers, moves the cursor, and when the poll is due
 * publishes the next new incident. Never waits. */
void em_alerts_handle (em_alerts_t *self);

/* Looks for new incidents at the next em_alerts_handle instead of at the
 * next poll (an incident was just stored). */
void em_alerts_wake (em_alerts_t *self);

/* The CAP alert for one incident (see em_alerts.c for the mapping), sent
 * at now_ms with the local UTC offset. Returns a new alert that the
 * caller frees with onenet__alert__alert__free_unpacked (alert, NULL).
 * It may still be invalid CAP when the store holds text CAP cannot carry;
 * check with onenet_cap_validate. */
Onenet__Alert__Alert *em_alert_from_incident (const Onenet__Em__Incident *incident,
                                              const char *cap_status, int64_t now_ms);

#endif
