/*
 * Allocation micro-benchmarks written against plain malloc, so that one
 * binary measures whichever allocator LD_PRELOAD puts in front of it.
 *
 *   bench_malloc pairs THREADS N     malloc/free pairs, sizes 8..512 cycling
 *   bench_malloc batch THREADS N     100 mallocs then 100 frees, repeated
 *   bench_malloc prodcons N          one thread allocates, another frees
 *
 * Prints one line: the case, the thread count, and million operations per
 * second (an operation is one malloc plus its free).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const size_t sizes[] = {8, 16, 24, 32, 48, 64, 96, 128, 160, 256, 384, 512};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static long iterations;
static volatile unsigned char sink;

static void *pairs(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        unsigned char *p = malloc(sizes[i % NSIZES]);
        p[0] = (unsigned char)i;
        sink += p[0];
        free(p);
    }
    return NULL;
}

static void *batch(void *arg)
{
    (void)arg;
    void *ptrs[100];
    for (long i = 0; i < iterations / 100; i++) {
        for (int k = 0; k < 100; k++) {
            unsigned char *p = malloc(sizes[(i + k) % NSIZES]);
            p[0] = (unsigned char)k;
            ptrs[k] = p;
        }
        for (int k = 0; k < 100; k++)
            free(ptrs[k]);
    }
    return NULL;
}

#define RING 4096
static _Atomic(void *) ring[RING];

static void *producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        unsigned char *p = malloc(sizes[i % NSIZES]);
        p[0] = (unsigned char)i;
        _Atomic(void *) *slot = &ring[i % RING];
        while (atomic_load_explicit(slot, memory_order_acquire) != NULL) {
        }
        atomic_store_explicit(slot, p, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (long i = 0; i < iterations; i++) {
        _Atomic(void *) *slot = &ring[i % RING];
        void *p;
        while ((p = atomic_load_explicit(slot, memory_order_acquire)) == NULL) {
        }
        atomic_store_explicit(slot, NULL, memory_order_release);
        free(p);
    }
    return NULL;
}

static double run_threads(void *(*fn)(void *), int n)
{
    pthread_t t[64];
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, fn, NULL);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return now_s() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s pairs|batch THREADS N | prodcons N\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "prodcons") == 0) {
        iterations = atol(argv[2]);
        pthread_t p, c;
        double t0 = now_s();
        pthread_create(&c, NULL, consumer, NULL);
        pthread_create(&p, NULL, producer, NULL);
        pthread_join(p, NULL);
        pthread_join(c, NULL);
        double dt = now_s() - t0;
        printf("prodcons 2 %.3f\n", (double)iterations / dt / 1e6);
        return 0;
    }
    if (argc < 4) return 2;
    int threads = atoi(argv[2]);
    iterations = atol(argv[3]);
    if (threads < 1 || threads > 64 || iterations < 100) return 2;
    void *(*fn)(void *) = strcmp(mode, "pairs") == 0 ? pairs : batch;
    double dt = run_threads(fn, threads);
    printf("%s %d %.3f\n", mode, threads, (double)iterations * threads / dt / 1e6);
    return 0;
}
