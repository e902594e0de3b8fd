/*
 * tools/bench_samples.h - latency samples and exact percentiles, shared by
 * `onenet bench` and its NATS helper (onenet-bench-nats), which links
 * nothing else of the CLI.
 */
#ifndef ONENET_BENCH_SAMPLES_H
#define ONENET_BENCH_SAMPLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Latencies in nanoseconds, grown as needed. */
typedef struct {
    uint64_t *ns;
    size_t count;
    size_t capacity;
    bool out_of_memory;
} bench_samples_t;

void bench_samples_add (bench_samples_t *self, uint64_t ns);
/* Sorts the samples (once, before asking percentiles). */
void bench_samples_sort (bench_samples_t *self);
/* The q-quantile (0 < q < 1) of sorted samples in microseconds, nearest
 * rank; 0 when there are none. */
double bench_samples_us (const bench_samples_t *self, double q);
void bench_samples_free (bench_samples_t *self);

/* Nanoseconds of CLOCK_MONOTONIC. */
int64_t bench_now_ns (void);

#endif
