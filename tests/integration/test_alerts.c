/*
 * test_alerts.c - the alert subscriber SDK (onenet/subscriber.h) and the
 * `onenet alerts` / `onenet alert publish` commands against a real broker
 * and a real redis-server (AOF on): filters, a subscriber offline while a
 * thousand alerts are published, a subscriber restarted mid-stream, the
 * broker and Redis restarted mid-stream, Redis's script cache flushed,
 * batches of alerts (and malformed ones, from a bare XPUB), --last, and
 * the CLI's CAP input and output.
 *
 * Each test gets a fresh redis-server and broker. Alerts are generated
 * here with unique identifiers ("<test>-00042"), so a test can check that
 * it got each one exactly once and in which order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "onenet/cap.h"
#include "onenet/subscriber.h"
#include "onenet/proto/alert.pb-c.h"

#define SENDER "coordination@em.example.gov.cn"
#define MAX_GOT 2048
#define CLI_LIMIT_MS 15000

typedef struct {
    int broker_port, alerts_port, redis_port;
    pid_t broker, redis;
    char config[1024];
    char broker_endpoint[64], alerts_endpoint[64];
    onenet_client_t *publisher;
} system_t;

static system_t s;

/* --- the system ------------------------------------------------------- */

static void
start_broker (void)
{
    s.broker = harness_start_broker (s.broker_port, s.config);
}

static int
setup (void **state)
{
    (void)state;
    memset (&s, 0, sizeof s);
    s.redis_port = harness_free_port ();
    s.redis = harness_start_redis (s.redis_port, true);
    s.broker_port = harness_free_port ();
    s.alerts_port = harness_free_port ();
    snprintf (s.broker_endpoint, sizeof s.broker_endpoint, "%s", harness_endpoint (s.broker_port));
    snprintf (s.alerts_endpoint, sizeof s.alerts_endpoint, "%s", harness_endpoint (s.alerts_port));
    snprintf (
        s.config, sizeof s.config,
        "redis = { endpoint = \"127.0.0.1:%d\"; };\n"
        "alerts = { endpoint = \"%s\"; spool = \"%s/alerts.spool\"; escalate_after_s = 0; };\n"
        "http = { endpoint = \"\"; };\n",
        s.redis_port, s.alerts_endpoint, harness_tempdir ());
    start_broker ();
    s.publisher = onenet_client_new (s.broker_endpoint, NULL, 0);
    return s.publisher ? 0 : -1;
}

static int
teardown (void **state)
{
    (void)state;
    onenet_client_destroy (&s.publisher);
    bool clean = harness_stop_all_clean ();
    harness_cleanup ();
    return clean ? 0 : -1;
}

/* --- alerts made here --------------------------------------------------- */

/* One CAP alert built directly as the message: one info, one area with a
 * GB/T 2260 geocode (none when code is NULL). Everything points into the
 * struct itself; nothing to free. */
typedef struct {
    Onenet__Alert__Alert alert;
    Onenet__Alert__Info info, *infos[1];
    Onenet__Alert__Area area, *areas[1];
    Onenet__Alert__ValuePair geocode, *geocodes[1];
    char *categories[1];
    char identifier[64], event[64], headline[96];
} test_alert_t;

static void
make_alert (test_alert_t *t, const char *identifier, const char *severity, const char *category,
            const char *code)
{
    memset (t, 0, sizeof *t);
    onenet__alert__alert__init (&t->alert);
    onenet__alert__info__init (&t->info);
    onenet__alert__area__init (&t->area);
    onenet__alert__value_pair__init (&t->geocode);
    snprintf (t->identifier, sizeof t->identifier, "%s", identifier);
    snprintf (t->event, sizeof t->event, "%s test", category);
    snprintf (t->headline, sizeof t->headline, "Exercise %s", identifier);
    t->alert.identifier = t->identifier;
    t->alert.sender = SENDER;
    t->alert.sent = "2026-11-23T10:00:00+08:00";
    t->alert.status = "Exercise";
    t->alert.msg_type = "Alert";
    t->alert.scope = "Public";
    t->categories[0] = (char *)category;
    t->info.category = t->categories;
    t->info.n_category = 1;
    t->info.event = t->event;
    t->info.urgency = "Immediate";
    t->info.severity = (char *)severity;
    t->info.certainty = "Observed";
    t->info.headline = t->headline;
    t->area.area_desc = "Exercise area";
    if (code) {
        t->geocode.value_name = "GB/T 2260";
        t->geocode.value = (char *)code;
        t->geocodes[0] = &t->geocode;
        t->area.geocode = t->geocodes;
        t->area.n_geocode = 1;
    }
    t->areas[0] = &t->area;
    t->info.area = t->areas;
    t->info.n_area = 1;
    t->infos[0] = &t->info;
    t->alert.info = t->infos;
    t->alert.n_info = 1;
}

/* Publishes an alert; returns its PublishReply (the caller frees it). */
static Onenet__Alert__PublishReply *
publish_message (onenet_client_t *client, const Onenet__Alert__Alert *alert)
{
    onenet_call_options_t options = {.timeout_ms = 5000};
    onenet_reply_t *reply =
        onenet_client_call_message (client, "onenet.alert.publish", &alert->base, &options);
    if (onenet_reply_status (reply) != ONENET_OK)
        fail_msg ("publish %s: %s %s", alert->identifier,
                  onenet_status_name (onenet_reply_status (reply)), onenet_reply_message (reply));
    Onenet__Alert__PublishReply *published = (Onenet__Alert__PublishReply *)onenet_reply_unpack (
        reply, &onenet__alert__publish_reply__descriptor);
    onenet_reply_destroy (&reply);
    assert_non_null (published);
    return published;
}

