/*
 * onenet/client.h - call OneNet services.
 *
 * A client holds one connection (a DEALER socket) to the broker and may
 * have many calls in flight. Use onenet_client_call for one synchronous
 * call, or onenet_client_send + onenet_client_recv from your own poll
 * loop (onenet_client_socket / onenet_client_fd give what to poll).
 *
 * A call always ends in a reply: the adapter's, the broker's typed error,
 * or, if the broker itself does not answer in time, a local TIMEOUT. The
 * connection re-establishes itself after a broker restart.
 *
 * Not thread-safe: use one client per thread.
 */
#ifndef ONENET_CLIENT_H
#define ONENET_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "onenet/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onenet_client_t onenet_client_t;
typedef struct onenet_reply_t onenet_reply_t;

/* Options of one call. Zero-initialise, then set what you need; pass NULL
 * for all defaults. */
typedef struct {
    uint32_t timeout_ms;   /* deadline budget; 0 = the client's default (5000) */
    bool idempotent;       /* the broker may retry it on another instance */
    const char *purpose;   /* why the data is asked for; audited */
    const void *trace_id;  /* 16 bytes, or NULL to let the broker make one */
    /* For a gateway acting for its users: the department and user the call
     * is made for. The broker honours them only from a connection whose
     * department is listed in its `delegates` (a trusted gateway), and
     * ignores them from anyone else. NULL: the connection's own identity. */
    const char *on_behalf_of_department;
    const char *on_behalf_of_user;
} onenet_call_options_t;

/* Default broker endpoint: $ONENET_BROKER or tcp://127.0.0.1:5570.
 * Returns a static or environment string; do not free. */
const char *onenet_default_endpoint (void);

/* Creates a client connected to endpoint (NULL for the default). Returns
 * NULL on failure (bad endpoint, out of memory) and, if err is not NULL,
 * a reason in err. Destroy with onenet_client_destroy. */
onenet_client_t *onenet_client_new (const char *endpoint, char *err, size_t err_size);

/* Closes the connection and frees the client, its pending calls and any
 * undelivered replies; sets *self_p to NULL. Safe on NULL. */
void onenet_client_destroy (onenet_client_t **self_p);

/* Sets the timeout used when a call gives none (milliseconds, > 0). */
void onenet_client_set_default_timeout (onenet_client_t *self, uint32_t timeout_ms);

/* Calls a service and waits for its reply. body may be NULL when size is 0.
 * Returns the reply, which the caller destroys with onenet_reply_destroy;
 * check onenet_reply_status. Returns NULL only when out of memory.
 * Replies to other calls that arrive meanwhile are kept for
 * onenet_client_recv. */
onenet_reply_t *onenet_client_call (onenet_client_t *self, const char *service,
                                    const void *body, size_t size,
                                    const onenet_call_options_t *options);

/* Like onenet_client_call with a protobuf message as the body (NULL for
 * none). */
onenet_reply_t *onenet_client_call_message (onenet_client_t *self, const char *service,
                                            const ProtobufCMessage *request,
                                            const onenet_call_options_t *options);

/* Starts a call without waiting: the request is sent now, or gathered
 * when batching is on (onenet_client_set_batching). Returns its
 * correlation id (> 0), which the reply carries; 0 on failure (the reason
 * in onenet_client_error), when no reply will come. */
uint64_t onenet_client_send (onenet_client_t *self, const char *service,
                             const void *body, size_t size,
                             const onenet_call_options_t *options);

/* Returns the next reply to any call started with onenet_client_send,
 * waiting up to timeout_ms (0 = do not wait, -1 = until one arrives or a
 * call times out locally). Returns NULL if none within the wait. The
 * caller destroys the reply. */
onenet_reply_t *onenet_client_recv (onenet_client_t *self, int timeout_ms);

/* Turns request batching on or off (off by default). When on, requests
 * started with onenet_client_send are gathered and sent together, as one
 * BATCH message of up to as many as the broker takes, at the first of:
 * onenet_client_recv with timeout 0; onenet_client_recv with a wait, or
 * onenet_client_call, once it has no reply already read to return and
 * must read or wait (so the requests a loop starts for the replies of
 * one BATCH go together); the batch being full (the broker's batch_max
 * requests, or ONENET_BATCH_BYTES_MAX bytes); onenet_client_flush. Off, each request
 * leaves at onenet_client_send, which is what a caller that polls
 * onenet_client_socket itself needs (with batching on, such a caller
 * calls onenet_client_flush before it polls).
 *
 * Requests still go alone, batching on or not, until a reply has told the
 * client that the broker takes batches (a broker that predates them never
 * does), and when their body is over ONENET_BATCH_BODY_MAX bytes (the
 * batch goes first, then that request). A gathered request that cannot
 * be sent ends like any call: an UNAVAILABLE reply when the send fails
 * for good, or its local TIMEOUT while the connection stays full.
 * Turning batching off sends what is gathered. */
void onenet_client_set_batching (onenet_client_t *self, bool on);

/* Sends the requests gathered by batching now. Returns 0 (also when none
 * are gathered), or -1 with errno and the reason in onenet_client_error:
 * EAGAIN when they cannot be queued now (no connection to the broker, or
 * too much already queued): they are kept and tried again at the next
 * flush; any other error: their calls have ended, each with an
 * UNAVAILABLE reply for onenet_client_recv. */
int onenet_client_flush (onenet_client_t *self);

/* Calls in flight: started and not yet returned by recv. */
size_t onenet_client_pending (const onenet_client_t *self);

/* The ZeroMQ socket, for zmq_poll in the caller's loop (ZMQ_POLLIN), and
 * its file descriptor (edge-triggered, see ZMQ_FD). Owned by the client.
 * Replies that were already read are delivered only by onenet_client_recv,
 * so call it with 0 after every wake-up and also every
 * onenet_client_next_timeout_ms for local timeouts. */
void *onenet_client_socket (onenet_client_t *self);
int onenet_client_fd (onenet_client_t *self);

/* Milliseconds until the earliest pending call times out locally, or -1
 * when nothing is pending. */
int onenet_client_next_timeout_ms (const onenet_client_t *self);

/* The last error's reason (static to the client; empty if none). */
const char *onenet_client_error (const onenet_client_t *self);

/* --- replies --- */

onenet_status_t onenet_reply_status (const onenet_reply_t *self);
/* Reason when the status is not OK ("" otherwise). Owned by the reply. */
const char *onenet_reply_message (const onenet_reply_t *self);
/* The reply body; *size gets its length. Owned by the reply. */
const void *onenet_reply_body (const onenet_reply_t *self, size_t *size);
uint64_t onenet_reply_correlation_id (const onenet_reply_t *self);
/* "department/instance" that served the call, or "" (broker, local). */
const char *onenet_reply_served_by (const onenet_reply_t *self);
/* Trace id as 32 lowercase hex digits, or "" if none. Owned by the reply. */
const char *onenet_reply_trace_id (const onenet_reply_t *self);
/* Unpacks the body as a message of the given type. Returns NULL if the
 * body is not one; the caller frees the result with
 * protobuf_c_message_free_unpacked (msg, NULL). */
ProtobufCMessage *onenet_reply_unpack (const onenet_reply_t *self,
                                       const ProtobufCMessageDescriptor *descriptor);
void onenet_reply_destroy (onenet_reply_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
