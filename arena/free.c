/*
 * Freeing. The fast path (inline, below) pushes a valid slot of this
 * thread's block on its local list, or one of another thread's on the
 * block's remote list with one CAS; the slow path takes the remote push, aligned and large and huge
 * objects, and every bad pointer: one that is not ours, points inside an object, or was freed
 * already (or never handed out). ca_locate tells them apart in O(1), from the registry, the block's
 * kind and the slot's state word (see ca_slot_state).
 */
#include "free.h"

#include "arena.h"
#include "concord.h"
#include "huge.h"
#include "init.h"
#include "large.h"
#include "registry.h"
#include "report.h"
#include "runs.h"
#include "segment.h"
#include "sizeclass.h"

#include <errno.h>

ca_noinline void ca_free_remote(ca_block_t *b, void *p, uint32_t cls);
ca_noinline void ca_free_slow(void *p);

/* ---- the fast path ---- */

/* Owner thread: push `p` on its block's local list. */
static inline void ca_free_local(ca_arena_t *a, ca_block_t *b, void *p)
{
    void **q = (void **)p;
    ca_slot_set_state(q, CA_SLOT_FREE);
    q[0] = b->free;
    b->free = q;
    CA_STAT_FREE(a, b->size_class);
    /* Full until now (CA_USED_FULL), or emptied and not the bin's only
     * block: tell the bin. */
    if (ca_unlikely(ca_dec_le_zero(&b->used)))
        if (ca_block_full(b) || b->prev != NULL || b->next != NULL) ca_block_event(a, b);
}

/* Free `p`, a pointer in the segment range with blocks of 2^block_shift
 * bytes (`block_off_mask`: that size - 1), when it is a live small slot: 1;
 * else 0, for the slow path to sort out. */
static inline int ca_free_slot(void *p, unsigned block_shift, uintptr_t block_off_mask)
{
    ca_block_t *b = ca_block_at_shift(p, block_shift);
    uintptr_t boff = (uintptr_t)p & block_off_mask;
    /* Not a carved slot start of a small block (other kinds fail the slot
     * test), or a slot that is not handed out as itself (free, never handed
     * out, holding an aligned object). The slot test's bound grows while the
     * owner carves: relaxed, as a pointer handed out was carved before the
     * program passed it here. */
    if (ca_unlikely(!ca_slot_test(b, boff) || ca_slot_state(p) < CA_SLOT_STATES)) return 0;
    ca_arena_t *a = ca_tls_arena;
    if (ca_likely(b->owner == a))
        ca_free_local(a, b, p);
    else
        ca_free_remote(b, p, b->size_class);
    return 1;
}

static inline void ca_free_inline(void *p)
{
    /* A pointer in the segment range: its block by the default block size's
     * geometry as constants (fast_range_size is 0 with another block size),
     * or by the configured one. NULL, pointers of huge objects, and anything
     * not in the range go slow. */
    uintptr_t off = ca_range_offset(p);
    if (ca_likely(off < ca_cfg.fast_range_size)) {
        if (ca_likely(ca_free_slot(p, CA_BLOCK_SHIFT_DEFAULT,
                                   ((uintptr_t)1 << CA_BLOCK_SHIFT_DEFAULT) - 1)))
            return;
    } else if (off < ca_cfg.range_size) {
        if (ca_free_slot(p, ca_cfg.block_shift, ca_cfg.block_off_mask)) return;
    }
    ca_free_slow(p);
}

/* ---- where a pointer lands ---- */

enum ca_obj_kind { CA_OBJ_SMALL, CA_OBJ_RUN, CA_OBJ_LARGE, CA_OBJ_HUGE };

/* A live object, as ca_locate finds it. */
typedef struct ca_obj_s {
    enum ca_obj_kind kind;
    ca_block_t *block; /* small, run: its block; large: the span's first block */
    char *slot;        /* small: the slot (the pointer itself unless aligned inside it) */
    ca_huge_t *huge;   /* huge: its header */
    size_t usable;     /* bytes from the pointer to the end of what it owns */
} ca_obj_t;

/* Is `p` on its block's local free list? Walks the list: only used to confirm
 * a slot state before calling a pointer bad. */
static int ca_on_local_list(const ca_block_t *b, const void *p)
{
    uint32_t guard = b->capacity + 1;
    for (void **q = b->free; q != NULL && guard-- > 0; q = (void **)q[0])
        if (q == p) return 1;
    return 0;
}

/* Slot `slot` of `b` says it is free or never handed out. For a block of
 * this thread, confirm on its lists (live data can match a state by chance);
 * another thread's lists cannot be walked, and its states are trusted. */
