/*
 * view.h - the one network view: "onenet.view.person" answered by the
 * broker by fanning out to every department's contribution service in
 * parallel and merging the answers, with a Redis cache in front.
 *
 *   lookup:  GET onenet:view:<id>            hit -> reply, adapters untouched
 *   fetch:   one request per department       + MGET of cached sections
 *   merge:   sections in config order, conflicts on canonical fields;
 *            a failed department with a cached section -> STALE with age
 *   store:   SET the view (when complete) and each fresh section
 *
 * A record.changed event deletes the person's cached view and that
 * department's section, and keeps any view already in progress from
 * caching what it fetched before the change.
 */
#ifndef BROKER_VIEW_H
#define BROKER_VIEW_H

#include <hiredis/hiredis.h>
#include "broker_internal.h"

typedef struct views_t views_t;

views_t *views_new (broker_t *broker);
/* Answers every view still in progress with what it has, then frees. */
void views_destroy (views_t **self_p);

/* Starts a view for a client's "onenet.view.person" request. */
void view_start (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
                 const char *requester, const char *user, zmq_msg_t *body);

/* A department's answer to one part of a view (request->parent != 0), or
 * the broker's failure of it. body may be NULL. */
void view_on_part (broker_t *broker, request_t *request, onenet_status_t status,
                   const char *message, zmq_msg_t *body, const char *served_by);

/* Cache replies (cache_reply_fn); owner is the broker. */
void view_on_cache (void *owner, uint64_t cookie, const redisReply *reply);

/* A department changed a person's record. */
void view_on_record_changed (broker_t *broker, const char *department, const char *resident_id);

/* Finishes views whose deadline passed; returns ms to the next deadline or -1. */
int views_tick (broker_t *broker);

/* Counters for onenet.services / metrics. */
typedef struct {
    uint64_t views;
    uint64_t cache_hits;
    uint64_t cache_misses;
    uint64_t cache_bypassed;   /* Redis down or disabled */
    uint64_t partial;
    uint64_t invalidations;
} view_stats_t;
const view_stats_t *views_stats (const views_t *self);

#endif
