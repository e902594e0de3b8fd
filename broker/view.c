/*
 * view.c - fan-out, merge and cache of the one network view (see view.h).
 *
 * A view lives in a table keyed by its id; every asynchronous answer (a
 * department's reply, a Redis reply) finds it again by that id, so an
 * answer arriving after the view was finished is simply dropped.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "hashmap.h"
#include "onenet/proto/view.pb-c.h"
#include "onenet/resident_id.h"
#include "merge.h"
#include "view.h"

#define RESIDENT_ID_SIZE 18
#define LOOKUP_MAX_MS 100
/* What a view unpacks and packs lives in its own arena: the departments'
 * contributions, the cached sections, the packed sections. Three
 * departments' answers fit; more spills to malloc, freed with the view. */
#define VIEW_ARENA_SIZE 16384
/* Finished views kept for the next ones: a view and its arena are one
 * block too large for malloc's fast paths (each allocation of it
 * consolidated the heap), so the views in flight are reused. At most
 * this many, about 1 MiB, are kept after a burst. */
#define VIEW_SPARE_MAX 64

/* A Redis reply names its view and which question it answers, so a late
 * answer to an earlier question is never taken for the current one. */
enum { ASK_VIEW = 0, ASK_SECTIONS = 1 };
#define COOKIE(view, ask) (((view)->id << 1) | (ask))

typedef enum { VIEW_LOOKUP, VIEW_FETCHING } view_state_t;

typedef struct {
    char *department;      /* copied: a config reload must not change a view in flight */
    char *view_service;
    bool done;
    onenet_status_t status;
    char message[160];
    char served_by[96];
    int64_t fetched_at_ms;
    Onenet__View__Contribution *contribution;   /* when status is OK */
    /* The cached section, kept packed: it is only read when the department
     * fails, and a healthy view never unpacks it. */
    const uint8_t *stale_bytes;
    size_t stale_size;
    Onenet__View__Section *stale;               /* unpacked from it, when needed */
} part_t;

static merge_part_t
as_merge_part (const part_t *part)
{
    return (merge_part_t) { part->status, part->message, part->served_by, part->fetched_at_ms,
                            part->contribution, part->stale };
}

typedef struct view_t view_t;
struct view_t {
    uint64_t id;
    zmq_msg_t client;
    uint64_t correlation;
    uint32_t batch_max;    /* replies the client takes in one BATCH */
    char resident_id[RESIDENT_ID_SIZE + 1];
    char requester[64];
    char user[64];         /* end user, when a trusted delegate named one */
    char purpose[128];     /* as the requester gave it: the policy may depend on it */
    int64_t started_ms;
    int64_t deadline;
    int64_t lookup_until;  /* a cache lookup slower than this is given up */
    view_state_t state;
    bool waiting_cache;    /* a Redis reply is outstanding */
    bool stale_asked;      /* the cached sections were asked for */
    int64_t stale_at;      /* ask for them then if a department is still silent */
    bool changed;          /* a record.changed arrived meanwhile: do not cache */
    size_t outstanding;    /* parts not answered yet */
    size_t n;              /* departments asked (the config's, when the view began) */
    part_t *parts;         /* one per department */
    view_t *prev, *next;
    onenet_arena_t arena;  /* parts and everything they point to */
    unsigned char arena_buffer[];
};

struct views_t {
    broker_t *broker;
    hashmap_t *by_id;
    view_t *active;
    view_t *spare;         /* finished views to reuse, linked by next */
    size_t spare_count;
    uint64_t next_id;
    view_stats_t stats;
};


views_t *
views_new (broker_t *broker)
{
    views_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->broker = broker;
    self->next_id = 1;
    self->by_id = hashmap_new ();
    if (!self->by_id) {
        free (self);
        return NULL;
    }
    return self;
}

const view_stats_t *
views_stats (const views_t *self)
{
    return &self->stats;
}

static void
view_free (views_t *self, view_t *view)
{
    hashmap_remove (self->by_id, &view->id, sizeof view->id);
    if (view->prev)
        view->prev->next = view->next;
    else
        self->active = view->next;
    if (view->next)
        view->next->prev = view->prev;
    onenet_arena_reset (&view->arena);
    zmq_msg_close (&view->client);
    if (self->spare_count < VIEW_SPARE_MAX) {
        view->next = self->spare;
        self->spare = view;
        self->spare_count++;
    }
    else
        free (view);
}

