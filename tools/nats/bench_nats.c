/*
 * bench_nats.c - onenet-bench-nats: the NATS side of `onenet bench`'s
 * baseline, a separate executable so that the onenet CLI never links
 * libnats. `onenet bench rr` and `onenet bench events` start a
 * nats-server on 127.0.0.1 and run this against it:
 *
 *   onenet-bench-nats echo --url URL --subject S
 *       replies to every request on S with the same payload, until SIGTERM
 *   onenet-bench-nats rr --url URL --subject S --inflight N --duration SECONDS
 *                        [--payload BYTES] [--warmup SECONDS]
 *       closed-loop request/reply, N requests in flight on one connection
 *   onenet-bench-nats fanout --url URL --subject S --subscribers N
 *                            --duration SECONDS [--payload BYTES] [--warmup SECONDS]
 *       one publisher as fast as it can, N subscribers (a connection each)
 *
 * rr and fanout print their figures on stdout, one `name value unit` line
 * each (the bench reads them from the log), and exit 0; a failure is one
 * line on stderr and exit 1. Every connection sends at once
 * (natsOptions_SetSendAsap): no batching in the client, as the ZeroMQ
 * sides send each message when asked.
 *
 * rr: one subscription on "<inbox>.*"; request k of slot s is published
 * with the reply subject "<inbox>.<s>", and the reply's subject suffix
 * says which slot it answers: latency is from that slot's send time.
 * fanout: every message starts with its sequence number; a subscriber
 * counts gaps (dropped by the client library past its pending limit, or
 * by the server for a slow consumer) and anything out of order.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <nats/nats.h>
#include "bench_samples.h"

#define MAX_INFLIGHT 1000
#define MAX_SUBSCRIBERS 16
#define MAX_PAYLOAD 65536
#define DEFAULT_PAYLOAD 100
#define DEFAULT_WARMUP_S 0.5
/* A reply or responder this late means something is wrong: stop. */
#define REPLY_TIMEOUT_MS 10000
#define RESPONDER_WAIT_MS 10000
/* Messages a subscriber may hold before the library drops, like the
 * ZeroMQ SUB sockets' RCVHWM in bench events. */
#define SUB_PENDING_MSGS 100000
/* After the last publish: until the counts stop moving, at most this. */
#define DRAIN_MS 10000

typedef struct {
    const char *url;
    const char *subject;
    size_t inflight;
    size_t subscribers;
    size_t payload;
    double duration_s;
    double warmup_s;
} options_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_stop = 1;
}

static int
s_fail_status (const char *what, natsStatus status)
{
    natsStatus last = NATS_OK;
    const char *detail = nats_GetLastError (&last);
    fprintf (stderr, "onenet-bench-nats: %s: %s%s%s\n", what, natsStatus_GetText (status),
             detail && *detail ? ": " : "", detail && *detail ? detail : "");
    return -1;
}

/* A connection to url that sends every publish at once. */
static natsStatus
s_connect (natsConnection **conn, const char *url, const char *name, natsErrHandler on_error,
           natsConnectionHandler on_disconnect, void *closure)
{
    natsOptions *options = NULL;
    natsStatus s = natsOptions_Create (&options);
    if (s == NATS_OK)
        s = natsOptions_SetURL (options, url);
    if (s == NATS_OK)
        s = natsOptions_SetName (options, name);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap (options, true);
    //  a dropped connection is a result (the server's slow consumer), not
    //  something to paper over by reconnecting
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect (options, false);
    if (s == NATS_OK && on_error)
        s = natsOptions_SetErrorHandler (options, on_error, closure);
    if (s == NATS_OK && on_disconnect)
        s = natsOptions_SetDisconnectedCB (options, on_disconnect, closure);
    if (s == NATS_OK)
        s = natsConnection_Connect (conn, options);
    natsOptions_Destroy (options);
    return s;
}

/* --- echo ------------------------------------------------------------------ */

static int
s_echo (const options_t *options)
{
    natsConnection *conn = NULL;
    natsSubscription *sub = NULL;
    natsStatus s = s_connect (&conn, options->url, "onenet-bench-nats echo", NULL, NULL, NULL);
    if (s == NATS_OK)
        s = natsConnection_SubscribeSync (&sub, conn, options->subject);
    if (s == NATS_OK)
        s = natsConnection_Flush (conn);
    int rc = s == NATS_OK ? 0 : s_fail_status ("echo: subscribe", s);
    while (rc == 0 && !s_stop) {
        natsMsg *msg = NULL;
        //  a short timeout, so SIGTERM is seen
        s = natsSubscription_NextMsg (&msg, sub, 200);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) {
            rc = s_stop ? 0 : s_fail_status ("echo: next message", s);
            break;
        }
        const char *reply = natsMsg_GetReply (msg);
        if (reply)
            s = natsConnection_Publish (conn, reply, natsMsg_GetData (msg),
                                        natsMsg_GetDataLength (msg));
        natsMsg_Destroy (msg);
        if (s != NATS_OK)
            rc = s_fail_status ("echo: reply", s);
    }
    natsSubscription_Destroy (sub);
    natsConnection_Destroy (conn);
    return rc;
}

