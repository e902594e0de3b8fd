/*
 * audit.c - the audit chain on the broker: recording, the stream and
 * catching the stream up (see audit.h and proto/audit.proto). The local
 * file's reading and writing are in audit_file.c, queries over the stream
 * in audit_query.c, reading a request's subject off its body in
 * audit_subject.c.
 *
 * Where the stream stands is three sequence numbers: `sequence` is the
 * chain's last entry (in the file), `streamed` the last one sent to Redis
 * in order, `confirmed` the last one Redis acknowledged. An entry goes to
 * Redis the moment it is recorded only when the stream has every entry
 * before it; otherwise the entries are read back from the file, from
 * `catchup_offset` (found by binary search over the file when unknown),
 * so the stream always receives the chain in order. On every
 * (re)connection the stream's last entry is read first ("sync"), to learn
 * where to go on from and to check that the stream and the file hold the
 * same chain.
 *
 * With a file, audit_record only holds the exchange; audit_flush, once
 * per turn of the broker's loop, chains what is held and appends it with
 * one write(2) (a system call per exchange was half the broker's time in
 * `onenet bench audit`). No stdio buffer: when a write fails half way,
 * what it wrote is cut off again and nothing of the batch is chained.
 * Only then are the entries sent to the stream, which follows the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "audit_internal.h"
#include "cache.h"
#include "onenet/audit.h"

#define RETRY_MS 30000          /* after Redis refused an entry or the stream disagreed */
#define MAX_IN_FLIGHT 1024      /* entries sent to Redis and not yet confirmed */
#define CATCHUP_BATCH 256       /* entries read back from the file per turn of the loop */
#define QUEUE_MAX 100000        /* stream-only mode: exchanges waiting for Redis */
#define COMPLAIN_EVERY_MS 10000

/* The text fields of an entry as the broker keeps them: valid UTF-8, cut
 * to AUDIT_TEXT_MAX bytes. */
enum { T_KIND, T_REQUESTER, T_USER, T_SERVICE, T_SUBJECT, T_PURPOSE, T_ANSWERED_BY, TEXT_COUNT };
typedef struct {
    char text[TEXT_COUNT][AUDIT_TEXT_MAX + 1];
} cleaned_t;

/* File mode: the exchanges of this turn of the loop, chained and written
 * by audit_flush; entries and hashes are filled there. */
struct batch_t {
    struct {
        cleaned_t cleaned;
        onenet_status_t status;
        uint64_t latency_us;
        int64_t time_ms;
    } held[AUDIT_BATCH_MAX];
    size_t count;
    Onenet__Audit__Entry entries[AUDIT_BATCH_MAX];
    uint8_t hashes[AUDIT_BATCH_MAX][HASH_SIZE];
    size_t ends[AUDIT_BATCH_MAX]; /* offset in the write just after each line */
};

/* Stream-only mode: an exchange waiting to be chained and sent. */
struct queued_t {
    int64_t time_ms;
    onenet_status_t status;
    uint64_t latency_us;
    char *text[TEXT_COUNT];
    bool sent;                  /* chained as sent_sequence with sent_hash */
    uint64_t sent_sequence;
    uint8_t sent_hash[HASH_SIZE];
    queued_t *next;
};

/* --- small things --- */

/* Logs a problem, each kind at most once every COMPLAIN_EVERY_MS (the
 * stream can refuse every entry in a row). */
void
audit_complain (audit_t *self, onenet_log_level_t level, const char *event, const char *format, ...)
{
    int64_t now = onenet_clock_ms ();
    size_t slots = sizeof self->complaints / sizeof self->complaints[0], i = 0;
    while (i < slots - 1 && self->complaints[i].event
           && strcmp (self->complaints[i].event, event) != 0)
        i++;
    if (self->complaints[i].event && strcmp (self->complaints[i].event, event) == 0
        && now - self->complaints[i].at < COMPLAIN_EVERY_MS) {
        self->complaints[i].suppressed++;
        return;
    }
    char fields[512];
    va_list args;
    va_start (args, format);
    vsnprintf (fields, sizeof fields, format, args);
    va_end (args);
    bool same = self->complaints[i].event && strcmp (self->complaints[i].event, event) == 0;
    onenet_log (level, event, "%s suppressed=%" PRIu64, fields,
                same ? self->complaints[i].suppressed : 0);
    self->complaints[i].event = event;   /* string literals: they outlive us */
    self->complaints[i].at = now;
    self->complaints[i].suppressed = 0;
}

