/*
 * targets.c - what each fuzz target does with its input (see targets.h).
 *
 * Plain C with no libFuzzer dependency: the clang harnesses in this
 * directory and the gcc-built regression test call the same functions.
 *
 * Besides "does not crash, does not leak", each target checks a property
 * the library documents and that any input must keep:
 *   wire    a header unpacks alike on the heap, in a roomy arena and in a
 *           tiny one that spills; it packs and unpacks back to the same
 *           message; the JSON printed for any message reads back to the
 *           same JSON (unless it holds an enum number the schema lacks);
 *           an event batch's bodies, when accepted, tile its frame;
 *   json    decode -> encode -> decode -> encode gives the same text;
 *   config  a key file that loads holds valid keys;
 *   cap     parse -> format -> parse -> format gives the same document;
 *   policy  decisions carry a reason; filtered sections keep only what
 *           the rule lets through, in order, masked as onenet_mask_field
 *           masks; masking fits ONENET_MASK_SIZE, reports a short buffer
 *           and never returns a non-empty value without a '*'.
 * A broken property aborts with one line on stderr: "fuzz TARGET: ...".
 */
#include "targets.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <zmq.h>

#include "onenet/cap.h"
#include "onenet/json.h"
#include "onenet/policy.h"
#include "onenet/security.h"
#include "onenet/wire.h"
#include "onenet/proto/alert.pb-c.h"
#include "onenet/proto/audit.pb-c.h"
#include "onenet/proto/onenet.pb-c.h"
#include "onenet/proto/public_security.pb-c.h"
#include "onenet/proto/social_security.pb-c.h"
#include "onenet/proto/view.pb-c.h"
#include "config.h" /* broker/config.h */

#define ERR_SIZE 512

static void s_fail (const char *target, const char *format, ...)
    __attribute__ ((format (printf, 2, 3), noreturn));

static void
s_fail (const char *target, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "fuzz %s: ", target);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    fflush (stderr);
    abort ();
}

/* Text of a message as compact JSON (with defaults if asked); aborts
 * when printing fails, which only running out of memory may cause. */
static char *
s_encode (const char *target, const ProtobufCMessage *msg, int flags)
{
    char *text = onenet_json_encode (msg, flags);
    if (!text)
        s_fail (target, "onenet_json_encode (%s) returned NULL", msg->descriptor->name);
    return text;
}

//  --------------------------------------------------------------------------
//  wire: signature, headers, every message type of the schema

/* The header type the broker unpacks for a command, NULL for none. */
static const ProtobufCMessageDescriptor *
s_header_of (int command)
{
    switch (command) {
    case ONENET_CMD_READY:
        return &onenet__ready__descriptor;
    case ONENET_CMD_REQUEST:
        return &onenet__request_header__descriptor;
    case ONENET_CMD_REPLY:
        return &onenet__reply_header__descriptor;
    case ONENET_CMD_DISCONNECT:
    case ONENET_CMD_ERROR:
        return &onenet__notice__descriptor;
    case ONENET_CMD_EVENT:
        return &onenet__event_header__descriptor;
    case ONENET_CMD_WELCOME:
        return &onenet__welcome__descriptor;
    case ONENET_CMD_CREDIT:
        return &onenet__credit__descriptor;
    default:
        return NULL;
    }
}

static const ProtobufCMessageDescriptor *const s_header_types[] = {
    &onenet__ready__descriptor,        &onenet__request_header__descriptor,
    &onenet__reply_header__descriptor, &onenet__event_header__descriptor,
    &onenet__notice__descriptor,       &onenet__welcome__descriptor,
    &onenet__credit__descriptor,
};

/* Whether msg, or a message inside it, kept an unknown field numbered 0.
 * protobuf-c 1.4 reads a tag of field 0 written in two bytes (80 00) as
 * an unknown field, packs it back in one byte (00) and then refuses what
 * it packed. Headers are never re-sent as received, so for them this is
 * protobuf-c's quirk alone; a message the broker stores or passes on as
 * unpacked is checked for what it does with such fields (s_wire_alert). */
