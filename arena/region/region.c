/*
 * Explicit regions (kv_arena.h): bump allocation through chunks of blocks
 * taken from the shared per-node block cache; creation, reset, compaction,
 * destruction, NUMA policy. Counting and printing are in region_stats.c.
 *
 * Call tree (hot at the top)
 *
 *   kv_arena_alloc / kv_arena_alloc_aligned
 *     ├─ single thread: bump head.cur by the size rounded up to 8 inside
 *     │                 [cur, end), count the call (two adds: bytes, and
 *     │                 allocations of that size). The cursor stays 8-aligned;
 *     │                 a packed allocation that leaves it unaligned also sets
 *     │                 head.end to it (kv_st_move), so the inline fast path
 *     │                 finds no room and kv_arena_alloc rounds the cursor up.
 *     └─ kv_alloc_slow: check the arguments;
 *          ├─ thread-safe: compare-and-swap of r->state (generation|offset)
 *          └─ under r->lock in thread-safe mode:
 *               ├─ fits now (another thread started a chunk): bump
 *               ├─ size <= chunk: kv_blocks_take (region cache, then ca_node_take);
 *               │     right after the current chunk: extend it; else start it,
 *               │     or serve the request from it alone when the current chunk
 *               │     has more room left than the new one would
 *               ├─ size <= large_max: a span of blocks of its own
 *               └─ larger: a mapping of its own (ca_os_map_aligned)
 *
 * In thread-safe mode head.cur and head.end stay NULL, so the single-thread
 * fast path finds no room and every call goes to kv_alloc_slow: the fast
 * path tests no mode.
 *
 * Where things are
 *   The header (struct kv_arena_s, its counts, then its stat stripes) sits at
 *   the start of the region's first chunk: the region costs no malloc and no
 *   mapping of its own. Every chunk and span the region holds is a run of
 *   blocks marked like a large span (head CA_BLOCK_REGION with span =
 *   blocks, the rest CA_BLOCK_CONT with span = blocks back to the head), so
 *   free() of region memory is reported as a pointer that is not malloc's.
 *   Heads are linked through ca_block_t.next, which lives in the segment
 *   header: no chunk pays for the bookkeeping. A mapping of its own keeps a
 *   kv_map_t after the caller's bytes.
 *
 * Thread-safe bump
 *   r->state packs the current chunk's generation (high 24 bits) and the
 *   bump offset into it (low 40 bits); the chunk's base and length are in
 *   r->slots[generation & 1]. An allocation loads state (acquire), reads that
 *   slot, and swaps in the new offset with the generation unchanged. The
 *   thread that starts a chunk (holding r->lock) fills the other slot, then
 *   moves state to the next generation with a CAS loop, which also yields
 *   the old chunk's final offset. A thread that read a slot while it was
 *   being refilled (two generations on) fails its CAS, because the
 *   generation moved: a torn chunk is never bumped.
 */
#include "region_internal.h"

#include "os.h"

#include <errno.h>
#include <string.h>

/* Where the parts of the header start, from the region's first byte. */
#define KV_ALIGNS_AT  (((sizeof(kv_arena_t) + 63) / 64) * 64)
#define KV_ST_STRIPES (KV_ALIGNS_AT + ((KV_ALIGN_LOGS * sizeof(uint64_t) + 63) / 64) * 64)
_Static_assert(KV_ST_STRIPES + sizeof(kv_stripe_t) <= ((size_t)16 << 10) &&
                   KV_ALIGNS_AT + KV_STRIPES_TS * sizeof(kv_stripe_t) <= ((size_t)16 << 10),
               "the header fits in the smallest block");

/* ---- the current chunk ---- */

