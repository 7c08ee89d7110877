/*
 * Segments, spans and the per-node block cache.
 *
 * Each NUMA node owns its segments. A segment's free blocks are either dirty
 * (pages possibly resident, linked in the node's cache) or clean (decommitted
 * or never touched). Blocks are taken from the cache first (newest first),
 * then from any segment with room (a run with cached blocks at its ends
 * first), then from a new segment. The cache keeps
 * `cache_blocks` blocks; blocks beyond that are purged (madvise) once they have
 * sat unused for CA_PURGE_DELAY_MS, or at once past CA_PURGE_HARD times the
 * bound (or half the node's blocks, when that is more), so that a program
 * cycling through large objects does not pay a madvise and a page fault per
 * block (the idea of jemalloc's and mimalloc's delayed purging). A segment
 * whose blocks are all free stays while some of them wait in the cache; once
 * they are all decommitted it is unmapped, except the last one of its node.
 * Everything here runs under the node's lock: it is the slow path.
 */
#include "segment.h"

#include "numa.h"
#include "os.h"
#include "registry.h"
#include "util.h"

#include <errno.h>
#include <string.h>

#define CA_PURGE_DELAY_MS 100u
#define CA_PURGE_HARD     8u
#define CA_PURGE_BATCH    64u
_Static_assert(CA_PURGE_BATCH <= CA_OS_RANGES_MAX, "a purge batch is one call");

_Static_assert(sizeof(ca_segment_t) <= (16u << 10),
               "a segment header fits block 0 at the smallest block size");

/* Zero: in .bss, so only the nodes in use cost memory (an initializer would
 * put all CA_MAX_NODES in .data, every page of it mapped at start-up). A
 * zeroed lock is a plain mutex; ca_nodes_init makes those of the nodes
 * present adaptive. */
ca_node_t ca_nodes[CA_MAX_NODES];

/* See segment.h. Armed under a node lock; cleared by the tick that runs it. */
_Atomic uint32_t ca_purge_due;

#define CA_ALL_BLOCKS_FREE (CA_SEG_BLOCKS - 1u)
#define CA_SEG_EMPTY       (~(uint64_t)1) /* free mask of a segment with every block free */

/* Mask of blocks [idx, idx+n) of a segment (n <= 64 - idx). */
static uint64_t ca_blocks_mask(size_t idx, uint32_t n)
{
    return ((n < 64 ? (uint64_t)1 << n : 0) - 1) << idx;
}

/* ---- a node's segment entries ----
 *
 * One dense array per node, an entry per segment with its free and dirty
 * masks: the search for a run reads the masks of every segment with room
 * from a few cache lines instead of from each segment's header (a cache and
 * TLB miss apiece). Segments with a free block come first ([0, navail)); an
 * entry moves across the boundary by a swap when its segment fills or gets
 * a block back. */

static ca_seg_entry_t *ca_seg_entry(ca_node_t *nd, const ca_segment_t *s)
{
    return &nd->segs[s->entry];
}

static void ca_seg_swap(ca_node_t *nd, uint32_t i, uint32_t j)
{
    if (i == j) return;
    ca_seg_entry_t t = nd->segs[i];
    nd->segs[i] = nd->segs[j];
    nd->segs[j] = t;
    nd->segs[i].seg->entry = i;
    nd->segs[j].seg->entry = j;
}

/* Room for one more entry: 0, or -1 when no memory for a larger array. */
static int ca_seg_reserve(ca_node_t *nd)
{
    if (nd->segs == NULL) {
        nd->segs = nd->segs_inline;
        nd->segs_cap = CA_NODE_SEGS_INLINE;
    }
    if (nd->nsegments < nd->segs_cap) return 0;
    size_t bytes = ca_page_round((size_t)nd->segs_cap * 2 * sizeof(ca_seg_entry_t));
    ca_seg_entry_t *a = ca_os_map_aligned(bytes, ca_os_page_size());
    if (a == NULL) return -1;
    memcpy(a, nd->segs, (size_t)nd->nsegments * sizeof(ca_seg_entry_t));
    if (nd->segs != nd->segs_inline)
        ca_os_unmap(nd->segs, ca_page_round((size_t)nd->segs_cap * sizeof(ca_seg_entry_t)));
    nd->segs = a;
    nd->segs_cap = (uint32_t)(bytes / sizeof(ca_seg_entry_t));
    return 0;
}

