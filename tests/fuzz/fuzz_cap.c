/*
 * fuzz_cap.c - libFuzzer harness for the CAP 1.2 XML parser and formatter.
 *
 * The logic is fuzz_cap in targets.c, shared with the regression test
 * (tests/unit/test_fuzz_regressions.c). Built and run by scripts/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include "targets.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    return fuzz_cap (data, size);
}