/* Thread-safe bump: NULL when the current chunk has no room. */
static inline void *kv_bump_ts(kv_arena_t *r, size_t n, size_t align)
{
    uint64_t s = atomic_load_explicit(&r->state, memory_order_acquire);
    for (;;) {
        const kv_slot_t *sl = &r->slots[(s >> KV_OFF_BITS) & 1];
        uintptr_t base = atomic_load_explicit(&sl->base, memory_order_relaxed);
        uint64_t len = atomic_load_explicit(&sl->len, memory_order_relaxed);
        uintptr_t p = (base + (s & KV_OFF_MASK) + align - 1) & ~(uintptr_t)(align - 1);
        uint64_t off = (uint64_t)(p - base) + n;
        if (off > len) return NULL;
        if (atomic_compare_exchange_weak_explicit(&r->state, &s, (s & ~KV_OFF_MASK) | off,
                                                  memory_order_acquire, memory_order_acquire))
            return (void *)p;
    }
}

/* Single thread: move the cursor. head.end is the chunk's end while the
 * cursor is 8-aligned, else the cursor itself: no room, so that the inline
 * fast path, which does not round the cursor, calls kv_arena_alloc, which
 * does. */
static inline void kv_st_move(kv_arena_t *r, char *cur)
{
    r->head.cur = cur;
    r->head.end = ((uintptr_t)cur & (KV_ARENA_MIN_ALIGN - 1)) ? cur : r->limit;
}

/* Single-thread bump for any alignment: NULL when the chunk has no room. */
static inline void *kv_bump_st(kv_arena_t *r, size_t n, size_t align)
{
    uintptr_t p = ((uintptr_t)r->head.cur + align - 1) & ~(uintptr_t)(align - 1);
    if (p > (uintptr_t)r->limit || n > (uintptr_t)r->limit - p) return NULL;
    kv_st_move(r, (char *)p + n);
    return (void *)p;
}

static inline void *kv_bump(kv_arena_t *r, size_t n, size_t align)
{
    return r->ts ? kv_bump_ts(r, n, align) : kv_bump_st(r, n, align);
}

void ca_region_cur_get(const kv_arena_t *r, uintptr_t *base, uint64_t *used, uint64_t *len)
{
    if (r->ts) {
        uint64_t s = atomic_load_explicit(&r->state, memory_order_acquire);
        const kv_slot_t *sl = &r->slots[(s >> KV_OFF_BITS) & 1];
        *base = atomic_load_explicit(&sl->base, memory_order_relaxed);
        *len = atomic_load_explicit(&sl->len, memory_order_relaxed);
        *used = s & KV_OFF_MASK;
    } else {
        *base = (uintptr_t)r->base;
        *used = (uint64_t)(r->head.cur - r->base);
        *len = (uint64_t)(r->limit - r->base);
    }
}

/* Make [base, base + len) current with `keep` 0 (bump from base) or 1 (keep
 * the offset: the chunk grew in place). Returns the old chunk's final offset.
 * Thread-safe mode: the caller holds r->lock. */
static uint64_t kv_cur_set(kv_arena_t *r, uintptr_t base, uint64_t len, int keep)
{
    if (!r->ts) {
        uint64_t old = (uint64_t)(r->head.cur - r->base);
        r->limit = (char *)base + len;
        if (!keep) r->base = (char *)base;
        kv_st_move(r, keep ? r->head.cur : (char *)base);
        return old;
    }
    uint64_t s = atomic_load_explicit(&r->state, memory_order_relaxed);
    uint64_t gen = ((s >> KV_OFF_BITS) + 1) & KV_GEN_MASK;
    kv_slot_t *sl = &r->slots[gen & 1];
    atomic_store_explicit(&sl->base, base, memory_order_relaxed);
    atomic_store_explicit(&sl->len, len, memory_order_relaxed);
    uint64_t next;
    do {
        next = (gen << KV_OFF_BITS) | (keep ? (s & KV_OFF_MASK) : 0);
    } while (!atomic_compare_exchange_weak_explicit(&r->state, &s, next, memory_order_release,
                                                    memory_order_relaxed));
    return s & KV_OFF_MASK;
}

/* ---- blocks ---- */

