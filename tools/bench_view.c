/*
 * tools/bench_view.c - `onenet bench view`: the one network view, cached
 * and fresh, against what it is built from.
 *
 * The system: redis-server, onenet-seed's three department stores, the
 * broker with its view cache in that Redis, and the three department
 * adapters. People come from the seeded public_security.db. Phases, each
 * measured for --duration after a warm-up:
 *
 *   hit      onenet.view.person for people viewed once already (cached),
 *            --inflight in flight
 *   miss     the same with bypass_cache: a fan-out to three departments,
 *            at --inflight and at 1 in flight
 *   rr       ps.person.get for the same people, 1 in flight: the single
 *            round trip a miss should cost not much more than; it runs
 *            in alternating rounds with the misses at 1 in flight
 *            (bench_interleave), the two sides of the target's ratio
 *   redis    bare hiredis GETs of view-sized values, pipelined with
 *            --inflight outstanding: the ceiling for cache hits
 *
 * With --broker the system is not ours: only Redis (for its baseline) and
 * a seeded copy of the stores (to pick resident IDs; seed the system the
 * same way for them to be found) are made locally.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include <sqlite3.h>
#include "bench.h"
#include "onenet/proto/public_security.pb-c.h"
#include "onenet/proto/view.pb-c.h"

#define MAX_PEOPLE 1000
#define CALL_TIMEOUT_MS 5000
#define RESIDENT_ID_SIZE 18
/* One hit reply in this many is decoded to check it came from the cache. */
#define CHECK_EVERY 16
/* Targets printed beside the figures, never asserted. */
#define TARGET_HIT_RPS 50000.0
#define TARGET_MISS_OVER_RR 2.0

static const char *const s_departments[] = {"public_security", "social_security", "emergency"};
static const char *const s_adapters[] = {
    "onenet-adapter-public-security", "onenet-adapter-social-security", "onenet-adapter-emergency"};
static const char *const s_view_services[] = {"ps.view.person", "ss.view.person", "em.view.person"};

typedef struct {
    char (*ids)[RESIDENT_ID_SIZE + 1];
    size_t count;
    bool bypass_cache;
    //  filled by s_check_cached during the hit phase
    uint64_t replies, checked, cached;
    //  view bodies seen in the warm-up, as values for the Redis baseline
    uint8_t **values;
    size_t *value_sizes;
} people_t;

/* --- request bodies ---------------------------------------------------------- */

static size_t
s_view_body (void *state, uint64_t seq, uint8_t *buffer, size_t size)
{
    const people_t *people = state;
    Onenet__View__PersonViewRequest request = ONENET__VIEW__PERSON_VIEW_REQUEST__INIT;
    request.resident_id = people->ids[seq % people->count];
    request.bypass_cache = people->bypass_cache;
    (void)size; /* an ID and a flag: far below the driver's buffer */
    return protobuf_c_message_pack (&request.base, buffer);
}

static size_t
s_person_body (void *state, uint64_t seq, uint8_t *buffer, size_t size)
{
    const people_t *people = state;
    Onenet__Ps__PersonGetRequest request = ONENET__PS__PERSON_GET_REQUEST__INIT;
    request.resident_id = people->ids[seq % people->count];
    (void)size;
    return protobuf_c_message_pack (&request.base, buffer);
}

static void
s_check_cached (void *state, const onenet_reply_t *reply)
{
    people_t *people = state;
    if (people->replies++ % CHECK_EVERY)
        return;
    Onenet__View__PersonView *view = (Onenet__View__PersonView *)onenet_reply_unpack (
        reply, &onenet__view__person_view__descriptor);
    people->checked++;
    if (view && view->from_cache)
        people->cached++;
    if (view)
        protobuf_c_message_free_unpacked (&view->base, NULL);
}

/* --- people ------------------------------------------------------------------ */

static int
s_pick_people (const char *stores, people_t *people, char *err, size_t err_size)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/public_security.db", stores);
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    people->ids = calloc (MAX_PEOPLE, sizeof *people->ids);
    int rc = people->ids ? sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) : SQLITE_NOMEM;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2 (db, "SELECT resident_id FROM persons LIMIT ?", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int (stmt, 1, MAX_PEOPLE);
    while (rc == SQLITE_OK && sqlite3_step (stmt) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text (stmt, 0);
        if (id && strlen (id) == RESIDENT_ID_SIZE)
            memcpy (people->ids[people->count++], id, RESIDENT_ID_SIZE + 1);
    }
    if (rc != SQLITE_OK || people->count == 0)
        snprintf (err, err_size, "cannot read resident IDs from %s: %s", path,
                  rc != SQLITE_OK ? (db ? sqlite3_errmsg (db) : "out of memory") : "no rows");
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return rc == SQLITE_OK && people->count ? 0 : -1;
}

