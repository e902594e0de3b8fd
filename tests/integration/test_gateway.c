/*
 * test_gateway.c - onenet-gateway end to end: onenet-seed's synthetic
 * stores, the three reference department adapters, a real redis-server,
 * the broker and the gateway, all on free ports of 127.0.0.1. HTTP is
 * spoken over plain sockets, as a browser would, so nothing of the
 * gateway's own code is trusted by the test.
 *
 * Covers every endpoint, authentication (no token, bad token, wrong
 * role), a department down (partial view), the alert stream resumed
 * with Last-Event-ID after a dropped connection with no alert missed,
 * malformed JSON and oversized bodies, and every JSON response against
 * the required fields of its schema in docs/openapi.yaml.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include "harness.h"

#define CLERK "demo-clerk-token"
#define COORDINATOR "demo-coordinator-token"
#define AUDITOR "demo-auditor-token"
#define OPERATOR "demo-operator-token"
#define MAX_BODY 65536

static const char *const s_departments[] = {"public_security", "social_security", "emergency"};
static const char *const s_binaries[] = {
    "onenet-adapter-public-security", "onenet-adapter-social-security", "onenet-adapter-emergency"};

typedef struct {
    int broker_port, redis_port, alerts_port, http_port;
    pid_t broker, redis, gateway;
    pid_t adapters[3];
    char data[400];
    json_t *schemas; /* schema name -> array of required property names */
    int alert_serial;
} system_t;

static system_t s;

/* --- HTTP over a plain socket --- */

typedef struct {
    int code;
    char headers[4096];
    char *body;
    size_t size;
    json_t *json; /* the body parsed, when it is JSON */
} response_t;

static void
response_free (response_t *r)
{
    free (r->body);
    json_decref (r->json);
    memset (r, 0, sizeof *r);
}

static int
s_connect (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)s.http_port)};
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    assert_int_equal (connect (fd, (struct sockaddr *)&addr, sizeof addr), 0);
    struct timeval tv = {15, 0};
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void
s_send_all (int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = send (fd, data, size, MSG_NOSIGNAL);
        if (n <= 0)
            return; /* the server may close early (413) */
        data += n;
        size -= (size_t)n;
    }
}

/* Sends one request (Connection: close) and reads the whole response.
 * token NULL: no Authorization; extra: more header lines ("X: y\r\n");
 * declared_length >= 0 overrides Content-Length (body may be shorter). */
static response_t
http_full (const char *method, const char *path, const char *token, const char *extra,
           const char *body, size_t body_size, long declared_length)
{
    int fd = s_connect ();
    char head[2048];
    int n = snprintf (head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s%s", method,
                      path, token ? "Authorization: Bearer " : "", token ? token : "",
                      token ? "\r\n" : "", extra ? extra : "");
    if (body || declared_length >= 0)
        n += snprintf (head + n, sizeof head - (size_t)n, "Content-Length: %ld\r\n",
                       declared_length >= 0 ? declared_length : (long)body_size);
    n += snprintf (head + n, sizeof head - (size_t)n, "\r\n");
    s_send_all (fd, head, (size_t)n);
    if (body)
        s_send_all (fd, body, body_size);
    size_t capacity = 65536, size = 0;
    char *raw = malloc (capacity);
    assert_non_null (raw);
    for (;;) {
        if (size + 4096 > capacity)
            raw = realloc (raw, capacity *= 2);
        ssize_t got = recv (fd, raw + size, capacity - size - 1, 0);
        if (got <= 0)
            break;
        size += (size_t)got;
    }
    close (fd);
    raw[size] = '\0';
    response_t r = {0};
    char *end = strstr (raw, "\r\n\r\n");
    if (!end)
        fail_msg ("%s %s: no HTTP response (%zu bytes)", method, path, size);
    sscanf (raw, "HTTP/1.1 %d", &r.code);
    snprintf (r.headers, sizeof r.headers, "%.*s", (int)(end - raw), raw);
    r.size = size - (size_t)(end + 4 - raw);
    r.body = malloc (r.size + 1);
    memcpy (r.body, end + 4, r.size);
    r.body[r.size] = '\0';
    free (raw);
    if (strstr (r.headers, "application/json"))
        r.json = json_loadb (r.body, r.size, 0, NULL);
    return r;
}

static response_t
http (const char *method, const char *path, const char *token, const char *body)
{
    return http_full (method, path, token, NULL, body, body ? strlen (body) : 0, -1);
}

/* --- the OpenAPI document: required properties of each schema --- */

static void
load_schemas (void)
{
    char path[512];
    snprintf (path, sizeof path, "%s/docs/openapi.yaml", getenv ("ONENET_SOURCE_DIR"));
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    s.schemas = json_object ();
    char line[1024], current[128] = "";
    bool in_schemas = false;
    while (fgets (line, sizeof line, file)) {
        char name[128], list[900];
        if (strncmp (line, "  schemas:", 10) == 0) {
            in_schemas = true;
            continue;
        }
        if (!in_schemas)
            continue;
        if (sscanf (line, "    %127[A-Za-z]:", name) == 1 && line[4] != ' ')
            snprintf (current, sizeof current, "%s", name);
        else if (*current && strncmp (line, "      required: []", 18) == 0)
            json_object_set_new (s.schemas, current, json_array ());
        else if (*current && sscanf (line, "      required: [%899[^]]]", list) == 1) {
            json_t *required = json_array ();
            for (char *item = strtok (list, ", "); item; item = strtok (NULL, ", "))
                json_array_append_new (required, json_string (item));
            json_object_set_new (s.schemas, current, required);
        }
    }
    fclose (file);
    assert_non_null (json_object_get (s.schemas, "Error"));
    assert_non_null (json_object_get (s.schemas, "PersonView"));
}

