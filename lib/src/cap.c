/*
 * cap.c - CAP 1.2 XML to and from onenet.alert.Alert (see onenet/cap.h).
 *
 * One table per CAP complex type (alert, info, resource, area, and the
 * valueName/value pair of eventCode, parameter and geocode) lists its
 * elements in the CAP schema's order, each with its proto field and the
 * kind of value it holds. The reader, the writer and the validator all walk
 * these tables, so each rule is written once; proto/alert.proto numbers its
 * fields in the same order, so the writer's output follows the schema.
 *
 * The reader uses libxml2's tree parser, hardened for input from outside:
 * a DOCTYPE stops the parser from its SAX callback before any declaration
 * in it is read, so no entity is ever defined, expanded or fetched; the
 * network is off (XML_PARSE_NONET); no DTD is loaded; errors go to our
 * handler, never to stderr. Values are then checked with the element's line
 * (xmlGetLineNo) at hand for the message.
 *
 * Messages are built as protobuf_c_message_unpack would build them with the
 * default allocator (every string, array and submessage malloc'd), so
 * onenet__alert__alert__free_unpacked releases them, half-built ones too.
 */
#include "onenet/cap.h"
#include "sdk_internal.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

static const char *const k_status[] = {"Actual", "Exercise", "System", "Test", "Draft", NULL};
static const char *const k_msg_type[] = {"Alert", "Update", "Cancel", "Ack", "Error", NULL};
static const char *const k_scope[] = {"Public", "Restricted", "Private", NULL};
static const char *const k_category[] = {"Geo",   "Met",    "Safety", "Security",  "Rescue",
                                         "Fire",  "Health", "Env",    "Transport", "Infra",
                                         "CBRNE", "Other",  NULL};
static const char *const k_response_type[] = {"Shelter", "Evacuate", "Prepare",  "Execute", "Avoid",
                                              "Monitor", "Assess",   "AllClear", "None",    NULL};
static const char *const k_urgency[] = {"Immediate", "Expected", "Future", "Past", "Unknown", NULL};
static const char *const k_severity[] = {"Extreme", "Severe", "Moderate", "Minor", "Unknown", NULL};
static const char *const k_certainty[] = {"Observed", "Likely",  "Possible",
                                          "Unlikely", "Unknown", NULL};

static bool alert_rules (const ProtobufCMessage *msg, rule_error_t *error);
static bool area_rules (const ProtobufCMessage *msg, rule_error_t *error);

#define N_OF(array) (sizeof (array) / sizeof ((array)[0]))

static const cap_field_t k_pair_fields[] = {
    {"valueName", "value_name", KIND_NAME, true, NULL, NULL},
    {"value", "value", KIND_NAME, true, NULL, NULL},
};
static const cap_type_t k_pair_type = {&onenet__alert__value_pair__descriptor, k_pair_fields,
                                       N_OF (k_pair_fields), NULL};

static const cap_field_t k_resource_fields[] = {
    {"resourceDesc", "resource_desc", KIND_TEXT, true, NULL, NULL},
    {"mimeType", "mime_type", KIND_MIME, true, NULL, NULL},
    {"size", "size", KIND_SIZE, false, NULL, NULL},
    {"uri", "uri", KIND_TOKEN, false, NULL, NULL},
    {"derefUri", "deref_uri", KIND_BASE64, false, NULL, NULL},
    {"digest", "digest", KIND_TOKEN, false, NULL, NULL},
};
static const cap_type_t k_resource_type = {&onenet__alert__resource__descriptor, k_resource_fields,
                                           N_OF (k_resource_fields), NULL};

static const cap_field_t k_area_fields[] = {
    {"areaDesc", "area_desc", KIND_TEXT, true, NULL, NULL},
    {"polygon", "polygon", KIND_POLYGON, false, NULL, NULL},
    {"circle", "circle", KIND_CIRCLE, false, NULL, NULL},
    {"geocode", "geocode", KIND_MESSAGE, false, NULL, &k_pair_type},
    {"altitude", "altitude", KIND_DECIMAL, false, NULL, NULL},
    {"ceiling", "ceiling", KIND_DECIMAL, false, NULL, NULL},
};
static const cap_type_t k_area_type = {&onenet__alert__area__descriptor, k_area_fields,
                                       N_OF (k_area_fields), area_rules};

