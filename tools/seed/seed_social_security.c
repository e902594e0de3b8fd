/*
 * seed_social_security.c - social_security.db of onenet-seed: insured
 * persons (about 75 %, adults mostly), their yearly contributions, benefit
 * claims and payments.
 *
 * About 1 % of insured people get another address and 0.5 % another phone
 * than public security has: the deliberate inconsistencies the one network
 * view must reveal.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "seed.h"

static const char s_ss_schema[] =
    "CREATE TABLE insured_persons ("
    "  resident_id TEXT PRIMARY KEY,"
    "  insurance_no TEXT NOT NULL UNIQUE,"
    "  name TEXT NOT NULL,"
    "  birth_date TEXT NOT NULL,"
    "  sex TEXT NOT NULL CHECK (sex IN ('M', 'F')),"
    "  address TEXT NOT NULL,"
    "  phone TEXT NOT NULL DEFAULT '',"
    "  employer TEXT NOT NULL DEFAULT '',"
    "  enrolled_on TEXT NOT NULL,"
    "  pension_status TEXT NOT NULL," /* not_eligible contributing suspended receiving */
    "  updated_at_ms INTEGER NOT NULL);"
    "CREATE TABLE contributions ("
    "  id INTEGER PRIMARY KEY,"
    "  resident_id TEXT NOT NULL,"
    "  year INTEGER NOT NULL,"
    "  scheme TEXT NOT NULL," /* pension medical unemployment */
    "  months INTEGER NOT NULL,"
    "  amount_fen INTEGER NOT NULL,"
    "  employer TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE benefit_claims ("
    "  claim_id TEXT PRIMARY KEY,"
    "  resident_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  filed_on TEXT NOT NULL,"
    "  status TEXT NOT NULL," /* pending approved rejected paid */
    "  amount_fen INTEGER NOT NULL);"
    "CREATE TABLE benefit_payments ("
    "  payment_id TEXT PRIMARY KEY,"
    "  claim_id TEXT NOT NULL,"
    "  resident_id TEXT NOT NULL,"
    "  paid_on TEXT NOT NULL,"
    "  amount_fen INTEGER NOT NULL);";
static const char s_ss_indexes[] =
    "CREATE INDEX contributions_resident ON contributions (resident_id, year);"
    "CREATE INDEX benefit_claims_resident ON benefit_claims (resident_id);"
    "CREATE INDEX benefit_payments_claim ON benefit_payments (claim_id);";

