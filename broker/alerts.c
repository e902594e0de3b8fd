/*
 * alerts.c - publish, persist and fan out alerts (see alerts.h); the
 * Redis scripts behind every alert operation, and the dispatch of their
 * replies. What coordinators ask of the stream (catch-up, acknowledgement,
 * open alerts, state, escalation) is in alerts_query.c.
 *
 * Every Redis round trip is asynchronous: a publish or a catch-up waits in
 * the `pending` table under an id that its Redis reply's cookie carries,
 * so the loop never blocks and a late reply finds nothing to do.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alerts_internal.h"
#include "cache.h"
#include "zap.h"
#include "onenet/cap.h"

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
publish_clear (publish_t *publish)
{
    zmq_msg_close (&publish->peer);
    free (publish->packed);
    free (publish->text);
}

static void
pending_free (pending_t *pending)
{
    zmq_msg_close (&pending->peer);
    for (size_t i = 0; i < pending->publish_count; i++)
        publish_clear (&pending->publishes[i]);
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

/* --- topics and fan-out --- */

const char *
alerts_severity_of (const Onenet__Alert__Alert *alert)
{
    for (size_t i = 0; i < alert->n_info; i++)
        if (alert->info[i]->severity && *alert->info[i]->severity)
            return alert->info[i]->severity;
    return "Unknown";
}

/* Writes an alert's topics into out, each ended by a NUL: one per geocode
 * of the GB/T 2260 scheme, "<prefix>.<severity>.<code>", or one with "-"
 * for an alert without. Returns how many, or 0 when out is too small
 * (size_needed says how large it must be). */
static size_t
topics_write (const Onenet__Alert__Alert *alert, const char *prefix, char *out, size_t out_size,
              size_t *size_needed)
{
    const Onenet__Alert__ValuePair *codes[MAX_TOPICS];
    size_t count = onenet_cap_geocodes (alert, GEOCODE_SCHEME, codes, MAX_TOPICS);
    if (count > MAX_TOPICS)
        count = MAX_TOPICS;
    const char *severity = alerts_severity_of (alert);
    size_t used = 0;
    for (size_t i = 0; i < (count ? count : 1); i++) {
        const char *code = count ? codes[i]->value : "-";
        int length = snprintf (out ? out + used : NULL, out && used < out_size ? out_size - used : 0,
                               "%s.%s.%s", prefix, severity, code);
        used += (size_t) length + 1;
    }
    *size_needed = used;
    return out && used <= out_size ? (count ? count : 1) : 0;
}

/* Sends body on each of `count` topics (NUL-separated): [topic][body],
 * or for a batch of `alerts` envelopes [topic][bodies][alerts]. counted:
 * counted in the marks (alerts are, escalations sent again are not). */
