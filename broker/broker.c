/*
 * broker.c - the loop: one ROUTER socket, one thread, zmq_poll.
 *
 * Each wake-up reads a batch of whole messages without blocking, hands
 * each to the handler for its command, then runs the timers (deadlines,
 * heartbeats). Nothing here waits on disk or Redis.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "broker_internal.h"
#include "alerts.h"
#include "cache.h"
#include "view.h"

/* Hands each Redis reply to the module whose request it answers. */
static void
on_cache_reply (void *owner, uint64_t cookie, const redisReply *reply)
{
    broker_t *self = owner;
    if (cookie & ALERTS_COOKIE_BIT)
        alerts_on_cache (self, cookie & ~ALERTS_COOKIE_BIT, reply);
    else
        view_on_cache (self, cookie, reply);
}

broker_t *
broker_new (const broker_config_t *config, char *err, size_t err_size)
{
    broker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->config = config;
    self->context = zmq_ctx_new ();
    self->registry = registry_new ();
    self->requests = requests_new ((size_t) config->max_pending);
    onenet_arena_init (&self->arena, self->arena_buffer, sizeof self->arena_buffer);
    self->socket = self->context ? zmq_socket (self->context, ZMQ_ROUTER) : NULL;
    if (!self->registry || !self->requests || !self->socket) {
        snprintf (err, err_size, "cannot create the broker: %s", zmq_strerror (errno));
        broker_destroy (&self);
        return NULL;
    }
    /* Past max_message_size a message gets RESOURCE_EXHAUSTED; a frame
     * four times larger is cut off by libzmq, closing that connection,
     * so no peer can make the broker buffer without bound. */
    int64_t hard_limit = (int64_t) config->max_message_size * 4 + 65536;
    int linger = 0, hwm = 100000;
    zmq_setsockopt (self->socket, ZMQ_MAXMSGSIZE, &hard_limit, sizeof hard_limit);
    zmq_setsockopt (self->socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind (self->socket, config->endpoint) < 0) {
        snprintf (err, err_size, "cannot bind %s: %s", config->endpoint, zmq_strerror (errno));
        broker_destroy (&self);
        return NULL;
    }
    /* Configured services are known before any adapter offers them, so
     * their requests wait for an adapter instead of failing at once. */
    for (size_t i = 0; i < config->service_count; i++) {
        service_t *service = registry_ensure_service (self->registry, config->services[i].name);
        if (!service) {
            snprintf (err, err_size, "out of memory");
            broker_destroy (&self);
            return NULL;
        }
        service->known = true;
        if (!service->department)
            service->department = strdup (config->services[i].department);
    }
    self->views = views_new (self);
    self->cache = self->views ? cache_new (config->redis_endpoint, on_cache_reply, self, err, err_size)
                              : NULL;
    if (!self->views || !self->cache) {
        if (!self->views)
            snprintf (err, err_size, "out of memory");
        broker_destroy (&self);
        return NULL;
    }
    self->alerts = alerts_new (self, err, err_size);
    if (!self->alerts) {
        broker_destroy (&self);
        return NULL;
    }
    self->now = onenet_clock_ms ();
    self->started_at = self->now;
    self->heartbeat_at = self->now + config->heartbeat_ms;
    self->trace_state = ((uint64_t) onenet_wall_ms () << 20) ^ (uint64_t) getpid () ^ 0x9E3779B97F4A7C15ULL;
    return self;
}

void
broker_destroy (broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_t *self = *self_p;
    /* Views first: finishing them may still use the cache and socket. */
    views_destroy (&self->views);
    cache_destroy (&self->cache);
    alerts_destroy (&self->alerts);
    requests_destroy (&self->requests);
    registry_destroy (&self->registry);
    if (self->socket)
        zmq_close (self->socket);
    if (self->context)
        zmq_ctx_term (self->context);
    free (self);
    *self_p = NULL;
}

void
broker_stop (broker_t *self)
{
    self->stopped = true;
}

void
broker_log_bad (broker_t *self, const char *reason)
{
    self->bad_messages++;
    /* Garbage can arrive fast: say it at most once a second. */
    if (self->now - self->bad_logged_at < 1000) {
        self->bad_suppressed++;
        return;
    }
    char quoted[200];
    onenet_warn ("peer.bad_message", "reason=%s suppressed=%" PRIu64,
                 onenet_log_quote (reason, quoted, sizeof quoted), self->bad_suppressed);
    self->bad_logged_at = self->now;
    self->bad_suppressed = 0;
}