/* True if stream ID a ("MS-SEQ") comes before b, compared as numbers. */
static bool
id_before (const char *a, const char *b)
{
    char *end = NULL;
    unsigned long long a_ms = strtoull (a, &end, 10);
    unsigned long long a_seq = *end == '-' ? strtoull (end + 1, NULL, 10) : 0;
    unsigned long long b_ms = strtoull (b, &end, 10);
    unsigned long long b_seq = *end == '-' ? strtoull (end + 1, NULL, 10) : 0;
    return a_ms < b_ms || (a_ms == b_ms && a_seq < b_seq);
}

/* Publishes "<prefix>-NNNNN" for NNNNN in [from, from + n), pipelined; the
 * broker logs them in the order sent. Keeps the newest stream ID in last
 * (if not NULL). */
static void
publish_range (onenet_client_t *client, const char *prefix, int from, int n, const char *severity,
               const char *category, const char *code, char last[64])
{
    const int window = 100;
    for (int done = 0; done < n;) {
        int batch = n - done < window ? n - done : window;
        for (int i = 0; i < batch; i++) {
            test_alert_t t;
            char identifier[64];
            snprintf (identifier, sizeof identifier, "%s-%05d", prefix, from + done + i);
            make_alert (&t, identifier, severity, category, code);
            uint8_t buffer[1024];
            size_t size = protobuf_c_message_pack (&t.alert.base, buffer);
            onenet_call_options_t options = {.timeout_ms = 10000};
            assert_true (
                onenet_client_send (client, "onenet.alert.publish", buffer, size, &options) > 0);
        }
        for (int i = 0; i < batch; i++) {
            onenet_reply_t *reply = onenet_client_recv (client, 15000);
            assert_non_null (reply);
            if (onenet_reply_status (reply) != ONENET_OK)
                fail_msg ("publish: %s %s", onenet_status_name (onenet_reply_status (reply)),
                          onenet_reply_message (reply));
            Onenet__Alert__PublishReply *published =
                (Onenet__Alert__PublishReply *)onenet_reply_unpack (
                    reply, &onenet__alert__publish_reply__descriptor);
            assert_non_null (published);
            if (last && *published->stream_id && (!*last || id_before (last, published->stream_id)))
                snprintf (last, 64, "%s", published->stream_id);
            protobuf_c_message_free_unpacked (&published->base, NULL);
            onenet_reply_destroy (&reply);
        }
        done += batch;
    }
}

static char *
read_text (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        fail_msg ("cannot open %s", path);
    char *text = calloc (1, 1 << 20);
    *size = fread (text, 1, (1 << 20) - 1, file);
    fclose (file);
    return text;
}

/* --- subscribers ---------------------------------------------------------- */

static onenet_subscriber_t *
subscribe (const char *const *severities, size_t n_severities, const char *const *areas,
           size_t n_areas, const char *const *categories, size_t n_categories, const char *state)
{
    onenet_alert_filter_t filter = {severities, n_severities, areas,
                                    n_areas,    categories,   n_categories};
    char err[256] = "";
    onenet_subscriber_t *sub = onenet_subscriber_new (s.broker_endpoint, s.alerts_endpoint, &filter,
                                                      state, err, sizeof err);
    if (!sub)
        fail_msg ("subscriber: %s", err);
    return sub;
}

/* What a subscriber handed out: identifiers and stream IDs, in order. */
typedef struct {
    char identifier[MAX_GOT][64];
    char stream_id[MAX_GOT][48];
    size_t count;
} got_t;

static void
got_add (got_t *got, const Onenet__Alert__AlertEnvelope *envelope)
{
    assert_true (got->count < MAX_GOT);
    snprintf (got->identifier[got->count], 64, "%s", envelope->alert->identifier);
    snprintf (got->stream_id[got->count], 48, "%s", envelope->stream_id);
    got->count++;
}

/* Takes alerts until `want` have been collected in all, or the time is
 * up (the test then fails on the count). */
static void
collect (onenet_subscriber_t *sub, got_t *got, size_t want, int limit_ms)
{
    int64_t until = onenet_clock_ms () + limit_ms;
    while (got->count < want && onenet_clock_ms () < until) {
        Onenet__Alert__AlertEnvelope *envelope = onenet_subscriber_next (sub, 200);
        if (envelope) {
            got_add (got, envelope);
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        }
    }
    if (got->count != want)
        fail_msg ("got %zu alerts, expected %zu (last error: %s)", got->count, want,
                  onenet_subscriber_error (sub));
}

/* Keeps taking for a while (long enough for ticks and a catch-up) and
 * returns how many more alerts came. */
static size_t
drain (onenet_subscriber_t *sub, got_t *got, int ms)
{
    size_t before = got->count;
    int64_t until = onenet_clock_ms () + ms;
    while (onenet_clock_ms () < until) {
        Onenet__Alert__AlertEnvelope *envelope = onenet_subscriber_next (sub, 100);
        if (envelope) {
            got_add (got, envelope);
            onenet__alert__alert_envelope__free_unpacked (envelope, NULL);
        }
    }
    return got->count - before;
}

static bool
got_has (const got_t *got, const char *identifier)
{
    for (size_t i = 0; i < got->count; i++)
        if (strcmp (got->identifier[i], identifier) == 0)
            return true;
    return false;
}