/* Length of the valid UTF-8 sequence at p (at most left bytes), or 0. */
static size_t
utf8_sequence (const unsigned char *p, size_t left)
{
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    size_t length = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                                              : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!length || length > left)
        return 0;
    /* The second byte's range excludes overlong forms and surrogates. */
    unsigned char low = 0x80, high = 0xBF;
    if (c == 0xE0)
        low = 0xA0;
    else if (c == 0xED)
        high = 0x9F;
    else if (c == 0xF0)
        low = 0x90;
    else if (c == 0xF4)
        high = 0x8F;
    if (p[1] < low || p[1] > high)
        return 0;
    for (size_t i = 2; i < length; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return length;
}

/* Copies text as valid UTF-8 (a '?' for each invalid byte), cut at a
 * character boundary to fit size. */
static void
clean_text (const char *text, char *out, size_t size)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *) (text ? text : "");
    size_t left = strlen ((const char *) p);
    while (left) {
        size_t length = utf8_sequence (p, left);
        size_t copy = length ? length : 1;
        if (o + copy >= size)
            break;
        if (length)
            memcpy (out + o, p, length);
        else
            out[o] = '?';
        o += copy;
        p += copy;
        left -= copy;
    }
    out[o] = '\0';
}

static void
clean_event (const audit_event_t *event, cleaned_t *cleaned)
{
    const char *texts[TEXT_COUNT] = {
        [T_KIND] = event->kind, [T_REQUESTER] = event->requester, [T_USER] = event->user,
        [T_SERVICE] = event->service, [T_SUBJECT] = event->subject, [T_PURPOSE] = event->purpose,
        [T_ANSWERED_BY] = event->answered_by,
    };
    for (int i = 0; i < TEXT_COUNT; i++)
        clean_text (texts[i], cleaned->text[i], sizeof cleaned->text[i]);
}

/* Fills entry (borrowing texts) as the chain's next entry, hash included
 * (written to hash, which entry points to). */
static void
fill_entry (Onenet__Audit__Entry *entry, char *const texts[TEXT_COUNT], onenet_status_t status,
            uint64_t latency_us, uint64_t sequence, int64_t time_ms, uint8_t prev[HASH_SIZE],
            uint8_t hash[HASH_SIZE])
{
    onenet__audit__entry__init (entry);
    entry->sequence = sequence;
    entry->time_ms = time_ms;
    entry->kind = texts[T_KIND];
    entry->requester = texts[T_REQUESTER];
    entry->user = texts[T_USER];
    entry->service = texts[T_SERVICE];
    entry->subject = texts[T_SUBJECT];
    entry->purpose = texts[T_PURPOSE];
    entry->outcome = (char *) onenet_status_name (status);
    entry->latency_us = latency_us;
    entry->answered_by = texts[T_ANSWERED_BY];
    entry->prev_hash.data = prev;
    entry->prev_hash.len = HASH_SIZE;
    /* Cannot fail: the entry is small (texts are bounded) and packed on
     * the stack. */
    onenet_audit_hash (entry, hash);
    entry->hash.data = hash;
    entry->hash.len = HASH_SIZE;
}

static uint64_t
in_flight (const audit_t *self)
{
    return self->streamed - self->confirmed;
}

/* Stops streaming until a sync RETRY_MS from now. */
static void
pause_stream (audit_t *self)
{
    self->synced = false;
    self->generation++;
    self->retry_at = self->broker->now + RETRY_MS;
}

/* --- the stream --- */

/* Adds a stream id to the index S:<what>:<value>, scored by sequence. */
static void
index_entry (audit_t *self, const char *what, const char *value, const char *id,
             const char *sequence)
{
    if (!*value)
        return;
    char key[AUDIT_TEXT_MAX + 128];
    int length = snprintf (key, sizeof key, "%s:%s:%s", self->stream, what, value);
    if (length < 0 || (size_t) length >= sizeof key)
        return;
    const char *argv[] = { "ZADD", key, sequence, id };
    size_t lengths[] = { 4, (size_t) length, strlen (sequence), strlen (id) };
    cache_command (self->broker->cache, 0, 4, argv, lengths);
}

