/*
 * The statistics signal as a program under LD_PRELOAD sees it: SIG_DFL to
 * every query (sigaction, signal, bsd_signal, ssignal, sysv_signal,
 * __sysv_signal, sigset) until the program sets the signal; the program's own
 * disposition after that (SIG_DFL then terminates); glibc's semantics for
 * each call; a dump on kill -USR1 for a program (C or python3) that never
 * touched the signal; a child of fork keeps its parent's state; threads and
 * signal handlers setting the signal at once (one of them gets SIG_DFL).
 *
 * Every case runs in a fresh process (this binary again, or python3), so each
 * starts with the library's handler in place; a case that ends in death by
 * SIGUSR1 is checked from its parent. The python3 cases run with --python,
 * registered as a ctest of their own that is skipped where there is no
 * python3 on PATH.
 */
#include "test_util.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* sigset, sigignore and siginterrupt are deprecated in glibc's headers, and
 * are exactly what is tested here. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* Declared by <signal.h> only for old X/Open programs. */
extern sighandler_t bsd_signal(int sig, sighandler_t handler);

/* The kernel flag glibc adds to every action it sets (not in its headers). */
#define KERNEL_SA_RESTORER 0x04000000

#define SKIPPED 77 /* ctest's SKIP_RETURN_CODE */

#define DUMP_HEADER "=== concordarena statistics"
#define DUMP_END    "=== end ==="

/* ---- child side ---- */

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("check failed at line %d: %s\n", __LINE__, #c);                                 \
            fflush(stdout);                                                                        \
            _exit(50);                                                                             \
        }                                                                                          \
    } while (0)

static volatile sig_atomic_t h1_count, h2_count, usr2_saw_default;

static void h1(int sig)
{
    (void)sig;
    h1_count++;
}

static void h2(int sig)
{
    (void)sig;
    h2_count++;
}

/* A handler may ask too: sigaction is async-signal-safe. */
static void usr2_asks(int sig)
{
    (void)sig;
    struct sigaction q;
    usr2_saw_default = sigaction(SIGUSR1, NULL, &q) == 0 && q.sa_handler == SIG_DFL;
}

/* The answer glibc gives for a signal never set: SIG_DFL, no flags, an empty
 * mask (whole: the answer is expected to be complete, not a copy of the
 * kernel's 8 bytes over what the caller had). */
static int is_default(const struct sigaction *sa)
{
    sigset_t empty;
    memset(&empty, 0, sizeof(empty)); /* sigemptyset clears only the kernel's word */
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&sa->sa_mask, sig)) return 0;
    return sa->sa_handler == SIG_DFL && sa->sa_flags == 0 &&
           memcmp(&sa->sa_mask, &empty, sizeof(empty)) == 0;
}

static struct sigaction query(int sig)
{
    struct sigaction sa;
    memset(&sa, 0x5a, sizeof(sa));
    CHECK(sigaction(sig, NULL, &sa) == 0);
    return sa;
}

/* The handler the kernel holds, read with the raw system call (what a
 * program that bypasses the C library sees). */
static void *kernel_handler(int sig)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } k;
    CHECK(syscall(SYS_rt_sigaction, sig, NULL, &k, 8) == 0);
    return k.handler;
}

static int blocked(int sig)
{
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    return sigismember(&now, sig);
}

static void done(const char *what)
{
    printf("%s ok\n", what);
    fflush(stdout);
}

/* Nothing touched: SIG_DFL to every query, our handler dumps. */
static int child_query(void)
{
    free(malloc(10)); /* the library is up */
    struct sigaction sa = query(SIGUSR1);
    CHECK(is_default(&sa));
    CHECK(kernel_handler(SIGUSR1) != (void *)SIG_DFL); /* ours, behind the scenes */
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = usr2_asks;
    CHECK(sigaction(SIGUSR2, &act, NULL) == 0);
    raise(SIGUSR2);
    CHECK(usr2_saw_default);
    raise(SIGUSR1); /* a dump on stderr, and on we go */
    sa = query(SIGUSR1);
    CHECK(is_default(&sa));
    done("query");
    return 0;
}