/* --- the view's arena --- */

static void *
arena_alloc (onenet_arena_t *arena, size_t size)
{
    return arena->allocator.alloc (arena->allocator.allocator_data, size);
}

static char *
arena_strdup (onenet_arena_t *arena, const char *text)
{
    size_t size = strlen (text) + 1;
    char *copy = arena_alloc (arena, size);
    if (copy)
        memcpy (copy, text, size);
    return copy;
}

/* A view with a part for each configured department, or NULL when out of
 * memory. Not in the table yet. */
static view_t *
view_new (views_t *self, const broker_config_t *config)
{
    view_t *view = self->spare;
    if (view) {
        self->spare = view->next;
        self->spare_count--;
    }
    else
        view = malloc (sizeof *view + VIEW_ARENA_SIZE);
    if (!view)
        return NULL;
    memset (view, 0, sizeof *view);   /* the arena's bytes are written before they are read */
    onenet_arena_init (&view->arena, view->arena_buffer, VIEW_ARENA_SIZE);
    size_t n = config->department_count;
    size_t parts_size = (n ? n : 1) * sizeof *view->parts;
    view->parts = arena_alloc (&view->arena, parts_size);
    bool copied = view->parts != NULL;
    if (copied)
        memset (view->parts, 0, parts_size);
    for (size_t i = 0; copied && i < n; i++) {
        view->parts[i].department = arena_strdup (&view->arena, config->departments[i].name);
        view->parts[i].view_service = arena_strdup (&view->arena,
                                                    config->departments[i].view_service);
        copied = view->parts[i].department && view->parts[i].view_service;
    }
    if (!copied) {
        onenet_arena_reset (&view->arena);
        free (view);   /* out of memory: no time to keep spares */
        return NULL;
    }
    view->n = n;
    return view;
}

static view_t *
find_view (views_t *self, uint64_t id)
{
    return hashmap_get (self->by_id, &id, sizeof id);
}

/* --- cache keys --- */

static int
view_key (char *out, size_t size, const char *resident_id)
{
    return snprintf (out, size, "onenet:view:%s", resident_id);
}

static int
section_key (char *out, size_t size, const char *department, const char *resident_id)
{
    return snprintf (out, size, "onenet:section:%s:%s", department, resident_id);
}

static void
cache_set (broker_t *broker, const char *key, const void *value, size_t size, int ttl_s)
{
    char ttl[16];
    snprintf (ttl, sizeof ttl, "%d", ttl_s);
    const char *argv[] = { "SET", key, value, "EX", ttl };
    size_t lengths[] = { 3, strlen (key), size, 2, strlen (ttl) };
    cache_command (broker->cache, 0, 5, argv, lengths);
}

/* --- a view's bytes from its sections packed once --- */

typedef struct {
    uint8_t *bytes;
    size_t size;
} packed_t;

#define SECTIONS_TAG 0x12   /* PersonView field 2, length-delimited */

/* The size of bare (a PersonView whose sections are left out) with the
 * packed sections after it. */
static size_t
view_encoded_size (const Onenet__View__PersonView *bare, const packed_t *sections, size_t n)
{
    size_t size = protobuf_c_message_get_packed_size (&bare->base);
    for (size_t i = 0; i < n; i++)
        size += 1 + onenet_varint_write (NULL, sections[i].size) + sections[i].size;
    return size;
}

/* Writes bare, then each packed section as field 2. Protobuf reads fields
 * in any order and keeps a repeated field's in order, so these are the
 * bytes of bare with those sections, without packing them again. */
static void
view_encode (uint8_t *out, const Onenet__View__PersonView *bare, const packed_t *sections, size_t n)
{
    out += protobuf_c_message_pack (&bare->base, out);
    for (size_t i = 0; i < n; i++) {
        *out++ = SECTIONS_TAG;
        out += onenet_varint_write (out, sections[i].size);
        memcpy (out, sections[i].bytes, sections[i].size);
        out += sections[i].size;
    }
}

