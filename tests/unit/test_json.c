/*
 * test_json.c - unit tests of onenet/json.h: the schema table, and JSON to
 * and from messages of the shared schema.
 *
 * Most tests use the real generated types. The shared schema has no int32,
 * float, repeated scalar, oneof or proto2 field, so a small message
 * described by hand (sample_t below) covers those code paths too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "onenet/json.h"
#include "onenet/proto/onenet.pb-c.h"
#include "onenet/proto/example.pb-c.h"

/* --- a hand-described message, laid out as protoc-c would generate it --- */

typedef struct {
    ProtobufCMessage base;
    int32_t i32;                      /* 1  int32 */
    int32_t s32;                      /* 2  sint32 */
    float f;                          /* 3  float */
    double d;                         /* 4  double */
    size_t n_tags;                    /* 5  repeated string */
    char **tags;
    size_t n_counts;                  /* 6  repeated sint64 */
    int64_t *counts;
    protobuf_c_boolean has_opt;       /* 7  proto2 optional uint32 */
    uint32_t opt;
    uint32_t choice_case;             /* oneof choice: */
    union {
        char *choice_text;            /* 8  string */
        Onenet__PingReply *choice_ping;   /* 9  message */
    };
    size_t n_flags;                   /* 10 repeated bool */
    protobuf_c_boolean *flags;
    char *label;                      /* 11 proto2 optional string [default = "none"] */
} sample_t;

static const ProtobufCMessageDescriptor sample_descriptor;
static char s_label_default[] = "none";

static void
sample_init (ProtobufCMessage *msg)
{
    memset (msg, 0, sizeof (sample_t));
    msg->descriptor = &sample_descriptor;
    ((sample_t *) msg)->label = s_label_default;
}

#define SAMPLE_FIELD(name_, id_, label_, type_, quantifier_, desc_, default_, flags_) \
    { #name_, id_, label_, type_, quantifier_, offsetof (sample_t, name_), desc_, default_, \
      flags_, 0, NULL, NULL }

static const ProtobufCFieldDescriptor s_sample_fields[] = {
    SAMPLE_FIELD (i32, 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT32, 0, NULL, NULL, 0),
    SAMPLE_FIELD (s32, 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_SINT32, 0, NULL, NULL, 0),
    SAMPLE_FIELD (f, 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FLOAT, 0, NULL, NULL, 0),
    SAMPLE_FIELD (d, 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_DOUBLE, 0, NULL, NULL, 0),
    SAMPLE_FIELD (tags, 5, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_STRING,
                  offsetof (sample_t, n_tags), NULL, NULL, 0),
    SAMPLE_FIELD (counts, 6, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_SINT64,
                  offsetof (sample_t, n_counts), NULL, NULL, PROTOBUF_C_FIELD_FLAG_PACKED),
    SAMPLE_FIELD (opt, 7, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_UINT32,
                  offsetof (sample_t, has_opt), NULL, NULL, 0),
    SAMPLE_FIELD (choice_text, 8, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING,
                  offsetof (sample_t, choice_case), NULL, &protobuf_c_empty_string,
                  PROTOBUF_C_FIELD_FLAG_ONEOF),
    SAMPLE_FIELD (choice_ping, 9, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE,
                  offsetof (sample_t, choice_case), &onenet__ping_reply__descriptor, NULL,
                  PROTOBUF_C_FIELD_FLAG_ONEOF),
    SAMPLE_FIELD (flags, 10, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_BOOL,
                  offsetof (sample_t, n_flags), NULL, NULL, 0),
    SAMPLE_FIELD (label, 11, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0, NULL,
                  s_label_default, 0),
};
#define SAMPLE_FIELD_COUNT (sizeof s_sample_fields / sizeof s_sample_fields[0])

/* Indices of the fields in name order, as protobuf-c's lookup needs them. */
static const unsigned s_sample_by_name[] = { 8, 7, 5, 3, 2, 9, 0, 10, 6, 1, 4 };
static const ProtobufCIntRange s_sample_ranges[] = { { 1, 0 }, { 0, SAMPLE_FIELD_COUNT } };

static const ProtobufCMessageDescriptor sample_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "test.Sample",
    "Sample",
    "Test__Sample",
    "test",
    sizeof (sample_t),
    SAMPLE_FIELD_COUNT,
    s_sample_fields,
    s_sample_by_name,
    1,
    s_sample_ranges,
    sample_init,
    NULL,
    NULL,
    NULL,
};

