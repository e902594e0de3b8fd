/*
 * ps_store.c - SQLite access of the public security adapter: prepared
 * statements over the tables persons, households and incident_reports
 * (schema in tools/seed/seed_public_security.c), turned into onenet.ps
 * messages. New incident reports (ps.incident.report) are the only rows it
 * inserts.
 *
 * Every statement is prepared once at open and reset after use; the
 * adapter is single-threaded, so one connection serves all requests.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "store_sqlite.h"
#include "ps_store.h"

enum {
    STMT_PERSON,
    STMT_REPORTS,
    STMT_SEARCH,
    STMT_UPDATE,
    STMT_HOUSEHOLD,
    STMT_MEMBERS,
    STMT_COUNT_PERSONS,
    STMT_NEXT_REPORT,
    STMT_ADD_REPORT,
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_TOTAL
};

static const char *const s_sql[STMT_TOTAL] = {
    [STMT_PERSON] = "SELECT resident_id, name, birth_date, sex, district_code, address,"
                    " household_id, household_relation, phone, updated_at_ms"
                    " FROM persons WHERE resident_id = ?1",
    [STMT_REPORTS] = "SELECT report_id, resident_id, kind, status, district_code, reported_at_ms,"
                     " summary FROM incident_reports WHERE resident_id = ?1"
                     " ORDER BY reported_at_ms DESC LIMIT 100",
    [STMT_SEARCH] = "SELECT resident_id, name, birth_date, sex, district_code, address,"
                    " household_id, household_relation, phone, updated_at_ms"
                    " FROM persons WHERE name = ?1 AND (?2 = '' OR birth_date = ?2)"
                    " ORDER BY resident_id LIMIT ?3",
    [STMT_UPDATE] = "UPDATE persons SET address = COALESCE(NULLIF(?2, ''), address),"
                    " phone = COALESCE(NULLIF(?3, ''), phone), updated_at_ms = ?4"
                    " WHERE resident_id = ?1",
    [STMT_HOUSEHOLD] = "SELECT household_id, head_resident_id, district_code, address,"
                       " registered_on, updated_at_ms FROM households WHERE household_id = ?1",
    [STMT_MEMBERS] = "SELECT resident_id, name, household_relation, birth_date, sex"
                     " FROM persons WHERE household_id = ?1 ORDER BY birth_date, resident_id"
                     " LIMIT 200",
    [STMT_COUNT_PERSONS] = "SELECT count(*) FROM persons",
    /* onenet-seed numbers reports 1, 2, ... in rowid order. */
    [STMT_NEXT_REPORT] = "SELECT COALESCE(MAX(rowid), 0) + 1 FROM incident_reports",
    [STMT_ADD_REPORT] = "INSERT INTO incident_reports (report_id, resident_id, kind, status,"
                        " district_code, reported_at_ms, summary)"
                        " VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6)",
    [STMT_BEGIN] = STORE_SQLITE_BEGIN,
    [STMT_COMMIT] = STORE_SQLITE_COMMIT,
};

struct ps_store_t {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_TOTAL];
    char error[256];
};

/* --- memory: messages are malloc'd so free_unpacked frees them --- */

