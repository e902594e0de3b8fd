/*
 * test_http.c - the broker's health and metrics endpoints, spoken to over
 * plain TCP sockets (no HTTP library) like a kubelet or Prometheus would:
 * /healthz, /readyz before and after Redis comes up, /metrics parsed line
 * by line against the exposition grammar and watched moving while a real
 * adapter (the test adapter's test.echo) serves calls; 404 and 405.
 *
 * One broker serves the whole file, on free ports, with Redis configured
 * on a port where nothing listens until test_ready_after_redis starts it.
 * The last test stops it: /readyz turns 503 while it drains after SIGTERM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "harness.h"

typedef struct {
    int port; /* broker */
    int http_port;
    int redis_port;
    pid_t broker;
    onenet_client_t *client;
} system_t;

static system_t s;

typedef struct {
    int code;      /* HTTP status, 0 when no answer */
    char *headers; /* status line and headers, NUL-terminated */
    char *body;    /* NUL-terminated */
    size_t body_size;
    char *raw;
} response_t;

static void
response_free (response_t *response)
{
    free (response->raw);
    memset (response, 0, sizeof *response);
}

/* Sends `request` (a whole HTTP/1.0 request) to the broker's HTTP port and
 * reads the answer until the server closes (HTTP/1.0: one request per
 * connection). Bounded by a 5 s receive timeout. */
static response_t
http_raw (const char *request)
{
    response_t response = {0};
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct timeval timeout = {.tv_sec = 5};
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)s.http_port)};
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (fd, (struct sockaddr *)&addr, sizeof addr), 0);
    size_t length = strlen (request);
    assert_int_equal (write (fd, request, length), (ssize_t)length);
    size_t size = 0, capacity = 65536;
    char *raw = malloc (capacity + 1);
    assert_non_null (raw);
    for (;;) {
        if (size == capacity) {
            capacity *= 2;
            raw = realloc (raw, capacity + 1);
            assert_non_null (raw);
        }
        ssize_t got = read (fd, raw + size, capacity - size);
        if (got <= 0)
            break;
        size += (size_t)got;
    }
    close (fd);
    raw[size] = '\0';
    response.raw = raw;
    char *end = strstr (raw, "\r\n\r\n");
    assert_non_null (end);
    *end = '\0';
    response.headers = raw;
    response.body = end + 4;
    response.body_size = size - (size_t)(response.body - raw);
    assert_int_equal (sscanf (raw, "HTTP/1.%*d %d", &response.code), 1);
    return response;
}

static response_t
http_get (const char *path)
{
    char request[256];
    snprintf (request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    return http_raw (request);
}

/* The value of a header (case-insensitive name), copied into out. */
static const char *
header (const response_t *response, const char *name, char *out, size_t size)
{
    size_t length = strlen (name);
    for (const char *line = strstr (response->headers, "\r\n"); line;
         line = strstr (line, "\r\n")) {
        line += 2;
        if (strncasecmp (line, name, length) == 0 && line[length] == ':') {
            const char *value = line + length + 1;
            value += strspn (value, " ");
            size_t n = strcspn (value, "\r\n");
            snprintf (out, size, "%.*s", (int)(n < size ? n : size - 1), value);
            return out;
        }
    }
    return NULL;
}

static int
setup_system (void **state)
{
    (void)state;
    s.port = harness_free_port ();
    s.http_port = harness_free_port ();
    s.redis_port = harness_free_port ();
    char config[512];
    snprintf (config, sizeof config,
              "http = { endpoint = \"127.0.0.1:%d\"; };\n"
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              /* A known service nobody offers keeps a request pending, so
               * a SIGTERM'd broker stays draining until stopped again. */
              "broker = { drain_ms = 60000; };\n"
              "services = ( { name = \"wait.forever\"; department = \"test\"; } );\n",
              s.http_port, s.redis_port);
    s.broker = harness_start_broker (s.port, config);
    s.client = onenet_client_new (harness_endpoint (s.port), NULL, 0);
    return s.client ? 0 : -1;
}

static int
teardown_system (void **state)
{
    (void)state;
    onenet_client_destroy (&s.client);
    harness_cleanup ();
    return 0;
}

static void
test_healthz (void **state)
{
    (void)state;
    response_t response = http_get ("/healthz");
    assert_int_equal (response.code, 200);
    assert_string_equal (response.body, "ok\n");
    response_free (&response);
    /* The query string is not part of the path. */
    response = http_get ("/healthz?verbose=1");
    assert_int_equal (response.code, 200);
    response_free (&response);
}

/* Runs first among the Redis tests: nothing listens on the Redis port yet. */
static void
test_ready_after_redis (void **state)
{
    (void)state;
    response_t response = http_get ("/readyz");
    assert_int_equal (response.code, 503);
    assert_non_null (strstr (response.body, "redis not connected"));
    /* One line of reason. */
    assert_int_equal (strchr (response.body, '\n') - response.body + 1, (long)response.body_size);
    response_free (&response);

    harness_start_redis (s.redis_port, false);
    int code = 0;
    /* The broker reconnects with a backoff of at most 5 s. */
    for (int i = 0; i < 200 && code != 200; i++) {
        response = http_get ("/readyz");
        code = response.code;
        response_free (&response);
        if (code != 200)
            usleep (100000);
    }
    assert_int_equal (code, 200);
}

/* Every sample line of the exposition format, version 0.0.4. */
#define LABEL "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
#define SAMPLE_RE                                                                                  \
    "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{(" LABEL "(," LABEL ")*)?\\})? ([0-9eE+.-]+|NaN|\\+Inf|-Inf)$"
#define COMMENT_RE                                                                                 \
    "^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* "                          \
    "(counter|gauge|histogram|summary|untyped))$"

/* Checks every line of a scrape; returns how many samples there were. */
static size_t
check_grammar (const char *text)
{
    regex_t sample, comment;
    assert_int_equal (regcomp (&sample, SAMPLE_RE, REG_EXTENDED | REG_NOSUB), 0);
    assert_int_equal (regcomp (&comment, COMMENT_RE, REG_EXTENDED | REG_NOSUB), 0);
    size_t samples = 0;
    char *copy = strdup (text);
    assert_non_null (copy);
    assert_true (*text && text[strlen (text) - 1] == '\n');
    char *save = NULL;
    for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        bool ok = line[0] == '#' ? regexec (&comment, line, 0, NULL, 0) == 0
                                 : regexec (&sample, line, 0, NULL, 0) == 0;
        if (!ok)
            fail_msg ("not exposition format 0.0.4: \"%s\"", line);
        samples += line[0] != '#';
    }
    free (copy);
    regfree (&sample);
    regfree (&comment);
    return samples;
}