static const cap_field_t k_info_fields[] = {
    {"language", "language", KIND_LANGUAGE, false, NULL, NULL},
    {"category", "category", KIND_ENUM, true, k_category, NULL},
    {"event", "event", KIND_TEXT, true, NULL, NULL},
    {"responseType", "response_type", KIND_ENUM, false, k_response_type, NULL},
    {"urgency", "urgency", KIND_ENUM, true, k_urgency, NULL},
    {"severity", "severity", KIND_ENUM, true, k_severity, NULL},
    {"certainty", "certainty", KIND_ENUM, true, k_certainty, NULL},
    {"audience", "audience", KIND_TEXT, false, NULL, NULL},
    {"eventCode", "event_code", KIND_MESSAGE, false, NULL, &k_pair_type},
    {"effective", "effective", KIND_DATETIME, false, NULL, NULL},
    {"onset", "onset", KIND_DATETIME, false, NULL, NULL},
    {"expires", "expires", KIND_DATETIME, false, NULL, NULL},
    {"senderName", "sender_name", KIND_TEXT, false, NULL, NULL},
    {"headline", "headline", KIND_TEXT, false, NULL, NULL},
    {"description", "description", KIND_TEXT, false, NULL, NULL},
    {"instruction", "instruction", KIND_TEXT, false, NULL, NULL},
    {"web", "web", KIND_TOKEN, false, NULL, NULL},
    {"contact", "contact", KIND_TEXT, false, NULL, NULL},
    {"parameter", "parameter", KIND_MESSAGE, false, NULL, &k_pair_type},
    {"resource", "resource", KIND_MESSAGE, false, NULL, &k_resource_type},
    {"area", "area", KIND_MESSAGE, false, NULL, &k_area_type},
};
static const cap_type_t k_info_type = {&onenet__alert__info__descriptor, k_info_fields,
                                       N_OF (k_info_fields), NULL};

static const cap_field_t k_alert_fields[] = {
    {"identifier", "identifier", KIND_ID, true, NULL, NULL},
    {"sender", "sender", KIND_ID, true, NULL, NULL},
    {"sent", "sent", KIND_DATETIME, true, NULL, NULL},
    {"status", "status", KIND_ENUM, true, k_status, NULL},
    {"msgType", "msg_type", KIND_ENUM, true, k_msg_type, NULL},
    {"source", "source", KIND_TEXT, false, NULL, NULL},
    {"scope", "scope", KIND_ENUM, true, k_scope, NULL},
    {"restriction", "restriction", KIND_TEXT, false, NULL, NULL},
    {"addresses", "addresses", KIND_QUOTED_LIST, false, NULL, NULL},
    {"code", "code", KIND_TEXT, false, NULL, NULL},
    {"note", "note", KIND_TEXT, false, NULL, NULL},
    {"references", "references", KIND_REFERENCES, false, NULL, NULL},
    {"incidents", "incidents", KIND_QUOTED_LIST, false, NULL, NULL},
    {"info", "info", KIND_MESSAGE, false, NULL, &k_info_type},
};
static const cap_type_t k_alert_type = {&onenet__alert__alert__descriptor, k_alert_fields,
                                        N_OF (k_alert_fields), alert_rules};

/* Longest field list of any type above, for per-call bookkeeping. */
#define MAX_FIELDS 24

static bool
is_empty (const char *s)
{
    return s == NULL || *s == '\0';
}

static bool
alert_rules (const ProtobufCMessage *msg, rule_error_t *error)
{
    const Onenet__Alert__Alert *alert = (const Onenet__Alert__Alert *)msg;
    const char *scope = alert->scope ? alert->scope : "";
    if (strcmp (scope, "Restricted") == 0 && is_empty (alert->restriction)) {
        error->field = "scope";
        snprintf (error->reason, sizeof error->reason, "\"Restricted\" requires <restriction>");
        return false;
    }
    if (strcmp (scope, "Private") == 0 && is_empty (alert->addresses)) {
        error->field = "scope";
        snprintf (error->reason, sizeof error->reason, "\"Private\" requires <addresses>");
        return false;
    }
    return true;
}

static bool
area_rules (const ProtobufCMessage *msg, rule_error_t *error)
{
    const Onenet__Alert__Area *area = (const Onenet__Alert__Area *)msg;
    if (!is_empty (area->ceiling) && is_empty (area->altitude)) {
        error->field = "ceiling";
        snprintf (error->reason, sizeof error->reason, "<ceiling> requires <altitude>");
        return false;
    }
    return true;
}

/* --- value checks, shared by the reader and the validator --- */

static bool
is_xml_space (char c)
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

static bool
all_space (const char *s)
{
    for (; *s; s++)
        if (!is_xml_space (*s))
            return false;
    return true;
}

/* Copies s into out for an error message: at most 60 bytes, cut on a UTF-8
 * boundary, control characters shown as '?', "..." when cut. */
