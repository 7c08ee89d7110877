/*
 * Idle memory is purged and dumps never hang:
 *   - blocks past the cache bound are given back by the next slow path of
 *     any thread once the delay has passed (malloc's or free's), with time
 *     moved on through the platform clock's test hook;
 *   - with CONCORD_ARENA_BACKGROUND_PURGE=1 a process that goes fully idle
 *     gives them back by itself;
 *   - a dump interrupted on its own thread (a signal handler that calls
 *     exit() while malloc_stats() writes) is skipped, not waited for;
 *   - aligned objects freed and measured by another thread (ThreadSanitizer
 *     runs this file too);
 *   - blocks given back lazily (a parked arena reclaimed) wait for the next
 *     purge tick even past the cache's hard bound; others past it are purged
 *     at once;
 *   - the blocks a thread still holds when it ends are decommitted at once,
 *     until a new thread has adopted a parked arena (threads churn): from
 *     then on they wait in the cache for the next thread;
 *   - objects of a thread that ended, or of the fallback arena (allocations
 *     in a TLS destructor that runs after the library's), freed by another
 *     thread: the frees arm the purge tick, which brings their blocks back
 *     to the node with no further allocation by their arena; malloc_trim
 *     brings back the fallback arena's too; a thread that adopts such an
 *     arena before the tick collects them at once.
 */
#include "test_util.h"
#include "core_util.h"

#include "arena.h"
#include "concord.h"
#include "options.h"
#include "os.h"
#include "segment.h"

void ca_purge_tick(void);

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#define NOBJ (400 * 64) /* 1000-byte objects: 400 blocks of 64 KiB */

static void **objs;

/* Fill about 400 blocks, then free all but one object in 16 blocks. */
static void fill_and_free_most(void)
{
    objs = calloc(NOBJ, sizeof(void *));
    assert_non_null(objs);
    for (int i = 0; i < NOBJ; i++) {
        objs[i] = ca_malloc(1000);
        assert_non_null(objs[i]);
        memset(objs[i], 1, 1000);
    }
    for (int i = 0; i < NOBJ; i++)
        if (i % (NOBJ / 16) != 0) {
            ca_free(objs[i]);
            objs[i] = NULL;
        }
}

static void test_slow_path_purges_when_due(void **state)
{
    (void)state;
    fill_and_free_most();
    uint64_t before = tu_cached();
    print_message("cached after the frees: %llu blocks\n", (unsigned long long)before);
    assert_true(before > ca_cfg.cache_blocks); /* waiting out the delay */
    /* Time passes; the next slow path of malloc (a size never used yet) purges. */
    atomic_fetch_add(&ca_os_clock_skew_ms, 1000);
    void *p = ca_malloc(7000);
    assert_non_null(p);
    uint64_t after = tu_cached();
    print_message("cached after a slow path: %llu blocks\n", (unsigned long long)after);
    assert_true(after <= ca_cfg.cache_blocks);
    ca_free(p);
    for (int i = 0; i < NOBJ; i++)
        ca_free(objs[i]);
    free(objs);
}

/* Nine pages of every other page of a mapping given back in one call: each
 * reads as zero after, the pages between keep their bytes; with the fifth
 * unmapped, its error comes back and the four after it go all the same. */
