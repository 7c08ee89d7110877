/* The cache of freed huge pages (see hugecache.h). */
#include "hugecache.h"

#include "options.h"
#include "os.h"
#include "segment.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct ca_hc_run_s {
    char *p;        /* first page */
    size_t len;     /* bytes */
    unsigned node;  /* NUMA node of the object that held them */
    uint32_t stamp; /* ca_os_now_ms when put */
} ca_hc_run_t;

static pthread_mutex_t ca_hc_lock = PTHREAD_MUTEX_INITIALIZER;
static ca_hc_run_t ca_hc_runs[CA_HUGE_CACHE_MAX]; /* oldest first */
static unsigned ca_hc_count;
static _Atomic uint64_t ca_hc_bytes;                    /* read unlocked by dumps */
static _Atomic uint64_t ca_hc_node_bytes[CA_MAX_NODES]; /* the same, per node */

static void ca_hc_account(unsigned node, size_t len, int sign)
{
    if (sign > 0) {
        atomic_fetch_add_explicit(&ca_hc_bytes, len, memory_order_relaxed);
        atomic_fetch_add_explicit(&ca_hc_node_bytes[node % CA_MAX_NODES], len,
                                  memory_order_relaxed);
    } else {
        atomic_fetch_sub_explicit(&ca_hc_bytes, len, memory_order_relaxed);
        atomic_fetch_sub_explicit(&ca_hc_node_bytes[node % CA_MAX_NODES], len,
                                  memory_order_relaxed);
    }
}

static void ca_hc_remove_locked(unsigned i)
{
    ca_hc_account(ca_hc_runs[i].node, ca_hc_runs[i].len, -1);
    for (unsigned j = i + 1; j < ca_hc_count; j++)
        ca_hc_runs[j - 1] = ca_hc_runs[j];
    ca_hc_count--;
}

int ca_hugecache_put(void *p, size_t len, unsigned node)
{
    if (len > CA_HUGE_CACHE_BYTES / 2) return -1;
    ca_hc_run_t evicted[CA_HUGE_CACHE_MAX];
    unsigned nevicted = 0;
    uint32_t now = ca_os_now_ms();
    pthread_mutex_lock(&ca_hc_lock);
    while (ca_hc_count > 0 &&
           (ca_hc_count == CA_HUGE_CACHE_MAX ||
            atomic_load_explicit(&ca_hc_bytes, memory_order_relaxed) + len > CA_HUGE_CACHE_BYTES)) {
        evicted[nevicted++] = ca_hc_runs[0];
        ca_hc_remove_locked(0);
    }
    ca_hc_runs[ca_hc_count++] = (ca_hc_run_t){(char *)p, len, node, now};
    ca_hc_account(node, len, 1);
    ca_purge_arm(now + CA_HUGE_CACHE_DELAY_MS);
    pthread_mutex_unlock(&ca_hc_lock);
    for (unsigned i = 0; i < nevicted; i++)
        ca_os_unmap(evicted[i].p, evicted[i].len);
    return 0;
}

size_t ca_hugecache_fill(unsigned node, char *dst, size_t len)
{
    if (atomic_load_explicit(&ca_hc_bytes, memory_order_relaxed) == 0) return 0;
    ca_hc_run_t got[CA_HUGE_CACHE_MAX];
    unsigned ngot = 0;
    size_t want = len;
    pthread_mutex_lock(&ca_hc_lock);
    for (unsigned i = ca_hc_count; i-- > 0 && want > 0;) {
        ca_hc_run_t *r = &ca_hc_runs[i];
        if (r->node != node) continue;
        if (r->len <= want) {
            got[ngot++] = *r;
            want -= r->len;
            ca_hc_remove_locked(i);
        } else { /* its first part; the rest stays, as old as it was */
            got[ngot++] = (ca_hc_run_t){r->p, want, r->node, r->stamp};
            ca_hc_account(r->node, want, -1);
            r->p += want;
            r->len -= want;
            want = 0;
        }
    }
    pthread_mutex_unlock(&ca_hc_lock);
    size_t filled = 0;
    for (unsigned i = 0; i < ngot; i++) {
        /* Refused (no memory to split a mapping): what did not move goes, and
         * the part counts as filled all the same (old data, not zero). */
        if (ca_os_move(got[i].p, got[i].len, dst + filled) != 0) ca_os_unmap(got[i].p, got[i].len);
        filled += got[i].len;
    }
    return filled;
}

void ca_hugecache_purge(uint32_t now, int all)
{
    if (atomic_load_explicit(&ca_hc_bytes, memory_order_relaxed) == 0) return;
    ca_hc_run_t gone[CA_HUGE_CACHE_MAX];
    unsigned ngone = 0;
    pthread_mutex_lock(&ca_hc_lock);
    while (ca_hc_count > 0 && (all || now - ca_hc_runs[0].stamp >= CA_HUGE_CACHE_DELAY_MS)) {
        gone[ngone++] = ca_hc_runs[0];
        ca_hc_remove_locked(0);
    }
    if (ca_hc_count > 0) ca_purge_arm(ca_hc_runs[0].stamp + CA_HUGE_CACHE_DELAY_MS);
    pthread_mutex_unlock(&ca_hc_lock);
    for (unsigned i = 0; i < ngone; i++)
        ca_os_unmap(gone[i].p, gone[i].len);
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
