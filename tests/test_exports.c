/* libconcordarena.so exports the malloc family, the signal-disposition
 * functions and the region API, and nothing else. */
#include "test_util.h"

static const char *lib_path;

static const char *const expected[] = {
    "__libc_calloc",
    "__libc_free",
    "__libc_malloc",
    "__libc_memalign",
    "__libc_pvalloc",
    "__libc_realloc",
    "__libc_valloc",
    "__posix_memalign",
    "aligned_alloc",
    "calloc",
    "cfree",
    "free",
    "mallinfo",
    "mallinfo2",
    "malloc",
    "malloc_stats",
    "malloc_trim",
    "malloc_usable_size",
    "mallopt",
    "memalign",
    "posix_memalign",
    "pvalloc",
    "realloc",
    "reallocarray",
    "valloc",
    "__sysv_signal",
    "bsd_signal",
    "sigaction",
    "sigignore",
    "siginterrupt",
    "signal",
    "sigset",
    "ssignal",
    "sysv_signal",
    "kv_arena_alloc",
    "kv_arena_alloc_aligned",
    "kv_arena_compact",
    "kv_arena_create",
    "kv_arena_create_ex",
    "kv_arena_destroy",
    "kv_arena_get_numa_node",
    "kv_arena_get_stats",
    "kv_arena_print_hotspots",
    "kv_arena_reset",
    "kv_arena_reset_stats",
    "kv_arena_set_numa_policy",
};
#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

static void test_exported_symbols(void **state)
{
    (void)state;
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "nm -D --defined-only '%s'", lib_path);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char line[512];
    int seen[NEXPECTED] = {0};
    int others = 0;
    while (fgets(line, sizeof(line), f)) {
        char addr[64], type[8], name[256];
        if (sscanf(line, "%63s %7s %255s", addr, type, name) != 3) continue;
        if (strcmp(type, "A") == 0) continue; /* version definitions */
        int found = 0;
        for (size_t i = 0; i < NEXPECTED; i++)
            if (strcmp(name, expected[i]) == 0) seen[i] = found = 1;
        if (!found) {
            print_error("unexpected export: %s", line);
            others++;
        }
    }
    assert_int_equal(pclose(f), 0);
    assert_int_equal(others, 0);
    for (size_t i = 0; i < NEXPECTED; i++)
        if (!seen[i]) fail_msg("missing export: %s", expected[i]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_exports LIBRARY\n");
        return 2;
    }
    lib_path = argv[1];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_exported_symbols)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