/* The value of the sample `series` (name with its labels exactly as the
 * broker writes them); fails the test if absent. */
static double
value_of (const char *text, const char *series)
{
    size_t length = strlen (series);
    for (const char *line = text; *line;) {
        if (strncmp (line, series, length) == 0 && line[length] == ' ')
            return strtod (line + length + 1, NULL);
        const char *end = strchr (line, '\n');
        line = end ? end + 1 : line + strlen (line);
    }
    fail_msg ("no sample %s in /metrics", series);
    return -1;
}

static char *
scrape (void)
{
    response_t response = http_get ("/metrics");
    assert_int_equal (response.code, 200);
    char type[128];
    assert_non_null (header (&response, "Content-Type", type, sizeof type));
    assert_int_equal (strncmp (type, "text/plain; version=0.0.4", 25), 0);
    char *text = strdup (response.body);
    response_free (&response);
    assert_non_null (text);
    check_grammar (text);
    return text;
}

#define ECHO_OK "onenet_requests_total{service=\"test.echo\",status=\"OK\"}"
#define ECHO_COUNT "onenet_request_duration_seconds_count{service=\"test.echo\"}"
#define ECHO_INF "onenet_request_duration_seconds_bucket{service=\"test.echo\",le=\"+Inf\"}"

/* Histogram buckets of test.echo are cumulative, and _count is +Inf's. */
static void
check_histogram (const char *text)
{
    static const char *const bounds[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                         "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                         "1",      "2.5",   "5",      "+Inf"};
    double previous = 0;
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        char series[160];
        snprintf (series, sizeof series,
                  "onenet_request_duration_seconds_bucket{service=\"test.echo\",le=\"%s\"}",
                  bounds[i]);
        double count = value_of (text, series);
        assert_true (count >= previous);
        previous = count;
    }
    assert_true (value_of (text, ECHO_COUNT) == value_of (text, ECHO_INF));
    assert_true (value_of (text, "onenet_request_duration_seconds_sum{service=\"test.echo\"}") >=
                 0);
}

