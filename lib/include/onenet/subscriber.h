/*
 * onenet/subscriber.h - receive the alerts that match a filter: every one,
 * in order, once, also those published while the subscriber was away.
 *
 *     const char *severities[] = { "Extreme", "Severe" };
 *     const char *areas[] = { "5101" };
 *     onenet_alert_filter_t filter = { severities, 2, areas, 1, NULL, 0 };
 *     onenet_subscriber_t *sub = onenet_subscriber_new (NULL, NULL, &filter,
 *                                                       "alerts.state", err, sizeof err);
 *     onenet_signals_catch ();
 *     Onenet__Alert__AlertEnvelope *envelope;
 *     while ((envelope = onenet_subscriber_next (sub, -1))) {
 *         ... envelope->stream_id, envelope->alert ...
 *         onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
 *     }
 *     onenet_subscriber_destroy (&sub);
 *
 * How it works (proto/alert.proto, "Distribution", is the contract): the
 * broker appends every alert to a durable log, a Redis Stream whose entry
 * IDs ("1752261600000-0") only grow, and fans it out live on its XPUB
 * endpoint under the topic "alert.<Severity>.<GB/T 2260 code>", plus a
 * "tick" every second carrying the newest stream ID. A subscriber
 *
 *   1. subscribes live first (topic prefixes from the filter, see
 *      onenet_subscriber_new) and holds back what arrives;
 *   2. replays the log from its cursor with the service onenet.alert.since
 *      (from the beginning when it has no state file), oldest first;
 *   3. then hands out the held-back live alerts it has not handed out yet,
 *      then live alerts as they come;
 *   4. on every tick whose newest ID is past its cursor, asks
 *      onenet.alert.since again, which recovers anything the live stream
 *      lost (a slow subscriber past ZeroMQ's high-water mark, a broker
 *      restart; ZeroMQ reconnects the live socket by itself).
 *
 * Exactly once: an alert is identified by its stream ID; alerts at or
 * below the cursor and IDs already handed out above it are dropped. An
 * alert the broker published while Redis was down ("spooled") arrives
 * live with an empty stream ID; it is handed out once and recognised by
 * its CAP (sender, identifier) when it later appears in the log.
 *
 * Order: stream order within the replay at start-up (including the seam
 * with the live stream) and within each catch-up. An alert recovered by a
 * catch-up after a live gap (a broker restart, a high-water-mark drop, a
 * spooled alert written to the log later) may come after newer live ones.
 *
 * State file: with a path, the subscriber keeps there its cursor (the
 * highest stream ID up to which every matching alert was handed out), the
 * IDs handed out above it, the spooled alerts handed out, and the filter.
 * It is rewritten atomically (temporary file flushed to disk, then
 * renamed over it) after each batch of alerts the caller took (when
 * next() finds nothing more queued; at most ten times a second), at least
 * once a second while alerts keep coming, and on destroy. An alert counts
 * as taken once next() returned it: after a crash, the alerts returned
 * since the last write are handed out again. A state file written for
 * another filter is ignored (with a warning): the subscriber starts
 * afresh, from the beginning of the log, and overwrites it. Without a
 * state file every run starts from the beginning of the log (or where
 * onenet_subscriber_start_after / onenet_subscriber_start_last say).
 *
 * While the broker cannot read its log (Redis down) or does not answer,
 * live alerts are still handed out; the catch-up is retried every second
 * and logged once (onenet_warn, event subscriber.catchup_failed).
 *
 * Not thread-safe: use one subscriber per thread.
 */
#ifndef ONENET_SUBSCRIBER_H
#define ONENET_SUBSCRIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "onenet/proto/alert.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onenet_subscriber_t onenet_subscriber_t;

/* Which alerts to receive. An empty list matches everything; within a
 * list any one entry matches. Severities are CAP's words (Extreme, Severe,
 * Moderate, Minor, Unknown; an alert's severity is that of its first info
 * block carrying one). Areas are GB/T 2260 code prefixes ("51" province,
 * "5101" city, "510104" county): an alert matches if one of its GB/T 2260
 * geocodes starts with one; with areas given, alerts without any such
 * geocode do not match. Categories are CAP's (Geo, Met, Safety, Security,
 * Rescue, Fire, Health, Env, Transport, Infra, CBRNE, Other): an alert
 * matches if any of its info blocks has one of them. The subscriber copies
 * what it needs: the caller keeps ownership of the arrays. */
typedef struct {
    const char *const *severities;
    size_t n_severities;
    const char *const *areas;
    size_t n_areas;
    const char *const *categories;
    size_t n_categories;
} onenet_alert_filter_t;

