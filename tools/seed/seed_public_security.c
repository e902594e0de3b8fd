/*
 * seed_public_security.c - public_security.db of onenet-seed: the household
 * register (everyone, with their household) and a few incident reports.
 * Public security knows every person the generator makes.
 */
#include <stdio.h>
#include "seed.h"

static const char s_ps_schema[] = "CREATE TABLE persons ("
                                  "  resident_id TEXT PRIMARY KEY,"
                                  "  name TEXT NOT NULL,"
                                  "  birth_date TEXT NOT NULL," /* YYYY-MM-DD */
                                  "  sex TEXT NOT NULL CHECK (sex IN ('M', 'F')),"
                                  "  district_code TEXT NOT NULL,"
                                  "  address TEXT NOT NULL,"
                                  "  household_id TEXT NOT NULL,"
                                  "  household_relation TEXT NOT NULL,"
                                  "  phone TEXT NOT NULL DEFAULT '',"
                                  "  updated_at_ms INTEGER NOT NULL);"
                                  "CREATE TABLE households ("
                                  "  household_id TEXT PRIMARY KEY,"
                                  "  head_resident_id TEXT NOT NULL,"
                                  "  district_code TEXT NOT NULL,"
                                  "  address TEXT NOT NULL,"
                                  "  registered_on TEXT NOT NULL,"
                                  "  updated_at_ms INTEGER NOT NULL);"
                                  "CREATE TABLE incident_reports ("
                                  "  report_id TEXT PRIMARY KEY,"
                                  "  resident_id TEXT NOT NULL,"
                                  "  kind TEXT NOT NULL,"
                                  "  status TEXT NOT NULL,"
                                  "  district_code TEXT NOT NULL,"
                                  "  reported_at_ms INTEGER NOT NULL,"
                                  "  summary TEXT NOT NULL);";
static const char s_ps_indexes[] =
    "CREATE INDEX persons_name ON persons (name, birth_date);"
    "CREATE INDEX persons_household ON persons (household_id);"
    "CREATE INDEX incident_reports_resident ON incident_reports (resident_id);";

const store_schema_t seed_public_security_db = {
    .file = "public_security.db",
    .tables = s_ps_schema,
    /* insert[0] persons, [1] households, [2] incident_reports */
    .inserts = {"INSERT INTO persons VALUES (?,?,?,?,?,?,?,?,?,?)",
                "INSERT INTO households VALUES (?,?,?,?,?,?)",
                "INSERT INTO incident_reports VALUES (?,?,?,?,?,?,?)"},
    .indexes = s_ps_indexes,
};

void
seed_public_security_write (seed_t *seed, household_t *household)
{
    store_t *ps = &seed->ps;
    for (size_t i = 0; i < household->size; i++) {
        person_t *p = &household->members[i];
        sqlite3_stmt *stmt = ps->insert[0];
        seed_bind_text (stmt, 1, p->resident_id);
        seed_bind_text (stmt, 2, p->name);
        seed_bind_text (stmt, 3, p->birth_date);
        seed_bind_text (stmt, 4, p->sex == 'M' ? "M" : "F");
        seed_bind_text (stmt, 5, seed_divisions[household->district].code);
        seed_bind_text (stmt, 6, household->address);
        seed_bind_text (stmt, 7, household->household_id);
        seed_bind_text (stmt, 8, p->relation);
        seed_bind_text (stmt, 9, p->phone);
        seed_bind_int (stmt, 10, p->updated_at_ms);
        seed_store_step (ps, stmt);
        seed->counts.persons++;

        if (p->age >= 14 && seed_rng_chance (&seed->rng, 15)) {
            static const char *const kinds[] = {"theft", "dispute", "traffic",
                                                "fraud", "noise",   "missing_person"};
            const char *kind = seed_pick (seed, kinds, 6);
            char id[24], summary[160];
            snprintf (id, sizeof id, "R%s%07ld", seed_divisions[household->district].code,
                      ++seed->report_serial);
            snprintf (summary, sizeof summary, "Synthetic %s report near %s", kind,
                      seed_pick (seed, seed_streets, seed_street_count));
            stmt = ps->insert[2];
            seed_bind_text (stmt, 1, id);
            seed_bind_text (stmt, 2, p->resident_id);
            seed_bind_text (stmt, 3, kind);
            seed_bind_text (stmt, 4, seed_rng_chance (&seed->rng, 800) ? "closed" : "open");
            seed_bind_text (stmt, 5, seed_divisions[household->district].code);
            seed_bind_int (stmt, 6, seed_recent_ms (seed, 3 * 365));
            seed_bind_text (stmt, 7, summary);
            seed_store_step (ps, stmt);
            seed->counts.reports++;
        }
    }
    char registered_on[11];
    int64_t from = household->members[0].birth_day + 18 * 365;
    int64_t earliest = seed_days_from_civil (1985, 1, 1);
    if (from < earliest)
        from = earliest;
    seed_format_date (from >= seed->ref_day ? seed->ref_day - 1
                                            : seed_rng_range (&seed->rng, from, seed->ref_day - 1),
                      registered_on);
    sqlite3_stmt *stmt = ps->insert[1];
    seed_bind_text (stmt, 1, household->household_id);
    seed_bind_text (stmt, 2, household->members[0].resident_id);
    seed_bind_text (stmt, 3, seed_divisions[household->district].code);
    seed_bind_text (stmt, 4, household->address);
    seed_bind_text (stmt, 5, registered_on);
    seed_bind_int (stmt, 6, seed_recent_ms (seed, 5 * 365));
    seed_store_step (ps, stmt);
    seed->counts.households++;
}