/* A new segment's entry, all blocks but the header free (ca_seg_reserve
 * made room). */
static void ca_seg_add(ca_node_t *nd, ca_segment_t *s)
{
    uint32_t i = nd->nsegments++;
    nd->segs[i] = (ca_seg_entry_t){.free_mask = CA_SEG_EMPTY, .dirty_mask = 0, .seg = s};
    s->entry = i;
    ca_seg_swap(nd, i, nd->navail++);
}

static void ca_seg_remove(ca_node_t *nd, ca_segment_t *s)
{
    uint32_t i = s->entry;
    if (i < nd->navail) {
        ca_seg_swap(nd, i, --nd->navail);
        i = nd->navail;
    }
    ca_seg_swap(nd, i, --nd->nsegments);
}

static void ca_cache_unlink(ca_node_t *nd, ca_block_t *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        nd->cache = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        nd->cache_tail = b->prev;
    b->next = b->prev = NULL;
    b->dirty = 0;
    ca_seg_entry(nd, ca_block_segment(b))->dirty_mask &= ~((uint64_t)1 << ca_block_index(b));
    nd->cache_count--;
}

static void ca_cache_push(ca_node_t *nd, ca_block_t *b)
{
    b->prev = NULL;
    b->next = nd->cache;
    if (nd->cache)
        nd->cache->prev = b;
    else
        nd->cache_tail = b;
    nd->cache = b;
    b->dirty = 1;
    ca_seg_entry(nd, ca_block_segment(b))->dirty_mask |= (uint64_t)1 << ca_block_index(b);
    nd->cache_count++;
}

/* ---- the segment range ----
 *
 * Segments are carved from one reserved range of address space, so that the
 * free fast path asks "in a segment of ours?" with one subtraction and one
 * compare (ca_range_offset). The whole range is readable: slots never used
 * read as zero (no access to write, no memory, left out of core dumps), and
 * a slot given back is decommitted, so its blocks read as free and pass no
 * slot test. Slots are made writable in steps as the range grows (see
 * CA_RANGE_AHEAD); slots given back are taken again first, lowest first.
 * When the range cannot be reserved, or is full, segments are mapped
 * anywhere, and their frees take the slow path.
 * The range lock nests inside a node lock (the fork handlers take those). */

#define CA_RANGE_BYTES ((size_t)1 << 40) /* tried first; a quarter as much until one fits */
/* Under an address-space limit (ulimit -v), the range takes at most this
 * fraction of it: the rest stays for the program. */
#define CA_RANGE_SHARE 8u
/* Slots made writable ahead of use, at most: half as many as are in use, up
 * to this. Every mprotect stalls the page faults of all threads (it takes
 * the address-space lock for writing), so the range grows in steps. */
#define CA_RANGE_AHEAD 64u

static pthread_mutex_t ca_range_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t ca_range_slots;     /* slots reserved */
static size_t ca_range_top;       /* slots ever used */
static size_t ca_range_writable;  /* slots made read-write: ca_range_top and some ahead */
static uint64_t *ca_range_given;  /* bit i: slot i was given back */
static size_t ca_range_hint;      /* words of ca_range_given below this have no bit set */
size_t ca_range_limit = SIZE_MAX; /* see segment.h */

void ca_nodes_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    for (unsigned n = 0; n < ca_numa_node_count(); n++)
        pthread_mutex_init(&ca_nodes[n].lock, &attr);
    pthread_mutexattr_destroy(&attr);
}

