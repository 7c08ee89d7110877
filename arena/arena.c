/*
 * Arenas: one per thread, reached through one initial-exec TLS pointer.
 *
 * A thread starts on ca_arena_empty, whose bins all point at ca_block_empty
 * (never a free slot), so its first malloc falls into the slow path, which
 * gives it an arena: a parked one of its NUMA node if any (adopted whole,
 * with its blocks and the remote frees that arrived meanwhile), else a new
 * one. A pthread key
 * destructor parks the arena when the thread exits and moves the thread to
 * ca_arena_exited; what that thread still allocates comes from the locked
 * fallback arena.
 */
#include "arena.h"

#include "concord.h"
#include "hugecache.h"
#include "numa.h"
#include "os.h"
#include "runs.h"
#include "segment.h"
#include "sizeclass.h"

#include <errno.h>
#include <string.h>

/* The stand-in arenas lead every size to a block with no free slot; only
 * their tables are read (by the malloc fast path), so only those are set
 * here: a pointer each the loader relocates. */
#define CA_DIRECT_EMPTY                                                                            \
    {                                                                                              \
        [0 ... CA_TINY_TABLE - 1] = &ca_block_empty                                                \
    }

ca_block_t ca_block_empty;
ca_arena_t ca_arena_empty = {.direct = CA_DIRECT_EMPTY};
ca_arena_t ca_arena_exited = {.direct = CA_DIRECT_EMPTY};
static ca_arena_t ca_arena_fallback_storage; /* set up by ca_arenas_setup */
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
static void ca_bin_unlink(ca_arena_t *a, ca_block_t *b);
static void ca_arena_retire_block(ca_arena_t *a, ca_block_t *b);
static void ca_arena_trim_cache(ca_arena_t *a, enum ca_give how, ca_release_t *rel);
static void ca_runs_collected(ca_arena_t *a, ca_block_t *b, void **list);
static void ca_runs_unlink(ca_arena_t *a, ca_block_t *b);

/* No block in any bin yet. */
static void ca_arena_bins_init(ca_arena_t *a)
{
    for (unsigned i = 0; i < CA_MAX_CLASSES; i++)
        a->bins[i].current = &ca_block_empty;
    for (unsigned i = 0; i < CA_TINY_TABLE; i++)
        a->direct[i] = &ca_block_empty;
}

void ca_arenas_setup(void)
{
    pthread_key_create(&ca_arena_key, ca_arena_thread_exit);
    ca_arena_bins_init(ca_arena_fallback);
    atomic_store_explicit(&ca_arena_fallback->state, CA_ARENA_FALLBACK, memory_order_relaxed);
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
        char *mem = ca_os_map_aligned(ca_page_round(chunk), ca_os_page_size());
        if (mem == NULL) return NULL;
        ca_arena_chunk = mem;
        ca_arena_chunk_left = chunk;
    }
    ca_arena_t *a = (ca_arena_t *)ca_arena_chunk;
    ca_arena_chunk += need;
    ca_arena_chunk_left -= need;
    ca_arena_bins_init(a);
    a->id = ++ca_arena_count;
    a->next_all = atomic_load_explicit(&ca_all_arenas, memory_order_relaxed);
    atomic_store_explicit(&ca_all_arenas, a, memory_order_release);
    return a;
}

static void ca_park_locked(ca_arena_t *a);

/* An arena was ever adopted by a new thread (see ca_exit_give). */
static int ca_arena_adopted;

/* How the empty blocks of an arena whose thread ended go back. A program
 * that starts threads after others ended (an arena was adopted: a server
 * that churns threads) reuses them soon: they wait in the node cache. Until
 * then a thread that ends is taken as a sign its memory is not wanted (a
 * pool that shrinks, a program winding down): its pages go back at once. */
static enum ca_give ca_exit_give(void)
{
    return __atomic_load_n(&ca_arena_adopted, __ATOMIC_RELAXED) ? CA_GIVE_LAZY : CA_GIVE_RELEASE;
}

/* Arenas whose thread is gone although it never parked them: a thread whose
 * first call came in the last round of pthread key destructors set our key
 * too late to be called. The kernel knows the thread has exited (its tid is
 * no longer in the process), so nothing can touch the arena any more: it is
 * parked here and adopted like any other. Looked for before a new arena is
 * made, when the last look found some or CA_DEAD_SCAN_EVERY arenas were made
 * since, so such threads cost a bounded number of arenas, not one each.
 * Under ca_arenas_mutex. */
