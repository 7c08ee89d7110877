/*
 * Remote frees in bulk: a block whose every slot is freed by another thread.
 * Run with CONCORD_ARENA_BLOCK_SIZE=1M, where a block of 16-byte slots has
 * 65536 of them, one more than the remote count can hold: the owner must
 * notice the saturated count and count the list itself.
 */
#include "test_util.h"

#include "concord.h"
#include "options.h"
#include "registry.h"
#include "segment.h"

#include <pthread.h>

static void **objs;
static size_t nobjs;

static void *free_all(void *arg)
{
    (void)arg;
    for (size_t i = 0; i < nobjs; i++)
        ca_free(objs[i]);
    return NULL;
}

static void remote_round_trip(size_t n)
{
    nobjs = n;
    objs = calloc(n, sizeof(void *));
    assert_non_null(objs);
    for (size_t i = 0; i < n; i++) {
        objs[i] = ca_malloc(16);
        assert_non_null(objs[i]);
        memset(objs[i], 0x3c, 16);
    }
    ca_segment_t *s = (ca_segment_t *)ca_registry_lookup(objs[0]);
    ca_block_t *b = &s->blocks[((uintptr_t)objs[0] - (uintptr_t)s) >> ca_cfg.block_shift];
    pthread_t t;
    pthread_create(&t, NULL, free_all, NULL);
    pthread_join(t, NULL);
    uintptr_t word = atomic_load(&b->remote);
    uintptr_t count = word >> CA_REMOTE_SHIFT;
    size_t in_block = 0;
    for (size_t i = 0; i < n; i++)
        if ((char *)objs[i] >= ca_block_start(b) &&
            (char *)objs[i] < ca_block_start(b) + ca_cfg.block_size)
            in_block++;
    if (in_block >= CA_REMOTE_MANY)
        assert_int_equal(count, CA_REMOTE_MANY);
    else
        assert_int_equal(count, in_block);
    /* the owner takes them back: allocations succeed, are distinct, hold data */
    ca_totals_t t0;
    ca_stats_totals(&t0);
    assert_int_equal(t0.in_use, 0);
    for (size_t i = 0; i < n; i++) {
        objs[i] = ca_malloc(16);
        assert_non_null(objs[i]);
        memcpy(objs[i], &i, sizeof(i));
    }
    for (size_t i = 0; i < n; i++) {
        size_t v;
        memcpy(&v, objs[i], sizeof(v));
        assert_int_equal(v, i);
    }
    ca_stats_totals(&t0);
    assert_int_equal(t0.in_use, (int64_t)(n * 16));
    for (size_t i = 0; i < n; i++)
        ca_free(objs[i]);
    free(objs);
}

static void test_every_slot_freed_remotely(void **state)
{
    (void)state;
    /* a whole block of 16-byte slots, and a little more */
    remote_round_trip(ca_cfg.block_size / 16 + 100);
}

static void test_a_few_freed_remotely(void **state)
{
    (void)state;
    remote_round_trip(37);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_few_freed_remotely),
        cmocka_unit_test(test_every_slot_freed_remotely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
