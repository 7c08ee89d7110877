/* Helpers for the tests linked with the core (they call ca_* directly). */
#ifndef CA_TEST_CORE_UTIL_H
#define CA_TEST_CORE_UTIL_H

#include "concord.h"

#include <stdint.h>

/* The statistics totals now. */
static inline ca_totals_t tu_totals(void)
{
    ca_totals_t t;
    ca_stats_totals(&t);
    return t;
}

/* Blocks waiting in the node caches now. */
static inline uint64_t tu_cached(void)
{
    return tu_totals().blocks_cached;
}

#endif
