/*
 * alerts.c - the alerts module (see alerts.h): its lifecycle, the Redis
 * scripts behind every alert operation and the dispatch of their replies,
 * and the ticks. Publishing is in alerts_publish.c, what goes out on the
 * XPUB in alerts_fan_out.c, what coordinators ask of the stream (catch-up,
 * acknowledgement, open alerts, state, escalation) in alerts_query.c.
 *
 * Every Redis round trip is asynchronous: a publish or a catch-up waits in
 * the `pending` table under an id that its Redis reply's cookie carries,
 * so the loop never blocks and a late reply finds nothing to do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alerts_internal.h"
#include "cache.h"
#include "zap.h"

static void ask_latest (alerts_t *self);

/* Redis keys beside the stream S: S:index (hash identifier -> stream id),
 * S:open (zset of stream ids not acknowledged or cancelled), S:escalate
 * (zset of those that escalate if left open), S:escalated (set),
 * S:refs:<identifier> (stream ids of Updates/Cancels referencing it),
 * S:acks:<identifier> (packed Acks). Each operation is one script, so it
 * is atomic and one round trip. */

/* KEYS[1] stream; ARGV[1] maxlen, then for each alert: envelope,
 * identifier, received ms, msgType, escalate (0/1), the number of
 * referenced identifiers, those identifiers. Returns {stream id,
 * duplicate (0/1)} per alert, flat. The index and the open sets are
 * written once per call, for every alert in it: an alert referenced by a
 * later one in the same call is found in `added`, and an open entry it
 * closes in `opens`, before either reaches Redis. */
static const char s_publish_script[] =
    "local s = KEYS[1]\n"
    "local index, open, escalate = s..':index', s..':open', s..':escalate'\n"
    "local bounded = tonumber(ARGV[1]) > 0\n"
    "local idents, at = {}, 2\n"
    "while at <= #ARGV do\n"
    "  idents[#idents + 1] = ARGV[at + 1]\n"
    "  at = at + 6 + tonumber(ARGV[at + 5])\n"
    "end\n"
    "local known = redis.call('HMGET', index, unpack(idents))\n"
    "local out, fields, added, opens, escalates = {}, {}, {}, {}, {}\n"
    "at = 2\n"
    "for n = 1, #idents do\n"
    "  local ident, kind, refs = ARGV[at + 1], ARGV[at + 3], tonumber(ARGV[at + 5])\n"
    "  local old = added[ident] or known[n]\n"
    "  if old then\n"
    "    out[#out + 1] = old; out[#out + 1] = 1\n"
    "  else\n"
    "    local id\n"
    "    if bounded then id = redis.call('XADD', s, 'MAXLEN', '~', ARGV[1], '*', 'envelope', ARGV[at])\n"
    "    else id = redis.call('XADD', s, '*', 'envelope', ARGV[at]) end\n"
    "    added[ident] = id\n"
    "    fields[#fields + 1] = ident; fields[#fields + 1] = id\n"
    "    if kind ~= 'Cancel' and kind ~= 'Ack' and kind ~= 'Error' then\n"
    "      opens[id] = ARGV[at + 2]\n"
    "      if ARGV[at + 4] == '1' then escalates[id] = ARGV[at + 2] end\n"
    "    end\n"
    "    for r = at + 6, at + 5 + refs do\n"
    "      redis.call('RPUSH', s..':refs:'..ARGV[r], id)\n"
    "      local ref = added[ARGV[r]] or redis.call('HGET', index, ARGV[r])\n"
    "      if ref and (kind == 'Update' or kind == 'Cancel') then\n"
    "        if opens[ref] then opens[ref] = nil else redis.call('ZREM', open, ref) end\n"
    "        if escalates[ref] then escalates[ref] = nil else redis.call('ZREM', escalate, ref) end\n"
    "      end\n"
    "    end\n"
    "    out[#out + 1] = id; out[#out + 1] = 0\n"
    "  end\n"
    "  at = at + 6 + refs\n"
    "end\n"
    "if #fields > 0 then redis.call('HSET', index, unpack(fields)) end\n"
    "for key, members in pairs({[open] = opens, [escalate] = escalates}) do\n"
    "  local z = {}\n"
    "  for id, score in pairs(members) do z[#z + 1] = score; z[#z + 1] = id end\n"
    "  if #z > 0 then redis.call('ZADD', key, unpack(z)) end\n"
    "end\n"
    "return out\n";