/* The program's first sigaction gets SIG_DFL as the old action; its handler
 * wins; restoring what it saved gives the real default: raise terminates. */
static int child_save_restore(void)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    memset(&old, 0x5a, sizeof(old));
    act.sa_handler = h1;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_RESTART;
    CHECK(sigaction(SIGUSR1, &act, &old) == 0);
    CHECK(is_default(&old));
    CHECK(kernel_handler(SIGUSR1) == (void *)h1);
    struct sigaction now = query(SIGUSR1);
    CHECK(now.sa_handler == h1 && (now.sa_flags & SA_RESTART));
    raise(SIGUSR1);
    CHECK(h1_count == 1);
    printf("own handler ran\n");
    fflush(stdout);
    CHECK(sigaction(SIGUSR1, &old, NULL) == 0);
    now = query(SIGUSR1);
    CHECK(now.sa_handler == SIG_DFL);
    CHECK(kernel_handler(SIGUSR1) == (void *)SIG_DFL);
    raise(SIGUSR1);
    printf("still alive\n");
    return 0;
}

/* SIG_DFL set by the program is the real one. */
static int child_set_default(void)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = SIG_DFL;
    sigemptyset(&act.sa_mask);
    CHECK(sigaction(SIGUSR1, &act, &old) == 0);
    CHECK(is_default(&old));
    printf("set SIG_DFL\n");
    fflush(stdout);
    raise(SIGUSR1);
    printf("still alive\n");
    return 0;
}

/* signal() and sigaction() mixed, on the statistics signal and another. */
static int child_mixed(void)
{
    CHECK(signal(SIGUSR1, h1) == SIG_DFL);
    struct sigaction now = query(SIGUSR1);
    /* BSD semantics: restart, handler kept, the signal blocked while it runs */
    CHECK(now.sa_handler == h1 && (now.sa_flags & SA_RESTART) && !(now.sa_flags & SA_RESETHAND));
    CHECK(sigismember(&now.sa_mask, SIGUSR1));
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = h2;
    sigemptyset(&act.sa_mask);
    CHECK(sigaction(SIGUSR1, &act, &old) == 0 && old.sa_handler == h1);
    CHECK(signal(SIGUSR1, SIG_DFL) == h2);
    now = query(SIGUSR1);
    CHECK(now.sa_handler == SIG_DFL);
    CHECK(kernel_handler(SIGUSR1) == (void *)SIG_DFL); /* the program's SIG_DFL, not ours */
    CHECK(signal(SIGUSR1, h1) == SIG_DFL);
    raise(SIGUSR1);
    CHECK(h1_count == 1 && h2_count == 0);

    /* another signal goes straight through, siginterrupt included */
    CHECK(signal(SIGUSR2, h1) == SIG_DFL);
    now = query(SIGUSR2);
    CHECK(now.sa_handler == h1 && (now.sa_flags & SA_RESTART));
    CHECK(siginterrupt(SIGUSR2, 1) == 0);
    now = query(SIGUSR2);
    CHECK(now.sa_handler == h1 && !(now.sa_flags & SA_RESTART));
    CHECK(signal(SIGUSR2, h2) == h1);
    now = query(SIGUSR2);
    CHECK(now.sa_handler == h2 && !(now.sa_flags & SA_RESTART));
    CHECK(siginterrupt(SIGUSR2, 0) == 0);
    CHECK(signal(SIGUSR2, h1) == h2);
    now = query(SIGUSR2);
    CHECK(now.sa_flags & SA_RESTART);

    /* errors as glibc gives them */
    errno = 0;
    CHECK(signal(0, h1) == SIG_ERR && errno == EINVAL);
    errno = 0;
    CHECK(signal(SIGUSR1, SIG_ERR) == SIG_ERR && errno == EINVAL);
    errno = 0;
    CHECK(signal(NSIG, h1) == SIG_ERR && errno == EINVAL);
    errno = 0;
    CHECK(sigaction(SIGKILL, &act, NULL) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(sigaction(-1, NULL, &old) == -1 && errno == EINVAL);
    done("mixed");
    return 0;
}

/* sigset(SIG_HOLD) blocks and answers the disposition (SIG_DFL), or SIG_HOLD
 * when the signal was blocked already; holding is no change of disposition:
 * a held SIGUSR1 dumps once released. */
static int child_sigset(void)
{
    CHECK(sigset(SIGUSR1, SIG_HOLD) == SIG_DFL);
    CHECK(blocked(SIGUSR1));
    CHECK(sigset(SIGUSR1, SIG_HOLD) == SIG_HOLD);
    struct sigaction now = query(SIGUSR1);
    CHECK(is_default(&now));
    raise(SIGUSR1); /* pending */
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &one, NULL); /* delivered: a dump */
    printf("released\n");
    fflush(stdout);
    CHECK(sigset(SIGUSR1, SIG_HOLD) == SIG_DFL);
    CHECK(sigset(SIGUSR1, h1) == SIG_HOLD); /* it was blocked; now it is not */
    CHECK(!blocked(SIGUSR1));
    now = query(SIGUSR1);
    CHECK(now.sa_handler == h1 && (now.sa_flags & ~KERNEL_SA_RESTORER) == 0);
    raise(SIGUSR1);
    CHECK(h1_count == 1);
    CHECK(sigset(SIGUSR1, h2) == h1);
    done("sigset");
    return 0;
}