/* --- helpers --- */

static ProtobufCMessage *
decode_ok (const ProtobufCMessageDescriptor *desc, const char *text)
{
    char err[256] = "";
    ProtobufCMessage *msg = onenet_json_decode (desc, text, strlen (text), err, sizeof err);
    if (!msg)
        fail_msg ("decoding %s failed: %s", text, err);
    return msg;
}

/* Asserts that text is refused with exactly the expected reason. */
static void
assert_decode_error (const ProtobufCMessageDescriptor *desc, const char *text,
                     const char *expected)
{
    char err[256] = "";
    ProtobufCMessage *msg = onenet_json_decode (desc, text, strlen (text), err, sizeof err);
    if (msg) {
        protobuf_c_message_free_unpacked (msg, NULL);
        fail_msg ("%s was accepted, expected: %s", text, expected);
    }
    assert_string_equal (err, expected);
}

/* Two messages are equal when their wire encodings are. */
static void
assert_same_message (const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    assert_ptr_equal (a->descriptor, b->descriptor);
    size_t size_a = protobuf_c_message_get_packed_size (a);
    size_t size_b = protobuf_c_message_get_packed_size (b);
    assert_int_equal (size_a, size_b);
    uint8_t *wire_a = malloc (size_a + 1);
    uint8_t *wire_b = malloc (size_b + 1);
    assert_non_null (wire_a);
    assert_non_null (wire_b);
    protobuf_c_message_pack (a, wire_a);
    protobuf_c_message_pack (b, wire_b);
    assert_memory_equal (wire_a, wire_b, size_a);
    free (wire_a);
    free (wire_b);
}

/* Encodes, checks the text, decodes it back and compares. */
static void
assert_round_trip (const ProtobufCMessage *msg, const char *expected_json)
{
    char *text = onenet_json_encode (msg, 0);
    assert_non_null (text);
    if (expected_json)
        assert_string_equal (text, expected_json);
    ProtobufCMessage *back = decode_ok (msg->descriptor, text);
    assert_same_message (msg, back);
    protobuf_c_message_free_unpacked (back, NULL);
    free (text);
}

static void
assert_encodes_to (const ProtobufCMessage *msg, int flags, const char *expected)
{
    char *text = onenet_json_encode (msg, flags);
    assert_non_null (text);
    assert_string_equal (text, expected);
    free (text);
}

/* --- schema table --- */

static void
test_schema_find (void **state)
{
    assert_ptr_equal (onenet_schema_find ("onenet.PingReply"), &onenet__ping_reply__descriptor);
    assert_ptr_equal (onenet_schema_find ("onenet.example.GreetRequest"),
                      &onenet__example__greet_request__descriptor);
    assert_ptr_equal (onenet_schema_find ("onenet.ServicesReply"),
                      &onenet__services_reply__descriptor);
    assert_null (onenet_schema_find ("onenet.NoSuchMessage"));
    assert_null (onenet_schema_find ("PingReply"));
    assert_null (onenet_schema_find (""));
    assert_null (onenet_schema_find (NULL));
}

static void
test_schema_listing (void **state)
{
    size_t count = onenet_schema_count ();
    /* onenet.proto has 14 messages, example.proto 3; others may add more. */
    assert_true (count >= 17);
    for (size_t i = 0; i < count; i++) {
        const ProtobufCMessageDescriptor *desc = onenet_schema_at (i);
        assert_non_null (desc);
        assert_ptr_equal (onenet_schema_find (desc->name), desc);
        if (i > 0)
            assert_true (strcmp (onenet_schema_at (i - 1)->name, desc->name) < 0);
    }
    assert_null (onenet_schema_at (count));
}

/* --- round trips of the shared schema --- */

