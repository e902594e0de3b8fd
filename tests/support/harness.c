/*
 * harness.c - process control for integration tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/proto/example.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"
#include "onenet/cap.h"

#define MAX_CHILDREN 64

/* Every process started and not yet reaped, in start order, with its log. */
typedef struct {
    pid_t pid;
    char log_name[64];
} child_t;
static child_t s_children[MAX_CHILDREN];
static size_t s_child_count;
static char s_tempdir[256];

static void
die (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "harness: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    harness_cleanup ();
    exit (1);
}

int
harness_free_port (void)
{
    /* Bind port 0 and let the kernel choose; the port stays free after
     * close for long enough in practice (no SO_REUSEADDR race here). */
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0
        || getsockname (fd, (struct sockaddr *) &addr, &len) < 0)
        die ("cannot find a free port: %s", strerror (errno));
    close (fd);
    return ntohs (addr.sin_port);
}

const char *
harness_tempdir (void)
{
    if (!*s_tempdir) {
        snprintf (s_tempdir, sizeof s_tempdir, "/tmp/onenet-test.XXXXXX");
        if (!mkdtemp (s_tempdir))
            die ("mkdtemp: %s", strerror (errno));
    }
    return s_tempdir;
}

const char *
harness_bin (const char *name)
{
    static char path[512];
    const char *dir = getenv ("ONENET_BINARY_DIR");
    snprintf (path, sizeof path, "%s/%s", dir ? dir : ".", name);
    return path;
}

const char *
harness_endpoint (int port)
{
    static char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    return endpoint;
}

pid_t
harness_spawn (const char *log_name, const char *const argv[])
{
    char log_path[512];
    snprintf (log_path, sizeof log_path, "%s/%s", harness_tempdir (), log_name);
    pid_t pid = fork ();
    if (pid < 0)
        die ("fork: %s", strerror (errno));
    if (pid == 0) {
        /* Relative files (the audit log, the alert spool) stay per test. */
        if (chdir (harness_tempdir ()) < 0)
            _exit (126);
        int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2 (fd, 1);
            dup2 (fd, 2);
            close (fd);
        }
        execv (argv[0], (char *const *) argv);
        fprintf (stderr, "exec %s: %s\n", argv[0], strerror (errno));
        _exit (127);
    }
    if (s_child_count < MAX_CHILDREN) {
        s_children[s_child_count].pid = pid;
        snprintf (s_children[s_child_count].log_name, sizeof s_children[s_child_count].log_name,
                  "%s", log_name);
        s_child_count++;
    }
    return pid;
}

static void
forget_child (pid_t pid)
{
    for (size_t i = 0; i < s_child_count; i++)
        if (s_children[i].pid == pid) {
            memmove (&s_children[i], &s_children[i + 1],
                     (s_child_count - i - 1) * sizeof *s_children);
            s_child_count--;
            return;
        }
}

