/* The platform layer: every call into the kernel. See os.h. */
#include "os.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if CA_HAVE_NUMAIF
#include <numaif.h>
#else
#define MPOL_PREFERRED 1
#define MPOL_F_NODE    (1 << 0)
#define MPOL_F_ADDR    (1 << 1)
static long mbind(void *addr, unsigned long len, int mode, const unsigned long *nodemask,
                  unsigned long maxnode, unsigned flags)
{
    return syscall(SYS_mbind, addr, len, mode, nodemask, maxnode, flags);
}
static long get_mempolicy(int *mode, unsigned long *nodemask, unsigned long maxnode, void *addr,
                          unsigned long flags)
{
    return syscall(SYS_get_mempolicy, mode, nodemask, maxnode, addr, flags);
}
#endif

_Atomic long ca_os_fail_after = 0;

static size_t ca_page_size_cached;

size_t ca_os_page_size(void)
{
    if (ca_page_size_cached == 0) {
        long ps = sysconf(_SC_PAGESIZE);
        ca_page_size_cached = ps > 0 ? (size_t)ps : 4096;
    }
    return ca_page_size_cached;
}

/* The test hook: 0 means off. */
static int ca_os_injected_failure(void)
{
    long n = atomic_load_explicit(&ca_os_fail_after, memory_order_relaxed);
    if (n == 0) return 0;
    if (n > 1) {
        atomic_fetch_sub_explicit(&ca_os_fail_after, 1, memory_order_relaxed);
        return 0;
    }
    return 1; /* n == 1 (exhausted) or negative: fail */
}

void *ca_os_map_aligned(size_t size, size_t align)
{
    if (ca_os_injected_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    if (size + align < size) return NULL;
    int prot = PROT_READ | PROT_WRITE;
    int flags = MAP_PRIVATE | MAP_ANONYMOUS;
    /* Try the exact size first: the kernel often places it aligned already. */
    void *p = mmap(NULL, size, prot, flags, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (((uintptr_t)p & (align - 1)) == 0) return p;
    munmap(p, size);
    size_t over = size + align;
    char *raw = mmap(NULL, over, prot, flags, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *aligned = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    size_t head = (size_t)(aligned - raw);
    size_t tail = over - head - size;
    if (head) munmap(raw, head);
    if (tail) munmap(aligned + size, tail);
    return aligned;
}

void *ca_os_reserve(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *ca_os_reserve_readable(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    madvise(p, size, MADV_DONTDUMP); /* a core piped out would be this size in zeros */
    return p;
}

int ca_os_commit(void *p, size_t size)
{
    if (ca_os_injected_failure()) return ENOMEM;
    if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0) return errno;
    madvise(p, size, MADV_DODUMP);
    return 0;
}

size_t ca_os_address_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_AS, &r) != 0 || r.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
    return (size_t)r.rlim_cur;
}

int ca_os_unmap(void *p, size_t size)
{
    return munmap(p, size) == 0 ? 0 : errno;
}

int ca_os_decommit(void *p, size_t size)
{
    return madvise(p, size, MADV_DONTNEED) == 0 ? 0 : errno;
}

#ifndef SYS_process_madvise
#define SYS_process_madvise 440 /* the same on every architecture */
#endif
#define CA_PIDFD_SELF (-10000) /* linux/pidfd.h's PIDFD_SELF (6.15) */

/* Set once process_madvise turned out not to take our call: missing
 * (ENOSYS), an older kernel that does not know PIDFD_SELF (EBADF) or will
 * not take MADV_DONTNEED from it (EINVAL), a seccomp filter (EPERM). Every
 * range then takes its own madvise. */
_Atomic int ca_os_no_vector;

int ca_os_decommit_ranges(const struct iovec *v, unsigned n)
{
    unsigned i = 0;
    if (n > 1 && !atomic_load_explicit(&ca_os_no_vector, memory_order_relaxed)) {
        int saved = errno;
        long done = syscall(SYS_process_madvise, CA_PIDFD_SELF, v, (size_t)n, MADV_DONTNEED, 0u);
        if (done < 0) {
            if (errno != EINTR && errno != EAGAIN && errno != ENOMEM)
                atomic_store_explicit(&ca_os_no_vector, 1, memory_order_relaxed);
            done = 0;
        }
        errno = saved;
        /* It stops at a range it cannot advise: madvise from that one on
         * says why. */
        for (; i < n && (size_t)done >= v[i].iov_len; i++)
            done -= (long)v[i].iov_len;
    }
    int rc = 0;
    for (; i < n; i++) {
        int r = ca_os_decommit(v[i].iov_base, v[i].iov_len);
        if (r != 0) rc = r;
    }
    return rc;
}

int ca_os_move(void *src, size_t len, void *dst)
{
    if (mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != MAP_FAILED) return 0;
    size_t ps = ca_os_page_size();
    if (errno != EFAULT || len <= ps) return errno;
    /* The range spans mappings (pages moved in from several): halves. */
    size_t half = ca_page_round(len / 2);
    int rc = ca_os_move(src, half, dst);
    if (rc != 0) return rc;
    return ca_os_move((char *)src + half, len - half, (char *)dst + half);
}

int ca_os_resize_in_place(void *p, size_t old_size, size_t new_size)
{
    if (new_size > old_size && ca_os_injected_failure()) return ENOMEM;
    void *q = mremap(p, old_size, new_size, 0);
    return q == MAP_FAILED ? errno : 0;
}

void *ca_os_remap_aligned(void *p, size_t old_size, size_t new_size, size_t align)
{
    /* Reserve an aligned range, then move the pages into it. */
    void *dst = ca_os_map_aligned(new_size, align);
    if (dst == NULL) return NULL;
    void *q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
    if (q == MAP_FAILED) {
        munmap(dst, new_size);
        return NULL;
    }
    return q;
}

int ca_os_bind(void *p, size_t size, unsigned node)
{
    unsigned long mask[16] = {0};
    if (node >= sizeof(mask) * 8) return EINVAL;
    mask[node / (8 * sizeof(unsigned long))] = 1ul << (node % (8 * sizeof(unsigned long)));
    long rc = mbind(p, size, MPOL_PREFERRED, mask, sizeof(mask) * 8, 0);
    return rc == 0 ? 0 : errno;
}

int ca_os_current_cpu(void)
{
    unsigned cpu = 0;
    if (syscall(SYS_getcpu, &cpu, NULL, NULL) != 0) return -1;
    return (int)cpu;
}

int ca_os_pages_nodes(void **pages, int *status, unsigned long n)
{
    int saved = errno;
    long rc = syscall(SYS_move_pages, 0, n, pages, NULL, status, 0);
    errno = saved;
    return rc == 0 ? 0 : -1;
}

int ca_os_page_node(void *p)
{
    int node = -1;
    if (get_mempolicy(&node, NULL, 0, p, MPOL_F_NODE | MPOL_F_ADDR) != 0) return -1;
    return node;
}

int ca_os_thread_id(void)
{
    return (int)syscall(SYS_gettid);
}

int ca_os_thread_alive(int tid)
{
    if (tid <= 0) return 1;
    return syscall(SYS_tgkill, getpid(), tid, 0) == 0 || errno != ESRCH;
}

_Atomic uint32_t ca_os_clock_skew_ms = 0;

uint32_t ca_os_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u) +
           atomic_load_explicit(&ca_os_clock_skew_ms, memory_order_relaxed);
}