#define CA_DEAD_SCAN_EVERY 16u
static uint32_t ca_dead_scan_at; /* ca_arena_count at the last scan */
static uint32_t ca_dead_found;   /* arenas the last scan parked: look again at once */

static void ca_arenas_reap_dead_locked(void)
{
    if (ca_dead_found == 0 && ca_arena_count - ca_dead_scan_at < CA_DEAD_SCAN_EVERY) return;
    ca_dead_scan_at = ca_arena_count;
    ca_dead_found = 0;
    for (ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all) {
        if (atomic_load_explicit(&a->state, memory_order_relaxed) != CA_ARENA_ACTIVE) continue;
        if (a == ca_tls_arena || ca_os_thread_alive(a->tid)) continue;
        ca_arena_collect(a);
        ca_arena_release_empty(a, ca_exit_give()); /* its thread is gone */
        ca_park_locked(a);
        ca_dead_found++;
    }
}

/* A parked arena of `node`, taken off the parked list, or NULL. Only an
 * arena of the thread's own node is adopted: its blocks (some still holding
 * objects of the thread that parked it) are on that node. */
static ca_arena_t *ca_unpark_locked(unsigned node)
{
    for (ca_arena_t **link = &ca_parked, *p; (p = *link) != NULL; link = &p->next_parked) {
        if (p->node != node) continue;
        __atomic_store_n(link, p->next_parked, __ATOMIC_RELAXED);
        __atomic_store_n(&ca_arena_adopted, 1, __ATOMIC_RELAXED);
        return p;
    }
    return NULL;
}

static ca_arena_t *ca_arena_thread_init(void)
{
    if (ca_tls_arena != &ca_arena_empty) return ca_tls_arena;
    unsigned home = ca_numa_home_node();
    int tid = ca_os_thread_id();
    pthread_mutex_lock(&ca_arenas_mutex);
    ca_arena_t *a = ca_unpark_locked(home);
    if (a == NULL) {
        ca_arenas_reap_dead_locked();
        a = ca_unpark_locked(home);
    }
    if (a == NULL) a = ca_arena_new_locked();
    if (a != NULL) {
        a->next_parked = NULL;
        a->node = home;
        a->tid = tid;
        atomic_store_explicit(&a->state, CA_ARENA_ACTIVE, memory_order_relaxed);
    }
    pthread_mutex_unlock(&ca_arenas_mutex);
    if (a == NULL) return NULL;
    ca_tls_arena = a;
    pthread_setspecific(ca_arena_key, a);
    /* An adopted arena's frees that no tick collected yet: this thread may
     * not refill the classes they went to for a long time. */
    ca_arena_collect(a);
    return a;
}

static void ca_park_locked(ca_arena_t *a)
{
    atomic_store_explicit(&a->state, CA_ARENA_PARKED, memory_order_seq_cst);
    a->next_parked = ca_parked;
    __atomic_store_n(&ca_parked, a, __ATOMIC_RELAXED); /* read unlocked by ca_arenas_reclaim */
    /* Frees that arrived after its thread's last collection: the purge tick
     * collects them (see ca_free_remote). */
    if (atomic_load_explicit(&a->queued, memory_order_seq_cst) != NULL) ca_arenas_owe();
}

static void ca_arena_thread_exit(void *arg)
{
    ca_arena_t *a = arg;
    int saved = errno;
    ca_arena_collect(a);
    ca_arena_release_empty(a, ca_exit_give());
    ca_tls_arena = &ca_arena_exited;
    pthread_mutex_lock(&ca_arenas_mutex);
    ca_park_locked(a);
    pthread_mutex_unlock(&ca_arenas_mutex);
    errno = saved;
}

/* In a child of fork: rebuild every arena's queue of blocks with remote
 * frees from the blocks' remote words. A thread that the fork left behind may
 * have stopped between marking a block queued (its word's bit 0) and pushing
 * it on the owner's queue, or between taking an owner's queue and collecting
 * its blocks: such a block would be queued on nobody, and the remote frees into
 * it never collected. (A list an owner had taken out of a block's word but not
 * yet joined is lost with that thread: its slots stay out.) The same walk
 * gives each node the blocks such a thread held marked free, on their way to
 * it (ca_segment_recover_lost). */
