/*
 * Layer 18. free: the owner's push inline, the remote push, and every other
 * pointer sorted out by ca_locate (aligned, large, huge, bad).
 * Uses: init.h, huge.h, large.h, arena.h, report.h, registry.h, segment.h,
 * sizeclass.h, options.h, util.h.
 */
#ifndef CA_FREE_H
#define CA_FREE_H

#include <stddef.h>

/* Bytes usable from `p` to the end of what it owns; a bad pointer is
 * reported naming `call`, and 0 returned. */
size_t ca_usable_size_of(const void *p, const char *call);

#endif
