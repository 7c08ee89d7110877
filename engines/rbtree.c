/*
 * rbtree.c - the red-black tree engine.
 *
 * A classic red-black tree with parent pointers and NULL leaves (CLRS
 * chapter 13). Each node carries its key and value inline, so a key costs one
 * allocation; overwriting allocates a new node and puts it in the old one's
 * place (same links, same colour), so a failed allocation changes nothing.
 */
#include "engine.h"
#include "item.h"

#include <stdio.h>
#include <stdlib.h>

struct rbnode {
    struct rbnode *left, *right, *parent;
    size_t klen;          /* bytes of key at data[0] */
    size_t vlen;          /* bytes of value at data[klen] */
    unsigned char red;    /* 1 red, 0 black */
    unsigned char data[]; /* key, then value */
};

struct rbtree {
    struct rbnode *root;
    size_t n; /* count: live keys */
};

static int node_cmp(const struct rbnode *nd, const void *key, size_t klen)
{
    return key_cmp(nd->data, nd->klen, key, klen);
}

static int is_red(const struct rbnode *nd)
{
    return nd && nd->red;
}

static void rotate_left(struct rbtree *t, struct rbnode *x)
{
    struct rbnode *y = x->right;
    x->right = y->left;
    if (y->left) y->left->parent = x;
    y->parent = x->parent;
    if (!x->parent)
        t->root = y;
    else if (x == x->parent->left)
        x->parent->left = y;
    else
        x->parent->right = y;
    y->left = x;
    x->parent = y;
}

static void rotate_right(struct rbtree *t, struct rbnode *x)
{
    struct rbnode *y = x->left;
    x->left = y->right;
    if (y->right) y->right->parent = x;
    y->parent = x->parent;
    if (!x->parent)
        t->root = y;
    else if (x == x->parent->right)
        x->parent->right = y;
    else
        x->parent->left = y;
    y->right = x;
    x->parent = y;
}

/* Put v (possibly NULL) where u hangs. */
static void transplant(struct rbtree *t, struct rbnode *u, struct rbnode *v)
{
    if (!u->parent)
        t->root = v;
    else if (u == u->parent->left)
        u->parent->left = v;
    else
        u->parent->right = v;
    if (v) v->parent = u->parent;
}

static struct rbnode *minimum(struct rbnode *nd)
{
    while (nd->left)
        nd = nd->left;
    return nd;
}

static struct rbnode *successor(struct rbnode *nd)
{
    if (nd->right) return minimum(nd->right);
    struct rbnode *p = nd->parent;
    while (p && nd == p->right) {
        nd = p;
        p = p->parent;
    }
    return p;
}

static struct rbnode *find(const struct rbtree *t, const void *key, size_t klen)
{
    struct rbnode *nd = t->root;
    while (nd) {
        int c = node_cmp(nd, key, klen);
        if (c == 0) return nd;
        nd = c > 0 ? nd->left : nd->right;
    }
    return NULL;
}

/* First node whose key is >= key, or NULL. */
static struct rbnode *lower_bound(const struct rbtree *t, const void *key, size_t klen)
{
    struct rbnode *nd = t->root, *best = NULL;
    while (nd) {
        if (node_cmp(nd, key, klen) >= 0) {
            best = nd;
            nd = nd->left;
        } else {
            nd = nd->right;
        }
    }
    return best;
}

static struct rbnode *node_new(const void *key, size_t klen, const void *val, size_t vlen)
{
    size_t total = size_add3(sizeof(struct rbnode), klen, vlen);
    if (total == 0) return NULL;
    struct rbnode *nd = malloc(total);
    if (!nd) return NULL;
    nd->left = nd->right = nd->parent = NULL;
    nd->klen = klen;
    nd->vlen = vlen;
    nd->red = 1;
    if (klen) memcpy(nd->data, key, klen);
    if (vlen) memcpy(nd->data + klen, val, vlen);
    return nd;
}

