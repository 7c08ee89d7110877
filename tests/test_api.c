/* Every edge of the malloc family, against the core linked statically. */
#include "test_util.h"

#include "concord.h"
#include "options.h"
#include "sizeclass.h"
#include "os.h"
#include "arena.h"

#include <pthread.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

static void check_block(void *p, size_t n)
{
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    size_t u = ca_malloc_usable_size(p);
    assert_true(u >= n);
    memset(p, 0xA5, u); /* the whole usable size is writable */
}

static void test_malloc_zero_unique(void **state)
{
    (void)state;
    void *a = ca_malloc(0), *b = ca_malloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    check_block(a, 0);
    ca_free(a);
    ca_free(b);
}

static void test_class_boundaries(void **state)
{
    (void)state;
    for (unsigned c = 1; c <= ca_cfg.nclasses; c++) {
        size_t sz = ca_class_size[c];
        size_t sizes[] = {sz - 1, sz, sz + 1};
        for (int i = 0; i < 3; i++) {
            void *p = ca_malloc(sizes[i]);
            check_block(p, sizes[i]);
            if (sizes[i] <= ca_cfg.small_max) {
                /* the slot is the class's size: at most 12.5% over past 128 bytes */
                size_t u = ca_malloc_usable_size(p);
                if (sizes[i] > 128)
                    assert_true((u - sizes[i]) * 8 <= sizes[i]);
                else
                    assert_true(u - sizes[i] < 16 || sizes[i] == 0);
            }
            ca_free(p);
        }
    }
    size_t edges[] = {ca_cfg.small_max,      ca_cfg.small_max + 1, ca_cfg.block_size,
                      ca_cfg.block_size + 1, ca_cfg.large_max,     ca_cfg.large_max + 1,
                      ca_cfg.seg_size,       ca_cfg.seg_size + 1,  (size_t)33 << 20};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        void *p = ca_malloc(edges[i]);
        check_block(p, edges[i]);
        ca_free(p);
    }
}

static void test_calloc_zero(void **state)
{
    (void)state;
    size_t sizes[] = {1, 24, 100, 1000, 5000, 20000, 100000, 3u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int round = 0; round < 3; round++) { /* later rounds reuse dirty memory */
            unsigned char *d = ca_malloc(sizes[i]);
            memset(d, 0xCD, sizes[i]);
            ca_free(d);
            unsigned char *z = ca_calloc(1, sizes[i]);
            assert_non_null(z);
            for (size_t k = 0; k < sizes[i]; k++)
                assert_int_equal(z[k], 0);
            ca_free(z);
        }
    }
    errno = 0;
    assert_null(ca_calloc(SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ca_calloc((size_t)1 << 40, (size_t)1 << 40));
    assert_int_equal(errno, ENOMEM);
    void *p = ca_calloc(0, 10);
    assert_non_null(p);
    ca_free(p);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 31 + seed);
}

static void expect_fill(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 31 + seed)) fail_msg("byte %zu differs", i);
}

static void test_realloc_paths(void **state)
{
    (void)state;
    /* grow and shrink through small, large and huge, keeping the contents */
    size_t steps[] = {1,        16,     17,       100,      1000,     16384,
                      16385,    70000,  1u << 20, 3u << 20, 9u << 20, 40u << 20,
                      5u << 20, 100000, 5000,     33,       8};
    size_t n = 0;
    unsigned char *p = NULL;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        size_t keep = n < steps[i] ? n : steps[i];
        unsigned char *q = ca_realloc(p, steps[i]);
        assert_non_null(q);
        if (p != NULL) expect_fill(q, keep, 7);
        check_block(q, steps[i]);
        fill(q, steps[i], 7);
        p = q;
        n = steps[i];
    }
    /* realloc(p, 0) frees and returns NULL */
    assert_null(ca_realloc(p, 0));
    /* realloc(NULL, n) is malloc(n) */
    p = ca_realloc(NULL, 50);
    check_block(p, 50);
    fill(p, 50, 3);
    /* a failed realloc leaves the block intact */
    errno = 0;
    assert_null(ca_realloc(p, SIZE_MAX / 2));
    assert_int_equal(errno, ENOMEM);
    expect_fill(p, 50, 3);
    errno = 0;
    assert_null(ca_reallocarray(p, SIZE_MAX / 4, 8));
    assert_int_equal(errno, ENOMEM);
    expect_fill(p, 50, 3);
    ca_free(p);
}

