/*
 * Large buffers: 20 live buffers of 5-25 MiB; one, picked at random, is
 * freed and replaced, COUNT times; the program zero-fills every new buffer
 * (as a caller of malloc+memset would) and marks one byte per MiB.
 *
 * What it stresses: reuse of huge objects. An allocator that maps and unmaps
 * every one of them pays the page faults of 5-25 MiB per replacement.
 */
#include "shape.h"

#define LIVE 20
#define MIB  ((size_t)1 << 20)

static long count;

static uint64_t mark(unsigned char *p, size_t size, uint64_t tag)
{
    uint64_t sum = 0;
    for (size_t off = 0; off + 2 < size; off += MIB) {
        p[off] = (unsigned char)(tag + off / MIB);
        sum += p[off];
    }
    p[size - 1] = (unsigned char)tag;
    return sum + p[size - 1];
}

static uint64_t check(const unsigned char *p, size_t size, uint64_t tag)
{
    uint64_t sum = 0;
    for (size_t off = 0; off + 2 < size; off += MIB) {
        if (p[off] != (unsigned char)(tag + off / MIB) || p[off + 1] != 0)
            shape_fail("large", "a buffer changed under its owner");
        sum += p[off];
    }
    if (p[size - 1] != (unsigned char)tag) shape_fail("large", "a buffer's last byte changed");
    return sum + p[size - 1];
}

static void *worker(void *arg)
{
    uint64_t lane = (uint64_t)(intptr_t)arg;
    shape_rng r;
    shape_seed(&r, 1000 + lane);
    unsigned char *buf[LIVE];
    size_t size[LIVE];
    uint64_t tag[LIVE], sum = 0;
    for (int i = 0; i < LIVE; i++) {
        size[i] = shape_range(&r, 5 * MIB, 25 * MIB);
        tag[i] = shape_tag(lane, (uint64_t)i);
        buf[i] = malloc(size[i]);
        if (!buf[i]) shape_fail("large", "out of memory");
        memset(buf[i], 0, size[i]);
        sum += mark(buf[i], size[i], tag[i]);
    }
    for (long n = 0; n < count; n++) {
        int i = (int)shape_range(&r, 0, LIVE - 1);
        sum += check(buf[i], size[i], tag[i]);
        free(buf[i]);
        size[i] = shape_range(&r, 5 * MIB, 25 * MIB);
        tag[i] = shape_tag(lane, (uint64_t)(LIVE + n));
        buf[i] = malloc(size[i]);
        if (!buf[i]) shape_fail("large", "out of memory");
        memset(buf[i], 0, size[i]);
        sum += mark(buf[i], size[i], tag[i]);
    }
    for (int i = 0; i < LIVE; i++) {
        sum += check(buf[i], size[i], tag[i]);
        free(buf[i]);
    }
    shape_add(sum);
    return NULL;
}

int main(int argc, char **argv)
{
    shape_args a = shape_parse(argc, argv, 1);
    count = shape_scaled(200, a.scale, 1);
    double dt = shape_run_threads(worker, a.threads);
    shape_report("large", a, count * a.threads, dt, atomic_load(&shape_sum));
    return 0;
}
