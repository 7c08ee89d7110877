/*
 * The launcher (build/concordarena, from scripts/concordarena.in): --help,
 * bad options refused before the program starts, the program keeps the
 * process (pid, exit status, signals, stdin/stdout), LD_PRELOAD prepended,
 * statistics at exit, and `concordarena stats PID`.
 *
 * usage: test_launcher LAUNCHER
 */
#include "test_util.h"

#include <signal.h>
#include <sys/stat.h>

static const char *launcher;
static char tmpdir[64];

/* Run `launcher ARGS...` (argv without the launcher) with env added. */
static int run_launcher(const char *const *args, const char *const env[], char *out, size_t cap)
{
    char *argv[32];
    size_t n = 0;
    argv[n++] = (char *)launcher;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    return tu_run(argv, env, out, cap);
}

/* Run a shell command line (the launcher is $L). */
static int run_sh(const char *cmd, char *out, size_t cap)
{
    char l[4200];
    snprintf(l, sizeof(l), "L=%s", launcher);
    const char *env[] = {l, NULL};
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    return tu_run(argv, env, out, cap);
}

static int exit_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_help(void **state)
{
    (void)state;
    static char out[16384];
    const char *args[] = {"--help", NULL};
    int st = run_launcher(args, NULL, out, sizeof(out));
    assert_int_equal(exit_code(st), 0);
    static const char *const pairs[][2] = {
        {"--block-size", "CONCORD_ARENA_BLOCK_SIZE"},
        {"--numa-node", "CONCORD_ARENA_NUMA_NODE"},
        {"--cache-blocks", "CONCORD_ARENA_CACHE_BLOCKS"},
        {"--stats-at-exit", "CONCORD_ARENA_STATS_AT_EXIT"},
        {"--stats-file", "CONCORD_ARENA_STATS_FILE"},
        {"--json", "CONCORD_ARENA_STATS_FORMAT"},
        {"--stats-signal", "CONCORD_ARENA_STATS_SIGNAL"},
        {"--verbose", "CONCORD_ARENA_VERBOSE"},
        {"--abort-on-error", "CONCORD_ARENA_ABORT_ON_ERROR"},
        {"--no-abort-on-error", "CONCORD_ARENA_ABORT_ON_ERROR"},
        {"--background-purge", "CONCORD_ARENA_BACKGROUND_PURGE"},
        {"--library", "LD_PRELOAD"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        /* the option and its variable on one line */
        const char *p = strstr(out, pairs[i][0]);
        if (!p) fail_msg("--help does not list %s:\n%s", pairs[i][0], out);
        const char *eol = strchr(p, '\n');
        const char *v = strstr(p, pairs[i][1]);
        if (!v || (eol && v > eol)) fail_msg("%s without %s in --help", pairs[i][0], pairs[i][1]);
    }
    assert_non_null(strstr(out, "concordarena stats PID"));
}

/* Each bad option or value: exit 125, one line naming the option and the
 * value and what is accepted, and the program never started. */
static void test_bad_values_refused(void **state)
{
    (void)state;
    static const struct {
        const char *opt, *val, *says;
    } bad[] = {
        {"--block-size", "3K", "power of two from 16K to 1M"},
        {"--block-size", "2M", "power of two from 16K to 1M"},
        {"--block-size", "48K", "power of two from 16K to 1M"},
        {"--block-size", "64Q", "power of two from 16K to 1M"},
        {"--block-size", "", "power of two from 16K to 1M"},
        {"--numa-node", "-1", "0 to 63"},
        {"--numa-node", "64", "0 to 63"},
        {"--numa-node", "x", "0 to 63"},
        {"--numa-node", "3", "a node of this machine: 0 1"},
        {"--cache-blocks", "1048577", "0 to 1048576"},
        {"--cache-blocks", "lots", "0 to 1048576"},
        {"--stats-signal", "KILL", "a name such as USR2"},
        {"--stats-signal", "9", "a name such as USR2"},
        {"--stats-signal", "11", "a name such as USR2"},
        {"--stats-signal", "65", "a name such as USR2"},
        {"--stats-signal", "SIGFOO", "a name such as USR2"},
        {"--stats-file", "", "a file path"},
        {"--library", "/nonexistent/libx.so", "an existing shared library file"},
    };
    /* a fake machine with nodes 0 and 1 */
    char nodes[512], sysfs[128], marker[128], cmd[1024];
    snprintf(sysfs, sizeof(sysfs), "CONCORD_ARENA_SYSFS_ROOT=%s/sys", tmpdir);
    snprintf(nodes, sizeof(nodes),
             "mkdir -p %s/sys/devices/system/node/node0 "
             "%s/sys/devices/system/node/node1",
             tmpdir, tmpdir);
    char scratch[256];
    assert_int_equal(exit_code(run_sh(nodes, scratch, sizeof(scratch))), 0);
    snprintf(marker, sizeof(marker), "%s/started", tmpdir);
    const char *env[] = {sysfs, NULL};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[2048];
        /* both spellings: "--opt value" and "--opt=value" */
        for (int eq = 0; eq < 2; eq++) {
            char joined[256];
            snprintf(joined, sizeof(joined), "%s=%s", bad[i].opt, bad[i].val);
            const char *a1[] = {bad[i].opt, bad[i].val, "touch", marker, NULL};
            const char *a2[] = {joined, "touch", marker, NULL};
            int st = run_launcher(eq ? a2 : a1, env, out, sizeof(out));
            if (exit_code(st) != 125)
                fail_msg("%s '%s': status %d, %s", bad[i].opt, bad[i].val, exit_code(st), out);
            snprintf(cmd, sizeof(cmd), "%s '%s' refused: expected", bad[i].opt, bad[i].val);
            if (!strstr(out, cmd) || !strstr(out, bad[i].says))
                fail_msg("%s '%s': message %s", bad[i].opt, bad[i].val, out);
            assert_int_equal(tu_count(out, "\n"), 1);
            struct stat sb;
            assert_int_not_equal(stat(marker, &sb), 0); /* the program did not start */
        }
    }
    /* an unknown option, a missing value, a value given to a flag, no program */
    const char *const *const misuse[] = {
        (const char *const[]){"--bogus", "true", NULL},
        (const char *const[]){"--block-size", NULL},
        (const char *const[]){"--json=1", "true", NULL},
        (const char *const[]){"--verbose", NULL},
    };
    static const char *const says[] = {"unknown option '--bogus'", "--block-size needs a value",
                                       "--json takes no value", "no program to run"};
    for (size_t i = 0; i < 4; i++) {
        char out[2048];
        int st = run_launcher(misuse[i], NULL, out, sizeof(out));
        assert_int_equal(exit_code(st), 125);
        if (!strstr(out, says[i])) fail_msg("expected '%s', got %s", says[i], out);
    }
    /* a program that does not exist: 127, as a shell says */
    char out[1024];
    const char *nf[] = {"--", "/nonexistent/program", NULL};
    assert_int_equal(exit_code(run_launcher(nf, NULL, out, sizeof(out))), 127);
    assert_non_null(strstr(out, "command not found"));
}

