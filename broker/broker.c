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
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include "broker_internal.h"
#include "alerts.h"
#include "audit.h"
#include "events.h"
#include "cache.h"
#include "hashmap.h"
#include "http.h"
#include "zap.h"
#include "view.h"

/* Hands each Redis reply to the module whose request it answers. */
static void
on_cache_reply (void *owner, uint64_t cookie, const redisReply *reply)
{
    broker_t *self = owner;
    if (cookie & ALERTS_COOKIE_BIT)
        alerts_on_cache (self, cookie & ~ALERTS_COOKIE_BIT, reply);
    else if (cookie & AUDIT_COOKIE_BIT)
        audit_on_cache (self->audit, cookie & ~AUDIT_COOKIE_BIT, reply);
    else
        view_on_cache (self, cookie, reply);
}

static volatile sig_atomic_t s_reload_requested = 0;

static void
on_sighup (int signum)
{
    (void) signum;
    s_reload_requested = 1;
}

void
broker_catch_signals (void)
{
    onenet_signals_catch ();
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = on_sighup;
    sigemptyset (&action.sa_mask);
    sigaction (SIGHUP, &action, NULL);
    /* A file size limit (ulimit -f) must fail the audit's write with EFBIG,
     * which it handles, not kill the broker. */
    signal (SIGXFSZ, SIG_IGN);
}

/* Registers the configured services as known (idempotent). */
static int
register_known_services (broker_t *self)
{
    const broker_config_t *config = self->config;
    for (size_t i = 0; i < config->service_count; i++) {
        service_t *service = registry_ensure_service (self->registry, config->services[i].name);
        if (!service)
            return -1;
        service->known = true;
        if (!service->department)
            service->department = strdup (config->services[i].department);
    }
    return 0;
}

