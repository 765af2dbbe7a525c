/* Latency samples and their summary line, shared by the bench drivers. Every driver prints
 * "result name=... key=value ..." lines that bench/lockbox_bench.py parses. */
#ifndef LOCKBOX_BENCH_STATS_H
#define LOCKBOX_BENCH_STATS_H
#include <stddef.h>
#include <stdint.h>

struct bench_samples {
    int64_t *ns;
    size_t count, cap;
};

int bench_samples_add(struct bench_samples *s, int64_t ns);
void bench_samples_free(struct bench_samples *s);
/* Sorts the samples and prints: result name=NAME n= median_us= p90_us= p99_us= max_us=
 * mean_us= followed by `extra` (may be NULL). */
void bench_samples_print(struct bench_samples *s, const char *name, const char *extra);

#endif
