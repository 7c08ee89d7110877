/*
 * Layer 6. The registry: which segment-sized chunks of the address space hold
 * one of our headers (a segment's or a huge mapping's), or held one that was
 * given back. A lookup is two dependent loads and never takes a lock.
 * Uses: options.h, os.h.
 */
#ifndef CA_REGISTRY_H
#define CA_REGISTRY_H

#include "options.h"
#include "types.h"
#include "util.h"

#include <stdatomic.h>
#include <stdint.h>

#define CA_REG_HUGE      1u /* entry tag: a huge header */
#define CA_REG_GONE      2u /* entry tag: unmapped, see ca_registry_forget */
#define CA_REG_LEAF_BITS 14u
#define CA_REG_TOP_SIZE  (1u << 15)
extern _Atomic(ca_hdr_t **) ca_registry_top[CA_REG_TOP_SIZE];

void ca_registry_set(uintptr_t addr, ca_hdr_t *hdr);
/* The chunk of `addr` was ours and is unmapped now: remember `what` (the
 * segment's address, or a huge object's user pointer) so that a late second
 * free is told from a foreign pointer; a new mapping there overwrites it. */
void ca_registry_forget(uintptr_t addr, uintptr_t what);

/* The registry entry for `p`'s chunk: a header pointer, tagged CA_REG_HUGE
 * for a huge mapping (so the free fast path tells a segment without loading
 * its header), an unmapped chunk tagged CA_REG_GONE, or 0. */
static inline uintptr_t ca_registry_raw(const void *p)
{
    uintptr_t chunk = (uintptr_t)p >> ca_cfg.seg_shift;
    uintptr_t top = chunk >> CA_REG_LEAF_BITS;
    if (ca_unlikely(top >= CA_REG_TOP_SIZE)) return 0;
    ca_hdr_t **leaf = atomic_load_explicit(&ca_registry_top[top], memory_order_acquire);
    if (ca_unlikely(leaf == NULL)) return 0;
    return (uintptr_t)__atomic_load_n(&leaf[chunk & ((1u << CA_REG_LEAF_BITS) - 1)],
                                      __ATOMIC_ACQUIRE);
}

static inline ca_hdr_t *ca_registry_lookup(const void *p)
{
    uintptr_t raw = ca_registry_raw(p);
    return raw & CA_REG_GONE ? NULL : (ca_hdr_t *)(raw & ~(uintptr_t)CA_REG_HUGE);
}

#endif
