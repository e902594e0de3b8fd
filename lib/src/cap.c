/*
 * cap.c - the CAP 1.2 model behind onenet/cap.h, the validator of alert
 * messages and the helpers for routing. The checks of single values are
 * in cap_values.c.
 *
 * One table per CAP complex type (alert, info, resource, area, and the
 * valueName/value pair of eventCode, parameter and geocode) lists its
 * elements in the CAP schema's order, each with its proto field and the
 * kind of value it holds. The reader (cap_read.c), the writer
 * (cap_write.c) and the validator here all walk these tables, so each rule
 * is written once; proto/alert.proto numbers its fields in the same order,
 * so the writer's output follows the schema. What the files share is
 * declared in cap_internal.h.
 */
#include "cap_internal.h"
#include "sdk_internal.h"

#include <libxml/parser.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the CAP 1.2 model --- */

static const char *const k_status[] = {"Actual", "Exercise", "System", "Test", "Draft", NULL};
static const char *const k_msg_type[] = {"Alert", "Update", "Cancel", "Ack", "Error", NULL};
static const char *const k_scope[] = {"Public", "Restricted", "Private", NULL};
static const char *const k_category[] = {"Geo",   "Met",    "Safety", "Security",  "Rescue",
                                         "Fire",  "Health", "Env",    "Transport", "Infra",
                                         "CBRNE", "Other",  NULL};
static const char *const k_response_type[] = {"Shelter", "Evacuate", "Prepare",  "Execute", "Avoid",
                                              "Monitor", "Assess",   "AllClear", "None",    NULL};
static const char *const k_urgency[] = {"Immediate", "Expected", "Future", "Past", "Unknown", NULL};
static const char *const k_severity[] = {"Extreme", "Severe", "Moderate", "Minor", "Unknown", NULL};
static const char *const k_certainty[] = {"Observed", "Likely",  "Possible",
                                          "Unlikely", "Unknown", NULL};

static bool alert_rules (const ProtobufCMessage *msg, rule_error_t *error);
static bool area_rules (const ProtobufCMessage *msg, rule_error_t *error);

#define N_OF(array) (sizeof (array) / sizeof ((array)[0]))

static const cap_field_t k_pair_fields[] = {
    {"valueName", "value_name", KIND_NAME, true, NULL, NULL},
    {"value", "value", KIND_NAME, true, NULL, NULL},
};
static const ProtobufCFieldDescriptor *k_pair_resolved[N_OF (k_pair_fields)];
static const cap_type_t k_pair_type = {&onenet__alert__value_pair__descriptor, k_pair_fields,
    N_OF (k_pair_fields), NULL, k_pair_resolved};

static const cap_field_t k_resource_fields[] = {
    {"resourceDesc", "resource_desc", KIND_TEXT, true, NULL, NULL},
    {"mimeType", "mime_type", KIND_MIME, true, NULL, NULL},
    {"size", "size", KIND_SIZE, false, NULL, NULL},
    {"uri", "uri", KIND_TOKEN, false, NULL, NULL},
    {"derefUri", "deref_uri", KIND_BASE64, false, NULL, NULL},
    {"digest", "digest", KIND_TOKEN, false, NULL, NULL},
};
static const ProtobufCFieldDescriptor *k_resource_resolved[N_OF (k_resource_fields)];
static const cap_type_t k_resource_type = {&onenet__alert__resource__descriptor, k_resource_fields,
    N_OF (k_resource_fields), NULL, k_resource_resolved};

static const cap_field_t k_area_fields[] = {
    {"areaDesc", "area_desc", KIND_TEXT, true, NULL, NULL},
    {"polygon", "polygon", KIND_POLYGON, false, NULL, NULL},
    {"circle", "circle", KIND_CIRCLE, false, NULL, NULL},
    {"geocode", "geocode", KIND_MESSAGE, false, NULL, &k_pair_type},
    {"altitude", "altitude", KIND_DECIMAL, false, NULL, NULL},
    {"ceiling", "ceiling", KIND_DECIMAL, false, NULL, NULL},
};
static const ProtobufCFieldDescriptor *k_area_resolved[N_OF (k_area_fields)];
static const cap_type_t k_area_type = {&onenet__alert__area__descriptor, k_area_fields,
    N_OF (k_area_fields), area_rules, k_area_resolved};

