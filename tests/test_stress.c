/*
 * Deterministic multi-threaded stress: random sizes from 1 byte to 1 MiB,
 * objects handed between threads and freed by others, a fill pattern checked
 * before every free; thread churn with objects outliving their threads; fork
 * from a multi-threaded process.
 *
 * Built twice: against the core (CA_CORE, ca_* names) and against plain
 * malloc, run under LD_PRELOAD=libconcordarena.so.
 */
#include "test_util.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#ifdef CA_CORE
#include "concord.h"
#define MALLOC  ca_malloc
#define FREE    ca_free
#define REALLOC ca_realloc
#define CALLOC  ca_calloc
#define TRIM()  ca_trim()
#else
#include <malloc.h>
#define MALLOC  malloc
#define FREE    free
#define REALLOC realloc
#define CALLOC  calloc
#define TRIM()  malloc_trim(0)
#endif

#define NSLOTS   1024
#define NTHREADS 4

typedef struct {
    pthread_mutex_t lock;
    unsigned char *p;
    size_t n;
} slot_t;

static slot_t slots[NSLOTS];

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Mostly small, sometimes medium, rarely up to 1 MiB. */
static size_t random_size(uint64_t *s)
{
    uint64_t r = rng_next(s);
    unsigned pick = (unsigned)(r % 100);
    if (pick < 85) return 1 + (size_t)(r >> 8) % 512;
    if (pick < 97) return 1 + (size_t)(r >> 8) % 65536;
    return 1 + (size_t)(r >> 8) % (1u << 20);
}

/* A medium or large object: 16 KiB to 528 KiB. */
static size_t big_size(uint64_t *s)
{
    return 16384 + (size_t)rng_next(s) % (1u << 19);
}

static unsigned char pattern(const unsigned char *p, size_t i)
{
    return (unsigned char)(((uintptr_t)p >> 4) * 131 + i * 7);
}

static void fill(unsigned char *p, size_t n)
{
    /* the whole object for small ones; the edges and a stride for big ones */
    if (n <= 4096) {
        for (size_t i = 0; i < n; i++)
            p[i] = pattern(p, i);
    } else {
        for (size_t i = 0; i < n; i += (i < 64 || i + 64 >= n) ? 1 : 509)
            p[i] = pattern(p, i);
    }
}

static int check(const unsigned char *p, size_t n)
{
    if (n <= 4096) {
        for (size_t i = 0; i < n; i++)
            if (p[i] != pattern(p, i)) return 0;
    } else {
        for (size_t i = 0; i < n; i += (i < 64 || i + 64 >= n) ? 1 : 509)
            if (p[i] != pattern(p, i)) return 0;
    }
    return 1;
}

static _Atomic long failures;

static void *worker(void *arg)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull * ((uintptr_t)arg + 1);
    unsigned char *local[64] = {0};
    size_t local_n[64] = {0};
    for (int it = 0; it < 60000; it++) {
        uint64_t r = rng_next(&seed);
        size_t n = random_size(&seed);
        unsigned char *p = (r & 7) == 0 ? CALLOC(1, n) : MALLOC(n);
        if (p == NULL) {
            atomic_fetch_add(&failures, 1);
            continue;
        }
        fill(p, n);
        if ((r >> 3) & 1) { /* hand it to whoever takes this slot next */
            slot_t *s = &slots[(r >> 4) % NSLOTS];
            pthread_mutex_lock(&s->lock);
            unsigned char *old = s->p;
            size_t old_n = s->n;
            s->p = p;
            s->n = n;
            pthread_mutex_unlock(&s->lock);
            if (old != NULL) {
                if (!check(old, old_n)) atomic_fetch_add(&failures, 1);
                FREE(old);
            }
        } else { /* keep it a while, maybe grow it */
            unsigned k = (unsigned)(r >> 16) % 64;
            if (local[k] != NULL) {
                if (!check(local[k], local_n[k])) atomic_fetch_add(&failures, 1);
                if ((r >> 24) % 4 == 0) {
                    size_t m = random_size(&seed);
                    uintptr_t was_addr = (uintptr_t)local[k];
                    unsigned char *q = REALLOC(local[k], m);
                    size_t keep = m < local_n[k] ? m : local_n[k];
                    for (size_t i = 0; i < keep && i < 64; i++) /* always filled */
                        if (q[i] != pattern((const unsigned char *)was_addr, i)) {
                            atomic_fetch_add(&failures, 1);
                            break;
                        }
                    fill(q, m);
                    local[k] = q;
                    local_n[k] = m;
                    FREE(p);
                    continue;
                }
                FREE(local[k]);
            }
            local[k] = p;
            local_n[k] = n;
        }
    }
    for (int k = 0; k < 64; k++) {
        if (local[k] && !check(local[k], local_n[k])) atomic_fetch_add(&failures, 1);
        FREE(local[k]);
    }
    return NULL;
}

