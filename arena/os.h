/*
 * Layer 0, the platform: the only door to the kernel (and to the C library's
 * system wrappers). Nothing else in arena/ calls mmap, munmap, madvise,
 * process_madvise, mremap, mbind, get_mempolicy, getcpu, clock_gettime,
 * getauxval, getenv, open, read, write, stat, fstat, fcntl, close, getpid,
 * sched_yield, abort, sigaction, sigprocmask, pthread_create, futex, gettid
 * or tgkill.
 *
 * Every function states what it needs; those that can fail answer 0 / a
 * pointer on success and an errno value / NULL / -1 on failure, and leave
 * errno as it was unless they say otherwise. Tests steer four things through
 * hooks here: failed mappings (ca_os_fail_after), the clock
 * (ca_os_clock_skew_ms), the sysfs root (ca_os_sysfs_root) and whether many
 * ranges are given back in one call (ca_os_no_vector).
 */
#ifndef CA_OS_H
#define CA_OS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Page size in bytes, read once. */
size_t ca_os_page_size(void);

/* `n` rounded up to a multiple of the page size. */
static inline size_t ca_page_round(size_t n)
{
    size_t ps = ca_os_page_size();
    return (n + ps - 1) & ~(ps - 1);
}

/* Map `size` bytes (a multiple of the page size) read-write, aligned to `align`
 * (a power of two, at least a page). NULL when the OS says no. */
void *ca_os_map_aligned(size_t size, size_t align);

/* Reserve `size` bytes of zeroed address space whose pages get memory only
 * when written (MAP_NORESERVE); NULL when the OS says no. */
void *ca_os_reserve(size_t size);

/* Reserve `size` bytes of address space that read as zero, cannot be written,
 * hold no memory and stay out of core dumps; NULL when the OS says no.
 * ca_os_commit makes parts of it writable. */
void *ca_os_reserve_readable(size_t size);

/* Make `size` bytes of a ca_os_reserve_readable range read-write (pages get
 * memory when touched, and go into core dumps); 0, or an errno value (the
 * failure hook applies). */
int ca_os_commit(void *p, size_t size);

/* Bytes of address space the process may map in all (RLIMIT_AS), SIZE_MAX
 * when unlimited. */
size_t ca_os_address_limit(void);

/* Unmap a range that ca_os_map_aligned or ca_os_remap gave. */
int ca_os_unmap(void *p, size_t size);

/* Give the pages of a range back; they read as zero when touched again. */
int ca_os_decommit(void *p, size_t size);

/* The same for the ranges v[0..n), n at most CA_OS_RANGES_MAX: in one system
 * call where the kernel takes it (process_madvise on the process itself,
 * Linux 6.15 and later), so that the other CPUs' TLBs are flushed once, not
 * once a range; else one madvise a range. 0, or the errno value of a range
 * that failed. */
#define CA_OS_RANGES_MAX 64u
int ca_os_decommit_ranges(const struct iovec *v, unsigned n);
/* Nonzero: one madvise a range. Set on the first call that the kernel does
 * not take (or by a test). */
extern _Atomic int ca_os_no_vector;

/* Move the pages of [src, src+len) to [dst, dst+len) without copying
 * (whatever was mapped at dst goes; src is left unmapped). The source may
 * span several mappings (moved one piece at a time). 0, or an errno value:
 * then some of the pages may have moved. */
int ca_os_move(void *src, size_t len, void *dst);

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

/* For each of the `n` pages in `pages`, the node it is on, or a negative
 * errno value (-ENOENT: not resident) in `status` (move_pages without moving).
 * 0, or -1 when the call failed. */
int ca_os_pages_nodes(void **pages, int *status, unsigned long n);

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
void ca_os_wake(_Atomic uint32_t *word); /* leaves errno alone */

/* Test hook: added to every ca_os_now_ms reading, so tests move time on. */
extern _Atomic uint32_t ca_os_clock_skew_ms;

/* ---- environment, randomness, files ---- */

/* The value of environment variable `name`, ignored in a setuid program
 * (secure_getenv); NULL when unset. */
const char *ca_os_getenv(const char *name);

/* 64 random bits from the kernel's AT_RANDOM (the bytes glibc does not use for
 * its stack guard), mixed with an address; never 0. */
uint64_t ca_os_random(void);

/* Read file `path` into `out` (NUL-terminated, at most cap - 1 bytes).
 * 0, or -1 when it cannot be opened. */
int ca_os_read_file(const char *path, char *out, size_t cap);

/* Is `path` a directory (one that stat can reach)? */
int ca_os_is_directory(const char *path);

/* Where the NUMA topology is read: CONCORD_ARENA_SYSFS_ROOT, or "/sys", unless
 * a test set ca_os_sysfs_root first. */
const char *ca_os_sysfs_root(void);
extern const char *ca_os_sysfs_root_override;

/* Write all of `s` to `fd`, retrying short writes and EINTR; errno kept. */
void ca_os_write(int fd, const char *s, size_t n);

/* Open `path` for appending (created 0644, close-on-exec), on a descriptor of
 * 100 or above, out of the way of the program's own; -1 on failure. */
int ca_os_open_append(const char *path);

/* A close-on-exec duplicate of `fd` numbered 100 or above, or -1. */
int ca_os_dup_high(int fd);

/* The (device, inode) `fd` refers to; -1 when it is not open. */
int ca_os_fd_identity(int fd, uint64_t *dev, uint64_t *ino);

void ca_os_close(int fd);
int ca_os_getpid(void);
void ca_os_yield(void);
_Noreturn void ca_os_abort(void);

/* ---- signals and threads ---- */

struct sigaction;
/* The C library's own sigaction (not the one this library exports). */
int ca_os_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
/* sigprocmask, for the calling thread. */
int ca_os_sigprocmask(int how, const void *set, void *old);
/* Block every signal in the calling thread; the previous mask goes to `saved`
 * (a sigset_t). ca_os_restore_signals puts it back. */
void ca_os_block_signals(void *saved);
void ca_os_restore_signals(const void *saved);

/* Start a detached thread running fn(NULL) with every signal blocked and a
 * small stack; 0 or an errno value. */
int ca_os_thread_start(void *(*fn)(void *));

/* Test hook: when positive, that many more mappings succeed, then every
 * mapping fails until it is reset to 0. */
extern _Atomic long ca_os_fail_after;

#endif
