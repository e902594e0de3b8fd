/*
 * alert_publish.c - the publisher's side of onenet.alert.publish (see
 * onenet/alert_publish.h): validate locally so a wrong alert is refused
 * with the same reason the broker would give, without a round trip; pack;
 * call; turn the PublishReply or the typed error into 0 / -1 and text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onenet/alert_publish.h"
#include "onenet/cap.h"
#include "onenet/status.h"

static void
set_err (char *err, size_t err_size, onenet_status_t status, const char *reason)
{
    if (err && err_size)
        snprintf (err, err_size, "%s: %s", onenet_status_name (status),
                  reason && *reason ? reason : "no reason given");
}

static void
copy_out (char *out, size_t size, const char *value)
{
    if (out && size)
        snprintf (out, size, "%s", value ? value : "");
}

/* Validates alert; on failure fills err as the broker's BAD_REQUEST would. */
static int
check (const Onenet__Alert__Alert *alert, char *err, size_t err_size)
{
    char why[256];
    if (!alert) {
        set_err (err, err_size, ONENET_BAD_REQUEST, "no alert");
        return -1;
    }
    if (onenet_cap_validate (alert, why, sizeof why) < 0) {
        set_err (err, err_size, ONENET_BAD_REQUEST, why);
        return -1;
    }
    return 0;
}

int
onenet_alert_publish_result (const onenet_reply_t *reply, char *stream_id_out, size_t size,
                             bool *spooled, bool *duplicate, char *err, size_t err_size)
{
    copy_out (stream_id_out, size, "");
    if (spooled)
        *spooled = false;
    if (duplicate)
        *duplicate = false;
    if (!reply) {
        set_err (err, err_size, ONENET_INTERNAL, "no reply (out of memory)");
        return -1;
    }
    onenet_status_t status = onenet_reply_status (reply);
    if (status != ONENET_OK) {
        set_err (err, err_size, status, onenet_reply_message (reply));
        return -1;
    }
    Onenet__Alert__PublishReply *published = (Onenet__Alert__PublishReply *) onenet_reply_unpack (
        reply, &onenet__alert__publish_reply__descriptor);
    if (!published) {
        set_err (err, err_size, ONENET_INTERNAL, "reply is not an onenet.alert.PublishReply");
        return -1;
    }
    copy_out (stream_id_out, size, published->stream_id);
    if (spooled)
        *spooled = published->spooled;
    if (duplicate)
        *duplicate = published->duplicate;
    onenet__alert__publish_reply__free_unpacked (published, NULL);
    return 0;
}

uint64_t
onenet_alert_publish_send (onenet_client_t *client, const Onenet__Alert__Alert *alert,
                           uint32_t timeout_ms, char *err, size_t err_size)
{
    if (check (alert, err, err_size) < 0)
        return 0;
    size_t size = protobuf_c_message_get_packed_size (&alert->base);
    uint8_t *body = malloc (size ? size : 1);
    if (!body) {
        set_err (err, err_size, ONENET_INTERNAL, "out of memory");
        return 0;
    }
    protobuf_c_message_pack (&alert->base, body);
    /* The broker dedupes by identifier, so a retried publish is harmless. */
    onenet_call_options_t options = { .timeout_ms = timeout_ms, .idempotent = true };
    uint64_t id = onenet_client_send (client, ONENET_ALERT_PUBLISH_SERVICE, body, size, &options);
    free (body);
    if (id == 0)
        set_err (err, err_size, ONENET_UNAVAILABLE, onenet_client_error (client));
    return id;
}

int
onenet_alert_publish (onenet_client_t *client, const Onenet__Alert__Alert *alert,
                      char *stream_id_out, size_t size, bool *spooled, char *err, size_t err_size)
{
    copy_out (stream_id_out, size, "");
    if (spooled)
        *spooled = false;
    if (check (alert, err, err_size) < 0)
        return -1;
    onenet_call_options_t options = { .idempotent = true };
    onenet_reply_t *reply = onenet_client_call_message (client, ONENET_ALERT_PUBLISH_SERVICE,
                                                        &alert->base, &options);
    int rc = onenet_alert_publish_result (reply, stream_id_out, size, spooled, NULL, err,
                                          err_size);
    onenet_reply_destroy (&reply);
    return rc;
}