static void
s_free_people (people_t *people)
{
    for (size_t i = 0; people->values && i < people->count; i++)
        free (people->values[i]);
    free (people->values);
    free (people->value_sizes);
    free (people->ids);
}

/* Views everyone once (through the cache, so they are cached from then
 * on), `inflight` at a time, keeping each reply body. */
static int
s_view_everyone (const char *endpoint, people_t *people, size_t inflight, char *err,
                 size_t err_size)
{
    people->values = calloc (people->count, sizeof *people->values);
    people->value_sizes = calloc (people->count, sizeof *people->value_sizes);
    onenet_client_t *client = onenet_client_new (endpoint, err, err_size);
    if (!client || !people->values || !people->value_sizes) {
        if (client)
            snprintf (err, err_size, "out of memory");
        onenet_client_destroy (&client);
        return -1;
    }
    onenet_call_options_t options = {.timeout_ms = CALL_TIMEOUT_MS};
    uint64_t first_id = 0;
    size_t sent = 0;
    int rc = 0;
    while (rc == 0 && (sent < people->count || onenet_client_pending (client))) {
        while (sent < people->count && onenet_client_pending (client) < inflight) {
            uint8_t body[64];
            size_t size = s_view_body (people, sent, body, sizeof body);
            uint64_t id = onenet_client_send (client, "onenet.view.person", body, size, &options);
            if (!first_id)
                first_id = id;
            if (id == 0 || id != first_id + sent) {
                snprintf (err, err_size, "cannot send onenet.view.person: %s",
                          onenet_client_error (client));
                rc = -1;
                break;
            }
            sent++;
        }
        onenet_reply_t *reply =
            rc == 0 ? onenet_client_recv (client, CALL_TIMEOUT_MS + 3000) : NULL;
        if (!reply)
            break;
        size_t index = (size_t)(onenet_reply_correlation_id (reply) - first_id), size = 0;
        const void *body = onenet_reply_body (reply, &size);
        if (index >= people->count) {
            snprintf (err, err_size, "onenet.view.person: reply to a call never made");
            rc = -1;
        } else if (onenet_reply_status (reply) != ONENET_OK) {
            snprintf (err, err_size, "onenet.view.person %s: %s: %s", people->ids[index],
                      onenet_status_name (onenet_reply_status (reply)),
                      onenet_reply_message (reply));
            rc = -1;
        } else if ((people->values[index] = malloc (size ? size : 1))) {
            memcpy (people->values[index], body, size);
            people->value_sizes[index] = size;
        }
        onenet_reply_destroy (&reply);
    }
    if (rc == 0 && onenet_client_pending (client)) {
        snprintf (err, err_size, "onenet.view.person: no reply within %d ms",
                  CALL_TIMEOUT_MS + 3000);
        rc = -1;
    }
    onenet_client_destroy (&client);
    return rc;
}

/* --- the Redis baseline ----------------------------------------------------------- */

/* Stores the view bodies under keys of our own, then GETs them in a
 * closed loop of `inflight` pipelined commands on one connection, the
 * way the broker's cache reads. Returns GETs per second, or -1. */
