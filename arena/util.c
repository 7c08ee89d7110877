/* Async-signal-safe formatting and messages: no malloc, no stdio. */
#include "util.h"

#include "os.h"

#include <stdarg.h>

size_t ca_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static char ca_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int ca_strcaseeq(const char *a, const char *b)
{
    while (*a && ca_lower(*a) == ca_lower(*b))
        a++, b++;
    return ca_lower(*a) == ca_lower(*b);
}

void ca_buf_init(ca_buf_t *b, char *mem, size_t cap, int fd)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->fd = fd;
}

void ca_buf_flush(ca_buf_t *b)
{
    if (b->fd >= 0 && b->len > 0) {
        ca_os_write(b->fd, b->p, b->len);
        b->len = 0;
    }
}

void ca_buf_mem(ca_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b->len == b->cap) {
            if (b->fd < 0) return; /* truncate */
            ca_buf_flush(b);
        }
        b->p[b->len++] = s[i];
    }
}

void ca_buf_str(ca_buf_t *b, const char *s)
{
    ca_buf_mem(b, s, ca_strlen(s));
}

void ca_buf_u64(ca_buf_t *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ca_buf_mem(b, tmp + i, sizeof(tmp) - i);
}

void ca_buf_i64(ca_buf_t *b, int64_t v)
{
    if (v < 0) {
        ca_buf_mem(b, "-", 1);
        ca_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        ca_buf_u64(b, (uint64_t)v);
    }
}

void ca_buf_hex(ca_buf_t *b, uintptr_t v)
{
    char tmp[2 + 2 * sizeof(uintptr_t)];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    tmp[--i] = 'x';
    tmp[--i] = '0';
    ca_buf_mem(b, tmp + i, sizeof(tmp) - i);
}

void ca_buf_pad(ca_buf_t *b, size_t width, size_t from)
{
    size_t have = b->len >= from ? b->len - from : 0;
    while (have++ < width)
        ca_buf_mem(b, " ", 1);
}

void ca_message(const char *first, ...)
{
    char mem[512];
    ca_buf_t b;
    ca_buf_init(&b, mem, sizeof(mem) - 1, -1);
    ca_buf_str(&b, "concordarena: ");
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s != NULL; s = va_arg(ap, const char *))
        ca_buf_str(&b, s);
    va_end(ap);
    mem[b.len++] = '\n';
    ca_os_write(2, mem, b.len);
}

_Noreturn void ca_assert_fail(const char *what, const char *file, int line)
{
    char mem[32];
    ca_buf_t b;
    ca_buf_init(&b, mem, sizeof(mem), -1);
    ca_buf_i64(&b, line);
    mem[b.len < sizeof(mem) ? b.len : sizeof(mem) - 1] = '\0';
    ca_message("internal assertion failed: ", what, " at ", file, ":", mem, NULL);
    ca_os_abort();
}

/* `v` in decimal or as "0x..." in `mem`, NUL-terminated. */
static const char *ca_number_text(char mem[24], uint64_t v, int hex)
{
    ca_buf_t b;
    ca_buf_init(&b, mem, 23, -1);
    if (hex)
        ca_buf_hex(&b, (uintptr_t)v);
    else
        ca_buf_u64(&b, v);
    mem[b.len] = '\0';
    return mem;
}

const char *ca_u64_text(char mem[24], uint64_t v)
{
    return ca_number_text(mem, v, 0);
}

const char *ca_hex_text(char mem[24], uintptr_t p)
{
    return ca_number_text(mem, p, 1);
}
