/*
 * onenet/policy.h - the sharing policy: which department may call which
 * service, for which purposes, and what of the person view it sees.
 *
 * A policy is a libconfig file (docs/SECURITY.md describes it, and
 * config/policy.cfg is the documented default). It holds an ordered list
 * of rules; the first rule whose requester and service match a request
 * decides it, and a request no rule matches is denied. A rule that allows
 * may restrict the purposes a request must give, and, for the service
 * onenet.view.person, say per department whether its section is shown and
 * which fields are visible, masked or removed.
 *
 *     onenet_policy_t *policy = onenet_policy_load ("policy.cfg", err, sizeof err);
 *     onenet_policy_decision_t decision;
 *     if (!onenet_policy_decide (policy, requester, service, purpose, &decision))
 *         reply DENIED with decision.reason;
 *     ...
 *     void *storage = NULL;
 *     onenet_policy_filter_section (&decision, &section, &storage);   // view sections
 *     pack the view; free (storage);
 *     onenet_policy_destroy (&policy);
 *
 * The broker and the `onenet policy check` command share this code, so
 * what the CLI explains is what the broker does. A loaded policy is never
 * changed: a reload loads a new one and replaces the old, so decisions
 * are taken and used within one pass of the caller's loop.
 *
 * Masking (onenet_mask_field) is pure and usable on its own.
 */
#ifndef ONENET_POLICY_H
#define ONENET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include "onenet/proto/view.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The service whose rules may carry a `view` block. */
#define ONENET_POLICY_VIEW_SERVICE "onenet.view.person"

/* Longest rule name, without the NUL. */
#define ONENET_POLICY_NAME_MAX 63

/* Size of the reason buffer of a decision. */
#define ONENET_POLICY_REASON_SIZE 512

typedef struct onenet_policy_t onenet_policy_t;

/* How one view section is treated (a `view` entry of a rule). Belongs to
 * the policy. */
typedef struct onenet_policy_section_t onenet_policy_section_t;

/* What a field of a shown section becomes. */
typedef enum {
    ONENET_FIELD_VISIBLE = 0, /* shown as the department sent it */
    ONENET_FIELD_MASKED = 1,  /* shown masked (onenet_mask_field) */
    ONENET_FIELD_REMOVED = 2, /* left out */
} onenet_field_action_t;

/* The outcome of onenet_policy_decide. A plain value the caller owns,
 * except that `matched` (and so the section functions below) points into
 * the policy: use a decision only while the policy it came from lives,
 * and decide again after a reload rather than keeping one across it. */
typedef struct {
    bool allowed;
    char rule[ONENET_POLICY_NAME_MAX + 1]; /* the deciding rule, or "default" */
    /* One sentence for the DENIED reply, the audit log and the CLI:
     *   "rule ss_reads_ps allows social_security to call ps.person.get for purpose benefit_review"
     *   "rule no_gateway_writes denies gateway calls to ps.person.update"
     *   "purpose 'marketing' is not one of benefit_review, identity_check (rule ss_reads_ps)"
     *   "no purpose given: one of evacuation, investigation is required (rule em_reads_ps)"
     *   "no rule matches: denied by default" */
    char reason[ONENET_POLICY_REASON_SIZE];
    const void *matched; /* private: the deciding rule, NULL for the default */
} onenet_policy_decision_t;

/* Reads and validates a policy file through the onenet_config reader.
 * Returns the policy, or NULL with one line in err (if err is not NULL)
 * naming file, line and setting:
 *   "policy.cfg:12: rules[1].colour: unknown setting"
 *   "policy.cfg:9: rules[0].service: "ps.*.get" is not a service name, a prefix ending in .*
 * ("ps.*") or "*"" "policy.cfg:7: rules[2].name: required setting missing" "policy.cfg:30:
 * rules[6]: never applies: rule ss_all (rules[2]) comes first and matches every request this one
 * does" Unknown settings are errors. The caller destroys the policy with onenet_policy_destroy. */
onenet_policy_t *onenet_policy_load (const char *path, char *err, size_t err_size);

/* Same as onenet_policy_load, from text in memory; name stands for the
 * file name in messages (NULL: "(string)"). Meant for tests. */
onenet_policy_t *onenet_policy_load_string (const char *text, const char *name, char *err,
                                            size_t err_size);

/* Frees the policy; sets *self_p to NULL. Safe on NULL. */
void onenet_policy_destroy (onenet_policy_t **self_p);

/* The file the policy was read from (or the name given to
 * onenet_policy_load_string). Belongs to the policy. */
const char *onenet_policy_path (const onenet_policy_t *self);

/* Number of rules in the policy. */
size_t onenet_policy_rule_count (const onenet_policy_t *self);

/* Decides whether requester (a department, as authenticated by the
 * broker) may call service for purpose (NULL or "" when none was given).
 * The first rule whose requester and service match decides; if it allows
 * and lists purposes, purpose must be one of them. Fills *out and returns
 * out->allowed. A NULL self denies ("no policy loaded: denied by
 * default"); NULL requester or service are treated as "". */
