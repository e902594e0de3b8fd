/*
 * config.c - onenet_config: a validating reader over libconfig.
 *
 * libconfig parses; this file adds what an operator needs when a setting
 * is wrong: the first error with file, line and setting path, and the
 * settings nobody read (typos). Each setting the caller visits is marked
 * through libconfig's hook pointer; onenet_config_finish walks the tree
 * once and reports the first unmarked one, suggesting the closest name
 * the caller asked for and did not find.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libconfig.h>
#include "onenet/config.h"

#define ERROR_SIZE 1024             /* one message, path included */
#define PATH_SIZE 512               /* a setting path we print */
#define NAME_SIZE 256               /* one path component */
#define TEXT_MAX (16 * 1024 * 1024) /* no config file is this large */

/* Flags of s_resolve. */
#define RESOLVE_TOUCH 1 /* mark what is found, remember what is not */
#define RESOLVE_QUIET 2 /* a wrong type on the way is not an error */

/* A name the caller asked for under parent but did not find: the
 * candidates for "did you mean". */
typedef struct {
    const config_setting_t *parent;
    char *name;
} asked_t;

/* What s_resolve found. */
typedef struct {
    config_setting_t *setting; /* the setting, NULL when absent */
    config_setting_t *where;   /* the setting, or its nearest existing ancestor */
    char missing[NAME_SIZE];   /* first absent member name, "" if none */
} lookup_t;

struct onenet_config_t {
    config_t config;
    char *name; /* file name used in messages */
    bool failed;
    char error[ERROR_SIZE]; /* the first error, once failed */
    asked_t *asked;
    size_t asked_count;
    size_t asked_size;
};

/* The hook value of a setting the caller has visited. */
static char s_visited;

static void
s_copy (char *dest, size_t size, const char *text)
{
    if (dest && size > 0)
        snprintf (dest, size, "%s", text);
}

static const char *
s_type_name (const config_setting_t *setting)
{
    switch (config_setting_type (setting)) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "empty";
    }
}

/* Writes the path of a setting as messages print it: "services[1].name". */
static void
s_path_of (const config_setting_t *setting, char *buf, size_t size)
{
    const config_setting_t *parent = config_setting_parent (setting);
    buf[0] = '\0';
    if (!parent)
        return;
    s_path_of (parent, buf, size);
    size_t len = strlen (buf);
    const char *name = config_setting_name (setting);
    if (name)
        snprintf (buf + len, size - len, "%s%s", len ? "." : "", name);
    else
        snprintf (buf + len, size - len, "[%d]", config_setting_index (setting));
}

/* A value as messages quote it: one line, not too long. */
static void
s_quote (const char *value, char *buf, size_t size)
{
    size_t len = 0;
    for (; *value && len + 4 < size; value++)
        buf[len++] = isprint ((unsigned char)*value) ? *value : '?';
    if (*value && len >= 3)
        memcpy (buf + len - 3, "...", 3);
    buf[len] = '\0';
}

static bool
s_is_visited (const config_setting_t *setting)
{
    return config_setting_get_hook (setting) == &s_visited;
}

static void
s_mark (config_setting_t *setting)
{
    config_setting_set_hook (setting, &s_visited);
}

static void
s_mark_tree (config_setting_t *setting)
{
    s_mark (setting);
    int count = config_setting_is_aggregate (setting) ? config_setting_length (setting) : 0;
    for (int index = 0; index < count; index++)
        s_mark_tree (config_setting_get_elem (setting, index));
}

//  --------------------------------------------------------------------------
//  Errors

/* Records the first error: "FILE:LINE: path: reason", or "FILE: path:
 * reason" when line is 0 (the root has no line). */
