/*
 * C++'s operator new and delete, the forms libstdc++ declares, written in C
 * under their mangled names (as jemalloc, mimalloc and tcmalloc export them),
 * so that a C++ program's `new` and `delete` reach the core's fast paths
 * without a hop through libstdc++. The size of a sized delete is not needed:
 * the pointer says where the object lives, and a bad pointer is reported as
 * for free.
 *
 * operator new that finds no memory calls the program's new-handler and tries
 * again; with no handler it throws std::bad_alloc through libstdc++. Both
 * libstdc++ functions are weak references, bound whenever a C++ program runs
 * (libstdc++ loaded); without them (a C program calling the mangled names) it
 * reports and aborts, as mimalloc does. The nothrow forms of new are left to
 * libstdc++ (see below).
 */
#include "concord.h"

#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define CA_EXPORT __attribute__((visibility("default")))

typedef void (*ca_new_handler_t)(void);
/* std::get_new_handler() and std::__throw_bad_alloc() */
extern ca_new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn));

/* `align` 0: plain new. */
static void *ca_new_try(size_t n, size_t align)
{
    return align == 0 ? ca_malloc(n) : ca_memalign(align, n);
}

static __attribute__((noinline)) void *ca_new_retry(size_t n, size_t align)
{
    for (;;) {
        ca_new_handler_t h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
        if (h == NULL) {
            if (_ZSt17__throw_bad_allocv) _ZSt17__throw_bad_allocv();
            static const char msg[] = "concordarena: operator new: out of memory; aborting\n";
            (void)!write(2, msg, sizeof(msg) - 1);
            abort();
        }
        h();
        void *p = ca_new_try(n, align);
        if (p != NULL) return p;
    }
}

static inline void *ca_new(size_t n, size_t align)
{
    void *p = ca_new_try(n, align);
    return p != NULL ? p : ca_new_retry(n, align);
}

/* operator new, new[]: plain and aligned. The nothrow forms are libstdc++'s,
 * which call these inside a try block: the new-handler runs, and whatever it
 * throws becomes NULL, as the standard says (C cannot catch). */
CA_EXPORT void *_Znwm(size_t n)
{
    return ca_new(n, 0);
}
CA_EXPORT void *_Znam(size_t n)
{
    return ca_new(n, 0);
}
CA_EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t align)
{
    return ca_new(n, align);
}
CA_EXPORT void *_ZnamSt11align_val_t(size_t n, size_t align)
{
    return ca_new(n, align);
}
/* operator delete, delete[]: plain, sized, nothrow, aligned, sized aligned,
 * aligned nothrow */
CA_EXPORT void _ZdlPv(void *p)
{
    ca_free(p);
}
CA_EXPORT void _ZdaPv(void *p)
{
    ca_free(p);
}
CA_EXPORT void _ZdlPvm(void *p, size_t n)
{
    (void)n;
    ca_free(p);
}
CA_EXPORT void _ZdaPvm(void *p, size_t n)
{
    (void)n;
    ca_free(p);
}
CA_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *tag)
{
    (void)tag;
    ca_free(p);
}
CA_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *tag)
{
    (void)tag;
    ca_free(p);
}
CA_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t align)
{
    (void)align;
    ca_free(p);
}
CA_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t align)
{
    (void)align;
    ca_free(p);
}
CA_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t align)
{
    (void)n;
    (void)align;
    ca_free(p);
}
CA_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t align)
{
    (void)n;
    (void)align;
    ca_free(p);
}
CA_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag)
{
    (void)align;
    (void)tag;
    ca_free(p);
}
CA_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t align, const void *tag)
{
    (void)align;
    (void)tag;
    ca_free(p);
}