static bool
s_has_field_zero (const ProtobufCMessage *msg)
{
    for (unsigned i = 0; i < msg->n_unknown_fields; i++)
        if (msg->unknown_fields[i].tag == 0)
            return true;
    const ProtobufCMessageDescriptor *type = msg->descriptor;
    for (unsigned i = 0; i < type->n_fields; i++) {
        const ProtobufCFieldDescriptor *field = &type->fields[i];
        if (field->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)((const char *)msg + field->quantifier_offset) != field->id)
            continue;
        const char *member = (const char *)msg + field->offset;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t count = *(const size_t *)((const char *)msg + field->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)member;
            for (size_t k = 0; k < count; k++)
                if (items[k] && s_has_field_zero (items[k]))
                    return true;
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)member;
            if (sub && s_has_field_zero (sub))
                return true;
        }
    }
    return false;
}

/* The broker's arena size (BROKER_ARENA_SIZE), and one so small that
 * nearly every allocation spills to the heap. */
#define ROOMY_ARENA 32768
#define TINY_ARENA 48

/* One header type: heap, roomy arena and tiny arena must agree, and the
 * message must pack and unpack back to itself. */
static void
s_wire_header (const ProtobufCMessageDescriptor *type, const zmq_msg_t *frame)
{
    static unsigned char roomy_buffer[ROOMY_ARENA];
    unsigned char tiny_buffer[TINY_ARENA];
    onenet_arena_t roomy, tiny;
    onenet_arena_init (&roomy, roomy_buffer, sizeof roomy_buffer);
    onenet_arena_init (&tiny, tiny_buffer, sizeof tiny_buffer);

    ProtobufCMessage *heap = onenet_wire_unpack (type, frame, NULL);
    ProtobufCMessage *in_roomy = onenet_wire_unpack (type, frame, &roomy);
    ProtobufCMessage *in_tiny = onenet_wire_unpack (type, frame, &tiny);
    if (!heap != !in_roomy || !heap != !in_tiny)
        s_fail ("wire", "%s unpacks %s on the heap, %s in an arena, %s in a tiny arena", type->name,
                heap ? "ok" : "NULL", in_roomy ? "ok" : "NULL", in_tiny ? "ok" : "NULL");
    if (heap) {
        char *text = s_encode ("wire", heap, ONENET_JSON_DEFAULTS);
        char *roomy_text = s_encode ("wire", in_roomy, ONENET_JSON_DEFAULTS);
        char *tiny_text = s_encode ("wire", in_tiny, ONENET_JSON_DEFAULTS);
        if (strcmp (text, roomy_text) != 0 || strcmp (text, tiny_text) != 0)
            s_fail ("wire", "%s differs in an arena: heap %s, arena %s, tiny arena %s", type->name,
                    text, roomy_text, tiny_text);

        size_t size = protobuf_c_message_get_packed_size (heap);
        uint8_t *packed = malloc (size ? size : 1);
        if (!packed)
            s_fail ("wire", "out of memory");
        size_t written = protobuf_c_message_pack (heap, packed);
        if (written != size)
            s_fail ("wire", "%s packs %zu bytes, announced %zu", type->name, written, size);
        ProtobufCMessage *again = protobuf_c_message_unpack (type, NULL, size, packed);
        if (again) {
            char *again_text = s_encode ("wire", again, ONENET_JSON_DEFAULTS);
            if (strcmp (text, again_text) != 0)
                s_fail ("wire", "%s changes when repacked: %s, then %s", type->name, text,
                        again_text);
            free (again_text);
            protobuf_c_message_free_unpacked (again, NULL);
        } else if (!s_has_field_zero (heap))
            s_fail ("wire", "%s: a repacked message does not unpack: %s", type->name, text);
        free (packed);
        free (text);
        free (roomy_text);
        free (tiny_text);
        protobuf_c_message_free_unpacked (heap, NULL);
    }
    /* Messages in an arena are never freed one by one: the broker resets. */
    onenet_arena_reset (&roomy);
    onenet_arena_reset (&tiny);
}

/* An alert body as onenet.alert.publish receives it, taken as
 * broker/alerts_publish.c takes it: unpacked in an arena, its unknown
 * fields dropped, then, when onenet_cap_validate accepts it, wrapped in
 * an AlertEnvelope and packed once, for the Redis Stream, the spool and,
 * with the stream id appended as field 1, every subscriber, who unpack
 * it. So an accepted alert must come back out of that unchanged, with
 * its stream id; otherwise the publisher is told OK and nobody ever sees
 * the alert. */