/* Fails unless value is an object with every property the schema requires. */
static void
assert_schema (const json_t *value, const char *schema)
{
    const json_t *required = json_object_get (s.schemas, schema);
    if (!required)
        fail_msg ("docs/openapi.yaml has no schema %s", schema);
    if (!json_is_object (value))
        fail_msg ("%s: not a JSON object", schema);
    size_t i;
    const json_t *name;
    json_array_foreach (required, i, name) if (!json_object_get (value, json_string_value (name)))
        fail_msg ("%s: required property %s missing", schema, json_string_value (name));
}

/* An error response: the code, a typed status, its schema. */
static void
assert_error (response_t *r, int code, const char *status)
{
    if (r->code != code)
        fail_msg ("expected HTTP %d, got %d: %s", code, r->code, r->body);
    assert_schema (r->json, "Error");
    assert_string_equal (json_string_value (json_object_get (r->json, "status")), status);
}

static void
assert_ok (response_t *r, const char *schema)
{
    if (r->code != 200)
        fail_msg ("expected HTTP 200, got %d: %s", r->code, r->body);
    assert_schema (r->json, schema);
}

/* --- the system --- */

static pid_t
start_department (size_t index)
{
    char bin[512], db[512], endpoint[64], log_name[64];
    snprintf (bin, sizeof bin, "%s", harness_bin (s_binaries[index]));
    snprintf (db, sizeof db, "%s/%s.db", s.data, s_departments[index]);
    snprintf (endpoint, sizeof endpoint, "%s", harness_endpoint (s.broker_port));
    snprintf (log_name, sizeof log_name, "%s.log", s_departments[index]);
    const char *argv[] = {bin, "--broker", endpoint, "--db", db, "--instance", "i1", NULL};
    return harness_spawn (log_name, argv);
}

static pid_t spawn_gateway (int http_port, int broker_port, int alerts_port, const char *name);

static void
start_gateway (void)
{
    s.gateway = spawn_gateway (s.http_port, s.broker_port, s.alerts_port, "gateway");
}

/* Starts a gateway with the four demo users and waits until it listens. */
static pid_t
spawn_gateway (int http_port, int broker_port, int alerts_port, const char *name)
{
    const char *source = getenv ("ONENET_SOURCE_DIR");
    char path[512], bin[512];
    snprintf (path, sizeof path, "%s/%s.cfg", harness_tempdir (), name);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file,
             "gateway = { address = \"127.0.0.1\"; port = %d;\n"
             "  broker = \"tcp://127.0.0.1:%d\"; alerts = \"tcp://127.0.0.1:%d\";\n"
             "  web_root = \"%s/web\"; openapi = \"%s/docs/openapi.yaml\";\n"
             "  max_body_bytes = %d; request_timeout_ms = 4000; max_connections = 32;\n"
             "  idle_timeout_s = 30; keepalive_s = 1; client_pool = 4; };\n"
             "users = (\n"
             " { name = \"clerk.demo\"; department = \"civil_affairs\"; role = \"clerk\";\n"
             "   token_sha256 = "
             "\"47966224ccb68fcb36ac8469201c8761f4c146d2ccd8f1ad849acd9478d83da5\"; },\n"
             " { name = \"coordinator.demo\"; department = \"emergency\"; role = \"coordinator\";\n"
             "   token_sha256 = "
             "\"02997591fd65f9ec06d7e5e98b54768da57dd30fe1c2dc93527e86901df99731\"; },\n"
             " { name = \"auditor.demo\"; department = \"audit_office\"; role = \"auditor\";\n"
             "   token_sha256 = "
             "\"d0ad8bb68835a23576c95ef7ddd7c1ffaec451daaf8de46902e7e82b1786886c\"; },\n"
             " { name = \"operator.demo\"; department = \"it_operations\"; role = \"operator\";\n"
             "   token_sha256 = "
             "\"61112491d046c3f6f8ab801f170d9b2d0c734a17ceff60dee92123fb507cfc3f\"; } );\n",
             http_port, broker_port, alerts_port, source, source, MAX_BODY);
    fclose (file);
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-gateway"));
    const char *argv[] = {bin, "-c", path, NULL};
    char log_name[80];
    snprintf (log_name, sizeof log_name, "%s.log", name);
    pid_t pid = harness_spawn (log_name, argv);
    for (int i = 0; i < 100; i++) {
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)http_port)};
        inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
        int rc = connect (fd, (struct sockaddr *)&addr, sizeof addr);
        close (fd);
        if (rc == 0)
            return pid;
        usleep (50000);
    }
    fail_msg ("the gateway did not listen on %d", http_port);
    return -1;
}

