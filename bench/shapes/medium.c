/*
 * Medium objects mixed with small ones: each thread keeps 96 live objects of
 * 16 KiB-2 MiB (log-uniform: as many near 16 KiB as near 2 MiB) and 4,096
 * small ones of 16-512 bytes, and replaces one at random, a medium one every
 * eighth time. The program writes one byte per 4 KiB page of every medium
 * object (so all its pages are resident) and every byte of a small one.
 *
 * What it shows: peak RSS against the bytes asked for. An allocator that
 * rounds medium sizes up to coarse blocks holds, and touches, more.
 */
#include "shape.h"

#define MEDIUM 96
#define SMALL  4096
#define PAGE   4096

static long count;

static uint64_t fill(unsigned char *p, size_t size, uint64_t tag, int paged)
{
    if (!paged) {
        memset(p, (int)(tag & 0xff), size);
        return (unsigned char)tag;
    }
    uint64_t sum = 0;
    for (size_t off = 0; off + 1 < size; off += PAGE) {
        p[off] = (unsigned char)(tag + off / PAGE);
        sum += p[off];
    }
    p[size - 1] = (unsigned char)tag;
    return sum + p[size - 1];
}

static uint64_t check(const unsigned char *p, size_t size, uint64_t tag, int paged)
{
    if (!paged) {
        if (p[0] != (unsigned char)tag || p[size - 1] != (unsigned char)tag ||
            p[size / 2] != (unsigned char)tag)
            shape_fail("medium", "a small object changed under its owner");
        return (unsigned char)tag;
    }
    uint64_t sum = 0;
    for (size_t off = 0; off + 1 < size; off += PAGE) {
        if (p[off] != (unsigned char)(tag + off / PAGE))
            shape_fail("medium", "a medium object changed under its owner");
        sum += p[off];
    }
    if (p[size - 1] != (unsigned char)tag) shape_fail("medium", "a last byte changed");
    return sum + p[size - 1];
}

typedef struct {
    unsigned char *p;
    size_t size;
    uint64_t tag;
} slot;

static void *worker(void *arg)
{
    uint64_t lane = (uint64_t)(intptr_t)arg;
    shape_rng r;
    shape_seed(&r, 2000 + lane);
    static _Thread_local slot med[MEDIUM], small[SMALL];
    uint64_t sum = 0, serial = 0;
    for (int i = 0; i < MEDIUM + SMALL; i++) {
        int paged = i < MEDIUM;
        slot *s = paged ? &med[i] : &small[i - MEDIUM];
        s->size = paged ? shape_log_uniform(&r, 16 << 10, 2 << 20) : shape_range(&r, 16, 512);
        s->tag = shape_tag(lane, serial++);
        if (!(s->p = malloc(s->size))) shape_fail("medium", "out of memory");
        sum += fill(s->p, s->size, s->tag, paged);
    }
    for (long n = 0; n < count; n++) {
        int paged = (n & 7) == 0;
        slot *s =
            paged ? &med[shape_range(&r, 0, MEDIUM - 1)] : &small[shape_range(&r, 0, SMALL - 1)];
        sum += check(s->p, s->size, s->tag, paged);
        free(s->p);
        s->size = paged ? shape_log_uniform(&r, 16 << 10, 2 << 20) : shape_range(&r, 16, 512);
        s->tag = shape_tag(lane, serial++);
        if (!(s->p = malloc(s->size))) shape_fail("medium", "out of memory");
        sum += fill(s->p, s->size, s->tag, paged);
    }
    for (int i = 0; i < MEDIUM + SMALL; i++) {
        int paged = i < MEDIUM;
        slot *s = paged ? &med[i] : &small[i - MEDIUM];
        sum += check(s->p, s->size, s->tag, paged);
        free(s->p);
    }
    shape_add(sum);
    return NULL;
}

int main(int argc, char **argv)
{
    shape_args a = shape_parse(argc, argv, 2);
    count = shape_scaled(400000, a.scale, 1);
    double dt = shape_run_threads(worker, a.threads);
    shape_report("medium", a, count * a.threads, dt, atomic_load(&shape_sum));
    return 0;
}