/* Checks that got holds exactly "<prefix>-00000" .. "<prefix>-(n-1)", each
 * once, and in that order when ordered is true. */
static void
assert_exactly (const got_t *got, const char *prefix, int n, bool ordered)
{
    static unsigned char seen[MAX_GOT];
    memset (seen, 0, sizeof seen);
    size_t length = strlen (prefix);
    int previous = -1;
    assert_int_equal (got->count, n);
    for (size_t i = 0; i < got->count; i++) {
        const char *identifier = got->identifier[i];
        if (strncmp (identifier, prefix, length) != 0 || identifier[length] != '-')
            fail_msg ("unexpected alert %s", identifier);
        int number = atoi (identifier + length + 1);
        assert_true (number >= 0 && number < n);
        if (seen[number]++)
            fail_msg ("%s delivered twice", identifier);
        if (ordered && number < previous)
            fail_msg ("%s after %s-%05d", identifier, prefix, previous);
        previous = number;
    }
}

/* Subscribes anew to Severe alerts until a newcomer replays n from the
 * stream (the broker may still be writing its spool), and checks that it
 * got "<prefix>-00000" .. "<prefix>-(n-1)" once each, every one with a
 * stream ID. */
static void
assert_stream_replays (const char *prefix, int n)
{
    const char *severe[] = {"Severe"};
    got_t *replay = calloc (1, sizeof *replay);
    int64_t until = onenet_clock_ms () + 20000;
    while (replay->count < (size_t) n && onenet_clock_ms () < until) {
        memset (replay, 0, sizeof *replay);
        onenet_subscriber_t *newcomer = subscribe (severe, 1, NULL, 0, NULL, 0, NULL);
        drain (newcomer, replay, 2500);
        onenet_subscriber_destroy (&newcomer);
    }
    assert_exactly (replay, prefix, n, false);
    for (size_t i = 0; i < replay->count; i++)
        assert_true (*replay->stream_id[i]);
    free (replay);
}

/* --- filters ----------------------------------------------------------- */

static void
test_filters (void **state)
{
    (void)state;
    const char *area_5101[] = {"5101"}, *area_5102[] = {"5102"};
    const char *extreme[] = {"Extreme"}, *fire[] = {"Fire"};
    onenet_subscriber_t *by_5101 = subscribe (NULL, 0, area_5101, 1, NULL, 0, NULL);
    onenet_subscriber_t *by_5102 = subscribe (NULL, 0, area_5102, 1, NULL, 0, NULL);
    onenet_subscriber_t *by_extreme = subscribe (extreme, 1, NULL, 0, NULL, 0, NULL);
    onenet_subscriber_t *by_fire = subscribe (NULL, 0, NULL, 0, fire, 1, NULL);

    /* The flood sample: Extreme, Met and Infra, geocodes 510104 and 510107. */
    Onenet__Alert__Alert *flood = harness_cap_sample ("onenet-flood-chengdu.xml");
    protobuf_c_message_free_unpacked (&publish_message (s.publisher, flood)->base, NULL);
    test_alert_t t;
    make_alert (&t, "fire-5101", "Severe", "Fire", "510105");
    protobuf_c_message_free_unpacked (&publish_message (s.publisher, &t.alert)->base, NULL);
    /* Some arrive live: the subscribers are running by now. */
    got_t *got = calloc (4, sizeof *got);
    collect (by_5101, &got[0], 2, 10000);
    make_alert (&t, "geo-5102", "Minor", "Geo", "510201");
    protobuf_c_message_free_unpacked (&publish_message (s.publisher, &t.alert)->base, NULL);
    make_alert (&t, "fire-nowhere", "Extreme", "Fire", NULL);
    protobuf_c_message_free_unpacked (&publish_message (s.publisher, &t.alert)->base, NULL);

    collect (by_5102, &got[1], 1, 10000);
    collect (by_extreme, &got[2], 2, 10000);
    collect (by_fire, &got[3], 2, 10000);
    onenet_subscriber_t *subs[] = {by_5101, by_5102, by_extreme, by_fire};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal (drain (subs[i], &got[i], 1500), 0);

    /* Area 5101 gets the flood for 510104 (once, though it has two
     * geocodes in 5101); 5102 does not. */
    assert_string_equal (got[0].identifier[0], flood->identifier);
    assert_string_equal (got[0].identifier[1], "fire-5101");
    assert_string_equal (got[1].identifier[0], "geo-5102");
    assert_false (got_has (&got[1], flood->identifier));
    assert_string_equal (got[2].identifier[0], flood->identifier);
    assert_string_equal (got[2].identifier[1], "fire-nowhere");
    assert_string_equal (got[3].identifier[0], "fire-5101");
    assert_string_equal (got[3].identifier[1], "fire-nowhere");
    for (size_t i = 0; i < 4; i++)
        onenet_subscriber_destroy (&subs[i]);
    onenet__alert__alert__free_unpacked (flood, NULL);
    free (got);
}

/* --- offline, restart -------------------------------------------------- */

static void
state_path (char *path, size_t size, const char *name)
{
    snprintf (path, size, "%s/%s.state", harness_tempdir (), name);
}

