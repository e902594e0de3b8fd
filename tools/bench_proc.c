/*
 * tools/bench_proc.c - the processes of one `onenet bench` run.
 *
 * Everything a run starts (broker, adapters, redis-server, the baseline's
 * proxy and echo worker, nats-server and onenet-bench-nats) is a child
 * process with its output in a log file in the run's temp dir, and is
 * stopped by its PID: never by name, since other OneNet processes may be
 * running on the same machine. Children die with the bench
 * (PR_SET_PDEATHSIG), and Ctrl-C stops them and removes the temp dir too.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bench.h"
#include "onenet/wire.h"
#include "onenet/proto/onenet.pb-c.h"

#define MAX_CHILDREN 32
#define STOP_GRACE_MS 3000
#define START_WAIT_MS 10000
#define TEMP_PREFIX "/tmp/onenet-bench."

struct bench_env_t {
    char dir[256];
    pid_t children[MAX_CHILDREN];
    size_t count;
    struct sigaction old_int, old_term;
};

/* The one env of this process, for the signal handler. */
static bench_env_t *volatile s_env;

/* --- cleanup, also from a signal handler (async-signal-safe calls only) - */

static void
s_remove_dir (const char *dir)
{
    //  only ever our own temp dir
    if (strncmp (dir, TEMP_PREFIX, sizeof TEMP_PREFIX - 1) != 0)
        return;
    pid_t pid = fork ();
    if (pid == 0) {
        execl ("/bin/rm", "rm", "-rf", "--", dir, (char *)NULL);
        _exit (127);
    }
    while (pid > 0 && waitpid (pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

static void
s_on_signal (int sig)
{
    bench_env_t *env = s_env;
    if (env) {
        for (size_t i = 0; i < env->count; i++)
            kill (env->children[i], SIGKILL);
        for (size_t i = 0; i < env->count; i++)
            waitpid (env->children[i], NULL, 0);
        s_remove_dir (env->dir);
    }
    _exit (128 + sig);
}

/* The child list changes with these signals blocked, so the handler
 * never sees it half-updated. */
static void
s_block (sigset_t *old)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGTERM);
    sigprocmask (SIG_BLOCK, &set, old);
}

static void
s_unblock (const sigset_t *old)
{
    sigprocmask (SIG_SETMASK, old, NULL);
}

static void
s_forget (bench_env_t *self, pid_t pid)
{
    sigset_t old;
    s_block (&old);
    for (size_t i = 0; i < self->count; i++)
        if (self->children[i] == pid) {
            self->children[i] = self->children[--self->count];
            break;
        }
    s_unblock (&old);
}

/* --- env ---------------------------------------------------------------- */

bench_env_t *
bench_env_new (char *err, size_t err_size)
{
    bench_env_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    snprintf (self->dir, sizeof self->dir, TEMP_PREFIX "XXXXXX");
    if (!mkdtemp (self->dir)) {
        snprintf (err, err_size, "cannot create a temp dir: %s", strerror (errno));
        free (self);
        return NULL;
    }
    s_env = self;
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, &self->old_int);
    sigaction (SIGTERM, &action, &self->old_term);
    return self;
}

/* True if the dir holds nothing (the run failed before writing a log). */
static bool
s_dir_empty (const char *path)
{
    DIR *dir = opendir (path);
    bool empty = true;
    for (struct dirent *entry; dir && empty && (entry = readdir (dir));)
        empty = strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0;
    if (dir)
        closedir (dir);
    return empty;
}

bool
bench_env_destroy (bench_env_t **self_p, bool keep)
{
    if (!self_p || !*self_p)
        return false;
    bench_env_t *self = *self_p;
    while (self->count)
        bench_stop (self, self->children[self->count - 1]);
    sigaction (SIGINT, &self->old_int, NULL);
    sigaction (SIGTERM, &self->old_term, NULL);
    s_env = NULL;
    keep = keep && !s_dir_empty (self->dir);
    if (!keep)
        s_remove_dir (self->dir);
    free (self);
    *self_p = NULL;
    return keep;
}

