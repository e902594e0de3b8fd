/*
 * subscriber_marks.c - the subscriber's gap check (subscriber_internal.h):
 * did every alert message on each of its prefixes arrive?
 *
 * Between two marks of a prefix the broker counted N alert messages on
 * it; if N arrived too, none was dropped on the way. When that holds for
 * every prefix over the last round, and everything up to each prefix's
 * previous mark was already received, then everything up to the newest
 * ID of this round is: the subscriber moves on without asking the stream.
 * Anything else (a mark missing, another epoch, a count that differs, an
 * alert not kept) leaves it to the catch-up, as before marks existed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "subscriber_internal.h"

int
subscriber_marks_init (subscriber_marks_t *marks, char *const *topics, int count)
{
    memset (marks, 0, sizeof *marks);
    marks->prefixes = calloc (count > 0 ? (size_t) count : 1, sizeof *marks->prefixes);
    if (!marks->prefixes)
        return -1;
    for (int i = 0; i < count; i++) {
        if (strncmp (topics[i], "alert.", 6) != 0)
            continue;
        mark_prefix_t *prefix = &marks->prefixes[marks->count];
        prefix->text = strdup (topics[i]);
        if (!prefix->text) {
            subscriber_marks_free (marks);
            return -1;
        }
        prefix->length = strlen (topics[i]);
        marks->count++;
    }
    return 0;
}

void
subscriber_marks_free (subscriber_marks_t *marks)
{
    for (size_t i = 0; i < marks->count; i++)
        free (marks->prefixes[i].text);
    free (marks->prefixes);
    memset (marks, 0, sizeof *marks);
}

void
subscriber_marks_on_alert (subscriber_marks_t *marks, const char *topic, size_t length)
{
    for (size_t i = 0; i < marks->count; i++) {
        mark_prefix_t *prefix = &marks->prefixes[i];
        if (prefix->length <= length && memcmp (prefix->text, topic, prefix->length) == 0)
            prefix->seen++;
    }
}

int
subscriber_marks_on_mark (subscriber_marks_t *marks, const char *topic, size_t length,
                          const char *text, size_t text_size)
{
    char copy[128], latest_text[STREAM_ID_TEXT + 1];
    if (text_size >= sizeof copy)
        return -1;
    memcpy (copy, text, text_size);
    copy[text_size] = '\0';
    uint64_t epoch, count;
    stream_id_t latest;
    if (sscanf (copy, "%" SCNu64 " %" SCNu64 " %42s", &epoch, &count, latest_text) != 3
        || subscriber_id_parse (latest_text, &latest) < 0)
        return -1;
    for (size_t i = 0; i < marks->count; i++) {
        mark_prefix_t *prefix = &marks->prefixes[i];
        if (prefix->length != length || memcmp (prefix->text, topic, length) != 0)
            continue;
        prefix->clean = prefix->known && prefix->epoch == epoch
                        && prefix->count + prefix->seen == count;
        prefix->epoch = epoch;
        prefix->count = count;
        prefix->seen = 0;
        prefix->prev_at = prefix->at;
        prefix->at = latest;
        prefix->known = true;
        prefix->fresh = true;
    }
    return 0;
}

bool
subscriber_marks_on_tick (subscriber_marks_t *marks, stream_id_t latest, stream_id_t received)
{
    bool complete = marks->count > 0 && !marks->lost;
    for (size_t i = 0; i < marks->count; i++) {
        mark_prefix_t *prefix = &marks->prefixes[i];
        complete = complete && prefix->fresh && prefix->clean
                   && subscriber_id_cmp (prefix->at, latest) == 0
                   && subscriber_id_cmp (received, prefix->prev_at) >= 0;
        prefix->fresh = false;
    }
    marks->lost = false;
    return complete;
}
