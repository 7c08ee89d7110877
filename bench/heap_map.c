/*
 * Where a small program's heap pages go. Runs the allocation pattern of
 * shape_heavy or of shape_local (its first thread's: the same seed, sizes
 * and order as the program) against the library linked in, then lists every
 * block of node 0's segments that has a resident page: its kind, size
 * class, slot size, live slots (a run block: units in use), slots carved (a
 * run block: the unit its next-fit search starts at), and resident pages
 * (mincore). Last, the resident KiB by kind and the live bytes.
 *
 * usage: heap_map [heavy|local] [COUNT]   (COUNT: bursts or replacements)
 *
 * A diagnosis tool: it reads the blocks' metadata with no lock, which is
 * right only because this program has one thread and calls nothing else.
 */
#include "arena.h"
#include "concord.h"
#include "segment.h"
#include "shapes/shape.h"

#include <sys/mman.h>
#include <unistd.h>

/* shape_heavy's loop, its first thread's seed; returns the live bytes at
 * the end. */
static size_t run_heavy(long count)
{
    shape_rng r;
    shape_seed(&r, 6000);
    static unsigned char *kept[4096];
    static size_t kept_size[4096];
    unsigned char *burst[32];
    size_t size[32], live = 0;
    for (long n = 0; n < count; n++) {
        int k = (int)shape_range(&r, 1, 32);
        for (int i = 0; i < k; i++) {
            size[i] = shape_heavy_size(&r);
            if (!(burst[i] = ca_malloc(size[i]))) abort();
            memset(burst[i], (int)(n & 0xff), size[i]);
        }
        for (int i = k - 1; i >= 0; i--) {
            if ((shape_next(&r) & 7) != 0) {
                ca_free(burst[i]);
                continue;
            }
            int j = (int)shape_range(&r, 0, 4095);
            if (kept[j]) {
                ca_free(kept[j]);
                live -= kept_size[j];
            }
            kept[j] = burst[i];
            kept_size[j] = size[i];
            live += size[i];
        }
    }
    return live;
}

/* shape_local's loop, its first thread's seed (the program writes an
 * object's first and last bytes). */
static size_t run_local(long count)
{
    shape_rng r;
    shape_seed(&r, 5000);
    static unsigned char *slot[1024];
    static size_t slot_size[1024];
    size_t live = 0;
    for (long n = 0; n < count; n++) {
        int i = (int)shape_range(&r, 0, 1023);
        if (slot[i]) {
            ca_free(slot[i]);
            live -= slot_size[i];
        }
        size_t s = shape_inverse_square(&r, 4, 32768);
        if (!(slot[i] = ca_malloc(s))) abort();
        slot[i][0] = slot[i][s - 1] = 1;
        slot_size[i] = s;
        live += s;
    }
    return live;
}

static const char *const kind_name[] = {"free", "small",  "large",  "cont",
                                        "kept", "region", "header", "runs"};

int main(int argc, char **argv)
{
    const char *shape = argc > 1 ? argv[1] : "heavy";
    long count = argc > 2 ? atol(argv[2]) : 300000;
    size_t live;
    if (strcmp(shape, "heavy") == 0)
        live = run_heavy(count);
    else if (strcmp(shape, "local") == 0)
        live = run_local(count);
    else {
        fprintf(stderr, "usage: heap_map [heavy|local] [COUNT]\n");
        return 2;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bsize = ca_cfg.block_size;
    size_t per_block = bsize / page, by_kind[8] = {0}, total = 0;
    unsigned char *vec = calloc(per_block, 1);
    ca_node_t *nd = &ca_nodes[0];
    printf("seg block kind   class  slot   live carved resident_pages\n");
    for (uint32_t e = 0; e < nd->nsegments; e++) {
        ca_segment_t *s = nd->segs[e].seg;
        for (unsigned i = 0; s != NULL && i < CA_SEG_BLOCKS; i++) {
            ca_block_t *b = &s->blocks[i];
            if (mincore((char *)s + i * bsize, bsize, vec) != 0) continue;
            size_t res = 0;
            for (size_t k = 0; k < per_block; k++)
                res += vec[k] & 1;
            if (res == 0) continue;
            unsigned kind = b->kind < 8 ? b->kind : 0;
            by_kind[kind] += res;
            total += res;
            printf("%3u %5u %-6s %5u %5u %6d %6u %2zu%s\n", e, i, kind_name[kind], b->size_class,
                   b->slot_size, b->used & 0x7fffffff, b->bump, res, b->used < 0 ? " (full)" : "");
        }
    }
    printf("resident KiB %zu:", total * page / 1024);
    for (unsigned k = 0; k < 8; k++)
        if (by_kind[k]) printf(" %s %zu", kind_name[k], by_kind[k] * page / 1024);
    printf("; live bytes %zu\n", live);
    free(vec);
    return 0;
}