void ca_segment_range_init(void)
{
    /* Reserved address space counts against RLIMIT_AS as if it were used. */
    size_t most = ca_os_address_limit() / CA_RANGE_SHARE;
    for (size_t bytes = CA_RANGE_BYTES; bytes >= 64 * ca_cfg.seg_size; bytes /= 4) {
        if (bytes > most) continue;
        size_t slots = bytes >> ca_cfg.seg_shift;
        size_t map_bytes = (slots + 63) / 64 * sizeof(uint64_t);
        uint64_t *given = ca_os_reserve(map_bytes);
        if (given == NULL) continue;
        char *raw = ca_os_reserve_readable(bytes + ca_cfg.seg_size);
        if (raw == NULL) {
            ca_os_unmap(given, map_bytes);
            continue;
        }
        uintptr_t base = ((uintptr_t)raw + ca_cfg.seg_size - 1) & ca_cfg.seg_base_mask;
        ca_range_given = given;
        ca_range_slots = slots;
        ca_cfg.range_base = base;
        /* Last: a free racing with start-up sees no range, or all of it. */
        __atomic_store_n(&ca_cfg.range_size, bytes, __ATOMIC_RELEASE);
        if (ca_cfg.block_shift == CA_BLOCK_SHIFT_DEFAULT)
            __atomic_store_n(&ca_cfg.fast_range_size, bytes, __ATOMIC_RELEASE);
        return;
    }
}

uintptr_t ca_segment_range_used(void)
{
    return (uintptr_t)__atomic_load_n(&ca_range_top, __ATOMIC_RELAXED) << ca_cfg.seg_shift;
}

/* A slot of the range, read-write; NULL when the range is full or the OS
 * refuses. */
static ca_segment_t *ca_range_take(void)
{
    if (ca_range_slots == 0) return NULL;
    pthread_mutex_lock(&ca_range_lock);
    size_t words = (ca_range_top + 63) / 64;
    size_t slot = SIZE_MAX;
    for (size_t w = ca_range_hint; w < words; w++) {
        if (ca_range_given[w] != 0) {
            slot = w * 64 + (size_t)__builtin_ctzll(ca_range_given[w]);
            ca_range_given[w] &= ca_range_given[w] - 1;
            break;
        }
        ca_range_hint = w + 1;
    }
    ca_segment_t *s = NULL;
    if (slot != SIZE_MAX) { /* given back: still read-write */
        s = (ca_segment_t *)(ca_cfg.range_base + (slot << ca_cfg.seg_shift));
    } else if (ca_range_top < ca_range_slots && ca_range_top < ca_range_limit) {
        s = (ca_segment_t *)(ca_cfg.range_base + (ca_range_top << ca_cfg.seg_shift));
        if (ca_range_top >= ca_range_writable) {
            size_t ahead = ca_range_top / 2;
            if (ahead > CA_RANGE_AHEAD) ahead = CA_RANGE_AHEAD;
            if (ahead > ca_range_slots - ca_range_top - 1)
                ahead = ca_range_slots - ca_range_top - 1;
            if (ca_os_commit(s, (ahead + 1) << ca_cfg.seg_shift) == 0)
                ca_range_writable = ca_range_top + ahead + 1;
            else if (ahead > 0 && ca_os_commit(s, ca_cfg.seg_size) == 0)
                ca_range_writable = ca_range_top + 1;
        }
        if (ca_range_top < ca_range_writable)
            __atomic_store_n(&ca_range_top, ca_range_top + 1, __ATOMIC_RELAXED);
        else
            s = NULL;
    }
    pthread_mutex_unlock(&ca_range_lock);
    return s;
}

/* Give `s` back: its pages go, and its slot is taken again first. 0 if it
 * was a slot of the range (else the caller unmaps it). */
