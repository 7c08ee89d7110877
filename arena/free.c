/*
 * Freeing: the owner's local push is inline (internal.h); here are the remote
 * push, aligned and large and huge objects, pointers that are not ours, and
 * double frees.
 */
#include "concord.h"
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

static _Atomic uint64_t ca_invalid_count;
static _Atomic int ca_invalid_reported;

uint64_t ca_invalid_pointer_count(void)
{
    return atomic_load_explicit(&ca_invalid_count, memory_order_relaxed);
}

/* `p` as "0x..." text in `mem`. */
static const char *ca_pointer_text(char mem[24], const void *p)
{
    ca_buf_t b;
    ca_buf_init(&b, mem, 23, -1);
    ca_buf_hex(&b, (uintptr_t)p);
    mem[b.len] = '\0';
    return mem;
}

void ca_report_invalid(const char *call, const void *p)
{
    atomic_fetch_add_explicit(&ca_invalid_count, 1, memory_order_relaxed);
    if (ca_cfg.abort_on_error || !atomic_exchange(&ca_invalid_reported, 1)) {
        char mem[24];
        ca_pointer_text(mem, p);
        if (ca_cfg.abort_on_error) {
            ca_message(call, "(): invalid pointer ", mem,
                       " (not allocated here); aborting (CONCORD_ARENA_ABORT_ON_ERROR=1)", NULL);
            abort();
        }
        ca_message(call, "(): invalid pointer ", mem,
                   " (not allocated here); left alone. Further ones are counted, not reported.",
                   NULL);
    }
}

_Noreturn void ca_report_double_free(const char *call, const void *p)
{
    char mem[24];
    ca_message(call, "(): double free of ", ca_pointer_text(mem, p), "; aborting", NULL);
    abort();
}

/* Is `p` on its block's local free list? Walks the list: only used to confirm
 * a cookie match before aborting. */
static int ca_on_local_list(const ca_block_t *b, const void *p)
{
    uint32_t guard = b->capacity + 1;
    for (void **q = b->free; q != NULL && guard-- > 0; q = (void **)q[0])
        if (q == p) return 1;
    return 0;
}

/* Another thread's slot (or a parked arena's): one atomic push on the block's
 * remote list, and the block queued on its owner when it was not already. */
ca_noinline void ca_free_remote(ca_block_t *b, void *p)
{
    ca_arena_t *owner = b->owner; /* stable while one of its slots is live */
    ca_arena_t *a = ca_tls_arena;
    if (ca_unlikely(a == &ca_arena_empty || a == &ca_arena_exited)) {
        int saved = errno; /* setting up an arena may touch errno; free must not */
        a = ca_arena_enter();
        a->stats.remote_frees++;
        CA_STAT_FREE(a, b->size_class, b->slot_size);
        ca_arena_leave(a);
        errno = saved;
    } else {
        a->stats.remote_frees++;
        CA_STAT_FREE(a, b->size_class, b->slot_size);
    }
    void **q = p;
    q[1] = (void *)ca_cookie(p);
    /* One CAS pushes the slot, counts it (so the owner need not walk the list)
     * and marks the block queued. */
    uintptr_t old = atomic_load_explicit(&b->remote, memory_order_relaxed);
    uintptr_t word;
    do {
        q[0] = ca_remote_list(old);
        uintptr_t count = old >> CA_REMOTE_SHIFT;
        if (count != CA_REMOTE_MANY) count++;
        word = (uintptr_t)q | (count << CA_REMOTE_SHIFT) | 1;
    } while (!atomic_compare_exchange_weak_explicit(&b->remote, &old, word, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (old & 1) return; /* the block is already queued on its owner */
    ca_block_t *head = atomic_load_explicit(&owner->queued, memory_order_relaxed);
    do {
        b->next_queued = head;
    } while (!atomic_compare_exchange_weak_explicit(&owner->queued, &head, b, memory_order_release,
                                                    memory_order_relaxed));
}

/* Free `p` whatever it is; `call` names the entry point for messages. */
static void ca_free_any(void *p, const char *call)
{
    ca_hdr_t *h = ca_registry_lookup(p);
    if (h == NULL) {
        ca_report_invalid(call, p);
        return;
    }
    if (h->magic == CA_MAGIC_HUGE) {
        ca_huge_t *hg = (ca_huge_t *)h;
        if (hg->user != p) {
            ca_report_invalid(call, p);
            return;
        }
        ca_arena_t *a = ca_arena_enter();
        ca_huge_free(hg, a);
        ca_arena_leave(a);
        return;
    }
    ca_segment_t *s = (ca_segment_t *)h;
    uintptr_t off = (uintptr_t)p - (uintptr_t)s;
    ca_block_t *b = &s->blocks[off >> ca_cfg.block_shift];
    uintptr_t boff = off & (ca_cfg.block_size - 1);
    switch (b->kind) {
    case CA_BLOCK_SMALL: {
        if (boff >= b->limit) break;
        uintptr_t rem = boff % b->slot_size;
        if (rem != 0) {
            if (!b->aligned) break;
            p = (char *)p - rem;
        }
        ca_arena_t *a = ca_tls_arena;
        if (((void **)p)[1] == (void *)ca_cookie(p)) {
            /* Looks freed. Confirm: for our own block, bring in the remote
             * frees first, then look for it on the local list. */
            if (b->owner != a) ca_report_double_free(call, p);
            ca_arena_collect(a);
            if (b->kind != CA_BLOCK_SMALL || b->owner != a || ca_on_local_list(b, p))
                ca_report_double_free(call, p);
        }
        if (b->owner == a)
            ca_free_local(a, b, p);
        else
            ca_free_remote(b, p);
        return;
    }
    case CA_BLOCK_LARGE:
        if (boff != 0) break;
        {
            ca_arena_t *a = ca_arena_enter();
            ca_large_free(a, b);
            ca_arena_leave(a);
        }
        return;
    case CA_BLOCK_FREE:
    case CA_BLOCK_ARENA:
        /* Every slot of an empty block was freed: a pointer that was handed
         * out from it is freed twice. */
        if (boff == 0) ca_report_double_free(call, p);
        break;
    default:
        break;
    }
    ca_report_invalid(call, p);
}

ca_noinline void ca_free_slow(void *p)
{
    if (p == NULL) return;
    int saved = errno;
    ca_free_any(p, "free");
    errno = saved;
}

void ca_free(void *p)
{
    ca_free_inline(p);
}

size_t ca_usable_size_of(const void *p, const char *call)
{
    ca_hdr_t *h = ca_registry_lookup(p);
    if (h == NULL) goto invalid;
    if (h->magic == CA_MAGIC_HUGE) {
        ca_huge_t *hg = (ca_huge_t *)h;
        if (hg->user != p) goto invalid;
        return (size_t)((char *)hg + hg->map_size - (char *)p);
    }
    ca_segment_t *s = (ca_segment_t *)h;
    uintptr_t off = (uintptr_t)p - (uintptr_t)s;
    ca_block_t *b = &s->blocks[off >> ca_cfg.block_shift];
    uintptr_t boff = off & (ca_cfg.block_size - 1);
    if (b->kind == CA_BLOCK_SMALL && boff < b->limit) {
        uintptr_t rem = boff % b->slot_size;
        if (rem == 0 || b->aligned) return b->slot_size - rem;
    } else if (b->kind == CA_BLOCK_LARGE && boff == 0) {
        return (size_t)b->span << ca_cfg.block_shift;
    }
invalid:
    ca_report_invalid(call, p);
    return 0;
}
