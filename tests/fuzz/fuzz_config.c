/*
 * fuzz_config.c - libFuzzer harness for the broker's configuration loader (broker/config.c) and key
 * files.
 *
 * The logic is fuzz_config in targets.c, shared with the regression test
 * (tests/unit/test_fuzz_regressions.c). Built and run by scripts/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include "targets.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    return fuzz_config (data, size);
}
