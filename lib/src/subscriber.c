/*
 * subscriber.c - the alert subscriber (onenet/subscriber.h): a SUB socket
 * on the broker's alert stream, a client for onenet.alert.since, and the
 * bookkeeping that makes delivery exactly-once across both.
 *
 * Two cursors, because an alert can be received long before the caller
 * takes it:
 *   received  every matching alert up to here is in the queue or was
 *             returned; `above` holds the IDs received beyond it (live
 *             alerts ahead of the last catch-up). Incoming alerts at or
 *             below it, or in `above`, are duplicates.
 *   cursor    (state.cursor) every matching alert up to here was returned;
 *             state.delivered holds the IDs returned beyond it. This is
 *             what the state file keeps.
 * A catch-up batch moves `received` at once and queues a mark after its
 * alerts; `cursor` moves when the caller has taken everything before the
 * mark. The queue is first in, first out, so the state file never claims
 * an alert the caller has not had.
 *
 * Phases: WAIT_LIVE until the live subscription is known to work (the
 * first message on the SUB socket: the broker ticks every second) or a
 * short wait passed, so that nothing published after the replay's last
 * read can be missed live; REPLAY while onenet.alert.since catches up
 * from the cursor (live alerts are held back); LIVE afterwards.
 *
 * A tick (every second) tells the newest stream ID. Live, `received`
 * moves to it when the broker's marks show every live alert of the round
 * arrived (subscriber_marks.c); otherwise the subscriber catches up from
 * `received`.
 *
 * The pieces it is built from, each testable alone (subscriber_internal.h):
 * subscriber_state.c (stream IDs, ID sets, spooled alerts, the state file),
 * subscriber_filter.c (filters, topics, the filter's key) and
 * subscriber_marks.c (the gap check).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include "onenet/onenet.h"
#include "onenet/subscriber.h"
#include "sdk_internal.h"
#include "subscriber_internal.h"

#define SERVICE_SINCE "onenet.alert.since"
#define SINCE_LIMIT 1000      /* alerts per catch-up request (the broker's cap) */
#define SINCE_TIMEOUT_MS 3000 /* one catch-up request */
#define RETRY_MS 1000         /* after a failed catch-up */
#define LIVE_WAIT_MS 2000     /* most we wait for the live subscription */
#define QUEUE_LOW 1000        /* ask for more history only below this many queued */
#define QUEUE_HIGH 10000      /* stop reading live beyond this; catch-up recovers */
#define SAVE_INTERVAL_MS 1000 /* state file at least this often while busy */
#define SAVE_MIN_MS 100       /* and at most this often */
#define PUMP_EVERY 64         /* alerts handed out from the queue between reads of the sockets */

/* ======================================================================
 * The subscriber
 * ====================================================================== */

//  One queued item: an alert to hand out, or (envelope NULL) a mark: the
//  cursor moves to `mark` once everything before it was handed out.
typedef struct entry_t {
    Onenet__Alert__AlertEnvelope *envelope;
    stream_id_t mark;
    struct entry_t *next;
} entry_t;

typedef struct {
    entry_t *head;
    entry_t *tail;
    size_t count;
} fifo_t;

typedef enum { PHASE_WAIT_LIVE, PHASE_REPLAY, PHASE_LIVE } phase_t;

//  A copied list of the filter: the strings and the array of them.
typedef struct {
    char **items;
    size_t count;
} list_t;

struct onenet_subscriber_t {
    void *context;
    void *sub;
    onenet_client_t *client;
    list_t severities, areas, categories;
    onenet_alert_filter_t filter;              // over the copies
    Onenet__Alert__AlertFilter request_filter; // the same, for onenet.alert.since
    char *state_path;                          // NULL: no state file
    char *act_department, *act_user;           // a delegate's catch-ups are made for them
    char *filter_key;
    subscriber_state_t state; // cursor, delivered above it, spooled (taken and not yet)
    stream_id_t received;     // every matching alert up to here was queued or returned
    id_set_t above;           // IDs queued or returned beyond `received`
    id_set_t escalated;       // IDs handed out again as escalations (once each)
    stream_id_t latest;       // newest stream ID a tick announced
    subscriber_marks_t marks; // the gap check: were all live alerts received?
    onenet_subscriber_stats_t stats;
    fifo_t queue;             // to hand out, with marks
    fifo_t held;              // live alerts held back during the replay
    phase_t phase;
    int64_t started_ms;  // when WAIT_LIVE began
    bool live_seen;      // a message came on the SUB socket
    uint64_t since_id;   // onenet.alert.since in flight, 0 when none
    bool catch_up;       // ask onenet.alert.since as soon as allowed
    int64_t retry_at_ms; // not before this (after a failure)
    uint32_t start_last; // the first request asks for the newest N
    bool failing;        // catch-up failed last time (logged once)
    bool refused;        // the policy refused the catch-up: next() fails for good
    bool dirty;          // state changed since it was saved
    unsigned taken_since_pump; // alerts handed out since the sockets were last read
    int64_t saved_ms;
    char cursor_text[STREAM_ID_TEXT];
    char error[256];
};

