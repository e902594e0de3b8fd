/*
 * config.c - the broker's configuration: defaults, then a libconfig file
 * read through onenet_config, validated once here so that the rest of the
 * broker can trust every field of broker_config_t.
 *
 * The defaults below and config/broker.cfg must agree (a unit test checks
 * it); the ranges are those documented in config.h.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onenet/config.h"
#include "onenet/security.h"
#include "config.h"
#include "http.h"

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5570"
#define PATH_SIZE 64 /* "services[N].department" */

static const char *const s_log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const s_log_formats[] = {"logfmt", "json", NULL};
/* curve is not offered until its key handling is done (security issue). */
static const char *const s_securities[] = {"none", "curve", NULL};

broker_config_t *
broker_config_defaults (void)
{
    broker_config_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->endpoint = strdup (DEFAULT_ENDPOINT);
    self->heartbeat_ms = 1000;
    self->liveness = 3;
    self->default_timeout_ms = 5000;
    self->max_timeout_ms = 60000;
    self->registration_grace_ms = 3000;
    self->drain_ms = 5000;
    self->max_message_size = 1048576;
    self->max_frames = 4;
    self->max_pending = 100000;
    self->max_credit = 1024;
    self->batch_max = 64;
    self->rate_per_second = 0;
    self->rate_burst = 100;
    self->policy_file = strdup ("");
    self->audit_enabled = 1;
    self->audit_file = strdup ("onenet-audit.log");
    self->audit_stream = strdup ("onenet:audit");
    self->audit_stream_keep_s = 90 * 24 * 3600;
    self->log_level = strdup ("info");
    self->log_format = strdup ("logfmt");
    self->security = strdup ("none");
    self->path = strdup ("(defaults)");
    self->redis_endpoint = strdup ("127.0.0.1:6379");
    self->alerts_endpoint = strdup ("tcp://127.0.0.1:5571");
    self->http_endpoint = strdup ("127.0.0.1:9570");
    self->alerts_stream = strdup ("onenet:alerts");
    self->alerts_stream_max = 1000000;
    self->alerts_sndhwm = 1000;
    self->events_window = 8192;
    self->events_hold_ms = 200;
    self->events_hold_max = 65536;
    self->events_batch_max = 64;
    self->alerts_spool = strdup ("onenet-alerts.spool");
    self->alerts_spool_max_mb = 64;
    self->alerts_escalate_severity = strdup ("Severe");
    self->alerts_escalate_after_s = 600;
    self->view_timeout_ms = 2000;
    self->view_cache_ttl_s = 300;
    self->view_stale_ttl_s = 86400;
    static const char *const reference[][2] = {
        {"public_security", "ps.view.person"},
        {"social_security", "ss.view.person"},
        {"emergency", "em.view.person"},
    };
    bool complete = true;
    self->departments = calloc (3, sizeof *self->departments);
    for (size_t i = 0; self->departments && i < 3; i++) {
        self->departments[i].name = strdup (reference[i][0]);
        self->departments[i].view_service = strdup (reference[i][1]);
        self->department_count++;
        complete = complete && self->departments[i].name && self->departments[i].view_service;
    }
    if (!complete || !self->departments || !self->redis_endpoint || !self->alerts_endpoint ||
        !self->http_endpoint || !self->alerts_stream || !self->alerts_spool)
        broker_config_destroy (&self);
    else if (!self->endpoint || !self->log_level || !self->log_format || !self->security ||
             !self->path)
        broker_config_destroy (&self);
    return self;
}

static void
s_free_departments (broker_config_t *self)
{
    for (size_t index = 0; index < self->department_count; index++) {
        free (self->departments[index].name);
        free (self->departments[index].view_service);
    }
    free (self->departments);
    self->departments = NULL;
    self->department_count = 0;
}

/* The settings of an alert rule: all strings, required or with a default
 * (NULL: required). Reading and freeing both walk this table. */