/* The first call of one of glibc's ways to set a disposition answers SIG_DFL
 * and takes the signal: the handler runs, no dump. */
static int child_first(const char *how)
{
    sighandler_t old = (sighandler_t)1234;
    int ign = 0;
    if (!strcmp(how, "signal"))
        old = signal(SIGUSR1, h1);
    else if (!strcmp(how, "bsd_signal"))
        old = bsd_signal(SIGUSR1, h1);
    else if (!strcmp(how, "ssignal"))
        old = ssignal(SIGUSR1, h1);
    else if (!strcmp(how, "sysv_signal"))
        old = sysv_signal(SIGUSR1, h1);
    else if (!strcmp(how, "__sysv_signal"))
        old = __sysv_signal(SIGUSR1, h1);
    else if (!strcmp(how, "sigset"))
        old = sigset(SIGUSR1, h1);
    else if (!strcmp(how, "sigignore")) {
        CHECK(sigignore(SIGUSR1) == 0);
        old = SIG_DFL;
        ign = 1;
    } else
        return 98;
    CHECK(old == SIG_DFL);
    struct sigaction now = query(SIGUSR1);
    CHECK(now.sa_handler == (ign ? SIG_IGN : h1));
    int sysv = strstr(how, "sysv") != NULL;
    if (sysv)
        CHECK((now.sa_flags & SA_RESETHAND) && (now.sa_flags & SA_NODEFER) &&
              !(now.sa_flags & SA_RESTART));
    raise(SIGUSR1);
    CHECK(h1_count == (ign ? 0 : 1));
    if (sysv) { /* one-shot: the real default afterwards */
        now = query(SIGUSR1);
        CHECK(now.sa_handler == SIG_DFL);
        CHECK(kernel_handler(SIGUSR1) == (void *)SIG_DFL);
    }
    done(how);
    return 0;
}

/* Fork: the child keeps the parent's state, ours and then the program's. */
static int child_fork(void)
{
    free(malloc(10));
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = query(SIGUSR1);
        CHECK(is_default(&sa));
        raise(SIGUSR1); /* ours: a dump */
        done("forked child (library's handler)");
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(signal(SIGUSR1, h1) == SIG_DFL);
    pid = fork();
    if (pid == 0) {
        struct sigaction sa = query(SIGUSR1);
        CHECK(sa.sa_handler == h1);
        raise(SIGUSR1);
        CHECK(h1_count == 1);
        done("forked child (program's handler)");
        _exit(0);
    }
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    done("fork");
    return 0;
}

/* Verbose: one line when the program takes the signal. */
static int child_take_twice(void)
{
    CHECK(signal(SIGUSR1, h1) == SIG_DFL);
    CHECK(signal(SIGUSR1, h2) == h1);
    done("take twice");
    return 0;
}

/* Started with SIGUSR1 ignored (inherited across exec): that is the program's
 * disposition, answered as it is; no handler of ours. */