static int ca_slot_confirm_free(ca_block_t *b, void *slot)
{
    ca_arena_t *a = ca_tls_arena;
    if (b->owner != a) return 1;
    ca_arena_collect(a);
    if (b->kind != CA_BLOCK_SMALL || b->owner != a) return 1; /* it emptied: all slots free */
    return ca_on_local_list(b, slot);
}

/* Word 2 of a slot freed while it held an aligned object: where it was. */
static uintptr_t ca_slot_was_aligned(const void *slot)
{
    return (uintptr_t)((void *const *)slot)[2] ^ ca_cookie(slot);
}

/* 0 when `p` is a live object of small block `b` (`boff` bytes into it), with
 * `o` filled in; else 1 + what is wrong. */
static int ca_locate_small(void *p, ca_block_t *b, uintptr_t boff, ca_obj_t *o)
{
    uint32_t size = b->slot_size;
    if (boff >= __atomic_load_n(&b->limit, __ATOMIC_RELAXED)) return 1 + CA_BAD_NEVER;
    uintptr_t rem = boff % size;
    char *slot = (char *)p - rem;
    uintptr_t st = ca_slot_state(slot);
    if (rem != 0) {
        if (st == (CA_SLOT_ALIGNED | rem)) goto live;
        if (st == CA_SLOT_FREE && ca_slot_was_aligned(slot) == (CA_SLOT_ALIGNED | rem))
            return 1 + CA_BAD_FREED;
        return 1 + CA_BAD_INTERIOR;
    }
    if (st == CA_SLOT_FREE || st == CA_SLOT_FRESH) {
        if (ca_slot_confirm_free(b, slot))
            return 1 + (st == CA_SLOT_FREE ? CA_BAD_FREED : CA_BAD_NEVER);
    } else if ((st & 15) == CA_SLOT_ALIGNED && st > CA_SLOT_ALIGNED && st < size) {
        return 1 + CA_BAD_INTERIOR; /* the slot holds an aligned object further in */
    }
live:
    o->kind = CA_OBJ_SMALL;
    o->block = b;
    o->slot = slot;
    o->usable = size - rem;
    return 0;
}

/* 0 when `p` (`boff` bytes into run block `b`) starts a live object, with
 * `o` filled in; else 1 + what is wrong. An object another thread freed
 * (on the block's remote list, its state word says free) is gone already: for
 * the owner that is confirmed by collecting, which clears its units. */
static int ca_locate_run(void *p, ca_block_t *b, uintptr_t boff, ca_obj_t *o)
{
    uint32_t u = (uint32_t)(boff >> ca_cfg.unit_shift);
    enum ca_unit_state st = ca_runs_unit(b, u);
    int aligned = ca_unit_offset(boff) == 0;
    if (st == CA_UNIT_START && aligned && ca_slot_state(p) == CA_SLOT_FREE) {
        if (b->owner != ca_tls_arena) return 1 + CA_BAD_FREED; /* another's: its state is trusted */
        ca_arena_collect(b->owner);
        if (b->kind != CA_BLOCK_RUNS || b->owner != ca_tls_arena) return 1 + CA_BAD_FREED;
        st = ca_runs_unit(b, u);
        if (st != CA_UNIT_START) return 1 + CA_BAD_FREED;
    }
    if (st == CA_UNIT_FREE) {
        if (!aligned) return 1 + CA_BAD_NOT_OURS;
        /* every free of a run object marks its state word; units never
         * handed out, or only inside an object, lack the mark */
        return 1 + (ca_slot_state(p) == CA_SLOT_FREE ? CA_BAD_FREED : CA_BAD_NEVER);
    }
    if (st == CA_UNIT_INSIDE || !aligned) return 1 + CA_BAD_INTERIOR;
    o->kind = CA_OBJ_RUN;
    o->block = b;
    o->slot = p;
    o->usable = (size_t)ca_runs_len(b, u) << ca_cfg.unit_shift;
    return 0;
}

/* A pointer into a block that is unused now (in a cache): a late second free
 * of what it held, or a pointer that was never ours. */
