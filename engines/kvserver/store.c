/*
 * store.c - the shared keyspace: engine, lock, expiry, cursors (see store.h).
 */
#include "store.h"
#include "types.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TAG_EXPIRES  1 /* value tag bit: an 8-byte expiry follows the tag */
#define TAG_TYPE(t)  ((t) >> 4)
#define ENCODE_STACK 512  /* bytes: values up to this size are encoded on the stack */
#define CURSOR_SLOTS 1024 /* SCAN cursors remembered at once */

struct cursor_slot {
    uint64_t id;        /* cursor number; 0: free */
    unsigned char *key; /* key the scan resumes from */
    size_t klen;        /* bytes */
};

struct store {
    pthread_rwlock_t lock;
    engine_t *eng;
    char engine[16];             /* engine name, for flush */
    struct engine_options opt;   /* engine options, for flush */
    struct dict *vol;            /* keys with an expiry (maybe already due) -> expiry ms */
    atomic_ullong expired_total; /* count: keys removed because they expired */

    pthread_mutex_t cursor_lock;
    struct cursor_slot cursors[CURSOR_SLOTS];
    uint64_t next_cursor; /* number of the next cursor handed out */

    size_t sweep_pos; /* bucket of vol the next sweep starts at */

    struct watch *watches; /* WATCHed keys of every client */
    size_t nwatch;         /* count: entries in use */
    size_t watch_cap;      /* count: entries allocated */
};

struct watch {
    int *flag;          /* set to 1 when the key changes */
    unsigned char *key; /* copied */
    size_t klen;        /* bytes */
    int64_t expire_ms;  /* the key's expiry when watched, if it was live; else 0 */
};

/* The thread that holds the write lock for a whole transaction. */
static _Thread_local struct store *tl_exclusive;

int64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int decode(const void *raw, size_t rawlen, struct ks_value *v)
{
    const unsigned char *p = raw;
    if (rawlen < 1) return -1;
    size_t hdr = (p[0] & TAG_EXPIRES) ? 9 : 1;
    if (rawlen < hdr) return -1;
    v->type = TAG_TYPE(p[0]);
    v->expire_ms = 0;
    if (hdr == 9) memcpy(&v->expire_ms, p + 1, 8);
    v->data = p + hdr;
    v->len = rawlen - hdr;
    v->obj = NULL;
    if (v->type != KV_STRING) {
        if (v->len != sizeof(void *)) return -1;
        memcpy(&v->obj, v->data, sizeof(void *));
    }
    return 0;
}

/* Free the object behind a decoded value, if it has one. */
static void drop_obj(const struct ks_value *v)
{
    if (v->type != KV_STRING) ks_obj_free(v->type, v->obj);
}

/* Set every flag watching key. */
static void signal_key(struct store *s, const void *key, size_t klen)
{
    for (size_t i = 0; i < s->nwatch; i++) {
        struct watch *w = &s->watches[i];
        if (w->klen == klen && (klen == 0 || memcmp(w->key, key, klen) == 0)) *w->flag = 1;
    }
}

static int key_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int is_due(const struct ks_value *v, int64_t now_ms)
{
    return v->expire_ms != 0 && v->expire_ms <= now_ms;
}

struct store *store_create(const char *engine, const struct engine_options *opt)
{
    struct store *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    if (strlen(engine) >= sizeof(s->engine)) {
        free(s);
        return NULL;
    }
    strcpy(s->engine, engine);
    if (opt) s->opt = *opt;
    s->eng = engine_create_ex(engine, &s->opt);
    s->vol = dict_new();
    if (!s->eng || !s->vol) {
        if (s->eng) engine_destroy(s->eng);
        dict_free(s->vol);
        free(s);
        return NULL;
    }
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Writers must not starve behind a stream of readers. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&s->cursor_lock, NULL);
    s->next_cursor = 1;
    return s;
}

static int free_objs_cb(const void *key, size_t klen, const void *raw, size_t rawlen, void *arg)
{
    (void)key;
    (void)klen;
    (void)arg;
    struct ks_value v;
    if (decode(raw, rawlen, &v) == 0) drop_obj(&v);
    return 0;
}

