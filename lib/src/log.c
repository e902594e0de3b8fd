/*
 * log.c - one line per event on stderr, logfmt or JSON.
 *
 * Callers write their fields as logfmt (key=value, values quoted when
 * they need it); the JSON format re-reads those pairs, so call sites stay
 * the same whichever format the operator chose.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "onenet/log.h"

static onenet_log_level_t s_level = ONENET_LOG_INFO;
static int s_json = 0;
static char s_component[64] = "onenet";

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int
onenet_log_level_from_name (const char *name)
{
    for (int i = 0; name && i < 4; i++)
        if (strcasecmp (name, level_names[i]) == 0)
            return i;
    return -1;
}

void
onenet_log_configure (onenet_log_level_t level, int json, const char *component)
{
    s_level = level;
    s_json = json;
    if (component)
        snprintf (s_component, sizeof s_component, "%s", component);
}

onenet_log_level_t
onenet_log_get_level (void)
{
    return s_level;
}

const char *
onenet_log_quote (const char *value, char *buf, size_t size)
{
    if (!value)
        value = "";
    if (size == 0)
        return buf;
    int needs_quotes = *value == '\0' || strpbrk (value, " =\"\t\n\\") != NULL;
    if (!needs_quotes) {
        snprintf (buf, size, "%s", value);
        return buf;
    }
    size_t out = 0;
    buf[out++] = '"';
    for (const char *p = value; *p && out + 3 < size; p++) {
        if (*p == '"' || *p == '\\') {
            buf[out++] = '\\';
            buf[out++] = *p;
        }
        else if (*p == '\n') {
            buf[out++] = '\\';
            buf[out++] = 'n';
        }
        else
            buf[out++] = *p;
    }
    buf[out++] = '"';
    buf[out] = '\0';
    return buf;
}

static void
format_time (char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    size_t n = strftime (buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Writes a JSON string literal of len bytes of s. */
static void
json_string (FILE *out, const char *s, size_t len)
{
    fputc ('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c == '"' || c == '\\')
            fprintf (out, "\\%c", c);
        else if (c < 0x20)
            fprintf (out, "\\u%04x", c);
        else
            fputc (c, out);
    }
    fputc ('"', out);
}

/* Re-reads logfmt pairs as JSON members: key=value or key="quoted \" value". */
static void
fields_as_json (FILE *out, const char *fields)
{
    const char *p = fields;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *key = p;
        while (*p && *p != '=' && *p != ' ')
            p++;
        size_t key_len = (size_t) (p - key);
        if (key_len == 0)
            break;
        fputc (',', out);
        json_string (out, key, key_len);
        fputc (':', out);
        if (*p != '=') {
            fputs ("true", out);
            continue;
        }
        p++;
        char value[1024];
        size_t n = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (n + 1 < sizeof value)
                    value[n++] = *p == 'n' && p[-1] == '\\' ? '\n' : *p;
            }
            if (*p == '"')
                p++;
        }
        else
            while (*p && *p != ' ') {
                if (n + 1 < sizeof value)
                    value[n++] = *p;
                p++;
            }
        json_string (out, value, n);
    }
}

void
onenet_log (onenet_log_level_t level, const char *event, const char *fields, ...)
{
    if (level < s_level)
        return;
    char ts[40];
    format_time (ts, sizeof ts);
    char buf[2048] = "";
    if (fields) {
        va_list args;
        va_start (args, fields);
        vsnprintf (buf, sizeof buf, fields, args);
        va_end (args);
    }
    flockfile (stderr);
    if (s_json) {
        fprintf (stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":", ts, level_names[level]);
        json_string (stderr, s_component, strlen (s_component));
        fputs (",\"event\":", stderr);
        json_string (stderr, event, strlen (event));
        fields_as_json (stderr, buf);
        fputs ("}\n", stderr);
    }
    else
        fprintf (stderr, "ts=%s level=%s component=%s event=%s%s%s\n", ts, level_names[level],
                 s_component, event, *buf ? " " : "", buf);
    funlockfile (stderr);
}
