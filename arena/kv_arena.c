/*
 * Explicit regions (kv_arena.h): bump allocation through chunks of blocks
 * taken from the shared per-node block cache (segment.c).
 *
 * Call tree (hot at the top)
 *
 *   kv_arena_alloc / kv_arena_alloc_aligned
 *     ├─ single thread: bump r->cur inside [cur, end)                   (inline)
 *     ├─ thread-safe:   compare-and-swap of r->state (generation|offset) (inline)
 *     └─ kv_alloc_slow: check the arguments; under r->lock in thread-safe mode:
 *          ├─ fits now (another thread started a chunk): bump
 *          ├─ size <= chunk: kv_blocks_take (region cache, then ca_node_take);
 *          │     right after the current chunk: extend it; else start it,
 *          │     or serve the request from it alone when the current chunk
 *          │     has more room left than the new one would
 *          ├─ size <= large_max: a span of blocks of its own
 *          └─ larger: a mapping of its own (ca_os_map_aligned)
 *
 * Where things are
 *   The header (struct kv_arena_s, then its stat stripes) sits at the start
 *   of the region's first chunk: the region costs no malloc and no mapping
 *   of its own. Every chunk and span the region holds is a run of blocks
 *   marked like a large span (head CA_BLOCK_REGION with span = blocks, the
 *   rest CA_BLOCK_CONT with span = blocks back to the head), so free() of
 *   region memory is reported as a pointer that is not malloc's. Heads are
 *   linked through ca_block_t.next, which lives in the segment header: no
 *   chunk pays for the bookkeeping. A mapping of its own keeps a kv_map_t
 *   after the caller's bytes.
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
 *
 * Statistics
 *   Per-call counters are in stripes: one in single-thread mode; in
 *   thread-safe mode one shared (atomic adds) and 15 that a thread each
 *   claims and then writes without atomic read-modify-writes. Padding is
 *   not counted per call (bytes bumped minus bytes requested is the
 *   padding), nor is the peak (no object is freed, so the bytes in use only
 *   grow until kv_arena_reset, which records them). kv_arena_reset_stats
 *   keeps a snapshot that later reads subtract.
 */
#include "kv_arena.h"

#include "init.h"
#include "numa.h"
#include "options.h"
#include "os.h"
#include "segment.h"
#include "sizeclass.h"
#include "util.h"

#include <errno.h>
#include <string.h>

#define KV_STRIPES_TS  16u /* stat stripes in thread-safe mode */
#define KV_OFF_BITS    40u /* bits of the bump offset in r->state */
#define KV_OFF_MASK    (((uint64_t)1 << KV_OFF_BITS) - 1)
#define KV_GEN_MASK    ((uint64_t)0xffffff) /* 24 bits of generation */
#define KV_MAX_REQUEST ((size_t)1 << 46)    /* bytes; larger requests fail with ENOMEM */

/* Per-call counters. Without detailed statistics only the first two move;
 * with them, only the histograms (their sums are the totals). */
typedef struct __attribute__((aligned(64))) kv_stripe_s {
    uintptr_t owner;                              /* pthread_t of the writer; 0: none yet */
    uint64_t allocs;                              /* calls, detailed statistics off */
    uint64_t req;                                 /* bytes requested, detailed statistics off */
    uint64_t size_count[KV_ARENA_SIZE_BUCKETS];   /* calls by size bucket */
    uint64_t size_bytes[KV_ARENA_SIZE_BUCKETS];   /* bytes requested by size bucket */
    uint64_t align_count[KV_ARENA_ALIGN_BUCKETS]; /* aligned calls by alignment bucket */
} kv_stripe_t;

/* One generation of the thread-safe current chunk. */
typedef struct kv_slot_s {
    _Atomic(uintptr_t) base; /* address of the first byte the bump may hand out */
    _Atomic(uint64_t) len;   /* bytes from base to the end of the chunk */
} kv_slot_t;

/* Trailer of a mapping of its own, placed after the caller's bytes. */
typedef struct kv_map_s {
    struct kv_map_s *next; /* the region's other mappings */
    void *start;           /* the mapping, which is also the caller's pointer */
    size_t size;           /* bytes mapped */
} kv_map_t;

