/*
 * cap_values.c - the checks of single CAP 1.2 values: enumerations,
 * dateTime, polygons and circles, identifiers and references, languages,
 * MIME types, and the UTF-8 that XML can carry. The reader (cap_read.c)
 * and the validator (cap.c) both ask them, so a value is judged the same
 * whether it came as XML or as a protobuf message. Declared in
 * cap_internal.h.
 */
#include "cap_internal.h"
#include "sdk_internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
cap_is_xml_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
is_digit (char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_alpha (char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool
cap_all_space (const char *s)
{
    for (; *s; s++)
        if (!cap_is_xml_space (*s))
            return false;
    return true;
}

const char *
cap_shown (const char *s, size_t len, char *out, size_t out_size)
{
    if (out_size < 4)
        return "";
    size_t limit = out_size - 4 < 60 ? out_size - 4 : 60;
    size_t n = len <= limit ? len : limit;
    bool cut = n < len;
    if (cut)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; /* s[n] continues a sequence: leave the whole sequence out */
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
    if (cut) {
        memcpy (out + n, "...", 3);
        n += 3;
    }
    out[n] = '\0';
    return out;
}

/* Strict xs:decimal (no exponent): [+-]?(digits[.digits] | .digits). */
static bool
parse_decimal (const char *s, size_t len, double *value)
{
    size_t i = 0, digits = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < len && is_digit (s[i]); i++)
        digits++;
    if (i < len && s[i] == '.')
        for (i++; i < len && is_digit (s[i]); i++)
            digits++;
    char buffer[64];
    if (digits == 0 || i != len || len >= sizeof buffer)
        return false;
    memcpy (buffer, s, len);
    buffer[len] = '\0';
    *value = strtod (buffer, NULL);
    return true;
}

/* "lat,lon" with latitude in [-90, 90] and longitude in [-180, 180]. */
static bool
parse_point (const char *s, size_t len, double *lat, double *lon, char *why, size_t why_size)
{
    char show[80];
    const char *comma = memchr (s, ',', len);
    if (comma == NULL || !parse_decimal (s, (size_t)(comma - s), lat) ||
        !parse_decimal (comma + 1, len - (size_t)(comma - s) - 1, lon)) {
        snprintf (why, why_size, "\"%s\" is not a \"latitude,longitude\" pair",
                  cap_shown (s, len, show, sizeof show));
        return false;
    }
    if (*lat < -90 || *lat > 90 || *lon < -180 || *lon > 180) {
        snprintf (why, why_size, "\"%s\" is out of range (latitude -90..90, longitude -180..180)",
                  cap_shown (s, len, show, sizeof show));
        return false;
    }
    return true;
}

static bool
check_datetime (const char *s, char *why, size_t why_size)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd+dd:dd";
    char show[80];
    size_t len = strlen (s);
    bool ok = len == sizeof shape - 1;
    for (size_t i = 0; ok && i < len; i++) {
        if (shape[i] == 'd')
            ok = is_digit (s[i]);
        else if (shape[i] == '+')
            ok = s[i] == '+' || s[i] == '-';
        else
            ok = s[i] == shape[i];
    }
    if (!ok) {
        if (len >= 20 && (s[len - 1] == 'Z' || s[len - 1] == 'z'))
            snprintf (why, why_size,
                      "\"%s\": \"Z\" is not allowed in CAP 1.2, which writes UTC as -00:00",
                      cap_shown (s, len, show, sizeof show));
        else if (len >= 20 && s[19] == '.')
            snprintf (why, why_size, "\"%s\": CAP 1.2 allows no fractional seconds",
                      cap_shown (s, len, show, sizeof show));
        else
            snprintf (why, why_size,
                      "\"%s\" is not a CAP dateTime with time zone, such as "
                      "2002-05-24T16:49:00-07:00",
                      cap_shown (s, len, show, sizeof show));
        return false;
    }
    int year = sdk_decimal (s, 4), month = sdk_decimal (s + 5, 2), day = sdk_decimal (s + 8, 2);
    int hour = sdk_decimal (s + 11, 2), minute = sdk_decimal (s + 14, 2);
    int second = sdk_decimal (s + 17, 2);
    int tz_hour = sdk_decimal (s + 20, 2), tz_minute = sdk_decimal (s + 23, 2);
    ok = year >= 1 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 &&
         second <= 59 && tz_minute <= 59 && (tz_hour < 14 || (tz_hour == 14 && tz_minute == 0));
    if (ok)
        ok = day <= sdk_days_in_month (year, month);
    if (!ok) {
        snprintf (why, why_size, "\"%s\" is not a valid date, time and time zone",
                  cap_shown (s, len, show, sizeof show));
        return false;
    }
    return true;
}

/* Splits s at XML whitespace: on each call returns the next word and its
 * length, NULL at the end. */
