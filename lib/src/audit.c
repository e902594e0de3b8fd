/*
 * audit.c - the audit chain's hash, file lines and verifier (see
 * onenet/audit.h and proto/audit.proto).
 *
 * The hash is libsodium's SHA-256 over the packed entry. A file line is
 * read back into an Entry and hashed again, never compared as text, so
 * the check does not depend on how JSON is spaced or keys are ordered.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "onenet/audit.h"

#define STACK_PACK 2048   /* entries up to this size are packed without malloc */

/* The text fields of an entry, in field order: the file's keys. */
static const struct {
    const char *key;
    size_t offset;
} s_text_fields[] = {
    { "kind", offsetof (Onenet__Audit__Entry, kind) },
    { "requester", offsetof (Onenet__Audit__Entry, requester) },
    { "user", offsetof (Onenet__Audit__Entry, user) },
    { "service", offsetof (Onenet__Audit__Entry, service) },
    { "subject", offsetof (Onenet__Audit__Entry, subject) },
    { "purpose", offsetof (Onenet__Audit__Entry, purpose) },
    { "outcome", offsetof (Onenet__Audit__Entry, outcome) },
    { "answered_by", offsetof (Onenet__Audit__Entry, answered_by) },
};
#define TEXT_FIELD_COUNT (sizeof s_text_fields / sizeof s_text_fields[0])
#define TEXT_FIELD(entry, i) ((char **) ((char *) (entry) + s_text_fields[i].offset))

/* libsodium asks for sodium_init before any other call (SHA-256 itself
 * needs nothing from it, but the rule is simple to keep). */
static pthread_once_t s_sodium_once = PTHREAD_ONCE_INIT;
static bool s_sodium_ready;

static void
sodium_start (void)
{
    s_sodium_ready = sodium_init () >= 0;
}

int
onenet_audit_hash (const Onenet__Audit__Entry *entry, uint8_t out[ONENET_AUDIT_HASH_SIZE])
{
    if (!entry)
        return -1;
    if (pthread_once (&s_sodium_once, sodium_start) != 0 || !s_sodium_ready)
        return -1;
    Onenet__Audit__Entry canonical = *entry;
    canonical.hash.len = 0;
    canonical.hash.data = NULL;
    canonical.base.n_unknown_fields = 0;
    canonical.base.unknown_fields = NULL;
    size_t size = protobuf_c_message_get_packed_size (&canonical.base);
    uint8_t stack[STACK_PACK];
    uint8_t *packed = size <= sizeof stack ? stack : malloc (size);
    if (!packed)
        return -1;
    protobuf_c_message_pack (&canonical.base, packed);
    crypto_hash_sha256 (out, packed, size);
    if (packed != stack)
        free (packed);
    return 0;
}

char *
onenet_audit_hex (const uint8_t *data, size_t size, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * size] = '\0';
    return out;
}

/* Reads exactly 2 * size hex digits (either case). Returns 0 or -1. */
static int
unhex (const char *text, size_t length, uint8_t *out, size_t size)
{
    if (length != 2 * size)
        return -1;
    for (size_t i = 0; i < 2 * size; i++) {
        char c = text[i];
        int value = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
        if (value < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t) (value << 4);
        else
            out[i / 2] |= (uint8_t) value;
    }
    return 0;
}

/* A bytes field as hex: 32 bytes, or "" when absent. */
static json_t *
hex_json (const ProtobufCBinaryData *data)
{
    char hex[2 * 64 + 1];
    if (data->len > 64)
        return NULL;
    return json_string (onenet_audit_hex (data->data, data->len, hex));
}

