/*
 * test_merge.c - the one network view's merge: section status from each
 * department's answer, stale-if-error, and conflicts between departments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include "merge.h"

#define STATUS(name) ONENET__VIEW__SECTION_STATUS__SECTION_##name

typedef struct {
    Onenet__View__Field fields[4];
    Onenet__View__Field *ptrs[4];
    Onenet__View__Contribution contribution;
} contribution_t;

/* A contribution with up to four name=value pairs. */
static void
make_contribution (contribution_t *c, bool found, const char *const *pairs, size_t n)
{
    onenet__view__contribution__init (&c->contribution);
    c->contribution.found = found;
    for (size_t i = 0; i < n; i++) {
        onenet__view__field__init (&c->fields[i]);
        c->fields[i].name = (char *) pairs[2 * i];
        c->fields[i].value = (char *) pairs[2 * i + 1];
        c->ptrs[i] = &c->fields[i];
    }
    c->contribution.fields = c->ptrs;
    c->contribution.n_fields = n;
    c->contribution.detail_type = "onenet.ps.Person";
}

static void
test_ok_and_not_found (void **state)
{
    (void) state;
    contribution_t c;
    const char *pairs[] = { "name", "王芳", "address", "Wuhou 1" };
    make_contribution (&c, true, pairs, 2);
    merge_part_t part = { ONENET_OK, "", "public_security/i1", 1000, &c.contribution, NULL };
    Onenet__View__Section section;
    merge_section (&section, "public_security", &part, 5000);
    assert_int_equal (section.status, STATUS (OK));
    assert_string_equal (section.department, "public_security");
    assert_int_equal (section.n_fields, 2);
    assert_string_equal (section.fields[0]->value, "王芳");
    assert_string_equal (section.detail_type, "onenet.ps.Person");
    assert_int_equal (section.fetched_at_ms, 1000);
    assert_true (merge_has_data (&section));

    make_contribution (&c, false, NULL, 0);
    merge_section (&section, "emergency", &part, 5000);
    assert_int_equal (section.status, STATUS (NOT_FOUND));
    assert_false (merge_has_data (&section));
}

static void
test_failures_map_to_status (void **state)
{
    (void) state;
    Onenet__View__Section section;
    merge_part_t part = { ONENET_TIMEOUT, "slow", "", 0, NULL, NULL };
    merge_section (&section, "social_security", &part, 5000);
    assert_int_equal (section.status, STATUS (TIMEOUT));
    assert_string_equal (section.message, "slow");
    part.status = ONENET_UNAVAILABLE;
    merge_section (&section, "social_security", &part, 5000);
    assert_int_equal (section.status, STATUS (UNAVAILABLE));
    part.status = ONENET_NO_ADAPTER;
    merge_section (&section, "social_security", &part, 5000);
    assert_int_equal (section.status, STATUS (UNAVAILABLE));
    part.status = ONENET_DENIED;
    merge_section (&section, "social_security", &part, 5000);
    assert_int_equal (section.status, STATUS (DENIED));
    assert_false (merge_has_data (&section));
}

static void
test_stale_if_error (void **state)
{
    (void) state;
    Onenet__View__Field name = ONENET__VIEW__FIELD__INIT;
    name.name = "name";
    name.value = "李娜";
    Onenet__View__Field *fields[] = { &name };
    Onenet__View__Section cached = ONENET__VIEW__SECTION__INIT;
    cached.department = "social_security";
    cached.fields = fields;
    cached.n_fields = 1;
    cached.fetched_at_ms = 10000;
    cached.served_by = "social_security/old";

    merge_part_t part = { ONENET_UNAVAILABLE, "no live adapter", "", 0, NULL, &cached };
    Onenet__View__Section section;
    merge_section (&section, "social_security", &part, 70000);
    assert_int_equal (section.status, STATUS (STALE));
    assert_int_equal (section.age_ms, 60000);
    assert_int_equal (section.fetched_at_ms, 10000);
    assert_int_equal (section.n_fields, 1);
    assert_string_equal (section.served_by, "social_security/old");
    assert_string_equal (section.message, "no live adapter");
    assert_true (merge_has_data (&section));

    /* A department that may not be shown is not shown from the cache either. */
    part.status = ONENET_DENIED;
    merge_section (&section, "social_security", &part, 70000);
    assert_int_equal (section.status, STATUS (DENIED));
    assert_int_equal (section.n_fields, 0);

    /* A fresh answer wins over a cached one. */
    contribution_t c;
    const char *pairs[] = { "name", "李娜" };
    make_contribution (&c, true, pairs, 1);
    part = (merge_part_t) { ONENET_OK, "", "", 69000, &c.contribution, &cached };
    merge_section (&section, "social_security", &part, 70000);
    assert_int_equal (section.status, STATUS (OK));
    assert_int_equal (section.age_ms, 0);
}