bool onenet_policy_decide (const onenet_policy_t *self, const char *requester, const char *service,
                           const char *purpose, onenet_policy_decision_t *out);

/* The treatment of department's view section under decision: the first
 * entry of the deciding rule's `view` list naming department (or "*").
 * Returns NULL when there is none (the decision denies, the rule has no
 * `view`, or no entry matches), which means the section is withheld.
 * The result belongs to the policy. */
const onenet_policy_section_t *onenet_policy_section (const onenet_policy_decision_t *decision,
                                                      const char *department);

/* The `view` entries of the deciding rule, in file order, for explaining
 * a decision: count, then each by index (NULL beyond the count). */
size_t onenet_policy_section_count (const onenet_policy_decision_t *decision);
const onenet_policy_section_t *onenet_policy_section_at (const onenet_policy_decision_t *decision,
                                                         size_t index);

/* The department an entry names, as written ("*" for any other). */
const char *onenet_policy_section_department (const onenet_policy_section_t *section);

/* Whether the section is shown at all (show = "all"). False for NULL. */
bool onenet_policy_section_shown (const onenet_policy_section_t *section);

/* Whether a shown section is cut down in any way (a masked, removed or
 * visible list), in which case its `detail` is withheld too. */
bool onenet_policy_section_restricted (const onenet_policy_section_t *section);

/* What becomes of the field named field in the section: REMOVED for a
 * NULL (withheld) or not shown section, else as the entry says: masked
 * fields are MASKED, removed ones REMOVED, and when a visible list is
 * given every field in neither list is REMOVED. */
onenet_field_action_t onenet_policy_field_action (const onenet_policy_section_t *section,
                                                  const char *field);

/* The field names an entry lists for action (VISIBLE: its `visible` list,
 * empty when it has none). Sets *names_p to the array, which belongs to
 * the policy, and returns its length. */
size_t onenet_policy_section_fields (const onenet_policy_section_t *section,
                                     onenet_field_action_t action, const char *const **names_p);

/* Applies the decision to one section of a person view, in place:
 *
 * - withheld (no entry, or show = "none"), or the decision denies: the
 *   status becomes SECTION_DENIED, whatever it was (even "not found"
 *   would tell something), with message "withheld by policy rule NAME";
 *   fields, detail, detail_type and age_ms are cleared;
 * - shown and restricted, with data (OK or STALE): removed fields are
 *   left out, masked ones get masked values, the order is kept; detail
 *   and detail_type are cleared, since the department's own record would
 *   show what was hidden;
 * - otherwise the section is left untouched.
 *
 * Ownership. The section must be one the caller assembled, whose
 * pointers borrow from storage kept elsewhere (as the broker's merge
 * builds them): the function replaces section->fields and the string
 * pointers, never writes through them, and never frees them. Everything
 * it allocates (the new field array, masked copies of fields, masked
 * values, the message) is one malloc'd block returned in *storage_p, or
 * NULL when nothing was allocated; the caller calls free (*storage_p)
 * once it is done with the section (e.g. after packing the view). To
 * filter a section that came from protobuf_c_message_unpack, filter a
 * shallow copy (Onenet__View__Section copy = *unpacked;) and free the
 * unpacked one as usual, after the copy.
 *
 * Returns 0, or -1 when out of memory or storage_p is NULL: the section
 * is then withheld all the same (status DENIED, no fields, no detail,
 * message "withheld by policy: out of memory"), so it is safe to send. */
int onenet_policy_filter_section (const onenet_policy_decision_t *decision,
                                  Onenet__View__Section *section, void **storage_p);

/* Bytes that always suffice for the masked form of a value of len bytes,
 * NUL included. */
#define ONENET_MASK_SIZE(len) ((len) + 5)

/* Masks value as a field named field_name is masked, writing the result
 * (NUL-terminated) into out:
 *   resident_id, *_resident_id  first 6 + one * per hidden char + last 4,
 *                               for 15 to 18-character IDs: 510104********1234
 *   phone, *_phone              first 3 + **** + last 4 (11 or more chars):
 *                               138****5678; 8 to 10 chars: ****5678
 *   name                        first character + one * per other character
 *                               (UTF-8 characters): 张伟 -> 张*, a single
 *                               character -> *
 *   address, *_address          the district (up to the first space) + " ***":
 *                               "Wuhou Kehua Rd 12" -> "Wuhou ***"
 *   birth_date                  the year: 1990-03-07 -> 1990-**-**
 *   anything else               ***
 * A value the rule does not fit (too short, not UTF-8, an address
 * without a space, a date that does not start with a year) becomes ***,
 * never something that shows more. An empty value stays empty.
 * Returns the length written, or -1 when an argument is NULL or out_size
 * is too small (out is then "" if out_size > 0). ONENET_MASK_SIZE
 * (strlen (value)) bytes always suffice. */
int onenet_mask_field (const char *field_name, const char *value, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
