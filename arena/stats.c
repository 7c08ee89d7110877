/*
 * Statistics: summed from the per-arena counters and the per-node counters,
 * printed as text or JSON by one walk of the sections through the emitter
 * (emit.c), from the field list that also makes ca_totals_t
 * (CA_TOTAL_FIELDS, concord.h), so the two never disagree. The dump runs inside a signal handler:
 * no malloc, no stdio, no locks; it formats into a static buffer guarded by an atomic flag (a dump
 * that finds another one running is skipped) and write(2)s it out.
 */
#include "stats.h"

#include "arena.h"
#include "concord.h"
#include "emit.h"
#include "hugecache.h"
#include "numa.h"
#include "os.h"
#include "segment.h"
#include "sizeclass.h"

#include <errno.h>
#include <string.h>

/* The dump reads other threads' counters while they count: plain loads of
 * word-sized counters that only grow or move by whole amounts, accepted as
 * a snapshot that is a moment stale. ThreadSanitizer is told so. */
#define CA_SNAPSHOT __attribute__((no_sanitize("thread")))

/* ---- counting ---- */

void ca_stat_big(ca_arena_t *a, size_t n, size_t got)
{
    int bucket = ca_size_bucket(n);
    a->stats.big_alloc[bucket]++;
    a->stats.big_bucket_bytes[bucket] += got;
    a->stats.req_bytes += n;
    a->stats.big_bytes += got;
    a->stats.big_in_use += (int64_t)got;
    ca_held(a, (int64_t)got);
}

void ca_stat_big_free(ca_arena_t *a, size_t got)
{
    a->stats.big_free++;
    a->stats.big_in_use -= (int64_t)got;
    ca_held(a, -(int64_t)got);
}

/* ---- totals ---- */

/* Small allocations of class `c` counted in `s`: the slow paths' count and
 * the malloc fast path's, kept per entry of the size table that leads to
 * the class. */
CA_SNAPSHOT static uint64_t ca_stat_class_allocs(const ca_stats_t *s, unsigned c)
{
    uint64_t n = s->cls_alloc[c];
    for (unsigned i = ca_class_direct[c]; i < ca_class_direct[c + 1]; i++)
        n += s->tiny_alloc[i];
    return n;
}

CA_SNAPSHOT static void ca_totals_add_arena(ca_totals_t *t, const ca_arena_t *a)
{
    const ca_stats_t *s = &a->stats;
    int64_t small_in_use = 0; /* derived: the fast paths count only per class */
    for (unsigned c = 1; c < CA_MAX_CLASSES; c++) {
        uint64_t allocs = ca_stat_class_allocs(s, c);
        t->allocs += allocs;
        t->frees += s->cls_free[c];
        if (allocs) t->size_buckets[ca_size_bucket(ca_class_size[c])] += allocs;
        t->slot_bytes += allocs * ca_class_size[c];
        small_in_use += ((int64_t)allocs - (int64_t)s->cls_free[c]) * ca_class_size[c];
    }
    for (unsigned i = 0; i < CA_SIZE_BUCKETS; i++) {
        t->allocs += s->big_alloc[i];
        t->size_buckets[i] += s->big_alloc[i];
    }
    for (unsigned i = 0; i < CA_ALIGN_BUCKETS; i++)
        t->align_buckets[i] += s->align_req[i];
    t->frees += s->big_free;
    t->remote_frees += s->remote_frees;
    t->req_bytes += s->req_bytes;
    t->slot_bytes += s->big_bytes;
    t->in_use += s->in_use_base + small_in_use + s->big_in_use;
    t->peak += s->peak_held;
    t->blocks_fresh += s->blocks_fresh;
    t->blocks_reused += s->blocks_reused;
    t->huge_maps += s->huge_maps;
    t->huge_reused += s->huge_reused;
}

CA_SNAPSHOT static void ca_totals_add_node(ca_totals_t *t, const ca_node_t *nd)
{
    t->segments_mapped += nd->segments_mapped;
    t->segments_unmapped += nd->segments_unmapped;
    t->blocks_cached += nd->cache_count;
    t->blocks_decommitted += nd->blocks_decommitted;
    t->pages_elsewhere += nd->pages_elsewhere;
    t->huge_cached_bytes += ca_hugecache_node_bytes((unsigned)(nd - ca_nodes));
    t->mapped_bytes += (uint64_t)nd->nsegments * ca_cfg.seg_size;
}

