/*
 * tools/cmd_view.c - `onenet view RESIDENT_ID`: the one network view of a
 * person, one card per department with its status, the fields it holds,
 * and the conflicts between departments.
 */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "onenet/json.h"
#include "onenet/resident_id.h"
#include "onenet/proto/view.pb-c.h"

enum { OPT_FRESH = CLI_OPT_COMMAND, OPT_PURPOSE };

typedef struct {
    bool fresh;
} view_options_t;

static const char s_view_usage[] =
    "usage: onenet view RESIDENT_ID [--fresh] [--purpose TEXT]\n"
    "\n"
    "Shows what every department holds about one person, merged by the broker:\n"
    "one section per department with its status (ok, not found, unavailable,\n"
    "timeout, denied, stale with its age), and the fields on which departments\n"
    "disagree. A department that is down makes the view partial, not a failure.\n"
    "\n"
    "options:\n"
    "  --fresh         ask every department afresh instead of using the cache\n"
    "  --purpose TEXT  why the person is looked up; the sharing policy may require\n"
    "                  one, and the audit log records it\n"
    "\n"
    "With --json, prints the onenet.view.PersonView, with each section's detail\n"
    "decoded by its type.\n"
    "\n"
    "example:\n"
    "  $ onenet view 510104199003071234\n"
    "  $ onenet view 510104199003071234 --json --fresh\n"
    "  $ onenet view 510104199003071234 --purpose benefit_review\n";

static int
s_on_option (cli_t *cli, int opt, const char *arg, void *state)
{
    view_options_t *options = state;
    if (opt == OPT_FRESH)
        options->fresh = true;
    else if (opt == OPT_PURPOSE)
        cli->purpose = arg;
    return 0;
}

static const char *
s_status_name (Onenet__View__SectionStatus status)
{
    switch (status) {
    case ONENET__VIEW__SECTION_STATUS__SECTION_OK: return "ok";
    case ONENET__VIEW__SECTION_STATUS__SECTION_NOT_FOUND: return "not found";
    case ONENET__VIEW__SECTION_STATUS__SECTION_UNAVAILABLE: return "UNAVAILABLE";
    case ONENET__VIEW__SECTION_STATUS__SECTION_TIMEOUT: return "TIMEOUT";
    case ONENET__VIEW__SECTION_STATUS__SECTION_DENIED: return "DENIED";
    case ONENET__VIEW__SECTION_STATUS__SECTION_STALE: return "STALE";
    default: return "?";
    }
}

/* JSON of the view with each section's detail decoded through its type
 * (base64 stays when the type is unknown to this tool). */
static json_t *
s_view_json (const Onenet__View__PersonView *person)
{
    json_t *root = onenet_json_from_message (&person->base, ONENET_JSON_DEFAULTS);
    json_t *sections = root ? json_object_get (root, "sections") : NULL;
    for (size_t i = 0; sections && i < person->n_sections; i++) {
        const Onenet__View__Section *section = person->sections[i];
        const ProtobufCMessageDescriptor *type = onenet_schema_find (section->detail_type);
        if (!type || !section->detail.len)
            continue;
        ProtobufCMessage *detail = protobuf_c_message_unpack (type, NULL, section->detail.len,
                                                              section->detail.data);
        if (!detail)
            continue;
        json_object_set_new (json_array_get (sections, i), "detail",
                             onenet_json_from_message (detail, 0));
        protobuf_c_message_free_unpacked (detail, NULL);
    }
    return root;
}

/* Columns a UTF-8 string takes on a terminal: East Asian wide characters
 * take two (enough for the Chinese labels; no wcwidth locale needed). */
static int
s_display_width (const char *text)
{
    int width = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p;) {
        unsigned int code = *p;
        int length = code < 0x80 ? 1 : code < 0xE0 ? 2 : code < 0xF0 ? 3 : 4;
        if (length == 3)
            code = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
        width += length == 3 && code >= 0x1100 && !(code >= 0x2000 && code < 0x2E80) ? 2 : 1;
        for (int i = 0; i < length && *p; i++)
            p++;
    }
    return width;
}

static void
s_print_section (const Onenet__View__Section *section)
{
    char age[32];
    printf ("\n── %s: %s", section->department, s_status_name (section->status));
    if (section->status == ONENET__VIEW__SECTION_STATUS__SECTION_STALE)
        printf (" (cached %s ago)", cli_format_duration (section->age_ms, age, sizeof age));
    if (*section->served_by)
        printf ("  [%s]", section->served_by);
    if (*section->message)
        printf ("  %s", section->message);
    printf ("\n");
    for (size_t i = 0; i < section->n_fields; i++) {
        const Onenet__View__Field *field = section->fields[i];
        const char *label = *field->label ? field->label : field->name;
        int pad = 38 - s_display_width (label);
        printf ("   %s%*s %s\n", label, pad > 0 ? pad : 0, "", field->value);
    }
}

static void
s_print_view (const Onenet__View__PersonView *person)
{
    printf ("Person %s%s%s\n", person->resident_id, person->from_cache ? "  (from cache)" : "",
            person->partial ? "  PARTIAL: some departments did not answer" : "");
    for (size_t i = 0; i < person->n_sections; i++)
        s_print_section (person->sections[i]);
    if (person->n_conflicts)
        printf ("\nConflicts between departments:\n");
    for (size_t i = 0; i < person->n_conflicts; i++) {
        const Onenet__View__Conflict *conflict = person->conflicts[i];
        printf ("   %s:\n", conflict->field);
        for (size_t j = 0; j < conflict->n_values; j++)
            printf ("      %-18s %s\n", conflict->values[j]->department, conflict->values[j]->value);
    }
}

static int
s_view_run (cli_t *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "fresh", no_argument, NULL, OPT_FRESH },
        { "purpose", required_argument, NULL, OPT_PURPOSE },
        { NULL, 0, NULL, 0 },
    };
    view_options_t state = { false };
    int rc = cli_parse (cli, argc, argv, options, s_on_option, &state);
    if (rc == CLI_CONTINUE)
        rc = cli_expect_args (cli, 1, 1);
    if (rc != CLI_CONTINUE)
        return rc;
    const char *resident_id = cli->args[0];
    char why[128];
    if (!onenet_resident_id_valid (resident_id, why, sizeof why))
        return cli_fail (cli, CLI_EXIT_USAGE, "%s", why);
    onenet_client_t *client = cli_client_new (cli);
    if (!client)
        return CLI_EXIT_CLIENT;
    Onenet__View__PersonViewRequest request = ONENET__VIEW__PERSON_VIEW_REQUEST__INIT;
    request.resident_id = (char *) resident_id;
    request.bypass_cache = state.fresh;
    ProtobufCMessage *reply = NULL;
    rc = cli_call_unpack (cli, client, "onenet.view.person", &request.base,
                          &onenet__view__person_view__descriptor, &reply, NULL);
    onenet_client_destroy (&client);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Onenet__View__PersonView *person = (const Onenet__View__PersonView *) reply;
    if (cli->json)
        rc = cli_print_json (cli, s_view_json (person));
    else
        s_print_view (person);
    protobuf_c_message_free_unpacked (reply, NULL);
    return rc;
}

const cli_command_t cli_cmd_view = {
    .name = "view",
    .summary = "show what every department holds about one person",
    .usage = s_view_usage,
    .run = s_view_run,
};
