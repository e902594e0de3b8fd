/*
 * test_resident_id.c - the SDK's resident ID check (GB 11643-1999):
 * check digits against answers worked out by hand (independently of the
 * code under test), valid IDs including one ending in X, and each way an
 * ID can be wrong, with the reason given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "onenet/resident_id.h"

/* First 17 characters and the check character they must get. The first is
 * the worked example of the standard itself; the others are synthetic. */
static const struct {
    const char *first17;
    char check;
} s_known[] = {
    { "11010519491231002", 'X' }, { "51010719850314123", '2' }, { "31011520000229004", '8' },
    { "33010619991231567", '2' }, { "52010220100101001", '8' }, { "44030419800101000", '9' },
    { "51010719850314001", '0' }, { "51010719850314006", '1' }, { "51010719850314005", '3' },
    { "51010719850314018", '4' }, { "51010719850314004", '5' }, { "51010719850314009", '6' },
    { "51010719850314003", '7' }, { "51010719850314007", 'X' },
};

static void
test_check_digit_known_answers (void **state)
{
    for (size_t i = 0; i < sizeof s_known / sizeof s_known[0]; i++) {
        char got = onenet_resident_id_check_digit (s_known[i].first17);
        if (got != s_known[i].check)
            fail_msg ("%s: expected %c, got %c", s_known[i].first17, s_known[i].check, got);
    }
}

static void
test_check_digit_reads_17_bytes_and_rejects_non_digits (void **state)
{
    /* Not NUL-terminated after 17: only 17 bytes are read. */
    char unterminated[17];
    memcpy (unterminated, "11010519491231002", 17);
    assert_int_equal (onenet_resident_id_check_digit (unterminated), 'X');
    assert_int_equal (onenet_resident_id_check_digit ("1101051949123100A"), '\0');
    assert_int_equal (onenet_resident_id_check_digit ("11010519491231 02"), '\0');
}

static void
test_valid_ids (void **state)
{
    char why[128] = "untouched";
    for (size_t i = 0; i < sizeof s_known / sizeof s_known[0]; i++) {
        char id[19];
        snprintf (id, sizeof id, "%s%c", s_known[i].first17, s_known[i].check);
        if (!onenet_resident_id_valid (id, why, sizeof why))
            fail_msg ("%s should be valid: %s", id, why);
    }
    assert_true (onenet_resident_id_valid ("11010519491231002X", NULL, 0));
    /* A leap day in a leap year. */
    assert_true (onenet_resident_id_valid ("310115200002290048", why, sizeof why));
    assert_int_equal (onenet_resident_id_sex ("11010519491231002X"), 'F');   /* 002: even */
    assert_int_equal (onenet_resident_id_sex ("510107198503141232"), 'M');   /* 123: odd */
}

static void
test_wrong_check_digit (void **state)
{
    char why[128];
    assert_false (onenet_resident_id_valid ("110105194912310021", why, sizeof why));
    assert_string_equal (why, "resident ID check digit should be X, not 1");
    assert_false (onenet_resident_id_valid ("510107198503141233", why, sizeof why));
    assert_string_equal (why, "resident ID check digit should be 2, not 3");
    /* X is uppercase only. */
    assert_false (onenet_resident_id_valid ("11010519491231002x", why, sizeof why));
    assert_non_null (strstr (why, "uppercase X"));
}

static void
test_wrong_length (void **state)
{
    char why[128];
    assert_false (onenet_resident_id_valid ("", why, sizeof why));
    assert_string_equal (why, "resident ID is empty");
    assert_false (onenet_resident_id_valid ("11010519491231002", why, sizeof why));
    assert_string_equal (why, "resident ID must be 18 characters, not 17");
    assert_false (onenet_resident_id_valid ("11010519491231002X0", why, sizeof why));
    assert_string_equal (why, "resident ID must be 18 characters, not 19");
    /* The old 15-digit IDs are not accepted. */
    assert_false (onenet_resident_id_valid ("110105491231002", why, sizeof why));
    assert_false (onenet_resident_id_valid (NULL, why, sizeof why));
    assert_string_equal (why, "resident ID is missing");
}

static void
test_bad_date (void **state)
{
    char why[128], id[19];
    static const char *const dates[] = {
        "19491331",   /* month 13 */
        "19490230",   /* 30 February */
        "19000229",   /* 1900 was not a leap year */
        "20230229",   /* nor 2023 */
        "19490100",   /* day 0 */
        "18991231",   /* before 1900 */
        "29990101",   /* in the future */
    };
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        char first17[18];
        snprintf (first17, sizeof first17, "110105%s002", dates[i]);
        snprintf (id, sizeof id, "%s%c", first17, onenet_resident_id_check_digit (first17));
        if (onenet_resident_id_valid (id, why, sizeof why))
            fail_msg ("%s should be invalid", id);
        assert_non_null (strstr (why, "birth date"));
        assert_non_null (strstr (why, dates[i]));
    }
}

static void
test_non_digits_and_unknown_province (void **state)
{
    char why[128];
    assert_false (onenet_resident_id_valid ("1101051949123100AX", why, sizeof why));
    assert_string_equal (why, "resident ID character 17 is not a digit");
    assert_false (onenet_resident_id_valid ("-10105194912310021", why, sizeof why));
    assert_string_equal (why, "resident ID character 1 is not a digit");
    assert_false (onenet_resident_id_valid ("11010519491231002 ", why, sizeof why));
    /* Full-width digits are not digits. */
    assert_false (onenet_resident_id_valid ("１10105194912310", why, sizeof why));
    /* 99 is no province. */
    char first17[18] = "99010519491231002", id[19];
    snprintf (id, sizeof id, "%s%c", first17, onenet_resident_id_check_digit (first17));
    assert_false (onenet_resident_id_valid (id, why, sizeof why));
    assert_non_null (strstr (why, "province"));
}

static void
test_why_is_optional_and_bounded (void **state)
{
    char tiny[8];
    assert_false (onenet_resident_id_valid ("123", tiny, sizeof tiny));
    assert_int_equal (strlen (tiny), sizeof tiny - 1);   /* truncated, terminated */
    assert_false (onenet_resident_id_valid ("123", NULL, 0));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_check_digit_known_answers),
        cmocka_unit_test (test_check_digit_reads_17_bytes_and_rejects_non_digits),
        cmocka_unit_test (test_valid_ids),
        cmocka_unit_test (test_wrong_check_digit),
        cmocka_unit_test (test_wrong_length),
        cmocka_unit_test (test_bad_date),
        cmocka_unit_test (test_non_digits_and_unknown_province),
        cmocka_unit_test (test_why_is_optional_and_bounded),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
