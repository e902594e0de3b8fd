/*
 * json.c - JSON to and from any message of the shared schema.
 *
 * One printer and one reader walk protobuf-c's descriptors, so a message
 * added to proto/ needs no code here. The schema table generated at build
 * time (build/gen/schema_table.c) lists every message descriptor; we keep
 * a copy sorted by name so a type can be found by bsearch.
 *
 * Messages built from JSON are laid out exactly as protobuf_c_message_unpack
 * would lay them out with the default allocator: every string, bytes buffer,
 * repeated array and submessage is malloc'd and owned by its parent, so
 * protobuf_c_message_free_unpacked (msg, NULL) releases everything, also
 * for a half-built message when the input turns out to be invalid.
 */
#include "onenet/json.h"

#include <ctype.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defined in the generated schema_table.c. */
extern const ProtobufCMessageDescriptor *const onenet_schema_table[];
extern const size_t onenet_schema_table_size;

#define MEMBER(msg, offset) ((char *) (msg) + (offset))
#define CONST_MEMBER(msg, offset) ((const char *) (msg) + (offset))

/* --- schema lookup --- */

/* Built once, never freed: it lives as long as the process. NULL when
 * malloc failed, and then lookups fall back to a linear scan. */
static const ProtobufCMessageDescriptor **s_by_name;
static pthread_once_t s_by_name_once = PTHREAD_ONCE_INIT;

static int
descriptor_compare (const void *a, const void *b)
{
    const ProtobufCMessageDescriptor *const *da = a;
    const ProtobufCMessageDescriptor *const *db = b;
    return strcmp ((*da)->name, (*db)->name);
}

static int
name_compare (const void *key, const void *elem)
{
    const ProtobufCMessageDescriptor *const *d = elem;
    return strcmp ((const char *) key, (*d)->name);
}

static void
by_name_build (void)
{
    size_t n = onenet_schema_table_size;
    const ProtobufCMessageDescriptor **index = malloc ((n ? n : 1) * sizeof *index);
    if (!index)
        return;
    memcpy (index, onenet_schema_table, n * sizeof *index);
    qsort (index, n, sizeof *index, descriptor_compare);
    s_by_name = index;
}

const ProtobufCMessageDescriptor *
onenet_schema_find (const char *full_name)
{
    if (!full_name)
        return NULL;
    pthread_once (&s_by_name_once, by_name_build);
    if (s_by_name) {
        const ProtobufCMessageDescriptor **found = bsearch (
            full_name, s_by_name, onenet_schema_table_size, sizeof *s_by_name, name_compare);
        return found ? *found : NULL;
    }
    for (size_t i = 0; i < onenet_schema_table_size; i++)
        if (strcmp (onenet_schema_table[i]->name, full_name) == 0)
            return onenet_schema_table[i];
    return NULL;
}

size_t
onenet_schema_count (void)
{
    return onenet_schema_table_size;
}

const ProtobufCMessageDescriptor *
onenet_schema_at (size_t index)
{
    if (index >= onenet_schema_table_size)
        return NULL;
    pthread_once (&s_by_name_once, by_name_build);
    return s_by_name ? s_by_name[index] : onenet_schema_table[index];
}

/* --- field layout --- */

/* Size of one element of a repeated field, as protobuf-c lays it out. */
static size_t
element_size (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return sizeof (uint32_t);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return sizeof (uint64_t);
        case PROTOBUF_C_TYPE_FLOAT:
            return sizeof (float);
        case PROTOBUF_C_TYPE_DOUBLE:
            return sizeof (double);
        case PROTOBUF_C_TYPE_BOOL:
            return sizeof (protobuf_c_boolean);
        case PROTOBUF_C_TYPE_ENUM:
            return sizeof (int);    /* PROTOBUF_C__FORCE_ENUM_TO_BE_INT_SIZE */
        case PROTOBUF_C_TYPE_STRING:
            return sizeof (char *);
        case PROTOBUF_C_TYPE_BYTES:
            return sizeof (ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
            return sizeof (ProtobufCMessage *);
    }
    return 0;
}

