/*
 * json_internal.h - what the JSON codec's files share (see onenet/json.h
 * for the API they implement). Not installed.
 *
 * json.c holds the schema lookup, the layout of a repeated field and the
 * base64 codec for bytes fields; json_write.c prints a message as JSON,
 * json_read.c builds a message from JSON. Both directions walk
 * protobuf-c's descriptors, so they must agree on how a message is laid
 * out in memory: that agreement lives here and in json.c, once.
 *
 * The shared names take the prefix pbjson_, not json_: jansson owns the
 * json_ namespace (json_object, json_string, ...) and we link with it.
 */
#ifndef ONENET_JSON_INTERNAL_H
#define ONENET_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "onenet/json.h"

/* A member of a generated protobuf-c message, by the byte offset its
 * field descriptor gives. */
#define MEMBER(msg, offset) ((char *)(msg) + (offset))
#define CONST_MEMBER(msg, offset) ((const char *)(msg) + (offset))

/* Size of one element of a repeated field, as protobuf-c lays it out;
 * 0 for an unknown type. */
size_t pbjson_element_size (ProtobufCType type);

/* Standard alphabet with padding, as proto3's JSON mapping prints bytes.
 * Returns a malloc'd NUL-terminated string the caller frees, or NULL out
 * of memory. */
char *pbjson_base64_encode (const uint8_t *data, size_t size);

/* Accepts the standard and the URL-safe alphabet, with or without
 * padding, as proto3 readers do. Sets *data to a malloc'd buffer the
 * caller frees, or NULL for empty input. Returns 0, -1 on invalid input,
 * -2 out of memory. */
int pbjson_base64_decode (const char *text, size_t length, uint8_t **data, size_t *size);

#endif
