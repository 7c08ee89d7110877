/*
 * buf.h - a growable byte buffer for socket input and output.
 *
 * Bytes [off, len) are pending (not yet parsed, or not yet sent). Appends that
 * cannot get memory set the sticky `failed` flag instead of crashing; the
 * connection that owns the buffer is then dropped.
 */
#ifndef KV_BUF_H
#define KV_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct kbuf {
    char *p;    /* storage, NULL until first use */
    size_t off; /* bytes already consumed from the front */
    size_t len; /* bytes filled */
    size_t cap; /* bytes allocated */
    int failed; /* 1 once an allocation failed */
};

static inline size_t kbuf_pending(const struct kbuf *b)
{
    return b->len - b->off;
}

/* Make room for at least `extra` more bytes after len; 0 or -1. */
int kbuf_reserve(struct kbuf *b, size_t extra);
/* Drop consumed bytes: move [off, len) to the front. */
void kbuf_compact(struct kbuf *b);
/* When empty and bigger than keep bytes, give the memory back. */
void kbuf_shrink(struct kbuf *b, size_t keep);
void kbuf_free(struct kbuf *b);

void kbuf_append(struct kbuf *b, const void *data, size_t n);
void kbuf_appendf(struct kbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