/* --- rr --------------------------------------------------------------------- */

/* Waits until a responder answers on subject (the echo may still be
 * subscribing); the server says "no responders" until then. */
static natsStatus
s_wait_responder (natsConnection *conn, const options_t *options, const char *payload)
{
    int64_t until = bench_now_ns () + (int64_t)RESPONDER_WAIT_MS * 1000000;
    natsStatus s = NATS_TIMEOUT;
    while (bench_now_ns () < until && !s_stop) {
        natsMsg *reply = NULL;
        s = natsConnection_Request (&reply, conn, options->subject, payload, (int)options->payload,
                                    500);
        bool answered = s == NATS_OK && !natsMsg_IsNoResponders (reply);
        natsMsg_Destroy (reply);
        if (answered)
            return NATS_OK;
        if (s == NATS_OK)
            s = NATS_NO_RESPONDERS;
        usleep (50000);
    }
    return s;
}

static int
s_rr (const options_t *options)
{
    natsConnection *conn = NULL;
    natsSubscription *sub = NULL;
    natsInbox *inbox = NULL;
    char *payload = calloc (1, options->payload);
    char (*replies)[128] = calloc (options->inflight, sizeof *replies);
    int64_t *sent = calloc (options->inflight, sizeof *sent);
    bench_samples_t samples = {0};
    if (!payload || !replies || !sent) {
        fprintf (stderr, "onenet-bench-nats: rr: out of memory\n");
        free (payload);
        free (replies);
        free (sent);
        return -1;
    }
    memset (payload, 'x', options->payload);
    char wildcard[160];
    natsStatus s = s_connect (&conn, options->url, "onenet-bench-nats rr", NULL, NULL, NULL);
    if (s == NATS_OK)
        s = natsInbox_Create (&inbox);
    if (s == NATS_OK) {
        snprintf (wildcard, sizeof wildcard, "%s.*", inbox);
        for (size_t i = 0; i < options->inflight; i++)
            snprintf (replies[i], sizeof replies[i], "%s.%zu", inbox, i);
        s = natsConnection_SubscribeSync (&sub, conn, wildcard);
    }
    if (s == NATS_OK)
        s = natsConnection_Flush (conn);
    int rc = s == NATS_OK ? 0 : s_fail_status ("rr: connect and subscribe", s);
    if (rc == 0 && (s = s_wait_responder (conn, options, payload)) != NATS_OK)
        rc = s_fail_status ("rr: no responder", s);

    int64_t from = bench_now_ns () + (int64_t)(options->warmup_s * 1e9);
    int64_t until = from + (int64_t)(options->duration_s * 1e9);
    size_t outstanding = 0;
    uint64_t completed = 0;
    for (size_t i = 0; rc == 0 && i < options->inflight; i++) {
        sent[i] = bench_now_ns ();
        s = natsConnection_PublishRequest (conn, options->subject, replies[i], payload,
                                           (int)options->payload);
        if (s != NATS_OK)
            rc = s_fail_status ("rr: publish", s);
        else
            outstanding++;
    }
    while (rc == 0 && outstanding > 0) {
        natsMsg *msg = NULL;
        s = natsSubscription_NextMsg (&msg, sub, REPLY_TIMEOUT_MS);
        int64_t done = bench_now_ns ();
        if (s != NATS_OK) {
            rc = s_fail_status ("rr: reply", s);
            break;
        }
        const char *subject = natsMsg_GetSubject (msg);
        const char *dot = strrchr (subject, '.');
        char *end = NULL;
        unsigned long slot = dot ? strtoul (dot + 1, &end, 10) : ULONG_MAX;
        bool valid = dot && end && *end == '\0' && slot < options->inflight && sent[slot] &&
                     natsMsg_GetDataLength (msg) == (int)options->payload &&
                     !natsMsg_IsNoResponders (msg);
        natsMsg_Destroy (msg);
        if (!valid) {
            fprintf (stderr, "onenet-bench-nats: rr: unexpected reply on %s\n", subject);
            rc = -1;
            break;
        }
        if (done >= from && done <= until) {
            bench_samples_add (&samples, (uint64_t)(done - sent[slot]));
            completed++;
        }
        outstanding--;
        sent[slot] = 0;
        if (done < until) {
            sent[slot] = bench_now_ns ();
            s = natsConnection_PublishRequest (conn, options->subject, replies[slot], payload,
                                               (int)options->payload);
            if (s != NATS_OK)
                rc = s_fail_status ("rr: publish", s);
            else
                outstanding++;
        }
    }
    if (rc == 0 && (samples.out_of_memory || completed == 0)) {
        fprintf (stderr, "onenet-bench-nats: rr: %s\n",
                 completed ? "out of memory for latency samples" : "no reply in the window");
        rc = -1;
    }
    if (rc == 0) {
        bench_samples_sort (&samples);
        printf ("rps %.0f req/s\n", (double)completed / options->duration_s);
        printf ("p50 %.1f us\n", bench_samples_us (&samples, 0.50));
        printf ("p99 %.1f us\n", bench_samples_us (&samples, 0.99));
        printf ("p999 %.1f us\n", bench_samples_us (&samples, 0.999));
        printf ("completed %llu req\n", (unsigned long long)completed);
    }
    bench_samples_free (&samples);
    natsSubscription_Destroy (sub);
    natsConnection_Destroy (conn);
    natsInbox_Destroy (inbox);
    free (payload);
    free (replies);
    free (sent);
    return rc;
}

