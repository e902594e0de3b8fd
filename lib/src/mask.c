/*
 * mask.c - onenet_mask_field (onenet/policy.h): what a masked field of
 * the person view shows.
 *
 * A masked value keeps what a clerk needs to recognise a record (the
 * district an ID was issued in, the last digits of a phone, the family
 * name) and no more. Every kind has a shape it expects; a value that does
 * not have it becomes "***" rather than risk showing more than intended.
 * Pure functions: no allocation, no state.
 */
#include <stdbool.h>
#include <string.h>
#include "onenet/policy.h"

typedef enum {
    KIND_OTHER,
    KIND_RESIDENT_ID,
    KIND_PHONE,
    KIND_NAME,
    KIND_ADDRESS,
    KIND_BIRTH_DATE
} kind_t;

static const char s_hidden[] = "***";

static bool
s_ends_with (const char *text, const char *suffix)
{
    size_t length = strlen (text), suffix_length = strlen (suffix);
    return length >= suffix_length && strcmp (text + length - suffix_length, suffix) == 0;
}

static kind_t
s_kind (const char *field)
{
    if (strcmp (field, "resident_id") == 0 || s_ends_with (field, "_resident_id"))
        return KIND_RESIDENT_ID;
    if (strcmp (field, "phone") == 0 || s_ends_with (field, "_phone"))
        return KIND_PHONE;
    if (strcmp (field, "address") == 0 || s_ends_with (field, "_address"))
        return KIND_ADDRESS;
    if (strcmp (field, "name") == 0)
        return KIND_NAME;
    if (strcmp (field, "birth_date") == 0)
        return KIND_BIRTH_DATE;
    return KIND_OTHER;
}

/* Length in bytes of the UTF-8 character at p (at most `left` bytes
 * readable), or 0 if the bytes there are not one well-formed character. */
static size_t
s_utf8_char (const unsigned char *p, size_t left)
{
    size_t length;
    unsigned char lead = p[0];
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF)
        length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF)
        length = 3;
    else if (lead >= 0xF0 && lead <= 0xF4)
        length = 4;
    else
        return 0;
    if (length > left)
        return 0;
    for (size_t i = 1; i < length; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    /* Overlong three- and four-byte forms, surrogates, beyond U+10FFFF. */
    if ((lead == 0xE0 && p[1] < 0xA0) || (lead == 0xED && p[1] > 0x9F) ||
        (lead == 0xF0 && p[1] < 0x90) || (lead == 0xF4 && p[1] > 0x8F))
        return 0;
    return length;
}

/* Number of UTF-8 characters in text[0..length), or -1 if it is not
 * well-formed UTF-8. The first character's length goes to *first_p. */
static long
s_utf8_count (const char *text, size_t length, size_t *first_p)
{
    const unsigned char *p = (const unsigned char *)text;
    long count = 0;
    size_t at = 0;
    *first_p = 0;
    while (at < length) {
        size_t step = s_utf8_char (p + at, length - at);
        if (step == 0)
            return -1;
        if (count == 0)
            *first_p = step;
        at += step;
        count++;
    }
    return count;
}

/* True when every byte is printable ASCII other than space. */
static bool
s_plain_ascii (const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7F)
            return false;
    return true;
}

/* Builds the masked value in out (room for out_size bytes); the pieces
 * are appended by s_put and the total checked once at the end. */
typedef struct {
    char *out;
    size_t size;
    size_t used;
    bool overflow;
} builder_t;

static void
s_put (builder_t *b, const char *text, size_t length)
{
    if (b->overflow || b->used + length >= b->size) {
        b->overflow = true;
        return;
    }
    memcpy (b->out + b->used, text, length);
    b->used += length;
    b->out[b->used] = '\0';
}

static void
s_stars (builder_t *b, size_t count)
{
    for (size_t i = 0; i < count; i++)
        s_put (b, "*", 1);
}

static void
s_mask_resident_id (builder_t *b, const char *value, size_t length)
{
    /* 18 characters today, 15 for first-generation cards. */
    if (length < 15 || length > 18 || !s_plain_ascii (value, length)) {
        s_put (b, s_hidden, 3);
        return;
    }
    s_put (b, value, 6);
    s_stars (b, length - 10);
    s_put (b, value + length - 4, 4);
}

static void
s_mask_phone (builder_t *b, const char *value, size_t length)
{
    bool plain = true;
    for (size_t i = 0; i < length; i++)
        if (!strchr ("0123456789+-() ", value[i]))
            plain = false;
    if (!plain || length < 8)
        s_put (b, s_hidden, 3);
    else {
        if (length >= 11)
            s_put (b, value, 3);
        s_put (b, "****", 4);
        s_put (b, value + length - 4, 4);
    }
}

static void
s_mask_name (builder_t *b, const char *value, size_t length)
{
    size_t first;
    long count = s_utf8_count (value, length, &first);
    if (count < 0)
        s_put (b, s_hidden, 3);
    else if (count == 1)
        s_put (b, "*", 1); /* the first character would be all of it */
    else {
        s_put (b, value, first);
        s_stars (b, (size_t)count - 1);
    }
}

static void
s_mask_address (builder_t *b, const char *value, size_t length)
{
    size_t first;
    const char *space = memchr (value, ' ', length);
    if (!space || space == value || s_utf8_count (value, length, &first) < 0)
        s_put (b, s_hidden, 3);
    else {
        s_put (b, value, (size_t)(space - value));
        s_put (b, " ***", 4);
    }
}

static void
s_mask_birth_date (builder_t *b, const char *value, size_t length)
{
    /* Only a date (the shortest is "1990-3-7") shows its year: "1990-" is
     * not one, and its masked form would not fit ONENET_MASK_SIZE (found by
     * fuzzing). */
    bool year = length >= 8 && value[4] == '-';
    for (size_t i = 0; year && i < 4; i++)
        year = value[i] >= '0' && value[i] <= '9';
    if (!year)
        s_put (b, s_hidden, 3);
    else {
        s_put (b, value, 4);
        s_put (b, "-**-**", 6);
    }
}

int
onenet_mask_field (const char *field_name, const char *value, char *out, size_t out_size)
{
    if (!out || out_size == 0)
        return -1;
    out[0] = '\0';
    if (!field_name || !value)
        return -1;
    size_t length = strlen (value);
    if (length == 0)
        return 0;
    builder_t b = {out, out_size, 0, false};
    switch (s_kind (field_name)) {
    case KIND_RESIDENT_ID:
        s_mask_resident_id (&b, value, length);
        break;
    case KIND_PHONE:
        s_mask_phone (&b, value, length);
        break;
    case KIND_NAME:
        s_mask_name (&b, value, length);
        break;
    case KIND_ADDRESS:
        s_mask_address (&b, value, length);
        break;
    case KIND_BIRTH_DATE:
        s_mask_birth_date (&b, value, length);
        break;
    default:
        s_put (&b, s_hidden, 3);
        break;
    }
    if (b.overflow) {
        out[0] = '\0';
        return -1;
    }
    return (int)b.used;
}
