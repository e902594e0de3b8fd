/*
 * ps_store.h - the public security adapter's access to its own store, the
 * population register in SQLite (written by onenet-seed, or the
 * department's real system). Private to adapters/public_security/.
 *
 * Records come back as protobuf messages of proto/public_security.proto,
 * built in malloc'd memory: the caller frees each with
 * protobuf_c_message_free_unpacked (&msg->base, NULL). Functions that
 * look something up return 1 (found), 0 (not found) or -1 (store error,
 * reason in ps_store_error). Out of memory aborts the process.
 */
#ifndef ONENET_PS_STORE_H
#define ONENET_PS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "onenet/proto/public_security.pb-c.h"

typedef struct ps_store_t ps_store_t;

/* Opens an existing store read-write in WAL mode. Returns NULL with a
 * reason in err when the file is missing or is not a public security
 * store. Close with ps_store_close. */
ps_store_t *ps_store_open (const char *path, char *err, size_t err_size);

/* Closes the store; sets *self_p to NULL. Safe on NULL. */
void ps_store_close (ps_store_t **self_p);

/* The reason of the last -1. Owned by the store. */
const char *ps_store_error (const ps_store_t *self);

/* Number of persons, or -1. */
long ps_store_count_persons (ps_store_t *self);

/* Loads one person, with their incident reports if with_reports. */
int ps_store_person (ps_store_t *self, const char *resident_id, bool with_reports,
                     Onenet__Ps__Person **person_p);

/* People called name, born on birth_date ("" for any), at most limit;
 * sets truncated when more matched. Returns 0 (the list may be empty) or
 * -1. */
int ps_store_search (ps_store_t *self, const char *name, const char *birth_date, unsigned limit,
                     Onenet__Ps__PersonList **list_p);

/* Sets address and/or phone (NULL or "" leaves one unchanged) and
 * updated_at_ms. Returns 1, 0 (no such person) or -1. */
int ps_store_update (ps_store_t *self, const char *resident_id, const char *address,
                     const char *phone, int64_t updated_at_ms);

/* Files a new incident report: report_id "R<district_code><serial>"
 * (serial continuing the store's numbering), status "open", reported at
 * reported_at_ms. resident_id may be "". The caller has checked the
 * values. Returns 1 with the stored report in *report_p, or -1. */
int ps_store_report_add (ps_store_t *self, const char *resident_id, const char *kind,
                         const char *district_code, const char *summary, int64_t reported_at_ms,
                         Onenet__Ps__IncidentReport **report_p);

/* Loads a household and its members. */
int ps_store_household (ps_store_t *self, const char *household_id,
                        Onenet__Ps__Household **household_p);

#endif
