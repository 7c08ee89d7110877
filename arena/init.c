/*
 * Process start: options, size classes, topology, the thread-exit key, fork
 * handlers, the statistics signal. Runs once, lazily, from whichever entry
 * point comes first (possibly before our constructor), without allocating.
 */
#include "internal.h"
#include "os.h"

#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

/* Valid before ca_init too: a free() of a foreign pointer before any malloc
 * looks it up with these. */
ca_config_t ca_cfg = {
    .block_size = (size_t)64 << 10,
    .block_shift = 16,
    .seg_size = (size_t)64 << 16,
    .seg_shift = 22,
    .small_max = (size_t)16 << 10,
    .large_max = (size_t)32 << 16,
    .cache_blocks = 64,
    .numa_node = -1,
    .numa_bind = 1,
    .stats_signal = 10, /* SIGUSR1 */
    .stats_fd = 2,
    .abort_on_error = 1,
};

uint32_t ca_class_size[CA_MAX_CLASSES];
uint8_t ca_class_table[CA_TINY_TABLE];

_Atomic int ca_init_state;
static pthread_t ca_init_thread;

/* Class of `n` by formula; the inline ca_size_class uses the table built here. */
static uint32_t ca_class_of(size_t n)
{
    if (n <= 128) return n <= 16 ? 1 : (uint32_t)((n + 15) >> 4);
    return ca_class_geometric(n);
}

void ca_classes_init(void)
{
    for (unsigned i = 1; i <= 8; i++)
        ca_class_size[i] = 16u * i;
    for (unsigned i = 9; i < CA_MAX_CLASSES; i++) {
        unsigned j = i - 9, b = 7 + j / 8, k = j % 8 + 1;
        ca_class_size[i] = (1u << b) + k * (1u << (b - 3));
    }
    for (unsigned i = 0; i < CA_TINY_TABLE; i++)
        ca_class_table[i] = (uint8_t)ca_class_of(i * 16);
    unsigned n = 1;
    while (n + 1 < CA_MAX_CLASSES && ca_class_size[n + 1] <= ca_cfg.small_max)
        n++;
    ca_cfg.nclasses = n;
}

static void ca_fork_prepare(void)
{
    ca_arenas_lock();
    ca_fallback_lock();
    ca_nodes_lock_all();
}

static void ca_fork_parent(void)
{
    ca_nodes_unlock_all();
    ca_fallback_unlock();
    ca_arenas_unlock();
}

static void ca_fork_child(void)
{
    ca_purger_after_fork_child();
    ca_arenas_after_fork_child();
    ca_stats_after_fork_child();
    ca_nodes_unlock_all();
    ca_fallback_unlock();
    ca_arenas_unlock();
}

static uintptr_t ca_random_secret(void)
{
    uintptr_t s = (uintptr_t)&s * 0x9e3779b97f4a7c15ull;
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    if (r != NULL) {
        uintptr_t v;
        memcpy(&v, r + 8, sizeof(v)); /* glibc uses the first 8 for its stack guard */
        s ^= v;
    }
    return s | 1;
}

static void ca_init_once(void)
{
    ca_cfg.secret = ca_random_secret();
    ca_numa_init();
    ca_options_load();
    ca_cfg.block_shift = (unsigned)__builtin_ctzl(ca_cfg.block_size);
    ca_cfg.seg_size = (size_t)CA_SEG_BLOCKS << ca_cfg.block_shift;
    ca_cfg.seg_shift = (unsigned)__builtin_ctzl(ca_cfg.seg_size);
    ca_cfg.small_max = ca_cfg.block_size / 4;
    ca_cfg.large_max = (size_t)(CA_SEG_BLOCKS / 2) << ca_cfg.block_shift;
    if (ca_cfg.numa_node >= 0 && !ca_numa_node_online((unsigned)ca_cfg.numa_node)) {
        char num[8];
        ca_buf_t b;
        ca_buf_init(&b, num, sizeof(num) - 1, -1);
        ca_buf_i64(&b, ca_cfg.numa_node);
        num[b.len] = '\0';
        ca_message("CONCORD_ARENA_NUMA_NODE=", num,
                   ": no such node, or it has no memory; NUMA placement off", NULL);
        ca_cfg.numa_node = -1;
        ca_cfg.numa_bind = 0;
    }
    ca_classes_init();
    ca_arenas_setup();
    pthread_atfork(ca_fork_prepare, ca_fork_parent, ca_fork_child);
    ca_stats_install_signal();
    if (ca_cfg.verbose) ca_options_print();
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
        sched_yield();
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