/* Free every object the engine points to (before the engine goes). */
static void free_all_objs(engine_t *e)
{
    engine_scan(e, NULL, 0, free_objs_cb, NULL);
}

void store_destroy(struct store *s)
{
    if (!s) return;
    free_all_objs(s->eng);
    engine_destroy(s->eng);
    for (size_t i = 0; i < s->nwatch; i++)
        free(s->watches[i].key);
    free(s->watches);
    for (size_t i = 0; i < CURSOR_SLOTS; i++)
        free(s->cursors[i].key);
    dict_free(s->vol);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->cursor_lock);
    free(s);
}

void store_rdlock(struct store *s)
{
    if (tl_exclusive == s) return;
    pthread_rwlock_rdlock(&s->lock);
}

void store_wrlock(struct store *s)
{
    if (tl_exclusive == s) return;
    pthread_rwlock_wrlock(&s->lock);
}

void store_unlock(struct store *s)
{
    if (tl_exclusive == s) return;
    pthread_rwlock_unlock(&s->lock);
}

void store_exclusive_begin(struct store *s)
{
    pthread_rwlock_wrlock(&s->lock);
    tl_exclusive = s;
}

void store_exclusive_end(struct store *s)
{
    tl_exclusive = NULL;
    pthread_rwlock_unlock(&s->lock);
}

int store_get(struct store *s, const void *key, size_t klen, int64_t now_ms, struct ks_value *v)
{
    const void *raw;
    size_t rawlen;
    if (engine_get(s->eng, key, klen, &raw, &rawlen) != ENGINE_OK) return ENGINE_NOTFOUND;
    if (decode(raw, rawlen, v) != 0) return ENGINE_NOTFOUND;
    return is_due(v, now_ms) ? STORE_EXPIRED : ENGINE_OK;
}

/* Write the raw encoding of (type, payload, expiry) for key. The previous
 * value's object is freed unless it is `keep`. */
static int put_raw(struct store *s, const void *key, size_t klen, int type, const void *val,
                   size_t vlen, int64_t expire_ms, const void *keep)
{
    unsigned char stack[ENCODE_STACK];
    size_t hdr = expire_ms ? 9 : 1;
    if (vlen > SIZE_MAX - hdr) return ENGINE_ENOMEM;
    size_t total = hdr + vlen;
    unsigned char *enc = total <= sizeof(stack) ? stack : malloc(total);
    if (!enc) return ENGINE_ENOMEM;
    enc[0] = (unsigned char)((type << 4) | (expire_ms ? TAG_EXPIRES : 0));
    if (expire_ms) memcpy(enc + 1, &expire_ms, 8);
    if (vlen) memcpy(enc + hdr, val, vlen);

    const void *raw;
    size_t rawlen;
    struct ks_value old;
    int had =
        engine_get(s->eng, key, klen, &raw, &rawlen) == ENGINE_OK && decode(raw, rawlen, &old) == 0;
    /* The expiry index first, so a failure leaves everything as it was. */
    struct dent *ve = NULL;
    int vol_added = 0;
    double vol_old = 0;
    if (expire_ms) {
        ve = dict_put(s->vol, key, klen, NULL, 0, &vol_added);
        if (!ve) {
            if (enc != stack) free(enc);
            return ENGINE_ENOMEM;
        }
        vol_old = ve->score;
        ve->score = (double)expire_ms;
    }
    int rc = engine_set(s->eng, key, klen, enc, total);
    if (enc != stack) free(enc);
    if (rc != ENGINE_OK) {
        if (vol_added)
            dict_del(s->vol, key, klen);
        else if (ve)
            ve->score = vol_old;
        return rc;
    }
    if (had && old.type != KV_STRING && old.obj != keep) drop_obj(&old);
    if (!expire_ms && had && old.expire_ms) dict_del(s->vol, key, klen);
    if (s->nwatch) signal_key(s, key, klen);
    return ENGINE_OK;
}

int store_set(struct store *s, const void *key, size_t klen, const void *val, size_t vlen,
              int64_t expire_ms)
{
    return put_raw(s, key, klen, KV_STRING, val, vlen, expire_ms, NULL);
}