/* Every counter, summed: what kv_arena_reset_stats snapshots. */
typedef struct kv_totals_s {
    uint64_t allocs;                              /* calls */
    uint64_t req;                                 /* bytes requested */
    uint64_t size_count[KV_ARENA_SIZE_BUCKETS];   /* calls by size bucket */
    uint64_t size_bytes[KV_ARENA_SIZE_BUCKETS];   /* bytes by size bucket */
    uint64_t align_count[KV_ARENA_ALIGN_BUCKETS]; /* aligned calls by alignment bucket */
    uint64_t bumped;       /* bytes: requested plus padding; spans and mappings whole */
    uint64_t tail_waste;   /* bytes left at the ends of chunks given up */
    uint64_t block_allocs; /* blocks taken */
    uint64_t block_reuses; /* blocks taken from a cache */
    uint64_t large_maps;   /* mappings of their own */
} kv_totals_t;

struct kv_arena_s {
    /* read by every call */
    char *cur;            /* single thread: next free byte */
    char *end;            /* single thread: end of the current chunk */
    uint32_t ts;          /* 1: thread-safe mode */
    uint32_t detailed;    /* 1: detailed statistics */
    kv_stripe_t *stripes; /* right after this header */
    /* thread-safe current chunk, written by every call: a line of its own */
    _Alignas(64) _Atomic(uint64_t) state; /* generation << KV_OFF_BITS | offset in bytes */
    kv_slot_t slots[2];
    /* the slow path; under `lock` in thread-safe mode */
    _Alignas(64) pthread_mutex_t lock;
    char *base;            /* single thread: where the current chunk's bump started */
    ca_block_t *first;     /* head of the chunk holding this header */
    ca_block_t *chunks;    /* heads of the chunks and spans in use, newest first */
    ca_block_t *cached;    /* heads of chunks kept by kv_arena_reset */
    kv_map_t *maps;        /* mappings of their own */
    size_t chunk_size;     /* bytes per chunk */
    size_t header_size;    /* bytes of the first chunk this header and the stripes take */
    uint32_t chunk_blocks; /* blocks per chunk */
    uint32_t cache_max;    /* chunks kv_arena_reset keeps; 0 with the cache off */
    uint32_t ncached;      /* chunks in `cached` */
    uint32_t nstripes;     /* stripes after the header */
    int node;              /* NUMA node of the next blocks */
    uint64_t blocks_held;  /* blocks in chunks, spans and the region's cache */
    uint64_t map_bytes;    /* bytes in mappings of their own */
    uint64_t bumped;       /* bytes: requested plus padding in chunks no longer current,
                              spans and mappings whole */
    uint64_t tail_waste;   /* bytes left at the ends of chunks given up */
    uint64_t block_allocs; /* blocks taken */
    uint64_t block_reuses; /* blocks taken from a cache */
    uint64_t large_maps;   /* mappings of their own made */
    uint64_t epoch_req;    /* bytes requested before the last kv_arena_reset */
    uint64_t peak;         /* bytes: highest current_bytes recorded */
    kv_totals_t snap;      /* the counters at the last kv_arena_reset_stats */
};

static const char *const kv_size_names[KV_ARENA_SIZE_BUCKETS] = {
    "<=16", "<=32", "<=64",  "<=128", "<=256", "<=512",  "<=1K",   "<=2K",
    "<=4K", "<=8K", "<=16K", "<=32K", "<=64K", "<=128K", "<=256K", ">256K"};

_Static_assert(KV_ARENA_SIZE_BUCKETS == CA_SIZE_BUCKETS, "same size buckets as stats.c");
_Static_assert(KV_ARENA_ALIGN_BUCKETS == CA_ALIGN_BUCKETS, "same alignment buckets as stats.c");
_Static_assert(sizeof(struct kv_arena_s) + KV_STRIPES_TS * sizeof(kv_stripe_t) + 64 <=
                   ((size_t)16 << 10),
               "the header fits in the smallest block");

/* ---- counting ---- */

/* Thread-safe mode: stripe 0 is shared and added to atomically; each other
 * stripe is claimed by the first thread that hashes to it, which then adds
 * with a plain load and store (no lock prefix). A thread whose stripe is
 * another live thread's uses stripe 0. A stripe whose owner exited is
 * never reclaimed, except by a thread with the same pthread_t (glibc reuses
 * them), which is safe: the old one no longer writes. */
