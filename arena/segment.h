/*
 * Layer 7. Segments (what one mmap gives, aligned to its size, blocks inside),
 * spans of blocks, and each NUMA node's block cache with its delayed purge.
 * Everything here runs under the node's lock: it is the slow path.
 * Uses: registry.h, numa.h, options.h, util.h, os.h.
 */
#ifndef CA_SEGMENT_H
#define CA_SEGMENT_H

#include "options.h"
#include "types.h"

#include <stdatomic.h>
#include <stdint.h>

extern ca_node_t ca_nodes[CA_MAX_NODES];

/* Take `n` contiguous free blocks on `node`; *reused says whether they came
 * from the cache. NULL when the OS refuses memory. */
ca_block_t *ca_node_take(unsigned node, uint32_t n, int *reused);
/* Give back `n` blocks starting at `b` (a span or one block); each keeps in
 * `was` the kind it had. */
void ca_node_give(ca_block_t *b, uint32_t n);
/* Mark `n` blocks from `b` as one span of `kind` (head) and CA_BLOCK_CONT. */
void ca_span_mark(ca_block_t *b, uint32_t n, uint8_t kind);
/* Return every cached block's pages and every empty segment. */
void ca_node_trim(void);
void ca_nodes_lock_all(void);
void ca_nodes_unlock_all(void);

/* ca_os_now_ms when blocks waiting in a node cache past its bound may be
 * purged; 0 while none wait. The purge tick (arena.c) and the background
 * purger watch it. */
extern _Atomic uint32_t ca_purge_due;
/* Purge, on every node, the cached blocks past the bound that waited out the
 * delay at time `now`; re-arm ca_purge_due for those that must wait more. */
void ca_nodes_purge(uint32_t now);

static inline ca_segment_t *ca_block_segment(const ca_block_t *b)
{
    return (ca_segment_t *)((uintptr_t)b & ~(uintptr_t)(ca_cfg.seg_size - 1));
}
static inline size_t ca_block_index(const ca_block_t *b)
{
    return (size_t)(b - ca_block_segment(b)->blocks);
}
static inline char *ca_block_start(const ca_block_t *b)
{
    return (char *)ca_block_segment(b) + (ca_block_index(b) << ca_cfg.block_shift);
}
/* The block holding `p` in segment `s`, and `p`'s offset into it. */
static inline ca_block_t *ca_block_of(ca_segment_t *s, const void *p, uintptr_t *boff)
{
    uintptr_t off = (uintptr_t)p - (uintptr_t)s;
    *boff = off & (ca_cfg.block_size - 1);
    return &s->blocks[off >> ca_cfg.block_shift];
}

#endif