int store_set_obj(struct store *s, const void *key, size_t klen, int type, void *obj,
                  int64_t expire_ms)
{
    return put_raw(s, key, klen, type, &obj, sizeof(obj), expire_ms, obj);
}

int store_set_expiry(struct store *s, const void *key, size_t klen, int64_t expire_ms)
{
    const void *raw;
    size_t rawlen;
    struct ks_value v;
    if (engine_get(s->eng, key, klen, &raw, &rawlen) != ENGINE_OK || decode(raw, rawlen, &v) != 0)
        return ENGINE_NOTFOUND;
    if (v.type != KV_STRING)
        return put_raw(s, key, klen, v.type, &v.obj, sizeof(v.obj), expire_ms, v.obj);
    /* The payload points into the engine: copy it before rewriting. */
    unsigned char *copy = malloc(v.len ? v.len : 1);
    if (!copy) return ENGINE_ENOMEM;
    memcpy(copy, v.data, v.len);
    int rc = put_raw(s, key, klen, KV_STRING, copy, v.len, expire_ms, NULL);
    free(copy);
    return rc;
}

void store_touch(struct store *s, const void *key, size_t klen)
{
    if (s->nwatch) signal_key(s, key, klen);
}

/* Remove a key without freeing its object. */
static int del_keep(struct store *s, const void *key, size_t klen, const struct ks_value *v)
{
    int rc = engine_delete(s->eng, key, klen);
    if (rc != ENGINE_OK) return rc;
    if (v->expire_ms) dict_del(s->vol, key, klen);
    if (s->nwatch) signal_key(s, key, klen);
    return ENGINE_OK;
}

int store_rename(struct store *s, const void *src, size_t slen, const void *dst, size_t dlen,
                 int64_t now_ms)
{
    struct ks_value v;
    int rc = store_get(s, src, slen, now_ms, &v);
    if (rc == STORE_EXPIRED) store_del(s, src, slen, now_ms);
    if (rc != ENGINE_OK) return ENGINE_NOTFOUND;
    if (key_equal(src, slen, dst, dlen)) return ENGINE_OK;
    if (v.type != KV_STRING) {
        rc = put_raw(s, dst, dlen, v.type, &v.obj, sizeof(v.obj), v.expire_ms, v.obj);
        if (rc != ENGINE_OK) return rc;
        /* The engine may have moved src's value: look it up again. */
        if (store_get(s, src, slen, 0, &v) != ENGINE_OK) return ENGINE_OK;
        rc = del_keep(s, src, slen, &v);
        return rc;
    }
    unsigned char *copy = malloc(v.len ? v.len : 1);
    if (!copy) return ENGINE_ENOMEM;
    memcpy(copy, v.data, v.len);
    int64_t exp = v.expire_ms;
    rc = put_raw(s, dst, dlen, KV_STRING, copy, v.len, exp, NULL);
    free(copy);
    if (rc != ENGINE_OK) return rc;
    if (store_get(s, src, slen, 0, &v) != ENGINE_OK) return ENGINE_OK;
    return del_keep(s, src, slen, &v);
}

int store_del(struct store *s, const void *key, size_t klen, int64_t now_ms)
{
    const void *raw;
    size_t rawlen;
    struct ks_value v;
    if (engine_get(s->eng, key, klen, &raw, &rawlen) != ENGINE_OK) return ENGINE_NOTFOUND;
    int valid = decode(raw, rawlen, &v) == 0;
    int due = valid && is_due(&v, now_ms);
    int had = valid && v.expire_ms != 0;
    int rc = engine_delete(s->eng, key, klen);
    if (rc != ENGINE_OK) return rc;
    if (valid) drop_obj(&v);
    if (had) dict_del(s->vol, key, klen);
    if (s->nwatch) signal_key(s, key, klen);
    if (due) {
        atomic_fetch_add(&s->expired_total, 1);
        return ENGINE_NOTFOUND;
    }
    return ENGINE_OK;
}

void store_expire_if_due(struct store *s, const void *key, size_t klen, int64_t now_ms)
{
    const void *raw;
    size_t rawlen;
    struct ks_value v;
    if (engine_get(s->eng, key, klen, &raw, &rawlen) != ENGINE_OK || decode(raw, rawlen, &v) != 0)
        return;
    if (is_due(&v, now_ms)) store_del(s, key, klen, now_ms);
}

