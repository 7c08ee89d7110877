/*
 * ConcordArena explicit regions (kv_arena_*).
 *
 * A region hands out memory by bumping a pointer through chunks of blocks
 * taken from the same per-NUMA-node block cache as the malloc replacement.
 * Nothing is freed one object at a time: kv_arena_reset forgets every
 * allocation at once (keeping chunks for reuse), kv_arena_destroy gives every
 * block back at once.
 *
 *   kv_arena_t *r = kv_arena_create(0);              default chunk, one thread
 *   struct rec *x = kv_arena_alloc(r, sizeof *x);    8-byte aligned
 *   struct hdr *h = kv_arena_alloc(r, sizeof *h + klen);   8-byte aligned too
 *   char *key = kv_arena_alloc_aligned(r, klen, 1);  packed bytes
 *   char *page = kv_arena_alloc_aligned(r, 4096, 4096);
 *   ...
 *   kv_arena_destroy(r);                             every block back at once
 *
 * Words
 *   block   the allocator's unit (CONCORD_ARENA_BLOCK_SIZE, 64 KiB by default).
 *   chunk   what a region bumps through: kv_arena_config_t.block_size (the
 *           field keeps the seed's name, but it is the chunk size) rounded
 *           up to a whole number of blocks (one block by default), at most
 *           half a segment (32 blocks). A chunk that happens to follow the
 *           current one in memory extends it, so no tail is lost between them.
 *   span    a request larger than a chunk gets blocks of its own; one larger
 *           than half a segment gets a mapping of its own.
 *
 * Thread modes
 *   KV_ARENA_SINGLE_THREAD  one thread at a time (callers serialise); no
 *                           locks, no atomics. kv_arena_create uses it.
 *   KV_ARENA_THREAD_SAFE    any number of threads may call kv_arena_alloc*,
 *                           kv_arena_get_stats, kv_arena_print_hotspots,
 *                           kv_arena_compact, kv_arena_reset_stats and
 *                           kv_arena_set_numa_policy at once: allocation is
 *                           a lock-free compare-and-swap on the current chunk;
 *                           a mutex is taken only to start a new chunk.
 *   In both modes kv_arena_reset and kv_arena_destroy need every other thread
 *   to have stopped using the region.
 *
 * Statistics are exact whenever read. A single-thread allocation costs two
 * adds (bytes requested, and the count of allocations of that exact size);
 * totals and histograms are derived from those counts when read, so
 * enable_detailed_stats costs nothing per call there. Thread-safe regions
 * add to per-thread counter stripes on every call.
 *
 * Errors: a NULL region, a zero size or a bad alignment give NULL / -1 with
 * errno EINVAL; no memory gives NULL with errno ENOMEM. Nothing crashes.
 * Memory from a region must not be passed to free() (it is reported as a
 * pointer that is not malloc's, and left alone).
 */
#ifndef KV_ARENA_H
#define KV_ARENA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KV_ARENA_API __attribute__((visibility("default")))

/* Alignment of every kv_arena_alloc result, whatever the size, as in
 * ConcordKV (which rounds every size up to 8): kv_arena_alloc(r, sizeof(struct
 * hdr) + keylen) gives an aligned header. Enough for every scalar type but
 * long double and vector types (LevelDB's arena makes the same choice); ask
 * kv_arena_alloc_aligned for 16 or more, or for 1 to pack bytes. */
#define KV_ARENA_MIN_ALIGN ((size_t)8)
/* Largest alignment kv_arena_alloc_aligned accepts (a power of two). */
#define KV_ARENA_MAX_ALIGN ((size_t)1 << 20)
/* Chunks kv_arena_reset keeps when the config says 0. */
#define KV_ARENA_DEFAULT_CACHE 64u
/* Size buckets: <=16, <=32, ... <=256K, >256K. Alignment buckets: <=32,
 * <=64, ... <=2K, >2K. The same edges as the malloc statistics. */
#define KV_ARENA_SIZE_BUCKETS  16
#define KV_ARENA_ALIGN_BUCKETS 8

typedef struct kv_arena_s kv_arena_t;

typedef enum kv_arena_thread_mode_e {
    KV_ARENA_SINGLE_THREAD = 0, /* one thread at a time, no locking */
    KV_ARENA_THREAD_SAFE = 1    /* concurrent allocation (lock-free bump) */
} kv_arena_thread_mode_t;

