/*
 * Layer 3. Size classes (16-byte steps to 128 bytes, then 8 per doubling, so
 * rounding wastes at most 12.5%) for small objects (slots of one block) and
 * medium ones (slots of a span of blocks), and the statistics' size and
 * alignment buckets.
 * Uses: options.h.
 */
#ifndef CA_SIZECLASS_H
#define CA_SIZECLASS_H

#include "options.h"
#include "util.h"

#include <stddef.h>
#include <stdint.h>

extern uint32_t ca_class_size[CA_MAX_CLASSES];  /* bytes per slot of each class */
extern uint8_t ca_class_blocks[CA_MAX_CLASSES]; /* blocks of a span of that class: 1 for
                                                   small classes, more for medium ones */
extern uint8_t ca_class_table[CA_TINY_TABLE];   /* ca_tiny_index(size) -> class, sizes <= 1024 */
/* The entries of ca_class_table holding class c: [ca_class_direct[c], ca_class_direct[c + 1])
 * for the classes of sizes <= 1024, empty for the others. */
extern uint8_t ca_class_direct[CA_MAX_CLASSES + 1];

/* Fill the tables for the block size: small classes up to a quarter block,
 * medium classes up to half a segment, each in a span of blocks that holds
 * a few of its slots (ca_cfg.nclasses: every class). */
void ca_classes_init(void);

/* Class of a size past 128 bytes: 8 classes per doubling. */
static inline uint32_t ca_class_geometric(size_t n)
{
    unsigned b = 63u - (unsigned)__builtin_clzl(n - 1); /* 2^b < n <= 2^(b+1) */
    return 8u + (b - 7u) * 8u + (uint32_t)(((n - 1 - ((size_t)1 << b)) >> (b - 3u)) + 1u);
}

/* The entry of the size table (ca_class_table, an arena's direct blocks and
 * the malloc fast path's counts) for a size of at most 1024 bytes. */
static inline size_t ca_tiny_index(size_t n)
{
    return (n + 15) >> 4;
}

static inline uint32_t ca_size_class(size_t n)
{
    if (ca_likely(n <= 1024)) return ca_class_table[ca_tiny_index(n)];
    return ca_class_geometric(n);
}

/* Statistics buckets: sizes <=16, <=32, ... <=256K, more; alignments <=32,
 * <=64, ... <=2K, more. */
int ca_size_bucket(size_t n);
int ca_align_bucket(size_t align);
const char *ca_size_bucket_name(int bucket);
const char *ca_align_bucket_name(int bucket);

#endif
