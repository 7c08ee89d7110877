/*
 * The registry: which segment-sized chunks of the address space hold one of
 * our headers. Two levels (a static top table, leaves mapped on first use), so
 * a lookup is two dependent loads and never takes a lock. Entries are written
 * when a segment or huge mapping is made; before it is unmapped an entry is
 * marked gone (keeping what was there), so a late second free is recognised.
 */
#include "registry.h"

#include "os.h"

ca_sparse_bss _Atomic(ca_hdr_t **) ca_registry_top[CA_REG_TOP_SIZE];

static ca_hdr_t **ca_registry_leaf(uintptr_t chunk, int create)
{
    uintptr_t top = chunk >> CA_REG_LEAF_BITS;
    if (top >= CA_REG_TOP_SIZE) return NULL;
    ca_hdr_t **leaf = atomic_load_explicit(&ca_registry_top[top], memory_order_acquire);
    if (leaf != NULL || !create) return leaf;
    size_t bytes = sizeof(ca_hdr_t *) << CA_REG_LEAF_BITS;
    ca_hdr_t **fresh = ca_os_map_aligned(bytes, ca_os_page_size());
    if (fresh == NULL) return NULL;
    ca_hdr_t **expected = NULL;
    if (atomic_compare_exchange_strong(&ca_registry_top[top], &expected, fresh)) return fresh;
    ca_os_unmap(fresh, bytes); /* another thread won */
    return expected;
}

void ca_registry_set(uintptr_t addr, ca_hdr_t *hdr)
{
    uintptr_t chunk = addr >> ca_cfg.seg_shift;
    ca_hdr_t **leaf = ca_registry_leaf(chunk, 1);
    /* A leaf that cannot be mapped: the caller checks with a lookup. */
    if (leaf == NULL) return;
    __atomic_store_n(&leaf[chunk & ((1u << CA_REG_LEAF_BITS) - 1)], hdr, __ATOMIC_RELEASE);
}

void ca_registry_forget(uintptr_t addr, uintptr_t what)
{
    uintptr_t chunk = addr >> ca_cfg.seg_shift;
    ca_hdr_t **leaf = ca_registry_leaf(chunk, 0);
    if (leaf != NULL)
        __atomic_store_n(&leaf[chunk & ((1u << CA_REG_LEAF_BITS) - 1)],
                         (ca_hdr_t *)(what | CA_REG_GONE), __ATOMIC_RELEASE);
}