int
harness_stop (pid_t pid, int sig)
{
    if (pid <= 0)
        return 0;
    kill (pid, sig);
    int status = 0;
    for (int i = 0; i < 500; i++) {
        pid_t done = waitpid (pid, &status, WNOHANG);
        if (done == pid || (done < 0 && errno == ECHILD)) {
            forget_child (pid);
            return status;
        }
        usleep (10000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    forget_child (pid);
    return status;
}

static bool
ping (int port, int timeout_ms)
{
    onenet_client_t *client = onenet_client_new (harness_endpoint (port), NULL, 0);
    if (!client)
        return false;
    onenet_call_options_t options = { .timeout_ms = (uint32_t) timeout_ms };
    onenet_reply_t *reply = onenet_client_call (client, "onenet.ping", NULL, 0, &options);
    bool ok = reply && onenet_reply_status (reply) == ONENET_OK;
    onenet_reply_destroy (&reply);
    onenet_client_destroy (&client);
    return ok;
}

/* Remembered per broker port, so a broker restarted on its port gets its
 * alerts port back. */
static int s_alert_ports[64][2];

int
harness_alerts_port (int broker_port)
{
    for (size_t i = 0; i < 64 && s_alert_ports[i][0]; i++)
        if (s_alert_ports[i][0] == broker_port)
            return s_alert_ports[i][1];
    for (size_t i = 0; i < 64; i++)
        if (!s_alert_ports[i][0]) {
            s_alert_ports[i][0] = broker_port;
            s_alert_ports[i][1] = harness_free_port ();
            return s_alert_ports[i][1];
        }
    return harness_free_port ();
}

void
harness_await_subscriptions (void *sub, int timeout_ms)
{
    assert_int_equal (zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "tick", 4), 0);
    int64_t until = onenet_clock_ms () + timeout_ms;
    bool ticked = false;
    while (!ticked && onenet_clock_ms () < until) {
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, (long) (until - onenet_clock_ms ())) <= 0)
            break;
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        assert_true (zmq_msg_recv (&frame, sub, 0) >= 0);
        ticked = zmq_msg_size (&frame) == 4 && memcmp (zmq_msg_data (&frame), "tick", 4) == 0;
        while (zmq_msg_more (&frame))
            assert_true (zmq_msg_recv (&frame, sub, 0) >= 0);
        zmq_msg_close (&frame);
    }
    assert_int_equal (zmq_setsockopt (sub, ZMQ_UNSUBSCRIBE, "tick", 4), 0);
    if (!ticked)
        fail_msg ("no tick from the broker's alerts endpoint within %d ms", timeout_ms);
}

pid_t
harness_start_broker (int port, const char *config_text)
{
    return harness_start_broker_under (NULL, NULL, port, config_text);
}

