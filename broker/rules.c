/*
 * rules.c - events to alerts (see rules.h). The alert is written as JSON
 * and converted to an onenet.alert.Alert by the generic codec, then
 * published like any other: validated, stored, fanned out.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "alerts.h"
#include "onenet/json.h"
#include "rules.h"

/* A top-level field of the event as text ("" when absent). */
static const char *
field_text (json_t *event, const char *name, char *buf, size_t size)
{
    json_t *value = json_object_get (event, name);
    if (json_is_string (value))
        return json_string_value (value);
    if (json_is_integer (value))
        snprintf (buf, size, "%lld", (long long) json_integer_value (value));
    else if (json_is_boolean (value))
        snprintf (buf, size, "%s", json_is_true (value) ? "true" : "false");
    else
        buf[0] = '\0';
    return buf;
}

/* Expands "{field}" in a template with the event's fields. */
static void
expand (const char *template, json_t *event, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = template; *p && n + 1 < size;) {
        const char *close = *p == '{' ? strchr (p, '}') : NULL;
        if (close && close - p < 64) {
            char name[64], buf[64];
            snprintf (name, sizeof name, "%.*s", (int) (close - p - 1), p + 1);
            const char *value = field_text (event, name, buf, sizeof buf);
            n += (size_t) snprintf (out + n, size - n, "%s", value);
            if (n >= size)
                n = size - 1;
            p = close + 1;
        }
        else
            out[n++] = *p++;
    }
    out[n] = '\0';
}

/* CAP identifiers take no spaces, commas, '<' or '&'. */
static void
make_safe (char *text)
{
    for (char *p = text; *p; p++)
        if (*p == ' ' || *p == ',' || *p == '<' || *p == '&')
            *p = '_';
}

static json_t *
build_alert (const broker_alert_rule_t *rule, const char *department, json_t *event)
{
    char identifier[200], id_value[96], sent[40], event_text[256], headline[512];
    char description[1024], area_desc[256], code[32], buf[64];
    const char *unique = *rule->id_field ? field_text (event, rule->id_field, buf, sizeof buf) : "";
    if (*unique)
        snprintf (id_value, sizeof id_value, "%s", unique);
    else
        snprintf (id_value, sizeof id_value, "%lld", (long long) onenet_wall_ms ());
    snprintf (identifier, sizeof identifier, "rule.%s.%s", rule->name, id_value);
    make_safe (identifier);
    time_t now = time (NULL);
    struct tm tm;
    gmtime_r (&now, &tm);
    strftime (sent, sizeof sent, "%Y-%m-%dT%H:%M:%S-00:00", &tm);   /* CAP writes UTC as -00:00 */
    expand (rule->event, event, event_text, sizeof event_text);
    expand (rule->headline, event, headline, sizeof headline);
    expand (rule->description, event, description, sizeof description);
    expand (rule->area_desc, event, area_desc, sizeof area_desc);
    snprintf (code, sizeof code, "%s",
              *rule->area_field ? field_text (event, rule->area_field, buf, sizeof buf) : "");
    char sender_name[200];
    snprintf (sender_name, sizeof sender_name, "OneNet rule %s on a %s event", rule->name, department);

    json_t *info = json_pack ("{s:[s], s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "category", rule->category,
                              "event", event_text, "urgency", rule->urgency, "severity", rule->severity,
                              "certainty", rule->certainty, "headline", headline, "sender_name",
                              sender_name, "description", *description ? description : headline);
    if (info && (*code || *area_desc)) {
        json_t *area = json_pack ("{s:s}", "area_desc", *area_desc ? area_desc : code);
        if (area && *code)
            json_object_set_new (area, "geocode",
                                 json_pack ("[{s:s, s:s}]", "value_name", "GB/T 2260", "value", code));
        json_object_set_new (info, "area", json_pack ("[o]", area));
    }
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:[o]}", "identifier", identifier, "sender",
                      "rules@onenet", "sent", sent, "status", rule->status, "msg_type", "Alert", "scope",
                      "Public", "info", info);
}

void
rules_on_event (broker_t *broker, const char *department, const Onenet__EventHeader *header,
                const void *body, size_t size)
{
    const broker_config_t *config = broker->config;
    json_t *event = NULL;
    for (size_t i = 0; i < config->alert_rule_count; i++) {
        const broker_alert_rule_t *rule = &config->alert_rules[i];
        if (strcmp (rule->department, department) != 0 || strcmp (rule->topic, header->topic) != 0)
            continue;
        if (!event) {
            const ProtobufCMessageDescriptor *type = onenet_schema_find (header->type);
            ProtobufCMessage *message
                = type && body ? protobuf_c_message_unpack (type, NULL, size, body) : NULL;
            event = message ? onenet_json_from_message (message, ONENET_JSON_DEFAULTS) : NULL;
            if (message)
                protobuf_c_message_free_unpacked (message, NULL);
            if (!event) {
                onenet_warn ("rules.unreadable_event", "rule=%s department=%s topic=%s type=%s",
                             rule->name, department, header->topic, header->type);
                return;
            }
        }
        char buf[64];
        if (*rule->match_field
            && strcmp (field_text (event, rule->match_field, buf, sizeof buf), rule->match_value) != 0)
            continue;
        json_t *alert_json = build_alert (rule, department, event);
        char err[256] = "out of memory";
        Onenet__Alert__Alert *alert = alert_json ? (Onenet__Alert__Alert *) onenet_json_to_message (
                                                       &onenet__alert__alert__descriptor, alert_json, err, sizeof err)
                                                 : NULL;
        json_decref (alert_json);
        if (!alert) {
            char quoted[300];
            onenet_warn ("rules.bad_alert", "rule=%s reason=%s", rule->name,
                         onenet_log_quote (err, quoted, sizeof quoted));
            continue;
        }
        onenet_info ("rules.alert", "rule=%s department=%s topic=%s identifier=%s", rule->name,
                     department, header->topic, alert->identifier);
        alerts_submit (broker, NULL, 0, 0, alert, department);   /* validated there, owned there */
    }
    json_decref (event);
}
