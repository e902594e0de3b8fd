/*
 * fuzz_wire.c - libFuzzer harness for the frame decoder: signature, header and body frames of every
 * message type.
 *
 * The logic is fuzz_wire in targets.c, shared with the regression test
 * (tests/unit/test_fuzz_regressions.c). Built and run by scripts/fuzz.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include "targets.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    return fuzz_wire (data, size);
}
