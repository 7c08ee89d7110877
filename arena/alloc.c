/*
 * The malloc family's entry points (ca_malloc and friends), the top of the
 * layers (arena/README.md draws them). Call tree of an allocation, hot at the
 * top:
 *
 *   ca_malloc ── small, bin has a free slot ──> pop it        (here, inline)
 *       └─ ca_malloc_slow ── start-up, purge tick, ca_arena_enter (arena.c)
 *            ├─ small: ca_alloc_small_in ── ca_bin_refill: collect remote
 *            │         frees, next block of the bin, or a block from the
 *            │         arena's cache, the node's cache, a new segment (segment.c)
 *            ├─ 2-16 KiB: ca_alloc_runs_in ── next fit in the arena's run
 *            │         blocks (runs.c), collect remote frees, or a new one
 *            ├─ large: ca_large_alloc ── a kept span, or ca_node_take (large.c)
 *            └─ huge:  ca_huge_alloc (huge.c)
 *   ca_free ── owner thread, valid slot ──> push on the local list (free.c, inline)
 *       ├─ another thread's valid slot ──> ca_free_remote: one CAS
 *       ├─ a run: ca_free_slow ── ca_arena_runs_free, or ca_free_remote
 *       └─ ca_free_slow ── ca_locate: aligned, large, huge, or bad (report.c)
 */
#include "concord.h"

#include "arena.h"
#include "free.h"
#include "huge.h"
#include "hugecache.h"
#include "init.h"
#include "large.h"
#include "os.h"
#include "purger.h"
#include "registry.h"
#include "runs.h"
#include "segment.h"
#include "sizeclass.h"

#include <errno.h>
#include <string.h>

ca_noinline void *ca_malloc_slow(size_t n);

/* ---- the fast path ---- */

static inline void *ca_malloc_inline(size_t n)
{
    if (ca_likely(n <= 1024)) {
        ca_arena_t *a = ca_tls_arena;
        size_t i = ca_tiny_index(n);
        ca_block_t *b = a->direct[i];
        void **p = (void **)b->free;
        if (ca_likely(p != NULL)) {
            b->free = p[0];
            p[1] = NULL;
            b->used++;
            CA_STAT_TINY_ALLOC(a, i, n);
            return p;
        }
    }
    return ca_malloc_slow(n);
}

static void *ca_alloc_in(ca_arena_t *a, size_t n)
{
    if (n <= ca_cfg.large_max) {
        uint32_t cls = ca_size_class(n);
        if (ca_runs_serve(ca_class_size[cls])) return ca_alloc_runs_in(a, cls, n, 0);
        return ca_alloc_small_in(a, cls, n); /* small, medium */
    }
    return ca_huge_alloc(n, 0, a);
}

ca_noinline void *ca_malloc_slow(size_t n)
{
    if (ca_unlikely(n > CA_MAX_REQUEST)) {
        errno = ENOMEM;
        return NULL;
    }
    ca_ensure_init();
    if (ca_unlikely(ca_cfg.background_purge) &&
        atomic_load_explicit(&ca_init_state, memory_order_acquire) == 2)
        ca_purger_start(); /* once; no lock is held here, and it allocates */
    else
        ca_purge_tick();
    ca_arena_t *a = ca_arena_enter();
    void *p = ca_alloc_in(a, n);
    ca_arena_leave(a);
    if (p == NULL) errno = ENOMEM;
    return p;
}

/* ---- the family ---- */

void *ca_malloc(size_t n)
{
    return ca_malloc_inline(n);
}

void *ca_calloc(size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = ca_malloc_inline(total);
    if (p == NULL) return NULL;
    ca_hdr_t *h = ca_registry_lookup(p);
    size_t dirty = total;
    if (h != NULL && h->magic == CA_MAGIC_HUGE) { /* only its cached pages need zeroing */
        size_t at = (size_t)((char *)p - (char *)h);
        size_t old = ((ca_huge_t *)h)->dirty;
        dirty = old > at ? old - at : 0;
        if (dirty > total) dirty = total;
    }
    memset(p, 0, dirty);
    return p;
}

