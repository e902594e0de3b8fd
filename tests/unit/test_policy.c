/*
 * test_policy.c - the sharing policy (lib/src/policy.c) and masking
 * (lib/src/mask.c): loading and its errors, decisions and their reasons,
 * masking of each field kind, and filtering of person-view sections.
 *
 * Error messages and reasons are compared whole: they are what an
 * operator reads in the broker's log, a clerk in a DENIED reply, and a
 * script from `onenet policy check`.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libconfig.h>
#include "onenet/policy.h"

/* A policy with one rule of each kind the tests need. */
static const char s_policy_text[] =
    "default = \"deny\";\n"
    "rules = (\n"
    "    { name = \"anyone_pings\"; requester = \"*\"; service = \"onenet.ping\"; allow = true; "
    "},\n"
    "    { name = \"no_gateway_writes\"; requester = \"gateway\"; service = \"ps.person.update\";\n"
    "      allow = false; },\n"
    "    { name = \"ss_reads_ps\"; requester = \"social_security\"; service = \"ps.person.get\";\n"
    "      allow = true; purposes = [ \"benefit_review\", \"identity_check\" ]; },\n"
    "    { name = \"gateway_ps\"; requester = \"gateway\"; service = \"ps.*\"; allow = true; },\n"
    "    { name = \"em_anything\"; requester = \"emergency\"; service = \"*\"; allow = true; },\n"
    "    { name = \"ss_views\"; requester = \"social_security\"; service = "
    "\"onenet.view.person\";\n"
    "      allow = true;\n"
    "      view = (\n"
    "        { department = \"public_security\"; masked = [ \"phone\", \"name\" ];\n"
    "          removed = [ \"incident_reports\" ]; },\n"
    "        { department = \"social_security\"; },\n"
    "        { department = \"civil_affairs\"; visible = [ \"marital_status\" ]; masked = [ "
    "\"address\" ]; },\n"
    "        { department = \"emergency\"; show = \"none\"; }\n"
    "      ); }\n"
    ");\n";

static onenet_policy_t *
load_ok (const char *text)
{
    char err[512] = "";
    onenet_policy_t *policy = onenet_policy_load_string (text, "t.cfg", err, sizeof err);
    if (!policy)
        fail_msg ("policy refused: %s", err);
    assert_string_equal (err, "");
    return policy;
}

static void
expect_load_error (const char *text, const char *expected)
{
    char err[512] = "";
    onenet_policy_t *policy = onenet_policy_load_string (text, "t.cfg", err, sizeof err);
    bool loaded = policy != NULL;
    onenet_policy_destroy (&policy);
    assert_false (loaded);
    assert_string_equal (err, expected);
}

/* One rule around the given settings, to keep the bad-file cases short. */
static void
expect_rule_error (const char *settings, const char *expected)
{
    char text[1024];
    snprintf (text, sizeof text, "rules = ( { name = \"r\"; requester = \"x\";\n%s } );\n",
              settings);
    expect_load_error (text, expected);
}

//  --------------------------------------------------------------------------
//  Loading

static void
test_load_good_policy (void **state)
{
    (void)state;
    onenet_policy_t *policy = load_ok (s_policy_text);
    assert_int_equal (onenet_policy_rule_count (policy), 6);
    assert_string_equal (onenet_policy_path (policy), "t.cfg");
    onenet_policy_destroy (&policy);
    assert_null (policy);
    onenet_policy_destroy (&policy); /* safe on NULL */
    onenet_policy_destroy (NULL);
}

static void
test_load_shipped_policy (void **state)
{
    (void)state;
    const char *source = getenv ("ONENET_SOURCE_DIR");
    assert_non_null (source);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/config/policy.cfg", source);
    char err[512] = "";
    onenet_policy_t *policy = onenet_policy_load (path, err, sizeof err);
    if (!policy)
        fail_msg ("config/policy.cfg refused: %s", err);
    assert_true (onenet_policy_rule_count (policy) >= 10);

    /* What the file's comments promise. */
    onenet_policy_decision_t d;
    assert_true (onenet_policy_decide (policy, "gateway", "onenet.ping", NULL, &d));
    assert_true (onenet_policy_decide (policy, "anonymous", "onenet.ping", NULL, &d));
    assert_false (onenet_policy_decide (policy, "anonymous", "onenet.services", NULL, &d));
    assert_string_equal (d.rule, "anonymous_pings_only");
    assert_true (onenet_policy_decide (policy, "public_security", "onenet.services", NULL, &d));
    assert_true (
        onenet_policy_decide (policy, "social_security", "ps.person.get", "benefit_review", &d));
    assert_string_equal (d.reason, "rule ss_reads_ps allows social_security to call ps.person.get "
                                   "for purpose benefit_review");
    assert_false (
        onenet_policy_decide (policy, "social_security", "ps.person.get", "marketing", &d));
    assert_true (onenet_policy_decide (policy, "emergency", "ps.person.get", "evacuation", &d));
    assert_true (
        onenet_policy_decide (policy, "public_security", "em.vulnerable.get", "investigation", &d));
    assert_true (
        onenet_policy_decide (policy, "emergency_coordinators", "onenet.alert.ack", NULL, &d));
    assert_true (onenet_policy_decide (policy, "emergency", "onenet.alert.publish", NULL, &d));
    assert_false (onenet_policy_decide (policy, "gateway", "ps.person.update", NULL, &d));
    assert_string_equal (d.rule, "gateway_nothing_else");
    assert_false (
        onenet_policy_decide (policy, "civil_affairs", "ps.person.get", "benefit_review", &d));
    assert_string_equal (d.rule, "default");

    /* Views: every department's section is decided, new ones withheld. */
    const char *requesters[] = {"social_security", "emergency", "public_security",
                                "emergency_coordinators", "civil_affairs"};
    const char *purposes[] = {"benefit_review", "evacuation", "investigation", "evacuation",
                              "identity_check"};
    for (size_t i = 0; i < 5; i++) {
        assert_true (
            onenet_policy_decide (policy, requesters[i], "onenet.view.person", purposes[i], &d));
        assert_false (onenet_policy_section_shown (onenet_policy_section (&d, "civil_affairs")));
        assert_false (onenet_policy_decide (policy, requesters[i], "onenet.view.person", NULL, &d));
    }
    /* The gateway's own key gets no view: it asks for its users. */
    assert_false (
        onenet_policy_decide (policy, "gateway", "onenet.view.person", "identity_check", &d));
    assert_string_equal (d.rule, "gateway_nothing_else");
    assert_false (onenet_policy_decide (policy, "operator", "ps.person.get", "identity_check", &d));
    assert_string_equal (d.rule, "operator_nothing_else");
    assert_true (
        onenet_policy_decide (policy, "civil_affairs", "onenet.view.person", "identity_check", &d));
    const onenet_policy_section_t *ps = onenet_policy_section (&d, "public_security");
    assert_int_equal (onenet_policy_field_action (ps, "name"), ONENET_FIELD_MASKED);
    assert_int_equal (onenet_policy_field_action (ps, "sex"), ONENET_FIELD_VISIBLE);
    assert_int_equal (onenet_policy_field_action (ps, "incident_reports"), ONENET_FIELD_REMOVED);
    assert_false (onenet_policy_section_shown (onenet_policy_section (&d, "emergency")));
    onenet_policy_destroy (&policy);
}