static void
test_offline_subscriber_gets_all_on_return (void **state)
{
    (void)state;
    const char *severe[] = {"Severe"}, *area[] = {"5101"};
    char path[512], last[64] = "";
    state_path (path, sizeof path, "offline");
    got_t *got = calloc (1, sizeof *got);

    onenet_subscriber_t *sub = subscribe (severe, 1, area, 1, NULL, 0, path);
    publish_range (s.publisher, "before", 0, 1, "Severe", "Met", "510104", NULL);
    collect (sub, got, 1, 10000);
    onenet_subscriber_destroy (&sub);

    /* Offline: 1,000 matching alerts, and others around them that do not
     * match (another severity, another city). */
    for (int i = 0; i < 10; i++) {
        publish_range (s.publisher, "minor", i * 10, 10, "Minor", "Met", "510104", NULL);
        publish_range (s.publisher, "off", i * 100, 100, "Severe", "Geo", "510106", last);
        publish_range (s.publisher, "elsewhere", i * 10, 10, "Severe", "Geo", "510201", NULL);
    }

    memset (got, 0, sizeof *got);
    sub = subscribe (severe, 1, area, 1, NULL, 0, path);
    collect (sub, got, 1000, 25000);
    assert_int_equal (drain (sub, got, 1500), 0);
    assert_exactly (got, "off", 1000, true);
    /* Stream order too: the IDs only grow. */
    for (size_t i = 1; i < got->count; i++)
        assert_true (id_before (got->stream_id[i - 1], got->stream_id[i]));
    onenet_subscriber_destroy (&sub);

    /* The state file now starts after the last "off" alert (the
     * "elsewhere" ones after it do not match). */
    size_t size = 0;
    char *text = read_text (path, &size);
    char *cursor = strstr (text, "\ncursor ");
    assert_non_null (cursor);
    cursor[8 + strcspn (cursor + 8, "\n")] = '\0';
    assert_false (id_before (cursor + 8, last));
    free (text);

    /* Back once more: nothing again. */
    memset (got, 0, sizeof *got);
    sub = subscribe (severe, 1, area, 1, NULL, 0, path);
    assert_int_equal (drain (sub, got, 2500), 0);
    onenet_subscriber_destroy (&sub);
    free (got);
}

/* A subscriber to Severe alerts of 5101 that took one alert live and two
 * rounds of marks since (a baseline: its stats then go to before). */
static onenet_subscriber_t *
live_subscriber (got_t *got, onenet_subscriber_stats_t *before)
{
    const char *severe[] = {"Severe"}, *area[] = {"5101"};
    onenet_subscriber_t *sub = subscribe (severe, 1, area, 1, NULL, 0, NULL);
    publish_range (s.publisher, "warm", 0, 1, "Severe", "Met", "510104", NULL);
    collect (sub, got, 1, 10000);
    assert_int_equal (drain (sub, got, 2500), 0);
    onenet_subscriber_stats (sub, before);
    memset (got, 0, sizeof *got);
    return sub;
}

/* A subscriber that keeps up takes every alert live and, thanks to the
 * broker's marks, does not read them again from the stream. Before marks,
 * every tick after new alerts sent it back to the stream for all of them. */
static void
test_live_subscriber_reads_nothing_again (void **state)
{
    (void)state;
    got_t *got = calloc (1, sizeof *got);
    onenet_subscriber_stats_t before, after;
    onenet_subscriber_t *sub = live_subscriber (got, &before);

    /* 400 alerts over about 4 s, so that ticks fall while they flow;
     * others that do not match around them. */
    for (int i = 0; i < 40; i++) {
        publish_range (s.publisher, "live", i * 10, 10, "Severe", "Fire", i % 2 ? "510104" : "510106",
                       NULL);
        publish_range (s.publisher, "other", i * 5, 5, "Minor", "Met", "510104", NULL);
        collect (sub, got, (size_t)(i + 1) * 10, 10000);
        usleep (100000);
    }
    assert_int_equal (drain (sub, got, 2500), 0);
    onenet_subscriber_stats (sub, &after);
    assert_exactly (got, "live", 400, true);
    uint64_t read_again = after.read_again - before.read_again;
    uint64_t verified = after.verified - before.verified;
    printf ("live subscriber: %" PRIu64 " rounds verified by marks, %" PRIu64
            " catch-ups, %" PRIu64 " alerts read again from the stream\n",
            verified, after.catchups - before.catchups, read_again);
    assert_true (verified >= 3);
    assert_true (read_again < 100);
    assert_int_equal (after.live - before.live, 400);
    onenet_subscriber_destroy (&sub);
    free (got);
}

/* Alerts stored by one call of the broker's publish script reach a
 * subscriber as one message (docs/PROTOCOL.md, "Alert batches"): the SDK
 * takes each of them live, in order, and the marks still show it missed
 * nothing, so it reads none of them again from the stream. */