/* --- fanout -------------------------------------------------------------- */

/* What the publisher and the subscribers' delivery threads share. */
typedef struct {
    size_t payload;
    _Atomic int64_t from, until; /* the measured window, CLOCK_MONOTONIC ns */
} window_t;

typedef struct {
    window_t *window;
    natsConnection *conn;
    natsSubscription *sub;
    atomic_uint_fast64_t received;      /* every message, window or not */
    atomic_uint_fast64_t in_window;     /* received inside the window */
    atomic_uint_fast64_t last;          /* highest sequence number seen */
    atomic_uint_fast64_t unexpected;    /* malformed, duplicate or out of order */
    atomic_uint_fast64_t slow_consumer; /* NATS_SLOW_CONSUMER reports */
    atomic_bool disconnected;
} subscriber_t;

/* On the subscription's delivery thread, one message at a time. */
static void
s_on_message (natsConnection *conn, natsSubscription *sub, natsMsg *msg, void *closure)
{
    subscriber_t *self = closure;
    int64_t now = bench_now_ns ();
    uint64_t seq = 0;
    if (natsMsg_GetDataLength (msg) == (int)self->window->payload)
        memcpy (&seq, natsMsg_GetData (msg), sizeof seq);
    natsMsg_Destroy (msg);
    if (seq == 0 || seq <= atomic_load (&self->last)) {
        atomic_fetch_add (&self->unexpected, 1);
        return;
    }
    atomic_store (&self->last, seq);
    atomic_fetch_add (&self->received, 1);
    if (now >= atomic_load (&self->window->from) && now <= atomic_load (&self->window->until))
        atomic_fetch_add (&self->in_window, 1);
}

static void
s_on_error (natsConnection *conn, natsSubscription *sub, natsStatus err, void *closure)
{
    subscriber_t *self = closure;
    if (err == NATS_SLOW_CONSUMER)
        atomic_fetch_add (&self->slow_consumer, 1);
}

static void
s_on_disconnect (natsConnection *conn, void *closure)
{
    subscriber_t *self = closure;
    atomic_store (&self->disconnected, true);
}

static uint64_t
s_received (subscriber_t *subs, size_t count)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += atomic_load (&subs[i].received);
    return total;
}

