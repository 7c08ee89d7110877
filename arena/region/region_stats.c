/*
 * Region statistics (kv_arena.h): counting (the single-thread flush, the
 * thread-safe stripes), totals, kv_arena_get_stats, kv_arena_reset_stats,
 * kv_arena_print_hotspots.
 *
 * Single-thread mode counts each allocation with two adds (bytes, and
 * allocations of that exact size: region_internal.h); the totals and the
 * histograms are derived here when read, from at most KV_ARENA_COUNTED_MAX
 * counts.
 *
 * Thread-safe mode counts per call in stripes: one shared (atomic adds) and
 * 15 that a thread each claims and then writes without atomic
 * read-modify-writes. A stripe holds histograms only with detailed
 * statistics, plain totals without.
 *
 * In both modes padding is not counted per call (bytes bumped minus bytes
 * requested is the padding), nor is the peak (no object is freed, so the
 * bytes in use only grow until kv_arena_reset, which records them).
 * kv_arena_reset_stats keeps a snapshot that later reads subtract.
 */
#include "region_internal.h"

#include <errno.h>
#include <string.h>

_Static_assert(KV_ARENA_SIZE_BUCKETS == CA_SIZE_BUCKETS, "same size buckets as the core");
_Static_assert(KV_ARENA_ALIGN_BUCKETS == CA_ALIGN_BUCKETS, "same alignment buckets as the core");

/* ---- single thread ---- */

void ca_region_count_big(kv_arena_t *r, size_t n, uint64_t times)
{
    kv_counts_t *c = &r->stripes[0].c;
    int b = ca_size_bucket(n);
    c->allocs += times;
    c->size_count[b] += times;
    c->size_bytes[b] += times * n;
}

void ca_region_flush(kv_arena_t *r)
{
    for (size_t n = 1; n <= KV_ARENA_COUNTED_MAX; n++) {
        if (r->head.size_count[n] == 0) continue;
        ca_region_count_big(r, n, r->head.size_count[n]);
        r->head.size_count[n] = 0;
    }
    r->flushed = r->head.bytes;
}

/* The totals of a single-thread region: stripe 0 (sizes past
 * KV_ARENA_COUNTED_MAX, flushed counts), the counts by exact size, the
 * alignment counts. Histograms are filled whether detailed or not. */
static void kv_totals_st(const kv_arena_t *r, kv_counts_t *t)
{
    const kv_counts_t *big = &r->stripes[0].c;
    t->allocs = big->allocs;
    t->req = r->head.bytes;
    memcpy(t->size_count, big->size_count, sizeof(t->size_count));
    memcpy(t->size_bytes, big->size_bytes, sizeof(t->size_bytes));
    const uint32_t *count = r->head.size_count;
    for (size_t n = 1; n <= KV_ARENA_COUNTED_MAX; n++) {
        if (count[n] == 0) continue;
        int b = ca_size_bucket(n);
        t->allocs += count[n];
        t->size_count[b] += count[n];
        t->size_bytes[b] += (uint64_t)count[n] * n;
    }
    for (unsigned k = 0; k < KV_ALIGN_LOGS; k++)
        t->align_count[ca_align_bucket((size_t)1 << k)] += r->align_count[k];
}

/* ---- thread-safe mode: stripes ---- */

/* Stripe 0 is shared and added to atomically; each other stripe is claimed
 * by the first thread that hashes to it, which then adds with a plain load
 * and store (no lock prefix). A thread whose stripe is another live
 * thread's uses stripe 0. A stripe whose owner exited is never reclaimed,
 * except by a thread with the same pthread_t (glibc reuses them), which is
 * safe: the old one no longer writes. */