/* Default alerts (XPUB) endpoint: $ONENET_ALERTS or tcp://127.0.0.1:5571.
 * Returns a static or environment string; do not free. */
const char *onenet_alerts_default_endpoint (void);

/* Checks a filter: known severities and categories (exact CAP spelling),
 * areas of 1 to 12 digits. Returns 0, or -1 with the reason in err (err
 * may be NULL). NULL is the empty filter. Allocates nothing. */
int onenet_alert_filter_check (const onenet_alert_filter_t *filter, char *err, size_t err_size);

/* Creates a subscriber: connects to the broker (broker_endpoint, NULL for
 * onenet_default_endpoint) for onenet.alert.since, and a SUB socket to
 * alerts_endpoint (NULL for onenet_alerts_default_endpoint) subscribed
 * to "alert.<Severity>.<area prefix>" for each severity and area of the
 * filter (every CAP severity when it names none; "alert.<Severity>." when
 * it names no area) and to "tick". filter may be NULL (everything).
 * state_file may be NULL (no state kept). Reads the state file if it
 * exists. The replay starts at the first onenet_subscriber_next.
 * Returns NULL on failure (invalid filter, bad endpoint, unreadable or
 * corrupt state file) with the reason in err (err may be NULL). Destroy
 * with onenet_subscriber_destroy. */
onenet_subscriber_t *onenet_subscriber_new (const char *broker_endpoint,
                                            const char *alerts_endpoint,
                                            const onenet_alert_filter_t *filter,
                                            const char *state_file, char *err, size_t err_size);

/* Saves the state file (if any), closes the connections and frees the
 * subscriber and the alerts it holds that next() has not returned (they
 * are not counted as taken); sets *self_p to NULL. Safe on NULL. */
void onenet_subscriber_destroy (onenet_subscriber_t **self_p);

/* Start after this stream ID instead of the state file's cursor ("0" =
 * from the beginning). Only before the first onenet_subscriber_next.
 * Returns 0, or -1 if stream_id is not "MS" or "MS-SEQ" or the replay
 * has begun. */
int onenet_subscriber_start_after (onenet_subscriber_t *self, const char *stream_id);

/* Start with the newest n matching alerts (n > 0) instead of the state
 * file's cursor. Only before the first onenet_subscriber_next. Returns 0,
 * or -1 if n is 0 or the replay has begun. */
int onenet_subscriber_start_last (onenet_subscriber_t *self, uint32_t n);

/* For a delegate such as the gateway (the broker's `delegates`): the
 * subscriber's onenet.alert.since calls are made for this department and
 * user (onenet_call_options_t.on_behalf_of_*), so the sharing policy
 * decides for them and not for the delegate's own key. user may be NULL.
 * Any time; the next catch-up uses it. Returns 0, or -1 if department is
 * NULL or empty, or out of memory (the previous setting is kept). */
int onenet_subscriber_act_for (onenet_subscriber_t *self, const char *department,
                               const char *user);

/* Returns the next matching alert, waiting up to timeout_ms (0 = do not
 * wait, -1 = until one arrives). The caller owns it and frees it with
 * onenet__alert__alert_envelope__free_unpacked (envelope, NULL). Returns
 * NULL on timeout, when a signal caught by onenet_signals_catch arrived
 * (onenet_interrupted ()), on a fatal socket error, or for good once the
 * broker refused a catch-up (DENIED: the sharing policy does not let this
 * key, or the user it acts for, read the alert log, so the subscriber
 * could never show that nothing was missed); the reason is in
 * onenet_subscriber_error. */
Onenet__Alert__AlertEnvelope *onenet_subscriber_next (onenet_subscriber_t *self, int timeout_ms);

/* The stream ID up to which every matching alert was returned ("0" before
 * any). Owned by the subscriber, valid until its next call. */
const char *onenet_subscriber_cursor (onenet_subscriber_t *self);

/* What the subscriber has done so far, for a tool to report. */
typedef struct {
    uint64_t live;       /* alerts queued as they were published */
    uint64_t recovered;  /* alerts queued from the stream (missed live, or before the start) */
    uint64_t catchups;   /* onenet.alert.since requests sent */
    uint64_t read_again; /* alerts those requests returned, kept or not */
    uint64_t verified;   /* ticks at which the marks showed nothing was missed live */
} onenet_subscriber_stats_t;

void onenet_subscriber_stats (const onenet_subscriber_t *self, onenet_subscriber_stats_t *stats);

/* The last problem met, even one the subscriber recovers from by itself
 * (catch-up failed, state file not written); "" if none. Owned by the
 * subscriber. */
const char *onenet_subscriber_error (const onenet_subscriber_t *self);

#ifdef __cplusplus
}
#endif
#endif