static void ca_arenas_requeue_remote(void)
{
    for (ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all)
        if (atomic_load_explicit(&a->queued, memory_order_relaxed) != NULL)
            atomic_store_explicit(&a->queued, NULL, memory_order_relaxed);
    int others = 0; /* blocks queued on arenas no thread here allocates from */
    for (unsigned n = 0; n < ca_numa_node_count(); n++) {
        ca_node_t *nd = &ca_nodes[n];
        for (uint32_t i = 0; i < nd->nsegments; i++) {
            ca_segment_t *s = nd->segs[i].seg;
            for (uint32_t k = 1; k < CA_SEG_BLOCKS; k++) {
                ca_remote_t *r = &s->remote[k];
                uintptr_t word = atomic_load_explicit(&r->word, memory_order_relaxed);
                ca_arena_t *owner = s->blocks[k].owner;
                if (ca_remote_head(s, word) == NULL || owner == NULL) {
                    /* queued on nobody now: a later push must queue it (written
                     * only then, so the child copies no header page it need not) */
                    if (word & 1)
                        atomic_store_explicit(&r->word, word & ~(uintptr_t)1, memory_order_relaxed);
                    continue;
                }
                if (!(word & 1)) atomic_store_explicit(&r->word, word | 1, memory_order_relaxed);
                r->next_queued = atomic_load_explicit(&owner->queued, memory_order_relaxed);
                atomic_store_explicit(&owner->queued, &s->blocks[k], memory_order_relaxed);
                others |= owner != ca_tls_arena; /* parked, or the fallback */
            }
            ca_segment_recover_lost(s); /* moves entries only to indexes passed already */
        }
    }
    if (others) ca_arenas_owe(); /* their reclaim collects them */
}

void ca_arenas_after_fork_child(void)
{
    /* Only the forking thread lives on, with a tid of its own: every other
     * active arena is parked. */
    if (ca_tls_arena != &ca_arena_empty && ca_tls_arena != &ca_arena_exited)
        ca_tls_arena->tid = ca_os_thread_id();
    for (ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all) {
        if (a != ca_tls_arena &&
            atomic_load_explicit(&a->state, memory_order_relaxed) == CA_ARENA_ACTIVE)
            ca_park_locked(a);
    }
    ca_arenas_requeue_remote();
}

/* Merge the remote frees of every queued block into its local list. */
void ca_arena_collect(ca_arena_t *a)
{
    ca_block_t *b = atomic_exchange_explicit(&a->queued, NULL, memory_order_acquire);
    while (b != NULL) {
        ca_remote_t *r = ca_block_remote(b);
        ca_block_t *next = r->next_queued;
        /* acq_rel: what this thread read of the block (next_queued) happens
         * before the next pusher, who may queue it again, writes it. */
        uintptr_t word = atomic_exchange_explicit(&r->word, 0, memory_order_acq_rel);
        ca_segment_t *s = ca_block_segment(b);
        void **list = ca_remote_head(s, word);
        if (list != NULL && b->kind == CA_BLOCK_RUNS) {
            ca_runs_collected(a, b, list);
        } else if (list != NULL) {
            uint32_t n = ca_remote_count(word);
            if (b->free != NULL) /* the list goes first, whole (its tail ends it: NULL) */
                ca_remote_tail(s, word)[0] = b->free;
            b->free = list;
            ca_assert(ca_block_used(b) >= n);
            b->used -= (int32_t)n;
            if (b->used <= 0) ca_block_event(a, b); /* emptied, or full until now */
        }
        b = next;
    }
}

/* `b` (the first of `blocks`) starts serving `a` as a block of `kind` with
 * `capacity` slots or units, `slot` bytes a slot (0: none; the slot test
 * then always fails), nothing carved or handed out yet. */
static void ca_block_own(ca_arena_t *a, ca_block_t *b, uint8_t kind, uint32_t cls, uint32_t slot,
                         uint32_t capacity, uint32_t blocks)
{
    b->kind = kind;
    /* Not free from here on, before the block is linked anywhere: a fork's
     * child takes a block still marked free for one nobody holds
     * (ca_segment_recover_lost). */
    atomic_signal_fence(memory_order_release);
    b->size_class = (uint8_t)cls;
    b->slot_size = slot;
    b->magic = slot != 0 ? ca_slot_magic(slot) : 0;
    b->capacity = capacity;
    /* Both grow as slots are carved. */
    __atomic_store_n(&b->magic_limit, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&b->limit, 0, __ATOMIC_RELAXED);
    b->bump = 0;
    b->used = 0;
    b->free = NULL;
    b->span = blocks > 1 ? blocks : 0;
    b->next = b->prev = NULL;
    atomic_store_explicit(&ca_block_remote(b)->word, 0, memory_order_relaxed);
    b->owner = a;
    ca_held(a, (int64_t)blocks << ca_cfg.block_shift);
}

