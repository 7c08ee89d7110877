/*
 * Size classes and statistics buckets. Class i (1..8) is 16 * i bytes; past
 * 128 bytes, 8 classes per doubling (2^b + k * 2^(b-3), k = 1..8), so a slot
 * wastes at most 12.5% of it. The inline lookup (sizeclass.h) uses a table
 * for sizes up to 1024 bytes and the formula past it; the table is built
 * from the same formula here.
 */
#include "sizeclass.h"

uint32_t ca_class_size[CA_MAX_CLASSES];
uint8_t ca_class_table[CA_TINY_TABLE];
uint8_t ca_class_direct[CA_MAX_CLASSES + 1];
uint8_t ca_class_blocks[CA_MAX_CLASSES];

#define CA_MEDIUM_SLOTS                                                                            \
    4u /* slots a medium span of slots smaller than a block aims to hold: few, so                  \
          that a class with few live objects holds little more than them */

/* Class of `n` by formula; the inline ca_size_class uses the table built here. */
static uint32_t ca_class_of(size_t n)
{
    if (n <= 128) return n <= 16 ? 1 : (uint32_t)((n + 15) >> 4);
    return ca_class_geometric(n);
}

void ca_classes_init(void)
{
    for (unsigned i = 1; i <= 8; i++)
        ca_class_size[i] = 16u * i;
    for (unsigned i = 9; i < CA_MAX_CLASSES; i++) {
        unsigned j = i - 9, b = 7 + j / 8, k = j % 8 + 1;
        ca_class_size[i] = (1u << b) + k * (1u << (b - 3));
    }
    for (unsigned i = 0; i < CA_TINY_TABLE; i++)
        ca_class_table[i] = (uint8_t)ca_class_of(i * 16);
    /* The table rises with the size: each class's entries are one run. */
    for (unsigned c = 0, i = 0; c <= CA_MAX_CLASSES; c++) {
        while (i < CA_TINY_TABLE && ca_class_table[i] < c)
            i++;
        ca_class_direct[c] = (uint8_t)i;
    }
    unsigned n = 1;
    while (n + 1 < CA_MAX_CLASSES && ca_class_size[n + 1] <= ca_cfg.large_max)
        n++;
    ca_cfg.nclasses = n;
    /* A medium span: enough blocks for CA_MEDIUM_SLOTS slots, at most half a
     * segment; its tail past the last slot is less than a block. A slot of a
     * block or more gets a span of its own (as mimalloc's large pages and
     * tcmalloc's spans do): freed, it goes back to the node cache whole,
     * where a span of any class can reuse its pages, instead of waiting,
     * resident, for another object of its class beside live neighbours. */
    uint32_t max_blocks = CA_SEG_BLOCKS / 2;
    for (unsigned c = 1; c <= n; c++) {
        size_t slot = ca_class_size[c];
        if (slot <= ca_cfg.small_max) {
            ca_class_blocks[c] = 1;
            continue;
        }
        size_t want = slot >= ca_cfg.block_size ? slot : CA_MEDIUM_SLOTS * slot;
        size_t blocks = (want + ca_cfg.block_size - 1) >> ca_cfg.block_shift;
        if (blocks > max_blocks) {
            size_t fit = ((size_t)max_blocks << ca_cfg.block_shift) / slot; /* >= 1 */
            blocks = (fit * slot + ca_cfg.block_size - 1) >> ca_cfg.block_shift;
        }
        ca_class_blocks[c] = (uint8_t)blocks;
    }
}

static const char *const ca_size_bucket_names[CA_SIZE_BUCKETS] = {
    "<=16", "<=32", "<=64",  "<=128", "<=256", "<=512",  "<=1K",   "<=2K",
    "<=4K", "<=8K", "<=16K", "<=32K", "<=64K", "<=128K", "<=256K", ">256K"};
static const char *const ca_align_bucket_names[CA_ALIGN_BUCKETS] = {
    "<=32", "<=64", "<=128", "<=256", "<=512", "<=1K", "<=2K", ">2K"};

int ca_size_bucket(size_t n)
{
    if (n <= 16) return 0;
    int b = 64 - __builtin_clzl(n - 1) - 4; /* 17..32 -> 1 */
    return b > 15 ? 15 : b;
}

int ca_align_bucket(size_t align)
{
    if (align <= 32) return 0;
    int b = 64 - __builtin_clzl(align - 1) - 5; /* 33..64 -> 1 */
    return b > 7 ? 7 : b;
}

const char *ca_size_bucket_name(int bucket)
{
    return ca_size_bucket_names[bucket];
}

const char *ca_align_bucket_name(int bucket)
{
    return ca_align_bucket_names[bucket];
}
