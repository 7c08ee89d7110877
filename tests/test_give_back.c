/*
 * Memory that is freed goes back, measured as a user would: resident memory
 * of the same program under glibc's malloc and under the library (this
 * binary again, run with and without LD_PRELOAD of the library whose path is
 * argv[1]). Built with -fno-builtin: the malloc/free pairs must happen.
 *
 *   worker      a thread allocates 4,000,000 objects of 100 bytes and exits;
 *               the main thread frees them all and calls malloc_trim(0)
 *   threads     200 threads allocate at once and exit; everything freed,
 *               then malloc_trim(0)
 *   destructor  threads whose first allocation happens in the last round of
 *               pthread key destructors: resident growth per 1,000 threads
 */
#include "test_util.h"

#include <malloc.h>
#include <pthread.h>
#include <limits.h>
#include <sys/mman.h>

#define WORKER_OBJECTS 4000000u
#define NTHREADS       200
#define THREAD_OBJECTS 2000

static void **objs;

static void *big_worker(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < WORKER_OBJECTS; i++) {
        objs[i] = malloc(100);
        if (objs[i] == NULL) abort();
        memset(objs[i], (int)i, 100);
    }
    return NULL;
}

static int child_worker(void)
{
    objs = mmap(NULL, WORKER_OBJECTS * sizeof(void *), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (objs == MAP_FAILED) return 2;
    pthread_t t;
    pthread_create(&t, NULL, big_worker, NULL);
    pthread_join(t, NULL);
    size_t peak = tu_rss();
    for (size_t i = 0; i < WORKER_OBJECTS; i++)
        free(objs[i]);
    malloc_trim(0);
    printf("peak %zu rss %zu\n", peak, tu_rss());
    return 0;
}

static pthread_barrier_t together;

static void *small_worker(void *arg)
{
    void **mine = arg;
    for (int i = 0; i < THREAD_OBJECTS; i++) {
        mine[i] = malloc(16 + (size_t)(i * 37) % 1000);
        if (mine[i] == NULL) abort();
        memset(mine[i], i, 16);
    }
    for (int i = 0; i < THREAD_OBJECTS; i += 2) { /* half freed here, half by main */
        free(mine[i]);
        mine[i] = NULL;
    }
    pthread_barrier_wait(&together); /* all 200 live at once */
    return NULL;
}

static int child_threads(void)
{
    static void *mine[NTHREADS][THREAD_OBJECTS];
    pthread_t t[NTHREADS];
    pthread_barrier_init(&together, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++)
        if (pthread_create(&t[i], NULL, small_worker, mine[i]) != 0) return 2;
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    size_t peak = tu_rss();
    for (int i = 0; i < NTHREADS; i++)
        for (int j = 0; j < THREAD_OBJECTS; j++)
            free(mine[i][j]);
    malloc_trim(0);
    printf("peak %zu rss %zu\n", peak, tu_rss());
    return 0;
}

/* ---- first allocation in the last round of key destructors ---- */

static pthread_key_t late_key;

static void late_destructor(void *value)
{
    uintptr_t round = (uintptr_t)value;
    if (round < PTHREAD_DESTRUCTOR_ITERATIONS) { /* ask to be called again */
        pthread_setspecific(late_key, (void *)(round + 1));
        return;
    }
    void *p = malloc(200); /* this thread's first allocation */
    if (p == NULL) abort();
    memset(p, 1, 200);
    free(p);
}

static void *late_thread(void *arg)
{
    (void)arg;
    pthread_setspecific(late_key, (void *)1); /* no allocation before the destructors */
    return NULL;
}

static void late_threads(int n)
{
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, late_thread, NULL) != 0) abort();
        pthread_join(t, NULL);
    }
}

static int child_destructor(void)
{
    pthread_key_create(&late_key, late_destructor);
    late_threads(1000); /* warm: thread stacks cached, arenas in place */
    size_t before = tu_rss();
    late_threads(3000);
    size_t after = tu_rss();
    printf("growth per 1000 threads %zd\n", ((ssize_t)after - (ssize_t)before) / 3);
    return 0;
}

/* ---- parent ---- */

static const char *library;

/* Run `mode` with or without the library; return the number after `key`. */
static long long run_mode(const char *mode, int preload, const char *key)
{
    static char out[8192];
    char env[4200];
    snprintf(env, sizeof(env), "LD_PRELOAD=%s", library);
    char *argv[] = {(char *)tu_self(), (char *)library, (char *)mode, NULL};
    const char *envs[] = {env, NULL};
    if (!preload) unsetenv("LD_PRELOAD");
    int st = tu_run(argv, preload ? envs : NULL, out, sizeof(out));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s (%s): status %#x\n%s", mode, preload ? "library" : "glibc", st, out);
    const char *at = strstr(out, key);
    if (at == NULL) fail_msg("%s: no '%s' in\n%s", mode, key, out);
    print_message("%s under %s: %s", mode, preload ? "the library" : "glibc", out);
    return atoll(at + strlen(key));
}

static void test_exited_worker(void **state)
{
    (void)state;
    long long glibc = run_mode("worker", 0, "rss ");
    long long ours = run_mode("worker", 1, "rss ");
    assert_true(ours * 2 <= glibc * 3); /* within 1.5x of glibc */
}

static void test_many_threads(void **state)
{
    (void)state;
    long long glibc = run_mode("threads", 0, "rss ");
    long long ours = run_mode("threads", 1, "rss ");
    assert_true(ours <= glibc + (16 << 20));
}

static void test_destructor_threads(void **state)
{
    (void)state;
    long long growth = run_mode("destructor", 1, "threads ");
    assert_true(growth < 200 * 1024);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBRARY [MODE]\n", argv[0]);
        return 2;
    }
    library = argv[1];
    if (argc > 2) {
        if (!strcmp(argv[2], "worker")) return child_worker();
        if (!strcmp(argv[2], "threads")) return child_threads();
        if (!strcmp(argv[2], "destructor")) return child_destructor();
        return 99;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exited_worker),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_destructor_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
