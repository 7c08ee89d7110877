/*
 * item.h - a key/value pair in one allocation, and the byte order of keys.
 *
 * Shared by the engines that keep whole pairs behind a pointer (array,
 * B+tree). The key bytes come first, the value bytes follow them.
 */
#ifndef CA_ENGINES_ITEM_H
#define CA_ENGINES_ITEM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct item {
    size_t klen;          /* bytes of key at data[0] */
    size_t vlen;          /* bytes of value at data[klen] */
    unsigned char data[]; /* key, then value; not NUL-terminated */
};

/* A new item holding copies of key and value; NULL when malloc fails or the
 * total size would overflow. */
struct item *item_new(const void *key, size_t klen, const void *val, size_t vlen);
void item_free(struct item *it);

static inline const unsigned char *item_key(const struct item *it)
{
    return it->data;
}

static inline const unsigned char *item_val(const struct item *it)
{
    return it->data + it->klen;
}

/* Bytewise order: memcmp over the common prefix, then the shorter first. */
static inline int key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) return c;
    return (alen > blen) - (alen < blen);
}

static inline int item_cmp_key(const struct item *it, const void *key, size_t klen)
{
    return key_cmp(item_key(it), it->klen, key, klen);
}

/* Bytes needed for a header of hdr bytes followed by a and b; 0 on overflow. */
static inline size_t size_add3(size_t hdr, size_t a, size_t b)
{
    if (a > SIZE_MAX - hdr) return 0;
    hdr += a;
    if (b > SIZE_MAX - hdr) return 0;
    return hdr + b;
}

#endif