int store_flush(struct store *s)
{
    engine_t *fresh = engine_create_ex(s->engine, &s->opt);
    struct dict *vol = dict_new();
    if (!fresh || !vol) {
        if (fresh) engine_destroy(fresh);
        dict_free(vol);
        return ENGINE_ENOMEM;
    }
    for (size_t i = 0; i < s->nwatch; i++) {
        const void *raw;
        size_t rawlen;
        struct watch *w = &s->watches[i];
        if (engine_get(s->eng, w->key, w->klen, &raw, &rawlen) == ENGINE_OK) *w->flag = 1;
    }
    free_all_objs(s->eng);
    engine_destroy(s->eng);
    s->eng = fresh;
    dict_free(s->vol);
    s->vol = vol;
    s->sweep_pos = 0;
    return ENGINE_OK;
}

struct scan_adapter {
    store_scan_fn fn;
    void *arg;
    int64_t now_ms;
};

static int scan_adapt(const void *key, size_t klen, const void *raw, size_t rawlen, void *arg)
{
    struct scan_adapter *a = arg;
    struct ks_value v;
    if (decode(raw, rawlen, &v) != 0 || (a->now_ms && is_due(&v, a->now_ms))) return 0;
    return a->fn(key, klen, &v, a->arg);
}

int store_scan(struct store *s, const void *start, size_t slen, int64_t now_ms, store_scan_fn fn,
               void *arg)
{
    struct scan_adapter a = {fn, arg, now_ms};
    return engine_scan(s->eng, start, slen, scan_adapt, &a);
}

size_t store_dbsize(struct store *s)
{
    return engine_count(s->eng);
}

size_t store_expires(struct store *s)
{
    return s->vol->n;
}

int store_ordered(const struct store *s)
{
    return engine_is_ordered(s->eng);
}

const char *store_engine_name(const struct store *s)
{
    return s->engine;
}

uint64_t store_expired_total(struct store *s)
{
    return atomic_load(&s->expired_total);
}

/* ---- the expiry sweep ---- */

#define SWEEP_CHAIN 64 /* due keys taken from one bucket per pass */

int store_sweep(struct store *s, size_t visit, size_t max_removed)
{
    store_rdlock(s);
    size_t volatile_keys = s->vol->n;
    store_unlock(s);
    if (volatile_keys == 0) return 0;
    store_wrlock(s);
    int64_t now = store_now_ms();
    size_t removed = 0, examined = 0;
    /* A whole pass over the index takes at most 16 sweeps. */
    size_t buckets = (s->vol->mask + 1) / 16;
    if (buckets < visit) buckets = visit;
    for (size_t b = 0; b < buckets && s->vol->n > 0 && removed < max_removed; b++) {
        struct dict *d = s->vol;
        size_t i = s->sweep_pos & d->mask;
        /* Copy the due keys of this chain first: removing them frees the
         * index entries. A chain with more than SWEEP_CHAIN due keys is
         * visited again. */
        unsigned char *keys[SWEEP_CHAIN];
        size_t klens[SWEEP_CHAIN], n = 0;
        int more = 0;
        for (struct dent *e = d->bucket[i]; e; e = e->next) {
            examined++;
            if (e->score > (double)now) continue;
            if (n == SWEEP_CHAIN) {
                more = 1;
                break;
            }
            keys[n] = malloc(e->klen ? e->klen : 1);
            if (!keys[n]) {
                more = 1;
                break;
            }
            memcpy(keys[n], e->data, e->klen);
            klens[n++] = e->klen;
        }
        for (size_t k = 0; k < n; k++) {
            struct ks_value v;
            if (store_get(s, keys[k], klens[k], now, &v) == STORE_EXPIRED) {
                store_del(s, keys[k], klens[k], now);
                removed++;
            }
            free(keys[k]);
        }
        if (!more) s->sweep_pos = i + 1;
    }
    store_unlock(s);
    /* Busy while the removal cap was hit or a quarter of what was looked at
     * had expired (Redis's active expiry repeats on the same condition). */
    return removed > 0 && (removed >= max_removed || removed * 4 >= examined);
}

/* ---- WATCH ---- */

int store_watch(struct store *s, const void *key, size_t klen, int *flag)
{
    for (size_t i = 0; i < s->nwatch; i++) {
        struct watch *w = &s->watches[i];
        if (w->flag == flag && key_equal(w->key, w->klen, key, klen)) return 0;
    }
    if (s->nwatch == s->watch_cap) {
        size_t cap = s->watch_cap ? s->watch_cap * 2 : 16;
        struct watch *nw = realloc(s->watches, cap * sizeof(*nw));
        if (!nw) return -1;
        s->watches = nw;
        s->watch_cap = cap;
    }
    unsigned char *copy = malloc(klen ? klen : 1);
    if (!copy) return -1;
    memcpy(copy, key, klen);
    struct ks_value v;
    int64_t exp = store_get(s, key, klen, store_now_ms(), &v) == ENGINE_OK ? v.expire_ms : 0;
    s->watches[s->nwatch++] = (struct watch){flag, copy, klen, exp};
    return 0;
}

int store_watch_expired(struct store *s, const int *flag, int64_t now_ms)
{
    for (size_t i = 0; i < s->nwatch; i++) {
        const struct watch *w = &s->watches[i];
        if (w->flag == flag && w->expire_ms != 0 && w->expire_ms <= now_ms) return 1;
    }
    return 0;
}

void store_unwatch(struct store *s, int *flag)
{
    size_t j = 0;
    for (size_t i = 0; i < s->nwatch; i++) {
        if (s->watches[i].flag == flag)
            free(s->watches[i].key);
        else
            s->watches[j++] = s->watches[i];
    }
    s->nwatch = j;
    if (j == 0 && s->watch_cap > 64) {
        free(s->watches);
        s->watches = NULL;
        s->watch_cap = 0;
    }
}

/* ---- RANDOMKEY ---- */

struct random_pick {
    unsigned char *key; /* copied */
    size_t klen;        /* bytes */
};

static int random_cb(const void *key, size_t klen, const struct ks_value *v, void *arg)
{
    (void)v;
    struct random_pick *r = arg;
    r->key = malloc(klen ? klen : 1);
    if (r->key) {
        memcpy(r->key, key, klen);
        r->klen = klen;
    }
    return 1;
}

unsigned char *store_random_key(struct store *s, int64_t now_ms, size_t *klen)
{
    struct random_pick r = {0};
    uint64_t x = ks_random();
    unsigned char start[8];
    memcpy(start, &x, 8);
    store_scan(s, start, 1 + (size_t)(x % 8), now_ms, random_cb, &r);
    if (!r.key) store_scan(s, NULL, 0, now_ms, random_cb, &r);
    *klen = r.klen;
    return r.key;
}

/* ---- SCAN cursors ---- */

uint64_t store_cursor_save(struct store *s, const void *key, size_t klen)
{
    unsigned char *copy = malloc(klen ? klen : 1);
    if (!copy) return 0;
    memcpy(copy, key, klen);
    pthread_mutex_lock(&s->cursor_lock);
    uint64_t id = s->next_cursor++;
    struct cursor_slot *slot = &s->cursors[id % CURSOR_SLOTS];
    free(slot->key);
    slot->id = id;
    slot->key = copy;
    slot->klen = klen;
    pthread_mutex_unlock(&s->cursor_lock);
    return id;
}

int store_cursor_load(struct store *s, uint64_t cursor, unsigned char **key, size_t *klen)
{
    int rc = -1;
    pthread_mutex_lock(&s->cursor_lock);
    struct cursor_slot *slot = &s->cursors[cursor % CURSOR_SLOTS];
    if (cursor != 0 && slot->id == cursor) {
        *key = malloc(slot->klen ? slot->klen : 1);
        if (*key) {
            memcpy(*key, slot->key, slot->klen);
            *klen = slot->klen;
            rc = 0;
        } else {
            rc = -2;
        }
    }
    pthread_mutex_unlock(&s->cursor_lock);
    return rc;
}
