/*
 * onenet/contribution.h - build a department's part of the one network
 * view (onenet.view.Contribution, proto/view.proto).
 *
 * A department's contribution service ("ps.view.person", ...) answers a
 * ContributionRequest with what it holds about one person: canonical
 * fields the broker compares across departments (name, birth_date as
 * YYYY-MM-DD, sex as M/F, address, phone, household_id), its own extra
 * fields, and its own record packed as `detail`.
 *
 *     onenet_contribution_t *c = onenet_contribution_new (true);
 *     onenet_contribution_add (c, "name", row.name, NULL);     // default label
 *     onenet_contribution_add (c, "pension_status", "receiving", "养老金状态 Pension status");
 *     onenet_contribution_set_detail (c, &record.base);
 *     onenet_contribution_set_updated_at (c, row.updated_at_ms);
 *     onenet_contribution_reply (c, adapter, &request);
 *     onenet_contribution_destroy (&c);
 *
 * A person the department does not know is onenet_contribution_new (false)
 * replied with status OK: not knowing someone is an answer, not an error.
 */
#ifndef ONENET_CONTRIBUTION_H
#define ONENET_CONTRIBUTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "onenet/adapter.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onenet_contribution_t onenet_contribution_t;

/* Creates an empty contribution; found says whether the department knows
 * the person. Returns NULL when out of memory. Destroy with
 * onenet_contribution_destroy. */
onenet_contribution_t *onenet_contribution_new (bool found);

/* Frees the contribution and everything it copied; sets *self_p to NULL.
 * Safe on NULL. */
void onenet_contribution_destroy (onenet_contribution_t **self_p);

/* Appends a field. name, value and label are copied. A NULL or empty value
 * adds nothing (a department lists only what it holds) and returns 0. A
 * NULL label takes the default label of a canonical name (e.g. "姓名 Name"
 * for "name"), or the name itself. Returns 0, or -1 when out of memory or
 * name is NULL/empty. */
int onenet_contribution_add (onenet_contribution_t *self, const char *name, const char *value,
                             const char *label);

/* Packs detail (the department's own record) into the contribution and
 * sets detail_type to its full protobuf name. Replaces an earlier detail.
 * The caller keeps detail. Returns 0, or -1 when out of memory. */
int onenet_contribution_set_detail (onenet_contribution_t *self, const ProtobufCMessage *detail);

/* When the department last changed the record (Unix ms). */
void onenet_contribution_set_updated_at (onenet_contribution_t *self, int64_t updated_at_ms);

/* Number of fields added so far. */
size_t onenet_contribution_field_count (const onenet_contribution_t *self);

/* The value of the first field called name, or NULL. Owned by self. */
const char *onenet_contribution_get (const onenet_contribution_t *self, const char *name);

/* The Contribution as a protobuf message (onenet.view.Contribution), to
 * pack or send. Owned by self, valid until the next change or destroy. */
const ProtobufCMessage *onenet_contribution_message (onenet_contribution_t *self);

/* Answers request with the contribution as an OK reply (see
 * onenet_adapter_reply_message): frees the request and sets *request_p to
 * NULL. self stays the caller's. Returns what onenet_adapter_reply_message
 * returns. */
int onenet_contribution_reply (onenet_contribution_t *self, onenet_adapter_t *adapter,
                               onenet_request_t **request_p);

/* The default label of a canonical field name, or NULL for other names.
 * Static string. */
const char *onenet_contribution_label (const char *name);

#ifdef __cplusplus
}
#endif
#endif
