/*
 * tools/bench_core.c - the measuring part of `onenet bench`: figures,
 * latency percentiles, the closed-loop load driver, and the measured window
 * that the threads of a fan-out run (bench alerts, bench events) share.
 *
 * The driver keeps N calls in flight through one SDK client, as a busy
 * gateway would: every reply is answered by a new call. Latencies are
 * kept whole (one uint64 per call) and sorted at the end, so percentiles
 * are exact rather than histogram buckets; a few seconds of calls is a
 * few MB.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench.h"
#include "onenet/proto/example.pb-c.h"

/* Send times by correlation id (id & mask). Far larger than any in-flight
 * count, so a slot is only reused long after its call ended. */
#define RING_SIZE 65536
#define RING_MASK (RING_SIZE - 1)
/* A reply silent this long past the call's deadline means the system is
 * stuck: stop rather than hang. */
#define STUCK_GRACE_MS 3000
#define MAX_BODY 4096

typedef struct {
    uint64_t id;
    int64_t sent_ns;
} sent_t;

/* --- figures ------------------------------------------------------------ */

void
bench_add (bench_report_t *report, bench_group_t group, const char *unit, int decimals,
           double value, const char *format, ...)
{
    if (report->count == BENCH_MAX_FIGURES)
        return;
    bench_figure_t *figure = &report->figures[report->count++];
    va_list args;
    va_start (args, format);
    vsnprintf (figure->name, sizeof figure->name, format, args);
    va_end (args);
    snprintf (figure->unit, sizeof figure->unit, "%s", unit);
    //  the output contract has no room for signs, exponents or NaN
    figure->value = isfinite (value) && value > 0 ? value : 0;
    figure->decimals = decimals;
    figure->group = group;
}

const bench_figure_t *
bench_find (const bench_report_t *report, const char *name)
{
    for (size_t i = 0; i < report->count; i++)
        if (strcmp (report->figures[i].name, name) == 0)
            return &report->figures[i];
    return NULL;
}

/* --- latency ------------------------------------------------------------ */

void
bench_result_fill (bench_result_t *result, bench_samples_t *samples, double window_s)
{
    bench_samples_sort (samples);
    result->completed = samples->count;
    result->rps = window_s > 0 ? (double)samples->count / window_s : 0;
    result->p50_us = bench_samples_us (samples, 0.50);
    result->p99_us = bench_samples_us (samples, 0.99);
    result->p999_us = bench_samples_us (samples, 0.999);
}

/* --- load --------------------------------------------------------------- */

/* Counts a failed reply, keeping the first reason. */
static void
s_note_failure (bench_result_t *result, const onenet_reply_t *reply)
{
    if (result->failed++ == 0) {
        const char *message = onenet_reply_message (reply);
        snprintf (result->first_error, sizeof result->first_error, "%s%s%s",
                  onenet_status_name (onenet_reply_status (reply)), *message ? ": " : "", message);
    }
}

/* Sends until `inflight` calls are pending. Returns 0 or -1 (err set). */
static int
s_fill (onenet_client_t *client, const bench_load_t *load, sent_t *ring, uint64_t *seq,
        const onenet_call_options_t *options, char *err, size_t err_size)
{
    uint8_t body[MAX_BODY];
    while (onenet_client_pending (client) < load->inflight) {
        size_t size = load->body (load->state, (*seq)++, body, sizeof body);
        int64_t sent_ns = bench_now_ns ();
        uint64_t id = onenet_client_send (client, load->service, body, size, options);
        if (id == 0) {
            snprintf (err, err_size, "cannot send %s: %s", load->service,
                      onenet_client_error (client));
            return -1;
        }
        ring[id & RING_MASK] = (sent_t){id, sent_ns};
    }
    return 0;
}

int
bench_onenet_round (void *state, double warmup_s, double duration_s, bench_samples_t *samples,
                    bench_result_t *result, char *err, size_t err_size)
{
    const bench_load_t *load = state;
    onenet_client_t *client = onenet_client_new (load->endpoint, err, err_size);
    sent_t *ring = calloc (RING_SIZE, sizeof *ring);
    if (!client || !ring) {
        if (client)
            snprintf (err, err_size, "out of memory");
        onenet_client_destroy (&client);
        free (ring);
        return -1;
    }
    /* Many calls in flight: the requests started for the replies of one
     * BATCH leave together, as in any such loop of a department's. */
    onenet_client_set_batching (client, true);
    onenet_call_options_t options = {.timeout_ms = load->timeout_ms};
    int64_t from = bench_now_ns () + (int64_t)(warmup_s * 1e9);
    int64_t until = from + (int64_t)(duration_s * 1e9);
    int wait_ms = (int)load->timeout_ms + STUCK_GRACE_MS;
    uint64_t seq = 0;
    int rc = 0;
    for (;;) {
        //  once the window closes, only drain what is still in flight
        if (bench_now_ns () < until &&
            s_fill (client, load, ring, &seq, &options, err, err_size) < 0) {
            rc = -1;
            break;
        }
        if (onenet_client_pending (client) == 0)
            break;
        onenet_reply_t *reply = onenet_client_recv (client, wait_ms);
        int64_t done = bench_now_ns ();
        if (!reply) {
            snprintf (err, err_size, "no reply from %s within %d ms (%zu calls in flight)",
                      load->service, wait_ms, onenet_client_pending (client));
            rc = -1;
            break;
        }
        uint64_t id = onenet_reply_correlation_id (reply);
        const sent_t *sent = &ring[id & RING_MASK];
        if (onenet_reply_status (reply) != ONENET_OK)
            s_note_failure (result, reply);
        else if (done >= from && done <= until && sent->id == id) {
            bench_samples_add (samples, (uint64_t)(done - sent->sent_ns));
            if (load->on_reply)
                load->on_reply (load->state, reply);
        }
        onenet_reply_destroy (&reply);
    }
    free (ring);
    onenet_client_destroy (&client);
    return rc;
}

