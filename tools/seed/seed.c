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
 * Households are generated one by one (head, spouse, children, a parent;
 * seed_values.c) and each person is written to every department that
 * would know them: public security knows everyone; social security about
 * 75 % (adults mostly); emergency management's vulnerable-people registry
 * about 8 % (mostly 70 and over, nearly all elderly living alone). A few
 * deliberate inconsistencies, about 1 % of insured people with another
 * address and 0.5 % with another phone in social security, are what the
 * one network view must reveal. Each department's rows are made in its
 * own file (seed_public_security.c, seed_social_security.c,
 * seed_emergency.c); this file is the command line and the order of the
 * calls.
 *
 * The same seed and count always give the same rows: one xoshiro256**
 * stream (synth.c), consumed in a fixed order, and a fixed "as of" date
 * (2026-01-01) instead of the clock. Every DB is built in a temporary
 * file in one transaction with prepared statements, indexed after the
 * bulk load, switched to WAL, then renamed over the old one
 * (seed_store.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "seed.h"

#define DEFAULT_PEOPLE 10000
#define DEFAULT_SEED 20261123ULL
#define MAX_PEOPLE 20000000L

void
seed_die (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "onenet-seed: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    exit (1);
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
                seed_die ("cannot create %s: %s", path, strerror (errno));
            if (end)
                break;
            *slash = '/';
        }
    }
    struct stat st;
    if (stat (dir, &st) < 0 || !S_ISDIR (st.st_mode))
        seed_die ("%s is not a directory", dir);
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
        seed_die ("out of memory");
    long total = (long) people;
    seed.shelters_per_district = total / 100000 > 2 ? total / 100000 : 2;

    make_dirs (out);
    seed_store_open (&seed.ps, out, &seed_public_security_db);
    seed_store_open (&seed.ss, out, &seed_social_security_db);
    seed_store_open (&seed.em, out, &seed_emergency_db);

    bool bar = !quiet && isatty (STDERR_FILENO);
    seed_emergency_write_shelters (&seed);
    household_t household;
    long last_percent = -1;
    while (seed.counts.persons < total) {
        seed_make_household (&seed, &household, (size_t) (total - seed.counts.persons));
        seed_public_security_write (&seed, &household);
        for (size_t i = 0; i < household.size; i++) {
            seed_social_security_write (&seed, &household, &household.members[i]);
            seed_emergency_write (&seed, &household, &household.members[i]);
        }
        long percent = seed.counts.persons * 100 / total;
        if (bar && percent != last_percent) {
            progress (seed.counts.persons, total, started);
            last_percent = percent;
        }
    }
    seed_emergency_write_incidents (&seed, total / 500 > 20 ? total / 500 : 20);
    if (bar)
        fprintf (stderr, "\r\033[Konenet-seed: indexing...");
    seed_store_close (&seed.ps);
    seed_store_close (&seed.ss);
    seed_store_close (&seed.em);
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