static void
test_metrics_move_with_calls (void **state)
{
    (void)state;
    harness_start_adapter (s.port, "m1", NULL);
    assert_true (harness_wait_instances (s.port, "test.echo", 1, 5000));
    char *before = scrape ();
    assert_true (value_of (before, "onenet_instances{service=\"test.echo\"}") == 1);
    assert_true (value_of (before, "onenet_adapters_connected") >= 1);
    check_histogram (before);

    enum { CALLS = 5 };
    for (int i = 0; i < CALLS; i++) {
        uint8_t body[64];
        size_t size = harness_echo_body (body, sizeof body, "metrics", i == 0 ? 30 : 0);
        onenet_call_options_t options = {.timeout_ms = 3000};
        onenet_reply_t *reply = onenet_client_call (s.client, "test.echo", body, size, &options);
        assert_int_equal (onenet_reply_status (reply), ONENET_OK);
        onenet_reply_destroy (&reply);
    }
    char *after = scrape ();
    assert_true (value_of (after, ECHO_OK) - value_of (before, ECHO_OK) == CALLS);
    assert_true (value_of (after, ECHO_COUNT) - value_of (before, ECHO_COUNT) == CALLS);
    assert_true (value_of (after, "onenet_replies_total{status=\"OK\"}") -
                     value_of (before, "onenet_replies_total{status=\"OK\"}") >=
                 CALLS);
    assert_true (value_of (after, "onenet_requests_received_total") >
                 value_of (before, "onenet_requests_received_total"));
    /* anonymous -> test: each call crosses departments, one audit entry */
    assert_true (value_of (after, "onenet_audit_recorded_total") -
                     value_of (before, "onenet_audit_recorded_total") >=
                 CALLS);
    assert_true (value_of (after, "onenet_audit_file_errors_total") == 0);
    check_histogram (after);
    /* The call with a 30 ms delay is above the 10 ms bucket. */
    assert_true (
        value_of (after, ECHO_INF) >
        value_of (after,
                  "onenet_request_duration_seconds_bucket{service=\"test.echo\",le=\"0.01\"}"));
    assert_true (value_of (after, "onenet_request_duration_seconds_sum{service=\"test.echo\"}") >=
                 0.03);
    assert_true (value_of (after, "onenet_requests_in_flight") == 0);
    assert_true (value_of (after, "onenet_requests_queued") == 0);
    assert_true (value_of (after, "onenet_requests_pending_max") > 0);
    assert_true (value_of (after, "onenet_redis_up") == 1);
    assert_true (value_of (after, "onenet_uptime_seconds") >= 0);
    assert_non_null (strstr (after, "onenet_build_info{version=\""));
    /* A family's samples follow its TYPE line, never before it. */
    const char *type = strstr (after, "# TYPE onenet_requests_total counter\n");
    assert_non_null (type);
    assert_true (strstr (after, ECHO_OK) > type);
    free (before);
    free (after);
}

static void
test_not_found_and_method (void **state)
{
    (void)state;
    response_t response = http_get ("/nope");
    assert_int_equal (response.code, 404);
    response_free (&response);
    response = http_get ("/metrics/extra");
    assert_int_equal (response.code, 404);
    response_free (&response);
    response = http_raw ("POST /metrics HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi");
    assert_int_equal (response.code, 405);
    char allow[64];
    assert_non_null (header (&response, "Allow", allow, sizeof allow));
    assert_non_null (strstr (allow, "GET"));
    response_free (&response);
    response = http_raw ("DELETE /healthz HTTP/1.0\r\n\r\n");
    assert_int_equal (response.code, 405);
    response_free (&response);
    /* HEAD is GET without the body. */
    response = http_raw ("HEAD /healthz HTTP/1.0\r\n\r\n");
    assert_int_equal (response.code, 200);
    assert_int_equal (response.body_size, 0);
    response_free (&response);
    /* The broker still serves HTTP and ZeroMQ after all that. */
    response = http_get ("/healthz");
    assert_int_equal (response.code, 200);
    response_free (&response);
    onenet_call_options_t options = {.timeout_ms = 2000};
    onenet_reply_t *reply = onenet_client_call (s.client, "onenet.ping", NULL, 0, &options);
    assert_int_equal (onenet_reply_status (reply), ONENET_OK);
    onenet_reply_destroy (&reply);
}

/* After SIGTERM the broker finishes what is pending but takes nothing new:
 * not ready, still alive. */
static void
test_not_ready_while_draining (void **state)
{
    (void)state;
    onenet_call_options_t options = {.timeout_ms = 60000};
    assert_true (onenet_client_send (s.client, "wait.forever", NULL, 0, &options) > 0);
    bool queued = false;
    for (int i = 0; i < 100 && !queued; i++) {
        char *text = scrape ();
        queued = value_of (text, "onenet_requests_queued") == 1;
        free (text);
        if (!queued)
            usleep (50000);
    }
    assert_true (queued);
    assert_int_equal (kill (s.broker, SIGTERM), 0);
    response_t response = {0};
    for (int i = 0; i < 100; i++) {
        response = http_get ("/readyz");
        if (response.code == 503)
            break;
        response_free (&response);
        usleep (50000);
    }
    assert_int_equal (response.code, 503);
    assert_non_null (strstr (response.body, "draining"));
    response_free (&response);
    response = http_get ("/healthz");
    assert_int_equal (response.code, 200);
    response_free (&response);
    /* A second SIGTERM ends the drain; the pending call is answered. */
    char log_name[64];
    snprintf (log_name, sizeof log_name, "broker-%d.log", s.port);
    assert_true (harness_stop_clean (s.broker, log_name));
    onenet_reply_t *reply = onenet_client_recv (s.client, 5000);
    assert_non_null (reply);
    assert_int_equal (onenet_reply_status (reply), ONENET_UNAVAILABLE);
    onenet_reply_destroy (&reply);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_healthz),
        cmocka_unit_test (test_ready_after_redis),
        cmocka_unit_test (test_metrics_move_with_calls),
        cmocka_unit_test (test_not_found_and_method),
        cmocka_unit_test (test_not_ready_while_draining),
        cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests_name ("integration_http", tests, setup_system, teardown_system);
}
