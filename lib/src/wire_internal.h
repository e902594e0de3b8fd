/*
 * wire_internal.h - frame sending shared by the codec's files (wire.c,
 * batch.c). Not installed.
 */
#ifndef ONENET_WIRE_INTERNAL_H
#define ONENET_WIRE_INTERNAL_H

#include <stddef.h>
#include <zmq.h>

/* Sends a frame. On failure closes it and returns -1 with errno kept. */
int wire_send_frame (void *socket, zmq_msg_t *frame, int flags);
/* Sends size bytes of data as a frame, copied; as wire_send_frame. */
int wire_send_copy (void *socket, const void *data, size_t size, int flags);
/* Sends a copy of a routing id, more frames to follow (ZMQ_SNDMORE is
 * added to flags); as wire_send_frame. */
int wire_send_routing_id (void *socket, const zmq_msg_t *routing_id, int flags);

#endif