static void
test_services_reply_round_trip (void **state)
{
    Onenet__InstanceInfo a1 = ONENET__INSTANCE_INFO__INIT;
    a1.department = "social_security";
    a1.instance = "host-1";
    a1.credit = 8;
    a1.in_flight = 3;
    a1.last_heartbeat_ms_ago = 120;
    a1.health = "ok";
    a1.served = UINT64_MAX;
    Onenet__InstanceInfo a2 = ONENET__INSTANCE_INFO__INIT;
    a2.department = "social_security";
    a2.instance = "host-2";
    a2.health = "late";
    Onenet__InstanceInfo *instances[] = { &a1, &a2 };

    Onenet__ServiceInfo s1 = ONENET__SERVICE_INFO__INIT;
    s1.name = "ss.person.get";
    s1.request_type = "ss.PersonRequest";
    s1.reply_type = "ss.PersonReply";
    s1.idempotent = 1;
    s1.description = "\xe4\xba\xba\xe5\x8f\xa3 \"quoted\"";
    s1.n_instances = 2;
    s1.instances = instances;
    s1.waiting = 4;
    s1.requests = 9007199254740993ULL;   /* 2^53 + 1: a double would lose it */
    s1.errors = 2;
    Onenet__ServiceInfo s2 = ONENET__SERVICE_INFO__INIT;
    s2.name = "ps.address.get";
    Onenet__ServiceInfo *services[] = { &s1, &s2 };

    Onenet__ServicesReply reply = ONENET__SERVICES_REPLY__INIT;
    reply.n_services = 2;
    reply.services = services;
    reply.security = "curve";
    reply.uptime_ms = 86400000;
    reply.pending = 300;
    reply.max_pending = 4294967295u;

    assert_round_trip (&reply.base, NULL);

    json_t *json = onenet_json_from_message (&reply.base, 0);
    assert_non_null (json);
    json_t *list = json_object_get (json, "services");
    assert_true (json_is_array (list));
    assert_int_equal (json_array_size (list), 2);
    json_t *first = json_array_get (list, 0);
    assert_string_equal (json_string_value (json_object_get (first, "requests")),
                         "9007199254740993");
    assert_true (json_is_true (json_object_get (first, "idempotent")));
    json_t *instance = json_array_get (json_object_get (first, "instances"), 0);
    assert_string_equal (json_string_value (json_object_get (instance, "served")),
                         "18446744073709551615");
    assert_int_equal (json_integer_value (json_object_get (instance, "credit")), 8);
    /* The second service has only a name: everything else is at default. */
    assert_int_equal (json_object_size (json_array_get (list, 1)), 1);
    assert_string_equal (json_string_value (json_object_get (json, "uptime_ms")), "86400000");
    assert_int_equal (json_integer_value (json_object_get (json, "max_pending")), 4294967295LL);
    json_decref (json);
}

static void
test_reply_header_enum_and_bytes (void **state)
{
    uint8_t trace[16];
    for (int i = 0; i < 16; i++)
        trace[i] = (uint8_t) i;
    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    header.correlation_id = 42;
    header.status = ONENET__STATUS__NOT_FOUND;
    header.message = "no such person";
    header.trace_id.data = trace;
    header.trace_id.len = sizeof trace;
    header.served_by = "ps/1";
    assert_round_trip (&header.base,
                       "{\"correlation_id\":\"42\",\"status\":\"NOT_FOUND\","
                       "\"message\":\"no such person\",\"trace_id\":\"AAECAwQFBgcICQoLDA0ODw==\","
                       "\"served_by\":\"ps/1\"}");

    /* Enums by number are accepted; names are printed. */
    Onenet__ReplyHeader *back = (Onenet__ReplyHeader *) decode_ok (
        &onenet__reply_header__descriptor, "{\"status\": 4}");
    assert_int_equal (back->status, ONENET__STATUS__TIMEOUT);
    assert_encodes_to (&back->base, 0, "{\"status\":\"TIMEOUT\"}");
    protobuf_c_message_free_unpacked (&back->base, NULL);

    assert_decode_error (&onenet__reply_header__descriptor, "{\"status\": \"NOPE\"}",
                         "status: unknown enum value \"NOPE\" for onenet.Status");
    assert_decode_error (&onenet__reply_header__descriptor, "{\"status\": 99}",
                         "status: unknown enum value 99 for onenet.Status");
    assert_decode_error (&onenet__reply_header__descriptor, "{\"status\": true}",
                         "status: expected onenet.Status name or number");
}

