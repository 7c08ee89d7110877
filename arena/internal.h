/*
 * ConcordArena internals shared by the files of arena/. Not installed.
 *
 * Call tree of an allocation (hot at the top):
 *
 *   ca_malloc ── small, bin has a free slot ──> pop it            (alloc.c, inline)
 *       └─ ca_malloc_slow ─┬─ thread has no arena: ca_arena_thread_init (arena.c)
 *                          ├─ small: ca_bin_refill ── collect remote frees,
 *                          │         next block of the bin, or ca_arena_take_block
 *                          │         ── arena cache, node cache, ca_node_take (segment.c)
 *                          ├─ large: ca_large_alloc ── ca_node_take (a span)
 *                          └─ huge:  ca_huge_alloc (huge.c)
 *   ca_free ── owner thread, valid slot ──> push on the local list (free.c, inline)
 *       └─ ca_free_slow ── remote push, aligned slot, large, huge, not ours
 */
#ifndef CA_INTERNAL_H
#define CA_INTERNAL_H

#include "concord.h"
#include "types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ca_likely(x)   __builtin_expect(!!(x), 1)
#define ca_unlikely(x) __builtin_expect(!!(x), 0)
#define ca_noinline    __attribute__((noinline))
#define ca_cold        __attribute__((cold, noinline))
#define ca_hidden      __attribute__((visibility("hidden")))

#ifndef CA_STATS
#define CA_STATS 1
#endif

#if CA_DEBUG
#define ca_assert(x) ((x) ? (void)0 : ca_assert_fail(#x, __FILE__, __LINE__))
#else
#define ca_assert(x) ((void)0)
#endif
_Noreturn void ca_assert_fail(const char *what, const char *file, int line);

/* ---- configuration, fixed after ca_init ---- */
typedef struct ca_config_s {
    size_t block_size;      /* bytes per block, power of two */
    unsigned block_shift;   /* log2(block_size) */
    size_t seg_size;        /* bytes per segment: CA_SEG_BLOCKS * block_size */
    unsigned seg_shift;     /* log2(seg_size) */
    size_t small_max;       /* bytes: largest small class (block_size / 4) */
    size_t large_max;       /* bytes: largest large span */
    unsigned nclasses;      /* small classes, index 1..nclasses */
    uint32_t cache_blocks;  /* blocks per node cache */
    int numa_node;          /* -1: node of the thread's CPU */
    int numa_bind;          /* 1: bind segments with mbind */
    int stats_signal;       /* 0: no signal dump */
    int stats_fd;           /* where dumps go */
    int stats_fd_is_stderr; /* 1: stats_fd is our copy of the starting stderr */
    uint64_t stats_dev;     /* st_dev of the stats file when it was opened, 0 for stderr */
    uint64_t stats_ino;     /* st_ino of the stats file when it was opened */
    int stats_json;         /* 1: JSON dumps */
    int stats_at_exit;      /* 1: dump at exit */
    int verbose;            /* 1: print options at start */
    int background_purge;   /* 1: a thread purges idle cached blocks */
    int abort_on_error;     /* 1: abort on a bad pointer; 0: report it, leave it alone */
    uintptr_t secret;       /* random, for free-slot cookies */
} ca_config_t;

extern ca_config_t ca_cfg;
extern uint32_t ca_class_size[CA_MAX_CLASSES]; /* bytes per slot of each class */
extern uint8_t ca_class_table[CA_TINY_TABLE];  /* (size + 15) >> 4 -> class, sizes <= 1024 */

extern ca_block_t ca_block_empty;  /* never has a free slot */
extern ca_arena_t ca_arena_empty;  /* a thread's arena before its first call */
extern ca_arena_t ca_arena_exited; /* a thread's arena after it was parked */
extern __thread ca_arena_t *ca_tls_arena __attribute__((tls_model("initial-exec")));

/* ---- init.c ---- */
extern _Atomic int ca_init_state; /* 0 none, 1 running, 2 done */
void ca_init(void);
static inline void ca_ensure_init(void)
{
    if (ca_unlikely(__atomic_load_n((int *)&ca_init_state, __ATOMIC_ACQUIRE) != 2)) ca_init();
}
void ca_classes_init(void);

/* ---- options.c ---- */
void ca_options_load(void);
void ca_options_print(void);
int ca_parse_size(const char *s, size_t *out);
int ca_parse_signal(const char *s, int *out);