static size_t
conflicts_of (contribution_t *c, size_t n, const merge_part_t *parts, Onenet__View__Conflict *out,
              Onenet__View__Conflict **out_ptrs)
{
    static Onenet__View__Section sections[4];
    static Onenet__View__Section *ptrs[4];
    static Onenet__View__ConflictValue values[MERGE_CANONICAL_COUNT * 4];
    static Onenet__View__ConflictValue *value_ptrs[MERGE_CANONICAL_COUNT * 4];
    static const char *const names[] = { "public_security", "social_security", "emergency", "civil_affairs" };
    (void) c;
    for (size_t i = 0; i < n; i++) {
        merge_section (&sections[i], names[i], &parts[i], 1000);
        ptrs[i] = &sections[i];
    }
    return merge_conflicts (ptrs, n, out, out_ptrs, values, value_ptrs);
}

static void
test_conflicts (void **state)
{
    (void) state;
    contribution_t c[3];
    const char *ps[] = { "name", "张伟", "address", "Jinjiang 1", "phone", "13800000001", "sex", "M" };
    const char *ss[] = { "name", "张伟", "address", "Qingyang 9", "phone", "13800000001" };
    const char *em[] = { "name", "张伟", "address", "Jinjiang 1", "phone", "" };
    make_contribution (&c[0], true, ps, 4);
    make_contribution (&c[1], true, ss, 3);
    make_contribution (&c[2], true, em, 3);
    merge_part_t parts[3] = {
        { ONENET_OK, "", "", 1, &c[0].contribution, NULL },
        { ONENET_OK, "", "", 1, &c[1].contribution, NULL },
        { ONENET_OK, "", "", 1, &c[2].contribution, NULL },
    };
    Onenet__View__Conflict conflicts[MERGE_CANONICAL_COUNT];
    Onenet__View__Conflict *ptrs[MERGE_CANONICAL_COUNT];
    size_t n = conflicts_of (c, 3, parts, conflicts, ptrs);
    /* Only the address differs; an empty phone and a field only one
     * department holds are not conflicts. */
    assert_int_equal (n, 1);
    assert_string_equal (ptrs[0]->field, "address");
    assert_int_equal (ptrs[0]->n_values, 3);
    assert_string_equal (ptrs[0]->values[0]->department, "public_security");
    assert_string_equal (ptrs[0]->values[1]->value, "Qingyang 9");
    assert_string_equal (ptrs[0]->values[2]->department, "emergency");

    /* A department that did not answer takes no part... */
    parts[1].status = ONENET_TIMEOUT;
    assert_int_equal (conflicts_of (c, 3, parts, conflicts, ptrs), 0);
    /* ...nor one that does not know the person. */
    parts[1].status = ONENET_OK;
    c[1].contribution.found = false;
    assert_int_equal (conflicts_of (c, 3, parts, conflicts, ptrs), 0);
}

static void
test_several_conflicts_in_canonical_order (void **state)
{
    (void) state;
    contribution_t c[2];
    const char *a[] = { "phone", "1", "name", "A", "birth_date", "1990-01-01" };
    const char *b[] = { "phone", "2", "name", "B", "birth_date", "1990-01-01" };
    make_contribution (&c[0], true, a, 3);
    make_contribution (&c[1], true, b, 3);
    merge_part_t parts[2] = { { ONENET_OK, "", "", 1, &c[0].contribution, NULL },
                              { ONENET_OK, "", "", 1, &c[1].contribution, NULL } };
    Onenet__View__Conflict conflicts[MERGE_CANONICAL_COUNT];
    Onenet__View__Conflict *ptrs[MERGE_CANONICAL_COUNT];
    assert_int_equal (conflicts_of (c, 2, parts, conflicts, ptrs), 2);
    assert_string_equal (ptrs[0]->field, "name");
    assert_string_equal (ptrs[1]->field, "phone");
    assert_int_equal (ptrs[1]->n_values, 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_ok_and_not_found),
        cmocka_unit_test (test_failures_map_to_status),
        cmocka_unit_test (test_stale_if_error),
        cmocka_unit_test (test_conflicts),
        cmocka_unit_test (test_several_conflicts_in_canonical_order),
    };
    return cmocka_run_group_tests_name ("merge", tests, NULL, NULL);
}
