/*
 * audit_file.c - the audit chain's local file (see audit.c): reading its
 * tail at start to continue the chain, finding an entry's line for the
 * stream's catch-up, reading entries back, appending a batch of lines
 * with one write(2), cut back to whole lines when it fails, and going on
 * in a new file when the old one was moved away (SIGHUP).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "audit_internal.h"
#include "cache.h"
#include "onenet/audit.h"

#define TAIL_MAX (256 * 1024)   /* bytes read from the file's end at start */

/* Reads one whole line at offset from the reader into an entry. Returns
 * the entry (the caller frees it) and the next line's offset in *next, or
 * NULL with the reason in why. */
Onenet__Audit__Entry *
audit_file_read_entry_at (audit_t *self, off_t offset, off_t *next, char *why, size_t why_size)
{
    if (!self->reader)
        self->reader = fopen (self->path, "rb");
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length = -1;
    if (self->reader && fseeko (self->reader, offset, SEEK_SET) == 0)
        length = getline (&line, &capacity, self->reader);
    Onenet__Audit__Entry *entry = NULL;
    if (length <= 0 || line[length - 1] != '\n')
        snprintf (why, why_size, "no whole line at offset %lld", (long long) offset);
    else if ((entry = onenet_audit_parse_line (line, (size_t) length, why, why_size)))
        *next = offset + length;
    free (line);
    return entry;
}

/* Offset of the first line starting at or after x. */
static off_t
line_start_from (audit_t *self, off_t x)
{
    if (x == 0)
        return 0;
    if (fseeko (self->reader, x - 1, SEEK_SET) < 0)
        return self->file_size;
    int c;
    off_t at = x - 1;
    while ((c = getc (self->reader)) != EOF) {
        at++;
        if (c == '\n')
            return at;
    }
    return self->file_size;
}

/* Finds where the line holding `target` starts, by binary search over
 * the file (sequences increase line by line). Returns 0 with the offset
 * in *offset, or -1 when the file cannot be read there. */
int
audit_file_find_line (audit_t *self, uint64_t target, off_t *offset)
{
    if (!self->reader)
        self->reader = fopen (self->path, "rb");
    if (!self->reader)
        return -1;
    /* The smallest x whose next line start is the end or holds a
     * sequence >= target. */
    off_t low = 0, high = self->file_size;
    while (low < high) {
        off_t middle = low + (high - low) / 2;
        off_t start = line_start_from (self, middle);
        if (start >= self->file_size) {
            high = middle;
            continue;
        }
        char why[200];
        off_t next;
        Onenet__Audit__Entry *entry
            = audit_file_read_entry_at (self, start, &next, why, sizeof why);
        if (!entry)
            return -1;
        bool at_or_after = entry->sequence >= target;
        onenet__audit__entry__free_unpacked (entry, NULL);
        if (at_or_after)
            high = middle;
        else
            low = start + 1;
    }
    *offset = line_start_from (self, low);
    return 0;
}

/* Appends the batch's lines (text, length bytes) with one write. Returns
 * 0, or -1 with the file as it was. */
int
audit_file_append (audit_t *self, const char *text, size_t length, size_t entries)
{
    size_t written = 0;
    int error = 0;
    while (written < length) {
        ssize_t n = write (self->fd, text + written, length - written);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            error = n < 0 ? errno : EIO;
            break;
        }
        written += (size_t) n;
    }
    if (!error) {
        self->file_size += (off_t) length;
        return 0;
    }
    /* Cut off what was written of the lines, so the file stays whole lines. */
    if (written && ftruncate (self->fd, self->file_size) < 0)
        error = errno;
    self->stats.file_errors += entries;
    char quoted[160];
    audit_complain (self, ONENET_LOG_ERROR, "audit.write_failed",
                    "file=%s reason=%s entries=%zu effect=\"exchanges are not recorded until the "
                    "file can be written\"",
                    self->path, onenet_log_quote (strerror (error), quoted, sizeof quoted),
                    entries);
    return -1;
}

/* The last whole line in buffer[0, end) (end just after its newline):
 * sets *start. Returns false when no newline precedes it in the buffer. */
static bool
last_line (const char *buffer, size_t end, size_t *start)
{
    size_t i = end - 1;   /* the line's own newline */
    while (i > 0 && buffer[i - 1] != '\n')
        i--;
    *start = i;
    return i > 0;
}