/* ---- util.c: async-signal-safe formatting into a caller's buffer ---- */
typedef struct ca_buf_s {
    char *p;    /* start */
    size_t len; /* bytes used */
    size_t cap; /* bytes available */
    int fd;     /* where ca_buf_flush writes; -1 to never flush */
} ca_buf_t;
void ca_buf_init(ca_buf_t *b, char *mem, size_t cap, int fd);
void ca_buf_str(ca_buf_t *b, const char *s);
void ca_buf_mem(ca_buf_t *b, const char *s, size_t n);
void ca_buf_u64(ca_buf_t *b, uint64_t v);
void ca_buf_i64(ca_buf_t *b, int64_t v);
void ca_buf_hex(ca_buf_t *b, uintptr_t v);
void ca_buf_pad(ca_buf_t *b, size_t width, size_t from);
void ca_buf_flush(ca_buf_t *b);
void ca_write_all(int fd, const char *s, size_t n);
/* One line on stderr, "concordarena: " then the parts (NULL ends the list). */
void ca_message(const char *first, ...);
size_t ca_strlen(const char *s);
int ca_streq(const char *a, const char *b);
int ca_strcaseeq(const char *a, const char *b);

/* ---- numa.c ---- */
void ca_numa_init(void);
unsigned ca_numa_node_count(void);
int ca_numa_node_of_cpu(int cpu);
int ca_numa_node_online(unsigned node);
unsigned ca_numa_home_node(void);
extern ca_node_t ca_nodes[CA_MAX_NODES];

/* ---- registry.c ---- */
void ca_registry_set(uintptr_t addr, ca_hdr_t *hdr);
/* The chunk of `addr` was ours and is unmapped now: remember `what` (the
 * segment's address, or a huge object's user pointer) so that a late second
 * free is told from a foreign pointer; a new mapping there overwrites it. */
void ca_registry_forget(uintptr_t addr, uintptr_t what);
#define CA_REG_HUGE      1u /* entry tag: a huge header */
#define CA_REG_GONE      2u /* entry tag: unmapped, see ca_registry_forget */
#define CA_REG_LEAF_BITS 14u
#define CA_REG_TOP_SIZE  (1u << 15)
extern _Atomic(ca_hdr_t **) ca_registry_top[CA_REG_TOP_SIZE];

/* The registry entry for `p`'s chunk: a header pointer, tagged CA_REG_HUGE
 * for a huge mapping (so the free fast path tells a segment without loading
 * its header), an unmapped chunk tagged CA_REG_GONE, or 0. */
static inline uintptr_t ca_registry_raw(const void *p)
{
    uintptr_t chunk = (uintptr_t)p >> ca_cfg.seg_shift;
    uintptr_t top = chunk >> CA_REG_LEAF_BITS;
    if (ca_unlikely(top >= CA_REG_TOP_SIZE)) return 0;
    ca_hdr_t **leaf = atomic_load_explicit(&ca_registry_top[top], memory_order_acquire);
    if (ca_unlikely(leaf == NULL)) return 0;
    return (uintptr_t)__atomic_load_n(&leaf[chunk & ((1u << CA_REG_LEAF_BITS) - 1)],
                                      __ATOMIC_ACQUIRE);
}

/* Does the registry say segment `s` holds `p`? For the free fast path: the
 * top index is masked instead of bounds-checked, since an aliased entry names
 * another segment and fails the comparison anyway. */
static inline int ca_registry_has_segment(const void *p, uintptr_t s)
{
    uintptr_t chunk = (uintptr_t)p >> ca_cfg.seg_shift;
    ca_hdr_t **leaf =
        atomic_load_explicit(&ca_registry_top[(chunk >> CA_REG_LEAF_BITS) & (CA_REG_TOP_SIZE - 1)],
                             memory_order_acquire);
    return leaf != NULL && (uintptr_t)__atomic_load_n(&leaf[chunk & ((1u << CA_REG_LEAF_BITS) - 1)],
                                                      __ATOMIC_ACQUIRE) == s;
}

static inline ca_hdr_t *ca_registry_lookup(const void *p)
{
    uintptr_t raw = ca_registry_raw(p);
    return raw & CA_REG_GONE ? NULL : (ca_hdr_t *)(raw & ~(uintptr_t)CA_REG_HUGE);
}

/* ---- segment.c: segments, spans and the per-node block cache ---- */
/* Take `n` contiguous free blocks on `node`; *reused says whether they came
 * from the cache. NULL when the OS refuses memory. */
ca_block_t *ca_node_take(unsigned node, uint32_t n, int *reused);
/* Give back `n` blocks starting at `b` (a span or one block). */
void ca_node_give(ca_block_t *b, uint32_t n);
/* Mark `n` blocks from `b` as one span of `kind` (head) and CA_BLOCK_CONT. */
void ca_span_mark(ca_block_t *b, uint32_t n, uint8_t kind);
/* Return every cached block's pages and every empty segment. */
void ca_node_trim(void);
void ca_nodes_lock_all(void);
/* Purge cached blocks that waited out the delay, if any are due; cheap when
 * none are (one load). Call with no lock of ours held. */
void ca_purge_tick(void);
extern _Atomic uint32_t ca_purge_due;

