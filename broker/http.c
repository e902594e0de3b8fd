/*
 * http.c - /healthz, /readyz and /metrics on libmicrohttpd, driven by the
 * broker's own zmq_poll loop.
 *
 * MHD runs in its external event loop mode with epoll (MHD_USE_EPOLL and
 * no internal thread): all its sockets sit in one epoll set whose fd the
 * loop polls; MHD_run then accepts, reads and writes without blocking and
 * calls s_on_request on the loop thread, so the handlers read the
 * broker's state with no lock. Responses are small and built in memory
 * (metrics_render), never waiting on Redis or disk.
 *
 * Connections are bounded (HTTP_MAX_CONNECTIONS, closed after
 * HTTP_IDLE_TIMEOUT_S idle) so a scraper that misbehaves costs little.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "broker_internal.h"
#include "cache.h"
#include "http.h"
#include "metrics.h"

#define HTTP_MAX_CONNECTIONS 64
#define HTTP_IDLE_TIMEOUT_S 10

struct http_t {
    broker_t *broker;
    struct MHD_Daemon *daemon; /* NULL when disabled */
    int fd;                    /* MHD's epoll fd, -1 when disabled */
    char address[80];          /* "127.0.0.1:9570", "" when disabled */
};

/* MHD's own messages as log events: warnings while starting (why it could
 * not listen), debug once serving, since then they are about clients
 * (closed early, malformed, over the connection limit) and anyone who can
 * connect could fill the log with them. */
static void
s_log (void *arg, const char *format, va_list args)
{
    const http_t *self = arg;
    char message[256], quoted[300];
    vsnprintf (message, sizeof message, format, args);
    size_t length = strlen (message);
    while (length && (message[length - 1] == '\n' || message[length - 1] == '\r'))
        message[--length] = '\0';
    onenet_log (self->fd >= 0 ? ONENET_LOG_DEBUG : ONENET_LOG_WARN, "http.error", "reason=%s",
                onenet_log_quote (message, quoted, sizeof quoted));
}

/* Queues a response; body is copied by MHD unless owned, in which case MHD
 * frees it (malloc'd) after sending. */
static enum MHD_Result
s_respond (struct MHD_Connection *connection, unsigned code, const char *type, char *body,
           size_t size, bool owned)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        size, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!response) {
        if (owned)
            free (body);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result queued = MHD_queue_response (connection, code, response);
    MHD_destroy_response (response);
    return queued;
}

static enum MHD_Result
s_text (struct MHD_Connection *connection, unsigned code, const char *text)
{
    return s_respond (connection, code, "text/plain; charset=utf-8", (char *)text, strlen (text),
                      false);
}

/* Why the broker is not ready to take traffic, or NULL when it is. */
static const char *
s_not_ready (const broker_t *broker, char *why, size_t size)
{
    if (!broker->config)
        return "no configuration loaded\n";
    if (broker->draining)
        return "draining: the broker is shutting down\n";
    if (broker->cache && cache_enabled (broker->cache) && !cache_ready (broker->cache)) {
        snprintf (why, size, "redis not connected (%s)\n", broker->config->redis_endpoint);
        return why;
    }
    return NULL;
}

static enum MHD_Result
s_on_request (void *arg, struct MHD_Connection *connection, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)state;
    http_t *self = arg;
    unsigned code;
    enum MHD_Result queued;
    bool get = strcmp (method, MHD_HTTP_METHOD_GET) == 0 ||
               strcmp (method, MHD_HTTP_METHOD_HEAD) == 0; /* MHD drops HEAD's body */
    char why[200];
    const char *reason;
    if (!get)
        queued = s_text (connection, code = MHD_HTTP_METHOD_NOT_ALLOWED,
                         "method not allowed: use GET\n");
    else if (strcmp (url, "/healthz") == 0)
        queued = s_text (connection, code = MHD_HTTP_OK, "ok\n");
    else if (strcmp (url, "/readyz") == 0) {
        reason = s_not_ready (self->broker, why, sizeof why);
        code = reason ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK;
        queued = s_text (connection, code, reason ? reason : "ready\n");
    } else if (strcmp (url, "/metrics") == 0) {
        size_t size = 0;
        char *body = metrics_render (self->broker, &size);
        if (body)
            queued =
                s_respond (connection, code = MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, size, true);
        else
            queued = s_text (connection, code = MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    } else
        queued = s_text (connection, code = MHD_HTTP_NOT_FOUND,
                         "not found: try /healthz, /readyz or /metrics\n");
    if (onenet_log_get_level () <= ONENET_LOG_DEBUG) {
        char quoted_method[40], quoted_url[200];
        onenet_debug ("http.request", "method=%s path=%s status=%u",
                      onenet_log_quote (method, quoted_method, sizeof quoted_method),
                      onenet_log_quote (url, quoted_url, sizeof quoted_url), code);
    }
    return queued;
}