/* Correlation id of a REQUEST whose header is readable, else 0. */
static uint64_t
peek_correlation (broker_t *self, zmq_msg_t *header)
{
    Onenet__RequestHeader *parsed = (Onenet__RequestHeader *) onenet_wire_unpack (
        &onenet__request_header__descriptor, header, &self->arena);
    return parsed ? parsed->correlation_id : 0;
}

/* Checks the envelope shared by every command; returns the command or -1
 * after answering the peer. */
static int
check_envelope (broker_t *self, onenet_wire_msg_t *msg)
{
    const zmq_msg_t *peer = &msg->frame[0];
    if (msg->count < 2) {
        broker_log_bad (self, "message without a signature frame");
        return -1;
    }
    int version = 0;
    int command = onenet_wire_parse_signature (zmq_msg_data (&msg->frame[1]),
                                               zmq_msg_size (&msg->frame[1]), &version);
    if (command < 0) {
        broker_log_bad (self, "not a OneNet signature");
        broker_send_error (self, peer, ONENET_BAD_REQUEST, 0,
                           "not a OneNet message: the first frame must be 'O' 'N' %d <command>",
                           ONENET_PROTOCOL_VERSION);
        return -1;
    }
    if (version != ONENET_PROTOCOL_VERSION) {
        broker_log_bad (self, "unsupported protocol version");
        broker_send_error (self, peer, ONENET_UNSUPPORTED_VERSION, 0,
                           "protocol version %d not supported: this broker speaks version %d",
                           version, ONENET_PROTOCOL_VERSION);
        return -1;
    }
    int frames = msg->count - 1 + msg->dropped;
    bool too_many = frames > self->config->max_frames;
    bool too_large = msg->size > (size_t) self->config->max_message_size;
    /* Only a refused request needs its correlation id read here. */
    uint64_t correlation = (too_many || too_large) && command == ONENET_CMD_REQUEST && msg->count > 2
                               ? peek_correlation (self, &msg->frame[2]) : 0;
    if (too_many) {
        broker_log_bad (self, "too many frames");
        broker_send_error (self, peer, ONENET_BAD_REQUEST, correlation,
                           "%d frames: at most %d (limits.max_frames)", frames,
                           self->config->max_frames);
        return -1;
    }
    if (too_large) {
        broker_log_bad (self, "message too large");
        broker_send_error (self, peer, ONENET_RESOURCE_EXHAUSTED, correlation,
                           "message of %zu bytes: at most %ld (limits.max_message_size)",
                           msg->size, self->config->max_message_size);
        return -1;
    }
    return command;
}

static void
on_message (broker_t *self, onenet_wire_msg_t *msg)
{
    int command = check_envelope (self, msg);
    if (command < 0)
        return;
    inbound_t in = {
        .peer = &msg->frame[0],
        .signature = &msg->frame[1],
        .header = msg->count > 2 ? &msg->frame[2] : NULL,
        .body = msg->count > 3 ? &msg->frame[3] : NULL,
        .adapter = registry_adapter (self->registry, &msg->frame[0]),
    };
    if (in.adapter)
        in.adapter->last_seen = self->now;
    switch (command) {
    case ONENET_CMD_REQUEST:
        on_client_request (self, &in);
        break;
    case ONENET_CMD_REPLY:
        on_adapter_reply (self, &in);
        break;
    case ONENET_CMD_READY:
        on_adapter_ready (self, &in);
        break;
    case ONENET_CMD_HEARTBEAT:
        on_adapter_heartbeat (self, &in);
        break;
    case ONENET_CMD_DISCONNECT:
        on_adapter_disconnect (self, &in);
        break;
    case ONENET_CMD_EVENT:
        on_adapter_event (self, &in);
        break;
    default:
        broker_log_bad (self, "unknown command");
        broker_send_error (self, in.peer, ONENET_BAD_REQUEST, 0,
                           "command %d (%s) is not accepted by the broker", command,
                           onenet_command_name (command));
    }
}

/* Answers every request whose deadline has passed. */
static void
expire_requests (broker_t *self)
{
    request_t *request;
    while ((request = requests_expired (self->requests, self->now))) {
        if (request->state == REQUEST_IN_FLIGHT)
            broker_fail (self, request, ONENET_TIMEOUT, "deadline passed before the adapter replied");
        else if (request->service->known)
            broker_fail (self, request, ONENET_NO_ADAPTER,
                         "no live instance of the service had free credit before the deadline");
        else
            broker_fail (self, request, ONENET_UNKNOWN_SERVICE, "no adapter offers this service");
    }
}

