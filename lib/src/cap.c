/*
 * cap.c - the CAP 1.2 model behind onenet/cap.h, the checks of its values,
 * the validator of alert messages and the helpers for routing.
 *
 * One table per CAP complex type (alert, info, resource, area, and the
 * valueName/value pair of eventCode, parameter and geocode) lists its
 * elements in the CAP schema's order, each with its proto field and the
 * kind of value it holds. The reader (cap_read.c), the writer
 * (cap_write.c) and the validator here all walk these tables, so each rule
 * is written once; proto/alert.proto numbers its fields in the same order,
 * so the writer's output follows the schema. What the files share is
 * declared in cap_internal.h.
 */
#include "cap_internal.h"
#include "sdk_internal.h"

#include <libxml/parser.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the CAP 1.2 model --- */

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
static const ProtobufCFieldDescriptor *k_pair_resolved[N_OF (k_pair_fields)];
static const cap_type_t k_pair_type = {&onenet__alert__value_pair__descriptor, k_pair_fields, N_OF (k_pair_fields), NULL,
                                       k_pair_resolved};

static const cap_field_t k_resource_fields[] = {
    {"resourceDesc", "resource_desc", KIND_TEXT, true, NULL, NULL},
    {"mimeType", "mime_type", KIND_MIME, true, NULL, NULL},
    {"size", "size", KIND_SIZE, false, NULL, NULL},
    {"uri", "uri", KIND_TOKEN, false, NULL, NULL},
    {"derefUri", "deref_uri", KIND_BASE64, false, NULL, NULL},
    {"digest", "digest", KIND_TOKEN, false, NULL, NULL},
};
static const ProtobufCFieldDescriptor *k_resource_resolved[N_OF (k_resource_fields)];
static const cap_type_t k_resource_type = {&onenet__alert__resource__descriptor, k_resource_fields, N_OF (k_resource_fields), NULL,
                                       k_resource_resolved};

static const cap_field_t k_area_fields[] = {
    {"areaDesc", "area_desc", KIND_TEXT, true, NULL, NULL},
    {"polygon", "polygon", KIND_POLYGON, false, NULL, NULL},
    {"circle", "circle", KIND_CIRCLE, false, NULL, NULL},
    {"geocode", "geocode", KIND_MESSAGE, false, NULL, &k_pair_type},
    {"altitude", "altitude", KIND_DECIMAL, false, NULL, NULL},
    {"ceiling", "ceiling", KIND_DECIMAL, false, NULL, NULL},
};
static const ProtobufCFieldDescriptor *k_area_resolved[N_OF (k_area_fields)];
static const cap_type_t k_area_type = {&onenet__alert__area__descriptor, k_area_fields, N_OF (k_area_fields), area_rules,
                                       k_area_resolved};

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
static const ProtobufCFieldDescriptor *k_info_resolved[N_OF (k_info_fields)];
static const cap_type_t k_info_type = {&onenet__alert__info__descriptor, k_info_fields, N_OF (k_info_fields), NULL,
                                       k_info_resolved};

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
static const ProtobufCFieldDescriptor *k_alert_resolved[N_OF (k_alert_fields)];
const cap_type_t cap_alert_type = {&onenet__alert__alert__descriptor, k_alert_fields, N_OF (k_alert_fields), alert_rules,
                                   k_alert_resolved};

/* Each table's field descriptors, looked up by name once for all
 * threads: the validator, the reader and the writer ask for them for
 * every field of every alert. */
static pthread_once_t s_resolve_once = PTHREAD_ONCE_INIT;

static void
resolve_fields (void)
{
    const cap_type_t *const types[] = {&k_pair_type, &k_resource_type, &k_area_type, &k_info_type,
                                       &cap_alert_type};
    for (size_t t = 0; t < N_OF (types); t++)
        for (size_t i = 0; i < types[t]->n_fields; i++)
            types[t]->resolved[i] = protobuf_c_message_descriptor_get_field_by_name (
                types[t]->descriptor, types[t]->fields[i].field);
}

const ProtobufCFieldDescriptor *
cap_field_of (const cap_type_t *type, const cap_field_t *field)
{
    pthread_once (&s_resolve_once, resolve_fields);
    return type->resolved[field - type->fields];
}

bool
cap_is_empty (const char *s)
{
    return s == NULL || *s == '\0';
}

