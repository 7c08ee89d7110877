/*
 * Layer 17. Start-up (lazily, from whichever entry point comes first,
 * possibly before our constructor), fork handlers, the at-exit dump.
 * Uses: every layer below.
 */
#ifndef CA_INIT_H
#define CA_INIT_H

#include "util.h"

#include <stdatomic.h>

extern _Atomic int ca_init_state; /* 0 none, 1 running, 2 done */
void ca_init(void);
static inline void ca_ensure_init(void)
{
    if (ca_unlikely(__atomic_load_n((int *)&ca_init_state, __ATOMIC_ACQUIRE) != 2)) ca_init();
}

#endif
