/*
 * onenet/resident_id.h - the 18-character resident ID (居民身份证号码,
 * GB 11643-1999) that every department uses as the key of a person.
 *
 *   510107 19850314 123 X
 *   area   birth    seq check
 *
 * area: 6-digit GB/T 2260 administrative code (only the province part is
 * checked here, against the list of province codes); birth: YYYYMMDD, a
 * real calendar date from 1900 to today (UTC); seq: 3 digits, odd for
 * men, even for women; check: ISO 7064 MOD 11-2 over the first 17 digits,
 * '0'..'9' or an uppercase 'X' for 10.
 *
 * Adapters check IDs before touching their store and answer BAD_REQUEST
 * with the reason; the broker, CLI and gateway do the same at their edge.
 */
#ifndef ONENET_RESIDENT_ID_H
#define ONENET_RESIDENT_ID_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Length of a resident ID, without the terminating NUL. */
#define ONENET_RESIDENT_ID_LEN 18

/* Returns true when id is a well-formed resident ID: 18 characters, 17
 * digits then a digit or 'X', a known province code, a valid birth date
 * not in the future, and the right check character. A lowercase 'x' is
 * refused (callers that accept it from people should uppercase first).
 * When it returns false and why is not NULL, a one-line reason is written
 * to why (e.g. "check digit should be 7, not 3"); the caller owns why.
 * id NULL is invalid. */
bool onenet_resident_id_valid (const char *id, char *why, size_t why_size);

/* Returns the check character ('0'..'9' or 'X') for the first 17
 * characters of an ID, or '\0' if any of them is not a digit. Reads
 * exactly 17 bytes; first17 need not be NUL-terminated. */
char onenet_resident_id_check_digit (const char first17[17]);

/* The sex encoded in a valid ID: 'M' (odd sequence digit) or 'F' (even).
 * Returns '\0' when id is not at least 17 characters with a digit in
 * position 17. */
char onenet_resident_id_sex (const char *id);

#ifdef __cplusplus
}
#endif
#endif