static void
send_view (broker_t *broker, const view_t *view, const Onenet__View__PersonView *person)
{
    zmq_msg_t body;
    zmq_msg_init_size (&body, protobuf_c_message_get_packed_size (&person->base));
    protobuf_c_message_pack (&person->base, zmq_msg_data (&body));
    broker_answer_batched (broker, &view->client, view->correlation, view->batch_max, ONENET_OK,
                           NULL, &body);
    zmq_msg_close (&body);
}

/* Answers a view as the sharing policy lets this requester see it:
 * sections withheld, fields masked or removed, and the conflicts found
 * again among what is left (a masked value never shows as a conflict).
 * The view itself is not changed: the cache keeps it whole. */
static void
answer (views_t *self, const view_t *view, const Onenet__View__PersonView *person,
        const packed_t *packed)
{
    broker_t *broker = self->broker;
    uint64_t latency_us = (uint64_t) (onenet_clock_ms () - view->started_ms) * 1000;
    if (!broker->policy) {
        if (packed) {
            /* Nothing to filter: the sections as packed for the cache. */
            Onenet__View__PersonView bare = *person;
            bare.sections = NULL;
            bare.n_sections = 0;
            zmq_msg_t body;
            zmq_msg_init_size (&body, view_encoded_size (&bare, packed, person->n_sections));
            view_encode (zmq_msg_data (&body), &bare, packed, person->n_sections);
            broker_answer_batched (broker, &view->client, view->correlation, view->batch_max, ONENET_OK,
                                   NULL, &body);
            zmq_msg_close (&body);
        }
        else
            send_view (broker, view, person);
        broker_audit (broker, "view", view->requester, view->user, "onenet.view.person",
                      view->resident_id, view->purpose, ONENET_OK, latency_us, "broker");
        return;
    }
    onenet_policy_decision_t decision;
    if (!onenet_policy_decide (broker->policy, view->requester, "onenet.view.person", view->purpose,
                               &decision)) {
        /* Allowed when it came in; a reload since has withdrawn it. */
        broker_answer (broker, &view->client, view->correlation, NULL, ONENET_DENIED, decision.reason,
                       NULL);
        broker_audit (broker, "view", view->requester, view->user, "onenet.view.person",
                      view->resident_id, view->purpose, ONENET_DENIED, latency_us, "broker");
        return;
    }
    broker_audit (broker, "view", view->requester, view->user, "onenet.view.person",
                  view->resident_id, view->purpose, ONENET_OK, latency_us, "broker");
    size_t n = person->n_sections ? person->n_sections : 1;
    Onenet__View__Section copies[n];
    Onenet__View__Section *copy_ptrs[n];
    void *storage[n];
    Onenet__View__Conflict conflicts[MERGE_CANONICAL_COUNT];
    Onenet__View__Conflict *conflict_ptrs[MERGE_CANONICAL_COUNT];
    Onenet__View__ConflictValue values[MERGE_CANONICAL_COUNT * n];
    Onenet__View__ConflictValue *value_ptrs[MERGE_CANONICAL_COUNT * n];
    bool partial = false;
    for (size_t i = 0; i < person->n_sections; i++) {
        copies[i] = *person->sections[i];   /* shallow: filtering never writes through */
        storage[i] = NULL;
        onenet_policy_filter_section (&decision, &copies[i], &storage[i]);
        copy_ptrs[i] = &copies[i];
        Onenet__View__SectionStatus status = copies[i].status;
        partial = partial || (status != ONENET__VIEW__SECTION_STATUS__SECTION_OK
                              && status != ONENET__VIEW__SECTION_STATUS__SECTION_NOT_FOUND
                              && status != ONENET__VIEW__SECTION_STATUS__SECTION_DENIED);
    }
    Onenet__View__PersonView filtered = *person;
    filtered.sections = copy_ptrs;
    filtered.n_conflicts = merge_conflicts (copy_ptrs, person->n_sections, conflicts, conflict_ptrs,
                                            values, value_ptrs);
    filtered.conflicts = conflict_ptrs;
    filtered.partial = partial;
    send_view (broker, view, &filtered);
    for (size_t i = 0; i < person->n_sections; i++)
        free (storage[i]);
}