/* --- queue ------------------------------------------------------------ */

static int
s_fifo_push (fifo_t *fifo, Onenet__Alert__AlertEnvelope *envelope, stream_id_t mark)
{
    entry_t *entry = calloc (1, sizeof *entry);
    if (!entry)
        return -1;
    entry->envelope = envelope;
    entry->mark = mark;
    if (fifo->tail)
        fifo->tail->next = entry;
    else
        fifo->head = entry;
    fifo->tail = entry;
    fifo->count++;
    return 0;
}

//  Takes the first entry (the caller frees it), or NULL.
static entry_t *
s_fifo_pop (fifo_t *fifo)
{
    entry_t *entry = fifo->head;
    if (!entry)
        return NULL;
    fifo->head = entry->next;
    if (!fifo->head)
        fifo->tail = NULL;
    fifo->count--;
    return entry;
}

static void
s_fifo_free (fifo_t *fifo)
{
    entry_t *entry;
    while ((entry = s_fifo_pop (fifo))) {
        if (entry->envelope)
            onenet__alert__alert_envelope__free_unpacked (entry->envelope, NULL);
        free (entry);
    }
}

/* --- setup ------------------------------------------------------------ */

const char *
onenet_alerts_default_endpoint (void)
{
    const char *env = getenv ("ONENET_ALERTS");
    return env && *env ? env : "tcp://127.0.0.1:5571";
}

static int
s_list_copy (list_t *list, const char *const *items, size_t count)
{
    list->items = calloc (count + 1, sizeof *list->items);
    if (!list->items)
        return -1;
    for (list->count = 0; list->count < count; list->count++)
        if (!(list->items[list->count] = strdup (items[list->count])))
            return -1;
    return 0;
}

static void
s_list_free (list_t *list)
{
    for (size_t i = 0; list->items && i < list->count; i++)
        free (list->items[i]);
    free (list->items);
    memset (list, 0, sizeof *list);
}

static int
s_copy_filter (onenet_subscriber_t *self, const onenet_alert_filter_t *filter)
{
    static const onenet_alert_filter_t everything = {NULL, 0, NULL, 0, NULL, 0};
    if (!filter)
        filter = &everything;
    if (s_list_copy (&self->severities, filter->severities, filter->n_severities) ||
        s_list_copy (&self->areas, filter->areas, filter->n_areas) ||
        s_list_copy (&self->categories, filter->categories, filter->n_categories))
        return -1;
    self->filter = (onenet_alert_filter_t){
        (const char *const *)self->severities.items, self->severities.count,
        (const char *const *)self->areas.items,      self->areas.count,
        (const char *const *)self->categories.items, self->categories.count};
    Onenet__Alert__AlertFilter init = ONENET__ALERT__ALERT_FILTER__INIT;
    self->request_filter = init;
    self->request_filter.severities = self->severities.items;
    self->request_filter.n_severities = self->severities.count;
    self->request_filter.area_prefixes = self->areas.items;
    self->request_filter.n_area_prefixes = self->areas.count;
    self->request_filter.categories = self->categories.items;
    self->request_filter.n_categories = self->categories.count;
    self->filter_key = subscriber_filter_key (&self->filter);
    return self->filter_key ? 0 : -1;
}

//  Creates the SUB socket, connected (a CURVE client when the environment
//  names keys, like the subscriber's calls) and subscribed to the filter's
//  topics.
static int
s_connect_live (onenet_subscriber_t *self, const char *endpoint, char *err, size_t err_size)
{
    self->context = zmq_ctx_new ();
    self->sub = self->context ? sdk_connect (self->context, ZMQ_SUB, endpoint, err, err_size) : NULL;
    if (!self->sub) {
        if (!self->context)
            sdk_set_error (err, err_size, "cannot create a ZeroMQ context: %s", zmq_strerror (errno));
        return -1;
    }
    char **topics = NULL;
    int count = subscriber_topics (&self->filter, &topics);
    if (count < 0) {
        sdk_set_error (err, err_size, "out of memory");
        return -1;
    }
    for (int i = 0; i < count; i++)
        zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, topics[i], strlen (topics[i]));
    int rc = subscriber_marks_init (&self->marks, topics, count);
    subscriber_topics_free (topics, count);
    if (rc < 0) {
        sdk_set_error (err, err_size, "out of memory");
        return -1;
    }
    return 0;
}