static void ca_block_setup(ca_arena_t *a, ca_block_t *b, uint32_t cls)
{
    uint32_t slot = ca_class_size[cls], blocks = ca_class_blocks[cls];
    ca_block_own(a, b, CA_BLOCK_SMALL, cls, slot,
                 (uint32_t)(((size_t)blocks << ca_cfg.block_shift) / slot), blocks);
}

/* Take `m` (`wait`), or try to: 1 when it is held. */
static int ca_mutex_take(pthread_mutex_t *m, int wait)
{
    return (wait ? pthread_mutex_lock(m) : pthread_mutex_trylock(m)) == 0;
}

/* Collect `a`'s remote frees and give the blocks they emptied to the node
 * caches; with `wait` even when none arrived. For an arena nobody else uses
 * now (parked, or the fallback under its lock). */
static void ca_arena_reclaim_one(ca_arena_t *a, int wait)
{
    if (!wait && atomic_load_explicit(&a->queued, memory_order_relaxed) == NULL) return;
    ca_arena_collect(a);
    ca_arena_release_empty(a, CA_GIVE_LAZY);
}

/* Bring in the remote frees that parked arenas and the fallback arena
 * received, and give the blocks they emptied to the node caches, so that
 * objects of exited threads freed by others become reusable (and purgeable)
 * even if no thread ever allocates from those arenas again. Only arenas that
 * received frees are visited. Runs every 32nd block an arena takes, when an
 * arena takes fresh blocks (the heap grows) and from the purge tick (which
 * such a free arms); skips a lock another thread holds (the caller may hold
 * the fallback's), unless `wait`. */
_Atomic int ca_arenas_owed;

void ca_arenas_reclaim(int wait)
{
    if (!wait && __atomic_load_n(&ca_parked, __ATOMIC_RELAXED) == NULL &&
        atomic_load_explicit(&ca_arena_fallback->queued, memory_order_relaxed) == NULL)
        return;
    /* A lock held elsewhere: a later tick comes back for what waits (the
     * frees that armed this one will not arm another). */
    if (!ca_mutex_take(&ca_arenas_mutex, wait)) {
        ca_arenas_owe();
        return;
    }
    /* Cleared before the walk: a free that comes during it sets it again. */
    atomic_store_explicit(&ca_arenas_owed, 0, memory_order_relaxed);
    for (ca_arena_t *p = ca_parked; p != NULL; p = p->next_parked)
        ca_arena_reclaim_one(p, wait);
    if (ca_mutex_take(&ca_fallback_mutex, wait)) {
        ca_arena_reclaim_one(ca_arena_fallback, wait);
        pthread_mutex_unlock(&ca_fallback_mutex);
    } else if (atomic_load_explicit(&ca_arena_fallback->queued, memory_order_relaxed) != NULL) {
        ca_arenas_owe();
    }
    pthread_mutex_unlock(&ca_arenas_mutex);
}

ca_block_t *ca_arena_take_blocks(ca_arena_t *a, uint32_t n)
{
    int reused = 0;
    ca_block_t *b = ca_node_take(a->node, n, &reused);
    if (b == NULL) return NULL;
    if (reused) {
        a->stats.blocks_reused += n;
    } else {
        a->stats.blocks_fresh += n;
        /* The heap grows: first bring back what other threads' frees
         * emptied in parked arenas, for the next blocks to reuse. */
        if (atomic_load_explicit(&ca_arenas_owed, memory_order_relaxed)) ca_arenas_reclaim(0);
    }
    return b;
}

