/*
 * test_audit.c - the audit chain: the entry hash against a value worked
 * out independently (SHA-256 of a protobuf encoding written out by hand,
 * in Python's hashlib), the file verifier on an intact chain and on each
 * way to break one (edit, deletion, reordering, replacement, garbage, a
 * line cut short), the broker writing a chain that survives a restart and
 * a crash mid-write, and finding a request's subject in its packed body.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "audit.h"
#include "onenet/audit.h"
#include "onenet/proto/public_security.pb-c.h"
#include "onenet/proto/view.pb-c.h"

#define MAX_LINES 128
#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* The entry whose hash was computed by hand (see the file comment). */
static Onenet__Audit__Entry
known_entry (uint64_t sequence, uint8_t *prev, const char *purpose)
{
    Onenet__Audit__Entry entry = ONENET__AUDIT__ENTRY__INIT;
    entry.sequence = sequence;
    entry.time_ms = 1752261600123;
    entry.kind = "request";
    entry.requester = "social_security";
    entry.user = "clerk.wang";
    entry.service = "ps.person.get";
    entry.subject = "510104199003071234";
    entry.purpose = (char *) purpose;
    entry.outcome = "OK";
    entry.latency_us = 1830;
    entry.answered_by = "public_security/i1";
    entry.prev_hash.data = prev;
    entry.prev_hash.len = 32;
    return entry;
}

static const char *
hex (const uint8_t hash[32])
{
    static char out[65];
    return onenet_audit_hex (hash, 32, out);
}

static void
test_hash_is_sha256_of_the_canonical_encoding (void **state)
{
    (void) state;
    uint8_t zero[32] = { 0 }, first[32], second[32], again[32];
    Onenet__Audit__Entry entry = known_entry (1, zero, "pension review");
    assert_int_equal (onenet_audit_hash (&entry, first), 0);
    assert_string_equal (hex (first),
                         "f628f89c2d86e8f11a3eb3bbf93aed8baf338dff64817dfd22f6b3e941144e88");
    /* The next entry chains to it; "" (the default) is left out. */
    Onenet__Audit__Entry next = known_entry (2, first, "");
    assert_int_equal (onenet_audit_hash (&next, second), 0);
    assert_string_equal (hex (second),
                         "801b60d49ad0dc3eea68f8cf5baf7750f64cfbe8b20db98b9de155d41d771a40");

    /* The hash field and unknown fields do not count. */
    entry.hash.data = second;
    entry.hash.len = 32;
    ProtobufCMessageUnknownField unknown = { 99, PROTOBUF_C_WIRE_TYPE_VARINT, 1,
                                             (uint8_t *) "\x01" };
    entry.base.n_unknown_fields = 1;
    entry.base.unknown_fields = &unknown;
    assert_int_equal (onenet_audit_hash (&entry, again), 0);
    assert_memory_equal (again, first, 32);
    /* Every field does. */
    entry.latency_us = 1831;
    assert_int_equal (onenet_audit_hash (&entry, again), 0);
    assert_memory_not_equal (again, first, 32);
    assert_int_equal (onenet_audit_hash (NULL, again), -1);
}