static void test_cross_thread_stress(void **state)
{
    (void)state;
    for (int i = 0; i < NSLOTS; i++)
        pthread_mutex_init(&slots[i].lock, NULL);
    pthread_t t[NTHREADS];
    for (uintptr_t i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < NSLOTS; i++) {
        if (slots[i].p) {
            if (!check(slots[i].p, slots[i].n)) atomic_fetch_add(&failures, 1);
            FREE(slots[i].p);
            slots[i].p = NULL;
        }
    }
    assert_int_equal(atomic_load(&failures), 0);
}

/* ---- thread churn ---- */

#define CHURN_THREADS 2000
#define CHURN_KEEP    8

static unsigned char *survivors[CHURN_THREADS][CHURN_KEEP];
static size_t survivor_n[CHURN_THREADS][CHURN_KEEP];

static void *churn_worker(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    uint64_t seed = 0xD1B54A32D192ED03ull * (id + 1);
    unsigned char *tmp[32];
    size_t tmp_n[32];
    for (int i = 0; i < 32; i++) {
        tmp_n[i] = random_size(&seed) % 4096 + 1;
        tmp[i] = MALLOC(tmp_n[i]);
        fill(tmp[i], tmp_n[i]);
    }
    for (int i = 0; i < CHURN_KEEP; i++) { /* these outlive the thread */
        survivors[id][i] = tmp[i];
        survivor_n[id][i] = tmp_n[i];
    }
    for (int i = CHURN_KEEP; i < 32; i++) {
        if (!check(tmp[i], tmp_n[i])) atomic_fetch_add(&failures, 1);
        FREE(tmp[i]);
    }
    /* free what an earlier thread left behind: remote frees into parked arenas */
    if (id >= 100 && (id % 3) == 0) {
        uintptr_t old = id - 100;
        for (int i = 0; i < CHURN_KEEP; i++) {
            if (!check(survivors[old][i], survivor_n[old][i])) atomic_fetch_add(&failures, 1);
            FREE(survivors[old][i]);
            survivors[old][i] = NULL;
        }
    }
    return NULL;
}

static void test_thread_churn(void **state)
{
    (void)state;
    for (uintptr_t base = 0; base < CHURN_THREADS; base += 4) {
        pthread_t t[4];
        /* one batch at a time, so the old-survivor frees never race a writer */
        for (uintptr_t i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, churn_worker, (void *)(base + i));
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    }
    for (int id = 0; id < CHURN_THREADS; id++)
        for (int i = 0; i < CHURN_KEEP; i++)
            if (survivors[id][i]) {
                if (!check(survivors[id][i], survivor_n[id][i])) atomic_fetch_add(&failures, 1);
                FREE(survivors[id][i]);
            }
    assert_int_equal(atomic_load(&failures), 0);
}

/* ---- fork from a multi-threaded process ---- */

static _Atomic int stop_background;

static void *background(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 7919 + 1;
    while (!atomic_load_explicit(&stop_background, memory_order_relaxed)) {
        void *ps[16];
        for (int i = 0; i < 16; i++)
            ps[i] = MALLOC(random_size(&seed));
        for (int i = 0; i < 16; i++)
            FREE(ps[i]);
    }
    return NULL;
}