/* Sends HEARTBEAT to every adapter and drops those silent too long. */
static void
heartbeat (broker_t *self)
{
    if (self->now < self->heartbeat_at)
        return;
    self->heartbeat_at = self->now + self->config->heartbeat_ms;
    size_t cursor = 0, dead_count = 0;
    adapter_t *dead[64];
    adapter_t *adapter;
    while ((adapter = registry_next_adapter (self->registry, &cursor))) {
        int64_t silent = self->now - adapter->last_seen;
        if (silent > (int64_t) adapter->heartbeat_ms * self->config->liveness) {
            if (dead_count < sizeof dead / sizeof dead[0])
                dead[dead_count++] = adapter;   /* the rest go next beat */
            continue;
        }
        onenet_wire_send (self->socket, &adapter->routing_id, ONENET_CMD_HEARTBEAT, NULL, NULL,
                          ZMQ_DONTWAIT);
    }
    for (size_t i = 0; i < dead_count; i++)
        broker_drop_adapter (self, dead[i], "missed heartbeats");
}

/* Runs every timer; returns how long the loop may sleep. */
static int
run_timers (broker_t *self)
{
    self->now = onenet_clock_ms ();
    expire_requests (self);
    heartbeat (self);
    int64_t next = self->heartbeat_at;
    int64_t deadline = requests_next_deadline (self->requests);
    if (deadline >= 0 && deadline < next)
        next = deadline;
    int views = views_tick (self);
    if (views >= 0 && self->now + views < next)
        next = self->now + views;
    int alerts = alerts_tick (self);
    if (self->now + alerts < next)
        next = self->now + alerts;
    int cache = cache_tick (self->cache, self->now);
    if (cache >= 0 && self->now + cache < next)
        next = self->now + cache;
    int64_t wait = next - self->now;
    return wait < 0 ? 0 : (int) wait;
}

int
broker_run (broker_t *self)
{
    onenet_info ("broker.start", "endpoint=%s security=%s heartbeat_ms=%d max_pending=%d",
                 self->config->endpoint, self->config->security, self->config->heartbeat_ms,
                 self->config->max_pending);
    if (strcmp (self->config->security, "none") == 0)
        onenet_warn ("broker.insecure", "reason=\"security = none: connections are neither authenticated nor encrypted\"");
    int wait = 0;
    while (!self->stopped && !onenet_interrupted ()) {
        zmq_pollitem_t items[3] = { { self->socket, 0, ZMQ_POLLIN, 0 },
                                    { alerts_socket (self->alerts), 0, ZMQ_POLLIN, 0 },
                                    { NULL, cache_fd (self->cache), cache_events (self->cache), 0 } };
        int count = items[2].fd >= 0 && items[2].events ? 3 : 2;
        int ready = zmq_poll (items, count, wait);
        if (ready < 0 && errno != EINTR) {
            onenet_error ("broker.poll_failed", "reason=\"%s\"", zmq_strerror (errno));
            break;
        }
        if (ready > 0 && count == 3 && items[2].revents)
            cache_handle (self->cache, items[2].revents);
        if (ready > 0 && items[1].revents)
            alerts_handle_subscriptions (self->alerts);
        for (int i = 0; ready > 0 && (items[0].revents & ZMQ_POLLIN) && i < BROKER_RECV_BATCH; i++) {
            onenet_wire_msg_t msg;
            if (onenet_wire_recv (self->socket, &msg, ZMQ_DONTWAIT) < 0)
                break;
            self->now = onenet_clock_ms ();
            on_message (self, &msg);
            onenet_wire_close (&msg);
            onenet_arena_reset (&self->arena);
        }
        wait = run_timers (self);
    }
    /* Nobody is left to answer what is pending: say so rather than let
     * clients wait out their deadlines. */
    request_t *request;
    while ((request = requests_expired (self->requests, INT64_MAX)))
        broker_fail (self, request, ONENET_UNAVAILABLE, "broker shutting down");
    onenet_info ("broker.stop", "requests=%" PRIu64 " adapters=%zu", self->requests_total,
                 registry_adapter_count (self->registry));
    return 0;
}