/* ARGV identifier, packed Ack. Returns 1, or 0 for an unknown identifier. */
static const char s_ack_script[] =
    "local s = KEYS[1]\n"
    "local id = redis.call('HGET', s..':index', ARGV[1])\n"
    "if not id then return 0 end\n"
    "redis.call('RPUSH', s..':acks:'..ARGV[1], ARGV[2])\n"
    "redis.call('ZREM', s..':open', id)\n"
    "redis.call('ZREM', s..':escalate', id)\n"
    "return 1\n";

/* Entries of the open alerts, oldest first, like XRANGE. */
static const char s_unacked_script[] =
    "local s = KEYS[1]\n"
    "local out = {}\n"
    "for _, id in ipairs(redis.call('ZRANGE', s..':open', 0, 999)) do\n"
    "  local e = redis.call('XRANGE', s, id, id)\n"
    "  if e[1] then table.insert(out, e[1]) end\n"
    "end\n"
    "return out\n";

/* ARGV cutoff ms: entries open since before it that should escalate, taken
 * off the escalate set (each escalates once) and marked escalated. */
static const char s_escalate_script[] =
    "local s = KEYS[1]\n"
    "local out = {}\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', s..':escalate', '-inf', ARGV[1], 'LIMIT', 0, 100)) do\n"
    "  redis.call('ZREM', s..':escalate', id)\n"
    "  redis.call('SADD', s..':escalated', id)\n"
    "  local e = redis.call('XRANGE', s, id, id)\n"
    "  if e[1] then table.insert(out, e[1]) end\n"
    "end\n"
    "return out\n";

/* ARGV identifier. Returns nil, or {entry, {update entries}, {acks}, escalated}. */
static const char s_state_script[] =
    "local s = KEYS[1]\n"
    "local id = redis.call('HGET', s..':index', ARGV[1])\n"
    "if not id then return nil end\n"
    "local first = redis.call('XRANGE', s, id, id)\n"
    "if not first[1] then return nil end\n"
    "local updates = {}\n"
    "for _, r in ipairs(redis.call('LRANGE', s..':refs:'..ARGV[1], 0, -1)) do\n"
    "  local e = redis.call('XRANGE', s, r, r)\n"
    "  if e[1] then table.insert(updates, e[1]) end\n"
    "end\n"
    "return {first[1], updates, redis.call('LRANGE', s..':acks:'..ARGV[1], 0, -1),\n"
    "        redis.call('SISMEMBER', s..':escalated', id)}\n";

/* --- lifecycle --- */