static int child_inherited_ignore(void)
{
    free(malloc(10));
    struct sigaction sa = query(SIGUSR1);
    CHECK(sa.sa_handler == SIG_IGN);
    raise(SIGUSR1);
    CHECK(signal(SIGUSR1, h1) == SIG_IGN);
    done("inherited ignore");
    return 0;
}

/* Threads set SIGUSR1 over and over, and so do signal handlers interrupting
 * them (setting from a handler must not wait for a lock its own thread
 * holds): exactly one of all those calls gets SIG_DFL as the old action. */
static atomic_int old_default_seen, handler_sets;
static _Atomic int threads_stop;

static void set_usr1_counting(sighandler_t h)
{
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = h;
    sigemptyset(&act.sa_mask);
    if (sigaction(SIGUSR1, &act, &old) == 0 && old.sa_handler == SIG_DFL)
        atomic_fetch_add(&old_default_seen, 1);
}

static void usr2_sets(int sig)
{
    (void)sig;
    int saved = errno;
    set_usr1_counting(h2);
    atomic_fetch_add(&handler_sets, 1);
    errno = saved;
}

static void *setter_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3000 || !atomic_load(&threads_stop); i++) {
        set_usr1_counting(i & 1 ? h1 : h2);
        struct sigaction q = query(SIGUSR1);
        CHECK(q.sa_handler == h1 || q.sa_handler == h2);
    }
    return NULL;
}

static int child_threads(void)
{
    free(malloc(10));
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = usr2_sets;
    sigemptyset(&act.sa_mask);
    CHECK(sigaction(SIGUSR2, &act, NULL) == 0);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, setter_thread, NULL) == 0);
    for (int round = 0; round < 500; round++)
        for (int i = 0; i < 4; i++)
            CHECK(pthread_kill(t[i], SIGUSR2) == 0); /* they run until told to stop */
    atomic_store(&threads_stop, 1);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    CHECK(atomic_load(&old_default_seen) == 1);
    CHECK(atomic_load(&handler_sets) > 0);
    done("threads");
    return 0;
}

/* Wait for the parent to close stdin. */
static int child_wait(void)
{
    free(malloc(10));
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    printf("bye\n");
    return 0;
}

/* ---- parent side ---- */

static void expect_exit0(const char *mode, const char *env, const char *ok, int dumps)
{
    char out[1 << 16];
    tu_run_self_ok(mode, env, out, sizeof(out));
    if (!strstr(out, ok)) fail_msg("%s: no \"%s\" in: %s", mode, ok, out);
    assert_int_equal(tu_count(out, DUMP_HEADER), dumps);
}

static void expect_usr1_death(const char *mode, const char *before)
{
    char out[1 << 16];
    int st = tu_run_self(mode, NULL, out, sizeof(out));
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGUSR1) fail_msg("%s: status %d: %s", mode, st, out);
    assert_non_null(strstr(out, before));
    assert_null(strstr(out, "still alive"));
    assert_null(strstr(out, DUMP_HEADER));
}

static void test_query_before_and_after(void **state)
{
    (void)state;
    expect_exit0("query", NULL, "query ok", 1);
}

static void test_save_restore_then_default_terminates(void **state)
{
    (void)state;
    expect_usr1_death("save-restore", "own handler ran");
}

static void test_program_default_terminates(void **state)
{
    (void)state;
    expect_usr1_death("set-default", "set SIG_DFL");
}

static void test_signal_and_sigaction_mixed(void **state)
{
    (void)state;
    expect_exit0("mixed", NULL, "mixed ok", 0);
}

static void test_sigset_hold(void **state)
{
    (void)state;
    expect_exit0("sigset", NULL, "sigset ok", 1);
}

static void test_first_call_of_each(void **state)
{
    (void)state;
    static const char *const calls[] = {"signal",        "bsd_signal", "ssignal",  "sysv_signal",
                                        "__sysv_signal", "sigset",     "sigignore"};
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        char mode[64], ok[64];
        snprintf(mode, sizeof(mode), "first=%s", calls[i]);
        snprintf(ok, sizeof(ok), "%s ok", calls[i]);
        expect_exit0(mode, NULL, ok, 0);
    }
}

