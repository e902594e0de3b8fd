/*
 * metrics.h - the broker's counters in the Prometheus text exposition
 * format 0.0.4, for GET /metrics (broker/http.c).
 *
 * Rendering only reads the broker's state (counters kept by the handlers,
 * the registry, views_stats, alerts_stats, the cache); it takes no lock,
 * does no I/O and is cheap enough to run on the loop thread per scrape.
 * docs/OPERATIONS.md says what each metric means and which alarms to set.
 */
#ifndef BROKER_METRICS_H
#define BROKER_METRICS_H

#include <stddef.h>
#include "broker.h"

/* Content-Type of what metrics_render returns. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Renders every metric, with HELP and TYPE lines, services sorted by name.
 * Returns a malloc'd buffer of *size bytes (also NUL-terminated) that the
 * caller frees, or NULL when out of memory. */
char *metrics_render (const broker_t *broker, size_t *size);

/* Writes value into out as a label value of the exposition format
 * (backslash, double quote and newline escaped), truncated to fit.
 * Returns out. */
const char *metrics_escape_label (const char *value, char *out, size_t size);

#endif
