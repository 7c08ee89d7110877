/*
 * Huge objects: bigger than a large span (or aligned beyond a block), each in
 * a mapping of its own aligned to the segment size, with a ca_huge_t header at
 * its start so the registry finds it. A new mapping is filled from its start
 * with cached pages of freed huge objects (hugecache.c: moved with mremap, no
 * copy, no page fault); realloc grows or moves with mremap (the grown part
 * filled the same way) and gives a shrunk object's tail to the cache.
 */
#include "huge.h"

#include "concord.h"
#include "arena.h"
#include "hugecache.h"
#include "numa.h"
#include "os.h"
#include "registry.h"
#include "stats.h"
#include "util.h"

#include <errno.h>
#include <string.h>

#define CA_HUGE_HDR 64u /* bytes before the user pointer when no alignment asks more */

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
 * tail given to the cache (or unmapped), or grown in place, or its pages
 * moved to a fresh range aligned to the segment size; a grown part is filled
 * with cached pages where there are some. The mapping, perhaps moved, or
 * NULL with `h` unchanged when that cannot be done (no memory, or a mapping
 * assembled from several that the kernel will not move as one: the caller
 * copies). Registry entries are the caller's business, before and after. */
static ca_huge_t *ca_huge_remap(ca_huge_t *h, size_t have, size_t want)
{
    unsigned node = h->hdr.node;
    if (want < have) {
        char *tail = (char *)h + want;
        if (ca_hugecache_put(tail, have - want, node) != 0) ca_os_unmap(tail, have - want);
        if (h->dirty > want) h->dirty = want;
        return h;
    }
    if (want == have) return h;
    ca_huge_t *m = h;
    if (ca_os_resize_in_place(h, have, want) != 0) {
        m = ca_os_remap_aligned(h, have, want, ca_cfg.seg_size);
        if (m == NULL) return NULL;
        if (ca_cfg.numa_bind) ca_numa_bind(m, want, node);
    }
    size_t filled = ca_hugecache_fill(node, (char *)m + have, want - have);
    m->dirty = have + filled;
    return m;
}

void *ca_huge_alloc(size_t n, size_t align, ca_arena_t *a)
{
    size_t hdr = align > CA_HUGE_HDR ? align : CA_HUGE_HDR;
    size_t map_align = align > ca_cfg.seg_size ? align : ca_cfg.seg_size;
    if (n > CA_MAX_REQUEST - hdr - ca_os_page_size()) return NULL;
    size_t map_size = ca_page_round(hdr + n);
    ca_huge_t *h = ca_os_map_aligned(map_size, map_align);
    if (h == NULL) return NULL;
    if (ca_cfg.numa_bind) ca_numa_bind(h, map_size, a->node);
    /* Cached pages first (objects without special alignment only: theirs
     * go back to the OS whole). */
    size_t filled = hdr == CA_HUGE_HDR ? ca_hugecache_fill(a->node, (char *)h, map_size) : 0;
    h->dirty = filled;
    if (filled != 0)
        a->stats.huge_reused++;
    else
        a->stats.huge_maps++;
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
    /* Its pages kept for reuse when it has no special alignment; the cache
     * decays. */
    size_t len = h->map_size;
    if ((char *)h->user - (char *)h != CA_HUGE_HDR || ca_hugecache_put(h, len, h->hdr.node) != 0)
        ca_os_unmap(h, len);
    errno = saved;
}

/* Resize a huge object in place or by moving its pages (never by copying);
 * NULL when that cannot be done, the object then unchanged (the caller
 * copies). The caller has checked
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
    a->stats.big_in_use += delta;
    ca_held(a, delta);
    return h->user;
}

int ca_huge_can_resize(const ca_huge_t *h, size_t n)
{
    return (size_t)((char *)h->user - (char *)h) == CA_HUGE_HDR && n > ca_cfg.large_max &&
           n <= CA_MAX_REQUEST - 2 * CA_HUGE_HDR;
}
