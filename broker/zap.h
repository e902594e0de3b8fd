/*
 * zap.h - who is connecting: the broker's ZAP handler (ZeroMQ RFC 27).
 *
 * With security = "curve", libzmq asks this handler, over
 * inproc://zeromq.zap.01, about every connection's CURVE public key. A key
 * listed in curve.clients is accepted with its department as user id,
 * which every message on that connection then carries (the broker reads
 * it as the requester); any other key is refused and logged.
 */
#ifndef BROKER_ZAP_H
#define BROKER_ZAP_H

#include "broker_internal.h"

typedef struct zap_t zap_t;

/* Binds the handler in the broker's context; must exist before the CURVE
 * server sockets bind. NULL with a reason in err. */
zap_t *zap_new (broker_t *broker, char *err, size_t err_size);
void zap_destroy (zap_t **self_p);

/* Replaces the known keys with the config's (on reload: new connections
 * see the new list; established ones keep their identity). */
int zap_set_keys (zap_t *self, const broker_config_t *config);

/* The socket for the loop to poll, and its handler. */
void *zap_socket (zap_t *self);
void zap_handle (zap_t *self);

/* Connections refused so far. */
uint64_t zap_refused (const zap_t *self);

/* Makes socket a CURVE server with the broker's key (from key_file).
 * Returns 0, or -1 with a reason. */
int zap_secure_socket (void *socket, const char *key_file, char *err, size_t err_size);

#endif