static void check_decommit_ranges(void)
{
    size_t ps = ca_os_page_size();
    enum { N = 9 };
    char *m = mmap(NULL, 2 * N * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    struct iovec v[N];
    for (int i = 0; i < N; i++)
        v[i] = (struct iovec){m + 2 * (size_t)i * ps, ps};
    memset(m, 7, 2 * N * ps);
    assert_int_equal(ca_os_decommit_ranges(v, N), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(m[2 * i * ps], 0);
        assert_int_equal(m[(2 * i + 1) * ps - 1], 0);
        assert_int_equal(m[(2 * i + 1) * ps], 7);
    }
    memset(m, 7, 2 * N * ps);
    assert_int_equal(munmap(m + 8 * ps, ps), 0); /* range 4 */
    assert_int_equal(ca_os_decommit_ranges(v, N), ENOMEM);
    for (int i = 0; i < N; i++) {
        if (i == 4) continue;
        assert_int_equal(m[2 * i * ps], 0);
        assert_int_equal(m[(2 * i + 1) * ps], 7);
    }
    munmap(m, 8 * ps);
    munmap(m + 9 * ps, (2 * N - 9) * ps);
}

static void test_decommit_ranges(void **state)
{
    (void)state;
    check_decommit_ranges(); /* one process_madvise where the kernel takes it */
    print_message("one call for many ranges: %s\n",
                  atomic_load(&ca_os_no_vector) ? "not taken here" : "taken");
    int was = atomic_exchange(&ca_os_no_vector, 1);
    check_decommit_ranges(); /* one madvise a range */
    atomic_store(&ca_os_no_vector, was);
}

/* More spans than a release batch holds, of 1 to 3 blocks, given back with
 * CA_GIVE_RELEASE through one batch (it flushes itself when full): every
 * block is counted as decommitted, and none has a page resident after
 * (mincore; a segment that became empty may be unmapped altogether). */
static void test_release_batch(void **state)
{
    (void)state;
    enum { SPANS = 3 * CA_RELEASE_BATCH / 2 };
    static ca_block_t *span[SPANS];
    static uint32_t len[SPANS];
    ca_trim();
    uint64_t blocks = 0, dec0 = tu_totals().blocks_decommitted;
    for (int i = 0; i < SPANS; i++) {
        int reused = 0;
        len[i] = 1 + (uint32_t)i % 3;
        span[i] = ca_node_take(0, len[i], &reused);
        assert_non_null(span[i]);
        for (uint32_t k = 0; k < len[i]; k++)
            memset(ca_block_start(span[i] + k), 1, 64); /* resident */
        blocks += len[i];
    }
    ca_release_t r = {.count = 0};
    for (int i = 0; i < SPANS; i++)
        ca_release_add(&r, span[i], len[i]);
    ca_release_flush(&r);
    assert_int_equal(r.count, 0);
    assert_int_equal(tu_totals().blocks_decommitted - dec0, blocks);
    size_t ps = ca_os_page_size();
    for (int i = 0; i < SPANS; i++)
        for (uint32_t k = 0; k < len[i]; k++) {
            unsigned char in = 0;
            void *page = (void *)((uintptr_t)ca_block_start(span[i] + k) & ~(uintptr_t)(ps - 1));
            if (mincore(page, ps, &in) == 0)
                assert_int_equal(in & 1, 0);
            else
                assert_int_equal(errno, ENOMEM); /* its segment is gone */
        }
}

/* A fork while another thread's release batch holds spans (marked free, not
 * yet handed to their node: its pages are being given back) must not lose
 * them in the child, where that thread does not exist: the child's fork
 * handler finds every block marked free that no node holds and puts it in
 * its node's cache. The batch here is this thread's, left unflushed across
 * the fork, as the other thread's would be. The last span is a whole
 * segment, which its node counts as full until the span comes back. */
enum { LOST_SPANS = 12 };
static ca_block_t *lost_span[LOST_SPANS];
static uint32_t lost_len[LOST_SPANS];

static int lost_blocks_cached(void)
{
    for (int i = 0; i < LOST_SPANS; i++)
        for (uint32_t k = 0; k < lost_len[i]; k++)
            if (lost_span[i][k].kind != CA_BLOCK_FREE || !lost_span[i][k].dirty) return 1;
    if (atomic_load(&ca_purge_due) == 0) return 3; /* their pages go after the delay */
    /* and the node hands them out again */
    for (int i = 0; i < LOST_SPANS; i++) {
        int reused = 0;
        ca_block_t *b = ca_node_take(0, 1, &reused);
        if (b == NULL || !reused) return 2;
    }
    return 0;
}

static void test_fork_keeps_released_blocks(void **state)
{
    (void)state;
    ca_trim();
    for (int i = 0; i < LOST_SPANS; i++) {
        int reused = 0;
        lost_len[i] = i == LOST_SPANS - 1 ? CA_SEG_BLOCKS - 1 : 1 + (uint32_t)i % 3;
        lost_span[i] = ca_node_take(0, lost_len[i], &reused);
        assert_non_null(lost_span[i]);
    }
    ca_release_t r = {.count = 0};
    for (int i = 0; i < LOST_SPANS; i++)
        ca_release_add(&r, lost_span[i], lost_len[i]);
    atomic_store(&ca_purge_due, 0); /* nothing armed */
    assert_int_equal(tu_in_child(lost_blocks_cached), 0);
    for (int i = 0; i < LOST_SPANS; i++) /* the parent's batch still holds them */
        assert_int_equal(lost_span[i]->dirty, 0);
    ca_release_flush(&r);
}

/* `n` single blocks of node 0, taken and given back, lazily or not. */
#define NGIVE 1400
static ca_block_t *given[NGIVE];

static void take_blocks(void)
{
    for (int i = 0; i < NGIVE; i++) {
        int reused = 0;
        given[i] = ca_node_take(0, 1, &reused);
        assert_non_null(given[i]);
    }
}

static void test_lazy_give_waits_for_the_tick(void **state)
{
    (void)state;
    ca_trim(); /* an empty cache to start from */
    uint64_t start = tu_cached();
    take_blocks();
    for (int i = 0; i < NGIVE; i++)
        ca_node_give_to(given[i], 1, CA_GIVE_LAZY);
    uint64_t lazy = tu_cached();
    print_message("cached after lazy gives: %llu blocks\n", (unsigned long long)lazy);
    assert_int_equal(lazy, start + NGIVE); /* nothing purged yet, past every bound */
    ca_purge_tick();                       /* due at once */
    uint64_t ticked = tu_cached();
    print_message("after the tick: %llu\n", (unsigned long long)ticked);
    assert_true(ticked < lazy);
    assert_true(ticked <= NGIVE / 2 + 64);

    /* The same given back eagerly: the excess goes at once. */
    ca_trim();
    take_blocks();
    for (int i = 0; i < NGIVE; i++)
        ca_node_give(given[i], 1);
    uint64_t eager = tu_cached();
    print_message("cached after eager gives: %llu\n", (unsigned long long)eager);
    assert_true(eager < start + NGIVE);
    ca_trim();
}

/* A thread that allocates 40 sizes of 24 to 960 bytes (25 size classes, a
 * block each), frees everything and ends: the blocks stay its bins' own
 * until the end. */
static void *forty_classes(void *arg)
{
    (void)arg;
    void *p[40];
    for (int i = 0; i < 40; i++) {
        p[i] = ca_malloc((size_t)(i + 1) * 24);
        if (p[i] == NULL) return NULL;
        memset(p[i], 1, (size_t)(i + 1) * 24);
    }
    for (int i = 0; i < 40; i++)
        ca_free(p[i]);
    return arg;
}

static int run_forty(void)
{
    pthread_t t;
    void *ok = NULL;
    if (pthread_create(&t, NULL, forty_classes, &ok) != 0) return 0;
    pthread_join(t, &ok);
    return ok != NULL;
}

/* Child (a fresh process: no thread has ended yet). Prints what each of two
 * threads' ends did with their blocks. */
static int child_exit_release(void)
{
    ca_totals_t t0 = tu_totals();
    if (!run_forty()) return 3;
    ca_totals_t t1 = tu_totals(); /* the first thread's arena is parked */
    if (!run_forty()) return 4;   /* the second adopts it */
    ca_totals_t t2 = tu_totals();
    printf("first: decommitted %llu cached %lld\n",
           (unsigned long long)(t1.blocks_decommitted - t0.blocks_decommitted),
           (long long)(t1.blocks_cached - t0.blocks_cached));
    printf("second: decommitted %llu cached %lld\n",
           (unsigned long long)(t2.blocks_decommitted - t1.blocks_decommitted),
           (long long)(t2.blocks_cached - t1.blocks_cached));
    return 0;
}

static void test_exit_releases(void **state)
{
    (void)state;
    char out[4096];
    tu_run_self_ok("exit-release", NULL, out, sizeof(out));
    unsigned long long dec1, dec2;
    long long cached1, cached2;
    assert_int_equal(
        sscanf(strstr(out, "first:"), "first: decommitted %llu cached %lld", &dec1, &cached1), 2);
    assert_int_equal(
        sscanf(strstr(out, "second:"), "second: decommitted %llu cached %lld", &dec2, &cached2), 2);
    /* The first thread's blocks go back to the OS, none waits in the cache. */
    assert_true(dec1 >= 20);
    assert_true(cached1 <= 0);
    /* The second thread came after an end: its blocks wait for the next. */
    assert_true(cached2 >= 20);
    assert_true(dec2 < 5);
}

/* Child: frees most, then idles until the purger has brought the cache down
 * to its bound (the parent's timeout ends a child that never gets there). */
static int child_background(void)
{
    fill_and_free_most();
    if (tu_cached() <= ca_cfg.cache_blocks) return 3; /* nothing would be left to show */
    struct timespec pause = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 3000; i++) {
        if (tu_cached() <= ca_cfg.cache_blocks) {
            printf("purged by the background thread\n");
            return 0;
        }
        nanosleep(&pause, NULL); /* idle: no allocator call here */
    }
    return 4;
}

