/*
 * ss_store.c - SQLite access of the social security adapter: prepared
 * statements over insured_persons, contributions, benefit_claims and
 * benefit_payments (schema in tools/seed/seed_social_security.c),
 * turned into onenet.ss messages. One connection, statements prepared once at open.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "store_sqlite.h"
#include "ss_store.h"

#define MAX_RECORDS 20
#define MAX_CLAIMS 50

enum {
    STMT_INSURED,
    STMT_SUMMARY,
    STMT_RECORDS,
    STMT_CLAIMS,
    STMT_PAYMENTS,
    STMT_UPDATE,
    STMT_COUNT,
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_TOTAL
};

static const char *const s_sql[STMT_TOTAL] = {
    [STMT_INSURED] = "SELECT resident_id, insurance_no, name, birth_date, sex, address, phone,"
                     " employer, enrolled_on, pension_status, updated_at_ms"
                     " FROM insured_persons WHERE resident_id = ?1",
    [STMT_SUMMARY] = "SELECT COALESCE(SUM(CASE WHEN scheme = 'pension' THEN months END), 0),"
                     " COALESCE(SUM(amount_fen), 0), COALESCE(MIN(year), 0),"
                     " COALESCE(MAX(year), 0) FROM contributions WHERE resident_id = ?1",
    [STMT_RECORDS] = "SELECT year, scheme, months, amount_fen, employer FROM contributions"
                     " WHERE resident_id = ?1 ORDER BY year DESC, scheme LIMIT 20",
    [STMT_CLAIMS] = "SELECT claim_id, kind, filed_on, status, amount_fen FROM benefit_claims"
                    " WHERE resident_id = ?1 ORDER BY filed_on DESC, claim_id LIMIT 50",
    [STMT_PAYMENTS] = "SELECT payment_id, claim_id, paid_on, amount_fen FROM benefit_payments"
                      " WHERE claim_id = ?1 ORDER BY paid_on, payment_id",
    [STMT_UPDATE] = "UPDATE insured_persons SET address = COALESCE(NULLIF(?2, ''), address),"
                    " phone = COALESCE(NULLIF(?3, ''), phone), updated_at_ms = ?4"
                    " WHERE resident_id = ?1",
    [STMT_COUNT] = "SELECT count(*) FROM insured_persons",
    [STMT_BEGIN] = STORE_SQLITE_BEGIN,
    [STMT_COMMIT] = STORE_SQLITE_COMMIT,
};

static const struct {
    const char *name;
    Onenet__Ss__PensionStatus status;
} s_pension[] = {
    { "not_eligible", ONENET__SS__PENSION_STATUS__PENSION_NOT_ELIGIBLE },
    { "contributing", ONENET__SS__PENSION_STATUS__PENSION_CONTRIBUTING },
    { "suspended", ONENET__SS__PENSION_STATUS__PENSION_SUSPENDED },
    { "receiving", ONENET__SS__PENSION_STATUS__PENSION_RECEIVING },
};

struct ss_store_t {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_TOTAL];
    char error[256];
};

static void *
xcalloc (size_t count, size_t size)
{
    void *memory = calloc (count ? count : 1, size);
    if (!memory) {
        fprintf (stderr, "social_security adapter: out of memory\n");
        abort ();
    }
    return memory;
}

static char *
column_text (sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text (stmt, column);
    size_t size = (size_t) sqlite3_column_bytes (stmt, column);
    char *copy = xcalloc (size + 1, 1);
    if (text)
        memcpy (copy, text, size);
    return copy;
}

static int
fail (ss_store_t *self, sqlite3_stmt *stmt)
{
    snprintf (self->error, sizeof self->error, "%s", sqlite3_errmsg (self->db));
    if (stmt)
        sqlite3_reset (stmt);
    return -1;
}

const char *
ss_pension_status_name (Onenet__Ss__PensionStatus status)
{
    for (size_t i = 0; i < sizeof s_pension / sizeof s_pension[0]; i++)
        if (s_pension[i].status == status)
            return s_pension[i].name;
    return "unknown";
}

static Onenet__Ss__PensionStatus
pension_status_from_name (const char *name)
{
    for (size_t i = 0; i < sizeof s_pension / sizeof s_pension[0]; i++)
        if (strcmp (s_pension[i].name, name) == 0)
            return s_pension[i].status;
    return ONENET__SS__PENSION_STATUS__PENSION_UNKNOWN;
}

ss_store_t *
ss_store_open (const char *path, char *err, size_t err_size)
{
    ss_store_t *self = xcalloc (1, sizeof *self);
    self->db = store_sqlite_open (path, err, err_size);
    if (!self->db) {
        ss_store_close (&self);
        return NULL;
    }
    for (int i = 0; i < STMT_TOTAL; i++)
        if (sqlite3_prepare_v3 (self->db, s_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &self->stmt[i],
                                NULL)
            != SQLITE_OK) {
            snprintf (err, err_size, "%s is not a social security store: %s", path,
                      sqlite3_errmsg (self->db));
            ss_store_close (&self);
            return NULL;
        }
    return self;
}

void
ss_store_close (ss_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ss_store_t *self = *self_p;
    for (int i = 0; i < STMT_TOTAL; i++)
        sqlite3_finalize (self->stmt[i]);
    sqlite3_close (self->db);
    free (self);
    *self_p = NULL;
}

const char *
ss_store_error (const ss_store_t *self)
{
    return self->error;
}

long
ss_store_count_insured (ss_store_t *self)
{
    sqlite3_stmt *stmt = self->stmt[STMT_COUNT];
    long count = sqlite3_step (stmt) == SQLITE_ROW ? (long) sqlite3_column_int64 (stmt, 0) : -1;
    sqlite3_reset (stmt);
    return count;
}

static int
load_contributions (ss_store_t *self, Onenet__Ss__InsuredPerson *person)
{
    Onenet__Ss__ContributionSummary *summary = xcalloc (1, sizeof *summary);
    onenet__ss__contribution_summary__init (summary);
    person->contributions = summary;

    sqlite3_stmt *stmt = self->stmt[STMT_SUMMARY];
    sqlite3_bind_text (stmt, 1, person->resident_id, -1, SQLITE_STATIC);
    if (sqlite3_step (stmt) != SQLITE_ROW)
        return fail (self, stmt);
    summary->months_paid = (uint32_t) sqlite3_column_int64 (stmt, 0);
    summary->total_fen = sqlite3_column_int64 (stmt, 1);
    summary->first_year = (uint32_t) sqlite3_column_int64 (stmt, 2);
    summary->last_year = (uint32_t) sqlite3_column_int64 (stmt, 3);
    sqlite3_reset (stmt);

    stmt = self->stmt[STMT_RECORDS];
    sqlite3_bind_text (stmt, 1, person->resident_id, -1, SQLITE_STATIC);
    summary->records = xcalloc (MAX_RECORDS, sizeof *summary->records);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW && summary->n_records < MAX_RECORDS) {
        Onenet__Ss__ContributionRecord *record = xcalloc (1, sizeof *record);
        onenet__ss__contribution_record__init (record);
        record->year = (uint32_t) sqlite3_column_int64 (stmt, 0);
        record->scheme = column_text (stmt, 1);
        record->months = (uint32_t) sqlite3_column_int64 (stmt, 2);
        record->amount_fen = sqlite3_column_int64 (stmt, 3);
        record->employer = column_text (stmt, 4);
        summary->records[summary->n_records++] = record;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail (self, stmt);
    sqlite3_reset (stmt);
    return 0;
}

static int
load_payments (ss_store_t *self, Onenet__Ss__BenefitClaim *claim)
{
    sqlite3_stmt *stmt = self->stmt[STMT_PAYMENTS];
    sqlite3_bind_text (stmt, 1, claim->claim_id, -1, SQLITE_STATIC);
    size_t capacity = 0;
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (claim->n_payments == capacity) {
            capacity = capacity ? capacity * 2 : 4;
            Onenet__Ss__BenefitPayment **grown = realloc (claim->payments,
                                                          capacity * sizeof *grown);
            if (!grown)
                abort ();
            claim->payments = grown;
        }
        Onenet__Ss__BenefitPayment *payment = xcalloc (1, sizeof *payment);
        onenet__ss__benefit_payment__init (payment);
        payment->payment_id = column_text (stmt, 0);
        payment->claim_id = column_text (stmt, 1);
        payment->paid_on = column_text (stmt, 2);
        payment->amount_fen = sqlite3_column_int64 (stmt, 3);
        claim->payments[claim->n_payments++] = payment;
    }
    if (rc != SQLITE_DONE)
        return fail (self, stmt);
    sqlite3_reset (stmt);
    return 0;
}

static int
load_claims (ss_store_t *self, Onenet__Ss__InsuredPerson *person)
{
    sqlite3_stmt *stmt = self->stmt[STMT_CLAIMS];
    sqlite3_bind_text (stmt, 1, person->resident_id, -1, SQLITE_STATIC);
    person->claims = xcalloc (MAX_CLAIMS, sizeof *person->claims);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW && person->n_claims < MAX_CLAIMS) {
        Onenet__Ss__BenefitClaim *claim = xcalloc (1, sizeof *claim);
        onenet__ss__benefit_claim__init (claim);
        claim->claim_id = column_text (stmt, 0);
        claim->kind = column_text (stmt, 1);
        claim->filed_on = column_text (stmt, 2);
        claim->status = column_text (stmt, 3);
        claim->amount_fen = sqlite3_column_int64 (stmt, 4);
        person->claims[person->n_claims++] = claim;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail (self, stmt);
    sqlite3_reset (stmt);
    /* Payments after the claims statement is reset: one statement at a time. */
    for (size_t i = 0; i < person->n_claims; i++)
        if (load_payments (self, person->claims[i]) < 0)
            return -1;
    return 0;
}

