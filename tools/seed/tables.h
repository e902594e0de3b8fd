/*
 * tables.h - the fixed vocabulary onenet-seed draws synthetic people from
 * (tables.c), and its deterministic random generator (synth.c).
 */
#ifndef ONENET_SEED_TABLES_H
#define ONENET_SEED_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* A county-level administrative division: GB/T 2260 code, English name. */
typedef struct {
    const char *code;
    const char *name_en;
} seed_division_t;

/* A value with a relative weight. */
typedef struct {
    const char *text;
    unsigned weight;
} seed_weighted_t;

extern const seed_division_t seed_divisions[];
extern const size_t seed_division_count;
extern const seed_weighted_t seed_surnames[];
extern const size_t seed_surname_count;
extern const char *const seed_given_male[];
extern const size_t seed_given_male_count;
extern const char *const seed_given_female[];
extern const size_t seed_given_female_count;
extern const char *const seed_given_any[];
extern const size_t seed_given_any_count;
extern const char *const seed_streets[];
extern const size_t seed_street_count;
extern const char *const seed_employer_names[];
extern const size_t seed_employer_name_count;
extern const char *const seed_employer_kinds[];
extern const size_t seed_employer_kind_count;
extern const char *const seed_venues[];
extern const size_t seed_venue_count;

/* --- synth.c: the random generator and calendar helpers --- */

/* xoshiro256** seeded through splitmix64: the same seed gives the same
 * stream on every platform. Never rand(). */
typedef struct {
    uint64_t s[4];
} seed_rng_t;

void seed_rng_init (seed_rng_t *rng, uint64_t seed);
uint64_t seed_rng_next (seed_rng_t *rng);
/* Uniform in [0, n); n > 0. */
uint64_t seed_rng_below (seed_rng_t *rng, uint64_t n);
/* Uniform in [low, high]. */
int64_t seed_rng_range (seed_rng_t *rng, int64_t low, int64_t high);
/* True with probability per_mille / 1000. */
int seed_rng_chance (seed_rng_t *rng, unsigned per_mille);
/* Index into a weighted table of count entries. */
size_t seed_rng_weighted (seed_rng_t *rng, const seed_weighted_t *table, size_t count);

/* Days since 1970-01-01 of a civil date, and back. */
int64_t seed_days_from_civil (int year, int month, int day);
void seed_civil_from_days (int64_t days, int *year, int *month, int *day);

/* Writes "YYYY-MM-DD" (11 bytes with NUL) for a day number. */
void seed_format_date (int64_t days, char out[11]);

#endif
