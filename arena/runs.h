/*
 * Layer 9. Run blocks: one block shared by the size classes above
 * block_size / 32 (2 KiB at the default 64 KiB block) up to small_max. An
 * object is a run of units (CA_RUN_UNITS to a block, each block_size /
 * CA_RUN_UNITS bytes: every such class is a whole number of them), placed at
 * the next free place that fits (next fit, wrapping around the block): what
 * an object of one class frees, one of another class reuses, so a program's
 * rarely used sizes share their pages instead of holding a block each at
 * every class's own high-water mark. The map (which units are in use, where
 * objects start) lives in the segment header. Only the owning arena calls
 * these.
 * Uses: segment.h, options.h, util.h.
 */
#ifndef CA_RUNS_H
#define CA_RUNS_H

#include "options.h"
#include "segment.h"
#include "types.h"

#include <stdint.h>

static inline ca_runmap_t *ca_runmap(const ca_block_t *b)
{
    return &ca_block_segment(b)->runs[ca_block_index(b)];
}

/* Is class size `size` served by run blocks? */
static inline int ca_runs_serve(size_t size)
{
    return size > ca_cfg.runs_min && size <= ca_cfg.small_max;
}

/* Bytes `boff` lies past the start of its unit (0: it starts one). */
static inline uintptr_t ca_unit_offset(uintptr_t boff)
{
    return boff & (((uintptr_t)1 << ca_cfg.unit_shift) - 1);
}

/* The unit of run block `b` that `p` (inside it) lies in. */
static inline uint32_t ca_runs_unit_of(const ca_block_t *b, const void *p)
{
    return (uint32_t)(((const char *)p - ca_block_start(b)) >> ca_cfg.unit_shift);
}

/* Make `b` an empty run block (its map cleared). */
void ca_runs_init(ca_block_t *b);
/* Take `k` free units of `b` that start at a multiple of `step` (a power of
 * two), the first such after the last object placed (wrapping around), marked
 * as one object: its first unit, or -1. */
int ca_runs_take(ca_block_t *b, uint32_t k, uint32_t step);
/* Units of the object that starts at unit `u`. */
uint32_t ca_runs_len(const ca_block_t *b, uint32_t u);
/* Free the object that starts at unit `u`: its units, which it returns. */
uint32_t ca_runs_release(ca_block_t *b, uint32_t u);

/* What unit `u` of `b` holds. */
enum ca_unit_state { CA_UNIT_FREE, CA_UNIT_START, CA_UNIT_INSIDE };
enum ca_unit_state ca_runs_unit(const ca_block_t *b, uint32_t u);

#endif
