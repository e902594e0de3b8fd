/*
 * em_store.c - SQLite access of the emergency management adapter:
 * prepared statements over vulnerable_persons, shelters and incidents
 * (schema in tools/seed/seed_emergency.c), turned into onenet.em
 * messages. One connection, statements prepared once at open.
 *
 * Area prefixes become a range on district_code ("51" -> ["51", "51:"),
 * ':' sorting right after '9'), so the district index serves them.
 *
 * Incidents are also the source of alerts: em_store_next_unalerted walks
 * them in rowid order from a cursor kept in the store itself. SQLite hands
 * out rowids in commit order (one writer at a time, max + 1), so rows
 * written by the department's own systems are found the same way as ours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "store_sqlite.h"
#include "em_store.h"

enum {
    STMT_VULNERABLE,
    STMT_SHELTERS,
    STMT_INCIDENTS,
    STMT_COUNT,
    STMT_NEXT_INCIDENT,
    STMT_ADD_INCIDENT,
    STMT_ADD_TITLE,
    STMT_NEXT_UNALERTED,
    STMT_MARK_ALERTED,
    STMT_TOTAL
};

/* The adapter's own tables (see em_store.h). */
static const char s_own_schema[]
    = "CREATE TABLE IF NOT EXISTS onenet_incident_titles ("
      "  incident_id TEXT PRIMARY KEY,"
      "  title TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS onenet_alert_cursor ("
      "  feed TEXT PRIMARY KEY,"                  /* 'incidents' */
      "  last_rowid INTEGER NOT NULL,"
      "  last_identifier TEXT NOT NULL DEFAULT '',"
      "  last_stream_id TEXT NOT NULL DEFAULT '',"
      "  updated_at_ms INTEGER NOT NULL DEFAULT 0);"
      "INSERT OR IGNORE INTO onenet_alert_cursor (feed, last_rowid)"
      "  SELECT 'incidents', COALESCE(MAX(rowid), 0) FROM incidents;";

#define INCIDENT_COLUMNS \
    "i.incident_id, i.kind, i.level, i.district_code, i.location, i.status, i.started_at_ms," \
    " i.ended_at_ms, i.description, COALESCE(t.title, '')"

static const char *const s_sql[STMT_TOTAL] = {
    [STMT_VULNERABLE] = "SELECT resident_id, name, birth_date, sex, district_code, address, phone,"
                        " elderly_alone, disabled, needs_evacuation_help, evacuation_priority,"
                        " caretaker_phone, shelter_id, notes, updated_at_ms"
                        " FROM vulnerable_persons WHERE resident_id = ?1",
    [STMT_SHELTERS] = "SELECT shelter_id, name, district_code, address, capacity, occupancy,"
                      " status, accessible, updated_at_ms FROM shelters"
                      " WHERE district_code >= ?1 AND district_code < ?1 || ':'"
                      " ORDER BY shelter_id LIMIT ?2",
    [STMT_INCIDENTS] = "SELECT " INCIDENT_COLUMNS " FROM incidents i"
                       " LEFT JOIN onenet_incident_titles t USING (incident_id)"
                       " WHERE i.district_code >= ?1 AND i.district_code < ?1 || ':'"
                       " AND (?2 = 0 OR i.status = 'open')"
                       " ORDER BY i.started_at_ms DESC, i.incident_id LIMIT ?3",
    [STMT_COUNT] = "SELECT count(*) FROM vulnerable_persons",
    /* onenet-seed numbers incidents E0000001, ... in rowid order. */
    [STMT_NEXT_INCIDENT] = "SELECT COALESCE(MAX(rowid), 0) + 1 FROM incidents",
    [STMT_ADD_INCIDENT] = "INSERT INTO incidents (incident_id, kind, level, district_code,"
                          " location, status, started_at_ms, ended_at_ms, description)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, 0, ?7)",
    [STMT_ADD_TITLE] = "INSERT OR REPLACE INTO onenet_incident_titles (incident_id, title)"
                       " VALUES (?1, ?2)",
    [STMT_NEXT_UNALERTED] = "SELECT " INCIDENT_COLUMNS ", i.rowid FROM incidents i"
                            " LEFT JOIN onenet_incident_titles t USING (incident_id)"
                            " WHERE i.rowid > (SELECT last_rowid FROM onenet_alert_cursor"
                            "                  WHERE feed = 'incidents')"
                            " ORDER BY i.rowid LIMIT 1",
    [STMT_MARK_ALERTED] = "UPDATE onenet_alert_cursor SET last_rowid = MAX(last_rowid, ?1),"
                          " last_identifier = ?2, last_stream_id = ?3, updated_at_ms = ?4"
                          " WHERE feed = 'incidents'",
};