/* Power-of-two alignment > 16. */
static void *ca_alloc_aligned_in(ca_arena_t *a, size_t align, size_t n)
{
    a->stats.align_req[ca_align_bucket(align)]++;
    if (n == 0) n = 1; /* so the aligned pointer stays strictly inside its slot */
    if (n <= ca_cfg.small_max && align <= ca_cfg.block_size) {
        uint32_t cls = ca_size_class(n);
        if (ca_runs_serve(ca_class_size[cls])) return ca_alloc_runs_in(a, cls, n, align);
        if ((ca_class_size[cls] & (align - 1)) == 0)
            return ca_alloc_small_in(a, cls, n); /* every slot of the class is aligned */
        size_t over = n + align - 16;
        uint32_t over_cls = ca_size_class(over);
        if (ca_runs_serve(ca_class_size[over_cls])) /* a run placed at the alignment */
            return ca_alloc_runs_in(a, ca_size_class(ca_cfg.runs_min + 1), n, align);
        if (over <= ca_cfg.small_max) {
            char *p = ca_alloc_small_in(a, over_cls, n);
            if (p == NULL) return NULL;
            char *q = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
            /* The slot says where its object starts; free checks it. */
            if (q != p) ca_slot_set_state(p, CA_SLOT_ALIGNED ^ (uintptr_t)(q - p));
            return q;
        }
    }
    if (n <= ca_cfg.large_max && align <= ca_cfg.block_size) return ca_large_alloc(a, n);
    return ca_huge_alloc(n, align, a);
}

void *ca_memalign(size_t align, size_t n)
{
    if (align <= 16) return ca_malloc(n);
    if (align & (align - 1)) { /* glibc rounds a bad alignment up */
        if (align > ((size_t)1 << 62)) {
            errno = EINVAL;
            return NULL;
        }
        align = (size_t)1 << (64 - __builtin_clzl(align));
    }
    if (n > CA_MAX_REQUEST || align > CA_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    ca_ensure_init();
    ca_arena_t *a = ca_arena_enter();
    void *p = ca_alloc_aligned_in(a, align, n);
    ca_arena_leave(a);
    if (p == NULL) errno = ENOMEM;
    return p;
}

void *ca_aligned_alloc(size_t align, size_t n)
{
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return ca_memalign(align, n);
}

int ca_posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    int saved = errno;
    void *p = ca_memalign(align, n);
    if (p == NULL) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

void *ca_valloc(size_t n)
{
    return ca_memalign(ca_os_page_size(), n);
}

void *ca_pvalloc(size_t n)
{
    size_t ps = ca_os_page_size();
    if (n > CA_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = n == 0 ? ps : ca_page_round(n);
    return ca_memalign(ps, rounded);
}

void *ca_reallocarray(void *p, size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return ca_realloc(p, total);
}

void *ca_realloc(void *p, size_t n)
{
    if (p == NULL) return ca_malloc(n);
    if (n == 0) {
        ca_free(p);
        return NULL;
    }
    size_t have = ca_usable_size_of(p, "realloc");
    if (have == 0) {
        errno = EINVAL; /* not ours: reported, left alone */
        return NULL;
    }
    /* Stay in place while the new size still fits and wastes at most half. */
    if (n <= have && n >= have / 2) return p;
    ca_hdr_t *h = ca_registry_lookup(p);
    if (h->magic == CA_MAGIC_HUGE && ca_huge_can_resize((ca_huge_t *)h, n)) {
        ca_arena_t *a = ca_arena_enter();
        void *q = ca_huge_realloc((ca_huge_t *)h, n, a);
        ca_arena_leave(a);
        if (q != NULL) return q; /* else copied, below */
    }
    void *q = ca_malloc(n);
    if (q == NULL) return NULL;
    memcpy(q, p, n < have ? n : have);
    ca_free(p);
    return q;
}

size_t ca_malloc_usable_size(const void *p)
{
    if (p == NULL) return 0;
    return ca_usable_size_of(p, "malloc_usable_size");
}

/* malloc_trim: everything free in this thread's arena and in every parked
 * arena goes back to the nodes, then the nodes give every cached block and
 * empty segment back to the OS, and the cached huge mappings. Other live threads' arenas are theirs
 * alone (no lock guards them): their empty blocks beyond the bins' current ones are already in the
 * node caches. */
void ca_trim(void)
{
    ca_ensure_init();
    ca_arena_t *a = ca_tls_arena;
    if (a != &ca_arena_empty && a != &ca_arena_exited) {
        ca_arena_collect(a);
        ca_arena_release_empty(a, CA_GIVE_RELEASE);
    }
    ca_arenas_reclaim(1);
    ca_node_trim();
    ca_hugecache_purge(0, 1);
}
