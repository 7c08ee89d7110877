/*
 * What the workload-shape programs share: a seeded random generator, the
 * clock, the command line and the one line of output.
 *
 * Every program is written against plain malloc/free/realloc (built with
 * -fno-builtin so that no pair is folded away), takes
 *
 *     PROGRAM [SCALE [THREADS]]
 *
 * (SCALE multiplies the amount of work, default 1; THREADS defaults to 2, the
 * cores of the machine the defaults were chosen on, except where the shape is
 * one thread's), verifies what it wrote
 * into every object before freeing it, and prints one line:
 *
 *     NAME threads=T scale=S ops=N time_s=SECONDS checksum=HEX
 *
 * The checksum sums values written into the objects: it depends on the seed
 * and the parameters only, never on addresses or on the interleaving of
 * threads, so it is the same under every allocator. A wrong value read back
 * exits with status 1.
 */
#ifndef CA_BENCH_SHAPE_H
#define CA_BENCH_SHAPE_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* xorshift64*: small, fast, and the same sequence everywhere */
typedef struct {
    uint64_t s;
} shape_rng;

static inline void shape_seed(shape_rng *r, uint64_t seed)
{
    /* splitmix64 of the seed, never zero */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    r->s = (z ^ (z >> 31)) | 1;
}

static inline uint64_t shape_next(shape_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}

/* uniform in [lo, hi] */
static inline size_t shape_range(shape_rng *r, size_t lo, size_t hi)
{
    return lo + (size_t)(shape_next(r) % (uint64_t)(hi - lo + 1));
}

/* uniform in (0, 1] */
static inline double shape_unit(shape_rng *r)
{
    return ((double)(shape_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

/* P(size) proportional to 1/size^2 on [lo, hi] (lo >= 1): lo / u, redrawn
 * above hi */
static inline size_t shape_inverse_square(shape_rng *r, size_t lo, size_t hi)
{
    for (;;) {
        double s = (double)lo / shape_unit(r);
        if (s <= (double)hi) return (size_t)s;
    }
}

/* log-uniform on [lo, hi]: as many objects of 16-32 KiB as of 1-2 MiB */
static inline size_t shape_log_uniform(shape_rng *r, size_t lo, size_t hi)
{
    double a = (double)lo, b = (double)hi;
    double s = a * exp(log(b / a) * (1.0 - shape_unit(r)));
    size_t v = (size_t)s;
    return v < lo ? lo : v > hi ? hi : v;
}

/* shape_heavy's sizes (bench/heap_map runs its pattern too): three in four
 * of 8-64 bytes, fifteen in sixty-four up to 512, one in sixty-four up to
 * 4 KiB */
static inline size_t shape_heavy_size(shape_rng *r)
{
    uint64_t x = shape_next(r);
    unsigned pick = (unsigned)(x & 63);
    x >>= 6;
    if (pick == 0) return 8 + (size_t)(x % 4089);
    if (pick < 16) return 8 + (size_t)(x % 505);
    return 8 + (size_t)(x % 57);
}

static inline double shape_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    double scale; /* multiplier of the default amount of work */
    int threads;  /* worker threads */
} shape_args;

static inline shape_args shape_parse(int argc, char **argv, int default_threads)
{
    shape_args a = {1.0, default_threads};
    if (argc > 1) a.scale = strtod(argv[1], NULL);
    if (argc > 2) a.threads = atoi(argv[2]);
    if (argc > 3 || !(a.scale > 0.0 && a.scale <= 1000.0) || a.threads < 1 || a.threads > 64) {
        fprintf(stderr, "usage: %s [SCALE [THREADS]]  (SCALE > 0, 1..64 threads)\n", argv[0]);
        exit(2);
    }
    return a;
}

/* n scaled, at least min */
static inline long shape_scaled(long n, double scale, long min)
{
    double v = (double)n * scale;
    return v < (double)min ? min : (long)v;
}

static inline void shape_report(const char *name, shape_args a, long ops, double seconds,
                                uint64_t checksum)
{
    printf("%s threads=%d scale=%g ops=%ld time_s=%.4f checksum=%016llx\n", name, a.threads,
           a.scale, ops, seconds, (unsigned long long)checksum);
    fflush(stdout);
}

static inline void shape_fail(const char *name, const char *what)
{
    fprintf(stderr, "%s: %s\n", name, what);
    exit(1);
}

/* a value derived from a (lane, counter) pair, written into an object and
 * checked when it is freed */
static inline uint64_t shape_tag(uint64_t lane, uint64_t i)
{
    return (lane << 48) ^ (i * 0x9e3779b97f4a7c15ull) ^ 0x5bd1e995u;
}

/* Runs fn(lane) on `threads` new threads (lane 0..threads-1), joins them, and
 * returns the seconds it took. */
typedef struct {
    void *(*fn)(void *);
    long lane;
} shape_lane;

static inline void *shape_lane_main(void *arg)
{
    shape_lane *l = arg;
    return l->fn((void *)(intptr_t)l->lane);
}

static inline double shape_run_threads(void *(*fn)(void *), int threads)
{
    pthread_t t[64];
    shape_lane lanes[64];
    double t0 = shape_now();
    for (int i = 0; i < threads; i++) {
        lanes[i].fn = fn;
        lanes[i].lane = i;
        if (pthread_create(&t[i], NULL, shape_lane_main, &lanes[i]) != 0)
            shape_fail("shape", "pthread_create failed");
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return shape_now() - t0;
}

/* checksum shared by the threads: a sum, so the order of the adds is free */
static _Atomic uint64_t shape_sum;

static inline void shape_add(uint64_t v)
{
    atomic_fetch_add_explicit(&shape_sum, v, memory_order_relaxed);
}

#endif