static int ca_range_give(ca_segment_t *s)
{
    uintptr_t off = (uintptr_t)s - ca_cfg.range_base;
    if (off >= ((uintptr_t)ca_range_slots << ca_cfg.seg_shift)) return -1;
    ca_os_decommit(s, ca_cfg.seg_size);
    size_t slot = off >> ca_cfg.seg_shift;
    pthread_mutex_lock(&ca_range_lock);
    ca_range_given[slot / 64] |= (uint64_t)1 << (slot % 64);
    if (slot / 64 < ca_range_hint) ca_range_hint = slot / 64;
    pthread_mutex_unlock(&ca_range_lock);
    return 0;
}

/* A new segment-sized mapping aligned to its size: a slot of the range, or
 * one mapped anywhere; NULL when the OS says no. */
static ca_segment_t *ca_segment_memory(void)
{
    ca_segment_t *s = ca_range_take();
    if (s != NULL) return s;
    return ca_os_map_aligned(ca_cfg.seg_size, ca_cfg.seg_size);
}

static void ca_segment_memory_give(ca_segment_t *s)
{
    if (ca_range_give(s) != 0) ca_os_unmap(s, ca_cfg.seg_size);
}

static ca_segment_t *ca_segment_map(unsigned node)
{
    ca_node_t *nd = &ca_nodes[node];
    if (ca_seg_reserve(nd) != 0) return NULL;
    ca_segment_t *s = ca_segment_memory();
    if (s == NULL) return NULL;
    if (ca_cfg.numa_bind) {
        int rc = ca_numa_bind(s, ca_cfg.seg_size, node);
        if (rc != 0) {
            ca_cfg.numa_bind = 0;
            ca_message("NUMA placement off: mbind failed (",
                       rc == EINVAL ? "no such node, or a node without memory" : "not permitted",
                       "); memory is placed by the kernel", NULL);
        }
    }
    s->hdr.magic = CA_MAGIC_SEG;
    s->hdr.node = node;
    s->size = ca_cfg.seg_size;
    s->blocks[0].kind = CA_BLOCK_HEADER;
    ca_registry_set((uintptr_t)s, &s->hdr);
    if (ca_registry_lookup(s) != &s->hdr) { /* no memory for the registry */
        s->hdr.magic = 0;
        ca_segment_memory_give(s);
        return NULL;
    }
    ca_seg_add(nd, s); /* block 0 is this header */
    nd->segments_mapped++;
    return s;
}

static void ca_segment_unmap(ca_node_t *nd, ca_segment_t *s)
{
    for (uint32_t i = 1; i < CA_SEG_BLOCKS; i++)
        if (s->blocks[i].dirty) ca_cache_unlink(nd, &s->blocks[i]);
    ca_seg_remove(nd, s);
    ca_registry_forget((uintptr_t)s, (uintptr_t)s);
    nd->segments_unmapped++;
    ca_segment_memory_give(s);
}

/* Bit i set: bits i..i+n-1 of `mask` are all set (a run of `n` starts at i). */
static uint64_t ca_mask_runs(uint64_t mask, uint32_t n)
{
    /* r: runs of k; doubled while 2k <= n, then runs of k overlapping by
     * 2k - n make runs of n (log n steps, n <= 64) */
    uint64_t r = mask;
    uint32_t k = 1;
    while (2 * k <= n && r != 0) {
        r &= r >> k;
        k *= 2;
    }
    return k < n ? r & (r >> (n - k)) : r;
}

/* Segments looked at past the first that has room, for a run with blocks of
 * the cache at both ends: bounds the search in a node of many segments. */
#define CA_FIT_LOOK 256u

/* A run of `n` free blocks of the node for a span: the first whose first
 * and last blocks wait in the cache (their pages resident, likely a whole
 * span freed lately: no page faults, and the cache shrinks instead of being
 * purged while fresh pages are faulted in), else the first with one such
 * end, else the first run. NULL when no segment has one. */
