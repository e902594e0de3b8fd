/*
 * alerts_internal.h - what the files of the alerts module share:
 * alerts.c (lifecycle, the Redis scripts and the dispatch of their
 * replies, the ticks), alerts_publish.c (publish, persist in one script
 * call per step, the spool), alerts_fan_out.c (what goes out on the XPUB),
 * alerts_query.c (what coordinators ask of the stream: catch-up,
 * acknowledgements, open alerts, state, escalation) and alerts_prune.c
 * (the keys beside the stream trimmed with it).
 * Nothing outside broker/alerts*.c includes it.
 */
#ifndef BROKER_ALERTS_INTERNAL_H
#define BROKER_ALERTS_INTERNAL_H

#include <hiredis/hiredis.h>
#include "alerts.h"
#include "hashmap.h"
#include "marks.h"
#include "onenet/proto/alert.pb-c.h"

#define TICK_MS 1000
#define ESCALATE_EVERY_TICKS 1 /* look for overdue alerts every tick */
#define SCAN_MAX 1000          /* stream entries read per catch-up request */
#define BATCH_DEFAULT 100
#define MAX_TOPICS 64
/* Alerts appended by one call of the publish script: those submitted in
 * one step of the broker's loop go together, one round trip and one
 * script run for all of them. */
#define STORE_MAX 16
#define GEOCODE_SCHEME "GB/T 2260"

typedef enum {
    PENDING_PUBLISH,
    PENDING_SINCE,
    PENDING_LATEST,
    PENDING_FLUSH,
    PENDING_ACK,
    PENDING_UNACKED,
    PENDING_STATE,
    PENDING_ESCALATE,
    PENDING_PRUNE,
    PENDING_SCRIPT_LOAD,
} pending_kind_t;

/* The Lua scripts (alerts.c), by what they do. */
typedef enum {
    SCRIPT_PUBLISH,
    SCRIPT_ACK,
    SCRIPT_UNACKED,
    SCRIPT_ESCALATE,
    SCRIPT_STATE,
    SCRIPT_PRUNE,
    SCRIPT_COUNT
} script_id_t;

/* One alert of a publish-script call: its envelope as packed once for
 * Redis, the spool and the subscribers, what the script and the topics
 * need of it, and whom to answer. */
typedef struct {
    zmq_msg_t peer;       /* empty: nobody to answer (a rule's alert, a spooled one) */
    uint64_t correlation;
    uint32_t batch_max;   /* the publisher's replies per BATCH, 0: alone */
    uint8_t *packed;      /* malloc'd AlertEnvelope without its stream id */
    size_t packed_size;
    char *text;           /* malloc'd: identifier, msgType, references, topics, each ending in \0 */
    const char *identifier, *msg_type, *references, *topics;
    size_t topic_count;
    int64_t received_at_ms;
    bool escalates;
} publish_t;

typedef struct {
    uint64_t id;
    pending_kind_t kind;
    zmq_msg_t peer;
    uint64_t correlation;
    publish_t *publishes;                   /* PUBLISH, FLUSH: up to STORE_MAX */
    size_t publish_count;
    Onenet__Alert__SinceRequest *since;     /* SINCE, UNACKED: malloc'd */
    Onenet__Alert__Ack *ack;                /* ACK: as it will be recorded */
    script_id_t script;                     /* SCRIPT_LOAD: which one */
} pending_t;

/* A script is sent whole once per Redis connection (SCRIPT LOAD) and then
 * called by its SHA1 (EVALSHA): Redis need not hash ~1 KB of Lua on every
 * publish, nor read it off the socket. */
typedef struct {
    const char *text;
    char sha[41];       /* "" until the first SCRIPT LOAD answers */
    uint64_t loaded_on; /* cache_connections when SCRIPT LOAD was sent */
} script_t;