static void
test_line_round_trip (void **state)
{
    (void) state;
    uint8_t zero[32] = { 0 }, hash[32];
    Onenet__Audit__Entry entry = known_entry (1, zero, "pension \"review\"\n 养老金");
    onenet_audit_hash (&entry, hash);
    entry.hash.data = hash;
    entry.hash.len = 32;
    size_t length = 0;
    char *line = onenet_audit_line (&entry, &length);
    assert_non_null (line);
    assert_int_equal (strlen (line), length);
    assert_int_equal (line[length - 1], '\n');
    assert_null (memchr (line, '\n', length - 1));   /* one line, whatever the purpose holds */
    assert_non_null (strstr (line, "\"prev\":\"" ZEROS "\""));
    char why[200];
    Onenet__Audit__Entry *back = onenet_audit_parse_line (line, length, why, sizeof why);
    assert_non_null (back);
    assert_string_equal (back->purpose, entry.purpose);
    assert_int_equal (back->time_ms, entry.time_ms);
    uint8_t rehash[32];
    onenet_audit_hash (back, rehash);
    assert_memory_equal (rehash, hash, 32);
    assert_memory_equal (back->hash.data, hash, 32);
    onenet__audit__entry__free_unpacked (back, NULL);
    free (line);
    /* Control characters are escaped; bytes that are not UTF-8 refused. */
    entry.purpose = "tab\there \x01 bell";
    line = onenet_audit_line (&entry, &length);
    assert_non_null (strstr (line, "\"purpose\":\"tab\\there \\u0001 bell\""));
    back = onenet_audit_parse_line (line, length, why, sizeof why);
    assert_non_null (back);
    assert_string_equal (back->purpose, entry.purpose);
    onenet__audit__entry__free_unpacked (back, NULL);
    free (line);
    entry.purpose = "\xC3\x28";
    assert_null (onenet_audit_line (&entry, NULL));

    static const char *const bad[] = {
        "not json",
        "[1,2]",
        "{\"sequence\":1,\"prev\":\"00\",\"hash\":\"00\"}",
        "{\"sequence\":-1,\"prev\":\"" ZEROS "\",\"hash\":\"" ZEROS "\"}",
        "{\"sequence\":1,\"extra\":1}",
        "{\"sequence\":1,\"sequence\":2}",
        "{\"sequence\":1,\"purpose\":7,\"prev\":\"" ZEROS "\",\"hash\":\"" ZEROS "\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        assert_null (onenet_audit_parse_line (bad[i], strlen (bad[i]), why, sizeof why));
        assert_true (strlen (why) > 0);
    }
}

/* --- files --- */

static char s_dir[64];

static int
setup_dir (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/onenet-test-audit-XXXXXX");
    return mkdtemp (s_dir) ? 0 : -1;
}

static int
teardown_dir (void **state)
{
    (void) state;
    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s'", s_dir);
    return system (command);
}

static const char *
path_in_dir (const char *name)
{
    static char path[128];
    snprintf (path, sizeof path, "%s/%s", s_dir, name);
    return path;
}

/* Writes a chain of count entries, the way the broker does. */
static void
write_chain (const char *path, uint64_t count)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    uint8_t prev[32] = { 0 }, hash[32];
    for (uint64_t i = 1; i <= count; i++) {
        char purpose[64];
        snprintf (purpose, sizeof purpose, "case %" PRIu64, i);
        Onenet__Audit__Entry entry = known_entry (i, prev, purpose);
        entry.time_ms += (int64_t) i;
        assert_int_equal (onenet_audit_hash (&entry, hash), 0);
        entry.hash.data = hash;
        entry.hash.len = 32;
        char *line = onenet_audit_line (&entry, NULL);
        assert_non_null (line);
        fputs (line, file);
        free (line);
        memcpy (prev, hash, 32);
    }
    fclose (file);
}

typedef struct {
    char *line[MAX_LINES];
    size_t count;
} lines_t;

static void
read_lines (const char *path, lines_t *lines)
{
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    lines->count = 0;
    char *line = NULL;
    size_t capacity = 0;
    while (getline (&line, &capacity, file) >= 0 && lines->count < MAX_LINES)
        lines->line[lines->count++] = strdup (line);
    free (line);
    fclose (file);
}

/* Writes the lines back (NULL ones left out) and frees them. */
static void
write_lines (const char *path, lines_t *lines)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    for (size_t i = 0; i < lines->count; i++) {
        if (lines->line[i])
            fputs (lines->line[i], file);
        free (lines->line[i]);
    }
    fclose (file);
}

static void
verify (const char *path, onenet_audit_report_t *report)
{
    char err[256];
    assert_int_equal (onenet_audit_verify_file (path, report, err, sizeof err), 0);
}

