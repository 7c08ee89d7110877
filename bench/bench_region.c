/*
 * Region allocation against malloc: N small allocations (sizes 16..256 from
 * a fixed seed), timed per allocation, repeated REPS times in one process,
 * the best (fastest) run kept. The core is linked statically and malloc is
 * whatever the process has, so under LD_PRELOAD=libjemalloc.so it is
 * jemalloc's. Neither side frees inside the timed loop: the malloc side frees
 * its objects after the clock stops, the region is destroyed after the clock
 * stops. Before each pass the size and pointer arrays are read and written
 * once, untimed, so every pass starts alike. Each timed loop is a function of its own, so
 * callgrind's inclusive counts per function divided by N are instructions per allocation.
 *
 *   bench_region [N [REPS]]       N = 100000, REPS = 7
 *   bench_region mt THREADS N     one thread-safe region against malloc,
 *                                 THREADS threads x N allocations each
 *                                 (median of 9 runs)
 *   bench_region count N          two passes of each loop (inline, exported
 *                                 call, malloc) and nothing else: for callgrind
 *
 * Prints "name value" lines: ns per allocation for each region variant
 * (kv_arena_create(0) defaults, kv_arena_alloc inlined from kv_arena.h; the
 * same through the exported function; detailed statistics off; thread-safe
 * mode on one thread; sizes that are multiples of 8; packed: alignment 1)
 * and for malloc; and the region's memory efficiency, bytes requested over
 *   - bytes of the blocks it holds (header and the unused rest of the last
 *     chunk included): the strict figure, and
 *   - bytes requested plus bytes wasted (padding, chunk tails given up).
 */
#include "kv_arena.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double best(const double *v, int n)
{
    double b = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < b) b = v[i];
    return b;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Sizes 16..256 from xorshift64 with a fixed seed; `step` 1 or 8. */
static void make_sizes(size_t *sizes, long n, unsigned step)
{
    uint64_t x = 88172645463325252ull;
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sizes[i] = step == 1 ? 16 + (size_t)(x % 241) : 8 * (2 + (size_t)(x % 31));
    }
}

/* Efficiencies of one pass, in percent of bytes requested. */
typedef struct eff_s {
    double reserved; /* of the blocks the region holds, header and unused rest included */
    double consumed; /* of the bytes bumped over: requested plus padding and chunk tails */
} eff_t;

/* How a pass allocates from the region. */
typedef enum how_e {
    HOW_INLINE,  /* kv_arena_alloc: the inline fast path of kv_arena.h */
    HOW_CALL,    /* (kv_arena_alloc): the exported function */
    HOW_ALIGNED, /* kv_arena_alloc_aligned(r, n, 1): packed */
} how_t;

/* The timed loops, one function each (see the top). */
static __attribute__((noinline)) void loop_region_inline(kv_arena_t *r, const size_t *sizes,
                                                         void **ptrs, long n)
{
    for (long i = 0; i < n; i++)
        ptrs[i] = kv_arena_alloc(r, sizes[i]);
}

static __attribute__((noinline)) void loop_region_call(kv_arena_t *r, const size_t *sizes,
                                                       void **ptrs, long n)
{
    for (long i = 0; i < n; i++)
        ptrs[i] = (kv_arena_alloc)(r, sizes[i]);
}

static __attribute__((noinline)) void loop_region_packed(kv_arena_t *r, const size_t *sizes,
                                                         void **ptrs, long n)
{
    for (long i = 0; i < n; i++)
        ptrs[i] = kv_arena_alloc_aligned(r, sizes[i], 1);
}

static __attribute__((noinline)) void loop_malloc(const size_t *sizes, void **ptrs, long n)
{
    for (long i = 0; i < n; i++)
        ptrs[i] = malloc(sizes[i]);
}

/* The pointer array, placed half a page off the size array's offset in its
 * page: large malloc blocks all start at the same offset in a page, and a
 * store to ptrs[i] would then share its low 12 address bits with the load
 * of sizes[i] ("4K aliasing"), a false dependency that slows the fastest
 * loops. `mem` receives what to free. */
static void **ptrs_alloc(const size_t *sizes, long n, void **mem)
{
    char *m = malloc(sizeof(void *) * (size_t)n + 4096);
    *mem = m;
    if (m == NULL) return NULL;
    uintptr_t want = ((uintptr_t)sizes + 2048) & 4095;
    return (void **)(m + ((want - (uintptr_t)m) & 4095 & ~(uintptr_t)7));
}

/* Before every timed pass, region or malloc: bring the size and pointer
 * arrays into the cache, so that no pass pays for what the one before it
 * (malloc's frees, say) evicted. */
static void warm_arrays(const size_t *sizes, void **ptrs, long n)
{
    size_t sum = 0;
    for (long i = 0; i < n; i++) {
        sum += sizes[i];
        ptrs[i] = NULL;
    }
    __asm__ volatile("" : : "r"(sum), "r"(ptrs) : "memory");
}

