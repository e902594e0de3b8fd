/*
 * marks.c - per-subscription counters on the alerts XPUB (see marks.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "hashmap.h"
#include "marks.h"
#include "onenet/wire.h"

#define ALERT_TOPIC "alert."
#define MAX_PREFIX 255
/* A prefix made again (its last subscriber left, then one came back)
 * starts its count this far from any earlier one, so that no subscriber
 * mistakes the new count for the old. */
#define SERIAL_SHIFT 40

typedef struct {
    uint64_t count;
    size_t length;
    char text[MAX_PREFIX + 1];
} prefix_t;

struct marks_t {
    hashmap_t *prefixes;                /* prefix text -> prefix_t */
    uint64_t lengths[(MAX_PREFIX + 64) / 64]; /* bit n: some prefix is n bytes long */
    uint64_t serial;                    /* prefixes made so far */
    uint64_t epoch;
};

marks_t *
marks_new (void)
{
    marks_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->prefixes = hashmap_new ();
    if (!self->prefixes) {
        free (self);
        return NULL;
    }
    /* Unique per broker run: a subscriber sees a restart as a new epoch. */
    self->epoch = (uint64_t) onenet_wall_ms ();
    return self;
}

void
marks_destroy (marks_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    marks_t *self = *self_p;
    size_t cursor = 0;
    prefix_t *prefix;
    while ((prefix = hashmap_next (self->prefixes, &cursor)))
        free (prefix);
    hashmap_destroy (&self->prefixes);
    free (self);
    *self_p = NULL;
}

static void
update_lengths (marks_t *self)
{
    memset (self->lengths, 0, sizeof self->lengths);
    size_t cursor = 0;
    prefix_t *prefix;
    while ((prefix = hashmap_next (self->prefixes, &cursor)))
        self->lengths[prefix->length / 64] |= 1ULL << (prefix->length % 64);
}

void
marks_on_subscription (marks_t *self, const void *data, size_t size)
{
    const char *bytes = data;
    if (size < 1 + strlen (ALERT_TOPIC) || size - 1 > MAX_PREFIX
        || memcmp (bytes + 1, ALERT_TOPIC, strlen (ALERT_TOPIC)) != 0)
        return;
    const char *text = bytes + 1;
    size_t length = size - 1;
    prefix_t *prefix = hashmap_get (self->prefixes, text, length);
    if (bytes[0] == 1 && !prefix) {
        prefix = calloc (1, sizeof *prefix);
        if (!prefix)
            return;   /* no marks for it: its subscribers fall back to catching up */
        prefix->count = ++self->serial << SERIAL_SHIFT;
        prefix->length = length;
        memcpy (prefix->text, text, length);
        if (hashmap_put (self->prefixes, text, length, prefix) < 0) {
            free (prefix);
            return;
        }
        self->lengths[length / 64] |= 1ULL << (length % 64);
    }
    else if (bytes[0] == 0 && prefix) {
        hashmap_remove (self->prefixes, text, length);
        free (prefix);
        update_lengths (self);
    }
}

void
marks_on_sent (marks_t *self, const char *topic, size_t length)
{
    if (length > MAX_PREFIX)
        length = MAX_PREFIX;
    for (size_t n = strlen (ALERT_TOPIC); n <= length; n++) {
        if (!(self->lengths[n / 64] & (1ULL << (n % 64))))
            continue;
        prefix_t *prefix = hashmap_get (self->prefixes, topic, n);
        if (prefix)
            prefix->count++;
    }
}

void
marks_send (marks_t *self, void *xpub, const char *latest)
{
    size_t cursor = 0;
    prefix_t *prefix;
    while ((prefix = hashmap_next (self->prefixes, &cursor))) {
        char text[96];
        int length = snprintf (text, sizeof text, "%" PRIu64 " %" PRIu64 " %s", self->epoch,
                               prefix->count, latest);
        if (length < 0 || (size_t) length >= sizeof text)
            continue;
        if (zmq_send (xpub, prefix->text, prefix->length, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0
            && zmq_send (xpub, "mark", 4, ZMQ_SNDMORE) >= 0)
            zmq_send (xpub, text, (size_t) length, 0);
    }
}

void
marks_new_epoch (marks_t *self)
{
    self->epoch++;
}

size_t
marks_prefixes (const marks_t *self)
{
    return hashmap_size (self->prefixes);
}