static void test_background_purge(void **state)
{
    (void)state;
    char out[4096];
    tu_run_self_ok("background", "CONCORD_ARENA_BACKGROUND_PURGE=1", out, sizeof(out));
    assert_non_null(strstr(out, "purged by the background thread"));
}

/* ---- a dump interrupted on its own thread ---- */

static void exit_now(int sig)
{
    (void)sig;
    exit(0); /* runs the at-exit dump while malloc_stats' dump is mid-write */
}

static pid_t main_tid;

/* Wait until the main thread sleeps in write(2), then signal it. */
static void *interrupter(void *arg)
{
    (void)arg;
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)main_tid);
    struct timespec pause = {0, 1000 * 1000};
    for (;;) {
        int fd = open(path, O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
        if (fd >= 0) close(fd);
        if (n > 0 && buf[0] == '1' && buf[1] == ' ') break; /* syscall 1: write */
        nanosleep(&pause, NULL);
    }
    syscall(SYS_tgkill, getpid(), main_tid, SIGUSR2);
    return NULL;
}

static int child_exit_during_dump(void)
{
    main_tid = (pid_t)syscall(SYS_gettid);
    signal(SIGUSR2, exit_now);
    void *p = ca_malloc(100);
    int fds[2];
    if (pipe(fds) != 0) return 2;
    fcntl(fds[1], F_SETPIPE_SZ, 4096);
    char fill[4096];
    memset(fill, 'x', sizeof(fill));
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    while (write(fds[1], fill, sizeof(fill)) > 0) {
    }
    fcntl(fds[1], F_SETFL, 0); /* full: the dump's write blocks */
    pthread_t t;
    pthread_create(&t, NULL, interrupter, NULL);
    pthread_detach(t);
    ca_stats_dump(fds[1], 0); /* never returns: the handler exits */
    ca_free(p);
    return 5;
}