const store_schema_t seed_social_security_db = {
    .file = "social_security.db",
    .tables = s_ss_schema,
    /* insert[0] insured_persons, [1] contributions, [2] benefit_claims,
     * [3] benefit_payments */
    .inserts = {"INSERT INTO insured_persons VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                "INSERT INTO contributions (resident_id, year, scheme,"
                " months, amount_fen, employer) VALUES (?,?,?,?,?,?)",
                "INSERT INTO benefit_claims VALUES (?,?,?,?,?,?)",
                "INSERT INTO benefit_payments VALUES (?,?,?,?,?)"},
    .indexes = s_ss_indexes,
};

static void
write_contribution (seed_t *seed, const person_t *p, int year, const char *scheme, int months,
                    int64_t amount, const char *employer)
{
    sqlite3_stmt *stmt = seed->ss.insert[1];
    seed_bind_text (stmt, 1, p->resident_id);
    seed_bind_int (stmt, 2, year);
    seed_bind_text (stmt, 3, scheme);
    seed_bind_int (stmt, 4, months);
    seed_bind_int (stmt, 5, amount);
    seed_bind_text (stmt, 6, employer);
    seed_store_step (&seed->ss, stmt);
    seed->counts.contributions++;
}

static void
write_claims (seed_t *seed, const person_t *p, bool retired)
{
    static const char *const working[] = {"unemployment", "medical", "work_injury"};
    static const seed_weighted_t statuses[] = {
        {"pending", 15}, {"approved", 25}, {"rejected", 10}, {"paid", 50}};
    int claims = (int)seed_rng_range (&seed->rng, 1, 2);
    for (int c = 0; c < claims; c++) {
        const char *kind =
            retired ? (seed_rng_chance (&seed->rng, 400) ? "pension" : "medical")
            : p->sex == 'F' && p->age >= 22 && p->age <= 42 && seed_rng_chance (&seed->rng, 300)
                ? "maternity"
                : seed_pick (seed, working, 3);
        const char *status = statuses[seed_rng_weighted (&seed->rng, statuses, 4)].text;
        int64_t filed = seed->ref_day - seed_rng_range (&seed->rng, 1, 3 * 365);
        int64_t amount = seed_rng_range (&seed->rng, 50000, 3000000);
        char claim_id[24], filed_on[11];
        snprintf (claim_id, sizeof claim_id, "C%09ld", ++seed->claim_serial);
        seed_format_date (filed, filed_on);
        sqlite3_stmt *stmt = seed->ss.insert[2];
        seed_bind_text (stmt, 1, claim_id);
        seed_bind_text (stmt, 2, p->resident_id);
        seed_bind_text (stmt, 3, kind);
        seed_bind_text (stmt, 4, filed_on);
        seed_bind_text (stmt, 5, status);
        seed_bind_int (stmt, 6, amount);
        seed_store_step (&seed->ss, stmt);
        seed->counts.claims++;

        int payments = strcmp (status, "paid") == 0       ? (int)seed_rng_range (&seed->rng, 1, 3)
                       : strcmp (status, "approved") == 0 ? 1
                                                          : 0;
        for (int i = 0; i < payments; i++) {
            char payment_id[24], paid_on[11];
            snprintf (payment_id, sizeof payment_id, "P%010ld", ++seed->payment_serial);
            int64_t day = filed + 30 * (i + 1);
            seed_format_date (day < seed->ref_day ? day : seed->ref_day - 1, paid_on);
            stmt = seed->ss.insert[3];
            seed_bind_text (stmt, 1, payment_id);
            seed_bind_text (stmt, 2, claim_id);
            seed_bind_text (stmt, 3, p->resident_id);
            seed_bind_text (stmt, 4, paid_on);
            seed_bind_int (stmt, 5, amount / payments);
            seed_store_step (&seed->ss, stmt);
            seed->counts.payments++;
        }
    }
}

void
seed_social_security_write (seed_t *seed, const household_t *household, const person_t *p)
{
    unsigned chance = p->age < 16 ? 80 : p->age < 18 ? 200 : p->age < 60 ? 930 : 900;
    if (!seed_rng_chance (&seed->rng, chance))
        return;
    int retire_age = p->sex == 'M' ? 60 : 55;
    bool retired = p->age >= retire_age;
    const char *status = p->age < 16 ? "not_eligible"
                         : retired ? (seed_rng_chance (&seed->rng, 960) ? "receiving" : "suspended")
                         : seed_rng_chance (&seed->rng, 880) ? "contributing"
                                                             : "suspended";
    char employer[64] = "";
    if (strcmp (status, "contributing") == 0 && seed_rng_chance (&seed->rng, 850))
        seed_make_employer (seed, employer, sizeof employer);

    /* The deliberate inconsistencies the view must reveal. */
    char address[160], phone[16];
    snprintf (address, sizeof address, "%s", household->address);
    snprintf (phone, sizeof phone, "%s", p->phone);
    if (seed_rng_chance (&seed->rng, 10)) {
        seed_make_address (seed, (size_t)seed_rng_below (&seed->rng, seed_division_count), address,
                           sizeof address);
        if (strcmp (address, household->address) != 0)
            seed->counts.address_differs++;
    }
    if (*phone && seed_rng_chance (&seed->rng, 6)) {
        seed_make_phone (seed, phone);
        if (strcmp (phone, p->phone) != 0)
            seed->counts.phone_differs++;
    }

    int64_t enroll_from = p->birth_day + 18 * 365;
    if (enroll_from < seed_days_from_civil (1995, 1, 1))
        enroll_from = seed_days_from_civil (1995, 1, 1);
    if (enroll_from > seed->ref_day - 30) /* minors: residents' medical scheme */
        enroll_from =
            p->birth_day > seed->ref_day - 3 * 365 ? p->birth_day : seed->ref_day - 3 * 365;
    int64_t span = seed->ref_day - 1 - enroll_from;
    int64_t enrolled =
        enroll_from + seed_rng_range (&seed->rng, 0, span < 5 * 365 ? span : 5 * 365);
    char enrolled_on[11], insurance_no[24];
    seed_format_date (enrolled, enrolled_on);
    snprintf (insurance_no, sizeof insurance_no, "SS%s%08ld",
              seed_divisions[household->district].code, ++seed->insurance_serial);

    sqlite3_stmt *stmt = seed->ss.insert[0];
    seed_bind_text (stmt, 1, p->resident_id);
    seed_bind_text (stmt, 2, insurance_no);
    seed_bind_text (stmt, 3, p->name);
    seed_bind_text (stmt, 4, p->birth_date);
    seed_bind_text (stmt, 5, p->sex == 'M' ? "M" : "F");
    seed_bind_text (stmt, 6, address);
    seed_bind_text (stmt, 7, phone);
    seed_bind_text (stmt, 8, employer);
    seed_bind_text (stmt, 9, enrolled_on);
    seed_bind_text (stmt, 10, status);
    seed_bind_int (stmt, 11, seed_recent_ms (seed, 2 * 365));
    seed_store_step (&seed->ss, stmt);
    seed->counts.insured++;

    /* Yearly records of the last four years since enrolment. */
    int ref_year, enrolled_year, enrolled_month, day;
    seed_civil_from_days (seed->ref_day, &ref_year, &enrolled_month, &day);
    seed_civil_from_days (enrolled, &enrolled_year, &enrolled_month, &day);
    int first_year = enrolled_year < ref_year - 4 ? ref_year - 4 : enrolled_year;
    int last_year = ref_year - 1;
    if (strcmp (status, "suspended") == 0)
        last_year = (int)seed_rng_range (&seed->rng, first_year, last_year);
    int64_t base = seed_rng_range (&seed->rng, 300000, 1500000); /* monthly wage base, fen */
    bool medical = seed_rng_chance (&seed->rng, 700),
         unemployment = seed_rng_chance (&seed->rng, 400);
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