/* See arena.h. */
int ca_arena_keep_span(ca_arena_t *a, ca_block_t *b)
{
    if (b->span > CA_SPAN_KEEP_MAX || a == ca_arena_fallback) return 0;
    if (a->nspans >= CA_ARENA_SPANS) { /* the oldest goes back to the node */
        ca_block_t **link = &a->spans;
        while ((*link)->next != NULL)
            link = &(*link)->next;
        ca_block_t *old = *link;
        *link = NULL;
        a->nspans--;
        ca_node_give(old, old->span);
    }
    /* Marked as an arena block, so a second free into it is a double free. */
    b->kind = CA_BLOCK_KEPT;
    b->next = a->spans;
    a->spans = b;
    a->nspans++;
    return 1;
}

ca_block_t *ca_arena_take_kept_span(ca_arena_t *a, uint32_t n)
{
    ca_block_t **best = NULL; /* the shortest that holds n blocks */
    for (ca_block_t **link = &a->spans; *link != NULL; link = &(*link)->next) {
        if ((*link)->span < n || (best != NULL && (*link)->span >= (*best)->span)) continue;
        best = link;
        if ((*link)->span == n) break;
    }
    if (best == NULL) return NULL;
    ca_block_t *b = *best;
    *best = b->next;
    b->next = NULL;
    if (b->span > n) { /* its tail stays kept (a late free into it is named "not ours") */
        ca_block_t *rest = b + n;
        ca_span_mark(rest, b->span - n, CA_BLOCK_KEPT);
        rest->was = CA_BLOCK_FREE;
        rest->next = a->spans;
        a->spans = rest;
    } else {
        a->nspans--;
    }
    a->stats.blocks_reused += n;
    return b;
}

/* One empty block for `a`: its own cache first, else its node's. */
static ca_block_t *ca_arena_take_one(ca_arena_t *a)
{
    ca_block_t *b = a->cache;
    if (b == NULL && (++a->reclaim_tick & 31) == 0) ca_arenas_reclaim(0);
    if (b != NULL) {
        a->cache = b->next;
        a->ncache--;
        a->stats.blocks_reused++;
        return b;
    }
    return ca_arena_take_blocks(a, 1);
}

static ca_block_t *ca_arena_take_block(ca_arena_t *a, uint32_t cls)
{
    uint32_t blocks = ca_class_blocks[cls];
    if (blocks > 1) { /* a medium span: its later blocks lead to this one */
        ca_block_t *b = ca_arena_take_kept_span(a, blocks);
        if (b == NULL) b = ca_arena_take_blocks(a, blocks);
        if (b == NULL) return NULL;
        ca_span_mark(b, blocks, CA_BLOCK_SMALL);
        ca_block_setup(a, b, cls);
        return b;
    }
    ca_block_t *b = ca_arena_take_one(a);
    if (b != NULL) ca_block_setup(a, b, cls);
    return b;
}

/* Give `n` blocks at `b` back to their node, into `rel` when it is given. */
static void ca_arena_give(ca_block_t *b, uint32_t n, enum ca_give how, ca_release_t *rel)
{
    if (rel != NULL)
        ca_release_add(rel, b, n);
    else
        ca_node_give_to(b, n, how);
}

/* Emptied block `b` (a small block or a medium span) stops serving `a`:
 * kept by the arena when `keep` and its caches have room, else given back to
 * its node whole, kept there as `how` says (without `keep`, the arena is
 * being emptied: its thread ended, it is reclaimed, or malloc_trim). `rel`:
 * where blocks given back with CA_GIVE_RELEASE gather (NULL for the other
 * ways). */
static void ca_arena_drop_block(ca_arena_t *a, ca_block_t *b, int keep, enum ca_give how,
                                ca_release_t *rel)
{
    uint32_t blocks = b->kind == CA_BLOCK_RUNS ? 1 : ca_class_blocks[b->size_class];
    b->was = b->kind;
    ca_block_clear(b);
    ca_held(a, -((int64_t)blocks << ca_cfg.block_shift));
    if (keep && a != ca_arena_fallback) {
        if (blocks == 1 && a->ncache < CA_ARENA_CACHE) {
            b->kind = CA_BLOCK_KEPT;
            b->next = a->cache;
            a->cache = b;
            a->ncache++;
            return;
        }
        if (blocks > 1 && ca_arena_keep_span(a, b)) return;
    }
    ca_arena_give(b, blocks, how, rel);
}

static void ca_arena_retire_block(ca_arena_t *a, ca_block_t *b)
{
    ca_purge_tick(); /* a free's slow path: idle cached blocks may be due */
    ca_arena_drop_block(a, b, 1, CA_GIVE_CACHE, NULL);
}