static const char *
type_name (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT32: return "int32";
        case PROTOBUF_C_TYPE_SINT32: return "sint32";
        case PROTOBUF_C_TYPE_SFIXED32: return "sfixed32";
        case PROTOBUF_C_TYPE_INT64: return "int64";
        case PROTOBUF_C_TYPE_SINT64: return "sint64";
        case PROTOBUF_C_TYPE_SFIXED64: return "sfixed64";
        case PROTOBUF_C_TYPE_UINT32: return "uint32";
        case PROTOBUF_C_TYPE_FIXED32: return "fixed32";
        case PROTOBUF_C_TYPE_UINT64: return "uint64";
        case PROTOBUF_C_TYPE_FIXED64: return "fixed64";
        case PROTOBUF_C_TYPE_FLOAT: return "float";
        case PROTOBUF_C_TYPE_DOUBLE: return "double";
        case PROTOBUF_C_TYPE_BOOL: return "bool";
        case PROTOBUF_C_TYPE_ENUM: return "enum";
        case PROTOBUF_C_TYPE_STRING: return "string";
        case PROTOBUF_C_TYPE_BYTES: return "bytes";
        case PROTOBUF_C_TYPE_MESSAGE: return "message";
    }
    return "?";
}

/* True when a singular field holds something worth printing: the selected
 * member of a oneof, a proto2 field marked present, or a proto3 field
 * away from its zero value. */
static bool
field_is_set (const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field)
{
    const void *member = CONST_MEMBER (msg, field->offset);

    if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *) CONST_MEMBER (msg, field->quantifier_offset) == field->id;
    if (field->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL) {
        /* proto2: strings and messages have no has_ flag; protobuf-c
         * treats the default pointer as absent when packing. */
        if (field->type == PROTOBUF_C_TYPE_STRING) {
            const char *s = *(char *const *) member;
            return s && s != field->default_value;
        }
        if (field->type == PROTOBUF_C_TYPE_MESSAGE)
            return *(ProtobufCMessage *const *) member != NULL;
        return *(const protobuf_c_boolean *) CONST_MEMBER (msg, field->quantifier_offset);
    }
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return *(const uint32_t *) member != 0;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            return *(const uint64_t *) member != 0;
        case PROTOBUF_C_TYPE_FLOAT:
            return *(const float *) member != 0;
        case PROTOBUF_C_TYPE_DOUBLE:
            return *(const double *) member != 0;
        case PROTOBUF_C_TYPE_BOOL:
            return *(const protobuf_c_boolean *) member != 0;
        case PROTOBUF_C_TYPE_ENUM:
            return *(const int *) member != 0;
        case PROTOBUF_C_TYPE_STRING: {
            const char *s = *(char *const *) member;
            return s && *s;
        }
        case PROTOBUF_C_TYPE_BYTES:
            return ((const ProtobufCBinaryData *) member)->len > 0;
        case PROTOBUF_C_TYPE_MESSAGE:
            return *(ProtobufCMessage *const *) member != NULL;
    }
    return false;
}

/* --- base64 --- */

