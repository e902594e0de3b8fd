/*
 * subscriber_state.c - what an alert subscriber remembers, for
 * subscriber.c (see subscriber_internal.h): Redis stream IDs and sorted
 * sets of them, the spooled alerts received live before the broker could
 * log them, and the state file that keeps the cursor across runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sdk_internal.h"
#include "subscriber_internal.h"

#define MAX_SPOOLED 10000 /* spooled alerts remembered */

/* ======================================================================
 * Stream IDs
 * ====================================================================== */

//  Reads a run of decimal digits into *out. Returns 0, or -1 if there are
//  none or the number does not fit 64 bits.
static int
s_parse_u64 (const char **text, uint64_t *out)
{
    const char *p = *text;
    uint64_t value = 0;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t digit = (uint64_t)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    *out = value;
    *text = p;
    return 0;
}

int
subscriber_id_parse (const char *text, stream_id_t *id)
{
    stream_id_t parsed = {0, 0};
    if (!text)
        return -1;
    if (*text && s_parse_u64 (&text, &parsed.ms))
        return -1;
    if (*text == '-') {
        text++;
        if (s_parse_u64 (&text, &parsed.seq))
            return -1;
    }
    if (*text)
        return -1;
    *id = parsed;
    return 0;
}

int
subscriber_id_cmp (stream_id_t a, stream_id_t b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

int
subscriber_id_compare (const char *a, const char *b)
{
    stream_id_t ia = {0, 0}, ib = {0, 0};
    if (subscriber_id_parse (a, &ia))
        ia = (stream_id_t){0, 0};
    if (subscriber_id_parse (b, &ib))
        ib = (stream_id_t){0, 0};
    return subscriber_id_cmp (ia, ib);
}

char *
subscriber_id_format (stream_id_t id, char *out)
{
    if (id.ms == 0 && id.seq == 0)
        snprintf (out, STREAM_ID_TEXT, "0");
    else
        snprintf (out, STREAM_ID_TEXT, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
    return out;
}

/* --- a sorted set of IDs ---------------------------------------------- */

//  Index of the first ID not below id.
static size_t
s_set_lower (const id_set_t *set, stream_id_t id)
{
    size_t low = 0, high = set->count;
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (subscriber_id_cmp (set->ids[mid], id) < 0)
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

int
subscriber_set_add (id_set_t *set, stream_id_t id)
{
    size_t at = s_set_lower (set, id);
    if (at < set->count && subscriber_id_cmp (set->ids[at], id) == 0)
        return 0;
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 64;
        stream_id_t *grown = realloc (set->ids, capacity * sizeof *grown);
        if (!grown)
            return -1;
        set->ids = grown;
        set->capacity = capacity;
    }
    memmove (&set->ids[at + 1], &set->ids[at], (set->count - at) * sizeof *set->ids);
    set->ids[at] = id;
    set->count++;
    return 0;
}

bool
subscriber_set_has (const id_set_t *set, stream_id_t id)
{
    size_t at = s_set_lower (set, id);
    return at < set->count && subscriber_id_cmp (set->ids[at], id) == 0;
}

void
subscriber_set_prune (id_set_t *set, stream_id_t limit)
{
    //  everything at or below limit is the prefix before the first ID past it
    size_t keep_from = s_set_lower (set, (stream_id_t){limit.ms, limit.seq + 1});
    if (limit.seq == UINT64_MAX)
        keep_from = s_set_lower (set, (stream_id_t){limit.ms + 1, 0});
    if (keep_from == 0)
        return;
    memmove (set->ids, &set->ids[keep_from], (set->count - keep_from) * sizeof *set->ids);
    set->count -= keep_from;
}

void
subscriber_set_free (id_set_t *set)
{
    free (set->ids);
    memset (set, 0, sizeof *set);
}

/* ======================================================================
 * State: spooled alerts and the state file
 * ====================================================================== */

int
subscriber_spooled_add (subscriber_state_t *state, const char *sender, const char *identifier)
{
    if (state->n_spooled == MAX_SPOOLED)
        subscriber_spooled_remove (state, 0); // the oldest
    if (state->n_spooled == state->spooled_capacity) {
        size_t capacity = state->spooled_capacity ? state->spooled_capacity * 2 : 16;
        spooled_t *grown = realloc (state->spooled, capacity * sizeof *grown);
        if (!grown)
            return -1;
        state->spooled = grown;
        state->spooled_capacity = capacity;
    }
    spooled_t *entry = &state->spooled[state->n_spooled];
    memset (entry, 0, sizeof *entry);
    entry->sender = strdup (sender);
    entry->identifier = strdup (identifier);
    if (!entry->sender || !entry->identifier) {
        free (entry->sender);
        free (entry->identifier);
        return -1;
    }
    state->n_spooled++;
    return 0;
}

int
subscriber_spooled_find (const subscriber_state_t *state, const char *sender,
                         const char *identifier)
{
    for (size_t i = 0; i < state->n_spooled; i++)
        if (strcmp (state->spooled[i].sender, sender) == 0 &&
            strcmp (state->spooled[i].identifier, identifier) == 0)
            return (int)i;
    return -1;
}

void
subscriber_spooled_remove (subscriber_state_t *state, size_t index)
{
    if (index >= state->n_spooled)
        return;
    free (state->spooled[index].sender);
    free (state->spooled[index].identifier);
    memmove (&state->spooled[index], &state->spooled[index + 1],
             (state->n_spooled - index - 1) * sizeof *state->spooled);
    state->n_spooled--;
}

void
subscriber_state_clear (subscriber_state_t *state)
{
    while (state->n_spooled)
        subscriber_spooled_remove (state, state->n_spooled - 1);
    free (state->spooled);
    subscriber_set_free (&state->delivered);
    memset (state, 0, sizeof *state);
}

#define STATE_MAGIC "onenet-subscriber-state 1"

//  What one line of a state file was.
enum { LINE_OK, LINE_FILTER_SAME, LINE_FILTER_OTHER, LINE_BAD };

static int
s_state_spooled (subscriber_state_t *state, char *value)
{
    char *identifier = value ? strchr (value, ' ') : NULL;
    if (!identifier)
        return LINE_BAD;
    *identifier++ = '\0';
    if (subscriber_spooled_add (state, value, identifier))
        return LINE_BAD;
    state->spooled[state->n_spooled - 1].taken = true;
    return LINE_OK;
}

//  Reads one line (after the first) of a state file into state.
static int
s_state_line (char *line, const char *filter_key, subscriber_state_t *state)
{
    char *value = strchr (line, ' ');
    if (value)
        *value++ = '\0';
    stream_id_t id;
    if (strcmp (line, "filter") == 0)
        return strcmp (value ? value : "", filter_key) == 0 ? LINE_FILTER_SAME : LINE_FILTER_OTHER;
    if (strcmp (line, "spooled") == 0)
        return s_state_spooled (state, value);
    if (!value || subscriber_id_parse (value, &id))
        return LINE_BAD;
    if (strcmp (line, "cursor") == 0) {
        state->cursor = id;
        return LINE_OK;
    }
    if (strcmp (line, "delivered") == 0)
        return subscriber_set_add (&state->delivered, id) ? LINE_BAD : LINE_OK;
    return LINE_BAD;
}

//  Reads a state file. Returns as subscriber_state_load.
static int
s_state_read (FILE *file, const char *filter_key, subscriber_state_t *state, char *err,
              size_t err_size)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    int number = 0, kind = LINE_OK;
    bool magic = false, filter = false;
    while (kind != LINE_BAD && kind != LINE_FILTER_OTHER &&
           (length = getline (&line, &capacity, file)) >= 0) {
        number++;
        while (length > 0 && (line[length - 1] == '\n' || line[length - 1] == '\r'))
            line[--length] = '\0';
        if (length == 0 || line[0] == '#')
            continue;
        if (!magic) {
            magic = strcmp (line, STATE_MAGIC) == 0;
            kind = magic ? LINE_OK : LINE_BAD;
            continue;
        }
        char copy[120];
        snprintf (copy, sizeof copy, "%s", line);
        kind = s_state_line (line, filter_key, state);
        filter = filter || kind == LINE_FILTER_SAME;
        if (kind == LINE_BAD)
            sdk_set_error (err, err_size, "line %d: unexpected '%s'", number, copy);
    }
    free (line);
    if (!magic) {
        sdk_set_error (err, err_size, "line %d: not a subscriber state file (expected '%s')",
                       number ? number : 1, STATE_MAGIC);
        return -1;
    }
    if (kind == LINE_BAD)
        return -1;
    //  another filter, or none recorded: the cursor means nothing for this one
    return kind == LINE_FILTER_OTHER || !filter ? 0 : 1;
}

int
subscriber_state_load (const char *path, const char *filter_key, subscriber_state_t *state,
                       char *err, size_t err_size)
{
    memset (state, 0, sizeof *state);
    FILE *file = fopen (path, "r");
    if (!file && errno == ENOENT)
        return 0;
    if (!file) {
        sdk_set_error (err, err_size, "state file %s: %s", path, strerror (errno));
        return -1;
    }
    char why[300] = "";
    int rc = s_state_read (file, filter_key, state, why, sizeof why);
    fclose (file);
    if (rc < 0)
        sdk_set_error (err, err_size, "state file %s: %s", path, why);
    if (rc != 1)
        subscriber_state_clear (state);
    return rc;
}

static void
s_state_write (FILE *file, const char *filter_key, const subscriber_state_t *state)
{
    char id[STREAM_ID_TEXT];
    fprintf (file,
             "# OneNet alert subscriber state (onenet/subscriber.h): rewritten as alerts are\n"
             "# taken. Delete the file to start again from the beginning of the alert log.\n"
             "%s\nfilter %s\ncursor %s\n",
             STATE_MAGIC, filter_key, subscriber_id_format (state->cursor, id));
    for (size_t i = 0; i < state->delivered.count; i++)
        fprintf (file, "delivered %s\n", subscriber_id_format (state->delivered.ids[i], id));
    for (size_t i = 0; i < state->n_spooled; i++)
        if (state->spooled[i].taken && !strpbrk (state->spooled[i].sender, " \r\n") &&
            !strpbrk (state->spooled[i].identifier, "\r\n"))
            fprintf (file, "spooled %s %s\n", state->spooled[i].sender,
                     state->spooled[i].identifier);
}

int
subscriber_state_save (const char *path, const char *filter_key, const subscriber_state_t *state,
                       char *err, size_t err_size)
{
    size_t size = strlen (path) + 32;
    char *temp = malloc (size);
    if (!temp) {
        sdk_set_error (err, err_size, "out of memory");
        return -1;
    }
    snprintf (temp, size, "%s.tmp.%ld", path, (long)getpid ());
    FILE *file = fopen (temp, "w");
    int rc = file ? 0 : -1;
    if (file) {
        s_state_write (file, filter_key, state);
        rc = fflush (file) || ferror (file) || fsync (fileno (file)) ? -1 : 0;
        rc = fclose (file) || rc ? -1 : 0;
    }
    if (rc == 0)
        rc = rename (temp, path);
    if (rc) {
        sdk_set_error (err, err_size, "state file %s: cannot write: %s", path, strerror (errno));
        unlink (temp);
    }
    free (temp);
    return rc;
}
