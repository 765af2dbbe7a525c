/* Percentiles by nearest rank over sorted samples. */
#include "bench_stats.h"

#include <stdio.h>
#include <stdlib.h>

int bench_samples_add(struct bench_samples *s, int64_t ns)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        int64_t *grown = realloc(s->ns, cap * sizeof(*grown));
        if (grown == NULL)
            return -1;
        s->ns = grown;
        s->cap = cap;
    }
    s->ns[s->count++] = ns;
    return 0;
}

void bench_samples_free(struct bench_samples *s)
{
    free(s->ns);
    s->ns = NULL;
    s->count = s->cap = 0;
}

static int compare(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double percentile_us(const struct bench_samples *s, double p)
{
    size_t rank = (size_t)(p * (double)s->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->count)
        rank = s->count;
    return (double)s->ns[rank - 1] / 1000.0;
}

void bench_samples_print(struct bench_samples *s, const char *name, const char *extra)
{
    double sum = 0;

    if (s->count == 0) {
        printf("result name=%s n=0%s%s\n", name, extra ? " " : "", extra ? extra : "");
        fflush(stdout);
        return;
    }
    qsort(s->ns, s->count, sizeof(*s->ns), compare);
    for (size_t i = 0; i < s->count; i++)
        sum += (double)s->ns[i];
    printf("result name=%s n=%zu median_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f "
           "mean_us=%.1f%s%s\n",
           name, s->count, percentile_us(s, 0.5), percentile_us(s, 0.9), percentile_us(s, 0.99),
           percentile_us(s, 1.0), sum / (double)s->count / 1000.0, extra ? " " : "",
           extra ? extra : "");
    fflush(stdout);
}
