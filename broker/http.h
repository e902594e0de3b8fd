/*
 * http.h - health and metrics over HTTP, for orchestrators and Prometheus.
 *
 *   GET /healthz   200 "ok": the loop is alive (it answered)
 *   GET /readyz    200 "ready", or 503 with a one-line reason (Redis not
 *                  connected, no configuration, draining after SIGTERM)
 *   GET /metrics   Prometheus text format 0.0.4 (broker/metrics.c)
 *   other paths    404; methods other than GET and HEAD: 405
 *
 * libmicrohttpd in its external event loop mode with epoll: no thread of
 * its own. The broker's zmq_poll loop polls http_fd for ZMQ_POLLIN, calls
 * http_handle when it is readable, and also when http_timeout_ms says so
 * (idle connections to close, connections with data MHD has yet to
 * process). Every answer is built in memory from the broker's counters,
 * so serving HTTP never blocks the loop.
 */
#ifndef BROKER_HTTP_H
#define BROKER_HTTP_H

#include <stddef.h>
#include "broker.h"

typedef struct http_t http_t;

/* Listens on endpoint "HOST:PORT" (HOST an IPv4 address, "*" for every
 * interface, or [IPv6]); "" disables HTTP: the result then has no fd and
 * serves nothing. The broker is borrowed and must outlive the server.
 * Returns NULL with a reason in err when the endpoint is malformed or
 * cannot be bound. The caller destroys the result with http_destroy. */
http_t *http_new (broker_t *broker, const char *endpoint, char *err, size_t err_size);

/* Checks an http.endpoint value as http_new will read it, without binding:
 * 0 when acceptable ("" included), else -1 with a reason in err that does
 * not repeat the setting's name. For config validation. */
int http_check_endpoint (const char *endpoint, char *err, size_t err_size);

/* Stops listening, closes every connection and frees; NULLs *self_p. */
void http_destroy (http_t **self_p);

/* The fd to poll for ZMQ_POLLIN (MHD's epoll fd), or -1 when disabled
 * (also for a NULL self). */
int http_fd (const http_t *self);

/* Accepts, reads and answers whatever is ready, without blocking. Safe to
 * call at any time and on a NULL or disabled self. */
void http_handle (http_t *self);

/* Milliseconds until http_handle must run even if the fd stays quiet: 0
 * means now, -1 never (disabled, or nothing pending). */
int http_timeout_ms (http_t *self);

/* The address it listens on, "127.0.0.1:9570" (port resolved when the
 * endpoint asked for port 0), or "" when disabled. Static to self. */
const char *http_address (const http_t *self);

#endif
