/*
 * server.c - the HTTP side of onenet-gateway on libmicrohttpd: one thread
 * per connection (an alert stream blocks its own), bodies gathered up to
 * gateway.max_body_bytes, routes matched against one table that names
 * the roles allowed on each, errors as {"status", "message"} JSON, and
 * the web console served as static files from gateway.web_root.
 *
 * Order of checks on /api/: route (404), method (405), bearer token
 * (401), role (403), body size (413), then the handler.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gateway.h"

#define ALL_ROLES (ROLE_CLERK | ROLE_COORDINATOR | ROLE_AUDITOR | ROLE_OPERATOR)

typedef enum MHD_Result (*handler_fn) (gateway_request_t *req);

/* A route: method, path pattern with at most one {param} segment, roles. */
typedef struct {
    const char *method;
    const char *prefix; /* path up to the parameter (or the whole path) */
    const char *suffix; /* after the parameter; NULL when none */
    unsigned roles;     /* 0: public */
    handler_fn handler;
} route_t;

static enum MHD_Result s_openapi (gateway_request_t *req);

static const route_t s_routes[] = {
    {"GET", "/api/v1/openapi.yaml", NULL, 0, s_openapi},
    {"GET", "/api/v1/me", NULL, ALL_ROLES, api_me},
    {"GET", "/api/v1/persons/", "/view", ROLE_CLERK, api_person_view},
    {"GET", "/api/v1/services", NULL, ROLE_CLERK | ROLE_COORDINATOR | ROLE_OPERATOR, api_services},
    {"POST", "/api/v1/services/", "", ROLE_OPERATOR, api_service_call},
    {"GET", "/api/v1/alerts/stream", NULL, ROLE_COORDINATOR, sse_stream},
    {"GET", "/api/v1/alerts", NULL, ROLE_COORDINATOR, api_alerts},
    {"POST", "/api/v1/alerts", NULL, ROLE_COORDINATOR, api_alert_publish},
    {"POST", "/api/v1/alerts/", "/ack", ROLE_COORDINATOR, api_alert_ack},
    {"GET", "/api/v1/audit", NULL, ROLE_AUDITOR, api_audit},
};
#define ROUTE_COUNT (sizeof s_routes / sizeof s_routes[0])

/* Per-request state kept by MHD between calls of s_on_request. */
typedef struct {
    char *body;
    size_t size;
    size_t capacity;
    bool too_large;
    bool seen;
} upload_t;

