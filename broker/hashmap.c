/*
 * hashmap.c - open addressing with linear probing and backward-shift
 * deletion (no tombstones, so lookups stay short after many removals).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"

typedef struct {
    void *key;        /* NULL: empty slot */
    size_t key_size;
    uint64_t hash;
    void *value;
} entry_t;

struct hashmap_t {
    entry_t *entries;
    size_t capacity;  /* power of two */
    size_t size;
};

static uint64_t
hash_bytes (const void *key, size_t size)
{
    /* FNV-1a, then a final mix: keys are short (routing ids, names). */
    const unsigned char *p = key;
    uint64_t hash = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++) {
        hash ^= p[i];
        hash *= 1099511628211ULL;
    }
    hash ^= hash >> 29;
    return hash;
}

hashmap_t *
hashmap_new (void)
{
    hashmap_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = 16;
    self->entries = calloc (self->capacity, sizeof *self->entries);
    if (!self->entries) {
        free (self);
        return NULL;
    }
    return self;
}

void
hashmap_destroy (hashmap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hashmap_t *self = *self_p;
    for (size_t i = 0; i < self->capacity; i++)
        free (self->entries[i].key);
    free (self->entries);
    free (self);
    *self_p = NULL;
}

static size_t
find_slot (const hashmap_t *self, const void *key, size_t key_size, uint64_t hash)
{
    size_t mask = self->capacity - 1;
    size_t i = hash & mask;
    while (self->entries[i].key) {
        const entry_t *e = &self->entries[i];
        if (e->hash == hash && e->key_size == key_size && memcmp (e->key, key, key_size) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

void *
hashmap_get (const hashmap_t *self, const void *key, size_t key_size)
{
    size_t i = find_slot (self, key, key_size, hash_bytes (key, key_size));
    return self->entries[i].key ? self->entries[i].value : NULL;
}

static int
grow (hashmap_t *self)
{
    size_t old_capacity = self->capacity;
    entry_t *old = self->entries;
    entry_t *entries = calloc (old_capacity * 2, sizeof *entries);
    if (!entries)
        return -1;
    self->entries = entries;
    self->capacity = old_capacity * 2;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].key)
            self->entries[find_slot (self, old[i].key, old[i].key_size, old[i].hash)] = old[i];
    free (old);
    return 0;
}

int
hashmap_put (hashmap_t *self, const void *key, size_t key_size, void *value)
{
    if ((self->size + 1) * 4 > self->capacity * 3 && grow (self) < 0)
        return -1;
    uint64_t hash = hash_bytes (key, key_size);
    size_t i = find_slot (self, key, key_size, hash);
    entry_t *e = &self->entries[i];
    if (!e->key) {
        e->key = malloc (key_size ? key_size : 1);
        if (!e->key)
            return -1;
        memcpy (e->key, key, key_size);
        e->key_size = key_size;
        e->hash = hash;
        self->size++;
    }
    e->value = value;
    return 0;
}

void *
hashmap_remove (hashmap_t *self, const void *key, size_t key_size)
{
    size_t mask = self->capacity - 1;
    size_t i = find_slot (self, key, key_size, hash_bytes (key, key_size));
    if (!self->entries[i].key)
        return NULL;
    void *value = self->entries[i].value;
    free (self->entries[i].key);
    self->entries[i].key = NULL;
    self->size--;
    /* Backward shift: move later entries of the probe run into the hole
     * when their home slot allows it. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; self->entries[j].key; j = (j + 1) & mask) {
        size_t home = self->entries[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            self->entries[hole] = self->entries[j];
            self->entries[j].key = NULL;
            hole = j;
        }
    }
    return value;
}

size_t
hashmap_size (const hashmap_t *self)
{
    return self->size;
}

void *
hashmap_next (const hashmap_t *self, size_t *cursor)
{
    while (*cursor < self->capacity) {
        const entry_t *e = &self->entries[(*cursor)++];
        if (e->key)
            return e->value;
    }
    return NULL;
}