static const char s_base64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard alphabet with padding, as proto3's JSON mapping prints bytes. */
static char *
base64_encode (const uint8_t *data, size_t size)
{
    char *out = malloc ((size + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    char *p = out;
    size_t i = 0;
    for (; i + 2 < size; i += 3) {
        uint32_t v = (uint32_t) data[i] << 16 | (uint32_t) data[i + 1] << 8 | data[i + 2];
        *p++ = s_base64[v >> 18 & 63];
        *p++ = s_base64[v >> 12 & 63];
        *p++ = s_base64[v >> 6 & 63];
        *p++ = s_base64[v & 63];
    }
    if (i < size) {
        uint32_t v = (uint32_t) data[i] << 16;
        if (i + 1 < size)
            v |= (uint32_t) data[i + 1] << 8;
        *p++ = s_base64[v >> 18 & 63];
        *p++ = s_base64[v >> 12 & 63];
        *p++ = i + 1 < size ? s_base64[v >> 6 & 63] : '=';
        *p++ = '=';
    }
    *p = '\0';
    return out;
}

static int
base64_value (char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Accepts the standard and the URL-safe alphabet, with or without
 * padding, as proto3 readers do. Sets *data to a malloc'd buffer, or NULL
 * for empty input. Returns 0, -1 on invalid input, -2 out of memory. */
static int
base64_decode (const char *text, size_t length, uint8_t **data, size_t *size)
{
    size_t padding = 0;
    while (length > 0 && text[length - 1] == '=' && padding < 2) {
        length--;
        padding++;
    }
    if (length % 4 == 1 || (padding && (length + padding) % 4 != 0))
        return -1;
    size_t capacity = length / 4 * 3 + (length % 4 ? length % 4 - 1 : 0);
    *data = NULL;
    *size = 0;
    if (capacity == 0)
        return 0;
    uint8_t *out = malloc (capacity);
    if (!out)
        return -2;
    uint32_t bits = 0;
    int nbits = 0;
    size_t n = 0;
    for (size_t i = 0; i < length; i++) {
        int v = base64_value (text[i]);
        if (v < 0) {
            free (out);
            return -1;
        }
        bits = (bits << 6 | (uint32_t) v) & 0xFFFFFF;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out[n++] = (uint8_t) (bits >> nbits);
        }
    }
    *data = out;
    *size = n;
    return 0;
}

/* --- message to JSON --- */

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
    }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
        cp = s[0] & 0x0F;
    }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
        cp = s[0] & 0x07;
    }
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;    /* also stops at the terminating NUL */
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF
        || (cp >= 0xD800 && cp <= 0xDFFF))
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
    const unsigned char *in = (const unsigned char *) s;
    char *out = clean;
    while (*in) {
        size_t n = utf8_sequence (in);
        if (n) {
            memcpy (out, in, n);
            out += n;
            in += n;
        }
        else {
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
            return json_integer (*(const int32_t *) member);
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            return json_integer (*(const uint32_t *) member);
        /* 64-bit integers go out as strings: JavaScript readers lose
         * precision past 2^53. */
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            snprintf (buffer, sizeof buffer, "%" PRId64, *(const int64_t *) member);
            return json_string (buffer);
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            snprintf (buffer, sizeof buffer, "%" PRIu64, *(const uint64_t *) member);
            return json_string (buffer);
        case PROTOBUF_C_TYPE_FLOAT:
            return double_to_json (*(const float *) member);
        case PROTOBUF_C_TYPE_DOUBLE:
            return double_to_json (*(const double *) member);
        case PROTOBUF_C_TYPE_BOOL:
            return json_boolean (*(const protobuf_c_boolean *) member);
        case PROTOBUF_C_TYPE_ENUM: {
            int number = *(const int *) member;
            const ProtobufCEnumValue *value =
                protobuf_c_enum_descriptor_get_value (field->descriptor, number);
            /* A number from a newer schema has no name here. */
            return value ? json_string (value->name) : json_integer (number);
        }
        case PROTOBUF_C_TYPE_STRING: {
            const char *s = *(char *const *) member;
            return string_to_json (s ? s : "");
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *bytes = member;
            char *text = base64_encode (bytes->data, bytes->len);
            if (!text)
                return NULL;
            json_t *value = json_string (text);
            free (text);
            return value;
        }
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *sub = *(ProtobufCMessage *const *) member;
            return sub ? message_to_json (sub, flags) : json_null ();
        }
    }
    return json_null ();
}

