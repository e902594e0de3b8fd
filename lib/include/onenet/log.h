/*
 * onenet/log.h - one line per event, for operators.
 *
 *   ts=2026-11-23T17:52:01.123Z level=info component=broker event=adapter.ready department=x
 *
 * The event name says what happened; the fields follow as key=value pairs
 * written by the caller's format. Values with spaces must be quoted by the
 * caller ("reason=\"%s\""); onenet_log_quote helps. No personal data above
 * debug level. Logs go to stderr.
 */
#ifndef ONENET_LOG_H
#define ONENET_LOG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ONENET_LOG_DEBUG = 0,
    ONENET_LOG_INFO = 1,
    ONENET_LOG_WARN = 2,
    ONENET_LOG_ERROR = 3,
} onenet_log_level_t;

/* Parses "debug", "info", "warn", "error". Returns the level or -1. */
int onenet_log_level_from_name (const char *name);

/* Process-wide settings: least level printed (default info), format
 * (0 logfmt, 1 JSON: one object per line), component name. */
void onenet_log_configure (onenet_log_level_t level, int json, const char *component);
onenet_log_level_t onenet_log_get_level (void);

/* Writes one event if level is enabled. fields is a printf format of
 * space-separated key=value pairs, or NULL. */
void onenet_log (onenet_log_level_t level, const char *event, const char *fields, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Writes value into buf as a logfmt value: bare if it has no space, quote
 * or equals sign, else quoted with escapes. Returns buf. */
const char *onenet_log_quote (const char *value, char *buf, size_t size);

#define onenet_debug(event, ...) onenet_log (ONENET_LOG_DEBUG, event, __VA_ARGS__)
#define onenet_info(event, ...) onenet_log (ONENET_LOG_INFO, event, __VA_ARGS__)
#define onenet_warn(event, ...) onenet_log (ONENET_LOG_WARN, event, __VA_ARGS__)
#define onenet_error(event, ...) onenet_log (ONENET_LOG_ERROR, event, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
