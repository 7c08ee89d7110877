/*
 * Layer 9. Freed huge mappings kept for reuse: a bounded cache (at most
 * CA_HUGE_CACHE_MAX mappings and CA_HUGE_CACHE_BYTES bytes; the oldest goes
 * first), so that a program replacing big buffers does not map, fault in and
 * unmap every one. A cached mapping unused for CA_HUGE_CACHE_DELAY_MS is
 * unmapped by the purge tick (as the block cache decays); malloc_trim
 * unmaps them all. Entries are whole mappings with their header; their
 * registry chunks hold tombstones while cached (a second free is named).
 * Uses: segment.h (the purge tick's clock), options.h, util.h, os.h.
 */
#ifndef CA_HUGECACHE_H
#define CA_HUGECACHE_H

#include "types.h"

#include <stddef.h>
#include <stdint.h>

#define CA_HUGE_CACHE_MAX      8u
#define CA_HUGE_CACHE_BYTES    ((size_t)256 << 20)
#define CA_HUGE_CACHE_DELAY_MS 1000u

/* Keep `h` (already out of the registry); 0, or -1 when it does not fit the
 * cache (the caller unmaps it). */
int ca_hugecache_put(ca_huge_t *h);
/* A cached mapping of `node` for `size` bytes: the smallest that holds it,
 * else the largest (to be grown); NULL when none. */
ca_huge_t *ca_hugecache_take(unsigned node, size_t size);
/* Unmap the cached mappings unused since `now - delay` (all with `all`). */
void ca_hugecache_purge(uint32_t now, int all);
/* Bytes in the cache now, in all and of mappings bound to `node`. */
uint64_t ca_hugecache_bytes(void);
uint64_t ca_hugecache_node_bytes(unsigned node);
void ca_hugecache_lock(void);
void ca_hugecache_unlock(void);

#endif
