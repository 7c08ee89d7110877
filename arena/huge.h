/*
 * Layer 14. Huge objects: bigger than a large span (or aligned beyond a
 * block), each in a mapping of its own with a ca_huge_t header at its start,
 * filled with cached pages of freed ones; realloc moves pages with mremap.
 * Uses: stats.h, hugecache.h, registry.h, numa.h, options.h, util.h, os.h.
 */
#ifndef CA_HUGE_H
#define CA_HUGE_H

#include "types.h"

#include <stddef.h>

void *ca_huge_alloc(size_t n, size_t align, ca_arena_t *a);
void ca_huge_free(ca_huge_t *h, ca_arena_t *a);
/* Resize in place or by moving pages; NULL (object unchanged) when refused. */
void *ca_huge_realloc(ca_huge_t *h, size_t n, ca_arena_t *a);
int ca_huge_can_resize(const ca_huge_t *h, size_t n);

#endif