/* The shipped gateway users (config/gateway.cfg, also the compose
 * deployment's) can do their role's work under the shipped policy, and
 * nothing a role is not for. The gateway asks for them as delegate, so the
 * policy decides for each user's department. */
static void
test_shipped_gateway_users_fit_shipped_policy (void **state)
{
    (void)state;
    const char *source = getenv ("ONENET_SOURCE_DIR");
    char path[PATH_MAX], err[512] = "";
    snprintf (path, sizeof path, "%s/config/policy.cfg", source);
    onenet_policy_t *policy = onenet_policy_load (path, err, sizeof err);
    assert_non_null (policy);
    static const struct {
        const char *role, *service, *purpose;
        bool allowed;
    } jobs[] = {
        {"clerk", "onenet.view.person", "identity_check", true},
        {"clerk", "onenet.view.person", "benefit_review", true},
        {"clerk", "onenet.services", NULL, true},
        {"clerk", "ps.person.get", "identity_check", false},
        {"clerk", "onenet.audit.query", NULL, false},
        {"coordinator", "onenet.alert.since", NULL, true},
        {"coordinator", "onenet.alert.unacked", NULL, true},
        {"coordinator", "onenet.alert.publish", NULL, true},
        {"coordinator", "onenet.alert.ack", NULL, true},
        {"coordinator", "onenet.services", NULL, true},
        {"coordinator", "onenet.audit.query", NULL, false},
        {"auditor", "onenet.audit.query", NULL, true},
        {"auditor", "onenet.view.person", "identity_check", false},
        {"auditor", "onenet.alert.since", NULL, false},
        {"operator", "onenet.services", NULL, true},
        {"operator", "em.shelter.list", NULL, true},
        {"operator", "ps.person.update", NULL, false},
        {"operator", "onenet.audit.query", NULL, false},
    };
    const char *configs[] = {"config/gateway.cfg", "config/compose/gateway.cfg"};
    for (size_t c = 0; c < 2; c++) {
        snprintf (path, sizeof path, "%s/%s", source, configs[c]);
        config_t cfg;
        config_init (&cfg);
        if (config_read_file (&cfg, path) != CONFIG_TRUE)
            fail_msg ("%s:%d: %s", path, config_error_line (&cfg), config_error_text (&cfg));
        config_setting_t *users = config_lookup (&cfg, "users");
        assert_non_null (users);
        int roles_seen = 0;
        for (int i = 0; i < config_setting_length (users); i++) {
            const char *role = NULL, *department = NULL, *name = NULL;
            config_setting_t *user = config_setting_get_elem (users, i);
            assert_true (config_setting_lookup_string (user, "role", &role));
            assert_true (config_setting_lookup_string (user, "department", &department));
            assert_true (config_setting_lookup_string (user, "name", &name));
            for (size_t j = 0; j < sizeof jobs / sizeof jobs[0]; j++) {
                if (strcmp (jobs[j].role, role) != 0)
                    continue;
                onenet_policy_decision_t d;
                bool allowed =
                    onenet_policy_decide (policy, department, jobs[j].service, jobs[j].purpose, &d);
                if (allowed != jobs[j].allowed)
                    fail_msg ("%s: %s (%s, %s) calling %s: %s", configs[c], name, role, department,
                              jobs[j].service, d.reason);
            }
            roles_seen++;
        }
        assert_int_equal (roles_seen, 4);
        config_destroy (&cfg);
    }
    onenet_policy_destroy (&policy);
}

static void
test_load_file_errors (void **state)
{
    (void)state;
    char err[512] = "";
    assert_null (onenet_policy_load ("/nonexistent/policy.cfg", err, sizeof err));
    assert_string_equal (err, "/nonexistent/policy.cfg: cannot open: No such file or directory");
    expect_load_error ("rules = ( { name = \"a\" ", "t.cfg:1: syntax error");
    expect_load_error ("default = \"deny\";\n", "t.cfg: rules: required setting missing");
    expect_load_error ("rules = { a = 1; };\n", "t.cfg:1: rules: must be a list, not a group");
    expect_load_error ("default = \"allow\";\nrules = ();\n",
                       "t.cfg:1: default: only \"deny\" is supported, not \"allow\": to allow, end "
                       "the rules with a rule that allows what you mean");
    expect_load_error ("rules = ();\ncolour = \"red\";\n", "t.cfg:2: colour: unknown setting");
    /* An empty policy is valid: it denies everything. */
    onenet_policy_t *policy = load_ok ("rules = ();\n");
    assert_int_equal (onenet_policy_rule_count (policy), 0);
    onenet_policy_destroy (&policy);
}