static void
test_verify_intact_and_empty (void **state)
{
    (void) state;
    const char *path = path_in_dir ("intact.log");
    write_chain (path, 50);
    onenet_audit_report_t report;
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_INTACT);
    assert_int_equal (report.entries, 50);
    assert_int_equal (report.last_sequence, 50);
    assert_int_equal (report.line, 0);

    FILE *file = fopen (path_in_dir ("empty.log"), "w");
    fclose (file);
    verify (path_in_dir ("empty.log"), &report);
    assert_int_equal (report.problem, ONENET_AUDIT_INTACT);
    assert_int_equal (report.entries, 0);

    char err[256];
    assert_int_equal (onenet_audit_verify_file (path_in_dir ("missing.log"), &report, err,
                                                sizeof err), -1);
    assert_non_null (strstr (err, "missing.log"));
}

/* Replaces the first occurrence of from in a line by to. */
static void
edit_line (char **line, const char *from, const char *to)
{
    char *at = strstr (*line, from);
    assert_non_null (at);
    char *edited = malloc (strlen (*line) + strlen (to) + 1);
    snprintf (edited, strlen (*line) + strlen (to) + 1, "%.*s%s%s", (int) (at - *line), *line, to,
              at + strlen (from));
    free (*line);
    *line = edited;
}

static void
test_edited_entry_named_at_its_line (void **state)
{
    (void) state;
    const char *path = path_in_dir ("edited.log");
    write_chain (path, 50);
    lines_t lines;
    read_lines (path, &lines);
    edit_line (&lines.line[41], "\"case 42\"", "\"routine check\"");
    write_lines (path, &lines);
    onenet_audit_report_t report;
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_EDITED);
    assert_int_equal (report.line, 42);
    assert_int_equal (report.sequence, 42);
    assert_int_equal (report.entries, 41);
    assert_string_equal (report.detail, "hash mismatch");
    assert_string_equal (onenet_audit_problem_name (report.problem), "edited");

    /* Spacing is not content: an entry re-spaced by an editor still holds. */
    write_chain (path, 5);
    read_lines (path, &lines);
    edit_line (&lines.line[2], "\"kind\":", "\"kind\" : ");
    write_lines (path, &lines);
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_INTACT);
}

static void
test_deleted_entries (void **state)
{
    (void) state;
    const char *path = path_in_dir ("deleted.log");
    write_chain (path, 20);
    lines_t lines;
    read_lines (path, &lines);
    free (lines.line[9]);   /* sequence 10 */
    lines.line[9] = NULL;
    write_lines (path, &lines);
    onenet_audit_report_t report;
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_DELETED);
    assert_int_equal (report.line, 10);       /* where sequence 11 now is */
    assert_int_equal (report.sequence, 11);
    assert_int_equal (report.entries, 9);
    assert_non_null (strstr (report.detail, "sequence 11 follows 9"));

    /* The first entry gone. */
    write_chain (path, 5);
    read_lines (path, &lines);
    free (lines.line[0]);
    lines.line[0] = NULL;
    write_lines (path, &lines);
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_DELETED);
    assert_int_equal (report.line, 1);
    assert_non_null (strstr (report.detail, "starts at sequence 2"));
}

static void
test_reordered_entries (void **state)
{
    (void) state;
    const char *path = path_in_dir ("reordered.log");
    write_chain (path, 20);
    lines_t lines;
    read_lines (path, &lines);
    char *swap = lines.line[6];   /* sequences 7 and 8 swapped */
    lines.line[6] = lines.line[7];
    lines.line[7] = swap;
    write_lines (path, &lines);
    onenet_audit_report_t report;
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_REORDERED);
    assert_int_equal (report.line, 7);
    assert_int_equal (report.sequence, 8);
    assert_non_null (strstr (report.detail, "at line 8"));

    /* An entry repeated. */
    write_chain (path, 10);
    read_lines (path, &lines);
    free (lines.line[5]);
    lines.line[5] = strdup (lines.line[4]);
    write_lines (path, &lines);
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_REORDERED);
    assert_int_equal (report.line, 6);
    assert_int_equal (report.sequence, 5);
}

