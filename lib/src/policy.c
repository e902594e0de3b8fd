/*
 * policy.c - the sharing policy (onenet/policy.h, docs/SECURITY.md).
 *
 * Loading turns the libconfig file into plain arrays through the
 * onenet_config reader, and refuses anything an operator would not mean:
 * unknown settings, malformed names and patterns, purposes on a rule
 * that denies, field lists that contradict each other, and rules or view
 * entries that can never apply because an earlier one always matches
 * first. After that a decision is a linear scan over the rules (a policy
 * has tens of them), with no allocation.
 *
 * Filtering a view section builds everything it changes in one malloc'd
 * block the caller frees, and never writes through the section's
 * pointers, which borrow from the departments' unpacked answers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onenet/config.h"
#include "onenet/policy.h"

/* Setting paths we build, each long enough for its parent's plus a part:
 * "rules[12]" < "rules[12].view" < "rules[12].view[3]" < "....masked" < "....masked[4]". */
#define RULE_PATH 32
#define MEMBER_PATH 64
#define ENTRY_PATH 96
#define ENTRY_MEMBER_PATH 128
#define ELEMENT_PATH 160
#define PURPOSE_SHOWN_MAX 64   /* a requested purpose, as quoted in a reason */
#define REQUESTER_SHOWN_MAX 64 /* a requester, in a reason */
#define SERVICE_SHOWN_MAX 255  /* a service, in a reason (the broker's longest name) */
#define PURPOSE_LIST_MAX 320   /* a rule's purposes, as listed in a reason */
#define LIST_COUNT 3           /* visible, masked, removed: indexed by onenet_field_action_t */

struct onenet_policy_section_t {
    char *department; /* a department name, or "*" */
    bool shown;
    char **lists[LIST_COUNT];
    size_t counts[LIST_COUNT];
};

typedef struct {
    char *name;
    char *requester; /* a department name, or "*" */
    char *service;   /* a name, "prefix.*" or "*" */
    bool allow;
    char **purposes; /* empty: any purpose */
    size_t purpose_count;
    onenet_policy_section_t *sections; /* `view` entries, in file order */
    size_t section_count;
} rule_t;

struct onenet_policy_t {
    char *path;
    rule_t *rules;
    size_t rule_count;
};

static const char *const s_list_names[LIST_COUNT] = {"visible", "masked", "removed"};

//  --------------------------------------------------------------------------
//  Names and patterns