static const char *
shown (const char *s, size_t len, char *out, size_t out_size)
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
                  shown (s, len, show, sizeof show));
        return false;
    }
    if (*lat < -90 || *lat > 90 || *lon < -180 || *lon > 180) {
        snprintf (why, why_size, "\"%s\" is out of range (latitude -90..90, longitude -180..180)",
                  shown (s, len, show, sizeof show));
        return false;
    }
    return true;
}

static bool
is_leap (int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
number (const char *s, int digits)
{
    int n = 0;
    for (int i = 0; i < digits; i++)
        n = n * 10 + (s[i] - '0');
    return n;
}

static bool
check_datetime (const char *s, char *why, size_t why_size)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd+dd:dd";
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
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
                      shown (s, len, show, sizeof show));
        else if (len >= 20 && s[19] == '.')
            snprintf (why, why_size, "\"%s\": CAP 1.2 allows no fractional seconds",
                      shown (s, len, show, sizeof show));
        else
            snprintf (why, why_size,
                      "\"%s\" is not a CAP dateTime with time zone, such as "
                      "2002-05-24T16:49:00-07:00",
                      shown (s, len, show, sizeof show));
        return false;
    }
    int year = number (s, 4), month = number (s + 5, 2), day = number (s + 8, 2);
    int hour = number (s + 11, 2), minute = number (s + 14, 2), second = number (s + 17, 2);
    int tz_hour = number (s + 20, 2), tz_minute = number (s + 23, 2);
    ok = year >= 1 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 &&
         second <= 59 && tz_minute <= 59 && (tz_hour < 14 || (tz_hour == 14 && tz_minute == 0));
    if (ok)
        ok = day <= month_days[month - 1] + (month == 2 && is_leap (year) ? 1 : 0);
    if (!ok) {
        snprintf (why, why_size, "\"%s\" is not a valid date, time and time zone",
                  shown (s, len, show, sizeof show));
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
    while (*s && is_xml_space (*s))
        s++;
    if (*s == '\0') {
        *cursor = s;
        return NULL;
    }
    const char *start = s;
    while (*s && !is_xml_space (*s))
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
                  shown (s, strlen (s), show, sizeof show));
        return false;
    }
    if (!parse_point (point, point_len, &lat, &lon, reason, sizeof reason)) {
        snprintf (why, why_size, "%s", reason);
        return false;
    }
    if (km < 0) {
        snprintf (why, why_size, "radius %s is negative",
                  shown (radius, radius_len, show, sizeof show));
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
                  shown (s, strlen (s), show, sizeof show));
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
                      shown (word, len, show, sizeof show));
            return false;
        }
        if (sent_len >= sizeof sent) {
            snprintf (why, why_size, "reference %zu: \"%s\" is not a CAP dateTime", item,
                      shown (c2 + 1, sent_len, show, sizeof show));
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
                  shown (s, strlen (s), show, sizeof show));
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
                  shown (s, strlen (s), show, sizeof show));
        return false;
    }
    return true;
}