/* Good values reach the program's environment, as given. */
static void test_options_set_environment(void **state)
{
    (void)state;
    char sysfs[128], file[128];
    snprintf(sysfs, sizeof(sysfs), "CONCORD_ARENA_SYSFS_ROOT=%s/sys", tmpdir);
    snprintf(file, sizeof(file), "%s/dumps.txt", tmpdir);
    const char *env[] = {sysfs, NULL};
    const char *args[] = {"--block-size",
                          "1M",
                          "--numa-node=1",
                          "--cache-blocks",
                          "0",
                          "--stats-signal",
                          "SIGUSR2",
                          "--stats-file",
                          file,
                          "--json",
                          "--verbose",
                          "--abort-on-error",
                          "--background-purge",
                          "--stats-at-exit",
                          "--",
                          "sh",
                          "-c",
                          "env | grep ^CONCORD_ARENA_ | sort",
                          NULL};
    static char out[16384];
    int st = run_launcher(args, env, out, sizeof(out));
    assert_int_equal(exit_code(st), 0);
    static const char *const want[] = {
        "CONCORD_ARENA_BLOCK_SIZE=1M\n",      "CONCORD_ARENA_NUMA_NODE=1\n",
        "CONCORD_ARENA_CACHE_BLOCKS=0\n",     "CONCORD_ARENA_STATS_SIGNAL=SIGUSR2\n",
        "CONCORD_ARENA_STATS_FORMAT=json\n",  "CONCORD_ARENA_VERBOSE=1\n",
        "CONCORD_ARENA_ABORT_ON_ERROR=1\n",   "CONCORD_ARENA_STATS_AT_EXIT=1\n",
        "CONCORD_ARENA_BACKGROUND_PURGE=1\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(out, want[i])) fail_msg("missing %s in:\n%s", want[i], out);
    char want_file[200];
    snprintf(want_file, sizeof(want_file), "CONCORD_ARENA_STATS_FILE=%s\n", file);
    assert_non_null(strstr(out, want_file));
    unlink(file);
}

static void test_exit_status_and_signals(void **state)
{
    (void)state;
    char out[1024];
    const char *a1[] = {"sh", "-c", "exit 42", NULL};
    assert_int_equal(exit_code(run_launcher(a1, NULL, out, sizeof(out))), 42);
    const char *a2[] = {"--", "sh", "-c", "kill -TERM $$", NULL};
    int st = run_launcher(a2, NULL, out, sizeof(out));
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGTERM);
    /* the program is the launcher's process: same pid */
    st = run_sh("echo $$; exec \"$L\" sh -c 'echo $$'", out, sizeof(out));
    assert_int_equal(exit_code(st), 0);
    long a = 0, b = -1;
    assert_int_equal(sscanf(out, "%ld %ld", &a, &b), 2);
    assert_int_equal(a, b);
    /* stdin and stdout pass through untouched */
    st = run_sh("printf 'one\\ntwo\\n' | \"$L\" cat", out, sizeof(out));
    assert_int_equal(exit_code(st), 0);
    assert_string_equal(out, "one\ntwo\n");
}