/* `nb` blocks in a run: a chunk from the region's cache, else from the
 * shared block cache of the region's node. Linked in r->chunks. */
static ca_block_t *kv_blocks_take(kv_arena_t *r, uint32_t nb)
{
    ca_block_t *b = r->cached;
    if (nb == r->chunk_blocks && b != NULL) {
        r->cached = b->next;
        r->ncached--;
        r->block_reuses += nb;
    } else {
        int reused = 0;
        b = ca_node_take((unsigned)r->node, nb, &reused);
        if (b == NULL) return NULL;
        ca_span_mark(b, nb, CA_BLOCK_REGION);
        r->blocks_held += nb;
        if (reused) r->block_reuses += nb;
    }
    r->block_allocs += nb;
    b->next = r->chunks;
    r->chunks = b;
    return b;
}

static size_t kv_blocks_give(kv_arena_t *r, ca_block_t *b)
{
    uint32_t nb = b->span;
    r->blocks_held -= nb;
    ca_node_give(b, nb);
    return (size_t)nb << ca_cfg.block_shift;
}

static void kv_unmap_all(kv_arena_t *r)
{
    kv_map_t *m = r->maps;
    while (m != NULL) {
        kv_map_t *next = m->next;
        ca_os_unmap(m->start, m->size);
        m = next;
    }
    r->maps = NULL;
    r->map_bytes = 0;
}

/* ---- the slow path ---- */

static void *kv_map_alloc(kv_arena_t *r, size_t n, size_t align)
{
    size_t page = ca_os_page_size();
    size_t at = (n + 15) & ~(size_t)15;
    size_t size = (at + sizeof(kv_map_t) + page - 1) & ~(page - 1);
    char *m = ca_os_map_aligned(size, align > page ? align : page);
    if (m == NULL) return NULL;
    if (ca_cfg.numa_bind) ca_os_bind(m, size, (unsigned)r->node);
    kv_map_t *t = (kv_map_t *)(m + at);
    t->start = m;
    t->size = size;
    t->next = r->maps;
    r->maps = t;
    r->map_bytes += size;
    r->large_maps++;
    r->bumped += size;
    return m;
}

/* A request that needs a new chunk (n plus slack fits in one). -1 when no
 * block can be had; else 0 and *out, which is NULL only in thread-safe mode
 * when other threads used up the grown chunk first. */
static int kv_chunk_alloc(kv_arena_t *r, size_t n, size_t align, void **out)
{
    ca_block_t *b = kv_blocks_take(r, r->chunk_blocks);
    if (b == NULL) return -1;
    uintptr_t start = (uintptr_t)ca_block_start(b);
    uintptr_t base;
    uint64_t used, len;
    ca_region_cur_get(r, &base, &used, &len);
    if (start == base + len) { /* right after the current chunk: it grows */
        kv_cur_set(r, base, len + r->chunk_size, 1);
        *out = kv_bump(r, n, align);
        return 0;
    }
    uintptr_t p = (start + align - 1) & ~(uintptr_t)(align - 1);
    uint64_t left_new = r->chunk_size - (p - start) - n;
    if (len - used > left_new) {
        /* The current chunk keeps more room than the new one would: the new
         * chunk serves this request alone and its tail is given up. */
        r->bumped += (p - start) + n;
        r->tail_waste += left_new;
        *out = (void *)p;
        return 0;
    }
    uint64_t final = kv_cur_set(r, start, r->chunk_size, 0);
    r->bumped += final;
    r->tail_waste += len - final;
    *out = kv_bump(r, n, align);
    return 0;
}

/* A request bigger than a chunk: blocks of its own. */
static void *kv_span_alloc(kv_arena_t *r, size_t n, size_t align, size_t slack)
{
    uint32_t nb = (uint32_t)((n + slack + ca_cfg.block_size - 1) >> ca_cfg.block_shift);
    ca_block_t *b = kv_blocks_take(r, nb);
    if (b == NULL) return NULL;
    uintptr_t start = (uintptr_t)ca_block_start(b);
    r->bumped += (uint64_t)nb << ca_cfg.block_shift;
    return (void *)((start + align - 1) & ~(uintptr_t)(align - 1));
}

