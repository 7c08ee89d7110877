/*
 * The only door to the kernel's memory calls. Every function states what it
 * needs and answers 0 / a pointer on success, an errno value / NULL on failure.
 * Nothing else in the project calls mmap, munmap, madvise, mremap or mbind.
 */
#ifndef CA_OS_H
#define CA_OS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Page size in bytes, read once. */
size_t ca_os_page_size(void);

/* Map `size` bytes (a multiple of the page size) read-write, aligned to `align`
 * (a power of two, at least a page). NULL when the OS says no. */
void *ca_os_map_aligned(size_t size, size_t align);

/* Unmap a range that ca_os_map_aligned or ca_os_remap gave. */
int ca_os_unmap(void *p, size_t size);

/* Give the pages of a range back; they read as zero when touched again. */
int ca_os_decommit(void *p, size_t size);

/* Resize a mapping in place (MREMAP without MAYMOVE). */
int ca_os_resize_in_place(void *p, size_t old_size, size_t new_size);

/* Move a mapping to a fresh range aligned to `align`; NULL when impossible. */
void *ca_os_remap_aligned(void *p, size_t old_size, size_t new_size, size_t align);

/* Prefer node `node` for the pages of a range (mbind MPOL_PREFERRED). */
int ca_os_bind(void *p, size_t size, unsigned node);

/* CPU the calling thread runs on, or -1. */
int ca_os_current_cpu(void);

/* Node the page at `p` lives on (get_mempolicy MPOL_F_NODE|MPOL_F_ADDR), or -1. */
int ca_os_page_node(void *p);

/* Kernel id of the calling thread (gettid). */
int ca_os_thread_id(void);

/* 0 when thread `tid` of this process has exited (tgkill says ESRCH); 1 when
 * it may still run. */
int ca_os_thread_alive(int tid);

/* Milliseconds of a coarse monotonic clock, wrapping; plus ca_os_clock_skew_ms. */
uint32_t ca_os_now_ms(void);

/* Sleep while *word == expected, at most `ms` milliseconds (0: no limit);
 * spurious wake-ups allowed. Wake every sleeper on `word`. */
void ca_os_wait(_Atomic uint32_t *word, uint32_t expected, uint32_t ms);
void ca_os_wake(_Atomic uint32_t *word);

/* Test hook: added to every ca_os_now_ms reading, so tests move time on. */
extern _Atomic uint32_t ca_os_clock_skew_ms;

/* Test hook: when positive, that many more mappings succeed, then every
 * mapping fails until it is reset to 0. */
extern _Atomic long ca_os_fail_after;

#endif
