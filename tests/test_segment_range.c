/* The segment range: segments come from one reserved range, so the free fast
 * path asks "ours?" with one compare. Slots given back are taken again first,
 * a late free into a given-back slot is still named, and segments mapped
 * outside the range (range full) are served by the slow path, every bad
 * pointer still reported; a node's segment entries stay consistent. Each case
 * runs in a fresh process of this binary (the range is set up once per
 * process), with bad pointers left alone. */
#include "test_util.h"

#include "concord.h"
#include "options.h"
#include "registry.h"
#include "segment.h"

#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

static char out[16384];

static uint64_t segments_unmapped(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < CA_MAX_NODES; i++)
        n += ca_nodes[i].segments_unmapped;
    return n;
}

#define SPANS 24

/* Large objects of 8 blocks each: 24 of them fill three segments or more. */
static void take_spans(unsigned char **v, unsigned char tag)
{
    size_t n = ca_cfg.block_size * 8;
    for (int i = 0; i < SPANS; i++) {
        v[i] = ca_malloc(n);
        if (v[i] == NULL) exit(10);
        memset(v[i], tag + i, n);
    }
}

static int child_inside(void)
{
    void *first = ca_malloc(100);
    if (ca_cfg.range_base == 0 || ca_range_offset(first) >= ca_cfg.range_size) return 11;
    unsigned char *v[SPANS];
    take_spans(v, 1);
    for (int i = 0; i < SPANS; i++) {
        if (ca_range_offset(v[i]) >= ca_cfg.range_size) return 12;
        if (v[i][0] != (unsigned char)(1 + i)) return 13;
    }
    uintptr_t len = ca_segment_range_used();
    if (len < 3 * ca_cfg.seg_size) return 14;
    uint64_t unmapped = segments_unmapped();
    for (int i = 0; i < SPANS; i++)
        ca_free(v[i]);
    ca_trim();
    if (segments_unmapped() < unmapped + 2) return 15; /* empty segments were given back */
    /* A late second free into a slot given back: named, left alone. */
    unsigned char *late = NULL;
    for (int i = 0; i < SPANS && late == NULL; i++)
        if (ca_registry_lookup(v[i]) == NULL) late = v[i]; /* its segment is gone */
    if (late == NULL || (uintptr_t)late - ca_cfg.range_base >= len) return 16;
    printf("late free\n");
    fflush(stdout);
    ca_free(late);
    /* The slots given back are taken again before the range grows. */
    take_spans(v, 7);
    if (ca_segment_range_used() != len) return 17;
    for (int i = 0; i < SPANS; i++)
        if (v[i][ca_cfg.block_size] != (unsigned char)(7 + i)) return 18;
    for (int i = 0; i < SPANS; i++)
        ca_free(v[i]);
    ca_free(first);
    printf("survived\n");
    return 0;
}

static int child_outside(void)
{
    ca_range_limit = 0; /* no new slot: every segment is mapped outside the range */
    unsigned char *small[512];
    for (int i = 0; i < 512; i++) {
        size_t n = 16 + (size_t)(i % 40) * 24;
        small[i] = ca_malloc(n);
        if (small[i] == NULL || ca_range_offset(small[i]) < ca_cfg.range_size) return 21;
        if (ca_malloc_usable_size(small[i]) < n) return 22;
        memset(small[i], i & 0xff, n);
    }
    if (ca_segment_range_used() != 0) return 23;
    unsigned char *v[SPANS];
    take_spans(v, 3);
    for (int i = 0; i < 512; i += 2)
        ca_free(small[i]);
    printf("interior\n");
    fflush(stdout);
    ca_free(small[1] + 8);
    printf("twice\n");
    fflush(stdout);
    ca_free(small[0]);
    for (int i = 1; i < 512; i += 2)
        if (small[i][0] != (unsigned char)(i & 0xff)) return 24;
    for (int i = 1; i < 512; i += 2)
        ca_free(small[i]);
    for (int i = 0; i < SPANS; i++) {
        if (v[i][0] != (unsigned char)(3 + i)) return 25;
        ca_free(v[i]);
    }
    printf("survived\n");
    return 0;
}

/* Node 0's segment entries agree with the segments: each entry's index is
 * in its segment, segments with a free block come first, the header block
 * is never free, a cached block is a free one and marked dirty. */
static int entries_consistent(void)
{
    ca_node_t *nd = &ca_nodes[0];
    if (nd->navail > nd->nsegments || (nd->nsegments > 0 && nd->segs == NULL)) return 0;
    for (uint32_t i = 0; i < nd->nsegments; i++) {
        const ca_seg_entry_t *e = &nd->segs[i];
        if (e->seg->entry != i || (e->free_mask & 1) != 0) return 0;
        if ((i < nd->navail) != (e->free_mask != 0)) return 0;
        if ((e->dirty_mask & ~e->free_mask) != 0) return 0;
        for (uint32_t b = 1; b < CA_SEG_BLOCKS; b++)
            if (e->seg->blocks[b].dirty != ((e->dirty_mask >> b) & 1)) return 0;
    }
    return 1;
}

/* Spans of 9 blocks (a size class: no rounding), 7 to a segment: 20 full
 * segments, more than a node holds inline. */
#define MANY_BLOCKS 9
#define MANY        140

/* Many segments: the node's entries grow past those it holds inline and stay
 * consistent while spans come and go; the range grows in steps, and an
 * address past the slots in use is named, not served. */
