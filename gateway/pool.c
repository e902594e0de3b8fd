/*
 * pool.c - broker clients for the request threads. onenet_client_t is
 * not thread-safe, so a request takes one client for itself and gives it
 * back when done; the mutex guards only the list of idle clients, never
 * a call. Clients are made on demand; at most `size` idle ones are kept
 * (a burst beyond that makes and then drops extra ones).
 */
#include <stdlib.h>
#include <string.h>
#include "gateway.h"

struct pool_t {
    pthread_mutex_t mutex;
    char *endpoint;
    uint32_t timeout_ms;
    unsigned size;
    unsigned idle_count;
    onenet_client_t **idle;
};

pool_t *
pool_new (const char *endpoint, unsigned size, uint32_t timeout_ms)
{
    pool_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->idle = calloc (size ? size : 1, sizeof *self->idle);
    self->endpoint = endpoint ? strdup (endpoint) : NULL;
    if (!self->idle || (endpoint && !self->endpoint)) {
        free (self->idle);
        free (self->endpoint);
        free (self);
        return NULL;
    }
    pthread_mutex_init (&self->mutex, NULL);
    self->size = size;
    self->timeout_ms = timeout_ms;
    return self;
}

void
pool_destroy (pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pool_t *self = *self_p;
    for (unsigned i = 0; i < self->idle_count; i++)
        onenet_client_destroy (&self->idle[i]);
    pthread_mutex_destroy (&self->mutex);
    free (self->idle);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

onenet_client_t *
pool_acquire (pool_t *self, char *err, size_t err_size)
{
    onenet_client_t *client = NULL;
    pthread_mutex_lock (&self->mutex);
    if (self->idle_count)
        client = self->idle[--self->idle_count];
    pthread_mutex_unlock (&self->mutex);
    if (!client) {
        client = onenet_client_new (self->endpoint, err, err_size);
        if (client)
            onenet_client_set_default_timeout (client, self->timeout_ms);
    }
    return client;
}

void
pool_release (pool_t *self, onenet_client_t *client)
{
    if (!client)
        return;
    pthread_mutex_lock (&self->mutex);
    if (self->idle_count < self->size) {
        self->idle[self->idle_count++] = client;
        client = NULL;
    }
    pthread_mutex_unlock (&self->mutex);
    onenet_client_destroy (&client);
}
