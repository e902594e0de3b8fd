/*
 * test_adapter.c - a real adapter process for integration tests and
 * benchmarks, built on the SDK like any department's adapter.
 *
 *   test.echo       echoes the body after delay_ms (EchoMessage); not idempotent
 *   test.echo_idem  the same, declared idempotent (the broker may retry it)
 *   test.whoami     the requester as the broker authenticated it
 *   test.emit       publishes delay_ms events (topic "bench"), then answers;
 *                   see on_emit. Offered only with --emit (bench events), so
 *                   that tests listing the services see the three above
 *
 * Options let tests shape it: department, instance, credit, heartbeat.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "onenet/onenet.h"
#include "onenet/proto/example.pb-c.h"

#define MAX_DELAYED 65536

typedef struct {
    onenet_request_t *request;
    int64_t due;
} delayed_t;

static delayed_t s_delayed[MAX_DELAYED];
static size_t s_delayed_count;

/* test.emit: requests queued, the first one being published. */
#define MAX_EMITS 64
#define EMIT_BODY_MAX 4096
/* Events published per loop turn, so heartbeats and requests still flow. */
#define EMIT_BURST 1000

typedef struct {
    onenet_request_t *request;
    uint64_t first; /* sequence number of its first event */
    uint32_t left;  /* events still to publish */
    uint32_t count;
    uint8_t body[EMIT_BODY_MAX];
    size_t size;
} emit_t;

static emit_t s_emits[MAX_EMITS];
static size_t s_emit_head, s_emit_count;
static uint64_t s_emit_seq = 1; /* the next event's sequence number */

static void
on_echo (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    Onenet__Example__EchoMessage *echo = (Onenet__Example__EchoMessage *) onenet_request_message (
        request, &onenet__example__echo_message__descriptor);
    uint32_t delay = echo ? echo->delay_ms : 0;
    if (delay == 0 || s_delayed_count == MAX_DELAYED) {
        size_t size;
        const void *body = onenet_request_body (request, &size);
        onenet_adapter_reply (adapter, &request, ONENET_OK, NULL, body, size);
        return;
    }
    s_delayed[s_delayed_count++] = (delayed_t) { request, onenet_clock_ms () + delay };
}

/* Answers with the requester as the broker authenticated it: an
 * EchoMessage whose payload is "department/user/purpose". */
static void
on_whoami (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    (void) arg;
    char who[512];
    snprintf (who, sizeof who, "%s/%s/%s", onenet_request_department (request),
              onenet_request_user (request), onenet_request_purpose (request));
    Onenet__Example__EchoMessage reply = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    reply.payload.data = (uint8_t *) who;
    reply.payload.len = strlen (who);
    onenet_adapter_reply_message (adapter, &request, &reply.base);
}

/* Queues delay_ms events (topic "bench", EchoMessage bodies) to publish
 * from the loop; each body is the request's payload with its first 16
 * bytes replaced by the event's sequence number (uint64, from 1 over the
 * process's life) and its send time (int64 CLOCK_MONOTONIC ns), both in
 * host byte order (same host). The reply, once every event is out, is an
 * EchoMessage: payload the first sequence number (8 bytes), delay_ms the
 * count. Events are best effort: what the broker or a subscriber drops is
 * seen as gaps in the sequence. */
static void
on_emit (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    (void)arg;
    Onenet__Example__EchoMessage *echo = (Onenet__Example__EchoMessage *)onenet_request_message (
        request, &onenet__example__echo_message__descriptor);
    if (!echo || echo->payload.len > EMIT_BODY_MAX || s_emit_count == MAX_EMITS) {
        bool busy = echo && echo->payload.len <= EMIT_BODY_MAX;
        if (busy)
            onenet_adapter_reply (adapter, &request, ONENET_RESOURCE_EXHAUSTED,
                                  "too many test.emit queued", NULL, 0);
        else
            onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST,
                                  "an EchoMessage with a payload of at most 4096 bytes", NULL, 0);
        return;
    }
    emit_t *emit = &s_emits[(s_emit_head + s_emit_count++) % MAX_EMITS];
    emit->request = request;
    emit->count = emit->left = echo->delay_ms;
    emit->first = 0;
    emit->size = echo->payload.len < 16 ? 16 : echo->payload.len;
    memset (emit->body, 0, 16);
    if (echo->payload.len)
        memcpy (emit->body, echo->payload.data, echo->payload.len);
}

/* Publishes up to EMIT_BURST events of the queued test.emit requests and
 * answers those done. Returns the poll timeout: 0 while there is more to
 * publish, 1 when the socket took no more (its HWM), -1 when idle. */
