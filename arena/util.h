/*
 * Layer 1. Async-signal-safe formatting into a caller's buffer, one-line
 * messages on stderr, and the compiler macros every file uses. No malloc, no
 * stdio: output goes through the platform's ca_os_write.
 * Uses: os.h.
 */
#ifndef CA_UTIL_H
#define CA_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ca_likely(x)   __builtin_expect(!!(x), 1)
#define ca_unlikely(x) __builtin_expect(!!(x), 0)
#define ca_noinline    __attribute__((noinline))
/* A large zeroed array that is touched little or not at all (the registry's
 * top table, the dump's buffer): placed after the rest of .bss (in .lbss),
 * so the small globals used at every start share pages instead of each
 * touching a page between two such arrays. */
#define ca_sparse_bss __attribute__((section(".lbss")))

/* v < *bound, *bound read as a relaxed atomic load that the compare itself
 * does (another thread may be raising it). */
static inline int ca_below_relaxed(uint64_t v, const uint64_t *bound)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__) && !defined(__SANITIZE_THREAD__)
    int below;
    __asm__("cmpq %2, %1" : "=@ccb"(below) : "r"(v), "m"(*bound));
    return below;
#else
    return v < __atomic_load_n(bound, __ATOMIC_RELAXED);
#endif
}

/* --*v <= 0, as one decrement of memory and a branch on its flags (not
 * atomic: for a counter only its owner writes). */
static inline int ca_dec_le_zero(int32_t *v)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
    int le;
    __asm__("decl %0" : "+m"(*v), "=@ccle"(le));
    return le;
#else
    return --*v <= 0;
#endif
}

#if CA_DEBUG
#define ca_assert(x) ((x) ? (void)0 : ca_assert_fail(#x, __FILE__, __LINE__))
#else
#define ca_assert(x) ((void)0)
#endif
_Noreturn void ca_assert_fail(const char *what, const char *file, int line);

typedef struct ca_buf_s {
    char *p;    /* start */
    size_t len; /* bytes used */
    size_t cap; /* bytes available */
    int fd;     /* where ca_buf_flush writes; -1 to never flush */
} ca_buf_t;

void ca_buf_init(ca_buf_t *b, char *mem, size_t cap, int fd);
void ca_buf_str(ca_buf_t *b, const char *s);
void ca_buf_mem(ca_buf_t *b, const char *s, size_t n);
void ca_buf_u64(ca_buf_t *b, uint64_t v);
void ca_buf_i64(ca_buf_t *b, int64_t v);
void ca_buf_hex(ca_buf_t *b, uintptr_t v);
/* Spaces up to `width` bytes since offset `from`. */
void ca_buf_pad(ca_buf_t *b, size_t width, size_t from);
/* Write what is buffered to b->fd (when >= 0) and empty the buffer. */
void ca_buf_flush(ca_buf_t *b);
/* `v` as decimal text in `mem` (NUL-terminated). */
const char *ca_u64_text(char mem[24], uint64_t v);
/* `p` as "0x..." text in `mem` (NUL-terminated). */
const char *ca_hex_text(char mem[24], uintptr_t p);
/* One line on stderr, "concordarena: " then the parts (NULL ends the list). */
void ca_message(const char *first, ...);
size_t ca_strlen(const char *s);
int ca_strcaseeq(const char *a, const char *b);

#endif