/* Merges, answers the client, caches what is fresh, frees the view. */
static void
finish (views_t *self, view_t *view)
{
    broker_t *broker = self->broker;
    size_t n = view->n;
    size_t fields = MERGE_CANONICAL_COUNT;
    int64_t now_ms = onenet_wall_ms ();
    Onenet__View__Section sections[n ? n : 1];
    Onenet__View__Section *section_ptrs[n ? n : 1];
    Onenet__View__Conflict conflicts[fields];
    Onenet__View__Conflict *conflict_ptrs[fields];
    Onenet__View__ConflictValue values[fields * (n ? n : 1)];
    Onenet__View__ConflictValue *value_ptrs[fields * (n ? n : 1)];
    bool partial = false;
    for (size_t i = 0; i < n; i++) {
        part_t *part = &view->parts[i];
        if (!part->done) {
            part->status = ONENET_TIMEOUT;
            snprintf (part->message, sizeof part->message, "no answer within the view's deadline");
        }
        if (part->status != ONENET_OK && part->stale_bytes && !part->stale)
            part->stale = (Onenet__View__Section *) protobuf_c_message_unpack (
                &onenet__view__section__descriptor, &view->arena.allocator, part->stale_size,
                part->stale_bytes);
        merge_part_t merged = as_merge_part (part);
        merge_section (&sections[i], part->department, &merged, now_ms);
        section_ptrs[i] = &sections[i];
        partial = partial || (sections[i].status != ONENET__VIEW__SECTION_STATUS__SECTION_OK
                              && sections[i].status != ONENET__VIEW__SECTION_STATUS__SECTION_NOT_FOUND);
    }
    Onenet__View__PersonView person = ONENET__VIEW__PERSON_VIEW__INIT;
    person.resident_id = view->resident_id;
    person.sections = section_ptrs;
    person.n_sections = n;
    person.n_conflicts = merge_conflicts (section_ptrs, n, conflicts, conflict_ptrs, values, value_ptrs);
    person.conflicts = conflict_ptrs;
    person.partial = partial;
    person.generated_at_ms = now_ms;

    /* Each section is packed once: the stale cache keeps it alone, and the
     * view's bytes, answered and cached, are made of it (view_encode). */
    packed_t packed[n ? n : 1];
    bool all_packed = true;
    for (size_t i = 0; i < n; i++) {
        packed[i].size = protobuf_c_message_get_packed_size (&sections[i].base);
        packed[i].bytes = arena_alloc (&view->arena, packed[i].size ? packed[i].size : 1);
        if (packed[i].bytes)
            protobuf_c_message_pack (&sections[i].base, packed[i].bytes);
        else
            all_packed = false;
    }
    answer (self, view, &person, all_packed ? packed : NULL);
    self->stats.partial += partial;

    if (all_packed && cache_ready (broker->cache) && !view->changed) {
        char key[128];
        for (size_t i = 0; i < n && broker->config->view_stale_ttl_s; i++) {
            if (view->parts[i].status != ONENET_OK)
                continue;
            section_key (key, sizeof key, view->parts[i].department, view->resident_id);
            cache_set (broker, key, packed[i].bytes, packed[i].size,
                       broker->config->view_stale_ttl_s);
        }
        if (!partial && broker->config->view_cache_ttl_s) {
            Onenet__View__PersonView bare = person;
            bare.sections = NULL;
            bare.n_sections = 0;
            bare.from_cache = true;   /* as whoever reads it back will see it */
            size_t size = view_encoded_size (&bare, packed, n);
            uint8_t *bytes = arena_alloc (&view->arena, size);
            if (bytes) {
                view_encode (bytes, &bare, packed, n);
                view_key (key, sizeof key, view->resident_id);
                cache_set (broker, key, bytes, size, broker->config->view_cache_ttl_s);
            }
        }
    }
    view_free (self, view);
}

/* True when a department failed in a way its cached section stands in
 * for (stale-if-error; never for a denial). */
