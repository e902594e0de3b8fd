/*
 * json_read.c - onenet_json_to_message and onenet_json_decode: JSON into
 * any message of the shared schema, by walking its descriptor (see
 * json_internal.h for what it shares with the printer).
 *
 * Messages built from JSON are laid out exactly as protobuf_c_message_unpack
 * would lay them out with the default allocator: every string, bytes buffer,
 * repeated array and submessage is malloc'd and owned by its parent, so
 * protobuf_c_message_free_unpacked (msg, NULL) releases everything, also
 * for a half-built message when the input turns out to be invalid. Errors
 * name the place in the input ("services[2].name: expected string").
 */
#include "json_internal.h"

#include <ctype.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reader's state: where in the input we are, for error messages. */
typedef struct {
    char path[256]; /* "services[2].name"; truncated when deeper */
    size_t path_length;
    char *err;
    size_t err_size;
} reader_t;

/* Appends printf-style text to the path, truncated when deeper than the
 * buffer; returns the mark to restore with path_pop. */
static size_t __attribute__ ((format (printf, 2, 3)))
path_push (reader_t *self, const char *format, ...)
{
    size_t mark = self->path_length;
    if (mark < sizeof self->path) {
        va_list args;
        va_start (args, format);
        int n = vsnprintf (self->path + mark, sizeof self->path - mark, format, args);
        va_end (args);
        self->path_length = mark + (size_t)n;
        if (self->path_length >= sizeof self->path)
            self->path_length = sizeof self->path - 1;
    }
    return mark;
}

/* Appends ".key" (or "key" at the top). */
static size_t
path_push_key (reader_t *self, const char *key)
{
    return path_push (self, "%s%s", self->path_length ? "." : "", key);
}

/* Appends "[index]". */
static size_t
path_push_index (reader_t *self, size_t index)
{
    return path_push (self, "[%zu]", index);
}

static void
path_pop (reader_t *self, size_t mark)
{
    self->path_length = mark;
    self->path[mark] = '\0';
}

/* Records "path: reason" and returns -1, so callers can return it. */
static int
reader_fail (reader_t *self, const char *format, ...)
{
    if (!self->err || self->err_size == 0)
        return -1;
    char reason[256];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    if (self->path_length)
        snprintf (self->err, self->err_size, "%s: %s", self->path, reason);
    else
        snprintf (self->err, self->err_size, "%s", reason);
    return -1;
}

/* An integer read from JSON before it is checked against its field's range. */
typedef struct {
    bool negative;
    uint64_t magnitude;
} wide_int_t;

/* Reads the forms proto3 allows for an integer: a JSON integer, a real
 * with no fraction (1e3), or a decimal string ("18446744073709551615",
 * since JSON numbers past 2^63 do not survive most parsers). */
static int
read_wide_int (reader_t *self, const json_t *value, const char *type, wide_int_t *out)
{
    if (json_is_integer (value)) {
        json_int_t n = json_integer_value (value);
        out->negative = n < 0;
        out->magnitude = n < 0 ? (uint64_t)(-(n + 1)) + 1 : (uint64_t)n;
        return 0;
    }
    if (json_is_real (value)) {
        double d = json_real_value (value);
        if (!isfinite (d) || d != floor (d))
            return reader_fail (self, "expected %s, got a fraction", type);
        if (fabs (d) >= 18446744073709551616.0)
            return reader_fail (self, "value %g out of range for %s", d, type);
        out->negative = d < 0;
        out->magnitude = (uint64_t)fabs (d);
        return 0;
    }
    if (json_is_string (value)) {
        const char *s = json_string_value (value);
        const char *digits = s[0] == '-' ? s + 1 : s;
        /* Also catches a NUL inside the string: strspn stops there. */
        if (*digits == '\0' ||
            strspn (digits, "0123456789") != json_string_length (value) - (size_t)(digits - s))
            return reader_fail (self, "expected %s, got \"%.40s\"", type, s);
        uint64_t magnitude = 0;
        for (const char *p = digits; *p; p++) {
            unsigned digit = (unsigned)(*p - '0');
            if (magnitude > (UINT64_MAX - digit) / 10)
                return reader_fail (self, "value %.40s out of range for %s", s, type);
            magnitude = magnitude * 10 + digit;
        }
        out->negative = s[0] == '-' && magnitude > 0;
        out->magnitude = magnitude;
        return 0;
    }
    return reader_fail (self, "expected %s", type);
}