static int
s_vfail (onenet_config_t *self, const char *file, unsigned int line, const char *path,
         const char *format, va_list args)
{
    if (self->failed)
        return -1;
    self->failed = true;
    if (!file)
        file = self->name; // settings read from a string have no file
    int used;
    if (line > 0)
        used = snprintf (self->error, ERROR_SIZE, "%s:%u: ", file, line);
    else
        used = snprintf (self->error, ERROR_SIZE, "%s: ", file);
    if (used >= 0 && used < ERROR_SIZE && path && *path)
        used += snprintf (self->error + used, ERROR_SIZE - used, "%s: ", path);
    if (used >= 0 && used < ERROR_SIZE)
        vsnprintf (self->error + used, ERROR_SIZE - used, format, args);
    return -1;
}

/* An error about path, located at where: the setting itself, or its
 * nearest existing ancestor when it is absent. */
static int __attribute__ ((format (printf, 4, 5)))
s_fail_at (onenet_config_t *self, const config_setting_t *where, const char *path,
           const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vfail (self, where ? config_setting_source_file (where) : NULL,
             where ? config_setting_source_line (where) : 0, path, format, args);
    va_end (args);
    return -1;
}

/* An error about a setting that exists, at its own line. */
static int __attribute__ ((format (printf, 3, 4)))
s_fail_setting (onenet_config_t *self, const config_setting_t *setting, const char *format, ...)
{
    char path[PATH_SIZE];
    s_path_of (setting, path, sizeof path);
    va_list args;
    va_start (args, format);
    s_vfail (self, config_setting_source_file (setting), config_setting_source_line (setting), path,
             format, args);
    va_end (args);
    return -1;
}

static int
s_fail_type (onenet_config_t *self, const config_setting_t *setting, const char *expected)
{
    return s_fail_setting (self, setting, "must be %s, not %s", expected, s_type_name (setting));
}

/* An error at a line of the main file. */
static int __attribute__ ((format (printf, 4, 5)))
s_fail_line (onenet_config_t *self, unsigned int line, const char *path, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vfail (self, NULL, line, path, format, args);
    va_end (args);
    return -1;
}

//  --------------------------------------------------------------------------
//  Did you mean: the closest name by edit distance, if close enough.

/* Edit distance where swapping two neighbours counts as one edit, the
 * commonest typo ("nmae"): optimal string alignment. */
