/*
 * The statistics signal: thousands of SIGUSR1 into a process allocating at
 * full speed on several threads (it finishes correctly, every dump is whole
 * JSON, nothing deadlocks); a program's own handler is kept; an ignored
 * signal stays ignored; another signal can be chosen. The core is linked in
 * here, so the program's signal() is glibc's own: these check what the
 * library installs at start. test_signal_disposition checks what a program
 * sees through the exported sigaction, signal, ... under LD_PRELOAD.
 */
#include "test_util.h"

#include "concord.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>

static _Atomic int stop;
static _Atomic long bad;

static void *allocator_thread(void *arg)
{
    uint64_t x = (uintptr_t)arg * 2654435761u + 1;
    unsigned char *keep[256] = {0};
    size_t keep_n[256] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x % 256);
        if (keep[k]) {
            for (size_t i = 0; i < keep_n[k]; i++)
                if (keep[k][i] != (unsigned char)(k + i)) atomic_fetch_add(&bad, 1);
            ca_free(keep[k]);
        }
        keep_n[k] = (size_t)(x >> 20) % ((x & 0x100) ? 100000 : 300) + 1;
        keep[k] = ca_malloc(keep_n[k]);
        for (size_t i = 0; i < keep_n[k]; i++)
            keep[k][i] = (unsigned char)(k + i);
    }
    for (int k = 0; k < 256; k++)
        ca_free(keep[k]);
    return NULL;
}

/* Child: allocate on 3 threads until stdin closes. */
static int child_storm(void)
{
    pthread_t t[3];
    for (uintptr_t i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, allocator_thread, (void *)i);
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    printf("done bad=%ld\n", atomic_load(&bad));
    return atomic_load(&bad) == 0 ? 0 : 1;
}

static volatile sig_atomic_t own_handler_ran;
static void own_handler(int sig)
{
    (void)sig;
    own_handler_ran = 1;
}

static int child_own_handler(void)
{
    void *p = ca_malloc(10); /* the library is up and has its handler */
    signal(SIGUSR1, own_handler);
    raise(SIGUSR1);
    ca_free(p);
    printf("own handler ran=%d\n", (int)own_handler_ran);
    return own_handler_ran ? 0 : 1;
}

static int child_raise(int sig)
{
    void *p = ca_malloc(10);
    raise(sig);
    ca_free(p);
    printf("still alive\n");
    return 0;
}

/* Child: the program closes the stats file's descriptor (as daemons close
 * every descriptor) and reuses its number for a file of its own; a dump must
 * not land in that file. Prints the descriptor it found. */
static int child_fd_reused(const char *other)
{
    void *p = ca_malloc(10);
    int found = -1;
    for (int fd = 3; fd < 1024 && found < 0; fd++) {
        char link[64], target[512];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strstr(target, "ca-reuse-stats")) found = fd;
        }
    }
    if (found < 0) return 20;
    close(found);
    int mine = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (mine < 0 || dup2(mine, found) != found) return 21;
    raise(SIGUSR1);
    ca_free(p);
    printf("stats fd %d\n", found);
    return 0;
}

