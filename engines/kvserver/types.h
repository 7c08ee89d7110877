/*
 * types.h - the values that are not plain strings: lists, hashes, sets and
 * sorted sets.
 *
 * The engines store byte strings only. A key holding a list, hash, set or
 * sorted set stores (in the engine) a tag naming the type and a pointer to
 * one of the objects below, which the store owns: it is freed when the key
 * is deleted, overwritten, flushed or expires. Every object is built from
 * plain malloc/free: list element strings in a ring buffer, hash-table
 * entries in chains, skip-list nodes for sorted sets.
 *
 * Glossary
 *   ks_str   a length-prefixed byte string (a list element)
 *   dict     a chained hash table of byte-string keys, each with either a
 *            byte-string value (hash) or a double (sorted set) or nothing (set)
 *   zset     a dict (member -> score) plus a skip list ordered by
 *            (score, member) with spans, for ranks
 *
 * None of these is thread-safe: callers hold the store's write lock to
 * modify and at least its read lock to read. Reads never modify anything.
 */
#ifndef KV_TYPES_H
#define KV_TYPES_H

#include <stddef.h>
#include <stdint.h>

enum ks_type {
    KV_STRING = 0,
    KV_LIST = 1,
    KV_HASH = 2,
    KV_SET = 3,
    KV_ZSET = 4,
};

/* "string", "list", "hash", "set", "zset" (or "none" for a bad type). */
const char *ks_type_name(int type);

/* A per-thread pseudo-random number (SPOP, SRANDMEMBER, skip-list levels). */
uint64_t ks_random(void);

/* ---- strings ---- */

struct ks_str {
    size_t len;           /* bytes */
    unsigned char data[]; /* not NUL-terminated */
};

struct ks_str *ks_str_new(const void *p, size_t n);

/* ---- lists: a ring buffer of element pointers ---- */

struct ks_list {
    struct ks_str **slot; /* cap slots; element i is slot[(head + i) & (cap - 1)] */
    size_t head;          /* index of the first element */
    size_t len;           /* count: elements */
    size_t cap;           /* count: slots, a power of two (0 before first use) */
};

struct ks_list *list_new(void);
void list_free(struct ks_list *l);
/* Add at the head (left) or tail. 0, or -1 when out of memory. */
int list_push(struct ks_list *l, int left, const void *p, size_t n);
/* Remove at the head or tail; the caller frees the string. NULL when empty. */
struct ks_str *list_pop(struct ks_list *l, int left);
static inline struct ks_str *list_at(const struct ks_list *l, size_t i)
{
    return l->slot[(l->head + i) & (l->cap - 1)];
}
/* Keep elements [start, stop] (inclusive, already clamped, start <= stop). */
void list_trim(struct ks_list *l, size_t start, size_t stop);
/* Remove element i; it is freed. */
void list_remove(struct ks_list *l, size_t i);

/* ---- dict: chained hash table ---- */

struct dent {
    struct dent *next;    /* chain */
    uint64_t hash;        /* of the key */
    double score;         /* sorted sets: the member's score */
    size_t klen;          /* bytes of key at data[0] */
    size_t vlen;          /* bytes of value at data[klen] (hashes; 0 otherwise) */
    unsigned char data[]; /* key, then value */
};

struct dict {
    struct dent **bucket; /* mask + 1 chains; NULL before the first insert */
    size_t mask;          /* bucket count - 1 */
    size_t n;             /* count: entries */
};

uint64_t ks_hash(const void *p, size_t n);
struct dict *dict_new(void);
void dict_free(struct dict *d);
struct dent *dict_find(const struct dict *d, const void *k, size_t klen);
/* Insert or replace key with value (v may be NULL with vlen 0). Sets *added
 * to 1 when the key was new. Returns the entry, NULL when out of memory
 * (the dict is then unchanged). */
struct dent *dict_put(struct dict *d, const void *k, size_t klen, const void *v, size_t vlen,
                      int *added);
/* Remove and free; 1 when it was there. */
int dict_del(struct dict *d, const void *k, size_t klen);
/* Unlink without freeing (the caller frees it); NULL when absent. */
struct dent *dict_unlink(struct dict *d, const void *k, size_t klen);
/* A random entry (NULL when empty); r is a random number. */
struct dent *dict_random(const struct dict *d, uint64_t r);
/* Iterate: *pos starts at 0 and *e at NULL; returns the next entry or NULL. */
struct dent *dict_next(const struct dict *d, size_t *pos, struct dent *e);

/* ---- sorted sets ---- */

#define ZSL_MAX_LEVEL 32

struct znode;
struct zlevel {
    struct znode *fwd; /* next node on this level */
    size_t span;       /* count: nodes skipped by fwd on the bottom level */
};
struct znode {
    struct dent *e;     /* member (key) and score, owned by the dict */
    struct znode *back; /* previous node on the bottom level */
    struct zlevel lv[]; /* level count fixed when the node is made */
};

struct zset {
    struct dict dict;   /* member -> entry (score in dent.score) */
    struct znode *head; /* sentinel with ZSL_MAX_LEVEL levels */
    struct znode *tail; /* last node; NULL when empty */
    size_t len;         /* count: nodes in the skip list */
    int level;          /* count: levels in use, >= 1 */
};

struct zset *zset_new(void);
void zset_free(struct zset *z);
static inline size_t zset_len(const struct zset *z)
{
    return z->dict.n;
}
/* Add or change a member's score. *added: 1 when new. -1 out of memory, else 0. */
int zset_put(struct zset *z, const void *m, size_t mlen, double score, int *added);
/* Remove; 1 when it was there. */
int zset_del(struct zset *z, const void *m, size_t mlen);
/* 0-based rank in ascending order, or -1 when absent. */
long long zset_rank(const struct zset *z, const void *m, size_t mlen);
/* Node at 0-based rank (< len). */
struct znode *zset_at(const struct zset *z, size_t rank);

/* ---- copies and freeing, by type ---- */

/* A deep copy of an object of the given type; NULL when out of memory. */
void *ks_obj_copy(int type, const void *obj);
void ks_obj_free(int type, void *obj);
/* Elements in the object (list length, fields, members). */
size_t ks_obj_len(int type, const void *obj);

#endif