json_t *
onenet_audit_entry_json (const Onenet__Audit__Entry *entry)
{
    json_t *object = json_object ();
    if (!object)
        return NULL;
    int rc = json_object_set_new (object, "sequence", json_integer ((json_int_t) entry->sequence));
    rc |= json_object_set_new (object, "time_ms", json_integer ((json_int_t) entry->time_ms));
    for (size_t i = 0; i < TEXT_FIELD_COUNT; i++) {
        const char *value = *TEXT_FIELD (entry, i);
        rc |= json_object_set_new (object, s_text_fields[i].key, json_string (value ? value : ""));
        if (strcmp (s_text_fields[i].key, "outcome") == 0)   /* field order */
            rc |= json_object_set_new (object, "latency_us",
                                       json_integer ((json_int_t) entry->latency_us));
    }
    rc |= json_object_set_new (object, "prev", hex_json (&entry->prev_hash));
    rc |= json_object_set_new (object, "hash", hex_json (&entry->hash));
    if (rc) {
        json_decref (object);
        return NULL;
    }
    return object;
}

/* Length of the valid UTF-8 sequence at p (NUL-terminated), or 0. */
static size_t
utf8_sequence (const unsigned char *p)
{
    unsigned char c = p[0];
    size_t length = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!length)
        return 0;
    /* The second byte's range excludes overlong forms and surrogates; a
     * NUL is never a continuation byte, so nothing is read past it. */
    unsigned char low = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned char high = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (p[1] < low || p[1] > high)
        return 0;
    for (size_t i = 2; i < length; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return length;
}

/* Writes ,"key": at out; returns the end. */
static char *
put_key (char *out, const char *key)
{
    size_t length = strlen (key);
    memcpy (out, ",\"", 2);
    memcpy (out + 2, key, length);
    memcpy (out + 2 + length, "\":", 2);
    return out + length + 4;
}

/* Writes ,"key":<decimal>; returns the end. */
static char *
put_number (char *out, const char *key, uint64_t value, bool negative)
{
    out = put_key (out, key);
    if (negative)
        *out++ = '-';
    char digits[24];
    size_t n = 0;
    do
        digits[n++] = (char) ('0' + value % 10);
    while ((value /= 10));
    while (n)
        *out++ = digits[--n];
    return out;
}

/* Writes "key": and text as a JSON string at out. Returns the end, or
 * NULL when text is not valid UTF-8. out holds 6 bytes per byte of text
 * plus the key and 8. */
static char *
put_text (char *out, const char *key, const char *text)
{
    static const char digits[] = "0123456789abcdef";
    out = put_key (out, key);
    *out++ = '"';
    for (const unsigned char *p = (const unsigned char *) (text ? text : ""); *p;) {
        if (*p == '"' || *p == '\\') {
            *out++ = '\\';
            *out++ = (char) *p++;
        }
        else if (*p < 0x20) {
            const char *named = *p == '\n' ? "n" : *p == '\t' ? "t" : *p == '\r' ? "r" : NULL;
            *out++ = '\\';
            if (named)
                *out++ = *named;
            else {
                memcpy (out, "u00", 3);
                out[3] = digits[*p >> 4];
                out[4] = digits[*p & 15];
                out += 5;
            }
            p++;
        }
        else if (*p < 0x80)
            *out++ = (char) *p++;
        else {
            size_t length = utf8_sequence (p);
            if (!length)
                return NULL;
            memcpy (out, p, length);
            out += length;
            p += length;
        }
    }
    *out++ = '"';
    return out;
}

/* Writes "key":"hex" for a hash field (32 bytes, or "" when absent). */
static char *
put_hash (char *out, const char *key, const ProtobufCBinaryData *data)
{
    out = put_key (out, key);
    *out++ = '"';
    if (data->len == ONENET_AUDIT_HASH_SIZE) {
        onenet_audit_hex (data->data, data->len, out);
        out += 2 * ONENET_AUDIT_HASH_SIZE;
    }
    *out++ = '"';
    return out;
}

/* Written by hand rather than with jansson: this runs for every request
 * the broker carries, and is several times faster. The result is the
 * same compact JSON, keys in field order. */