static void test_exit_during_dump(void **state)
{
    (void)state;
    char out[1 << 16];
    /* exit() from a handler is the program's own choice here: ThreadSanitizer
     * is told not to report it. */
    char *argv[] = {(char *)tu_self(), "exit-during-dump", NULL};
    const char *env[] = {"CONCORD_ARENA_STATS_AT_EXIT=1", "TSAN_OPTIONS=report_signal_unsafe=0",
                         NULL};
    int st = tu_run(argv, env, out, sizeof(out));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_null(strstr(out, "=== concordarena statistics")); /* the at-exit dump was skipped */
}

/* ---- aligned objects across threads ----
 * One thread allocates aligned objects while another frees and measures the
 * ones handed over (each through a locked queue): allocations into a block
 * run alongside frees of its earlier objects. */

#define NALIGNED 20000
#define QUEUE    64
static void *queue[QUEUE];
static size_t queue_size[QUEUE];
static unsigned q_head, q_tail;
static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;

static void *free_aligned(void *arg)
{
    (void)arg;
    uintptr_t bad = 0;
    for (int i = 0; i < NALIGNED; i++) {
        pthread_mutex_lock(&q_lock);
        while (q_head == q_tail)
            pthread_cond_wait(&q_cond, &q_lock);
        void *p = queue[q_tail % QUEUE];
        size_t n = queue_size[q_tail % QUEUE];
        q_tail++;
        pthread_cond_broadcast(&q_cond);
        pthread_mutex_unlock(&q_lock);
        if (ca_malloc_usable_size(p) < n || ((unsigned char *)p)[n - 1] != 7) bad++;
        ca_free(p);
    }
    return (void *)bad;
}