static void
test_replaced_entry_breaks_the_chain_after_it (void **state)
{
    (void) state;
    /* A forger rewrites entry 3 and recomputes its hash: entry 3 is
     * consistent in itself, but entry 4 was chained to the original. */
    const char *path = path_in_dir ("replaced.log");
    write_chain (path, 6);
    lines_t lines;
    read_lines (path, &lines);
    char why[200];
    Onenet__Audit__Entry *entry = onenet_audit_parse_line (lines.line[2], strlen (lines.line[2]),
                                                           why, sizeof why);
    assert_non_null (entry);
    Onenet__Audit__Entry forged = *entry;
    forged.purpose = "nothing to see";
    uint8_t hash[32];
    onenet_audit_hash (&forged, hash);
    forged.hash.data = hash;
    free (lines.line[2]);
    lines.line[2] = onenet_audit_line (&forged, NULL);
    onenet__audit__entry__free_unpacked (entry, NULL);
    write_lines (path, &lines);
    onenet_audit_report_t report;
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_REPLACED);
    assert_int_equal (report.line, 4);
    assert_int_equal (report.entries, 3);
}

static void
test_unreadable_and_incomplete_lines (void **state)
{
    (void) state;
    const char *path = path_in_dir ("garbage.log");
    write_chain (path, 8);
    lines_t lines;
    read_lines (path, &lines);
    free (lines.line[4]);
    lines.line[4] = strdup ("{\"sequence\":5, oops\n");
    write_lines (path, &lines);
    onenet_audit_report_t report;
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_UNREADABLE);
    assert_int_equal (report.line, 5);
    assert_int_equal (report.sequence, 0);
    assert_non_null (strstr (report.detail, "not JSON"));

    /* The last line cut short, as by a crash in the middle of a write. */
    write_chain (path, 8);
    FILE *file = fopen (path, "a");
    fputs ("{\"sequence\":9,\"time_ms\":17522", file);
    fclose (file);
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_INCOMPLETE);
    assert_int_equal (report.line, 9);
    assert_int_equal (report.entries, 8);
}

/* --- the broker's side --- */

static audit_t *
open_audit (broker_t *broker, const char *path, char *err, size_t err_size)
{
    audit_settings_t settings = { true, path, "onenet:audit:test" };
    return audit_new (broker, &settings, err, err_size);
}

static void
record (audit_t *audit, const char *purpose, onenet_status_t status)
{
    audit_event_t event = {
        .kind = "request", .requester = "social_security", .user = "clerk.wang",
        .service = "ps.person.get", .subject = "510104199003071234", .purpose = purpose,
        .status = status, .latency_us = 1200, .answered_by = "public_security/i1",
    };
    assert_int_equal (audit_record (audit, &event), 0);
}