static int
out_of_range (reader_t *self, wide_int_t w, const char *type)
{
    return reader_fail (self, "value %s%" PRIu64 " out of range for %s", w.negative ? "-" : "",
                        w.magnitude, type);
}

static int
read_signed (reader_t *self, const json_t *value, int64_t min, int64_t max, const char *type,
             int64_t *out)
{
    wide_int_t w = {false, 0};
    if (read_wide_int (self, value, type, &w))
        return -1;
    if (!w.negative) {
        if (w.magnitude > (uint64_t)max)
            return out_of_range (self, w, type);
        *out = (int64_t)w.magnitude;
    } else {
        /* -(min + 1) + 1 is |min| without overflowing for INT64_MIN. */
        if (w.magnitude > (uint64_t)(-(min + 1)) + 1)
            return out_of_range (self, w, type);
        *out = -(int64_t)(w.magnitude - 1) - 1;
    }
    return 0;
}

static int
read_unsigned (reader_t *self, const json_t *value, uint64_t max, const char *type, uint64_t *out)
{
    wide_int_t w = {false, 0};
    if (read_wide_int (self, value, type, &w))
        return -1;
    if (w.negative || w.magnitude > max)
        return out_of_range (self, w, type);
    *out = w.magnitude;
    return 0;
}

/* Numbers, or the strings proto3 uses for non-finite and exact values. */
static int
read_double (reader_t *self, const json_t *value, const char *type, double *out)
{
    if (json_is_number (value)) {
        *out = json_number_value (value);
        return 0;
    }
    if (!json_is_string (value))
        return reader_fail (self, "expected %s", type);
    const char *s = json_string_value (value);
    if (strcmp (s, "NaN") == 0)
        *out = NAN;
    else if (strcmp (s, "Infinity") == 0)
        *out = INFINITY;
    else if (strcmp (s, "-Infinity") == 0)
        *out = -INFINITY;
    else {
        char *end;
        /* strtod would also take "inf", "nan", hex and leading spaces. */
        if (*s == '\0' || strspn (s, "0123456789+-.eE") != json_string_length (value))
            return reader_fail (self, "expected %s, got \"%.40s\"", type, s);
        *out = strtod (s, &end);
        if (*end != '\0' || !isfinite (*out))
            return reader_fail (self, "expected %s, got \"%.40s\"", type, s);
    }
    return 0;
}

/* The type's name as proto files spell it, for error messages. */
static const char *
type_name (ProtobufCType type)
{
    switch (type) {
    case PROTOBUF_C_TYPE_INT32:
        return "int32";
    case PROTOBUF_C_TYPE_SINT32:
        return "sint32";
    case PROTOBUF_C_TYPE_SFIXED32:
        return "sfixed32";
    case PROTOBUF_C_TYPE_INT64:
        return "int64";
    case PROTOBUF_C_TYPE_SINT64:
        return "sint64";
    case PROTOBUF_C_TYPE_SFIXED64:
        return "sfixed64";
    case PROTOBUF_C_TYPE_UINT32:
        return "uint32";
    case PROTOBUF_C_TYPE_FIXED32:
        return "fixed32";
    case PROTOBUF_C_TYPE_UINT64:
        return "uint64";
    case PROTOBUF_C_TYPE_FIXED64:
        return "fixed64";
    case PROTOBUF_C_TYPE_FLOAT:
        return "float";
    case PROTOBUF_C_TYPE_DOUBLE:
        return "double";
    case PROTOBUF_C_TYPE_BOOL:
        return "bool";
    case PROTOBUF_C_TYPE_ENUM:
        return "enum";
    case PROTOBUF_C_TYPE_STRING:
        return "string";
    case PROTOBUF_C_TYPE_BYTES:
        return "bytes";
    case PROTOBUF_C_TYPE_MESSAGE:
        return "message";
    }
    return "?";
}

static ProtobufCMessage *message_from_json (reader_t *self, const ProtobufCMessageDescriptor *desc,
                                            const json_t *value);

/* Reads one value of the field's type into member (a struct member or an
 * array slot). On failure nothing is left allocated. */