//  Reads the state file into the subscriber. Returns 0 or -1.
static int
s_load_state (onenet_subscriber_t *self, char *err, size_t err_size)
{
    if (!self->state_path)
        return 0;
    int rc =
        subscriber_state_load (self->state_path, self->filter_key, &self->state, err, err_size);
    if (rc < 0)
        return -1;
    if (rc == 0 && access (self->state_path, F_OK) == 0)
        onenet_warn ("subscriber.state_reset",
                     "reason=\"state file is for another filter: starting from the beginning\"");
    self->received = self->state.cursor;
    for (size_t i = 0; i < self->state.delivered.count; i++)
        if (subscriber_set_add (&self->above, self->state.delivered.ids[i])) {
            sdk_set_error (err, err_size, "out of memory");
            return -1;
        }
    return 0;
}

onenet_subscriber_t *
onenet_subscriber_new (const char *broker_endpoint, const char *alerts_endpoint,
                       const onenet_alert_filter_t *filter, const char *state_file, char *err,
                       size_t err_size)
{
    if (onenet_alert_filter_check (filter, err, err_size))
        return NULL;
    onenet_subscriber_t *self = calloc (1, sizeof *self);
    if (!self || s_copy_filter (self, filter) ||
        (state_file && !(self->state_path = strdup (state_file)))) {
        sdk_set_error (err, err_size, "out of memory");
        onenet_subscriber_destroy (&self);
        return NULL;
    }
    self->phase = PHASE_WAIT_LIVE;
    self->started_ms = onenet_clock_ms ();
    if (s_load_state (self, err, err_size) ||
        !(self->client = onenet_client_new (broker_endpoint, err, err_size)) ||
        s_connect_live (self, alerts_endpoint ? alerts_endpoint : onenet_alerts_default_endpoint (),
                        err, err_size)) {
        onenet_subscriber_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_save (onenet_subscriber_t *self)
{
    self->dirty = false;
    self->saved_ms = onenet_clock_ms ();
    if (!self->state_path)
        return;
    char why[sizeof self->error];
    if (subscriber_state_save (self->state_path, self->filter_key, &self->state, why, sizeof why)) {
        if (strcmp (why, self->error) != 0)
            onenet_warn ("subscriber.state_not_saved", "reason=\"%s\"", why);
        snprintf (self->error, sizeof self->error, "%s", why);
    }
}

void
onenet_subscriber_destroy (onenet_subscriber_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    onenet_subscriber_t *self = *self_p;
    if (self->dirty && self->filter_key)
        s_save (self);
    s_fifo_free (&self->queue);
    s_fifo_free (&self->held);
    subscriber_state_clear (&self->state);
    subscriber_set_free (&self->above);
    subscriber_set_free (&self->escalated);
    subscriber_marks_free (&self->marks);
    onenet_client_destroy (&self->client);
    if (self->sub)
        zmq_close (self->sub);
    if (self->context)
        zmq_ctx_term (self->context);
    s_list_free (&self->severities);
    s_list_free (&self->areas);
    s_list_free (&self->categories);
    free (self->filter_key);
    free (self->state_path);
    free (self->act_department);
    free (self->act_user);
    free (self);
    *self_p = NULL;
}

//  Forgets where the state file said to start.
static void
s_restart_at (onenet_subscriber_t *self, stream_id_t cursor)
{
    subscriber_state_clear (&self->state);
    subscriber_set_free (&self->above);
    self->state.cursor = cursor;
    self->received = cursor;
    self->dirty = true;
}

int
onenet_subscriber_start_after (onenet_subscriber_t *self, const char *stream_id)
{
    stream_id_t id;
    if (self->phase != PHASE_WAIT_LIVE || subscriber_id_parse (stream_id, &id))
        return -1;
    s_restart_at (self, id);
    self->start_last = 0;
    return 0;
}

int
onenet_subscriber_start_last (onenet_subscriber_t *self, uint32_t n)
{
    if (self->phase != PHASE_WAIT_LIVE || n == 0)
        return -1;
    s_restart_at (self, (stream_id_t){0, 0});
    self->start_last = n;
    return 0;
}

int
onenet_subscriber_act_for (onenet_subscriber_t *self, const char *department, const char *user)
{
    if (!department || !*department)
        return -1;
    char *department_copy = strdup (department);
    char *user_copy = user && *user ? strdup (user) : NULL;
    if (!department_copy || (user && *user && !user_copy)) {
        free (department_copy);
        free (user_copy);
        return -1;
    }
    free (self->act_department);
    free (self->act_user);
    self->act_department = department_copy;
    self->act_user = user_copy;
    return 0;
}

const char *
onenet_subscriber_cursor (onenet_subscriber_t *self)
{
    return subscriber_id_format (self->state.cursor, self->cursor_text);
}

const char *
onenet_subscriber_error (const onenet_subscriber_t *self)
{
    return self->error;
}

/* --- receiving -------------------------------------------------------- */

//  A spooled alert (no stream ID yet): handed out once per CAP sender and
//  identifier. Takes the envelope. Returns true if it was queued.
static bool
s_accept_spooled (onenet_subscriber_t *self, Onenet__Alert__AlertEnvelope *envelope)
{
    const Onenet__Alert__Alert *alert = envelope->alert;
    if (subscriber_spooled_find (&self->state, alert->sender, alert->identifier) >= 0 ||
        subscriber_spooled_add (&self->state, alert->sender, alert->identifier) ||
        s_fifo_push (&self->queue, envelope, (stream_id_t){0, 0})) {
        onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        return false;
    }
    return true;
}

//  An alert with a stream ID that was handed out (or is queued) as a
//  spooled alert: its ID now stands for it. Returns true if it was one.
static bool
s_was_spooled (onenet_subscriber_t *self, const Onenet__Alert__Alert *alert, stream_id_t id)
{
    int index = subscriber_spooled_find (&self->state, alert->sender, alert->identifier);
    if (index < 0)
        return false;
    spooled_t *entry = &self->state.spooled[index];
    if (subscriber_id_cmp (id, self->received) > 0)
        subscriber_set_add (&self->above, id);
    if (entry->taken) {
        if (subscriber_id_cmp (id, self->state.cursor) > 0)
            subscriber_set_add (&self->state.delivered, id);
        subscriber_spooled_remove (&self->state, (size_t)index);
    } else {
        entry->logged = id;
        entry->has_logged = true;
    }
    self->dirty = true;
    return true;
}

//  One alert, live or from a catch-up: queued unless it is a duplicate or
//  does not match. Takes the envelope.
static void
s_accept (onenet_subscriber_t *self, Onenet__Alert__AlertEnvelope *envelope, bool live)
{
    const Onenet__Alert__Alert *alert = envelope->alert;
    stream_id_t id;
    bool match = alert && subscriber_category_match (&self->filter, alert);
    if (match && !*envelope->stream_id) {
        s_accept_spooled (self, envelope);
        return;
    }
    bool fresh = match && subscriber_id_parse (envelope->stream_id, &id) == 0 &&
                 subscriber_id_cmp (id, self->received) > 0 &&
                 !subscriber_set_has (&self->above, id) && !s_was_spooled (self, alert, id);
    //  queued first: were the ID noted and the alert not queued, a
    //  catch-up would take it for a duplicate
    bool kept = fresh && s_fifo_push (&self->queue, envelope, (stream_id_t){0, 0}) == 0;
    if (kept) {
        subscriber_set_add (&self->above, id); // out of memory: a catch-up may repeat it
        if (live)
            self->stats.live++;
        else
            self->stats.recovered++;
    }
    else {
        if (fresh)
            self->marks.lost = true; // not kept: only the stream has it now
        onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
    }
}

//  Every matching alert up to cursor is queued or was returned: the
//  catch-up's end, or a round of marks that showed nothing was missed.
//  The state file's cursor follows once the caller has taken them.
static void
s_advance (onenet_subscriber_t *self, stream_id_t cursor)
{
    if (subscriber_id_cmp (cursor, self->received) <= 0)
        return;
    self->received = cursor;
    subscriber_set_prune (&self->above, cursor);
    s_fifo_push (&self->queue, NULL, cursor);
}

//  Into the live phase: the held-back live alerts go through the usual
//  checks, in the order they came.
static void
s_go_live (onenet_subscriber_t *self)
{
    self->phase = PHASE_LIVE;
    onenet_debug ("subscriber.live", "held=%zu", self->held.count);
    entry_t *entry;
    while ((entry = s_fifo_pop (&self->held))) {
        s_accept (self, entry->envelope, true);
        free (entry);
    }
}

//  A tick: frame 2 is the newest stream ID of the log.
static void
s_on_tick (onenet_subscriber_t *self, zmq_msg_t *frame)
{
    char text[STREAM_ID_TEXT];
    size_t size = zmq_msg_size (frame);
    stream_id_t latest;
    if (size >= sizeof text)
        return;
    memcpy (text, zmq_msg_data (frame), size);
    text[size] = '\0';
    if (subscriber_id_parse (text, &latest) < 0)
        return;
    if (subscriber_id_cmp (latest, self->latest) > 0)
        self->latest = latest;
    //  live, and the marks show nothing was missed: no need to read the
    //  stream again (before marks, every tick past `received` did)
    bool verified = subscriber_marks_on_tick (&self->marks, latest, self->received);
    if (verified && self->phase == PHASE_LIVE && !self->since_id) {
        self->stats.verified++;
        s_advance (self, latest);
    }
    if (subscriber_id_cmp (self->latest, self->received) > 0)
        self->catch_up = true;
}

//  A live alert: the AlertEnvelope of [topic][AlertEnvelope], or one of
//  a batch's.
static void
s_on_live_alert (onenet_subscriber_t *self, const void *data, size_t size)
{
    Onenet__Alert__AlertEnvelope *envelope = onenet__alert__alert_envelope__unpack (NULL, size, data);
    if (!envelope || !envelope->alert) {
        onenet_warn ("subscriber.bad_alert", "reason=\"live message is not an AlertEnvelope\"");
        if (envelope)
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        self->marks.lost = true;
        return;
    }
    if (self->phase == PHASE_LIVE) {
        s_accept (self, envelope, true);
        return;
    }
    if (self->held.count >= QUEUE_HIGH ||
        s_fifo_push (&self->held, envelope, (stream_id_t){0, 0}) < 0) {
        //  a catch-up finds it again (a spooled one would be lost: rare)
        onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        self->marks.lost = true;
        self->catch_up = true;
    }
}

//  A batch of live alerts, [topic][bodies][count]: count envelopes, each
//  after its length as a varint (docs/PROTOCOL.md, "Alert batches"). One
//  message for the marks, however many alerts it holds.
static void
s_on_live_batch (onenet_subscriber_t *self, zmq_msg_t *bodies, zmq_msg_t *count_frame)
{
    char text[12];
    size_t size = zmq_msg_size (count_frame);
    char *end = NULL;
    unsigned long count = 0;
    if (size > 0 && size < sizeof text) {
        memcpy (text, zmq_msg_data (count_frame), size);
        text[size] = '\0';
        count = strtoul (text, &end, 10);
    }
    onenet_event_bodies_t walk;
    if (count == 0 || count > UINT32_MAX || !end || *end
        || onenet_event_bodies_init (&walk, (uint32_t) count, zmq_msg_data (bodies),
                                     zmq_msg_size (bodies)) < 0) {
        onenet_warn ("subscriber.bad_alert", "reason=\"%s\"",
                     count ? "live batch is not its count of AlertEnvelopes"
                           : "live batch without a count");
        self->marks.lost = true;
        return;
    }
    const void *body;
    size_t body_size;
    while (onenet_event_bodies_next (&walk, &body, &body_size))
        s_on_live_alert (self, body, body_size);
}

//  An escalation, [topic][AlertEnvelope with escalated set]: an alert
//  already delivered, sent again because nobody acknowledged it. Handed
//  out once more (once per stream ID, though it comes on each of its
//  areas' topics), without moving the cursor.
static void
s_on_escalation (onenet_subscriber_t *self, zmq_msg_t *frame)
{
    Onenet__Alert__AlertEnvelope *envelope =
        onenet__alert__alert_envelope__unpack (NULL, zmq_msg_size (frame), zmq_msg_data (frame));
    stream_id_t id;
    bool keep = envelope && envelope->alert && envelope->escalated &&
                subscriber_id_parse (envelope->stream_id, &id) == 0 &&
                !subscriber_set_has (&self->escalated, id) &&
                subscriber_set_add (&self->escalated, id) == 0 &&
                s_fifo_push (&self->queue, envelope, (stream_id_t){0, 0}) == 0;
    if (!keep && envelope)
        onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
}

//  Reads and drops the rest of a multipart message.
static void
s_skip_parts (void *socket)
{
    int more = 1;
    size_t size = sizeof more;
    while (zmq_getsockopt (socket, ZMQ_RCVMORE, &more, &size) == 0 && more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        int rc = zmq_msg_recv (&part, socket, 0);
        zmq_msg_close (&part);
        if (rc < 0)
            return;
    }
}

//  Reads one message from the SUB socket: [topic][body] (an alert, an
//  escalation, a tick), [topic][bodies][count] (a batch of alerts) or
//  [prefix]["mark"][counts]; anything else is dropped. Returns 0, or -1
//  when there is none (or the socket failed).
static int
s_read_live_one (onenet_subscriber_t *self)
{
    zmq_msg_t frames[3];
    for (int i = 0; i < 3; i++)
        zmq_msg_init (&frames[i]);
    int rc = zmq_msg_recv (&frames[0], self->sub, ZMQ_DONTWAIT);
    int count = rc >= 0 ? 1 : 0;
    while (count > 0 && count < 3 && zmq_msg_more (&frames[count - 1])
           && zmq_msg_recv (&frames[count], self->sub, 0) >= 0)
        count++;
    if (count > 0 && zmq_msg_more (&frames[count - 1])) {
        s_skip_parts (self->sub);
        count = 0; // more frames than any message has
    }
    size_t size = zmq_msg_size (&frames[0]);
    const char *topic = zmq_msg_data (&frames[0]);
    if (count == 2) {
        if (size == 4 && memcmp (topic, "tick", 4) == 0)
            s_on_tick (self, &frames[1]);
        else if (size > 6 && memcmp (topic, "alert.", 6) == 0) {
            subscriber_marks_on_alert (&self->marks, topic, size);
            s_on_live_alert (self, zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]));
        }
        else if (size > 11 && memcmp (topic, "escalation.", 11) == 0)
            s_on_escalation (self, &frames[1]);
    }
    else if (count == 3 && zmq_msg_size (&frames[1]) == 4
             && memcmp (zmq_msg_data (&frames[1]), "mark", 4) == 0)
        subscriber_marks_on_mark (&self->marks, topic, size, zmq_msg_data (&frames[2]),
                                  zmq_msg_size (&frames[2]));
    else if (count == 3 && size > 6 && memcmp (topic, "alert.", 6) == 0) {
        subscriber_marks_on_alert (&self->marks, topic, size);
        s_on_live_batch (self, &frames[1], &frames[2]);
    }
    self->live_seen = self->live_seen || rc >= 0;
    for (int i = 0; i < 3; i++)
        zmq_msg_close (&frames[i]);
    return rc >= 0 ? 0 : -1;
}