broker_t *
broker_new (broker_config_t *config, char *err, size_t err_size)
{
    broker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        broker_config_destroy (&config);
        return NULL;
    }
    self->config = config;
    /* libzmq's I/O threads start with the context's first sockets: they
     * inherit a mask without our signals, so SIGTERM and SIGHUP reach the
     * loop thread and interrupt its zmq_poll at once. */
    sigset_t ours, previous;
    sigemptyset (&ours);
    sigaddset (&ours, SIGINT);
    sigaddset (&ours, SIGTERM);
    sigaddset (&ours, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &ours, &previous);
    self->context = zmq_ctx_new ();
    self->registry = registry_new ();
    self->requests = requests_new ((size_t) config->max_pending);
    onenet_arena_init (&self->arena, self->arena_buffer, sizeof self->arena_buffer);
    self->socket = self->context ? zmq_socket (self->context, ZMQ_ROUTER) : NULL;
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    self->outbox = self->socket ? outbox_new (self->socket) : NULL;
    if (!self->registry || !self->requests || !self->socket || !self->outbox) {
        snprintf (err, err_size, "cannot create the broker: %s", zmq_strerror (errno));
        broker_destroy (&self);
        return NULL;
    }
    /* CURVE: the ZAP handler must be there before a CURVE server binds. */
    if (strcmp (config->security, "curve") == 0
        && (!(self->zap = zap_new (self, err, err_size))
            || zap_secure_socket (self->socket, config->curve_key_file, err, err_size) < 0)) {
        broker_destroy (&self);
        return NULL;
    }
    /* Past max_message_size a message gets RESOURCE_EXHAUSTED; a frame
     * four times larger (plus room for a BATCH, whose entries are held
     * to max_message_size each) is cut off by libzmq, closing that
     * connection, so no peer can make the broker buffer without bound. */
    int64_t hard_limit = (int64_t) config->max_message_size * 4 + 2 * ONENET_BATCH_BYTES_MAX;
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
    if (register_known_services (self) < 0) {
        snprintf (err, err_size, "out of memory");
        broker_destroy (&self);
        return NULL;
    }
    self->rates = hashmap_new ();
    if (*config->policy_file) {
        self->policy = onenet_policy_load (config->policy_file, err, err_size);
        if (!self->policy) {
            broker_destroy (&self);
            return NULL;
        }
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
    audit_settings_t audit = { config->audit_enabled != 0, config->audit_file, config->audit_stream };
    self->audit = audit_new (self, &audit, err, err_size);
    if (!self->audit) {
        broker_destroy (&self);
        return NULL;
    }
    self->alerts = alerts_new (self, err, err_size);
    self->events = self->alerts ? events_new (self, alerts_socket (self->alerts)) : NULL;
    if (self->alerts && !self->events)
        snprintf (err, err_size, "out of memory");
    self->http = self->events ? http_new (self, config->http_endpoint, err, err_size) : NULL;
    if (!self->events || !self->http) {
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
    http_destroy (&self->http);   /* no more requests reading broker state */
    zap_destroy (&self->zap);
    /* Views first: finishing them may still use the cache and socket. */
    views_destroy (&self->views);
    cache_destroy (&self->cache);
    events_destroy (&self->events);   /* before the XPUB it sends on */
    alerts_destroy (&self->alerts);
    audit_destroy (&self->audit);
    requests_destroy (&self->requests);
    registry_destroy (&self->registry);
    outbox_destroy (&self->outbox);
    onenet_policy_destroy (&self->policy);
    if (self->rates) {
        size_t cursor = 0;
        void *bucket;
        while ((bucket = hashmap_next (self->rates, &cursor)))
            free (bucket);
        hashmap_destroy (&self->rates);
    }
    if (self->socket)
        zmq_close (self->socket);
    if (self->context)
        zmq_ctx_term (self->context);
    broker_config_destroy (&self->config);
    free (self);
    *self_p = NULL;
}

static void
on_fixed_setting_changed (const char *setting)
{
    onenet_warn ("config.needs_restart", "setting=%s effect=\"kept its running value until a restart\"",
                 setting);
}

int
broker_reload (broker_t *self)
{
    const char *path = self->config->path;
    if (strcmp (path, "(defaults)") == 0) {
        onenet_warn ("config.reload_skipped", "reason=\"running on embedded defaults: no file to read\"");
        return -1;
    }
    char err[512];
    broker_config_t *next = broker_config_load (path, err, sizeof err);
    if (!next) {
        char quoted[600];
        onenet_error ("config.reload_refused", "file=%s reason=%s effect=\"the running config is kept\"",
                      path, onenet_log_quote (err, quoted, sizeof quoted));
        return -1;
    }
    /* The policy is part of the config: both change, or neither. */
    onenet_policy_t *policy = NULL;
    if (*next->policy_file && !(policy = onenet_policy_load (next->policy_file, err, sizeof err))) {
        char quoted[600];
        onenet_error ("policy.reload_refused", "file=%s reason=%s effect=\"the running config is kept\"",
                      next->policy_file, onenet_log_quote (err, quoted, sizeof quoted));
        broker_config_destroy (&next);
        return -1;
    }
    onenet_policy_destroy (&self->policy);
    self->policy = policy;
    if (policy)
        onenet_info ("policy.reloaded", "file=%s rules=%zu", next->policy_file,
                     onenet_policy_rule_count (policy));
    broker_config_keep_fixed (self->config, next, on_fixed_setting_changed);
    broker_config_t *previous = self->config;
    self->config = next;
    register_known_services (self);
    if (self->zap)
        zap_set_keys (self->zap, next);   /* key rotation: new connections see the new list */
    int level = onenet_log_level_from_name (next->log_level);
    onenet_log_configure ((onenet_log_level_t) (level < 0 ? ONENET_LOG_INFO : level),
                          strcmp (next->log_format, "json") == 0, "broker");
    broker_config_destroy (&previous);
    onenet_info ("config.reloaded", "file=%s departments=%zu alert_rules=%zu log_level=%s",
                 next->path, next->department_count, next->alert_rule_count, next->log_level);
    return 0;
}

void
broker_stop (broker_t *self)
{
    self->stopped = true;
}

void
broker_audit (broker_t *self, const char *kind, const char *requester, const char *user,
              const char *service, const char *subject, const char *purpose, onenet_status_t status,
              uint64_t latency_us, const char *answered_by)
{
    audit_event_t event = {kind,
                           requester,
                           user ? user : "",
                           service,
                           subject ? subject : "",
                           purpose ? purpose : "",
                           status,
                           latency_us,
                           answered_by};
    audit_record (self->audit, &event);
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

/* Answers a message over limits.max_message_size. */
static void
send_too_large (broker_t *self, const zmq_msg_t *peer, uint64_t correlation, size_t size)
{
    broker_send_error (self, peer, ONENET_RESOURCE_EXHAUSTED, correlation,
                       "message of %zu bytes: at most %ld (limits.max_message_size)", size,
                       self->config->max_message_size);
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
    /* A BATCH is held to the limit entry by entry (on_batch): each is
     * the message it would be alone. A REPLY too large ends its request
     * (on_message): an ERROR without an id would stop the adapter. */
    bool too_large = command != ONENET_CMD_BATCH && command != ONENET_CMD_REPLY
                     && msg->size > (size_t) self->config->max_message_size;
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
        send_too_large (self, peer, correlation, msg->size);
        return -1;
    }
    return command;
}

/* One REQUEST or REPLY of a BATCH, as if it had come alone. Its body is
 * copied, since a request keeps it (queued, or for a retry) past the
 * frame; an empty body is an empty frame, as the SDK sends it alone. */
static void
on_batch_entry (broker_t *self, const inbound_t *in, const onenet_batch_entry_t *entry,
                zmq_msg_t *header)
{
    zmq_msg_t body;
    if (zmq_msg_init_size (&body, entry->body_size) < 0)
        return;
    if (entry->body_size)
        memcpy (zmq_msg_data (&body), entry->body, entry->body_size);
    inbound_t one = *in;
    one.header = header;
    one.body = &body;
    if (entry->command == ONENET_CMD_REQUEST)
        on_client_request (self, &one);
    else
        on_adapter_reply (self, &one);
    zmq_msg_close (&body);
}

/* A BATCH: each entry is handled as the REQUEST or REPLY it holds, as if
 * it had come alone. A batch that cannot be read, or holds more than the
 * broker said it takes, is refused whole. */
static void
on_batch (broker_t *self, inbound_t *in)
{
    onenet_batch_reader_t reader;
    int count = in->header ? onenet_batch_reader_init (&reader, zmq_msg_data (in->header),
                                                       zmq_msg_size (in->header))
                           : -1;
    if (count < 0 || count > self->config->batch_max || in->body) {
        const char *why = count > self->config->batch_max
                              ? "BATCH of more messages than broker.batch_max"
                              : "BATCH whose frame is not a run of whole entries";
        broker_log_bad (self, why);
        if (!in->adapter)   /* a client's requests: it cannot know which */
            broker_send_error (self, in->peer, ONENET_BAD_REQUEST, 0, "%s", why);
        return;
    }
    onenet_batch_entry_t entry;
    while (onenet_batch_next (&reader, &entry)) {
        if (entry.command != ONENET_CMD_REQUEST && entry.command != ONENET_CMD_REPLY) {
            broker_log_bad (self, "BATCH entry that is neither a REQUEST nor a REPLY");
            continue;
        }
        zmq_msg_t header;   /* read in place */
        zmq_msg_init_data (&header, (void *) entry.header, entry.header_size, NULL, NULL);
        size_t size = ONENET_SIGNATURE_SIZE + entry.header_size + entry.body_size;
        if (size <= (size_t) self->config->max_message_size)
            on_batch_entry (self, in, &entry, &header);
        else {
            broker_log_bad (self, "message too large");
            inbound_t one = *in;
            one.header = &header;
            one.body = NULL;
            if (entry.command == ONENET_CMD_REQUEST)
                send_too_large (self, in->peer, peek_correlation (self, &header), size);
            else
                on_adapter_reply_too_large (self, &one, size);
        }
        zmq_msg_close (&header);
        onenet_arena_reset (&self->arena);
    }
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
        if (msg->size <= (size_t) self->config->max_message_size)
            on_adapter_reply (self, &in);
        else {
            broker_log_bad (self, "message too large");
            on_adapter_reply_too_large (self, &in, msg->size);
        }
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
    case ONENET_CMD_BATCH:
        on_batch (self, &in);
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

/* Nothing left to wait for: no request pending, no alert waiting for
 * Redis, no event waiting for a subscriber's room. */
static bool
drained (const broker_t *self)
{
    return requests_count (self->requests) == 0 && alerts_idle (self->alerts)
           && audit_idle (self->audit) && events_stats (self->events)->held == 0;
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
    int audit = audit_tick (self->audit);
    if (audit >= 0 && self->now + audit < next)
        next = self->now + audit;
    int alerts = alerts_tick (self);
    if (self->now + alerts < next)
        next = self->now + alerts;
    int events = events_tick (self->events, self->now);
    if (events >= 0 && self->now + events < next)
        next = self->now + events;
    int http = http_timeout_ms (self->http);
    if (http == 0) {   /* libmicrohttpd's own timers are due even if its fd stays quiet */
        http_handle (self->http);
        http = http_timeout_ms (self->http);
    }
    if (http >= 0 && self->now + http < next)
        next = self->now + http;
    int cache = cache_tick (self->cache, self->now);
    if (cache >= 0 && self->now + cache < next)
        next = self->now + cache;
    if (self->draining && self->drain_until < next)
        next = self->drain_until;
    int64_t wait = next - self->now;
    if (self->draining && wait > 50)
        wait = 50;   /* look again soon: draining ends when the work does */
    return wait < 0 ? 0 : (int) wait;
}

void
broker_overlap (broker_t *self)
{
    alerts_flush (self->alerts);
    cache_pump (self->cache);
    outbox_flush (self->outbox);
}

/* The end of a step of the loop: the alerts it took go to Redis as one
 * call, and what it gathered for each peer leaves as one message. */
static void
end_step (broker_t *self)
{
    alerts_flush (self->alerts);
    outbox_flush (self->outbox);
}

int
broker_run (broker_t *self)
{
    onenet_info ("broker.start", "endpoint=%s security=%s heartbeat_ms=%d max_pending=%d",
                 self->config->endpoint, self->config->security, self->config->heartbeat_ms,
                 self->config->max_pending);
    if (!self->policy)
        onenet_warn ("policy.off", "reason=\"policy.file is empty: every request is allowed\"");
    else
        onenet_info ("policy.loaded", "file=%s rules=%zu", self->config->policy_file,
                     onenet_policy_rule_count (self->policy));
    if (strcmp (self->config->security, "curve") == 0)
        onenet_info ("broker.secure", "security=curve departments=%zu", self->config->client_key_count);
    else
        onenet_warn ("broker.insecure", "reason=\"security = none: connections are neither authenticated nor encrypted\"");
    int wait = 0;
    while (!self->stopped) {
        if (s_reload_requested) {
            s_reload_requested = 0;
            audit_reopen (self->audit);   /* a rotated audit file, whatever the config says */
            broker_reload (self);
        }
        if (onenet_interrupted () && !self->draining) {
            self->draining = true;
            self->drain_until = onenet_clock_ms () + self->config->drain_ms;
            onenet_info ("broker.draining", "pending=%zu drain_ms=%d", requests_count (self->requests),
                         self->config->drain_ms);
        }
        if (self->draining && (drained (self) || onenet_clock_ms () >= self->drain_until
                               || onenet_interrupt_count () > 1))
            break;
        /* The ROUTER, the XPUB (subscriptions), HTTP and Redis when they
         * have an fd: everything the broker waits on, in one poll. */
        enum { ROUTER, XPUB, HTTP, REDIS, ZAP };
        zmq_pollitem_t items[5] = {
            [ROUTER] = { self->socket, 0, ZMQ_POLLIN, 0 },
            [XPUB] = { alerts_socket (self->alerts), 0, ZMQ_POLLIN, 0 },
            [HTTP] = { NULL, http_fd (self->http), ZMQ_POLLIN, 0 },
            [REDIS] = { NULL, cache_fd (self->cache), cache_events (self->cache), 0 },
            [ZAP] = { self->zap ? zap_socket (self->zap) : NULL, 0, ZMQ_POLLIN, 0 },
        };
        if (items[HTTP].fd < 0)
            items[HTTP].events = 0;
        if (items[REDIS].fd < 0)
            items[REDIS].events = 0;
        int ready = zmq_poll (items, self->zap ? 5 : 4, wait);
        if (ready < 0 && errno != EINTR) {
            onenet_error ("broker.poll_failed", "reason=\"%s\"", zmq_strerror (errno));
            break;
        }
        if (ready > 0 && items[REDIS].revents) {
            cache_handle (self->cache, items[REDIS].revents);
            end_step (self);   /* a view's requests, on a cache miss */
        }
        if (ready > 0 && items[XPUB].revents)
            alerts_handle_subscriptions (self->alerts);
        if (ready > 0 && items[HTTP].revents)
            http_handle (self->http);
        if (ready > 0 && self->zap && items[ZAP].revents)
            zap_handle (self->zap);
        for (int i = 0; ready > 0 && (items[ROUTER].revents & ZMQ_POLLIN) && i < BROKER_RECV_BATCH; i++) {
            onenet_wire_msg_t msg;
            if (onenet_wire_recv (self->socket, &msg, ZMQ_DONTWAIT) < 0)
                break;
            self->now = onenet_clock_ms ();
            on_message (self, &msg);
            onenet_wire_close (&msg);
            onenet_arena_reset (&self->arena);
            /* Redis hears of a burst's first commands, and what it has
             * answered goes out, while the rest of the burst is still
             * being read: the broker's and Redis's work on a burst of
             * publishes overlap instead of taking turns. */
            if (i % BROKER_REDIS_EVERY == BROKER_REDIS_EVERY - 1)
                broker_overlap (self);
        }
        /* What the turn gathered for each peer leaves as one message,
         * before the timers: they need not delay it. */
        end_step (self);
        wait = run_timers (self);
        end_step (self);   /* what the timers sent: fail-over, expiry */
    }
    /* What is still pending will not be answered by anyone: say so rather
     * than let clients wait out their deadlines. */
    request_t *request;
    while ((request = requests_expired (self->requests, INT64_MAX)))
        broker_fail (self, request, ONENET_UNAVAILABLE, "broker shutting down");
    end_step (self);
    audit_sync (self->audit);   /* the chain is on disk before the broker is gone */
    onenet_info ("broker.stop", "requests=%" PRIu64 " adapters=%zu", self->requests_total,
                 registry_adapter_count (self->registry));
    return 0;
}
