/*
 * The exported face of libconcordarena.so: one line per symbol, forwarding
 * to the core. Everything else in the library is hidden.
 */
#include "concord.h"

#include <malloc.h>
#include <signal.h>
#include <string.h>

#define CA_EXPORT __attribute__((visibility("default")))

CA_EXPORT void *malloc(size_t n)
{
    return ca_malloc(n);
}
CA_EXPORT void free(void *p)
{
    ca_free(p);
}
CA_EXPORT void *calloc(size_t c, size_t n)
{
    return ca_calloc(c, n);
}
CA_EXPORT void *realloc(void *p, size_t n)
{
    return ca_realloc(p, n);
}
CA_EXPORT void *reallocarray(void *p, size_t c, size_t n)
{
    return ca_reallocarray(p, c, n);
}
CA_EXPORT int posix_memalign(void **out, size_t a, size_t n)
{
    return ca_posix_memalign(out, a, n);
}
CA_EXPORT void *aligned_alloc(size_t a, size_t n)
{
    return ca_aligned_alloc(a, n);
}
CA_EXPORT void *memalign(size_t a, size_t n)
{
    return ca_memalign(a, n);
}
CA_EXPORT void *valloc(size_t n)
{
    return ca_valloc(n);
}
CA_EXPORT void *pvalloc(size_t n)
{
    return ca_pvalloc(n);
}
CA_EXPORT size_t malloc_usable_size(void *p)
{
    return ca_malloc_usable_size(p);
}
CA_EXPORT void cfree(void *p)
{
    ca_free(p);
}

/* glibc's internal names, which some programs and libraries call directly. */
CA_EXPORT void *__libc_malloc(size_t n)
{
    return ca_malloc(n);
}
CA_EXPORT void __libc_free(void *p)
{
    ca_free(p);
}
CA_EXPORT void *__libc_calloc(size_t c, size_t n)
{
    return ca_calloc(c, n);
}
CA_EXPORT void *__libc_realloc(void *p, size_t n)
{
    return ca_realloc(p, n);
}
CA_EXPORT void *__libc_memalign(size_t a, size_t n)
{
    return ca_memalign(a, n);
}
CA_EXPORT void *__libc_valloc(size_t n)
{
    return ca_valloc(n);
}
CA_EXPORT void *__libc_pvalloc(size_t n)
{
    return ca_pvalloc(n);
}
CA_EXPORT int __posix_memalign(void **out, size_t a, size_t n)
{
    return ca_posix_memalign(out, a, n);
}

/* Harmless answers from our own counters. */
CA_EXPORT int malloc_trim(size_t pad)
{
    (void)pad;
    ca_trim();
    return 1;
}

CA_EXPORT void malloc_stats(void)
{
    ca_stats_dump(2, 0);
}

CA_EXPORT int mallopt(int param, int value)
{
    (void)param;
    (void)value;
    return 1; /* accepted; our tuning is through CONCORD_ARENA_* variables */
}

CA_EXPORT struct mallinfo2 mallinfo2(void)
{
    ca_totals_t t;
    ca_stats_totals(&t);
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof(mi));
    size_t in_use = t.in_use > 0 ? (size_t)t.in_use : 0;
    mi.arena = t.mapped_bytes;
    mi.ordblks = t.blocks_cached;
    mi.hblks = t.huge_maps;
    mi.uordblks = in_use;
    mi.fordblks = t.mapped_bytes > in_use ? t.mapped_bytes - in_use : 0;
    mi.keepcost = (size_t)t.blocks_cached * t.block_size;
    mi.usmblks = t.peak > 0 ? (size_t)t.peak : 0;
    return mi;
}

CA_EXPORT struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo mi;
#define CA_CLAMP(v) ((int)((v) > 0x7fffffff ? 0x7fffffff : (v)))
    mi.arena = CA_CLAMP(m2.arena);
    mi.ordblks = CA_CLAMP(m2.ordblks);
    mi.smblks = CA_CLAMP(m2.smblks);
    mi.hblks = CA_CLAMP(m2.hblks);
    mi.hblkhd = CA_CLAMP(m2.hblkhd);
    mi.usmblks = CA_CLAMP(m2.usmblks);
    mi.fsmblks = CA_CLAMP(m2.fsmblks);
    mi.uordblks = CA_CLAMP(m2.uordblks);
    mi.fordblks = CA_CLAMP(m2.fordblks);
    mi.keepcost = CA_CLAMP(m2.keepcost);
    return mi;
}

/* Signal dispositions: the statistics signal answers SIG_DFL while the
 * library's handler stands on it. glibc's signal() and its relatives call its
 * sigaction internally, so each of them is exported here too. */
CA_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return ca_sigaction(sig, act, old);
}
CA_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
    return ca_signal_bsd(sig, handler);
}
CA_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
    return ca_signal_bsd(sig, handler);
}
CA_EXPORT sighandler_t ssignal(int sig, sighandler_t handler)
{
    return ca_signal_bsd(sig, handler);
}
CA_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
    return ca_signal_sysv(sig, handler);
}
CA_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler)
{
    return ca_signal_sysv(sig, handler);
}
CA_EXPORT sighandler_t sigset(int sig, sighandler_t disp)
{
    return ca_sigset(sig, disp);
}
CA_EXPORT int sigignore(int sig)
{
    return ca_sigignore(sig);
}
CA_EXPORT int siginterrupt(int sig, int interrupt)
{
    return ca_siginterrupt(sig, interrupt);
}