static void
s_wire_alert (const zmq_msg_t *frame)
{
    static unsigned char buffer[32768];   /* the broker's arena size */
    onenet_arena_t arena;
    onenet_arena_init (&arena, buffer, sizeof buffer);
    zmq_msg_t *body = (zmq_msg_t *) frame;   /* zmq_msg_data takes no const */
    Onenet__Alert__Alert *alert =
        onenet__alert__alert__unpack (&arena.allocator, zmq_msg_size (body), zmq_msg_data (body));
    if (!alert) {
        onenet_arena_reset (&arena);
        return;
    }
    onenet_message_strip_unknown_with (&alert->base, &arena.allocator);
    if (onenet_cap_validate (alert, NULL, 0) != 0) {
        onenet_arena_reset (&arena);
        return;
    }
    Onenet__Alert__AlertEnvelope envelope = ONENET__ALERT__ALERT_ENVELOPE__INIT;
    envelope.alert = alert;
    envelope.published_by_department = "emergency";
    envelope.received_at_ms = 1700000000000;
    static const char stream_id[] = "1700000000000-7";
    const uint8_t field[] = { 0x0a, sizeof stream_id - 1 };   /* field 1, its length */
    size_t size = protobuf_c_message_get_packed_size (&envelope.base);
    uint8_t *packed = malloc (size + sizeof field + sizeof stream_id);
    if (!packed)
        s_fail ("wire", "out of memory");
    protobuf_c_message_pack (&envelope.base, packed);
    memcpy (packed + size, field, sizeof field);
    memcpy (packed + size + sizeof field, stream_id, sizeof stream_id - 1);
    Onenet__Alert__AlertEnvelope *sent = onenet__alert__alert_envelope__unpack (
        NULL, size + sizeof field + sizeof stream_id - 1, packed);
    char *text = s_encode ("wire", &alert->base, 0);
    if (!sent || !sent->alert || strcmp (sent->stream_id, stream_id) != 0)
        s_fail ("wire",
                "an alert onenet_cap_validate accepts does not unpack from its "
                "AlertEnvelope with the stream id appended (subscribers drop it): %s",
                text);
    char *sent_text = s_encode ("wire", &sent->alert->base, 0);
    if (strcmp (text, sent_text) != 0)
        s_fail ("wire", "an accepted alert changes in its AlertEnvelope: %s, then %s", text,
                sent_text);
    free (sent_text);
    free (text);
    onenet__alert__alert_envelope__free_unpacked (sent, NULL);
    free (packed);
    onenet_arena_reset (&arena);
}

/* One message type of the schema: JSON printed for what unpacks must be
 * read back to the same JSON. */
static void
s_wire_body (const ProtobufCMessageDescriptor *type, const zmq_msg_t *frame, int flags)
{
    ProtobufCMessage *msg = onenet_wire_unpack (type, frame, NULL);
    if (!msg)
        return;
    if (type == &onenet__alert__alert__descriptor)
        s_wire_alert (frame);
    json_t *value = onenet_json_from_message (msg, flags);
    if (!value)
        s_fail ("wire", "onenet_json_from_message (%s) returned NULL", type->name);
    char *text = json_dumps (value, JSON_COMPACT);
    if (!text)
        s_fail ("wire", "json_dumps (%s) returned NULL", type->name);
    char err[ERR_SIZE];
    ProtobufCMessage *back = onenet_json_to_message (type, value, err, sizeof err);
    if (back) {
        char *back_text = s_encode ("wire", back, flags);
        if (strcmp (text, back_text) != 0)
            s_fail ("wire", "%s: JSON read back differs: %s, then %s", type->name, text, back_text);
        free (back_text);
        protobuf_c_message_free_unpacked (back, NULL);
    } else if (!strstr (err, "enum"))
        /* Only an enum number the schema does not define may be printed
         * and then refused: protobuf keeps unknown enum values. */
        s_fail ("wire", "%s: printed JSON is refused: %s: %s", type->name, err, text);
    free (text);
    json_decref (value);
    protobuf_c_message_free_unpacked (msg, NULL);
}

/* An EVENT's body frame under a few counts (0, 1, 2, 3 and its first
 * byte): a walk that onenet_event_bodies_init accepts returns exactly
 * count bodies (one for 0), each inside the frame and after the one
 * before, the last ending where the frame ends; a refused walk returns
 * nothing. The broker relays a batch only after such a check. */