/* Sends an entry to the stream (XADD with the id "<time_ms>-<sequence>"),
 * then indexes it by person and department. Plain commands rather than a
 * script: Redis runs them in order all the same, and Lua would cost it
 * several times more per entry. Returns what cache_command returns for
 * the XADD. */
static int
send_entry (audit_t *self, const Onenet__Audit__Entry *entry)
{
    size_t size = protobuf_c_message_get_packed_size (&entry->base);
    uint8_t stack[4096];
    uint8_t *packed = size <= sizeof stack ? stack : malloc (size);
    if (!packed)
        return -1;
    protobuf_c_message_pack (&entry->base, packed);
    char id[48], sequence[24];
    snprintf (id, sizeof id, "%" PRId64 "-%" PRIu64, entry->time_ms, entry->sequence);
    snprintf (sequence, sizeof sequence, "%" PRIu64, entry->sequence);
    const char *argv[] = { "XADD", self->stream, id, "entry", (const char *) packed };
    size_t lengths[] = { 4, strlen (self->stream), strlen (id), 5, size };
    uint64_t cookie = AUDIT_COOKIE_BIT | (uint64_t) OP_APPEND << 56
                      | (uint64_t) self->generation << 48 | (entry->sequence & VALUE_MASK);
    int rc = cache_command (self->broker->cache, cookie, 5, argv, lengths);
    if (packed != stack)
        free (packed);
    if (rc == 0) {
        index_entry (self, "person", entry->subject, id, sequence);
        index_entry (self, "department", entry->requester, id, sequence);
    }
    return rc;
}

/* Reads the stream's last entry, to learn where it stands. */
static void
start_sync (audit_t *self)
{
    self->generation++;   /* replies to what was sent before no longer count */
    self->synced = false;
    self->syncing = true;
    const char *argv[] = { "XREVRANGE", self->stream, "+", "-", "COUNT", "1" };
    size_t lengths[] = { 9, strlen (self->stream), 1, 1, 5, 1 };
    uint64_t cookie = AUDIT_COOKIE_BIT | (uint64_t) OP_SYNC << 56
                      | (uint64_t) self->generation << 48;
    if (cache_command (self->broker->cache, cookie, 6, argv, lengths) < 0)
        self->syncing = false;
}

/* One stream entry [id, [field, value, ...]] as an Entry, or NULL. The
 * caller frees it. */
Onenet__Audit__Entry *
audit_stream_entry (const redisReply *item)
{
    if (item->type != REDIS_REPLY_ARRAY || item->elements != 2
        || item->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    const redisReply *fields = item->element[1];
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING
            && strcmp (fields->element[i]->str, "entry") == 0
            && fields->element[i + 1]->type == REDIS_REPLY_STRING)
            return onenet__audit__entry__unpack (NULL, fields->element[i + 1]->len,
                                                 (const uint8_t *) fields->element[i + 1]->str);
    return NULL;
}

/* Stops the catch-up after a problem with the file or the chain. */
static void
catchup_failed (audit_t *self, const char *why)
{
    self->catchup_offset = -1;
    self->stats.stream_errors++;
    char quoted[240];
    audit_complain (self, ONENET_LOG_ERROR, "audit.catchup_failed",
                    "file=%s stream=%s sequence=%" PRIu64 " reason=%s retry_s=%d", self->path,
                    self->stream, self->streamed + 1, onenet_log_quote (why, quoted, sizeof quoted),
                    RETRY_MS / 1000);
    pause_stream (self);
}