static void test_huge_realloc_moves(void **state)
{
    (void)state;
    /* grow a huge block while another mapping sits right after it */
    unsigned char *a = ca_malloc((size_t)8 << 20);
    unsigned char *b = ca_malloc((size_t)8 << 20);
    fill(a, (size_t)8 << 20, 1);
    unsigned char *c = ca_realloc(a, (size_t)64 << 20);
    assert_non_null(c);
    expect_fill(c, (size_t)8 << 20, 1);
    memset(c, 1, (size_t)64 << 20);
    c = ca_realloc(c, (size_t)6 << 20); /* shrink in place */
    assert_non_null(c);
    assert_true(ca_malloc_usable_size(c) >= ((size_t)6 << 20));
    ca_free(c);
    ca_free(b);
}

static void test_aligned(void **state)
{
    (void)state;
    size_t sizes[] = {0, 1, 8, 24, 100, 1000, 5000, 40000, 300000};
    for (size_t align = 1; align <= ((size_t)1 << 20); align <<= 1) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            size_t n = sizes[i];
            void *ptrs[5] = {0};
            if (align >= sizeof(void *)) {
                assert_int_equal(ca_posix_memalign(&ptrs[0], align, n), 0);
            } else {
                ptrs[0] = ca_malloc(n);
            }
            ptrs[1] = ca_aligned_alloc(align, n);
            ptrs[2] = ca_memalign(align, n);
            ptrs[3] = ca_valloc(n);
            ptrs[4] = ca_pvalloc(n);
            for (int k = 0; k < 5; k++) {
                assert_non_null(ptrs[k]);
                size_t want = k >= 3 ? ca_os_page_size() : align;
                assert_int_equal((uintptr_t)ptrs[k] % want, 0);
                assert_int_equal((uintptr_t)ptrs[k] % 16, 0);
                size_t u = ca_malloc_usable_size(ptrs[k]);
                assert_true(u >= n);
                if (k == 4) assert_true(u >= ca_os_page_size());
                memset(ptrs[k], 0x5A, u);
            }
            for (int k = 0; k < 5; k++)
                ca_free(ptrs[k]);
        }
    }
    /* a realloc of an aligned block keeps the bytes */
    unsigned char *p = ca_memalign(256, 100);
    fill(p, 100, 9);
    p = ca_realloc(p, 5000);
    expect_fill(p, 100, 9);
    ca_free(p);
}

static void test_bad_alignment(void **state)
{
    (void)state;
    void *sentinel = (void *)0x1234;
    void *p = sentinel;
    size_t bad[] = {0, 1, 2, 4, 3, 24, 48, 100, (size_t)1 << 63 | 8};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (bad[i] >= sizeof(void *) && (bad[i] & (bad[i] - 1)) == 0) continue;
        assert_int_equal(ca_posix_memalign(&p, bad[i], 10), EINVAL);
        assert_ptr_equal(p, sentinel);
    }
    errno = 0;
    assert_null(ca_aligned_alloc(24, 10));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(ca_aligned_alloc(0, 10));
    assert_int_equal(errno, EINVAL);
    /* aligned_alloc does not insist that size is a multiple of the alignment */
    p = ca_aligned_alloc(64, 10);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    ca_free(p);
    /* memalign rounds a bad alignment up, as glibc does */
    p = ca_memalign(48, 10);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    ca_free(p);
    /* posix_memalign that cannot be served: ENOMEM, *p untouched */
    p = sentinel;
    assert_int_equal(ca_posix_memalign(&p, 64, SIZE_MAX / 2), ENOMEM);
    assert_ptr_equal(p, sentinel);
}

static void test_free_null_and_errno(void **state)
{
    (void)state;
    ca_free(NULL);
    assert_int_equal(ca_malloc_usable_size(NULL), 0);
    void *ptrs[4] = {ca_malloc(10), ca_malloc(50000), ca_malloc((size_t)5 << 20), ca_malloc(100)};
    errno = 12345;
    for (int i = 0; i < 4; i++) {
        ca_free(ptrs[i]);
        assert_int_equal(errno, 12345);
    }
    ca_free(NULL);
    assert_int_equal(errno, 12345);
}

static void test_absurd_sizes(void **state)
{
    (void)state;
    size_t sizes[] = {SIZE_MAX, SIZE_MAX / 2, SIZE_MAX / 2 + 1, (size_t)1 << 62};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        errno = 0;
        assert_null(ca_malloc(sizes[i]));
        assert_int_equal(errno, ENOMEM);
        errno = 0;
        assert_null(ca_memalign(4096, sizes[i]));
        assert_int_equal(errno, ENOMEM);
        errno = 0;
        assert_null(ca_pvalloc(sizes[i]));
        assert_int_equal(errno, ENOMEM);
    }
}

/* Rounding waste is at most 12.5% of the request for every size up to the
 * huge threshold (16 bytes at most below 128): small and medium classes,
 * 8 per doubling. Checked through malloc_usable_size, at every size up to
 * 4 KiB and around every class edge above. */