static bool
alert_rules (const ProtobufCMessage *msg, rule_error_t *error)
{
    const Onenet__Alert__Alert *alert = (const Onenet__Alert__Alert *)msg;
    const char *scope = alert->scope ? alert->scope : "";
    if (strcmp (scope, "Restricted") == 0 && cap_is_empty (alert->restriction)) {
        error->field = "scope";
        snprintf (error->reason, sizeof error->reason, "\"Restricted\" requires <restriction>");
        return false;
    }
    if (strcmp (scope, "Private") == 0 && cap_is_empty (alert->addresses)) {
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
    if (!cap_is_empty (area->ceiling) && cap_is_empty (area->altitude)) {
        error->field = "ceiling";
        snprintf (error->reason, sizeof error->reason, "<ceiling> requires <altitude>");
        return false;
    }
    return true;
}

/* --- value checks, shared by the reader and the validator --- */

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
    int year = number (s, 4), month = number (s + 5, 2), day = number (s + 8, 2);
    int hour = number (s + 11, 2), minute = number (s + 14, 2), second = number (s + 17, 2);
    int tz_hour = number (s + 20, 2), tz_minute = number (s + 23, 2);
    ok = year >= 1 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 &&
         second <= 59 && tz_minute <= 59 && (tz_hour < 14 || (tz_hour == 14 && tz_minute == 0));
    if (ok)
        ok = day <= month_days[month - 1] + (month == 2 && is_leap (year) ? 1 : 0);
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

/* --- libxml2, shared by the reader and the writer --- */

static pthread_once_t s_init_once = PTHREAD_ONCE_INIT;

static void
init_libxml (void)
{
    xmlInitParser ();
}

void
cap_libxml_init (void)
{
    pthread_once (&s_init_once, init_libxml);
}

/* --- validating messages --- */

/* Where a value is ("info[0].area[1].geocode[0]"), kept as a chain of
 * steps and written out only for an error message: a valid alert costs
 * no formatting. */
typedef struct cap_path_t {
    const struct cap_path_t *parent;
    const char *field; /* NULL at the root */
    long index;        /* -1: not repeated */
} cap_path_t;

static const char *
path_text (const cap_path_t *path, char *out, size_t size)
{
    if (!path || !path->field) {
        out[0] = '\0';
        return out;
    }
    path_text (path->parent, out, size);
    size_t used = strlen (out);
    if (path->index >= 0)
        snprintf (out + used, size - used, "%s%s[%ld]", used ? "." : "", path->field, path->index);
    else
        snprintf (out + used, size - used, "%s%s", used ? "." : "", path->field);
    return out;
}

static int
validate_type (const cap_type_t *type, const ProtobufCMessage *msg, const cap_path_t *path,
               char *err, size_t err_size)
{
    char text[200], why[300];
    if (msg == NULL || msg->descriptor != type->descriptor) {
        path_text (path, text, sizeof text);
        sdk_set_error (err, err_size, "%s: expected a %s message", *text ? text : "alert",
                       type->descriptor->name);
        return -1;
    }
    for (size_t i = 0; i < type->n_fields; i++) {
        const cap_field_t *field = &type->fields[i];
        const ProtobufCFieldDescriptor *fd = cap_field_of (type, field);
        if (fd == NULL) {
            sdk_set_error (err, err_size, "internal error: no field %s", field->field);
            return -1;
        }
        bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        size_t count = repeated ? *(const size_t *)CONST_MEMBER (msg, fd->quantifier_offset) : 1;
        if (repeated && count == 0 && field->required) {
            cap_path_t here = {path, field->field, -1};
            sdk_set_error (err, err_size, "%s: at least one is required",
                           path_text (&here, text, sizeof text));
            return -1;
        }
        for (size_t k = 0; k < count; k++) {
            cap_path_t here = {path, field->field, repeated ? (long)k : -1};
            if (field->kind == KIND_MESSAGE) {
                const ProtobufCMessage *const *children =
                    *(const ProtobufCMessage *const *const *)CONST_MEMBER (msg, fd->offset);
                if (validate_type (field->type, children[k], &here, err, err_size) < 0)
                    return -1;
                continue;
            }
            const char *value;
            if (repeated)
                value = (*(char *const *const *)CONST_MEMBER (msg, fd->offset))[k];
            else
                value = *(char *const *)CONST_MEMBER (msg, fd->offset);
            const char *problem = NULL;
            if (cap_is_empty (value)) {
                if (!repeated && !field->required)
                    continue;
                problem = repeated ? "empty" : "missing (required)";
            }
            else if (!is_xml_utf8 (value))
                problem = "not valid UTF-8, or holds a character XML cannot carry";
            else if (cap_all_space (value))
                problem = "only whitespace";
            else if (cap_is_trimmed_kind (field->kind) &&
                     (cap_is_xml_space (value[0]) || cap_is_xml_space (value[strlen (value) - 1])))
                problem = "leading or trailing whitespace";
            else if (!cap_check_value (field, value, why, sizeof why))
                problem = why;
            if (problem) {
                sdk_set_error (err, err_size, "%s: %s", path_text (&here, text, sizeof text),
                               problem);
                return -1;
            }
        }
    }
    rule_error_t broken = {NULL, ""};
    if (type->rules != NULL && !type->rules (msg, &broken)) {
        cap_path_t here = {path, broken.field, -1};
        sdk_set_error (err, err_size, "%s: %s", path_text (&here, text, sizeof text),
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
    cap_path_t root = {NULL, NULL, -1};
    return validate_type (&cap_alert_type, &alert->base, &root, err, err_size);
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
