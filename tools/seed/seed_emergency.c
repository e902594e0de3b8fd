/*
 * seed_emergency.c - emergency.db of onenet-seed: the vulnerable-people
 * registry (about 8 %: mostly 70 and over, nearly all elderly living
 * alone), the shelters of every district and past incidents.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "seed.h"

static const char s_em_schema[] = "CREATE TABLE vulnerable_persons ("
                                  "  resident_id TEXT PRIMARY KEY,"
                                  "  name TEXT NOT NULL,"
                                  "  birth_date TEXT NOT NULL,"
                                  "  sex TEXT NOT NULL CHECK (sex IN ('M', 'F')),"
                                  "  district_code TEXT NOT NULL,"
                                  "  address TEXT NOT NULL,"
                                  "  phone TEXT NOT NULL DEFAULT '',"
                                  "  elderly_alone INTEGER NOT NULL,"
                                  "  disabled INTEGER NOT NULL,"
                                  "  needs_evacuation_help INTEGER NOT NULL,"
                                  "  evacuation_priority INTEGER NOT NULL," /* 1 first .. 3 */
                                  "  caretaker_phone TEXT NOT NULL DEFAULT '',"
                                  "  shelter_id TEXT NOT NULL DEFAULT '',"
                                  "  notes TEXT NOT NULL DEFAULT '',"
                                  "  updated_at_ms INTEGER NOT NULL);"
                                  "CREATE TABLE shelters ("
                                  "  shelter_id TEXT PRIMARY KEY,"
                                  "  name TEXT NOT NULL,"
                                  "  district_code TEXT NOT NULL,"
                                  "  address TEXT NOT NULL,"
                                  "  capacity INTEGER NOT NULL,"
                                  "  occupancy INTEGER NOT NULL,"
                                  "  status TEXT NOT NULL," /* standby open full closed */
                                  "  accessible INTEGER NOT NULL,"
                                  "  updated_at_ms INTEGER NOT NULL);"
                                  "CREATE TABLE incidents ("
                                  "  incident_id TEXT PRIMARY KEY,"
                                  "  kind TEXT NOT NULL,"
                                  "  level INTEGER NOT NULL,"
                                  "  district_code TEXT NOT NULL,"
                                  "  location TEXT NOT NULL,"
                                  "  status TEXT NOT NULL," /* open closed */
                                  "  started_at_ms INTEGER NOT NULL,"
                                  "  ended_at_ms INTEGER NOT NULL,"
                                  "  description TEXT NOT NULL);";
static const char s_em_indexes[] =
    "CREATE INDEX vulnerable_persons_district ON vulnerable_persons (district_code);"
    "CREATE INDEX shelters_district ON shelters (district_code);"
    "CREATE INDEX incidents_district ON incidents (district_code, started_at_ms);";

const store_schema_t seed_emergency_db = {
    .file = "emergency.db",
    .tables = s_em_schema,
    /* insert[0] vulnerable_persons, [1] shelters, [2] incidents */
    .inserts = {"INSERT INTO vulnerable_persons VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                "INSERT INTO shelters VALUES (?,?,?,?,?,?,?,?,?)",
                "INSERT INTO incidents VALUES (?,?,?,?,?,?,?,?,?)"},
    .indexes = s_em_indexes,
};

void
seed_emergency_write (seed_t *seed, const household_t *household, const person_t *p)
{
    bool elderly_alone = household->size == 1 && p->age >= 70;
    unsigned chance = elderly_alone ? 900 : p->age >= 70 ? 220 : 12;
    if (!seed_rng_chance (&seed->rng, chance))
        return;
    bool disabled = p->age >= 70 ? seed_rng_chance (&seed->rng, 200) : true;
    bool needs_help = p->age >= 85 || (disabled && seed_rng_chance (&seed->rng, 500));
    int priority = needs_help ? 1 : (elderly_alone || disabled) ? 2 : 3;
    static const char *const notes[] = {"",
                                        "",
                                        "uses a wheelchair",
                                        "hearing impaired",
                                        "lives on an upper floor without a lift",
                                        "needs oxygen at home",
                                        "may not answer the door: dementia",
                                        "visually impaired"};
    char caretaker[16] = "", shelter[24];
    if (seed_rng_chance (&seed->rng, 700))
        seed_make_phone (seed, caretaker);
    snprintf (shelter, sizeof shelter, "S%s-%02ld", seed_divisions[household->district].code,
              (long)seed_rng_range (&seed->rng, 1, seed->shelters_per_district));
    sqlite3_stmt *stmt = seed->em.insert[0];
    seed_bind_text (stmt, 1, p->resident_id);
    seed_bind_text (stmt, 2, p->name);
    seed_bind_text (stmt, 3, p->birth_date);
    seed_bind_text (stmt, 4, p->sex == 'M' ? "M" : "F");
    seed_bind_text (stmt, 5, seed_divisions[household->district].code);
    seed_bind_text (stmt, 6, household->address);
    seed_bind_text (stmt, 7, p->phone);
    seed_bind_int (stmt, 8, elderly_alone);
    seed_bind_int (stmt, 9, disabled);
    seed_bind_int (stmt, 10, needs_help);
    seed_bind_int (stmt, 11, priority);
    seed_bind_text (stmt, 12, caretaker);
    seed_bind_text (stmt, 13, shelter);
    seed_bind_text (stmt, 14, disabled || needs_help ? seed_pick (seed, notes, 8) : "");
    seed_bind_int (stmt, 15, seed_recent_ms (seed, 2 * 365));
    seed_store_step (&seed->em, stmt);
    seed->counts.vulnerable++;
    seed->counts.elderly_alone += elderly_alone;
}