void ca_os_wait(_Atomic uint32_t *word, uint32_t expected, uint32_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};
    int saved = errno;
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, ms ? &ts : NULL, NULL, 0);
    errno = saved;
}

void ca_os_wake(_Atomic uint32_t *word)
{
    int saved = errno; /* callers include free, which must leave errno alone */
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
    errno = saved;
}

const char *ca_os_getenv(const char *name)
{
    return secure_getenv(name);
}

uint64_t ca_os_random(void)
{
    uint64_t s = (uint64_t)(uintptr_t)&s * 0x9e3779b97f4a7c15ull;
    const unsigned char *r = (const unsigned char *)getauxval(AT_RANDOM);
    if (r != NULL) {
        uint64_t v;
        memcpy(&v, r + 8, sizeof(v)); /* glibc uses the first 8 for its stack guard */
        s ^= v;
    }
    return s | 1;
}

int ca_os_read_file(const char *path, char *out, size_t cap)
{
    int saved = errno;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errno = saved;
        return -1;
    }
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t r = read(fd, out + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    out[len] = '\0';
    errno = saved;
    return 0;
}

int ca_os_is_directory(const char *path)
{
    int saved = errno;
    struct stat st;
    int yes = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    errno = saved;
    return yes;
}

const char *ca_os_sysfs_root_override;

const char *ca_os_sysfs_root(void)
{
    if (ca_os_sysfs_root_override != NULL) return ca_os_sysfs_root_override;
    const char *root = secure_getenv("CONCORD_ARENA_SYSFS_ROOT");
    return root != NULL && *root != '\0' ? root : "/sys";
}

void ca_os_write(int fd, const char *s, size_t n)
{
    int saved = errno;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        s += w;
        n -= (size_t)w;
    }
    errno = saved;
}

int ca_os_dup_high(int fd)
{
    int saved = errno;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
    errno = saved;
    return high;
}

int ca_os_open_append(const char *path)
{
    int saved = errno;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0 && fd < 100) {
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);
        if (high >= 0) {
            close(fd);
            fd = high;
        }
    }
    errno = saved;
    return fd;
}

int ca_os_fd_identity(int fd, uint64_t *dev, uint64_t *ino)
{
    int saved = errno;
    struct stat st;
    int r = fstat(fd, &st);
    errno = saved;
    if (r != 0) return -1;
    *dev = (uint64_t)st.st_dev;
    *ino = (uint64_t)st.st_ino;
    return 0;
}

void ca_os_close(int fd)
{
    int saved = errno;
    close(fd);
    errno = saved;
}

int ca_os_getpid(void)
{
    return (int)getpid();
}

void ca_os_yield(void)
{
    sched_yield();
}

_Noreturn void ca_os_abort(void)
{
    abort();
}

/* In libconcordarena.so the name `sigaction` is the library's own exported
 * wrapper; glibc exports its implementation as `__sigaction` too, which is
 * what this calls. Under a sanitizer the core is linked into the test
 * program and the sanitizer's runtime must see every handler: `sigaction`. */
#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) ||                               \
    __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ca_real_sigaction sigaction
#else
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
#define ca_real_sigaction __sigaction
#endif

int ca_os_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return ca_real_sigaction(sig, act, old);
}

int ca_os_sigprocmask(int how, const void *set, void *old)
{
    return sigprocmask(how, (const sigset_t *)set, (sigset_t *)old);
}

void ca_os_block_signals(void *saved)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, (sigset_t *)saved);
}

void ca_os_restore_signals(const void *saved)
{
    pthread_sigmask(SIG_SETMASK, (const sigset_t *)saved, NULL);
}

int ca_os_thread_start(void *(*fn)(void *))
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits a full mask */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 << 10);
    pthread_t t;
    int rc = pthread_create(&t, &attr, fn, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