static void
test_broker_chain_survives_restart_and_crash (void **state)
{
    (void) state;
    broker_t broker;
    memset (&broker, 0, sizeof broker);
    const char *path = path_in_dir ("broker.log");
    char err[512] = "";
    audit_t *audit = open_audit (&broker, path, err, sizeof err);
    assert_non_null (audit);
    for (int i = 0; i < 5; i++)
        record (audit, "pension review", ONENET_OK);
    /* What arrives from the wire need not be UTF-8, nor short. */
    char odd[2000];
    memset (odd, 'a', sizeof odd - 1);
    odd[sizeof odd - 1] = '\0';
    odd[3] = (char) 0xFF;
    record (audit, odd, ONENET_NOT_FOUND);
    audit_t *second = open_audit (&broker, path, err, sizeof err);
    assert_null (second);   /* one broker per file */
    assert_non_null (strstr (err, "in use"));
    audit_destroy (&audit);
    assert_null (audit);

    onenet_audit_report_t report;
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_INTACT);
    assert_int_equal (report.entries, 6);
    lines_t lines;
    read_lines (path, &lines);
    char why[200];
    Onenet__Audit__Entry *last = onenet_audit_parse_line (lines.line[5], strlen (lines.line[5]),
                                                          why, sizeof why);
    assert_non_null (last);
    assert_int_equal (strlen (last->purpose), AUDIT_TEXT_MAX);
    assert_int_equal (last->purpose[3], '?');
    assert_string_equal (last->outcome, "NOT_FOUND");
    assert_string_equal (last->subject, "510104199003071234");
    onenet__audit__entry__free_unpacked (last, NULL);
    for (size_t i = 0; i < lines.count; i++)
        free (lines.line[i]);

    /* A restart goes on with the same chain. */
    audit = open_audit (&broker, path, err, sizeof err);
    assert_non_null (audit);
    record (audit, "after restart", ONENET_OK);
    audit_destroy (&audit);
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_INTACT);
    assert_int_equal (report.last_sequence, 7);

    /* A crash in the middle of a write: the piece is cut off at start. */
    FILE *file = fopen (path, "a");
    fputs ("{\"sequence\":8,\"ti", file);
    fclose (file);
    audit = open_audit (&broker, path, err, sizeof err);
    assert_non_null (audit);
    record (audit, "after crash", ONENET_OK);
    audit_destroy (&audit);
    verify (path, &report);
    assert_int_equal (report.problem, ONENET_AUDIT_INTACT);
    assert_int_equal (report.last_sequence, 8);

    /* Anything else wrong at the end is for an operator to decide. */
    read_lines (path, &lines);
    edit_line (&lines.line[7], "after crash", "after crash!");
    write_lines (path, &lines);
    err[0] = '\0';
    assert_null (open_audit (&broker, path, err, sizeof err));
    assert_non_null (strstr (err, "last entry is damaged"));
    assert_non_null (strstr (err, "hash mismatch"));
    assert_non_null (strstr (err, "onenet audit verify"));

    /* Disabled: records nothing, creates no file. */
    audit_settings_t off = { false, path_in_dir ("off.log"), "onenet:audit" };
    audit = audit_new (&broker, &off, err, sizeof err);
    assert_non_null (audit);
    record (audit, "nothing", ONENET_OK);
    audit_destroy (&audit);
    assert_int_equal (access (path_in_dir ("off.log"), F_OK), -1);
}

/* --- the subject of a request --- */

static size_t
pack (const ProtobufCMessage *message, uint8_t *buffer)
{
    return protobuf_c_message_pack (message, buffer);
}

static void
test_subject_from_packed_bodies (void **state)
{
    (void) state;
    uint8_t body[256];
    char subject[AUDIT_SUBJECT_MAX];
    Onenet__Ps__PersonGetRequest get = ONENET__PS__PERSON_GET_REQUEST__INIT;
    get.resident_id = "510104199003071234";
    size_t size = pack (&get.base, body);
    assert_int_equal (audit_subject_of (&onenet__ps__person_get_request__descriptor, body, size,
                                        subject, sizeof subject), 18);
    assert_string_equal (subject, "510104199003071234");

    Onenet__View__ContributionRequest contribution = ONENET__VIEW__CONTRIBUTION_REQUEST__INIT;
    contribution.resident_id = "11010519491231002X";
    size = pack (&contribution.base, body);
    assert_int_equal (audit_subject_of (&onenet__view__contribution_request__descriptor, body, size,
                                        subject, sizeof subject), 18);
    assert_string_equal (subject, "11010519491231002X");

    /* resident_id after other fields (field 2 here), nested messages and
     * numbers skipped on the way. */
    Onenet__Ps__IncidentReport report = ONENET__PS__INCIDENT_REPORT__INIT;
    report.report_id = "R5101070000042";
    report.reported_at_ms = 1752261600123;
    report.resident_id = "510107198503141232";
    size = pack (&report.base, body);
    assert_int_equal (audit_subject_of (&onenet__ps__incident_report__descriptor, body, size,
                                        subject, sizeof subject), 18);
    assert_string_equal (subject, "510107198503141232");
    Onenet__Ps__PersonUpdateRequest update = ONENET__PS__PERSON_UPDATE_REQUEST__INIT;
    update.resident_id = "510104199003071234";
    update.address = "Wuhou 武侯区 Test Street 99";
    size = pack (&update.base, body);
    assert_int_equal (audit_subject_of (&onenet__ps__person_update_request__descriptor, body, size,
                                        subject, sizeof subject), 18);

    /* The last occurrence wins, as when decoding. */
    uint8_t twice[64];
    size_t first = pack (&get.base, twice);
    get.resident_id = "11010519491231002X";
    size_t second = pack (&get.base, twice + first);
    assert_int_equal (audit_subject_of (&onenet__ps__person_get_request__descriptor, twice,
                                        first + second, subject, sizeof subject), 18);
    assert_string_equal (subject, "11010519491231002X");
}

