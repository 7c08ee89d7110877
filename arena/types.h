/*
 * ConcordArena core types.
 *
 * Glossary
 *   segment  `seg_size` bytes aligned to `seg_size`, CA_SEG_BLOCKS blocks;
 *            block 0 holds this header, blocks 1.. serve. A slot of the
 *            segment range (segment.c), or one mmap when the range is full.
 *            Bound to one NUMA node. Found from any pointer by masking (in
 *            the range) or by the registry.
 *   block    `block_size` bytes of a segment. Either free (in a node's cache or
 *            decommitted), small (carved into equal slots of one size class and
 *            owned by one arena), or part of a large span.
 *   run      one object of a run block: a block shared by the size classes
 *            above block_size / 32 (up to small_max), each object a run of
 *            units (block_size / CA_RUN_UNITS bytes), placed next-fit, so
 *            what one class frees another reuses (runs.c).
 *   slot     one object of a small block. Word 1 of a slot that is not handed
 *            out as itself holds its cookie (address ^ secret) xor a state:
 *            0 free (word 0 is the next pointer), 1 carved but never handed
 *            out, rem|2 holds an aligned object that starts rem bytes in.
 *            malloc clears it. See ca_slot_state.
 *   arena    per thread: one bin (list of blocks with room) per size class, a
 *            few empty blocks, counters. Parked at thread exit, adopted whole.
 *   huge     a request bigger than a large span: a mapping of its own with a
 *            ca_huge_t header at its start.
 *   registry maps every segment-sized chunk of the address space that holds a
 *            segment or a huge header to that header: the slow path's O(1)
 *            ownership check (the fast path asks the segment range).
 */
#ifndef CA_TYPES_H
#define CA_TYPES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define CA_SEG_BLOCKS 64u /* blocks per segment, header block included */
#define CA_BLOCK_SHIFT_DEFAULT                                                                     \
    16u /* log2 of the default block size (64 KiB): the free fast path's geometry (see             \
           ca_free_inline) */
#define CA_BLOCK_SHIFT_MAX 20u /* log2 of the largest block size (1 MiB) */
#define CA_MAX_CLASSES                                                                             \
    153u                               /* class 0 unused; 8 + 8 per doubling up to 32 MiB, the     \
                                          largest medium class (half a segment of 1 MiB blocks) */
#define CA_TINY_TABLE      65u         /* size-to-class table entries: sizes 0..1024 */
#define CA_ARENA_CACHE     4u          /* empty blocks an arena keeps for itself */
#define CA_ARENA_SPANS     4u          /* freed spans (large, medium) an arena keeps for itself */
#define CA_SPAN_KEEP_MAX   4u          /* blocks: larger spans always go back to the node */
#define CA_MAX_NODES       64u         /* NUMA nodes we track */
#define CA_SIZE_BUCKETS    16u         /* power-of-two size buckets in statistics */
#define CA_ALIGN_BUCKETS   8u          /* alignment-request buckets in statistics */
#define CA_REMOTE_OFF_BITS 22u         /* a remote list end: 16-byte units into its segment */
#define CA_MAGIC_SEG       0x43415347u /* "CASG" */
#define CA_MAGIC_HUGE      0x43414847u /* "CAHG" */

/* What a registry entry points at: both headers start with this. */
typedef struct ca_hdr_s {
    uint32_t magic; /* CA_MAGIC_SEG or CA_MAGIC_HUGE */
    uint32_t node;  /* NUMA node the memory is bound to */
} ca_hdr_t;

enum ca_block_kind {
    CA_BLOCK_FREE = 0, /* not in use: in its node's cache or decommitted */
    CA_BLOCK_SMALL,    /* slots of one size class, owned by an arena; for a medium class
                          the first block of a span of `span` blocks carved as one */
    CA_BLOCK_LARGE,    /* first block of a large span */
    CA_BLOCK_CONT,     /* later block of a large span */
    CA_BLOCK_KEPT,     /* empty, kept by an arena for itself: a small block or a large span */
    CA_BLOCK_REGION,   /* lent to a kv_arena region */
    CA_BLOCK_HEADER,   /* block 0 of a segment */
    CA_BLOCK_RUNS      /* runs of units for the classes above block_size / 32, owned by an
                          arena; its map is in the segment header (ca_runmap_t) */
};

struct ca_arena_s;

/* Per-block metadata, kept in the segment header. The first cache line is
 * what every thread that frees into the block reads (the slot test, the
 * owner), written only when the block carves or changes hands; the second is
 * the owner's (its free list and counts, written on every malloc and local
 * free). Remote frees write neither: the remote list is in the segment's
 * `remote` array. So the owner's writes do not take the line other threads
 * read away from their caches at each free, nor theirs the owner's. */
