/*
 * lsm.c - the LSM memtable engine.
 *
 * Writes go to the active memtable, a skip list. When its size passes the
 * memtable limit it becomes immutable (pushed on the front of the immutable
 * list) and an empty active memtable starts. Reads look at the active table,
 * then the immutables newest first; the first entry found for a key wins. A
 * delete that would otherwise uncover an older version writes a tombstone.
 *
 * Compaction is size-tiered, so write amplification stays bounded: a table
 * that leaves the active slot is at tier 0; whenever FANOUT tables of one
 * tier exist (they are always next to each other, since tiers only grow
 * with age) they are merged into one table of the next tier, in their
 * place, keeping only the newest version of each key. A byte is therefore
 * rewritten once per tier, about log_FANOUT(store / memtable) times, however
 * large the store grows, and there are at most (FANOUT - 1) tables per tier.
 * A merge that includes the oldest table also drops tombstones (nothing
 * older is left for them to hide). Each immutable table has a Bloom filter,
 * so a lookup searches only the tables that may hold the key.
 *
 * A failed allocation during a rotation or a merge only postpones it; the
 * logical contents never change. A scan is a k-way merge of all tables,
 * newest first on equal keys, skipping tombstones.
 */
#include "engine.h"
#include "item.h"

#include <stdio.h>
#include <stdlib.h>

#define SL_MAX_HEIGHT        20           /* skip-list levels */
#define LSM_DEFAULT_MEMTABLE (4u << 20)   /* bytes */
#define LSM_DEFAULT_FANOUT   4            /* tables of one tier merged together */
#define LSM_MAX_TABLES       64           /* hard cap on immutables when merges fail */
#define TOMBSTONE            ((size_t)-1) /* vlen of a deletion marker */
#define BLOOM_BITS_PER_KEY   10           /* about 1% false positives */
#define BLOOM_PROBES         6

struct slnode {
    size_t klen;           /* bytes of key */
    size_t vlen;           /* bytes of value, or TOMBSTONE */
    unsigned height;       /* links in next[] */
    struct slnode *next[]; /* height links, followed by the key and value bytes */
};

struct skiplist {
    struct slnode *head;  /* sentinel with SL_MAX_HEIGHT links and no key */
    unsigned height;      /* levels in use, 1..SL_MAX_HEIGHT */
    size_t entries;       /* count: nodes, tombstones included */
    size_t bytes;         /* bytes: sum of node allocation sizes */
    uint64_t rng;         /* xorshift state for node heights */
    unsigned tier;        /* 0 for a rotated memtable; a merge of tier t makes t + 1 */
    uint64_t *bloom;      /* immutables: Bloom filter of the keys; NULL: none (search) */
    size_t bloom_bits;    /* bits in bloom, a power of two */
    struct ientry *index; /* immutables: every node in key order; NULL: none */
    size_t lcp;           /* bytes every key of an indexed table starts with */
};

/* An immutable table's index entry: the 8 key bytes after the table's
 * common prefix (big-endian, zero-padded), then the node. Binary search
 * compares the prefixes without touching the nodes, so a lookup in a large
 * table costs a few cache misses, not one per skip-list step. */
struct ientry {
    uint64_t prefix;
    struct slnode *node;
};

struct lsm {
    struct skiplist *active;
    struct skiplist *imm[LSM_MAX_TABLES]; /* immutables, newest first */
    unsigned nimm;                        /* count: immutables in imm[] */
    size_t n;                             /* count: live keys */
    size_t memtable_limit;                /* bytes */
    unsigned fanout;                      /* count: tables of one tier merged together */
    uint64_t seed;                        /* next skip list's rng seed */
};

static const unsigned char *node_key(const struct slnode *nd)
{
    return (const unsigned char *)&nd->next[nd->height];
}

static const unsigned char *node_val(const struct slnode *nd)
{
    return node_key(nd) + nd->klen;
}