char *
onenet_audit_line (const Onenet__Audit__Entry *entry, size_t *length)
{
    size_t size = 512;   /* keys, numbers, hashes, punctuation */
    for (size_t i = 0; i < TEXT_FIELD_COUNT; i++) {
        const char *text = *TEXT_FIELD (entry, i);
        size += 6 * (text ? strlen (text) : 0);
    }
    char *line = malloc (size);
    if (!line)
        return NULL;
    /* Every key is written after a comma; the first comma becomes the brace. */
    char *out = put_number (line, "sequence", entry->sequence, false);
    line[0] = '{';
    bool before_1970 = entry->time_ms < 0;
    uint64_t time_ms = before_1970 ? 0 - (uint64_t) entry->time_ms : (uint64_t) entry->time_ms;
    out = put_number (out, "time_ms", time_ms, before_1970);
    for (size_t i = 0; out && i < TEXT_FIELD_COUNT; i++) {
        out = put_text (out, s_text_fields[i].key, *TEXT_FIELD (entry, i));
        if (out && strcmp (s_text_fields[i].key, "outcome") == 0)   /* field order */
            out = put_number (out, "latency_us", entry->latency_us, false);
    }
    if (!out) {
        free (line);
        return NULL;
    }
    out = put_hash (out, "prev", &entry->prev_hash);
    out = put_hash (out, "hash", &entry->hash);
    memcpy (out, "}\n", 3);
    if (length)
        *length = (size_t) (out + 2 - line);
    return line;
}

/* An integer member that must be present or may be absent (0). */
static int
read_integer (json_t *object, const char *key, bool required, uint64_t *out, char *err,
              size_t err_size)
{
    json_t *value = json_object_get (object, key);
    *out = 0;
    if (!value && !required)
        return 0;
    if (!value) {
        snprintf (err, err_size, "missing field '%s'", key);
        return -1;
    }
    if (!json_is_integer (value) || json_integer_value (value) < 0) {
        snprintf (err, err_size, "'%s' must be a non-negative integer", key);
        return -1;
    }
    *out = (uint64_t) json_integer_value (value);
    return 0;
}

static int
read_hash (json_t *object, const char *key, uint8_t out[ONENET_AUDIT_HASH_SIZE], char *err,
           size_t err_size)
{
    json_t *value = json_object_get (object, key);
    if (!value || !json_is_string (value)
        || unhex (json_string_value (value), json_string_length (value), out,
                  ONENET_AUDIT_HASH_SIZE) < 0) {
        snprintf (err, err_size, "'%s' must be %d hex digits", key, 2 * ONENET_AUDIT_HASH_SIZE);
        return -1;
    }
    return 0;
}

static bool
known_key (const char *key)
{
    static const char *const others[] = { "sequence", "time_ms", "latency_us", "prev", "hash" };
    for (size_t i = 0; i < TEXT_FIELD_COUNT; i++)
        if (strcmp (key, s_text_fields[i].key) == 0)
            return true;
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (strcmp (key, others[i]) == 0)
            return true;
    return false;
}

/* Fills entry (borrowing object's strings) from a parsed line. */
static int
read_entry (json_t *object, Onenet__Audit__Entry *entry, uint8_t prev[ONENET_AUDIT_HASH_SIZE],
            uint8_t hash[ONENET_AUDIT_HASH_SIZE], char *err, size_t err_size)
{
    if (!json_is_object (object)) {
        snprintf (err, err_size, "not a JSON object");
        return -1;
    }
    const char *key;
    json_t *value;
    json_object_foreach (object, key, value) {
        if (!known_key (key)) {
            snprintf (err, err_size, "unknown field '%.64s'", key);
            return -1;
        }
    }
    uint64_t time_ms = 0;
    if (read_integer (object, "sequence", true, &entry->sequence, err, err_size) < 0
        || read_integer (object, "time_ms", false, &time_ms, err, err_size) < 0
        || read_integer (object, "latency_us", false, &entry->latency_us, err, err_size) < 0
        || read_hash (object, "prev", prev, err, err_size) < 0
        || read_hash (object, "hash", hash, err, err_size) < 0)
        return -1;
    entry->time_ms = (int64_t) time_ms;
    for (size_t i = 0; i < TEXT_FIELD_COUNT; i++) {
        json_t *text = json_object_get (object, s_text_fields[i].key);
        if (!text)
            continue;   /* absent: "" */
        /* A NUL inside would be cut off by the C string: refuse it rather
         * than hash something other than what the line says. */
        if (!json_is_string (text)
            || strlen (json_string_value (text)) != json_string_length (text)) {
            snprintf (err, err_size, "'%s' must be a string without NUL", s_text_fields[i].key);
            return -1;
        }
        *TEXT_FIELD (entry, i) = (char *) json_string_value (text);
    }
    entry->prev_hash.data = prev;
    entry->prev_hash.len = ONENET_AUDIT_HASH_SIZE;
    entry->hash.data = hash;
    entry->hash.len = ONENET_AUDIT_HASH_SIZE;
    return 0;
}