typedef struct __attribute__((aligned(64))) ca_block_s {
    uint64_t magic;           /* slot test multiplier (ca_slot_magic of the slot size) */
    uint64_t magic_limit;     /* slots carved * (magic * slot_size): the slot test passes below
                                 it (see ca_slot_test); 0 when the block serves no slot */
    struct ca_arena_s *owner; /* owning arena of a small block, else NULL */
    uint32_t slot_size;       /* bytes per slot (small), 0 otherwise */
    uint32_t limit;           /* bytes: slots carved so far * slot_size; 0 unless small */
    uint8_t kind;             /* enum ca_block_kind */
    uint8_t size_class;       /* small: class index */
    /* second cache line: the owner's */
    _Alignas(64) void *free; /* local free list; owner thread only */
    int32_t used;            /* slots out and not freed locally or collected; CA_USED_FULL
                                added while the block is out of its bin's list (full); a
                                run block: units of its live objects */
    uint32_t capacity;       /* slots in the block */
    struct ca_block_s *next; /* bin list, arena cache or node cache */
    struct ca_block_s *prev; /* bin list or node cache */
    uint32_t bump;           /* slots carved into the free list so far; a run block: the
                                unit where the next search starts */
    uint32_t stamp;          /* free: milliseconds clock when it entered the node cache; a
                                run block: the shortest run found not to fit since its last
                                free (CA_RUN_UNITS + 1: none) */
    uint32_t span;           /* large, medium: blocks in the span; cont: blocks back to the
                                head */
    uint8_t dirty;           /* free: pages may be resident (in the node cache) */
    uint8_t was;             /* free or kept: the kind it had when last in use, so a late
                                second free is told from a foreign pointer */
} ca_block_t;
_Static_assert(offsetof(ca_block_t, free) == 64, "what other threads read fills one cache line");
_Static_assert(sizeof(ca_block_t) == 128, "the free fast path finds a block by shifting");

/* A block's remote free list, in its segment's `remote` array (four blocks
 * to a cache line, apart from their metadata). */
typedef struct ca_remote_s {
    _Atomic(uintptr_t) word;        /* bit 0 set while queued on the owner; the list's head
                                       and tail and how many it holds (ca_remote_head) */
    struct ca_block_s *next_queued; /* the owner arena's stack of blocks with remote frees */
} ca_remote_t;
#define CA_USED_FULL INT32_MIN /* added to a block's used while it is full */

#define CA_RUN_UNITS 256u /* units of a run block */

/* A run block's map (in its segment's header, beside the block metadata).
 * Only the owner writes it, a word at a time (relaxed atomics); another
 * thread that frees an object reads only that object's own start and end
 * bits, which nothing changes while it is live. */
typedef struct ca_runmap_s {
    uint64_t used[CA_RUN_UNITS / 64];  /* bit u: unit u belongs to an object (live, or freed by
                                          another thread and not collected yet) */
    uint64_t start[CA_RUN_UNITS / 64]; /* bit u: an object starts at unit u */
    uint64_t end[CA_RUN_UNITS / 64];   /* bit u: an object ends at unit u */
} ca_runmap_t;

/* A segment: this header fills block 0. Which of its blocks are free is kept
 * by its node (ca_seg_entry_t), where the search for a run reads it without
 * touching the segment. */
typedef struct ca_segment_s {
    ca_hdr_t hdr;
    size_t size;    /* bytes mapped */
    uint32_t entry; /* index of its entry in its node's `segs` */
    ca_block_t blocks[CA_SEG_BLOCKS];
    ca_remote_t remote[CA_SEG_BLOCKS]; /* the remote free lists of its small and run blocks */
    ca_runmap_t runs[CA_SEG_BLOCKS];   /* the maps of its run blocks */
} ca_segment_t;

/* A node's entry for one of its segments. */
typedef struct ca_seg_entry_s {
    uint64_t free_mask;  /* bit i set: block i is free */
    uint64_t dirty_mask; /* bit i set: block i is free and in the node cache (pages maybe
                            resident) */
    ca_segment_t *seg;
} ca_seg_entry_t;
#define CA_NODE_SEGS_INLINE 8u /* entries a node holds before it maps an array */

/* A huge allocation's header, at the start of its own mapping. */
typedef struct ca_huge_s {
    ca_hdr_t hdr;
    size_t dirty;    /* bytes from the start that may hold old data (cached pages moved
                        in); the rest reads zero until the program writes */
    size_t map_size; /* bytes mapped, header included */
    void *user;      /* the pointer handed out */
} ca_huge_t;