static void
test_request_header_bytes (void **state)
{
    /* Chosen so that the standard alphabet needs '+' and '/'. */
    uint8_t trace[] = { 0xfb, 0xef, 0xff, 0xfb, 0xef };
    Onenet__Requester requester = ONENET__REQUESTER__INIT;
    requester.department = "police";
    Onenet__RequestHeader header = ONENET__REQUEST_HEADER__INIT;
    header.service = "ps.person.get";
    header.trace_id.data = trace;
    header.trace_id.len = sizeof trace;
    header.requester = &requester;
    assert_round_trip (&header.base,
                       "{\"service\":\"ps.person.get\",\"trace_id\":\"++//++8=\","
                       "\"requester\":{\"department\":\"police\"}}");

    /* URL-safe alphabet and missing padding are accepted on input. */
    Onenet__RequestHeader *back = (Onenet__RequestHeader *) decode_ok (
        &onenet__request_header__descriptor, "{\"trace_id\": \"--__--8\"}");
    assert_int_equal (back->trace_id.len, sizeof trace);
    assert_memory_equal (back->trace_id.data, trace, sizeof trace);
    protobuf_c_message_free_unpacked (&back->base, NULL);

    back = (Onenet__RequestHeader *) decode_ok (&onenet__request_header__descriptor,
                                                "{\"trace_id\": \"\"}");
    assert_int_equal (back->trace_id.len, 0);
    protobuf_c_message_free_unpacked (&back->base, NULL);

    assert_decode_error (&onenet__request_header__descriptor, "{\"trace_id\": \"a*b=\"}",
                         "trace_id: invalid base64");
    assert_decode_error (&onenet__request_header__descriptor, "{\"trace_id\": \"abcde\"}",
                         "trace_id: invalid base64");
    assert_decode_error (&onenet__request_header__descriptor, "{\"trace_id\": \"ab=c\"}",
                         "trace_id: invalid base64");
    assert_decode_error (&onenet__request_header__descriptor, "{\"trace_id\": 12}",
                         "trace_id: expected base64 string");
}

static void
test_echo_round_trip (void **state)
{
    uint8_t payload[256];
    for (int i = 0; i < 256; i++)
        payload[i] = (uint8_t) (255 - i);
    Onenet__Example__EchoMessage echo = ONENET__EXAMPLE__ECHO_MESSAGE__INIT;
    echo.payload.data = payload;
    echo.delay_ms = 300;
    /* Every length mod 3, to exercise each padding case. */
    for (size_t len = 0; len <= 5; len++) {
        echo.payload.len = len;
        assert_round_trip (&echo.base, NULL);
    }
    echo.payload.len = sizeof payload;
    assert_round_trip (&echo.base, NULL);

    Onenet__Example__GreetRequest greet = ONENET__EXAMPLE__GREET_REQUEST__INIT;
    greet.name = "Wang Fang";
    greet.language = "zh";
    assert_round_trip (&greet.base, "{\"name\":\"Wang Fang\",\"language\":\"zh\"}");
}

/* --- input forms and errors --- */

static void
test_camel_case_accepted (void **state)
{
    Onenet__ServicesReply *reply = (Onenet__ServicesReply *) decode_ok (
        &onenet__services_reply__descriptor,
        "{\"services\": [{\"requestType\": \"a.B\", \"reply_type\": \"a.C\","
        " \"instances\": [{\"lastHeartbeatMsAgo\": \"17\", \"inFlight\": 2}]}],"
        " \"maxPending\": 64, \"uptimeMs\": 5}");
    assert_int_equal (reply->n_services, 1);
    assert_string_equal (reply->services[0]->request_type, "a.B");
    assert_string_equal (reply->services[0]->reply_type, "a.C");
    assert_int_equal (reply->services[0]->n_instances, 1);
    assert_int_equal (reply->services[0]->instances[0]->last_heartbeat_ms_ago, 17);
    assert_int_equal (reply->services[0]->instances[0]->in_flight, 2);
    assert_int_equal (reply->max_pending, 64);
    assert_int_equal (reply->uptime_ms, 5);
    /* Output always uses the .proto names. */
    assert_encodes_to (&reply->base, 0,
                       "{\"services\":[{\"request_type\":\"a.B\",\"reply_type\":\"a.C\","
                       "\"instances\":[{\"in_flight\":2,\"last_heartbeat_ms_ago\":\"17\"}]}],"
                       "\"uptime_ms\":\"5\",\"max_pending\":64}");
    protobuf_c_message_free_unpacked (&reply->base, NULL);

    assert_decode_error (&onenet__reply_header__descriptor,
                         "{\"served_by\": \"a\", \"servedBy\": \"b\"}",
                         "servedBy: field served_by given twice");
    /* Only the exact camel form: no case-insensitive matching. */
    assert_decode_error (&onenet__reply_header__descriptor, "{\"ServedBy\": \"a\"}",
                         "ServedBy: unknown field of onenet.ReplyHeader");
}