/* Sends what the stream misses, read back from the file, in order. */
static void
pump_file (audit_t *self)
{
    for (int sent = 0; sent < CATCHUP_BATCH && self->streamed < self->sequence
                       && in_flight (self) < MAX_IN_FLIGHT;
         sent++) {
        char why[200];
        off_t next = 0;
        if (self->catchup_offset < 0
            && audit_file_find_line (self, self->streamed + 1, &self->catchup_offset) < 0) {
            catchup_failed (self, "cannot read the file");
            return;
        }
        Onenet__Audit__Entry *entry
            = audit_file_read_entry_at (self, self->catchup_offset, &next, why, sizeof why);
        if (entry && entry->sequence != self->streamed + 1)
            snprintf (why, sizeof why, "found sequence %" PRIu64 " where %" PRIu64 " should be",
                      entry->sequence, self->streamed + 1);
        else if (entry && self->check_pending
                 && (entry->prev_hash.len != HASH_SIZE
                     || memcmp (entry->prev_hash.data, self->check_hash, HASH_SIZE) != 0))
            snprintf (why, sizeof why, "the stream's last entry is not the file's entry %" PRIu64,
                      self->streamed);
        else if (entry) {
            int rc = send_entry (self, entry);
            onenet__audit__entry__free_unpacked (entry, NULL);
            if (rc < 0) {
                self->synced = false;   /* Redis went away: synced again when it is back */
                return;
            }
            self->check_pending = false;
            self->streamed++;
            self->catchup_offset = next;
            continue;
        }
        if (entry)
            onenet__audit__entry__free_unpacked (entry, NULL);
        catchup_failed (self, why);
        return;
    }
}

static void
queued_free (queued_t *item)
{
    for (int i = 0; i < TEXT_COUNT; i++)
        free (item->text[i]);
    free (item);
}

/* Stream-only mode: chains and sends the exchanges waiting in memory. */
static void
pump_queue (audit_t *self)
{
    while (self->unsent && self->head_known && in_flight (self) < MAX_IN_FLIGHT) {
        queued_t *item = self->unsent;
        Onenet__Audit__Entry entry;
        uint8_t hash[HASH_SIZE];
        int64_t time_ms = item->time_ms > self->head_time ? item->time_ms : self->head_time;
        fill_entry (&entry, item->text, item->status, item->latency_us, self->sequence + 1, time_ms,
                    self->head, hash);
        if (send_entry (self, &entry) < 0) {
            self->synced = false;
            return;
        }
        self->sequence++;
        memcpy (self->head, hash, HASH_SIZE);
        self->head_time = time_ms;
        self->streamed = self->sequence;
        item->sent = true;
        item->sent_sequence = self->sequence;
        memcpy (item->sent_hash, hash, HASH_SIZE);
        self->unsent = item->next;
    }
}

static void
pump (audit_t *self)
{
    if (!self->synced || !cache_ready (self->broker->cache))
        return;
    if (self->path)
        pump_file (self);
    else
        pump_queue (self);
}

static void
on_sync (audit_t *self, const redisReply *reply)
{
    self->syncing = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        if (reply) {
            self->stats.stream_errors++;
            audit_complain (self, ONENET_LOG_ERROR, "audit.stream_unreadable",
                            "stream=%s retry_s=%d", self->stream, RETRY_MS / 1000);
        }
        self->retry_at = self->broker->now + RETRY_MS;
        return;
    }
    uint64_t top = 0;
    uint8_t top_hash[HASH_SIZE] = { 0 };
    int64_t top_time = 0;
    if (reply->elements > 0) {
        Onenet__Audit__Entry *entry = audit_stream_entry (reply->element[0]);
        if (!entry || entry->hash.len != HASH_SIZE) {
            if (entry)
                onenet__audit__entry__free_unpacked (entry, NULL);
            self->stats.stream_errors++;
            audit_complain (self, ONENET_LOG_ERROR, "audit.stream_foreign",
                            "stream=%s reason=\"its last entry is not an audit entry\" retry_s=%d",
                            self->stream, RETRY_MS / 1000);
            self->retry_at = self->broker->now + RETRY_MS;
            return;
        }
        top = entry->sequence;
        top_time = entry->time_ms;
        memcpy (top_hash, entry->hash.data, HASH_SIZE);
        onenet__audit__entry__free_unpacked (entry, NULL);
    }
    if (self->path) {
        bool ahead = top > self->sequence;
        bool differs = !ahead && top > 0 && top == self->sequence
                       && memcmp (top_hash, self->head, HASH_SIZE) != 0;
        if (ahead || differs) {
            self->stats.stream_errors++;
            audit_complain (
                self, ONENET_LOG_ERROR, "audit.stream_mismatch",
                "stream=%s file=%s stream_last=%" PRIu64 " file_last=%" PRIu64
                " reason=\"the stream holds another chain than the file (another broker "
                "writing to audit.stream, or the file replaced)\" effect=\"entries go to "
                "the file only\" action=\"give each chain its own audit.stream, or RENAME "
                "the old stream aside\" retry_s=%d",
                self->stream, self->path, top, self->sequence, RETRY_MS / 1000);
            self->retry_at = self->broker->now + RETRY_MS;
            return;
        }
        self->check_pending = top > 0 && top < self->sequence;
        memcpy (self->check_hash, top_hash, HASH_SIZE);
        self->catchup_offset = -1;
    }
    else {
        /* The stream is the chain: go on from its end. What was sent and
         * not confirmed may have reached it all the same (the connection
         * failed after Redis ran the command): if the stream ends with one
         * of those, it and those before it are done; the rest is sent
         * again, chained anew. */
        queued_t *reached = NULL;
        for (queued_t *item = self->first; item && item->sent && !reached; item = item->next)
            if (item->sent_sequence == top && memcmp (item->sent_hash, top_hash, HASH_SIZE) == 0)
                reached = item;
        bool more = reached != NULL;
        while (more && self->first) {
            queued_t *done = self->first;
            more = done != reached;
            self->first = done->next;
            self->queued--;
            self->stats.streamed++;
            queued_free (done);
        }
        if (!self->first)
            self->last = NULL;
        for (queued_t *item = self->first; item; item = item->next)
            item->sent = false;
        self->sequence = top;
        memcpy (self->head, top_hash, HASH_SIZE);
        self->head_time = top_time;
        self->head_known = true;
        self->unsent = self->first;
    }
    self->streamed = self->confirmed = top;
    self->synced = true;
    onenet_info ("audit.stream_synced", "stream=%s last=%" PRIu64 " to_send=%" PRIu64,
                 self->stream, top,
                 self->path ? self->sequence - top : (uint64_t) self->queued);
    pump (self);
}