int
bench_onenet_load (const bench_load_t *load, bench_result_t *result, char *err, size_t err_size)
{
    bench_side_t side = {.round = bench_onenet_round, .state = (void *)load};
    int rc = bench_interleave (&side, 1, load->warmup_s, load->duration_s, err, err_size);
    *result = side.result;
    return rc;
}

int
bench_result_check (const char *what, const bench_result_t *result, double duration_s, char *err,
                    size_t err_size)
{
    if (result->failed) {
        snprintf (err, err_size, "%s: %llu calls failed, the first with %s", what,
                  (unsigned long long)result->failed, result->first_error);
        return -1;
    }
    if (result->completed == 0) {
        snprintf (err, err_size, "%s: no call completed in %.1f s", what, duration_s);
        return -1;
    }
    return 0;
}

/* --- interleaved rounds ------------------------------------------------- */

int
bench_interleave (bench_side_t *sides, size_t count, double warmup_s, double duration_s,
                  char *err, size_t err_size)
{
    bench_samples_t samples[BENCH_MAX_SIDES] = {0};
    if (count == 0 || count > BENCH_MAX_SIDES) {
        snprintf (err, err_size, "%zu sides to interleave (1 to %d)", count, BENCH_MAX_SIDES);
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        memset (&sides[i].result, 0, sizeof sides[i].result);
    //  one side alone gains nothing from rounds, and pays their warm-ups
    size_t rounds = count > 1 ? (size_t)(duration_s / BENCH_ROUND_S + 0.5) : 1;
    if (rounds < 1)
        rounds = 1;
    double window_s = duration_s / (double)rounds;
    int rc = 0;
    for (size_t round = 0; rc == 0 && round < rounds; round++) {
        //  the order turns every round, so that no side always runs just
        //  after another (whose leftovers, a Redis write or a TCP close,
        //  it would pay for)
        for (size_t k = 0; rc == 0 && k < count; k++) {
            size_t i = round % 2 ? count - 1 - k : k;
            double warm = round == 0 ? warmup_s : BENCH_ROUND_WARMUP_S;
            rc = sides[i].round (sides[i].state, warm, window_s, &samples[i], &sides[i].result,
                                 err, err_size);
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (rc == 0 && samples[i].out_of_memory) {
            snprintf (err, err_size, "out of memory for latency samples");
            rc = -1;
        }
        if (rc == 0)
            bench_result_fill (&sides[i].result, &samples[i], duration_s);
        bench_samples_free (&samples[i]);
    }
    return rc;
}

/* --- fan-out runs ------------------------------------------------------- */

void
bench_fanout_init (bench_fanout_t *self, const char *endpoint, const char *alerts)
{
    self->endpoint = endpoint;
    self->alerts = alerts;
    //  before any thread sees it
    atomic_init (&self->from, INT64_MAX);
    atomic_init (&self->until, INT64_MAX);
    atomic_init (&self->stop, false);
}

int64_t
bench_fanout_open (bench_fanout_t *self, double warmup_s, double duration_s)
{
    int64_t now = bench_now_ns ();
    atomic_store (&self->from, now + (int64_t)(warmup_s * 1e9));
    atomic_store (&self->until, atomic_load (&self->from) + (int64_t)(duration_s * 1e9));
    return now;
}

void
bench_echo_init (bench_echo_t *echo)
{
    /* EchoMessage{payload}: one tag byte, one length byte, the payload. */
    uint8_t payload[BENCH_ECHO_BODY_SIZE - 2];
    memset (payload, 'x', sizeof payload);
    Onenet__Example__EchoMessage message = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    message.payload.data = payload;
    message.payload.len = sizeof payload;
    echo->size = protobuf_c_message_pack (&message.base, echo->body);
}

size_t
bench_echo_body (void *state, uint64_t seq, uint8_t *buffer, size_t size)
{
    const bench_echo_t *echo = state;
    (void)seq;
    if (echo->size > size)
        return 0;
    memcpy (buffer, echo->body, echo->size);
    return echo->size;
}
