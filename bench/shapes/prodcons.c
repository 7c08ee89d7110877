/*
 * Producer/consumer: one thread allocates objects of 16-512 bytes (skewed
 * small), writes a tag into each and passes them, 64 at a time in turn, to
 * THREADS-1 consumers through single-producer rings; the consumers check the
 * tag and free. Every free is of an object another thread allocated.
 *
 * What it stresses: the remote-free path when the freeing thread never
 * allocates, and the return of that memory to the allocating thread.
 */
#include <sched.h>

#include "shape.h"

#define RING  1024 /* entries per consumer ring, a power of two */
#define BATCH 64

typedef struct {
    _Alignas(64) _Atomic unsigned long head; /* written by the producer */
    _Alignas(64) _Atomic unsigned long tail; /* written by the consumer */
    _Alignas(64) uint64_t *slot[RING];
} ring;

static ring *rings;
static int consumers;
static long count;

static void pause_a_little(unsigned *spins)
{
    if (++*spins > 64) {
        sched_yield();
        *spins = 0;
    }
}

static void *consumer(void *arg)
{
    ring *q = &rings[(intptr_t)arg];
    uint64_t sum = 0;
    unsigned long tail = 0;
    unsigned spins = 0;
    for (;;) {
        unsigned long head = atomic_load_explicit(&q->head, memory_order_acquire);
        if (head == tail) {
            pause_a_little(&spins);
            continue;
        }
        for (; tail != head; tail++) {
            uint64_t *p = q->slot[tail % RING];
            if (!p) goto done; /* the producer's end mark */
            if (p[0] != ~p[1]) shape_fail("prodcons", "an object changed on its way");
            sum += p[0];
            free(p);
        }
        atomic_store_explicit(&q->tail, tail, memory_order_release);
    }
done:
    shape_add(sum);
    return NULL;
}

static void push(ring *q, unsigned long *head, uint64_t *p)
{
    unsigned spins = 0;
    while (*head - atomic_load_explicit(&q->tail, memory_order_acquire) >= RING)
        pause_a_little(&spins);
    q->slot[*head % RING] = p;
    ++*head;
}

static void *producer(void *arg)
{
    (void)arg;
    shape_rng r;
    shape_seed(&r, 7000);
    unsigned long *heads = calloc((size_t)consumers, sizeof *heads);
    if (!heads) shape_fail("prodcons", "out of memory");
    for (long n = 0; n < count; n++) {
        int c = (int)((n / BATCH) % consumers);
        uint64_t x = shape_next(&r);
        size_t size = (x & 3) ? 16 + (size_t)((x >> 2) % 113) : 16 + (size_t)((x >> 2) % 497);
        uint64_t *p = malloc(size);
        if (!p) shape_fail("prodcons", "out of memory");
        p[0] = shape_tag(0, (uint64_t)n);
        p[1] = ~p[0];
        push(&rings[c], &heads[c], p);
        if (n % BATCH == BATCH - 1 || n == count - 1)
            atomic_store_explicit(&rings[c].head, heads[c], memory_order_release);
    }
    for (int c = 0; c < consumers; c++) {
        push(&rings[c], &heads[c], NULL);
        atomic_store_explicit(&rings[c].head, heads[c], memory_order_release);
    }
    free(heads);
    return NULL;
}

int main(int argc, char **argv)
{
    shape_args a = shape_parse(argc, argv, 2);
    if (a.threads < 2) a.threads = 2;
    consumers = a.threads - 1;
    count = shape_scaled(10000000, a.scale, 1);
    rings = aligned_alloc(64, sizeof(ring) * (size_t)consumers);
    if (!rings) shape_fail("prodcons", "out of memory");
    memset(rings, 0, sizeof(ring) * (size_t)consumers);
    pthread_t p, c[64];
    double t0 = shape_now();
    for (int i = 0; i < consumers; i++)
        if (pthread_create(&c[i], NULL, consumer, (void *)(intptr_t)i) != 0)
            shape_fail("prodcons", "pthread_create failed");
    if (pthread_create(&p, NULL, producer, NULL) != 0)
        shape_fail("prodcons", "pthread_create failed");
    pthread_join(p, NULL);
    for (int i = 0; i < consumers; i++)
        pthread_join(c[i], NULL);
    double dt = shape_now() - t0;
    free(rings);
    shape_report("prodcons", a, count, dt, atomic_load(&shape_sum));
    return 0;
}