static void
test_load_rule_errors (void **state)
{
    (void)state;
    expect_rule_error ("service = \"*\"; allow = true; colour = \"red\";",
                       "t.cfg:2: rules[0].colour: unknown setting");
    expect_rule_error (
        "service = \"*\"; alow = true;",
        "t.cfg:1: rules[0].allow: required setting missing (is alow on line 2 a typo?)");
    expect_rule_error ("service = \"*\"; allow = \"yes\";",
                       "t.cfg:2: rules[0].allow: must be true or false, not a string");
    expect_load_error ("rules = ( { requester = \"x\";\n service = \"*\"; allow = true; } );\n",
                       "t.cfg:1: rules[0].name: required setting missing");
    expect_load_error (
        "rules = ( { name = \"Big\"; requester = \"x\"; service = \"*\"; allow = true; } );\n",
        "t.cfg:1: rules[0].name: \"Big\" is not a rule name [a-z0-9_]");
    expect_load_error (
        "rules = ( { name = \"default\"; requester = \"x\"; service = \"*\"; allow = true; } );\n",
        "t.cfg:1: rules[0].name: \"default\" names the decision when no rule matches: "
        "choose another name");
    expect_rule_error ("service = \"ps.*.get\"; allow = true;",
                       "t.cfg:2: rules[0].service: \"ps.*.get\" is not a service name, a prefix "
                       "ending in .* (\"ps.*\") or \"*\"");
    expect_rule_error ("service = \"ps..get\"; allow = true;",
                       "t.cfg:2: rules[0].service: \"ps..get\" is not a service name, a prefix "
                       "ending in .* (\"ps.*\") or \"*\"");
    expect_load_error (
        "rules = ( { name = \"r\"; requester = \"Social Security\"; service = \"*\"; "
        "allow = true; } );\n",
        "t.cfg:1: rules[0].requester: \"Social Security\" is not a department name "
        "[a-z0-9_] or \"*\"");
    expect_load_error (
        "rules = ( { name = \"a\"; requester = \"x\"; service = \"ps.*\"; allow = true; },\n"
        "  { name = \"a\"; requester = \"y\"; service = \"ps.*\"; allow = true; } );\n",
        "t.cfg:2: rules[1].name: \"a\" is already the name of rules[0]");
    /* First match wins: a rule after one that matches all it does is dead. */
    expect_load_error (
        "rules = ( { name = \"a\"; requester = \"*\"; service = \"ps.*\"; allow = true; },\n"
        "  { name = \"b\"; requester = \"x\"; service = \"ps.person.*\"; allow = false; } );\n",
        "t.cfg:2: rules[1]: never applies: rule a (rules[0]) comes first and matches "
        "every request this one does");
    expect_rule_error ("service = \"*\"; allow = false;\npurposes = [ \"audit\" ];",
                       "t.cfg:3: rules[0].purposes: has no effect: the rule denies every purpose");
    expect_rule_error ("service = \"*\"; allow = true; purposes = [ \"a\", \"a\" ];",
                       "t.cfg:2: rules[0].purposes[1]: \"a\" is listed twice");
    expect_rule_error ("service = \"*\"; allow = true; purposes = [ 1 ];",
                       "t.cfg:2: rules[0].purposes[0]: must be a string, not an integer");
    expect_rule_error ("service = \"*\"; allow = true; purposes = [ \"Benefit review\" ];",
                       "t.cfg:2: rules[0].purposes[0]: \"Benefit review\" is not a name [a-z0-9_]");
}

static void
test_load_view_errors (void **state)
{
    (void)state;
    const char *view_rule = "service = \"onenet.view.person\"; allow = true;\n";
    char text[512];
    expect_rule_error (
        "service = \"ps.*\"; allow = true;\nview = ();",
        "t.cfg:3: rules[0].view: only a rule that allows onenet.view.person may have a view");
    expect_rule_error (
        "service = \"onenet.view.person\"; allow = false;\nview = ();",
        "t.cfg:3: rules[0].view: only a rule that allows onenet.view.person may have a view");
    snprintf (text, sizeof text, "%sview = { public_security = { show = \"all\"; }; };", view_rule);
    expect_rule_error (text, "t.cfg:3: rules[0].view: must be a list, not a group");
    snprintf (text, sizeof text, "%sview = ( { show = \"all\"; } );", view_rule);
    expect_rule_error (text, "t.cfg:3: rules[0].view[0].department: required setting missing");
    snprintf (text, sizeof text, "%sview = ( { department = \"ps\"; show = \"some\"; } );",
              view_rule);
    expect_rule_error (text,
                       "t.cfg:3: rules[0].view[0].show: must be one of all or none, not \"some\"");
    snprintf (text, sizeof text,
              "%sview = ( { department = \"ps\"; show = \"none\";\nmasked = [ \"phone\" ]; } );",
              view_rule);
    expect_rule_error (text, "t.cfg:4: rules[0].view[0].masked: has no effect: show = \"none\" "
                             "withholds the whole section");
    snprintf (
        text, sizeof text,
        "%sview = ( { department = \"ps\"; visible = [ \"name\" ];\nremoved = [ \"phone\" ]; } );",
        view_rule);
    expect_rule_error (text,
                       "t.cfg:4: rules[0].view[0].removed: has no effect with visible: fields "
                       "not in visible or masked are removed already");
    snprintf (text, sizeof text,
              "%sview = ( { department = \"ps\"; masked = [ \"name\" ];\nremoved = [ \"phone\", "
              "\"name\" ]; } );",
              view_rule);
    expect_rule_error (text, "t.cfg:4: rules[0].view[0].removed: \"name\" is also in masked");
    snprintf (text, sizeof text, "%sview = ( { department = \"*\"; },\n{ department = \"ps\"; } );",
              view_rule);
    expect_rule_error (text,
                       "t.cfg:4: rules[0].view[1]: never applies: the earlier entry for \"*\" "
                       "already matches department ps");
    snprintf (text, sizeof text, "%sview = ( { department = \"ps\"; hidden = [ \"x\" ]; } );",
              view_rule);
    expect_rule_error (text, "t.cfg:3: rules[0].view[0].hidden: unknown setting");
}

