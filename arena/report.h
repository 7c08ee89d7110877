/*
 * Layer 6. Reports of bad pointers: one line naming the call, the pointer and
 * what is wrong, then abort() unless CONCORD_ARENA_ABORT_ON_ERROR=0 (then
 * reported up to a limit, counted, and the count given at exit).
 * Uses: options.h, util.h, os.h.
 */
#ifndef CA_REPORT_H
#define CA_REPORT_H

#include <stdint.h>

/* What is wrong with a pointer given to free, realloc or malloc_usable_size. */
enum ca_bad_pointer { CA_BAD_NOT_OURS, CA_BAD_INTERIOR, CA_BAD_FREED, CA_BAD_NEVER };

void ca_report_bad(const char *call, const void *p, enum ca_bad_pointer why);
/* At exit: how many bad pointers went unreported past the rate limit. */
void ca_report_bad_summary(void);

#endif
