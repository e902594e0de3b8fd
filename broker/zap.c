/*
 * zap.c - the ZAP handler: CURVE public key -> department (see zap.h).
 * Requests are answered inline by the loop; each is a map lookup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "onenet/security.h"
#include "zap.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct zap_t {
    broker_t *broker;
    void *socket;            /* REP */
    hashmap_t *keys;         /* 32-byte public key -> strdup'd department */
    uint64_t refused;
    int64_t refusal_logged_at;
};

static void
forget_keys (zap_t *self)
{
    size_t cursor = 0;
    char *department;
    while ((department = hashmap_next (self->keys, &cursor)))
        free (department);
    hashmap_destroy (&self->keys);
}

int
zap_set_keys (zap_t *self, const broker_config_t *config)
{
    hashmap_t *keys = hashmap_new ();
    if (!keys)
        return -1;
    hashmap_t *previous = self->keys;
    self->keys = keys;
    for (size_t i = 0; i < config->client_key_count; i++) {
        uint8_t key[32];
        char *department = strdup (config->client_keys[i].department);
        if (!department || !zmq_z85_decode (key, config->client_keys[i].public_key)
            || hashmap_put (keys, key, sizeof key, department) < 0)
            free (department);
    }
    if (previous) {
        hashmap_t *current = self->keys;
        self->keys = previous;
        forget_keys (self);
        self->keys = current;
    }
    return 0;
}

zap_t *
zap_new (broker_t *broker, char *err, size_t err_size)
{
    zap_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->broker = broker;
    self->socket = zmq_socket (broker->context, ZMQ_REP);
    int linger = 0;
    if (self->socket)
        zmq_setsockopt (self->socket, ZMQ_LINGER, &linger, sizeof linger);
    if (!self->socket || zmq_bind (self->socket, ZAP_ENDPOINT) < 0
        || zap_set_keys (self, broker->config) < 0) {
        snprintf (err, err_size, "cannot start the ZAP handler: %s", zmq_strerror (zmq_errno ()));
        zap_destroy (&self);
    }
    return self;
}

void
zap_destroy (zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zap_t *self = *self_p;
    if (self->keys)
        forget_keys (self);
    if (self->socket)
        zmq_close (self->socket);
    free (self);
    *self_p = NULL;
}

void *
zap_socket (zap_t *self)
{
    return self->socket;
}

uint64_t
zap_refused (const zap_t *self)
{
    return self->refused;
}

int
zap_secure_socket (void *socket, const char *key_file, char *err, size_t err_size)
{
    onenet_keypair_t pair;
    if (onenet_keypair_load (key_file, &pair, err, err_size) < 0)
        return -1;
    if (!*pair.secret_key) {
        snprintf (err, err_size, "%s: has no secret key: the broker needs its .key file", key_file);
        return -1;
    }
    int server = 1;
    if (zmq_setsockopt (socket, ZMQ_CURVE_SERVER, &server, sizeof server) < 0
        || zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, pair.secret_key, ONENET_KEY_SIZE) < 0
        || zmq_setsockopt (socket, ZMQ_ZAP_DOMAIN, "onenet", 6) < 0) {
        snprintf (err, err_size, "cannot make the socket a CURVE server: %s",
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

/* One ZAP request: version, request id, domain, address, routing id,
 * mechanism, then the mechanism's credentials (CURVE: the 32-byte key). */
void
zap_handle (zap_t *self)
{
    enum { FRAMES = 8 };
    zmq_msg_t frame[FRAMES];
    int count = 0, more = 1;
    while (more) {
        zmq_msg_t *target = &frame[count < FRAMES ? count : FRAMES - 1];
        if (count >= FRAMES)
            zmq_msg_close (target);
        zmq_msg_init (target);
        if (zmq_msg_recv (target, self->socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (target);
            break;
        }
        more = zmq_msg_more (target);
        if (count < FRAMES)
            count++;
    }
    if (count == 0)
        return;
    const char *department = NULL;
    char address[64] = "?";
    bool curve = count >= 7 && zmq_msg_size (&frame[5]) == 5
                 && memcmp (zmq_msg_data (&frame[5]), "CURVE", 5) == 0 && zmq_msg_size (&frame[6]) == 32;
    if (curve)
        department = hashmap_get (self->keys, zmq_msg_data (&frame[6]), 32);
    if (count >= 4)
        snprintf (address, sizeof address, "%.*s", (int) zmq_msg_size (&frame[3]),
                  (const char *) zmq_msg_data (&frame[3]));
    const char *status = department ? "200" : "400";
    const char *text = department ? "OK" : curve ? "unknown key" : "CURVE required";
    if (!department) {
        self->refused++;
        int64_t now = onenet_clock_ms ();
        if (now - self->refusal_logged_at >= 1000) {   /* a scan must not flood the log */
            char key[ONENET_KEY_SIZE + 1] = "";
            if (curve)
                zmq_z85_encode (key, zmq_msg_data (&frame[6]), 32);
            onenet_warn ("security.refused", "address=%s reason=\"%s\" key=%s refused_total=%llu",
                         address, text, *key ? key : "-", (unsigned long long) self->refused);
            self->refusal_logged_at = now;
        }
    }
    /* version, request id, status code, status text, user id, metadata */
    zmq_send (self->socket, "1.0", 3, ZMQ_SNDMORE);
    if (count >= 2)
        zmq_send (self->socket, zmq_msg_data (&frame[1]), zmq_msg_size (&frame[1]), ZMQ_SNDMORE);
    else
        zmq_send (self->socket, "", 0, ZMQ_SNDMORE);
    zmq_send (self->socket, status, 3, ZMQ_SNDMORE);
    zmq_send (self->socket, text, strlen (text), ZMQ_SNDMORE);
    zmq_send (self->socket, department ? department : "", department ? strlen (department) : 0,
              ZMQ_SNDMORE);
    zmq_send (self->socket, "", 0, 0);
    for (int i = 0; i < count; i++)
        zmq_msg_close (&frame[i]);
}