static bool
check_value (const cap_field_t *field, const char *s, char *why, size_t why_size)
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
                      shown (s, strlen (s), show, sizeof show), list,
                      field->values == k_certainty && strcmp (s, "Very Likely") == 0
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
                      shown (s, strlen (s), show, sizeof show));
            return false;
        }
        return true;
    case KIND_SIZE:
        for (const char *p = s; *p; p++)
            if (!is_digit (*p)) {
                snprintf (why, why_size, "\"%s\" is not a size in bytes",
                          shown (s, strlen (s), show, sizeof show));
                return false;
            }
        return true;
    case KIND_MIME:
        return check_mime (s, why, why_size);
    case KIND_BASE64:
        for (const char *p = s; *p; p++)
            if (!is_alpha (*p) && !is_digit (*p) && *p != '+' && *p != '/' && *p != '=' &&
                !is_xml_space (*p)) {
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

/* True when the kind's value is kept without surrounding whitespace. */
static bool
is_trimmed_kind (kind_t kind)
{
    return kind != KIND_TEXT && kind != KIND_MESSAGE;
}

/* Valid UTF-8 made only of characters XML 1.0 can carry. */
static bool
is_xml_utf8 (const char *text)
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

/* --- building messages --- */

static const ProtobufCFieldDescriptor *
field_of (const cap_type_t *type, const cap_field_t *field)
{
    return protobuf_c_message_descriptor_get_field_by_name (type->descriptor, field->field);
}

/* Appends value (taken over) to a repeated string field. */
static int
append_string (ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd, char *value)
{
    size_t *count = (size_t *)MEMBER (msg, fd->quantifier_offset);
    char ***array = (char ***)MEMBER (msg, fd->offset);
    char **grown = realloc (*array, (*count + 1) * sizeof (char *));
    if (grown == NULL) {
        free (value);
        return -1;
    }
    grown[*count] = value;
    *array = grown;
    (*count)++;
    return 0;
}

/* Appends a new, initialised submessage to a repeated message field. */
static ProtobufCMessage *
append_message (ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
    const ProtobufCMessageDescriptor *desc = fd->descriptor;
    size_t *count = (size_t *)MEMBER (msg, fd->quantifier_offset);
    ProtobufCMessage ***array = (ProtobufCMessage ***)MEMBER (msg, fd->offset);
    ProtobufCMessage *child = malloc (desc->sizeof_message);
    if (child == NULL)
        return NULL;
    protobuf_c_message_init (desc, child);
    ProtobufCMessage **grown = realloc (*array, (*count + 1) * sizeof (ProtobufCMessage *));
    if (grown == NULL) {
        free (child);
        return NULL;
    }
    grown[*count] = child;
    *array = grown;
    (*count)++;
    return child;
}

/* --- reading XML --- */

typedef struct {
    char *err;
    size_t err_size;
    bool doctype; /* the document has a DOCTYPE: parsing was stopped */
    long doctype_line;
    bool syntax_error; /* first libxml2 error, kept for the message */
    int syntax_line;
    char syntax_message[200];
} parse_t;

static void node_error (parse_t *p, long line, const char *path, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
node_error (parse_t *p, long line, const char *path, const char *format, ...)
{
    char reason[400];
    va_list args;
    va_start (args, format);
    vsnprintf (reason, sizeof reason, format, args);
    va_end (args);
    sdk_set_error (p->err, p->err_size, "line %ld: %s: %s", line, path, reason);
}

static void
on_internal_subset (void *ctx, const xmlChar *name, const xmlChar *external_id,
                    const xmlChar *system_id)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_t *p = ctxt->_private;
    p->doctype = true;
    p->doctype_line = xmlSAX2GetLineNumber (ctxt);
    xmlStopParser (ctxt);
}

static void
on_xml_error (void *user_data, xmlErrorPtr error)
{
    xmlParserCtxtPtr ctxt = user_data;
    parse_t *p = ctxt ? ctxt->_private : NULL;
    if (p == NULL || error == NULL || p->syntax_error || error->level < XML_ERR_ERROR)
        return;
    p->syntax_error = true;
    p->syntax_line = error->line;
    snprintf (p->syntax_message, sizeof p->syntax_message, "%s",
              error->message ? error->message : "not well-formed");
    size_t len = strlen (p->syntax_message);
    while (len > 0 && is_xml_space (p->syntax_message[len - 1]))
        p->syntax_message[--len] = '\0';
}

static bool
is_cap_element (const xmlNode *node)
{
    return node->ns != NULL && node->ns->href != NULL &&
           strcmp ((const char *)node->ns->href, ONENET_CAP_NAMESPACE) == 0;
}

/* The text of a leaf element as a new malloc'd string; NULL (with the
 * error set) when it holds elements or other markup. */
static char *
leaf_text (parse_t *p, const xmlNode *node, const char *path)
{
    size_t len = 0;
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            len += c->content ? strlen ((const char *)c->content) : 0;
        } else if (c->type == XML_ELEMENT_NODE) {
            node_error (p, xmlGetLineNo (c), path, "unexpected element <%s> inside a value",
                        (const char *)c->name);
            return NULL;
        } else if (c->type != XML_COMMENT_NODE && c->type != XML_PI_NODE) {
            node_error (p, xmlGetLineNo (node), path, "unexpected markup inside a value");
            return NULL;
        }
    }
    char *text = malloc (len + 1);
    if (text == NULL) {
        node_error (p, xmlGetLineNo (node), path, "out of memory");
        return NULL;
    }
    size_t used = 0;
    for (const xmlNode *c = node->children; c; c = c->next)
        if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
            size_t n = strlen ((const char *)c->content);
            memcpy (text + used, c->content, n);
            used += n;
        }
    text[used] = '\0';
    return text;
}

/* Drops leading and trailing XML whitespace in place. */
static void
trim (char *s)
{
    size_t len = strlen (s), start = 0;
    while (start < len && is_xml_space (s[start]))
        start++;
    while (len > start && is_xml_space (s[len - 1]))
        len--;
    memmove (s, s + start, len - start);
    s[len - start] = '\0';
}

static const cap_field_t *
find_field (const cap_type_t *type, const char *element, size_t *index)
{
    for (size_t i = 0; i < type->n_fields; i++)
        if (strcmp (type->fields[i].element, element) == 0) {
            *index = i;
            return &type->fields[i];
        }
    return NULL;
}

