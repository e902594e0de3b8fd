/*
 * audit_internal.h - what the files of the broker's audit module share:
 * audit.c (recording, the file, the stream), audit_query.c (queries over
 * the stream), audit_prune.c (the stream keeps audit.stream_keep_s). Nothing outside broker/audit*.c includes it.
 */
#ifndef BROKER_AUDIT_INTERNAL_H
#define BROKER_AUDIT_INTERNAL_H

#include <stdarg.h>
#include <sys/types.h>
#include "audit.h"
#include "onenet/audit.h"
#include "onenet/onenet.h"

#define HASH_SIZE ONENET_AUDIT_HASH_SIZE

/* A cookie: AUDIT_COOKIE_BIT | operation << 56 | generation << 48 | value.
 * The generation changes at every sync, so that replies to commands sent
 * before it (failing one after the other) are recognised and ignored. */
enum { OP_APPEND = 1, OP_SYNC = 2, OP_QUERY = 3, OP_PRUNE = 4 };
#define TICK_MS 1000
#define VALUE_MASK 0xFFFFFFFFFFFFULL

/* Stream-only mode: an exchange waiting to be chained and sent (audit.c). */
typedef struct queued_t queued_t;
typedef struct batch_t batch_t;

/* A query waiting for Redis. */
typedef struct query_t query_t;
struct query_t {
    uint64_t id;
    zmq_msg_t peer;
    uint64_t correlation;
    Onenet__Audit__QueryRequest *request;
    uint32_t limit;
    query_t *next;
};

struct audit_t {
    broker_t *broker;
    bool enabled;
    char *path; /* NULL: the stream is the only copy */
    char *stream;
    int fd;          /* the file, appending; -1 without */
    FILE *reader;    /* the file, reading back for the stream */
    off_t file_size; /* bytes of whole lines written */
    batch_t *batch;  /* exchanges of this turn of the loop, written by audit_flush */
    /* The chain's head: its last entry. */
    uint64_t sequence;
    uint8_t head[HASH_SIZE];
    int64_t head_time;
    bool head_known; /* stream-only mode: learnt from a sync */
    /* The stream. */
    bool synced; /* where the stream stands is known */
    bool syncing;
    uint8_t generation;
    uint64_t streamed;
    uint64_t confirmed;
    bool check_pending; /* the next entry sent must chain to check_hash */
    uint8_t check_hash[HASH_SIZE];
    off_t catchup_offset; /* where entry streamed + 1 starts; -1 unknown */
    uint64_t connections_seen;
    int64_t retry_at; /* monotonic ms: sync again after a refusal */
    /* Stream-only mode: exchanges not yet confirmed, oldest first;
     * `unsent` is the first not yet sent. */
    queued_t *first, *last, *unsent;
    size_t queued;
    query_t *queries;
    uint64_t next_query;
    bool reopen_wanted;   /* SIGHUP found the file moved: open a new one at the path */
    /* audit_prune.c */
    bool pruning;         /* a step is waiting for Redis */
    char prune_cursor[32]; /* SCAN cursor of the pass, "0" between passes */
    int64_t prune_at;     /* monotonic ms of the next step */
    struct {
        const char *event;
        int64_t at;
        uint64_t suppressed;
    } complaints[16]; /* when each problem was last logged */
    audit_stats_t stats;
};

/* Logs a problem, each kind at most once every few seconds (the stream
 * can refuse every entry in a row). */
void audit_complain (audit_t *self, onenet_log_level_t level, const char *event, const char *format,
                     ...) __attribute__ ((format (printf, 4, 5)));

/* One stream entry [id, [field, value, ...]] as an Entry, or NULL. The
 * caller frees it. */
Onenet__Audit__Entry *audit_stream_entry (const redisReply *item);

/* audit_file.c: the local file. */
/* Reads the file's last entries at start and continues the chain from
 * them (sequence, head, head_time, file_size). Returns 0, or -1 with why
 * in err (the file is not an audit chain, or its end is broken). */
int audit_file_read_tail (audit_t *self, char *err, size_t err_size);
/* Finds where the line of entry `target` starts. Returns 0, or -1. */
int audit_file_find_line (audit_t *self, uint64_t target, off_t *offset);
/* Reads the entry whose line starts at offset (the caller frees it), with
 * the next line's offset in *next; NULL with why. */
Onenet__Audit__Entry *audit_file_read_entry_at (audit_t *self, off_t offset, off_t *next,
                                                char *why, size_t why_size);
/* Appends length bytes of whole lines (`entries` entries) with one write.
 * Returns 0, or -1 with the file cut back as it was (logged, counted). */
int audit_file_append (audit_t *self, const char *text, size_t length, size_t entries);
/* After audit_reopen found the file moved: opens a new one at the path
 * once the stream holds every entry of the old one (every tick). */
void audit_file_reopen_when_caught_up (audit_t *self);

/* audit_query.c: a query's Redis reply (answers the client), and freeing
 * a query still waiting (at shutdown). */
void audit_on_query (audit_t *self, uint64_t id, const redisReply *reply);
void audit_query_free (query_t *query);

/* audit_prune.c: one step of trimming the stream to audit.stream_keep_s
 * and its indexes to the stream (when due), and its reply. */
void audit_prune (audit_t *self);
void audit_on_prune (audit_t *self, const redisReply *reply);

#endif