static double
s_redis_gets (int port, const people_t *people, size_t inflight, double duration_s, char *err,
              size_t err_size)
{
    redisContext *redis = redisConnect ("127.0.0.1", port);
    if (!redis || redis->err) {
        snprintf (err, err_size, "redis baseline: cannot connect: %s",
                  redis ? redis->errstr : "out of memory");
        redisFree (redis);
        return -1;
    }
    char (*keys)[48] = calloc (people->count, sizeof *keys);
    for (size_t i = 0; keys && i < people->count; i++) {
        snprintf (keys[i], sizeof keys[i], "onenet:bench:%s", people->ids[i]);
        redisAppendCommand (redis, "SET %s %b", keys[i],
                            people->values[i] ? people->values[i] : (uint8_t *)"",
                            people->value_sizes[i]);
    }
    bool ok = keys != NULL;
    for (size_t i = 0; ok && i < people->count; i++) {
        redisReply *reply = NULL;
        ok =
            redisGetReply (redis, (void **)&reply) == REDIS_OK && reply->type == REDIS_REPLY_STATUS;
        freeReplyObject (reply);
    }
    int64_t from = bench_now_ns () + (int64_t)(BENCH_WARMUP_S * 1e9);
    int64_t until = from + (int64_t)(duration_s * 1e9);
    uint64_t seq = 0, done = 0;
    size_t outstanding = 0;
    while (ok) {
        for (; outstanding < inflight && bench_now_ns () < until; outstanding++, seq++)
            redisAppendCommand (redis, "GET %s", keys[seq % people->count]);
        if (outstanding == 0)
            break;
        redisReply *reply = NULL;
        //  flushes what was appended, then reads one reply
        ok =
            redisGetReply (redis, (void **)&reply) == REDIS_OK && reply->type == REDIS_REPLY_STRING;
        freeReplyObject (reply);
        outstanding--;
        int64_t now = bench_now_ns ();
        if (now >= from && now <= until)
            done++;
    }
    if (!ok)
        snprintf (err, err_size, "redis baseline: %s",
                  redis->err ? redis->errstr : "unexpected reply");
    free (keys);
    redisFree (redis);
    return ok ? (double)done / duration_s : -1;
}

/* --- the system ---------------------------------------------------------------------- */

static int
s_seed (bench_env_t *env, long people, const char *stores, char *err, size_t err_size)
{
    char seed[PATH_MAX], count[32];
    if (bench_find_binary ("onenet-seed", seed, sizeof seed, err, err_size) < 0)
        return -1;
    snprintf (count, sizeof count, "%ld", people);
    fprintf (stderr, "bench: seeding %ld people into %s (a few seconds per 100000)\n", people,
             stores);
    int64_t start = bench_now_ns ();
    const char *argv[] = {seed, "--out", stores, "--people", count, "--quiet", NULL};
    if (bench_run (env, "seed.log", argv, err, err_size) < 0)
        return -1;
    fprintf (stderr, "bench: seeded in %.1f s\n", (double)(bench_now_ns () - start) / 1e9);
    return 0;
}

/* Broker on the given Redis and the three departments on their stores. */
static int
s_start_system (bench_env_t *env, int redis_port, const char *stores, char *endpoint,
                size_t endpoint_size, char *err, size_t err_size)
{
    char config[256];
    snprintf (config, sizeof config,
              "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
              "audit = { enabled = false; };\n"
              "log = { level = \"warn\"; };\n",
              redis_port);
    int port = bench_free_port ();
    if (bench_start_broker (env, port, config, err, err_size) < 0)
        return -1;
    bench_endpoint (endpoint, endpoint_size, port);
    for (size_t i = 0; i < 3; i++) {
        char binary[PATH_MAX], db[PATH_MAX], log_name[64];
        if (bench_find_binary (s_adapters[i], binary, sizeof binary, err, err_size) < 0)
            return -1;
        snprintf (db, sizeof db, "%s/%s.db", stores, s_departments[i]);
        snprintf (log_name, sizeof log_name, "%s.log", s_departments[i]);
        const char *argv[] = {binary, "--broker",   endpoint,  "--db",
                              db,     "--instance", "bench-1", NULL};
        if (bench_spawn (env, log_name, argv, err, err_size) < 0)
            return -1;
    }
    return 0;
}

/* Runs one phase and fails on any failed call (bench_result_check). */
static int
s_phase (bench_load_t *load, const char *what, const bench_options_t *options,
         bench_result_t *result, char *err, size_t err_size)
{
    if (bench_onenet_load (load, result, err, err_size) < 0)
        return -1;
    return bench_result_check (what, result, options->duration_s, err, err_size);
}

static void
s_add_result (bench_report_t *report, const char *unit, const bench_result_t *result,
              const char *prefix)
{
    bench_add (report, BENCH_MEASURED, unit, 0, result->rps, "%s.rps", prefix);
    bench_add (report, BENCH_MEASURED, "us", 1, result->p50_us, "%s.p50", prefix);
    bench_add (report, BENCH_MEASURED, "us", 1, result->p99_us, "%s.p99", prefix);
}