/* The totals of node `n`: its arenas' counters and its own. */
CA_SNAPSHOT static void ca_node_totals(unsigned n, ca_totals_t *nt)
{
    memset(nt, 0, sizeof(*nt));
    for (const ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all)
        if (a->node == n) ca_totals_add_arena(nt, a);
    ca_totals_add_node(nt, &ca_nodes[n]);
}

CA_SNAPSHOT static void ca_arena_totals(const ca_arena_t *a, ca_totals_t *at)
{
    memset(at, 0, sizeof(*at));
    ca_totals_add_arena(at, a);
}

/* Bytes handed out per size bucket: slots of the small classes, spans and
 * mappings of large and huge objects. */
CA_SNAPSHOT static void ca_bucket_bytes(uint64_t out[CA_SIZE_BUCKETS])
{
    memset(out, 0, sizeof(uint64_t) * CA_SIZE_BUCKETS);
    for (const ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all) {
        for (unsigned c = 1; c < CA_MAX_CLASSES; c++)
            out[ca_size_bucket(ca_class_size[c])] +=
                ca_stat_class_allocs(&a->stats, c) * ca_class_size[c];
        for (unsigned i = 0; i < CA_SIZE_BUCKETS; i++)
            out[i] += a->stats.big_bucket_bytes[i];
    }
}

CA_SNAPSHOT void ca_stats_totals(ca_totals_t *t)
{
    memset(t, 0, sizeof(*t));
    for (const ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all) {
        ca_totals_add_arena(t, a);
        if (a != ca_arena_fallback) t->arenas++;
    }
    for (unsigned n = 0; n < CA_MAX_NODES; n++)
        ca_totals_add_node(t, &ca_nodes[n]);
    t->block_size = (uint32_t)ca_cfg.block_size;
}

/* ---- printing: one walk of the sections, text or JSON (emit.c) ---- */

CA_SNAPSHOT static const char *ca_state_name(const ca_arena_t *a)
{
    switch (atomic_load_explicit(&((ca_arena_t *)a)->state, memory_order_relaxed)) {
    case CA_ARENA_ACTIVE:
        return "active";
    case CA_ARENA_PARKED:
        return "parked";
    case CA_ARENA_FALLBACK:
        return "fallback";
    default:
        return "new";
    }
}