static void
on_append (audit_t *self, uint64_t sequence, const redisReply *reply)
{
    if (reply && reply->type == REDIS_REPLY_STRING) {
        if (sequence > self->confirmed)
            self->confirmed = sequence;
        self->stats.streamed++;
        if (!self->path && self->first && self->first != self->unsent) {
            queued_t *done = self->first;   /* confirmations come in order */
            self->first = done->next;
            if (!self->first)
                self->last = NULL;
            self->queued--;
            queued_free (done);
        }
        return;
    }
    if (!self->path) {
        self->head_known = false;   /* learnt again from the stream */
        self->unsent = self->first;
    }
    if (!reply) {
        /* The connection failed: synced again when it is back. */
        self->synced = false;
        self->generation++;
        return;
    }
    self->stats.stream_errors++;
    char quoted[240];
    audit_complain (
        self, ONENET_LOG_ERROR, "audit.stream_refused",
        "stream=%s sequence=%" PRIu64 " reason=%s retry_s=%d", self->stream, sequence,
        onenet_log_quote (reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply",
                          quoted, sizeof quoted),
        RETRY_MS / 1000);
    pause_stream (self);
}

/* --- lifecycle --- */

audit_t *
audit_new (broker_t *broker, const audit_settings_t *settings, char *err, size_t err_size)
{
    audit_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->broker = broker;
    self->fd = -1;
    self->catchup_offset = -1;
    self->next_query = 1;
    snprintf (self->prune_cursor, sizeof self->prune_cursor, "0");
    self->enabled = settings->enabled;
    self->stream = strdup (settings->stream ? settings->stream : "");
    if (!self->stream) {
        snprintf (err, err_size, "out of memory");
        audit_destroy (&self);
        return NULL;
    }
    if (!self->enabled) {
        onenet_warn ("audit.disabled",
                     "reason=\"audit.enabled = false: exchanges are not recorded\"");
        return self;
    }
    if (settings->file && *settings->file) {
        self->path = strdup (settings->file);
        self->fd = self->path ? open (self->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640)
                              : -1;
        if (self->fd < 0) {
            snprintf (err, err_size, "audit file %s: %s", settings->file,
                      self->path ? strerror (errno) : "out of memory");
            audit_destroy (&self);
            return NULL;
        }
        /* Two writers would fork the chain: one broker per file. */
        if (flock (self->fd, LOCK_EX | LOCK_NB) < 0) {
            snprintf (err, err_size, "audit file %s is in use by another process (another broker "
                      "with the same audit.file?)", self->path);
            audit_destroy (&self);
            return NULL;
        }
        if (audit_file_read_tail (self, err, err_size) < 0) {
            audit_destroy (&self);
            return NULL;
        }
        self->head_known = true;
    }
    else if (!cache_enabled (broker->cache))
        onenet_warn ("audit.nowhere",
                     "reason=\"audit.file is empty and Redis is disabled: exchanges are not "
                     "kept anywhere\"");
    onenet_info ("audit.start", "file=%s stream=%s last=%" PRIu64, self->path ? self->path : "-",
                 self->stream, self->sequence);
    return self;
}