static void *kv_alloc_locked(kv_arena_t *r, size_t n, size_t align)
{
    /* Room a fresh run of blocks needs beyond n: none when its block-aligned
     * start is aligned enough. */
    size_t slack = align > ca_cfg.block_size ? align : 0;
    if (n + slack <= r->chunk_size) {
        for (;;) {
            void *p = kv_bump(r, n, align);
            if (p != NULL) return p;
            if (kv_chunk_alloc(r, n, align, &p) != 0) return NULL;
            if (p != NULL) return p;
        }
    }
    if (n + slack <= ca_cfg.large_max) return kv_span_alloc(r, n, align, slack);
    return kv_map_alloc(r, n, align);
}

/* Everything the fast paths leave: bad arguments, thread-safe mode, a full
 * chunk, requests bigger than a chunk. `aligned`: called by
 * kv_arena_alloc_aligned (its alignment is counted). */
static ca_noinline void *kv_alloc_slow(kv_arena_t *r, size_t n, size_t align, int aligned)
{
    if (r == NULL || n == 0 || align == 0 || (align & (align - 1)) || align > KV_ARENA_MAX_ALIGN) {
        errno = EINVAL;
        return NULL;
    }
    if (n > KV_MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    /* Alignments of 8 or more bump whole multiples of 8 (as ConcordKV rounds
     * every size), so the cursor stays 8-aligned for the inline fast path;
     * the chunk's end being block-aligned, this never needs more room. */
    size_t nb = align >= KV_ARENA_MIN_ALIGN ? (n + 7) & ~(size_t)7 : n;
    void *p;
    if (r->ts) {
        p = kv_bump_ts(r, nb, align);
        if (ca_likely(p != NULL)) {
            ca_region_count_ts(r, n, aligned ? align : 0);
            return p;
        }
    }
    int saved = errno;
    kv_lock(r);
    p = kv_alloc_locked(r, nb, align);
    kv_unlock(r);
    if (p == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    errno = saved;
    if (r->ts) {
        ca_region_count_ts(r, n, aligned ? align : 0);
        return p;
    }
    kv_count_st(r, n, aligned ? align : 0);
    kv_flush_check(r);
    return p;
}

/* ---- allocation ---- */

/* The fast paths: a NULL test, a limit check, the bump, and two adds
 * (region_internal.h, "Counting"); kv_arena.h inlines the same for C
 * callers and calls this function for the rest. In thread-safe mode cur,
 * end and limit are NULL, so the limit check fails and
 * kv_alloc_slow takes over; so it does for size 0 and sizes beyond the
 * chunk (n - 1 wraps or exceeds the room), and for sizes past
 * KV_ARENA_COUNTED_MAX. */
/* Single thread: hand out [p, p + n) at an 8-aligned p, count it. */
static inline void *kv_take8(kv_arena_head_t *h, uintptr_t p, size_t n)
{
    h->cur = (char *)(p + ((n + 7) & ~(size_t)7));
    h->bytes += n;
    h->size_count[n]++;
    return (void *)p;
}

void *kv_arena_alloc(kv_arena_t *r, size_t n)
{
    if (ca_likely(r != NULL)) {
        kv_arena_head_t *h = &r->head;
        /* As inline: an 8-aligned cursor, a block-aligned end, so p + n <=
         * end implies p + round8(n) <= end. */
        uintptr_t p = (uintptr_t)h->cur;
        if (ca_likely(n - 1 < (uintptr_t)h->end - p && n <= KV_ARENA_COUNTED_MAX))
            return kv_take8(h, p, n);
        /* A packed allocation left the cursor unaligned (and head.end on
         * it): round it up, and the chunk's end is head.end again. */
        uintptr_t q = (p + (KV_ARENA_MIN_ALIGN - 1)) & ~(uintptr_t)(KV_ARENA_MIN_ALIGN - 1);
        if (q != p && n - 1 < (uintptr_t)r->limit - q && n <= KV_ARENA_COUNTED_MAX) {
            h->end = r->limit;
            return kv_take8(h, q, n);
        }
    }
    return kv_alloc_slow(r, n, KV_ARENA_MIN_ALIGN, 0);
}

void *kv_arena_alloc_aligned(kv_arena_t *r, size_t n, size_t align)
{
    if (ca_likely(r != NULL && (align & (align - 1)) == 0 && align - 1 < KV_ARENA_MAX_ALIGN)) {
        uintptr_t p = ((uintptr_t)r->head.cur + align - 1) & ~(uintptr_t)(align - 1);
        if (ca_likely(p <= (uintptr_t)r->limit && n - 1 < (uintptr_t)r->limit - p)) {
            /* 8 or more: whole multiples of 8, as in kv_alloc_slow. */
            kv_st_move(r, (char *)p + (align >= KV_ARENA_MIN_ALIGN ? (n + 7) & ~(size_t)7 : n));
            kv_count_st(r, n, align);
            return (void *)p;
        }
    }
    return kv_alloc_slow(r, n, align, 1);
}

/* ---- creation and destruction ---- */

/* -1: the calling thread's home node; else `node` if it is online, or -1. */
static int kv_resolve_node(int node)
{
    if (node < 0) return node == -1 ? (int)ca_numa_home_node() : -1;
    return ca_numa_node_has_memory((unsigned)node) ? node : -1;
}

kv_arena_t *kv_arena_create_ex(const kv_arena_config_t *config)
{
    static const kv_arena_config_t defaults = KV_ARENA_CONFIG_INIT;
    const kv_arena_config_t *c = config != NULL ? config : &defaults;
    ca_ensure_init();
    int node = kv_resolve_node(c->enable_numa ? c->numa_node : -1);
    if ((c->thread_mode != KV_ARENA_SINGLE_THREAD && c->thread_mode != KV_ARENA_THREAD_SAFE) ||
        node < 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t want = c->block_size == 0 ? ca_cfg.block_size : c->block_size;
    if (want > ca_cfg.large_max) want = ca_cfg.large_max;
    uint32_t nb = (uint32_t)((want + ca_cfg.block_size - 1) >> ca_cfg.block_shift);
    int reused = 0;
    ca_block_t *b = ca_node_take((unsigned)node, nb, &reused);
    if (b == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    ca_span_mark(b, nb, CA_BLOCK_REGION);
    int ts = c->thread_mode == KV_ARENA_THREAD_SAFE;
    uint32_t nstripes = ts ? KV_STRIPES_TS : 1u;
    /* The header, the counts (single thread), the stripes (64-byte aligned). */
    size_t stripes_at = ts ? KV_ALIGNS_AT : KV_ST_STRIPES;
    size_t hdr = stripes_at + nstripes * sizeof(kv_stripe_t);
    kv_arena_t *r = (kv_arena_t *)ca_block_start(b);
    memset(r, 0, hdr);
    r->stripes = (kv_stripe_t *)((char *)r + stripes_at);
    if (!ts) r->align_count = (uint64_t *)((char *)r + KV_ALIGNS_AT);
    r->ts = (uint32_t)ts;
    r->detailed = c->enable_detailed_stats != 0;
    r->nstripes = nstripes;
    r->header_size = hdr;
    r->chunk_blocks = nb;
    r->chunk_size = (size_t)nb << ca_cfg.block_shift;
    r->cache_max = !c->enable_block_cache ? 0u
                   : c->block_cache_size  ? c->block_cache_size
                                          : KV_ARENA_DEFAULT_CACHE;
    r->node = node;
    r->first = r->chunks = b;
    b->next = NULL;
    r->blocks_held = nb;
    r->block_allocs = nb;
    r->block_reuses = reused ? nb : 0;
    pthread_mutex_init(&r->lock, NULL);
    if (!ts) { /* thread-safe mode leaves them NULL (see the top of this file) */
        r->base = r->head.cur = (char *)r + hdr;
        r->head.end = r->limit = (char *)r + r->chunk_size;
    }
    atomic_store_explicit(&r->slots[0].base, (uintptr_t)r + hdr, memory_order_relaxed);
    atomic_store_explicit(&r->slots[0].len, r->chunk_size - hdr, memory_order_relaxed);
    atomic_store_explicit(&r->state, 0, memory_order_release);
    return r;
}

kv_arena_t *kv_arena_create(size_t block_size)
{
    kv_arena_config_t c = KV_ARENA_CONFIG_INIT;
    c.block_size = block_size;
    return kv_arena_create_ex(&c);
}

void kv_arena_destroy(kv_arena_t *r)
{
    if (r == NULL) return;
    int saved = errno;
    kv_unmap_all(r);
    ca_block_t *b = r->cached;
    while (b != NULL) {
        ca_block_t *next = b->next;
        kv_blocks_give(r, b);
        b = next;
    }
    ca_block_t *first = r->first;
    b = r->chunks;
    while (b != NULL) {
        ca_block_t *next = b->next;
        if (b != first) kv_blocks_give(r, b);
        b = next;
    }
    pthread_mutex_destroy(&r->lock);
    /* Last: this header lives in it. Given back last, it is the first the
     * node cache hands out again, then the others in the order they came. */
    ca_node_give(first, first->span);
    errno = saved;
}

/* ---- reset and compaction ---- */

void kv_arena_reset(kv_arena_t *r)
{
    if (r == NULL) return;
    int saved = errno;
    kv_lock(r);
    uint64_t req = ca_region_requested(r);
    if (req - r->epoch_req > r->peak) r->peak = req - r->epoch_req;
    r->epoch_req = req;
    if (!r->ts) kv_flush_check(r);
    /* Chunks newest first onto the cache's stack: the oldest ends on top and
     * comes back first, so chunks that were adjacent are again. */
    ca_block_t *first = r->first, *b = r->chunks;
    while (b != NULL) {
        ca_block_t *next = b->next;
        if (b != first) {
            if (b->span == r->chunk_blocks && r->ncached < r->cache_max) {
                b->next = r->cached;
                r->cached = b;
                r->ncached++;
            } else {
                kv_blocks_give(r, b);
            }
        }
        b = next;
    }
    first->next = NULL;
    r->chunks = first;
    kv_unmap_all(r);
    uintptr_t start = (uintptr_t)r + r->header_size;
    r->bumped += kv_cur_set(r, start, r->chunk_size - r->header_size, 0);
    kv_unlock(r);
    errno = saved;
}

size_t kv_arena_compact(kv_arena_t *r)
{
    if (r == NULL) {
        errno = EINVAL;
        return 0;
    }
    int saved = errno;
    kv_lock(r);
    size_t bytes = 0;
    while (r->cached != NULL) {
        ca_block_t *b = r->cached;
        r->cached = b->next;
        r->ncached--;
        bytes += kv_blocks_give(r, b);
    }
    kv_unlock(r);
    errno = saved;
    return bytes;
}

/* ---- NUMA ---- */

int kv_arena_get_numa_node(const kv_arena_t *r)
{
    if (r == NULL) {
        errno = EINVAL;
        return -1;
    }
    return __atomic_load_n(&r->node, __ATOMIC_RELAXED);
}

int kv_arena_set_numa_policy(kv_arena_t *r, int node)
{
    int n = kv_resolve_node(node);
    if (r == NULL || n < 0) {
        errno = EINVAL;
        return -1;
    }
    kv_lock(r);
    __atomic_store_n(&r->node, n, __ATOMIC_RELAXED);
    kv_unlock(r);
    return 0;
}
