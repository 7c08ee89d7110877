/*
 * btree.c - the B+tree engine.
 *
 * Items (key and value in one allocation, item.h) live only in the leaves;
 * the leaves are linked both ways in key order so a range scan walks them
 * without going back up. Inner nodes hold copies of separator keys: child i
 * of an inner node covers keys k with key[i-1] <= k < key[i].
 *
 * Fill rules (checked by btree_check): every leaf but the root holds
 * LEAF_MIN..LEAF_MAX items, every inner node but the root has
 * INNER_MIN..INNER_MAX children, an inner root has at least two, and all
 * leaves are at the same depth.
 *
 * Out of memory: an insert first works out how many nodes will split and
 * allocates all of them (and the one new separator) before touching the
 * tree; a delete may need one separator copy (when it borrows from a sibling
 * leaf) and allocates it before touching the tree. So a failure leaves the
 * tree as it was.
 */
#include "engine.h"
#include "item.h"

#include <stdio.h>
#include <stdlib.h>

#define LEAF_MAX  32              /* items per leaf */
#define LEAF_MIN  (LEAF_MAX / 2)  /* items per non-root leaf, at least */
#define INNER_MAX 32              /* children per inner node */
#define INNER_MIN (INNER_MAX / 2) /* children per non-root inner node, at least */
#define MAX_DEPTH 48              /* inner levels; far beyond any reachable height */

struct bkey {
    size_t len;        /* bytes in b */
    unsigned char b[]; /* separator key bytes */
};

struct bnode {
    unsigned char leaf; /* 1 for struct bleaf, 0 for struct binner */
    unsigned short n;   /* leaf: items; inner: children (keys = n - 1) */
};

struct bleaf {
    struct bnode h;
    struct bleaf *prev, *next; /* neighbours in key order */
    struct item *it[LEAF_MAX];
};

struct binner {
    struct bnode h;
    struct bkey *key[INNER_MAX - 1];
    struct bnode *child[INNER_MAX];
};

struct btree {
    struct bnode *root;
    unsigned height; /* inner levels above the leaves; 0 when the root is a leaf */
    size_t n;        /* count: live keys */
};

/* A root-to-leaf path: the inner nodes and the child index taken in each. */
struct bpath {
    struct binner *in[MAX_DEPTH];
    unsigned idx[MAX_DEPTH];
    struct bleaf *leaf;
};

static struct bkey *bkey_new(const void *key, size_t len)
{
    size_t total = size_add3(sizeof(struct bkey), len, 0);
    if (total == 0) return NULL;
    struct bkey *k = malloc(total);
    if (!k) return NULL;
    k->len = len;
    if (len) memcpy(k->b, key, len);
    return k;
}

static int bkey_cmp(const struct bkey *k, const void *key, size_t len)
{
    return key_cmp(k->b, k->len, key, len);
}