static ca_segment_t *ca_node_fit(ca_node_t *nd, uint32_t n, int *idx)
{
    ca_segment_t *got = NULL;
    int score = -1;
    uint32_t look = 0;
    for (uint32_t i = 0; i < nd->navail && look <= CA_FIT_LOOK; i++) {
        const ca_seg_entry_t *e = &nd->segs[i];
        uint64_t r = ca_mask_runs(e->free_mask, n);
        if (r == 0) continue;
        if (got != NULL) look++;
        uint64_t d = e->dirty_mask, last = d >> (n - 1);
        if ((r & d & last) != 0) {
            *idx = __builtin_ctzll(r & d & last);
            return e->seg;
        }
        if (score < 1 && (r & (d | last)) != 0) {
            got = e->seg;
            score = 1;
            *idx = __builtin_ctzll(r & (d | last));
        } else if (score < 0) {
            got = e->seg;
            score = 0;
            *idx = __builtin_ctzll(r);
        }
    }
    return got;
}

/* Mark blocks [idx, idx+n) of `s` taken. Returns 1 if any was from the cache. */
static int ca_segment_take(ca_node_t *nd, ca_segment_t *s, int idx, uint32_t n)
{
    int reused = 0;
    for (uint32_t i = 0; i < n; i++) {
        ca_block_t *b = &s->blocks[idx + (int)i];
        if (b->dirty) {
            ca_cache_unlink(nd, b);
            reused = 1;
        }
    }
    ca_seg_entry_t *e = ca_seg_entry(nd, s);
    e->free_mask &= ~ca_blocks_mask((size_t)idx, n);
    if (e->free_mask == 0) ca_seg_swap(nd, s->entry, --nd->navail); /* full */
    return reused;
}

ca_block_t *ca_node_take(unsigned node, uint32_t n, int *reused)
{
    ca_node_t *nd = &ca_nodes[node];
    ca_block_t *got = NULL;
    pthread_mutex_lock(&nd->lock);
    if (n == 1 && nd->cache != NULL) {
        got = nd->cache;
        ca_segment_t *s = ca_block_segment(got);
        *reused = ca_segment_take(nd, s, (int)ca_block_index(got), 1);
    } else {
        int idx;
        ca_segment_t *s = ca_node_fit(nd, n, &idx);
        if (s != NULL) {
            *reused = ca_segment_take(nd, s, idx, n);
            got = &s->blocks[idx];
        } else if ((s = ca_segment_map(node)) != NULL) {
            *reused = ca_segment_take(nd, s, 1, n);
            got = &s->blocks[1];
        }
    }
    if (got != NULL) {
        if (*reused)
            nd->blocks_reused += n;
        else
            nd->blocks_fresh += n;
    }
    pthread_mutex_unlock(&nd->lock);
    return got;
}

/* Mark blocks [idx, idx+n) of `s` free; unmap the segment if it became empty. */
static void ca_segment_release(ca_node_t *nd, ca_segment_t *s, size_t idx, uint32_t n)
{
    ca_seg_entry_t *e = ca_seg_entry(nd, s);
    if (e->free_mask == 0) ca_seg_swap(nd, s->entry, nd->navail++); /* room again */
    e = ca_seg_entry(nd, s);
    e->free_mask |= ca_blocks_mask(idx, n);
    /* An empty segment stays while blocks of it wait in the cache (a program
     * that frees and allocates again reuses them, pages resident); once the
     * purge has decommitted them all, it goes, but for the node's last one. */
    if (e->free_mask == CA_SEG_EMPTY && e->dirty_mask == 0 && nd->nsegments > 1)
        ca_segment_unmap(nd, s);
}

void ca_purge_arm_later(void)
{
    ca_purge_arm(ca_os_now_ms() + CA_PURGE_DELAY_MS);
}