static const cap_field_t k_info_fields[] = {
    {"language", "language", KIND_LANGUAGE, false, NULL, NULL},
    {"category", "category", KIND_ENUM, true, k_category, NULL},
    {"event", "event", KIND_TEXT, true, NULL, NULL},
    {"responseType", "response_type", KIND_ENUM, false, k_response_type, NULL},
    {"urgency", "urgency", KIND_ENUM, true, k_urgency, NULL},
    {"severity", "severity", KIND_ENUM, true, k_severity, NULL},
    {"certainty", "certainty", KIND_ENUM, true, k_certainty, NULL},
    {"audience", "audience", KIND_TEXT, false, NULL, NULL},
    {"eventCode", "event_code", KIND_MESSAGE, false, NULL, &k_pair_type},
    {"effective", "effective", KIND_DATETIME, false, NULL, NULL},
    {"onset", "onset", KIND_DATETIME, false, NULL, NULL},
    {"expires", "expires", KIND_DATETIME, false, NULL, NULL},
    {"senderName", "sender_name", KIND_TEXT, false, NULL, NULL},
    {"headline", "headline", KIND_TEXT, false, NULL, NULL},
    {"description", "description", KIND_TEXT, false, NULL, NULL},
    {"instruction", "instruction", KIND_TEXT, false, NULL, NULL},
    {"web", "web", KIND_TOKEN, false, NULL, NULL},
    {"contact", "contact", KIND_TEXT, false, NULL, NULL},
    {"parameter", "parameter", KIND_MESSAGE, false, NULL, &k_pair_type},
    {"resource", "resource", KIND_MESSAGE, false, NULL, &k_resource_type},
    {"area", "area", KIND_MESSAGE, false, NULL, &k_area_type},
};
static const ProtobufCFieldDescriptor *k_info_resolved[N_OF (k_info_fields)];
static const cap_type_t k_info_type = {&onenet__alert__info__descriptor, k_info_fields,
    N_OF (k_info_fields), NULL, k_info_resolved};

static const cap_field_t k_alert_fields[] = {
    {"identifier", "identifier", KIND_ID, true, NULL, NULL},
    {"sender", "sender", KIND_ID, true, NULL, NULL},
    {"sent", "sent", KIND_DATETIME, true, NULL, NULL},
    {"status", "status", KIND_ENUM, true, k_status, NULL},
    {"msgType", "msg_type", KIND_ENUM, true, k_msg_type, NULL},
    {"source", "source", KIND_TEXT, false, NULL, NULL},
    {"scope", "scope", KIND_ENUM, true, k_scope, NULL},
    {"restriction", "restriction", KIND_TEXT, false, NULL, NULL},
    {"addresses", "addresses", KIND_QUOTED_LIST, false, NULL, NULL},
    {"code", "code", KIND_TEXT, false, NULL, NULL},
    {"note", "note", KIND_TEXT, false, NULL, NULL},
    {"references", "references", KIND_REFERENCES, false, NULL, NULL},
    {"incidents", "incidents", KIND_QUOTED_LIST, false, NULL, NULL},
    {"info", "info", KIND_MESSAGE, false, NULL, &k_info_type},
};
static const ProtobufCFieldDescriptor *k_alert_resolved[N_OF (k_alert_fields)];
const cap_type_t cap_alert_type = {&onenet__alert__alert__descriptor, k_alert_fields,
    N_OF (k_alert_fields), alert_rules, k_alert_resolved};

/* Each table's field descriptors, looked up by name once for all
 * threads: the validator, the reader and the writer ask for them for
 * every field of every alert. */
static pthread_once_t s_resolve_once = PTHREAD_ONCE_INIT;

/* Fills type's descriptors and those of the types its fields nest. */
static void
resolve_type (const cap_type_t *type)
{
    for (size_t i = 0; i < type->n_fields; i++) {
        type->resolved[i] = protobuf_c_message_descriptor_get_field_by_name (
            type->descriptor, type->fields[i].field);
        if (type->fields[i].type)
            resolve_type (type->fields[i].type);
    }
}