static enum ca_bad_pointer ca_late_free(const ca_block_t *b, uintptr_t boff)
{
    if (b->was == CA_BLOCK_CONT && b->span != 0 && (b - b->span)->kind == CA_BLOCK_FREE &&
        (b - b->span)->was == CA_BLOCK_SMALL) {
        boff += (uintptr_t)b->span << ca_cfg.block_shift; /* a slot of a medium span */
        b -= b->span;
    }
    if (b->was == CA_BLOCK_LARGE) return boff == 0 ? CA_BAD_FREED : CA_BAD_NOT_OURS;
    if (b->was == CA_BLOCK_RUNS) return ca_unit_offset(boff) == 0 ? CA_BAD_FREED : CA_BAD_NOT_OURS;
    if (b->was == CA_BLOCK_SMALL && b->slot_size != 0 && boff % b->slot_size == 0 &&
        boff < (uintptr_t)b->bump * b->slot_size)
        return CA_BAD_FREED;
    return CA_BAD_NOT_OURS;
}

/* A pointer into a chunk that held a segment or a huge mapping that is gone. */
static enum ca_bad_pointer ca_gone(const void *p, uintptr_t what)
{
    if (what == (uintptr_t)p) return CA_BAD_FREED; /* a huge object's pointer */
    uintptr_t off = (uintptr_t)p - what;
    if ((what & (ca_cfg.seg_size - 1)) == 0 && off < ca_cfg.seg_size && off >= ca_cfg.block_size &&
        (off & (ca_cfg.block_size - 1)) == 0)
        return CA_BAD_FREED; /* a large span's pointer in a segment given back */
    return CA_BAD_NOT_OURS;
}

/* 0 when `p` is a live allocation of ours, with `o` filled in; else 1 + what
 * is wrong with it (enum ca_bad_pointer). O(1) but for the confirmation of a
 * slot that looks free. */
static int ca_locate(void *p, ca_obj_t *o)
{
    uintptr_t raw = ca_registry_raw(p);
    if (raw == 0) return 1 + CA_BAD_NOT_OURS;
    if (raw & CA_REG_GONE) return 1 + ca_gone(p, raw & ~(uintptr_t)(CA_REG_GONE | CA_REG_HUGE));
    ca_hdr_t *h = (ca_hdr_t *)(raw & ~(uintptr_t)CA_REG_HUGE);
    if (h->magic == CA_MAGIC_HUGE) {
        ca_huge_t *hg = (ca_huge_t *)h;
        char *end = (char *)hg + hg->map_size;
        if (hg->user != p)
            return 1 + ((char *)p > (char *)hg->user && (char *)p < end ? CA_BAD_INTERIOR
                                                                        : CA_BAD_NOT_OURS);
        o->kind = CA_OBJ_HUGE;
        o->huge = hg;
        o->usable = (size_t)(end - (char *)p);
        return 0;
    }
    uintptr_t boff;
    ca_block_t *b = ca_block_of((ca_segment_t *)h, p, &boff);
    switch (b->kind) {
    case CA_BLOCK_SMALL:
        return ca_locate_small(p, b, boff, o);
    case CA_BLOCK_RUNS:
        return ca_locate_run(p, b, boff, o);
    case CA_BLOCK_LARGE:
        if (boff != 0) return 1 + CA_BAD_INTERIOR;
        o->kind = CA_OBJ_LARGE;
        o->block = b;
        o->usable = (size_t)b->span << ca_cfg.block_shift;
        return 0;
    case CA_BLOCK_CONT: {
        ca_block_t *head = b - b->span;
        uintptr_t from_head = boff + ((uintptr_t)b->span << ca_cfg.block_shift);
        if (head->kind == CA_BLOCK_SMALL)
            return ca_locate_small(p, head, from_head, o);                         /* medium */
        if (head->kind == CA_BLOCK_KEPT) return 1 + ca_late_free(head, from_head); /* kept span */
        return 1 + (head->kind == CA_BLOCK_LARGE ? CA_BAD_INTERIOR : CA_BAD_NOT_OURS);
    }
    case CA_BLOCK_FREE:
    case CA_BLOCK_KEPT:
        return 1 + ca_late_free(b, boff);
    default: /* a segment's header, a region's chunk */
        return 1 + CA_BAD_NOT_OURS;
    }
}

/* Another thread's slot (or a parked arena's): one atomic push on the block's
 * remote list, and the block queued on its owner when it was not already. */