struct em_store_t {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_TOTAL];
    char error[256];
};

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
column_text (sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text (stmt, column);
    size_t size = (size_t) sqlite3_column_bytes (stmt, column);
    char *copy = xcalloc (size + 1, 1);
    if (text)
        memcpy (copy, text, size);
    return copy;
}

static int
fail (em_store_t *self, sqlite3_stmt *stmt)
{
    snprintf (self->error, sizeof self->error, "%s", sqlite3_errmsg (self->db));
    if (stmt)
        sqlite3_reset (stmt);
    return -1;
}

em_store_t *
em_store_open (const char *path, char *err, size_t err_size)
{
    em_store_t *self = xcalloc (1, sizeof *self);
    self->db = store_sqlite_open (path, err, err_size);
    if (!self->db) {
        em_store_close (&self);
        return NULL;
    }
    /* Only an emergency management store gets the adapter's own tables. */
    char *message = NULL;
    sqlite3_stmt *probe = NULL;
    int probed = sqlite3_prepare_v2 (self->db, "SELECT rowid FROM incidents LIMIT 0", -1, &probe,
                                     NULL);
    sqlite3_finalize (probe);
    if (probed != SQLITE_OK) {
        snprintf (err, err_size, "%s is not an emergency management store: %s", path,
                  sqlite3_errmsg (self->db));
        em_store_close (&self);
        return NULL;
    }
    if (sqlite3_exec (self->db, s_own_schema, NULL, NULL, &message) != SQLITE_OK) {
        snprintf (err, err_size, "%s: cannot create the adapter's tables: %s", path,
                  message ? message : sqlite3_errmsg (self->db));
        sqlite3_free (message);
        em_store_close (&self);
        return NULL;
    }
    for (int i = 0; i < STMT_TOTAL; i++)
        if (sqlite3_prepare_v3 (self->db, s_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &self->stmt[i],
                                NULL)
            != SQLITE_OK) {
            snprintf (err, err_size, "%s is not an emergency management store: %s", path,
                      sqlite3_errmsg (self->db));
            em_store_close (&self);
            return NULL;
        }
    return self;
}

void
em_store_close (em_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    em_store_t *self = *self_p;
    for (int i = 0; i < STMT_TOTAL; i++)
        sqlite3_finalize (self->stmt[i]);
    sqlite3_close (self->db);
    free (self);
    *self_p = NULL;
}

const char *
em_store_error (const em_store_t *self)
{
    return self->error;
}

long
em_store_count_vulnerable (em_store_t *self)
{
    sqlite3_stmt *stmt = self->stmt[STMT_COUNT];
    long count = sqlite3_step (stmt) == SQLITE_ROW ? (long) sqlite3_column_int64 (stmt, 0) : -1;
    sqlite3_reset (stmt);
    return count;
}

