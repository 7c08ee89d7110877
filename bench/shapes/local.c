/*
 * Thread-local random sizes: each thread has 1,024 slots and, COUNT times,
 * frees a random slot and allocates 4 B-32 KiB into it, the size drawn with
 * probability proportional to 1/size^2 (mostly tens of bytes, rarely
 * kilobytes). The program writes the first and last bytes of every object.
 *
 * What it stresses: the thread's own fast paths across many size classes,
 * with no sharing between threads.
 */
#include "shape.h"

#define SLOTS 1024

static long count;

static void *worker(void *arg)
{
    uint64_t lane = (uint64_t)(intptr_t)arg;
    shape_rng r;
    shape_seed(&r, 5000 + lane);
    unsigned char **p = calloc(SLOTS, sizeof *p);
    size_t *size = calloc(SLOTS, sizeof *size);
    if (!p || !size) shape_fail("local", "out of memory");
    uint64_t sum = 0;
    for (long n = 0; n < count; n++) {
        int i = (int)shape_range(&r, 0, SLOTS - 1);
        if (p[i]) {
            if (p[i][0] != (unsigned char)(p[i][size[i] - 1] + 1))
                shape_fail("local", "an object changed under its owner");
            sum += p[i][0];
            free(p[i]);
        }
        size[i] = shape_inverse_square(&r, 4, 32768);
        if (!(p[i] = malloc(size[i]))) shape_fail("local", "out of memory");
        p[i][size[i] - 1] = (unsigned char)n;
        p[i][0] = (unsigned char)(n + 1);
    }
    for (int i = 0; i < SLOTS; i++) {
        if (p[i]) sum += p[i][0];
        free(p[i]);
    }
    free(p);
    free(size);
    shape_add(sum);
    return NULL;
}

int main(int argc, char **argv)
{
    shape_args a = shape_parse(argc, argv, 2);
    count = shape_scaled(20000000, a.scale, 1);
    double dt = shape_run_threads(worker, a.threads);
    shape_report("local", a, count * a.threads, dt, atomic_load(&shape_sum));
    return 0;
}
