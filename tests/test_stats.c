/*
 * Statistics: exact counters for a scripted workload (this binary is a fresh
 * process and the scripted test runs first), JSON that python3 parses with
 * the same figures, the text dump, and malloc_trim's effect on the caches.
 */
#include "test_util.h"

#include "concord.h"
#include "options.h"

#include <pthread.h>

static void *thread_objs[7];

static void *thread_alloc(void *arg)
{
    (void)arg;
    for (int i = 0; i < 7; i++)
        thread_objs[i] = ca_malloc(24);
    return NULL;
}

static void test_scripted_exact(void **state)
{
    (void)state;
    ca_totals_t t;
    ca_stats_totals(&t);
    assert_int_equal(t.allocs, 0); /* fresh process: nothing yet */

    /* phase 1: two blocks of 128-byte slots, emptied; then 256-byte slots
     * take one of them back from the arena's cache */
    static void *p[600];
    for (int i = 0; i < 600; i++)
        p[i] = ca_malloc(128);
    for (int i = 0; i < 600; i++)
        ca_free(p[i]);
    for (int i = 0; i < 600; i++)
        p[i] = ca_malloc(256);
    for (int i = 0; i < 600; i++)
        ca_free(p[i]);

    /* phase 2: small, large, huge and aligned objects alive together */
    void *a[10], *b[5], *m[3];
    for (int i = 0; i < 10; i++)
        a[i] = ca_malloc(100);
    for (int i = 0; i < 5; i++)
        b[i] = ca_malloc(3000);
    void *l = ca_malloc(100000);
    void *h = ca_malloc((size_t)5 << 20);
    for (int i = 0; i < 3; i++)
        m[i] = ca_memalign(64, 40);
    size_t huge_usable = ca_malloc_usable_size(h);
    ca_stats_totals(&t);
    int64_t live = 1120 + 15360 + (int64_t)ca_malloc_usable_size(l) + (int64_t)huge_usable + 3 * 96;
    assert_int_equal(ca_malloc_usable_size(l), 106496); /* a medium class, 8 per doubling */
    assert_int_equal(t.in_use, live);

    /* phase 3: another thread allocates, this one frees (remote frees) */
    pthread_t th;
    pthread_create(&th, NULL, thread_alloc, NULL);
    pthread_join(th, NULL);
    for (int i = 0; i < 7; i++)
        ca_free(thread_objs[i]);

    for (int i = 0; i < 10; i++)
        ca_free(a[i]);
    for (int i = 0; i < 5; i++)
        ca_free(b[i]);
    ca_free(l);
    ca_free(h);
    for (int i = 0; i < 3; i++)
        ca_free(m[i]);

    ca_stats_totals(&t);
    assert_int_equal(t.allocs, 1227);
    assert_int_equal(t.frees, 1227);
    assert_int_equal(t.remote_frees, 7);
    assert_int_equal(t.req_bytes, 76800 + 153600 + 1000 + 15000 + 100000 + 5242880 + 120 + 168);
    assert_int_equal(t.slot_bytes,
                     76800 + 153600 + 1120 + 15360 + 106496 + huge_usable + 288 + 224);
    assert_int_equal(t.in_use, 0);
    /* the peak is kept at block granularity: at least the exact peak (this
     * arena's plus the other thread's), at most the blocks' unused slots more */
    assert_true(t.peak >= live + 224);
    assert_true(t.peak <= live + 224 + 32 * 65536); /* 5 small blocks, a 2-block span */
    uint64_t buckets[16] = {0};
    buckets[1] = 7;            /* 24 -> 32-byte slots */
    buckets[3] = 600 + 10 + 3; /* 128, 100 -> 112, aligned 40 -> 96-byte slots */
    buckets[4] = 600;          /* 256 */
    buckets[8] = 5;            /* 3000 -> 3072 */
    buckets[13] = 1;           /* 100000 */
    buckets[15] = 1;           /* 5 MiB */
    for (int i = 0; i < 16; i++)
        if (t.size_buckets[i] != buckets[i])
            fail_msg("size bucket %d: %llu, expected %llu", i,
                     (unsigned long long)t.size_buckets[i], (unsigned long long)buckets[i]);
    for (int i = 0; i < 8; i++)
        assert_int_equal(t.align_buckets[i], i == 1 ? 3 : 0);
    /* 2 + 3 small blocks (one of the 3 reused), 1 + 1 more, and the medium
     * span of 2 blocks (a slot of 106496 bytes, a block or more: its own span) */
    assert_int_equal(t.blocks_fresh, 8);
    assert_int_equal(t.blocks_reused, 3);
    assert_int_equal(t.segments_mapped, 1);
    assert_int_equal(t.huge_maps, 1);
    assert_int_equal(t.block_size, 65536);
}

static void test_json_parses(void **state)
{
    (void)state;
    void *keep[50];
    for (int i = 0; i < 50; i++)
        keep[i] = ca_malloc((size_t)i * 37 + 1);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ca-stats-%d.json", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    ca_stats_dump(fd, 1);
    close(fd);
    ca_totals_t t;
    ca_stats_totals(&t);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "python3 -c \"import json,sys; d=json.load(open('%s')); t=d['total'];"
             " assert t['allocs']==%llu and t['frees']==%llu and t['in_use']==%lld, t;"
             " assert len(t['size_buckets'])==16 and len(t['align_buckets'])==8;"
             " assert d['nodes'][0]['node']==0 and d['arenas'];"
             " assert d['hotspots']['by_count'][0]['count']==max(t['size_buckets']);"
             " print('json ok')\"",
             path, (unsigned long long)t.allocs, (unsigned long long)t.frees, (long long)t.in_use);
    char *argv[] = {"sh", "-c", cmd, NULL};
    char out[4096];
    int st = tu_run(argv, NULL, out, sizeof(out));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(out, "json ok")) fail_msg("%s", out);
    unlink(path);
    for (int i = 0; i < 50; i++)
        ca_free(keep[i]);
}