int
em_store_vulnerable (em_store_t *self, const char *resident_id,
                     Onenet__Em__VulnerablePerson **out_p)
{
    sqlite3_stmt *stmt = self->stmt[STMT_VULNERABLE];
    sqlite3_bind_text (stmt, 1, resident_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_reset (stmt);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return fail (self, stmt);
    Onenet__Em__VulnerablePerson *person = xcalloc (1, sizeof *person);
    onenet__em__vulnerable_person__init (person);
    person->resident_id = column_text (stmt, 0);
    person->name = column_text (stmt, 1);
    person->birth_date = column_text (stmt, 2);
    person->sex = column_text (stmt, 3);
    person->district_code = column_text (stmt, 4);
    person->address = column_text (stmt, 5);
    person->phone = column_text (stmt, 6);
    person->elderly_alone = sqlite3_column_int (stmt, 7) != 0;
    person->disabled = sqlite3_column_int (stmt, 8) != 0;
    person->needs_evacuation_help = sqlite3_column_int (stmt, 9) != 0;
    person->evacuation_priority = (uint32_t) sqlite3_column_int (stmt, 10);
    person->caretaker_phone = column_text (stmt, 11);
    person->shelter_id = column_text (stmt, 12);
    person->notes = column_text (stmt, 13);
    person->updated_at_ms = sqlite3_column_int64 (stmt, 14);
    sqlite3_reset (stmt);
    *out_p = person;
    return 1;
}

int
em_store_shelters (em_store_t *self, const char *area_prefix, unsigned limit,
                   Onenet__Em__ShelterList **out_p)
{
    sqlite3_stmt *stmt = self->stmt[STMT_SHELTERS];
    sqlite3_bind_text (stmt, 1, area_prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) limit + 1);
    Onenet__Em__ShelterList *list = xcalloc (1, sizeof *list);
    onenet__em__shelter_list__init (list);
    list->shelters = xcalloc (limit + 1, sizeof *list->shelters);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (list->n_shelters == limit) {
            list->truncated = true;
            break;
        }
        Onenet__Em__Shelter *shelter = xcalloc (1, sizeof *shelter);
        onenet__em__shelter__init (shelter);
        shelter->shelter_id = column_text (stmt, 0);
        shelter->name = column_text (stmt, 1);
        shelter->district_code = column_text (stmt, 2);
        shelter->address = column_text (stmt, 3);
        shelter->capacity = (uint32_t) sqlite3_column_int64 (stmt, 4);
        shelter->occupancy = (uint32_t) sqlite3_column_int64 (stmt, 5);
        shelter->status = column_text (stmt, 6);
        shelter->accessible = sqlite3_column_int (stmt, 7) != 0;
        shelter->updated_at_ms = sqlite3_column_int64 (stmt, 8);
        list->shelters[list->n_shelters++] = shelter;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        protobuf_c_message_free_unpacked (&list->base, NULL);
        return fail (self, stmt);
    }
    sqlite3_reset (stmt);
    *out_p = list;
    return 0;
}

/* An Incident from the INCIDENT_COLUMNS of the current row. */
static Onenet__Em__Incident *
incident_from_row (sqlite3_stmt *stmt)
{
    Onenet__Em__Incident *incident = xcalloc (1, sizeof *incident);
    onenet__em__incident__init (incident);
    incident->incident_id = column_text (stmt, 0);
    incident->kind = column_text (stmt, 1);
    incident->level = (uint32_t) sqlite3_column_int (stmt, 2);
    incident->district_code = column_text (stmt, 3);
    incident->location = column_text (stmt, 4);
    incident->status = column_text (stmt, 5);
    incident->started_at_ms = sqlite3_column_int64 (stmt, 6);
    incident->ended_at_ms = sqlite3_column_int64 (stmt, 7);
    incident->description = column_text (stmt, 8);
    incident->title = column_text (stmt, 9);
    return incident;
}

int
em_store_incidents (em_store_t *self, const char *area_prefix, bool open_only, unsigned limit,
                    Onenet__Em__IncidentList **out_p)
{
    sqlite3_stmt *stmt = self->stmt[STMT_INCIDENTS];
    sqlite3_bind_text (stmt, 1, area_prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int (stmt, 2, open_only ? 1 : 0);
    sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) limit + 1);
    Onenet__Em__IncidentList *list = xcalloc (1, sizeof *list);
    onenet__em__incident_list__init (list);
    list->incidents = xcalloc (limit + 1, sizeof *list->incidents);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (list->n_incidents == limit) {
            list->truncated = true;
            break;
        }
        list->incidents[list->n_incidents++] = incident_from_row (stmt);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        protobuf_c_message_free_unpacked (&list->base, NULL);
        return fail (self, stmt);
    }
    sqlite3_reset (stmt);
    *out_p = list;
    return 0;
}