static void
test_batch_of_alerts_is_taken_live (void **state)
{
    (void)state;
    got_t *got = calloc (1, sizeof *got);
    onenet_subscriber_stats_t before, after;
    onenet_subscriber_t *sub = live_subscriber (got, &before);

    onenet_client_t *client = onenet_client_new (s.broker_endpoint, NULL, 0);
    assert_non_null (client);
    onenet_client_set_batching (client, true);
    onenet_reply_t *reply = onenet_client_call (client, "onenet.ping", NULL, 0, NULL);
    onenet_reply_destroy (&reply);   /* now it knows the broker takes batches */
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 16; i++) {
            test_alert_t t;
            char identifier[64];
            snprintf (identifier, sizeof identifier, "together-%05d", round * 16 + i);
            make_alert (&t, identifier, "Severe", "Fire", "510104");
            uint8_t buffer[1024];
            size_t size = protobuf_c_message_pack (&t.alert.base, buffer);
            assert_true (onenet_client_send (client, "onenet.alert.publish", buffer, size, NULL) > 0);
        }
        assert_int_equal (onenet_client_flush (client), 0);
        for (int i = 0; i < 16; i++) {
            reply = onenet_client_recv (client, 5000);
            assert_non_null (reply);
            assert_int_equal (onenet_reply_status (reply), ONENET_OK);
            onenet_reply_destroy (&reply);
        }
    }
    onenet_client_destroy (&client);
    collect (sub, got, 80, 10000);
    assert_int_equal (drain (sub, got, 2500), 0);
    assert_exactly (got, "together", 80, true);
    onenet_subscriber_stats (sub, &after);
    assert_int_equal (after.live - before.live, 80);
    assert_int_equal (after.recovered - before.recovered, 0);
    assert_int_equal (after.read_again - before.read_again, 0);
    onenet_subscriber_destroy (&sub);
    free (got);
}

/* Sends [topic][bodies][count] on a bare XPUB: a batch of alerts as the
 * broker sends them. */
static void
send_batch (void *xpub, const char *topic, const uint8_t *bodies, size_t size, const char *count)
{
    assert_true (zmq_send (xpub, topic, strlen (topic), ZMQ_SNDMORE) >= 0);
    assert_true (zmq_send (xpub, bodies, size, ZMQ_SNDMORE) >= 0);
    assert_true (zmq_send (xpub, count, strlen (count), 0) >= 0);
}

/* Two envelopes "<prefix>-0000{0,1}" with stream ids "<ms>-{1,2}", each
 * after its length as a varint, at out; returns their size. */
static size_t
batch_bodies (uint8_t *out, const char *prefix, const char *ms)
{
    size_t size = 0;
    for (int i = 0; i < 2; i++) {
        test_alert_t t;
        char identifier[64], stream_id[32];
        snprintf (identifier, sizeof identifier, "%s-%05d", prefix, i);
        snprintf (stream_id, sizeof stream_id, "%s-%d", ms, i + 1);
        make_alert (&t, identifier, "Severe", "Fire", "510104");
        Onenet__Alert__AlertEnvelope envelope = ONENET__ALERT__ALERT_ENVELOPE__INIT;
        envelope.alert = &t.alert;
        envelope.stream_id = stream_id;
        envelope.published_by_department = "test";
        size_t length = protobuf_c_message_get_packed_size (&envelope.base);
        assert_true (length < 1000);   /* its varint is two bytes at most */
        if (length >= 128)
            out[size++] = (uint8_t)((length & 0x7f) | 0x80);
        out[size++] = (uint8_t)(length >> (length >= 128 ? 7 : 0));
        size += protobuf_c_message_pack (&envelope.base, out + size);
    }
    return size;
}

/* A batch whose lengths do not add up to its count is dropped whole with
 * a warning, and the next one is taken: the SDK against a bare XPUB in
 * the broker's place (its catch-ups still go to the real broker). */
static void
test_malformed_batch_is_dropped (void **state)
{
    (void)state;
    void *context = zmq_ctx_new ();
    void *xpub = zmq_socket (context, ZMQ_XPUB);
    int port = harness_free_port ();
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    assert_int_equal (zmq_bind (xpub, endpoint), 0);
    char err[256] = "";
    onenet_subscriber_t *sub = onenet_subscriber_new (s.broker_endpoint, endpoint, NULL, NULL, err,
                                                      sizeof err);
    assert_non_null (sub);
    onenet_subscriber_next (sub, 100);   /* subscribes */
    zmq_msg_t subscription;
    zmq_msg_init (&subscription);
    assert_true (zmq_msg_recv (&subscription, xpub, 0) >= 0);   /* it has */
    zmq_msg_close (&subscription);

    /* The malformed ones hold other alerts: any of them taken would show. */
    uint8_t bad[2048], good[2048];
    size_t bad_size = batch_bodies (bad, "bad", "999"), size = batch_bodies (good, "batch", "1000");
    send_batch (xpub, "alert.Severe.510104", bad, bad_size, "3");       /* two, not three */
    send_batch (xpub, "alert.Severe.510104", bad, bad_size - 1, "2");   /* the last cut short */
    send_batch (xpub, "alert.Severe.510104", bad, bad_size, "two");     /* no count */
    send_batch (xpub, "alert.Severe.510104", good, size, "2");
    got_t *got = calloc (1, sizeof *got);
    collect (sub, got, 2, 10000);
    assert_int_equal (drain (sub, got, 500), 0);
    assert_exactly (got, "batch", 2, true);
    assert_string_equal (got->stream_id[0], "1000-1");
    assert_string_equal (got->stream_id[1], "1000-2");
    onenet_subscriber_stats_t stats;
    onenet_subscriber_stats (sub, &stats);
    assert_int_equal (stats.live, 2);
    free (got);
    onenet_subscriber_destroy (&sub);
    zmq_close (xpub);
    zmq_ctx_term (context);
}

/* Publishes on its own client while the test restarts subscribers. */
typedef struct {
    const char *prefix;
    int count;
    int failures;
} publisher_job_t;