struct alerts_t {
    broker_t *broker;
    void *xpub;
    marks_t *marks;  /* per-subscription counts, sent before each tick */
    hashmap_t *pending;
    pending_t *gathering; /* PUBLISH: alerts of this step, not yet sent to Redis */
    uint64_t next_id;
    char latest[48]; /* newest stream id known, "" if none yet */
    int64_t tick_at;
    uint64_t connections_seen; /* cache_connections at the last check */
    size_t spool_bytes;
    unsigned flushing; /* spooled XADDs not yet confirmed */
    int64_t retry_at;  /* Redis answered an error (still loading its AOF...): try again then */
    uint64_t ticks;
    script_t scripts[SCRIPT_COUNT];
    char prune_cursor[32]; /* HSCAN cursor of the index pass, "0" between passes */
    bool pruning;          /* a prune step is waiting for Redis */
    alerts_stats_t stats;
};

/* A request waiting for Redis, under a fresh id (its cookie). */
pending_t *alerts_pending_new (alerts_t *self, pending_kind_t kind, const zmq_msg_t *peer,
                               uint64_t correlation);
void alerts_pending_done (alerts_t *self, pending_t *pending);

/* Runs a script on the alert stream (EVALSHA once its SHA1 is known). */
int alerts_eval (alerts_t *self, uint64_t cookie, script_id_t id, int argc, const char **args,
                 const size_t *lengths);

/* Answers peer's request `correlation` with OK and a message. */
void alerts_reply (broker_t *broker, const zmq_msg_t *peer, uint64_t correlation,
                   const ProtobufCMessage *reply);

/* The first severity an info gives ("Unknown" if none). */
const char *alerts_severity_of (const Onenet__Alert__Alert *alert);

/* alerts_fan_out.c: what goes out on the XPUB. */

/* Writes an alert's topics into out, each ended by a NUL: one per geocode
 * of the GB/T 2260 scheme, "<prefix>.<severity>.<code>", or one with "-"
 * for an alert without. Returns how many, or 0 when out is too small
 * (size_needed says how large it must be; out may be NULL to ask). */
size_t alerts_topics_write (const Onenet__Alert__Alert *alert, const char *prefix, char *out,
                            size_t out_size, size_t *size_needed);
/* Sends an envelope on XPUB, one topic per geocode, under a first topic
 * word other than "alert" ("escalation"). */
void alerts_fan_out (alerts_t *self, const Onenet__Alert__AlertEnvelope *envelope,
                     const char *prefix);
/* Sends a published alert alone, with its stream id ("" and 0: spooled). */
void alerts_send_alert (alerts_t *self, const publish_t *publish, const char *stream_id,
                        size_t stream_id_size);
/* Sends the stored alerts of one script call in order, each run with the
 * same topics as one batch; ids[i] is publishes[i]'s stream id. */
void alerts_send_runs (alerts_t *self, const publish_t *const *publishes,
                       const redisReply *const *ids, size_t count);
/* The marks, then the tick with the newest stream id. */
void alerts_send_tick (alerts_t *self);

/* alerts_publish.c: the Redis replies of the publish script, the spool
 * written back, and a publish_t's memory. */
void alerts_on_published (alerts_t *self, pending_t *pending, const redisReply *reply);
void alerts_spool_flush (alerts_t *self);
void alerts_publish_clear (publish_t *publish);

/* alerts_query.c: the Redis replies of its requests, and the escalation
 * check the tick runs. */
void alerts_on_since (alerts_t *self, pending_t *pending, const redisReply *reply);
void alerts_on_ack (alerts_t *self, pending_t *pending, const redisReply *reply);
void alerts_on_state (alerts_t *self, pending_t *pending, const redisReply *reply);
void alerts_on_escalate (alerts_t *self, const redisReply *reply);
void alerts_escalate (alerts_t *self);

/* alerts_prune.c: one step of removing what the stream no longer holds
 * from the keys beside it (every tick), and its reply. */
extern const char alerts_prune_script[];
void alerts_prune (alerts_t *self);
void alerts_on_prune (alerts_t *self, const redisReply *reply);

#endif
