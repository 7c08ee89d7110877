/* types.c - lists, dicts (hashes, sets) and sorted sets (see types.h). */
#include "types.h"

#include <stdlib.h>
#include <string.h>

#include "item.h"

#define LIST_MIN_CAP 8 /* count: slots of a list's first buffer */
#define DICT_MIN     8 /* count: buckets of a dict's first table */
#define HASH_SEED    0x9e3779b97f4a7c15ull

const char *ks_type_name(int type)
{
    switch (type) {
    case KV_STRING:
        return "string";
    case KV_LIST:
        return "list";
    case KV_HASH:
        return "hash";
    case KV_SET:
        return "set";
    case KV_ZSET:
        return "zset";
    default:
        return "none";
    }
}

/* A per-thread xorshift generator: levels and random members. */
static uint64_t next_random(void)
{
    static _Thread_local uint64_t x;
    if (x == 0) x = (uint64_t)(uintptr_t)&x ^ HASH_SEED;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

struct ks_str *ks_str_new(const void *p, size_t n)
{
    if (n > SIZE_MAX - sizeof(struct ks_str)) return NULL;
    struct ks_str *s = malloc(sizeof(*s) + n);
    if (!s) return NULL;
    s->len = n;
    if (n) memcpy(s->data, p, n);
    return s;
}

/* ---- lists ---- */

struct ks_list *list_new(void)
{
    return calloc(1, sizeof(struct ks_list));
}

void list_free(struct ks_list *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->len; i++)
        free(list_at(l, i));
    free(l->slot);
    free(l);
}

/* Move the elements into a buffer of cap slots, starting at slot 0. */
static int list_resize(struct ks_list *l, size_t cap)
{
    struct ks_str **s = malloc(cap * sizeof(*s));
    if (!s) return -1;
    for (size_t i = 0; i < l->len; i++)
        s[i] = list_at(l, i);
    free(l->slot);
    l->slot = s;
    l->cap = cap;
    l->head = 0;
    return 0;
}

int list_push(struct ks_list *l, int left, const void *p, size_t n)
{
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : LIST_MIN_CAP;
        if (cap > SIZE_MAX / sizeof(void *) || list_resize(l, cap) != 0) return -1;
    }
    struct ks_str *s = ks_str_new(p, n);
    if (!s) return -1;
    if (left) {
        l->head = (l->head - 1) & (l->cap - 1);
        l->slot[l->head] = s;
    } else {
        l->slot[(l->head + l->len) & (l->cap - 1)] = s;
    }
    l->len++;
    return 0;
}

/* Give memory back when a list has shrunk to a quarter of its buffer. */
static void list_maybe_shrink(struct ks_list *l)
{
    if (l->cap > LIST_MIN_CAP && l->len < l->cap / 4) list_resize(l, l->cap / 2);
}

struct ks_str *list_pop(struct ks_list *l, int left)
{
    if (l->len == 0) return NULL;
    struct ks_str *s;
    if (left) {
        s = l->slot[l->head];
        l->head = (l->head + 1) & (l->cap - 1);
    } else {
        s = list_at(l, l->len - 1);
    }
    l->len--;
    list_maybe_shrink(l);
    return s;
}

void list_trim(struct ks_list *l, size_t start, size_t stop)
{
    for (size_t i = 0; i < start; i++) {
        free(l->slot[l->head]);
        l->head = (l->head + 1) & (l->cap - 1);
    }
    l->len -= start;
    stop -= start;
    while (l->len > stop + 1) {
        free(list_at(l, l->len - 1));
        l->len--;
    }
    list_maybe_shrink(l);
}

void list_remove(struct ks_list *l, size_t i)
{
    free(list_at(l, i));
    for (size_t j = i; j + 1 < l->len; j++)
        l->slot[(l->head + j) & (l->cap - 1)] = list_at(l, j + 1);
    l->len--;
    list_maybe_shrink(l);
}

/* ---- dicts ---- */

