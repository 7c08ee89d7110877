/*
 * Server simulation: each of THREADS lanes keeps an array of 4,000 objects of
 * 8-1000 bytes (uniform) and replaces random entries, ROUNDS times per
 * generation; then a new thread takes over the whole array and goes on
 * replacing, so the objects of the old thread are freed by the new one
 * (cross-thread frees), and the old thread exits (thread churn). The lanes
 * run side by side; the last generation frees what is left.
 *
 * What it stresses: frees of another (often exited) thread's objects and the
 * cost of thread start and exit.
 *
 * server_sized.c builds the same program over C++'s operator new and sized
 * operator delete (SHAPE_NEW, SHAPE_DELETE, SHAPE_NAME).
 */
#include "shape.h"

#ifndef SHAPE_NEW
#define SHAPE_NEW(n)       malloc(n)
#define SHAPE_DELETE(p, n) free(p)
#define SHAPE_NAME         "server"
#endif

#define OBJECTS 4000

typedef struct {
    unsigned char *p[OBJECTS];
    size_t size[OBJECTS];
    uint64_t tag[OBJECTS];
    shape_rng r;
    uint64_t lane, serial, sum;
} lane_state;

static long generations, rounds;

static void put(lane_state *l, int i)
{
    size_t n = shape_range(&l->r, 8, 1000);
    uint64_t tag = shape_tag(l->lane, l->serial++);
    unsigned char *p = SHAPE_NEW(n);
    if (!p) shape_fail(SHAPE_NAME, "out of memory");
    memcpy(p, &tag, 8);
    if (n > 8) p[n - 1] = (unsigned char)(tag >> 8);
    l->p[i] = p;
    l->size[i] = n;
    l->tag[i] = tag;
}

static void take(lane_state *l, int i)
{
    uint64_t tag;
    size_t n = l->size[i];
    memcpy(&tag, l->p[i], 8);
    if (tag != l->tag[i] || (n > 8 && l->p[i][n - 1] != (unsigned char)(tag >> 8)))
        shape_fail(SHAPE_NAME, "an object changed under its owner");
    l->sum += tag;
    SHAPE_DELETE(l->p[i], n);
}

static void *generation(void *arg)
{
    lane_state *l = arg;
    for (long k = 0; k < rounds; k++) {
        int i = (int)shape_range(&l->r, 0, OBJECTS - 1);
        take(l, i);
        put(l, i);
    }
    return NULL;
}

static void *lane_main(void *arg)
{
    lane_state *l = malloc(sizeof *l);
    if (!l) shape_fail(SHAPE_NAME, "out of memory");
    l->lane = (uint64_t)(intptr_t)arg;
    l->serial = l->sum = 0;
    shape_seed(&l->r, 3000 + l->lane);
    for (int i = 0; i < OBJECTS; i++)
        put(l, i);
    for (long g = 0; g < generations; g++) {
        pthread_t t;
        if (pthread_create(&t, NULL, generation, l) != 0)
            shape_fail(SHAPE_NAME, "pthread_create failed");
        pthread_join(t, NULL);
    }
    for (int i = 0; i < OBJECTS; i++)
        take(l, i);
    shape_add(l->sum);
    free(l);
    return NULL;
}

int main(int argc, char **argv)
{
    shape_args a = shape_parse(argc, argv, 2);
    generations = shape_scaled(800, a.scale, 2);
    rounds = 10000;
    double dt = shape_run_threads(lane_main, a.threads);
    shape_report(SHAPE_NAME, a, generations * rounds * a.threads, dt, atomic_load(&shape_sum));
    return 0;
}