static void *
xcalloc (size_t count, size_t size)
{
    void *memory = calloc (count ? count : 1, size);
    if (!memory) {
        fprintf (stderr, "public_security adapter: out of memory\n");
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
fail (ps_store_t *self, sqlite3_stmt *stmt)
{
    snprintf (self->error, sizeof self->error, "%s", sqlite3_errmsg (self->db));
    if (stmt)
        sqlite3_reset (stmt);
    return -1;
}

/* --- open / close --- */

ps_store_t *
ps_store_open (const char *path, char *err, size_t err_size)
{
    ps_store_t *self = xcalloc (1, sizeof *self);
    self->db = store_sqlite_open (path, err, err_size);
    if (!self->db) {
        ps_store_close (&self);
        return NULL;
    }
    for (int i = 0; i < STMT_TOTAL; i++)
        if (sqlite3_prepare_v3 (self->db, s_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &self->stmt[i],
                                NULL)
            != SQLITE_OK) {
            snprintf (err, err_size, "%s is not a public security store: %s", path,
                      sqlite3_errmsg (self->db));
            ps_store_close (&self);
            return NULL;
        }
    return self;
}

void
ps_store_close (ps_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ps_store_t *self = *self_p;
    for (int i = 0; i < STMT_TOTAL; i++)
        sqlite3_finalize (self->stmt[i]);
    sqlite3_close (self->db);
    free (self);
    *self_p = NULL;
}

const char *
ps_store_error (const ps_store_t *self)
{
    return self->error;
}

long
ps_store_count_persons (ps_store_t *self)
{
    sqlite3_stmt *stmt = self->stmt[STMT_COUNT_PERSONS];
    long count = sqlite3_step (stmt) == SQLITE_ROW ? (long) sqlite3_column_int64 (stmt, 0) : -1;
    sqlite3_reset (stmt);
    return count;
}

/* --- persons --- */

/* A Person from the current row of a STMT_PERSON or STMT_SEARCH query. */
static Onenet__Ps__Person *
person_from_row (sqlite3_stmt *stmt)
{
    Onenet__Ps__Person *person = xcalloc (1, sizeof *person);
    onenet__ps__person__init (person);
    person->resident_id = column_text (stmt, 0);
    person->name = column_text (stmt, 1);
    person->birth_date = column_text (stmt, 2);
    person->sex = column_text (stmt, 3);
    person->district_code = column_text (stmt, 4);
    person->address = column_text (stmt, 5);
    person->household_id = column_text (stmt, 6);
    person->household_relation = column_text (stmt, 7);
    person->phone = column_text (stmt, 8);
    person->updated_at_ms = sqlite3_column_int64 (stmt, 9);
    return person;
}

static int
load_reports (ps_store_t *self, Onenet__Ps__Person *person)
{
    sqlite3_stmt *stmt = self->stmt[STMT_REPORTS];
    sqlite3_bind_text (stmt, 1, person->resident_id, -1, SQLITE_STATIC);
    size_t capacity = 0;
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (person->n_incident_reports == capacity) {
            capacity = capacity ? capacity * 2 : 4;
            Onenet__Ps__IncidentReport **grown
                = realloc (person->incident_reports, capacity * sizeof *grown);
            if (!grown)
                abort ();
            person->incident_reports = grown;
        }
        Onenet__Ps__IncidentReport *report = xcalloc (1, sizeof *report);
        onenet__ps__incident_report__init (report);
        report->report_id = column_text (stmt, 0);
        report->resident_id = column_text (stmt, 1);
        report->kind = column_text (stmt, 2);
        report->status = column_text (stmt, 3);
        report->district_code = column_text (stmt, 4);
        report->reported_at_ms = sqlite3_column_int64 (stmt, 5);
        report->summary = column_text (stmt, 6);
        person->incident_reports[person->n_incident_reports++] = report;
    }
    if (rc != SQLITE_DONE)
        return fail (self, stmt);
    sqlite3_reset (stmt);
    return 0;
}

static int
load_person (ps_store_t *self, const char *resident_id, bool with_reports,
             Onenet__Ps__Person **person_p)
{
    sqlite3_stmt *stmt = self->stmt[STMT_PERSON];
    sqlite3_bind_text (stmt, 1, resident_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_reset (stmt);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return fail (self, stmt);
    Onenet__Ps__Person *person = person_from_row (stmt);
    sqlite3_reset (stmt);
    if (with_reports && load_reports (self, person) < 0) {
        protobuf_c_message_free_unpacked (&person->base, NULL);
        return -1;
    }
    *person_p = person;
    return 1;
}

int
ps_store_person (ps_store_t *self, const char *resident_id, bool with_reports,
                 Onenet__Ps__Person **person_p)
{
    bool begun = with_reports && store_sqlite_read_begin (self->db, self->stmt[STMT_BEGIN]);   /* one statement needs none */
    int found = load_person (self, resident_id, with_reports, person_p);
    store_sqlite_read_end (self->db, self->stmt[STMT_COMMIT], begun);
    return found;
}

int
ps_store_search (ps_store_t *self, const char *name, const char *birth_date, unsigned limit,
                 Onenet__Ps__PersonList **list_p)
{
    sqlite3_stmt *stmt = self->stmt[STMT_SEARCH];
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, birth_date ? birth_date : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) limit + 1);   /* one more shows truncation */
    Onenet__Ps__PersonList *list = xcalloc (1, sizeof *list);
    onenet__ps__person_list__init (list);
    list->persons = xcalloc (limit + 1, sizeof *list->persons);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (list->n_persons == limit) {
            list->truncated = true;
            break;
        }
        list->persons[list->n_persons++] = person_from_row (stmt);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        protobuf_c_message_free_unpacked (&list->base, NULL);
        return fail (self, stmt);
    }
    sqlite3_reset (stmt);
    *list_p = list;
    return 0;
}