//  --------------------------------------------------------------------------
//  Decisions

static void
test_decide_first_match_and_wildcards (void **state)
{
    (void)state;
    onenet_policy_t *policy = load_ok (s_policy_text);
    onenet_policy_decision_t d;
    /* "*" requester. */
    assert_true (onenet_policy_decide (policy, "anyone_at_all", "onenet.ping", NULL, &d));
    assert_string_equal (d.rule, "anyone_pings");
    assert_string_equal (d.reason, "rule anyone_pings allows anyone_at_all to call onenet.ping");
    /* The deny rule comes before the broader allow: first match wins. */
    assert_false (onenet_policy_decide (policy, "gateway", "ps.person.update", NULL, &d));
    assert_string_equal (d.rule, "no_gateway_writes");
    assert_string_equal (d.reason,
                         "rule no_gateway_writes denies gateway calls to ps.person.update");
    assert_non_null (d.matched);
    /* Prefix wildcard: "ps.*" is ps. and anything after it, not "ps" or "pss.". */
    assert_true (onenet_policy_decide (policy, "gateway", "ps.person.get", NULL, &d));
    assert_string_equal (d.rule, "gateway_ps");
    assert_true (onenet_policy_decide (policy, "gateway", "ps.household.get", "anything", &d));
    assert_string_equal (
        d.reason, "rule gateway_ps allows gateway to call ps.household.get for purpose anything");
    assert_false (onenet_policy_decide (policy, "gateway", "ps", NULL, &d));
    assert_false (onenet_policy_decide (policy, "gateway", "pss.person.get", NULL, &d));
    /* "*" service. */
    assert_true (onenet_policy_decide (policy, "emergency", "ss.insurance.get", NULL, &d));
    assert_string_equal (d.rule, "em_anything");
    /* Requesters match whole names. */
    assert_false (onenet_policy_decide (policy, "gateway2", "ps.person.get", NULL, &d));
    onenet_policy_destroy (&policy);
}

static void
test_decide_default_deny (void **state)
{
    (void)state;
    onenet_policy_t *policy = load_ok (s_policy_text);
    onenet_policy_decision_t d;
    assert_false (
        onenet_policy_decide (policy, "civil_affairs", "ps.person.get", "benefit_review", &d));
    assert_false (d.allowed);
    assert_string_equal (d.rule, "default");
    assert_string_equal (d.reason, "no rule matches: denied by default");
    assert_null (d.matched);
    assert_false (onenet_policy_decide (policy, NULL, NULL, NULL, &d));
    assert_string_equal (d.rule, "default");
    onenet_policy_destroy (&policy);

    assert_false (onenet_policy_decide (NULL, "emergency", "onenet.ping", NULL, &d));
    assert_string_equal (d.reason, "no policy loaded: denied by default");
    assert_false (onenet_policy_decide (NULL, "emergency", "onenet.ping", NULL, NULL));

    policy = load_ok ("rules = ();\n");
    assert_false (onenet_policy_decide (policy, "emergency", "onenet.ping", NULL, &d));
    assert_string_equal (d.reason, "no rule matches: denied by default");
    onenet_policy_destroy (&policy);
}

static void
test_decide_purposes (void **state)
{
    (void)state;
    onenet_policy_t *policy = load_ok (s_policy_text);
    onenet_policy_decision_t d;
    assert_true (
        onenet_policy_decide (policy, "social_security", "ps.person.get", "identity_check", &d));
    assert_string_equal (d.reason, "rule ss_reads_ps allows social_security to call ps.person.get "
                                   "for purpose identity_check");
    assert_false (
        onenet_policy_decide (policy, "social_security", "ps.person.get", "marketing", &d));
    assert_string_equal (d.rule, "ss_reads_ps");
    assert_string_equal (d.reason,
                         "purpose 'marketing' is not one of benefit_review, identity_check "
                         "(rule ss_reads_ps)");
    assert_false (onenet_policy_decide (policy, "social_security", "ps.person.get", "", &d));
    assert_string_equal (d.reason, "no purpose given: one of benefit_review, identity_check is "
                                   "required (rule ss_reads_ps)");
    assert_false (onenet_policy_decide (policy, "social_security", "ps.person.get", NULL, &d));
    assert_string_equal (d.reason, "no purpose given: one of benefit_review, identity_check is "
                                   "required (rule ss_reads_ps)");
    /* Purposes compare whole and exactly. */
    assert_false (
        onenet_policy_decide (policy, "social_security", "ps.person.get", "Benefit_review", &d));
    assert_false (onenet_policy_decide (policy, "social_security", "ps.person.get", "benefit", &d));
    /* A client's purpose is quoted safely: no quotes, control characters
     * or unbounded length in a log line or reply. */
    assert_false (onenet_policy_decide (policy, "social_security", "ps.person.get", "a'b\nc", &d));
    assert_string_equal (d.reason, "purpose 'a?b?c' is not one of benefit_review, identity_check "
                                   "(rule ss_reads_ps)");
    char long_purpose[400];
    memset (long_purpose, 'x', sizeof long_purpose - 1);
    long_purpose[sizeof long_purpose - 1] = '\0';
    assert_false (
        onenet_policy_decide (policy, "social_security", "ps.person.get", long_purpose, &d));
    assert_true (strlen (d.reason) < 200);
    /* So are the requester and service a reason repeats. */
    assert_true (
        onenet_policy_decide (policy, "gateway", "ps.person.update\nlevel=error", NULL, &d));
    assert_string_equal (d.reason,
                         "rule gateway_ps allows gateway to call ps.person.update?level=error");
    /* A denied decision hands out no view sections. */
    assert_false (
        onenet_policy_decide (policy, "social_security", "onenet.view.person.x", NULL, &d));
    assert_null (onenet_policy_section (&d, "public_security"));
    assert_int_equal (onenet_policy_section_count (&d), 0);
    onenet_policy_destroy (&policy);
}