/* --- catch-up --------------------------------------------------------- */

static void
s_since_failed (onenet_subscriber_t *self, const char *why)
{
    self->catch_up = true;
    self->retry_at_ms = onenet_clock_ms () + RETRY_MS;
    if (!self->failing)
        onenet_warn ("subscriber.catchup_failed", "service=%s reason=\"%s\"", SERVICE_SINCE, why);
    self->failing = true;
    snprintf (self->error, sizeof self->error, "%s: %s", SERVICE_SINCE, why);
    //  live alerts must not wait for the log: hand them out, catch up later
    if (self->phase == PHASE_REPLAY)
        s_go_live (self);
}

static void
s_send_since (onenet_subscriber_t *self)
{
    Onenet__Alert__SinceRequest request = ONENET__ALERT__SINCE_REQUEST__INIT;
    char after[STREAM_ID_TEXT];
    request.after = self->start_last ? "" : subscriber_id_format (self->received, after);
    request.last = self->start_last;
    request.limit = SINCE_LIMIT;
    request.filter = &self->request_filter;
    size_t size = protobuf_c_message_get_packed_size (&request.base);
    uint8_t *body = malloc (size ? size : 1);
    if (!body) {
        s_since_failed (self, "out of memory");
        return;
    }
    protobuf_c_message_pack (&request.base, body);
    onenet_call_options_t options = {.timeout_ms = SINCE_TIMEOUT_MS,
                                     .idempotent = true,
                                     .on_behalf_of_department = self->act_department,
                                     .on_behalf_of_user = self->act_user};
    self->catch_up = false;
    self->stats.catchups++;
    self->since_id = onenet_client_send (self->client, SERVICE_SINCE, body, size, &options);
    free (body);
    if (!self->since_id)
        s_since_failed (self, onenet_client_error (self->client));
}