static void
s_wire_event_bodies (const uint8_t *data, size_t size)
{
    const uint32_t counts[] = {0, 1, 2, 3, size ? data[0] : 5};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        onenet_event_bodies_t bodies;
        int rc = onenet_event_bodies_init (&bodies, counts[i], data, size);
        const void *body;
        size_t length, end = 0;
        uint32_t returned = 0;
        while (onenet_event_bodies_next (&bodies, &body, &length)) {
            size_t offset = body ? (size_t)((const uint8_t *)body - data) : 0;
            if (offset < end || offset > size || length > size - offset)
                s_fail ("wire", "event body %u of count %u at %zu+%zu, outside the frame of %zu "
                        "or before the last's end %zu", returned, counts[i], offset, length, size,
                        end);
            end = offset + length;
            returned++;
        }
        uint32_t expected = counts[i] ? counts[i] : 1;
        if (rc == 0 && (returned != expected || end != size))
            s_fail ("wire", "count %u accepted: %u bodies returned, ending at %zu of %zu", counts[i],
                    returned, end, size);
        if (rc < 0 && returned)
            s_fail ("wire", "count %u refused, yet %u bodies returned", counts[i], returned);
    }
}

/* A BATCH frame: a walk that onenet_batch_reader_init accepts returns
 * exactly the count it gave, each entry's header and body inside the
 * frame and after the entry before, the last ending where the frame
 * ends; a refused walk returns nothing. The broker and the SDK handle a
 * BATCH's entries only after such a check. */
static void
s_wire_batch (const uint8_t *data, size_t size)
{
    onenet_batch_reader_t reader;
    int count = onenet_batch_reader_init (&reader, data, size);
    onenet_batch_entry_t entry;
    int returned = 0;
    size_t end = 0;
    while (onenet_batch_next (&reader, &entry)) {
        const uint8_t *header = entry.header, *body = entry.body;
        if (header < data + end || body < header + entry.header_size
            || body + entry.body_size > data + size || entry.command < 0 || entry.command > 255)
            s_fail ("wire", "batch entry %d outside the frame of %zu or before the last's end %zu",
                    returned, size, end);
        end = (size_t)(body - data) + entry.body_size;
        returned++;
    }
    if (count >= 0 && (returned != count || end != size))
        s_fail ("wire", "batch of %d accepted: %d entries returned, ending at %zu of %zu", count,
                returned, end, size);
    if (count < 0 && returned)
        s_fail ("wire", "batch refused, yet %d entries returned", returned);
}

int
fuzz_wire (const uint8_t *data, size_t size)
{
    /* The signature frame is the first 4 bytes when they are one; the
     * rest is the header (or body) frame. The whole input as a signature
     * frame covers the wrong-size path. */
    int version = 0;
    (void)onenet_wire_parse_signature (data, size, &version);
    int command = onenet_wire_parse_signature (
        data, size < ONENET_SIGNATURE_SIZE ? size : ONENET_SIGNATURE_SIZE, &version);
    if (command >= 0) {
        if (command < 1 || command > 255)
            s_fail ("wire", "signature gave command %d", command);
        (void)onenet_command_name (command);
        data += ONENET_SIGNATURE_SIZE;
        size -= ONENET_SIGNATURE_SIZE;
    }
    /* A frame over the input's bytes, as zmq_msg_recv would hand it over
     * (no copy; zmq frees nothing of it). */
    zmq_msg_t frame;
    if (zmq_msg_init_data (&frame, (void *)data, size, NULL, NULL) != 0)
        s_fail ("wire", "zmq_msg_init_data failed");

    const ProtobufCMessageDescriptor *expected = s_header_of (command);
    if (expected)
        s_wire_header (expected, &frame);
    for (size_t i = 0; i < sizeof s_header_types / sizeof s_header_types[0]; i++)
        if (s_header_types[i] != expected)
            s_wire_header (s_header_types[i], &frame);
    size_t count = onenet_schema_count ();
    for (size_t i = 0; i < count; i++) {
        const ProtobufCMessageDescriptor *type = onenet_schema_at (i);
        if (!type)
            s_fail ("wire", "onenet_schema_at (%zu) is NULL, count %zu", i, count);
        s_wire_body (type, &frame, (i % 2) ? ONENET_JSON_DEFAULTS : 0);
    }
    if (onenet_schema_at (count) != NULL)
        s_fail ("wire", "onenet_schema_at (count) is not NULL");
    zmq_msg_close (&frame);
    s_wire_event_bodies (data, size);
    s_wire_batch (data, size);
    return 0;
}

