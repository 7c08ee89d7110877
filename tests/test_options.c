/*
 * Options: every variable with good and bad values, checked through the
 * warning line and the options printed by CONCORD_ARENA_VERBOSE=1. Each case
 * is a child process (options are read once).
 */
#include "test_util.h"

#include "concord.h"
#include "options.h"

static int child_noop(void)
{
    void *p = ca_malloc(100000);
    ca_free(p);
    ca_totals_t t;
    ca_stats_totals(&t);
    printf("block_size=%u\n", t.block_size);
    return 0;
}

static char out[16384];

/* Run the child with one variable (plus VERBOSE=1) and return its output. */
static const char *run_with(const char *var)
{
    char *argv[] = {(char *)tu_self(), "noop", NULL};
    const char *env[] = {"CONCORD_ARENA_VERBOSE=1", var, NULL};
    int st = tu_run(argv, env, out, sizeof(out));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("child failed (%d) with %s: %s", st, var, out);
    return out;
}

static void expect_good(const char *var, const char *printed)
{
    const char *o = run_with(var);
    if (strstr(o, "ignoring") != NULL) fail_msg("%s was refused: %s", var, o);
    if (strstr(o, printed) == NULL) fail_msg("%s: expected '%s' in:\n%s", var, printed, o);
}

static void expect_bad(const char *var, const char *accepted, const char *printed_default)
{
    const char *o = run_with(var);
    /* one line naming the variable, the value and what is accepted */
    char want[512];
    snprintf(want, sizeof(want), "concordarena: ignoring %s: expected %s", var, accepted);
    if (strstr(o, want) == NULL) fail_msg("expected '%s' in:\n%s", want, o);
    assert_int_equal(tu_count(o, "ignoring"), 1);
    if (strstr(o, printed_default) == NULL)
        fail_msg("%s: default '%s' not in force:\n%s", var, printed_default, o);
}

static void test_block_size(void **state)
{
    (void)state;
    expect_good("CONCORD_ARENA_BLOCK_SIZE=1M", "CONCORD_ARENA_BLOCK_SIZE=1048576");
    assert_non_null(strstr(out, "block_size=1048576")); /* really in force */
    expect_good("CONCORD_ARENA_BLOCK_SIZE=16K", "CONCORD_ARENA_BLOCK_SIZE=16384");
    assert_non_null(strstr(out, "block_size=16384"));
    expect_good("CONCORD_ARENA_BLOCK_SIZE=131072", "CONCORD_ARENA_BLOCK_SIZE=131072");
    expect_good("CONCORD_ARENA_BLOCK_SIZE=256KiB", "CONCORD_ARENA_BLOCK_SIZE=262144");
    const char *acc = "a power of two from 16K to 1M";
    const char *def = "CONCORD_ARENA_BLOCK_SIZE=65536";
    expect_bad("CONCORD_ARENA_BLOCK_SIZE=banana", acc, def);
    assert_non_null(strstr(out, "block_size=65536"));
    expect_bad("CONCORD_ARENA_BLOCK_SIZE=3K", acc, def);
    expect_bad("CONCORD_ARENA_BLOCK_SIZE=1T", acc, def);
    expect_bad("CONCORD_ARENA_BLOCK_SIZE=2G", acc, def);
    expect_bad("CONCORD_ARENA_BLOCK_SIZE=8K", acc, def);
    expect_bad("CONCORD_ARENA_BLOCK_SIZE=", acc, def);
    expect_bad("CONCORD_ARENA_BLOCK_SIZE=-64K", acc, def);
    expect_bad("CONCORD_ARENA_BLOCK_SIZE=99999999999999999999999", acc, def);
}

static void test_numa_node(void **state)
{
    (void)state;
    expect_good("CONCORD_ARENA_NUMA_NODE=0", "CONCORD_ARENA_NUMA_NODE=0 ");
    const char *acc = "a node number from 0 to 63";
    const char *def = "CONCORD_ARENA_NUMA_NODE=unset";
    expect_bad("CONCORD_ARENA_NUMA_NODE=-1", acc, def);
    expect_bad("CONCORD_ARENA_NUMA_NODE=abc", acc, def);
    expect_bad("CONCORD_ARENA_NUMA_NODE=64", acc, def);
}

