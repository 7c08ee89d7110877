/*
 * Layer 11. Arenas: one per thread, reached through one initial-exec TLS
 * pointer; a bin (list of blocks with room) per size class; carving and
 * refilling blocks; remote frees collected; parking at thread exit and
 * adoption; reclaiming parked arenas; the purge tick.
 * Uses: segment.h, sizeclass.h, numa.h, options.h, util.h, os.h.
 */
#ifndef CA_ARENA_H
#define CA_ARENA_H

#include "options.h"
#include "segment.h"
#include "types.h"
#include "util.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

extern ca_block_t ca_block_empty;  /* never has a free slot */
extern ca_arena_t ca_arena_empty;  /* a thread's arena before its first call */
extern ca_arena_t ca_arena_exited; /* a thread's arena after it was parked */
extern ca_arena_t *ca_arena_fallback;
extern __thread ca_arena_t *ca_tls_arena __attribute__((tls_model("initial-exec")));

/* Set up the pthread key and the arena list (at start-up). */
void ca_arenas_setup(void);
/* The arena a slow path allocates from and counts into: the thread's, made
 * if needed (start-up must be done), or the fallback arena (locked) for a
 * thread that has exited; ca_arena_leave undoes the lock. */
ca_arena_t *ca_arena_enter(void);
void ca_arena_leave(ca_arena_t *a);
/* A small slot of class `cls` for `n` bytes requested, from `a`'s bin
 * (refilled when empty); NULL when out of memory. */
void *ca_alloc_small_in(ca_arena_t *a, uint32_t cls, size_t n);
/* An object of run class `cls` (ca_runs_serve) for `n` bytes requested,
 * aligned to `align` (a power of two up to block_size; 0 or anything up to
 * a unit: a unit), from `a`'s run blocks; NULL when out of memory. */
void *ca_alloc_runs_in(ca_arena_t *a, uint32_t cls, size_t n, size_t align);
/* Free run object `p` of `b`, a run block of `a` (the owner). */
void ca_arena_runs_free(ca_arena_t *a, ca_block_t *b, void *p);
/* `n` contiguous blocks from `a`'s node, counted in `a`'s statistics as
 * fresh or reused; NULL when the OS refuses memory. */
ca_block_t *ca_arena_take_blocks(ca_arena_t *a, uint32_t n);
/* Merge the remote frees of every block queued on `a` into its lists. */
void ca_arena_collect(ca_arena_t *a);
/* A small block became empty, or got room while out of its bin. */
void ca_block_event(ca_arena_t *a, ca_block_t *b);
/* Every empty block of `a`, and its caches, back to the nodes, kept as `how`
 * says (owner only, or under the arenas lock for a parked arena). */
void ca_arena_release_empty(ca_arena_t *a, enum ca_give how);
/* Collect and release the parked arenas (those that received frees, unless
 * `wait`: then all, waiting for the arenas lock). */
void ca_arenas_reclaim(int wait);
/* Frees reached an arena no thread allocates from (parked, or the fallback)
 * since ca_arenas_reclaim last ran: an arena about to take fresh blocks
 * reclaims first only then. */
extern _Atomic int ca_arenas_owed;
/* Such a free (or frees left for later): note it, and arm the purge tick,
 * which reclaims them if no fresh take does first. */
static inline void ca_arenas_owe(void)
{
    atomic_store_explicit(&ca_arenas_owed, 1, memory_order_relaxed);
    ca_purge_arm_later();
}
/* An arena's kept spans: freed spans of up to CA_SPAN_KEEP_MAX blocks (large
 * objects, emptied medium spans), the CA_ARENA_SPANS most recent (the oldest
 * goes back to the node when another comes), reused off the node lock for a
 * span of that length or shorter (the rest stays kept); they go back to the
 * node at thread exit, on malloc_trim and when the arena is reclaimed. Keep
 * `b` (its `was` set): 1, or 0 when it is too long or `a` is the shared
 * fallback arena. */
int ca_arena_keep_span(ca_arena_t *a, ca_block_t *b);
/* `n` blocks of the shortest kept span that has them, unlinked; NULL if none. */
ca_block_t *ca_arena_take_kept_span(ca_arena_t *a, uint32_t n);
/* Purge cached blocks that waited out the delay, if any are due; cheap when
 * none are (one load). Call with no lock of ours held but the fallback's. */
void ca_purge_tick(void);
ca_arena_t *ca_arena_list(void);
void ca_fallback_lock(void);
void ca_fallback_unlock(void);
void ca_arenas_lock(void);
void ca_arenas_unlock(void);
void ca_arenas_after_fork_child(void);

static inline uintptr_t ca_cookie(const void *p)
{
    return (uintptr_t)p ^ ca_cfg.secret;
}

/* States a slot's word 1 encodes (xor its cookie) while it is not handed out
 * as itself; malloc clears the word. Anything else is a live object's data. */
#define CA_SLOT_FREE    0u /* on a free list */
#define CA_SLOT_FRESH   1u /* carved, never handed out */
#define CA_SLOT_ALIGNED 2u /* | rem: holds an aligned object starting rem bytes in */
#define CA_SLOT_STATES  ((uintptr_t)1 << 20) /* every state is below this */

