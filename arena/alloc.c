/*
 * Allocation: the malloc family's core entry points (ca_malloc and friends),
 * bin refills, large spans. See the call tree in internal.h.
 */
#include "concord.h"
#include "internal.h"
#include "os.h"

#include <errno.h>
#include <string.h>

/* ---- bins ---- */

/* Put `b` back into its bin: after the head, so the current block stays. */
void ca_bin_push(ca_arena_t *a, ca_block_t *b)
{
    ca_bin_t *bin = &a->bins[b->size_class];
    ca_block_t *head = bin->current;
    if (head == &ca_block_empty) {
        b->prev = b->next = NULL;
        bin->current = b;
        return;
    }
    b->prev = head;
    b->next = head->next;
    if (head->next) head->next->prev = b;
    head->next = b;
}

void ca_bin_unlink(ca_arena_t *a, ca_block_t *b)
{
    ca_bin_t *bin = &a->bins[b->size_class];
    if (b->prev)
        b->prev->next = b->next;
    else
        bin->current = b->next ? b->next : &ca_block_empty;
    if (b->next) b->next->prev = b->prev;
    b->next = b->prev = NULL;
}

/* A small block became empty, or got room while out of its bin. */
void ca_block_event(ca_arena_t *a, ca_block_t *b)
{
    if (b->full) {
        b->full = 0;
        if (b->used == 0)
            ca_arena_retire_block(a, b);
        else
            ca_bin_push(a, b);
        return;
    }
    if (b->used != 0) return;
    ca_bin_t *bin = &a->bins[b->size_class];
    if (bin->current == b && b->next == NULL) return; /* keep the bin's only block */
    ca_bin_unlink(a, b);
    ca_arena_retire_block(a, b);
}

/* Thread more slots of `b` onto its free list: about two pages at a time, so
 * a fresh block's memory is touched only as it is used. */
static void ca_block_carve(ca_block_t *b)
{
    uint32_t slot = b->slot_size;
    uint32_t n = b->capacity - b->bump;
    uint32_t batch = 8192u / slot;
    if (batch < 4) batch = 4;
    if (n > batch) n = batch;
    char *start = ca_block_start(b) + (size_t)b->bump * slot;
    char *p = start;
    for (uint32_t i = 1; i < n; i++, p += slot) {
        ((void **)p)[0] = p + slot;
        ((void **)p)[1] = (void *)(ca_cookie(p) ^ CA_SLOT_FRESH);
    }
    ((void **)p)[0] = b->free;
    ((void **)p)[1] = (void *)(ca_cookie(p) ^ CA_SLOT_FRESH);
    b->free = start;
    b->bump += n;
    __atomic_store_n(&b->limit, b->bump * slot, __ATOMIC_RELAXED);
}

/* A block of class `cls` with a free slot, made current; NULL when out of memory. */
static ca_noinline ca_block_t *ca_bin_refill(ca_arena_t *a, uint32_t cls)
{
    if (atomic_load_explicit(&a->queued, memory_order_relaxed) != NULL) ca_arena_collect(a);
    ca_bin_t *bin = &a->bins[cls];
    for (ca_block_t *b = bin->current; b != &ca_block_empty; b = bin->current) {
        if (b->free != NULL) return b;
        if (b->bump < b->capacity) {
            ca_block_carve(b);
            return b;
        }
        ca_bin_unlink(a, b); /* exhausted: out of the bin until a slot comes back */
        b->full = 1;
    }
    ca_block_t *b = ca_arena_take_block(a, cls);
    if (b == NULL) return NULL;
    b->next = NULL;
    b->prev = NULL;
    bin->current = b;
    ca_block_carve(b);
    return b;
}

void *ca_alloc_small_in(ca_arena_t *a, uint32_t cls, size_t n)
{
    ca_block_t *b = a->bins[cls].current;
    if (b->free == NULL) {
        b = ca_bin_refill(a, cls);
        if (b == NULL) return NULL;
    }
    void **p = (void **)b->free;
    b->free = p[0];
    p[1] = NULL;
    b->used++;
    CA_STAT_ALLOC(a, cls, n, b->slot_size);
    return p;
}

