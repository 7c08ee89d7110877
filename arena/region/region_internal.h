/*
 * Private to arena/region/: the region header, its counters, and the inline
 * helpers region.c (bump, chunks) and region_stats.c (counting, printing)
 * share. Not installed; nothing outside arena/region/ includes it.
 *
 * Counting
 *   Single-thread mode: every successful allocation writes one 8-byte entry
 *   (its size, and for kv_arena_alloc_aligned its alignment) into r->log at
 *   index r->calls, and increments r->calls: one store and one add, no
 *   histogram. When the log is full (every KV_LOG_LEN calls),
 *   ca_region_fold adds its entries into stripe 0 (allocations, bytes and,
 *   with detailed statistics, the size and alignment histograms) in one
 *   pass. Readers (kv_arena_get_stats, kv_arena_print_hotspots,
 *   kv_arena_reset_stats, kv_arena_reset) add the entries not yet folded, so
 *   every figure is exact at any moment, never sampled or delayed.
 *   Thread-safe mode: stripes written per call, as region_stats.c explains.
 */
#ifndef CA_REGION_INTERNAL_H
#define CA_REGION_INTERNAL_H

#include "kv_arena.h"

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define kv_unlikely(x) __builtin_expect(!!(x), 0)

#define KV_STRIPES_TS  16u /* stat stripes in thread-safe mode */
#define KV_OFF_BITS    40u /* bits of the bump offset in r->state */
#define KV_OFF_MASK    (((uint64_t)1 << KV_OFF_BITS) - 1)
#define KV_GEN_MASK    ((uint64_t)0xffffff) /* 24 bits of generation */
#define KV_MAX_REQUEST ((size_t)1 << 46)    /* bytes; larger requests fail with ENOMEM */

/* The single-thread allocation log: KV_LOG_LEN entries of size (low bits) and
 * log2(alignment) + 1 (top 8 bits; 0 for kv_arena_alloc, whose alignment is
 * not counted in the alignment histogram). */
#define KV_LOG_LEN         256u
#define KV_LOG_ALIGN_SHIFT 56u
#define KV_LOG_SIZE_MASK   (((uint64_t)1 << KV_LOG_ALIGN_SHIFT) - 1)

/* Counters of allocations. Without detailed statistics only the first two
 * move; with them, only the histograms (their sums are the totals). */
typedef struct kv_counts_s {
    uint64_t allocs;                              /* calls, detailed statistics off */
    uint64_t req;                                 /* bytes requested, detailed statistics off */
    uint64_t size_count[KV_ARENA_SIZE_BUCKETS];   /* calls by size bucket */
    uint64_t size_bytes[KV_ARENA_SIZE_BUCKETS];   /* bytes requested by size bucket */
    uint64_t align_count[KV_ARENA_ALIGN_BUCKETS]; /* aligned calls by alignment bucket */
} kv_counts_t;

/* One stripe of counters: stripe 0 in single-thread mode (written by the
 * fold), 16 in thread-safe mode (written per call). */
typedef struct __attribute__((aligned(64))) kv_stripe_s {
    uintptr_t owner; /* thread-safe mode: pthread_t of the writer; 0: none yet */
    kv_counts_t c;   /* the counters */
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

/* Every counter, summed: what kv_arena_reset_stats snapshots. The counts are
 * normalised: allocs and req are the totals, histograms or not. */
typedef struct kv_totals_s {
    kv_counts_t c;         /* allocations */
    uint64_t bumped;       /* bytes: requested plus padding; spans and mappings whole */
    uint64_t tail_waste;   /* bytes left at the ends of chunks given up */
    uint64_t block_allocs; /* blocks taken */
    uint64_t block_reuses; /* blocks taken from a cache */
    uint64_t large_maps;   /* mappings of their own */
} kv_totals_t;

struct kv_arena_s {
    /* the single-thread fast path: one cache line */
    char *cur;            /* single thread: next free byte; NULL in thread-safe mode */
    char *end;            /* single thread: end of the current chunk; NULL in thread-safe
                             mode, so that the fast path always falls through to it */
    uint64_t calls;       /* single thread: allocations logged (log index) */
    uint32_t ts;          /* 1: thread-safe mode */
    uint32_t detailed;    /* 1: detailed statistics */
    kv_stripe_t *stripes; /* after the header (and the log) */
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
    size_t header_size;    /* bytes of the first chunk this header, log and stripes take */
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
    uint64_t log[];        /* single thread: KV_LOG_LEN entries (none in thread-safe mode);
                              entries [0, calls % KV_LOG_LEN) are not folded yet */
};

/* ---- region_stats.c ---- */

/* Once, before the first region: the size-bucket table of the fold. */
void ca_region_stats_init(void);
/* Single thread: fold the full log into stripe 0; returns p. */
void *ca_region_fold(kv_arena_t *r, void *p);
/* Thread-safe mode: count one allocation (align 0: kv_arena_alloc). */
void ca_region_count_ts(kv_arena_t *r, size_t n, size_t align);
/* Every counter summed, the entries not folded yet included. */
void ca_region_totals(const kv_arena_t *r, kv_totals_t *t);

/* ---- region.c ---- */

/* The current chunk: start of its bump area, bytes bumped, bytes in all. */
void ca_region_cur_get(const kv_arena_t *r, uintptr_t *base, uint64_t *used, uint64_t *len);

/* ---- inline helpers ---- */

/* The log entry of an allocation of n bytes (align 0: kv_arena_alloc). */
static inline uint64_t kv_log_entry(size_t n, size_t align)
{
    uint64_t a = align ? (uint64_t)__builtin_ctzl(align) + 1 : 0;
    return (uint64_t)n | a << KV_LOG_ALIGN_SHIFT;
}

/* Single thread: log one allocation; returns p. */
static inline void *kv_log(kv_arena_t *r, uint64_t entry, void *p)
{
    uint64_t k = r->calls;
    r->log[k % KV_LOG_LEN] = entry;
    r->calls = k + 1;
    if (kv_unlikely(k % KV_LOG_LEN == KV_LOG_LEN - 1)) return ca_region_fold(r, p);
    return p;
}

/* Thread-safe mode: the mutex that guards everything but the bump. */
static inline void kv_lock(const kv_arena_t *r)
{
    if (r->ts) pthread_mutex_lock((pthread_mutex_t *)&r->lock);
}

static inline void kv_unlock(const kv_arena_t *r)
{
    if (r->ts) pthread_mutex_unlock((pthread_mutex_t *)&r->lock);
}

#endif