/* Per-arena counters. The fast paths write these plainly; dumps sum them. */
typedef struct ca_stats_s {
    uint64_t tiny_alloc[CA_TINY_TABLE];         /* allocations of the malloc fast path, per
                                                   entry of the size table (ca_tiny_index):
                                                   an index it has at hand (see
                                                   ca_stat_class_allocs) */
    uint64_t cls_alloc[CA_MAX_CLASSES];         /* other small allocations per class */
    uint64_t cls_free[CA_MAX_CLASSES];          /* small frees per class, by the freeing arena */
    uint64_t big_alloc[CA_SIZE_BUCKETS];        /* large and huge allocations per size bucket */
    uint64_t big_bucket_bytes[CA_SIZE_BUCKETS]; /* bytes of large and huge objects per bucket */
    uint64_t big_free;                          /* large and huge frees */
    uint64_t remote_frees;                      /* frees of objects owned by another arena */
    uint64_t req_bytes;                         /* bytes: sum of requested sizes */
    uint64_t big_bytes;  /* bytes: sum of large spans and huge mappings handed out */
    int64_t big_in_use;  /* bytes: large and huge objects handed out minus freed by this arena */
    int64_t in_use_base; /* bytes in use when the counters were last reset */
    int64_t held;        /* bytes: small and medium blocks this arena holds, plus big_in_use */
    int64_t peak_held;   /* bytes: highest `held`, sampled when a block or big object is taken */
    uint64_t align_req[CA_ALIGN_BUCKETS]; /* aligned requests by alignment bucket */
    uint64_t blocks_fresh;                /* blocks taken that were never used before */
    uint64_t blocks_reused;               /* blocks taken from a cache */
    uint64_t huge_maps;                   /* huge mappings made */
    uint64_t huge_reused;                 /* huge mappings taken from the cache */
    uint64_t invalid_frees;               /* pointers not ours, left alone */
} ca_stats_t;

typedef struct ca_bin_s {
    ca_block_t *current; /* head of the list of blocks with room; &ca_block_empty if none */
} ca_bin_t;

enum ca_arena_state { CA_ARENA_ACTIVE = 1, CA_ARENA_PARKED = 2, CA_ARENA_FALLBACK = 3 };

typedef struct ca_arena_s {
    ca_block_t *direct[CA_TINY_TABLE]; /* ca_tiny_index(size) -> its class's current block, sizes
                                          <= 1024 (kept equal to bins[class].current) */
    ca_bin_t bins[CA_MAX_CLASSES];
    _Atomic(ca_block_t *) queued; /* blocks that received remote frees */
    _Atomic(uint32_t) state;      /* enum ca_arena_state; read with `queued` by remote frees */
    ca_block_t *cache;            /* empty blocks kept (list through next) */
    uint32_t ncache;              /* blocks in cache */
    ca_block_t *runs;             /* its run blocks, searched in this order (list through
                                     next, prev) */
    ca_block_t *spans;            /* freed large spans kept for reuse (list through next) */
    uint32_t nspans;              /* spans kept */
    uint32_t node;                /* home NUMA node */
    uint32_t id;                  /* arena number, from 1 */
    uint32_t reclaim_tick;        /* blocks taken from the node: every 32nd reclaims */
    int tid;                      /* kernel thread id of the thread it serves */
    struct ca_arena_s *next_all;  /* every arena ever made; never unlinked */
    struct ca_arena_s *next_parked;
    ca_stats_t stats;
} ca_arena_t;

/* Per-node state: segments and the block cache. */
typedef struct ca_node_s {
    pthread_mutex_t lock;
    ca_seg_entry_t *segs;        /* its segments, one entry each: [0, navail) have a free block,
                                    the rest none (NULL until the first segment) */
    uint32_t navail;             /* segments with a free block */
    uint32_t segs_cap;           /* entries `segs` has room for */
    ca_block_t *cache;           /* free blocks with resident pages, newest first */
    ca_block_t *cache_tail;      /* oldest block of the cache */
    uint32_t cache_count;        /* blocks in cache */
    uint32_t nsegments;          /* segments mapped now */
    uint64_t blocks_fresh;       /* blocks handed out never used before */
    uint64_t blocks_reused;      /* blocks handed out from the cache */
    uint64_t blocks_decommitted; /* blocks whose pages went back to the OS */
    uint64_t segments_mapped;    /* segments mapped in all */
    uint64_t segments_unmapped;  /* segments given back in all */
    uint64_t pages_elsewhere;    /* pages of its segments found on another node at the last
                                    dump: spilled when this node was full */
    ca_seg_entry_t segs_inline[CA_NODE_SEGS_INLINE]; /* `segs` until there are more */
} ca_node_t;

#endif