static void test_preload_prepended(void **state)
{
    (void)state;
    char out[4096];
    const char *env[] = {"LD_PRELOAD=libm.so.6", NULL};
    const char *args[] = {"sh", "-c", "printf '%s' \"$LD_PRELOAD\"", NULL};
    assert_int_equal(exit_code(run_launcher(args, env, out, sizeof(out))), 0);
    const char *colon = strchr(out, ':');
    assert_non_null(colon);
    assert_string_equal(colon, ":libm.so.6");
    assert_true(out[0] == '/');
    assert_non_null(strstr(out, "libconcordarena.so"));
    /* and the library it names is loaded */
    const char *a2[] = {"grep", "-c", "libconcordarena", "/proc/self/maps", NULL};
    assert_int_equal(exit_code(run_launcher(a2, NULL, out, sizeof(out))), 0);
}

/* `concordarena --stats-at-exit -- ls /`: ls closes its stderr at exit, and
 * the statistics still appear. */
static void test_stats_at_exit(void **state)
{
    (void)state;
    static char out[65536];
    const char *args[] = {"--stats-at-exit", "--", "ls", "/", NULL};
    assert_int_equal(exit_code(run_launcher(args, NULL, out, sizeof(out))), 0);
    assert_non_null(strstr(out, "usr\n"));
    assert_non_null(strstr(out, "=== concordarena statistics"));
    assert_non_null(strstr(out, "=== end ===\n"));
    const char *a2[] = {"--stats-at-exit", "--json", "ls", "/", NULL};
    assert_int_equal(exit_code(run_launcher(a2, NULL, out, sizeof(out))), 0);
    assert_non_null(strstr(out, "{\"concordarena\":"));
}

/* A child `launcher OPTS cat` with stdin, stdout and stderr on pipes. */
typedef struct {
    pid_t pid;
    int in, out, err;
} child_t;

