/*
 * synth.c - the deterministic random generator and calendar arithmetic of
 * onenet-seed. The data a seed produces depends only on the seed and on
 * the order of calls, never on the platform's rand() or the current time.
 */
#include <stdio.h>
#include "tables.h"

static uint64_t
splitmix64 (uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void
seed_rng_init (seed_rng_t *rng, uint64_t seed)
{
    uint64_t state = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64 (&state);
}

static inline uint64_t
rotl (uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
seed_rng_next (seed_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl (s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl (s[3], 45);
    return result;
}

uint64_t
seed_rng_below (seed_rng_t *rng, uint64_t n)
{
    /* Multiply-shift (Lemire): the bias for the small n used here is
     * below 2^-40, far under anything the data could show. */
    return (uint64_t) (((unsigned __int128) seed_rng_next (rng) * n) >> 64);
}

int64_t
seed_rng_range (seed_rng_t *rng, int64_t low, int64_t high)
{
    return low + (int64_t) seed_rng_below (rng, (uint64_t) (high - low + 1));
}

int
seed_rng_chance (seed_rng_t *rng, unsigned per_mille)
{
    return seed_rng_below (rng, 1000) < per_mille;
}

size_t
seed_rng_weighted (seed_rng_t *rng, const seed_weighted_t *table, size_t count)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += table[i].weight;
    uint64_t pick = seed_rng_below (rng, total);
    for (size_t i = 0; i < count; i++) {
        if (pick < table[i].weight)
            return i;
        pick -= table[i].weight;
    }
    return count - 1;
}

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
int64_t
seed_days_from_civil (int year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t yoe = year - era * 400;
    int64_t doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void
seed_civil_from_days (int64_t days, int *year, int *month, int *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int) (doy - (153 * mp + 2) / 5 + 1);
    *month = (int) (mp < 10 ? mp + 3 : mp - 9);
    *year = (int) (yoe + era * 400 + (*month <= 2));
}

void
seed_format_date (int64_t days, char out[11])
{
    int year, month, day;
    seed_civil_from_days (days, &year, &month, &day);
    snprintf (out, 11, "%04u-%02u-%02u", (unsigned) year % 10000u, (unsigned) month % 100u,
              (unsigned) day % 100u);
}