/* Reads the children of node (a CAP element of the given type) into msg.
 * self is node's path for messages about node itself ("<alert>",
 * "<info><area>"); prefix is what its children's paths start with. */
static int
read_type (parse_t *p, const xmlNode *node, const cap_type_t *type, ProtobufCMessage *msg,
           const char *self, const char *prefix)
{
    long seen_line[MAX_FIELDS] = {0};
    bool seen[MAX_FIELDS] = {false};
    bool is_root = type == &k_alert_type;
    char path[200], show[80];

    for (const xmlAttr *a = node->properties; a; a = a->next)
        if (a->ns == NULL) {
            node_error (p, xmlGetLineNo (node), self,
                        "attribute \"%s\" is not allowed (CAP elements have none)",
                        (const char *)a->name);
            return -1;
        }

    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            const char *text = c->content ? (const char *)c->content : "";
            if (!all_space (text)) {
                char *copy = strdup (text);
                if (copy)
                    trim (copy);
                node_error (p, xmlGetLineNo (c->prev ? c->prev : node), self,
                            "unexpected text \"%s\" between elements",
                            copy ? shown (copy, strlen (copy), show, sizeof show) : "");
                free (copy);
                return -1;
            }
            continue;
        }
        if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE)
            continue;
        if (c->type != XML_ELEMENT_NODE) {
            node_error (p, xmlGetLineNo (node), self, "unexpected markup");
            return -1;
        }
        long line = xmlGetLineNo (c);
        snprintf (path, sizeof path, "%s<%s>", prefix, (const char *)c->name);
        if (!is_cap_element (c)) {
            /* xs:any ##other at the end of <alert>: a signature, say. */
            if (is_root && c->ns != NULL)
                continue;
            node_error (p, line, path, "element %s%s%s is not part of CAP 1.2 here",
                        c->ns ? "of namespace \"" : "in no namespace",
                        c->ns ? (const char *)c->ns->href : "", c->ns ? "\"" : "");
            return -1;
        }
        size_t index = 0;
        const cap_field_t *field = find_field (type, (const char *)c->name, &index);
        if (field == NULL) {
            node_error (p, line, path, "<%s> is not an element of %s", (const char *)c->name, self);
            return -1;
        }
        const ProtobufCFieldDescriptor *fd = field_of (type, field);
        if (fd == NULL) {
            node_error (p, line, path, "internal error: no field %s", field->field);
            return -1;
        }
        bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        if (!repeated && seen[index]) {
            node_error (p, line, path, "given twice (first on line %ld)", seen_line[index]);
            return -1;
        }
        if (!seen[index]) {
            seen[index] = true;
            seen_line[index] = line;
        }
        if (field->kind == KIND_MESSAGE) {
            ProtobufCMessage *child = append_message (msg, fd);
            if (child == NULL) {
                node_error (p, line, path, "out of memory");
                return -1;
            }
            char child_prefix[200];
            snprintf (child_prefix, sizeof child_prefix, "%s", path);
            if (read_type (p, c, field->type, child, path, child_prefix) < 0)
                return -1;
            continue;
        }
        for (const xmlAttr *a = c->properties; a; a = a->next)
            if (a->ns == NULL) {
                node_error (p, line, path,
                            "attribute \"%s\" is not allowed (CAP elements have none)",
                            (const char *)a->name);
                return -1;
            }
        char *text = leaf_text (p, c, path);
        if (text == NULL)
            return -1;
        if (is_trimmed_kind (field->kind))
            trim (text);
        if (all_space (text)) {
            free (text);
            if (field->required && !repeated) {
                node_error (p, line, path, "is empty");
                return -1;
            }
            continue; /* an empty optional element is absent */
        }
        char why[300];
        if (!check_value (field, text, why, sizeof why)) {
            node_error (p, line, path, "%s", why);
            free (text);
            return -1;
        }
        if (repeated) {
            if (append_string (msg, fd, text) < 0) {
                node_error (p, line, path, "out of memory");
                return -1;
            }
        } else {
            *(char **)MEMBER (msg, fd->offset) = text;
        }
    }

    for (size_t i = 0; i < type->n_fields; i++) {
        const cap_field_t *field = &type->fields[i];
        if (!field->required)
            continue;
        const ProtobufCFieldDescriptor *fd = field_of (type, field);
        bool present = false;
        if (fd == NULL) {
            node_error (p, xmlGetLineNo (node), self, "internal error: no field %s", field->field);
            return -1;
        }
        if (fd->label == PROTOBUF_C_LABEL_REPEATED)
            present = *(const size_t *)CONST_MEMBER (msg, fd->quantifier_offset) > 0;
        else
            present = !is_empty (*(char *const *)CONST_MEMBER (msg, fd->offset));
        if (!present) {
            node_error (p, xmlGetLineNo (node), self, "missing required element <%s>",
                        field->element);
            return -1;
        }
    }
    rule_error_t broken = {NULL, ""};
    if (type->rules != NULL && !type->rules (msg, &broken)) {
        size_t index = 0;
        const cap_field_t *field = NULL;
        for (size_t i = 0; i < type->n_fields; i++)
            if (strcmp (type->fields[i].field, broken.field) == 0) {
                field = &type->fields[i];
                index = i;
            }
        snprintf (path, sizeof path, "%s<%s>", prefix, field ? field->element : "?");
        node_error (p, seen[index] ? seen_line[index] : xmlGetLineNo (node), path, "%s",
                    broken.reason);
        return -1;
    }
    return 0;
}

