/*
 * cache.h - the broker's asynchronous Redis connection.
 *
 * hiredis's async API driven by the broker's own zmq_poll loop: the loop
 * polls cache_fd for cache_events and calls cache_handle, so no Redis call
 * ever blocks the loop. When Redis is down, commands fail at once (the
 * caller bypasses the cache) and the connection is retried with backoff.
 */
#ifndef BROKER_CACHE_H
#define BROKER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

typedef struct cache_t cache_t;

/* Called with the reply to a command sent with a non-zero cookie; reply is
 * NULL when the connection failed before the answer. The reply is freed
 * by hiredis after the call. */
typedef void (cache_reply_fn) (void *owner, uint64_t cookie, const redisReply *reply);

/* Creates a cache for endpoint "HOST:PORT" or "unix:/path"; an empty
 * endpoint disables it. Connects in the background. NULL when out of
 * memory or the endpoint is malformed (reason in err). */
cache_t *cache_new (const char *endpoint, cache_reply_fn *on_reply, void *owner, char *err,
                    size_t err_size);
void cache_destroy (cache_t **self_p);

/* True while connected. */
bool cache_ready (const cache_t *self);
bool cache_enabled (const cache_t *self);

/* Sends a command (argv with lengths: binary-safe). cookie 0: no reply
 * wanted. Returns 0, or -1 when not connected (nothing sent, no callback). */
int cache_command (cache_t *self, uint64_t cookie, int argc, const char **argv,
                   const size_t *lengths);

/* Loop integration: the fd to poll (-1 if none) and the ZMQ_POLLIN /
 * ZMQ_POLLOUT events wanted; cache_handle with what zmq_poll returned. */
int cache_fd (const cache_t *self);
short cache_events (const cache_t *self);
void cache_handle (cache_t *self, short revents);

/* Without waiting for the poll: writes what is queued and reads what Redis
 * has answered (its callbacks run now). Nothing while not connected: a
 * connection still being set up is only touched when the poll says so. */
void cache_pump (cache_t *self);

/* Reconnects when due. Returns ms until it next needs to run, or -1. */
int cache_tick (cache_t *self, int64_t now);

/* Counters for metrics. */
uint64_t cache_errors (const cache_t *self);
/* Successful connections so far: a change tells a module Redis came back. */
uint64_t cache_connections (const cache_t *self);

#endif