/* Child index for key in an inner node: the number of separators <= key. */
static unsigned inner_slot(const struct binner *in, const void *key, size_t klen)
{
    unsigned lo = 0, hi = in->h.n - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (bkey_cmp(in->key[mid], key, klen) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* First item index in the leaf whose key is >= key; *found when equal. */
static unsigned leaf_slot(const struct bleaf *lf, const void *key, size_t klen, int *found)
{
    unsigned lo = 0, hi = lf->h.n;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (item_cmp_key(lf->it[mid], key, klen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < lf->h.n && item_cmp_key(lf->it[lo], key, klen) == 0;
    return lo;
}

static void descend(const struct btree *t, const void *key, size_t klen, struct bpath *p)
{
    struct bnode *nd = t->root;
    for (unsigned d = 0; d < t->height; d++) {
        struct binner *in = (struct binner *)nd;
        unsigned i = inner_slot(in, key, klen);
        p->in[d] = in;
        p->idx[d] = i;
        nd = in->child[i];
    }
    p->leaf = (struct bleaf *)nd;
}

static struct bleaf *leaf_new(void)
{
    struct bleaf *lf = calloc(1, sizeof(*lf));
    if (lf) lf->h.leaf = 1;
    return lf;
}

static struct binner *inner_new(void)
{
    return calloc(1, sizeof(struct binner));
}

static void *bt_create(const struct engine_options *opt)
{
    (void)opt;
    struct btree *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    struct bleaf *lf = leaf_new();
    if (!lf) {
        free(t);
        return NULL;
    }
    t->root = &lf->h;
    return t;
}

static void free_subtree(struct bnode *nd)
{
    if (nd->leaf) {
        struct bleaf *lf = (struct bleaf *)nd;
        for (unsigned i = 0; i < lf->h.n; i++)
            item_free(lf->it[i]);
    } else {
        struct binner *in = (struct binner *)nd;
        for (unsigned i = 0; i < in->h.n; i++)
            free_subtree(in->child[i]);
        for (unsigned i = 0; i + 1 < in->h.n; i++)
            free(in->key[i]);
    }
    free(nd);
}

static void bt_destroy(void *impl)
{
    struct btree *t = impl;
    free_subtree(t->root);
    free(t);
}

/* Everything an insert may need, allocated before the tree is touched. */
struct split_plan {
    unsigned splits;                     /* nodes that split: the leaf, then inner levels */
    int new_root;                        /* 1 when the root splits too */
    struct bleaf *leaf;                  /* right half of the leaf */
    struct bkey *sep;                    /* separator for the leaf split */
    struct binner *inner[MAX_DEPTH + 1]; /* right halves of inner nodes, then the new root */
};

static void plan_free(struct split_plan *sp)
{
    free(sp->leaf);
    free(sp->sep);
    for (unsigned i = 0; i < MAX_DEPTH + 1; i++)
        free(sp->inner[i]);
}

/* Insert item it at pos into a full leaf, splitting it into lf and the
 * plan's new leaf, which is linked in on the right. */
static void split_leaf(struct bleaf *lf, unsigned pos, struct item *it, struct split_plan *sp)
{
    struct item *all[LEAF_MAX + 1];
    memcpy(all, lf->it, pos * sizeof(*all));
    all[pos] = it;
    memcpy(all + pos + 1, lf->it + pos, (LEAF_MAX - pos) * sizeof(*all));

    struct bleaf *r = sp->leaf;
    sp->leaf = NULL;
    unsigned nl = (LEAF_MAX + 1) / 2;
    lf->h.n = (unsigned short)nl;
    memcpy(lf->it, all, nl * sizeof(*all));
    r->h.n = (unsigned short)(LEAF_MAX + 1 - nl);
    memcpy(r->it, all + nl, r->h.n * sizeof(*all));
    r->next = lf->next;
    r->prev = lf;
    if (lf->next) lf->next->prev = r;
    lf->next = r;
}

/* Insert separator key k and right child c at child slot i+1 of a full inner
 * node, splitting it into in (left) and r (right); *up is the middle key. */
static void split_inner(struct binner *in, unsigned i, struct bkey *k, struct bnode *c,
                        struct binner *r, struct bkey **up)
{
    struct bkey *keys[INNER_MAX];
    struct bnode *kids[INNER_MAX + 1];
    memcpy(keys, in->key, i * sizeof(*keys));
    keys[i] = k;
    memcpy(keys + i + 1, in->key + i, (INNER_MAX - 1 - i) * sizeof(*keys));
    memcpy(kids, in->child, (i + 1) * sizeof(*kids));
    kids[i + 1] = c;
    memcpy(kids + i + 2, in->child + i + 1, (INNER_MAX - 1 - i) * sizeof(*kids));

    /* INNER_MAX keys, INNER_MAX + 1 children: left keeps INNER_MIN + 1 children. */
    unsigned lc = INNER_MIN + 1;
    in->h.n = (unsigned short)lc;
    memcpy(in->child, kids, lc * sizeof(*kids));
    memcpy(in->key, keys, (lc - 1) * sizeof(*keys));
    *up = keys[lc - 1];
    r->h.n = (unsigned short)(INNER_MAX + 1 - lc);
    memcpy(r->child, kids + lc, r->h.n * sizeof(*kids));
    memcpy(r->key, keys + lc, (r->h.n - 1) * sizeof(*keys));
}

static void inner_insert(struct binner *in, unsigned i, struct bkey *k, struct bnode *c)
{
    unsigned nk = in->h.n - 1;
    memmove(in->key + i + 1, in->key + i, (nk - i) * sizeof(*in->key));
    memmove(in->child + i + 2, in->child + i + 1, (in->h.n - i - 1) * sizeof(*in->child));
    in->key[i] = k;
    in->child[i + 1] = c;
    in->h.n++;
}

static int bt_set(void *impl, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct btree *t = impl;
    struct bpath p;
    int found;
    descend(t, key, klen, &p);
    struct bleaf *lf = p.leaf;
    unsigned pos = leaf_slot(lf, key, klen, &found);

    struct item *it = item_new(key, klen, val, vlen);
    if (!it) return ENGINE_ENOMEM;
    if (found) {
        item_free(lf->it[pos]);
        lf->it[pos] = it;
        return ENGINE_OK;
    }
    if (lf->h.n < LEAF_MAX) {
        memmove(lf->it + pos + 1, lf->it + pos, (lf->h.n - pos) * sizeof(*lf->it));
        lf->it[pos] = it;
        lf->h.n++;
        t->n++;
        return ENGINE_OK;
    }

    /* Plan the splits and allocate everything first. */
    struct split_plan sp;
    memset(&sp, 0, sizeof(sp));
    sp.splits = 1;
    int d = (int)t->height - 1;
    while (d >= 0 && p.in[d]->h.n == INNER_MAX) {
        sp.splits++;
        d--;
    }
    sp.new_root = d < 0;
    unsigned nl = (LEAF_MAX + 1) / 2; /* the right half starts at merged index nl */
    const struct item *first = nl == pos ? it : lf->it[nl < pos ? nl : nl - 1];
    sp.leaf = leaf_new();
    sp.sep = bkey_new(item_key(first), first->klen);
    int ok = sp.leaf && sp.sep;
    for (unsigned i = 0; ok && i + 1 < sp.splits + (unsigned)sp.new_root; i++) {
        sp.inner[i] = inner_new();
        ok = sp.inner[i] != NULL;
    }
    if (!ok) {
        plan_free(&sp);
        item_free(it);
        return ENGINE_ENOMEM;
    }

    struct bleaf *rleaf = sp.leaf;
    struct bkey *up = sp.sep;
    sp.sep = NULL;
    split_leaf(lf, pos, it, &sp);
    struct bnode *right = &rleaf->h;
    unsigned used = 0;
    for (d = (int)t->height - 1; d >= 0; d--) {
        struct binner *in = p.in[d];
        if (in->h.n < INNER_MAX) {
            inner_insert(in, p.idx[d], up, right);
            right = NULL;
            break;
        }
        struct binner *r = sp.inner[used];
        sp.inner[used++] = NULL;
        struct bkey *mid;
        split_inner(in, p.idx[d], up, right, r, &mid);
        up = mid;
        right = &r->h;
    }
    if (right) {
        struct binner *root = sp.inner[used];
        sp.inner[used++] = NULL;
        root->h.n = 2;
        root->child[0] = t->root;
        root->child[1] = right;
        root->key[0] = up;
        t->root = &root->h;
        t->height++;
    }
    t->n++;
    return ENGINE_OK;
}

static int bt_get(void *impl, const void *key, size_t klen, const void **val, size_t *vlen)
{
    struct bpath p;
    int found;
    descend(impl, key, klen, &p);
    unsigned pos = leaf_slot(p.leaf, key, klen, &found);
    if (!found) return ENGINE_NOTFOUND;
    *val = item_val(p.leaf->it[pos]);
    *vlen = p.leaf->it[pos]->vlen;
    return ENGINE_OK;
}

static void inner_remove(struct binner *in, unsigned ki)
{
    /* Remove key ki and child ki + 1. */
    unsigned nk = in->h.n - 1;
    memmove(in->key + ki, in->key + ki + 1, (nk - ki - 1) * sizeof(*in->key));
    memmove(in->child + ki + 1, in->child + ki + 2, (in->h.n - ki - 2) * sizeof(*in->child));
    in->h.n--;
}

/* Merge leaf r into its left neighbour l (same parent); r is freed. */
static void merge_leaves(struct bleaf *l, struct bleaf *r)
{
    memcpy(l->it + l->h.n, r->it, r->h.n * sizeof(*r->it));
    l->h.n = (unsigned short)(l->h.n + r->h.n);
    l->next = r->next;
    if (r->next) r->next->prev = l;
    free(r);
}

/* Fix an inner node at depth d that has fallen below INNER_MIN children. */
static void fix_inner(struct btree *t, struct bpath *p, int d)
{
    for (; d > 0; d--) {
        struct binner *in = p->in[d];
        if (in->h.n >= INNER_MIN) return;
        struct binner *par = p->in[d - 1];
        unsigned ci = p->idx[d - 1];
        struct binner *ls = ci > 0 ? (struct binner *)par->child[ci - 1] : NULL;
        struct binner *rs = ci + 1 < par->h.n ? (struct binner *)par->child[ci + 1] : NULL;
        if (ls && ls->h.n > INNER_MIN) {
            /* Rotate right: ls's last child moves to the front of in. */
            memmove(in->key + 1, in->key, (in->h.n - 1) * sizeof(*in->key));
            memmove(in->child + 1, in->child, in->h.n * sizeof(*in->child));
            in->key[0] = par->key[ci - 1];
            in->child[0] = ls->child[ls->h.n - 1];
            in->h.n++;
            par->key[ci - 1] = ls->key[ls->h.n - 2];
            ls->h.n--;
            return;
        }
        if (rs && rs->h.n > INNER_MIN) {
            /* Rotate left: rs's first child moves to the end of in. */
            in->key[in->h.n - 1] = par->key[ci];
            in->child[in->h.n] = rs->child[0];
            in->h.n++;
            par->key[ci] = rs->key[0];
            memmove(rs->key, rs->key + 1, (rs->h.n - 2) * sizeof(*rs->key));
            memmove(rs->child, rs->child + 1, (rs->h.n - 1) * sizeof(*rs->child));
            rs->h.n--;
            return;
        }
        /* Merge with a sibling at the minimum, pulling the separator down. */
        struct binner *l = ls ? ls : in, *r = ls ? in : rs;
        unsigned ki = ls ? ci - 1 : ci;
        l->key[l->h.n - 1] = par->key[ki];
        memcpy(l->key + l->h.n, r->key, (r->h.n - 1) * sizeof(*r->key));
        memcpy(l->child + l->h.n, r->child, r->h.n * sizeof(*r->child));
        l->h.n = (unsigned short)(l->h.n + r->h.n);
        free(r);
        inner_remove(par, ki);
    }
    /* d == 0: the root may shrink to its only child. */
    struct binner *root = p->in[0];
    if (t->height > 0 && root->h.n == 1) {
        t->root = root->child[0];
        t->height--;
        free(root);
    }
}

static int bt_del(void *impl, const void *key, size_t klen)
{
    struct btree *t = impl;
    struct bpath p;
    int found;
    descend(t, key, klen, &p);
    struct bleaf *lf = p.leaf;
    unsigned pos = leaf_slot(lf, key, klen, &found);
    if (!found) return ENGINE_NOTFOUND;

    if (t->height == 0 || lf->h.n > LEAF_MIN) {
        item_free(lf->it[pos]);
        memmove(lf->it + pos, lf->it + pos + 1, (lf->h.n - pos - 1) * sizeof(*lf->it));
        lf->h.n--;
        t->n--;
        return ENGINE_OK;
    }

    struct binner *par = p.in[t->height - 1];
    unsigned ci = p.idx[t->height - 1];
    struct bleaf *ls = ci > 0 ? (struct bleaf *)par->child[ci - 1] : NULL;
    struct bleaf *rs = ci + 1 < par->h.n ? (struct bleaf *)par->child[ci + 1] : NULL;
    struct bkey *sep = NULL;
    if (ls && ls->h.n > LEAF_MIN) {
        const struct item *m = ls->it[ls->h.n - 1];
        sep = bkey_new(item_key(m), m->klen);
    } else if (rs && rs->h.n > LEAF_MIN) {
        const struct item *m = rs->it[1];
        sep = bkey_new(item_key(m), m->klen);
    }
    if ((ls && ls->h.n > LEAF_MIN) || (rs && rs->h.n > LEAF_MIN)) {
        if (!sep) return ENGINE_ENOMEM;
    }

    item_free(lf->it[pos]);
    memmove(lf->it + pos, lf->it + pos + 1, (lf->h.n - pos - 1) * sizeof(*lf->it));
    lf->h.n--;
    t->n--;

    if (ls && ls->h.n > LEAF_MIN) {
        memmove(lf->it + 1, lf->it, lf->h.n * sizeof(*lf->it));
        lf->it[0] = ls->it[--ls->h.n];
        lf->h.n++;
        free(par->key[ci - 1]);
        par->key[ci - 1] = sep;
        return ENGINE_OK;
    }
    if (rs && rs->h.n > LEAF_MIN) {
        lf->it[lf->h.n++] = rs->it[0];
        memmove(rs->it, rs->it + 1, (rs->h.n - 1) * sizeof(*rs->it));
        rs->h.n--;
        free(par->key[ci]);
        par->key[ci] = sep;
        return ENGINE_OK;
    }
    /* Both neighbours at the minimum: merge, drop one separator. */
    unsigned ki = ls ? ci - 1 : ci;
    merge_leaves(ls ? ls : lf, ls ? lf : rs);
    free(par->key[ki]);
    inner_remove(par, ki);
    fix_inner(t, &p, (int)t->height - 1);
    return ENGINE_OK;
}

static size_t bt_count(const void *impl)
{
    return ((const struct btree *)impl)->n;
}

static int bt_scan(void *impl, const void *start, size_t slen, engine_scan_fn fn, void *arg)
{
    struct btree *t = impl;
    struct bpath p;
    unsigned pos = 0;
    if (start) {
        int found;
        descend(t, start, slen, &p);
        pos = leaf_slot(p.leaf, start, slen, &found);
    } else {
        struct bnode *nd = t->root;
        while (!nd->leaf)
            nd = ((struct binner *)nd)->child[0];
        p.leaf = (struct bleaf *)nd;
    }
    for (struct bleaf *lf = p.leaf; lf; lf = lf->next, pos = 0) {
        for (; pos < lf->h.n; pos++) {
            const struct item *it = lf->it[pos];
            int rc = fn(item_key(it), it->klen, item_val(it), it->vlen, arg);
            if (rc) return rc;
        }
    }
    return 0;
}

/* State of the checker's in-order walk. */
struct bcheck {
    const struct btree *t;
    struct bleaf *last; /* previous leaf visited */
    size_t items;       /* count: items seen */
};

static int check_fail(const char *what)
{
    fprintf(stderr, "btree: %s\n", what);
    return ENGINE_CORRUPT;
}

/* Check the subtree at depth d whose keys must lie in [lo, hi) (NULL: open). */
static int check_node(struct bcheck *c, const struct bnode *nd, unsigned d, const struct bkey *lo,
                      const struct bkey *hi)
{
    int is_root = nd == c->t->root;
    if (nd->leaf) {
        const struct bleaf *lf = (const struct bleaf *)nd;
        if (d != c->t->height) return check_fail("leaves at different depths");
        if (lf->h.n > LEAF_MAX || (!is_root && lf->h.n < LEAF_MIN))
            return check_fail("leaf fill out of bounds");
        for (unsigned i = 0; i < lf->h.n; i++) {
            const struct item *it = lf->it[i];
            if (i > 0 &&
                key_cmp(item_key(lf->it[i - 1]), lf->it[i - 1]->klen, item_key(it), it->klen) >= 0)
                return check_fail("leaf items out of order");
            if (lo && bkey_cmp(lo, item_key(it), it->klen) > 0)
                return check_fail("leaf item below its lower separator");
            if (hi && bkey_cmp(hi, item_key(it), it->klen) <= 0)
                return check_fail("leaf item not below its upper separator");
        }
        if (lf->prev != c->last || (c->last && c->last->next != lf))
            return check_fail("leaf chain broken");
        if (c->last && lf->h.n && c->last->h.n) {
            const struct item *a = c->last->it[c->last->h.n - 1], *b = lf->it[0];
            if (key_cmp(item_key(a), a->klen, item_key(b), b->klen) >= 0)
                return check_fail("leaf chain out of order");
        }
        c->last = (struct bleaf *)lf;
        c->items += lf->h.n;
        return 0;
    }
    const struct binner *in = (const struct binner *)nd;
    if (d >= c->t->height) return check_fail("inner node at leaf depth");
    if (in->h.n > INNER_MAX || in->h.n < (is_root ? 2 : INNER_MIN))
        return check_fail("inner fill out of bounds");
    for (unsigned i = 0; i + 1 < in->h.n; i++) {
        const struct bkey *k = in->key[i];
        if (i > 0 && bkey_cmp(in->key[i - 1], k->b, k->len) >= 0)
            return check_fail("separators out of order");
        if ((lo && bkey_cmp(lo, k->b, k->len) > 0) || (hi && bkey_cmp(hi, k->b, k->len) <= 0))
            return check_fail("separator outside its parent's range");
    }
    for (unsigned i = 0; i < in->h.n; i++) {
        const struct bkey *clo = i > 0 ? in->key[i - 1] : lo;
        const struct bkey *chi = i + 1 < in->h.n ? in->key[i] : hi;
        if (check_node(c, in->child[i], d + 1, clo, chi)) return ENGINE_CORRUPT;
    }
    return 0;
}

static int bt_check(void *impl)
{
    struct btree *t = impl;
    struct bcheck c = {t, NULL, 0};
    if (t->height >= MAX_DEPTH) return check_fail("too tall");
    if (check_node(&c, t->root, 0, NULL, NULL)) return ENGINE_CORRUPT;
    if (c.last && c.last->next) return check_fail("last leaf has a successor");
    if (c.items != t->n) return check_fail("item count does not match");
    return 0;
}

const struct engine_ops engine_btree_ops = {
    .name = "btree",
    .ordered = true,
    .create = bt_create,
    .destroy = bt_destroy,
    .set = bt_set,
    .get = bt_get,
    .del = bt_del,
    .count = bt_count,
    .scan = bt_scan,
    .check = bt_check,
};
