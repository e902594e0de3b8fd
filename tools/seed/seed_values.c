/*
 * seed_values.c - the synthetic values of onenet-seed: names, resident
 * IDs, phones, addresses, employers and whole households, drawn from the
 * vocabulary in tables.c with the generator's one random stream.
 *
 * Every call consumes the stream in a fixed order, so the same seed gives
 * the same people; a change here changes every store a seed produces.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <onenet/resident_id.h>
#include "seed.h"

const char *
seed_pick (seed_t *seed, const char *const *list, size_t count)
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
                           ? seed_pick (seed, own, own_count)
                           : seed_pick (seed, seed_given_any, seed_given_any_count));
    snprintf (person->name, sizeof person->name, "%s%s", seed_surnames[person->surname].text,
              given);
}

void
seed_make_phone (seed_t *seed, char out[16])
{
    static const char second[] = "35789";
    snprintf (out, 16, "1%c%09" PRIu64, second[seed_rng_below (&seed->rng, 5)],
              seed_rng_below (&seed->rng, 1000000000ULL));
}

void
seed_make_address (seed_t *seed, size_t district, char *out, size_t size)
{
    const char *street = seed_pick (seed, seed_streets, seed_street_count);
    unsigned number = (unsigned)seed_rng_range (&seed->rng, 1, 480);
    if (seed_rng_chance (&seed->rng, 700))
        snprintf (out, size, "%s %s %u号 %u栋%u单元%u室", seed_divisions[district].name_en, street,
                  number, (unsigned)seed_rng_range (&seed->rng, 1, 20),
                  (unsigned)seed_rng_range (&seed->rng, 1, 4),
                  (unsigned)seed_rng_range (&seed->rng, 1, 32) * 100 +
                      (unsigned)seed_rng_range (&seed->rng, 1, 6));
    else
        snprintf (out, size, "%s %s %u号", seed_divisions[district].name_en, street, number);
}

void
seed_make_employer (seed_t *seed, char *out, size_t size)
{
    snprintf (out, size, "%s%s", seed_pick (seed, seed_employer_names, seed_employer_name_count),
              seed_pick (seed, seed_employer_kinds, seed_employer_kind_count));
}

/* A moment in the last `days` days before the as-of date, Unix ms. */
int64_t
seed_recent_ms (seed_t *seed, int64_t days)
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
    int64_t back =
        (int64_t)person->age * 365 + person->age / 4 + seed_rng_range (&seed->rng, 0, 364);
    if (back >= DAY_SPAN)
        back = DAY_SPAN - 1;
    for (;; back = (back + 1) % DAY_SPAN) {
        uint64_t key = (uint64_t)area * DAY_SPAN + (uint64_t)back;
        uint8_t *used = person->sex == 'M' ? &seed->male_seq[key] : &seed->female_seq[key];
        unsigned modulus = person->sex == 'M' ? 500 : 499;
        if (*used >= 250) /* never at realistic sizes: move the birthday */
            continue;
        unsigned index = ((unsigned)*used * 37 + (unsigned)(key * 2654435761u % modulus)) % modulus;
        (*used)++;
        unsigned sequence = person->sex == 'M' ? index * 2 + 1 : index * 2 + 2;
        person->birth_day = seed->ref_day - back;
        int year, month, day;
        seed_civil_from_days (person->birth_day, &year, &month, &day);
        seed_format_date (person->birth_day, person->birth_date);
        char first17[18];
        snprintf (first17, sizeof first17, "%.6s%04u%02u%02u%03u", seed_divisions[area].code,
                  (unsigned)year % 10000u, (unsigned)month % 100u, (unsigned)day % 100u,
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
                      : (size_t)seed_rng_below (&seed->rng, seed_division_count);
    make_identity (seed, person, area);
    if (person->age >= 12 && seed_rng_chance (&seed->rng, 930))
        seed_make_phone (seed, person->phone);
    person->updated_at_ms = seed_recent_ms (seed, 3 * 365);
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
void
seed_make_household (seed_t *seed, household_t *household, size_t room)
{
    static const seed_weighted_t sizes[] = {{"1", 24}, {"2", 30}, {"3", 24}, {"4", 13}, {"5", 9}};
    memset (household, 0, sizeof *household);
    household->district = (size_t)seed_rng_below (&seed->rng, seed_division_count);
    snprintf (household->household_id, sizeof household->household_id, "H%s%07ld",
              seed_divisions[household->district].code, ++seed->household_serial);
    seed_make_address (seed, household->district, household->address, sizeof household->address);
    size_t size = seed_rng_weighted (&seed->rng, sizes, 5) + 1;
    if (size > room)
        size = room;

    int head_age =
        size == 1 ? (seed_rng_chance (&seed->rng, 450) ? (int)seed_rng_range (&seed->rng, 65, 95)
                                                       : (int)seed_rng_range (&seed->rng, 20, 64))
                  : (int)seed_rng_range (&seed->rng, 22, 85);
    char head_sex = random_sex (seed);
    size_t family = random_surname (seed);
    make_person (seed, household, &household->members[0], head_age, head_sex, family, "head");
    household->size = 1;
    bool has_parent = false;
    while (household->size < size) {
        person_t *member = &household->members[household->size];
        if (household->size == 1 && seed_rng_chance (&seed->rng, 850)) {
            int age = head_age + (int)seed_rng_range (&seed->rng, -6, 6);
            make_person (seed, household, member, age < 20 ? 20 : age, other_sex (head_sex),
                         random_surname (seed), "spouse");
        } else if (!has_parent && head_age <= 62 && seed_rng_chance (&seed->rng, 250)) {
            int age = head_age + (int)seed_rng_range (&seed->rng, 22, 34);
            char sex = random_sex (seed);
            make_person (seed, household, member, age, sex,
                         sex == 'M' ? family : random_surname (seed), "parent");
            has_parent = true;
        } else if (head_age >= 20) {
            int oldest = head_age - 20 < 40 ? head_age - 20 : 40;
            make_person (seed, household, member, (int)seed_rng_range (&seed->rng, 0, oldest),
                         random_sex (seed),
                         seed_rng_chance (&seed->rng, 900) ? family : random_surname (seed),
                         "child");
        } else {
            make_person (seed, household, member, (int)seed_rng_range (&seed->rng, 0, 95),
                         random_sex (seed), random_surname (seed), "other");
        }
        household->size++;
    }
}