//  The alerts of a batch, oldest first, then the mark that moves the
//  cursor once they are handed out.
static void
s_on_batch (onenet_subscriber_t *self, Onenet__Alert__AlertBatch *batch, stream_id_t cursor)
{
    size_t queued = self->queue.count;
    onenet_debug ("subscriber.batch", "alerts=%zu cursor=%s more=%d", batch->n_alerts,
                  batch->cursor, batch->more);
    self->stats.read_again += batch->n_alerts;
    for (size_t i = 0; i < batch->n_alerts; i++) {
        s_accept (self, batch->alerts[i], false);
        batch->alerts[i] = NULL;
    }
    if (self->queue.count > queued)
        onenet_debug ("subscriber.recovered", "alerts=%zu phase=%s", self->queue.count - queued,
                      self->phase == PHASE_LIVE ? "live" : "replay");
    batch->n_alerts = 0;
    stream_id_t latest;
    if (subscriber_id_parse (batch->latest, &latest) == 0 &&
        subscriber_id_cmp (latest, self->latest) > 0)
        self->latest = latest;
    //  the newest N: nothing up to the newest ID when they were read is
    //  wanted any more (the broker's cursor is the newest match, or "")
    if (self->start_last && subscriber_id_cmp (self->latest, cursor) > 0)
        cursor = self->latest;
    s_advance (self, cursor);
    self->start_last = 0;
    //  more: ask again now; otherwise the next tick past the cursor does
    self->catch_up = batch->more;
    if (self->failing)
        onenet_info ("subscriber.catchup_recovered", "service=%s", SERVICE_SINCE);
    self->failing = false;
    if (self->phase == PHASE_REPLAY && !batch->more)
        s_go_live (self);
}

