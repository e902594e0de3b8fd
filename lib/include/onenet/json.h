/*
 * onenet/json.h - JSON to and from any message of the shared schema.
 *
 * Works generically over protobuf-c descriptors: no printer per message.
 * The mapping follows proto3's JSON mapping where it matters to people:
 * field names as in the .proto (snake_case; lowerCamelCase accepted on
 * input), enums by name (numbers accepted on input), 64-bit integers as
 * strings (numbers accepted on input), bytes as base64 (standard alphabet
 * with padding out; URL-safe and unpadded accepted in), repeated fields
 * as arrays, nested messages as objects, fields at their default value
 * omitted unless ONENET_JSON_DEFAULTS is set. Unknown fields in the input
 * are an error that names the field.
 *
 * Input details: null for any field means its default; integers may also
 * be decimal strings or integral reals (1e3) and are range-checked for
 * their type; enum numbers must be values the schema defines; float and
 * double accept "NaN", "Infinity" and "-Infinity" (also printed so);
 * setting two members of one oneof is an error. Maps are read and
 * printed as lists of {"key", "value"} objects, not as JSON objects.
 */
#ifndef ONENET_JSON_H
#define ONENET_JSON_H

#include <stddef.h>
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONENET_JSON_PRETTY 1    /* indent two spaces */
#define ONENET_JSON_DEFAULTS 2  /* also print fields at their default value */

/* Every message type of proto/, by full protobuf name (e.g.
 * "onenet.PingReply"). Returns NULL when the name is unknown or NULL.
 * Descriptors are static: nothing to free. */
const ProtobufCMessageDescriptor *onenet_schema_find (const char *full_name);
/* Number of message types known, and the i-th of them in name order, for
 * listings; onenet_schema_at returns NULL for an index past the end. */
size_t onenet_schema_count (void);
const ProtobufCMessageDescriptor *onenet_schema_at (size_t index);

/* Returns a new JSON object for message; the caller json_decref's it.
 * NULL only when out of memory (or message is NULL). Strings that are
 * not valid UTF-8 are printed with U+FFFD in place of the bad bytes. */
json_t *onenet_json_from_message (const ProtobufCMessage *message, int flags);

/* Builds a new message of the given type from a JSON object. Returns NULL
 * on invalid input with a reason in err, prefixed by the path of the
 * field as spelled in the input ("services[2].name: expected string",
 * "person.sex: unknown enum value \"X\" for ps.Sex"). err may be NULL;
 * a longer reason is truncated to err_size. The caller frees the result
 * with protobuf_c_message_free_unpacked (msg, NULL). */
ProtobufCMessage *onenet_json_to_message (const ProtobufCMessageDescriptor *descriptor,
                                          const json_t *value, char *err, size_t err_size);

/* Text forms of the two above. encode returns a NUL-terminated string
 * (compact, or indented with ONENET_JSON_PRETTY) that the caller frees
 * with free (), NULL when out of memory. decode parses the first size
 * bytes of text, which need not be NUL-terminated, and reports JSON
 * syntax errors with line and column ("line 3, column 5: ..."); a key
 * given twice in one object is a syntax error. */
char *onenet_json_encode (const ProtobufCMessage *message, int flags);
ProtobufCMessage *onenet_json_decode (const ProtobufCMessageDescriptor *descriptor,
                                      const char *text, size_t size,
                                      char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
