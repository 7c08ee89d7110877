/*
 * hash.c - the hash-table engine: separate chaining, incremental growth.
 *
 * A key's bucket is the TOP bits of its 64-bit hash, so doubling the table
 * splits old bucket i into new buckets 2i and 2i+1, and walking the buckets
 * in index order visits keys in hash order whatever the table size. That gives
 * a stable scan order, (hash, key bytes), that a cursor can resume from while
 * the table is growing.
 *
 * Growth never pauses: when the load passes 1.0 a table of twice the size is
 * allocated, and every modifying call moves a few old buckets into it
 * (REHASH_STEP, skipping at most REHASH_EMPTY_VISITS empty ones). Lookups look
 * in the old bucket (if not yet moved) and in the new one. The old table is
 * done before the new one can fill, so there are never more than two.
 * Reads never move anything, so concurrent readers are safe.
 */
#include "engine.h"
#include "item.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MIN_BITS            4  /* log2 of the first table's bucket count */
#define REHASH_STEP         4  /* old buckets moved per modifying call */
#define REHASH_EMPTY_VISITS 32 /* empty old buckets skipped per modifying call */
#define SCAN_LOCAL          32 /* bucket gather array kept on the stack */

struct hnode {
    struct hnode *next;
    uint64_t hash;        /* full hash of the key */
    size_t klen;          /* bytes of key at data[0] */
    size_t vlen;          /* bytes of value at data[klen] */
    unsigned char data[]; /* key, then value */
};

struct htable {
    struct hnode **b; /* 1 << bits chain heads; NULL when the table is absent */
    unsigned bits;    /* log2 of the bucket count */
};

struct hash_store {
    struct htable cur; /* the table new keys go into */
    struct htable old; /* the table being emptied into cur; old.b == NULL when not growing */
    size_t migrated;   /* count: old buckets [0, migrated) already moved (and empty) */
    size_t n;          /* count: live keys */
    uint64_t seed;     /* per-store hash seed */
};

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/* A 64-bit hash of the key bytes, 8 at a time; the finaliser spreads every
 * input bit into the top bits that choose the bucket. */
static uint64_t hash_bytes(uint64_t seed, const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h ^= rotl64(w * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
        h = rotl64(h, 27) * 5 + 0x52dce729;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h ^= rotl64(w * 0x87c37b91114253d5ULL, 31) * 0x4cf5ad432745937fULL;
    }
    return fmix64(h);
}

static size_t tsize(const struct htable *t)
{
    return (size_t)1 << t->bits;
}

static size_t bucket_of(const struct htable *t, uint64_t hash)
{
    return (size_t)(hash >> (64 - t->bits));
}

static int node_is(const struct hnode *nd, uint64_t hash, const void *key, size_t klen)
{
    return nd->hash == hash && nd->klen == klen && (klen == 0 || memcmp(nd->data, key, klen) == 0);
}

/* (hash, key) order used by scans. */
static int pos_cmp(uint64_t ha, const void *ka, size_t la, uint64_t hb, const void *kb, size_t lb)
{
    if (ha != hb) return ha < hb ? -1 : 1;
    return key_cmp(ka, la, kb, lb);
}

/* The link that points at the key's node, or NULL when the key is absent. */
static struct hnode **find_link(struct hash_store *h, uint64_t hash, const void *key, size_t klen)
{
    if (h->old.b) {
        size_t ob = bucket_of(&h->old, hash);
        if (ob >= h->migrated) {
            for (struct hnode **l = &h->old.b[ob]; *l; l = &(*l)->next)
                if (node_is(*l, hash, key, klen)) return l;
        }
    }
    for (struct hnode **l = &h->cur.b[bucket_of(&h->cur, hash)]; *l; l = &(*l)->next)
        if (node_is(*l, hash, key, klen)) return l;
    return NULL;
}

/* Move a few old buckets into the new table; free the old table when done. */
static void rehash_step(struct hash_store *h)
{
    if (!h->old.b) return;
    size_t osize = tsize(&h->old);
    unsigned moved = 0, empty = 0;
    while (h->migrated < osize && moved < REHASH_STEP && empty < REHASH_EMPTY_VISITS) {
        struct hnode *nd = h->old.b[h->migrated];
        if (!nd)
            empty++;
        else
            moved++;
        while (nd) {
            struct hnode *next = nd->next;
            size_t nb = bucket_of(&h->cur, nd->hash);
            nd->next = h->cur.b[nb];
            h->cur.b[nb] = nd;
            nd = next;
        }
        h->old.b[h->migrated++] = NULL;
    }
    if (h->migrated == osize) {
        free(h->old.b);
        h->old.b = NULL;
        h->old.bits = 0;
        h->migrated = 0;
    }
}

