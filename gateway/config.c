/*
 * config.c - gateway.cfg into a gateway_config_t, validated once with the
 * SDK's reader (onenet_config_*), which names file, line and setting on
 * every error and refuses settings nobody reads (typos). See
 * config/gateway.cfg for every setting and docs/GATEWAY.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gateway.h"
#include "onenet/config.h"

static char *
s_dup (const char *text)
{
    return text ? strdup (text) : NULL;
}

static const char *const s_roles[] = {"clerk", "coordinator", "auditor", "operator", NULL};
static const char *const s_levels[] = {"debug", "info", "warn", "error", NULL};

static void
s_read_users (onenet_config_t *cfg, gateway_config_t *self)
{
    size_t count = 0;
    onenet_config_count (cfg, "users", &count);
    self->users = calloc (count ? count : 1, sizeof *self->users);
    if (!self->users)
        return;
    for (size_t i = 0; i < count; i++) {
        char path[64];
        const char *name = NULL, *department = NULL, *role = NULL, *hash = NULL;
        snprintf (path, sizeof path, "users[%zu].name", i);
        onenet_config_require (cfg, path);
        onenet_config_string (cfg, path, NULL, &name);
        snprintf (path, sizeof path, "users[%zu].department", i);
        onenet_config_require (cfg, path);
        onenet_config_string (cfg, path, NULL, &department);
        snprintf (path, sizeof path, "users[%zu].role", i);
        onenet_config_require (cfg, path);
        onenet_config_choice (cfg, path, NULL, s_roles, &role);
        snprintf (path, sizeof path, "users[%zu].token_sha256", i);
        onenet_config_require (cfg, path);
        onenet_config_string (cfg, path, NULL, &hash);
        if (onenet_config_error (cfg))
            return;
        if (!*department) {
            snprintf (path, sizeof path, "users[%zu].department", i);
            onenet_config_fail (cfg, path, "must name the department the user works for");
            return;
        }
        gateway_user_t *user = &self->users[self->user_count];
        if (auth_parse_hash (hash, user->token_hash) < 0) {
            onenet_config_fail (cfg, path,
                                "must be 64 hex digits (onenet-gateway --hash-token TOKEN)");
            return;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp (self->users[j].name, name) == 0) {
                snprintf (path, sizeof path, "users[%zu].name", i);
                onenet_config_fail (cfg, path, "user \"%s\" is listed twice", name);
                return;
            }
        user->name = s_dup (name);
        user->department = s_dup (department);
        user->role = (gateway_role_t)auth_role_from_name (role);
        self->user_count++;
    }
}

gateway_config_t *
gateway_config_load (const char *path, char *err, size_t err_size)
{
    onenet_config_t *cfg = onenet_config_load (path, err, err_size);
    if (!cfg)
        return NULL;
    gateway_config_t *self = calloc (1, sizeof *self);
    if (!self) {
        onenet_config_destroy (&cfg);
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    const char *address = NULL, *broker = NULL, *alerts = NULL, *web = NULL, *openapi = NULL;
    int port = 0, max_body = 0, timeout = 0, connections = 0, idle = 0, keepalive = 0, pool = 0;
    onenet_config_string (cfg, "gateway.address", "127.0.0.1", &address);
    onenet_config_int (cfg, "gateway.port", 8080, 1, 65535, &port);
    onenet_config_string (cfg, "gateway.broker", NULL, &broker);
    onenet_config_string (cfg, "gateway.alerts", NULL, &alerts);
    onenet_config_string (cfg, "gateway.web_root", "web", &web);
    onenet_config_string (cfg, "gateway.openapi", "docs/openapi.yaml", &openapi);
    onenet_config_int (cfg, "gateway.max_body_bytes", 1048576, 1024, 8 * 1048576, &max_body);
    onenet_config_int (cfg, "gateway.request_timeout_ms", 5000, 100, 120000, &timeout);
    onenet_config_int (cfg, "gateway.max_connections", 64, 1, 4096, &connections);
    onenet_config_int (cfg, "gateway.idle_timeout_s", 60, 2, 3600, &idle);
    onenet_config_int (cfg, "gateway.keepalive_s", 15, 1, 300, &keepalive);
    onenet_config_int (cfg, "gateway.client_pool", 8, 1, 256, &pool);
    onenet_config_choice (cfg, "gateway.log_level", "info", s_levels, &self->log_level);
    if (!onenet_config_error (cfg) && keepalive >= idle)
        onenet_config_fail (cfg, "gateway.keepalive_s",
                            "must be below idle_timeout_s (%d), or streams are cut", idle);
    self->address = s_dup (address);
    self->port = port;
    self->broker_endpoint = s_dup (broker);
    self->alerts_endpoint = s_dup (alerts);
    self->web_root = s_dup (web);
    self->openapi_path = s_dup (openapi);
    self->max_body = (size_t)max_body;
    self->request_timeout_ms = (uint32_t)timeout;
    self->max_connections = (unsigned)connections;
    self->idle_timeout_s = (unsigned)idle;
    self->keepalive_s = (unsigned)keepalive;
    self->pool_size = (unsigned)pool;
    if (!onenet_config_error (cfg))
        s_read_users (cfg, self);
    int rc = onenet_config_finish (cfg, err, err_size);
    onenet_config_destroy (&cfg);
    if (rc < 0 || !self->users) {
        gateway_config_destroy (&self);
        return NULL;
    }
    return self;
}

void
gateway_config_destroy (gateway_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gateway_config_t *self = *self_p;
    free (self->address);
    free (self->broker_endpoint);
    free (self->alerts_endpoint);
    free (self->web_root);
    free (self->openapi_path);
    for (size_t i = 0; i < self->user_count; i++) {
        free (self->users[i].name);
        free (self->users[i].department);
    }
    free (self->users);
    free (self);
    *self_p = NULL;
}