static void test_cache_blocks(void **state)
{
    (void)state;
    expect_good("CONCORD_ARENA_CACHE_BLOCKS=0", "CONCORD_ARENA_CACHE_BLOCKS=0 ");
    expect_good("CONCORD_ARENA_CACHE_BLOCKS=500", "CONCORD_ARENA_CACHE_BLOCKS=500 ");
    const char *acc = "a whole number from 0 to 1048576";
    const char *def = "CONCORD_ARENA_CACHE_BLOCKS=64 ";
    expect_bad("CONCORD_ARENA_CACHE_BLOCKS=-5", acc, def);
    expect_bad("CONCORD_ARENA_CACHE_BLOCKS=lots", acc, def);
    expect_bad("CONCORD_ARENA_CACHE_BLOCKS=2000000", acc, def);
}

/* A root that is not a directory is refused with one line, and /sys read. */
static void test_sysfs_root(void **state)
{
    (void)state;
    const char *o = run_with("CONCORD_ARENA_SYSFS_ROOT=/nonexistent");
    if (strstr(o, "concordarena: ignoring CONCORD_ARENA_SYSFS_ROOT=/nonexistent: expected a "
                  "directory; using the default /sys") == NULL)
        fail_msg("no warning in:\n%s", o);
    assert_int_equal(tu_count(o, "ignoring"), 1);
    char file[4200]; /* a file, not a directory: this program */
    snprintf(file, sizeof(file), "CONCORD_ARENA_SYSFS_ROOT=%s", tu_self());
    o = run_with(file);
    assert_int_equal(tu_count(o, "ignoring CONCORD_ARENA_SYSFS_ROOT"), 1);
    o = run_with("CONCORD_ARENA_SYSFS_ROOT=/");
    if (strstr(o, "ignoring") != NULL) fail_msg("a directory was refused: %s", o);
}

static void test_stats_signal(void **state)
{
    (void)state;
    expect_good("CONCORD_ARENA_STATS_SIGNAL=USR2", "CONCORD_ARENA_STATS_SIGNAL=12 ");
    expect_good("CONCORD_ARENA_STATS_SIGNAL=SIGUSR2", "CONCORD_ARENA_STATS_SIGNAL=12 ");
    expect_good("CONCORD_ARENA_STATS_SIGNAL=sigwinch", "CONCORD_ARENA_STATS_SIGNAL=28 ");
    expect_good("CONCORD_ARENA_STATS_SIGNAL=0", "CONCORD_ARENA_STATS_SIGNAL=0 ");
    expect_good("CONCORD_ARENA_STATS_SIGNAL=40", "CONCORD_ARENA_STATS_SIGNAL=40 ");
    const char *acc = "0 (off), a signal number or a name";
    const char *def = "CONCORD_ARENA_STATS_SIGNAL=10 ";
    expect_bad("CONCORD_ARENA_STATS_SIGNAL=SIGFOO", acc, def);
    expect_bad("CONCORD_ARENA_STATS_SIGNAL=9", acc, def); /* SIGKILL */
    expect_bad("CONCORD_ARENA_STATS_SIGNAL=SEGV", acc, def);
    expect_bad("CONCORD_ARENA_STATS_SIGNAL=99", acc, def);
}

