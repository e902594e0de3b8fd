/*
 * merge.h - the pure part of the one network view: turning each
 * department's answer into a section, and finding conflicts between
 * departments. No I/O, no allocation: the caller provides storage, and
 * the results borrow strings from the inputs.
 */
#ifndef BROKER_MERGE_H
#define BROKER_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "onenet/status.h"
#include "onenet/proto/view.pb-c.h"

/* Canonical fields compared across departments: name, birth_date, sex,
 * address, phone, household_id. */
#define MERGE_CANONICAL_COUNT 6
extern const char *const merge_canonical_fields[MERGE_CANONICAL_COUNT];

/* What one department answered. */
typedef struct {
    onenet_status_t status;                          /* of its contribution request */
    const char *message;                             /* why, when not OK */
    const char *served_by;
    int64_t fetched_at_ms;
    const Onenet__View__Contribution *contribution;  /* when status is OK */
    const Onenet__View__Section *stale;              /* its cached section, or NULL */
} merge_part_t;

/* Fills section for department from part: OK or NOT_FOUND from the
 * contribution; on failure, the cached section marked STALE with its age
 * (never for DENIED), else the failure's status. Borrows from part. */
void merge_section (Onenet__View__Section *section, const char *department,
                    const merge_part_t *part, int64_t now_ms);

/* True when a section carries data (OK or STALE). */
bool merge_has_data (const Onenet__View__Section *section);

/* Finds canonical fields with two or more distinct non-empty values
 * among sections with data. Writes at most MERGE_CANONICAL_COUNT
 * conflicts into conflicts/conflict_ptrs, their values into values /
 * value_ptrs (room for MERGE_CANONICAL_COUNT * n). Returns the count. */
size_t merge_conflicts (Onenet__View__Section *const *sections, size_t n,
                        Onenet__View__Conflict *conflicts, Onenet__View__Conflict **conflict_ptrs,
                        Onenet__View__ConflictValue *values, Onenet__View__ConflictValue **value_ptrs);

#endif