static void test_reused_descriptor(void **state)
{
    (void)state;
    char stats[64], other[64], env[128];
    snprintf(stats, sizeof(stats), "/tmp/ca-reuse-stats-%d", (int)getpid());
    snprintf(other, sizeof(other), "/tmp/ca-reuse-other-%d", (int)getpid());
    snprintf(env, sizeof(env), "CONCORD_ARENA_STATS_FILE=%s", stats);
    char *argv[] = {(char *)tu_self(), "fd-reused", other, NULL};
    const char *envs[] = {env, NULL};
    char out[4096];
    int st = tu_run(argv, envs, out, sizeof(out));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("child %d: %s", st, out);
    struct stat sb;
    assert_int_equal(stat(other, &sb), 0);
    assert_int_equal(sb.st_size, 0); /* nothing written into the program's file */
    assert_int_equal(stat(stats, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    unlink(stats);
    unlink(other);
}

static void test_signal_storm(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ca-storm-%d.jsonl", (int)getpid());
    unlink(path);
    int in[2], outp[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(outp), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char env_file[128];
        snprintf(env_file, sizeof(env_file), "CONCORD_ARENA_STATS_FILE=%s", path);
        putenv(env_file);
        putenv("CONCORD_ARENA_STATS_FORMAT=json");
        dup2(in[0], 0);
        dup2(outp[1], 1);
        close(in[1]);
        close(outp[0]);
        execl(tu_self(), tu_self(), "storm", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    char line[256] = {0};
    size_t len = 0;
    while (len < sizeof(line) - 1 && !strchr(line, '\n')) {
        ssize_t r = read(outp[0], line + len, sizeof(line) - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
    }
    assert_non_null(strstr(line, "ready"));
    for (int i = 0; i < 5000; i++) {
        assert_int_equal(kill(pid, SIGUSR1), 0);
        if (i % 8 == 0) sched_yield();
    }
    close(in[1]); /* the child stops, joins, checks */
    char rest[256];
    tu_read_all(outp[0], rest, sizeof(rest));
    close(outp[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("child status %d: %s", st, rest);
    assert_non_null(strstr(rest, "done bad=0"));
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "python3 -c \"import json; n=0; last=0\nfor l in open('%s'):\n"
             "    d=json.loads(l); t=d['total']; assert t['allocs']>=last; last=t['allocs']; n+=1\n"
             "assert last>0; print('dumps', n)\"",
             path);
    char *argv[] = {"sh", "-c", cmd, NULL};
    char out[4096];
    st = tu_run(argv, NULL, out, sizeof(out));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("bad dump file: %s", out);
    long dumps = 0;
    const char *d = strstr(out, "dumps ");
    if (d) dumps = strtol(d + 6, NULL, 10);
    print_message("%ld complete dumps\n", dumps);
    assert_true(dumps >= 1);
    unlink(path);
}

static void test_program_handler_kept(void **state)
{
    (void)state;
    char out[65536];
    tu_run_self_ok("own-handler", NULL, out, sizeof(out));
    assert_non_null(strstr(out, "own handler ran=1"));
    assert_null(strstr(out, "concordarena statistics"));
}

static void test_default_dump_on_stderr(void **state)
{
    (void)state;
    char out[65536];
    int st = tu_run_self("raise-usr1", NULL, out, sizeof(out));
    assert_true(WIFEXITED(st));
    assert_non_null(strstr(out, "=== concordarena statistics"));
    assert_non_null(strstr(out, "still alive"));
}

static void test_other_signal(void **state)
{
    (void)state;
    char out[65536];
    int st = tu_run_self("raise-usr2", "CONCORD_ARENA_STATS_SIGNAL=USR2", out, sizeof(out));
    assert_true(WIFEXITED(st));
    assert_non_null(strstr(out, "=== concordarena statistics"));
    /* signal 0: no handler, so SIGUSR2 keeps its default action */
    st = tu_run_self("raise-usr2", "CONCORD_ARENA_STATS_SIGNAL=0", out, sizeof(out));
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGUSR2);
}

static void test_ignored_signal_stays_ignored(void **state)
{
    (void)state;
    /* SIG_IGN survives exec: the library finds it and leaves it */
    char out[65536];
    pid_t pid;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        signal(SIGUSR1, SIG_IGN);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        execl(tu_self(), tu_self(), "raise-usr1", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    tu_read_all(fds[0], out, sizeof(out));
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_non_null(strstr(out, "still alive"));
    assert_null(strstr(out, "concordarena statistics"));
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "storm")) return child_storm();
        if (!strcmp(argv[1], "fd-reused") && argc > 2) return child_fd_reused(argv[2]);
        if (!strcmp(argv[1], "own-handler")) return child_own_handler();
        if (!strcmp(argv[1], "raise-usr1")) return child_raise(SIGUSR1);
        if (!strcmp(argv[1], "raise-usr2")) return child_raise(SIGUSR2);
        return 99;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal_storm),
        cmocka_unit_test(test_program_handler_kept),
        cmocka_unit_test(test_default_dump_on_stderr),
        cmocka_unit_test(test_other_signal),
        cmocka_unit_test(test_ignored_signal_stays_ignored),
        cmocka_unit_test(test_reused_descriptor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
