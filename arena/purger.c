/*
 * The background purger (CONCORD_ARENA_BACKGROUND_PURGE=1), in the spirit of
 * jemalloc's background_thread: one thread that sleeps until blocks past a
 * cache's bound are due, then runs the purge tick, so a process that goes
 * fully idle still gives its cached memory back. Off by default: without it,
 * any thread's next slow path does the same.
 *
 * Started by the first malloc slow path after start-up (never from inside a
 * lock of ours, since pthread_create itself allocates); a child of fork starts its own when
 * it needs one. The thread blocks every signal and never allocates.
 */
#include "internal.h"
#include "os.h"

#include <pthread.h>
#include <signal.h>

/* 0: not started; 1: starting or running. */
static _Atomic int ca_purger_state;

extern _Atomic uint32_t ca_purge_due;

static void *ca_purger_main(void *arg)
{
    (void)arg;
    for (;;) {
        uint32_t due = atomic_load_explicit(&ca_purge_due, memory_order_relaxed);
        if (due == 0) {
            ca_os_wait(&ca_purge_due, 0, 0);
            continue;
        }
        int32_t wait = (int32_t)(due - ca_os_now_ms());
        if (wait > 0) {
            ca_os_wait(&ca_purge_due, due, (uint32_t)wait);
            continue;
        }
        ca_purge_tick();
    }
    return NULL;
}

void ca_purger_start(void)
{
    if (ca_likely(atomic_load_explicit(&ca_purger_state, memory_order_relaxed) != 0)) return;
    if (atomic_load_explicit(&ca_init_state, memory_order_acquire) != 2) return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&ca_purger_state, &expected, 1)) return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits a full mask */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 << 10);
    pthread_t t;
    if (pthread_create(&t, &attr, ca_purger_main, NULL) != 0) {
        ca_message("CONCORD_ARENA_BACKGROUND_PURGE: cannot start the purger thread; "
                   "slow paths purge instead",
                   NULL);
        ca_cfg.background_purge = 0;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void ca_purger_after_fork_child(void)
{
    atomic_store(&ca_purger_state, 0); /* the thread did not come along */
}