static void *
publisher_thread (void *arg)
{
    publisher_job_t *job = arg;
    onenet_client_t *client = onenet_client_new (s.broker_endpoint, NULL, 0);
    for (int i = 0; client && i < job->count; i++) {
        test_alert_t t;
        char identifier[64];
        snprintf (identifier, sizeof identifier, "%s-%05d", job->prefix, i);
        make_alert (&t, identifier, "Severe", "Fire", "510104");
        onenet_call_options_t options = {.timeout_ms = 5000};
        onenet_reply_t *reply =
            onenet_client_call_message (client, "onenet.alert.publish", &t.alert.base, &options);
        job->failures += onenet_reply_status (reply) != ONENET_OK;
        onenet_reply_destroy (&reply);
        if (i % 10 == 0)
            usleep (5000);
    }
    job->failures += client == NULL;
    onenet_client_destroy (&client);
    return NULL;
}

static void
test_subscriber_restarted_mid_stream (void **state)
{
    (void)state;
    const char *fire[] = {"Fire"};
    char path[512];
    state_path (path, sizeof path, "restart");
    got_t *first = calloc (1, sizeof *first), *second = calloc (1, sizeof *second);
    onenet_subscriber_t *sub = subscribe (NULL, 0, NULL, 0, fire, 1, path);

    publisher_job_t job = {"mid", 600, 0};
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, publisher_thread, &job), 0);
    collect (sub, first, 150, 20000);
    /* Stopped with alerts still queued and arriving: those were not taken. */
    onenet_subscriber_destroy (&sub);
    usleep (300000);
    sub = subscribe (NULL, 0, NULL, 0, fire, 1, path);
    collect (sub, second, 450, 25000);
    pthread_join (thread, NULL);
    assert_int_equal (job.failures, 0);
    assert_int_equal (drain (sub, second, 1500), 0);
    onenet_subscriber_destroy (&sub);

    /* Together: each once, in order, no gap at the restart. */
    for (size_t i = 0; i < second->count && first->count < MAX_GOT; i++) {
        memcpy (first->identifier[first->count], second->identifier[i], 64);
        memcpy (first->stream_id[first->count++], second->stream_id[i], 48);
    }
    assert_exactly (first, "mid", 600, true);
    free (first);
    free (second);
}

static void
test_broker_restarted_mid_stream (void **state)
{
    (void)state;
    const char *area[] = {"5101"};
    got_t *got = calloc (1, sizeof *got);
    onenet_subscriber_t *sub = subscribe (NULL, 0, area, 1, NULL, 0, NULL);
    publish_range (s.publisher, "br", 0, 100, "Severe", "Fire", "510104", NULL);
    collect (sub, got, 60, 10000);

    harness_stop (s.broker, SIGKILL);
    start_broker (); /* same ports, same Redis */
    publish_range (s.publisher, "br", 100, 100, "Severe", "Fire", "510104", NULL);
    collect (sub, got, 200, 25000);
    assert_int_equal (drain (sub, got, 2000), 0);
    /* Nothing lost, nothing twice; alerts recovered after the gap may come
     * after newer live ones, so order is only checked up to the restart. */
    assert_exactly (got, "br", 200, false);
    for (size_t i = 1; i < 60; i++)
        assert_true (strcmp (got->identifier[i - 1], got->identifier[i]) < 0);
    onenet_subscriber_destroy (&sub);
    free (got);
}

static void
test_redis_restarted (void **state)
{
    (void)state;
    const char *severe[] = {"Severe"};
    char path[512];
    state_path (path, sizeof path, "redis");
    got_t *got = calloc (1, sizeof *got);
    onenet_subscriber_t *sub = subscribe (severe, 1, NULL, 0, NULL, 0, path);
    publish_range (s.publisher, "rd", 0, 50, "Severe", "Met", "510104", NULL);
    collect (sub, got, 50, 10000);

    /* Redis down: alerts still reach live subscribers (spooled, no stream
     * ID yet). */
    harness_stop (s.redis, SIGKILL);
    publish_range (s.publisher, "rd", 50, 30, "Severe", "Met", "510104", NULL);
    collect (sub, got, 80, 15000);

    /* Redis back with its AOF: the spool goes into the stream, which the
     * subscriber's catch-up then reads; the spooled alerts are not handed
     * out a second time. */
    s.redis = harness_start_redis (s.redis_port, true);
    publish_range (s.publisher, "rd", 80, 20, "Severe", "Met", "510104", NULL);
    collect (sub, got, 100, 20000);

    /* A newcomer replays all 100 from the stream once the broker has
     * written its spool: the 50 from before the restart survived it. */
    assert_stream_replays ("rd", 100);

    /* The first subscriber read the same entries in its catch-up and
     * handed none out twice. */
    assert_int_equal (drain (sub, got, 2500), 0);
    assert_exactly (got, "rd", 100, false);
    onenet_subscriber_destroy (&sub);
    free (got);
}

/* Redis forgets its Lua scripts under a live connection (an operator ran
 * SCRIPT FLUSH): the broker calls its scripts by SHA1, so the next publish
 * meets NOSCRIPT. It must be spooled, not lost, and land in the stream
 * once the scripts are loaded again. */
static void
test_script_cache_flushed (void **state)
{
    (void)state;
    publish_range (s.publisher, "sf", 0, 20, "Severe", "Met", "510104", NULL);
    char port[16];
    snprintf (port, sizeof port, "%d", s.redis_port);
    const char *flush[] = {"/usr/bin/redis-cli", "-p", port, "SCRIPT", "FLUSH", NULL};
    assert_int_equal (harness_run ("redis-cli.log", flush), 0);
    publish_range (s.publisher, "sf", 20, 20, "Severe", "Met", "510104", NULL);
    assert_stream_replays ("sf", 40);
}

