/*
 * em_alerts.c - new incidents of the emergency store become CAP alerts
 * (see em_alerts.h for the flow).
 *
 * The mapping, one <info> per alert:
 *   identifier   "em.<district_code>.<incident_id>", each part CAP-safe:
 *                bytes other than A-Z a-z 0-9 - . _ ~ are written %XX, so
 *                two different incidents never share an identifier;
 *   sender       EM_ALERT_SENDER; sent: now, with the local UTC offset
 *                ("-00:00" for UTC, as CAP writes it); status: --alert-status;
 *                msgType Alert; scope Public; incidents: the incident id;
 *   category     flood, storm -> Met; earthquake, landslide -> Geo;
 *                fire -> Fire; chemical -> CBRNE; traffic -> Transport;
 *                anything else -> Other;
 *   event        the incident's title, or the kind's name when it has none
 *                (incidents written by the department's own systems);
 *   severity     by response level, 1 being the most severe
 *                (proto/emergency.proto; 一级响应 is the highest):
 *                1 Extreme, 2 Severe, 3 Moderate, 4 Minor, else Unknown;
 *   urgency      Immediate for levels 1 and 2, Expected for 3 and 4;
 *   certainty    Observed (the incident has happened); onset: its start;
 *   area         areaDesc "<location> (<district_code>)" or the code, and
 *                geocode {"GB/T 2260", district_code}.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <onenet/onenet.h>
#include <onenet/alert_publish.h>
#include <onenet/cap.h>
#include "em_alerts.h"

#define PUBLISH_TIMEOUT_MS 5000
#define HEADLINE_MAX 160        /* CAP: "should be less than 160 characters" */
#define SKIPS_PER_HANDLE 100    /* invalid incidents passed over in one go */
#define GEOCODE_SCHEME "GB/T 2260"

struct em_alerts_t {
    onenet_client_t *client;
    char *endpoint;             /* NULL for the default */
    bool reconnect;             /* a publish timed out: drop what the socket still queues */
    em_store_t *store;
    const char *cap_status;
    unsigned poll_ms;
    int64_t next_poll_ms;       /* monotonic */
    uint64_t in_flight;         /* correlation id of the publish awaited, 0 if none */
    int64_t in_flight_rowid;
    char in_flight_identifier[512];
    unsigned failures;          /* consecutive failed publishes */
};

/* --- memory: alerts are built as unpacked messages, freed by free_unpacked --- */

static void *
xcalloc (size_t count, size_t size)
{
    void *memory = calloc (count ? count : 1, size);
    if (!memory) {
        fprintf (stderr, "emergency adapter: out of memory\n");
        abort ();
    }
    return memory;
}

static char *
xstrdup (const char *text)
{
    size_t size = strlen (text) + 1;
    return memcpy (xcalloc (size, 1), text, size);
}

/* A copy of free text with control characters (XML cannot carry most of
 * them) turned into spaces; tab and line breaks are kept. */
static char *
clean_text (const char *text)
{
    char *copy = xstrdup (text);
    for (char *c = copy; *c; c++)
        if (((unsigned char) *c < 0x20 && *c != '\t' && *c != '\n' && *c != '\r') || *c == 0x7f)
            *c = ' ';
    return copy;
}

/* Cuts text to at most max bytes at a UTF-8 character boundary. */
static void
truncate_utf8 (char *text, size_t max)
{
    if (strlen (text) <= max)
        return;
    size_t cut = max;
    while (cut > 0 && ((unsigned char) text[cut] & 0xC0) == 0x80)
        cut--;
    text[cut] = '\0';
}

/* value percent-encoded so that it holds no CAP-forbidden byte (space,
 * ',', '<', '&') and encodes injectively. Returns a new string. */