static json_t *
repeated_to_json (const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field,
                  int flags)
{
    size_t count = *(const size_t *) CONST_MEMBER (msg, field->quantifier_offset);
    const char *array = *(char *const *) CONST_MEMBER (msg, field->offset);
    size_t size = element_size (field->type);
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
            size_t count = *(const size_t *) CONST_MEMBER (msg, field->quantifier_offset);
            if (count == 0 && !(flags & ONENET_JSON_DEFAULTS))
                continue;
            value = repeated_to_json (msg, field, flags);
        }
        else {
            bool set = field_is_set (msg, field);
            /* The other members of a oneof share its storage: never print them. */
            if (!set && (!(flags & ONENET_JSON_DEFAULTS)
                         || (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)))
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

/* --- JSON to message --- */

/* The reader's state: where in the input we are, for error messages. */
typedef struct {
    char path[256];       /* "services[2].name"; truncated when deeper */
    size_t path_length;
    char *err;
    size_t err_size;
} reader_t;

/* Appends ".key" (or "key" at the top) to the path; returns the mark
 * to restore with path_pop. */
static size_t
path_push_key (reader_t *self, const char *key)
{
    size_t mark = self->path_length;
    if (mark < sizeof self->path) {
        int n = snprintf (self->path + mark, sizeof self->path - mark, "%s%s",
                          mark ? "." : "", key);
        self->path_length = mark + (size_t) n;
        if (self->path_length >= sizeof self->path)
            self->path_length = sizeof self->path - 1;
    }
    return mark;
}

static size_t
path_push_index (reader_t *self, size_t index)
{
    size_t mark = self->path_length;
    if (mark < sizeof self->path) {
        int n = snprintf (self->path + mark, sizeof self->path - mark, "[%zu]", index);
        self->path_length = mark + (size_t) n;
        if (self->path_length >= sizeof self->path)
            self->path_length = sizeof self->path - 1;
    }
    return mark;
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
        out->magnitude = n < 0 ? (uint64_t) (-(n + 1)) + 1 : (uint64_t) n;
        return 0;
    }
    if (json_is_real (value)) {
        double d = json_real_value (value);
        if (!isfinite (d) || d != floor (d))
            return reader_fail (self, "expected %s, got a fraction", type);
        if (fabs (d) >= 18446744073709551616.0)
            return reader_fail (self, "value %g out of range for %s", d, type);
        out->negative = d < 0;
        out->magnitude = (uint64_t) fabs (d);
        return 0;
    }
    if (json_is_string (value)) {
        const char *s = json_string_value (value);
        const char *digits = s[0] == '-' ? s + 1 : s;
        /* Also catches a NUL inside the string: strspn stops there. */
        if (*digits == '\0'
            || strspn (digits, "0123456789") != json_string_length (value) - (size_t) (digits - s))
            return reader_fail (self, "expected %s, got \"%.40s\"", type, s);
        uint64_t magnitude = 0;
        for (const char *p = digits; *p; p++) {
            unsigned digit = (unsigned) (*p - '0');
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
    return reader_fail (self, "value %s%" PRIu64 " out of range for %s",
                        w.negative ? "-" : "", w.magnitude, type);
}

static int
read_signed (reader_t *self, const json_t *value, int64_t min, int64_t max,
             const char *type, int64_t *out)
{
    wide_int_t w = { false, 0 };
    if (read_wide_int (self, value, type, &w))
        return -1;
    if (!w.negative) {
        if (w.magnitude > (uint64_t) max)
            return out_of_range (self, w, type);
        *out = (int64_t) w.magnitude;
    }
    else {
        /* -(min + 1) + 1 is |min| without overflowing for INT64_MIN. */
        if (w.magnitude > (uint64_t) (-(min + 1)) + 1)
            return out_of_range (self, w, type);
        *out = -(int64_t) (w.magnitude - 1) - 1;
    }
    return 0;
}

static int
read_unsigned (reader_t *self, const json_t *value, uint64_t max, const char *type,
               uint64_t *out)
{
    wide_int_t w = { false, 0 };
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

static ProtobufCMessage *message_from_json (reader_t *self,
                                            const ProtobufCMessageDescriptor *desc,
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
            *(int32_t *) member = (int32_t) s;
            return 0;
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
            if (read_signed (self, value, INT64_MIN, INT64_MAX, type, &s))
                return -1;
            *(int64_t *) member = s;
            return 0;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            if (read_unsigned (self, value, UINT32_MAX, type, &u))
                return -1;
            *(uint32_t *) member = (uint32_t) u;
            return 0;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            if (read_unsigned (self, value, UINT64_MAX, type, &u))
                return -1;
            *(uint64_t *) member = u;
            return 0;
        case PROTOBUF_C_TYPE_FLOAT:
            if (read_double (self, value, type, &d))
                return -1;
            if (isfinite (d) && fabs (d) > FLT_MAX)
                return reader_fail (self, "value %g out of range for float", d);
            *(float *) member = (float) d;
            return 0;
        case PROTOBUF_C_TYPE_DOUBLE:
            if (read_double (self, value, type, &d))
                return -1;
            *(double *) member = d;
            return 0;
        case PROTOBUF_C_TYPE_BOOL:
            if (!json_is_boolean (value))
                return reader_fail (self, "expected true or false");
            *(protobuf_c_boolean *) member = json_is_true (value);
            return 0;
        case PROTOBUF_C_TYPE_ENUM: {
            const ProtobufCEnumDescriptor *enum_desc = field->descriptor;
            const ProtobufCEnumValue *known;
            if (json_is_string (value)) {
                known = protobuf_c_enum_descriptor_get_value_by_name (
                    enum_desc, json_string_value (value));
                if (!known)
                    return reader_fail (self, "unknown enum value \"%.60s\" for %s",
                                        json_string_value (value), enum_desc->name);
            }
            else if (json_is_number (value)) {
                if (read_signed (self, value, INT32_MIN, INT32_MAX, "enum", &s))
                    return -1;
                known = protobuf_c_enum_descriptor_get_value (enum_desc, (int) s);
                if (!known)
                    return reader_fail (self, "unknown enum value %" PRId64 " for %s", s,
                                        enum_desc->name);
            }
            else
                return reader_fail (self, "expected %s name or number", enum_desc->name);
            *(int *) member = known->value;
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
            *(char **) member = copy;
            return 0;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            if (!json_is_string (value))
                return reader_fail (self, "expected base64 string");
            ProtobufCBinaryData *bytes = member;
            int rc = base64_decode (json_string_value (value), json_string_length (value),
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
            *(ProtobufCMessage **) member = sub;
            return 0;
        }
    }
    return reader_fail (self, "unsupported field type");
}

/* The array is attached to msg before it is filled and its count grows
 * one element at a time, so free_unpacked releases a partial list. */
static int
repeated_from_json (reader_t *self, ProtobufCMessage *msg,
                    const ProtobufCFieldDescriptor *field, const json_t *value)
{
    if (!json_is_array (value))
        return reader_fail (self, "expected array");
    size_t count = json_array_size (value);
    if (count == 0)
        return 0;
    size_t size = element_size (field->type);
    char *array = calloc (count, size);
    if (!array)
        return reader_fail (self, "out of memory");
    *(void **) MEMBER (msg, field->offset) = array;
    size_t *n = (size_t *) MEMBER (msg, field->quantifier_offset);
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
        uint32_t *oneof_case = (uint32_t *) MEMBER (msg, field->quantifier_offset);
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
    if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->type != PROTOBUF_C_TYPE_STRING
        && field->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *) MEMBER (msg, field->quantifier_offset) = 1;
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
        char c = upper ? (char) toupper ((unsigned char) *snake) : *snake;
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
    json_t *object = (json_t *) value;
    const char *key;
    json_t *item;
    json_object_foreach (object, key, item) {
        size_t mark = path_push_key (self, key);
        const ProtobufCFieldDescriptor *field = field_find (desc, key);
        if (!field) {
            reader_fail (self, "unknown field of %s", desc->name);
            goto failed;
        }
        size_t index = (size_t) (field - desc->fields);
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
    reader_t reader = { .path_length = 0, .err = err, .err_size = err_size };
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
onenet_json_decode (const ProtobufCMessageDescriptor *descriptor, const char *text,
                    size_t size, char *err, size_t err_size)
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
