/*
 * Run blocks: objects of the classes above 2 KiB up to 16 KiB (at the
 * default 64 KiB block) are runs of 256-byte units in blocks shared by all
 * those classes.
 *   - every size from 2049 to 16384 bytes gets its class's size (at most
 *     12.5% over the request), 256-byte aligned, and the objects never
 *     overlap (contents checked after a random mix of allocations and frees);
 *   - aligned requests from 32 bytes to a block are placed at the alignment;
 *   - frees by another thread come back to the owner, which reuses the units;
 *     every byte is in use again counted as free at the end;
 *   - bad pointers into a run block are named, in a child process: inside an
 *     object, freed twice (by the owner, after another thread freed it, and
 *     after its block went back to a cache).
 */
#include "test_util.h"
#include "core_util.h"

#include "concord.h"
#include "options.h"
#include "registry.h"
#include "segment.h"

#include <pthread.h>

static size_t class_of(size_t n)
{
    int b = 63 - __builtin_clzl(n - 1); /* 2^b < n <= 2^(b+1) */
    size_t step = (size_t)1 << (b - 3);
    return (n + step - 1) & ~(step - 1);
}

static void test_sizes(void **state)
{
    (void)state;
    for (size_t n = 2049; n <= 16384; n += 7) {
        char *p = ca_malloc(n);
        assert_non_null(p);
        size_t u = ca_malloc_usable_size(p);
        assert_int_equal(u, class_of(n));
        assert_true(u >= n && u * 8 <= n * 9);
        assert_int_equal((uintptr_t)p & 255, 0);
        memset(p, 0x5a, u);
        ca_free(p);
    }
    assert_int_equal(tu_totals().in_use, 0);
}

/* A random mix: every live object holds its own byte pattern, checked
 * before it is freed (an overlap would break a neighbour's). */
#define MIX 512
static void mix(unsigned seed, int rounds)
{
    static char *p[MIX];
    static size_t n[MIX];
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int r = 0; r < rounds; r++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int i = (int)(x % MIX);
        if (p[i]) {
            for (size_t j = 0; j < n[i]; j += 61)
                assert_int_equal((unsigned char)p[i][j], (unsigned char)(i + j));
            ca_free(p[i]);
        }
        n[i] = 2049 + (size_t)((x >> 20) % 14336);
        p[i] = ca_malloc(n[i]);
        assert_non_null(p[i]);
        for (size_t j = 0; j < n[i]; j++)
            p[i][j] = (char)(i + j);
    }
    for (int i = 0; i < MIX; i++) {
        ca_free(p[i]);
        p[i] = NULL;
    }
}

static void test_no_overlap(void **state)
{
    (void)state;
    mix(7, 20000);
    assert_int_equal(tu_totals().in_use, 0);
}

static void test_aligned(void **state)
{
    (void)state;
    static const size_t sizes[] = {100, 2100, 5000, 16384};
    void *keep[4 * 12];
    int nkeep = 0;
    for (int s = 0; s < 4; s++) {
        for (size_t align = 32; align <= ca_cfg.block_size; align *= 2) {
            void *p = NULL;
            assert_int_equal(ca_posix_memalign(&p, align, sizes[s]), 0);
            assert_int_equal((uintptr_t)p & (align - 1), 0);
            assert_true(ca_malloc_usable_size(p) >= sizes[s]);
            memset(p, s, sizes[s]);
            if (align >= 256 && nkeep < 48)
                keep[nkeep++] = p; /* live together: they must not overlap */
            else
                ca_free(p);
        }
    }
    for (int i = 0; i < nkeep; i++)
        ca_free(keep[i]);
    assert_int_equal(tu_totals().in_use, 0);
}

static char *objs[200];

static void *free_all(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++)
        ca_free(objs[i]);
    return NULL;
}

static void test_remote_frees(void **state)
{
    (void)state;
    ca_trim();
    for (int i = 0; i < 200; i++) {
        objs[i] = ca_malloc(2049 + (size_t)i * 61);
        assert_non_null(objs[i]);
    }
    char *first = objs[0];
    pthread_t t;
    pthread_create(&t, NULL, free_all, NULL);
    pthread_join(t, NULL);
    /* The units are still marked until the owner collects: the next
     * allocation that finds no room does, and the blocks serve again. */
    ca_totals_t before = tu_totals();
    for (int i = 0; i < 200; i++) {
        objs[i] = ca_malloc(2049 + (size_t)i * 61);
        assert_non_null(objs[i]);
    }
    ca_totals_t after = tu_totals();
    assert_int_equal(after.blocks_fresh, before.blocks_fresh); /* no new block was needed */
    int in_first_block = 0;
    for (int i = 0; i < 200; i++)
        in_first_block += objs[i] >= first && objs[i] < first + ca_cfg.block_size;
    assert_true(in_first_block > 0);
    for (int i = 0; i < 200; i++)
        ca_free(objs[i]);
    assert_int_equal(tu_totals().in_use, 0);
}

static char *remote_victim;
static void *free_victim(void *arg)
{
    (void)arg;
    ca_free(remote_victim);
    return NULL;
}

/* Children: each does one bad thing and should not come back. */
static int child(const char *mode)
{
    char *p = ca_malloc(4000);
    char *q = ca_malloc(4000);
    if (!strcmp(mode, "inside")) ca_free(p + 256);
    if (!strcmp(mode, "unaligned")) ca_free(p + 8);
    if (!strcmp(mode, "twice")) {
        ca_free(p);
        ca_free(p);
    }
    if (!strcmp(mode, "twice-remote")) { /* freed by another thread, not yet collected */
        remote_victim = p;
        pthread_t t;
        pthread_create(&t, NULL, free_victim, NULL);
        pthread_join(t, NULL);
        ca_free(p);
    }
    if (!strcmp(mode, "twice-cached")) { /* its block emptied and went back to a cache */
        static char *fill[64];
        for (int i = 0; i < 64; i++)
            fill[i] = ca_malloc(16000); /* 16 KiB runs: four blocks a block; more blocks */
        char *late = fill[40];
        for (int i = 0; i < 64; i++)
            ca_free(fill[i]);
        ca_free(late);
    }
    (void)q;
    return 0; /* not reached when the bad pointer was caught */
}

static void expect_abort(const char *mode, const char *reason)
{
    char out[4096];
    int st = tu_run_self(mode, NULL, out, sizeof out);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT || !strstr(out, reason))
        fail_msg("%s: status %d, expected abort with '%s' in:\n%s", mode, st, reason, out);
}

static void test_bad_pointers(void **state)
{
    (void)state;
    expect_abort("inside", "inside an object");
    expect_abort("unaligned", "inside an object");
    expect_abort("twice", "already freed");
    expect_abort("twice-remote", "already freed");
    expect_abort("twice-cached", "already freed");
}

int main(int argc, char **argv)
{
    if (argc > 1) return child(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),        cmocka_unit_test(test_no_overlap),
        cmocka_unit_test(test_aligned),      cmocka_unit_test(test_remote_frees),
        cmocka_unit_test(test_bad_pointers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