void ca_purge_arm(uint32_t when)
{
    if (when == 0) when = 1;
    uint32_t due = atomic_load_explicit(&ca_purge_due, memory_order_relaxed);
    while (due == 0 || (int32_t)(when - due) < 0) {
        if (atomic_compare_exchange_weak(&ca_purge_due, &due, when)) {
            if (due == 0 && ca_cfg.background_purge) ca_os_wake(&ca_purge_due);
            return;
        }
    }
}

/* Decommit spans b[0..n) of len[0..n) blocks (len NULL: one block each), at
 * most CA_OS_RANGES_MAX of them: sorted by address (both arrays reordered),
 * neighbours in one segment merged into one range, all ranges in one
 * ca_os_decommit_ranges. */
static void ca_decommit_spans(ca_block_t **b, uint32_t *len, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) /* by address: metadata order is block order */
        for (uint32_t j = i; j > 0 && b[j - 1] > b[j]; j--) {
            ca_block_t *tb = b[j];
            b[j] = b[j - 1];
            b[j - 1] = tb;
            if (len != NULL) {
                uint32_t tn = len[j];
                len[j] = len[j - 1];
                len[j - 1] = tn;
            }
        }
    struct iovec v[CA_OS_RANGES_MAX];
    unsigned nv = 0;
    for (uint32_t i = 0; i < n; i++) {
        char *start = ca_block_start(b[i]);
        size_t size = (size_t)(len != NULL ? len[i] : 1) << ca_cfg.block_shift;
        if (nv > 0 && (char *)v[nv - 1].iov_base + v[nv - 1].iov_len == start &&
            ca_block_segment(b[i]) == ca_block_segment(b[i - 1]))
            v[nv - 1].iov_len += size;
        else
            v[nv++] = (struct iovec){start, size};
    }
    ca_os_decommit_ranges(v, nv);
}

/* Called with the node locked; returns with it unlocked. The oldest blocks
 * past the bound leave the cache once they have waited CA_PURGE_DELAY_MS (at
 * once past CA_PURGE_HARD times the bound, and then a whole batch, so that a
 * program that frees much at once pays one call a batch, not one a block);
 * they are marked taken while madvise runs outside the lock, so nobody gets
 * them half-purged. Blocks that must still wait arm the purge tick. */
static void ca_node_purge_locked(ca_node_t *nd, uint32_t now)
{
    ca_block_t *purge[CA_PURGE_BATCH];
    /* past this many, blocks go at once: 8 times the bound, or half the
     * node's blocks when that is more (a big heap that churns keeps its
     * pages while the delay runs); once past it, down to a batch below */
    uint64_t hard = (uint64_t)ca_cfg.cache_blocks * CA_PURGE_HARD;
    uint64_t half = (uint64_t)nd->nsegments * CA_ALL_BLOCKS_FREE / 2;
    if (half > hard) hard = half;
    if (nd->cache_count > hard) hard = hard >= CA_PURGE_BATCH ? hard + 1 - CA_PURGE_BATCH : 0;
    for (;;) {
        uint32_t npurge = 0;
        while (npurge < CA_PURGE_BATCH && nd->cache_count > ca_cfg.cache_blocks) {
            ca_block_t *old = nd->cache_tail;
            if (nd->cache_count <= hard && now - old->stamp < CA_PURGE_DELAY_MS) {
                ca_purge_arm(old->stamp + CA_PURGE_DELAY_MS);
                break;
            }
            ca_segment_take(nd, ca_block_segment(old), (int)ca_block_index(old), 1);
            purge[npurge++] = old;
        }
        pthread_mutex_unlock(&nd->lock);
        if (npurge == 0) return;
        ca_decommit_spans(purge, NULL, npurge);
        pthread_mutex_lock(&nd->lock);
        nd->blocks_decommitted += npurge;
        for (uint32_t i = 0; i < npurge; i++)
            ca_segment_release(nd, ca_block_segment(purge[i]), ca_block_index(purge[i]), 1);
        if (npurge < CA_PURGE_BATCH) {
            pthread_mutex_unlock(&nd->lock);
            return;
        }
    }
}