static int
emit_some (onenet_adapter_t *adapter)
{
    for (int sent = 0; s_emit_count && sent < EMIT_BURST;) {
        emit_t *emit = &s_emits[s_emit_head];
        if (emit->left && emit->first == 0)
            emit->first = s_emit_seq;
        for (; emit->left && sent < EMIT_BURST; sent++) {
            struct timespec now;
            clock_gettime (CLOCK_MONOTONIC, &now);
            int64_t ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
            memcpy (emit->body, &s_emit_seq, 8);
            memcpy (emit->body + 8, &ns, 8);
            Onenet__Example__EchoMessage event = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
            event.payload.data = emit->body;
            event.payload.len = emit->size;
            if (onenet_adapter_publish (adapter, "bench", &event.base) < 0)
                return 1; /* full or not connected: again shortly */
            s_emit_seq++;
            emit->left--;
        }
        if (emit->left)
            break;
        uint64_t first = emit->first ? emit->first : s_emit_seq;
        Onenet__Example__EchoMessage reply = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
        reply.payload.data = (uint8_t *)&first;
        reply.payload.len = sizeof first;
        reply.delay_ms = emit->count;
        onenet_adapter_reply_message (adapter, &emit->request, &reply.base);
        s_emit_head = (s_emit_head + 1) % MAX_EMITS;
        s_emit_count--;
    }
    return s_emit_count ? 0 : -1;
}

static int
reply_due (onenet_adapter_t *adapter)
{
    int64_t now = onenet_clock_ms (), next = -1;
    for (size_t i = 0; i < s_delayed_count;) {
        if (s_delayed[i].due > now) {
            if (next < 0 || s_delayed[i].due - now < next)
                next = s_delayed[i].due - now;
            i++;
            continue;
        }
        size_t size;
        const void *body = onenet_request_body (s_delayed[i].request, &size);
        onenet_adapter_reply (adapter, &s_delayed[i].request, ONENET_OK, NULL, body, size);
        s_delayed[i] = s_delayed[--s_delayed_count];
    }
    return (int) next;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        {"broker", required_argument, NULL, 'b'},
        {"instance", required_argument, NULL, 'i'},
        {"department", required_argument, NULL, 'd'},
        {"credit", required_argument, NULL, 'c'},
        {"heartbeat", required_argument, NULL, 'H'},
        {"emit", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *broker = NULL, *instance = NULL, *department = "test";
    int credit = 32, heartbeat = 0, opt;
    bool emit_events = false;
    while ((opt = getopt_long (argc, argv, "b:i:d:c:H:eh", options, NULL)) != -1) {
        switch (opt) {
        case 'b': broker = optarg; break;
        case 'i': instance = optarg; break;
        case 'd': department = optarg; break;
        case 'c': credit = atoi (optarg); break;
        case 'H': heartbeat = atoi (optarg); break;
        case 'e':
            emit_events = true;
            break;
        default:
            printf ("Usage: onenet-test-adapter [--broker EP] [--instance NAME] [--department D]\n"
                    "                           [--credit N] [--heartbeat MS] [--emit]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    char err[256];
    onenet_adapter_t *adapter = onenet_adapter_new (broker, department, instance, err, sizeof err);
    if (!adapter) {
        fprintf (stderr, "test adapter: %s\n", err);
        return 1;
    }
    onenet_adapter_set_credit (adapter, (unsigned) credit);
    if (heartbeat > 0)
        onenet_adapter_set_heartbeat (adapter, (unsigned) heartbeat);
    onenet_offer_options_t plain = { &onenet__example__echo_message__descriptor,
                                     &onenet__example__echo_message__descriptor, false,
                                     "echo after delay_ms, not idempotent" };
    onenet_offer_options_t idem = plain;
    idem.idempotent = true;
    idem.description = "echo after delay_ms, idempotent";
    onenet_adapter_offer (adapter, "test.echo", on_echo, NULL, &plain);
    onenet_adapter_offer (adapter, "test.echo_idem", on_echo, NULL, &idem);
    onenet_offer_options_t whoami = plain;
    whoami.description = "who the broker says is asking";
    onenet_adapter_offer (adapter, "test.whoami", on_whoami, NULL, &whoami);
    onenet_offer_options_t emit = plain;
    emit.description = "publish delay_ms events on topic bench, then answer";
    if (emit_events)
        onenet_adapter_offer (adapter, "test.emit", on_emit, NULL, &emit);
    onenet_signals_catch ();
    int rc = onenet_adapter_start (adapter);
    while (rc == 0) {
        int timeout = reply_due (adapter), emitting = emit_some (adapter);
        if (emitting >= 0 && (timeout < 0 || emitting < timeout))
            timeout = emitting;
        if (onenet_adapter_poll (adapter, timeout) < 0)
            break;
    }
    onenet_adapter_destroy (&adapter);
    return rc < 0 ? 1 : 0;
}