void
seed_emergency_write_shelters (seed_t *seed)
{
    for (size_t d = 0; d < seed_division_count; d++)
        for (long k = 1; k <= seed->shelters_per_district; k++) {
            char id[24], name[96], address[160];
            snprintf (id, sizeof id, "S%s-%02ld", seed_divisions[d].code, k);
            snprintf (name, sizeof name, "%s %s %ld", seed_divisions[d].name_en,
                      seed_pick (seed, seed_venues, seed_venue_count), k);
            snprintf (address, sizeof address, "%s %s %u号", seed_divisions[d].name_en,
                      seed_pick (seed, seed_streets, seed_street_count),
                      (unsigned)seed_rng_range (&seed->rng, 1, 480));
            int capacity = (int)seed_rng_range (&seed->rng, 2, 30) * 100;
            size_t roll = (size_t)seed_rng_below (&seed->rng, 100);
            const char *status = roll < 82   ? "standby"
                                 : roll < 92 ? "open"
                                 : roll < 95 ? "full"
                                             : "closed";
            int occupancy = strcmp (status, "open") == 0
                                ? (int)seed_rng_range (&seed->rng, 0, capacity - 1)
                            : strcmp (status, "full") == 0 ? capacity
                                                           : 0;
            sqlite3_stmt *stmt = seed->em.insert[1];
            seed_bind_text (stmt, 1, id);
            seed_bind_text (stmt, 2, name);
            seed_bind_text (stmt, 3, seed_divisions[d].code);
            seed_bind_text (stmt, 4, address);
            seed_bind_int (stmt, 5, capacity);
            seed_bind_int (stmt, 6, occupancy);
            seed_bind_text (stmt, 7, status);
            seed_bind_int (stmt, 8, seed_rng_chance (&seed->rng, 600));
            seed_bind_int (stmt, 9, seed_recent_ms (seed, 365));
            seed_store_step (&seed->em, stmt);
            seed->counts.shelters++;
        }
}

void
seed_emergency_write_incidents (seed_t *seed, long count)
{
    static const char *const kinds[] = {"flood",     "fire",  "earthquake",
                                        "landslide", "storm", "chemical"};
    static const seed_weighted_t levels[] = {{"1", 2}, {"2", 8}, {"3", 30}, {"4", 60}};
    for (long i = 1; i <= count; i++) {
        size_t d = (size_t)seed_rng_below (&seed->rng, seed_division_count);
        const char *kind = seed_pick (seed, kinds, 6);
        const char *street = seed_pick (seed, seed_streets, seed_street_count);
        int64_t started = seed_recent_ms (seed, 2 * 365);
        bool open = seed_rng_chance (&seed->rng, 100);
        int64_t ended =
            open ? 0 : started + seed_rng_range (&seed->rng, 3600000LL, 10 * MS_PER_DAY);
        if (ended > seed->ref_ms)
            ended = seed->ref_ms;
        char id[24], location[128], description[200];
        snprintf (id, sizeof id, "E%07ld", i);
        snprintf (location, sizeof location, "%s %s", seed_divisions[d].name_en, street);
        snprintf (description, sizeof description, "Synthetic %s incident on %s, %s", kind, street,
                  seed_divisions[d].name_en);
        sqlite3_stmt *stmt = seed->em.insert[2];
        seed_bind_text (stmt, 1, id);
        seed_bind_text (stmt, 2, kind);
        seed_bind_int (stmt, 3, (int64_t)seed_rng_weighted (&seed->rng, levels, 4) + 1);
        seed_bind_text (stmt, 4, seed_divisions[d].code);
        seed_bind_text (stmt, 5, location);
        seed_bind_text (stmt, 6, open ? "open" : "closed");
        seed_bind_int (stmt, 7, started);
        seed_bind_int (stmt, 8, ended);
        seed_bind_text (stmt, 9, description);
        seed_store_step (&seed->em, stmt);
        seed->counts.incidents++;
    }
}
