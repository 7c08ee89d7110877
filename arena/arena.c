/*
 * Arenas: one per thread, reached through one initial-exec TLS pointer.
 *
 * A thread starts on ca_arena_empty, whose bins all point at ca_block_empty
 * (never a free slot), so its first malloc falls into the slow path, which
 * gives it an arena: a parked one if any (adopted whole, with its blocks and
 * the remote frees that arrived meanwhile), else a new one. A pthread key
 * destructor parks the arena when the thread exits and moves the thread to
 * ca_arena_exited; what that thread still allocates comes from the locked
 * fallback arena.
 */
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <string.h>

#define CA_BINS_EMPTY                                                                              \
    {                                                                                              \
        [0 ... CA_MAX_CLASSES - 1] = { &ca_block_empty }                                           \
    }

ca_block_t ca_block_empty;
ca_arena_t ca_arena_empty = {.bins = CA_BINS_EMPTY};
ca_arena_t ca_arena_exited = {.bins = CA_BINS_EMPTY};
static ca_arena_t ca_arena_fallback_storage = {.bins = CA_BINS_EMPTY, .state = CA_ARENA_FALLBACK};
ca_arena_t *ca_arena_fallback = &ca_arena_fallback_storage;

__thread ca_arena_t *ca_tls_arena __attribute__((tls_model("initial-exec"))) = &ca_arena_empty;

static pthread_mutex_t ca_arenas_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t ca_fallback_mutex = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(ca_arena_t *) ca_all_arenas;
static ca_arena_t *ca_parked;      /* under ca_arenas_mutex */
static char *ca_arena_chunk;       /* bump space for new arenas, under the mutex */
static size_t ca_arena_chunk_left; /* bytes */
static uint32_t ca_arena_count;    /* arenas made */
static pthread_key_t ca_arena_key;

static void ca_arena_thread_exit(void *arg);

void ca_arenas_setup(void)
{
    pthread_key_create(&ca_arena_key, ca_arena_thread_exit);
    ca_arena_fallback->id = 0;
    ca_arena_fallback->next_all = NULL;
    atomic_store(&ca_all_arenas, ca_arena_fallback);
}

ca_arena_t *ca_arena_list(void)
{
    return atomic_load_explicit(&ca_all_arenas, memory_order_acquire);
}

void ca_arenas_lock(void)
{
    pthread_mutex_lock(&ca_arenas_mutex);
}

void ca_arenas_unlock(void)
{
    pthread_mutex_unlock(&ca_arenas_mutex);
}

void ca_fallback_lock(void)
{
    pthread_mutex_lock(&ca_fallback_mutex);
}

void ca_fallback_unlock(void)
{
    pthread_mutex_unlock(&ca_fallback_mutex);
}

static ca_arena_t *ca_arena_new_locked(void)
{
    size_t need = (sizeof(ca_arena_t) + 63) & ~(size_t)63;
    if (ca_arena_chunk_left < need) {
        size_t chunk = 64 * need;
        char *mem = ca_os_map_aligned((chunk + ca_os_page_size() - 1) & ~(ca_os_page_size() - 1),
                                      ca_os_page_size());
        if (mem == NULL) return NULL;
        ca_arena_chunk = mem;
        ca_arena_chunk_left = chunk;
    }
    ca_arena_t *a = (ca_arena_t *)ca_arena_chunk;
    ca_arena_chunk += need;
    ca_arena_chunk_left -= need;
    for (unsigned i = 0; i < CA_MAX_CLASSES; i++)
        a->bins[i].current = &ca_block_empty;
    a->id = ++ca_arena_count;
    a->next_all = atomic_load_explicit(&ca_all_arenas, memory_order_relaxed);
    atomic_store_explicit(&ca_all_arenas, a, memory_order_release);
    return a;
}

ca_arena_t *ca_arena_thread_init(void)
{
    ca_ensure_init();
    if (ca_tls_arena != &ca_arena_empty) return ca_tls_arena;
    unsigned home = ca_numa_home_node();
    pthread_mutex_lock(&ca_arenas_mutex);
    ca_arena_t *a = ca_parked;
    if (a != NULL)
        __atomic_store_n(&ca_parked, a->next_parked, __ATOMIC_RELAXED);
    else
        a = ca_arena_new_locked();
    if (a != NULL) {
        a->next_parked = NULL;
        a->node = home;
        atomic_store_explicit(&a->state, CA_ARENA_ACTIVE, memory_order_relaxed);
    }
    pthread_mutex_unlock(&ca_arenas_mutex);
    if (a == NULL) return NULL;
    ca_tls_arena = a;
    pthread_setspecific(ca_arena_key, a);
    return a;
}

static void ca_park_locked(ca_arena_t *a)
{
    atomic_store_explicit(&a->state, CA_ARENA_PARKED, memory_order_relaxed);
    a->next_parked = ca_parked;
    __atomic_store_n(&ca_parked, a, __ATOMIC_RELAXED); /* read unlocked by ca_arenas_reclaim */
}

