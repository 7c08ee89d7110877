/*
 * Allocation-heavy: each thread, COUNT times, allocates a burst of 1-32
 * objects of skewed random sizes (three in four of 8-64 bytes, then up to
 * 512, one in sixty-four up to 4 KiB), writes every byte of each, then frees
 * the burst in reverse order except one object in eight, which replaces a
 * random entry of a 4,096-entry table of survivors (the old entry is freed).
 * Run with 1 and with 2 threads.
 *
 * What it stresses: raw malloc/free throughput of short-lived, fully written
 * objects, with a slowly changing set of longer-lived ones.
 */
#include "shape.h"

#define BURST 32
#define KEPT  4096

static long count;
static _Atomic long allocations; /* ops: the mallocs of all threads */

static uint64_t drop(unsigned char *p, size_t size)
{
    if (p[0] != p[size - 1] || p[size / 2] != p[0])
        shape_fail("heavy", "an object changed under its owner");
    uint64_t v = p[0];
    free(p);
    return v;
}

static void *worker(void *arg)
{
    uint64_t lane = (uint64_t)(intptr_t)arg;
    shape_rng r;
    shape_seed(&r, 6000 + lane);
    unsigned char **kept = calloc(KEPT, sizeof *kept);
    size_t *kept_size = calloc(KEPT, sizeof *kept_size);
    if (!kept || !kept_size) shape_fail("heavy", "out of memory");
    unsigned char *burst[BURST];
    size_t size[BURST];
    uint64_t sum = 0;
    long made = 0;
    for (long n = 0; n < count; n++) {
        int k = (int)shape_range(&r, 1, BURST);
        made += k;
        for (int i = 0; i < k; i++) {
            size[i] = shape_heavy_size(&r);
            if (!(burst[i] = malloc(size[i]))) shape_fail("heavy", "out of memory");
            memset(burst[i], (int)((n + i) & 0xff), size[i]);
        }
        for (int i = k - 1; i >= 0; i--) {
            if ((shape_next(&r) & 7) == 0) {
                int j = (int)shape_range(&r, 0, KEPT - 1);
                if (kept[j]) sum += drop(kept[j], kept_size[j]);
                kept[j] = burst[i];
                kept_size[j] = size[i];
            } else {
                sum += drop(burst[i], size[i]);
            }
        }
    }
    for (int j = 0; j < KEPT; j++)
        if (kept[j]) sum += drop(kept[j], kept_size[j]);
    free(kept);
    free(kept_size);
    atomic_fetch_add(&allocations, made);
    shape_add(sum);
    return NULL;
}

int main(int argc, char **argv)
{
    shape_args a = shape_parse(argc, argv, 2);
    count = shape_scaled(1000000, a.scale, 1);
    double dt = shape_run_threads(worker, a.threads);
    shape_report("heavy", a, atomic_load(&allocations), dt, atomic_load(&shape_sum));
    return 0;
}