static size_t node_size(unsigned height, size_t klen, size_t vlen)
{
    size_t hdr = sizeof(struct slnode) + height * sizeof(struct slnode *);
    return size_add3(hdr, klen, vlen == TOMBSTONE ? 0 : vlen);
}

static struct slnode *node_new(unsigned height, const void *key, size_t klen, const void *val,
                               size_t vlen)
{
    size_t total = node_size(height, klen, vlen);
    if (total == 0) return NULL;
    struct slnode *nd = malloc(total);
    if (!nd) return NULL;
    nd->klen = klen;
    nd->vlen = vlen;
    nd->height = height;
    for (unsigned i = 0; i < height; i++)
        nd->next[i] = NULL;
    unsigned char *kp = (unsigned char *)&nd->next[height];
    if (klen) memcpy(kp, key, klen);
    if (vlen != TOMBSTONE && vlen) memcpy(kp + klen, val, vlen);
    return nd;
}

static int node_cmp(const struct slnode *nd, const void *key, size_t klen)
{
    return key_cmp(node_key(nd), nd->klen, key, klen);
}

/* ---- Bloom filters ---- */

static uint64_t key_hash(const void *key, size_t klen)
{
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < klen; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* A blocked Bloom filter: the probes of one key all fall in one 512-bit
 * block (one cache line), chosen by the low bits of the hash; the high bits
 * pick the bits inside it. nbits is a power of two, at least 512. */
static void bloom_add(uint64_t *bits, size_t nbits, uint64_t h)
{
    uint64_t *blk = bits + (size_t)(h & (nbits / 512 - 1)) * 8;
    uint64_t g = h >> 20;
    for (unsigned i = 0; i < BLOOM_PROBES; i++, g >>= 9)
        blk[(g & 511) / 64] |= 1ull << (g & 63);
}

static int bloom_may_have(const uint64_t *bits, size_t nbits, uint64_t h)
{
    const uint64_t *blk = bits + (size_t)(h & (nbits / 512 - 1)) * 8;
    uint64_t g = h >> 20;
    for (unsigned i = 0; i < BLOOM_PROBES; i++, g >>= 9)
        if (!(blk[(g & 511) / 64] & (1ull << (g & 63)))) return 0;
    return 1;
}

/* Give an immutable table its filter; without memory it has none (and is
 * always searched). */
static void bloom_build(struct skiplist *sl)
{
    size_t want = sl->entries * BLOOM_BITS_PER_KEY, nbits = 512;
    while (nbits < want && nbits < ((size_t)1 << 40))
        nbits *= 2;
    uint64_t *bits = calloc(nbits / 64, sizeof(uint64_t));
    if (!bits) return;
    for (const struct slnode *nd = sl->head->next[0]; nd; nd = nd->next[0])
        bloom_add(bits, nbits, key_hash(node_key(nd), nd->klen));
    free(sl->bloom);
    sl->bloom = bits;
    sl->bloom_bits = nbits;
}

/* ---- the index of an immutable table ---- */

static struct slnode *sl_find(const struct skiplist *sl, const void *key, size_t klen,
                              struct slnode **pred);

/* Key bytes [from, from + 8) as a big-endian number, zero-padded. Its order
 * agrees with key_cmp (never the other way round for keys that share the
 * first `from` bytes). */
static uint64_t prefix_at(const unsigned char *k, size_t klen, size_t from)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = (v << 8) | (from + i < klen ? k[from + i] : 0);
    return v;
}