uint64_t ks_hash(const void *p, size_t n)
{
    /* FNV-1a over the bytes, then a final mix so the top bits are good. */
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull ^ HASH_SEED;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

struct dict *dict_new(void)
{
    return calloc(1, sizeof(struct dict));
}

static void dict_clear(struct dict *d)
{
    if (d->bucket) {
        for (size_t i = 0; i <= d->mask; i++) {
            struct dent *e = d->bucket[i];
            while (e) {
                struct dent *next = e->next;
                free(e);
                e = next;
            }
        }
    }
    free(d->bucket);
    d->bucket = NULL;
    d->n = 0;
    d->mask = 0;
}

void dict_free(struct dict *d)
{
    if (!d) return;
    dict_clear(d);
    free(d);
}

struct dent *dict_find(const struct dict *d, const void *k, size_t klen)
{
    if (!d->bucket) return NULL;
    uint64_t h = ks_hash(k, klen);
    for (struct dent *e = d->bucket[h & d->mask]; e; e = e->next)
        if (e->hash == h && e->klen == klen && (klen == 0 || memcmp(e->data, k, klen) == 0))
            return e;
    return NULL;
}

/* Rehash into nb buckets (all at once); on failure keep the old table. */
static void dict_resize(struct dict *d, size_t nb)
{
    if (nb > SIZE_MAX / sizeof(void *)) return;
    struct dent **b = calloc(nb, sizeof(*b));
    if (!b) return;
    if (d->bucket) {
        for (size_t i = 0; i <= d->mask; i++) {
            struct dent *e = d->bucket[i];
            while (e) {
                struct dent *next = e->next;
                e->next = b[e->hash & (nb - 1)];
                b[e->hash & (nb - 1)] = e;
                e = next;
            }
        }
    }
    free(d->bucket);
    d->bucket = b;
    d->mask = nb - 1;
}

static void dict_grow(struct dict *d)
{
    dict_resize(d, d->bucket ? (d->mask + 1) * 2 : DICT_MIN);
}

struct dent *dict_put(struct dict *d, const void *k, size_t klen, const void *v, size_t vlen,
                      int *added)
{
    size_t total = size_add3(sizeof(struct dent), klen, vlen);
    if (total == 0) return NULL;
    if (!d->bucket || d->n > d->mask) dict_grow(d);
    if (!d->bucket) return NULL;
    uint64_t h = ks_hash(k, klen);
    struct dent **pp = &d->bucket[h & d->mask];
    while (*pp && !((*pp)->hash == h && (*pp)->klen == klen &&
                    (klen == 0 || memcmp((*pp)->data, k, klen) == 0)))
        pp = &(*pp)->next;
    struct dent *old = *pp;
    if (old && old->vlen == vlen) {
        if (vlen) memcpy(old->data + klen, v, vlen);
        *added = 0;
        return old;
    }
    struct dent *e = malloc(total);
    if (!e) return NULL;
    e->hash = h;
    e->score = 0;
    e->klen = klen;
    e->vlen = vlen;
    if (klen) memcpy(e->data, k, klen);
    if (vlen) memcpy(e->data + klen, v, vlen);
    if (old) {
        e->next = old->next;
        *pp = e;
        free(old);
        *added = 0;
    } else {
        e->next = NULL;
        *pp = e;
        d->n++;
        *added = 1;
    }
    return e;
}

struct dent *dict_unlink(struct dict *d, const void *k, size_t klen)
{
    if (!d->bucket) return NULL;
    uint64_t h = ks_hash(k, klen);
    for (struct dent **pp = &d->bucket[h & d->mask]; *pp; pp = &(*pp)->next) {
        struct dent *e = *pp;
        if (e->hash == h && e->klen == klen && (klen == 0 || memcmp(e->data, k, klen) == 0)) {
            *pp = e->next;
            d->n--;
            /* Shrink below a load of 1/8, so SPOP and iteration stay fast
             * in a table that has emptied. */
            if (d->mask + 1 > DICT_MIN && d->n < (d->mask + 1) / 8)
                dict_resize(d, (d->mask + 1) / 2);
            return e;
        }
    }
    return NULL;
}

int dict_del(struct dict *d, const void *k, size_t klen)
{
    struct dent *e = dict_unlink(d, k, klen);
    free(e);
    return e != NULL;
}

struct dent *dict_random(const struct dict *d, uint64_t r)
{
    if (d->n == 0) return NULL;
    size_t nb = d->mask + 1;
    size_t i = (size_t)(r % nb);
    while (!d->bucket[i])
        i = (i + 1) & d->mask;
    size_t chain = 0;
    for (struct dent *e = d->bucket[i]; e; e = e->next)
        chain++;
    size_t pick = (size_t)((r >> 32) % chain);
    struct dent *e = d->bucket[i];
    while (pick--)
        e = e->next;
    return e;
}

struct dent *dict_next(const struct dict *d, size_t *pos, struct dent *e)
{
    if (e && e->next) return e->next;
    if (!d->bucket) return NULL;
    size_t i = e ? *pos + 1 : *pos;
    for (; i <= d->mask; i++) {
        if (d->bucket[i]) {
            *pos = i;
            return d->bucket[i];
        }
    }
    *pos = i;
    return NULL;
}

/* ---- sorted sets: a skip list with spans ---- */

static struct znode *znode_new(int level, struct dent *e)
{
    struct znode *n = malloc(sizeof(*n) + (size_t)level * sizeof(struct zlevel));
    if (!n) return NULL;
    n->e = e;
    n->back = NULL;
    for (int i = 0; i < level; i++) {
        n->lv[i].fwd = NULL;
        n->lv[i].span = 0;
    }
    return n;
}

static int random_level(void)
{
    int level = 1;
    uint64_t r = next_random();
    while (level < ZSL_MAX_LEVEL && (r & 3) == 0) {
        level++;
        r >>= 2;
    }
    return level;
}

/* Does node n sort before (score, member)? */
static int zless(const struct znode *n, double score, const void *m, size_t mlen)
{
    const struct dent *e = n->e;
    if (e->score != score) return e->score < score;
    return key_cmp(e->data, e->klen, m, mlen) < 0;
}

struct zset *zset_new(void)
{
    struct zset *z = calloc(1, sizeof(*z));
    if (!z) return NULL;
    z->head = znode_new(ZSL_MAX_LEVEL, NULL);
    if (!z->head) {
        free(z);
        return NULL;
    }
    z->level = 1;
    return z;
}

void zset_free(struct zset *z)
{
    if (!z) return;
    struct znode *n = z->head;
    while (n) {
        struct znode *next = n->lv[0].fwd;
        free(n);
        n = next;
    }
    dict_clear(&z->dict);
    free(z);
}

/* Link a node (made with `level` levels) for its entry's score. */
static void zsl_insert(struct zset *z, struct znode *x, int level)
{
    struct znode *update[ZSL_MAX_LEVEL];
    size_t rank[ZSL_MAX_LEVEL];
    const struct dent *e = x->e;
    struct znode *p = z->head;
    for (int i = z->level - 1; i >= 0; i--) {
        rank[i] = i == z->level - 1 ? 0 : rank[i + 1];
        while (p->lv[i].fwd && zless(p->lv[i].fwd, e->score, e->data, e->klen)) {
            rank[i] += p->lv[i].span;
            p = p->lv[i].fwd;
        }
        update[i] = p;
    }
    if (level > z->level) {
        for (int i = z->level; i < level; i++) {
            rank[i] = 0;
            update[i] = z->head;
            update[i]->lv[i].span = z->len;
        }
        z->level = level;
    }
    for (int i = 0; i < level; i++) {
        x->lv[i].fwd = update[i]->lv[i].fwd;
        update[i]->lv[i].fwd = x;
        x->lv[i].span = update[i]->lv[i].span - (rank[0] - rank[i]);
        update[i]->lv[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = level; i < z->level; i++)
        update[i]->lv[i].span++;
    x->back = update[0] == z->head ? NULL : update[0];
    if (x->lv[0].fwd)
        x->lv[0].fwd->back = x;
    else
        z->tail = x;
    z->len++;
}

/* Unlink the node of entry e (at its current score); returns it. */
static struct znode *zsl_unlink(struct zset *z, const struct dent *e)
{
    struct znode *update[ZSL_MAX_LEVEL];
    struct znode *p = z->head;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->lv[i].fwd && zless(p->lv[i].fwd, e->score, e->data, e->klen))
            p = p->lv[i].fwd;
        update[i] = p;
    }
    struct znode *x = p->lv[0].fwd;
    if (!x || x->e != e) return NULL;
    for (int i = 0; i < z->level; i++) {
        if (update[i]->lv[i].fwd == x) {
            update[i]->lv[i].span += x->lv[i].span - 1;
            update[i]->lv[i].fwd = x->lv[i].fwd;
        } else {
            update[i]->lv[i].span--;
        }
    }
    if (x->lv[0].fwd)
        x->lv[0].fwd->back = x->back;
    else
        z->tail = x->back;
    while (z->level > 1 && !z->head->lv[z->level - 1].fwd)
        z->level--;
    z->len--;
    return x;
}