/* The four phases through the broker, then the Redis baseline. */
static int
s_measure (const char *endpoint, int redis_port, people_t *people, const bench_options_t *options,
           size_t inflight, bench_report_t *report, char *err, size_t err_size)
{
    bench_load_t load = {.endpoint = endpoint,
                         .service = "onenet.view.person",
                         .inflight = inflight,
                         .warmup_s = BENCH_WARMUP_S,
                         .duration_s = options->duration_s,
                         .timeout_ms = CALL_TIMEOUT_MS,
                         .body = s_view_body,
                         .on_reply = s_check_cached,
                         .state = people};
    bench_result_t hit, miss, miss1, rr;
    char prefix[64];
    if (s_phase (&load, "cache hits", options, &hit, err, err_size) < 0)
        return -1;
    people->bypass_cache = true;
    load.on_reply = NULL;
    if (s_phase (&load, "cache misses", options, &miss, err, err_size) < 0)
        return -1;
    //  the ratio's two sides, 1 in flight, in alternating rounds
    load.inflight = 1;
    bench_load_t single = load;
    single.service = "ps.person.get";
    single.body = s_person_body;
    bench_side_t pair[2] = {{.round = bench_onenet_round, .state = &load},
                            {.round = bench_onenet_round, .state = &single}};
    if (bench_interleave (pair, 2, BENCH_WARMUP_S, options->duration_s, err, err_size) < 0 ||
        bench_result_check ("cache misses, 1 in flight", &pair[0].result, options->duration_s,
                            err, err_size) < 0 ||
        bench_result_check ("ps.person.get", &pair[1].result, options->duration_s, err,
                            err_size) < 0)
        return -1;
    miss1 = pair[0].result;
    rr = pair[1].result;
    double gets = s_redis_gets (redis_port, people, inflight, options->duration_s, err, err_size);
    if (gets <= 0)
        return -1;

    snprintf (prefix, sizeof prefix, "view.hit.inflight%zu", inflight);
    bench_add (report, BENCH_MEASURED, "views/s", 0, hit.rps, "%s.rps", prefix);
    bench_add (report, BENCH_MEASURED, "views/s", 0, TARGET_HIT_RPS, "%s.rps.target_min", prefix);
    bench_add (report, BENCH_MEASURED, "us", 1, hit.p50_us, "%s.p50", prefix);
    bench_add (report, BENCH_MEASURED, "us", 1, hit.p99_us, "%s.p99", prefix);
    bench_add (report, BENCH_MEASURED, "%", 1,
               people->checked ? 100.0 * (double)people->cached / (double)people->checked : 0,
               "%s.cached", prefix);
    snprintf (prefix, sizeof prefix, "view.miss.inflight%zu", inflight);
    s_add_result (report, "views/s", &miss, prefix);
    s_add_result (report, "views/s", &miss1, "view.miss.inflight1");
    s_add_result (report, "req/s", &rr, "view.rr.inflight1");
    bench_add (report, BENCH_MEASURED, "gets/s", 0, gets, "view.redis_get.inflight%zu.rps",
               inflight);
    bench_add (report, BENCH_RATIO, "x", 3, miss1.p50_us / rr.p50_us, "view.miss.p50_over_rr_p50");
    bench_add (report, BENCH_RATIO, "x", 1, TARGET_MISS_OVER_RR,
               "view.miss.p50_over_rr_p50.target_max");
    bench_add (report, BENCH_RATIO, "x", 3, hit.rps / gets, "view.hit.rps_over_redis_get");
    return 0;
}

int
bench_view (bench_env_t *env, const bench_options_t *options, bench_report_t *report, char *err,
            size_t err_size)
{
    size_t inflight = options->inflight ? options->inflight : 64;
    char stores[512], endpoint[256];
    snprintf (stores, sizeof stores, "%s/stores", bench_env_dir (env));
    if (options->broker && !bench_ping (options->broker, 2000)) {
        snprintf (err, err_size, "the broker at %s does not answer onenet.ping", options->broker);
        return -1;
    }
    int redis_port = bench_free_port ();
    if (bench_start_redis (env, redis_port, options->aof, err, err_size) < 0 ||
        s_seed (env, options->people, stores, err, err_size) < 0)
        return -1;
    if (options->broker)
        snprintf (endpoint, sizeof endpoint, "%s", options->broker);
    else if (s_start_system (env, redis_port, stores, endpoint, sizeof endpoint, err, err_size) < 0)
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (bench_wait_service (endpoint, s_view_services[i], 10000, err, err_size) < 0)
            return -1;
    people_t people = {0};
    int rc = s_pick_people (stores, &people, err, err_size);
    if (rc == 0)
        rc = s_view_everyone (endpoint, &people, inflight, err, err_size);
    if (rc == 0)
        rc = s_measure (endpoint, redis_port, &people, options, inflight, report, err, err_size);
    s_free_people (&people);
    return rc;
}
