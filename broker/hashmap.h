/*
 * hashmap.h - a map from byte-string keys to pointers, for the broker's
 * peers (by routing id) and services (by name). Open addressing with
 * linear probing; keys are copied, values are not owned.
 */
#ifndef BROKER_HASHMAP_H
#define BROKER_HASHMAP_H

#include <stddef.h>

typedef struct hashmap_t hashmap_t;

hashmap_t *hashmap_new (void);
void hashmap_destroy (hashmap_t **self_p);

/* Returns the value stored under key, or NULL. */
void *hashmap_get (const hashmap_t *self, const void *key, size_t key_size);
/* Stores value under key, replacing any previous value. Returns 0, or -1
 * when out of memory (nothing changed). */
int hashmap_put (hashmap_t *self, const void *key, size_t key_size, void *value);
/* Removes key; returns its value, or NULL if it was absent. */
void *hashmap_remove (hashmap_t *self, const void *key, size_t key_size);
size_t hashmap_size (const hashmap_t *self);

/* Iteration: start with *cursor = 0; returns the next value or NULL at the
 * end. Do not put or remove while iterating; collect first. */
void *hashmap_next (const hashmap_t *self, size_t *cursor);

#endif