/* Give an immutable table its index; without memory it has none. */
static void index_build(struct skiplist *sl)
{
    free(sl->index);
    sl->index = NULL;
    const struct slnode *first = sl->head->next[0];
    if (!first || sl->entries > SIZE_MAX / sizeof(struct ientry)) return;
    struct ientry *ix = malloc(sl->entries * sizeof(*ix));
    if (!ix) return;
    /* The common prefix of the first and the last key is every key's. */
    const struct slnode *last = first;
    for (const struct slnode *nd = first; nd; nd = nd->next[0])
        last = nd;
    size_t lcp = 0, m = first->klen < last->klen ? first->klen : last->klen;
    while (lcp < m && node_key(first)[lcp] == node_key(last)[lcp])
        lcp++;
    size_t i = 0;
    for (struct slnode *nd = sl->head->next[0]; nd; nd = nd->next[0]) {
        ix[i].prefix = prefix_at(node_key(nd), nd->klen, lcp);
        ix[i++].node = nd;
    }
    sl->index = ix;
    sl->lcp = lcp;
}

/* The node with key in an immutable table, or NULL. */
static struct slnode *table_find(const struct skiplist *sl, const void *key, size_t klen)
{
    if (!sl->index) return sl_find(sl, key, klen, NULL);
    const struct slnode *first = sl->index[0].node;
    if (klen < sl->lcp || (sl->lcp && memcmp(key, node_key(first), sl->lcp) != 0)) return NULL;
    uint64_t p = prefix_at(key, klen, sl->lcp);
    size_t lo = 0, hi = sl->entries; /* first entry with prefix >= p */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sl->index[mid].prefix < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < sl->entries && sl->index[lo].prefix == p; lo++) {
        int c = node_cmp(sl->index[lo].node, key, klen);
        if (c == 0) return sl->index[lo].node;
        if (c > 0) break;
    }
    return NULL;
}

static struct skiplist *sl_new(uint64_t seed)
{
    struct skiplist *sl = calloc(1, sizeof(*sl));
    if (!sl) return NULL;
    sl->head = node_new(SL_MAX_HEIGHT, NULL, 0, NULL, 0);
    if (!sl->head) {
        free(sl);
        return NULL;
    }
    sl->height = 1;
    sl->rng = seed | 1;
    return sl;
}

static void sl_free(struct skiplist *sl)
{
    if (!sl) return;
    free(sl->bloom);
    free(sl->index);
    struct slnode *nd = sl->head;
    while (nd) {
        struct slnode *next = nd->next[0];
        free(nd);
        nd = next;
    }
    free(sl);
}

static unsigned random_height(struct skiplist *sl)
{
    sl->rng ^= sl->rng << 13;
    sl->rng ^= sl->rng >> 7;
    sl->rng ^= sl->rng << 17;
    uint64_t r = sl->rng;
    unsigned h = 1;
    /* Each further level with probability 1/4, two bits at a time. */
    while (h < SL_MAX_HEIGHT && (r & 3) == 0) {
        h++;
        r >>= 2;
    }
    return h;
}

/* Fill pred[] with the last node before key on every level; return the node
 * with that key, or NULL. */
static struct slnode *sl_find(const struct skiplist *sl, const void *key, size_t klen,
                              struct slnode **pred)
{
    struct slnode *x = sl->head;
    if (pred)
        for (unsigned lv = sl->height; lv < SL_MAX_HEIGHT; lv++)
            pred[lv] = x;
    for (int lv = (int)sl->height - 1; lv >= 0; lv--) {
        while (x->next[lv] && node_cmp(x->next[lv], key, klen) < 0)
            x = x->next[lv];
        if (pred) pred[lv] = x;
    }
    struct slnode *c = x->next[0];
    return c && node_cmp(c, key, klen) == 0 ? c : NULL;
}

/* First node with key >= key (NULL key: the first node). */
static struct slnode *sl_lower_bound(const struct skiplist *sl, const void *key, size_t klen)
{
    if (!key) return sl->head->next[0];
    struct slnode *x = sl->head;
    for (int lv = (int)sl->height - 1; lv >= 0; lv--)
        while (x->next[lv] && node_cmp(x->next[lv], key, klen) < 0)
            x = x->next[lv];
    return x->next[0];
}

