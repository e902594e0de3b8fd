/*
 * json.c - the schema table, and what JSON printing and reading share.
 *
 * The JSON codec for any message of the shared schema is split by
 * direction: json_write.c prints a message, json_read.c builds one; both
 * walk protobuf-c's descriptors, so a message added to proto/ needs no
 * code. This file holds what they share (see json_internal.h): the layout
 * of a repeated field and the base64 codec for bytes fields. It also
 * holds the schema lookup: the schema table generated at build time
 * (build/gen/schema_table.c) lists every message descriptor; we keep a
 * copy sorted by name so a type can be found by bsearch.
 */
#include "json_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Defined in the generated schema_table.c. */
extern const ProtobufCMessageDescriptor *const onenet_schema_table[];
extern const size_t onenet_schema_table_size;

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

size_t
pbjson_element_size (ProtobufCType type)
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

/* --- base64 --- */

static const char s_base64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
pbjson_base64_encode (const uint8_t *data, size_t size)
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

int
pbjson_base64_decode (const char *text, size_t length, uint8_t **data, size_t *size)
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