static void
test_unknown_field_rejected (void **state)
{
    assert_decode_error (&onenet__services_reply__descriptor,
                         "{\"services\": [{}, {\"name\": \"x\"}, {\"name\": \"y\", \"nmae\": 1}]}",
                         "services[2].nmae: unknown field of onenet.ServiceInfo");
    assert_decode_error (&onenet__services_reply__descriptor,
                         "{\"services\": [{\"instances\": [{}, {\"colour\": \"red\"}]}]}",
                         "services[0].instances[1].colour: unknown field of onenet.InstanceInfo");
    assert_decode_error (&onenet__ping_request__descriptor, "{\"x\": null}",
                         "x: unknown field of onenet.PingRequest");
}

static void
test_wrong_types_rejected (void **state)
{
    const ProtobufCMessageDescriptor *desc = &onenet__services_reply__descriptor;
    assert_decode_error (desc, "{\"services\": [{}, {}, {\"name\": 5}]}",
                         "services[2].name: expected string");
    assert_decode_error (desc, "{\"services\": {}}", "services: expected array");
    assert_decode_error (desc, "{\"services\": [{}, 3]}",
                         "services[1]: expected object (onenet.ServiceInfo)");
    assert_decode_error (desc, "{\"services\": [null]}",
                         "services[0]: expected object (onenet.ServiceInfo)");
    assert_decode_error (desc, "{\"uptime_ms\": true}", "uptime_ms: expected uint64");
    assert_decode_error (desc, "{\"uptime_ms\": \"12x\"}",
                         "uptime_ms: expected uint64, got \"12x\"");
    assert_decode_error (desc, "{\"uptime_ms\": \" 12\"}",
                         "uptime_ms: expected uint64, got \" 12\"");
    assert_decode_error (desc, "{\"pending\": 1.5}", "pending: expected uint32, got a fraction");
    assert_decode_error (desc, "{\"pending\": \"\"}", "pending: expected uint32, got \"\"");
    assert_decode_error (desc, "{\"services\": [{\"idempotent\": \"yes\"}]}",
                         "services[0].idempotent: expected true or false");
    assert_decode_error (&onenet__request_header__descriptor, "{\"requester\": \"me\"}",
                         "requester: expected object (onenet.Requester)");
    assert_decode_error (desc, "[]", "expected object (onenet.ServicesReply)");

    char err[128] = "";
    json_t *number = json_integer (1);
    assert_null (onenet_json_to_message (desc, number, err, sizeof err));
    assert_string_equal (err, "expected object (onenet.ServicesReply)");
    json_decref (number);
    /* err is optional. */
    assert_null (onenet_json_decode (desc, "{\"bad\": 1}", 10, NULL, 0));
}