/* Insert or replace; ENGINE_ENOMEM leaves the list unchanged. */
static int sl_put(struct skiplist *sl, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct slnode *pred[SL_MAX_HEIGHT];
    struct slnode *old = sl_find(sl, key, klen, pred);
    unsigned h = old ? old->height : random_height(sl);
    struct slnode *nd = node_new(h, key, klen, val, vlen);
    if (!nd) return ENGINE_ENOMEM;
    if (h > sl->height) sl->height = h;
    for (unsigned i = 0; i < h; i++) {
        nd->next[i] = old ? old->next[i] : pred[i]->next[i];
        pred[i]->next[i] = nd;
    }
    sl->bytes += node_size(h, klen, vlen);
    if (old) {
        sl->bytes -= node_size(old->height, old->klen, old->vlen);
        free(old);
    } else {
        sl->entries++;
    }
    return ENGINE_OK;
}

/* Unlink and free the node with key, which must be present. */
static void sl_remove(struct skiplist *sl, const void *key, size_t klen)
{
    struct slnode *pred[SL_MAX_HEIGHT];
    struct slnode *nd = sl_find(sl, key, klen, pred);
    for (unsigned i = 0; i < nd->height; i++)
        pred[i]->next[i] = nd->next[i];
    sl->bytes -= node_size(nd->height, nd->klen, nd->vlen);
    sl->entries--;
    free(nd);
}

/* The newest entry for key in the immutables from index `from` on, or NULL. */
static struct slnode *imm_lookup(const struct lsm *l, unsigned from, const void *key, size_t klen)
{
    uint64_t h = l->nimm > from ? key_hash(key, klen) : 0;
    for (unsigned i = from; i < l->nimm; i++) {
        const struct skiplist *t = l->imm[i];
        if (t->bloom && !bloom_may_have(t->bloom, t->bloom_bits, h)) continue;
        struct slnode *nd = table_find(t, key, klen);
        if (nd) return nd;
    }
    return NULL;
}

/* The newest entry for key in any table (maybe a tombstone), or NULL. */
static struct slnode *lookup(const struct lsm *l, const void *key, size_t klen)
{
    struct slnode *nd = sl_find(l->active, key, klen, NULL);
    return nd ? nd : imm_lookup(l, 0, key, klen);
}

/* Merge the `count` immutables from index `first` on (adjacent in age) into
 * one table of the next tier that takes their place, keeping only the
 * newest version of each key. Tombstones are dropped when the oldest table
 * takes part (nothing older is left for them to hide), and kept otherwise.
 * On failure nothing changes. */