static inline kv_stripe_t *kv_stripe_of_caller(kv_arena_t *r, int *shared)
{
    *shared = 0;
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

void ca_region_count_ts(kv_arena_t *r, size_t n, size_t align)
{
    int shared;
    kv_stripe_t *s = kv_stripe_of_caller(r, &shared);
    if (r->detailed) {
        int b = ca_size_bucket(n);
        kv_add(&s->c.size_count[b], 1, shared);
        kv_add(&s->c.size_bytes[b], n, shared);
        if (align) kv_add(&s->c.align_count[ca_align_bucket(align)], 1, shared);
    } else {
        kv_add(&s->c.allocs, 1, shared);
        kv_add(&s->c.req, n, shared);
    }
}

/* ---- totals ---- */

static uint64_t kv_load(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Add stripe-style counts (histograms or plain totals) to t, normalised. */
static void kv_counts_add(kv_counts_t *t, const kv_counts_t *c)
{
    t->allocs += kv_load(&c->allocs);
    t->req += kv_load(&c->req);
    for (unsigned k = 0; k < KV_ARENA_SIZE_BUCKETS; k++) {
        uint64_t cnt = kv_load(&c->size_count[k]), bytes = kv_load(&c->size_bytes[k]);
        t->size_count[k] += cnt;
        t->size_bytes[k] += bytes;
        t->allocs += cnt;
        t->req += bytes;
    }
    for (unsigned k = 0; k < KV_ARENA_ALIGN_BUCKETS; k++)
        t->align_count[k] += kv_load(&c->align_count[k]);
}

void ca_region_totals(const kv_arena_t *r, kv_totals_t *t)
{
    memset(t, 0, sizeof(*t));
    if (r->ts) {
        for (uint32_t i = 0; i < r->nstripes; i++)
            kv_counts_add(&t->c, &r->stripes[i].c);
    } else {
        kv_totals_st(r, &t->c);
    }
    if (!r->detailed) {
        memset(t->c.size_count, 0, sizeof(t->c.size_count));
        memset(t->c.size_bytes, 0, sizeof(t->c.size_bytes));
        memset(t->c.align_count, 0, sizeof(t->c.align_count));
    }
    uintptr_t base;
    uint64_t used, len;
    ca_region_cur_get(r, &base, &used, &len);
    t->bumped = r->bumped + used;
    t->tail_waste = r->tail_waste;
    t->block_allocs = r->block_allocs;
    t->block_reuses = r->block_reuses;
    t->large_maps = r->large_maps;
}

uint64_t ca_region_requested(const kv_arena_t *r)
{
    if (!r->ts) return r->head.bytes;
    uint64_t req = 0;
    for (uint32_t i = 0; i < r->nstripes; i++) {
        const kv_counts_t *c = &r->stripes[i].c;
        req += kv_load(&c->req);
        for (unsigned k = 0; k < KV_ARENA_SIZE_BUCKETS; k++)
            req += kv_load(&c->size_bytes[k]);
    }
    return req;
}

/* ---- the public calls ---- */

void kv_arena_reset_stats(kv_arena_t *r)
{
    if (r == NULL) return;
    kv_lock(r);
    ca_region_totals(r, &r->snap);
    r->peak = r->snap.c.req - r->epoch_req;
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
    ca_region_totals(r, &t);
    const kv_totals_t *z = &r->snap;
    out->total_allocations = t.c.allocs - z->c.allocs;
    out->total_bytes_requested = t.c.req - z->c.req;
    int64_t waste_now = (int64_t)(t.bumped - t.c.req + t.tail_waste);
    int64_t waste_then = (int64_t)(z->bumped - z->c.req + z->tail_waste);
    out->total_bytes_wasted = waste_now > waste_then ? (uint64_t)(waste_now - waste_then) : 0;
    out->current_bytes = t.c.req - r->epoch_req;
    out->peak_bytes = out->current_bytes > r->peak ? out->current_bytes : r->peak;
    out->block_allocations = t.block_allocs - z->block_allocs;
    out->block_reuses = t.block_reuses - z->block_reuses;
    out->large_mappings = t.large_maps - z->large_maps;
    out->blocks_held = r->blocks_held;
    out->blocks_cached = (uint64_t)r->ncached * r->chunk_blocks;
    out->bytes_reserved = (r->blocks_held << ca_cfg.block_shift) + r->map_bytes;
    out->chunk_size = r->chunk_size;
    for (unsigned k = 0; k < KV_ARENA_SIZE_BUCKETS; k++) {
        out->size_buckets[k] = t.c.size_count[k] - z->c.size_count[k];
        out->size_bytes[k] = t.c.size_bytes[k] - z->c.size_bytes[k];
    }
    for (unsigned k = 0; k < KV_ARENA_ALIGN_BUCKETS; k++)
        out->align_buckets[k] = t.c.align_count[k] - z->c.align_count[k];
    kv_unlock(r);
    return 0;
}

/* A summary line, then the size buckets ranked by allocations and by bytes
 * requested (the same emitter and ranking as the malloc statistics). */
int kv_arena_print_hotspots(const kv_arena_t *r, int fd)
{
    kv_arena_stats_t s;
    if (kv_arena_get_stats(r, &s) != 0) return -1;
    char mem[4096], heading[48];
    ca_buf_t b, hb;
    ca_buf_init(&b, mem, sizeof(mem), fd);
    ca_buf_init(&hb, heading, sizeof(heading) - 1, -1);
    ca_buf_str(&hb, "kv_arena ");
    ca_buf_hex(&hb, (uintptr_t)r);
    ca_buf_str(&hb, ":");
    heading[hb.len] = '\0';
    ca_emit_t e;
    ca_emit_init(&e, &b, 0);
    ca_emit_open(&e, NULL, heading, 1);
    ca_emit_u64(&e, "allocations", "allocations", s.total_allocations);
    ca_emit_u64(&e, "bytes_requested", "bytes requested", s.total_bytes_requested);
    ca_emit_u64(&e, "bytes_wasted", "wasted", s.total_bytes_wasted);
    ca_emit_u64(&e, "current_bytes", "in use", s.current_bytes);
    ca_emit_u64(&e, "peak_bytes", "peak", s.peak_bytes);
    ca_emit_u64(&e, "bytes_reserved", "reserved", s.bytes_reserved);
    ca_emit_u64(&e, "chunk_size", "chunk", s.chunk_size);
    ca_emit_u64(&e, "block_allocations", "blocks taken", s.block_allocations);
    ca_emit_u64(&e, "block_reuses", "reused", s.block_reuses);
    ca_emit_u64(&e, "blocks_held", "held", s.blocks_held);
    ca_emit_u64(&e, "blocks_cached", "cached", s.blocks_cached);
    ca_emit_u64(&e, "large_mappings", "own mappings", s.large_mappings);
    ca_emit_i64(&e, "numa_node", "NUMA node", kv_arena_get_numa_node(r));
    ca_emit_close(&e);
    ca_emit_open(&e, NULL, NULL, 0); /* indents what follows */
    if (r->detailed)
        ca_emit_hotspots(&e, NULL, s.size_buckets, s.size_bytes, KV_ARENA_SIZE_BUCKETS,
                         s.total_allocations, s.total_bytes_requested);
    else
        ca_emit_text(&e, "size hotspots: detailed statistics are off");
    ca_emit_close(&e);
    ca_buf_flush(&b);
    return 0;
}
