/*
 * Large objects: past the small classes up to half a segment, a span of
 * whole blocks each. An arena keeps up to CA_ARENA_SPANS freed spans of up to
 * CA_SPAN_KEEP_MAX blocks for its own reuse, off the node lock (a buffer that
 * grows and shrinks stays there); they go back to the node at thread exit
 * and on malloc_trim.
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
    for (ca_block_t **link = &a->spans; *link != NULL; link = &(*link)->next) {
        ca_block_t *b = *link;
        if (b->span != nb) continue;
        *link = b->next;
        a->nspans--;
        b->next = NULL;
        b->kind = CA_BLOCK_LARGE;
        a->stats.blocks_reused += nb;
        ca_stat_big(a, n, (size_t)nb << ca_cfg.block_shift);
        return ca_block_start(b);
    }
    int reused = 0;
    ca_block_t *b = ca_node_take(a->node, nb, &reused);
    if (b == NULL) return NULL;
    if (reused)
        a->stats.blocks_reused += nb;
    else
        a->stats.blocks_fresh += nb;
    ca_span_mark(b, nb, CA_BLOCK_LARGE);
    ca_stat_big(a, n, (size_t)nb << ca_cfg.block_shift);
    return ca_block_start(b);
}

void ca_large_free(ca_arena_t *a, ca_block_t *b)
{
    uint32_t nb = b->span;
    a->stats.big_free++;
    a->stats.in_use -= (int64_t)((size_t)nb << ca_cfg.block_shift);
    if (nb <= CA_SPAN_KEEP_MAX && a->nspans < CA_ARENA_SPANS && a != ca_arena_fallback) {
        /* Kept by the freeing thread (a buffer that grows and shrinks stays
         * off the node lock). Marked as an arena block, so a second free of it
         * is a double free. */
        b->kind = CA_BLOCK_KEPT;
        b->was = CA_BLOCK_LARGE;
        b->next = a->spans;
        a->spans = b;
        a->nspans++;
        return;
    }
    ca_node_give(b, nb);
}