static const struct {
    const char *name;
    size_t offset;
    const char *fallback;
} s_rule_fields[] = {
    {"name", offsetof (broker_alert_rule_t, name), NULL},
    {"department", offsetof (broker_alert_rule_t, department), NULL},
    {"topic", offsetof (broker_alert_rule_t, topic), NULL},
    {"event", offsetof (broker_alert_rule_t, event), NULL},
    {"headline", offsetof (broker_alert_rule_t, headline), NULL},
    {"match_field", offsetof (broker_alert_rule_t, match_field), ""},
    {"match_value", offsetof (broker_alert_rule_t, match_value), ""},
    {"id_field", offsetof (broker_alert_rule_t, id_field), ""},
    {"area_field", offsetof (broker_alert_rule_t, area_field), ""},
    {"status", offsetof (broker_alert_rule_t, status), "Actual"},
    {"category", offsetof (broker_alert_rule_t, category), "Other"},
    {"urgency", offsetof (broker_alert_rule_t, urgency), "Expected"},
    {"severity", offsetof (broker_alert_rule_t, severity), "Moderate"},
    {"certainty", offsetof (broker_alert_rule_t, certainty), "Likely"},
    {"description", offsetof (broker_alert_rule_t, description), ""},
    {"area_desc", offsetof (broker_alert_rule_t, area_desc), ""},
};
#define RULE_FIELD(rule, i) ((char **)((char *)(rule) + s_rule_fields[i].offset))

static void
s_free_rules (broker_config_t *self)
{
    for (size_t index = 0; index < self->alert_rule_count; index++)
        for (size_t i = 0; i < sizeof s_rule_fields / sizeof s_rule_fields[0]; i++)
            free (*RULE_FIELD (&self->alert_rules[index], i));
    free (self->alert_rules);
}

void
broker_config_destroy (broker_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    broker_config_t *self = *self_p;
    free (self->endpoint);
    free (self->log_level);
    free (self->log_format);
    free (self->security);
    for (size_t index = 0; index < self->service_count; index++) {
        free (self->services[index].name);
        free (self->services[index].department);
    }
    free (self->services);
    s_free_departments (self);
    s_free_rules (self);
    for (size_t index = 0; index < self->client_key_count; index++) {
        free (self->client_keys[index].department);
        free (self->client_keys[index].public_key);
    }
    free (self->client_keys);
    free (self->curve_key_file);
    free (self->redis_endpoint);
    free (self->alerts_endpoint);
    free (self->http_endpoint);
    free (self->policy_file);
    for (size_t index = 0; index < self->delegate_count; index++)
        free (self->delegates[index]);
    free (self->delegates);
    free (self->audit_file);
    free (self->audit_stream);
    free (self->alerts_stream);
    free (self->alerts_spool);
    free (self->alerts_escalate_severity);
    free (self->path);
    free (self);
    *self_p = NULL;
}

/* Replaces an owned string with a copy of value. Returns 0, or -1 when out
 * of memory (the old string is kept). */
static int
s_set_string (char **field_p, const char *value)
{
    char *copy = strdup (value);
    if (!copy)
        return -1;
    free (*field_p);
    *field_p = copy;
    return 0;
}

/* Whether every character of text is in allowed, and there is at least one. */
static bool
s_matches (const char *text, const char *allowed)
{
    return *text && strspn (text, allowed) == strlen (text);
}

static int s_check_endpoint_at (onenet_config_t *cfg, const char *path, const char *endpoint);

static int
s_check_endpoint (onenet_config_t *cfg, const char *endpoint)
{
    return s_check_endpoint_at (cfg, "broker.endpoint", endpoint);
}

static int
s_check_endpoint_at (onenet_config_t *cfg, const char *path, const char *endpoint)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://"};
    for (size_t index = 0; index < sizeof schemes / sizeof schemes[0]; index++) {
        size_t len = strlen (schemes[index]);
        if (strncmp (endpoint, schemes[index], len) == 0) {
            if (endpoint[len] == '\0')
                return onenet_config_fail (cfg, path, "must have an address after %s",
                                           schemes[index]);
            return 0;
        }
    }
    return onenet_config_fail (
        cfg, path, "must start with tcp://, ipc:// or inproc://, not \"%.80s\"", endpoint);
}