/* One timed pass of the region; fills *eff. */
static double time_region(const kv_arena_config_t *c, const size_t *sizes, void **ptrs, long n,
                          how_t how, eff_t *eff)
{
    kv_arena_t *r = kv_arena_create_ex(c);
    if (r == NULL) {
        perror("kv_arena_create_ex");
        exit(1);
    }
    warm_arrays(sizes, ptrs, n);
    double t0 = now_ns();
    if (how == HOW_INLINE)
        loop_region_inline(r, sizes, ptrs, n);
    else if (how == HOW_CALL)
        loop_region_call(r, sizes, ptrs, n);
    else
        loop_region_packed(r, sizes, ptrs, n);
    double t1 = now_ns();
    __asm__ volatile("" : : "r"(ptrs) : "memory");
    for (long i = 0; i < n; i++)
        if (ptrs[i] == NULL) {
            fprintf(stderr, "kv_arena_alloc failed\n");
            exit(1);
        }
    kv_arena_stats_t s;
    kv_arena_get_stats(r, &s);
    if (eff) {
        double req = (double)s.total_bytes_requested;
        eff->reserved = 100.0 * req / (double)s.bytes_reserved;
        eff->consumed = 100.0 * req / (req + (double)s.total_bytes_wasted);
    }
    kv_arena_destroy(r);
    return (t1 - t0) / (double)n;
}

static double time_malloc(const size_t *sizes, void **ptrs, long n)
{
    warm_arrays(sizes, ptrs, n);
    double t0 = now_ns();
    loop_malloc(sizes, ptrs, n);
    double t1 = now_ns();
    __asm__ volatile("" : : "r"(ptrs) : "memory");
    for (long i = 0; i < n; i++)
        free(ptrs[i]);
    return (t1 - t0) / (double)n;
}

enum { V_REGION, V_CALL, V_MALLOC, V_NOSTATS, V_TS, V_MULT8, V_PACKED, V_AFTER_MALLOC, V_COUNT };

static int single(long n, int reps)
{
    size_t *sizes = malloc(sizeof(size_t) * (size_t)n);
    size_t *sizes8 = malloc(sizeof(size_t) * (size_t)n);
    void *ptrs_mem;
    void **ptrs = sizes ? ptrs_alloc(sizes, n, &ptrs_mem) : NULL;
    double *t = malloc(sizeof(double) * (size_t)reps * V_COUNT);
    if (!sizes || !sizes8 || !ptrs || !t) return 1;
    make_sizes(sizes, n, 1);
    make_sizes(sizes8, n, 8);
    kv_arena_config_t st = KV_ARENA_CONFIG_INIT; /* = kv_arena_create(0) */
    kv_arena_config_t st_plain = st;
    st_plain.enable_detailed_stats = 0;
    kv_arena_config_t ts = st;
    ts.thread_mode = KV_ARENA_THREAD_SAFE;
    eff_t eff = {0, 0}, eff8 = {0, 0}, effp = {0, 0};
    /* Each variant runs once untimed, then `reps` times in a row: each is
     * measured warm, as the warm-heap malloc figure is. (Interleaved, a
     * region pass that follows a malloc pass finds the block layer's
     * metadata, which its chunk changes read, evicted by malloc's frees,
     * while a region pass leaves malloc's heap alone: V_AFTER_MALLOC
     * measures that case on its own.) */
    for (int v = 0; v < V_COUNT; v++) {
        for (int k = -1; k < reps; k++) {
            double x;
            switch (v) {
            case V_REGION:
                x = time_region(&st, sizes, ptrs, n, HOW_INLINE, &eff);
                break;
            case V_CALL:
                x = time_region(&st, sizes, ptrs, n, HOW_CALL, NULL);
                break;
            case V_MALLOC:
                x = time_malloc(sizes, ptrs, n);
                break;
            case V_NOSTATS:
                x = time_region(&st_plain, sizes, ptrs, n, HOW_INLINE, NULL);
                break;
            case V_TS:
                x = time_region(&ts, sizes, ptrs, n, HOW_INLINE, NULL);
                break;
            case V_MULT8:
                x = time_region(&st, sizes8, ptrs, n, HOW_INLINE, &eff8);
                break;
            case V_PACKED:
                x = time_region(&st, sizes, ptrs, n, HOW_ALIGNED, &effp);
                break;
            default: /* V_AFTER_MALLOC */
                time_malloc(sizes, ptrs, n);
                x = time_region(&st, sizes, ptrs, n, HOW_INLINE, NULL);
                break;
            }
            if (k >= 0) t[v * reps + k] = x;
        }
    }
    static const char *const names[V_COUNT] = {
        "region",         "region_call",        "malloc",
        "region_nostats", "region_threadsafe",  "region_mult8",
        "region_packed",  "region_after_malloc"};
    printf("allocations %ld\nrepetitions %d\n", n, reps);
    for (int v = 0; v < V_COUNT; v++) {
        printf("%s_ns %.3f\n", names[v], best(t + v * reps, reps));
        printf("%s_median_ns %.3f\n", names[v], median(t + v * reps, reps));
    }
    printf("efficiency_pct %.3f\n", eff.reserved);
    printf("efficiency_consumed_pct %.3f\n", eff.consumed);
    printf("efficiency_mult8_pct %.3f\n", eff8.reserved);
    printf("efficiency_mult8_consumed_pct %.3f\n", eff8.consumed);
    printf("efficiency_packed_pct %.3f\n", effp.reserved);
    printf("efficiency_packed_consumed_pct %.3f\n", effp.consumed);
    free(sizes);
    free(sizes8);
    free(ptrs_mem);
    free(t);
    return 0;
}