unsigned
gateway_http_code (onenet_status_t status)
{
    switch (status) {
    case ONENET_OK:
        return MHD_HTTP_OK;
    case ONENET_BAD_REQUEST:
        return MHD_HTTP_BAD_REQUEST;
    case ONENET_NOT_FOUND:
        return MHD_HTTP_NOT_FOUND;
    case ONENET_UNKNOWN_SERVICE:
        return MHD_HTTP_NOT_FOUND;
    case ONENET_DENIED:
        return MHD_HTTP_FORBIDDEN;
    case ONENET_TIMEOUT:
        return MHD_HTTP_GATEWAY_TIMEOUT;
    case ONENET_UNAVAILABLE:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case ONENET_NO_ADAPTER:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case ONENET_RESOURCE_EXHAUSTED:
        return MHD_HTTP_TOO_MANY_REQUESTS;
    case ONENET_UNSUPPORTED_VERSION:
        return MHD_HTTP_BAD_REQUEST;
    case ONENET_INTERNAL:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static enum MHD_Result
s_respond (struct MHD_Connection *connection, unsigned code, const char *type, char *body,
           size_t size, const char *extra_header, const char *extra_value)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer (size, body, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (body);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    if (extra_header)
        MHD_add_response_header (response, extra_header, extra_value);
    enum MHD_Result queued = MHD_queue_response (connection, code, response);
    MHD_destroy_response (response);
    return queued;
}

enum MHD_Result
gateway_reply_json (gateway_request_t *req, unsigned code, json_t *json)
{
    char *text = json ? json_dumps (json, JSON_COMPACT) : NULL;
    json_decref (json);
    if (!text)
        return MHD_NO;
    const char *extra = code == MHD_HTTP_UNAUTHORIZED ? MHD_HTTP_HEADER_WWW_AUTHENTICATE : NULL;
    return s_respond (req->connection, code, "application/json; charset=utf-8", text, strlen (text),
                      extra, "Bearer realm=\"onenet\"");
}

enum MHD_Result
gateway_reply_error_code (gateway_request_t *req, unsigned code, const char *status,
                          const char *message)
{
    if (code >= 500 || code == MHD_HTTP_FORBIDDEN || code == MHD_HTTP_UNAUTHORIZED) {
        char quoted[300];
        onenet_info ("gateway.error", "code=%u status=%s user=%s reason=%s", code, status,
                     req->user ? req->user->name : "-",
                     onenet_log_quote (message, quoted, sizeof quoted));
    }
    return gateway_reply_json (req, code,
                               json_pack ("{s:s, s:s}", "status", status, "message", message));
}

enum MHD_Result
gateway_reply_error (gateway_request_t *req, onenet_status_t status, const char *format, ...)
{
    char message[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    return gateway_reply_error_code (req, gateway_http_code (status), onenet_status_name (status),
                                     message);
}

const char *
gateway_arg (gateway_request_t *req, const char *name)
{
    return MHD_lookup_connection_value (req->connection, MHD_GET_ARGUMENT_KIND, name);
}

/* Reads a whole small file into a new buffer; NULL if it cannot. */
static char *
s_slurp (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *data = NULL;
    if (fseek (file, 0, SEEK_END) == 0) {
        long size = ftell (file);
        if (size >= 0 && size < 16 * 1024 * 1024 && fseek (file, 0, SEEK_SET) == 0 &&
            (data = malloc ((size_t)size + 1))) {
            *size_p = fread (data, 1, (size_t)size, file);
            data[*size_p] = '\0';
        }
    }
    fclose (file);
    return data;
}

static enum MHD_Result
s_openapi (gateway_request_t *req)
{
    size_t size = 0;
    char *text = s_slurp (req->gateway->config->openapi_path, &size);
    if (!text)
        return gateway_reply_error (req, ONENET_NOT_FOUND, "the OpenAPI document is not installed");
    return s_respond (req->connection, MHD_HTTP_OK, "application/yaml; charset=utf-8", text, size,
                      NULL, NULL);
}

static const char *
s_mime (const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    const char *dot = strrchr (path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp (dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* The console: files under web_root, "/" is index.html. No auth: the
 * pages hold no data; they ask the API with the user's token. */
static enum MHD_Result
s_static (gateway_request_t *req)
{
    const char *url = strcmp (req->url, "/") == 0 ? "/index.html" : req->url;
    char path[1024];
    struct stat info;
    if (strstr (url, "..") || strchr (url, '\\') ||
        snprintf (path, sizeof path, "%s%s", req->gateway->config->web_root, url) >=
            (int)sizeof path)
        return gateway_reply_error (req, ONENET_NOT_FOUND, "no such page");
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat (fd, &info) < 0 || !S_ISREG (info.st_mode)) {
        if (fd >= 0)
            close (fd);
        return gateway_reply_error (req, ONENET_NOT_FOUND, "no such page: %s", url);
    }
    struct MHD_Response *response = MHD_create_response_from_fd ((uint64_t)info.st_size, fd);
    if (!response) {
        close (fd);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, s_mime (path));
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Content-Security-Policy",
                             "default-src 'self'; style-src 'self'; script-src 'self'");
    enum MHD_Result queued = MHD_queue_response (req->connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return queued;
}

/* Does url match the route? Sets *param to a copy of the parameter. */
static bool
s_match (const route_t *route, const char *url, char **param)
{
    size_t prefix = strlen (route->prefix);
    if (!route->suffix)
        return strcmp (url, route->prefix) == 0;
    if (strncmp (url, route->prefix, prefix) != 0)
        return false;
    const char *rest = url + prefix;
    const char *slash = strchr (rest, '/');
    size_t length = slash ? (size_t)(slash - rest) : strlen (rest);
    if (!length || strcmp (rest + length, route->suffix) != 0)
        return false;
    *param = strndup (rest, length);
    return *param != NULL;
}

static const gateway_user_t *
s_authenticate (gateway_request_t *req, bool allow_query)
{
    const char *header =
        MHD_lookup_connection_value (req->connection, MHD_HEADER_KIND, "Authorization");
    if (header && strncasecmp (header, "Bearer ", 7) == 0)
        return auth_find_user (req->gateway->config, header + 7);
    /* EventSource cannot send headers: the stream also takes ?access_token=. */
    if (!header && allow_query)
        return auth_find_user (req->gateway->config, gateway_arg (req, "access_token"));
    return NULL;
}

static enum MHD_Result
s_dispatch (gateway_request_t *req, upload_t *upload)
{
    if (strncmp (req->url, "/api/", 5) != 0) {
        if (strcmp (req->method, "GET") != 0 && strcmp (req->method, "HEAD") != 0)
            return gateway_reply_error_code (req, MHD_HTTP_METHOD_NOT_ALLOWED, "BAD_REQUEST",
                                             "the console is read with GET");
        return s_static (req);
    }
    const route_t *found = NULL;
    bool path_known = false;
    char *param = NULL;
    for (size_t i = 0; i < ROUTE_COUNT && !found; i++) {
        char *candidate = NULL;
        if (!s_match (&s_routes[i], req->url, &candidate))
            continue;
        path_known = true;
        if (strcmp (s_routes[i].method, req->method) == 0) {
            found = &s_routes[i];
            param = candidate;
        } else
            free (candidate);
    }
    if (!found)
        return path_known
                   ? gateway_reply_error_code (req, MHD_HTTP_METHOD_NOT_ALLOWED, "BAD_REQUEST",
                                               "method not allowed here")
                   : gateway_reply_error (req, ONENET_NOT_FOUND, "no such endpoint: %s", req->url);
    enum MHD_Result queued;
    req->param = param;
    if (found->roles) {
        req->user = s_authenticate (req, found->handler == sse_stream);
        if (!req->user) {
            queued = gateway_reply_error_code (req, MHD_HTTP_UNAUTHORIZED, "DENIED",
                                               "a valid bearer token is required");
            goto done;
        }
        if (!(found->roles & req->user->role)) {
            char message[200];
            snprintf (message, sizeof message, "role %s may not use this endpoint",
                      auth_role_name (req->user->role));
            queued = gateway_reply_error_code (req, MHD_HTTP_FORBIDDEN, "DENIED", message);
            goto done;
        }
    }
    if (upload->too_large) {
        char message[120];
        snprintf (message, sizeof message, "request body larger than %zu bytes",
                  req->gateway->config->max_body);
        queued = gateway_reply_error_code (req, 413 /* Content Too Large */, "RESOURCE_EXHAUSTED",
                                           message);
        goto done;
    }
    req->body = upload->body;
    req->body_size = upload->size;
    queued = found->handler (req);
    if (req->user) {
        char quoted[200];
        onenet_info ("gateway.request", "user=%s role=%s method=%s path=%s", req->user->name,
                     auth_role_name (req->user->role), req->method,
                     onenet_log_quote (found->prefix, quoted, sizeof quoted));
    }
done:
    free (param);
    return queued;
}

static enum MHD_Result
s_on_request (void *arg, struct MHD_Connection *connection, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void)version;
    gateway_t *self = arg;
    upload_t *upload = *state;
    gateway_request_t req = {self, connection, method, url, NULL, NULL, 0, NULL};
    if (!upload) {
        upload = calloc (1, sizeof *upload);
        if (!upload)
            return MHD_NO;
        *state = upload;
        /* Refuse a declared oversized body before reading any of it. */
        const char *length =
            MHD_lookup_connection_value (connection, MHD_HEADER_KIND, "Content-Length");
        if (length && strtoull (length, NULL, 10) > self->config->max_body)
            upload->too_large = true;
        else
            return MHD_YES;
    }
    if (*upload_data_size) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (upload->too_large || upload->size + size > self->config->max_body) {
            upload->too_large = true;
            return MHD_YES;
        }
        if (upload->size + size + 1 > upload->capacity) {
            size_t capacity = (upload->size + size + 1) * 2;
            if (capacity > self->config->max_body + 1)
                capacity = self->config->max_body + 1;
            char *body = realloc (upload->body, capacity);
            if (!body)
                return MHD_NO;
            upload->body = body;
            upload->capacity = capacity;
        }
        memcpy (upload->body + upload->size, upload_data, size);
        upload->size += size;
        upload->body[upload->size] = '\0';
        return MHD_YES;
    }
    if (upload->seen)
        return MHD_YES;
    upload->seen = true;
    return s_dispatch (&req, upload);
}

static void
s_on_completed (void *arg, struct MHD_Connection *connection, void **state,
                enum MHD_RequestTerminationCode code)
{
    (void)arg;
    (void)connection;
    (void)code;
    upload_t *upload = *state;
    if (upload) {
        free (upload->body);
        free (upload);
        *state = NULL;
    }
}

static void
s_log (void *arg, const char *format, va_list args)
{
    (void)arg;
    char message[256], quoted[300];
    vsnprintf (message, sizeof message, format, args);
    size_t length = strlen (message);
    while (length && (message[length - 1] == '\n' || message[length - 1] == '\r'))
        message[--length] = '\0';
    onenet_debug ("gateway.http_error", "reason=%s",
                  onenet_log_quote (message, quoted, sizeof quoted));
}

int
gateway_start (gateway_t *self, char *err, size_t err_size)
{
    const gateway_config_t *config = self->config;
    struct sockaddr_in addr;
    memset (&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons ((uint16_t)config->port);
    if (inet_pton (AF_INET, config->address, &addr.sin_addr) != 1) {
        snprintf (err, err_size, "gateway.address: \"%s\" is not an IPv4 address", config->address);
        return -1;
    }
    self->pool = pool_new (config->broker_endpoint, config->pool_size, config->request_timeout_ms);
    if (!self->pool) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
    errno = 0;
    self->daemon = MHD_start_daemon (
        flags, (uint16_t)config->port, NULL, NULL, s_on_request, self, MHD_OPTION_EXTERNAL_LOGGER,
        s_log, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        config->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, config->idle_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, self, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (err, err_size, "cannot listen on %s:%d: %s", config->address, config->port,
                  errno ? strerror (errno) : "libmicrohttpd refused");
        pool_destroy (&self->pool);
        return -1;
    }
    return 0;
}

void
gateway_stop (gateway_t *self)
{
    self->stopping = 1;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    self->daemon = NULL;
    pool_destroy (&self->pool);
}