const char *
bench_env_dir (const bench_env_t *self)
{
    return self->dir;
}

/* --- binaries, ports ------------------------------------------------------ */

static bool
s_executable (const char *path)
{
    struct stat info;
    return stat (path, &info) == 0 && S_ISREG (info.st_mode) && access (path, X_OK) == 0;
}

int
bench_find_binary (const char *name, char *out, size_t out_size, char *err, size_t err_size)
{
    char self_path[PATH_MAX];
    ssize_t length = readlink ("/proc/self/exe", self_path, sizeof self_path - 1);
    if (length > 0) {
        self_path[length] = '\0';
        snprintf (out, out_size, "%s/%s", dirname (self_path), name);
        if (s_executable (out))
            return 0;
    }
    const char *path = getenv ("PATH");
    while (path && *path) {
        const char *colon = strchr (path, ':');
        size_t dir_length = colon ? (size_t)(colon - path) : strlen (path);
        if (dir_length > 0) {
            snprintf (out, out_size, "%.*s/%s", (int)dir_length, path, name);
            if (s_executable (out))
                return 0;
        }
        path = colon ? colon + 1 : NULL;
    }
    snprintf (err, err_size, "%s not found next to this executable nor in $PATH", name);
    return -1;
}

int
bench_free_port (void)
{
    //  port 0: the kernel picks one; it stays free long enough to be used
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof addr;
    int port = -1;
    if (fd >= 0 && bind (fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname (fd, (struct sockaddr *)&addr, &size) == 0)
        port = ntohs (addr.sin_port);
    if (fd >= 0)
        close (fd);
    return port;
}

const char *
bench_endpoint (char *out, size_t size, int port)
{
    snprintf (out, size, "tcp://127.0.0.1:%d", port);
    return out;
}

/* --- children --------------------------------------------------------------- */

pid_t
bench_spawn (bench_env_t *self, const char *log_name, const char *const argv[], char *err,
             size_t err_size)
{
    if (self->count == MAX_CHILDREN) {
        snprintf (err, err_size, "too many child processes");
        return -1;
    }
    char log_path[512];
    snprintf (log_path, sizeof log_path, "%s/%s", self->dir, log_name);
    pid_t parent = getpid ();
    sigset_t old;
    s_block (&old);
    pid_t pid = fork ();
    if (pid == 0) {
        //  only async-signal-safe calls between fork and exec
        signal (SIGINT, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        s_unblock (&old);
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (127);
        int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2 (fd, STDOUT_FILENO);
            dup2 (fd, STDERR_FILENO);
            close (fd);
        }
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    if (pid > 0)
        self->children[self->count++] = pid;
    s_unblock (&old);
    if (pid < 0) {
        snprintf (err, err_size, "cannot start %s: %s", argv[0], strerror (errno));
        return -1;
    }
    return pid;
}

int
bench_run (bench_env_t *self, const char *log_name, const char *const argv[], char *err,
           size_t err_size)
{
    pid_t pid = bench_spawn (self, log_name, argv, err, err_size);
    if (pid < 0)
        return -1;
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    s_forget (self, pid);
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return 0;
    snprintf (err, err_size, "%s failed (see %s/%s)", argv[0], self->dir, log_name);
    return -1;
}

bool
bench_alive (bench_env_t *self, pid_t pid)
{
    pid_t done = waitpid (pid, NULL, WNOHANG);
    if (done == 0)
        return true;
    s_forget (self, pid);
    return false;
}

double
bench_cpu_s (pid_t pid)
{
    if (pid == 0) {
        struct rusage usage;
        if (getrusage (RUSAGE_SELF, &usage) < 0)
            return -1;
        return (double) usage.ru_utime.tv_sec + (double) usage.ru_utime.tv_usec / 1e6
               + (double) usage.ru_stime.tv_sec + (double) usage.ru_stime.tv_usec / 1e6;
    }
    char path[64], line[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    size_t length = fread (line, 1, sizeof line - 1, file);
    fclose (file);
    line[length] = '\0';
    //  pid (comm) state ...: the name may hold spaces and parentheses, so
    //  fields count from the last ')'; utime and stime are fields 14, 15
    const char *at = strrchr (line, ')');
    unsigned long long utime, stime;
    long ticks = sysconf (_SC_CLK_TCK);
    if (!at || ticks <= 0
        || sscanf (at + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                   &stime) != 2)
        return -1;
    return (double) (utime + stime) / (double) ticks;
}

void
bench_cpu_meter_start (bench_cpu_meter_t *self)
{
    self->started = bench_cpu_s (self->pid);
}

void
bench_cpu_meter_stop (bench_cpu_meter_t *self)
{
    double now = bench_cpu_s (self->pid);
    self->unknown = self->unknown || self->started < 0 || now < 0;
    self->used += now - self->started;
}

static bool
s_is_child (const bench_env_t *self, pid_t pid)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->children[i] == pid)
            return true;
    return false;
}

void
bench_stop (bench_env_t *self, pid_t pid)
{
    //  a PID already reaped may belong to someone else by now
    if (pid <= 0 || !s_is_child (self, pid))
        return;
    kill (pid, SIGTERM);
    for (int waited = 0; waited < STOP_GRACE_MS; waited += 10) {
        pid_t done = waitpid (pid, NULL, WNOHANG);
        if (done == pid || (done < 0 && errno == ECHILD)) {
            s_forget (self, pid);
            return;
        }
        usleep (10000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
    s_forget (self, pid);
}

int
bench_write_file (bench_env_t *self, const char *name, const char *text, char *out, size_t out_size,
                  char *err, size_t err_size)
{
    snprintf (out, out_size, "%s/%s", self->dir, name);
    FILE *file = fopen (out, "w");
    if (!file || fputs (text, file) < 0 || fclose (file) != 0) {
        snprintf (err, err_size, "cannot write %s: %s", out, strerror (errno));
        return -1;
    }
    return 0;
}

/* --- the systems under test ------------------------------------------------ */

bool
bench_ping (const char *endpoint, uint32_t timeout_ms)
{
    onenet_client_t *client = onenet_client_new (endpoint, NULL, 0);
    if (!client)
        return false;
    onenet_call_options_t options = {.timeout_ms = timeout_ms};
    onenet_reply_t *reply = onenet_client_call (client, "onenet.ping", NULL, 0, &options);
    bool ok = reply && onenet_reply_status (reply) == ONENET_OK;
    onenet_reply_destroy (&reply);
    onenet_client_destroy (&client);
    return ok;
}


pid_t
bench_start_broker (bench_env_t *self, int port, const char *config_text, char *err,
                    size_t err_size)
{
    char binary[PATH_MAX], config[512], endpoint[64], alerts[64], log_name[64];
    if (bench_find_binary ("onenet-broker", binary, sizeof binary, err, err_size) < 0)
        return -1;
    snprintf (log_name, sizeof log_name, "broker-%d.cfg", port);
    if (bench_write_file (self, log_name, config_text, config, sizeof config, err, err_size) < 0)
        return -1;
    snprintf (log_name, sizeof log_name, "broker-%d.log", port);
    bench_endpoint (endpoint, sizeof endpoint, port);
    //  the alerts and HTTP endpoints have fixed default ports that another
    //  broker on this machine may hold: a free port, and no HTTP
    const char *argv[] = {binary, "--endpoint", endpoint, "-c", config, "--alerts-endpoint",
                          bench_endpoint (alerts, sizeof alerts, bench_free_port ()),
                          "--http-endpoint", "", NULL};
    pid_t pid = bench_spawn (self, log_name, argv, err, err_size);
    if (pid < 0)
        return -1;
    int64_t until = onenet_clock_ms () + START_WAIT_MS;
    while (onenet_clock_ms () < until) {
        if (!bench_alive (self, pid)) {
            snprintf (err, err_size, "onenet-broker exited at start (see %s/%s)", self->dir,
                      log_name);
            return -1;
        }
        if (bench_ping (endpoint, 200))
            return pid;
    }
    snprintf (err, err_size, "onenet-broker did not answer onenet.ping within %d ms (see %s/%s)",
              START_WAIT_MS, self->dir, log_name);
    return -1;
}

static bool
s_redis_answers (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool ok = false;
    if (fd >= 0 && connect (fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        char reply[16] = "";
        ok = write (fd, "PING\r\n", 6) == 6 && read (fd, reply, sizeof reply - 1) > 0 &&
             strncmp (reply, "+PONG", 5) == 0;
    }
    if (fd >= 0)
        close (fd);
    return ok;
}

pid_t
bench_start_redis (bench_env_t *self, int port, bool aof, char *err, size_t err_size)
{
    char binary[PATH_MAX] = "/usr/bin/redis-server", port_text[16], dir[400], log_name[64];
    if (!s_executable (binary) &&
        bench_find_binary ("redis-server", binary, sizeof binary, err, err_size) < 0)
        return -1;
    snprintf (port_text, sizeof port_text, "%d", port);
    snprintf (dir, sizeof dir, "%s/redis-%d", self->dir, port);
    snprintf (log_name, sizeof log_name, "redis-%d.log", port);
    mkdir (dir, 0700);
    const char *argv[] = {binary,           "--bind",      "127.0.0.1", "--port", port_text,
                          "--dir",          dir,           "--save",    "",       "--appendonly",
                          aof ? "yes" : "no", "--appendfsync", "everysec", "--daemonize", "no",
                          NULL};
    pid_t pid = bench_spawn (self, log_name, argv, err, err_size);
    if (pid < 0)
        return -1;
    for (int waited = 0; waited < START_WAIT_MS; waited += 20) {
        if (!bench_alive (self, pid)) {
            snprintf (err, err_size, "redis-server exited at start (see %s/%s)", self->dir,
                      log_name);
            return -1;
        }
        if (s_redis_answers (port))
            return pid;
        usleep (20000);
    }
    snprintf (err, err_size, "redis-server did not answer PING within %d ms (see %s/%s)",
              START_WAIT_MS, self->dir, log_name);
    return -1;
}

/* --- the NATS baseline ---------------------------------------------------- */

int
bench_nats_find (bench_nats_t *self, char *why, size_t why_size)
{
    memset (self, 0, sizeof *self);
    char unused[256];
    bool server = bench_find_binary ("nats-server", self->server, sizeof self->server, unused,
                                     sizeof unused) == 0;
    static const char *const dirs[] = {"/usr/sbin", "/usr/bin"};
    for (size_t i = 0; !server && i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf (self->server, sizeof self->server, "%s/nats-server", dirs[i]);
        server = s_executable (self->server);
    }
    if (!server) {
        snprintf (why, why_size,
                  "nats-server not found in $PATH, /usr/sbin or /usr/bin (Debian package "
                  "nats-server; scripts/deps.sh installs it)");
        return -1;
    }
    if (bench_find_binary ("onenet-bench-nats", self->helper, sizeof self->helper, unused,
                           sizeof unused) < 0) {
        snprintf (why, why_size,
                  "onenet-bench-nats not found next to this executable nor in $PATH (it is "
                  "built only when libnats is there: Debian package libnats-dev)");
        return -1;
    }
    return 0;
}

/* True once nats-server on port sends its INFO greeting. */
static bool
s_nats_answers (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t)port)};
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    struct timeval timeout = {.tv_sec = 0, .tv_usec = 500000};
    bool ok = false;
    if (fd >= 0 && setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) == 0 &&
        connect (fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        char greeting[8] = "";
        ok = read (fd, greeting, 5) == 5 && strncmp (greeting, "INFO ", 5) == 0;
    }
    if (fd >= 0)
        close (fd);
    return ok;
}

int
bench_nats_start (bench_env_t *env, bench_nats_t *self, char *err, size_t err_size)
{
    int port = bench_free_port ();
    if (port < 0) {
        snprintf (err, err_size, "no free port for nats-server");
        return -1;
    }
    char port_text[16], log_name[64];
    snprintf (port_text, sizeof port_text, "%d", port);
    snprintf (log_name, sizeof log_name, "nats-server-%d.log", port);
    //  no config file, so no monitoring, cluster, gateway or leaf node
    //  port: only the client port, on loopback
    const char *argv[] = {self->server, "-a", "127.0.0.1", "-p", port_text, NULL};
    pid_t pid = bench_spawn (env, log_name, argv, err, err_size);
    if (pid < 0)
        return -1;
    for (int waited = 0; waited < START_WAIT_MS; waited += 20) {
        if (!bench_alive (env, pid)) {
            snprintf (err, err_size, "nats-server exited at start (see %s/%s)", env->dir, log_name);
            return -1;
        }
        if (s_nats_answers (port)) {
            self->pid = pid;
            snprintf (self->url, sizeof self->url, "nats://127.0.0.1:%d", port);
            return 0;
        }
        usleep (20000);
    }
    bench_stop (env, pid);
    snprintf (err, err_size, "nats-server did not greet within %d ms (see %s/%s)", START_WAIT_MS,
              env->dir, log_name);
    return -1;
}

int
bench_nats_run (bench_env_t *env, const bench_nats_t *self, const char *log_name,
                const char *const args[], const char *const required[], bench_report_t *figures,
                char *err, size_t err_size)
{
    const char *argv[24];
    size_t argc = 0;
    argv[argc++] = self->helper;
    for (size_t i = 0; args[i] && argc < sizeof argv / sizeof argv[0] - 3; i++)
        argv[argc++] = args[i];
    argv[argc++] = "--url";
    argv[argc++] = self->url;
    argv[argc] = NULL;
    if (bench_run (env, log_name, argv, err, err_size) < 0)
        return -1;
    char path[512], line[256];
    snprintf (path, sizeof path, "%s/%s", env->dir, log_name);
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (err, err_size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    memset (figures, 0, sizeof *figures);
    while (fgets (line, sizeof line, file)) {
        char name[96], unit[16];
        double value;
        if (sscanf (line, "%95s %lf %15s", name, &value, unit) == 3)
            bench_add (figures, BENCH_MEASURED, unit, 1, value, "%s", name);
    }
    fclose (file);
    for (size_t i = 0; required[i]; i++)
        if (!bench_find (figures, required[i])) {
            snprintf (err, err_size, "onenet-bench-nats printed no %s (see %s)", required[i], path);
            return -1;
        }
    return 0;
}

/* Live instances of exactly `service` in the broker's catalogue. */
static size_t
s_instances (onenet_client_t *client, const char *service)
{
    Onenet__ServicesRequest request = ONENET__SERVICES_REQUEST__INIT;
    request.prefix = (char *)service;
    onenet_call_options_t options = {.timeout_ms = 500};
    onenet_reply_t *reply =
        onenet_client_call_message (client, "onenet.services", &request.base, &options);
    Onenet__ServicesReply *services = reply && onenet_reply_status (reply) == ONENET_OK
                                          ? (Onenet__ServicesReply *)onenet_reply_unpack (
                                                reply, &onenet__services_reply__descriptor)
                                          : NULL;
    size_t count = 0;
    for (size_t i = 0; services && i < services->n_services; i++)
        if (strcmp (services->services[i]->name, service) == 0)
            count = services->services[i]->n_instances;
    if (services)
        protobuf_c_message_free_unpacked (&services->base, NULL);
    onenet_reply_destroy (&reply);
    return count;
}

int
bench_wait_service (const char *endpoint, const char *service, int timeout_ms, char *err,
                    size_t err_size)
{
    onenet_client_t *client = onenet_client_new (endpoint, err, err_size);
    if (!client)
        return -1;
    int64_t until = onenet_clock_ms () + timeout_ms;
    bool found = false;
    while (!found && onenet_clock_ms () < until) {
        found = s_instances (client, service) > 0;
        if (!found)
            usleep (20000);
    }
    onenet_client_destroy (&client);
    if (!found)
        snprintf (err, err_size, "no live instance of %s at %s within %d ms", service, endpoint,
                  timeout_ms);
    return found ? 0 : -1;
}
