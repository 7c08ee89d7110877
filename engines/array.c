/*
 * array.c - the sorted-array engine.
 *
 * A dense array of item pointers kept in key order; lookups are a binary
 * search, inserts and deletes shift the tail with memmove (O(n)). The
 * simplest ordered engine and the reference the others are tested against.
 */
#include "engine.h"
#include "item.h"

#include <stdio.h>
#include <stdlib.h>

struct array_store {
    struct item **items; /* items[0..n) in strictly increasing key order */
    size_t n;            /* count: live items */
    size_t cap;          /* count: slots allocated in items */
};

/* Index of the first item whose key is >= key; *found tells whether equal. */
static size_t lower_bound(const struct array_store *a, const void *key, size_t klen, int *found)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (item_cmp_key(a->items[mid], key, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < a->n && item_cmp_key(a->items[lo], key, klen) == 0;
    return lo;
}

static void *array_create(const struct engine_options *opt)
{
    (void)opt;
    return calloc(1, sizeof(struct array_store));
}

static void array_destroy(void *impl)
{
    struct array_store *a = impl;
    for (size_t i = 0; i < a->n; i++)
        item_free(a->items[i]);
    free(a->items);
    free(a);
}

/* Make room for one more slot; the array is unchanged if this fails. */
static int reserve_one(struct array_store *a)
{
    if (a->n < a->cap) return ENGINE_OK;
    size_t cap = a->cap ? a->cap * 2 : 16;
    if (cap > SIZE_MAX / sizeof(*a->items)) return ENGINE_ENOMEM;
    struct item **items = realloc(a->items, cap * sizeof(*items));
    if (!items) return ENGINE_ENOMEM;
    a->items = items;
    a->cap = cap;
    return ENGINE_OK;
}

static int array_set(void *impl, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct array_store *a = impl;
    int found;
    size_t i = lower_bound(a, key, klen, &found);

    if (!found && reserve_one(a) != ENGINE_OK) return ENGINE_ENOMEM;
    struct item *it = item_new(key, klen, val, vlen);
    if (!it) return ENGINE_ENOMEM;
    if (found) {
        item_free(a->items[i]);
    } else {
        memmove(&a->items[i + 1], &a->items[i], (a->n - i) * sizeof(*a->items));
        a->n++;
    }
    a->items[i] = it;
    return ENGINE_OK;
}

static int array_get(void *impl, const void *key, size_t klen, const void **val, size_t *vlen)
{
    struct array_store *a = impl;
    int found;
    size_t i = lower_bound(a, key, klen, &found);
    if (!found) return ENGINE_NOTFOUND;
    *val = item_val(a->items[i]);
    *vlen = a->items[i]->vlen;
    return ENGINE_OK;
}

static int array_del(void *impl, const void *key, size_t klen)
{
    struct array_store *a = impl;
    int found;
    size_t i = lower_bound(a, key, klen, &found);
    if (!found) return ENGINE_NOTFOUND;
    item_free(a->items[i]);
    memmove(&a->items[i], &a->items[i + 1], (a->n - i - 1) * sizeof(*a->items));
    a->n--;
    /* Give memory back once the array is mostly empty; a failed shrink is harmless. */
    if (a->cap > 64 && a->n < a->cap / 4) {
        struct item **items = realloc(a->items, (a->cap / 2) * sizeof(*items));
        if (items) {
            a->items = items;
            a->cap /= 2;
        }
    }
    return ENGINE_OK;
}

static size_t array_count(const void *impl)
{
    return ((const struct array_store *)impl)->n;
}

static int array_scan(void *impl, const void *start, size_t slen, engine_scan_fn fn, void *arg)
{
    struct array_store *a = impl;
    int found;
    size_t i = start ? lower_bound(a, start, slen, &found) : 0;
    for (; i < a->n; i++) {
        const struct item *it = a->items[i];
        int rc = fn(item_key(it), it->klen, item_val(it), it->vlen, arg);
        if (rc) return rc;
    }
    return 0;
}

static int array_check(void *impl)
{
    struct array_store *a = impl;
    if (a->n > a->cap || (a->cap && !a->items)) {
        fprintf(stderr, "array: count %zu exceeds capacity %zu\n", a->n, a->cap);
        return ENGINE_CORRUPT;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (!a->items[i]) {
            fprintf(stderr, "array: NULL item at %zu\n", i);
            return ENGINE_CORRUPT;
        }
        if (i > 0 && key_cmp(item_key(a->items[i - 1]), a->items[i - 1]->klen,
                             item_key(a->items[i]), a->items[i]->klen) >= 0) {
            fprintf(stderr, "array: keys out of order at %zu\n", i);
            return ENGINE_CORRUPT;
        }
    }
    return 0;
}

const struct engine_ops engine_array_ops = {
    .name = "array",
    .ordered = true,
    .create = array_create,
    .destroy = array_destroy,
    .set = array_set,
    .get = array_get,
    .del = array_del,
    .count = array_count,
    .scan = array_scan,
    .check = array_check,
};
