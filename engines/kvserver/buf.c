/* buf.c - growable byte buffers (see buf.h). */
#include "buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kbuf_reserve(struct kbuf *b, size_t extra)
{
    if (b->failed) return -1;
    if (b->cap - b->len >= extra) return 0;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void kbuf_compact(struct kbuf *b)
{
    if (b->off == 0) return;
    size_t n = b->len - b->off;
    if (n) memmove(b->p, b->p + b->off, n);
    b->off = 0;
    b->len = n;
}

void kbuf_shrink(struct kbuf *b, size_t keep)
{
    if (b->len != b->off || b->cap <= keep) return;
    free(b->p);
    b->p = NULL;
    b->cap = b->len = b->off = 0;
}

void kbuf_free(struct kbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->cap = b->len = b->off = 0;
}

void kbuf_append(struct kbuf *b, const void *data, size_t n)
{
    if (kbuf_reserve(b, n) != 0) return;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
}

void kbuf_appendf(struct kbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(small)) {
        kbuf_append(b, small, (size_t)n);
        return;
    }
    if (kbuf_reserve(b, (size_t)n + 1) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