static int merge_range(struct lsm *l, unsigned first, unsigned count)
{
    int drop_tombstones = first + count == l->nimm;
    struct skiplist *out = sl_new(l->seed++);
    if (!out) return -1;
    struct skiplist **in = l->imm + first;
    struct slnode *cur[LSM_MAX_TABLES];
    struct slnode *tail[SL_MAX_HEIGHT];
    size_t total = 0;
    for (unsigned i = 0; i < count; i++) {
        cur[i] = in[i]->head->next[0];
        total += in[i]->entries;
    }
    for (unsigned i = 0; i < SL_MAX_HEIGHT; i++)
        tail[i] = out->head;
    /* The filter is sized for every input entry (an upper bound) and filled
     * as the output is written. */
    size_t nbits = 512;
    while (nbits < total * BLOOM_BITS_PER_KEY && nbits < ((size_t)1 << 40))
        nbits *= 2;
    out->bloom = calloc(nbits / 64, sizeof(uint64_t));
    out->bloom_bits = out->bloom ? nbits : 0;

    for (;;) {
        /* The smallest key; same[] marks the inputs that hold it too (older
         * versions, skipped). One comparison per input. */
        int best = -1;
        unsigned char same[LSM_MAX_TABLES];
        for (unsigned i = 0; i < count; i++) {
            same[i] = 0;
            if (!cur[i]) continue;
            int c = best < 0 ? -1 : node_cmp(cur[i], node_key(cur[best]), cur[best]->klen);
            if (c < 0) {
                for (unsigned j = 0; j < i; j++)
                    same[j] = 0;
                best = (int)i;
            } else if (c == 0) {
                same[i] = 1;
            }
        }
        if (best < 0) break;
        const struct slnode *b = cur[best];
        if (b->vlen != TOMBSTONE || !drop_tombstones) {
            unsigned h = random_height(out);
            struct slnode *nd = node_new(h, node_key(b), b->klen, node_val(b), b->vlen);
            if (!nd) {
                sl_free(out);
                return -1;
            }
            if (h > out->height) out->height = h;
            for (unsigned i = 0; i < h; i++) {
                tail[i]->next[i] = nd;
                tail[i] = nd;
            }
            out->bytes += node_size(h, b->klen, b->vlen);
            out->entries++;
            if (out->bloom)
                bloom_add(out->bloom, out->bloom_bits, key_hash(node_key(nd), nd->klen));
        }
        for (unsigned i = 0; i < count; i++)
            if (same[i]) cur[i] = cur[i]->next[0];
        cur[best] = cur[best]->next[0];
    }
    unsigned tier = 0;
    for (unsigned i = 0; i < count; i++) {
        if (in[i]->tier > tier) tier = in[i]->tier;
        sl_free(in[i]);
    }
    out->tier = tier + 1;
    unsigned rest = l->nimm - first - count;
    int keep = out->entries > 0; /* an empty result (only tombstones) goes */
    if (keep) in[0] = out;
    memmove(in + keep, in + count, rest * sizeof(*in));
    l->nimm = first + (unsigned)keep + rest;
    for (unsigned i = l->nimm; i < LSM_MAX_TABLES; i++)
        l->imm[i] = NULL;
    if (keep)
        index_build(out);
    else
        sl_free(out);
    return 0;
}

/* Size-tiered compaction: while `fanout` tables share a tier, merge them.
 * Tiers never decrease with age, so those tables are adjacent. */
static void compact(struct lsm *l)
{
    for (;;) {
        unsigned i = 0, done = 0;
        while (i < l->nimm && !done) {
            unsigned j = i;
            while (j < l->nimm && l->imm[j]->tier == l->imm[i]->tier)
                j++;
            if (j - i >= l->fanout) {
                if (merge_range(l, i, j - i) != 0) return;
                done = 1;
            }
            i = j;
        }
        if (!done) return;
    }
}

/* Turn a full active table immutable, and merge when there are too many. */
static void maybe_rotate(struct lsm *l)
{
    if (l->active->bytes <= l->memtable_limit || l->nimm >= LSM_MAX_TABLES) return;
    struct skiplist *fresh = sl_new(l->seed++);
    if (!fresh) return;
    memmove(l->imm + 1, l->imm, l->nimm * sizeof(*l->imm));
    l->imm[0] = l->active;
    l->nimm++;
    l->active = fresh;
    l->imm[0]->tier = 0;
    bloom_build(l->imm[0]);
    index_build(l->imm[0]);
    compact(l);
}

static void *lsm_create(const struct engine_options *opt)
{
    struct lsm *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->memtable_limit = opt->lsm_memtable_bytes ? opt->lsm_memtable_bytes : LSM_DEFAULT_MEMTABLE;
    l->fanout = opt->lsm_fanout ? opt->lsm_fanout : LSM_DEFAULT_FANOUT;
    if (l->fanout < 2) l->fanout = 2;
    if (l->fanout > 16) l->fanout = 16;
    l->seed = 0x9e3779b97f4a7c15ULL;
    l->active = sl_new(l->seed++);
    if (!l->active) {
        free(l);
        return NULL;
    }
    return l;
}

static void lsm_destroy(void *impl)
{
    struct lsm *l = impl;
    sl_free(l->active);
    for (unsigned i = 0; i < l->nimm; i++)
        sl_free(l->imm[i]);
    free(l);
}