/* Every table is reached from <alert>, as the reader and writer reach
 * them: no list of tables to keep beside the tables. */
static void
resolve_fields (void)
{
    resolve_type (&cap_alert_type);
}

const ProtobufCFieldDescriptor *
cap_field_of (const cap_type_t *type, const cap_field_t *field)
{
    pthread_once (&s_resolve_once, resolve_fields);
    return type->resolved[field - type->fields];
}

bool
cap_is_empty (const char *s)
{
    return s == NULL || *s == '\0';
}

static bool
alert_rules (const ProtobufCMessage *msg, rule_error_t *error)
{
    const Onenet__Alert__Alert *alert = (const Onenet__Alert__Alert *)msg;
    const char *scope = alert->scope ? alert->scope : "";
    if (strcmp (scope, "Restricted") == 0 && cap_is_empty (alert->restriction)) {
        error->field = "scope";
        snprintf (error->reason, sizeof error->reason, "\"Restricted\" requires <restriction>");
        return false;
    }
    if (strcmp (scope, "Private") == 0 && cap_is_empty (alert->addresses)) {
        error->field = "scope";
        snprintf (error->reason, sizeof error->reason, "\"Private\" requires <addresses>");
        return false;
    }
    return true;
}

static bool
area_rules (const ProtobufCMessage *msg, rule_error_t *error)
{
    const Onenet__Alert__Area *area = (const Onenet__Alert__Area *)msg;
    if (!cap_is_empty (area->ceiling) && cap_is_empty (area->altitude)) {
        error->field = "ceiling";
        snprintf (error->reason, sizeof error->reason, "<ceiling> requires <altitude>");
        return false;
    }
    return true;
}

/* --- libxml2, shared by the reader and the writer --- */

static pthread_once_t s_init_once = PTHREAD_ONCE_INIT;

static void
init_libxml (void)
{
    xmlInitParser ();
}

void
cap_libxml_init (void)
{
    pthread_once (&s_init_once, init_libxml);
}

/* --- validating messages --- */

/* Where a value is ("info[0].area[1].geocode[0]"), kept as a chain of
 * steps and written out only for an error message: a valid alert costs
 * no formatting. */
typedef struct cap_path_t {
    const struct cap_path_t *parent;
    const char *field; /* NULL at the root */
    long index;        /* -1: not repeated */
} cap_path_t;

static const char *
path_text (const cap_path_t *path, char *out, size_t size)
{
    if (!path || !path->field) {
        out[0] = '\0';
        return out;
    }
    path_text (path->parent, out, size);
    size_t used = strlen (out);
    if (path->index >= 0)
        snprintf (out + used, size - used, "%s%s[%ld]", used ? "." : "", path->field, path->index);
    else
        snprintf (out + used, size - used, "%s%s", used ? "." : "", path->field);
    return out;
}