/* A zeroed config is valid and means the defaults. */
typedef struct kv_arena_config_s {
    size_t block_size; /* bytes per chunk, despite the name (the seed's): what the region
                          bumps through, rounded up to whole blocks (0: one block) */
    kv_arena_thread_mode_t thread_mode; /* single-thread or thread-safe */
    int enable_block_cache;    /* 1: kv_arena_reset keeps chunks for reuse; 0: gives them back */
    uint32_t block_cache_size; /* chunks kv_arena_reset keeps; 0: KV_ARENA_DEFAULT_CACHE */
    int enable_numa;           /* 1: blocks on numa_node; 0: on the creator's home node */
    int numa_node;             /* with enable_numa; -1: the calling thread's home node */
    int enable_detailed_stats; /* 1: size and alignment histograms (derived when read: no
                                  cost per call in single-thread mode) */
} kv_arena_config_t;

/* The defaults of kv_arena_create(0), spelled out. */
#define KV_ARENA_CONFIG_INIT                                                                       \
    {                                                                                              \
        .block_size = 0, .thread_mode = KV_ARENA_SINGLE_THREAD, .enable_block_cache = 1,           \
        .block_cache_size = 0, .enable_numa = 0, .numa_node = -1, .enable_detailed_stats = 1       \
    }

/* Counters since creation or the last kv_arena_reset_stats, except where a
 * field says "now". In thread-safe mode a snapshot taken while other threads
 * allocate is not atomic as a whole. */
typedef struct kv_arena_stats_s {
    uint64_t total_allocations;     /* successful kv_arena_alloc* calls */
    uint64_t total_bytes_requested; /* bytes: sum of requested sizes */
    uint64_t total_bytes_wasted;    /* bytes: padding (kv_arena_alloc rounds sizes up to 8,
                                       alignment), chunk tails left behind,
                                       the unused rest of spans and mappings of their own */
    uint64_t current_bytes;         /* bytes requested since the last kv_arena_reset (now) */
    uint64_t peak_bytes;            /* bytes: highest current_bytes */
    uint64_t block_allocations;     /* blocks taken for chunks and spans */
    uint64_t block_reuses;          /* of those, blocks that came from a cache (the
                                       shared block cache or the region's own) */
    uint64_t large_mappings;        /* mappings of their own made */
    uint64_t blocks_held;           /* blocks the region holds now, cached ones included */
    uint64_t blocks_cached;         /* blocks kept by kv_arena_reset, not in use (now) */
    uint64_t bytes_reserved;        /* bytes of blocks and mappings held now, header included */
    uint64_t chunk_size;            /* bytes per chunk, after rounding */
    uint64_t size_buckets[KV_ARENA_SIZE_BUCKETS];   /* allocations by size (detailed) */
    uint64_t size_bytes[KV_ARENA_SIZE_BUCKETS];     /* bytes requested by size (detailed) */
    uint64_t align_buckets[KV_ARENA_ALIGN_BUCKETS]; /* kv_arena_alloc_aligned calls by
                                                       alignment (detailed) */
} kv_arena_stats_t;

/* A region configured by `config` (NULL: the defaults). NULL with errno
 * EINVAL for a bad thread mode or a NUMA node that is not online, ENOMEM when
 * no block can be had. The region's header lives in its first chunk. */
KV_ARENA_API kv_arena_t *kv_arena_create_ex(const kv_arena_config_t *config);

/* A single-thread region with chunks of `block_size` bytes (0: one block),
 * block cache and detailed statistics on. */
KV_ARENA_API kv_arena_t *kv_arena_create(size_t block_size);

/* `size` bytes, 8-byte aligned (KV_ARENA_MIN_ALIGN). NULL with EINVAL for a
 * NULL region or size 0, ENOMEM when no memory can be had. An exported
 * function; C programs also get the inline fast path below. */
KV_ARENA_API void *kv_arena_alloc(kv_arena_t *arena, size_t size);

/* `size` bytes aligned to `alignment`, a power of two from 1 to
 * KV_ARENA_MAX_ALIGN; anything else gives NULL with EINVAL. */
KV_ARENA_API void *kv_arena_alloc_aligned(kv_arena_t *arena, size_t size, size_t alignment);

/* Fill `stats`; 0, or -1 with EINVAL when either pointer is NULL. */
KV_ARENA_API int kv_arena_get_stats(const kv_arena_t *arena, kv_arena_stats_t *stats);

