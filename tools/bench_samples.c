/*
 * tools/bench_samples.c - latency samples and exact percentiles (see
 * bench_samples.h). Latencies are kept whole (one uint64 per call) and
 * sorted at the end, so percentiles are exact rather than histogram
 * buckets; a few seconds of calls is a few MB.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_samples.h"

int64_t
bench_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

void
bench_samples_add (bench_samples_t *self, uint64_t ns)
{
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 65536;
        uint64_t *grown = realloc (self->ns, capacity * sizeof *grown);
        if (!grown) {
            self->out_of_memory = true;
            return;
        }
        self->ns = grown;
        self->capacity = capacity;
    }
    self->ns[self->count++] = ns;
}

static int
s_compare_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void
bench_samples_sort (bench_samples_t *self)
{
    if (self->count > 1)
        qsort (self->ns, self->count, sizeof *self->ns, s_compare_u64);
}

double
bench_samples_us (const bench_samples_t *self, double q)
{
    if (self->count == 0)
        return 0;
    //  nearest rank: ceil (q * count), without libm
    double exact = q * (double)self->count;
    size_t rank = (size_t)exact;
    if ((double)rank < exact)
        rank++;
    size_t index = rank ? rank - 1 : 0;
    if (index >= self->count)
        index = self->count - 1;
    return (double)self->ns[index] / 1000.0;
}

void
bench_samples_free (bench_samples_t *self)
{
    free (self->ns);
    memset (self, 0, sizeof *self);
}
