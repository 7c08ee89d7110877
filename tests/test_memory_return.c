/* Memory goes back: 1 GiB in small objects, all freed, and the resident size
 * returns near where it started. */
#include "test_util.h"

#include "concord.h"

#include <sys/mman.h>

#define TOTAL ((size_t)1 << 30)

static void test_gigabyte_round_trip(void **state)
{
    (void)state;
    size_t max_objects = TOTAL / 256;
    void **ptrs = mmap(NULL, max_objects * sizeof(void *), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(ptrs != MAP_FAILED);
    memset(ptrs, 0, max_objects * sizeof(void *));
    void *warm = ca_malloc(16); /* the allocator is set up */
    size_t before = tu_rss();
    size_t total = 0, n = 0;
    uint64_t seed = 12345;
    while (total < TOTAL) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t sz = 256 + (size_t)(seed >> 33) % 1793; /* 256..2048 bytes */
        ptrs[n] = ca_malloc(sz);
        assert_non_null(ptrs[n]);
        memset(ptrs[n], (int)n, sz);
        total += sz;
        n++;
    }
    size_t peak = tu_rss();
    assert_true(peak >= before + TOTAL / 2);
    /* free in an order unlike the allocation order */
    for (size_t i = 0; i < n; i += 2)
        ca_free(ptrs[i]);
    for (size_t i = 1; i < n; i += 2)
        ca_free(ptrs[i]);
    size_t after = tu_rss();
    print_message("rss before %zu MiB, peak %zu MiB, after free %zu MiB\n", before >> 20,
                  peak >> 20, after >> 20);
    assert_true(after < before + ((size_t)64 << 20));
    ca_free(warm);
    munmap(ptrs, max_objects * sizeof(void *));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gigabyte_round_trip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