static int
setup_system (void **state)
{
    (void)state;
    snprintf (s.data, sizeof s.data, "%s/stores", harness_tempdir ());
    char seed[512];
    snprintf (seed, sizeof seed, "%s", harness_bin ("onenet-seed"));
    const char *argv[] = {seed,     "--out", s.data,    "--people", "200",
                          "--seed", "11",    "--quiet", NULL};
    if (harness_run ("seed.log", argv) != 0)
        return -1;
    load_schemas ();
    s.redis_port = harness_free_port ();
    s.redis = harness_start_redis (s.redis_port, false);
    s.broker_port = harness_free_port ();
    s.alerts_port = harness_free_port ();
    s.http_port = harness_free_port ();
    char config[2048];
    snprintf (
        config, sizeof config,
        "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
        "alerts = { endpoint = \"tcp://127.0.0.1:%d\"; spool = \"%s/spool\"; };\n"
        "audit = { file = \"%s/audit.log\"; };\n"
        /* Without CURVE the gateway's connection is "anonymous": trusted
         * here to act for its users, as the gateway's key is in production. */
        "delegates = [ \"anonymous\" ];\n"
        "view = { timeout_ms = 1500; cache_ttl_s = 300; stale_ttl_s = 3600; };\n"
        "departments = ( { name = \"public_security\"; view_service = \"ps.view.person\"; },\n"
        "  { name = \"social_security\"; view_service = \"ss.view.person\"; },\n"
        "  { name = \"emergency\"; view_service = \"em.view.person\"; } );\n",
        s.redis_port, s.alerts_port, harness_tempdir (), harness_tempdir ());
    s.broker = harness_start_broker (s.broker_port, config);
    for (size_t i = 0; i < 3; i++)
        s.adapters[i] = start_department (i);
    assert_true (harness_wait_instances (s.broker_port, "ps.view.person", 1, 10000));
    assert_true (harness_wait_instances (s.broker_port, "ss.view.person", 1, 10000));
    assert_true (harness_wait_instances (s.broker_port, "em.view.person", 1, 10000));
    start_gateway ();
    return 0;
}

static int
teardown_system (void **state)
{
    (void)state;
    json_decref (s.schemas);
    harness_cleanup ();
    return 0;
}

