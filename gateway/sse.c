/*
 * sse.c - GET /api/v1/alerts/stream: alerts as Server-Sent Events.
 *
 * Each stream owns an onenet_subscriber_t (the SDK's exactly-once, in
 * order subscriber) on the connection's own thread: libmicrohttpd runs a
 * thread per connection and calls s_read there, which blocks in
 * onenet_subscriber_next. Every alert becomes
 *
 *     id: <stream id>
 *     event: alert
 *     data: <AlertEnvelope as JSON, one line>
 *
 * Where it starts: after the Last-Event-ID header's stream id (what a
 * browser's EventSource sends when it reconnects), else after ?after=,
 * else after the newest alert in the log now (onenet.alert.since's
 * `latest`), so a new stream shows only what comes next and a resumed one
 * misses nothing. A ": keep-alive" comment goes out after keepalive_s
 * without an alert; it is also how a dropped client is noticed (the
 * write fails and MHD ends the stream).
 */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "gateway.h"
#include "onenet/subscriber.h"

#define SPLIT_MAX 16

typedef struct {
    gateway_t *gateway;
    onenet_subscriber_t *subscriber;
    char *pending; /* text not yet handed to MHD */
    size_t pending_size;
    size_t pending_offset;
    int64_t last_write_ms;
    int failures; /* next() calls in a row that failed at once */
} sse_t;

static void
s_set_pending (sse_t *self, char *text)
{
    free (self->pending);
    self->pending = text;
    self->pending_size = text ? strlen (text) : 0;
    self->pending_offset = 0;
}

static char *
s_event (const Onenet__Alert__AlertEnvelope *envelope)
{
    char *json = onenet_json_encode (&envelope->base, ONENET_JSON_DEFAULTS);
    if (!json)
        return NULL;
    char *text = NULL;
    int rc = *envelope->stream_id
                 ? asprintf (&text, "id: %s\nevent: alert\ndata: %s\n\n", envelope->stream_id, json)
                 : asprintf (&text, "event: alert\ndata: %s\n\n", json);
    free (json);
    return rc < 0 ? NULL : text;
}