static void
s_on_reply (onenet_subscriber_t *self, onenet_reply_t *reply)
{
    if (onenet_reply_correlation_id (reply) != self->since_id)
        return; // a late answer to a call that timed out locally
    self->since_id = 0;
    char why[300];
    if (onenet_reply_status (reply) != ONENET_OK) {
        const char *message = onenet_reply_message (reply);
        snprintf (why, sizeof why, "%s%s%s", onenet_status_name (onenet_reply_status (reply)),
                  *message ? ": " : "", message);
        //  Retrying cannot help, and without the log the subscriber could
        //  never show that nothing was missed: stop, and say why.
        if (onenet_reply_status (reply) == ONENET_DENIED) {
            self->refused = true;
            snprintf (self->error, sizeof self->error, "%s: %.200s", SERVICE_SINCE, why);
            onenet_error ("subscriber.refused", "service=%s reason=\"%s\"", SERVICE_SINCE, why);
            return;
        }
        s_since_failed (self, why);
        return;
    }
    Onenet__Alert__AlertBatch *batch = (Onenet__Alert__AlertBatch *)onenet_reply_unpack (
        reply, &onenet__alert__alert_batch__descriptor);
    stream_id_t cursor;
    if (!batch || subscriber_id_parse (batch->cursor, &cursor)) {
        s_since_failed (self, batch ? "reply has an invalid cursor" : "reply is not an AlertBatch");
        if (batch)
            onenet__alert__alert_batch__free_unpacked (batch, NULL);
        return;
    }
    s_on_batch (self, batch, cursor);
    onenet__alert__alert_batch__free_unpacked (batch, NULL);
}