void
audit_sync (audit_t *self)
{
    audit_flush (self);
    if (self && self->fd >= 0 && fsync (self->fd) < 0) {
        char quoted[160];
        onenet_error ("audit.sync_failed", "file=%s reason=%s", self->path,
                      onenet_log_quote (strerror (errno), quoted, sizeof quoted));
    }
}

void
audit_destroy (audit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    audit_t *self = *self_p;
    audit_sync (self);
    if (self->fd >= 0)
        close (self->fd);
    if (self->reader)
        fclose (self->reader);
    if (self->queued)
        onenet_warn ("audit.unsent",
                     "stream=%s entries=%zu reason=\"Redis did not take them before the broker "
                     "stopped: lost (audit.file is empty)\"",
                     self->stream, self->queued);
    while (self->first) {
        queued_t *next = self->first->next;
        queued_free (self->first);
        self->first = next;
    }
    while (self->queries) {
        query_t *next = self->queries->next;
        audit_query_free (self->queries);
        self->queries = next;
    }
    free (self->batch);
    free (self->path);
    free (self->stream);
    free (self);
    *self_p = NULL;
}

bool
audit_idle (const audit_t *self)
{
    if (self && self->batch && self->batch->count)
        return false;   /* held for the file: written at the end of this turn */
    return !self || self->path || self->queued == 0 || !cache_ready (self->broker->cache);
}

const audit_stats_t *
audit_stats (audit_t *self)
{
    if (!self)
        return NULL;
    self->stats.backlog = self->path ? self->sequence - self->confirmed : self->queued;
    return &self->stats;
}

/* --- recording --- */

/* Stream-only mode: keeps the exchange until Redis has it. */
static int
enqueue (audit_t *self, const cleaned_t *cleaned, int64_t time_ms, const audit_event_t *event)
{
    if (self->queued >= QUEUE_MAX) {
        self->stats.lost++;
        audit_complain (self, ONENET_LOG_ERROR, "audit.lost",
                        "stream=%s waiting=%zu reason=\"Redis unavailable and no audit.file: "
                        "exchanges are dropped\"",
                        self->stream, self->queued);
        return -1;
    }
    queued_t *item = calloc (1, sizeof *item);
    bool ok = item != NULL;
    for (int i = 0; ok && i < TEXT_COUNT; i++)
        ok = (item->text[i] = strdup (cleaned->text[i])) != NULL;
    if (!ok) {
        if (item)
            queued_free (item);
        self->stats.lost++;
        return -1;
    }
    item->time_ms = time_ms;
    item->status = event->status;
    item->latency_us = event->latency_us;
    if (self->last)
        self->last->next = item;
    else
        self->first = item;
    self->last = item;
    if (!self->unsent)
        self->unsent = item;
    self->queued++;
    self->stats.recorded++;
    pump (self);
    return 0;
}

int
audit_record (audit_t *self, const audit_event_t *event)
{
    if (!self || !self->enabled || !event)
        return 0;
    int64_t now = onenet_wall_ms ();
    if (!self->path) {
        cleaned_t cleaned;
        clean_event (event, &cleaned);
        return enqueue (self, &cleaned, now, event);
    }
    if (!self->batch && !(self->batch = calloc (1, sizeof *self->batch))) {
        self->stats.file_errors++;
        return -1;
    }
    if (self->batch->count == AUDIT_BATCH_MAX)
        audit_flush (self);
    batch_t *batch = self->batch;
    /* Times never go back along the chain (stream ids must increase). */
    int64_t floor = batch->count ? batch->held[batch->count - 1].time_ms : self->head_time;
    clean_event (event, &batch->held[batch->count].cleaned);
    batch->held[batch->count].status = event->status;
    batch->held[batch->count].latency_us = event->latency_us;
    batch->held[batch->count].time_ms = now > floor ? now : floor;
    batch->count++;
    return 0;
}