/* The state word 1 of slot `s` encodes, or >= CA_SLOT_STATES for a live
 * object (data that matches a state by chance is told apart by the slow path). */
static inline uintptr_t ca_slot_state(const void *s)
{
    return (uintptr_t)((void *const *)s)[1] ^ ca_cookie(s);
}

/* Make word 1 of slot (or run object) `s` encode state `st`. */
static inline void ca_slot_set_state(void *s, uintptr_t st)
{
    ((void **)s)[1] = (void *)(ca_cookie(s) ^ st);
}

/* Counters of the fast paths, compiled out with CA_STATS=0: one count per
 * size class each way and the bytes requested; bytes in use are derived from
 * the per-class counts when read, the peak at block granularity (ca_held). */
#if CA_STATS
/* One allocation counted in `counter` (an element of a's stats), `n` bytes asked for. */
#define CA_STAT_COUNT(a, counter, n)                                                               \
    do {                                                                                           \
        (a)->stats.counter++;                                                                      \
        (a)->stats.req_bytes += (n);                                                               \
    } while (0)
#define CA_STAT_ALLOC(a, cls, n) CA_STAT_COUNT(a, cls_alloc[cls], n)
#define CA_STAT_FREE(a, cls)     ((a)->stats.cls_free[cls]++)
/* The malloc fast path's count: by its size table entry `i`. */
#define CA_STAT_TINY_ALLOC(a, i, n) CA_STAT_COUNT(a, tiny_alloc[i], n)
#else
#define CA_STAT_ALLOC(a, cls, n)    ((void)(a), (void)(cls), (void)(n))
#define CA_STAT_TINY_ALLOC(a, i, n) ((void)(a), (void)(i), (void)(n))
#define CA_STAT_FREE(a, cls)        ((void)(a), (void)(cls))
#endif

/* `a` holds `delta` bytes more (blocks taken, big objects handed out) or
 * fewer; its peak follows. */
static inline void ca_held(ca_arena_t *a, int64_t delta)
{
    a->stats.held += delta;
    if (a->stats.held > a->stats.peak_held) a->stats.peak_held = a->stats.held;
}

/* A block's remote word: bit 0 queued; then the list's head and its tail (the
 * object pushed first), each as 16-byte units into the block's segment (0:
 * none; block 0 is the segment's header, so no object starts there); above
 * them how many objects the list holds. The owner takes a whole list from the
 * word alone, without walking it. */
#define CA_REMOTE_OFF_MASK    (((uintptr_t)1 << CA_REMOTE_OFF_BITS) - 1)
#define CA_REMOTE_TAIL_SHIFT  (1u + CA_REMOTE_OFF_BITS)
#define CA_REMOTE_COUNT_SHIFT (1u + 2u * CA_REMOTE_OFF_BITS)
_Static_assert(((uintptr_t)CA_SEG_BLOCKS << CA_BLOCK_SHIFT_MAX) >> 4 <= CA_REMOTE_OFF_MASK + 1,
               "a segment offset in 16-byte units fits a remote list end");
_Static_assert(CA_BLOCK_SHIFT_MAX - 4 < 64 - CA_REMOTE_COUNT_SHIFT,
               "a remote count holds every slot of a block");

static inline uintptr_t ca_remote_off(const ca_segment_t *s, const void *p)
{
    uintptr_t off = (uintptr_t)p - (uintptr_t)s;
    ca_assert(off != 0 && off < s->size && (off & 15) == 0);
    return off >> 4;
}
static inline void **ca_remote_at(const ca_segment_t *s, uintptr_t off)
{
    return off != 0 ? (void **)((char *)s + (off << 4)) : NULL;
}
static inline void **ca_remote_head(const ca_segment_t *s, uintptr_t word)
{
    return ca_remote_at(s, (word >> 1) & CA_REMOTE_OFF_MASK);
}
static inline void **ca_remote_tail(const ca_segment_t *s, uintptr_t word)
{
    return ca_remote_at(s, (word >> CA_REMOTE_TAIL_SHIFT) & CA_REMOTE_OFF_MASK);
}
static inline uint32_t ca_remote_count(uintptr_t word)
{
    return (uint32_t)(word >> CA_REMOTE_COUNT_SHIFT);
}
/* The remote word once the object `off` units into the segment is pushed on
 * the list `old` holds: the new head, the same tail (the object itself on an
 * empty list), one more, queued. */
static inline uintptr_t ca_remote_pushed(uintptr_t old, uintptr_t off)
{
    uintptr_t tail = ((old >> 1) & CA_REMOTE_OFF_MASK) != 0
                         ? old & (CA_REMOTE_OFF_MASK << CA_REMOTE_TAIL_SHIFT)
                         : off << CA_REMOTE_TAIL_SHIFT;
    return ((uintptr_t)(ca_remote_count(old) + 1) << CA_REMOTE_COUNT_SHIFT) | tail | off << 1 | 1;
}

#endif