/* --- the loop --------------------------------------------------------- */

//  Reads what is waiting on both sockets without blocking, then starts a
//  catch-up if one is due.
static void
s_pump (onenet_subscriber_t *self)
{
    while (self->queue.count < QUEUE_HIGH && s_read_live_one (self) == 0)
        ;
    onenet_reply_t *reply;
    while ((reply = onenet_client_recv (self->client, 0))) {
        s_on_reply (self, reply);
        onenet_reply_destroy (&reply);
    }
    int64_t now = onenet_clock_ms ();
    if (self->phase == PHASE_WAIT_LIVE &&
        (self->live_seen || now - self->started_ms >= LIVE_WAIT_MS)) {
        self->phase = PHASE_REPLAY;
        self->catch_up = true;
    }
    if (self->phase != PHASE_WAIT_LIVE && self->catch_up && !self->since_id &&
        now >= self->retry_at_ms && self->queue.count < QUEUE_LOW)
        s_send_since (self);
}

//  The caller takes an alert with this stream ID.
static void
s_taken (onenet_subscriber_t *self, const char *stream_id)
{
    stream_id_t id;
    if (subscriber_id_parse (stream_id, &id) == 0 && subscriber_id_cmp (id, self->state.cursor) > 0)
        subscriber_set_add (&self->state.delivered, id);
}

