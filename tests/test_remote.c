/*
 * Remote frees in bulk: a block whose every slot is freed by another thread.
 * Run with CONCORD_ARENA_BLOCK_SIZE=1M too, where a block of 16-byte slots
 * has 65536 of them: the remote word must count them all and name the list's
 * both ends, which the owner takes without walking. And remote frees into a
 * block that has free slots of its own: the two lists become one.
 */
#include "test_util.h"

#include "arena.h"
#include "concord.h"
#include "options.h"
#include "os.h"
#include "registry.h"
#include "segment.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static void **objs;
static size_t nobjs;
static size_t remote_from, remote_to; /* objs[remote_from..remote_to) go to free_some */

static void *free_some(void *arg)
{
    (void)arg;
    for (size_t i = remote_from; i < remote_to; i++)
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
    remote_from = 0;
    remote_to = n;
    pthread_t t;
    pthread_create(&t, NULL, free_some, NULL);
    pthread_join(t, NULL);
    uintptr_t word = atomic_load(&ca_block_remote(b)->word);
    size_t in_block = 0;
    void *first = NULL, *last = NULL; /* freed into the block first and last */
    for (size_t i = 0; i < n; i++)
        if ((char *)objs[i] >= ca_block_start(b) &&
            (char *)objs[i] < ca_block_start(b) + ca_cfg.block_size) {
            in_block++;
            if (first == NULL) first = objs[i];
            last = objs[i];
        }
    assert_int_equal(word & 1, 1); /* queued on the owner */
    assert_int_equal(ca_remote_count(word), in_block);
    assert_ptr_equal(ca_remote_head(s, word), last);
    assert_ptr_equal(ca_remote_tail(s, word), first);
    assert_null(((void **)first)[0]); /* the tail ends the list */
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

/* `n` objects of `size` bytes (a class of its own in this process: one
 * block), the first `local` freed by their owner, the rest by another thread:
 * when the owner takes the remote ones back, on the slow path of a `trigger`
 * bytes object, its block's two lists become one (the remote list in front,
 * joined at its tail). Every slot is then handed out once. */
static void mixed_round_trip(size_t n, size_t local, size_t size, size_t trigger)
{
    nobjs = n;
    objs = calloc(n, sizeof(void *));
    assert_non_null(objs);
    for (size_t i = 0; i < n; i++) {
        objs[i] = ca_malloc(size);
        assert_non_null(objs[i]);
        assert_true(objs[i] >= objs[0] ? (char *)objs[i] - (char *)objs[0] < 65536
                                       : (char *)objs[0] - (char *)objs[i] < 65536);
    }
    for (size_t i = 0; i < local; i++)
        ca_free(objs[i]);
    remote_from = local;
    remote_to = n;
    pthread_t t;
    pthread_create(&t, NULL, free_some, NULL);
    pthread_join(t, NULL);
    /* The first object of a class never used here takes the slow path,
     * which collects every block with remote frees: this one's own list is
     * not empty then. */
    ca_free(ca_malloc(trigger));
    ca_totals_t t0;
    ca_stats_totals(&t0);
    assert_int_equal(t0.in_use, 0);
    /* two blocks' worth: the remote and local ones, slots carved fresh,
     * then another block */
    size_t m = 2 * (ca_cfg.block_size / size);
    void **again = calloc(m, sizeof(void *));
    assert_non_null(again);
    for (size_t i = 0; i < m; i++) {
        again[i] = ca_malloc(size);
        assert_non_null(again[i]);
        memcpy(again[i], &i, sizeof(i));
    }
    size_t reused = 0;
    for (size_t i = 0; i < m; i++) {
        size_t v;
        memcpy(&v, again[i], sizeof(v));
        assert_int_equal(v, i); /* no slot handed out twice */
        for (size_t j = 0; j < n; j++)
            if (again[i] == objs[j]) reused++;
    }
    assert_int_equal(reused, n); /* every freed slot came back, local and remote */
    ca_stats_totals(&t0);
    assert_int_equal(t0.in_use, (int64_t)(m * size));
    for (size_t i = 0; i < m; i++)
        ca_free(again[i]);
    free(again);
    free(objs);
}

static void test_remote_into_longer_local_list(void **state)
{
    (void)state;
    mixed_round_trip(200, 150, 48, 3000);
}

static void test_remote_into_shorter_local_list(void **state)
{
    (void)state;
    mixed_round_trip(200, 10, 80, 3500);
}

static void test_every_slot_freed_remotely(void **state)
{
    (void)state;
    /* a whole block of 16-byte slots, and a little more */
    remote_round_trip(ca_cfg.block_size / 16 + 100);
}

/* The remote word's fields at their limits: the last 16-byte unit of the
 * largest segment (64 blocks of 1 MiB) as head and tail, and a count of
 * every slot of a 1 MiB block of 16-byte slots; the fields do not spill into
 * one another or into the queued bit. */
static void test_remote_word_at_its_limits(void **state)
{
    (void)state;
    const ca_segment_t *s = (const ca_segment_t *)((uintptr_t)1 << 40); /* never dereferenced */
    uintptr_t last = ((uintptr_t)CA_SEG_BLOCKS << CA_BLOCK_SHIFT_MAX) / 16 - 1;
    uintptr_t w = ca_remote_pushed(0, last); /* onto an empty list: head and tail */
    assert_int_equal(w & 1, 1);
    assert_int_equal(ca_remote_count(w), 1);
    assert_ptr_equal(ca_remote_head(s, w), (char *)s + last * 16);
    assert_ptr_equal(ca_remote_tail(s, w), (char *)s + last * 16);
    w = ca_remote_pushed(w & ~(uintptr_t)1, 1); /* the owner had taken the queued bit */
    assert_int_equal(w & 1, 1);
    assert_int_equal(ca_remote_count(w), 2);
    assert_ptr_equal(ca_remote_head(s, w), (char *)s + 16);
    assert_ptr_equal(ca_remote_tail(s, w), (char *)s + last * 16);
    uint32_t most = (uint32_t)1 << (CA_BLOCK_SHIFT_MAX - 4);
    for (uint32_t i = 2; i < most; i++)
        w = ca_remote_pushed(w, last - i);
    assert_int_equal(ca_remote_count(w), most);
    assert_ptr_equal(ca_remote_head(s, w), (char *)s + (last - (most - 1)) * 16);
    assert_ptr_equal(ca_remote_tail(s, w), (char *)s + last * 16);
    assert_null(ca_remote_head(s, 0)); /* an empty word names no list */
    assert_null(ca_remote_tail(s, 1));
}

/* A fork that catches a thread between marking a block queued and queueing
 * it on the owner (simulated: the owner's queue emptied under it) leaves in
 * the child a block queued on nobody. The child's fork handler rebuilds the
 * queues from the blocks' remote words, so the remote frees still come back:
 * the child's next allocations of the class get the freed slots. */
enum { REQUEUE_N = 100, REQUEUE_SIZE = 112 }; /* a class no other test here uses */
static void *requeue_freed[REQUEUE_N];

static int take_the_freed_back(void)
{
    size_t back = 0;
    for (size_t i = 0; i < 4 * REQUEUE_N; i++) {
        void *p = ca_malloc(REQUEUE_SIZE);
        for (size_t j = 0; j < REQUEUE_N; j++)
            if (p == requeue_freed[j]) back++;
    }
    return back == REQUEUE_N ? 0 : 5;
}

static int fork_after_a_cut_push(void)
{
    objs = requeue_freed;
    for (size_t i = 0; i < REQUEUE_N; i++)
        if ((requeue_freed[i] = ca_malloc(REQUEUE_SIZE)) == NULL) return 2;
    remote_from = 0;
    remote_to = REQUEUE_N;
    pthread_t t;
    pthread_create(&t, NULL, free_some, NULL);
    pthread_join(t, NULL);
    if (atomic_load(&ca_tls_arena->queued) == NULL) return 3; /* the block was queued */
    atomic_store(&ca_tls_arena->queued, NULL);                /* the push the fork cut short */
    return tu_in_child(take_the_freed_back);
}

static void test_fork_requeues_remote_frees(void **state)
{
    (void)state;
    assert_int_equal(tu_in_child(fork_after_a_cut_push), 0);
}

/* The same cut-short push into the arena of a thread that the fork leaves
 * behind: in the child that arena is parked with an empty queue, and the
 * rebuilt queue is all that says its block has frees. The rebuild arms the
 * purge tick, whose reclaim collects them: nobody else would. */
static pthread_barrier_t hold;
static ca_arena_t *_Atomic held_arena;

static void *alloc_and_hold(void *arg)
{
    enum { N = 100, SIZE = 144 }; /* a class no other test here uses */
    (void)arg;
    static void *mine[N];
    for (size_t i = 0; i < N; i++)
        if ((mine[i] = ca_malloc(SIZE)) == NULL) return NULL;
    objs = mine;
    remote_from = 0;
    remote_to = N;
    atomic_store(&held_arena, ca_tls_arena);
    pthread_barrier_wait(&hold); /* the main thread frees them and forks */
    pthread_barrier_wait(&hold);
    return NULL;
}

/* In the child of the fork: the held thread's arena is parked, the tick armed. */
static int tick_collects_the_parked(void)
{
    ca_arena_t *owner = atomic_load(&held_arena);
    if (atomic_load(&owner->state) != CA_ARENA_PARKED) return 6;
    if (atomic_load(&ca_purge_due) == 0) return 7; /* not armed */
    atomic_fetch_add(&ca_os_clock_skew_ms, 1000);
    ca_purge_tick();                                    /* the next slow path after the delay */
    return atomic_load(&owner->queued) == NULL ? 0 : 8; /* collected */
}

static int fork_with_a_parked_owner(void)
{
    pthread_t t;
    pthread_barrier_init(&hold, NULL, 2);
    if (pthread_create(&t, NULL, alloc_and_hold, NULL) != 0) return 2;
    pthread_barrier_wait(&hold);
    ca_arena_t *owner = atomic_load(&held_arena);
    if (owner == NULL) return 3;
    free_some(NULL); /* remote frees: its block is queued on it */
    if (atomic_load(&owner->queued) == NULL) return 4;
    atomic_store(&owner->queued, NULL); /* the push the fork cut short */
    atomic_store(&ca_purge_due, 0);     /* nothing else armed */
    int st = tu_in_child(tick_collects_the_parked);
    pthread_barrier_wait(&hold);
    pthread_join(t, NULL);
    return st;
}

static void test_fork_arms_the_tick_for_a_parked_owner(void **state)
{
    (void)state;
    assert_int_equal(tu_in_child(fork_with_a_parked_owner), 0);
}

static void test_a_few_freed_remotely(void **state)
{
    (void)state;
    remote_round_trip(37);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_word_at_its_limits),
        cmocka_unit_test(test_fork_requeues_remote_frees),
        cmocka_unit_test(test_fork_arms_the_tick_for_a_parked_owner),
        cmocka_unit_test(test_a_few_freed_remotely),
        cmocka_unit_test(test_every_slot_freed_remotely),
        cmocka_unit_test(test_remote_into_longer_local_list),
        cmocka_unit_test(test_remote_into_shorter_local_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