void
audit_flush (audit_t *self)
{
    batch_t *batch = self ? self->batch : NULL;
    if (!batch || !batch->count)
        return;
    size_t n = batch->count;
    batch->count = 0;
    /* Chain them after the head, each line into one buffer. */
    uint8_t first_prev[HASH_SIZE];
    memcpy (first_prev, self->head, HASH_SIZE);
    char *text = NULL;
    size_t length = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        char *texts[TEXT_COUNT];   /* the entry keeps the pointers, not the array */
        for (int t = 0; t < TEXT_COUNT; t++)
            texts[t] = batch->held[i].cleaned.text[t];
        fill_entry (&batch->entries[i], texts, batch->held[i].status,
                    batch->held[i].latency_us, self->sequence + 1 + i, batch->held[i].time_ms,
                    i ? batch->hashes[i - 1] : first_prev, batch->hashes[i]);
        size_t line_length = 0;
        char *line = onenet_audit_line (&batch->entries[i], &line_length);
        char *grown = line ? realloc (text, length + line_length) : NULL;
        ok = grown != NULL;
        if (ok) {
            text = grown;
            memcpy (text + length, line, line_length);
            length += line_length;
            batch->ends[i] = length;
        }
        free (line);
    }
    if (!ok) {
        self->stats.file_errors += n;
        audit_complain (self, ONENET_LOG_ERROR, "audit.write_failed",
                        "file=%s reason=\"out of memory\" entries=%zu", self->path, n);
    }
    off_t base = self->file_size;
    if (!ok || audit_file_append (self, text, length, n) < 0) {
        free (text);
        return;
    }
    free (text);
    self->sequence += n;
    memcpy (self->head, batch->hashes[n - 1], HASH_SIZE);
    self->head_time = batch->held[n - 1].time_ms;
    self->stats.recorded += n;
    /* Straight to the stream when it has everything before them;
     * otherwise the catch-up reads them back from the file in turn. */
    for (size_t i = 0; i < n; i++) {
        uint64_t sequence = batch->entries[i].sequence;
        if (!self->synced || self->check_pending || self->streamed + 1 != sequence
            || in_flight (self) >= MAX_IN_FLIGHT || !cache_ready (self->broker->cache))
            break;
        if (send_entry (self, &batch->entries[i]) < 0) {
            self->synced = false;
            break;
        }
        self->streamed = sequence;
        self->catchup_offset = base + (off_t) batch->ends[i];
    }
}

/* --- Redis and time --- */

void
audit_on_cache (audit_t *self, uint64_t cookie, const redisReply *reply)
{
    if (!self)
        return;
    int op = (int) ((cookie >> 56) & 0x3F);
    uint8_t generation = (uint8_t) (cookie >> 48);
    uint64_t value = cookie & VALUE_MASK;
    if (op == OP_QUERY) {
        audit_on_query (self, value, reply);
        return;
    }
    if (op == OP_PRUNE) {
        audit_on_prune (self, reply);
        return;
    }
    if (generation != self->generation)
        return;   /* sent before the last sync: that sync decided */
    if (op == OP_SYNC)
        on_sync (self, reply);
    else if (op == OP_APPEND)
        on_append (self, value, reply);
}

int
audit_tick (audit_t *self)
{
    if (!self || !self->enabled)
        return TICK_MS;
    audit_flush (self);
    broker_t *broker = self->broker;
    if (cache_ready (broker->cache)) {
        uint64_t connections = cache_connections (broker->cache);
        if (connections != self->connections_seen) {
            self->connections_seen = connections;
            start_sync (self);
        }
        else if (!self->synced && !self->syncing && broker->now >= self->retry_at)
            start_sync (self);
    }
    pump (self);
    audit_file_reopen_when_caught_up (self);
    audit_prune (self);
    bool more = self->synced && cache_ready (broker->cache) && in_flight (self) < MAX_IN_FLIGHT
                && (self->path ? self->streamed < self->sequence : self->unsent != NULL);
    return more ? 0 : TICK_MS;
}
