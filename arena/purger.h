/*
 * Layer 16. The optional background purger (CONCORD_ARENA_BACKGROUND_PURGE).
 * Uses: arena.h, segment.h, options.h, util.h, os.h.
 */
#ifndef CA_PURGER_H
#define CA_PURGER_H

/* Start the thread once; call with no lock of ours held (it allocates). */
void ca_purger_start(void);
void ca_purger_after_fork_child(void);

#endif