static int lsm_set(void *impl, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct lsm *l = impl;
    if (vlen == TOMBSTONE) return ENGINE_EINVAL;
    const struct slnode *prev = lookup(l, key, klen);
    int was_live = prev && prev->vlen != TOMBSTONE;
    if (sl_put(l->active, key, klen, val, vlen) != ENGINE_OK) return ENGINE_ENOMEM;
    if (!was_live) l->n++;
    maybe_rotate(l);
    return ENGINE_OK;
}

static int lsm_get(void *impl, const void *key, size_t klen, const void **val, size_t *vlen)
{
    const struct slnode *nd = lookup(impl, key, klen);
    if (!nd || nd->vlen == TOMBSTONE) return ENGINE_NOTFOUND;
    *val = node_val(nd);
    *vlen = nd->vlen;
    return ENGINE_OK;
}

static int lsm_del(void *impl, const void *key, size_t klen)
{
    struct lsm *l = impl;
    struct slnode *in_active = sl_find(l->active, key, klen, NULL);
    struct slnode *older = imm_lookup(l, 0, key, klen);
    const struct slnode *newest = in_active ? in_active : older;
    if (!newest || newest->vlen == TOMBSTONE) return ENGINE_NOTFOUND;
    if (!older || older->vlen == TOMBSTONE) {
        /* Nothing older to hide: drop the active entry outright. */
        sl_remove(l->active, key, klen);
    } else if (sl_put(l->active, key, klen, NULL, TOMBSTONE) != ENGINE_OK) {
        return ENGINE_ENOMEM;
    }
    l->n--;
    maybe_rotate(l);
    return ENGINE_OK;
}

static size_t lsm_count(const void *impl)
{
    return ((const struct lsm *)impl)->n;
}

/* k-way merge of every table from start on; tables[0] is the newest. */
static int merged_walk(const struct lsm *l, const void *start, size_t slen, engine_scan_fn fn,
                       void *arg, size_t *live)
{
    struct slnode *cur[LSM_MAX_TABLES + 1];
    unsigned nt = l->nimm + 1;
    cur[0] = sl_lower_bound(l->active, start, slen);
    for (unsigned i = 0; i < l->nimm; i++)
        cur[i + 1] = sl_lower_bound(l->imm[i], start, slen);
    for (;;) {
        int best = -1;
        for (unsigned i = 0; i < nt; i++) {
            if (cur[i] && (best < 0 || node_cmp(cur[i], node_key(cur[best]), cur[best]->klen) < 0))
                best = (int)i;
        }
        if (best < 0) return 0;
        const struct slnode *b = cur[best];
        for (unsigned i = 0; i < nt; i++) {
            if (i != (unsigned)best && cur[i] && node_cmp(cur[i], node_key(b), b->klen) == 0)
                cur[i] = cur[i]->next[0];
        }
        cur[best] = b->next[0];
        if (b->vlen == TOMBSTONE) continue;
        if (live) ++*live;
        if (fn) {
            int rc = fn(node_key(b), b->klen, node_val(b), b->vlen, arg);
            if (rc) return rc;
        }
    }
}

static int lsm_scan(void *impl, const void *start, size_t slen, engine_scan_fn fn, void *arg)
{
    return merged_walk(impl, start, slen, fn, arg, NULL);
}

