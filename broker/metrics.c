/*
 * metrics.c - the broker's counters as Prometheus text (format 0.0.4).
 *
 * Everything here reads counters the loop already keeps: per-service
 * status counts and latency buckets (service_record, at the two places a
 * request ends), the broker's reply and message counters, the registry,
 * views_stats, alerts_stats and the cache. Families are written whole
 * (HELP, TYPE, then every sample), services sorted by name so two scrapes
 * diff cleanly. Series with a label set are written even at zero, so that
 * rate() and absent-series alarms work from the first scrape.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "broker_internal.h"
#include "alerts.h"
#include "audit.h"
#include "events.h"
#include "cache.h"
#include "metrics.h"
#include "view.h"

/* Longest service name (MAX_SERVICE_NAME) with every byte escaped, and a NUL. */
#define LABEL_SIZE (2 * MAX_SERVICE_NAME + 1)

const char *
metrics_escape_label (const char *value, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = value; *p && n + 1 < size; p++) {
        const char *escape = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (!escape)
            out[n++] = *p;
        else if (n + 2 < size) {
            out[n++] = escape[0];
            out[n++] = escape[1];
        } else
            break;
    }
    if (size)
        out[n] = '\0';
    return out;
}

static int
compare_services (const void *a, const void *b)
{
    return strcmp ((*(service_t *const *)a)->name, (*(service_t *const *)b)->name);
}

/* The services to report (known ones: configured or offered, so their
 * names were validated), sorted by name. NULL with *count 0 when there are
 * none; NULL with *count non-zero when out of memory. Caller frees. */
static service_t **
sorted_services (const broker_t *broker, size_t *count)
{
    size_t cursor = 0, total = 0;
    service_t *service;
    while ((service = registry_next_service (broker->registry, &cursor)))
        total += service->known;
    *count = total;
    if (total == 0)
        return NULL;
    service_t **services = calloc (total, sizeof *services);
    if (!services)
        return NULL;
    size_t n = 0;
    cursor = 0;
    while ((service = registry_next_service (broker->registry, &cursor)) && n < total)
        if (service->known)
            services[n++] = service;
    qsort (services, n, sizeof *services, compare_services);
    return services;
}

