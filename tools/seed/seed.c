/*
 * seed.c - onenet-seed: writes the three reference department stores
 * (public_security.db, social_security.db, emergency.db) full of
 * deterministic synthetic people, for demos, tests and load.
 *
 *   onenet-seed --out DIR [--people N] [--seed S] [--quiet]
 *
 * A progress bar goes to stderr when it is a terminal (not with --quiet);
 * the summary (rows per table, elapsed time) always goes to stdout.
 *
 * Households are generated one by one (head, spouse, children, a parent)
 * and each person is written to every department that would know them:
 * public security knows everyone; social security about 75 % (adults
 * mostly); emergency management's vulnerable-people registry about 8 %
 * (mostly 70 and over, nearly all elderly living alone). A few deliberate
 * inconsistencies, about 1 % of insured people with another address and
 * 0.5 % with another phone in social security, are what the one network
 * view must reveal.
 *
 * The same seed and count always give the same rows: one xoshiro256**
 * stream (synth.c), consumed in a fixed order, and a fixed "as of" date
 * (2026-01-01) instead of the clock. Every DB is built in a temporary
 * file in one transaction with prepared statements, indexed after the
 * bulk load, switched to WAL, then renamed over the old one.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <onenet/resident_id.h>
#include "tables.h"

#define DEFAULT_PEOPLE 10000
#define DEFAULT_SEED 20261123ULL
#define MAX_PEOPLE 20000000L
#define MAX_MEMBERS 5
/* Ages run 0..95: birth days lie within this many days before the as-of date. */
#define DAY_SPAN (96 * 366 + 1)
#define MS_PER_DAY 86400000LL

/* One synthetic person, as the generator knows them. */
typedef struct {
    char resident_id[19];
    char name[32];
    char birth_date[11];
    int64_t birth_day;
    int age;
    char sex;               /* 'M' or 'F' */
    size_t surname;         /* index into seed_surnames */
    char phone[16];         /* "" for young children */
    const char *relation;
    int64_t updated_at_ms;
} person_t;

/* A household: everyone registered at one address. */
typedef struct {
    char household_id[24];
    size_t district;
    char address[160];
    size_t size;
    person_t members[MAX_MEMBERS];
} household_t;

/* Statements of one department store. */
typedef struct {
    sqlite3 *db;
    char path[1024];        /* final file */
    char temp_path[1040];   /* built here, then renamed */
    sqlite3_stmt *insert[4];
} store_t;

/* Row counters printed in the summary. */
typedef struct {
    long persons, households, reports;
    long insured, contributions, claims, payments;
    long vulnerable, shelters, incidents;
    long address_differs, phone_differs, elderly_alone;
} counts_t;

typedef struct {
    seed_rng_t rng;
    int64_t ref_day;        /* the "as of" date of the data */
    int64_t ref_ms;
    uint8_t *male_seq;      /* per (area, birth day): sequence numbers used */
    uint8_t *female_seq;
    long household_serial, report_serial, claim_serial, payment_serial, insurance_serial;
    long shelters_per_district;
    store_t ps, ss, em;
    counts_t counts;
} seed_t;

static void
die (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "onenet-seed: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    exit (1);
}

/* --- SQLite helpers: any failure here is fatal for a generator --- */

static void
exec_sql (store_t *store, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec (store->db, sql, NULL, NULL, &err) != SQLITE_OK)
        die ("%s: %s", store->temp_path, err ? err : "unknown error");
}

static sqlite3_stmt *
prepare (store_t *store, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL) != SQLITE_OK)
        die ("%s: %s", store->temp_path, sqlite3_errmsg (store->db));
    return stmt;
}

static void
bind_text (sqlite3_stmt *stmt, int column, const char *text)
{
    sqlite3_bind_text (stmt, column, text, -1, SQLITE_STATIC);
}

static void
bind_int (sqlite3_stmt *stmt, int column, int64_t value)
{
    sqlite3_bind_int64 (stmt, column, value);
}

static void
step (store_t *store, sqlite3_stmt *stmt)
{
    if (sqlite3_step (stmt) != SQLITE_DONE)
        die ("%s: %s", store->temp_path, sqlite3_errmsg (store->db));
    sqlite3_reset (stmt);
}

static void
remove_file (const char *path)
{
    if (unlink (path) < 0 && errno != ENOENT)
        die ("cannot remove %s: %s", path, strerror (errno));
}

