/*
 * alerts_prune.c - keeps the keys beside the alert stream no larger than
 * the stream.
 *
 * XADD trims the stream to about alerts.stream_max entries, but the
 * index (identifier -> stream id), the open and escalation sets and the
 * per-alert lists of references and acknowledgements are written per
 * alert and were never trimmed with it: a broker that runs for years
 * would grow them without bound, for alerts no one can read any more.
 *
 * Once per tick, while the index holds more entries than the stream, one
 * step of a pass over the index (HSCAN, PRUNE_STEP entries) removes what
 * belongs to alerts older than the stream's first entry. A pass that finds
 * the index no larger than the stream costs two O(1) commands. A pruned
 * identifier published again is a new alert.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alerts_internal.h"
#include "cache.h"

/* KEYS[1] stream; ARGV HSCAN cursor, count. Returns {next cursor, removed}. */
const char alerts_prune_script[] =
    "local s = KEYS[1]\n"
    "local index = s..':index'\n"
    "if ARGV[1] == '0' and redis.call('HLEN', index) <= redis.call('XLEN', s) then\n"
    "  return {'0', 0}\n"
    "end\n"
    "local first = redis.call('XRANGE', s, '-', '+', 'COUNT', 1)\n"
    "if #first == 0 then return {'0', 0} end\n"
    "local oms, oseq = string.match(first[1][1], '^(%d+)-(%d+)$')\n"
    "oms, oseq = tonumber(oms), tonumber(oseq)\n"
    "local r = redis.call('HSCAN', index, ARGV[1], 'COUNT', ARGV[2])\n"
    "local removed = 0\n"
    "for i = 1, #r[2], 2 do\n"
    "  local name, id = r[2][i], r[2][i + 1]\n"
    "  local ms, seq = string.match(id, '^(%d+)-(%d+)$')\n"
    "  ms, seq = tonumber(ms), tonumber(seq)\n"
    "  if ms and (ms < oms or (ms == oms and seq < oseq)) then\n"
    "    redis.call('HDEL', index, name)\n"
    "    redis.call('DEL', s..':refs:'..name, s..':acks:'..name)\n"
    "    redis.call('ZREM', s..':open', id)\n"
    "    redis.call('ZREM', s..':escalate', id)\n"
    "    redis.call('SREM', s..':escalated', id)\n"
    "    removed = removed + 1\n"
    "  end\n"
    "end\n"
    "return {r[1], removed}\n";

/* Index entries looked at per step: about a millisecond of Redis's time. */
#define PRUNE_STEP 1000

void
alerts_prune (alerts_t *self)
{
    broker_t *broker = self->broker;
    if (broker->config->alerts_stream_max <= 0 || self->pruning || !cache_ready (broker->cache))
        return;
    pending_t *pending = alerts_pending_new (self, PENDING_PRUNE, NULL, 0);
    if (!pending)
        return;
    char count[16];
    snprintf (count, sizeof count, "%d", PRUNE_STEP);
    const char *args[] = {self->prune_cursor, count};
    if (alerts_eval (self, pending->id, SCRIPT_PRUNE, 2, args, NULL) < 0) {
        alerts_pending_done (self, pending);
        return;
    }
    self->pruning = true;
}

void
alerts_on_prune (alerts_t *self, const redisReply *reply)
{
    self->pruning = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[0]->len >= sizeof self->prune_cursor
        || reply->element[1]->type != REDIS_REPLY_INTEGER) {
        /* Redis down or refusing: start the pass again later. */
        snprintf (self->prune_cursor, sizeof self->prune_cursor, "0");
        return;
    }
    memcpy (self->prune_cursor, reply->element[0]->str, reply->element[0]->len);
    self->prune_cursor[reply->element[0]->len] = '\0';
    long long removed = reply->element[1]->integer;
    if (removed > 0) {
        self->stats.pruned += (uint64_t) removed;
        onenet_debug ("alerts.pruned", "stream=%s removed=%lld", self->broker->config->alerts_stream,
                      removed);
    }
}
