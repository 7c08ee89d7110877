/*
 * Pages of freed huge objects serve later ones of any size: moved (not
 * copied) into a new object from its start, a longer run giving its first
 * part and keeping the rest; calloc zeroes only the pages that were moved in;
 * an object assembled from several runs still grows and shrinks with realloc
 * (copied when the kernel will not move it as one mapping).
 */
#include "test_util.h"
#include "core_util.h"

#include "concord.h"
#include "options.h"
#include "os.h"

#include <string.h>

#define MIB ((size_t)1 << 20)

static void test_pages_move_between_sizes(void **state)
{
    (void)state;
    ca_trim();
    unsigned char *a = ca_malloc(8 * MIB);
    assert_non_null(a);
    memset(a, 0xA1, 8 * MIB);
    ca_free(a);
    ca_totals_t t0 = tu_totals();
    assert_true(t0.huge_cached_bytes >= 8 * MIB);

    /* Smaller: a's first pages, moved, not copied (its bytes are still there). */
    unsigned char *b = ca_malloc(5 * MIB);
    assert_non_null(b);
    ca_totals_t t1 = tu_totals();
    assert_int_equal(t1.huge_maps, t0.huge_maps);
    assert_int_equal(t1.huge_reused, t0.huge_reused + 1);
    assert_int_equal(b[0], 0xA1);
    assert_int_equal(b[5 * MIB - 1], 0xA1);
    assert_true(t1.huge_cached_bytes > 2 * MIB && t1.huge_cached_bytes < 4 * MIB); /* a's tail */

    /* Larger than what is cached: a's tail first, then fresh zero pages. */
    unsigned char *c = ca_malloc(6 * MIB);
    assert_non_null(c);
    ca_totals_t t2 = tu_totals();
    assert_int_equal(t2.huge_reused, t1.huge_reused + 1);
    assert_int_equal(t2.huge_cached_bytes, 0);
    assert_int_equal(c[0], 0xA1);
    assert_int_equal(c[6 * MIB - 1], 0);
    memset(c, 0xC3, 6 * MIB);

    /* calloc over cached pages: every byte zero. */
    ca_free(b);
    unsigned char *d = ca_calloc(1, 7 * MIB);
    assert_non_null(d);
    assert_int_equal(tu_totals().huge_reused, t2.huge_reused + 1);
    for (size_t i = 0; i < 7 * MIB; i += 4093)
        assert_int_equal(d[i], 0);
    assert_int_equal(d[7 * MIB - 1], 0);
    ca_free(c);
    ca_free(d);
    ca_trim();
    assert_int_equal(tu_totals().huge_cached_bytes, 0);
}

static unsigned char pattern(size_t i)
{
    return (unsigned char)((i * 7) ^ (i >> 13));
}

static void test_realloc_of_assembled(void **state)
{
    (void)state;
    ca_trim();
    unsigned char *x = ca_malloc(4 * MIB);
    unsigned char *y = ca_malloc(4 * MIB);
    assert_non_null(x);
    assert_non_null(y);
    memset(x, 1, 4 * MIB);
    memset(y, 2, 4 * MIB);
    ca_free(x);
    ca_free(y);
    /* Both runs, the newest first: an object of two mappings. */
    size_t n = 8 * MIB + 4 * MIB;
    unsigned char *z = ca_malloc(n);
    assert_non_null(z);
    assert_int_equal(z[0], 2);
    assert_int_equal(z[4 * MIB + 8192], 1);
    assert_int_equal(z[n - 1], 0);
    for (size_t i = 0; i < n; i++)
        z[i] = pattern(i);
    /* Freed and taken again whole: its pages move piece by piece. */
    ca_free(z);
    z = ca_malloc(n);
    assert_non_null(z);
    for (size_t i = 0; i < n; i += 997)
        assert_int_equal(z[i], pattern(i));
    /* Grown: moved or copied, never lost. */
    unsigned char *g = ca_realloc(z, 3 * n);
    assert_non_null(g);
    assert_true(ca_malloc_usable_size(g) >= 3 * n);
    for (size_t i = 0; i < n; i += 997)
        assert_int_equal(g[i], pattern(i));
    assert_int_equal(g[n - 1], pattern(n - 1));
    memset(g + n, 0x5A, 2 * n);
    /* Shrunk: its tail goes to the cache. */
    uint64_t cached = tu_totals().huge_cached_bytes;
    unsigned char *s = ca_realloc(g, 3 * MIB);
    assert_non_null(s);
    assert_true(tu_totals().huge_cached_bytes > cached);
    for (size_t i = 0; i < 3 * MIB; i += 991)
        assert_int_equal(s[i], pattern(i));
    ca_free(s);
    ca_trim();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_move_between_sizes),
        cmocka_unit_test(test_realloc_of_assembled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