/* Parses "HOST:PORT" into addr. Returns 0, or -1 with a reason in err
 * (without the setting's name). */
static int
s_parse_endpoint (const char *endpoint, struct sockaddr_storage *addr, char *err, size_t err_size)
{
    const char *colon = strrchr (endpoint, ':');
    char *end = NULL;
    long port = colon ? strtol (colon + 1, &end, 10) : -1;
    if (!colon || colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
        snprintf (err, err_size, "must be HOST:PORT (\"127.0.0.1:9570\"), not \"%.80s\"", endpoint);
        return -1;
    }
    char host[64];
    size_t host_length = (size_t)(colon - endpoint);
    if (host_length >= sizeof host) {
        snprintf (err, err_size, "host too long in \"%.80s\"", endpoint);
        return -1;
    }
    memcpy (host, endpoint, host_length);
    host[host_length] = '\0';
    memset (addr, 0, sizeof *addr);
    if (host_length > 2 && host[0] == '[' && host[host_length - 1] == ']') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
        host[host_length - 1] = '\0';
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons ((uint16_t)port);
        if (inet_pton (AF_INET6, host + 1, &in6->sin6_addr) == 1)
            return 0;
    } else {
        struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
        in4->sin_family = AF_INET;
        in4->sin_port = htons ((uint16_t)port);
        if (strcmp (host, "*") == 0) {
            in4->sin_addr.s_addr = htonl (INADDR_ANY);
            return 0;
        }
        if (inet_pton (AF_INET, host, &in4->sin_addr) == 1)
            return 0;
    }
    snprintf (err, err_size, "host must be an IPv4 address, * or [IPv6 address], not \"%.60s\"",
              host);
    return -1;
}

int
http_check_endpoint (const char *endpoint, char *err, size_t err_size)
{
    struct sockaddr_storage addr;
    return !endpoint || !*endpoint ? 0 : s_parse_endpoint (endpoint, &addr, err, err_size);
}

/* "HOST:PORT" of the socket MHD listens on. */
static void
s_describe (http_t *self)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage addr;
    socklen_t length = sizeof addr;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (info && getsockname (info->listen_fd, (struct sockaddr *)&addr, &length) == 0) {
        if (addr.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr;
            inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
            port = ntohs (in6->sin6_port);
            snprintf (self->address, sizeof self->address, "[%s]:%d", host, port);
            return;
        }
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&addr;
        inet_ntop (AF_INET, &in4->sin_addr, host, sizeof host);
        port = ntohs (in4->sin_port);
    }
    snprintf (self->address, sizeof self->address, "%s:%d", host, port);
}

http_t *
http_new (broker_t *broker, const char *endpoint, char *err, size_t err_size)
{
    http_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->broker = broker;
    self->fd = -1;
    if (!endpoint || !*endpoint)
        return self; /* disabled */
    struct sockaddr_storage addr;
    char why[160];
    if (s_parse_endpoint (endpoint, &addr, why, sizeof why) < 0) {
        snprintf (err, err_size, "http.endpoint: %s", why);
        free (self);
        return NULL;
    }
    uint16_t port = ntohs (addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                      : ((struct sockaddr_in *)&addr)->sin_port);
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger must come first to catch every message. MHD binds to
     * MHD_OPTION_SOCK_ADDR; the port argument only names it in messages. */
    errno = 0;
    self->daemon = MHD_start_daemon (flags, port, NULL, NULL, s_on_request, self,
                                     MHD_OPTION_EXTERNAL_LOGGER, s_log, self, MHD_OPTION_SOCK_ADDR,
                                     (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
                                     (unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                                     (unsigned)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        self->daemon ? MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD) : NULL;
    if (!info) {
        /* MHD has logged why through s_log; errno is usually the bind's. */
        snprintf (err, err_size, "http.endpoint: cannot listen on %s: %s", endpoint,
                  errno ? strerror (errno) : "libmicrohttpd refused");
        http_destroy (&self);
        return NULL;
    }
    self->fd = info->epoll_fd;
    s_describe (self);
    onenet_info ("http.listening", "address=%s paths=/healthz,/readyz,/metrics", self->address);
    return self;
}

void
http_destroy (http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    free (self);
    *self_p = NULL;
}

int
http_fd (const http_t *self)
{
    return self ? self->fd : -1;
}

void
http_handle (http_t *self)
{
    if (self && self->daemon)
        MHD_run (self->daemon);
}

int
http_timeout_ms (http_t *self)
{
    MHD_UNSIGNED_LONG_LONG timeout;
    if (!self || !self->daemon || MHD_get_timeout (self->daemon, &timeout) != MHD_YES)
        return -1;
    return timeout > INT_MAX ? INT_MAX : (int)timeout;
}

const char *
http_address (const http_t *self)
{
    return self ? self->address : "";
}