//  The caller takes a spooled alert; if the log already gave it an ID
//  while it was queued, that ID now stands for it.
static void
s_taken_spooled (onenet_subscriber_t *self, const Onenet__Alert__Alert *alert)
{
    int index = subscriber_spooled_find (&self->state, alert->sender, alert->identifier);
    if (index < 0)
        return;
    spooled_t *spooled = &self->state.spooled[index];
    spooled->taken = true;
    if (!spooled->has_logged)
        return;
    stream_id_t id = spooled->logged;
    subscriber_spooled_remove (&self->state, (size_t)index);
    if (subscriber_id_cmp (id, self->state.cursor) > 0)
        subscriber_set_add (&self->state.delivered, id);
}

//  Moves the cursor over the marks at the head of the queue: everything
//  before them was handed out.
static void
s_apply_marks (onenet_subscriber_t *self)
{
    while (self->queue.head && !self->queue.head->envelope) {
        entry_t *entry = s_fifo_pop (&self->queue);
        if (subscriber_id_cmp (entry->mark, self->state.cursor) > 0) {
            self->state.cursor = entry->mark;
            subscriber_set_prune (&self->state.delivered, entry->mark);
            self->dirty = true;
        }
        free (entry);
    }
}

//  Hands out the first queued alert, moving the cursor over the marks
//  around it. NULL when none is queued.
static Onenet__Alert__AlertEnvelope *
s_take (onenet_subscriber_t *self)
{
    s_apply_marks (self);
    entry_t *entry = s_fifo_pop (&self->queue);
    if (!entry)
        return NULL;
    Onenet__Alert__AlertEnvelope *envelope = entry->envelope;
    free (entry);
    if (envelope->escalated)
        ;   //  a repeat of an alert: its own delivery is what moves the cursor
    else if (*envelope->stream_id)
        s_taken (self, envelope->stream_id);
    else
        s_taken_spooled (self, envelope->alert);
    self->dirty = true;
    s_apply_marks (self);
    return envelope;
}

//  How long to wait in zmq_poll: until the deadline, the end of the wait
//  for the live subscription, a catch-up retry or a call's local timeout.
static int
s_wait_ms (onenet_subscriber_t *self, int64_t deadline)
{
    int64_t now = onenet_clock_ms ();
    int64_t wait = deadline < 0 ? -1 : (deadline > now ? deadline - now : 0);
    int64_t timers[4] = {-1, -1, onenet_client_next_timeout_ms (self->client), -1};
    if (self->phase == PHASE_WAIT_LIVE)
        timers[0] = self->started_ms + LIVE_WAIT_MS - now;
    if (self->catch_up && !self->since_id)
        timers[1] = self->retry_at_ms - now;
    if (self->dirty)
        timers[3] = self->saved_ms + SAVE_MIN_MS - now;
    for (size_t i = 0; i < 4; i++) {
        int64_t timer = timers[i] == -1 ? -1 : (timers[i] < 0 ? 0 : timers[i]);
        if (timer >= 0 && (wait < 0 || timer < wait))
            wait = timer;
    }
    return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

Onenet__Alert__AlertEnvelope *
onenet_subscriber_next (onenet_subscriber_t *self, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? -1 : onenet_clock_ms () + timeout_ms;
    for (;;) {
        if (self->refused)
            return NULL;
        //  While alerts are queued, the sockets are read only every
        //  PUMP_EVERY alerts: finding them empty costs system calls (two
        //  per look), which per alert were most of a busy subscriber's time
        if (self->queue.count == 0 || self->taken_since_pump >= PUMP_EVERY) {
            s_pump (self);
            self->taken_since_pump = 0;
        }
        Onenet__Alert__AlertEnvelope *envelope = s_take (self);
        self->taken_since_pump += envelope != NULL;
        //  saved once the caller comes back for more and nothing is queued
        //  (the end of a batch), or every second while alerts keep coming
        int64_t since_saved = onenet_clock_ms () - self->saved_ms;
        if (self->dirty &&
            (since_saved >= SAVE_INTERVAL_MS || (!envelope && since_saved >= SAVE_MIN_MS)))
            s_save (self);
        if (envelope)
            return envelope;
        if (onenet_interrupted ())
            return NULL;
        if (deadline >= 0 && onenet_clock_ms () >= deadline)
            return NULL;
        zmq_pollitem_t items[] = {{self->sub, 0, ZMQ_POLLIN, 0},
                                  {onenet_client_socket (self->client), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, 2, s_wait_ms (self, deadline)) < 0 && errno != EINTR) {
            snprintf (self->error, sizeof self->error, "poll: %s", zmq_strerror (errno));
            return NULL;
        }
    }
}

void
onenet_subscriber_stats (const onenet_subscriber_t *self, onenet_subscriber_stats_t *stats)
{
    *stats = self->stats;
}
