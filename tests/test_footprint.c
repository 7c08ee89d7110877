/*
 * What the allocator keeps resident, in one process (the tests run in order
 * and build on an otherwise untouched heap):
 *   - carving a fresh block touches only the page where carving stands: one
 *     small object of a class costs one page (mincore);
 *   - objects of 2-16 KiB share one run block, whatever their classes: the
 *     second lands right after the first, in the same page, and what one
 *     class frees another reuses once the block has wrapped around;
 *   - a medium slot of a block or more has a span of its own, which goes back
 *     to the node cache whole when its object is freed;
 *   - a span is taken from blocks that wait in the node cache (pages
 *     resident) before a lower run of decommitted blocks.
 */
#include "test_util.h"
#include "core_util.h"

#include "concord.h"

#include <sys/mman.h>

#define BLOCK ((size_t)64 << 10)

/* A fresh segment may be backed by a transparent huge page on first touch
 * when THP is "always": then a page count says nothing. */
static int thp_always(void)
{
    char buf[128] = {0};
    int fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 0 && strstr(buf, "[always]") != NULL;
}

/* Resident pages of the block that starts at `p`. */
static unsigned resident_pages(void *p)
{
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char vec[BLOCK / 4096];
    assert_true(BLOCK / ps <= sizeof vec);
    assert_int_equal(mincore(p, BLOCK, vec), 0);
    unsigned n = 0;
    for (size_t i = 0; i < BLOCK / ps; i++)
        n += vec[i] & 1;
    return n;
}

static void test_carve_touches_one_page(void **state)
{
    (void)state;
    if (thp_always()) skip();
    /* 1536-byte slots: the first three start in the first page */
    void *a = ca_malloc(1500);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a & (BLOCK - 1), 0); /* the first slot of a fresh block */
    assert_int_equal(resident_pages(a), 1);
    ca_free(a);
}

static void test_runs_share_a_block(void **state)
{
    (void)state;
    if (thp_always()) skip();
    char *b = ca_malloc(3000); /* a 3072-byte run: the first of a fresh run block */
    char *c = ca_malloc(8000); /* 8192 bytes, another class, right after it */
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal((uintptr_t)b & (BLOCK - 1), 0);
    assert_ptr_equal(c, b + 3072);
    assert_int_equal(ca_malloc_usable_size(b), 3072);
    assert_int_equal(ca_malloc_usable_size(c), 8192);
    assert_int_equal(resident_pages(b), 1); /* neither has been written past its first page */
    /* Fill the block (64 units of 256 bytes a 16 KiB run): 3072 + 8192 +
     * 3 * 16384 = 60 KiB, then 4 KiB. */
    char *d[3];
    for (int i = 0; i < 3; i++) {
        d[i] = ca_malloc(16384);
        assert_ptr_equal(d[i], c + 8192 + (size_t)i * 16384);
    }
    char *e = ca_malloc(4096);
    assert_ptr_equal(e, d[2] + 16384); /* the block is full; its search wraps */
    ca_free(d[1]);
    char *f = ca_malloc(2500);  /* 2560 bytes: where the 16 KiB object was */
    char *g = ca_malloc(10000); /* 10240 bytes: right after it, in the same hole */
    assert_ptr_equal(f, d[1]);
    assert_ptr_equal(g, d[1] + 2560);
    char *h = ca_malloc(6000); /* 6144 bytes: no room left in this block (3584 free) */
    assert_non_null(h);
    assert_true(h < b || h >= b + BLOCK);
    ca_free(h);
    ca_free(g);
    ca_free(f);
    ca_free(e);
    ca_free(d[0]);
    ca_free(d[2]);
    ca_free(c);
    ca_free(b);
}

static void test_block_sized_slot_has_own_span(void **state)
{
    (void)state;
    void *a = ca_malloc(200000); /* 212992-byte slots: 4 blocks */
    void *b = ca_malloc(200000);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(ca_malloc_usable_size(a), 212992);
    uint64_t before = tu_cached();
    ca_free(a); /* its span held only it: kept by the arena, off the node lock */
    assert_int_equal(tu_cached(), before);
    void *c = ca_malloc(240000); /* another class, a span of the same 4 blocks */
    assert_ptr_equal(c, a);
    assert_int_equal(ca_malloc_usable_size(c), 245760);
    ca_free(c);
    ca_free(b);
}

static void test_span_reuses_cached_blocks(void **state)
{
    (void)state;
    /* Spans of 10 blocks: too long for the arena to keep, back to the node. */
    void *x = ca_malloc(600000);
    void *y = ca_malloc(600000);
    void *z = ca_malloc(600000); /* the bin's current span: stays */
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(z);
    ca_free(x);
    ca_trim();  /* x's blocks decommitted: free, no longer cached */
    ca_free(y); /* y's blocks wait in the cache */
    ca_totals_t t0, t1;
    ca_stats_totals(&t0);
    void *w = ca_malloc(550000); /* 589824-byte slot: 9 blocks */
    ca_stats_totals(&t1);
    assert_ptr_equal(w, y);
    assert_int_equal(t1.blocks_reused, t0.blocks_reused + 9);
    ca_free(w);
    ca_free(z);
}

/* The arena keeps its most recent emptied spans (the oldest goes back to the
 * node when a fifth comes) and serves a shorter span from the shortest one
 * that holds it. Sizes whose slots have spans of 2, 3, 3, 4 and 4 blocks. */
static void test_kept_spans_recent_and_split(void **state)
{
    (void)state;
    static const size_t sizes[] = {80000, 150000, 180000, 200000, 240000};
    void *x[5], *y[5];
    ca_trim();
    for (int i = 0; i < 5; i++) {
        x[i] = ca_malloc(sizes[i]);
        y[i] = ca_malloc(sizes[i]); /* the bin's current span: stays */
        assert_non_null(x[i]);
        assert_non_null(y[i]);
    }
    uint64_t before = tu_cached();
    for (int i = 0; i < 4; i++)
        ca_free(x[i]); /* kept: 2, 3, 3, 4 blocks */
    assert_int_equal(tu_cached(), before);
    ca_free(x[4]); /* a fifth: the oldest (2 blocks) goes to the node */
    assert_int_equal(tu_cached(), before + 2);
    /* Two blocks from the shortest kept span (of 3: the later freed, x[2]);
     * its third stays kept. */
    void *w = ca_malloc(100000);
    assert_ptr_equal(w, x[2]);
    assert_int_equal(tu_cached(), before + 2);
    ca_free(w);
    for (int i = 0; i < 5; i++)
        ca_free(y[i]);
    ca_trim();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_carve_touches_one_page),
        cmocka_unit_test(test_runs_share_a_block),
        cmocka_unit_test(test_block_sized_slot_has_own_span),
        cmocka_unit_test(test_span_reuses_cached_blocks),
        cmocka_unit_test(test_kept_spans_recent_and_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