static bool
needs_stale (const view_t *view)
{
    for (size_t i = 0; i < view->n; i++)
        if (view->parts[i].status != ONENET_OK && view->parts[i].status != ONENET_DENIED)
            return true;
    return false;
}

/* Answers once every department has; waits for the cached sections only
 * when one of them is needed, so a healthy view never waits on Redis (a
 * late reply finds no view and is dropped). */
static void
maybe_finish (views_t *self, view_t *view)
{
    if (view->state == VIEW_FETCHING && view->outstanding == 0
        && (!view->waiting_cache || !needs_stale (view)))
        finish (self, view);
}

/* --- fan-out --- */

static void
fail_part (views_t *self, view_t *view, size_t index, onenet_status_t status, const char *message)
{
    part_t *part = &view->parts[index];
    if (part->done)
        return;
    part->done = true;
    part->status = status;
    part->fetched_at_ms = onenet_wall_ms ();
    snprintf (part->message, sizeof part->message, "%s", message);
    view->outstanding--;
    (void) self;
}

/* Asks Redis for the departments' cached sections, once per view. Only
 * when one is needed: a department failed, or is still silent at
 * stale_at. A healthy view never asks, so the fan-out does not wake
 * Redis (and the broker again for its reply) while the departments work. */
static void
ask_stale (views_t *self, view_t *view)
{
    broker_t *broker = self->broker;
    size_t n = view->n;
    if (view->stale_asked)
        return;
    view->stale_asked = true;   /* Redis down now: not asked again, the view goes on without */
    if (!n || !broker->config->view_stale_ttl_s || !cache_ready (broker->cache))
        return;
    const char *argv[n + 1];
    size_t lengths[n + 1];
    char keys[n][128];
    argv[0] = "MGET";
    lengths[0] = 4;
    for (size_t i = 0; i < n; i++) {
        lengths[i + 1] = (size_t) section_key (keys[i], sizeof keys[i], view->parts[i].department,
                                               view->resident_id);
        argv[i + 1] = keys[i];
    }
    view->waiting_cache
        = cache_command (broker->cache, COOKIE (view, ASK_SECTIONS), (int) n + 1, argv, lengths) == 0;
}

static void
fetch (views_t *self, view_t *view)
{
    broker_t *broker = self->broker;
    size_t n = view->n;
    view->state = VIEW_FETCHING;
    view->outstanding = n;
    Onenet__View__ContributionRequest request = ONENET__VIEW__CONTRIBUTION_REQUEST__INIT;
    request.resident_id = view->resident_id;
    uint8_t packed[64];
    size_t size = protobuf_c_message_pack (&request.base, packed);

    for (size_t i = 0; i < n; i++) {
        const char *name = view->parts[i].view_service;
        service_t *service = registry_service (broker->registry, name);
        if (!service || service->instance_count == 0) {
            /* Do not wait for a department that is down: the view is
             * answered now, partial, rather than at its deadline. */
            fail_part (self, view, i, ONENET_UNAVAILABLE, "no live adapter for the department");
            continue;
        }
        zmq_msg_t body;
        zmq_msg_init_size (&body, size);
        memcpy (zmq_msg_data (&body), packed, size);
        if (!broker_submit (broker, service, view->deadline, view->requester, view->id, (uint32_t) i,
                            &body))
            fail_part (self, view, i, ONENET_RESOURCE_EXHAUSTED, "broker has too many pending requests");
        zmq_msg_close (&body);
    }
    if (needs_stale (view))
        ask_stale (self, view);
    maybe_finish (self, view);
}