static void
test_reason_truncates_long_purpose_lists (void **state)
{
    (void)state;
    char text[4096] =
        "rules = ( { name = \"r\"; requester = \"x\"; service = \"*\"; allow = true; purposes = [ ";
    for (int i = 0; i < 60; i++) {
        char purpose[64];
        snprintf (purpose, sizeof purpose, "%s\"a_rather_long_purpose_%02d\"", i ? ", " : "", i);
        strcat (text, purpose);
    }
    strcat (text, " ]; } );\n");
    onenet_policy_t *policy = load_ok (text);
    onenet_policy_decision_t d;
    assert_false (onenet_policy_decide (policy, "x", "s", "nope", &d));
    /* The list is cut short, never the rule's name. */
    assert_true (strlen (d.reason) < ONENET_POLICY_REASON_SIZE - 1);
    assert_non_null (strstr (d.reason, "a_rather_long_purpose_00, a_rather_long_purpose_01, "));
    assert_non_null (strstr (d.reason, "... (rule r)"));
    assert_string_equal (d.reason + strlen (d.reason) - 12, "... (rule r)");
    onenet_policy_destroy (&policy);
}

static void
test_view_sections (void **state)
{
    (void)state;
    onenet_policy_t *policy = load_ok (s_policy_text);
    onenet_policy_decision_t d;
    assert_true (onenet_policy_decide (policy, "social_security", "onenet.view.person", NULL, &d));
    assert_int_equal (onenet_policy_section_count (&d), 4);
    assert_string_equal (onenet_policy_section_department (onenet_policy_section_at (&d, 0)),
                         "public_security");
    assert_null (onenet_policy_section_at (&d, 4));

    const onenet_policy_section_t *ps = onenet_policy_section (&d, "public_security");
    assert_true (onenet_policy_section_shown (ps));
    assert_true (onenet_policy_section_restricted (ps));
    assert_int_equal (onenet_policy_field_action (ps, "phone"), ONENET_FIELD_MASKED);
    assert_int_equal (onenet_policy_field_action (ps, "incident_reports"), ONENET_FIELD_REMOVED);
    assert_int_equal (onenet_policy_field_action (ps, "address"), ONENET_FIELD_VISIBLE);
    const char *const *names;
    assert_int_equal (onenet_policy_section_fields (ps, ONENET_FIELD_MASKED, &names), 2);
    assert_string_equal (names[0], "phone");
    assert_string_equal (names[1], "name");
    assert_int_equal (onenet_policy_section_fields (ps, ONENET_FIELD_VISIBLE, &names), 0);

    const onenet_policy_section_t *ss = onenet_policy_section (&d, "social_security");
    assert_true (onenet_policy_section_shown (ss));
    assert_false (onenet_policy_section_restricted (ss));
    assert_int_equal (onenet_policy_field_action (ss, "pension_status"), ONENET_FIELD_VISIBLE);

    /* With a visible list, what is in neither list is removed. */
    const onenet_policy_section_t *ca = onenet_policy_section (&d, "civil_affairs");
    assert_int_equal (onenet_policy_field_action (ca, "marital_status"), ONENET_FIELD_VISIBLE);
    assert_int_equal (onenet_policy_field_action (ca, "address"), ONENET_FIELD_MASKED);
    assert_int_equal (onenet_policy_field_action (ca, "name"), ONENET_FIELD_REMOVED);

    const onenet_policy_section_t *em = onenet_policy_section (&d, "emergency");
    assert_non_null (em);
    assert_false (onenet_policy_section_shown (em));
    assert_int_equal (onenet_policy_field_action (em, "name"), ONENET_FIELD_REMOVED);

    /* No entry: withheld. */
    assert_null (onenet_policy_section (&d, "tax_office"));
    assert_false (onenet_policy_section_shown (NULL));
    assert_true (onenet_policy_section_restricted (NULL));
    assert_int_equal (onenet_policy_field_action (NULL, "name"), ONENET_FIELD_REMOVED);
    assert_int_equal (onenet_policy_section_fields (NULL, ONENET_FIELD_MASKED, &names), 0);
    assert_null (names[0]);
    onenet_policy_destroy (&policy);
}

//  --------------------------------------------------------------------------
//  Masking

static void
expect_mask (const char *field, const char *value, const char *expected)
{
    char out[128];
    int length = onenet_mask_field (field, value, out, sizeof out);
    if (length < 0 || strcmp (out, expected) != 0)
        fail_msg ("mask %s \"%s\": expected \"%s\", got \"%s\" (%d)", field, value, expected, out,
                  length);
    assert_int_equal ((size_t)length, strlen (expected));
    /* ONENET_MASK_SIZE always suffices, and exactly length + 1 does too. */
    char *tight = malloc (ONENET_MASK_SIZE (strlen (value)));
    assert_int_equal (onenet_mask_field (field, value, tight, ONENET_MASK_SIZE (strlen (value))),
                      length);
    free (tight);
    assert_int_equal (onenet_mask_field (field, value, out, (size_t)length + 1), length);
    assert_string_equal (out, expected);
}