static inline kv_stripe_t *kv_stripe_of_caller(kv_arena_t *r, int *shared)
{
    *shared = 0;
    if (!r->ts) return r->stripes;
    uintptr_t me = (uintptr_t)pthread_self();
    kv_stripe_t *s =
        &r->stripes[1 + ((uint64_t)(me * 0x9e3779b97f4a7c15ull) >> 32) % (KV_STRIPES_TS - 1)];
    uintptr_t owner = __atomic_load_n(&s->owner, __ATOMIC_RELAXED);
    if (ca_likely(owner == me)) return s;
    if (owner == 0 &&
        __atomic_compare_exchange_n(&s->owner, &owner, me, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        return s;
    *shared = 1;
    return r->stripes;
}

static inline void kv_add(uint64_t *c, uint64_t v, int shared)
{
    if (shared)
        __atomic_fetch_add(c, v, __ATOMIC_RELAXED);
    else
        __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline void kv_count_in(kv_arena_t *r, kv_stripe_t *s, int shared, size_t n)
{
    if (r->detailed) {
        int b = ca_size_bucket(n);
        kv_add(&s->size_count[b], 1, shared);
        kv_add(&s->size_bytes[b], n, shared);
    } else {
        kv_add(&s->allocs, 1, shared);
        kv_add(&s->req, n, shared);
    }
}

static inline void kv_count(kv_arena_t *r, size_t n)
{
    int shared;
    kv_stripe_t *s = kv_stripe_of_caller(r, &shared);
    kv_count_in(r, s, shared, n);
}

static inline void kv_count_aligned(kv_arena_t *r, size_t n, size_t align)
{
    int shared;
    kv_stripe_t *s = kv_stripe_of_caller(r, &shared);
    kv_count_in(r, s, shared, n);
    if (r->detailed) kv_add(&s->align_count[ca_align_bucket(align)], 1, shared);
}

static uint64_t kv_load(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

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

/* Single-thread bump for any alignment: NULL when the chunk has no room. */
static inline void *kv_bump_st(kv_arena_t *r, size_t n, size_t align)
{
    uintptr_t p = ((uintptr_t)r->cur + align - 1) & ~(uintptr_t)(align - 1);
    if (p > (uintptr_t)r->end || n > (uintptr_t)r->end - p) return NULL;
    r->cur = (char *)p + n;
    return (void *)p;
}

static inline void *kv_bump(kv_arena_t *r, size_t n, size_t align)
{
    return r->ts ? kv_bump_ts(r, n, align) : kv_bump_st(r, n, align);
}

/* The current chunk: start of its bump area, bytes bumped, bytes in all. */
static void kv_cur_get(const kv_arena_t *r, uintptr_t *base, uint64_t *used, uint64_t *len)
{
    if (r->ts) {
        uint64_t s = atomic_load_explicit(&r->state, memory_order_acquire);
        const kv_slot_t *sl = &r->slots[(s >> KV_OFF_BITS) & 1];
        *base = atomic_load_explicit(&sl->base, memory_order_relaxed);
        *len = atomic_load_explicit(&sl->len, memory_order_relaxed);
        *used = s & KV_OFF_MASK;
    } else {
        *base = (uintptr_t)r->base;
        *used = (uint64_t)(r->cur - r->base);
        *len = (uint64_t)(r->end - r->base);
    }
}

/* Make [base, base + len) current with `keep` 0 (bump from base) or 1 (keep
 * the offset: the chunk grew in place). Returns the old chunk's final offset.
 * Thread-safe mode: the caller holds r->lock. */
static uint64_t kv_cur_set(kv_arena_t *r, uintptr_t base, uint64_t len, int keep)
{
    if (!r->ts) {
        uint64_t old = (uint64_t)(r->cur - r->base);
        if (!keep) r->base = r->cur = (char *)base;
        r->end = (char *)base + len;
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

/* Thread-safe mode: the mutex that guards everything but the bump. */
static void kv_lock(const kv_arena_t *r)
{
    if (r->ts) pthread_mutex_lock((pthread_mutex_t *)&r->lock);
}

static void kv_unlock(const kv_arena_t *r)
{
    if (r->ts) pthread_mutex_unlock((pthread_mutex_t *)&r->lock);
}

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
    kv_cur_get(r, &base, &used, &len);
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
    int saved = errno;
    kv_lock(r);
    void *p = kv_alloc_locked(r, n, align);
    kv_unlock(r);
    if (p == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    errno = saved;
    if (aligned)
        kv_count_aligned(r, n, align);
    else
        kv_count(r, n);
    return p;
}

/* ---- allocation ---- */

void *kv_arena_alloc(kv_arena_t *r, size_t n)
{
    /* Natural alignment: an object's size is a multiple of its alignment, so
     * the largest power of two dividing n (at most KV_ARENA_MIN_ALIGN) serves
     * any object of n bytes without padding odd sizes up. */
    size_t align = n & (0 - n);
    if (align > KV_ARENA_MIN_ALIGN || align == 0) align = KV_ARENA_MIN_ALIGN;
    if (ca_likely(r != NULL && n - 1 < KV_MAX_REQUEST)) {
        if (ca_likely(!r->ts)) {
            /* The chunk's end is block-aligned, so the rounded cursor never passes it. */
            char *p = (char *)(((uintptr_t)r->cur + align - 1) & ~(uintptr_t)(align - 1));
            if (ca_likely(n <= (size_t)(r->end - p))) {
                r->cur = p + n;
                kv_count(r, n);
                return p;
            }
        } else {
            void *p = kv_bump_ts(r, n, align);
            if (ca_likely(p != NULL)) {
                kv_count(r, n);
                return p;
            }
        }
    }
    return kv_alloc_slow(r, n, align, 0);
}

void *kv_arena_alloc_aligned(kv_arena_t *r, size_t n, size_t align)
{
    if (ca_likely(r != NULL && n - 1 < KV_MAX_REQUEST && (align & (align - 1)) == 0 &&
                  align - 1 < KV_ARENA_MAX_ALIGN)) {
        void *p = kv_bump(r, n, align);
        if (ca_likely(p != NULL)) {
            kv_count_aligned(r, n, align);
            return p;
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
    uint32_t nstripes = c->thread_mode == KV_ARENA_THREAD_SAFE ? KV_STRIPES_TS : 1u;
    size_t hdr = sizeof(kv_arena_t) + nstripes * sizeof(kv_stripe_t);
    kv_arena_t *r = (kv_arena_t *)ca_block_start(b);
    memset(r, 0, hdr);
    r->stripes = (kv_stripe_t *)(r + 1);
    r->ts = c->thread_mode == KV_ARENA_THREAD_SAFE;
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
    r->base = r->cur = (char *)r + hdr;
    r->end = (char *)r + r->chunk_size;
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

static void kv_totals(const kv_arena_t *r, kv_totals_t *t)
{
    memset(t, 0, sizeof(*t));
    for (uint32_t i = 0; i < r->nstripes; i++) {
        const kv_stripe_t *s = &r->stripes[i];
        t->allocs += kv_load(&s->allocs);
        t->req += kv_load(&s->req);
        for (unsigned k = 0; k < KV_ARENA_SIZE_BUCKETS; k++) {
            uint64_t cnt = kv_load(&s->size_count[k]), bytes = kv_load(&s->size_bytes[k]);
            t->size_count[k] += cnt;
            t->size_bytes[k] += bytes;
            t->allocs += cnt;
            t->req += bytes;
        }
        for (unsigned k = 0; k < KV_ARENA_ALIGN_BUCKETS; k++)
            t->align_count[k] += kv_load(&s->align_count[k]);
    }
    uintptr_t base;
    uint64_t used, len;
    kv_cur_get(r, &base, &used, &len);
    t->bumped = r->bumped + used;
    t->tail_waste = r->tail_waste;
    t->block_allocs = r->block_allocs;
    t->block_reuses = r->block_reuses;
    t->large_maps = r->large_maps;
}

void kv_arena_reset(kv_arena_t *r)
{
    if (r == NULL) return;
    int saved = errno;
    kv_lock(r);
    kv_totals_t t;
    kv_totals(r, &t);
    if (t.req - r->epoch_req > r->peak) r->peak = t.req - r->epoch_req;
    r->epoch_req = t.req;
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

/* ---- statistics ---- */

void kv_arena_reset_stats(kv_arena_t *r)
{
    if (r == NULL) return;
    kv_lock(r);
    kv_totals(r, &r->snap);
    r->peak = r->snap.req - r->epoch_req;
    kv_unlock(r);
}

int kv_arena_get_stats(const kv_arena_t *r, kv_arena_stats_t *out)
{
    if (r == NULL || out == NULL) {
        errno = EINVAL;
        return -1;
    }
    memset(out, 0, sizeof(*out));
    kv_lock(r);
    kv_totals_t t;
    kv_totals(r, &t);
    const kv_totals_t *z = &r->snap;
    out->total_allocations = t.allocs - z->allocs;
    out->total_bytes_requested = t.req - z->req;
    int64_t waste_now = (int64_t)(t.bumped - t.req + t.tail_waste);
    int64_t waste_then = (int64_t)(z->bumped - z->req + z->tail_waste);
    out->total_bytes_wasted = waste_now > waste_then ? (uint64_t)(waste_now - waste_then) : 0;
    out->current_bytes = t.req - r->epoch_req;
    out->peak_bytes = out->current_bytes > r->peak ? out->current_bytes : r->peak;
    out->block_allocations = t.block_allocs - z->block_allocs;
    out->block_reuses = t.block_reuses - z->block_reuses;
    out->large_mappings = t.large_maps - z->large_maps;
    out->blocks_held = r->blocks_held;
    out->blocks_cached = (uint64_t)r->ncached * r->chunk_blocks;
    out->bytes_reserved = (r->blocks_held << ca_cfg.block_shift) + r->map_bytes;
    out->chunk_size = r->chunk_size;
    for (unsigned k = 0; k < KV_ARENA_SIZE_BUCKETS; k++) {
        out->size_buckets[k] = t.size_count[k] - z->size_count[k];
        out->size_bytes[k] = t.size_bytes[k] - z->size_bytes[k];
    }
    for (unsigned k = 0; k < KV_ARENA_ALIGN_BUCKETS; k++)
        out->align_buckets[k] = t.align_count[k] - z->align_count[k];
    kv_unlock(r);
    return 0;
}

static void kv_field(ca_buf_t *b, const char *name, uint64_t v)
{
    ca_buf_str(b, name);
    ca_buf_u64(b, v);
}

/* "12.3" for part/whole in per mille. */
static void kv_percent(ca_buf_t *b, uint64_t part, uint64_t whole)
{
    uint64_t pm = whole ? (part * 1000 + whole / 2) / whole : 0;
    ca_buf_u64(b, pm / 10);
    ca_buf_str(b, ".");
    ca_buf_u64(b, pm % 10);
    ca_buf_str(b, "%");
}

int kv_arena_print_hotspots(const kv_arena_t *r, int fd)
{
    kv_arena_stats_t s;
    if (kv_arena_get_stats(r, &s) != 0) return -1;
    char mem[2048];
    ca_buf_t b;
    ca_buf_init(&b, mem, sizeof(mem), fd);
    ca_buf_str(&b, "kv_arena ");
    ca_buf_hex(&b, (uintptr_t)r);
    kv_field(&b, ": allocations ", s.total_allocations);
    kv_field(&b, ", bytes requested ", s.total_bytes_requested);
    kv_field(&b, ", wasted ", s.total_bytes_wasted);
    kv_field(&b, "\n  in use ", s.current_bytes);
    kv_field(&b, ", peak ", s.peak_bytes);
    kv_field(&b, ", reserved ", s.bytes_reserved);
    kv_field(&b, " bytes (chunk ", s.chunk_size);
    kv_field(&b, ")\n  blocks taken ", s.block_allocations);
    kv_field(&b, ", reused ", s.block_reuses);
    kv_field(&b, ", held ", s.blocks_held);
    kv_field(&b, ", cached ", s.blocks_cached);
    kv_field(&b, "; own mappings ", s.large_mappings);
    kv_field(&b, "; NUMA node ", (uint64_t)r->node);
    ca_buf_str(&b, "\n");
    if (!r->detailed) {
        ca_buf_str(&b, "  size hotspots: detailed statistics are off\n");
        ca_buf_flush(&b);
        return 0;
    }
    /* Buckets by allocations, most first (ties: smaller size first). */
    unsigned order[KV_ARENA_SIZE_BUCKETS];
    for (unsigned i = 0; i < KV_ARENA_SIZE_BUCKETS; i++) {
        unsigned j = i;
        while (j > 0 && s.size_buckets[order[j - 1]] < s.size_buckets[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    ca_buf_str(&b, "  size hotspots   allocations      share    bytes requested      share\n");
    for (unsigned k = 0; k < KV_ARENA_SIZE_BUCKETS; k++) {
        unsigned i = order[k];
        if (s.size_buckets[i] == 0) break;
        size_t from = b.len;
        ca_buf_str(&b, "  #");
        ca_buf_u64(&b, k + 1);
        ca_buf_str(&b, " ");
        ca_buf_str(&b, kv_size_names[i]);
        ca_buf_pad(&b, 28, from);
        size_t col = b.len;
        ca_buf_u64(&b, s.size_buckets[i]);
        ca_buf_pad(&b, 11, col);
        col = b.len;
        kv_percent(&b, s.size_buckets[i], s.total_allocations);
        ca_buf_pad(&b, 19, col);
        col = b.len;
        ca_buf_u64(&b, s.size_bytes[i]);
        ca_buf_pad(&b, 11, col);
        kv_percent(&b, s.size_bytes[i], s.total_bytes_requested);
        ca_buf_str(&b, "\n");
    }
    ca_buf_flush(&b);
    return 0;
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
