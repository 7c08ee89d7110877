/*
 * Large objects (aligned requests past the small classes, up to half a
 * segment): a span of whole blocks each. Freed spans go to the arena's kept
 * spans (ca_arena_keep_span: a few, off the node lock, shared with emptied
 * medium spans), else back to the node.
 */
#include "large.h"

#include "arena.h"
#include "segment.h"
#include "stats.h"

void *ca_large_alloc(ca_arena_t *a, size_t n)
{
    uint32_t nb = (uint32_t)((n + ca_cfg.block_size - 1) >> ca_cfg.block_shift);
    if (nb == 0) nb = 1;
    /* A span of the same size this thread freed lately: no lock. */
    ca_block_t *b = ca_arena_take_kept_span(a, nb);
    if (b == NULL) b = ca_arena_take_blocks(a, nb);
    if (b == NULL) return NULL;
    ca_span_mark(b, nb, CA_BLOCK_LARGE);
    ca_stat_big(a, n, (size_t)nb << ca_cfg.block_shift);
    return ca_block_start(b);
}

void ca_large_free(ca_arena_t *a, ca_block_t *b)
{
    uint32_t nb = b->span;
    ca_stat_big_free(a, (size_t)nb << ca_cfg.block_shift);
    /* Kept by the freeing thread (a buffer that grows and shrinks stays off
     * the node lock). */
    b->was = CA_BLOCK_LARGE;
    if (ca_arena_keep_span(a, b)) return;
    ca_node_give(b, nb);
}
