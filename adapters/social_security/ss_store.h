/*
 * ss_store.h - the social security adapter's access to its own store
 * (SQLite: insured_persons, contributions, benefit_claims,
 * benefit_payments). Private to adapters/social_security/.
 *
 * Records come back as onenet.ss messages in malloc'd memory: the caller
 * frees each with protobuf_c_message_free_unpacked (&msg->base, NULL).
 * Look-ups return 1 (found), 0 (not found) or -1 (store error, reason in
 * ss_store_error). Out of memory aborts the process.
 */
#ifndef ONENET_SS_STORE_H
#define ONENET_SS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "onenet/proto/social_security.pb-c.h"

typedef struct ss_store_t ss_store_t;

/* Opens an existing store read-write in WAL mode; NULL with a reason in
 * err if it is missing or not a social security store. */
ss_store_t *ss_store_open (const char *path, char *err, size_t err_size);

/* Closes the store; sets *self_p to NULL. Safe on NULL. */
void ss_store_close (ss_store_t **self_p);

/* The reason of the last -1. Owned by the store. */
const char *ss_store_error (const ss_store_t *self);

/* Number of insured persons, or -1. */
long ss_store_count_insured (ss_store_t *self);

/* Loads an insured person with contribution summary (and the 20 newest
 * records), claims (newest first, at most 50) with their payments, and
 * pension status. */
int ss_store_insured (ss_store_t *self, const char *resident_id, Onenet__Ss__InsuredPerson **out_p);

/* Sets the contact address and/or phone (NULL or "" leaves one
 * unchanged) and updated_at_ms. Returns 1, 0 (not insured) or -1. */
int ss_store_update (ss_store_t *self, const char *resident_id, const char *address,
                     const char *phone, int64_t updated_at_ms);

/* The wire name of a pension status, "receiving", ... ("unknown"). Static. */
const char *ss_pension_status_name (Onenet__Ss__PensionStatus status);

#endif
