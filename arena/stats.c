/*
 * Statistics: summed from the per-arena counters and the per-node counters,
 * printed as text or JSON from one field list (CA_TOTAL_FIELDS), so the two
 * never disagree. The dump runs inside a signal handler: no malloc, no stdio,
 * no locks; it formats into a static buffer guarded by an atomic flag (a
 * dump that finds another one running is skipped) and write(2)s it out.
 */
#include "stats.h"

#include "arena.h"
#include "concord.h"
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

/* name, kind (u: unsigned, i: signed), meaning */
#define CA_TOTAL_FIELDS(X)                                                                         \
    X(allocs, u, "allocations")                                                                    \
    X(frees, u, "frees")                                                                           \
    X(remote_frees, u, "frees from another thread")                                                \
    X(req_bytes, u, "bytes requested")                                                             \
    X(slot_bytes, u, "bytes handed out (slots, spans, mappings)")                                  \
    X(in_use, i, "bytes in use now")                                                               \
    X(peak, i, "peak bytes in use")                                                                \
    X(blocks_fresh, u, "blocks taken fresh")                                                       \
    X(blocks_reused, u, "blocks reused from a cache")                                              \
    X(segments_mapped, u, "segments mapped")                                                       \
    X(segments_unmapped, u, "segments returned to the OS")                                         \
    X(blocks_cached, u, "blocks in node caches now")                                               \
    X(mapped_bytes, u, "bytes in mapped segments now")                                             \
    X(blocks_decommitted, u, "blocks given back to the OS (madvise)")                              \
    X(huge_maps, u, "huge mappings made")

/* ---- counting ---- */

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

void ca_stat_big_free(ca_arena_t *a, size_t got)
{
    a->stats.big_free++;
    a->stats.in_use -= (int64_t)got;
}

/* ---- totals ---- */