static const char *
next_word (const char **cursor, size_t *len)
{
    const char *s = *cursor;
    while (*s && cap_is_xml_space (*s))
        s++;
    if (*s == '\0') {
        *cursor = s;
        return NULL;
    }
    const char *start = s;
    while (*s && !cap_is_xml_space (*s))
        s++;
    *len = (size_t)(s - start);
    *cursor = s;
    return start;
}

static bool
check_polygon (const char *s, char *why, size_t why_size)
{
    const char *cursor = s, *word;
    size_t len, pairs = 0;
    double first_lat = 0, first_lon = 0, lat = 0, lon = 0;
    char reason[200];
    while ((word = next_word (&cursor, &len)) != NULL) {
        if (!parse_point (word, len, &lat, &lon, reason, sizeof reason)) {
            snprintf (why, why_size, "pair %zu: %s", pairs + 1, reason);
            return false;
        }
        if (pairs++ == 0) {
            first_lat = lat;
            first_lon = lon;
        }
    }
    if (pairs < 4) {
        snprintf (why, why_size, "%zu coordinate pairs; a polygon needs at least 4", pairs);
        return false;
    }
    if (lat != first_lat || lon != first_lon) {
        snprintf (why, why_size,
                  "the polygon is not closed: its first and last coordinate pairs differ");
        return false;
    }
    return true;
}

static bool
check_circle (const char *s, char *why, size_t why_size)
{
    const char *cursor = s, *point, *radius;
    size_t point_len = 0, radius_len = 0, extra_len;
    double lat, lon, km;
    char reason[200], show[80];
    point = next_word (&cursor, &point_len);
    radius = point ? next_word (&cursor, &radius_len) : NULL;
    if (point == NULL || radius == NULL || next_word (&cursor, &extra_len) != NULL ||
        !parse_decimal (radius, radius_len, &km)) {
        snprintf (why, why_size, "\"%s\" is not \"latitude,longitude radius\"",
                  cap_shown (s, strlen (s), show, sizeof show));
        return false;
    }
    if (!parse_point (point, point_len, &lat, &lon, reason, sizeof reason)) {
        snprintf (why, why_size, "%s", reason);
        return false;
    }
    if (km < 0) {
        snprintf (why, why_size, "radius %s is negative",
                  cap_shown (radius, radius_len, show, sizeof show));
        return false;
    }
    return true;
}

static bool
check_id (const char *s, char *why, size_t why_size)
{
    char show[80];
    if (strpbrk (s, " \t\r\n,<&") != NULL) {
        snprintf (why, why_size, "\"%s\" must not contain spaces, commas, '<' or '&'",
                  cap_shown (s, strlen (s), show, sizeof show));
        return false;
    }
    return true;
}

static bool
check_references (const char *s, char *why, size_t why_size)
{
    const char *cursor = s, *word;
    size_t len, item = 0;
    char show[80], reason[200], sent[32];
    while ((word = next_word (&cursor, &len)) != NULL) {
        item++;
        const char *c1 = memchr (word, ',', len);
        const char *c2 = c1 ? memchr (c1 + 1, ',', len - (size_t)(c1 + 1 - word)) : NULL;
        const char *c3 = c2 ? memchr (c2 + 1, ',', len - (size_t)(c2 + 1 - word)) : NULL;
        size_t sent_len = c2 ? len - (size_t)(c2 + 1 - word) : 0;
        if (c2 == NULL || c3 != NULL || c1 == word || c2 == c1 + 1 || sent_len == 0 ||
            memchr (word, '<', len) || memchr (word, '&', len)) {
            snprintf (why, why_size, "reference %zu \"%s\" is not sender,identifier,sent", item,
                      cap_shown (word, len, show, sizeof show));
            return false;
        }
        if (sent_len >= sizeof sent) {
            snprintf (why, why_size, "reference %zu: \"%s\" is not a CAP dateTime", item,
                      cap_shown (c2 + 1, sent_len, show, sizeof show));
            return false;
        }
        memcpy (sent, c2 + 1, sent_len);
        sent[sent_len] = '\0';
        if (!check_datetime (sent, reason, sizeof reason)) {
            snprintf (why, why_size, "reference %zu: sent %s", item, reason);
            return false;
        }
    }
    return true;
}

static bool
check_quoted_list (const char *s, char *why, size_t why_size)
{
    size_t quotes = 0;
    for (; *s; s++)
        quotes += *s == '"';
    if (quotes % 2 != 0) {
        snprintf (why, why_size, "unbalanced double quote (multi-word entries are \"in quotes\")");
        return false;
    }
    return true;
}

