/*
 * test_adapter.c - a real adapter process for integration tests and
 * benchmarks, built on the SDK like any department's adapter.
 *
 *   test.echo       echoes the body after delay_ms (EchoMessage); not idempotent
 *   test.echo_idem  the same, declared idempotent (the broker may retry it)
 *   test.whoami     the requester as the broker authenticated it
 *
 * Options let tests shape it: department, instance, credit, heartbeat.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onenet/onenet.h"
#include "onenet/proto/example.pb-c.h"

#define MAX_DELAYED 65536

typedef struct {
    onenet_request_t *request;
    int64_t due;
} delayed_t;

static delayed_t s_delayed[MAX_DELAYED];
static size_t s_delayed_count;

static void
on_echo (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    Onenet__Example__EchoMessage *echo = (Onenet__Example__EchoMessage *) onenet_request_unpack (
        request, &onenet__example__echo_message__descriptor);
    uint32_t delay = echo ? echo->delay_ms : 0;
    if (echo)
        protobuf_c_message_free_unpacked (&echo->base, NULL);
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
        { "broker", required_argument, NULL, 'b' },    { "instance", required_argument, NULL, 'i' },
        { "department", required_argument, NULL, 'd' }, { "credit", required_argument, NULL, 'c' },
        { "heartbeat", required_argument, NULL, 'H' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *broker = NULL, *instance = NULL, *department = "test";
    int credit = 32, heartbeat = 0, opt;
    while ((opt = getopt_long (argc, argv, "b:i:d:c:H:h", options, NULL)) != -1) {
        switch (opt) {
        case 'b': broker = optarg; break;
        case 'i': instance = optarg; break;
        case 'd': department = optarg; break;
        case 'c': credit = atoi (optarg); break;
        case 'H': heartbeat = atoi (optarg); break;
        default:
            printf ("Usage: onenet-test-adapter [--broker EP] [--instance NAME] [--department D]\n"
                    "                           [--credit N] [--heartbeat MS]\n");
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
    onenet_signals_catch ();
    int rc = onenet_adapter_start (adapter);
    while (rc == 0 && onenet_adapter_poll (adapter, reply_due (adapter)) >= 0)
        ;
    onenet_adapter_destroy (&adapter);
    return rc < 0 ? 1 : 0;
}