/* Checks one services entry; a failure is recorded in cfg. Returns 0 or -1. */
static int
s_check_service (broker_config_t *self, onenet_config_t *cfg, size_t index, const char *name,
                 const char *department)
{
    char path[PATH_SIZE];
    snprintf (path, sizeof path, "services[%zu].name", index);
    if (!s_matches (name, "abcdefghijklmnopqrstuvwxyz0123456789_."))
        return onenet_config_fail (cfg, path, "must match [a-z0-9_.]+, not \"%.80s\"", name);
    if (strncmp (name, "onenet.", 7) == 0)
        return onenet_config_fail (cfg, path,
                                   "the onenet. prefix is reserved for the broker's own services");
    for (size_t other = 0; other < index; other++)
        if (strcmp (self->services[other].name, name) == 0)
            return onenet_config_fail (cfg, path, "%s is already listed as services[%zu]", name,
                                       other);
    snprintf (path, sizeof path, "services[%zu].department", index);
    if (!s_matches (department, "abcdefghijklmnopqrstuvwxyz0123456789_"))
        return onenet_config_fail (cfg, path, "must match [a-z0-9_]+, not \"%.80s\"", department);
    return 0;
}

/* Reads services = ( { name = ...; department = ...; }, ... ). Returns 0,
 * or -1 when out of memory; validation errors stay in cfg. */
static int
s_read_services (broker_config_t *self, onenet_config_t *cfg)
{
    size_t count;
    if (onenet_config_count (cfg, "services", &count) || count == 0)
        return 0;
    self->services = calloc (count, sizeof *self->services);
    if (!self->services)
        return -1;
    for (size_t index = 0; index < count; index++) {
        char name_path[PATH_SIZE], department_path[PATH_SIZE];
        const char *name, *department;
        snprintf (name_path, sizeof name_path, "services[%zu].name", index);
        snprintf (department_path, sizeof department_path, "services[%zu].department", index);
        if (onenet_config_require (cfg, name_path) ||
            onenet_config_string (cfg, name_path, NULL, &name) ||
            onenet_config_require (cfg, department_path) ||
            onenet_config_string (cfg, department_path, NULL, &department) ||
            s_check_service (self, cfg, index, name, department))
            return 0;

        broker_known_service_t *service = &self->services[index];
        service->name = strdup (name);
        service->department = strdup (department);
        self->service_count++; // counted now, so destroy frees a half-made entry
        if (!service->name || !service->department)
            return -1;
    }
    return 0;
}

/* Reads every setting into self, which holds the defaults: a setting left
 * out keeps its field as it is. Returns 0, or -1 when out of memory;
 * validation errors stay in cfg, for onenet_config_finish to report. */
/* departments = ( { name; view_service; } ... ): replaces the default list. */
static int
s_read_departments (broker_config_t *self, onenet_config_t *cfg)
{
    size_t count;
    if (onenet_config_count (cfg, "departments", &count) || !onenet_config_has (cfg, "departments"))
        return 0;
    s_free_departments (self);
    self->departments = calloc (count ? count : 1, sizeof *self->departments);
    if (!self->departments)
        return -1;
    for (size_t index = 0; index < count; index++) {
        char name_path[PATH_SIZE], service_path[PATH_SIZE];
        const char *name, *service;
        snprintf (name_path, sizeof name_path, "departments[%zu].name", index);
        snprintf (service_path, sizeof service_path, "departments[%zu].view_service", index);
        if (onenet_config_require (cfg, name_path) ||
            onenet_config_string (cfg, name_path, NULL, &name) ||
            onenet_config_require (cfg, service_path) ||
            onenet_config_string (cfg, service_path, NULL, &service))
            return 0;
        if (!s_matches (name, "abcdefghijklmnopqrstuvwxyz0123456789_")) {
            onenet_config_fail (cfg, name_path, "must match [a-z0-9_]+, not \"%.80s\"", name);
            return 0; /* the error is kept and reported by finish */
        }
        if (!s_matches (service, "abcdefghijklmnopqrstuvwxyz0123456789_.") ||
            strncmp (service, "onenet.", 7) == 0) {
            onenet_config_fail (cfg, service_path,
                                "must match [a-z0-9_.]+ and not start with onenet., not \"%.80s\"",
                                service);
            return 0; /* the error is kept and reported by finish */
        }
        for (size_t other = 0; other < index; other++)
            if (strcmp (self->departments[other].name, name) == 0) {
                onenet_config_fail (cfg, name_path, "%s is already listed as departments[%zu]",
                                    name, other);
                return 0; /* the error is kept and reported by finish */
            }
        broker_department_t *department = &self->departments[index];
        department->name = strdup (name);
        department->view_service = strdup (service);
        self->department_count++;
        if (!department->name || !department->view_service)
            return -1;
    }
    return 0;
}