static bool
check_language (const char *s, char *why, size_t why_size)
{
    char show[80];
    const char *p = s;
    size_t run = 0;
    bool ok = true, first = true;
    for (;; p++) {
        if (*p == '-' || *p == '\0') {
            ok = ok && run >= 1 && run <= 8;
            if (*p == '\0' || !ok)
                break;
            run = 0;
            first = false;
        } else if (is_alpha (*p) || (!first && is_digit (*p))) {
            run++;
        } else {
            ok = false;
            break;
        }
    }
    if (!ok) {
        snprintf (why, why_size, "\"%s\" is not an RFC 3066 language tag such as en-US",
                  cap_shown (s, strlen (s), show, sizeof show));
        return false;
    }
    return true;
}

static bool
is_mime_char (char c)
{
    return is_alpha (c) || is_digit (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
check_mime (const char *s, char *why, size_t why_size)
{
    char show[80];
    const char *p = s;
    size_t type = 0, subtype = 0;
    while (is_mime_char (*p)) {
        p++;
        type++;
    }
    if (*p == '/')
        for (p++; is_mime_char (*p); p++)
            subtype++;
    if (type == 0 || subtype == 0 || (*p != '\0' && *p != ';')) {
        snprintf (why, why_size, "\"%s\" is not a MIME type such as image/gif",
                  cap_shown (s, strlen (s), show, sizeof show));
        return false;
    }
    return true;
}

bool
cap_check_value (const cap_field_t *field, const char *s, char *why, size_t why_size)
{
    char show[80];
    double number_value;
    switch (field->kind) {
    case KIND_ID:
        return check_id (s, why, why_size);
    case KIND_ENUM:
        for (const char *const *v = field->values; *v; v++)
            if (strcmp (s, *v) == 0)
                return true;
        {
            char list[160] = "";
            size_t used = 0;
            for (const char *const *v = field->values; *v && used < sizeof list; v++)
                used += (size_t)snprintf (list + used, sizeof list - used, "%s%s",
                                          v == field->values ? "" : ", ", *v);
            snprintf (why, why_size, "\"%s\" is not one of %s%s",
                      cap_shown (s, strlen (s), show, sizeof show), list,
                      strcmp (field->field, "certainty") == 0 && strcmp (s, "Very Likely") == 0
                          ? " (\"Very Likely\" is CAP 1.0; CAP 1.2 has only Likely)"
                          : "");
        }
        return false;
    case KIND_DATETIME:
        return check_datetime (s, why, why_size);
    case KIND_REFERENCES:
        return check_references (s, why, why_size);
    case KIND_QUOTED_LIST:
        return check_quoted_list (s, why, why_size);
    case KIND_LANGUAGE:
        return check_language (s, why, why_size);
    case KIND_POLYGON:
        return check_polygon (s, why, why_size);
    case KIND_CIRCLE:
        return check_circle (s, why, why_size);
    case KIND_DECIMAL:
        if (!parse_decimal (s, strlen (s), &number_value)) {
            snprintf (why, why_size, "\"%s\" is not a decimal number",
                      cap_shown (s, strlen (s), show, sizeof show));
            return false;
        }
        return true;
    case KIND_SIZE:
        for (const char *p = s; *p; p++)
            if (!is_digit (*p)) {
                snprintf (why, why_size, "\"%s\" is not a size in bytes",
                          cap_shown (s, strlen (s), show, sizeof show));
                return false;
            }
        return true;
    case KIND_MIME:
        return check_mime (s, why, why_size);
    case KIND_BASE64:
        for (const char *p = s; *p; p++)
            if (!is_alpha (*p) && !is_digit (*p) && *p != '+' && *p != '/' && *p != '=' &&
                !cap_is_xml_space (*p)) {
                snprintf (why, why_size, "not base64: unexpected character '%c'",
                          (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7F ? '?' : *p);
                return false;
            }
        return true;
    case KIND_TEXT:
    case KIND_NAME:
    case KIND_TOKEN:
    case KIND_MESSAGE:
        return true;
    }
    return true;
}

bool
cap_is_trimmed_kind (kind_t kind)
{
    return kind != KIND_TEXT && kind != KIND_MESSAGE;
}

bool
cap_is_xml_utf8 (const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        uint32_t c;
        size_t n;
        if (*s < 0x80) {
            c = *s;
            n = 1;
        } else if ((*s & 0xE0) == 0xC0) {
            c = *s & 0x1F;
            n = 2;
        } else if ((*s & 0xF0) == 0xE0) {
            c = *s & 0x0F;
            n = 3;
        } else if ((*s & 0xF8) == 0xF0) {
            c = *s & 0x07;
            n = 4;
        } else {
            return false;
        }
        for (size_t i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (s[i] & 0x3F);
        }
        if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000))
            return false; /* overlong */
        bool allowed = c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
                       (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
        if (!allowed)
            return false;
        s += n;
    }
    return true;
}