/* Every field of `t`, or only the brief ones, and the bytes wasted. */
static void ca_emit_totals(ca_emit_t *e, const ca_totals_t *t, int brief)
{
#define CA_EMIT_FIELD(name, type, in_brief, label)                                                 \
    if (!brief || in_brief) ca_emit_num(e, #name, label, t->name);
    CA_TOTAL_FIELDS(CA_EMIT_FIELD)
#undef CA_EMIT_FIELD
    if (!brief)
        ca_emit_u64(e, "wasted_bytes", "bytes wasted (rounding, alignment)",
                    t->slot_bytes >= t->req_bytes ? t->slot_bytes - t->req_bytes : 0);
}

CA_SNAPSHOT static void ca_dump(ca_emit_t *e, const ca_totals_t *t, const uint64_t *bytes)
{
    ca_emit_open(e, NULL, "=== concordarena statistics (", 1);
    if (e->json) ca_emit_u64(e, "concordarena", NULL, 1);
    ca_emit_u64(e, "pid", "pid", (uint64_t)ca_os_getpid());
    ca_emit_u64(e, "block_size", "block size", t->block_size);
    ca_emit_u64(e, "arena_count", "arenas", t->arenas);
    ca_emit_u64(e, "node_count", "nodes", ca_numa_node_count());
    ca_emit_u64(e, "dumps_skipped", "dumps skipped", ca_stats_dumps_skipped());
    if (!e->json) {
        ca_buf_str(e->b, ") ===\n");
        e->brief[e->depth] = 0; /* the sections below are not brief */
    }
    ca_emit_bucket_names(e, "size_bucket_names", 0);
    ca_emit_bucket_names(e, "align_bucket_names", 1);

    ca_emit_open(e, "total", "total", 0);
    ca_emit_totals(e, t, 0);
    ca_emit_buckets(e, "size_buckets", "size distribution (allocations):", t->size_buckets, 0);
    ca_emit_buckets(e, "size_bucket_bytes", NULL, bytes, 0);
    ca_emit_buckets(e, "align_buckets", "alignment requests:", t->align_buckets, 1);
    if (!e->json) ca_emit_hotspots(e, "hotspots", t->size_buckets, bytes, 5, 0, 0);
    ca_emit_close(e);
    if (e->json) ca_emit_hotspots(e, "hotspots", t->size_buckets, bytes, 5, 0, 0);

    char heading[48];
    ca_emit_list(e, "nodes");
    for (unsigned n = 0; n < ca_numa_node_count(); n++) {
        ca_totals_t nt;
        ca_node_totals(n, &nt);
        char num[24];
        ca_buf_t hb;
        ca_buf_init(&hb, heading, sizeof(heading) - 1, -1);
        ca_buf_str(&hb, "node ");
        ca_buf_str(&hb, ca_u64_text(num, n));
        heading[hb.len] = '\0';
        ca_emit_open(e, NULL, heading, 0);
        ca_emit_u64(e, "node", NULL, n);
        ca_emit_totals(e, &nt, 0);
        ca_emit_close(e);
    }
    ca_emit_list_end(e);

    ca_emit_list(e, "arenas");
    for (const ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all) {
        ca_totals_t at;
        ca_arena_totals(a, &at);
        ca_emit_open(e, NULL, "arena", 1);
        ca_emit_u64(e, "id", "id", a->id);
        ca_emit_str(e, "state", "state", ca_state_name(a));
        ca_emit_u64(e, "node", "node", a->node);
        ca_emit_totals(e, &at, !e->json);
        ca_emit_buckets(e, "size_buckets", NULL, at.size_buckets, 0);
        ca_emit_close(e);
    }
    ca_emit_list_end(e);
    if (e->json)
        ca_emit_close(e);
    else
        ca_buf_str(e->b, "=== end ===\n");
    if (e->json) ca_buf_str(e->b, "\n");
}

/* The kernel id of the thread writing a dump into ca_dump_mem; 0 when none. */
static _Atomic int ca_dump_owner;
ca_sparse_bss static char ca_dump_mem[1 << 16];
static _Atomic uint64_t ca_dumps_skipped;

/* Returns 0 when dumped; -1 when another thread's dump was running, -2 when
 * this thread's own was (a signal handler or an exit() that interrupted it):
 * both skipped and counted. */
int ca_stats_try_dump(int fd, int json)
{
    int me = ca_os_thread_id(), owner = 0;
    if (!atomic_compare_exchange_strong_explicit(&ca_dump_owner, &owner, me, memory_order_acquire,
                                                 memory_order_relaxed)) {
        atomic_fetch_add_explicit(&ca_dumps_skipped, 1, memory_order_relaxed);
        return owner == me ? -2 : -1;
    }
    ca_totals_t t;
    uint64_t bytes[CA_SIZE_BUCKETS];
    ca_nodes_count_spill();
    ca_stats_totals(&t);
    ca_bucket_bytes(bytes);
    ca_buf_t b;
    ca_buf_init(&b, ca_dump_mem, sizeof(ca_dump_mem), fd);
    ca_emit_t e;
    ca_emit_init(&e, &b, json);
    ca_dump(&e, &t, bytes);
    ca_buf_flush(&b);
    atomic_store_explicit(&ca_dump_owner, 0, memory_order_release);
    return 0;
}

/* A dump asked for by the program (malloc_stats, at exit) waits for another
 * thread's dump to finish, never for one this thread interrupted. */
void ca_stats_dump(int fd, int json)
{
    while (ca_stats_try_dump(fd, json) == -1)
        ca_os_yield();
}

uint64_t ca_stats_dumps_skipped(void)
{
    return atomic_load_explicit(&ca_dumps_skipped, memory_order_relaxed);
}

void ca_stats_after_fork_child(void)
{
    atomic_store(&ca_dump_owner, 0);
}

int ca_stats_fd(void)
{
    if (ca_cfg.stats_ino == 0) return ca_cfg.stats_fd; /* stderr */
    uint64_t dev, ino;
    if (ca_os_fd_identity(ca_cfg.stats_fd, &dev, &ino) != 0 || dev != ca_cfg.stats_dev ||
        ino != ca_cfg.stats_ino)
        return ca_cfg.stats_fd_is_stderr ? 2 : -1; /* our copy was closed: the program's own */
    return ca_cfg.stats_fd;
}

void ca_stats_reset(void)
{
    for (ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all) {
        ca_totals_t at;
        ca_arena_totals(a, &at);
        int64_t held = a->stats.held;
        memset(&a->stats, 0, sizeof(a->stats));
        a->stats.in_use_base = at.in_use; /* what is live stays counted */
        a->stats.held = held;
        a->stats.peak_held = held > 0 ? held : 0;
    }
}