static void
test_mask_resident_id (void **state)
{
    (void)state;
    expect_mask ("resident_id", "510104199003071234", "510104********1234");
    expect_mask ("resident_id", "51010419900307123X", "510104********123X");
    expect_mask ("head_resident_id", "510104199003071234", "510104********1234");
    expect_mask ("resident_id", "510104900307123",
                 "510104*****7123");                           /* 15-digit first generation */
    expect_mask ("resident_id", "5101041990", "***");          /* too short to hide enough */
    expect_mask ("resident_id", "5101041990030712345", "***"); /* too long: not an ID */
    expect_mask ("resident_id", "510104 99003071234", "***");
    expect_mask ("resident_id", "５１０１０４１９９００３０７１２", "***"); /* full-width digits */
}

static void
test_mask_phone (void **state)
{
    (void)state;
    expect_mask ("phone", "13812345678", "138****5678");
    expect_mask ("caretaker_phone", "13912345678", "139****5678");
    expect_mask ("phone", "+8613812345678", "+86****5678");
    expect_mask ("phone", "028-85551234", "028****1234");
    expect_mask ("phone", "85551234", "****1234");
    expect_mask ("phone", "5551234", "***");
    expect_mask ("phone", "1", "***");
    expect_mask ("phone", "call me maybe", "***");
}

static void
test_mask_name (void **state)
{
    (void)state;
    expect_mask ("name", "张伟", "张*");
    expect_mask ("name", "欧阳娜娜", "欧***");
    expect_mask ("name", "李", "*");
    expect_mask ("name", "Li Wei", "L*****");
    expect_mask ("name", "𠀀𠀁", "𠀀*");          /* four-byte characters */
    expect_mask ("name", "\xE5\xBC", "***");      /* cut in the middle of a character */
    expect_mask ("name", "\xC0\xAF", "***");      /* overlong encoding */
    expect_mask ("name", "\xED\xA0\x80x", "***"); /* a surrogate */
    expect_mask ("name", "\xFF", "***");
}

static void
test_mask_address_birth_date_other (void **state)
{
    (void)state;
    expect_mask ("address", "Wuhou Kehua North Rd 12号 3栋2单元502室", "Wuhou ***");
    expect_mask ("address", "锦江区 红星路 8号", "锦江区 ***");
    expect_mask ("home_address", "Jinjiang Hongxing Rd 8", "Jinjiang ***");
    expect_mask ("address", "成都市武侯区科华北路12号", "***"); /* no district to keep */
    expect_mask ("address", " leading space", "***");
    expect_mask ("address", "\xE5\xBC x", "***");
    expect_mask ("birth_date", "1990-03-07", "1990-**-**");
    expect_mask ("birth_date", "1990-3-7", "1990-**-**");
    expect_mask ("birth_date", "1990", "***");
    expect_mask ("birth_date", "1990-", "***");   /* fuzz regression: mask-short-birth-date */
    expect_mask ("birth_date", "19900307", "***");
    expect_mask ("birth_date", "March 1990", "***");
    expect_mask ("sex", "F", "***");
    expect_mask ("household_id", "H510104000123", "***");
    expect_mask ("pension_status", "receiving", "***");
    expect_mask ("full_name", "张伟", "***"); /* only "name" itself is a name */
}

static void
test_mask_edge_cases (void **state)
{
    (void)state;
    char out[32] = "junk";
    assert_int_equal (onenet_mask_field ("name", "", out, sizeof out), 0);
    assert_string_equal (out, "");
    strcpy (out, "junk");
    assert_int_equal (onenet_mask_field ("phone", NULL, out, sizeof out), -1);
    assert_string_equal (out, "");
    strcpy (out, "junk");
    assert_int_equal (onenet_mask_field (NULL, "x", out, sizeof out), -1);
    assert_string_equal (out, "");
    assert_int_equal (onenet_mask_field ("phone", "13812345678", NULL, 10), -1);
    assert_int_equal (onenet_mask_field ("phone", "13812345678", out, 0), -1);
    /* Too small: nothing half-written. */
    strcpy (out, "junk");
    assert_int_equal (onenet_mask_field ("resident_id", "510104199003071234", out, 18), -1);
    assert_string_equal (out, "");
    assert_int_equal (onenet_mask_field ("x", "y", out, 3), -1);
    assert_string_equal (out, "");
    assert_int_equal (onenet_mask_field ("x", "y", out, 4), 3);
    assert_string_equal (out, "***");
}

//  --------------------------------------------------------------------------
//  Filtering view sections

/* A section as the broker's merge assembles it: pointers borrowing from
 * fields and detail that belong to the test (standing for the
 * department's unpacked answer). */
typedef struct {
    Onenet__View__Field storage[6];
    Onenet__View__Field *pointers[6];
    uint8_t detail[4];
    Onenet__View__Section section;
} fixture_t;

static void
fixture_init (fixture_t *f, const char *department, Onenet__View__SectionStatus status)
{
    static const char *const names[6] = {"name",  "birth_date",       "address",
                                         "phone", "incident_reports", "marital_status"};
    static const char *const values[6] = {"张伟",        "1990-03-07", "Wuhou Kehua Rd 12",
                                          "13812345678", "2",          "married"};
    memset (f, 0, sizeof *f);
    for (size_t i = 0; i < 6; i++) {
        onenet__view__field__init (&f->storage[i]);
        f->storage[i].name = (char *)names[i];
        f->storage[i].value = (char *)values[i];
        f->storage[i].label = (char *)"label";
        f->pointers[i] = &f->storage[i];
    }
    memcpy (f->detail, "\x0a\x02hi", 4);
    onenet__view__section__init (&f->section);
    f->section.department = (char *)department;
    f->section.status = status;
    f->section.message = (char *)"";
    f->section.served_by = (char *)"dept/1";
    f->section.fetched_at_ms = 1700000000000;
    f->section.age_ms = status == ONENET__VIEW__SECTION_STATUS__SECTION_STALE ? 5000 : 0;
    f->section.fields = f->pointers;
    f->section.n_fields = 6;
    f->section.detail_type = (char *)"onenet.ps.Person";
    f->section.detail.data = f->detail;
    f->section.detail.len = sizeof f->detail;
}