static int
load_insured (ss_store_t *self, const char *resident_id, Onenet__Ss__InsuredPerson **out_p)
{
    sqlite3_stmt *stmt = self->stmt[STMT_INSURED];
    sqlite3_bind_text (stmt, 1, resident_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_DONE) {
        sqlite3_reset (stmt);
        return 0;
    }
    if (rc != SQLITE_ROW)
        return fail (self, stmt);
    Onenet__Ss__InsuredPerson *person = xcalloc (1, sizeof *person);
    onenet__ss__insured_person__init (person);
    person->resident_id = column_text (stmt, 0);
    person->insurance_no = column_text (stmt, 1);
    person->name = column_text (stmt, 2);
    person->birth_date = column_text (stmt, 3);
    person->sex = column_text (stmt, 4);
    person->address = column_text (stmt, 5);
    person->phone = column_text (stmt, 6);
    person->employer = column_text (stmt, 7);
    person->enrolled_on = column_text (stmt, 8);
    const unsigned char *status = sqlite3_column_text (stmt, 9);
    person->pension_status = pension_status_from_name (status ? (const char *) status : "");
    person->updated_at_ms = sqlite3_column_int64 (stmt, 10);
    sqlite3_reset (stmt);
    if (load_contributions (self, person) < 0 || load_claims (self, person) < 0) {
        protobuf_c_message_free_unpacked (&person->base, NULL);
        return -1;
    }
    *out_p = person;
    return 1;
}

int
ss_store_insured (ss_store_t *self, const char *resident_id, Onenet__Ss__InsuredPerson **out_p)
{
    bool begun = store_sqlite_read_begin (self->db, self->stmt[STMT_BEGIN]);
    int found = load_insured (self, resident_id, out_p);
    store_sqlite_read_end (self->db, self->stmt[STMT_COMMIT], begun);
    return found;
}

int
ss_store_update (ss_store_t *self, const char *resident_id, const char *address,
                 const char *phone, int64_t updated_at_ms)
{
    sqlite3_stmt *stmt = self->stmt[STMT_UPDATE];
    sqlite3_bind_text (stmt, 1, resident_id, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, address ? address : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, phone ? phone : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 4, updated_at_ms);
    if (sqlite3_step (stmt) != SQLITE_DONE)
        return fail (self, stmt);
    sqlite3_reset (stmt);
    return sqlite3_changes (self->db) > 0 ? 1 : 0;
}