static void insert_fixup(struct rbtree *t, struct rbnode *z)
{
    struct rbnode *p;
    while ((p = z->parent) && p->red) {
        struct rbnode *g = p->parent; /* exists: a red node is never the root */
        if (p == g->left) {
            struct rbnode *u = g->right;
            if (is_red(u)) {
                p->red = u->red = 0;
                g->red = 1;
                z = g;
                continue;
            }
            if (z == p->right) {
                rotate_left(t, p);
                z = p;
                p = z->parent;
            }
            p->red = 0;
            g->red = 1;
            rotate_right(t, g);
        } else {
            struct rbnode *u = g->left;
            if (is_red(u)) {
                p->red = u->red = 0;
                g->red = 1;
                z = g;
                continue;
            }
            if (z == p->left) {
                rotate_right(t, p);
                z = p;
                p = z->parent;
            }
            p->red = 0;
            g->red = 1;
            rotate_left(t, g);
        }
    }
    t->root->red = 0;
}

/* Restore the black height after a black node left the tree; x (maybe NULL)
 * carries the extra black and xp is its parent. */
static void delete_fixup(struct rbtree *t, struct rbnode *x, struct rbnode *xp)
{
    while (x != t->root && !is_red(x)) {
        if (x == xp->left) {
            struct rbnode *w = xp->right;
            if (is_red(w)) {
                w->red = 0;
                xp->red = 1;
                rotate_left(t, xp);
                w = xp->right;
            }
            if (!is_red(w->left) && !is_red(w->right)) {
                w->red = 1;
                x = xp;
                xp = x->parent;
            } else {
                if (!is_red(w->right)) {
                    w->left->red = 0;
                    w->red = 1;
                    rotate_right(t, w);
                    w = xp->right;
                }
                w->red = xp->red;
                xp->red = 0;
                w->right->red = 0;
                rotate_left(t, xp);
                x = t->root;
                xp = NULL;
            }
        } else {
            struct rbnode *w = xp->left;
            if (is_red(w)) {
                w->red = 0;
                xp->red = 1;
                rotate_right(t, xp);
                w = xp->left;
            }
            if (!is_red(w->left) && !is_red(w->right)) {
                w->red = 1;
                x = xp;
                xp = x->parent;
            } else {
                if (!is_red(w->left)) {
                    w->right->red = 0;
                    w->red = 1;
                    rotate_left(t, w);
                    w = xp->left;
                }
                w->red = xp->red;
                xp->red = 0;
                w->left->red = 0;
                rotate_right(t, xp);
                x = t->root;
                xp = NULL;
            }
        }
    }
    if (x) x->red = 0;
}

static void *rb_create(const struct engine_options *opt)
{
    (void)opt;
    return calloc(1, sizeof(struct rbtree));
}

static void rb_destroy(void *impl)
{
    struct rbtree *t = impl;
    /* Free without recursion: detach children as we descend. */
    struct rbnode *nd = t->root;
    while (nd) {
        if (nd->left) {
            struct rbnode *l = nd->left;
            nd->left = NULL;
            nd = l;
        } else if (nd->right) {
            struct rbnode *r = nd->right;
            nd->right = NULL;
            nd = r;
        } else {
            struct rbnode *p = nd->parent;
            free(nd);
            nd = p;
        }
    }
    free(t);
}

static int rb_set(void *impl, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct rbtree *t = impl;
    struct rbnode *z = node_new(key, klen, val, vlen);
    if (!z) return ENGINE_ENOMEM;

    struct rbnode *p = NULL, *nd = t->root;
    int c = 0;
    while (nd) {
        c = node_cmp(nd, key, klen);
        if (c == 0) break;
        p = nd;
        nd = c > 0 ? nd->left : nd->right;
    }
    if (nd) {
        /* Overwrite: z takes nd's place, links and colour. */
        z->left = nd->left;
        z->right = nd->right;
        z->parent = nd->parent;
        z->red = nd->red;
        transplant(t, nd, z);
        if (z->left) z->left->parent = z;
        if (z->right) z->right->parent = z;
        free(nd);
        return ENGINE_OK;
    }
    z->parent = p;
    if (!p)
        t->root = z;
    else if (c > 0)
        p->left = z;
    else
        p->right = z;
    insert_fixup(t, z);
    t->n++;
    return ENGINE_OK;
}

static int rb_get(void *impl, const void *key, size_t klen, const void **val, size_t *vlen)
{
    struct rbnode *nd = find(impl, key, klen);
    if (!nd) return ENGINE_NOTFOUND;
    *val = nd->data + nd->klen;
    *vlen = nd->vlen;
    return ENGINE_OK;
}

