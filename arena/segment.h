/*
 * Layer 8. Segments (slots of one reserved range, aligned to their size, blocks inside),
 * spans of blocks, and each NUMA node's block cache with its delayed purge.
 * Everything here runs under the node's lock: it is the slow path.
 * Uses: registry.h, numa.h, options.h, util.h, os.h.
 */
#ifndef CA_SEGMENT_H
#define CA_SEGMENT_H

#include "options.h"
#include "os.h"
#include "types.h"
#include "util.h"

#include <stdatomic.h>
#include <stdint.h>

extern ca_node_t ca_nodes[CA_MAX_NODES];

/* Make the locks of the nodes present adaptive (at start-up, after the
 * topology is read). */
void ca_nodes_init(void);

/* Reserve the segment range (at start-up, once the segment size is known). */
void ca_segment_range_init(void);
/* Test hook: new slots of the range stop past this many (given-back slots are
 * still taken); later segments are mapped outside it. */
extern size_t ca_range_limit;

/* Bytes of the segment range used so far (its high-water mark). */
uintptr_t ca_segment_range_used(void);

/* `p`'s offset into the segment range. Below ca_cfg.range_size, its segment
 * header is readable: a live segment, one given back, or pages never used,
 * whose blocks read as free. A segment outside the range is not in it, and
 * its frees take the slow path. */
static inline uintptr_t ca_range_offset(const void *p)
{
    return (uintptr_t)p - ca_cfg.range_base;
}

/* Take `n` contiguous free blocks on `node`; *reused says whether they came
 * from the cache. NULL when the OS refuses memory. */
ca_block_t *ca_node_take(unsigned node, uint32_t n, int *reused);
/* How blocks given back to their node are kept. */
enum ca_give {
    CA_GIVE_CACHE,   /* into the node cache; blocks past its bounds purged now */
    CA_GIVE_LAZY,    /* the same, but the purge left to the next tick: a parked arena
                        reclaimed, and a thread that ended once the program churns
                        threads (ca_exit_give): its node may allocate again soon */
    CA_GIVE_RELEASE, /* pages decommitted now, not cached (through ca_release_t): a
                        thread that ended before any arena was adopted
                        (ca_exit_give), and malloc_trim */
};
/* Spans given back with CA_GIVE_RELEASE, gathered so that their pages go
 * back together: neighbours in one range, all ranges in one system call where
 * the kernel takes it (ca_os_decommit_ranges), a node's lock taken once for
 * each run of its spans in address order. A thread that ends gives back
 * dozens of spans; one madvise each would flush the other CPUs' TLBs as many
 * times. Flush before it goes out of scope. */
#define CA_RELEASE_BATCH CA_OS_RANGES_MAX
typedef struct {
    ca_block_t *b[CA_RELEASE_BATCH];
    uint32_t n[CA_RELEASE_BATCH];
    uint32_t count;
} ca_release_t;
/* Add the span of `n` blocks at `b` (marked free now; flushes when full). */
void ca_release_add(ca_release_t *r, ca_block_t *b, uint32_t n);
/* Decommit every span added, then hand them to their nodes. */
void ca_release_flush(ca_release_t *r);
/* Give back `n` blocks starting at `b` (a span or one block); each keeps in
 * `was` the kind it had. */
void ca_node_give(ca_block_t *b, uint32_t n);
/* The same, kept as `how` says: CA_GIVE_CACHE or CA_GIVE_LAZY (released
 * spans go through a ca_release_t). */
void ca_node_give_to(ca_block_t *b, uint32_t n, enum ca_give how);
/* Mark `n` blocks from `b` as one span of `kind` (head) and CA_BLOCK_CONT. */
void ca_span_mark(ca_block_t *b, uint32_t n, uint8_t kind);
/* Return every cached block's pages and every empty segment. */
void ca_node_trim(void);
void ca_nodes_lock_all(void);
/* Count, for every node, the resident pages of its segments that the kernel
 * put on another node (nd->pages_elsewhere). For dumps only: a node whose
 * lock is held (by the thread a signal interrupted, maybe) keeps its last
 * count. */
void ca_nodes_count_spill(void);
void ca_nodes_unlock_all(void);
/* In a child of fork, every node locked: the blocks of `s` marked free that
 * its node does not hold go to the node's cache (the purge tick armed). A
 * thread that the fork left behind held them between marking them free and
 * handing them over (a release batch or a purge batch being decommitted,
 * blocks taken and not yet marked as its own): in the child nobody will.
 * Moves the entry of `s` only to an index below its own, whose entry moves
 * to its index (ca_seg_swap): a walk of the node's entries in index order
 * stays valid. */
