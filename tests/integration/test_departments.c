/*
 * test_departments.c - the department stores and their adapters, with real
 * processes on 127.0.0.1:
 *
 *   seed:     onenet-seed is deterministic (same seed -> the same rows in
 *             every table, compared with libsqlite3 here, no sqlite3 CLI),
 *             another seed gives other data, IDs are valid GB 11643, the
 *             departments overlap as designed and disagree on purpose;
 *   adapters: every service of the three reference adapters against a
 *             real broker: found / not found / invalid ID, update then
 *             get, and the view contribution with its canonical fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/resident_id.h"
#include "onenet/proto/emergency.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"
#include "onenet/proto/public_security.pb-c.h"
#include "onenet/proto/social_security.pb-c.h"
#include "onenet/proto/view.pb-c.h"

#define PEOPLE "2000"
static const char *const s_stores[] = { "public_security.db", "social_security.db",
                                        "emergency.db" };

/* --- SQLite helpers --- */

static sqlite3 *
open_store (const char *dir, const char *file)
{
    char path[600];
    snprintf (path, sizeof path, "%s/%s", dir, file);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg ("cannot open %s: %s", path, db ? sqlite3_errmsg (db) : "?");
    return db;
}

/* Opens dir's public security store with the other two attached as ss, em. */
static sqlite3 *
open_all (const char *dir)
{
    sqlite3 *db = open_store (dir, "public_security.db");
    char sql[1400];
    snprintf (sql, sizeof sql, "ATTACH '%s/social_security.db' AS ss; ATTACH '%s/emergency.db' AS em;",
              dir, dir);
    assert_int_equal (sqlite3_exec (db, sql, NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static long
query_long (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg ("%s: %s", sql, sqlite3_errmsg (db));
    assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
    long value = (long) sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return value;
}

/* The first column of the first row as text into out ("" if no row). */
static void
query_text (sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
        fail_msg ("%s: %s", sql, sqlite3_errmsg (db));
    out[0] = '\0';
    if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_text (stmt, 0))
        snprintf (out, size, "%s", (const char *) sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
}

static uint64_t
fnv (uint64_t hash, const void *data, size_t size)
{
    const unsigned char *bytes = data;
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ bytes[i]) * 0x100000001b3ULL;
    return hash;
}

/* A checksum of every row of every table of one store (tables by name,
 * rows by rowid, each value with its type), and the number of rows. */
static uint64_t
store_checksum (const char *dir, const char *file, long *rows)
{
    sqlite3 *db = open_store (dir, file);
    sqlite3_stmt *tables = NULL;
    assert_int_equal (sqlite3_prepare_v2 (db,
                                          "SELECT name FROM sqlite_master WHERE type = 'table'"
                                          " ORDER BY name",
                                          -1, &tables, NULL),
                      SQLITE_OK);
    uint64_t hash = 0xcbf29ce484222325ULL;
    *rows = 0;
    while (sqlite3_step (tables) == SQLITE_ROW) {
        const char *table = (const char *) sqlite3_column_text (tables, 0);
        hash = fnv (hash, table, strlen (table) + 1);
        char sql[200];
        snprintf (sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid", table);
        sqlite3_stmt *stmt = NULL;
        assert_int_equal (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), SQLITE_OK);
        while (sqlite3_step (stmt) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count (stmt); c++) {
                unsigned char type = (unsigned char) sqlite3_column_type (stmt, c);
                hash = fnv (hash, &type, 1);
                const unsigned char *text = sqlite3_column_text (stmt, c);
                hash = fnv (hash, text ? text : (const unsigned char *) "",
                            (size_t) sqlite3_column_bytes (stmt, c) + 1);
            }
            (*rows)++;
        }
        sqlite3_finalize (stmt);
    }
    sqlite3_finalize (tables);
    sqlite3_close (db);
    return hash;
}

/* --- seed --- */

typedef struct {
    char a[400], b[400], c[400];
} seeded_t;

static seeded_t s_seeded;

static int
run_seed (const char *out, const char *seed, const char *people)
{
    char bin[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-seed"));
    const char *argv[] = { bin, "--out", out, "--people", people, "--seed", seed, "--quiet", NULL };
    return harness_run ("seed.log", argv);
}

static int
setup_seeds (void **state)
{
    snprintf (s_seeded.a, sizeof s_seeded.a, "%s/a", harness_tempdir ());
    snprintf (s_seeded.b, sizeof s_seeded.b, "%s/b/nested", harness_tempdir ());
    snprintf (s_seeded.c, sizeof s_seeded.c, "%s/c", harness_tempdir ());
    if (run_seed (s_seeded.a, "42", PEOPLE) != 0 || run_seed (s_seeded.b, "42", PEOPLE) != 0
        || run_seed (s_seeded.c, "43", PEOPLE) != 0)
        return -1;
    return 0;
}

static int
teardown_all (void **state)
{
    harness_cleanup ();
    return 0;
}

static void
test_seed_is_deterministic (void **state)
{
    for (size_t i = 0; i < 3; i++) {
        long rows_a, rows_b;
        uint64_t a = store_checksum (s_seeded.a, s_stores[i], &rows_a);
        uint64_t b = store_checksum (s_seeded.b, s_stores[i], &rows_b);
        assert_true (rows_a > 0);
        assert_int_equal (rows_a, rows_b);
        if (a != b)
            fail_msg ("%s differs between two runs with the same seed", s_stores[i]);
    }
}

static void
test_other_seed_gives_other_data (void **state)
{
    for (size_t i = 0; i < 3; i++) {
        long rows_a, rows_c;
        uint64_t a = store_checksum (s_seeded.a, s_stores[i], &rows_a);
        uint64_t c = store_checksum (s_seeded.c, s_stores[i], &rows_c);
        if (a == c)
            fail_msg ("%s is the same for seeds 42 and 43", s_stores[i]);
    }
    sqlite3 *db = open_store (s_seeded.c, "public_security.db");
    assert_int_equal (query_long (db, "SELECT count(*) FROM persons"), 2000);
    sqlite3_close (db);
}

static void
test_seed_replaces_existing_stores (void **state)
{
    long rows_before, rows_after;
    uint64_t before = store_checksum (s_seeded.a, "social_security.db", &rows_before);
    /* Leave junk where a crashed adapter would have left a WAL. */
    char junk[600];
    snprintf (junk, sizeof junk, "%s/social_security.db-wal", s_seeded.a);
    FILE *file = fopen (junk, "w");
    assert_non_null (file);
    fputs ("not a WAL", file);
    fclose (file);
    assert_int_equal (run_seed (s_seeded.a, "42", PEOPLE), 0);
    uint64_t after = store_checksum (s_seeded.a, "social_security.db", &rows_after);
    assert_int_equal (rows_before, rows_after);
    assert_true (before == after);
    char temp[600];
    snprintf (temp, sizeof temp, "%s/social_security.db.tmp", s_seeded.a);
    assert_int_not_equal (access (temp, F_OK), 0);
}

static void
test_seed_usage_errors (void **state)
{
    char bin[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-seed"));
    const char *no_out[] = { bin, "--people", "10", NULL };
    assert_int_equal (harness_run ("seed-usage.log", no_out), 2);
    const char *zero[] = { bin, "--out", s_seeded.c, "--people", "0", NULL };
    assert_int_equal (harness_run ("seed-usage.log", zero), 2);
    const char *bad_seed[] = { bin, "--out", s_seeded.c, "--seed", "x1", NULL };
    assert_int_equal (harness_run ("seed-usage.log", bad_seed), 2);
    const char *help[] = { bin, "--help", NULL };
    assert_int_equal (harness_run ("seed-usage.log", help), 0);
}

static void
test_seed_resident_ids_are_valid (void **state)
{
    sqlite3 *db = open_store (s_seeded.a, "public_security.db");
    sqlite3_stmt *stmt = NULL;
    assert_int_equal (sqlite3_prepare_v2 (db, "SELECT resident_id, birth_date, sex FROM persons",
                                          -1, &stmt, NULL),
                      SQLITE_OK);
    long checked = 0;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *id = (const char *) sqlite3_column_text (stmt, 0);
        const char *birth = (const char *) sqlite3_column_text (stmt, 1);
        const char *sex = (const char *) sqlite3_column_text (stmt, 2);
        char why[128];
        if (!onenet_resident_id_valid (id, why, sizeof why))
            fail_msg ("seeded ID %s is invalid: %s", id, why);
        /* The ID encodes the birth date and the sex held in the record. */
        char encoded[11];
        snprintf (encoded, sizeof encoded, "%.4s-%.2s-%.2s", id + 6, id + 10, id + 12);
        assert_string_equal (encoded, birth);
        assert_int_equal (onenet_resident_id_sex (id), sex[0]);
        /* Area codes come from the embedded county table: Shanghai,
         * Zhejiang, Sichuan, Guizhou. */
        assert_true (strncmp (id, "31", 2) == 0 || strncmp (id, "33", 2) == 0
                     || strncmp (id, "51", 2) == 0 || strncmp (id, "52", 2) == 0);
        checked++;
    }
    sqlite3_finalize (stmt);
    assert_int_equal (checked, 2000);
    assert_int_equal (query_long (db, "SELECT count(DISTINCT resident_id) FROM persons"), 2000);
    sqlite3_close (db);
}

static void
test_seed_overlaps_and_inconsistencies (void **state)
{
    sqlite3 *db = open_all (s_seeded.a);
    long persons = query_long (db, "SELECT count(*) FROM persons");
    long insured = query_long (db, "SELECT count(*) FROM ss.insured_persons");
    long vulnerable = query_long (db, "SELECT count(*) FROM em.vulnerable_persons");
    /* Public security knows everyone the others know. */
    assert_int_equal (query_long (db, "SELECT count(*) FROM ss.insured_persons WHERE resident_id"
                                      " NOT IN (SELECT resident_id FROM persons)"),
                      0);
    assert_int_equal (query_long (db, "SELECT count(*) FROM em.vulnerable_persons WHERE resident_id"
                                      " NOT IN (SELECT resident_id FROM persons)"),
                      0);
    /* About 75 % insured, adults mostly; about 8 % vulnerable, elderly mostly. */
    assert_in_range (insured * 100 / persons, 65, 85);
    assert_true (query_long (db, "SELECT count(*) FROM ss.insured_persons WHERE birth_date <= '2008-01-01'")
                 > insured * 85 / 100);
    assert_in_range (vulnerable * 1000 / persons, 40, 120);
    assert_true (query_long (db, "SELECT count(*) FROM em.vulnerable_persons WHERE birth_date <= '1956-01-01'")
                 > vulnerable / 2);
    /* The deliberate inconsistencies: address and phone, never identity. */
    long addresses = query_long (db, "SELECT count(*) FROM persons p JOIN ss.insured_persons i"
                                     " USING (resident_id) WHERE p.address <> i.address");
    long phones = query_long (db, "SELECT count(*) FROM persons p JOIN ss.insured_persons i"
                                  " USING (resident_id) WHERE p.phone <> i.phone");
    assert_true (addresses > 0 && addresses < insured * 3 / 100);
    assert_true (phones > 0 && phones < insured * 2 / 100);
    assert_int_equal (query_long (db, "SELECT count(*) FROM persons p JOIN ss.insured_persons i"
                                      " USING (resident_id) WHERE p.name <> i.name"
                                      " OR p.birth_date <> i.birth_date OR p.sex <> i.sex"),
                      0);
    /* Every household has its head; shelters and incidents exist. */
    assert_int_equal (query_long (db, "SELECT count(*) FROM households h WHERE NOT EXISTS"
                                      " (SELECT 1 FROM persons p WHERE p.resident_id = h.head_resident_id"
                                      " AND p.household_id = h.household_id)"),
                      0);
    assert_true (query_long (db, "SELECT count(*) FROM em.shelters") >= 50);
    assert_true (query_long (db, "SELECT count(*) FROM em.incidents") >= 20);
    assert_int_equal (query_long (db, "SELECT count(*) FROM em.vulnerable_persons WHERE shelter_id"
                                      " NOT IN (SELECT shelter_id FROM em.shelters)"),
                      0);
    sqlite3_close (db);
}

/* --- adapters against a real broker --- */

typedef struct {
    char data[400];
    int port;
    onenet_client_t *client;
    char known[19];         /* in all three stores */
    char ps_only[19];       /* known to public security only */
    char conflict[19];      /* address differs between ps and ss */
    char unknown[19];       /* valid, in no store */
} system_t;

static system_t s;

static pid_t
start_adapter (const char *binary, const char *store, const char *instance)
{
    char bin[512], db[600], endpoint[64], log_name[64];
    snprintf (bin, sizeof bin, "%s", harness_bin (binary));
    snprintf (db, sizeof db, "%s/%s", s.data, store);
    snprintf (endpoint, sizeof endpoint, "%s", harness_endpoint (s.port));
    snprintf (log_name, sizeof log_name, "%s.log", binary);
    const char *argv[] = { bin, "--broker", endpoint, "--db", db, "--instance", instance,
                           "--credit", "8", NULL };
    return harness_spawn (log_name, argv);
}

static int
setup_system (void **state)
{
    memset (&s, 0, sizeof s);
    snprintf (s.data, sizeof s.data, "%s/live", harness_tempdir ());
    if (run_seed (s.data, "42", PEOPLE) != 0)
        return -1;
    sqlite3 *db = open_all (s.data);
    query_text (db, "SELECT v.resident_id FROM em.vulnerable_persons v JOIN ss.insured_persons"
                    " USING (resident_id) ORDER BY resident_id",
                s.known, sizeof s.known);
    query_text (db, "SELECT resident_id FROM persons WHERE resident_id NOT IN"
                    " (SELECT resident_id FROM ss.insured_persons) AND resident_id NOT IN"
                    " (SELECT resident_id FROM em.vulnerable_persons) ORDER BY resident_id",
                s.ps_only, sizeof s.ps_only);
    query_text (db, "SELECT p.resident_id FROM persons p JOIN ss.insured_persons i"
                    " USING (resident_id) WHERE p.address <> i.address ORDER BY p.resident_id",
                s.conflict, sizeof s.conflict);
    sqlite3_close (db);
    if (!*s.known || !*s.ps_only || !*s.conflict)
        return -1;
    /* Beijing (110105) is not in the seeded area table: a valid ID nobody has. */
    snprintf (s.unknown, sizeof s.unknown, "11010519491231002X");

    s.port = harness_free_port ();
    harness_start_broker (s.port, "broker: { registration_grace_ms = 0; };\n");
    start_adapter ("onenet-adapter-public-security", "public_security.db", "ps1");
    start_adapter ("onenet-adapter-social-security", "social_security.db", "ss1");
    start_adapter ("onenet-adapter-emergency", "emergency.db", "em1");
    if (!harness_wait_instances (s.port, "ps.view.person", 1, 10000)
        || !harness_wait_instances (s.port, "ss.view.person", 1, 10000)
        || !harness_wait_instances (s.port, "em.view.person", 1, 10000))
        return -1;
    s.client = onenet_client_new (harness_endpoint (s.port), NULL, 0);
    return s.client ? 0 : -1;
}

static int
teardown_system (void **state)
{
    onenet_client_destroy (&s.client);
    harness_cleanup ();
    return 0;
}

/* Calls service and checks the status; returns the reply body unpacked
 * as type (NULL when the status is not OK). The caller frees it. */
static ProtobufCMessage *
call (const char *service, const ProtobufCMessage *request,
      const ProtobufCMessageDescriptor *type, onenet_status_t expect)
{
    onenet_call_options_t options = { .timeout_ms = 5000 };
    onenet_reply_t *reply = onenet_client_call_message (s.client, service, request, &options);
    assert_non_null (reply);
    if (onenet_reply_status (reply) != expect)
        fail_msg ("%s: expected %s, got %s (%s)", service, onenet_status_name (expect),
                  onenet_status_name (onenet_reply_status (reply)), onenet_reply_message (reply));
    ProtobufCMessage *body = NULL;
    if (expect == ONENET_OK) {
        body = onenet_reply_unpack (reply, type);
        assert_non_null (body);
    }
    onenet_reply_destroy (&reply);
    return body;
}

static Onenet__View__Contribution *
contribution (const char *service, const char *resident_id, onenet_status_t expect)
{
    Onenet__View__ContributionRequest request = ONENET__VIEW__CONTRIBUTION_REQUEST__INIT;
    request.resident_id = (char *) resident_id;
    return (Onenet__View__Contribution *) call (service, &request.base,
                                                &onenet__view__contribution__descriptor, expect);
}

static const char *
field (const Onenet__View__Contribution *c, const char *name)
{
    for (size_t i = 0; i < c->n_fields; i++)
        if (strcmp (c->fields[i]->name, name) == 0)
            return c->fields[i]->value;
    return NULL;
}

static void
free_message (void *message)
{
    if (message)
        protobuf_c_message_free_unpacked (message, NULL);
}

/* The canonical fields every contribution about a known person has. */
static void
assert_canonical (const Onenet__View__Contribution *c, const char *resident_id)
{
    assert_true (c->found);
    assert_non_null (field (c, "name"));
    const char *birth = field (c, "birth_date");
    assert_non_null (birth);
    assert_int_equal (strlen (birth), 10);
    assert_true (birth[4] == '-' && birth[7] == '-');
    assert_memory_equal (birth, resident_id + 6, 4);
    const char *sex = field (c, "sex");
    assert_non_null (sex);
    assert_int_equal (sex[0], onenet_resident_id_sex (resident_id));
    assert_non_null (field (c, "address"));
    assert_true (c->updated_at_ms > 0);
    for (size_t i = 0; i < c->n_fields; i++)
        assert_true (*c->fields[i]->label && *c->fields[i]->value);
}

static void
test_services_are_described (void **state)
{
    static const struct {
        const char *service, *request_type, *reply_type;
        bool idempotent;
    } expected[] = {
        { "ps.person.get", "onenet.ps.PersonGetRequest", "onenet.ps.Person", true },
        { "ps.person.search", "onenet.ps.PersonSearchRequest", "onenet.ps.PersonList", true },
        { "ps.person.update", "onenet.ps.PersonUpdateRequest", "onenet.ps.Person", false },
        { "ps.household.get", "onenet.ps.HouseholdGetRequest", "onenet.ps.Household", true },
        { "ps.view.person", "onenet.view.ContributionRequest", "onenet.view.Contribution", true },
        { "ss.insurance.get", "onenet.ss.InsuranceGetRequest", "onenet.ss.InsuredPerson", true },
        { "ss.insurance.update", "onenet.ss.InsuranceUpdateRequest", "onenet.ss.InsuredPerson",
          false },
        { "ss.view.person", "onenet.view.ContributionRequest", "onenet.view.Contribution", true },
        { "em.vulnerable.get", "onenet.em.VulnerableGetRequest", "onenet.em.VulnerablePerson",
          true },
        { "em.shelter.list", "onenet.em.ShelterListRequest", "onenet.em.ShelterList", true },
        { "em.incident.list", "onenet.em.IncidentListRequest", "onenet.em.IncidentList", true },
        { "em.view.person", "onenet.view.ContributionRequest", "onenet.view.Contribution", true },
    };
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    Onenet__ServicesReply *services = (Onenet__ServicesReply *) call (
        "onenet.services", &request.base, &onenet__services_reply__descriptor, ONENET_OK);
    for (size_t e = 0; e < sizeof expected / sizeof expected[0]; e++) {
        const Onenet__ServiceInfo *info = NULL;
        for (size_t i = 0; i < services->n_services; i++)
            if (strcmp (services->services[i]->name, expected[e].service) == 0)
                info = services->services[i];
        if (!info)
            fail_msg ("%s is not offered", expected[e].service);
        assert_string_equal (info->request_type, expected[e].request_type);
        assert_string_equal (info->reply_type, expected[e].reply_type);
        assert_int_equal (info->idempotent, expected[e].idempotent);
        assert_true (*info->description);
    }
    free_message (services);
}

static void
test_ps_person_get (void **state)
{
    Onenet__Ps__PersonGetRequest request = ONENET__PS__PERSON_GET_REQUEST__INIT;
    request.resident_id = s.known;
    Onenet__Ps__Person *person = (Onenet__Ps__Person *) call (
        "ps.person.get", &request.base, &onenet__ps__person__descriptor, ONENET_OK);
    assert_string_equal (person->resident_id, s.known);
    sqlite3 *db = open_store (s.data, "public_security.db");
    char sql[200], name[64];
    snprintf (sql, sizeof sql, "SELECT name FROM persons WHERE resident_id = '%s'", s.known);
    query_text (db, sql, name, sizeof name);
    sqlite3_close (db);
    assert_string_equal (person->name, name);
    assert_true (*person->household_id && *person->address);
    free_message (person);

    request.resident_id = s.unknown;
    call ("ps.person.get", &request.base, NULL, ONENET_NOT_FOUND);
    char wrong[19];
    snprintf (wrong, sizeof wrong, "%.17s%c", s.known, s.known[17] == '1' ? '2' : '1');
    request.resident_id = wrong;   /* wrong check digit */
    call ("ps.person.get", &request.base, NULL, ONENET_BAD_REQUEST);
    request.resident_id = "123";
    call ("ps.person.get", &request.base, NULL, ONENET_BAD_REQUEST);
    onenet_call_options_t options = { .timeout_ms = 5000 };
    onenet_reply_t *reply = onenet_client_call (s.client, "ps.person.get", "\xff\xff", 2, &options);
    assert_int_equal (onenet_reply_status (reply), ONENET_BAD_REQUEST);
    onenet_reply_destroy (&reply);
}

static void
test_ps_person_search_and_household (void **state)
{
    Onenet__Ps__PersonGetRequest get = ONENET__PS__PERSON_GET_REQUEST__INIT;
    get.resident_id = s.known;
    Onenet__Ps__Person *person = (Onenet__Ps__Person *) call (
        "ps.person.get", &get.base, &onenet__ps__person__descriptor, ONENET_OK);

    Onenet__Ps__PersonSearchRequest search = ONENET__PS__PERSON_SEARCH_REQUEST__INIT;
    search.name = person->name;
    search.birth_date = person->birth_date;
    Onenet__Ps__PersonList *list = (Onenet__Ps__PersonList *) call (
        "ps.person.search", &search.base, &onenet__ps__person_list__descriptor, ONENET_OK);
    bool found = false;
    for (size_t i = 0; i < list->n_persons; i++)
        found = found || strcmp (list->persons[i]->resident_id, s.known) == 0;
    assert_true (found);
    free_message (list);
    search.birth_date = "";
    search.limit = 1;
    list = (Onenet__Ps__PersonList *) call ("ps.person.search", &search.base,
                                            &onenet__ps__person_list__descriptor, ONENET_OK);
    assert_int_equal (list->n_persons, 1);
    free_message (list);
    search.birth_date = "1949/12/31";
    call ("ps.person.search", &search.base, NULL, ONENET_BAD_REQUEST);
    search.name = "";
    call ("ps.person.search", &search.base, NULL, ONENET_BAD_REQUEST);

    Onenet__Ps__HouseholdGetRequest household_request = ONENET__PS__HOUSEHOLD_GET_REQUEST__INIT;
    household_request.household_id = person->household_id;
    Onenet__Ps__Household *household = (Onenet__Ps__Household *) call (
        "ps.household.get", &household_request.base, &onenet__ps__household__descriptor,
        ONENET_OK);
    found = false;
    for (size_t i = 0; i < household->n_members; i++)
        found = found || strcmp (household->members[i]->resident_id, s.known) == 0;
    assert_true (found);
    assert_true (*household->head_resident_id);
    free_message (household);
    household_request.household_id = "H0000000000000";
    call ("ps.household.get", &household_request.base, NULL, ONENET_NOT_FOUND);
    household_request.household_id = "";
    call ("ps.household.get", &household_request.base, NULL, ONENET_BAD_REQUEST);
    free_message (person);
}

static void
test_ps_update_then_get (void **state)
{
    Onenet__Ps__PersonUpdateRequest update = ONENET__PS__PERSON_UPDATE_REQUEST__INIT;
    update.resident_id = s.known;
    update.address = "Wuhou 测试路 1号 (synthetic)";
    update.phone = "13000000001";
    Onenet__Ps__Person *person = (Onenet__Ps__Person *) call (
        "ps.person.update", &update.base, &onenet__ps__person__descriptor, ONENET_OK);
    assert_string_equal (person->address, update.address);
    assert_string_equal (person->phone, update.phone);
    free_message (person);

    /* Only the phone: the address stays. */
    update.address = "";
    update.phone = "13000000002";
    free_message (call ("ps.person.update", &update.base, &onenet__ps__person__descriptor,
                        ONENET_OK));
    Onenet__Ps__PersonGetRequest get = ONENET__PS__PERSON_GET_REQUEST__INIT;
    get.resident_id = s.known;
    person = (Onenet__Ps__Person *) call ("ps.person.get", &get.base,
                                          &onenet__ps__person__descriptor, ONENET_OK);
    assert_string_equal (person->address, "Wuhou 测试路 1号 (synthetic)");
    assert_string_equal (person->phone, "13000000002");
    free_message (person);

    Onenet__View__Contribution *c = contribution ("ps.view.person", s.known, ONENET_OK);
    assert_string_equal (field (c, "phone"), "13000000002");
    free_message (c);

    update.phone = "";
    call ("ps.person.update", &update.base, NULL, ONENET_BAD_REQUEST);   /* nothing to change */
    update.phone = "call me";
    call ("ps.person.update", &update.base, NULL, ONENET_BAD_REQUEST);
    update.phone = "13000000003";
    update.resident_id = s.unknown;
    call ("ps.person.update", &update.base, NULL, ONENET_NOT_FOUND);
    update.resident_id = "51010719850314123";
    call ("ps.person.update", &update.base, NULL, ONENET_BAD_REQUEST);
}

static void
test_ps_view_contribution (void **state)
{
    Onenet__View__Contribution *c = contribution ("ps.view.person", s.ps_only, ONENET_OK);
    assert_canonical (c, s.ps_only);
    assert_non_null (field (c, "household_id"));
    assert_null (field (c, "pension_status"));
    assert_string_equal (c->detail_type, "onenet.ps.Person");
    Onenet__Ps__Person *detail = onenet__ps__person__unpack (NULL, c->detail.len, c->detail.data);
    assert_non_null (detail);
    assert_string_equal (detail->resident_id, s.ps_only);
    assert_string_equal (detail->name, field (c, "name"));
    assert_int_equal (detail->n_incident_reports, 0);   /* reports stay with the police */
    free_message (detail);
    free_message (c);

    c = contribution ("ps.view.person", s.unknown, ONENET_OK);
    assert_false (c->found);
    assert_int_equal (c->n_fields, 0);
    free_message (c);
    contribution ("ps.view.person", "110105194912310021", ONENET_BAD_REQUEST);
}

static void
test_ss_insurance (void **state)
{
    Onenet__Ss__InsuranceGetRequest get = ONENET__SS__INSURANCE_GET_REQUEST__INIT;
    get.resident_id = s.known;
    Onenet__Ss__InsuredPerson *person = (Onenet__Ss__InsuredPerson *) call (
        "ss.insurance.get", &get.base, &onenet__ss__insured_person__descriptor, ONENET_OK);
    assert_string_equal (person->resident_id, s.known);
    assert_true (*person->insurance_no);
    assert_int_not_equal (person->pension_status, ONENET__SS__PENSION_STATUS__PENSION_UNKNOWN);
    assert_non_null (person->contributions);
    free_message (person);
    get.resident_id = s.ps_only;
    call ("ss.insurance.get", &get.base, NULL, ONENET_NOT_FOUND);
    get.resident_id = "";
    call ("ss.insurance.get", &get.base, NULL, ONENET_BAD_REQUEST);

    Onenet__Ss__InsuranceUpdateRequest update = ONENET__SS__INSURANCE_UPDATE_REQUEST__INIT;
    update.resident_id = s.known;
    update.address = "Xihu 测试街 9号 (synthetic)";
    person = (Onenet__Ss__InsuredPerson *) call ("ss.insurance.update", &update.base,
                                                 &onenet__ss__insured_person__descriptor,
                                                 ONENET_OK);
    assert_string_equal (person->address, update.address);
    free_message (person);
    get.resident_id = s.known;
    person = (Onenet__Ss__InsuredPerson *) call ("ss.insurance.get", &get.base,
                                                 &onenet__ss__insured_person__descriptor,
                                                 ONENET_OK);
    assert_string_equal (person->address, "Xihu 测试街 9号 (synthetic)");
    free_message (person);
    update.resident_id = s.ps_only;
    call ("ss.insurance.update", &update.base, NULL, ONENET_NOT_FOUND);
    update.resident_id = s.known;
    update.address = "";
    call ("ss.insurance.update", &update.base, NULL, ONENET_BAD_REQUEST);
}

static void
test_ss_view_contribution (void **state)
{
    Onenet__View__Contribution *c = contribution ("ss.view.person", s.known, ONENET_OK);
    assert_canonical (c, s.known);
    const char *pension = field (c, "pension_status");
    assert_non_null (pension);
    assert_true (strcmp (pension, "not_eligible") == 0 || strcmp (pension, "contributing") == 0
                 || strcmp (pension, "suspended") == 0 || strcmp (pension, "receiving") == 0);
    assert_null (field (c, "household_id"));   /* only what the department holds */
    assert_string_equal (c->detail_type, "onenet.ss.InsuredPerson");
    free_message (c);

    c = contribution ("ss.view.person", s.ps_only, ONENET_OK);
    assert_false (c->found);
    free_message (c);
    contribution ("ss.view.person", "abc", ONENET_BAD_REQUEST);

    /* The seeded inconsistency is visible through the two departments. */
    Onenet__View__Contribution *ps = contribution ("ps.view.person", s.conflict, ONENET_OK);
    Onenet__View__Contribution *ss = contribution ("ss.view.person", s.conflict, ONENET_OK);
    assert_string_equal (field (ps, "name"), field (ss, "name"));
    assert_string_not_equal (field (ps, "address"), field (ss, "address"));
    free_message (ps);
    free_message (ss);
}

static void
test_em_services (void **state)
{
    Onenet__Em__VulnerableGetRequest get = ONENET__EM__VULNERABLE_GET_REQUEST__INIT;
    get.resident_id = s.known;
    Onenet__Em__VulnerablePerson *person = (Onenet__Em__VulnerablePerson *) call (
        "em.vulnerable.get", &get.base, &onenet__em__vulnerable_person__descriptor, ONENET_OK);
    assert_string_equal (person->resident_id, s.known);
    assert_in_range (person->evacuation_priority, 1, 3);
    assert_true (*person->shelter_id);
    free_message (person);
    get.resident_id = s.ps_only;
    call ("em.vulnerable.get", &get.base, NULL, ONENET_NOT_FOUND);
    get.resident_id = "51010719850314123X";
    call ("em.vulnerable.get", &get.base, NULL, ONENET_BAD_REQUEST);

    Onenet__Em__ShelterListRequest shelters = ONENET__EM__SHELTER_LIST_REQUEST__INIT;
    shelters.area_prefix = "51";
    Onenet__Em__ShelterList *list = (Onenet__Em__ShelterList *) call (
        "em.shelter.list", &shelters.base, &onenet__em__shelter_list__descriptor, ONENET_OK);
    sqlite3 *db = open_store (s.data, "emergency.db");
    assert_int_equal ((long) list->n_shelters,
                      query_long (db, "SELECT count(*) FROM shelters WHERE district_code LIKE '51%'"));
    assert_true (list->n_shelters > 0);
    for (size_t i = 0; i < list->n_shelters; i++)
        assert_memory_equal (list->shelters[i]->district_code, "51", 2);
    free_message (list);
    shelters.area_prefix = "";
    list = (Onenet__Em__ShelterList *) call ("em.shelter.list", &shelters.base,
                                             &onenet__em__shelter_list__descriptor, ONENET_OK);
    assert_int_equal ((long) list->n_shelters, query_long (db, "SELECT count(*) FROM shelters"));
    free_message (list);
    shelters.area_prefix = "5l";
    call ("em.shelter.list", &shelters.base, NULL, ONENET_BAD_REQUEST);

    Onenet__Em__IncidentListRequest incidents = ONENET__EM__INCIDENT_LIST_REQUEST__INIT;
    Onenet__Em__IncidentList *found = (Onenet__Em__IncidentList *) call (
        "em.incident.list", &incidents.base, &onenet__em__incident_list__descriptor, ONENET_OK);
    assert_int_equal ((long) found->n_incidents, query_long (db, "SELECT count(*) FROM incidents"));
    for (size_t i = 1; i < found->n_incidents; i++)
        assert_true (found->incidents[i - 1]->started_at_ms >= found->incidents[i]->started_at_ms);
    free_message (found);
    incidents.open_only = true;
    incidents.limit = 5;
    found = (Onenet__Em__IncidentList *) call ("em.incident.list", &incidents.base,
                                               &onenet__em__incident_list__descriptor, ONENET_OK);
    assert_true (found->n_incidents <= 5);
    for (size_t i = 0; i < found->n_incidents; i++)
        assert_string_equal (found->incidents[i]->status, "open");
    free_message (found);
    sqlite3_close (db);
}

static void
test_em_view_contribution (void **state)
{
    Onenet__View__Contribution *c = contribution ("em.view.person", s.known, ONENET_OK);
    assert_canonical (c, s.known);
    assert_non_null (field (c, "vulnerability"));
    const char *priority = field (c, "evacuation_priority");
    assert_non_null (priority);
    assert_true (strcmp (priority, "1") == 0 || strcmp (priority, "2") == 0
                 || strcmp (priority, "3") == 0);
    assert_string_equal (c->detail_type, "onenet.em.VulnerablePerson");
    free_message (c);
    c = contribution ("em.view.person", s.ps_only, ONENET_OK);
    assert_false (c->found);
    free_message (c);
}

/* Writes to a store as a department's own system would, beside its
 * adapter: another connection, then a checkpoint into the database file. */
static void
write_store (const char *file, const char *sql)
{
    char path[600];
    snprintf (path, sizeof path, "%s/%s", s.data, file);
    sqlite3 *db = NULL;
    assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout (db, 5000);
    char *message = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
        fail_msg ("%s: %s", sql, message ? message : "?");
    assert_int_equal (sqlite3_changes (db), 1);
    assert_int_equal (sqlite3_exec (db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
                      SQLITE_OK);
    sqlite3_close (db);
}

/* The adapters read a record and its rows in one transaction each time:
 * one that stayed open would keep them on an old snapshot for good. Each
 * lookup here comes after a lookup of the same person and before a write
 * by another process, whose value must show at once, in every store. */
static void
test_adapters_see_writes_of_the_departments_own_systems (void **state)
{
    char sql[300];
    const char *addresses[] = { "Jinjiang 外部写入 1号 (synthetic)", "Jinjiang 外部写入 2号 (synthetic)" };
    for (size_t round = 0; round < 2; round++) {
        const char *address = addresses[round];
        Onenet__Ps__PersonGetRequest ps = ONENET__PS__PERSON_GET_REQUEST__INIT;
        ps.resident_id = s.known;
        free_message (call ("ps.person.get", &ps.base, &onenet__ps__person__descriptor, ONENET_OK));
        snprintf (sql, sizeof sql, "UPDATE persons SET address = '%s' WHERE resident_id = '%s'",
                  address, s.known);
        write_store ("public_security.db", sql);
        Onenet__Ps__Person *person = (Onenet__Ps__Person *) call (
            "ps.person.get", &ps.base, &onenet__ps__person__descriptor, ONENET_OK);
        assert_string_equal (person->address, address);
        free_message (person);

        Onenet__Ss__InsuranceGetRequest ss = ONENET__SS__INSURANCE_GET_REQUEST__INIT;
        ss.resident_id = s.known;
        free_message (call ("ss.insurance.get", &ss.base, &onenet__ss__insured_person__descriptor,
                            ONENET_OK));
        snprintf (sql, sizeof sql,
                  "UPDATE insured_persons SET address = '%s' WHERE resident_id = '%s'", address,
                  s.known);
        write_store ("social_security.db", sql);
        Onenet__View__Contribution *c = contribution ("ss.view.person", s.known, ONENET_OK);
        assert_string_equal (field (c, "address"), address);
        free_message (c);

        Onenet__View__Contribution *em = contribution ("em.view.person", s.known, ONENET_OK);
        bool vulnerable = em->found;
        free_message (em);
        if (!vulnerable)
            continue;   /* not in the registry: nothing to change there */
        snprintf (sql, sizeof sql,
                  "UPDATE vulnerable_persons SET address = '%s' WHERE resident_id = '%s'", address,
                  s.known);
        write_store ("emergency.db", sql);
        em = contribution ("em.view.person", s.known, ONENET_OK);
        assert_string_equal (field (em, "address"), address);
        free_message (em);
    }
}

int
main (void)
{
    const struct CMUnitTest seed_tests[] = {
        cmocka_unit_test (test_seed_is_deterministic),
        cmocka_unit_test (test_other_seed_gives_other_data),
        cmocka_unit_test (test_seed_resident_ids_are_valid),
        cmocka_unit_test (test_seed_overlaps_and_inconsistencies),
        cmocka_unit_test (test_seed_replaces_existing_stores),
        cmocka_unit_test (test_seed_usage_errors),
    };
    const struct CMUnitTest adapter_tests[] = {
        cmocka_unit_test (test_services_are_described),
        cmocka_unit_test (test_ps_person_get),
        cmocka_unit_test (test_ps_person_search_and_household),
        cmocka_unit_test (test_ps_view_contribution),
        cmocka_unit_test (test_ps_update_then_get),
        cmocka_unit_test (test_ss_insurance),
        cmocka_unit_test (test_ss_view_contribution),
        cmocka_unit_test (test_em_services),
        cmocka_unit_test (test_em_view_contribution),
        cmocka_unit_test (test_adapters_see_writes_of_the_departments_own_systems),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    int failed = cmocka_run_group_tests_name ("seed", seed_tests, setup_seeds, teardown_all);
    failed += cmocka_run_group_tests_name ("adapters", adapter_tests, setup_system,
                                           teardown_system);
    return failed;
}