static void
test_last_n (void **state)
{
    (void)state;
    const char *area[] = {"5101"};
    publish_range (s.publisher, "last", 0, 10, "Moderate", "Safety", "510104", NULL);
    publish_range (s.publisher, "other", 0, 3, "Moderate", "Safety", "510201", NULL);
    got_t *got = calloc (1, sizeof *got);
    onenet_subscriber_t *sub = subscribe (NULL, 0, area, 1, NULL, 0, NULL);
    assert_int_equal (onenet_subscriber_start_last (sub, 3), 0);
    collect (sub, got, 3, 10000);
    publish_range (s.publisher, "last", 10, 1, "Moderate", "Safety", "510104", NULL);
    collect (sub, got, 4, 10000);
    assert_int_equal (drain (sub, got, 1500), 0);
    assert_string_equal (got->identifier[0], "last-00007");
    assert_string_equal (got->identifier[1], "last-00008");
    assert_string_equal (got->identifier[2], "last-00009");
    assert_string_equal (got->identifier[3], "last-00010");
    onenet_subscriber_destroy (&sub);
    free (got);
}

/* --- the CLI -------------------------------------------------------------- */

typedef struct {
    int exit_code; /* -1 if it did not exit normally */
    char out[65536];
    char err[8192];
} run_t;

static void
read_into (const char *path, char *out, size_t size)
{
    out[0] = '\0';
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    size_t n = fread (out, 1, size - 1, file);
    out[n] = '\0';
    fclose (file);
}

/* Runs `onenet args...` to completion (killed after CLI_LIMIT_MS), with
 * stdin from the file input (NULL: the test's own). The result is static:
 * valid until the next run. */
static const run_t *
run_cli_input (const char *input, const char *const args[])
{
    static run_t run;
    static int serial;
    char bin[512], out_path[512], err_path[512];
    snprintf (bin, sizeof bin, "%s", harness_bin ("onenet"));
    snprintf (out_path, sizeof out_path, "%s/cli-%d.out", harness_tempdir (), serial);
    snprintf (err_path, sizeof err_path, "%s/cli-%d.err", harness_tempdir (), serial++);
    const char *argv[32] = {bin};
    size_t n = 1;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = input ? open (input, O_RDONLY) : 0;
        if (out < 0 || err < 0 || in < 0)
            _exit (126);
        dup2 (in, 0);
        dup2 (out, 1);
        dup2 (err, 2);
        unsetenv ("ONENET_BROKER");
        unsetenv ("ONENET_ALERTS");
        execv (argv[0], (char *const *)argv);
        _exit (127);
    }
    int status = 0;
    int64_t until = onenet_clock_ms () + CLI_LIMIT_MS;
    while (waitpid (pid, &status, WNOHANG) == 0) {
        if (onenet_clock_ms () > until) {
            kill (pid, SIGKILL);
            waitpid (pid, &status, 0);
            fail_msg ("onenet did not exit within %d ms", CLI_LIMIT_MS);
        }
        usleep (10000);
    }
    run.exit_code = WIFEXITED (status) ? WEXITSTATUS (status) : -1;
    read_into (out_path, run.out, sizeof run.out);
    read_into (err_path, run.err, sizeof run.err);
    print_message ("$ onenet");
    for (size_t i = 1; argv[i]; i++)
        print_message (" %s", argv[i]);
    print_message ("\n-> exit %d\n%s%s", run.exit_code, run.out, run.err);
    return &run;
}

static const run_t *
run_cli (const char *const args[])
{
    return run_cli_input (NULL, args);
}

static void
assert_contains (const char *text, const char *part)
{
    if (!strstr (text, part))
        fail_msg ("expected \"%s\" in:\n%s", part, text);
}

/* Writes the flood sample with one line replaced (NULL: as it is). */
static void
write_flood (const char *path, const char *from, const char *to)
{
    char source[512];
    const char *dir = getenv ("ONENET_SOURCE_DIR");
    snprintf (source, sizeof source, "%s/tests/data/cap/onenet-flood-chengdu.xml", dir ? dir : ".");
    size_t size = 0;
    char *text = read_text (source, &size);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    char *at = from ? strstr (text, from) : NULL;
    if (from)
        assert_non_null (at);
    if (at) {
        fwrite (text, 1, (size_t)(at - text), file);
        fputs (to, file);
        fputs (at + strlen (from), file);
    } else
        fputs (text, file);
    fclose (file);
    free (text);
}

