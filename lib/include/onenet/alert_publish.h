/*
 * onenet/alert_publish.h - publish a CAP 1.2 alert through the broker.
 *
 * Any department may publish alerts: it builds an onenet.alert.Alert
 * (proto/alert.proto, or onenet_cap_parse from CAP XML) and hands it to
 * the broker's service "onenet.alert.publish", which validates it, appends
 * it to the alert stream and only then sends it to subscribers
 * (docs/ALERTS.md). These helpers do the call and read the
 * onenet.alert.PublishReply:
 *
 *     char stream_id[64], err[300];
 *     bool spooled;
 *     if (onenet_alert_publish (client, alert, stream_id, sizeof stream_id, &spooled,
 *                               err, sizeof err) < 0)
 *         fprintf (stderr, "not published: %s\n", err);   // "UNAVAILABLE: ..."
 *
 * An alert counts as published when the broker answers OK: it has a stream
 * id, or it was spooled on the broker's disk while Redis is down (stream
 * id "" then; it gets one when Redis returns), or the broker already had
 * an alert with this identifier (a retry: nothing is sent twice). So a
 * publisher that is not sure whether an earlier attempt arrived simply
 * publishes the same alert again.
 *
 * onenet_alert_publish waits for the answer (up to the client's default
 * timeout, onenet_client_set_default_timeout). A program with its own
 * poll loop that must not wait uses onenet_alert_publish_send, then
 * onenet_alert_publish_result on the reply that onenet_client_recv
 * returns for that correlation id.
 *
 * Not thread-safe beyond what the client is: one client per thread.
 */
#ifndef ONENET_ALERT_PUBLISH_H
#define ONENET_ALERT_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "onenet/client.h"
#include "onenet/proto/alert.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The broker's publishing service. */
#define ONENET_ALERT_PUBLISH_SERVICE "onenet.alert.publish"

/* Publishes alert and waits for the broker's answer. The alert is checked
 * with onenet_cap_validate first: an invalid one is not sent. Returns 0
 * when the broker accepted it (see above), with its stream id copied to
 * stream_id_out ("" when spooled; truncated to size, may be NULL when
 * size is 0) and *spooled set (spooled may be NULL). Returns -1
 * otherwise, with "<STATUS>: <reason>" in err (e.g. "BAD_REQUEST:
 * info[0].severity: ...", "TIMEOUT: ...", "RESOURCE_EXHAUSTED: ...");
 * err may be NULL. BAD_REQUEST means the alert itself is wrong and will
 * never be accepted; any other failure may succeed when tried again.
 * The caller keeps alert. */
int onenet_alert_publish (onenet_client_t *client, const Onenet__Alert__Alert *alert,
                          char *stream_id_out, size_t size, bool *spooled, char *err,
                          size_t err_size);

/* Starts publishing alert without waiting: validates it, then sends it
 * with a deadline of timeout_ms (0 for the client's default). Returns the
 * call's correlation id (> 0), which the reply from onenet_client_recv
 * carries; 0 when the alert is invalid ("BAD_REQUEST: ..." in err) or
 * could not be sent. The caller keeps alert. */
uint64_t onenet_alert_publish_send (onenet_client_t *client, const Onenet__Alert__Alert *alert,
                                    uint32_t timeout_ms, char *err, size_t err_size);

/* Reads the reply to an onenet.alert.publish call. Returns 0 when the
 * broker accepted the alert, filling stream_id_out, *spooled and
 * *duplicate (each may be NULL / size 0) as onenet_alert_publish does;
 * -1 otherwise with "<STATUS>: <reason>" in err (onenet_reply_status
 * gives the status itself). The caller keeps and destroys reply. */
int onenet_alert_publish_result (const onenet_reply_t *reply, char *stream_id_out, size_t size,
                                 bool *spooled, bool *duplicate, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