/* For instruction counts: two passes of each loop, defaults only. */
static int count(long n)
{
    size_t *sizes = malloc(sizeof(size_t) * (size_t)n);
    void *ptrs_mem;
    void **ptrs = sizes ? ptrs_alloc(sizes, n, &ptrs_mem) : NULL;
    if (!sizes || !ptrs) return 1;
    make_sizes(sizes, n, 1);
    kv_arena_config_t st = KV_ARENA_CONFIG_INIT;
    for (int k = 0; k < 2; k++) {
        time_region(&st, sizes, ptrs, n, HOW_INLINE, NULL);
        time_region(&st, sizes, ptrs, n, HOW_CALL, NULL);
        time_malloc(sizes, ptrs, n);
    }
    free(sizes);
    free(ptrs_mem);
    return 0;
}

/* ---- threads ---- */

typedef struct mt_arg_s {
    kv_arena_t *r; /* NULL: malloc */
    const size_t *sizes;
    void **ptrs;
    long n;
    pthread_barrier_t *go;
} mt_arg_t;

static void *mt_worker(void *p)
{
    mt_arg_t *a = p;
    pthread_barrier_wait(a->go);
    if (a->r != NULL)
        for (long i = 0; i < a->n; i++)
            a->ptrs[i] = kv_arena_alloc(a->r, a->sizes[i]);
    else
        for (long i = 0; i < a->n; i++)
            a->ptrs[i] = malloc(a->sizes[i]);
    return NULL;
}

static double mt_run(int threads, long n, const size_t *sizes, void ***ptrs, int region)
{
    kv_arena_config_t c = KV_ARENA_CONFIG_INIT;
    c.thread_mode = KV_ARENA_THREAD_SAFE;
    c.block_size = 1 << 20;
    kv_arena_t *r = region ? kv_arena_create_ex(&c) : NULL;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    pthread_t th[64];
    mt_arg_t args[64];
    for (int t = 0; t < threads; t++) {
        args[t] = (mt_arg_t){r, sizes, ptrs[t], n, &go};
        pthread_create(&th[t], NULL, mt_worker, &args[t]);
    }
    double t0 = now_ns();
    pthread_barrier_wait(&go);
    for (int t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    double t1 = now_ns();
    pthread_barrier_destroy(&go);
    if (region)
        kv_arena_destroy(r);
    else
        for (int t = 0; t < threads; t++)
            for (long i = 0; i < n; i++)
                free(ptrs[t][i]);
    return (t1 - t0) / (double)(n * threads);
}

static int multi(int threads, long n, int reps)
{
    if (threads < 1 || threads > 64) return 2;
    size_t *sizes = malloc(sizeof(size_t) * (size_t)n);
    void **ptrs[64];
    if (!sizes) return 1;
    make_sizes(sizes, n, 1);
    for (int t = 0; t < threads; t++)
        if (!(ptrs[t] = malloc(sizeof(void *) * (size_t)n))) return 1;
    double rt[64], mt[64];
    if (reps > 64) reps = 64;
    for (int k = 0; k < reps; k++) {
        rt[k] = mt_run(threads, n, sizes, ptrs, 1);
        mt[k] = mt_run(threads, n, sizes, ptrs, 0);
    }
    printf("threads %d\nallocations_per_thread %ld\n", threads, n);
    printf("region_threadsafe_wall_ns %.3f\n", median(rt, reps));
    printf("malloc_wall_ns %.3f\n", median(mt, reps));
    for (int t = 0; t < threads; t++)
        free(ptrs[t]);
    free(sizes);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "mt") == 0) {
        int threads = argc > 2 ? atoi(argv[2]) : 4;
        long n = argc > 3 ? atol(argv[3]) : 100000;
        return multi(threads, n, 9);
    }
    if (argc > 1 && strcmp(argv[1], "count") == 0) return count(argc > 2 ? atol(argv[2]) : 100000);
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int reps = argc > 2 ? atoi(argv[2]) : 7;
    if (n < 1 || reps < 1) {
        fprintf(
            stderr,
            "usage: bench_region [N [REPS]] | bench_region mt THREADS N | bench_region count N\n");
        return 2;
    }
    return single(n, reps);
}