static void
store_open (store_t *store, const char *dir, const char *file, const char *schema)
{
    snprintf (store->path, sizeof store->path, "%s/%s", dir, file);
    snprintf (store->temp_path, sizeof store->temp_path, "%s.tmp", store->path);
    remove_file (store->temp_path);
    if (sqlite3_open_v2 (store->temp_path, &store->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
        != SQLITE_OK)
        die ("cannot create %s: %s", store->temp_path, sqlite3_errmsg (store->db));
    /* A generator that fails is simply run again: no journal, no fsync. */
    exec_sql (store, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                     "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;");
    exec_sql (store, schema);
    exec_sql (store, "BEGIN");
}

static void
store_close (store_t *store, const char *indexes)
{
    for (size_t i = 0; i < sizeof store->insert / sizeof store->insert[0]; i++)
        sqlite3_finalize (store->insert[i]);
    exec_sql (store, indexes);
    exec_sql (store, "COMMIT");
    exec_sql (store, "PRAGMA journal_mode = WAL");
    if (sqlite3_close (store->db) != SQLITE_OK)
        die ("%s: %s", store->temp_path, sqlite3_errmsg (store->db));
    char side[1100];
    snprintf (side, sizeof side, "%s-wal", store->path);
    remove_file (side);
    snprintf (side, sizeof side, "%s-shm", store->path);
    remove_file (side);
    if (rename (store->temp_path, store->path) < 0)
        die ("cannot rename %s to %s: %s", store->temp_path, store->path, strerror (errno));
}

/* --- schemas --- */

static const char s_ps_schema[]
    = "CREATE TABLE persons ("
      "  resident_id TEXT PRIMARY KEY,"
      "  name TEXT NOT NULL,"
      "  birth_date TEXT NOT NULL,"                 /* YYYY-MM-DD */
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
static const char s_ps_indexes[]
    = "CREATE INDEX persons_name ON persons (name, birth_date);"
      "CREATE INDEX persons_household ON persons (household_id);"
      "CREATE INDEX incident_reports_resident ON incident_reports (resident_id);";

static const char s_ss_schema[]
    = "CREATE TABLE insured_persons ("
      "  resident_id TEXT PRIMARY KEY,"
      "  insurance_no TEXT NOT NULL UNIQUE,"
      "  name TEXT NOT NULL,"
      "  birth_date TEXT NOT NULL,"
      "  sex TEXT NOT NULL CHECK (sex IN ('M', 'F')),"
      "  address TEXT NOT NULL,"
      "  phone TEXT NOT NULL DEFAULT '',"
      "  employer TEXT NOT NULL DEFAULT '',"
      "  enrolled_on TEXT NOT NULL,"
      "  pension_status TEXT NOT NULL,"           /* not_eligible contributing suspended receiving */
      "  updated_at_ms INTEGER NOT NULL);"
      "CREATE TABLE contributions ("
      "  id INTEGER PRIMARY KEY,"
      "  resident_id TEXT NOT NULL,"
      "  year INTEGER NOT NULL,"
      "  scheme TEXT NOT NULL,"                   /* pension medical unemployment */
      "  months INTEGER NOT NULL,"
      "  amount_fen INTEGER NOT NULL,"
      "  employer TEXT NOT NULL DEFAULT '');"
      "CREATE TABLE benefit_claims ("
      "  claim_id TEXT PRIMARY KEY,"
      "  resident_id TEXT NOT NULL,"
      "  kind TEXT NOT NULL,"
      "  filed_on TEXT NOT NULL,"
      "  status TEXT NOT NULL,"                   /* pending approved rejected paid */
      "  amount_fen INTEGER NOT NULL);"
      "CREATE TABLE benefit_payments ("
      "  payment_id TEXT PRIMARY KEY,"
      "  claim_id TEXT NOT NULL,"
      "  resident_id TEXT NOT NULL,"
      "  paid_on TEXT NOT NULL,"
      "  amount_fen INTEGER NOT NULL);";
static const char s_ss_indexes[]
    = "CREATE INDEX contributions_resident ON contributions (resident_id, year);"
      "CREATE INDEX benefit_claims_resident ON benefit_claims (resident_id);"
      "CREATE INDEX benefit_payments_claim ON benefit_payments (claim_id);";

static const char s_em_schema[]
    = "CREATE TABLE vulnerable_persons ("
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
      "  evacuation_priority INTEGER NOT NULL,"   /* 1 first .. 3 */
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
      "  status TEXT NOT NULL,"                   /* standby open full closed */
      "  accessible INTEGER NOT NULL,"
      "  updated_at_ms INTEGER NOT NULL);"
      "CREATE TABLE incidents ("
      "  incident_id TEXT PRIMARY KEY,"
      "  kind TEXT NOT NULL,"
      "  level INTEGER NOT NULL,"
      "  district_code TEXT NOT NULL,"
      "  location TEXT NOT NULL,"
      "  status TEXT NOT NULL,"                   /* open closed */
      "  started_at_ms INTEGER NOT NULL,"
      "  ended_at_ms INTEGER NOT NULL,"
      "  description TEXT NOT NULL);";
static const char s_em_indexes[]
    = "CREATE INDEX vulnerable_persons_district ON vulnerable_persons (district_code);"
      "CREATE INDEX shelters_district ON shelters (district_code);"
      "CREATE INDEX incidents_district ON incidents (district_code, started_at_ms);";

/* --- synthetic values --- */

static const char *
pick (seed_t *seed, const char *const *list, size_t count)
{
    return list[seed_rng_below (&seed->rng, count)];
}

static void
make_name (seed_t *seed, person_t *person)
{
    const char *const *own = person->sex == 'M' ? seed_given_male : seed_given_female;
    size_t own_count = person->sex == 'M' ? seed_given_male_count : seed_given_female_count;
    char given[16] = "";
    int chars = seed_rng_chance (&seed->rng, 300) ? 1 : 2;
    for (int i = 0; i < chars; i++)
        strcat (given, seed_rng_chance (&seed->rng, 750)
                           ? pick (seed, own, own_count)
                           : pick (seed, seed_given_any, seed_given_any_count));
    snprintf (person->name, sizeof person->name, "%s%s", seed_surnames[person->surname].text,
              given);
}

static void
make_phone (seed_t *seed, char out[16])
{
    static const char second[] = "35789";
    snprintf (out, 16, "1%c%09" PRIu64, second[seed_rng_below (&seed->rng, 5)],
              seed_rng_below (&seed->rng, 1000000000ULL));
}

static void
make_address (seed_t *seed, size_t district, char *out, size_t size)
{
    const char *street = pick (seed, seed_streets, seed_street_count);
    unsigned number = (unsigned) seed_rng_range (&seed->rng, 1, 480);
    if (seed_rng_chance (&seed->rng, 700))
        snprintf (out, size, "%s %s %u号 %u栋%u单元%u室", seed_divisions[district].name_en, street,
                  number, (unsigned) seed_rng_range (&seed->rng, 1, 20),
                  (unsigned) seed_rng_range (&seed->rng, 1, 4),
                  (unsigned) seed_rng_range (&seed->rng, 1, 32) * 100
                      + (unsigned) seed_rng_range (&seed->rng, 1, 6));
    else
        snprintf (out, size, "%s %s %u号", seed_divisions[district].name_en, street, number);
}

static void
make_employer (seed_t *seed, char *out, size_t size)
{
    snprintf (out, size, "%s%s", pick (seed, seed_employer_names, seed_employer_name_count),
              pick (seed, seed_employer_kinds, seed_employer_kind_count));
}

/* A moment in the last `days` days before the as-of date, Unix ms. */
static int64_t
recent_ms (seed_t *seed, int64_t days)
{
    return seed->ref_ms - seed_rng_range (&seed->rng, 60000, days * MS_PER_DAY);
}

/* Fills birth_day, birth_date and resident_id for a person of this age
 * whose ID was issued in district area. The 3-digit sequence is unique
 * per (area, birth day): odd for men, even for women, in a scrambled but
 * repeatable order. */
static void
make_identity (seed_t *seed, person_t *person, size_t area)
{
    int64_t back = (int64_t) person->age * 365 + person->age / 4
                   + seed_rng_range (&seed->rng, 0, 364);
    if (back >= DAY_SPAN)
        back = DAY_SPAN - 1;
    for (;; back = (back + 1) % DAY_SPAN) {
        uint64_t key = (uint64_t) area * DAY_SPAN + (uint64_t) back;
        uint8_t *used = person->sex == 'M' ? &seed->male_seq[key] : &seed->female_seq[key];
        unsigned modulus = person->sex == 'M' ? 500 : 499;
        if (*used >= 250)   /* never at realistic sizes: move the birthday */
            continue;
        unsigned index = ((unsigned) *used * 37 + (unsigned) (key * 2654435761u % modulus))
                         % modulus;
        (*used)++;
        unsigned sequence = person->sex == 'M' ? index * 2 + 1 : index * 2 + 2;
        person->birth_day = seed->ref_day - back;
        int year, month, day;
        seed_civil_from_days (person->birth_day, &year, &month, &day);
        seed_format_date (person->birth_day, person->birth_date);
        char first17[18];
        snprintf (first17, sizeof first17, "%.6s%04u%02u%02u%03u", seed_divisions[area].code,
                  (unsigned) year % 10000u, (unsigned) month % 100u, (unsigned) day % 100u,
                  sequence % 1000u);
        snprintf (person->resident_id, sizeof person->resident_id, "%s%c", first17,
                  onenet_resident_id_check_digit (first17));
        return;
    }
}

static void
make_person (seed_t *seed, household_t *household, person_t *person, int age, char sex,
             size_t surname, const char *relation)
{
    memset (person, 0, sizeof *person);
    person->age = age < 0 ? 0 : age > 95 ? 95 : age;
    person->sex = sex;
    person->surname = surname;
    person->relation = relation;
    make_name (seed, person);
    /* Most people hold an ID issued where they live; some moved here. */
    size_t area = seed_rng_chance (&seed->rng, 850)
                      ? household->district
                      : (size_t) seed_rng_below (&seed->rng, seed_division_count);
    make_identity (seed, person, area);
    if (person->age >= 12 && seed_rng_chance (&seed->rng, 930))
        make_phone (seed, person->phone);
    person->updated_at_ms = recent_ms (seed, 3 * 365);
}

static char
other_sex (char sex)
{
    return sex == 'M' ? 'F' : 'M';
}

static char
random_sex (seed_t *seed)
{
    return seed_rng_chance (&seed->rng, 500) ? 'M' : 'F';
}

static size_t
random_surname (seed_t *seed)
{
    return seed_rng_weighted (&seed->rng, seed_surnames, seed_surname_count);
}

/* A household of up to `room` people: head, maybe a spouse, then children
 * or a parent of the head. */
static void
make_household (seed_t *seed, household_t *household, size_t room)
{
    static const seed_weighted_t sizes[] = { { "1", 24 }, { "2", 30 }, { "3", 24 },
                                             { "4", 13 }, { "5", 9 } };
    memset (household, 0, sizeof *household);
    household->district = (size_t) seed_rng_below (&seed->rng, seed_division_count);
    snprintf (household->household_id, sizeof household->household_id, "H%s%07ld",
              seed_divisions[household->district].code, ++seed->household_serial);
    make_address (seed, household->district, household->address, sizeof household->address);
    size_t size = seed_rng_weighted (&seed->rng, sizes, 5) + 1;
    if (size > room)
        size = room;

    int head_age = size == 1 ? (seed_rng_chance (&seed->rng, 450)
                                    ? (int) seed_rng_range (&seed->rng, 65, 95)
                                    : (int) seed_rng_range (&seed->rng, 20, 64))
                             : (int) seed_rng_range (&seed->rng, 22, 85);
    char head_sex = random_sex (seed);
    size_t family = random_surname (seed);
    make_person (seed, household, &household->members[0], head_age, head_sex, family, "head");
    household->size = 1;
    bool has_parent = false;
    while (household->size < size) {
        person_t *member = &household->members[household->size];
        if (household->size == 1 && seed_rng_chance (&seed->rng, 850)) {
            int age = head_age + (int) seed_rng_range (&seed->rng, -6, 6);
            make_person (seed, household, member, age < 20 ? 20 : age, other_sex (head_sex),
                         random_surname (seed), "spouse");
        } else if (!has_parent && head_age <= 62 && seed_rng_chance (&seed->rng, 250)) {
            int age = head_age + (int) seed_rng_range (&seed->rng, 22, 34);
            char sex = random_sex (seed);
            make_person (seed, household, member, age, sex,
                         sex == 'M' ? family : random_surname (seed), "parent");
            has_parent = true;
        } else if (head_age >= 20) {
            int oldest = head_age - 20 < 40 ? head_age - 20 : 40;
            make_person (seed, household, member, (int) seed_rng_range (&seed->rng, 0, oldest),
                         random_sex (seed), seed_rng_chance (&seed->rng, 900) ? family
                                                                             : random_surname (seed),
                         "child");
        } else {
            make_person (seed, household, member, (int) seed_rng_range (&seed->rng, 0, 95),
                         random_sex (seed), random_surname (seed), "other");
        }
        household->size++;
    }
}

/* --- public security --- */

static void
write_public_security (seed_t *seed, household_t *household)
{
    store_t *ps = &seed->ps;
    for (size_t i = 0; i < household->size; i++) {
        person_t *p = &household->members[i];
        sqlite3_stmt *stmt = ps->insert[0];
        bind_text (stmt, 1, p->resident_id);
        bind_text (stmt, 2, p->name);
        bind_text (stmt, 3, p->birth_date);
        bind_text (stmt, 4, p->sex == 'M' ? "M" : "F");
        bind_text (stmt, 5, seed_divisions[household->district].code);
        bind_text (stmt, 6, household->address);
        bind_text (stmt, 7, household->household_id);
        bind_text (stmt, 8, p->relation);
        bind_text (stmt, 9, p->phone);
        bind_int (stmt, 10, p->updated_at_ms);
        step (ps, stmt);
        seed->counts.persons++;

        if (p->age >= 14 && seed_rng_chance (&seed->rng, 15)) {
            static const char *const kinds[] = { "theft",   "dispute", "traffic",
                                                 "fraud",   "noise",   "missing_person" };
            const char *kind = pick (seed, kinds, 6);
            char id[24], summary[160];
            snprintf (id, sizeof id, "R%s%07ld", seed_divisions[household->district].code,
                      ++seed->report_serial);
            snprintf (summary, sizeof summary, "Synthetic %s report near %s", kind,
                      pick (seed, seed_streets, seed_street_count));
            stmt = ps->insert[2];
            bind_text (stmt, 1, id);
            bind_text (stmt, 2, p->resident_id);
            bind_text (stmt, 3, kind);
            bind_text (stmt, 4, seed_rng_chance (&seed->rng, 800) ? "closed" : "open");
            bind_text (stmt, 5, seed_divisions[household->district].code);
            bind_int (stmt, 6, recent_ms (seed, 3 * 365));
            bind_text (stmt, 7, summary);
            step (ps, stmt);
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
    bind_text (stmt, 1, household->household_id);
    bind_text (stmt, 2, household->members[0].resident_id);
    bind_text (stmt, 3, seed_divisions[household->district].code);
    bind_text (stmt, 4, household->address);
    bind_text (stmt, 5, registered_on);
    bind_int (stmt, 6, recent_ms (seed, 5 * 365));
    step (ps, stmt);
    seed->counts.households++;
}

/* --- social security --- */

static void
write_contribution (seed_t *seed, const person_t *p, int year, const char *scheme, int months,
                    int64_t amount, const char *employer)
{
    sqlite3_stmt *stmt = seed->ss.insert[1];
    bind_text (stmt, 1, p->resident_id);
    bind_int (stmt, 2, year);
    bind_text (stmt, 3, scheme);
    bind_int (stmt, 4, months);
    bind_int (stmt, 5, amount);
    bind_text (stmt, 6, employer);
    step (&seed->ss, stmt);
    seed->counts.contributions++;
}

static void
write_claims (seed_t *seed, const person_t *p, bool retired)
{
    static const char *const working[] = { "unemployment", "medical", "work_injury" };
    static const seed_weighted_t statuses[] = { { "pending", 15 }, { "approved", 25 },
                                                { "rejected", 10 }, { "paid", 50 } };
    int claims = (int) seed_rng_range (&seed->rng, 1, 2);
    for (int c = 0; c < claims; c++) {
        const char *kind = retired ? (seed_rng_chance (&seed->rng, 400) ? "pension" : "medical")
                           : p->sex == 'F' && p->age >= 22 && p->age <= 42
                                   && seed_rng_chance (&seed->rng, 300)
                               ? "maternity"
                               : pick (seed, working, 3);
        const char *status = statuses[seed_rng_weighted (&seed->rng, statuses, 4)].text;
        int64_t filed = seed->ref_day - seed_rng_range (&seed->rng, 1, 3 * 365);
        int64_t amount = seed_rng_range (&seed->rng, 50000, 3000000);
        char claim_id[24], filed_on[11];
        snprintf (claim_id, sizeof claim_id, "C%09ld", ++seed->claim_serial);
        seed_format_date (filed, filed_on);
        sqlite3_stmt *stmt = seed->ss.insert[2];
        bind_text (stmt, 1, claim_id);
        bind_text (stmt, 2, p->resident_id);
        bind_text (stmt, 3, kind);
        bind_text (stmt, 4, filed_on);
        bind_text (stmt, 5, status);
        bind_int (stmt, 6, amount);
        step (&seed->ss, stmt);
        seed->counts.claims++;

        int payments = strcmp (status, "paid") == 0       ? (int) seed_rng_range (&seed->rng, 1, 3)
                       : strcmp (status, "approved") == 0 ? 1
                                                          : 0;
        for (int i = 0; i < payments; i++) {
            char payment_id[24], paid_on[11];
            snprintf (payment_id, sizeof payment_id, "P%010ld", ++seed->payment_serial);
            int64_t day = filed + 30 * (i + 1);
            seed_format_date (day < seed->ref_day ? day : seed->ref_day - 1, paid_on);
            stmt = seed->ss.insert[3];
            bind_text (stmt, 1, payment_id);
            bind_text (stmt, 2, claim_id);
            bind_text (stmt, 3, p->resident_id);
            bind_text (stmt, 4, paid_on);
            bind_int (stmt, 5, amount / payments);
            step (&seed->ss, stmt);
            seed->counts.payments++;
        }
    }
}

static void
write_social_security (seed_t *seed, const household_t *household, const person_t *p)
{
    unsigned chance = p->age < 16 ? 80 : p->age < 18 ? 200 : p->age < 60 ? 930 : 900;
    if (!seed_rng_chance (&seed->rng, chance))
        return;
    int retire_age = p->sex == 'M' ? 60 : 55;
    bool retired = p->age >= retire_age;
    const char *status = p->age < 16                          ? "not_eligible"
                         : retired                            ? (seed_rng_chance (&seed->rng, 960)
                                                                     ? "receiving"
                                                                     : "suspended")
                         : seed_rng_chance (&seed->rng, 880) ? "contributing"
                                                              : "suspended";
    char employer[64] = "";
    if (strcmp (status, "contributing") == 0 && seed_rng_chance (&seed->rng, 850))
        make_employer (seed, employer, sizeof employer);

    /* The deliberate inconsistencies the view must reveal. */
    char address[160], phone[16];
    snprintf (address, sizeof address, "%s", household->address);
    snprintf (phone, sizeof phone, "%s", p->phone);
    if (seed_rng_chance (&seed->rng, 10)) {
        make_address (seed, (size_t) seed_rng_below (&seed->rng, seed_division_count), address,
                      sizeof address);
        if (strcmp (address, household->address) != 0)
            seed->counts.address_differs++;
    }
    if (*phone && seed_rng_chance (&seed->rng, 6)) {
        make_phone (seed, phone);
        if (strcmp (phone, p->phone) != 0)
            seed->counts.phone_differs++;
    }

    int64_t enroll_from = p->birth_day + 18 * 365;
    if (enroll_from < seed_days_from_civil (1995, 1, 1))
        enroll_from = seed_days_from_civil (1995, 1, 1);
    if (enroll_from > seed->ref_day - 30)   /* minors: residents' medical scheme */
        enroll_from = p->birth_day > seed->ref_day - 3 * 365 ? p->birth_day
                                                              : seed->ref_day - 3 * 365;
    int64_t span = seed->ref_day - 1 - enroll_from;
    int64_t enrolled = enroll_from + seed_rng_range (&seed->rng, 0, span < 5 * 365 ? span : 5 * 365);
    char enrolled_on[11], insurance_no[24];
    seed_format_date (enrolled, enrolled_on);
    snprintf (insurance_no, sizeof insurance_no, "SS%s%08ld",
              seed_divisions[household->district].code, ++seed->insurance_serial);

    sqlite3_stmt *stmt = seed->ss.insert[0];
    bind_text (stmt, 1, p->resident_id);
    bind_text (stmt, 2, insurance_no);
    bind_text (stmt, 3, p->name);
    bind_text (stmt, 4, p->birth_date);
    bind_text (stmt, 5, p->sex == 'M' ? "M" : "F");
    bind_text (stmt, 6, address);
    bind_text (stmt, 7, phone);
    bind_text (stmt, 8, employer);
    bind_text (stmt, 9, enrolled_on);
    bind_text (stmt, 10, status);
    bind_int (stmt, 11, recent_ms (seed, 2 * 365));
    step (&seed->ss, stmt);
    seed->counts.insured++;

    /* Yearly records of the last four years since enrolment. */
    int ref_year, enrolled_year, enrolled_month, day;
    seed_civil_from_days (seed->ref_day, &ref_year, &enrolled_month, &day);
    seed_civil_from_days (enrolled, &enrolled_year, &enrolled_month, &day);
    int first_year = enrolled_year < ref_year - 4 ? ref_year - 4 : enrolled_year;
    int last_year = ref_year - 1;
    if (strcmp (status, "suspended") == 0)
        last_year = (int) seed_rng_range (&seed->rng, first_year, last_year);
    int64_t base = seed_rng_range (&seed->rng, 300000, 1500000);   /* monthly wage base, fen */
    bool medical = seed_rng_chance (&seed->rng, 700), unemployment = seed_rng_chance (&seed->rng, 400);
    for (int year = last_year; year >= first_year; year--) {
        int months = year == enrolled_year ? 13 - enrolled_month : 12;
        if (strcmp (status, "not_eligible") == 0) {
            if (year == last_year)
                write_contribution (seed, p, year, "medical", 12, 38000, "");
        } else if (strcmp (status, "receiving") == 0) {
            if (year >= last_year - 1)
                write_contribution (seed, p, year, "medical", 12, base * 12 / 50, "");
        } else {
            write_contribution (seed, p, year, "pension", months, base * months * 24 / 100,
                                employer);
            if (medical)
                write_contribution (seed, p, year, "medical", months, base * months / 10, employer);
            if (unemployment && *employer)
                write_contribution (seed, p, year, "unemployment", months, base * months / 100,
                                    employer);
        }
    }
    if (p->age >= 16 && seed_rng_chance (&seed->rng, 70))
        write_claims (seed, p, retired);
}

/* --- emergency management --- */

static void
write_emergency (seed_t *seed, const household_t *household, const person_t *p)
{
    bool elderly_alone = household->size == 1 && p->age >= 70;
    unsigned chance = elderly_alone ? 900 : p->age >= 70 ? 220 : 12;
    if (!seed_rng_chance (&seed->rng, chance))
        return;
    bool disabled = p->age >= 70 ? seed_rng_chance (&seed->rng, 200) : true;
    bool needs_help = p->age >= 85 || (disabled && seed_rng_chance (&seed->rng, 500));
    int priority = needs_help ? 1 : (elderly_alone || disabled) ? 2 : 3;
    static const char *const notes[] = { "",
                                         "",
                                         "uses a wheelchair",
                                         "hearing impaired",
                                         "lives on an upper floor without a lift",
                                         "needs oxygen at home",
                                         "may not answer the door: dementia",
                                         "visually impaired" };
    char caretaker[16] = "", shelter[24];
    if (seed_rng_chance (&seed->rng, 700))
        make_phone (seed, caretaker);
    snprintf (shelter, sizeof shelter, "S%s-%02ld", seed_divisions[household->district].code,
              (long) seed_rng_range (&seed->rng, 1, seed->shelters_per_district));
    sqlite3_stmt *stmt = seed->em.insert[0];
    bind_text (stmt, 1, p->resident_id);
    bind_text (stmt, 2, p->name);
    bind_text (stmt, 3, p->birth_date);
    bind_text (stmt, 4, p->sex == 'M' ? "M" : "F");
    bind_text (stmt, 5, seed_divisions[household->district].code);
    bind_text (stmt, 6, household->address);
    bind_text (stmt, 7, p->phone);
    bind_int (stmt, 8, elderly_alone);
    bind_int (stmt, 9, disabled);
    bind_int (stmt, 10, needs_help);
    bind_int (stmt, 11, priority);
    bind_text (stmt, 12, caretaker);
    bind_text (stmt, 13, shelter);
    bind_text (stmt, 14, disabled || needs_help ? pick (seed, notes, 8) : "");
    bind_int (stmt, 15, recent_ms (seed, 2 * 365));
    step (&seed->em, stmt);
    seed->counts.vulnerable++;
    seed->counts.elderly_alone += elderly_alone;
}

static void
write_shelters (seed_t *seed)
{
    for (size_t d = 0; d < seed_division_count; d++)
        for (long k = 1; k <= seed->shelters_per_district; k++) {
            char id[24], name[96], address[160];
            snprintf (id, sizeof id, "S%s-%02ld", seed_divisions[d].code, k);
            snprintf (name, sizeof name, "%s %s %ld", seed_divisions[d].name_en,
                      pick (seed, seed_venues, seed_venue_count), k);
            snprintf (address, sizeof address, "%s %s %u号", seed_divisions[d].name_en,
                      pick (seed, seed_streets, seed_street_count),
                      (unsigned) seed_rng_range (&seed->rng, 1, 480));
            int capacity = (int) seed_rng_range (&seed->rng, 2, 30) * 100;
            size_t roll = (size_t) seed_rng_below (&seed->rng, 100);
            const char *status = roll < 82 ? "standby" : roll < 92 ? "open" : roll < 95 ? "full"
                                                                                      : "closed";
            int occupancy = strcmp (status, "open") == 0   ? (int) seed_rng_range (&seed->rng, 0, capacity - 1)
                            : strcmp (status, "full") == 0 ? capacity
                                                           : 0;
            sqlite3_stmt *stmt = seed->em.insert[1];
            bind_text (stmt, 1, id);
            bind_text (stmt, 2, name);
            bind_text (stmt, 3, seed_divisions[d].code);
            bind_text (stmt, 4, address);
            bind_int (stmt, 5, capacity);
            bind_int (stmt, 6, occupancy);
            bind_text (stmt, 7, status);
            bind_int (stmt, 8, seed_rng_chance (&seed->rng, 600));
            bind_int (stmt, 9, recent_ms (seed, 365));
            step (&seed->em, stmt);
            seed->counts.shelters++;
        }
}

static void
write_incidents (seed_t *seed, long count)
{
    static const char *const kinds[] = { "flood", "fire", "earthquake", "landslide", "storm",
                                         "chemical" };
    static const seed_weighted_t levels[] = { { "1", 2 }, { "2", 8 }, { "3", 30 }, { "4", 60 } };
    for (long i = 1; i <= count; i++) {
        size_t d = (size_t) seed_rng_below (&seed->rng, seed_division_count);
        const char *kind = pick (seed, kinds, 6);
        const char *street = pick (seed, seed_streets, seed_street_count);
        int64_t started = recent_ms (seed, 2 * 365);
        bool open = seed_rng_chance (&seed->rng, 100);
        int64_t ended = open ? 0 : started + seed_rng_range (&seed->rng, 3600000LL, 10 * MS_PER_DAY);
        if (ended > seed->ref_ms)
            ended = seed->ref_ms;
        char id[24], location[128], description[200];
        snprintf (id, sizeof id, "E%07ld", i);
        snprintf (location, sizeof location, "%s %s", seed_divisions[d].name_en, street);
        snprintf (description, sizeof description, "Synthetic %s incident on %s, %s", kind, street,
                  seed_divisions[d].name_en);
        sqlite3_stmt *stmt = seed->em.insert[2];
        bind_text (stmt, 1, id);
        bind_text (stmt, 2, kind);
        bind_int (stmt, 3, (int64_t) seed_rng_weighted (&seed->rng, levels, 4) + 1);
        bind_text (stmt, 4, seed_divisions[d].code);
        bind_text (stmt, 5, location);
        bind_text (stmt, 6, open ? "open" : "closed");
        bind_int (stmt, 7, started);
        bind_int (stmt, 8, ended);
        bind_text (stmt, 9, description);
        step (&seed->em, stmt);
        seed->counts.incidents++;
    }
}

/* --- command line --- */

static double
now_seconds (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
progress (long done, long total, double started)
{
    int width = 30, filled = (int) (done * width / total);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[width] = '\0';
    fprintf (stderr, "\ronenet-seed: [%s] %3ld%% %ld/%ld people %.1f s", bar, done * 100 / total,
             done, total, now_seconds () - started);
    fflush (stderr);
}

static void
make_dirs (const char *dir)
{
    char path[1024];
    snprintf (path, sizeof path, "%s", dir);
    for (char *slash = path + 1;; slash++) {
        bool end = *slash == '\0';
        if (end || *slash == '/') {
            *slash = '\0';
            if (mkdir (path, 0755) < 0 && errno != EEXIST)
                die ("cannot create %s: %s", path, strerror (errno));
            if (end)
                break;
            *slash = '/';
        }
    }
    struct stat st;
    if (stat (dir, &st) < 0 || !S_ISDIR (st.st_mode))
        die ("%s is not a directory", dir);
}

static void
usage (FILE *out)
{
    fprintf (out,
             "Usage: onenet-seed --out DIR [--people N] [--seed S] [--quiet]\n"
             "Writes synthetic department stores DIR/public_security.db, social_security.db\n"
             "and emergency.db (replacing them). The same seed and N give the same rows.\n"
             "  --out DIR     where to write (created if missing)\n"
             "  --people N    residents to generate (default %d, at most %ld)\n"
             "  --seed S      random seed (default %llu)\n"
             "  --quiet       no progress bar (the summary still goes to stdout)\n"
             "Example: onenet-seed --out /var/lib/onenet --people 1000000\n",
             DEFAULT_PEOPLE, MAX_PEOPLE, (unsigned long long) DEFAULT_SEED);
}

static bool
parse_number (const char *text, unsigned long long *value)
{
    char *end;
    errno = 0;
    *value = strtoull (text, &end, 10);
    return *text && *text != '-' && !*end && errno == 0;
}

/* Prints one resident ID for each situation worth showing a newcomer
 * (scripts/demo.sh reads these lines), found in the stores just written. */
static void
print_examples (const char *out)
{
    static const char *const examples[][2] = {
        { "known to all three departments",
          "SELECT v.resident_id FROM em.vulnerable_persons v"
          " JOIN ss.insured_persons i USING (resident_id) ORDER BY v.resident_id LIMIT 1" },
        { "address differs between departments",
          "SELECT p.resident_id FROM persons p JOIN ss.insured_persons i USING (resident_id)"
          " WHERE p.address <> i.address ORDER BY p.resident_id LIMIT 1" },
    };
    char path[4096], attach[8400];
    snprintf (path, sizeof path, "%s/public_security.db", out);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close (db);
        return;
    }
    snprintf (attach, sizeof attach, "ATTACH '%s/social_security.db' AS ss;"
              " ATTACH '%s/emergency.db' AS em;", out, out);
    if (sqlite3_exec (db, attach, NULL, NULL, NULL) == SQLITE_OK)
        for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
            sqlite3_stmt *stmt = NULL;
            if (sqlite3_prepare_v2 (db, examples[i][1], -1, &stmt, NULL) == SQLITE_OK
                && sqlite3_step (stmt) == SQLITE_ROW)
                printf ("  example (%s): %s\n", examples[i][0],
                        (const char *) sqlite3_column_text (stmt, 0));
            sqlite3_finalize (stmt);
        }
    sqlite3_close (db);
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "out", required_argument, NULL, 'o' },  { "people", required_argument, NULL, 'n' },
        { "seed", required_argument, NULL, 's' }, { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },       { NULL, 0, NULL, 0 },
    };
    const char *out = NULL;
    unsigned long long people = DEFAULT_PEOPLE, seed_value = DEFAULT_SEED;
    bool quiet = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "o:n:s:qh", options, NULL)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 'n':
            if (!parse_number (optarg, &people) || people < 1 || people > (unsigned long long) MAX_PEOPLE) {
                fprintf (stderr, "onenet-seed: --people must be 1..%ld, not '%s'\n", MAX_PEOPLE,
                         optarg);
                return 2;
            }
            break;
        case 's':
            if (!parse_number (optarg, &seed_value)) {
                fprintf (stderr, "onenet-seed: --seed must be a non-negative integer, not '%s'\n",
                         optarg);
                return 2;
            }
            break;
        case 'q': quiet = true; break;
        case 'h': usage (stdout); return 0;
        default: usage (stderr); return 2;
        }
    }
    if (!out || optind < argc) {
        fprintf (stderr, "onenet-seed: %s\n", out ? "unexpected argument" : "--out DIR is required");
        usage (stderr);
        return 2;
    }

    double started = now_seconds ();
    static seed_t seed;   /* zeroed; large */
    seed_rng_init (&seed.rng, seed_value);
    seed.ref_day = seed_days_from_civil (2026, 1, 1);
    seed.ref_ms = seed.ref_day * MS_PER_DAY;
    size_t keys = seed_division_count * (size_t) DAY_SPAN;
    seed.male_seq = calloc (keys, 1);
    seed.female_seq = calloc (keys, 1);
    if (!seed.male_seq || !seed.female_seq)
        die ("out of memory");
    long total = (long) people;
    seed.shelters_per_district = total / 100000 > 2 ? total / 100000 : 2;

    make_dirs (out);
    store_open (&seed.ps, out, "public_security.db", s_ps_schema);
    store_open (&seed.ss, out, "social_security.db", s_ss_schema);
    store_open (&seed.em, out, "emergency.db", s_em_schema);
    seed.ps.insert[0] = prepare (&seed.ps, "INSERT INTO persons VALUES (?,?,?,?,?,?,?,?,?,?)");
    seed.ps.insert[1] = prepare (&seed.ps, "INSERT INTO households VALUES (?,?,?,?,?,?)");
    seed.ps.insert[2] = prepare (&seed.ps, "INSERT INTO incident_reports VALUES (?,?,?,?,?,?,?)");
    seed.ss.insert[0]
        = prepare (&seed.ss, "INSERT INTO insured_persons VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    seed.ss.insert[1] = prepare (&seed.ss, "INSERT INTO contributions (resident_id, year, scheme,"
                                           " months, amount_fen, employer) VALUES (?,?,?,?,?,?)");
    seed.ss.insert[2] = prepare (&seed.ss, "INSERT INTO benefit_claims VALUES (?,?,?,?,?,?)");
    seed.ss.insert[3] = prepare (&seed.ss, "INSERT INTO benefit_payments VALUES (?,?,?,?,?)");
    seed.em.insert[0] = prepare (
        &seed.em, "INSERT INTO vulnerable_persons VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    seed.em.insert[1] = prepare (&seed.em, "INSERT INTO shelters VALUES (?,?,?,?,?,?,?,?,?)");
    seed.em.insert[2] = prepare (&seed.em, "INSERT INTO incidents VALUES (?,?,?,?,?,?,?,?,?)");

    bool bar = !quiet && isatty (STDERR_FILENO);
    write_shelters (&seed);
    household_t household;
    long last_percent = -1;
    while (seed.counts.persons < total) {
        make_household (&seed, &household, (size_t) (total - seed.counts.persons));
        write_public_security (&seed, &household);
        for (size_t i = 0; i < household.size; i++) {
            write_social_security (&seed, &household, &household.members[i]);
            write_emergency (&seed, &household, &household.members[i]);
        }
        long percent = seed.counts.persons * 100 / total;
        if (bar && percent != last_percent) {
            progress (seed.counts.persons, total, started);
            last_percent = percent;
        }
    }
    write_incidents (&seed, total / 500 > 20 ? total / 500 : 20);
    if (bar)
        fprintf (stderr, "\r\033[Konenet-seed: indexing...");
    store_close (&seed.ps, s_ps_indexes);
    store_close (&seed.ss, s_ss_indexes);
    store_close (&seed.em, s_em_indexes);
    if (bar)
        fprintf (stderr, "\r\033[K");   /* the bar is gone; the summary follows on stdout */
    free (seed.male_seq);
    free (seed.female_seq);

    const counts_t *c = &seed.counts;
    printf ("onenet-seed: %ld people, seed %llu, into %s\n", c->persons, seed_value, out);
    printf ("  public_security.db  persons %ld, households %ld, incident_reports %ld\n",
            c->persons, c->households, c->reports);
    printf ("  social_security.db  insured_persons %ld (%.1f%%), contributions %ld,"
            " benefit_claims %ld, benefit_payments %ld\n",
            c->insured, 100.0 * (double) c->insured / (double) c->persons, c->contributions,
            c->claims, c->payments);
    printf ("  emergency.db        vulnerable_persons %ld (%.1f%%, %ld elderly living alone),"
            " shelters %ld, incidents %ld\n",
            c->vulnerable, 100.0 * (double) c->vulnerable / (double) c->persons,
            c->elderly_alone, c->shelters, c->incidents);
    printf ("  deliberate inconsistencies (social security vs public security):"
            " %ld addresses, %ld phones\n",
            c->address_differs, c->phone_differs);
    printf ("  elapsed %.2f s\n", now_seconds () - started);
    print_examples (out);
    return 0;
}
