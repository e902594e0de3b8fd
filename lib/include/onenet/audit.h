/*
 * onenet/audit.h - the audit log's chain, read and checked without the
 * broker: the hash that links entries, the JSON line format of the local
 * audit file, and a verifier that walks a whole file.
 *
 * proto/audit.proto defines the Entry, the hash (SHA-256 of the entry's
 * canonical protobuf encoding with `hash` empty) and the file format.
 * The broker writes entries with these functions; `onenet audit verify`
 * checks them with the same ones, so there is one definition of both.
 */
#ifndef ONENET_AUDIT_H
#define ONENET_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "onenet/proto/audit.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ONENET_AUDIT_HASH_SIZE 32

/* Computes an entry's hash into out: SHA-256 of its canonical encoding
 * with the hash field (and any unknown fields) left out. The entry is not
 * changed. Returns 0, or -1 when entry is NULL or out of memory. */
int onenet_audit_hash (const Onenet__Audit__Entry *entry, uint8_t out[ONENET_AUDIT_HASH_SIZE]);

/* The entry as the JSON object of its file line (every field, "prev" and
 * "hash" in lowercase hex). Returns a new reference the caller releases
 * with json_decref, or NULL when out of memory or a text field is not
 * valid UTF-8. */
json_t *onenet_audit_entry_json (const Onenet__Audit__Entry *entry);

/* The entry as one file line: compact JSON followed by "\n". Returns a
 * malloc'd NUL-terminated string the caller frees, its length (newline
 * included) in *length if not NULL; NULL as onenet_audit_entry_json. */
char *onenet_audit_line (const Onenet__Audit__Entry *entry, size_t *length);

/* Reads one file line (length bytes, a trailing "\n" allowed) back into
 * an Entry, hash included as written. Does not check the hash. Returns
 * the entry, which the caller frees with onenet__audit__entry__free_unpacked;
 * or NULL with a one-line reason in err ("not JSON: ...", "unknown field
 * 'x'", "'prev' must be 64 hex digits"). */
Onenet__Audit__Entry *onenet_audit_parse_line (const char *line, size_t length, char *err,
                                               size_t err_size);

/* The first thing wrong in a file, in the order the checks run on each
 * line: unreadable, then edited, then deleted/reordered, then replaced. */
typedef enum {
    ONENET_AUDIT_INTACT = 0,
    ONENET_AUDIT_UNREADABLE,  /* not an entry line (JSON, fields, types) */
    ONENET_AUDIT_INCOMPLETE,  /* last line without its newline: a write cut short */
    ONENET_AUDIT_EDITED,      /* the entry's hash does not match its content */
    ONENET_AUDIT_DELETED,     /* sequence jumps ahead: entries missing from the file */
    ONENET_AUDIT_REORDERED,   /* sequence jumps ahead but the missing entry comes later,
                                 or the sequence goes back or repeats */
    ONENET_AUDIT_REPLACED,    /* sequence in order, but prev is not the hash of the entry
                                 before: an entry was replaced by another, hash recomputed */
} onenet_audit_problem_t;

/* "intact", "unreadable", "incomplete", "edited", "deleted", "reordered",
 * "replaced". Static string. */
const char *onenet_audit_problem_name (onenet_audit_problem_t problem);

/* What onenet_audit_verify_file found. */
typedef struct {
    uint64_t entries;             /* entries checked intact, before any problem */
    onenet_audit_problem_t problem;
    uint64_t line;                /* 1-based line of the first broken entry; 0 when intact */
    uint64_t sequence;            /* the sequence that line carries; 0 when unreadable */
    char detail[256];             /* e.g. "hash mismatch", "sequence 44 follows 42" */
    uint64_t last_sequence;       /* last intact entry (0 if none) */
    uint8_t last_hash[ONENET_AUDIT_HASH_SIZE];   /* its hash (zeros if none) */
} onenet_audit_report_t;

/* Checks a whole audit file: every line readable, every hash right, line
 * n holding sequence n chained to line n - 1 (sequence 1 to 32 zero
 * bytes). Stops at the first problem. Returns 0 when the file could be
 * read, whatever the report says (report->problem is ONENET_AUDIT_INTACT
 * for an intact file, an empty one included); -1 when it cannot be
 * opened or read, with the reason in err. */
int onenet_audit_verify_file (const char *path, onenet_audit_report_t *report, char *err,
                              size_t err_size);

/* Checks the file that comes after the ones report has seen (the broker
 * goes on in a new file when the old one is moved away and it gets
 * SIGHUP): its first entry must carry report->last_sequence + 1 and be
 * chained to report->last_hash. entries adds up; line is within this
 * file. Call onenet_audit_verify_file on the first file, then this on each
 * next one, while the report stays intact. Returns as
 * onenet_audit_verify_file. */
int onenet_audit_verify_next (const char *path, onenet_audit_report_t *report, char *err,
                              size_t err_size);

/* Writes 2 * size lowercase hex digits and a NUL into out (which holds at
 * least 2 * size + 1 bytes). Returns out. */
char *onenet_audit_hex (const uint8_t *data, size_t size, char *out);

#ifdef __cplusplus
}
#endif
#endif
