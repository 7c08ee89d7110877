/*
 * NUMA: placement on the real machine, and fake two- and four-node
 * topologies (CONCORD_ARENA_SYSFS_ROOT) on whatever machine runs the tests.
 * Each case runs in a child process, since the topology is read once.
 */
#include "test_util.h"

#include "concord.h"
#include "numa.h"
#include "options.h"
#include "registry.h"
#include "segment.h"
#include "os.h"

#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>

static char fake_root[256];

/* ---- child modes ---- */

/* CONCORD_ARENA_NUMA_NODE=0: memory of an arena homed on node 0 is on node 0. */
static int child_placement(void)
{
    unsigned char *small = ca_malloc(100);
    unsigned char *large = ca_malloc(200000);
    unsigned char *huge = ca_malloc((size_t)8 << 20);
    if (!small || !large || !huge) return 10;
    memset(small, 1, 100);
    memset(large, 1, 200000);
    memset(huge, 1, (size_t)8 << 20);
    if (ca_thread_node() != 0) return 11;
    int nodes[3] = {ca_os_page_node(small), ca_os_page_node(large), ca_os_page_node(huge)};
    printf("nodes %d %d %d bind %d\n", nodes[0], nodes[1], nodes[2], ca_cfg.numa_bind);
    for (int i = 0; i < 3; i++)
        if (nodes[i] != 0) return 12 + i;
    return 0;
}

typedef struct {
    int cpu;      /* CPU to pin to */
    int node;     /* home node seen */
    int seg_node; /* node recorded in the segment of its memory */
    int ok;
} pin_arg_t;

static void *pinned(void *arg)
{
    pin_arg_t *pa = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(pa->cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) return NULL;
    /* large spans freed go back to the node (page-aligned requests past a
     * quarter block are served as spans of whole blocks): into its cache, or,
     * once the thread has ended, decommitted */
    void *ps[4];
    for (int i = 0; i < 4; i++)
        ps[i] = ca_memalign(4096, 60000); /* one block each */
    pa->node = ca_thread_node();
    ca_segment_t *s = (ca_segment_t *)ca_registry_lookup(ps[0]);
    pa->seg_node = (int)s->hdr.node;
    for (int i = 0; i < 4; i++)
        ca_free(ps[i]);
    pa->ok = 1;
    return NULL;
}

/* Threads on CPU 0 and CPU 1 of a fake topology. Prints what it saw. */
static int child_fake(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pin_arg_t args[2] = {{.cpu = 0}, {.cpu = 1}};
    int n = ncpu >= 2 ? 2 : 1;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        pthread_create(&t, NULL, pinned, &args[i]);
        pthread_join(t, NULL);
        if (!args[i].ok) return 20;
    }
    printf("nodes=%u\n", ca_numa_node_count());
    for (int i = 0; i < n; i++) {
        printf("cpu%d home=%d segment=%d\n", args[i].cpu, args[i].node, args[i].seg_node);
    }
    for (unsigned nd = 0; nd < ca_numa_node_count(); nd++)
        printf("node%u back=%u segments=%u\n", nd,
               ca_nodes[nd].cache_count + (unsigned)ca_nodes[nd].blocks_decommitted,
               ca_nodes[nd].nsegments);
    printf("bind=%d\n", ca_cfg.numa_bind);
    return 0;
}

/* ---- fake sysfs ---- */

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", fake_root, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_dirs(int nodes)
{
    char path[512];
    const char *parts[] = {"devices", "devices/system", "devices/system/node"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", fake_root, parts[i]);
        mkdir(path, 0755);
    }
    for (int n = 0; n < nodes; n++) {
        snprintf(path, sizeof(path), "%s/devices/system/node/node%d", fake_root, n);
        mkdir(path, 0755);
    }
}

static int run_child(const char *mode, const char *const env[], char *out, size_t cap)
{
    char *argv[] = {(char *)tu_self(), (char *)mode, NULL};
    return tu_run(argv, env, out, cap);
}

/* A fake topology of `nodes` nodes, all with memory, node i holding the CPUs
 * in cpus[i]; runs the "fake" child against it. */
static void run_fake(int nodes, const char *const cpus[], char *out, size_t cap)
{
    make_dirs(nodes);
    char list[32], rel[128];
    snprintf(list, sizeof(list), "0-%d\n", nodes - 1);
    write_file("devices/system/node/online", list);
    write_file("devices/system/node/has_memory", list);
    for (int n = 0; n < nodes; n++) {
        snprintf(rel, sizeof(rel), "devices/system/node/node%d/cpulist", n);
        snprintf(list, sizeof(list), "%s\n", cpus[n]);
        write_file(rel, list);
    }
    char env_root[300];
    snprintf(env_root, sizeof(env_root), "CONCORD_ARENA_SYSFS_ROOT=%s", fake_root);
    const char *env[] = {env_root, NULL};
    int st = run_child("fake", env, out, cap);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("status %d: %s", st, out);
}

/* ---- tests ---- */

static void test_placement_node0(void **state)
{
    (void)state;
    char out[4096];
    const char *env[] = {"CONCORD_ARENA_NUMA_NODE=0", NULL};
    int st = run_child("placement", env, out, sizeof(out));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail_msg("status %d: %s", st, out);
    assert_non_null(strstr(out, "nodes 0 0 0 bind 1"));
}

static void test_fake_two_nodes(void **state)
{
    (void)state;
    const char *cpus[] = {"0", "1"};
    char out[8192];
    run_fake(2, cpus, out, sizeof(out));
    print_message("%s", out);
    assert_non_null(strstr(out, "nodes=2"));
    assert_non_null(strstr(out, "cpu0 home=0 segment=0"));
    assert_non_null(strstr(out, "node0 back=4"));
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        assert_non_null(strstr(out, "cpu1 home=1 segment=1"));
        assert_non_null(strstr(out, "node1 back=4"));
        /* node 1 has no memory on a one-node machine: binding is turned off
         * with one warning, and the program goes on */
        if (strstr(out, "bind=0")) assert_int_equal(tu_count(out, "NUMA placement off"), 1);
    }
}

static void test_fake_four_nodes(void **state)
{
    (void)state;
    const char *cpus[] = {"", "0", "", "1-7"};
    char out[8192];
    run_fake(4, cpus, out, sizeof(out));
    assert_non_null(strstr(out, "nodes=4"));
    assert_non_null(strstr(out, "cpu0 home=1 segment=1"));
    assert_non_null(strstr(out, "node0 back=0"));
    assert_non_null(strstr(out, "node1 back=4"));
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
        assert_non_null(strstr(out, "cpu1 home=3 segment=3"));
        assert_non_null(strstr(out, "node3 back=4"));
        assert_non_null(strstr(out, "node2 back=0"));
    }
}

static void test_missing_node(void **state)
{
    (void)state;
    const char *env[] = {"CONCORD_ARENA_NUMA_NODE=7", NULL};
    char out[4096];
    int st = run_child("fake", env, out, sizeof(out));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(tu_count(out, "CONCORD_ARENA_NUMA_NODE=7: no such node"), 1);
    assert_non_null(strstr(out, "bind=0"));
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "placement")) return child_placement();
        if (!strcmp(argv[1], "fake")) return child_fake();
        return 99;
    }
    snprintf(fake_root, sizeof(fake_root), "/tmp/ca-sysfs-XXXXXX");
    if (mkdtemp(fake_root) == NULL) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placement_node0),
        cmocka_unit_test(test_fake_two_nodes),
        cmocka_unit_test(test_fake_four_nodes),
        cmocka_unit_test(test_missing_node),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_root);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
