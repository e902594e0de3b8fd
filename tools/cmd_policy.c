/*
 * tools/cmd_policy.c - `onenet policy check DEPT SERVICE`: explains what
 * the sharing policy decides for a department calling a service, and for
 * the person view what each department's section becomes.
 *
 * The policy file is evaluated here, locally, with the same SDK code the
 * broker runs (onenet/policy.h); no broker is asked. So an operator can
 * check a policy before reloading the broker with it, and a script can
 * test one: exit 0 allowed, 1 denied, 2 usage or an invalid policy file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "onenet/policy.h"

#define POLICY_SYSTEM_PATH "/etc/onenet/policy.cfg"
#define POLICY_REPO_PATH "config/policy.cfg"

enum { POLICY_OPT_PURPOSE = CLI_OPT_COMMAND, POLICY_OPT_FILE };

typedef struct {
    const char *purpose;
    const char *file;
} policy_options_t;

static const char s_policy_usage[] =
    "usage: onenet policy check DEPARTMENT SERVICE [--purpose PURPOSE] [--policy FILE]\n"
    "\n"
    "Explains what the sharing policy decides when DEPARTMENT calls SERVICE:\n"
    "allowed or denied, by which rule and why; for onenet.view.person also what\n"
    "each department's section of the view becomes (shown in full, shown with\n"
    "fields masked or removed, or withheld). The policy file is read locally,\n"
    "with the broker's own code; no broker is asked.\n"
    "\n"
    "options:\n"
    "  --purpose PURPOSE  the purpose the request would give (default: none)\n"
    "  --policy FILE      the policy file (default: $ONENET_POLICY, else\n"
    "                     " POLICY_SYSTEM_PATH ", else " POLICY_REPO_PATH "\n"
    "                     when run from a OneNet source tree)\n"
    "\n"
    "Exit status: 0 allowed, 1 denied, 2 bad usage or an invalid policy file\n"
    "(reported with file, line and setting).\n"
    "\n"
    "example:\n"
    "  $ onenet policy check social_security ps.person.get --purpose benefit_review\n"
    "  $ onenet policy check gateway onenet.view.person --purpose identity_check --json\n";

static int
s_on_option (cli_t *cli, int opt, const char *arg, void *state)
{
    policy_options_t *options = state;
    (void)cli;
    if (opt == POLICY_OPT_PURPOSE)
        options->purpose = arg;
    else if (opt == POLICY_OPT_FILE)
        options->file = arg;
    return 0;
}

/* The file to read when --policy is not given. */
static const char *
s_default_file (void)
{
    const char *env = getenv ("ONENET_POLICY");
    if (env && *env)
        return env;
    if (access (POLICY_SYSTEM_PATH, F_OK) != 0 && access (POLICY_REPO_PATH, F_OK) == 0)
        return POLICY_REPO_PATH;
    return POLICY_SYSTEM_PATH;
}

