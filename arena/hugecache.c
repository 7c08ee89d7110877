/* The cache of freed huge mappings (see hugecache.h). */
#include "hugecache.h"

#include "options.h"
#include "os.h"
#include "segment.h"

#include <pthread.h>
#include <stdatomic.h>

static pthread_mutex_t ca_hc_lock = PTHREAD_MUTEX_INITIALIZER;
static ca_huge_t *ca_hc_map[CA_HUGE_CACHE_MAX]; /* oldest first */
static uint32_t ca_hc_stamp[CA_HUGE_CACHE_MAX]; /* ca_os_now_ms when each was put */
static unsigned ca_hc_count;
static _Atomic uint64_t ca_hc_bytes;                    /* read unlocked by dumps */
static _Atomic uint64_t ca_hc_node_bytes[CA_MAX_NODES]; /* the same, per node */

static void ca_hc_remove_locked(unsigned i)
{
    atomic_fetch_sub_explicit(&ca_hc_bytes, ca_hc_map[i]->map_size, memory_order_relaxed);
    atomic_fetch_sub_explicit(&ca_hc_node_bytes[ca_hc_map[i]->hdr.node % CA_MAX_NODES],
                              ca_hc_map[i]->map_size, memory_order_relaxed);
    for (unsigned j = i + 1; j < ca_hc_count; j++) {
        ca_hc_map[j - 1] = ca_hc_map[j];
        ca_hc_stamp[j - 1] = ca_hc_stamp[j];
    }
    ca_hc_count--;
}

int ca_hugecache_put(ca_huge_t *h)
{
    if (h->map_size > CA_HUGE_CACHE_BYTES / 2) return -1;
    ca_huge_t *evicted[CA_HUGE_CACHE_MAX];
    unsigned nevicted = 0;
    uint32_t now = ca_os_now_ms();
    pthread_mutex_lock(&ca_hc_lock);
    while (ca_hc_count > 0 &&
           (ca_hc_count == CA_HUGE_CACHE_MAX ||
            atomic_load_explicit(&ca_hc_bytes, memory_order_relaxed) + h->map_size >
                CA_HUGE_CACHE_BYTES)) {
        evicted[nevicted++] = ca_hc_map[0];
        ca_hc_remove_locked(0);
    }
    ca_hc_map[ca_hc_count] = h;
    ca_hc_stamp[ca_hc_count] = now;
    ca_hc_count++;
    atomic_fetch_add_explicit(&ca_hc_bytes, h->map_size, memory_order_relaxed);
    atomic_fetch_add_explicit(&ca_hc_node_bytes[h->hdr.node % CA_MAX_NODES], h->map_size,
                              memory_order_relaxed);
    ca_purge_arm(now + CA_HUGE_CACHE_DELAY_MS);
    pthread_mutex_unlock(&ca_hc_lock);
    for (unsigned i = 0; i < nevicted; i++)
        ca_os_unmap(evicted[i], evicted[i]->map_size);
    return 0;
}

ca_huge_t *ca_hugecache_take(unsigned node, size_t size)
{
    if (atomic_load_explicit(&ca_hc_bytes, memory_order_relaxed) == 0) return NULL;
    pthread_mutex_lock(&ca_hc_lock);
    int fit = -1, big = -1;
    for (unsigned i = 0; i < ca_hc_count; i++) {
        ca_huge_t *h = ca_hc_map[i];
        if (h->hdr.node != node) continue;
        if (h->map_size >= size) {
            if (fit < 0 || h->map_size < ca_hc_map[fit]->map_size) fit = (int)i;
        } else if (big < 0 || h->map_size > ca_hc_map[big]->map_size) {
            big = (int)i;
        }
    }
    int pick = fit >= 0 ? fit : big;
    ca_huge_t *h = NULL;
    if (pick >= 0) {
        h = ca_hc_map[pick];
        ca_hc_remove_locked((unsigned)pick);
    }
    pthread_mutex_unlock(&ca_hc_lock);
    return h;
}

void ca_hugecache_purge(uint32_t now, int all)
{
    if (atomic_load_explicit(&ca_hc_bytes, memory_order_relaxed) == 0) return;
    ca_huge_t *gone[CA_HUGE_CACHE_MAX];
    unsigned ngone = 0;
    pthread_mutex_lock(&ca_hc_lock);
    while (ca_hc_count > 0 && (all || now - ca_hc_stamp[0] >= CA_HUGE_CACHE_DELAY_MS)) {
        gone[ngone++] = ca_hc_map[0];
        ca_hc_remove_locked(0);
    }
    if (ca_hc_count > 0) ca_purge_arm(ca_hc_stamp[0] + CA_HUGE_CACHE_DELAY_MS);
    pthread_mutex_unlock(&ca_hc_lock);
    for (unsigned i = 0; i < ngone; i++)
        ca_os_unmap(gone[i], gone[i]->map_size);
}

uint64_t ca_hugecache_bytes(void)
{
    return atomic_load_explicit(&ca_hc_bytes, memory_order_relaxed);
}

uint64_t ca_hugecache_node_bytes(unsigned node)
{
    return atomic_load_explicit(&ca_hc_node_bytes[node % CA_MAX_NODES], memory_order_relaxed);
}

void ca_hugecache_lock(void)
{
    pthread_mutex_lock(&ca_hc_lock);
}

void ca_hugecache_unlock(void)
{
    pthread_mutex_unlock(&ca_hc_lock);
}