static void ca_arena_trim_cache(ca_arena_t *a, enum ca_give how, ca_release_t *rel)
{
    while (a->cache != NULL) {
        ca_block_t *b = a->cache;
        a->cache = b->next;
        a->ncache--;
        ca_arena_give(b, 1, how, rel);
    }
    while (a->spans != NULL) {
        ca_block_t *b = a->spans;
        a->spans = b->next;
        a->nspans--;
        ca_arena_give(b, b->span, how, rel);
    }
}

/* Every block of `a` that holds no object, and the arena's own caches, given
 * back as `how` says (into `rel` when given). */
static void ca_arena_empty_out(ca_arena_t *a, enum ca_give how, ca_release_t *rel)
{
    for (unsigned c = 1; c < CA_MAX_CLASSES; c++) {
        ca_block_t *b = a->bins[c].current;
        while (b != &ca_block_empty && b != NULL) {
            ca_block_t *next = b->next;
            if (ca_block_used(b) == 0) {
                ca_bin_unlink(a, b);
                ca_arena_drop_block(a, b, 0, how, rel); /* straight to the node */
            }
            b = next;
        }
    }
    for (ca_block_t *b = a->runs, *next; b != NULL; b = next) {
        next = b->next;
        if (b->used == 0) {
            ca_runs_unlink(a, b);
            ca_arena_drop_block(a, b, 0, how, rel);
        }
    }
    ca_arena_trim_cache(a, how, rel);
}

/* The batch on a frame of its own: a reclaim (CA_GIVE_LAZY) needs none. */
static ca_noinline void ca_arena_release_batched(ca_arena_t *a)
{
    ca_release_t batch;
    batch.count = 0;
    ca_arena_empty_out(a, CA_GIVE_RELEASE, &batch);
    ca_release_flush(&batch);
}

/* Every block of `a` that holds no object goes back to its node, with the
 * arena's own caches: at thread exit, when a parked arena is reclaimed, and
 * on malloc_trim. Only for the owner, or under ca_arenas_mutex for a parked
 * arena (and the fallback's lock for the fallback). */
void ca_arena_release_empty(ca_arena_t *a, enum ca_give how)
{
    if (how == CA_GIVE_RELEASE)
        ca_arena_release_batched(a);
    else
        ca_arena_empty_out(a, how, NULL);
}

/* ---- bins and blocks ---- */

/* Make `b` the current block of class `cls` (the malloc fast path's table
 * follows). */
static void ca_bin_set(ca_arena_t *a, unsigned cls, ca_block_t *b)
{
    a->bins[cls].current = b;
    for (unsigned i = ca_class_direct[cls]; i < ca_class_direct[cls + 1]; i++)
        a->direct[i] = b;
}

/* Put `b` back into its bin: after the head, so the current block stays. */
static void ca_bin_push(ca_arena_t *a, ca_block_t *b)
{
    ca_bin_t *bin = &a->bins[b->size_class];
    ca_block_t *head = bin->current;
    if (head == &ca_block_empty) {
        b->prev = b->next = NULL;
        ca_bin_set(a, b->size_class, b);
        return;
    }
    b->prev = head;
    b->next = head->next;
    if (head->next) head->next->prev = b;
    head->next = b;
}

/* Take `b` out of the doubly linked list it is in (a bin's, or an arena's run
 * blocks); 1 when it was the head, which the caller moves to `b`'s old next. */
static int ca_block_unlink(ca_block_t *b)
{
    int head = b->prev == NULL;
    if (!head) b->prev->next = b->next;
    if (b->next) b->next->prev = b->prev;
    b->next = b->prev = NULL;
    return head;
}

static void ca_bin_unlink(ca_arena_t *a, ca_block_t *b)
{
    ca_block_t *next = b->next;
    if (ca_block_unlink(b)) ca_bin_set(a, b->size_class, next ? next : &ca_block_empty);
}

/* A small block became empty, or got room while out of its bin. */
void ca_block_event(ca_arena_t *a, ca_block_t *b)
{
    if (ca_block_full(b)) {
        b->used = (int32_t)ca_block_used(b);
        if (b->used == 0)
            ca_arena_retire_block(a, b);
        else
            ca_bin_push(a, b);
        return;
    }
    if (b->used != 0) return;
    ca_bin_t *bin = &a->bins[b->size_class];
    if (bin->current == b && b->next == NULL) return; /* keep the bin's only block */
    ca_bin_unlink(a, b);
    ca_arena_retire_block(a, b);
}