static int check_list(const struct skiplist *sl, unsigned which)
{
    size_t entries = 0, bytes = 0;
    if (sl->height < 1 || sl->height > SL_MAX_HEIGHT) {
        fprintf(stderr, "lsm: table %u: bad height %u\n", which, sl->height);
        return ENGINE_CORRUPT;
    }
    for (const struct slnode *nd = sl->head->next[0]; nd; nd = nd->next[0]) {
        if (nd->height < 1 || nd->height > sl->height) {
            fprintf(stderr, "lsm: table %u: node height %u over list height %u\n", which,
                    nd->height, sl->height);
            return ENGINE_CORRUPT;
        }
        const struct slnode *nx = nd->next[0];
        if (nx && node_cmp(nd, node_key(nx), nx->klen) >= 0) {
            fprintf(stderr, "lsm: table %u: keys out of order on level 0\n", which);
            return ENGINE_CORRUPT;
        }
        entries++;
        bytes += node_size(nd->height, nd->klen, nd->vlen);
    }
    /* Every higher level is an ordered subsequence of the level below. */
    for (unsigned lv = 1; lv < SL_MAX_HEIGHT; lv++) {
        const struct slnode *below = sl->head->next[lv - 1];
        for (const struct slnode *nd = sl->head->next[lv]; nd; nd = nd->next[lv]) {
            if (lv >= sl->height || nd->height <= lv) {
                fprintf(stderr, "lsm: table %u: node linked above its height\n", which);
                return ENGINE_CORRUPT;
            }
            while (below && below != nd)
                below = below->next[lv - 1];
            if (!below) {
                fprintf(stderr, "lsm: table %u: level %u not a subsequence\n", which, lv);
                return ENGINE_CORRUPT;
            }
        }
    }
    if (sl->index) {
        size_t i = 0;
        for (const struct slnode *nd = sl->head->next[0]; nd; nd = nd->next[0], i++) {
            if (i >= sl->entries || sl->index[i].node != nd ||
                sl->index[i].prefix != prefix_at(node_key(nd), nd->klen, sl->lcp) ||
                (sl->lcp && (nd->klen < sl->lcp ||
                             memcmp(node_key(nd), node_key(sl->index[0].node), sl->lcp) != 0)) ||
                table_find(sl, node_key(nd), nd->klen) != nd) {
                fprintf(stderr, "lsm: table %u: index entry %zu is wrong\n", which, i);
                return ENGINE_CORRUPT;
            }
        }
    }
    if (sl->bloom) {
        for (const struct slnode *nd = sl->head->next[0]; nd; nd = nd->next[0]) {
            if (!bloom_may_have(sl->bloom, sl->bloom_bits, key_hash(node_key(nd), nd->klen))) {
                fprintf(stderr, "lsm: table %u: a key is missing from its Bloom filter\n", which);
                return ENGINE_CORRUPT;
            }
        }
    }
    if (entries != sl->entries || bytes != sl->bytes) {
        fprintf(stderr, "lsm: table %u: %zu entries/%zu bytes, recorded %zu/%zu\n", which, entries,
                bytes, sl->entries, sl->bytes);
        return ENGINE_CORRUPT;
    }
    return 0;
}

static int lsm_check(void *impl)
{
    struct lsm *l = impl;
    if (check_list(l->active, 0)) return ENGINE_CORRUPT;
    if (l->nimm > LSM_MAX_TABLES) {
        fprintf(stderr, "lsm: %u immutables\n", l->nimm);
        return ENGINE_CORRUPT;
    }
    for (unsigned i = 0; i < l->nimm; i++) {
        if (check_list(l->imm[i], i + 1)) return ENGINE_CORRUPT;
        /* Tiers never decrease with age. */
        if (i > 0 && l->imm[i]->tier < l->imm[i - 1]->tier) {
            fprintf(stderr, "lsm: table %u: tier %u older than tier %u\n", i + 1, l->imm[i]->tier,
                    l->imm[i - 1]->tier);
            return ENGINE_CORRUPT;
        }
    }
    size_t live = 0;
    merged_walk(l, NULL, 0, NULL, NULL, &live);
    if (live != l->n) {
        fprintf(stderr, "lsm: %zu live keys, count says %zu\n", live, l->n);
        return ENGINE_CORRUPT;
    }
    return 0;
}

const struct engine_ops engine_lsm_ops = {
    .name = "lsm",
    .ordered = true,
    .create = lsm_create,
    .destroy = lsm_destroy,
    .set = lsm_set,
    .get = lsm_get,
    .del = lsm_del,
    .count = lsm_count,
    .scan = lsm_scan,
    .check = lsm_check,
};