/* alert_rules = ( { name; department; topic; ... } ). CAP values are
 * checked when an alert is built (onenet_cap_validate names the field),
 * except severity, which escalation compares and is checked here. */
static int
s_read_rules (broker_config_t *self, onenet_config_t *cfg)
{
    size_t count;
    if (onenet_config_count (cfg, "alert_rules", &count) || count == 0)
        return 0;
    self->alert_rules = calloc (count, sizeof *self->alert_rules);
    if (!self->alert_rules)
        return -1;
    static const char *const severities[] = {"Extreme", "Severe",  "Moderate",
                                             "Minor",   "Unknown", NULL};
    for (size_t index = 0; index < count; index++) {
        broker_alert_rule_t *rule = &self->alert_rules[index];
        self->alert_rule_count++; /* counted now, so destroy frees a half-read rule */
        for (size_t i = 0; i < sizeof s_rule_fields / sizeof s_rule_fields[0]; i++) {
            char path[PATH_SIZE];
            const char *value = NULL;
            snprintf (path, sizeof path, "alert_rules[%zu].%s", index, s_rule_fields[i].name);
            if (!s_rule_fields[i].fallback && onenet_config_require (cfg, path))
                return 0; /* the error is kept and reported by finish */
            if (strcmp (s_rule_fields[i].name, "severity") == 0)
                onenet_config_choice (cfg, path, s_rule_fields[i].fallback, severities, &value);
            else
                onenet_config_string (cfg, path, s_rule_fields[i].fallback, &value);
            *RULE_FIELD (rule, i) = strdup (value ? value : "");
            if (!*RULE_FIELD (rule, i))
                return -1;
        }
    }
    return 0;
}

/* curve = { key_file; clients = ( { department; public_key | public_key_file; } ); }
 * Required and checked when security = "curve"; keys are validated here so
 * a typo is reported with its line, not at the first handshake. */
