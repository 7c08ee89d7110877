/*
 * Layer 2. The configuration (ca_cfg), fixed once ca_options_load has run,
 * and the options table that fills it from the environment.
 * Uses: util.h, os.h.
 */
#ifndef CA_OPTIONS_H
#define CA_OPTIONS_H

#include "types.h"

#include <stddef.h>
#include <stdint.h>

#ifndef CA_STATS
#define CA_STATS 1
#endif

typedef struct ca_config_s {
    size_t block_size;         /* bytes per block, power of two */
    unsigned block_shift;      /* log2(block_size) */
    size_t seg_size;           /* bytes per segment: CA_SEG_BLOCKS * block_size */
    unsigned seg_shift;        /* log2(seg_size) */
    uintptr_t seg_base_mask;   /* ~(seg_size - 1): a pointer & this is its segment */
    uintptr_t block_off_mask;  /* block_size - 1: a segment offset & this is its block offset */
    size_t small_max;          /* bytes: largest small class (block_size / 4) */
    size_t runs_min;           /* bytes: classes above this, up to small_max, are runs
                                  (block_size / 32) */
    unsigned unit_shift;       /* log2 of a run block's unit (block_size / CA_RUN_UNITS) */
    size_t large_max;          /* bytes: largest medium class (half a segment); past it, huge */
    unsigned nclasses;         /* small and medium classes, index 1..nclasses */
    uint32_t cache_blocks;     /* blocks per node cache */
    int numa_node;             /* -1: node of the thread's CPU */
    int numa_bind;             /* 1: bind segments with mbind */
    int stats_signal;          /* 0: no signal dump */
    int stats_fd;              /* where dumps go */
    int stats_fd_is_stderr;    /* 1: stats_fd is our copy of the starting stderr */
    uint64_t stats_dev;        /* st_dev of the stats file when it was opened, 0 for stderr */
    uint64_t stats_ino;        /* st_ino of the stats file when it was opened */
    int stats_json;            /* 1: JSON dumps */
    int stats_at_exit;         /* 1: dump at exit */
    int verbose;               /* 1: print options at start */
    int background_purge;      /* 1: a thread purges idle cached blocks */
    int abort_on_error;        /* 1: abort on a bad pointer; 0: report it, leave it alone */
    uintptr_t secret;          /* random, for free-slot cookies */
    uintptr_t range_base;      /* the segment range (segment.c): its first slot */
    uintptr_t range_size;      /* its bytes, every one readable; 0 before start-up (every free
                                  goes slow) */
    uintptr_t fast_range_size; /* range_size when the block size is the default, whose
                                  geometry the free fast path has as constants; else 0 (free
                                  then takes its second inline path, which reads the
                                  geometry here) */
} ca_config_t;

/* Valid before start-up too (the defaults): a free() of a foreign pointer
 * before any malloc looks it up with these. */
extern ca_config_t ca_cfg;

/* Read every option from the environment (one message per bad value), then
 * derive the sizes that follow from the block size. */
void ca_options_load(void);
/* Every option's value in force, one line each, on stderr. */
void ca_options_print(void);
int ca_parse_size(const char *s, size_t *out);
int ca_parse_signal(const char *s, int *out);

#endif