/* Thread more slots of `b` onto its free list: those that start in the page
 * where carving stands (one slot when slots are a page or more), so a fresh
 * block's memory is touched only as it is used: a size class that holds a
 * few objects costs a page, not two, and a class of page-sized slots or
 * larger touches no slot before it hands it out. */
static void ca_block_carve(ca_block_t *b)
{
    uint32_t slot = b->slot_size;
    uint32_t n = b->capacity - b->bump;
    size_t ps = ca_os_page_size();
    size_t at = (size_t)b->bump * slot; /* bytes into the block: pages are block-aligned */
    size_t in_page = ps - (at & (ps - 1));
    uint32_t batch = (uint32_t)((in_page + slot - 1) / slot); /* >= 1 */
    if (n > batch) n = batch;
    char *start = ca_block_start(b) + (size_t)b->bump * slot;
    char *p = start;
    for (uint32_t i = 1; i < n; i++, p += slot) {
        ((void **)p)[0] = p + slot;
        ca_slot_set_state(p, CA_SLOT_FRESH);
    }
    ((void **)p)[0] = b->free;
    ca_slot_set_state(p, CA_SLOT_FRESH);
    b->free = start;
    b->bump += n;
    __atomic_store_n(&b->limit, b->bump * slot, __ATOMIC_RELAXED);
    /* Release: a thread that sees the new bound sees this block's magic. */
    __atomic_store_n(&b->magic_limit, b->bump * (b->magic * slot), __ATOMIC_RELEASE);
}

/* A block of class `cls` with a free slot, made current; NULL when out of memory. */
static ca_noinline ca_block_t *ca_bin_refill(ca_arena_t *a, uint32_t cls)
{
    if (atomic_load_explicit(&a->queued, memory_order_relaxed) != NULL) ca_arena_collect(a);
    ca_bin_t *bin = &a->bins[cls];
    for (ca_block_t *b = bin->current; b != &ca_block_empty; b = bin->current) {
        if (b->free != NULL) return b;
        if (b->bump < b->capacity) {
            ca_block_carve(b);
            return b;
        }
        ca_bin_unlink(a, b); /* exhausted: out of the bin until a slot comes back */
        b->used += CA_USED_FULL;
    }
    ca_block_t *b = ca_arena_take_block(a, cls);
    if (b == NULL) return NULL;
    b->next = NULL;
    b->prev = NULL;
    ca_bin_set(a, cls, b);
    ca_block_carve(b);
    return b;
}

void *ca_alloc_small_in(ca_arena_t *a, uint32_t cls, size_t n)
{
    ca_block_t *b = a->bins[cls].current;
    if (b->free == NULL) {
        b = ca_bin_refill(a, cls);
        if (b == NULL) return NULL;
    }
    void **p = (void **)b->free;
    b->free = p[0];
    p[1] = NULL;
    b->used++;
    CA_STAT_ALLOC(a, cls, n);
    return p;
}

/* ---- run blocks ---- */

static void ca_runs_unlink(ca_arena_t *a, ca_block_t *b)
{
    ca_block_t *next = b->next;
    if (ca_block_unlink(b)) a->runs = next;
}

/* A new run block for `a`, last in its list; NULL when out of memory. */
static ca_block_t *ca_runs_add(ca_arena_t *a)
{
    ca_block_t *b = ca_arena_take_one(a);
    if (b == NULL) return NULL;
    ca_block_own(a, b, CA_BLOCK_RUNS, 0, 0, CA_RUN_UNITS, 1);
    b->stamp = CA_RUN_UNITS + 1;
    ca_runs_init(b);
    ca_block_t **link = &a->runs;
    while (*link != NULL) {
        b->prev = *link;
        link = &(*link)->next;
    }
    *link = b;
    return b;
}

/* `k` units of `b` at a multiple of `step`, counted in its use: their
 * address, or NULL when it has no such room. */
static char *ca_runs_place(ca_block_t *b, uint32_t k, uint32_t step)
{
    int u = ca_runs_take(b, k, step);
    if (u < 0) return NULL;
    b->used += (int32_t)k;
    return ca_block_start(b) + ((size_t)u << ca_cfg.unit_shift);
}

