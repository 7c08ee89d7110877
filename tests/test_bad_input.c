/*
 * Bad pointers: a pointer we do not own is left alone and reported once (or
 * aborts with CONCORD_ARENA_ABORT_ON_ERROR=1); a double free is reported with
 * the call and the pointer, then aborts. Each case runs in a child process
 * (this binary again, with a mode argument) so aborts can be observed.
 */
#include "test_util.h"

#include "concord.h"

#include <pthread.h>
#include <signal.h>

/* ---- child modes ---- */

static int child_foreign(void)
{
    int on_stack = 0;
    void *glibc_ptr = malloc(64); /* glibc's, not ours */
    void *ours = ca_malloc(64);
    memset(ours, 7, 64);
    for (int round = 0; round < 3; round++) {
        ca_free(glibc_ptr);
        ca_free(&on_stack);
        ca_free((char *)ours + 8); /* inside one of our slots, not its start */
        if (ca_realloc(glibc_ptr, 100) != NULL) return 10;
        if (ca_malloc_usable_size(&on_stack) != 0) return 11;
    }
    if (ca_invalid_pointer_count() != 15) return 12;
    /* nothing of ours was disturbed */
    for (int i = 0; i < 64; i++)
        if (((unsigned char *)ours)[i] != 7) return 13;
    ca_free(ours);
    free(glibc_ptr); /* still glibc's to free */
    printf("foreign done\n");
    return 0;
}

static int child_foreign_abort(void)
{
    int on_stack = 0;
    ca_free(&on_stack);
    return 0; /* not reached */
}

static int child_double_small(void)
{
    void *p = ca_malloc(32);
    printf("pointer %p\n", p);
    fflush(stdout);
    ca_free(p);
    void *q = ca_malloc(200); /* other traffic in between */
    ca_free(p);
    ca_free(q);
    return 0;
}

static void *alloc_thread(void *arg)
{
    *(void **)arg = ca_malloc(48);
    return NULL;
}

static int child_double_remote(void)
{
    void *p = NULL;
    pthread_t t;
    pthread_create(&t, NULL, alloc_thread, &p);
    pthread_join(t, NULL);
    printf("pointer %p\n", p);
    fflush(stdout);
    ca_free(p); /* a remote free: the owner thread has exited */
    ca_free(p);
    return 0;
}

static int child_double_large(void)
{
    void *p = ca_malloc(100000);
    printf("pointer %p\n", p);
    fflush(stdout);
    ca_free(p);
    ca_free(p);
    return 0;
}

/* ---- parent side ---- */

static void test_foreign_left_alone(void **state)
{
    (void)state;
    char out[8192];
    int st = tu_run_self("foreign", NULL, out, sizeof(out));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_non_null(strstr(out, "foreign done"));
    assert_int_equal(tu_count(out, "invalid pointer"), 1); /* reported once */
    assert_non_null(strstr(out, "free(): invalid pointer 0x"));
}

static void test_foreign_abort_on_error(void **state)
{
    (void)state;
    char out[8192];
    int st = tu_run_self("foreign-abort", "CONCORD_ARENA_ABORT_ON_ERROR=1", out, sizeof(out));
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    assert_non_null(strstr(out, "free(): invalid pointer 0x"));
    assert_non_null(strstr(out, "aborting"));
}

static void expect_double_free(const char *mode)
{
    char out[8192];
    int st = tu_run_self(mode, NULL, out, sizeof(out));
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGABRT);
    const char *ptr = strstr(out, "pointer 0x");
    assert_non_null(ptr);
    char want[128];
    unsigned long long v = strtoull(ptr + 8, NULL, 16);
    snprintf(want, sizeof(want), "free(): double free of 0x%llx", v);
    if (strstr(out, want) == NULL) fail_msg("expected '%s' in:\n%s", want, out);
}

static void test_double_free_small(void **state)
{
    (void)state;
    expect_double_free("double-small");
}

static void test_double_free_remote(void **state)
{
    (void)state;
    expect_double_free("double-remote");
}

static void test_double_free_large(void **state)
{
    (void)state;
    expect_double_free("double-large");
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "foreign")) return child_foreign();
        if (!strcmp(argv[1], "foreign-abort")) return child_foreign_abort();
        if (!strcmp(argv[1], "double-small")) return child_double_small();
        if (!strcmp(argv[1], "double-remote")) return child_double_remote();
        if (!strcmp(argv[1], "double-large")) return child_double_large();
        return 99;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foreign_left_alone), cmocka_unit_test(test_foreign_abort_on_error),
        cmocka_unit_test(test_double_free_small),  cmocka_unit_test(test_double_free_remote),
        cmocka_unit_test(test_double_free_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