/* Write a summary and the size buckets ranked by allocations (with their
 * bytes) to `fd` with write(2); no stdio, no malloc. 0, or -1 with EINVAL. */
KV_ARENA_API int kv_arena_print_hotspots(const kv_arena_t *arena, int fd);

/* Start the counters again from zero; peak_bytes becomes current_bytes.
 * Blocks held and cached are not counters and stay. */
KV_ARENA_API void kv_arena_reset_stats(kv_arena_t *arena);

/* Forget every allocation at once. The first chunk stays (it holds the
 * header); with the block cache on, up to block_cache_size other chunks are
 * kept inside the region for the next allocations (they count as reuses);
 * the rest, spans and mappings of their own go back at once. */
KV_ARENA_API void kv_arena_reset(kv_arena_t *arena);

/* Give the chunks kv_arena_reset kept back to the shared block cache (which
 * returns them to the OS past its bound). Returns the bytes given back (0
 * with errno EINVAL for NULL). */
KV_ARENA_API size_t kv_arena_compact(kv_arena_t *arena);

/* Give every block and mapping back at once. NULL is ignored. */
KV_ARENA_API void kv_arena_destroy(kv_arena_t *arena);

/* The NUMA node the region takes its next blocks on, or -1 (EINVAL) for NULL. */
KV_ARENA_API int kv_arena_get_numa_node(const kv_arena_t *arena);

/* Take later blocks on `node` (-1: the calling thread's home node, that is
 * CONCORD_ARENA_NUMA_NODE if set, else the node of the CPU it runs on).
 * Blocks already held stay where they are. 0, or -1 with EINVAL for NULL or
 * a node that is not online. */
KV_ARENA_API int kv_arena_set_numa_policy(kv_arena_t *arena, int node);

/* ---- the inline fast path of kv_arena_alloc ----
 *
 * Every region starts with a kv_arena_head_t. In C (unless KV_ARENA_NO_INLINE
 * is defined before this header), kv_arena_alloc(r, n) expands to an inline
 * function that bumps head.cur by n rounded up to 8 and counts the call (two
 * adds) when the request fits the current chunk of a single-thread region,
 * and calls the exported kv_arena_alloc otherwise (thread-safe regions keep cur and end
 * NULL, so they always do). `(kv_arena_alloc)(r, n)` and `&kv_arena_alloc`
 * name the exported function. The head is part of the ABI, as struct obstack
 * is for obstack's macros: its fields keep their order and meaning in every
 * 0.x release of libconcordarena. Programs must not touch them. */

/* Requests of at most this many bytes are counted by exact size. */
#define KV_ARENA_COUNTED_MAX 1024u

typedef struct kv_arena_head_s {
    char *cur;      /* next free byte of the current chunk; NULL in thread-safe mode */
    char *end;      /* end of the current chunk while cur is 8-aligned, else cur;
                       NULL in thread-safe mode */
    uint64_t bytes; /* single thread: bytes requested */
    uint32_t size_count[KV_ARENA_COUNTED_MAX + 1]; /* single thread: [n] allocations of
                                                      exactly n bytes, 1 <= n <=
                                                      KV_ARENA_COUNTED_MAX, since the library
                                                      last moved them to 64-bit totals */
} kv_arena_head_t;

#if !defined(KV_ARENA_NO_INLINE) && !defined(__cplusplus)
static inline void *kv_arena_alloc_inline(kv_arena_t *kv_r, size_t kv_n)
{
    if (__builtin_expect(kv_r != NULL, 1)) {
        kv_arena_head_t *kv_h = (kv_arena_head_t *)(void *)kv_r;
        uintptr_t kv_p = (uintptr_t)kv_h->cur;
        /* Room means an 8-aligned cursor and a block-aligned end: the
         * library sets end to the cursor while a packed allocation leaves
         * the cursor unaligned, so the exported function rounds it up. */
        if (__builtin_expect(kv_n - 1 < (uintptr_t)kv_h->end - kv_p && kv_n <= KV_ARENA_COUNTED_MAX,
                             1)) {
            kv_h->cur = (char *)(kv_p + ((kv_n + 7) & ~(size_t)7));
            kv_h->bytes += kv_n;
            kv_h->size_count[kv_n]++;
            return (void *)kv_p;
        }
    }
    return (kv_arena_alloc)(kv_r, kv_n);
}
#define kv_arena_alloc(arena, size) kv_arena_alloc_inline((arena), (size))
#endif

#ifdef __cplusplus
}
#endif

#endif