static void spawn_cat(child_t *c, const char *const *opts)
{
    int i[2], o[2], e[2];
    assert_int_equal(pipe(i), 0);
    assert_int_equal(pipe(o), 0);
    assert_int_equal(pipe(e), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(i[0], 0);
        dup2(o[1], 1);
        dup2(e[1], 2);
        for (int k = 0; k < 2; k++) {
            close(i[k]);
            close(o[k]);
            close(e[k]);
        }
        char *argv[16];
        size_t n = 0;
        argv[n++] = (char *)launcher;
        for (; opts[n - 1]; n++)
            argv[n] = (char *)opts[n - 1];
        argv[n++] = "cat";
        argv[n] = NULL;
        execv(launcher, argv);
        _exit(127);
    }
    close(i[0]);
    close(o[1]);
    close(e[1]);
    c->in = i[1];
    c->out = o[0];
    c->err = e[0];
    /* a line through cat: the program runs, the library's handler is set */
    assert_int_equal(write(c->in, "ping\n", 5), 5);
    char buf[8];
    size_t got = 0;
    while (got < 5) {
        ssize_t r = read(c->out, buf + got, 5 - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_memory_equal(buf, "ping\n", 5);
}

static void end_cat(child_t *c)
{
    close(c->in); /* cat sees EOF and exits 0 */
    int st;
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
    assert_int_equal(exit_code(st), 0);
    close(c->out);
    close(c->err);
}

static void test_stats_command(void **state)
{
    (void)state;
    char file[128], cmd[64];
    static char out[65536];
    for (int json = 0; json < 2; json++) {
        snprintf(file, sizeof(file), "%s/stats-%d.out", tmpdir, json);
        /* an earlier dump in the file is not printed again */
        int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "old\n", 4), 4);
        close(fd);
        /* the JSON run dumps on SIGUSR2: `stats` reads the signal from the
         * program's environment */
        const char *opts[] = {
            "--stats-file",          file, json ? "--json" : "--verbose", "--stats-signal",
            json ? "SIGUSR2" : "10", NULL};
        child_t c;
        spawn_cat(&c, opts);
        snprintf(cmd, sizeof(cmd), "%d", (int)c.pid);
        const char *args[] = {"stats", cmd, NULL};
        int st = run_launcher(args, NULL, out, sizeof(out));
        if (exit_code(st) != 0) fail_msg("stats %d: %s", (int)c.pid, out);
        assert_null(strstr(out, "old\n"));
        char pidfield[64];
        if (json) {
            snprintf(pidfield, sizeof(pidfield), "\"pid\":%d,", (int)c.pid);
            assert_true(strncmp(out, "{\"concordarena\":", 16) == 0);
            assert_int_equal(tu_count(out, "\n"), 1);
        } else {
            snprintf(pidfield, sizeof(pidfield), "(pid %d,", (int)c.pid);
            assert_non_null(strstr(out, "=== end ===\n"));
        }
        assert_non_null(strstr(out, pidfield));
        end_cat(&c);
        unlink(file);
    }
    /* dumps to stderr: the request is sent, the dump lands on its stderr */
    const char *opts[] = {NULL};
    child_t c;
    spawn_cat(&c, opts);
    snprintf(cmd, sizeof(cmd), "%d", (int)c.pid);
    const char *args[] = {"stats", cmd, NULL};
    int st = run_launcher(args, NULL, out, sizeof(out));
    assert_int_equal(exit_code(st), 0);
    assert_non_null(strstr(out, "its statistics go to its standard error"));
    close(c.in);
    tu_read_all(c.err, out, sizeof(out));
    assert_non_null(strstr(out, "=== concordarena statistics"));
    c.in = open("/dev/null", O_RDONLY);
    end_cat(&c);

    /* statistics signal off: nothing sent, the program runs on */
    const char *off[] = {"--stats-signal", "0", NULL};
    spawn_cat(&c, off);
    snprintf(cmd, sizeof(cmd), "%d", (int)c.pid);
    st = run_launcher(args, NULL, out, sizeof(out));
    assert_int_equal(exit_code(st), 1);
    assert_non_null(strstr(out, "statistics signal turned off"));
    end_cat(&c);

    /* a process without the library is not signalled: this one (the
     * default action of SIGUSR1 would end this test) */
    snprintf(cmd, sizeof(cmd), "%d", (int)getpid());
    const char *self[] = {"stats", cmd, NULL};
    st = run_launcher(self, NULL, out, sizeof(out));
    assert_int_equal(exit_code(st), 1);
    assert_non_null(strstr(out, "nothing sent"));
    const char *none[] = {"stats", "0", NULL};
    assert_int_equal(exit_code(run_launcher(none, NULL, out, sizeof(out))), 1);
    const char *gone[] = {"stats", "2147483647", NULL};
    assert_int_equal(exit_code(run_launcher(gone, NULL, out, sizeof(out))), 1);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s LAUNCHER\n", argv[0]);
        return 2;
    }
    launcher = argv[1];
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ca-launcher-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_bad_values_refused),
        cmocka_unit_test(test_options_set_environment),
        cmocka_unit_test(test_exit_status_and_signals),
        cmocka_unit_test(test_preload_prepended),
        cmocka_unit_test(test_stats_at_exit),
        cmocka_unit_test(test_stats_command),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) rc = rc ? rc : 1;
    return rc;
}
