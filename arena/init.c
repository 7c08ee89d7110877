/*
 * Process start: options, size classes, topology, the thread-exit key, fork
 * handlers, the statistics signal. Runs once, lazily, from whichever entry
 * point comes first (possibly before our constructor), without allocating.
 */
#include "init.h"

#include "arena.h"
#include "hugecache.h"
#include "numa.h"
#include "options.h"
#include "os.h"
#include "purger.h"
#include "registry.h"
#include "report.h"
#include "segment.h"
#include "sizeclass.h"
#include "stats.h"
#include "statsignal.h"

#include <pthread.h>

_Atomic int ca_init_state;
static pthread_t ca_init_thread;

/* Every allocator lock, in the one order (arenas, fallback, nodes by number,
 * the huge cache),
 * is held across fork and released on both sides. */
static void ca_fork_prepare(void)
{
    ca_arenas_lock();
    ca_fallback_lock();
    ca_nodes_lock_all();
    ca_hugecache_lock();
}

static void ca_fork_parent(void)
{
    ca_hugecache_unlock();
    ca_nodes_unlock_all();
    ca_fallback_unlock();
    ca_arenas_unlock();
}

static void ca_fork_child(void)
{
    ca_purger_after_fork_child();
    ca_arenas_after_fork_child();
    ca_stats_after_fork_child();
    ca_signal_after_fork_child();
    ca_hugecache_unlock();
    ca_nodes_unlock_all();
    ca_fallback_unlock();
    ca_arenas_unlock();
}

static void ca_init_once(void)
{
    ca_cfg.secret = (uintptr_t)ca_os_random();
    ca_numa_init();
    ca_options_load();
    if (ca_cfg.numa_node >= 0 && !ca_numa_node_has_memory((unsigned)ca_cfg.numa_node)) {
        char num[24];
        ca_message("CONCORD_ARENA_NUMA_NODE=", ca_u64_text(num, (uint64_t)ca_cfg.numa_node),
                   ": no such node, or it has no memory; NUMA placement off", NULL);
        ca_cfg.numa_node = -1;
        ca_cfg.numa_bind = 0;
    }
    ca_classes_init();
    ca_nodes_init();
    ca_segment_range_init();
    ca_arenas_setup();
    pthread_atfork(ca_fork_prepare, ca_fork_parent, ca_fork_child);
    ca_stats_install_signal();
    if (ca_cfg.verbose) {
        char num[24];
        ca_options_print();
        ca_message("  NUMA nodes: ", ca_u64_text(num, ca_numa_node_count()), ", placement ",
                   ca_cfg.numa_bind ? "on (mbind preferred)" : "off", NULL);
    }
}

void ca_init(void)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&ca_init_state, &expected, 1)) {
        ca_init_thread = pthread_self();
        ca_init_once();
        atomic_store_explicit(&ca_init_state, 2, memory_order_release);
        return;
    }
    if (expected == 1 && pthread_equal(ca_init_thread, pthread_self()))
        return; /* re-entered while initialising: the defaults serve */
    while (atomic_load_explicit(&ca_init_state, memory_order_acquire) != 2)
        ca_os_yield();
}

__attribute__((constructor)) static void ca_constructor(void)
{
    ca_ensure_init();
}

__attribute__((destructor)) static void ca_destructor(void)
{
    int fd = ca_stats_fd();
    if (ca_cfg.stats_at_exit && fd >= 0) ca_stats_dump(fd, ca_cfg.stats_json);
    ca_report_bad_summary();
}