static int
s_read_curve (broker_config_t *self, onenet_config_t *cfg)
{
    const char *key_file = NULL;
    bool curve = strcmp (self->security, "curve") == 0;
    if (curve && onenet_config_require (cfg, "curve.key_file"))
        return 0;
    onenet_config_string (cfg, "curve.key_file", "", &key_file);
    if (key_file && s_set_string (&self->curve_key_file, key_file))
        return -1;
    size_t count = 0;
    if (onenet_config_count (cfg, "curve.clients", &count) || count == 0)
        return 0;
    self->client_keys = calloc (count, sizeof *self->client_keys);
    if (!self->client_keys)
        return -1;
    for (size_t index = 0; index < count; index++) {
        char path[PATH_SIZE], key_path[PATH_SIZE], file_path[PATH_SIZE];
        const char *department = NULL, *key = NULL, *file = NULL;
        snprintf (path, sizeof path, "curve.clients[%zu].department", index);
        snprintf (key_path, sizeof key_path, "curve.clients[%zu].public_key", index);
        snprintf (file_path, sizeof file_path, "curve.clients[%zu].public_key_file", index);
        if (onenet_config_require (cfg, path) || onenet_config_string (cfg, path, NULL, &department))
            return 0;
        onenet_config_string (cfg, key_path, "", &key);
        onenet_config_string (cfg, file_path, "", &file);
        onenet_keypair_t pair = { { 0 }, { 0 } };
        char why[300];
        if (key && *key && !onenet_key_valid (key)) {
            onenet_config_fail (cfg, key_path, "not a 40-character Z85 CURVE key");
            return 0;
        }
        if ((!key || !*key) && file && *file && onenet_keypair_load (file, &pair, why, sizeof why) < 0) {
            onenet_config_fail (cfg, file_path, "%s", why);
            return 0;
        }
        if ((!key || !*key) && (!file || !*file)) {
            onenet_config_fail (cfg, key_path, "public_key or public_key_file is required");
            return 0;
        }
        broker_client_key_t *entry = &self->client_keys[index];
        entry->department = strdup (department);
        entry->public_key = strdup (key && *key ? key : pair.public_key);
        self->client_key_count++;
        if (!entry->department || !entry->public_key)
            return -1;
    }
    return 0;
}

