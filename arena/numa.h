/*
 * Layer 5. The NUMA topology, read once from sysfs (through the platform, so
 * tests can point it at a fake tree), and each thread's home node.
 * Uses: options.h, util.h, os.h.
 */
#ifndef CA_NUMA_H
#define CA_NUMA_H

#include <stddef.h>

void ca_numa_init(void);
unsigned ca_numa_node_count(void);
int ca_numa_node_of_cpu(int cpu);
/* Does node `node` exist and have memory of its own? */
int ca_numa_node_has_memory(unsigned node);
/* Bind [p, p+size) to `node` (preferred): 0, or an errno value. Nothing to
 * do, and no system call, on a machine of one node. */
int ca_numa_bind(void *p, size_t size, unsigned node);
/* CONCORD_ARENA_NUMA_NODE, or the node of the CPU the thread runs on. */
unsigned ca_numa_home_node(void);

#endif