alerts_t *
alerts_new (broker_t *broker, char *err, size_t err_size)
{
    alerts_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->broker = broker;
    self->next_id = 1;
    self->scripts[SCRIPT_PUBLISH].text = s_publish_script;
    self->scripts[SCRIPT_ACK].text = s_ack_script;
    self->scripts[SCRIPT_UNACKED].text = s_unacked_script;
    self->scripts[SCRIPT_ESCALATE].text = s_escalate_script;
    self->scripts[SCRIPT_STATE].text = s_state_script;
    self->scripts[SCRIPT_PRUNE].text = alerts_prune_script;
    snprintf (self->prune_cursor, sizeof self->prune_cursor, "0");
    self->pending = hashmap_new ();
    self->marks = marks_new ();
    self->xpub = zmq_socket (broker->context, ZMQ_XPUB);
    const broker_config_t *config = broker->config;
    int linger = 0, hwm = config->alerts_sndhwm;
    if (self->xpub) {
        zmq_setsockopt (self->xpub, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt (self->xpub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    /* Subscribers authenticate like every other peer. */
    if (self->xpub && strcmp (config->security, "curve") == 0
        && zap_secure_socket (self->xpub, config->curve_key_file, err, err_size) < 0) {
        alerts_destroy (&self);
        return NULL;
    }
    if (!self->pending || !self->marks || !self->xpub
        || zmq_bind (self->xpub, config->alerts_endpoint) < 0) {
        snprintf (err, err_size, "cannot bind alerts endpoint %s: %s", config->alerts_endpoint,
                  zmq_strerror (errno));
        alerts_destroy (&self);
        return NULL;
    }
    struct stat info;
    if (stat (config->alerts_spool, &info) == 0)
        self->spool_bytes = (size_t) info.st_size;   /* left from an earlier run: flushed later */
    self->tick_at = onenet_clock_ms () + TICK_MS;
    return self;
}

static void
pending_free (pending_t *pending)
{
    zmq_msg_close (&pending->peer);
    for (size_t i = 0; i < pending->publish_count; i++)
        alerts_publish_clear (&pending->publishes[i]);
    free (pending->publishes);
    if (pending->since)
        onenet__alert__since_request__free_unpacked (pending->since, NULL);
    if (pending->ack)
        onenet__alert__ack__free_unpacked (pending->ack, NULL);
    free (pending);
}

void
alerts_destroy (alerts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    alerts_t *self = *self_p;
    size_t cursor = 0;
    pending_t *pending;
    while (self->pending && (pending = hashmap_next (self->pending, &cursor)))
        pending_free (pending);
    hashmap_destroy (&self->pending);
    marks_destroy (&self->marks);
    if (self->xpub)
        zmq_close (self->xpub);
    free (self);
    *self_p = NULL;
}

void *
alerts_socket (alerts_t *self)
{
    return self->xpub;
}

const alerts_stats_t *
alerts_stats (const alerts_t *self)
{
    return &self->stats;
}

void
alerts_handle_subscriptions (alerts_t *self)
{
    zmq_msg_t message;
    zmq_msg_init (&message);
    while (zmq_msg_recv (&message, self->xpub, ZMQ_DONTWAIT) >= 0) {
        const unsigned char *data = zmq_msg_data (&message);
        marks_on_subscription (self->marks, data, zmq_msg_size (&message));
        if (zmq_msg_size (&message) > 0 && onenet_log_get_level () == ONENET_LOG_DEBUG)
            onenet_debug ("alerts.subscription", "subscribe=%d topic_bytes=%zu", data[0] == 1,
                          zmq_msg_size (&message) - 1);
    }
    zmq_msg_close (&message);
}

pending_t *
alerts_pending_new (alerts_t *self, pending_kind_t kind, const zmq_msg_t *peer,
                    uint64_t correlation)
{
    pending_t *pending = calloc (1, sizeof *pending);
    if (!pending)
        return NULL;
    pending->id = self->next_id++;
    pending->kind = kind;
    pending->correlation = correlation;
    zmq_msg_init (&pending->peer);
    if (peer)
        zmq_msg_copy (&pending->peer, (zmq_msg_t *) peer);
    if (hashmap_put (self->pending, &pending->id, sizeof pending->id, pending) < 0) {
        pending_free (pending);
        return NULL;
    }
    return pending;
}

void
alerts_pending_done (alerts_t *self, pending_t *pending)
{
    hashmap_remove (self->pending, &pending->id, sizeof pending->id);
    pending_free (pending);
}


void
alerts_reply (broker_t *broker, const zmq_msg_t *peer, uint64_t correlation,
              const ProtobufCMessage *message)
{
    zmq_msg_t body;
    zmq_msg_init_size (&body, protobuf_c_message_get_packed_size (message));
    protobuf_c_message_pack (message, zmq_msg_data (&body));
    broker_answer (broker, peer, correlation, NULL, ONENET_OK, NULL, &body);
    zmq_msg_close (&body);
}

/* Sends SCRIPT LOAD for a script on this connection; its answer gives the
 * SHA1 that EVALSHA names. */
static void
script_load (alerts_t *self, script_id_t id)
{
    script_t *script = &self->scripts[id];
    pending_t *pending = alerts_pending_new (self, PENDING_SCRIPT_LOAD, NULL, 0);
    if (!pending)
        return;
    pending->script = id;
    const char *argv[] = {"SCRIPT", "LOAD", script->text};
    size_t lengths[] = {6, 4, strlen (script->text)};
    if (cache_command (self->broker->cache, ALERTS_COOKIE_BIT | pending->id, 3, argv, lengths) < 0)
        alerts_pending_done (self, pending);
    else
        script->loaded_on = cache_connections (self->broker->cache);
}

/* Runs a script on the alert stream: EVALSHA sha 1 <stream> args..., or
 * EVAL with the text until the SHA1 is known. Redis runs a connection's
 * commands in order, so a SCRIPT LOAD sent first on a new connection is
 * in Redis's script cache before the EVALSHA that follows it. */
int
alerts_eval (alerts_t *self, uint64_t cookie, script_id_t id, int argc, const char **args,
             const size_t *lengths)
{
    script_t *script = &self->scripts[id];
    if (script->loaded_on != cache_connections (self->broker->cache))
        script_load (self, id);
    const char *stream = self->broker->config->alerts_stream;
    const char *argv[argc + 4];
    size_t argvlen[argc + 4];
    bool by_sha = script->sha[0] != '\0';
    argv[0] = by_sha ? "EVALSHA" : "EVAL";
    argvlen[0] = strlen (argv[0]);
    argv[1] = by_sha ? script->sha : script->text;
    argvlen[1] = strlen (argv[1]);
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = stream;
    argvlen[3] = strlen (stream);
    for (int i = 0; i < argc; i++) {
        argv[i + 4] = args[i];
        argvlen[i + 4] = lengths ? lengths[i] : strlen (args[i]);
    }
    return cache_command (self->broker->cache, ALERTS_COOKIE_BIT | cookie, argc + 4, argv, argvlen);
}

/* Redis lost its script cache under an open connection (SCRIPT FLUSH):
 * load every script again before the next call, and retry the spool
 * (the command that failed was spooled, not lost). */
static void
scripts_forgotten (alerts_t *self)
{
    for (int id = 0; id < SCRIPT_COUNT; id++)
        self->scripts[id].loaded_on = 0;
    if (self->retry_at)
        return; /* the calls sent before it was noticed: said already */
    self->retry_at = self->broker->now + TICK_MS;
    onenet_warn ("alerts.scripts_flushed",
                 "effect=\"scripts are loaded again; the spool is retried\"");
}

void
alerts_on_cache (broker_t *broker, uint64_t cookie, const redisReply *reply)
{
    alerts_t *self = broker->alerts;
    pending_t *pending = self ? hashmap_get (self->pending, &cookie, sizeof cookie) : NULL;
    if (!pending)
        return;
    if (reply && reply->type == REDIS_REPLY_ERROR && strncmp (reply->str, "NOSCRIPT", 8) == 0)
        scripts_forgotten (self);
    switch (pending->kind) {
    case PENDING_SCRIPT_LOAD:
        if (reply && reply->type == REDIS_REPLY_STRING && reply->len == 40)
            memcpy (self->scripts[pending->script].sha, reply->str, 41);
        else
            self->scripts[pending->script].loaded_on = 0; /* try again on the next call */
        break;
    case PENDING_PUBLISH:
        alerts_on_published (self, pending, reply);
        break;
    case PENDING_SINCE:
        alerts_on_since (self, pending, reply);
        break;
    case PENDING_LATEST:
        if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
            && reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
            snprintf (self->latest, sizeof self->latest, "%s", reply->element[0]->element[0]->str);
        else if (!reply || reply->type == REDIS_REPLY_ERROR)
            self->retry_at = broker->now + TICK_MS;   /* ask again shortly */
        break;
    case PENDING_ACK:
        alerts_on_ack (self, pending, reply);
        break;
    case PENDING_UNACKED:
        alerts_on_since (self, pending, reply);
        break;
    case PENDING_STATE:
        alerts_on_state (self, pending, reply);
        break;
    case PENDING_ESCALATE:
        alerts_on_escalate (self, reply);
        break;
    case PENDING_PRUNE:
        alerts_on_prune (self, reply);
        break;
    case PENDING_FLUSH:
        if (self->flushing && reply && reply->type == REDIS_REPLY_ARRAY && --self->flushing == 0) {
            unlink (broker->config->alerts_spool);
            self->stats.spool_flushed += self->stats.spooled;
            self->spool_bytes = 0;
            onenet_info ("alerts.spool_flushed", "stream=%s", broker->config->alerts_stream);
            /* Spooled alerts are in the stream now, after alerts that were
             * sent live later: subscribers must read it again, from the
             * newest id. */
            marks_new_epoch (self->marks);
            ask_latest (self);
        }
        else if (!reply || reply->type != REDIS_REPLY_ARRAY) {
            /* Redis refused (e.g. -LOADING while it replays its AOF): the
             * file stays and is flushed again shortly; the stream's
             * dedupe by identifier makes a second try harmless. */
            self->flushing = 0;
            self->retry_at = broker->now + TICK_MS;
        }
        break;
    }
    alerts_pending_done (self, pending);
}

/* On (re)connection to Redis: learn the newest stream id, flush the spool. */
static void
on_redis_back (alerts_t *self)
{
    marks_new_epoch (self->marks);   /* the stream may have moved meanwhile */
    if (self->spool_bytes && !self->flushing)
        alerts_spool_flush (self);
    ask_latest (self);
}

/* Asks Redis for the newest stream id (for the ticks). */
static void
ask_latest (alerts_t *self)
{
    broker_t *broker = self->broker;
    const char *stream = broker->config->alerts_stream;
    pending_t *pending = alerts_pending_new (self, PENDING_LATEST, NULL, 0);
    if (pending) {
        const char *argv[] = { "XREVRANGE", stream, "+", "-", "COUNT", "1" };
        size_t lengths[] = { 9, strlen (stream), 1, 1, 5, 1 };
        if (cache_command (broker->cache, ALERTS_COOKIE_BIT | pending->id, 6, argv, lengths) < 0)
            alerts_pending_done (self, pending);
    }
}

int
alerts_tick (broker_t *broker)
{
    alerts_t *self = broker->alerts;
    uint64_t connections = cache_connections (broker->cache);
    if (connections != self->connections_seen && cache_ready (broker->cache)) {
        self->connections_seen = connections;
        on_redis_back (self);
    }
    else if (self->retry_at && broker->now >= self->retry_at && cache_ready (broker->cache)) {
        self->retry_at = 0;
        on_redis_back (self);
    }
    if (broker->now >= self->tick_at) {
        alerts_send_tick (self);
        if (++self->ticks % ESCALATE_EVERY_TICKS == 0)
            alerts_escalate (self);
        alerts_prune (self);
        self->tick_at = broker->now + TICK_MS;
    }
    return (int) (self->tick_at - broker->now);
}

bool
alerts_idle (const alerts_t *self)
{
    size_t cursor = 0;
    pending_t *pending;
    while ((pending = hashmap_next (self->pending, &cursor)))
        if (pending->kind == PENDING_PUBLISH || pending->kind == PENDING_FLUSH)
            return false;
    return true;
}