static int
s_read (broker_config_t *self, onenet_config_t *cfg)
{
    const char *endpoint, *log_level, *log_format, *security;
    int64_t max_message_size;

    if (onenet_config_string (cfg, "broker.endpoint", self->endpoint, &endpoint) == 0 &&
        s_check_endpoint (cfg, endpoint) == 0 && s_set_string (&self->endpoint, endpoint))
        return -1;
    onenet_config_int (cfg, "broker.heartbeat_ms", self->heartbeat_ms, 50, 60000,
                       &self->heartbeat_ms);
    onenet_config_int (cfg, "broker.liveness", self->liveness, 2, 100, &self->liveness);
    onenet_config_int (cfg, "broker.default_timeout_ms", self->default_timeout_ms, 1, 3600000,
                       &self->default_timeout_ms);
    onenet_config_int (cfg, "broker.max_timeout_ms", self->max_timeout_ms, 1, 3600000,
                       &self->max_timeout_ms);
    if (self->max_timeout_ms < self->default_timeout_ms) {
        // Blame the one the operator wrote.
        if (onenet_config_has (cfg, "broker.max_timeout_ms"))
            onenet_config_fail (cfg, "broker.max_timeout_ms",
                                "must be at least broker.default_timeout_ms (%d), not %d",
                                self->default_timeout_ms, self->max_timeout_ms);
        else
            onenet_config_fail (cfg, "broker.default_timeout_ms",
                                "must be at most broker.max_timeout_ms (%d), not %d",
                                self->max_timeout_ms, self->default_timeout_ms);
    }
    onenet_config_int (cfg, "broker.drain_ms", self->drain_ms, 0, 600000, &self->drain_ms);
    onenet_config_int (cfg, "broker.batch_max", self->batch_max, 1, 1024, &self->batch_max);
    onenet_config_int (cfg, "broker.registration_grace_ms", self->registration_grace_ms, 0, 600000,
                       &self->registration_grace_ms);

    onenet_config_int64 (cfg, "limits.max_message_size", self->max_message_size, 1024, 268435456,
                         &max_message_size);
    self->max_message_size = (long)max_message_size;
    onenet_config_int (cfg, "limits.max_frames", self->max_frames, 3, 8, &self->max_frames);
    onenet_config_int (cfg, "limits.max_pending", self->max_pending, 1, 10000000,
                       &self->max_pending);
    onenet_config_int (cfg, "limits.max_credit", self->max_credit, 1, 65535, &self->max_credit);
    onenet_config_int (cfg, "limits.rate_per_second", self->rate_per_second, 0, 10000000,
                       &self->rate_per_second);
    onenet_config_int (cfg, "limits.rate_burst", self->rate_burst, 1, 10000000, &self->rate_burst);
    bool audit_enabled = self->audit_enabled;
    onenet_config_bool (cfg, "audit.enabled", audit_enabled, &audit_enabled);
    self->audit_enabled = audit_enabled;
    const char *audit_file, *audit_stream;
    if (onenet_config_string (cfg, "audit.file", self->audit_file, &audit_file) == 0 &&
        s_set_string (&self->audit_file, audit_file))
        return -1;
    if (onenet_config_string (cfg, "audit.stream", self->audit_stream, &audit_stream) == 0 &&
        s_set_string (&self->audit_stream, audit_stream))
        return -1;
    onenet_config_int (cfg, "audit.stream_keep_s", self->audit_stream_keep_s, 0, 2147483647,
                       &self->audit_stream_keep_s);
    size_t delegates = 0;
    if (onenet_config_count (cfg, "delegates", &delegates) == 0 && delegates) {
        self->delegates = calloc (delegates, sizeof *self->delegates);
        if (!self->delegates)
            return -1;
        for (size_t index = 0; index < delegates; index++) {
            char path[PATH_SIZE];
            const char *name = NULL;
            snprintf (path, sizeof path, "delegates[%zu]", index);
            if (onenet_config_string (cfg, path, NULL, &name) || !name)
                break;
            self->delegates[index] = strdup (name);
            self->delegate_count++;
            if (!self->delegates[index])
                return -1;
        }
    }
    const char *policy_file;
    if (onenet_config_string (cfg, "policy.file", self->policy_file, &policy_file) == 0 &&
        s_set_string (&self->policy_file, policy_file))
        return -1;

    onenet_config_choice (cfg, "log.level", self->log_level, s_log_levels, &log_level);
    onenet_config_choice (cfg, "log.format", self->log_format, s_log_formats, &log_format);
    onenet_config_choice (cfg, "security", self->security, s_securities, &security);
    if (s_set_string (&self->log_level, log_level) ||
        s_set_string (&self->log_format, log_format) || s_set_string (&self->security, security))
        return -1;

    const char *redis_endpoint;
    onenet_config_string (cfg, "redis.endpoint", self->redis_endpoint, &redis_endpoint);
    if (redis_endpoint && s_set_string (&self->redis_endpoint, redis_endpoint))
        return -1;
    onenet_config_int (cfg, "view.timeout_ms", self->view_timeout_ms, 10, 600000,
                       &self->view_timeout_ms);
    onenet_config_int (cfg, "view.cache_ttl_s", self->view_cache_ttl_s, 0, 2592000,
                       &self->view_cache_ttl_s);
    onenet_config_int (cfg, "view.stale_ttl_s", self->view_stale_ttl_s, 0, 2592000,
                       &self->view_stale_ttl_s);
    const char *http_endpoint;
    if (onenet_config_string (cfg, "http.endpoint", self->http_endpoint, &http_endpoint) == 0) {
        char why[200];
        if (http_check_endpoint (http_endpoint, why, sizeof why) < 0)
            onenet_config_fail (cfg, "http.endpoint", "%s", why);
        else if (s_set_string (&self->http_endpoint, http_endpoint))
            return -1;
    }
    const char *alerts_endpoint, *alerts_stream, *alerts_spool;
    if (onenet_config_string (cfg, "alerts.endpoint", self->alerts_endpoint, &alerts_endpoint) ==
            0 &&
        s_check_endpoint_at (cfg, "alerts.endpoint", alerts_endpoint) == 0 &&
        s_set_string (&self->alerts_endpoint, alerts_endpoint))
        return -1;
    if (onenet_config_string (cfg, "alerts.stream", self->alerts_stream, &alerts_stream) == 0 &&
        s_set_string (&self->alerts_stream, alerts_stream))
        return -1;
    if (onenet_config_string (cfg, "alerts.spool", self->alerts_spool, &alerts_spool) == 0 &&
        s_set_string (&self->alerts_spool, alerts_spool))
        return -1;
    onenet_config_int (cfg, "alerts.stream_max", self->alerts_stream_max, 0, 2147483647,
                       &self->alerts_stream_max);
    onenet_config_int (cfg, "alerts.sndhwm", self->alerts_sndhwm, 100, 10000000,
                       &self->alerts_sndhwm);
    onenet_config_int (cfg, "events.window", self->events_window, 0, 1048576,
                       &self->events_window);
    onenet_config_int (cfg, "events.hold_ms", self->events_hold_ms, 1, 60000,
                       &self->events_hold_ms);
    onenet_config_int (cfg, "events.hold_max", self->events_hold_max, 1, 10000000,
                       &self->events_hold_max);
    onenet_config_int (cfg, "events.batch_max", self->events_batch_max, 1, 1024,
                       &self->events_batch_max);
    static const char *const severities[] = {"Extreme", "Severe",  "Moderate",
                                             "Minor",   "Unknown", NULL};
    const char *escalate_severity;
    if (onenet_config_choice (cfg, "alerts.escalate_severity", self->alerts_escalate_severity,
                              severities, &escalate_severity) == 0 &&
        s_set_string (&self->alerts_escalate_severity, escalate_severity))
        return -1;
    onenet_config_int (cfg, "alerts.escalate_after_s", self->alerts_escalate_after_s, 0, 604800,
                       &self->alerts_escalate_after_s);
    onenet_config_int (cfg, "alerts.spool_max_mb", self->alerts_spool_max_mb, 1, 65536,
                       &self->alerts_spool_max_mb);
    if (s_read_departments (self, cfg) || s_read_rules (self, cfg) || s_read_curve (self, cfg))
        return -1;
    return s_read_services (self, cfg);
}

