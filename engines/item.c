/* item.c - allocation of key/value pairs (see item.h). */
#include "item.h"

#include <stdlib.h>

struct item *item_new(const void *key, size_t klen, const void *val, size_t vlen)
{
    size_t total = size_add3(sizeof(struct item), klen, vlen);
    if (total == 0) return NULL;
    struct item *it = malloc(total);
    if (!it) return NULL;
    it->klen = klen;
    it->vlen = vlen;
    if (klen) memcpy(it->data, key, klen);
    if (vlen) memcpy(it->data + klen, val, vlen);
    return it;
}

void item_free(struct item *it)
{
    free(it);
}
