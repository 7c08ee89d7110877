/*
 * Layer 12. Statistics: the counting helper of large and huge objects (small
 * ones are counted inline, arena.h), totals summed from arenas and nodes, and
 * the dumps (text or JSON from one field list), async-signal-safe.
 * Uses: arena.h, segment.h, numa.h, sizeclass.h, options.h, util.h, os.h.
 */
#ifndef CA_STATS_H
#define CA_STATS_H

#include "types.h"

#include <stddef.h>

/* Count a large or huge object of `n` bytes requested, `got` handed out. */
void ca_stat_big(ca_arena_t *a, size_t n, size_t got);
/* Count a large or huge object of `got` bytes freed. */
void ca_stat_big_free(ca_arena_t *a, size_t got);
/* Dump now: waits for another thread's dump, never for this thread's own
 * (then skipped and counted). */
void ca_stats_dump(int fd, int json);
/* Dump unless another dump is being written (then skipped and counted):
 * 0 dumped, -1 another thread's, -2 this thread's own. For signal handlers. */
int ca_stats_try_dump(int fd, int json);
/* The configured destination of dumps, or -1 when the stats file's descriptor
 * was closed by the program and now means something else. */
int ca_stats_fd(void);
void ca_stats_after_fork_child(void);

#endif