/* ---- purger.c ---- */
void ca_purger_start(void);
void ca_purger_after_fork_child(void);
void ca_nodes_unlock_all(void);

static inline ca_segment_t *ca_block_segment(const ca_block_t *b)
{
    return (ca_segment_t *)((uintptr_t)b & ~(uintptr_t)(ca_cfg.seg_size - 1));
}
static inline size_t ca_block_index(const ca_block_t *b)
{
    return (size_t)(b - ca_block_segment(b)->blocks);
}
static inline char *ca_block_start(const ca_block_t *b)
{
    return (char *)ca_block_segment(b) + (ca_block_index(b) << ca_cfg.block_shift);
}

/* ---- arena.c ---- */
/* Set up the pthread key and the arena list (at init). */
void ca_arenas_setup(void);
ca_arena_t *ca_arena_thread_init(void);
/* The arena a slow path allocates from and counts into: the thread's, made
 * if needed, or the fallback arena (locked) for a thread that has exited;
 * ca_arena_leave undoes the lock. */
ca_arena_t *ca_arena_enter(void);
void ca_arena_leave(ca_arena_t *a);
void ca_arena_collect(ca_arena_t *a);
ca_block_t *ca_arena_take_block(ca_arena_t *a, uint32_t cls);
void ca_arena_retire_block(ca_arena_t *a, ca_block_t *b);
void ca_arena_trim_cache(ca_arena_t *a);
void ca_arena_release_empty(ca_arena_t *a);
void ca_arenas_reclaim(int wait);
ca_arena_t *ca_arena_list(void);
void ca_fallback_lock(void);
void ca_fallback_unlock(void);
extern ca_arena_t *ca_arena_fallback;
void ca_arenas_lock(void);
void ca_arenas_unlock(void);
void ca_arenas_after_fork_child(void);

/* ---- alloc.c / free.c ---- */
void *ca_malloc_slow(size_t n);
void *ca_alloc_small_in(ca_arena_t *a, uint32_t cls, size_t n);
void ca_free_slow(void *p);
void ca_large_free(ca_arena_t *a, ca_block_t *b);
/* Count a large or huge object of `n` bytes requested, `got` handed out. */
void ca_stat_big(ca_arena_t *a, size_t n, size_t got);
void ca_free_remote(ca_block_t *b, void *p);
void ca_bin_unlink(ca_arena_t *a, ca_block_t *b);
void ca_bin_push(ca_arena_t *a, ca_block_t *b);
void ca_block_event(ca_arena_t *a, ca_block_t *b);
/* What is wrong with a pointer given to free, realloc or malloc_usable_size. */
enum ca_bad_pointer { CA_BAD_NOT_OURS, CA_BAD_INTERIOR, CA_BAD_FREED, CA_BAD_NEVER };
/* Report it: one line, then abort unless CONCORD_ARENA_ABORT_ON_ERROR=0. */
void ca_report_bad(const char *call, const void *p, enum ca_bad_pointer why);
/* At exit: how many bad pointers went unreported past the rate limit. */
void ca_report_bad_summary(void);
size_t ca_usable_size_of(const void *p, const char *call);

/* ---- huge.c ---- */
void *ca_huge_alloc(size_t n, size_t align, ca_arena_t *a);
void ca_huge_free(ca_huge_t *h, ca_arena_t *a);
void *ca_huge_realloc(ca_huge_t *h, size_t n, ca_arena_t *a);
int ca_huge_can_resize(const ca_huge_t *h, size_t n);

/* ---- stats.c ---- */
void ca_stats_dump(int fd, int json);
/* The configured destination of dumps, or -1 when the stats file's descriptor
 * was closed by the program and now means something else. */
int ca_stats_fd(void);
void ca_stats_after_fork_child(void);
void ca_stats_handler(int sig);
int ca_size_bucket(size_t n);
int ca_align_bucket(size_t align);

/* ---- signal.c: the statistics signal's disposition ---- */
/* Install ca_stats_handler if the signal has its default disposition. */
void ca_stats_install_signal(void);
void ca_signal_after_fork_child(void);

/* ---- size classes ---- */
/* Class of a size past 128 bytes: 8 classes per doubling. */
static inline uint32_t ca_class_geometric(size_t n)
{
    unsigned b = 63u - (unsigned)__builtin_clzl(n - 1); /* 2^b < n <= 2^(b+1) */
    return 8u + (b - 7u) * 8u + (uint32_t)(((n - 1 - ((size_t)1 << b)) >> (b - 3u)) + 1u);
}

static inline uint32_t ca_size_class(size_t n)
{
    if (ca_likely(n <= 1024)) return ca_class_table[(n + 15) >> 4];
    return ca_class_geometric(n);
}

static inline uintptr_t ca_cookie(const void *p)
{
    return (uintptr_t)p ^ ca_cfg.secret;
}

