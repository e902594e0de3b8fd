/*
 * audit_query.c - onenet.audit.query: who looked at a person, or what a
 * department asked, read back from the audit stream through its person
 * and department indexes (one Lua script, one round trip), filtered and
 * paged with a cursor. The audit file on the broker's host holds the same
 * entries; `onenet audit verify` checks either.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "audit_internal.h"
#include "cache.h"

#define QUERY_DEFAULT 100
#define QUERY_MAX 1000
#define FILTER_MAX 64 /* longest person or department accepted in a query */

/* KEYS[1] stream; ARGV person, department, since ms ("0": all), after
 * (stream id, "" from the start), limit. Reads through the person index,
 * else the department index, else the stream itself. Returns {entries,
 * last id read, count read}; the caller applies the other filters. */
static const char s_query_script[] =
    "local s = KEYS[1]\n"
    "local person, department, since, after, limit = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]\n"
    "local index\n"
    "if person ~= '' then index = s..':person:'..person\n"
    "elseif department ~= '' then index = s..':department:'..department end\n"
    "if not index then\n"
    "  local start = '-'\n"
    "  if after ~= '' then start = '('..after elseif since ~= '0' then start = since end\n"
    "  local e = redis.call('XRANGE', s, start, '+', 'COUNT', limit)\n"
    "  local last = ''\n"
    "  if e[#e] then last = e[#e][1] end\n"
    "  return {e, last, #e}\n"
    "end\n"
    "local min = '-inf'\n"
    "if after ~= '' then min = '('..string.match(after, '%-(%d+)$')\n"
    "elseif since ~= '0' then\n"
    "  local first = redis.call('XRANGE', s, since, '+', 'COUNT', 1)\n"
    "  if not first[1] then return {{}, '', 0} end\n"
    "  min = string.match(first[1][1], '%-(%d+)$')\n"
    "end\n"
    "local ids = redis.call('ZRANGEBYSCORE', index, min, '+inf', 'LIMIT', 0, limit)\n"
    "local out = {}\n"
    "for _, id in ipairs(ids) do\n"
    "  local e = redis.call('XRANGE', s, id, id)\n"
    "  if e[1] then table.insert(out, e[1]) end\n"
    "end\n"
    "local last = ''\n"
    "if ids[#ids] then last = ids[#ids] end\n"
    "return {out, last, #ids}\n";

void
audit_query_free (query_t *query)
{
    zmq_msg_close (&query->peer);
    if (query->request)
        onenet__audit__query_request__free_unpacked (query->request, NULL);
    free (query);
}

/* "" or a stream id "<ms>-<seq>". */
static bool
valid_cursor (const char *cursor)
{
    if (!*cursor)
        return true;
    size_t digits = strspn (cursor, "0123456789");
    return digits > 0 && digits <= 20 && cursor[digits] == '-' &&
           strspn (cursor + digits + 1, "0123456789") == strlen (cursor + digits + 1) &&
           cursor[digits + 1] && strlen (cursor + digits + 1) <= 20;
}