static int
s_fanout (const options_t *options)
{
    window_t window = {.payload = options->payload};
    atomic_store (&window.from, INT64_MAX);
    atomic_store (&window.until, INT64_MAX);
    subscriber_t *subs = calloc (options->subscribers, sizeof *subs);
    char *payload = calloc (1, options->payload);
    if (!subs || !payload) {
        fprintf (stderr, "onenet-bench-nats: fanout: out of memory\n");
        free (subs);
        free (payload);
        return -1;
    }
    memset (payload, 'x', options->payload);
    int rc = 0;
    natsStatus s = NATS_OK;
    for (size_t i = 0; rc == 0 && i < options->subscribers; i++) {
        subscriber_t *sub = &subs[i];
        sub->window = &window;
        char name[64];
        snprintf (name, sizeof name, "onenet-bench-nats sub%zu", i + 1);
        s = s_connect (&sub->conn, options->url, name, s_on_error, s_on_disconnect, sub);
        if (s == NATS_OK)
            s = natsConnection_Subscribe (&sub->sub, sub->conn, options->subject, s_on_message,
                                          sub);
        if (s == NATS_OK)
            s = natsSubscription_SetPendingLimits (sub->sub, SUB_PENDING_MSGS,
                                                   SUB_PENDING_MSGS * (int)options->payload * 2);
        //  the server has the subscription once it answers the PING
        if (s == NATS_OK)
            s = natsConnection_Flush (sub->conn);
        if (s != NATS_OK)
            rc = s_fail_status ("fanout: subscribe", s);
    }
    natsConnection *pub = NULL;
    if (rc == 0 &&
        (s = s_connect (&pub, options->url, "onenet-bench-nats pub", NULL, NULL, NULL)) != NATS_OK)
        rc = s_fail_status ("fanout: publisher", s);

    uint64_t seq = 0, in_window = 0;
    int64_t start = bench_now_ns ();
    atomic_store (&window.from, start + (int64_t)(options->warmup_s * 1e9));
    atomic_store (&window.until, atomic_load (&window.from) + (int64_t)(options->duration_s * 1e9));
    int64_t from = atomic_load (&window.from), until = atomic_load (&window.until);
    for (int64_t now = start; rc == 0 && now < until; now = bench_now_ns ()) {
        for (int i = 0; rc == 0 && i < 256; i++) {
            seq++;
            memcpy (payload, &seq, sizeof seq);
            s = natsConnection_Publish (pub, options->subject, payload, (int)options->payload);
            if (s != NATS_OK)
                rc = s_fail_status ("fanout: publish", s);
        }
        if (now >= from)
            in_window += 256;
    }
    if (rc == 0 && (s = natsConnection_Flush (pub)) != NATS_OK)
        rc = s_fail_status ("fanout: flush", s);
    //  what is queued arrives, then the counts stop moving
    int64_t drain_until = bench_now_ns () + (int64_t)DRAIN_MS * 1000000;
    uint64_t expected = seq * options->subscribers;
    uint64_t last = UINT64_MAX, now = rc == 0 ? s_received (subs, options->subscribers) : 0;
    while (rc == 0 && now != last && now < expected && bench_now_ns () < drain_until) {
        last = now;
        usleep (300000);
        now = s_received (subs, options->subscribers);
    }
    int64_t client_dropped = 0;
    for (size_t i = 0; i < options->subscribers; i++) {
        int64_t dropped = 0;
        if (subs[i].sub && natsSubscription_GetDropped (subs[i].sub, &dropped) == NATS_OK)
            client_dropped += dropped;
        if (subs[i].sub)
            natsSubscription_Unsubscribe (subs[i].sub);
    }
    if (rc == 0) {
        uint64_t received = s_received (subs, options->subscribers), delivered = 0;
        uint64_t unexpected = 0, slow = 0, disconnected = 0;
        for (size_t i = 0; i < options->subscribers; i++) {
            delivered += atomic_load (&subs[i].in_window);
            unexpected += atomic_load (&subs[i].unexpected);
            slow += atomic_load (&subs[i].slow_consumer);
            disconnected += atomic_load (&subs[i].disconnected);
        }
        printf ("published %llu msgs\n", (unsigned long long)seq);
        printf ("published.rps %.0f msgs/s\n", (double)in_window / options->duration_s);
        printf ("delivered.rps %.0f msgs/s\n", (double)delivered / options->duration_s);
        for (size_t i = 0; i < options->subscribers; i++)
            printf ("sub%zu.delivered.rps %.0f msgs/s\n", i + 1,
                    (double)atomic_load (&subs[i].in_window) / options->duration_s);
        printf ("received %llu msgs\n", (unsigned long long)received);
        printf ("dropped %llu msgs\n",
                (unsigned long long)(expected > received ? expected - received : 0));
        printf ("client_dropped %lld msgs\n", (long long)client_dropped);
        printf ("slow_consumer %llu reports\n", (unsigned long long)slow);
        printf ("disconnected %llu subscribers\n", (unsigned long long)disconnected);
        printf ("unexpected %llu msgs\n", (unsigned long long)unexpected);
    }
    natsConnection_Destroy (pub);
    for (size_t i = 0; i < options->subscribers; i++) {
        natsSubscription_Destroy (subs[i].sub);
        natsConnection_Destroy (subs[i].conn);
    }
    //  the delivery threads may still hold subs: let them unwind first
    nats_CloseAndWait (5000);
    free (subs);
    free (payload);
    return rc;
}

/* --- options ---------------------------------------------------------------- */