pid_t
harness_start_broker_under (const char *const wrapper[], const char *log, int port,
                            const char *config_text)
{
    char endpoint[64], config_path[512], log_name[64];
    snprintf (endpoint, sizeof endpoint, "%s", harness_endpoint (port));
    if (log)
        snprintf (log_name, sizeof log_name, "%s", log);
    else
        snprintf (log_name, sizeof log_name, "broker-%d.log", port);
    const char *argv[20] = { NULL };
    char bin[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-broker"));
    size_t n = 0;
    for (size_t i = 0; wrapper && wrapper[i] && n < 8; i++)
        argv[n++] = wrapper[i];
    argv[n++] = bin;
    argv[n++] = "--endpoint";
    argv[n++] = endpoint;
    if (config_text) {
        snprintf (config_path, sizeof config_path, "%s/broker-%d.cfg", harness_tempdir (), port);
        FILE *file = fopen (config_path, "w");
        if (!file)
            die ("cannot write %s", config_path);
        fputs (config_text, file);
        fclose (file);
        argv[n++] = "-c";
        argv[n++] = config_path;
    }
    /* Alert subscribers get a free port too, unless the test chose one. */
    char alerts_endpoint[64];
    if (!config_text || !strstr (config_text, "alerts")) {
        snprintf (alerts_endpoint, sizeof alerts_endpoint, "tcp://127.0.0.1:%d",
                  harness_alerts_port (port));
        argv[n++] = "--alerts-endpoint";
        argv[n++] = alerts_endpoint;
    }
    /* And HTTP (health, metrics) on a free port, unless the test chose one. */
    char http_endpoint[64];
    if (!config_text || !strstr (config_text, "http")) {
        snprintf (http_endpoint, sizeof http_endpoint, "127.0.0.1:%d", harness_free_port ());
        argv[n++] = "--http-endpoint";
        argv[n++] = http_endpoint;
    }
    pid_t pid = harness_spawn (log_name, argv);
    for (int i = 0; i < 100; i++)
        if (ping (port, 100))
            return pid;
    die ("broker on port %d did not answer onenet.ping (see %s/%s)", port, harness_tempdir (),
         log_name);
    return -1;
}

pid_t
harness_start_adapter (int port, const char *instance, const char *const extra[])
{
    char bin[512], log_name[128], endpoint[64];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet-test-adapter"));
    snprintf (log_name, sizeof log_name, "adapter-%s.log", instance);
    snprintf (endpoint, sizeof endpoint, "%s", harness_endpoint (port));
    const char *argv[32] = { bin, "--broker", endpoint, "--instance", instance };
    size_t n = 5;
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return harness_spawn (log_name, argv);
}

static size_t
count_instances (onenet_client_t *client, const char *service)
{
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    request.prefix = (char *) service;
    onenet_call_options_t options = { .timeout_ms = 500 };
    onenet_reply_t *reply = onenet_client_call_message (client, "onenet.services", &request.base,
                                                        &options);
    size_t count = 0;
    Onenet__ServicesReply *services
        = reply && onenet_reply_status (reply) == ONENET_OK
              ? (Onenet__ServicesReply *) onenet_reply_unpack (reply,
                                                               &onenet__services_reply__descriptor)
              : NULL;
    for (size_t i = 0; services && i < services->n_services; i++)
        if (strcmp (services->services[i]->name, service) == 0)
            count = services->services[i]->n_instances;
    if (services)
        protobuf_c_message_free_unpacked (&services->base, NULL);
    onenet_reply_destroy (&reply);
    return count;
}

bool
harness_wait_instances (int port, const char *service, size_t instances, int timeout_ms)
{
    onenet_client_t *client = onenet_client_new (harness_endpoint (port), NULL, 0);
    int64_t until = onenet_clock_ms () + timeout_ms;
    bool ok = false;
    while (client && !ok && onenet_clock_ms () < until) {
        ok = count_instances (client, service) >= instances;
        if (!ok)
            usleep (20000);
    }
    onenet_client_destroy (&client);
    return ok;
}

static bool
redis_answers (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool ok = false;
    if (fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0) {
        char reply[16] = "";
        ok = write (fd, "PING\r\n", 6) == 6 && read (fd, reply, sizeof reply - 1) > 0
             && strncmp (reply, "+PONG", 5) == 0;
    }
    if (fd >= 0)
        close (fd);
    return ok;
}

pid_t
harness_start_redis (int port, bool aof)
{
    char port_text[16], dir[300], log_name[64];
    snprintf (port_text, sizeof port_text, "%d", port);
    snprintf (dir, sizeof dir, "%s/redis-%d", harness_tempdir (), port);
    snprintf (log_name, sizeof log_name, "redis-%d.log", port);
    mkdir (dir, 0700);
    const char *argv[] = { "/usr/bin/redis-server", "--bind", "127.0.0.1", "--port", port_text,
                           "--dir", dir, "--save", "", "--appendonly", aof ? "yes" : "no",
                           "--daemonize", "no", NULL };
    pid_t pid = harness_spawn (log_name, argv);
    for (int i = 0; i < 200; i++) {
        if (redis_answers (port))
            return pid;
        usleep (20000);
    }
    die ("redis-server on port %d did not answer PING (see %s/%s)", port, harness_tempdir (),
         log_name);
    return -1;
}

int
harness_run (const char *log_name, const char *const argv[])
{
    pid_t pid = harness_spawn (log_name, argv);
    int status = 0;
    waitpid (pid, &status, 0);
    forget_child (pid);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

void
harness_cleanup (void)
{
    while (s_child_count)
        harness_stop (s_children[s_child_count - 1].pid, SIGKILL);
    if (*s_tempdir && !getenv ("ONENET_KEEP_TEMP")) {
        char command[300];
        snprintf (command, sizeof command, "rm -rf '%s'", s_tempdir);
        if (system (command) != 0)
            fprintf (stderr, "harness: could not remove %s\n", s_tempdir);
        *s_tempdir = '\0';
    }
}

size_t
harness_echo_body (uint8_t *buf, size_t size, const char *payload, uint32_t delay_ms)
{
    Onenet__Example__EchoMessage echo = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    echo.payload.data = (uint8_t *) payload;
    echo.payload.len = strlen (payload);
    echo.delay_ms = delay_ms;
    size_t needed = protobuf_c_message_get_packed_size (&echo.base);
    if (needed > size)
        die ("echo body too large");
    return protobuf_c_message_pack (&echo.base, buf);
}

/* Polls log_name (in the temp dir) every 20 ms, up to timeout_ms, for a
 * line holding every one of texts. */
static bool
s_file_has_line (const char *log_name, const char *const texts[], size_t count, int timeout_ms)
{
    char path[512], line[4096];
    snprintf (path, sizeof path, "%s/%s", harness_tempdir (), log_name);
    for (int waited = 0;; waited += 20) {
        FILE *file = fopen (path, "r");
        bool found = false;
        while (file && !found && fgets (line, sizeof line, file)) {
            found = true;
            for (size_t i = 0; i < count && found; i++)
                found = strstr (line, texts[i]) != NULL;
        }
        if (file)
            fclose (file);
        if (found)
            return true;
        if (waited >= timeout_ms)
            return false;
        usleep (20000);
    }
}

bool
harness_log_has (const char *log_name, const char *text, int timeout_ms)
{
    const char *const texts[] = {text};
    return s_file_has_line (log_name, texts, 1, timeout_ms);
}

bool
harness_audit_has (const char *a, const char *b, const char *c)
{
    const char *const texts[] = {a, b, c};
    return s_file_has_line ("onenet-audit.log", texts, 3, 5000);
}

bool
harness_stop_clean (pid_t pid, const char *log_name)
{
    int status = harness_stop (pid, SIGTERM);
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return true;
    if (WIFEXITED (status))
        fprintf (stderr, "harness: %s exited %d after SIGTERM\n", log_name, WEXITSTATUS (status));
    else
        fprintf (stderr, "harness: %s did not exit after SIGTERM (signal %d)\n", log_name,
                 WIFSIGNALED (status) ? WTERMSIG (status) : 0);
    char command[700];
    snprintf (command, sizeof command, "tail -n 40 '%s/%s' >&2", harness_tempdir (), log_name);
    if (system (command) != 0)
        fprintf (stderr, "harness: cannot show %s\n", log_name);
    return false;
}

bool
harness_stop_all_clean (void)
{
    bool clean = true;
    while (s_child_count) {
        child_t child = s_children[s_child_count - 1];
        if (!harness_stop_clean (child.pid, child.log_name))
            clean = false;
    }
    return clean;
}

void
harness_test_exits_cleanly (void **state)
{
    (void)state;
    assert_true (harness_stop_all_clean ());
}

double
harness_metric (int http_port, const char *name)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) http_port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    static char text[1 << 17];
    size_t used = 0;
    const char *request = "GET /metrics HTTP/1.0\r\n\r\n";
    if (fd >= 0 && connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0
        && write (fd, request, strlen (request)) == (ssize_t) strlen (request)) {
        ssize_t n;
        while (used < sizeof text - 1 && (n = read (fd, text + used, sizeof text - 1 - used)) > 0)
            used += (size_t) n;
    }
    if (fd >= 0)
        close (fd);
    text[used] = '\0';
    char pattern[128];
    snprintf (pattern, sizeof pattern, "\n%s ", name);
    const char *at = strstr (text, pattern);
    return at ? strtod (at + strlen (pattern), NULL) : -1.0;
}