void ca_node_give(ca_block_t *b, uint32_t n)
{
    ca_node_give_to(b, n, CA_GIVE_CACHE);
}

/* Blocks b[0..n) given back: free, each keeping in `was` what it was. */
static void ca_blocks_mark_free(ca_block_t *b, uint32_t n, uint32_t now)
{
    for (uint32_t i = 0; i < n; i++) {
        ca_block_t *x = b + i;
        if (x->kind != CA_BLOCK_KEPT) x->was = x->kind; /* kept blocks already say */
        x->kind = CA_BLOCK_FREE;
        ca_block_clear(x);
        x->used = 0;
        x->stamp = now;
    }
}

void ca_release_add(ca_release_t *r, ca_block_t *b, uint32_t n)
{
    ca_blocks_mark_free(b, n, ca_os_now_ms());
    if (r->count == CA_RELEASE_BATCH) ca_release_flush(r);
    r->b[r->count] = b;
    r->n[r->count++] = n;
}

void ca_release_flush(ca_release_t *r)
{
    uint32_t n = r->count;
    if (n == 0) return;
    int saved = errno;
    /* Nobody can take them before ca_segment_release: decommit unlocked. */
    ca_decommit_spans(r->b, r->n, n);
    ca_node_t *held = NULL;
    for (uint32_t i = 0; i < n; i++) {
        ca_segment_t *s = ca_block_segment(r->b[i]);
        ca_node_t *nd = &ca_nodes[s->hdr.node];
        if (nd != held) {
            if (held != NULL) pthread_mutex_unlock(&held->lock);
            pthread_mutex_lock(&nd->lock);
            held = nd;
        }
        nd->blocks_decommitted += r->n[i];
        ca_segment_release(nd, s, ca_block_index(r->b[i]), r->n[i]);
    }
    pthread_mutex_unlock(&held->lock);
    r->count = 0;
    errno = saved;
}

void ca_node_give_to(ca_block_t *b, uint32_t n, enum ca_give how)
{
    ca_assert(how != CA_GIVE_RELEASE); /* released spans go through ca_release_t */
    int saved = errno;
    ca_segment_t *s = ca_block_segment(b);
    ca_node_t *nd = &ca_nodes[s->hdr.node];
    size_t idx = ca_block_index(b);
    uint32_t now = ca_os_now_ms();
    ca_blocks_mark_free(b, n, now);
    pthread_mutex_lock(&nd->lock);
    for (uint32_t i = 0; i < n; i++)
        ca_cache_push(nd, b + i);
    ca_segment_release(nd, s, idx, n);
    if (how == CA_GIVE_LAZY) {
        ca_purge_arm(now); /* the next tick purges what is due */
        pthread_mutex_unlock(&nd->lock);
    } else {
        ca_node_purge_locked(nd, now); /* unlocks */
    }
    errno = saved;
}

void ca_nodes_purge(uint32_t now)
{
    int saved = errno;
    for (unsigned n = 0; n < ca_numa_node_count(); n++) {
        ca_node_t *nd = &ca_nodes[n];
        pthread_mutex_lock(&nd->lock);
        ca_node_purge_locked(nd, now); /* unlocks */
    }
    errno = saved;
}

void ca_span_mark(ca_block_t *b, uint32_t n, uint8_t kind)
{
    for (uint32_t i = 1; i < n; i++) {
        b[i].kind = CA_BLOCK_CONT;
        b[i].span = i;
    }
    b->owner = NULL;
    b->span = n;
    b->kind = kind;
    /* Marked before the span is linked anywhere (see ca_segment_recover_lost). */
    atomic_signal_fence(memory_order_release);
}

