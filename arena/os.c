/* Memory calls to the kernel. See os.h. */
#include "os.h"

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

int ca_os_unmap(void *p, size_t size)
{
    return munmap(p, size) == 0 ? 0 : errno;
}

int ca_os_decommit(void *p, size_t size)
{
    return madvise(p, size, MADV_DONTNEED) == 0 ? 0 : errno;
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
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}