static int
validate_type (const cap_type_t *type, const ProtobufCMessage *msg, const cap_path_t *path,
               char *err, size_t err_size)
{
    char text[200], why[300];
    if (msg == NULL || msg->descriptor != type->descriptor) {
        path_text (path, text, sizeof text);
        sdk_set_error (err, err_size, "%s: expected a %s message", *text ? text : "alert",
                       type->descriptor->name);
        return -1;
    }
    for (size_t i = 0; i < type->n_fields; i++) {
        const cap_field_t *field = &type->fields[i];
        const ProtobufCFieldDescriptor *fd = cap_field_of (type, field);
        if (fd == NULL) {
            sdk_set_error (err, err_size, "internal error: no field %s", field->field);
            return -1;
        }
        bool repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        size_t count = repeated ? *(const size_t *)CONST_MEMBER (msg, fd->quantifier_offset) : 1;
        if (repeated && count == 0 && field->required) {
            cap_path_t here = {path, field->field, -1};
            sdk_set_error (err, err_size, "%s: at least one is required",
                           path_text (&here, text, sizeof text));
            return -1;
        }
        for (size_t k = 0; k < count; k++) {
            cap_path_t here = {path, field->field, repeated ? (long)k : -1};
            if (field->kind == KIND_MESSAGE) {
                const ProtobufCMessage *const *children =
                    *(const ProtobufCMessage *const *const *)CONST_MEMBER (msg, fd->offset);
                if (validate_type (field->type, children[k], &here, err, err_size) < 0)
                    return -1;
                continue;
            }
            const char *value;
            if (repeated)
                value = (*(char *const *const *)CONST_MEMBER (msg, fd->offset))[k];
            else
                value = *(char *const *)CONST_MEMBER (msg, fd->offset);
            const char *problem = NULL;
            if (cap_is_empty (value)) {
                if (!repeated && !field->required)
                    continue;
                problem = repeated ? "empty" : "missing (required)";
            }
            else if (!cap_is_xml_utf8 (value))
                problem = "not valid UTF-8, or holds a character XML cannot carry";
            else if (cap_all_space (value))
                problem = "only whitespace";
            else if (cap_is_trimmed_kind (field->kind) &&
                     (cap_is_xml_space (value[0]) || cap_is_xml_space (value[strlen (value) - 1])))
                problem = "leading or trailing whitespace";
            else if (!cap_check_value (field, value, why, sizeof why))
                problem = why;
            if (problem) {
                sdk_set_error (err, err_size, "%s: %s", path_text (&here, text, sizeof text),
                               problem);
                return -1;
            }
        }
    }
    rule_error_t broken = {NULL, ""};
    if (type->rules != NULL && !type->rules (msg, &broken)) {
        cap_path_t here = {path, broken.field, -1};
        sdk_set_error (err, err_size, "%s: %s", path_text (&here, text, sizeof text),
                       broken.reason);
        return -1;
    }
    return 0;
}

int
onenet_cap_validate (const Onenet__Alert__Alert *alert, char *err, size_t err_size)
{
    if (alert == NULL) {
        sdk_set_error (err, err_size, "no alert");
        return -1;
    }
    cap_path_t root = {NULL, NULL, -1};
    return validate_type (&cap_alert_type, &alert->base, &root, err, err_size);
}

/* --- helpers for routing --- */

int
onenet_cap_severity_rank (const char *severity)
{
    static const char *const by_rank[] = {"Unknown", "Minor", "Moderate", "Severe", "Extreme"};
    if (severity == NULL)
        return -1;
    for (int i = 0; i < (int)N_OF (by_rank); i++)
        if (strcmp (severity, by_rank[i]) == 0)
            return i;
    return -1;
}

size_t
onenet_cap_geocodes (const Onenet__Alert__Alert *alert, const char *value_name,
                     const Onenet__Alert__ValuePair **out, size_t max)
{
    size_t total = 0;
    if (alert == NULL)
        return 0;
    for (size_t i = 0; i < alert->n_info; i++) {
        const Onenet__Alert__Info *info = alert->info[i];
        for (size_t a = 0; info && a < info->n_area; a++) {
            const Onenet__Alert__Area *area = info->area[a];
            for (size_t g = 0; area && g < area->n_geocode; g++) {
                const Onenet__Alert__ValuePair *code = area->geocode[g];
                if (code == NULL || code->value_name == NULL || code->value == NULL)
                    continue;
                if (value_name != NULL && strcmp (code->value_name, value_name) != 0)
                    continue;
                /* Seen before? Look among those stored, then (past max)
                 * scan the alert up to here again. */
                bool duplicate = false;
                for (size_t i2 = 0; i2 <= i && !duplicate; i2++) {
                    const Onenet__Alert__Info *info2 = alert->info[i2];
                    size_t areas = i2 == i ? a + 1 : (info2 ? info2->n_area : 0);
                    for (size_t a2 = 0; a2 < areas && !duplicate; a2++) {
                        const Onenet__Alert__Area *area2 = info2->area[a2];
                        size_t codes = (i2 == i && a2 == a) ? g : (area2 ? area2->n_geocode : 0);
                        for (size_t g2 = 0; g2 < codes && !duplicate; g2++) {
                            const Onenet__Alert__ValuePair *other = area2->geocode[g2];
                            duplicate = other && other->value_name && other->value &&
                                        strcmp (other->value_name, code->value_name) == 0 &&
                                        strcmp (other->value, code->value) == 0;
                        }
                    }
                }
                if (duplicate)
                    continue;
                if (out != NULL && total < max)
                    out[total] = code;
                total++;
            }
        }
    }
    return total;
}