void ca_node_trim(void)
{
    int saved = errno;
    for (unsigned n = 0; n < ca_numa_node_count(); n++) {
        ca_node_t *nd = &ca_nodes[n];
        pthread_mutex_lock(&nd->lock);
        while (nd->cache != NULL) {
            ca_block_t *v[CA_PURGE_BATCH];
            uint32_t nv = 0;
            while (nv < CA_PURGE_BATCH && nd->cache != NULL) {
                v[nv] = nd->cache;
                ca_cache_unlink(nd, v[nv++]);
            }
            ca_decommit_spans(v, NULL, nv); /* under the lock: they are free blocks */
            nd->blocks_decommitted += nv;
        }
        for (uint32_t i = nd->navail; i-- > 0;) /* an unmap moves only entries past i */
            if (nd->segs[i].free_mask == CA_SEG_EMPTY) ca_segment_unmap(nd, nd->segs[i].seg);
        pthread_mutex_unlock(&nd->lock);
    }
    errno = saved;
}

void ca_segment_recover_lost(ca_segment_t *s)
{
    ca_node_t *nd = &ca_nodes[s->hdr.node];
    uint64_t lost = 0;
    for (uint32_t k = 1; k < CA_SEG_BLOCKS; k++)
        if (s->blocks[k].kind == CA_BLOCK_FREE) lost |= (uint64_t)1 << k;
    lost &= ~ca_seg_entry(nd, s)->free_mask;
    if (lost == 0) return;
    uint32_t now = ca_os_now_ms();
    for (; lost != 0; lost &= lost - 1) {
        unsigned k = (unsigned)__builtin_ctzll(lost);
        s->blocks[k].stamp = now;
        ca_cache_push(nd, &s->blocks[k]); /* pages maybe resident: the purge decides */
        ca_segment_release(nd, s, k, 1);  /* not unmapped: it has a cached block now */
    }
    ca_purge_arm_later();
}

/* The nodes in use: those of the topology (a home node is always one of them). */
void ca_nodes_lock_all(void)
{
    for (unsigned n = 0; n < ca_numa_node_count(); n++)
        pthread_mutex_lock(&ca_nodes[n].lock);
}

void ca_nodes_unlock_all(void)
{
    for (unsigned n = ca_numa_node_count(); n-- > 0;)
        pthread_mutex_unlock(&ca_nodes[n].lock);
}

/* Pages asked about per call, in static arrays: only the thread writing a
 * dump (one at a time, see stats.c) comes here. */
#define CA_SPILL_BATCH 256u
static void *ca_spill_pages[CA_SPILL_BATCH];
static int ca_spill_status[CA_SPILL_BATCH];

static uint64_t ca_segment_spill(const ca_segment_t *s, unsigned node)
{
    uint64_t elsewhere = 0;
    size_t ps = ca_os_page_size();
    for (size_t off = ca_cfg.block_size; off < s->size;) {
        unsigned n = 0;
        for (; n < CA_SPILL_BATCH && off < s->size; n++, off += ps)
            ca_spill_pages[n] = (char *)s + off;
        if (ca_os_pages_nodes(ca_spill_pages, ca_spill_status, n) != 0) break;
        for (unsigned i = 0; i < n; i++)
            if (ca_spill_status[i] >= 0 && (unsigned)ca_spill_status[i] != node) elsewhere++;
    }
    return elsewhere;
}

void ca_nodes_count_spill(void)
{
    if (ca_numa_node_count() < 2 || !ca_cfg.numa_bind) return;
    for (unsigned n = 0; n < ca_numa_node_count(); n++) {
        ca_node_t *nd = &ca_nodes[n];
        if (pthread_mutex_trylock(&nd->lock) != 0) continue; /* never wait in a dump */
        uint64_t elsewhere = 0;
        for (uint32_t i = 0; i < nd->nsegments; i++)
            elsewhere += ca_segment_spill(nd->segs[i].seg, n);
        nd->pages_elsewhere = elsewhere;
        pthread_mutex_unlock(&nd->lock);
    }
}