static void test_fork_keeps_state(void **state)
{
    (void)state;
    char out[1 << 16];
    tu_run_self_ok("fork", NULL, out, sizeof(out));
    assert_non_null(strstr(out, "forked child (library's handler) ok"));
    assert_non_null(strstr(out, "forked child (program's handler) ok"));
    assert_non_null(strstr(out, "fork ok"));
    assert_int_equal(tu_count(out, DUMP_HEADER), 1);
}

static void test_verbose_says_taken(void **state)
{
    (void)state;
    char out[1 << 16];
    tu_run_self_ok("take-twice", "CONCORD_ARENA_VERBOSE=1", out, sizeof(out));
    assert_int_equal(tu_count(out, "statistics dumps by signal are off"), 1);
    assert_non_null(strstr(out, "the program set its own disposition of signal 10"));
    /* a program that never takes it gets no such line */
    tu_run_self_ok("query", "CONCORD_ARENA_VERBOSE=1", out, sizeof(out));
    assert_int_equal(tu_count(out, "statistics dumps by signal are off"), 0);
}

static void test_inherited_ignore_is_kept(void **state)
{
    (void)state;
    char out[1 << 16];
    char *argv[] = {"sh", "-c", "trap '' USR1; exec \"$0\" inherited-ignore", (char *)tu_self(),
                    NULL};
    const char *env[] = {"CONCORD_ARENA_VERBOSE=1", NULL};
    int st = tu_run(argv, env, out, sizeof(out));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("status %d: %s", st, out);
    assert_non_null(strstr(out, "inherited ignore ok"));
    assert_null(strstr(out, DUMP_HEADER));
    assert_non_null(strstr(out, "already has a disposition"));
}

/* A process started with its stdin and stdout on pipes and its dumps going
 * to a FIFO that this process holds open for reading and writing (so neither
 * side ever blocks on open, and reads never see an end). */
typedef struct {
    pid_t pid;
    int in;    /* its stdin */
    int out;   /* its stdout and stderr */
    int stats; /* the FIFO */
    char fifo[64];
} proc_t;

static void proc_start(proc_t *p, char *const argv[])
{
    static int serial;
    snprintf(p->fifo, sizeof(p->fifo), "/tmp/ca-sigdisp-%d-%d", (int)getpid(), serial++);
    unlink(p->fifo);
    assert_int_equal(mkfifo(p->fifo, 0600), 0);
    p->stats = open(p->fifo, O_RDWR | O_CLOEXEC);
    assert_true(p->stats >= 0);
    int in[2], out[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        setenv("CONCORD_ARENA_STATS_FILE", p->fifo, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in = in[1];
    p->out = out[0];
}

/* Read `fd` until `needle` has been seen (or the end, or 60 s without a
 * byte, which fails the test rather than hanging it). */
static int read_until(int fd, const char *needle, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    while (!strstr(buf, needle) && len + 1 < cap) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 60000) <= 0) return -1;
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        len += (size_t)r;
        buf[len] = '\0';
    }
    return strstr(buf, needle) ? 0 : -1;
}

/* Start argv, wait for "ready PID", kill -USR1 PID, read one whole dump of
 * that PID from the FIFO, close stdin, expect exit 0. */
