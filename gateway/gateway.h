/*
 * gateway.h - internals of onenet-gateway, the HTTP/JSON front door for
 * people (service-window clerks, emergency coordinators, auditors,
 * operators) to the OneNet broker.
 *
 * The gateway is a broker client like any other: it calls services with
 * the SDK (onenet_client_t from a small pool, onenet_subscriber_t per
 * alert stream) and holds no business logic. One file per responsibility:
 *   config.c  gateway.cfg -> gateway_config_t (validated once, file:line)
 *   auth.c    bearer tokens (SHA-256 hashes in config) -> user and role
 *   pool.c    the onenet_client_t pool shared by request threads
 *   api.c     the REST handlers: JSON <-> protobuf, one broker call each
 *   sse.c     GET /api/v1/alerts/stream, Server-Sent Events
 *   server.c  libmicrohttpd, routing, bodies, errors, static files
 *   main.c    load config, start, wait for a signal, stop
 *
 * Threading: libmicrohttpd runs one thread per connection (an SSE stream
 * blocks its thread while waiting for alerts). The SDK objects are not
 * thread-safe, so a request borrows a client from the pool (a mutex
 * guards the pool, never a call) and each stream owns its subscriber.
 */
#ifndef ONENET_GATEWAY_H
#define ONENET_GATEWAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>
#include <jansson.h>
#include "onenet/onenet.h"

/* Roles are bits so a route lists every role it allows. */
typedef enum {
    ROLE_CLERK = 1,
    ROLE_COORDINATOR = 2,
    ROLE_AUDITOR = 4,
    ROLE_OPERATOR = 8,
} gateway_role_t;

typedef struct {
    char *name;
    char *department;
    gateway_role_t role;
    uint8_t token_hash[32]; /* SHA-256 of the bearer token */
} gateway_user_t;

typedef struct {
    char *address; /* listen address, e.g. "127.0.0.1" */
    int port;
    char *broker_endpoint; /* NULL: the SDK default */
    char *alerts_endpoint; /* NULL: the SDK default */
    char *web_root;        /* directory of the console's static files */
    char *openapi_path;    /* served at /api/v1/openapi.yaml */
    size_t max_body;       /* bytes; larger bodies get 413 */
    uint32_t request_timeout_ms;
    unsigned max_connections;
    unsigned idle_timeout_s;
    unsigned keepalive_s; /* SSE comment interval */
    unsigned pool_size;   /* idle broker clients kept */
    const char *log_level;
    gateway_user_t *users;
    size_t user_count;
} gateway_config_t;

/* config.c: returns a new config or NULL with "file:line: path: reason". */
gateway_config_t *gateway_config_load (const char *path, char *err, size_t err_size);
void gateway_config_destroy (gateway_config_t **self_p);

/* auth.c */
/* Writes the lowercase hex SHA-256 of token (65 bytes with NUL) to hex. */
void auth_hash_hex (const char *token, char hex[65]);
/* Parses 64 hex digits into 32 bytes. Returns 0 or -1. */
int auth_parse_hash (const char *hex, uint8_t out[32]);
/* The user whose token this is, or NULL. Compares in constant time. */
const gateway_user_t *auth_find_user (const gateway_config_t *config, const char *token);
/* "clerk" ... for a role bit, and back (-1 if unknown). */
const char *auth_role_name (gateway_role_t role);
int auth_role_from_name (const char *name);

/* pool.c: clients for request threads. acquire returns NULL with a reason
 * in err when no client can be made; release gives it back (or destroys
 * it when the pool is full). */
typedef struct pool_t pool_t;
pool_t *pool_new (const char *endpoint, unsigned size, uint32_t timeout_ms);
void pool_destroy (pool_t **self_p);
onenet_client_t *pool_acquire (pool_t *self, char *err, size_t err_size);
void pool_release (pool_t *self, onenet_client_t *client);

typedef struct {
    const gateway_config_t *config;
    pool_t *pool;
    struct MHD_Daemon *daemon;
    volatile int stopping; /* set before the daemon stops: streams end */
} gateway_t;

/* One HTTP request as the handlers see it. */
typedef struct {
    gateway_t *gateway;
    struct MHD_Connection *connection;
    const char *method;
    const char *url;
    const gateway_user_t *user; /* NULL on public routes */
    const char *body;           /* NUL-terminated copy, may be NULL */
    size_t body_size;
    const char *param; /* the {residentId}, {service} or {id} of the route */
} gateway_request_t;

/* server.c */
int gateway_start (gateway_t *self, char *err, size_t err_size);
void gateway_stop (gateway_t *self);
/* Queues a JSON response; takes ownership of json. */
enum MHD_Result gateway_reply_json (gateway_request_t *req, unsigned code, json_t *json);
/* Queues {"status": status, "message": message} with the HTTP code of the
 * status (gateway_http_code). */
enum MHD_Result gateway_reply_error (gateway_request_t *req, onenet_status_t status,
                                     const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
/* The same with an explicit HTTP code and status name (401, 413...). */
enum MHD_Result gateway_reply_error_code (gateway_request_t *req, unsigned code, const char *status,
                                          const char *message);
unsigned gateway_http_code (onenet_status_t status);
/* A query argument, or NULL. */
const char *gateway_arg (gateway_request_t *req, const char *name);

/* api.c: the handlers. Each queues exactly one response. */
enum MHD_Result api_me (gateway_request_t *req);
enum MHD_Result api_person_view (gateway_request_t *req);
enum MHD_Result api_services (gateway_request_t *req);
enum MHD_Result api_service_call (gateway_request_t *req);
enum MHD_Result api_alerts (gateway_request_t *req);
enum MHD_Result api_alert_publish (gateway_request_t *req);
enum MHD_Result api_alert_ack (gateway_request_t *req);
enum MHD_Result api_audit (gateway_request_t *req);
/* Calls a service with a message body, unpacks the reply into reply_type.
 * Returns the reply message (caller frees with
 * protobuf_c_message_free_unpacked) or NULL with the status and reason. */
ProtobufCMessage *api_call (gateway_t *gateway, const gateway_user_t *user, const char *service,
                            const ProtobufCMessage *request,
                            const ProtobufCMessageDescriptor *reply_type, const char *purpose,
                            onenet_status_t *status_p, char *why, size_t why_size);
/* Splits "a,b,c" into a NULL-terminated array of strdup'd items, at most
 * max; frees with api_strings_free. Returns the count. */
size_t api_split (const char *text, char **out, size_t max);
void api_strings_free (char **items, size_t count);

/* sse.c */
enum MHD_Result sse_stream (gateway_request_t *req);

#endif
