/*
 * ConcordArena core entry points: the malloc family with glibc semantics.
 * interpose/ exports them under the standard names; tests link the core
 * statically and call them directly.
 */
#ifndef CONCORD_H
#define CONCORD_H

#include <stddef.h>
#include <stdint.h>

/* Largest request served; anything bigger fails with ENOMEM. */
#define CA_MAX_REQUEST ((size_t)PTRDIFF_MAX - ((size_t)1 << 30))

void *ca_malloc(size_t n);
void ca_free(void *p);
void *ca_calloc(size_t count, size_t size);
void *ca_realloc(void *p, size_t n);
void *ca_reallocarray(void *p, size_t count, size_t size);
int ca_posix_memalign(void **out, size_t align, size_t n);
void *ca_aligned_alloc(size_t align, size_t n);
void *ca_memalign(size_t align, size_t n);
void *ca_valloc(size_t n);
void *ca_pvalloc(size_t n);
size_t ca_malloc_usable_size(const void *p);

/* Give cached blocks and empty segments back to the OS (malloc_trim). */
void ca_trim(void);
/* Pointers passed to free/realloc/malloc_usable_size that were not ours. */
uint64_t ca_invalid_pointer_count(void);

/* Statistics, summed over every arena (see stats.c for the fields). */
typedef struct ca_totals_s {
    uint64_t allocs;             /* allocations */
    uint64_t frees;              /* frees */
    uint64_t remote_frees;       /* frees by a thread other than the owner's */
    uint64_t req_bytes;          /* bytes requested, cumulative */
    uint64_t slot_bytes;         /* bytes handed out, cumulative */
    int64_t in_use;              /* bytes handed out now */
    int64_t peak;                /* bytes: sum of each arena's peak */
    uint64_t size_buckets[16];   /* allocations by size: <=16, <=32, ... <=256K, more */
    uint64_t align_buckets[8];   /* aligned requests: <=32, <=64, ... <=2K, more */
    uint64_t blocks_fresh;       /* blocks taken never used before */
    uint64_t blocks_reused;      /* blocks taken from a cache */
    uint64_t segments_mapped;    /* segments mapped in all */
    uint64_t segments_unmapped;  /* segments given back */
    uint64_t blocks_cached;      /* blocks in node caches now */
    uint64_t mapped_bytes;       /* bytes in segments mapped now */
    uint64_t blocks_decommitted; /* blocks whose pages went back to the OS, in all */
    uint64_t huge_maps;          /* huge mappings made */
    uint32_t arenas;             /* arenas made */
    uint32_t block_size;         /* bytes per block */
} ca_totals_t;
void ca_stats_totals(ca_totals_t *t);
/* Write the statistics to `fd` as text or JSON; async-signal-safe. */
void ca_stats_dump(int fd, int json);
/* Dumps skipped because another was being written (by this thread, when a
 * signal or exit() interrupted it, or by another thread for a signal dump). */
uint64_t ca_stats_dumps_skipped(void);
/* Zero every counter (the caller makes sure no other thread allocates). */
void ca_stats_reset(void);
/* Home NUMA node of the calling thread's arena, or -1 before its first call. */
int ca_thread_node(void);

/* Signal dispositions with glibc's semantics, except that the statistics
 * signal answers SIG_DFL while the library's handler stands on it (signal.c). */
struct sigaction;
typedef void (*ca_sighandler_t)(int);
int ca_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
ca_sighandler_t ca_signal_bsd(int sig, ca_sighandler_t handler);  /* signal, bsd_signal */
ca_sighandler_t ca_signal_sysv(int sig, ca_sighandler_t handler); /* sysv_signal */
ca_sighandler_t ca_sigset(int sig, ca_sighandler_t disp);
int ca_sigignore(int sig);
int ca_siginterrupt(int sig, int interrupt);

#endif
