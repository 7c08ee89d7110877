/*
 * Layer 10. Pages of freed huge objects kept for reuse: a bounded cache of
 * runs of resident pages (at most CA_HUGE_CACHE_MAX runs and
 * CA_HUGE_CACHE_BYTES bytes; the oldest goes first), so that a program
 * replacing big buffers does not map, fault in and unmap every one. A new
 * huge object is a fresh mapping into which cached pages are moved (mremap,
 * no copy) from its start: a freed mapping, or a part of one that a smaller
 * object left, serves any later size, tcmalloc's page-granular reuse without
 * its retained heap. A run unused for CA_HUGE_CACHE_DELAY_MS is unmapped by
 * the purge tick (as the block cache decays); malloc_trim unmaps them all.
 * Runs are not registered (the objects that held them left tombstones).
 * Uses: segment.h (the purge tick's clock), options.h, util.h, os.h.
 */
#ifndef CA_HUGECACHE_H
#define CA_HUGECACHE_H

#include "types.h"

#include <stddef.h>
#include <stdint.h>

#define CA_HUGE_CACHE_MAX      16u
#define CA_HUGE_CACHE_BYTES    ((size_t)256 << 20)
#define CA_HUGE_CACHE_DELAY_MS 1000u

/* Keep the pages of [p, p+len) of `node` (out of the registry, page-aligned);
 * 0, or -1 when they do not fit the cache (the caller unmaps them). */
int ca_hugecache_put(void *p, size_t len, unsigned node);
/* Move cached pages of `node` into [dst, dst+len) from its start, newest
 * runs first (a run longer than what is left gives its first part and keeps
 * the rest); the bytes filled, 0 when none. */
size_t ca_hugecache_fill(unsigned node, char *dst, size_t len);
/* Unmap the cached runs unused since `now - delay` (all with `all`). */
void ca_hugecache_purge(uint32_t now, int all);
/* Bytes in the cache now, in all and of mappings bound to `node`. */
uint64_t ca_hugecache_bytes(void);
uint64_t ca_hugecache_node_bytes(unsigned node);
void ca_hugecache_lock(void);
void ca_hugecache_unlock(void);

#endif