int zset_put(struct zset *z, const void *m, size_t mlen, double score, int *added)
{
    struct dent *e = dict_find(&z->dict, m, mlen);
    if (e && e->score == score) {
        *added = 0;
        return 0;
    }
    int level = random_level();
    struct znode *x = znode_new(level, NULL);
    if (!x) return -1;
    if (e) {
        *added = 0;
        free(zsl_unlink(z, e));
        e->score = score;
    } else {
        e = dict_put(&z->dict, m, mlen, NULL, 0, added);
        if (!e) {
            free(x);
            return -1;
        }
        e->score = score;
    }
    x->e = e;
    zsl_insert(z, x, level);
    return 0;
}

int zset_del(struct zset *z, const void *m, size_t mlen)
{
    struct dent *e = dict_find(&z->dict, m, mlen);
    if (!e) return 0;
    free(zsl_unlink(z, e));
    dict_del(&z->dict, m, mlen);
    return 1;
}

long long zset_rank(const struct zset *z, const void *m, size_t mlen)
{
    const struct dent *e = dict_find(&z->dict, m, mlen);
    if (!e) return -1;
    size_t rank = 0;
    const struct znode *p = z->head;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->lv[i].fwd &&
               (zless(p->lv[i].fwd, e->score, e->data, e->klen) || p->lv[i].fwd->e == e)) {
            rank += p->lv[i].span;
            p = p->lv[i].fwd;
        }
        if (p != z->head && p->e == e) return (long long)rank - 1;
    }
    return -1;
}

