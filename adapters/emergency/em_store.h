/*
 * em_store.h - the emergency management adapter's access to its own store
 * (SQLite: vulnerable_persons, shelters, incidents). Private to
 * adapters/emergency/.
 *
 * Records come back as onenet.em messages in malloc'd memory: the caller
 * frees each with protobuf_c_message_free_unpacked (&msg->base, NULL).
 * Look-ups return 1 (found), 0 (not found) or -1 (store error, reason in
 * em_store_error); lists return 0 or -1. Out of memory aborts the process.
 * An area prefix is digits only (checked by the caller).
 *
 * Beside the department's tables the adapter keeps two small tables of
 * its own in the same file, created at open when missing:
 *   onenet_incident_titles  the title given to em.incident.report (the
 *                           department's incidents table has no column
 *                           for it, and its schema is not ours to change);
 *   onenet_alert_cursor     the rowid of the last incident published as an
 *                           alert, so a restart neither republishes nor
 *                           skips. Created at the newest incident: what
 *                           was in the store before the adapter first ran
 *                           is history, not news.
 */
#ifndef ONENET_EM_STORE_H
#define ONENET_EM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "onenet/proto/emergency.pb-c.h"

typedef struct em_store_t em_store_t;

/* Opens an existing store read-write in WAL mode; NULL with a reason in
 * err if it is missing or not an emergency management store. */
em_store_t *em_store_open (const char *path, char *err, size_t err_size);

/* Closes the store; sets *self_p to NULL. Safe on NULL. */
void em_store_close (em_store_t **self_p);

/* The reason of the last -1. Owned by the store. */
const char *em_store_error (const em_store_t *self);

/* Number of people on the vulnerable registry, or -1. */
long em_store_count_vulnerable (em_store_t *self);

/* One entry of the vulnerable-people registry. */
int em_store_vulnerable (em_store_t *self, const char *resident_id,
                         Onenet__Em__VulnerablePerson **out_p);

/* Shelters whose district code starts with area_prefix, by ID, at most
 * limit (truncated set when more matched). */
int em_store_shelters (em_store_t *self, const char *area_prefix, unsigned limit,
                       Onenet__Em__ShelterList **out_p);

/* Incidents in the area, newest first, at most limit. */
int em_store_incidents (em_store_t *self, const char *area_prefix, bool open_only, unsigned limit,
                        Onenet__Em__IncidentList **out_p);

/* Records a new open incident started at started_at_ms, with a generated
 * incident_id ("E" and a serial continuing the store's numbering) and its
 * title. The caller has checked the values. Returns 1 with the stored
 * incident in *out_p, or -1. */
int em_store_incident_add (em_store_t *self, const char *kind, unsigned level,
                           const char *district_code, const char *location, const char *title,
                           const char *description, int64_t started_at_ms,
                           Onenet__Em__Incident **out_p);

/* The oldest incident not yet published as an alert (the first rowid
 * after the cursor), however it got into the store. Returns 1 with it in
 * *out_p and its rowid in *rowid_p, 0 when there is none, or -1. */
int em_store_next_unalerted (em_store_t *self, int64_t *rowid_p, Onenet__Em__Incident **out_p);

/* Moves the cursor past rowid (never back), remembering the alert's
 * identifier and stream id ("" when spooled) for operators. Returns 0 or
 * -1. */
int em_store_mark_alerted (em_store_t *self, int64_t rowid, const char *identifier,
                           const char *stream_id, int64_t at_ms);

#endif
