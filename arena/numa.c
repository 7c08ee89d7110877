/*
 * NUMA topology, read once from sysfs: which nodes are online and have
 * memory, and which CPU belongs to which node. The root defaults to /sys;
 * CONCORD_ARENA_SYSFS_ROOT points it at a fake tree so that tests can run
 * two- and four-node topologies on a one-node machine.
 */
#include "numa.h"

#include "options.h"
#include "os.h"
#include "util.h"

#include <string.h>

#define CA_MAX_CPUS 4096u

static uint64_t ca_online_nodes = 1; /* bit n: node n online */
static uint64_t ca_memory_nodes = 1; /* bit n: node n has memory */
static unsigned ca_node_count_v = 1;
static uint8_t ca_cpu_node[CA_MAX_CPUS]; /* node of each CPU + 1; 0: unknown (so only the
                                            entries of CPUs present are ever written) */

/* Read a small sysfs file into `out` (NUL-terminated); -1 if it cannot be read. */
/* Parse a list such as "0-3,8,10-11" and call `fn` for each number. */
static int ca_parse_list(const char *s, void (*fn)(unsigned v, void *arg), void *arg)
{
    while (*s == ' ' || *s == '\n')
        s++;
    while (*s) {
        if (*s < '0' || *s > '9') return -1;
        unsigned lo = 0, hi;
        while (*s >= '0' && *s <= '9')
            lo = lo * 10 + (unsigned)(*s++ - '0');
        hi = lo;
        if (*s == '-') {
            s++;
            if (*s < '0' || *s > '9') return -1;
            hi = 0;
            while (*s >= '0' && *s <= '9')
                hi = hi * 10 + (unsigned)(*s++ - '0');
        }
        for (unsigned v = lo; v <= hi && v < CA_MAX_CPUS; v++)
            fn(v, arg);
        if (*s == ',')
            s++;
        else if (*s == '\n' || *s == '\0')
            break;
        else
            return -1;
    }
    return 0;
}

static void ca_set_mask_bit(unsigned v, void *arg)
{
    if (v < CA_MAX_NODES) *(uint64_t *)arg |= (uint64_t)1 << v;
}

static void ca_set_cpu_node(unsigned cpu, void *arg)
{
    ca_cpu_node[cpu] = (uint8_t)((intptr_t)arg + 1);
}

static void ca_node_path(ca_buf_t *b, const char *root, const char *tail)
{
    ca_buf_str(b, root);
    ca_buf_str(b, "/devices/system/node/");
    ca_buf_str(b, tail);
}

void ca_numa_init(void)
{
    const char *root = ca_os_sysfs_root();
    if (ca_os_sysfs_root_override == NULL && strcmp(root, "/sys") != 0 &&
        !ca_os_is_directory(root)) {
        ca_message("ignoring CONCORD_ARENA_SYSFS_ROOT=", root,
                   ": expected a directory; using the default /sys", NULL);
        root = "/sys";
    }
    char path[512], text[4096];
    ca_buf_t b;

    ca_buf_init(&b, path, sizeof(path) - 1, -1);
    ca_node_path(&b, root, "online");
    path[b.len] = '\0';
    uint64_t online = 0;
    if (ca_os_read_file(path, text, sizeof(text)) != 0 ||
        ca_parse_list(text, ca_set_mask_bit, &online) != 0 || online == 0)
        online = 1; /* no NUMA information: one node */
    ca_online_nodes = online;

    ca_buf_init(&b, path, sizeof(path) - 1, -1);
    ca_node_path(&b, root, "has_memory");
    path[b.len] = '\0';
    uint64_t mem = 0;
    if (ca_os_read_file(path, text, sizeof(text)) != 0 ||
        ca_parse_list(text, ca_set_mask_bit, &mem) != 0)
        mem = online;
    ca_memory_nodes = mem & online;

    unsigned count = 0;
    for (unsigned n = 0; n < CA_MAX_NODES; n++) {
        if (!(online & ((uint64_t)1 << n))) continue;
        count = n + 1;
        ca_buf_init(&b, path, sizeof(path) - 1, -1);
        ca_node_path(&b, root, "node");
        ca_buf_u64(&b, n);
        ca_buf_str(&b, "/cpulist");
        path[b.len] = '\0';
        if (ca_os_read_file(path, text, sizeof(text)) == 0)
            ca_parse_list(text, ca_set_cpu_node, (void *)(intptr_t)n);
    }
    ca_node_count_v = count ? count : 1;
}

unsigned ca_numa_node_count(void)
{
    return ca_node_count_v;
}

int ca_numa_node_of_cpu(int cpu)
{
    if (cpu < 0 || (unsigned)cpu >= CA_MAX_CPUS) return -1;
    return (int)ca_cpu_node[cpu] - 1;
}

int ca_numa_node_has_memory(unsigned node)
{
    return node < CA_MAX_NODES && (ca_memory_nodes & ((uint64_t)1 << node)) != 0;
}

unsigned ca_numa_home_node(void)
{
    if (ca_cfg.numa_node >= 0) return (unsigned)ca_cfg.numa_node;
    int node = ca_numa_node_of_cpu(ca_os_current_cpu());
    /* a CPU of a node without memory: the lowest node that has some */
    if (node < 0 || !ca_numa_node_has_memory((unsigned)node))
        return ca_memory_nodes ? (unsigned)__builtin_ctzll(ca_memory_nodes) : 0;
    return (unsigned)node;
}

int ca_numa_bind(void *p, size_t size, unsigned node)
{
    if (ca_numa_node_count() < 2) return 0;
    return ca_os_bind(p, size, node);
}