broker_config_t *
broker_config_load (const char *path, char *err, size_t err_size)
{
    onenet_config_t *cfg = onenet_config_load (path, err, err_size);
    if (!cfg)
        return NULL;
    broker_config_t *self = broker_config_defaults ();
    int rc = -1;
    if (!self || s_set_string (&self->path, path) || s_read (self, cfg)) {
        if (err && err_size > 0)
            snprintf (err, err_size, "%s: out of memory", path);
    } else
        rc = onenet_config_finish (cfg, err, err_size);
    onenet_config_destroy (&cfg);
    if (rc)
        broker_config_destroy (&self);
    return self;
}

void
broker_config_keep_fixed (const broker_config_t *current, broker_config_t *next,
                          void (*changed) (const char *setting))
{
    struct {
        const char *setting;
        char *const *from;
        char **to;
    } strings[] = {
        { "broker.endpoint", &current->endpoint, &next->endpoint },
        { "redis.endpoint", &current->redis_endpoint, &next->redis_endpoint },
        { "alerts.endpoint", &current->alerts_endpoint, &next->alerts_endpoint },
        { "alerts.stream", &current->alerts_stream, &next->alerts_stream },
        { "alerts.spool", &current->alerts_spool, &next->alerts_spool },
        { "http.endpoint", &current->http_endpoint, &next->http_endpoint },
        { "audit.file", &current->audit_file, &next->audit_file },
        { "audit.stream", &current->audit_stream, &next->audit_stream },
        { "security", &current->security, &next->security },
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (strcmp (*strings[i].from, *strings[i].to) == 0)
            continue;
        char *kept = strdup (*strings[i].from);
        if (!kept)
            continue;   /* out of memory: the new value stays, harmlessly unused */
        changed (strings[i].setting);
        free (*strings[i].to);
        *strings[i].to = kept;
    }
    if (current->audit_enabled != next->audit_enabled) {
        changed ("audit.enabled");
        next->audit_enabled = current->audit_enabled;
    }
    if (current->max_pending != next->max_pending) {
        changed ("limits.max_pending");
        next->max_pending = current->max_pending;
    }
    /* Peers were told it in WELCOME and in replies. */
    if (current->batch_max != next->batch_max) {
        changed ("broker.batch_max");
        next->batch_max = current->batch_max;
    }
}