static ssize_t
s_read (void *arg, uint64_t position, char *buffer, size_t max)
{
    (void)position;
    sse_t *self = arg;
    int64_t keepalive_ms = (int64_t)self->gateway->config->keepalive_s * 1000;
    while (self->pending_offset >= self->pending_size) {
        if (self->gateway->stopping)
            return MHD_CONTENT_READER_END_OF_STREAM;
        int64_t asked = onenet_clock_ms ();
        Onenet__Alert__AlertEnvelope *envelope = onenet_subscriber_next (self->subscriber, 500);
        if (!envelope && onenet_clock_ms () - asked < 100) {
            /* Back at once with nothing: a signal (stopping is next) or a
             * fatal socket error. Do not spin; after a few seconds of it,
             * end the stream so the client reconnects with its last id. */
            if (++self->failures > 30) {
                char quoted[300];
                onenet_warn ("gateway.stream_failed", "reason=%s",
                             onenet_log_quote (onenet_subscriber_error (self->subscriber), quoted,
                                               sizeof quoted));
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            usleep (100 * 1000);
            continue;
        }
        self->failures = 0;
        if (envelope) {
            s_set_pending (self, s_event (envelope));
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
            if (!self->pending)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        } else if (onenet_clock_ms () - self->last_write_ms >= keepalive_ms)
            s_set_pending (self, strdup (": keep-alive\n\n"));
    }
    size_t size = self->pending_size - self->pending_offset;
    if (size > max)
        size = max;
    memcpy (buffer, self->pending + self->pending_offset, size);
    self->pending_offset += size;
    self->last_write_ms = onenet_clock_ms ();
    return (ssize_t)size;
}

static void
s_free (void *arg)
{
    sse_t *self = arg;
    onenet_subscriber_destroy (&self->subscriber);
    free (self->pending);
    free (self);
    onenet_debug ("gateway.stream_closed", NULL);
}

/* The newest stream id in the log now, "0" when it is empty. */
static int
s_latest (gateway_request_t *req, char *out, size_t size, onenet_status_t *status_p, char *why,
          size_t why_size)
{
    Onenet__Alert__SinceRequest request = ONENET__ALERT__SINCE_REQUEST__INIT;
    request.last = 1;
    ProtobufCMessage *message =
        api_call (req->gateway, req->user, "onenet.alert.since", &request.base,
                  &onenet__alert__alert_batch__descriptor, NULL, status_p, why, why_size);
    if (!message)
        return -1;
    const Onenet__Alert__AlertBatch *batch = (const Onenet__Alert__AlertBatch *)message;
    snprintf (out, size, "%s", *batch->latest ? batch->latest : "0");
    protobuf_c_message_free_unpacked (message, NULL);
    return 0;
}

enum MHD_Result
sse_stream (gateway_request_t *req)
{
    const gateway_config_t *config = req->gateway->config;
    char *severities[SPLIT_MAX], *areas[SPLIT_MAX], *categories[SPLIT_MAX];
    onenet_alert_filter_t filter = {0};
    filter.n_severities = api_split (gateway_arg (req, "severity"), severities, SPLIT_MAX);
    filter.severities = (const char *const *)severities;
    filter.n_areas = api_split (gateway_arg (req, "area"), areas, SPLIT_MAX);
    filter.areas = (const char *const *)areas;
    filter.n_categories = api_split (gateway_arg (req, "category"), categories, SPLIT_MAX);
    filter.categories = (const char *const *)categories;
    char err[512] = "", start[64] = "";
    onenet_status_t status = ONENET_BAD_REQUEST;
    sse_t *self = NULL;
    const char *resume =
        MHD_lookup_connection_value (req->connection, MHD_HEADER_KIND, "Last-Event-ID");
    if (!resume || !*resume)
        resume = gateway_arg (req, "after");
    if (onenet_alert_filter_check (&filter, err, sizeof err) < 0)
        goto fail;
    if (resume && *resume)
        snprintf (start, sizeof start, "%s", resume);
    else if (s_latest (req, start, sizeof start, &status, err, sizeof err) < 0)
        goto fail;
    self = calloc (1, sizeof *self);
    if (!self) {
        status = ONENET_INTERNAL;
        snprintf (err, sizeof err, "out of memory");
        goto fail;
    }
    self->gateway = req->gateway;
    self->last_write_ms = onenet_clock_ms ();
    self->subscriber = onenet_subscriber_new (config->broker_endpoint, config->alerts_endpoint,
                                              &filter, NULL, err, sizeof err);
    if (!self->subscriber) {
        status = ONENET_UNAVAILABLE;
        goto fail;
    }
    /* Its catch-ups are the user's, like every other call the gateway makes. */
    if (onenet_subscriber_act_for (self->subscriber, req->user->department, req->user->name) < 0) {
        status = ONENET_INTERNAL;
        snprintf (err, sizeof err, "out of memory");
        goto fail;
    }
    if (onenet_subscriber_start_after (self->subscriber, start) < 0) {
        status = ONENET_BAD_REQUEST;
        snprintf (err, sizeof err, "Last-Event-ID / after: \"%.60s\" is not a stream id", start);
        goto fail;
    }
    api_strings_free (severities, filter.n_severities);
    api_strings_free (areas, filter.n_areas);
    api_strings_free (categories, filter.n_categories);
    /* The first bytes tell EventSource how soon to reconnect. */
    s_set_pending (self, strdup ("retry: 3000\n\n"));
    struct MHD_Response *response =
        MHD_create_response_from_callback (MHD_SIZE_UNKNOWN, 4096, s_read, self, s_free);
    if (!response) {
        s_free (self);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                             "text/event-stream; charset=utf-8");
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header (response, "X-Accel-Buffering", "no");
    enum MHD_Result queued = MHD_queue_response (req->connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    onenet_info ("gateway.stream_opened", "user=%s after=%s", req->user->name, start);
    return queued;

fail:
    if (self) {
        onenet_subscriber_destroy (&self->subscriber);
        free (self->pending);
        free (self);
    }
    api_strings_free (severities, filter.n_severities);
    api_strings_free (areas, filter.n_areas);
    api_strings_free (categories, filter.n_categories);
    return gateway_reply_error (req, status, "%s", err);
}