static int rb_del(void *impl, const void *key, size_t klen)
{
    struct rbtree *t = impl;
    struct rbnode *z = find(t, key, klen);
    if (!z) return ENGINE_NOTFOUND;

    struct rbnode *x, *xp;
    int removed_red = z->red;
    if (!z->left) {
        x = z->right;
        xp = z->parent;
        transplant(t, z, z->right);
    } else if (!z->right) {
        x = z->left;
        xp = z->parent;
        transplant(t, z, z->left);
    } else {
        struct rbnode *y = minimum(z->right);
        removed_red = y->red;
        x = y->right;
        if (y->parent == z) {
            xp = y;
        } else {
            xp = y->parent;
            transplant(t, y, y->right);
            y->right = z->right;
            y->right->parent = y;
        }
        transplant(t, z, y);
        y->left = z->left;
        y->left->parent = y;
        y->red = z->red;
    }
    free(z);
    t->n--;
    if (!removed_red) delete_fixup(t, x, xp);
    return ENGINE_OK;
}

static size_t rb_count(const void *impl)
{
    return ((const struct rbtree *)impl)->n;
}

static int rb_scan(void *impl, const void *start, size_t slen, engine_scan_fn fn, void *arg)
{
    struct rbtree *t = impl;
    struct rbnode *nd = start ? lower_bound(t, start, slen) : (t->root ? minimum(t->root) : NULL);
    for (; nd; nd = successor(nd)) {
        int rc = fn(nd->data, nd->klen, nd->data + nd->klen, nd->vlen, arg);
        if (rc) return rc;
    }
    return 0;
}

/* Black height of the subtree, or -1 when a rule is broken below nd. */
static long check_node(const struct rbnode *nd, const struct rbnode *parent, size_t depth)
{
    if (!nd) return 1;
    if (nd->parent != parent) {
        fprintf(stderr, "rbtree: bad parent pointer\n");
        return -1;
    }
    if (depth > 128) {
        fprintf(stderr, "rbtree: depth over 128\n");
        return -1;
    }
    if (nd->red && (is_red(nd->left) || is_red(nd->right))) {
        fprintf(stderr, "rbtree: red node with a red child\n");
        return -1;
    }
    if (nd->left && key_cmp(nd->left->data, nd->left->klen, nd->data, nd->klen) >= 0) {
        fprintf(stderr, "rbtree: left child not smaller\n");
        return -1;
    }
    if (nd->right && key_cmp(nd->right->data, nd->right->klen, nd->data, nd->klen) <= 0) {
        fprintf(stderr, "rbtree: right child not larger\n");
        return -1;
    }
    long lh = check_node(nd->left, nd, depth + 1);
    long rh = check_node(nd->right, nd, depth + 1);
    if (lh < 0 || rh < 0) return -1;
    if (lh != rh) {
        fprintf(stderr, "rbtree: black heights differ (%ld vs %ld)\n", lh, rh);
        return -1;
    }
    return lh + !nd->red;
}

static int rb_check(void *impl)
{
    struct rbtree *t = impl;
    if (is_red(t->root)) {
        fprintf(stderr, "rbtree: red root\n");
        return ENGINE_CORRUPT;
    }
    if (check_node(t->root, NULL, 0) < 0) return ENGINE_CORRUPT;
    /* Whole-tree order and count, walking successors. */
    size_t n = 0;
    const struct rbnode *prev = NULL;
    for (struct rbnode *nd = t->root ? minimum(t->root) : NULL; nd; nd = successor(nd)) {
        if (prev && key_cmp(prev->data, prev->klen, nd->data, nd->klen) >= 0) {
            fprintf(stderr, "rbtree: in-order walk not increasing\n");
            return ENGINE_CORRUPT;
        }
        prev = nd;
        if (++n > t->n) break;
    }
    if (n != t->n) {
        fprintf(stderr, "rbtree: %zu nodes but count %zu\n", n, t->n);
        return ENGINE_CORRUPT;
    }
    return 0;
}

const struct engine_ops engine_rbtree_ops = {
    .name = "rbtree",
    .ordered = true,
    .create = rb_create,
    .destroy = rb_destroy,
    .set = rb_set,
    .get = rb_get,
    .del = rb_del,
    .count = rb_count,
    .scan = rb_scan,
    .check = rb_check,
};