Onenet__Audit__Entry *
onenet_audit_parse_line (const char *line, size_t length, char *err, size_t err_size)
{
    if (length && line[length - 1] == '\n')
        length--;
    json_error_t error;
    json_t *object = json_loadb (line, length, JSON_REJECT_DUPLICATES, &error);
    if (!object) {
        snprintf (err, err_size, "not JSON: %s", error.text);
        return NULL;
    }
    Onenet__Audit__Entry borrowed = ONENET__AUDIT__ENTRY__INIT;
    uint8_t prev[ONENET_AUDIT_HASH_SIZE], hash[ONENET_AUDIT_HASH_SIZE];
    Onenet__Audit__Entry *entry = NULL;
    if (read_entry (object, &borrowed, prev, hash, err, err_size) == 0) {
        /* Packed and unpacked: an entry that owns its memory. */
        size_t size = protobuf_c_message_get_packed_size (&borrowed.base);
        uint8_t *packed = malloc (size ? size : 1);
        if (packed) {
            protobuf_c_message_pack (&borrowed.base, packed);
            entry = onenet__audit__entry__unpack (NULL, size, packed);
            free (packed);
        }
        if (!entry)
            snprintf (err, err_size, "out of memory");
    }
    json_decref (object);
    return entry;
}

const char *
onenet_audit_problem_name (onenet_audit_problem_t problem)
{
    switch (problem) {
    case ONENET_AUDIT_INTACT: return "intact";
    case ONENET_AUDIT_UNREADABLE: return "unreadable";
    case ONENET_AUDIT_INCOMPLETE: return "incomplete";
    case ONENET_AUDIT_EDITED: return "edited";
    case ONENET_AUDIT_DELETED: return "deleted";
    case ONENET_AUDIT_REORDERED: return "reordered";
    case ONENET_AUDIT_REPLACED: return "replaced";
    }
    return "unknown";
}

static int
report_problem (onenet_audit_report_t *report, onenet_audit_problem_t problem, uint64_t line,
                uint64_t sequence, const char *format, ...) __attribute__ ((format (printf, 5, 6)));

static int
report_problem (onenet_audit_report_t *report, onenet_audit_problem_t problem, uint64_t line,
                uint64_t sequence, const char *format, ...)
{
    report->problem = problem;
    report->line = line;
    report->sequence = sequence;
    va_list args;
    va_start (args, format);
    vsnprintf (report->detail, sizeof report->detail, format, args);
    va_end (args);
    return 0;
}