void
view_start (broker_t *broker, const zmq_msg_t *peer, const Onenet__RequestHeader *header,
            const char *requester, const char *user, zmq_msg_t *body)
{
    views_t *self = broker->views;
    Onenet__View__PersonViewRequest *request = body ? (Onenet__View__PersonViewRequest *) onenet_wire_unpack (
                                                   &onenet__view__person_view_request__descriptor, body,
                                                   &broker->arena)
                                                    : NULL;
    char why[128] = "body is not an onenet.view.PersonViewRequest";
    if (!request || !onenet_resident_id_valid (request->resident_id, why, sizeof why)) {
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_BAD_REQUEST, why, NULL);
        return;
    }
    view_t *view = view_new (self, broker->config);
    if (!view) {
        broker_answer (broker, peer, header->correlation_id, NULL, ONENET_INTERNAL, "broker out of memory",
                       NULL);
        return;
    }
    view->id = self->next_id++;
    zmq_msg_init (&view->client);
    zmq_msg_copy (&view->client, (zmq_msg_t *) peer);
    view->correlation = header->correlation_id;
    view->batch_max = broker_reply_batch_max (broker, header);
    snprintf (view->resident_id, sizeof view->resident_id, "%s", request->resident_id);
    snprintf (view->requester, sizeof view->requester, "%s", requester);
    snprintf (view->user, sizeof view->user, "%s", user ? user : "");
    snprintf (view->purpose, sizeof view->purpose, "%s", header->purpose ? header->purpose : "");
    view->started_ms = onenet_clock_ms ();
    uint32_t timeout = header->timeout_ms ? header->timeout_ms : (uint32_t) broker->config->default_timeout_ms;
    if (timeout > (uint32_t) broker->config->view_timeout_ms)
        timeout = (uint32_t) broker->config->view_timeout_ms;
    /* Leave the merge a tenth of the budget so the answer beats the
     * client's own deadline. */
    view->deadline = broker->now + timeout - timeout / 10;
    /* A department still silent this close to the deadline will likely
     * time out: its cached section must be at hand by then. */
    view->stale_at = view->deadline - (timeout / 4 < LOOKUP_MAX_MS ? timeout / 4 : LOOKUP_MAX_MS);
    hashmap_put (self->by_id, &view->id, sizeof view->id, view);
    view->next = self->active;
    if (self->active)
        self->active->prev = view;
    self->active = view;
    self->stats.views++;

    if (!request->bypass_cache && broker->config->view_cache_ttl_s && cache_ready (broker->cache)) {
        char key[128];
        size_t length = (size_t) view_key (key, sizeof key, view->resident_id);
        const char *argv[] = { "GET", key };
        size_t lengths[] = { 3, length };
        view->state = VIEW_LOOKUP;
        view->lookup_until = broker->now + (timeout / 4 < LOOKUP_MAX_MS ? timeout / 4 : LOOKUP_MAX_MS);
        if (cache_command (broker->cache, COOKIE (view, ASK_VIEW), 2, argv, lengths) == 0) {
            view->waiting_cache = true;
            return;
        }
    }
    if (!request->bypass_cache)
        self->stats.cache_bypassed++;
    fetch (self, view);
}

void
view_on_part (broker_t *broker, request_t *request, onenet_status_t status, const char *message,
              zmq_msg_t *body, const char *served_by)
{
    views_t *self = broker->views;
    view_t *view = find_view (self, request->parent);
    if (!view || request->part >= view->n || view->parts[request->part].done)
        return;
    part_t *part = &view->parts[request->part];
    if (status == ONENET_OK) {
        /* An absent body is an empty one: a Contribution of defaults. */
        part->contribution = (Onenet__View__Contribution *) protobuf_c_message_unpack (
            &onenet__view__contribution__descriptor, &view->arena.allocator,
            body ? zmq_msg_size (body) : 0, body ? zmq_msg_data (body) : (const uint8_t *) "");
        if (!part->contribution) {
            status = ONENET_INTERNAL;
            message = "the department's answer is not an onenet.view.Contribution";
        }
    }
    part->done = true;
    part->status = status;
    part->fetched_at_ms = onenet_wall_ms ();
    snprintf (part->message, sizeof part->message, "%s", message ? message : "");
    snprintf (part->served_by, sizeof part->served_by, "%s", served_by ? served_by : "");
    view->outstanding--;
    if (status != ONENET_OK && status != ONENET_DENIED)
        ask_stale (self, view);
    maybe_finish (self, view);
}

