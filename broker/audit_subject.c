/*
 * audit_subject.c - whom a request is about, for its audit entry: the
 * resident_id field of the request body, read by its wire tag without
 * decoding the body (the broker forwards bodies it need not read).
 */
#include <string.h>
#include "audit.h"

/* Reads a varint at *p (before end). Returns false when malformed. */
static bool
read_varint (const uint8_t **p, const uint8_t *end, uint64_t *value)
{
    *value = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t byte = *(*p)++;
        *value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80))
            return true;
    }
    return false;
}

size_t
audit_subject_of (const ProtobufCMessageDescriptor *request_type, const void *body, size_t size,
                  char *out, size_t out_size)
{
    if (!out || out_size == 0)
        return 0;
    out[0] = '\0';
    if (!request_type || !body)
        return 0;
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name (request_type, "resident_id");
    if (!field || field->type != PROTOBUF_C_TYPE_STRING ||
        field->label == PROTOBUF_C_LABEL_REPEATED)
        return 0;
    const uint8_t *p = body, *end = p + size;
    const uint8_t *found = NULL;
    uint64_t found_length = 0;
    while (p < end) {
        uint64_t key, value;
        if (!read_varint (&p, end, &key))
            return 0;
        switch (key & 7) {
        case 0: /* varint */
            if (!read_varint (&p, end, &value))
                return 0;
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return 0;
            p += 8;
            break;
        case 2: /* length-delimited: strings, bytes, messages, packed */
            if (!read_varint (&p, end, &value) || value > (uint64_t)(end - p))
                return 0;
            if (key >> 3 == field->id) { /* the last one wins, as when decoding */
                found = p;
                found_length = value;
            }
            p += value;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return 0;
            p += 4;
            break;
        default: /* groups (proto2 only) or garbage */
            return 0;
        }
    }
    if (!found || found_length == 0 || found_length >= out_size)
        return 0;
    memcpy (out, found, found_length);
    out[found_length] = '\0';
    if (strlen (out) != found_length) { /* a NUL inside: not an ID */
        out[0] = '\0';
        return 0;
    }
    return (size_t)found_length;
}