static pthread_once_t s_init_once = PTHREAD_ONCE_INIT;

static void
init_libxml (void)
{
    xmlInitParser ();
}

static const char *
cap_version_of (const char *href)
{
    if (strcmp (href, "urn:oasis:names:tc:emergency:cap:1.1") == 0)
        return "CAP 1.1";
    if (strcmp (href, "http://www.incident.com/cap/1.0") == 0)
        return "CAP 1.0";
    return NULL;
}

Onenet__Alert__Alert *
onenet_cap_parse (const char *xml, size_t size, char *err, size_t err_size)
{
    parse_t p = {.err = err, .err_size = err_size};
    if (xml == NULL || size == 0) {
        sdk_set_error (err, err_size, "line 1: empty document");
        return NULL;
    }
    if (size > ONENET_CAP_MAX_SIZE) {
        sdk_set_error (err, err_size, "document of %zu bytes is larger than the limit of %u", size,
                       (unsigned)ONENET_CAP_MAX_SIZE);
        return NULL;
    }
    pthread_once (&s_init_once, init_libxml);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt ();
    if (ctxt == NULL || ctxt->sax == NULL) {
        xmlFreeParserCtxt (ctxt);
        sdk_set_error (err, err_size, "out of memory");
        return NULL;
    }
    ctxt->_private = &p;
    ctxt->sax->internalSubset = on_internal_subset;
    ctxt->sax->serror = on_xml_error;
    /* Deliberately absent: XML_PARSE_NOENT (substitutes entities),
     * XML_PARSE_DTDLOAD / DTDATTR / DTDVALID (read DTDs), XML_PARSE_HUGE
     * (lifts the parser's size and depth limits), XML_PARSE_XINCLUDE. */
    int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES |
                  XML_PARSE_NOCDATA;
    xmlDocPtr doc = xmlCtxtReadMemory (ctxt, xml, (int)size, "cap.xml", NULL, options);
    Onenet__Alert__Alert *alert = NULL;
    xmlNode *root = doc ? xmlDocGetRootElement (doc) : NULL;

    if (p.doctype) {
        sdk_set_error (err, err_size,
                       "line %ld: <!DOCTYPE>: document type declarations are not accepted "
                       "(CAP has none; entities are never expanded or fetched)",
                       p.doctype_line);
    } else if (doc == NULL || root == NULL) {
        if (p.syntax_error)
            sdk_set_error (err, err_size, "line %d: not well-formed XML: %s", p.syntax_line,
                           p.syntax_message);
        else
            sdk_set_error (err, err_size, "line 1: not well-formed XML");
    } else if (strcmp ((const char *)root->name, "alert") != 0 || root->ns == NULL ||
               !is_cap_element (root)) {
        const char *href = root->ns && root->ns->href ? (const char *)root->ns->href : NULL;
        const char *version = href ? cap_version_of (href) : NULL;
        if (version != NULL)
            sdk_set_error (err, err_size,
                           "line %ld: <%s>: namespace %s is %s; only CAP 1.2 (" ONENET_CAP_NAMESPACE
                           ") is accepted",
                           xmlGetLineNo (root), (const char *)root->name, href, version);
        else if (strcmp ((const char *)root->name, "alert") == 0)
            sdk_set_error (
                err, err_size,
                "line %ld: <alert>: %s%s%s; CAP 1.2 requires namespace " ONENET_CAP_NAMESPACE,
                xmlGetLineNo (root), href ? "namespace \"" : "no namespace", href ? href : "",
                href ? "\"" : "");
        else
            sdk_set_error (err, err_size,
                           "line %ld: <%s>: not a CAP alert: the root element must be <alert> in "
                           "namespace " ONENET_CAP_NAMESPACE,
                           xmlGetLineNo (root), (const char *)root->name);
    } else {
        alert = malloc (sizeof *alert);
        if (alert == NULL) {
            sdk_set_error (err, err_size, "out of memory");
        } else {
            onenet__alert__alert__init (alert);
            if (read_type (&p, root, &k_alert_type, &alert->base, "<alert>", "") < 0) {
                onenet__alert__alert__free_unpacked (alert, NULL);
                alert = NULL;
            }
        }
    }
    xmlFreeDoc (doc);
    xmlFreeParserCtxt (ctxt);
    return alert;
}