static void test_text_dump(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    ca_stats_dump(fds[1], 0);
    close(fds[1]);
    static char text[1 << 16];
    tu_read_all(fds[0], text, sizeof(text));
    close(fds[0]);
    assert_non_null(strstr(text, "=== concordarena statistics"));
    assert_non_null(strstr(text, "hotspots by count:"));
    assert_non_null(strstr(text, "hotspots by bytes"));
    assert_non_null(strstr(text, "node 0\n"));
    assert_non_null(strstr(text, "=== end ===\n"));
}

static void test_trim_empties_caches(void **state)
{
    (void)state;
    /* ten blocks of 1000-byte slots, emptied: the arena keeps 4, the node
     * caches the rest */
    static void *p[640];
    for (int i = 0; i < 640; i++)
        p[i] = ca_malloc(1000);
    for (int i = 0; i < 640; i++)
        ca_free(p[i]);
    ca_totals_t t;
    ca_stats_totals(&t);
    assert_true(t.blocks_cached >= 4);
    ca_trim();
    ca_stats_totals(&t);
    assert_int_equal(t.blocks_cached, 0);
    /* and the next allocations still work; a block this thread emptied comes
     * back to it from its own cache, without the node */
    for (int i = 0; i < 640; i++)
        p[i] = ca_malloc(1000);
    for (int i = 0; i < 640; i++)
        ca_free(p[i]);
    ca_stats_totals(&t);
    uint64_t reused = t.blocks_reused, fresh = t.blocks_fresh;
    void *q = ca_malloc(5000); /* a class this thread has no block of */
    assert_non_null(q);
    ca_stats_totals(&t);
    assert_int_equal(t.blocks_reused, reused + 1);
    assert_int_equal(t.blocks_fresh, fresh);
    ca_free(q);
}

static void test_reset(void **state)
{
    (void)state;
    void *p = ca_malloc(10);
    ca_stats_reset();
    ca_totals_t t;
    ca_stats_totals(&t);
    assert_int_equal(t.allocs, 0);
    assert_int_equal(t.in_use, 16); /* what is live stays counted */
    ca_free(p);
    ca_stats_totals(&t);
    assert_int_equal(t.in_use, 0);
    assert_int_equal(t.frees, 1);
}

static const char *report_script;

/* scripts/stats_report.py turns a series of JSON dumps into a summary and a PNG
 * (matplotlib; skipped when no python3 here has it). */
static void test_report_tool(void **state)
{
    (void)state;
    char path[64], png[64];
    snprintf(path, sizeof(path), "/tmp/ca-series-%d.jsonl", (int)getpid());
    snprintf(png, sizeof(png), "/tmp/ca-series-%d.png", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    static void *held[400];
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < 50; i++)
            held[round * 50 + i] = ca_malloc((size_t)(round + 1) * 300);
        ca_stats_dump(fd, 1);
    }
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "python3 '%s' '%s' --png '%s'", report_script, path, png);
    char *argv[] = {"sh", "-c", cmd, NULL};
    char out[16384];
    int st = tu_run(argv, NULL, out, sizeof(out));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 3 && strstr(out, "needs matplotlib")) {
        unlink(path);
        for (int i = 0; i < 400; i++)
            ca_free(held[i]);
        skip(); /* no python3 with matplotlib on this machine */
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("report failed: %s", out);
    assert_non_null(strstr(out, "8 dump(s)"));
    assert_non_null(strstr(out, "hotspots by count"));
    assert_non_null(strstr(out, "in use over 8 dumps"));
    unsigned char head[24];
    FILE *f = fopen(png, "rb");
    assert_non_null(f);
    assert_int_equal(fread(head, 1, sizeof(head), f), sizeof(head));
    fclose(f);
    assert_memory_equal(head, "\x89PNG\r\n\x1a\n", 8);
    assert_memory_equal(head + 12, "IHDR", 4);
    unsigned w = (unsigned)head[16] << 24 | head[17] << 16 | head[18] << 8 | head[19];
    unsigned h = (unsigned)head[20] << 24 | head[21] << 16 | head[22] << 8 | head[23];
    assert_int_equal(w, 1200); /* matplotlib: 12 x 4.2 inches at 100 dpi, one row of panels */
    assert_int_equal(h, 420);
    /* a file that is not dumps is an error with a message, not a crash */
    snprintf(cmd, sizeof(cmd), "echo garbage > '%s' && python3 '%s' '%s'", path, report_script,
             path);
    st = tu_run(argv, NULL, out, sizeof(out));
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    assert_non_null(strstr(out, "no ConcordArena JSON dumps found"));
    unlink(path);
    unlink(png);
    for (int i = 0; i < 400; i++)
        ca_free(held[i]);
}

int main(int argc, char **argv)
{
    report_script = argc > 1 ? argv[1] : "scripts/stats_report.py";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripted_exact), /* first: needs a fresh process */
        cmocka_unit_test(test_json_parses),         cmocka_unit_test(test_text_dump),
        cmocka_unit_test(test_trim_empties_caches), cmocka_unit_test(test_reset),
        cmocka_unit_test(test_report_tool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