/* --- new incidents and the alert cursor --- */

static char *
copy_text (const char *text)
{
    size_t size = strlen (text) + 1;
    return memcpy (xcalloc (size, 1), text, size);
}

/* Runs one statement of the transaction; on failure rolls back. */
static int
exec_or_rollback (em_store_t *self, const char *sql)
{
    if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    fail (self, NULL);
    sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int
em_store_incident_add (em_store_t *self, const char *kind, unsigned level,
                       const char *district_code, const char *location, const char *title,
                       const char *description, int64_t started_at_ms,
                       Onenet__Em__Incident **out_p)
{
    /* The incident and its title together, or neither. */
    if (exec_or_rollback (self, "BEGIN IMMEDIATE") < 0)
        return -1;
    sqlite3_stmt *stmt = self->stmt[STMT_NEXT_INCIDENT];
    if (sqlite3_step (stmt) != SQLITE_ROW) {
        fail (self, stmt);
        sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    sqlite3_int64 serial = sqlite3_column_int64 (stmt, 0);
    sqlite3_reset (stmt);
    /* The department's own systems may have used the next number: try on. */
    char incident_id[32];
    stmt = self->stmt[STMT_ADD_INCIDENT];
    for (int attempt = 0;; attempt++, serial++) {
        snprintf (incident_id, sizeof incident_id, "E%07lld", (long long) serial);
        sqlite3_bind_text (stmt, 1, incident_id, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int (stmt, 3, (int) level);
        sqlite3_bind_text (stmt, 4, district_code, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 5, location, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 6, started_at_ms);
        sqlite3_bind_text (stmt, 7, description, -1, SQLITE_STATIC);
        int rc = sqlite3_step (stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_CONSTRAINT || attempt == 9) {
            fail (self, stmt);
            sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        sqlite3_reset (stmt);
    }
    sqlite3_reset (stmt);
    stmt = self->stmt[STMT_ADD_TITLE];
    sqlite3_bind_text (stmt, 1, incident_id, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, title, -1, SQLITE_STATIC);
    if (sqlite3_step (stmt) != SQLITE_DONE) {
        fail (self, stmt);
        sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    sqlite3_reset (stmt);
    if (exec_or_rollback (self, "COMMIT") < 0)
        return -1;
    Onenet__Em__Incident *incident = xcalloc (1, sizeof *incident);
    onenet__em__incident__init (incident);
    incident->incident_id = copy_text (incident_id);
    incident->kind = copy_text (kind);
    incident->level = level;
    incident->district_code = copy_text (district_code);
    incident->location = copy_text (location);
    incident->status = copy_text ("open");
    incident->started_at_ms = started_at_ms;
    incident->description = copy_text (description);
    incident->title = copy_text (title);
    *out_p = incident;
    return 1;
}

int
em_store_next_unalerted (em_store_t *self, int64_t *rowid_p, Onenet__Em__Incident **out_p)
{
    sqlite3_stmt *stmt = self->stmt[STMT_NEXT_UNALERTED];
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_reset (stmt);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return fail (self, stmt);
    *out_p = incident_from_row (stmt);
    *rowid_p = sqlite3_column_int64 (stmt, 10);
    sqlite3_reset (stmt);
    return 1;
}

int
em_store_mark_alerted (em_store_t *self, int64_t rowid, const char *identifier,
                       const char *stream_id, int64_t at_ms)
{
    sqlite3_stmt *stmt = self->stmt[STMT_MARK_ALERTED];
    sqlite3_bind_int64 (stmt, 1, rowid);
    sqlite3_bind_text (stmt, 2, identifier, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, stream_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 4, at_ms);
    if (sqlite3_step (stmt) != SQLITE_DONE)
        return fail (self, stmt);
    sqlite3_reset (stmt);
    return 0;
}