int
ps_store_update (ps_store_t *self, const char *resident_id, const char *address,
                 const char *phone, int64_t updated_at_ms)
{
    sqlite3_stmt *stmt = self->stmt[STMT_UPDATE];
    sqlite3_bind_text (stmt, 1, resident_id, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, address ? address : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, phone ? phone : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 4, updated_at_ms);
    if (sqlite3_step (stmt) != SQLITE_DONE)
        return fail (self, stmt);
    sqlite3_reset (stmt);
    return sqlite3_changes (self->db) > 0 ? 1 : 0;
}

/* --- incident reports --- */

static char *
copy_text (const char *text)
{
    size_t size = strlen (text) + 1;
    return memcpy (xcalloc (size, 1), text, size);
}

int
ps_store_report_add (ps_store_t *self, const char *resident_id, const char *kind,
                     const char *district_code, const char *summary, int64_t reported_at_ms,
                     Onenet__Ps__IncidentReport **report_p)
{
    sqlite3_stmt *stmt = self->stmt[STMT_NEXT_REPORT];
    if (sqlite3_step (stmt) != SQLITE_ROW)
        return fail (self, stmt);
    sqlite3_int64 serial = sqlite3_column_int64 (stmt, 0);
    sqlite3_reset (stmt);
    /* The department's own systems may have used the next number: try on. */
    char report_id[40];
    stmt = self->stmt[STMT_ADD_REPORT];
    for (int attempt = 0;; attempt++, serial++) {
        snprintf (report_id, sizeof report_id, "R%s%07lld", district_code, (long long) serial);
        sqlite3_bind_text (stmt, 1, report_id, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, resident_id, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 4, district_code, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 5, reported_at_ms);
        sqlite3_bind_text (stmt, 6, summary, -1, SQLITE_STATIC);
        int rc = sqlite3_step (stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_CONSTRAINT || attempt == 9)
            return fail (self, stmt);
        sqlite3_reset (stmt);
    }
    sqlite3_reset (stmt);
    Onenet__Ps__IncidentReport *report = xcalloc (1, sizeof *report);
    onenet__ps__incident_report__init (report);
    report->report_id = copy_text (report_id);
    report->resident_id = copy_text (resident_id);
    report->kind = copy_text (kind);
    report->status = copy_text ("open");
    report->district_code = copy_text (district_code);
    report->reported_at_ms = reported_at_ms;
    report->summary = copy_text (summary);
    *report_p = report;
    return 1;
}

/* --- households --- */

static int
load_household (ps_store_t *self, const char *household_id, Onenet__Ps__Household **household_p)
{
    sqlite3_stmt *stmt = self->stmt[STMT_HOUSEHOLD];
    sqlite3_bind_text (stmt, 1, household_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_reset (stmt);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return fail (self, stmt);
    Onenet__Ps__Household *household = xcalloc (1, sizeof *household);
    onenet__ps__household__init (household);
    household->household_id = column_text (stmt, 0);
    household->head_resident_id = column_text (stmt, 1);
    household->district_code = column_text (stmt, 2);
    household->address = column_text (stmt, 3);
    household->registered_on = column_text (stmt, 4);
    household->updated_at_ms = sqlite3_column_int64 (stmt, 5);
    sqlite3_reset (stmt);

    stmt = self->stmt[STMT_MEMBERS];
    sqlite3_bind_text (stmt, 1, household->household_id, -1, SQLITE_STATIC);
    size_t capacity = 0;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (household->n_members == capacity) {
            capacity = capacity ? capacity * 2 : 8;
            Onenet__Ps__HouseholdMember **grown
                = realloc (household->members, capacity * sizeof *grown);
            if (!grown)
                abort ();
            household->members = grown;
        }
        Onenet__Ps__HouseholdMember *member = xcalloc (1, sizeof *member);
        onenet__ps__household_member__init (member);
        member->resident_id = column_text (stmt, 0);
        member->name = column_text (stmt, 1);
        member->relation = column_text (stmt, 2);
        member->birth_date = column_text (stmt, 3);
        member->sex = column_text (stmt, 4);
        household->members[household->n_members++] = member;
    }
    if (rc != SQLITE_DONE) {
        protobuf_c_message_free_unpacked (&household->base, NULL);
        return fail (self, stmt);
    }
    sqlite3_reset (stmt);
    *household_p = household;
    return 1;
}

int
ps_store_household (ps_store_t *self, const char *household_id,
                    Onenet__Ps__Household **household_p)
{
    bool begun = store_sqlite_read_begin (self->db, self->stmt[STMT_BEGIN]);
    int found = load_household (self, household_id, household_p);
    store_sqlite_read_end (self->db, self->stmt[STMT_COMMIT], begun);
    return found;
}