static void test_aligned_cross_thread(void **state)
{
    (void)state;
    pthread_t t;
    pthread_create(&t, NULL, free_aligned, NULL);
    for (int i = 0; i < NALIGNED; i++) {
        size_t align = (size_t)32 << (i % 6);
        size_t n = 16 + (size_t)(i * 53) % 3000;
        void *p = ca_memalign(align, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        memset(p, 7, n);
        pthread_mutex_lock(&q_lock);
        while (q_head - q_tail == QUEUE)
            pthread_cond_wait(&q_cond, &q_lock);
        queue[q_head % QUEUE] = p;
        queue_size[q_head % QUEUE] = n;
        q_head++;
        pthread_cond_broadcast(&q_cond);
        pthread_mutex_unlock(&q_lock);
    }
    void *bad = NULL;
    pthread_join(t, &bad);
    assert_null(bad);
    assert_int_equal(ca_invalid_pointer_count(), 0);
}

/* ---- freed huge mappings are reused, then decay ---- */

static void test_huge_cache(void **state)
{
    (void)state;
    ca_trim();
    size_t big = ca_cfg.seg_size * 3; /* a mapping of its own */
    unsigned char *p = ca_malloc(big);
    assert_non_null(p);
    memset(p, 0xab, big);
    ca_free(p);
    ca_totals_t t0 = tu_totals();
    assert_true(t0.huge_cached_bytes >= big);
    /* the same size again: the cached mapping, no new one */
    unsigned char *q = ca_calloc(1, big);
    assert_non_null(q);
    ca_totals_t t1 = tu_totals();
    assert_int_equal(t1.huge_maps, t0.huge_maps);
    assert_int_equal(t1.huge_reused, t0.huge_reused + 1);
    assert_int_equal(t1.huge_cached_bytes, 0);
    for (size_t i = 0; i < big; i += 4093)
        assert_int_equal(q[i], 0); /* calloc zeroes a reused mapping */
    memset(q, 0xcd, big);
    ca_free(q);
    /* smaller (its tail goes) and larger (grown in place or moved) */
    unsigned char *small = ca_malloc(big / 2);
    assert_non_null(small);
    assert_true(ca_malloc_usable_size(small) >= big / 2);
    assert_true(ca_malloc_usable_size(small) < big / 2 + ca_os_page_size() * 2);
    memset(small, 1, big / 2);
    ca_free(small);
    unsigned char *large = ca_malloc(big * 2);
    assert_non_null(large);
    assert_true(ca_malloc_usable_size(large) >= big * 2);
    memset(large, 2, big * 2);
    assert_int_equal(tu_totals().huge_reused, t0.huge_reused + 3);
    ca_free(large);
    assert_true(tu_totals().huge_cached_bytes >= big * 2);
    /* unused past the delay: the next slow path unmaps it */
    atomic_fetch_add(&ca_os_clock_skew_ms, 5000);
    void *slow = ca_malloc(9000);
    assert_int_equal(tu_totals().huge_cached_bytes, 0);
    ca_free(slow);
    /* malloc_trim empties the cache at once */
    ca_free(ca_malloc(big));
    assert_true(tu_totals().huge_cached_bytes > 0);
    ca_trim();
    assert_int_equal(tu_totals().huge_cached_bytes, 0);
}

/* ---- frees into arenas that allocate no more ---- */

/* Fill about 400 blocks with 1000-byte objects; `arg` back when all came. */
static void *alloc_all(void *arg)
{
    for (int i = 0; i < NOBJ; i++) {
        objs[i] = ca_malloc(1000);
        if (objs[i] == NULL) return NULL;
        memset(objs[i], 1, 1000);
    }
    return arg;
}

/* Blocks the node caches received, cumulatively (cached now, or given back
 * to the OS since). */
static uint64_t node_blocks(void)
{
    ca_totals_t t = tu_totals();
    return t.blocks_cached + t.blocks_decommitted;
}

/* A thread runs `fill` (objs[]) and ends, its arena parked with the blocks
 * full; this thread (an arena of its own: the frees are remote) frees every
 * object of objs[]. `before`: node_blocks() before the frees. 0, or what
 * failed. */
static int fill_park_and_free(void *(*fill)(void *), uint64_t *before)
{
    ca_free(ca_malloc(1));
    objs = calloc(NOBJ, sizeof(void *));
    pthread_t t;
    void *ok = NULL;
    if (objs == NULL || pthread_create(&t, NULL, fill, &ok) != 0) return 2;
    pthread_join(t, &ok);
    if (ok == NULL) return 3;
    *before = node_blocks();
    for (int i = 0; i < NOBJ; i++)
        ca_free(objs[i]);
    return 0;
}

/* Child: a thread fills about 400 blocks and ends (its arena is parked with
 * them full); this thread frees every object, then a slow path comes after
 * the delay, while the arenas lock is held (this thread's own), and again
 * after another delay. */
static int child_parked_tick(void)
{
    uint64_t before;
    int bad = fill_park_and_free(alloc_all, &before);
    if (bad) return bad;
    unsigned armed = atomic_load(&ca_purge_due) != 0;
    atomic_fetch_add(&ca_os_clock_skew_ms, 1000);
    ca_arenas_lock();
    ca_purge_tick(); /* what the next slow path of any thread runs */
    ca_arenas_unlock();
    unsigned rearmed = atomic_load(&ca_purge_due) != 0;
    uint64_t busy = node_blocks() - before;
    atomic_fetch_add(&ca_os_clock_skew_ms, 1000);
    ca_purge_tick();
    printf(
        "armed %u, blocks back %llu with the lock held (armed again %u), %llu at the next tick\n",
        armed, (unsigned long long)busy, rearmed, (unsigned long long)(node_blocks() - before));
    free(objs);
    return 0;
}

/* Child: as above, then this thread allocates as much again at once, no
 * time passing: its first block taken fresh brings the parked arena's
 * emptied blocks back, and the rest reuse them. */
static int child_reclaim_before_growing(void)
{
    uint64_t before;
    int bad = fill_park_and_free(alloc_all, &before);
    if (bad) return bad;
    uint64_t fresh = tu_totals().blocks_fresh;
    if (alloc_all(&bad) == NULL) return 4;
    printf("blocks taken fresh %llu\n", (unsigned long long)(tu_totals().blocks_fresh - fresh));
    for (int i = 0; i < NOBJ; i++)
        ca_free(objs[i]);
    free(objs);
    return 0;
}

/* Run this program as `mode` and read the one figure of its output:
 * `format` is its first line, with one %llu. */
static unsigned long long child_figure(const char *mode, const char *format)
{
    char out[4096];
    tu_run_self_ok(mode, NULL, out, sizeof(out));
    unsigned long long v;
    assert_int_equal(sscanf(out, format, &v), 1);
    return v;
}

static void test_reclaim_before_growing(void **state)
{
    (void)state;
    unsigned long long fresh = child_figure("reclaim-fresh", "blocks taken fresh %llu");
    assert_true(fresh <= 4); /* not the 400 blocks again, nor 31 up to the next 32nd */
}

static void test_parked_frees_arm_the_tick(void **state)
{
    (void)state;
    char out[4096];
    tu_run_self_ok("parked-tick", NULL, out, sizeof(out));
    unsigned armed, rearmed;
    unsigned long long busy, back;
    assert_int_equal(
        sscanf(out,
               "armed %u, blocks back %llu with the lock held (armed again %u), %llu at "
               "the next tick",
               &armed, &busy, &rearmed, &back),
        4);
    assert_int_equal(armed, 1);
    assert_int_equal(busy, 0);
    assert_int_equal(rearmed, 1);
    assert_true(back >= 390); /* the 400 blocks, less any the arena keeps */
}

/* alloc_all, and one object more, which stays: the class's current block
 * then has free slots, so a malloc of the class need not refill. */
static void *one_more;

static void *alloc_all_and_one(void *arg)
{
    one_more = ca_malloc(1000);
    return alloc_all(arg) != NULL && one_more != NULL ? arg : NULL;
}

/* One allocation (its arena: the parked one, no refill), then hold it until
 * told. */
static pthread_barrier_t adopted;

static void *adopt_and_wait(void *arg)
{
    void *p = ca_malloc(1000);
    pthread_barrier_wait(&adopted);
    pthread_barrier_wait(&adopted);
    ca_free(p);
    return arg;
}

/* Child: as child_parked_tick, but a new thread adopts the parked arena
 * right after the frees, before the tick is due, and then waits. */
static int child_adopt(void)
{
    uint64_t before;
    int bad = fill_park_and_free(alloc_all_and_one, &before);
    if (bad) return bad;
    pthread_t t;
    pthread_barrier_init(&adopted, NULL, 2);
    if (pthread_create(&t, NULL, adopt_and_wait, NULL) != 0) return 4;
    pthread_barrier_wait(&adopted);
    printf("blocks back after the adoption %llu\n", (unsigned long long)(node_blocks() - before));
    pthread_barrier_wait(&adopted);
    pthread_join(t, NULL);
    ca_free(one_more);
    free(objs);
    return 0;
}

static void test_adoption_collects(void **state)
{
    (void)state;
    unsigned long long back = child_figure("adopt", "blocks back after the adoption %llu");
    assert_true(back >= 390); /* the 400 blocks, less the 4 an arena keeps and the current one */
}

static pthread_key_t late_key;

/* Runs after the library's own key destructor: served by the fallback. */
static void late_alloc(void *arg)
{
    (void)arg;
    alloc_all(NULL);
}

static void *late_thread(void *arg)
{
    ca_free(ca_malloc(10)); /* an arena of its own first, parked at its end */
    pthread_setspecific(late_key, (void *)1);
    return arg;
}

/* Bytes of blocks the fallback arena holds, in blocks. */
static long long fallback_blocks(void)
{
    return (long long)(ca_arena_fallback->stats.held >> ca_cfg.block_shift);
}

/* Child: the fallback arena fills about 400 blocks; this thread frees half
 * the objects (a tick after the delay), then the rest (malloc_trim). */
static int child_fallback(void)
{
    ca_free(ca_malloc(1)); /* the library's key first: its destructor runs first */
    objs = calloc(NOBJ, sizeof(void *));
    pthread_t t;
    if (objs == NULL || pthread_key_create(&late_key, late_alloc) != 0 ||
        pthread_create(&t, NULL, late_thread, NULL) != 0)
        return 2;
    pthread_join(t, NULL);
    if (objs[NOBJ - 1] == NULL) return 3;
    long long full = fallback_blocks();
    for (int i = 0; i < NOBJ / 2; i++)
        ca_free(objs[i]);
    atomic_fetch_add(&ca_os_clock_skew_ms, 1000);
    ca_purge_tick();
    long long half = fallback_blocks();
    for (int i = NOBJ / 2; i < NOBJ; i++)
        ca_free(objs[i]);
    ca_trim();
    printf("fallback blocks: %lld full, %lld after half and a tick, %lld after malloc_trim\n", full,
           half, fallback_blocks());
    free(objs);
    return 0;
}

static void test_fallback_gives_back(void **state)
{
    (void)state;
    char out[4096];
    tu_run_self_ok("fallback", NULL, out, sizeof(out));
    long long full, half, trimmed;
    assert_int_equal(sscanf(strstr(out, "fallback blocks:"),
                            "fallback blocks: %lld full, %lld after half and a tick, %lld after "
                            "malloc_trim",
                            &full, &half, &trimmed),
                     3);
    assert_true(full >= 390);
    assert_true(half <= full / 2 + 10);
    assert_true(trimmed <= 2);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "background")) return child_background();
        if (!strcmp(argv[1], "exit-during-dump")) return child_exit_during_dump();
        if (!strcmp(argv[1], "exit-release")) return child_exit_release();
        if (!strcmp(argv[1], "parked-tick")) return child_parked_tick();
        if (!strcmp(argv[1], "fallback")) return child_fallback();
        if (!strcmp(argv[1], "adopt")) return child_adopt();
        if (!strcmp(argv[1], "reclaim-fresh")) return child_reclaim_before_growing();
        return 99;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aligned_cross_thread),
        cmocka_unit_test(test_slow_path_purges_when_due),
        cmocka_unit_test(test_lazy_give_waits_for_the_tick),
        cmocka_unit_test(test_decommit_ranges),
        cmocka_unit_test(test_release_batch),
        cmocka_unit_test(test_fork_keeps_released_blocks),
        cmocka_unit_test(test_background_purge),
        cmocka_unit_test(test_exit_releases),
        cmocka_unit_test(test_exit_during_dump),
        cmocka_unit_test(test_huge_cache),
        cmocka_unit_test(test_parked_frees_arm_the_tick),
        cmocka_unit_test(test_reclaim_before_growing),
        cmocka_unit_test(test_fallback_gives_back),
        cmocka_unit_test(test_adoption_collects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