static void check_waste(size_t n)
{
    void *p = ca_malloc(n);
    assert_non_null(p);
    size_t u = ca_malloc_usable_size(p);
    if (u < n || (n <= 128 ? u - n >= 16 : u - n > n / 8))
        fail_msg("malloc(%zu): usable %zu, %.1f%% over", n, u, 100.0 * (double)(u - n) / (double)n);
    memset(p, 0x5a, n < 65536 ? n : 65536);
    ca_free(p);
}

static void test_rounding_waste(void **state)
{
    (void)state;
    for (size_t n = 1; n <= 4096; n++)
        check_waste(n);
    for (size_t base = 4096; base < ca_cfg.large_max; base *= 2)
        for (size_t k = 0; k <= 8; k++) {
            size_t edge = base + k * (base / 8);
            for (size_t d = 0; d < 3; d++)
                if (edge - 1 + d <= ca_cfg.large_max) check_waste(edge - 1 + d);
        }
    check_waste(ca_cfg.large_max);
}

static void test_os_refuses(void **state)
{
    (void)state;
    unsigned char *keep = ca_malloc(40);
    fill(keep, 40, 5);
    size_t huge = ca_cfg.seg_size * 2;   /* needs a mapping of its own */
    ca_trim();                           /* none cached from the tests before */
    atomic_store(&ca_os_fail_after, -1); /* every mapping fails from now */
    errno = 0;
    assert_null(ca_malloc(huge));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ca_realloc(keep, huge));
    assert_int_equal(errno, ENOMEM);
    expect_fill(keep, 40, 5);
    void *p = (void *)0x99;
    assert_int_equal(ca_posix_memalign(&p, 4096, huge), ENOMEM);
    assert_ptr_equal(p, (void *)0x99);
    atomic_store(&ca_os_fail_after, 0);
    void *q = ca_malloc(huge);
    assert_non_null(q);
    ca_free(q);
    ca_free(keep);
}

/* A thread's allocations after its arena was parked (a TLS destructor that
 * runs after the library's) are served by the shared fallback arena. */
static pthread_key_t late_key;
static int late_ok;

/* 100-byte allocations the fallback arena counted: on a slow path (per
 * class) or the fast one (per entry of the size table). */
static uint64_t fallback_allocs_of_100(void)
{
    const ca_stats_t *s = &ca_arena_fallback->stats;
    return s->cls_alloc[ca_size_class(100)] + s->tiny_alloc[ca_tiny_index(100)];
}

static void late_destructor(void *v)
{
    (void)v;
    uint64_t before = fallback_allocs_of_100();
    unsigned char *p = ca_malloc(100);
    unsigned char *q = ca_malloc(70000);
    if (p == NULL || q == NULL) return;
    memset(p, 1, 100);
    memset(q, 2, 70000);
    late_ok = fallback_allocs_of_100() == before + 1 && ca_malloc_usable_size(q) >= 70000;
    ca_free(p);
    ca_free(q);
}

static void *late_thread(void *arg)
{
    (void)arg;
    ca_free(ca_malloc(10)); /* an arena of its own first */
    pthread_setspecific(late_key, (void *)1);
    return NULL;
}

static void test_fallback_after_exit(void **state)
{
    (void)state;
    ca_free(ca_malloc(1)); /* the library's key first: its destructor runs first */
    assert_int_equal(pthread_key_create(&late_key, late_destructor), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, late_thread, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(late_ok, 1);
    pthread_key_delete(late_key);
}

static void test_usable_size_stable(void **state)
{
    (void)state;
    for (size_t n = 1; n < 70000; n = n * 3 / 2 + 1) {
        void *p = ca_malloc(n);
        size_t u = ca_malloc_usable_size(p);
        assert_true(u >= n);
        assert_int_equal(ca_malloc_usable_size(p), u);
        /* realloc within the usable size stays in place */
        assert_ptr_equal(ca_realloc(p, u), p);
        ca_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malloc_zero_unique),  cmocka_unit_test(test_class_boundaries),
        cmocka_unit_test(test_calloc_zero),         cmocka_unit_test(test_realloc_paths),
        cmocka_unit_test(test_huge_realloc_moves),  cmocka_unit_test(test_aligned),
        cmocka_unit_test(test_rounding_waste),      cmocka_unit_test(test_bad_alignment),
        cmocka_unit_test(test_free_null_and_errno), cmocka_unit_test(test_absurd_sizes),
        cmocka_unit_test(test_os_refuses),          cmocka_unit_test(test_usable_size_stable),
        cmocka_unit_test(test_fallback_after_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
