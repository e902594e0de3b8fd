/*
 * resident_id.c - validation and check digit of 18-character resident IDs
 * (GB 11643-1999). Pure functions: no allocation, no state; the only
 * outside input is the current date, so that a birth date in the future is
 * refused.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "onenet/resident_id.h"
#include "sdk_internal.h"

/* ISO 7064 MOD 11-2: weight of position i is 2^(17-i) mod 11. */
static const int s_weights[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
static const char s_check_chars[] = "10X98765432";

/* First two digits of every GB/T 2260 province-level code, plus 83 used
 * by residence permits for Hong Kong, Macao and Taiwan residents. */
static const int s_provinces[] = { 11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36,
                                   37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62,
                                   63, 64, 65, 71, 81, 82, 83 };

static void
set_why (char *why, size_t why_size, const char *text)
{
    if (why && why_size)
        snprintf (why, why_size, "%s", text);
}

char
onenet_resident_id_check_digit (const char first17[17])
{
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (first17[i] < '0' || first17[i] > '9')
            return '\0';
        sum += (first17[i] - '0') * s_weights[i];
    }
    return s_check_chars[sum % 11];
}

char
onenet_resident_id_sex (const char *id)
{
    if (!id || strnlen (id, 17) < 17 || id[16] < '0' || id[16] > '9')
        return '\0';
    return (id[16] - '0') % 2 ? 'M' : 'F';
}

bool
onenet_resident_id_valid (const char *id, char *why, size_t why_size)
{
    char reason[96];
    if (!id) {
        set_why (why, why_size, "resident ID is missing");
        return false;
    }
    size_t length = strlen (id);
    if (length != ONENET_RESIDENT_ID_LEN) {
        if (length == 0)
            snprintf (reason, sizeof reason, "resident ID is empty");
        else
            snprintf (reason, sizeof reason, "resident ID must be 18 characters, not %zu", length);
        set_why (why, why_size, reason);
        return false;
    }
    for (int i = 0; i < 17; i++)
        if (id[i] < '0' || id[i] > '9') {
            snprintf (reason, sizeof reason, "resident ID character %d is not a digit", i + 1);
            set_why (why, why_size, reason);
            return false;
        }
    if (!((id[17] >= '0' && id[17] <= '9') || id[17] == 'X')) {
        set_why (why, why_size, "resident ID must end in a digit or an uppercase X");
        return false;
    }

    int province = sdk_decimal (id, 2);
    bool known = false;
    for (size_t i = 0; i < sizeof s_provinces / sizeof s_provinces[0]; i++)
        known = known || s_provinces[i] == province;
    if (!known) {
        snprintf (reason, sizeof reason, "resident ID area code %.6s has no province %02d", id,
                  province);
        set_why (why, why_size, reason);
        return false;
    }

    int year = sdk_decimal (id + 6, 4), month = sdk_decimal (id + 10, 2);
    int day = sdk_decimal (id + 12, 2);
    int month_days = sdk_days_in_month (year, month);
    if (year < 1900 || month_days == 0 || day < 1 || day > month_days) {
        snprintf (reason, sizeof reason, "resident ID birth date %.8s is not a valid date",
                  id + 6);
        set_why (why, why_size, reason);
        return false;
    }
    time_t now = time (NULL);
    struct tm today;
    gmtime_r (&now, &today);
    long birth = (long) year * 10000 + month * 100 + day;
    long limit = (long) (today.tm_year + 1900) * 10000 + (today.tm_mon + 1) * 100 + today.tm_mday;
    if (birth > limit) {
        snprintf (reason, sizeof reason, "resident ID birth date %.8s is in the future", id + 6);
        set_why (why, why_size, reason);
        return false;
    }

    char check = onenet_resident_id_check_digit (id);
    if (check != id[17]) {
        snprintf (reason, sizeof reason, "resident ID check digit should be %c, not %c", check,
                  id[17]);
        set_why (why, why_size, reason);
        return false;
    }
    return true;
}