/* --- validating messages --- */

static int
validate_type (const cap_type_t *type, const ProtobufCMessage *msg, const char *path, char *err,
               size_t err_size)
{
    char here[200], why[300];
    if (msg == NULL || msg->descriptor != type->descriptor) {
        sdk_set_error (err, err_size, "%s: expected a %s message", *path ? path : "alert",
                       type->descriptor->name);
        return -1;
    }
    for (size_t i = 0; i < type->n_fields; i++) {
        const cap_field_t *field = &type->fields[i];
        const ProtobufCFieldDescriptor *fd = field_of (type, field);
        if (fd == NULL) {
            sdk_set_error (err, err_size, "internal error: no field %s", field->field);
            return -1;
        }
        bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        size_t count = repeated ? *(const size_t *)CONST_MEMBER (msg, fd->quantifier_offset) : 1;
        if (repeated && count == 0 && field->required) {
            sdk_set_error (err, err_size, "%s%s%s: at least one is required", path,
                           *path ? "." : "", field->field);
            return -1;
        }
        for (size_t k = 0; k < count; k++) {
            if (repeated)
                snprintf (here, sizeof here, "%s%s%s[%zu]", path, *path ? "." : "", field->field,
                          k);
            else
                snprintf (here, sizeof here, "%s%s%s", path, *path ? "." : "", field->field);
            if (field->kind == KIND_MESSAGE) {
                const ProtobufCMessage *const *children =
                    *(const ProtobufCMessage *const *const *)CONST_MEMBER (msg, fd->offset);
                if (validate_type (field->type, children[k], here, err, err_size) < 0)
                    return -1;
                continue;
            }
            const char *value;
            if (repeated)
                value = (*(char *const *const *)CONST_MEMBER (msg, fd->offset))[k];
            else
                value = *(char *const *)CONST_MEMBER (msg, fd->offset);
            if (is_empty (value)) {
                if (repeated || field->required) {
                    sdk_set_error (err, err_size, "%s: %s", here,
                                   repeated ? "empty" : "missing (required)");
                    return -1;
                }
                continue;
            }
            if (!is_xml_utf8 (value)) {
                sdk_set_error (err, err_size,
                               "%s: not valid UTF-8, or holds a character XML cannot carry", here);
                return -1;
            }
            if (all_space (value)) {
                sdk_set_error (err, err_size, "%s: only whitespace", here);
                return -1;
            }
            if (is_trimmed_kind (field->kind) &&
                (is_xml_space (value[0]) || is_xml_space (value[strlen (value) - 1]))) {
                sdk_set_error (err, err_size, "%s: leading or trailing whitespace", here);
                return -1;
            }
            if (!check_value (field, value, why, sizeof why)) {
                sdk_set_error (err, err_size, "%s: %s", here, why);
                return -1;
            }
        }
    }
    rule_error_t broken = {NULL, ""};
    if (type->rules != NULL && !type->rules (msg, &broken)) {
        sdk_set_error (err, err_size, "%s%s%s: %s", path, *path ? "." : "", broken.field,
                       broken.reason);
        return -1;
    }
    return 0;
}

int
onenet_cap_validate (const Onenet__Alert__Alert *alert, char *err, size_t err_size)
{
    if (alert == NULL) {
        sdk_set_error (err, err_size, "no alert");
        return -1;
    }
    return validate_type (&k_alert_type, &alert->base, "", err, err_size);
}

/* --- writing XML --- */

