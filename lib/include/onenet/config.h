/*
 * onenet/config.h - read a libconfig file once, validate it, report the
 * first problem with file, line and setting name.
 *
 * Every OneNet program (broker, adapters, gateway) reads its settings
 * through this reader and copies them into its own plain struct, so no
 * other code touches libconfig. Usage:
 *
 *     onenet_config_t *cfg = onenet_config_load (path, err, sizeof err);
 *     if (!cfg)
 *         return NULL;                        // err: "x.cfg:3: syntax error"
 *     onenet_config_int (cfg, "broker.heartbeat_ms", 1000, 50, 60000, &self->heartbeat_ms);
 *     onenet_config_string (cfg, "broker.endpoint", "tcp://127.0.0.1:5570", &endpoint);
 *     ...
 *     int rc = onenet_config_finish (cfg, err, sizeof err);
 *     onenet_config_destroy (&cfg);
 *
 * Paths name settings the way messages print them: "broker.endpoint",
 * "services[1].name" (element 1 of the list services), "tags[0]".
 *
 * The reader marks every setting the caller reads, counts, requires or
 * declares; onenet_config_finish then reports the first setting that was
 * never asked for, since a setting nobody reads is almost always a typo:
 *   "broker.cfg:4: broker.heartbeat: unknown setting (did you mean heartbeat_ms?)"
 *
 * Errors are sticky: the first one is kept and every later call returns -1
 * without changing it, so a loader may read everything and check once.
 * Messages are one line: "FILE:LINE: setting.path: reason"; for a setting
 * that is absent, LINE is that of its nearest enclosing group or list, or
 * left out ("FILE: name: required setting missing") at top level.
 *
 * Integers: libconfig 1.5 silently wraps decimal integers beyond 32 bits
 * unless they carry an L suffix; the reader rejects such literals at load.
 *
 * Not thread-safe; a reader is meant to live only as long as loading.
 */
#ifndef ONENET_CONFIG_H
#define ONENET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onenet_config_t onenet_config_t;

/* Parses the file at path. Returns a reader, or NULL with one line in err
 * (if err is not NULL): "path: cannot open: No such file or directory",
 * "path:7: syntax error", "path:3: limits.size: integer 3000000000 does
 * not fit in 32 bits (write 3000000000L)". The caller destroys the reader
 * with onenet_config_destroy. */
onenet_config_t *onenet_config_load (const char *path, char *err, size_t err_size);

/* Same as onenet_config_load, from text in memory; name stands for the
 * file name in messages (NULL: "(string)"). Meant for tests. */
onenet_config_t *onenet_config_load_string (const char *text, const char *name, char *err,
                                            size_t err_size);

/* Frees the reader and every string it handed out; sets *self_p to NULL.
 * Safe on NULL. */
void onenet_config_destroy (onenet_config_t **self_p);

/* Typed getters. Each sets *value_p to the setting's value, or to def when
 * the setting is absent, and returns 0. On a wrong type or a value out of
 * [min, max] it sets *value_p to def, records the error and returns -1; so
 * it does once any error has been recorded. Integers may be written with
 * or without an L suffix, in decimal or hex; floats are not integers. */
int onenet_config_int (onenet_config_t *self, const char *path, int def, int min, int max,
                       int *value_p);
int onenet_config_int64 (onenet_config_t *self, const char *path, int64_t def, int64_t min,
                         int64_t max, int64_t *value_p);
int onenet_config_bool (onenet_config_t *self, const char *path, bool def, bool *value_p);

/* The string belongs to the reader and lives until onenet_config_destroy:
 * strdup it to keep it. When absent, *value_p is def itself (may be NULL). */
int onenet_config_string (onenet_config_t *self, const char *path, const char *def,
                          const char **value_p);

/* As onenet_config_string, but the value must be one of choices, a NULL-
 * terminated array: "must be one of debug, info, warn or error, not "x"".
 * *value_p points into choices (or is def), so it outlives the reader. */
int onenet_config_choice (onenet_config_t *self, const char *path, const char *def,
                          const char *const *choices, const char **value_p);

/* Sets *count_p to the number of elements of a list ( ... ) or array
 * [ ... ], or 0 when absent, and returns 0; -1 if the setting is something
 * else. Read the elements by index: "services[0].name", "tags[2]". */
int onenet_config_count (onenet_config_t *self, const char *path, size_t *count_p);

/* Returns 0 if the setting exists, else records "required setting missing"
 * and returns -1. Call it before reading a setting that has no default. */
int onenet_config_require (onenet_config_t *self, const char *path);

/* Marks a setting and everything under it as known without reading it,
 * e.g. a section another program reads. Returns 0 whether or not the
 * setting exists; -1 only if path crosses a setting of the wrong type. */
int onenet_config_declare (onenet_config_t *self, const char *path);

/* Returns whether the setting exists. Does not mark it as read. */
bool onenet_config_has (onenet_config_t *self, const char *path);

/* Records a caller's own validation error at a setting (at its nearest
 * enclosing group if absent): onenet_config_fail (cfg, "broker.endpoint",
 * "must start with tcp://, not \"%s\"", endpoint). Always returns -1; if an
 * error was already recorded, that one is kept. */
int onenet_config_fail (onenet_config_t *self, const char *path, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Returns the first recorded error, or NULL if none. The string belongs to
 * the reader. */
const char *onenet_config_error (onenet_config_t *self);

/* Call after reading everything: reports the first setting (in file order)
 * that was never read, counted, required or declared. Returns 0 if the
 * file is valid; otherwise -1 with the first error copied to err (if err
 * is not NULL). */
int onenet_config_finish (onenet_config_t *self, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif
