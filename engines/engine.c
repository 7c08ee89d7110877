/*
 * engine.c - the engine factory and the dispatch from the public calls in
 * engine.h to one engine's operation table.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

extern const struct engine_ops engine_array_ops;
extern const struct engine_ops engine_hash_ops;
extern const struct engine_ops engine_rbtree_ops;
extern const struct engine_ops engine_btree_ops;
extern const struct engine_ops engine_lsm_ops;

struct engine {
    const struct engine_ops *ops;
    void *impl;
};

static const struct engine_ops *const all_ops[] = {
    &engine_array_ops, &engine_hash_ops, &engine_rbtree_ops, &engine_btree_ops, &engine_lsm_ops,
};

const char *const engine_names[] = {"array", "hash", "rbtree", "btree", "lsm", NULL};

engine_t *engine_create_ex(const char *name, const struct engine_options *opt)
{
    static const struct engine_options defaults;
    const struct engine_ops *ops = NULL;

    if (!name) return NULL;
    for (size_t i = 0; i < sizeof(all_ops) / sizeof(all_ops[0]); i++) {
        if (strcmp(all_ops[i]->name, name) == 0) ops = all_ops[i];
    }
    if (!ops) return NULL;

    engine_t *e = malloc(sizeof(*e));
    if (!e) return NULL;
    e->ops = ops;
    e->impl = ops->create(opt ? opt : &defaults);
    if (!e->impl) {
        free(e);
        return NULL;
    }
    return e;
}

engine_t *engine_create(const char *name)
{
    return engine_create_ex(name, NULL);
}

void engine_destroy(engine_t *e)
{
    if (!e) return;
    e->ops->destroy(e->impl);
    free(e);
}

int engine_set(engine_t *e, const void *key, size_t klen, const void *val, size_t vlen)
{
    if ((!key && klen) || (!val && vlen)) return ENGINE_EINVAL;
    return e->ops->set(e->impl, key, klen, val, vlen);
}

int engine_get(engine_t *e, const void *key, size_t klen, const void **val, size_t *vlen)
{
    if ((!key && klen) || !val || !vlen) return ENGINE_EINVAL;
    return e->ops->get(e->impl, key, klen, val, vlen);
}

int engine_delete(engine_t *e, const void *key, size_t klen)
{
    if (!key && klen) return ENGINE_EINVAL;
    return e->ops->del(e->impl, key, klen);
}

size_t engine_count(const engine_t *e)
{
    return e->ops->count(e->impl);
}

int engine_scan(engine_t *e, const void *start, size_t slen, engine_scan_fn fn, void *arg)
{
    if (!fn || (!start && slen)) return ENGINE_EINVAL;
    return e->ops->scan(e->impl, start, slen, fn, arg);
}

int engine_check(engine_t *e)
{
    return e->ops->check(e->impl);
}

const char *engine_name(const engine_t *e)
{
    return e->ops->name;
}

bool engine_is_ordered(const engine_t *e)
{
    return e->ops->ordered;
}