static void
on_lookup (views_t *self, view_t *view, const redisReply *reply)
{
    if (reply && reply->type == REDIS_REPLY_STRING) {
        self->stats.cache_hits++;
        if (!self->broker->policy) {
            /* Nothing to filter: the cached bytes are the answer. */
            zmq_msg_t body;
            zmq_msg_init_size (&body, reply->len);
            memcpy (zmq_msg_data (&body), reply->str, reply->len);
            broker_answer_batched (self->broker, &view->client, view->correlation, view->batch_max,
                                   ONENET_OK, NULL, &body);
            zmq_msg_close (&body);
            view_free (self, view);
            return;
        }
        Onenet__View__PersonView *cached = onenet__view__person_view__unpack (
            NULL, reply->len, (const uint8_t *) reply->str);
        if (cached) {
            answer (self, view, cached, NULL);
            onenet__view__person_view__free_unpacked (cached, NULL);
            view_free (self, view);
            return;
        }
    }
    if (reply && reply->type == REDIS_REPLY_NIL)
        self->stats.cache_misses++;
    else
        self->stats.cache_bypassed++;
    fetch (self, view);
}

static void
on_stale_sections (views_t *self, view_t *view, const redisReply *reply)
{
    size_t n = view->n;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == n)
        for (size_t i = 0; i < n; i++) {
            const redisReply *item = reply->element[i];
            uint8_t *copy = item->type == REDIS_REPLY_STRING && item->len
                                ? arena_alloc (&view->arena, item->len)
                                : NULL;
            if (copy) {
                memcpy (copy, item->str, item->len);
                view->parts[i].stale_bytes = copy;
                view->parts[i].stale_size = item->len;
            }
        }
    maybe_finish (self, view);
}

void
view_on_cache (void *owner, uint64_t cookie, const redisReply *reply)
{
    broker_t *broker = owner;
    views_t *self = broker->views;
    view_t *view = self ? find_view (self, cookie >> 1) : NULL;
    int ask = (int) (cookie & 1);
    bool expected = view && view->waiting_cache
                    && (view->state == VIEW_LOOKUP ? ask == ASK_VIEW : ask == ASK_SECTIONS);
    if (!expected)
        return;
    view->waiting_cache = false;
    if (ask == ASK_VIEW)
        on_lookup (self, view, reply);
    else
        on_stale_sections (self, view, reply);
}

void
view_on_record_changed (broker_t *broker, const char *department, const char *resident_id)
{
    views_t *self = broker->views;
    self->stats.invalidations++;
    for (view_t *view = self->active; view; view = view->next)
        if (strcmp (view->resident_id, resident_id) == 0)
            view->changed = true;
    char keys[2][160];
    int length0 = view_key (keys[0], sizeof keys[0], resident_id);
    int length1 = section_key (keys[1], sizeof keys[1], department, resident_id);
    const char *argv[] = { "DEL", keys[0], keys[1] };
    size_t lengths[] = { 3, (size_t) length0, (size_t) length1 };
    cache_command (broker->cache, 0, 3, argv, lengths);
}

int
views_tick (broker_t *broker)
{
    views_t *self = broker->views;
    int64_t next = -1;
    view_t *view = self->active;
    while (view) {
        view_t *following = view->next;
        if (view->state == VIEW_LOOKUP && view->lookup_until <= broker->now) {
            /* Redis is slow: go to the departments instead. */
            view->waiting_cache = false;
            self->stats.cache_bypassed++;
            fetch (self, view);   /* may finish and free the view */
        }
        else if (view->state == VIEW_FETCHING && view->deadline <= broker->now) {
            /* A department (or Redis) is too slow: answer with what we have. */
            view->waiting_cache = false;
            finish (self, view);
        }
        else {
            if (view->state == VIEW_FETCHING && !view->stale_asked && view->stale_at <= broker->now)
                ask_stale (self, view);
            /* stale_at comes before the deadline: it is due first until asked */
            int64_t due = view->state == VIEW_LOOKUP ? view->lookup_until
                          : view->stale_asked        ? view->deadline
                                                     : view->stale_at;
            if (next < 0 || due < next)
                next = due;
        }
        view = following;
    }
    return next < 0 ? -1 : (int) (next - broker->now);
}

void
views_destroy (views_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    views_t *self = *self_p;
    while (self->active)
        finish (self, self->active);
    while (self->spare) {
        view_t *view = self->spare;
        self->spare = view->next;
        free (view);
    }
    hashmap_destroy (&self->by_id);
    free (self);
    *self_p = NULL;
}