/* A resident ID the SQL query over the stores (ps, ss, em) yields. */
static void
pick (const char *sql, int skip, char out[19])
{
    char path[512];
    snprintf (path, sizeof path, "%s/public_security.db", s.data);
    sqlite3 *db = NULL;
    assert_int_equal (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char attach[1600];
    snprintf (attach, sizeof attach,
              "ATTACH '%s/public_security.db' AS ps; ATTACH '%s/social_security.db' AS ss;"
              " ATTACH '%s/emergency.db' AS em;",
              s.data, s.data, s.data);
    assert_int_equal (sqlite3_exec (db, attach, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), SQLITE_OK);
    int row = -1;
    while (row < skip && sqlite3_step (stmt) == SQLITE_ROW)
        row++;
    assert_int_equal (row, skip);
    snprintf (out, 19, "%s", (const char *)sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

#define IN_PS_AND_SS                                                                               \
    "SELECT p.resident_id FROM ps.persons p JOIN ss.insured_persons i USING (resident_id)"         \
    " ORDER BY p.resident_id"

/* A synthetic CAP 1.2 alert with a unique identifier; returns it. */
static const char *
cap_alert (char *xml, size_t size, const char *severity)
{
    static char identifier[64];
    snprintf (identifier, sizeof identifier, "gw.test.%d.%d", (int)getpid (), ++s.alert_serial);
    snprintf (
        xml, size,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"
        "  <identifier>%s</identifier><sender>duty@em.example.gov.cn</sender>\n"
        "  <sent>2026-07-12T03:20:00+08:00</sent><status>Exercise</status>\n"
        "  <msgType>Alert</msgType><scope>Public</scope>\n"
        "  <info><category>Met</category><event>测试暴雨 test rain</event>\n"
        "    <urgency>Immediate</urgency><severity>%s</severity><certainty>Likely</certainty>\n"
        "    <headline>Synthetic test alert %d</headline>\n"
        "    <area><areaDesc>锦江区 test area</areaDesc>\n"
        "      <geocode><valueName>GB/T 2260</valueName><value>510104</value></geocode></area>\n"
        "  </info>\n</alert>\n",
        identifier, severity, s.alert_serial);
    return identifier;
}

/* Publishes an alert through the gateway; returns its stream id (static). */
static const char *
publish (const char *severity, char *identifier_out, size_t identifier_size)
{
    static char stream_id[64];
    char xml[4096];
    const char *identifier = cap_alert (xml, sizeof xml, severity);
    if (identifier_out)
        snprintf (identifier_out, identifier_size, "%s", identifier);
    response_t r = http ("POST", "/api/v1/alerts", COORDINATOR, xml);
    assert_ok (&r, "PublishReply");
    snprintf (stream_id, sizeof stream_id, "%s",
              json_string_value (json_object_get (r.json, "stream_id")));
    assert_true (strlen (stream_id) > 0);
    response_free (&r);
    return stream_id;
}

/* --- tests --- */

static void
test_auth (void **state)
{
    (void)state;
    response_t r = http ("GET", "/api/v1/services", NULL, NULL);
    assert_error (&r, 401, "DENIED");
    assert_non_null (strstr (r.headers, "WWW-Authenticate: Bearer"));
    response_free (&r);
    r = http ("GET", "/api/v1/services", "not-a-token", NULL);
    assert_error (&r, 401, "DENIED");
    response_free (&r);
    r = http_full ("GET", "/api/v1/services", NULL, "Authorization: Basic Y2xlcms6eA==\r\n", NULL,
                   0, -1);
    assert_error (&r, 401, "DENIED");
    response_free (&r);
    /* Wrong role on each guarded family of endpoints. */
    r = http ("GET", "/api/v1/alerts", CLERK, NULL);
    assert_error (&r, 403, "DENIED");
    response_free (&r);
    r = http ("GET", "/api/v1/services", AUDITOR, NULL);
    assert_error (&r, 403, "DENIED");
    response_free (&r);
    r = http ("GET", "/api/v1/audit", COORDINATOR, NULL);
    assert_error (&r, 403, "DENIED");
    response_free (&r);
    r = http ("GET", "/api/v1/persons/110101199003074578/view?purpose=x", OPERATOR, NULL);
    assert_error (&r, 403, "DENIED");
    response_free (&r);
    r = http ("POST", "/api/v1/services/ps.person.get", CLERK, "{}");
    assert_error (&r, 403, "DENIED");
    response_free (&r);
    r = http ("GET", "/api/v1/alerts/stream", CLERK, NULL);
    assert_error (&r, 403, "DENIED");
    response_free (&r);
    /* Who am I, for every role. */
    r = http ("GET", "/api/v1/me", COORDINATOR, NULL);
    assert_ok (&r, "Me");
    assert_string_equal (json_string_value (json_object_get (r.json, "role")), "coordinator");
    response_free (&r);
    /* Unknown endpoints and methods. */
    r = http ("GET", "/api/v1/nothing", CLERK, NULL);
    assert_error (&r, 404, "NOT_FOUND");
    response_free (&r);
    r = http ("DELETE", "/api/v1/services", OPERATOR, NULL);
    assert_error (&r, 405, "BAD_REQUEST");
    response_free (&r);
}

static void
test_openapi_and_console (void **state)
{
    (void)state;
    response_t r = http ("GET", "/api/v1/openapi.yaml", NULL, NULL);
    assert_int_equal (r.code, 200);
    assert_non_null (strstr (r.body, "openapi: 3"));
    assert_non_null (strstr (r.body, "/alerts/stream:"));
    response_free (&r);
    r = http ("GET", "/", NULL, NULL);
    assert_int_equal (r.code, 200);
    assert_non_null (strstr (r.headers, "text/html"));
    response_free (&r);
    r = http ("GET", "/../../etc/passwd", NULL, NULL);
    assert_int_equal (r.code, 404);
    response_free (&r);
    r = http ("GET", "/no-such-page.html", NULL, NULL);
    assert_int_equal (r.code, 404);
    response_free (&r);
}

static void
test_services (void **state)
{
    (void)state;
    const char *tokens[] = {CLERK, COORDINATOR, OPERATOR};
    for (size_t t = 0; t < 3; t++) {
        response_t r = http ("GET", "/api/v1/services", tokens[t], NULL);
        assert_ok (&r, "ServicesReply");
        json_t *services = json_object_get (r.json, "services");
        bool found = false;
        size_t i;
        json_t *service;
        json_array_foreach (services, i, service)
        {
            assert_schema (service, "ServiceInfo");
            if (strcmp (json_string_value (json_object_get (service, "name")), "ps.person.get") ==
                0) {
                found = true;
                json_t *instance = json_array_get (json_object_get (service, "instances"), 0);
                assert_schema (instance, "InstanceInfo");
            }
        }
        assert_true (found);
        response_free (&r);
    }
}

static void
test_person_view (void **state)
{
    (void)state;
    char id[19], path[200];
    pick (IN_PS_AND_SS, 0, id);
    snprintf (path, sizeof path, "/api/v1/persons/%s/view?purpose=window%%20service%%20test", id);
    response_t r = http ("GET", path, CLERK, NULL);
    assert_ok (&r, "PersonView");
    assert_string_equal (json_string_value (json_object_get (r.json, "resident_id")), id);
    json_t *sections = json_object_get (r.json, "sections");
    assert_int_equal (json_array_size (sections), 3);
    size_t i;
    json_t *section;
    json_array_foreach (sections, i, section)
    {
        assert_schema (section, "Section");
        if (strcmp (json_string_value (json_object_get (section, "department")),
                    "public_security") == 0) {
            assert_string_equal (json_string_value (json_object_get (section, "status")),
                                 "SECTION_OK");
            assert_true (json_array_size (json_object_get (section, "fields")) > 0);
            assert_schema (json_array_get (json_object_get (section, "fields"), 0), "Field");
        }
    }
    assert_false (json_is_true (json_object_get (r.json, "partial")));
    response_free (&r);
    /* The resident ID is checked before the broker is asked. */
    char bad[19];
    snprintf (bad, sizeof bad, "%s", id);
    bad[17] = bad[17] == '0' ? '1' : '0';
    snprintf (path, sizeof path, "/api/v1/persons/%s/view?purpose=test", bad);
    r = http ("GET", path, CLERK, NULL);
    assert_error (&r, 400, "BAD_REQUEST");
    assert_non_null (strstr (json_string_value (json_object_get (r.json, "message")), "check"));
    response_free (&r);
    /* A purpose is required. */
    snprintf (path, sizeof path, "/api/v1/persons/%s/view", id);
    r = http ("GET", path, CLERK, NULL);
    assert_error (&r, 400, "BAD_REQUEST");
    assert_non_null (strstr (json_string_value (json_object_get (r.json, "message")), "purpose"));
    response_free (&r);
}

static void
test_partial_view (void **state)
{
    (void)state;
    harness_stop (s.adapters[1], SIGTERM); /* social security goes down */
    s.adapters[1] = 0;
    usleep (500000);
    char id[19], path[200];
    pick (IN_PS_AND_SS, 1, id);
    snprintf (path, sizeof path, "/api/v1/persons/%s/view?purpose=partial%%20test&fresh=true", id);
    response_t r = http ("GET", path, CLERK, NULL);
    assert_ok (&r, "PersonView");
    assert_true (json_is_true (json_object_get (r.json, "partial")));
    size_t i;
    json_t *section;
    bool seen = false;
    json_array_foreach (json_object_get (r.json, "sections"), i, section)
    {
        const char *department = json_string_value (json_object_get (section, "department"));
        const char *status = json_string_value (json_object_get (section, "status"));
        if (strcmp (department, "social_security") == 0) {
            seen = true;
            assert_string_not_equal (status, "SECTION_OK");
        } else if (strcmp (department, "public_security") == 0)
            assert_string_equal (status, "SECTION_OK");
    }
    assert_true (seen);
    response_free (&r);
    s.adapters[1] = start_department (1);
    assert_true (harness_wait_instances (s.broker_port, "ss.view.person", 1, 10000));
}

static void
test_service_call (void **state)
{
    (void)state;
    char id[19], body[200];
    pick (IN_PS_AND_SS, 2, id);
    snprintf (body, sizeof body, "{\"resident_id\": \"%s\"}", id);
    response_t r =
        http ("POST", "/api/v1/services/ps.person.get?purpose=operator%20check", OPERATOR, body);
    assert_ok (&r, "ServiceReply");
    assert_non_null (strstr (r.body, id));
    response_free (&r);
    /* Malformed JSON: 400 naming where. */
    r = http ("POST", "/api/v1/services/ps.person.get", OPERATOR, "{\"resident_id\": ");
    assert_error (&r, 400, "BAD_REQUEST");
    assert_non_null (strstr (json_string_value (json_object_get (r.json, "message")), "line 1"));
    response_free (&r);
    /* A field the request type does not have: 400 naming it. */
    r = http ("POST", "/api/v1/services/ps.person.get", OPERATOR, "{\"no_such_field\": 1}");
    assert_error (&r, 400, "BAD_REQUEST");
    assert_non_null (
        strstr (json_string_value (json_object_get (r.json, "message")), "no_such_field"));
    response_free (&r);
    /* Oversized: declared, refused before the body is read. */
    r = http_full ("POST", "/api/v1/services/ps.person.get", OPERATOR, NULL, "{", 1,
                   (long)MAX_BODY * 4);
    assert_error (&r, 413, "RESOURCE_EXHAUSTED");
    response_free (&r);
    /* Oversized, sent in full with chunked encoding (no length known). */
    size_t big = MAX_BODY + 1000;
    char *chunked = malloc (big + 64);
    int head = snprintf (chunked, 64, "%zx\r\n", big);
    memset (chunked + head, ' ', big);
    memcpy (chunked + head + big, "\r\n0\r\n\r\n", 8);
    r = http_full ("POST", "/api/v1/services/ps.person.get", OPERATOR,
                   "Transfer-Encoding: chunked\r\n", chunked, (size_t)head + big + 7, -1);
    free (chunked);
    assert_error (&r, 413, "RESOURCE_EXHAUSTED");
    response_free (&r);
    /* Unknown service; broker services only through their endpoints. */
    r = http ("POST", "/api/v1/services/xx.nothing.here", OPERATOR, "{}");
    assert_error (&r, 404, "UNKNOWN_SERVICE");
    response_free (&r);
    r = http ("POST", "/api/v1/services/onenet.alert.publish", OPERATOR, "{}");
    assert_error (&r, 403, "DENIED");
    response_free (&r);
    /* The adapter's typed errors come through: a valid ID nobody has (the
     * seeded people are drawn elsewhere), and an invalid one. */
    r = http ("POST", "/api/v1/services/ps.person.get", OPERATOR,
              "{\"resident_id\": \"110101199003074573\"}");
    assert_error (&r, 404, "NOT_FOUND");
    response_free (&r);
    r = http ("POST", "/api/v1/services/ps.person.get", OPERATOR,
              "{\"resident_id\": \"11010119900307457X\"}");
    assert_error (&r, 400, "BAD_REQUEST");
    response_free (&r);
}

static void
test_alerts (void **state)
{
    (void)state;
    char identifier[64], xml[4096];
    const char *stream_id = publish ("Severe", identifier, sizeof identifier);
    char first[64];
    snprintf (first, sizeof first, "%s", stream_id);
    /* Listed, with filters. */
    response_t r =
        http ("GET", "/api/v1/alerts?severity=Severe&area=5101&category=Met", COORDINATOR, NULL);
    assert_ok (&r, "AlertBatch");
    assert_non_null (strstr (r.body, identifier));
    assert_schema (json_array_get (json_object_get (r.json, "alerts"), 0), "AlertEnvelope");
    response_free (&r);
    r = http ("GET", "/api/v1/alerts?severity=Minor", COORDINATOR, NULL);
    assert_ok (&r, "AlertBatch");
    assert_null (strstr (r.body, identifier));
    response_free (&r);
    r = http ("GET", "/api/v1/alerts?area=44", COORDINATOR, NULL);
    assert_ok (&r, "AlertBatch");
    assert_null (strstr (r.body, identifier));
    response_free (&r);
    char path[200];
    snprintf (path, sizeof path, "/api/v1/alerts?since=%s", first);
    r = http ("GET", path, COORDINATOR, NULL);
    assert_ok (&r, "AlertBatch");
    assert_null (strstr (r.body, identifier));
    response_free (&r);
    /* Unacknowledged, then acknowledged. */
    r = http ("GET", "/api/v1/alerts?unacked=true", COORDINATOR, NULL);
    assert_ok (&r, "AlertBatch");
    assert_non_null (strstr (r.body, identifier));
    response_free (&r);
    snprintf (path, sizeof path, "/api/v1/alerts/%s/ack", identifier);
    r = http ("POST", path, COORDINATOR, NULL);
    assert_ok (&r, "Ack");
    assert_non_null (
        strstr (json_string_value (json_object_get (r.json, "by")), "coordinator.demo"));
    response_free (&r);
    r = http ("GET", "/api/v1/alerts?unacked=true", COORDINATOR, NULL);
    assert_ok (&r, "AlertBatch");
    assert_null (strstr (r.body, identifier));
    response_free (&r);
    r = http ("POST", "/api/v1/alerts/never.published.1/ack", COORDINATOR, NULL);
    assert_error (&r, 404, "NOT_FOUND");
    response_free (&r);
    /* Invalid CAP: 400 with the parser's reason. */
    cap_alert (xml, sizeof xml, "Bad");
    r = http ("POST", "/api/v1/alerts", COORDINATOR, xml);
    assert_error (&r, 400, "BAD_REQUEST");
    assert_non_null (strstr (json_string_value (json_object_get (r.json, "message")), "severity"));
    response_free (&r);
    r = http ("POST", "/api/v1/alerts", COORDINATOR, "not xml at all");
    assert_error (&r, 400, "BAD_REQUEST");
    response_free (&r);
    /* Invalid filters. */
    r = http ("GET", "/api/v1/alerts?category=Weather", COORDINATOR, NULL);
    assert_error (&r, 400, "BAD_REQUEST");
    response_free (&r);
    r = http ("GET", "/api/v1/alerts/stream?severity=Awful", COORDINATOR, NULL);
    assert_error (&r, 400, "BAD_REQUEST");
    response_free (&r);
}

/* --- the alert stream --- */

typedef struct {
    int fd;
    char buffer[65536];
    size_t size;
    int code;
    int keepalives;
} stream_t;

static void
stream_open (stream_t *st, const char *last_event_id)
{
    memset (st, 0, sizeof *st);
    st->fd = s_connect ();
    char head[512];
    int n = snprintf (head, sizeof head,
                      "GET /api/v1/alerts/stream?access_token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Accept: text/event-stream\r\n%s%s%s\r\n",
                      COORDINATOR, last_event_id ? "Last-Event-ID: " : "",
                      last_event_id ? last_event_id : "", last_event_id ? "\r\n" : "");
    s_send_all (st->fd, head, (size_t)n);
}

/* Reads more into the buffer; false on timeout or close. */
static bool
stream_fill (stream_t *st, int timeout_ms)
{
    struct pollfd item = {st->fd, POLLIN, 0};
    if (poll (&item, 1, timeout_ms) <= 0)
        return false;
    ssize_t got = recv (st->fd, st->buffer + st->size, sizeof st->buffer - st->size - 1, 0);
    if (got <= 0)
        return false;
    st->size += (size_t)got;
    st->buffer[st->size] = '\0';
    return true;
}

/* Drops n bytes from the front of the buffer. */
static void
stream_consume (stream_t *st, size_t n)
{
    memmove (st->buffer, st->buffer + n, st->size - n);
    st->size -= n;
    st->buffer[st->size] = '\0';
}

/* The next alert event: its id and data (a JSON object the caller frees).
 * Skips comments and the retry field; NULL on timeout. The response is
 * chunked: chunk-size lines are skipped as lines that are no SSE field. */
static json_t *
stream_next (stream_t *st, char *id, size_t id_size, int timeout_ms)
{
    int64_t until = onenet_clock_ms () + timeout_ms;
    for (;;) {
        if (!st->code) {
            char *end = strstr (st->buffer, "\r\n\r\n");
            if (end) {
                sscanf (st->buffer, "HTTP/1.1 %d", &st->code);
                assert_int_equal (st->code, 200);
                assert_non_null (strstr (st->buffer, "text/event-stream"));
                stream_consume (st, (size_t)(end + 4 - st->buffer));
            }
        }
        char *event_end = st->code ? strstr (st->buffer, "\n\n") : NULL;
        if (event_end) {
            size_t length = (size_t)(event_end + 2 - st->buffer);
            char *event = strndup (st->buffer, length);
            stream_consume (st, length);
            json_t *data = NULL;
            *id = '\0';
            for (char *line = strtok (event, "\n"); line; line = strtok (NULL, "\n")) {
                char *cr = strchr (line, '\r');
                if (cr)
                    *cr = '\0';
                if (strncmp (line, "id: ", 4) == 0)
                    snprintf (id, id_size, "%s", line + 4);
                else if (strncmp (line, "data: ", 6) == 0)
                    data = json_loads (line + 6, 0, NULL);
                else if (strncmp (line, ": keep-alive", 12) == 0)
                    st->keepalives++;
            }
            free (event);
            if (data)
                return data;
            continue;
        }
        int left = (int)(until - onenet_clock_ms ());
        if (left <= 0 || !stream_fill (st, left))
            return NULL;
    }
}

static void
stream_close (stream_t *st)
{
    close (st->fd);
    st->fd = -1;
}

/* The CAP identifier inside an AlertEnvelope event. */
static const char *
event_identifier (json_t *data)
{
    assert_schema (data, "AlertEnvelope");
    return json_string_value (json_object_get (json_object_get (data, "alert"), "identifier"));
}

static void
test_stream_resume (void **state)
{
    (void)state;
    stream_t st;
    char id[64], identifier[64], expected[3][64];
    stream_open (&st, NULL);
    usleep (700000); /* let the stream subscribe before publishing */
    publish ("Extreme", identifier, sizeof identifier);
    json_t *data = stream_next (&st, id, sizeof id, 8000);
    assert_non_null (data);
    assert_string_equal (event_identifier (data), identifier);
    json_decref (data);
    char resume[64];
    snprintf (resume, sizeof resume, "%s", id);
    assert_true (strlen (resume) > 0);
    /* Keep-alive comments while nothing happens (keepalive_s = 1). */
    assert_null (stream_next (&st, id, sizeof id, 2500));
    assert_true (st.keepalives >= 1);
    /* The connection drops; three alerts are published meanwhile. */
    stream_close (&st);
    for (int i = 0; i < 3; i++)
        publish (i == 1 ? "Minor" : "Severe", expected[i], sizeof expected[i]);
    /* Resumed with Last-Event-ID: the three, in order, nothing before. */
    stream_open (&st, resume);
    char previous[64] = "";
    for (int i = 0; i < 3; i++) {
        data = stream_next (&st, id, sizeof id, 8000);
        if (!data)
            fail_msg ("alert %d of 3 missing after resume", i + 1);
        assert_string_equal (event_identifier (data), expected[i]);
        assert_string_equal (json_string_value (json_object_get (data, "stream_id")), id);
        assert_true (strcmp (previous, id) < 0 || strlen (previous) < strlen (id));
        snprintf (previous, sizeof previous, "%s", id);
        json_decref (data);
    }
    /* And live again afterwards. */
    publish ("Moderate", identifier, sizeof identifier);
    data = stream_next (&st, id, sizeof id, 8000);
    assert_non_null (data);
    assert_string_equal (event_identifier (data), identifier);
    json_decref (data);
    stream_close (&st);
    /* A bad Last-Event-ID is refused. */
    stream_open (&st, "yesterday");
    char line[64] = "";
    assert_true (stream_fill (&st, 5000));
    sscanf (st.buffer, "HTTP/1.1 %63[0-9]", line);
    assert_string_equal (line, "400");
    stream_close (&st);
}

static void
test_audit (void **state)
{
    (void)state;
    char id[19], path[200];
    pick (IN_PS_AND_SS, 0, id); /* viewed in test_person_view */
    snprintf (path, sizeof path, "/api/v1/audit?person=%s", id);
    response_t r = {0};
    for (int i = 0; i < 50; i++) {
        r = http ("GET", path, AUDITOR, NULL);
        assert_ok (&r, "AuditQueryReply");
        if (json_array_size (json_object_get (r.json, "entries")) > 0)
            break;
        response_free (&r);
        usleep (100000);
    }
    json_t *entries = json_object_get (r.json, "entries");
    assert_true (json_array_size (entries) > 0);
    size_t i;
    json_t *entry;
    bool purpose_seen = false;
    json_array_foreach (entries, i, entry)
    {
        assert_schema (entry, "AuditEntry");
        assert_string_equal (json_string_value (json_object_get (entry, "subject")), id);
        if (strcmp (json_string_value (json_object_get (entry, "purpose")),
                    "window service test") == 0) {
            purpose_seen = true;
            /* The broker saw the clerk, not the gateway. */
            assert_string_equal (json_string_value (json_object_get (entry, "user")), "clerk.demo");
            assert_string_equal (json_string_value (json_object_get (entry, "requester")),
                                 "civil_affairs");
        }
    }
    assert_true (purpose_seen);
    response_free (&r);
    r = http ("GET", "/api/v1/audit?person=123", AUDITOR, NULL);
    assert_error (&r, 400, "BAD_REQUEST");
    response_free (&r);
}

/* Many requests at once: each thread borrows its own broker client. */
static void
test_concurrent (void **state)
{
    (void)state;
    int fds[16];
    const char *head = "GET /api/v1/services HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Authorization: Bearer " OPERATOR "\r\n\r\n";
    for (int i = 0; i < 16; i++) {
        fds[i] = s_connect ();
        s_send_all (fds[i], head, strlen (head));
    }
    for (int i = 0; i < 16; i++) {
        char buffer[64] = "";
        assert_true (recv (fds[i], buffer, sizeof buffer - 1, 0) > 12);
        assert_memory_equal (buffer, "HTTP/1.1 200", 12);
        close (fds[i]);
    }
}

/* With CURVE on, the gateway is a department like any other: its own key
 * from ONENET_KEY / ONENET_BROKER_KEY, read by the SDK. The broker knows
 * it as "gateway" (an alert it publishes says so), the stream works over
 * CURVE, and a gateway without a listed key gets nothing. */
static void
test_curve (void **state)
{
    (void)state;
    char keys[400], bin[512], path[512], broker_key[512];
    snprintf (keys, sizeof keys, "%s/keys", harness_tempdir ());
    mkdir (keys, 0700);
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet"));
    const char *names[] = {"broker", "gateway", "stranger"};
    for (size_t i = 0; i < 3; i++) {
        const char *argv[] = {bin, "keygen", names[i], "--dir", keys, NULL};
        assert_int_equal (harness_run ("keygen.log", argv), 0);
    }
    int redis_port = harness_free_port (), broker_port = harness_free_port ();
    int alerts_port = harness_free_port (), http_port = harness_free_port ();
    harness_start_redis (redis_port, false);
    char config[2048];
    snprintf (
        config, sizeof config,
        "security = \"curve\";\n"
        "curve = { key_file = \"%s/broker.key\";\n"
        "  clients = ( { department = \"gateway\"; public_key_file = \"%s/gateway.pub\"; } ); };\n"
        "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
        "alerts = { endpoint = \"tcp://127.0.0.1:%d\"; spool = \"%s/spool-curve\"; };\n"
        "audit = { file = \"%s/audit-curve.log\"; };\n",
        keys, keys, redis_port, alerts_port, harness_tempdir (), harness_tempdir ());
    snprintf (path, sizeof path, "%s/gateway.key", keys);
    snprintf (broker_key, sizeof broker_key, "%s/broker.pub", keys);
    setenv ("ONENET_KEY", path, 1); /* the harness pings the broker too */
    setenv ("ONENET_BROKER_KEY", broker_key, 1);
    harness_start_broker (broker_port, config);
    int saved_port = s.http_port;
    s.http_port = http_port; /* http () speaks to s.http_port */
    pid_t gateway = spawn_gateway (http_port, broker_port, alerts_port, "gateway-curve");
    stream_t st;
    stream_open (&st, NULL);
    usleep (700000);
    char identifier[64], id[64];
    publish ("Severe", identifier, sizeof identifier);
    json_t *data = stream_next (&st, id, sizeof id, 8000);
    assert_non_null (data);
    assert_string_equal (event_identifier (data), identifier);
    assert_string_equal (json_string_value (json_object_get (data, "published_by_department")),
                         "gateway");
    json_decref (data);
    stream_close (&st);
    harness_stop (gateway, SIGTERM);
    /* A gateway with a key the broker does not list: refused, typed. */
    snprintf (path, sizeof path, "%s/stranger.key", keys);
    setenv ("ONENET_KEY", path, 1);
    gateway = spawn_gateway (http_port, broker_port, alerts_port, "gateway-stranger");
    response_t r = http ("GET", "/api/v1/services", OPERATOR, NULL);
    assert_true (r.code == 504 || r.code == 503);
    assert_schema (r.json, "Error");
    response_free (&r);
    harness_stop (gateway, SIGTERM);
    unsetenv ("ONENET_KEY");
    unsetenv ("ONENET_BROKER_KEY");
    s.http_port = saved_port;
}

/* Runs onenet-gateway with a config text; returns its exit status and
 * its output in out. */
static int
run_config (const char *text, char *out, size_t out_size)
{
    char path[512], log_path[512], bin[512];
    snprintf (path, sizeof path, "%s/bad.cfg", harness_tempdir ());
    snprintf (log_path, sizeof log_path, "%s/bad-config.log", harness_tempdir ());
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    unlink (log_path);
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-gateway"));
    const char *argv[] = {bin, "-c", path, NULL};
    int rc = harness_run ("bad-config.log", argv);
    file = fopen (log_path, "r");
    size_t n = file ? fread (out, 1, out_size - 1, file) : 0;
    out[n] = '\0';
    if (file)
        fclose (file);
    return rc;
}

/* The config is validated once, with file:line: setting errors. */
static void
test_config_errors (void **state)
{
    (void)state;
    char out[2048];
    assert_int_equal (
        run_config ("gateway = { port = 8080; prot = 1; };\nusers = ();\n", out, sizeof out), 1);
    assert_non_null (strstr (out, "bad.cfg:1: gateway.prot: unknown setting"));
    assert_int_equal (run_config ("gateway = { port = 99999; };\n", out, sizeof out), 1);
    assert_non_null (strstr (out, "bad.cfg:1: gateway.port"));
    assert_int_equal (run_config ("users = ( { name = \"a\"; department = \"d\";\n"
                                  "  role = \"janitor\"; token_sha256 = \"00\"; } );\n",
                                  out, sizeof out),
                      1);
    assert_non_null (strstr (out, "bad.cfg:2: users[0].role"));
    assert_int_equal (run_config ("users = ( { name = \"a\"; department = \"d\";\n"
                                  "  role = \"clerk\"; token_sha256 = \"abc\"; } );\n",
                                  out, sizeof out),
                      1);
    assert_non_null (strstr (out, "users[0].token_sha256: must be 64 hex digits"));
    /* An empty department would make the gateway ask as itself. */
    assert_int_equal (run_config ("users = ( { name = \"a\";\n  department = \"\"; role = \"clerk\";\n"
                                  "  token_sha256 = \"47966224ccb68fcb36ac8469201c8761f4c146d2ccd8f1ad849acd9478d83da5\"; } );\n",
                                  out, sizeof out),
                      1);
    assert_non_null (strstr (out, "bad.cfg:2: users[0].department: must name the department"));
    /* The shipped config/gateway.cfg is valid: --hash-token of its demo
     * clerk token is the hash it lists. */
    char source_cfg[512], text[8192];
    snprintf (source_cfg, sizeof source_cfg, "%s/config/gateway.cfg", getenv ("ONENET_SOURCE_DIR"));
    FILE *file = fopen (source_cfg, "r");
    assert_non_null (file);
    size_t n = fread (text, 1, sizeof text - 1, file);
    text[n] = '\0';
    fclose (file);
    assert_non_null (
        strstr (text, "47966224ccb68fcb36ac8469201c8761f4c146d2ccd8f1ad849acd9478d83da5"));
    /* Same file, a port taken: it loads, then fails to listen (exit 1
     * after the config passed, not a config error). */
    char *port = strstr (text, "port = 8080;");
    assert_non_null (port);
    char changed[8300];
    snprintf (changed, sizeof changed, "%.*sport = %d;%s", (int)(port - text), text, s.http_port,
              port + strlen ("port = 8080;"));
    assert_int_equal (run_config (changed, out, sizeof out), 1);
    assert_non_null (strstr (out, "gateway.start_failed"));
}

/* SIGTERM with a stream open: the gateway ends the stream and exits 0
 * (under the sanitizers also: nothing leaked). */
static void
test_shutdown (void **state)
{
    (void)state;
    stream_t st;
    char id[64];
    stream_open (&st, NULL);
    assert_null (stream_next (&st, id, sizeof id, 1500));
    assert_int_equal (st.code, 200);
    int64_t started = onenet_clock_ms ();
    int status = harness_stop (s.gateway, SIGTERM);
    s.gateway = 0;
    assert_true (onenet_clock_ms () - started < 4000);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    stream_close (&st);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_auth),          cmocka_unit_test (test_openapi_and_console),
        cmocka_unit_test (test_services),      cmocka_unit_test (test_person_view),
        cmocka_unit_test (test_partial_view),  cmocka_unit_test (test_service_call),
        cmocka_unit_test (test_alerts),        cmocka_unit_test (test_stream_resume),
        cmocka_unit_test (test_audit),         cmocka_unit_test (test_concurrent),
        cmocka_unit_test (test_config_errors), cmocka_unit_test (test_curve),
        cmocka_unit_test (test_shutdown),      cmocka_unit_test (harness_test_exits_cleanly),
    };
    return cmocka_run_group_tests (tests, setup_system, teardown_system);
}
