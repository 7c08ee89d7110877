/*
 * Private to arena/region/: the region header, its counters, and the inline
 * helpers region.c (bump, chunks) and region_stats.c (counting, printing)
 * share. Not installed; nothing outside arena/region/ includes it.
 *
 * Counting
 *   Single-thread mode, per call: one add to head.bytes (bytes requested)
 *   and one to head.size_count[n], the count of allocations of exactly n
 *   bytes (1 <= n <= KV_ARENA_COUNTED_MAX); no bucket computation, no
 *   histogram update, no test. Larger requests count into stripe 0
 *   (ca_region_count_big). The 32-bit counts never wrap: each allocation
 *   adds at least one byte, and once KV_FLUSH_BYTES more bytes have been
 *   requested since the last flush, ca_region_flush moves the counts to
 *   stripe 0's 64-bit counters. The test is made where the fast path cannot
 *   go on without passing there: every slow-path allocation (a new chunk
 *   included) and kv_arena_reset; in between, the fast path hands out at
 *   most a chunk (at most large_max bytes, far below 2^32 - KV_FLUSH_BYTES).
 *   The totals and the power-of-two histograms are derived when read
 *   (ca_region_totals): exact at any moment, never sampled.
 *   kv_arena_alloc_aligned also adds one to align_count[log2(alignment)].
 *   Thread-safe mode: stripes written per call, as region_stats.c explains.
 */
#ifndef CA_REGION_INTERNAL_H
#define CA_REGION_INTERNAL_H

#define KV_ARENA_NO_INLINE 1 /* the library defines the exported kv_arena_alloc */
#include "kv_arena.h"

#include "emit.h"
#include "init.h"
#include "numa.h"
#include "options.h"
#include "segment.h"
#include "sizeclass.h"
#include "util.h"

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

#define KV_FLUSH_BYTES ((uint64_t)1 << 31) /* bytes requested between flushes of the counts */
#define KV_ALIGN_LOGS  21u                 /* log2 of KV_ARENA_MAX_ALIGN, plus one */

/* Counters of allocations. In thread-safe stripes, without detailed
 * statistics only the first two move; with them, only the histograms (their
 * sums are the totals). */
typedef struct kv_counts_s {
    uint64_t allocs;                              /* calls, detailed statistics off */
    uint64_t req;                                 /* bytes requested, detailed statistics off */
    uint64_t size_count[KV_ARENA_SIZE_BUCKETS];   /* calls by size bucket */
    uint64_t size_bytes[KV_ARENA_SIZE_BUCKETS];   /* bytes requested by size bucket */
    uint64_t align_count[KV_ARENA_ALIGN_BUCKETS]; /* aligned calls by alignment bucket */
} kv_counts_t;

/* One stripe of counters: one in single-thread mode (sizes past
 * KV_ARENA_COUNTED_MAX and flushed counts, allocs and histograms both), 16
 * in thread-safe mode (written per call). */
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
    kv_arena_head_t head;  /* the single-thread fast path (kv_arena.h): first, always */
    uint32_t ts;           /* 1: thread-safe mode */
    uint32_t detailed;     /* 1: detailed statistics */
    kv_stripe_t *stripes;  /* after the header and the counts */
    uint64_t flushed;      /* single thread: head.bytes at the last ca_region_flush */
    uint64_t *align_count; /* single thread: [k] kv_arena_alloc_aligned calls with
                              alignment 2^k, 0 <= k < KV_ALIGN_LOGS */
    /* thread-safe current chunk, written by every call: a line of its own */
    _Alignas(64) _Atomic(uint64_t) state; /* generation << KV_OFF_BITS | offset in bytes */
    kv_slot_t slots[2];
    /* the slow path; under `lock` in thread-safe mode */
    _Alignas(64) pthread_mutex_t lock;
    char *base;            /* single thread: where the current chunk's bump started */
    char *limit;           /* single thread: end of the current chunk (head.end is the
                              cursor instead while the cursor is not 8-aligned) */
    ca_block_t *first;     /* head of the chunk holding this header */
    ca_block_t *chunks;    /* heads of the chunks and spans in use, newest first */
    ca_block_t *cached;    /* heads of chunks kept by kv_arena_reset */
    kv_map_t *maps;        /* mappings of their own */
    size_t chunk_size;     /* bytes per chunk */
    size_t header_size;    /* bytes of the first chunk this header, the counts and the
                              stripes take */
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

/* ---- region_stats.c ---- */

/* Single thread: `times` allocations of n bytes into stripe 0. */
void ca_region_count_big(kv_arena_t *r, size_t n, uint64_t times);
/* Single thread: move head.size_count to stripe 0 and zero it. */
void ca_region_flush(kv_arena_t *r);
/* Thread-safe mode: count one allocation (align 0: kv_arena_alloc). */
void ca_region_count_ts(kv_arena_t *r, size_t n, size_t align);
/* Every counter summed. */
void ca_region_totals(const kv_arena_t *r, kv_totals_t *t);
/* Bytes requested so far (cheap: what kv_arena_reset needs). */
uint64_t ca_region_requested(const kv_arena_t *r);

/* ---- region.c ---- */

/* The current chunk: start of its bump area, bytes bumped, bytes in all. */
void ca_region_cur_get(const kv_arena_t *r, uintptr_t *base, uint64_t *used, uint64_t *len);

/* ---- inline helpers ---- */

/* Single thread: flush the counts when KV_FLUSH_BYTES were requested since
 * the last flush (see "Counting"). */
static inline void kv_flush_check(kv_arena_t *r)
{
    if (kv_unlikely(r->head.bytes - r->flushed >= KV_FLUSH_BYTES)) ca_region_flush(r);
}

/* Single thread: count one allocation of n bytes (align 0: kv_arena_alloc,
 * whose alignment is not counted). The slow path then calls kv_flush_check. */
static inline void kv_count_st(kv_arena_t *r, size_t n, size_t align)
{
    r->head.bytes += n;
    if (align) r->align_count[__builtin_ctzl(align)]++;
    if (ca_likely(n <= KV_ARENA_COUNTED_MAX))
        r->head.size_count[n]++;
    else
        ca_region_count_big(r, n, 1);
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
