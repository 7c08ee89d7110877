/*
 * The statistics signal as the program sees it.
 *
 * Our handler stands in for the default disposition and looks like it: while
 * the kernel's disposition of the statistics signal is ca_stats_handler, every
 * way of asking (sigaction's oldact, signal's return value, sigset, ...)
 * answers SIG_DFL with an empty mask and no flags. The program setting any
 * disposition of that signal (a handler, SIG_IGN or SIG_DFL) replaces ours
 * for good: from then on the real disposition is the program's own.
 *
 * State. The kernel's disposition is the state: "ours" means the handler
 * found there is ca_stats_handler, so a query is one sigaction call and a
 * comparison (async-signal-safe, nothing to keep in step), and a child of
 * fork keeps its parent's state for free. What the kernel cannot say is
 * whether the program set the signal before the library installed its
 * handler; ca_sig_by_program keeps that, one bit per signal.
 *
 * Setting the statistics signal (and any signal before ca_init is done, when
 * the statistics signal is not known yet) is serialised with installing our
 * handler by a spin lock, held around one sigaction call with every signal
 * blocked, so a signal handler never waits for a lock its own thread holds.
 * Every other signal goes straight to the C library.
 *
 * The real sigaction is the platform's ca_os_sigaction (in the library the
 * name `sigaction` is this file's own export).
 */
#include "statsignal.h"

#include "concord.h"
#include "options.h"
#include "os.h"
#include "stats.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

static _Atomic int ca_sig_lock_word;         /* 1: held */
static _Atomic int ca_sig_installed;         /* 1: ca_stats_install_signal has run */
static _Atomic uint64_t ca_sig_by_program;   /* bit sig-1: the program has set that signal */
static _Atomic uint64_t ca_sig_interrupting; /* bit sig-1: siginterrupt(sig, 1) is in force */

static uint64_t ca_sig_bit(int sig)
{
    return sig >= 1 && sig <= 64 ? (uint64_t)1 << (sig - 1) : 0;
}

static void ca_sig_lock(sigset_t *saved)
{
    ca_os_block_signals(saved);
    while (atomic_exchange_explicit(&ca_sig_lock_word, 1, memory_order_acquire) != 0)
        while (atomic_load_explicit(&ca_sig_lock_word, memory_order_relaxed) != 0)
            ca_os_yield();
}

static void ca_sig_unlock(const sigset_t *saved)
{
    atomic_store_explicit(&ca_sig_lock_word, 0, memory_order_release);
    ca_os_restore_signals(saved);
}

/* Must setting `sig` be serialised with installing our handler? */
static int ca_sig_guarded(int sig)
{
    if (!atomic_load_explicit(&ca_sig_installed, memory_order_acquire)) return 1;
    return ca_cfg.stats_signal > 0 && sig == ca_cfg.stats_signal;
}

/* Dump the statistics: the handler installed on the statistics signal. */
static void ca_stats_handler(int sig)
{
    (void)sig;
    int saved = errno;
    int fd = ca_stats_fd();
    if (fd >= 0) ca_stats_try_dump(fd, ca_cfg.stats_json);
    errno = saved;
}

static int ca_sig_is_ours(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == ca_stats_handler;
}

/* What the program would see with no library: the default disposition. */
static void ca_sig_as_default(struct sigaction *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sa_handler = SIG_DFL;
}

/* One line on stderr (async-signal-safe): "signal N" then `what`. */
static void ca_sig_message(const char *before, int sig, const char *what)
{
    char num[24];
    ca_message(before, "signal ", ca_u64_text(num, (uint64_t)sig), " (CONCORD_ARENA_STATS_SIGNAL)",
               what, NULL);
}

void ca_stats_install_signal(void)
{
    int sig = ca_cfg.stats_signal;
    if (sig <= 0) {
        atomic_store_explicit(&ca_sig_installed, 1, memory_order_release);
        return;
    }
    sigset_t saved;
    struct sigaction old;
    int installed = 0;
    ca_sig_lock(&saved);
    if (!(atomic_load_explicit(&ca_sig_by_program, memory_order_relaxed) & ca_sig_bit(sig)) &&
        ca_os_sigaction(sig, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
        old.sa_handler == SIG_DFL) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = ca_stats_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        installed = ca_os_sigaction(sig, &sa, NULL) == 0;
    }
    atomic_store_explicit(&ca_sig_installed, 1, memory_order_release);
    ca_sig_unlock(&saved);
    if (!installed && ca_cfg.verbose)
        ca_sig_message("", sig,
                       " already has a disposition of the program's: "
                       "statistics dumps by signal are off");
}

void ca_signal_after_fork_child(void)
{
    /* A thread that held the lock does not exist in the child. */
    atomic_store_explicit(&ca_sig_lock_word, 0, memory_order_relaxed);
}