/* A thread that fills a few medium and large objects, frees them and ends:
 * its blocks go back to their node (their pages at once, or into the node
 * cache once an ended thread's arena was adopted), and the purge gives the
 * cache's pages back, partly outside the node lock, where a fork can stop
 * them. The children check that no block is handed out twice; that none is
 * lost is test_purge's test_fork_keeps_released_blocks. */
static void *short_lived(void *arg)
{
    uint64_t seed = (uintptr_t)arg * 104729 + 3;
    unsigned char *ps[8];
    size_t ns[8];
    for (int i = 0; i < 8; i++) {
        ns[i] = big_size(&seed);
        if ((ps[i] = MALLOC(ns[i])) != NULL) fill(ps[i], ns[i]);
    }
    for (int i = 0; i < 8; i++)
        if (ps[i] != NULL) {
            if (!check(ps[i], ns[i])) atomic_fetch_add(&failures, 1);
            FREE(ps[i]);
        }
    return NULL;
}

static void *exiters(void *arg)
{
    (void)arg;
    for (uintptr_t n = 0; !atomic_load_explicit(&stop_background, memory_order_relaxed); n++) {
        pthread_t t;
        if (pthread_create(&t, NULL, short_lived, (void *)n) == 0) pthread_join(t, NULL);
    }
    return NULL;
}

/* In a child: fill objects of every size, give back what is cached
 * (malloc_trim), fill as many again, and check them all. A block the child
 * took for free while something held it would be given back or handed out
 * twice, and some pattern would break. */
static int child_work(uint64_t seed)
{
    enum { N = 200 };
    unsigned char *ps[2 * N];
    size_t ns[2 * N];
    for (int i = 0; i < 2 * N; i++) {
        if (i == N) TRIM();
        ns[i] = i % 10 == 0 ? big_size(&seed) : random_size(&seed);
        if ((ps[i] = MALLOC(ns[i])) == NULL) return 2;
        fill(ps[i], ns[i]);
    }
    for (int i = 0; i < 2 * N; i++) {
        if (!check(ps[i], ns[i])) return 3;
        FREE(ps[i]);
    }
    TRIM();
    return 0;
}

static void test_fork_multithreaded(void **state)
{
    (void)state;
    pthread_t t[4];
    for (uintptr_t i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, background, (void *)i);
    pthread_create(&t[3], NULL, exiters, NULL);
    for (int round = 0; round < 50; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            alarm(60); /* a heap the fork broke may loop: fail, do not hang */
            _exit(child_work(42 + (uint64_t)round));
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    atomic_store(&stop_background, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&failures), 0);
}

#ifndef CA_CORE
static void test_served_by_library(void **state)
{
    (void)state;
    Dl_info info;
    void *(*volatile fn)(size_t) = malloc;
    assert_true(dladdr((void *)fn, &info) != 0);
    assert_non_null(info.dli_fname);
    assert_non_null(strstr(info.dli_fname, "libconcordarena"));
    struct mallinfo2 mi = mallinfo2();
    assert_true(mi.arena > 0); /* our segment bytes, not glibc's arena */
    /* mallinfo2 answers from the same counters as the statistics */
    void *ps[1000];
    for (int i = 0; i < 1000; i++)
        ps[i] = malloc(1000);
    struct mallinfo2 grown = mallinfo2();
    assert_true(grown.uordblks >= mi.uordblks + 1000 * 1000);
    for (int i = 0; i < 1000; i++)
        free(ps[i]);
    struct mallinfo2 back = mallinfo2();
    assert_int_equal(back.uordblks, mi.uordblks);
    assert_int_equal(malloc_trim(0), 1);
    assert_int_equal(mallinfo2().ordblks, 0); /* node caches emptied */
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#ifndef CA_CORE
        cmocka_unit_test(test_served_by_library),
#endif
        cmocka_unit_test(test_cross_thread_stress),
        cmocka_unit_test(test_thread_churn),
        cmocka_unit_test(test_fork_multithreaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