static void test_stats_file_and_format(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "CONCORD_ARENA_STATS_FILE=/tmp/ca-opt-%d.txt", (int)getpid());
    expect_good(path, path);
    unlink(path + strlen("CONCORD_ARENA_STATS_FILE="));
    const char *o = run_with("CONCORD_ARENA_STATS_FILE=/nonexistent-dir/x/stats");
    assert_non_null(strstr(o, "cannot open CONCORD_ARENA_STATS_FILE=/nonexistent-dir/x/stats"));
    assert_non_null(strstr(o, "CONCORD_ARENA_STATS_FILE=stderr"));
    expect_bad("CONCORD_ARENA_STATS_FILE=", "a file path", "CONCORD_ARENA_STATS_FILE=stderr");
    expect_good("CONCORD_ARENA_STATS_FORMAT=json", "CONCORD_ARENA_STATS_FORMAT=json");
    expect_good("CONCORD_ARENA_STATS_FORMAT=TEXT", "CONCORD_ARENA_STATS_FORMAT=text");
    expect_bad("CONCORD_ARENA_STATS_FORMAT=xml", "text or json", "CONCORD_ARENA_STATS_FORMAT=text");
}

static void test_booleans(void **state)
{
    (void)state;
    expect_good("CONCORD_ARENA_STATS_AT_EXIT=1", "CONCORD_ARENA_STATS_AT_EXIT=1");
    assert_non_null(strstr(out, "=== concordarena statistics")); /* dumped at exit */
    expect_good("CONCORD_ARENA_STATS_AT_EXIT=no", "CONCORD_ARENA_STATS_AT_EXIT=0");
    assert_null(strstr(out, "=== concordarena statistics"));
    expect_good("CONCORD_ARENA_ABORT_ON_ERROR=false", "CONCORD_ARENA_ABORT_ON_ERROR=0");
    expect_bad("CONCORD_ARENA_ABORT_ON_ERROR=2", "0 or 1", "CONCORD_ARENA_ABORT_ON_ERROR=1");
    expect_bad("CONCORD_ARENA_STATS_AT_EXIT=maybe", "0 or 1", "CONCORD_ARENA_STATS_AT_EXIT=0");
    /* VERBOSE itself: off prints nothing */
    char *argv[] = {(char *)tu_self(), "noop", NULL};
    const char *env[] = {"CONCORD_ARENA_VERBOSE=0", NULL};
    tu_run(argv, env, out, sizeof(out));
    assert_null(strstr(out, "options in force"));
    const char *env2[] = {"CONCORD_ARENA_VERBOSE=loud", NULL};
    tu_run(argv, env2, out, sizeof(out));
    assert_non_null(strstr(out, "ignoring CONCORD_ARENA_VERBOSE=loud: expected 0 or 1"));
}

static void test_parsers(void **state)
{
    (void)state;
    size_t n;
    assert_int_equal(ca_parse_size("64K", &n), 0);
    assert_int_equal(n, 65536);
    assert_int_equal(ca_parse_size("2m", &n), 0);
    assert_int_equal(n, (size_t)2 << 20);
    assert_int_equal(ca_parse_size("1GB", &n), 0);
    assert_int_equal(n, (size_t)1 << 30);
    assert_int_equal(ca_parse_size("12", &n), 0);
    assert_int_equal(n, 12);
    assert_int_equal(ca_parse_size("", &n), -1);
    assert_int_equal(ca_parse_size("K", &n), -1);
    assert_int_equal(ca_parse_size("5X", &n), -1);
    assert_int_equal(ca_parse_size("99999999999999999999G", &n), -1);
    int sig;
    assert_int_equal(ca_parse_signal("USR1", &sig), 0);
    assert_int_equal(sig, 10);
    assert_int_equal(ca_parse_signal("sighup", &sig), 0);
    assert_int_equal(sig, 1);
    assert_int_equal(ca_parse_signal("KILL", &sig), -1);
    assert_int_equal(ca_parse_signal("", &sig), -1);
}

int main(int argc, char **argv)
{
    if (argc > 1) return strcmp(argv[1], "noop") == 0 ? child_noop() : 99;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_size),   cmocka_unit_test(test_numa_node),
        cmocka_unit_test(test_cache_blocks), cmocka_unit_test(test_sysfs_root),
        cmocka_unit_test(test_stats_signal), cmocka_unit_test(test_stats_file_and_format),
        cmocka_unit_test(test_booleans),     cmocka_unit_test(test_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