/* ---- large spans ---- */

void ca_stat_big(ca_arena_t *a, size_t n, size_t got)
{
    int bucket = ca_size_bucket(n);
    a->stats.big_alloc[bucket]++;
    a->stats.big_bucket_bytes[bucket] += got;
    a->stats.req_bytes += n;
    a->stats.big_bytes += got;
    a->stats.in_use += (int64_t)got;
    if (a->stats.in_use > a->stats.peak) a->stats.peak = a->stats.in_use;
}

static void *ca_large_alloc(ca_arena_t *a, size_t n)
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
        b->kind = CA_BLOCK_ARENA;
        b->was = CA_BLOCK_LARGE;
        b->next = a->spans;
        a->spans = b;
        a->nspans++;
        return;
    }
    ca_node_give(b, nb);
}

/* ---- arena selection for slow paths ---- */

/* See internal.h. A thread that cannot get an arena of its own (no memory
 * for one) is served by the fallback arena too. */
ca_arena_t *ca_arena_enter(void)
{
    ca_arena_t *a = ca_tls_arena;
    if (ca_unlikely(a == &ca_arena_empty)) a = ca_arena_thread_init();
    if (ca_unlikely(a == &ca_arena_exited || a == NULL)) {
        ca_ensure_init();
        ca_fallback_lock();
        return ca_arena_fallback;
    }
    return a;
}

void ca_arena_leave(ca_arena_t *a)
{
    if (a == ca_arena_fallback) ca_fallback_unlock();
}

static void *ca_alloc_in(ca_arena_t *a, size_t n)
{
    if (n <= ca_cfg.small_max) return ca_alloc_small_in(a, ca_size_class(n), n);
    if (n <= ca_cfg.large_max) return ca_large_alloc(a, n);
    return ca_huge_alloc(n, 0, a);
}

ca_noinline void *ca_malloc_slow(size_t n)
{
    if (ca_unlikely(n > CA_MAX_REQUEST)) {
        errno = ENOMEM;
        return NULL;
    }
    if (ca_unlikely(ca_cfg.background_purge))
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
    if (h != NULL && h->magic == CA_MAGIC_HUGE && ((ca_huge_t *)h)->fresh) return p;
    memset(p, 0, total);
    return p;
}

/* Power-of-two alignment > 16. */
static void *ca_alloc_aligned_in(ca_arena_t *a, size_t align, size_t n)
{
    a->stats.align_req[ca_align_bucket(align)]++;
    if (n == 0) n = 1; /* so the aligned pointer stays strictly inside its slot */
    if (n <= ca_cfg.small_max && align <= ca_cfg.block_size) {
        uint32_t cls = ca_size_class(n);
        if ((ca_class_size[cls] & (align - 1)) == 0)
            return ca_alloc_small_in(a, cls, n); /* every slot of the class is aligned */
        size_t over = n + align - 16;
        if (over <= ca_cfg.small_max) {
            char *p = ca_alloc_small_in(a, ca_size_class(over), n);
            if (p == NULL) return NULL;
            char *q = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
            /* The slot says where its object starts; free checks it. */
            if (q != p) ((void **)p)[1] = (void *)(ca_cookie(p) ^ CA_SLOT_ALIGNED ^ (q - p));
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
    size_t rounded = n == 0 ? ps : (n + ps - 1) & ~(ps - 1);
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
        if (q == NULL) errno = ENOMEM;
        return q;
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
 * empty segment back to the OS. Other live threads' arenas are theirs alone
 * (no lock guards them): their empty blocks beyond the bins' current ones are
 * already in the node caches. */
void ca_trim(void)
{
    ca_ensure_init();
    ca_arena_t *a = ca_tls_arena;
    if (a != &ca_arena_empty && a != &ca_arena_exited) {
        ca_arena_collect(a);
        ca_arena_release_empty(a);
    }
    ca_arenas_reclaim(1);
    ca_node_trim();
}