static char *
cap_safe (const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = xcalloc (strlen (value) * 3 + 1, 1), *o = out;
    for (const unsigned char *v = (const unsigned char *) value; *v; v++) {
        if ((*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') || (*v >= '0' && *v <= '9')
            || strchr ("-._~", *v))
            *o++ = (char) *v;
        else {
            *o++ = '%';
            *o++ = hex[*v >> 4];
            *o++ = hex[*v & 15];
        }
    }
    return out;
}

/* A CAP dateTime for Unix ms: local time with its UTC offset,
 * "2026-11-23T18:00:00+08:00"; UTC itself is written "-00:00". */
static char *
cap_datetime (int64_t ms)
{
    time_t seconds = (time_t) (ms / 1000);
    struct tm local;
    if (!localtime_r (&seconds, &local))
        gmtime_r (&seconds, &local);
    char text[48];
    size_t n = strftime (text, sizeof text, "%Y-%m-%dT%H:%M:%S", &local);
    long offset = local.tm_gmtoff / 60;
    char sign = offset > 0 ? '+' : '-';
    if (offset < 0)
        offset = -offset;
    snprintf (text + n, sizeof text - n, "%c%02ld:%02ld", sign, offset / 60, offset % 60);
    return xstrdup (text);
}

/* --- the mapping --- */

typedef struct {
    const char *kind;
    const char *category;
    const char *name;
} kind_map_t;

static const kind_map_t s_kinds[] = {
    { "flood", "Met", "Flood" },
    { "storm", "Met", "Storm" },
    { "earthquake", "Geo", "Earthquake" },
    { "landslide", "Geo", "Landslide" },
    { "fire", "Fire", "Fire" },
    { "chemical", "CBRNE", "Chemical incident" },
    { "traffic", "Transport", "Traffic incident" },
};
static const kind_map_t s_other = { "other", "Other", "Incident" };

static const kind_map_t *
kind_map (const char *kind)
{
    for (size_t i = 0; i < sizeof s_kinds / sizeof s_kinds[0]; i++)
        if (strcmp (s_kinds[i].kind, kind) == 0)
            return &s_kinds[i];
    return &s_other;
}

static const char *
severity_of (unsigned level)
{
    static const char *const severities[] = { "Extreme", "Severe", "Moderate", "Minor" };
    return level >= 1 && level <= 4 ? severities[level - 1] : "Unknown";
}

static const char *
urgency_of (unsigned level)
{
    if (level == 1 || level == 2)
        return "Immediate";
    return level == 3 || level == 4 ? "Expected" : "Unknown";
}

Onenet__Alert__Alert *
em_alert_from_incident (const Onenet__Em__Incident *incident, const char *cap_status,
                        int64_t now_ms)
{
    const kind_map_t *kind = kind_map (incident->kind);
    char *district = cap_safe (incident->district_code);
    char *id = cap_safe (incident->incident_id);
    size_t size = strlen (district) + strlen (id) + 8;

    Onenet__Alert__Alert *alert = xcalloc (1, sizeof *alert);
    onenet__alert__alert__init (alert);
    alert->identifier = xcalloc (size, 1);
    snprintf (alert->identifier, size, "em.%s.%s", district, id);
    alert->sender = xstrdup (EM_ALERT_SENDER);
    alert->sent = cap_datetime (now_ms);
    alert->status = xstrdup (cap_status);
    alert->msg_type = xstrdup ("Alert");
    alert->scope = xstrdup ("Public");
    alert->incidents = id;
    free (district);

    Onenet__Alert__Info *info = xcalloc (1, sizeof *info);
    onenet__alert__info__init (info);
    alert->info = xcalloc (1, sizeof *alert->info);
    alert->info[0] = info;
    alert->n_info = 1;
    info->category = xcalloc (1, sizeof *info->category);
    info->category[0] = xstrdup (kind->category);
    info->n_category = 1;
    info->event = clean_text (*incident->title ? incident->title : kind->name);
    info->urgency = xstrdup (urgency_of (incident->level));
    info->severity = xstrdup (severity_of (incident->level));
    info->certainty = xstrdup ("Observed");
    if (incident->started_at_ms > 0)
        info->onset = cap_datetime (incident->started_at_ms);
    info->sender_name = xstrdup ("Emergency management duty office (synthetic data)");
    if (*incident->description)
        info->description = clean_text (incident->description);

    Onenet__Alert__Area *area = xcalloc (1, sizeof *area);
    onenet__alert__area__init (area);
    info->area = xcalloc (1, sizeof *info->area);
    info->area[0] = area;
    info->n_area = 1;
    const char *code = *incident->district_code ? incident->district_code : "district not given";
    size = strlen (incident->location) + strlen (code) + 4;
    char *where = xcalloc (size, 1);
    if (*incident->location)
        snprintf (where, size, "%s (%s)", incident->location, code);
    else
        snprintf (where, size, "%s", code);
    area->area_desc = clean_text (where);
    free (where);
    if (*incident->district_code) {
        Onenet__Alert__ValuePair *geocode = xcalloc (1, sizeof *geocode);
        onenet__alert__value_pair__init (geocode);
        geocode->value_name = xstrdup (GEOCODE_SCHEME);
        geocode->value = xstrdup (incident->district_code);
        area->geocode = xcalloc (1, sizeof *area->geocode);
        area->geocode[0] = geocode;
        area->n_geocode = 1;
    }

    size = strlen (kind->name) + strlen (area->area_desc) + 40;
    char *headline = xcalloc (size, 1);
    if (incident->level >= 1 && incident->level <= 4)
        snprintf (headline, size, "%s, response level %u: %s", kind->name, incident->level,
                  area->area_desc);
    else
        snprintf (headline, size, "%s: %s", kind->name, area->area_desc);
    truncate_utf8 (headline, HEADLINE_MAX);
    info->headline = headline;
    return alert;
}

/* --- publishing --- */

em_alerts_t *
em_alerts_new (const char *endpoint, em_store_t *store, const char *cap_status, unsigned poll_ms,
               char *err, size_t err_size)
{
    onenet_client_t *client = onenet_client_new (endpoint, err, err_size);
    if (!client)
        return NULL;
    em_alerts_t *self = xcalloc (1, sizeof *self);
    self->client = client;
    self->endpoint = endpoint ? xstrdup (endpoint) : NULL;
    self->store = store;
    self->cap_status = cap_status;
    self->poll_ms = poll_ms ? poll_ms : 1000;
    self->next_poll_ms = onenet_clock_ms ();
    return self;
}

void
em_alerts_destroy (em_alerts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    em_alerts_t *self = *self_p;
    onenet_client_destroy (&self->client);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

void *
em_alerts_socket (em_alerts_t *self)
{
    return onenet_client_socket (self->client);
}

int
em_alerts_next_timeout_ms (const em_alerts_t *self)
{
    int client = onenet_client_next_timeout_ms (self->client);
    if (self->in_flight)
        return client < 0 ? (int) self->poll_ms : client;
    int64_t left = self->next_poll_ms - onenet_clock_ms ();
    int poll = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int) left;
    return client >= 0 && client < poll ? client : poll;
}

void
em_alerts_wake (em_alerts_t *self)
{
    self->next_poll_ms = onenet_clock_ms ();
}

static void
log_store_error (em_alerts_t *self)
{
    char quoted[300];
    onenet_error ("store.error", "task=alerts reason=%s",
                  onenet_log_quote (em_store_error (self->store), quoted, sizeof quoted));
}

/* The incident at rowid is done with: published, or never publishable. */
static void
move_cursor (em_alerts_t *self, int64_t rowid, const char *identifier, const char *stream_id)
{
    if (em_store_mark_alerted (self->store, rowid, identifier, stream_id, onenet_wall_ms ()) < 0)
        log_store_error (self);   /* published all the same; the retry is a duplicate */
}

static void
on_publish_reply (em_alerts_t *self, onenet_reply_t *reply)
{
    char stream_id[64], err[400], quoted[420];
    bool spooled = false, duplicate = false;
    self->in_flight = 0;
    if (onenet_alert_publish_result (reply, stream_id, sizeof stream_id, &spooled, &duplicate, err,
                                     sizeof err)
        == 0) {
        move_cursor (self, self->in_flight_rowid, self->in_flight_identifier, stream_id);
        onenet_info ("alert.published", "identifier=%s stream_id=%s spooled=%s duplicate=%s",
                     self->in_flight_identifier, *stream_id ? stream_id : "-",
                     spooled ? "true" : "false", duplicate ? "true" : "false");
        if (self->failures)
            onenet_info ("alert.recovered", "failed_attempts=%u", self->failures);
        self->failures = 0;
        em_alerts_wake (self);   /* there may be more: go on at once */
        return;
    }
    onenet_log_quote (err, quoted, sizeof quoted);
    if (onenet_reply_status (reply) == ONENET_BAD_REQUEST) {
        /* The broker will never take it: do not hold up the incidents after it. */
        onenet_error ("alert.refused", "identifier=%s reason=%s", self->in_flight_identifier,
                      quoted);
        move_cursor (self, self->in_flight_rowid, self->in_flight_identifier, "");
        em_alerts_wake (self);
        return;
    }
    /* A broker that does not answer at all: start the next attempt on a
     * fresh connection, so that requests queued for it do not pile up. */
    if (onenet_reply_status (reply) == ONENET_TIMEOUT)
        self->reconnect = true;
    /* Tried again at the next poll; logged once per run of failures. */
    if (self->failures++ == 0)
        onenet_warn ("alert.failed", "identifier=%s reason=%s retry_ms=%u",
                     self->in_flight_identifier, quoted, self->poll_ms);
    else
        onenet_debug ("alert.failed", "identifier=%s reason=%s attempt=%u",
                      self->in_flight_identifier, quoted, self->failures);
}

/* Sends the alert of the next new incident, if any. */
static void
publish_next (em_alerts_t *self)
{
    for (int skipped = 0; skipped < SKIPS_PER_HANDLE; skipped++) {
        int64_t rowid = 0;
        Onenet__Em__Incident *incident = NULL;
        int found = em_store_next_unalerted (self->store, &rowid, &incident);
        if (found < 0)
            log_store_error (self);
        if (found <= 0)
            return;
        Onenet__Alert__Alert *alert = em_alert_from_incident (incident, self->cap_status,
                                                              onenet_wall_ms ());
        protobuf_c_message_free_unpacked (&incident->base, NULL);
        snprintf (self->in_flight_identifier, sizeof self->in_flight_identifier, "%s",
                  alert->identifier);
        char why[300], quoted[320];
        if (onenet_cap_validate (alert, why, sizeof why) < 0) {
            onenet_error ("alert.invalid", "identifier=%s reason=%s", alert->identifier,
                          onenet_log_quote (why, quoted, sizeof quoted));
            move_cursor (self, rowid, alert->identifier, "");
            onenet__alert__alert__free_unpacked (alert, NULL);
            continue;
        }
        uint64_t id = onenet_alert_publish_send (self->client, alert, PUBLISH_TIMEOUT_MS, why,
                                                 sizeof why);
        onenet__alert__alert__free_unpacked (alert, NULL);
        if (id == 0) {
            if (self->failures++ == 0)
                onenet_warn ("alert.failed", "identifier=%s reason=%s retry_ms=%u",
                             self->in_flight_identifier,
                             onenet_log_quote (why, quoted, sizeof quoted), self->poll_ms);
            return;
        }
        self->in_flight = id;
        self->in_flight_rowid = rowid;
        return;
    }
    em_alerts_wake (self);   /* more to skip: go on after serving requests */
}

void
em_alerts_handle (em_alerts_t *self)
{
    onenet_reply_t *reply;
    while ((reply = onenet_client_recv (self->client, 0))) {
        if (self->in_flight && onenet_reply_correlation_id (reply) == self->in_flight)
            on_publish_reply (self, reply);
        onenet_reply_destroy (&reply);
    }
    if (self->reconnect) {
        char err[256];
        onenet_client_t *fresh = onenet_client_new (self->endpoint, err, sizeof err);
        if (fresh) {
            onenet_client_destroy (&self->client);
            self->client = fresh;
            self->reconnect = false;
        }
    }
    if (self->in_flight || onenet_clock_ms () < self->next_poll_ms)
        return;
    self->next_poll_ms = onenet_clock_ms () + self->poll_ms;
    publish_next (self);
}