static void
test_integer_ranges (void **state)
{
    const ProtobufCMessageDescriptor *desc = &onenet__services_reply__descriptor;
    Onenet__ServicesReply *reply = (Onenet__ServicesReply *) decode_ok (
        desc, "{\"pending\": 300, \"max_pending\": \"4294967295\","
              " \"uptime_ms\": \"18446744073709551615\"}");
    assert_int_equal (reply->pending, 300);
    assert_int_equal (reply->max_pending, 4294967295u);
    assert_true (reply->uptime_ms == UINT64_MAX);
    protobuf_c_message_free_unpacked (&reply->base, NULL);

    /* Integral reals and -0 are integers too. */
    reply = (Onenet__ServicesReply *) decode_ok (desc, "{\"pending\": 1e3, \"max_pending\": \"-0\"}");
    assert_int_equal (reply->pending, 1000);
    assert_int_equal (reply->max_pending, 0);
    protobuf_c_message_free_unpacked (&reply->base, NULL);

    assert_decode_error (desc, "{\"pending\": -1}", "pending: value -1 out of range for uint32");
    assert_decode_error (desc, "{\"pending\": 4294967296}",
                         "pending: value 4294967296 out of range for uint32");
    assert_decode_error (desc, "{\"pending\": \"-1\"}", "pending: value -1 out of range for uint32");
    assert_decode_error (desc, "{\"uptime_ms\": -1}", "uptime_ms: value -1 out of range for uint64");
    assert_decode_error (desc, "{\"uptime_ms\": \"18446744073709551616\"}",
                         "uptime_ms: value 18446744073709551616 out of range for uint64");
    assert_decode_error (desc, "{\"uptime_ms\": 1e20}",
                         "uptime_ms: value 1e+20 out of range for uint64");

    const ProtobufCMessageDescriptor *event = &onenet__event_header__descriptor;
    Onenet__EventHeader *header = (Onenet__EventHeader *) decode_ok (
        event, "{\"time_ms\": \"-9223372036854775808\"}");
    assert_true (header->time_ms == INT64_MIN);
    assert_encodes_to (&header->base, 0, "{\"time_ms\":\"-9223372036854775808\"}");
    protobuf_c_message_free_unpacked (&header->base, NULL);
    header = (Onenet__EventHeader *) decode_ok (event, "{\"timeMs\": -5}");
    assert_true (header->time_ms == -5);
    protobuf_c_message_free_unpacked (&header->base, NULL);
    assert_decode_error (event, "{\"time_ms\": \"9223372036854775808\"}",
                         "time_ms: value 9223372036854775808 out of range for int64");
    assert_decode_error (event, "{\"time_ms\": \"-9223372036854775809\"}",
                         "time_ms: value -9223372036854775809 out of range for int64");

    /* int32 and sint32 come from the hand-described message. */
    sample_t *sample = (sample_t *) decode_ok (
        &sample_descriptor, "{\"i32\": -2147483648, \"s32\": \"2147483647\"}");
    assert_int_equal (sample->i32, INT32_MIN);
    assert_int_equal (sample->s32, INT32_MAX);
    protobuf_c_message_free_unpacked (&sample->base, NULL);
    assert_decode_error (&sample_descriptor, "{\"i32\": 1099511627776}",
                         "i32: value 1099511627776 out of range for int32");
    assert_decode_error (&sample_descriptor, "{\"i32\": 2147483648}",
                         "i32: value 2147483648 out of range for int32");
    assert_decode_error (&sample_descriptor, "{\"s32\": -2147483649}",
                         "s32: value -2147483649 out of range for sint32");
}

static void
test_defaults_flag (void **state)
{
    Onenet__PingReply ping = ONENET__PING_REPLY__INIT;
    assert_encodes_to (&ping.base, 0, "{}");
    assert_encodes_to (&ping.base, ONENET_JSON_DEFAULTS,
                       "{\"broker_version\":\"\",\"protocol_version\":0,"
                       "\"schema_version\":0,\"uptime_ms\":\"0\"}");

    Onenet__ReplyHeader header = ONENET__REPLY_HEADER__INIT;
    header.status = ONENET__STATUS__OK;
    assert_encodes_to (&header.base, 0, "{}");
    assert_encodes_to (&header.base, ONENET_JSON_DEFAULTS,
                       "{\"correlation_id\":\"0\",\"status\":\"OK\",\"message\":\"\","
                       "\"trace_id\":\"\",\"served_by\":\"\",\"batch_max\":0}");

    Onenet__ServicesReply reply = ONENET__SERVICES_REPLY__INIT;
    assert_encodes_to (&reply.base, ONENET_JSON_DEFAULTS,
                       "{\"services\":[],\"security\":\"\",\"uptime_ms\":\"0\","
                       "\"pending\":0,\"max_pending\":0}");

    Onenet__RequestHeader request = ONENET__REQUEST_HEADER__INIT;
    json_t *json = onenet_json_from_message (&request.base, ONENET_JSON_DEFAULTS);
    assert_non_null (json);
    assert_true (json_is_null (json_object_get (json, "requester")));
    assert_true (json_is_false (json_object_get (json, "idempotent")));
    assert_int_equal (json_object_size (json), 10);
    json_decref (json);

    /* What DEFAULTS prints reads back as the same message. */
    char *text = onenet_json_encode (&request.base, ONENET_JSON_DEFAULTS);
    assert_non_null (text);
    ProtobufCMessage *back = decode_ok (&onenet__request_header__descriptor, text);
    assert_same_message (&request.base, back);
    assert_null (((Onenet__RequestHeader *) back)->requester);
    protobuf_c_message_free_unpacked (back, NULL);
    free (text);
}