ca_noinline void ca_free_remote(ca_block_t *b, void *p, uint32_t cls)
{
    ca_arena_t *owner = b->owner; /* stable while one of its slots is live */
    ca_arena_t *a = ca_tls_arena;
    if (ca_unlikely(a == &ca_arena_empty || a == &ca_arena_exited)) {
        int saved = errno; /* setting up an arena may touch errno; free must not */
        ca_ensure_init();
        a = ca_arena_enter();
        a->stats.remote_frees++;
        CA_STAT_FREE(a, cls);
        ca_arena_leave(a);
        errno = saved;
    } else {
        a->stats.remote_frees++;
        CA_STAT_FREE(a, cls);
    }
    void **q = p;
    ca_slot_set_state(q, CA_SLOT_FREE);
    /* One CAS pushes the slot, counts it and keeps the list's tail (so the
     * owner need not walk the list), and marks the block queued. */
    ca_remote_t *r = ca_block_remote(b);
    ca_segment_t *s = ca_block_segment(b);
    uintptr_t off = ca_remote_off(s, q);
    uintptr_t old = atomic_load_explicit(&r->word, memory_order_relaxed);
    uintptr_t word;
    do {
        q[0] = ca_remote_head(s, old);
        word = ca_remote_pushed(old, off);
    } while (!atomic_compare_exchange_weak_explicit(&r->word, &old, word, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (old & 1) return; /* the block is already queued on its owner */
    ca_block_t *head = atomic_load_explicit(&owner->queued, memory_order_relaxed);
    do {
        r->next_queued = head;
    } while (!atomic_compare_exchange_weak_explicit(&owner->queued, &head, b, memory_order_seq_cst,
                                                    memory_order_relaxed));
    /* An owner that allocates no more (its thread ended, or the fallback
     * arena) would not collect the frees: the purge tick does, in one pass
     * for all that arrive within the delay (ca_arenas_reclaim). Sequentially
     * consistent with the state's store when the arena parks: either this
     * sees it parked, or the parking thread sees the block queued. */
    if (atomic_load_explicit(&owner->state, memory_order_seq_cst) != CA_ARENA_ACTIVE)
        ca_arenas_owe();
}

/* Free `p` whatever it is; `call` names the entry point for messages. */
static void ca_free_any(void *p, const char *call)
{
    ca_obj_t o;
    int bad = ca_locate(p, &o);
    if (bad) {
        ca_report_bad(call, p, (enum ca_bad_pointer)(bad - 1));
        return;
    }
    if (o.kind == CA_OBJ_SMALL) {
        if (o.slot != (char *)p) /* remembered, so a second free is named as such */
            ((void **)o.slot)[2] =
                (void *)(ca_cookie(o.slot) ^ CA_SLOT_ALIGNED ^ (uintptr_t)((char *)p - o.slot));
        ca_arena_t *a = ca_tls_arena;
        if (o.block->owner == a)
            ca_free_local(a, o.block, o.slot);
        else
            ca_free_remote(o.block, o.slot, o.block->size_class);
        return;
    }
    if (o.kind == CA_OBJ_RUN) {
        ca_arena_t *a = ca_tls_arena;
        if (o.block->owner == a)
            ca_arena_runs_free(a, o.block, p);
        else
            ca_free_remote(o.block, p, ca_size_class(o.usable));
        return;
    }
    ca_ensure_init();
    ca_arena_t *a = ca_arena_enter();
    if (o.kind == CA_OBJ_LARGE)
        ca_large_free(a, o.block);
    else
        ca_huge_free(o.huge, a);
    ca_arena_leave(a);
}

/* The owner's free of a live run object of a block in the range: no
 * registry lookup. Anything else (another thread's block, a pointer that is
 * not a live object's start, one whose state word says another thread freed
 * it) is left to ca_free_any: 0. */
static int ca_free_run_owned(void *p)
{
    uintptr_t off = ca_range_offset(p);
    if (off >= ca_cfg.range_size) return 0;
    ca_block_t *b = ca_block_at(p);
    ca_arena_t *a = ca_tls_arena;
    if (b->kind != CA_BLOCK_RUNS || b->owner != a) return 0;
    uintptr_t boff = off & ca_cfg.block_off_mask;
    if (ca_unit_offset(boff) != 0) return 0;
    uint32_t u = (uint32_t)(boff >> ca_cfg.unit_shift);
    if (ca_runs_unit(b, u) != CA_UNIT_START || ca_slot_state(p) == CA_SLOT_FREE) return 0;
    ca_arena_runs_free(a, b, p);
    return 1;
}

ca_noinline void ca_free_slow(void *p)
{
    if (p == NULL) return;
    int saved = errno; /* an emptied run block's purge tick may set it; free must not */
    if (!ca_free_run_owned(p)) {
        ca_purge_tick();
        ca_free_any(p, "free");
    }
    errno = saved;
}

void ca_free(void *p)
{
    ca_free_inline(p);
}

size_t ca_usable_size_of(const void *p, const char *call)
{
    ca_obj_t o;
    int bad = ca_locate((void *)p, &o);
    if (bad) {
        ca_report_bad(call, p, (enum ca_bad_pointer)(bad - 1));
        return 0;
    }
    return o.usable;
}
