/*
 * The background purger (CONCORD_ARENA_BACKGROUND_PURGE=1), in the spirit of
 * jemalloc's background_thread: one thread that sleeps until blocks past a
 * cache's bound are due, then runs the purge tick, so a process that goes
 * fully idle still gives its cached memory back. Off by default: without it,
 * any thread's next slow path does the same.
 *
 * Started by the first malloc slow path after start-up (never from inside a
 * lock of ours, since creating a thread allocates); a child of fork starts its own when
 * it needs one. The thread blocks every signal and never allocates.
 */
#include "purger.h"

#include "arena.h"
#include "options.h"
#include "os.h"
#include "segment.h"
#include "util.h"

#include <stdatomic.h>

/* 0: not started; 1: starting or running. */
static _Atomic int ca_purger_state;

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
    int expected = 0;
    if (!atomic_compare_exchange_strong(&ca_purger_state, &expected, 1)) return;
    if (ca_os_thread_start(ca_purger_main) != 0) {
        ca_message("CONCORD_ARENA_BACKGROUND_PURGE: cannot start the purger thread; "
                   "slow paths purge instead",
                   NULL);
        ca_cfg.background_purge = 0;
    }
}

void ca_purger_after_fork_child(void)
{
    atomic_store(&ca_purger_state, 0); /* the thread did not come along */
}
