/*
 * tools/seed/seed.h - what the files of onenet-seed share: the generator's
 * state, the people and households it makes, and the calls each file
 * offers the others. Not installed.
 *
 *   seed.c                  the command: options, progress bar, summary,
 *                           and the order in which the stores are written
 *   seed_store.c            SQLite: a store built in a temporary file in
 *                           one transaction, then renamed into place
 *   seed_values.c           synthetic values: names, resident IDs, phones,
 *                           addresses, employers, whole households
 *   seed_public_security.c  public_security.db: persons, households,
 *                           incident reports
 *   seed_social_security.c  social_security.db: insured persons,
 *                           contributions, benefit claims and payments
 *   seed_emergency.c        emergency.db: vulnerable persons, shelters,
 *                           incidents
 *   synth.c, tables.c       the random generator and the vocabulary
 *                           (tables.h)
 *
 * Every value comes from the one random stream in seed_t, consumed in the
 * order seed.c calls the generators: the same seed gives the same rows
 * only while that order stays the same. Any failure is fatal (seed_die):
 * a generator that fails is simply run again.
 */
#ifndef ONENET_SEED_H
#define ONENET_SEED_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include "tables.h"

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
    char sex;       /* 'M' or 'F' */
    size_t surname; /* index into seed_surnames */
    char phone[16]; /* "" for young children */
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

/* The most INSERT statements a store has. */
#define SEED_STORE_INSERTS 4

/* What a department's store is made of; each department's file defines
 * one (seed_public_security_db, ...). */
typedef struct {
    const char *file;                        /* in --out DIR */
    const char *tables;                      /* CREATE TABLE statements */
    const char *inserts[SEED_STORE_INSERTS]; /* store_t.insert[i]; NULL past the last */
    const char *indexes;                     /* created after the bulk load */
} store_schema_t;

/* One department store being written. */
typedef struct {
    const store_schema_t *schema;
    sqlite3 *db;
    char path[1024];      /* final file */
    char temp_path[1040]; /* built here, then renamed */
    sqlite3_stmt *insert[SEED_STORE_INSERTS];
} store_t;

/* Row counters printed in the summary. */
typedef struct {
    long persons, households, reports;
    long insured, contributions, claims, payments;
    long vulnerable, shelters, incidents;
    long address_differs, phone_differs, elderly_alone;
} counts_t;

/* The generator: its random stream, serial numbers, stores and counts. */
typedef struct {
    seed_rng_t rng;
    int64_t ref_day; /* the "as of" date of the data */
    int64_t ref_ms;
    uint8_t *male_seq; /* per (area, birth day): sequence numbers used */
    uint8_t *female_seq;
    long household_serial, report_serial, claim_serial, payment_serial, insurance_serial;
    long shelters_per_district;
    store_t ps, ss, em;
    counts_t counts;
} seed_t;

/* --- seed.c --------------------------------------------------------------- */

/* Prints "onenet-seed: " and the message to stderr and exits 1. */
void seed_die (const char *format, ...) __attribute__ ((format (printf, 1, 2), noreturn));

/* --- seed_store.c: SQLite helpers; any failure is fatal ------------------ */

/* Creates dir/FILE.tmp (replacing it) with the schema's tables, begins
 * the one transaction of the bulk load and prepares store->insert. */
void seed_store_open (store_t *store, const char *dir, const store_schema_t *schema);

/* Finalizes the statements, creates the indexes, commits, switches to WAL
 * and renames the temporary file over dir/FILE. */
void seed_store_close (store_t *store);

/* Binds text the caller keeps alive until seed_store_step. */
void seed_bind_text (sqlite3_stmt *stmt, int column, const char *text);
void seed_bind_int (sqlite3_stmt *stmt, int column, int64_t value);

/* Runs an INSERT and resets it for the next row. */
void seed_store_step (store_t *store, sqlite3_stmt *stmt);

/* --- seed_values.c: synthetic values ------------------------------------ */

/* One of count entries of list, uniformly. */
const char *seed_pick (seed_t *seed, const char *const *list, size_t count);

/* A mobile number "1[35789]ddddddddd". */
void seed_make_phone (seed_t *seed, char out[16]);

/* A street address in district (index into seed_divisions). */
void seed_make_address (seed_t *seed, size_t district, char *out, size_t size);

/* A made-up employer: trade name and kind of business. */
void seed_make_employer (seed_t *seed, char *out, size_t size);

/* A moment in the last `days` days before the as-of date, Unix ms. */
int64_t seed_recent_ms (seed_t *seed, int64_t days);

/* A new household of up to `room` people: head, maybe a spouse, then
 * children or a parent of the head, each with a unique resident ID. */
void seed_make_household (seed_t *seed, household_t *household, size_t room);

/* --- seed_public_security.c: public_security.db ------------------------- */

extern const store_schema_t seed_public_security_db;
/* Writes every member of the household, the household, and reports. */
void seed_public_security_write (seed_t *seed, household_t *household);

/* --- seed_social_security.c: social_security.db ------------------------- */

extern const store_schema_t seed_social_security_db;
/* Writes p if social security knows them, with contributions and claims. */
void seed_social_security_write (seed_t *seed, const household_t *household, const person_t *p);

/* --- seed_emergency.c: emergency.db ------------------------------------- */

extern const store_schema_t seed_emergency_db;
/* Writes p if they belong in the vulnerable-people registry. */
void seed_emergency_write (seed_t *seed, const household_t *household, const person_t *p);
/* Writes every district's shelters (seed->shelters_per_district each). */
void seed_emergency_write_shelters (seed_t *seed);
/* Writes count past incidents. */
void seed_emergency_write_incidents (seed_t *seed, long count);

#endif