static void
family (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
counter (FILE *out, const char *name, const char *help, uint64_t value)
{
    family (out, name, "counter", help);
    fprintf (out, "%s %" PRIu64 "\n", name, value);
}

static void
gauge (FILE *out, const char *name, const char *help, uint64_t value)
{
    family (out, name, "gauge", help);
    fprintf (out, "%s %" PRIu64 "\n", name, value);
}

static void
render_services (FILE *out, service_t **services, size_t count)
{
    static const double bounds[REGISTRY_LATENCY_BUCKETS] = {REGISTRY_LATENCY_BOUNDS};
    char label[LABEL_SIZE];

    family (out, "onenet_requests_total", "counter",
            "Requests to a service that ended, by the status they ended with.");
    for (size_t i = 0; i < count; i++) {
        metrics_escape_label (services[i]->name, label, sizeof label);
        for (int status = 0; status < ONENET_STATUS_COUNT; status++)
            fprintf (out, "onenet_requests_total{service=\"%s\",status=\"%s\"} %" PRIu64 "\n",
                     label, onenet_status_name (status), services[i]->status_counts[status]);
    }

    family (out, "onenet_request_duration_seconds", "histogram",
            "Time from the broker admitting a request to the request ending, by service.");
    for (size_t i = 0; i < count; i++) {
        const service_t *service = services[i];
        metrics_escape_label (service->name, label, sizeof label);
        uint64_t cumulative = 0;
        for (size_t b = 0; b < REGISTRY_LATENCY_BUCKETS; b++) {
            cumulative += service->latency_buckets[b];
            fprintf (out,
                     "onenet_request_duration_seconds_bucket{service=\"%s\",le=\"%g\"} %" PRIu64
                     "\n",
                     label, bounds[b], cumulative);
        }
        cumulative += service->latency_buckets[REGISTRY_LATENCY_BUCKETS];
        fprintf (out,
                 "onenet_request_duration_seconds_bucket{service=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
                 label, cumulative);
        fprintf (out, "onenet_request_duration_seconds_sum{service=\"%s\"} %.6f\n", label,
                 service->latency_sum_s);
        fprintf (out, "onenet_request_duration_seconds_count{service=\"%s\"} %" PRIu64 "\n", label,
                 cumulative);
    }

    family (out, "onenet_instances", "gauge",
            "Live adapter instances offering a service; 0 means its requests wait or fail.");
    for (size_t i = 0; i < count; i++)
        fprintf (out, "onenet_instances{service=\"%s\"} %zu\n",
                 metrics_escape_label (services[i]->name, label, sizeof label),
                 services[i]->instance_count);
}

static void
render_broker (FILE *out, const broker_t *broker)
{
    uint64_t in_flight = 0, queued = 0;
    size_t cursor = 0;
    adapter_t *adapter;
    while ((adapter = registry_next_adapter (broker->registry, &cursor)))
        in_flight += adapter->in_flight;
    /* Every service here, also those not yet offered (registration grace). */
    service_t *service;
    cursor = 0;
    while ((service = registry_next_service (broker->registry, &cursor)))
        queued += service->waiting;

    gauge (out, "onenet_adapters_connected", "Adapter instances registered with the broker.",
           registry_adapter_count (broker->registry));
    gauge (out, "onenet_requests_in_flight", "Requests sent to an adapter and not yet answered.",
           in_flight);
    gauge (out, "onenet_requests_queued",
           "Requests waiting for an instance of their service to have free credit.", queued);
    gauge (out, "onenet_requests_pending_max",
           "Most requests the broker keeps pending at once (limits.max_pending).",
           requests_capacity (broker->requests));
    counter (out, "onenet_requests_received_total",
             "REQUEST messages read from clients, including onenet.* and refused ones.",
             broker->requests_total);

    family (out, "onenet_replies_total", "counter",
            "Replies the broker sent to clients, by status.");
    for (int status = 0; status < ONENET_STATUS_COUNT; status++)
        fprintf (out, "onenet_replies_total{status=\"%s\"} %" PRIu64 "\n",
                 onenet_status_name (status), broker->replies_by_status[status]);

    counter (out, "onenet_bad_messages_total",
             "Messages refused as malformed (signature, version, frames, size, header).",
             broker->bad_messages);
    counter (out, "onenet_late_replies_total",
             "Adapter replies to requests already answered (timed out or retried elsewhere).",
             broker->late_replies);
    counter (out, "onenet_events_total",
             "Events received from adapters (a batch counts each of its events).",
             broker->events_total);
    counter (out, "onenet_batches_sent_total",
             "BATCH messages sent: a peer's requests or replies of one turn of the loop.",
             outbox_batches (broker->outbox));
    counter (out, "onenet_batched_messages_total",
             "Requests and replies sent inside BATCH messages.",
             outbox_batched (broker->outbox));
}

static void
render_views (FILE *out, const views_t *views)
{
    const view_stats_t *stats = views_stats (views);
    counter (out, "onenet_view_total", "Person views requested (onenet.view.person).",
             stats->views);
    counter (out, "onenet_view_cache_hits_total", "Views answered from the Redis cache.",
             stats->cache_hits);
    counter (out, "onenet_view_cache_misses_total",
             "Views not in the cache, fetched from the departments.", stats->cache_misses);
    counter (out, "onenet_view_cache_bypassed_total",
             "Views fetched past the cache because Redis was down, disabled, slow or failing.",
             stats->cache_bypassed);
    counter (out, "onenet_view_partial_total", "Views answered without every department.",
             stats->partial);
    counter (out, "onenet_view_invalidations_total",
             "Cached views dropped because a department changed a record.", stats->invalidations);
}

static void
render_alerts (FILE *out, const alerts_t *alerts)
{
    const alerts_stats_t *stats = alerts_stats (alerts);
    counter (out, "onenet_alerts_published_total", "Alerts accepted by onenet.alert.publish.",
             stats->published);
    counter (out, "onenet_alerts_delivered_total",
             "Alerts sent to subscribers, once per topic of an alert (an alert in a batch counts once).",
             stats->delivered);
    counter (out, "onenet_alerts_replayed_total", "Alerts returned by onenet.alert.since.",
             stats->replayed);
    counter (out, "onenet_alerts_spooled_total",
             "Alerts written to the spool file because Redis was unreachable.", stats->spooled);
    counter (out, "onenet_alerts_spool_flushed_total",
             "Spooled alerts appended to the stream once Redis returned.", stats->spool_flushed);
    counter (out, "onenet_alerts_store_calls_total",
             "Calls of the publish script: new and spooled alerts reach Redis up to 16 a call.",
             stats->store_calls);
    counter (out, "onenet_alerts_rejected_total", "Alerts refused as invalid (BAD_REQUEST).",
             stats->rejected);
    counter (out, "onenet_alerts_pruned_total",
             "Index entries removed with their alerts once trimmed from the stream.",
             stats->pruned);
}

static void
render_events (FILE *out, const events_stats_t *stats)
{
    counter (out, "onenet_events_relayed_total",
             "Events sent to every subscriber whose filter matched.", stats->relayed);
    counter (out, "onenet_events_dropped_total",
             "Events sent without at least one subscriber, who had no room for them.",
             stats->dropped);
    counter (out, "onenet_events_hold_timeouts_total",
             "Times a subscriber took no event for events.hold_ms and was left behind.",
             stats->hold_timeouts);
    counter (out, "onenet_events_credits_total",
             "CREDIT messages sent to adapters for events that left the broker.", stats->credits);
    gauge (out, "onenet_events_held",
           "Events waiting for a full subscriber, their publishers slowed by credit.",
           stats->held);
}

static void
render_audit (FILE *out, const audit_stats_t *stats)
{
    counter (out, "onenet_audit_recorded_total", "Audit entries chained and written.",
             stats->recorded);
    counter (out, "onenet_audit_streamed_total", "Audit entries the Redis Stream confirmed.",
             stats->streamed);
    gauge (out, "onenet_audit_backlog", "Audit entries recorded, not yet confirmed in the stream.",
           stats->backlog);
    counter (out, "onenet_audit_file_errors_total",
             "Exchanges not recorded because the audit file could not be written.",
             stats->file_errors);
    counter (out, "onenet_audit_stream_errors_total",
             "Audit entries or syncs the Redis Stream refused.", stats->stream_errors);
    counter (out, "onenet_audit_lost_total",
             "Exchanges dropped in stream-only mode (memory queue full).", stats->lost);
    counter (out, "onenet_audit_trimmed_total",
             "Audit stream entries older than audit.stream_keep_s removed from Redis.",
             stats->trimmed);
}

static void
render_process (FILE *out, const broker_t *broker)
{
    gauge (out, "onenet_redis_enabled", "1 when redis.endpoint is set.",
           broker->cache && cache_enabled (broker->cache));
    gauge (out, "onenet_redis_up", "1 while the broker is connected to Redis.",
           broker->cache && cache_ready (broker->cache));
    counter (out, "onenet_redis_errors_total", "Failed Redis connections and commands.",
             broker->cache ? cache_errors (broker->cache) : 0);
    family (out, "onenet_uptime_seconds", "gauge", "Seconds since the broker started.");
    int64_t uptime_ms = onenet_clock_ms () - broker->started_at;
    fprintf (out, "onenet_uptime_seconds %.3f\n", (double)(uptime_ms > 0 ? uptime_ms : 0) / 1000);
    char version[64];
    family (out, "onenet_build_info", "gauge", "The broker's version, as a label; always 1.");
    fprintf (out, "onenet_build_info{version=\"%s\"} 1\n",
             metrics_escape_label (onenet_version (), version, sizeof version));
}

char *
metrics_render (const broker_t *broker, size_t *size)
{
    size_t count;
    service_t **services = sorted_services (broker, &count);
    if (!services && count)
        return NULL;
    char *buffer = NULL;
    size_t length = 0;
    FILE *out = open_memstream (&buffer, &length);
    if (!out) {
        free (services);
        return NULL;
    }
    render_services (out, services, count);
    render_broker (out, broker);
    if (broker->views)
        render_views (out, broker->views);
    if (broker->alerts)
        render_alerts (out, broker->alerts);
    if (broker->events)
        render_events (out, events_stats (broker->events));
    const audit_stats_t *audit = audit_stats (broker->audit);
    if (audit)
        render_audit (out, audit);
    render_process (out, broker);
    bool failed = ferror (out) != 0;
    /* fclose sets buffer and length for the last time. */
    if (fclose (out) != 0 || failed) {
        free (buffer);
        free (services);
        return NULL;
    }
    free (services);
    *size = length;
    return buffer;
}
