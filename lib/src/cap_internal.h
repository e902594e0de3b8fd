/*
 * cap_internal.h - what the CAP 1.2 codec's files share (see onenet/cap.h
 * for the API they implement). Not installed.
 *
 * cap.c holds the model (one table per CAP complex type), the validator
 * and the routing helpers; cap_values.c the checks of single values;
 * cap_read.c parses CAP XML into an alert by walking the same tables,
 * cap_write.c writes an alert as CAP XML. Both XML files use libxml2;
 * this header does not include it, so the model stays free of XML.
 */
#ifndef ONENET_CAP_INTERNAL_H
#define ONENET_CAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "onenet/cap.h"

/* A member of a generated protobuf-c message, by the byte offset its
 * field descriptor gives. */
#define MEMBER(msg, offset) ((char *)(msg) + (offset))
#define CONST_MEMBER(msg, offset) ((const char *)(msg) + (offset))

/* --- the CAP 1.2 model --- */

typedef enum {
    KIND_TEXT,        /* free text, kept byte for byte */
    KIND_NAME,        /* text, surrounding whitespace dropped (valueName, value) */
    KIND_TOKEN,       /* text, surrounding whitespace dropped (uri, web, digest) */
    KIND_ID,          /* identifier, sender: no whitespace , < & */
    KIND_ENUM,        /* one of field->values */
    KIND_DATETIME,    /* 2002-05-24T16:49:00-07:00 */
    KIND_REFERENCES,  /* sender,identifier,sent ... */
    KIND_QUOTED_LIST, /* addresses, incidents: words, "multi word" */
    KIND_LANGUAGE,    /* RFC 3066 */
    KIND_POLYGON,     /* lat,lon lat,lon ... closed, >= 4 pairs */
    KIND_CIRCLE,      /* lat,lon radius */
    KIND_DECIMAL,     /* altitude, ceiling */
    KIND_SIZE,        /* non-negative integer */
    KIND_MIME,        /* type/subtype */
    KIND_BASE64,      /* derefUri */
    KIND_MESSAGE      /* a nested CAP type, always repeated */
} kind_t;

typedef struct cap_type cap_type_t;

/* Which element of the CAP type a cross-field rule blames, and why. */
typedef struct {
    const char *field; /* proto field name */
    char reason[160];
} rule_error_t;

typedef struct {
    const char *element; /* CAP element name */
    const char *field;   /* proto field name */
    kind_t kind;
    bool required;             /* for repeated fields: at least one */
    const char *const *values; /* KIND_ENUM: allowed values, NULL-terminated */
    const cap_type_t *type;    /* KIND_MESSAGE */
} cap_field_t;

struct cap_type {
    const ProtobufCMessageDescriptor *descriptor;
    const cap_field_t *fields;
    size_t n_fields;
    /* Rules between fields, checked once the fields are valid; NULL if none.
     * Returns false and fills error when one is broken. */
    bool (*rules) (const ProtobufCMessage *msg, rule_error_t *error);
    /* fields[i]'s descriptor, filled once by cap_field_of */
    const ProtobufCFieldDescriptor **resolved;
};

/* Longest field list of any type in cap.c's tables, for per-call
 * bookkeeping. */
#define MAX_FIELDS 24

/* The root of the tables: <alert>; every other type is reached through
 * its fields' type. */
extern const cap_type_t cap_alert_type;

/* The proto field that holds a CAP element of type, NULL if the
 * descriptor has none (an internal error). field is one of type->fields. */
const ProtobufCFieldDescriptor *cap_field_of (const cap_type_t *type, const cap_field_t *field);

/* --- value checks (cap_values.c), shared by the reader and the validator --- */

/* True for NULL or "": an absent proto3 string. */
bool cap_is_empty (const char *s);

/* Space, tab, newline or carriage return: XML's whitespace. */
bool cap_is_xml_space (char c);

/* True when s holds only XML whitespace (or nothing). */
bool cap_all_space (const char *s);

/* Copies s into out for an error message: at most 60 bytes, cut on a UTF-8
 * boundary, control characters shown as '?', "..." when cut. Returns out
 * ("" when out_size is under 4). */
const char *cap_shown (const char *s, size_t len, char *out, size_t out_size);

/* Checks a non-empty value s against its field's kind (enumeration,
 * dateTime, geometry, ...). Returns true if it is valid, false with the
 * reason in why. */
bool cap_check_value (const cap_field_t *field, const char *s, char *why, size_t why_size);

/* True when the kind's value is kept without surrounding whitespace. */
bool cap_is_trimmed_kind (kind_t kind);

/* True for valid UTF-8 made only of characters XML 1.0 can carry. */
bool cap_is_xml_utf8 (const char *text);

/* --- libxml2, shared by the reader and the writer --- */

/* Initialises libxml2 once per process, before its first use. */
void cap_libxml_init (void);

#endif