/* The department's own data must never be written through. */
static void
assert_originals_intact (const fixture_t *f)
{
    assert_string_equal (f->storage[0].value, "张伟");
    assert_string_equal (f->storage[3].value, "13812345678");
    assert_ptr_equal (f->pointers[0], &f->storage[0]);
    assert_ptr_equal (f->pointers[5], &f->storage[5]);
}

/* Packs and unpacks the section: what a client would receive. */
static Onenet__View__Section *
round_trip (const Onenet__View__Section *section)
{
    size_t size = protobuf_c_message_get_packed_size (&section->base);
    uint8_t *packed = malloc (size ? size : 1);
    assert_non_null (packed);
    assert_int_equal (protobuf_c_message_pack (&section->base, packed), size);
    Onenet__View__Section *back = onenet__view__section__unpack (NULL, size, packed);
    free (packed);
    assert_non_null (back);
    return back;
}

static void
test_filter_denied_section (void **state)
{
    (void)state;
    onenet_policy_t *policy = load_ok (s_policy_text);
    onenet_policy_decision_t d;
    assert_true (onenet_policy_decide (policy, "social_security", "onenet.view.person", NULL, &d));
    /* show = "none", no entry, and even "not found" or stale: all withheld. */
    const char *departments[] = {"emergency", "tax_office", "emergency", "emergency"};
    Onenet__View__SectionStatus statuses[] = {ONENET__VIEW__SECTION_STATUS__SECTION_OK,
                                              ONENET__VIEW__SECTION_STATUS__SECTION_OK,
                                              ONENET__VIEW__SECTION_STATUS__SECTION_NOT_FOUND,
                                              ONENET__VIEW__SECTION_STATUS__SECTION_STALE};
    for (size_t i = 0; i < 4; i++) {
        fixture_t f;
        fixture_init (&f, departments[i], statuses[i]);
        void *storage = NULL;
        assert_int_equal (onenet_policy_filter_section (&d, &f.section, &storage), 0);
        assert_non_null (storage);
        assert_int_equal (f.section.status, ONENET__VIEW__SECTION_STATUS__SECTION_DENIED);
        assert_string_equal (f.section.message, "withheld by policy rule ss_views");
        assert_int_equal (f.section.n_fields, 0);
        assert_int_equal (f.section.detail.len, 0);
        assert_string_equal (f.section.detail_type, "");
        assert_int_equal (f.section.age_ms, 0);
        assert_string_equal (f.section.department, departments[i]);
        assert_originals_intact (&f);
        Onenet__View__Section *back = round_trip (&f.section);
        assert_int_equal (back->status, ONENET__VIEW__SECTION_STATUS__SECTION_DENIED);
        assert_int_equal (back->n_fields, 0);
        assert_int_equal (back->detail.len, 0);
        onenet__view__section__free_unpacked (back, NULL);
        free (storage);
    }

    /* A decision that denies withholds every section, naming its rule. */
    assert_false (onenet_policy_decide (policy, "gateway", "ps.person.update", NULL, &d));
    fixture_t f;
    fixture_init (&f, "public_security", ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    void *storage = NULL;
    assert_int_equal (onenet_policy_filter_section (&d, &f.section, &storage), 0);
    assert_int_equal (f.section.status, ONENET__VIEW__SECTION_STATUS__SECTION_DENIED);
    assert_string_equal (f.section.message, "withheld by policy rule no_gateway_writes");
    free (storage);
    assert_false (onenet_policy_decide (policy, "nobody", "onenet.view.person", NULL, &d));
    fixture_init (&f, "public_security", ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    assert_int_equal (onenet_policy_filter_section (&d, &f.section, &storage), 0);
    assert_string_equal (f.section.message, "withheld by policy: no rule matches");
    free (storage);
    fixture_init (&f, "public_security", ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    assert_int_equal (onenet_policy_filter_section (NULL, &f.section, &storage), 0);
    assert_int_equal (f.section.status, ONENET__VIEW__SECTION_STATUS__SECTION_DENIED);
    free (storage);

    /* No storage pointer: withheld all the same, and -1. */
    assert_true (onenet_policy_decide (policy, "social_security", "onenet.view.person", NULL, &d));
    fixture_init (&f, "public_security", ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    assert_int_equal (onenet_policy_filter_section (&d, &f.section, NULL), -1);
    assert_int_equal (f.section.status, ONENET__VIEW__SECTION_STATUS__SECTION_DENIED);
    assert_int_equal (f.section.n_fields, 0);
    assert_int_equal (onenet_policy_filter_section (&d, NULL, &storage), -1);
    assert_null (storage);
    onenet_policy_destroy (&policy);
}

static void
test_filter_masks_and_removes (void **state)
{
    (void)state;
    onenet_policy_t *policy = load_ok (s_policy_text);
    onenet_policy_decision_t d;
    assert_true (onenet_policy_decide (policy, "social_security", "onenet.view.person", NULL, &d));
    fixture_t f;
    fixture_init (&f, "public_security", ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    void *storage = NULL;
    assert_int_equal (onenet_policy_filter_section (&d, &f.section, &storage), 0);
    assert_non_null (storage);
    assert_int_equal (f.section.status, ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    /* incident_reports removed, name and phone masked, order kept. */
    assert_int_equal (f.section.n_fields, 5);
    const char *expected[5][2] = {{"name", "张*"},
                                  {"birth_date", "1990-03-07"},
                                  {"address", "Wuhou Kehua Rd 12"},
                                  {"phone", "138****5678"},
                                  {"marital_status", "married"}};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal (f.section.fields[i]->name, expected[i][0]);
        assert_string_equal (f.section.fields[i]->value, expected[i][1]);
        assert_string_equal (f.section.fields[i]->label, "label");
    }
    /* Unmasked fields are the department's own; masked ones are copies. */
    assert_ptr_equal (f.section.fields[1], &f.storage[1]);
    assert_true (f.section.fields[0] != &f.storage[0]);
    /* The record would show what was hidden. */
    assert_int_equal (f.section.detail.len, 0);
    assert_null (f.section.detail.data);
    assert_string_equal (f.section.detail_type, "");
    assert_string_equal (f.section.served_by, "dept/1");
    assert_originals_intact (&f);

    Onenet__View__Section *back = round_trip (&f.section);
    assert_int_equal (back->n_fields, 5);
    assert_string_equal (back->fields[3]->value, "138****5678");
    assert_string_equal (back->detail_type, "");
    onenet__view__section__free_unpacked (back, NULL);
    free (storage);

    /* A stale section is filtered the same way, keeping its age. */
    fixture_init (&f, "public_security", ONENET__VIEW__SECTION_STATUS__SECTION_STALE);
    assert_int_equal (onenet_policy_filter_section (&d, &f.section, &storage), 0);
    assert_int_equal (f.section.status, ONENET__VIEW__SECTION_STATUS__SECTION_STALE);
    assert_int_equal (f.section.age_ms, 5000);
    assert_int_equal (f.section.n_fields, 5);
    free (storage);
    onenet_policy_destroy (&policy);
}

static void
test_filter_visible_list (void **state)
{
    (void)state;
    onenet_policy_t *policy = load_ok (s_policy_text);
    onenet_policy_decision_t d;
    assert_true (onenet_policy_decide (policy, "social_security", "onenet.view.person", NULL, &d));
    fixture_t f;
    fixture_init (&f, "civil_affairs", ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    void *storage = NULL;
    assert_int_equal (onenet_policy_filter_section (&d, &f.section, &storage), 0);
    assert_int_equal (f.section.n_fields, 2);
    assert_string_equal (f.section.fields[0]->name, "address");
    assert_string_equal (f.section.fields[0]->value, "Wuhou ***");
    assert_string_equal (f.section.fields[1]->name, "marital_status");
    assert_string_equal (f.section.fields[1]->value, "married");
    assert_int_equal (f.section.detail.len, 0);
    free (storage);

    /* Restricted but nothing left to show: no fields, no detail. */
    fixture_init (&f, "civil_affairs", ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    f.section.n_fields = 2; /* name, birth_date only */
    assert_int_equal (onenet_policy_filter_section (&d, &f.section, &storage), 0);
    assert_null (storage);
    assert_int_equal (f.section.n_fields, 0);
    assert_null (f.section.fields);
    assert_int_equal (f.section.detail.len, 0);
    assert_int_equal (f.section.status, ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    onenet_policy_destroy (&policy);
}

static void
test_filter_untouched_when_all_visible (void **state)
{
    (void)state;
    onenet_policy_t *policy = load_ok (s_policy_text);
    onenet_policy_decision_t d;
    assert_true (onenet_policy_decide (policy, "social_security", "onenet.view.person", NULL, &d));
    fixture_t f;
    fixture_init (&f, "social_security", ONENET__VIEW__SECTION_STATUS__SECTION_OK);
    Onenet__View__Section before = f.section;
    void *storage = (void *)&f; /* must be reset to NULL */
    assert_int_equal (onenet_policy_filter_section (&d, &f.section, &storage), 0);
    assert_null (storage);
    assert_memory_equal (&before, &f.section, sizeof before);
    assert_int_equal (f.section.detail.len, 4);

    /* Shown sections without data (timeout, not found) stay as they are. */
    fixture_init (&f, "social_security", ONENET__VIEW__SECTION_STATUS__SECTION_TIMEOUT);
    f.section.n_fields = 0;
    f.section.message = (char *)"no answer within the view's deadline";
    assert_int_equal (onenet_policy_filter_section (&d, &f.section, &storage), 0);
    assert_int_equal (f.section.status, ONENET__VIEW__SECTION_STATUS__SECTION_TIMEOUT);
    assert_string_equal (f.section.message, "no answer within the view's deadline");
    assert_null (storage);
    onenet_policy_destroy (&policy);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_load_good_policy),
        cmocka_unit_test (test_load_shipped_policy),
        cmocka_unit_test (test_shipped_gateway_users_fit_shipped_policy),
        cmocka_unit_test (test_load_file_errors),
        cmocka_unit_test (test_load_rule_errors),
        cmocka_unit_test (test_load_view_errors),
        cmocka_unit_test (test_decide_first_match_and_wildcards),
        cmocka_unit_test (test_decide_default_deny),
        cmocka_unit_test (test_decide_purposes),
        cmocka_unit_test (test_reason_truncates_long_purpose_lists),
        cmocka_unit_test (test_view_sections),
        cmocka_unit_test (test_mask_resident_id),
        cmocka_unit_test (test_mask_phone),
        cmocka_unit_test (test_mask_name),
        cmocka_unit_test (test_mask_address_birth_date_other),
        cmocka_unit_test (test_mask_edge_cases),
        cmocka_unit_test (test_filter_denied_section),
        cmocka_unit_test (test_filter_masks_and_removes),
        cmocka_unit_test (test_filter_visible_list),
        cmocka_unit_test (test_filter_untouched_when_all_visible),
    };
    return cmocka_run_group_tests_name ("unit_policy", tests, NULL, NULL);
}