void ca_segment_recover_lost(ca_segment_t *s);

/* ca_os_now_ms when blocks waiting in a node cache past its bound may be
 * purged; 0 while none wait. The purge tick (arena.c) and the background
 * purger watch it. */
extern _Atomic uint32_t ca_purge_due;
/* Purge, on every node, the cached blocks past the bound that waited out the
 * delay at time `now`; re-arm ca_purge_due for those that must wait more. */
void ca_nodes_purge(uint32_t now);
/* Arm the purge tick for ca_os_now_ms time `when`, unless armed earlier. */
void ca_purge_arm(uint32_t when);
/* Arm it for the purge delay from now: work that can wait (remote frees into
 * an arena that allocates no more) is batched into one tick. */
void ca_purge_arm_later(void);

static inline ca_segment_t *ca_block_segment(const ca_block_t *b)
{
    return (ca_segment_t *)((uintptr_t)b & ca_cfg.seg_base_mask);
}
static inline size_t ca_block_index(const ca_block_t *b)
{
    return (size_t)(b - ca_block_segment(b)->blocks);
}
/* The remote free list of `b` (a block of a segment). */
static inline ca_remote_t *ca_block_remote(const ca_block_t *b)
{
    return &ca_block_segment(b)->remote[ca_block_index(b)];
}
static inline char *ca_block_start(const ca_block_t *b)
{
    return (char *)ca_block_segment(b) + (ca_block_index(b) << ca_cfg.block_shift);
}
/* A block stops serving objects: no owner, and no slot that the free fast
 * path would take (limit 0); its slot size and carve count stay, so that a
 * late second free of one of its slots is still named. */
static inline void ca_block_clear(ca_block_t *b)
{
    b->owner = NULL;
    __atomic_store_n(&b->magic_limit, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&b->limit, 0, __ATOMIC_RELAXED);
    b->free = NULL;
}

/* Used slots of `b`, whether or not it is full. */
static inline uint32_t ca_block_used(const ca_block_t *b)
{
    return (uint32_t)b->used & (uint32_t)INT32_MAX;
}
static inline int ca_block_full(const ca_block_t *b)
{
    return b->used < 0;
}

/* The slot test. For slot size d, magic c = ceil(2^64 / d) (one more when d
 * is a power of two), so e = c * d mod 2^64 is in [1, d]. For an address
 * n bytes past slot 0 (n < 2^32), (n * c) mod 2^64 is k * e when n = k * d,
 * and at least c (far above any k * e) otherwise. One multiply and one
 * compare against slots carved * e thus ask both "a slot start?" and
 * "carved?". */
static inline uint64_t ca_slot_magic(uint32_t size)
{
    uint64_t c = UINT64_MAX / size + 1;
    return (size & (size - 1)) == 0 ? c + 1 : c;
}
/* Is the address `boff` bytes into block `b` a carved slot's start? Slot 0
 * is at the block's start. */
static inline int ca_slot_test(const ca_block_t *b, uintptr_t boff)
{
    return ca_below_relaxed((uint64_t)boff * b->magic, &b->magic_limit);
}

/* The block metadata of `p`, a pointer into a segment of the range, for
 * blocks of 2^block_shift bytes: segments are aligned to their size, so the
 * block index is bits block_shift.. of `p`. With a constant shift (the free
 * fast path's) it is two masks, a shift and an add, none waiting for the
 * range test's loads. */
static inline ca_block_t *ca_block_at_shift(const void *p, unsigned block_shift)
{
    uintptr_t seg_size = (uintptr_t)CA_SEG_BLOCKS << block_shift;
    ca_segment_t *s = (ca_segment_t *)((uintptr_t)p & ~(seg_size - 1));
    uintptr_t idx = ((uintptr_t)p >> (block_shift - (unsigned)__builtin_ctz(sizeof(ca_block_t)))) &
                    ((uintptr_t)(CA_SEG_BLOCKS - 1) * sizeof(ca_block_t));
    return (ca_block_t *)((char *)s->blocks + idx);
}
static inline ca_block_t *ca_block_at(const void *p)
{
    return ca_block_at_shift(p, ca_cfg.block_shift);
}

/* The block holding `p` in segment `s`, and `p`'s offset into it. */
static inline ca_block_t *ca_block_of(ca_segment_t *s, const void *p, uintptr_t *boff)
{
    uintptr_t off = (uintptr_t)p - (uintptr_t)s;
    *boff = off & ca_cfg.block_off_mask;
    return &s->blocks[off >> ca_cfg.block_shift];
}

#endif
