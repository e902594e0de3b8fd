/*
 * onenet/adapter.h - plug a department's system into OneNet.
 *
 * An adapter connects to the broker, offers named services, and answers
 * the requests the broker routes to it. It announces a credit window (how
 * many requests it takes in flight), sends heartbeats, and re-registers
 * by itself when the broker restarts or goes silent.
 *
 *     onenet_adapter_t *a = onenet_adapter_new (NULL, "civil_affairs", NULL, err, sizeof err);
 *     onenet_adapter_offer (a, "ca.marriage.get", on_marriage_get, store, &offer);
 *     onenet_signals_catch ();
 *     onenet_adapter_run (a);          // until SIGINT/SIGTERM or onenet_adapter_stop
 *     onenet_adapter_destroy (&a);
 *
 * A handler receives a request it then owns: it answers with
 * onenet_adapter_reply, now or later (from a timer, another socket in the
 * loop, ...), which frees the request. Not thread-safe: one thread per
 * adapter.
 */
#ifndef ONENET_ADAPTER_H
#define ONENET_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "onenet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onenet_adapter_t onenet_adapter_t;
typedef struct onenet_request_t onenet_request_t;

/* Called for every request to a service the adapter offers. The handler
 * owns request and must pass it to onenet_adapter_reply exactly once. */
typedef void (onenet_handler_fn) (onenet_adapter_t *adapter, onenet_request_t *request,
                                  void *arg);

/* How a service is described to the broker and to `onenet services`. */
typedef struct {
    const ProtobufCMessageDescriptor *request_type; /* or NULL */
    const ProtobufCMessageDescriptor *reply_type;   /* or NULL */
    bool idempotent;          /* any request may be retried elsewhere */
    const char *description;  /* one line, or NULL */
} onenet_offer_options_t;

/* Creates an adapter for department (required, [a-z0-9_]+). endpoint NULL
 * means onenet_default_endpoint(); instance NULL means "<host>-<pid>".
 * Nothing is sent until onenet_adapter_start or _run. Returns NULL on bad
 * arguments with a reason in err. */
onenet_adapter_t *onenet_adapter_new (const char *endpoint, const char *department,
                                      const char *instance, char *err, size_t err_size);

/* Sends DISCONNECT if connected, fails nothing silently: requests still
 * held by handlers are freed unanswered (the broker retries or answers
 * them UNAVAILABLE). Sets *self_p to NULL. Safe on NULL. */
void onenet_adapter_destroy (onenet_adapter_t **self_p);

/* Offers a service. Call before start. arg is passed to the handler.
 * options may be NULL. Returns 0, or -1 (duplicate or invalid name). */
int onenet_adapter_offer (onenet_adapter_t *self, const char *service,
                          onenet_handler_fn *handler, void *arg,
                          const onenet_offer_options_t *options);

/* Requests the adapter accepts in flight (default 32, 1..65535). */
void onenet_adapter_set_credit (onenet_adapter_t *self, unsigned credit);

/* Heartbeat interval in milliseconds (default 1000). */
void onenet_adapter_set_heartbeat (onenet_adapter_t *self, unsigned heartbeat_ms);

/* Connects and registers. Returns 0, or -1 with a reason in
 * onenet_adapter_error. Registration completes asynchronously; see
 * onenet_adapter_registered. */
int onenet_adapter_start (onenet_adapter_t *self);

/* Handles what is ready on the socket and the timers, waiting at most
 * timeout_ms (-1: until something happens). For an adapter with its own
 * poll loop: poll onenet_adapter_socket for ZMQ_POLLIN and call this with
 * 0, and at least every onenet_adapter_next_timeout_ms. Events and
 * replies waiting in batches leave before it waits and before it returns.
 * Returns the number of requests handled (each request of a BATCH
 * counts), or -1 when interrupted or stopped. */
int onenet_adapter_poll (onenet_adapter_t *self, int timeout_ms);

/* Starts if needed and polls until onenet_adapter_stop is called or a
 * signal caught by onenet_signals_catch arrives. Returns 0 then, -1 if
 * start failed. */
int onenet_adapter_run (onenet_adapter_t *self);

/* Makes onenet_adapter_run return after the current request. */
void onenet_adapter_stop (onenet_adapter_t *self);

/* True once the broker has welcomed the current registration. */
bool onenet_adapter_registered (const onenet_adapter_t *self);