static void
test_subject_absent (void **state)
{
    (void) state;
    uint8_t body[256];
    char subject[AUDIT_SUBJECT_MAX] = "junk";
    /* A type without the field. */
    Onenet__Ps__PersonSearchRequest search = ONENET__PS__PERSON_SEARCH_REQUEST__INIT;
    search.name = "510104199003071234";
    size_t size = pack (&search.base, body);
    assert_int_equal (audit_subject_of (&onenet__ps__person_search_request__descriptor, body, size,
                                        subject, sizeof subject), 0);
    assert_string_equal (subject, "");
    /* The field, not in this body (empty: proto3 leaves it out). */
    Onenet__Ps__IncidentReportRequest nobody = ONENET__PS__INCIDENT_REPORT_REQUEST__INIT;
    nobody.kind = "noise";
    nobody.summary = "loud music";
    size = pack (&nobody.base, body);
    assert_int_equal (audit_subject_of (&onenet__ps__incident_report_request__descriptor, body,
                                        size, subject, sizeof subject), 0);
    /* No type, no body, an empty body. */
    assert_int_equal (audit_subject_of (NULL, body, size, subject, sizeof subject), 0);
    assert_int_equal (audit_subject_of (&onenet__ps__person_get_request__descriptor, NULL, 0,
                                        subject, sizeof subject), 0);
    assert_int_equal (audit_subject_of (&onenet__ps__person_get_request__descriptor, body, 0,
                                        subject, sizeof subject), 0);
    /* Malformed: a length past the end, a truncated varint, a group. */
    static const uint8_t overrun[] = { 0x0A, 0x20, '5', '1' };
    static const uint8_t cut[] = { 0x08, 0xFF };
    static const uint8_t group[] = { 0x0B, 0x0C };
    assert_int_equal (audit_subject_of (&onenet__ps__person_get_request__descriptor, overrun,
                                        sizeof overrun, subject, sizeof subject), 0);
    assert_int_equal (audit_subject_of (&onenet__ps__person_get_request__descriptor, cut,
                                        sizeof cut, subject, sizeof subject), 0);
    assert_int_equal (audit_subject_of (&onenet__ps__person_get_request__descriptor, group,
                                        sizeof group, subject, sizeof subject), 0);
    /* Too long for out. */
    Onenet__Ps__PersonGetRequest get = ONENET__PS__PERSON_GET_REQUEST__INIT;
    get.resident_id = "510104199003071234";
    size = pack (&get.base, body);
    char small[18];
    assert_int_equal (audit_subject_of (&onenet__ps__person_get_request__descriptor, body, size,
                                        small, sizeof small), 0);
    assert_string_equal (small, "");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_hash_is_sha256_of_the_canonical_encoding),
        cmocka_unit_test (test_line_round_trip),
        cmocka_unit_test (test_verify_intact_and_empty),
        cmocka_unit_test (test_edited_entry_named_at_its_line),
        cmocka_unit_test (test_deleted_entries),
        cmocka_unit_test (test_reordered_entries),
        cmocka_unit_test (test_replaced_entry_breaks_the_chain_after_it),
        cmocka_unit_test (test_unreadable_and_incomplete_lines),
        cmocka_unit_test (test_broker_chain_survives_restart_and_crash),
        cmocka_unit_test (test_subject_from_packed_bodies),
        cmocka_unit_test (test_subject_absent),
    };
    return cmocka_run_group_tests (tests, setup_dir, teardown_dir);
}
