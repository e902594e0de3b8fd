/*
 * merge.c - sections and conflicts of the one network view (see merge.h).
 */
#include <string.h>
#include "merge.h"

const char *const merge_canonical_fields[MERGE_CANONICAL_COUNT]
    = { "name", "birth_date", "sex", "address", "phone", "household_id" };


static Onenet__View__SectionStatus
section_status_of (onenet_status_t status)
{
    switch (status) {
    case ONENET_TIMEOUT: return ONENET__VIEW__SECTION_STATUS__SECTION_TIMEOUT;
    case ONENET_DENIED: return ONENET__VIEW__SECTION_STATUS__SECTION_DENIED;
    case ONENET_NOT_FOUND: return ONENET__VIEW__SECTION_STATUS__SECTION_NOT_FOUND;
    default: return ONENET__VIEW__SECTION_STATUS__SECTION_UNAVAILABLE;
    }
}

/* Fills one section from its part. Pointers borrow from the part. */
void
merge_section (Onenet__View__Section *section, const char *department, const merge_part_t *part,
               int64_t now_ms)
{
    onenet__view__section__init (section);
    section->department = (char *) department;
    section->served_by = (char *) (part->served_by ? part->served_by : "");
    section->fetched_at_ms = part->fetched_at_ms;
    const Onenet__View__Contribution *c = part->contribution;
    if (part->status == ONENET_OK && c) {
        section->status = c->found ? ONENET__VIEW__SECTION_STATUS__SECTION_OK
                                   : ONENET__VIEW__SECTION_STATUS__SECTION_NOT_FOUND;
        section->n_fields = c->n_fields;
        section->fields = c->fields;
        section->detail_type = c->detail_type;
        section->detail = c->detail;
        return;
    }
    if (part->stale && part->status != ONENET_DENIED) {
        /* Stale-if-error: the cached copy, marked with its age. */
        const Onenet__View__Section *stale = part->stale;
        section->status = ONENET__VIEW__SECTION_STATUS__SECTION_STALE;
        section->n_fields = stale->n_fields;
        section->fields = stale->fields;
        section->detail_type = stale->detail_type;
        section->detail = stale->detail;
        section->served_by = stale->served_by;
        section->fetched_at_ms = stale->fetched_at_ms;
        section->age_ms = now_ms > stale->fetched_at_ms ? (uint64_t) (now_ms - stale->fetched_at_ms) : 0;
    }
    else
        section->status = section_status_of (part->status);
    section->message = (char *) (part->message ? part->message : "");
}

static const char *
field_value (const Onenet__View__Section *section, const char *name)
{
    for (size_t i = 0; i < section->n_fields; i++)
        if (strcmp (section->fields[i]->name, name) == 0)
            return section->fields[i]->value;
    return NULL;
}

bool
merge_has_data (const Onenet__View__Section *section)
{
    return section->status == ONENET__VIEW__SECTION_STATUS__SECTION_OK
           || section->status == ONENET__VIEW__SECTION_STATUS__SECTION_STALE;
}

/* Conflicts: a canonical field with two or more distinct values. Builds
 * into caller-provided storage (n sections × canonical fields at most). */
size_t
merge_conflicts (Onenet__View__Section *const *sections, size_t n, Onenet__View__Conflict *conflicts,
                Onenet__View__Conflict **conflict_ptrs, Onenet__View__ConflictValue *values,
                Onenet__View__ConflictValue **value_ptrs)
{
    size_t count = 0, used = 0;
    for (size_t f = 0; f < MERGE_CANONICAL_COUNT; f++) {
        const char *first = NULL;
        bool differ = false;
        size_t start = used;
        for (size_t s = 0; s < n; s++) {
            const char *value = merge_has_data (sections[s]) ? field_value (sections[s], merge_canonical_fields[f]) : NULL;
            if (!value || !*value)
                continue;
            if (first && strcmp (first, value) != 0)
                differ = true;
            if (!first)
                first = value;
            onenet__view__conflict_value__init (&values[used]);
            values[used].department = sections[s]->department;
            values[used].value = (char *) value;
            value_ptrs[used] = &values[used];
            used++;
        }
        if (!differ) {
            used = start;
            continue;
        }
        onenet__view__conflict__init (&conflicts[count]);
        conflicts[count].field = (char *) merge_canonical_fields[f];
        conflicts[count].values = &value_ptrs[start];
        conflicts[count].n_values = used - start;
        conflict_ptrs[count] = &conflicts[count];
        count++;
    }
    return count;
}