void *onenet_adapter_socket (onenet_adapter_t *self);
int onenet_adapter_next_timeout_ms (const onenet_adapter_t *self);
const char *onenet_adapter_error (const onenet_adapter_t *self);
const char *onenet_adapter_department (const onenet_adapter_t *self);
const char *onenet_adapter_instance (const onenet_adapter_t *self);

/* Answers a request and frees it; sets *request_p to NULL. The body
 * (NULL when size is 0) is copied. A status other than ONENET_OK should
 * come with a message. Returns 0, or -1 if the reply could not be queued
 * (the request is freed all the same): the socket to the broker is full,
 * or the events published before it cannot go yet.
 *
 * When the broker takes batches (Welcome.batch_max), replies with bodies
 * of at most 4 KiB (ONENET_BATCH_BODY_MAX) travel together as one message
 * (docs/PROTOCOL.md, "Batches"). They leave when the batch is full, at the
 * latest when onenet_adapter_poll next runs, before any event or other
 * message of this adapter, or at onenet_adapter_flush. A larger reply
 * goes at once, after those. Replies and events reach the broker in the
 * order they were given. */
int onenet_adapter_reply (onenet_adapter_t *self, onenet_request_t **request_p,
                          onenet_status_t status, const char *message,
                          const void *body, size_t size);

/* Like onenet_adapter_reply with a protobuf message as the OK body. */
int onenet_adapter_reply_message (onenet_adapter_t *self, onenet_request_t **request_p,
                                  const ProtobufCMessage *reply);

/* Publishes an event (e.g. topic "record.changed") with a protobuf body.
 * Returns 0, or -1: errno EAGAIN when the event cannot go now, because the
 * socket to the broker is full or because the broker still holds this
 * adapter's window of events for subscribers that are behind (event flow
 * control, docs/PROTOCOL.md); publish again after the next
 * onenet_adapter_poll. ENOTCONN: not connected (before start, after stop).
 *
 * Events published one after another with the same topic and type within
 * a millisecond travel together as one message (docs/PROTOCOL.md, "Event
 * batches"). They leave at the latest when onenet_adapter_poll next runs
 * (onenet_adapter_run polls all the time), before any reply or other
 * message of this adapter, or at onenet_adapter_flush: an adapter that
 * publishes (or replies) outside its poll loop and then waits for
 * something else calls onenet_adapter_flush first. Replies given before an
 * event go before it. */
int onenet_adapter_publish (onenet_adapter_t *self, const char *topic,
                            const ProtobufCMessage *event);

/* Sends the events published and the replies given, not yet sent. Returns
 * 0, or -1: errno EAGAIN when the socket to the broker is full (they go at
 * the next poll), ENOTCONN when not connected. */
int onenet_adapter_flush (onenet_adapter_t *self);

/* --- requests (owned by the handler until replied) --- */

const char *onenet_request_service (const onenet_request_t *self);
const void *onenet_request_body (const onenet_request_t *self, size_t *size);
/* The body as a message of that type; NULL if it is not one. The message
 * belongs to the request: it is freed with it, when the handler replies
 * (or the request is dropped), so read it before onenet_adapter_reply and
 * never free it yourself. Decoded into room the request already has, so
 * a handler's request costs no allocation of its own. */
ProtobufCMessage *onenet_request_message (onenet_request_t *self,
                                          const ProtobufCMessageDescriptor *descriptor);
/* Like onenet_request_message, but the message is the caller's, to keep
 * after the reply: the caller frees it with
 * protobuf_c_message_free_unpacked (msg, NULL). */
ProtobufCMessage *onenet_request_unpack (const onenet_request_t *self,
                                         const ProtobufCMessageDescriptor *descriptor);
/* The requesting department as authenticated by the broker. */
const char *onenet_request_department (const onenet_request_t *self);
const char *onenet_request_user (const onenet_request_t *self);
const char *onenet_request_purpose (const onenet_request_t *self);
/* 32 lowercase hex digits, or "". */
const char *onenet_request_trace_id (const onenet_request_t *self);
/* Milliseconds left before the requester's deadline (0 when past). */
int64_t onenet_request_remaining_ms (const onenet_request_t *self);
uint32_t onenet_request_attempt (const onenet_request_t *self);

/* Installs SIGINT and SIGTERM handlers that make every OneNet loop in the
 * process return (adapters, CLI streams). Call once from main. */
void onenet_signals_catch (void);
/* True after such a signal arrived. */
bool onenet_interrupted (void);
/* How many such signals arrived: a second one can mean "stop now". */
int onenet_interrupt_count (void);

#ifdef __cplusplus
}
#endif
#endif