static void
test_pretty_and_syntax_errors (void **state)
{
    Onenet__Welcome welcome = ONENET__WELCOME__INIT;
    welcome.heartbeat_ms = 1000;
    welcome.liveness = 3;
    assert_encodes_to (&welcome.base, ONENET_JSON_PRETTY,
                       "{\n  \"heartbeat_ms\": 1000,\n  \"liveness\": 3\n}");

    const ProtobufCMessageDescriptor *desc = &onenet__welcome__descriptor;
    assert_decode_error (desc, "{\n  \"liveness\": 3,\n  \"heartbeat_ms\" 5\n}",
                         "line 3, column 18: ':' expected near '5'");
    assert_decode_error (desc, "{\"liveness\": 3", "line 1, column 14: '}' expected near end of file");
    assert_decode_error (desc, "{\"liveness\": 3, \"liveness\": 4}",
                         "line 1, column 26: duplicate object key near '\"liveness\"'");

    /* size bounds the text: what follows is not read. */
    const char *text = "{\"liveness\": 7} trailing garbage";
    char err[128] = "";
    Onenet__Welcome *back = (Onenet__Welcome *) onenet_json_decode (desc, text, 15, err,
                                                                    sizeof err);
    assert_non_null (back);
    assert_int_equal (back->liveness, 7);
    protobuf_c_message_free_unpacked (&back->base, NULL);
}

static void
test_null_means_default (void **state)
{
    Onenet__RequestHeader *header = (Onenet__RequestHeader *) decode_ok (
        &onenet__request_header__descriptor,
        "{\"service\": null, \"requester\": null, \"trace_id\": null, \"attempt\": null}");
    Onenet__RequestHeader empty = ONENET__REQUEST_HEADER__INIT;
    assert_same_message (&header->base, &empty.base);
    assert_string_equal (header->service, "");
    protobuf_c_message_free_unpacked (&header->base, NULL);
}

static void
test_invalid_utf8_is_replaced (void **state)
{
    Onenet__Notice notice = ONENET__NOTICE__INIT;
    notice.message = "bad \xff byte \xed\xa0\x80!";
    assert_encodes_to (&notice.base, 0,
                       "{\"message\":\"bad \xef\xbf\xbd byte \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!\"}");
}

/* --- the generic paths the shared schema does not reach --- */

static void
test_sample_descriptor_is_sane (void **state)
{
    assert_int_equal (sizeof s_sample_by_name / sizeof s_sample_by_name[0], SAMPLE_FIELD_COUNT);
    for (size_t i = 1; i < SAMPLE_FIELD_COUNT; i++)
        assert_true (strcmp (s_sample_fields[s_sample_by_name[i - 1]].name,
                             s_sample_fields[s_sample_by_name[i]].name) < 0);
}

static void
test_repeated_scalars_and_floats (void **state)
{
    char *tags[] = { "a", "", "\xe4\xb8\xad" };
    int64_t counts[] = { -1, 0, INT64_MAX };
    protobuf_c_boolean flags[] = { 1, 0 };
    sample_t sample;
    sample_init (&sample.base);
    sample.f = 0.5f;
    sample.d = -1.25e300;
    sample.n_tags = 3;
    sample.tags = tags;
    sample.n_counts = 3;
    sample.counts = counts;
    sample.n_flags = 2;
    sample.flags = flags;
    assert_round_trip (&sample.base,
                       "{\"f\":0.5,\"d\":-1.2500000000000001e300,\"tags\":[\"a\",\"\",\"\xe4\xb8\xad\"],"
                       "\"counts\":[\"-1\",\"0\",\"9223372036854775807\"],\"flags\":[true,false]}");

    sample.n_tags = sample.n_counts = sample.n_flags = 0;
    sample.f = NAN;
    sample.d = -INFINITY;
    assert_encodes_to (&sample.base, 0, "{\"f\":\"NaN\",\"d\":\"-Infinity\"}");
    sample_t *back = (sample_t *) decode_ok (&sample_descriptor,
                                             "{\"f\": \"NaN\", \"d\": \"Infinity\"}");
    assert_true (isnan (back->f));
    assert_true (isinf (back->d) && back->d > 0);
    protobuf_c_message_free_unpacked (&back->base, NULL);
    back = (sample_t *) decode_ok (&sample_descriptor, "{\"f\": 3, \"d\": \"2.5e-3\"}");
    assert_true (back->f == 3.0f);
    assert_true (back->d == 2.5e-3);
    protobuf_c_message_free_unpacked (&back->base, NULL);

    assert_decode_error (&sample_descriptor, "{\"f\": 1e39}", "f: value 1e+39 out of range for float");
    assert_decode_error (&sample_descriptor, "{\"d\": \"inf\"}", "d: expected double, got \"inf\"");
    assert_decode_error (&sample_descriptor, "{\"d\": [1]}", "d: expected double");
    /* A failure in the middle of a list frees what was read before it
     * (AddressSanitizer checks for the leak). */
    assert_decode_error (&sample_descriptor, "{\"tags\": [\"a\", \"b\", 3]}",
                         "tags[2]: expected string");
    assert_decode_error (&sample_descriptor, "{\"tags\": [\"a\"], \"counts\": [\"1\", \"x\"]}",
                         "counts[1]: expected sint64, got \"x\"");
    assert_decode_error (&sample_descriptor, "{\"flags\": [true, 1]}",
                         "flags[1]: expected true or false");
}