static void kill_and_read_dump(char *const argv[])
{
    proc_t p;
    proc_start(&p, argv);
    char line[4096];
    if (read_until(p.out, "\n", line, sizeof(line)) != 0 || !strstr(line, "ready "))
        fail_msg("no ready line: %s", line);
    int target = atoi(strstr(line, "ready ") + 6);
    assert_true(target > 0);
    assert_int_equal(kill(target, SIGUSR1), 0);
    static char dump[1 << 17];
    if (read_until(p.stats, DUMP_END, dump, sizeof(dump)) != 0) fail_msg("no dump: %s", dump);
    char pid_text[32];
    snprintf(pid_text, sizeof(pid_text), "(pid %d,", target);
    assert_non_null(strstr(dump, pid_text));
    close(p.in);
    char rest[4096];
    tu_read_all(p.out, rest, sizeof(rest));
    close(p.out);
    int st;
    assert_int_equal(waitpid(p.pid, &st, 0), p.pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("status %d: %s%s", st, line, rest);
    close(p.stats);
    unlink(p.fifo);
}

static void test_threads_and_handlers_set_at_once(void **state)
{
    (void)state;
    char out[1 << 16];
    int st = tu_run_self("threads", "CONCORD_ARENA_VERBOSE=1", out, sizeof(out));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("status %d: %s", st, out);
    assert_non_null(strstr(out, "threads ok"));
    assert_int_equal(tu_count(out, "statistics dumps by signal are off"), 1);
    assert_null(strstr(out, DUMP_HEADER));
}

static void test_kill_dumps_when_untouched(void **state)
{
    (void)state;
    char *argv[] = {(char *)tu_self(), "wait", NULL};
    kill_and_read_dump(argv);
}

static int have_python(void)
{
    char out[256];
    char *argv[] = {"python3", "-c", "print('python here')", NULL};
    int st = tu_run(argv, NULL, out, sizeof(out));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(out, "python here") != NULL;
}

static void test_python_getsignal_and_restore(void **state)
{
    (void)state;
    const char *script =
        "import os, signal\n"
        "assert 'libconcordarena' in open('/proc/self/maps').read(), 'library not loaded'\n"
        "assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL, "
        "signal.getsignal(signal.SIGUSR1)\n"
        "got = []\n"
        "old = signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))\n"
        "assert old is signal.SIG_DFL, old\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "assert got == [signal.SIGUSR1], got\n"
        "signal.signal(signal.SIGUSR1, old)\n"
        "assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL\n"
        "print('restored', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "print('still alive', flush=True)\n";
    char *argv[] = {"python3", "-c", (char *)script, NULL};
    char out[1 << 16];
    int st = tu_run(argv, NULL, out, sizeof(out));
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGUSR1) fail_msg("status %d: %s", st, out);
    assert_non_null(strstr(out, "restored"));
    assert_null(strstr(out, "still alive"));
    assert_null(strstr(out, DUMP_HEADER));
}

static void test_python_kill_dumps_when_untouched(void **state)
{
    (void)state;
    const char *script = "import os, signal, sys\n"
                         "assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL\n"
                         "print('ready', os.getpid(), flush=True)\n"
                         "sys.stdin.read()\n";
    char *argv[] = {"python3", "-c", (char *)script, NULL};
    kill_and_read_dump(argv);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--python")) {
        /* python3 under the library: a test of its own, skipped without python3 */
        if (!have_python()) {
            printf("python3 not found: skipped\n");
            return SKIPPED;
        }
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_python_getsignal_and_restore),
            cmocka_unit_test(test_python_kill_dumps_when_untouched),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
    }
    if (argc > 1) {
        const char *m = argv[1];
        if (!strcmp(m, "query")) return child_query();
        if (!strcmp(m, "save-restore")) return child_save_restore();
        if (!strcmp(m, "set-default")) return child_set_default();
        if (!strcmp(m, "mixed")) return child_mixed();
        if (!strcmp(m, "sigset")) return child_sigset();
        if (!strncmp(m, "first=", 6)) return child_first(m + 6);
        if (!strcmp(m, "fork")) return child_fork();
        if (!strcmp(m, "take-twice")) return child_take_twice();
        if (!strcmp(m, "inherited-ignore")) return child_inherited_ignore();
        if (!strcmp(m, "wait")) return child_wait();
        if (!strcmp(m, "threads")) return child_threads();
        return 99;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_before_and_after),
        cmocka_unit_test(test_save_restore_then_default_terminates),
        cmocka_unit_test(test_program_default_terminates),
        cmocka_unit_test(test_signal_and_sigaction_mixed),
        cmocka_unit_test(test_sigset_hold),
        cmocka_unit_test(test_first_call_of_each),
        cmocka_unit_test(test_fork_keeps_state),
        cmocka_unit_test(test_verbose_says_taken),
        cmocka_unit_test(test_inherited_ignore_is_kept),
        cmocka_unit_test(test_threads_and_handlers_set_at_once),
        cmocka_unit_test(test_kill_dumps_when_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
