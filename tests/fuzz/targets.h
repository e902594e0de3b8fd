/*
 * targets.h - the fuzz targets of OneNet, one function per input parser.
 *
 * Each function takes arbitrary bytes, feeds them to one parser of the
 * library the way the broker or a tool would, checks what must hold for
 * any input (round trips, documented sizes) and returns 0. It aborts,
 * after one line on stderr naming the target and what broke, when a
 * check fails; memory errors and leaks are left to the sanitizers.
 *
 * The libFuzzer harnesses (tests/fuzz/fuzz_*.c, built with clang by
 * scripts/fuzz.sh) and the cmocka regression test (tests/unit/
 * test_fuzz_regressions.c, built with the project's compiler) both call
 * these, so an input a fuzzer found replays the very same logic.
 */
#ifndef ONENET_FUZZ_TARGETS_H
#define ONENET_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* The frame decoder: signature, every header type (heap and arena) and
 * every message type of the schema, each unpacked message printed as
 * JSON and read back. */
int fuzz_wire (const uint8_t *data, size_t size);

/* onenet_json_decode into a few message types; whatever decodes must
 * encode, decode again and encode to the same text. */
int fuzz_json (const uint8_t *data, size_t size);

/* broker_config_load on a file holding the input; also read as a key
 * file (onenet_keypair_load). */
int fuzz_config (const uint8_t *data, size_t size);

/* onenet_cap_parse; a parsed alert must format, parse again and format
 * to the same document. */
int fuzz_cap (const uint8_t *data, size_t size);

/* onenet_policy_load_string, decisions and view-section filtering with
 * names taken from the input, and onenet_mask_field on its strings. */
int fuzz_policy (const uint8_t *data, size_t size);

/* The targets by name ("wire", "json", ...), for drivers that take the
 * name from the command line or a directory. */
typedef int (*fuzz_target_fn) (const uint8_t *data, size_t size);
typedef struct {
    const char *name;
    fuzz_target_fn run;
} fuzz_target_t;

extern const fuzz_target_t fuzz_targets[];
extern const size_t fuzz_target_count;

#endif
