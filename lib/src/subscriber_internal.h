/*
 * subscriber_internal.h - the pure parts of the alert subscriber
 * (subscriber.c): stream IDs and the state file (subscriber_state.c),
 * topics and the local category filter (subscriber_filter.c). Not
 * installed; tests/unit/test_subscriber.c includes it.
 */
#ifndef ONENET_SUBSCRIBER_INTERNAL_H
#define ONENET_SUBSCRIBER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "onenet/subscriber.h"

/* A Redis Stream entry ID "MS-SEQ": milliseconds and a sequence number,
 * compared as the pair of numbers (never as text: "9-0" < "10-0"). */
typedef struct {
    uint64_t ms;
    uint64_t seq;
} stream_id_t;

/* Longest text of a stream ID: two 20-digit numbers and '-'. */
#define STREAM_ID_TEXT 42

/* Parses "MS-SEQ" or "MS" (SEQ 0); "" is 0-0 (the start of the log).
 * Returns 0, or -1 for anything else (signs, spaces, overflow). */
int subscriber_id_parse (const char *text, stream_id_t *id);

/* <0, 0, >0 as a is before, equal to, after b. */
int subscriber_id_cmp (stream_id_t a, stream_id_t b);

/* Compares two IDs given as text; text that does not parse counts as
 * 0-0. */
int subscriber_id_compare (const char *a, const char *b);

/* Writes "MS-SEQ" ("0" for 0-0, as onenet.alert.since reads it) into out
 * (at least STREAM_ID_TEXT bytes); returns out. */
char *subscriber_id_format (stream_id_t id, char *out);

/* A sorted set of stream IDs. */
typedef struct {
    stream_id_t *ids;
    size_t count;
    size_t capacity;
} id_set_t;

/* Inserts id (once). Returns 0, or -1 when out of memory. */
int subscriber_set_add (id_set_t *set, stream_id_t id);
bool subscriber_set_has (const id_set_t *set, stream_id_t id);
/* Removes every ID at or below limit. */
void subscriber_set_prune (id_set_t *set, stream_id_t limit);
void subscriber_set_free (id_set_t *set);

/* The SUB topic prefixes for a filter (see onenet_subscriber_new), each
 * once, "tick" last. Returns how many, with a new array of new strings
 * in *topics_p that the caller frees with subscriber_topics_free; -1 when out of
 * memory. */
int subscriber_topics (const onenet_alert_filter_t *filter, char ***topics_p);
void subscriber_topics_free (char **topics, int count);

/* True if the filter names no category or an info block of the alert has
 * one of them. */
bool subscriber_category_match (const onenet_alert_filter_t *filter,
                                const Onenet__Alert__Alert *alert);

/* The filter as one line of text, lists sorted and deduplicated, so that
 * the same filter given in another order has the same key:
 * "severity=Extreme,Severe area=5101 category=". The caller frees it;
 * NULL when out of memory. */
char *subscriber_filter_key (const onenet_alert_filter_t *filter);

/* A spooled alert (received live before it had a stream ID): its CAP
 * sender and identifier, whether the caller took it, and the ID it was
 * later seen under in the log while still queued. Only taken ones are
 * saved. */
typedef struct {
    char *sender;
    char *identifier;
    bool taken;
    bool has_logged;
    stream_id_t logged;
} spooled_t;

/* What the state file holds. */
typedef struct {
    stream_id_t cursor; /* every matching alert up to here was handed out */
    id_set_t delivered; /* IDs above the cursor handed out */
    spooled_t *spooled; /* spooled alerts received, not yet seen in the log */
    size_t n_spooled;
    size_t spooled_capacity;
} subscriber_state_t;

/* Adds a spooled alert, not taken (copies the strings); beyond 10000 the
 * oldest is forgotten. Returns 0, or -1 when out of memory. */
int subscriber_spooled_add (subscriber_state_t *state, const char *sender, const char *identifier);
/* Index of the spooled alert with this sender and identifier, or -1. */
int subscriber_spooled_find (const subscriber_state_t *state, const char *sender,
                             const char *identifier);
void subscriber_spooled_remove (subscriber_state_t *state, size_t index);
/* Frees what the state holds and zeroes it. */
void subscriber_state_clear (subscriber_state_t *state);

/* Reads path into state (zeroed first). Returns 1 when it was read and is
 * for this filter_key, 0 when the file does not exist or is for another
 * filter (state left empty: start afresh), -1 when it cannot be read or
 * is not a state file (reason, with the line, in err). */
int subscriber_state_load (const char *path, const char *filter_key, subscriber_state_t *state,
                           char *err, size_t err_size);

/* Writes state to path atomically: a temporary file beside it, flushed
 * to disk, renamed over it. Returns 0, or -1 with the reason in err. */
int subscriber_state_save (const char *path, const char *filter_key,
                           const subscriber_state_t *state, char *err, size_t err_size);

/* The gap check (subscriber_marks.c): counts the alert messages received
 * on each of the subscriber's prefixes and compares them with the
 * broker's marks (broker/marks.h, docs/PROTOCOL.md "Marks"), so that a
 * live subscriber that missed nothing need not read the stream again. */
typedef struct {
    char *text;
    size_t length;
    uint64_t epoch;       /* of its last mark */
    uint64_t count;       /* the broker's count in its last mark */
    uint64_t seen;        /* alert messages received on it since that mark */
    stream_id_t at;       /* the newest stream ID that mark carried */
    stream_id_t prev_at;  /* ... and the mark before it */
    bool known;           /* a mark came */
    bool fresh;           /* a mark came since the last tick */
    bool clean;           /* it counted as many as were received */
} mark_prefix_t;

typedef struct {
    mark_prefix_t *prefixes;
    size_t count;
    bool lost; /* since the last tick an alert came but could not be kept */
} subscriber_marks_t;

/* Takes the "alert." prefixes among topics. Returns 0, or -1 when out of
 * memory. */
int subscriber_marks_init (subscriber_marks_t *marks, char *const *topics, int count);
void subscriber_marks_free (subscriber_marks_t *marks);
/* An alert message on topic: every prefix of it counts one. */
void subscriber_marks_on_alert (subscriber_marks_t *marks, const char *topic, size_t length);
/* A mark on topic, its text "<epoch> <count> <latest ID>". Returns 0, or
 * -1 when it does not parse (ignored). */
int subscriber_marks_on_mark (subscriber_marks_t *marks, const char *topic, size_t length,
                              const char *text, size_t text_size);
/* A tick announcing latest, with every matching alert up to received
 * already kept: true when the marks show that every matching alert up
 * to latest was received live too (nothing to read from the stream).
 * Starts the next round either way. */
bool subscriber_marks_on_tick (subscriber_marks_t *marks, stream_id_t latest, stream_id_t received);

#endif