static int
write_type (xmlNode *node, xmlNs *ns, const cap_type_t *type, const ProtobufCMessage *msg)
{
    for (size_t i = 0; i < type->n_fields; i++) {
        const cap_field_t *field = &type->fields[i];
        const ProtobufCFieldDescriptor *fd = field_of (type, field);
        const xmlChar *name = (const xmlChar *)field->element;
        if (fd == NULL)
            return -1;
        if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
            const char *value = *(char *const *)CONST_MEMBER (msg, fd->offset);
            if (!is_empty (value) &&
                xmlNewTextChild (node, ns, name, (const xmlChar *)value) == NULL)
                return -1;
            continue;
        }
        size_t count = *(const size_t *)CONST_MEMBER (msg, fd->quantifier_offset);
        for (size_t k = 0; k < count; k++) {
            if (field->kind == KIND_MESSAGE) {
                const ProtobufCMessage *child =
                    (*(const ProtobufCMessage *const *const *)CONST_MEMBER (msg, fd->offset))[k];
                xmlNode *element = xmlNewChild (node, ns, name, NULL);
                if (element == NULL || write_type (element, ns, field->type, child) < 0)
                    return -1;
            } else {
                const char *value = (*(char *const *const *)CONST_MEMBER (msg, fd->offset))[k];
                if (xmlNewTextChild (node, ns, name, (const xmlChar *)value) == NULL)
                    return -1;
            }
        }
    }
    return 0;
}

char *
onenet_cap_format (const Onenet__Alert__Alert *alert, char *err, size_t err_size)
{
    if (onenet_cap_validate (alert, err, err_size) < 0)
        return NULL;
    pthread_once (&s_init_once, init_libxml);
    char *result = NULL;
    xmlDocPtr doc = xmlNewDoc ((const xmlChar *)"1.0");
    xmlNode *root = doc ? xmlNewDocNode (doc, NULL, (const xmlChar *)"alert", NULL) : NULL;
    xmlNs *ns = root ? xmlNewNs (root, (const xmlChar *)ONENET_CAP_NAMESPACE, NULL) : NULL;
    if (ns != NULL) {
        xmlSetNs (root, ns);
        xmlDocSetRootElement (doc, root);
        root = NULL; /* owned by doc now */
        if (write_type (xmlDocGetRootElement (doc), ns, &k_alert_type, &alert->base) == 0) {
            xmlChar *text = NULL;
            int len = 0;
            xmlDocDumpFormatMemoryEnc (doc, &text, &len, "UTF-8", 1);
            if (text != NULL && len >= 0) {
                result = malloc ((size_t)len + 1);
                if (result != NULL) {
                    memcpy (result, text, (size_t)len);
                    result[len] = '\0';
                }
            }
            xmlFree (text);
        }
    }
    xmlFreeNode (root);
    xmlFreeDoc (doc);
    if (result == NULL)
        sdk_set_error (err, err_size, "out of memory writing CAP XML");
    return result;
}

/* --- helpers for routing --- */

int
onenet_cap_severity_rank (const char *severity)
{
    static const char *const by_rank[] = {"Unknown", "Minor", "Moderate", "Severe", "Extreme"};
    if (severity == NULL)
        return -1;
    for (int i = 0; i < (int)N_OF (by_rank); i++)
        if (strcmp (severity, by_rank[i]) == 0)
            return i;
    return -1;
}

size_t
onenet_cap_geocodes (const Onenet__Alert__Alert *alert, const char *value_name,
                     const Onenet__Alert__ValuePair **out, size_t max)
{
    size_t total = 0;
    if (alert == NULL)
        return 0;
    for (size_t i = 0; i < alert->n_info; i++) {
        const Onenet__Alert__Info *info = alert->info[i];
        for (size_t a = 0; info && a < info->n_area; a++) {
            const Onenet__Alert__Area *area = info->area[a];
            for (size_t g = 0; area && g < area->n_geocode; g++) {
                const Onenet__Alert__ValuePair *code = area->geocode[g];
                if (code == NULL || code->value_name == NULL || code->value == NULL)
                    continue;
                if (value_name != NULL && strcmp (code->value_name, value_name) != 0)
                    continue;
                /* Seen before? Look among those stored, then (past max)
                 * scan the alert up to here again. */
                bool duplicate = false;
                for (size_t i2 = 0; i2 <= i && !duplicate; i2++) {
                    const Onenet__Alert__Info *info2 = alert->info[i2];
                    size_t areas = i2 == i ? a + 1 : (info2 ? info2->n_area : 0);
                    for (size_t a2 = 0; a2 < areas && !duplicate; a2++) {
                        const Onenet__Alert__Area *area2 = info2->area[a2];
                        size_t codes = (i2 == i && a2 == a) ? g : (area2 ? area2->n_geocode : 0);
                        for (size_t g2 = 0; g2 < codes && !duplicate; g2++) {
                            const Onenet__Alert__ValuePair *other = area2->geocode[g2];
                            duplicate = other && other->value_name && other->value &&
                                        strcmp (other->value_name, code->value_name) == 0 &&
                                        strcmp (other->value, code->value) == 0;
                        }
                    }
                }
                if (duplicate)
                    continue;
                if (out != NULL && total < max)
                    out[total] = code;
                total++;
            }
        }
    }
    return total;
}
