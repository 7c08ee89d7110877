/*
 * How far the kernel's record of peak RSS can fall short of the real peak.
 *
 * A thread allocates and writes OBJECTS small objects, reads its process's
 * peak resident set (VmHWM in /proc/self/status: the larger of the kernel's
 * record and the exact resident set now) while they are all live, frees
 * them and ends. After the join the program reads the peak again (VmHWM,
 * and ru_maxrss, which `measure` reports) and prints:
 *
 *     rss_lag seen_kib=K hwm_kib=K maxrss_kib=K lag_kib=K
 *
 * lag_kib = seen - maxrss: how much of a peak already seen the record
 * misses (a high-water mark should never go down). The kernel updates its
 * record only when the resident set is about to shrink (madvise, munmap,
 * exit), from per-CPU counters that it sums lazily, so pages faulted in
 * shortly before an allocator gives memory back can be left out of it (up
 * to a batch of pages per CPU). An allocator that gives memory back when a
 * thread ends gets a smaller figure than one that keeps it, for the same
 * peak. Run it under each allocator:
 *
 *     LD_PRELOAD=LIB build/bench/shapes/rss_lag
 */
#include "proc_status.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define OBJECTS 20000

/* A "Vm...:" field of /proc/self/status in KiB, or -1. */
static long status_kib(const char *field)
{
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    long kib = proc_status_kib(fd, field);
    close(fd);
    return kib;
}

static long seen;

static void *worker(void *arg)
{
    (void)arg;
    static void *p[OBJECTS];
    for (int i = 0; i < OBJECTS; i++) {
        if (!(p[i] = malloc(16 + (size_t)(i * 37) % 500))) return NULL;
        memset(p[i], 1, 16);
    }
    seen = status_kib("VmHWM:");
    for (int i = 0; i < OBJECTS; i++)
        free(p[i]);
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0 || pthread_join(t, NULL) != 0) return 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long hwm = status_kib("VmHWM:");
    if (seen <= 0 || hwm <= 0) return 1;
    printf("rss_lag seen_kib=%ld hwm_kib=%ld maxrss_kib=%ld lag_kib=%ld\n", seen, hwm, ru.ru_maxrss,
           seen - ru.ru_maxrss);
    return 0;
}
