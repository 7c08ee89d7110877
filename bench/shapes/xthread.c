/*
 * Random cross-thread traffic: each thread allocates objects of 16 B-16 KiB
 * (inverse-square sizes: mostly small), keeps the last 2,000 in a window, and
 * when one leaves the window frees it itself, or, one time in four, hands it
 * to the next thread's mailbox; every 64 allocations a thread frees what its
 * mailbox holds. A thread frees its object itself instead of handing it over
 * when the peer's mailbox already holds MAILBOX objects (the peer is not
 * running) or the peer's loop has ended (it drains no more): the live objects
 * are the windows and at most MAILBOX per mailbox, however the threads are
 * scheduled, so peak memory measures the allocator and not the scheduler.
 * What is left in the mailboxes at the end (objects handed over in the
 * instant a thread finished), the main thread frees.
 *
 * What it stresses: remote frees mixed with local ones on a busy thread.
 */
#include "shape.h"

#define WINDOW  2000
#define SHARE   4    /* one free in SHARE goes to another thread */
#define MAILBOX 1024 /* objects a mailbox holds at most (a drain is due every 16) */

typedef struct obj {
    struct obj *next; /* mailbox link, once handed over */
    uint64_t tag;
    size_t size;
} obj;

/* one cache line a lane */
static struct {
    _Alignas(64) _Atomic(obj *) head;
    _Atomic long held;    /* objects handed over and not yet drained (about) */
    _Atomic int finished; /* the lane's loop has ended */
} mailbox[64];
static long count;
static int nthreads;

static uint64_t release(obj *o)
{
    unsigned char *b = (unsigned char *)o;
    uint64_t tag = o->tag;
    if (o->size > sizeof(obj) && b[o->size - 1] != (unsigned char)(tag >> 16))
        shape_fail("xthread", "an object changed under its owner");
    free(o);
    return tag;
}

static uint64_t drain(int lane)
{
    uint64_t sum = 0;
    obj *o = atomic_exchange_explicit(&mailbox[lane].head, NULL, memory_order_acquire);
    long n = 0;
    while (o) {
        obj *next = o->next;
        sum += release(o);
        o = next;
        n++;
    }
    if (n) atomic_fetch_sub_explicit(&mailbox[lane].held, n, memory_order_relaxed);
    return sum;
}

static void *worker(void *arg)
{
    int lane = (int)(intptr_t)arg;
    int peer = (lane + 1) % nthreads;
    shape_rng r;
    shape_seed(&r, 4000 + (uint64_t)lane);
    obj **window = calloc(WINDOW, sizeof *window);
    if (!window) shape_fail("xthread", "out of memory");
    uint64_t sum = 0;
    for (long n = 0; n < count; n++) {
        size_t size = shape_inverse_square(&r, 16, 16384);
        if (size < sizeof(obj)) size = sizeof(obj);
        obj *o = malloc(size);
        if (!o) shape_fail("xthread", "out of memory");
        o->next = NULL;
        o->tag = shape_tag((uint64_t)lane, (uint64_t)n);
        o->size = size;
        if (size > sizeof(obj)) ((unsigned char *)o)[size - 1] = (unsigned char)(o->tag >> 16);
        obj **slot = &window[n % WINDOW];
        if (*slot) {
            obj *old = *slot;
            if (shape_next(&r) % SHARE == 0 &&
                !atomic_load_explicit(&mailbox[peer].finished, memory_order_relaxed) &&
                atomic_load_explicit(&mailbox[peer].held, memory_order_relaxed) < MAILBOX) {
                old->next = atomic_load_explicit(&mailbox[peer].head, memory_order_relaxed);
                while (!atomic_compare_exchange_weak_explicit(&mailbox[peer].head, &old->next, old,
                                                              memory_order_release,
                                                              memory_order_relaxed)) {
                }
                atomic_fetch_add_explicit(&mailbox[peer].held, 1, memory_order_relaxed);
            } else {
                sum += release(old);
            }
        }
        *slot = o;
        if ((n & 63) == 63) sum += drain(lane);
    }
    atomic_store_explicit(&mailbox[lane].finished, 1, memory_order_relaxed);
    sum += drain(lane);
    for (int i = 0; i < WINDOW; i++)
        if (window[i]) sum += release(window[i]);
    free(window);
    shape_add(sum);
    return NULL;
}

int main(int argc, char **argv)
{
    shape_args a = shape_parse(argc, argv, 2);
    nthreads = a.threads;
    count = shape_scaled(4000000, a.scale, 1);
    double t0 = shape_now();
    shape_run_threads(worker, a.threads);
    for (int i = 0; i < a.threads; i++)
        shape_add(drain(i));
    double dt = shape_now() - t0;
    shape_report("xthread", a, count * a.threads, dt, atomic_load(&shape_sum));
    return 0;
}
