/*
 * audit.h - the audit log, broker side: every cross-department exchange
 * the broker carries (a routed request, a view, an alert published or
 * acknowledged) becomes one entry of a hash chain (proto/audit.proto).
 *
 *   audit_record   chains the entry, appends one JSON line to the local
 *                  file (audit.file) and sends it to the Redis Stream
 *                  (audit.stream) asynchronously
 *   onenet.audit.query   QueryRequest -> QueryReply, from the stream
 *
 * The file is the copy that never waits: the entries of one turn of the
 * broker's loop are chained and written to the kernel together, with one
 * write(2), by audit_flush at the end of the turn (no fsync on the
 * request path: a power cut can lose what the kernel had not written yet;
 * audit_sync, called at shutdown, fsyncs). The stream follows the
 * file: entries it missed while Redis was down are read back from the
 * file and appended, in order, when Redis returns. A restart continues the
 * chain from the file's last entry.
 *
 * With audit.file = "" the stream is the only copy: the chain continues
 * from the stream's last entry, and entries wait in memory (bounded) while
 * Redis is down.
 */
#ifndef BROKER_AUDIT_H
#define BROKER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include "broker_internal.h"
#include "onenet/proto/audit.pb-c.h"

/* Cache cookies of the audit module carry this bit. */
#define AUDIT_COOKIE_BIT (1ULL << 62)

/* Room for a subject (a resident ID is 18 bytes) and its NUL. */
#define AUDIT_SUBJECT_MAX 32
/* Text fields of an entry are cut to this many bytes. */
#define AUDIT_TEXT_MAX 512
/* Exchanges held for one write of the file before it is written anyway. */
#define AUDIT_BATCH_MAX 256

typedef struct audit_t audit_t;

/* The settings, from broker_config_t (audit.*); copied by audit_new. */
typedef struct {
    bool enabled;          /* audit.enabled: false records nothing */
    const char *file;      /* audit.file: the local chain; "" for none */
    const char *stream;    /* audit.stream: the Redis Stream */
} audit_settings_t;

/* One exchange, as the caller knows it. Strings are borrowed for the
 * call; NULL is the same as "". */
typedef struct {
    const char *kind;          /* "request", "view", "alert.publish", "alert.ack" */
    const char *requester;     /* department, from the connection */
    const char *user;          /* end user, when a gateway named one */
    const char *service;
    const char *subject;       /* resident ID concerned (see audit_subject_of) */
    const char *purpose;
    onenet_status_t status;    /* the outcome the requester got */
    uint64_t latency_us;
    const char *answered_by;   /* "department/instance", "broker", or NULL */
} audit_event_t;

/* Opens (creates, mode 0640) the file and continues its chain from its
 * last entry. A last line cut short by a crash mid-write is truncated,
 * with a warning; any other damage at the file's end (the last entry
 * unreadable, its hash wrong, or not chained to the one before) refuses
 * the start: an operator decides (run `onenet audit verify`, move the
 * file aside to begin a new chain). Returns NULL with the reason in err.
 * The caller destroys the result with audit_destroy. */
audit_t *audit_new (broker_t *broker, const audit_settings_t *settings, char *err,
                    size_t err_size);

/* Syncs the file (audit_sync) and frees everything; queries still waiting
 * for Redis are not answered. Sets *self_p to NULL. */
void audit_destroy (audit_t **self_p);

/* Records one exchange: with a file, held until audit_flush chains it
 * and writes it (at most AUDIT_BATCH_MAX wait; more flush at once); in
 * stream-only mode, chained and sent to the stream (or kept for later
 * while Redis is down). Returns 0, or -1 when out of memory. No-op (0)
 * when disabled or self is NULL. */
int audit_record (audit_t *self, const audit_event_t *event);

/* Chains the exchanges held since the last flush and appends them to the
 * file with one write(2), then sends them to the stream. When the write
 * fails (disk full...) they are logged, counted and dropped, the file and
 * the chain left as they were. The broker calls it once per turn of its
 * loop (audit_tick does). */
void audit_flush (audit_t *self);

/* Flushes what is held, writes the file out and fsyncs it. */
void audit_sync (audit_t *self);

/* On SIGHUP: if the file was moved away from audit.file (or replaced), a
 * new one is opened there as soon as the stream holds every entry of the
 * old one, and the chain goes on in it (its first entry is chained to the
 * old file's last). Logs audit.reopened; a non-empty file at the path is
 * refused and the moved file kept. */
void audit_reopen (audit_t *self);

/* Finds the subject of a request: a top-level string field named
 * "resident_id" of request_type, read from the packed body by walking the
 * wire format to that field's tag (no decoding of the message). Copies it
 * NUL-terminated into out and returns its length; returns 0 (out "")
 * when the type has no such field, the body does not carry it, the body
 * is malformed, or the value does not fit in out. request_type and body
 * may be NULL (0 then). */
size_t audit_subject_of (const ProtobufCMessageDescriptor *request_type, const void *body,
                         size_t size, char *out, size_t out_size);

/* onenet.audit.query: QueryRequest -> QueryReply, answered when Redis
 * replies; UNAVAILABLE at once while Redis is down or audit is disabled.
 * body may be NULL (no filter); self may not. */
void audit_query (audit_t *self, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                  zmq_msg_t *body);

/* A Redis reply for a command with AUDIT_COOKIE_BIT (with or without the
 * bit still set). */
void audit_on_cache (audit_t *self, uint64_t cookie, const redisReply *reply);

/* Flushes (audit_flush), notices Redis coming back, appends what the
 * stream misses. Returns ms
 * until it next needs to run (0: more to send now). */
int audit_tick (audit_t *self);

/* True when no entry waits for Redis that only memory holds (stream-only
 * mode with Redis up): for the drain at shutdown. Always true with a file,
 * which holds every entry for the next start. */
bool audit_idle (const audit_t *self);

typedef struct {
    uint64_t recorded;        /* entries chained (file, or stream only) */
    uint64_t streamed;        /* entries Redis confirmed */
    uint64_t backlog;         /* recorded, not yet confirmed in the stream (until the
                                 first sync with Redis, the whole file counts) */
    uint64_t file_errors;     /* entries that could not be written: not recorded */
    uint64_t stream_errors;   /* Redis refused an entry or a sync */
    uint64_t lost;            /* stream-only mode: dropped, memory queue full */
    uint64_t queries;
    uint64_t trimmed;         /* stream entries older than audit.stream_keep_s removed */
} audit_stats_t;
/* Counters for metrics; NULL when self is NULL. */
const audit_stats_t *audit_stats (audit_t *self);

#endif