/* A department, purpose, field or rule name: [a-z0-9_]+. */
static bool
s_is_name (const char *text)
{
    if (!*text)
        return false;
    for (const char *p = text; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* A service pattern: "*", a service name [a-z0-9_.]+ of dot-separated
 * non-empty parts, or such a name followed by ".*". */
static bool
s_is_service_pattern (const char *text)
{
    if (strcmp (text, "*") == 0)
        return true;
    size_t length = strlen (text);
    if (length >= 2 && strcmp (text + length - 2, ".*") == 0)
        length -= 2;
    if (length == 0 || text[0] == '.' || text[length - 1] == '.')
        return false;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                  (c == '.' && text[i + 1] != '.');
        if (!ok)
            return false;
    }
    return true;
}

static bool
s_service_matches (const char *pattern, const char *service)
{
    if (strcmp (pattern, "*") == 0)
        return true;
    size_t length = strlen (pattern);
    if (length >= 2 && strcmp (pattern + length - 2, ".*") == 0)
        return strncmp (service, pattern, length - 1) == 0; /* the prefix with its dot */
    return strcmp (pattern, service) == 0;
}

/* True when every service pattern b matches, pattern a matches too. */
static bool
s_service_covers (const char *a, const char *b)
{
    if (strcmp (a, "*") == 0)
        return true;
    if (strcmp (b, "*") == 0)
        return false;
    size_t la = strlen (a), lb = strlen (b);
    bool a_prefix = la >= 2 && strcmp (a + la - 2, ".*") == 0;
    if (!a_prefix)
        return strcmp (a, b) == 0;
    return lb >= la - 1 && strncmp (a, b, la - 1) == 0; /* "ps.*" covers "ps.x" and "ps.x.*" */
}

static bool
s_requester_matches (const char *pattern, const char *requester)
{
    return strcmp (pattern, "*") == 0 || strcmp (pattern, requester) == 0;
}

//  --------------------------------------------------------------------------
//  Freeing

static void
s_free_list (char **list, size_t count)
{
    for (size_t i = 0; list && i < count; i++)
        free (list[i]);
    free (list);
}

static void
s_free_rule (rule_t *rule)
{
    free (rule->name);
    free (rule->requester);
    free (rule->service);
    s_free_list (rule->purposes, rule->purpose_count);
    for (size_t i = 0; rule->sections && i < rule->section_count; i++) {
        onenet_policy_section_t *section = &rule->sections[i];
        free (section->department);
        for (int list = 0; list < LIST_COUNT; list++)
            s_free_list (section->lists[list], section->counts[list]);
    }
    free (rule->sections);
}

void
onenet_policy_destroy (onenet_policy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    onenet_policy_t *self = *self_p;
    for (size_t i = 0; self->rules && i < self->rule_count; i++)
        s_free_rule (&self->rules[i]);
    free (self->rules);
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Loading

/* The reader and what the loader needs alongside it. */
typedef struct {
    onenet_config_t *cfg;
    bool out_of_memory;
} loader_t;

static char *
s_strdup (loader_t *loader, const char *text)
{
    char *copy = strdup (text ? text : "");
    if (!copy && !loader->out_of_memory) {
        loader->out_of_memory = true;
        onenet_config_fail (loader->cfg, "rules", "out of memory");
    }
    return copy;
}

/* Reads a required string at path into a copy, checked by valid (NULL:
 * any non-empty string) with what (e.g. "a department name [a-z0-9_]")
 * for the message. Returns the copy or NULL (error recorded). */
static char *
s_read_string (loader_t *loader, const char *path, bool (*valid) (const char *), const char *what)
{
    const char *value = NULL;
    if (onenet_config_require (loader->cfg, path) < 0 ||
        onenet_config_string (loader->cfg, path, NULL, &value) < 0)
        return NULL;
    if (valid && !valid (value)) {
        onenet_config_fail (loader->cfg, path, "\"%s\" is not %s", value, what);
        return NULL;
    }
    return s_strdup (loader, value);
}

static bool
s_is_requester (const char *text)
{
    return strcmp (text, "*") == 0 || s_is_name (text);
}

/* Reads an array of names at path (absent: empty), each unique.
 * Returns 0, or -1 with the error recorded. */
static int
s_read_names (loader_t *loader, const char *path, char ***list_p, size_t *count_p)
{
    size_t count = 0;
    *list_p = NULL;
    *count_p = 0;
    if (onenet_config_count (loader->cfg, path, &count) < 0)
        return -1;
    if (count == 0)
        return 0;
    char **list = calloc (count, sizeof *list);
    if (!list) {
        onenet_config_fail (loader->cfg, path, "out of memory");
        return -1;
    }
    *list_p = list;
    for (size_t i = 0; i < count; i++) {
        char element[ELEMENT_PATH];
        snprintf (element, sizeof element, "%s[%zu]", path, i);
        list[i] = s_read_string (loader, element, s_is_name, "a name [a-z0-9_]");
        if (!list[i])
            return -1;
        *count_p = i + 1;
        for (size_t j = 0; j < i; j++)
            if (strcmp (list[j], list[i]) == 0)
                return onenet_config_fail (loader->cfg, element, "\"%s\" is listed twice", list[i]);
    }
    return 0;
}

/* Returns the index of the list (other than skip) of section holding
 * field, or -1. */
static int
s_list_of (const onenet_policy_section_t *section, const char *field, int skip)
{
    for (int list = 0; list < LIST_COUNT; list++)
        for (size_t i = 0; list != skip && i < section->counts[list]; i++)
            if (strcmp (section->lists[list][i], field) == 0)
                return list;
    return -1;
}

/* Reads rules[r].view[v] into section. Returns 0 or -1. */
static int
s_read_section (loader_t *loader, const char *base, const rule_t *rule, size_t v,
                onenet_policy_section_t *section)
{
    char path[ENTRY_MEMBER_PATH];
    snprintf (path, sizeof path, "%s.department", base);
    section->department =
        s_read_string (loader, path, s_is_requester, "a department name [a-z0-9_] or \"*\"");
    if (!section->department)
        return -1;
    for (size_t i = 0; i < v; i++) {
        const char *earlier = rule->sections[i].department;
        if (strcmp (earlier, "*") == 0 || strcmp (earlier, section->department) == 0)
            return onenet_config_fail (loader->cfg, base,
                                       "never applies: the earlier entry for \"%s\" already "
                                       "matches department %s",
                                       earlier, section->department);
    }
    static const char *const shows[] = {"all", "none", NULL};
    const char *show = NULL;
    snprintf (path, sizeof path, "%s.show", base);
    if (onenet_config_choice (loader->cfg, path, "all", shows, &show) < 0)
        return -1;
    section->shown = strcmp (show, "all") == 0;
    for (int list = 0; list < LIST_COUNT; list++) {
        char list_path[ENTRY_MEMBER_PATH];
        snprintf (list_path, sizeof list_path, "%s.%s", base, s_list_names[list]);
        if (s_read_names (loader, list_path, &section->lists[list], &section->counts[list]) < 0)
            return -1;
        if (section->counts[list] && !section->shown)
            return onenet_config_fail (
                loader->cfg, list_path,
                "has no effect: show = \"none\" withholds the whole section");
    }
    snprintf (path, sizeof path, "%s.removed", base);
    if (section->counts[ONENET_FIELD_VISIBLE] && section->counts[ONENET_FIELD_REMOVED])
        return onenet_config_fail (loader->cfg, path,
                                   "has no effect with visible: fields not in visible or masked "
                                   "are removed already");
    for (int list = 0; list < LIST_COUNT; list++)
        for (size_t i = 0; i < section->counts[list]; i++) {
            const char *field = section->lists[list][i];
            int other = s_list_of (section, field, list);
            if (other > list) {
                snprintf (path, sizeof path, "%s.%s", base, s_list_names[other]);
                return onenet_config_fail (loader->cfg, path, "\"%s\" is also in %s", field,
                                           s_list_names[list]);
            }
        }
    return 0;
}

/* Reads rules[r] into rule, given the rules before it. Returns 0 or -1. */
static int
s_read_rule (loader_t *loader, const rule_t *rules, size_t r, rule_t *rule)
{
    onenet_config_t *cfg = loader->cfg;
    char base[RULE_PATH], path[MEMBER_PATH];
    snprintf (base, sizeof base, "rules[%zu]", r);

    snprintf (path, sizeof path, "%s.name", base);
    rule->name = s_read_string (loader, path, s_is_name, "a rule name [a-z0-9_]");
    if (!rule->name)
        return -1;
    if (strlen (rule->name) > ONENET_POLICY_NAME_MAX)
        return onenet_config_fail (cfg, path, "longer than %d characters", ONENET_POLICY_NAME_MAX);
    if (strcmp (rule->name, "default") == 0)
        return onenet_config_fail (cfg, path,
                                   "\"default\" names the decision when no rule "
                                   "matches: choose another name");
    for (size_t i = 0; i < r; i++)
        if (strcmp (rules[i].name, rule->name) == 0)
            return onenet_config_fail (cfg, path, "\"%s\" is already the name of rules[%zu]",
                                       rule->name, i);

    snprintf (path, sizeof path, "%s.requester", base);
    rule->requester =
        s_read_string (loader, path, s_is_requester, "a department name [a-z0-9_] or \"*\"");
    if (!rule->requester)
        return -1;
    snprintf (path, sizeof path, "%s.service", base);
    rule->service = s_read_string (loader, path, s_is_service_pattern,
                                   "a service name, a prefix ending in .* (\"ps.*\") or \"*\"");
    if (!rule->service)
        return -1;
    snprintf (path, sizeof path, "%s.allow", base);
    if (onenet_config_require (cfg, path) < 0 ||
        onenet_config_bool (cfg, path, false, &rule->allow) < 0)
        return -1;

    /* A rule after one that matches everything it does is a mistake:
     * first match wins, so it would never decide anything. */
    for (size_t i = 0; i < r; i++)
        if ((strcmp (rules[i].requester, "*") == 0 ||
             strcmp (rules[i].requester, rule->requester) == 0) &&
            s_service_covers (rules[i].service, rule->service))
            return onenet_config_fail (cfg, base,
                                       "never applies: rule %s (rules[%zu]) comes first and "
                                       "matches every request this one does",
                                       rules[i].name, i);

    snprintf (path, sizeof path, "%s.purposes", base);
    if (s_read_names (loader, path, &rule->purposes, &rule->purpose_count) < 0)
        return -1;
    if (rule->purpose_count && !rule->allow)
        return onenet_config_fail (cfg, path, "has no effect: the rule denies every purpose");

    snprintf (path, sizeof path, "%s.view", base);
    if (onenet_config_count (cfg, path, &rule->section_count) < 0)
        return -1;
    if (onenet_config_has (cfg, path) &&
        (!rule->allow || !s_service_matches (rule->service, ONENET_POLICY_VIEW_SERVICE)))
        return onenet_config_fail (cfg, path, "only a rule that allows %s may have a view",
                                   ONENET_POLICY_VIEW_SERVICE);
    if (rule->section_count) {
        rule->sections = calloc (rule->section_count, sizeof *rule->sections);
        if (!rule->sections) {
            rule->section_count = 0;
            return onenet_config_fail (cfg, path, "out of memory");
        }
    }
    for (size_t v = 0; v < rule->section_count; v++) {
        char entry[ENTRY_PATH];
        snprintf (entry, sizeof entry, "%s[%zu]", path, v);
        if (s_read_section (loader, entry, rule, v, &rule->sections[v]) < 0)
            return -1;
    }
    return 0;
}

static onenet_policy_t *
s_load (onenet_config_t *cfg, const char *name, char *err, size_t err_size)
{
    loader_t loader = {cfg, false};
    onenet_policy_t *self = calloc (1, sizeof *self);
    if (!self || !(self->path = strdup (name))) {
        free (self);
        if (err && err_size)
            snprintf (err, err_size, "%s: out of memory", name);
        onenet_config_destroy (&cfg);
        return NULL;
    }
    const char *def = NULL;
    if (onenet_config_string (cfg, "default", "deny", &def) == 0 && strcmp (def, "deny") != 0)
        onenet_config_fail (cfg, "default",
                            "only \"deny\" is supported, not \"%s\": to allow, end the rules "
                            "with a rule that allows what you mean",
                            def);
    size_t count = 0;
    if (onenet_config_require (cfg, "rules") == 0 &&
        onenet_config_count (cfg, "rules", &count) == 0 && count) {
        self->rules = calloc (count, sizeof *self->rules);
        if (!self->rules)
            onenet_config_fail (cfg, "rules", "out of memory");
    }
    for (size_t r = 0; self->rules && r < count; r++) {
        self->rule_count = r + 1; /* so destroy frees what was read */
        if (s_read_rule (&loader, self->rules, r, &self->rules[r]) < 0)
            break;
    }
    int rc = onenet_config_finish (cfg, err, err_size);
    onenet_config_destroy (&cfg);
    if (rc < 0)
        onenet_policy_destroy (&self);
    return self;
}

onenet_policy_t *
onenet_policy_load (const char *path, char *err, size_t err_size)
{
    onenet_config_t *cfg = onenet_config_load (path, err, err_size);
    return cfg ? s_load (cfg, path, err, err_size) : NULL;
}

onenet_policy_t *
onenet_policy_load_string (const char *text, const char *name, char *err, size_t err_size)
{
    onenet_config_t *cfg = onenet_config_load_string (text, name, err, err_size);
    return cfg ? s_load (cfg, name ? name : "(string)", err, err_size) : NULL;
}

const char *
onenet_policy_path (const onenet_policy_t *self)
{
    return self ? self->path : "";
}

size_t
onenet_policy_rule_count (const onenet_policy_t *self)
{
    return self ? self->rule_count : 0;
}

//  --------------------------------------------------------------------------
//  Decisions

/* Appends to a fixed buffer, truncating with "..." rather than failing. */
static void __attribute__ ((format (printf, 3, 4)))
s_append (char *buffer, size_t size, const char *format, ...)
{
    size_t used = strlen (buffer);
    if (used + 1 >= size)
        return;
    va_list args;
    va_start (args, format);
    int n = vsnprintf (buffer + used, size - used, format, args);
    va_end (args);
    if (n >= 0 && (size_t)n >= size - used && size >= 4)
        memcpy (buffer + size - 4, "...", 4);
}

/* What a client wrote (purpose, service, requester), fit to put in a
 * log line or a reply: printable ASCII other than ' only (anything else
 * becomes ?), cut to size - 1 characters. */
static void
s_printable (const char *text, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = text; *p && n + 1 < size; p++)
        out[n++] = (*p >= 0x20 && *p < 0x7F && *p != '\'') ? *p : '?';
    out[n] = '\0';
}

static void
s_list_purposes (char *buffer, size_t size, const rule_t *rule)
{
    for (size_t i = 0; i < rule->purpose_count; i++)
        s_append (buffer, size, "%s%s", i ? ", " : "", rule->purposes[i]);
}

bool
onenet_policy_decide (const onenet_policy_t *self, const char *requester, const char *service,
                      const char *purpose, onenet_policy_decision_t *out)
{
    if (!out)
        return false;
    requester = requester ? requester : "";
    service = service ? service : "";
    purpose = purpose ? purpose : "";
    memset (out, 0, sizeof *out);
    snprintf (out->rule, sizeof out->rule, "default");
    const rule_t *rule = NULL;
    for (size_t i = 0; self && i < self->rule_count && !rule; i++)
        if (s_requester_matches (self->rules[i].requester, requester) &&
            s_service_matches (self->rules[i].service, service))
            rule = &self->rules[i];
    if (!rule) {
        snprintf (out->reason, sizeof out->reason, "%s",
                  self ? "no rule matches: denied by default"
                       : "no policy loaded: denied by default");
        return false;
    }
    out->matched = rule;
    snprintf (out->rule, sizeof out->rule, "%s", rule->name);
    char shown[PURPOSE_SHOWN_MAX + 1], who[REQUESTER_SHOWN_MAX + 1], what[SERVICE_SHOWN_MAX + 1];
    s_printable (purpose, shown, sizeof shown);
    s_printable (requester, who, sizeof who);
    s_printable (service, what, sizeof what);
    if (!rule->allow) {
        snprintf (out->reason, sizeof out->reason, "rule %s denies %s calls to %s", rule->name, who,
                  what);
        return false;
    }
    bool listed = rule->purpose_count == 0;
    for (size_t i = 0; !listed && i < rule->purpose_count; i++)
        listed = strcmp (rule->purposes[i], purpose) == 0;
    if (!listed) {
        /* The list is cut short (with "...") before the rule's name is. */
        char purposes[PURPOSE_LIST_MAX] = "";
        s_list_purposes (purposes, sizeof purposes, rule);
        if (*purpose)
            snprintf (out->reason, sizeof out->reason, "purpose '%s' is not one of %s (rule %s)",
                      shown, purposes, rule->name);
        else
            snprintf (out->reason, sizeof out->reason,
                      "no purpose given: one of %s is required (rule %s)", purposes, rule->name);
        return false;
    }
    out->allowed = true;
    snprintf (out->reason, sizeof out->reason, "rule %s allows %s to call %s", rule->name, who,
              what);
    if (*purpose)
        s_append (out->reason, sizeof out->reason, " for purpose %s", shown);
    return true;
}

//  --------------------------------------------------------------------------
//  View sections

static const rule_t *
s_view_rule (const onenet_policy_decision_t *decision)
{
    return decision && decision->allowed ? decision->matched : NULL;
}

const onenet_policy_section_t *
onenet_policy_section (const onenet_policy_decision_t *decision, const char *department)
{
    const rule_t *rule = s_view_rule (decision);
    department = department ? department : "";
    for (size_t i = 0; rule && i < rule->section_count; i++)
        if (s_requester_matches (rule->sections[i].department, department))
            return &rule->sections[i];
    return NULL;
}

size_t
onenet_policy_section_count (const onenet_policy_decision_t *decision)
{
    const rule_t *rule = s_view_rule (decision);
    return rule ? rule->section_count : 0;
}

const onenet_policy_section_t *
onenet_policy_section_at (const onenet_policy_decision_t *decision, size_t index)
{
    const rule_t *rule = s_view_rule (decision);
    return rule && index < rule->section_count ? &rule->sections[index] : NULL;
}

const char *
onenet_policy_section_department (const onenet_policy_section_t *section)
{
    return section ? section->department : "";
}

bool
onenet_policy_section_shown (const onenet_policy_section_t *section)
{
    return section && section->shown;
}

bool
onenet_policy_section_restricted (const onenet_policy_section_t *section)
{
    if (!section || !section->shown)
        return true;
    for (int list = 0; list < LIST_COUNT; list++)
        if (section->counts[list])
            return true;
    return false;
}

onenet_field_action_t
onenet_policy_field_action (const onenet_policy_section_t *section, const char *field)
{
    if (!section || !section->shown || !field)
        return ONENET_FIELD_REMOVED;
    int list = s_list_of (section, field, -1);
    if (list >= 0)
        return (onenet_field_action_t)list;
    return section->counts[ONENET_FIELD_VISIBLE] ? ONENET_FIELD_REMOVED : ONENET_FIELD_VISIBLE;
}

size_t
onenet_policy_section_fields (const onenet_policy_section_t *section, onenet_field_action_t action,
                              const char *const **names_p)
{
    static const char *const none[] = {NULL};
    int list = (int)action;
    if (!section || list < 0 || list >= LIST_COUNT || !section->counts[list]) {
        if (names_p)
            *names_p = none;
        return 0;
    }
    if (names_p)
        *names_p = (const char *const *)section->lists[list];
    return section->counts[list];
}

/* Withholds the whole section; message must outlive the section. */
static void
s_withhold (Onenet__View__Section *section, char *message)
{
    section->status = ONENET__VIEW__SECTION_STATUS__SECTION_DENIED;
    section->message = message;
    section->n_fields = 0;
    section->fields = NULL;
    section->detail_type = (char *)"";
    section->detail.len = 0;
    section->detail.data = NULL;
    section->age_ms = 0;
}

int
onenet_policy_filter_section (const onenet_policy_decision_t *decision,
                              Onenet__View__Section *section, void **storage_p)
{
    static char s_no_memory[] = "withheld by policy: out of memory";
    if (storage_p)
        *storage_p = NULL;
    if (!section)
        return -1;
    if (!storage_p) {
        s_withhold (section, s_no_memory);
        return -1;
    }
    const onenet_policy_section_t *entry = onenet_policy_section (decision, section->department);
    if (!onenet_policy_section_shown (entry)) {
        char message[ONENET_POLICY_NAME_MAX + 64];
        if (decision && decision->matched)
            snprintf (message, sizeof message, "withheld by policy rule %s", decision->rule);
        else
            snprintf (message, sizeof message, "withheld by policy: no rule matches");
        char *copy = strdup (message);
        s_withhold (section, copy ? copy : s_no_memory);
        *storage_p = copy;
        return copy ? 0 : -1;
    }
    if (!onenet_policy_section_restricted (entry))
        return 0;

    /* One block: the masked copies of fields, the new pointer array, then
     * the masked values. Field structs hold pointers, so the array after
     * them is aligned. */
    size_t kept = 0, masked = 0, text = 0;
    for (size_t i = 0; i < section->n_fields; i++) {
        const Onenet__View__Field *field = section->fields[i];
        onenet_field_action_t action =
            field ? onenet_policy_field_action (entry, field->name) : ONENET_FIELD_REMOVED;
        if (action == ONENET_FIELD_REMOVED)
            continue;
        kept++;
        if (action == ONENET_FIELD_MASKED) {
            masked++;
            text += ONENET_MASK_SIZE (strlen (field->value ? field->value : ""));
        }
    }
    size_t size =
        masked * sizeof (Onenet__View__Field) + kept * sizeof (Onenet__View__Field *) + text;
    unsigned char *block = size ? malloc (size) : NULL;
    if (size && !block) {
        s_withhold (section, s_no_memory);
        return -1;
    }
    Onenet__View__Field *copies = (Onenet__View__Field *)block;
    Onenet__View__Field **fields =
        block ? (Onenet__View__Field **)(block + masked * sizeof *copies) : NULL;
    char *values = block ? (char *)(block + masked * sizeof *copies + kept * sizeof *fields) : NULL;
    size_t n = 0, m = 0;
    for (size_t i = 0; block && i < section->n_fields; i++) {
        Onenet__View__Field *field = section->fields[i];
        onenet_field_action_t action =
            field ? onenet_policy_field_action (entry, field->name) : ONENET_FIELD_REMOVED;
        if (action == ONENET_FIELD_REMOVED)
            continue;
        if (action == ONENET_FIELD_MASKED) {
            const char *value = field->value ? field->value : "";
            size_t room = ONENET_MASK_SIZE (strlen (value));
            copies[m] = *field;
            copies[m].value = values;
            if (onenet_mask_field (field->name, value, values, room) < 0)
                snprintf (values, room, "***"); /* cannot happen: room always suffices */
            values += room;
            field = &copies[m++];
        }
        fields[n++] = field;
    }
    section->fields = n ? fields : NULL;
    section->n_fields = n;
    section->detail_type = (char *)"";
    section->detail.len = 0;
    section->detail.data = NULL;
    *storage_p = block;
    return 0;
}