static const char s_usage[] =
    "usage: onenet-bench-nats echo --url URL --subject S\n"
    "       onenet-bench-nats rr --url URL --subject S --inflight N --duration SECONDS\n"
    "                            [--payload BYTES] [--warmup SECONDS]\n"
    "       onenet-bench-nats fanout --url URL --subject S --subscribers N --duration SECONDS\n"
    "                                [--payload BYTES] [--warmup SECONDS]\n"
    "\n"
    "The NATS baseline of `onenet bench` (started by it; see docs/PERFORMANCE.md).\n"
    "rr and fanout print one 'name value unit' line per figure.\n";

static int
s_usage_error (const char *format, const char *arg)
{
    fprintf (stderr, "onenet-bench-nats: ");
    fprintf (stderr, format, arg);
    fprintf (stderr, "\n%s", s_usage);
    return 2;
}

static bool
s_number (const char *arg, double min, double max, double *value)
{
    char *end = NULL;
    double parsed = strtod (arg, &end);
    if (!end || *end || end == arg || !(parsed >= min && parsed <= max))
        return false;
    *value = parsed;
    return true;
}

int
main (int argc, char **argv)
{
    if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
        fputs (s_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *command = argv[1];
    if (strcmp (command, "echo") != 0 && strcmp (command, "rr") != 0 &&
        strcmp (command, "fanout") != 0)
        return s_usage_error ("unknown command '%s'", command);
    options_t options = {.inflight = 1,
                         .subscribers = 4,
                         .payload = DEFAULT_PAYLOAD,
                         .duration_s = 5,
                         .warmup_s = DEFAULT_WARMUP_S};
    enum {
        OPT_URL = 1,
        OPT_SUBJECT,
        OPT_INFLIGHT,
        OPT_SUBSCRIBERS,
        OPT_PAYLOAD,
        OPT_DURATION,
        OPT_WARMUP
    };
    static const struct option longs[] = {
        {"url", required_argument, NULL, OPT_URL},
        {"subject", required_argument, NULL, OPT_SUBJECT},
        {"inflight", required_argument, NULL, OPT_INFLIGHT},
        {"subscribers", required_argument, NULL, OPT_SUBSCRIBERS},
        {"payload", required_argument, NULL, OPT_PAYLOAD},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {NULL, 0, NULL, 0},
    };
    optind = 2;
    int opt;
    double value = 0;
    while ((opt = getopt_long (argc, argv, "", longs, NULL)) != -1) {
        switch (opt) {
        case OPT_URL:
            options.url = optarg;
            break;
        case OPT_SUBJECT:
            options.subject = optarg;
            break;
        case OPT_INFLIGHT:
            if (!s_number (optarg, 1, MAX_INFLIGHT, &value) || value != (double)(size_t)value)
                return s_usage_error ("--inflight: expected 1 to 1000, got '%s'", optarg);
            options.inflight = (size_t)value;
            break;
        case OPT_SUBSCRIBERS:
            if (!s_number (optarg, 1, MAX_SUBSCRIBERS, &value) || value != (double)(size_t)value)
                return s_usage_error ("--subscribers: expected 1 to 16, got '%s'", optarg);
            options.subscribers = (size_t)value;
            break;
        case OPT_PAYLOAD:
            //  fanout carries its sequence number in the first 8 bytes
            if (!s_number (optarg, 8, MAX_PAYLOAD, &value) || value != (double)(size_t)value)
                return s_usage_error ("--payload: expected 8 to 65536 bytes, got '%s'", optarg);
            options.payload = (size_t)value;
            break;
        case OPT_DURATION:
            if (!s_number (optarg, 0.1, 3600, &value))
                return s_usage_error ("--duration: expected 0.1 to 3600 seconds, got '%s'", optarg);
            options.duration_s = value;
            break;
        case OPT_WARMUP:
            if (!s_number (optarg, 0, 60, &value))
                return s_usage_error ("--warmup: expected 0 to 60 seconds, got '%s'", optarg);
            options.warmup_s = value;
            break;
        default:
            return s_usage_error ("%s", "bad option");
        }
    }
    if (optind != argc)
        return s_usage_error ("unexpected argument '%s'", argv[optind]);
    if (!options.url || !options.subject)
        return s_usage_error ("%s: --url and --subject are required", command);

    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
    signal (SIGPIPE, SIG_IGN);

    int rc = strcmp (command, "echo") == 0 ? s_echo (&options)
             : strcmp (command, "rr") == 0 ? s_rr (&options)
                                           : s_fanout (&options);
    fflush (stdout);
    //  fanout has closed the library already
    if (strcmp (command, "fanout") != 0)
        nats_CloseAndWait (5000);
    return rc == 0 ? 0 : 1;
}