static size_t
s_distance (const char *a, const char *b)
{
    size_t a_len = strlen (a), b_len = strlen (b);
    if (a_len >= NAME_SIZE || b_len >= NAME_SIZE)
        return SIZE_MAX;
    size_t rows[3][NAME_SIZE]; // rows i-2, i-1 and i, used in turn
    for (size_t j = 0; j <= b_len; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= a_len; i++) {
        size_t *row = rows[i % 3], *above = rows[(i + 2) % 3], *above2 = rows[(i + 1) % 3];
        row[0] = i;
        for (size_t j = 1; j <= b_len; j++) {
            size_t best = above[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (above[j] + 1 < best)
                best = above[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                above2[j - 2] + 1 < best)
                best = above2[j - 2] + 1;
            row[j] = best;
        }
    }
    return rows[a_len % 3][b_len];
}

/* Keeps candidate in *best_p if it is closer to name than what is there
 * and close enough to be a plausible typo: a third of the longer name, so
 * "heartbeat" finds "heartbeat_ms" but "x" finds nothing. */
static void
s_consider (const char *name, const char *candidate, const char **best_p, size_t *distance_p)
{
    size_t longest = strlen (name) > strlen (candidate) ? strlen (name) : strlen (candidate);
    size_t limit = longest / 3 > 1 ? longest / 3 : 1;
    size_t distance = s_distance (name, candidate);
    if (distance > 0 && distance <= limit && distance < *distance_p) {
        *best_p = candidate;
        *distance_p = distance;
    }
}

/* The name the caller probably meant by an unknown setting: one it asked
 * for under the same parent, or a sibling it read. */
static const char *
s_suggest (onenet_config_t *self, const config_setting_t *unknown)
{
    const char *name = config_setting_name (unknown);
    const config_setting_t *parent = config_setting_parent (unknown);
    const char *best = NULL;
    size_t distance = SIZE_MAX;
    if (!name || !parent)
        return NULL;
    for (size_t index = 0; index < self->asked_count; index++)
        if (self->asked[index].parent == parent)
            s_consider (name, self->asked[index].name, &best, &distance);
    int count = config_setting_length (parent);
    for (int index = 0; index < count; index++) {
        const config_setting_t *sibling = config_setting_get_elem (parent, index);
        if (sibling != unknown && s_is_visited (sibling) && config_setting_name (sibling))
            s_consider (name, config_setting_name (sibling), &best, &distance);
    }
    return best;
}

/* The unread member of parent that looks like a misspelling of name. */
static const config_setting_t *
s_lookalike (const config_setting_t *parent, const char *name)
{
    const config_setting_t *found = NULL;
    const char *best = NULL;
    size_t distance = SIZE_MAX;
    if (!config_setting_is_group (parent))
        return NULL;
    int count = config_setting_length (parent);
    for (int index = 0; index < count; index++) {
        const config_setting_t *member = config_setting_get_elem (parent, index);
        if (s_is_visited (member))
            continue;
        const char *before = best;
        s_consider (name, config_setting_name (member), &best, &distance);
        if (best != before)
            found = member;
    }
    return found;
}

static void
s_remember (onenet_config_t *self, const config_setting_t *parent, const char *name)
{
    for (size_t index = 0; index < self->asked_count; index++)
        if (self->asked[index].parent == parent && strcmp (self->asked[index].name, name) == 0)
            return;
    if (self->asked_count == self->asked_size) {
        size_t size = self->asked_size ? self->asked_size * 2 : 16;
        asked_t *asked = realloc (self->asked, size * sizeof *asked);
        if (!asked)
            return; // only a suggestion is lost
        self->asked = asked;
        self->asked_size = size;
    }
    char *copy = strdup (name);
    if (!copy)
        return;
    self->asked[self->asked_count++] = (asked_t){parent, copy};
}

//  --------------------------------------------------------------------------
//  Paths: "broker.endpoint", "services[1].name", "tags[0]"

static int
s_bad_path (onenet_config_t *self, const char *path, int flags)
{
    if (flags & RESOLVE_QUIET)
        return -1;
    return s_fail_at (self, NULL, path, "invalid setting path");
}

/* Walks path from the root. Returns 0 with lookup filled in, whether the
 * setting exists or not; -1 if the path is malformed or crosses a setting
 * of the wrong type (recorded as the error unless RESOLVE_QUIET, and then
 * lookup->where is that setting). */
static int
s_resolve (onenet_config_t *self, const char *path, int flags, lookup_t *lookup)
{
    config_setting_t *current = config_root_setting (&self->config);
    const char *cursor = path ? path : "";
    bool absent = false;
    lookup->setting = NULL;
    lookup->where = current;
    lookup->missing[0] = '\0';

    while (!absent) {
        // A member name...
        size_t len = strcspn (cursor, ".[");
        if (len == 0 || len >= NAME_SIZE)
            return s_bad_path (self, path, flags);
        char name[NAME_SIZE];
        memcpy (name, cursor, len);
        name[len] = '\0';
        cursor += len;
        if (!config_setting_is_group (current)) {
            lookup->where = current;
            return (flags & RESOLVE_QUIET) ? -1 : s_fail_type (self, current, "a group");
        }
        config_setting_t *child = config_setting_get_member (current, name);
        if (!child) {
            if (flags & RESOLVE_TOUCH)
                s_remember (self, current, name);
            snprintf (lookup->missing, sizeof lookup->missing, "%s", name);
            absent = true;
            break;
        }
        current = child;
        if (flags & RESOLVE_TOUCH)
            s_mark (current);

        // ...then any number of [index]...
        while (*cursor == '[') {
            char *end;
            if (!isdigit ((unsigned char)cursor[1]))
                return s_bad_path (self, path, flags);
            unsigned long index = strtoul (cursor + 1, &end, 10);
            if (*end != ']')
                return s_bad_path (self, path, flags);
            cursor = end + 1;
            if (!config_setting_is_list (current) && !config_setting_is_array (current)) {
                lookup->where = current;
                return (flags & RESOLVE_QUIET) ? -1 : s_fail_type (self, current, "a list");
            }
            child = index < (unsigned long)config_setting_length (current)
                        ? config_setting_get_elem (current, (unsigned int)index)
                        : NULL;
            if (!child) {
                absent = true;
                break;
            }
            current = child;
            if (flags & RESOLVE_TOUCH)
                s_mark (current);
        }
        // ...then the end, or a dot and the next member.
        if (absent || *cursor == '\0')
            break;
        if (*cursor != '.')
            return s_bad_path (self, path, flags);
        cursor++;
    }
    lookup->where = current;
    lookup->setting = absent ? NULL : current;
    return 0;
}

//  --------------------------------------------------------------------------
//  Integer literals. libconfig 1.5 stores a decimal integer beyond 32 bits
//  written without an L suffix as a wrapped int (4294968320 reads as 1024)
//  and clamps 64-bit ones, so a value could pass every range check and
//  still not be what the operator wrote. Find such literals in the text.

/* The first INT or INT64 setting of the main file on line with the given
 * type (and, for INT, the wrapped value), so the error can name it. */
static config_setting_t *
s_setting_on_line (onenet_config_t *self, config_setting_t *setting, unsigned int line, int type,
                   int wrapped)
{
    const char *file = config_setting_source_file (setting);
    if (config_setting_source_line (setting) == line && config_setting_type (setting) == type &&
        (!file || strcmp (file, self->name) == 0) &&
        (type != CONFIG_TYPE_INT || config_setting_get_int (setting) == wrapped))
        return setting;
    int count = config_setting_is_aggregate (setting) ? config_setting_length (setting) : 0;
    for (int index = 0; index < count; index++) {
        config_setting_t *found =
            s_setting_on_line (self, config_setting_get_elem (setting, index), line, type, wrapped);
        if (found)
            return found;
    }
    return NULL;
}

/* Checks one numeric token; returns -1 (error recorded) if libconfig
 * cannot have stored the value written. Floats and malformed tokens (the
 * parser has accepted the text, so there are none) pass. */
static int
s_check_number (onenet_config_t *self, const char *token, size_t len, unsigned int line)
{
    char literal[64];
    if (len >= sizeof literal)
        len = sizeof literal - 1; // too long for any integer: fails below
    memcpy (literal, token, len);
    literal[len] = '\0';

    const char *digits = literal + (literal[0] == '-' || literal[0] == '+');
    bool hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
    if (!hex && strpbrk (literal, ".eE"))
        return 0;
    size_t literal_len = strlen (literal);
    bool wide = literal_len > 0 && literal[literal_len - 1] == 'L';
    char number[64];
    snprintf (number, sizeof number, "%.*s", (int)strcspn (literal, "L"), literal);

    char *end;
    errno = 0;
    long long value;
    bool fits;
    if (hex) {
        unsigned long long raw = strtoull (number, &end, 16);
        value = (long long)raw;
        fits = errno != ERANGE && (wide || raw <= 0xFFFFFFFFULL);
    } else {
        value = strtoll (number, &end, 10);
        fits = errno != ERANGE && (wide || (value >= INT_MIN && value <= INT_MAX));
    }
    if (*end != '\0' || fits)
        return 0;

    // Name the setting if we can tell which one it is.
    int type = wide ? CONFIG_TYPE_INT64 : CONFIG_TYPE_INT;
    int wrapped = (int)(unsigned int)value;
    config_setting_t *setting =
        s_setting_on_line (self, config_root_setting (&self->config), line, type, wrapped);
    char path[PATH_SIZE] = "";
    if (setting)
        s_path_of (setting, path, sizeof path);
    if (wide)
        return s_fail_line (self, line, path, "integer %s does not fit in 64 bits", literal);
    return s_fail_line (self, line, path, "integer %s does not fit in 32 bits (write %sL)", literal,
                        literal);
}

/* Scans the text as libconfig's lexer would, for comments, strings, names
 * and numbers, and checks each integer. Returns 0, or -1 on the first
 * integer libconfig cannot have stored. */
static int
s_check_integers (onenet_config_t *self, const char *text)
{
    const unsigned char *cursor = (const unsigned char *)text;
    unsigned int line = 1;
    while (*cursor) {
        if (*cursor == '\n') {
            line++;
            cursor++;
        } else if (*cursor == '#' || (cursor[0] == '/' && cursor[1] == '/')) {
            while (*cursor && *cursor != '\n')
                cursor++;
        } else if (cursor[0] == '/' && cursor[1] == '*') {
            for (cursor += 2; *cursor && !(cursor[0] == '*' && cursor[1] == '/'); cursor++)
                if (*cursor == '\n')
                    line++;
            if (*cursor)
                cursor += 2;
        } else if (*cursor == '"') {
            for (cursor++; *cursor && *cursor != '"'; cursor++) {
                if (*cursor == '\\' && cursor[1])
                    cursor++;
                if (*cursor == '\n')
                    line++;
            }
            if (*cursor)
                cursor++;
        } else if (isalpha (*cursor) || *cursor == '*') {
            // A name (or true/false): digits in it are not numbers.
            while (isalnum (*cursor) || *cursor == '-' || *cursor == '_' || *cursor == '*')
                cursor++;
        } else if (isdigit (*cursor) ||
                   ((*cursor == '-' || *cursor == '+' || *cursor == '.') &&
                    (isdigit (cursor[1]) || (cursor[1] == '.' && isdigit (cursor[2]))))) {
            const unsigned char *start = cursor;
            if (*cursor == '-' || *cursor == '+')
                cursor++;
            bool hex = cursor[0] == '0' && (cursor[1] == 'x' || cursor[1] == 'X');
            while (isalnum (*cursor) || *cursor == '.' ||
                   (!hex && (*cursor == '-' || *cursor == '+') &&
                    (cursor[-1] == 'e' || cursor[-1] == 'E')))
                cursor++;
            if (s_check_number (self, (const char *)start, (size_t)(cursor - start), line))
                return -1;
        } else
            cursor++;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Loading

static onenet_config_t *
s_new (const char *text, const char *name, char *err, size_t err_size)
{
    onenet_config_t *self = calloc (1, sizeof *self);
    if (!self) {
        s_copy (err, err_size, "out of memory");
        return NULL;
    }
    config_init (&self->config);
    self->name = strdup (name);
    if (!self->name) {
        s_copy (err, err_size, "out of memory");
        onenet_config_destroy (&self);
        return NULL;
    }
    if (!config_read_string (&self->config, text)) {
        const char *file = config_error_file (&self->config);
        const char *reason = config_error_text (&self->config);
        char message[ERROR_SIZE];
        if (!reason || strcmp (reason, "syntax error") == 0)
            snprintf (message, sizeof message, "%s:%d: syntax error", file ? file : self->name,
                      config_error_line (&self->config));
        else
            snprintf (message, sizeof message, "%s:%d: syntax error: %s", file ? file : self->name,
                      config_error_line (&self->config), reason);
        s_copy (err, err_size, message);
        onenet_config_destroy (&self);
        return NULL;
    }
    if (s_check_integers (self, text)) {
        s_copy (err, err_size, self->error);
        onenet_config_destroy (&self);
        return NULL;
    }
    return self;
}

onenet_config_t *
onenet_config_load (const char *path, char *err, size_t err_size)
{
    char message[ERROR_SIZE];
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (message, sizeof message, "%s: cannot open: %s", path, strerror (errno));
        s_copy (err, err_size, message);
        return NULL;
    }
    // Read it ourselves, rather than with config_read_file, to scan the
    // integers in the very text libconfig parses.
    char *text = NULL;
    size_t len = 0, size = 0;
    bool failed = false;
    while (!failed) {
        if (size - len < 4096) {
            size = size ? size * 2 : 8192;
            char *bigger = size <= TEXT_MAX ? realloc (text, size + 1) : NULL;
            if (!bigger) {
                snprintf (message, sizeof message, "%s: cannot read: %s", path,
                          size > TEXT_MAX ? "file too large" : "out of memory");
                failed = true;
                break;
            }
            text = bigger;
        }
        size_t got = fread (text + len, 1, size - len, file);
        len += got;
        if (got == 0) {
            if (ferror (file)) {
                snprintf (message, sizeof message, "%s: cannot read: %s", path, strerror (errno));
                failed = true;
            }
            break;
        }
    }
    fclose (file);
    if (failed) {
        free (text);
        s_copy (err, err_size, message);
        return NULL;
    }
    text[len] = '\0';
    onenet_config_t *self = s_new (text, path, err, err_size);
    free (text);
    return self;
}

onenet_config_t *
onenet_config_load_string (const char *text, const char *name, char *err, size_t err_size)
{
    return s_new (text, name ? name : "(string)", err, err_size);
}

void
onenet_config_destroy (onenet_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    onenet_config_t *self = *self_p;
    config_destroy (&self->config);
    for (size_t index = 0; index < self->asked_count; index++)
        free (self->asked[index].name);
    free (self->asked);
    free (self->name);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Getters

/* Looks a setting up for a getter: 0 with *setting_p (NULL when absent),
 * or -1 once any error is recorded. */
static int
s_get (onenet_config_t *self, const char *path, config_setting_t **setting_p)
{
    lookup_t lookup;
    *setting_p = NULL;
    if (self->failed || s_resolve (self, path, RESOLVE_TOUCH, &lookup))
        return -1;
    *setting_p = lookup.setting;
    return 0;
}

int
onenet_config_int64 (onenet_config_t *self, const char *path, int64_t def, int64_t min, int64_t max,
                     int64_t *value_p)
{
    config_setting_t *setting;
    *value_p = def;
    if (s_get (self, path, &setting))
        return -1;
    if (!setting)
        return 0;
    int type = config_setting_type (setting);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
        return s_fail_type (self, setting, "an integer");
    int64_t value = type == CONFIG_TYPE_INT ? config_setting_get_int (setting)
                                            : config_setting_get_int64 (setting);
    if (value < min || value > max)
        return s_fail_setting (self, setting,
                               "must be between %" PRId64 " and %" PRId64 ", not %" PRId64, min,
                               max, value);
    *value_p = value;
    return 0;
}

int
onenet_config_int (onenet_config_t *self, const char *path, int def, int min, int max, int *value_p)
{
    int64_t value;
    int rc = onenet_config_int64 (self, path, def, min, max, &value);
    *value_p = rc == 0 ? (int)value : def;
    return rc;
}

int
onenet_config_bool (onenet_config_t *self, const char *path, bool def, bool *value_p)
{
    config_setting_t *setting;
    *value_p = def;
    if (s_get (self, path, &setting))
        return -1;
    if (!setting)
        return 0;
    if (config_setting_type (setting) != CONFIG_TYPE_BOOL)
        return s_fail_type (self, setting, "true or false");
    *value_p = config_setting_get_bool (setting) != 0;
    return 0;
}

int
onenet_config_string (onenet_config_t *self, const char *path, const char *def,
                      const char **value_p)
{
    config_setting_t *setting;
    *value_p = def;
    if (s_get (self, path, &setting))
        return -1;
    if (!setting)
        return 0;
    if (config_setting_type (setting) != CONFIG_TYPE_STRING)
        return s_fail_type (self, setting, "a string");
    *value_p = config_setting_get_string (setting);
    return 0;
}

int
onenet_config_choice (onenet_config_t *self, const char *path, const char *def,
                      const char *const *choices, const char **value_p)
{
    const char *value;
    *value_p = def;
    if (onenet_config_string (self, path, def, &value))
        return -1;
    if (value == def)
        return 0;
    size_t count = 0;
    for (; choices[count]; count++)
        if (strcmp (value, choices[count]) == 0) {
            *value_p = choices[count];
            return 0;
        }
    // "must be one of debug, info, warn or error, not "verbose""
    char list[ERROR_SIZE / 2] = "";
    for (size_t index = 0; index < count; index++) {
        size_t len = strlen (list);
        const char *glue = index == 0 ? "" : index + 1 == count ? " or " : ", ";
        snprintf (list + len, sizeof list - len, "%s%s", glue, choices[index]);
    }
    char quoted[80];
    s_quote (value, quoted, sizeof quoted);
    lookup_t lookup;
    s_resolve (self, path, RESOLVE_QUIET, &lookup);
    return s_fail_setting (self, lookup.setting, "must be %s%s, not \"%s\"",
                           count > 1 ? "one of " : "", list, quoted);
}

int
onenet_config_count (onenet_config_t *self, const char *path, size_t *count_p)
{
    config_setting_t *setting;
    *count_p = 0;
    if (s_get (self, path, &setting))
        return -1;
    if (!setting)
        return 0;
    if (!config_setting_is_list (setting) && !config_setting_is_array (setting))
        return s_fail_type (self, setting, "a list");
    *count_p = (size_t)config_setting_length (setting);
    return 0;
}

int
onenet_config_require (onenet_config_t *self, const char *path)
{
    lookup_t lookup;
    if (self->failed || s_resolve (self, path, RESOLVE_TOUCH, &lookup))
        return -1;
    if (lookup.setting)
        return 0;
    // A lookalike left unread is most likely the setting, misspelt.
    const config_setting_t *lookalike =
        lookup.missing[0] ? s_lookalike (lookup.where, lookup.missing) : NULL;
    if (lookalike)
        return s_fail_at (self, lookup.where, path,
                          "required setting missing (is %s on line %u a typo?)",
                          config_setting_name (lookalike), config_setting_source_line (lookalike));
    return s_fail_at (self, lookup.where, path, "required setting missing");
}

int
onenet_config_declare (onenet_config_t *self, const char *path)
{
    lookup_t lookup;
    if (self->failed || s_resolve (self, path, RESOLVE_TOUCH, &lookup))
        return -1;
    if (lookup.setting)
        s_mark_tree (lookup.setting);
    return 0;
}

bool
onenet_config_has (onenet_config_t *self, const char *path)
{
    lookup_t lookup;
    return s_resolve (self, path, RESOLVE_QUIET, &lookup) == 0 && lookup.setting != NULL;
}

int
onenet_config_fail (onenet_config_t *self, const char *path, const char *format, ...)
{
    lookup_t lookup;
    if (self->failed)
        return -1;
    // On a malformed path or a wrong type on the way, where is as far as we got.
    s_resolve (self, path, RESOLVE_QUIET, &lookup);
    char at[PATH_SIZE];
    if (lookup.setting)
        s_path_of (lookup.setting, at, sizeof at);
    else
        snprintf (at, sizeof at, "%s", path ? path : "");
    va_list args;
    va_start (args, format);
    s_vfail (self, config_setting_source_file (lookup.where),
             config_setting_source_line (lookup.where), at, format, args);
    va_end (args);
    return -1;
}

const char *
onenet_config_error (onenet_config_t *self)
{
    return self->failed ? self->error : NULL;
}

/* The first setting, in file order, that nobody visited. */
static config_setting_t *
s_first_unread (config_setting_t *setting)
{
    int count = config_setting_is_aggregate (setting) ? config_setting_length (setting) : 0;
    for (int index = 0; index < count; index++) {
        config_setting_t *child = config_setting_get_elem (setting, index);
        if (!s_is_visited (child))
            return child;
        config_setting_t *found = s_first_unread (child);
        if (found)
            return found;
    }
    return NULL;
}

int
onenet_config_finish (onenet_config_t *self, char *err, size_t err_size)
{
    config_setting_t *unread =
        self->failed ? NULL : s_first_unread (config_root_setting (&self->config));
    if (unread) {
        const char *suggestion = s_suggest (self, unread);
        if (suggestion)
            s_fail_setting (self, unread, "unknown setting (did you mean %s?)", suggestion);
        else
            s_fail_setting (self, unread, "unknown setting");
    }
    if (!self->failed)
        return 0;
    s_copy (err, err_size, self->error);
    return -1;
}