static int
value_from_json (reader_t *self, const ProtobufCFieldDescriptor *field, const json_t *value,
                 void *member)
{
    const char *type = type_name (field->type);
    int64_t s = 0;
    uint64_t u = 0;
    double d = 0;

    switch (field->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (read_signed (self, value, INT32_MIN, INT32_MAX, type, &s))
            return -1;
        *(int32_t *)member = (int32_t)s;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (read_signed (self, value, INT64_MIN, INT64_MAX, type, &s))
            return -1;
        *(int64_t *)member = s;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (read_unsigned (self, value, UINT32_MAX, type, &u))
            return -1;
        *(uint32_t *)member = (uint32_t)u;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (read_unsigned (self, value, UINT64_MAX, type, &u))
            return -1;
        *(uint64_t *)member = u;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        if (read_double (self, value, type, &d))
            return -1;
        if (isfinite (d) && fabs (d) > FLT_MAX)
            return reader_fail (self, "value %g out of range for float", d);
        *(float *)member = (float)d;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (read_double (self, value, type, &d))
            return -1;
        *(double *)member = d;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean (value))
            return reader_fail (self, "expected true or false");
        *(protobuf_c_boolean *)member = json_is_true (value);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *enum_desc = field->descriptor;
        const ProtobufCEnumValue *known;
        if (json_is_string (value)) {
            known =
                protobuf_c_enum_descriptor_get_value_by_name (enum_desc, json_string_value (value));
            if (!known)
                return reader_fail (self, "unknown enum value \"%.60s\" for %s",
                                    json_string_value (value), enum_desc->name);
        } else if (json_is_number (value)) {
            if (read_signed (self, value, INT32_MIN, INT32_MAX, "enum", &s))
                return -1;
            known = protobuf_c_enum_descriptor_get_value (enum_desc, (int)s);
            if (!known)
                return reader_fail (self, "unknown enum value %" PRId64 " for %s", s,
                                    enum_desc->name);
        } else
            return reader_fail (self, "expected %s name or number", enum_desc->name);
        *(int *)member = known->value;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string (value))
            return reader_fail (self, "expected string");
        size_t length = json_string_length (value);
        if (strlen (json_string_value (value)) != length)
            return reader_fail (self, "string contains a NUL character");
        char *copy = malloc (length + 1);
        if (!copy)
            return reader_fail (self, "out of memory");
        memcpy (copy, json_string_value (value), length + 1);
        *(char **)member = copy;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string (value))
            return reader_fail (self, "expected base64 string");
        ProtobufCBinaryData *bytes = member;
        int rc = pbjson_base64_decode (json_string_value (value), json_string_length (value),
                                       &bytes->data, &bytes->len);
        if (rc == -2)
            return reader_fail (self, "out of memory");
        if (rc)
            return reader_fail (self, "invalid base64");
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        ProtobufCMessage *sub = message_from_json (self, field->descriptor, value);
        if (!sub)
            return -1;
        *(ProtobufCMessage **)member = sub;
        return 0;
    }
    }
    return reader_fail (self, "unsupported field type");
}

/* The array is attached to msg before it is filled and its count grows
 * one element at a time, so free_unpacked releases a partial list. */
static int
repeated_from_json (reader_t *self, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                    const json_t *value)
{
    if (!json_is_array (value))
        return reader_fail (self, "expected array");
    size_t count = json_array_size (value);
    if (count == 0)
        return 0;
    size_t size = pbjson_element_size (field->type);
    char *array = calloc (count, size);
    if (!array)
        return reader_fail (self, "out of memory");
    *(void **)MEMBER (msg, field->offset) = array;
    size_t *n = (size_t *)MEMBER (msg, field->quantifier_offset);
    for (size_t i = 0; i < count; i++) {
        size_t mark = path_push_index (self, i);
        if (value_from_json (self, field, json_array_get (value, i), array + i * size))
            return -1;
        (*n)++;
        path_pop (self, mark);
    }
    return 0;
}