/* Start doubling when the load passes 1.0; a failed allocation only means
 * longer chains for now, so it is not an error. */
static void maybe_grow(struct hash_store *h)
{
    if (h->old.b || h->n < tsize(&h->cur) || h->cur.bits >= 8 * sizeof(size_t) - 4) return;
    struct hnode **nb = calloc(tsize(&h->cur) * 2, sizeof(*nb));
    if (!nb) return;
    h->old = h->cur;
    h->cur.b = nb;
    h->cur.bits = h->old.bits + 1;
    h->migrated = 0;
}

static struct hnode *node_new(uint64_t hash, const void *key, size_t klen, const void *val,
                              size_t vlen)
{
    size_t total = size_add3(sizeof(struct hnode), klen, vlen);
    if (total == 0) return NULL;
    struct hnode *nd = malloc(total);
    if (!nd) return NULL;
    nd->next = NULL;
    nd->hash = hash;
    nd->klen = klen;
    nd->vlen = vlen;
    if (klen) memcpy(nd->data, key, klen);
    if (vlen) memcpy(nd->data + klen, val, vlen);
    return nd;
}

static void *hash_create(const struct engine_options *opt)
{
    (void)opt;
    struct hash_store *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    h->cur.bits = MIN_BITS;
    h->cur.b = calloc(tsize(&h->cur), sizeof(*h->cur.b));
    if (!h->cur.b) {
        free(h);
        return NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    h->seed = fmix64((uint64_t)(uintptr_t)h ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32));
    return h;
}

static void free_table(struct htable *t)
{
    if (!t->b) return;
    for (size_t i = 0; i < tsize(t); i++) {
        struct hnode *nd = t->b[i];
        while (nd) {
            struct hnode *next = nd->next;
            free(nd);
            nd = next;
        }
    }
    free(t->b);
    t->b = NULL;
}

static void hash_destroy(void *impl)
{
    struct hash_store *h = impl;
    free_table(&h->old);
    free_table(&h->cur);
    free(h);
}

static int hash_set(void *impl, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct hash_store *h = impl;
    uint64_t hash = hash_bytes(h->seed, key, klen);

    rehash_step(h);
    struct hnode *nd = node_new(hash, key, klen, val, vlen);
    if (!nd) return ENGINE_ENOMEM;
    struct hnode **link = find_link(h, hash, key, klen);
    if (link) {
        struct hnode *old = *link;
        nd->next = old->next;
        *link = nd;
        free(old);
        return ENGINE_OK;
    }
    maybe_grow(h);
    size_t b = bucket_of(&h->cur, hash);
    nd->next = h->cur.b[b];
    h->cur.b[b] = nd;
    h->n++;
    return ENGINE_OK;
}

static int hash_get(void *impl, const void *key, size_t klen, const void **val, size_t *vlen)
{
    struct hash_store *h = impl;
    struct hnode **link = find_link(h, hash_bytes(h->seed, key, klen), key, klen);
    if (!link) return ENGINE_NOTFOUND;
    *val = (*link)->data + (*link)->klen;
    *vlen = (*link)->vlen;
    return ENGINE_OK;
}

static int hash_del(void *impl, const void *key, size_t klen)
{
    struct hash_store *h = impl;
    rehash_step(h);
    struct hnode **link = find_link(h, hash_bytes(h->seed, key, klen), key, klen);
    if (!link) return ENGINE_NOTFOUND;
    struct hnode *nd = *link;
    *link = nd->next;
    free(nd);
    h->n--;
    return ENGINE_OK;
}

static size_t hash_count(const void *impl)
{
    return ((const struct hash_store *)impl)->n;
}