/* Is entry's hash the hash of its content? Puts that hash in hash. */
static bool
hash_holds (const Onenet__Audit__Entry *entry, uint8_t hash[HASH_SIZE])
{
    return onenet_audit_hash (entry, hash) == 0 && entry->hash.len == HASH_SIZE
           && memcmp (entry->hash.data, hash, HASH_SIZE) == 0;
}

/* Checks the last entry (line buffer[start, end)) and, when the buffer
 * holds it, the one before; takes the chain's head from the last. Returns
 * 0, or -1 with why. */
static int
continue_chain (audit_t *self, const char *buffer, size_t start, size_t end, bool has_previous,
                size_t previous_start, bool first_of_file, char *why, size_t why_size)
{
    Onenet__Audit__Entry *last = onenet_audit_parse_line (buffer + start, end - start, why,
                                                          why_size);
    Onenet__Audit__Entry *previous = NULL;
    uint8_t hash[HASH_SIZE], previous_hash[HASH_SIZE] = { 0 };
    uint64_t expected = 1;
    int rc = -1;
    if (!last)
        goto done;
    if (!hash_holds (last, hash)) {
        snprintf (why, why_size, "hash mismatch: edited");
        goto done;
    }
    if (has_previous) {
        char reason[200];
        previous = onenet_audit_parse_line (buffer + previous_start, start - previous_start, reason,
                                            sizeof reason);
        if (!previous) {
            snprintf (why, why_size, "the line before it: %s", reason);
            goto done;
        }
        if (!hash_holds (previous, previous_hash)) {
            snprintf (why, why_size, "the entry before it: hash mismatch: edited");
            goto done;
        }
        expected = previous->sequence + 1;
    }
    /* The only line of a file that goes on from a moved one (audit_reopen):
     * chained to that file's last entry, which is not here to check. */
    if (first_of_file && !has_previous && last->sequence > 1) {
        onenet_info ("audit.file_continues", "file=%s first=%" PRIu64, self->path,
                     last->sequence);
        first_of_file = false;
    }
    if ((has_previous || first_of_file) && last->sequence != expected) {
        snprintf (why, why_size, "sequence %" PRIu64 " where %" PRIu64 " should be", last->sequence,
                  expected);
        goto done;
    }
    if ((has_previous || first_of_file)
        && (last->prev_hash.len != HASH_SIZE
            || memcmp (last->prev_hash.data, previous_hash, HASH_SIZE) != 0)) {
        snprintf (why, why_size, "not chained to the entry before it");
        goto done;
    }
    self->sequence = last->sequence;
    memcpy (self->head, hash, HASH_SIZE);
    self->head_time = last->time_ms;
    rc = 0;
done:
    if (last)
        onenet__audit__entry__free_unpacked (last, NULL);
    if (previous)
        onenet__audit__entry__free_unpacked (previous, NULL);
    return rc;
}

/* Continues the chain from the file's end; see audit_new. */
int
audit_file_read_tail (audit_t *self, char *err, size_t err_size)
{
    struct stat info;
    if (fstat (self->fd, &info) < 0) {
        snprintf (err, err_size, "audit file %s: %s", self->path, strerror (errno));
        return -1;
    }
    off_t size = info.st_size;
    size_t chunk = size < TAIL_MAX ? (size_t) size : TAIL_MAX;
    off_t base = size - (off_t) chunk;
    char *buffer = malloc (chunk + 1);
    if (!buffer || pread (self->fd, buffer, chunk, base) != (ssize_t) chunk) {
        snprintf (err, err_size, "audit file %s: cannot read its end: %s", self->path,
                  buffer ? strerror (errno) : "out of memory");
        free (buffer);
        return -1;
    }
    int rc = -1;
    size_t end = chunk;
    if (end && buffer[end - 1] != '\n') {
        /* The broker stopped in the middle of a write: drop the piece. */
        while (end > 0 && buffer[end - 1] != '\n')
            end--;
        if (end == 0 && base > 0) {
            snprintf (err, err_size, "audit file %s: its last %zu bytes hold no line end: "
                      "not an audit file?", self->path, chunk);
            goto done;
        }
        if (ftruncate (self->fd, base + (off_t) end) < 0) {
            snprintf (err, err_size, "audit file %s: cannot cut off its incomplete last line: %s",
                      self->path, strerror (errno));
            goto done;
        }
        onenet_warn ("audit.file_truncated",
                     "file=%s bytes=%zu reason=\"incomplete last line: the broker stopped "
                     "while writing it\"",
                     self->path, chunk - end);
    }
    self->file_size = base + (off_t) end;
    if (end == 0) {   /* a new chain */
        rc = 0;
        goto done;
    }
    char why[240] = "";
    size_t start, previous_start = 0;
    if (!last_line (buffer, end, &start) && base > 0)
        snprintf (why, sizeof why, "its last line is longer than %d bytes", TAIL_MAX);
    else {
        bool has_previous = start > 0 && (last_line (buffer, start, &previous_start) || base == 0);
        rc = continue_chain (self, buffer, start, end, has_previous, previous_start,
                             start == 0 && base == 0, why, sizeof why);
    }
    if (rc < 0)
        snprintf (err, err_size,
                  "audit file %s: its last entry is damaged (%s): the chain cannot be continued "
                  "safely; check it with 'onenet audit verify --file %s', then move the file "
                  "aside to begin a new chain (with a new audit.stream)", self->path, why,
                  self->path);
done:
    free (buffer);
    return rc;
}

