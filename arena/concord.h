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

/* Statistics, summed over every arena and node. One list makes the struct
 * and both dump formats: name, C type, in the brief per-arena text line (1),
 * label in text dumps. The JSON key is the name. */
#define CA_TOTAL_FIELDS(X)                                                                         \
    X(allocs, uint64_t, 1, "allocations")                                                          \
    X(frees, uint64_t, 1, "frees")                                                                 \
    X(remote_frees, uint64_t, 1, "frees from another thread")                                      \
    X(req_bytes, uint64_t, 0, "bytes requested")                                                   \
    X(slot_bytes, uint64_t, 0, "bytes handed out (slots, spans, mappings)")                        \
    X(in_use, int64_t, 1, "bytes in use now")                                                      \
    X(peak, int64_t, 1, "peak bytes in use")                                                       \
    X(blocks_fresh, uint64_t, 0, "blocks taken fresh")                                             \
    X(blocks_reused, uint64_t, 0, "blocks reused from a cache")                                    \
    X(segments_mapped, uint64_t, 0, "segments mapped")                                             \
    X(segments_unmapped, uint64_t, 0, "segments returned to the OS")                               \
    X(blocks_cached, uint64_t, 0, "blocks in node caches now")                                     \
    X(mapped_bytes, uint64_t, 0, "bytes in mapped segments now")                                   \
    X(blocks_decommitted, uint64_t, 0, "blocks given back to the OS (madvise)")                    \
    X(pages_elsewhere, uint64_t, 0, "pages on another node (spilled)")                             \
    X(huge_maps, uint64_t, 0, "huge objects mapped with no cached page")                           \
    X(huge_reused, uint64_t, 0, "huge objects filled with cached pages")                           \
    X(huge_cached_bytes, uint64_t, 0, "bytes of huge objects' pages cached now")

typedef struct ca_totals_s {
#define CA_TOTALS_MEMBER(name, type, brief, label) type name;
    CA_TOTAL_FIELDS(CA_TOTALS_MEMBER)
#undef CA_TOTALS_MEMBER
    uint64_t size_buckets[16]; /* allocations by size: <=16, <=32, ... <=256K, more */
    uint64_t align_buckets[8]; /* aligned requests: <=32, <=64, ... <=2K, more */
    uint32_t arenas;           /* arenas made */
    uint32_t block_size;       /* bytes per block */
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