int ca_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (act == NULL) {
        int r = ca_os_sigaction(sig, NULL, old);
        if (r == 0 && old != NULL && ca_sig_is_ours(old)) ca_sig_as_default(old);
        return r;
    }
    if (!ca_sig_guarded(sig)) return ca_os_sigaction(sig, act, old);
    struct sigaction prev;
    sigset_t saved;
    int taken = 0;
    ca_sig_lock(&saved);
    int r = ca_os_sigaction(sig, act, &prev);
    if (r == 0) {
        atomic_fetch_or_explicit(&ca_sig_by_program, ca_sig_bit(sig), memory_order_relaxed);
        if (ca_sig_is_ours(&prev)) {
            ca_sig_as_default(&prev);
            taken = 1;
        }
    }
    ca_sig_unlock(&saved);
    if (taken && ca_cfg.verbose)
        ca_sig_message("the program set its own disposition of ", sig,
                       ": statistics dumps by signal are off");
    if (r == 0 && old != NULL) *old = prev;
    return r;
}

/* signal() and its relatives: set `handler` with `flags`, the signal itself
 * blocked while it runs when `block_self`; the previous handler, or SIG_ERR. */
static ca_sighandler_t ca_signal_set(int sig, ca_sighandler_t handler, int flags, int block_self)
{
    if (handler == SIG_ERR || sig < 1 || sig >= NSIG) {
        errno = EINVAL;
        return SIG_ERR;
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    if (block_self) sigaddset(&act.sa_mask, sig);
    act.sa_flags = flags;
    if (ca_sigaction(sig, &act, &old) < 0) return SIG_ERR;
    return old.sa_handler;
}

/* BSD semantics: restarting (unless siginterrupt said otherwise), the
 * handler kept, the signal blocked while it runs. */
ca_sighandler_t ca_signal_bsd(int sig, ca_sighandler_t handler)
{
    int restart =
        sig >= 1 && sig <= 64 &&
        !(atomic_load_explicit(&ca_sig_interrupting, memory_order_relaxed) & ca_sig_bit(sig));
    return ca_signal_set(sig, handler, restart ? SA_RESTART : 0, 1);
}

/* System V semantics: one shot, not blocked, not restarting. */
ca_sighandler_t ca_signal_sysv(int sig, ca_sighandler_t handler)
{
    return ca_signal_set(sig, handler, (SA_RESETHAND | SA_NODEFER | SA_INTERRUPT) & ~SA_RESTART, 0);
}

ca_sighandler_t ca_sigset(int sig, ca_sighandler_t disp)
{
    sigset_t set, oset;
    sigemptyset(&set);
    if (sigaddset(&set, sig) < 0) return SIG_ERR;
    struct sigaction old;
    if (disp == SIG_HOLD) {
        if (ca_os_sigprocmask(SIG_BLOCK, &set, &oset) < 0) return SIG_ERR;
        if (sigismember(&oset, sig)) return SIG_HOLD; /* it was blocked already */
        if (ca_sigaction(sig, NULL, &old) < 0) return SIG_ERR;
        return old.sa_handler;
    }
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = disp;
    sigemptyset(&act.sa_mask);
    act.sa_flags = 0;
    if (ca_sigaction(sig, &act, &old) < 0) return SIG_ERR;
    if (ca_os_sigprocmask(SIG_UNBLOCK, &set, &oset) < 0) return SIG_ERR;
    return sigismember(&oset, sig) ? SIG_HOLD : old.sa_handler;
}

int ca_sigignore(int sig)
{
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = SIG_IGN;
    sigemptyset(&act.sa_mask);
    act.sa_flags = 0;
    return ca_sigaction(sig, &act, NULL);
}

/* Records the choice for later signal() calls and changes SA_RESTART of the
 * current disposition; our handler keeps its own flags (the program sees
 * SIG_DFL there, and a dump never interrupts a system call). Not a change of
 * disposition: our handler stays. */
int ca_siginterrupt(int sig, int interrupt)
{
    struct sigaction sa;
    sigset_t saved;
    int guarded = ca_sig_guarded(sig);
    if (guarded) ca_sig_lock(&saved);
    int r = ca_os_sigaction(sig, NULL, &sa);
    if (r == 0) {
        if (interrupt) {
            atomic_fetch_or_explicit(&ca_sig_interrupting, ca_sig_bit(sig), memory_order_relaxed);
            sa.sa_flags &= ~SA_RESTART;
        } else {
            atomic_fetch_and_explicit(&ca_sig_interrupting, ~ca_sig_bit(sig), memory_order_relaxed);
            sa.sa_flags |= SA_RESTART;
        }
        if (!ca_sig_is_ours(&sa)) r = ca_os_sigaction(sig, &sa, NULL);
    }
    if (guarded) ca_sig_unlock(&saved);
    return r < 0 ? -1 : 0;
}
