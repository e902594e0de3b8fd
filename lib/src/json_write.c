/*
 * json_write.c - onenet_json_from_message and onenet_json_encode: any
 * message of the shared schema printed as JSON, by walking its descriptor
 * (see json_internal.h for what it shares with the reader).
 *
 * The output follows proto3's JSON mapping where it matters to readers:
 * 64-bit integers as strings, bytes as base64, enums by name, non-finite
 * floats as "NaN" and "Infinity"; fields at their default value are left
 * out unless the caller asks for them (ONENET_JSON_DEFAULTS).
 */
#include "json_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when a singular field holds something worth printing: the selected
 * member of a oneof, a proto2 field marked present, or a proto3 field
 * away from its zero value. */
static bool
field_is_set (const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field)
{
    const void *member = CONST_MEMBER (msg, field->offset);

    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)CONST_MEMBER (msg, field->quantifier_offset) == field->id;
    if (field->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL) {
        /* proto2: strings and messages have no has_ flag; protobuf-c
         * treats the default pointer as absent when packing. */
        if (field->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *)member;
            return s && s != field->default_value;
        }
        if (field->type == PROTOBUF_C_TYPE_MESSAGE)
            return *(ProtobufCMessage *const *)member != NULL;
        return *(const protobuf_c_boolean *)CONST_MEMBER (msg, field->quantifier_offset);
    }
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)member != 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)member != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)member != 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)member != 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)member != 0;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)member != 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        return s && *s;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)member)->len > 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)member != NULL;
    }
    return false;
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t
utf8_sequence (const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
        cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        cp = s[0] & 0x07;
    } else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* JSON text must be UTF-8 but protobuf-c does not check strings it
 * unpacks: replace each invalid byte by U+FFFD rather than fail. */
static json_t *
string_to_json (const char *s)
{
    json_t *value = json_string (s);
    if (value)
        return value;
    size_t length = strlen (s);
    char *clean = malloc (length * 3 + 1);
    if (!clean)
        return NULL;
    const unsigned char *in = (const unsigned char *)s;
    char *out = clean;
    while (*in) {
        size_t n = utf8_sequence (in);
        if (n) {
            memcpy (out, in, n);
            out += n;
            in += n;
        } else {
            memcpy (out, "\xEF\xBF\xBD", 3);
            out += 3;
            in++;
        }
    }
    *out = '\0';
    value = json_string (clean);
    free (clean);
    return value;
}

/* proto3 prints non-finite floats as strings. */
static json_t *
double_to_json (double d)
{
    if (isnan (d))
        return json_string ("NaN");
    if (isinf (d))
        return json_string (d > 0 ? "Infinity" : "-Infinity");
    return json_real (d);
}

static json_t *message_to_json (const ProtobufCMessage *msg, int flags);

static json_t *
value_to_json (const ProtobufCFieldDescriptor *field, const void *member, int flags)
{
    char buffer[32];
    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer (*(const int32_t *)member);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer (*(const uint32_t *)member);
    /* 64-bit integers go out as strings: JavaScript readers lose
     * precision past 2^53. */
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf (buffer, sizeof buffer, "%" PRId64, *(const int64_t *)member);
        return json_string (buffer);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf (buffer, sizeof buffer, "%" PRIu64, *(const uint64_t *)member);
        return json_string (buffer);
    case PROTOBUF_C_TYPE_FLOAT:
        return double_to_json (*(const float *)member);
    case PROTOBUF_C_TYPE_DOUBLE:
        return double_to_json (*(const double *)member);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean (*(const protobuf_c_boolean *)member);
    case PROTOBUF_C_TYPE_ENUM: {
        int number = *(const int *)member;
        const ProtobufCEnumValue *value =
            protobuf_c_enum_descriptor_get_value (field->descriptor, number);
        /* A number from a newer schema has no name here. */
        return value ? json_string (value->name) : json_integer (number);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)member;
        return string_to_json (s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bytes = member;
        char *text = pbjson_base64_encode (bytes->data, bytes->len);
        if (!text)
            return NULL;
        json_t *value = json_string (text);
        free (text);
        return value;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)member;
        return sub ? message_to_json (sub, flags) : json_null ();
    }
    }
    return json_null ();
}

static json_t *
repeated_to_json (const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field, int flags)
{
    size_t count = *(const size_t *)CONST_MEMBER (msg, field->quantifier_offset);
    const char *array = *(char *const *)CONST_MEMBER (msg, field->offset);
    size_t size = pbjson_element_size (field->type);
    json_t *list = json_array ();
    if (!list)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        if (json_array_append_new (list, value_to_json (field, array + i * size, flags))) {
            json_decref (list);
            return NULL;
        }
    }
    return list;
}

static json_t *
message_to_json (const ProtobufCMessage *msg, int flags)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    json_t *object = json_object ();
    if (!object)
        return NULL;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[i];
        json_t *value;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)CONST_MEMBER (msg, field->quantifier_offset);
            if (count == 0 && !(flags & ONENET_JSON_DEFAULTS))
                continue;
            value = repeated_to_json (msg, field, flags);
        } else {
            bool set = field_is_set (msg, field);
            /* The other members of a oneof share its storage: never print them. */
            if (!set &&
                (!(flags & ONENET_JSON_DEFAULTS) || (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)))
                continue;
            value = value_to_json (field, CONST_MEMBER (msg, field->offset), flags);
        }
        /* json_object_set_new releases nothing and fails on a NULL value. */
        if (json_object_set_new (object, field->name, value)) {
            json_decref (object);
            return NULL;
        }
    }
    return object;
}

json_t *
onenet_json_from_message (const ProtobufCMessage *message, int flags)
{
    if (!message || !message->descriptor)
        return NULL;
    return message_to_json (message, flags);
}

char *
onenet_json_encode (const ProtobufCMessage *message, int flags)
{
    json_t *value = onenet_json_from_message (message, flags);
    if (!value)
        return NULL;
    char *text = json_dumps (value, (flags & ONENET_JSON_PRETTY) ? JSON_INDENT (2) : JSON_COMPACT);
    json_decref (value);
    return text;
}