CA_SNAPSHOT static void ca_totals_add_arena(ca_totals_t *t, const ca_arena_t *a)
{
    const ca_stats_t *s = &a->stats;
    for (unsigned c = 1; c < CA_MAX_CLASSES; c++) {
        t->allocs += s->cls_alloc[c];
        t->frees += s->cls_free[c];
        if (s->cls_alloc[c]) t->size_buckets[ca_size_bucket(ca_class_size[c])] += s->cls_alloc[c];
        t->slot_bytes += s->cls_alloc[c] * ca_class_size[c];
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
    t->in_use += s->in_use;
    t->peak += s->peak;
    t->blocks_fresh += s->blocks_fresh;
    t->blocks_reused += s->blocks_reused;
    t->huge_maps += s->huge_maps;
}

CA_SNAPSHOT static void ca_totals_add_node(ca_totals_t *t, const ca_node_t *nd)
{
    t->segments_mapped += nd->segments_mapped;
    t->segments_unmapped += nd->segments_unmapped;
    t->blocks_cached += nd->cache_count;
    t->blocks_decommitted += nd->blocks_decommitted;
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
            out[ca_size_bucket(ca_class_size[c])] += a->stats.cls_alloc[c] * ca_class_size[c];
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

/* ---- printing ---- */

static void ca_print_fields_text(ca_buf_t *b, const ca_totals_t *t, const char *indent)
{
#define CA_TEXT_u(v) ca_buf_u64(b, (v))
#define CA_TEXT_i(v) ca_buf_i64(b, (v))
#define CA_TEXT_FIELD(name, kind, meaning)                                                         \
    {                                                                                              \
        size_t from = b->len;                                                                      \
        ca_buf_str(b, indent);                                                                     \
        ca_buf_str(b, meaning);                                                                    \
        ca_buf_pad(b, 48, from);                                                                   \
        CA_TEXT_##kind(t->name);                                                                   \
        ca_buf_str(b, "\n");                                                                       \
    }
    CA_TOTAL_FIELDS(CA_TEXT_FIELD)
    size_t from = b->len;
    ca_buf_str(b, indent);
    ca_buf_str(b, "bytes wasted (rounding, alignment)");
    ca_buf_pad(b, 48, from);
    ca_buf_u64(b, t->slot_bytes >= t->req_bytes ? t->slot_bytes - t->req_bytes : 0);
    ca_buf_str(b, "\n");
}

static void ca_print_fields_json(ca_buf_t *b, const ca_totals_t *t)
{
#define CA_JSON_FIELD(name, kind, meaning)                                                         \
    ca_buf_str(b, "\"" #name "\":");                                                               \
    CA_TEXT_##kind(t->name);                                                                       \
    ca_buf_str(b, ",");
    CA_TOTAL_FIELDS(CA_JSON_FIELD)
    ca_buf_str(b, "\"wasted_bytes\":");
    ca_buf_u64(b, t->slot_bytes >= t->req_bytes ? t->slot_bytes - t->req_bytes : 0);
}

static void ca_json_array(ca_buf_t *b, const char *name, const uint64_t *v, unsigned n)
{
    ca_buf_str(b, ",\"");
    ca_buf_str(b, name);
    ca_buf_str(b, "\":[");
    for (unsigned i = 0; i < n; i++) {
        if (i) ca_buf_str(b, ",");
        ca_buf_u64(b, v[i]);
    }
    ca_buf_str(b, "]");
}

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

/* Order of buckets by count (by_bytes = 0) or by bytes, largest first. */
static void ca_rank(const uint64_t *key, unsigned order[CA_SIZE_BUCKETS])
{
    for (unsigned i = 0; i < CA_SIZE_BUCKETS; i++)
        order[i] = i;
    for (unsigned i = 1; i < CA_SIZE_BUCKETS; i++)
        for (unsigned j = i; j > 0 && key[order[j]] > key[order[j - 1]]; j--) {
            unsigned tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
}

CA_SNAPSHOT static void ca_dump_text(ca_buf_t *b, const ca_totals_t *t, const uint64_t *bytes)
{
    ca_buf_str(b, "=== concordarena statistics (pid ");
    ca_buf_u64(b, (uint64_t)ca_os_getpid());
    ca_buf_str(b, ", block size ");
    ca_buf_u64(b, t->block_size);
    ca_buf_str(b, ", arenas ");
    ca_buf_u64(b, t->arenas);
    ca_buf_str(b, ", nodes ");
    ca_buf_u64(b, ca_numa_node_count());
    ca_buf_str(b, ", dumps skipped ");
    ca_buf_u64(b, ca_stats_dumps_skipped());
    ca_buf_str(b, ") ===\ntotal\n");
    ca_print_fields_text(b, t, "  ");
    ca_buf_str(b, "  size distribution (allocations):\n");
    for (unsigned i = 0; i < CA_SIZE_BUCKETS; i++) {
        if (!t->size_buckets[i]) continue;
        size_t from = b->len;
        ca_buf_str(b, "    ");
        ca_buf_str(b, ca_size_bucket_name((int)i));
        ca_buf_pad(b, 16, from);
        ca_buf_u64(b, t->size_buckets[i]);
        ca_buf_str(b, "\n");
    }
    ca_buf_str(b, "  alignment requests:\n");
    for (unsigned i = 0; i < CA_ALIGN_BUCKETS; i++) {
        if (!t->align_buckets[i]) continue;
        size_t from = b->len;
        ca_buf_str(b, "    ");
        ca_buf_str(b, ca_align_bucket_name((int)i));
        ca_buf_pad(b, 16, from);
        ca_buf_u64(b, t->align_buckets[i]);
        ca_buf_str(b, "\n");
    }
    unsigned order[CA_SIZE_BUCKETS];
    for (int pass = 0; pass < 2; pass++) {
        ca_rank(pass ? bytes : t->size_buckets, order);
        ca_buf_str(b, pass ? "  hotspots by bytes:\n" : "  hotspots by count:\n");
        for (unsigned r = 0; r < 5; r++) {
            unsigned i = order[r];
            if (!(pass ? bytes[i] : t->size_buckets[i])) break;
            size_t from = b->len;
            ca_buf_str(b, "    #");
            ca_buf_u64(b, r + 1);
            ca_buf_str(b, " ");
            ca_buf_str(b, ca_size_bucket_name((int)i));
            ca_buf_pad(b, 20, from);
            ca_buf_u64(b, t->size_buckets[i]);
            ca_buf_str(b, " allocations, ");
            ca_buf_u64(b, bytes[i]);
            ca_buf_str(b, " bytes\n");
        }
    }
    for (unsigned n = 0; n < ca_numa_node_count(); n++) {
        ca_totals_t nt;
        ca_node_totals(n, &nt);
        ca_buf_str(b, "node ");
        ca_buf_u64(b, n);
        ca_buf_str(b, "\n");
        ca_print_fields_text(b, &nt, "  ");
    }
    for (const ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all) {
        ca_totals_t at;
        ca_arena_totals(a, &at);
        ca_buf_str(b, "arena ");
        ca_buf_u64(b, a->id);
        ca_buf_str(b, " (");
        ca_buf_str(b, ca_state_name(a));
        ca_buf_str(b, ", node ");
        ca_buf_u64(b, a->node);
        ca_buf_str(b, "): allocations ");
        ca_buf_u64(b, at.allocs);
        ca_buf_str(b, ", frees ");
        ca_buf_u64(b, at.frees);
        ca_buf_str(b, ", remote frees ");
        ca_buf_u64(b, at.remote_frees);
        ca_buf_str(b, ", in use ");
        ca_buf_i64(b, at.in_use);
        ca_buf_str(b, ", peak ");
        ca_buf_i64(b, at.peak);
        ca_buf_str(b, "\n");
    }
    ca_buf_str(b, "=== end ===\n");
}

CA_SNAPSHOT static void ca_dump_json(ca_buf_t *b, const ca_totals_t *t, const uint64_t *bytes)
{
    ca_buf_str(b, "{\"concordarena\":1,\"pid\":");
    ca_buf_u64(b, (uint64_t)ca_os_getpid());
    ca_buf_str(b, ",\"block_size\":");
    ca_buf_u64(b, t->block_size);
    ca_buf_str(b, ",\"arena_count\":");
    ca_buf_u64(b, t->arenas);
    ca_buf_str(b, ",\"dumps_skipped\":");
    ca_buf_u64(b, ca_stats_dumps_skipped());
    ca_buf_str(b, ",\"size_bucket_names\":[");
    for (unsigned i = 0; i < CA_SIZE_BUCKETS; i++) {
        ca_buf_str(b, i ? ",\"" : "\"");
        ca_buf_str(b, ca_size_bucket_name((int)i));
        ca_buf_str(b, "\"");
    }
    ca_buf_str(b, "],\"align_bucket_names\":[");
    for (unsigned i = 0; i < CA_ALIGN_BUCKETS; i++) {
        ca_buf_str(b, i ? ",\"" : "\"");
        ca_buf_str(b, ca_align_bucket_name((int)i));
        ca_buf_str(b, "\"");
    }
    ca_buf_str(b, "],\"total\":{");
    ca_print_fields_json(b, t);
    ca_json_array(b, "size_buckets", t->size_buckets, CA_SIZE_BUCKETS);
    ca_json_array(b, "size_bucket_bytes", bytes, CA_SIZE_BUCKETS);
    ca_json_array(b, "align_buckets", t->align_buckets, CA_ALIGN_BUCKETS);
    ca_buf_str(b, "},\"hotspots\":{");
    unsigned order[CA_SIZE_BUCKETS];
    for (int pass = 0; pass < 2; pass++) {
        ca_rank(pass ? bytes : t->size_buckets, order);
        ca_buf_str(b, pass ? ",\"by_bytes\":[" : "\"by_count\":[");
        for (unsigned r = 0; r < CA_SIZE_BUCKETS; r++) {
            unsigned i = order[r];
            if (!(pass ? bytes[i] : t->size_buckets[i])) break;
            ca_buf_str(b, r ? ",{\"bucket\":\"" : "{\"bucket\":\"");
            ca_buf_str(b, ca_size_bucket_name((int)i));
            ca_buf_str(b, "\",\"count\":");
            ca_buf_u64(b, t->size_buckets[i]);
            ca_buf_str(b, ",\"bytes\":");
            ca_buf_u64(b, bytes[i]);
            ca_buf_str(b, "}");
        }
        ca_buf_str(b, "]");
    }
    ca_buf_str(b, "},\"nodes\":[");
    for (unsigned n = 0; n < ca_numa_node_count(); n++) {
        ca_totals_t nt;
        ca_node_totals(n, &nt);
        ca_buf_str(b, n ? ",{\"node\":" : "{\"node\":");
        ca_buf_u64(b, n);
        ca_buf_str(b, ",");
        ca_print_fields_json(b, &nt);
        ca_buf_str(b, "}");
    }
    ca_buf_str(b, "],\"arenas\":[");
    int first = 1;
    for (const ca_arena_t *a = ca_arena_list(); a != NULL; a = a->next_all) {
        ca_totals_t at;
        ca_arena_totals(a, &at);
        ca_buf_str(b, first ? "{\"id\":" : ",{\"id\":");
        first = 0;
        ca_buf_u64(b, a->id);
        ca_buf_str(b, ",\"state\":\"");
        ca_buf_str(b, ca_state_name(a));
        ca_buf_str(b, "\",\"node\":");
        ca_buf_u64(b, a->node);
        ca_buf_str(b, ",");
        ca_print_fields_json(b, &at);
        ca_json_array(b, "size_buckets", at.size_buckets, CA_SIZE_BUCKETS);
        ca_buf_str(b, "}");
    }
    ca_buf_str(b, "]}\n");
}

/* The kernel id of the thread writing a dump into ca_dump_mem; 0 when none. */
static _Atomic int ca_dump_owner;
static char ca_dump_mem[1 << 16];
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
    ca_stats_totals(&t);
    ca_bucket_bytes(bytes);
    ca_buf_t b;
    ca_buf_init(&b, ca_dump_mem, sizeof(ca_dump_mem), fd);
    if (json)
        ca_dump_json(&b, &t, bytes);
    else
        ca_dump_text(&b, &t, bytes);
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
        int64_t in_use = a->stats.in_use;
        memset(&a->stats, 0, sizeof(a->stats));
        a->stats.in_use = in_use;
        a->stats.peak = in_use > 0 ? in_use : 0;
    }
}