/* Is the file at the path another than the one open (moved away, or
 * replaced)? */
static bool
moved (audit_t *self)
{
    struct stat open_info, path_info;
    if (fstat (self->fd, &open_info) < 0)
        return false;
    if (stat (self->path, &path_info) < 0)
        return errno == ENOENT;
    return open_info.st_dev != path_info.st_dev || open_info.st_ino != path_info.st_ino;
}

/* Opens a new, empty file at the path and writes the chain on there.
 * Returns 0, or -1 with why (the old file stays in use). */
static int
reopen (audit_t *self, char *why, size_t why_size)
{
    int fd = open (self->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf (why, why_size, "cannot open it: %s", strerror (errno));
        return -1;
    }
    struct stat info;
    const char *problem = flock (fd, LOCK_EX | LOCK_NB) < 0 ? "in use by another process"
                          : fstat (fd, &info) < 0          ? strerror (errno)
                          : info.st_size > 0 ? "a file already there is not empty"
                                             : NULL;
    if (problem) {
        snprintf (why, why_size, "%s", problem);
        close (fd);
        return -1;
    }
    if (fsync (self->fd) < 0)
        onenet_warn ("audit.sync_failed", "file=%s reason=\"%s\" effect=\"the moved file may "
                     "miss its last entries after a crash\"", self->path, strerror (errno));
    close (self->fd);
    if (self->reader)
        fclose (self->reader);
    self->reader = NULL;
    self->fd = fd;
    self->file_size = 0;
    self->catchup_offset = -1;
    return 0;
}

/* Moves to the new file once the stream holds every entry of the old one
 * (a later catch-up reads only the file at the path). */
void
audit_file_reopen_when_caught_up (audit_t *self)
{
    if (!self->reopen_wanted)
        return;
    if (cache_enabled (self->broker->cache) && self->confirmed < self->sequence) {
        audit_complain (self, ONENET_LOG_INFO, "audit.reopen_waiting",
                        "file=%s streamed=%" PRIu64 " last=%" PRIu64
                        " reason=\"the stream has not confirmed every entry of the moved file\"",
                        self->path, self->confirmed, self->sequence);
        return;
    }
    audit_flush (self);   /* this turn's entries end the old file */
    char why[200], hash[2 * HASH_SIZE + 1];
    if (reopen (self, why, sizeof why) < 0) {
        self->reopen_wanted = false;
        audit_complain (self, ONENET_LOG_ERROR, "audit.reopen_failed",
                        "file=%s reason=\"%s\" effect=\"the moved file is still written\"",
                        self->path, why);
        return;
    }
    self->reopen_wanted = false;
    onenet_info ("audit.reopened", "file=%s continues_at=%" PRIu64 " after_hash=%s", self->path,
                 self->sequence + 1, onenet_audit_hex (self->head, HASH_SIZE, hash));
}

void
audit_reopen (audit_t *self)
{
    if (!self || !self->path || self->fd < 0 || !moved (self))
        return;
    self->reopen_wanted = true;
    audit_file_reopen_when_caught_up (self);
}