/* "a, b, c" into buffer. */
static const char *
s_join (const char *const *names, size_t count, char *buffer, size_t size)
{
    buffer[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < count && used < size; i++) {
        int n = snprintf (buffer + used, size - used, "%s%s", i ? ", " : "", names[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buffer;
}

/* One line on what becomes of a section under entry. */
static void
s_print_section (const onenet_policy_section_t *entry)
{
    const char *department = onenet_policy_section_department (entry);
    printf ("  %-24s ", strcmp (department, "*") == 0 ? "* (any other)" : department);
    if (!onenet_policy_section_shown (entry)) {
        printf ("withheld (section status denied)\n");
        return;
    }
    if (!onenet_policy_section_restricted (entry)) {
        printf ("shown in full, with the department's record\n");
        return;
    }
    static const struct {
        onenet_field_action_t action;
        const char *label;
    } lists[] = {
        {ONENET_FIELD_VISIBLE, "visible"},
        {ONENET_FIELD_MASKED, "masked"},
        {ONENET_FIELD_REMOVED, "removed"},
    };
    printf ("shown");
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const char *const *names;
        size_t count = onenet_policy_section_fields (entry, lists[i].action, &names);
        char joined[512];
        if (count)
            printf ("; %s %s", lists[i].label, s_join (names, count, joined, sizeof joined));
    }
    if (onenet_policy_section_fields (entry, ONENET_FIELD_VISIBLE, NULL))
        printf (" (other fields removed)");
    printf ("; record (detail) withheld\n");
}

static void
s_print_text (const onenet_policy_t *policy, const char *requester, const char *service,
              const char *purpose, const onenet_policy_decision_t *decision, bool view)
{
    printf ("policy    %s (%zu rules)\n", onenet_policy_path (policy),
            onenet_policy_rule_count (policy));
    printf ("request   %s calls %s, %s%s\n", requester, service,
            *purpose ? "purpose " : "no purpose", purpose);
    if (decision->matched)
        printf ("decision  %s by rule %s\n", decision->allowed ? "ALLOWED" : "DENIED",
                decision->rule);
    else
        printf ("decision  DENIED by default (no rule matches)\n");
    printf ("reason    %s\n", decision->reason);
    if (!view)
        return;
    size_t count = onenet_policy_section_count (decision);
    printf ("\nview sections (the first entry naming a department applies):\n");
    bool any = false;
    for (size_t i = 0; i < count; i++) {
        const onenet_policy_section_t *entry = onenet_policy_section_at (decision, i);
        s_print_section (entry);
        any = any || strcmp (onenet_policy_section_department (entry), "*") == 0;
    }
    if (!any)
        printf ("  %-24s withheld (no entry names it)\n", count ? "any other" : "every department");
}

static json_t *
s_names_json (const char *const *names, size_t count)
{
    json_t *array = json_array ();
    for (size_t i = 0; array && i < count; i++)
        json_array_append_new (array, json_string (names[i]));
    return array;
}

static json_t *
s_section_json (const onenet_policy_section_t *entry)
{
    bool shown = onenet_policy_section_shown (entry);
    json_t *object = json_pack ("{s:s, s:b}", "department",
                                onenet_policy_section_department (entry), "shown", shown);
    if (!object || !shown)
        return object;
    static const char *const keys[] = {"visible", "masked", "removed"};
    for (int action = ONENET_FIELD_VISIBLE; action <= ONENET_FIELD_REMOVED; action++) {
        const char *const *names;
        size_t count = onenet_policy_section_fields (entry, (onenet_field_action_t)action, &names);
        if (count)
            json_object_set_new (object, keys[action], s_names_json (names, count));
    }
    json_object_set_new (object, "detail",
                         json_boolean (!onenet_policy_section_restricted (entry)));
    return object;
}

static json_t *
s_json (const onenet_policy_t *policy, const char *requester, const char *service,
        const char *purpose, const onenet_policy_decision_t *decision, bool view)
{
    json_t *root = json_pack ("{s:s, s:I, s:s, s:s, s:s, s:b, s:s, s:s}", "policy",
                              onenet_policy_path (policy), "rules",
                              (json_int_t)onenet_policy_rule_count (policy), "requester", requester,
                              "service", service, "purpose", purpose, "allowed", decision->allowed,
                              "rule", decision->rule, "reason", decision->reason);
    if (!root || !view)
        return root;
    json_t *sections = json_array ();
    size_t count = onenet_policy_section_count (decision);
    bool any = false;
    for (size_t i = 0; sections && i < count; i++) {
        const onenet_policy_section_t *entry = onenet_policy_section_at (decision, i);
        json_array_append_new (sections, s_section_json (entry));
        any = any || strcmp (onenet_policy_section_department (entry), "*") == 0;
    }
    if (sections && !any) /* what the broker does with a department no entry names */
        json_array_append_new (sections, json_pack ("{s:s, s:b}", "department", "*", "shown", 0));
    json_object_set_new (root, "view", sections);
    return root;
}

static int
s_policy_run (cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"purpose", required_argument, NULL, POLICY_OPT_PURPOSE},
        {"policy", required_argument, NULL, POLICY_OPT_FILE},
        {NULL, 0, NULL, 0},
    };
    policy_options_t state = {"", NULL};
    int rc = cli_parse (cli, argc, argv, options, s_on_option, &state);
    if (rc != CLI_CONTINUE)
        return rc;
    if (cli->nargs < 1)
        return cli_fail (cli, CLI_EXIT_USAGE,
                         "missing command: check (see 'onenet policy --help')");
    if (strcmp (cli->args[0], "check") != 0)
        return cli_fail (cli, CLI_EXIT_USAGE, "%s: unknown policy command; expected check",
                         cli->args[0]);
    cli_set_context (cli, "policy check");
    rc = cli_expect_args (cli, 3, 3);
    if (rc != CLI_CONTINUE)
        return rc;
    const char *requester = cli->args[1];
    const char *service = cli->args[2];
    if (!*requester || !*service)
        return cli_fail (cli, CLI_EXIT_USAGE, "DEPARTMENT and SERVICE must not be empty");

    const char *file = state.file ? state.file : s_default_file ();
    char err[1024] = "";
    onenet_policy_t *policy = onenet_policy_load (file, err, sizeof err);
    if (!policy)
        return cli_fail (cli, CLI_EXIT_USAGE, "%s", err);
    onenet_policy_decision_t decision;
    bool allowed = onenet_policy_decide (policy, requester, service, state.purpose, &decision);
    bool view = allowed && strcmp (service, ONENET_POLICY_VIEW_SERVICE) == 0;
    if (cli->json)
        rc = cli_print_json (cli,
                             s_json (policy, requester, service, state.purpose, &decision, view));
    else {
        s_print_text (policy, requester, service, state.purpose, &decision, view);
        rc = fflush (stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    }
    onenet_policy_destroy (&policy);
    if (rc != CLI_EXIT_OK)
        return rc;
    return allowed ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}

const cli_command_t cli_cmd_policy = {
    .name = "policy",
    .summary = "explain what the sharing policy allows (evaluated locally)",
    .usage = s_policy_usage,
    .run = s_policy_run,
};
