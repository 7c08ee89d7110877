/*
 * Layer 15. The statistics signal: our handler installed at start when the
 * signal has its default disposition, and SIG_DFL as the answer to every
 * query while it is there (behind the exported sigaction, signal, ...).
 * Uses: stats.h, options.h, util.h, os.h.
 */
#ifndef CA_STATSIGNAL_H
#define CA_STATSIGNAL_H

/* Install the dump handler if the signal has its default disposition. */
void ca_stats_install_signal(void);
void ca_signal_after_fork_child(void);

#endif
