/*
 * broker/config.h - the broker's configuration as a plain struct.
 *
 * Loaded once from a libconfig file and validated at the edge: unknown
 * settings, wrong types, missing required settings and bad values are
 * reported with file, line and setting name. Nothing else in the broker
 * touches libconfig.
 */
#ifndef BROKER_CONFIG_H
#define BROKER_CONFIG_H

#include <stddef.h>

/* A service the broker knows of before any adapter offers it, so that
 * requests for it wait for an adapter instead of failing UNKNOWN_SERVICE. */
typedef struct {
    char *name;         /* "ps.person.get" */
    char *department;   /* "public_security" */
} broker_known_service_t;

/* A department taking part in the one network view, and the service that
 * gives its contribution (ContributionRequest -> Contribution). */
typedef struct {
    char *name;          /* "public_security" */
    char *view_service;  /* "ps.view.person" */
} broker_department_t;

/* A department's public CURVE key (security = "curve"). */
typedef struct {
    char *department;    /* the identity its requests carry */
    char *public_key;    /* 40 Z85 characters */
} broker_client_key_t;

/* A rule turning a department's event into an alert (alert_rules). Text
 * fields may hold {field} to insert a field of the event's body. */
typedef struct {
    char *name;          /* "missing_person" */
    char *department;    /* whose events: "public_security" */
    char *topic;         /* EVENT topic: "incident.reported" */
    char *match_field;   /* fire only when this field ... ("" = always) */
    char *match_value;   /* ... has this value */
    char *id_field;      /* field making the alert's identifier unique ("" = time) */
    char *area_field;    /* field holding the GB/T 2260 code of the area */
    char *status;        /* CAP status: "Actual", "Exercise", ... */
    char *category;      /* CAP category */
    char *event;         /* CAP event (template) */
    char *urgency, *severity, *certainty;
    char *headline;      /* template */
    char *description;   /* template */
    char *area_desc;     /* template */
} broker_alert_rule_t;

typedef struct {
    char *endpoint;              /* broker.endpoint        "tcp://127.0.0.1:5570" */
    int heartbeat_ms;            /* broker.heartbeat_ms    1000     [50, 60000] */
    int liveness;                /* broker.liveness        3        [2, 100] */
    int default_timeout_ms;      /* broker.default_timeout_ms 5000  [1, 3600000] */
    int max_timeout_ms;          /* broker.max_timeout_ms  60000    [1, 3600000], >= default */
    int registration_grace_ms;   /* broker.registration_grace_ms 3000 [0, 600000] */
    int drain_ms;                /* broker.drain_ms 5000 [0, 600000]: on SIGTERM, grace for work in flight */
    long max_message_size;       /* limits.max_message_size 1048576 [1024, 268435456] */
    int max_frames;              /* limits.max_frames      4        [3, 8] */
    int max_pending;             /* limits.max_pending     100000   [1, 10000000] */
    int max_credit;              /* limits.max_credit      1024     [1, 65535] */
    int batch_max;               /* broker.batch_max       64       [1, 1024]: requests or replies in one BATCH; 1 = no batches */
    int rate_per_second;         /* limits.rate_per_second 0 (off)  [0, 10000000]: per requesting department */
    int rate_burst;              /* limits.rate_burst      100      [1, 10000000] */
    char *policy_file;           /* policy.file  "": no sharing policy enforced (logged) */
    char **delegates; /* delegates = [ "gateway" ]: departments trusted to act for users */
    size_t delegate_count;
    int audit_enabled;           /* audit.enabled true: record every cross-department exchange */
    char *audit_file;            /* audit.file   "onenet-audit.log": the local chain; "" for none */
    char *audit_stream;          /* audit.stream "onenet:audit": the Redis Stream copy */
    int audit_stream_keep_s;     /* audit.stream_keep_s 7776000 (90 days) [0, 2^31): 0 = all */
    char *log_level;             /* log.level  "info"  one of debug, info, warn, error */
    char *log_format;            /* log.format "logfmt" one of logfmt, json */
    char *security;              /* security   "none"  one of none, curve */
    char *curve_key_file;        /* curve.key_file: the broker's NAME.key (required with curve) */
    broker_client_key_t *client_keys;  /* curve.clients = ( { department; public_key | public_key_file; } ) */
    size_t client_key_count;
    char *redis_endpoint;        /* redis.endpoint   "127.0.0.1:6379"; "" disables Redis */
    int view_timeout_ms;         /* view.timeout_ms  2000   [10, 600000]: longest a view waits for departments */
    int view_cache_ttl_s;        /* view.cache_ttl_s 300    [0, 2592000]: merged views; 0 = no caching */
    int view_stale_ttl_s;        /* view.stale_ttl_s 86400  [0, 2592000]: sections kept for stale-if-error */
    char *http_endpoint;         /* http.endpoint    "127.0.0.1:9570": /healthz /readyz /metrics; "" disables */
    char *alerts_endpoint;       /* alerts.endpoint  "tcp://127.0.0.1:5571": XPUB for subscribers */
    char *alerts_stream;         /* alerts.stream    "onenet:alerts": the Redis Stream */
    int alerts_stream_max;       /* alerts.stream_max 1000000 [0, 2^31): trimmed to about this; 0 = never */
    int events_window;           /* events.window   8192 [0, 1048576]: EVENTs an adapter may have unconfirmed; 0 = no flow control */
    int events_hold_ms;          /* events.hold_ms  200 [1, 60000]: how long an event waits for a full subscriber */
    int events_hold_max;         /* events.hold_max 65536 [1, 10000000]: events held at most, all adapters together */
    int events_batch_max;        /* events.batch_max 64 [1, 1024]: events an adapter may send in one EVENT; 1 = no batches */
    int alerts_sndhwm;           /* alerts.sndhwm    1000 [100, 10000000]: per subscriber, then it catches up */
    char *alerts_spool;          /* alerts.spool     "onenet-alerts.spool": kept here while Redis is down */
    int alerts_spool_max_mb;     /* alerts.spool_max_mb 64 [1, 65536]: beyond it, publishing fails */
    char *alerts_escalate_severity; /* alerts.escalate_severity "Severe": this or worse escalates */
    int alerts_escalate_after_s; /* alerts.escalate_after_s 600 [0, 604800]: unacked this long; 0 = never */
    /* departments = ( { name = ...; view_service = ...; }, ... ); default: the three reference departments */
    broker_department_t *departments;
    size_t department_count;
    broker_known_service_t *services;  /* services = ( { name = ...; department = ...; }, ... ) */
    size_t service_count;
    broker_alert_rule_t *alert_rules;  /* alert_rules = ( { ... }, ... ) */
    size_t alert_rule_count;
    char *path;                  /* file it came from, or "(defaults)" */
} broker_config_t;

/* Returns a config holding the embedded defaults. NULL when out of memory. */
broker_config_t *broker_config_defaults (void);

/* Copies into next the settings that only a restart can change (endpoints,
 * Redis, the alert stream and spool, max_pending, security), calling
 * changed(setting) for each that differs. Used by the SIGHUP reload. */
void broker_config_keep_fixed (const broker_config_t *current, broker_config_t *next,
                               void (*changed) (const char *setting));

/* Loads and validates a file; settings it leaves out keep their default.
 * Returns NULL on any error, with one line in err such as
 *   "config/broker.cfg:12: broker.heartbeat_ms: must be between 50 and 60000, not 5"
 * The caller destroys the result with broker_config_destroy. */
broker_config_t *broker_config_load (const char *path, char *err, size_t err_size);

void broker_config_destroy (broker_config_t **self_p);

#endif