/* States a slot's word 1 encodes (xor its cookie) while it is not handed out
 * as itself; malloc clears the word. Anything else is a live object's data. */
#define CA_SLOT_FREE    0u /* on a free list */
#define CA_SLOT_FRESH   1u /* carved, never handed out */
#define CA_SLOT_ALIGNED 2u /* | rem: holds an aligned object starting rem bytes in */
#define CA_SLOT_STATES  ((uintptr_t)1 << 20) /* every state is below this */

/* The state word 1 of slot `s` encodes, or >= CA_SLOT_STATES for a live
 * object (data that matches a state by chance is told apart by the slow path). */
static inline uintptr_t ca_slot_state(const void *s)
{
    return (uintptr_t)((void *const *)s)[1] ^ ca_cookie(s);
}

/* Counters of the fast paths; compiled out with CA_STATS=0. */
#if CA_STATS
#define CA_STAT_ALLOC(a, cls, n, slot)                                                             \
    do {                                                                                           \
        (a)->stats.cls_alloc[cls]++;                                                               \
        (a)->stats.req_bytes += (n);                                                               \
        (a)->stats.in_use += (slot);                                                               \
        if ((a)->stats.in_use > (a)->stats.peak) (a)->stats.peak = (a)->stats.in_use;              \
    } while (0)
#define CA_STAT_FREE(a, cls, slot)                                                                 \
    do {                                                                                           \
        (a)->stats.cls_free[cls]++;                                                                \
        (a)->stats.in_use -= (slot);                                                               \
    } while (0)
#else
#define CA_STAT_ALLOC(a, cls, n, slot) ((void)(a), (void)(cls), (void)(n), (void)(slot))
#define CA_STAT_FREE(a, cls, slot)     ((void)(a), (void)(cls), (void)(slot))
#endif

/* The head pointer held in a block's remote word. */
static inline void **ca_remote_list(uintptr_t word)
{
    return (void **)(word & ((((uintptr_t)1) << CA_REMOTE_SHIFT) - 2));
}

/* ---- the fast paths ---- */
static inline void *ca_malloc_inline(size_t n)
{
    if (ca_likely(n <= 1024)) {
        ca_arena_t *a = ca_tls_arena;
        uint32_t cls = ca_class_table[(n + 15) >> 4];
        ca_block_t *b = a->bins[cls].current;
        void **p = (void **)b->free;
        if (ca_likely(p != NULL)) {
            b->free = p[0];
            p[1] = NULL;
            b->used++;
            CA_STAT_ALLOC(a, cls, n, b->slot_size);
            return p;
        }
    }
    return ca_malloc_slow(n);
}

/* Owner thread: push `p` on its block's local list. */
static inline void ca_free_local(ca_arena_t *a, ca_block_t *b, void *p)
{
    void **q = (void **)p;
    q[0] = b->free;
    q[1] = (void *)(ca_cookie(p) ^ CA_SLOT_FREE);
    b->free = q;
    CA_STAT_FREE(a, b->size_class, b->slot_size);
    uint32_t used = b->used - 1;
    b->used = used;
    /* Empty, or back from full: tell the bin, unless it is the bin's only block. */
    if (ca_unlikely(used == 0 || b->full))
        if (b->full || b->prev != NULL || b->next != NULL) ca_block_event(a, b);
}

static inline void ca_free_inline(void *p)
{
    /* The segment address comes from the pointer itself, so the block's
     * metadata can load while the registry confirms it (0: not ours; tagged:
     * huge). NULL, and anything in the first segment-sized chunk, go slow. */
    ca_segment_t *s = (ca_segment_t *)((uintptr_t)p & ~(uintptr_t)(ca_cfg.seg_size - 1));
    if (ca_unlikely(s == NULL || !ca_registry_has_segment(p, (uintptr_t)s))) {
        ca_free_slow(p);
        return;
    }
    uintptr_t off = (uintptr_t)p - (uintptr_t)s;
    ca_block_t *b = &s->blocks[off >> ca_cfg.block_shift];
    uint64_t boff = off & (ca_cfg.block_size - 1);
    /* Not a slot start of a small block that was carved (other kinds have
     * limit 0), or a slot that is not handed out as itself (free, never
     * handed out, holding an aligned object): the slow path sorts it out.
     * limit grows while the owner carves: relaxed, as a pointer handed out
     * was carved before the program passed it here. */
    if (ca_unlikely(boff * b->divmagic > b->divmagic - 1 ||
                    boff >= __atomic_load_n(&b->limit, __ATOMIC_RELAXED) ||
                    ca_slot_state(p) < CA_SLOT_STATES)) {
        ca_free_slow(p);
        return;
    }
    ca_arena_t *a = ca_tls_arena;
    if (ca_likely(b->owner == a))
        ca_free_local(a, b, p);
    else
        ca_free_remote(b, p);
}

#endif
