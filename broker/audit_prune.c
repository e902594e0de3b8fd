/*
 * audit_prune.c - the audit stream in Redis keeps audit.stream_keep_s.
 *
 * Every audited exchange adds a stream entry and two index members
 * (S:person:<resident id>, S:department:<name>): some 600 bytes of Redis
 * memory, for ever, at the rate of the busiest counters. The file on the
 * broker's host is the complete chain; Redis is what `onenet audit query`
 * reads, and keeps the last audit.stream_keep_s seconds of it.
 *
 * A pass, every minute (or every keep_s if shorter), trims the stream by
 * time (XTRIM MINID, never its newest entry: the broker's sync reads it)
 * and walks the index keys (SCAN, PRUNE_STEP keys a step, one step a
 * tick), dropping members older than the stream's first entry. Nothing of
 * it is on the request path.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "audit_internal.h"
#include "cache.h"

/* Keys looked at per step: about a millisecond of Redis's time. */
#define PRUNE_STEP 1000
#define PRUNE_EVERY_MS 60000

/* KEYS[1] stream; ARGV cutoff ms, SCAN cursor, count. Returns {next
 * cursor, stream entries trimmed, index members removed}. */
static const char s_prune_script[] =
    "local s = KEYS[1]\n"
    "local last = redis.call('XREVRANGE', s, '+', '-', 'COUNT', 1)\n"
    "if not last[1] then return {'0', 0, 0} end\n"
    "local cutoff = ARGV[1]\n"
    "if tonumber(cutoff) > tonumber(string.match(last[1][1], '^(%d+)')) then\n"
    "  cutoff = last[1][1]\n"
    "end\n"
    "local trimmed = redis.call('XTRIM', s, 'MINID', cutoff)\n"
    "local first = redis.call('XRANGE', s, '-', '+', 'COUNT', 1)\n"
    "local min = string.match(first[1][1], '%-(%d+)$')\n"
    "local r = redis.call('SCAN', ARGV[2], 'MATCH', s..':*', 'COUNT', ARGV[3])\n"
    "local person, department = s..':person:', s..':department:'\n"
    "local removed = 0\n"
    "for _, key in ipairs(r[2]) do\n"
    "  local index = key:sub(1, #person) == person or key:sub(1, #department) == department\n"
    "  if index and redis.call('TYPE', key).ok == 'zset' then\n"
    "    removed = removed + redis.call('ZREMRANGEBYSCORE', key, '-inf', '('..min)\n"
    "  end\n"
    "end\n"
    "return {r[1], trimmed, removed}\n";

void
audit_prune (audit_t *self)
{
    broker_t *broker = self->broker;
    int64_t keep_ms = (int64_t) broker->config->audit_stream_keep_s * 1000;
    if (keep_ms <= 0 || self->pruning || broker->now < self->prune_at
        || !cache_ready (broker->cache))
        return;
    char cutoff[24], count[16];
    snprintf (cutoff, sizeof cutoff, "%" PRId64, onenet_wall_ms () - keep_ms);
    snprintf (count, sizeof count, "%d", PRUNE_STEP);
    const char *argv[] = {"EVAL", s_prune_script, "1", self->stream, cutoff,
                          self->prune_cursor, count};
    size_t lengths[7];
    for (size_t i = 0; i < 7; i++)
        lengths[i] = strlen (argv[i]);
    uint64_t cookie = AUDIT_COOKIE_BIT | (uint64_t) OP_PRUNE << 56;
    if (cache_command (broker->cache, cookie, 7, argv, lengths) == 0)
        self->pruning = true;
}

void
audit_on_prune (audit_t *self, const redisReply *reply)
{
    broker_t *broker = self->broker;
    self->pruning = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[0]->len >= sizeof self->prune_cursor
        || reply->element[1]->type != REDIS_REPLY_INTEGER
        || reply->element[2]->type != REDIS_REPLY_INTEGER) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            audit_complain (self, ONENET_LOG_WARN, "audit.prune_failed", "reason=\"%s\"",
                            reply->str);
        snprintf (self->prune_cursor, sizeof self->prune_cursor, "0");
        self->prune_at = broker->now + PRUNE_EVERY_MS;
        return;
    }
    memcpy (self->prune_cursor, reply->element[0]->str, reply->element[0]->len);
    self->prune_cursor[reply->element[0]->len] = '\0';
    self->stats.trimmed += (uint64_t) reply->element[1]->integer;
    if (strcmp (self->prune_cursor, "0") == 0) {
        /* The pass is over: the next in a minute, sooner for a short keep. */
        int64_t keep_ms = (int64_t) broker->config->audit_stream_keep_s * 1000;
        self->prune_at = broker->now + (keep_ms < PRUNE_EVERY_MS ? keep_ms : PRUNE_EVERY_MS);
    }
    else
        self->prune_at = broker->now + TICK_MS;
}