struct znode *zset_at(const struct zset *z, size_t rank)
{
    size_t target = rank + 1, done = 0;
    struct znode *p = z->head;
    for (int i = z->level - 1; i >= 0; i--) {
        while (p->lv[i].fwd && done + p->lv[i].span <= target) {
            done += p->lv[i].span;
            p = p->lv[i].fwd;
        }
        if (done == target) return p;
    }
    return NULL;
}

/* ---- by type ---- */

static struct dict *dict_copy(const struct dict *d)
{
    struct dict *c = dict_new();
    if (!c) return NULL;
    size_t pos = 0;
    int added;
    for (struct dent *e = dict_next(d, &pos, NULL); e; e = dict_next(d, &pos, e)) {
        if (!dict_put(c, e->data, e->klen, e->data + e->klen, e->vlen, &added)) {
            dict_free(c);
            return NULL;
        }
    }
    return c;
}

void *ks_obj_copy(int type, const void *obj)
{
    switch (type) {
    case KV_LIST: {
        const struct ks_list *l = obj;
        struct ks_list *c = list_new();
        if (!c) return NULL;
        for (size_t i = 0; i < l->len; i++) {
            const struct ks_str *s = list_at(l, i);
            if (list_push(c, 0, s->data, s->len) != 0) {
                list_free(c);
                return NULL;
            }
        }
        return c;
    }
    case KV_HASH:
    case KV_SET:
        return dict_copy(obj);
    case KV_ZSET: {
        const struct zset *z = obj;
        struct zset *c = zset_new();
        if (!c) return NULL;
        int added;
        for (const struct znode *n = z->head->lv[0].fwd; n; n = n->lv[0].fwd) {
            if (zset_put(c, n->e->data, n->e->klen, n->e->score, &added) != 0) {
                zset_free(c);
                return NULL;
            }
        }
        return c;
    }
    default:
        return NULL;
    }
}

void ks_obj_free(int type, void *obj)
{
    switch (type) {
    case KV_LIST:
        list_free(obj);
        break;
    case KV_HASH:
    case KV_SET:
        dict_free(obj);
        break;
    case KV_ZSET:
        zset_free(obj);
        break;
    default:
        break;
    }
}

size_t ks_obj_len(int type, const void *obj)
{
    switch (type) {
    case KV_LIST:
        return ((const struct ks_list *)obj)->len;
    case KV_HASH:
    case KV_SET:
        return ((const struct dict *)obj)->n;
    case KV_ZSET:
        return zset_len(obj);
    default:
        return 0;
    }
}

uint64_t ks_random(void)
{
    return next_random();
}