static void ca_arena_thread_exit(void *arg)
{
    ca_arena_t *a = arg;
    int saved = errno;
    ca_arena_collect(a);
    ca_arena_trim_cache(a);
    ca_tls_arena = &ca_arena_exited;
    pthread_mutex_lock(&ca_arenas_mutex);
    ca_park_locked(a);
    pthread_mutex_unlock(&ca_arenas_mutex);
    errno = saved;
}

void ca_arenas_after_fork_child(void)
{
    /* Only the forking thread lives on: every other active arena is parked. */
    for (ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all) {
        if (a != ca_tls_arena &&
            atomic_load_explicit(&a->state, memory_order_relaxed) == CA_ARENA_ACTIVE)
            ca_park_locked(a);
    }
}

/* Merge the remote frees of every queued block into its local list. */
void ca_arena_collect(ca_arena_t *a)
{
    ca_block_t *b = atomic_exchange_explicit(&a->queued, NULL, memory_order_acquire);
    while (b != NULL) {
        ca_block_t *next = b->next_queued;
        /* acq_rel: what this thread read of the block (next_queued) happens
         * before the next pusher, who may queue it again, writes it. */
        uintptr_t head = atomic_exchange_explicit(&b->remote, 0, memory_order_acq_rel);
        void **list = ca_remote_list(head);
        if (list != NULL) {
            uint32_t n = (uint32_t)(head >> CA_REMOTE_SHIFT);
            if (b->free == NULL && n != CA_REMOTE_MANY) {
                b->free = list; /* the usual case (a full or exhausted block): no walk */
            } else {
                n = 1;
                void **tail = list;
                while (tail[0] != NULL) {
                    tail = (void **)tail[0];
                    n++;
                }
                tail[0] = b->free;
                b->free = list;
            }
            ca_assert(b->used >= n);
            b->used -= n;
            if (b->used == 0 || b->full) ca_block_event(a, b);
        }
        b = next;
    }
}

static void ca_block_setup(ca_arena_t *a, ca_block_t *b, uint32_t cls)
{
    uint32_t slot = ca_class_size[cls];
    b->kind = CA_BLOCK_SMALL;
    b->size_class = (uint8_t)cls;
    b->slot_size = slot;
    b->divmagic = UINT64_MAX / slot + 1;
    b->capacity = (uint32_t)(ca_cfg.block_size / slot);
    __atomic_store_n(&b->limit, 0, __ATOMIC_RELAXED); /* grows as slots are carved */
    b->bump = 0;
    b->used = 0;
    b->free = NULL;
    b->full = 0;
    b->span = 0;
    b->next = b->prev = NULL;
    atomic_store_explicit(&b->remote, 0, memory_order_relaxed);
    b->owner = a;
}

/* Bring in the remote frees that parked arenas received, so that objects of
 * exited threads freed by others become reusable blocks even if no new
 * thread ever adopts those arenas. Skipped when another thread holds the
 * arenas lock. */
static void ca_arenas_reclaim(void)
{
    if (__atomic_load_n(&ca_parked, __ATOMIC_RELAXED) == NULL) return;
    if (pthread_mutex_trylock(&ca_arenas_mutex) != 0) return;
    for (ca_arena_t *p = ca_parked; p != NULL; p = p->next_parked) {
        ca_arena_collect(p);
        ca_arena_trim_cache(p);
    }
    pthread_mutex_unlock(&ca_arenas_mutex);
}

ca_block_t *ca_arena_take_block(ca_arena_t *a, uint32_t cls)
{
    ca_block_t *b = a->cache;
    if (b == NULL && (++a->reclaim_tick & 31) == 0) ca_arenas_reclaim();
    if (b != NULL) {
        a->cache = b->next;
        a->ncache--;
        a->stats.blocks_reused++;
    } else {
        int reused = 0;
        b = ca_node_take(a->node, 1, &reused);
        if (b == NULL) return NULL;
        if (reused)
            a->stats.blocks_reused++;
        else
            a->stats.blocks_fresh++;
    }
    ca_block_setup(a, b, cls);
    return b;
}

void ca_arena_retire_block(ca_arena_t *a, ca_block_t *b)
{
    /* slot_size and bump stay: a late second free of one of its slots is
     * still recognised while the block is unused. */
    b->owner = NULL;
    b->divmagic = 0;
    __atomic_store_n(&b->limit, 0, __ATOMIC_RELAXED);
    b->free = NULL;
    b->was = CA_BLOCK_SMALL;
    if (a->ncache < CA_ARENA_CACHE && a != ca_arena_fallback) {
        b->kind = CA_BLOCK_ARENA;
        b->next = a->cache;
        a->cache = b;
        a->ncache++;
    } else {
        ca_node_give(b, 1);
    }
}

void ca_arena_trim_cache(ca_arena_t *a)
{
    while (a->cache != NULL) {
        ca_block_t *b = a->cache;
        a->cache = b->next;
        a->ncache--;
        ca_node_give(b, 1);
    }
    while (a->spans != NULL) {
        ca_block_t *b = a->spans;
        a->spans = b->next;
        a->nspans--;
        ca_node_give(b, b->span);
    }
}