static void
test_cli_publish_malformed (void **state)
{
    (void)state;
    char bad[512], missing[512], good[512];
    snprintf (bad, sizeof bad, "%s/bad-severity.xml", harness_tempdir ());
    snprintf (missing, sizeof missing, "%s/no-sender.xml", harness_tempdir ());
    snprintf (good, sizeof good, "%s/flood.xml", harness_tempdir ());
    write_flood (bad, "<severity>Extreme</severity>", "<severity>Bad</severity>");
    write_flood (missing, "<sender>duty@em.example.gov.cn</sender>", "");
    write_flood (good, NULL, NULL);

    /* Checked before anything is sent: the good file is not published. */
    const run_t *run = run_cli (
        (const char *[]){"alert", "publish", good, bad, "--broker", s.broker_endpoint, NULL});
    assert_int_equal (run->exit_code, 2);
    assert_contains (run->err, "bad-severity.xml: line 18: <info><severity>:");
    assert_contains (run->err, "\"Bad\" is not one of");
    assert_string_equal (run->out, "");

    run = run_cli (
        (const char *[]){"alert", "publish", missing, "--broker", s.broker_endpoint, NULL});
    assert_int_equal (run->exit_code, 2);
    assert_contains (run->err, "no-sender.xml: line 2: <alert>: missing required element <sender>");

    run = run_cli ((const char *[]){"alert", "publish", good, "--broker", s.broker_endpoint, NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "published em.510100.2026.0001 as ");
    char first[128];
    snprintf (first, sizeof first, "%.*s", (int)strcspn (run->out, "\n"), run->out);

    /* Again, from stdin: the broker keeps the first one and says so. */
    run = run_cli_input (
        good, (const char *[]){"alert", "publish", "-", "--broker", s.broker_endpoint, NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, first);
    assert_contains (run->out, "(published before: not sent again)");

    /* Nothing reached subscribers but the good alert. */
    got_t *got = calloc (1, sizeof *got);
    onenet_subscriber_t *sub = subscribe (NULL, 0, NULL, 0, NULL, 0, NULL);
    collect (sub, got, 1, 10000);
    assert_int_equal (drain (sub, got, 1500), 0);
    assert_string_equal (got->identifier[0], "em.510100.2026.0001");
    onenet_subscriber_destroy (&sub);
    free (got);
}

static void
test_cli_alerts (void **state)
{
    (void)state;
    Onenet__Alert__Alert *flood = harness_cap_sample ("onenet-flood-chengdu.xml");
    protobuf_c_message_free_unpacked (&publish_message (s.publisher, flood)->base, NULL);
    publish_range (s.publisher, "cli", 0, 2, "Severe", "Fire", "510104", NULL);

    /* CAP out: a document onenet_cap_parse accepts, the same alert. */
    const run_t *run = run_cli ((const char *[]){"alerts", "--count", "1", "--format", "cap",
                                                 "--area", "5101", "--broker", s.broker_endpoint,
                                                 "--alerts-endpoint", s.alerts_endpoint, NULL});
    assert_int_equal (run->exit_code, 0);
    char err[256] = "";
    Onenet__Alert__Alert *back = onenet_cap_parse (run->out, strlen (run->out), err, sizeof err);
    if (!back)
        fail_msg ("CAP output refused: %s", err);
    assert_string_equal (back->identifier, flood->identifier);
    assert_string_equal (back->info[0]->headline, flood->info[0]->headline);
    onenet__alert__alert__free_unpacked (back, NULL);

    /* Text: one block with the geocodes. */
    run =
        run_cli ((const char *[]){"alerts", "--count", "1", "--severity", "extreme", "--broker",
                                  s.broker_endpoint, "--alerts-endpoint", s.alerts_endpoint, NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "Extreme  Immediate  暴雨洪涝");
    assert_contains (run->out, "[510104, 510107]");
    assert_contains (run->out, "em.510100.2026.0001");

    /* JSON lines and a state file: the second run goes on after the first. */
    char path[512];
    state_path (path, sizeof path, "cli");
    const char *json_args[] = {"alerts",
                               "--json",
                               "--count",
                               "2",
                               "--state",
                               path,
                               "--broker",
                               s.broker_endpoint,
                               "--alerts-endpoint",
                               s.alerts_endpoint,
                               NULL};
    run = run_cli (json_args);
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "\"identifier\":\"em.510100.2026.0001\"");
    assert_contains (run->out, "\"identifier\":\"cli-00000\"");
    int lines = 0;
    for (const char *c = run->out; *c; c++)
        lines += *c == '\n';
    assert_int_equal (lines, 2); /* one compact JSON object per line */
    json_args[3] = "1";
    run = run_cli (json_args);
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "\"identifier\":\"cli-00001\"");
    assert_null (strstr (run->out, "cli-00000"));

    /* --last from the CLI. */
    run = run_cli ((const char *[]){"alerts", "--last", "1", "--count", "1", "--format", "json",
                                    "--broker", s.broker_endpoint, "--alerts-endpoint",
                                    s.alerts_endpoint, NULL});
    assert_int_equal (run->exit_code, 0);
    assert_contains (run->out, "\"identifier\":\"cli-00001\"");
    onenet__alert__alert__free_unpacked (flood, NULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_filters, setup, teardown),
        cmocka_unit_test_setup_teardown (test_live_subscriber_reads_nothing_again, setup, teardown),
        cmocka_unit_test_setup_teardown (test_batch_of_alerts_is_taken_live, setup, teardown),
        cmocka_unit_test_setup_teardown (test_malformed_batch_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown (test_offline_subscriber_gets_all_on_return, setup,
                                         teardown),
        cmocka_unit_test_setup_teardown (test_subscriber_restarted_mid_stream, setup, teardown),
        cmocka_unit_test_setup_teardown (test_broker_restarted_mid_stream, setup, teardown),
        cmocka_unit_test_setup_teardown (test_redis_restarted, setup, teardown),
        cmocka_unit_test_setup_teardown (test_script_cache_flushed, setup, teardown),
        cmocka_unit_test_setup_teardown (test_last_n, setup, teardown),
        cmocka_unit_test_setup_teardown (test_cli_publish_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown (test_cli_alerts, setup, teardown),
    };
    return cmocka_run_group_tests_name ("integration_alerts", tests, NULL, NULL);
}