void
audit_query (audit_t *self, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
             zmq_msg_t *body)
{
    broker_t *broker = self->broker;
    size_t size = body ? zmq_msg_size (body) : 0;
    Onenet__Audit__QueryRequest *request =
        onenet__audit__query_request__unpack (NULL, size, size ? zmq_msg_data (body) : NULL);
    const char *problem = NULL;
    onenet_status_t status = ONENET_BAD_REQUEST;
    if (!request)
        problem = "body is not an onenet.audit.QueryRequest";
    else if (strlen (request->person) > FILTER_MAX || strlen (request->department) > FILTER_MAX)
        problem = "person and department are at most 64 bytes";
    else if (!valid_cursor (request->after))
        problem = "after must be a cursor from an earlier QueryReply";
    else if (!self->enabled) {
        status = ONENET_UNAVAILABLE;
        problem = "audit is disabled on this broker (audit.enabled = false)";
    } else if (!cache_ready (broker->cache)) {
        status = ONENET_UNAVAILABLE;
        problem = "the audit stream is unavailable (Redis down); the audit file on the broker's "
                  "host holds every entry";
    }
    query_t *query = problem ? NULL : calloc (1, sizeof *query);
    if (!problem && !query) {
        status = ONENET_INTERNAL;
        problem = "broker out of memory";
    }
    if (problem) {
        if (request)
            onenet__audit__query_request__free_unpacked (request, NULL);
        broker_answer (broker, peer, header->correlation_id, NULL, status, problem, NULL);
        return;
    }
    query->id = self->next_query++;
    zmq_msg_init (&query->peer);
    zmq_msg_copy (&query->peer, (zmq_msg_t *)peer);
    query->correlation = header->correlation_id;
    query->request = request;
    query->limit = request->limit == 0          ? QUERY_DEFAULT
                   : request->limit > QUERY_MAX ? QUERY_MAX
                                                : request->limit;
    self->stats.queries++;
    onenet_debug ("audit.query", "person=%s department=%s since_ms=%" PRId64 " limit=%u",
                  *request->person ? request->person : "-",
                  *request->department ? request->department : "-", request->since_ms,
                  query->limit);
    char since[24], limit[16];
    snprintf (since, sizeof since, "%" PRId64, request->since_ms > 0 ? request->since_ms : 0);
    snprintf (limit, sizeof limit, "%u", query->limit);
    const char *argv[] = {"EVAL",       s_query_script,  "1",
                          self->stream, request->person, request->department,
                          since,        request->after,  limit};
    size_t lengths[9];
    for (int i = 0; i < 9; i++)
        lengths[i] = strlen (argv[i]);
    uint64_t cookie = AUDIT_COOKIE_BIT | (uint64_t)OP_QUERY << 56 | (query->id & VALUE_MASK);
    if (cache_command (broker->cache, cookie, 9, argv, lengths) < 0) {
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_UNAVAILABLE,
                       "the audit stream is unavailable (Redis down)", NULL);
        audit_query_free (query);
        return;
    }
    query->next = self->queries;
    self->queries = query;
}

static bool
matches (const Onenet__Audit__Entry *entry, const Onenet__Audit__QueryRequest *request)
{
    return (!*request->person || strcmp (entry->subject, request->person) == 0) &&
           (!*request->department || strcmp (entry->requester, request->department) == 0) &&
           entry->time_ms >= request->since_ms;
}

void
audit_on_query (audit_t *self, uint64_t id, const redisReply *reply)
{
    query_t **link = &self->queries;
    while (*link && (*link)->id != id)
        link = &(*link)->next;
    query_t *query = *link;
    if (!query)
        return;
    *link = query->next;
    broker_t *broker = self->broker;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY ||
        reply->element[1]->type != REDIS_REPLY_STRING ||
        reply->element[2]->type != REDIS_REPLY_INTEGER) {
        char quoted[240];
        if (reply && reply->type == REDIS_REPLY_ERROR)
            audit_complain (self, ONENET_LOG_WARN, "audit.query_failed", "stream=%s reason=%s",
                            self->stream, onenet_log_quote (reply->str, quoted, sizeof quoted));
        broker_answer (broker, &query->peer, query->correlation, NULL, ONENET_UNAVAILABLE,
                       "the audit stream could not be read", NULL);
        audit_query_free (query);
        return;
    }
    const redisReply *items = reply->element[0];
    Onenet__Audit__Entry **entries = calloc (items->elements + 1, sizeof *entries);
    size_t count = 0;
    for (size_t i = 0; entries && i < items->elements; i++) {
        Onenet__Audit__Entry *entry = audit_stream_entry (items->element[i]);
        if (entry && matches (entry, query->request))
            entries[count++] = entry;
        else if (entry)
            onenet__audit__entry__free_unpacked (entry, NULL);
    }
    Onenet__Audit__QueryReply out = ONENET__AUDIT__QUERY_REPLY__INIT;
    out.entries = entries;
    out.n_entries = count;
    out.cursor = reply->element[1]->len ? reply->element[1]->str : query->request->after;
    out.more = reply->element[2]->integer >= (long long)query->limit;
    if (entries) {
        zmq_msg_t body;
        zmq_msg_init_size (&body, protobuf_c_message_get_packed_size (&out.base));
        protobuf_c_message_pack (&out.base, zmq_msg_data (&body));
        broker_answer (broker, &query->peer, query->correlation, NULL, ONENET_OK, NULL, &body);
        zmq_msg_close (&body);
    } else
        broker_answer (broker, &query->peer, query->correlation, NULL, ONENET_INTERNAL,
                       "broker out of memory", NULL);
    for (size_t i = 0; i < count; i++)
        onenet__audit__entry__free_unpacked (entries[i], NULL);
    free (entries);
    audit_query_free (query);
}