struct Onenet__Alert__Alert *
harness_cap_sample (const char *name)
{
    char path[512];
    const char *source = getenv ("ONENET_SOURCE_DIR");
    snprintf (path, sizeof path, "%s/tests/data/cap/%s", source ? source : ".", name);
    FILE *file = fopen (path, "rb");
    if (!file)
        fail_msg ("%s: %s", path, strerror (errno));
    static char xml[65536];
    size_t size = fread (xml, 1, sizeof xml, file);
    fclose (file);
    char err[256] = "";
    Onenet__Alert__Alert *alert = onenet_cap_parse (xml, size, err, sizeof err);
    if (!alert)
        fail_msg ("%s: %s", name, err);
    return alert;
}

long long
harness_redis_int (int port, const char *command)
{
    char line[512];
    snprintf (line, sizeof line, "redis-cli -p %d %s", port, command);
    FILE *pipe = popen (line, "r");
    if (!pipe)
        fail_msg ("%s: %s", line, strerror (errno));
    char out[64] = "";
    char *read = fgets (out, sizeof out, pipe);
    int status = pclose (pipe);
    char *end = NULL;
    long long value = read ? strtoll (out, &end, 10) : 0;
    if (status != 0 || !read || end == out)
        fail_msg ("%s: not an integer reply: %s", line, out);
    return value;
}