static void
test_oneof_and_optional (void **state)
{
    sample_t sample;
    sample_init (&sample.base);
    /* A selected oneof member prints even at its zero value... */
    sample.choice_case = 8;
    sample.choice_text = "";
    assert_round_trip (&sample.base, "{\"choice_text\":\"\"}");
    /* ... and the unselected ones never do, even with DEFAULTS. */
    Onenet__PingReply ping = ONENET__PING_REPLY__INIT;
    ping.protocol_version = 1;
    sample.choice_case = 9;
    sample.choice_ping = &ping;
    assert_round_trip (&sample.base, "{\"choice_ping\":{\"protocol_version\":1}}");
    char *text = onenet_json_encode (&sample.base, ONENET_JSON_DEFAULTS);
    assert_non_null (text);
    assert_null (strstr (text, "choice_text"));
    assert_non_null (strstr (text, "\"opt\":0"));
    free (text);

    assert_decode_error (&sample_descriptor, "{\"choice_text\": \"a\", \"choicePing\": {}}",
                         "choicePing: another field of the same oneof is already set");
    assert_decode_error (&sample_descriptor, "{\"choice_ping\": {\"uptime_ms\": \"x\"}}",
                         "choice_ping.uptime_ms: expected uint64, got \"x\"");

    /* proto2 optional: presence is its own flag, so 0 is printed once set. */
    sample_init (&sample.base);
    assert_encodes_to (&sample.base, 0, "{}");
    sample_t *back = (sample_t *) decode_ok (&sample_descriptor, "{\"opt\": 0}");
    assert_true (back->has_opt);
    assert_encodes_to (&back->base, 0, "{\"opt\":0}");
    protobuf_c_message_free_unpacked (&back->base, NULL);

    /* proto2 string with a default: the default pointer means absent, and
     * free_unpacked must not free it (AddressSanitizer would tell). */
    text = onenet_json_encode (&sample.base, ONENET_JSON_DEFAULTS);
    assert_non_null (text);
    assert_non_null (strstr (text, "\"label\":\"none\""));
    free (text);
    back = (sample_t *) decode_ok (&sample_descriptor, "{\"label\": null}");
    assert_ptr_equal (back->label, s_label_default);
    protobuf_c_message_free_unpacked (&back->base, NULL);
    back = (sample_t *) decode_ok (&sample_descriptor, "{\"label\": \"none\"}");
    assert_ptr_not_equal (back->label, s_label_default);
    assert_encodes_to (&back->base, 0, "{\"label\":\"none\"}");
    protobuf_c_message_free_unpacked (&back->base, NULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_schema_find),
        cmocka_unit_test (test_schema_listing),
        cmocka_unit_test (test_services_reply_round_trip),
        cmocka_unit_test (test_reply_header_enum_and_bytes),
        cmocka_unit_test (test_request_header_bytes),
        cmocka_unit_test (test_echo_round_trip),
        cmocka_unit_test (test_camel_case_accepted),
        cmocka_unit_test (test_unknown_field_rejected),
        cmocka_unit_test (test_wrong_types_rejected),
        cmocka_unit_test (test_integer_ranges),
        cmocka_unit_test (test_defaults_flag),
        cmocka_unit_test (test_pretty_and_syntax_errors),
        cmocka_unit_test (test_null_means_default),
        cmocka_unit_test (test_invalid_utf8_is_replaced),
        cmocka_unit_test (test_sample_descriptor_is_sane),
        cmocka_unit_test (test_repeated_scalars_and_floats),
        cmocka_unit_test (test_oneof_and_optional),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