static void
send_on_topics (alerts_t *self, const char *topics, size_t count, zmq_msg_t *body, uint32_t alerts,
                bool counted)
{
    char batch[16];
    int batch_length = snprintf (batch, sizeof batch, "%u", alerts);
    for (size_t i = 0; i < count; i++) {
        size_t length = strlen (topics);
        /* Counted whether or not ZeroMQ delivers it: a subscriber that
         * misses it sees a count it did not reach. */
        if (counted)
            marks_on_sent (self->marks, topics, length);
        zmq_msg_t copy;
        zmq_msg_init (&copy);
        zmq_msg_copy (&copy, body);   /* shares the buffer */
        /* XPUB never blocks: past a subscriber's high-water mark ZeroMQ
         * drops for that subscriber only, who catches up from the stream.
         * A message is all or nothing, so a batch is too. */
        if (zmq_send (self->xpub, topics, length, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
            && zmq_msg_send (&copy, self->xpub, ZMQ_DONTWAIT | (alerts ? ZMQ_SNDMORE : 0)) >= 0
            && (!alerts || zmq_send (self->xpub, batch, (size_t) batch_length, ZMQ_DONTWAIT) >= 0))
            self->stats.delivered += alerts ? alerts : 1;
        zmq_msg_close (&copy);
        topics += length + 1;
    }
}

/* Writes value as a protobuf varint; returns its size (at most 10). */
static size_t
varint_write (uint8_t *out, uint64_t value)
{
    size_t size = 0;
    do {
        out[size++] = (uint8_t) ((value & 0x7f) | (value > 0x7f ? 0x80 : 0));
        value >>= 7;
    } while (value);
    return size;
}

/* The envelope subscribers get for a published alert: as packed at
 * submit, with the stream id (field 1, "" while Redis is down: absent)
 * appended, a field after the others reading the same. Written at out
 * when out is not NULL; returns its size. */
static size_t
envelope_write (uint8_t *out, const publish_t *publish, const char *stream_id,
                size_t stream_id_size)
{
    uint8_t field[16];
    size_t field_size = 0;
    if (stream_id_size > 0) {
        field[field_size++] = 0x0a;   /* field 1, length-delimited */
        field_size += varint_write (field + field_size, stream_id_size);
    }
    if (out) {
        memcpy (out, publish->packed, publish->packed_size);
        memcpy (out + publish->packed_size, field, field_size);
        if (stream_id_size > 0)
            memcpy (out + publish->packed_size + field_size, stream_id, stream_id_size);
    }
    return publish->packed_size + field_size + stream_id_size;
}

/* Sends an envelope on every topic of its alert under a first topic word
 * other than "alert" ("escalation"). */
void
alerts_fan_out (alerts_t *self, const Onenet__Alert__AlertEnvelope *envelope, const char *prefix)
{
    size_t size = 0;
    topics_write (envelope->alert, prefix, NULL, 0, &size);
    char *topics = malloc (size);
    size_t count = topics ? topics_write (envelope->alert, prefix, topics, size, &size) : 0;
    zmq_msg_t packed;
    zmq_msg_init_size (&packed, protobuf_c_message_get_packed_size (&envelope->base));
    protobuf_c_message_pack (&envelope->base, zmq_msg_data (&packed));
    send_on_topics (self, topics, count, &packed, 0, strcmp (prefix, "alert") == 0);
    zmq_msg_close (&packed);
    free (topics);
}

/* Sends a published alert to its subscribers, alone. */
static void
fan_out (alerts_t *self, const publish_t *publish, const char *stream_id, size_t stream_id_size)
{
    zmq_msg_t body;
    zmq_msg_init_size (&body, envelope_write (NULL, publish, stream_id, stream_id_size));
    envelope_write (zmq_msg_data (&body), publish, stream_id, stream_id_size);
    send_on_topics (self, publish->topics, publish->topic_count, &body, 0, true);
    zmq_msg_close (&body);
}

/* Sends `count` stored alerts (ids[i] is publish[i]'s stream id) in
 * order: each run of alerts with the same topics as one message per
 * topic, its bodies one after the other, each after its length as a
 * varint (docs/PROTOCOL.md, "Alert batches"); a run of one alone. */
static void
fan_out_runs (alerts_t *self, const publish_t *const *publishes, const redisReply *const *ids,
              size_t count)
{
    for (size_t first = 0, end; first < count; first = end) {
        const publish_t *head = publishes[first];
        size_t size = 0;
        for (end = first; end < count; end++) {
            const publish_t *next = publishes[end];
            if (next->topic_count != head->topic_count || strcmp (next->topics, head->topics) != 0)
                break;
            size_t length = envelope_write (NULL, next, ids[end]->str, ids[end]->len);
            uint8_t scratch[10];
            size += varint_write (scratch, length) + length;
        }
        if (end - first == 1) {
            fan_out (self, head, ids[first]->str, ids[first]->len);
            continue;
        }
        zmq_msg_t bodies;
        zmq_msg_init_size (&bodies, size);
        uint8_t *at = zmq_msg_data (&bodies);
        for (size_t i = first; i < end; i++) {
            size_t length = envelope_write (NULL, publishes[i], ids[i]->str, ids[i]->len);
            at += varint_write (at, length);
            at += envelope_write (at, publishes[i], ids[i]->str, ids[i]->len);
        }
        send_on_topics (self, head->topics, head->topic_count, &bodies, (uint32_t) (end - first),
                        true);
        zmq_msg_close (&bodies);
    }
}

static void
send_tick (alerts_t *self)
{
    /* "0-0" while the newest id is not known (empty stream, Redis down):
     * subscribers learn the broker is there, and catch up on later ticks. */
    const char *latest = *self->latest ? self->latest : "0-0";
    marks_send (self->marks, self->xpub, latest);   /* before the tick that closes the round */
    if (zmq_send (self->xpub, "tick", 4, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send (self->xpub, latest, strlen (latest), ZMQ_DONTWAIT);
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

/* --- spool: alerts published while Redis is down --- */

/* Appends [u32 length][envelope] to the spool file. A small buffered write
 * with no fsync: it lands in the page cache, the loop does not wait. */
static int
spool_append (alerts_t *self, const publish_t *publish)
{
    const broker_config_t *config = self->broker->config;
    size_t size = publish->packed_size;
    if (self->spool_bytes + size + 4 > (size_t) config->alerts_spool_max_mb * 1024 * 1024)
        return -1;
    uint8_t *record = malloc (size + 4);
    FILE *file = record ? fopen (config->alerts_spool, "ab") : NULL;
    int rc = -1;
    if (file) {
        uint32_t length = (uint32_t) size;
        memcpy (record, &length, 4);
        memcpy (record + 4, publish->packed, size);
        rc = fwrite (record, 1, size + 4, file) == size + 4 ? 0 : -1;
        rc = fclose (file) == 0 ? rc : -1;
    }
    free (record);
    if (rc == 0) {
        self->spool_bytes += size + 4;
        self->stats.spooled++;
    }
    return rc;
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

/* Does an alert escalate when left unacknowledged? */
static bool
escalates (const alerts_t *self, const Onenet__Alert__Alert *alert)
{
    const broker_config_t *config = self->broker->config;
    return config->alerts_escalate_after_s > 0 &&
           onenet_cap_severity_rank (alerts_severity_of (alert)) >=
               onenet_cap_severity_rank (config->alerts_escalate_severity);
}

#define MAX_REFERENCES 32

/* Fills what the script and the topics need of an alert: identifier,
 * msgType, references and topics, copied into publish->text. Returns 0,
 * or -1 when out of memory. */
static int
publish_describe (alerts_t *self, publish_t *publish, const Onenet__Alert__Alert *alert)
{
    const char *references = alert->references ? alert->references : "";
    size_t identifier_size = strlen (alert->identifier) + 1;
    size_t msg_type_size = strlen (alert->msg_type) + 1;
    size_t references_size = strlen (references) + 1;
    size_t topics_size = 0;
    topics_write (alert, "alert", NULL, 0, &topics_size);
    size_t size = identifier_size + msg_type_size + references_size + topics_size;
    char *text = malloc (size);
    if (!text)
        return -1;
    publish->text = text;
    publish->identifier = memcpy (text, alert->identifier, identifier_size);
    publish->msg_type = memcpy (text + identifier_size, alert->msg_type, msg_type_size);
    publish->references = memcpy (text + identifier_size + msg_type_size, references,
                                  references_size);
    char *topics = text + identifier_size + msg_type_size + references_size;
    publish->topics = topics;
    publish->topic_count = topics_write (alert, "alert", topics, topics_size, &topics_size);
    publish->escalates = escalates (self, alert);
    return 0;
}

/* Starts a publish-script call (PUBLISH or FLUSH) with room for
 * STORE_MAX alerts. */
static pending_t *
store_new (alerts_t *self, pending_kind_t kind)
{
    pending_t *pending = alerts_pending_new (self, kind, NULL, 0);
    if (pending && !(pending->publishes = calloc (STORE_MAX, sizeof *pending->publishes))) {
        alerts_pending_done (self, pending);
        return NULL;
    }
    return pending;
}

/* Appends a call's envelopes to the stream with their index entries (the
 * publish script). References "sender,identifier,sent ..." name earlier
 * alerts. Returns 0, or -1 when nothing was sent. */
static int
store_send (alerts_t *self, pending_t *pending)
{
    size_t count = pending->publish_count;
    /* Per alert: six values and its references; numbers are written in
     * `numbers`, 24 bytes each. */
    size_t most = 1 + count * (6 + MAX_REFERENCES);
    const char **args = malloc (most * sizeof *args);
    size_t *lengths = malloc (most * sizeof *lengths);
    char *numbers = malloc (count * 2 * 24 + 24);
    int rc = -1;
    if (!args || !lengths || !numbers)
        goto done;
    int argc = 0;
#define ARG(value, length) (args[argc] = (value), lengths[argc++] = (length))
    char *number = numbers;
    ARG (number, (size_t) snprintf (number, 24, "%d", self->broker->config->alerts_stream_max));
    number += 24;
    for (size_t i = 0; i < count; i++) {
        const publish_t *publish = &pending->publishes[i];
        ARG ((const char *) publish->packed, publish->packed_size);
        ARG (publish->identifier, strlen (publish->identifier));
        ARG (number, (size_t) snprintf (number, 24, "%" PRId64, publish->received_at_ms));
        number += 24;
        ARG (publish->msg_type, strlen (publish->msg_type));
        ARG (publish->escalates ? "1" : "0", 1);
        int refs_at = argc;
        ARG (number, 0);   /* the count, written below */
        /* Each reference is sender,identifier,sent: the identifier is
         * between the first and second comma. */
        const char *p = publish->references;
        int refs = 0;
        while (*p && refs < MAX_REFERENCES) {
            while (*p == ' ')
                p++;
            const char *end = p + strcspn (p, " ");
            const char *comma = memchr (p, ',', (size_t) (end - p));
            const char *second = comma ? memchr (comma + 1, ',', (size_t) (end - comma - 1)) : NULL;
            if (comma && second) {
                ARG (comma + 1, (size_t) (second - comma - 1));
                refs++;
            }
            p = end;
        }
        lengths[refs_at] = (size_t) snprintf (number, 24, "%d", refs);
        number += 24;
    }
#undef ARG
    rc = alerts_eval (self, pending->id, SCRIPT_PUBLISH, argc, args, lengths);
done:
    free (args);
    free (lengths);
    free (numbers);
    return rc;
}

/* Appends what the spool holds to the stream, in order, before anything
 * newer (Redis runs one connection's commands in order). The file is
 * removed once every call is confirmed. */
static void
spool_flush_send (alerts_t *self, pending_t **call_p)
{
    pending_t *call = *call_p;
    *call_p = NULL;
    if (call && store_send (self, call) == 0)
        self->flushing++;
    else if (call)
        alerts_pending_done (self, call);
}

static void
spool_flush (alerts_t *self)
{
    const char *path = self->broker->config->alerts_spool;
    FILE *file = self->spool_bytes ? fopen (path, "rb") : NULL;
    if (!file)
        return;
    pending_t *call = NULL;   /* the publish-script call being filled */
    uint32_t length;
    uint8_t *record = NULL;
    while (fread (&length, 4, 1, file) == 1) {
        record = malloc (length ? length : 1);
        if (!record || fread (record, 1, length, file) != length)
            break;
        Onenet__Alert__AlertEnvelope *envelope
            = onenet__alert__alert_envelope__unpack (NULL, length, record);
        if (envelope && envelope->alert && !call)
            call = store_new (self, PENDING_FLUSH);
        publish_t *publish = call ? &call->publishes[call->publish_count] : NULL;
        if (envelope && envelope->alert && publish
            && publish_describe (self, publish, envelope->alert) == 0) {
            zmq_msg_init (&publish->peer);   /* delivered live when it was spooled */
            publish->packed = record;
            publish->packed_size = length;
            publish->received_at_ms = envelope->received_at_ms;
            record = NULL;
            call->publish_count++;
        }
        if (envelope)
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        free (record);
        record = NULL;
        if (call && call->publish_count == STORE_MAX)
            spool_flush_send (self, &call);
    }
    spool_flush_send (self, &call);
    free (record);
    fclose (file);
    onenet_info ("alerts.spool_flush", "calls=%u", self->flushing);
}

/* --- publish --- */

void
alerts_publish (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                const char *requester, zmq_msg_t *body)
{
    /* Unpacked in the loop's arena: only what the alert is packed into
     * outlives this request. */
    ProtobufCAllocator *arena = &broker->arena.allocator;
    Onenet__Alert__Alert *alert = body ? onenet__alert__alert__unpack (arena, zmq_msg_size (body),
                                                                       zmq_msg_data (body))
                                       : NULL;
    if (!alert) {
        broker->alerts->stats.rejected++;
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_BAD_REQUEST,
                       "body is not an onenet.alert.Alert", NULL);
        return;
    }
    onenet_message_strip_unknown_with (&alert->base, arena);
    alerts_take (broker, peer, header->correlation_id, broker_reply_batch_max (broker, header),
                 alert, requester);
}

/* Answers the publisher, unless the broker itself published (no peer):
 * gathered with the other answers of this step for a publisher that takes
 * batches. */
static void
answer_publisher (broker_t *broker, const publish_t *publish, onenet_status_t status,
                  const char *message, const ProtobufCMessage *reply)
{
    if (zmq_msg_size ((zmq_msg_t *) &publish->peer) == 0)
        return;
    zmq_msg_t body;
    zmq_msg_init (&body);
    if (reply) {
        zmq_msg_close (&body);
        zmq_msg_init_size (&body, protobuf_c_message_get_packed_size (reply));
        protobuf_c_message_pack (reply, zmq_msg_data (&body));
    }
    broker_answer_batched (broker, &publish->peer, publish->correlation, publish->batch_max, status,
                           message, reply ? &body : NULL);
    zmq_msg_close (&body);
}

/* An alert that could not be stored (Redis down or failing): delivered
 * live now and kept in the spool for the stream, or refused when the
 * spool is full. */
static void
deliver_unstored (alerts_t *self, const publish_t *publish, onenet_status_t when_full)
{
    Onenet__Alert__PublishReply reply = ONENET__ALERT__PUBLISH_REPLY__INIT;
    if (spool_append (self, publish) < 0) {
        answer_publisher (self->broker, publish, when_full,
                          "alert stream unavailable and the spool is full (alerts.spool_max_mb)",
                          NULL);
        return;
    }
    fan_out (self, publish, "", 0);
    reply.spooled = true;
    answer_publisher (self->broker, publish, ONENET_OK, NULL, &reply.base);
}

void
alerts_submit (broker_t *broker, const zmq_msg_t *peer, uint64_t correlation, uint32_t batch_max,
               Onenet__Alert__Alert *alert, const char *department)
{
    onenet_message_strip_unknown (&alert->base);
    alerts_take (broker, peer, correlation, batch_max, alert, department);
    onenet__alert__alert__free_unpacked (alert, NULL);
}

void
alerts_take (broker_t *broker, const zmq_msg_t *peer, uint64_t correlation, uint32_t batch_max,
             const Onenet__Alert__Alert *alert, const char *department)
{
    alerts_t *self = broker->alerts;
    publish_t publish = { .correlation = correlation, .batch_max = batch_max };
    zmq_msg_init (&publish.peer);
    if (peer)
        zmq_msg_copy (&publish.peer, (zmq_msg_t *) peer);
    char why[256];
    /* What is not CAP is not stored (unknown fields were stripped by the
     * caller: they could make the stored envelope unreadable for every
     * subscriber, found by fuzzing). */
    if (onenet_cap_validate (alert, why, sizeof why) < 0) {
        self->stats.rejected++;
        answer_publisher (broker, &publish, ONENET_BAD_REQUEST, why, NULL);
        publish_clear (&publish);
        return;
    }
    /* Packed once: the same bytes go to Redis, to the spool and, with the
     * stream id after them, to the subscribers. */
    Onenet__Alert__AlertEnvelope envelope = ONENET__ALERT__ALERT_ENVELOPE__INIT;
    envelope.alert = (Onenet__Alert__Alert *) alert;
    envelope.published_by_department = (char *) department;
    envelope.received_at_ms = onenet_wall_ms ();
    publish.received_at_ms = envelope.received_at_ms;
    publish.packed_size = protobuf_c_message_get_packed_size (&envelope.base);
    publish.packed = malloc (publish.packed_size ? publish.packed_size : 1);
    if (!publish.packed || publish_describe (self, &publish, alert) < 0) {
        answer_publisher (broker, &publish, ONENET_INTERNAL, "broker out of memory", NULL);
        publish_clear (&publish);
        return;
    }
    protobuf_c_message_pack (&envelope.base, publish.packed);
    self->stats.published++;
    /* The audit's subject of an alert is its CAP identifier. */
    broker_audit (broker, "alert.publish", department, "", "onenet.alert.publish",
                  alert->identifier, "", ONENET_OK, 0, "broker");

    if (cache_ready (broker->cache) && !self->gathering)
        self->gathering = store_new (self, PENDING_PUBLISH);
    if (cache_ready (broker->cache) && self->gathering) {
        self->gathering->publishes[self->gathering->publish_count++] = publish;   /* moved */
        if (self->gathering->publish_count == STORE_MAX)
            broker_overlap (broker);
        return;
    }
    /* Redis is down: deliver live now, keep it for the stream. */
    deliver_unstored (self, &publish, ONENET_RESOURCE_EXHAUSTED);
    publish_clear (&publish);
}

void
alerts_flush (alerts_t *self)
{
    pending_t *call = self ? self->gathering : NULL;
    if (!call)
        return;
    self->gathering = NULL;
    if (store_send (self, call) == 0)
        return;
    /* Not sent (Redis went away in this step): as if it had been down. */
    for (size_t i = 0; i < call->publish_count; i++)
        deliver_unstored (self, &call->publishes[i], ONENET_RESOURCE_EXHAUSTED);
    alerts_pending_done (self, call);
}

static void
on_published (alerts_t *self, pending_t *pending, const redisReply *reply)
{
    size_t count = pending->publish_count;
    bool stored = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 * count;
    for (size_t i = 0; stored && i < count; i++)
        stored = reply->element[2 * i]->type == REDIS_REPLY_STRING
                 && reply->element[2 * i + 1]->type == REDIS_REPLY_INTEGER;
    if (!stored) {   /* Redis failed under us: keep them for later */
        for (size_t i = 0; i < count; i++)
            deliver_unstored (self, &pending->publishes[i], ONENET_UNAVAILABLE);
        return;
    }
    /* Each alert's stream id, and whether it was there before (a retry, a
     * spool replay: subscribers have it). The new ones go out, then every
     * publisher is answered. */
    const publish_t *fresh[STORE_MAX];
    const redisReply *fresh_ids[STORE_MAX];
    size_t fresh_count = 0;
    for (size_t i = 0; i < count; i++) {
        const redisReply *id = reply->element[2 * i];
        if (reply->element[2 * i + 1]->integer == 1)
            continue;
        if (id->len < sizeof self->latest)
            memcpy (self->latest, id->str, id->len + 1);
        fresh[fresh_count] = &pending->publishes[i];
        fresh_ids[fresh_count++] = id;
    }
    fan_out_runs (self, fresh, fresh_ids, fresh_count);
    for (size_t i = 0; i < count; i++) {
        Onenet__Alert__PublishReply out = ONENET__ALERT__PUBLISH_REPLY__INIT;
        out.stream_id = reply->element[2 * i]->str;
        out.duplicate = reply->element[2 * i + 1]->integer == 1;
        answer_publisher (self->broker, &pending->publishes[i], ONENET_OK, NULL, &out.base);
    }
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
        on_published (self, pending, reply);
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
        spool_flush (self);
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
        send_tick (self);
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