/* Insertion sort of one bucket's worth of nodes into scan order. */
static void sort_nodes(struct hnode **v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct hnode *x = v[i];
        size_t j = i;
        while (j > 0 && pos_cmp(v[j - 1]->hash, v[j - 1]->data, v[j - 1]->klen, x->hash, x->data,
                                x->klen) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Append one chain's nodes that belong to new bucket j to the gather array. */
static int gather(struct hnode *nd, const struct htable *cur, size_t j, struct hnode ***v,
                  size_t *n, size_t *cap, struct hnode **local)
{
    for (; nd; nd = nd->next) {
        if (bucket_of(cur, nd->hash) != j) continue;
        if (*n == *cap) {
            size_t ncap = *cap * 2;
            struct hnode **nv = malloc(ncap * sizeof(*nv));
            if (!nv) return ENGINE_ENOMEM;
            memcpy(nv, *v, *n * sizeof(*nv));
            if (*v != local) free(*v);
            *v = nv;
            *cap = ncap;
        }
        (*v)[(*n)++] = nd;
    }
    return 0;
}

static int hash_scan(void *impl, const void *start, size_t slen, engine_scan_fn fn, void *arg)
{
    struct hash_store *h = impl;
    struct hnode *local[SCAN_LOCAL];
    struct hnode **v = local;
    size_t cap = SCAN_LOCAL;
    uint64_t shash = start ? hash_bytes(h->seed, start, slen) : 0;
    size_t j = start ? bucket_of(&h->cur, shash) : 0;
    int ret = 0;

    for (; j < tsize(&h->cur) && ret == 0; j++) {
        size_t n = 0;
        ret = gather(h->cur.b[j], &h->cur, j, &v, &n, &cap, local);
        if (ret == 0 && h->old.b && (j >> 1) >= h->migrated)
            ret = gather(h->old.b[j >> 1], &h->cur, j, &v, &n, &cap, local);
        if (ret) break;
        sort_nodes(v, n);
        for (size_t i = 0; i < n && ret == 0; i++) {
            if (start && pos_cmp(v[i]->hash, v[i]->data, v[i]->klen, shash, start, slen) < 0)
                continue;
            ret = fn(v[i]->data, v[i]->klen, v[i]->data + v[i]->klen, v[i]->vlen, arg);
        }
    }
    if (v != local) free(v);
    return ret;
}

static int check_table(struct hash_store *h, const struct htable *t, size_t first, size_t *seen)
{
    for (size_t i = 0; i < tsize(t); i++) {
        for (struct hnode *nd = t->b[i]; nd; nd = nd->next) {
            if (i < first) {
                fprintf(stderr, "hash: node in migrated old bucket %zu\n", i);
                return ENGINE_CORRUPT;
            }
            if (nd->hash != hash_bytes(h->seed, nd->data, nd->klen)) {
                fprintf(stderr, "hash: stored hash does not match the key\n");
                return ENGINE_CORRUPT;
            }
            if (bucket_of(t, nd->hash) != i) {
                fprintf(stderr, "hash: node in bucket %zu belongs in %zu\n", i,
                        bucket_of(t, nd->hash));
                return ENGINE_CORRUPT;
            }
            struct hnode **l = find_link(h, nd->hash, nd->data, nd->klen);
            if (!l || *l != nd) {
                fprintf(stderr, "hash: duplicate or unreachable key in bucket %zu\n", i);
                return ENGINE_CORRUPT;
            }
            if (++*seen > h->n) {
                fprintf(stderr, "hash: more nodes than the count %zu\n", h->n);
                return ENGINE_CORRUPT;
            }
        }
    }
    return 0;
}

static int hash_check(void *impl)
{
    struct hash_store *h = impl;
    size_t seen = 0;
    if (!h->cur.b || h->cur.bits < MIN_BITS) {
        fprintf(stderr, "hash: no current table\n");
        return ENGINE_CORRUPT;
    }
    if (h->old.b && (h->old.bits + 1 != h->cur.bits || h->migrated >= tsize(&h->old))) {
        fprintf(stderr, "hash: bad growth state\n");
        return ENGINE_CORRUPT;
    }
    if (check_table(h, &h->cur, 0, &seen)) return ENGINE_CORRUPT;
    if (h->old.b && check_table(h, &h->old, h->migrated, &seen)) return ENGINE_CORRUPT;
    if (seen != h->n) {
        fprintf(stderr, "hash: %zu nodes but count %zu\n", seen, h->n);
        return ENGINE_CORRUPT;
    }
    /* Duplicates are caught above: find_link() returns the first of two
     * equal keys, which is not the second node. */
    return 0;
}

const struct engine_ops engine_hash_ops = {
    .name = "hash",
    .ordered = false,
    .create = hash_create,
    .destroy = hash_destroy,
    .set = hash_set,
    .get = hash_get,
    .del = hash_del,
    .count = hash_count,
    .scan = hash_scan,
    .check = hash_check,
};
