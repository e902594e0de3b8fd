/*
 * fuzz_policy.c - libFuzzer harness for the sharing policy loader, its decisions and field masking.
 *
 * The logic is fuzz_policy in targets.c, shared with the regression test
 * (tests/unit/test_fuzz_regressions.c). Built and run by scripts/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include "targets.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    return fuzz_policy (data, size);
}