/* Checks one line against the chain so far; returns true when it holds. */
static bool
check_line (onenet_audit_report_t *report, uint64_t number, const char *line, size_t length)
{
    char why[200];
    if (length == 0 || line[length - 1] != '\n') {
        report_problem (report, ONENET_AUDIT_INCOMPLETE, number, 0,
                        "last line has no newline: a write cut short (%zu bytes)", length);
        return false;
    }
    Onenet__Audit__Entry *entry = onenet_audit_parse_line (line, length, why, sizeof why);
    if (!entry) {
        report_problem (report, ONENET_AUDIT_UNREADABLE, number, 0, "%s", why);
        return false;
    }
    uint8_t hash[ONENET_AUDIT_HASH_SIZE];
    uint64_t expected = report->last_sequence + 1;
    bool ok = false;
    if (onenet_audit_hash (entry, hash) < 0)
        report_problem (report, ONENET_AUDIT_UNREADABLE, number, entry->sequence, "out of memory");
    else if (entry->hash.len != sizeof hash || memcmp (entry->hash.data, hash, sizeof hash) != 0)
        report_problem (report, ONENET_AUDIT_EDITED, number, entry->sequence, "hash mismatch");
    else if (entry->sequence > expected && expected == 1)
        report_problem (report, ONENET_AUDIT_DELETED, number, entry->sequence,
                        "the log starts at sequence %" PRIu64 ", not 1 (if it goes on from a "
                        "moved file, verify that one first: --file OLD --file THIS)",
                        entry->sequence);
    else if (entry->sequence > expected)
        report_problem (report, ONENET_AUDIT_DELETED, number, entry->sequence,
                        "sequence %" PRIu64 " follows %" PRIu64 " (%" PRIu64 " missing)",
                        entry->sequence, report->last_sequence, entry->sequence - expected);
    else if (entry->sequence < expected)
        report_problem (report, ONENET_AUDIT_REORDERED, number, entry->sequence,
                        "sequence %" PRIu64 " follows %" PRIu64, entry->sequence,
                        report->last_sequence);
    else if (entry->prev_hash.len != sizeof hash
             || memcmp (entry->prev_hash.data, report->last_hash, sizeof hash) != 0)
        report_problem (report, ONENET_AUDIT_REPLACED, number, entry->sequence,
                        expected == 1 ? "the first entry's prev is not zero"
                                      : "prev is not the hash of the entry before: this entry "
                                        "or the one before was replaced");
    else {
        report->entries++;
        report->last_sequence = entry->sequence;
        memcpy (report->last_hash, hash, sizeof hash);
        ok = true;
    }
    onenet__audit__entry__free_unpacked (entry, NULL);
    return ok;
}

int
onenet_audit_verify_file (const char *path, onenet_audit_report_t *report, char *err,
                          size_t err_size)
{
    memset (report, 0, sizeof *report);
    return onenet_audit_verify_next (path, report, err, err_size);
}

int
onenet_audit_verify_next (const char *path, onenet_audit_report_t *report, char *err,
                          size_t err_size)
{
    report->problem = ONENET_AUDIT_INTACT;
    report->line = 0;
    report->sequence = 0;
    report->detail[0] = '\0';
    FILE *file = fopen (path, "rb");
    if (!file) {
        snprintf (err, err_size, "cannot open %s: %s", path, strerror (errno));
        return -1;
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    uint64_t number = 0;
    while ((length = getline (&line, &capacity, file)) >= 0)
        if (!check_line (report, ++number, line, (size_t) length))
            break;
    /* Entries missing here may only have moved down: look for the first
     * one missing in the rest of the file. */
    uint64_t missing = report->last_sequence + 1;
    while (report->problem == ONENET_AUDIT_DELETED
           && (length = getline (&line, &capacity, file)) >= 0) {
        number++;
        char why[200];
        Onenet__Audit__Entry *entry = onenet_audit_parse_line (line, (size_t) length, why,
                                                               sizeof why);
        if (entry && entry->sequence == missing) {
            report->problem = ONENET_AUDIT_REORDERED;
            snprintf (report->detail, sizeof report->detail,
                      "sequence %" PRIu64 " follows %" PRIu64 "; %" PRIu64
                      " comes later, at line %" PRIu64,
                      report->sequence, report->last_sequence, missing, number);
        }
        if (entry)
            onenet__audit__entry__free_unpacked (entry, NULL);
    }
    int rc = 0;
    if (ferror (file)) {
        snprintf (err, err_size, "cannot read %s: %s", path, strerror (errno));
        rc = -1;
    }
    free (line);
    fclose (file);
    return rc;
}
