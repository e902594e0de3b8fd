/*
 * cache.c - hiredis async over the broker's poll loop.
 *
 * hiredis tells us through ev.addRead/delRead/addWrite/delWrite what it
 * wants to wait for; we keep those as flags and the loop polls the fd. The
 * context is freed by hiredis on disconnect; after that we only keep the
 * time of the next reconnect attempt.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/async.h>
#include <zmq.h>
#include "cache.h"
#include "onenet/onenet.h"

#define RECONNECT_MIN_MS 200
#define RECONNECT_MAX_MS 5000

struct cache_t {
    char *host;                /* NULL: unix socket in path */
    char *path;
    int port;
    bool enabled;
    redisAsyncContext *context;
    bool connected;
    bool want_read, want_write;
    int64_t reconnect_at;
    int backoff_ms;
    bool said_down;            /* logged once per outage */
    cache_reply_fn *on_reply;
    void *owner;
    uint64_t errors;
    uint64_t connections;
};

/* hiredis stores one pointer for the event hooks and callbacks: ours. */
static void
ev_add_read (void *data)
{
    ((cache_t *) data)->want_read = true;
}
static void
ev_del_read (void *data)
{
    ((cache_t *) data)->want_read = false;
}
static void
ev_add_write (void *data)
{
    ((cache_t *) data)->want_write = true;
}
static void
ev_del_write (void *data)
{
    ((cache_t *) data)->want_write = false;
}
static void
ev_cleanup (void *data)
{
    cache_t *self = data;
    self->want_read = self->want_write = false;
}

static void
schedule_reconnect (cache_t *self, const char *why)
{
    self->context = NULL;   /* freed by hiredis */
    self->connected = false;
    self->errors++;
    self->reconnect_at = onenet_clock_ms () + self->backoff_ms;
    self->backoff_ms = self->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : self->backoff_ms * 2;
    if (!self->said_down) {
        char quoted[200];
        onenet_warn ("cache.unavailable", "reason=%s effect=\"views bypass the cache until Redis returns\"",
                     onenet_log_quote (why, quoted, sizeof quoted));
        self->said_down = true;
    }
}

static void
on_connect (const redisAsyncContext *context, int status)
{
    cache_t *self = context->ev.data;
    if (status != REDIS_OK) {
        schedule_reconnect (self, context->errstr);
        return;
    }
    self->connected = true;
    self->connections++;
    self->backoff_ms = RECONNECT_MIN_MS;
    onenet_info ("cache.connected", "redis=%s%s%d", self->host ? self->host : self->path,
                 self->host ? ":" : "", self->host ? self->port : 0);
    self->said_down = false;
}

static void
on_disconnect (const redisAsyncContext *context, int status)
{
    cache_t *self = context->ev.data;
    schedule_reconnect (self, status == REDIS_OK ? "disconnected" : context->errstr);
}

static void
connect_now (cache_t *self)
{
    redisAsyncContext *context = self->host ? redisAsyncConnect (self->host, self->port)
                                            : redisAsyncConnectUnix (self->path);
    if (!context) {
        self->reconnect_at = onenet_clock_ms () + RECONNECT_MAX_MS;
        return;
    }
    context->ev.data = self;
    context->ev.addRead = ev_add_read;
    context->ev.delRead = ev_del_read;
    context->ev.addWrite = ev_add_write;
    context->ev.delWrite = ev_del_write;
    context->ev.cleanup = ev_cleanup;
    if (context->err) {
        char why[160];
        snprintf (why, sizeof why, "%s", context->errstr);
        redisAsyncFree (context);
        schedule_reconnect (self, why);
        return;
    }
    self->context = context;
    redisAsyncSetConnectCallback (context, on_connect);
    redisAsyncSetDisconnectCallback (context, on_disconnect);
    /* A non-blocking connect completes when the fd becomes writable. */
    self->want_write = true;
}

cache_t *
cache_new (const char *endpoint, cache_reply_fn *on_reply, void *owner, char *err, size_t err_size)
{
    cache_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->on_reply = on_reply;
    self->owner = owner;
    self->backoff_ms = RECONNECT_MIN_MS;
    if (!endpoint || !*endpoint)
        return self;   /* disabled */
    self->enabled = true;
    if (strncmp (endpoint, "unix:", 5) == 0)
        self->path = strdup (endpoint + 5);
    else {
        const char *colon = strrchr (endpoint, ':');
        char *end = NULL;
        long port = colon ? strtol (colon + 1, &end, 10) : 0;
        if (!colon || colon == endpoint || !end || *end || port <= 0 || port > 65535) {
            snprintf (err, err_size, "redis endpoint must be HOST:PORT or unix:PATH, not \"%s\"",
                      endpoint);
            free (self);
            return NULL;
        }
        self->host = strndup (endpoint, (size_t) (colon - endpoint));
        self->port = (int) port;
    }
    connect_now (self);
    return self;
}

void
cache_destroy (cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cache_t *self = *self_p;
    if (self->context) {
        /* Pending callbacks are called with NULL replies; owners must
         * tolerate that during teardown. */
        redisAsyncContext *context = self->context;
        context->ev.data = self;
        redisAsyncSetDisconnectCallback (context, NULL);
        self->context = NULL;
        redisAsyncFree (context);
    }
    free (self->host);
    free (self->path);
    free (self);
    *self_p = NULL;
}

bool
cache_ready (const cache_t *self)
{
    return self->connected && self->context;
}

bool
cache_enabled (const cache_t *self)
{
    return self->enabled;
}

typedef struct {
    cache_t *cache;
    uint64_t cookie;
} pending_t;

static void
on_command_reply (redisAsyncContext *context, void *reply, void *data)
{
    (void) context;
    pending_t *pending = data;
    pending->cache->on_reply (pending->cache->owner, pending->cookie, reply);
    free (pending);
}

int
cache_command (cache_t *self, uint64_t cookie, int argc, const char **argv, const size_t *lengths)
{
    if (!cache_ready (self))
        return -1;
    pending_t *pending = NULL;
    if (cookie) {
        pending = malloc (sizeof *pending);
        if (!pending)
            return -1;
        *pending = (pending_t) { self, cookie };
    }
    if (redisAsyncCommandArgv (self->context, cookie ? on_command_reply : NULL, pending, argc, argv,
                               lengths)
        != REDIS_OK) {
        free (pending);
        return -1;
    }
    return 0;
}

int
cache_fd (const cache_t *self)
{
    return self->context ? self->context->c.fd : -1;
}

short
cache_events (const cache_t *self)
{
    return (short) ((self->want_read ? ZMQ_POLLIN : 0) | (self->want_write ? ZMQ_POLLOUT : 0));
}

void
cache_handle (cache_t *self, short revents)
{
    /* A handler may free the context (disconnect): re-check before each. */
    if (self->context && (revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
        redisAsyncHandleRead (self->context);
    if (self->context && (revents & ZMQ_POLLOUT))
        redisAsyncHandleWrite (self->context);
}

void
cache_pump (cache_t *self)
{
    if (cache_ready (self))
        cache_handle (self, (short) (ZMQ_POLLIN | (self->want_write ? ZMQ_POLLOUT : 0)));
}

int
cache_tick (cache_t *self, int64_t now)
{
    if (!self->enabled || self->context)
        return -1;
    if (now >= self->reconnect_at)
        connect_now (self);
    if (self->context)
        return -1;
    int64_t wait = self->reconnect_at - now;
    return wait < 0 ? 0 : (int) wait;
}

uint64_t
cache_errors (const cache_t *self)
{
    return self->errors;
}

uint64_t
cache_connections (const cache_t *self)
{
    return self->connections;
}