/* The first place of `k` units at a multiple of `step` in `a`'s run blocks. */
static char *ca_runs_find(ca_arena_t *a, uint32_t k, uint32_t step)
{
    for (ca_block_t *b = a->runs; b != NULL; b = b->next) {
        if (CA_RUN_UNITS - (uint32_t)b->used < k || k >= b->stamp) continue;
        char *p = ca_runs_place(b, k, step);
        if (p != NULL) return p;
        if (step == 1) b->stamp = k; /* no room for k: not looked at again until a free */
    }
    return NULL;
}

/* See arena.h. */
void *ca_alloc_runs_in(ca_arena_t *a, uint32_t cls, size_t n, size_t align)
{
    uint32_t k = ca_class_size[cls] >> ca_cfg.unit_shift;
    size_t unit = (size_t)1 << ca_cfg.unit_shift;
    uint32_t step = align > unit ? (uint32_t)(align >> ca_cfg.unit_shift) : 1;
    char *p = ca_runs_find(a, k, step);
    if (p == NULL && atomic_load_explicit(&a->queued, memory_order_relaxed) != NULL) {
        ca_arena_collect(a);
        p = ca_runs_find(a, k, step);
    }
    if (p == NULL) {
        ca_block_t *b = ca_runs_add(a);
        if (b == NULL) return NULL;
        p = ca_runs_place(b, k, step); /* an empty block has room for any run */
    }
    ((void **)p)[1] = NULL; /* no slot state: a live object */
    CA_STAT_ALLOC(a, cls, n);
    return p;
}

/* `k` units of run block `b` came back: an emptied block that is not the
 * arena's first goes back to the caches. */
static void ca_runs_gave(ca_arena_t *a, ca_block_t *b, uint32_t k)
{
    b->used -= (int32_t)k;
    b->stamp = CA_RUN_UNITS + 1; /* a longer run may fit now */
    if (b->used == 0 && b != a->runs) {
        ca_runs_unlink(a, b);
        ca_arena_retire_block(a, b);
    }
}

/* See arena.h. */
void ca_arena_runs_free(ca_arena_t *a, ca_block_t *b, void *p)
{
    /* marked as another thread's free marks it: a second free of this
     * pointer is then told from one that was never handed out */
    ca_slot_set_state(p, CA_SLOT_FREE);
    uint32_t k = ca_runs_release(b, ca_runs_unit_of(b, p));
    CA_STAT_FREE(a, ca_size_class((size_t)k << ca_cfg.unit_shift));
    ca_runs_gave(a, b, k);
}

/* Remote frees of run block `b` (a list through word 0), collected. */
static void ca_runs_collected(ca_arena_t *a, ca_block_t *b, void **list)
{
    uint32_t k = 0;
    for (void **q = list, **next; q != NULL; q = next) {
        next = q[0];
        k += ca_runs_release(b, ca_runs_unit_of(b, q));
    }
    ca_runs_gave(a, b, k);
}

/* ---- arena selection for slow paths ---- */

/* See arena.h. A thread that cannot get an arena of its own (no memory
 * for one) is served by the fallback arena too. */
ca_arena_t *ca_arena_enter(void)
{
    ca_arena_t *a = ca_tls_arena;
    if (ca_unlikely(a == &ca_arena_empty)) a = ca_arena_thread_init();
    if (ca_unlikely(a == &ca_arena_exited || a == NULL)) {
        ca_fallback_lock();
        return ca_arena_fallback;
    }
    return a;
}

void ca_arena_leave(ca_arena_t *a)
{
    if (a == ca_arena_fallback) ca_fallback_unlock();
}

/* See arena.h. Parked arenas' frees are collected first, so the blocks they
 * emptied are purged in the same pass when they are old enough. */
void ca_purge_tick(void)
{
    uint32_t due = atomic_load_explicit(&ca_purge_due, memory_order_relaxed);
    if (ca_likely(due == 0)) return;
    uint32_t now = ca_os_now_ms();
    if ((int32_t)(now - due) < 0) return;
    if (!atomic_compare_exchange_strong(&ca_purge_due, &due, 0)) return; /* another thread's */
    ca_arenas_reclaim(0);
    ca_nodes_purge(now);
    ca_hugecache_purge(now, 0);
}

int ca_thread_node(void)
{
    ca_arena_t *a = ca_tls_arena;
    if (a == &ca_arena_empty || a == &ca_arena_exited) return -1;
    return (int)a->node;
}
