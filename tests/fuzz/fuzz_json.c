/*
 * fuzz_json.c - libFuzzer harness for JSON text into messages of the shared schema.
 *
 * The logic is fuzz_json in targets.c, shared with the regression test
 * (tests/unit/test_fuzz_regressions.c). Built and run by scripts/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include "targets.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    return fuzz_json (data, size);
}