static int
field_from_json (reader_t *self, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                 const json_t *value)
{
    /* proto3: null stands for the default value of any field. */
    if (json_is_null (value))
        return 0;
    if (field->label == PROTOBUF_C_LABEL_REPEATED)
        return repeated_from_json (self, msg, field, value);

    void *member = MEMBER (msg, field->offset);
    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *oneof_case = (uint32_t *)MEMBER (msg, field->quantifier_offset);
        /* Members share one union: a second one would overwrite the first. */
        if (*oneof_case != 0)
            return reader_fail (self, "another field of the same oneof is already set");
        if (value_from_json (self, field, value, member))
            return -1;
        *oneof_case = field->id;
        return 0;
    }
    if (value_from_json (self, field, value, member))
        return -1;
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->type != PROTOBUF_C_TYPE_STRING &&
        field->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)MEMBER (msg, field->quantifier_offset) = 1;
    return 0;
}

/* True when key is the lowerCamelCase form of the snake_case name, the
 * json_name protoc derives ("servedBy" for "served_by"). */
static bool
camel_equals (const char *snake, const char *key)
{
    bool upper = false;
    for (; *snake; snake++) {
        if (*snake == '_') {
            upper = true;
            continue;
        }
        char c = upper ? (char)toupper ((unsigned char)*snake) : *snake;
        upper = false;
        if (*key++ != c)
            return false;
    }
    return *key == '\0';
}

static const ProtobufCFieldDescriptor *
field_find (const ProtobufCMessageDescriptor *desc, const char *key)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name (desc, key);
    if (field)
        return field;
    for (unsigned i = 0; i < desc->n_fields; i++)
        if (camel_equals (desc->fields[i].name, key))
            return &desc->fields[i];
    return NULL;
}

static ProtobufCMessage *
message_from_json (reader_t *self, const ProtobufCMessageDescriptor *desc, const json_t *value)
{
    if (!json_is_object (value)) {
        reader_fail (self, "expected object (%s)", desc->name);
        return NULL;
    }
    ProtobufCMessage *msg = malloc (desc->sizeof_message);
    /* A field may come twice, as "served_by" and "servedBy". */
    unsigned char *seen = calloc (desc->n_fields ? desc->n_fields : 1, 1);
    if (!msg || !seen) {
        free (msg);
        free (seen);
        reader_fail (self, "out of memory");
        return NULL;
    }
    protobuf_c_message_init (desc, msg);

    /* jansson's iteration API takes a non-const object; we only read it. */
    json_t *object = (json_t *)value;
    const char *key;
    json_t *item;
    json_object_foreach (object, key, item)
    {
        size_t mark = path_push_key (self, key);
        const ProtobufCFieldDescriptor *field = field_find (desc, key);
        if (!field) {
            reader_fail (self, "unknown field of %s", desc->name);
            goto failed;
        }
        size_t index = (size_t)(field - desc->fields);
        if (seen[index]) {
            reader_fail (self, "field %s given twice", field->name);
            goto failed;
        }
        seen[index] = 1;
        if (field_from_json (self, msg, field, item))
            goto failed;
        path_pop (self, mark);
    }
    for (unsigned i = 0; i < desc->n_fields; i++) {
        if (desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED && !seen[i]) {
            path_push_key (self, desc->fields[i].name);
            reader_fail (self, "missing required field");
            goto failed;
        }
    }
    free (seen);
    return msg;

failed:
    free (seen);
    protobuf_c_message_free_unpacked (msg, NULL);
    return NULL;
}

ProtobufCMessage *
onenet_json_to_message (const ProtobufCMessageDescriptor *descriptor, const json_t *value,
                        char *err, size_t err_size)
{
    reader_t reader = {.path_length = 0, .err = err, .err_size = err_size};
    reader.path[0] = '\0';
    if (err && err_size)
        err[0] = '\0';
    if (!descriptor || !value) {
        reader_fail (&reader, descriptor ? "no JSON value given" : "no message type given");
        return NULL;
    }
    return message_from_json (&reader, descriptor, value);
}

ProtobufCMessage *
onenet_json_decode (const ProtobufCMessageDescriptor *descriptor, const char *text, size_t size,
                    char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = '\0';
    if (!text) {
        if (err && err_size)
            snprintf (err, err_size, "no JSON text given");
        return NULL;
    }
    json_error_t error;
    json_t *value = json_loadb (text, size, JSON_REJECT_DUPLICATES, &error);
    if (!value) {
        if (err && err_size)
            snprintf (err, err_size, "line %d, column %d: %s", error.line, error.column,
                      error.text);
        return NULL;
    }
    ProtobufCMessage *msg = onenet_json_to_message (descriptor, value, err, err_size);
    json_decref (value);
    return msg;
}
