/*
 * example_adapter.c - the template a department copies to plug its system
 * into OneNet. It offers two services:
 *   example.greet  GreetRequest -> GreetReply       answered at once
 *   example.echo   EchoMessage  -> EchoMessage      answered after delay_ms,
 *                  showing a reply given later, from the adapter's own loop
 * Build out of tree: cc example_adapter.c $(pkg-config --cflags --libs onenet)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <onenet/onenet.h>
#include <onenet/proto/example.pb-c.h>

#define MAX_DELAYED 1024
typedef struct { onenet_request_t *request; int64_t due; } delayed_t;
static delayed_t delayed[MAX_DELAYED];
static size_t delayed_count;

static void
on_greet (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    /* The request's own: read before the reply, never freed here. */
    Onenet__Example__GreetRequest *in = (Onenet__Example__GreetRequest *) onenet_request_message (
        request, &onenet__example__greet_request__descriptor);
    if (!in || !*in->name) {
        onenet_adapter_reply (adapter, &request, ONENET_BAD_REQUEST, "name is required", NULL, 0);
    } else {
        char text[300];
        snprintf (text, sizeof text, strcmp (in->language, "zh") == 0 ? "你好，%s" : "Hello, %s",
                  in->name);
        Onenet__Example__GreetReply out = ONENET__EXAMPLE__GREET_REPLY__INIT;
        out.greeting = text;
        out.served_by = (char *) onenet_adapter_instance (adapter);
        onenet_adapter_reply_message (adapter, &request, &out.base);
    }
}

static void
on_echo (onenet_adapter_t *adapter, onenet_request_t *request, void *arg)
{
    Onenet__Example__EchoMessage *in = (Onenet__Example__EchoMessage *) onenet_request_message (
        request, &onenet__example__echo_message__descriptor);
    uint32_t delay = in ? in->delay_ms : 0;
    size_t size;
    const void *body = onenet_request_body (request, &size);
    if (delay == 0 || delayed_count == MAX_DELAYED)   /* echo the bytes back unchanged */
        onenet_adapter_reply (adapter, &request, ONENET_OK, NULL, body, size);
    else
        delayed[delayed_count++] = (delayed_t) { request, onenet_clock_ms () + delay };
}

/* Replies whose delay is over; returns ms until the next one is due. */
static int
reply_due (onenet_adapter_t *adapter)
{
    int64_t now = onenet_clock_ms (), next = -1;
    for (size_t i = 0; i < delayed_count;) {
        if (delayed[i].due <= now) {
            size_t size;
            const void *body = onenet_request_body (delayed[i].request, &size);
            onenet_adapter_reply (adapter, &delayed[i].request, ONENET_OK, NULL, body, size);
            delayed[i] = delayed[--delayed_count];
        } else {
            if (next < 0 || delayed[i].due - now < next)
                next = delayed[i].due - now;
            i++;
        }
    }
    return (int) next;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "broker", required_argument, NULL, 'b' }, { "instance", required_argument, NULL, 'i' },
        { "credit", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 } };
    const char *broker = NULL, *instance = NULL;
    int credit = 32, opt;
    while ((opt = getopt_long (argc, argv, "b:i:c:h", options, NULL)) != -1) {
        if (opt == 'b') broker = optarg;
        else if (opt == 'i') instance = optarg;
        else if (opt == 'c') credit = atoi (optarg);
        else {
            printf ("Usage: %s [--broker ENDPOINT] [--instance NAME] [--credit N]\n"
                    "Example: %s --broker tcp://127.0.0.1:5570\n", argv[0], argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    char err[256];
    onenet_adapter_t *adapter = onenet_adapter_new (broker, "example", instance, err, sizeof err);
    if (!adapter) {
        fprintf (stderr, "example adapter: %s\n", err);
        return 1;
    }
    onenet_adapter_set_credit (adapter, (unsigned) credit);
    onenet_adapter_offer (adapter, "example.greet", on_greet, NULL, &(onenet_offer_options_t) {
        &onenet__example__greet_request__descriptor, &onenet__example__greet_reply__descriptor,
        true, "Greets a person by name (en, zh)" });
    onenet_adapter_offer (adapter, "example.echo", on_echo, NULL, &(onenet_offer_options_t) {
        &onenet__example__echo_message__descriptor, &onenet__example__echo_message__descriptor,
        true, "Returns its payload, after delay_ms" });
    onenet_signals_catch ();
    int rc = onenet_adapter_start (adapter);
    while (rc == 0 && onenet_adapter_poll (adapter, reply_due (adapter)) >= 0)
        ;
    if (rc < 0 || *onenet_adapter_error (adapter))
        fprintf (stderr, "example adapter: %s\n", onenet_adapter_error (adapter));
    onenet_adapter_destroy (&adapter);
    return rc < 0 ? 1 : 0;
}