static void *bare_adapter (void *context, int port, const char *department, const char *instance,
                           const char *service, bool idempotent, uint32_t credit,
                           uint32_t batch_max, uint32_t *event_batch_max,
                           uint32_t *welcome_batch_max);

void *
harness_bare_adapter (void *context, int port, const char *department, const char *instance,
                      uint32_t *event_batch_max)
{
    return bare_adapter (context, port, department, instance, "raw.unused", false, 1, 0,
                         event_batch_max, NULL);
}

void *
harness_bare_adapter_offer (void *context, int port, const char *department, const char *instance,
                            const char *service, bool idempotent, uint32_t credit,
                            uint32_t batch_max, uint32_t *welcome_batch_max)
{
    return bare_adapter (context, port, department, instance, service, idempotent, credit,
                         batch_max, NULL, welcome_batch_max);
}

static void *
bare_adapter (void *context, int port, const char *department, const char *instance,
              const char *service, bool idempotent, uint32_t credit, uint32_t batch_max,
              uint32_t *event_batch_max, uint32_t *welcome_batch_max)
{
    void *dealer = zmq_socket (context, ZMQ_DEALER);
    assert_non_null (dealer);
    int linger = 0, timeout = 5000;
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    assert_int_equal (zmq_connect (dealer, harness_endpoint (port)), 0);
    Onenet__ServiceOffer offer = ONENET__SERVICE_OFFER__INIT;
    offer.name = (char *) service;
    offer.idempotent = idempotent;
    Onenet__ServiceOffer *offers[] = { &offer };
    Onenet__Ready ready = ONENET__READY__INIT;
    ready.schema_version = ONENET_SCHEMA_VERSION;
    ready.department = (char *) department;
    ready.instance = (char *) instance;
    ready.heartbeat_ms = 10000;
    ready.credit = credit;
    ready.batch_max = batch_max;
    ready.n_services = 1;
    ready.services = offers;
    assert_int_equal (onenet_wire_send (dealer, NULL, ONENET_CMD_READY, &ready.base, NULL, 0), 0);
    onenet_wire_msg_t msg;
    assert_int_equal (onenet_wire_recv (dealer, &msg, 0), 0);
    assert_int_equal (onenet_wire_parse_signature (zmq_msg_data (&msg.frame[0]),
                                                   zmq_msg_size (&msg.frame[0]), NULL),
                      ONENET_CMD_WELCOME);
    Onenet__Welcome *welcome = (Onenet__Welcome *) onenet_wire_unpack (
        &onenet__welcome__descriptor, &msg.frame[1], NULL);
    assert_non_null (welcome);
    if (event_batch_max)
        *event_batch_max = welcome->event_batch_max;
    if (welcome_batch_max)
        *welcome_batch_max = welcome->batch_max;
    protobuf_c_message_free_unpacked (&welcome->base, NULL);
    onenet_wire_close (&msg);
    return dealer;
}

void
harness_bare_adapter_close (void *dealer)
{
    assert_int_equal (onenet_wire_send (dealer, NULL, ONENET_CMD_DISCONNECT, NULL, NULL, 0), 0);
    int linger = 1000;
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close (dealer);
}

size_t
harness_event_batch (uint8_t *batch, size_t room, const ProtobufCMessage *const events[],
                     size_t count)
{
    size_t size = 0;
    for (size_t i = 0; i < count; i++) {
        size_t length = protobuf_c_message_get_packed_size (events[i]);
        assert_true (length < 128 && size + 1 + length <= room);
        batch[size++] = (uint8_t) length;
        size += protobuf_c_message_pack (events[i], batch + size);
    }
    return size;
}

void
harness_send_event (void *dealer, const char *topic, const char *type, uint32_t count,
                    const uint8_t *body, size_t size)
{
    Onenet__EventHeader header = ONENET__EVENT_HEADER__INIT;
    header.topic = (char *) topic;
    header.type = (char *) type;
    header.time_ms = onenet_wall_ms ();
    header.count = count;
    assert_int_equal (onenet_wire_send_bytes (dealer, NULL, ONENET_CMD_EVENT, &header.base, body,
                                              size, 0), 0);
}
