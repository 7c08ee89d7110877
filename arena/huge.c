/*
 * Huge objects: bigger than a large span (or aligned beyond a block), each in
 * a mapping of its own aligned to the segment size, with a ca_huge_t header at
 * its start so the registry finds it. realloc moves pages with mremap; freed
 * mappings wait in a bounded, decaying cache (hugecache.c) for reuse.
 */
#include "huge.h"

#include "concord.h"
#include "arena.h"
#include "hugecache.h"
#include "os.h"
#include "registry.h"
#include "stats.h"
#include "util.h"

#include <errno.h>
#include <string.h>

#define CA_HUGE_HDR 64u /* bytes before the user pointer when no alignment asks more */

static size_t ca_page_round(size_t n)
{
    size_t ps = ca_os_page_size();
    return (n + ps - 1) & ~(ps - 1);
}

/* Every chunk the mapping covers points at its header, so a pointer
 * anywhere inside is recognised (an interior pointer, not a foreign one). */
static void ca_huge_register(ca_huge_t *h)
{
    ca_hdr_t *tagged = (ca_hdr_t *)((uintptr_t)&h->hdr | CA_REG_HUGE);
    for (size_t off = 0; off < h->map_size; off += ca_cfg.seg_size)
        ca_registry_set((uintptr_t)h + off, tagged);
}

/* Before the mapping goes: its chunks remember the user pointer (at least
 * 64-aligned, so the tag bits are free) to recognise a second free. */
static void ca_huge_unregister(ca_huge_t *h)
{
    for (size_t off = 0; off < h->map_size; off += ca_cfg.seg_size)
        ca_registry_forget((uintptr_t)h + off, (uintptr_t)h->user);
}

/* Did every chunk get its entry? (A registry leaf may fail to map.) */
static int ca_huge_registered(ca_huge_t *h)
{
    for (size_t off = 0; off < h->map_size; off += ca_cfg.seg_size)
        if (ca_registry_lookup((char *)h + off) != &h->hdr) return 0;
    return 1;
}

/* Make mapping `h` (`have` bytes) `want` bytes long without copying: its
 * tail unmapped, or grown in place, or its pages moved to a fresh range
 * aligned to the segment size (the pages it had stay resident). The mapping,
 * perhaps moved, or NULL with `h` unchanged when the OS refuses. Registry
 * entries are the caller's business, before and after. */
static ca_huge_t *ca_huge_remap(ca_huge_t *h, size_t have, size_t want)
{
    if (want < have) {
        ca_os_unmap((char *)h + want, have - want);
        return h;
    }
    if (want == have || ca_os_resize_in_place(h, have, want) == 0) return h;
    ca_huge_t *moved = ca_os_remap_aligned(h, have, want, ca_cfg.seg_size);
    if (moved != NULL && ca_cfg.numa_bind) ca_os_bind(moved, want, moved->hdr.node);
    return moved;
}

/* A cached mapping of `a`'s node made `map_size` bytes long (see
 * ca_huge_remap); NULL when none fits. */
static ca_huge_t *ca_huge_reuse(ca_arena_t *a, size_t map_size)
{
    ca_huge_t *h = ca_hugecache_take(a->node, map_size);
    if (h == NULL) return NULL;
    size_t have = h->map_size;
    ca_huge_t *m = ca_huge_remap(h, have, map_size);
    if (m == NULL) {
        ca_os_unmap(h, have);
        return NULL;
    }
    m->fresh = 0;
    a->stats.huge_reused++;
    return m;
}

void *ca_huge_alloc(size_t n, size_t align, ca_arena_t *a)
{
    size_t hdr = align > CA_HUGE_HDR ? align : CA_HUGE_HDR;
    size_t map_align = align > ca_cfg.seg_size ? align : ca_cfg.seg_size;
    if (n > CA_MAX_REQUEST - hdr - ca_os_page_size()) return NULL;
    size_t map_size = ca_page_round(hdr + n);
    ca_huge_t *h = hdr == CA_HUGE_HDR ? ca_huge_reuse(a, map_size) : NULL;
    if (h == NULL) {
        h = ca_os_map_aligned(map_size, map_align);
        if (h == NULL) return NULL;
        if (ca_cfg.numa_bind) ca_os_bind(h, map_size, a->node);
        h->fresh = 1;
        a->stats.huge_maps++;
    }
    h->hdr.magic = CA_MAGIC_HUGE;
    h->hdr.node = a->node;
    h->map_size = map_size;
    h->user = (char *)h + hdr;
    ca_huge_register(h);
    if (!ca_huge_registered(h)) { /* the registry had no memory */
        ca_huge_unregister(h);
        ca_os_unmap(h, map_size);
        return NULL;
    }
    ca_stat_big(a, n, map_size - hdr);
    return h->user;
}

void ca_huge_free(ca_huge_t *h, ca_arena_t *a)
{
    int saved = errno;
    size_t usable = h->map_size - (size_t)((char *)h->user - (char *)h);
    ca_stat_big_free(a, usable);
    ca_huge_unregister(h);
    h->hdr.magic = 0;
    /* Kept for reuse when it has no special alignment; the cache decays. */
    if ((char *)h->user - (char *)h != CA_HUGE_HDR || ca_hugecache_put(h) != 0)
        ca_os_unmap(h, h->map_size);
    errno = saved;
}

/* Resize a huge object in place or by moving its pages (never by copying);
 * NULL when the OS refuses, the object then unchanged. The caller has checked
 * that the object has no special alignment and stays huge. */
void *ca_huge_realloc(ca_huge_t *h, size_t n, ca_arena_t *a)
{
    size_t hdr = (size_t)((char *)h->user - (char *)h);
    size_t new_size = ca_page_round(hdr + n);
    size_t old_size = h->map_size;
    if (new_size != old_size) {
        /* The old chunks become tombstones before the pages go or move: once
         * the kernel has freed a range, another thread's new mapping may land
         * there and register itself, and nothing of ours may write over it
         * afterwards. A refused resize registers the object again. */
        ca_huge_unregister(h);
        ca_huge_t *m = ca_huge_remap(h, old_size, new_size);
        if (m == NULL) {
            ca_huge_register(h);
            return NULL;
        }
        int moved = m != h;
        h = m;
        h->user = (char *)h + hdr;
        h->map_size = new_size;
        ca_huge_register(h);
        if (!ca_huge_registered(h)) {
            if (moved) /* it must be handed back: its old range is gone */
                ca_message("no memory for the registry: a huge object will be reported as not ours",
                           NULL);
            else if (new_size > old_size) { /* grown in place: back to the old size */
                ca_huge_unregister(h);
                ca_os_unmap((char *)h + old_size, new_size - old_size);
                h->map_size = old_size;
                ca_huge_register(h);
                return NULL;
            }
        }
    }
    int64_t delta = (int64_t)new_size - (int64_t)old_size;
    h->fresh = 0;
    a->stats.big_in_use += delta;
    ca_held(a, delta);
    return h->user;
}

int ca_huge_can_resize(const ca_huge_t *h, size_t n)
{
    return (size_t)((char *)h->user - (char *)h) == CA_HUGE_HDR && n > ca_cfg.large_max &&
           n <= CA_MAX_REQUEST - 2 * CA_HUGE_HDR;
}
