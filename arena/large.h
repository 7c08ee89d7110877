/*
 * Layer 13. Large objects: past the small classes up to half a segment, a
 * span of whole blocks each; an arena keeps a few freed spans for itself.
 * Uses: stats.h, segment.h, options.h.
 */
#ifndef CA_LARGE_H
#define CA_LARGE_H

#include "types.h"

#include <stddef.h>

void *ca_large_alloc(ca_arena_t *a, size_t n);
void ca_large_free(ca_arena_t *a, ca_block_t *b);

#endif