static int child_many(void)
{
    size_t n = ca_cfg.block_size * MANY_BLOCKS;
    unsigned char *v[MANY];
    for (int i = 0; i < MANY; i++) {
        if ((v[i] = ca_malloc(n)) == NULL) return 41;
        memset(v[i], i, n);
    }
    ca_node_t *nd = &ca_nodes[0];
    if (nd->nsegments < MANY / ((CA_SEG_BLOCKS - 1) / MANY_BLOCKS) || nd->navail == nd->nsegments ||
        nd->segs == nd->segs_inline)
        return 42;
    if (!entries_consistent()) return 43;
    uintptr_t used = ca_segment_range_used();
    if (used != (uintptr_t)nd->nsegments * ca_cfg.seg_size) return 44;
    printf("past the slots in use\n");
    fflush(stdout);
    ca_free((char *)ca_cfg.range_base + used + ca_cfg.block_size);
    for (int i = 0; i < MANY; i += 2)
        ca_free(v[i]);
    if (!entries_consistent()) return 45;
    for (int i = 0; i < MANY; i += 2) {
        if ((v[i] = ca_malloc(n)) == NULL) return 46;
        memset(v[i], 100 + i, n);
    }
    if (!entries_consistent()) return 47;
    for (int i = 0; i < MANY; i++)
        if (v[i][0] != (unsigned char)(i % 2 ? i : 100 + i) || v[i][n - 1] != v[i][0]) return 48;
    for (int i = MANY; i-- > 0;)
        ca_free(v[i]);
    ca_trim();
    if (!entries_consistent() || nd->navail != nd->nsegments) return 49;
    if (ca_segment_range_used() != used) return 50; /* given back, not grown */
    printf("survived\n");
    return 0;
}

#define LIMITED_AS ((size_t)3 << 29) /* 1.5 GiB of address space in all */

/* Started under `ulimit -v` (LIMITED_AS): reserved address space counts as
 * used, so the range must leave most of the limit to the program, whose
 * 1 GiB object then fits. */
static int child_limited(void)
{
    void *small = ca_malloc(100);
    if (small == NULL) return 32;
    if (ca_cfg.range_size > LIMITED_AS / 4) return 33;
    size_t n = (size_t)1 << 30;
    unsigned char *big = ca_malloc(n);
    if (big == NULL) return 34;
    big[0] = 1;
    big[n - 1] = 2;
    ca_free(big);
    ca_free(small);
    printf("survived\n");
    return 0;
}

static void run_child(const char *mode)
{
    int st = tu_run_self(mode, "CONCORD_ARENA_ABORT_ON_ERROR=0", out, sizeof(out));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strstr(out, "survived") == NULL)
        fail_msg("%s: status %#x:\n%s", mode, st, out);
}

static void test_slots_reused_and_named(void **state)
{
    (void)state;
    run_child("inside");
    const char *late = strstr(out, "late free\n");
    assert_non_null(late);
    assert_non_null(strstr(late, "free(): invalid pointer"));
    assert_non_null(strstr(late, "already freed; left alone"));
    assert_int_equal(tu_count(out, "invalid pointer"), 1);
}

static void test_outside_the_range(void **state)
{
    (void)state;
    run_child("outside");
    const char *interior = strstr(out, "interior\n");
    const char *twice = strstr(out, "twice\n");
    assert_non_null(interior);
    assert_non_null(twice);
    assert_non_null(strstr(interior, "inside an object; left alone"));
    assert_non_null(strstr(twice, "already freed; left alone"));
    assert_int_equal(tu_count(out, "invalid pointer"), 2);
}

static void test_many_segments(void **state)
{
    (void)state;
    run_child("many");
    const char *past = strstr(out, "past the slots in use\n");
    assert_non_null(past);
    assert_non_null(strstr(past, "free(): invalid pointer"));
    assert_int_equal(tu_count(out, "invalid pointer"), 1);
}

static void test_address_space_limit(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    skip(); /* their shadow memory needs far more address space than the limit */
#endif
    /* The limit is in place before the child starts (the core reserves the
     * range in a constructor): set on this process around the fork, the
     * hard limit left as it is so that it can be lifted again. */
    struct rlimit was;
    assert_int_equal(getrlimit(RLIMIT_AS, &was), 0);
    struct rlimit lim = {LIMITED_AS, was.rlim_max};
    if (was.rlim_max != RLIM_INFINITY && was.rlim_max < LIMITED_AS) skip();
    /* The child maps 1 GiB: a machine of less than 2 GiB may refuse that for
     * want of memory, whatever the address space. */
    if ((uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) < ((uint64_t)2 << 30))
        skip();
    assert_int_equal(setrlimit(RLIMIT_AS, &lim), 0);
    int st = tu_run_self("limited", "CONCORD_ARENA_ABORT_ON_ERROR=0", out, sizeof(out));
    assert_int_equal(setrlimit(RLIMIT_AS, &was), 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strstr(out, "survived") == NULL)
        fail_msg("limited: status %#x:\n%s", st, out);
    assert_int_equal(tu_count(out, "invalid pointer"), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "inside")) return child_inside();
        if (!strcmp(argv[1], "outside")) return child_outside();
        if (!strcmp(argv[1], "limited")) return child_limited();
        if (!strcmp(argv[1], "many")) return child_many();
        return 99;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slots_reused_and_named),
        cmocka_unit_test(test_outside_the_range),
        cmocka_unit_test(test_many_segments),
        cmocka_unit_test(test_address_space_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