//  --------------------------------------------------------------------------
//  json: text into a few message types and back

int
fuzz_json (const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const types[] = {
        &onenet__request_header__descriptor,     &onenet__ready__descriptor,
        &onenet__services_reply__descriptor,     &onenet__view__person_view__descriptor,
        &onenet__alert__alert__descriptor,       &onenet__ps__person__descriptor,
        &onenet__ss__insured_person__descriptor, &onenet__audit__entry__descriptor,
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char err[ERR_SIZE];
        ProtobufCMessage *msg =
            onenet_json_decode (types[i], (const char *)data, size, err, sizeof err);
        if (!msg) {
            if (!*err)
                s_fail ("json", "%s: refused without a reason", types[i]->name);
            continue;
        }
        int flags = (i % 2) ? ONENET_JSON_DEFAULTS | ONENET_JSON_PRETTY : 0;
        char *text = s_encode ("json", msg, flags);
        ProtobufCMessage *again =
            onenet_json_decode (types[i], text, strlen (text), err, sizeof err);
        if (!again)
            s_fail ("json", "%s: its own output is refused: %s: %s", types[i]->name, err, text);
        char *again_text = s_encode ("json", again, flags);
        if (strcmp (text, again_text) != 0)
            s_fail ("json", "%s: encodes %s, then %s", types[i]->name, text, again_text);
        free (again_text);
        protobuf_c_message_free_unpacked (again, NULL);
        free (text);
        protobuf_c_message_free_unpacked (msg, NULL);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  config: the broker's loader on a real file

static char s_config_path[512];
static int s_config_fd = -1;

static void
s_config_cleanup (void)
{
    if (s_config_fd >= 0) {
        close (s_config_fd);
        unlink (s_config_path);
        s_config_fd = -1;
    }
}

/* One temporary file per process (mode 0600, as a key file must be),
 * rewritten with each input. */
static const char *
s_config_file (const uint8_t *data, size_t size)
{
    if (s_config_fd < 0) {
        const char *dir = getenv ("TMPDIR");
        snprintf (s_config_path, sizeof s_config_path, "%s/onenet-fuzz-config-XXXXXX",
                  dir && *dir ? dir : "/tmp");
        s_config_fd = mkstemp (s_config_path);
        if (s_config_fd < 0)
            s_fail ("config", "cannot create %s", s_config_path);
        atexit (s_config_cleanup);
    }
    if (ftruncate (s_config_fd, 0) != 0 ||
        (size && pwrite (s_config_fd, data, size, 0) != (ssize_t)size))
        s_fail ("config", "cannot write %s", s_config_path);
    return s_config_path;
}

static void
s_changed (const char *setting)
{
    (void)setting;
}

int
fuzz_config (const uint8_t *data, size_t size)
{
    const char *path = s_config_file (data, size);
    char err[ERR_SIZE] = "";
    broker_config_t *config = broker_config_load (path, err, sizeof err);
    if (config) {
        /* What a SIGHUP reload does with it. */
        broker_config_t *current = broker_config_defaults ();
        if (!current)
            s_fail ("config", "out of memory");
        broker_config_keep_fixed (current, config, s_changed);
        broker_config_destroy (&current);
        broker_config_destroy (&config);
    } else if (!*err)
        s_fail ("config", "refused without a reason");

    onenet_keypair_t pair;
    if (onenet_keypair_load (path, &pair, err, sizeof err) == 0) {
        if (!onenet_key_valid (pair.public_key))
            s_fail ("config", "key file loaded with public key \"%s\"", pair.public_key);
        if (*pair.secret_key && !onenet_key_valid (pair.secret_key))
            s_fail ("config", "key file loaded with secret key \"%s\"", pair.secret_key);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  cap: parse, format, parse again

int
fuzz_cap (const uint8_t *data, size_t size)
{
    char err[ERR_SIZE] = "";
    Onenet__Alert__Alert *alert = onenet_cap_parse ((const char *)data, size, err, sizeof err);
    if (!alert) {
        if (!*err)
            s_fail ("cap", "refused without a reason");
        return 0;
    }
    if (onenet_cap_validate (alert, err, sizeof err) != 0)
        s_fail ("cap", "a parsed alert does not validate: %s", err);
    for (size_t i = 0; i < alert->n_info; i++) {
        int rank = onenet_cap_severity_rank (alert->info[i]->severity);
        if (rank < 0 || rank > 4)
            s_fail ("cap", "a parsed alert has severity \"%s\"", alert->info[i]->severity);
    }
    size_t geocodes = onenet_cap_geocodes (alert, NULL, NULL, 0);
    if (geocodes) {
        const Onenet__Alert__ValuePair **codes = malloc (geocodes * sizeof *codes);
        if (!codes)
            s_fail ("cap", "out of memory");
        if (onenet_cap_geocodes (alert, NULL, codes, geocodes) != geocodes)
            s_fail ("cap", "geocode count changed between calls");
        (void)onenet_cap_geocodes (alert, codes[0]->value_name, codes, geocodes);
        free (codes);
    }

    char *xml = onenet_cap_format (alert, err, sizeof err);
    if (!xml)
        s_fail ("cap", "a parsed alert does not format: %s", err);
    Onenet__Alert__Alert *again = onenet_cap_parse (xml, strlen (xml), err, sizeof err);
    if (!again)
        s_fail ("cap", "formatted alert does not parse: %s\n%s", err, xml);
    char *xml_again = onenet_cap_format (again, err, sizeof err);
    if (!xml_again)
        s_fail ("cap", "re-parsed alert does not format: %s\n%s", err, xml);
    if (strcmp (xml, xml_again) != 0)
        s_fail ("cap", "round trip changes the alert:\n%s\nthen:\n%s", xml, xml_again);
    free (xml_again);
    free (xml);
    onenet__alert__alert__free_unpacked (again, NULL);
    onenet__alert__alert__free_unpacked (alert, NULL);
    return 0;
}

//  --------------------------------------------------------------------------
//  policy: load, decide, filter sections, mask

#define POLICY_STRINGS 12
#define POLICY_STRING_MAX 256

/* Names the policy and masking code treat specially, always tried. */
static const char *const s_policy_names[] = {
    "anonymous",
    "*",
    "onenet.view.person",
    "ps.person.get",
    "public_security",
    "resident_id",
    "phone",
    "name",
    "address",
    "birth_date",
};
#define POLICY_NAMES (sizeof s_policy_names / sizeof s_policy_names[0])

typedef struct {
    char *text[POLICY_NAMES + POLICY_STRINGS + 1];
    size_t count;
} strings_t;

/* The special names, then every "quoted" run of the input (no escapes),
 * up to POLICY_STRINGS, then its first line: masking sees arbitrary
 * bytes even when nothing is quoted. */
static void
s_strings (const char *text, strings_t *out)
{
    out->count = 0;
    for (size_t i = 0; i < POLICY_NAMES; i++)
        out->text[out->count++] = strdup (s_policy_names[i]);
    size_t line = strcspn (text, "\n");
    out->text[out->count++] = strndup (text, line < POLICY_STRING_MAX ? line : POLICY_STRING_MAX);
    const char *cursor = text;
    while (out->count < POLICY_NAMES + 1 + POLICY_STRINGS) {
        const char *open = strchr (cursor, '"');
        if (!open)
            break;
        const char *close = strchr (open + 1, '"');
        if (!close)
            break;
        size_t length = (size_t)(close - open - 1);
        if (length > POLICY_STRING_MAX)
            length = POLICY_STRING_MAX;
        out->text[out->count++] = strndup (open + 1, length);
        cursor = close + 1;
    }
    for (size_t i = 0; i < out->count; i++)
        if (!out->text[i])
            s_fail ("policy", "out of memory");
}

/* onenet_mask_field must fit ONENET_MASK_SIZE, report a buffer one byte
 * short, keep "" and show a '*' in anything else. Returns the masked
 * value, which the caller frees. */
static char *
s_mask (const char *field, const char *value)
{
    size_t length = strlen (value);
    size_t size = ONENET_MASK_SIZE (length);
    char *out = malloc (size);
    if (!out)
        s_fail ("policy", "out of memory");
    int rc = onenet_mask_field (field, value, out, size);
    if (rc < 0 || (size_t)rc >= size || strlen (out) != (size_t)rc)
        s_fail ("policy", "mask (\"%s\", \"%s\") returned %d into %zu bytes", field, value, rc,
                size);
    if (length == 0 && rc != 0)
        s_fail ("policy", "mask (\"%s\", \"\") is not empty: \"%s\"", field, out);
    if (length > 0 && !strchr (out, '*'))
        s_fail ("policy", "mask (\"%s\", \"%s\") shows \"%s\"", field, value, out);
    if (rc > 0) {
        char *small = malloc ((size_t)rc);
        if (!small)
            s_fail ("policy", "out of memory");
        int short_rc = onenet_mask_field (field, value, small, (size_t)rc);
        if (short_rc != -1 || small[0] != '\0')
            s_fail ("policy", "mask (\"%s\", \"%s\") into %d bytes returned %d", field, value, rc,
                    short_rc);
        free (small);
    }
    return out;
}

/* A section as the broker's merge builds it, fields from the strings,
 * filtered under the decision; checks what came through. */
static void
s_filter (const onenet_policy_decision_t *decision, const char *department,
          const strings_t *strings)
{
    size_t n = strings->count / 2;
    Onenet__View__Field *storage = calloc (n ? n : 1, sizeof *storage);
    Onenet__View__Field **fields = calloc (n ? n : 1, sizeof *fields);
    if (!storage || !fields)
        s_fail ("policy", "out of memory");
    for (size_t i = 0; i < n; i++) {
        onenet__view__field__init (&storage[i]);
        storage[i].name = strings->text[(2 * i + 1) % strings->count];
        storage[i].value = strings->text[2 * i];
        storage[i].label = "label";
        fields[i] = &storage[i];
    }
    static uint8_t detail[] = {0x0a, 0x01, 'x'};
    Onenet__View__Section section;
    onenet__view__section__init (&section);
    section.department = (char *)department;
    section.status = ONENET__VIEW__SECTION_STATUS__SECTION_OK;
    section.message = "";
    section.fields = fields;
    section.n_fields = n;
    section.detail_type = "onenet.ps.Person";
    section.detail.data = detail;
    section.detail.len = sizeof detail;

    const onenet_policy_section_t *entry =
        decision->allowed ? onenet_policy_section (decision, department) : NULL;
    bool shown = onenet_policy_section_shown (entry);
    void *kept = NULL;
    if (onenet_policy_filter_section (decision, &section, &kept) != 0)
        s_fail ("policy", "filter_section failed");

    if (!shown) {
        if (section.status != ONENET__VIEW__SECTION_STATUS__SECTION_DENIED ||
            section.n_fields != 0 || section.detail.len != 0)
            s_fail ("policy", "section %s is not withheld (rule %s)", department, decision->rule);
    } else {
        /* The fields that came through are, in order, the ones the entry
         * does not remove, as the department sent them or masked. */
        size_t expected = 0;
        for (size_t i = 0; i < n; i++)
            if (onenet_policy_field_action (entry, storage[i].name) != ONENET_FIELD_REMOVED)
                expected++;
        if (section.n_fields != expected)
            s_fail ("policy", "section %s: %zu fields came through, %zu expected (rule %s)",
                    department, section.n_fields, expected, decision->rule);
        size_t j = 0;
        for (size_t i = 0; i < section.n_fields; i++, j++) {
            while (j < n &&
                   onenet_policy_field_action (entry, storage[j].name) == ONENET_FIELD_REMOVED)
                j++;
            if (j >= n || strcmp (section.fields[i]->name, storage[j].name) != 0)
                s_fail ("policy", "section %s: field %zu \"%s\" is out of order", department, i,
                        section.fields[i]->name);
            onenet_field_action_t action = onenet_policy_field_action (entry, storage[j].name);
            char *masked = action == ONENET_FIELD_MASKED
                               ? s_mask (storage[j].name, storage[j].value)
                               : strdup (storage[j].value);
            if (!masked)
                s_fail ("policy", "out of memory");
            if (strcmp (section.fields[i]->value, masked) != 0)
                s_fail ("policy", "section %s: field \"%s\" is \"%s\", expected \"%s\"", department,
                        storage[j].name, section.fields[i]->value, masked);
            free (masked);
        }
        if (onenet_policy_section_restricted (entry) && section.detail.len != 0)
            s_fail ("policy", "section %s is restricted but keeps its detail", department);
    }
    free (kept);
    free (fields);
    free (storage);
}

static void
s_decide (const onenet_policy_t *policy, const strings_t *strings, const char *requester,
          const char *service, const char *purpose)
{
    onenet_policy_decision_t decision;
    bool allowed = onenet_policy_decide (policy, requester, service, purpose, &decision);
    if (allowed != decision.allowed || !*decision.reason ||
        strnlen (decision.reason, sizeof decision.reason) >= sizeof decision.reason ||
        strnlen (decision.rule, sizeof decision.rule) >= sizeof decision.rule)
        s_fail ("policy", "decision for %s %s %s is malformed", requester, service,
                purpose ? purpose : "(none)");
    if (!allowed)
        return;
    size_t count = onenet_policy_section_count (&decision);
    if (count == 0) {
        /* No view entries: every section is withheld; one is enough. */
        s_filter (&decision, "public_security", strings);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        const onenet_policy_section_t *entry = onenet_policy_section_at (&decision, i);
        if (!entry || !onenet_policy_section_department (entry))
            s_fail ("policy", "rule %s: view entry %zu missing", decision.rule, i);
        for (int action = ONENET_FIELD_VISIBLE; action <= ONENET_FIELD_REMOVED; action++) {
            const char *const *names = NULL;
            size_t listed = onenet_policy_section_fields (entry, action, &names);
            for (size_t k = 0; k < listed; k++)
                if (!names || !names[k])
                    s_fail ("policy", "rule %s: view entry %zu: field list has a hole",
                            decision.rule, i);
        }
    }
    if (onenet_policy_section_at (&decision, count) != NULL)
        s_fail ("policy", "rule %s: view entry past the count", decision.rule);
    for (size_t i = 0; i < strings->count; i++) {
        const onenet_policy_section_t *entry = onenet_policy_section (&decision, strings->text[i]);
        for (size_t k = 0; k < strings->count; k++) {
            onenet_field_action_t action = onenet_policy_field_action (entry, strings->text[k]);
            if (action != ONENET_FIELD_VISIBLE && action != ONENET_FIELD_MASKED &&
                action != ONENET_FIELD_REMOVED)
                s_fail ("policy", "field action %d", (int)action);
        }
    }
    /* A section of each department the rule names, and of two it may not. */
    for (size_t i = 0; i < count; i++)
        s_filter (&decision,
                  onenet_policy_section_department (onenet_policy_section_at (&decision, i)),
                  strings);
    s_filter (&decision, strings->text[POLICY_NAMES], strings);
    s_filter (&decision, strings->text[strings->count - 1], strings);
}

int
fuzz_policy (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    if (!text)
        s_fail ("policy", "out of memory");
    memcpy (text, data, size);
    text[size] = '\0';

    char err[ERR_SIZE] = "";
    onenet_policy_t *policy = onenet_policy_load_string (text, "fuzz.cfg", err, sizeof err);
    if (!policy && !*err)
        s_fail ("policy", "refused without a reason");
    strings_t strings;
    s_strings (text, &strings);
    if (policy) {
        (void)onenet_policy_path (policy);
        (void)onenet_policy_rule_count (policy);
        /* Every string as requester, with the strings that follow it as
         * services and purposes (as a rule writes them: requester, then
         * service, then purposes), and with the view service: the
         * input's own names meet its own rules. */
        size_t n = strings.count;
        for (size_t r = 0; r < n; r++) {
            for (size_t k = 1; k <= 3; k++) {
                size_t s = (r + k) % n;
                s_decide (policy, &strings, strings.text[r], strings.text[s],
                          k == 2 ? NULL : strings.text[(s + 1) % n]);
            }
            s_decide (policy, &strings, strings.text[r], ONENET_POLICY_VIEW_SERVICE,
                      strings.text[(r + 2) % n]);
        }
    } else {
        s_decide (NULL, &strings, "anonymous", "onenet.ping", NULL);
    }
    /* Masking on its own: each string as a value of each special field
     * and of each string taken as a field name. */
    for (size_t v = POLICY_NAMES; v < strings.count; v++)
        for (size_t f = 5; f < strings.count; f++)
            free (s_mask (strings.text[f], strings.text[v]));

    for (size_t i = 0; i < strings.count; i++)
        free (strings.text[i]);
    onenet_policy_destroy (&policy);
    free (text);
    return 0;
}

//  --------------------------------------------------------------------------

const fuzz_target_t fuzz_targets[] = {
    {"wire", fuzz_wire}, {"json", fuzz_json},     {"config", fuzz_config},
    {"cap", fuzz_cap},   {"policy", fuzz_policy},
};
const size_t fuzz_target_count = sizeof fuzz_targets / sizeof fuzz_targets[0];
